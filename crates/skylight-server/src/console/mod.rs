//! The web console: server-rendered pages (askama templates in `templates/`) over the same store
//! calls as the API, working without JavaScript; `static/` holds our own CSS and a little script.
//!
//! Pages are grouped by the least role they need (see `crate::router`); a page that changes
//! something is a POST form carrying the session's CSRF token, answered with a redirect.

mod activities;
mod alerts;
mod apps;
mod charts;
mod connect;
mod connectors;
mod directory;
mod files;
mod governance;
mod ip_ranges;
mod ledger;
mod login;
mod overview;
mod policies;
mod retention;
mod saved;
mod settings;
mod users;

use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::alerts::Refusal;
use crate::auth::Principal;

/// One entry of the navigation bar.
pub(crate) struct NavLink {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is the current section.
    pub active: bool,
}

/// The navigation: (section, path, label, least role). Sections to come (connect wizard, files,
/// OAuth apps, governance log) each slot in as one more line here and one more route group.
const NAV: &[(&str, &str, &str, skylight_model::Role)] = &[
    ("overview", "/", "Overview", skylight_model::Role::ReadOnly),
    (
        "activities",
        "/activities",
        "Activity log",
        skylight_model::Role::ReadOnly,
    ),
    (
        "alerts",
        "/alerts",
        "Alerts",
        skylight_model::Role::ReadOnly,
    ),
    ("users", "/users", "Users", skylight_model::Role::ReadOnly),
    (
        "groups",
        "/groups",
        "Groups",
        skylight_model::Role::ReadOnly,
    ),
    (
        "apps",
        "/apps",
        "OAuth apps",
        skylight_model::Role::ReadOnly,
    ),
    ("files", "/files", "Files", skylight_model::Role::ReadOnly),
    (
        "policies",
        "/policies",
        "Policies",
        skylight_model::Role::ReadOnly,
    ),
    (
        "governance",
        "/governance",
        "Governance",
        skylight_model::Role::ReadOnly,
    ),
    (
        "connectors",
        "/connectors",
        "Connected apps",
        skylight_model::Role::ReadOnly,
    ),
    (
        "settings",
        "/settings/accounts",
        "Settings",
        skylight_model::Role::Admin,
    ),
];

/// What every signed-in page shows around its content.
pub(crate) struct Chrome {
    /// The page's title.
    pub title: String,
    /// Who is signed in.
    pub actor: String,
    /// Their role's name.
    pub role: &'static str,
    /// The session's CSRF token, for the page's forms (empty for token callers).
    pub csrf: String,
    /// The navigation bar.
    pub nav: Vec<NavLink>,
    /// Attributions owed for geolocation, shown on pages that show locations.
    pub attributions: Vec<String>,
    /// Whether the signed-in role may triage (analyst or admin).
    pub can_triage: bool,
    /// Whether the signed-in role is admin.
    pub is_admin: bool,
}

impl Chrome {
    /// The chrome of a page of `section`; `geo` when the page shows locations.
    pub(crate) fn new(
        state: &AppState,
        who: &Principal,
        section: &str,
        title: impl Into<String>,
        geo: bool,
    ) -> Chrome {
        use skylight_model::Role;
        Chrome {
            title: title.into(),
            actor: who.actor.clone(),
            role: who.role.as_str(),
            csrf: who.csrf().unwrap_or_default().to_owned(),
            nav: NAV
                .iter()
                .filter(|(_, _, _, role)| who.role.allows(*role))
                .map(|(s, href, label, _)| NavLink {
                    href,
                    label,
                    active: *s == section,
                })
                .collect(),
            attributions: if geo {
                state.console.attributions.clone()
            } else {
                Vec::new()
            },
            can_triage: who.role.allows(Role::Analyst),
            is_admin: who.role.allows(Role::Admin),
        }
    }
}

/// A page that could not be shown: its status and why, without the navigation (it may be shown
/// to someone not signed in).
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    why: &'a str,
}

/// A short page saying what went wrong.
pub(crate) fn error_page(status: StatusCode, why: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        why,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, why.to_owned()).into_response(),
    }
}

/// Renders a page; a template failure is logged and shown as a 500.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a console page");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page could not be shown; see the server log",
            )
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        error_page(self.0.0, &self.0.1)
    }
}

