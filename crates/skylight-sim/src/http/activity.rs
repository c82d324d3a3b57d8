//! The Office 365 Management Activity API: subscriptions, content listing and retrieval,
//! notifications and DLP sensitive-type names, with every documented rule and AF error code.

// Handlers return early with a ready `Response` as the error; it is large, and that is fine here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::errors::{af, unauthorized};
use super::token::{AccessClaims, Resource, check_bearer};
use super::{NotificationRecord, Sim, Subscription, Webhook, wait_text};
use crate::catalog::ContentType;
use crate::config::Fault;
use crate::feed::BlobMeta;
use crate::feed::ids::{self, PageCursor};
use crate::rng::{hash, hash_str, is_guid};

/// Query parameters, matched case-insensitively as the service does.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Query {
        let raw = raw.unwrap_or_default();
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (super::form_decode(k), super::form_decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The checks every Management API request goes through; returns the token's claims.
fn authorize(
    sim: &Sim,
    headers: &HeaderMap,
    tenant: &str,
    q: &Query,
    method: &str,
) -> Result<AccessClaims, Response> {
    let Some(claims) = check_bearer(sim, headers, Resource::Management) else {
        return Err(unauthorized());
    };
    if !is_guid(tenant) {
        return Err(af(
            StatusCode::BAD_REQUEST,
            "AF20013",
            format!("The tenant ID passed in the URL ({tenant}) is not a valid GUID."),
        ));
    }
    if !tenant.eq_ignore_ascii_case(&claims.tid) {
        return Err(af(
            StatusCode::BAD_REQUEST,
            "AF20010",
            format!(
                "The tenant ID passed in the URL ({tenant}) does not match the tenant ID passed in the access token ({}).",
                claims.tid
            ),
        ));
    }
    let roles = claims.roles.clone().unwrap_or_default();
    if !roles.iter().any(|r| r == "ActivityFeed.Read") {
        return Err(af(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            format!(
                "The permission set ({}) sent in the request did not include the expected permission ActivityFeed.Read.",
                roles.join(",")
            ),
        ));
    }
    if !sim.control().licensed {
        return Err(af(
            StatusCode::BAD_REQUEST,
            "AF20012",
            format!("Specified tenant ID ({tenant}) is incorrectly configured in the system."),
        ));
    }
    let publisher = q.get("PublisherIdentifier");
    if sim.throttled(publisher) {
        // Microsoft has answered AF429 with 403 as well as 429; clients must handle both.
        let status = if hash(&[sim.cfg.seed, sim.next_n()]).is_multiple_of(2) {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::FORBIDDEN
        };
        let pid = publisher.unwrap_or("00000000-0000-0000-0000-000000000000");
        let mut r = af(
            status,
            "AF429",
            format!("Too many requests. Method={method}, PublisherId={pid}"),
        );
        r.extensions_mut().insert(super::report::Throttled);
        return Err(r);
    }
    Ok(claims)
}

/// Reads `contentType`, answering AF20001 / AF20020.
fn content_type(q: &Query) -> Result<(ContentType, String), Response> {
    let Some(raw) = q.get("contentType") else {
        return Err(af(
            StatusCode::BAD_REQUEST,
            "AF20001",
            "Missing parameter: contentType.",
        ));
    };
    ContentType::parse(raw)
        .map(|ct| (ct, raw.to_string()))
        .ok_or_else(|| {
            af(
                StatusCode::BAD_REQUEST,
                "AF20020",
                "The specified content type is not valid.",
            )
        })
}

/// DLP.All needs `ActivityFeed.ReadDlp` on top of `ActivityFeed.Read` (contract §1.4).
fn require_dlp(claims: &AccessClaims, ct: ContentType) -> Result<(), Response> {
    let roles = claims.roles.clone().unwrap_or_default();
    if ct == ContentType::Dlp && !roles.iter().any(|r| r == "ActivityFeed.ReadDlp") {
        return Err(af(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            format!(
                "The permission set ({}) sent in the request did not include the expected permission ActivityFeed.ReadDlp.",
                roles.join(",")
            ),
        ));
    }
    Ok(())
}

/// Authorizes the request and reads its content type, checking the DLP permission for DLP.All.
fn authorize_ct(
    sim: &Sim,
    headers: &HeaderMap,
    tenant: &str,
    q: &Query,
    method: &str,
) -> Result<(AccessClaims, ContentType, String), Response> {
    let claims = authorize(sim, headers, tenant, q, method)?;
    let (ct, spelled) = content_type(q)?;
    require_dlp(&claims, ct)?;
    Ok((claims, ct, spelled))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    r
}

fn subscription_json(ct_spelled: &str, s: &Subscription) -> Value {
    json!({
        "contentType": ct_spelled,
        "status": if s.enabled { "enabled" } else { "disabled" },
        "webhook": s.webhook.as_ref().map(|w| serde_json::to_value(w).unwrap_or(Value::Null)),
    })
}

/// `POST …/subscriptions/start`.
pub async fn start(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw);
    let (claims, ct, spelled) = match authorize_ct(&sim, &headers, &tenant, &q, "POST") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = sim.clock.now();
    if !sim.control().audit_enabled {
        let pid = q
            .get("PublisherIdentifier")
            .unwrap_or("00000000-0000-0000-0000-000000000000");
        let text = format!(
            "StartSubscription [TenantId={tenant}, ContentType={}, ApplicationId={}, PublisherId={pid}] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant {tenant} does not exist.",
            ct.as_str(),
            claims.appid
        );
        return af(StatusCode::BAD_REQUEST, "AF20011", text);
    }

    // Optional webhook.
    let webhook = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return af(
                    StatusCode::BAD_REQUEST,
                    "AF20002",
                    "Invalid parameter type: webhook. Expected type: json",
                );
            }
        };
        match parsed.get("webhook") {
            None | Some(Value::Null) => None,
            Some(w) => {
                let address = w
                    .get("address")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let auth_id = w.get("authId").and_then(Value::as_str).map(String::from);
                let expiration = w
                    .get("expiration")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(String::from);
                if let Some(exp) = &expiration {
                    match ids::parse_query_time(exp) {
                        Some(t) if t <= now => {
                            return af(
                                StatusCode::BAD_REQUEST,
                                "AF20003",
                                format!("Expiration {exp} provided is set to past date and time."),
                            );
                        }
                        Some(_) => {}
                        None => {
                            return af(
                                StatusCode::BAD_REQUEST,
                                "AF20002",
                                "Invalid parameter type: expiration. Expected type: datetime",
                            );
                        }
                    }
                }
                let https = address.to_ascii_lowercase().starts_with("https://");
                if !(https
                    || (sim.cfg.allow_http_webhooks
                        && address.to_ascii_lowercase().starts_with("http://")))
                {
                    return af(
                        StatusCode::BAD_REQUEST,
                        "AF20021",
                        format!(
                            "The webhook endpoint {{{address}) could not be validated. The address must begin with HTTPS."
                        ),
                    );
                }
                if !validate_webhook(&address, auth_id.as_deref()).await {
                    return af(
                        StatusCode::BAD_REQUEST,
                        "AF20021",
                        format!(
                            "The webhook endpoint {{{address}) could not be validated. The endpoint did not return HTTP 200."
                        ),
                    );
                }
                Some(Webhook {
                    status: "enabled".into(),
                    address,
                    auth_id,
                    expiration,
                })
            }
        }
    };

    let mut subs = sim.subs();
    if let Some(existing) = subs.get_mut(&ct) {
        let since = now - existing.last_start;
        if since < Duration::minutes(15) {
            let left = Duration::minutes(15) - since;
            return af(
                StatusCode::TOO_MANY_REQUESTS,
                "AF429",
                format!(
                    "Too many frequent subscription start requests. Please retry again after {}",
                    wait_text(left)
                ),
            );
        }
        let unchanged = existing.enabled
            && existing
                .webhook
                .as_ref()
                .map(|w| (&w.address, &w.auth_id, &w.expiration))
                == webhook
                    .as_ref()
                    .map(|w| (&w.address, &w.auth_id, &w.expiration));
        existing.last_start = now;
        if unchanged {
            return af(
                StatusCode::BAD_REQUEST,
                "AF20024",
                "The subscription is already enabled. No property change.",
            );
        }
        if !existing.enabled {
            // After a stop, only content made available from the restart onward is reachable.
            existing.floor = Some(now);
        }
        existing.enabled = true;
        existing.webhook = webhook;
        existing.spelled = spelled.clone();
        return json_response(StatusCode::OK, &subscription_json(&spelled, existing));
    }
    let sub = Subscription {
        enabled: true,
        spelled: spelled.clone(),
        webhook,
        last_start: now,
        floor: None,
    };
    let body = subscription_json(&spelled, &sub);
    subs.insert(ct, sub);
    json_response(StatusCode::OK, &body)
}

