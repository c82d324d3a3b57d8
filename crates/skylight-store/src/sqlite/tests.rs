//! Tests that need the backend's insides: migrations with made-up scripts, failures injected
//! mid-transaction, damaged rows. Behaviour through the trait is tested in `tests/`.

use std::sync::Arc;

use chrono::TimeZone;
use rusqlite::Connection;
use skylight_model::{AuditRecord, BlobRef, CommitStats, ContentType};

use super::checkpoint::Thresholds;
use super::commit::Job;
use super::migrations::{APPLICATION_ID, MIGRATIONS, Migration, migrate, user_version};
use super::{SqliteStore, from_ns, guid_bytes, id_from_key, record_key, to_ns};
use crate::RecordBatch;
use crate::{Store, StoreError};

fn record(id: &str) -> AuditRecord {
    AuditRecord::from_json(&format!(
        r#"{{"Id":"{id}","CreationTime":"2024-05-14T09:21:37","UserId":"u@x.com"}}"#
    ))
    .expect("valid record")
}

fn blob(id: &str) -> BlobRef {
    BlobRef {
        content_id: id.into(),
        created: chrono::Utc
            .with_ymd_and_hms(2024, 5, 14, 10, 0, 0)
            .single()
            .expect("time"),
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

const TWO_STEPS: &[Migration] = &[
    Migration {
        name: "one",
        sql: "CREATE TABLE runs (step INTEGER NOT NULL);",
    },
    Migration {
        name: "two",
        sql: "INSERT INTO runs (step) VALUES (2);",
    },
];

#[test]
fn migrations_run_once_each_in_order() {
    let mut conn = Connection::open_in_memory().expect("db");
    assert_eq!(migrate(&mut conn, &TWO_STEPS[..1]).expect("first"), 1);
    assert_eq!(migrate(&mut conn, TWO_STEPS).expect("second"), 2);
    assert_eq!(migrate(&mut conn, TWO_STEPS).expect("again"), 2);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs"),
        1,
        "step two ran once"
    );
    assert_eq!(user_version(&conn).expect("version"), 2);
}

#[test]
fn a_failing_migration_changes_nothing() {
    let broken = &[
        Migration {
            name: "one",
            sql: "CREATE TABLE kept (x INTEGER);",
        },
        Migration {
            name: "two",
            sql: "CREATE TABLE lost (x INTEGER); INSERT INTO nowhere VALUES (1);",
        },
    ];
    let mut conn = Connection::open_in_memory().expect("db");
    let err = migrate(&mut conn, broken).expect_err("step two fails");
    assert!(err.to_string().contains("two"), "{err}");
    assert_eq!(user_version(&conn).expect("version"), 1);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'kept'"
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'lost'"
        ),
        0,
        "rolled back"
    );
}

