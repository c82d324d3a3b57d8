//! Connecting a tenant from the console, as an administrator does it, against `skylight serve`
//! started with no configuration file at all: the wizard (credentials and cloud → components →
//! connect → result) with a wrong secret first (the result says what to do), then the right one;
//! collection starts by itself and ends equal to the simulator's truth; the directory sync and
//! governance work on the new tenant; pause stops collection and resume restarts it; disconnect
//! keeps what was collected. The secret is in no page, no log line and not in the database file
//! in clear.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use skylight_model::ContentType;
use skylight_store::{SqliteStore, Store};

mod common;

use common::{Console, TOKEN, api_client, run_ok, spawn_announcing_with, spawn_sim};

/// Whether every record the simulator published for its tenant is stored once under `tenant`.
fn equals_truth(sim: &str, data: &str, tenant: &str) -> Result<(), String> {
    let truth: Value = reqwest::blocking::get(format!("{sim}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let store = SqliteStore::open(std::path::Path::new(data)).map_err(|e| e.to_string())?;
    for ct in ContentType::ALL {
        let want: HashSet<String> = truth["content_types"][ct.as_str()]["record_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let got_list = store
            .record_ids(tenant, Some(ct))
            .map_err(|e| e.to_string())?;
        let got: HashSet<String> = got_list.iter().cloned().collect();
        if got.len() != got_list.len() {
            return Err(format!("{ct}: a record stored twice"));
        }
        if got != want {
            return Err(format!(
                "{ct}: {} lost, {} unexpected",
                want.difference(&got).count(),
                got.difference(&want).count()
            ));
        }
    }
    Ok(())
}

fn wait_until(what: &str, secs: u64, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// The connector's state badge on its page.
fn badge(c: &Console, name: &str) -> String {
    let (status, page) = c.get(&format!("/connectors/{name}"));
    assert_eq!(status, 200, "{page}");
    let at = page.find("id=\"connector-state\">").expect("a state badge") + 21;
    page[at..at + page[at..].find('<').unwrap()].to_owned()
}

#[test]
fn an_admin_connects_a_tenant_in_the_console_and_it_is_collected_paused_and_disconnected() {
    let (_sim, sim) = spawn_sim(&["--users", "60", "--days", "2"]);
    let tenant: Value = reqwest::blocking::get(format!("{sim}/_sim/tenant"))
        .unwrap()
        .json()
        .unwrap();
    let (tenant_id, client_id, secret) = (
        tenant["tenant_id"].as_str().unwrap().to_owned(),
        tenant["client_id"].as_str().unwrap().to_owned(),
        tenant["client_secret"].as_str().unwrap().to_owned(),
    );
    let wrong_secret = "a-wrong-secret-Zq8~0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "an-admin-password-for-tests").unwrap();
    run_ok(&[
        "admin",
        "create",
        "--username",
        "admin@contoso.com",
        "--password-file",
        &pw.display().to_string(),
        "--data-dir",
        &data,
    ]);
    let log = dir.path().join("serve.log");
    let (_serve, base) = spawn_announcing_with(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data],
        &[("SKYLIGHT_API_TOKEN", TOKEN), ("RUST_LOG", "info")],
        Some(&log),
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_owned())
        },
    );
    let c = Console::sign_in(&base, "admin@contoso.com", "an-admin-password-for-tests");
    let mut pages = Vec::new();

    // Nothing connected yet: the list says how.
    let (status, list) = c.get("/connectors");
    assert_eq!(status, 200);
    assert!(list.contains("id=\"no-connectors\""), "{list}");
    assert!(list.contains("/connectors/new"), "{list}");

    // Step 1 refuses what the collectors could not use, naming the field, without the secret.
    let step1 = |name: &str, tenant_id: &str, secret: &str| {
        c.post(
            "/connectors/new",
            &[
                ("name", name),
                ("tenant_id", tenant_id),
                ("client_id", &client_id),
                ("cloud", "commercial"),
                ("kind", "secret"),
                ("secret", secret),
                ("login_url", &sim),
                ("manage_url", &sim),
                ("graph_url", &sim),
            ],
        )
    };
    let (status, refused) = step1("contoso", "common", wrong_secret);
    assert_eq!(status, 400);
    assert!(refused.contains("id=\"connect-problems\""), "{refused}");
    assert!(refused.contains("Tenant"), "{refused}");
    assert!(
        !refused.contains(wrong_secret),
        "the secret is rendered back"
    );
    pages.push(refused);
    let (status, refused) = step1("Not A Name", &tenant_id, wrong_secret);
    assert_eq!(status, 400);
    assert!(refused.contains("Name:"), "{refused}");

    // The wizard with a wrong secret: the connection test fails and says what to do.
    assert_eq!(
        seen(&mut pages, step1("contoso", &tenant_id, wrong_secret)),
        303
    );
    let (status, components) = c.get("/connectors/contoso/components");
    assert_eq!(status, 200);
    assert!(components.contains("name=\"ct\""), "{components}");
    let mut chosen: Vec<(&str, &str)> = vec![("activities", "1")];
    chosen.extend(ContentType::ALL.iter().map(|ct| ("ct", ct.as_str())));
    assert_eq!(
        seen(
            &mut pages,
            c.post("/connectors/contoso/components", &chosen)
        ),
        303
    );
    assert_eq!(seen(&mut pages, c.get("/connectors/contoso/connect")), 200);
    assert_eq!(
        seen(&mut pages, c.post("/connectors/contoso/connect", &[])),
        303
    );
    let (status, result) = c.get("/connectors/contoso");
    assert_eq!(status, 200);
    assert!(result.contains("id=\"connection-test\""), "{result}");
    assert!(result.contains("failed"), "{result}");
    assert!(
        result.contains("What to do"),
        "a failed step says what to do: {result}"
    );
    assert_eq!(badge(&c, "contoso"), "not connected");
    pages.push(result);
    // Not connected, so not collected.
    std::thread::sleep(Duration::from_secs(4));
    let store = SqliteStore::open(std::path::Path::new(&data)).unwrap();
    assert_eq!(store.record_count(Some("contoso")).unwrap(), 0);
    drop(store);

    // The right secret, through the edit form (the stored one is never shown), then Connect.
    let (status, edit) = c.get("/connectors/contoso/credentials");
    assert_eq!(status, 200);
    assert!(
        !edit.contains(wrong_secret),
        "the stored secret is rendered back"
    );
    assert!(edit.contains("leave blank to keep"), "{edit}");
    pages.push(edit);
    let update = c.post(
        "/connectors/contoso/credentials",
        &[
            ("tenant_id", &tenant_id),
            ("client_id", &client_id),
            ("cloud", "commercial"),
            ("kind", "secret"),
            ("secret", &secret),
            ("login_url", &sim),
            ("manage_url", &sim),
            ("graph_url", &sim),
        ],
    );
    assert_eq!(seen(&mut pages, update), 303);
    assert_eq!(
        seen(&mut pages, c.post("/connectors/contoso/connect", &[])),
        303
    );
    let (_, result) = c.get("/connectors/contoso");
    assert!(!result.contains("class=\"state error\">failed"), "{result}");
    assert_eq!(badge(&c, "contoso"), "connected");
    pages.push(result);

    // Collection starts by itself and ends equal to the truth.
    wait_until("the backfill of the console's connector", 120, || {
        equals_truth(&sim, &data, "contoso")
    });
    // Its page shows the collection ledger, day by day, as the store counts it.
    let (_, page) = c.get("/connectors/contoso");
    assert!(page.contains("id=\"ledger\""), "{page}");
    let commas = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    let ledger = run_ok(&[
        "status",
        "--ledger",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]);
    let days: Vec<Value> = common::json_lines(&ledger)
        .into_iter()
        .filter(|l| l.get("day").is_some())
        .collect();
    assert!(days.len() >= 5, "{ledger}");
    for d in &days {
        let cell = format!(
            "{} ({} blobs)",
            commas(d["records"].as_u64().unwrap()),
            commas(d["blobs"].as_u64().unwrap())
        );
        assert!(page.contains(&cell), "{cell} not on the page: {page}");
    }
    pages.push(page);
    // The API says the same, for monitoring: nothing needs attention, and the same ledger.
    let status: Value = api_client()
        .get(format!("{base}/api/v1/collection/status"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["attention"], 0, "{status}");
    assert_eq!(status["statuses"].as_array().unwrap().len(), 5, "{status}");
    let api: Value = api_client()
        .get(format!("{base}/api/v1/collection/ledger?tenant=contoso"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(api["days"].as_array().unwrap(), &days, "{api}");
    assert_eq!(api["lost"], serde_json::json!([]), "{api}");
    let refused = api_client()
        .get(format!("{base}/api/v1/collection/ledger?days=9"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 400);
    // The directory sync runs for it, and governance acts on it.
    let users: Value = api_client()
        .get(format!("{base}/api/v1/users?limit=5"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    wait_until("the directory sync of the console's connector", 60, || {
        let users: Value = api_client()
            .get(format!("{base}/api/v1/users?limit=5"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        match users["users"].as_array() {
            Some(u) if !u.is_empty() => Ok(()),
            _ => Err(format!("no user synced: {users}")),
        }
    });
    drop(users);
    let upn = api_client()
        .get(format!("{base}/api/v1/users?limit=5"))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["users"][0]["upn"]
        .as_str()
        .unwrap()
        .to_owned();
    let acted: Value = api_client()
        .post(format!("{base}/api/v1/governance"))
        .json(&serde_json::json!({"action": "require-sign-in", "target": upn, "dry_run": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(acted["tenant"], "contoso", "{acted}");
    assert_ne!(acted["status"], "failed", "{acted}");

    // Pause: collection stops (the log says so); resume: it starts again.
    assert_eq!(
        seen(&mut pages, c.post("/connectors/contoso/pause", &[])),
        303
    );
    assert_eq!(badge(&c, "contoso"), "paused");
    wait_until("the collector stopping", 30, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("collector stopped") {
            Ok(())
        } else {
            Err("no `collector stopped` in the log".into())
        }
    });
    // Statuses nobody has written for three hours: a paused connector's is not "stalled" (no
    // collector is meant to run), another tenant's is, with what to do.
    let stale = |tenant: &str| skylight_model::ConnectorStatus {
        tenant: tenant.into(),
        content_type: ContentType::Exchange,
        state: skylight_model::ConnectorState::Healthy,
        last_success: None,
        watermark: None,
        records: 0,
        blobs: 0,
        gaps: 0,
        last_error: None,
        remediation: None,
        updated_at: chrono::Utc::now() - chrono::Duration::hours(3),
        clock_offset_ms: 0,
    };
    let store = SqliteStore::open(std::path::Path::new(&data)).unwrap();
    store.set_status(&stale("contoso")).unwrap();
    store.set_status(&stale("northwind")).unwrap();
    drop(store);
    let (_, paused) = c.get("/connectors/contoso");
    assert_eq!(badge(&c, "contoso"), "paused");
    assert!(!paused.contains("no collector has written"), "{paused}");
    let (_, list) = c.get("/connectors");
    assert_eq!(
        list.matches("no collector has written this status since")
            .count(),
        1,
        "{list}"
    );
    assert_eq!(badge(&c, "northwind"), "stalled");
    pages.push(list);
    assert_eq!(
        seen(&mut pages, c.post("/connectors/contoso/resume", &[])),
        303
    );
    // Connected again once its collector, restarted, has written its statuses anew.
    wait_until("the resumed connector's statuses", 30, || {
        match badge(&c, "contoso") {
            b if b == "connected" => Ok(()),
            b => Err(b),
        }
    });
    wait_until("the collector restarting", 30, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("collector started").count() >= 2 {
            Ok(())
        } else {
            Err(format!("collection did not start twice: {text}"))
        }
    });
    // A paused connector cannot be paused again; an unknown one is not found.
    assert_eq!(c.post("/connectors/contoso/resume", &[]).0, 409);
    assert_eq!(c.get("/connectors/fabrikam").0, 404);

    // The audit log names each step, without the secret.
    let (_, audit) = c.get("/settings/audit");
    for action in [
        "connector.create",
        "connector.components",
        "connector.update",
        "connector.connect",
        "connector.pause",
        "connector.resume",
    ] {
        assert!(audit.contains(action), "{action} not audited: {audit}");
    }
    pages.push(audit);

    // Disconnect: the connector goes, what it collected stays.
    let (status, confirm) = c.get("/connectors/contoso/disconnect");
    assert_eq!(status, 200);
    assert!(confirm.contains("stays"), "{confirm}");
    assert_eq!(
        seen(&mut pages, c.post("/connectors/contoso/disconnect", &[])),
        303
    );
    let (_, list) = c.get("/connectors?disconnected=contoso");
    assert!(list.contains("id=\"disconnected\""), "{list}");
    pages.push(list);
    let store = SqliteStore::open(std::path::Path::new(&data)).unwrap();
    assert!(store.connectors().unwrap().is_empty());
    assert!(store.record_count(Some("contoso")).unwrap() > 0);
    drop(store);
    // Its statuses went with it, and are gone once its collector has stopped (a status it was
    // writing as it stopped is deleted after it), so it never reads as a collector stopped.
    std::thread::sleep(Duration::from_secs(4));
    wait_until("the disconnected connector's statuses gone", 30, || {
        let store = SqliteStore::open(std::path::Path::new(&data)).map_err(|e| e.to_string())?;
        let left: Vec<String> = store
            .statuses()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| s.tenant)
            .filter(|t| t == "contoso")
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });

    // The secrets appear nowhere: no page, no log line, not in clear in the database.
    for page in &pages {
        assert!(
            !page.contains(&secret) && !page.contains(wrong_secret),
            "a page shows a secret"
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("collector started"),
        "the log is empty: {text}"
    );
    assert!(
        !text.contains(&secret) && !text.contains(wrong_secret),
        "the log shows a secret"
    );
    for entry in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for s in [secret.as_bytes(), wrong_secret.as_bytes()] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s),
                "a secret is stored in clear"
            );
        }
    }
}

/// Keeps a response's body (to search every page for secrets at the end) and returns its status.
fn seen(pages: &mut Vec<String>, (status, body): (u16, String)) -> u16 {
    pages.push(body);
    status
}
