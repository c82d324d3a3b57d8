//! Notifications' side of the PostgreSQL store: the delivery log (one row per alert change and
//! channel) and the notifier's cursor through the alerts' changes. Same results as the SQLite
//! backend's `sqlite/deliveries.rs`; here several processes may take deliveries at once.

use postgres::Row;
use skylight_model::DeliveryStatus;

use super::detection::Args;
use super::*;

/// The cursor row's name.
const CURSOR: &str = "alerts";

/// The columns [`read_delivery`] reads, in its order.
const COLUMNS: &str = "id, alert_id, change_ns, channel, status, attempts, last_error, last_attempt_ns, \
     next_attempt_ns, delivered_ns, created_ns";

/// A delivery from a row starting with [`COLUMNS`].
fn read_delivery(r: &Row) -> Result<Delivery, StoreError> {
    let id: i64 = r.try_get(0)?;
    let status: String = r.try_get(4)?;
    Ok(Delivery {
        id,
        alert_id: r.try_get(1)?,
        change: from_ns(r.try_get(2)?),
        channel: r.try_get(3)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery {id}: status {status:?}")))?,
        attempts: u32::try_from(r.try_get::<_, i64>(5)?).unwrap_or(u32::MAX),
        last_error: r.try_get(6)?,
        last_attempt: r.try_get::<_, Option<i64>>(7)?.map(from_ns),
        next_attempt: r.try_get::<_, Option<i64>>(8)?.map(from_ns),
        delivered: r.try_get::<_, Option<i64>>(9)?.map(from_ns),
        created: from_ns(r.try_get(10)?),
    })
}

/// A length as a bind parameter.
fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// [`Store::notification_cursor`](crate::Store::notification_cursor).
pub(super) fn notification_cursor(c: &mut Client) -> Result<Option<DateTime<Utc>>, StoreError> {
    let ns: Option<i64> = c
        .query_opt(
            "SELECT updated_ns FROM notification_progress WHERE name = $1",
            &[&CURSOR],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    Ok(ns.map(from_ns))
}

/// [`Store::enqueue_deliveries`](crate::Store::enqueue_deliveries).
pub(super) fn enqueue_deliveries(
    c: &mut Client,
    deliveries: &[NewDelivery],
    cursor: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = to_ns(Utc::now());
    let mut tx = c.transaction()?;
    let mut queued = 0u64;
    let insert = tx.prepare(
        "INSERT INTO deliveries (alert_id, change_ns, channel, payload, next_attempt_ns, created_ns) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (alert_id, change_ns, channel) DO NOTHING",
    )?;
    for d in deliveries {
        queued += tx.execute(
            &insert,
            &[&d.alert_id, &to_ns(d.change), &d.channel, &d.payload, &now],
        )?;
    }
    // The cursor never moves back: a late reader must not make the next one re-read.
    tx.execute(
        "INSERT INTO notification_progress (name, updated_ns) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE \
         SET updated_ns = greatest(notification_progress.updated_ns, excluded.updated_ns)",
        &[&CURSOR, &to_ns(cursor)],
    )?;
    tx.commit()?;
    Ok(queued)
}

/// [`Store::take_due_deliveries`](crate::Store::take_due_deliveries).
pub(super) fn take_due_deliveries(
    c: &mut Client,
    channels: &[String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    if channels.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // One statement, so one transaction: it locks the due rows no other taker holds (SKIP
    // LOCKED: takers never wait for each other nor get the same row) and moves their next
    // attempt to the lease's end. A row another taker leased meanwhile is re-checked against
    // its new next attempt, not yet due, and left out.
    let rows = c.query(
        &format!(
            "WITH due AS ( \
                 SELECT id, next_attempt_ns AS due_ns FROM deliveries \
                 WHERE status = 'pending' AND next_attempt_ns <= $1 AND channel = ANY($2) \
                 ORDER BY next_attempt_ns, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries d SET next_attempt_ns = $4 FROM due WHERE d.id = due.id \
             RETURNING {}, d.payload, due.due_ns",
            COLUMNS
                .split(", ")
                .map(|col| format!("d.{col}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &[&to_ns(now), &channels, &len_i64(limit), &to_ns(lease_until)],
    )?;
    let mut taken = rows
        .iter()
        .map(|r| {
            let due: i64 = r.try_get(12)?;
            Ok((due, read_delivery(r)?, r.try_get::<_, Vec<u8>>(11)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING comes in no particular order: the longest due first, as SQLite gives them.
    taken.sort_by_key(|(due, d, _)| (*due, d.id));
    Ok(taken
        .into_iter()
        .map(|(_, delivery, payload)| DueDelivery { delivery, payload })
        .collect())
}

/// [`Store::record_delivery_attempt`](crate::Store::record_delivery_attempt).
pub(super) fn record_delivery_attempt(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
    outcome: &AttemptOutcome,
) -> Result<Option<Delivery>, StoreError> {
    let at = to_ns(at);
    // Only a pending row changes: a delivered or failed one is final.
    let row = match outcome {
        AttemptOutcome::Delivered => c.query_opt(
            &format!(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, \
                 last_attempt_ns = $2, next_attempt_ns = NULL, delivered_ns = $2 \
                 WHERE id = $1 AND status = 'pending' RETURNING {COLUMNS}"
            ),
            &[&id, &at],
        )?,
        AttemptOutcome::Retry {
            error,
            next_attempt,
        } => c.query_opt(
            &format!(
                "UPDATE deliveries SET attempts = attempts + 1, last_attempt_ns = $2, \
                 last_error = $3, next_attempt_ns = $4 \
                 WHERE id = $1 AND status = 'pending' RETURNING {COLUMNS}"
            ),
            &[&id, &at, error, &to_ns(*next_attempt)],
        )?,
        AttemptOutcome::GaveUp { error } => c.query_opt(
            &format!(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, \
                 last_attempt_ns = $2, last_error = $3, next_attempt_ns = NULL \
                 WHERE id = $1 AND status = 'pending' RETURNING {COLUMNS}"
            ),
            &[&id, &at, error],
        )?,
    };
    row.as_ref().map(read_delivery).transpose()
}

/// [`Store::deliveries`](crate::Store::deliveries).
pub(super) fn deliveries(c: &mut Client, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM deliveries WHERE true");
    let mut args = Args::default();
    if let Some(s) = q.status {
        sql.push_str(&format!(" AND status = {}", args.bind(s.as_str())));
    }
    if let Some(ch) = &q.channel {
        sql.push_str(&format!(" AND channel = {}", args.bind(ch.clone())));
    }
    if let Some(a) = q.alert_id {
        sql.push_str(&format!(" AND alert_id = {}", args.bind(a)));
    }
    sql.push_str(" ORDER BY id DESC");
    if q.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", args.bind(len_i64(q.limit))));
    }
    c.query(&sql, &args.refs())?
        .iter()
        .map(read_delivery)
        .collect()
}
