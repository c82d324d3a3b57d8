//! Governance: the actions Skylight takes on a tenant through Microsoft Graph, and the log that
//! records each of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of thing an action acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A user account.
    User,
    /// An OAuth app (service principal).
    App,
    /// A file or folder.
    File,
}

impl TargetKind {
    /// The identifier used in the store and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::User => "user",
            TargetKind::App => "app",
            TargetKind::File => "file",
        }
    }
}

/// A governance action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Block sign-in (`accountEnabled` false) and revoke the user's sessions.
    SuspendUser,
    /// Allow sign-in again.
    UnsuspendUser,
    /// Revoke refresh tokens and session cookies: the user signs in again.
    RequireSignIn,
    /// Mark the user compromised in Identity Protection (risk high; needs Entra ID P2).
    ConfirmCompromised,
    /// Record that the user should be told (Skylight sends nothing by mail itself).
    NotifyUser,
    /// Delete the app's delegated grants and application permissions and disable it.
    RevokeApp,
    /// Disable the app's service principal: no new sign-ins or tokens. Existing grants stay.
    BanApp,
    /// Mark the app approved. Changes nothing in the tenant.
    ApproveApp,
    /// Delete the file's sharing with people outside the organisation (and anonymous links).
    RemoveExternalUsers,
    /// Delete the file's sharing links.
    RemoveSharedLinks,
    /// Delete one collaborator's access (`params.collaborator`: a mail address).
    RemoveCollaborator,
    /// Delete every sharing of the file but its owner's.
    MakePrivate,
    /// Move the file to the recycle bin.
    TrashFile,
    /// Remove the file's sharing and move it into a `Quarantine` folder of its own library.
    UserQuarantine,
    /// Move the file to the admin quarantine site, leaving a placeholder where it was.
    AdminQuarantine,
    /// Move a file put in user quarantine back where it was.
    RestoreFile,
    /// Record that the file's owner is to be told.
    NotifyOwner,
}

impl ActionKind {
    /// Every action.
    pub const ALL: [ActionKind; 17] = [
        ActionKind::SuspendUser,
        ActionKind::UnsuspendUser,
        ActionKind::RequireSignIn,
        ActionKind::ConfirmCompromised,
        ActionKind::NotifyUser,
        ActionKind::RevokeApp,
        ActionKind::BanApp,
        ActionKind::ApproveApp,
        ActionKind::RemoveExternalUsers,
        ActionKind::RemoveSharedLinks,
        ActionKind::RemoveCollaborator,
        ActionKind::MakePrivate,
        ActionKind::TrashFile,
        ActionKind::UserQuarantine,
        ActionKind::AdminQuarantine,
        ActionKind::RestoreFile,
        ActionKind::NotifyOwner,
    ];

    /// The identifier used on the command line, in policies, the store and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::SuspendUser => "suspend-user",
            ActionKind::UnsuspendUser => "unsuspend-user",
            ActionKind::RequireSignIn => "require-sign-in",
            ActionKind::ConfirmCompromised => "confirm-compromised",
            ActionKind::NotifyUser => "notify-user",
            ActionKind::RevokeApp => "revoke-app",
            ActionKind::BanApp => "ban-app",
            ActionKind::ApproveApp => "approve-app",
            ActionKind::RemoveExternalUsers => "remove-external-users",
            ActionKind::RemoveSharedLinks => "remove-shared-links",
            ActionKind::RemoveCollaborator => "remove-collaborator",
            ActionKind::MakePrivate => "make-private",
            ActionKind::TrashFile => "trash-file",
            ActionKind::UserQuarantine => "user-quarantine",
            ActionKind::AdminQuarantine => "admin-quarantine",
            ActionKind::RestoreFile => "restore-file",
            ActionKind::NotifyOwner => "notify-owner",
        }
    }

    /// Reads an identifier (`_` and `-` alike, any case).
    pub fn parse(s: &str) -> Option<ActionKind> {
        let s = s.trim().replace('_', "-");
        ActionKind::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(&s))
    }

    /// What it acts on.
    pub fn target(self) -> TargetKind {
        match self {
            ActionKind::SuspendUser
            | ActionKind::UnsuspendUser
            | ActionKind::RequireSignIn
            | ActionKind::ConfirmCompromised
            | ActionKind::NotifyUser => TargetKind::User,
            ActionKind::RevokeApp | ActionKind::BanApp | ActionKind::ApproveApp => TargetKind::App,
            _ => TargetKind::File,
        }
    }

    /// What it does, in the words the console and CLI show before an admin confirms.
    pub fn explanation(self) -> &'static str {
        match self {
            ActionKind::SuspendUser => {
                "Blocks sign-in (accountEnabled = false) and revokes the user's refresh tokens and \
                 session cookies. Access tokens already issued stay valid until they expire (up to \
                 about an hour). For a user synced from on-premises Active Directory, the next \
                 directory sync turns sign-in back on: suspend the user on-premises as well."
            }
            ActionKind::UnsuspendUser => "Allows sign-in again (accountEnabled = true).",
            ActionKind::RequireSignIn => {
                "Revokes the user's refresh tokens and session cookies, so every app asks the user \
                 to sign in again. Access tokens already issued stay valid until they expire (up \
                 to about an hour)."
            }
            ActionKind::ConfirmCompromised => {
                "Marks the user as compromised in Entra ID Identity Protection (risk level high), \
                 so risk-based Conditional Access policies apply. Needs Entra ID P2."
            }
            ActionKind::NotifyUser => {
                "Records that the user is to be told about the alert; the notification channels \
                 configured for Skylight carry it."
            }
            ActionKind::RevokeApp => {
                "Deletes every delegated permission grant (consent) and application permission of \
                 the app, then disables its service principal. Tokens already issued stay valid \
                 until they expire."
            }
            ActionKind::BanApp => {
                "Disables the app's service principal, so nobody can sign in to it and it gets no \
                 new tokens. As in Microsoft 365, banning does not remove the permissions already \
                 granted: revoke the app to remove them."
            }
            ActionKind::ApproveApp => {
                "Marks the app as approved in Skylight. Nothing changes in the tenant."
            }
            ActionKind::RemoveExternalUsers => {
                "Deletes the file's own sharing with people outside the organisation (guests, \
                 outside addresses, links given to them) and its anonymous links. Sharing \
                 inherited from a folder stays: act on the folder."
            }
            ActionKind::RemoveSharedLinks => {
                "Deletes the file's own sharing links (anyone, organisation and specific-people \
                 links); direct access given to people stays."
            }
            ActionKind::RemoveCollaborator => {
                "Deletes one person's access to the file (and the links given to them)."
            }
            ActionKind::MakePrivate => {
                "Deletes every sharing of the file but its owner's: links and people, inside and \
                 outside. Sharing inherited from a folder stays: act on the folder."
            }
            ActionKind::TrashFile => {
                "Moves the file to the site's recycle bin, from where it can be restored."
            }
            ActionKind::UserQuarantine => {
                "Removes the file's sharing and moves it into a `Quarantine` folder at the root of \
                 its own library, where only its owner reaches it. Works only in SharePoint \
                 `Shared Documents` libraries (English path) and OneDrive `Documents`."
            }
            ActionKind::AdminQuarantine => {
                "Copies the file into the admin quarantine site, deletes it where it was, and \
                 leaves a placeholder text file in its place saying where it went. Needs \
                 `quarantine_site` in the tenant's configuration."
            }
            ActionKind::RestoreFile => {
                "Moves a file put in user quarantine back to the folder it came from. Its \
                 sharing is not given back."
            }
            ActionKind::NotifyOwner => {
                "Records that the file's owner is to be told; the notification channels carry it."
            }
        }
    }
}

