//! `/api/v1/alerts`: the alert queue, one alert, its triage and comments, and a live feed of
//! changes (Server-Sent Events).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use skylight_model::{Alert, AlertStatus, Resolution, Severity};
use skylight_store::{AlertChange, AlertQuery, Store, StoreError};
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::AppState;
use crate::activities::{ApiError, error};
use crate::auth::{Principal, audit};

/// Alerts per list unless `limit` says otherwise, and the most a list can hold.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 5_000;
/// The longest comment, in characters.
const MAX_COMMENT_CHARS: usize = 10_000;
/// The longest comment author, in characters.
const MAX_AUTHOR_CHARS: usize = 200;
/// How often the feed looks for changed alerts.
const FEED_POLL: Duration = Duration::from_secs(1);
/// How often an idle feed sends a comment, so that proxies keep the connection open.
const FEED_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Alerts.
#[derive(Serialize, ToSchema)]
pub struct AlertList {
    /// The alerts, newest activity first (without their comments: see one alert for those).
    #[schema(value_type = Vec<doc::AlertDoc>)]
    pub alerts: Vec<Alert>,
}

/// A triage change: a new status, a resolution, or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPatch {
    /// The new status; a closing status without a resolution clears the resolution.
    #[schema(value_type = Option<doc::StatusDoc>)]
    pub status: Option<String>,
    /// What the alert turned out to be: only with status `resolved` or `dismissed` (given here or
    /// already the alert's).
    #[schema(value_type = Option<doc::ResolutionDoc>)]
    pub resolution: Option<String>,
}

/// A comment to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The comment (1 to 10,000 characters).
    pub text: String,
    /// On whose behalf, when the caller relays someone else's words: recorded after the caller's
    /// own name (`token:soar (for ana)`). The author is always who signed in.
    pub author: Option<String>,
}

/// A handle the feeds watch to end when the server shuts down.
#[derive(Clone)]
pub(crate) struct Shutdown(pub(crate) watch::Receiver<bool>);

/// Descriptions of the JSON for the OpenAPI document: the model crate knows nothing of OpenAPI,
/// so these mirror how its types serialise (a test compares the two).
#[allow(dead_code, reason = "only describes JSON; never built")]
pub(crate) mod doc {
    use utoipa::ToSchema;

    /// How bad an alert is, least severe first.
    #[derive(ToSchema)]
    #[schema(as = Severity, rename_all = "snake_case")]
    pub enum SeverityDoc {
        Informational,
        Low,
        Medium,
        High,
    }

    /// Where an alert stands in triage.
    #[derive(ToSchema)]
    #[schema(as = AlertStatus, rename_all = "snake_case")]
    pub enum StatusDoc {
        Open,
        InProgress,
        Resolved,
        Dismissed,
    }

    /// What a closed alert turned out to be.
    #[derive(ToSchema)]
    #[schema(as = Resolution, rename_all = "snake_case")]
    pub enum ResolutionDoc {
        TruePositive,
        Benign,
        FalsePositive,
    }

    /// An analyst's comment.
    #[derive(ToSchema)]
    #[schema(as = AlertComment)]
    pub struct CommentDoc {
        /// When (RFC 3339, UTC).
        #[schema(format = DateTime)]
        pub at: String,
        /// Who.
        pub author: String,
        /// What.
        pub text: String,
    }

