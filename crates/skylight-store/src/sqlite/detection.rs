//! Detection's side of the SQLite store: activities in stored order, detection state and
//! progress, alerts and their triage.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use skylight_model::{Alert, AlertComment, AlertDraft, AlertStatus, Resolution, Severity};

use std::collections::HashMap;

use super::address;
use super::query::{CLIENT_IP, ROW_IDS, read_row_with};
use super::segments::ChunkReader;
use super::{Inner, from_ns, to_ns};
use crate::batch::Chunk;
use crate::partition;
use crate::{AlertChange, AlertQuery, StateChange, StateEntry, StoreError, StoredActivity};

/// Detection's progress rows, by partition.
fn read_partitions(conn: &rusqlite::Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = conn
        .prepare_cached("SELECT name, seq FROM detection_progress ORDER BY name")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, seq)| partition::partition_of_row(&name).map(|p| (p.to_owned(), seq)))
        .collect())
}

/// A partition's saved progress: 0 for the unpartitioned detection before its first commit; a
/// partition outside the plan is refused.
fn saved_progress(conn: &rusqlite::Connection, partition: &str) -> Result<i64, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM detection_progress WHERE name = ?1")?
        .query_row([partition::progress_row(partition)], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => Ok(seq),
        // Before its first commit, unless a partitioned plan replaced it (a process still
        // running unpartitioned must not start over from the beginning).
        None if partition.is_empty() && read_partitions(conn)?.is_empty() => Ok(0),
        None => Err(partition::not_planned(partition)),
    }
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn list_from(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn time_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const ALERT_COLUMNS: &str = "id, key, tenant, policy, kind, title, severity, category, signal_only, users, ips, \
     countries, activity_ids, activity_count, facts, first_ms, last_ms, status, resolution, created_ns, updated_ns";

fn read_alert(r: &rusqlite::Row<'_>) -> Result<Alert, StoreError> {
    let id: i64 = r.get(0)?;
    let what = |f: &str| format!("alert {id}: {f}");
    let severity: String = r.get(6)?;
    let status: String = r.get(17)?;
    let resolution: Option<String> = r.get(18)?;
    Ok(Alert {
        id,
        draft: AlertDraft {
            key: r.get(1)?,
            tenant: r.get(2)?,
            policy: r.get(3)?,
            kind: r.get(4)?,
            title: r.get(5)?,
            severity: Severity::parse(&severity)
                .ok_or_else(|| StoreError::Corrupt(what("severity")))?,
            category: r.get(7)?,
            signal_only: r.get::<_, i64>(8)? != 0,
            users: list_from(&r.get::<_, String>(9)?, &what("users"))?,
            ips: list_from(&r.get::<_, String>(10)?, &what("ips"))?,
            countries: list_from(&r.get::<_, String>(11)?, &what("countries"))?,
            activity_ids: list_from(&r.get::<_, String>(12)?, &what("activity ids"))?,
            activity_count: u64::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
            facts: list_from(&r.get::<_, String>(14)?, &what("facts"))?,
            first: time_ms(r.get(15)?),
            last: time_ms(r.get(16)?),
        },
        status: AlertStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(what("status")))?,
        resolution: resolution.as_deref().and_then(Resolution::parse),
        created: from_ns(r.get(19)?),
        updated: from_ns(r.get(20)?),
        comments: Vec::new(),
    })
}

/// The insert of an alert; the caller says what a key already taken does.
const ALERT_INSERT: &str = "INSERT INTO alerts (key, tenant, policy, kind, title, severity, category, \
     signal_only, users, ips, countries, activity_ids, activity_count, facts, first_ms, last_ms, \
     created_ns, updated_ns) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)";

/// The values of [`ALERT_INSERT`] for one alert.
fn alert_values(a: &AlertDraft, now: i64) -> Vec<Sql> {
    vec![
        Sql::Text(a.key.clone()),
        Sql::Text(a.tenant.clone()),
        Sql::Text(a.policy.clone()),
        Sql::Text(a.kind.clone()),
        Sql::Text(a.title.clone()),
        Sql::Text(a.severity.as_str().to_owned()),
        Sql::Text(a.category.clone()),
        Sql::Integer(i64::from(a.signal_only)),
        Sql::Text(json_list(&a.users)),
        Sql::Text(json_list(&a.ips)),
        Sql::Text(json_list(&a.countries)),
        Sql::Text(json_list(&a.activity_ids)),
        Sql::Integer(i64::try_from(a.activity_count).unwrap_or(i64::MAX)),
        Sql::Text(json_list(&a.facts)),
        Sql::Integer(a.first.timestamp_millis()),
        Sql::Integer(a.last.timestamp_millis()),
        Sql::Integer(now),
    ]
}

