//! Detection's side of the PostgreSQL store: detection state and progress, alerts and their
//! triage, and the policies defined through the API. Same results as the SQLite backend's
//! `sqlite/detection.rs`, method by method.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{IsolationLevel, Row, Statement, Transaction};
use skylight_model::{AlertComment, AlertStatus, Resolution, Severity};

use super::*;

use crate::partition;

/// The advisory lock a change of detection's plan holds (`dplan` in ASCII): processes starting
/// together plan one after the other.
const PLAN_LOCK: i64 = 0x64_706c_616e;

/// Detection's progress rows, by partition.
fn read_partitions(c: &mut impl postgres::GenericClient) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = c.query(
        "SELECT name, seq FROM detection_progress ORDER BY name",
        &[],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.try_get(0)?;
        if let Some(p) = partition::partition_of_row(&name) {
            out.push((p.to_owned(), r.try_get(1)?));
        }
    }
    Ok(out)
}

/// [`Store::detection_partitions`](crate::Store::detection_partitions).
pub(super) fn detection_partitions(c: &mut Client) -> Result<Vec<(String, i64)>, StoreError> {
    read_partitions(c)
}

/// [`Store::plan_detection`](crate::Store::plan_detection).
pub(super) fn plan_detection(c: &mut Client, partitions: &[String]) -> Result<(), StoreError> {
    for p in partitions {
        partition::check_name(p)?;
    }
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PLAN_LOCK])?;
    let saved = read_partitions(&mut tx)?;
    let start = saved.iter().map(|(_, seq)| *seq).min().unwrap_or(0);
    let missing: Vec<String> = partitions
        .iter()
        .filter(|p| !saved.iter().any(|(s, _)| s == *p))
        .map(|p| partition::progress_row(p))
        .collect();
    if !missing.is_empty() {
        tx.execute(
            "INSERT INTO detection_progress (name, seq) SELECT unnest($1::text[]), $2",
            &[&missing, &start],
        )?;
    }
    let gone: Vec<String> = saved
        .iter()
        .filter(|(p, _)| !partitions.contains(p))
        .map(|(p, _)| partition::progress_row(p))
        .collect();
    if !gone.is_empty() {
        tx.execute(
            "DELETE FROM detection_progress WHERE name = ANY($1)",
            &[&gone],
        )?;
    }
    let mut stale = Vec::new();
    for r in tx.query("SELECT key FROM detection_state", &[])? {
        let key: String = r.try_get(0)?;
        let planned = partition::split_state_key(&key)
            .is_some_and(|(p, _)| partitions.iter().any(|q| q == p));
        if !planned {
            stale.push(key);
        }
    }
    if !stale.is_empty() {
        tx.execute("DELETE FROM detection_state WHERE key = ANY($1)", &[&stale])?;
    }
    tx.commit()?;
    Ok(())
}

/// A partition's saved progress (0 for the unpartitioned detection before its first commit; a
/// partition outside the plan is refused), its row locked until the transaction ends.
fn lock_progress(tx: &mut Transaction<'_>, partition: &str) -> Result<i64, StoreError> {
    let row = partition::progress_row(partition);
    if partition.is_empty() && read_partitions(&mut *tx)?.is_empty() {
        // Two detectors committing at once are put in order, and the second sees the first's
        // progress. Not when a partitioned plan replaced it: a process still running
        // unpartitioned must not start over from the beginning.
        tx.execute(
            "INSERT INTO detection_progress (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
            &[&row],
        )?;
    }
    tx.query_opt(
        "SELECT seq FROM detection_progress WHERE name = $1 FOR UPDATE",
        &[&row],
    )?
    .map(|r| r.try_get(0))
    .transpose()?
    .ok_or_else(|| partition::not_planned(partition))
}

/// The advisory lock held by every transaction that stamps alert changes (`alerts` in ASCII).
const ALERTS_LOCK: i64 = 0x616c_6572_7473;

/// A query's bind parameters, numbered as they are added: every user value is bound, never
/// spliced into the SQL.
#[derive(Default)]
pub(super) struct Args(Vec<Box<dyn ToSql + Sync>>);

