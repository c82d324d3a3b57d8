//! `/api/v1/collection/status` and `/api/v1/collection/ledger`: how collection is doing, for an
//! admin's monitoring — each connector status with what it means when asked (a collector that
//! stopped, content about to become uncollectable), and the collection ledger with what was lost.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use skylight_m365::health::{self, JudgedDay, JudgedStatus, LEDGER_DAYS};
use skylight_model::Gap;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::activities::ApiError;
use crate::alerts::{Refusal, blocking};

/// Every connector status, judged when asked.
#[derive(Serialize, ToSchema)]
pub struct CollectionStatus {
    /// One per tenant and content type: `tenant`, `content_type`, `state`, `last_success`,
    /// `watermark`, `records`, `blobs`, `gaps`, `last_error`, `remediation`, `updated_at`,
    /// `clock_offset_ms`, and `warnings` (each `kind` — `stalled`, `expiring` or `expired` — and
    /// `message`, what to do).
    #[schema(value_type = Vec<Object>)]
    pub statuses: Vec<JudgedStatus>,
    /// Statuses in error or with a warning: what a monitor alerts on (0 while collection is
    /// healthy).
    pub attention: usize,
}

/// Parameters of `GET /api/v1/collection/status`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// One tenant.
    tenant: Option<String>,
}

/// Each connector's state, counts, lag and last error with what to do, and what it means now.
#[utoipa::path(get, path = "/api/v1/collection/status", operation_id = "collection_status",
    params(StatusParams),
    responses((status = 200, description = "Every connector status", body = CollectionStatus)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    Query(p): Query<StatusParams>,
) -> Result<Json<CollectionStatus>, Refusal> {
    let now = Utc::now();
    let files = crate::connect::file_tenants(&state);
    let mut statuses = blocking(&state, move |s| health::judge_all(s, now, &files)).await?;
    if let Some(tenant) = &p.tenant {
        statuses.retain(|j| j.status.tenant == *tenant);
    }
    let attention = statuses.iter().filter(|j| j.needs_attention()).count();
    Ok(Json(CollectionStatus {
        statuses,
        attention,
    }))
}

/// Parameters of `GET /api/v1/collection/ledger`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerParams {
    /// UTC days of publication, today included (1–8, default 8: the store remembers each blob
    /// as long as Microsoft could list it again).
    days: Option<u32>,
    /// One tenant.
    tenant: Option<String>,
}

/// The collection ledger.
#[derive(Serialize, ToSchema)]
pub struct CollectionLedger {
    /// Per tenant, content type and UTC day of publication: `tenant`, `content_type`, `day`,
    /// `blobs` collected, the `records` they held, `gaps` (blobs lost), `complete` (collection
    /// has listed the default re-listing overlap, 6 hours, past the day's end: every blob
    /// published that day was collected or lost) and `today`.
    #[schema(value_type = Vec<Object>)]
    pub days: Vec<JudgedDay>,
    /// What was lost in those days, each with `reason`: blobs (`content_id`, published
    /// `created`) and ranges lost whole (`content_id` `range:FROM..TO`, a collector down past
    /// Microsoft's 7 days).
    #[schema(value_type = Vec<Object>)]
    pub lost: Vec<Gap>,
}

/// Per tenant, content type and day of publication: the blobs collected, their records, the
/// blobs lost, and whether the day is complete; then what was lost.
#[utoipa::path(get, path = "/api/v1/collection/ledger", operation_id = "collection_ledger",
    params(LedgerParams),
    responses((status = 200, description = "The collection ledger", body = CollectionLedger),
        (status = 400, description = "A parameter is wrong", body = ApiError)))]
pub(crate) async fn ledger(
    State(state): State<AppState>,
    Query(p): Query<LedgerParams>,
) -> Result<Json<CollectionLedger>, Refusal> {
    let wanted = p.days.unwrap_or(LEDGER_DAYS);
    if !(1..=LEDGER_DAYS).contains(&wanted) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("days: a number from 1 to {LEDGER_DAYS}"),
        ));
    }
    let now = Utc::now();
    let (days, lost) = blocking(&state, move |s| {
        health::ledger(s, now, wanted, p.tenant.as_deref())
    })
    .await?;
    Ok(Json(CollectionLedger { days, lost }))
}
