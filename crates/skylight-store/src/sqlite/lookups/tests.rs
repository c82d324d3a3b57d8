//! The lookups' tests; their helpers serve `lookup_days`'s too.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use skylight_model::filter::Filter;
use skylight_model::{AuditRecord, BlobRef, ContentType};

use super::super::SqliteStore;
use super::Windows;
use crate::{ActivityQuery, RecordBatch, Store};

pub(crate) const USERS: [&str; 3] = ["alice@x.com", "bob@x.com", "carol@x.com"];
pub(crate) const ADDRESSES: [&str; 3] = ["10.1.2.3", "2001:db8::5", "203.0.113.9"];
pub(crate) const OPERATIONS: [&str; 3] = ["FileAccessed", "MailItemsAccessed", "UserLoggedIn"];

/// Record `n`: its hour of 2024-05-14 (0–23), user, address and operation chosen by `n`.
pub(crate) fn record(n: usize, hour: u32) -> AuditRecord {
    AuditRecord::from_json(&format!(
        r#"{{"Id":"rec-{n}","CreationTime":"2024-05-14T{hour:02}:{:02}:00","UserId":"{}","ClientIP":"{}","Operation":"{}"}}"#,
        n % 60,
        USERS[n % 3],
        ADDRESSES[(n / 3) % 3],
        OPERATIONS[(n / 9) % 3],
    ))
    .unwrap()
}

pub(crate) fn commit(store: &SqliteStore, blob: &str, records: &[AuditRecord]) {
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
pub(crate) fn ids(store: &SqliteStore, filters: &[&str]) -> Vec<String> {
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
pub(crate) fn expected(
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

pub(crate) fn upto(store: &SqliteStore) -> i64 {
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
    let retention = "UPDATE lookup_progress SET upto = (SELECT coalesce(max(id), 0) FROM records)";
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