impl Args {
    /// Adds a value; its placeholder (`$n`).
    pub(super) fn bind(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    /// The values, as the client takes them.
    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|b| b.as_ref() as _).collect()
    }
}

/// Takes the alerts' write turn in `tx`; the time this transaction's changes are stamped with.
///
/// The notifier reads changes after its cursor (`updated_ns`): a change stamped earlier but
/// committed later than one it already read would never be delivered. So writers of alerts
/// take turns (a transaction-scoped lock, freed at commit or rollback), and each stamps a time
/// after every stamp before it, even when this host's clock is behind another Skylight's.
fn stamp(tx: &mut Transaction<'_>) -> Result<i64, StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ALERTS_LOCK])?;
    let newest: Option<i64> = tx
        .query_one("SELECT max(updated_ns) FROM alerts", &[])?
        .try_get(0)?;
    let now = to_ns(Utc::now());
    Ok(newest.map_or(now, |n| now.max(n.saturating_add(1))))
}

/// A time kept to the millisecond (`first_ms`, `last_ms`).
fn time_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The columns [`read_alert`] reads, in its order.
const ALERT_COLUMNS: &str = "id, key, tenant, policy, kind, title, severity, category, signal_only, users, ips, \
     countries, activity_ids, activity_count, facts, first_ms, last_ms, status, resolution, created_ns, updated_ns";

/// An alert from a row of [`ALERT_COLUMNS`] (without its comments).
fn read_alert(r: &Row) -> Result<Alert, StoreError> {
    let id: i64 = r.try_get(0)?;
    let what = |f: &str| StoreError::Corrupt(format!("alert {id}: {f}"));
    let severity: String = r.try_get(6)?;
    let status: String = r.try_get(17)?;
    let resolution: Option<String> = r.try_get(18)?;
    Ok(Alert {
        id,
        draft: AlertDraft {
            key: r.try_get(1)?,
            tenant: r.try_get(2)?,
            policy: r.try_get(3)?,
            kind: r.try_get(4)?,
            title: r.try_get(5)?,
            severity: Severity::parse(&severity).ok_or_else(|| what("severity"))?,
            category: r.try_get(7)?,
            signal_only: r.try_get(8)?,
            users: r.try_get(9)?,
            ips: r.try_get(10)?,
            countries: r.try_get(11)?,
            activity_ids: r.try_get(12)?,
            // As SQLite reads it: a negative count (never written) reads as none.
            activity_count: u64::try_from(r.try_get::<_, i64>(13)?).unwrap_or(0),
            facts: r.try_get(14)?,
            first: time_ms(r.try_get(15)?),
            last: time_ms(r.try_get(16)?),
        },
        status: AlertStatus::parse(&status).ok_or_else(|| what("status"))?,
        resolution: resolution.as_deref().and_then(Resolution::parse),
        created: from_ns(r.try_get(19)?),
        updated: from_ns(r.try_get(20)?),
        comments: Vec::new(),
    })
}

/// The insert of an alert; the caller says what a key already taken does.
const ALERT_INSERT: &str = "INSERT INTO alerts (key, tenant, policy, kind, title, severity, category, \
     signal_only, users, ips, countries, activity_ids, activity_count, facts, first_ms, last_ms, \
     created_ns, updated_ns) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)";

/// Runs a prepared [`ALERT_INSERT`] for one alert; the rows it wrote.
fn write_alert(
    tx: &mut Transaction<'_>,
    stmt: &Statement,
    a: &AlertDraft,
    now: i64,
) -> Result<u64, StoreError> {
    let count = to_count(a.activity_count);
    let (first, last) = (a.first.timestamp_millis(), a.last.timestamp_millis());
    Ok(tx.execute(
        stmt,
        &[
            &a.key,
            &a.tenant,
            &a.policy,
            &a.kind,
            &a.title,
            &a.severity.as_str(),
            &a.category,
            &a.signal_only,
            &a.users,
            &a.ips,
            &a.countries,
            &a.activity_ids,
            &count,
            &a.facts,
            &first,
            &last,
            &now,
        ],
    )?)
}

