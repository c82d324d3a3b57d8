//! The drain report (`GET /_sim/report`, printed at shutdown): per client, what it asked, which
//! blobs it listed and fetched, which records it got and missed, and how it behaved when
//! throttled. It lets a third-party collector be judged on the same tenant as Skylight.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::Sim;
use crate::catalog::ContentType;

/// Marks a response as throttling, for answers whose status alone does not say so (AF429 may
/// come back as 403).
#[derive(Debug, Clone, Copy)]
pub struct Throttled;

/// A blob handed to a client, attached to the response so that it is counted only once the
/// answer really goes out whole (a `flaky` reset breaks it off and is no fetch).
#[derive(Debug, Clone)]
pub struct Served {
    /// The app it was served to.
    pub client_id: String,
    /// The blob's content id as the client named it.
    pub content_id: String,
    /// Records in the blob, duplicate copies included.
    pub records: u32,
}

/// Who made a request: the app of its bearer token, or else the peer address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Client {
    /// The app's client id, or the remote address.
    pub id: String,
    /// `app` or `address`.
    pub kind: &'static str,
}

/// Identifies the client of a request from its `Authorization` header (any token this simulator
/// signed, even expired, still names its app) or its peer address.
pub fn client_of(sim: &Sim, headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> Client {
    let app = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &v[7..])
        })
        .and_then(|t| {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.validate_aud = false;
            v.validate_exp = false;
            v.required_spec_claims.clear();
            jsonwebtoken::decode::<super::token::AccessClaims>(
                t.trim(),
                &jsonwebtoken::DecodingKey::from_secret(&sim.token_key),
                &v,
            )
            .ok()
        })
        .map(|d| d.claims.appid);
    match (app, peer) {
        (Some(a), _) => Client { id: a, kind: "app" },
        (None, Some(p)) => Client {
            id: p.ip().to_string(),
            kind: "address",
        },
        (None, None) => Client {
            id: "unknown".into(),
            kind: "address",
        },
    }
}

/// The endpoint a request is counted under: its method and path with ids replaced by names.
pub fn endpoint(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let templated: Vec<String> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let named = if segs.first() == Some(&"api") && i == 2 {
                Some("{tenant}")
            } else if segs.first() == Some(&"api") && i == 6 && segs.get(5) == Some(&"audit") {
                Some("{contentId}")
            } else if i == 0 && segs.get(1) == Some(&"oauth2") {
                Some("{tenant}")
            } else if looks_like_id(s) {
                Some("{id}")
            } else {
                None
            };
            named.map_or_else(|| s.to_string(), String::from)
        })
        .collect();
    format!("{method} /{}", templated.join("/"))
}

/// Graph and monitor ids: GUIDs, drive ids (`b!…`), UPNs, long tokens.
fn looks_like_id(s: &str) -> bool {
    (s.len() >= 8 && s.chars().any(|c| c.is_ascii_digit())) || s.contains(['!', '@', '\''])
}

/// One answered request, as the report counts it.
#[derive(Debug, Clone)]
pub struct Answered {
    /// [`endpoint`] of the request.
    pub endpoint: String,
    /// Status answered.
    pub status: u16,
    /// The answer was throttling (429, or AF429 as 403).
    pub throttled: bool,
    /// `Retry-After` seconds, if the answer gave one.
    pub retry_after: Option<f64>,
    /// When the request came in.
    pub arrived: Instant,
    /// When the answer left.
    pub answered: Instant,
}

/// What one client did with one blob.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    listed: u32,
    fetched: u32,
    records: u32,
}

/// One client's tallies.
#[derive(Debug, Default)]
struct Tally {
    kind: &'static str,
    requests: BTreeMap<(String, u16), u64>,
    management: bool,
    blobs: HashMap<String, Seen>,
    records_served: u64,
    throttled: u64,
    with_retry_after: u64,
    retried_early: u64,
    retried_after_wait: u64,
    /// Per endpoint, when the last Retry-After given runs out.
    waiting: HashMap<String, Instant>,
}

/// The per-client tallies behind the report.
#[derive(Debug, Default)]
pub struct Drain {
    clients: Mutex<BTreeMap<String, Tally>>,
}

impl Drain {
    fn with<R>(&self, client: &Client, f: impl FnOnce(&mut Tally) -> R) -> R {
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let t = map.entry(client.id.clone()).or_default();
        t.kind = client.kind;
        f(t)
    }

