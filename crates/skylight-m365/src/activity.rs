//! The Office 365 Management Activity API, as a client: subscriptions, content listing with
//! `NextPageUri`, blob retrieval, and every failure classified so the collector can retry,
//! back off, record a gap or tell the admin what to do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use serde::Deserialize;
use skylight_model::ContentType;

use crate::auth::{Api, AuthError, TokenProvider};
use crate::remediation::{self, Remediation};

/// Why a Management API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an AF error code.
    #[error("{code} ({status}): {message}")]
    Af {
        /// HTTP status.
        status: u16,
        /// `AF…` code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The token was refused (non-AF 401).
    #[error("authorization has been denied (401)")]
    Unauthorized,
    /// Too many requests (AF429, as 429 or 403, or a plain 429).
    #[error("throttled: {message}")]
    Throttled {
        /// What the service said.
        message: String,
        /// Seconds to wait, from a `Retry-After` header (the Management API rarely sends one).
        retry_after: Option<f64>,
    },
    /// The service failed (5xx, 408).
    #[error("service error {status}: {detail}")]
    Server {
        /// HTTP status.
        status: u16,
        /// What it said.
        detail: String,
    },
    /// The connection failed or broke off.
    #[error("network error: {0}")]
    Transport(String),
    /// No token could be obtained.
    #[error("token: {0}")]
    Auth(#[from] AuthError),
    /// 404 without an AF body: the content is not there.
    #[error("not found (404): {0}")]
    NotFound(String),
    /// A response that is not what the contract says.
    #[error("unexpected response: {0}")]
    Malformed(String),
}

impl ApiError {
    /// Worth retrying after a pause.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Throttled { .. } | ApiError::Server { .. } | ApiError::Transport(_) => true,
            ApiError::Af { code, .. } => matches!(code.as_str(), "AF50000" | "AF50005" | "AF50006"),
            ApiError::Auth(e) => e.is_transient(),
            ApiError::Unauthorized | ApiError::Malformed(_) | ApiError::NotFound(_) => false,
        }
    }

    /// True for a plain 404 (content not there).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound(_))
    }

    /// The AF code, if any.
    pub fn af_code(&self) -> Option<&str> {
        match self {
            ApiError::Af { code, .. } => Some(code),
            _ => None,
        }
    }

    /// What the admin should do about it.
    pub fn remediation(&self) -> Remediation {
        match self {
            ApiError::Af { message, .. } if message.contains("DataServiceException") => {
                remediation::for_start_failure(message)
            }
            ApiError::Af { code, .. } => remediation::for_af(code),
            ApiError::Throttled { .. } => remediation::for_af("AF429"),
            ApiError::Unauthorized => remediation::for_unauthorized(),
            ApiError::Auth(e) => e.remediation(),
            ApiError::Server { status, detail } => {
                remediation::for_management_response(*status, detail)
            }
            ApiError::Transport(e) => remediation::for_unreachable(e),
            ApiError::Malformed(e) => remediation::for_management_response(200, e),
            ApiError::NotFound(e) => remediation::for_management_response(404, e),
        }
    }
}

/// One content object of a listing.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContentItem {
    /// `contentId`.
    pub content_id: String,
    /// `contentUri`.
    pub content_uri: String,
    /// `contentCreated`.
    pub content_created: DateTime<Utc>,
    /// `contentExpiration`.
    pub content_expiration: DateTime<Utc>,
}

#[derive(Deserialize)]
struct AfBody {
    error: AfInner,
}

#[derive(Deserialize)]
struct AfInner {
    code: String,
    #[serde(default)]
    message: String,
}

/// A client of one tenant's Management Activity API.
pub struct ActivityClient {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    manage: String,
    tenant: String,
    publisher: String,
    /// The feed root with the tenant's GUID, once known (configs may name a tenant by domain).
    resolved: std::sync::OnceLock<(String, String)>,
    limiter: DefaultDirectRateLimiter,
    requests: AtomicU64,
    max_attempts: u32,
}

impl std::fmt::Debug for ActivityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityClient")
            .field("manage", &self.manage)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Result of a successful request: the body, and the `NextPageUri` header if any.
/// The body of a content blob as it arrives.
#[derive(Debug)]
pub struct BlobBody(reqwest::Response);

impl BlobBody {
    /// The next piece of the body; `None` at its end. A broken connection is a transient error:
    /// fetch the blob again.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ApiError> {
        self.0
            .chunk()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))
    }
}

struct Answer {
    body: Vec<u8>,
    next_page: Option<String>,
}

