//! Detection state: per-user baselines and windows, per-address windows, per-tenant facts and
//! the open incidents. Saved entry by entry (only what changed) with the alerts and progress it
//! led to, so a restart resumes exactly where the last commit left off.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize, Serializer};

use crate::incident::{DailyCounts, Incident};
use crate::packed::Packed;
use crate::window::Window;

/// One located activity of a user. Saved as `[ms, country, ip, id, safe]`: read back from that
/// or from the object form saved before.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// When a country was seen for a user. Saved as `[first_ms, last_ms, n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

/// A recent successful activity (kept briefly, for markers that arrive late). Saved as
/// `[ms, id, ip, country]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
/// Saved as `[peak, current, current_end_ms]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Peak {
    /// Busiest past burst.
    pub peak: u32,
    /// Busiest window of the burst under way.
    pub current: u32,
    /// Last activity of the burst under way (ms).
    pub current_end_ms: i64,
}

// Saved state is mostly these small records, thousands per user: as arrays rather than objects
// their field names are not written (and parsed) again for each one. serde's derived
// `Deserialize` reads a struct from an array of its fields in order as well as from an object,
// so state saved in the object form still reads.
impl Serialize for Place {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.ms, &self.country, &self.ip, &self.id, self.safe).serialize(s)
    }
}

impl Serialize for Seen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.first_ms, self.last_ms, self.n).serialize(s)
    }
}

impl Serialize for Recent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.ms, &self.id, &self.ip, &self.country).serialize(s)
    }
}

impl Serialize for Peak {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.peak, self.current, self.current_end_ms).serialize(s)
    }
}

/// Everything kept about one user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    /// First activity seen (ms): the user's baseline learns from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ms: Option<i64>,
    /// Last activity seen (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<i64>,
    /// Countries seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub countries: BTreeMap<String, Seen>,
    /// Recent located activities, by time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<Place>,
    /// Sliding windows, per rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub windows: BTreeMap<String, Window>,
    /// Per rate rule, the user's normal peak.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peaks: BTreeMap<String, Peak>,
    /// Administrative operations performed → last time (ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub admin_ops: BTreeMap<String, i64>,
    /// Countries administrative activity came from → first time (ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub admin_countries: BTreeMap<String, i64>,
    /// The account is disabled or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// Recent successful activities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Recent>,
    /// The batch of activities that last asked for this user ([`State::begin_batch`]): the
    /// least recently used leave memory first. Not saved.
    #[serde(skip)]
    pub used: u64,
}

impl UserState {
    /// Drops the rename windows with nothing since `horizon` (ms); whether any went.
    pub fn forget_old_renames(&mut self, horizon: i64) -> bool {
        let before = self.windows.len();
        self.windows.retain(|name, w| {
            !name.starts_with("renamed_to:") || w.newest().is_some_and(|t| t >= horizon)
        });
        self.windows.len() != before
    }

    /// The activity time the idle sweep judges a user by when only the store holds it: its
    /// last activity; never, for an account known disabled (kept, as in memory).
    fn idle_since(&self) -> i64 {
        match (&self.disabled, self.last_ms) {
            (None, Some(last)) => last,
            _ => i64::MAX,
        }
    }
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

/// Users detection holds in memory unless configured otherwise (`users_in_memory`).
pub const USERS_IN_MEMORY: usize = 10_000;

/// All detection state, and which entries changed since the last save.
#[derive(Debug)]
pub struct State {
    /// `tenant|user` → state, of the users held in memory.
    pub users: HashMap<String, UserState>,
    /// Users saved in the store and not held in memory (`tenant|user` → last activity, ms;
    /// `i64::MAX` when unknown or the account is known disabled, which the idle sweep keeps):
    /// read back before an activity that names them is evaluated.
    pub stored_users: HashMap<String, i64>,
    /// Users held in memory after a save, at most ([`State::evict`]).
    pub users_in_memory: usize,
    /// The batch of activities under evaluation (counts up).
    batch: u64,
    /// `tenant|address` → windows.
    pub addresses: HashMap<String, BTreeMap<String, Window>>,
    /// Tenant → state.
    pub tenants: HashMap<String, TenantState>,
    /// Open incidents by key.
    pub incidents: BTreeMap<String, Incident>,
    /// Users (`tenant|user`), addresses (`tenant|address`) and tenants changed since the last
    /// save: sets of the maps' own keys, looked up without building a key for each activity.
    changed: [HashSet<String>; 3],
    /// Incidents changed since the last save.
    pub touched: BTreeSet<String>,
    /// Incident entries to delete at the next save.
    pub closed: BTreeSet<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            users: HashMap::new(),
            stored_users: HashMap::new(),
            users_in_memory: USERS_IN_MEMORY,
            batch: 0,
            addresses: HashMap::new(),
            tenants: HashMap::new(),
            incidents: BTreeMap::new(),
            changed: Default::default(),
            touched: BTreeSet::new(),
            closed: BTreeSet::new(),
        }
    }
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

