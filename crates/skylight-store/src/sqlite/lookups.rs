//! The user, address and operation lookups (schemas 17 and 18): `record_users`,
//! `record_addresses` and `record_operations`, filled after the commits instead of inside them.
//!
//! Why: as indexes of `records`, each cost a B-tree insert per record at places spread over the
//! whole hour (or, for operations, over every operation), and each commit wrote every page it
//! touched to the WAL again.
//! Filled here instead, a batch of [`BATCH`] records is inserted in one transaction, so each
//! page is written once per batch rather than once per commit.
//!
//! The rule that keeps queries exact: the lookups hold every record with a row id up to
//! `looked_up.upto`, and nothing is looked up beyond it. A query reads the lookups for the
//! records up to there and scans the records after it (fewer than about [`BATCH`] of them: the
//! writer catches up after a commit that finds a batch waiting or [`AT_LEAST_EVERY`] passed,
//! and when it closes the store). Records that are
//! deleted take their entries in the tables with them (those in packed lists stay, at or below
//! retention's floor: see `lookup_days.rs`), and `upto` never stays above the last record,
//! so that a row id SQLite hands out again after a deletion is looked up like any new record.
//!
//! The rows come back by id, unordered, so a page of the log is looked for in windows of hours,
//! newest first ([`Windows`]): the old indexes' (hour, user, time) order let SQLite stop at a
//! full page, and sorting a week of an office address's activities for its first page took
//! 0.6 s among 11 million.

use std::collections::BTreeMap;

use rusqlite::types::Value as Sql;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::{Inner, lookup_days};
use crate::StoreError;

/// Records past `upto` that make the writer fill the lookups after a commit.
pub(super) const BATCH: i64 = 50_000;

/// Longest the writer leaves fewer than [`BATCH`] records out of the lookups while it commits:
/// a quiet tenant's records are looked up within about this long of the next commit, so that
/// queries do not scan them for hours; a busy one pays one small batch per period.
pub(super) const AT_LEAST_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What [`matching`] selects of the records it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Their row ids (one column).
    Ids,
    /// Their hours and how many of them (columns `h` and `n`, to be summed by hour): a packed
    /// list gives each hour once with its count (a common operation's week is hundreds of
    /// thousands of entries, each its own JSON value when listed one by one).
    HourCounts,
}

impl Want {
    /// The columns selected from a lookup's or the records' alias `alias`.
    fn of_rows(self, alias: char) -> String {
        match self {
            Want::Ids => format!("{alias}.id"),
            Want::HourCounts => format!("{alias}.hour AS h, 1 AS n"),
        }
    }

    /// `lookup_entries`'s argument asking a packed list for this.
    fn code(self) -> i64 {
        match self {
            Want::Ids => lookup_days::WANT_IDS,
            Want::HourCounts => lookup_days::WANT_HOUR_COUNTS,
        }
    }

    /// The columns selected from `json_each` alias `j` over what `lookup_entries` gave.
    fn of_packed(self) -> &'static str {
        match self {
            Want::Ids => "j.value",
            Want::HourCounts => "j.value ->> 0, j.value ->> 1",
        }
    }
}

