//! The embedded backend: one SQLite database, `skylight.db`, in the data directory.
//!
//! The schema is in `sqlite/migrations/*.sql` (one file per version; see the conventions at the
//! top of the first), applied by `migrations`. One connection behind a mutex serves every write
//! and most reads; a second one serves the long reads (the activity log's queries, detection's
//! walk of new activities) beside the writer. SQLite's WAL mode lets other connections and
//! processes (e.g. `skylight status`) read while a collector writes.
//! `commit` holds the write path (compression outside the lock, group commit).

mod access;
pub(crate) mod address;
mod checkpoint;
mod commit;
mod connectors;
mod deliveries;
mod detection;
mod directory;
mod files;
mod governance;
mod ledger;
mod lookup_days;
mod lookups;
mod migrations;
mod query;
pub(crate) mod segments;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use skylight_model::{
    BlobRef, CommitStats, ConnectorState, ConnectorStatus, ContentType, Gap, LedgerDay,
};

use self::commit::{Job, MARK_DONE};
pub use self::lookup_days::Packed;
pub use self::query::searchable_text;
use crate::convert::{from_count, from_ns, to_count, to_ns};
use crate::{RecordBatch, Store, StoreError};
/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);
/// Page size of new databases (SQLite's default, stated so that the figures below hold). Small
/// pages suit small transactions whose inserts land on random index pages.
const PAGE_SIZE: i64 = 4096;
/// Page cache per connection, in KiB. Inserts land near the end of each index and queries seek
/// a few pages, so a small cache does as well as a large one, the operating system's cache
/// behind it: 16 MiB instead of 64 took 55 MB off the peak RSS of `bench ingest --detect` at the
/// same throughput, and `bench query` on 11 million activities measured the same latencies.
const CACHE_KIB: i64 = 16 * 1024;
/// Page cache of the reading connection, in KiB: it mostly reads what was just written (still
/// in the operating system's cache), and peak RSS with detection is close to its target.
const READER_CACHE_KIB: i64 = 4 * 1024;
/// Size the WAL file is truncated to when it starts over, in bytes: above the most it reaches
/// in normal running (checkpointed from 256 MiB, wholly by the writer at twice that; see
/// `sqlite/checkpoint.rs`), so that it keeps its size. Truncated to 64 MiB, every round of the
/// WAL grew the file again, and the file system zeroed each new page around the WAL's frames
/// (4 KiB and a 24-byte header, so never page-aligned) inside the writer's commits: 5 % of
/// Skylight's samples in `bench ingest`. Kept, the WAL is written over pages already in the
/// page cache: 8–13 % more records per second with the simulator's blobs built beforehand,
/// 5–9 % without. The price is up to about half a gigabyte of WAL on disk while a busy store
/// is open (it goes when the store closes).
const WAL_LIMIT: i64 = 640 * 1024 * 1024;

/// The SQLite store.
///
/// `Send + Sync`; every method blocks (async callers use `spawn_blocking`). Records are
/// compressed before the connection is locked, so concurrent commits compress in parallel, and
/// blobs committed concurrently share one transaction (group commit).
pub struct SqliteStore {
    /// Checkpoints the WAL beside the writer (file-backed stores); stopped first when dropped.
    checkpointer: Option<checkpoint::Checkpointer>,
    /// The connection for long reads (file-backed stores; in memory, `inner` serves them).
    /// Behind the writer's mutex, detection's reads held up the commits (and a console query,
    /// the collector): with a connection of their own, `bench ingest --detect` collected 20 %
    /// more records per second. Closed before the writer's, so that the writer is the last
    /// connection and removes the WAL.
    reader: Option<Mutex<Inner>>,
    inner: Mutex<Inner>,
    /// Blobs waiting for the connection, gathered into groups (see `commit`).
    queue: commit::Gathering,
    /// The database file (`None` in memory).
    path: Option<PathBuf>,
}

struct Inner {
    conn: Connection,
    /// Tenant name → `tenants.id`, filled after commits (tenants are never deleted).
    tenants: HashMap<String, i64>,
    /// `strings.value` → `strings.id`, filled after commits (strings are never deleted).
    strings: HashMap<String, i64>,
    /// This connection has committed records: at close it fills the lookups (a process that
    /// only reads, such as `skylight activities`, leaves them to the writer).
    wrote_records: bool,
    /// When this connection last filled the lookups (or opened the store).
    lookups_filled: std::time::Instant,
    /// When this connection last looked for chunks to seal.
    sealed_at: std::time::Instant,
    /// When this connection last looked for days of lookups to pack.
    packed_at: std::time::Instant,
    /// Chunks whose data cannot be read, which this connection does not try to seal again.
    unsealable: segments::Unsealable,
    /// Compresses segments beside the writer.
    sealer: segments::Sealer,
    /// When to look for the next group to seal, after a segment written (`None`: at most
    /// every `SEAL_EVERY` after `sealed_at`).
    seal_next_at: Option<std::time::Instant>,
    /// When this connection's retention last deleted every segment left without chunks.
    segments_swept: Option<std::time::Instant>,
}

