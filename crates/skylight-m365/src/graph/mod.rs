//! Microsoft Graph v1.0, as a client: app-only requests with paging (`@odata.nextLink` followed
//! verbatim), delta links, Graph's error JSON classified, and throttling and server errors retried
//! with `Retry-After` or exponential backoff (contract §4.1).

pub mod actions;
pub mod apps;
pub mod directory;
pub mod files;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::auth::{Api, AuthError, TokenProvider};
use crate::remediation::Remediation;

/// Timeout of one Graph request.
const REQUEST_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error body.
    #[error("graph {status} {code}: {message}")]
    Graph {
        /// HTTP status.
        status: u16,
        /// Graph's error `code` (the innermost one OneDrive nests, when there is one).
        code: String,
        /// Graph's message.
        message: String,
        /// The `Location` header of a 410 (where a drive delta re-enumeration starts).
        location: Option<String>,
    },
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request did not get an answer.
    #[error("graph unreachable: {0}")]
    Transport(String),
    /// The answer could not be read.
    #[error("unexpected graph answer: {0}")]
    Malformed(String),
}

impl GraphError {
    /// HTTP status, when Graph answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Graph { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Graph's error code, when Graph answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Graph { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when the same request can succeed later: throttling, 5xx, timeouts, lost connections,
    /// and a locked file (423: someone has it open).
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Graph { status, .. } => {
                matches!(status, 408 | 423 | 429 | 500 | 502 | 503 | 504 | 509)
            }
            GraphError::Transport(_) => true,
            GraphError::Auth(e) => e.is_transient(),
            GraphError::Malformed(_) => false,
        }
    }

    /// A 404: the object does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A delta link that can no longer be used: start the round again from scratch.
    pub fn needs_resync(&self) -> bool {
        match self {
            GraphError::Graph { status, code, .. } => {
                *status == 410
                    || matches!(
                        code.as_str(),
                        "syncStateNotFound" | "syncStateInvalid" | "resyncRequired"
                    )
                    || code.starts_with("resync")
            }
            _ => false,
        }
    }

    /// What the administrator should do about it.
    pub fn remediation(&self, permission: &str) -> Remediation {
        match self {
            GraphError::Auth(e) => e.remediation(),
            GraphError::Graph {
                status: 403, code, ..
            } if code.starts_with("Authentication_RequestFromNonPremium") => Remediation {
                kind: "tenant_unlicensed",
                message: "This needs a Microsoft Entra ID P1 or P2 licence in the tenant. \
                              Skylight carries on without it."
                    .into(),
            },
            GraphError::Graph { status: 403, .. } | GraphError::Graph { status: 401, .. } => {
                Remediation {
                    kind: "permission_missing",
                    message: format!(
                        "Give the app registration the Microsoft Graph application permission \
                         {permission} (Microsoft Entra admin center > App registrations > API \
                         permissions > Add a permission > Microsoft Graph > Application \
                         permissions), then Grant admin consent."
                    ),
                }
            }
            e if e.is_transient() => Remediation {
                kind: "transient",
                message: "Microsoft Graph is busy or unavailable; Skylight retries on its own."
                    .into(),
            },
            _ => Remediation {
                kind: "api_error",
                message: "Microsoft Graph refused the request; the error says why.".into(),
            },
        }
    }
}

/// A Graph answer: status and JSON body (`Null` when there was none).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
    /// The `Location` header (a copy's monitor URL), if any.
    pub location: Option<String>,
}

/// A client of one tenant's Microsoft Graph.
pub struct GraphClient {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    /// `https://graph.microsoft.com/v1.0` or the cloud's, or the configured override.
    root: String,
    limiter: DefaultDirectRateLimiter,
    requests: AtomicU64,
    max_attempts: u32,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client for `{graph}/v1.0`, spending at most `requests_per_second` (Graph's identity
    /// limits are per app and tenant, so one budget per tenant).
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        graph: &str,
        requests_per_second: u32,
    ) -> GraphClient {
        let rps = std::num::NonZeroU32::new(requests_per_second.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        GraphClient {
            http,
            tokens,
            root: format!("{}/v1.0", graph.trim_end_matches('/')),
            limiter: RateLimiter::direct(Quota::per_second(rps)),
            requests: AtomicU64::new(0),
            max_attempts: 8,
        }
    }

    /// Fewer attempts per request (tests of failure paths).
    pub fn with_max_attempts(mut self, attempts: u32) -> GraphClient {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The absolute URL of a path under `/v1.0` (`/users`); absolute URLs (next and delta links)
    /// are used as given.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("https://") || path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.root)
        }
    }

