//! Black-box tests of `skylight import`: the binary on generated files and on the shared corpora,
//! checked through the store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skylight_model::ContentType;
use skylight_store::{SqliteStore, Store};

const BIN: &str = env!("CARGO_BIN_EXE_skylight");

fn import(data_dir: &Path, args: &[&Path], extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("import")
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .args(args)
        .env_remove("SKYLIGHT_DATA_DIR")
        .output()
        .unwrap()
}

/// A file's summary line: `(read, new, duplicates, problems)`.
fn summary(stdout: &str, file: &Path) -> (u64, u64, u64, u64) {
    let prefix = format!("{}: ", file.display());
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no summary line for {}:\n{stdout}", file.display()));
    let counts = line.rsplit_once(": ").unwrap().1;
    let n: Vec<u64> = counts
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(n.len(), 4, "{line}");
    (n[0], n[1], n[2], n[3])
}

fn record(id: &str, workload: &str, record_type: u32) -> String {
    format!(
        r#"{{"CreationTime":"2024-05-01T10:00:00","Id":"{id}","Operation":"Op","OrganizationId":"o","RecordType":{record_type},"UserId":"u@contoso.com","Workload":"{workload}"}}"#
    )
}

fn ids(store: &SqliteStore, tenant: &str, ct: Option<ContentType>) -> BTreeSet<String> {
    store.record_ids(tenant, ct).unwrap().into_iter().collect()
}

#[test]
fn import_help_is_documented() {
    let out = Command::new(BIN)
        .args(["import", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--data-dir", "--tenant", "FILE", "AuditData", "NDJSON"] {
        assert!(text.contains(flag), "import --help mentions {flag}: {text}");
    }
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("import"));
}

#[test]
fn three_formats_land_in_the_store_once_and_bad_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // NDJSON with one bad line among good ones (line 3), CRLF line ends.
    let ndjson = dir.path().join("audit.ndjson");
    std::fs::write(
        &ndjson,
        format!(
            "{}\r\n{}\r\n{{\"Id\": \"broken\", \r\n{}\r\n",
            record("n1", "AzureActiveDirectory", 15),
            record("n2", "Exchange", 2),
            record("n3", "SharePoint", 6),
        ),
    )
    .unwrap();
    // A Management API blob, pretty-printed, with a DLP record.
    let blob = dir.path().join("blob.json");
    std::fs::write(
        &blob,
        format!(
            "[\n  {},\n  {},\n  {}\n]\n",
            record("j1", "Exchange", 1),
            record("j2", "MicrosoftTeams", 25),
            record("j3", "Exchange", 13),
        ),
    )
    .unwrap();
    // A Purview CSV export, with a BOM, a quoted comma and a record that is also in the blob.
    let csv_field = |json: &str| format!("\"{}\"", json.replace('"', "\"\""));
    let csv = dir.path().join("purview.csv");
    std::fs::write(
        &csv,
        format!(
            "\u{FEFF}CreationDate,UserIds,Operations,AuditData\r\n\
             2024-05-01T10:00:00.0000000Z,\"doe, john\",Op,{}\r\n\
             2024-05-01T10:00:00.0000000Z,u,Op,{}\r\n",
            csv_field(&record("c1", "OneDrive", 6)),
            csv_field(&record("j1", "Exchange", 1)),
        ),
    )
    .unwrap();

    let out = import(&data, &[&ndjson, &blob, &csv], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{}:3: invalid JSON", ndjson.display())),
        "the bad line is named with its file and line: {stderr}"
    );
    assert_eq!(summary(&stdout, &ndjson), (3, 3, 0, 1));
    assert_eq!(summary(&stdout, &blob), (3, 3, 0, 0));
    assert_eq!(
        summary(&stdout, &csv),
        (2, 1, 1, 0),
        "j1 was already imported from the blob"
    );

    let store = SqliteStore::open(&data).unwrap();
    let all: BTreeSet<String> = ["n1", "n2", "n3", "j1", "j2", "j3", "c1"]
        .map(String::from)
        .into();
    assert_eq!(ids(&store, "imported", None), all);
    let per_ct = |ct| ids(&store, "imported", Some(ct));
    assert_eq!(
        per_ct(ContentType::AzureActiveDirectory),
        ["n1".to_string()].into()
    );
    assert_eq!(
        per_ct(ContentType::Exchange),
        ["n2", "j1"].map(String::from).into()
    );
    assert_eq!(
        per_ct(ContentType::SharePoint),
        ["n3", "c1"].map(String::from).into()
    );
    assert_eq!(per_ct(ContentType::General), ["j2".to_string()].into());
    assert_eq!(per_ct(ContentType::Dlp), ["j3".to_string()].into());
    assert_eq!(
        store.raw_record("imported", "n2").unwrap().unwrap(),
        record("n2", "Exchange", 2).into_bytes(),
        "the raw record is kept byte for byte"
    );
    assert_eq!(store.quarantined().unwrap(), 1);
    drop(store);

    // Importing the same files again changes nothing.
    let again = import(&data, &[&ndjson, &blob, &csv], &[]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert_eq!(summary(&stdout, &ndjson), (3, 0, 3, 1));
    assert_eq!(summary(&stdout, &blob), (3, 0, 3, 0));
    assert_eq!(summary(&stdout, &csv), (2, 0, 2, 0));
    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(ids(&store, "imported", None), all);
    assert_eq!(store.record_count(Some("imported")).unwrap(), 7);
}

