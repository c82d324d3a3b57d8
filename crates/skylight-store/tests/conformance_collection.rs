//! Collection through the `Store` trait, on every backend: what the collector and the CLI rely
//! on. SQLite-only checks (its data directory, its schema) are at the end.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use skylight_model::{
    AuditRecord, BlobRef, CommitStats, ConnectorState, ConnectorStatus, ContentType, Gap, LedgerDay,
};
use skylight_store::testkit::on_every_backend;
use skylight_store::{SqliteStore, Store, StoreError};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 14, h, m, 0)
        .single()
        .expect("valid time")
}

fn record(id: &str, user: &str) -> AuditRecord {
    AuditRecord::from_json(&format!(
        r#"{{"CreationTime":"2024-05-14T09:21:37","Id":"{id}","Operation":"FileAccessed","RecordType":6,"UserId":"{user}","Workload":"SharePoint","ClientIP":"203.0.113.9"}}"#
    ))
    .expect("valid record")
}

fn blob(id: &str, created: DateTime<Utc>) -> BlobRef {
    BlobRef {
        content_id: id.into(),
        created,
    }
}

fn ids(v: &[&str]) -> HashSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn status(tenant: &str, ct: ContentType, state: ConnectorState, records: u64) -> ConnectorStatus {
    ConnectorStatus {
        tenant: tenant.into(),
        content_type: ct,
        state,
        last_success: Some(at(9, 0)),
        watermark: None,
        records,
        blobs: 3,
        gaps: 0,
        last_error: None,
        remediation: None,
        updated_at: at(9, 1),
        clock_offset_ms: 0,
    }
}

fn raw_bytes_round_trip(store: &dyn Store) {
    let mut odd = record("odd", "a@x.com");
    // Whitespace, non-ASCII and escapes as Microsoft sent them: the stored bytes must not be
    // re-serialised.
    odd.raw = "{ \"Id\" : \"odd\",\n\t\"Name\":\"Zoë \\u00e9\\\"q\\\"\" , \"Big\": 1e400 }"
        .as_bytes()
        .to_vec();
    let mut big = record("big", "b@x.com");
    big.raw = format!(r#"{{"Id":"big","Pad":"{}"}}"#, "xyz".repeat(400_000)).into_bytes();
    let recs = [odd.clone(), big.clone(), record("plain", "c@x.com")];
    let stats = store
        .commit_blob(
            "contoso",
            ContentType::SharePoint,
            &blob("b1", at(10, 0)),
            &recs,
        )
        .expect("commits");
    assert_eq!(
        stats,
        CommitStats {
            inserted: 3,
            duplicates: 0
        }
    );
    for r in &recs {
        assert_eq!(
            store
                .raw_record("contoso", &r.columns.id)
                .expect("reads")
                .as_deref(),
            Some(&r.raw[..]),
            "{}",
            r.columns.id
        );
    }
    assert_eq!(store.raw_record("contoso", "missing").expect("reads"), None);
    assert_eq!(
        store.raw_record("fabrikam", "odd").expect("reads"),
        None,
        "records belong to their tenant"
    );
}

fn duplicates_are_stored_once(store: &dyn Store) {
    let first = [
        record("r1", "a@x.com"),
        record("r2", "a@x.com"),
        record("r3", "b@x.com"),
    ];
    let second = [
        record("r3", "b@x.com"),
        record("r4", "b@x.com"),
        record("r1", "a@x.com"),
        record("r4", "b@x.com"),
    ];
    let s1 = store
        .commit_blob(
            "contoso",
            ContentType::Exchange,
            &blob("b1", at(10, 0)),
            &first,
        )
        .expect("first");
    let s2 = store
        .commit_blob(
            "contoso",
            ContentType::Exchange,
            &blob("b2", at(10, 5)),
            &second,
        )
        .expect("second");
    assert_eq!(
        s1,
        CommitStats {
            inserted: 3,
            duplicates: 0
        }
    );
    assert_eq!(
        s2,
        CommitStats {
            inserted: 1,
            duplicates: 3
        }
    );
    assert_eq!(store.record_count(Some("contoso")).expect("count"), 4);
    assert_eq!(
        sorted(store.record_ids("contoso", None).expect("ids")),
        ["r1", "r2", "r3", "r4"]
    );

    // The same Id in another tenant is another record.
    let s3 = store
        .commit_blob(
            "fabrikam",
            ContentType::Exchange,
            &blob("b1", at(10, 0)),
            &first[..1],
        )
        .expect("other tenant");
    assert_eq!(
        s3,
        CommitStats {
            inserted: 1,
            duplicates: 0
        }
    );
    assert_eq!(store.record_count(Some("fabrikam")).expect("count"), 1);
    assert_eq!(store.record_count(None).expect("count"), 5);
    assert_eq!(store.record_count(Some("nobody")).expect("count"), 0);

    // Committing a blob that is already done again changes nothing.
    let again = store
        .commit_blob(
            "contoso",
            ContentType::Exchange,
            &blob("b1", at(10, 0)),
            &first,
        )
        .expect("again");
    assert_eq!(
        again,
        CommitStats {
            inserted: 0,
            duplicates: 3
        }
    );
    assert_eq!(store.record_count(None).expect("count"), 5);
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::Exchange, at(0, 0))
            .expect("done"),
        ids(&["b1", "b2"])
    );
}

