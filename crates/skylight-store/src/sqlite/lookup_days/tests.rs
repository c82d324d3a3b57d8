//! Packed lookups: the lists' encoding, and every query finding exactly the records it found
//! before, through packing, late records, retention and reopening.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use skylight_model::{AuditRecord, BlobRef, ContentType};

use super::super::SqliteStore;
use super::super::lookups::tests::{ADDRESSES, OPERATIONS, USERS, ids};
use super::model::check_entries;
use super::{Packed, decode, encode};
use crate::{RecordBatch, Store};

#[test]
fn lists_round_trip_and_damage_is_an_error() {
    let entries = vec![
        (48, 3),
        (48, 900),
        (50, 7),
        (50, 1 << 40),
        (71, 2),
        (71, i64::MAX),
    ];
    let data = encode(48, &entries);
    assert_eq!(decode(48, &data).unwrap(), entries);
    assert_eq!(decode(48, &[]).unwrap(), vec![]);
    // Cut short, or a count beyond its bytes.
    assert!(decode(48, &data[..data.len() - 1]).is_err());
    assert!(decode(48, &[0, 0x7f, 1]).is_err());
    assert!(decode(48, &[0xff; 11]).is_err());
}

/// Record `n` of May `day` 2024, at `hour`: minute, user, address and operation chosen by `n`.
fn record(n: usize, day: u32, hour: u32) -> AuditRecord {
    AuditRecord::from_json(&format!(
        r#"{{"Id":"p-{n}","CreationTime":"2024-05-{day:02}T{hour:02}:{:02}:00","UserId":"{}","ClientIP":"{}","Operation":"{}"}}"#,
        n % 60,
        USERS[n % 3],
        ADDRESSES[(n / 3) % 3],
        OPERATIONS[(n / 9) % 3],
    ))
    .unwrap()
}

/// A record of the model: its number, day of May and hour.
type Rec = (usize, u32, u32);

fn commit(store: &SqliteStore, blob: &str, records: &[Rec]) {
    let blob = BlobRef {
        content_id: blob.into(),
        created: Utc.with_ymd_and_hms(2024, 5, 16, 0, 0, 0).unwrap(),
    };
    let records: Vec<AuditRecord> = records.iter().map(|&(n, d, h)| record(n, d, h)).collect();
    store
        .commit_batch(
            "t",
            ContentType::Exchange,
            &blob,
            RecordBatch::from_records(&records).unwrap(),
        )
        .unwrap();
}

/// The time of a model record, in ms.
fn ms(&(n, day, hour): &Rec) -> i64 {
    Utc.with_ymd_and_hms(2024, 5, day, hour, (n % 60) as u32, 0)
        .unwrap()
        .timestamp_millis()
}

/// Every user, address and operation, over the whole store and over ranges cutting hours and
/// days, lists exactly the model's records (the histograms and top values count what is listed:
/// see `ids`).
fn finds_exactly(store: &SqliteStore, model: &[Rec]) {
    let ranges = [
        ("", None),
        (
            "time=2024-05-13T05:30:00Z..2024-05-15T16:45:00Z",
            Some(("2024-05-13T05:30:00Z", "2024-05-15T16:45:00Z")),
        ),
        (
            "time=2024-05-14T00:00:00Z..2024-05-15T00:00:00Z",
            Some(("2024-05-14T00:00:00Z", "2024-05-15T00:00:00Z")),
        ),
        (
            "time=2024-05-14T23:00:00Z..2024-05-15T01:00:00Z",
            Some(("2024-05-14T23:00:00Z", "2024-05-15T01:00:00Z")),
        ),
    ];
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    for (range, bounds) in ranges {
        let inside = |r: &Rec| bounds.is_none_or(|(a, b)| (parse(a)..parse(b)).contains(&ms(r)));
        for i in 0..3 {
            let cases: [(String, &dyn Fn(usize) -> bool); 3] = [
                (format!("user={}", USERS[i]), &|n| n % 3 == i),
                (format!("ip={}", ADDRESSES[i]), &|n| (n / 3) % 3 == i),
                (format!("operation={}", OPERATIONS[i]), &|n| {
                    (n / 9) % 3 == i
                }),
            ];
            for (filter, keep) in cases {
                let want: BTreeSet<String> = model
                    .iter()
                    .filter(|r| keep(r.0) && inside(r))
                    .map(|r| format!("p-{}", r.0))
                    .collect();
                let filters: Vec<&str> = [filter.as_str(), range]
                    .into_iter()
                    .filter(|f| !f.is_empty())
                    .collect();
                let got = ids(store, &filters);
                assert_eq!(got.len(), want.len(), "{filters:?}: listed twice?");
                assert_eq!(
                    got.into_iter().collect::<BTreeSet<_>>(),
                    want,
                    "{filters:?}"
                );
            }
        }
    }
}

