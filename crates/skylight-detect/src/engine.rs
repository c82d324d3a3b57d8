//! The engine: every enabled policy and detection over each event, findings folded into
//! incidents, and what changed handed out for one commit.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use skylight_model::{ActorKind, AlertDraft};

use crate::anomaly::{Anomalies, AnomalySettings};
use crate::event::Event;
use crate::incident::{self, Outcome};
use crate::policy::ActivityPolicy;
use crate::rule::Rule;
use crate::state::{Kind, State, StateError};

/// `[detection]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Days a user's baseline learns before baseline detections (infrequent country, unusual
    /// administrative activity) alert.
    #[serde(default = "seven")]
    pub learning_days: f64,
    /// Per-detection settings.
    #[serde(default)]
    pub anomaly: BTreeMap<String, AnomalySettings>,
    /// Policy files (TOML `[[policy]]` or YAML `policy:`) or directories of them, relative to
    /// the configuration file.
    #[serde(default)]
    pub policy_files: Vec<std::path::PathBuf>,
    /// Built-in policies and templates to turn on (ids) beyond those on by default.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Built-in policies to turn off (ids).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Sigma rule files or directories (`logsource.product: m365` rules are used), relative to
    /// the configuration file.
    #[serde(default)]
    pub sigma_rules: Vec<std::path::PathBuf>,
    /// Partitions detection is spread over, which the detector processes share out (1: one
    /// process evaluates everything, the others stand by). Every process must have the same.
    #[serde(default = "one")]
    pub partitions: u32,
    /// What decides an activity's partition: `tenant` or `user` (see [`PartitionBy`]).
    #[serde(default)]
    pub partition_by: crate::PartitionBy,
    /// Users whose state a detector holds in memory (each detector of a process, when
    /// partitioned); the others' is saved in the store and read back when their next activity
    /// arrives, so that users' state does not grow with the tenant.
    #[serde(default = "users_in_memory")]
    pub users_in_memory: usize,
}

fn users_in_memory() -> usize {
    crate::state::USERS_IN_MEMORY
}

fn one() -> u32 {
    1
}

fn seven() -> f64 {
    7.0
}

impl DetectConfig {
    /// How detection is partitioned.
    pub fn partitioning(&self) -> crate::Partitioning {
        crate::Partitioning {
            count: self.partitions.max(1),
            by: self.partition_by,
        }
    }

    /// Every anomaly detection off: only the policies given to the engine run (backtests).
    pub fn policies_only() -> DetectConfig {
        DetectConfig {
            anomaly: crate::anomaly::CATALOGUE
                .iter()
                .map(|c| {
                    (
                        c.0.to_owned(),
                        AnomalySettings {
                            enabled: Some(false),
                            ..AnomalySettings::default()
                        },
                    )
                })
                .collect(),
            ..DetectConfig::default()
        }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            learning_days: seven(),
            anomaly: BTreeMap::new(),
            policy_files: Vec::new(),
            enable: Vec::new(),
            disable: Vec::new(),
            sigma_rules: Vec::new(),
            partitions: one(),
            partition_by: crate::PartitionBy::default(),
            users_in_memory: users_in_memory(),
        }
    }
}

/// Why detection could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A setting that does not make sense.
    #[error("detection settings: {0}")]
    Config(String),
    /// A policy could not be used.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// Saved state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// Sigma rules could not be loaded.
    #[error(transparent)]
    Sigma(#[from] crate::sigma::SigmaError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] skylight_store::StoreError),
}

/// Incidents idle this long (or their rule's de-duplication period, if longer) behind the newest
/// activity are closed (ms): a backfill delivers a week of records in no particular order, so an
/// incident stays open until no record of its time can still arrive.
const CLOSE_AFTER_MS: i64 = 8 * 86_400_000;
/// Users without activity for this long are forgotten (ms).
const USER_IDLE_MS: i64 = 45 * 86_400_000;
/// How often (in activity time) state is swept of what can no longer matter.
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// Policies, detections and their state.
#[derive(Debug)]
pub struct Engine {
    policies: Vec<ActivityPolicy>,
    anomalies: Anomalies,
    rules: HashMap<String, Rule>,
    sigma: Option<crate::sigma::SigmaRules>,
    state: State,
    newest_ms: i64,
    swept_ms: i64,
    /// Findings dropped by daily limits since start.
    pub over_limit: u64,
}

