//! Detection over the store: reads activities in the order they were stored, evaluates them and
//! commits alerts, state and progress together.

use std::path::Path;

use skylight_store::Store;

use crate::engine::{DetectConfig, DetectError, Engine};
use crate::event::Event;
use crate::partition::Partition;
use crate::policy::{self, ActivityPolicy};

/// Activities read from the store at a time: each is held with its raw record (and, once a
/// detection asks, its parsed fields) while the batch is evaluated, ~3.4 KB apiece.
pub const BATCH: usize = 1_000;
/// Activities evaluated between commits, at most (fewer when detection catches up,
/// [`COMMIT_AFTER`] has passed, or too many users are in memory to wait): bounds what a crash
/// makes detection evaluate again. A commit saves every changed user's whole state, so its
/// cost follows the users an interval touched, not its activities: while catching up on a
/// backlog, committing every 2 s rather than every 50,000 activities made detection a quarter
/// faster at 10,000 users (`bench detect`).
pub const COMMIT_EVERY: u64 = 500_000;
/// State serialised before a commit enters the store, at most (bytes); the rest is serialised
/// as the commit writes it.
const SERIALISED_AHEAD: usize = 4 << 20;
/// Time between commits, at most: alerts reach the store this soon after their activities.
pub const COMMIT_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Activities evaluated.
    pub activities: u64,
    /// Alerts raised or updated.
    pub alerts: u64,
    /// The last sequence number evaluated.
    pub seq: i64,
}

/// The policies a configuration asks for: built-ins on by default (or turned on by `enable`,
/// off by `disable`) and every enabled policy of the policy files.
pub fn load_policies(
    config: &DetectConfig,
    base_dir: &Path,
) -> Result<Vec<ActivityPolicy>, DetectError> {
    let built_in = policy::built_in();
    let built_in_apps = crate::app_policy::built_in();
    for id in config.enable.iter().chain(&config.disable) {
        if !built_in.iter().any(|p| &p.rule.id == id)
            && !built_in_apps.iter().any(|p| &p.config.id == id)
        {
            return Err(DetectError::Config(format!(
                "unknown built-in policy `{id}`; `skylight policies list` shows them"
            )));
        }
    }
    let mut out: Vec<ActivityPolicy> = built_in
        .into_iter()
        .filter(|p| {
            (p.config.enabled || config.enable.contains(&p.rule.id))
                && !config.disable.contains(&p.rule.id)
        })
        .collect();
    let files = policy_paths(config, base_dir)?;
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            DetectError::Config(format!("cannot read policy file {}: {e}", path.display()))
        })?;
        out.extend(
            policy::parse_file(&text, &path.display().to_string())?
                .into_iter()
                .filter(|p| p.config.enabled),
        );
    }
    Ok(out)
}

/// The policy files a configuration names: files, and each directory's `*.toml`, `*.yaml` and
/// `*.yml` files in name order.
fn policy_paths(
    config: &DetectConfig,
    base_dir: &Path,
) -> Result<Vec<std::path::PathBuf>, DetectError> {
    let mut files = Vec::new();
    for entry in &config.policy_files {
        let path = base_dir.join(entry);
        if path.is_dir() {
            // A directory: its `*.toml`, `*.yaml` and `*.yml` files, in name order.
            let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| {
                    DetectError::Config(format!(
                        "cannot read policy directory {}: {e}",
                        path.display()
                    ))
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "toml" || x == "yaml" || x == "yml")
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// The enabled file policies of the configured policy files.
pub fn load_file_policies(
    config: &DetectConfig,
    base_dir: &Path,
) -> Result<Vec<crate::file_policy::FilePolicy>, DetectError> {
    let mut out = Vec::new();
    for path in policy_paths(config, base_dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            DetectError::Config(format!("cannot read policy file {}: {e}", path.display()))
        })?;
        out.extend(
            crate::file_policy::parse_file_policies(&text, &path.display().to_string())?
                .into_iter()
                .filter(|p| p.config.enabled),
        );
    }
    Ok(out)
}

/// The OAuth app policies a configuration asks for: built-ins on by default (or turned on by
/// `enable`, off by `disable`) and every enabled `[[app_policy]]` of the policy files.
pub fn load_app_policies(
    config: &DetectConfig,
    base_dir: &Path,
) -> Result<Vec<crate::app_policy::AppPolicy>, DetectError> {
    let mut out: Vec<crate::app_policy::AppPolicy> = crate::app_policy::built_in()
        .into_iter()
        .filter(|p| {
            (p.config.enabled || config.enable.contains(&p.config.id))
                && !config.disable.contains(&p.config.id)
        })
        .collect();
    for path in policy_paths(config, base_dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            DetectError::Config(format!("cannot read policy file {}: {e}", path.display()))
        })?;
        out.extend(
            crate::app_policy::parse_app_policies(&text, &path.display().to_string())?
                .into_iter()
                .filter(|p| p.config.enabled),
        );
    }
    Ok(out)
}

