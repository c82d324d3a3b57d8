//! Skylight's REST API over the store: the activity log (`/api/v1/activities`), its counts over
//! time and one activity's detail, the alert queue (`/api/v1/alerts`) with triage, comments and a
//! live feed, described by an OpenAPI document at `/api/v1/openapi.json`.
//!
//! Requests are authorised by a bearer token when one is configured; without one the server only
//! listens on a loopback address (the console's sign-in and roles come with the console issue).

mod activities;
mod alerts;
mod directory;
mod policies;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use skylight_store::Store;
use utoipa::OpenApi;

pub use activities::{activity_json, cursor_text, parse_cursor};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The bearer token API calls must carry, if any.
    pub api_token: Option<Arc<str>>,
    /// Carries out governance actions; `None` when served without a connector configuration.
    pub governor: Option<Arc<skylight_govern::Governor>>,
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
        directory::approve_or_retry
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
        alerts::AlertPatch,
        alerts::NewComment,
        alerts::doc::AlertDoc,
        alerts::doc::CommentDoc,
        alerts::doc::SeverityDoc,
        alerts::doc::StatusDoc,
        alerts::doc::ResolutionDoc
    ))
)]
pub struct ApiDoc;

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/activities", get(activities::list))
        .route("/api/v1/activities/histogram", get(activities::histogram))
        .route("/api/v1/activities/{id}", get(activities::detail))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/stream", get(alerts::stream))
        .route("/api/v1/alerts/{id}", get(alerts::one).patch(alerts::patch))
        .route("/api/v1/alerts/{id}/comments", post(alerts::comment))
        .route("/api/v1/policies", get(policies::list))
        .route(
            "/api/v1/policies/{id}",
            axum::routing::put(policies::put).delete(policies::delete),
        )
        .route("/api/v1/users", get(directory::users))
        .route("/api/v1/users/{key}", get(directory::user))
        .route("/api/v1/groups", get(directory::groups))
        .route("/api/v1/groups/{id}/members", get(directory::members))
        .route("/api/v1/apps", get(directory::apps))
        .route("/api/v1/files", get(directory::files))
        .route(
            "/api/v1/governance",
            get(directory::log).post(directory::act),
        )
        .route(
            "/api/v1/governance/{id}/{verb}",
            post(directory::approve_or_retry),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorise,
        ));
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .merge(api)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Graceful shutdown waits for every response to end, and alert feeds never end by
    // themselves: they watch this to finish.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = router(state).layer(axum::Extension(alerts::Shutdown(stopping)));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Whether a `Host` header names the loopback interface (`localhost`, `127.0.0.1`, `[::1]`,
/// with or without a port).
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks the bearer token, in constant time, when one is configured. Without one the server is
/// on loopback only, and a request must also name loopback as its host: a web page that points
/// its own domain at 127.0.0.1 (DNS rebinding) cannot read the log through the admin's browser.
async fn authorise(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(want) = &state.api_token else {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if loopback_host(host) {
            return next.run(req).await;
        }
        return activities::error(
            StatusCode::FORBIDDEN,
            "without an API token only requests to localhost, 127.0.0.1 or [::1] are answered",
        );
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same = given.len() == want.len()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        next.run(req).await
    } else {
        activities::error(
            StatusCode::UNAUTHORIZED,
            "send the API token as `Authorization: Bearer <token>`",
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_names_pass_without_a_token() {
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "127.9.9.9",
        ] {
            assert!(super::loopback_host(ok), "{ok}");
        }
        for no in [
            "",
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:8080",
            "[2001:db8::1]:80",
            "localhost.evil.example",
        ] {
            assert!(!super::loopback_host(no), "{no}");
        }
    }
}
