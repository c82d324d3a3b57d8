//! Settings made in the console, put to work by the collecting processes: the named IP ranges
//! go into the enricher (activities stored from then on carry them), and data retention deletes
//! activities older than the days set, at once when the setting changes and every hour after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use skylight_enrich::{Enricher, IpRangeConfig};
use skylight_store::Store;
use skylight_store::settings::{self, Retention, RetentionRun};

/// How often the settings are read again (as the connectors are).
const REFRESH: Duration = crate::tenants::REFRESH;

/// How often retention runs when its setting does not change.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Puts the console's IP ranges into `enricher` if they changed since version `seen`; returns the
/// version now in use. A value that cannot be used is logged and the ranges in use stay.
pub async fn apply_ip_ranges(enricher: &Enricher, store: &Arc<dyn Store>, seen: i64) -> i64 {
    let setting = match crate::directory_cmd::on_store(store, |s| s.setting(settings::IP_RANGES))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "cannot read the console's IP ranges; those in use stay");
            return seen;
        }
    };
    let Some(setting) = setting.filter(|s| s.version != seen) else {
        return seen;
    };
    let applied = serde_json::from_str::<Vec<IpRangeConfig>>(&setting.value)
        .map_err(|e| e.to_string())
        .and_then(|ranges| {
            enricher
                .set_console_ranges(&ranges)
                .map(|()| ranges.len())
                .map_err(|e| e.to_string())
        });
    match applied {
        Ok(n) => tracing::info!(
            ranges = n,
            version = setting.version,
            "IP ranges from the console in use for new activities"
        ),
        Err(why) => tracing::warn!(
            version = setting.version,
            "the console's IP ranges cannot be used ({why}); those in use stay"
        ),
    }
    setting.version
}

/// Keeps `enricher` on the console's IP ranges as they change, until the process stops.
pub fn follow_ip_ranges(enricher: Arc<Enricher>, store: Arc<dyn Store>, mut seen: i64) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH).await;
            seen = apply_ip_ranges(&enricher, &store, seen).await;
        }
    });
}

/// Runs retention as set in the console: when the setting changes, and every hour. Every
/// collecting process runs it (deleting is idempotent).
pub fn keep_retention(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut seen = None;
        let mut last_run: Option<Instant> = None;
        loop {
            let setting =
                crate::directory_cmd::on_store(&store, |s| s.setting(settings::RETENTION)).await;
            match setting {
                Ok(setting) => {
                    let version = setting.as_ref().map(|s| s.version);
                    let due = seen != Some(version)
                        || last_run.is_none_or(|t| t.elapsed() >= RETENTION_EVERY);
                    let days = setting
                        .and_then(|s| serde_json::from_str::<Retention>(&s.value).ok())
                        .map_or(0, |r| r.days);
                    if due && days > 0 {
                        run_retention(&store, days).await;
                    }
                    if due {
                        last_run = Some(Instant::now());
                    }
                    seen = Some(version);
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the retention setting");
                }
            }
            tokio::time::sleep(REFRESH).await;
        }
    });
}

/// Deletes the activities older than `days` and records how it went.
async fn run_retention(store: &Arc<dyn Store>, days: u32) {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let outcome =
        crate::directory_cmd::on_store(store, move |s| s.delete_activities_before(cutoff)).await;
    let run = RetentionRun {
        at: chrono::Utc::now(),
        cutoff,
        deleted: *outcome.as_ref().unwrap_or(&0),
        error: outcome.as_ref().err().map(|e| format!("{e:#}")),
    };
    match &run.error {
        None => {
            tracing::info!(days, deleted = run.deleted, %cutoff, "retention: older activities deleted")
        }
        Some(e) => {
            tracing::error!(days, error = %e, "retention failed; it runs again within the hour")
        }
    }
    let Ok(value) = serde_json::to_string(&run) else {
        return;
    };
    // Recorded for the console; a process that loses the race to write it has nothing to add.
    let recorded = crate::directory_cmd::on_store(store, move |s| {
        let version = s.setting(settings::RETENTION_RUN)?.map_or(0, |r| r.version);
        s.put_setting(
            settings::RETENTION_RUN,
            &value,
            version,
            "skylight (retention)",
        )
    })
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %format!("{e:#}"), "cannot record the retention round");
    }
}
