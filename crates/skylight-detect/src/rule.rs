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
}

impl Scope {
    /// Refuses groups that are not known: a typo would silently widen or narrow the scope.
    pub fn check(&self) -> Result<(), String> {
        for g in self.include_groups.iter().chain(&self.exclude_groups) {
            if !BUILT_IN_GROUPS.iter().any(|b| b.eq_ignore_ascii_case(g)) {
                return Err(format!(
                    "unknown group `{g}`; groups: {} (directory groups arrive with the Graph import)",
                    BUILT_IN_GROUPS.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn in_group(e: &Event, group: &str) -> bool {
        match group.to_ascii_lowercase().as_str() {
            "administrators" => e.row.admin || e.row.actor_kind == Some(ActorKind::Admin),
            "external_users" => {
                e.row.external_user || e.row.actor_kind == Some(ActorKind::External)
            }
            "applications" => e.row.actor_kind == Some(ActorKind::Application),
            _ => false,
        }
    }

    /// Whether the event's actor is in scope.
    pub fn covers(&self, e: &Event) -> bool {
        let named = |users: &[String]| users.iter().any(|u| u.eq_ignore_ascii_case(&e.user));
        let grouped = |groups: &[String]| groups.iter().any(|g| Scope::in_group(e, g));
        if named(&self.exclude_users) || grouped(&self.exclude_groups) {
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
