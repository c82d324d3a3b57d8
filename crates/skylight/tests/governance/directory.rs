//! Users, groups, roles and apps: the sync equals the tenant, and user and app actions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::{run_ok, spawn_sim, write_config};
use crate::{get, lines, post, requests, skylight};

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

    // The activity log filters by a directory group, nested groups' members included.
    let out = crate::common::run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = get(&format!("{url}/_sim/graph?drives=false"));
    let nested = state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["transitiveMembers"].as_array().unwrap().len()
                > g["members"].as_array().unwrap().len()
        })
        .expect("a group with nested groups");
    let reached: BTreeSet<&str> = nested["transitiveMembers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let upns: BTreeSet<String> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| reached.contains(u["id"].as_str().unwrap()))
        .map(|u| {
            u["userPrincipalName"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
        })
        .collect();
    let ids = |filters: &[&str]| -> BTreeSet<String> {
        let mut args = vec![
            "activities",
            "--format",
            "json",
            "--limit",
            "0",
            "--data-dir",
            &data,
        ];
        args.extend_from_slice(filters);
        lines(&run_ok(&args))
            .into_iter()
            .filter(|a| {
                filters.len() == 1
                    || upns.contains(&a["user"].as_str().unwrap_or_default().to_ascii_lowercase())
            })
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let name = format!("group={}", nested["displayName"].as_str().unwrap());
    let want = ids(&[]);
    assert!(!want.is_empty(), "the group's members were active");
    assert_eq!(ids(&[&name]), want);
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

    run_ok(&["sync", "--config", &config, "--data-dir", &data]);
    // A user synced from on-premises AD: the admin is warned that directory sync reverts it.
    let synced = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["onPremisesSyncEnabled"] == true && u["roles"].as_array().unwrap().is_empty())
        .expect("a synced user");
    let warned = run_ok(&[
        "govern",
        "suspend-user",
        synced["userPrincipalName"].as_str().unwrap(),
        "--dry-run",
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(
        warned.contains("synced from on-premises Active Directory"),
        "{warned}"
    );

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

    // The inventory shows it at once, before the next sync.
    let disabled = lines(&run_ok(&[
        "users",
        "--disabled",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]));
    assert!(
        disabled.iter().any(|u| u["id"] == id.as_str()),
        "{disabled:?}"
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
    assert_eq!(
        statuses,
        vec!["succeeded", "succeeded", "dry_run"],
        "{log:#?}"
    );
    assert!(log[1]["attempts"].as_u64().unwrap() >= 1);

    // The tenant published `Update user.` for it; the collector brings it into the activity log
    // (listing windows end on a whole second, so a record of this very second waits for the
    // next poll, as it would in a deployment).
    let mut found = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let out = crate::common::run_collect(&config, &data);
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
