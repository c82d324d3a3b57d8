//! `skylight status` read as an admin reads it: the collection ledger against the simulator's
//! truth, and statuses that no collector writes any more, or whose content Microsoft is about
//! to delete.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, Utc};
use skylight_model::{ConnectorState, ConnectorStatus, ContentType, Gap};
use skylight_store::{SqliteStore, Store};

mod common;

use common::{json_lines, run_collect, run_ok, spawn_sim, write_config};

#[test]
fn the_ledger_accounts_for_every_blob_the_tenant_published() {
    // The simulator's clock is days behind this machine's (it starts at a fixed time): status
    // and ledger judge the service's times on the service's clock.
    let (_sim, url) = spawn_sim(&["--users", "120", "--days", "7", "--faults", "expired"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let out = run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();

    let (ledger, lost_lines): (Vec<_>, Vec<_>) = json_lines(&run_ok(&[
        "status",
        "--ledger",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]))
    .into_iter()
    .partition(|l| l.get("day").is_some());
    let mut lost = 0;
    for ct in ContentType::ALL {
        let rows: Vec<&serde_json::Value> = ledger
            .iter()
            .filter(|d| d["content_type"] == ct.as_str())
            .collect();
        let sum = |field: &str| rows.iter().map(|d| d[field].as_u64().unwrap()).sum::<u64>();
        let want = &truth["content_types"][ct.as_str()];
        // Every blob published was collected or is a recorded gap, and the records collected
        // are those the tenant published outside the expired blobs.
        assert_eq!(
            sum("blobs") + sum("gaps"),
            want["blobs"].as_u64().unwrap(),
            "{ct}: {rows:?}"
        );
        assert_eq!(sum("records"), want["records"].as_u64().unwrap(), "{ct}");
        lost += sum("gaps");
        // Collection listed past the end of every day but the service's today.
        let days: Vec<&str> = rows.iter().map(|d| d["day"].as_str().unwrap()).collect();
        assert!(days.windows(2).all(|w| w[0] < w[1]), "{ct}: {days:?}");
        let (last, before) = rows.split_last().unwrap();
        assert!(
            before.iter().all(|d| d["complete"] == true),
            "{ct}: {rows:?}"
        );
        assert_eq!(last["complete"], false, "{ct}: today is not over");
    }
    assert!(lost > 0, "the `expired` fault loses some blobs: {ledger:?}");
    // Each lost blob is listed, with why.
    assert_eq!(lost, lost_lines.len() as u64, "{lost_lines:?}");
    assert!(
        lost_lines
            .iter()
            .all(|l| l["lost"]["reason"].as_str().is_some_and(|r| !r.is_empty())),
        "{lost_lines:?}"
    );

    let table = run_ok(&["status", "--ledger", "--data-dir", &data]);
    assert!(
        table.contains("complete") && table.contains("today, incomplete"),
        "{table}"
    );
    assert!(table.contains("lost: contoso Audit."), "{table}");
    // One day back: only the service's today.
    let today: Vec<serde_json::Value> = json_lines(&run_ok(&[
        "status",
        "--ledger",
        "--days",
        "1",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]))
    .into_iter()
    .filter(|l| l.get("day").is_some())
    .collect();
    assert!(
        !today.is_empty()
            && today
                .iter()
                .all(|d| d["complete"] == false && d["today"] == true),
        "{today:?}"
    );

    // Just collected: nothing stalled or expiring, although the service's clock is days behind
    // (and `--check` exits 0).
    let status = run_ok(&["status", "--check", "--data-dir", &data]);
    assert!(
        !status.contains("stalled") && !status.contains(" ! "),
        "{status}"
    );
    for s in json_lines(&run_ok(&[
        "status",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]))
    .iter()
    .filter(|s| s.get("content_type").is_some())
    {
        assert_eq!(s["warnings"], serde_json::json!([]), "{s}");
    }
}

#[test]
fn a_status_no_collector_writes_any_more_says_so_and_what_it_puts_at_risk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = Utc::now();
    let status = |ct, written: Duration, listed: Duration| ConnectorStatus {
        tenant: "contoso".into(),
        content_type: ct,
        state: ConnectorState::Healthy,
        last_success: Some(now - written),
        watermark: Some(now - listed),
        records: 100,
        blobs: 4,
        gaps: 0,
        last_error: None,
        remediation: None,
        updated_at: now - written,
        clock_offset_ms: 0,
    };
    let (from, to) = (now - Duration::days(9), now - Duration::days(6));
    {
        let store = SqliteStore::open(&data).unwrap();
        // Written three hours ago, stuck six days back: the collector stopped, and its oldest
        // content goes in a day.
        store
            .set_status(&status(
                ContentType::Exchange,
                Duration::hours(3),
                Duration::days(6),
            ))
            .unwrap();
        // Written a minute ago and caught up.
        store
            .set_status(&status(
                ContentType::SharePoint,
                Duration::minutes(1),
                Duration::minutes(2),
            ))
            .unwrap();
        // Lost before, while nobody collected: a range whole (in the ledger's days by its
        // end), and a blob published before them.
        let gap = |id: String, created| Gap {
            tenant: "contoso".into(),
            content_type: ContentType::SharePoint,
            content_id: id,
            created,
            reason: "not collected before Microsoft's 7-day retention ran out".into(),
            detected_at: now,
        };
        store
            .record_gap(&gap(
                format!("range:{}..{}", from.to_rfc3339(), to.to_rfc3339()),
                from,
            ))
            .unwrap();
        store
            .record_gap(&gap("old-blob".into(), now - Duration::days(8)))
            .unwrap();
    }
    let data = data.display().to_string();
    let text = run_ok(&["status", "--data-dir", &data]);
    let lines: Vec<&str> = text.lines().collect();
    let at = |ct: &str| lines.iter().position(|l| l.contains(ct)).unwrap();
    let exchange = at("Audit.Exchange");
    assert!(lines[exchange].contains("stalled"), "{text}");
    assert!(
        lines[exchange + 1].contains("! no collector has written this status since")
            && lines[exchange + 1].contains("(3 h ago)"),
        "{text}"
    );
    assert!(
        lines[exchange + 2].contains("! content published since")
            && lines[exchange + 2].contains("(for 23 h)"),
        "{text}"
    );
    let sharepoint = at("Audit.SharePoint");
    assert!(lines[sharepoint].contains("healthy"), "{text}");
    assert!(
        lines.get(sharepoint + 1).is_none_or(|l| !l.contains(" ! ")),
        "{text}"
    );

    // For monitoring scripts: 1 when something needs attention, the table printed all the same.
    let check = std::process::Command::new(common::BIN)
        .args(["status", "--check", "--data-dir", &data])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains("stalled"));
    assert!(String::from_utf8_lossy(&check.stderr).contains("1 content type needs attention"));

    let json = json_lines(&run_ok(&[
        "status",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]));
    let kinds = |ct: &str| -> Vec<String> {
        let s = json.iter().find(|s| s["content_type"] == ct).unwrap();
        // The stored state is kept as written; the warnings say what it means now.
        assert_eq!(s["state"], "healthy", "{s}");
        s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds("Audit.Exchange"), ["stalled", "expiring"]);
    assert!(kinds("Audit.SharePoint").is_empty());

    // The ledger has no blob, but tells what was lost in its days.
    let ledger = run_ok(&["status", "--ledger", "--data-dir", &data]);
    let lost: Vec<&str> = ledger.lines().filter(|l| l.starts_with("lost: ")).collect();
    assert_eq!(lost.len(), 1, "{ledger}");
    assert!(
        lost[0].starts_with("lost: contoso Audit.SharePoint: everything published ")
            && lost[0].contains(&format!("{} to {}", from.to_rfc3339(), to.to_rfc3339())),
        "{ledger}"
    );
}
