//! `skylight status`: each connector's state, counts, lag and last error with what to do about
//! it, and what the status means when it is read (a collector that stopped, content about to be
//! deleted by Microsoft before it is collected); with `--ledger`, what collection did with each
//! day's content.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use skylight_m365::health::{
    LEDGER_DAYS, STALLED, Warning, day_complete, day_is_today, ledger_since, warnings,
};
use skylight_model::{ConnectorStatus, LedgerDay};
use skylight_store::{ConnectorPhase, Store, StoreError};

use crate::collect_cmd::{Format, StoreArgs};
use crate::out::outln;

/// Options of `skylight status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Show the collection ledger instead: per tenant, content type and UTC day of publication,
    /// the blobs collected, the records they held, the blobs lost (gaps), and whether the day is
    /// complete (collection has listed past its end, so every blob published that day was
    /// collected or recorded as a gap).
    #[arg(long)]
    ledger: bool,
    /// With `--ledger`: how many UTC days, today included (at most 8: the store remembers each
    /// blob as long as Microsoft could list it again).
    #[arg(long, default_value_t = LEDGER_DAYS, value_parser = clap::value_parser!(u32).range(1..=LEDGER_DAYS as i64))]
    days: u32,
}

/// Shows each connector's state, lag, counts and last error with its remediation, and what the
/// status means now; or, with `--ledger`, the collection ledger.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    if args.ledger {
        return ledger(store, args.days, args.format).await;
    }
    let (statuses, (evaluated, stored), open, directory, leases, lease_now, paused) =
        tokio::task::spawn_blocking(move || {
            let open = store
                .alerts(&skylight_store::AlertQuery {
                    statuses: vec![skylight_model::AlertStatus::Open],
                    ..Default::default()
                })?
                .len();
            Ok::<_, skylight_store::StoreError>((
                store.statuses()?,
                store.detection_progress()?,
                open,
                store.directory_statuses()?,
                store.leases()?,
                store.lease_time()?,
                paused_tenants(store.as_ref())?,
            ))
        })
        .await
        .context("status task failed")??;
    if statuses.is_empty() {
        outln!("no connector has run yet: configure a tenant and run `skylight collect`");
        return Ok(());
    }
    let warnings: Vec<Vec<Warning>> = statuses
        .iter()
        .map(|s| judged(s, lease_now, &paused))
        .collect();
    match args.format {
        Format::Json => {
            for (s, w) in statuses.iter().zip(&warnings) {
                let mut line = serde_json::to_value(s).context("cannot encode a status")?;
                if let Some(fields) = line.as_object_mut() {
                    fields.insert(
                        "warnings".into(),
                        serde_json::to_value(w).context("cannot encode a status")?,
                    );
                }
                outln!("{line}");
            }
            for d in &directory {
                outln!(
                    "{}",
                    serde_json::to_string(d).context("cannot encode a status")?
                );
            }
        }
        Format::Table => {
            outln!(
                "{:<16} {:<28} {:<12} {:>10} {:>7} {:>5}  {:<20}  error / what to do",
                "tenant",
                "content type",
                "state",
                "records",
                "blobs",
                "gaps",
                "lag at update"
            );
            for (s, w) in statuses.iter().zip(&warnings) {
                let lag = s
                    .watermark
                    .map_or("-".to_string(), |w| human((s.updated_at - w).num_seconds()));
                // A status nobody writes any more says what was true when it was written.
                let state = if w.iter().any(|w| w.kind == STALLED) {
                    "stalled".to_owned()
                } else {
                    serde_json::to_value(s.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                };
                outln!(
                    "{:<16} {:<28} {:<12} {:>10} {:>7} {:>5}  {:<20}  {}",
                    s.tenant,
                    s.content_type.as_str(),
                    state,
                    s.records,
                    s.blobs,
                    s.gaps,
                    lag,
                    s.last_error.as_deref().unwrap_or("")
                );
                if let Some(r) = &s.remediation {
                    outln!("{:>16} → {r}", "");
                }
                for w in w {
                    outln!("{:>16} ! {}", "", w.message);
                }
            }
            // The directory sync from Microsoft Graph: when it last worked, and what to do if not.
            for d in &directory {
                match &d.error {
                    None => outln!(
                        "directory {}: synced {} ({} users, {} groups changed; {} apps{})",
                        d.tenant,
                        d.last_attempt.format("%Y-%m-%d %H:%M UTC"),
                        d.users_changed,
                        d.groups_changed,
                        d.apps,
                        d.files_changed
                            .map(|f| format!("; {f} files changed"))
                            .unwrap_or_default()
                    ),
                    Some(e) => outln!(
                        "directory {}: the sync at {} failed (last success: {}): {e}",
                        d.tenant,
                        d.last_attempt.format("%Y-%m-%d %H:%M UTC"),
                        d.last_success.map_or("never".into(), |t| t
                            .format("%Y-%m-%d %H:%M UTC")
                            .to_string())
                    ),
                }
                for w in &d.warnings {
                    outln!("{:>16} → {w}", "");
                }
            }
            // With several processes on one store: which one does what, and whether a holder
            // has stopped renewing (its work moves to another once the lease has run out).
            // Lease times are the store's (the database server's clock, for PostgreSQL).
            let now = lease_now;
            let (processes, leases): (Vec<_>, Vec<_>) =
                leases.iter().partition(|l| l.name.starts_with("process:"));
            let live = processes.iter().filter(|l| l.until > now).count();
            if live > 0 {
                outln!("collector processes sharing this store: {live}");
            }
            for l in &leases {
                if l.until > now {
                    outln!(
                        "work {}: done by {} (lease renewed until {})",
                        l.name,
                        l.holder,
                        l.until.format("%H:%M:%S UTC")
                    );
                } else {
                    outln!(
                        "work {}: not renewed since {} by {}, so no process is doing it: start one with its role",
                        l.name,
                        l.until.format("%Y-%m-%d %H:%M:%S UTC"),
                        l.holder
                    );
                }
            }
            // Detection runs beside the collectors: how far behind the stored records it is.
            let behind = (stored - evaluated).max(0);
            if behind == 0 {
                outln!(
                    "detection: caught up with every stored record; {open} open alerts (`skylight alerts`)"
                );
            } else {
                outln!(
                    "detection: {behind} stored records not evaluated yet (it runs with `skylight collect`); {open} open alerts"
                );
            }
        }
    }
    Ok(())
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// Tenants whose connector an administrator paused (or has not finished connecting): no
/// collector is meant to run for them.
fn paused_tenants(store: &dyn Store) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .connectors()?
        .into_iter()
        .filter(|c| c.phase != ConnectorPhase::Active)
        .map(|c| c.name)
        .collect())
}

