//! WAL checkpoints, mostly on a thread of their own.
//!
//! A checkpoint copies the WAL's pages back into the database file and syncs both files. Run by
//! SQLite's automatic checkpointing, it happens inside the commit that crossed the threshold,
//! while the store's single writer holds the connection: every other blob waits for tens of
//! megabytes to be copied and synced. Measured on `bench ingest` (10,000-user week), with the
//! syncs skipped altogether (`synchronous=OFF`, not an option): 38 k records/s against 30.5 k.
//!
//! So the bulk of each checkpoint is copied by this thread, on a connection of its own, while
//! the writer goes on appending (a PASSIVE checkpoint never waits for the writer). But the WAL
//! only starts over once everything in it is copied, and the writer keeps adding to it: when
//! what is left is small, the writer copies the rest itself, between two of its transactions,
//! and the WAL restarts. See [`Checkpointer::after_commit`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};

use crate::StoreError;

/// WAL pages (4 KiB) from which the WAL is checkpointed (256 MiB): fewer, larger checkpoints
/// write each hot index page once for many commits (16,384 → 65,536 in `bench ingest`: 6.2 →
/// 5.1 KB written per record).
const CHECKPOINT_PAGES: i64 = 65_536;

/// Pages not yet copied above which the thread copies them; at or below, the writer finishes.
const BULK_PAGES: i64 = 4_096;

/// When checkpoints happen, in WAL pages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds {
    /// WAL size from which it is checkpointed.
    pub pages: i64,
    /// Pages not yet copied above which the thread copies them; at or below, the writer does.
    pub bulk: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            pages: CHECKPOINT_PAGES,
            bulk: BULK_PAGES,
        }
    }
}

#[derive(Default)]
struct Shared {
    /// The thread is asked to copy, or is copying.
    busy: AtomicBool,
    /// Set when the store closes.
    stop: AtomicBool,
    /// WAL pages after the writer's last commit (from the WAL hook).
    pages: AtomicI64,
    /// WAL pages the thread's last checkpoint copied.
    copied: AtomicI64,
    /// Checkpoints the thread completed, by SQLite's account (for tests).
    passes: AtomicI64,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shared {
    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.wake.notify_all();
    }

    /// Waits for the thread's checkpoint in progress, if any, to end.
    fn wait_idle(&self) {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.busy.load(Ordering::Acquire) && !self.stop.load(Ordering::Acquire) {
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The checkpoint thread of a file-backed store; stopped when dropped.
pub(super) struct Checkpointer {
    at: Thresholds,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`, and hooks the writer's connection
    /// (whose automatic checkpoints this replaces) to count its WAL pages.
    pub(super) fn start(
        writer: &mut Connection,
        path: &Path,
        at: Thresholds,
    ) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        // A connection learns the database is in WAL mode when it first reads it; until then a
        // checkpoint does nothing (and says so only with -1s).
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "the database is not in WAL mode (journal mode {mode})"
            )));
        }
        let shared = Arc::new(Shared::default());
        let hook = Arc::clone(&shared);
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            let pages = i64::from(pages);
            // Fewer pages than last time: the WAL started over, and none of it is copied.
            if pages < hook.pages.swap(pages, Ordering::Relaxed) {
                hook.copied.store(0, Ordering::Relaxed);
            }
            Ok(())
        }))?;
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("skylight-checkpoint".into())
            .spawn(move || run(&conn, &state))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            at,
            shared,
            thread: Some(thread),
        })
    }

    /// Called by the writer after each commit, on its connection: once the WAL is large enough,
    /// hands the copying to the thread while much is left, and finishes it itself (so that the
    /// WAL can start over) once little is, or once the WAL is twice the threshold.
    pub(super) fn after_commit(&self, writer: &Connection) {
        let s = &self.shared;
        let pages = s.pages.load(Ordering::Relaxed);
        if pages < self.at.pages {
            return;
        }
        let outgrown = pages >= 2 * self.at.pages;
        if s.busy.load(Ordering::Acquire) {
            if !outgrown {
                return;
            }
            // The writer has outrun the thread: wait for its pass, then copy the rest (what
            // SQLite's own checkpointing would have done from the start).
            s.wait_idle();
        }
        let copied = s.copied.load(Ordering::Relaxed);
        // The thread copies while much is left, unless the WAL has grown to twice the threshold:
        // then the writer copies the rest, bounding the WAL.
        if pages - copied > self.at.bulk && !outgrown {
            s.busy.store(true, Ordering::Release);
            s.notify();
            return;
        }
        // PASSIVE, as SQLite's own checkpoints: a reader in another process is never waited
        // for. Once everything is copied, the writer's next transaction starts the WAL over.
        match writer.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE) {
            Ok((_, copied)) => s.copied.store(i64::from(copied), Ordering::Relaxed),
            // Another process checkpointing, say: the pages stay in the WAL, safe; next commit.
            Err(e) => tracing::debug!(error = %e, "checkpoint did not complete"),
        }
    }
}

#[cfg(test)]
impl Checkpointer {
    /// Checkpoints of the thread that copied pages.
    pub(super) fn passes(&self) -> i64 {
        self.shared.passes.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: a PASSIVE checkpoint each time the writer asks.
fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut guard = shared.lock.lock().unwrap_or_else(PoisonError::into_inner);
            while !shared.busy.load(Ordering::Acquire) && !shared.stop.load(Ordering::Acquire) {
                guard = shared
                    .wake
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        match conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE) {
            Ok((_, copied)) => {
                shared.copied.store(i64::from(copied), Ordering::Relaxed);
                if copied > 0 {
                    shared.passes.fetch_add(1, Ordering::Relaxed);
                }
            }
            // A failure (another process checkpointing, a full disk) leaves the pages in the
            // WAL, where they are safe; the writer asks again after its next commit.
            Err(e) => tracing::debug!(error = %e, "background checkpoint did not complete"),
        }
        shared.busy.store(false, Ordering::Release);
        shared.notify();
    }
}
