//! OAuth app policies: conditions on the OAuth app inventory (permission level, permissions
//! granted, how many users consented, the publisher's verification, how new the app is, the
//! review state, a misleading name), matched against every app after each directory round.
//! Each matching app raises one alert, once; `actions` names the app actions governance takes.
//!
//! ```toml
//! [[app_policy]]
//! id = "unverified-mail-apps"
//! name = "Unverified app with mail access"
//! severity = "high"
//! levels = ["high"]
//! permissions = ["Mail.ReadWrite", "Mail.Send"]
//! publisher_verified = false
//! review = ["unreviewed"]
//! actions = ["revoke-app"]
//! ```
//!
//! `misleading_name = true` matches apps whose name or publisher imitates Microsoft's: Latin
//! letters mixed with look-alike characters of other scripts (Cyrillic `о`, Greek `ο`, Roman
//! numeral `Ⅿ`, full-width or mathematical letters), or the exact name of a Microsoft app on an
//! app that is not Microsoft's, as Defender for Cloud Apps' "misleading OAuth app name" and
//! "misleading publisher name" detections do.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use skylight_model::{ActionKind, AlertDraft, AppReview, OAuthApp, PermissionLevel, Severity};
use skylight_model::{TargetKind, permission_level};

use crate::policy::{PolicyError, check_id_and_category};

/// An OAuth app policy as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicyConfig {
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
    /// Risk category (default `threat_detection`).
    #[serde(default = "threat_detection")]
    pub category: String,
    /// The Defender for Cloud Apps template it follows, for built-ins.
    #[serde(default)]
    pub template: Option<String>,
    /// Off policies are kept and not run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Any of these permission levels (`high`, `medium`, `low`).
    #[serde(default)]
    pub levels: Vec<String>,
    /// Holds at least one of these scopes or app roles (case-insensitive).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Holds an application permission (an app role: no user needed) of at least this level.
    #[serde(default)]
    pub application_permission_level: Option<String>,
    /// Consented to by at least this many users (an admin consent for everyone counts as all).
    #[serde(default)]
    pub min_consented_users: Option<u32>,
    /// `true`: an admin consented for the whole tenant; `false`: nobody did.
    #[serde(default)]
    pub all_users: Option<bool>,
    /// `false`: the publisher is not verified; `true`: it is.
    #[serde(default)]
    pub publisher_verified: Option<bool>,
    /// First consented to within this many days.
    #[serde(default)]
    pub new_within_days: Option<u32>,
    /// Any of these review states (`unreviewed`, `approved`, `banned`).
    #[serde(default)]
    pub review: Vec<String>,
    /// The name contains this (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// The name or publisher imitates Microsoft's.
    #[serde(default)]
    pub misleading_name: bool,
    /// App actions governance takes on each matching app (`revoke-app`, `ban-app`).
    #[serde(default)]
    pub actions: Vec<String>,
}

fn threat_detection() -> String {
    "threat_detection".into()
}

fn yes() -> bool {
    true
}

/// An OAuth app policy, checked.
#[derive(Debug, Clone)]
pub struct AppPolicy {
    /// As written.
    pub config: AppPolicyConfig,
    levels: Vec<PermissionLevel>,
    application_level: Option<PermissionLevel>,
    review: Vec<AppReview>,
    /// Its actions, parsed.
    pub actions: Vec<ActionKind>,
}

/// The alert key of an app policy's match: `app|POLICY|TENANT|SERVICE-PRINCIPAL-ID`; the app is
/// its last part, which governance reads back with [`app_of_key`].
pub fn alert_key(policy: &str, app: &OAuthApp) -> String {
    format!("app|{policy}|{}|{}", app.tenant, app.id)
}

/// The service principal id of an app alert's key.
pub fn app_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("app|")
        .and_then(|rest| rest.rsplit('|').next())
}

fn parse_level(id: &str, s: &str) -> Result<PermissionLevel, PolicyError> {
    PermissionLevel::parse(s).ok_or_else(|| PolicyError::Invalid {
        id: id.to_owned(),
        why: format!("unknown permission level `{s}`; levels: high, medium, low"),
    })
}

