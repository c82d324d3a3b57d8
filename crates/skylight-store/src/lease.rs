//! Keeping leases: one thread per process renews every lease the process wants, so that work
//! shared through a store (a tenant's content type, detection) is done by one process at a time
//! and taken over by another when its holder dies.
//!
//! A lease is only an economy and an ordering: collection stays exactly-once without it (commits
//! are idempotent), but two processes would fetch the same blobs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;

use crate::Store;

/// Renews the leases a process wants, in a thread of its own.
pub struct LeaseKeeper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("holder", &self.shared.holder)
            .finish_non_exhaustive()
    }
}

struct Shared {
    store: Arc<dyn Store>,
    holder: String,
    ttl: Duration,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Lease name → whether this process holds it (as of the last renewal), and whether it is
    /// one of many units shared out among the processes (see [`LeaseKeeper::want_shared`]).
    wanted: BTreeMap<String, (Arc<Held>, bool)>,
    /// Leases given up, to release at the next round.
    released: Vec<String>,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a lease is held, and until when this process may count on it.
#[derive(Default)]
struct Held {
    flag: AtomicBool,
    /// [`now_ms`] past which the holding is not trusted without a renewal: if the keeper is
    /// stuck (a store that does not answer), the work stops before another process may take it.
    trusted_until_ms: AtomicU64,
}

/// Milliseconds on this process's monotonic clock.
fn now_ms() -> u64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    u64::try_from(
        BASE.get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

/// A lease a process wants; given up when dropped.
pub struct Lease {
    name: String,
    held: Arc<Held>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("held", &self.held())
            .finish()
    }
}

impl Lease {
    /// Whether this process holds the lease: it did at the last renewal, and that renewal is
    /// recent enough to count on.
    pub fn held(&self) -> bool {
        self.held.flag.load(Ordering::Acquire)
            && now_ms() < self.held.trusted_until_ms.load(Ordering::Acquire)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.wanted.remove(&self.name);
        state.released.push(self.name.clone());
        drop(state);
        self.shared.wake.notify_all();
    }
}

impl LeaseKeeper {
    /// Starts keeping leases for `holder` (unique per process), each valid for `ttl` and renewed
    /// every third of it.
    pub fn start(
        store: Arc<dyn Store>,
        holder: String,
        ttl: Duration,
    ) -> std::io::Result<LeaseKeeper> {
        let shared = Arc::new(Shared {
            store,
            holder,
            ttl,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("leases".into())
            .spawn(move || keep(&worker))?;
        Ok(LeaseKeeper {
            shared,
            thread: Some(thread),
        })
    }

    /// The holder name of this process.
    pub fn holder(&self) -> &str {
        &self.shared.holder
    }

    /// Asks for the lease `name` (a unit of work one process does at a time, e.g. detection);
    /// it is taken at once if free, later if its holder stops renewing it.
    pub fn want(&self, name: &str) -> Lease {
        self.ask(name, false)
    }

    /// Asks for the lease `name` as one of many like units (e.g. a tenant's content type), which
    /// the processes wanting them share out: each holds at most its fair share (the units it
    /// wants divided by the live processes, rounded up), gives up the excess when another
    /// process starts, and takes more when one stops.
    pub fn want_shared(&self, name: &str) -> Lease {
        self.ask(name, true)
    }

    fn ask(&self, name: &str, shared: bool) -> Lease {
        let held = Arc::new(Held::default());
        let mut state = self.shared.lock();
        state
            .wanted
            .insert(name.to_owned(), (Arc::clone(&held), shared));
        drop(state);
        self.shared.wake.notify_all();
        Lease {
            name: name.to_owned(),
            held,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A name for this process as a lease holder: host, process id and a random part (a restarted
/// process with a reused pid is still someone else).
pub fn process_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!("{host}:{}:{nanos:08x}", std::process::id())
}

/// Prefix of the leases that say a process is alive (renewed like any other).
const PRESENCE: &str = "process:";

/// One wanted lease as a round sees it.
type Wanted = (String, Arc<Held>, bool);

fn keep(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        let stopping = state.stopping;
        let wanted: Vec<Wanted> = state
            .wanted
            .iter()
            .map(|(n, (h, s))| (n.clone(), Arc::clone(h), *s))
            .collect();
        let mut released = std::mem::take(&mut state.released);
        // Given up and asked for again since the last round: still wanted, so kept.
        released.retain(|n| !state.wanted.contains_key(n));
        drop(state);
        if stopping {
            // Handed over at once rather than after the lease runs out.
            for (_, held, _) in &wanted {
                held.flag.store(false, Ordering::Release);
            }
            released.extend(wanted.iter().map(|(n, _, _)| n.clone()));
            released.push(format!("{PRESENCE}{}", shared.holder));
        } else {
            released.extend(round(shared, &wanted));
        }
        for name in released {
            let _ = shared.store.release_lease(&name, &shared.holder);
        }
        state = shared.lock();
        if stopping {
            return;
        }
        if state.released.is_empty() && !state.stopping && same_names(&state.wanted, &wanted) {
            state = shared
                .wake
                .wait_timeout(state, shared.ttl / 3)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Renews or takes what this process should hold; returns the shared units to give up.
fn round(shared: &Shared, wanted: &[Wanted]) -> Vec<String> {
    let ttl = chrono::Duration::from_std(shared.ttl).unwrap_or(chrono::Duration::seconds(60));
    let take = |name: &str| {
        let now = Utc::now();
        match shared
            .store
            .acquire_lease(name, &shared.holder, now, now + ttl)
        {
            Ok(ok) => ok,
            Err(e) => {
                // Unreachable store: work nothing rather than work blind.
                tracing::warn!(lease = %name, error = %e, "cannot renew a lease; its work pauses");
                false
            }
        }
    };
    // Acquisitions below happen after this instant, so each lease lasts at least until it
    // plus the lease time; trusted for nine tenths of that.
    let round_start = now_ms();
    let trusted_ms = u64::try_from(shared.ttl.as_millis() * 9 / 10).unwrap_or(u64::MAX);
    let set = |name: &str, held: &Held, ok: bool| {
        if ok {
            held.trusted_until_ms
                .store(round_start.saturating_add(trusted_ms), Ordering::Release);
        }
        if held.flag.swap(ok, Ordering::AcqRel) != ok {
            tracing::info!(lease = %name, holder = %shared.holder, held = ok, "lease changed hands");
        }
    };
    let mut excess = Vec::new();
    let units: Vec<&Wanted> = wanted.iter().filter(|w| w.2).collect();
    if !units.is_empty() && take(&format!("{PRESENCE}{}", shared.holder)) {
        let live = live_processes(shared).max(1);
        // Each kind of unit (the name up to its first `:`: `collect`, `detect`) is shared out
        // on its own, so that every process gets its part of each kind of work.
        let mut kinds: BTreeMap<&str, Vec<&Wanted>> = BTreeMap::new();
        for w in units {
            kinds.entry(unit_kind(&w.0)).or_default().push(w);
        }
        for units in kinds.into_values() {
            share_out(&units, live, &take, &set, &mut excess);
        }
    } else {
        for (name, held, _) in units {
            set(name, held, false);
        }
    }
    for (name, held, _) in wanted.iter().filter(|w| !w.2) {
        set(name, held, take(name));
    }
    excess
}

/// The kind of a shared unit: its name up to the first `:`.
fn unit_kind(name: &str) -> &str {
    name.split_once(':').map_or(name, |(kind, _)| kind)
}

/// Holds at most a fair share of `units` (their number divided by the live processes, rounded
/// up): renews what is held first (in name order), giving up what is over the share (pushed to
/// `excess`), then takes free or expired units up to the share.
fn share_out(
    units: &[&Wanted],
    live: usize,
    take: &dyn Fn(&str) -> bool,
    set: &dyn Fn(&str, &Held, bool),
    excess: &mut Vec<String>,
) {
    let share = units.len().div_ceil(live);
    let mut holding = 0;
    for (name, held, _) in units.iter().copied() {
        if held.flag.load(Ordering::Acquire) {
            if holding < share && take(name) {
                set(name, held, true);
                holding += 1;
            } else {
                if holding >= share {
                    excess.push(name.clone());
                }
                set(name, held, false);
            }
        }
    }
    // Then take free or expired units up to the share.
    for (name, held, _) in units.iter().copied() {
        if holding >= share {
            break;
        }
        if !held.flag.load(Ordering::Acquire) && take(name) {
            set(name, held, true);
            holding += 1;
        }
    }
}

/// Processes whose presence lease is live (this one included once it has renewed its own).
fn live_processes(shared: &Shared) -> usize {
    // The store's time, which leases are measured by (the server's, for PostgreSQL).
    let now = shared.store.lease_time().unwrap_or_else(|_| Utc::now());
    shared.store.leases().map_or(1, |all| {
        all.iter()
            .filter(|l| l.name.starts_with(PRESENCE) && l.until > now)
            .count()
    })
}

fn same_names(now: &BTreeMap<String, (Arc<Held>, bool)>, seen: &[Wanted]) -> bool {
    now.len() == seen.len() && now.keys().zip(seen).all(|(a, (b, _, _))| a == b)
}