fn record_ids_filter_by_content_type(store: &dyn Store) {
    store
        .commit_blob(
            "contoso",
            ContentType::Exchange,
            &blob("e", at(10, 0)),
            &[record("e1", "a")],
        )
        .expect("ex");
    store
        .commit_blob(
            "contoso",
            ContentType::AzureActiveDirectory,
            &blob("a", at(10, 0)),
            &[record("a1", "a"), record("a2", "a")],
        )
        .expect("aad");
    assert_eq!(
        sorted(
            store
                .record_ids("contoso", Some(ContentType::AzureActiveDirectory))
                .expect("ids")
        ),
        ["a1", "a2"]
    );
    assert_eq!(
        store
            .record_ids("contoso", Some(ContentType::Exchange))
            .expect("ids"),
        ["e1"]
    );
    assert!(
        store
            .record_ids("contoso", Some(ContentType::Dlp))
            .expect("ids")
            .is_empty()
    );
    assert!(store.record_ids("nobody", None).expect("ids").is_empty());
}

fn done_blobs_are_per_connector_and_since(store: &dyn Store) {
    store
        .commit_blob("contoso", ContentType::General, &blob("old", at(8, 0)), &[])
        .expect("old");
    store
        .commit_blob(
            "contoso",
            ContentType::General,
            &blob("edge", at(9, 0)),
            &[],
        )
        .expect("edge");
    store
        .commit_blob(
            "contoso",
            ContentType::General,
            &blob("new", at(10, 0)),
            &[],
        )
        .expect("new");
    store
        .commit_blob("contoso", ContentType::Dlp, &blob("dlp", at(10, 0)), &[])
        .expect("dlp");
    store
        .commit_blob(
            "fabrikam",
            ContentType::General,
            &blob("fab", at(10, 0)),
            &[],
        )
        .expect("fab");
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::General, at(9, 0))
            .expect("done"),
        ids(&["edge", "new"])
    );
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::Dlp, at(0, 0))
            .expect("done"),
        ids(&["dlp"])
    );
    assert!(
        store
            .done_blobs("contoso", ContentType::Exchange, at(0, 0))
            .expect("done")
            .is_empty()
    );
    // Sub-millisecond precision counts: contentCreated has 100 ns ticks.
    let tick = at(11, 0) + Duration::nanoseconds(100);
    store
        .commit_blob("contoso", ContentType::General, &blob("tick", tick), &[])
        .expect("tick");
    assert!(
        store
            .done_blobs("contoso", ContentType::General, tick)
            .expect("done")
            .contains("tick")
    );
    assert!(
        !store
            .done_blobs(
                "contoso",
                ContentType::General,
                tick + Duration::nanoseconds(100)
            )
            .expect("done")
            .contains("tick")
    );
}

fn prune_forgets_only_older_markers(store: &dyn Store) {
    for (id, h) in [("a", 7), ("b", 8), ("c", 9)] {
        store
            .commit_blob(
                "contoso",
                ContentType::General,
                &blob(id, at(h, 0)),
                &[record(id, "u")],
            )
            .expect("commit");
    }
    store
        .commit_blob("fabrikam", ContentType::General, &blob("f", at(7, 30)), &[])
        .expect("commit");
    assert_eq!(store.prune_done(at(8, 0)).expect("prune"), 2);
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::General, at(0, 0))
            .expect("done"),
        ids(&["b", "c"])
    );
    assert!(
        store
            .done_blobs("fabrikam", ContentType::General, at(0, 0))
            .expect("done")
            .is_empty()
    );
    assert_eq!(store.prune_done(at(8, 0)).expect("prune again"), 0);
    assert_eq!(store.record_count(None).expect("records stay"), 3);
}

