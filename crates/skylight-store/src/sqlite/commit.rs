//! Committing blobs, with group commit.
//!
//! A blob's records are compressed by the calling thread, without any lock. The blob then joins
//! a queue; whichever caller gets the connection next commits every queued blob in one
//! transaction. Each blob's records and done marker are still in the same transaction, so the
//! crash guarantee is unchanged, but concurrent collectors share one transaction's page writes
//! (with blobs of ~150 records, most of a commit's cost is writing the index pages it touched).
//! If a group fails, its blobs are retried one by one, so one blob's failure is only its own.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use rusqlite::{Transaction, TransactionBehavior, params};
use skylight_model::{AuditRecord, BlobRef, CommitStats, ContentType};

use super::{Inner, compressor, ct_code, ensure_tenant, len_i64, pack, to_ns};
use crate::StoreError;

const INSERT_RECORD: &str = "INSERT OR IGNORE INTO records \
    (tenant_id, record_id, content_type, creation_ms, record_type, workload, operation, user_id, client_ip, raw, raw_len, ingested_ms) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

pub(super) const MARK_DONE: &str = "INSERT OR IGNORE INTO done_blobs \
    (tenant, content_type, content_id, created_ns, done_ns, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// A record ready to insert.
struct Row {
    id: String,
    creation_ms: Option<i64>,
    record_type: Option<i64>,
    workload: Option<String>,
    operation: Option<String>,
    user_id: Option<String>,
    client_ip: Option<String>,
    raw: Vec<u8>,
    raw_len: i64,
}

/// A blob waiting to be committed, and then its outcome.
pub(super) struct Job {
    tenant: String,
    content_type: i64,
    blob: BlobRef,
    rows: Vec<Row>,
    outcome: Mutex<Option<Result<CommitStats, StoreError>>>,
}

impl Job {
    /// Compresses a blob's records (the expensive part that needs no lock).
    pub(super) fn prepare(
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        records: &[AuditRecord],
    ) -> Result<Job, StoreError> {
        let mut zc = compressor()?;
        let rows = records
            .iter()
            .map(|r| {
                let c = &r.columns;
                Ok(Row {
                    id: c.id.clone(),
                    creation_ms: c.creation_time.map(|t| t.timestamp_millis()),
                    record_type: c.record_type,
                    workload: c.workload.clone(),
                    operation: c.operation.clone(),
                    user_id: c.user_id.clone(),
                    client_ip: c.client_ip.clone(),
                    raw: pack(&mut zc, &r.raw, || format!("record {}", c.id))?,
                    raw_len: len_i64(r.raw.len()),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Job {
            tenant: tenant.to_owned(),
            content_type: ct_code(ct),
            blob: blob.clone(),
            rows,
            outcome: Mutex::new(None),
        })
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
            all.push(insert_job(&tx, tenant_id, job, now)?);
        }
        tx.commit()?;
        // Only now: a rolled-back transaction may have created the tenant row.
        self.tenants.extend(new_tenants);
        Ok(all)
    }
}

fn insert_job(
    tx: &Transaction<'_>,
    tenant_id: i64,
    job: &Job,
    now: chrono::DateTime<Utc>,
) -> Result<CommitStats, StoreError> {
    let mut stats = CommitStats::default();
    let now_ms = now.timestamp_millis();
    let mut insert = tx.prepare_cached(INSERT_RECORD)?;
    for row in &job.rows {
        let changed = insert.execute(params![
            tenant_id,
            row.id,
            job.content_type,
            row.creation_ms,
            row.record_type,
            row.workload,
            row.operation,
            row.user_id,
            row.client_ip,
            row.raw,
            row.raw_len,
            now_ms,
        ])?;
        if changed == 0 {
            stats.duplicates += 1;
        } else {
            stats.inserted += 1;
        }
    }
    tx.prepare_cached(MARK_DONE)?.execute(params![
        job.tenant,
        job.content_type,
        job.blob.content_id,
        to_ns(job.blob.created),
        to_ns(now),
        len_i64(job.rows.len()),
    ])?;
    Ok(stats)
}
