//! `/api/v1/users`, `/groups`, `/apps` (the inventory from Microsoft Graph) and
//! `/api/v1/governance` (the governance log, and actions asked for through the API).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use skylight_govern::{ActionRequest, GovernError};
use skylight_model::{
    AccessLevel, ActionKind, ActionStatus, DirectoryGroup, DirectoryUser, FileItem,
    GovernanceEntry, GroupKind, GroupMember, OAuthApp, PermissionLevel,
};
use skylight_store::{AppQuery, DirectoryQuery, FileQuery, GovernanceQuery};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::activities::ApiError;
use crate::alerts::{Refusal, blocking, json_body};

/// Default page size of the inventories.
const DEFAULT_LIMIT: usize = 100;

/// Filters of `GET /api/v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserParams {
    /// Name, UPN or mail contains this.
    search: Option<String>,
    /// Members (directly or nested) of this group, by name or id.
    group: Option<String>,
    /// `true`: enabled accounts only; `false`: disabled (suspended) only.
    enabled: Option<bool>,
    /// `true`: guests only; `false`: members only.
    guest: Option<bool>,
    /// `true`: holders of a directory role only.
    admin: Option<bool>,
    /// One tenant.
    tenant: Option<String>,
    /// At most this many (default 100, 0: all).
    limit: Option<usize>,
}

/// Users.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// The users, by UPN.
    #[schema(value_type = Vec<Object>)]
    pub users: Vec<DirectoryUser>,
}

/// Users from the directory, with their roles.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "list_users", params(UserParams),
    responses((status = 200, description = "The users", body = UserList)))]
pub(crate) async fn users(
    State(state): State<AppState>,
    Query(p): Query<UserParams>,
) -> Result<Json<UserList>, Refusal> {
    let query = DirectoryQuery {
        tenant: p.tenant,
        search: p.search,
        enabled: p.enabled,
        guest: p.guest,
        admin: p.admin,
        group: p.group,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
        ..DirectoryQuery::default()
    };
    let users = blocking(&state, move |s| s.directory_users(&query)).await?;
    Ok(Json(UserList { users }))
}

/// One user with the groups they belong to and the actions taken on them.
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    /// The user.
    #[schema(value_type = Object)]
    pub user: DirectoryUser,
    /// Groups, directly or through nested groups.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<DirectoryGroup>,
    /// Governance actions on the user, newest first.
    #[schema(value_type = Vec<Object>)]
    pub governance: Vec<GovernanceEntry>,
}

/// One user by UPN or object id.
#[utoipa::path(get, path = "/api/v1/users/{key}", operation_id = "get_user",
    params(("key" = String, Path, description = "UPN or object id")),
    responses((status = 200, description = "The user", body = UserDetail),
        (status = 404, description = "No such user", body = ApiError)))]
pub(crate) async fn user(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<UserDetail>, Refusal> {
    let k = key.clone();
    let detail = blocking(&state, move |s| {
        let Some(user) = s.directory_user(None, &k)? else {
            return Ok(None);
        };
        let groups = s.user_groups(&user.tenant, &user.id)?;
        let governance = s.governance_log(&GovernanceQuery {
            tenant: Some(user.tenant.clone()),
            target: Some(user.id.clone()),
            limit: 50,
            ..GovernanceQuery::default()
        })?;
        Ok(Some(UserDetail {
            user,
            groups,
            governance,
        }))
    })
    .await?;
    detail.map(Json).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no user {key:?}; users come from the directory sync"),
        )
    })
}

/// Filters of `GET /api/v1/groups`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupParams {
    /// Name or mail contains this.
    search: Option<String>,
    /// `microsoft365`, `security`, `distribution` or `other`.
    kind: Option<String>,
    /// One tenant.
    tenant: Option<String>,
    /// At most this many (default 100, 0: all).
    limit: Option<usize>,
}

