//! Settings → data retention (administrators): how many days of activities to keep. The
//! collecting processes delete older activities, with their raw records, when the setting
//! changes and every hour; alerts, the governance log and the audit log are kept.

use askama::Template;
use axum::extract::{Extension, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use skylight_store::settings::{
    MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, RETENTION, RETENTION_RUN, Retention, RetentionRun,
};

use super::{Chrome, ConsoleError, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{Principal, audit};

#[derive(Template)]
#[template(path = "retention.html")]
struct RetentionPage {
    chrome: Chrome,
    /// Days kept (0: everything).
    days: u32,
    version: i64,
    changed: String,
    /// The last round: when, what, how many, or its error.
    last_run: Option<(String, String, u64, Option<String>)>,
    min: u32,
    max: u32,
    error: Option<String>,
}

/// The retention form.
#[derive(Debug, Deserialize)]
pub(super) struct RetentionForm {
    /// Days to keep; empty or 0 keeps everything.
    #[serde(default)]
    days: String,
    #[serde(default)]
    version: i64,
}

async fn page(
    state: &AppState,
    who: &Principal,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let (setting, run) = blocking(state, |s| {
        Ok((s.setting(RETENTION)?, s.setting(RETENTION_RUN)?))
    })
    .await?;
    let days = setting
        .as_ref()
        .and_then(|s| serde_json::from_str::<Retention>(&s.value).ok())
        .map_or(0, |r| r.days);
    let changed = setting.as_ref().map_or_else(String::new, |s| {
        format!(
            "changed by {} on {}",
            s.updated_by,
            when(Some(s.updated_at))
        )
    });
    let last_run = run
        .and_then(|r| serde_json::from_str::<RetentionRun>(&r.value).ok())
        .map(|r| (when(Some(r.at)), when(Some(r.cutoff)), r.deleted, r.error));
    let page = RetentionPage {
        chrome: Chrome::new(state, who, "settings", "Data retention", false),
        days,
        version: setting.map_or(0, |s| s.version),
        changed,
        last_run,
        min: MIN_RETENTION_DAYS,
        max: MAX_RETENTION_DAYS,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

/// The retention setting and its last round.
pub(super) async fn index(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    page(&state, &who, None).await
}

/// Sets how many days to keep.
pub(super) async fn save(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<RetentionForm>,
) -> Result<Response, ConsoleError> {
    let text = form.days.trim();
    let days = if text.is_empty() {
        0
    } else {
        match text.parse::<u32>() {
            Ok(d) if d == 0 || (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&d) => d,
            _ => {
                let why = format!(
                    "days: 0 (keep everything) or {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}: Microsoft keeps content for 7 days and Skylight back-fills that week, so fewer days would delete what is still arriving"
                );
                return page(&state, &who, Some(why)).await;
            }
        }
    };
    let value = serde_json::to_string(&Retention { days })
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (by, version) = (who.actor.clone(), form.version);
    let written = blocking(&state, move |s| {
        s.put_setting(RETENTION, &value, version, &by)
    })
    .await?;
    if written.is_none() {
        let why = "someone changed the retention since this page was shown: here it is now; set it again if needed".to_owned();
        return page(&state, &who, Some(why)).await;
    }
    let detail = if days == 0 {
        "keep everything".to_owned()
    } else {
        format!("keep {days} days")
    };
    audit(&state, &who, "retention.set", None, Some(detail)).await;
    Ok(see_other("/settings/retention"))
}
