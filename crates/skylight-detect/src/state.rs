//! Detection state: per-user baselines and windows, per-address windows, per-tenant facts and
//! the open incidents. Saved entry by entry (only what changed) with the alerts and progress it
//! led to, so a restart resumes exactly where the last commit left off.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::incident::{DailyCounts, Incident};
use crate::packed::Packed;
use crate::window::Window;

/// One located activity of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Time (ms).
    pub ms: i64,
    /// Country code.
    pub country: Packed,
    /// Client address.
    pub ip: Packed,
    /// Record Id.
    pub id: Packed,
    /// Corporate, VPN or cloud-provider address: never one end of impossible travel.
    pub safe: bool,
}

/// When a country was seen for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// First time (ms).
    pub first_ms: i64,
    /// Last time (ms).
    pub last_ms: i64,
    /// Activities.
    pub n: u64,
}

/// Why a user counts as disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    /// Since (ms).
    pub ms: i64,
    /// How Skylight knows.
    pub how: String,
}

/// A recent successful activity (kept briefly, for markers that arrive late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// Time (ms).
    pub ms: i64,
    /// Record Id.
    pub id: Packed,
    /// Client address.
    pub ip: Option<Packed>,
    /// Country.
    pub country: Option<Packed>,
}

/// A user's usual burst size for one rate rule: the busiest window of past bursts that raised
/// nothing. The burst under way counts only once it is over, so a burst cannot raise its own bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    /// Busiest past burst.
    pub peak: u32,
    /// Busiest window of the burst under way.
    pub current: u32,
    /// Last activity of the burst under way (ms).
    pub current_end_ms: i64,
}

/// Everything kept about one user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    /// First activity seen (ms): the user's baseline learns from then on.
    pub first_ms: Option<i64>,
    /// Last activity seen (ms).
    #[serde(default)]
    pub last_ms: Option<i64>,
    /// Countries seen.
    pub countries: BTreeMap<String, Seen>,
    /// Recent located activities, by time.
    pub places: Vec<Place>,
    /// Sliding windows, per rule.
    pub windows: BTreeMap<String, Window>,
    /// Per rate rule, the user's normal peak.
    pub peaks: BTreeMap<String, Peak>,
    /// Administrative operations performed → last time (ms).
    pub admin_ops: BTreeMap<String, i64>,
    /// Countries administrative activity came from → first time (ms).
    #[serde(default)]
    pub admin_countries: BTreeMap<String, i64>,
    /// The account is disabled or deleted.
    pub disabled: Option<Disabled>,
    /// Recent successful activities.
    pub recent: Vec<Recent>,
}

/// Everything kept about one tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantState {
    /// First activity seen (ms).
    pub first_ms: Option<i64>,
    /// Mail domains of the tenant's own users (what "internal" means for forwarding).
    pub domains: BTreeSet<String>,
    /// Alerts per rule and day.
    pub daily: DailyCounts,
    /// Service principals (app ids and object ids, lowercase) added recently → when (ms): an app
    /// new to the tenant.
    #[serde(default)]
    pub new_apps: BTreeMap<String, i64>,
    /// Each id of a recently added service principal → the one id its incidents are keyed by
    /// (the records of one consent name the app by different ids).
    #[serde(default)]
    pub new_app_subjects: BTreeMap<String, String>,
}

/// All detection state, and which entries changed since the last save.
#[derive(Debug, Default)]
pub struct State {
    /// `tenant|user` → state.
    pub users: HashMap<String, UserState>,
    /// `tenant|address` → windows.
    pub addresses: HashMap<String, BTreeMap<String, Window>>,
    /// Tenant → state.
    pub tenants: HashMap<String, TenantState>,
    /// Open incidents by key.
    pub incidents: BTreeMap<String, Incident>,
    /// Entries changed since the last save (`u|…`, `a|…`, `t|…`, `i|…`).
    pub dirty: BTreeSet<String>,
    /// Incidents changed since the last save.
    pub touched: BTreeSet<String>,
    /// Incident entries to delete at the next save.
    pub closed: BTreeSet<String>,
}

/// Inserts `item` at `pos` into a list kept oldest first and at most `max` long, dropping the
/// oldest entries (the item itself when it would be among them). Room is made before the insert,
/// so the list never grows past `max`: inserting into a full `Vec` would double what it holds
/// in memory for every user, for good.
pub fn insert_newest<T>(list: &mut Vec<T>, pos: usize, item: T, max: usize) {
    let pos = pos.min(list.len());
    let excess = (list.len() + 1).saturating_sub(max);
    if pos < excess {
        list.drain(..excess - 1);
    } else {
        list.drain(..excess);
        list.insert(pos - excess, item);
    }
}

