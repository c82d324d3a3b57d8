//! The normaliser against audit records and verdicts written by others (`../shared/corpora`):
//! Microsoft's RecordType table, Wazuh's cases and Elastic's expected documents.
//! Skipped, loudly, when the corpora are absent, unless `SKYLIGHT_REQUIRE_CORPORA` is set (as
//! `scripts/test` does when they are there).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use skylight_model::{App, Outcome};
use skylight_normalize::{normalize, record_type};

fn corpora() -> Option<PathBuf> {
    let dir = std::env::var_os("SKYLIGHT_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SKYLIGHT_REQUIRE_CORPORA").is_none(),
        "the test corpora are missing: expected them at {} (set SKYLIGHT_CORPORA)",
        dir.display()
    );
    eprintln!("SKIPPED: the test corpora are not at {}", dir.display());
    None
}

#[test]
fn every_documented_record_type_has_its_name_and_an_app() {
    let Some(dir) = corpora() else { return };
    let table = std::fs::read_to_string(dir.join("microsoft-docs/record-types.tsv")).unwrap();
    let mut rows = 0;
    for line in table.lines().skip(1) {
        let mut cols = line.split('\t');
        let value: i64 = cols.next().unwrap().parse().unwrap();
        let name = cols.next().unwrap();
        let (ours, app) = record_type(value).unwrap_or_else(|| panic!("{value} {name} missing"));
        assert_eq!(ours, name, "RecordType {value}");
        assert_ne!(app, App::Unknown, "RecordType {value} {name} has no app");
        rows += 1;
    }
    assert_eq!(rows, 257);
    assert_eq!(
        skylight_normalize::RECORD_TYPES.len(),
        257,
        "nothing invented"
    );
}

/// RecordTypes in Wazuh's cases that Microsoft's table does not list: 0 is Wazuh's own
/// placeholder (Workload "Generic"); 77 and 81 are no longer in Microsoft's table.
const NOT_IN_MICROSOFTS_TABLE: [i64; 3] = [0, 77, 81];

#[test]
fn every_wazuh_case_normalises_to_a_named_type_and_app() {
    let Some(dir) = corpora() else { return };
    let cases = std::fs::read_to_string(dir.join("wazuh/cases.jsonl")).unwrap();
    let mut types = std::collections::BTreeSet::new();
    let mut records = 0;
    for line in cases.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let record = &case["record"];
        if record.get("RecordType").is_none() {
            continue; // the module-internal event: not an audit record (corpora README)
        }
        let a = normalize(record.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        let rt = a
            .record_type
            .unwrap_or_else(|| panic!("{}: no RecordType", case["name"]));
        types.insert(rt);
        records += 1;
        if NOT_IN_MICROSOFTS_TABLE.contains(&rt) {
            assert_eq!(a.record_type_name, "Unknown", "{}", case["name"]);
            continue;
        }
        assert_ne!(a.record_type_name, "Unknown", "{}", case["name"]);
        assert_ne!(a.app, App::Unknown, "{}", case["name"]);
    }
    assert_eq!(records, 127);
    assert_eq!(types.len(), 100, "{types:?}");
}

/// One Elastic input record and its expected document's semantic fields.
struct Pair {
    file: String,
    index: usize,
    raw: String,
    expected: Value,
}

/// A field of an expected document, whether nested (`{"user":{"id":…}}`) or flat (`"user.id"`).
fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc.get(path)
        .or_else(|| path.split('.').try_fold(doc, |v, k| v.get(k)))
}

fn as_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn pairs(dir: &Path) -> Vec<Pair> {
    let mut out = Vec::new();
    let integrations = dir.join("elastic-integrations");
    let mut files: Vec<_> = std::fs::read_dir(&integrations)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for input in files.iter().filter(|p| {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        n.starts_with("test-") && n.ends_with(".json") && !n.ends_with("-expected.json")
    }) {
        let events: Value = serde_json::from_str(&std::fs::read_to_string(input).unwrap()).unwrap();
        let expected_path = PathBuf::from(format!("{}-expected.json", input.display()));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let file = input.file_name().unwrap().to_string_lossy().into_owned();
        for (i, (e, x)) in events["events"]
            .as_array()
            .unwrap()
            .iter()
            .zip(expected["expected"].as_array().unwrap())
            .enumerate()
        {
            let raw = match e.pointer("/event/original").and_then(Value::as_str) {
                Some(s) => s.to_owned(),
                None => e["o365audit"].to_string(),
            };
            out.push(Pair {
                file: file.clone(),
                index: i,
                raw,
                expected: x.clone(),
            });
        }
    }
    let beats = dir.join("elastic-beats");
    let mut logs: Vec<_> = std::fs::read_dir(&beats)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    for log in logs
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
    {
        let expected_path = PathBuf::from(format!("{}-expected.json", log.display()));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        for (i, (line, x)) in std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .zip(expected.as_array().unwrap())
            .enumerate()
        {
            out.push(Pair {
                file: file.clone(),
                index: i,
                raw: line.to_owned(),
                expected: x.clone(),
            });
        }
    }
    out
}