/// The row ids, or hours with counts, of the records of hours `h0..=h1` whose column is in a set:
/// `on_lookup` is that condition on the column of lookup alias `l`, `on_records` on that of
/// records alias `t`, `on_packed` on the value of packed list alias `p`. Read from the lookup
/// and the packed lists up to `upto` (a seek per hour, or per list) and from the records after
/// it. For ids a superset is fine (the caller's WHERE holds every condition), a missing record is
/// not; counts are taken as they come, so the caller keeps out the hours where lists may still
/// name deleted records (retention's floor hour and before: see `count_whole_hours`).
fn matching(
    column: Column,
    (h0, h1): (i64, i64),
    want: Want,
    [on_lookup, on_records, on_packed]: [&str; 3],
) -> String {
    let hours = match column {
        // Led by the hour: a seek per hour for the user or address.
        Column::User | Column::Address => {
            let hours: Vec<String> = (h0..=h1).map(|h| h.to_string()).collect();
            format!("l.hour IN ({})", hours.join(","))
        }
        // Led by the operation: one range seek per operation.
        Column::Operation => format!("l.hour BETWEEN {h0} AND {h1}"),
    };
    // The lists that can hold hours `h0..=h1`: those starting up to a period before. A user's
    // or address's days are listed (at most 94: see `query.rs`), so that a block of addresses
    // (a range of values) is a range per day; an operation's hours are one range.
    let period = lookup_days::period_hours(column);
    let first_list = lookup_days::list_start(column, h0);
    let code = lookup_days::code(column);
    let (lists, starts) = match column {
        Column::User | Column::Address => {
            let starts: Vec<String> = (first_list..=h1)
                .step_by(usize::try_from(period).unwrap_or(1))
                .map(|h| h.to_string())
                .collect();
            (
                "lookup_days p INDEXED BY lookup_days_by_start",
                format!("p.start_hour IN ({})", starts.join(",")),
            )
        }
        Column::Operation => (
            "lookup_days p",
            format!("p.start_hour BETWEEN {first_list} AND {h1}"),
        ),
    };
    // Lists are read from the hour of retention's floor on: before it, they may name deleted
    // records (see `lookup_days.rs`).
    format!(
        "SELECT {of_lookup} FROM {table} l WHERE {hours} AND {on_lookup} \
         UNION ALL SELECT {of_records} FROM records t \
         WHERE t.id > (SELECT upto FROM looked_up) AND t.hour BETWEEN {h0} AND {h1} \
         AND {on_records} \
         UNION ALL SELECT {of_packed} FROM {lists}, json_each({entries}(p.entries, p.start_hour, \
         max({h0}, (SELECT floor_ms FROM looked_up) / 3600000), {h1}, {what})) j \
         WHERE p.col = {code} AND {starts} AND {on_packed}",
        of_lookup = want.of_rows('l'),
        of_records = want.of_rows('t'),
        of_packed = want.of_packed(),
        table = column.table(),
        entries = lookup_days::ENTRIES,
        what = want.code(),
    )
}

/// Which lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Column {
    /// `records.user_id`, in `record_users`.
    User,
    /// `records.client_ip`, in `record_addresses`.
    Address,
    /// `records.operation`, in `record_operations` (led by the operation: any span is one range).
    Operation,
}

impl Column {
    /// Every lookup.
    pub(super) const ALL: [Column; 3] = [Column::User, Column::Address, Column::Operation];

    /// The column's name, in `records` and in its lookup.
    pub(super) fn name(self) -> &'static str {
        match self {
            Column::User => "user_id",
            Column::Address => "client_ip",
            Column::Operation => "operation",
        }
    }

    /// The lookup's table.
    pub(super) fn table(self) -> &'static str {
        match self {
            Column::User => "record_users",
            Column::Address => "record_addresses",
            Column::Operation => "record_operations",
        }
    }
}

/// A user, address or operation found through its lookup: a term of an activity query.
pub(super) struct Lookup {
    /// Which lookup.
    pub(super) column: Column,
    /// The query's time range (first ms, and the ms after the last), closed by the store's
    /// records where the query left it open.
    pub(super) span: (i64, i64),
    /// The hours it spans, first and last.
    pub(super) hours: (i64, i64),
    /// The query has no condition but this one and its time range (and no tenant): the
    /// lookup's entries alone count its activities.
    pub(super) alone: bool,
    /// The condition on the lookup's column (alias `l`), and its parameters.
    pub(super) on_lookup: (String, Vec<Sql>),
    /// The same condition on the records' column (alias `t`), and its parameters.
    pub(super) on_records: (String, Vec<Sql>),
    /// The same condition on a packed list's value (alias `p`), and its parameters.
    pub(super) on_packed: (String, Vec<Sql>),
}

impl Lookup {
    /// The term selecting the rows of hours `h0..=h1` through the lookup, and its parameters.
    pub(super) fn term(&self, hours: (i64, i64)) -> (String, Vec<Sql>) {
        let ids = matching(self.column, hours, Want::Ids, self.conditions());
        // The rows of these hours only: a list of the floor's hour may name a deleted record
        // whose row id SQLite handed to a record of another hour.
        let (h0, h1) = hours;
        (
            format!(" AND r.hour BETWEEN {h0} AND {h1} AND r.id IN ({ids})"),
            self.params(),
        )
    }

