//! Connected apps: every connector (made here or written in the configuration file) with its
//! overall state, then each one's state per content type, how far it got, its counts, and when
//! it fails, the error with what to do about it. Connecting one is `connect.rs`.

use askama::Template;
use axum::extract::{Extension, RawQuery, State};
use axum::response::Response;
use chrono::Utc;
use skylight_m365::connect::ConnectionTest;
use skylight_m365::health::{self, Expected, JudgedStatus};
use skylight_model::ConnectorState;

use super::{Chrome, ConsoleError, charts, param, render, when};
use crate::AppState;
use crate::alerts::blocking;
use crate::auth::Principal;

/// One status row.
pub(super) struct StatusRow {
    pub(super) tenant: String,
    pub(super) content_type: &'static str,
    pub(super) state: &'static str,
    pub(super) class: &'static str,
    pub(super) last_success: String,
    pub(super) lag: String,
    pub(super) records: String,
    pub(super) blobs: String,
    pub(super) gaps: String,
    pub(super) error: Option<String>,
    pub(super) remediation: Option<String>,
    /// What the status means now: a collector that stopped, content about to expire or lost.
    pub(super) warnings: Vec<String>,
}

/// One connector of the list.
struct ConnectorRow {
    name: String,
    tenant_id: String,
    source: &'static str,
    components: String,
    state: (&'static str, &'static str),
    records: String,
}

#[derive(Template)]
#[template(path = "connectors.html")]
struct Page {
    chrome: Chrome,
    connectors: Vec<ConnectorRow>,
    rows: Vec<StatusRow>,
    detection: String,
    can_connect: bool,
    disconnected: String,
}

/// The rows of a status table.
pub(super) fn status_rows(statuses: Vec<JudgedStatus>) -> Vec<StatusRow> {
    let now = Utc::now();
    statuses
        .into_iter()
        .map(|j| {
            let (stalled, service_now) = (j.stalled(), j.service_now(now));
            let (s, warnings) = (j.status, j.warnings);
            let (state, class) = match s.state {
                // Written by a collector that has stopped: what it says was true then.
                _ if stalled => ("stalled", "error"),
                _ if j.expected == Expected::Paused => ("paused", ""),
                _ if j.expected == Expected::Nothing => ("not collected", ""),
                ConnectorState::Pending => ("pending", ""),
                ConnectorState::Backfilling => ("backfilling", ""),
                ConnectorState::Healthy => ("connected", "ok"),
                ConnectorState::Error => ("error", "error"),
            };
            let lag = s.watermark.map_or_else(
                || "—".to_owned(),
                |w| {
                    // Both on the service's clock.
                    let m = (service_now - w).num_minutes().max(0);
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
                warnings: warnings.into_iter().map(|w| w.message).collect(),
            }
        })
        .collect()
}

/// The connector list and status page.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    let files = crate::connect::file_tenants(&state);
    let (stored, statuses, (done, newest)) = blocking(&state, move |s| {
        Ok((
            s.connectors()?,
            health::judge_all(s, now, &files)?,
            s.detection_progress()?,
        ))
    })
    .await?;
    let file_tenants = state
        .connect
        .as_ref()
        .map(|k| k.file_tenants.clone())
        .unwrap_or_default();
    let of = |name: &str| -> Vec<&JudgedStatus> {
        statuses
            .iter()
            .filter(|j| j.status.tenant == name)
            .collect()
    };
    let records =
        |mine: &[&JudgedStatus]| charts::count(mine.iter().map(|j| j.status.records).sum());
    let mut connectors: Vec<ConnectorRow> = stored
        .iter()
        .map(|c| {
            let mine = of(&c.name);
            let test: Option<ConnectionTest> = c
                .last_test
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            ConnectorRow {
                name: c.name.clone(),
                tenant_id: c.tenant_id.clone(),
                source: "console",
                components: if c.files {
                    "activities, files".into()
                } else {
                    "activities".into()
                },
                state: super::connect::overall(Some(c.phase), test.as_ref(), &mine),
                records: records(&mine),
            }
        })
        .collect();
    // Connectors of the configuration file, and tenants that reported without being either
    // (collected by another process's file).
    let mut others: Vec<String> = file_tenants;
    for j in &statuses {
        let tenant = &j.status.tenant;
        if !others.contains(tenant) && !stored.iter().any(|c| c.name == *tenant) {
            others.push(tenant.clone());
        }
    }
    for name in others {
        let mine = of(&name);
        connectors.push(ConnectorRow {
            tenant_id: String::new(),
            source: "configuration file",
            components: String::new(),
            state: super::connect::overall(None, None, &mine),
            records: records(&mine),
            name,
        });
    }
    let detection = format!(
        "Detection has evaluated {} of {} stored activities.",
        charts::count(u64::try_from(done).unwrap_or(0)),
        charts::count(u64::try_from(newest).unwrap_or(0))
    );
    let page = Page {
        chrome: Chrome::new(&state, &who, "connectors", "Connected apps", false),
        can_connect: who.role.allows(skylight_model::Role::Admin) && state.connect.is_some(),
        connectors,
        rows: status_rows(statuses),
        detection,
        disconnected: param(raw.as_deref().unwrap_or(""), "disconnected"),
    };
    Ok(render(&page))
}
