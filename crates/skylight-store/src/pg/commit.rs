//! Committing blobs on PostgreSQL: a blob's raw chunk, rejects, done marker and records go in
//! one transaction. Records are inserted last, under [`COMMIT_LOCK`] held to commit, so that
//! their sequence numbers follow commit order (see [`insert_records`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::Transaction;
use postgres::error::SqlState;

use super::partitions::{self, time_ms};
use super::*;
use crate::batch::{SealedBatch, decode_chunk, encode_chunk};
use crate::codes;

/// The transaction-level advisory lock taken just before records are inserted and held to
/// commit (`records` in ASCII, as a number): one committer at a time numbers its records.
pub(super) const COMMIT_LOCK: i64 = 0x0072_6563_6f72_6473;

/// What a store remembers between calls: ids of tenants, and partitions known to exist.
#[derive(Debug, Default)]
pub(super) struct Known {
    state: Mutex<KnownState>,
}

#[derive(Debug, Default)]
struct KnownState {
    tenants: HashMap<String, i32>,
    /// Week starts (ms) of the partitions created or seen.
    partitions: std::collections::HashSet<i64>,
}

impl Known {
    fn lock(&self) -> MutexGuard<'_, KnownState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the week partition starting at `start` is known to exist.
    pub(super) fn has_partition(&self, start: i64) -> bool {
        self.lock().partitions.contains(&start)
    }

    /// Remembers that the week partition starting at `start` exists.
    pub(super) fn add_partition(&self, start: i64) {
        self.lock().partitions.insert(start);
    }

    /// Forgets every known partition (after retention dropped some, here or elsewhere).
    pub(super) fn forget_partitions(&self) {
        self.lock().partitions.clear();
    }

    /// The id of a tenant, created if new (tenants are never deleted, so ids are cached).
    fn tenant_id(&self, c: &mut Client, name: &str) -> Result<i32, StoreError> {
        if let Some(id) = self.lock().tenants.get(name) {
            return Ok(*id);
        }
        c.execute(
            "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            &[&name],
        )?;
        let id: i32 = c
            .query_one("SELECT id FROM tenants WHERE name = $1", &[&name])?
            .get(0);
        self.lock().tenants.insert(name.to_owned(), id);
        Ok(id)
    }
}

/// [`Store::commit_batch`](crate::Store::commit_batch), for a batch already sealed.
pub(super) fn commit_batch(
    c: &mut Client,
    known: &Known,
    tenant: &str,
    ct: ContentType,
    blob: &BlobRef,
    batch: &SealedBatch,
) -> Result<CommitStats, StoreError> {
    let tenant_id = known.tenant_id(c, tenant)?;
    let times: Vec<i64> = batch
        .columns
        .iter()
        .map(|r| time_ms(r.creation_time))
        .collect();
    // Partitions are created outside the commit's transaction: creating one locks the whole
    // table, which must not wait inside a transaction holding other locks.
    partitions::ensure(c, known, &times)?;
    match commit_once(c, tenant_id, tenant, ct, blob, batch, &times) {
        Err(StoreError::Postgres(e)) if e.code() == Some(&SqlState::CHECK_VIOLATION) => {
            // No partition for a record: retention (maybe in another process) dropped one
            // this store thought existed. Create it again and retry, once.
            known.forget_partitions();
            partitions::ensure(c, known, &times)?;
            commit_once(c, tenant_id, tenant, ct, blob, batch, &times)
        }
        other => other,
    }
}

/// One attempt at committing a blob, in one transaction.
fn commit_once(
    c: &mut Client,
    tenant_id: i32,
    tenant: &str,
    ct: ContentType,
    blob: &BlobRef,
    batch: &SealedBatch,
    times: &[i64],
) -> Result<CommitStats, StoreError> {
    let now = Utc::now();
    let code = ct_code(ct);
    let mut tx = c.transaction()?;
    if !batch.rejected.is_empty() {
        let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
        let raws: Vec<&[u8]> = batch.rejected.iter().map(|r| r.packed.as_slice()).collect();
        let lens: Vec<i64> = batch.rejected.iter().map(|r| len_i64(r.raw_len)).collect();
        tx.execute(
            "INSERT INTO quarantine (tenant, source, reason, raw, raw_len, at_ns) \
             SELECT $1, $2, u.reason, u.raw, u.raw_len, $3 \
             FROM unnest($4::text[], $5::bytea[], $6::int8[]) WITH ORDINALITY AS u(reason, raw, raw_len, ord) \
             ORDER BY u.ord",
            &[&tenant, &blob.content_id, &to_ns(now), &reasons, &raws, &lens],
        )?;
    }
    mark_done(
        &mut tx,
        tenant,
        code,
        &blob.content_id,
        blob.created,
        Some(len_i64(batch.columns.len())),
    )?;
    let mut stats = CommitStats::default();
    if !batch.columns.is_empty() {
        // The chunk goes in before the lock: it is the largest write, and needs no ordering.
        let (min_ms, max_ms) = (
            times.iter().copied().min().unwrap_or(0),
            times.iter().copied().max().unwrap_or(0),
        );
        let chunk_id: i64 = tx
            .query_one(
                "INSERT INTO raw_chunks (tenant_id, data, raw_len, stored_ms, min_ms, max_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &tenant_id,
                    &batch.chunk,
                    &len_i64(batch.raw_len),
                    &now.timestamp_millis(),
                    &min_ms,
                    &max_ms,
                ],
            )?
            .get(0);
        let stored = insert_records(&mut tx, tenant_id, code, chunk_id, batch, times)?;
        stats.inserted = stored.len() as u64;
        stats.duplicates = (batch.columns.len() - stored.len()) as u64;
        if stored.len() < batch.columns.len() {
            drop_duplicates(&mut tx, tenant_id, chunk_id, batch, times, &stored)?;
        }
        tx.execute(
            "INSERT INTO record_counts (tenant_id, content_type, records) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, content_type) DO UPDATE SET records = record_counts.records + excluded.records",
            &[&tenant_id, &code, &len_i64(stored.len())],
        )?;
    }
    tx.commit()?;
    Ok(stats)
}