impl Inner {
    /// Activities stored after `after`, in stored order, with their raw records.
    pub(super) fn activities_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredActivity>, StoreError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_IDS} FROM records r WHERE r.id > ?1 ORDER BY r.id LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![after, limit])?;
        let mut out = Vec::new();
        // Operations, countries, agents… repeat from row to row: each dictionary string (and
        // tenant name) is looked up once per call rather than once per column of every row.
        let mut strings: HashMap<i64, String> = HashMap::new();
        let mut tenants: HashMap<i64, String> = HashMap::new();
        let conn = &self.conn;
        let mut text = |row: &rusqlite::Row<'_>, i: usize| -> Result<Option<String>, StoreError> {
            let Some(id) = row.get::<_, Option<i64>>(i)? else {
                return Ok(None);
            };
            if i == CLIENT_IP
                && let Some(ip) = address::text(id)
            {
                return Ok(Some(ip));
            }
            let (cache, sql) = if i == 1 {
                (&mut tenants, "SELECT name FROM tenants WHERE id = ?1")
            } else {
                (&mut strings, "SELECT value FROM strings WHERE id = ?1")
            };
            if let Some(v) = cache.get(&id) {
                return Ok(Some(v.clone()));
            }
            let v: String = conn.prepare_cached(sql)?.query_row([id], |r| r.get(0))?;
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(id, v.clone());
            Ok(Some(v))
        };
        // A blob's records sit together in one chunk: each chunk is decompressed once (and
        // each segment, if they are sealed, once while its chunks come by).
        let mut chunks = ChunkReader::default();
        let mut chunk: Option<(i64, Chunk)> = None;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let (chunk_id, pos): (i64, i64) = (row.get(15)?, row.get(16)?);
            if chunk.as_ref().is_none_or(|(id, _)| *id != chunk_id) {
                chunk = Some((chunk_id, chunks.chunk(&self.conn, chunk_id)?));
            }
            let raw = usize::try_from(pos)
                .ok()
                .and_then(|p| chunk.as_ref().and_then(|(_, c)| c.get(p)))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("record {seq}: not in its chunk {chunk_id}"))
                })?
                .to_vec();
            out.push(StoredActivity {
                seq,
                row: read_row_with(row, &mut text)?,
                raw,
            });
        }
        Ok(out)
    }

    /// Detection's progress rows, by partition.
    pub(super) fn detection_partitions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        read_partitions(&self.conn)
    }

    pub(super) fn plan_detection(&mut self, partitions: &[String]) -> Result<(), StoreError> {
        for p in partitions {
            partition::check_name(p)?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let saved = read_partitions(&tx)?;
        let start = saved.iter().map(|(_, seq)| *seq).min().unwrap_or(0);
        for p in partitions {
            if !saved.iter().any(|(s, _)| s == p) {
                tx.prepare_cached("INSERT INTO detection_progress (name, seq) VALUES (?1, ?2)")?
                    .execute(params![partition::progress_row(p), start])?;
            }
        }
        for (p, _) in &saved {
            if !partitions.contains(p) {
                tx.prepare_cached("DELETE FROM detection_progress WHERE name = ?1")?
                    .execute([partition::progress_row(p)])?;
            }
        }
        let stale: Vec<String> = tx
            .prepare("SELECT key FROM detection_state")?
            .query_map([], |r| r.get::<_, String>(0))?
            .filter(|k| {
                k.as_ref().map_or(true, |k| {
                    partition::split_state_key(k)
                        .is_none_or(|(p, _)| !partitions.iter().any(|q| q == p))
                })
            })
            .collect::<Result<_, _>>()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM detection_state WHERE key = ?1")?;
            for k in &stale {
                delete.execute([k])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn detection_state(
        &self,
        partition: &str,
        visit: &mut (dyn FnMut(StateEntry) -> Result<(), StoreError> + Send),
    ) -> Result<i64, StoreError> {
        let seq = saved_progress(&self.conn, partition)?;
        let mut each = |mut rows: rusqlite::Rows<'_>| -> Result<(), StoreError> {
            while let Some(r) = rows.next()? {
                visit((r.get(0)?, r.get(1)?))?;
            }
            Ok(())
        };
        if partition.is_empty() {
            let mut stmt = self.conn.prepare_cached(
                "SELECT key, value FROM detection_state WHERE substr(key, 1, 1) <> '#'",
            )?;
            each(stmt.query([])?)?;
        } else {
            let (lo, hi) = partition::key_range(partition);
            let mut stmt = self.conn.prepare_cached(
                "SELECT substr(key, ?3), value FROM detection_state WHERE key >= ?1 AND key < ?2",
            )?;
            each(stmt.query(params![lo, hi, lo.len() as i64 + 1])?)?;
        }
        Ok(seq)
    }

    pub(super) fn detection_entries(
        &self,
        partition: &str,
        keys: &[String],
    ) -> Result<Vec<StateEntry>, StoreError> {
        let mut get = self
            .conn
            .prepare_cached("SELECT value FROM detection_state WHERE key = ?1")?;
        let mut out = Vec::new();
        for key in keys {
            let value: Option<Vec<u8>> = get
                .query_row([partition::state_key(partition, key)], |r| r.get(0))
                .optional()?;
            if let Some(value) = value {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    pub(super) fn detection_progress(&self) -> Result<(i64, i64), StoreError> {
        let seq = read_partitions(&self.conn)?
            .into_iter()
            .map(|(_, seq)| seq)
            .min()
            .unwrap_or(0);
        let newest: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(id) FROM records")?
            .query_row([], |r| r.get(0))?;
        Ok((seq, newest.unwrap_or(0)))
    }

    pub(super) fn raise_new_alerts(&mut self, alerts: &[AlertDraft]) -> Result<u64, StoreError> {
        let now = to_ns(Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut raised = 0u64;
        {
            let mut insert =
                tx.prepare_cached(&format!("{ALERT_INSERT} ON CONFLICT (key) DO NOTHING"))?;
            for a in alerts {
                raised += insert.execute(params_from_iter(alert_values(a, now)))? as u64;
            }
        }
        tx.commit()?;
        Ok(raised)
    }

    pub(super) fn commit_detection(
        &mut self,
        partition: &str,
        from: i64,
        progress: i64,
        alerts: &[AlertDraft],
        state: &mut dyn Iterator<Item = StateChange>,
    ) -> Result<(), StoreError> {
        let now = to_ns(Utc::now());
        // Immediate: the progress read below stays true until the commit.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let saved = saved_progress(&tx, partition)?;
        if saved != from {
            return Err(crate::progress_moved(from, saved));
        }
        {
            let mut upsert = tx.prepare_cached(&format!(
                "{ALERT_INSERT} ON CONFLICT (key) DO UPDATE SET title = excluded.title, \
                 severity = excluded.severity, users = excluded.users, ips = excluded.ips, \
                 countries = excluded.countries, activity_ids = excluded.activity_ids, \
                 activity_count = excluded.activity_count, facts = excluded.facts, \
                 first_ms = excluded.first_ms, last_ms = excluded.last_ms, \
                 updated_ns = excluded.updated_ns"
            ))?;
            for a in alerts {
                upsert.execute(params_from_iter(alert_values(a, now)))?;
            }
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO detection_state (key, value) VALUES (?1, ?2)",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM detection_state WHERE key = ?1")?;
            for (key, value) in state {
                let key = partition::state_key(partition, &key);
                match value {
                    Some(v) => put.execute(params![key, v])?,
                    None => delete.execute([key])?,
                };
            }
            tx.prepare_cached(
                "INSERT INTO detection_progress (name, seq) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            )?
            .execute(params![partition::progress_row(partition), progress])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1");
        let mut params: Vec<Sql> = Vec::new();
        if let Some(t) = &q.tenant {
            sql.push_str(" AND tenant = ?");
            params.push(Sql::Text(t.clone()));
        }
        if !q.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                vec!["?"; q.statuses.len()].join(",")
            ));
            params.extend(q.statuses.iter().map(|s| Sql::Text(s.as_str().into())));
        }
        if let Some(min) = q.min_severity {
            let allowed: Vec<Sql> = Severity::ALL
                .into_iter()
                .filter(|s| *s >= min)
                .map(|s| Sql::Text(s.as_str().into()))
                .collect();
            sql.push_str(&format!(
                " AND severity IN ({})",
                vec!["?"; allowed.len()].join(",")
            ));
            params.extend(allowed);
        }
        if let Some(p) = &q.policy {
            sql.push_str(" AND policy = ?");
            params.push(Sql::Text(p.clone()));
        }
        if let Some(u) = &q.user {
            // Users are stored lowercase inside a JSON array of strings.
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM json_each(alerts.users) WHERE lower(value) = ?)",
            );
            params.push(Sql::Text(u.to_ascii_lowercase()));
        }
        if !q.include_signals {
            sql.push_str(" AND signal_only = 0");
        }
        if let Some(after) = q.updated_after {
            sql.push_str(" AND updated_ns > ?");
            params.push(Sql::Integer(to_ns(after)));
            // A feed of changes sends them in the order they happened.
            sql.push_str(" ORDER BY updated_ns, id");
        } else {
            sql.push_str(" ORDER BY last_ms DESC, id DESC");
        }
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read_alert(r)?);
        }
        Ok(out)
    }

    pub(super) fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))?;
        let mut rows = stmt.query([id])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let mut alert = read_alert(r)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ns, author, text FROM alert_comments WHERE alert_id = ?1 ORDER BY id",
        )?;
        alert.comments = stmt
            .query_map([id], |r| {
                Ok(AlertComment {
                    at: from_ns(r.get(0)?),
                    author: r.get(1)?,
                    text: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(alert))
    }

    pub(super) fn update_alert(
        &mut self,
        id: i64,
        change: &AlertChange,
    ) -> Result<Option<Alert>, StoreError> {
        let now = to_ns(Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .prepare_cached("SELECT 1 FROM alerts WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        if let Some(status) = change.status {
            // Reopening clears the resolution; closing keeps the one given (or none).
            let resolution = match status {
                AlertStatus::Resolved | AlertStatus::Dismissed => {
                    change.resolution.map(Resolution::as_str)
                }
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE alerts SET status = ?2, resolution = ?3, updated_ns = ?4 WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), resolution, now])?;
        } else if let Some(r) = change.resolution {
            tx.prepare_cached("UPDATE alerts SET resolution = ?2, updated_ns = ?3 WHERE id = ?1")?
                .execute(params![id, r.as_str(), now])?;
        }
        if let Some((author, text)) = &change.comment {
            tx.prepare_cached(
                "INSERT INTO alert_comments (alert_id, at_ns, author, text) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, now, author, text])?;
            tx.prepare_cached("UPDATE alerts SET updated_ns = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
        }
        tx.commit()?;
        self.alert(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    // The checks that hold on every backend are in `tests/conformance_detection.rs`.

    use crate::{SqliteStore, Store};

    #[test]
    fn activities_are_read_back_in_stored_order_with_their_raw_records() {
        use skylight_model::{BlobRef, ContentType};
        let store = SqliteStore::open_in_memory().unwrap();
        for (i, (id, time)) in [("b", "2026-11-20T10:00:00"), ("a", "2026-11-20T09:00:00")]
            .iter()
            .enumerate()
        {
            let raw = format!(
                r#"{{"Id":"{id}","CreationTime":"{time}","RecordType":1,"Operation":"Op{i}"}}"#
            );
            let record = skylight_model::AuditRecord::from_json(&raw).unwrap();
            let blob = BlobRef {
                content_id: format!("c{i}"),
                created: chrono::Utc::now(),
            };
            store
                .commit_blob("t", ContentType::Exchange, &blob, &[record])
                .unwrap();
        }
        let all = store.activities_since(0, 10).unwrap();
        let ids: Vec<&str> = all.iter().map(|a| a.row.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"], "stored order, not time order");
        assert!(all[0].seq < all[1].seq);
        assert!(String::from_utf8_lossy(&all[1].raw).contains("\"Op1\""));
        let rest = store.activities_since(all[0].seq, 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].row.id, "a");
    }
}
