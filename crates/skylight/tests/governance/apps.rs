//! OAuth app policies, end to end: a directory round matches the apps the simulated tenant has
//! against the built-in and configured app policies, alerts once per app, and the policy's
//! action revokes exactly the apps it matched.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{run_ok, spawn_sim, write_config};
use crate::{get, lines};

/// The simulator's third-party service principals (id → the JSON).
fn third_party(state: &Value) -> Vec<Value> {
    state["servicePrincipals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["firstParty"] == false)
        .cloned()
        .collect()
}

/// The scopes the simulator granted each service principal.
fn scopes_of(state: &Value, sp: &str) -> BTreeSet<String> {
    state["oauth2PermissionGrants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["clientId"] == sp)
        .flat_map(|g| {
            g["scope"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn alerts(data: &str, policy: &str) -> Vec<Value> {
    lines(&run_ok(&[
        "alerts",
        "--policy",
        policy,
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        data,
    ]))
}

#[test]
fn app_policies_alert_once_per_app_and_revoke_what_they_match() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    std::fs::write(
        dir.path().join("apps.toml"),
        "[[app_policy]]\nid = \"unverified-mail\"\nname = \"Unverified app that writes mail\"\n\
         severity = \"high\"\npermissions = [\"Mail.ReadWrite\"]\npublisher_verified = false\n\
         actions = [\"revoke-app\"]\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&config).unwrap()
        + "\n[detection]\npolicy_files = [\"apps.toml\"]\n";
    std::fs::write(&config, text).unwrap();

    let before = get(&format!("{url}/_sim/graph?drives=false"));
    let apps = third_party(&before);
    // What each policy should find, read from the simulated tenant itself: names carrying
    // characters outside ASCII that stand for Latin ones, and unverified apps granted mail writes.
    let disguised: BTreeSet<String> = apps
        .iter()
        .filter(|s| {
            !s["displayName"].as_str().unwrap().is_ascii()
                || !s["publisherName"].as_str().unwrap_or("").is_ascii()
        })
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let mail_writers: BTreeSet<String> = apps
        .iter()
        .filter(|s| {
            s["verifiedPublisher"].is_null()
                && scopes_of(&before, s["id"].as_str().unwrap()).contains("mail.readwrite")
        })
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!disguised.is_empty() && !mail_writers.is_empty());

    let out = crate::common::run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_app = |a: &Value| {
        a["key"]
            .as_str()
            .unwrap()
            .rsplit('|')
            .next()
            .unwrap()
            .to_owned()
    };
    let misleading = alerts(&data, "misleading-app-name");
    assert_eq!(
        misleading.iter().map(key_app).collect::<BTreeSet<_>>(),
        disguised,
        "the built-in policy alerts on exactly the disguised apps"
    );
    let facts = misleading[0]["facts"].to_string();
    assert!(facts.contains("U+043E, Cyrillic"), "{facts}");
    let unverified = alerts(&data, "unverified-mail");
    assert_eq!(
        unverified.iter().map(key_app).collect::<BTreeSet<_>>(),
        mail_writers
    );

    // The policy's action revoked exactly those apps in the tenant; the others are as they were.
    let after = get(&format!("{url}/_sim/graph?drives=false"));
    let state_of = |graph: &Value, id: &str| {
        let sp = graph["servicePrincipals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone();
        (sp["accountEnabled"].clone(), scopes_of(graph, id))
    };
    for s in &apps {
        let id = s["id"].as_str().unwrap();
        let (enabled, scopes) = state_of(&after, id);
        if mail_writers.contains(id) {
            assert!(
                enabled == false && scopes.is_empty(),
                "{} is revoked: {enabled}, {scopes:?}",
                s["displayName"]
            );
        } else {
            assert_eq!(
                (enabled, scopes),
                state_of(&before, id),
                "{} is untouched",
                s["displayName"]
            );
        }
    }
    let log = lines(&run_ok(&[
        "governance-log",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert_eq!(log.len(), mail_writers.len(), "one action per matched app");
    assert!(
        log.iter()
            .all(|e| e["requested_by"] == "policy:unverified-mail"
                && e["action"] == "revoke-app"
                && e["status"] == "succeeded")
    );

    // Another round raises nothing new.
    let out = crate::common::run_collect(&config, &data);
    assert!(out.status.success());
    assert_eq!(alerts(&data, "misleading-app-name").len(), misleading.len());
    assert_eq!(alerts(&data, "unverified-mail").len(), unverified.len());
}
