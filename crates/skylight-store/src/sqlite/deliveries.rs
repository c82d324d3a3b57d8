//! Notifications' side of the SQLite store: the delivery log (one row per alert change and
//! channel) and the notifier's cursor through the alerts' changes.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use skylight_model::{Delivery, DeliveryStatus};

use super::{Inner, from_ns, len_i64, to_ns};
use crate::{AttemptOutcome, DeliveryQuery, DueDelivery, NewDelivery, StoreError};

/// The cursor row's name.
const CURSOR: &str = "alerts";

const COLUMNS: &str = "id, alert_id, change_ns, channel, status, attempts, last_error, last_attempt_ns, \
     next_attempt_ns, delivered_ns, created_ns";

fn read_delivery(r: &rusqlite::Row<'_>) -> Result<Delivery, StoreError> {
    let id: i64 = r.get(0)?;
    let status: String = r.get(4)?;
    Ok(Delivery {
        id,
        alert_id: r.get(1)?,
        change: from_ns(r.get(2)?),
        channel: r.get(3)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery {id}: status {status:?}")))?,
        attempts: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(u32::MAX),
        last_error: r.get(6)?,
        last_attempt: r.get::<_, Option<i64>>(7)?.map(from_ns),
        next_attempt: r.get::<_, Option<i64>>(8)?.map(from_ns),
        delivered: r.get::<_, Option<i64>>(9)?.map(from_ns),
        created: from_ns(r.get(10)?),
    })
}

impl Inner {
    pub(super) fn notification_cursor(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ns: Option<i64> = self
            .conn
            .prepare_cached("SELECT updated_ns FROM notification_progress WHERE name = ?1")?
            .query_row([CURSOR], |r| r.get(0))
            .optional()?;
        Ok(ns.map(from_ns))
    }

    pub(super) fn enqueue_deliveries(
        &mut self,
        deliveries: &[NewDelivery],
        cursor: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let now = to_ns(Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut queued = 0u64;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO deliveries (alert_id, change_ns, channel, payload, next_attempt_ns, created_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (alert_id, change_ns, channel) DO NOTHING",
            )?;
            for d in deliveries {
                queued += insert.execute(params![
                    d.alert_id,
                    to_ns(d.change),
                    d.channel,
                    d.payload,
                    now
                ])? as u64;
            }
            // The cursor never moves back: a late reader must not make the next one re-read.
            tx.prepare_cached(
                "INSERT INTO notification_progress (name, updated_ns) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET updated_ns = max(updated_ns, excluded.updated_ns)",
            )?
            .execute(params![CURSOR, to_ns(cursor)])?;
        }
        tx.commit()?;
        Ok(queued)
    }

    pub(super) fn take_due_deliveries(
        &mut self,
        channels: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        if channels.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // Most calls find nothing due: look before taking the write lock.
        let any_due = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_ns <= ?1 LIMIT 1",
            )?
            .query_row([to_ns(now)], |_| Ok(()))
            .optional()?
            .is_some();
        if !any_due {
            return Ok(Vec::new());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut taken = Vec::new();
        {
            let sql = format!(
                "SELECT {COLUMNS}, payload FROM deliveries WHERE status = 'pending' AND next_attempt_ns <= ? \
                 AND channel IN ({}) ORDER BY next_attempt_ns, id LIMIT ?",
                vec!["?"; channels.len()].join(",")
            );
            let mut args = vec![Sql::Integer(to_ns(now))];
            args.extend(channels.iter().map(|c| Sql::Text(c.clone())));
            args.push(Sql::Integer(len_i64(limit)));
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
            while let Some(r) = rows.next()? {
                let mut delivery = read_delivery(r)?;
                delivery.next_attempt = Some(lease_until);
                taken.push(DueDelivery {
                    delivery,
                    payload: r.get(11)?,
                });
            }
            let mut hold =
                tx.prepare_cached("UPDATE deliveries SET next_attempt_ns = ?2 WHERE id = ?1")?;
            for d in &taken {
                hold.execute(params![d.delivery.id, to_ns(lease_until)])?;
            }
        }
        tx.commit()?;
        Ok(taken)
    }