#[test]
fn a_newer_or_foreign_database_is_refused_untouched() {
    let mut conn = Connection::open_in_memory().expect("db");
    migrate(&mut conn, TWO_STEPS).expect("migrates");
    assert!(matches!(
        migrate(&mut conn, &TWO_STEPS[..1]),
        Err(StoreError::SchemaTooNew { found: 2, known: 1 })
    ));
    assert_eq!(user_version(&conn).expect("version"), 2);

    let mut other = Connection::open_in_memory().expect("db");
    other
        .execute_batch("PRAGMA application_id = 42; CREATE TABLE t (x);")
        .expect("foreign db");
    assert!(matches!(
        migrate(&mut other, MIGRATIONS),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(user_version(&other).expect("version"), 0);
}

#[test]
fn the_store_schema_is_stamped_and_current() {
    let store = SqliteStore::open_in_memory().expect("store");
    assert_eq!(
        store.schema_version().expect("version"),
        SqliteStore::SCHEMA_VERSION
    );
    assert_eq!(
        SqliteStore::SCHEMA_VERSION,
        i64::try_from(MIGRATIONS.len()).expect("fits")
    );
    let inner = store.lock();
    let app: i64 = inner
        .conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("app id");
    assert_eq!(app, APPLICATION_ID);
    let fk: i64 = inner
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("fk");
    assert_eq!(fk, 1);
}

#[test]
fn a_failed_commit_stores_neither_records_nor_marker() {
    let store = SqliteStore::open_in_memory().expect("store");
    // The done marker is written last: make it fail after the records went in.
    store
        .lock()
        .conn
        .execute_batch(
            "CREATE TEMP TRIGGER no_marker BEFORE INSERT ON main.done_blobs WHEN NEW.content_id = 'b-bad' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .expect("trigger");
    let err = store
        .commit_blob(
            "t",
            ContentType::Exchange,
            &blob("b-bad"),
            &[record("r1"), record("r2")],
        )
        .expect_err("marker insert fails");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.record_count(None).expect("count"), 0);
    assert!(
        store
            .done_blobs("t", ContentType::Exchange, from_ns(i64::MIN))
            .expect("done")
            .is_empty()
    );

    // The tenant created inside the failed transaction is not cached: the next commit works.
    let stats = store
        .commit_blob("t", ContentType::Exchange, &blob("b-good"), &[record("r1")])
        .expect("commits");
    assert_eq!(stats.inserted, 1);
    assert_eq!(
        store.raw_record("t", "r1").expect("reads"),
        Some(record("r1").raw)
    );
}

#[test]
fn damaged_raw_chunks_are_an_error_not_a_panic() {
    let store = SqliteStore::open_in_memory().expect("store");
    for (b, id) in [
        ("b1", "a"),
        ("b2", "b"),
        ("b3", "c"),
        ("b4", "d"),
        ("b5", "e"),
    ] {
        store
            .commit_blob("t", ContentType::General, &blob(b), &[record(id)])
            .expect("commits");
    }
    {
        let inner = store.lock();
        let c = &inner.conn;
        let chunk_of =
            |id: &str| format!("(SELECT chunk_id FROM records WHERE record_key = '{id}')");
        let segment_of = |id: &str| {
            format!(
                "(SELECT segment_id FROM raw_chunks WHERE id = {})",
                chunk_of(id)
            )
        };
        for sql in [
            format!(
                "UPDATE raw_segments SET data = x'00ff00ff' WHERE id = {}",
                segment_of("a")
            ),
            format!(
                "UPDATE raw_segments SET data = substr(data, 1, length(data) - 3) WHERE id = {}",
                segment_of("b")
            ),
            format!(
                "UPDATE raw_chunks SET raw_len = raw_len + 1 WHERE id = {}",
                chunk_of("c")
            ),
            format!(
                "UPDATE raw_chunks SET raw_len = 9223372036854775807 WHERE id = {}",
                chunk_of("d")
            ),
            "UPDATE records SET chunk_pos = 7 WHERE record_key = 'e'".to_owned(),
        ] {
            c.execute(&sql, []).expect("damage");
        }
    }
    for id in ["a", "b", "c", "d", "e"] {
        assert!(
            matches!(store.raw_record("t", id), Err(StoreError::Corrupt(_))),
            "{id}"
        );
    }
}

#[test]
fn guids_are_stored_as_16_bytes_and_read_back_as_written() {
    let lower = "5d1fa2c9-9b68-6de7-e960-276d6e51f691";
    assert!(guid_bytes(lower).is_some());
    for other in [
        "5D1FA2C9-9B68-6DE7-E960-276D6E51F691",
        "5d1fa2c9-9b68-6de7-e960-276d6e51f69",
        "5d1fa2c9_9b68-6de7-e960-276d6e51f691",
        "{5d1fa2c9-9b68-6de7-e960-276d6e51f691}",
        "5d1fa2c9-9b68-6de7-e960-276d6e51f69g",
        "",
        "é",
    ] {
        assert!(guid_bytes(other).is_none(), "{other}");
        let key = record_key(other);
        assert_eq!(id_from_key((&key).into()).expect("id"), other);
    }
    let key = record_key(lower);
    assert!(matches!(key, rusqlite::types::Value::Blob(ref b) if b.len() == 16));
    assert_eq!(id_from_key((&key).into()).expect("id"), lower);

    let store = SqliteStore::open_in_memory().expect("store");
    let upper = "5D1FA2C9-9B68-6DE7-E960-276D6E51F691";
    store
        .commit_blob(
            "t",
            ContentType::General,
            &blob("b"),
            &[record(lower), record(upper)],
        )
        .expect("commits");
    // Same letters, different case: two records, as Microsoft's Ids are compared exactly.
    assert_eq!(
        store.record_ids("t", None).expect("ids"),
        vec![lower.to_owned(), upper.to_owned()]
    );
    assert_eq!(
        store.raw_record("t", lower).expect("reads"),
        Some(record(lower).raw)
    );
    assert_eq!(
        store.raw_record("t", upper).expect("reads"),
        Some(record(upper).raw)
    );
}

#[test]
fn a_repeated_blob_keeps_each_raw_record_once() {
    let store = SqliteStore::open_in_memory().expect("store");
    let ct = ContentType::SharePoint;
    store
        .commit_blob("t", ct, &blob("b1"), &[record("r1"), record("r2")])
        .expect("first");
    let stats = store
        .commit_blob(
            "t",
            ct,
            &blob("b2"),
            &[record("r2"), record("r3"), record("r1"), record("r4")],
        )
        .expect("second");
    assert_eq!(
        stats,
        CommitStats {
            inserted: 2,
            duplicates: 2
        }
    );
    let stats = store
        .commit_blob("t", ct, &blob("b3"), &[record("r4"), record("r3")])
        .expect("third");
    assert_eq!(
        stats,
        CommitStats {
            inserted: 0,
            duplicates: 2
        }
    );
    let inner = store.lock();
    // b3 left no chunk behind; b2's chunk holds r3 and r4 only, and both rows point right.
    assert_eq!(count(&inner.conn, "SELECT count(*) FROM raw_chunks"), 2);
    let stored: i64 = count(&inner.conn, "SELECT sum(raw_len) FROM raw_chunks");
    let expected: usize = ["r1", "r2", "r3", "r4"]
        .iter()
        .map(|id| record(id).raw.len() + 4)
        .sum();
    assert_eq!(stored, i64::try_from(expected).expect("len"));
    drop(inner);
    for id in ["r1", "r2", "r3", "r4"] {
        assert_eq!(
            store.raw_record("t", id).expect("reads"),
            Some(record(id).raw),
            "{id}"
        );
    }
}

#[test]
fn rejects_are_quarantined_with_their_blob_or_not_at_all() {
    let store = SqliteStore::open_in_memory().expect("store");
    store
        .lock()
        .conn
        .execute_batch(
            "CREATE TEMP TRIGGER no_marker BEFORE INSERT ON main.done_blobs WHEN NEW.content_id = 'b-bad' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .expect("trigger");
    let batch = |id: &str| {
        let mut b = RecordBatch::from_records(&[record(id)]).expect("batch");
        b.reject("not json", b"{oops").expect("reject");
        b
    };
    let ct = ContentType::Exchange;
    assert!(
        store
            .commit_batch("t", ct, &blob("b-bad"), batch("r1"))
            .is_err()
    );
    assert_eq!(store.quarantined().expect("count"), 0);
    assert_eq!(store.record_count(None).expect("count"), 0);
    store
        .commit_batch("t", ct, &blob("b-good"), batch("r1"))
        .expect("commits");
    assert_eq!(store.quarantined().expect("count"), 1);
    assert_eq!(store.record_count(None).expect("count"), 1);
}

#[test]
fn unknown_codes_read_back_as_corrupt() {
    let store = SqliteStore::open_in_memory().expect("store");
    {
        let inner = store.lock();
        inner
            .conn
            .execute_batch(
                "INSERT INTO statuses VALUES ('t', 1, 'dancing', NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0);
                 PRAGMA foreign_keys = OFF;
                 INSERT INTO gaps VALUES ('t', 99, 'c', 0, 'why', 0);",
            )
            .expect("bad rows");
    }
    assert!(matches!(store.statuses(), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.gaps(None), Err(StoreError::Corrupt(_))));
}

#[test]
fn times_beyond_the_nanosecond_range_are_clamped() {
    let far = chrono::Utc
        .with_ymd_and_hms(3000, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let early = chrono::Utc
        .with_ymd_and_hms(1000, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    assert_eq!(to_ns(far), i64::MAX);
    assert_eq!(to_ns(early), i64::MIN);
    let t = chrono::Utc
        .timestamp_opt(1_715_678_497, 123_456_789)
        .single()
        .expect("time");
    assert_eq!(from_ns(to_ns(t)), t);
}

/// SQLite's plan for a statement: its steps (`EXPLAIN QUERY PLAN`), joined by `; `.
fn query_plan(conn: &Connection, sql: &str, params: Vec<rusqlite::types::Value>) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("plan");
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .expect("rows");
    rows.collect::<Result<Vec<_>, _>>()
        .expect("plan rows")
        .join("; ")
}

#[test]
fn lookups_use_the_indexes() {
    let store = SqliteStore::open_in_memory().expect("store");
    let inner = store.lock();
    let plan = |sql: &str| query_plan(&inner.conn, sql, Vec::new());
    // By Id alone (`raw_record`) there is no index to seek: see its documentation.
    let dedupe =
        plan("SELECT id FROM records WHERE tenant_id = 1 AND creation_ms = 5 AND record_key = 'x'");
    assert!(
        dedupe.contains("SEARCH") && dedupe.contains("records_by_time_tenant_key"),
        "{dedupe}"
    );
    // One user or address over a week: one seek per hour in its lookup, no scan.
    let hours = (0..168)
        .map(|h| (480_000 + h).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let user = plan(&format!(
        "SELECT id FROM record_users WHERE hour IN ({hours}) AND user_id = 3"
    ));
    assert!(
        user.contains("SEARCH record_users USING PRIMARY KEY (hour=? AND user_id=?)"),
        "{user}"
    );
    let ip = plan(&format!(
        "SELECT id FROM record_addresses WHERE hour IN ({hours}) AND client_ip = 9"
    ));
    assert!(
        ip.contains("SEARCH record_addresses USING PRIMARY KEY (hour=? AND client_ip=?)"),
        "{ip}"
    );
    // One operation over any span: one range seek.
    let op = plan(
        "SELECT id FROM record_operations WHERE hour BETWEEN 480000 AND 480167 AND operation = 4",
    );
    assert!(
        op.contains(
            "SEARCH record_operations USING PRIMARY KEY (operation=? AND hour>? AND hour<?)"
        ),
        "{op}"
    );
    let by_text = plan("SELECT id FROM strings WHERE lower(value) IN ('alice@contoso.com')");
    assert!(by_text.contains("strings_by_lower"), "{by_text}");
    drop(inner);
    first_pages_walk_the_time_led_key(&store);
}

/// The query plan of the log's first page (100 rows) for a tenant and filters.
fn first_page_plan(store: &SqliteStore, tenant: Option<&str>, filters: &[&str]) -> String {
    let q = crate::ActivityQuery {
        tenant: tenant.map(str::to_owned),
        filter: skylight_model::filter::Filter::parse(filters).expect("filter"),
        limit: 100,
        after: None,
    };
    let inner = store.lock();
    let (sql, params) = inner.first_page_sql(&q).expect("statement");
    query_plan(&inner.conn, &sql, params)
}

/// The log's first page for filters without an index of their own (app, workload, RecordType,
/// result, tenant, none; Workload and RecordType lost theirs in schema 15): a walk of the
/// time-led unique key newest first, never a sort of the table (only ties on one millisecond
/// are sorted).
fn first_pages_walk_the_time_led_key(store: &SqliteStore) {
    // A tenant the store knows (an unknown one selects nothing at once).
    store
        .lock()
        .conn
        .execute(
            "INSERT OR IGNORE INTO tenants (name) VALUES ('contoso')",
            [],
        )
        .expect("tenant");
    for filters in [
        &["app=exchange"][..],
        &["workload=exchange"],
        &["record_type=15"],
        &[
            "result=failure",
            "time=2024-05-07T00:00:00Z..2024-05-14T00:00:00Z",
        ],
        &["user=alice@contoso.com"],
        &[],
    ] {
        for tenant in [None, Some("contoso")] {
            let plan = first_page_plan(store, tenant, filters);
            assert!(
                plan.contains("r USING INDEX records_by_time_tenant_key")
                    && !plan.contains("TEMP B-TREE FOR ORDER BY"),
                "{filters:?} {tenant:?}: {plan}"
            );
        }
    }
}

#[test]
fn a_group_commit_counts_like_sequential_commits() {
    let store = SqliteStore::open_in_memory().expect("store");
    let a = Arc::new(
        Job::prepare(
            "t",
            ContentType::Exchange,
            &blob("a"),
            RecordBatch::from_records(&[record("r1"), record("r2")]).expect("batch"),
        )
        .expect("a"),
    );
    let b = Arc::new(
        Job::prepare(
            "t",
            ContentType::Exchange,
            &blob("b"),
            RecordBatch::from_records(&[record("r2"), record("r3"), record("r3")]).expect("batch"),
        )
        .expect("b"),
    );
    store.lock().commit_jobs(&[Arc::clone(&a), Arc::clone(&b)]);
    let (a, b) = (
        a.take_outcome().expect("a done"),
        b.take_outcome().expect("b done"),
    );
    assert_eq!(
        a.expect("a ok"),
        CommitStats {
            inserted: 2,
            duplicates: 0
        }
    );
    assert_eq!(
        b.expect("b ok"),
        CommitStats {
            inserted: 1,
            duplicates: 2
        }
    );
    assert_eq!(store.record_count(Some("t")).expect("count"), 3);
}

#[test]
fn blobs_committed_from_many_threads_are_gathered_and_each_gets_its_own_outcome() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("store"));
    const THREADS: usize = 12;
    const BLOBS: usize = 6;
    // Thread t's blob b holds records t*100+b*10 .. +20: each overlaps the thread's next blob by
    // half, so some records arrive twice, in the same group or in another.
    let ids = |t: usize, b: usize| (0..20).map(move |i| format!("r{}", t * 100 + b * 10 + i));
    let start = Arc::new(std::sync::Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                (0..BLOBS)
                    .map(|b| {
                        let records: Vec<_> = ids(t, b).map(|id| record(&id)).collect();
                        let batch = RecordBatch::from_records(&records).expect("batch");
                        store
                            .commit_batch(
                                "t",
                                ContentType::General,
                                &blob(&format!("b{t}-{b}")),
                                batch,
                            )
                            .expect("committed")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<Vec<CommitStats>> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    // Within a thread, blobs commit in order: its first blob stores all 20, each next one the
    // 10 it adds.
    for (t, blobs) in outcomes.iter().enumerate() {
        for (b, stats) in blobs.iter().enumerate() {
            let expected = if b == 0 { (20, 0) } else { (10, 10) };
            assert_eq!(
                (stats.inserted, stats.duplicates),
                expected,
                "thread {t} blob {b}"
            );
        }
    }
    let mut expected: Vec<String> = (0..THREADS)
        .flat_map(|t| (0..BLOBS).flat_map(move |b| ids(t, b)))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(sorted(store.record_ids("t", None).expect("ids")), expected);
    let inner = store.lock();
    assert_eq!(
        count(&inner.conn, "SELECT count(*) FROM done_blobs") as usize,
        THREADS * BLOBS
    );
    // Blobs of one transaction share its time: fewer distinct times than blobs means groups.
    let groups = count(
        &inner.conn,
        "SELECT count(DISTINCT done_ns) FROM done_blobs",
    ) as usize;
    assert!(
        groups < THREADS * BLOBS,
        "{groups} transactions for {} blobs",
        THREADS * BLOBS
    );
}

#[test]
fn the_wal_is_checkpointed_beside_the_writer_and_starts_over() {
    let dir = tempfile::tempdir().expect("dir");
    // Tiny thresholds: checkpoint from 64 WAL pages; the thread copies while over 16 remain.
    let at = Thresholds {
        pages: 64,
        bulk: 16,
    };
    let store = SqliteStore::open_with(dir.path(), at).expect("store");
    let (db, wal) = (
        dir.path().join(SqliteStore::FILE_NAME),
        dir.path().join(format!("{}-wal", SqliteStore::FILE_NAME)),
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut largest_wal = 0;
    for b in 0..300 {
        let records: Vec<_> = (0..40).map(|i| record(&format!("r{b}-{i}"))).collect();
        let batch = RecordBatch::from_records(&records).expect("batch");
        store
            .commit_batch("t", ContentType::General, &blob(&format!("b{b}")), batch)
            .expect("committed");
        largest_wal = largest_wal.max(size(&wal));
    }
    // 12,000 records and their indexes are several megabytes of pages: had nothing been copied
    // back (or had the WAL never started over), the WAL would hold them all.
    let in_db = size(&db);
    assert!(
        in_db > 1 << 20,
        "only {in_db} bytes reached the database file"
    );
    assert!(
        largest_wal < 1 << 20,
        "the WAL grew to {largest_wal} bytes (database file: {in_db})"
    );
    let passes = store.checkpointer.as_ref().map_or(0, |c| c.passes());
    assert!(passes > 0, "the checkpoint thread copied nothing");
    assert_eq!(store.record_count(Some("t")).expect("count"), 12_000);
    drop(store);
    let again = SqliteStore::open(dir.path()).expect("reopened");
    assert_eq!(again.record_count(Some("t")).expect("count"), 12_000);
}

#[test]
fn one_failing_blob_does_not_fail_the_others_of_its_group() {
    let store = SqliteStore::open_in_memory().expect("store");
    store
        .lock()
        .conn
        .execute_batch(
            "CREATE TEMP TRIGGER no_marker BEFORE INSERT ON main.done_blobs WHEN NEW.content_id = 'b-bad' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .expect("trigger");
    let jobs: Vec<_> = [("b-1", "r1"), ("b-bad", "r2"), ("b-3", "r3")]
        .into_iter()
        .map(|(b, r)| {
            Arc::new(
                Job::prepare(
                    "t",
                    ContentType::General,
                    &blob(b),
                    RecordBatch::from_records(&[record(r)]).expect("batch"),
                )
                .expect("job"),
            )
        })
        .collect();
    store.lock().commit_jobs(&jobs);
    let outcomes: Vec<_> = jobs
        .iter()
        .map(|j| j.take_outcome().expect("outcome set"))
        .collect();
    assert!(
        matches!(
            outcomes[0],
            Ok(CommitStats {
                inserted: 1,
                duplicates: 0
            })
        ),
        "{:?}",
        outcomes[0]
    );
    assert!(outcomes[1].is_err());
    assert!(
        matches!(
            outcomes[2],
            Ok(CommitStats {
                inserted: 1,
                duplicates: 0
            })
        ),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(
        sorted(store.record_ids("t", None).expect("ids")),
        ["r1", "r3"]
    );
    let done = store
        .done_blobs("t", ContentType::General, from_ns(i64::MIN))
        .expect("done");
    assert_eq!(done.len(), 2);
    assert!(done.contains("b-1") && done.contains("b-3"));
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_pre_release_data_directory_is_named_as_such() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let conn = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).expect("db");
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1; CREATE TABLE records (id INTEGER PRIMARY KEY, raw BLOB);"
        ))
        .expect("old layout");
    }
    let err = SqliteStore::open(dir.path()).expect_err("refused");
    assert!(
        err.to_string().contains("move it aside and collect again"),
        "{err}"
    );
}

/// `PRAGMA optimize` gathers statistics at every close; with them the planner preferred walking
/// the time index through a user's whole week (newest first, to skip a sort of a few hundred
/// rows): 350 ms instead of 1.4 ms among 2.2 million activities. The statistics below are those
/// it gathered on a 10,000-user week (the lookups' with schema 17).
#[test]
fn a_users_addresses_or_operations_week_seeks_by_hour_with_the_statistics_optimize_gathers() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(dir.path()).expect("store");
    // Written, then loaded into this connection (`ANALYZE sqlite_schema` reads them again), so
    // that the test does not depend on what closing the store gathers.
    store
        .lock()
        .conn
        .execute_batch(
            "ANALYZE; DELETE FROM sqlite_stat1;
             INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
             ('records', 'records_by_time_tenant_key', '2226381 1 1 1'),
             ('record_addresses', 'record_addresses', '2226381 401 3 1'),
             ('record_operations', 'record_operations', '2226381 7400 90 1'),
             ('record_users', 'record_users', '2226381 401 2 1'),
             ('strings', 'strings_by_lower', '392863 1'),
             ('strings', 'sqlite_autoindex_strings_1', '392863 1');
             ANALYZE sqlite_schema;",
        )
        .expect("statistics");
    let week = "time=2024-05-07T00:00:00Z..2024-05-14T00:00:00Z";
    // The packed lists: a user's or address's by day (a block of addresses: a range of values
    // per day), an operation's as a range of hours.
    let lists = "SEARCH p USING INDEX lookup_days_by_start (col=? AND start_hour=? AND value=?)";
    for (filter, index, packed) in [
        (
            "user=alice@contoso.com",
            "SEARCH l USING PRIMARY KEY (hour=? AND user_id=?)",
            lists,
        ),
        (
            "ip=203.0.113.9",
            "SEARCH l USING PRIMARY KEY (hour=? AND client_ip=?)",
            lists,
        ),
        // A block of inline addresses: a range seek per hour, not a walk of each hour.
        (
            "ip=10.0.0.0/8",
            "SEARCH l USING PRIMARY KEY (hour=? AND client_ip>? AND client_ip<?)",
            "SEARCH p USING INDEX lookup_days_by_start (col=? AND start_hour=? AND value>? AND value<?)",
        ),
        (
            "operation=New-InboxRule",
            "SEARCH l USING PRIMARY KEY (operation=? AND hour>? AND hour<?)",
            "SEARCH p USING PRIMARY KEY (col=? AND value=? AND start_hour>? AND start_hour<?)",
        ),
    ] {
        let plan = first_page_plan(&store, None, &[filter, week]);
        // The rows by id; the records not yet looked up by a range of ids; the packed lists'
        // entries through `json_each`; nothing walked but the one row of `looked_up`.
        assert!(
            plan.contains(index)
                && plan.contains(packed)
                && plan.contains("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)")
                && plan.contains("SEARCH t USING INTEGER PRIMARY KEY (rowid>?)")
                && !plan
                    .replace("SCAN looked_up", "")
                    .replace("SCAN j VIRTUAL TABLE", "")
                    .contains("SCAN"),
            "{filter}: {plan}"
        );
    }
    // An operation over a year (past the users' and addresses' hour lists): still one range.
    let year = "time=2023-05-14T00:00:00Z..2024-05-14T00:00:00Z";
    let plan = first_page_plan(&store, None, &["operation=New-InboxRule", year]);
    assert!(
        plan.contains("SEARCH l USING PRIMARY KEY (operation=? AND hour>? AND hour<?)"),
        "{plan}"
    );
    first_pages_walk_the_time_led_key(&store);
}

/// The log's queries and detection's walk of new activities have a connection of their own:
/// they answer while the writer is in the middle of a transaction, and see what was committed.
#[test]
fn reads_answer_while_the_writer_holds_a_transaction() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("store"));
    let records: Vec<AuditRecord> = ["r1", "r2", "r3"].into_iter().map(record).collect();
    store
        .commit_batch(
            "t",
            ContentType::Exchange,
            &blob("a"),
            RecordBatch::from_records(&records).expect("batch"),
        )
        .expect("commit");
    let writer = store.lock();
    writer
        .conn
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM records WHERE record_key = 'r1';")
        .expect("a write under way");
    let (tx, rx) = std::sync::mpsc::channel();
    let reading = Arc::clone(&store);
    std::thread::spawn(move || {
        let q = crate::ActivityQuery {
            tenant: None,
            filter: skylight_model::filter::Filter::default(),
            limit: 10,
            after: None,
        };
        let found = (
            reading.activities(&q).map(|p| p.rows.len()),
            reading.activities_since(0, 10).map(|a| a.len()),
            reading
                .activity_histogram(&q, 3_600_000)
                .map(|h| h.iter().map(|(_, n)| n).sum::<u64>()),
            reading
                .activity_top(&q, skylight_model::filter::Field::User, 5)
                .map(|t| t.iter().map(|(_, n)| n).sum::<u64>()),
            reading.activity(None, "r1").map(|a| a.is_some()),
        );
        let _ = tx.send(format!("{found:?}"));
    });
    // Not a timing: a read that needed the writer's connection would never come back.
    let found = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the reads came back while the writer held its transaction");
    assert_eq!(found, "(Ok(3), Ok(3), Ok(3), Ok(3), Ok(true))");
    writer.conn.execute_batch("ROLLBACK").expect("rollback");
}
