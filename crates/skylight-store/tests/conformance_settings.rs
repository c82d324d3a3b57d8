//! Console settings and retention on every backend: versions that refuse a stale write, and
//! activities deleted before a cutoff with their raw records and counts, newer ones kept.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, TimeZone, Utc};
use skylight_model::{AuditRecord, BlobRef, ContentType, RecordColumns};
use skylight_store::testkit::on_every_backend;
use skylight_store::{ActivityQuery, Store};

fn nov(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 8, 0, 0).unwrap()
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
    let mut ids: Vec<String> = store
        .activities(&q)
        .expect("activities")
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_setting_is_written_once_per_version_and_a_stale_write_changes_nothing() {
    on_every_backend(|store| {
        assert_eq!(store.setting("ip_ranges").expect("read"), None);
        assert_eq!(
            store
                .put_setting("ip_ranges", "[1]", 0, "alice")
                .expect("first"),
            Some(1)
        );
        // A second "first write" (another administrator who saw no value) is refused.
        assert_eq!(
            store
                .put_setting("ip_ranges", "[2]", 0, "bob")
                .expect("second first"),
            None
        );
        let s = store.setting("ip_ranges").expect("read").expect("set");
        assert_eq!(
            (s.value.as_str(), s.version, s.updated_by.as_str()),
            ("[1]", 1, "alice")
        );

        assert_eq!(
            store
                .put_setting("ip_ranges", "[3]", 1, "bob")
                .expect("update"),
            Some(2)
        );
        // Alice still edits version 1: refused, Bob's value stays.
        assert_eq!(
            store
                .put_setting("ip_ranges", "[4]", 1, "alice")
                .expect("stale"),
            None
        );
        assert_eq!(
            store
                .put_setting("ip_ranges", "[4]", 7, "alice")
                .expect("unknown"),
            None
        );
        let s = store.setting("ip_ranges").expect("read").expect("set");
        assert_eq!(
            (s.value.as_str(), s.version, s.updated_by.as_str()),
            ("[3]", 2, "bob")
        );
        assert!(s.updated_at <= Utc::now());

        // Keys are apart, and byte-exact.
        assert_eq!(store.setting("IP_RANGES").expect("read"), None);
        assert_eq!(
            store
                .put_setting("retention", r#"{"days":30}"#, 0, "alice")
                .expect("other"),
            Some(1)
        );
        assert_eq!(
            store
                .setting("ip_ranges")
                .expect("read")
                .expect("set")
                .value,
            "[3]"
        );
    });
}

#[test]
fn retention_deletes_what_is_older_than_the_cutoff_and_keeps_the_rest() {
    on_every_backend(|store| {
        let ct = ContentType::General;
        // Weeks of Monday 2026-11-02, 11-09 and 11-16; one blob spans two weeks; one untimed.
        store
            .commit_blob(
                "t",
                ct,
                &blob("old"),
                &[rec("w1a", Some(nov(3))), rec("w1b", Some(nov(4)))],
            )
            .expect("commit");
        store
            .commit_blob(
                "t",
                ct,
                &blob("mixed"),
                &[rec("w1c", Some(nov(5))), rec("w3a", Some(nov(17)))],
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

        // Every backend deletes all of the week ended before the cutoff's week (PostgreSQL
        // drops whole weeks: the cutoff 11-16 ends the week of 11-09).
        assert_eq!(store.delete_activities_before(nov(16)).expect("delete"), 3);
        assert_eq!(ids(store), ["none", "w3a", "w3b"]);
        assert_eq!(store.record_count(Some("t")).expect("count"), 1);
        assert_eq!(store.record_count(Some("u")).expect("count"), 2);
        assert_eq!(store.content_counts("t", ct).expect("counts").0, 1);
        assert_eq!(store.raw_record("t", "w1a").expect("raw"), None);
        // The mixed blob's chunk stays for the record still in it.
        assert_eq!(
            store.raw_record("t", "w3a").expect("raw"),
            Some(br#"{"Id":"w3a"}"#.to_vec())
        );
        assert_eq!(store.delete_activities_before(nov(16)).expect("again"), 0);

        // New records still go in, also into a time that was deleted (a late blob).
        store
            .commit_blob("t", ct, &blob("late"), &[rec("late", Some(nov(3)))])
            .expect("commit after retention");
        assert_eq!(
            store.raw_record("t", "late").expect("raw"),
            Some(br#"{"Id":"late"}"#.to_vec())
        );

        // Everything timed goes; the untimed record stays, raw record and all.
        assert_eq!(store.delete_activities_before(nov(30)).expect("delete"), 3);
        assert_eq!(ids(store), ["none"]);
        assert_eq!(store.record_count(None).expect("count"), 1);
        assert_eq!(
            store.raw_record("u", "none").expect("raw"),
            Some(br#"{"Id":"none"}"#.to_vec())
        );
    });
}