/// The kinds of entry tracked in [`State`]'s change sets, and their prefix in saved keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user's state (`u|tenant|user`).
    User,
    /// An address's windows (`a|tenant|address`).
    Address,
    /// A tenant's state (`t|tenant`).
    Tenant,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::User, Kind::Address, Kind::Tenant];

    fn prefix(self) -> &'static str {
        match self {
            Kind::User => "u|",
            Kind::Address => "a|",
            Kind::Tenant => "t|",
        }
    }
}

impl State {
    /// Empty state that keeps at most `users_in_memory` users in memory after a save.
    pub fn holding(users_in_memory: usize) -> State {
        State {
            users_in_memory,
            ..State::default()
        }
    }

    /// Marks an entry changed (`key` as in its map: `tenant|user`, `tenant|address`, tenant).
    pub fn mark(&mut self, kind: Kind, key: &str) {
        let set = &mut self.changed[kind as usize];
        if !set.contains(key) {
            set.insert(key.to_owned());
        }
    }

    /// A user's state, marked changed. The user must be in memory or new: one saved in the
    /// store is read back first ([`State::wanted`], [`State::load`]).
    pub fn user(&mut self, tenant: &str, user: &str) -> &mut UserState {
        let key = format!("{tenant}|{user}");
        self.mark(Kind::User, &key);
        let batch = self.batch;
        let u = self.users.entry(key).or_default();
        u.used = batch;
        u
    }

    /// Starts a batch of activities: users asked for from now on count as used by it.
    pub fn begin_batch(&mut self) {
        self.batch += 1;
    }