/// Where a governance action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Waiting for an admin's approval.
    Pending,
    /// Being carried out (or interrupted while it was: it is resumed).
    InProgress,
    /// Done; the tenant is in the state asked for.
    Succeeded,
    /// Not done; `error` says why. It can be retried.
    Failed,
    /// Undone by a later action or by the tenant (for example directory sync).
    Reverted,
    /// Only simulated: what would have been done is in `steps`.
    DryRun,
}

impl ActionStatus {
    /// Every status.
    pub const ALL: [ActionStatus; 6] = [
        ActionStatus::Pending,
        ActionStatus::InProgress,
        ActionStatus::Succeeded,
        ActionStatus::Failed,
        ActionStatus::Reverted,
        ActionStatus::DryRun,
    ];

    /// The identifier used in the store, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::InProgress => "in_progress",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Reverted => "reverted",
            ActionStatus::DryRun => "dry_run",
        }
    }

    /// Reads an identifier, case-insensitively.
    pub fn parse(s: &str) -> Option<ActionStatus> {
        ActionStatus::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One Graph call an action made (or, in a dry run, would make), and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStep {
    /// HTTP method.
    pub method: String,
    /// Path under the Graph base (`/v1.0/users/…`).
    pub path: String,
    /// HTTP status answered; `None` in a dry run or when no answer came.
    pub status: Option<u16>,
    /// Graph's error code or a short note (`already disabled`, …).
    pub note: Option<String>,
}

/// A row of the governance log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceEntry {
    /// The row's number.
    pub id: i64,
    /// The tenant acted on.
    pub tenant: String,
    /// The action.
    pub action: ActionKind,
    /// What it acts on.
    pub target_kind: TargetKind,
    /// The target's id (user or service principal object id, or `drive/item`).
    pub target_id: String,
    /// The target's name (UPN, app or file name).
    pub target_name: String,
    /// Who asked: `user:NAME`, `policy:ID` or `cli`.
    pub requested_by: String,
    /// The alert that led to it, if any.
    pub alert_id: Option<i64>,
    /// Extra parameters.
    pub params: serde_json::Value,
    /// Where it stands.
    pub status: ActionStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The Graph calls made, in order.
    pub steps: Vec<ActionStep>,
    /// Warnings shown before and after (synced user, …).
    pub warnings: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// When it was asked for.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub updated: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in ActionKind::ALL {
            assert_eq!(ActionKind::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        assert_eq!(
            ActionKind::parse("SUSPEND_USER"),
            Some(ActionKind::SuspendUser)
        );
        assert_eq!(ActionKind::parse("delete-tenant"), None);
        for s in ActionStatus::ALL {
            assert_eq!(ActionStatus::parse(s.as_str()), Some(s));
        }
    }
}
