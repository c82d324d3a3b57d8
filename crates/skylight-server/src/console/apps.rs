//! The OAuth app inventory: apps by permission level with their consents, publisher and
//! review, and one app's page with its grants, app roles and the approve / ban / revoke buttons.

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use skylight_model::{OAuthApp, PermissionLevel};
use skylight_store::{AppQuery, GovernanceQuery};

use super::governance::{APP_ACTIONS, EntryRow, action_links};
use super::{Chrome, ConsoleError, enc, param, render, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;

/// One app as a row of the inventory.
struct AppRow {
    href: String,
    name: String,
    level: &'static str,
    consents: u32,
    all_users: bool,
    publisher: String,
    verified: bool,
    first_party: bool,
    review: &'static str,
    enabled: bool,
}

impl From<&OAuthApp> for AppRow {
    fn from(a: &OAuthApp) -> Self {
        AppRow {
            href: format!("/apps/{}", enc(&a.id)),
            name: a.name.clone(),
            level: a.level.as_str(),
            consents: a.consented_users,
            all_users: a.all_users,
            publisher: a
                .verified_publisher
                .clone()
                .or_else(|| a.publisher.clone())
                .unwrap_or_default(),
            verified: a.verified_publisher.is_some(),
            first_party: a.first_party,
            review: a.review.as_str(),
            enabled: a.enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct Index {
    chrome: Chrome,
    search: String,
    level: String,
    microsoft: bool,
    apps: Vec<AppRow>,
}

/// The inventory: `?level=low|medium|high&search=…&microsoft=1`.
pub(super) async fn index(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let raw = raw.unwrap_or_default();
    let (search, level) = (param(&raw, "search"), param(&raw, "level"));
    let microsoft = !param(&raw, "microsoft").is_empty();
    let min_level = if level.is_empty() {
        None
    } else {
        Some(PermissionLevel::parse(&level).ok_or_else(|| {
            ConsoleError(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("unknown level {level:?}; levels: low, medium, high"),
            ))
        })?)
    };
    let query = AppQuery {
        tenant: None,
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        min_level,
        first_party: microsoft,
        limit: 500,
    };
    let apps = blocking(&state, move |s| s.oauth_apps(&query)).await?;
    let page = Index {
        chrome: Chrome::new(&state, &who, "apps", "OAuth apps", false),
        search,
        level,
        microsoft,
        apps: apps.iter().map(AppRow::from).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    chrome: Chrome,
    row: AppRow,
    app_id: String,
    first_consent: String,
    last_consent: String,
    /// (who, resource, scopes).
    grants: Vec<(String, String, String)>,
    /// (resource, permission, granted).
    roles: Vec<(String, String, String)>,
    actions: Vec<(String, &'static str, &'static str)>,
    governance: Vec<EntryRow>,
}

/// One app, by object id, app id or name.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(key): Path<String>,
) -> Result<Response, ConsoleError> {
    let k = key.clone();
    let found = blocking(&state, move |s| {
        let Some(app) = s.oauth_app(None, &k)? else {
            return Ok(None);
        };
        let log = s.governance_log(&GovernanceQuery {
            tenant: Some(app.tenant.clone()),
            target: Some(app.id.clone()),
            limit: 50,
            ..GovernanceQuery::default()
        })?;
        Ok(Some((app, log)))
    })
    .await?;
    let (app, log) = found.ok_or_else(|| {
        ConsoleError(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no app {key:?}; apps come from the directory sync"),
        ))
    })?;
    let page = AppPage {
        chrome: Chrome::new(&state, &who, "apps", app.name.clone(), false),
        row: AppRow::from(&app),
        app_id: app.app_id.clone(),
        first_consent: when(app.first_consent),
        last_consent: when(app.last_consent),
        grants: app
            .grants
            .iter()
            .map(|g| {
                (
                    g.principal_id.clone().unwrap_or_else(|| "all users".into()),
                    g.resource.clone().unwrap_or_else(|| g.resource_id.clone()),
                    g.scopes.join(" "),
                )
            })
            .collect(),
        roles: app
            .app_roles
            .iter()
            .map(|r| {
                (
                    r.resource.clone().unwrap_or_else(|| r.resource_id.clone()),
                    r.permission.clone(),
                    when(r.created),
                )
            })
            .collect(),
        actions: if app.first_party {
            Vec::new()
        } else {
            action_links(APP_ACTIONS, &app.id)
        },
        governance: log.iter().map(EntryRow::from).collect(),
    };
    Ok(render(&page))
}