impl Inner {
    fn new(conn: Connection) -> Inner {
        Inner {
            conn,
            tenants: HashMap::new(),
            strings: HashMap::new(),
            wrote_records: false,
            lookups_filled: std::time::Instant::now(),
            sealed_at: std::time::Instant::now(),
            packed_at: std::time::Instant::now(),
            unsealable: segments::Unsealable::new(),
            sealer: segments::Sealer::default(),
            seal_next_at: None,
            segments_swept: None,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A store closed by its writer has every record looked up, so that its queries scan no
        // records after the lookups (at most a batch); an error leaves them to the next writer.
        if self.wrote_records
            && let Err(e) = self.catch_up_lookups(1)
        {
            tracing::warn!(error = %e, "cannot fill the user, address and operation lookups");
        }
        // Keeps the query planner's statistics fresh; bounded work, errors don't matter here.
        let _ = self.conn.execute_batch("PRAGMA optimize;");
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &'static str = "skylight.db";

    /// The schema version this build creates and understands.
    pub const SCHEMA_VERSION: i64 = migrations::MIGRATIONS.len() as i64;

    /// Opens the store in `dir` (created if needed), creating or migrating the database.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] if a newer Skylight wrote the database.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(dir, checkpoint::Thresholds::default())
    }

    fn open_with(dir: &Path, at: checkpoint::Thresholds) -> Result<SqliteStore, StoreError> {
        let io = |source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(Self::FILE_NAME);
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(io(std::io::Error::other(format!(
                "SQLite cannot use write-ahead logging here (journal mode stays {mode}); use a local disk"
            ))));
        }
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT)?;
        Self::setup(conn, Some((path, at)))
    }

    /// Opens a private in-memory store (for tests and dry runs): gone when dropped.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(
        mut conn: Connection,
        file: Option<(PathBuf, checkpoint::Thresholds)>,
    ) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(64);
        lookup_days::register(&conn)?;
        refuse_pre_release_layout(&conn)?;
        migrations::migrate(&mut conn, migrations::MIGRATIONS)?;
        let (checkpointer, reader, path) = match file {
            Some((path, at)) => (
                Some(checkpoint::Checkpointer::start(&mut conn, &path, at)?),
                Some(Mutex::new(Inner::new(Self::reader(&path)?))),
                Some(path),
            ),
            None => (None, None, None),
        };
        Ok(SqliteStore {
            checkpointer,
            reader,
            inner: Mutex::new(Inner::new(conn)),
            queue: commit::Gathering::default(),
            path,
        })
    }

    /// The reading connection: the schema is the writer's business, and `query_only` makes sure
    /// this one never writes.
    fn reader(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        lookup_days::register(&conn)?;
        Ok(conn)
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The database's schema version (equal to [`SqliteStore::SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        migrations::user_version(&self.lock().conn)
    }

    /// Seals every raw chunk due at `now` into segments, however long it takes (a writer does
    /// it a little at a time after its commits; `bench ingest` does it all at once to report
    /// what a store of closed periods takes).
    pub fn seal_chunks(&self, now: DateTime<Utc>) -> Result<segments::Sealed, StoreError> {
        self.lock().seal_chunks(now.timestamp_millis())
    }

    /// Packs the lookups of every day due at `now` into lists, however long it takes (a writer
    /// does it a little at a time after its commits; `bench ingest` does it all at once to
    /// report what a store of closed periods takes).
    pub fn pack_lookups(&self, now: DateTime<Utc>) -> Result<Packed, StoreError> {
        self.lock().pack_lookups(now.timestamp_millis(), None)
    }

    /// Bytes of the database file in use: its pages less the free ones (space freed by sealing
    /// or retention, which later writes reuse before the file grows).
    pub fn bytes_in_use(&self) -> Result<u64, StoreError> {
        let conn = &self.lock().conn;
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        let size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
    }

    /// Runs `f` on the store's connection (for `migrate`, which reads the tables directly).
    pub(crate) fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock().conn)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back on
        // drop), so the connection is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection for a long read: the reading one if there is one.
    fn read(&self) -> MutexGuard<'_, Inner> {
        match &self.reader {
            Some(reader) => reader.lock().unwrap_or_else(PoisonError::into_inner),
            None => self.lock(),
        }
    }

    /// Runs `f` on the reading connection inside one read transaction: its statements see one
    /// snapshot, where a commit or retention between two of them (a row, then its raw record)
    /// would otherwise show.
    fn read_snapshot<T>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let inner = self.read();
        let snapshot = inner.conn.unchecked_transaction()?;
        let out = f(&inner);
        drop(snapshot);
        out
    }
}