/// Sends the validation request a new webhook must answer with 200.
async fn validate_webhook(address: &str, auth_id: Option<&str>) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    else {
        return false;
    };
    let code = format!("{:016x}", hash(&[hash_str(address), 0x5A11]));
    let mut req = client
        .post(address)
        .header("Webhook-ValidationCode", &code)
        .json(&json!({"validationCode": code}));
    if let Some(a) = auth_id {
        req = req.header("Webhook-AuthID", a);
    }
    matches!(req.send().await, Ok(r) if r.status() == reqwest::StatusCode::OK)
}

/// `POST …/subscriptions/stop`.
pub async fn stop(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    let (_, ct, _) = match authorize_ct(&sim, &headers, &tenant, &q, "POST") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut subs = sim.subs();
    match subs.get_mut(&ct) {
        Some(s) => {
            s.enabled = false;
            s.webhook = None;
            StatusCode::OK.into_response()
        }
        None => af(
            StatusCode::BAD_REQUEST,
            "AF20022",
            "No subscription found for the specified content type.",
        ),
    }
}

/// `GET …/subscriptions/list`: only content types ever started appear.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    if let Err(r) = authorize(&sim, &headers, &tenant, &q, "GET") {
        return r;
    }
    let subs = sim.subs();
    let items: Vec<Value> = subs
        .values()
        .map(|s| subscription_json(&s.spelled, s))
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}

