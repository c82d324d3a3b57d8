//! Microsoft Graph v1.0 (contract §4, §7) under `/v1.0/…` (and `/graph/v1.0/…`): app-only
//! bearer tokens with their `roles`, Graph's error JSON, paging with opaque `$skiptoken`, delta
//! queries, throttling and faults, and the write log tests read through `/_sim/graph/writes`.
//!
//! Requests are routed by hand rather than by the router: OData paths (`users('x')`,
//! `root:/a/b:/children`, `delta(token='…')`) do not fit path templates.

// Handlers return early with a ready `Response` as the error; it is large, and that is fine here.
#![allow(clippy::result_large_err)]

mod apps;
pub mod control;
mod directory;
mod files;
mod query;
mod render;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};

use super::Sim;
use super::token::{BearerError, Resource, decode_bearer};
use crate::graph::audit::Actor;
use crate::graph::ops::{OpError, err};
use crate::graph::{FaultRule, GraphState, WriteEntry};
use crate::rng::{guid, hash, hash_str, mix64};
use query::Params;

/// What a route answers: a response, or a Graph error to render.
pub type Reply = Result<Response, OpError>;

/// The workload classes Graph throttles separately (contract §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Users, groups, roles, applications, grants.
    Identity,
    /// Sites and drives.
    Files,
    /// Sign-in logs.
    Reports,
    /// Identity Protection (429 without Retry-After).
    Protection,
}

/// Token buckets per application for each class, used with the `throttle` fault profile.
#[derive(Debug)]
pub struct Limits {
    identity: DefaultKeyedRateLimiter<String>,
    files: DefaultKeyedRateLimiter<String>,
    reports: DefaultKeyedRateLimiter<String>,
    protection: DefaultKeyedRateLimiter<String>,
}

impl Limits {
    /// Buckets when throttling is on. Lower than Microsoft's real figures so that tests and
    /// demos meet throttling without millions of requests; the shape (per app, per class,
    /// 1/s without Retry-After for Identity Protection, 5 per 10 s for reports) is Microsoft's.
    pub fn new(on: bool) -> Option<Limits> {
        let q = |per_sec: u32, burst: u32| {
            Quota::per_second(
                std::num::NonZeroU32::new(per_sec).unwrap_or(std::num::NonZeroU32::MIN),
            )
            .allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN))
        };
        let reports = Quota::with_period(std::time::Duration::from_secs(2))
            .map(|x| {
                x.allow_burst(std::num::NonZeroU32::new(5).unwrap_or(std::num::NonZeroU32::MIN))
            })
            .unwrap_or_else(|| q(1, 5));
        on.then(|| Limits {
            identity: RateLimiter::keyed(q(20, 40)),
            files: RateLimiter::keyed(q(20, 40)),
            reports: RateLimiter::keyed(reports),
            protection: RateLimiter::keyed(q(1, 1)),
        })
    }

    /// `None` when the request may go, or the seconds to wait.
    fn check(&self, class: Class, app: &str) -> Option<f64> {
        let l = match class {
            Class::Identity => &self.identity,
            Class::Files => &self.files,
            Class::Reports => &self.reports,
            Class::Protection => &self.protection,
        };
        l.check_key(&app.to_ascii_lowercase()).err().map(|nu| {
            nu.wait_time_from(DefaultClock::default().now())
                .as_secs_f64()
                .max(0.05)
        })
    }
}

/// Everything a route needs about the request.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The simulator.
    pub sim: &'a Sim,
    /// Method.
    pub method: Method,
    /// Path segments after `/v1.0`, percent-decoded.
    pub segs: Vec<String>,
    /// Query parameters.
    pub q: Params,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Request body.
    pub body: &'a [u8],
    /// `https://…/v1.0`: where links point.
    pub base: String,
    /// The path after `/v1.0`, as sent.
    pub path: String,
    /// Simulator time.
    pub now: DateTime<Utc>,
    /// The token's application permissions.
    pub roles: Vec<String>,
    /// The calling application.
    pub actor: Actor,
    /// Seed (tokens are keyed with it).
    pub seed: u64,
    /// `request-id` of this request.
    pub request_id: String,
    /// `client-request-id` (echoed, or the request id).
    pub client_request_id: String,
}

