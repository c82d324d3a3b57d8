//! `/_sim/*`: what tests and benchmarks ask the simulator: the tenant's credentials and URLs, the
//! ground truth of what was published, the request log, the clock and tenant switches.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Control, Sim};
use crate::catalog::ContentType;

/// `GET /_sim/tenant`: the registered app's credentials and the base URLs to use.
pub async fn tenant(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(tenant_json(&sim))
}

/// The `/_sim/tenant` document (also printed in the start-up banner).
pub fn tenant_json(sim: &Sim) -> Value {
    let t = &sim.tenant;
    let main = &t.registrations[0];
    json!({
        "tenant_id": t.tenant_id,
        "tenant_domain": t.initial_domain,
        "organization": t.org_name,
        "client_id": main.client_id,
        "client_secret": main.client_secret,
        "certificate_pem": sim.cert.cert_pem,
        "private_key_pem": sim.cert.key_pem,
        "certificate_thumbprint_sha1": sim.cert.x5t(),
        "certificate_thumbprint_sha256": sim.cert.x5t_s256(),
        "login_url": sim.urls.login,
        "manage_url": sim.urls.manage,
        // Graph answers under `{graph_url}/v1.0/…` (also under `{base}/graph/v1.0/…`).
        "graph_url": sim.urls.graph,
        "sim_url": sim.urls.base,
        "management_resource": "https://manage.office.com",
        "graph_resource": "https://graph.microsoft.com",
        "publisher_identifier": t.tenant_id,
        "other_apps": t.registrations.iter().skip(1).map(|r| json!({
            "name": r.name, "client_id": r.client_id, "client_secret": r.client_secret, "purpose": r.purpose,
        })).collect::<Vec<_>>(),
        "countries": crate::tenant::geo::COUNTRIES.iter().map(|c| json!({
            "code": c.code, "city": c.city.0, "latitude": c.city.1, "longitude": c.city.2, "utc_offset_minutes": c.utc_offset_minutes,
            "ipv4_blocks": c.blocks.iter().map(|b| format!("{}.{}.0.0-{}.{}.255.255", b.0, b.1, b.0, u16::from(b.1) + u16::from(b.2).saturating_sub(1))).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "settings": {
            "users": sim.cfg.users, "days": sim.cfg.days, "seed": sim.cfg.seed, "live": sim.cfg.live,
            "faults": sim.cfg.faults.to_string(), "scenarios": sim.cfg.scenarios.to_string(),
            "page_size": sim.cfg.page_size, "blob_minutes": sim.cfg.blob_minutes,
            "token_lifetime_secs": sim.cfg.token_lifetime_secs, "requests_per_minute": sim.cfg.effective_rpm(),
            "started_at": sim.clock.start().to_rfc3339(),
        },
    })
}

/// Writes the truth document piece by piece into the channel (runs on a blocking thread).
fn write_truth(sim: &Sim, tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) {
    let horizon = sim.horizon();
    let now = sim.clock.now();
    let mut buf = String::with_capacity(1 << 16);
    // Returns false once the client has gone, so the work stops with it.
    let flush = |buf: &mut String| {
        buf.is_empty()
            || tx
                .blocking_send(Ok(Bytes::from(std::mem::take(buf))))
                .is_ok()
    };
    buf.push_str("{\"content_types\":{");
    for (i, ct) in ContentType::ALL.into_iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str(&format!("\"{}\":{{\"record_ids\":[", ct.as_str()));
        let (mut blobs, mut records, mut first) = (0u64, 0u64, true);
        let mut expired: Vec<String> = Vec::new();
        for m in sim.feed.published(ct, horizon) {
            blobs += 1;
            let ids = sim.feed.record_ids(&m);
            if m.expiration <= now {
                // Records of an expired blob stay collectable only if copied into a live blob.
                let next = sim
                    .feed
                    .meta(crate::feed::ids::BlobKey {
                        slot: m.key.slot + 1,
                        ..m.key
                    })
                    .filter(|n| n.available <= horizon && n.expiration > now);
                let saved: HashSet<u32> = next
                    .map(|n| {
                        sim.feed
                            .duplicate_sources(&n)
                            .into_iter()
                            .filter(|(s, _)| s.key == m.key)
                            .map(|(_, k)| k)
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, id) in ids.into_iter().enumerate() {
                    if saved.contains(&(k as u32)) {
                        push_id(&mut buf, &mut first, &id);
                        records += 1;
                    } else {
                        expired.push(id);
                    }
                }
            } else {
                for id in ids {
                    push_id(&mut buf, &mut first, &id);
                    records += 1;
                }
            }
            if buf.len() > 60_000 && !flush(&mut buf) {
                return;
            }
        }
        // Records published while running (Graph writes, directory sync, requested changes).
        for b in sim.runtime().published(ct, now) {
            blobs += 1;
            for r in &b.records {
                if b.meta.expiration <= now {
                    expired.push(r.id.clone());
                } else {
                    push_id(&mut buf, &mut first, &r.id);
                    records += 1;
                }
            }
        }
        buf.push_str("],\"expired_record_ids\":");
        buf.push_str(&serde_json::to_string(&expired).unwrap_or_else(|_| "[]".into()));
        buf.push_str(&format!(",\"blobs\":{blobs},\"records\":{records}}}"));
    }
    buf.push_str("},\"directory\":");
    let t = &sim.tenant;
    buf.push_str(&json!({"users": t.users.len(), "groups": t.groups.len(), "oauth_apps": t.apps.len(), "files": t.file_count(), "sites": t.sites.len()}).to_string());
    buf.push_str(",\"incidents\":[");
    let mut first = true;
    for inc in &sim.incidents {
        let ids: Vec<&String> = inc
            .records
            .iter()
            .filter(|(key, _)| sim.feed.meta(*key).is_some_and(|m| m.available <= horizon))
            .map(|(_, id)| id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        if !first {
            buf.push(',');
        }
        first = false;
        buf.push_str(
            &json!({
                "scenario": inc.scenario.name(),
                "users": inc.users,
                "start": inc.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "end": inc.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "record_ids": ids,
            })
            .to_string(),
        );
    }
    buf.push_str(&format!("],\"generated_at\":\"{}\"}}", now.to_rfc3339()));
    let _ = flush(&mut buf);
}

fn push_id(buf: &mut String, first: &mut bool, id: &str) {
    if !*first {
        buf.push(',');
    }
    *first = false;
    buf.push('"');
    buf.push_str(id);
    buf.push('"');
}

/// `GET /_sim/truth`: every record Id published so far, per content type, and the incidents.
/// Streamed, so a tenant of millions of records costs no memory.
pub async fn truth(State(sim): State<Arc<Sim>>) -> Response {
    sim.graph_tick();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::task::spawn_blocking(move || write_truth(&sim, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Filters for the request log.
#[derive(Debug, Deserialize)]
pub struct RequestsQuery {
    /// Only requests with a sequence number at or above this.
    since: Option<u64>,
    /// Only requests whose path contains this.
    path: Option<String>,
}

/// `GET /_sim/requests`: the request log as NDJSON (one request per line).
pub async fn requests(State(sim): State<Arc<Sim>>, Query(q): Query<RequestsQuery>) -> Response {
    let log = sim.log.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    for e in log.entries.iter().filter(|e| {
        e.seq >= q.since.unwrap_or(0) && q.path.as_deref().is_none_or(|p| e.path.contains(p))
    }) {
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    let dropped = log.dropped;
    drop(log);
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&dropped.to_string()) {
        r.headers_mut().insert("x-sim-dropped", v);
    }
    r
}

/// `GET /_sim/clock`.
pub async fn clock(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(
        json!({"now": sim.clock.now().to_rfc3339(), "started_at": sim.clock.start().to_rfc3339(), "horizon": sim.horizon().to_rfc3339()}),
    )
}

/// Body of `POST /_sim/clock`.
#[derive(Debug, Deserialize)]
pub struct Advance {
    /// Seconds to move the clock forward.
    advance_seconds: i64,
}

/// `POST /_sim/clock {"advance_seconds": N}`: jumps the clock forward (tokens expire, content
/// ages, live tenants publish what falls due).
pub async fn advance_clock(State(sim): State<Arc<Sim>>, Json(a): Json<Advance>) -> Response {
    let by = Duration::try_seconds(a.advance_seconds);
    match by.map(|d| sim.clock.advance(d)) {
        Some(Ok(())) => clock(State(sim)).await.into_response(),
        Some(Err(e)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "advance_seconds is out of range"})),
        )
            .into_response(),
    }
}

/// `GET /_sim/control`.
pub async fn get_control(State(sim): State<Arc<Sim>>) -> Json<Control> {
    Json(sim.control())
}

/// `POST /_sim/control`: switches unified audit logging and licensing on or off.
pub async fn set_control(State(sim): State<Arc<Sim>>, Json(c): Json<Control>) -> Json<Control> {
    *sim.control.lock().unwrap_or_else(|p| p.into_inner()) = c.clone();
    Json(c)
}
