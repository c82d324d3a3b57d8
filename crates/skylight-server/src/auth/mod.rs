//! Who is asking, and may they: every request but health, sign-in and static assets carries a
//! session cookie or a bearer token (an API token from the store, or the configured one), and
//! every route states the least role it needs.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure behind TLS); the
//! store keeps its SHA-256, so any number of server processes can share sessions. A request that
//! changes something with a session must carry the session's CSRF token (a form's `csrf` field or
//! an `X-CSRF-Token` header), and must not come from another site (`Origin`, `Sec-Fetch-Site`).

pub mod limit;
pub mod secrets;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use skylight_model::{Account, ApiToken, AuditEntry, Role, Session};
use skylight_store::{AccessStore, Store, StoreError};

use crate::AppState;

pub use secrets::{hash_password, new_api_token, new_password, token_hash, verify_password};

/// The session cookie's name over plain HTTP (loopback).
pub const COOKIE: &str = "skylight_session";
/// The session cookie's name behind TLS: the `__Host-` prefix binds it to this exact origin.
pub const SECURE_COOKIE: &str = "__Host-skylight_session";
/// A session ends after this long unused.
pub const IDLE: Duration = Duration::hours(8);
/// A session ends this long after sign-in, however much it is used.
pub const ABSOLUTE: Duration = Duration::hours(24);
/// A session's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::minutes(1);
/// The largest form body read to find its CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session.
    Session {
        /// The account.
        account_id: i64,
        /// The session's token hash (to end it on sign-out).
        token_hash: [u8; 32],
        /// The token its forms carry.
        csrf: String,
    },
    /// An API token from the store.
    ApiToken {
        /// Its number.
        id: i64,
    },
    /// The token of the server's configuration (`SKYLIGHT_API_TOKEN`): an administrator.
    Configured,
}

/// Who is asking, and with what rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The name the audit log records: an account's name, `token:NAME`, or `api-token`.
    pub actor: String,
    /// What it may do.
    pub role: Role,
    /// How it signed in.
    pub credential: Credential,
    /// The client's address, when known.
    pub ip: Option<String>,
}

impl Principal {
    /// The session's CSRF token, if this is a browser session.
    pub fn csrf(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }

    /// The account, if this is a browser session.
    pub fn account_id(&self) -> Option<i64> {
        match self.credential {
            Credential::Session { account_id, .. } => Some(account_id),
            _ => None,
        }
    }
}

/// Whether a path belongs to the JSON API (answered with JSON errors, not pages or redirects).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// A refusal in the form the path expects: JSON for the API, a short page for the console.
pub fn refuse(path: &str, status: StatusCode, why: &str) -> Response {
    if is_api(path) {
        crate::activities::error(status, why)
    } else {
        crate::console::error_page(status, why)
    }
}

/// The client's address, from the connection.
pub fn client_ip(req_extensions: &axum::http::Extensions) -> Option<String> {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The name of the session cookie, as this server sets it.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.console.secure_cookies {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure behind TLS; `max_age` 0
/// deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Runs a store call off the async threads.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || call(store.as_ref())).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Corrupt(format!("store task failed: {e}"))),
    }
}

/// Appends to the audit log; a failure is logged, not returned (the action has happened).
pub async fn audit(
    state: &AppState,
    who: &Principal,
    action: &str,
    target: Option<String>,
    detail: Option<String>,
) {
    let entry = AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: who.actor.clone(),
        action: action.to_owned(),
        target,
        detail,
        ip: who.ip.clone(),
    };
    if let Err(e) = blocking(state, move |s| s.record_audit(&entry)).await {
        tracing::error!(error = %e, action, "cannot write the audit log");
    }
}

/// What a request's credentials come to.
enum Found {
    Principal(Principal),
    /// Credentials were sent but are not (or no longer) valid.
    Invalid(&'static str),
    /// No credentials at all.
    None,
}

async fn identify(state: &AppState, headers: &HeaderMap, ip: Option<String>) -> Found {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let Some(token) = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return Found::Invalid("send the API token as `Authorization: Bearer <token>`");
        };
        let token = token.trim();
        if let Some(want) = &state.api_token
            && secrets::same_secret(token, want)
        {
            return Found::Principal(Principal {
                actor: "api-token".into(),
                role: Role::Admin,
                credential: Credential::Configured,
                ip,
            });
        }
        let hash = token_hash(token);
        let found: Result<Option<ApiToken>, StoreError> = blocking(state, move |s| {
            let t = s.api_token_by_hash(&hash)?;
            if let Some(t) = &t {
                let now = Utc::now();
                if t.last_used.is_none_or(|u| now - u > TOUCH_EVERY) {
                    s.touch_api_token(t.id, now)?;
                }
            }
            Ok(t)
        })
        .await;
        return match found {
            Ok(Some(t)) => Found::Principal(Principal {
                actor: format!("token:{}", t.name),
                role: t.role,
                credential: Credential::ApiToken { id: t.id },
                ip,
            }),
            Ok(None) => Found::Invalid("the API token is wrong or revoked"),
            Err(e) => {
                tracing::error!(error = %e, "cannot check an API token");
                Found::Invalid("the store failed; see the server log")
            }
        };
    }
    let Some(token) = cookie(headers, session_cookie_name(state)) else {
        return Found::None;
    };
    let hash = token_hash(token);
    let now = Utc::now();
    let found: Result<Option<(Session, Account)>, StoreError> = blocking(state, move |s| {
        let Some((session, account)) = s.session(&hash, now)? else {
            return Ok(None);
        };
        // Sliding expiry, written at most once a minute, never past the absolute end.
        if now - session.last_seen > TOUCH_EVERY {
            let expires = (now + IDLE).min(session.created + ABSOLUTE);
            s.touch_session(&hash, now, expires)?;
        }
        Ok(Some((session, account)))
    })
    .await;
    match found {
        Ok(Some((session, account))) => Found::Principal(Principal {
            actor: account.username,
            role: account.role,
            credential: Credential::Session {
                account_id: account.id,
                token_hash: session.token_hash,
                csrf: session.csrf,
            },
            ip,
        }),
        Ok(None) => Found::Invalid("the session has ended; sign in again"),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session");
            Found::Invalid("the store failed; see the server log")
        }
    }
}