impl Ctx<'_> {
    /// Refuses the request unless the token holds one of `roles` (403 `Authorization_RequestDenied`).
    pub fn require(&self, roles: &[&str]) -> Result<(), OpError> {
        if roles.iter().any(|r| self.roles.iter().any(|x| x == r)) {
            Ok(())
        } else {
            Err(err(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ))
        }
    }

    /// The same for files and sites, which answer `accessDenied`.
    pub fn require_files(&self, roles: &[&str]) -> Result<(), OpError> {
        self.require(roles).map_err(|_| {
            err(
                403,
                "accessDenied",
                "The caller does not have permission to perform the action.",
            )
        })
    }

    /// `true` for advanced queries (`ConsistencyLevel: eventual`).
    pub fn eventual(&self) -> bool {
        self.headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
    }

    /// The request body as a JSON object (400 when it is not one).
    pub fn json_body(&self) -> Result<serde_json::Map<String, Value>, OpError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(err(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )),
        }
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A Graph error response with this request's ids.
    pub fn error(&self, e: &OpError) -> Response {
        error_response(self.now, e, &self.request_id, &self.client_request_id)
    }

    /// An absolute link under `/v1.0`.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// The `@odata.nextLink` continuing this request (at `path`) after `key`.
    pub fn next_link_at(&self, path: &str, what: &str, key: &str) -> String {
        let rest = self.q.without(&["$skiptoken"]);
        let tok = crate::graph::tokens::skip_encode(self.seed, what, key);
        let sep = if rest.is_empty() {
            String::new()
        } else {
            format!("{rest}&")
        };
        format!("{}{path}?{sep}$skiptoken={tok}", self.base)
    }
}

/// Graph's error JSON (contract §4.1): `{"error":{"code","message","innerError":{…}}}`.
pub fn error_body(
    now: DateTime<Utc>,
    e: &OpError,
    request_id: &str,
    client_request_id: &str,
) -> Value {
    let mut inner = json!({
        "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": request_id,
        "client-request-id": client_request_id,
    });
    if let Some(c) = e.inner {
        inner["code"] = json!(c);
    }
    json!({"error": {"code": e.code, "message": e.message, "innerError": inner}})
}

/// A Graph error response.
pub fn error_response(
    now: DateTime<Utc>,
    e: &OpError,
    request_id: &str,
    client_request_id: &str,
) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(status, &error_body(now, e, request_id, client_request_id));
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""),
        );
    }
    r
}

/// A JSON response with Graph's content type.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
    );
    r
}

/// 200 with a JSON body.
pub fn ok(v: Value) -> Reply {
    Ok(json_response(StatusCode::OK, &v))
}

/// 204 No Content.
pub fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Splits a path into decoded segments.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(query::pct_decode)
        .collect()
}

/// Who and when a fault answers: for the error body and the throttle headers.
struct FaultCtx<'a> {
    now: DateTime<Utc>,
    app: &'a str,
    tenant: &'a str,
    request_id: &'a str,
    client_request_id: &'a str,
}

/// A `429`/`5xx` in Graph's shape, with `Retry-After` and throttle headers where they belong.
fn fault_response(
    f: &FaultCtx<'_>,
    status: u16,
    retry_after: Option<&str>,
    files: bool,
) -> Response {
    let (code, message) = match status {
        429 if files => ("activityLimitReached", "The request has been throttled"),
        429 => ("TooManyRequests", "Please retry after"),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry after the time in Retry-After.",
        ),
        504 => (
            "gatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
        502 => ("badGateway", "The gateway received an invalid response."),
        _ => ("generalException", "An unspecified error has occurred."),
    };
    let e = err(status, code, message);
    let mut r = error_response(f.now, &e, f.request_id, f.client_request_id);
    let h = r.headers_mut();
    if let Some(ra) = retry_after.filter(|v| !v.is_empty())
        && let Ok(v) = HeaderValue::from_str(ra)
    {
        h.insert(header::RETRY_AFTER, v);
    }
    if status == 429 {
        let scope = format!("Tenant_Application/ReadWrite/{}/{}", f.app, f.tenant);
        if let Ok(v) = HeaderValue::from_str(&scope) {
            h.insert("x-ms-throttle-scope", v);
        }
        h.insert(
            "x-ms-throttle-information",
            HeaderValue::from_static("CommonThrottle/ResourceUnitLimitExceeded"),
        );
        h.insert(
            "x-ms-throttle-limit-percentage",
            HeaderValue::from_static("1.8"),
        );
    }
    r
}