/// The listing window: both bounds or neither, at most 24 h, starting at most 7 days back.
fn window(q: &Query, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>, bool), Response> {
    let rule = || {
        af(
            StatusCode::BAD_REQUEST,
            "AF20030",
            "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.",
        )
    };
    match (q.get("startTime"), q.get("endTime")) {
        (None, None) => Ok((now - Duration::hours(24), now, false)),
        (Some(_), None) | (None, Some(_)) => Err(rule()),
        (Some(s), Some(e)) => {
            let start = ids::parse_query_time(s).ok_or_else(|| {
                af(
                    StatusCode::BAD_REQUEST,
                    "AF20002",
                    "Invalid parameter type: startTime. Expected type: datetime",
                )
            })?;
            let end = ids::parse_query_time(e).ok_or_else(|| {
                af(
                    StatusCode::BAD_REQUEST,
                    "AF20002",
                    "Invalid parameter type: endTime. Expected type: datetime",
                )
            })?;
            if start >= end {
                return Err(af(
                    StatusCode::BAD_REQUEST,
                    "AF20055",
                    "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.",
                ));
            }
            if end - start > Duration::hours(24) || start < now - Duration::days(7) {
                return Err(rule());
            }
            Ok((start, end, true))
        }
    }
}

/// Checks the subscription allows reading content; returns the availability floor.
fn readable(sim: &Sim, ct: ContentType) -> Result<Option<DateTime<Utc>>, Response> {
    if !sim.control().audit_enabled {
        return Err(af(
            StatusCode::BAD_REQUEST,
            "AF20023",
            "The subscription was disabled by a service admin.",
        ));
    }
    match sim.subs().get(&ct) {
        None => Err(af(
            StatusCode::BAD_REQUEST,
            "AF20022",
            "No subscription found for the specified content type.",
        )),
        Some(s) if !s.enabled => Err(af(
            StatusCode::BAD_REQUEST,
            "AF20023",
            "The subscription was disabled by a tenant admin.",
        )),
        Some(s) => Ok(s.floor),
    }
}

