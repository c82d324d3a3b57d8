//! Helpers the black-box tests share: start `skylight` processes, configure a connector for a
//! simulated tenant.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_skylight");

/// A child process killed (SIGKILL) when dropped.
pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `skylight ARGS…` and reads its standard output until `url_in` finds the URL it
/// announces on a line.
pub fn spawn_announcing(
    args: &[&str],
    url_in: impl Fn(&str) -> Option<String>,
) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SKYLIGHT_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let url = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| url_in(l.trim()))
        .expect("the process announces its URL");
    (Killed(child), url)
}

/// Starts `skylight sim ARGS…` on a free port; returns it with its base URL.
pub fn spawn_sim_with(args: &[&str]) -> (Killed, String) {
    let mut all = vec!["sim", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    spawn_announcing(&all, |l| {
        l.strip_prefix("manage_url").map(|u| u.trim().to_string())
    })
}

/// Starts a simulator with a fixed clock and seed (so its truth is the same every run).
pub fn spawn_sim(args: &[&str]) -> (Killed, String) {
    let mut all = vec!["--now", "2026-11-20T12:00:00Z", "--seed", "3"];
    all.extend_from_slice(args);
    spawn_sim_with(&all)
}

/// Writes a config for the simulator's main app, with `extra` TOML appended; returns (config
/// path, data dir).
pub fn write_config_with(dir: &std::path::Path, url: &str, extra: &str) -> (String, String) {
    let t: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/tenant"))
        .unwrap()
        .json()
        .unwrap();
    std::fs::write(
        dir.join("secret.txt"),
        format!("{}\n", t["client_secret"].as_str().unwrap()),
    )
    .unwrap();
    let config = format!(
        "[[tenant]]\nname = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"secret.txt\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\ncomponents = [\"activities\"]\n\n[collector]\nblob_concurrency = 4\n{extra}",
        t["tenant_id"].as_str().unwrap(),
        t["client_id"].as_str().unwrap()
    );
    let path = dir.join("skylight.toml");
    std::fs::write(&path, config).unwrap();
    (
        path.display().to_string(),
        dir.join("data").display().to_string(),
    )
}

/// [`write_config_with`] and nothing more.
pub fn write_config(dir: &std::path::Path, url: &str) -> (String, String) {
    write_config_with(dir, url, "")
}

/// Runs `skylight collect --once` to the end and returns what it printed.
pub fn run_collect(config: &str, data: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["collect", "--once", "--config", config, "--data-dir", data])
        .output()
        .unwrap()
}

/// Runs `skylight ARGS…`, expects success, and returns its standard output.
pub fn run_ok(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skylight {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `skylight collect --once`, kills it (SIGKILL) after `after`; returns whether it was
/// still running then (killed mid-way).
pub fn collect_killed_after(config: &str, data: &str, after: std::time::Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(["collect", "--once", "--config", config, "--data-dir", data])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

/// Starts `skylight serve --config CONFIG --data-dir DATA` on a free port; returns it with the
/// activities URL it announces.
pub fn spawn_serve(config: &str, data: &str) -> (Killed, String) {
    spawn_announcing(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config,
            "--data-dir",
            data,
        ],
        |l| {
            l.strip_prefix("skylight API on ")
                .and_then(|r| r.split_whitespace().next())
                .map(String::from)
        },
    )
}

/// Reads the JSON list `key` at `url` until it holds at least `enough` items or `secs` pass;
/// returns what it last held.
pub fn poll_list(url: &str, key: &str, enough: usize, secs: u64) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let page: serde_json::Value = reqwest::blocking::get(url).unwrap().json().unwrap();
        let items = page[key].as_array().cloned().unwrap_or_default();
        if items.len() >= enough || std::time::Instant::now() > deadline {
            return items;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}
