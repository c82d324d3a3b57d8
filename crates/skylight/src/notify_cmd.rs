//! Notifications in the binary: the notifier started beside the collector, and
//! `skylight notifications` (the delivery log).

use crate::out::outln;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skylight_model::DeliveryStatus;
use skylight_notify::{Notifier, NotifierHandle, NotifierOptions, NotifyConfig};
use skylight_store::{DeliveryQuery, Store};

use crate::collect_cmd::{Format, StoreArgs};

/// Starts the notifier when the configuration's `[notifications]` names channels; secrets are
/// read now, so a mistake stops the command before collection starts.
pub fn start(
    table: &toml::Table,
    base_dir: &Path,
    store: Arc<dyn Store>,
) -> anyhow::Result<Option<NotifierHandle>> {
    let config = NotifyConfig::from_deserializer(toml::Value::Table(table.clone()))?;
    let notifications = config.resolve(base_dir, &|k| std::env::var(k).ok())?;
    if notifications.channels.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = notifications
        .channels
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    tracing::info!(channels = %names.join(", "), "notifications on");
    let options = NotifierOptions::from_config(&notifications);
    let notifier = Notifier::new(store, notifications.channels, options)?;
    Ok(Some(notifier.spawn()))
}

/// Options of `skylight notifications`.
#[derive(Debug, Args)]
pub struct NotificationsArgs {
    /// Only deliveries in this status: pending, delivered, failed.
    #[arg(long)]
    status: Option<String>,
    /// Only deliveries to this channel.
    #[arg(long)]
    channel: Option<String>,
    /// Only deliveries of this alert.
    #[arg(long)]
    alert: Option<i64>,
    /// At most this many, newest first (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints the delivery log, newest first.
pub async fn notifications(args: NotificationsArgs) -> anyhow::Result<()> {
    let status = args
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).with_context(|| {
                format!(
                    "unknown status `{s}`; statuses: {}",
                    DeliveryStatus::ALL.map(DeliveryStatus::as_str).join(", ")
                )
            })
        })
        .transpose()?;
    let query = DeliveryQuery {
        status,
        channel: args.channel.clone(),
        alert_id: args.alert,
        limit: args.limit,
    };
    let store = args.store.open()?;
    let log = tokio::task::spawn_blocking(move || store.deliveries(&query))
        .await
        .context("notifications task failed")??;
    match args.format {
        Format::Json => {
            for d in &log {
                outln!("{}", serde_json::to_string(d)?);
            }
        }
        Format::Table => {
            if log.is_empty() {
                outln!(
                    "no deliveries match (channels are configured under [notifications]; `skylight collect` sends alerts to them)"
                );
                return Ok(());
            }
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                })
            };
            outln!(
                "{:>6} {:>6}  {:<19}  {:<16} {:<9} {:>8}  {:<27}  last error",
                "id",
                "alert",
                "change",
                "channel",
                "status",
                "attempts",
                "next / delivered"
            );
            for d in &log {
                let when = match d.status {
                    DeliveryStatus::Pending => format!("next {}", time(d.next_attempt)),
                    DeliveryStatus::Delivered => time(d.delivered),
                    DeliveryStatus::Failed => format!("gave up {}", time(d.last_attempt)),
                };
                // A delivered row keeps the error of an earlier failed attempt.
                let error = match (&d.last_error, d.status) {
                    (None, _) => String::new(),
                    (Some(e), DeliveryStatus::Delivered) => {
                        format!("earlier: {}", crate::activities_cmd::printable(e))
                    }
                    (Some(e), _) => crate::activities_cmd::printable(e),
                };
                outln!(
                    "{:>6} {:>6}  {:<19}  {:<16} {:<9} {:>8}  {:<27}  {}",
                    d.id,
                    d.alert_id,
                    time(Some(d.change)),
                    crate::activities_cmd::printable(&d.channel),
                    d.status.as_str(),
                    d.attempts,
                    when,
                    error
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn store() -> Arc<dyn Store> {
        Arc::new(skylight_store::SqliteStore::open_in_memory().unwrap())
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn without_channels_there_is_no_notifier() {
        let here = Path::new(".");
        assert!(start(&toml::Table::new(), here, store()).unwrap().is_none());
        assert!(
            start(&table("max_attempts = 3"), here, store())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let t =
            table("[[webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nsecret_evn = \"X\"\n");
        let e = format!("{:#}", start(&t, Path::new("."), store()).unwrap_err());
        assert!(
            e.contains("[notifications]") && e.contains("secret_evn"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn channels_start_a_notifier_that_stops_when_asked() {
        let t = table("[[syslog]]\nname = \"siem\"\naddress = \"127.0.0.1:9\"\n");
        let handle = start(&t, Path::new("."), store()).unwrap().unwrap();
        assert_eq!(
            handle.finish().await.unwrap(),
            skylight_notify::Totals::default()
        );
    }
}
