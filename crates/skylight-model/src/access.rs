//! Who may use Skylight: console accounts and their roles, sessions, API tokens, the audit log of
//! Skylight's own administrative actions, and saved activity-log queries.
//!
//! Secrets never live here in the clear: a password is an argon2 hash, a session or API token is
//! the SHA-256 of a random value the holder keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an account or API token may do. Each role can do everything the one before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Sees everything, changes nothing (but its own saved queries).
    ReadOnly,
    /// Investigates: changes alert status, comments, backtests policies.
    Analyst,
    /// Everything: policies, accounts, API tokens, the audit log.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 3] = [Role::ReadOnly, Role::Analyst, Role::Admin];

    /// The role's name (`read-only`, `analyst`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// A role from its name (case-insensitive; `read_only` and `readonly` too).
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read-only" | "read_only" | "readonly" => Some(Role::ReadOnly),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role includes `other`'s rights.
    pub fn allows(self, other: Role) -> bool {
        self >= other
    }
}

/// A console account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Its number.
    pub id: i64,
    /// The sign-in name (unique, case-insensitive).
    pub username: String,
    /// What it may do.
    pub role: Role,
    /// A disabled account cannot sign in and has no sessions.
    pub disabled: bool,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its last successful sign-in.
    pub last_login: Option<DateTime<Utc>>,
}

/// A change to an account; each absent part stays as it is. Any change ends the account's
/// sessions, so that a demoted or disabled user loses access at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// A new role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// A new password's argon2 hash (PHC string).
    pub password_hash: Option<String>,
}

/// A signed-in browser session, as stored: the token's hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie's token.
    pub token_hash: [u8; 32],
    /// The account.
    pub account_id: i64,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    /// When it was created (sessions end 24 hours after, whatever happens).
    pub created: DateTime<Utc>,
    /// When it was last used.
    pub last_seen: DateTime<Utc>,
    /// When it ends if unused.
    pub expires: DateTime<Utc>,
}

/// An API token's description (its secret is shown once at creation and only its hash kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its number.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created: DateTime<Utc>,
    /// When it last authorised a request (to the minute).
    pub last_used: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token authorises nothing.
    pub revoked: Option<DateTime<Utc>>,
}

/// One entry of the audit log: an action taken in Skylight itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Its number (0 before it is stored).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: an account's name, `token:NAME`, `cli` or `system`.
    pub actor: String,
    /// What, as `noun.verb` (`account.create`, `alert.update`, `sign_in.failed`, …).
    pub action: String,
    /// On what (an account, a policy id, an alert number), if anything.
    pub target: Option<String>,
    /// Details a reader needs (never a secret).
    pub detail: Option<String>,
    /// The client address, when the action came over HTTP.
    pub ip: Option<String>,
}

/// An activity-log query an account saved under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedQuery {
    /// Its number.
    pub id: i64,
    /// The account it belongs to.
    pub account_id: i64,
    /// Its name.
    pub name: String,
    /// The query string of the activity log's URL (`q=app%3Dexchange&q=…`).
    pub query: String,
    /// When it was saved.
    pub created: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_read_their_names_and_nest() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("READ_ONLY"), Some(Role::ReadOnly));
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Admin.allows(Role::Analyst));
        assert!(Role::Analyst.allows(Role::ReadOnly));
        assert!(!Role::ReadOnly.allows(Role::Analyst));
        assert!(!Role::Analyst.allows(Role::Admin));
    }
}
