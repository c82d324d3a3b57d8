//! What the store takes and answers for the directory and app inventory and the governance log.

use skylight_model::{
    AccessLevel, ActionKind, ActionStatus, ActionStep, DirectoryGroup, DirectoryUser, FileItem,
    GroupKind, GroupMember, OAuthApp, PermissionLevel, TargetKind,
};

/// One directory role and its members, as a full sync sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMembers {
    /// The role's object id.
    pub id: String,
    /// Its display name (`Global Administrator`, …).
    pub name: String,
    /// Object ids of its members.
    pub members: Vec<String>,
}

/// A user's Identity Protection risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRisk {
    /// The user's object id.
    pub user_id: String,
    /// `none`, `low`, `medium`, `high`, …
    pub level: String,
    /// `atRisk`, `confirmedCompromised`, …
    pub state: String,
}

/// One round of a directory sync, committed in one transaction with the delta links that resume
/// it: after a crash the next round starts from the last committed links, so nothing is lost and
/// re-applied changes are idempotent.
#[derive(Debug, Clone, Default)]
pub struct DirectoryChanges {
    /// Users added or changed.
    pub users: Vec<DirectoryUser>,
    /// Users removed (object ids).
    pub removed_users: Vec<String>,
    /// The users given are every user of the tenant: drop the others (a full re-enumeration).
    pub all_users: bool,
    /// Groups added or changed.
    pub groups: Vec<DirectoryGroup>,
    /// Groups removed.
    pub removed_groups: Vec<String>,
    /// The groups given are every group: drop the others.
    pub all_groups: bool,
    /// Groups whose direct members are replaced by these.
    pub members: Vec<(String, Vec<GroupMember>)>,
    /// Every directory role with its members, when read this round.
    pub roles: Option<Vec<RoleMembers>>,
    /// Every user's risk, when read this round.
    pub risks: Option<Vec<UserRisk>>,
    /// Every OAuth app, when read this round (reviews and first-consent times are kept).
    pub apps: Option<Vec<OAuthApp>>,
    /// Delta links (or `None` to forget one) per resource (`users`, `groups`, …).
    pub cursors: Vec<(String, Option<String>)>,
}

/// Which users or groups to list.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// Name, UPN or mail contains this (case-insensitive).
    pub search: Option<String>,
    /// Users: only enabled (`true`) or disabled (`false`) accounts.
    pub enabled: Option<bool>,
    /// Users: only guests (`true`) or members (`false`).
    pub guest: Option<bool>,
    /// Users: only holders of a directory role.
    pub admin: Option<bool>,
    /// Users: only members (directly or nested) of this group (id or name).
    pub group: Option<String>,
    /// Groups: only of this kind.
    pub kind: Option<GroupKind>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// Which OAuth apps to list.
#[derive(Debug, Clone, Default)]
pub struct AppQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// Name, app id or publisher contains this (case-insensitive).
    pub search: Option<String>,
    /// At least this permission level.
    pub min_level: Option<PermissionLevel>,
    /// Include Microsoft's own apps.
    pub first_party: bool,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// A governance action to log before it is carried out.
#[derive(Debug, Clone)]
pub struct ActionDraft {
    /// The tenant.
    pub tenant: String,
    /// The action.
    pub action: ActionKind,
    /// What it acts on.
    pub target_kind: TargetKind,
    /// The target's id.
    pub target_id: String,
    /// The target's name.
    pub target_name: String,
    /// Who asked.
    pub requested_by: String,
    /// The alert that led to it.
    pub alert_id: Option<i64>,
    /// Extra parameters.
    pub params: serde_json::Value,
    /// `Pending` (awaiting approval), `InProgress` or `DryRun`.
    pub status: ActionStatus,
    /// Warnings known before it runs.
    pub warnings: Vec<String>,
}

/// A change to a logged action.
#[derive(Debug, Clone, Default)]
pub struct ActionUpdate {
    /// Only if the entry is in this status now (refused with a conflict otherwise), so that two
    /// approvals or retries at once carry the action out once.
    pub expect: Option<ActionStatus>,
    /// New status.
    pub status: Option<ActionStatus>,
    /// Count one more attempt.
    pub attempt: bool,
    /// Steps to append.
    pub steps: Vec<ActionStep>,
    /// Warnings to append.
    pub warnings: Vec<String>,
    /// The error (replaces the previous one; `Some("")` clears it).
    pub error: Option<String>,
}

/// Which governance log rows to list.
#[derive(Debug, Clone, Default)]
pub struct GovernanceQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// In this status.
    pub status: Option<ActionStatus>,
    /// On this target (id or name, case-insensitive).
    pub target: Option<String>,
    /// Led to by this alert.
    pub alert_id: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// One round of a drive's delta sync, committed with the delta link that resumes it.
#[derive(Debug, Clone, Default)]
pub struct FileChanges {
    /// Items added or changed (access levels and collaborators already worked out).
    pub items: Vec<FileItem>,
    /// Items removed (ids).
    pub removed: Vec<String>,
    /// The items given are the whole drive: drop the others (a full enumeration).
    pub all: bool,
    /// The delta link to resume the drive from (`None` to forget it).
    pub cursor: Option<String>,
}

/// Which files to list.
#[derive(Debug, Clone, Default)]
pub struct FileQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// One drive.
    pub drive_id: Option<String>,
    /// Name contains this (case-insensitive).
    pub name: Option<String>,
    /// With this extension (without the dot).
    pub extension: Option<String>,
    /// Owned by (mail or UPN, case-insensitive).
    pub owner: Option<String>,
    /// At one of these access levels (all when empty).
    pub access: Vec<AccessLevel>,
    /// Shared with this outside domain.
    pub external_domain: Option<String>,
    /// Shared with this person (mail, case-insensitive).
    pub collaborator: Option<String>,
    /// Below this folder path (`/Finance`).
    pub folder: Option<String>,
    /// Folders too.
    pub include_folders: bool,
    /// At most this many (0: no limit).
    pub limit: usize,
}