    /// The conditions [`matching`] takes.
    fn conditions(&self) -> [&str; 3] {
        [&self.on_lookup.0, &self.on_records.0, &self.on_packed.0]
    }

    /// The parameters of [`matching`]'s statement.
    fn params(&self) -> Vec<Sql> {
        let mut params = self.on_lookup.1.clone();
        params.extend(self.on_records.1.iter().cloned());
        params.extend(self.on_packed.1.iter().cloned());
        params
    }

    /// The hours a page is looked for in, newest first, from the hour of `after` (time, row id)
    /// if any.
    pub(super) fn windows(&self, after: Option<(i64, i64)>) -> Windows {
        let (first, mut last) = self.hours;
        if let Some((ms, _)) = after {
            // As SQLite computed `hour` (`/` truncates, as SQLite's does).
            last = last.min(ms / 3_600_000);
        }
        Windows {
            first,
            last,
            hours: 0,
            rows: 0,
        }
    }
}

/// Windows of hours, newest first, that a page is looked for in one after the other: first one
/// hour, then as many as the rows seen so far say hold the rest of the page (twice that), or four
/// times as many as were looked in while none was seen. An address with thousands of activities
/// an hour sorts an hour's or a few for its first page; a user with a few a day needs two to
/// four queries for a week.
pub(super) struct Windows {
    /// The first hour of the range.
    first: i64,
    /// The last hour not yet looked in.
    last: i64,
    /// Hours looked in so far.
    hours: i64,
    /// The rows those hours held (counted by the caller).
    pub(super) rows: usize,
}

impl Windows {
    /// The next window (first and last hour), for `need` more rows; `None` once the range is
    /// done.
    pub(super) fn next(&mut self, need: usize) -> Option<(i64, i64)> {
        if self.last < self.first {
            return None;
        }
        let size = if self.hours == 0 {
            1
        } else if self.rows == 0 {
            // Nothing yet (a quiet user, or the newest hour not yet collected): growing.
            self.hours.saturating_mul(4)
        } else {
            let per_hour = self.rows as f64 / self.hours as f64;
            ((need as f64 / per_hour) * 2.0).ceil().clamp(1.0, 1e9) as i64
        };
        let start = self.last.saturating_sub(size - 1).max(self.first);
        let window = (start, self.last);
        self.hours += self.last - start + 1;
        self.last = start - 1;
        Some(window)
    }
}

/// Removes the lookup entries of a record about to be deleted (none if it was not yet looked up);
/// `values` are its user, address and operation columns, in the order of [`Column::ALL`]. Its
/// entries in packed lists stay, at or below the floor retention raised (see `lookup_days.rs`).
pub(super) fn forget(
    tx: &Transaction<'_>,
    id: i64,
    hour: i64,
    values: [Option<i64>; 3],
) -> rusqlite::Result<()> {
    for (column, value) in Column::ALL.into_iter().zip(values) {
        if let Some(value) = value {
            tx.prepare_cached(&format!(
                "DELETE FROM {} WHERE hour = ?1 AND {} = ?2 AND id = ?3",
                column.table(),
                column.name()
            ))?
            .execute(params![hour, value, id])?;
        }
    }
    Ok(())
}

/// After records were deleted: `upto` is brought down to the last record left, so that a row id
/// handed out again is looked up.
pub(super) fn after_deletes(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE looked_up SET upto = (SELECT coalesce(max(id), 0) FROM records) \
         WHERE upto > (SELECT coalesce(max(id), 0) FROM records)",
    )?
    .execute([])?;
    Ok(())
}