fn content_object(sim: &Sim, tenant: &str, spelled: &str, m: &BlobMeta) -> Value {
    let id = sim.feed.content_id(m);
    json!({
        "contentType": spelled,
        "contentId": id,
        "contentUri": format!("{}/api/v1.0/{tenant}/activity/feed/audit/{id}", sim.urls.manage),
        "contentCreated": ids::time_ms(m.created),
        "contentExpiration": ids::time_ms(m.expiration),
    })
}

/// `GET …/subscriptions/content`.
pub async fn content(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    let (claims, ct, spelled) = match authorize_ct(&sim, &headers, &tenant, &q, "GET") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let floor = match readable(&sim, ct) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = sim.clock.now();
    let (start, end, _) = match window(&q, now) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let cursor = match q.get("nextPage") {
        None => None,
        Some(tok) => match ids::parse_next_page(tok, start, sim.feed.region) {
            Some(c) if c.created >= start && c.created < end => Some(c),
            _ => {
                return af(
                    StatusCode::BAD_REQUEST,
                    "AF20031",
                    format!("Invalid nextPage Input: {tok}."),
                );
            }
        },
    };

    sim.graph_tick();
    let sim2 = sim.clone();
    let horizon = sim.horizon();
    let all = tokio::task::spawn_blocking(move || {
        let to = end.min(horizon + Duration::nanoseconds(1));
        let mut v = sim2.feed.blobs_created_in(ct, start, to);
        // Listed once available, filtered on `contentCreated` (which may lie before `now`).
        v.retain(|m| m.available <= horizon && floor.is_none_or(|f| m.created >= f));
        // Records of Graph writes and other run-time changes, published even in a static tenant.
        let live_to = end.min(now + Duration::nanoseconds(1));
        v.extend(
            sim2.runtime()
                .created_in(ct, start, live_to, now)
                .into_iter()
                .filter(|m| floor.is_none_or(|f| m.created >= f)),
        );
        v.sort_by_key(|m| (m.created, m.key.shard));
        v
    })
    .await
    .unwrap_or_default();

    let pos = cursor.map_or(0, |c| {
        all.partition_point(|m| (m.created, m.key.shard) < (c.created, c.shard))
    });
    let page_size = sim.cfg.page_size.max(1);
    let seed = sim.cfg.seed;
    let page_hash = hash(&[seed, hash_str("page"), start.timestamp() as u64, pos as u64]);

    // `gaps`: now and then a page comes back empty, pointing at the same position.
    if sim.cfg.has(Fault::Gaps)
        && pos < all.len()
        && page_hash.is_multiple_of(7)
        && !cursor.is_some_and(|c| c.empty_served)
    {
        let c = PageCursor {
            created: all[pos].created,
            shard: all[pos].key.shard,
            empty_served: true,
        };
        return with_next_page(
            json_response(StatusCode::OK, &Value::Array(Vec::new())),
            &sim,
            &tenant,
            ct,
            start,
            end,
            c,
        );
    }

    let stop = (pos + page_size).min(all.len());
    let mut items: Vec<&BlobMeta> = all[pos..stop].iter().collect();
    if sim.cfg.has(Fault::Duplicates) && pos > 0 && page_hash.is_multiple_of(3) {
        // The same blob listed again on the next page.
        items.insert(0, &all[pos - 1]);
    }
    if sim.cfg.has(Fault::Shuffle) {
        let mut r = crate::rng::Rng::new(&[page_hash, 5]);
        for i in (1..items.len()).rev() {
            items.swap(i, r.below(i as u64 + 1) as usize);
        }
    }
    let body = Value::Array(
        items
            .iter()
            .map(|m| content_object(&sim, &tenant, &spelled, m))
            .collect(),
    );
    sim.drain.listed(
        &claims.appid,
        body.as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["contentId"].as_str().map(String::from)),
    );
    let response = json_response(StatusCode::OK, &body);
    if stop < all.len() {
        let c = PageCursor {
            created: all[stop].created,
            shard: all[stop].key.shard,
            empty_served: false,
        };
        return with_next_page(response, &sim, &tenant, ct, start, end, c);
    }
    response
}

