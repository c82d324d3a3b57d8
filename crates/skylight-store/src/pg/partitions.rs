//! The weekly partitions of `records`: created on demand before records go in, dropped whole by
//! retention.
//!
//! Partitions are named `records_YYYYMMDD` after the Monday (UTC) they start on and hold that
//! week's records by `creation_ms`. Records without a readable time (`creation_ms` 0), and the
//! odd one dated before the first Monday of 1970, live in `records_untimed` (migration 0001),
//! which retention keeps. Names and bounds are computed from integers, never from user input.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use postgres::error::SqlState;

use super::commit::{COMMIT_LOCK, Known};
use super::*;

/// A week, in milliseconds.
const WEEK_MS: i64 = 7 * 24 * 3_600_000;

/// Monday 1970-01-05 00:00 UTC, where the weekly partitions begin (the end of `records_untimed`).
const FIRST_MONDAY_MS: i64 = 4 * 24 * 3_600_000;

/// The stored time of a record: its milliseconds, 0 without a readable time (as SQLite stores it).
pub(super) fn time_ms(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp_millis())
}

/// The start of the week partition holding `ms`; `None` for `records_untimed`.
fn week_start(ms: i64) -> Option<i64> {
    (ms >= FIRST_MONDAY_MS)
        .then(|| FIRST_MONDAY_MS + (ms - FIRST_MONDAY_MS).div_euclid(WEEK_MS) * WEEK_MS)
}

/// The name of the week partition starting at `start`.
fn partition_name(start: i64) -> String {
    let day = DateTime::from_timestamp_millis(start).map_or(NaiveDate::MIN, |d| d.date_naive());
    format!(
        "records_{:04}{:02}{:02}",
        day.year(),
        day.month(),
        day.day()
    )
}

/// The start of the week partition of this name (`None` for any other table).
fn partition_start(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("records_")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, md) = digits.split_at(digits.len() - 4);
    let day = NaiveDate::from_ymd_opt(
        y.parse().ok()?,
        md[..2].parse().ok()?,
        md[2..].parse().ok()?,
    )?;
    let ms = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    (week_start(ms) == Some(ms)).then_some(ms)
}

/// Creates the week partitions these record times need, unless known to exist.
///
/// Another process may create the same partition at the same moment: `IF NOT EXISTS` covers the
/// common case, and an error is tolerated when the partition exists afterwards (the race ends in
/// a duplicate name or type, or an overlap).
pub(super) fn ensure(c: &mut Client, known: &Known, times: &[i64]) -> Result<(), StoreError> {
    let starts: BTreeSet<i64> = times.iter().filter_map(|&ms| week_start(ms)).collect();
    for start in starts {
        if known.has_partition(start) {
            continue;
        }
        let name = partition_name(start);
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF records FOR VALUES FROM ({start}) TO ({})",
            start + WEEK_MS
        );
        if let Err(e) = c.batch_execute(&sql) {
            let raced = matches!(
                e.code(),
                Some(code) if *code == SqlState::DUPLICATE_TABLE
                    || *code == SqlState::UNIQUE_VIOLATION
                    || *code == SqlState::INVALID_OBJECT_DEFINITION
            );
            if !raced || !exists(c, &name)? {
                return Err(e.into());
            }
        }
        known.add_partition(start);
    }
    Ok(())
}

/// Whether a partition of this name is attached to `records`.
fn exists(c: &mut Client, name: &str) -> Result<bool, StoreError> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid \
         WHERE i.inhparent = 'records'::regclass AND k.relname = $1)",
        &[&name],
    )?
    .get(0))
}

/// Drops the week partitions that end at or before `before`, with their raw chunks and their
/// share of the record counts; returns how many records went.
pub(super) fn drop_before(
    c: &mut Client,
    known: &Known,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let before_ms = before.timestamp_millis();
    let Some(cutoff) = week_start(before_ms) else {
        return Ok(0);
    };
    let mut tx = c.transaction()?;
    // No commit may be inserting records meanwhile: the same lock as theirs.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COMMIT_LOCK])?;
    let names: Vec<String> = tx
        .query(
            "SELECT k.relname::text FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid \
             WHERE i.inhparent = 'records'::regclass",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut dropped = 0u64;
    for name in names {
        let Some(start) = partition_start(&name) else {
            continue;
        };
        if start + WEEK_MS > before_ms {
            continue;
        }
        // `name` is one of ours (records_ and digits), read from the catalog.
        let counts = tx.query(
            &format!("SELECT tenant_id, content_type, count(*) FROM \"{name}\" GROUP BY 1, 2"),
            &[],
        )?;
        for row in &counts {
            let (tenant, ct, n): (i32, i16, i64) = (row.get(0), row.get(1), row.get(2));
            tx.execute(
                "UPDATE record_counts SET records = records - $3 WHERE tenant_id = $1 AND content_type = $2",
                &[&tenant, &ct, &n],
            )?;
            dropped += from_count(n, "record count")?;
        }
        tx.batch_execute(&format!("DROP TABLE \"{name}\""))?;
    }
    // Every timed record before the cutoff is gone: so are the chunks holding only such records.
    tx.execute(
        "DELETE FROM raw_chunks WHERE max_ms < $1 AND min_ms >= $2",
        &[&cutoff, &FIRST_MONDAY_MS],
    )?;
    tx.commit()?;
    known.forget_partitions();
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_mondays_and_names_read_back() {
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 19, 15, 0, 0)
            .single()
            .expect("time");
        let start = week_start(t.timestamp_millis()).expect("a week");
        let monday = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 16, 0, 0, 0)
            .single()
            .expect("time");
        assert_eq!(start, monday.timestamp_millis());
        assert_eq!(partition_name(start), "records_20261116");
        assert_eq!(partition_start("records_20261116"), Some(start));
        assert_eq!(partition_start("records_20261117"), None, "not a Monday");
        assert_eq!(partition_start("records_untimed"), None);
        assert_eq!(week_start(0), None);
        assert_eq!(week_start(-5), None);
        assert_eq!(week_start(FIRST_MONDAY_MS), Some(FIRST_MONDAY_MS));
    }
}