/// Groups.
#[derive(Serialize, ToSchema)]
pub struct GroupList {
    /// The groups, by name, with direct and nested member counts.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<DirectoryGroup>,
}

/// Groups from the directory.
#[utoipa::path(get, path = "/api/v1/groups", operation_id = "list_groups", params(GroupParams),
    responses((status = 200, description = "The groups", body = GroupList)))]
pub(crate) async fn groups(
    State(state): State<AppState>,
    Query(p): Query<GroupParams>,
) -> Result<Json<GroupList>, Refusal> {
    let query = DirectoryQuery {
        tenant: p.tenant,
        search: p.search,
        kind: p.kind.as_deref().map(GroupKind::parse),
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
        ..DirectoryQuery::default()
    };
    let groups = blocking(&state, move |s| s.directory_groups(&query)).await?;
    Ok(Json(GroupList { groups }))
}

/// `?transitive=true` for every user reached through nested groups.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberParams {
    /// Users reached through nested groups instead of direct members.
    #[serde(default)]
    transitive: bool,
    /// The tenant (when several hold the same group id).
    tenant: Option<String>,
}

/// A group's members.
#[derive(Serialize, ToSchema)]
pub struct MemberList {
    /// The members.
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<GroupMember>,
}

/// A group's members, direct or transitive.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", operation_id = "group_members",
    params(("id" = String, Path, description = "The group's object id"), MemberParams),
    responses((status = 200, description = "The members", body = MemberList),
        (status = 404, description = "No such group", body = ApiError)))]
pub(crate) async fn members(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<MemberParams>,
) -> Result<Json<MemberList>, Refusal> {
    let gid = id.clone();
    let members = blocking(&state, move |s| {
        let found = s
            .directory_groups(&DirectoryQuery {
                tenant: p.tenant,
                ..DirectoryQuery::default()
            })?
            .into_iter()
            .find(|g| g.id == gid);
        match found {
            Some(g) => s.group_members(&g.tenant, &g.id, p.transitive).map(Some),
            None => Ok(None),
        }
    })
    .await?;
    members
        .map(|members| Json(MemberList { members }))
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("no group with the id {id:?}"),
            )
        })
}

/// Filters of `GET /api/v1/apps`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppParams {
    /// Name, app id or publisher contains this.
    search: Option<String>,
    /// At least this permission level: `low`, `medium`, `high`.
    level: Option<String>,
    /// Include Microsoft's own apps.
    #[serde(default)]
    microsoft: bool,
    /// One tenant.
    tenant: Option<String>,
    /// At most this many (default 100, 0: all).
    limit: Option<usize>,
}

/// OAuth apps.
#[derive(Serialize, ToSchema)]
pub struct AppList {
    /// The apps, most powerful first.
    #[schema(value_type = Vec<Object>)]
    pub apps: Vec<OAuthApp>,
}

/// OAuth apps with their grants, permission level and review.
#[utoipa::path(get, path = "/api/v1/apps", operation_id = "list_apps", params(AppParams),
    responses((status = 200, description = "The apps", body = AppList),
        (status = 400, description = "Unknown level", body = ApiError)))]
pub(crate) async fn apps(
    State(state): State<AppState>,
    Query(p): Query<AppParams>,
) -> Result<Json<AppList>, Refusal> {
    let min_level = match p.level.as_deref() {
        Some(l) => Some(PermissionLevel::parse(l).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("unknown level {l:?}; levels: low, medium, high"),
            )
        })?),
        None => None,
    };
    let query = AppQuery {
        tenant: p.tenant,
        search: p.search,
        min_level,
        first_party: p.microsoft,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let apps = blocking(&state, move |s| s.oauth_apps(&query)).await?;
    Ok(Json(AppList { apps }))
}

