//! `/api/v1/audit-log`: what was done in Skylight itself (sign-ins, accounts, tokens, policies,
//! triage), newest first. Administrators only.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use skylight_model::AuditEntry;
use utoipa::ToSchema;

use crate::AppState;
use crate::activities::ApiError;
use crate::alerts::{Refusal, blocking};

/// Entries per page unless `limit` says otherwise, and the most a page holds.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    /// Entries, newest first: `id`, `at`, `actor`, `action`, `target`, `detail`, `ip`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The audit log of Skylight's own actions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit-log",
    operation_id = "audit_log",
    params(
        ("limit" = Option<usize>, Query, description = "Entries per page (1–1000, default 100)"),
        ("before" = Option<i64>, Query, description = "next_before of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditLog),
        (status = 400, description = "A parameter is wrong", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditLog>, Refusal> {
    let (mut limit, mut before) = (DEFAULT_LIMIT, None);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad = |what: &str| Refusal::new(axum::http::StatusCode::BAD_REQUEST, what);
        match k.as_ref() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad("limit: a number from 1 to 1000"))?;
            }
            "before" => before = Some(v.parse().map_err(|_| bad("before: a number"))?),
            other => {
                return Err(bad(&format!(
                    "unknown parameter `{other}`; parameters: limit, before"
                )));
            }
        }
    }
    let entries = blocking(&state, move |s| s.audit_log(limit, before)).await?;
    let next_before = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditLog {
        entries,
        next_before,
    }))
}
