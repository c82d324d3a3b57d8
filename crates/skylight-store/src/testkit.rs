//! The conformance kit (feature `testkit`, for tests only): every check runs against each
//! backend, each time on a fresh store.
//!
//! PostgreSQL comes from the throwaway cluster `scripts/test` starts (`scripts/pg-cluster`),
//! named by `SKYLIGHT_TEST_DATABASE_URL`; each check gets a database of its own, dropped after.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{PostgresStore, SqliteStore, Store};

/// The variable naming the PostgreSQL cluster the tests use.
pub const DATABASE_URL_VAR: &str = "SKYLIGHT_TEST_DATABASE_URL";

/// A fresh database on the test cluster, dropped with this value.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The database's URL.
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database.
    pub fn create() -> TestDatabase {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin_url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{DATABASE_URL_VAR} is not set: run ./scripts/test, which starts a throwaway PostgreSQL, \
                 or start one with `scripts/pg-cluster start DIR` and export the URL it prints"
            )
        });
        let name = format!(
            "skylight_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = PostgresStore::create_database(&admin_url, &name)
            .unwrap_or_else(|e| panic!("cannot create a test database on {admin_url}: {e}"));
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    /// A store on this database.
    pub fn open(&self) -> PostgresStore {
        PostgresStore::open(&self.url).expect("open the PostgreSQL store")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = PostgresStore::drop_database(&self.admin_url, &self.name);
    }
}

/// Runs `check` on a fresh store of every backend: SQLite in memory, SQLite on disk, PostgreSQL.
/// A failure names the backend.
pub fn on_every_backend(check: impl Fn(&dyn Store)) {
    let run = |name: &str, store: &dyn Store| {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(store)));
        if let Err(panic) = outcome {
            eprintln!("the check failed on the {name} backend");
            std::panic::resume_unwind(panic);
        }
    };
    run(
        "SQLite (in memory)",
        &SqliteStore::open_in_memory().expect("in-memory store"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    run(
        "SQLite (on disk)",
        &SqliteStore::open(dir.path()).expect("store on disk"),
    );
    let db = TestDatabase::create();
    run("PostgreSQL", &db.open());
}
