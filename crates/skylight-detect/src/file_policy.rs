//! File policies: conditions on the file inventory's metadata (name, extension, owner, access
//! level, outside domains, collaborators, folder), matched against every file as the files
//! component syncs it. Each matching file raises one alert, once; `actions` names the file
//! actions governance takes on it.
//!
//! ```toml
//! [[file_policy]]
//! id = "payroll-shared-outside"
//! name = "Payroll files shared outside"
//! severity = "high"
//! access = ["external", "public"]
//! name_contains = "payroll"
//! actions = ["remove-external-users"]
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skylight_model::{AccessLevel, ActionKind, AlertDraft, FileItem, Severity, TargetKind};

use crate::policy::{PolicyError, check_id_and_category};

/// A file policy as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicyConfig {
    /// Stable id.
    pub id: String,
    /// Title of its alerts.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Severity of its alerts.
    #[serde(default)]
    pub severity: Severity,
    /// Risk category (default `sharing_control`).
    #[serde(default = "sharing_control")]
    pub category: String,
    /// Off policies are kept and not run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Any of these access levels (any level when empty).
    #[serde(default)]
    pub access: Vec<String>,
    /// The name contains this (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// One of these extensions (without the dot).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Owned by one of these (mail or UPN).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Shared with one of these outside domains; `*` means any outside domain.
    #[serde(default)]
    pub external_domains: Vec<String>,
    /// Shared with one of these people (mail).
    #[serde(default)]
    pub collaborators: Vec<String>,
    /// Below this folder path (`/Finance`).
    #[serde(default)]
    pub folder: Option<String>,
    /// File actions governance takes on each matching file.
    #[serde(default)]
    pub actions: Vec<String>,
}

fn sharing_control() -> String {
    "sharing_control".into()
}

fn yes() -> bool {
    true
}

/// A file policy, checked.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    /// As written.
    pub config: FilePolicyConfig,
    access: Vec<AccessLevel>,
    /// Its actions, parsed.
    pub actions: Vec<ActionKind>,
}

/// The alert key of a file policy's match: `file|POLICY|TENANT|DRIVE/ITEM`; the file is its last
/// part, which governance reads back with [`file_of_key`].
pub fn alert_key(policy: &str, tenant: &str, file: &FileItem) -> String {
    format!("file|{policy}|{tenant}|{}/{}", file.drive_id, file.id)
}

/// The `DRIVE/ITEM` of a file alert's key.
pub fn file_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("file|")
        .and_then(|rest| rest.rsplit('|').next())
}