/// Where Skylight and Elastic disagree on purpose: (file, record, field, why).
const JUSTIFIED: &[(&str, usize, &str, &str)] = &[
    // Microsoft renamed RecordType 22 from Yammer to Viva Engage in its table.
    (
        "test-bad-ips.json",
        0,
        "record_type_name",
        "22 is Viva Engage in Microsoft's table",
    ),
    (
        "test-bad-ips.json",
        1,
        "record_type_name",
        "22 is Viva Engage in Microsoft's table",
    ),
    (
        "test-bad-ips.json",
        2,
        "record_type_name",
        "22 is Viva Engage in Microsoft's table",
    ),
    (
        "test-yammer-events.json",
        0,
        "record_type_name",
        "22 is Viva Engage in Microsoft's table",
    ),
    (
        "test-yammer-events.json",
        1,
        "record_type_name",
        "22 is Viva Engage in Microsoft's table",
    ),
    // ClientIPAddress is not an address; the record's ClientIP is, and we keep it.
    (
        "test-bad-ips.json",
        0,
        "ip",
        "falls back to the valid ClientIP",
    ),
    (
        "test-bad-ips.json",
        0,
        "port",
        "falls back to the valid ClientIP",
    ),
    (
        "test-bad-ips.json",
        2,
        "ip",
        "falls back to the valid ClientIP",
    ),
    (
        "test-bad-ips.json",
        2,
        "port",
        "falls back to the valid ClientIP",
    ),
    // Not audit records we can store: no Id, or not JSON (a quote missing inside a stringified
    // field, PowerShell parameter strings with bare quotes). The collector and the importer keep
    // them in the quarantine with this reason; Elastic repairs some of them.
    ("test-bad-ips.json", 3, "refused", "no Id"),
    (
        "test-platform-attribute-events.json",
        0,
        "refused",
        "no Id (a fragment)",
    ),
    (
        "test-platform-attribute-events.json",
        1,
        "refused",
        "no Id (a fragment)",
    ),
    (
        "test-data-duplicated-querytime-events.json",
        0,
        "refused",
        "not JSON",
    ),
    ("test-parameter-string.json", 0, "refused", "not JSON"),
    ("test-parameter-string.json", 1, "refused", "not JSON"),
    // A bracketed address without a port is still an address.
    (
        "test-ip-formats-events.json",
        7,
        "ip",
        "[2001:db8::abcd] is an address",
    ),
    (
        "test-ip-formats-events.json",
        8,
        "ip",
        "[10.11.12.13] is an address",
    ),
    ("ip-formats.log", 7, "ip", "[2001:db8::abcd] is an address"),
    ("ip-formats.log", 8, "ip", "[10.11.12.13] is an address"),
    // IPv4-mapped IPv6 is reported as the IPv4 address (as Elastic's newer pipeline does).
    (
        "ip-formats.log",
        3,
        "ip",
        "::ffff:10.11.12.13 is 10.11.12.13",
    ),
    (
        "ip-formats.log",
        4,
        "ip",
        "::ffff:10.11.12.13 is 10.11.12.13",
    ),
    // A host name is not a client IP: the whole text is kept (ip_text), no port is invented.
    (
        "ip-formats.log",
        10,
        "port",
        "localhost:12345 is not an address",
    ),
    (
        "ip-formats.log",
        12,
        "port",
        "[localhost]:12345 is not an address",
    ),
    (
        "ip-formats.log",
        14,
        "port",
        "cool.client.local:12345 is not an address",
    ),
    // Elastic's event.code is the number when the type is undocumented; ours says Unknown.
    (
        "ip-formats.log",
        0,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        1,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        2,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        3,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        4,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        5,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        6,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        7,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        8,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        9,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        10,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        11,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        12,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        13,
        "record_type_name",
        "-1 is undocumented",
    ),
    (
        "ip-formats.log",
        14,
        "record_type_name",
        "-1 is undocumented",
    ),
    // Filebeat renamed Teams operations to ECS verbs; we keep Microsoft's operation (and
    // categorise it: group management).
    ("25-ms-teams.log", 0, "action", "Microsoft's TeamCreated"),
    ("25-ms-teams.log", 1, "action", "Microsoft's MemberAdded"),
    ("25-ms-teams.log", 2, "action", "Microsoft's MemberAdded"),
    // An alert's actor is the alerting system (UserId); the user it is about is an object.
    (
        "40-sec-comp-alerts.log",
        0,
        "user",
        "actor is SecurityComplianceAlerts; the user is an object",
    ),
];

