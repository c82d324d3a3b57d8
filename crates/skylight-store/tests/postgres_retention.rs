//! Retention on PostgreSQL: whole weekly partitions dropped, with their raw records and counts.

use chrono::{DateTime, TimeZone, Utc};
use skylight_model::{AuditRecord, BlobRef, ContentType, RecordColumns};
use skylight_store::testkit::TestDatabase;
use skylight_store::{ActivityQuery, Store};

fn nov(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 8, 0, 0)
        .single()
        .expect("valid time")
}

fn rec(id: &str, time: Option<DateTime<Utc>>) -> AuditRecord {
    AuditRecord {
        columns: RecordColumns {
            id: id.into(),
            creation_time: time,
            ..RecordColumns::default()
        },
        raw: format!(r#"{{"Id":"{id}"}}"#).into_bytes(),
    }
}

fn blob(id: &str) -> BlobRef {
    BlobRef {
        content_id: id.into(),
        created: nov(25),
    }
}

fn ids(store: &dyn Store) -> Vec<String> {
    let q = ActivityQuery {
        limit: 100,
        ..ActivityQuery::default()
    };
    store
        .activities(&q)
        .expect("activities")
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn old_weeks_are_dropped_whole_and_new_records_still_go_in() {
    let db = TestDatabase::create();
    let store = db.open();
    // Weeks of Monday 2026-11-02, 11-09 and 11-16; one blob spans two weeks; one record untimed.
    let ct = ContentType::General;
    store
        .commit_blob(
            "t",
            ct,
            &blob("old"),
            &[rec("w1a", Some(nov(3))), rec("w1b", Some(nov(8)))],
        )
        .expect("commit");
    store
        .commit_blob(
            "t",
            ct,
            &blob("mixed"),
            &[rec("w2", Some(nov(10))), rec("w3a", Some(nov(16)))],
        )
        .expect("commit");
    store
        .commit_blob(
            "u",
            ct,
            &blob("new"),
            &[rec("w3b", Some(nov(20))), rec("none", None)],
        )
        .expect("commit");
    assert_eq!(store.record_count(None).expect("count"), 6);

    // 11-15 is in the week of 11-09, which has not ended: only the week of 11-02 goes.
    assert_eq!(store.drop_activities_before(nov(15)).expect("drop"), 2);
    assert_eq!(ids(&store), ["w3b", "w3a", "w2", "none"]);
    assert_eq!(store.record_count(Some("t")).expect("count"), 2);
    assert_eq!(store.content_counts("t", ct).expect("counts").0, 2);
    assert_eq!(store.raw_record("t", "w1a").expect("raw"), None);
    assert_eq!(store.drop_activities_before(nov(15)).expect("again"), 0);

    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    let chunks = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM raw_chunks", &[])
            .expect("chunks")
            .get(0)
    };
    assert_eq!(chunks(&mut c), 2, "the chunk of the dropped week is gone");

    // The week of 11-09 ends on 11-16: it goes, but the mixed blob's chunk stays for w3a.
    assert_eq!(store.drop_activities_before(nov(16)).expect("drop"), 1);
    assert_eq!(ids(&store), ["w3b", "w3a", "none"]);
    assert_eq!(chunks(&mut c), 2);
    assert_eq!(
        store.raw_record("t", "w3a").expect("raw"),
        Some(br#"{"Id":"w3a"}"#.to_vec())
    );

    // A second store (another process) still believes the dropped weeks exist: its commit into
    // one of them recreates the partition.
    let other = db.open();
    other
        .commit_blob("t", ct, &blob("late"), &[rec("late", Some(nov(20)))])
        .expect("commit");
    store
        .commit_blob("t", ct, &blob("back"), &[rec("back", Some(nov(4)))])
        .expect("commit into a dropped week");
    assert_eq!(other.drop_activities_before(nov(9)).expect("drop"), 1);
    store
        .commit_blob("t", ct, &blob("back3"), &[rec("back3", Some(nov(6)))])
        .expect("commit after another store dropped the week");
    other
        .commit_blob("t", ct, &blob("back2"), &[rec("back2", Some(nov(5)))])
        .expect("commit");
    assert_eq!(
        ids(&store),
        ["late", "w3b", "w3a", "back3", "back2", "none"]
    );
    assert_eq!(store.record_count(None).expect("count"), 6);

    // Everything timed goes; the untimed record stays.
    assert_eq!(store.drop_activities_before(nov(30)).expect("drop"), 5);
    assert_eq!(ids(&store), ["none"]);
    assert_eq!(chunks(&mut c), 1);
}
