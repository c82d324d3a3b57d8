//! The notifier: queues a delivery per alert change and channel, then works the due ones.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use skylight_model::filter::{Condition, Field, Filter, Test};
use skylight_model::{Alert, DeliveryStatus};
use skylight_store::{
    ActivityQuery, AlertQuery, AttemptOutcome, DeliveryQuery, DueDelivery, NewDelivery, Store,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cef::{CefContext, syslog_message};
use crate::config::{Channel, Notifications, RetryPolicy, Target};
use crate::syslog::SyslogSender;
use crate::{NotifyError, webhook};

/// The app named in CEF lines when the alert's activities cannot be looked up.
const ANY_APP: &str = "Microsoft 365";

/// How the notifier runs.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// Retries of failed attempts.
    pub retry: RetryPolicy,
    /// Rest between rounds when there is nothing to do (default 2 s: detection commits as often).
    pub poll_interval: Duration,
    /// On the very first start (no cursor in the store), changes this recent are still sent.
    pub backfill: Duration,
    /// Each look at the alerts re-reads this far before the cursor, for changes committed late
    /// (a writer that took its time stamp before waiting for the database); already queued
    /// changes are not queued again.
    pub overlap: Duration,
    /// Deliveries taken per round.
    pub batch: usize,
    /// Base URL of links in CEF lines.
    pub portal_url: String,
}

impl NotifierOptions {
    /// Options from the configuration, with the default poll interval, overlap and batch.
    pub fn from_config(n: &Notifications) -> NotifierOptions {
        NotifierOptions {
            retry: n.retry,
            poll_interval: Duration::from_secs(2),
            backfill: n.backfill,
            overlap: Duration::from_secs(60),
            batch: 20,
            portal_url: n.portal_url.clone(),
        }
    }
}

/// What the notifier did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Deliveries queued.
    pub queued: u64,
    /// Deliveries the channel accepted.
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    /// Deliveries that failed for good.
    pub failed: u64,
}

impl Totals {
    fn add(&mut self, o: Totals) {
        self.queued += o.queued;
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.failed += o.failed;
    }

    fn attempts(&self) -> u64 {
        self.delivered + self.retrying + self.failed
    }
}

/// A channel and its sender.
#[derive(Debug)]
struct Outlet {
    channel: Channel,
    syslog: Option<SyslogSender>,
}

/// Delivers alert changes to the configured channels.
pub struct Notifier {
    store: Arc<dyn Store>,
    outlets: Vec<Arc<Outlet>>,
    options: NotifierOptions,
    http: reqwest::Client,
    /// Changes (alert id, updated ns) already queued by this process within the overlap.
    seen: Arc<Mutex<HashSet<(i64, i64)>>>,
}

/// A running notifier.
#[derive(Debug)]
pub struct NotifierHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<Totals>,
}

impl NotifierHandle {
    /// Queues and attempts what is due once more, stops, and reports the whole run; what is
    /// left pending stays in the store for the next run.
    pub async fn finish(self) -> Result<Totals, NotifyError> {
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|e| NotifyError::Task(e.to_string()))
    }
}

fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NotifyError> + Send + 'static,
) -> Result<T, NotifyError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NotifyError::Task(e.to_string()))?
}

