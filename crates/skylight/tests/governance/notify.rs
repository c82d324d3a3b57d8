//! Notifications: `notify-user` and `notify-owner` send a mail through Graph from the tenant's
//! notification mailbox, and are refused, saying what to configure, without one.

use serde_json::Value;

use crate::common::{run_ok, spawn_sim, write_config};
use crate::{get, skylight};

/// The simulator's enabled members' UPNs.
fn members(url: &str) -> Vec<String> {
    get(&format!("{url}/_sim/graph?drives=false"))["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["userType"] == "Member" && u["accountEnabled"] == true)
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
        .collect()
}

fn sent(url: &str) -> Vec<Value> {
    get(&format!("{url}/_sim/graph?drives=false"))["sentMail"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn notifications_are_mailed_from_the_configured_mailbox_or_refused_without_one() {
    let (_sim, url) = spawn_sim(&["--users", "30", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let people = members(&url);
    let (sender, victim) = (&people[0], &people[1]);

    // Without a notification mailbox: refused, saying what to set, and nothing is sent.
    let out = skylight(&[
        "govern",
        "notify-user",
        victim,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notify_sender") && err.contains("Mail.Send"),
        "{err}"
    );
    assert!(sent(&url).is_empty());

    let text = std::fs::read_to_string(&config).unwrap().replace(
        "components = [\"activities\"]",
        &format!("components = [\"activities\"]\nnotify_sender = \"{sender}\""),
    );
    assert!(text.contains("notify_sender"), "the tenant block was found");
    std::fs::write(&config, text).unwrap();
    let out = run_ok(&[
        "govern",
        "notify-user",
        victim,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(out.contains("succeeded"), "{out}");
    let mails = sent(&url);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["from"], sender.as_str());
    assert_eq!(mails[0]["to"], serde_json::json!([victim]));
    assert_eq!(mails[0]["subject"], "Security notice about your account");

    // A file's owner: the OneDrive's owner is mailed, naming the file.
    let graph = get(&format!("{url}/_sim/graph"));
    let (target, owner, name) = graph["drives"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["driveType"] == "business")
        .find_map(|d| {
            let item = d["items"]
                .as_array()?
                .iter()
                .find(|i| i["folder"] == false)?;
            Some((
                format!("{}/{}", d["id"].as_str()?, item["id"].as_str()?),
                d["owner"]["email"].as_str()?.to_owned(),
                item["name"].as_str()?.to_owned(),
            ))
        })
        .expect("a OneDrive file");
    let out = run_ok(&[
        "govern",
        "notify-owner",
        &target,
        "--config",
        &config,
        "--data-dir",
        &data,
    ]);
    assert!(out.contains("succeeded"), "{out}");
    let mails = sent(&url);
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1]["to"], serde_json::json!([owner]));
    assert!(
        mails[1]["subject"].as_str().unwrap().contains(&name),
        "{mails:?}"
    );

    // The governance log shows the Graph call and Graph's answer.
    let log = run_ok(&[
        "governance-log",
        "--format",
        "json",
        "--limit",
        "0",
        "--data-dir",
        &data,
    ]);
    assert!(log.contains("sendMail") && log.contains("202"), "{log}");
}
