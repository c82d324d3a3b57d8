//! Sigma rules for Microsoft 365 (`logsource.product: m365`), evaluated on each raw audit record.
//!
//! **Engine choice.** Three options were weighed (measured in `../shared/reference/rust-stack.md`):
//! `rsigma-eval`/`rsigma-parser` (every modifier including `cidr`, `fieldref` and `windash`,
//! filters, correlation rules, processing pipelines, 248 k events/s; young and fast-moving, and
//! releases after 0.23 need a newer Rust than 1.95), `sigma-rust` (detection only, strict typing
//! so `42` ≠ `"42"`, 88 k events/s), and an engine of our own (months to reach the modifiers and
//! condition grammar SigmaHQ rules use). Skylight uses **rsigma 0.23, pinned** (with `yamlpath`
//! 1.27.0, `yamlpatch` 1.26.1 and `tree-sitter-iter` 1.27.0 held back in `Cargo.lock`), behind
//! this module, so that `sigma-rust` could replace it without touching the rest of detection.
//!
//! **The event a rule sees** is the raw record's JSON, with:
//! - every Name/Value array (`Parameters`, `ModifiedProperties`, `ExtendedProperties`, …) also
//!   flattened into dotted keys (`Parameters.ForwardTo`, `ModifiedProperties.AccountEnabled.NewValue`),
//!   and the array itself replaced by its JSON text, so that `Parameters|contains: 'ForwardTo'`
//!   (SigmaHQ's habit) matches;
//! - `Parameters.Name` and `Parameters.Value` (for each such array) holding every entry's name and
//!   value, so that rules written for backends that search inside arrays (`Parameters.Name:
//!   ForwardTo`) match as their authors meant; a parameter literally called `Name` adds its value;
//! - Skylight's field mapping for SigmaHQ rules written against Defender for Cloud Apps' field
//!   names, added when the record has no such field: `eventSource` = `Workload`, `eventName` =
//!   the alert's `Name` (alert records) or else `Operation`, `status` = `success` or `failed`.
//!
//! A field a record lacks makes its condition false: never an error.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use skylight_model::{Outcome, Severity};

use crate::event::Event;
use crate::incident::{Finding, Hit};
use crate::rule::{Mode, Rule, Scope};

/// Why Sigma rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// A rule file could not be read.
    #[error("cannot read sigma rules {path}: {why}")]
    Read {
        /// The file or directory.
        path: String,
        /// Cause.
        why: String,
    },
    /// A rule file is not valid Sigma.
    #[error("sigma rule file {path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// Loaded Sigma rules, ready to evaluate.
pub struct SigmaRules {
    engine: rsigma_eval::Engine,
    /// Skylight's rule for each Sigma rule, with the Sigma rule's id and title.
    rules: Vec<(Option<String>, String, Rule)>,
    /// Rules skipped because their log source is not Microsoft 365.
    pub skipped: usize,
}