/// The enabled policies defined through the API (kept in the store).
pub fn load_stored(store: &dyn Store) -> Result<Vec<ActivityPolicy>, DetectError> {
    let mut out = Vec::new();
    for (id, body) in store.stored_policies()? {
        let p = policy::from_json(&body).map_err(|e| {
            DetectError::Config(format!("the stored policy `{id}` no longer reads: {e}"))
        })?;
        if p.config.enabled {
            out.push(p);
        }
    }
    Ok(out)
}

/// The Sigma rules a configuration names, if any.
pub fn load_sigma(
    config: &DetectConfig,
    base_dir: &Path,
) -> Result<Option<crate::sigma::SigmaRules>, DetectError> {
    if config.sigma_rules.is_empty() {
        return Ok(None);
    }
    let paths: Vec<std::path::PathBuf> = config
        .sigma_rules
        .iter()
        .map(|p| base_dir.join(p))
        .collect();
    Ok(Some(crate::sigma::SigmaRules::load(&paths)?))
}

/// An engine bound to a store, resumed where its last commit left off.
pub struct Detector<'a> {
    store: &'a dyn Store,
    engine: Engine,
    /// The activities this detector evaluates.
    partition: Partition,
    /// Its name in the store.
    name: String,
    seq: i64,
    /// The progress saved when this detector last read or wrote it: its commits are fenced on it.
    committed: i64,
}

impl std::fmt::Debug for Detector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("seq", &self.seq).finish()
    }
}

