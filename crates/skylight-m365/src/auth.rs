//! App-only access tokens from the Microsoft identity platform (OAuth 2.0 client credentials,
//! contract §1.2–§1.5), with a client secret or a certificate.
//!
//! [`TokenProvider::token`] returns a cached token while more than five minutes of it remain and
//! otherwise fetches a new one; concurrent callers of one API share a single refresh. Times are
//! reckoned on the identity platform's clock, learnt from the `Date` header of its answers (and of
//! any other Microsoft answer handed to [`TokenProvider::observe_date`]), so a machine whose clock
//! is off neither keeps expired tokens nor signs assertions Entra ID refuses as out of date.
//!
//! Token values and secrets never appear in errors, `Debug` output or logs.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;

use crate::config::{Credential, Secret, TenantConfig};
use crate::remediation::{self, Remediation};

/// Refresh when less than this remains of a token (or half its lifetime, if shorter).
const REFRESH_MARGIN: Duration = Duration::minutes(5);
/// A token with less than this left is not handed out.
const MIN_USABLE: Duration = Duration::seconds(60);
/// After a failed refresh, a still-valid token is served this long before the next attempt.
const RETRY_FAILED_REFRESH_AFTER: Duration = Duration::seconds(30);
/// Lifetime of a client assertion (contract §1.3: 5–10 minutes).
const ASSERTION_LIFETIME: Duration = Duration::minutes(10);
/// Timeout of one token request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Clock corrections smaller than this are ignored (the `Date` header has one-second resolution).
const SKEW_TOLERANCE_MS: i64 = 1500;

/// The API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// The Office 365 Management Activity API (`https://manage.office.com` and national clouds).
    Management,
    /// Microsoft Graph.
    Graph,
}

impl Api {
    /// Both APIs.
    pub const ALL: [Api; 2] = [Api::Management, Api::Graph];

    /// `"management"` or `"graph"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Management => "management",
            Api::Graph => "graph",
        }
    }

    fn index(self) -> usize {
        match self {
            Api::Management => 0,
            Api::Graph => 1,
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An access token. Cheap to clone; `Debug` does not show the value.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    expires_at: DateTime<Utc>,
    refresh_at: DateTime<Utc>,
    tenant_id: Option<Arc<str>>,
    roles: Arc<[String]>,
}

impl AccessToken {
    /// The bearer token. Send it in `Authorization: Bearer …`; never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// When it expires, on the identity platform's clock.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The `tid` claim: the tenant's GUID, also when the configuration names the tenant by domain.
    /// `None` when the token is not a readable JWT.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The `roles` claim: the application permissions admin-consented for the API (e.g.
    /// `ActivityFeed.Read`). Empty when none are consented, or the token is not a readable JWT.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// True when `roles` holds `role` (case-insensitively).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("tenant_id", &self.tenant_id)
            .field("roles", &self.roles)
            .finish()
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint answered with an error (contract §1.5).
    #[error("token request rejected ({status} {error}): {description}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The OAuth `error` (e.g. `invalid_client`), or `http_<status>` for a body that is not
        /// an OAuth error.
        error: String,
        /// The AADSTS codes (`error_codes`, or those found in the description).
        codes: Vec<u32>,
        /// The first line of `error_description`, with the trace and correlation ids.
        description: String,
    },
    /// The token endpoint could not be reached, or its answer could not be read.
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
    /// The configured credential cannot be used (e.g. an unreadable private key).
    #[error("unusable credential: {0}")]
    BadCredential(String),
}

impl AuthError {
    /// What the administrator should do about it.
    pub fn remediation(&self) -> Remediation {
        match self {
            AuthError::Rejected {
                status,
                error,
                codes,
                ..
            } => codes
                .iter()
                .find_map(|c| remediation::lookup_aadsts(*c))
                .or_else(|| codes.first().map(|c| remediation::for_aadsts(*c)))
                .unwrap_or_else(|| remediation::for_token_error(*status, error)),
            AuthError::Transport(_) => {
                remediation::for_unreachable("the Microsoft sign-in endpoint")
            }
            AuthError::BadCredential(detail) => remediation::for_bad_credential(detail),
        }
    }