    /// The path of a URL below the Graph root, for the governance log (`/v1.0/users/…`).
    pub fn log_path(&self, url: &str) -> String {
        let root_len = self.root.len() - "/v1.0".len();
        if url.starts_with(&self.root) {
            url[root_len..].to_owned()
        } else {
            url.to_owned()
        }
    }

    /// GET a JSON object.
    pub async fn get(&self, path: &str) -> Result<Value, GraphError> {
        Ok(self.call(Method::GET, path, None).await?.body)
    }

    /// GET a pre-authenticated URL (a copy's monitor), without a token.
    pub async fn get_anonymous(&self, url: &str) -> Result<Value, GraphError> {
        let resp = self
            .http
            .get(url)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() || status == StatusCode::ACCEPTED || status.is_redirection() {
            return Ok(json);
        }
        let (code, message) = error_code(&json, status, &bytes);
        Err(GraphError::Graph {
            status: status.as_u16(),
            code,
            message,
            location: None,
        })
    }

    /// Every item of a collection, following `@odata.nextLink` to the end.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        let mut next = Some(self.url(path));
        while let Some(url) = next.take() {
            let page = self.get(&url).await?;
            items.extend(values(&page)?);
            next = page["@odata.nextLink"].as_str().map(str::to_owned);
        }
        Ok(items)
    }

    /// One round of a delta query: every item from `link` (a delta link, or the first
    /// request's path) to the new `@odata.deltaLink`.
    pub async fn delta_round(&self, link: &str) -> Result<(Vec<Value>, String), GraphError> {
        self.delta_round_with(link, None).await
    }

    /// [`GraphClient::delta_round`] with a `Prefer` header on every page (drive delta's
    /// sharing-change options).
    pub async fn delta_round_with(
        &self,
        link: &str,
        prefer: Option<&str>,
    ) -> Result<(Vec<Value>, String), GraphError> {
        let mut items = Vec::new();
        let mut next = self.url(link);
        loop {
            let page = self.call_with(Method::GET, &next, None, prefer).await?.body;
            items.extend(values(&page)?);
            if let Some(n) = page["@odata.nextLink"].as_str() {
                next = n.to_owned();
            } else if let Some(d) = page["@odata.deltaLink"].as_str() {
                return Ok((items, d.to_owned()));
            } else {
                return Err(GraphError::Malformed(
                    "a delta page with neither @odata.nextLink nor @odata.deltaLink".into(),
                ));
            }
        }
    }

    /// One request, retried while the failure is transient; a 401 refreshes the token once.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, GraphError> {
        self.call_with(method, path, body, None).await
    }

    /// [`GraphClient::call`] with a `Prefer` header.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        prefer: Option<&str>,
    ) -> Result<Answer, GraphError> {
        let payload = body.map_or(Payload::Empty, Payload::Json);
        self.call_payload(method, path, payload, prefer).await
    }

    /// Uploads a small file's content (`PUT …:/name:/content`).
    pub async fn put_bytes(&self, path: &str, bytes: &[u8]) -> Result<Answer, GraphError> {
        self.call_payload(Method::PUT, path, Payload::Bytes(bytes), None)
            .await
    }

    async fn call_payload(
        &self,
        method: Method,
        path: &str,
        body: Payload<'_>,
        prefer: Option<&str>,
    ) -> Result<Answer, GraphError> {
        let url = self.url(path);
        // Links come from answers (nextLink, deltaLink, Location): the token only goes to Graph.
        if origin(&url) != origin(&self.root) {
            return Err(GraphError::Malformed(format!(
                "a link to {} is not Microsoft Graph's host; not followed",
                origin(&url)
            )));
        }
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.limiter.until_ready().await;
            match self.send_once(method.clone(), &url, body, prefer).await {
                Ok(a) => return Ok(a),
                Err((GraphError::Graph { status: 401, .. }, _)) if !refreshed => {
                    refreshed = true;
                    self.tokens.invalidate(Api::Graph);
                }
                Err((e, retry_after)) if e.is_transient() && attempt < self.max_attempts => {
                    let wait =
                        crate::activity::retry_delay(retry_after, e.status() == Some(429), attempt);
                    tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying graph call");
                    tokio::time::sleep(wait).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Sends one request; a failure comes back with the `Retry-After` it carried.
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Payload<'_>,
        prefer: Option<&str>,
    ) -> Result<Answer, (GraphError, Option<f64>)> {
        let token = self
            .tokens
            .token(Api::Graph)
            .await
            .map_err(|e| (GraphError::Auth(e), None))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .header("client-request-id", request_id())
            .timeout(REQUEST_TIMEOUT);
        if let Some(p) = prefer {
            req = req.header("Prefer", p);
        }
        req = match body {
            Payload::Json(b) => req.json(b),
            Payload::Bytes(b) => req
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(b.to_vec()),
            Payload::Empty => req.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| (GraphError::Transport(e.without_url().to_string()), None))?;
        let status = resp.status();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let location = header(reqwest::header::LOCATION);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| (GraphError::Transport(e.without_url().to_string()), None))?;
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) if !status.is_success() => Value::Null,
                Err(e) => return Err((GraphError::Malformed(format!("not JSON: {e}")), None)),
            }
        };
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                body: json,
                location,
            });
        }
        let (code, message) = error_code(&json, status, &bytes);
        let retry_after = crate::activity::parse_retry_after(retry_after.as_deref());
        Err((
            GraphError::Graph {
                status: status.as_u16(),
                code,
                message,
                location,
            },
            retry_after,
        ))
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Bytes(&'a [u8]),
}

