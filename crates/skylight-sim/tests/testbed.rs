//! The simulator as a test bed for clients outside Skylight: HTTPS by Microsoft's host names,
//! routing by Host, HTTP/2, dropped handshakes, and the drain report checked against what the
//! clients themselves saw, the ground truth and the request log.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{CONTENT_TYPES, boot, small};
use serde_json::Value;
use skylight_sim::{RunningSim, ServeOptions, SimConfig};

/// A simulator over HTTPS, an HTTP client trusting its CA with Microsoft's names pinned to it,
/// and the CA file (kept alive by the returned directory).
async fn boot_tls(cfg: SimConfig) -> (RunningSim, reqwest::Client, tempfile::TempDir) {
    let opts = ServeOptions {
        tls: true,
        ..ServeOptions::default()
    };
    let running = skylight_sim::start_with(cfg, "127.0.0.1:0", opts)
        .await
        .expect("simulator starts over tls");
    let ca = running.tls.as_ref().expect("tls material").ca_pem.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
    for host in [
        "login.microsoftonline.com",
        "manage.office.com",
        "graph.microsoft.com",
    ] {
        b = b.resolve(host, running.addr);
    }
    (running, b.build().unwrap(), dir)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

async fn request_log(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let text = http
        .get(format!("{base}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn client<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == id)
        .unwrap_or_else(|| panic!("no client {id} in the report: {report}"))
}

/// The truth's record Ids and blob count over every content type.
fn truth_totals(truth: &Value) -> (HashSet<String>, u64) {
    let mut ids = HashSet::new();
    let mut blobs = 0;
    for ct in CONTENT_TYPES {
        let c = &truth["content_types"][ct];
        blobs += c["blobs"].as_u64().unwrap();
        for id in c["record_ids"].as_array().unwrap() {
            ids.insert(id.as_str().unwrap().to_string());
        }
    }
    (ids, blobs)
}

/// Connections that go away before or in the middle of a TLS handshake.
async fn rude_connections(addr: SocketAddr) {
    use tokio::io::AsyncWriteExt;
    // Connect and leave.
    drop(tokio::net::TcpStream::connect(addr).await.unwrap());
    // Half a ClientHello, then leave.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .unwrap();
    drop(s);
    // Plain HTTP on the TLS port.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: manage.office.com\r\n\r\n")
        .await
        .unwrap();
    drop(s);
    // A connection that stays silent while the others are served.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(silent);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_collector_drains_every_blob_once_over_tls_by_microsofts_names() {
    let mut cfg = small(25, 2);
    cfg.page_size = 7; // several pages per window, so NextPageUri is followed
    let (running, http, dir) = boot_tls(cfg).await;
    let tenant = running.tenant_json();
    let port = running.addr.port();
    assert_eq!(
        tenant["manage_url"],
        format!("https://manage.office.com:{port}")
    );
    rude_connections(running.addr).await;

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/drain_client.py"
    );
    let args: Vec<String> = vec![
        script.into(),
        "--ca".into(),
        dir.path().join("ca.pem").display().to_string(),
        "--login-url".into(),
        tenant["login_url"].as_str().unwrap().into(),
        "--manage-url".into(),
        tenant["manage_url"].as_str().unwrap().into(),
        "--tenant".into(),
        tenant["tenant_id"].as_str().unwrap().into(),
        "--client-id".into(),
        tenant["client_id"].as_str().unwrap().into(),
        "--client-secret".into(),
        tenant["client_secret"].as_str().unwrap().into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").args(&args).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("this test needs python3 on PATH (the outside client is a Python script): {e}")
    });
    assert!(
        out.status.success(),
        "the python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: Value = serde_json::from_slice(&out.stdout).unwrap();

    let base = running.url();
    let truth = get_json(&http, &format!("{base}/_sim/truth")).await;
    let report = get_json(&http, &format!("{base}/_sim/report")).await;
    let log = request_log(&http, &base).await;
    let (truth_ids, truth_blobs) = truth_totals(&truth);

    // What the client itself got, against the ground truth.
    let py_ids: HashSet<String> = py["record_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(truth_blobs > 0 && py["pages"].as_u64().unwrap() > 10);
    assert_eq!(py_ids, truth_ids, "the client got every record, no more");
    let py_blobs = py["blobs"].as_array().unwrap().len() as u64;
    assert_eq!(py_blobs, truth_blobs);
    // Kept-alive connections: one per host name, not one per request.
    assert!(
        py["connections"].as_u64().unwrap() <= 4,
        "connections reused: {py}"
    );

    // The report, against the client's own account and the truth.
    let app = client(&report, tenant["client_id"].as_str().unwrap());
    let b = &app["blobs"];
    assert_eq!(b["fetched_once"].as_u64().unwrap(), truth_blobs, "{app}");
    assert_eq!(b["fetched_repeatedly"], 0);
    assert_eq!(b["listed_never_fetched"], 0);
    assert_eq!(b["never_listed"], 0);
    assert_eq!(
        app["records"]["served"].as_u64().unwrap(),
        py["record_ids"].as_array().unwrap().len() as u64
    );
    assert_eq!(app["records"]["unserved"], 0);
    assert_eq!(
        report["published"]["records"].as_u64().unwrap(),
        truth_ids.len() as u64
    );
    // Every request the client made is counted once: its app's, plus the token request under
    // its address.
    let counted: u64 = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, py["requests"].as_u64().unwrap());

    // The request log saw the same blob fetches, on the real host name.
    let fetches: Vec<&Value> = log
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .unwrap()
                .contains("/activity/feed/audit/")
        })
        .collect();
    assert_eq!(fetches.len() as u64, truth_blobs);
    assert!(fetches.iter().all(|e| e["status"] == 200
        && e["host"] == format!("manage.office.com:{port}")
        && e["client"] == tenant["client_id"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tls_listener_routes_by_host_speaks_http2_and_emits_public_urls() {
    let (running, http, _dir) = boot_tls(small(30, 1)).await;
    let t = running.tenant_json();
    let port = running.addr.port();
    let form = |scope: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", t["client_id"].as_str().unwrap().to_string()),
            (
                "client_secret",
                t["client_secret"].as_str().unwrap().to_string(),
            ),
            ("scope", scope.to_string()),
        ]
    };
    let tid = t["tenant_id"].as_str().unwrap();
    let token_url = format!(
        "{}/{tid}/oauth2/v2.0/token",
        t["login_url"].as_str().unwrap()
    );
    let r = http
        .post(&token_url)
        .form(&form("https://graph.microsoft.com/.default"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN picked h2");
    assert_eq!(r.status(), 200);
    let graph_token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Graph on its own name, links on the public Graph URL.
    let r = http
        .get(format!(
            "https://graph.microsoft.com:{port}/v1.0/users?$top=5"
        ))
        .bearer_auth(&graph_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("https://graph.microsoft.com:{port}/v1.0/users")),
        "{next}"
    );

    // Each name serves only its own service.
    let wrong = [
        format!("https://graph.microsoft.com:{port}/{tid}/oauth2/v2.0/token"),
        format!("https://manage.office.com:{port}/v1.0/users"),
        format!("https://login.microsoftonline.com:{port}/v1.0/users"),
    ];
    for url in wrong {
        let r = http
            .post(&url)
            .bearer_auth(&graph_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{url}");
    }

    // An HTTP/1.1-only client on the same listener, reusing its connection.
    let ca = running.tls.as_ref().unwrap().ca_pem.clone();
    let h1 = reqwest::Client::builder()
        .http1_only()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .resolve("graph.microsoft.com", running.addr)
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = h1
            .get(format!(
                "https://graph.microsoft.com:{port}/v1.0/users?$top=1"
            ))
            .bearer_auth(&graph_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_11);
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_report_agrees_with_the_truth_and_the_request_log() {
    let sim = boot(small(20, 2)).await;
    let token = sim.token().await;
    sim.start_all(&token).await;
    let now = sim.now().await;
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let (s, e) = (now - chrono::Duration::days(1), now);
    // A sloppy client: skips every fifth blob, fetches every seventh twice.
    let (mut listed, mut skipped, mut twice, mut fetches) = (0, 0, 0, 0);
    let mut served = 0usize;
    let mut got: HashSet<String> = HashSet::new();
    for ct in CONTENT_TYPES {
        for (i, obj) in sim
            .list_window(&token, ct, &fmt(s), &fmt(e))
            .await
            .iter()
            .enumerate()
        {
            listed += 1;
            if i % 5 == 0 {
                skipped += 1;
                continue;
            }
            let n = if i % 7 == 0 { 2 } else { 1 };
            twice += n - 1;
            for _ in 0..n {
                let r = sim
                    .get(obj["contentUri"].as_str().unwrap(), Some(&token))
                    .await;
                assert_eq!(r.status, 200);
                fetches += 1;
                let records = r.json().as_array().cloned().unwrap();
                served += records.len();
                got.extend(
                    records
                        .iter()
                        .map(|r| r["Id"].as_str().unwrap().to_string()),
                );
            }
        }
    }
    assert!(skipped > 0 && twice > 0);

    let truth = sim.truth().await;
    let report = sim
        .get(&format!("{}/_sim/report", sim.url), None)
        .await
        .json();
    let log = sim.requests().await;
    let (truth_ids, truth_blobs) = truth_totals(&truth);
    let app = client(&report, sim.tenant["client_id"].as_str().unwrap());
    let b = &app["blobs"];
    assert_eq!(b["listed"], listed);
    assert_eq!(b["listed_never_fetched"], skipped);
    assert_eq!(b["fetched_repeatedly"], twice);
    assert_eq!(b["fetched_once"], listed - skipped - twice);
    assert_eq!(b["fetches"], fetches);
    // Blobs of the other day were never listed.
    assert_eq!(
        b["never_listed"].as_u64().unwrap(),
        truth_blobs - listed as u64
    );
    assert_eq!(app["records"]["served"], served);
    assert_eq!(
        app["records"]["unserved"].as_u64().unwrap(),
        truth_ids.difference(&got).count() as u64
    );
    assert_eq!(report["published"]["blobs"].as_u64().unwrap(), truth_blobs);

    // Per endpoint and status, the report's counts are the request log's (less `/_sim`).
    let mut from_log: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for e in log
        .iter()
        .filter(|e| !e["path"].as_str().unwrap().starts_with("/_sim"))
    {
        let path = e["path"].as_str().unwrap();
        let kind = if path.contains("/activity/feed/audit/") {
            "audit"
        } else if path.contains("/subscriptions/content") {
            "content"
        } else if path.contains("/subscriptions/start") {
            "start"
        } else {
            "token"
        };
        *from_log
            .entry((kind.to_string(), e["status"].as_u64().unwrap()))
            .or_default() += 1;
    }
    let mut from_report: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for c in report["clients"].as_array().unwrap() {
        for e in c["requests"]["by_endpoint"].as_array().unwrap() {
            let ep = e["endpoint"].as_str().unwrap();
            let kind = ep.rsplit('/').next().unwrap();
            let kind = match kind {
                "{contentId}" => "audit",
                k => k,
            };
            *from_report
                .entry((kind.to_string(), e["status"].as_u64().unwrap()))
                .or_default() += e["count"].as_u64().unwrap();
        }
    }
    assert_eq!(from_report, from_log);
    assert_eq!(from_log[&("audit".to_string(), 200)], fetches as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_ignores_retry_after_shows_as_such() {
    let mut cfg = small(20, 1);
    cfg.faults = "throttle".parse().unwrap();
    let sim = boot(cfg).await;
    let t = &sim.tenant;
    let r = sim
        .token_request(
            &sim.tenant_id(),
            true,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", t["client_id"].as_str().unwrap()),
                ("client_secret", t["client_secret"].as_str().unwrap()),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let url = format!("{}/v1.0/auditLogs/signIns?$top=1", sim.url);
    let report = || async {
        let r = sim
            .get(&format!("{}/_sim/report", sim.url), None)
            .await
            .json();
        client(&r, t["client_id"].as_str().unwrap())["throttling"].clone()
    };

    // Well-behaved first: on 429, wait what Retry-After says, then try again.
    let mut throttled = 0;
    let mut waited = 0;
    for _ in 0..20 {
        let r = sim.get(&url, Some(&token)).await;
        if r.status == 429 {
            throttled += 1;
            let secs: f64 = r.header("Retry-After").unwrap().parse().unwrap();
            tokio::time::sleep(Duration::from_secs_f64(secs) + Duration::from_millis(20)).await;
            waited += 1;
            if waited == 2 {
                break;
            }
        }
    }
    // The last wait is judged by the next request to the endpoint.
    assert_eq!(sim.get(&url, Some(&token)).await.status, 200);
    let th = report().await;
    assert_eq!(th["throttled"], throttled);
    assert_eq!(th["retried_too_early"], 0, "{th}");
    assert_eq!(th["retried_after_waiting"], waited);
    assert_eq!(th["honoured_retry_after"], true);

    // Then impatient: on 429, straight back.
    let mut early = 0;
    let mut last_throttled = false;
    for _ in 0..30 {
        let r = sim.get(&url, Some(&token)).await;
        if last_throttled {
            early += 1;
        }
        last_throttled = r.status == 429;
        if r.status == 429 {
            throttled += 1;
        }
    }
    assert!(early > 0);
    let th = report().await;
    assert_eq!(th["throttled"], throttled);
    assert_eq!(th["honoured_retry_after"], false, "{th}");
    assert!(th["retried_too_early"].as_u64().unwrap() >= 1);
    assert!(th["retried_too_early"].as_u64().unwrap() <= early);
}
