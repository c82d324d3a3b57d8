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
//! deleted take their lookup entries with them, and `upto` never stays above the last record,
//! so that a row id SQLite hands out again after a deletion is looked up like any new record.
//!
//! The rows come back by id, unordered, so a page of the log is looked for in windows of hours,
//! newest first ([`Windows`]): the old indexes' (hour, user, time) order let SQLite stop at a
//! full page, and sorting a week of an office address's activities for its first page took
//! 0.6 s among 11 million.

use std::collections::BTreeMap;

use rusqlite::types::Value as Sql;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::Inner;
use crate::StoreError;

/// Records past `upto` that make the writer fill the lookups after a commit.
pub(super) const BATCH: i64 = 50_000;

/// Longest the writer leaves fewer than [`BATCH`] records out of the lookups while it commits:
/// a quiet tenant's records are looked up within about this long of the next commit, so that
/// queries do not scan them for hours; a busy one pays one small batch per period.
pub(super) const AT_LEAST_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Column `what` (`id`, `hour`) of the records of hours `h0..=h1` whose column is in a set:
/// `on_lookup` is that condition on the column of lookup alias `l`, `on_records` on that of
/// records alias `t`. Read from the lookup up to `upto` (a seek per hour) and from the records
/// after it; a superset is fine (the caller's WHERE holds every condition), a missing record is
/// not.
fn matching(
    column: Column,
    (h0, h1): (i64, i64),
    what: &str,
    on_lookup: &str,
    on_records: &str,
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
    format!(
        "SELECT l.{what} FROM {table} l WHERE {hours} AND {on_lookup} \
         UNION ALL SELECT t.{what} FROM records t \
         WHERE t.id > (SELECT upto FROM looked_up) AND t.hour BETWEEN {h0} AND {h1} \
         AND {on_records}",
        table = column.table(),
    )
}

/// Which lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    const ALL: [Column; 3] = [Column::User, Column::Address, Column::Operation];

    /// The column's name, in `records` and in its lookup.
    pub(super) fn name(self) -> &'static str {
        match self {
            Column::User => "user_id",
            Column::Address => "client_ip",
            Column::Operation => "operation",
        }
    }

    fn table(self) -> &'static str {
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
}

impl Lookup {
    /// The term selecting the rows of hours `h0..=h1` through the lookup, and its parameters.
    pub(super) fn term(&self, hours: (i64, i64)) -> (String, Vec<Sql>) {
        let ids = matching(
            self.column,
            hours,
            "id",
            &self.on_lookup.0,
            &self.on_records.0,
        );
        (format!(" AND r.id IN ({ids})"), self.params())
    }

