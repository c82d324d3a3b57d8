//! The directory sync and governance, end to end: the real binary against the simulator's
//! Microsoft Graph, proved against the simulator's own state (`/_sim/graph`), its write log
//! (`/_sim/graph/writes`) and its audit feed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod apps;
#[path = "../common/mod.rs"]
mod common;
mod directory;
mod files;
mod notify;

use serde_json::Value;

pub(crate) fn get(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

pub(crate) fn post(url: &str, body: Value) -> Value {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .json(&body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().unwrap_or(Value::Null)
}

/// The simulator's request log.
pub(crate) fn requests(url: &str) -> Vec<Value> {
    let text = reqwest::blocking::get(format!("{url}/_sim/requests"))
        .unwrap()
        .text()
        .unwrap();
    lines(&text)
}

/// The JSON lines a command printed.
pub(crate) fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn skylight(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skylight"))
        .args(args)
        .output()
        .unwrap()
}