    /// An alert: one incident a policy or detection raised, and its triage.
    #[derive(ToSchema)]
    #[schema(as = Alert)]
    pub struct AlertDoc {
        /// The alert's number.
        pub id: i64,
        /// The incident's identity (the same key updates the same alert).
        pub key: String,
        /// The tenant.
        pub tenant: String,
        /// The policy or detection that raised it.
        pub policy: String,
        /// `activity`, `anomaly` or `sigma`.
        pub kind: String,
        /// One line for the queue.
        pub title: String,
        /// How bad.
        pub severity: SeverityDoc,
        /// The risk category (threat_detection, privileged_accounts, sharing_control, …).
        pub category: String,
        /// Recorded as a signal for investigation, not raised in the queue.
        pub signal_only: bool,
        /// Users involved (UPNs, lowercase).
        pub users: Vec<String>,
        /// Client addresses involved.
        pub ips: Vec<String>,
        /// Countries involved (ISO codes).
        pub countries: Vec<String>,
        /// Record Ids of the matched activities (the first ones, when there are very many).
        pub activity_ids: Vec<String>,
        /// How many activities matched in all.
        pub activity_count: u64,
        /// Why: facts a person can check.
        pub facts: Vec<String>,
        /// The first matched activity's time (RFC 3339, UTC).
        #[schema(format = DateTime)]
        pub first: String,
        /// The last matched activity's time (RFC 3339, UTC).
        #[schema(format = DateTime)]
        pub last: String,
        /// Triage state.
        pub status: StatusDoc,
        /// How it was closed.
        pub resolution: Option<ResolutionDoc>,
        /// When it was first raised (RFC 3339, UTC).
        #[schema(format = DateTime)]
        pub created: String,
        /// When it last changed (RFC 3339, UTC).
        #[schema(format = DateTime)]
        pub updated: String,
        /// Analysts' comments, oldest first (empty in lists).
        pub comments: Vec<CommentDoc>,
    }
}

/// A refused request: its status and what to fix.
pub(crate) struct Refusal(pub(crate) StatusCode, pub(crate) String);

impl Refusal {
    /// A request refused with its status and what to fix.
    pub(crate) fn new(status: StatusCode, why: impl Into<String>) -> Refusal {
        Refusal(status, why.into())
    }

    fn bad(why: impl Into<String>) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, why.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// Runs a store call on the blocking pool; a failure is logged and refused with a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Refusal> {
    let store = state.store.clone();
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "alert store call failed");
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store failed; see the server log".into(),
        )
    };
    match tokio::task::spawn_blocking(move || call(store.as_ref())).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(&e)),
        Err(e) => Err(failed(&e)),
    }
}

fn names<T: Copy, const N: usize>(all: [T; N], name: fn(T) -> &'static str) -> String {
    all.map(name).join(", ")
}

fn parse_status(s: &str) -> Result<AlertStatus, Refusal> {
    AlertStatus::parse(s).ok_or_else(|| {
        Refusal::bad(format!(
            "status: unknown status `{s}`; statuses: {}",
            names(AlertStatus::ALL, AlertStatus::as_str)
        ))
    })
}

fn parse_resolution(s: &str) -> Result<Resolution, Refusal> {
    Resolution::parse(s).ok_or_else(|| {
        Refusal::bad(format!(
            "resolution: unknown resolution `{s}`; resolutions: {}",
            names(Resolution::ALL, Resolution::as_str)
        ))
    })
}

fn closing(status: AlertStatus) -> bool {
    matches!(status, AlertStatus::Resolved | AlertStatus::Dismissed)
}

/// Reads the list's (or the feed's) parameters. An empty value counts as absent, as a web form
/// sends its blank fields.
pub(crate) fn params(raw: Option<String>, feed: bool) -> Result<AlertQuery, Refusal> {
    let raw = raw.unwrap_or_default();
    let mut query = AlertQuery {
        limit: DEFAULT_LIMIT,
        ..AlertQuery::default()
    };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.trim();
        let known = ["status", "severity", "policy", "user", "tenant", "signals"].contains(&&*k)
            || (k == "limit" && !feed);
        if known && v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "status" => {
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    query.statuses.push(parse_status(s)?);
                }
            }
            "severity" => {
                query.min_severity = Some(Severity::parse(v).ok_or_else(|| {
                    Refusal::bad(format!(
                        "severity: unknown severity `{v}`; severities (the least severe shown): {}",
                        names(Severity::ALL, Severity::as_str)
                    ))
                })?);
            }
            "policy" => query.policy = Some(v.to_owned()),
            "user" => query.user = Some(v.to_owned()),
            "tenant" => query.tenant = Some(v.to_owned()),
            "signals" => {
                query.include_signals = match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(Refusal::bad(format!("signals: true or false, not `{v}`"))),
                };
            }
            "limit" => {
                query.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        Refusal::bad(format!("limit: a number from 1 to {MAX_LIMIT}"))
                    })?;
            }
            other => {
                let limit = if feed { "" } else { ", limit" };
                return Err(Refusal::bad(format!(
                    "unknown parameter `{other}`; parameters: status (repeated or comma-separated), severity, policy, user, tenant, signals{limit}"
                )));
            }
        }
    }
    Ok(query)
}