impl FilePolicy {
    /// Checks a policy.
    pub fn new(config: FilePolicyConfig) -> Result<FilePolicy, PolicyError> {
        let invalid = |why: String| PolicyError::Invalid {
            id: config.id.clone(),
            why,
        };
        check_id_and_category(&config.id, &config.category).map_err(invalid)?;
        let access = config
            .access
            .iter()
            .map(|a| {
                AccessLevel::parse(a).ok_or_else(|| {
                    invalid(format!(
                        "unknown access level `{a}`; levels: private, internal, external, public"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let actions = config
            .actions
            .iter()
            .map(|a| match ActionKind::parse(a) {
                Some(k) if k.target() == TargetKind::File => Ok(k),
                _ => Err(invalid(format!(
                    "`{a}` is not a file action; file actions: {}",
                    ActionKind::ALL
                        .iter()
                        .filter(|k| k.target() == TargetKind::File)
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let c = &config;
        if access.is_empty()
            && c.name_contains.is_none()
            && c.extensions.is_empty()
            && c.owners.is_empty()
            && c.external_domains.is_empty()
            && c.collaborators.is_empty()
            && c.folder.is_none()
        {
            return Err(invalid(
                "a file policy needs at least one condition (every file would match)".into(),
            ));
        }
        Ok(FilePolicy {
            config,
            access,
            actions,
        })
    }

    /// Why the file matches, one fact per condition; `None` when it does not.
    pub fn matches(&self, f: &FileItem) -> Option<Vec<String>> {
        let c = &self.config;
        let mut facts = Vec::new();
        if !self.access.is_empty() {
            if !self.access.contains(&f.access) {
                return None;
            }
            facts.push(format!("access level {}", f.access.as_str()));
        }
        if let Some(n) = &c.name_contains {
            if !f
                .name
                .to_ascii_lowercase()
                .contains(&n.to_ascii_lowercase())
            {
                return None;
            }
            facts.push(format!("name contains \"{n}\""));
        }
        if !c.extensions.is_empty() {
            let ext = f.extension()?;
            if !c
                .extensions
                .iter()
                .any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(&ext))
            {
                return None;
            }
            facts.push(format!("a .{ext} file"));
        }
        if !c.owners.is_empty() {
            let owner = f.owner.as_deref()?;
            if !c.owners.iter().any(|o| o.eq_ignore_ascii_case(owner)) {
                return None;
            }
            facts.push(format!("owned by {owner}"));
        }
        if !c.external_domains.is_empty() {
            let hit: Vec<&String> = f
                .external_domains
                .iter()
                .filter(|d| {
                    c.external_domains
                        .iter()
                        .any(|w| w == "*" || w.eq_ignore_ascii_case(d))
                })
                .collect();
            if hit.is_empty() {
                return None;
            }
            facts.push(format!(
                "shared with {}",
                hit.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !c.collaborators.is_empty() {
            let who = f.collaborators.iter().find(|x| {
                c.collaborators
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(&x.who))
            })?;
            facts.push(format!("shared with {}", who.who));
        }
        if let Some(folder) = &c.folder {
            let prefix = format!("{}/", folder.trim_end_matches('/'));
            if !f
                .path
                .to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
            {
                return None;
            }
            facts.push(format!("in {folder}"));
        }
        Some(facts)
    }

    /// The alert of a matching file.
    pub fn alert(&self, f: &FileItem, facts: Vec<String>, now: DateTime<Utc>) -> AlertDraft {
        let when = f.modified.unwrap_or(now);
        AlertDraft {
            key: alert_key(&self.config.id, &f.tenant, f),
            tenant: f.tenant.clone(),
            policy: self.config.id.clone(),
            kind: "file".into(),
            title: format!("{}: {}{}", self.config.name, f.library_path, f.path),
            severity: self.config.severity,
            category: self.config.category.clone(),
            signal_only: false,
            users: f.owner.iter().map(|o| o.to_ascii_lowercase()).collect(),
            ips: Vec::new(),
            countries: Vec::new(),
            activity_ids: Vec::new(),
            activity_count: 0,
            facts,
            first: when,
            last: when,
        }
    }
}

/// Reads the `[[file_policy]]` entries of a policy file (TOML, or YAML `file_policy:`).
pub fn parse_file_policies(text: &str, name: &str) -> Result<Vec<FilePolicy>, PolicyError> {
    let file = crate::policy::read_policy_file(text, name)?;
    file.file_policy.into_iter().map(FilePolicy::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylight_model::Collaborator;

    fn file(name: &str, access: AccessLevel, domains: &[&str]) -> FileItem {
        FileItem {
            tenant: "t".into(),
            drive_id: "d".into(),
            id: "i".into(),
            name: name.into(),
            path: format!("/Finance/{name}"),
            parent_id: None,
            folder: false,
            size: 1,
            modified: None,
            owner: Some("alice@contoso.com".into()),
            web_url: None,
            library: "Documents".into(),
            library_path: "Shared Documents".into(),
            drive_type: "documentLibrary".into(),
            site_url: None,
            access,
            collaborators: vec![Collaborator {
                permission_id: "p".into(),
                kind: "user".into(),
                who: "eve@fabrikam.com".into(),
                roles: vec!["read".into()],
                external: true,
                inherited: false,
            }],
            external_domains: domains.iter().map(|d| d.to_string()).collect(),
            synced: Utc::now(),
        }
    }

    #[test]
    fn conditions_all_hold_and_say_why() {
        let text = "[[file_policy]]\nid = \"p\"\nname = \"Payroll outside\"\naccess = [\"external\", \"public\"]\nname_contains = \"PAYROLL\"\nextensions = [\"xlsx\"]\nexternal_domains = [\"*\"]\nfolder = \"/finance\"\nactions = [\"remove-external-users\"]\n";
        let p = parse_file_policies(text, "p.toml").unwrap_or_default();
        assert_eq!(p.len(), 1);
        let hit = p[0].matches(&file(
            "Q3 payroll.xlsx",
            AccessLevel::External,
            &["fabrikam.com"],
        ));
        assert_eq!(
            hit,
            Some(vec![
                "access level external".to_owned(),
                "name contains \"PAYROLL\"".to_owned(),
                "a .xlsx file".to_owned(),
                "shared with fabrikam.com".to_owned(),
                "in /finance".to_owned()
            ])
        );
        assert!(
            p[0].matches(&file("Q3 payroll.xlsx", AccessLevel::Internal, &[]))
                .is_none()
        );
        assert!(
            p[0].matches(&file("Q3 payroll.docx", AccessLevel::External, &["x.org"]))
                .is_none()
        );
        let key = alert_key("p", "t", &file("a", AccessLevel::Public, &[]));
        assert_eq!(file_of_key(&key), Some("d/i"));
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            "[[file_policy]]\nid = \"p\"\nname = \"n\"\n",
            "[[file_policy]]\nid = \"p\"\nname = \"n\"\naccess = [\"secret\"]\n",
            "[[file_policy]]\nid = \"p\"\nname = \"n\"\naccess = [\"public\"]\nactions = [\"suspend-user\"]\n",
        ] {
            assert!(parse_file_policies(bad, "p.toml").is_err(), "{bad}");
        }
    }
}