    /// True when retrying later can succeed without the administrator doing anything: transport
    /// errors, 5xx, 408 and 429 answers, `temporarily_unavailable`, and AADSTS 90055 (throttled),
    /// 90033 (directory unavailable) and 50196 (loop detected).
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Transport(_) => true,
            AuthError::BadCredential(_) => false,
            AuthError::Rejected {
                status,
                error,
                codes,
                ..
            } => {
                *status >= 500
                    || *status == 408
                    || *status == 429
                    || error == "temporarily_unavailable"
                    || codes.iter().any(|c| matches!(c, 90055 | 90033 | 50196))
            }
        }
    }

    /// The AADSTS codes, if the token endpoint answered any.
    pub fn codes(&self) -> &[u32] {
        match self {
            AuthError::Rejected { codes, .. } => codes,
            _ => &[],
        }
    }
}

enum Signer {
    Secret(Secret),
    Certificate {
        key: EncodingKey,
        x5t: String,
        x5t_s256: String,
    },
}

#[derive(Default)]
struct SlotState {
    token: Option<AccessToken>,
    /// Completed fetch attempts, successful or not.
    attempts: u64,
    /// The last attempt's error, if it failed.
    last_error: Option<AuthError>,
    /// After a failed refresh: serve the still-valid token until then.
    retry_not_before: Option<DateTime<Utc>>,
}

impl SlotState {
    fn usable(&self, now: DateTime<Utc>) -> Option<AccessToken> {
        let t = self.token.as_ref()?;
        let fresh = now < t.refresh_at;
        let holding =
            self.retry_not_before.is_some_and(|r| now < r) && t.expires_at - now > MIN_USABLE;
        (fresh || holding).then(|| t.clone())
    }
}

#[derive(Default)]
struct Slot {
    state: StdMutex<SlotState>,
    /// Held while fetching: concurrent callers wait for one refresh instead of each making one.
    flight: tokio::sync::Mutex<()>,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Acquires and caches one tenant's tokens for the Management Activity API and Microsoft Graph.
pub struct TokenProvider {
    http: reqwest::Client,
    tenant: String,
    client_id: String,
    token_url: String,
    scopes: [String; 2],
    signer: Result<Signer, AuthError>,
    slots: [Slot; 2],
    /// The identity platform's clock minus ours, in milliseconds.
    skew_ms: AtomicI64,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field(
                "credential",
                &match self.signer {
                    Ok(Signer::Secret(_)) => "secret",
                    Ok(Signer::Certificate { .. }) => "certificate",
                    Err(_) => "unusable",
                },
            )
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `tenant`'s app registration, sending requests with `http`. A certificate or
    /// private key that cannot be used makes every [`TokenProvider::token`] call fail with
    /// [`AuthError::BadCredential`] (configuration loading already refuses most such keys).
    pub fn new(http: reqwest::Client, tenant: &TenantConfig) -> TokenProvider {
        let endpoints = tenant.endpoints();
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            endpoints.login.trim_end_matches('/'),
            tenant.tenant_id
        );
        let scope = |resource: &str| format!("{}/.default", resource.trim_end_matches('/'));
        let signer = match &tenant.credential {
            Credential::Secret(s) => Ok(Signer::Secret(s.clone())),
            Credential::Certificate {
                certificate_pem,
                private_key,
            } => certificate_signer(certificate_pem, private_key),
        };
        if let Err(e) = &signer {
            tracing::warn!(tenant = %tenant.name, error = %e, "the tenant's certificate credential cannot be used");
        }
        TokenProvider {
            http,
            tenant: tenant.name.clone(),
            client_id: tenant.client_id.clone(),
            token_url,
            scopes: [
                scope(&endpoints.manage_resource),
                scope(&endpoints.graph_resource),
            ],
            signer,
            slots: Default::default(),
            skew_ms: AtomicI64::new(0),
        }
    }