/// `scheme://host[:port]` of a URL, lowercase.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}").to_ascii_lowercase()
}

/// A page's `value` array.
fn values(page: &Value) -> Result<Vec<Value>, GraphError> {
    match &page["value"] {
        Value::Array(items) => Ok(items.clone()),
        _ => Err(GraphError::Malformed(
            "a collection page without `value`".into(),
        )),
    }
}

/// The innermost error code and the message of a Graph error body (OneDrive nests specific codes
/// in `innerError`); the status when the body is not Graph's.
fn error_code(json: &Value, status: StatusCode, raw: &[u8]) -> (String, String) {
    let error = &json["error"];
    let mut code = error["code"].as_str().map(str::to_owned);
    let mut inner = &error["innerError"];
    while let Some(c) = inner["code"].as_str() {
        code = Some(c.to_owned());
        inner = &inner["innerError"];
    }
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(raw).chars().take(200).collect());
    (
        code.unwrap_or_else(|| format!("http_{}", status.as_u16())),
        message,
    )
}

/// A `client-request-id`: random enough to find one request in Microsoft's logs.
fn request_id() -> String {
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        let n = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        b[..8].copy_from_slice(&n.to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Percent-encodes one path segment (UPNs of guests hold `#`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_codes_win_and_foreign_bodies_keep_their_status() {
        let body = serde_json::json!({"error": {"code": "invalidRequest", "message": "bad",
            "innerError": {"code": "invalidRange", "innerError": {"date": "x"}}}});
        let (code, message) = error_code(&body, StatusCode::BAD_REQUEST, b"");
        assert_eq!((code.as_str(), message.as_str()), ("invalidRange", "bad"));
        let (code, message) = error_code(&Value::Null, StatusCode::BAD_GATEWAY, b"<html>oops");
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("http_502", "<html>oops")
        );
    }

    #[test]
    fn links_stay_on_graphs_host() {
        assert_eq!(
            origin("https://graph.microsoft.com/v1.0/users?$skiptoken=x"),
            origin("https://GRAPH.microsoft.com/v1.0")
        );
        assert_ne!(
            origin("https://graph.microsoft.com.evil.example/v1.0/users"),
            origin("https://graph.microsoft.com/v1.0")
        );
        assert_ne!(
            origin("http://127.0.0.1:9/v1.0"),
            origin("http://127.0.0.1:8/v1.0")
        );
    }

    #[test]
    fn guest_upns_are_encoded() {
        assert_eq!(
            segment("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            "bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn resync_is_recognised() {
        let gone = GraphError::Graph {
            status: 410,
            code: "resyncChangesApplyDifferences".into(),
            message: String::new(),
            location: None,
        };
        assert!(gone.needs_resync());
        let expired = GraphError::Graph {
            status: 400,
            code: "syncStateNotFound".into(),
            message: String::new(),
            location: None,
        };
        assert!(expired.needs_resync() && !expired.is_transient());
    }
}
