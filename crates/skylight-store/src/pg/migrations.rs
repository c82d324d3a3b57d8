//! Schema migrations: an append-only list of SQL scripts; `skylight_schema` holds one row per
//! script applied. Each script runs in its own transaction together with its row, under a
//! session advisory lock, so a crash leaves the database at one version or the next and two
//! processes starting together migrate once.
//!
//! Never edit a script that has shipped: add the next one.

use postgres::Client;

use crate::StoreError;

/// One schema change.
pub(super) struct Migration {
    /// Short name, recorded with the version.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration, oldest first; migration `i` (from 0) brings the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_collection",
        sql: include_str!("migrations/0001_collection.sql"),
    },
    Migration {
        name: "0002_detection",
        sql: include_str!("migrations/0002_detection.sql"),
    },
    Migration {
        name: "0003_directory",
        sql: include_str!("migrations/0003_directory.sql"),
    },
    Migration {
        name: "0004_access",
        sql: include_str!("migrations/0004_access.sql"),
    },
    Migration {
        name: "0005_leases",
        sql: include_str!("migrations/0005_leases.sql"),
    },
    Migration {
        name: "0006_connectors",
        sql: include_str!("migrations/0006_connectors.sql"),
    },
    Migration {
        name: "0007_settings",
        sql: include_str!("migrations/0007_settings.sql"),
    },
    Migration {
        name: "0008_status_clock",
        sql: include_str!("migrations/0008_status_clock.sql"),
    },
];

/// The advisory lock key migrations hold (`skylight` in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x736b_796c_6967_6874;

const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS skylight_schema (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// The schema version of the database (0 before the first migration).
pub(super) fn version(c: &mut Client) -> Result<i64, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('skylight_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = c
        .query_one("SELECT max(version) FROM skylight_schema", &[])?
        .get(0);
    Ok(i64::from(v.unwrap_or(0)))
}

/// Brings the database to the newest version, refusing one a newer Skylight wrote.
pub(super) fn migrate(c: &mut Client, migrations: &[Migration]) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let outcome = apply(c, migrations);
    // Unlocked whatever happened: the session may go back to the pool.
    let unlocked = c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    outcome?;
    unlocked?;
    Ok(())
}

fn apply(c: &mut Client, migrations: &[Migration]) -> Result<(), StoreError> {
    c.batch_execute(CREATE_VERSIONS)?;
    let found = version(c)?;
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, m) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let mut tx = c.transaction()?;
        tx.batch_execute(m.sql)
            .map_err(|e| StoreError::Corrupt(format!("schema migration {} failed: {e}", m.name)))?;
        let v = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO skylight_schema (version, name) VALUES ($1, $2)",
            &[&v, &m.name],
        )?;
        tx.commit()?;
    }
    Ok(())
}
