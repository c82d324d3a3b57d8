//! What every policy and detection shares: identity, severity, category, mode, alert limits and
//! the users it applies to.

use serde::{Deserialize, Serialize};
use skylight_model::{ActorKind, Severity};

use crate::event::Event;

/// Risk categories (Defender for Cloud Apps' list).
pub const CATEGORIES: [&str; 7] = [
    "threat_detection",
    "privileged_accounts",
    "compliance",
    "dlp",
    "sharing_control",
    "access_control",
    "configuration_control",
];

/// The user groups every deployment has, before any directory import.
pub const BUILT_IN_GROUPS: [&str; 3] = ["administrators", "external_users", "applications"];

/// Whether a rule raises alerts or only records signals for investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Alerts in the queue.
    #[default]
    Alert,
    /// Recorded, searchable, not in the queue.
    Signal,
}

/// Users of the directory's groups, for scopes: lowercase group name or object id → lowercase
/// UPNs of the users in it, directly or through nested groups.
pub type GroupMembers = std::collections::HashMap<String, std::collections::HashSet<String>>;

/// Who a rule applies to: everyone, unless `include_*` names someone; `exclude_*` always wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Only these users (UPNs).
    #[serde(default)]
    pub include_users: Vec<String>,
    /// Only members of these groups.
    #[serde(default)]
    pub include_groups: Vec<String>,
    /// Never these users.
    #[serde(default)]
    pub exclude_users: Vec<String>,
    /// Never members of these groups.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    /// Members of the directory's groups, when imported (see [`Scope::groups`]).
    #[serde(skip)]
    pub directory: Option<std::sync::Arc<GroupMembers>>,
}

impl Scope {
    /// Refuses empty group names; a name that is neither built in nor a directory group is
    /// reported when detection loads the directory.
    pub fn check(&self) -> Result<(), String> {
        if self
            .include_groups
            .iter()
            .chain(&self.exclude_groups)
            .any(|g| g.trim().is_empty())
        {
            return Err(format!(
                "an empty group name; groups: {} or a directory group's name or id",
                BUILT_IN_GROUPS.join(", ")
            ));
        }
        Ok(())
    }

    /// The directory groups it names (not the built-in ones), lowercase.
    pub fn groups(&self) -> impl Iterator<Item = String> + '_ {
        self.include_groups
            .iter()
            .chain(&self.exclude_groups)
            .filter(|g| !BUILT_IN_GROUPS.iter().any(|b| b.eq_ignore_ascii_case(g)))
            .map(|g| g.to_ascii_lowercase())
    }

    fn in_group(&self, e: &Event, group: &str) -> bool {
        match group.to_ascii_lowercase().as_str() {
            "administrators" => e.row.admin || e.row.actor_kind == Some(ActorKind::Admin),
            "external_users" => {
                e.row.external_user || e.row.actor_kind == Some(ActorKind::External)
            }
            "applications" => e.row.actor_kind == Some(ActorKind::Application),
            name => self
                .directory
                .as_ref()
                .and_then(|d| d.get(name))
                .is_some_and(|users| users.contains(&e.user.to_ascii_lowercase())),
        }
    }

    /// Whether the event's actor is in scope.
    pub fn covers(&self, e: &Event) -> bool {
        let named = |users: &[String]| users.iter().any(|u| u.eq_ignore_ascii_case(&e.user));
        let grouped = |groups: &[String]| groups.iter().any(|g| self.in_group(e, g));
        if named(&self.exclude_users) || grouped(&self.exclude_groups) {
            return false;
        }
        // An excluded directory group whose members are not known (not synced yet, or not in
        // the directory) excludes everyone: acting on someone meant to be spared is worse than
        // missing an alert.
        let unknown = |g: &String| {
            !BUILT_IN_GROUPS.iter().any(|b| b.eq_ignore_ascii_case(g))
                && self
                    .directory
                    .as_ref()
                    .is_none_or(|d| !d.contains_key(&g.to_ascii_lowercase()))
        };
        if self.exclude_groups.iter().any(unknown) {
            return false;
        }
        (self.include_users.is_empty() && self.include_groups.is_empty())
            || named(&self.include_users)
            || grouped(&self.include_groups)
    }
}

/// A policy or detection, as alerts name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id (`mass_download`, `my-policy`).
    pub id: String,
    /// Title for alerts.
    pub title: String,
    /// `activity` or `anomaly`.
    pub kind: &'static str,
    /// Severity of its alerts.
    pub severity: Severity,
    /// Risk category.
    pub category: String,
    /// Alert or signal only.
    pub mode: Mode,
    /// Matches this close (ms) to an open incident of the same subject join it.
    pub dedup_ms: i64,
    /// New alerts per UTC day at most; more are counted and dropped.
    pub daily_limit: u32,
    /// Who it applies to.
    pub scope: Scope,
}