    /// Of `keys` (`tenant|user`), those saved in the store and not in memory, as stored keys
    /// (`u|tenant|user`), each once.
    pub fn wanted<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<String> {
        let mut out: Vec<String> = keys
            .filter(|k| self.stored_users.contains_key(*k) && !self.users.contains_key(*k))
            .map(|k| format!("{}{k}", Kind::User.prefix()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Takes back into memory the users `wanted` named, from their saved `entries`; one with
    /// no saved entry (none should be missing) starts afresh. Rename windows with nothing since
    /// `renames_before` (ms) are dropped, as a sweep of users in memory drops them.
    pub fn load(
        &mut self,
        wanted: &[String],
        entries: Vec<skylight_store::StateEntry>,
        renames_before: Option<i64>,
    ) -> Result<(), StateError> {
        for (key, value) in entries {
            let Some(k) = key.strip_prefix(Kind::User.prefix()) else {
                continue;
            };
            let mut user: UserState = serde_json::from_slice(&value).map_err(|e| StateError {
                key: key.clone(),
                why: e.to_string(),
            })?;
            user.used = self.batch;
            if renames_before.is_some_and(|h| user.forget_old_renames(h)) {
                self.mark(Kind::User, k);
            }
            self.stored_users.remove(k);
            self.users.insert(k.to_owned(), user);
        }
        for key in wanted {
            if let Some(k) = key.strip_prefix(Kind::User.prefix()) {
                self.stored_users.remove(k);
            }
        }
        Ok(())
    }

    /// More users in memory than should wait for the next save (a quarter more than are
    /// kept): [`State::evict`] could not drop enough of them, as most were read back or
    /// changed since the last.
    pub fn over_budget(&self) -> bool {
        self.users.len()
            > self
                .users_in_memory
                .saturating_add(self.users_in_memory / 4)
    }

    /// Beyond [`State::users_in_memory`] users, drops the least recently used of those whose
    /// saved state is current (unchanged since the last save) down to seven eighths of it;
    /// they are read back when an activity names them. Kept whatever their use: users changed
    /// since the save (dropped after the next) and the windows of activities without a user
    /// (`tenant|`, one per tenant, never read back).
    pub fn evict(&mut self) {
        if self.users.len() <= self.users_in_memory {
            return;
        }
        let changed = &self.changed[Kind::User as usize];
        let mut candidates: Vec<(u64, i64, &String)> = self
            .users
            .iter()
            .filter(|(k, _)| !k.ends_with('|') && !changed.contains(*k))
            .map(|(k, u)| (u.used, u.last_ms.unwrap_or(i64::MAX), k))
            .collect();
        // Below the limit, so that the next few batches do not evict again.
        let keep = self.users_in_memory - self.users_in_memory / 8;
        let excess = self.users.len().saturating_sub(keep).min(candidates.len());
        if excess == 0 {
            return;
        }
        candidates.select_nth_unstable(excess - 1);
        let gone: Vec<String> = candidates[..excess]
            .iter()
            .map(|(_, _, k)| (*k).clone())
            .collect();
        for k in gone {
            if let Some(u) = self.users.remove(&k) {
                self.stored_users.insert(k, u.idle_since());
            }
        }
    }

    /// An address's windows, marked changed.
    pub fn address(&mut self, tenant: &str, ip: &str) -> &mut BTreeMap<String, Window> {
        let key = format!("{tenant}|{ip}");
        self.mark(Kind::Address, &key);
        self.addresses.entry(key).or_default()
    }

    /// A tenant's state, marked changed.
    pub fn tenant(&mut self, tenant: &str) -> &mut TenantState {
        self.mark(Kind::Tenant, tenant);
        self.tenants.entry(tenant.to_owned()).or_default()
    }

    /// Loads one saved entry.
    pub fn restore(&mut self, key: String, value: &[u8]) -> Result<(), StateError> {
        let bad = |e: serde_json::Error| StateError {
            key: key.clone(),
            why: e.to_string(),
        };
        match key.split_once('|') {
            Some(("u", k)) => {
                let user: UserState = serde_json::from_slice(value).map_err(bad)?;
                // Beyond what memory holds, only what the idle sweep needs is kept; the
                // rest is read back when an activity names the user.
                if self.users.len() < self.users_in_memory || k.ends_with('|') {
                    self.users.insert(k.to_owned(), user);
                } else {
                    self.stored_users.insert(k.to_owned(), user.idle_since());
                }
            }
            Some(("a", k)) => {
                self.addresses
                    .insert(k.to_owned(), serde_json::from_slice(value).map_err(bad)?);
            }
            Some(("t", k)) => {
                self.tenants
                    .insert(k.to_owned(), serde_json::from_slice(value).map_err(bad)?);
            }
            Some(("i", k)) => {
                self.incidents
                    .insert(k.to_owned(), serde_json::from_slice(value).map_err(bad)?);
            }
            _ => {
                return Err(StateError {
                    key,
                    why: "unknown kind of entry".into(),
                });
            }
        }
        Ok(())
    }

    /// The changed entries (`None`: delete), serialised one at a time as they are read, and
    /// forgets that they changed: a commit after which every user changed then holds one
    /// entry's bytes at a time, not every user's.
    pub fn changes(&mut self) -> Changes<'_> {
        // In key order within each kind: neighbouring keys share the store's pages.
        let mut dirty: Vec<(Kind, String)> = Vec::new();
        for kind in Kind::ALL {
            let mut keys: Vec<String> = std::mem::take(&mut self.changed[kind as usize])
                .into_iter()
                .collect();
            keys.sort_unstable();
            dirty.extend(keys.into_iter().map(|k| (kind, k)));
        }
        Changes {
            dirty: dirty.into_iter(),
            touched: std::mem::take(&mut self.touched).into_iter(),
            closed: std::mem::take(&mut self.closed).into_iter(),
            state: self,
        }
    }
}

/// The entries that changed, serialised as they are read ([`State::changes`]).
pub struct Changes<'a> {
    state: &'a State,
    dirty: std::vec::IntoIter<(Kind, String)>,
    touched: std::collections::btree_set::IntoIter<String>,
    closed: std::collections::btree_set::IntoIter<String>,
}

impl Iterator for Changes<'_> {
    type Item = skylight_store::StateChange;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.state;
        if let Some((kind, k)) = self.dirty.next() {
            let value = match kind {
                Kind::User => s.users.get(&k).map(serde_json::to_vec),
                Kind::Address => s.addresses.get(&k).map(serde_json::to_vec),
                Kind::Tenant => s.tenants.get(&k).map(serde_json::to_vec),
            };
            return Some((format!("{}{k}", kind.prefix()), value.and_then(Result::ok)));
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
    use super::{Disabled, Kind, State, UserState, insert_newest};
    use proptest::prelude::*;

    /// A user's state as saved before the compact form (objects for places, countries, peaks,
    /// recent activities and window entries; empty collections written out).
    const OBJECT_FORM: &str = r#"{"first_ms":1794866868000,"last_ms":1795463628000,
        "countries":{"US":{"first_ms":1794866868000,"last_ms":1795463628000,"n":157}},
        "places":[{"ms":1795375862000,"country":"US","ip":"71.168.229.87",
            "id":"cec336d5-b766-0057-33a1-965178df3995","safe":false}],
        "windows":{"mass_download":{"entries":[{"ms":1795215887000,
            "id":"c073d4de-c624-f105-2797-c5d112403016","what":""},{"ms":1795215888000,
            "id":"c073d4de-c624-f105-2797-c5d112403017","what":"report.docx"}]}},
        "peaks":{"mass_download":{"peak":3,"current":1,"current_end_ms":1795215887000}},
        "admin_ops":{},"admin_countries":{},"disabled":null,
        "recent":[{"ms":1795375862000,"id":"cec336d5-b766-0057-33a1-965178df3995",
            "ip":"71.168.229.87","country":"US"},{"ms":1795375863000,"id":"x-1","ip":null,
            "country":null}]}"#;

