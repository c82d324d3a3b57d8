//! What only the PostgreSQL backend has to prove: its schema, its connection handling.

use skylight_store::testkit::TestDatabase;
use skylight_store::{PostgresStore, StoreError};

#[test]
fn a_fresh_database_gets_the_newest_schema_and_reopening_keeps_it() {
    let db = TestDatabase::create();
    let store = db.open();
    assert_eq!(
        store.schema_version().expect("version"),
        PostgresStore::SCHEMA_VERSION
    );
    drop(store);
    let again = db.open();
    assert_eq!(
        again.schema_version().expect("version"),
        PostgresStore::SCHEMA_VERSION
    );
}

#[test]
fn processes_starting_together_migrate_once() {
    let db = TestDatabase::create();
    let versions: Vec<i64> = std::thread::scope(|s| {
        let opens: Vec<_> = (0..6)
            .map(|_| s.spawn(|| db.open().schema_version().expect("version")))
            .collect();
        opens.into_iter().map(|h| h.join().expect("open")).collect()
    });
    assert!(
        versions.iter().all(|&v| v == PostgresStore::SCHEMA_VERSION),
        "{versions:?}"
    );
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    let applied: i64 = c
        .query_one("SELECT count(*) FROM skylight_schema", &[])
        .expect("count")
        .get(0);
    assert_eq!(applied, PostgresStore::SCHEMA_VERSION);
}

#[test]
fn a_database_from_a_newer_skylight_is_refused() {
    let db = TestDatabase::create();
    drop(db.open());
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    c.execute(
        "INSERT INTO skylight_schema (version, name) VALUES (1000, 'from the future')",
        &[],
    )
    .expect("bump");
    match PostgresStore::open(&db.url) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (1000, PostgresStore::SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn a_bad_url_or_an_unreachable_server_is_a_clear_error_without_the_password() {
    let err = PostgresStore::open("mysql://nobody").expect_err("not postgres");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    // A closed port on loopback: refused at once.
    let err = PostgresStore::open("postgres://skylight:hunter2@127.0.0.1:9/skylight")
        .expect_err("nothing listens on port 9");
    let shown = err.to_string();
    assert!(shown.starts_with("postgresql:"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn calls_work_from_inside_an_async_runtime() {
    let db = TestDatabase::create();
    let store = db.open();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // Straight on the runtime's thread (a caller that forgot spawn_blocking) and on its
    // blocking pool: both answer instead of panicking.
    let direct = rt.block_on(async { store.schema_version() });
    assert_eq!(direct.expect("version"), PostgresStore::SCHEMA_VERSION);
    let store = std::sync::Arc::new(store);
    let pooled = rt.block_on({
        let store = std::sync::Arc::clone(&store);
        async move { tokio::task::spawn_blocking(move || store.schema_version()).await }
    });
    assert_eq!(
        pooled.expect("join").expect("version"),
        PostgresStore::SCHEMA_VERSION
    );
    // Dropped on the runtime's thread, with connections still open in its pool.
    let store = std::sync::Arc::into_inner(store).expect("the only reference");
    rt.block_on(async move { drop(store) });
}

/// Leases are measured by the server's clock: a process on a host whose clock is an hour
/// behind (or ahead) neither takes a live lease over nor holds one past its time.
#[test]
fn leases_follow_the_servers_clock_not_the_hosts() {
    use chrono::{Duration, Utc};
    use skylight_store::Store;
    let db = TestDatabase::create();
    let store = db.open();
    let server = store.lease_time().expect("server time");
    assert!(
        (server - Utc::now()).num_seconds().abs() < 5,
        "same machine here"
    );
    // A host an hour behind takes a 60-second lease: it lasts 60 s of the server's time, not
    // "until an hour ago".
    let behind = Utc::now() - Duration::hours(1);
    assert!(
        store
            .acquire_lease(
                "collect:t:x",
                "slow-host",
                behind,
                behind + Duration::seconds(60)
            )
            .expect("take")
    );
    let lease = store.leases().expect("leases").remove(0);
    assert!(lease.until > server + Duration::seconds(50), "{lease:?}");
    let now = Utc::now();
    assert!(
        !store
            .acquire_lease("collect:t:x", "other", now, now + Duration::seconds(60))
            .expect("try"),
        "the live lease stays with its holder"
    );
    // A host an hour ahead cannot declare it expired either.
    let ahead = Utc::now() + Duration::hours(1);
    assert!(
        !store
            .acquire_lease(
                "collect:t:x",
                "fast-host",
                ahead,
                ahead + Duration::seconds(60)
            )
            .expect("try")
    );
    // A lease that ran out by the server's clock is taken over.
    assert!(
        store
            .acquire_lease("sync:t", "a", now, now + Duration::milliseconds(1))
            .expect("take")
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        store
            .acquire_lease("sync:t", "b", behind, behind + Duration::seconds(60))
            .expect("take over")
    );
}