/// Development builds before 2026-11-22 wrote schema 1 with a per-record layout that was
/// replaced before any release: say so instead of failing in a later migration.
fn refuse_pre_release_layout(conn: &Connection) -> Result<(), StoreError> {
    let ours = conn.pragma_query_value(None, "application_id", |r| r.get::<_, i64>(0))?
        == migrations::APPLICATION_ID;
    if !ours || migrations::user_version(conn)? < 1 {
        return Ok(()); // a foreign database is refused by `migrate`, with its own message
    }
    let chunks: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'raw_chunks'",
        [],
        |r| r.get(0),
    )?;
    if chunks == 0 {
        return Err(StoreError::Corrupt(
            "this data directory was written by a development build of Skylight from before its first release, in a layout that no longer exists; move it aside and collect again".into(),
        ));
    }
    Ok(())
}

/// The stored code of a content type (the `content_types` table).
fn ct_code(ct: ContentType) -> i64 {
    match ct {
        ContentType::AzureActiveDirectory => 1,
        ContentType::Exchange => 2,
        ContentType::SharePoint => 3,
        ContentType::General => 4,
        ContentType::Dlp => 5,
    }
}

fn ct_from_code(code: i64) -> Result<ContentType, StoreError> {
    Ok(match code {
        1 => ContentType::AzureActiveDirectory,
        2 => ContentType::Exchange,
        3 => ContentType::SharePoint,
        4 => ContentType::General,
        5 => ContentType::Dlp,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "unknown content type code {code}"
            )));
        }
    })
}

fn state_name(state: ConnectorState) -> &'static str {
    match state {
        ConnectorState::Pending => "pending",
        ConnectorState::Backfilling => "backfilling",
        ConnectorState::Healthy => "healthy",
        ConnectorState::Error => "error",
    }
}

fn state_from_name(name: &str) -> Result<ConnectorState, StoreError> {
    Ok(match name {
        "pending" => ConnectorState::Pending,
        "backfilling" => ConnectorState::Backfilling,
        "healthy" => ConnectorState::Healthy,
        "error" => ConnectorState::Error,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "unknown connector state {name:?}"
            )));
        }
    })
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// How a record Id is stored: a lowercase GUID as its 16 bytes, anything else as text.
fn record_key(id: &str) -> Value {
    guid_bytes(id).map_or_else(|| Value::Text(id.to_owned()), |b| Value::Blob(b.to_vec()))
}

/// The record Id a stored key stands for.
pub(crate) fn id_from_key(key: ValueRef<'_>) -> Result<String, StoreError> {
    match key {
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) if b.len() == 16 => {
            // Every stored GUID is read back this way, millions of times when detection or an
            // export walks the store: written out by hand rather than through `format!`.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut out = String::with_capacity(36);
            for (i, x) in b.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push('-');
                }
                out.push(char::from(HEX[usize::from(x >> 4)]));
                out.push(char::from(HEX[usize::from(x & 0xf)]));
            }
            Ok(out)
        }
        other => Err(StoreError::Corrupt(format!(
            "a record key of type {}",
            other.data_type()
        ))),
    }
}

/// The 16 bytes of a GUID written `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex; `None`
/// for any other text (which must round-trip exactly, so uppercase stays text).
fn guid_bytes(id: &str) -> Option<[u8; 16]> {
    let b = id.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for byte in &mut out {
        let hi = nibble(*digits.next()?)?;
        let lo = nibble(*digits.next()?)?;
        *byte = hi << 4 | lo;
    }
    Some(out)
}

