//! Committing blobs, with group commit.
//!
//! A blob's records arrive as a [`RecordBatch`] whose raw bytes the caller already compressed,
//! without any lock. The blob then joins a queue; whichever caller gets the connection next
//! commits every queued blob in one transaction. Each blob's records, raw chunk, rejects and done
//! marker are still in the same transaction, so the crash guarantee is unchanged, but concurrent
//! collectors share one transaction's page writes. If a group fails, its blobs are retried one by
//! one, so one blob's failure is only its own.
//!
//! Why groups are gathered on purpose ([`Gathering`]): the time-led de-duplication key (and,
//! before schema 17, the user and address indexes led by the hour) spreads one blob's records
//! over most of that hour's index pages, and a transaction writes every page it touched to the
//! WAL in full (4 KiB) however few entries it changed. Committed blob by blob, a 10,000-user week
//! wrote 9 KB per record (20 GB for a 1.1 GB database). The pages are the same for every blob of
//! that hour, so a transaction holding many blobs writes each of them once.

mod rows;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::{Transaction, TransactionBehavior, params};
use skylight_model::{BlobRef, CommitStats, ContentType};

use self::rows::{Row, Rows};
use super::{Inner, ct_code, ensure_tenant, len_i64, to_ns};
use crate::StoreError;
use crate::batch::{RecordBatch, SealedBatch, decode_chunk, encode_chunk};

const INSERT_RECORD: &str = "INSERT OR IGNORE INTO records \
    (tenant_id, creation_ms, hour, record_key, content_type, record_type, workload, operation, user_id, client_ip, chunk_id, chunk_pos, \
     app, category, actor_kind, outcome, flags, user_agent, country, city, asn, isp, ip_tags, device_type, client_app, os) \
    VALUES (?1, ?2, ?2 / 3600000, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)";

pub(super) const MARK_DONE: &str = "INSERT OR IGNORE INTO done_blobs \
    (tenant, content_type, content_id, created_ns, done_ns, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Entries of the string cache before it is emptied (bounds memory on tenants with very many
/// distinct values, such as IPv6 client addresses; a miss costs one index lookup).
const STRING_CACHE_LIMIT: usize = 200_000;

/// Records a gathered group aims for: past this, it is committed without waiting longer.
const GROUP_RECORDS: usize = 20_000;
/// Longest a blob waits for others to join its group, counted from the oldest blob queued.
const GROUP_WAIT: Duration = Duration::from_millis(250);
/// A group is committed once no blob joined it for this long (its producers are all waiting).
/// Short, because while every producer waits the CPU idles: 25 ms made groups only 7–8 % larger
/// (a 10,000-user week: 940–990 transactions against 1,030–1,050), and 5 ms, with parsing bounded
/// to the cores, ingested 8 % faster.
const GROUP_QUIET: Duration = Duration::from_millis(5);

/// Blobs waiting for the connection, gathered into groups.
///
/// A blob that arrives while nothing is queued or committing is committed at once (one writer,
/// e.g. an import, never waits). One that arrives while others are queued or a commit runs is
/// evidence of concurrent writers: it waits, for at most [`GROUP_WAIT`], while more blobs keep
/// joining (each within [`GROUP_QUIET`] of the last) and the group is under [`GROUP_RECORDS`].
#[derive(Default)]
pub(super) struct Gathering {
    queue: Mutex<Vec<Arc<Job>>>,
    /// Signalled when a blob joins and when a group has been committed.
    changed: Condvar,
    /// A group is being committed.
    committing: AtomicBool,
}