/// As the writer packs: a while after the records were looked up (at the real time).
fn pack(store: &SqliteStore) -> Packed {
    store
        .pack_lookups(Utc::now() + chrono::Duration::minutes(20))
        .unwrap()
}

#[test]
fn packed_days_are_found_as_before_through_late_records_retention_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // Three days, every hour, records spread over the users, addresses and operations.
    let mut model: Vec<Rec> = (0..432)
        .map(|n| (n, 13 + (n / 144) as u32, ((n * 7) % 24) as u32))
        .collect();
    for (i, part) in model.chunks(100).enumerate() {
        commit(&store, &format!("a{i}"), part);
    }
    finds_exactly(&store, &model);
    // Not yet: looked up too recently, at the real time.
    assert_eq!(store.pack_lookups(Utc::now()).unwrap(), Packed::default());
    let packed = pack(&store);
    assert_eq!((packed.days, packed.entries), (3, 432 * 3));
    assert_eq!(check_entries(&store, ""), 432 * 3);
    finds_exactly(&store, &model);
    assert_eq!(pack(&store), Packed::default(), "nothing left to pack");

    // Late records of a packed day: in the tables, then merged into its lists.
    let late: Vec<Rec> = (432..500).map(|n| (n, 14, (n % 24) as u32)).collect();
    commit(&store, "late", &late);
    model.extend(&late);
    finds_exactly(&store, &model);
    let packed = pack(&store);
    assert_eq!((packed.days, packed.entries), (1, 68 * 3));
    assert_eq!(check_entries(&store, ""), 500 * 3);
    finds_exactly(&store, &model);
    // And one not yet looked up: found by the scan after `upto`.
    commit(&store, "later", &[(500, 14, 3)]);
    model.push((500, 14, 3));
    finds_exactly(&store, &model);

    // Retention through the middle of a packed day: the 13th's lists go, the 14th's lose the
    // hours before the floor's (whose own hour may still name deleted records, unread).
    let cutoff = Utc.with_ymd_and_hms(2024, 5, 14, 6, 30, 0).unwrap();
    let before = model.len();
    model.retain(|r| ms(r) >= cutoff.timestamp_millis());
    let deleted = store.delete_activities_before(cutoff).unwrap();
    assert_eq!(deleted as usize, before - model.len());
    let day_14 = Utc
        .with_ymd_and_hms(2024, 5, 14, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
        / 3_600_000;
    let left_of_13: i64 = store
        .lock()
        .conn
        .query_row(
            "SELECT count(*) FROM lookup_days WHERE start_hour < ?1",
            [day_14],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left_of_13, 0);
    store.lock().catch_up_lookups(1).unwrap();
    check_entries(&store, "");
    finds_exactly(&store, &model);

    // Reopened (the reading connection has the lists' function too).
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    finds_exactly(&store, &model);
    check_entries(&store, "");
}

