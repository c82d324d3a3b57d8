//! Schema migrations: an append-only list of SQL scripts; the database's `PRAGMA user_version` is
//! the number of scripts applied. Each script runs in its own transaction together with the
//! version bump, so a crash leaves the database at one version or the next, never in between.
//!
//! Never edit a script that has shipped: add the next one.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// One schema change.
pub(super) struct Migration {
    /// Short name, for error messages.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration, oldest first; migration `i` (from 0) brings the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        name: "0002_activity_columns",
        sql: include_str!("migrations/0002_activity_columns.sql"),
    },
    Migration {
        name: "0003_enrichment",
        sql: include_str!("migrations/0003_enrichment.sql"),
    },
    Migration {
        name: "0004_time_index",
        sql: include_str!("migrations/0004_time_index.sql"),
    },
    Migration {
        name: "0005_detection",
        sql: include_str!("migrations/0005_detection.sql"),
    },
    Migration {
        name: "0006_notifications",
        sql: include_str!("migrations/0006_notifications.sql"),
    },
    Migration {
        name: "0007_policies",
        sql: include_str!("migrations/0007_policies.sql"),
    },
    Migration {
        name: "0008_directory",
        sql: include_str!("migrations/0008_directory.sql"),
    },
    Migration {
        name: "0009_files",
        sql: include_str!("migrations/0009_files.sql"),
    },
    Migration {
        name: "0010_access",
        sql: include_str!("migrations/0010_access.sql"),
    },
    Migration {
        name: "0011_directory_status",
        sql: include_str!("migrations/0011_directory_status.sql"),
    },
    Migration {
        name: "0012_leases",
        sql: include_str!("migrations/0012_leases.sql"),
    },
    Migration {
        name: "0013_connectors",
        sql: include_str!("migrations/0013_connectors.sql"),
    },
    Migration {
        name: "0014_settings",
        sql: include_str!("migrations/0014_settings.sql"),
    },
    Migration {
        name: "0015_fewer_indexes",
        sql: include_str!("migrations/0015_fewer_indexes.sql"),
    },
    Migration {
        name: "0016_one_time_index",
        sql: include_str!("migrations/0016_one_time_index.sql"),
    },
    Migration {
        name: "0017_deferred_lookups",
        sql: include_str!("migrations/0017_deferred_lookups.sql"),
    },
    Migration {
        name: "0018_operation_lookup",
        sql: include_str!("migrations/0018_operation_lookup.sql"),
    },
    Migration {
        name: "0019_segments",
        sql: include_str!("migrations/0019_segments.sql"),
    },
    Migration {
        name: "0020_lookup_days",
        sql: include_str!("migrations/0020_lookup_days.sql"),
    },
    Migration {
        name: "0021_status_clock",
        sql: include_str!("migrations/0021_status_clock.sql"),
    },
];

/// `PRAGMA application_id` of a Skylight database ("Skyl").
pub(super) const APPLICATION_ID: i64 = 0x536b_796c;

/// The schema version a list of migrations leads to.
pub(super) fn newest(migrations: &[Migration]) -> i64 {
    i64::try_from(migrations.len()).unwrap_or(i64::MAX)
}

/// The database's schema version.
pub(super) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?)
}

fn application_id(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "application_id", |r| r.get::<_, i64>(0))?)
}

/// Refuses a database that is not ours or is newer than `known`.
fn check(conn: &Connection, found: i64, known: i64) -> Result<(), StoreError> {
    let app = application_id(conn)?;
    if app != APPLICATION_ID && (app != 0 || found != 0) {
        return Err(StoreError::Corrupt(format!(
            "not a skylight database (application_id {app:#x}, user_version {found})"
        )));
    }
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    if found < 0 {
        return Err(StoreError::Corrupt(format!(
            "negative schema version {found}"
        )));
    }
    Ok(())
}

/// Brings the database to the newest version of `migrations`; returns that version.
///
/// A database already up to date is only read (no write lock), so opening the store next to a
/// running collector does not wait for it. Several processes may migrate at once: each step
/// re-reads the version under the write lock.
pub(super) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<i64, StoreError> {
    let known = newest(migrations);
    let found = user_version(conn)?;
    check(conn, found, known)?;
    if found == known {
        return Ok(found);
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_version(&tx)?;
        check(&tx, current, known)?;
        let Some(step) = usize::try_from(current)
            .ok()
            .and_then(|i| migrations.get(i))
        else {
            return Ok(current);
        };
        if current == 0 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        tx.execute_batch(step.sql).map_err(|e| {
            StoreError::Corrupt(format!(
                "schema migration {} (to version {}) failed: {e}",
                step.name,
                current + 1
            ))
        })?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}