/// Inserts a batch's records (those already stored are skipped); their positions in the chunk,
/// ascending.
///
/// Why the lock: `seq` comes from a sequence when each row is inserted, but becomes visible at
/// commit. Two committers could take 10 and 11, 11 commit first, and a reader of
/// `activities_since(9)` see 11 and move past 10 before 10 is visible: 10 would never be read.
/// Under a transaction-level advisory lock taken just before the insert, and released only once
/// the commit is visible, the numbers a transaction takes are all above those of every
/// transaction committed before it and below those of every one committed after: what readers
/// see is always every number up to some point (rolled back numbers are gaps, never skipped
/// records). Everything else in the transaction happens before the lock, so it serialises only
/// the record inserts themselves.
fn insert_records(
    tx: &mut Transaction<'_>,
    tenant_id: i32,
    code: i16,
    chunk_id: i64,
    batch: &SealedBatch,
    times: &[i64],
) -> Result<Vec<usize>, StoreError> {
    let cols = &batch.columns;
    let act = |i: usize| cols[i].activity.as_deref();
    let enr = |i: usize| act(i).and_then(|a| a.enrichment.as_ref());
    let n = cols.len();
    fn text<'a>(n: usize, f: impl Fn(usize) -> Option<&'a str>) -> Vec<Option<&'a str>> {
        (0..n).map(f).collect()
    }
    let keys: Vec<&str> = cols.iter().map(|r| r.id.as_str()).collect();
    let record_types: Vec<Option<i64>> = cols.iter().map(|r| r.record_type).collect();
    let workloads = text(n, |i| cols[i].workload.as_deref());
    let operations = text(n, |i| cols[i].operation.as_deref());
    let users = text(n, |i| cols[i].user_id.as_deref());
    let ips = text(n, |i| cols[i].client_ip.as_deref());
    // As the SQLite backend reads addresses for CIDR filters: the text as a Rust address.
    let inets: Vec<Option<IpAddr>> = ips.iter().map(|t| t.and_then(|t| t.parse().ok())).collect();
    let code16 = |v: i64| i16::try_from(v).ok();
    let apps: Vec<Option<i16>> = (0..n)
        .map(|i| act(i).and_then(|a| code16(codes::app(a.app))))
        .collect();
    let categories: Vec<Option<i16>> = (0..n)
        .map(|i| act(i).and_then(|a| code16(codes::category(a.category))))
        .collect();
    let kinds: Vec<Option<i16>> = (0..n)
        .map(|i| act(i).and_then(|a| code16(codes::actor_kind(a.actor_kind))))
        .collect();
    let outcomes: Vec<Option<i16>> = (0..n)
        .map(|i| act(i).and_then(|a| code16(codes::outcome(a.outcome))))
        .collect();
    let flags: Vec<i16> = (0..n)
        .map(|i| act(i).map_or(0, |a| i16::try_from(codes::flags(a)).unwrap_or(0)))
        .collect();
    let agents = text(n, |i| act(i).and_then(|a| a.user_agent.as_deref()));
    let countries = text(n, |i| enr(i).and_then(|e| e.country.as_deref()));
    let cities = text(n, |i| enr(i).and_then(|e| e.city.as_deref()));
    let asns: Vec<Option<i64>> = (0..n)
        .map(|i| enr(i).and_then(|e| e.asn).map(i64::from))
        .collect();
    let isps = text(n, |i| enr(i).and_then(|e| e.isp.as_deref()));
    let tags = text(n, |i| enr(i).and_then(|e| e.ip_tags.as_deref()));
    let devices = text(n, |i| enr(i).and_then(|e| e.device_type.as_deref()));
    let clients = text(n, |i| enr(i).and_then(|e| e.client_app.as_deref()));
    let oses = text(n, |i| enr(i).and_then(|e| e.os.as_deref()));
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COMMIT_LOCK])?;
    // One statement whatever the batch's size: a column per array, rows in the batch's order
    // (the first of two records with the same key is the one stored, as in SQLite).
    let rows = tx.query(
        "INSERT INTO records (tenant_id, content_type, chunk_id, chunk_pos, creation_ms, record_key, \
         record_type, workload, operation, user_id, client_ip, ip, app, category, actor_kind, outcome, \
         flags, user_agent, country, city, asn, isp, ip_tags, device_type, client_app, os) \
         SELECT $1::int4, $2::int2, $3::int8, (u.ord - 1)::int4, u.creation_ms, u.record_key, \
         u.record_type, u.workload, u.operation, u.user_id, u.client_ip, u.ip, u.app, u.category, \
         u.actor_kind, u.outcome, u.flags, u.user_agent, u.country, u.city, u.asn, u.isp, u.ip_tags, \
         u.device_type, u.client_app, u.os \
         FROM unnest($4::int8[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], \
         $10::text[], $11::inet[], $12::int2[], $13::int2[], $14::int2[], $15::int2[], $16::int2[], \
         $17::text[], $18::text[], $19::text[], $20::int8[], $21::text[], $22::text[], $23::text[], \
         $24::text[], $25::text[]) WITH ORDINALITY AS u(creation_ms, record_key, record_type, \
         workload, operation, user_id, client_ip, ip, app, category, actor_kind, outcome, flags, \
         user_agent, country, city, asn, isp, ip_tags, device_type, client_app, os, ord) \
         ORDER BY u.ord \
         ON CONFLICT DO NOTHING RETURNING chunk_pos",
        &[
            &tenant_id,
            &code,
            &chunk_id,
            &times,
            &keys,
            &record_types,
            &workloads,
            &operations,
            &users,
            &ips,
            &inets,
            &apps,
            &categories,
            &kinds,
            &outcomes,
            &flags,
            &agents,
            &countries,
            &cities,
            &asns,
            &isps,
            &tags,
            &devices,
            &clients,
            &oses,
        ],
    )?;
    let mut stored = rows
        .iter()
        .map(|r| usize::try_from(r.get::<_, i32>(0)).unwrap_or(usize::MAX))
        .collect::<Vec<_>>();
    stored.sort_unstable();
    Ok(stored)
}

