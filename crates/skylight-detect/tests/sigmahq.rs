//! SigmaHQ's own Microsoft 365 rules (`tests/sigmahq`, copied verbatim under the Detection Rule
//! License): every one loads, evaluates on every record of every corpus and on a simulated day
//! without error, and their verdicts on Splunk's and Panther's records are the hand-worked ones.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{splunk_and_panther, stored_events};
use serde_json::Value;
use skylight_detect::sigma::SigmaRules;

fn rule_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigmahq"),
        &mut out,
    );
    out.sort();
    out
}

fn rules() -> SigmaRules {
    SigmaRules::load(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigmahq")]).unwrap()
}

/// Every audit record the other corpora hold (Elastic's, Wazuh's, Microsoft's examples), named.
fn other_corpora(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let sorted = |d: PathBuf| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    for f in sorted(dir.join("elastic-integrations")) {
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        if !n.starts_with("test-") || !n.ends_with(".json") || n.ends_with("-expected.json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for (i, e) in doc["events"].as_array().unwrap().iter().enumerate() {
            let r = match e.pointer("/event/original").and_then(Value::as_str) {
                Some(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                None => e["o365audit"].clone(),
            };
            out.push((format!("elastic/{n}/{i}"), r));
        }
    }
    for f in sorted(dir.join("elastic-beats")) {
        if f.extension().is_none_or(|x| x != "log") {
            continue;
        }
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            out.push((
                format!("beats/{n}/{i}"),
                serde_json::from_str(line).unwrap_or(Value::Null),
            ));
        }
    }
    for line in std::fs::read_to_string(dir.join("wazuh/cases.jsonl"))
        .unwrap()
        .lines()
    {
        let case: Value = serde_json::from_str(line).unwrap();
        out.push((format!("wazuh/{}", case["name"]), case["record"].clone()));
    }
    for f in sorted(dir.join("microsoft-docs/examples")) {
        if f.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        match doc {
            Value::Array(all) => {
                for (i, r) in all.into_iter().enumerate() {
                    out.push((format!("docs/{n}/{i}"), r));
                }
            }
            r => out.push((format!("docs/{n}"), r)),
        }
    }
    // Audit records only (Wazuh's module event and unparsable lines are not), each its own Id.
    out.retain(|(_, r)| r.get("RecordType").is_some());
    for (i, (_, r)) in out.iter_mut().enumerate() {
        r["Id"] = serde_json::json!(format!("other-{i}"));
    }
    out
}

#[test]
fn every_sigmahq_rule_loads() {
    let files = rule_files();
    let rules = rules();
    assert_eq!(rules.skipped, 0, "every rule is for product m365");
    assert_eq!(rules.rules().count(), files.len(), "one rule per file");
}

#[test]
fn verdicts_on_every_corpus_are_the_hand_worked_ones() {
    let Some(dir) = common::corpora("") else {
        return;
    };
    let rules = rules();
    let mut records = splunk_and_panther(&dir);
    let others = other_corpora(&dir);
    assert!(others.len() > 50, "{} other records", others.len());
    records.extend(others);
    let events = stored_events(&records);
    let mut matched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, e) in &events {
        for (rule, _) in rules.evaluate(e) {
            matched.entry(rule).or_default().insert(name.clone());
        }
    }
    let panther = |test: &str| format!("panther/Microsoft365.Exchange.External.Forwarding/{test}");
    let set_mailbox = [
        "External Organization Forwarding",
        "Internal Organization Forwarding",
        "Invalid Identity Format",
        "Missing Organization Name",
        "Subdomain Forwarding (Internal)",
        "Similar Domain Forwarding (External)",
        "Non-Com TLD Organization",
    ];
    // Worked out by hand from each rule's detection and each record (see the notes).
    let expected: BTreeMap<&str, BTreeSet<String>> = [
        // Operation contains "Disable Strong Authentication.": Splunk's one such record.
        (
            "sigma:60de9b57-dc4d-48b9-a6a0-b39e0469f876",
            BTreeSet::from(["splunk/o365_disable_strong_authentication_".to_owned()]),
        ),
        // BEC indicators, `1 of selection_*`: every Set-Mailbox carrying ForwardingSmtpAddress
        // (Panther's seven; Splunk's Set-Mailbox sets only ForwardingAddress), the two
        // New-InboxRule records with ForwardTo (one also DeleteMessage=True), and the two
        // Add-MailboxPermission records granting FullAccess (Splunk, Wazuh). Panther's
        // "Internal Forwarding with Suspicious Pattern" moves mail to "MYFolder": no listed
        // folder, keyword, deletion or redirect.
        (
            "sigma:4ca118f2-3c1d-4e8e-97c8-4d798dff6dcc",
            set_mailbox
                .iter()
                .map(|t| panther(t))
                .chain([
                    panther("Suspicious Forwarding Pattern"),
                    panther("Multiple Forwarding Addresses"),
                    "splunk/o365_add_mailboxpermission".to_owned(),
                    "wazuh/\"Office 365 FullAccessRight Exchange\"".to_owned(),
                ])
                .collect(),
        ),
        // New-/Set-InboxRule with forwarding (ForwardTo) or suppression (DeleteMessage,
        // MarkAsRead, MoveToFolder): Panther's three New-InboxRule records.
        (
            "sigma:756232a0-5b3d-4665-86a1-12187c1bd427",
            BTreeSet::from([
                panther("Suspicious Forwarding Pattern"),
                panther("Multiple Forwarding Addresses"),
                panther("Internal Forwarding with Suspicious Pattern"),
            ]),
        ),
        // New-/Set-InboxRule with ForwardTo/RedirectTo/DeleteMessage, not to an internal domain
        // (the `%internal_domains%` placeholder is undefined, so nothing is filtered, as the
        // rule's notes say): the two that forward.
        (
            "sigma:7dbc984c-fc0d-4b24-828f-d9a530cd2d81",
            BTreeSet::from([
                panther("Suspicious Forwarding Pattern"),
                panther("Multiple Forwarding Addresses"),
            ]),
        ),
        // New-/Set-InboxRule whose Parameters hold an entry *named* ForwardTo (or another
        // forwarding parameter): the same two.
        (
            "sigma:332bfab9-170c-40ef-9b11-c8df8d402421",
            BTreeSet::from([
                panther("Suspicious Forwarding Pattern"),
                panther("Multiple Forwarding Addresses"),
            ]),
        ),
    ]
    .into_iter()
    .collect();
    let matched: BTreeMap<&str, BTreeSet<String>> = matched
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(matched, expected);
    // None of the corpora's alert records (Elastic's "Elevation of Exchange admin privilege",
    // "Phony Malware Alert"), sign-ins (no Intune Company Portal app id), Threat Intelligence or
    // domain operations is one the other rules look for; `defender_alert_names_are_mapped` proves
    // those rules can match.
}