/// [`Store::detection_state_visit`](crate::Store::detection_state_visit).
pub(super) fn detection_state(
    c: &mut Client,
    partition: &str,
    visit: &mut (dyn FnMut(StateEntry) -> Result<(), StoreError> + Send),
) -> Result<i64, StoreError> {
    /// Entries read per round trip.
    const PAGE: i64 = 1_000;
    // One snapshot for both reads: the progress and the state it goes with.
    let mut tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let seq: Option<i64> = tx
        .query_opt(
            "SELECT seq FROM detection_progress WHERE name = $1",
            &[&partition::progress_row(partition)],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let seq = match seq {
        Some(seq) => seq,
        None if partition.is_empty() && read_partitions(&mut tx)?.is_empty() => 0,
        None => return Err(partition::not_planned(partition)),
    };
    // In pages of keys, within the snapshot: never the whole state in memory at once.
    let (mut after, hi) = if partition.is_empty() {
        (String::new(), None)
    } else {
        let (lo, hi) = partition::key_range(partition);
        (lo, Some(hi))
    };
    loop {
        let rows = match &hi {
            None => tx.query(
                "SELECT key, value FROM detection_state \
                 WHERE key > $1 AND left(key, 1) <> '#' ORDER BY key LIMIT $2",
                &[&after, &PAGE],
            )?,
            Some(hi) => tx.query(
                "SELECT key, value FROM detection_state \
                 WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3",
                &[&after, hi, &PAGE],
            )?,
        };
        let full = rows.len() as i64 == PAGE;
        for r in rows {
            let stored: String = r.try_get(0)?;
            visit((partition::engine_key(&stored).to_owned(), r.try_get(1)?))?;
            after = stored;
        }
        if !full {
            break;
        }
    }
    tx.commit()?;
    Ok(seq)
}

/// [`Store::detection_entries_in`](crate::Store::detection_entries_in).
pub(super) fn detection_entries(
    c: &mut Client,
    partition: &str,
    keys: &[String],
) -> Result<Vec<StateEntry>, StoreError> {
    let stored: Vec<String> = keys
        .iter()
        .map(|k| partition::state_key(partition, k))
        .collect();
    let rows = c.query(
        "SELECT key, value FROM detection_state WHERE key = ANY($1)",
        &[&stored],
    )?;
    rows.iter()
        .map(|r| {
            let key: &str = r.try_get(0)?;
            Ok((partition::engine_key(key).to_owned(), r.try_get(1)?))
        })
        .collect()
}

/// [`Store::commit_detection_in`](crate::Store::commit_detection_in).
pub(super) fn commit_detection(
    c: &mut Client,
    partition: &str,
    from: i64,
    progress: i64,
    alerts: &[AlertDraft],
    state: &mut dyn Iterator<Item = StateChange>,
) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    let saved = lock_progress(&mut tx, partition)?;
    if saved != from {
        return Err(crate::progress_moved(from, saved));
    }
    if !alerts.is_empty() {
        let now = stamp(&mut tx)?;
        let upsert = tx.prepare(&format!(
            "{ALERT_INSERT} ON CONFLICT (key) DO UPDATE SET title = excluded.title, \
             severity = excluded.severity, users = excluded.users, ips = excluded.ips, \
             countries = excluded.countries, activity_ids = excluded.activity_ids, \
             activity_count = excluded.activity_count, facts = excluded.facts, \
             first_ms = excluded.first_ms, last_ms = excluded.last_ms, \
             updated_ns = excluded.updated_ns"
        ))?;
        for a in alerts {
            write_alert(&mut tx, &upsert, a, now)?;
        }
    }
    // A chunk at a time, so that what is held serialised at once stays bounded.
    let mut chunk: Vec<StateChange> = Vec::with_capacity(STATE_CHUNK);
    loop {
        chunk.clear();
        chunk.extend((&mut *state).take(STATE_CHUNK));
        if chunk.is_empty() {
            break;
        }
        write_state(&mut tx, partition, &chunk)?;
    }
    tx.execute(
        "INSERT INTO detection_progress (name, seq) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        &[&partition::progress_row(partition), &progress],
    )?;
    tx.commit()?;
    Ok(())
}