/// A refusal shown as a page.
pub(crate) struct ConsoleError(pub(crate) Refusal);

impl From<Refusal> for ConsoleError {
    fn from(r: Refusal) -> Self {
        ConsoleError(r)
    }
}

impl From<skylight_store::StoreError> for ConsoleError {
    fn from(e: skylight_store::StoreError) -> Self {
        tracing::error!(error = %e, "a console store call failed");
        ConsoleError(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store failed; see the server log",
        ))
    }
}

/// A 303 to `to` after a form: the browser then GETs the page (reloading does not resend).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Percent-encodes a value for a URL's query or path.
pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A time as the console shows it (UTC, to the second).
pub(crate) fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "—".into())
}

const CSS: &str = include_str!("../../static/skylight.css");
const JS: &str = include_str!("../../static/skylight.js");

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
        .into_response()
}

/// Routes open to everyone: sign-in and static assets.
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/static/skylight.css", get(css))
        .route("/static/skylight.js", get(js))
}

/// Pages for every signed-in role.
pub(crate) fn read_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/logout", post(login::logout))
        .route("/activities", get(activities::page))
        .route("/activities/export.csv", get(saved::export))
        .route("/activities/saved", post(saved::save_query))
        .route("/activities/saved/{id}/delete", post(saved::delete_query))
        .route("/activities/{id}", get(activities::detail))
        .route("/alerts", get(alerts::queue))
        .route("/alerts/{id}", get(alerts::page))
        .route("/users", get(users::index))
        .route("/users/{upn}", get(users::page))
        .route("/policies", get(policies::list))
        .route("/connectors", get(connectors::page))
        .route("/connectors/{name}", get(connect::page))
        .route("/groups", get(directory::groups))
        .route("/groups/{id}", get(directory::group))
        .route("/apps", get(apps::index))
        .route("/apps/{key}", get(apps::page))
        .route("/files", get(files::index))
        .route("/files/{drive}/{item}", get(files::page))
        .route("/governance", get(governance::log))
        .route("/governance/{id}", get(governance::entry))
}

/// Pages that investigate and triage (analyst and admin).
pub(crate) fn analyst_routes() -> Router<AppState> {
    Router::new()
        .route("/alerts/{id}/triage", post(alerts::triage))
        .route("/alerts/{id}/comments", post(alerts::comment))
        .route("/policies/{id}/backtest", get(policies::backtest))
        .route("/governance/confirm", get(governance::confirm))
        .route("/governance", post(governance::act))
        .route(
            "/governance/{id}/{verb}",
            post(governance::approve_or_retry),
        )
}

/// Pages that change configuration and access (admin).
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/policies/new", get(policies::new_form))
        .route("/policies", post(policies::save))
        .route("/policies/{id}/edit", get(policies::edit_form))
        .route("/policies/{id}/enabled", post(policies::set_enabled))
        .route("/policies/{id}/delete", post(policies::delete))
        .route(
            "/settings/accounts",
            get(settings::accounts).post(settings::create_account),
        )
        .route("/settings/accounts/{id}", post(settings::update_account))
        .route("/settings/tokens", post(settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/audit", get(settings::audit_log))
        .route(
            "/settings/ip-ranges",
            get(ip_ranges::index).post(ip_ranges::save),
        )
        .route(
            "/settings/retention",
            get(retention::index).post(retention::save),
        )
        .route(
            "/connectors/new",
            get(connect::new_form).post(connect::create),
        )
        .route(
            "/connectors/{name}/credentials",
            get(connect::credentials_form).post(connect::update_credentials),
        )
        .route(
            "/connectors/{name}/components",
            get(connect::components_form).post(connect::save_components),
        )
        .route(
            "/connectors/{name}/connect",
            get(connect::review).post(connect::connect),
        )
        .route(
            "/connectors/{name}/disconnect",
            get(connect::disconnect_form).post(connect::disconnect),
        )
        .route("/connectors/{name}/{verb}", post(connect::set_paused))
}

/// The value of `key` in a raw query string, trimmed (empty when absent).
pub(crate) fn param(raw: &str, key: &str) -> String {
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}
