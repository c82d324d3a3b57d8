//! Activity policies: activity-log filters, on a single activity or repeated activity by one
//! user, defined in TOML files (detection as code), through the API, or from the built-in
//! templates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use skylight_model::Severity;
use skylight_model::filter::{Condition, Field, Filter};

use crate::event::Event;
use crate::incident::{Finding, Hit};
use crate::matcher;
use crate::rule::{CATEGORIES, Mode, Rule, Scope};
use crate::window::{Entry, Window};

/// "At least `count` matching activities by one user within `within_minutes`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeated {
    /// Minimum repeated activities.
    pub count: u32,
    /// Within this many minutes.
    pub within_minutes: u32,
    /// Count repeats within one app only.
    #[serde(default)]
    pub single_app: bool,
    /// Count only distinct target objects.
    #[serde(default)]
    pub unique_objects: bool,
}

fn default_severity() -> Severity {
    Severity::Medium
}
fn default_category() -> String {
    "threat_detection".into()
}
fn yes() -> bool {
    true
}
fn five() -> u32 {
    5
}
fn sixty() -> u32 {
    60
}

/// A policy as written in a file (`[[policy]]`) or sent to the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Stable id: letters, digits, `-` and `_`.
    pub id: String,
    /// Name shown in lists and alert titles.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Severity of its alerts.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Risk category.
    #[serde(default = "default_category")]
    pub category: String,
    /// Whether it runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Alert or signal only.
    #[serde(default)]
    pub mode: Mode,
    /// Activity-log filters, all of which must hold (`operation=FileDownloaded`).
    #[serde(default)]
    pub filters: Vec<String>,
    /// Repeated activity; a single matching activity when absent.
    #[serde(default)]
    pub repeated: Option<Repeated>,
    /// Who it applies to.
    #[serde(default)]
    pub scope: Scope,
    /// New alerts per day at most (Defender for Cloud Apps' default is 5).
    #[serde(default = "five")]
    pub daily_alert_limit: u32,
    /// Matches this many minutes apart from an open alert of the same user join it.
    #[serde(default = "sixty")]
    pub dedup_minutes: u32,
    /// Governance actions to take on a match (`suspend_user`, …): carried for the governance
    /// component, not taken by detection.
    #[serde(default)]
    pub actions: Vec<String>,
    /// The template it was made from.
    #[serde(default)]
    pub template: Option<String>,
}

/// A file of policies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The policies.
    #[serde(default)]
    pub policy: Vec<PolicyConfig>,
    /// The file policies.
    #[serde(default)]
    pub file_policy: Vec<crate::file_policy::FilePolicyConfig>,
    /// The OAuth app policies.
    #[serde(default)]
    pub app_policy: Vec<crate::app_policy::AppPolicyConfig>,
}

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML, or unknown keys.
    #[error("{file}: {why}")]
    File {
        /// Where.
        file: String,
        /// What.
        why: String,
    },
    /// A policy that does not make sense.
    #[error("policy `{id}`: {why}")]
    Invalid {
        /// The policy.
        id: String,
        /// What is wrong.
        why: String,
    },
}

/// Refuses an id that is not letters, digits, `-` and `_`, and an unknown category.
pub(crate) fn check_id_and_category(id: &str, category: &str) -> Result<(), String> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("the id must be letters, digits, `-` or `_`".into());
    }
    if !CATEGORIES.contains(&category) {
        return Err(format!(
            "unknown category `{category}`; categories: {}",
            CATEGORIES.join(", ")
        ));
    }
    Ok(())
}

/// A policy, read and checked.
#[derive(Debug, Clone)]
pub struct ActivityPolicy {
    /// As written.
    pub config: PolicyConfig,
    /// The filters, parsed.
    pub filter: Filter,
    /// The rule alerts name.
    pub rule: Rule,
}