/// Filters of `GET /api/v1/files`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileParams {
    /// Name contains this.
    name: Option<String>,
    /// Access levels, comma-separated: `private`, `internal`, `external`, `public`.
    access: Option<String>,
    /// Shared with this outside domain.
    domain: Option<String>,
    /// Shared with this person (mail).
    collaborator: Option<String>,
    /// Owned by (mail or UPN).
    owner: Option<String>,
    /// With this extension.
    extension: Option<String>,
    /// Below this folder path.
    folder: Option<String>,
    /// One tenant.
    tenant: Option<String>,
    /// At most this many (default 100, 0: all).
    limit: Option<usize>,
}

/// Files.
#[derive(Serialize, ToSchema)]
pub struct FileList {
    /// The files, most exposed first.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<FileItem>,
}

/// The SharePoint and OneDrive inventory (files component).
#[utoipa::path(get, path = "/api/v1/files", operation_id = "list_files", params(FileParams),
    responses((status = 200, description = "The files", body = FileList),
        (status = 400, description = "Unknown access level", body = ApiError)))]
pub(crate) async fn files(
    State(state): State<AppState>,
    Query(p): Query<FileParams>,
) -> Result<Json<FileList>, Refusal> {
    let access = p
        .access
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.trim().is_empty())
        .map(|a| {
            AccessLevel::parse(a).ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown access level {a:?}; levels: private, internal, external, public"
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let query = FileQuery {
        tenant: p.tenant,
        name: p.name,
        extension: p.extension,
        owner: p.owner,
        access,
        external_domain: p.domain,
        collaborator: p.collaborator,
        folder: p.folder,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
        ..FileQuery::default()
    };
    let files = blocking(&state, move |s| s.files(&query)).await?;
    Ok(Json(FileList { files }))
}

/// Filters of `GET /api/v1/governance`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GovernanceParams {
    /// `pending`, `in_progress`, `succeeded`, `failed`, `reverted` or `dry_run`.
    status: Option<String>,
    /// On this target (id or name).
    target: Option<String>,
    /// Led to by this alert.
    alert: Option<i64>,
    /// One tenant.
    tenant: Option<String>,
    /// At most this many (default 100, 0: all).
    limit: Option<usize>,
}

/// Governance log entries.
#[derive(Serialize, ToSchema)]
pub struct GovernanceList {
    /// The entries, newest first.
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<GovernanceEntry>,
}

/// The governance log.
#[utoipa::path(get, path = "/api/v1/governance", operation_id = "governance_log",
    params(GovernanceParams),
    responses((status = 200, description = "The log", body = GovernanceList),
        (status = 400, description = "Unknown status", body = ApiError)))]
pub(crate) async fn log(
    State(state): State<AppState>,
    Query(p): Query<GovernanceParams>,
) -> Result<Json<GovernanceList>, Refusal> {
    let status = match p.status.as_deref() {
        Some(s) => Some(ActionStatus::parse(s).ok_or_else(|| {
            Refusal::new(StatusCode::BAD_REQUEST, format!("unknown status {s:?}"))
        })?),
        None => None,
    };
    let query = GovernanceQuery {
        tenant: p.tenant,
        status,
        target: p.target,
        alert_id: p.alert,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
    };
    let actions = blocking(&state, move |s| s.governance_log(&query)).await?;
    Ok(Json(GovernanceList { actions }))
}

/// An action asked for through the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    /// A user action (`suspend-user`, `unsuspend-user`, `require-sign-in`,
    /// `confirm-compromised`, `notify-user`), an app action (`revoke-app`, `ban-app`,
    /// `approve-app`) or a file action (`remove-external-users`, `remove-shared-links`,
    /// `remove-collaborator`, `make-private`, `trash-file`, `user-quarantine`,
    /// `admin-quarantine`, `restore-file`, `notify-owner`).
    action: String,
    /// A user's UPN or id; an app's name, app id or id; a file's `DRIVE_ID/ITEM_ID`.
    target: String,
    /// The tenant, when several are configured.
    tenant: Option<String>,
    /// Only record what would be done.
    #[serde(default)]
    dry_run: bool,
    /// Wait for an admin's approval.
    #[serde(default)]
    needs_approval: bool,
    /// The alert that led to it.
    alert_id: Option<i64>,
    /// For `remove-collaborator`: whose access to remove (a mail address).
    collaborator: Option<String>,
}

