//! The directory sync and governance, end to end: the real binary against the simulator's
//! Microsoft Graph, proved against the simulator's own state (`/_sim/graph`), its write log
//! (`/_sim/graph/writes`) and its audit feed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{run_ok, spawn_sim, write_config};
use serde_json::{Value, json};

fn get(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

fn post(url: &str, body: Value) -> Value {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .json(&body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().unwrap_or(Value::Null)
}

/// The simulator's request log.
fn requests(url: &str) -> Vec<Value> {
    let text = reqwest::blocking::get(format!("{url}/_sim/requests"))
        .unwrap()
        .text()
        .unwrap();
    lines(&text)
}

/// The JSON lines a command printed.
fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn skylight(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skylight"))
        .args(args)
        .output()
        .unwrap()
}

/// (id → (upn, enabled, userType, roles)) as the simulator holds its users.
fn sim_users(state: &Value) -> BTreeMap<String, (String, bool, String, Vec<String>)> {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let mut roles: Vec<String> = u["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            roles.sort();
            (
                u["id"].as_str().unwrap().to_owned(),
                (
                    u["userPrincipalName"].as_str().unwrap().to_owned(),
                    u["accountEnabled"].as_bool().unwrap(),
                    u["userType"].as_str().unwrap().to_owned(),
                    roles,
                ),
            )
        })
        .collect()
}

/// The same, as Skylight stored them.
fn stored_users(data: &str) -> BTreeMap<String, (String, bool, String, Vec<String>)> {
    lines(&run_ok(&[
        "users",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        data,
    ]))
    .into_iter()
    .map(|u| {
        (
            u["id"].as_str().unwrap().to_owned(),
            (
                u["upn"].as_str().unwrap().to_owned(),
                u["account_enabled"].as_bool().unwrap(),
                u["user_type"].as_str().unwrap().to_owned(),
                serde_json::from_value(u["roles"].clone()).unwrap(),
            ),
        )
    })
    .collect()
}

/// (group id → users reached, nested included) per the simulator.
fn sim_group_users(state: &Value) -> BTreeMap<String, usize> {
    let users: BTreeSet<&str> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = g["transitiveMembers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| users.contains(m.as_str().unwrap_or_default()))
                .count();
            (g["id"].as_str().unwrap().to_owned(), n)
        })
        .collect()
}

fn stored_group_users(data: &str) -> BTreeMap<String, usize> {
    lines(&run_ok(&[
        "groups",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        data,
    ]))
    .into_iter()
    .map(|g| {
        (
            g["id"].as_str().unwrap().to_owned(),
            g["user_members"].as_u64().unwrap() as usize,
        )
    })
    .collect()
}

/// (service principal id → grant ids) for every app the simulator has granted something.
fn sim_app_grants(state: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in state["oauth2PermissionGrants"].as_array().unwrap() {
        out.entry(g["clientId"].as_str().unwrap().to_owned())
            .or_default()
            .insert(g["id"].as_str().unwrap().to_owned());
    }
    for a in state["appRoleAssignments"].as_array().unwrap() {
        if a["principalType"] == "ServicePrincipal" {
            out.entry(a["principalId"].as_str().unwrap().to_owned())
                .or_default()
                .insert(a["id"].as_str().unwrap().to_owned());
        }
    }
    out
}

fn stored_app_grants(data: &str) -> BTreeMap<String, BTreeSet<String>> {
    lines(&run_ok(&[
        "apps",
        "--microsoft",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        data,
    ]))
    .into_iter()
    .filter_map(|a| {
        let ids: BTreeSet<String> = a["grants"]
            .as_array()
            .unwrap()
            .iter()
            .chain(a["app_roles"].as_array().unwrap())
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect();
        (!ids.is_empty()).then(|| (a["id"].as_str().unwrap().to_owned(), ids))
    })
    .collect()
}