impl ActivityPolicy {
    /// Checks and compiles a policy.
    pub fn new(config: PolicyConfig) -> Result<ActivityPolicy, PolicyError> {
        let invalid = |why: String| PolicyError::Invalid {
            id: config.id.clone(),
            why,
        };
        check_id_and_category(&config.id, &config.category).map_err(invalid)?;
        let conditions = config
            .filters
            .iter()
            .map(|f| Condition::parse(f).map_err(|e| invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if conditions.iter().any(|c| c.field == Field::Group) {
            return Err(invalid(
                "`group` is not a policy filter; name groups in the scope instead: \
                 scope = { include_groups = [\"Sales\"] }"
                    .into(),
            ));
        }
        if conditions.iter().any(|c| c.field == Field::Asn) {
            return Err(invalid(
                "`asn` is not available to policies yet; use `isp` instead".into(),
            ));
        }
        if conditions.is_empty() {
            return Err(invalid(
                "a policy needs at least one filter (every activity would match)".into(),
            ));
        }
        if let Some(r) = &config.repeated
            && (r.count < 1 || r.within_minutes < 1)
        {
            return Err(invalid(
                "repeated activity needs a count and minutes of at least 1".into(),
            ));
        }
        config.scope.check().map_err(invalid)?;
        for a in &config.actions {
            match skylight_model::ActionKind::parse(a) {
                Some(kind) if kind.target() != skylight_model::TargetKind::App => {}
                Some(kind) => {
                    return Err(invalid(format!(
                        "`{}` acts on apps; an activity policy's actions act on the users and \
                         files it matched",
                        kind.as_str()
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "unknown governance action `{a}`; actions: {}",
                        skylight_model::ActionKind::ALL
                            .iter()
                            .filter(|k| k.target() != skylight_model::TargetKind::App)
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        let rule = Rule {
            id: config.id.clone(),
            title: config.name.clone(),
            kind: "activity",
            severity: config.severity,
            category: config.category.clone(),
            mode: config.mode,
            dedup_ms: i64::from(config.dedup_minutes) * 60_000,
            daily_limit: config.daily_alert_limit,
            scope: config.scope.clone(),
        };
        Ok(ActivityPolicy {
            filter: Filter { conditions },
            rule,
            config,
        })
    }

    /// Evaluates one event; `windows` is the user's window state.
    pub fn evaluate(&self, e: &Event, windows: &mut BTreeMap<String, Window>) -> Option<Finding> {
        if !self.rule.scope.covers(e) || !matcher::matches(&self.filter, e) {
            return None;
        }
        let hit = |id: &str, ms: i64| Hit {
            id: id.to_owned(),
            ms,
            ip: e.row.ip.clone(),
            country: e.row.country.clone(),
        };
        let subject = if e.user.is_empty() {
            "(no user)".to_owned()
        } else {
            e.user.clone()
        };
        let Some(r) = &self.config.repeated else {
            return Some(Finding {
                subject: subject.clone(),
                users: vec![subject],
                hits: vec![hit(e.id(), e.ms)],
                facts: vec![format!(
                    "{} by {} matched {}",
                    e.operation(),
                    e.row.user.as_deref().unwrap_or("(no user)"),
                    self.config.filters.join(" and ")
                )],
            });
        };
        let key = if r.single_app {
            format!(
                "p:{}:{}",
                self.rule.id,
                e.row.app.unwrap_or(skylight_model::App::Unknown).as_str()
            )
        } else {
            format!("p:{}", self.rule.id)
        };
        let width = i64::from(r.within_minutes) * 60_000;
        let object = e
            .activity()
            .objects
            .first()
            .and_then(|o| o.id.clone().or_else(|| o.name.clone()))
            .unwrap_or_else(|| e.id().to_owned());
        let span = windows.entry(key).or_default().add(
            Entry {
                ms: e.ms,
                id: e.id().into(),
                what: object.into(),
            },
            width,
            width * 2,
            r.unique_objects,
        );
        if span.count < r.count as usize {
            return None;
        }
        Some(Finding {
            subject: subject.clone(),
            users: vec![subject],
            hits: span
                .entries
                .iter()
                .map(|x| x.id.with_str(|id| hit(id, x.ms)))
                .collect(),
            facts: vec![format!(
                "{} matching activities{} by {} within {} minutes (policy: at least {}{})",
                span.count,
                if r.unique_objects {
                    " on distinct objects"
                } else {
                    ""
                },
                e.row.user.as_deref().unwrap_or("(no user)"),
                r.within_minutes,
                r.count,
                if r.single_app {
                    format!(
                        " in {}",
                        e.row
                            .app
                            .unwrap_or(skylight_model::App::Unknown)
                            .display_name()
                    )
                } else {
                    String::new()
                }
            )],
        })
    }
}

/// Reads a policy file: YAML when its name ends in `.yaml` or `.yml` (`policy:` and a list),
/// TOML otherwise (`[[policy]]`).
pub fn parse_file(text: &str, name: &str) -> Result<Vec<ActivityPolicy>, PolicyError> {
    read_policy_file(text, name)?
        .policy
        .into_iter()
        .map(ActivityPolicy::new)
        .collect()
}

/// Reads a policy file (YAML by its name's ending, TOML otherwise) without checking its policies.
pub(crate) fn read_policy_file(text: &str, name: &str) -> Result<PolicyFile, PolicyError> {
    let lower = name.to_ascii_lowercase();
    let file: PolicyFile = if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        yaml_serde::from_str(text).map_err(|e| e.to_string())
    } else {
        toml::from_str(text).map_err(|e| e.to_string())
    }
    .map_err(|why| PolicyError::File {
        file: name.to_owned(),
        why,
    })?;
    Ok(file)
}

/// Reads one policy sent as JSON (through the API).
pub fn from_json(body: &str) -> Result<ActivityPolicy, PolicyError> {
    let config: PolicyConfig = serde_json::from_str(body).map_err(|e| PolicyError::File {
        file: "request body".into(),
        why: e.to_string(),
    })?;
    ActivityPolicy::new(config)
}

/// The built-in templates (Defender for Cloud Apps' Microsoft 365 templates, as it ships them:
/// disabled until an administrator turns one on) and Skylight's own default policies (enabled).
pub fn built_in() -> Vec<ActivityPolicy> {
    // Checked by a test: the file always parses.
    parse_file(include_str!("../templates/built-in.toml"), "built-in.toml").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_toml_files_say_the_same() {
        let toml = "[[policy]]\nid = \"p\"\nname = \"P\"\nseverity = \"high\"\nfilters = [\"category=file_download\"]\nrepeated = { count = 5, within_minutes = 10, unique_objects = true }\nscope = { exclude_groups = [\"applications\"] }\n";
        let yaml = "policy:\n  - id: p\n    name: P\n    severity: high\n    filters: [\"category=file_download\"]\n    repeated: {count: 5, within_minutes: 10, unique_objects: true}\n    scope: {exclude_groups: [applications]}\n";
        let a = parse_file(toml, "a.toml").map_err(|e| e.to_string());
        let b = parse_file(yaml, "b.yaml").map_err(|e| e.to_string());
        let configs = |r: Result<Vec<ActivityPolicy>, String>| {
            r.map(|v| v.into_iter().map(|p| p.config).collect::<Vec<_>>())
        };
        assert_eq!(configs(a), configs(b));
        let typo = parse_file(
            "policy:\n  - id: p\n    name: P\n    filtres: []\n",
            "c.yml",
        )
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert!(typo.is_err_and(|e| e.contains("filtres") && e.contains("c.yml")));
    }

    #[test]
    fn the_built_in_file_parses_whole() {
        let text = include_str!("../templates/built-in.toml");
        let parsed = parse_file(text, "built-in.toml").map_err(|e| e.to_string());
        assert_eq!(
            parsed.as_ref().map(Vec::len),
            Ok(text.matches("[[policy]]").count())
        );
        assert_eq!(built_in().len(), 11);
    }
}
