//! The directory and app inventory imported from Microsoft Graph: users, groups, directory roles
//! and OAuth apps, with the permission level Skylight gives each app.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A user of a tenant's directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// The tenant it belongs to (as configured).
    pub tenant: String,
    /// Entra object id.
    pub id: String,
    /// User principal name.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Whether sign-in is allowed; `None` when Graph did not say.
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest` (Graph's `userType`; other values kept as given).
    pub user_type: String,
    /// Synced from on-premises Active Directory: a suspend in the cloud is reverted by the next
    /// directory sync.
    pub on_premises_synced: bool,
    /// When the account was created.
    pub created: Option<DateTime<Utc>>,
    /// The directory roles the user holds (display names), from role memberships.
    pub roles: Vec<String>,
    /// Identity Protection's risk level, when known (`none`, `low`, `medium`, `high`, …).
    pub risk_level: Option<String>,
    /// Identity Protection's risk state, when known (`atRisk`, `confirmedCompromised`, …).
    pub risk_state: Option<String>,
    /// When Skylight last saw a change of it.
    pub synced: DateTime<Utc>,
}

impl DirectoryUser {
    /// A guest (external) account.
    pub fn is_guest(&self) -> bool {
        self.user_type.eq_ignore_ascii_case("guest") || self.upn.contains("#EXT#")
    }

    /// Holds at least one directory role.
    pub fn is_admin(&self) -> bool {
        !self.roles.is_empty()
    }
}

/// What kind of group a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A Microsoft 365 group (`groupTypes` holds `Unified`); it also appears as a SharePoint site.
    Microsoft365,
    /// A security group.
    Security,
    /// A mail-enabled distribution list.
    Distribution,
    /// Anything else Graph returns.
    Other,
}

impl GroupKind {
    /// The identifier used in the store, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Microsoft365 => "microsoft365",
            GroupKind::Security => "security",
            GroupKind::Distribution => "distribution",
            GroupKind::Other => "other",
        }
    }

    /// Reads an identifier; unknown ones are `Other`.
    pub fn parse(s: &str) -> GroupKind {
        [
            GroupKind::Microsoft365,
            GroupKind::Security,
            GroupKind::Distribution,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s))
        .unwrap_or(GroupKind::Other)
    }
}

/// A group of a tenant's directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    /// The tenant it belongs to.
    pub tenant: String,
    /// Entra object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Mail address, if mail-enabled.
    pub mail: Option<String>,
    /// Its kind.
    pub kind: GroupKind,
    /// Synced from on-premises Active Directory.
    pub on_premises_synced: bool,
    /// Direct members (users, groups and others).
    pub direct_members: u32,
    /// Users who are members directly or through nested groups.
    pub user_members: u32,
    /// When Skylight last saw a change of it.
    pub synced: DateTime<Utc>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The member's object id.
    pub id: String,
    /// `user`, `group`, `servicePrincipal`, `device`, `orgContact`, … (Graph's `@odata.type`
    /// without its namespace).
    pub kind: String,
    /// Display name or UPN, when Graph gave one.
    pub name: Option<String>,
}

/// How much an OAuth app's granted permissions let it do. The rules, in [`permission_level`]:
/// an app's level is the highest level of any scope or app role it was granted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum PermissionLevel {
    /// Sign-in and the signed-in user's own basic profile.
    #[default]
    Low,
    /// Reads data beyond the user's profile (mail, files, calendars, the directory), or writes
    /// the user's own data.
    Medium,
    /// Changes every mailbox, file, directory object or permission it can reach, or reads all of
    /// a tenant's mail or files without a user (application permissions).
    High,
}

impl PermissionLevel {
    /// The identifier used in the store, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionLevel::Low => "low",
            PermissionLevel::Medium => "medium",
            PermissionLevel::High => "high",
        }
    }

    /// Reads an identifier, case-insensitively.
    pub fn parse(s: &str) -> Option<PermissionLevel> {
        [
            PermissionLevel::Low,
            PermissionLevel::Medium,
            PermissionLevel::High,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Scopes that let an app change every mailbox, directory object or permission it can reach.
pub const HIGH_PRIVILEGE_SCOPES: [&str; 18] = [
    "mail.readwrite",
    "mail.send",
    "mail.readwrite.shared",
    "mail.send.shared",
    "mailboxsettings.readwrite",
    "full_access_as_user",
    "full_access_as_app",
    "ews.accessasuser.all",
    "sites.fullcontrol.all",
    "directory.readwrite.all",
    "directory.accessasuser.all",
    "user.readwrite.all",
    "rolemanagement.readwrite.directory",
    "application.readwrite.all",
    "approleassignment.readwrite.all",
    "group.readwrite.all",
    "policy.readwrite.conditionalaccess",
    "privilegedaccess.readwrite.azuread",
];

/// Scopes that carry no data beyond who signed in.
const LOW_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "user.read",
    "user.readbasic.all",
];

/// The level of one granted permission. `application` is true for an app role (an application
/// permission, used without any user): then reading all mail, files or sites is high too, since
/// it reaches every mailbox or site of the tenant at once. Unknown scopes are medium: what an
/// admin has not classified is not harmless.
pub fn permission_level(scope: &str, application: bool) -> PermissionLevel {
    let s = scope.trim().to_ascii_lowercase();
    if HIGH_PRIVILEGE_SCOPES.contains(&s.as_str())
        || (s.ends_with(".readwrite.all") && !s.starts_with("user."))
    {
        return PermissionLevel::High;
    }
    if application
        && ["mail.", "files.", "sites.", "calendars.", "chat.", "notes."]
            .iter()
            .any(|p| s.starts_with(p))
    {
        return PermissionLevel::High;
    }
    if LOW_SCOPES.contains(&s.as_str()) || s.is_empty() {
        return PermissionLevel::Low;
    }
    PermissionLevel::Medium
}

/// What an admin decided about an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppReview {
    /// Nobody has decided.
    #[default]
    Unreviewed,
    /// Approved: known and allowed.
    Approved,
    /// Banned: its service principal is disabled, so no new sign-ins or tokens.
    Banned,
}

impl AppReview {
    /// The identifier used in the store and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AppReview::Unreviewed => "unreviewed",
            AppReview::Approved => "approved",
            AppReview::Banned => "banned",
        }
    }

    /// Reads an identifier; unknown ones are `Unreviewed`.
    pub fn parse(s: &str) -> AppReview {
        match s.trim().to_ascii_lowercase().as_str() {
            "approved" => AppReview::Approved,
            "banned" => AppReview::Banned,
            _ => AppReview::Unreviewed,
        }
    }
}

/// One delegated permission grant (an OAuth consent), for one user or for all users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppGrant {
    /// Graph's grant id.
    pub id: String,
    /// The user who consented; `None` for an admin consent on behalf of all users.
    pub principal_id: Option<String>,
    /// The resource API's service principal id (Microsoft Graph, Exchange, …).
    pub resource_id: String,
    /// The resource API's name, when known.
    pub resource: Option<String>,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

/// One application permission (an app role assigned to the app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRoleGrant {
    /// Graph's assignment id.
    pub id: String,
    /// The resource API's service principal id.
    pub resource_id: String,
    /// The resource API's name.
    pub resource: Option<String>,
    /// The permission's value (`Mail.Read`, …), or the role id when the resource does not name it.
    pub permission: String,
    /// When it was granted.
    pub created: Option<DateTime<Utc>>,
}

/// An OAuth app: a service principal in the tenant and what it was granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthApp {
    /// The tenant.
    pub tenant: String,
    /// The service principal's object id.
    pub id: String,
    /// The application (client) id.
    pub app_id: String,
    /// Display name.
    pub name: String,
    /// Publisher name, as the app registration states it.
    pub publisher: Option<String>,
    /// The verified publisher's name, when Microsoft verified it.
    pub verified_publisher: Option<String>,
    /// Owned by Microsoft.
    pub first_party: bool,
    /// The service principal may sign in (false once banned).
    pub enabled: bool,
    /// Delegated grants (consents).
    pub grants: Vec<AppGrant>,
    /// Application permissions.
    pub app_roles: Vec<AppRoleGrant>,
    /// The level of the most powerful permission granted.
    pub level: PermissionLevel,
    /// Users who consented for themselves (distinct).
    pub consented_users: u32,
    /// An admin consented for every user.
    pub all_users: bool,
    /// When Skylight first saw a consent (or the app) in the tenant.
    pub first_consent: Option<DateTime<Utc>>,
    /// When Skylight last saw a consent change.
    pub last_consent: Option<DateTime<Utc>>,
    /// The admin's decision.
    pub review: AppReview,
    /// When Skylight last saw a change of it.
    pub synced: DateTime<Utc>,
}

impl OAuthApp {
    /// Every scope and app role granted, distinct, sorted.
    pub fn permissions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .grants
            .iter()
            .flat_map(|g| g.scopes.iter().cloned())
            .chain(self.app_roles.iter().map(|r| r.permission.clone()))
            .collect();
        all.sort_by_key(|s| s.to_ascii_lowercase());
        all.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        all
    }

    /// Recomputes `level`, `consented_users` and `all_users` from the grants.
    pub fn summarise(&mut self) {
        let delegated = self
            .grants
            .iter()
            .flat_map(|g| g.scopes.iter())
            .map(|s| permission_level(s, false));
        let application = self
            .app_roles
            .iter()
            .map(|r| permission_level(&r.permission, true));
        self.level = delegated.chain(application).max().unwrap_or_default();
        let mut users: Vec<&str> = self
            .grants
            .iter()
            .filter_map(|g| g.principal_id.as_deref())
            .collect();
        users.sort_unstable();
        users.dedup();
        self.consented_users = u32::try_from(users.len()).unwrap_or(u32::MAX);
        self.all_users = self.grants.iter().any(|g| g.principal_id.is_none());
    }
}

/// How a tenant's last directory (and files) sync went: what `skylight status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySyncStatus {
    /// The tenant.
    pub tenant: String,
    /// When the last round ended.
    pub last_attempt: DateTime<Utc>,
    /// When a round last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// Users added, changed or removed by the last successful round.
    pub users_changed: u64,
    /// Groups added, changed or removed by it.
    pub groups_changed: u64,
    /// OAuth apps known after it.
    pub apps: u64,
    /// Files added, changed or removed by it (with the files component).
    pub files_changed: Option<u64>,
    /// Why the last round failed, with what to do; `None` when it succeeded.
    pub error: Option<String>,
    /// Parts the last round could not read (a missing licence or permission), with what to do.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_written_rules() {
        assert_eq!(permission_level("User.Read", false), PermissionLevel::Low);
        assert_eq!(
            permission_level("offline_access", false),
            PermissionLevel::Low
        );
        assert_eq!(
            permission_level("Mail.Read", false),
            PermissionLevel::Medium
        );
        assert_eq!(permission_level("Mail.Read", true), PermissionLevel::High);
        assert_eq!(
            permission_level("Mail.ReadWrite", false),
            PermissionLevel::High
        );
        assert_eq!(
            permission_level("Calendars.ReadWrite.All", false),
            PermissionLevel::High
        );
        assert_eq!(
            permission_level("User.Read.All", true),
            PermissionLevel::Medium
        );
        assert_eq!(
            permission_level("Something.New", false),
            PermissionLevel::Medium
        );
    }

    #[test]
    fn an_app_takes_its_most_powerful_grant() {
        let mut app = OAuthApp {
            tenant: "t".into(),
            id: "sp".into(),
            app_id: "app".into(),
            name: "App".into(),
            publisher: None,
            verified_publisher: None,
            first_party: false,
            enabled: true,
            grants: vec![
                AppGrant {
                    id: "g1".into(),
                    principal_id: Some("u1".into()),
                    resource_id: "graph".into(),
                    resource: None,
                    scopes: vec!["User.Read".into()],
                },
                AppGrant {
                    id: "g2".into(),
                    principal_id: Some("u2".into()),
                    resource_id: "graph".into(),
                    resource: None,
                    scopes: vec!["Files.ReadWrite.All".into(), "user.read".into()],
                },
            ],
            app_roles: vec![],
            level: PermissionLevel::Low,
            consented_users: 0,
            all_users: false,
            first_consent: None,
            last_consent: None,
            review: AppReview::Unreviewed,
            synced: Utc::now(),
        };
        app.summarise();
        assert_eq!(app.level, PermissionLevel::High);
        assert_eq!(app.consented_users, 2);
        assert!(!app.all_users);
        assert_eq!(app.permissions(), vec!["Files.ReadWrite.All", "User.Read"]);
    }
}