    /// The token endpoint (`{login}/{tenant}/oauth2/v2.0/token`).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A token for `api`: the cached one while more than five minutes of it remain, otherwise a
    /// new one. Concurrent callers share one refresh. When a refresh fails but the cached token
    /// still has more than a minute left, that token is returned (and the refresh retried 30 s
    /// later); the failure is logged.
    pub async fn token(&self, api: Api) -> Result<AccessToken, AuthError> {
        let slot = &self.slots[api.index()];
        let seen = {
            let st = slot.state();
            if let Some(t) = st.usable(self.server_now()) {
                return Ok(t);
            }
            st.attempts
        };
        let _flight = slot.flight.lock().await;
        {
            let st = slot.state();
            if let Some(t) = st.usable(self.server_now()) {
                return Ok(t);
            }
            // Someone else's attempt finished while we waited, and failed: share its answer
            // rather than asking again at once.
            if st.attempts != seen
                && let Some(e) = &st.last_error
            {
                return Err(e.clone());
            }
        }
        let result = self.fetch(api).await;
        let mut st = slot.state();
        st.attempts += 1;
        match result {
            Ok(t) => {
                tracing::debug!(tenant = %self.tenant, %api, expires_at = %t.expires_at, "access token acquired");
                st.token = Some(t.clone());
                st.last_error = None;
                st.retry_not_before = None;
                Ok(t)
            }
            Err(e) => {
                st.last_error = Some(e.clone());
                let now = self.server_now();
                if let Some(t) = st.token.clone()
                    && t.expires_at - now > MIN_USABLE
                {
                    tracing::warn!(tenant = %self.tenant, %api, error = %e, "token refresh failed; using the current token until it expires");
                    st.retry_not_before = Some(now + RETRY_FAILED_REFRESH_AFTER);
                    return Ok(t);
                }
                tracing::debug!(tenant = %self.tenant, %api, error = %e, "token request failed");
                Err(e)
            }
        }
    }

    /// Drops the cached token for `api` (after the resource answered 401), so that the next
    /// [`TokenProvider::token`] fetches a new one.
    pub fn invalidate(&self, api: Api) {
        let mut st = self.slots[api.index()].state();
        st.token = None;
        st.retry_not_before = None;
        tracing::debug!(tenant = %self.tenant, %api, "access token invalidated");
    }

    /// Learns the server's clock from a Microsoft answer's `Date` header. Token expiry and client
    /// assertions are reckoned on that clock; feeding it the Management API's answers keeps the
    /// cache right even when the local clock is off.
    pub fn observe_date(&self, headers: &reqwest::header::HeaderMap) {
        if let Some(date) = parse_date(headers) {
            self.observe_server_time(date);
        }
    }

    /// Like [`TokenProvider::observe_date`], with the server's time already parsed.
    pub fn observe_server_time(&self, server: DateTime<Utc>) {
        // `Date` is truncated to the second: the server's clock is half a second later on average.
        let skew = (server + Duration::milliseconds(500) - Utc::now()).num_milliseconds();
        let old = self.skew_ms.load(Ordering::Relaxed);
        if (skew - old).abs() > SKEW_TOLERANCE_MS {
            if (skew - old).abs() > 60_000 {
                tracing::info!(tenant = %self.tenant, skew_seconds = skew / 1000, "server clock differs from the local clock");
            }
            self.skew_ms.store(skew, Ordering::Relaxed);
        }
    }