/// Whether a request that changes something comes from another site. Browsers say so in
/// `Sec-Fetch-Site` (`cross-site`, `same-site`); older ones only send `Origin`, which must then
/// name this host. Clients that send neither (curl, scripts) are judged by the CSRF token alone.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str().unwrap_or(""), "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// Checks a session's state-changing request for its CSRF token: in `X-CSRF-Token`, or in the
/// `csrf` field of a form body (read here and handed on unchanged).
async fn check_csrf(req: Request, want: &str) -> Result<Request, &'static str> {
    if let Some(given) = req.headers().get("x-csrf-token") {
        return match given.to_str() {
            Ok(g) if secrets::same_secret(g, want) => Ok(req),
            _ => Err("the CSRF token is wrong: reload the page and try again"),
        };
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err("a request made with a session cookie needs the X-CSRF-Token header");
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| "the form is too large")?;
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match given {
        Some(g) if secrets::same_secret(&g, want) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err("the form's CSRF token is missing or wrong: reload the page and try again"),
    }
}

/// Identifies the caller (session or token) and hands a [`Principal`] to the routes; without
/// credentials a page asks to sign in and the API answers 401.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let ip = client_ip(req.extensions());
    let principal = match identify(&state, req.headers(), ip).await {
        Found::Principal(p) => p,
        Found::None | Found::Invalid(_) if !is_api(&path) && req.method() == Method::GET => {
            return sign_in_first(&req);
        }
        Found::None => {
            return refuse(
                &path,
                StatusCode::UNAUTHORIZED,
                "sign in, or send an API token as `Authorization: Bearer <token>`",
            );
        }
        Found::Invalid(why) => return refuse(&path, StatusCode::UNAUTHORIZED, why),
    };
    let mut req = req;
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && let Some(want) = principal.csrf() {
        if cross_site(req.headers()) {
            return refuse(
                &path,
                StatusCode::FORBIDDEN,
                "a request from another site cannot change anything here",
            );
        }
        req = match check_csrf(req, want).await {
            Ok(r) => r,
            Err(why) => return refuse(&path, StatusCode::FORBIDDEN, why),
        };
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// A redirect to the sign-in page that comes back here afterwards.
fn sign_in_first(req: &Request) -> Response {
    let back = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/login?next={next}"))],
    )
        .into_response()
}

/// Refuses a request whose principal lacks `role` (403), after [`authenticate`].
pub async fn require(State(role): State<Role>, req: Request, next: Next) -> Response {
    let allowed = req
        .extensions()
        .get::<Principal>()
        .is_some_and(|p| p.role.allows(role));
    if allowed {
        next.run(req).await
    } else {
        let why = format!("this needs the {} role", role.as_str());
        refuse(req.uri().path(), StatusCode::FORBIDDEN, &why)
    }
}

/// Why an account or token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A name that is empty, too long or has characters outside letters, digits and `.-_@`.
    #[error("a name has 1 to 64 letters, digits, `.`, `-`, `_` or `@`")]
    BadName,
    /// The name is taken.
    #[error("an account named `{0}` already exists")]
    Taken(String),
    /// A secret could not be made.
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a name is acceptable for an account or a token.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

/// Creates an account with a password (hashed here: call off the async threads).
pub fn create_account(
    store: &dyn AccessStore,
    username: &str,
    password: &str,
    role: Role,
) -> Result<Account, AccessError> {
    if !valid_name(username) {
        return Err(AccessError::BadName);
    }
    let hash = hash_password(password)?;
    store
        .create_account(username, &hash, role)?
        .ok_or_else(|| AccessError::Taken(username.to_owned()))
}

/// Creates an API token; returns it with its secret, which is shown once and never kept.
pub fn create_api_token(
    store: &dyn AccessStore,
    name: &str,
    role: Role,
    created_by: &str,
) -> Result<(ApiToken, String), AccessError> {
    if !valid_name(name) {
        return Err(AccessError::BadName);
    }
    let secret = new_api_token()?;
    let token = store.create_api_token(name, &token_hash(&secret), role, created_by)?;
    Ok((token, secret))
}

/// Starts a session for an account: its cookie token and the stored session.
pub fn new_session(account_id: i64, now: DateTime<Utc>) -> Result<(String, Session), AccessError> {
    let token = secrets::new_secret()?;
    let session = Session {
        token_hash: token_hash(&token),
        account_id,
        csrf: secrets::new_secret()?,
        created: now,
        last_seen: now,
        expires: now + IDLE,
    };
    Ok((token, session))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn requests_from_other_sites_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h), "no Origin: a non-browser client");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            !cross_site(&h),
            "the browser's word wins over an opaque Origin"
        );
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(cross_site(&h), "a sibling subdomain is another site here");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; skylight_session=tok; x_skylight_session=no"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_name("alice@contoso.com"));
        assert!(valid_name("siem-export_1"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("<script>"));
        assert!(!valid_name(&"a".repeat(65)));
    }
}