    #[test]
    fn state_saved_in_the_object_form_reads_and_saves_smaller_as_the_same_state() {
        let old: UserState = serde_json::from_str(OBJECT_FORM).expect("object form");
        assert_eq!(old.places.len(), 1);
        assert_eq!(
            old.places[0].id.to_string(),
            "cec336d5-b766-0057-33a1-965178df3995"
        );
        assert_eq!(old.countries["US"].n, 157);
        assert_eq!(old.peaks["mass_download"].peak, 3);
        assert_eq!(old.recent.len(), 2);
        let compact = serde_json::to_string(&old).expect("save");
        let back: UserState = serde_json::from_str(&compact).expect("compact form");
        assert_eq!(back, old);
        let spaceless: String = OBJECT_FORM.split_whitespace().collect();
        assert!(
            compact.len() * 10 < spaceless.len() * 7,
            "{} bytes against {}: {compact}",
            compact.len(),
            spaceless.len()
        );
        assert!(
            !compact.contains("\"admin_ops\""),
            "empty maps are left out: {compact}"
        );
        // An entry counting every activity is saved without its empty value.
        assert!(
            compact.contains(r#"[1795215887000,"c073d4de-c624-f105-2797-c5d112403016"]"#),
            "{compact}"
        );
    }

    #[test]
    fn an_empty_user_saves_as_an_empty_object_and_reads_back() {
        let empty = UserState::default();
        let saved = serde_json::to_string(&empty).expect("save");
        assert_eq!(saved, "{}");
        assert_eq!(
            serde_json::from_str::<UserState>(&saved).expect("read"),
            empty
        );
    }

    #[test]
    fn each_changed_entry_is_saved_once_under_its_kind_and_removed_ones_as_deletions() {
        let mut state = State::default();
        for _ in 0..3 {
            state.user("t1", "alice@contoso.com").last_ms = Some(5);
            state.address("t1", "203.0.113.9");
            state.tenant("t1");
        }
        state.user("t1", "bob@contoso.com");
        state.users.remove("t1|bob@contoso.com");
        let changes: Vec<(String, bool)> = state.changes().map(|(k, v)| (k, v.is_some())).collect();
        assert_eq!(
            changes,
            vec![
                ("u|t1|alice@contoso.com".to_string(), true),
                ("u|t1|bob@contoso.com".to_string(), false),
                ("a|t1|203.0.113.9".to_string(), true),
                ("t|t1".to_string(), true),
            ]
        );
        assert_eq!(state.changes().count(), 0, "saved changes are forgotten");
        state.mark(Kind::Tenant, "t1");
        assert_eq!(state.changes().count(), 1);
    }

    #[test]
    fn the_least_recently_used_saved_users_leave_memory_and_come_back_as_they_were() {
        let mut state = State {
            users_in_memory: 8,
            ..State::default()
        };
        // Ten users, one per batch; the third is disabled, the first and fifth change after
        // the save.
        for i in 0..10 {
            state.begin_batch();
            let u = state.user("t1", &format!("u{i}@contoso.com"));
            u.last_ms = Some(1_000 + i);
            if i == 2 {
                u.disabled = Some(Disabled {
                    ms: 5,
                    how: "disabled by admin".into(),
                });
            }
        }
        let saved: Vec<_> = state.changes().collect();
        assert_eq!(saved.len(), 10);
        state.user("t1", "u4@contoso.com");
        state.user("t1", "u0@contoso.com");
        assert!(
            !state.over_budget(),
            "10 users, 8 kept: not yet a quarter more"
        );
        // Down to 7 (seven eighths of 8): the oldest leave, the disabled one among them.
        state.evict();
        let mut gone: Vec<_> = state.stored_users.keys().cloned().collect();
        gone.sort();
        assert_eq!(
            gone,
            vec![
                "t1|u1@contoso.com",
                "t1|u2@contoso.com",
                "t1|u3@contoso.com"
            ],
            "the changed u0 and u4 stay"
        );
        assert_eq!(state.stored_users["t1|u1@contoso.com"], 1_001);
        assert_eq!(
            state.stored_users["t1|u2@contoso.com"],
            i64::MAX,
            "a disabled account is never idle"
        );
        assert_eq!(state.users.len(), 7);
        // Asked for again, only those saved and not in memory are wanted, once each.
        let keys = [
            "t1|u2@contoso.com",
            "t1|u5@contoso.com",
            "t1|u2@contoso.com",
            "t1|new@x",
        ];
        let wanted = state.wanted(keys.into_iter());
        assert_eq!(wanted, vec!["u|t1|u2@contoso.com"]);
        let entries: Vec<_> = saved
            .into_iter()
            .filter(|(k, _)| wanted.contains(k))
            .map(|(k, v)| (k, v.expect("saved")))
            .collect();
        state.begin_batch();
        state.load(&wanted, entries, None).expect("load");
        let back = &state.users["t1|u2@contoso.com"];
        assert_eq!(back.last_ms, Some(1_002));
        assert!(back.disabled.is_some());
        assert!(!state.stored_users.contains_key("t1|u2@contoso.com"));
        // A user the store no longer holds starts afresh rather than being asked for again.
        state
            .load(&["u|t1|u1@contoso.com".to_owned()], Vec::new(), None)
            .expect("load");
        assert!(state.wanted(["t1|u1@contoso.com"].into_iter()).is_empty());
    }

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