/// Adds the `NextPageUri` header in its real form: lowercase keys, 7-digit times, no PublisherIdentifier.
fn with_next_page(
    mut r: Response,
    sim: &Sim,
    tenant: &str,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    c: PageCursor,
) -> Response {
    let uri = format!(
        "{}/api/v1.0/{tenant}/activity/feed/subscriptions/content?contenttype={}&endtime={}&starttime={}&nextpage={}",
        sim.urls.manage,
        ct.as_str(),
        ids::time7(end),
        ids::time7(start),
        ids::next_page_token(c, start, sim.feed.region)
    );
    if let Ok(v) = HeaderValue::from_str(&uri) {
        r.headers_mut().insert("NextPageUri", v);
    }
    r
}

/// `GET …/audit/{contentId}`: the blob, a JSON array of records.
pub async fn retrieve(
    State(sim): State<Arc<Sim>>,
    Path((tenant, content_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    let claims = match authorize(&sim, &headers, &tenant, &q, "GET") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(parsed) = ids::parse_content_id(&content_id, sim.feed.region) else {
        return af(
            StatusCode::BAD_REQUEST,
            "AF20052",
            format!("Content ID {content_id} in the URL is invalid."),
        );
    };
    if let Err(r) = require_dlp(&claims, parsed.ct) {
        return r;
    }
    let missing = || {
        af(
            StatusCode::NOT_FOUND,
            "AF20050",
            format!("The specified content ({content_id}) does not exist."),
        )
    };
    let floor = match readable(&sim, parsed.ct) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let key = crate::feed::ids::BlobKey {
        ct: parsed.ct,
        slot: sim.feed.slot_of(parsed.slot_start),
        shard: parsed.shard,
    };
    if parsed.shard >= crate::feed::runtime::FIRST_SHARD {
        sim.graph_tick();
        let now = sim.clock.now();
        let found = sim
            .runtime()
            .get(key, parsed.created)
            .filter(|b| b.meta.available <= now && floor.is_none_or(|f| b.meta.created >= f))
            .map(|b| {
                let json = crate::feed::runtime::RuntimeFeed::blob_json(b);
                (b.meta, json, b.records.len() as u32)
            });
        let Some((meta, bytes, served)) = found else {
            return missing();
        };
        if meta.expiration <= now {
            return af(
                StatusCode::BAD_REQUEST,
                "AF20051",
                format!(
                    "Content requested with the key {content_id} has already expired. Content older than 7 days cannot be retrieved."
                ),
            );
        }
        let mut r = Response::new(Body::from(bytes));
        r.extensions_mut().insert(super::report::Served {
            client_id: claims.appid,
            content_id,
            records: served,
        });
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return r;
    }
    let Some(meta) = sim.feed.meta(key) else {
        return missing();
    };
    if meta.created != parsed.created
        || sim.feed.slot_start(key.slot) != parsed.slot_start
        || meta.available > sim.horizon()
        || floor.is_some_and(|f| meta.created < f)
    {
        return missing();
    }
    if meta.expiration <= sim.clock.now() {
        return af(
            StatusCode::BAD_REQUEST,
            "AF20051",
            format!(
                "Content requested with the key {content_id} has already expired. Content older than 7 days cannot be retrieved."
            ),
        );
    }
    let (bytes, served) = match sim.prebuilt(&key) {
        Some(built) => built,
        None => {
            let shuffle = sim.cfg.has(Fault::Shuffle);
            let sim2 = sim.clone();
            tokio::task::spawn_blocking(move || {
                let copies = sim2.feed.duplicate_sources(&meta).len() as u32;
                (
                    bytes::Bytes::from(sim2.feed.blob_json(&meta, shuffle)),
                    meta.count() + copies,
                )
            })
            .await
            .unwrap_or_else(|_| (bytes::Bytes::from_static(b"[]"), 0))
        }
    };
    let mut r = Response::new(Body::from(bytes));
    r.extensions_mut().insert(super::report::Served {
        client_id: claims.appid,
        content_id,
        records: served,
    });
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// `GET …/subscriptions/notifications`: webhook delivery history.
pub async fn notifications(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    let (_, ct, _) = match authorize_ct(&sim, &headers, &tenant, &q, "GET") {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = readable(&sim, ct) {
        return r;
    }
    let (start, end, _) = match window(&q, sim.clock.now()) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let list: Vec<NotificationRecord> = sim
        .notifications
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|n| {
            ContentType::parse(&n.content_type) == Some(ct) && n.sent_at >= start && n.sent_at < end
        })
        .cloned()
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::to_value(list).unwrap_or(Value::Array(Vec::new())),
    )
}

/// `GET …/resources/dlpSensitiveTypes`: friendly names of DLP sensitive information types.
pub async fn dlp_sensitive_types(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw);
    if let Err(r) = authorize(&sim, &headers, &tenant, &q, "GET") {
        return r;
    }
    if let Some(lang) = headers.get(header::ACCEPT_LANGUAGE) {
        let Ok(lang) = lang.to_str() else {
            return af(
                StatusCode::BAD_REQUEST,
                "AF20054",
                "Invalid syntax in Accept-Language header.",
            );
        };
        if lang.contains(',') {
            return af(
                StatusCode::BAD_REQUEST,
                "AF20053",
                "Only one language may be present in the Accept-Language header.",
            );
        }
        let ok = lang
            .split('-')
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return af(
                StatusCode::BAD_REQUEST,
                "AF20054",
                "Invalid syntax in Accept-Language header.",
            );
        }
    }
    let types: Vec<Value> = crate::records::SENSITIVE_TYPES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    json_response(StatusCode::OK, &Value::Array(types))
}

