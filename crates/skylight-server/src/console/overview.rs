//! The overview: activity over the last week, top countries, open alerts by severity, the newest
//! open alerts and how the connectors are doing.

use askama::Template;
use axum::extract::{Extension, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use skylight_m365::health;
use skylight_model::filter::{Field, Filter};
use skylight_model::{AlertStatus, ConnectorState, Severity};
use skylight_store::{ActivityQuery, AlertQuery};

use super::alerts::AlertRow;
use super::{Chrome, ConsoleError, charts, enc, render};
use crate::AppState;
use crate::alerts::blocking;
use crate::auth::Principal;

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    chrome: Chrome,
    timeline: String,
    countries: String,
    severities: String,
    rows: Vec<AlertRow>,
    connectors: String,
    week: String,
}

/// The activity log's URL for these conditions.
pub(crate) fn log_url(conditions: &[String]) -> String {
    let q: Vec<String> = conditions.iter().map(|c| format!("q={}", enc(c))).collect();
    format!("/activities?{}", q.join("&"))
}

/// The time condition of a range.
pub(crate) fn time_condition(from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>) -> String {
    let f = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    format!("time={}..{}", f(from), f(to))
}

/// The overview page.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    let from = (now - Duration::days(7))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let week = time_condition(from, now + Duration::hours(1));
    let query = ActivityQuery {
        filter: Filter::parse(&[week.as_str()]).map_err(|e| {
            crate::alerts::Refusal::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            )
        })?,
        limit: 1,
        ..ActivityQuery::default()
    };
    let bucket_ms = 3 * 3_600_000;
    let files = crate::connect::file_tenants(&state);
    let (histogram, top, alerts, statuses) = blocking(&state, move |s| {
        let histogram = s.activity_histogram(&query, bucket_ms)?;
        let top = s.activity_top(&query, Field::Country, 10)?;
        let alerts = s.alerts(&AlertQuery {
            statuses: vec![AlertStatus::Open, AlertStatus::InProgress],
            limit: 0,
            ..AlertQuery::default()
        })?;
        Ok((
            histogram,
            top,
            alerts,
            health::judge_all(s, Utc::now(), &files)?,
        ))
    })
    .await?;
    let timeline = charts::timeline(&histogram, bucket_ms, |a, b| {
        log_url(&[time_condition(a, b)])
    });
    let countries: Vec<(String, u64, String, &'static str)> = top
        .into_iter()
        .map(|(c, n)| {
            let url = log_url(&[format!("country={c}"), week.clone()]);
            (c, n, url, "")
        })
        .collect();
    let severities: Vec<(String, u64, String, &'static str)> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            let n = alerts.iter().filter(|a| a.draft.severity == *sev).count() as u64;
            (
                sev.as_str().to_owned(),
                n,
                format!("/alerts?status=open,in_progress&severity={}", sev.as_str()),
                sev.as_str(),
            )
        })
        .collect();
    // Only what is meant to be collected counts; a collector that stopped is failing too,
    // whatever its last status said.
    let collected: Vec<_> = statuses
        .iter()
        .filter(|j| j.expected == health::Expected::Collecting)
        .collect();
    let failing = collected
        .iter()
        .filter(|j| j.stalled() || j.status.state == ConnectorState::Error)
        .count();
    let attention = statuses.iter().filter(|j| j.needs_attention()).count();
    let idle = statuses.len() - collected.len();
    let connectors = if statuses.is_empty() {
        "No connector has reported yet.".to_owned()
    } else if collected.is_empty() && attention == 0 {
        format!("No content type collecting ({idle} paused or not collected).")
    } else if attention == 0 {
        format!(
            "{} content types collecting, none failing.",
            collected.len()
        )
    } else if failing == 0 {
        format!("{attention} content types with content at risk: see Connected apps.")
    } else {
        format!(
            "{failing} of {} content types collecting failing or stopped, {} with content at risk: see Connected apps.",
            collected.len(),
            attention.saturating_sub(failing)
        )
    };
    let page = Overview {
        chrome: Chrome::new(&state, &who, "overview", "Overview", true),
        timeline,
        countries: charts::bars(&countries, "top countries"),
        severities: charts::bars(&severities, "open alerts by severity"),
        rows: alerts.iter().take(10).map(AlertRow::from).collect(),
        connectors,
        week: log_url(&[week]),
    };
    Ok(render(&page))
}
