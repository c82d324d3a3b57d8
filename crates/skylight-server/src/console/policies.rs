//! Policies: the ones defined here (stored, as through the API), the built-in templates and
//! defaults, and the anomaly detections; creating and editing activity policies from a template,
//! turning them on and off, and backtesting any activity policy over stored history.

use askama::Template;
use axum::extract::{Extension, Form, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;
use skylight_detect::policy::Repeated;
use skylight_detect::{ActivityPolicy, Mode, PolicyConfig, Scope};
use skylight_model::Severity;

use super::overview::log_url;
use super::{Chrome, ConsoleError, enc, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{Principal, audit};

/// A policy as a row of a list.
struct PolicyRow {
    id: String,
    name: String,
    severity: &'static str,
    enabled: bool,
    mode: &'static str,
    filters: String,
    repeated: String,
    template: bool,
}

impl From<&PolicyConfig> for PolicyRow {
    fn from(c: &PolicyConfig) -> Self {
        PolicyRow {
            id: c.id.clone(),
            name: c.name.clone(),
            severity: c.severity.as_str(),
            enabled: c.enabled,
            mode: mode_name(c.mode),
            filters: c.filters.join("  ·  "),
            repeated: c.repeated.as_ref().map_or_else(String::new, |r| {
                format!("at least {} within {} min", r.count, r.within_minutes)
            }),
            template: c.template.is_some(),
        }
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Alert => "alert",
        Mode::Signal => "signal",
    }
}

/// The policies defined through the console or the API, as stored.
async fn stored(state: &AppState) -> Result<Vec<PolicyConfig>, Refusal> {
    let all = blocking(state, |s| s.stored_policies()).await?;
    Ok(all
        .into_iter()
        .filter_map(|(_, body)| serde_json::from_str(&body).ok())
        .collect())
}

#[derive(Template)]
#[template(path = "policies.html")]
struct ListPage {
    chrome: Chrome,
    mine: Vec<PolicyRow>,
    built_in: Vec<PolicyRow>,
    anomalies: Vec<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )>,
}

/// The policy list.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    let mine = stored(&state).await?;
    let page = ListPage {
        chrome: Chrome::new(&state, &who, "policies", "Policies", false),
        mine: mine.iter().map(PolicyRow::from).collect(),
        built_in: skylight_detect::policy::built_in()
            .iter()
            .map(|p| PolicyRow::from(&p.config))
            .collect(),
        anomalies: skylight_detect::anomaly::CATALOGUE
            .iter()
            .map(|(id, title, sev, category, mode)| {
                (*id, *title, sev.as_str(), *category, mode_name(*mode))
            })
            .collect(),
    };
    Ok(render(&page))
}

/// The policy form's fields.
#[derive(Deserialize, Default)]
pub(super) struct PolicyForm {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    severity: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    filters: String,
    #[serde(default)]
    repeated_count: String,
    #[serde(default)]
    repeated_minutes: String,
    #[serde(default)]
    single_app: Option<String>,
    #[serde(default)]
    unique_objects: Option<String>,
    #[serde(default)]
    daily_alert_limit: String,
    #[serde(default)]
    dedup_minutes: String,
    #[serde(default)]
    include_users: String,
    #[serde(default)]
    exclude_users: String,
    #[serde(default)]
    include_groups: String,
    #[serde(default)]
    exclude_groups: String,
    #[serde(default)]
    template: String,
    /// Set when editing: the form then keeps the id.
    #[serde(default)]
    editing: Option<String>,
}

