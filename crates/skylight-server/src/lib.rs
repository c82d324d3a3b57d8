//! Skylight's REST API and web console over the store: the activity log
//! (`/api/v1/activities`), its counts over time and one activity's detail, the alert queue
//! (`/api/v1/alerts`) with triage, comments and a live feed, policies, described by an OpenAPI
//! document at `/api/v1/openapi.json`; and the console's server-rendered pages (`console`).
//!
//! Every route but `/healthz`, the sign-in page and static assets needs a session (console
//! accounts, `auth`) or a bearer token (an API token, or the configured one), and states the least
//! role it needs: read-only, analyst or admin.

mod activities;
mod alerts;
mod audit;
pub mod auth;
mod collection;
pub mod connect;
pub mod console;
mod directory;
pub mod export;
mod policies;
mod security;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use skylight_model::Role;
use skylight_store::Store;
use utoipa::OpenApi;

pub use activities::{activity_json, cursor_text, parse_cursor};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The configured bearer token (`SKYLIGHT_API_TOKEN`), which acts as an administrator.
    pub api_token: Option<Arc<str>>,
    /// Carries out governance actions; `None` when served without a connector configuration.
    pub governor: Option<Arc<skylight_govern::Governor>>,
    /// How the console signs people in and what it shows.
    pub console: Arc<ConsoleConfig>,
    /// Connecting tenants from the console; `None` where credentials cannot be sealed.
    pub connect: Option<Arc<connect::ConnectKit>>,
}

/// The console's settings.
#[derive(Debug, Default)]
pub struct ConsoleConfig {
    /// Served behind TLS: cookies are `Secure` (and `__Host-`), and HSTS is sent.
    pub secure_cookies: bool,
    /// Attributions owed for the geolocation databases in use (shown with locations).
    pub attributions: Vec<String>,
    /// Sign-in rate limits.
    pub limiter: auth::limit::LoginLimiter,
    /// The configuration file's named IP ranges (shown beside the console's, not editable).
    pub file_ip_ranges: Vec<skylight_enrich::IpRangeConfig>,
}

impl AppState {
    /// A state over `store`: no configured token, no governance, plain-HTTP cookies, no
    /// attributions.
    pub fn new(store: Arc<dyn Store>) -> AppState {
        AppState {
            store,
            api_token: None,
            governor: None,
            console: Arc::new(ConsoleConfig::default()),
            connect: None,
        }
    }

    /// With a configured bearer token (an administrator's).
    pub fn with_api_token(mut self, token: Option<&str>) -> AppState {
        self.api_token = token.map(Arc::from);
        self
    }

    /// With governance actions carried out by `governor`.
    pub fn with_governor(mut self, governor: Option<Arc<skylight_govern::Governor>>) -> AppState {
        self.governor = governor;
        self
    }

    /// With the console's connect wizard, sealing credentials with `kit`'s key.
    pub fn with_connect(mut self, kit: connect::ConnectKit) -> AppState {
        self.connect = Some(Arc::new(kit));
        self
    }

    /// With console settings.
    pub fn with_console(mut self, console: ConsoleConfig) -> AppState {
        self.console = Arc::new(console);
        self
    }
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Skylight API",
        description = "Microsoft 365 activity, searched and explained."
    ),
    paths(
        activities::list,
        activities::histogram,
        activities::detail,
        alerts::list,
        alerts::one,
        alerts::patch,
        alerts::comment,
        alerts::stream,
        policies::list,
        policies::put,
        policies::delete,
        directory::users,
        directory::user,
        directory::groups,
        directory::members,
        directory::apps,
        directory::files,
        directory::log,
        directory::act,
        directory::approve_or_retry,
        collection::status,
        collection::ledger,
        audit::list
    ),
    components(schemas(
        activities::ActivityList,
        activities::Histogram,
        activities::Bucket,
        activities::ApiError,
        alerts::AlertList,
        policies::PolicyList,
        directory::UserList,
        directory::UserDetail,
        directory::GroupList,
        directory::MemberList,
        directory::AppList,
        directory::FileList,
        directory::GovernanceList,
        directory::NewAction,
        audit::AuditLog,
        collection::CollectionStatus,
        collection::CollectionLedger,
        alerts::AlertPatch,
        alerts::NewComment,
        alerts::doc::AlertDoc,
        alerts::doc::CommentDoc,
        alerts::doc::SeverityDoc,
        alerts::doc::StatusDoc,
        alerts::doc::ResolutionDoc
    )),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

/// Declares how API calls authenticate: a bearer token, or a console session cookie (with the
/// session's CSRF token in `X-CSRF-Token` on changes).
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::COOKIE))),
        );
    }
}

/// Every route: health, sign-in and static assets open; the API and the console behind
/// [`auth::authenticate`], each route behind the least role it needs.
pub fn router(state: AppState) -> Router {
    let read = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/activities", get(activities::list))
        .route("/api/v1/activities/histogram", get(activities::histogram))
        .route("/api/v1/activities/{id}", get(activities::detail))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/stream", get(alerts::stream))
        .route("/api/v1/alerts/{id}", get(alerts::one))
        .route("/api/v1/policies", get(policies::list))
        .route("/api/v1/users", get(directory::users))
        .route("/api/v1/users/{key}", get(directory::user))
        .route("/api/v1/groups", get(directory::groups))
        .route("/api/v1/groups/{id}/members", get(directory::members))
        .route("/api/v1/apps", get(directory::apps))
        .route("/api/v1/files", get(directory::files))
        .route("/api/v1/governance", get(directory::log))
        .route("/api/v1/collection/status", get(collection::status))
        .route("/api/v1/collection/ledger", get(collection::ledger))
        .merge(console::read_routes())
        .route_layer(from_fn_with_state(Role::ReadOnly, auth::require));
    let analyst = Router::new()
        .route("/api/v1/alerts/{id}", axum::routing::patch(alerts::patch))
        .route("/api/v1/alerts/{id}/comments", post(alerts::comment))
        .route("/api/v1/governance", post(directory::act))
        .route(
            "/api/v1/governance/{id}/{verb}",
            post(directory::approve_or_retry),
        )
        .merge(console::analyst_routes())
        .route_layer(from_fn_with_state(Role::Analyst, auth::require));
    let admin = Router::new()
        .route(
            "/api/v1/policies/{id}",
            axum::routing::put(policies::put).delete(policies::delete),
        )
        .route("/api/v1/audit-log", get(audit::list))
        .merge(console::admin_routes())
        .route_layer(from_fn_with_state(Role::Admin, auth::require));
    let signed_in = read
        .merge(analyst)
        .merge(admin)
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    Router::new()
        .route("/healthz", get(health))
        .merge(console::public_routes())
        .merge(signed_in)
        .layer(from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
}

/// Serves the API and the console on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Graceful shutdown waits for every response to end, and alert feeds never end by
    // themselves: they watch this to finish.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = router(state).layer(axum::Extension(alerts::Shutdown(stopping)));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await
}

/// Whether the server is up (open to all: load balancers and probes).
async fn health() -> &'static str {
    "ok"
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
