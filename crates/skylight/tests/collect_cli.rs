//! `skylight collect` and `skylight status` as a user runs them, against `skylight sim`:
//! killed with SIGKILL twenty times during one backfill, the store still ends equal to the truth.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use skylight_model::ContentType;
use skylight_store::{SqliteStore, Store};

mod common;

use common::{BIN, collect_killed_after, run_collect, spawn_announcing, spawn_sim, write_config};

fn assert_store_equals_truth(url: &str, data: &str) {
    assert_tenant_equals_truth(url, data, "contoso");
}

fn assert_tenant_equals_truth(url: &str, data: &str, tenant: &str) {
    let truth: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let store = SqliteStore::open(std::path::Path::new(data)).unwrap();
    for ct in ContentType::ALL {
        let want: HashSet<String> = truth["content_types"][ct.as_str()]["record_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let got_list = store.record_ids(tenant, Some(ct)).unwrap();
        let got: HashSet<String> = got_list.iter().cloned().collect();
        assert_eq!(got.len(), got_list.len(), "{ct}: no record stored twice");
        assert_eq!(want.difference(&got).count(), 0, "{ct}: records lost");
        assert_eq!(got.difference(&want).count(), 0, "{ct}: unexpected records");
    }
}

#[test]
fn killed_twenty_times_during_a_backfill_the_store_still_equals_the_truth() {
    // Throttled, so the backfill lasts several seconds and each kill lands mid-way.
    let (_sim, url) = spawn_sim(&[
        "--users",
        "300",
        "--days",
        "7",
        "--faults",
        "duplicates,shuffle",
        "--requests-per-minute",
        "2400",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let mut killed_mid_way = 0;
    let mut grew = 0;
    let mut last = 0u64;
    for i in 0..20u64 {
        // Pseudo-random moments between 50 and 750 ms into the run.
        let after = Duration::from_millis(50 + (i * 7919) % 700);
        if collect_killed_after(&config, &data, after) {
            killed_mid_way += 1;
        }
        if let Ok(store) = SqliteStore::open(std::path::Path::new(&data)) {
            let now = store.record_count(Some("contoso")).unwrap_or(0);
            if now > last {
                grew += 1;
            }
            last = now;
        }
    }
    assert!(
        killed_mid_way >= 15,
        "most kills landed mid-backfill ({killed_mid_way})"
    );
    assert!(
        grew >= 10,
        "each run made progress before its kill ({grew} of 20)"
    );
    // What the killed runs finished must not be fetched again by the next one.
    let done: HashSet<String> = {
        let store = SqliteStore::open(std::path::Path::new(&data)).unwrap();
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        ContentType::ALL
            .iter()
            .flat_map(|ct| store.done_blobs("contoso", *ct, epoch).unwrap())
            .collect()
    };
    assert!(!done.is_empty());
    let before = fetched_blobs(&url, 0);
    let out = run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_store_equals_truth(&url, &data);
    assert_user_lookups_complete(&data);
    let again: Vec<String> = fetched_blobs(&url, before.0)
        .1
        .into_iter()
        .filter(|id| done.contains(id))
        .collect();
    assert!(
        again.is_empty(),
        "{} blobs done before the restart were fetched again: {again:?}",
        again.len()
    );
}

/// Every activity of the busiest users, found through the user lookups (filled by runs that were
/// killed, some perhaps mid-batch) as through a walk of the whole log.
fn assert_user_lookups_complete(data: &str) {
    use skylight_model::filter::{Field, Filter};
    let store = SqliteStore::open(std::path::Path::new(data)).unwrap();
    let all = |filters: &[String]| -> Vec<String> {
        let mut q = skylight_store::ActivityQuery {
            tenant: None,
            filter: Filter::parse(filters).unwrap(),
            limit: 500,
            after: None,
        };
        let mut ids = Vec::new();
        loop {
            let page = store.activities(&q).unwrap();
            ids.extend(page.rows.into_iter().map(|r| r.id));
            match page.next {
                Some(next) => q.after = Some(next),
                None => return ids,
            }
        }
    };
    // The simulator's week and a day on either side (`spawn_sim` sets its clock).
    let range = "time=2026-11-12T00:00:00Z..2026-11-21T12:00:00Z".to_owned();
    let empty = skylight_store::ActivityQuery {
        tenant: None,
        filter: Filter::default(),
        limit: 1,
        after: None,
    };
    let users = store.activity_top(&empty, Field::User, 5).unwrap();
    assert_eq!(users.len(), 5);
    for (user, count) in users {
        let by_lookup = all(&[format!("user={user}"), range.clone()]);
        let by_walk = all(&[format!("user={user}")]);
        let (a, b): (HashSet<&String>, HashSet<&String>) =
            (by_lookup.iter().collect(), by_walk.iter().collect());
        assert_eq!(
            by_lookup,
            by_walk,
            "{user}: {} and {} rows, {} only through the lookup, {} only through the walk",
            by_lookup.len(),
            by_walk.len(),
            a.difference(&b).count(),
            b.difference(&a).count()
        );
        assert_eq!(by_lookup.len() as u64, count, "{user}");
    }
}

/// The simulator's next request sequence number, and the content ids of the blobs fetched from
/// sequence number `since` on (from its request log).
fn fetched_blobs(url: &str, since: u64) -> (u64, Vec<String>) {
    let log = reqwest::blocking::get(format!("{url}/_sim/requests?since={since}"))
        .unwrap()
        .text()
        .unwrap();
    let mut next = since;
    let mut ids = Vec::new();
    for line in log.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        next = next.max(e["seq"].as_u64().unwrap() + 1);
        let path = e["path"].as_str().unwrap().split('?').next().unwrap();
        if let Some((_, id)) = path.rsplit_once("/activity/feed/audit/") {
            ids.push(id.to_string());
        }
    }
    (next, ids)
}

#[test]
fn a_tenant_in_error_does_not_stop_the_others() {
    let (_good_sim, good_url) = spawn_sim(&["--users", "60", "--days", "2"]);
    let (_bad_sim, bad_url) = spawn_sim(&["--users", "70", "--days", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &good_url);
    let other: serde_json::Value = reqwest::blocking::get(format!("{bad_url}/_sim/tenant"))
        .unwrap()
        .json()
        .unwrap();
    // A second tenant whose secret is wrong.
    std::fs::write(dir.path().join("wrong.txt"), "not~the~secret\n").unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replace("\n[collector]", &format!(
        "\n[[tenant]]\nname = \"fabrikam\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"wrong.txt\"\nlogin_url = \"{bad_url}\"\nmanage_url = \"{bad_url}\"\ngraph_url = \"{bad_url}\"\n\n[collector]",
        other["tenant_id"].as_str().unwrap(),
        other["client_id"].as_str().unwrap()
    ));
    std::fs::write(&config, text).unwrap();
    let out = run_collect(&config, &data);
    assert!(!out.status.success(), "a tenant in error fails the run");
    assert_tenant_equals_truth(&good_url, &data, "contoso");
    let json = Command::new(BIN)
        .args(["status", "--data-dir", &data, "--format", "json"])
        .output()
        .unwrap();
    let (lines, directory): (Vec<serde_json::Value>, Vec<serde_json::Value>) =
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .partition(|l| l.get("content_type").is_some());
    assert_eq!(lines.len(), 10, "{lines:?}");
    // The directory sync has a status line per tenant too: the bad secret fails it as well.
    assert_eq!(directory.len(), 2, "{directory:?}");
    for d in &directory {
        if d["tenant"] == "fabrikam" {
            assert!(d["error"].as_str().unwrap().contains("7000215"), "{d}");
        } else {
            assert!(d["error"].is_null(), "{d}");
        }
    }
    for l in &lines {
        if l["tenant"] == "fabrikam" {
            assert_eq!(l["state"], "error", "{l}");
            assert!(l["last_error"].as_str().unwrap().contains("7000215"), "{l}");
            assert!(
                l["remediation"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("secret"),
                "{l}"
            );
        } else {
            assert_eq!(l["state"], "healthy", "{l}");
        }
    }
}

#[test]
fn collect_once_prints_a_summary_and_status_tells_what_is_wrong() {
    let (_sim, url) = spawn_sim(&["--users", "80", "--days", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let out = run_collect(&config, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ct in ContentType::ALL {
        assert!(stdout.contains(ct.as_str()), "summary names {ct}: {stdout}");
    }
    assert!(stdout.contains("requests in"), "{stdout}");
    assert_store_equals_truth(&url, &data);
    let secret = std::fs::read_to_string(dir.path().join("secret.txt")).unwrap();
    assert!(!stdout.contains(secret.trim()));

    // Audit logging switched off in the tenant: the status says so and what to do.
    reqwest::blocking::Client::new()
        .post(format!("{url}/_sim/control"))
        .json(&serde_json::json!({"audit_enabled": false, "licensed": true}))
        .send()
        .unwrap();
    let out = run_collect(&config, &data);
    assert!(
        !out.status.success(),
        "a failing connector is a failing run"
    );
    let status = Command::new(BIN)
        .args(["status", "--data-dir", &data])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    assert!(text.contains("error") && text.contains("AF20023"), "{text}");
    assert!(
        text.to_lowercase().contains("audit"),
        "the remediation talks about turning auditing on: {text}"
    );
    assert!(!text.contains(secret.trim()));
    let json = Command::new(BIN)
        .args(["status", "--data-dir", &data, "--format", "json"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l.get("content_type").is_some())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines
            .iter()
            .all(|l| l["state"] == "error" && l["remediation"].is_string()),
        "{lines:?}"
    );
}

#[test]
fn activities_are_searched_from_the_command_line() {
    let (_sim, url) = spawn_sim(&["--users", "40", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    assert!(run_collect(&config, &data).status.success());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("activities")
            .args(["--data-dir", &data])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--format",
        "json",
        "--limit",
        "5",
        "app=entra-id",
        "operation=UserLoggedIn",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for l in &lines {
        for key in [
            "id",
            "time",
            "app",
            "record_type",
            "operation",
            "user",
            "ip",
            "country",
            "result",
        ] {
            assert!(l.get(key).is_some(), "{key} in {l}");
        }
        assert_eq!(l["app"], "entra-id");
        assert_eq!(l["operation"], "UserLoggedIn");
        assert_eq!(l["category"], "login");
        assert!(l["country"].as_str().is_some_and(|c| c.len() == 2), "{l}");
    }
    // All of them, as CSV: a header and one line per record, as many as the JSON says.
    let all_json = run(&["--format", "json", "--limit", "0", "record_type=15"]);
    let csv = run(&["--format", "csv", "--limit", "0", "record_type=15"]);
    let n = String::from_utf8_lossy(&all_json.stdout).lines().count();
    assert!(n > 5);
    assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), n + 1);
    let ocsf = run(&["--format", "ocsf", "--limit", "3", "operation=UserLoggedIn"]);
    for l in String::from_utf8_lossy(&ocsf.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["class_uid"], 3002, "{v}");
    }
    // The same log over the REST API, with a read-only token made on the command line.
    let (server, api) = spawn_announcing(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data],
        |l| {
            l.strip_prefix("skylight API on ")
                .and_then(|r| r.split_whitespace().next())
                .map(String::from)
        },
    );
    let made = common::run_ok(&[
        "admin",
        "token",
        "--name",
        "reader",
        "--role",
        "read-only",
        "--data-dir",
        &data,
    ]);
    let token = made.lines().nth(1).unwrap().trim().to_owned();
    assert!(token.starts_with("sky_"), "{made}");
    let unauthorised = reqwest::blocking::get(format!("{api}?limit=1")).unwrap();
    assert_eq!(unauthorised.status().as_u16(), 401);
    let page: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{api}?q=operation%3DUserLoggedIn&limit=5"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids = |v: &[serde_json::Value]| v.iter().map(|l| l["id"].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(page["items"].as_array().unwrap()),
        ids(&lines),
        "the API lists what the CLI lists"
    );
    drop(server);
    // Audit data is not served beyond loopback without a token.
    let open = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir", &data])
        .env_remove("SKYLIGHT_API_TOKEN")
        .output()
        .unwrap();
    assert!(!open.status.success());
    assert!(String::from_utf8_lossy(&open.stderr).contains("without an API token"));

    // A mistake says what to write instead.
    let bad = run(&["app=exchnage"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown app `exchnage`; apps: exchange")
    );
}

#[test]
fn the_demo_collects_a_live_tenant_and_serves_its_activities_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let demo_args = [
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--users",
        "30",
        "--days",
        "1",
        "--data-dir",
        &data,
    ];
    // The first run prints the first administrator's password once, on the console's line.
    let (demo, console) = spawn_announcing(&demo_args, |l| {
        l.strip_prefix("console")
            .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
    });
    let words: Vec<&str> = console.split(' ').collect();
    let base = words[0].trim_end_matches('/').to_owned();
    assert_eq!(words[1..5], ["sign", "in", "as", "admin"], "{console}");
    let password = words[7];
    assert!(common::Console::try_sign_in(&base, "admin", "wrong-password-123").is_err());
    let session = common::Console::sign_in(&base, "admin", password);
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::COOKIE,
        reqwest::header::HeaderValue::from_str(&session.cookie).unwrap(),
    );
    let client = reqwest::blocking::Client::builder()
        .default_headers(h)
        .build()
        .unwrap();
    let api = format!("{base}/api/v1/activities");
    // The backfill lands within seconds; the log then holds sign-ins with their country.
    let items = common::poll_list(
        &client,
        &format!("{api}?q=operation%3DUserLoggedIn&limit=5"),
        "items",
        5,
        60,
    );
    assert_eq!(items.len(), 5, "sign-ins were collected and served");
    assert!(
        items
            .iter()
            .all(|a| a["app"] == "entra-id" && a["country"].is_string()),
        "{items:?}"
    );
    // Detection runs beside the collector: the demo's injected incidents reach the alert API.
    let alerts = common::poll_list(
        &client,
        &api.replace("/activities", "/alerts"),
        "alerts",
        1,
        60,
    );
    assert!(!alerts.is_empty(), "the demo raised alerts");
    assert!(
        alerts
            .iter()
            .all(|a| !a["facts"].as_array().unwrap().is_empty())
    );
    // A second run keeps the accounts and prints no password.
    drop(demo);
    let (_again, console) =
        spawn_announcing(&demo_args, |l| l.strip_prefix("console").map(String::from));
    assert!(console.contains("sign in with your account"), "{console}");
    assert!(!console.contains(password));
    // Beyond loopback the demo refuses to serve plain HTTP.
    let open = Command::new(BIN)
        .args(["demo", "--listen", "0.0.0.0:0", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(!open.status.success());
}