    /// The current time on the server's clock (the local clock corrected by the last observed
    /// `Date`).
    pub fn server_now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.skew_ms.load(Ordering::Relaxed))
    }

    /// One fetch; a certificate assertion refused as out of date (AADSTS700024) is re-signed once
    /// if the answer's `Date` corrected our clock.
    async fn fetch(&self, api: Api) -> Result<AccessToken, AuthError> {
        let skew_before = self.skew_ms.load(Ordering::Relaxed);
        match self.request(api).await {
            Err(e)
                if e.codes().contains(&700024)
                    && matches!(self.signer, Ok(Signer::Certificate { .. }))
                    && (self.skew_ms.load(Ordering::Relaxed) - skew_before).abs() > 30_000 =>
            {
                tracing::info!(tenant = %self.tenant, "client assertion was out of date for the server's clock; signing a new one");
                self.request(api).await
            }
            other => other,
        }
    }

    async fn request(&self, api: Api) -> Result<AccessToken, AuthError> {
        let scope = self.scopes[api.index()].as_str();
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("scope", scope),
        ];
        match self.signer.as_ref().map_err(Clone::clone)? {
            Signer::Secret(s) => form.push(("client_secret", s.expose())),
            Signer::Certificate { key, x5t, x5t_s256 } => {
                assertion = self.assertion(key, x5t, x5t_s256)?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", &assertion));
            }
        }
        let sent_at = self.server_now();
        let resp = self
            .http
            .post(&self.token_url)
            .timeout(REQUEST_TIMEOUT)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::Transport(describe(&e, &self.token_url)))?;
        let status = resp.status().as_u16();
        let date = parse_date(resp.headers());
        if let Some(d) = date {
            self.observe_server_time(d);
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| AuthError::Transport(describe(&e, &self.token_url)))?;
        if status != 200 {
            let err = rejection(status, &body);
            if let AuthError::Rejected { error, codes, .. } = &err {
                tracing::debug!(tenant = %self.tenant, %api, status, error = %error, ?codes, "token endpoint refused");
            }
            return Err(err);
        }
        let ok: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            // serde_json's message names a position, never the value.
            AuthError::Transport(format!("malformed token response: {e}"))
        })?;
        if ok.access_token.is_empty() {
            return Err(AuthError::Transport(
                "token response without access_token".into(),
            ));
        }
        if let Some(tt) = &ok.token_type
            && !tt.eq_ignore_ascii_case("bearer")
        {
            return Err(AuthError::Transport(format!(
                "token response has token_type `{tt}`, expected Bearer"
            )));
        }
        let claims = jwt_claims(&ok.access_token);
        let issued = date.unwrap_or(sent_at);
        let lifetime = ok
            .expires_in
            .as_ref()
            .and_then(NumOrString::as_i64)
            .map(Duration::seconds)
            .or_else(|| {
                ok.expires_on
                    .as_ref()
                    .and_then(NumOrString::as_i64)
                    .and_then(|t| DateTime::from_timestamp(t, 0))
                    .map(|t| t - issued)
            })
            .or_else(|| {
                claims
                    .exp
                    .and_then(|t| DateTime::from_timestamp(t, 0))
                    .map(|t| t - issued)
            })
            .unwrap_or(Duration::seconds(3599))
            .max(Duration::zero());
        let mut expires_at = issued + lifetime;
        if let Some(exp) = claims.exp.and_then(|t| DateTime::from_timestamp(t, 0)) {
            expires_at = expires_at.min(exp);
        }
        let lifetime = (expires_at - issued).max(Duration::zero());
        let refresh_at = expires_at - REFRESH_MARGIN.min(lifetime / 2);
        Ok(AccessToken {
            value: ok.access_token.into(),
            expires_at,
            refresh_at,
            tenant_id: claims.tid.map(Into::into),
            roles: claims.roles.into(),
        })
    }

    fn assertion(&self, key: &EncodingKey, x5t: &str, x5t_s256: &str) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::PS256);
        header.typ = Some("JWT".into());
        header.x5t = Some(x5t.to_string());
        header.x5t_s256 = Some(x5t_s256.to_string());
        let now = self.server_now().timestamp();
        let claims = serde_json::json!({
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": random_guid()?,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.num_seconds(),
        });
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| AuthError::BadCredential(format!("cannot sign the client assertion: {e}")))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<NumOrString>,
    #[serde(default)]
    expires_on: Option<NumOrString>,
}

/// v2 sends numbers, v1 strings (contract §1.2).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Int(i64),
    Float(f64),
    Str(String),
}

