//! Sign-in and sign-out.
//!
//! The sign-in form is protected against login CSRF (another site signing the browser into an
//! attacker's account) by a double-submit token: a short-lived SameSite=Strict cookie whose value
//! the form repeats. Attempts are rate-limited per address and per name; a wrong name and a wrong
//! password get the same answer in the same time.

use askama::Template;
use axum::extract::{Extension, Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use skylight_model::AuditEntry;

use crate::AppState;
use crate::auth::{self, Principal, blocking, secrets};

/// The login form's double-submit cookie.
const LOGIN_COOKIE: &str = "skylight_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    message: Option<String>,
}

/// Where to go after signing in: a path of this site only (never `//host` or a full URL).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: String,
    username: String,
    message: Option<String>,
) -> Response {
    let csrf = match secrets::new_secret() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot make a sign-in token");
            return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    };
    let page = LoginPage {
        csrf: csrf.clone(),
        next,
        username,
        message,
    };
    let mut res = super::render(&page);
    *res.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(state, LOGIN_COOKIE, &csrf, 3600)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The sign-in page (`?next=/path` comes back there).
pub(super) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let next = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    login_page(
        &state,
        StatusCode::OK,
        safe_next(next.as_deref()),
        String::new(),
        None,
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// Signs in: checks the form's token, the rate limits and the password, then starts a session.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim().to_owned();
    let same =
        auth::cookie(&headers, LOGIN_COOKIE).is_some_and(|c| secrets::same_secret(c, &form.csrf));
    if !same {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            next,
            username,
            Some("The sign-in form expired: sign in again.".into()),
        );
    }
    let ip = auth::client_ip(&extensions);
    if let Err(wait) = state
        .console
        .limiter
        .check(ip.as_deref().unwrap_or("unknown"), &username)
    {
        let secs = wait.as_secs().max(1);
        let mut res = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            username,
            Some(format!(
                "Too many attempts: wait {secs} seconds and try again."
            )),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    let name = username.clone();
    let password = form.password;
    let checked = blocking(&state, move |s| {
        let found = s.account_by_name(&name)?;
        let hash = found.as_ref().map(|(_, h)| h.as_str());
        let ok = secrets::verify_password(&password, hash);
        Ok(found.map(|(a, _)| a).filter(|a| ok && !a.disabled))
    })
    .await;
    let account = match checked {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "sign-in: the store failed");
            return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, "the store failed");
        }
    };
    let audit = |actor: String, action: &str| AuditEntry {
        id: 0,
        at: Utc::now(),
        actor,
        action: action.to_owned(),
        target: None,
        detail: None,
        ip: ip.clone(),
    };
    let Some(account) = account else {
        // The name tried is recorded (it is what an administrator investigating needs), never
        // the password.
        let entry = audit(username.clone(), "sign_in.failed");
        let _ = blocking(&state, move |s| s.record_audit(&entry)).await;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            next,
            username,
            Some("Wrong name or password.".into()),
        );
    };
    let now = Utc::now();
    let (token, session) = match auth::new_session(account.id, now) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a session");
            return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    };
    let entry = audit(account.username.clone(), "sign_in");
    let stored = blocking(&state, move |s| {
        s.create_session(&session)?;
        s.prune_sessions(now)?;
        s.record_audit(&entry)
    })
    .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot store a session");
        return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, "the store failed");
    }
    let mut res = super::see_other(&next);
    let cookies = [
        auth::set_cookie(
            &state,
            auth::session_cookie_name(&state),
            &token,
            auth::ABSOLUTE.num_seconds(),
        ),
        auth::set_cookie(&state, LOGIN_COOKIE, "", 0),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Signs out: ends the session in the store (so the cookie is worthless even if kept).
pub(super) async fn logout(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Response {
    if let auth::Credential::Session { token_hash, .. } = who.credential {
        if let Err(e) = blocking(&state, move |s| s.delete_session(&token_hash)).await {
            tracing::error!(error = %e, "cannot end a session");
        }
        auth::audit(&state, &who, "sign_out", None, None).await;
    }
    let mut res = super::see_other("/login");
    let gone = auth::set_cookie(&state, auth::session_cookie_name(&state), "", 0);
    if let Ok(v) = HeaderValue::from_str(&gone) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res.into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(super::safe_next(Some("/alerts/3")), "/alerts/3");
        assert_eq!(super::safe_next(Some("//evil.example/")), "/");
        assert_eq!(super::safe_next(Some("https://evil.example/")), "/");
        assert_eq!(super::safe_next(Some("/\\evil.example")), "/");
        assert_eq!(super::safe_next(None), "/");
    }
}