/// Why saved state could not be read.
#[derive(Debug, thiserror::Error)]
#[error("detection state entry `{key}` cannot be read: {why}")]
pub struct StateError {
    key: String,
    why: String,
}

impl State {
    /// A user's state, marked changed.
    pub fn user(&mut self, tenant: &str, user: &str) -> &mut UserState {
        let key = format!("{tenant}|{user}");
        self.dirty.insert(format!("u|{key}"));
        self.users.entry(key).or_default()
    }

    /// An address's windows, marked changed.
    pub fn address(&mut self, tenant: &str, ip: &str) -> &mut BTreeMap<String, Window> {
        let key = format!("{tenant}|{ip}");
        self.dirty.insert(format!("a|{key}"));
        self.addresses.entry(key).or_default()
    }

    /// A tenant's state, marked changed.
    pub fn tenant(&mut self, tenant: &str) -> &mut TenantState {
        self.dirty.insert(format!("t|{tenant}"));
        self.tenants.entry(tenant.to_owned()).or_default()
    }

    /// Loads saved entries.
    pub fn restore(&mut self, entries: Vec<skylight_store::StateEntry>) -> Result<(), StateError> {
        for (key, value) in entries {
            let bad = |e: serde_json::Error| StateError {
                key: key.clone(),
                why: e.to_string(),
            };
            match key.split_once('|') {
                Some(("u", k)) => {
                    self.users
                        .insert(k.to_owned(), serde_json::from_slice(&value).map_err(bad)?);
                }
                Some(("a", k)) => {
                    self.addresses
                        .insert(k.to_owned(), serde_json::from_slice(&value).map_err(bad)?);
                }
                Some(("t", k)) => {
                    self.tenants
                        .insert(k.to_owned(), serde_json::from_slice(&value).map_err(bad)?);
                }
                Some(("i", k)) => {
                    self.incidents
                        .insert(k.to_owned(), serde_json::from_slice(&value).map_err(bad)?);
                }
                _ => {
                    return Err(StateError {
                        key,
                        why: "unknown kind of entry".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The changed entries (`None`: delete), serialised one at a time as they are read, and
    /// forgets that they changed: a commit after which every user changed then holds one
    /// entry's bytes at a time, not every user's.
    pub fn changes(&mut self) -> Changes<'_> {
        Changes {
            dirty: std::mem::take(&mut self.dirty).into_iter(),
            touched: std::mem::take(&mut self.touched).into_iter(),
            closed: std::mem::take(&mut self.closed).into_iter(),
            state: self,
        }
    }
}

/// The entries that changed, serialised as they are read ([`State::changes`]).
pub struct Changes<'a> {
    state: &'a State,
    dirty: std::collections::btree_set::IntoIter<String>,
    touched: std::collections::btree_set::IntoIter<String>,
    closed: std::collections::btree_set::IntoIter<String>,
}

impl Iterator for Changes<'_> {
    type Item = skylight_store::StateChange;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.state;
        if let Some(key) = self.dirty.next() {
            let value = match key.split_once('|') {
                Some(("u", k)) => s.users.get(k).map(serde_json::to_vec),
                Some(("a", k)) => s.addresses.get(k).map(serde_json::to_vec),
                Some(("t", k)) => s.tenants.get(k).map(serde_json::to_vec),
                _ => None,
            };
            return Some((key, value.and_then(Result::ok)));
        }
        if let Some(key) = self.touched.next() {
            let value = s.incidents.get(&key).map(serde_json::to_vec);
            return Some((format!("i|{key}"), value.and_then(Result::ok)));
        }
        self.closed.next().map(|key| (format!("i|{key}"), None))
    }
}

#[cfg(test)]
mod tests {
    use super::insert_newest;
    use proptest::prelude::*;

    proptest! {
        /// The same as inserting, then dropping the oldest beyond `max`; and the list never
        /// holds more than `max`.
        #[test]
        fn inserting_keeps_the_newest(len in 0usize..12, max in 0usize..10, pos in 0usize..14) {
            let mut list: Vec<usize> = (0..len.min(max)).map(|i| i * 10).collect();
            let mut want = list.clone();
            let pos = pos.min(list.len());
            want.insert(pos, 999);
            let extra = want.len().saturating_sub(max);
            want.drain(..extra);
            let (full, cap) = (list.len() == max, list.capacity());
            insert_newest(&mut list, pos, 999, max);
            prop_assert_eq!(&list, &want);
            prop_assert!(list.len() <= max);
            if full {
                prop_assert_eq!(list.capacity(), cap, "a full list grew");
            }
        }
    }
}
