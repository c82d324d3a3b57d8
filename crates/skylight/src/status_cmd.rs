//! `skylight status`: each connector's state, counts, lag and last error with what to do about
//! it, and what the status means when it is read (a collector that stopped, content about to be
//! deleted by Microsoft before it is collected); with `--ledger`, what collection did with each
//! day's content.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use skylight_m365::health::{self, DEFAULT_OVERLAP_HOURS, Expected, LEDGER_DAYS};
use skylight_store::Store;

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
    /// complete (collection has listed the re-listing overlap, 6 hours by default, past its end,
    /// for content published late, so
    /// every blob published that day was collected or recorded as a gap); then what was lost.
    #[arg(long)]
    ledger: bool,
    /// For monitoring scripts: exit with status 1 when a connector needs attention (a warning, or
    /// an error of one meant to be collecting), after printing as usual.
    #[arg(long, conflicts_with = "ledger")]
    check: bool,
    /// With `--ledger`: how many UTC days, today included (at most 8: the store remembers each
    /// blob as long as Microsoft could list it again).
    #[arg(
        long,
        requires = "ledger",
        default_value_t = LEDGER_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(LEDGER_DAYS)),
    )]
    days: u32,
}

/// Shows each connector's state, lag, counts and last error with its remediation, and what the
/// status means now; or, with `--ledger`, the collection ledger.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    if args.ledger {
        return ledger(store, args.days, args.format).await;
    }
    // Judged on this machine's clock, which collectors measure their service's against (lease
    // times are the store's: the database server's, for PostgreSQL).
    let now = Utc::now();
    let (judged, (evaluated, stored), open, directory, leases, lease_now) =
        tokio::task::spawn_blocking(move || {
            let open = store
                .alerts(&skylight_store::AlertQuery {
                    statuses: vec![skylight_model::AlertStatus::Open],
                    ..Default::default()
                })?
                .len();
            Ok::<_, skylight_store::StoreError>((
                // The configuration file is not known here: see `health::expected`.
                health::judge_all(store.as_ref(), now, &[])?,
                store.detection_progress()?,
                open,
                store.directory_statuses()?,
                store.leases()?,
                store.lease_time()?,
            ))
        })
        .await
        .context("status task failed")??;
    if judged.is_empty() {
        outln!("no connector has run yet: configure a tenant and run `skylight collect`");
        return Ok(());
    }
    match args.format {
        Format::Json => {
            for j in &judged {
                outln!(
                    "{}",
                    serde_json::to_string(j).context("cannot encode a status")?
                );
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
            for j in &judged {
                let s = &j.status;
                let lag = s
                    .watermark
                    .map_or("-".to_string(), |w| human((s.updated_at - w).num_seconds()));
                // A status nobody writes any more says what was true when it was written.
                let state = match j.expected {
                    _ if j.stalled() => "stalled".to_owned(),
                    Expected::Paused => "paused".to_owned(),
                    Expected::Nothing => "not collected".to_owned(),
                    Expected::Collecting => serde_json::to_value(s.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
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
                for w in &j.warnings {
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
    let attention = judged.iter().filter(|j| j.needs_attention()).count();
    if args.check && attention > 0 {
        // Printed first, then the status monitoring scripts read.
        let what = if attention == 1 {
            "content type needs"
        } else {
            "content types need"
        };
        eprintln!("{attention} {what} attention (see above)");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        std::process::exit(1);
    }
    Ok(())
}

/// A lag in the largest unit that keeps it readable.
fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// Prints the collection ledger of the last `days` UTC days, then what was lost in them.
async fn ledger(store: Arc<dyn Store>, days: u32, format: Format) -> anyhow::Result<()> {
    let now = Utc::now();
    let (rows, lost) =
        tokio::task::spawn_blocking(move || health::ledger(store.as_ref(), now, days, None))
            .await
            .context("ledger task failed")??;
    match format {
        Format::Json => {
            for d in &rows {
                outln!(
                    "{}",
                    serde_json::to_string(d).context("cannot encode the ledger")?
                );
            }
            for g in &lost {
                outln!("{}", serde_json::json!({ "lost": g }));
            }
        }
        Format::Table if rows.is_empty() && lost.is_empty() => {
            outln!(
                "no blob collected or lost in the last {days} days (the ledger counts what `skylight collect` fetched; imports are not in it)"
            );
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
            for j in &rows {
                let d = &j.day;
                let day = if j.complete {
                    "complete"
                } else if j.today {
                    "today, incomplete"
                } else {
                    "incomplete"
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
                "(UTC days of publication; a day is complete once collection has listed {DEFAULT_OVERLAP_HOURS} hours past its end, the default re-listing overlap; a first backfill reaches 7 days back, so the oldest day it covers holds only what was published after its start)"
            );
            for g in &lost {
                outln!(
                    "lost: {} {}: {}",
                    g.tenant,
                    g.content_type.as_str(),
                    health::lost_text(g)
                );
            }
        }
    }
    Ok(())
}