fn list_of(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

impl PolicyForm {
    fn of(c: &PolicyConfig, editing: bool) -> PolicyForm {
        let r = c.repeated.as_ref();
        PolicyForm {
            id: c.id.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            severity: c.severity.as_str().to_owned(),
            category: c.category.clone(),
            enabled: c.enabled.then(|| "1".into()),
            mode: mode_name(c.mode).to_owned(),
            filters: c.filters.join("\n"),
            repeated_count: r.map(|r| r.count.to_string()).unwrap_or_default(),
            repeated_minutes: r.map(|r| r.within_minutes.to_string()).unwrap_or_default(),
            single_app: r.filter(|r| r.single_app).map(|_| "1".into()),
            unique_objects: r.filter(|r| r.unique_objects).map(|_| "1".into()),
            daily_alert_limit: c.daily_alert_limit.to_string(),
            dedup_minutes: c.dedup_minutes.to_string(),
            include_users: c.scope.include_users.join(", "),
            exclude_users: c.scope.exclude_users.join(", "),
            include_groups: c.scope.include_groups.join(", "),
            exclude_groups: c.scope.exclude_groups.join(", "),
            template: c.template.clone().unwrap_or_default(),
            editing: editing.then(|| "1".into()),
        }
    }

    /// The policy the form describes (checked further by the detection crate).
    fn config(&self) -> Result<PolicyConfig, String> {
        let number = |s: &str, what: &str, default: u32| -> Result<u32, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(default)
            } else {
                s.parse().map_err(|_| format!("{what}: a whole number"))
            }
        };
        let repeated = match (self.repeated_count.trim(), self.repeated_minutes.trim()) {
            ("", "") => None,
            (c, m) => Some(Repeated {
                count: number(c, "repeated activities", 0)?,
                within_minutes: number(m, "within minutes", 0)?,
                single_app: self.single_app.is_some(),
                unique_objects: self.unique_objects.is_some(),
            }),
        };
        Ok(PolicyConfig {
            id: self.id.trim().to_owned(),
            name: self.name.trim().to_owned(),
            description: self.description.trim().to_owned(),
            severity: Severity::parse(&self.severity)
                .ok_or("severity: informational, low, medium or high")?,
            category: if self.category.trim().is_empty() {
                "threat_detection".into()
            } else {
                self.category.trim().to_owned()
            },
            enabled: self.enabled.is_some(),
            mode: if self.mode == "signal" {
                Mode::Signal
            } else {
                Mode::Alert
            },
            filters: self
                .filters
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            repeated,
            scope: Scope {
                include_users: list_of(&self.include_users),
                include_groups: list_of(&self.include_groups),
                exclude_users: list_of(&self.exclude_users),
                exclude_groups: list_of(&self.exclude_groups),
                ..Scope::default()
            },
            daily_alert_limit: number(&self.daily_alert_limit, "daily alert limit", 5)?,
            dedup_minutes: number(&self.dedup_minutes, "de-duplication minutes", 60)?,
            actions: Vec::new(),
            template: Some(self.template.trim().to_owned()).filter(|t| !t.is_empty()),
        })
    }
}

#[derive(Template)]
#[template(path = "policy_form.html")]
struct FormPage {
    chrome: Chrome,
    form: PolicyForm,
    severities: Vec<&'static str>,
    categories: Vec<&'static str>,
    error: Option<String>,
    fields_help: String,
}

fn form_page(
    state: &AppState,
    who: &Principal,
    form: PolicyForm,
    error: Option<String>,
) -> Response {
    let title = if form.editing.is_some() {
        format!("Edit policy {}", form.id)
    } else {
        "New activity policy".to_owned()
    };
    let failed = error.is_some();
    let page = FormPage {
        chrome: Chrome::new(state, who, "policies", title, false),
        form,
        severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
        categories: skylight_detect::CATEGORIES.to_vec(),
        error,
        fields_help: skylight_model::filter::Field::ALL
            .map(|(_, n)| n)
            .join(", "),
    };
    let mut res = render(&page);
    if failed {
        *res.status_mut() = StatusCode::BAD_REQUEST;
    }
    res
}

/// A new policy, blank or from a template (`?template=ID`).
pub(super) async fn new_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let template = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "template")
        .map(|(_, v)| v.into_owned());
    let form = match template {
        Some(t) => {
            let found = skylight_detect::policy::built_in()
                .into_iter()
                .find(|p| p.rule.id == t)
                .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("no template `{t}`")))?;
            let mut c = found.config;
            c.template = Some(c.template.unwrap_or_else(|| c.name.clone()));
            c.id = format!("my-{}", c.id);
            c.enabled = true;
            PolicyForm::of(&c, false)
        }
        None => PolicyForm {
            severity: "medium".into(),
            enabled: Some("1".into()),
            daily_alert_limit: "5".into(),
            dedup_minutes: "60".into(),
            ..PolicyForm::default()
        },
    };
    Ok(form_page(&state, &who, form, None))
}

/// Edits a stored policy.
pub(super) async fn edit_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let found = stored(&state).await?.into_iter().find(|c| c.id == id);
    let config = found.ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no policy defined here has the id `{id}`"),
        )
    })?;
    Ok(form_page(&state, &who, PolicyForm::of(&config, true), None))
}