fn gaps_are_listed_and_done(store: &dyn Store) {
    let gap = Gap {
        tenant: "contoso".into(),
        content_type: ContentType::SharePoint,
        content_id: "expired-1".into(),
        created: at(8, 0) + Duration::nanoseconds(313_317_700),
        reason: "AF20051 content expired".into(),
        detected_at: at(12, 0),
    };
    let other = Gap {
        tenant: "fabrikam".into(),
        content_id: "expired-2".into(),
        ..gap.clone()
    };
    store.record_gap(&gap).expect("gap");
    store.record_gap(&gap).expect("same gap again");
    store.record_gap(&other).expect("other gap");
    assert_eq!(
        store.gaps(Some("contoso")).expect("gaps"),
        std::slice::from_ref(&gap)
    );
    assert_eq!(store.gaps(None).expect("gaps"), [gap.clone(), other]);
    assert!(store.gaps(Some("nobody")).expect("gaps").is_empty());
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::SharePoint, at(0, 0))
            .expect("done"),
        ids(&["expired-1"])
    );
    // Pruning done markers keeps the gaps: they are the record of a loss.
    store.prune_done(at(23, 0)).expect("prune");
    assert_eq!(store.gaps(Some("contoso")).expect("gaps"), [gap]);
}

fn ledger_counts_each_day_of_publication(store: &dyn Store) {
    let commit = |tenant: &str, ct: ContentType, id: &str, created, records: &[&str]| {
        let recs: Vec<AuditRecord> = records.iter().map(|r| record(r, "a@x.com")).collect();
        store
            .commit_blob(tenant, ct, &blob(id, created), &recs)
            .expect("commits");
    };
    let day = |d: u32, h: u32| {
        Utc.with_ymd_and_hms(2024, 5, d, h, 0, 0)
            .single()
            .expect("valid time")
    };
    let sp = ContentType::SharePoint;
    // Published before the ledger's start: not in it.
    commit("contoso", sp, "old", day(12, 23), &["r0"]);
    // The 14th, from its first to its last nanosecond: two blobs (one record of the second
    // already stored from the first still counts as held) and a gap.
    commit("contoso", sp, "a", day(14, 0), &["r1", "r2", "r3"]);
    commit(
        "contoso",
        sp,
        "b",
        day(15, 0) - Duration::nanoseconds(1),
        &["r3", "r4"],
    );
    store
        .record_gap(&Gap {
            tenant: "contoso".into(),
            content_type: sp,
            content_id: "gone".into(),
            created: day(14, 12),
            reason: "AF20051 content expired".into(),
            detected_at: day(16, 0),
        })
        .expect("gap");
    commit("contoso", sp, "c", day(15, 0), &["r5"]);
    // A range lost whole is not a blob: the gaps tell it.
    store
        .record_gap(&Gap {
            tenant: "contoso".into(),
            content_type: sp,
            content_id: "range:2024-05-15T02:00:00+00:00..2024-05-15T03:00:00+00:00".into(),
            created: day(15, 2),
            reason: "not collected before Microsoft's 7-day retention ran out".into(),
            detected_at: day(16, 0),
        })
        .expect("range gap");
    commit("contoso", ContentType::Exchange, "x", day(14, 9), &["r6"]);
    commit("fabrikam", sp, "f", day(14, 9), &["r7", "r8"]);
    // A blob committed twice is one blob.
    commit("fabrikam", sp, "f", day(14, 9), &["r7", "r8"]);

    let ledger = store.ledger(day(13, 0)).expect("ledger");
    let row = |tenant: &str, ct, d: u32, blobs, records, gaps| LedgerDay {
        tenant: tenant.into(),
        content_type: ct,
        day: NaiveDate::from_ymd_opt(2024, 5, d).expect("valid day"),
        blobs,
        records,
        gaps,
    };
    assert_eq!(
        ledger,
        [
            row("contoso", ContentType::Exchange, 14, 1, 1, 0),
            row("contoso", sp, 14, 2, 5, 1),
            row("contoso", sp, 15, 1, 1, 0),
            row("fabrikam", sp, 14, 1, 2, 0),
        ]
    );
    assert_eq!(store.ledger(day(12, 0)).expect("ledger").len(), 5);
    assert!(store.ledger(day(16, 0)).expect("ledger").is_empty());
}

