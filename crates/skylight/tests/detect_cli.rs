//! Detection as a user runs it: `skylight collect` against a simulated tenant with every attack
//! scenario, then `skylight alerts`, checked against the simulator's truth.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use common::{BIN, collect_killed_after, run_collect, run_ok, spawn_sim, write_config_with};

/// The detection meant to catch each scenario of the simulator's catalogue.
const INTENDED: [(&str, &str); 15] = [
    ("impossible_travel", "impossible_travel"),
    ("anonymous_ip", "risky_ip"),
    ("brute_force", "failed_sign_ins"),
    ("password_spray", "password_spray"),
    ("mass_download", "mass_download"),
    ("mass_delete", "mass_delete"),
    ("mass_share", "mass_share"),
    ("ransomware", "ransomware"),
    ("inbox_forward_rule", "inbox_forwarding"),
    ("inbox_delete_rule", "inbox_manipulation"),
    ("mailbox_delegation", "mailbox-access-granted"),
    ("admin_role_assignment", "privileged-role-assigned"),
    ("mfa_disabled", "mfa_disabled"),
    ("oauth_consent_high_privilege", "oauth_high_privilege"),
    ("departed_user_activity", "disabled_user"),
];

fn truth(url: &str) -> serde_json::Value {
    reqwest::blocking::get(format!("{url}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap()
}

fn alerts(data: &str) -> Vec<serde_json::Value> {
    run_ok(&[
        "alerts",
        "--data-dir",
        data,
        "--signals",
        "--limit",
        "0",
        "--format",
        "json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

fn ids(v: &serde_json::Value) -> HashSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

/// Every scenario is caught by its intended detection, and the alert queue (signals aside) is
/// at least 95 % injected incidents.
fn assert_recall_and_precision(truth: &serde_json::Value, alerts: &[serde_json::Value]) {
    let incidents = truth["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), INTENDED.len(), "every scenario injected");
    let intended: HashMap<&str, &str> = INTENDED.into_iter().collect();
    let mut injected = HashSet::new();
    for i in incidents {
        let scenario = i["scenario"].as_str().unwrap();
        let records = ids(&i["record_ids"]);
        injected.extend(records.iter().cloned());
        let want = intended[scenario];
        let caught = alerts
            .iter()
            .any(|a| a["policy"] == want && !ids(&a["activity_ids"]).is_disjoint(&records));
        let by: Vec<&str> = alerts
            .iter()
            .filter(|a| !ids(&a["activity_ids"]).is_disjoint(&records))
            .map(|a| a["policy"].as_str().unwrap())
            .collect();
        assert!(
            caught,
            "{scenario}: not caught by {want} (caught by {by:?})"
        );
    }
    // Activity alerts: inventory alerts (an app policy on the apps a directory round found) stand
    // on no activity and are proved against the tenant's state in `tests/governance/apps.rs`.
    let queue: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["signal_only"] == false && a["kind"] != "app" && a["kind"] != "file")
        .collect();
    let true_positives = queue
        .iter()
        .filter(|a| !ids(&a["activity_ids"]).is_disjoint(&injected))
        .count();
    let false_positives: Vec<String> = queue
        .iter()
        .filter(|a| ids(&a["activity_ids"]).is_disjoint(&injected))
        .map(|a| format!("{}: {}", a["policy"], a["facts"]))
        .collect();
    assert!(
        true_positives * 100 >= queue.len() * 95,
        "precision under 95 %: {true_positives} of {}; false positives: {false_positives:#?}",
        queue.len()
    );
}

/// No activity is in two alerts of one policy: one incident, one alert.
fn assert_no_duplicates(alerts: &[serde_json::Value]) {
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for a in alerts {
        for id in ids(&a["activity_ids"]) {
            let owner = seen
                .entry((a["policy"].as_str().unwrap().to_string(), id.clone()))
                .or_insert(a["id"].as_u64().unwrap());
            assert_eq!(
                *owner,
                a["id"].as_u64().unwrap(),
                "activity {id} is in alerts {owner} and {} of {}",
                a["id"],
                a["policy"]
            );
        }
    }
}

const DETECTION: &str = "\n[detection]\nlearning_days = 1\n";

#[test]
fn every_scenario_is_caught_by_its_detection_and_the_queue_is_precise() {
    let (_sim, url) = spawn_sim(&["--users", "300", "--days", "7", "--scenarios", "all"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config_with(dir.path(), &url, DETECTION);
    let out = run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("detection:"));
    let alerts = alerts(&data);
    assert_recall_and_precision(&truth(&url), &alerts);
    assert_no_duplicates(&alerts);

    // Every alert explains itself and points at stored activities, or (an app policy's) at the
    // app it is about.
    for a in &alerts {
        assert!(!a["facts"].as_array().unwrap().is_empty(), "{a}");
        if a["kind"] == "app" {
            assert!(a["key"].as_str().unwrap().starts_with("app|"), "{a}");
        } else {
            assert!(a["activity_count"].as_u64().unwrap() >= 1, "{a}");
        }
    }
    let first = alerts
        .iter()
        .find(|a| a["policy"] == "impossible_travel")
        .unwrap();
    let fact = first["facts"][0].as_str().unwrap();
    assert!(fact.contains(" km apart"), "{fact}");
    let id = first["activity_ids"][0].as_str().unwrap();
    let shown = run_ok(&[
        "activities",
        "--data-dir",
        &data,
        "--format",
        "json",
        "--limit",
        "0",
    ]);
    assert!(shown.contains(id), "the alert's activity is in the log");

    // Triage from the command line.
    let alert_id = first["id"].to_string();
    run_ok(&[
        "alert",
        &alert_id,
        "--data-dir",
        &data,
        "--status",
        "resolved",
        "--resolution",
        "true_positive",
        "--comment",
        "travel confirmed with the user",
        "--author",
        "soc",
    ]);
    let shown: serde_json::Value = serde_json::from_str(&run_ok(&[
        "alert",
        &alert_id,
        "--data-dir",
        &data,
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["resolution"], "true_positive");
    assert_eq!(shown["comments"][0]["author"], "soc");
    let open = run_ok(&[
        "alerts",
        "--data-dir",
        &data,
        "--status",
        "open",
        "--format",
        "json",
        "--limit",
        "0",
    ]);
    assert!(
        !open
            .lines()
            .any(|l| l.contains(&format!("\"id\":{alert_id},")))
    );

    // Status tells how far detection got.
    let status = run_ok(&["status", "--data-dir", &data]);
    assert!(status.contains("detection: caught up"), "{status}");
    // A second run over the same tenant raises nothing new: every activity was evaluated once.
    let before = alerts.len();
    let out = run_collect(&config, &data);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("detection: 0 activities evaluated"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(self::alerts(&data).len(), before);
}

#[test]
fn killed_mid_stream_detection_neither_loses_nor_duplicates_alerts() {
    // Throttled, so collection and detection are under way at each kill.
    let (_sim, url) = spawn_sim(&[
        "--users",
        "300",
        "--days",
        "7",
        "--scenarios",
        "all",
        "--requests-per-minute",
        "2400",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config_with(dir.path(), &url, DETECTION);
    let mut alerts_seen_mid_way = false;
    for i in 0..6u64 {
        collect_killed_after(
            &config,
            &data,
            Duration::from_millis(3_000 + (i * 7919) % 5_000),
        );
        let n = self::alerts(&data).len();
        let records = skylight_store::SqliteStore::open(std::path::Path::new(&data))
            .map(|s| skylight_store::Store::record_count(&s, None).unwrap_or(0))
            .unwrap_or(0);
        eprintln!("kill {i}: {records} records, {n} alerts");
        alerts_seen_mid_way |= n > 0;
    }
    assert!(
        alerts_seen_mid_way,
        "kills landed after detection had raised alerts"
    );
    let out = run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = alerts(&data);
    assert_recall_and_precision(&truth(&url), &alerts);
    assert_no_duplicates(&alerts);
}

#[test]
fn policies_are_listed_and_backtested_without_side_effects() {
    let list = run_ok(&["policies", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(
        row("mass-download-by-single-user")["enabled"],
        false,
        "templates ship off"
    );
    assert_eq!(
        row("impossible_travel")["enabled"],
        true,
        "anomaly detections ship on"
    );
    assert_eq!(row("infrequent_country")["mode"], "signal");

    let (_sim, url) = spawn_sim(&[
        "--users",
        "120",
        "--days",
        "3",
        "--scenarios",
        "brute_force,mass_download",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config_with(dir.path(), &url, DETECTION);
    assert!(run_collect(&config, &data).status.success());
    let before = alerts(&data).len();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[policy]]\nid = \"many-downloads\"\nname = \"Many downloads\"\nseverity = \"high\"\nenabled = false\nfilters = [\"category=file_download\"]\nrepeated = { count = 100, within_minutes = 15 }\n",
    )
    .unwrap();
    let out = run_ok(&[
        "policies",
        "test",
        policy.to_str().unwrap(),
        "--since",
        "30d",
        "--data-dir",
        &data,
        "--format",
        "json",
    ]);
    let raised: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let truth = truth(&url);
    let mass = truth["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["scenario"] == "mass_download")
        .unwrap();
    assert!(
        raised.iter().any(|a| a["policy"] == "many-downloads"
            && !ids(&a["activity_ids"]).is_disjoint(&ids(&mass["record_ids"]))),
        "the backtest finds the mass download: {out}"
    );
    assert_eq!(alerts(&data).len(), before, "a backtest writes nothing");
    // Policies in a file are read strictly: a typo is an error that says what is wrong.
    std::fs::write(
        &policy,
        "[[policy]]\nid = \"x\"\nname = \"X\"\nfilters = [\"catgory=login\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "policies",
            "test",
            policy.to_str().unwrap(),
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `catgory`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_with_a_configuration_collects_detects_and_serves_alerts() {
    let (_sim, url) = spawn_sim(&["--users", "120", "--days", "2", "--scenarios", "all"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config_with(dir.path(), &url, DETECTION);
    let (_serve, api) = common::spawn_serve(&config, &data);
    let client = common::api_client();
    let alerts = common::poll_list(
        &client,
        &api.replace("/activities", "/alerts"),
        "alerts",
        3,
        90,
    );
    assert!(
        alerts.len() >= 3,
        "serve collected, detected and served alerts: {alerts:?}"
    );
    let truth = truth(&url);
    let injected: HashSet<String> = truth["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| ids(&i["record_ids"]))
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| !ids(&a["activity_ids"]).is_disjoint(&injected))
    );
}

#[test]
fn a_policy_put_through_the_api_runs_on_what_arrives_next() {
    // Throttled, so that the backfill is still under way when the policy arrives; the policy
    // matches any activity, so whatever arrives after it counts, whichever content type it is.
    let (_sim, url) = spawn_sim(&[
        "--users",
        "120",
        "--days",
        "3",
        "--requests-per-minute",
        "300",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config_with(dir.path(), &url, DETECTION);
    let (_serve, api) = common::spawn_serve(&config, &data);
    // Detection is running (activities are arriving) before the policy exists: it must pick the
    // policy up while it runs.
    let client = common::api_client();
    let collected = common::poll_list(&client, &format!("{api}?limit=1"), "items", 1, 60);
    assert!(!collected.is_empty(), "nothing collected");
    let policies = api.replace("/activities", "/policies");
    let put = client
        .put(format!("{policies}/api-sign-ins"))
        .json(&serde_json::json!({
            "id": "api-sign-ins", "name": "Anything (from the API)", "severity": "low",
            "filters": ["operation=*"], "daily_alert_limit": 100000
        }))
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let alerts_url = format!(
        "{}?policy=api-sign-ins",
        api.replace("/activities", "/alerts")
    );
    let raised = common::poll_list(&client, &alerts_url, "alerts", 1, 90);
    assert!(!raised.is_empty(), "no alert from the API's policy");
}