/// Creates or replaces a policy from the form, checked as the API checks it.
pub(super) async fn save(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<PolicyForm>,
) -> Result<Response, ConsoleError> {
    let config = match form.config() {
        Ok(c) => c,
        Err(why) => return Ok(form_page(&state, &who, form, Some(why))),
    };
    if form.editing.is_none() {
        let id = config.id.clone();
        if stored(&state).await?.iter().any(|c| c.id == id) {
            let why = format!("a policy `{id}` exists: edit it, or choose another id");
            return Ok(form_page(&state, &who, form, Some(why)));
        }
    }
    match crate::policies::save(&state, &who, config).await {
        Ok(saved) => Ok(see_other(&format!("/policies#{}", enc(&saved.id)))),
        Err(Refusal(_, why)) => Ok(form_page(&state, &who, form, Some(why))),
    }
}

/// On or off.
#[derive(Deserialize)]
pub(super) struct Enabled {
    enabled: String,
}

/// Turns a stored policy on or off.
pub(super) async fn set_enabled(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<Enabled>,
) -> Result<Response, ConsoleError> {
    let mut config = stored(&state)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("no policy `{id}` defined here"),
            )
        })?;
    config.enabled = form.enabled == "true";
    crate::policies::save(&state, &who, config).await?;
    Ok(see_other("/policies"))
}

/// Deletes a stored policy (its alerts stay).
pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let key = id.clone();
    if !blocking(&state, move |s| s.delete_policy(&key)).await? {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no policy `{id}` defined here"),
        )
        .into());
    }
    audit(&state, &who, "policy.delete", Some(id), None).await;
    Ok(see_other("/policies"))
}

/// One alert a backtest would have raised.
struct WouldRaise {
    title: String,
    severity: &'static str,
    users: Vec<(String, String)>,
    first: String,
    last: String,
    count: u64,
    facts: Vec<String>,
    in_log: String,
}

#[derive(Template)]
#[template(path = "backtest.html")]
struct BacktestPage {
    chrome: Chrome,
    id: String,
    name: String,
    since: String,
    evaluated: String,
    alerts: Vec<WouldRaise>,
}

/// Runs an activity policy (stored or built-in, on or off) over the stored history of the last
/// `since` days (`?since=7`, 1–90) and shows what it would have raised. Nothing is written.
pub(super) async fn backtest(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let days = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "since")
        .map_or(Ok(7), |(_, v)| v.trim_end_matches('d').parse::<i64>())
        .ok()
        .filter(|d| (1..=90).contains(d))
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "since: 1 to 90 days"))?;
    let config = match stored(&state).await?.into_iter().find(|c| c.id == id) {
        Some(c) => c,
        None => skylight_detect::policy::built_in()
            .into_iter()
            .find(|p| p.rule.id == id)
            .map(|p| p.config)
            .ok_or_else(|| {
                Refusal::new(StatusCode::NOT_FOUND, format!("no activity policy `{id}`"))
            })?,
    };
    let name = config.name.clone();
    let policy = ActivityPolicy::new(config)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let from = Utc::now() - Duration::days(days);
    let store = state.store.clone();
    let (drafts, evaluated) = tokio::task::spawn_blocking(move || {
        skylight_detect::backtest(store.as_ref(), vec![policy], from)
    })
    .await
    .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        tracing::error!(error = %e, "backtest failed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the backtest failed; see the server log",
        )
    })?;
    let alerts = drafts
        .iter()
        .rev()
        .map(|d| {
            let users: Vec<String> = d.users.iter().map(|u| format!("\"{u}\"")).collect();
            let mut conditions = vec![super::overview::time_condition(
                d.first,
                d.last + Duration::seconds(1),
            )];
            if !users.is_empty() {
                conditions.push(format!("user={}", users.join(",")));
            }
            WouldRaise {
                title: d.title.clone(),
                severity: d.severity.as_str(),
                users: d
                    .users
                    .iter()
                    .map(|u| (u.clone(), format!("/users/{}", enc(u))))
                    .collect(),
                first: when(Some(d.first)),
                last: when(Some(d.last)),
                count: d.activity_count,
                facts: d.facts.iter().take(5).cloned().collect(),
                in_log: log_url(&conditions),
            }
        })
        .collect();
    let page = BacktestPage {
        chrome: Chrome::new(&state, &who, "policies", format!("Backtest {id}"), false),
        id,
        name,
        since: days.to_string(),
        evaluated: super::charts::count(evaluated),
        alerts,
    };
    Ok(render(&page))
}