/// The `flaky` profile's failures on Graph paths (the middleware picks when).
pub fn flaky_error(sim: &Sim, roll: u32, n: u64) -> Response {
    let rid = guid(mix64(n), mix64(n ^ 0x51));
    let f = FaultCtx {
        now: sim.clock.now(),
        app: "",
        tenant: &sim.tenant.tenant_id,
        request_id: &rid,
        client_request_id: &rid,
    };
    match roll {
        0..=29 => fault_response(&f, 503, Some("1"), false),
        30..=39 => fault_response(&f, 504, None, false),
        _ => fault_response(&f, 500, None, false),
    }
}

/// Picks the armed fault that answers this request, counting it down.
fn pick_fault(
    st: &mut GraphState,
    method: &Method,
    path: &str,
    n: u64,
    seed: u64,
) -> Option<FaultRule> {
    let mut chosen = None;
    for (i, rule) in st.faults.iter_mut().enumerate() {
        if rule.count == Some(0) {
            continue;
        }
        if rule
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method.as_str()))
        {
            continue;
        }
        if rule
            .path_contains
            .as_deref()
            .is_some_and(|p| !path.contains(p))
        {
            continue;
        }
        if let Some(p) = rule.probability {
            let roll =
                (hash(&[seed, hash_str("graph-fault"), n, i as u64]) % 1_000_000) as f64 / 1e6;
            if roll >= p {
                continue;
            }
        }
        if let Some(c) = rule.count.as_mut() {
            *c -= 1;
        }
        chosen = Some(rule.clone());
        break;
    }
    st.faults.retain(|r| r.count != Some(0));
    chosen
}

fn class_of(segs: &[String]) -> Class {
    let first = segs.first().map(String::as_str).unwrap_or_default();
    let second = segs.get(2).map(String::as_str).unwrap_or_default();
    match first {
        "identityProtection" => Class::Protection,
        "auditLogs" => Class::Reports,
        "sites" | "drives" => Class::Files,
        "users" | "groups" if second == "drive" || second == "drives" => Class::Files,
        _ => Class::Identity,
    }
}

/// `/v1.0/{*rest}`: every Graph request.
pub async fn dispatch(
    State(sim): State<Arc<Sim>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = sim.clone();
    match tokio::task::spawn_blocking(move || handle(&s, method, &uri, &headers, &body)).await {
        Ok(r) => r,
        Err(_) => {
            let now = sim.clock.now();
            error_response(
                now,
                &err(
                    500,
                    "generalException",
                    "An unspecified error has occurred.",
                ),
                "",
                "",
            )
        }
    }
}