impl ActivityClient {
    /// A client for `{manage}/api/v1.0/{tenant_id}/activity/feed`, spending at most
    /// `requests_per_minute` of the tenant's budget.
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        manage: &str,
        tenant_id: &str,
        publisher: &str,
        requests_per_minute: u32,
    ) -> ActivityClient {
        let rpm = std::num::NonZeroU32::new(requests_per_minute.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        ActivityClient {
            http,
            tokens,
            manage: manage.trim_end_matches('/').to_string(),
            tenant: tenant_id.to_string(),
            publisher: publisher.to_string(),
            resolved: std::sync::OnceLock::new(),
            limiter: RateLimiter::direct(Quota::per_minute(rpm)),
            requests: AtomicU64::new(0),
            max_attempts: 10,
        }
    }

    /// Fewer attempts per request: a connection test wants the service's own answer rather
    /// than minutes of backoff.
    pub fn with_max_attempts(mut self, attempts: u32) -> ActivityClient {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// "Now" by the service's clock (local clock corrected by the `Date` headers seen): windows
    /// are judged against it, so a skewed local clock does not cause AF20030 (contract §2.6.6).
    pub fn now(&self) -> DateTime<Utc> {
        self.tokens.server_now()
    }

    /// `{manage}/api/v1.0/{tenant GUID}/activity/feed` and the PublisherIdentifier to send.
    fn target(&self) -> (&str, &str) {
        match self.resolved.get() {
            Some((root, publisher)) => (root, publisher),
            None => (&self.manage, &self.publisher),
        }
    }

    fn root(&self) -> String {
        match self.resolved.get() {
            Some((root, _)) => root.clone(),
            None => format!("{}/api/v1.0/{}/activity/feed", self.manage, self.tenant),
        }
    }

    /// Learns the tenant's GUID from a token's `tid` when the configuration gave a domain: the
    /// Management API only accepts the GUID in its URLs (AF20013).
    pub async fn resolve_tenant(&self) -> Result<(), ApiError> {
        if self.resolved.get().is_some() {
            return Ok(());
        }
        let token = self.tokens.token(Api::Management).await?;
        let guid = match token.tenant_id() {
            Some(tid) if !crate::config::is_guid(&self.tenant) => tid.to_string(),
            _ => self.tenant.clone(),
        };
        let publisher = if crate::config::is_guid(&self.publisher) {
            self.publisher.clone()
        } else {
            guid.clone()
        };
        let _ = self.resolved.set((
            format!("{}/api/v1.0/{guid}/activity/feed", self.manage),
            publisher,
        ));
        Ok(())
    }

    fn with_publisher(&self, url: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}PublisherIdentifier={}", self.target().1)
    }

    /// One request, retried while the failure is transient; a 401 refreshes the token once.
    async fn call(&self, method: reqwest::Method, url: &str) -> Result<Answer, ApiError> {
        self.retrying(|| async {
            let resp = self.send_once(method.clone(), url).await?;
            let next_page = resp
                .headers()
                .iter()
                .find(|(k, _)| {
                    k.as_str().eq_ignore_ascii_case("NextPageUri")
                        || k.as_str().eq_ignore_ascii_case("NextPageUrl")
                })
                .and_then(|(_, v)| v.to_str().ok())
                .map(String::from);
            let body = read_body(resp).await?;
            Ok(Answer { body, next_page })
        })
        .await
    }

    /// Runs `once` until it succeeds, fails for good or runs out of attempts, waiting for the
    /// rate budget before each attempt.
    async fn retrying<T, F, Fut>(&self, once: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.limiter.until_ready().await;
            let result = once().await;
            match result {
                Ok(a) => return Ok(a),
                Err(ApiError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    self.tokens.invalidate(Api::Management);
                }
                Err(e) if e.is_transient() && attempt < self.max_attempts => {
                    let wait = backoff(&e, attempt);
                    tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying management api call");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request; a success answer comes back unread, a failure classified.
    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::Response, ApiError> {
        let token = self.tokens.token(Api::Management).await?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .request(method, url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        self.tokens.observe_date(resp.headers());
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = read_body(resp).await?;
        let af: Option<AfBody> = serde_json::from_slice(&body).ok();
        if let Some(AfBody { error }) = af {
            if error.code == "AF429" {
                return Err(ApiError::Throttled {
                    message: error.message,
                    retry_after: parse_retry_after(retry_after.as_deref()),
                });
            }
            return Err(ApiError::Af {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
            });
        }
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
            StatusCode::NOT_FOUND => {
                ApiError::NotFound(String::from_utf8_lossy(&body).chars().take(200).collect())
            }
            StatusCode::TOO_MANY_REQUESTS => ApiError::Throttled {
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                retry_after: parse_retry_after(retry_after.as_deref()),
            },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => ApiError::Server {
                status: s.as_u16(),
                detail: String::from_utf8_lossy(&body).chars().take(200).collect(),
            },
            s => ApiError::Malformed(format!(
                "status {s}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
        })
    }

    /// Content types with an enabled subscription.
    pub async fn enabled_subscriptions(&self) -> Result<Vec<ContentType>, ApiError> {
        let a = self
            .call(
                reqwest::Method::GET,
                &self.with_publisher(&format!("{}/subscriptions/list", self.root())),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Sub {
            content_type: String,
            status: String,
        }
        let subs: Vec<Sub> = serde_json::from_slice(&a.body)
            .map_err(|e| ApiError::Malformed(format!("subscription list: {e}")))?;
        Ok(subs
            .into_iter()
            .filter(|s| s.status.eq_ignore_ascii_case("enabled"))
            .filter_map(|s| ContentType::parse(&s.content_type))
            .collect())
    }

    /// Starts a subscription; "already enabled" (AF20024) counts as success.
    pub async fn start_subscription(&self, ct: ContentType) -> Result<(), ApiError> {
        let url = self.with_publisher(&format!(
            "{}/subscriptions/start?contentType={}",
            self.root(),
            ct.as_str()
        ));
        match self.call(reqwest::Method::POST, &url).await {
            Ok(_) => Ok(()),
            Err(ApiError::Af { code, .. }) if code == "AF20024" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every content object published in `[start, end)`, following `NextPageUri` to the end.
    pub async fn list_content(
        &self,
        ct: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<ContentItem>, ApiError> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let mut url = self.with_publisher(&format!(
            "{}/subscriptions/content?contentType={}&startTime={}&endTime={}",
            self.root(),
            ct.as_str(),
            fmt(start),
            fmt(end)
        ));
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let a = self.call(reqwest::Method::GET, &url).await?;
            let page: Vec<ContentItem> = serde_json::from_slice(&a.body)
                .map_err(|e| ApiError::Malformed(format!("content listing: {e}")))?;
            items.extend(page);
            pages += 1;
            match a.next_page {
                Some(_) if pages >= 10_000 => {
                    return Err(ApiError::Malformed(
                        "a listing window ran past 10,000 pages".into(),
                    ));
                }
                // The service leaves PublisherIdentifier out of NextPageUri: add it back.
                Some(next) => url = self.with_publisher(&self.same_service(&next)?),
                None => break,
            }
        }
        Ok(items)
    }

    /// A content blob's bytes (a JSON array of records).
    pub async fn fetch(&self, item: &ContentItem) -> Result<Vec<u8>, ApiError> {
        let uri = self.same_service(&item.content_uri)?;
        Ok(self
            .call(reqwest::Method::GET, &self.with_publisher(&uri))
            .await?
            .body)
    }

    /// A content blob's body, to be read piece by piece (see [`BlobBody::chunk`]).
    pub async fn open(&self, item: &ContentItem) -> Result<BlobBody, ApiError> {
        let uri = self.with_publisher(&self.same_service(&item.content_uri)?);
        let resp = self
            .retrying(|| self.send_once(reqwest::Method::GET, &uri))
            .await?;
        Ok(BlobBody(resp))
    }

    /// Refuses URLs the service hands out that point elsewhere than its own host: the bearer
    /// token must never travel to another server.
    fn same_service(&self, url: &str) -> Result<String, ApiError> {
        let origin = |u: &str| -> Option<(String, String, Option<u16>)> {
            let p = reqwest::Url::parse(u).ok()?;
            Some((
                p.scheme().to_string(),
                p.host_str()?.to_ascii_lowercase(),
                p.port_or_known_default(),
            ))
        };
        match (origin(url), origin(&self.manage)) {
            (Some(a), Some(b)) if a == b => Ok(url.to_string()),
            _ => Err(ApiError::Malformed(format!(
                "the service pointed to {} outside {}; refusing to send the token there",
                url.split('?').next().unwrap_or_default(),
                self.manage
            ))),
        }
    }
}

/// A whole response body; a connection that breaks off is a transport error (retried).
async fn read_body(resp: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    Ok(resp
        .bytes()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?
        .to_vec())
}

/// Reads `Retry-After`: seconds (possibly fractional) or an HTTP date.
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<f64> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some(secs.max(0.0));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        ((at.with_timezone(&Utc) - Utc::now())
            .num_milliseconds()
            .max(0) as f64)
            / 1000.0,
    )
}

/// How long to wait before retry `attempt` after `e`: longer for throttling, with jitter.
fn backoff(e: &ApiError, attempt: u32) -> StdDuration {
    match e {
        ApiError::Throttled { retry_after, .. } => retry_delay(*retry_after, true, attempt),
        _ => retry_delay(None, false, attempt),
    }
}

/// How long to wait before retry `attempt`: what `Retry-After` asked for (capped at 15 minutes),
/// or exponential backoff from 1 s when throttled and 200 ms otherwise, up to a minute; with up
/// to 250 ms of jitter so that parallel callers spread out.
pub(crate) fn retry_delay(retry_after: Option<f64>, throttled: bool, attempt: u32) -> StdDuration {
    let jitter = u64::from(Utc::now().timestamp_subsec_micros()) % 250;
    if let Some(secs) = retry_after {
        return StdDuration::from_millis((secs.clamp(0.0, 900.0) * 1000.0) as u64 + jitter);
    }
    let base_ms: u64 = if throttled { 1000 } else { 200 };
    let exp = base_ms.saturating_mul(1u64 << attempt.min(6)).min(60_000);
    StdDuration::from_millis(exp + jitter)
}