/// An alert's number from the path; anything else names no alert (a 404).
pub(crate) fn alert_id(id: &str) -> Result<i64, Refusal> {
    id.parse().map_err(|_| {
        Refusal(
            StatusCode::NOT_FOUND,
            format!("no alert has the id `{id}`: alert ids are numbers"),
        )
    })
}

fn not_found(id: i64) -> Refusal {
    Refusal(StatusCode::NOT_FOUND, format!("no alert has the id {id}"))
}

/// A JSON request body. Requiring the JSON content type also keeps other web sites out: a
/// browser sends a cross-site JSON POST only after a CORS check this server never passes.
pub(crate) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Refusal> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON, with `Content-Type: application/json`".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| Refusal::bad(format!("body: {e}")))
}

/// Alerts, newest activity first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "list_alerts",
    params(
        ("status" = Option<Vec<String>>, Query, description = "Any of these statuses, repeated or comma-separated: `open`, `in_progress`, `resolved`, `dismissed` (default: all)"),
        ("severity" = Option<String>, Query, description = "At least this severe: `informational`, `low`, `medium`, `high`"),
        ("policy" = Option<String>, Query, description = "Raised by this policy or detection (its id)"),
        ("user" = Option<String>, Query, description = "Involving this user (case-insensitive)"),
        ("tenant" = Option<String>, Query, description = "Only this tenant"),
        ("signals" = Option<bool>, Query, description = "Include signals (recorded for investigation, not raised); default false"),
        ("limit" = Option<usize>, Query, description = "At most this many (1–5000, default 100)"),
    ),
    responses(
        (status = 200, description = "The alerts", body = AlertList),
        (status = 400, description = "A parameter is wrong; the message names the valid values", body = ApiError),
        (status = 401, description = "Missing or wrong API token", body = ApiError),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AlertList>, Refusal> {
    let query = params(raw, false)?;
    let alerts = blocking(&state, move |store| store.alerts(&query)).await?;
    Ok(Json(AlertList { alerts }))
}

/// One alert, with its comments.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    operation_id = "get_alert",
    params(("id" = i64, Path, description = "The alert's number")),
    responses(
        (status = 200, description = "The alert", body = doc::AlertDoc),
        (status = 404, description = "No such alert", body = ApiError),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Alert>, Refusal> {
    let id = alert_id(&id)?;
    let alert = blocking(&state, move |store| store.alert(id)).await?;
    alert.map(Json).ok_or_else(|| not_found(id))
}

/// Changes an alert's status and/or resolution.
#[utoipa::path(
    patch,
    path = "/api/v1/alerts/{id}",
    operation_id = "update_alert",
    params(("id" = i64, Path, description = "The alert's number")),
    request_body = AlertPatch,
    responses(
        (status = 200, description = "The changed alert", body = doc::AlertDoc),
        (status = 400, description = "A value is wrong, or a resolution comes without a closing status", body = ApiError),
        (status = 404, description = "No such alert", body = ApiError),
        (status = 415, description = "The body is not `application/json`", body = ApiError),
    )
)]
pub(crate) async fn patch(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Alert>, Refusal> {
    let id = alert_id(&id)?;
    let patch: AlertPatch = json_body(&headers, &body)?;
    triage(
        &state,
        &who,
        id,
        patch.status.as_deref(),
        patch.resolution.as_deref(),
    )
    .await
    .map(Json)
}

/// Changes an alert's status and/or resolution and records it in the audit log: the API's PATCH
/// and the console's triage form.
pub(crate) async fn triage(
    state: &AppState,
    who: &Principal,
    id: i64,
    status: Option<&str>,
    resolution: Option<&str>,
) -> Result<Alert, Refusal> {
    let status = status.map(parse_status).transpose()?;
    let resolution = resolution.map(parse_resolution).transpose()?;
    match (status, resolution) {
        (None, None) => return Err(Refusal::bad("send status, resolution or both")),
        (Some(s), Some(_)) if !closing(s) => {
            return Err(Refusal::bad(format!(
                "a resolution needs status resolved or dismissed, not {}",
                s.as_str()
            )));
        }
        _ => {}
    }
    let change = AlertChange {
        status,
        resolution,
        comment: None,
    };
    // Ok(Err(status)): a resolution alone for an alert that is not closed.
    let done = blocking(state, move |store| {
        if change.status.is_none() {
            match store.alert(id)? {
                None => return Ok(Ok(None)),
                Some(a) if !closing(a.status) => return Ok(Err(a.status)),
                Some(_) => {}
            }
        }
        store.update_alert(id, &change).map(Ok)
    })
    .await?;
    match done {
        Ok(Some(alert)) => {
            let detail = format!(
                "status {}{}",
                alert.status.as_str(),
                alert
                    .resolution
                    .map(|r| format!(", resolution {}", r.as_str()))
                    .unwrap_or_default()
            );
            audit(
                state,
                who,
                "alert.update",
                Some(id.to_string()),
                Some(detail),
            )
            .await;
            Ok(alert)
        }
        Ok(None) => Err(not_found(id)),
        Err(s) => Err(Refusal::bad(format!(
            "alert {id} is {}: a resolution needs status resolved or dismissed (send both)",
            s.as_str()
        ))),
    }
}

/// Adds a comment to an alert.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/comments",
    operation_id = "add_alert_comment",
    params(("id" = i64, Path, description = "The alert's number")),
    request_body = NewComment,
    responses(
        (status = 201, description = "The alert, with the new comment last", body = doc::AlertDoc),
        (status = 400, description = "The text is missing, empty or too long", body = ApiError),
        (status = 404, description = "No such alert", body = ApiError),
        (status = 415, description = "The body is not `application/json`", body = ApiError),
    )
)]
pub(crate) async fn comment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Alert>), Refusal> {
    let id = alert_id(&id)?;
    let new: NewComment = json_body(&headers, &body)?;
    let alert = add_comment(&state, &who, id, new.text, new.author.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(alert)))
}

