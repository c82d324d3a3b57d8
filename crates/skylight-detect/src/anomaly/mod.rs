//! Anomaly detections: built-in, per-user baselines, tuned (sensitivity, scope, alert or signal)
//! but not written by users. Each is a function of one event and the state it keeps.
//!
//! | id | default | what |
//! |---|---|---|
//! | `impossible_travel` | alert | two activities from countries too far apart for the time between them |
//! | `infrequent_country` | signal | a country not seen for the user, after its learning period |
//! | `risky_ip` | alert | activity from an address tagged risky (Tor exits built in) |
//! | `failed_sign_ins` | alert | failed sign-ins of one user, over a floor and over the user's usual peak |
//! | `password_spray` | alert | failed sign-ins of many users from one address |
//! | `mass_download`, `mass_delete`, `mass_share` | alert | bursts over a floor and over the user's usual peak |
//! | `external_sharing` | signal | a file shared with an outside address or an anonymous link, outside the allow-lists |
//! | `ransomware` | alert | renames to ransomware extensions, unusual-extension bursts, ransom notes, bulk uploads with bulk deletions |
//! | `inbox_forwarding` | alert | an inbox rule or mailbox setting forwarding outside the tenant's domains |
//! | `inbox_manipulation` | alert | an inbox rule deleting mail or hiding it in rarely read folders |
//! | `new_admin_location` | alert | administrative activity from a country the user never administered from |
//! | `unusual_admin` | signal | an administrative operation the user never performed, after learning |
//! | `oauth_high_privilege` | alert | high-privilege scopes granted to an app new to the tenant (illicit consent) |
//! | `oauth_privileged_grant` | signal | high-privilege scopes granted to an app the tenant already had |
//! | `disabled_user` | alert | activity by an account that is disabled or deleted |
//! | `mfa_disabled` | alert | multi-factor authentication removed from a user |
//!
//! "Signal" detections are the ones Defender for Cloud Apps moved to behaviours (no alert by
//! default): they are recorded and searchable but stay out of the alert queue.

mod apps;
mod changes;
mod fields;
mod location;
mod mail;
mod rates;

use std::collections::BTreeMap;

use serde::Deserialize;
use skylight_model::Severity;

use crate::event::Event;
use crate::incident::Finding;
use crate::rule::{Mode, Rule, Scope};
use crate::state::State;

/// The user whose state an activity's detections look up besides its actor's: the account an
/// administrator disabled, deleted or restored.
pub(crate) fn other_user(e: &Event) -> Option<String> {
    changes::account_marker(e).map(|(who, _)| who)
}

/// How eager a detection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Fewer alerts: thresholds doubled, longer distances.
    Low,
    /// The default.
    #[default]
    Medium,
    /// More alerts: thresholds halved, shorter distances.
    High,
}

impl Sensitivity {
    /// Multiplier for count thresholds.
    pub fn factor(self) -> f64 {
        match self {
            Sensitivity::Low => 2.0,
            Sensitivity::Medium => 1.0,
            Sensitivity::High => 0.5,
        }
    }
}

/// An anomaly detection's settings (`[detection.anomaly.<id>]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySettings {
    /// On or off (default on).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Alert or signal only (default: the detection's own).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// How eager.
    #[serde(default)]
    pub sensitivity: Sensitivity,
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
    /// `external_sharing`: partner domains sharing with is allowed to (besides the tenant's own).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// `external_sharing`: outside addresses sharing with is allowed to.
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// `external_sharing`: path fragments whose files may be shared outside (`/External/`).
    #[serde(default)]
    pub allowed_paths: Vec<String>,
}

impl AnomalySettings {
    /// Who the detection applies to.
    pub fn scope(&self) -> Scope {
        Scope {
            include_users: self.include_users.clone(),
            include_groups: self.include_groups.clone(),
            exclude_users: self.exclude_users.clone(),
            exclude_groups: self.exclude_groups.clone(),
            directory: None,
        }
    }
}

/// One built-in detection: (id, title, severity, category, default mode).
pub const CATALOGUE: [(&str, &str, Severity, &str, Mode); 18] = [
    (
        "impossible_travel",
        "Impossible travel",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "infrequent_country",
        "Activity from infrequent country",
        Severity::Medium,
        "threat_detection",
        Mode::Signal,
    ),
    (
        "risky_ip",
        "Activity from an anonymous or risky IP address",
        Severity::Medium,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "failed_sign_ins",
        "Multiple failed sign-in attempts",
        Severity::Medium,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "password_spray",
        "Password spray from one address",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "mass_download",
        "Unusual file download",
        Severity::Medium,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "mass_delete",
        "Unusual file deletion",
        Severity::Medium,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "mass_share",
        "Unusual file share",
        Severity::Medium,
        "sharing_control",
        Mode::Alert,
    ),
    (
        "external_sharing",
        "File shared outside the organisation",
        Severity::Low,
        "sharing_control",
        Mode::Signal,
    ),
    (
        "ransomware",
        "Ransomware activity",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "inbox_forwarding",
        "Suspicious inbox forwarding",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "inbox_manipulation",
        "Suspicious inbox manipulation rule",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "new_admin_location",
        "Administrative activity from a new country",
        Severity::High,
        "privileged_accounts",
        Mode::Alert,
    ),
    (
        "unusual_admin",
        "Unusual administrative activity",
        Severity::Medium,
        "privileged_accounts",
        Mode::Signal,
    ),
    (
        "oauth_high_privilege",
        "High-privilege consent to a new app",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "oauth_privileged_grant",
        "High-privilege permissions granted to an app",
        Severity::Medium,
        "threat_detection",
        Mode::Signal,
    ),
    (
        "disabled_user",
        "Activity by a disabled or deleted user",
        Severity::High,
        "threat_detection",
        Mode::Alert,
    ),
    (
        "mfa_disabled",
        "Multi-factor authentication removed",
        Severity::High,
        "privileged_accounts",
        Mode::Alert,
    ),
];