/// The id of a tenant, created if new (inside the caller's transaction).
fn ensure_tenant(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO tenants (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?
        .execute([name])?;
    conn.prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}

/// Takes a lease that is free, expired (`until_ns <= ?4`) or the holder's own; changes no row
/// (so reports 0) when someone else holds it.
const LEASE_UPSERT: &str = "INSERT INTO leases (name, holder, until_ns) VALUES (?1, ?2, ?3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns \
     WHERE leases.holder = excluded.holder OR leases.until_ns <= ?4";

/// `tenant_id` of a tenant name inside a query (NULL, so nothing matches, if unknown).
const TENANT_ID: &str = "(SELECT id FROM tenants WHERE name = ?1)";

impl Store for SqliteStore {
    fn commit_batch(
        &self,
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        batch: RecordBatch,
    ) -> Result<CommitStats, StoreError> {
        let job = Arc::new(Job::prepare(tenant, ct, blob, batch)?);
        self.queue.join(&job);
        if let Some(outcome) = job.take_outcome() {
            return outcome;
        }
        let mut inner = self.lock();
        // Whoever committed our job did so while holding the connection, so its outcome is set
        // by now; otherwise the job is still queued and we commit it, with whatever joined it.
        if let Some(outcome) = job.take_outcome() {
            return outcome;
        }
        let (jobs, committing) = self.queue.take();
        inner.commit_jobs(&jobs);
        inner.wrote_records = true;
        drop(committing);
        // Outside the group's transaction and after its outcomes are set: the group's other
        // blobs do not wait for it (this caller, the next group and queries do, a batch's time).
        inner.catch_up_lookups_if_due();
        inner.seal_if_due();
        inner.pack_lookups_if_due();
        if let Some(c) = &self.checkpointer {
            c.after_commit(&inner.conn);
        }
        drop(inner);
        job.take_outcome().unwrap_or_else(|| {
            // Only if the committer panicked; committing the blob again is safe either way.
            Err(StoreError::Corrupt(format!(
                "the commit of blob {} was interrupted; retry it",
                blob.content_id
            )))
        })
    }

    fn record_gap(&self, gap: &Gap) -> Result<(), StoreError> {
        let code = ct_code(gap.content_type);
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO gaps (tenant, content_type, content_id, created_ns, reason, detected_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![gap.tenant, code, gap.content_id, to_ns(gap.created), gap.reason, to_ns(gap.detected_at)])?;
        tx.prepare_cached(MARK_DONE)?.execute(params![
            gap.tenant,
            code,
            gap.content_id,
            to_ns(gap.created),
            to_ns(Utc::now()),
            Option::<i64>::None,
        ])?;
        tx.commit()?;
        Ok(())
    }

    fn quarantine(
        &self,
        tenant: &str,
        source: &str,
        reason: &str,
        raw: &[u8],
    ) -> Result<(), StoreError> {
        let packed = zstd::bulk::compress(raw, 3).map_err(|e| {
            StoreError::Corrupt(format!("cannot compress a quarantined record: {e}"))
        })?;
        let inner = self.lock();
        inner
            .conn
            .prepare_cached(
                "INSERT INTO quarantine (tenant, source, reason, raw, raw_len, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![tenant, source, reason, packed, len_i64(raw.len()), to_ns(Utc::now())])?;
        Ok(())
    }

    fn done_blobs(
        &self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT content_id FROM done_blobs WHERE tenant = ?1 AND content_type = ?2 AND created_ns >= ?3",
        )?;
        let ids = stmt
            .query_map(params![tenant, ct_code(ct), to_ns(since)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    fn prune_done(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let inner = self.lock();
        let n = inner
            .conn
            .prepare_cached("DELETE FROM done_blobs WHERE created_ns < ?1")?
            .execute([to_ns(before)])?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn watermark(
        &self,
        tenant: &str,
        ct: ContentType,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let inner = self.lock();
        let ns: Option<i64> = inner
            .conn
            .prepare_cached("SELECT ts_ns FROM watermarks WHERE tenant = ?1 AND content_type = ?2")?
            .query_row(params![tenant, ct_code(ct)], |r| r.get(0))
            .optional()?;
        Ok(ns.map(from_ns))
    }

    fn set_watermark(
        &self,
        tenant: &str,
        ct: ContentType,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let inner = self.lock();
        inner
            .conn
            .prepare_cached(
                "INSERT INTO watermarks (tenant, content_type, ts_ns) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (tenant, content_type) DO UPDATE SET ts_ns = excluded.ts_ns",
            )?
            .execute(params![tenant, ct_code(ct), to_ns(at)])?;
        Ok(())
    }

    fn content_counts(&self, tenant: &str, ct: ContentType) -> Result<(u64, u64, u64), StoreError> {
        let inner = self.lock();
        let code = ct_code(ct);
        let records: i64 = inner
            .conn
            .prepare_cached(&format!(
                "SELECT coalesce(sum(records), 0) FROM record_counts WHERE tenant_id = {TENANT_ID} AND content_type = ?2"
            ))?
            .query_row(rusqlite::params![tenant, code], |r| r.get(0))?;
        let blobs: i64 = inner
            .conn
            .prepare_cached("SELECT count(*) FROM done_blobs WHERE tenant = ?1 AND content_type = ?2 AND records IS NOT NULL")?
            .query_row(rusqlite::params![tenant, code], |r| r.get(0))?;
        let gaps: i64 = inner
            .conn
            .prepare_cached("SELECT count(*) FROM gaps WHERE tenant = ?1 AND content_type = ?2")?
            .query_row(rusqlite::params![tenant, code], |r| r.get(0))?;
        Ok((
            from_count(records, "record count")?,
            from_count(blobs, "blob count")?,
            from_count(gaps, "gap count")?,
        ))
    }

    fn record_count(&self, tenant: Option<&str>) -> Result<u64, StoreError> {
        let inner = self.lock();
        let n: i64 = match tenant {
            Some(t) => inner
                .conn
                .prepare_cached(&format!(
                    "SELECT coalesce(sum(records), 0) FROM record_counts WHERE tenant_id = {TENANT_ID}"
                ))?
                .query_row([t], |r| r.get(0))?,
            None => inner
                .conn
                .prepare_cached("SELECT coalesce(sum(records), 0) FROM record_counts")?
                .query_row([], |r| r.get(0))?,
        };
        from_count(n, "record count")
    }

    fn record_ids(&self, tenant: &str, ct: Option<ContentType>) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT record_key FROM records WHERE tenant_id = {TENANT_ID} AND (?2 IS NULL OR content_type = ?2) ORDER BY id"
        ))?;
        let mut rows = stmt.query(params![tenant, ct.map(ct_code)])?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next()? {
            ids.push(id_from_key(row.get_ref(0)?)?);
        }
        Ok(ids)
    }

    fn raw_record(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_snapshot(|inner| {
            let at: Option<(i64, i64)> = inner
                .conn
                .prepare_cached(&format!(
                    "SELECT r.chunk_id, r.chunk_pos FROM records r \
                     WHERE r.record_key = ?2 AND r.tenant_id = {TENANT_ID}"
                ))?
                .query_row(params![tenant, record_key(id)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((chunk, pos)) = at else {
                return Ok(None);
            };
            let what = format!("record {id} of tenant {tenant}");
            inner.raw_in_chunk(chunk, pos, &what).map(Some)
        })
    }

    fn ledger(&self, since: DateTime<Utc>) -> Result<Vec<LedgerDay>, StoreError> {
        ledger::ledger(&self.lock().conn, since)
    }

    fn gaps(&self, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
        type Row = (String, i64, String, i64, String, i64);
        let rows: Vec<Row> = {
            let inner = self.lock();
            let mut stmt = inner.conn.prepare_cached(
                "SELECT tenant, content_type, content_id, created_ns, reason, detected_ns FROM gaps \
                 WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, content_type, created_ns, content_id",
            )?;
            stmt.query_map([tenant], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?
        };
        rows.into_iter()
            .map(|(tenant, code, content_id, created, reason, detected)| {
                Ok(Gap {
                    tenant,
                    content_type: ct_from_code(code)?,
                    content_id,
                    created: from_ns(created),
                    reason,
                    detected_at: from_ns(detected),
                })
            })
            .collect()
    }

    fn quarantined(&self) -> Result<u64, StoreError> {
        let inner = self.lock();
        let n: i64 = inner
            .conn
            .prepare_cached("SELECT count(*) FROM quarantine")?
            .query_row([], |r| r.get(0))?;
        from_count(n, "quarantine count")
    }

    fn set_status(&self, s: &ConnectorStatus) -> Result<(), StoreError> {
        let inner = self.lock();
        inner
            .conn
            .prepare_cached(
                "INSERT INTO statuses (tenant, content_type, state, last_success_ns, watermark_ns, records, blobs, gaps, \
                 last_error, remediation, updated_ns, clock_offset_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (tenant, content_type) DO UPDATE SET state = excluded.state, \
                 last_success_ns = excluded.last_success_ns, watermark_ns = excluded.watermark_ns, \
                 records = excluded.records, blobs = excluded.blobs, gaps = excluded.gaps, \
                 last_error = excluded.last_error, remediation = excluded.remediation, updated_ns = excluded.updated_ns, \
                 clock_offset_ms = excluded.clock_offset_ms",
            )?
            .execute(params![
                s.tenant,
                ct_code(s.content_type),
                state_name(s.state),
                s.last_success.map(to_ns),
                s.watermark.map(to_ns),
                to_count(s.records),
                to_count(s.blobs),
                to_count(s.gaps),
                s.last_error,
                s.remediation,
                to_ns(s.updated_at),
                s.clock_offset_ms,
            ])?;
        Ok(())
    }

    fn activities(&self, query: &crate::ActivityQuery) -> Result<crate::ActivityPage, StoreError> {
        self.read_snapshot(|inner| inner.activities(query))
    }

    fn activity_top(
        &self,
        query: &crate::ActivityQuery,
        field: skylight_model::filter::Field,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.read_snapshot(|inner| inner.top(query, field, limit))
    }

    fn activity_histogram(
        &self,
        query: &crate::ActivityQuery,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        self.read_snapshot(|inner| inner.histogram(query, bucket_ms))
    }

    fn activity(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<Option<(skylight_model::ActivityRow, Vec<u8>)>, StoreError> {
        // The row: found through the log's own query, by Id.
        let query = crate::ActivityQuery {
            tenant: tenant.map(str::to_owned),
            filter: skylight_model::filter::Filter::default(),
            limit: 1,
            after: None,
        };
        let found = self.read_snapshot(|inner| {
            let Some(row) = inner.activity_by_id(&query, id)? else {
                return Ok(None);
            };
            // That row's own raw record: (tenant, time, Id) is the unique key, Id alone may not
            // be.
            let ms = row.time.map_or(0, |t| t.timestamp_millis());
            let (chunk, pos): (i64, i64) = inner
                .conn
                .prepare_cached(&format!(
                    "SELECT r.chunk_id, r.chunk_pos FROM records r \
                     WHERE r.tenant_id = {TENANT_ID} AND r.creation_ms = ?2 AND r.record_key = ?3"
                ))?
                .query_row(params![row.tenant, ms, record_key(id)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let what = format!("record {id} of tenant {}", row.tenant);
            let raw = inner.raw_in_chunk(chunk, pos, &what)?;
            Ok(Some((row, raw)))
        })?;
        Ok(found)
    }

    fn activities_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::StoredActivity>, StoreError> {
        self.read_snapshot(|inner| inner.activities_since(after, limit))
    }

    fn plan_detection(&self, partitions: &[String]) -> Result<(), StoreError> {
        self.lock().plan_detection(partitions)
    }

    fn detection_partitions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.lock().detection_partitions()
    }

    fn detection_state_visit(
        &self,
        partition: &str,
        visit: &mut (dyn FnMut(crate::StateEntry) -> Result<(), StoreError> + Send),
    ) -> Result<i64, StoreError> {
        self.lock().detection_state(partition, visit)
    }

    fn detection_entries_in(
        &self,
        partition: &str,
        keys: &[String],
    ) -> Result<Vec<crate::StateEntry>, StoreError> {
        self.lock().detection_entries(partition, keys)
    }

    fn commit_detection_streamed(
        &self,
        partition: &str,
        from: i64,
        progress: i64,
        alerts: &[skylight_model::AlertDraft],
        state: &mut (dyn Iterator<Item = crate::StateChange> + Send),
    ) -> Result<(), StoreError> {
        self.lock()
            .commit_detection(partition, from, progress, alerts, state)
    }

    fn stored_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT id, body FROM policies ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn put_policy(&self, id: &str, body: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO policies (id, body, updated_ns) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_ns = excluded.updated_ns",
            params![id, body, to_ns(Utc::now())],
        )?;
        tx.execute("UPDATE policy_version SET version = version + 1", [])?;
        tx.commit()?;
        Ok(())
    }

    fn delete_policy(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM policies WHERE id = ?1", [id])?;
        if n > 0 {
            tx.execute("UPDATE policy_version SET version = version + 1", [])?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    fn policy_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .conn
            .prepare_cached("SELECT version FROM policy_version")?
            .query_row([], |r| r.get(0))?)
    }

    fn detection_progress(&self) -> Result<(i64, i64), StoreError> {
        self.lock().detection_progress()
    }

    fn alerts(&self, query: &crate::AlertQuery) -> Result<Vec<skylight_model::Alert>, StoreError> {
        self.lock().alerts(query)
    }

    fn alert(&self, id: i64) -> Result<Option<skylight_model::Alert>, StoreError> {
        self.lock().alert(id)
    }

    fn update_alert(
        &self,
        id: i64,
        change: &crate::AlertChange,
    ) -> Result<Option<skylight_model::Alert>, StoreError> {
        self.lock().update_alert(id, change)
    }

    fn notification_cursor(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.lock().notification_cursor()
    }

    fn enqueue_deliveries(
        &self,
        deliveries: &[crate::NewDelivery],
        cursor: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.lock().enqueue_deliveries(deliveries, cursor)
    }

    fn take_due_deliveries(
        &self,
        channels: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::DueDelivery>, StoreError> {
        self.lock()
            .take_due_deliveries(channels, now, lease_until, limit)
    }

    fn record_delivery_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        outcome: &crate::AttemptOutcome,
    ) -> Result<Option<skylight_model::Delivery>, StoreError> {
        self.lock().record_delivery_attempt(id, at, outcome)
    }

    fn deliveries(
        &self,
        query: &crate::DeliveryQuery,
    ) -> Result<Vec<skylight_model::Delivery>, StoreError> {
        self.lock().deliveries(query)
    }

    fn commit_directory(
        &self,
        tenant: &str,
        changes: &crate::DirectoryChanges,
    ) -> Result<(), StoreError> {
        self.lock().commit_directory(tenant, changes)
    }

    fn directory_cursor(&self, tenant: &str, resource: &str) -> Result<Option<String>, StoreError> {
        self.lock().directory_cursor(tenant, resource)
    }

    fn directory_users(
        &self,
        query: &crate::DirectoryQuery,
    ) -> Result<Vec<skylight_model::DirectoryUser>, StoreError> {
        self.lock().directory_users(query)
    }

    fn directory_user(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<skylight_model::DirectoryUser>, StoreError> {
        self.lock().directory_user(tenant, key)
    }

    fn directory_groups(
        &self,
        query: &crate::DirectoryQuery,
    ) -> Result<Vec<skylight_model::DirectoryGroup>, StoreError> {
        self.lock().directory_groups(query)
    }

    fn group_members(
        &self,
        tenant: &str,
        group_id: &str,
        transitive: bool,
    ) -> Result<Vec<skylight_model::GroupMember>, StoreError> {
        self.lock().group_members(tenant, group_id, transitive)
    }

    fn user_groups(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<skylight_model::DirectoryGroup>, StoreError> {
        self.lock().user_groups(tenant, user_id)
    }

    fn oauth_apps(
        &self,
        query: &crate::AppQuery,
    ) -> Result<Vec<skylight_model::OAuthApp>, StoreError> {
        self.lock().oauth_apps(query)
    }

    fn oauth_app(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<skylight_model::OAuthApp>, StoreError> {
        self.lock().oauth_app(tenant, key)
    }

    fn set_app_review(
        &self,
        tenant: &str,
        id: &str,
        review: skylight_model::AppReview,
    ) -> Result<bool, StoreError> {
        self.lock().set_app_review(tenant, id, review)
    }

    fn begin_action(
        &self,
        draft: &crate::ActionDraft,
    ) -> Result<(skylight_model::GovernanceEntry, bool), StoreError> {
        self.lock().begin_action(draft)
    }

    fn update_action(
        &self,
        id: i64,
        update: &crate::ActionUpdate,
    ) -> Result<Option<skylight_model::GovernanceEntry>, StoreError> {
        self.lock().update_action(id, update)
    }

    fn governance_log(
        &self,
        query: &crate::GovernanceQuery,
    ) -> Result<Vec<skylight_model::GovernanceEntry>, StoreError> {
        self.lock().governance_log(query)
    }

    fn governance_entry(
        &self,
        id: i64,
    ) -> Result<Option<skylight_model::GovernanceEntry>, StoreError> {
        self.lock().governance_entry(id)
    }

    fn set_directory_status(
        &self,
        status: &skylight_model::DirectorySyncStatus,
    ) -> Result<(), StoreError> {
        self.lock().set_directory_status(status)
    }

    fn directory_statuses(&self) -> Result<Vec<skylight_model::DirectorySyncStatus>, StoreError> {
        self.lock().directory_statuses()
    }

    fn raise_new_alerts(&self, alerts: &[skylight_model::AlertDraft]) -> Result<u64, StoreError> {
        self.lock().raise_new_alerts(alerts)
    }

    fn commit_files(
        &self,
        tenant: &str,
        drive_id: &str,
        changes: &crate::FileChanges,
    ) -> Result<(), StoreError> {
        self.lock().commit_files(tenant, drive_id, changes)
    }

    fn files(&self, query: &crate::FileQuery) -> Result<Vec<skylight_model::FileItem>, StoreError> {
        self.lock().files(query)
    }

    fn file(
        &self,
        tenant: &str,
        drive_id: &str,
        id: &str,
    ) -> Result<Option<skylight_model::FileItem>, StoreError> {
        self.lock().file(tenant, drive_id, id)
    }

    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inner = self.lock();
        let n = inner.conn.prepare_cached(LEASE_UPSERT)?.execute(params![
            name,
            holder,
            to_ns(until),
            to_ns(now)
        ])?;
        Ok(n == 1)
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.lock()
            .conn
            .prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?
            .execute(params![name, holder])?;
        Ok(())
    }

    fn leases(&self) -> Result<Vec<crate::Lease>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT name, holder, until_ns FROM leases ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(crate::Lease {
                    name: r.get(0)?,
                    holder: r.get(1)?,
                    until: from_ns(r.get(2)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn put_connector(&self, connector: &crate::StoredConnector) -> Result<(), StoreError> {
        self.lock().put_connector(connector)
    }

    fn connectors(&self) -> Result<Vec<crate::StoredConnector>, StoreError> {
        self.lock().connectors()
    }

    fn delete_connector(&self, name: &str) -> Result<bool, StoreError> {
        self.lock().delete_connector(name)
    }

    fn setting(&self, key: &str) -> Result<Option<crate::Setting>, StoreError> {
        self.lock().setting(key)
    }

    fn put_setting(
        &self,
        key: &str,
        value: &str,
        expected: i64,
        by: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.lock()
            .put_setting(key, value, expected, by, Utc::now())
    }

    fn delete_activities_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before_ms = before.timestamp_millis();
        let mut deleted = 0;
        // One batch per hold of the connection: commits go on between batches. A commit of
        // old records between the last batch and the chunks' deletion sends it round again.
        loop {
            loop {
                let n = self.lock().delete_records_batch(before_ms)?;
                if n == 0 {
                    break;
                }
                deleted += n;
            }
            self.lock().drop_lists_below_floor()?;
            if self.lock().delete_chunks_before(before_ms)? {
                return Ok(deleted);
            }
        }
    }

    fn delete_statuses(&self, tenant: &str) -> Result<u64, StoreError> {
        let n = self
            .lock()
            .conn
            .prepare_cached("DELETE FROM statuses WHERE tenant = ?1")?
            .execute([tenant])?;
        Ok(len_i64(n).unsigned_abs())
    }

    fn statuses(&self) -> Result<Vec<ConnectorStatus>, StoreError> {
        struct Row {
            tenant: String,
            code: i64,
            state: String,
            last_success: Option<i64>,
            watermark: Option<i64>,
            records: i64,
            blobs: i64,
            gaps: i64,
            last_error: Option<String>,
            remediation: Option<String>,
            updated: i64,
            clock_offset_ms: i64,
        }
        let rows: Vec<Row> = {
            let inner = self.lock();
            let mut stmt = inner.conn.prepare_cached(
                "SELECT tenant, content_type, state, last_success_ns, watermark_ns, records, blobs, gaps, last_error, \
                 remediation, updated_ns, clock_offset_ms FROM statuses ORDER BY tenant, content_type",
            )?;
            stmt.query_map([], |r| {
                Ok(Row {
                    tenant: r.get(0)?,
                    code: r.get(1)?,
                    state: r.get(2)?,
                    last_success: r.get(3)?,
                    watermark: r.get(4)?,
                    records: r.get(5)?,
                    blobs: r.get(6)?,
                    gaps: r.get(7)?,
                    last_error: r.get(8)?,
                    remediation: r.get(9)?,
                    updated: r.get(10)?,
                    clock_offset_ms: r.get(11)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        rows.into_iter()
            .map(|r| {
                Ok(ConnectorStatus {
                    tenant: r.tenant,
                    content_type: ct_from_code(r.code)?,
                    state: state_from_name(&r.state)?,
                    last_success: r.last_success.map(from_ns),
                    watermark: r.watermark.map(from_ns),
                    records: from_count(r.records, "record count")?,
                    blobs: from_count(r.blobs, "blob count")?,
                    gaps: from_count(r.gaps, "gap count")?,
                    last_error: r.last_error,
                    remediation: r.remediation,
                    updated_at: from_ns(r.updated),
                    clock_offset_ms: r.clock_offset_ms,
                })
            })
            .collect()
    }
}
