//! Findings become alerts: one alert per incident, not one per event. A finding joins the open
//! incident of the same rule and subject when it lies within the rule's de-duplication period of
//! it; otherwise it opens a new incident, unless the rule's daily alert limit is reached.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use skylight_model::AlertDraft;

use crate::rule::{Mode, Rule};

/// Activity Ids kept per alert; the count goes on beyond.
pub const MAX_IDS: usize = 500;
/// Activity Ids remembered per incident for counting; beyond, only each finding's own activity
/// counts.
pub const MAX_SEEN: usize = 5_000;
/// Facts kept per alert.
const MAX_FACTS: usize = 20;

/// One matched activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Record Id.
    pub id: String,
    /// Time (ms).
    pub ms: i64,
    /// Client address.
    pub ip: Option<String>,
    /// Its country.
    pub country: Option<String>,
}

/// What a rule found: the activities, the people and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Who or what the incident is about (a user, an address): incidents are per subject.
    pub subject: String,
    /// Users involved.
    pub users: Vec<String>,
    /// The activities.
    pub hits: Vec<Hit>,
    /// Why, in words a person can check.
    pub facts: Vec<String>,
}

/// An open incident, kept in detection state while more may join it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The alert as it stands.
    pub alert: AlertDraft,
    /// First and last activity (ms).
    pub first_ms: i64,
    /// Last activity (ms).
    pub last_ms: i64,
    /// Ids of the activities counted (up to [`MAX_SEEN`]): a burst re-sends its span with each
    /// new activity, and each must count once.
    #[serde(default)]
    pub seen: std::collections::HashSet<String>,
    /// How many facts came with the first finding: the facts are those, then the latest
    /// finding's (a growing burst restates its count; only the latest count is worth showing).
    #[serde(default)]
    pub base_facts: usize,
}

fn push_unique(list: &mut Vec<String>, v: &str, cap: usize) -> bool {
    if list.iter().any(|x| x == v) {
        return false;
    }
    if list.len() < cap {
        list.push(v.to_owned());
    }
    true
}

/// Per-tenant counters of new alerts per rule and UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCounts {
    /// `rule|day` → alerts raised.
    pub raised: BTreeMap<String, u32>,
    /// `rule|day` → findings dropped over the limit.
    pub dropped: BTreeMap<String, u32>,
    /// Incidents opened so far: a sequence number in incident keys, so that no two incidents
    /// (and no two alerts) ever share one.
    #[serde(default)]
    pub opened: u64,
}

/// What happened to a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It joined (or opened) the incident with this state key.
    Incident(String),
    /// The rule's daily limit was reached.
    OverLimit,
}

/// A subject as it appears in keys: `|` (the separator) and `%` escaped.
fn key_part(s: &str) -> String {
    s.replace('%', "%25").replace('|', "%7C")
}