impl Engine {
    /// An engine with the enabled policies and the configured detections.
    pub fn new(
        config: &DetectConfig,
        policies: Vec<ActivityPolicy>,
    ) -> Result<Engine, DetectError> {
        if !(config.learning_days >= 0.0 && config.learning_days <= 90.0) {
            return Err(DetectError::Config(
                "learning_days must be between 0 and 90".into(),
            ));
        }
        if config.users_in_memory == 0 {
            return Err(DetectError::Config(
                "users_in_memory must be at least 1".into(),
            ));
        }
        let anomalies = Anomalies::new(
            &config.anomaly,
            (config.learning_days * 86_400_000.0) as i64,
        )
        .map_err(DetectError::Config)?;
        let mut rules = HashMap::new();
        for p in &policies {
            if rules.insert(p.rule.id.clone(), p.rule.clone()).is_some() {
                return Err(DetectError::Config(format!(
                    "two policies have the id `{}`",
                    p.rule.id
                )));
            }
        }
        for (id, (rule, _)) in &anomalies.rules {
            if rules.insert((*id).to_owned(), rule.clone()).is_some() {
                return Err(DetectError::Config(format!(
                    "policy id `{id}` is taken by an anomaly detection"
                )));
            }
        }
        let state = State::holding(config.users_in_memory);
        Ok(Engine {
            policies,
            anomalies,
            rules,
            sigma: None,
            state,
            newest_ms: i64::MIN,
            swept_ms: i64::MIN,
            over_limit: 0,
        })
    }

    /// The directory groups the scopes of its policies and detections name (lowercase).
    pub fn scope_groups(&self) -> std::collections::BTreeSet<String> {
        self.policies
            .iter()
            .map(|p| &p.rule.scope)
            .chain(self.anomalies.scopes())
            .flat_map(|s| s.groups().collect::<Vec<_>>())
            .collect()
    }

    /// Gives scopes the members of the directory's groups they name. A group the directory does
    /// not hold is logged: it matches nobody.
    pub fn with_directory(mut self, members: crate::rule::GroupMembers) -> Engine {
        for g in self.scope_groups() {
            if !members.contains_key(&g) {
                tracing::warn!(group = %g, "a scope names a group that is neither built in nor in the directory: it matches nobody");
            }
        }
        let members = std::sync::Arc::new(members);
        for p in &mut self.policies {
            p.rule.scope.directory = Some(members.clone());
        }
        self.anomalies.set_directory(&members);
        self
    }

    /// Adds Sigma rules; their ids (`sigma:…`) must not collide with another rule's.
    pub fn with_sigma(mut self, sigma: crate::sigma::SigmaRules) -> Result<Engine, DetectError> {
        for rule in sigma.rules() {
            if self.rules.insert(rule.id.clone(), rule.clone()).is_some() {
                return Err(DetectError::Config(format!(
                    "two rules have the id `{}`",
                    rule.id
                )));
            }
        }
        self.sigma = Some(sigma);
        Ok(self)
    }

    /// Loads one entry of saved state; [`Engine::restored`] follows the last.
    pub fn restore(&mut self, key: String, value: &[u8]) -> Result<(), DetectError> {
        Ok(self.state.restore(key, value)?)
    }

    /// Once saved state is loaded: resumes the activity time it had reached.
    pub fn restored(&mut self) {
        self.newest_ms = self
            .state
            .incidents
            .values()
            .map(|i| i.last_ms)
            .max()
            .unwrap_or(i64::MIN);
    }

    /// The policies this engine runs.
    pub fn policies(&self) -> &[ActivityPolicy] {
        &self.policies
    }