impl NumOrString {
    fn as_i64(&self) -> Option<i64> {
        match self {
            NumOrString::Int(n) => Some(*n),
            NumOrString::Float(f) if f.is_finite() => Some(*f as i64),
            NumOrString::Float(_) => None,
            NumOrString::Str(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct ErrorResponse {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

fn rejection(status: u16, body: &[u8]) -> AuthError {
    let fallback_error = format!("http_{status}");
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) if e.error.is_some() || !e.error_codes.is_empty() => {
            let full = e.error_description.unwrap_or_default();
            let mut codes = e.error_codes;
            if codes.is_empty() {
                codes = aadsts_codes(&full);
            }
            let mut description = full
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .to_string();
            let ids: Vec<String> = [
                ("trace id", e.trace_id),
                ("correlation id", e.correlation_id),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{k} {v}")))
            .collect();
            if !ids.is_empty() {
                description = format!("{description} ({})", ids.join(", "));
            }
            AuthError::Rejected {
                status,
                error: e.error.unwrap_or(fallback_error),
                codes,
                description,
            }
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(200)
                .collect();
            AuthError::Rejected {
                status,
                error: fallback_error,
                codes: aadsts_codes(&text),
                description: if snippet.is_empty() {
                    "empty answer".into()
                } else {
                    snippet
                },
            }
        }
    }
}

/// Every `AADSTS<digits>` in a text, in order, without repeats.
fn aadsts_codes(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("AADSTS") {
        let digits: String = text[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<u32>()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

#[derive(Default, Deserialize)]
struct Claims {
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    exp: Option<i64>,
}

/// The claims of a JWT, read without verification (the token is for the resource, not for us;
/// these only serve diagnostics and expiry). Anything unreadable yields no claims.
fn jwt_claims(token: &str) -> Claims {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Claims::default();
    };
    URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn parse_date(headers: &reqwest::header::HeaderMap) -> Option<DateTime<Utc>> {
    let v = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(v.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn certificate_signer(certificate_pem: &str, private_key: &Secret) -> Result<Signer, AuthError> {
    let der = certificate_der(certificate_pem)?;
    let x5t = URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref(),
    );
    let x5t_s256 = URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref());
    let key = EncodingKey::from_rsa_pem(private_key.expose().as_bytes())
        .map_err(|_| AuthError::BadCredential("the private key is not a PEM RSA key".into()))?;
    // RSA keys are only parsed when signing: sign once now so that a bad key shows at once.
    jsonwebtoken::encode(&Header::new(Algorithm::PS256), &serde_json::json!({}), &key).map_err(
        |_| {
            AuthError::BadCredential(
                "the private key cannot sign (the identity platform needs an RSA key of 2048 bits or more)"
                    .into(),
            )
        },
    )?;
    Ok(Signer::Certificate { key, x5t, x5t_s256 })
}

/// The DER bytes of the first certificate in a PEM text.
fn certificate_der(pem: &str) -> Result<Vec<u8>, AuthError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let bad = || AuthError::BadCredential("the certificate is not a PEM certificate".into());
    let start = pem.find(BEGIN).ok_or_else(bad)? + BEGIN.len();
    let end = start + pem[start..].find(END).ok_or_else(bad)?;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).map_err(|_| bad())
}

/// A random (version 4) GUID for `jti`.
fn random_guid() -> Result<String, AuthError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| AuthError::BadCredential("no randomness for the client assertion".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A reqwest error with its causes, without the URL's query (there is none) but with the host.
fn describe(e: &reqwest::Error, url: &str) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    format!("{host}: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::{Value, json};
    use skylight_sim::{RunningSim, SimConfig};

    async fn sim() -> (RunningSim, Value) {
        let s = skylight_sim::start(
            SimConfig {
                users: 10,
                days: 1,
                ..SimConfig::default()
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap_or_else(|e| panic!("simulator: {e}"));
        let t = s.tenant_json();
        (s, t)
    }

    fn field<'a>(v: &'a Value, k: &str) -> &'a str {
        v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
    }

    /// A tenant configuration pointing at the simulator, loaded through the config module.
    fn tenant(
        sim: &RunningSim,
        t: &Value,
        client_id: &str,
        credential: &str,
        env: &[(&str, &str)],
        dir: &std::path::Path,
    ) -> TenantConfig {
        let url = sim.url();
        let text = format!(
            "[[tenant]]\nname = \"sim\"\ntenant_id = \"{}\"\nclient_id = \"{client_id}\"\n{credential}\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}/graph\"\n",
            field(t, "tenant_id"),
        );
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cfg =
            Config::from_toml_str_with_env(&text, dir, &lookup).unwrap_or_else(|e| panic!("{e}"));
        cfg.tenants
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no tenant"))
    }

    fn secret_tenant(sim: &RunningSim, t: &Value, client_id: &str, secret: &str) -> TenantConfig {
        tenant(
            sim,
            t,
            client_id,
            "client_secret_env = \"SIM_SECRET\"",
            &[("SIM_SECRET", secret)],
            std::path::Path::new("."),
        )
    }

    fn provider(tc: &TenantConfig) -> TokenProvider {
        TokenProvider::new(reqwest::Client::new(), tc)
    }

    async fn token_requests(sim: &RunningSim) -> usize {
        reqwest::get(format!("{}/_sim/requests?path=oauth2", sim.url()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            // The query of this very request contains "oauth2" too.
            .filter(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("/oauth2/") && !p.starts_with("/_sim"))
            })
            .count()
    }

    async fn post(sim: &RunningSim, path: &str, body: Value) -> reqwest::Response {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", sim.url()))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r
    }

    fn other_app<'a>(t: &'a Value, name: &str) -> &'a Value {
        t["other_apps"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .unwrap_or_else(|| panic!("no app {name}"))
    }

    #[tokio::test]
    async fn secret_token_is_acquired_and_cached() {
        let (sim, t) = sim().await;
        let p = provider(&secret_tenant(
            &sim,
            &t,
            field(&t, "client_id"),
            field(&t, "client_secret"),
        ));
        let a = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!a.expose().is_empty());
        assert_eq!(a.tenant_id(), Some(field(&t, "tenant_id")));
        assert!(a.has_role("ActivityFeed.Read"), "{:?}", a.roles());
        let left = a.expires_at() - p.server_now();
        assert!(
            left > Duration::minutes(55) && left <= Duration::seconds(3601),
            "{left}"
        );
        assert_eq!(token_requests(&sim).await, 1);
        let b = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.expose(), b.expose());
        assert_eq!(
            token_requests(&sim).await,
            1,
            "the second call must come from the cache"
        );
        // Graph has its own token.
        let g = p.token(Api::Graph).await.unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(g.expose(), a.expose());
        assert_eq!(token_requests(&sim).await, 2);
        // The token never shows in Debug.
        let dbg = format!("{a:?} {p:?}");
        assert!(!dbg.contains(a.expose()));
        assert!(!dbg.contains(field(&t, "client_secret")));
        // A 401 from the resource invalidates it.
        p.invalidate(Api::Management);
        let c = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.expose().is_empty());
        assert_eq!(token_requests(&sim).await, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_one_refresh() {
        let (sim, t) = sim().await;
        let p = Arc::new(provider(&secret_tenant(
            &sim,
            &t,
            field(&t, "client_id"),
            field(&t, "client_secret"),
        )));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.token(Api::Management).await })
            })
            .collect();
        let mut values = Vec::new();
        for task in tasks {
            let tok = task
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}"));
            values.push(tok.expose().to_string());
        }
        values.dedup();
        assert_eq!(values.len(), 1);
        assert_eq!(token_requests(&sim).await, 1);
    }

    #[tokio::test]
    async fn certificate_token_is_acquired() {
        let (sim, t) = sim().await;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("app.pem"),
            format!(
                "{}\n{}",
                field(&t, "certificate_pem"),
                field(&t, "private_key_pem")
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let tc = tenant(
            &sim,
            &t,
            field(&t, "client_id"),
            "certificate_file = \"app.pem\"",
            &[],
            dir.path(),
        );
        let p = provider(&tc);
        let tok = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(tok.has_role("ActivityFeed.Read"));
        assert_eq!(token_requests(&sim).await, 1);

        // A server clock far ahead of ours: the first assertion is out of date (AADSTS700024),
        // the answer's Date corrects the clock and the re-signed assertion is accepted.
        post(&sim, "/_sim/clock", json!({"advance_seconds": 3400})).await;
        let p2 = provider(&tc);
        let tok = p2.token(Api::Graph).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(!tok.expose().is_empty());
        let n = token_requests(&sim).await;
        assert_eq!(
            n, 3,
            "an out-of-date assertion (AADSTS700024), then a re-signed one"
        );
        assert!((p2.server_now() - Utc::now()).num_seconds() > 3300);
    }

    #[tokio::test]
    async fn wrong_and_expired_secrets_are_rejected_with_their_codes() {
        let (sim, t) = sim().await;
        let wrong = "Wr0ng~SecretValue.that-must-not-leak";
        let p = provider(&secret_tenant(&sim, &t, field(&t, "client_id"), wrong));
        let e = p
            .token(Api::Management)
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted a wrong secret"));
        let AuthError::Rejected { codes, error, .. } = &e else {
            panic!("{e:?}");
        };
        assert!(codes.contains(&7000215), "{e:?}");
        assert_eq!(error, "invalid_client");
        assert_eq!(e.remediation().kind, "credentials_invalid");
        assert!(!e.is_transient());
        let shown = format!("{e} {e:?} {:?}", e.remediation());
        assert!(!shown.contains(wrong), "{shown}");
        assert!(shown.contains("AADSTS7000215"), "{shown}");

        let app = other_app(&t, "Skylight (expired secret)");
        let p = provider(&secret_tenant(
            &sim,
            &t,
            field(app, "client_id"),
            field(app, "client_secret"),
        ));
        let e = p
            .token(Api::Management)
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted an expired secret"));
        assert!(e.codes().contains(&7000222), "{e:?}");
        let r = e.remediation();
        assert_eq!(r.kind, "credentials_expired");
        assert!(r.message.contains("Certificates & secrets"));
        assert!(!format!("{e:?}").contains(field(app, "client_secret")));

        let app = other_app(&t, "Skylight (disabled)");
        let p = provider(&secret_tenant(
            &sim,
            &t,
            field(app, "client_id"),
            field(app, "client_secret"),
        ));
        let e = p
            .token(Api::Management)
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted a disabled app"));
        assert_eq!(e.remediation().kind, "app_disabled", "{e:?}");
    }

    #[tokio::test]
    async fn token_is_refreshed_ahead_of_expiry_on_the_servers_clock() {
        let (sim, t) = sim().await;
        let tc = secret_tenant(&sim, &t, field(&t, "client_id"), field(&t, "client_secret"));
        let p = provider(&tc);
        let first = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(token_requests(&sim).await, 1);
        post(&sim, "/_sim/clock", json!({"advance_seconds": 3400})).await;
        // The collector hands every Management API answer's Date to the provider.
        let resp = reqwest::Client::new()
            .get(format!(
                "{}/api/v1.0/{}/activity/feed/subscriptions/list",
                tc.endpoints().manage,
                tc.tenant_id
            ))
            .bearer_auth(first.expose())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        p.observe_date(resp.headers());
        let second = p
            .token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            token_requests(&sim).await,
            2,
            "a token with 199 s left must be refreshed"
        );
        assert_ne!(first.expose(), second.expose());
        assert!(second.expires_at() > first.expires_at() + Duration::seconds(3000));
        // And the new one is cached again.
        p.token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(token_requests(&sim).await, 2);
    }

    #[tokio::test]
    async fn forced_directory_outage_is_transient_and_not_remembered() {
        let (sim, t) = sim().await;
        let p = provider(&secret_tenant(
            &sim,
            &t,
            field(&t, "client_id"),
            field(&t, "client_secret"),
        ));
        post(
            &sim,
            "/_sim/control",
            json!({"audit_enabled": true, "licensed": true, "force_aadsts": 90033}),
        )
        .await;
        let e = p
            .token(Api::Management)
            .await
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert!(e.codes().contains(&90033), "{e:?}");
        assert!(e.is_transient());
        assert_eq!(e.remediation().kind, "transient");
        post(
            &sim,
            "/_sim/control",
            json!({"audit_enabled": true, "licensed": true, "force_aadsts": null}),
        )
        .await;
        p.token(Api::Management)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_a_transient_transport_error() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "[[tenant]]\nname = \"x\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55\"\nclient_secret_env = \"S\"\nlogin_url = \"http://127.0.0.1:{port}\"\n"
        );
        let cfg = Config::from_toml_str_with_env(&text, ".", &|k| {
            (k == "S").then(|| "top-secret-value".to_string())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let p = provider(&cfg.tenants[0]);
        assert_eq!(
            p.token_url(),
            format!("http://127.0.0.1:{port}/contoso.onmicrosoft.com/oauth2/v2.0/token")
        );
        let e = p
            .token(Api::Graph)
            .await
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert!(matches!(e, AuthError::Transport(_)), "{e:?}");
        assert!(e.is_transient());
        assert_eq!(e.remediation().kind, "transient");
        assert!(!format!("{e:?}").contains("top-secret-value"));
    }

    #[tokio::test]
    async fn an_unusable_key_is_a_bad_credential() {
        let secret_cfg = Config::from_toml_str_with_env(
            "[[tenant]]\nname = \"x\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55\"\nclient_secret_env = \"S\"\nlogin_url = \"http://127.0.0.1:9\"\n",
            ".",
            &|k| (k == "S").then(|| "s".to_string()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut tc = secret_cfg.tenants[0].clone();
        let junk_key = "-----BEGIN PRIVATE KEY-----\nTUlJQkFEQU5CZ2txaGtpRzl3MEJBUUVGQUFTQ0JLY3dn\n-----END PRIVATE KEY-----\n";
        tc.credential = Credential::Certificate {
            certificate_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                .into(),
            private_key: Secret::new(junk_key),
        };
        let p = provider(&tc);
        let e = p
            .token(Api::Management)
            .await
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert!(matches!(e, AuthError::BadCredential(_)), "{e:?}");
        assert!(!e.is_transient());
        assert_eq!(e.remediation().kind, "config");
        assert!(!format!("{e:?} {p:?}").contains("TUlJQkFE"));
    }

    #[test]
    fn client_assertion_has_the_documented_shape() {
        let cert = skylight_sim::certs::AppCertificate::generate("CN=assertion test")
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("app.pem"),
            format!("{}{}", cert.cert_pem, cert.key_pem),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cfg = Config::from_toml_str_with_env(
            "[[tenant]]\nname = \"x\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55\"\ncertificate_file = \"app.pem\"\ncloud = \"gcc-high\"\n",
            dir.path(),
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = provider(&cfg.tenants[0]);
        let Ok(Signer::Certificate { key, x5t, x5t_s256 }) = &p.signer else {
            panic!("not a certificate signer");
        };
        let jwt = p
            .assertion(key, x5t, x5t_s256)
            .unwrap_or_else(|e| panic!("{e}"));
        let header = jsonwebtoken::decode_header(&jwt).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.alg, Algorithm::PS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.x5t.as_deref(), Some(cert.x5t().as_str()));
        assert_eq!(header.x5t_s256.as_deref(), Some(cert.x5t_s256().as_str()));
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(1).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            claims["aud"],
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(claims["iss"], "2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55");
        assert_eq!(claims["sub"], claims["iss"]);
        assert_eq!(claims["nbf"], claims["iat"]);
        assert_eq!(
            claims["exp"].as_i64().unwrap_or_default() - claims["nbf"].as_i64().unwrap_or_default(),
            600
        );
        let again = p
            .assertion(key, x5t, x5t_s256)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(jwt, again, "jti must differ");
        assert_eq!(p.scopes[0], "https://manage.office365.us/.default");
        assert_eq!(p.scopes[1], "https://graph.microsoft.us/.default");
    }

    #[test]
    fn error_bodies_are_parsed() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t1\r\nCorrelation ID: c1\r\nTimestamp: 2023-05-06 06:03:00Z","error_codes":[7000215],"trace_id":"t1","correlation_id":"c1"}"#;
        let e = rejection(401, body);
        assert_eq!(
            e,
            AuthError::Rejected {
                status: 401,
                error: "invalid_client".into(),
                codes: vec![7000215],
                description: "AADSTS7000215: Invalid client secret provided. (trace id t1, correlation id c1)".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "token request rejected (401 invalid_client): AADSTS7000215: Invalid client secret provided. (trace id t1, correlation id c1)"
        );
        // Codes recovered from the text when error_codes is missing; legacy pairs keep order.
        let e = rejection(400, br#"{"error":"invalid_grant","error_description":"AADSTS70002: Error validating credentials. AADSTS50012: bad"}"#);
        assert_eq!(e.codes(), &[70002, 50012]);
        assert_eq!(e.remediation().kind, "credentials_invalid");
        // Not JSON: a proxy's 503 page.
        let e = rejection(503, b"<html>\n<b>Service   Unavailable</b></html>");
        assert!(e.is_transient());
        assert_eq!(e.remediation().kind, "transient");
        assert!(e.to_string().contains("http_503"));
        // temporarily_unavailable without codes.
        assert!(rejection(400, br#"{"error":"temporarily_unavailable"}"#).is_transient());
        // Unknown code: generic remediation naming it.
        let e = rejection(
            400,
            br#"{"error":"invalid_request","error_codes":[1234567]}"#,
        );
        assert!(e.remediation().message.contains("AADSTS1234567"));
        // No codes: classified by `error`.
        assert_eq!(
            rejection(401, br#"{"error":"invalid_client"}"#)
                .remediation()
                .kind,
            "credentials_invalid"
        );
        assert_eq!(
            AuthError::BadCredential("x".into()).remediation().kind,
            "config"
        );
    }

    #[test]
    fn expires_in_may_be_a_string_and_claims_are_read() {
        let v: TokenResponse = serde_json::from_str(
            r#"{"access_token":"a","expires_in":"3599","token_type":"Bearer"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v.expires_in.as_ref().and_then(NumOrString::as_i64),
            Some(3599)
        );
        let v: TokenResponse = serde_json::from_str(r#"{"access_token":"a","expires_in":3599}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v.expires_in.as_ref().and_then(NumOrString::as_i64),
            Some(3599)
        );
        let payload =
            URL_SAFE_NO_PAD.encode(br#"{"tid":"t","roles":["ActivityFeed.Read"],"exp":5}"#);
        let c = jwt_claims(&format!("h.{payload}.s"));
        assert_eq!(c.tid.as_deref(), Some("t"));
        assert_eq!(c.roles, vec!["ActivityFeed.Read".to_string()]);
        assert_eq!(c.exp, Some(5));
        assert!(jwt_claims("opaque-token").tid.is_none());
        let g = random_guid().unwrap_or_else(|e| panic!("{e}"));
        assert!(crate::config::is_guid(&g));
        assert_ne!(g, random_guid().unwrap_or_else(|e| panic!("{e}")));
    }
}
