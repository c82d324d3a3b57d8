//! The alert queue and one alert: its facts, matched activities, users and addresses, triage
//! (status and resolution) and comments.

use std::collections::HashSet;

use askama::Template;
use axum::extract::{Extension, Form, Path, RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use skylight_model::filter::Filter;
use skylight_model::{ActivityRow, Alert, AlertStatus, Resolution, Severity};
use skylight_store::ActivityQuery;

use super::activities::Row;
use super::overview::{log_url, time_condition};
use super::{Chrome, ConsoleError, enc, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, add_comment, alert_id, blocking, params, triage as apply_triage};
use crate::auth::Principal;

/// Matched activities shown on an alert's page, at most.
const SHOWN: usize = 50;

/// An alert as a row of a list.
pub(crate) struct AlertRow {
    pub id: i64,
    pub title: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub users: Vec<(String, String)>,
    pub more_users: usize,
    pub last: String,
    pub count: u64,
    pub policy: String,
    pub signal: bool,
}

impl From<&Alert> for AlertRow {
    fn from(a: &Alert) -> Self {
        AlertRow {
            id: a.id,
            title: a.draft.title.clone(),
            severity: a.draft.severity.as_str(),
            status: a.status.as_str(),
            users: a
                .draft
                .users
                .iter()
                .take(3)
                .map(|u| (u.clone(), format!("/users/{}", enc(u))))
                .collect(),
            more_users: a.draft.users.len().saturating_sub(3),
            last: when(Some(a.draft.last)),
            count: a.draft.activity_count,
            policy: a.draft.policy.clone(),
            signal: a.draft.signal_only,
        }
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct Queue {
    chrome: Chrome,
    rows: Vec<AlertRow>,
    statuses: Vec<(&'static str, bool)>,
    severities: Vec<(&'static str, bool)>,
    policy: String,
    user: String,
    signals: bool,
}

/// The queue, with the API's filters (`status`, `severity` (at least), `policy`, `user`,
/// `signals`) as a form.
pub(super) async fn queue(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let query = params(raw, false)?;
    let shown = query.clone();
    let alerts = blocking(&state, move |s| s.alerts(&query)).await?;
    let page = Queue {
        chrome: Chrome::new(&state, &who, "alerts", "Alerts", false),
        rows: alerts.iter().map(AlertRow::from).collect(),
        statuses: AlertStatus::ALL
            .iter()
            .map(|s| (s.as_str(), shown.statuses.contains(s)))
            .collect(),
        severities: Severity::ALL
            .iter()
            .map(|s| (s.as_str(), shown.min_severity == Some(*s)))
            .collect(),
        policy: shown.policy.unwrap_or_default(),
        user: shown.user.unwrap_or_default(),
        signals: shown.include_signals,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    chrome: Chrome,
    alert: AlertRow,
    kind: String,
    category: String,
    tenant: String,
    first: String,
    resolution: String,
    facts: Vec<String>,
    ips: Vec<(String, String)>,
    countries: Vec<(String, String)>,
    activities: Vec<Row>,
    missing: usize,
    in_log: String,
    comments: Vec<(String, String, String)>,
    statuses: Vec<(&'static str, bool)>,
    resolutions: Vec<(&'static str, bool)>,
}

/// The alert's matched activities that can be found: those in its time span (by its users, when
/// it has any), then the rest by Id, up to [`SHOWN`].
fn matched(
    store: &dyn skylight_store::Store,
    a: &Alert,
) -> Result<Vec<ActivityRow>, skylight_store::StoreError> {
    let wanted: Vec<&String> = a.draft.activity_ids.iter().take(SHOWN).collect();
    let mut conditions = vec![time_condition(
        a.draft.first,
        a.draft.last + chrono::Duration::milliseconds(1),
    )];
    if !a.draft.users.is_empty() && a.draft.users.len() <= 20 {
        let users: Vec<String> = a.draft.users.iter().map(|u| format!("\"{u}\"")).collect();
        conditions.push(format!("user={}", users.join(",")));
    }
    let mut found = Vec::new();
    if let Ok(filter) = Filter::parse(&conditions) {
        let page = store.activities(&ActivityQuery {
            tenant: Some(a.draft.tenant.clone()),
            filter,
            limit: 5_000,
            after: None,
        })?;
        let ids: HashSet<&str> = wanted.iter().map(|s| s.as_str()).collect();
        found.extend(
            page.rows
                .into_iter()
                .filter(|r| ids.contains(r.id.as_str())),
        );
    }
    let have: HashSet<String> = found.iter().map(|r| r.id.clone()).collect();
    for id in wanted
        .iter()
        .filter(|id| !have.contains(id.as_str()))
        .take(20)
    {
        if let Some((row, _)) = store.activity(Some(&a.draft.tenant), id)? {
            found.push(row);
        }
    }
    found.sort_by_key(|r| std::cmp::Reverse(r.time));
    Ok(found)
}

/// One alert.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = alert_id(&id)?;
    let found = blocking(&state, move |s| {
        let Some(a) = s.alert(id)? else {
            return Ok(None);
        };
        let rows = matched(s, &a)?;
        Ok(Some((a, rows)))
    })
    .await?;
    let Some((a, rows)) = found else {
        return Err(Refusal::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no alert has the id {id}"),
        )
        .into());
    };
    let d = &a.draft;
    let mut conditions = vec![time_condition(
        d.first,
        d.last + chrono::Duration::seconds(1),
    )];
    if !d.users.is_empty() {
        let users: Vec<String> = d.users.iter().map(|u| format!("\"{u}\"")).collect();
        conditions.push(format!("user={}", users.join(",")));
    }
    let page = AlertPage {
        chrome: Chrome::new(&state, &who, "alerts", format!("Alert {id}"), true),
        alert: AlertRow::from(&a),
        kind: d.kind.clone(),
        category: d.category.clone(),
        tenant: d.tenant.clone(),
        first: when(Some(d.first)),
        resolution: a.resolution.map_or("—", Resolution::as_str).to_owned(),
        facts: d.facts.clone(),
        ips: d
            .ips
            .iter()
            .map(|ip| (ip.clone(), log_url(&[format!("ip={ip}")])))
            .collect(),
        countries: d
            .countries
            .iter()
            .map(|c| (c.clone(), log_url(&[format!("country={c}")])))
            .collect(),
        missing: d.activity_ids.len().min(SHOWN).saturating_sub(rows.len()),
        activities: rows.iter().map(Row::from).collect(),
        in_log: log_url(&conditions),
        comments: a
            .comments
            .iter()
            .map(|c| (c.author.clone(), when(Some(c.at)), c.text.clone()))
            .collect(),
        statuses: AlertStatus::ALL
            .iter()
            .map(|s| (s.as_str(), *s == a.status))
            .collect(),
        resolutions: Resolution::ALL
            .iter()
            .map(|r| (r.as_str(), Some(*r) == a.resolution))
            .collect(),
    };
    Ok(render(&page))
}

/// The triage form.
#[derive(Deserialize)]
pub(super) struct TriageForm {
    status: String,
    #[serde(default)]
    resolution: String,
}

/// Changes the alert's status (and resolution), as the API's PATCH does.
pub(super) async fn triage(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Result<Response, ConsoleError> {
    let id = alert_id(&id)?;
    let resolution = Some(form.resolution.trim()).filter(|r| !r.is_empty());
    apply_triage(&state, &who, id, Some(form.status.trim()), resolution).await?;
    Ok(see_other(&format!("/alerts/{id}")))
}

/// The comment form.
#[derive(Deserialize)]
pub(super) struct CommentForm {
    text: String,
}

/// Adds a comment, as the API's POST does.
pub(super) async fn comment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<CommentForm>,
) -> Result<Response, ConsoleError> {
    let id = alert_id(&id)?;
    add_comment(&state, &who, id, form.text, None).await?;
    Ok(see_other(&format!("/alerts/{id}#comments")))
}