/// State changes written in one round: at most this many.
const STATE_CHUNK: usize = 1_000;

/// Writes state changes in order. A key's last change is the one that counts: applied as one
/// insert and one delete rather than a round trip per key (one insert cannot touch a row twice).
fn write_state(
    tx: &mut Transaction<'_>,
    partition: &str,
    state: &[StateChange],
) -> Result<(), StoreError> {
    let mut last: HashMap<String, Option<&[u8]>> = HashMap::new();
    for (key, value) in state {
        last.insert(partition::state_key(partition, key), value.as_deref());
    }
    let (mut keys, mut values, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in last {
        match value {
            Some(v) => {
                keys.push(key);
                values.push(v);
            }
            None => gone.push(key),
        }
    }
    if !keys.is_empty() {
        tx.execute(
            "INSERT INTO detection_state (key, value) SELECT * FROM unnest($1::text[], $2::bytea[]) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&keys, &values],
        )?;
    }
    if !gone.is_empty() {
        tx.execute("DELETE FROM detection_state WHERE key = ANY($1)", &[&gone])?;
    }
    Ok(())
}

/// [`Store::raise_new_alerts`](crate::Store::raise_new_alerts).
pub(super) fn raise_new_alerts(c: &mut Client, alerts: &[AlertDraft]) -> Result<u64, StoreError> {
    if alerts.is_empty() {
        return Ok(0);
    }
    let mut tx = c.transaction()?;
    let now = stamp(&mut tx)?;
    // A key already taken, even by another process at the same moment, is skipped.
    let insert = tx.prepare(&format!("{ALERT_INSERT} ON CONFLICT (key) DO NOTHING"))?;
    let mut raised = 0u64;
    for a in alerts {
        raised += write_alert(&mut tx, &insert, a, now)?;
    }
    tx.commit()?;
    Ok(raised)
}

/// [`Store::stored_policies`](crate::Store::stored_policies).
pub(super) fn stored_policies(c: &mut Client) -> Result<Vec<(String, String)>, StoreError> {
    c.query("SELECT id, body FROM policies ORDER BY id", &[])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// [`Store::put_policy`](crate::Store::put_policy).
pub(super) fn put_policy(c: &mut Client, id: &str, body: &str) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO policies (id, body, updated_ns) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_ns = excluded.updated_ns",
        &[&id, &body, &to_ns(Utc::now())],
    )?;
    tx.execute("UPDATE policy_version SET version = version + 1", &[])?;
    tx.commit()?;
    Ok(())
}

/// [`Store::delete_policy`](crate::Store::delete_policy).
pub(super) fn delete_policy(c: &mut Client, id: &str) -> Result<bool, StoreError> {
    let mut tx = c.transaction()?;
    let n = tx.execute("DELETE FROM policies WHERE id = $1", &[&id])?;
    if n > 0 {
        tx.execute("UPDATE policy_version SET version = version + 1", &[])?;
    }
    tx.commit()?;
    Ok(n > 0)
}

/// [`Store::policy_version`](crate::Store::policy_version).
pub(super) fn policy_version(c: &mut Client) -> Result<i64, StoreError> {
    Ok(c.query_one("SELECT version FROM policy_version", &[])?
        .try_get(0)?)
}