    /// The parameters of [`matching`]'s statement.
    fn params(&self) -> Vec<Sql> {
        let mut params = self.on_lookup.1.clone();
        params.extend(self.on_records.1.iter().cloned());
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
/// `values` are its user, address and operation columns, in the order of [`Column::ALL`].
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
        // From 0, not from before: hour 0 also holds the last hour of 1969 (SQLite's division
        // truncates), which a range from 0 excludes.
        if !lookup.alone || bucket_ms % HOUR != 0 || from <= 0 || w0 > w1 {
            return Ok(vec![None]);
        }
        let (on_lookup, on_records) = (&lookup.on_lookup.0, &lookup.on_records.0);
        let hours = matching(lookup.column, (w0, w1), "hour", on_lookup, on_records);
        let sql = format!("SELECT hour, count(*) FROM ({hours}) GROUP BY hour");
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use skylight_model::filter::Filter;
    use skylight_model::{AuditRecord, BlobRef, ContentType};

    use super::super::SqliteStore;
    use super::Windows;
    use crate::{ActivityQuery, RecordBatch, Store};

    const USERS: [&str; 3] = ["alice@x.com", "bob@x.com", "carol@x.com"];
    const ADDRESSES: [&str; 3] = ["10.1.2.3", "2001:db8::5", "203.0.113.9"];
    const OPERATIONS: [&str; 3] = ["FileAccessed", "MailItemsAccessed", "UserLoggedIn"];

    /// Record `n`: its hour of 2024-05-14 (0–23), user, address and operation chosen by `n`.
    fn record(n: usize, hour: u32) -> AuditRecord {
        AuditRecord::from_json(&format!(
            r#"{{"Id":"rec-{n}","CreationTime":"2024-05-14T{hour:02}:{:02}:00","UserId":"{}","ClientIP":"{}","Operation":"{}"}}"#,
            n % 60,
            USERS[n % 3],
            ADDRESSES[(n / 3) % 3],
            OPERATIONS[(n / 9) % 3],
        ))
        .unwrap()
    }

    fn commit(store: &SqliteStore, blob: &str, records: &[AuditRecord]) {
        let blob = BlobRef {
            content_id: blob.into(),
            created: Utc.with_ymd_and_hms(2024, 5, 14, 23, 0, 0).unwrap(),
        };
        store
            .commit_batch(
                "t",
                ContentType::Exchange,
                &blob,
                RecordBatch::from_records(records).unwrap(),
            )
            .unwrap();
    }

    /// The Ids the log lists for `filters`, every page, sorted.
    fn ids(store: &SqliteStore, filters: &[&str]) -> Vec<String> {
        let mut q = ActivityQuery {
            tenant: None,
            filter: Filter::parse(filters).unwrap(),
            limit: 7,
            after: None,
        };
        let mut out = Vec::new();
        let mut times = Vec::new();
        loop {
            let page = store.activities(&q).unwrap();
            times.extend(page.rows.iter().map(|r| r.time));
            out.extend(page.rows.into_iter().map(|r| r.id));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        assert!(times.is_sorted_by(|a, b| a >= b), "newest first: {times:?}");
        // What the log lists, the histogram (buckets of five minutes, one and two hours) and
        // the top values count.
        for bucket in [300_000, 3_600_000, 7_200_000] {
            let mut listed = std::collections::BTreeMap::<i64, u64>::new();
            for t in &times {
                let ms = t.unwrap().timestamp_millis();
                *listed.entry(ms / bucket * bucket).or_default() += 1;
            }
            let counted = store.activity_histogram(&q, bucket).unwrap();
            assert_eq!(
                counted,
                listed.into_iter().collect::<Vec<_>>(),
                "{filters:?}"
            );
        }
        let top = store
            .activity_top(&q, skylight_model::filter::Field::User, 10)
            .unwrap();
        assert_eq!(top.iter().map(|(_, n)| n).sum::<u64>(), out.len() as u64);
        out.sort();
        out
    }

    /// What the records `0..n` (record `i` in hour `hour_of(i)`) hold for a user, an address or
    /// an operation in hours `[h0, h1)`.
    fn expected(
        n: usize,
        hour_of: impl Fn(usize) -> u32,
        keep: impl Fn(usize) -> bool,
        (h0, h1): (u32, u32),
    ) -> Vec<String> {
        let mut v: Vec<String> = (0..n)
            .filter(|&i| keep(i) && (h0..h1).contains(&hour_of(i)))
            .map(|i| format!("rec-{i}"))
            .collect();
        v.sort();
        v
    }

    fn upto(store: &SqliteStore) -> i64 {
        store
            .lock()
            .conn
            .query_row("SELECT upto FROM looked_up", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn users_addresses_and_operations_are_found_whether_looked_up_yet_or_not() {
        let store = SqliteStore::open_in_memory().unwrap();
        let hour_of = |i: usize| (i % 24) as u32;
        let all: Vec<AuditRecord> = (0..300).map(|i| record(i, hour_of(i))).collect();
        let range = "time=2024-05-14T05:00:00Z..2024-05-14T17:00:00Z";
        let hours = (5, 17);
        let check = |n: usize| {
            for (u, user) in USERS.iter().enumerate() {
                let want = expected(n, hour_of, |i| i % 3 == u, hours);
                assert!(!want.is_empty());
                let filter = format!("user={}", user.to_uppercase());
                assert_eq!(ids(&store, &[&filter, range]), want, "{user} of {n}");
            }
            for (a, address) in ADDRESSES.iter().enumerate() {
                let want = expected(n, hour_of, |i| (i / 3) % 3 == a, hours);
                let filter = format!("ip={address}");
                assert_eq!(ids(&store, &[&filter, range]), want, "{address} of {n}");
            }
            // A block of inline addresses, and one of dictionary addresses.
            let want = expected(n, hour_of, |i| (i / 3) % 3 == 0, hours);
            assert_eq!(ids(&store, &["ip=10.0.0.0/8", range]), want);
            let want = expected(n, hour_of, |i| (i / 3) % 3 == 1, hours);
            assert_eq!(ids(&store, &["ip=2001:db8::/32", range]), want);
            for (o, operation) in OPERATIONS.iter().enumerate() {
                let want = expected(n, hour_of, |i| (i / 9) % 3 == o, hours);
                let filter = format!("operation={}", operation.to_lowercase());
                assert_eq!(ids(&store, &[&filter, range]), want, "{operation} of {n}");
                // Without an end (the console's "last 7 days"), or without any time: the span
                // is closed by the store's last (and first) record.
                let want = expected(n, hour_of, |i| (i / 9) % 3 == o, (5, 24));
                let since = "time=2024-05-14T05:00:00Z..";
                assert_eq!(ids(&store, &[&filter, since]), want, "{operation} since");
                let want = expected(n, hour_of, |i| (i / 9) % 3 == o, (0, 24));
                assert_eq!(ids(&store, &[&filter]), want, "{operation} ever");
            }
            let want = expected(n, hour_of, |i| i % 3 == 2, (0, 17));
            let until = "time=..2024-05-14T17:00:00Z";
            assert_eq!(ids(&store, &["user=carol@x.com", until]), want);
            // Ends inside hours (records are at minute `i % 60`).
            let cut = "time=2024-05-14T05:30:00Z..2024-05-14T16:45:00Z";
            let inside = |i: usize| {
                let minute = hour_of(i) * 60 + (i % 60) as u32;
                (5 * 60 + 30..16 * 60 + 45).contains(&minute)
            };
            let want = expected(n, hour_of, |i| i % 3 == 1 && inside(i), (0, 24));
            assert_eq!(ids(&store, &["user=bob@x.com", cut]), want);
            // A user and an operation: the user's lookup, the operation checked on the rows.
            let want = expected(n, hour_of, |i| i % 3 == 1 && (i / 9) % 3 == 2, hours);
            let both = ["user=bob@x.com", "operation=UserLoggedIn", range];
            assert_eq!(ids(&store, &both), want);
        };
        // Nothing looked up yet: every record is found among those after `upto`.
        commit(&store, "a", &all[..100]);
        assert_eq!(upto(&store), 0);
        check(100);
        // All looked up, then some more records that are not.
        assert_eq!(store.lock().catch_up_lookups(1).unwrap(), 100);
        assert_eq!(store.lock().catch_up_lookups(1).unwrap(), 0);
        check(100);
        commit(&store, "b", &all[100..200]);
        check(200);
        // A batch not yet due is left for later; then everything is looked up.
        assert_eq!(store.lock().catch_up_lookups(101).unwrap(), 0);
        assert_eq!(store.lock().catch_up_lookups(100).unwrap(), 100);
        commit(&store, "c", &all[200..]);
        store.lock().catch_up_lookups(1).unwrap();
        check(300);
        // Every lookup entry is a record's, once.
        let inner = store.lock();
        let entries: i64 = inner
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM record_users) + (SELECT count(*) FROM record_addresses) \
                 + (SELECT count(*) FROM record_operations)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(entries, 900);
    }

    #[test]
    fn deleted_records_leave_the_lookups_and_their_row_ids_are_looked_up_again() {
        let store = SqliteStore::open_in_memory().unwrap();
        // The last rows are the oldest records: retention deletes the rows with the highest
        // ids, which SQLite then hands out again.
        let recent: Vec<AuditRecord> = (0..60).map(|i| record(i, 12 + (i % 12) as u32)).collect();
        let old: Vec<AuditRecord> = (60..120).map(|i| record(i, (i % 6) as u32)).collect();
        commit(&store, "recent", &recent);
        commit(&store, "old", &old);
        store.lock().catch_up_lookups(1).unwrap();
        assert_eq!(upto(&store), 120);
        let cutoff = Utc.with_ymd_and_hms(2024, 5, 14, 6, 0, 0).unwrap();
        assert_eq!(store.delete_activities_before(cutoff).unwrap(), 60);
        assert_eq!(upto(&store), 60, "upto is back at the last record left");
        let entries: i64 = store
            .lock()
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM record_users WHERE id > 60) \
                 + (SELECT count(*) FROM record_addresses WHERE id > 60) \
                 + (SELECT count(*) FROM record_operations WHERE id > 60)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(entries, 0, "the deleted records' entries went with them");
        // New records take the ids 61… again; found before and after they are looked up.
        let new: Vec<AuditRecord> = (120..180).map(|i| record(i, (i % 6) as u32)).collect();
        commit(&store, "new", &new);
        let max_id: i64 = store
            .lock()
            .conn
            .query_row("SELECT max(id) FROM records", [], |r| r.get(0))
            .unwrap();
        assert_eq!(max_id, 120, "row ids were handed out again");
        let day = "time=2024-05-14T00:00:00Z..2024-05-15T00:00:00Z";
        for round in 0..2 {
            let want: Vec<String> = {
                let mut v: Vec<String> = (0..60)
                    .chain(120..180)
                    .filter(|i| i % 3 == 1)
                    .map(|i| format!("rec-{i}"))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(ids(&store, &["user=bob@x.com", day]), want, "round {round}");
            let want: Vec<String> = {
                let mut v: Vec<String> = (0..60)
                    .chain(120..180)
                    .filter(|i| (i / 9) % 3 == 2)
                    .map(|i| format!("rec-{i}"))
                    .collect();
                v.sort();
                v
            };
            let filter = ["operation=UserLoggedIn", day];
            assert_eq!(ids(&store, &filter), want, "round {round}");
            store.lock().catch_up_lookups(1).unwrap();
        }
        assert_eq!(upto(&store), 120);
    }

    #[test]
    fn a_store_closed_by_its_writer_has_every_record_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            let records: Vec<AuditRecord> = (0..30).map(|i| record(i, 3)).collect();
            commit(&store, "a", &records);
            assert_eq!(upto(&store), 0);
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(upto(&store), 30);
        // A process that only read the store leaves the lookups to the writer.
        store
            .lock()
            .conn
            .execute("UPDATE looked_up SET upto = 10", [])
            .unwrap();
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(ids(&store, &["user=bob@x.com"]).len(), 10);
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(upto(&store), 10);
    }

    #[test]
    fn a_quiet_writer_fills_the_lookups_at_the_first_commit_after_a_while() {
        let store = SqliteStore::open_in_memory().unwrap();
        commit(&store, "a", &[record(0, 1), record(1, 1)]);
        assert_eq!(
            upto(&store),
            0,
            "fewer than a batch, just opened: left waiting"
        );
        let past = std::time::Instant::now().checked_sub(super::AT_LEAST_EVERY);
        store.lock().lookups_filled = past.unwrap();
        commit(&store, "b", &[record(2, 1)]);
        assert_eq!(upto(&store), 3, "a while since the last: all looked up");
        commit(&store, "c", &[record(3, 1)]);
        assert_eq!(upto(&store), 3, "just filled: left waiting again");
    }

    /// The rows of a three-column statement.
    fn rows(conn: &rusqlite::Connection, sql: &str) -> Vec<(i64, i64, i64)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    const OLD_RECORDS: &str = "INSERT INTO tenants (id, name) VALUES (1, 't');
         INSERT INTO records (id, tenant_id, creation_ms, hour, record_key, content_type,
             user_id, client_ip, operation, chunk_id, chunk_pos)
         VALUES (1, 1, 3600000, 1, 'a', 1, 7, NULL, 4, 1, 0),
                (2, 1, 7200000, 2, 'b', 1, NULL, 9, NULL, 1, 1),
                (5, 1, 7200001, 2, 'c', 1, 7, 9, 4, 1, 2);";

    #[test]
    fn a_store_of_schema_16_gets_its_lookups_filled() {
        use super::super::migrations::{MIGRATIONS, migrate};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..16]).unwrap();
        conn.execute_batch(OLD_RECORDS).unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(
            rows(&conn, "SELECT hour, user_id, id FROM record_users"),
            [(1, 7, 1), (2, 7, 5)]
        );
        assert_eq!(
            rows(&conn, "SELECT hour, client_ip, id FROM record_addresses"),
            [(2, 9, 2), (2, 9, 5)]
        );
        assert_eq!(
            rows(&conn, "SELECT hour, operation, id FROM record_operations"),
            [(1, 4, 1), (2, 4, 5)]
        );
        let upto: i64 = conn
            .query_row("SELECT upto FROM looked_up", [], |r| r.get(0))
            .unwrap();
        assert_eq!(upto, 5);
    }