fn watermarks_round_trip(store: &dyn Store) {
    assert_eq!(
        store
            .watermark("contoso", ContentType::Exchange)
            .expect("none yet"),
        None
    );
    let t = at(9, 30) + Duration::nanoseconds(123_456_789);
    store
        .set_watermark("contoso", ContentType::Exchange, t)
        .expect("set");
    store
        .set_watermark("contoso", ContentType::General, at(1, 0))
        .expect("set other");
    assert_eq!(
        store
            .watermark("contoso", ContentType::Exchange)
            .expect("read"),
        Some(t)
    );
    store
        .set_watermark("contoso", ContentType::Exchange, at(10, 0))
        .expect("move");
    assert_eq!(
        store
            .watermark("contoso", ContentType::Exchange)
            .expect("read"),
        Some(at(10, 0))
    );
    assert_eq!(
        store
            .watermark("contoso", ContentType::General)
            .expect("read"),
        Some(at(1, 0))
    );
    assert_eq!(
        store
            .watermark("fabrikam", ContentType::Exchange)
            .expect("read"),
        None
    );
}

fn statuses_upsert_in_order(store: &dyn Store) {
    assert!(store.statuses().expect("empty").is_empty());
    let zed = status(
        "zed",
        ContentType::AzureActiveDirectory,
        ConnectorState::Healthy,
        1,
    );
    let dlp = status("contoso", ContentType::Dlp, ConnectorState::Backfilling, 2);
    let aad = status(
        "contoso",
        ContentType::AzureActiveDirectory,
        ConnectorState::Pending,
        3,
    );
    for s in [&zed, &dlp, &aad] {
        store.set_status(s).expect("set");
    }
    assert_eq!(
        store.statuses().expect("read"),
        [aad.clone(), dlp.clone(), zed.clone()]
    );

    let failed = ConnectorStatus {
        state: ConnectorState::Error,
        last_success: None,
        watermark: Some(at(8, 0) + Duration::nanoseconds(700)),
        records: u64::MAX,
        blobs: 0,
        gaps: 7,
        last_error: Some("AADSTS7000222: the client secret has expired".into()),
        remediation: Some(
            "Create a new secret under App registrations → Certificates & secrets".into(),
        ),
        updated_at: at(9, 5),
        // The service's clock five days behind the collector's, and it round-trips.
        clock_offset_ms: -432_000_123,
        ..dlp.clone()
    };
    store.set_status(&failed).expect("update");
    let read = store.statuses().expect("read");
    assert_eq!(read.len(), 3, "one row per tenant and content type");
    let expected = ConnectorStatus {
        records: i64::MAX as u64,
        ..failed
    };
    assert_eq!(read, [aad, expected, zed]);
}

fn quarantine_counts(store: &dyn Store) {
    assert_eq!(store.quarantined().expect("none"), 0);
    store
        .quarantine(
            "contoso",
            "export.csv:17",
            "not a json object",
            b"\xff\xfe not json",
        )
        .expect("q1");
    store.quarantine("", "stdin:1", "empty", b"").expect("q2");
    assert_eq!(store.quarantined().expect("two"), 2);
}

#[test]
fn raw_bytes_come_back_identical() {
    on_every_backend(raw_bytes_round_trip);
}

#[test]
fn duplicate_ids_across_blobs_are_counted_and_stored_once() {
    on_every_backend(duplicates_are_stored_once);
}

#[test]
fn record_ids_can_be_filtered_by_content_type() {
    on_every_backend(record_ids_filter_by_content_type);
}

#[test]
fn done_blobs_are_per_tenant_content_type_and_time() {
    on_every_backend(done_blobs_are_per_connector_and_since);
}

#[test]
fn prune_done_forgets_old_markers_only() {
    on_every_backend(prune_forgets_only_older_markers);
}

#[test]
fn a_gap_is_listed_and_its_blob_is_done() {
    on_every_backend(gaps_are_listed_and_done);
}

#[test]
fn the_ledger_counts_blobs_records_and_gaps_per_day_of_publication() {
    on_every_backend(ledger_counts_each_day_of_publication);
}

#[test]
fn watermark_round_trip() {
    on_every_backend(watermarks_round_trip);
}

#[test]
fn statuses_are_upserted_and_ordered() {
    on_every_backend(statuses_upsert_in_order);
}

#[test]
fn quarantined_records_are_counted() {
    on_every_backend(quarantine_counts);
}