impl AppPolicy {
    /// Checks a policy.
    pub fn new(config: AppPolicyConfig) -> Result<AppPolicy, PolicyError> {
        let invalid = |why: String| PolicyError::Invalid {
            id: config.id.clone(),
            why,
        };
        check_id_and_category(&config.id, &config.category).map_err(invalid)?;
        let levels = config
            .levels
            .iter()
            .map(|l| parse_level(&config.id, l))
            .collect::<Result<Vec<_>, _>>()?;
        let application_level = config
            .application_permission_level
            .as_deref()
            .map(|l| parse_level(&config.id, l))
            .transpose()?;
        let review = config
            .review
            .iter()
            .map(|r| match r.trim().to_ascii_lowercase().as_str() {
                "unreviewed" | "approved" | "banned" => Ok(AppReview::parse(r)),
                _ => Err(invalid(format!(
                    "unknown review state `{r}`; states: unreviewed, approved, banned"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let actions = config
            .actions
            .iter()
            .map(|a| match ActionKind::parse(a) {
                Some(k) if k.target() == TargetKind::App && k != ActionKind::ApproveApp => Ok(k),
                _ => Err(invalid(format!(
                    "`{a}` is not an app action a policy can take; app actions: revoke-app, ban-app"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let c = &config;
        if levels.is_empty()
            && c.permissions.is_empty()
            && application_level.is_none()
            && c.min_consented_users.is_none()
            && c.all_users.is_none()
            && c.publisher_verified.is_none()
            && c.new_within_days.is_none()
            && review.is_empty()
            && c.name_contains.is_none()
            && !c.misleading_name
        {
            return Err(invalid(
                "an app policy needs at least one condition (every app would match)".into(),
            ));
        }
        Ok(AppPolicy {
            config,
            levels,
            application_level,
            review,
            actions,
        })
    }

    /// Why the app matches, one fact per condition; `None` when it does not. Microsoft's own
    /// apps never match: nothing can be done about them, and they are not a third party.
    pub fn matches(&self, app: &OAuthApp, now: DateTime<Utc>) -> Option<Vec<String>> {
        if app.first_party {
            return None;
        }
        let c = &self.config;
        let mut facts = Vec::new();
        if !self.levels.is_empty() {
            if !self.levels.contains(&app.level) {
                return None;
            }
            facts.push(format!("permission level {}", app.level.as_str()));
        }
        if !c.permissions.is_empty() {
            let held: Vec<String> = app
                .permissions()
                .into_iter()
                .filter(|p| c.permissions.iter().any(|w| w.eq_ignore_ascii_case(p)))
                .collect();
            if held.is_empty() {
                return None;
            }
            facts.push(format!("granted {}", held.join(", ")));
        }
        if let Some(min) = self.application_level {
            let held: Vec<&str> = app
                .app_roles
                .iter()
                .filter(|r| permission_level(&r.permission, true) >= min)
                .map(|r| r.permission.as_str())
                .collect();
            if held.is_empty() {
                return None;
            }
            facts.push(format!(
                "application permissions (no user needed): {}",
                held.join(", ")
            ));
        }
        if let Some(min) = c.min_consented_users {
            if !app.all_users && app.consented_users < min {
                return None;
            }
            facts.push(if app.all_users {
                "consented for every user by an admin".to_owned()
            } else {
                format!("consented to by {} users", app.consented_users)
            });
        }
        if let Some(all) = c.all_users {
            if app.all_users != all {
                return None;
            }
            facts.push(if all {
                "an admin consented for the whole tenant".to_owned()
            } else {
                "no admin consent for the whole tenant".to_owned()
            });
        }
        if let Some(verified) = c.publisher_verified {
            if app.verified_publisher.is_some() != verified {
                return None;
            }
            facts.push(match (&app.verified_publisher, &app.publisher) {
                (Some(v), _) => format!("verified publisher {v}"),
                (None, Some(p)) => format!("publisher {p} is not verified"),
                (None, None) => "no publisher, not verified".to_owned(),
            });
        }
        if let Some(days) = c.new_within_days {
            let first = app.first_consent?;
            if first < now - Duration::days(i64::from(days)) {
                return None;
            }
            facts.push(format!(
                "first consented to {}",
                first.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        if !self.review.is_empty() {
            if !self.review.contains(&app.review) {
                return None;
            }
            facts.push(format!("review: {}", app.review.as_str()));
        }
        if let Some(n) = &c.name_contains {
            if !app.name.to_lowercase().contains(&n.to_lowercase()) {
                return None;
            }
            facts.push(format!("name contains \"{n}\""));
        }
        if c.misleading_name {
            let by_name =
                misleading(&app.name).map(|why| format!("the name \"{}\" {why}", app.name));
            let by_publisher = app
                .publisher
                .as_deref()
                .and_then(|p| misleading(p).map(|why| format!("the publisher \"{p}\" {why}")));
            if by_name.is_none() && by_publisher.is_none() {
                return None;
            }
            facts.extend(by_name);
            facts.extend(by_publisher);
        }
        Some(facts)
    }

    /// The alert of a matching app.
    pub fn alert(&self, app: &OAuthApp, facts: Vec<String>, now: DateTime<Utc>) -> AlertDraft {
        let first = app.first_consent.unwrap_or(now);
        AlertDraft {
            key: alert_key(&self.config.id, app),
            tenant: app.tenant.clone(),
            policy: self.config.id.clone(),
            kind: "app".into(),
            title: format!("{}: {}", self.config.name, app.name),
            severity: self.config.severity,
            category: self.config.category.clone(),
            signal_only: false,
            users: Vec::new(),
            ips: Vec::new(),
            countries: Vec::new(),
            activity_ids: Vec::new(),
            activity_count: 0,
            facts,
            first,
            last: app.last_consent.unwrap_or(first),
        }
    }
}

/// Microsoft app names a third party has no business using as they are.
const MICROSOFT_NAMES: &[&str] = &[
    "microsoft",
    "microsoft 365",
    "office 365",
    "microsoft office",
    "office",
    "outlook",
    "microsoft outlook",
    "microsoft teams",
    "teams",
    "onedrive",
    "microsoft onedrive",
    "sharepoint",
    "microsoft sharepoint",
    "exchange online",
    "microsoft exchange",
    "azure",
    "microsoft azure",
    "azure portal",
    "microsoft graph",
    "microsoft authenticator",
    "microsoft defender",
    "microsoft entra",
    "windows",
    "windows security",
];

/// Why a name imitates Microsoft's, if it does.
fn misleading(name: &str) -> Option<String> {
    let mut lookalikes: Vec<String> = Vec::new();
    let mut folded = String::new();
    // A word mixing Latin letters with look-alikes (`Micrоsoft`) is a disguise; a word wholly
    // in another script is a foreign word, unless its letters exist only to look Latin.
    let mut disguised = false;
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut latin = false;
        let mut alike = false;
        let mut symbol_only = false;
        for ch in word.chars() {
            if ch.is_ascii_alphabetic() {
                latin = true;
                folded.push(ch.to_ascii_lowercase());
            } else if let Some((ascii, script)) = lookalike(ch) {
                alike = true;
                symbol_only |= !matches!(script, "Cyrillic" | "Greek");
                let seen = format!("'{ch}' (U+{:04X}, {script})", ch as u32);
                if !lookalikes.contains(&seen) {
                    lookalikes.push(seen);
                }
                folded.push(ascii);
            } else {
                folded.extend(ch.to_lowercase());
            }
        }
        disguised |= alike && (latin || symbol_only);
        folded.push(' ');
    }
    let folded = folded.trim_end();
    if disguised {
        return Some(format!(
            "mixes Latin letters with look-alike characters: {} (reads as \"{folded}\")",
            lookalikes.join(", ")
        ));
    }
    MICROSOFT_NAMES.contains(&folded).then(|| {
        if lookalikes.is_empty() {
            "is the name of a Microsoft app, on an app that is not Microsoft's".to_owned()
        } else {
            format!(
                "spells a Microsoft app's name (\"{folded}\") in look-alike characters: {}",
                lookalikes.join(", ")
            )
        }
    })
}

/// The Latin letter a character is drawn to look like, and its script.
fn lookalike(ch: char) -> Option<(char, &'static str)> {
    let c = ch as u32;
    // Full-width Latin letters.
    if (0xFF21..=0xFF3A).contains(&c) || (0xFF41..=0xFF5A).contains(&c) {
        let base = if c <= 0xFF3A { c - 0xFF21 } else { c - 0xFF41 };
        return char::from_u32(u32::from(b'a') + base).map(|a| (a, "full-width"));
    }
    // Mathematical alphanumeric letters: 13 alphabets of 52 letters (A–Z, a–z) from U+1D400.
    if (0x1D400..=0x1D6A3).contains(&c) {
        let base = (c - 0x1D400) % 52 % 26;
        return char::from_u32(u32::from(b'a') + base).map(|a| (a, "mathematical"));
    }
    let (ascii, script) = match ch {
        // Cyrillic.
        'а' | 'А' => ('a', "Cyrillic"),
        'в' | 'В' => ('b', "Cyrillic"),
        'с' | 'С' => ('c', "Cyrillic"),
        'ԁ' => ('d', "Cyrillic"),
        'е' | 'Е' | 'ё' => ('e', "Cyrillic"),
        'һ' | 'Н' => ('h', "Cyrillic"),
        'і' | 'І' | 'ӏ' | 'Ӏ' => ('i', "Cyrillic"),
        'ј' | 'Ј' => ('j', "Cyrillic"),
        'К' | 'к' => ('k', "Cyrillic"),
        'М' | 'м' => ('m', "Cyrillic"),
        'о' | 'О' => ('o', "Cyrillic"),
        'р' | 'Р' => ('p', "Cyrillic"),
        'ԛ' => ('q', "Cyrillic"),
        'ѕ' | 'Ѕ' => ('s', "Cyrillic"),
        'Т' | 'т' => ('t', "Cyrillic"),
        'у' | 'У' | 'Ү' => ('y', "Cyrillic"),
        'х' | 'Х' => ('x', "Cyrillic"),
        'ԝ' | 'Ԝ' => ('w', "Cyrillic"),
        // Greek.
        'α' | 'Α' => ('a', "Greek"),
        'Β' | 'β' => ('b', "Greek"),
        'ε' | 'Ε' => ('e', "Greek"),
        'Η' => ('h', "Greek"),
        'ι' | 'Ι' => ('i', "Greek"),
        'κ' | 'Κ' => ('k', "Greek"),
        'Μ' => ('m', "Greek"),
        'ν' | 'Ν' => ('n', "Greek"),
        'ο' | 'Ο' => ('o', "Greek"),
        'ρ' | 'Ρ' => ('p', "Greek"),
        'τ' | 'Τ' => ('t', "Greek"),
        'υ' | 'Υ' => ('y', "Greek"),
        'χ' | 'Χ' => ('x', "Greek"),
        'Ζ' => ('z', "Greek"),
        // Roman numerals and letter-like symbols.
        'Ⅰ' | 'ⅰ' => ('i', "Roman numeral"),
        'Ⅴ' | 'ⅴ' => ('v', "Roman numeral"),
        'Ⅹ' | 'ⅹ' => ('x', "Roman numeral"),
        'Ⅼ' | 'ⅼ' => ('l', "Roman numeral"),
        'Ⅽ' | 'ⅽ' => ('c', "Roman numeral"),
        'Ⅾ' | 'ⅾ' => ('d', "Roman numeral"),
        'Ⅿ' | 'ⅿ' => ('m', "Roman numeral"),
        'ℳ' => ('m', "letter-like"),
        'ℴ' => ('o', "letter-like"),
        'ℯ' => ('e', "letter-like"),
        'ℊ' => ('g', "letter-like"),
        'ℎ' => ('h', "letter-like"),
        'ℓ' => ('l', "letter-like"),
        'ℂ' => ('c', "letter-like"),
        'ℕ' => ('n', "letter-like"),
        _ => return None,
    };
    Some((ascii, script))
}

/// Reads the `[[app_policy]]` entries of a policy file (TOML, or YAML `app_policy:`).
pub fn parse_app_policies(text: &str, name: &str) -> Result<Vec<AppPolicy>, PolicyError> {
    let file = crate::policy::read_policy_file(text, name)?;
    file.app_policy.into_iter().map(AppPolicy::new).collect()
}

/// The built-in app policies (on by default; `[detection] disable` turns one off).
pub fn built_in() -> Vec<AppPolicy> {
    // Checked by a test: the file always parses.
    parse_app_policies(include_str!("../templates/built-in.toml"), "built-in.toml")
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