/// Adds a finding (made while evaluating the activity `event_id`) to the incidents; returns the
/// incident's key or that it was over the limit.
pub fn raise(
    incidents: &mut BTreeMap<String, Incident>,
    daily: &mut DailyCounts,
    rule: &Rule,
    tenant: &str,
    f: Finding,
    event_id: &str,
) -> Outcome {
    let lo = f.hits.iter().map(|h| h.ms).min().unwrap_or(0);
    let hi = f.hits.iter().map(|h| h.ms).max().unwrap_or(0);
    let subject_key = format!("{}|{}|{}", rule.id, key_part(tenant), key_part(&f.subject));
    // The open incident of this subject, if the finding falls within its reach.
    let open = incidents
        .range(format!("{subject_key}|")..format!("{subject_key}|~"))
        .filter(|(_, i)| lo <= i.last_ms + rule.dedup_ms && hi >= i.first_ms - rule.dedup_ms)
        .map(|(k, _)| k.clone())
        .next_back();
    let key = match open {
        Some(k) => k,
        None => {
            let day = format!("{}|{}", rule.id, hi.div_euclid(86_400_000));
            let n = daily.raised.entry(day.clone()).or_default();
            if *n >= rule.daily_limit {
                *daily.dropped.entry(day).or_default() += 1;
                return Outcome::OverLimit;
            }
            *n += 1;
            daily.opened += 1;
            // Zero-padded so that keys of one subject sort by time.
            let key = format!("{subject_key}|{:020}|{}", lo.max(0), daily.opened);
            let at = DateTime::from_timestamp_millis(lo).unwrap_or_default();
            incidents.insert(
                key.clone(),
                Incident {
                    alert: AlertDraft {
                        key: key.clone(),
                        tenant: tenant.to_owned(),
                        policy: rule.id.clone(),
                        kind: rule.kind.to_owned(),
                        title: String::new(),
                        severity: rule.severity,
                        category: rule.category.clone(),
                        signal_only: rule.mode == Mode::Signal,
                        users: Vec::new(),
                        ips: Vec::new(),
                        countries: Vec::new(),
                        activity_ids: Vec::new(),
                        activity_count: 0,
                        facts: Vec::new(),
                        first: at,
                        last: at,
                    },
                    first_ms: lo,
                    last_ms: hi,
                    seen: Default::default(),
                    base_facts: f.facts.len().min(MAX_FACTS),
                },
            );
            key
        }
    };
    if let Some(inc) = incidents.get_mut(&key) {
        let a = &mut inc.alert;
        for u in &f.users {
            push_unique(&mut a.users, &u.to_ascii_lowercase(), 100);
        }
        for h in &f.hits {
            let new = if inc.seen.len() < MAX_SEEN {
                inc.seen.insert(h.id.clone())
            } else {
                h.id == event_id && !inc.seen.contains(&h.id)
            };
            if new {
                a.activity_count += 1;
                if a.activity_ids.len() < MAX_IDS {
                    a.activity_ids.push(h.id.clone());
                }
            }
            if let Some(ip) = &h.ip {
                push_unique(&mut a.ips, ip, 50);
            }
            if let Some(c) = &h.country {
                push_unique(&mut a.countries, c, 50);
            }
        }
        a.facts.truncate(inc.base_facts);
        for fact in &f.facts {
            push_unique(&mut a.facts, fact, MAX_FACTS);
        }
        inc.first_ms = inc.first_ms.min(lo);
        inc.last_ms = inc.last_ms.max(hi);
        a.first = DateTime::from_timestamp_millis(inc.first_ms).unwrap_or_default();
        a.last = DateTime::from_timestamp_millis(inc.last_ms).unwrap_or_default();
        a.title = match a.users.as_slice() {
            [] => format!("{}: {}", rule.title, f.subject),
            [one] => format!("{}: {one}", rule.title),
            [one, rest @ ..] => format!("{}: {one} and {} more", rule.title, rest.len()),
        };
    }
    Outcome::Incident(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Scope;
    use skylight_model::Severity;

    fn rule() -> Rule {
        Rule {
            id: "r".into(),
            title: "R".into(),
            kind: "anomaly",
            severity: Severity::High,
            category: "threat_detection".into(),
            mode: Mode::Alert,
            dedup_ms: 60_000,
            daily_limit: 2,
            scope: Scope::default(),
        }
    }

    fn finding(ms: i64, id: &str) -> Finding {
        Finding {
            subject: "alice".into(),
            users: vec!["Alice@Contoso.com".into()],
            hits: vec![Hit {
                id: id.into(),
                ms,
                ip: Some("192.0.2.1".into()),
                country: Some("FR".into()),
            }],
            facts: vec!["why".into()],
        }
    }

    #[test]
    fn findings_close_together_are_one_alert_and_far_apart_are_two() {
        let (mut inc, mut daily) = (BTreeMap::new(), DailyCounts::default());
        let r = rule();
        let a = raise(&mut inc, &mut daily, &r, "t", finding(0, "1"), "1");
        let b = raise(&mut inc, &mut daily, &r, "t", finding(50_000, "2"), "2");
        // Late and out of order, but within reach of the incident's start.
        let c = raise(&mut inc, &mut daily, &r, "t", finding(-30_000, "3"), "3");
        assert_eq!(a, b);
        assert_eq!(a, c);
        let d = raise(&mut inc, &mut daily, &r, "t", finding(500_000, "4"), "4");
        assert_ne!(a, d);
        let Outcome::Incident(k) = a else {
            panic!("limit")
        };
        let alert = &inc[&k].alert;
        assert_eq!(alert.activity_count, 3);
        assert_eq!(alert.users, vec!["alice@contoso.com".to_string()]);
        assert_eq!(alert.facts, vec!["why".to_string()]);
        // The same activity again does not count twice.
        raise(&mut inc, &mut daily, &r, "t", finding(0, "1"), "1");
        assert_eq!(inc[&k].alert.activity_count, 3);
    }

    #[test]
    fn the_daily_limit_drops_new_incidents_and_counts_them() {
        let (mut inc, mut daily) = (BTreeMap::new(), DailyCounts::default());
        let r = rule();
        for i in 0..4 {
            let mut f = finding(i * 1_000, &i.to_string());
            f.subject = format!("user{i}");
            let out = raise(&mut inc, &mut daily, &r, "t", f, "x");
            assert_eq!(out == Outcome::OverLimit, i >= 2);
        }
        assert_eq!(daily.dropped.values().sum::<u32>(), 2);
    }
}