#[test]
fn a_day_is_packed_a_day_after_it_ends() {
    let store = SqliteStore::open_in_memory().unwrap();
    commit(&store, "a", &[(0, 14, 23), (1, 15, 0)]);
    store.lock().catch_up_lookups(1).unwrap();
    let settled = Utc::now() + chrono::Duration::minutes(20);
    let at = |d, h| Utc.with_ymd_and_hms(2024, 5, d, h, 0, 0).unwrap();
    let pack_at = |now: chrono::DateTime<Utc>| {
        // As if looked up long before `now`.
        store
            .lock()
            .conn
            .execute("UPDATE lookup_days_pending SET touched_ms = 0", [])
            .unwrap();
        store.pack_lookups(now).unwrap().days
    };
    assert_eq!(pack_at(at(15, 23)), 0, "the 14th ended less than a day ago");
    assert_eq!(pack_at(at(16, 0)), 1, "the 14th");
    assert_eq!(pack_at(at(16, 23)), 0);
    assert_eq!(pack_at(at(17, 0)), 1, "the 15th");
    assert_eq!(store.pack_lookups(settled).unwrap().days, 0);
}

/// Review: a list of the floor's hour still names a record retention deleted; when that record
/// had the highest row id, SQLite hands its id to the next record, which the stale entry then
/// names too — outside the hours the entry claims.
#[test]
fn a_reused_row_id_is_found_in_its_own_hour_only() {
    let store = SqliteStore::open_in_memory().unwrap();
    // Recent records first (the lower ids), then an old one of carol's: the highest id.
    let recent: Vec<Rec> = (0..30).map(|n| (n, 13, (n % 24) as u32)).collect();
    commit(&store, "recent", &recent);
    commit(&store, "old", &[(20, 10, 10)]); // carol, 2024-05-10 10:20
    store.lock().catch_up_lookups(1).unwrap();
    pack(&store);
    // Retention at 10:30: the floor's hour is 10:00, its list still names the old record.
    let cutoff = Utc.with_ymd_and_hms(2024, 5, 10, 10, 30, 0).unwrap();
    assert_eq!(store.delete_activities_before(cutoff).unwrap(), 1);
    // A new record of carol's takes the deleted record's id.
    commit(&store, "new", &[(32, 13, 5)]);
    let mut model = recent.clone();
    model.push((32, 13, 5));
    let want: Vec<String> = {
        let mut v: Vec<String> = model
            .iter()
            .filter(|r| r.0 % 3 == 2)
            .map(|r| format!("p-{}", r.0))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        v.sort();
        v
    };
    // `ids` holds the histograms to the log.
    let got = ids(
        &store,
        &[
            "user=carol@x.com",
            "time=2024-05-10T00:00:00Z..2024-05-14T00:00:00Z",
        ],
    );
    assert_eq!(got, want);
}

/// Review: a store of schema 19 gets the days of its records pending, found by seeks.
#[test]
fn a_store_of_schema_19_gets_its_days_pending() {
    use super::super::migrations::{MIGRATIONS, migrate};
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    migrate(&mut conn, &MIGRATIONS[..19]).unwrap();
    let day = 86_400_000i64;
    let times = [
        -5 * day,
        0,
        3_600_000,
        day,
        day + 5,
        3 * day + 1,
        4 * day - 1,
        19_000 * day + 7,
    ];
    conn.execute_batch("INSERT INTO tenants (id, name) VALUES (1, 't');")
        .unwrap();
    for (i, ms) in times.iter().enumerate() {
        conn.execute(
            "INSERT INTO records (id, tenant_id, creation_ms, hour, record_key, content_type, \
             user_id, client_ip, operation, chunk_id, chunk_pos) \
             VALUES (?1, 1, ?2, ?2 / 3600000, ?3, 1, 7, NULL, 4, 1, ?1)",
            rusqlite::params![i as i64 + 1, ms, format!("k{i}")],
        )
        .unwrap();
    }
    migrate(&mut conn, MIGRATIONS).unwrap();
    let days: Vec<(i64, i64)> = conn
        .prepare("SELECT day, touched_ms FROM lookup_days_pending ORDER BY day")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(days, [(1, 0), (3, 0), (19_000, 0)]);
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT min(creation_ms) FROM records WHERE creation_ms >= 86400000",
        )
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    eprintln!("plan: {plan:?}");
    assert!(plan.iter().all(|s| s.starts_with("SEARCH")), "{plan:?}");
}