    /// Starts a batch of events: the stored keys of the users they name whose state is saved
    /// in the store and not in memory. Read those entries back
    /// ([`skylight_store::Store::detection_entries_in`]) and hand them to [`Engine::load`]
    /// before the events are evaluated.
    pub fn begin_batch(&mut self, events: &[Event]) -> Vec<String> {
        self.state.begin_batch();
        if self.state.stored_users.is_empty() {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for e in events {
            if !e.user.is_empty() {
                keys.push(format!("{}|{}", e.row.tenant, e.user));
            }
            if let Some(who) = crate::anomaly::other_user(e) {
                keys.push(format!("{}|{who}", e.row.tenant));
            }
        }
        self.state.wanted(keys.iter().map(String::as_str))
    }

    /// Takes back into memory the users [`Engine::begin_batch`] asked for (`wanted`) from
    /// their saved entries, trimmed as the last sweep would have trimmed them in memory.
    pub fn load(
        &mut self,
        wanted: &[String],
        entries: Vec<skylight_store::StateEntry>,
    ) -> Result<(), DetectError> {
        let last_sweep = (self.swept_ms != i64::MIN)
            .then(|| self.swept_ms.saturating_sub(crate::window::KEEP_MS));
        Ok(self.state.load(wanted, entries, last_sweep)?)
    }

    /// More users in memory than should wait for the next save.
    pub fn over_budget(&self) -> bool {
        self.state.over_budget()
    }

    /// Beyond the configured number of users in memory, drops the least recently used of those
    /// unchanged since the last save down to seven eighths of it (their state is in the store).
    pub fn evict(&mut self) {
        self.state.evict();
    }

    /// Users whose state is in memory, and those saved in the store only.
    pub fn users(&self) -> (usize, usize) {
        (self.state.users.len(), self.state.stored_users.len())
    }

    /// Evaluates one event.
    pub fn evaluate(&mut self, e: &Event) {
        self.newest_ms = self.newest_ms.max(e.ms);
        let tenant = e.row.tenant.clone();
        {
            let t = self.state.tenant(&tenant);
            t.first_ms = Some(t.first_ms.map_or(e.ms, |f| f.min(e.ms)));
            // The tenant's own mail domains, from its members' names.
            if matches!(e.row.actor_kind, Some(ActorKind::User | ActorKind::Admin))
                && !e.row.external_user
                && t.domains.len() < 64
                && let Some((_, d)) = e.user.rsplit_once('@')
                && !d.is_empty()
            {
                t.domains.insert(d.to_owned());
            }
        }
        if !e.user.is_empty() {
            let u = self.state.user(&tenant, &e.user);
            u.first_ms = Some(u.first_ms.map_or(e.ms, |f| f.min(e.ms)));
            u.last_ms = Some(u.last_ms.map_or(e.ms, |l| l.max(e.ms)));
        }
        let mut found = Vec::new();
        if !self.policies.is_empty() {
            let key = format!("{tenant}|{}", e.user);
            let windows = &mut self.state.users.entry(key).or_default().windows;
            for (i, p) in self.policies.iter().enumerate() {
                if let Some(f) = p.evaluate(e, windows) {
                    found.push((i, f));
                }
            }
            // The event's user is marked already, unless the event has none.
            if e.user.is_empty()
                && (!found.is_empty() || self.policies.iter().any(|p| p.config.repeated.is_some()))
            {
                self.state.mark(Kind::User, &format!("{tenant}|"));
            }
        }
        let mut anomalies = Vec::new();
        self.anomalies.evaluate(e, &mut self.state, &mut anomalies);
        let sigma = self
            .sigma
            .as_ref()
            .map(|s| s.evaluate(e))
            .unwrap_or_default();
        let findings = found
            .into_iter()
            .map(|(i, f)| (self.policies[i].rule.id.clone(), f))
            .chain(anomalies.into_iter().map(|(id, f)| (id.to_owned(), f)))
            .chain(sigma);
        for (id, f) in findings {
            let Some(rule) = self.rules.get(&id) else {
                continue;
            };
            let t = self.state.tenants.entry(tenant.clone()).or_default();
            match incident::raise(
                &mut self.state.incidents,
                &mut t.daily,
                rule,
                &tenant,
                f,
                e.id(),
            ) {
                Outcome::Incident(key) => {
                    self.state.touched.insert(key);
                }
                Outcome::OverLimit => self.over_limit += 1,
            }
        }
    }

    /// The alerts changed since the last call and the state entries to save with them,
    /// serialised one at a time as they are read (a caller that saves nothing serialises
    /// nothing). Closes incidents that can no longer grow.
    pub fn take_changes(&mut self) -> (Vec<AlertDraft>, crate::state::Changes<'_>) {
        let alerts: Vec<AlertDraft> = self
            .state
            .touched
            .iter()
            .filter_map(|k| self.state.incidents.get(k).map(|i| i.alert.clone()))
            .collect();
        let newest = self.newest_ms;
        let rules = &self.rules;
        let idle: Vec<String> = self
            .state
            .incidents
            .iter()
            .filter(|(_, i)| {
                let reach = rules
                    .get(&i.alert.policy)
                    .map_or(0, |r| r.dedup_ms)
                    .max(CLOSE_AFTER_MS);
                i.last_ms < newest.saturating_sub(reach)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in idle {
            self.state.incidents.remove(&k);
            self.state.touched.remove(&k);
            self.state.closed.insert(k);
        }
        if newest > self.swept_ms.saturating_add(SWEEP_EVERY_MS) {
            self.sweep(newest);
        }
        (alerts, self.state.changes())
    }

    /// Forgets what can no longer matter, so that state stays the size of recent activity:
    /// users idle for 45 days, addresses without recent failed sign-ins, rename windows of
    /// extensions not seen lately, and daily alert counters of past days.
    fn sweep(&mut self, newest: i64) {
        self.swept_ms = newest;
        let horizon = newest.saturating_sub(crate::window::KEEP_MS);
        let stale: Vec<String> = self
            .state
            .addresses
            .iter()
            .filter(|(_, w)| w.values().all(|w| w.newest().is_none_or(|t| t < horizon)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.state.addresses.remove(&k);
            self.state.mark(Kind::Address, &k);
        }
        // Users idle for longer than baselines look back (the names attackers type into failed
        // sign-ins among them), unless the account is known disabled.
        let idle = newest.saturating_sub(USER_IDLE_MS);
        let gone: Vec<String> = self
            .state
            .users
            .iter()
            .filter(|(_, u)| u.disabled.is_none() && u.last_ms.is_some_and(|l| l < idle))
            .map(|(k, _)| k.clone())
            .collect();
        // Those saved in the store only are idle by the last activity noted when they left
        // memory (never, for an account known disabled: kept, as in memory).
        let gone_stored: Vec<String> = self
            .state
            .stored_users
            .iter()
            .filter(|(_, last)| **last < idle)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone_stored {
            self.state.stored_users.remove(&k);
            self.state.mark(Kind::User, &k);
        }
        for k in gone {
            self.state.users.remove(&k);
            self.state.mark(Kind::User, &k);
        }
        let mut trimmed = Vec::new();
        for (key, user) in &mut self.state.users {
            if user.forget_old_renames(horizon) {
                trimmed.push(key.clone());
            }
        }
        for key in trimmed {
            self.state.mark(Kind::User, &key);
        }
        let today = newest.div_euclid(86_400_000);
        let mut trimmed = Vec::new();
        for (name, tenant) in &mut self.state.tenants {
            let old = |k: &String| {
                k.rsplit_once('|')
                    .and_then(|(_, d)| d.parse::<i64>().ok())
                    .is_some_and(|d| d < today - 8)
            };
            let before = tenant.daily.raised.len() + tenant.daily.dropped.len();
            tenant.daily.raised.retain(|k, _| !old(k));
            tenant.daily.dropped.retain(|k, _| !old(k));
            if tenant.daily.raised.len() + tenant.daily.dropped.len() != before {
                trimmed.push(name.clone());
            }
        }
        for name in trimmed {
            self.state.mark(Kind::Tenant, &name);
        }
    }
}