    #[test]
    fn a_store_of_schema_17_gets_the_operations_it_has_looked_up() {
        use super::super::migrations::{MIGRATIONS, migrate};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..17]).unwrap();
        conn.execute_batch(OLD_RECORDS).unwrap();
        // Records 1 and 2 looked up, 5 not yet: the operations must hold the same records.
        conn.execute_batch("UPDATE lookup_progress SET upto = 2")
            .unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(
            rows(&conn, "SELECT hour, operation, id FROM record_operations"),
            [(1, 4, 1)]
        );
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'records_by_operation_time'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 0, "the index is gone");
    }

    #[test]
    fn a_process_of_schema_17_cannot_look_records_up_without_their_operations() {
        use super::super::migrations::{MIGRATIONS, migrate};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        conn.execute_batch(OLD_RECORDS).unwrap();
        // What a collector of the previous version does after a commit, and after deleting
        // records: both fail (and its retention's transaction with them), where they would
        // have moved `upto` over records whose operations it does not know of.
        let catch_up = "INSERT INTO record_users (hour, user_id, id)
                 SELECT hour, user_id, id FROM records WHERE user_id IS NOT NULL;
             UPDATE lookup_progress SET upto = 5;";
        let err = conn.execute_batch(catch_up).unwrap_err();
        assert!(err.to_string().contains("no such table"), "{err}");
        let retention =
            "UPDATE lookup_progress SET upto = (SELECT coalesce(max(id), 0) FROM records)";
        assert!(conn.execute_batch(retention).is_err());
    }

    #[test]
    fn a_range_from_1970_counts_no_activity_of_1969() {
        let store = SqliteStore::open_in_memory().unwrap();
        let at = |n: usize, time: &str| {
            AuditRecord::from_json(&format!(
                r#"{{"Id":"old-{n}","CreationTime":"{time}","Operation":"FileAccessed","UserId":"u@x.com"}}"#
            ))
            .unwrap()
        };
        let records = [
            at(0, "1969-12-31T23:30:00"),
            at(1, "1970-01-01T00:30:00"),
            at(2, "1970-01-01T02:10:00"),
        ];
        commit(&store, "a", &records);
        store.lock().catch_up_lookups(1).unwrap();
        let from_1970 = "time=1970-01-01T00:00:00Z..1970-01-01T05:00:00Z";
        // `ids` compares the histogram, bucket by bucket, with the rows listed.
        assert_eq!(
            ids(&store, &["operation=FileAccessed", from_1970]),
            ["old-1", "old-2"]
        );
    }

    /// The windows `next` gives while each holds `rows(window)` rows, for pages of `need`.
    fn windows(
        first: i64,
        last: i64,
        need: usize,
        rows: impl Fn((i64, i64)) -> usize,
    ) -> Vec<(i64, i64)> {
        let mut ws = Windows {
            first,
            last,
            hours: 0,
            rows: 0,
        };
        let mut out = Vec::new();
        while let Some(w) = ws.next(need) {
            ws.rows += rows(w);
            out.push(w);
        }
        out
    }

    #[test]
    fn windows_cover_the_range_newest_first_once_and_size_by_what_they_found() {
        // Every hour once, newest first, whatever the rows.
        for density in [0, 1, 3, 50, 10_000] {
            let ws = windows(100, 267, 101, |(a, b)| density * (b - a + 1) as usize);
            assert_eq!(ws.first().map(|w| w.1), Some(267));
            assert_eq!(ws.last().map(|w| w.0), Some(100));
            assert!(
                ws.windows(2)
                    .all(|p| p[1].1 == p[0].0 - 1 && p[0].0 <= p[0].1)
            );
        }
        // Thousands an hour: the first hour, then a window sized for the page (twice over).
        assert_eq!(
            windows(100, 267, 101, |_| 5_000)[..2],
            [(267, 267), (266, 266)]
        );
        // Ten an hour: after the first hour, 21 more hours hold twice a page of 101.
        assert_eq!(
            windows(100, 267, 101, |(a, b)| 10 * (b - a + 1) as usize)[1],
            (246, 266)
        );
        // None yet: four times as many hours as were looked in.
        assert_eq!(
            windows(100, 267, 101, |_| 0)[..4],
            [(267, 267), (263, 266), (243, 262), (143, 242)]
        );
        assert!(windows(5, 4, 10, |_| 1).is_empty());
    }
}
