//! Black-box tests of the `skylight` binary.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

mod common;

use common::{BIN, spawn_sim_with as spawn_sim};

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["sim", "--help"],
        vec!["demo", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create", "--help"],
        vec!["admin", "token", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let out = Command::new(BIN).args(["sim", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--users",
        "--days",
        "--seed",
        "--faults",
        "--scenarios",
        "--live",
        "--listen",
        "--tls",
        "--ca-out",
        "--public-url",
        "--cloud",
    ] {
        assert!(text.contains(flag), "sim --help documents {flag}");
    }
    let out = Command::new(BIN)
        .args(["admin", "create", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--username", "--role", "--password-file", "--data-dir"] {
        assert!(text.contains(flag), "admin create --help documents {flag}");
    }
    assert!(text.contains("read-only"), "{text}");
}

#[test]
fn unknown_fault_names_are_refused_with_the_valid_ones() {
    let out = Command::new(BIN)
        .args(["sim", "--faults", "throttle,meltdown"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("meltdown") && err.contains("duplicates"),
        "{err}"
    );
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let (_sim, url) = spawn_sim(&["--users", "20", "--days", "1"]);
    let addr = url.trim_start_matches("http://");
    let out = Command::new(BIN)
        .args(["sim", "--users", "20", "--days", "1", "--listen", addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen"), "says what to do next: {err}");
}

#[test]
fn curl_walks_the_tenant_as_microsoft_documents_and_gets_the_whole_truth() {
    let (_sim, url) = spawn_sim(&["--users", "120", "--days", "7", "--page-size", "40"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/curl-walk.sh");
    let out = Command::new("bash").arg(script).arg(&url).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walk failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|l| l.split("records=").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .expect("a total line");
    let truth: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let expected: u64 = truth["content_types"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["records"].as_u64().unwrap())
        .sum();
    assert_eq!(total, expected, "{stdout}");
    let requests = reqwest::blocking::get(format!("{url}/_sim/requests"))
        .unwrap()
        .text()
        .unwrap();
    assert!(requests.lines().any(|l| l.contains("/oauth2/v2.0/token")));
}

#[test]
fn a_reader_that_goes_away_ends_a_listing_quietly() {
    use std::process::Stdio;
    // `skylight policies list | head -0`: the reader is gone before the first line is written.
    let mut child = Command::new(BIN)
        .args(["policies", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn sim_tls_writes_its_ca_and_answers_by_microsofts_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let ca_arg = ca_path.display().to_string();
    let (_sim, url) = spawn_sim(&["--tls", "--ca-out", &ca_arg, "--users", "20", "--days", "1"]);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(url, format!("https://manage.office.com:{port}"));
    let ca = std::fs::read(&ca_path).expect("the CA is written to --ca-out");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("manage.office.com", addr)
        .resolve("graph.microsoft.com", addr)
        .build()
        .unwrap();
    let t: serde_json::Value = http
        .get(format!("{url}/_sim/tenant"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        t["graph_url"],
        format!("https://graph.microsoft.com:{port}")
    );
    // Graph's name does not serve the Management API.
    let r = http
        .get(format!(
            "https://graph.microsoft.com:{port}/api/v1.0/{}/activity/feed/subscriptions/list",
            t["tenant_id"].as_str().unwrap()
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let report: serde_json::Value = http
        .get(format!("{url}/_sim/report"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        report["published"]["blobs"].as_u64().unwrap() > 0,
        "{report}"
    );
}