/// Adds a comment by `who` (relaying `on_behalf`'s words, if given) and records it in the audit
/// log: the API's POST and the console's comment form.
pub(crate) async fn add_comment(
    state: &AppState,
    who: &Principal,
    id: i64,
    text: String,
    on_behalf: Option<&str>,
) -> Result<Alert, Refusal> {
    if text.trim().is_empty() {
        return Err(Refusal::bad("text: the comment is empty"));
    }
    let chars = text.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(Refusal::bad(format!(
            "text: at most {MAX_COMMENT_CHARS} characters, not {chars}"
        )));
    }
    let author = match on_behalf.map(str::trim) {
        Some(a) if !a.is_empty() && a != who.actor => format!("{} (for {a})", who.actor),
        _ => who.actor.clone(),
    };
    if author.chars().count() > MAX_AUTHOR_CHARS {
        return Err(Refusal::bad(format!(
            "author: at most {MAX_AUTHOR_CHARS} characters"
        )));
    }
    let change = AlertChange {
        comment: Some((author, text)),
        ..AlertChange::default()
    };
    let alert = blocking(state, move |store| store.update_alert(id, &change)).await?;
    let alert = alert.ok_or_else(|| not_found(id))?;
    audit(state, who, "alert.comment", Some(id.to_string()), None).await;
    Ok(alert)
}