impl<'a> Detector<'a> {
    /// Restores the engine's saved state and progress from the store: the detector of an
    /// unpartitioned deployment, which evaluates every activity.
    pub fn open(store: &'a dyn Store, engine: Engine) -> Result<Detector<'a>, DetectError> {
        Detector::open_partition(store, engine, Partition::ALL)
    }

    /// Restores one partition's saved state and progress from the store: the detector
    /// evaluates that partition's activities only (the partition must be in the store's plan).
    pub fn open_partition(
        store: &'a dyn Store,
        mut engine: Engine,
        partition: Partition,
    ) -> Result<Detector<'a>, DetectError> {
        let name = partition.name();
        // Entry by entry as the store reads them: users beyond those kept in memory are never
        // all held at once.
        let mut unreadable = None;
        let seq = store.detection_state_visit(&name, &mut |(key, value)| {
            engine.restore(key, &value).map_err(|e| {
                let why = e.to_string();
                unreadable = Some(e);
                skylight_store::StoreError::Corrupt(why)
            })
        });
        if let Some(e) = unreadable {
            return Err(e);
        }
        let seq = seq?;
        engine.restored();
        Ok(Detector {
            store,
            engine,
            partition,
            name,
            seq,
            committed: seq,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads up to `batch` new activities and evaluates those of its partition, without
    /// committing: (how many were read, 0 when caught up; the progress made).
    fn evaluate_batch(&mut self, batch: usize) -> Result<(usize, Progress), DetectError> {
        let stored = self.store.activities_since(self.seq, batch)?;
        let read = stored.len();
        let Some(last) = stored.last().map(|s| s.seq) else {
            return Ok((
                0,
                Progress {
                    seq: self.seq,
                    ..Progress::default()
                },
            ));
        };
        let partition = self.partition;
        let mut events: Vec<Event> = stored
            .into_iter()
            .filter(|s| partition.contains(&s.row.tenant, s.row.user.as_deref()))
            .map(Event::new)
            .collect();
        // Blobs are committed in whatever order they arrive: time order within a batch keeps
        // windows and baselines closer to what happened.
        events.sort_by_key(|e| (e.ms, e.seq));
        let wanted = self.engine.begin_batch(&events);
        if !wanted.is_empty() {
            let entries = self.store.detection_entries_in(&self.name, &wanted)?;
            self.engine.load(&wanted, entries)?;
        }
        for e in &events {
            self.engine.evaluate(e);
        }
        self.seq = last;
        Ok((
            read,
            Progress {
                activities: events.len() as u64,
                alerts: 0,
                seq: last,
            },
        ))
    }

    /// Commits the alerts and state changed since the last commit with the progress made.
    fn commit(&mut self) -> Result<u64, DetectError> {
        let (alerts, mut changes) = self.engine.take_changes();
        // Serialised before the store is entered, up to a budget: a store with one writer
        // (SQLite) holds it while the rest is serialised, so only a large change set (a
        // backfill's, every user changed) pays that, and its memory stays bounded.
        let mut ready = Vec::new();
        let mut bytes = 0;
        while bytes < SERIALISED_AHEAD
            && let Some(change) = changes.next()
        {
            bytes += change.0.len() + change.1.as_ref().map_or(0, Vec::len);
            ready.push(change);
        }
        self.store.commit_detection_streamed(
            &self.name,
            self.committed,
            self.seq,
            &alerts,
            &mut ready.into_iter().chain(changes),
        )?;
        self.committed = self.seq;
        self.engine.evict();
        Ok(alerts.len() as u64)
    }

    /// Evaluates the next `max` stored activities at most (those of its partition) and
    /// commits: a bounded step, for a caller that shares its time between partitions. After an
    /// error, open the detector again: its state may be ahead of what the store holds.
    pub fn step(&mut self, max: usize) -> Result<Progress, DetectError> {
        let (read, mut p) = self.evaluate_batch(max.max(1))?;
        if read > 0 {
            p.alerts = self.commit()?;
        }
        Ok(p)
    }

    /// Evaluates everything stored so far, committing every [`COMMIT_EVERY`] activities,
    /// [`COMMIT_AFTER`] or when too many users are in memory to wait, and at the end (a crash
    /// re-evaluates what followed the last commit, from that commit's state). After an error,
    /// open the detector again, as after a crash.
    pub fn catch_up(&mut self) -> Result<Progress, DetectError> {
        let mut total = Progress {
            seq: self.seq,
            ..Progress::default()
        };
        let mut pending = 0u64;
        let mut since_commit = std::time::Instant::now();
        loop {
            let (read, p) = self.evaluate_batch(BATCH)?;
            // Activities read count, whether or not they are this partition's: progress past
            // other partitions' activities is saved too.
            pending += read as u64;
            total.activities += p.activities;
            total.seq = p.seq;
            if pending > 0
                && (read == 0
                    || pending >= COMMIT_EVERY
                    || since_commit.elapsed() >= COMMIT_AFTER
                    || self.engine.over_budget())
            {
                total.alerts += self.commit()?;
                pending = 0;
                since_commit = std::time::Instant::now();
            }
            if read == 0 {
                return Ok(total);
            }
        }
    }
}

/// Runs policies over the stored activities since `from`, without writing anything: the alerts
/// they would have raised, and how many activities were evaluated.
pub fn backtest(
    store: &dyn Store,
    policies: Vec<ActivityPolicy>,
    from: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<skylight_model::AlertDraft>, u64), DetectError> {
    let mut engine = Engine::new(&DetectConfig::policies_only(), policies)?;
    let from_ms = from.timestamp_millis();
    let mut alerts = std::collections::BTreeMap::new();
    let (mut seq, mut evaluated) = (0i64, 0u64);
    loop {
        let stored = store.activities_since(seq, BATCH)?;
        let Some(last) = stored.last().map(|s| s.seq) else {
            break;
        };
        seq = last;
        let mut events: Vec<Event> = stored
            .into_iter()
            .map(Event::new)
            .filter(|e| e.ms >= from_ms)
            .collect();
        events.sort_by_key(|e| (e.ms, e.seq));
        for e in &events {
            engine.evaluate(e);
        }
        evaluated += events.len() as u64;
        for a in engine.take_changes().0 {
            alerts.insert(a.key.clone(), a);
        }
    }
    let mut out: Vec<skylight_model::AlertDraft> = alerts.into_values().collect();
    out.sort_by_key(|a| a.first);
    Ok((out, evaluated))
}