#[test]
fn the_tenant_can_be_named_and_large_files_are_chunked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("big.ndjson");
    let n = 12_345;
    let text: String = (0..n)
        .map(|i| record(&format!("r{i}"), "Exchange", 2) + "\n")
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = import(&data, &[&file], &["--tenant", "contoso"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(summary(&stdout, &file), (n, n, 0, 0));
    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(ids(&store, "contoso", None).len(), 12_345);
    assert!(ids(&store, "imported", None).is_empty());
}

#[test]
fn an_unreadable_file_fails_the_command_but_not_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = dir.path().join("good.json");
    std::fs::write(&good, record("g1", "Exchange", 2)).unwrap();
    let missing = dir.path().join("missing.json");
    let odd = dir.path().join("odd.txt");
    std::fs::write(&odd, "this is not an audit export\n").unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let out = import(&data, &[&missing, &good, &odd, &empty], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&missing.display().to_string()) && stderr.contains("No such file"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&odd.display().to_string()) && stderr.contains("not a recognised"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 of 4 files could not be imported"),
        "{stderr}"
    );
    assert_eq!(summary(&stdout, &good), (1, 1, 0, 0));
    assert_eq!(summary(&stdout, &empty), (0, 0, 0, 0));
    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(ids(&store, "imported", None), ["g1".to_string()].into());
}