#[test]
fn committed_data_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recs = [record("r1", "a@x.com"), record("r2", "b@x.com")];
    {
        let store = SqliteStore::open(dir.path()).expect("open");
        store
            .commit_blob(
                "contoso",
                ContentType::Exchange,
                &blob("b1", at(10, 0)),
                &recs,
            )
            .expect("commit");
        store
            .set_watermark("contoso", ContentType::Exchange, at(10, 30))
            .expect("watermark");
    }
    let store = SqliteStore::open(dir.path()).expect("reopen");
    assert_eq!(
        store.path(),
        Some(dir.path().join(SqliteStore::FILE_NAME).as_path())
    );
    assert_eq!(store.record_count(Some("contoso")).expect("count"), 2);
    assert_eq!(
        store.raw_record("contoso", "r2").expect("raw"),
        Some(recs[1].raw.clone())
    );
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::Exchange, at(0, 0))
            .expect("done"),
        ids(&["b1"])
    );
    assert_eq!(
        store
            .watermark("contoso", ContentType::Exchange)
            .expect("watermark"),
        Some(at(10, 30))
    );
    // Still de-duplicating after the reopen (the tenant is found again, not created twice).
    let stats = store
        .commit_blob(
            "contoso",
            ContentType::Exchange,
            &blob("b2", at(10, 5)),
            &recs,
        )
        .expect("commit");
    assert_eq!(
        stats,
        CommitStats {
            inserted: 0,
            duplicates: 2
        }
    );
}

#[test]
fn a_fresh_database_gets_the_newest_schema_and_reopening_keeps_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("nested/data").as_path())
        .expect("creates the directories");
    assert_eq!(
        store.schema_version().expect("version"),
        SqliteStore::SCHEMA_VERSION
    );
    const { assert!(SqliteStore::SCHEMA_VERSION >= 1) };
    store
        .commit_blob(
            "t",
            ContentType::General,
            &blob("b", at(1, 0)),
            &[record("r", "u")],
        )
        .expect("commit");
    drop(store);
    // Migrations that ran again would fail (CREATE TABLE of existing tables) or lose data.
    let again = SqliteStore::open(dir.path().join("nested/data").as_path()).expect("reopen");
    assert_eq!(
        again.schema_version().expect("version"),
        SqliteStore::SCHEMA_VERSION
    );
    assert_eq!(again.record_count(None).expect("count"), 1);
}

#[test]
fn a_database_from_a_newer_skylight_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(SqliteStore::open(dir.path()).expect("create"));
    let file = dir.path().join(SqliteStore::FILE_NAME);
    let newer = SqliteStore::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&file)
        .expect("raw open")
        .pragma_update(None, "user_version", newer)
        .expect("bump");
    match SqliteStore::open(dir.path()) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (newer, SqliteStore::SCHEMA_VERSION))
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let version: i64 = rusqlite::Connection::open(&file)
        .expect("raw open")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, newer, "the newer database is left as it was");
}

#[test]
fn a_data_dir_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("file");
    assert!(matches!(
        SqliteStore::open(&file),
        Err(StoreError::Io { .. })
    ));
}

/// Threads committing overlapping blobs at once: every record stored once, every duplicate
/// counted.
fn concurrent_commits_lose_nothing(store: &dyn Store) {
    let totals: Vec<CommitStats> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    let mut totals = CommitStats::default();
                    for b in 0..10 {
                        // Every thread also writes ids 0..20 of blob b: shared duplicates.
                        let recs: Vec<_> = (0..20)
                            .map(|i| record(&format!("shared-{b}-{i}"), "u"))
                            .chain((0..30).map(|i| record(&format!("own-{t}-{b}-{i}"), "u")))
                            .collect();
                        let s = store
                            .commit_blob(
                                "contoso",
                                ContentType::General,
                                &blob(&format!("b-{t}-{b}"), at(10, b)),
                                &recs,
                            )
                            .expect("commit");
                        totals.inserted += s.inserted;
                        totals.duplicates += s.duplicates;
                    }
                    totals
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    let inserted: u64 = totals.iter().map(|s| s.inserted).sum();
    let duplicates: u64 = totals.iter().map(|s| s.duplicates).sum();
    assert_eq!(inserted, 10 * 20 + 4 * 10 * 30);
    assert_eq!(duplicates, 3 * 10 * 20);
    assert_eq!(store.record_count(None).expect("count"), inserted);
    assert_eq!(
        store.record_ids("contoso", None).expect("ids").len() as u64,
        inserted
    );
    assert_eq!(
        store
            .done_blobs("contoso", ContentType::General, at(0, 0))
            .expect("done")
            .len(),
        40
    );
    // Each shared record's raw bytes are its own (the chunk rewritten without duplicates).
    assert_eq!(
        store.raw_record("contoso", "shared-3-7").expect("raw"),
        Some(record("shared-3-7", "u").raw)
    );
    for id in ["own-2-5-29", "own-0-9-0", "own-3-0-17"] {
        assert_eq!(
            store.raw_record("contoso", id).expect("raw"),
            Some(record(id, "u").raw),
            "{id}"
        );
    }
}

#[test]
fn concurrent_commits_from_threads_lose_nothing() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    assert_send_sync::<skylight_store::PostgresStore>();
    on_every_backend(concurrent_commits_lose_nothing);
}
