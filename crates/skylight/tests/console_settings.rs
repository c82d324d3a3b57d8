//! Settings an administrator makes in the console, acting on what the collecting processes do:
//! named IP ranges tag the activities collected afterwards (a wrong range is refused with the
//! form kept, a stale edit is refused), and data retention deletes what is older than the days
//! set, within seconds of the change, keeping the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Console, Killed, TOKEN, run_ok, spawn_announcing_with, spawn_sim, write_config};

const PASSWORD: &str = "an-admin-password-for-tests";

/// `skylight serve ARGS…` on a free port; returns it with its console's base URL.
fn serve(args: &[&str]) -> (Killed, String) {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    spawn_announcing_with(&all, &[("SKYLIGHT_API_TOKEN", TOKEN)], None, |l| {
        l.strip_prefix("skylight console on ")
            .and_then(|r| r.split_whitespace().next())
            .map(|u| u.trim_end_matches('/').to_owned())
    })
}

/// The activities matching `conditions`, as JSON lines.
fn activities(data: &str, conditions: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "activities",
        "--data-dir",
        data,
        "--limit",
        "0",
        "--format",
        "json",
    ];
    args.extend_from_slice(conditions);
    run_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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

#[test]
fn ip_ranges_and_retention_set_in_the_console_act_on_collection() {
    let (_sim, sim) = spawn_sim(&["--users", "40", "--days", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &sim);
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
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
    // Old records (2020), imported: retention is to delete them and nothing else.
    let old = dir.path().join("old.ndjson");
    let lines: Vec<String> = (0..5)
        .map(|i| {
            format!(
                r#"{{"Id":"0bd5c4a7-0000-4000-8000-00000000000{i}","RecordType":15,"CreationTime":"2020-02-17T16:59:4{i}","Operation":"UserLoggedIn","Workload":"AzureActiveDirectory","UserId":"old@contoso.com","ClientIP":"198.51.100.{i}"}}"#
            )
        })
        .collect();
    std::fs::write(&old, lines.join("\n")).unwrap();
    run_ok(&["import", "--data-dir", &data, &old.display().to_string()]);
    assert_eq!(activities(&data, &["user=old@contoso.com"]).len(), 5);

    // An API-only process: the settings are made before anything is collected.
    let (api, base) = serve(&["--role", "api", "--data-dir", &data]);
    let c = Console::sign_in(&base, "admin@contoso.com", PASSWORD);
    let (status, page) = c.get("/settings/ip-ranges");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"version\" value=\"0\""), "{page}");

    // A block that is not CIDR is refused, naming it, with the form kept; nothing is saved.
    let range = |name: &str, cidrs: &str, tags: &str, version: &str| {
        c.post(
            "/settings/ip-ranges",
            &[
                ("name", name),
                ("category", "corporate"),
                ("cidrs", cidrs),
                ("tags", tags),
                ("version", version),
                ("op", "save"),
            ],
        )
    };
    let (status, refused) = range("Everywhere", "0.0.0.0/0\n10.0.0.300/8", "e2e", "0");
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("10.0.0.300/8"), "{refused}");
    assert!(
        refused.contains("value=\"Everywhere\""),
        "the form is kept: {refused}"
    );
    let (status, refused) = range("Bad|name", "0.0.0.0/0", "e2e", "0");
    assert_eq!(status, 400, "{refused}");
    assert!(
        c.get("/settings/ip-ranges")
            .1
            .contains("name=\"version\" value=\"0\"")
    );

    assert_eq!(
        range("Everywhere", "0.0.0.0/0, ::/0", "e2e, E2E", "0").0,
        303
    );
    assert_eq!(
        range("Documentation net", "192.0.2.0/24", "never", "1").0,
        303
    );
    // A page shown before the last change is refused: nothing of it is written.
    let (status, stale) = range("Stale", "198.51.100.0/24", "stale", "1");
    assert_eq!(status, 400, "{stale}");
    assert!(stale.contains("someone changed the IP ranges"), "{stale}");
    let (_, page) = c.get("/settings/ip-ranges");
    assert!(
        page.contains("Everywhere") && page.contains("Documentation net"),
        "{page}"
    );
    assert!(!page.contains(">Stale<"), "{page}");

    // Retention below Microsoft's week is refused with the reason.
    let (status, refused) = c.post("/settings/retention", &[("days", "3"), ("version", "0")]);
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("7 days"), "{refused}");
    // Enough days to keep the simulated week (its clock is 2026-11-20), not the 2020 records.
    let since = chrono::Utc::now()
        - chrono::DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z")
            .unwrap()
            .to_utc();
    let days = (since.num_days() + 30).to_string();
    assert_eq!(
        c.post("/settings/retention", &[("days", &days), ("version", "0")])
            .0,
        303
    );
    let (_, page) = c.get("/settings/retention");
    assert!(page.contains(&format!("<strong>{days}</strong>")), "{page}");
    // Nothing collects in an API-only process: the old records are still there.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(activities(&data, &["user=old@contoso.com"]).len(), 5);
    drop(api);

    // The collecting process uses the console's ranges from its first record.
    let (_serve, base) = serve(&["--config", &config, "--data-dir", &data]);
    let c = Console::sign_in(&base, "admin@contoso.com", PASSWORD);
    wait_until("retention deletes the 2020 records", 60, || {
        let left = activities(&data, &["user=old@contoso.com"]).len();
        (left == 0).then_some(()).ok_or(format!("{left} left"))
    });
    wait_until("the retention round is shown", 30, || {
        let (_, page) = c.get("/settings/retention");
        page.contains("5 activities created before")
            .then_some(())
            .ok_or(page)
    });
    let truth: Value = reqwest::blocking::get(format!("{sim}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let published = truth["content_types"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["record_ids"].as_array().unwrap().len())
        .sum::<usize>();
    wait_until("the simulated week is collected", 240, || {
        let n = activities(&data, &[]).len();
        (n == published)
            .then_some(())
            .ok_or(format!("{n} of {published}"))
    });
    let with_ip = activities(&data, &["ip=*"]);
    let tagged = activities(&data, &["ip_tag=tag:e2e"]);
    assert!(!with_ip.is_empty());
    assert_eq!(
        tagged.len(),
        with_ip.len(),
        "every activity with an address is in Everywhere"
    );
    assert_eq!(
        activities(&data, &["ip_tag=name:Everywhere", "ip_tag=corporate"]).len(),
        with_ip.len()
    );
    assert!(activities(&data, &["ip_tag=tag:never"]).is_empty());
    assert!(activities(&data, &["ip_tag=tag:stale"]).is_empty());

    // The audit log has both changes, by the administrator.
    let (_, audit) = c.get("/settings/audit");
    for action in ["ip_range.save", "retention.set"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}