    pub(super) fn record_delivery_attempt(
        &mut self,
        id: i64,
        at: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> Result<Option<Delivery>, StoreError> {
        let at = to_ns(at);
        let sql = match outcome {
            AttemptOutcome::Delivered => {
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_ns = ?2, \
                 next_attempt_ns = NULL, delivered_ns = ?2 WHERE id = ?1 AND status = 'pending'"
            }
            AttemptOutcome::Retry { .. } => {
                "UPDATE deliveries SET attempts = attempts + 1, last_attempt_ns = ?2, last_error = ?3, \
                 next_attempt_ns = ?4 WHERE id = ?1 AND status = 'pending'"
            }
            AttemptOutcome::GaveUp { .. } => {
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_attempt_ns = ?2, \
                 last_error = ?3, next_attempt_ns = NULL WHERE id = ?1 AND status = 'pending'"
            }
        };
        let changed = {
            let mut stmt = self.conn.prepare_cached(sql)?;
            match outcome {
                AttemptOutcome::Delivered => stmt.execute(params![id, at])?,
                AttemptOutcome::Retry {
                    error,
                    next_attempt,
                } => stmt.execute(params![id, at, error, to_ns(*next_attempt)])?,
                AttemptOutcome::GaveUp { error } => stmt.execute(params![id, at, error])?,
            }
        };
        if changed == 0 {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1"))?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_delivery(r)?)),
            None => Ok(None),
        }
    }

    pub(super) fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM deliveries WHERE 1");
        let mut args: Vec<Sql> = Vec::new();
        if let Some(s) = q.status {
            sql.push_str(" AND status = ?");
            args.push(Sql::Text(s.as_str().into()));
        }
        if let Some(c) = &q.channel {
            sql.push_str(" AND channel = ?");
            args.push(Sql::Text(c.clone()));
        }
        if let Some(a) = q.alert_id {
            sql.push_str(" AND alert_id = ?");
            args.push(Sql::Integer(a));
        }
        sql.push_str(" ORDER BY id DESC");
        if q.limit > 0 {
            sql.push_str(" LIMIT ?");
            args.push(Sql::Integer(len_i64(q.limit)));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read_delivery(r)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone, Utc};
    use skylight_model::{AlertDraft, Severity};

    // The checks that hold on every backend are in `tests/conformance_deliveries.rs`.
    use crate::{AlertQuery, DeliveryQuery, NewDelivery, SqliteStore, Store};

    fn alert(store: &SqliteStore, key: &str) -> skylight_model::Alert {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let draft = AlertDraft {
            key: key.into(),
            tenant: "contoso".into(),
            policy: "p".into(),
            kind: "activity".into(),
            title: key.into(),
            severity: Severity::High,
            category: "threat_detection".into(),
            signal_only: false,
            users: vec!["eve@contoso.com".into()],
            ips: Vec::new(),
            countries: Vec::new(),
            activity_ids: vec!["a1".into()],
            activity_count: 1,
            facts: Vec::new(),
            first: at,
            last: at,
        };
        // Progress stays where it is: only the alert is new.
        let seq = store.detection_state().unwrap().0;
        store.commit_detection(seq, seq, &[draft], &[]).unwrap();
        let all = store.alerts(&AlertQuery::default()).unwrap();
        all.into_iter().find(|a| a.draft.key == key).unwrap()
    }

    fn new(alert: &skylight_model::Alert, channel: &str) -> NewDelivery {
        NewDelivery {
            alert_id: alert.id,
            change: alert.updated,
            channel: channel.into(),
            payload: format!("{}@{channel}", alert.id).into_bytes(),
        }
    }

    fn chans(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deliveries_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (id, change) = {
            let store = SqliteStore::open(dir.path()).unwrap();
            let a = alert(&store, "a");
            store
                .enqueue_deliveries(&[new(&a, "soc")], a.updated)
                .unwrap();
            (a.id, a.updated)
        };
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.notification_cursor().unwrap(), Some(change));
        let now = Utc::now() + Duration::seconds(1);
        let taken = store
            .take_due_deliveries(&chans(&["soc"]), now, now, 10)
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].delivery.alert_id, id);
        assert_eq!(taken[0].delivery.change, change);
        let limited = store
            .deliveries(&DeliveryQuery {
                alert_id: Some(id),
                limit: 1,
                ..DeliveryQuery::default()
            })
            .unwrap();
        assert_eq!(limited.len(), 1);
    }
}
