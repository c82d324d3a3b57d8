//! Settings (administrators): console accounts and roles, API tokens, and the audit log.
//!
//! New passwords and tokens are shown once, on the page that answers the form, and never again:
//! only their hashes are kept.

use askama::Template;
use axum::extract::{Extension, Form, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use skylight_model::{Account, AccountChange, ApiToken, AuditEntry, Role};

use super::{Chrome, ConsoleError, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{self, AccessError, Principal, audit};

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<(Account, String)>,
    tokens: Vec<(ApiToken, String, String)>,
    roles: Vec<&'static str>,
    /// A secret to show once: (what it is, the secret).
    secret: Option<(String, String)>,
    message: Option<String>,
}

async fn accounts_page(
    state: &AppState,
    who: &Principal,
    secret: Option<(String, String)>,
    message: Option<String>,
) -> Result<Response, ConsoleError> {
    let (accounts, tokens) = blocking(state, |s| Ok((s.accounts()?, s.api_tokens()?))).await?;
    let page = AccountsPage {
        chrome: Chrome::new(state, who, "settings", "Accounts and API tokens", false),
        accounts: accounts
            .into_iter()
            .map(|a| {
                let last = when(a.last_login);
                (a, last)
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| {
                let used = when(t.last_used);
                let state = t.revoked.map_or_else(
                    || "live".to_owned(),
                    |r| format!("revoked {}", when(Some(r))),
                );
                (t, used, state)
            })
            .collect(),
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        secret,
        message,
    };
    Ok(render(&page))
}

/// Accounts and tokens.
pub(super) async fn accounts(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    accounts_page(&state, &who, None, None).await
}

fn role_of(s: &str) -> Result<Role, Refusal> {
    Role::parse(s)
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "role: read-only, analyst or admin"))
}

fn access_refusal(e: AccessError) -> Refusal {
    match e {
        AccessError::Store(e) => {
            tracing::error!(error = %e, "an account change failed in the store");
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store failed; see the server log",
            )
        }
        AccessError::Taken(_) => Refusal::new(StatusCode::CONFLICT, e.to_string()),
        e => Refusal::new(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The new-account form.
#[derive(Deserialize)]
pub(super) struct NewAccount {
    username: String,
    role: String,
    /// Empty: a password is generated and shown once.
    #[serde(default)]
    password: String,
}

/// Creates an account.
pub(super) async fn create_account(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<NewAccount>,
) -> Result<Response, ConsoleError> {
    let role = role_of(&form.role)?;
    let username = form.username.trim().to_owned();
    let generated = form.password.is_empty();
    let password = if generated {
        auth::new_password().map_err(|e| access_refusal(e.into()))?
    } else {
        form.password
    };
    let store = state.store.clone();
    let (name, pw) = (username.clone(), password.clone());
    let made =
        tokio::task::spawn_blocking(move || auth::create_account(store.as_ref(), &name, &pw, role))
            .await
            .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(access_refusal)?;
    audit(
        &state,
        &who,
        "account.create",
        Some(made.username.clone()),
        Some(format!("role {}", role.as_str())),
    )
    .await;
    let secret = generated.then(|| (format!("Password of {}", made.username), password));
    accounts_page(
        &state,
        &who,
        secret,
        Some(format!("Account {} created.", made.username)),
    )
    .await
}

/// A change to an account.
#[derive(Deserialize)]
pub(super) struct AccountForm {
    role: String,
    #[serde(default)]
    disabled: Option<String>,
    #[serde(default)]
    reset_password: Option<String>,
}

/// Changes an account's role, enables or disables it, or resets its password; its sessions end.
/// The last enabled administrator cannot be demoted or disabled.
pub(super) async fn update_account(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    Form(form): Form<AccountForm>,
) -> Result<Response, ConsoleError> {
    let role = role_of(&form.role)?;
    let disabled = form.disabled.is_some();
    let password = match form.reset_password {
        Some(_) => Some(auth::new_password().map_err(|e| access_refusal(e.into()))?),
        None => None,
    };
    let hash = match &password {
        Some(p) => {
            let p = p.clone();
            Some(
                tokio::task::spawn_blocking(move || auth::hash_password(&p))
                    .await
                    .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
                    .map_err(|e| access_refusal(e.into()))?,
            )
        }
        None => None,
    };
    let change = AccountChange {
        role: Some(role),
        disabled: Some(disabled),
        password_hash: hash,
    };
    let done = blocking(&state, move |s| {
        let all = s.accounts()?;
        let admins_left = all
            .iter()
            .filter(|a| a.id != id && a.role == Role::Admin && !a.disabled)
            .count();
        if admins_left == 0 && (role != Role::Admin || disabled) {
            return Ok(Err("keep at least one enabled administrator"));
        }
        Ok(s.update_account(id, &change)?.ok_or("no such account"))
    })
    .await?
    .map_err(|why| Refusal::new(StatusCode::CONFLICT, why))?;
    let detail = format!(
        "role {}, {}{}",
        done.role.as_str(),
        if done.disabled { "disabled" } else { "enabled" },
        if password.is_some() {
            ", password reset"
        } else {
            ""
        }
    );
    audit(
        &state,
        &who,
        "account.update",
        Some(done.username.clone()),
        Some(detail),
    )
    .await;
    let secret = password.map(|p| (format!("New password of {}", done.username), p));
    accounts_page(
        &state,
        &who,
        secret,
        Some(format!(
            "Account {} changed; its sessions ended.",
            done.username
        )),
    )
    .await
}

/// The new-token form.
#[derive(Deserialize)]
pub(super) struct NewToken {
    name: String,
    role: String,
}

/// Creates an API token and shows it once.
pub(super) async fn create_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<NewToken>,
) -> Result<Response, ConsoleError> {
    let role = role_of(&form.role)?;
    let name = form.name.trim().to_owned();
    let creator = who.actor.clone();
    let store = state.store.clone();
    let (token, secret) = tokio::task::spawn_blocking(move || {
        auth::create_api_token(store.as_ref(), &name, role, &creator)
    })
    .await
    .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(access_refusal)?;
    audit(
        &state,
        &who,
        "token.create",
        Some(token.name.clone()),
        Some(format!("role {}", role.as_str())),
    )
    .await;
    let shown = (format!("API token {}", token.name), secret);
    accounts_page(&state, &who, Some(shown), None).await
}

/// Revokes an API token.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ConsoleError> {
    if !blocking(&state, move |s| s.revoke_api_token(id, Utc::now())).await? {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "no live token has that number").into());
    }
    audit(&state, &who, "token.revoke", Some(id.to_string()), None).await;
    Ok(see_other("/settings/accounts"))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<(AuditEntry, String)>,
    older: Option<String>,
}

/// The audit log, newest first, 100 a page.
pub(super) async fn audit_log(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let before = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let entries = blocking(&state, move |s| s.audit_log(100, before)).await?;
    let older = (entries.len() == 100)
        .then(|| {
            entries
                .last()
                .map(|e| format!("/settings/audit?before={}", e.id))
        })
        .flatten();
    let page = AuditPage {
        chrome: Chrome::new(&state, &who, "settings", "Audit log", false),
        entries: entries
            .into_iter()
            .map(|e| {
                let at = when(Some(e.at));
                (e, at)
            })
            .collect(),
        older,
    };
    Ok(render(&page))
}
