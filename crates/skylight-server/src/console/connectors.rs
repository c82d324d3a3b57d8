//! Connected apps: each connector's state per content type, how far it got, its counts, and
//! when it fails, the error with what to do about it. (The connect wizard comes with Graph sync.)

use askama::Template;
use axum::extract::{Extension, State};
use axum::response::Response;
use chrono::Utc;
use skylight_model::ConnectorState;

use super::{Chrome, ConsoleError, charts, render, when};
use crate::AppState;
use crate::alerts::blocking;
use crate::auth::Principal;

/// One status row.
struct StatusRow {
    tenant: String,
    content_type: &'static str,
    state: &'static str,
    class: &'static str,
    last_success: String,
    lag: String,
    records: String,
    blobs: String,
    gaps: String,
    error: Option<String>,
    remediation: Option<String>,
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct Page {
    chrome: Chrome,
    rows: Vec<StatusRow>,
    detection: String,
}

/// The connector status page.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    let (statuses, (done, newest)) =
        blocking(&state, |s| Ok((s.statuses()?, s.detection_progress()?))).await?;
    let now = Utc::now();
    let rows = statuses
        .into_iter()
        .map(|s| {
            let (state, class) = match s.state {
                ConnectorState::Pending => ("pending", ""),
                ConnectorState::Backfilling => ("backfilling", ""),
                ConnectorState::Healthy => ("connected", "ok"),
                ConnectorState::Error => ("error", "error"),
            };
            let lag = s.watermark.map_or_else(
                || "—".to_owned(),
                |w| {
                    let m = (now - w).num_minutes().max(0);
                    if m < 120 {
                        format!("{m} min")
                    } else {
                        format!("{} h", m / 60)
                    }
                },
            );
            StatusRow {
                tenant: s.tenant,
                content_type: s.content_type.as_str(),
                state,
                class,
                last_success: when(s.last_success),
                lag,
                records: charts::count(s.records),
                blobs: charts::count(s.blobs),
                gaps: charts::count(s.gaps),
                error: s.last_error,
                remediation: s.remediation,
            }
        })
        .collect();
    let detection = format!(
        "Detection has evaluated {} of {} stored activities.",
        charts::count(u64::try_from(done).unwrap_or(0)),
        charts::count(u64::try_from(newest).unwrap_or(0))
    );
    let page = Page {
        chrome: Chrome::new(&state, &who, "connectors", "Connected apps", false),
        rows,
        detection,
    };
    Ok(render(&page))
}