/// A Microsoft 365 alert record (RecordType 40) as Defender for Cloud Apps raises it.
fn alert_record(id: &str, name: &str, workload: &str) -> Value {
    serde_json::json!({
        "Id": id, "CreationTime": "2026-11-10T08:00:00", "RecordType": 40,
        "Operation": "AlertTriggered", "Workload": workload, "UserId": "SecurityComplianceAlerts",
        "UserType": 4, "Name": name, "Severity": "Medium", "Source": "Cloud App Security",
        "ResultStatus": "Succeeded", "Category": "ThreatManagement"
    })
}

#[test]
fn defender_alert_names_and_exchange_cmdlets_are_mapped() {
    // Each rule written against Defender for Cloud Apps' eventSource/eventName/status matches
    // the record Microsoft 365 writes for its event, and only that rule does.
    let names = [
        (
            "Activity performed by terminated user",
            "2e669ed8-742e-4fe5-b3c4-5a59b486c2ee",
        ),
        (
            "Activity from anonymous IP addresses",
            "d8b0a4fe-07a8-41be-bd39-b14afa025d95",
        ),
        (
            "Activity from infrequent country",
            "0f2468a2-5055-4212-a368-7321198ee706",
        ),
        (
            "Data exfiltration to unsanctioned apps",
            "2b669496-d215-47d8-bd9a-f4a45bf07cda",
        ),
        (
            "Impossible travel activity",
            "d7eab125-5f94-43df-8710-795b80fa1189",
        ),
        (
            "Log on from a risky IP address",
            "c191e2fa-f9d6-4ccf-82af-4f2aba08359f",
        ),
        (
            "Potential ransomware activity",
            "bd132164-884a-48f1-aa2d-c6d646b04c69",
        ),
        (
            "eDiscovery search started or exported",
            "18b88d08-d73e-4f21-bc25-4b9892a4fdd0",
        ),
        (
            "Suspicious inbox forwarding",
            "6c220477-0b5b-4b25-bb90-66183b4089e8",
        ),
        (
            "Suspicious OAuth app file download activities",
            "ee111937-1fe7-40f0-962a-0eb44d57d174",
        ),
        (
            "Unusual volume of file deletion",
            "78a34b67-3c39-4886-8fb4-61c46dc18ecd",
        ),
        (
            "User restricted from sending email",
            "ff246f56-7f24-402a-baca-b86540e3925c",
        ),
        (
            "Activity from suspicious IP addresses",
            "a3501e8e-af9e-43c6-8cd6-9360bdaae498",
        ),
    ];
    let mut records: Vec<(String, Value)> = Vec::new();
    for (i, (name, _)) in names.iter().enumerate() {
        records.push((
            format!("alert/{name}"),
            alert_record(&format!("a{i}"), name, "SecurityComplianceCenter"),
        ));
        // The same name from another workload is not Defender's alert.
        records.push((
            format!("other/{name}"),
            alert_record(&format!("o{i}"), name, "Exchange"),
        ));
    }
    let cmdlet = |id: &str, op: &str, ok: bool| {
        serde_json::json!({
            "Id": id, "CreationTime": "2026-11-10T08:00:00", "RecordType": 1, "Operation": op,
            "Workload": "Exchange", "UserId": "admin@contoso.com", "UserType": 2,
            "ResultStatus": if ok { "True" } else { "False" },
            "Parameters": [{"Name": "Identity", "Value": "Default"}]
        })
    };
    records.push((
        "cmdlet/Add-FederatedDomain".into(),
        cmdlet("c1", "Add-FederatedDomain", true),
    ));
    records.push((
        "cmdlet/Disable-AntiPhishRule".into(),
        cmdlet("c2", "Disable-AntiPhishRule", true),
    ));
    // A failed attempt changes nothing: both anti-phishing rules leave it out.
    records.push((
        "cmdlet/failed".into(),
        cmdlet("c3", "Disable-AntiPhishRule", false),
    ));
    let events = stored_events(&records);
    let rules = rules();
    let mut matched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, e) in &events {
        for (rule, _) in rules.evaluate(e) {
            matched.entry(name.clone()).or_default().insert(rule);
        }
    }
    let mut expected: BTreeMap<String, BTreeSet<String>> = names
        .iter()
        .map(|(name, id)| {
            (
                format!("alert/{name}"),
                BTreeSet::from([format!("sigma:{id}")]),
            )
        })
        .collect();
    expected.insert(
        "cmdlet/Add-FederatedDomain".into(),
        // Also "New Federated Domain Added" (audit): Operation contains "domain" and "add".
        BTreeSet::from([
            "sigma:42127bdd-9133-474f-a6f1-97b6c08a4339".to_owned(),
            "sigma:58f88172-a73d-442b-94c9-95eaed3cbb36".to_owned(),
        ]),
    );
    expected.insert(
        "cmdlet/Disable-AntiPhishRule".into(),
        // Two SigmaHQ files share this id (the rule and its broader successor).
        BTreeSet::from(["sigma:5063cb00-5d44-4d6d-ae79-aed940901a61".to_owned()]),
    );
    assert_eq!(matched, expected);
}