impl std::fmt::Debug for SigmaRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaRules")
            .field("rules", &self.rules.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn severity(level: Option<&rsigma_parser::Level>) -> Severity {
    use rsigma_parser::Level;
    match level {
        Some(Level::Informational) => Severity::Informational,
        Some(Level::Low) => Severity::Low,
        Some(Level::Medium) | None => Severity::Medium,
        Some(Level::High | Level::Critical) => Severity::High,
    }
}

/// Skylight's id for a Sigma rule: `sigma:` and its id, or its title made into a slug.
fn rule_id(rule: &rsigma_parser::SigmaRule) -> String {
    let base = rule.id.clone().unwrap_or_else(|| {
        rule.title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect()
    });
    format!("sigma:{base}")
}

impl SigmaRules {
    /// Rules from YAML text (one or more documents); rules for other products are skipped.
    pub fn from_yaml(texts: &[(String, String)]) -> Result<SigmaRules, SigmaError> {
        let mut engine = rsigma_eval::Engine::new();
        let mut rules = Vec::new();
        let mut skipped = 0;
        for (path, text) in texts {
            let invalid = |why: String| SigmaError::Invalid {
                path: path.clone(),
                why,
            };
            let collection =
                rsigma_parser::parse_sigma_yaml(text).map_err(|e| invalid(e.to_string()))?;
            if let Some(why) = collection.errors.first() {
                return Err(invalid(why.clone()));
            }
            for rule in &collection.rules {
                let m365 = rule
                    .logsource
                    .product
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case("m365"));
                if !m365 {
                    skipped += 1;
                    continue;
                }
                engine
                    .add_rule(rule)
                    .map_err(|e| invalid(format!("`{}`: {e}", rule.title)))?;
                rules.push((
                    rule.id.clone(),
                    rule.title.clone(),
                    Rule {
                        id: rule_id(rule),
                        title: rule.title.clone(),
                        kind: "sigma",
                        severity: severity(rule.level.as_ref()),
                        category: "threat_detection".into(),
                        mode: Mode::Alert,
                        dedup_ms: 60 * 60_000,
                        daily_limit: 100,
                        scope: Scope::default(),
                    },
                ));
            }
        }
        Ok(SigmaRules {
            engine,
            rules,
            skipped,
        })
    }

    /// Every `*.yml` / `*.yaml` file of the directories (and their sub-directories), or the
    /// files named.
    pub fn load(paths: &[PathBuf]) -> Result<SigmaRules, SigmaError> {
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files)?;
        }
        files.sort();
        let texts = files
            .into_iter()
            .map(|f| {
                std::fs::read_to_string(&f)
                    .map(|t| (f.display().to_string(), t))
                    .map_err(|e| SigmaError::Read {
                        path: f.display().to_string(),
                        why: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        SigmaRules::from_yaml(&texts)
    }

    /// Skylight's rules for the loaded Sigma rules.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|(_, _, r)| r)
    }

    /// The Sigma rules that match the event, each as a finding.
    pub fn evaluate(&self, e: &Event) -> Vec<(String, Finding)> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let Some(event) = sigma_event(e) else {
            return Vec::new();
        };
        let json = rsigma_eval::JsonEvent::borrow(&event);
        let mut out = Vec::new();
        for result in self.engine.evaluate(&json) {
            if !result.is_detection() {
                continue;
            }
            let title = &result.header.rule_title;
            // By id when the rule has one: two rules may share a title.
            let found = match &result.header.rule_id {
                Some(id) => self.rules.iter().find(|(i, _, _)| i.as_ref() == Some(id)),
                None => self
                    .rules
                    .iter()
                    .find(|(i, t, _)| i.is_none() && t == title),
            };
            let Some((_, _, rule)) = found else {
                continue;
            };
            let subject = if e.user.is_empty() {
                "(no user)".to_owned()
            } else {
                e.user.clone()
            };
            out.push((
                rule.id.clone(),
                Finding {
                    subject: subject.clone(),
                    users: vec![subject],
                    hits: vec![Hit {
                        id: e.id().to_owned(),
                        ms: e.ms,
                        ip: e.row.ip.clone(),
                        country: e.row.country.clone(),
                    }],
                    facts: vec![format!(
                        "{} matched the Sigma rule `{title}`",
                        e.operation()
                    )],
                },
            ));
        }
        out
    }
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let read = |e: std::io::Error| SigmaError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(read)? {
            collect(&entry.map_err(read)?.path(), files)?;
        }
    } else if path.is_file() {
        if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            files.push(path.to_path_buf());
        }
    } else {
        return Err(read(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or directory",
        )));
    }
    Ok(())
}

/// The record as Sigma rules see it (see the module documentation); `None` for a record that is
/// not a JSON object.
pub fn sigma_event(e: &Event) -> Option<Value> {
    let mut record: Map<String, Value> = serde_json::from_slice(&e.raw).ok()?;
    // `Parameters.Name` as rules written for array-traversing backends mean it: any entry's
    // name (and `.Value`, any entry's value).
    let mut entries: Vec<(String, Vec<Value>)> = Vec::new();
    for field in skylight_normalize::FLATTENED {
        if let Some(v) = record.get_mut(field)
            && (v.is_array() || v.is_object())
        {
            if let Some(items) = v.as_array() {
                for part in ["Name", "Value"] {
                    let all: Vec<Value> = items
                        .iter()
                        .filter_map(|i| i.get(part).filter(|x| x.is_string()).cloned())
                        .collect();
                    if !all.is_empty() {
                        entries.push((format!("{field}.{part}"), all));
                    }
                }
            }
            *v = Value::String(v.to_string());
        }
    }
    for (k, v) in &e.activity().properties {
        record
            .entry(k.clone())
            .or_insert_with(|| Value::String(v.clone()));
    }
    // A parameter literally called `Name` keeps its value among the names.
    for (key, mut all) in entries {
        if let Some(own) = record.remove(&key) {
            all.push(own);
        }
        record.insert(key, Value::Array(all));
    }
    let text =
        |r: &Map<String, Value>, k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(w) = text(&record, "Workload") {
        record
            .entry("eventSource")
            .or_insert_with(|| Value::String(w));
    }
    let name = text(&record, "Name").or_else(|| text(&record, "Operation"));
    if let Some(n) = name {
        record
            .entry("eventName")
            .or_insert_with(|| Value::String(n));
    }
    let status = match e.row.result {
        // SigmaHQ's one Microsoft 365 rule that names a failure writes `Failed`.
        Some(Outcome::Failure) => "failed",
        _ => "success",
    };
    record
        .entry("status")
        .or_insert_with(|| Value::String(status.into()));
    Some(Value::Object(record))
}