/// [`Store::detection_progress`](crate::Store::detection_progress).
pub(super) fn detection_progress(c: &mut Client) -> Result<(i64, i64), StoreError> {
    // One statement, so both numbers come from one snapshot.
    let r = c.query_one(
        "SELECT coalesce((SELECT min(seq) FROM detection_progress \
                          WHERE name = 'activities' OR name LIKE 'activities:%'), 0), \
                (SELECT coalesce(max(seq), 0) FROM records)",
        &[],
    )?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// [`Store::alerts`](crate::Store::alerts).
pub(super) fn alerts(c: &mut Client, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE true");
    let mut args = Args::default();
    if let Some(t) = &q.tenant {
        sql.push_str(&format!(" AND tenant = {}", args.bind(t.clone())));
    }
    if !q.statuses.is_empty() {
        let statuses: Vec<String> = q.statuses.iter().map(|s| s.as_str().into()).collect();
        sql.push_str(&format!(" AND status = ANY({})", args.bind(statuses)));
    }
    if let Some(min) = q.min_severity {
        let allowed: Vec<String> = Severity::ALL
            .into_iter()
            .filter(|s| *s >= min)
            .map(|s| s.as_str().into())
            .collect();
        sql.push_str(&format!(" AND severity = ANY({})", args.bind(allowed)));
    }
    if let Some(p) = &q.policy {
        sql.push_str(&format!(" AND policy = {}", args.bind(p.clone())));
    }
    if let Some(u) = &q.user {
        // ASCII case folding on both sides, as SQLite's lower() does: the "C" collation keeps
        // PostgreSQL's lower() from folding other letters.
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM unnest(users) AS u WHERE lower(u COLLATE \"C\") = {})",
            args.bind(u.to_ascii_lowercase())
        ));
    }
    if !q.include_signals {
        sql.push_str(" AND NOT signal_only");
    }
    if let Some(after) = q.updated_after {
        sql.push_str(&format!(" AND updated_ns > {}", args.bind(to_ns(after))));
        // A feed of changes sends them in the order they happened.
        sql.push_str(" ORDER BY updated_ns, id");
    } else {
        sql.push_str(" ORDER BY last_ms DESC, id DESC");
    }
    if q.limit > 0 {
        sql.push_str(&format!(
            " LIMIT {}",
            args.bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
        ));
    }
    c.query(&sql, &args.refs())?
        .iter()
        .map(read_alert)
        .collect()
}

/// [`Store::alert`](crate::Store::alert).
pub(super) fn alert(c: &mut Client, id: i64) -> Result<Option<Alert>, StoreError> {
    // One snapshot: the alert and its comments as they stood together.
    let mut tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let Some(r) = tx.query_opt(
        &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"),
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let mut alert = read_alert(&r)?;
    alert.comments = tx
        .query(
            "SELECT at_ns, author, text FROM alert_comments WHERE alert_id = $1 ORDER BY id",
            &[&id],
        )?
        .iter()
        .map(|r| {
            Ok(AlertComment {
                at: from_ns(r.try_get(0)?),
                author: r.try_get(1)?,
                text: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    tx.commit()?;
    Ok(Some(alert))
}

/// [`Store::update_alert`](crate::Store::update_alert).
pub(super) fn update_alert(
    c: &mut Client,
    id: i64,
    change: &AlertChange,
) -> Result<Option<Alert>, StoreError> {
    let mut tx = c.transaction()?;
    let now = stamp(&mut tx)?;
    if tx
        .query_opt("SELECT 1 FROM alerts WHERE id = $1", &[&id])?
        .is_none()
    {
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
        tx.execute(
            "UPDATE alerts SET status = $2, resolution = $3, updated_ns = $4 WHERE id = $1",
            &[&id, &status.as_str(), &resolution, &now],
        )?;
    } else if let Some(r) = change.resolution {
        tx.execute(
            "UPDATE alerts SET resolution = $2, updated_ns = $3 WHERE id = $1",
            &[&id, &r.as_str(), &now],
        )?;
    }
    if let Some((author, text)) = &change.comment {
        tx.execute(
            "INSERT INTO alert_comments (alert_id, at_ns, author, text) VALUES ($1, $2, $3, $4)",
            &[&id, &now, author, text],
        )?;
        tx.execute(
            "UPDATE alerts SET updated_ns = $2 WHERE id = $1",
            &[&id, &now],
        )?;
    }
    tx.commit()?;
    alert(c, id)
}