#[test]
fn a_rule_that_is_not_valid_yaml_is_refused_with_its_file_and_line() {
    // SigmaHQ's microsoft365_suspicious_email_delivered.yml, as stored, indents its
    // description's first line deeper than the rest: not YAML. Loading says which file and where.
    let bad = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigmahq_invalid");
    let err = SigmaRules::load(&[bad]).unwrap_err().to_string();
    assert!(
        err.contains("microsoft365_suspicious_email_delivered.yml"),
        "{err}"
    );
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn every_rule_evaluates_on_a_simulated_day_without_error() {
    let mut records: Vec<(String, Value)> = common::simulated_day()
        .into_iter()
        .map(|r| (String::new(), r))
        .collect();
    for (i, (name, r)) in records.iter_mut().enumerate() {
        *name = format!("sim-{i}");
        if r.get("Id").is_none() {
            r["Id"] = serde_json::json!(name.clone());
        }
    }
    let events = stored_events(&records);
    let rules = rules();
    let mut hits: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in &events {
        for (rule, _) in rules.evaluate(e) {
            *hits.entry(rule).or_default() += 1;
        }
    }
    assert!(events.len() > 1_000, "{}", events.len());
    // Two rules checked against the records themselves: inbox rules that forward or hide mail,
    // and Defender's impossible-travel alerts.
    let (mut inbox, mut travel) = (0, 0);
    for (_, r) in &records {
        let op = r["Operation"].as_str().unwrap_or("");
        let params = r["Parameters"].to_string().to_ascii_lowercase();
        if (op == "New-InboxRule" || op == "Set-InboxRule")
            && [
                "forwardto",
                "forwardasattachmentto",
                "redirectto",
                "deletemessage",
                "markasread",
                "movetofolder",
            ]
            .iter()
            .any(|w| params.contains(w))
        {
            inbox += 1;
        }
        // Alert records: RecordType 40, or 98 for Defender for Cloud Apps' own.
        if (r["RecordType"] == 40 || r["RecordType"] == 98)
            && r["Workload"] == "SecurityComplianceCenter"
            && r["Name"] == "Impossible travel activity"
        {
            travel += 1;
        }
    }
    let hit = |id: &str| hits.get(&format!("sigma:{id}")).copied().unwrap_or(0);
    assert_eq!(
        hit("756232a0-5b3d-4665-86a1-12187c1bd427"),
        inbox,
        "{hits:?}"
    );
    assert_eq!(
        hit("d7eab125-5f94-43df-8710-795b80fa1189"),
        travel,
        "{hits:?}"
    );
    assert!(travel > 0, "the simulated day has a Defender alert");
}