pub(crate) fn governor(state: &AppState) -> Result<&skylight_govern::Governor, Refusal> {
    state.governor.as_deref().ok_or_else(|| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "governance needs the connector configuration: start `skylight serve --config FILE`",
        )
    })
}

pub(crate) fn refused(e: GovernError) -> Refusal {
    let status = match &e {
        GovernError::NotFound(_) => StatusCode::NOT_FOUND,
        GovernError::Refused(_) | GovernError::UnknownTenant(_) | GovernError::WhichTenant(_) => {
            StatusCode::BAD_REQUEST
        }
        GovernError::Store(skylight_store::StoreError::Conflict(_)) => StatusCode::CONFLICT,
        GovernError::Graph(_) => StatusCode::BAD_GATEWAY,
        GovernError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal::new(status, e.to_string())
}

/// Takes a governance action (or logs it for approval, or only records a dry run). The same
/// action on the same target while one is pending or running returns that one.
#[utoipa::path(post, path = "/api/v1/governance", operation_id = "take_action",
    request_body = NewAction,
    responses((status = 200, description = "The log entry, as it ended (or is pending)"),
        (status = 400, description = "Unknown action, or refused with the reason", body = ApiError),
        (status = 404, description = "No such target", body = ApiError),
        (status = 503, description = "Served without a connector configuration", body = ApiError)))]
pub(crate) async fn act(
    State(state): State<AppState>,
    axum::extract::Extension(who): axum::extract::Extension<crate::auth::Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GovernanceEntry>, Refusal> {
    let new: NewAction = json_body(&headers, &body)?;
    let action = ActionKind::parse(&new.action).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown action {:?}; actions: {}",
                new.action,
                ActionKind::ALL.map(ActionKind::as_str).join(", ")
            ),
        )
    })?;
    let entry = governor(&state)?
        .request(ActionRequest {
            tenant: new.tenant,
            action,
            target: new.target,
            requested_by: who.actor.clone(),
            alert_id: new.alert_id,
            dry_run: new.dry_run,
            needs_approval: new.needs_approval,
            params: match new.collaborator {
                Some(c) => serde_json::json!({ "collaborator": c }),
                None => serde_json::json!({}),
            },
        })
        .await
        .map_err(refused)?;
    let detail = format!("{} on {}", new.action, entry.target_name);
    crate::auth::audit(
        &state,
        &who,
        "governance.request",
        Some(entry.id.to_string()),
        Some(detail),
    )
    .await;
    Ok(Json(entry))
}

/// Approves a pending action, or retries a failed one: `approve` or `retry`.
#[utoipa::path(post, path = "/api/v1/governance/{id}/{verb}", operation_id = "approve_or_retry",
    params(("id" = i64, Path, description = "The log entry"),
        ("verb" = String, Path, description = "`approve` or `retry`")),
    responses((status = 200, description = "The log entry, as it ended"),
        (status = 400, description = "Not pending (approve) or not failed (retry)", body = ApiError),
        (status = 404, description = "No such entry", body = ApiError)))]
pub(crate) async fn approve_or_retry(
    State(state): State<AppState>,
    axum::extract::Extension(who): axum::extract::Extension<crate::auth::Principal>,
    Path((id, verb)): Path<(i64, String)>,
) -> Result<Json<GovernanceEntry>, Refusal> {
    let g = governor(&state)?;
    let entry = match verb.as_str() {
        "approve" => g.approve(id, &who.actor).await,
        "retry" => g.retry(id).await,
        _ => {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "use /approve or /retry".to_string(),
            ));
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
    Ok(Json(entry))
}