    /// Counts an answered request.
    pub fn request(&self, client: &Client, a: Answered) {
        let Answered {
            endpoint,
            status,
            throttled,
            retry_after,
            arrived,
            answered,
        } = a;
        self.with(client, |t| {
            // Judged on the first request to the endpoint after a Retry-After was given.
            if let Some(until) = t.waiting.remove(&endpoint) {
                if arrived >= until {
                    t.retried_after_wait += 1;
                } else {
                    t.retried_early += 1;
                }
            }
            if endpoint.contains("/activity/feed/") {
                t.management = true;
            }
            if throttled {
                t.throttled += 1;
                if let Some(s) = retry_after.filter(|s| s.is_finite() && *s >= 0.0) {
                    t.with_retry_after += 1;
                    let wait = std::time::Duration::from_secs_f64(s);
                    t.waiting.insert(endpoint.clone(), answered + wait);
                }
            }
            *t.requests.entry((endpoint, status)).or_default() += 1;
        });
    }

    /// Notes the blobs a content listing handed to a client.
    pub fn listed(&self, client_id: &str, content_ids: impl Iterator<Item = String>) {
        let c = Client {
            id: client_id.to_string(),
            kind: "app",
        };
        self.with(&c, |t| {
            for id in content_ids {
                t.blobs.entry(id).or_default().listed += 1;
            }
        });
    }

    /// Notes a blob served to a client with `records` records in it.
    pub fn fetched(&self, client_id: &str, content_id: &str, records: u32) {
        let c = Client {
            id: client_id.to_string(),
            kind: "app",
        };
        self.with(&c, |t| {
            let s = t.blobs.entry(content_id.to_string()).or_default();
            s.fetched += 1;
            s.records = records;
            t.records_served += u64::from(records);
        });
    }
}

/// Every blob a client could fetch now (published, not expired): content id → distinct records.
fn fetchable(sim: &Sim) -> HashMap<String, u32> {
    let horizon = sim.horizon();
    let now = sim.clock.now();
    let mut out = HashMap::new();
    for ct in ContentType::ALL {
        for m in sim.feed.published(ct, horizon) {
            if m.expiration > now {
                out.insert(sim.feed.content_id(&m), m.count());
            }
        }
        for b in sim.runtime().published(ct, now) {
            if b.meta.expiration > now {
                out.insert(sim.feed.content_id(&b.meta), b.records.len() as u32);
            }
        }
    }
    out
}

/// The report document (walks the publication plan: call off the async threads).
pub fn report_json(sim: &Sim) -> Value {
    let published = fetchable(sim);
    let published_records: u64 = published.values().map(|&c| u64::from(c)).sum();
    let map = sim.drain.clients.lock().unwrap_or_else(|p| p.into_inner());
    let clients: Vec<Value> = map
        .iter()
        .map(|(id, t)| client_json(id, t, &published))
        .collect();
    drop(map);
    json!({
        "generated_at": sim.clock.now().to_rfc3339(),
        "published": {"blobs": published.len(), "records": published_records},
        "clients": clients,
    })
}

fn client_json(id: &str, t: &Tally, published: &HashMap<String, u32>) -> Value {
    let total: u64 = t.requests.values().sum();
    let by_endpoint: Vec<Value> = t
        .requests
        .iter()
        .map(|((e, s), n)| json!({"endpoint": e, "status": s, "count": n}))
        .collect();
    let judged = t.retried_early + t.retried_after_wait;
    let mut out = json!({
        "client": id,
        "kind": t.kind,
        "requests": {"total": total, "by_endpoint": by_endpoint},
        "throttling": {
            "throttled": t.throttled,
            "with_retry_after": t.with_retry_after,
            "retried_after_waiting": t.retried_after_wait,
            "retried_too_early": t.retried_early,
            // Unknown until the client came back to a throttled endpoint at least once.
            "honoured_retry_after": (judged > 0).then_some(t.retried_early == 0),
        },
    });
    if t.management || !t.blobs.is_empty() {
        let count = |f: &dyn Fn(&Seen) -> bool| t.blobs.values().filter(|s| f(s)).count();
        let mut never: Vec<&String> = t
            .blobs
            .iter()
            .filter(|(_, s)| s.listed > 0 && s.fetched == 0)
            .map(|(k, _)| k)
            .collect();
        never.sort();
        never.truncate(50);
        let distinct: u64 = t
            .blobs
            .values()
            .filter(|s| s.fetched > 0)
            .map(|s| u64::from(s.records))
            .sum();
        let unserved: u64 = published
            .iter()
            .filter(|(k, _)| t.blobs.get(*k).is_none_or(|s| s.fetched == 0))
            .map(|(_, &c)| u64::from(c))
            .sum();
        out["blobs"] = json!({
            "listed": count(&|s| s.listed > 0),
            "listed_never_fetched": count(&|s| s.listed > 0 && s.fetched == 0),
            "fetched_once": count(&|s| s.fetched == 1),
            "fetched_repeatedly": count(&|s| s.fetched > 1),
            "fetched_unlisted": count(&|s| s.fetched > 0 && s.listed == 0),
            "fetches": t.blobs.values().map(|s| u64::from(s.fetched)).sum::<u64>(),
            "never_listed": published.keys().filter(|k| !t.blobs.contains_key(*k)).count(),
            "listed_never_fetched_ids": never,
        });
        out["records"] = json!({
            "served": t.records_served,
            "served_distinct_blobs": distinct,
            "unserved": unserved,
        });
    }
    out
}