impl Gathering {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Job>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`, then waits until its group is ready to commit or someone committed it.
    pub(super) fn join(&self, job: &Arc<Job>) {
        let mut queue = self.lock();
        let concurrent = !queue.is_empty() || self.committing.load(Ordering::Acquire);
        queue.push(Arc::clone(job));
        self.changed.notify_all();
        if !concurrent {
            return;
        }
        loop {
            if job.has_outcome() {
                return;
            }
            let (Some(oldest), Some(newest)) = (queue.first(), queue.last()) else {
                return;
            };
            let records: usize = queue.iter().map(|j| j.rows.rows.len()).sum();
            let ready_at = (oldest.queued + GROUP_WAIT).min(newest.queued + GROUP_QUIET);
            let now = Instant::now();
            if records >= GROUP_RECORDS || now >= ready_at {
                return;
            }
            queue = self
                .changed
                .wait_timeout(queue, ready_at - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Takes every queued job; a commit counts as running until the guard is dropped, which
    /// wakes those waiting for the jobs' outcomes (even if the commit panicked).
    pub(super) fn take(&self) -> (Vec<Arc<Job>>, Committing<'_>) {
        let mut queue = self.lock();
        self.committing.store(true, Ordering::Release);
        (std::mem::take(&mut *queue), Committing(self))
    }
}

/// A group being committed (see [`Gathering::take`]).
pub(super) struct Committing<'a>(&'a Gathering);

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let _queue = self.0.lock();
        self.0.committing.store(false, Ordering::Release);
        self.0.changed.notify_all();
    }
}

/// A blob waiting to be committed, and then its outcome.
pub(super) struct Job {
    tenant: String,
    content_type: i64,
    blob: BlobRef,
    batch: SealedBatch,
    /// The batch's rows, made ready (its columns are taken into them).
    rows: Rows,
    /// When it joined the queue.
    queued: Instant,
    outcome: Mutex<Option<Result<CommitStats, StoreError>>>,
}

impl Job {
    /// Closes the batch's frame (the last compression step) and makes its rows: what needs no
    /// lock.
    pub(super) fn prepare(
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        batch: RecordBatch,
    ) -> Result<Job, StoreError> {
        let mut batch = batch.seal()?;
        // The rows hold all the columns say: the columns need not wait for the writer too.
        let rows = Rows::prepare(&std::mem::take(&mut batch.columns));
        Ok(Job {
            tenant: tenant.to_owned(),
            content_type: ct_code(ct),
            blob: blob.clone(),
            rows,
            batch,
            queued: Instant::now(),
            outcome: Mutex::new(None),
        })
    }

    fn has_outcome(&self) -> bool {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The outcome, once a commit has run for this job.
    pub(super) fn take_outcome(&self) -> Option<Result<CommitStats, StoreError>> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn set_outcome(&self, outcome: Result<CommitStats, StoreError>) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }
}

/// Ids of `strings` rows: those known to be committed, and those added by the open transaction.
struct StringIds<'a> {
    committed: &'a HashMap<String, i64>,
    pending: HashMap<String, i64>,
}

impl StringIds<'_> {
    /// The id of `value`, added to `strings` if new.
    fn id(&mut self, tx: &Transaction<'_>, value: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self
            .committed
            .get(value)
            .or_else(|| self.pending.get(value))
        {
            return Ok(*id);
        }
        let found = tx
            .prepare_cached("SELECT id FROM strings WHERE value = ?1")?
            .query_row([value], |r| r.get(0));
        let id = match found {
            Ok(id) => id,
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                tx.prepare_cached("INSERT INTO strings (value) VALUES (?1)")?
                    .execute([value])?;
                tx.last_insert_rowid()
            }
            Err(e) => return Err(e),
        };
        self.pending.insert(value.to_owned(), id);
        Ok(id)
    }
}

impl Inner {
    /// Commits queued jobs, together if possible, and sets each one's outcome.
    pub(super) fn commit_jobs(&mut self, jobs: &[Arc<Job>]) {
        if jobs.len() > 1
            && let Ok(all) = self.commit_together(jobs)
        {
            for (job, stats) in jobs.iter().zip(all) {
                job.set_outcome(Ok(stats));
            }
            return;
        }
        for job in jobs {
            let outcome = self
                .commit_together(std::slice::from_ref(job))
                .map(|s| s.into_iter().next().unwrap_or_default());
            job.set_outcome(outcome);
        }
    }

    /// One transaction for all the jobs; stats per job.
    fn commit_together(&mut self, jobs: &[Arc<Job>]) -> Result<Vec<CommitStats>, StoreError> {
        let now = Utc::now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new_tenants = Vec::new();
        let mut strings = StringIds {
            committed: &self.strings,
            pending: HashMap::new(),
        };
        let mut all = Vec::with_capacity(jobs.len());
        for job in jobs {
            let tenant_id = match self.tenants.get(&job.tenant) {
                Some(id) => *id,
                None => {
                    let id = ensure_tenant(&tx, &job.tenant)?;
                    new_tenants.push((job.tenant.clone(), id));
                    id
                }
            };
            all.push(insert_job(&tx, tenant_id, job, now, &mut strings)?);
        }
        tx.commit()?;
        // Only now: a rolled-back transaction may have created these rows.
        let pending = strings.pending;
        if self.strings.len() + pending.len() > STRING_CACHE_LIMIT {
            self.strings.clear();
        }
        self.strings.extend(pending);
        self.tenants.extend(new_tenants);
        Ok(all)
    }
}

fn insert_job(
    tx: &Transaction<'_>,
    tenant_id: i64,
    job: &Job,
    now: chrono::DateTime<Utc>,
    strings: &mut StringIds<'_>,
) -> Result<CommitStats, StoreError> {
    let mut stats = CommitStats::default();
    let batch = &job.batch;
    let rows = &job.rows.rows;
    if !rows.is_empty() {
        // Retention deletes a chunk once its latest record is past the cutoff.
        let times = rows.iter().map(|r| r.creation_ms);
        let (min_ms, max_ms) = (times.clone().min(), times.max());
        // The chunk's data is a segment of its own until it is sealed (`segments.rs`).
        tx.prepare_cached("INSERT INTO raw_segments (data, raw_len) VALUES (?1, ?2)")?
            .execute(params![batch.chunk, len_i64(batch.raw_len)])?;
        let segment_id = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO raw_chunks (tenant_id, data, raw_len, stored_ms, min_ms, max_ms, \
             content_type, segment_id, segment_offset) VALUES (?1, X'', ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        )?
        .execute(params![
            tenant_id,
            len_i64(batch.raw_len),
            now.timestamp_millis(),
            min_ms,
            max_ms,
            job.content_type,
            segment_id
        ])?;
        let chunk_id = tx.last_insert_rowid();
        // The ids of the job's strings, each looked up once.
        let ids = job
            .rows
            .strings
            .iter()
            .map(|s| strings.id(tx, s))
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        // (row id, position in the chunk) of each record stored; positions of duplicates.
        let mut stored = Vec::with_capacity(rows.len());
        let mut skipped = Vec::new();
        let mut insert = tx.prepare_cached(INSERT_RECORD)?;
        for (pos, row) in rows.iter().enumerate() {
            if insert_record(
                &mut insert,
                &ids,
                (tenant_id, job.content_type),
                (chunk_id, pos),
                row,
            )? {
                stored.push((tx.last_insert_rowid(), pos));
            } else {
                skipped.push(pos);
            }
        }
        stats.inserted = stored.len() as u64;
        stats.duplicates = skipped.len() as u64;
        if !skipped.is_empty() {
            drop_duplicates(tx, (chunk_id, segment_id), batch, &stored)?;
        }
        tx.prepare_cached(
            "INSERT INTO record_counts (tenant_id, content_type, records) VALUES (?1, ?2, ?3) \
             ON CONFLICT (tenant_id, content_type) DO UPDATE SET records = records + excluded.records",
        )?
        .execute(params![tenant_id, job.content_type, len_i64(stored.len())])?;
        // The days whose lookups get entries to pack (`lookup_days.rs`), from the second day of
        // 1970 (hour 0 holds the records without a time); a blob's records are of a day or two.
        let days: std::collections::BTreeSet<i64> = stored
            .iter()
            .filter_map(|&(_, pos)| Some(rows.get(pos)?.creation_ms))
            .filter(|&ms| ms >= 86_400_000)
            .map(|ms| ms / 86_400_000)
            .collect();
        let mut pending = tx.prepare_cached(
            "INSERT INTO lookup_days_pending (day, touched_ms) VALUES (?1, ?2) \
             ON CONFLICT (day) DO UPDATE SET touched_ms = excluded.touched_ms",
        )?;
        for day in days {
            pending.execute(params![day, now.timestamp_millis()])?;
        }
    }
    for r in &batch.rejected {
        tx.prepare_cached(
            "INSERT INTO quarantine (tenant, source, reason, raw, raw_len, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![job.tenant, job.blob.content_id, r.reason, r.packed, len_i64(r.raw_len), to_ns(now)])?;
    }
    tx.prepare_cached(MARK_DONE)?.execute(params![
        job.tenant,
        job.content_type,
        job.blob.content_id,
        to_ns(job.blob.created),
        to_ns(now),
        len_i64(rows.len()),
    ])?;
    Ok(stats)
}

/// Inserts one record's row (`ids`: those of the job's strings, in their order); false if the
/// store already holds it.
fn insert_record(
    insert: &mut rusqlite::CachedStatement<'_>,
    ids: &[i64],
    (tenant_id, content_type): (i64, i64),
    (chunk_id, pos): (i64, usize),
    row: &Row,
) -> Result<bool, StoreError> {
    let id = |index: Option<usize>| -> Result<Option<i64>, StoreError> {
        index
            .map(|i| {
                ids.get(i).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("string {i} of a row is not among its job's"))
                })
            })
            .transpose()
    };
    let [
        workload,
        operation,
        user,
        ip,
        user_agent,
        country,
        city,
        isp,
        ip_tags,
        device_type,
        client_app,
        os,
    ] = row.strings;
    let changed = insert.execute(params![
        tenant_id,
        row.creation_ms,
        row.key,
        content_type,
        row.record_type,
        id(workload)?,
        id(operation)?,
        id(user)?,
        match row.inline_ip {
            Some(inline) => Some(inline),
            None => id(ip)?,
        },
        chunk_id,
        len_i64(pos),
        row.app,
        row.category,
        row.actor_kind,
        row.outcome,
        row.flags,
        id(user_agent)?,
        id(country)?,
        id(city)?,
        row.asn,
        id(isp)?,
        id(ip_tags)?,
        id(device_type)?,
        id(client_app)?,
        id(os)?,
    ])?;
    Ok(changed == 1)
}

/// Rewrites a chunk without the records that were already stored (so that no raw record is kept
/// twice), and moves the positions of the rows that point into it. Rare: only blobs that repeat
/// records of earlier blobs pay for it.
fn drop_duplicates(
    tx: &Transaction<'_>,
    (chunk_id, segment_id): (i64, i64),
    batch: &SealedBatch,
    stored: &[(i64, usize)],
) -> Result<(), StoreError> {
    if stored.is_empty() {
        tx.prepare_cached("DELETE FROM raw_chunks WHERE id = ?1")?
            .execute([chunk_id])?;
        tx.prepare_cached("DELETE FROM raw_segments WHERE id = ?1")?
            .execute([segment_id])?;
        return Ok(());
    }
    let what = format!("the chunk of blob {chunk_id}");
    let chunk = decode_chunk(&batch.chunk, len_i64(batch.raw_len), &what)?;
    let kept = stored
        .iter()
        .map(|&(_, pos)| {
            chunk
                .get(pos)
                .ok_or_else(|| StoreError::Corrupt(format!("{what}: no record {pos}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (packed, raw_len) = encode_chunk(kept)?;
    tx.prepare_cached("UPDATE raw_segments SET data = ?2, raw_len = ?3 WHERE id = ?1")?
        .execute(params![segment_id, packed, len_i64(raw_len)])?;
    tx.prepare_cached("UPDATE raw_chunks SET raw_len = ?2 WHERE id = ?1")?
        .execute(params![chunk_id, len_i64(raw_len)])?;
    let mut moved = tx.prepare_cached("UPDATE records SET chunk_pos = ?2 WHERE id = ?1")?;
    for (new_pos, &(row, old_pos)) in stored.iter().enumerate() {
        if new_pos != old_pos {
            moved.execute(params![row, len_i64(new_pos)])?;
        }
    }
    Ok(())
}
