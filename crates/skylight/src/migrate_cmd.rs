//! `skylight migrate --from sqlite://DIR --to postgres://…`: copies a SQLite deployment into an
//! empty PostgreSQL database, then checks the copy with counts and digests.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use skylight_store::migrate::{Check, copy_sqlite_to_postgres, table_counts, verify};
use skylight_store::{PostgresStore, SqliteStore};

use crate::collect_cmd::DatabaseUrl;
use crate::out::outln;

/// Options of `skylight migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite deployment to copy: `sqlite://DIR`, DIR being its data directory (the one
    /// holding skylight.db). Stop the Skylight processes using it first: what they write during
    /// the copy would not be copied.
    #[arg(long, value_name = "sqlite://DIR")]
    from: SqliteDir,
    /// The PostgreSQL database to copy into, which must be empty (its schema is created):
    /// `postgres://user:password@host:port/database`. Prefer the environment variable: a
    /// password on the command line shows in the process list.
    #[arg(
        long,
        value_name = "postgres://…",
        env = "SKYLIGHT_DATABASE_URL",
        hide_env_values = true
    )]
    to: DatabaseUrl,
}

/// A SQLite data directory named as `sqlite://DIR`.
#[derive(Debug, Clone)]
struct SqliteDir(PathBuf);

impl std::str::FromStr for SqliteDir {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sqlite://") {
            Some(dir) if !dir.is_empty() => Ok(SqliteDir(PathBuf::from(dir))),
            _ => Err("expected the SQLite data directory as sqlite://DIR".into()),
        }
    }
}

/// Runs `skylight migrate`.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    // The PostgreSQL client blocks on a runtime of its own: run where no runtime is current.
    tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || run(&args))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
    .await?
}

/// The copy, the checks and the summary.
fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    let dir = &args.from.0;
    if !dir.join(SqliteStore::FILE_NAME).is_file() {
        bail!(
            "{} holds no Skylight store ({} is missing)",
            dir.display(),
            SqliteStore::FILE_NAME
        );
    }
    let from = SqliteStore::open(dir)
        .with_context(|| format!("cannot open the SQLite store in {}", dir.display()))?;
    let to = PostgresStore::open(args.to.checked()?).context(
        "cannot open the PostgreSQL database named by --to / SKYLIGHT_DATABASE_URL; check that \
         the server is up and the user may create tables in that database",
    )?;
    eprintln!("copying {} into PostgreSQL {}", dir.display(), to.address());
    let total: u64 = table_counts(&from, &to)?.iter().map(|(_, n, _)| n).sum();
    let bar = progress_bar(total);
    let (mut table, mut base, mut last) = (String::new(), 0u64, 0u64);
    let report = copy_sqlite_to_postgres(&from, &to, &mut |name, n| {
        if name != table {
            base += last;
            table = name.to_owned();
        }
        last = n;
        if let Some(bar) = &bar {
            bar.set_message(table.clone());
            bar.set_position(base + n);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report.context("the copy failed")?;
    let records = report.rows("records");
    eprintln!(
        "copied {} rows ({records} records) in {:.1} s ({:.0} records/s); verifying…",
        report.tables.iter().map(|(_, n)| n).sum::<u64>(),
        report.seconds,
        records as f64 / report.seconds.max(0.001)
    );
    let checks = verify(&from, &to).context("the verification could not run")?;
    print_summary(&checks);
    outln!(
        "detection progress: {} in SQLite, {} in PostgreSQL (sequence numbers are kept)",
        report.detection_progress.0,
        report.detection_progress.1
    );
    let bad: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok())
        .map(|c| c.what.as_str())
        .collect();
    if !bad.is_empty() {
        bail!(
            "the copy in {} differs from the SQLite store: {}",
            to.address(),
            bad.join(", ")
        );
    }
    outln!(
        "migrated to {}: every count and digest matches; point Skylight at it with --database-url (and give every process the connector key, connector-secrets.key of the data directory, with --secret-key-file)",
        to.address()
    );
    Ok(())
}

/// A bar over every row to copy, on a terminal only.
fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{msg:<22} [{bar:30}] {pos}/{len} rows  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    Some(bar)
}

/// The table of checks: what, SQLite's figure, PostgreSQL's, and whether they match.
fn print_summary(checks: &[Check]) {
    outln!(
        "{:<36} {:>28} {:>28}  {}",
        "CHECK",
        "SQLITE",
        "POSTGRESQL",
        "RESULT"
    );
    for c in checks {
        outln!(
            "{:<36} {:>28} {:>28}  {}",
            c.what,
            c.source.to_string(),
            c.target.to_string(),
            if c.ok() { "ok" } else { "MISMATCH" }
        );
    }
}