/// Sends webhook notifications for content published since the last tick (live tenants).
pub async fn deliver_notifications(sim: Arc<Sim>, since: DateTime<Utc>, until: DateTime<Utc>) {
    let targets: Vec<(ContentType, Webhook, String)> = sim
        .subs()
        .iter()
        .filter(|(_, s)| s.enabled)
        .filter_map(|(ct, s)| {
            s.webhook
                .clone()
                .filter(|w| w.status == "enabled")
                .map(|w| (*ct, w, s.spelled.clone()))
        })
        .collect();
    for (ct, hook, spelled) in targets {
        // Notified when they become available, which can be hours after `contentCreated`.
        let mut blobs = sim
            .feed
            .blobs_created_in(ct, since - Duration::hours(4), until);
        blobs.retain(|m| m.available > since && m.available <= until);
        blobs.extend(sim.runtime().available_in(ct, since, until));
        if blobs.is_empty() {
            continue;
        }
        let tenant = sim.tenant.tenant_id.clone();
        let client_id = sim.tenant.registrations[0].client_id.clone();
        let items: Vec<Value> = blobs
            .iter()
            .map(|m| {
                let mut o = content_object(&sim, &tenant, &spelled, m);
                o["tenantId"] = json!(tenant);
                o["clientId"] = json!(client_id);
                o
            })
            .collect();
        let Ok(client) = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
        else {
            continue;
        };
        let status = match client
            .post(&hook.address)
            .header("Webhook-AuthID", hook.auth_id.clone().unwrap_or_default())
            .json(&items)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16().to_string(),
            Err(_) => "failed".to_string(),
        };
        let now = sim.clock.now();
        let mut log = sim.notifications.lock().unwrap_or_else(|p| p.into_inner());
        for o in items {
            if log.len() >= 100_000 {
                log.pop_front();
            }
            log.push_back(NotificationRecord {
                content_type: spelled.clone(),
                content_id: o["contentId"].as_str().unwrap_or_default().to_string(),
                content_uri: o["contentUri"].as_str().unwrap_or_default().to_string(),
                content_created: o["contentCreated"].as_str().unwrap_or_default().to_string(),
                content_expiration: o["contentExpiration"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                notification_sent: ids::time_ms(now),
                notification_status: status.clone(),
                sent_at: now,
            });
        }
    }
}
