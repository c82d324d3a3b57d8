//! Moving a deployment from SQLite to PostgreSQL (`skylight migrate`): every table copied into an
//! empty PostgreSQL database, then checked with counts and digests.
//!
//! Only this crate knows both schemas, so the copy reads SQLite's tables and writes PostgreSQL's
//! directly (through the trait it would lose ids, times and triage). Ids keep their values:
//! alerts, accounts, governance entries… are referred to by id elsewhere (deliveries, sessions,
//! saved queries, links people keep). Records keep SQLite's `records.id` as their sequence
//! number, which is what detection's progress and activity-log cursors count in; sequences and
//! identities are then moved past the copied ids. Leases are not copied: they belong to the
//! processes of the old deployment. Console-made connectors are copied with their credentials
//! still sealed: the key file goes with the deployment (see [`copy_sqlite_to_postgres`]).

mod tables;
mod verify;

use std::time::Instant;

use postgres::Client;

use crate::{PostgresStore, SqliteStore, StoreError};

pub use verify::{Check, digests, verify};

/// What a copy did.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Rows copied per table, in the order copied.
    pub tables: Vec<(String, u64)>,
    /// Detection's progress (the last sequence number evaluated) in SQLite and in PostgreSQL.
    pub detection_progress: (i64, i64),
    /// How long the copy took, in seconds.
    pub seconds: f64,
}

impl CopyReport {
    /// Rows copied into a table (0 if it was not copied).
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Tables whose identity gives new rows their ids: moved past the copied ids.
const IDENTITIES: &[&str] = &[
    "tenants",
    "raw_chunks",
    "quarantine",
    "alerts",
    "alert_comments",
    "deliveries",
    "governance_log",
    "accounts",
    "api_tokens",
    "audit_log",
    "saved_queries",
];

/// Copies everything `from` holds into `to`, which must hold nothing yet; `progress` hears
/// (table, rows copied so far) as the copy goes.
///
/// Rows go in batches, one transaction each, so memory stays bounded whatever the store's size.
/// A copy that fails part-way leaves a partial target, which a second run refuses: run it again
/// into a fresh database. The source must not change meanwhile (stop the processes using it).
///
/// Console-made connectors' credentials are copied sealed, byte for byte, never opened: they
/// open only with the key that sealed them, which is a file outside the database ([`crate::seal`];
/// by default beside the SQLite store). That key file goes with the deployment: give the
/// PostgreSQL deployment's processes the same file (`SKYLIGHT_SECRET_KEY_FILE`), or every
/// credential has to be entered again.
pub fn copy_sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport, StoreError> {
    let started = Instant::now();
    to.with_client(|pg| {
        refuse_if_not_empty(pg, to.address())?;
        from.with_connection(|lite| {
            // One read transaction: every table comes from the same moment of the source.
            lite.execute_batch("BEGIN")?;
            let out = copy_all(lite, pg, to, progress);
            let _ = lite.execute_batch("COMMIT");
            out
        })
    })
    .map(|mut report| {
        report.seconds = started.elapsed().as_secs_f64();
        report
    })
}

/// The copy proper, inside the source's read transaction.
fn copy_all(
    lite: &rusqlite::Connection,
    pg: &mut Client,
    to: &PostgresStore,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport, StoreError> {
    let mut report = CopyReport::default();
    for table in tables::TABLES {
        let n = tables::copy_table(lite, pg, to, table, progress)?;
        report.tables.push((table.name.to_owned(), n));
    }
    let version: i64 = lite.query_row(
        "SELECT coalesce((SELECT version FROM policy_version WHERE one = 1), 0)",
        [],
        |r| r.get(0),
    )?;
    pg.execute(
        "UPDATE policy_version SET version = $1 WHERE one = 1",
        &[&version],
    )?;
    for table in IDENTITIES {
        // Table names are constants, never user input.
        pg.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) IS NOT NULL"
        ))?;
    }
    // Past every copied record and every progress: a number SQLite handed out before deleting
    // its record must not be handed out again, or detection would skip the new record.
    pg.batch_execute(
        "SELECT setval('records_seq', m) FROM (SELECT greatest((SELECT max(seq) FROM records), \
         (SELECT max(seq) FROM detection_progress)) AS m) s WHERE m IS NOT NULL",
    )?;
    let progress_of = |seq: Option<i64>| seq.unwrap_or(0);
    let lite_progress: Option<i64> =
        lite.query_row("SELECT max(seq) FROM detection_progress", [], |r| r.get(0))?;
    let pg_progress: Option<i64> = pg
        .query_one("SELECT max(seq) FROM detection_progress", &[])?
        .get(0);
    report.detection_progress = (progress_of(lite_progress), progress_of(pg_progress));
    Ok(report)
}

/// Fails unless the target holds nothing a deployment writes (its schema only).
fn refuse_if_not_empty(pg: &mut Client, address: &str) -> Result<(), StoreError> {
    let mut held = Vec::new();
    for table in tables::TABLES.iter().map(|t| t.name).chain(["leases"]) {
        // Table names are constants, never user input.
        let any: bool = pg
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])?
            .get(0);
        if any {
            held.push(table);
        }
    }
    let version: i64 = pg
        .query_one("SELECT coalesce(max(version), 0) FROM policy_version", &[])?
        .get(0);
    if version != 0 {
        held.push("policy_version");
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "the PostgreSQL database {address} is not empty (it holds rows in {}): migrate copies into \
         an empty database only. If an earlier migration stopped part-way, drop and create the \
         database again, then run migrate again",
        held.join(", ")
    )))
}

/// Rows per table on both sides: (table, rows in SQLite, rows in PostgreSQL).
pub fn table_counts(
    from: &SqliteStore,
    to: &PostgresStore,
) -> Result<Vec<(String, u64, u64)>, StoreError> {
    let names: Vec<&str> = tables::TABLES.iter().map(|t| t.name).collect();
    let lite: Vec<u64> = from.with_connection(|c| {
        names
            .iter()
            .map(|t| {
                // Table names are constants, never user input.
                let n: i64 = c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .collect()
    })?;
    let pg: Vec<u64> = to.with_client(|c| {
        names
            .iter()
            .map(|t| {
                let n: i64 = c
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])?
                    .get(0);
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .collect()
    })?;
    Ok(names
        .iter()
        .zip(lite.into_iter().zip(pg))
        .map(|(t, (a, b))| ((*t).to_owned(), a, b))
        .collect())
}

/// The tenants a SQLite store knows (stored records, collection bookkeeping, directory).
pub(crate) fn tenants(from: &SqliteStore) -> Result<Vec<String>, StoreError> {
    from.with_connection(|c| {
        let mut stmt = c.prepare(
            "SELECT name FROM tenants UNION SELECT tenant FROM statuses \
             UNION SELECT DISTINCT tenant FROM done_blobs UNION SELECT tenant FROM directory_status \
             ORDER BY 1",
        )?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    })
}