/// Alerts raised or changed from now on, as Server-Sent Events: `event: alert`, the alert (with
/// its comments) as `data`, oldest change first; a `: keep-alive` comment every 15 s.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/stream",
    operation_id = "stream_alerts",
    params(
        ("status" = Option<Vec<String>>, Query, description = "As for the list"),
        ("severity" = Option<String>, Query, description = "As for the list"),
        ("policy" = Option<String>, Query, description = "As for the list"),
        ("user" = Option<String>, Query, description = "As for the list"),
        ("tenant" = Option<String>, Query, description = "As for the list"),
        ("signals" = Option<bool>, Query, description = "As for the list"),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `alert` events, each an Alert as JSON", content_type = "text/event-stream", body = String),
        (status = 400, description = "A parameter is wrong", body = ApiError),
    )
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    shutdown: Option<Extension<Shutdown>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = AlertQuery {
        limit: 0,
        ..params(raw, true)?
    };
    let mut tick = tokio::time::interval(FEED_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        state,
        query,
        since: Utc::now(),
        tick,
        pending: VecDeque::new(),
        stop: shutdown.map(|Extension(Shutdown(rx))| rx),
        failing: false,
    };
    let keep_alive = KeepAlive::new()
        .interval(FEED_KEEP_ALIVE)
        .text("keep-alive");
    Ok(Sse::new(feed.events())
        .keep_alive(keep_alive)
        .into_response())
}

/// One client's feed.
struct Feed {
    state: AppState,
    query: AlertQuery,
    /// The last change sent (at first, when the client connected).
    since: DateTime<Utc>,
    /// When to poll next.
    tick: tokio::time::Interval,
    /// Changed alerts not sent yet, oldest change first.
    pending: VecDeque<Alert>,
    /// Set when the server shuts down (absent when the router runs outside `serve`).
    stop: Option<watch::Receiver<bool>>,
    /// Whether the last poll failed (logged once per run of failures).
    failing: bool,
}

impl Feed {
    fn events(self) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
        futures_util::stream::unfold(self, |mut feed| async move {
            loop {
                if let Some(alert) = feed.pending.pop_front() {
                    match Event::default().event("alert").json_data(&alert) {
                        Ok(event) => return Some((Ok(event), feed)),
                        Err(e) => {
                            tracing::error!(error = %e, id = alert.id, "cannot serialise an alert");
                            continue;
                        }
                    }
                }
                // Ends the response when the server stops: graceful shutdown waits for it.
                tokio::select! {
                    _ = feed.tick.tick() => {}
                    () = stopped(feed.stop.as_mut()) => return None,
                }
                feed.poll().await;
            }
        })
    }

    async fn poll(&mut self) {
        let query = AlertQuery {
            updated_after: Some(self.since),
            ..self.query.clone()
        };
        let store = self.state.store.clone();
        let found = tokio::task::spawn_blocking(move || {
            let changed = store.alerts(&query)?;
            // The list leaves comments out; a feed's reader should not have to ask for them.
            changed
                .into_iter()
                .map(|a| {
                    let updated = a.updated;
                    Ok((updated, store.alert(a.id)?.unwrap_or(a)))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        match found {
            Ok(changed) => {
                self.failing = false;
                if let Some((updated, _)) = changed.last() {
                    // The time of the polled row, not of the re-read one: a change made between
                    // the two reads is sent again rather than lost.
                    self.since = *updated;
                }
                self.pending.extend(changed.into_iter().map(|(_, a)| a));
            }
            // Logged once: the feed keeps polling, every second, until the store answers.
            Err(_) if self.failing => {}
            Err(e) => {
                self.failing = true;
                tracing::error!(error = %e, "the alert feed cannot read the store; retrying");
            }
        }
    }
}

async fn stopped(stop: Option<&mut watch::Receiver<bool>>) {
    match stop {
        // A dropped sender means the server is gone too.
        Some(rx) => {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
        None => std::future::pending().await,
    }
}