fn handle(sim: &Sim, method: Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let now = sim.clock.now();
    let raw = uri.path();
    let (prefix, rest) = match raw.strip_prefix("/graph/v1.0") {
        Some(r) => ("/graph/v1.0", r),
        None => ("/v1.0", raw.strip_prefix("/v1.0").unwrap_or(raw)),
    };
    let n = sim.next_n();
    let request_id = guid(mix64(n ^ 0x6A), mix64(n ^ 0x51));
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| request_id.clone());
    let segs = segments(rest);
    let class = class_of(&segs);
    let is_write = !matches!(method, Method::GET | Method::HEAD);
    let tenant = sim.tenant.tenant_id.clone();
    let path_q = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };

    let finish = |mut r: Response| -> Response {
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&client_request_id) {
            h.insert("client-request-id", v);
        }
        h.insert(
            "x-ms-ags-diagnostic",
            HeaderValue::from_static(r#"{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"002","RoleInstance":"AM2PEPF0000SIM1"}}"#),
        );
        if class == Class::Identity {
            h.insert("x-ms-resource-unit", HeaderValue::from_static("1"));
        }
        r
    };

    // Authentication first: throttling and faults apply to callers Graph has identified.
    let claims = match decode_bearer(sim, headers, Resource::Graph) {
        Ok(c) => c,
        Err(e) => {
            let message = match e {
                BearerError::Missing => "Access token is empty.",
                BearerError::Invalid => "Access token validation failure.",
                BearerError::Expired => "Access token has expired or is not yet valid.",
                BearerError::WrongAudience => "Access token validation failure. Invalid audience.",
            };
            let r = error_response(
                now,
                &err(401, "InvalidAuthenticationToken", message),
                &request_id,
                &client_request_id,
            );
            return finish(r);
        }
    };
    let app = claims.appid.clone();
    let fctx = FaultCtx {
        now,
        app: &app,
        tenant: &tenant,
        request_id: &request_id,
        client_request_id: &client_request_id,
    };

    let mut st = sim.graph();
    st.tick(now);
    let fault = pick_fault(&mut st, &method, &path_q, n, sim.cfg.seed);
    let log_write = |st: &mut GraphState, status: u16, applied: bool, ids: Vec<String>| {
        if is_write {
            let seq = st.writes.len() as u64 + 1;
            st.writes.push(WriteEntry {
                seq,
                time: now.to_rfc3339(),
                method: method.to_string(),
                path: format!("{prefix}{path_q}"),
                status,
                app_id: app.clone(),
                applied,
                record_ids: ids,
            });
        }
    };
    if let Some(f) = fault.as_ref().filter(|f| !f.after_apply) {
        let r = fault_response(
            &fctx,
            f.status,
            f.retry_after.as_deref(),
            class == Class::Files,
        );
        log_write(&mut st, f.status, false, Vec::new());
        sim.flush(&mut st);
        return finish(r);
    }
    if let Some(limits) = &sim.graph_limits
        && let Some(wait) = limits.check(class, &app)
    {
        let ra = (class != Class::Protection).then(|| format!("{:.3}", wait));
        let r = fault_response(&fctx, 429, ra.as_deref(), class == Class::Files);
        log_write(&mut st, 429, false, Vec::new());
        return finish(r);
    }

    let sp_id = crate::graph::generate::registration_sp_id(&app);
    let name = st
        .sps
        .get(&sp_id)
        .map(|s| s.display_name.clone())
        .unwrap_or_else(|| "Skylight".into());
    let c = Ctx {
        sim,
        method: method.clone(),
        segs,
        q: Params::parse(uri.query()),
        headers,
        body,
        base: format!("{}{prefix}", sim.public_url.trim_end_matches('/')),
        path: rest.to_string(),
        now,
        roles: claims.roles.clone().unwrap_or_default(),
        actor: Actor::App {
            app_id: app.clone(),
            sp_id,
            name,
        },
        seed: sim.cfg.seed,
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
    };
    let seq_before = st.seq;
    let audit_before = st.audit_log.len();
    let mut response = match route(&c, &mut st) {
        Ok(r) => r,
        Err(e) => c.error(&e),
    };
    let applied = st.seq != seq_before || st.audit_log.len() != audit_before;
    let ids: Vec<String> = st.audit_log[audit_before..]
        .iter()
        .map(|a| a.id.clone())
        .collect();
    if let Some(f) = fault {
        response = fault_response(
            &fctx,
            f.status,
            f.retry_after.as_deref(),
            class == Class::Files,
        );
    }
    log_write(&mut st, response.status().as_u16(), applied, ids);
    sim.flush(&mut st);
    finish(response)
}