#[test]
fn semantic_fields_agree_with_elastics_expected_documents() {
    let Some(dir) = corpora() else { return };
    let pairs = pairs(&dir);
    assert_eq!(pairs.len(), 33 + 23, "every Elastic record is compared");
    let mut disagreements = Vec::new();
    for p in &pairs {
        let a = match normalize(p.raw.as_bytes()) {
            Ok(a) => a,
            Err(e) => {
                disagreements.push(format!("{} #{} refused: {e}", p.file, p.index));
                continue;
            }
        };
        let x = &p.expected;
        let outcome = match a.outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        };
        let rt_number = as_text(get(x, "o365.audit.RecordType"));
        let checks: [(&str, Option<String>, Option<String>); 7] = [
            ("user", a.actor.name.clone(), as_text(get(x, "user.id"))),
            (
                "ip",
                a.ip.map(|i| i.to_string()),
                as_text(get(x, "source.ip")),
            ),
            (
                "port",
                a.port.map(|p| p.to_string()),
                as_text(get(x, "source.port")),
            ),
            (
                "action",
                Some(a.operation.clone()).filter(|o| !o.is_empty()),
                as_text(get(x, "event.action")),
            ),
            (
                "outcome",
                Some(outcome.to_owned()),
                as_text(get(x, "event.outcome")),
            ),
            (
                "record_type",
                a.record_type.map(|r| r.to_string()),
                rt_number,
            ),
            (
                "workload",
                a.workload.clone(),
                as_text(get(x, "event.provider")),
            ),
        ];
        for (field, ours, theirs) in checks {
            if ours != theirs {
                disagreements.push(format!(
                    "{} #{} {field}: ours {ours:?}, elastic {theirs:?}",
                    p.file, p.index
                ));
            }
        }
        // Elastic's event.code is the RecordType's name.
        if let (Some(code), Some(_)) = (as_text(get(x, "event.code")), a.record_type)
            && code != a.record_type_name
        {
            disagreements.push(format!(
                "{} #{} record_type_name: ours {:?}, elastic {code:?}",
                p.file, p.index, a.record_type_name
            ));
        }
    }
    let unjustified: Vec<&String> = disagreements
        .iter()
        .filter(|d| {
            !JUSTIFIED
                .iter()
                .any(|(f, i, field, _)| d.starts_with(&format!("{f} #{i} {field}:")))
        })
        .collect();
    let stale: Vec<_> = JUSTIFIED
        .iter()
        .filter(|(f, i, field, _)| {
            !disagreements
                .iter()
                .any(|d| d.starts_with(&format!("{f} #{i} {field}:")))
        })
        .collect();
    assert!(
        unjustified.is_empty(),
        "{} disagreements to fix or justify:\n{}",
        unjustified.len(),
        unjustified
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stale.is_empty(),
        "justified disagreements that no longer happen: {stale:?}"
    );
}

#[test]
fn an_alerts_user_is_an_object_of_the_alert() {
    let Some(dir) = corpora() else { return };
    let line = std::fs::read_to_string(dir.join("elastic-beats/40-sec-comp-alerts.log")).unwrap();
    let a = normalize(line.lines().next().unwrap().as_bytes()).unwrap();
    assert_eq!(a.actor.kind, skylight_model::ActorKind::System);
    assert!(
        a.objects
            .iter()
            .any(|o| o.kind == skylight_model::ObjectKind::User
                && o.id.as_deref() == Some("asr@testsiem.onmicrosoft.com")),
        "{:?}",
        a.objects
    );
}