impl Inner {
    /// For a histogram of `bucket_ms`-wide buckets: counts the activities of the hours wholly
    /// inside the lookup's span from its entries (and the records after them) into `counts`,
    /// without reading a row (a common operation's week: 2 million rows); returns the windows of
    /// hours left to count through the rows (`None`: all of them). Only for a lookup that is
    /// the query's one condition besides its time range, whole-hour buckets and times after
    /// 1970 (where SQLite's truncating division is the floor).
    pub(super) fn count_whole_hours(
        &self,
        lookup: &Lookup,
        bucket_ms: i64,
        counts: &mut BTreeMap<i64, u64>,
    ) -> Result<Vec<Option<(i64, i64)>>, StoreError> {
        const HOUR: i64 = 3_600_000;
        let (from, to) = lookup.span;
        let (h0, h1) = lookup.hours;
        let (w0, w1) = (from.saturating_add(HOUR - 1) / HOUR, to / HOUR - 1);
        // Not the hour of retention's floor, nor before: lists may still name deleted records
        // there (see `lookup_days.rs`).
        let w0 = w0.max(lookup_days::floor_hour(&self.conn)?.saturating_add(1));
        // From 0, not from before: hour 0 also holds the last hour of 1969 (SQLite's division
        // truncates), which a range from 0 excludes.
        if !lookup.alone || bucket_ms % HOUR != 0 || from <= 0 || w0 > w1 {
            return Ok(vec![None]);
        }
        let hours = matching(
            lookup.column,
            (w0, w1),
            Want::HourCounts,
            lookup.conditions(),
        );
        let sql = format!("SELECT h, sum(n) FROM ({hours}) GROUP BY h");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(lookup.params()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (hour, n) = row?;
            *counts
                .entry(hour * HOUR / bucket_ms * bucket_ms)
                .or_default() += u64::try_from(n).unwrap_or(0);
        }
        // The hours the range's ends cut: through the rows, which know their times.
        let mut left = Vec::new();
        if w0 > h0 {
            left.push(Some((h0, w0 - 1)));
        }
        if w1 < h1 {
            left.push(Some((w1 + 1, h1)));
        }
        Ok(left)
    }

    /// After a commit: fills the lookups if a batch is waiting, or anything at all once
    /// [`AT_LEAST_EVERY`] has passed since they were last filled. An error is logged: the
    /// records stay found through the scan after `upto`, and the next commit tries again.
    pub(super) fn catch_up_lookups_if_due(&mut self) {
        let at_least = if self.lookups_filled.elapsed() >= AT_LEAST_EVERY {
            1
        } else {
            BATCH
        };
        match self.catch_up_lookups(at_least) {
            Ok(0) => {}
            Ok(_) => self.lookups_filled = std::time::Instant::now(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot fill the user, address and operation lookups")
            }
        }
    }

    /// Fills the lookups with the records after `upto`, if at least `at_least` are waiting
    /// (1: any); returns how many records were looked up.
    pub(super) fn catch_up_lookups(&mut self, at_least: i64) -> Result<i64, StoreError> {
        const WAITING: &str =
            "SELECT upto, (SELECT coalesce(max(id), 0) FROM records) FROM looked_up";
        let waiting = |conn: &rusqlite::Connection| -> rusqlite::Result<(i64, i64)> {
            conn.query_row(WAITING, [], |r| Ok((r.get(0)?, r.get(1)?)))
        };
        // Read without the write lock first (most commits find too few waiting), then again
        // under it: another process writing the same file may have moved either since.
        let (upto, last) = waiting(&self.conn)?;
        if last - upto < at_least.max(1) {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (upto, last) = waiting(&tx)?;
        if last <= upto {
            return Ok(0);
        }
        for column in Column::ALL {
            let (table, name) = (column.table(), column.name());
            // In row order: the transaction's pages stay in the cache until its commit writes
            // each once, and sorting first (ORDER BY) was no faster and left the sorter's memory
            // in glibc's per-thread arenas (30 MB more peak RSS). OR IGNORE: an entry already
            // there (it cannot be, by the rule above) must not stop the lookups.
            tx.prepare_cached(&format!(
                "INSERT OR IGNORE INTO {table} (hour, {name}, id) \
                 SELECT hour, {name}, id FROM records \
                 WHERE id > ?1 AND id <= ?2 AND {name} IS NOT NULL"
            ))?
            .execute(params![upto, last])?;
        }
        tx.prepare_cached("UPDATE looked_up SET upto = ?1")?
            .execute([last])?;
        tx.commit()?;
        Ok(last - upto)
    }
}

#[cfg(test)]
pub(super) mod tests;
