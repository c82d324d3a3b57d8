//! `/api/v1/activities`: the activity log, its counts over time, one activity.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use skylight_model::filter::Filter;
use skylight_model::{ActivityRow, Category, Outcome};
use skylight_store::{ActivityQuery, Cursor};
use utoipa::ToSchema;

use crate::AppState;

/// Rows per page unless `limit` says otherwise, and the most a page can hold.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 5_000;

/// A page of activities.
#[derive(Serialize, ToSchema)]
pub struct ActivityList {
    /// The activities, newest first (see the CLI's `--format json` for the fields).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Counts over time.
#[derive(Serialize, ToSchema)]
pub struct Histogram {
    /// Bucket width in seconds.
    pub bucket_seconds: i64,
    /// Buckets with at least one activity, oldest first.
    pub buckets: Vec<Bucket>,
}

/// One time bucket.
#[derive(Serialize, ToSchema)]
pub struct Bucket {
    /// Start of the bucket (RFC 3339, UTC).
    pub start: String,
    /// Activities in it.
    pub count: u64,
}

/// An error, with what to do about it.
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong and what to do.
    pub error: String,
}

/// An error response.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

fn result_name(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Success) => "success",
        Some(Outcome::Failure) => "failure",
        _ => "unknown",
    }
}

/// An activity as the API and the CLI's JSON lines show it.
pub fn activity_json(r: &ActivityRow) -> Value {
    let name = r
        .record_type
        .and_then(skylight_normalize::record_type)
        .map(|(n, _)| n);
    json!({
        "id": r.id, "time": r.time, "tenant": r.tenant, "app": r.app.map(|a| a.as_str()),
        "record_type": r.record_type, "record_type_name": name, "workload": r.workload,
        "operation": r.operation, "category": r.category.map(Category::as_str),
        "user": r.user, "actor_kind": r.actor_kind, "ip": r.ip, "country": r.country,
        "isp": r.isp, "ip_tags": r.ip_tags, "device_type": r.device_type,
        "client_app": r.client_app, "os": r.os,
        "result": result_name(r.result), "admin": r.admin, "external_user": r.external_user,
        "impersonated": r.impersonated, "user_agent": r.user_agent,
    })
}

/// A cursor as text (`<ms>.<row>`).
pub fn cursor_text(c: Cursor) -> String {
    format!("{}.{}", c.0, c.1)
}

/// A cursor from its text.
pub fn parse_cursor(s: &str) -> Option<Cursor> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The query string's parameters: `q` (repeated conditions), `tenant`, `limit`, `cursor`,
/// `bucket`.
struct Params {
    query: ActivityQuery,
    bucket: Option<String>,
}

/// Reads the parameters; the error says what to fix (a 400).
fn params(raw: Option<String>) -> Result<Params, String> {
    let raw = raw.unwrap_or_default();
    let mut conditions = Vec::new();
    let mut query = ActivityQuery {
        limit: DEFAULT_LIMIT,
        ..ActivityQuery::default()
    };
    let mut bucket = None;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "q" => conditions.push(v.into_owned()),
            "tenant" => query.tenant = Some(v.into_owned()),
            "limit" => {
                query.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit: a number from 1 to {MAX_LIMIT}"))?;
            }
            "cursor" => {
                query.after = Some(parse_cursor(&v).ok_or_else(|| {
                    String::from("cursor: pass next_cursor from the previous page as is")
                })?);
            }
            "bucket" => bucket = Some(v.into_owned()),
            other => {
                return Err(format!(
                    "unknown parameter `{other}`; parameters: q (repeated), tenant, limit, cursor, bucket"
                ));
            }
        }
    }
    query.filter = Filter::parse(&conditions).map_err(|e| e.to_string())?;
    Ok(Params { query, bucket })
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "activity query failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the store failed; see the server log",
    )
}

/// The activity log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/activities",
    params(
        ("q" = Option<Vec<String>>, Query, description = "Conditions, repeated, all of which hold: `app=exchange`, `user!=*`, `time=2026-11-20..`, `ip=10.0.0.0/8`, `text~secret` (the filter language of `skylight activities`)"),
        ("tenant" = Option<String>, Query, description = "Only this tenant"),
        ("limit" = Option<usize>, Query, description = "Rows per page (1–5000, default 100)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of activities", body = ActivityList),
        (status = 400, description = "A condition or parameter is wrong; the message says how to fix it", body = ApiError),
        (status = 401, description = "Missing or wrong API token", body = ApiError),
    )
)]
pub(crate) async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = match params(raw) {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.activities(&p.query)).await {
        Ok(Ok(page)) => Json(ActivityList {
            items: page.rows.iter().map(activity_json).collect(),
            next_cursor: page.next.map(cursor_text),
        })
        .into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

/// How many activities match, per time bucket.
#[utoipa::path(
    get,
    path = "/api/v1/activities/histogram",
    params(
        ("q" = Option<Vec<String>>, Query, description = "Conditions, as for the list"),
        ("tenant" = Option<String>, Query, description = "Only this tenant"),
        ("bucket" = Option<String>, Query, description = "Bucket width: `5m`, `1h` (default), `1d`"),
    ),
    responses(
        (status = 200, description = "Counts per bucket", body = Histogram),
        (status = 400, description = "A condition or parameter is wrong", body = ApiError),
    )
)]
pub(crate) async fn histogram(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = match params(raw) {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let bucket = p.bucket.as_deref().unwrap_or("1h");
    let width = |suffix: char, unit: i64| {
        bucket
            .strip_suffix(suffix)
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|n| n.checked_mul(unit))
    };
    // Between a minute and a year: the histogram of a time range stays a few thousand buckets.
    let secs = width('m', 60)
        .or_else(|| width('h', 3600))
        .or_else(|| width('d', 86_400))
        .filter(|s| (60..=366 * 86_400).contains(s));
    let Some(secs) = secs else {
        return error(
            StatusCode::BAD_REQUEST,
            "bucket: a width such as 5m, 1h or 1d",
        );
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.activity_histogram(&p.query, secs * 1000)).await
    {
        Ok(Ok(counts)) => Json(Histogram {
            bucket_seconds: secs,
            buckets: counts
                .into_iter()
                .map(|(ms, count)| Bucket {
                    start: chrono::DateTime::from_timestamp_millis(ms)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    count,
                })
                .collect(),
        })
        .into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

/// One activity: its fields, the full normalised activity (objects, flattened properties) and
/// the raw record as Microsoft sent it.
#[utoipa::path(
    get,
    path = "/api/v1/activities/{id}",
    params(("id" = String, Path, description = "The audit record's Id")),
    responses(
        (status = 200, description = "The activity: `activity`, `normalized` and `raw`", body = Object),
        (status = 404, description = "No such activity", body = ApiError),
    )
)]
pub(crate) async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let store = state.store.clone();
    let wanted = id.clone();
    let found = match tokio::task::spawn_blocking(move || store.activity(None, &wanted)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return store_error(e),
        Err(e) => return store_error(e),
    };
    let Some((row, raw)) = found else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no activity has the Id {id}"),
        );
    };
    let normalized = skylight_normalize::normalize(&raw)
        .ok()
        .and_then(|a| serde_json::to_value(a).ok());
    let raw_json: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    Json(json!({"activity": activity_json(&row), "normalized": normalized, "raw": raw_json}))
        .into_response()
}
