//! The files component: grading, file actions and their constraints, and policies that act on
//! files.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::{run_ok, spawn_sim, write_config};
use crate::{get, lines, skylight};

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
        let out = crate::common::run_collect(&config, &data);
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

    let out = crate::common::run_collect(&config, &data);
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
    let out = crate::common::run_collect(&config, &data);
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
