//! Test kit: boots a real simulator on a free loopback port per test and talks to it over HTTP,
//! as any Microsoft 365 client would.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use skylight_sim::{RunningSim, SimConfig};

pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// A fixed "now", so tests are reproducible.
pub fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

/// A small tenant with a fixed clock.
pub fn small(users: usize, days: u32) -> SimConfig {
    SimConfig {
        users,
        days,
        seed: 42,
        now: Some(fixed_now()),
        ..SimConfig::default()
    }
}

pub struct TestSim {
    pub running: RunningSim,
    pub url: String,
    pub tenant: Value,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    /// The AF code of a Management API error body.
    pub fn af(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    /// The first AADSTS code of an identity-platform error body.
    pub fn aadsts(&self) -> u64 {
        self.json()["error_codes"][0].as_u64().unwrap_or(0)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

pub async fn boot(cfg: SimConfig) -> TestSim {
    let running = skylight_sim::start(cfg, "127.0.0.1:0")
        .await
        .expect("simulator starts");
    let url = running.url();
    let tenant = running.tenant_json();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    TestSim {
        running,
        url,
        tenant,
        http,
    }
}

impl TestSim {
    pub fn tenant_id(&self) -> String {
        self.tenant["tenant_id"].as_str().unwrap().to_string()
    }
    pub fn root(&self) -> String {
        format!("{}/api/v1.0/{}/activity/feed", self.url, self.tenant_id())
    }
    pub fn pubid(&self) -> String {
        format!("PublisherIdentifier={}", self.tenant_id())
    }

    /// POSTs a token request form to the v1 or v2 endpoint of `tenant`.
    pub async fn token_request(&self, tenant: &str, v2: bool, form: &[(&str, &str)]) -> Resp {
        let path = if v2 {
            "oauth2/v2.0/token"
        } else {
            "oauth2/token"
        };
        let r = self
            .http
            .post(format!("{}/{tenant}/{path}", self.url))
            .form(form)
            .send()
            .await
            .unwrap();
        to_resp(r).await
    }

    /// A Management API token for the main app (client secret, v2).
    pub async fn token(&self) -> String {
        self.token_for(
            self.tenant["client_id"].as_str().unwrap(),
            self.tenant["client_secret"].as_str().unwrap(),
        )
        .await
    }

    pub async fn token_for(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .token_request(
                &self.tenant_id(),
                true,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", "https://manage.office.com/.default"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "token: {}", r.text);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, url: &str, token: Option<&str>) -> Resp {
        let mut req = self.http.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        to_resp(req.send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.http.post(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        to_resp(req.send().await.unwrap()).await
    }

    pub async fn start(&self, token: &str, ct: &str) -> Resp {
        self.post(
            &format!(
                "{}/subscriptions/start?contentType={ct}&{}",
                self.root(),
                self.pubid()
            ),
            Some(token),
            None,
        )
        .await
    }

    pub async fn start_all(&self, token: &str) {
        for ct in CONTENT_TYPES {
            let r = self.start(token, ct).await;
            assert!(
                r.status == 200 || r.af() == "AF20024",
                "start {ct}: {} {}",
                r.status,
                r.text
            );
        }
    }

    pub async fn advance(&self, secs: i64) {
        let r = self
            .post(
                &format!("{}/_sim/clock", self.url),
                None,
                Some(serde_json::json!({"advance_seconds": secs})),
            )
            .await;
        assert_eq!(r.status, 200);
    }

    pub async fn truth(&self) -> Value {
        self.get(&format!("{}/_sim/truth", self.url), None)
            .await
            .json()
    }

    pub async fn requests(&self) -> Vec<Value> {
        let r = self.get(&format!("{}/_sim/requests", self.url), None).await;
        r.text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The simulator's clock now.
    pub async fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let c = self
            .get(&format!("{}/_sim/clock", self.url), None)
            .await
            .json();
        c["now"].as_str().unwrap().parse().unwrap()
    }

    /// A GET that retries what a careful client retries: throttling, 5xx, resets.
    pub async fn get_retrying(&self, url: &str, token: &str) -> Resp {
        for attempt in 0..60 {
            match self.http.get(url).bearer_auth(token).send().await {
                Ok(r) => {
                    let status = r.status();
                    match r.text().await {
                        Ok(text) => {
                            let resp = Resp {
                                status,
                                headers: HeaderMap::new(),
                                text,
                            };
                            let throttled = resp.af() == "AF429";
                            if status.is_server_error() || throttled {
                                tokio::time::sleep(Duration::from_millis(
                                    if throttled { 250 } else { 20 } * (attempt + 1).min(8),
                                ))
                                .await;
                                continue;
                            }
                            return resp;
                        }
                        Err(_) => continue, // connection reset mid-body
                    }
                }
                Err(_) => continue,
            }
        }
        panic!("{url} kept failing");
    }

    /// Lists one window to the end, following NextPageUri; retries like a careful client.
    pub async fn list_window(&self, token: &str, ct: &str, start: &str, end: &str) -> Vec<Value> {
        let mut url = format!(
            "{}/subscriptions/content?contentType={ct}&startTime={start}&endTime={end}&{}",
            self.root(),
            self.pubid()
        );
        let mut out = Vec::new();
        loop {
            let mut resp = None;
            for attempt in 0..60 {
                match self.http.get(&url).bearer_auth(token).send().await {
                    Ok(r) => {
                        let status = r.status();
                        let headers = r.headers().clone();
                        let Ok(text) = r.text().await else { continue };
                        let rr = Resp {
                            status,
                            headers,
                            text,
                        };
                        if status.is_server_error() || rr.af() == "AF429" {
                            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1).min(8)))
                                .await;
                            continue;
                        }
                        resp = Some(rr);
                        break;
                    }
                    Err(_) => continue,
                }
            }
            let r = resp.expect("listing answered");
            assert_eq!(r.status, 200, "listing {url}: {}", r.text);
            out.extend(r.json().as_array().cloned().unwrap_or_default());
            match r.header("NextPageUri") {
                Some(next) => url = format!("{next}&{}", self.pubid()),
                None => break,
            }
        }
        out
    }

    /// Drains the whole tenant over 7 daily windows: every record Id fetched, per content type.
    pub async fn drain(&self) -> Drained {
        let token = self.token().await;
        self.start_all(&token).await;
        let mut d = Drained::default();
        for ct in CONTENT_TYPES {
            // Windows are laid out from the clock at the start of each content type, with a margin
            // so the oldest is still inside the 7-day limit when it is listed.
            let now = self.now().await;
            let mut seen_blobs = HashSet::new();
            for day in (1..=7).rev() {
                let s = now - chrono::Duration::days(day) + chrono::Duration::minutes(10);
                let e = s + chrono::Duration::days(1);
                let fmt =
                    |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
                for obj in self
                    .list_window(&token, ct, &fmt(s), &fmt(e.min(now)))
                    .await
                {
                    let id = obj["contentId"].as_str().unwrap().to_string();
                    if !seen_blobs.insert(id) {
                        d.relisted += 1;
                        continue;
                    }
                    let uri = format!("{}?{}", obj["contentUri"].as_str().unwrap(), self.pubid());
                    let r = self.get_retrying(&uri, &token).await;
                    if r.af() == "AF20051" {
                        d.expired_blobs += 1;
                        continue;
                    }
                    assert_eq!(r.status, 200, "blob {uri}: {}", r.text);
                    let records: Vec<Value> =
                        serde_json::from_str(&r.text).expect("a blob is a JSON array");
                    for rec in records {
                        let id = rec["Id"].as_str().unwrap().to_string();
                        if !d.ids.entry(ct.to_string()).or_default().insert(id) {
                            d.duplicate_records += 1;
                        }
                    }
                    d.blobs += 1;
                }
            }
        }
        d
    }
}

#[derive(Debug, Default)]
pub struct Drained {
    pub ids: HashMap<String, HashSet<String>>,
    pub blobs: usize,
    pub relisted: usize,
    pub duplicate_records: usize,
    pub expired_blobs: usize,
}

/// The truth's record Ids of a content type.
pub fn truth_ids(truth: &Value, ct: &str) -> HashSet<String> {
    truth["content_types"][ct]["record_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        text,
    }
}
