//! Governance from the console: the confirmation page every action goes through (what it does,
//! its warnings, a dry-run option), the form that takes it, the governance log and one entry's
//! page with its Graph calls, and Retry (failed) / Approve (pending).

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use skylight_govern::ActionRequest;
use skylight_model::{ActionKind, ActionStatus, GovernanceEntry, TargetKind};
use skylight_store::GovernanceQuery;

use super::{Chrome, ConsoleError, enc, param, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::Principal;
use crate::directory::{governor, refused};

/// The actions the console offers for each kind of target, with their button labels.
pub(crate) const USER_ACTIONS: &[(ActionKind, &str)] = &[
    (ActionKind::SuspendUser, "Suspend"),
    (ActionKind::UnsuspendUser, "Unsuspend"),
    (ActionKind::RequireSignIn, "Require sign-in again"),
    (ActionKind::ConfirmCompromised, "Confirm compromised"),
];

/// The app actions.
pub(crate) const APP_ACTIONS: &[(ActionKind, &str)] = &[
    (ActionKind::ApproveApp, "Approve"),
    (ActionKind::BanApp, "Ban"),
    (ActionKind::RevokeApp, "Revoke"),
];

/// The file actions.
pub(crate) const FILE_ACTIONS: &[(ActionKind, &str)] = &[
    (ActionKind::RemoveExternalUsers, "Remove external users"),
    (ActionKind::RemoveSharedLinks, "Remove shared links"),
    (ActionKind::MakePrivate, "Make private"),
    (ActionKind::TrashFile, "Trash"),
    (ActionKind::UserQuarantine, "User quarantine"),
    (ActionKind::AdminQuarantine, "Admin quarantine"),
    (ActionKind::RestoreFile, "Restore"),
];

/// Links to the confirmation page of each of `actions` on `target`: (href, label, id).
pub(crate) fn action_links(
    actions: &[(ActionKind, &'static str)],
    target: &str,
) -> Vec<(String, &'static str, &'static str)> {
    actions
        .iter()
        .map(|(a, label)| {
            (
                format!(
                    "/governance/confirm?action={}&target={}",
                    a.as_str(),
                    enc(target)
                ),
                *label,
                a.as_str(),
            )
        })
        .collect()
}

/// One log entry as the console shows it.
pub(crate) struct EntryRow {
    /// Its id.
    pub id: i64,
    /// The action's identifier.
    pub action: &'static str,
    /// The target's name.
    pub target: String,
    /// Where the target's page is, when it has one.
    pub target_href: Option<String>,
    /// Its status.
    pub status: &'static str,
    /// The status's colour: `ok`, `error` or none.
    pub tone: &'static str,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked for, and last changed.
    pub created: String,
    /// When it last changed.
    pub updated: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The Graph calls: method, path, answer, note.
    pub steps: Vec<(String, String, String, String)>,
    /// Its warnings.
    pub warnings: Vec<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Whether it can be retried (failed).
    pub retryable: bool,
    /// Whether it waits for approval (pending).
    pub approvable: bool,
}

impl From<&GovernanceEntry> for EntryRow {
    fn from(e: &GovernanceEntry) -> Self {
        EntryRow {
            id: e.id,
            action: e.action.as_str(),
            target: e.target_name.clone(),
            target_href: match e.target_kind {
                TargetKind::User => Some(format!("/users/{}", enc(&e.target_name))),
                TargetKind::App => Some(format!("/apps/{}", enc(&e.target_id))),
                TargetKind::File => Some(file_href(&e.target_id)),
            },
            status: e.status.as_str(),
            tone: match e.status {
                ActionStatus::Succeeded => "ok",
                ActionStatus::Failed | ActionStatus::Reverted => "error",
                _ => "",
            },
            requested_by: e.requested_by.clone(),
            created: when(Some(e.created)),
            updated: when(Some(e.updated)),
            attempts: e.attempts,
            steps: e
                .steps
                .iter()
                .map(|s| {
                    (
                        s.method.clone(),
                        s.path.clone(),
                        s.status.map(|c| c.to_string()).unwrap_or_default(),
                        s.note.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            warnings: e.warnings.clone(),
            error: e.error.clone(),
            retryable: e.status == ActionStatus::Failed,
            approvable: e.status == ActionStatus::Pending,
        }
    }
}

/// The console page of a file target (`DRIVE_ID/ITEM_ID`).
pub(crate) fn file_href(target: &str) -> String {
    let parts: Vec<String> = target.split('/').map(enc).collect();
    format!("/files/{}", parts.join("/"))
}

fn bad(why: impl Into<String>) -> ConsoleError {
    ConsoleError(Refusal::new(StatusCode::BAD_REQUEST, why))
}

fn action_of(s: &str) -> Result<ActionKind, ConsoleError> {
    ActionKind::parse(s).ok_or_else(|| bad(format!("unknown action {s:?}")))
}

#[derive(Template)]
#[template(path = "governance_confirm.html")]
struct Confirm {
    chrome: Chrome,
    action: &'static str,
    label: String,
    target: String,
    /// For remove-collaborator: whose access goes.
    collaborator: String,
    explanation: &'static str,
    warnings: Vec<String>,
    back: String,
}

/// What the console warns about before `action` on `target`, from what the store knows.
fn warnings_for(s: &dyn skylight_store::Store, action: ActionKind, target: &str) -> Vec<String> {
    let mut out = Vec::new();
    if action.target() == TargetKind::User
        && let Ok(Some(u)) = s.directory_user(None, target)
    {
        if u.on_premises_synced
            && matches!(action, ActionKind::SuspendUser | ActionKind::UnsuspendUser)
        {
            out.push(
                "This user is synced from on-premises Active Directory: the next directory sync \
                 reverts this change. Make it on-premises as well."
                    .to_owned(),
            );
        }
        if u.is_admin() {
            out.push(format!(
                "This user holds directory roles: {}.",
                u.roles.join(", ")
            ));
        }
    }
    if action.target() == TargetKind::App
        && let Ok(Some(a)) = s.oauth_app(None, target)
        && a.first_party
    {
        out.push("This is one of Microsoft's own apps: Skylight refuses to act on it.".to_owned());
    }
    out
}

/// The confirmation page: `?action=…&target=…`.
pub(super) async fn confirm(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let raw = raw.unwrap_or_default();
    let get = |k: &str| param(&raw, k);
    let action = action_of(&get("action"))?;
    let target = get("target");
    if target.is_empty() {
        return Err(bad("no target"));
    }
    let collaborator = get("collaborator");
    if action == ActionKind::RemoveCollaborator && collaborator.is_empty() {
        return Err(bad(
            "remove-collaborator: say whose access to remove (collaborator=…)",
        ));
    }
    let t = target.clone();
    let warnings = blocking(&state, move |s| Ok(warnings_for(s, action, &t))).await?;
    let label = USER_ACTIONS
        .iter()
        .chain(APP_ACTIONS)
        .chain(FILE_ACTIONS)
        .find(|(a, _)| *a == action)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| match action {
            ActionKind::RemoveCollaborator => format!("Remove {collaborator}"),
            _ => action.as_str().to_owned(),
        });
    let page = Confirm {
        chrome: Chrome::new(&state, &who, "governance", format!("{label}?"), false),
        action: action.as_str(),
        label,
        explanation: action.explanation(),
        warnings,
        back: match action.target() {
            TargetKind::User => format!("/users/{}", enc(&target)),
            TargetKind::App => format!("/apps/{}", enc(&target)),
            TargetKind::File => file_href(&target),
        },
        target,
        collaborator,
    };
    Ok(render(&page))
}

/// The confirmation form.
#[derive(Deserialize)]
pub(super) struct ActForm {
    action: String,
    target: String,
    #[serde(default)]
    dry_run: Option<String>,
    /// For remove-collaborator.
    #[serde(default)]
    collaborator: String,
}

/// Takes the action confirmed, then shows its log entry.
pub(super) async fn act(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(form): Form<ActForm>,
) -> Result<Response, ConsoleError> {
    let action = action_of(&form.action)?;
    let entry = governor(&state)?
        .request(ActionRequest {
            tenant: None,
            action,
            target: form.target.trim().to_owned(),
            requested_by: who.actor.clone(),
            alert_id: None,
            dry_run: form.dry_run.is_some(),
            needs_approval: false,
            params: match form.collaborator.trim() {
                "" => serde_json::json!({}),
                who => serde_json::json!({ "collaborator": who }),
            },
        })
        .await
        .map_err(refused)?;
    crate::auth::audit(
        &state,
        &who,
        "governance.request",
        Some(entry.id.to_string()),
        Some(format!("{} on {}", action.as_str(), entry.target_name)),
    )
    .await;
    Ok(see_other(&format!("/governance/{}", entry.id)))
}

#[derive(Template)]
#[template(path = "governance.html")]
struct Log {
    chrome: Chrome,
    status: String,
    target: String,
    statuses: Vec<&'static str>,
    entries: Vec<EntryRow>,
}

/// The governance log, `?status=…&target=…`.
pub(super) async fn log(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let raw = raw.unwrap_or_default();
    let get = |k: &str| param(&raw, k);
    let (status, target) = (get("status"), get("target"));
    let parsed = if status.is_empty() {
        None
    } else {
        Some(
            ActionStatus::parse(&status)
                .ok_or_else(|| bad(format!("unknown status {status:?}")))?,
        )
    };
    let query = GovernanceQuery {
        status: parsed,
        target: Some(target.clone()).filter(|t| !t.is_empty()),
        limit: 200,
        ..GovernanceQuery::default()
    };
    let entries = blocking(&state, move |s| s.governance_log(&query)).await?;
    let page = Log {
        chrome: Chrome::new(&state, &who, "governance", "Governance log", false),
        status,
        target,
        statuses: ActionStatus::ALL.iter().map(|s| s.as_str()).collect(),
        entries: entries.iter().map(EntryRow::from).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "governance_entry.html")]
struct EntryPage {
    chrome: Chrome,
    e: EntryRow,
    explanation: &'static str,
}

/// One log entry.
pub(super) async fn entry(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id: i64 = id.parse().map_err(|_| bad("not an entry id"))?;
    let found = blocking(&state, move |s| s.governance_entry(id)).await?;
    let e = found.ok_or_else(|| {
        ConsoleError(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no governance log entry {id}"),
        ))
    })?;
    let page = EntryPage {
        chrome: Chrome::new(&state, &who, "governance", format!("Action {id}"), false),
        explanation: e.action.explanation(),
        e: EntryRow::from(&e),
    };
    Ok(render(&page))
}

/// Retries a failed entry or approves a pending one: `/governance/{id}/retry|approve`.
pub(super) async fn approve_or_retry(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, verb)): Path<(i64, String)>,
) -> Result<Response, ConsoleError> {
    let g = governor(&state)?;
    match verb.as_str() {
        "approve" => g.approve(id, &who.actor).await,
        "retry" => g.retry(id).await,
        _ => {
            return Err(ConsoleError(Refusal::new(
                StatusCode::NOT_FOUND,
                "use /approve or /retry",
            )));
        }
    }
    .map_err(refused)?;
    crate::auth::audit(
        &state,
        &who,
        &format!("governance.{verb}"),
        Some(id.to_string()),
        None,
    )
    .await;
    Ok(see_other(&format!("/governance/{id}")))
}
