//! Notifications as a user runs them: `skylight collect --once` against a simulated tenant
//! with attack scenarios, a webhook and a UDP syslog receiver in this test, then
//! `skylight notifications`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, run_ok, spawn_sim, write_config_with};

/// Requests a receiver got: (lowercased head, body).
type Got = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A minimal HTTP receiver answering 200 to every request.
fn webhook_receiver() -> (String, Got) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while buf.len() < end + 4 + len {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                break (head, buf[end + 4..].to_vec());
            };
            if head.is_empty() {
                continue;
            }
            keep.lock().unwrap().push((head, body));
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

fn udp_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = socket.recv(&mut buf) {
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (addr, got)
}

fn collect(config: &str, data: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["collect", "--once", "--config", config, "--data-dir", data])
        .env("TEST_HOOK_SECRET", "cli-test-secret")
        .output()
        .unwrap()
}

fn deliveries(data: &str) -> Vec<serde_json::Value> {
    run_ok(&[
        "notifications",
        "--data-dir",
        data,
        "--format",
        "json",
        "--limit",
        "0",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn collect_sends_every_alert_to_every_channel_once() {
    let (_sim, url) = spawn_sim(&["--users", "100", "--days", "2", "--scenarios", "all"]);
    let (hook, bodies) = webhook_receiver();
    let (udp, lines) = udp_receiver();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[detection]\nlearning_days = 1\n\n[notifications]\nportal_url = \"https://skylight.example\"\n\n[[notifications.webhook]]\nname = \"soc\"\nurl = \"{hook}\"\nsecret_env = \"TEST_HOOK_SECRET\"\n\n[[notifications.syslog]]\nname = \"siem\"\naddress = \"{udp}\"\nprotocol = \"udp\"\n"
    );
    let (config, data) = write_config_with(dir.path(), &url, &extra);
    let out = collect(&config, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("notifications: "), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cli-test-secret"));

    let alerts: Vec<serde_json::Value> = run_ok(&[
        "alerts",
        "--data-dir",
        &data,
        "--limit",
        "0",
        "--format",
        "json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert!(!alerts.is_empty(), "the scenarios raise alerts");
    let log = deliveries(&data);
    for d in &log {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1, "{d}");
    }
    // Each change of each alert once per channel (an incident that grew while detection ran
    // is an alert changed, sent again), and every alert as it finally stands.
    let keys: std::collections::HashSet<String> = log
        .iter()
        .map(|d| format!("{} {} {}", d["alert_id"], d["change"], d["channel"]))
        .collect();
    assert_eq!(keys.len(), log.len(), "nothing queued twice");
    for a in &alerts {
        for channel in ["soc", "siem"] {
            let last = log
                .iter()
                .filter(|d| d["alert_id"] == a["id"] && d["channel"] == channel)
                .map(|d| d["change"].as_str().unwrap().to_string())
                .max()
                .unwrap_or_else(|| panic!("alert {} not sent to {channel}", a["id"]));
            let sent: chrono::DateTime<chrono::Utc> = last.parse().unwrap();
            let updated: chrono::DateTime<chrono::Utc> =
                a["updated"].as_str().unwrap().parse().unwrap();
            assert_eq!(sent, updated, "alert {} to {channel}", a["id"]);
        }
    }
    let per_channel = |c: &str| log.iter().filter(|d| d["channel"] == c).count();
    let mut hooked: Vec<i64> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|(head, body)| {
            assert!(head.contains("x-skylight-signature: sha256="), "{head}");
            serde_json::from_slice::<serde_json::Value>(body).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(hooked.len(), per_channel("soc"));
    hooked.sort();
    hooked.dedup();
    let mut ids: Vec<i64> = alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(hooked, ids);
    // UDP on loopback: give the last datagrams a moment.
    std::thread::sleep(Duration::from_millis(200));
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), per_channel("siem"));
    for a in &alerts {
        let needle = format!("|externalId={} ", a["id"]);
        let line = lines
            .iter()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("no CEF line for alert {}", a["id"]));
        assert!(
            line.contains(" skylight - alert - CEF:0|Skylight|Skylight|"),
            "{line}"
        );
        assert!(
            line.contains(&format!(
                "cs1=https://skylight.example/api/v1/alerts/{} ",
                a["id"]
            )),
            "{line}"
        );
    }
    // The table lists them too.
    let table = run_ok(&[
        "notifications",
        "--data-dir",
        &data,
        "--status",
        "delivered",
    ]);
    assert!(table.contains("delivered") && table.contains("siem") && table.contains("soc"));

    // Running again sends nothing twice: the cursor and the log are in the store.
    let out = collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(deliveries(&data).len(), log.len());
    assert_eq!(bodies.lock().unwrap().len(), per_channel("soc"));

    // A mistake in [notifications] stops collect before it starts, naming the key.
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("secret_env", "secret_envv");
    std::fs::write(&bad, text).unwrap();
    let out = collect(&bad.display().to_string(), &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret_envv"), "{err}");
}