/// Rewrites a chunk without the records that were already stored (so that no raw record is kept
/// twice), and moves the positions of the rows that point into it. Rare: only blobs that repeat
/// records of earlier blobs pay for it.
fn drop_duplicates(
    tx: &mut Transaction<'_>,
    tenant_id: i32,
    chunk_id: i64,
    batch: &SealedBatch,
    times: &[i64],
    stored: &[usize],
) -> Result<(), StoreError> {
    if stored.is_empty() {
        tx.execute("DELETE FROM raw_chunks WHERE id = $1", &[&chunk_id])?;
        return Ok(());
    }
    let what = format!("the chunk of blob {chunk_id}");
    let chunk = decode_chunk(&batch.chunk, len_i64(batch.raw_len), &what)?;
    let kept = stored
        .iter()
        .map(|&pos| {
            chunk
                .get(pos)
                .ok_or_else(|| StoreError::Corrupt(format!("{what}: no record {pos}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (packed, raw_len) = encode_chunk(kept)?;
    tx.execute(
        "UPDATE raw_chunks SET data = $2, raw_len = $3 WHERE id = $1",
        &[&chunk_id, &packed, &len_i64(raw_len)],
    )?;
    // Found by the de-duplication key (time first: one partition, one index lookup per row).
    let (mut ms, mut keys, mut positions) = (Vec::new(), Vec::new(), Vec::new());
    for (new_pos, &old_pos) in stored.iter().enumerate() {
        if new_pos != old_pos {
            ms.push(times[old_pos]);
            keys.push(batch.columns[old_pos].id.as_str());
            positions.push(i32::try_from(new_pos).unwrap_or(i32::MAX));
        }
    }
    tx.execute(
        "UPDATE records r SET chunk_pos = m.pos \
         FROM unnest($3::int8[], $4::text[], $5::int4[]) AS m(ms, key, pos) \
         WHERE r.tenant_id = $1 AND r.chunk_id = $2 AND r.creation_ms = m.ms AND r.record_key = m.key",
        &[&tenant_id, &chunk_id, &ms, &keys, &positions],
    )?;
    Ok(())
}

/// Marks a blob done (a repeated mark keeps the first).
pub(super) fn mark_done(
    tx: &mut Transaction<'_>,
    tenant: &str,
    code: i16,
    content_id: &str,
    created: DateTime<Utc>,
    records: Option<i64>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO done_blobs (tenant, content_type, content_id, created_ns, done_ns, records) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[
            &tenant,
            &code,
            &content_id,
            &to_ns(created),
            &to_ns(Utc::now()),
            &records,
        ],
    )?;
    Ok(())
}

pub(super) fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}