/// `status`'s warnings at `now`; a paused connector is not stalled, only its content can expire.
fn judged(status: &ConnectorStatus, now: DateTime<Utc>, paused: &HashSet<String>) -> Vec<Warning> {
    let mut found = warnings(status, now);
    if paused.contains(&status.tenant) {
        found.retain(|w| w.kind != STALLED);
    }
    found
}

/// Prints the collection ledger of the last `days` UTC days.
async fn ledger(store: Arc<dyn Store>, days: u32, format: Format) -> anyhow::Result<()> {
    let (rows, statuses, now) = tokio::task::spawn_blocking(move || {
        let now = store.lease_time()?;
        let statuses = store.statuses()?;
        let since = ledger_since(&statuses, now, days);
        Ok::<_, StoreError>((store.ledger(since)?, statuses, now))
    })
    .await
    .context("ledger task failed")??;
    let complete = |d: &LedgerDay| day_complete(d, &statuses);
    let today = |d: &LedgerDay| day_is_today(d, &statuses, now);
    if rows.is_empty() {
        outln!(
            "no blob collected or lost in the last {days} days (the ledger counts what `skylight collect` fetched; imports are not in it)"
        );
        return Ok(());
    }
    match format {
        Format::Json => {
            for d in &rows {
                let mut line = serde_json::to_value(d).context("cannot encode the ledger")?;
                if let Some(fields) = line.as_object_mut() {
                    fields.insert("complete".into(), complete(d).into());
                }
                outln!("{line}");
            }
        }
        Format::Table => {
            outln!(
                "{:<16} {:<28} {:<10} {:>7} {:>10} {:>5}  day",
                "tenant",
                "content type",
                "published",
                "blobs",
                "records",
                "gaps"
            );
            for d in &rows {
                let day = if complete(d) {
                    "complete"
                } else if today(d) {
                    "today, in progress"
                } else {
                    "in progress"
                };
                outln!(
                    "{:<16} {:<28} {:<10} {:>7} {:>10} {:>5}  {day}",
                    d.tenant,
                    d.content_type.as_str(),
                    d.day.format("%Y-%m-%d"),
                    d.blobs,
                    d.records,
                    d.gaps
                );
            }
            outln!(
                "(days are UTC days of publication; a first backfill reaches 7 days back, so the oldest day it covers holds only what was published after its start)"
            );
            let lost: u64 = rows.iter().map(|d| d.gaps).sum();
            if lost > 0 {
                outln!(
                    "{lost} blobs listed were lost before they were collected: `skylight status` shows their connectors' errors, and the gaps are kept for good"
                );
            }
        }
    }
    Ok(())
}
