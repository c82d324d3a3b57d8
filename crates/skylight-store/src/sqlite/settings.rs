//! Console settings and retention in the SQLite store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Inner, lookups, segments};
use crate::StoreError;
use crate::convert::{from_ns, to_ns};
use crate::settings::Setting;

/// Records deleted per transaction, so that a retention round never holds the writer for long.
const DELETE_BATCH: i64 = 5_000;

impl Inner {
    pub(super) fn setting(&self, key: &str) -> Result<Option<Setting>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT key, value, version, updated_ns, updated_by FROM settings WHERE key = ?1",
            )?
            .query_row([key], |r| {
                Ok(Setting {
                    key: r.get(0)?,
                    value: r.get(1)?,
                    version: r.get(2)?,
                    updated_at: from_ns(r.get(3)?),
                    updated_by: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub(super) fn put_setting(
        &self,
        key: &str,
        value: &str,
        expected: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let changed = if expected == 0 {
            self.conn
                .prepare_cached(
                    "INSERT INTO settings (key, value, version, updated_ns, updated_by) \
                     VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (key) DO NOTHING",
                )?
                .execute(params![key, value, to_ns(now), by])?
        } else {
            self.conn
                .prepare_cached(
                    "UPDATE settings SET value = ?2, version = version + 1, updated_ns = ?3, \
                     updated_by = ?4 WHERE key = ?1 AND version = ?5",
                )?
                .execute(params![key, value, to_ns(now), by, expected])?
        };
        Ok((changed == 1).then_some(expected + 1))
    }

    /// Deletes up to [`DELETE_BATCH`] timed records created before `before_ms`, in one
    /// transaction; how many went (0: none is left).
    pub(super) fn delete_records_batch(&mut self, before_ms: i64) -> Result<u64, StoreError> {
        // Through the time-led key; records without a readable time (creation_ms 0) are kept.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The records before the cutoff leave the packed lists' queries now, with their first
        // batch (`lookup_days.rs`): their lists are not rewritten record by record.
        tx.prepare_cached("UPDATE looked_up SET floor_ms = max(floor_ms, ?1)")?
            .execute([before_ms])?;
        type Doomed = (i64, i64, i64, i64, [Option<i64>; 3]);
        let batch: Vec<Doomed> = tx
            .prepare_cached(
                "SELECT id, tenant_id, content_type, hour, user_id, client_ip, operation FROM records \
                 WHERE creation_ms > 0 AND creation_ms < ?1 LIMIT ?2",
            )?
            .query_map(params![before_ms, DELETE_BATCH], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?],
                ))
            })?
            .collect::<Result<_, _>>()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM records WHERE id = ?1")?;
            let mut gone: HashMap<(i64, i64), i64> = HashMap::new();
            for &(id, tenant, content_type, hour, looked_up) in &batch {
                lookups::forget(&tx, id, hour, looked_up)?;
                delete.execute([id])?;
                *gone.entry((tenant, content_type)).or_default() += 1;
            }
            let mut count = tx.prepare_cached(
                "UPDATE record_counts SET records = records - ?3 \
                 WHERE tenant_id = ?1 AND content_type = ?2",
            )?;
            for ((tenant, content_type), n) in gone {
                count.execute([tenant, content_type, n])?;
            }
        }
        lookups::after_deletes(&tx)?;
        tx.commit()?;
        Ok(batch.len() as u64)
    }

    /// Deletes the raw chunks whose records are all timed and before `before_ms`, and the
    /// segments left without chunks; false (nothing done) if records before `before_ms` are
    /// stored again (committed since their batches were deleted: their chunks must stay).
    pub(super) fn delete_chunks_before(&mut self, before_ms: i64) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let again: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM records WHERE creation_ms > 0 AND creation_ms < ?1)",
            )?
            .query_row([before_ms], |r| r.get(0))?;
        if again {
            return Ok(false);
        }
        let segments = tx
            .prepare_cached(
                "DELETE FROM raw_chunks WHERE max_ms < ?1 AND min_ms > 0 RETURNING segment_id",
            )?
            .query_map([before_ms], |r| r.get::<_, Option<i64>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let segments: Vec<i64> = segments.into_iter().flatten().collect();
        segments::delete_emptied_segments(&tx, &segments)?;
        // Once a day, every segment without chunks: a process of schema 18 deletes chunks
        // without their segments. (A scan of every segment: a year of a 10,000-user tenant,
        // 40,000 segments, takes tens of milliseconds when cached.)
        let sweep = self
            .segments_swept
            .is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(24 * 3600));
        if sweep {
            tx.prepare_cached(
                "DELETE FROM raw_segments WHERE NOT EXISTS \
                 (SELECT 1 FROM raw_chunks WHERE segment_id = raw_segments.id)",
            )?
            .execute([])?;
        }
        tx.commit()?;
        if sweep {
            self.segments_swept = Some(std::time::Instant::now());
        }
        Ok(true)
    }
}