/// Splits `name('key')` / `name(param='value')` into the name and the quoted value.
pub fn key_syntax(seg: &str) -> (String, Option<String>) {
    match seg.split_once('(') {
        Some((name, rest)) if rest.ends_with(')') => {
            let inner = &rest[..rest.len() - 1];
            let value = inner
                .split_once('=')
                .map_or(inner, |(_, v)| v)
                .trim()
                .trim_matches('\'')
                .replace("''", "'");
            (name.to_string(), (!inner.is_empty()).then_some(value))
        }
        _ => (seg.to_string(), None),
    }
}

fn route(c: &Ctx<'_>, st: &mut GraphState) -> Reply {
    let first = c.segs.first().map(String::as_str).unwrap_or_default();
    let (head, key) = key_syntax(first);
    match head.as_str() {
        "me" => Err(err(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        "users" => directory::users(c, st, key),
        "groups" => directory::groups(c, st, key),
        "directoryRoles" => directory::roles(c, st, key),
        "identityProtection" => directory::risky(c, st),
        "auditLogs" => directory::sign_ins(c, st),
        "servicePrincipals" => apps::service_principals(c, st, key),
        "oauth2PermissionGrants" => apps::grants(c, st),
        "sites" => files::sites(c, st, key),
        "drives" => files::drives(c, st),
        "" => ok(json!({"@odata.context": format!("{}/$metadata", c.base), "value": []})),
        _ => Err(err(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{first}'."),
        )),
    }
}

/// `GET /_api/v2.0/monitor/{job}`: a copy's progress (no token needed, as Microsoft's monitor
/// URLs). The first poll reports it in progress, later ones completed.
pub async fn monitor(State(sim): State<Arc<Sim>>, Path(job): Path<String>) -> Response {
    let mut st = sim.graph();
    let Some(j) = st.copy_jobs.get_mut(&job) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "itemNotFound", "message": "The copy job was not found."}}),
        );
    };
    j.polls += 1;
    if j.polls == 1 {
        json_response(
            StatusCode::ACCEPTED,
            &json!({"operation": "ItemCopy", "percentageComplete": 50.0, "status": "inProgress"}),
        )
    } else {
        json_response(
            StatusCode::OK,
            &json!({"operation": "ItemCopy", "percentageComplete": 100.0, "resourceId": j.resource_id, "status": "completed"}),
        )
    }
}

/// Pages a sorted list of `(key, value)` rows after a `$skiptoken`; returns the collection body.
pub fn page(
    c: &Ctx<'_>,
    what: &str,
    context: &str,
    rows: Vec<(String, Value)>,
    top: usize,
) -> Reply {
    page_at(c, what, context, rows, top, &c.path)
}

/// [`page`], with the `@odata.nextLink` pointing at `link_path` (getAllSites' nextLink names
/// `sites/oneDrive.getAllSites`, contract G9).
pub fn page_at(
    c: &Ctx<'_>,
    what: &str,
    context: &str,
    mut rows: Vec<(String, Value)>,
    top: usize,
    link_path: &str,
) -> Reply {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let after = match c.q.get("$skiptoken") {
        None => None,
        Some(t) => Some(
            crate::graph::tokens::skip_decode(c.seed, what, t)
                .ok_or_else(|| err(400, "Request_BadRequest", "The $skiptoken is not valid."))?,
        ),
    };
    let start = after.as_ref().map_or(0, |a| {
        rows.partition_point(|(k, _)| k.as_str() <= a.as_str())
    });
    let end = (start + top).min(rows.len());
    let mut body = json!({
        "@odata.context": format!("{}/$metadata#{context}", c.base),
        "value": rows[start..end].iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
    });
    if c.q
        .get("$count")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && c.eventual()
        && after.is_none()
    {
        body["@odata.count"] = json!(rows.len());
    }
    if end < rows.len() && end > 0 {
        body["@odata.nextLink"] = json!(c.next_link_at(link_path, what, &rows[end - 1].0));
    }
    ok(body)
}

/// The `$metadata` context of a collection, with the selected properties.
pub fn context(name: &str, sel: Option<&[String]>) -> String {
    match sel {
        Some(s) if !s.is_empty() => format!("{name}({})", s.join(",")),
        _ => name.to_string(),
    }
}