impl Notifier {
    /// A notifier over the store for these channels.
    pub fn new(
        store: Arc<dyn Store>,
        channels: Vec<Channel>,
        options: NotifierOptions,
    ) -> Result<Notifier, NotifyError> {
        let http = webhook::client().map_err(|e| NotifyError::Http(webhook::chain(&e)))?;
        let outlets = channels
            .into_iter()
            .map(|channel| {
                let syslog = match &channel.target {
                    Target::Syslog(s) => Some(SyslogSender::new(s.clone())),
                    Target::Webhook(_) => None,
                };
                Arc::new(Outlet { channel, syslog })
            })
            .collect();
        Ok(Notifier {
            store,
            outlets,
            options,
            http,
            seen: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Queues a delivery for every alert change since the cursor and every channel that takes
    /// it, and moves the cursor, in one store transaction; returns how many were queued.
    pub async fn queue_changes(&self) -> Result<u64, NotifyError> {
        let store = self.store.clone();
        let channels: Vec<Channel> = self.outlets.iter().map(|o| o.channel.clone()).collect();
        let options = self.options.clone();
        let seen = self.seen.clone();
        blocking(move || {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            queue(store.as_ref(), &channels, &options, &mut seen)
        })
        .await
    }

    /// Attempts up to a batch of due deliveries (channels in parallel, each channel's in
    /// order) and records each outcome; returns what happened.
    pub async fn deliver_due(&self) -> Result<Totals, NotifyError> {
        let now = Utc::now();
        let slowest = self
            .outlets
            .iter()
            .map(|o| o.channel.timeout())
            .max()
            .unwrap_or_default();
        // Held long enough for the whole batch to be attempted, one after the other.
        let batch = self.options.batch.max(1);
        let lease = slowest.saturating_mul(u32::try_from(batch).unwrap_or(u32::MAX))
            + Duration::from_secs(30);
        let names: Vec<String> = self
            .outlets
            .iter()
            .map(|o| o.channel.name.clone())
            .collect();
        let store = self.store.clone();
        let due = blocking(move || {
            Ok(store.take_due_deliveries(&names, now, now + chrono_of(lease), batch)?)
        })
        .await?;
        let mut by_channel: HashMap<String, Vec<DueDelivery>> = HashMap::new();
        for d in due {
            by_channel
                .entry(d.delivery.channel.clone())
                .or_default()
                .push(d);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (name, items) in by_channel {
            let Some(outlet) = self.outlets.iter().find(|o| o.channel.name == name) else {
                continue;
            };
            let (outlet, store, http) = (outlet.clone(), self.store.clone(), self.http.clone());
            let retry = self.options.retry;
            tasks.spawn(async move {
                let mut totals = Totals::default();
                for d in items {
                    totals.add(attempt(&outlet, store.clone(), &http, retry, d).await?);
                }
                Ok::<Totals, NotifyError>(totals)
            });
        }
        let mut totals = Totals::default();
        let mut error = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(t)) => totals.add(t),
                Ok(Err(e)) => error = Some(e),
                Err(e) => error = Some(NotifyError::Task(e.to_string())),
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(totals),
        }
    }

    /// Queues and delivers until `stop` turns true (or its sender goes), then does one last
    /// round and returns the run's totals. Errors are logged and the round is tried again.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Totals {
        self.warn_about_unconfigured().await;
        let mut totals = Totals::default();
        let mut closed = false;
        loop {
            let stopping = closed || *stop.borrow_and_update();
            self.round(&mut totals).await;
            if stopping {
                return totals;
            }
            tokio::select! {
                changed = stop.changed() => closed = changed.is_err(),
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
        }
    }

    /// Runs the notifier as a task.
    pub fn spawn(self) -> NotifierHandle {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(self.run(rx));
        NotifierHandle { stop, task }
    }

    async fn round(&self, totals: &mut Totals) {
        match self.queue_changes().await {
            Ok(n) => totals.queued += n,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: cannot queue alert changes; trying again")
            }
        }
        loop {
            match self.deliver_due().await {
                Ok(t) => {
                    totals.add(t);
                    if t.attempts() < self.options.batch.max(1) as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notifications: cannot deliver; trying again");
                    break;
                }
            }
        }
    }

    /// Pending deliveries of channels no longer configured stay pending (visible in the log):
    /// say so once.
    async fn warn_about_unconfigured(&self) {
        let store = self.store.clone();
        let pending = blocking(move || {
            Ok(store.deliveries(&DeliveryQuery {
                status: Some(DeliveryStatus::Pending),
                ..DeliveryQuery::default()
            })?)
        })
        .await;
        let Ok(pending) = pending else { return };
        let mut orphans: HashMap<&str, usize> = HashMap::new();
        for d in &pending {
            if !self.outlets.iter().any(|o| o.channel.name == d.channel) {
                *orphans.entry(d.channel.as_str()).or_default() += 1;
            }
        }
        for (channel, n) in orphans {
            tracing::warn!(
                channel,
                pending = n,
                "notifications: deliveries are pending for a channel that is no longer configured; configure it again to send them"
            );
        }
    }
}

/// One attempt of one delivery, and its outcome recorded.
async fn attempt(
    outlet: &Outlet,
    store: Arc<dyn Store>,
    http: &reqwest::Client,
    retry: RetryPolicy,
    due: DueDelivery,
) -> Result<Totals, NotifyError> {
    let d = due.delivery;
    let sent = match (&outlet.channel.target, &outlet.syslog) {
        (Target::Webhook(hook), _) => webhook::post(http, hook, d.id, due.payload).await,
        (Target::Syslog(_), Some(sender)) => sender.send(&due.payload).await,
        (Target::Syslog(_), None) => Err(crate::Failure {
            error: "no syslog sender".into(),
            retry_after: None,
        }),
    };
    let at = Utc::now();
    let attempts = d.attempts.saturating_add(1);
    let mut totals = Totals::default();
    let outcome = match sent {
        Ok(()) => {
            tracing::debug!(channel = %d.channel, delivery = d.id, alert = d.alert_id, attempts, "notification delivered");
            totals.delivered = 1;
            AttemptOutcome::Delivered
        }
        Err(f) if attempts >= retry.max_attempts => {
            tracing::error!(channel = %d.channel, delivery = d.id, alert = d.alert_id, attempts, error = %f.error, "notification failed for good (`skylight notifications` lists it)");
            totals.failed = 1;
            AttemptOutcome::GaveUp { error: f.error }
        }
        Err(f) => {
            let next_attempt = at + chrono_of(retry.delay(attempts, f.retry_after));
            tracing::warn!(channel = %d.channel, delivery = d.id, alert = d.alert_id, attempts, error = %f.error, next = %next_attempt, "notification attempt failed; retrying");
            totals.retrying = 1;
            AttemptOutcome::Retry {
                error: f.error,
                next_attempt,
            }
        }
    };
    let id = d.id;
    blocking(move || Ok(store.record_delivery_attempt(id, at, &outcome)?)).await?;
    Ok(totals)
}

/// The queueing pass (blocking: store calls).
fn queue(
    store: &dyn Store,
    channels: &[Channel],
    options: &NotifierOptions,
    seen: &mut HashSet<(i64, i64)>,
) -> Result<u64, NotifyError> {
    let stored = store.notification_cursor()?;
    let start = match stored {
        Some(c) => c,
        None => Utc::now() - chrono_of(options.backfill),
    };
    let overlap = chrono_of(options.overlap);
    let changed = store.alerts(&AlertQuery {
        updated_after: Some(start - overlap),
        include_signals: channels.iter().any(|c| c.include_signals),
        ..AlertQuery::default()
    })?;
    let mut cursor = start;
    let mut rows = Vec::new();
    let mut keys = Vec::new();
    for listed in changed {
        cursor = cursor.max(listed.updated);
        let key = (listed.id, ns(listed.updated));
        if seen.contains(&key) || !channels.iter().any(|c| c.wants(&listed)) {
            continue;
        }
        keys.push(key);
        // The alert as it stands, comments included (the listing leaves them out).
        let alert = store.alert(listed.id)?.unwrap_or(listed);
        keys.push((alert.id, ns(alert.updated)));
        let wanted: Vec<&Channel> = channels.iter().filter(|c| c.wants(&alert)).collect();
        let app = if wanted.iter().any(|c| matches!(c.target, Target::Syslog(_))) {
            app_of(store, &alert)
        } else {
            ANY_APP
        };
        for c in wanted {
            rows.push(NewDelivery {
                alert_id: alert.id,
                change: alert.updated,
                channel: c.name.clone(),
                payload: payload(c, &alert, &options.portal_url, app)?,
            });
        }
    }
    // Nothing new: no write transaction at every poll.
    let queued = if rows.is_empty() && stored == Some(cursor) {
        0
    } else {
        store.enqueue_deliveries(&rows, cursor)?
    };
    if queued > 0 {
        tracing::info!(queued, "notifications queued for alert changes");
    }
    seen.extend(keys);
    let horizon = ns(cursor - overlap);
    seen.retain(|(_, t)| *t >= horizon);
    Ok(queued)
}

/// The bytes a channel sends for an alert.
fn payload(
    channel: &Channel,
    alert: &Alert,
    portal_url: &str,
    app: &str,
) -> Result<Vec<u8>, NotifyError> {
    match &channel.target {
        Target::Webhook(_) => {
            serde_json::to_vec(alert).map_err(|e| NotifyError::Encode(alert.id, e.to_string()))
        }
        Target::Syslog(s) => {
            let ctx = CefContext {
                version: env!("CARGO_PKG_VERSION"),
                portal_url,
                app,
            };
            Ok(syslog_message(alert, &ctx, s.facility, &s.hostname).into_bytes())
        }
    }
}

/// The app of the alert's earliest activity (looked up in the activity log at the alert's
/// first time, so the lookup reads a millisecond of the log); `Microsoft 365` when unknown.
fn app_of(store: &dyn Store, alert: &Alert) -> &'static str {
    let first = alert.draft.first;
    let query = ActivityQuery {
        tenant: Some(alert.draft.tenant.clone()),
        filter: Filter {
            conditions: vec![Condition {
                field: Field::Time,
                test: Test::TimeRange(Some(first), Some(first + chrono::Duration::milliseconds(1))),
            }],
        },
        limit: 50,
        after: None,
    };
    let ids: HashSet<&str> = alert
        .draft
        .activity_ids
        .iter()
        .map(String::as_str)
        .collect();
    match store.activities(&query) {
        Ok(page) => page
            .rows
            .iter()
            .find(|r| ids.contains(r.id.as_str()))
            .and_then(|r| r.app)
            .map_or(ANY_APP, |a| a.display_name()),
        Err(e) => {
            tracing::debug!(alert = alert.id, error = %e, "cannot look up the alert's app");
            ANY_APP
        }
    }
}