#[test]
fn a_sync_equals_the_tenant_and_later_rounds_bring_the_changes() {
    let (_sim, url) = spawn_sim(&["--users", "150", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    // Throttling and server errors on the way: a sync loses nothing to them.
    post(
        &format!("{url}/_sim/graph/faults"),
        json!({"rules": [
            {"status": 429, "count": 3, "retry_after": "0.2", "path_contains": "/users/delta"},
            {"status": 503, "count": 2, "retry_after": "0", "path_contains": "/members"},
            {"status": 500, "count": 1, "path_contains": "/servicePrincipals"}
        ]}),
    );
    let out = run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    assert!(out.contains("contoso:"), "{out}");

    let state = get(&format!("{url}/_sim/graph?drives=false"));
    assert_eq!(stored_users(&data), sim_users(&state));
    assert_eq!(stored_group_users(&data), sim_group_users(&state));
    let apps = sim_app_grants(&state);
    assert!(
        !apps.is_empty(),
        "the simulated tenant grants apps something"
    );
    assert_eq!(stored_app_grants(&data), apps);
    let faults = get(&format!("{url}/_sim/graph/faults"));
    assert!(
        faults["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["count"] == 0),
        "every armed fault was hit: {faults}"
    );

    // Changes in the tenant arrive by delta.
    post(&format!("{url}/_sim/graph/changes"), json!({"count": 40}));
    let seen = requests(&url).len();
    run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    let state = get(&format!("{url}/_sim/graph?drives=false"));
    assert_eq!(stored_users(&data), sim_users(&state));
    assert_eq!(stored_group_users(&data), sim_group_users(&state));
    assert_eq!(stored_app_grants(&data), sim_app_grants(&state));
    let after = requests(&url);
    let second: Vec<&str> = after[seen..]
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(
        second
            .iter()
            .any(|p| p.contains("/users/delta") && p.to_ascii_lowercase().contains("deltatoken")),
        "the second round follows the stored delta link: {second:?}"
    );
    assert!(
        !second.iter().any(|p| p.contains("/users/delta?$select")),
        "and does not enumerate again: {second:?}"
    );
}

/// A member who can be suspended: enabled, cloud-only, no directory role.
fn plain_member(state: &Value) -> (String, String) {
    let u = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["userType"] == "Member"
                && u["accountEnabled"] == true
                && u["onPremisesSyncEnabled"] != true
                && u["roles"].as_array().unwrap().is_empty()
        })
        .unwrap();
    (
        u["id"].as_str().unwrap().to_owned(),
        u["userPrincipalName"].as_str().unwrap().to_owned(),
    )
}

fn writes_to(url: &str, needle: &str) -> Vec<Value> {
    get(&format!("{url}/_sim/graph/writes"))["writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["path"].as_str().unwrap().contains(needle))
        .cloned()
        .collect()
}

#[test]
fn suspending_a_user_acts_once_is_logged_and_comes_back_as_an_activity() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1", "--graph-audit-delay", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let state = get(&format!("{url}/_sim/graph?drives=false"));
    let (id, upn) = plain_member(&state);

    // A dry run changes nothing.
    let dry = run_ok(&[
        "govern",
        "suspend-user",
        &upn,
        "--dry-run",
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(dry.contains("dry_run"), "{dry}");
    assert!(writes_to(&url, &id).is_empty(), "a dry run writes nothing");

    // The PATCH fails after it was applied (the answer is lost): the retry must not apply it
    // again, and the action still succeeds.
    post(
        &format!("{url}/_sim/graph/faults"),
        json!({"rules": [{"status": 503, "count": 1, "retry_after": "0", "method": "PATCH",
                          "path_contains": id, "after_apply": true}]}),
    );
    let out = run_ok(&[
        "govern",
        "suspend-user",
        &upn,
        "--format",
        "json",
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    let entry: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(entry["status"], "succeeded", "{entry}");
    let state = get(&format!("{url}/_sim/graph?drives=false"));
    let user = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap();
    assert_eq!(user["accountEnabled"], false, "the tenant changed");
    let applied: Vec<Value> = writes_to(&url, &id)
        .into_iter()
        .filter(|w| w["method"] == "PATCH" && w["applied"] == true)
        .collect();
    assert_eq!(applied.len(), 1, "applied once: {applied:?}");
    assert_eq!(
        writes_to(&url, &format!("{id}/revokeSignInSessions")).len(),
        1,
        "sessions revoked"
    );

    // Asked again: nothing more is changed, and the log says why.
    let again = run_ok(&[
        "govern",
        "suspend-user",
        &upn,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(again.contains("already disabled"), "{again}");
    let patches = writes_to(&url, &id)
        .into_iter()
        .filter(|w| w["method"] == "PATCH" && w["applied"] == true)
        .count();
    assert_eq!(patches, 1);

    let log = lines(&run_ok(&[
        "governance-log",
        "--target",
        &upn,
        "--format",
        "json",
        "--data-dir",
        &data,
    ]));
    let statuses: Vec<&str> = log.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["succeeded", "succeeded", "dry_run"]);
    assert!(log[1]["attempts"].as_u64().unwrap() >= 1);

    // The tenant published `Update user.` for it; the collector brings it into the activity log
    // (listing windows end on a whole second, so a record of this very second waits for the
    // next poll, as it would in a deployment).
    let mut found = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let out = common::run_collect(&config, &data);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        found = lines(&run_ok(&[
            "activities",
            "--format",
            "json",
            "--data-dir",
            &data,
            "operation=Update user.",
            &format!("text~{id}"),
        ]));
        if found.len() >= 2 {
            break;
        }
    }
    assert!(
        found.len() >= 2,
        "the suspension's audit records (account disabled, sessions revoked) are in the activity \
         log: {found:?}"
    );
}

#[test]
fn apps_are_revoked_once_and_microsofts_own_are_refused() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    let apps = lines(&run_ok(&[
        "apps",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    let app = apps
        .iter()
        .find(|a| !a["grants"].as_array().unwrap().is_empty())
        .expect("a third-party app with consents");
    let (sp, name) = (
        app["id"].as_str().unwrap().to_owned(),
        app["name"].as_str().unwrap().to_owned(),
    );

    let out = run_ok(&[
        "govern",
        "revoke-app",
        &name,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(out.contains("succeeded"), "{out}");
    let state = get(&format!("{url}/_sim/graph?drives=false"));
    assert!(
        !state["oauth2PermissionGrants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["clientId"] == sp.as_str()),
        "no grant of the app is left"
    );
    assert!(
        !state["appRoleAssignments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["principalId"] == sp.as_str()),
        "no application permission is left"
    );
    let spj = state["servicePrincipals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sp.as_str())
        .unwrap()
        .clone();
    assert_eq!(spj["accountEnabled"], false, "and it is disabled");
    let reviewed = lines(&run_ok(&[
        "apps",
        &name,
        "--format",
        "json",
        "--data-dir",
        &data,
    ]));
    assert_eq!(reviewed[0]["review"], "banned");

    let first_party = lines(&run_ok(&[
        "apps",
        "--microsoft",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]))
    .into_iter()
    .find(|a| a["first_party"] == true)
    .expect("a Microsoft app");
    let refused = skylight(&[
        "govern",
        "ban-app",
        first_party["id"].as_str().unwrap(),
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("Microsoft's own apps"), "{err}");
    let failed = lines(&run_ok(&[
        "governance-log",
        "--status",
        "failed",
        "--format",
        "json",
        "--data-dir",
        &data,
    ]));
    assert_eq!(failed.len(), 1, "the refusal is logged");
    // Retrying it checks the target again: a refusal stays a refusal.
    let id = failed[0]["id"].as_i64().unwrap().to_string();
    let retried = skylight(&[
        "govern",
        "retry",
        &id,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(!retried.status.success());
    assert!(
        String::from_utf8_lossy(&retried.stderr).contains("Microsoft's own apps"),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let spj = get(&format!("{url}/_sim/graph?drives=false"))["servicePrincipals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == first_party["id"])
        .unwrap()
        .clone();
    assert_eq!(spj["accountEnabled"], true, "Microsoft's app is untouched");
}

/// A config with the files component and an admin quarantine site.
fn files_config(dir: &std::path::Path, url: &str, quarantine: &str) -> (String, String) {
    let (config, data) = write_config(dir, url);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "components = [\"activities\"]",
        &format!("components = [\"activities\", \"files\"]\nquarantine_site = \"{quarantine}\""),
    );
    std::fs::write(&config, text).unwrap();
    (config, data)
}

fn sim_drives(url: &str) -> Vec<Value> {
    get(&format!("{url}/_sim/graph"))["drives"]
        .as_array()
        .unwrap()
        .clone()
}

fn sim_item<'a>(drives: &'a [Value], drive: &str, item: &str) -> Option<&'a Value> {
    drives
        .iter()
        .find(|d| d["id"] == drive)?
        .get("items")?
        .as_array()?
        .iter()
        .find(|i| i["id"] == item)
}

#[test]
fn files_are_graded_like_the_tenant_and_file_actions_keep_microsofts_rules() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let state = get(&format!("{url}/_sim/graph"));
    let sites = state["sites"].as_array().unwrap();
    let quarantine = sites.iter().find(|s| s["isPersonalSite"] != true).unwrap()["webUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let (config, data) = files_config(dir.path(), &url, &quarantine);
    let out = run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    assert!(out.contains("files:"), "{out}");

    // Every file's access level and outside domains, as the tenant grades them.
    let drives = sim_drives(&url);
    let mut want: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for d in &drives {
        for i in d["items"].as_array().unwrap() {
            if i["folder"] == true {
                continue;
            }
            let mut domains: Vec<String> =
                serde_json::from_value(i["externalDomains"].clone()).unwrap();
            domains.sort();
            want.insert(
                format!(
                    "{}/{}",
                    d["id"].as_str().unwrap(),
                    i["id"].as_str().unwrap()
                ),
                (i["accessLevel"].as_str().unwrap().to_owned(), domains),
            );
        }
    }
    let got: BTreeMap<String, (String, Vec<String>)> = lines(&run_ok(&[
        "files",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]))
    .into_iter()
    .map(|f| {
        let mut domains: Vec<String> =
            serde_json::from_value(f["external_domains"].clone()).unwrap();
        domains.sort();
        (
            format!(
                "{}/{}",
                f["drive_id"].as_str().unwrap(),
                f["id"].as_str().unwrap()
            ),
            (f["access"].as_str().unwrap().to_owned(), domains),
        )
    })
    .collect();
    assert_eq!(got.len(), want.len(), "every file is in the inventory");
    assert_eq!(got, want);
    assert!(
        want.values().any(|(a, _)| a == "external") && want.values().any(|(a, _)| a == "public"),
        "the tenant shares files outside"
    );

    // Remove external users from a file shared outside by its own permissions.
    let (target, _) = want
        .iter()
        .find(|(k, (a, _))| {
            let (d, i) = k.split_once('/').unwrap();
            // Nothing shared outside comes from a folder: it can be removed on the file.
            let item = sim_item(&drives, d, i).unwrap();
            let outside: Vec<&str> = item["externalDomains"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            a == "external"
                && item["permissions"].as_array().unwrap().iter().all(|p| {
                    p["inheritedFrom"].is_null()
                        || (p["kind"] != "link"
                            && p["kind"] != "invitation"
                            && !outside.iter().any(|o| {
                                p["grantee"]["email"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .ends_with(o)
                            }))
                })
        })
        .expect("a file shared outside directly");
    let out = run_ok(&[
        "govern",
        "remove-external-users",
        target,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(out.contains("succeeded") && out.contains("DELETE"), "{out}");
    let (d, i) = target.split_once('/').unwrap();
    let after = sim_drives(&url);
    let item = sim_item(&after, d, i).unwrap();
    assert_ne!(item["accessLevel"], "external", "{item}");
    assert!(item["externalDomains"].as_array().unwrap().is_empty());

    // User quarantine outside `Shared Documents` is refused, and says why.
    let foreign = drives
        .iter()
        .find(|d| {
            d["driveType"] == "documentLibrary"
                && d["libraryPath"] != "Shared Documents"
                && d["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["folder"] == false)
        })
        .expect("a library with a non-English path");
    let foreign_item = foreign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["folder"] == false)
        .unwrap();
    let refused = skylight(&[
        "govern",
        "user-quarantine",
        &format!(
            "{}/{}",
            foreign["id"].as_str().unwrap(),
            foreign_item["id"].as_str().unwrap()
        ),
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("Shared Documents"), "{err}");

    // In `Shared Documents` it moves the file into Quarantine, unshared; restore brings it back.
    let english = drives
        .iter()
        .find(|d| d["libraryPath"] == "Shared Documents")
        .unwrap();
    let file = english["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["folder"] == false && i["path"].as_str().unwrap().matches('/').count() >= 2)
        .unwrap();
    let target = format!(
        "{}/{}",
        english["id"].as_str().unwrap(),
        file["id"].as_str().unwrap()
    );
    run_ok(&[
        "govern",
        "user-quarantine",
        &target,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    let after = sim_drives(&url);
    let moved = sim_item(
        &after,
        english["id"].as_str().unwrap(),
        file["id"].as_str().unwrap(),
    )
    .unwrap();
    assert!(
        moved["path"].as_str().unwrap().starts_with("/Quarantine/"),
        "{}",
        moved["path"]
    );
    run_ok(&[
        "govern",
        "restore-file",
        &target,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    let after = sim_drives(&url);
    let back = sim_item(
        &after,
        english["id"].as_str().unwrap(),
        file["id"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(back["path"], file["path"], "restored where it was");

    // Admin quarantine: the file leaves its library; a placeholder says where it went.
    let out = run_ok(&[
        "govern",
        "admin-quarantine",
        &target,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(out.contains("succeeded"), "{out}");
    let after = sim_drives(&url);
    assert!(
        sim_item(
            &after,
            english["id"].as_str().unwrap(),
            file["id"].as_str().unwrap()
        )
        .is_none(),
        "gone from its library"
    );
    let placeholder = format!("{}.quarantined.txt", file["name"].as_str().unwrap());
    assert!(
        after.iter().find(|d| d["id"] == english["id"]).unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == placeholder.as_str()),
        "a placeholder is left"
    );
    let name = file["name"].as_str().unwrap();
    assert!(
        after.iter().any(|d| d["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == name && i["path"].as_str().unwrap().starts_with("/Quarantine/"))),
        "and the file is in the quarantine site"
    );

    // The next sync sees every change.
    run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    let stored = lines(&run_ok(&[
        "files",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert!(stored.iter().any(|f| f["name"] == placeholder.as_str()));
    assert!(!stored.iter().any(|f| format!(
        "{}/{}",
        f["drive_id"].as_str().unwrap(),
        f["id"].as_str().unwrap()
    ) == target));
}

/// A Graph token for the simulator's app, as any client would get one.
fn graph_token(url: &str) -> String {
    let t = get(&format!("{url}/_sim/tenant"));
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
        t["client_id"].as_str().unwrap(),
        urlencode(t["client_secret"].as_str().unwrap())
    );
    let r: Value = reqwest::blocking::Client::new()
        .post(format!(
            "{url}/{}/oauth2/v2.0/token",
            t["tenant_id"].as_str().unwrap()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    r["access_token"].as_str().unwrap().to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn a_policy_on_sharing_outside_removes_that_sharing_end_to_end() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1", "--graph-audit-delay", "0"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.toml"),
        "[[policy]]\nid = \"share-cleanup\"\nname = \"Files shared with outsiders\"\n\
         severity = \"high\"\ncategory = \"sharing_control\"\n\
         filters = [\"operation=SharingInvitationCreated\"]\n\
         actions = [\"remove-external-users\"]\n",
    )
    .unwrap();
    let (config, data) = files_config(dir.path(), &url, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("quarantine_site = \"\"\n", "")
        + "\n[detection]\nlearning_days = 0\npolicy_files = [\"policies.toml\"]\n";
    std::fs::write(&config, text).unwrap();
    run_ok(&["sync", "--config", &config, "--data-dir", &data]);

    // Someone shares three files of a team library with an outside address.
    let drives = sim_drives(&url);
    let library = drives
        .iter()
        .find(|d| d["libraryPath"] == "Shared Documents")
        .unwrap();
    let drive = library["id"].as_str().unwrap().to_owned();
    let picked: Vec<String> = library["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["folder"] == false && i["accessLevel"] == "internal")
        .take(3)
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(picked.len(), 3);
    let token = graph_token(&url);
    for item in &picked {
        let r = reqwest::blocking::Client::new()
            .post(format!("{url}/v1.0/drives/{drive}/items/{item}/invite"))
            .bearer_auth(&token)
            .json(
                &json!({"recipients": [{"email": "eve@fabrikam-partners.example"}],
                          "roles": ["read"], "requireSignIn": true, "sendInvitation": false}),
            )
            .send()
            .unwrap();
        assert!(r.status().is_success(), "invite: {}", r.status());
    }
    let external = |url: &str| -> usize {
        let drives = sim_drives(url);
        picked
            .iter()
            .filter(|i| sim_item(&drives, &drive, i).unwrap()["accessLevel"] == "external")
            .count()
    };
    assert_eq!(external(&url), 3, "shared outside");

    // Collection brings the sharing in, the policy raises an alert, governance removes it.
    for _ in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let out = common::run_collect(&config, &data);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if external(&url) == 0 {
            break;
        }
    }
    assert_eq!(external(&url), 0, "no longer shared outside");
    let log = lines(&run_ok(&[
        "governance-log",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    let by_policy: Vec<&Value> = log
        .iter()
        .filter(|e| e["requested_by"] == "policy:share-cleanup")
        .collect();
    assert_eq!(by_policy.len(), 3, "one action per file: {log:#?}");
    assert!(
        by_policy
            .iter()
            .all(|e| e["status"] == "succeeded" && e["alert_id"].is_i64())
    );
}

#[test]
fn a_file_policy_alerts_once_per_file_and_its_action_unshares_it() {
    let (_sim, url) = spawn_sim(&["--users", "40", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.toml"),
        "[[file_policy]]\nid = \"public-files\"\nname = \"Files anyone can open\"\n\
         severity = \"high\"\naccess = [\"public\"]\nactions = [\"remove-shared-links\"]\n",
    )
    .unwrap();
    let (config, data) = files_config(dir.path(), &url, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("quarantine_site = \"\"\n", "")
        + "\n[detection]\npolicy_files = [\"policies.toml\"]\n";
    std::fs::write(&config, text).unwrap();
    let public = |url: &str| -> BTreeSet<String> {
        sim_drives(url)
            .iter()
            .flat_map(|d| {
                let drive = d["id"].as_str().unwrap().to_owned();
                d["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| i["accessLevel"] == "public")
                    .map(move |i| format!("{drive}/{}", i["id"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let before = public(&url);
    assert!(!before.is_empty(), "the tenant has files anyone can open");

    let out = common::run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = lines(&run_ok(&[
        "alerts",
        "--policy",
        "public-files",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert!(
        alerts.len() >= before.len(),
        "one alert per file anyone could open ({} files, {} alerts)",
        before.len(),
        alerts.len()
    );
    assert!(
        public(&url).is_empty(),
        "no file is public any more: {:?}",
        public(&url)
    );
    let acted = lines(&run_ok(&[
        "governance-log",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert!(
        acted
            .iter()
            .all(|e| e["requested_by"] == "policy:public-files" && e["status"] == "succeeded")
    );
    assert_eq!(acted.len(), alerts.len(), "one action per alerted file");

    // Another round finds nothing new: a file is alerted on once.
    let out = common::run_collect(&config, &data);
    assert!(out.status.success());
    let again = lines(&run_ok(&[
        "alerts",
        "--policy",
        "public-files",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert_eq!(again.len(), alerts.len());
}