/// The shared corpora: `../shared/corpora` next to the repository, or `SKYLIGHT_CORPORA`.
/// They are third-party fixtures kept outside the repository (licences). `scripts/test` sets
/// `SKYLIGHT_REQUIRE_CORPORA=1` whenever they are present, so there a missing folder fails; a
/// checkout without them skips this one test, loudly.
fn corpora_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SKYLIGHT_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SKYLIGHT_REQUIRE_CORPORA").is_none(),
        "the test corpora are missing: expected them at {} (set SKYLIGHT_CORPORA to their folder)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the test corpora are not at {} (set SKYLIGHT_CORPORA)",
        dir.display()
    );
    None
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn nonblank_lines(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

/// How many records a corpora file holds, counted by the rule of its folder (corpora README), or
/// `None` for files that hold no audit records (licences, indexes, rules, ECS-only documents).
fn records_in(rel: &str, path: &Path) -> Option<u64> {
    let name = rel.rsplit('/').next().unwrap();
    let folder = rel.split('/').next().unwrap();
    let len = |v: &serde_json::Value| v.as_array().unwrap().len() as u64;
    match folder {
        "LICENSES" | "README.md" => None,
        _ if name.ends_with(".tsv") || name.ends_with(".md") || name.ends_with(".yml") => None,
        // Inputs: `{"events": [...]}`, one record per event (`event.original` or `o365audit`).
        "elastic-integrations" if name.ends_with("-expected.json") => {
            // ECS documents, each carrying the record in `event.original`.
            Some(len(&json(path)["expected"]))
        }
        "elastic-integrations" => Some(len(&json(path)["events"])),
        // `.log`: one record per line; the expected files are flat ECS documents without the
        // raw record.
        "elastic-beats" if name.ends_with(".log") => Some(nonblank_lines(path)),
        "elastic-beats" if name.ends_with("-expected.json") => None,
        "microsoft-docs" if name.ends_with(".json") => Some(1),
        "panther" if name.ends_with(".tests.json") => Some(len(&json(path))),
        "splunk" if name.ends_with(".json") => Some(1),
        "wazuh" if name.ends_with(".jsonl") => Some(nonblank_lines(path)),
        _ => panic!(
            "no counting rule for corpora file {rel}: add one to records_in() in {}",
            file!()
        ),
    }
}

/// Corpora files with problems by design (corpora README, "Known gotchas"), and how many.
fn known_problems(rel: &str) -> u64 {
    match rel {
        // The last input record has no Id (CreationTime, RecordType and one field only).
        "elastic-integrations/test-bad-ips.json" => 1,
        // Partial records that exercise one field: `{"Platform": …}`, no Id.
        "elastic-integrations/test-platform-attribute-events.json" => 2,
        "elastic-integrations/test-platform-attribute-events.json-expected.json" => 2,
        // `event.original` rendered as a Java map (`{Key=Value, …}`).
        "elastic-integrations/test-bad-ips.json-expected.json" => 4,
        // Deliberately malformed `event.original`; ECS documents have no parsed copy to fall
        // back on (the inputs do, and import cleanly).
        "elastic-integrations/test-data-duplicated-querytime-events.json-expected.json" => 1,
        "elastic-integrations/test-parameter-string.json-expected.json" => 2,
        // `Office 365 module internal event`: a Wazuh collector event, not an audit record.
        "wazuh/cases.jsonl" => 1,
        _ => 0,
    }
}

#[test]
fn every_corpora_record_is_imported_or_reported() {
    let Some(corpora) = corpora_dir() else { return };
    let mut all = Vec::new();
    files_under(&corpora, &mut all);
    all.sort();
    let mut expected: BTreeMap<PathBuf, (String, u64)> = BTreeMap::new();
    for path in &all {
        let rel = path
            .strip_prefix(&corpora)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if let Some(n) = records_in(&rel, path) {
            expected.insert(path.clone(), (rel, n));
        }
    }
    for folder in [
        "elastic-integrations",
        "elastic-beats",
        "microsoft-docs",
        "panther",
        "splunk",
        "wazuh",
    ] {
        assert!(
            expected.values().any(|(rel, _)| rel.starts_with(folder)),
            "no record files in {}/{folder}",
            corpora.display()
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files: Vec<&Path> = expected.keys().map(PathBuf::as_path).collect();
    let out = import(&data, &files, &["--tenant", "corpora"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let mut failures = Vec::new();
    let (mut new_total, mut problems_total) = (0, 0);
    for (path, (rel, n)) in &expected {
        let (read, new, duplicates, problems) = summary(&stdout, path);
        new_total += new;
        problems_total += problems;
        if read + problems != *n {
            failures.push(format!(
                "{rel}: {n} records in the file, but {read} imported + {problems} problems"
            ));
        }
        if new + duplicates != read {
            failures.push(format!(
                "{rel}: {read} read, but {new} new + {duplicates} duplicates"
            ));
        }
        if problems != known_problems(rel) {
            failures.push(format!(
                "{rel}: {problems} problems, {} expected",
                known_problems(rel)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{stdout}\n{stderr}",
        failures.join("\n")
    );

    // Wazuh's 127 records all carry the Id "sanitized": one stored, the rest duplicates.
    let wazuh = expected
        .iter()
        .find(|(_, (rel, _))| rel == "wazuh/cases.jsonl")
        .map(|(p, _)| p)
        .unwrap();
    assert_eq!(summary(&stdout, wazuh).0, 127);

    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(store.record_count(Some("corpora")).unwrap(), new_total);
    assert_eq!(store.quarantined().unwrap(), problems_total);
}
