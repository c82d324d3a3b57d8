//! Users: those of the directory and the most active ones, and one user's page with what the
//! directory says, their groups and governance actions, a timeline, countries, addresses, apps
//! and alerts.

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use skylight_model::filter::{Field, Filter};
use skylight_store::{ActivityQuery, AlertQuery, DirectoryQuery, GovernanceQuery};

use super::activities::Row;
use super::alerts::AlertRow;
use super::governance::{EntryRow, USER_ACTIONS, action_links};
use super::overview::{log_url, time_condition};
use super::{Chrome, ConsoleError, charts, enc, render};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;

/// How far back the user pages look.
const DAYS: i64 = 30;

fn refusal(e: impl std::fmt::Display) -> Refusal {
    Refusal::new(axum::http::StatusCode::BAD_REQUEST, e.to_string())
}

#[derive(Template)]
#[template(path = "users.html")]
struct Index {
    chrome: Chrome,
    search: String,
    users: Vec<(String, String, String)>,
    directory: Vec<(String, skylight_model::DirectoryUser)>,
}

/// The most active users of the last 30 days (or those whose name contains `search`).
pub(super) async fn index(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let search = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "search")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let mut conditions = vec![time_condition(
        Utc::now() - Duration::days(DAYS),
        Utc::now(),
    )];
    if !search.is_empty() {
        conditions.push(format!("user~{search}"));
    }
    let filter = Filter::parse(&conditions).map_err(refusal)?;
    let query = ActivityQuery {
        filter,
        limit: 1,
        ..ActivityQuery::default()
    };
    let dq = DirectoryQuery {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        limit: 200,
        ..DirectoryQuery::default()
    };
    let (top, directory) = blocking(&state, move |s| {
        Ok((
            s.activity_top(&query, Field::User, 100)?,
            s.directory_users(&dq)?,
        ))
    })
    .await?;
    let page = Index {
        chrome: Chrome::new(&state, &who, "users", "Users", false),
        search,
        users: top
            .into_iter()
            .map(|(u, n)| (format!("/users/{}", enc(&u)), u, charts::count(n)))
            .collect(),
        directory: directory
            .into_iter()
            .map(|u| (format!("/users/{}", enc(&u.upn)), u))
            .collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user: String,
    timeline: String,
    countries: String,
    ips: Vec<(String, String, String)>,
    apps: Vec<(String, String, String)>,
    rows: Vec<AlertRow>,
    activities: Vec<Row>,
    in_log: String,
    dir: Option<skylight_model::DirectoryUser>,
    account: (&'static str, &'static str),
    groups: Vec<(String, String, &'static str)>,
    governance: Vec<EntryRow>,
    actions: Vec<(String, &'static str, &'static str)>,
}

/// One user's page.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(upn): Path<String>,
) -> Result<Response, ConsoleError> {
    let now = Utc::now();
    let range = time_condition(now - Duration::days(DAYS), now + Duration::hours(1));
    let me = format!("user=\"{}\"", upn.replace('"', ""));
    let filter = Filter::parse(&[me.as_str(), range.as_str()]).map_err(refusal)?;
    let query = ActivityQuery {
        filter,
        limit: 25,
        ..ActivityQuery::default()
    };
    let user = upn.clone();
    let bucket_ms = 6 * 3_600_000;
    let key = upn.clone();
    let (recent, histogram, countries, ips, ops, alerts, directory) = blocking(&state, move |s| {
        let directory = match s.directory_user(None, &key)? {
            Some(u) => {
                let groups = s.user_groups(&u.tenant, &u.id)?;
                let log = s.governance_log(&GovernanceQuery {
                    tenant: Some(u.tenant.clone()),
                    target: Some(u.id.clone()),
                    limit: 50,
                    ..GovernanceQuery::default()
                })?;
                Some((u, groups, log))
            }
            None => None,
        };
        Ok((
            s.activities(&query)?,
            s.activity_histogram(&query, bucket_ms)?,
            s.activity_top(&query, Field::Country, 10)?,
            s.activity_top(&query, Field::Ip, 15)?,
            s.activity_top(&query, Field::Operation, 10)?,
            s.alerts(&AlertQuery {
                user: Some(user),
                include_signals: true,
                limit: 50,
                ..AlertQuery::default()
            })?,
            directory,
        ))
    })
    .await?;
    let with = |c: String| log_url(&[me.clone(), c, range.clone()]);
    let timeline = charts::timeline(&histogram, bucket_ms, |a, b| {
        log_url(&[me.clone(), time_condition(a, b)])
    });
    let country_bars: Vec<(String, u64, String, &'static str)> = countries
        .into_iter()
        .map(|(c, n)| {
            let url = with(format!("country={c}"));
            (c, n, url, "")
        })
        .collect();
    let (dir, groups, governance) = match directory {
        Some((u, g, l)) => (Some(u), g, l),
        None => (None, Vec::new(), Vec::new()),
    };
    let page = UserPage {
        chrome: Chrome::new(&state, &who, "users", upn.clone(), true),
        actions: match &dir {
            Some(u) => action_links(USER_ACTIONS, &u.upn),
            None => Vec::new(),
        },
        account: match dir.as_ref().and_then(|u| u.account_enabled) {
            Some(true) => ("enabled", "ok"),
            Some(false) => ("disabled", "error"),
            None => ("unknown", ""),
        },
        dir,
        groups: groups
            .into_iter()
            .map(|g| {
                (
                    format!("/groups/{}", enc(&g.id)),
                    g.display_name,
                    g.kind.as_str(),
                )
            })
            .collect(),
        governance: governance.iter().map(EntryRow::from).collect(),
        timeline,
        countries: charts::bars(&country_bars, "countries"),
        ips: ips
            .into_iter()
            .map(|(ip, n)| (with(format!("ip={ip}")), ip, charts::count(n)))
            .collect(),
        apps: ops
            .into_iter()
            .map(|(op, n)| (with(format!("operation={op}")), op, charts::count(n)))
            .collect(),
        rows: alerts.iter().map(AlertRow::from).collect(),
        activities: recent.rows.iter().map(Row::from).collect(),
        in_log: log_url(&[me.clone(), range.clone()]),
        user: upn,
    };
    Ok(render(&page))
}
