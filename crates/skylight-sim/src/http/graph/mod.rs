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
mod drive_delta;
mod faults;
mod files;
mod groups;
mod query;
mod render;

use faults::{Class, FaultCtx, class_of, fault_response, pick_fault};
pub use faults::{Limits, flaky_error};
mod risk;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Sim;
use super::token::{BearerError, Resource, decode_bearer};
use crate::graph::audit::Actor;
use crate::graph::ops::{OpError, err};
use crate::graph::{GraphState, WriteEntry};
use crate::rng::{guid, mix64};
use query::Params;

/// What a route answers: a response, or a Graph error to render.
pub type Reply = Result<Response, OpError>;

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

/// 202 Accepted, no body (`sendMail`).
pub fn accepted() -> Reply {
    Ok(StatusCode::ACCEPTED.into_response())
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
        base: format!("{}{prefix}", sim.urls.graph),
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
        "groups" => groups::groups(c, st, key),
        "directoryRoles" => groups::roles(c, st, key),
        "identityProtection" => risk::risky(c, st),
        "auditLogs" => risk::sign_ins(c, st),
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

/// Whether a delta page starting at `start` repeats the object before it (the
/// `delta_duplicate_probability` setting; decided by the seed, so a page replays the same way).
pub fn replay(c: &Ctx<'_>, st: &GraphState, start: usize, since: u64) -> bool {
    let p = st.settings.delta_duplicate_probability;
    start > 0
        && p > 0.0
        && (crate::rng::hash(&[
            c.seed,
            crate::rng::hash_str("delta-replay"),
            start as u64,
            since,
        ]) % 1_000_000) as f64
            / 1e6
            < p
}

/// The `$metadata` context of a collection, with the selected properties.
pub fn context(name: &str, sel: Option<&[String]>) -> String {
    match sel {
        Some(s) if !s.is_empty() => format!("{name}({})", s.join(",")),
        _ => name.to_string(),
    }
}