/// Where files may be shared outside the tenant without a finding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharingAllowed {
    /// Partner domains (lowercase).
    pub domains: Vec<String>,
    /// Outside addresses (lowercase).
    pub users: Vec<String>,
    /// Path fragments (lowercase).
    pub paths: Vec<String>,
}

/// The enabled detections, with their settings.
#[derive(Debug, Clone)]
pub struct Anomalies {
    /// Detection id → (rule, sensitivity).
    pub rules: BTreeMap<&'static str, (Rule, Sensitivity)>,
    /// `external_sharing`'s allow-lists.
    pub sharing: crate::anomaly::SharingAllowed,
    /// How long a baseline learns before baseline detections alert (ms).
    pub learning_ms: i64,
}

impl Anomalies {
    /// The catalogue with settings applied; unknown ids are an error naming the known ones.
    pub fn new(
        settings: &BTreeMap<String, AnomalySettings>,
        learning_ms: i64,
    ) -> Result<Anomalies, String> {
        for id in settings.keys() {
            if !CATALOGUE.iter().any(|c| c.0 == id) {
                return Err(format!(
                    "unknown anomaly detection `{id}`; detections: {}",
                    CATALOGUE.map(|c| c.0).join(", ")
                ));
            }
        }
        let mut rules = BTreeMap::new();
        for (id, title, severity, category, mode) in CATALOGUE {
            let s = settings.get(id).cloned().unwrap_or_default();
            let scope = s.scope();
            scope
                .check()
                .map_err(|e| format!("anomaly detection `{id}`: {e}"))?;
            if s.enabled == Some(false) {
                continue;
            }
            let rule = Rule {
                id: id.to_owned(),
                title: title.to_owned(),
                kind: "anomaly",
                severity,
                category: category.to_owned(),
                mode: s.mode.unwrap_or(mode),
                // An app's consents make one incident for a week; the rest, per hour.
                dedup_ms: if id.starts_with("oauth_") {
                    7 * 86_400_000
                } else {
                    60 * 60_000
                },
                daily_limit: 1_000,
                scope,
            };
            rules.insert(id, (rule, s.sensitivity));
        }
        let sharing = settings
            .get("external_sharing")
            .map(|s| SharingAllowed {
                domains: s
                    .allowed_domains
                    .iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect(),
                users: s
                    .allowed_users
                    .iter()
                    .map(|u| u.to_ascii_lowercase())
                    .collect(),
                paths: s
                    .allowed_paths
                    .iter()
                    .map(|p| p.to_ascii_lowercase())
                    .collect(),
            })
            .unwrap_or_default();
        Ok(Anomalies {
            rules,
            learning_ms,
            sharing,
        })
    }

    /// The scopes of the enabled detections.
    pub(crate) fn scopes(&self) -> impl Iterator<Item = &crate::rule::Scope> {
        self.rules.values().map(|(r, _)| &r.scope)
    }

    /// Gives the scopes the directory's group members.
    pub(crate) fn set_directory(&mut self, members: &std::sync::Arc<crate::rule::GroupMembers>) {
        for (r, _) in self.rules.values_mut() {
            r.scope.directory = Some(members.clone());
        }
    }

    /// A detection's sensitivity, when it is enabled and the event's user is in its scope.
    fn on(&self, id: &str, e: &Event) -> Option<Sensitivity> {
        self.rules
            .get(id)
            .filter(|(r, _)| r.scope.covers(e))
            .map(|(_, s)| *s)
    }

    /// Evaluates every enabled detection on one event.
    pub fn evaluate(&self, e: &Event, state: &mut State, out: &mut Vec<(&'static str, Finding)>) {
        location::evaluate(self, e, state, out);
        rates::evaluate(self, e, state, out);
        changes::evaluate(self, e, state, out);
    }
}

/// A finding about the event's own user.
fn user_finding(e: &Event, hits: Vec<crate::incident::Hit>, fact: String) -> Finding {
    Finding {
        subject: e.user.clone(),
        users: vec![e.user.clone()],
        hits,
        facts: vec![fact],
    }
}

/// The hit of the event itself.
fn hit(e: &Event) -> crate::incident::Hit {
    crate::incident::Hit {
        id: e.id().to_owned(),
        ms: e.ms,
        ip: e.row.ip.clone(),
        country: e.row.country.clone(),
    }
}

/// A time for facts: `2026-11-20 10:42 UTC`.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A whole number with thousands separators: `9,400`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