/// `GET /_sim/report`.
pub async fn report(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.graph_tick();
    Json(
        tokio::task::spawn_blocking(move || report_json(&sim))
            .await
            .unwrap_or(Value::Null),
    )
}

/// The report as lines for a terminal.
pub fn report_text(r: &Value) -> String {
    let mut s = format!(
        "drain report: {} blobs, {} records fetchable\n",
        r["published"]["blobs"], r["published"]["records"]
    );
    let empty = Vec::new();
    for c in r["clients"].as_array().unwrap_or(&empty) {
        s.push_str(&format!(
            "  {} {} — {} requests\n",
            c["kind"].as_str().unwrap_or_default(),
            c["client"].as_str().unwrap_or_default(),
            c["requests"]["total"]
        ));
        for e in c["requests"]["by_endpoint"].as_array().unwrap_or(&empty) {
            s.push_str(&format!(
                "      {:>6} × {} {}\n",
                e["count"],
                e["status"],
                e["endpoint"].as_str().unwrap_or_default()
            ));
        }
        if c.get("blobs").is_some() {
            let b = &c["blobs"];
            let rec = &c["records"];
            s.push_str(&format!(
                "    blobs: {} listed, {} listed but never fetched, {} fetched once, {} fetched repeatedly, {} never listed\n",
                b["listed"], b["listed_never_fetched"], b["fetched_once"], b["fetched_repeatedly"], b["never_listed"]
            ));
            s.push_str(&format!(
                "    records: {} served, {} still unserved\n",
                rec["served"], rec["unserved"]
            ));
        }
        let th = &c["throttling"];
        if th["throttled"].as_u64().unwrap_or(0) > 0 {
            let verdict = match th["honoured_retry_after"].as_bool() {
                Some(true) => "honoured Retry-After",
                Some(false) => "did NOT honour Retry-After",
                None => "Retry-After not judged",
            };
            s.push_str(&format!(
                "    throttled: {} ({} with Retry-After; {} retried too early) — {verdict}\n",
                th["throttled"], th["with_retry_after"], th["retried_too_early"]
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_ids_not_values() {
        assert_eq!(
            endpoint(
                "GET",
                "/api/v1.0/4f1c0000-aaaa/activity/feed/audit/20261120abc$def?PublisherIdentifier=x"
            ),
            "GET /api/v1.0/{tenant}/activity/feed/audit/{contentId}"
        );
        assert_eq!(
            endpoint("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            "POST /{tenant}/oauth2/v2.0/token"
        );
        assert_eq!(
            endpoint("GET", "/v1.0/users/4f1c0000-1111-2222-3333-444455556666"),
            "GET /v1.0/users/{id}"
        );
        assert_eq!(
            endpoint("GET", "/v1.0/users/delta"),
            "GET /v1.0/users/delta"
        );
    }

    #[test]
    fn retry_after_is_judged_on_the_next_request_to_the_endpoint() {
        let d = Drain::default();
        let c = Client {
            id: "app".into(),
            kind: "app",
        };
        let t0 = Instant::now();
        let ms = |n| t0 + std::time::Duration::from_millis(n);
        let req = |e: &str, status: u16, ra: Option<f64>, at: u64| Answered {
            endpoint: e.into(),
            status,
            throttled: status == 429,
            retry_after: ra,
            arrived: ms(at),
            answered: ms(at + 1),
        };
        d.request(&c, req("GET /x", 429, Some(1.0), 0));
        // Another endpoint does not settle the question.
        d.request(&c, req("GET /y", 200, None, 10));
        d.request(&c, req("GET /x", 429, Some(1.0), 500));
        d.request(&c, req("GET /x", 200, None, 1600));
        let map = d.clients.lock().expect("lock");
        let t = &map["app"];
        assert_eq!(
            (t.throttled, t.retried_early, t.retried_after_wait),
            (2, 1, 1)
        );
    }
}
