//! The collector: for each tenant and content type, a 7-day backfill on first connect, then
//! polling with overlapping windows; every blob's records committed with its done-marker in one
//! transaction, expired content recorded as a gap, and a status an admin can read.

mod blob;
mod cpu_slots;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use skylight_model::{ConnectorState, ConnectorStatus, ContentType, Gap};
use skylight_store::{Store, StoreError};

use crate::activity::{ActivityClient, ApiError, ContentItem};
use crate::remediation::Remediation;

/// Called after every committed blob with the content type, its progress so far and the share
/// of the current pass done (0.0–1.0, by publication time covered): progress bars feed on it.
pub type ProgressFn = Arc<dyn Fn(ContentType, &Progress, f64) + Send + Sync>;

/// How often a content type another process collects is looked at again.
const LEASE_LOOK: std::time::Duration = std::time::Duration::from_secs(2);

/// How the collector paces itself.
#[derive(Clone)]
pub struct CollectorOptions {
    /// Pause between polls once caught up.
    pub poll_interval: std::time::Duration,
    /// How far back each poll re-lists, for content that shows up late.
    pub overlap: Duration,
    /// Blobs fetched at once per content type.
    pub blob_concurrency: usize,
    /// Stop once every content type has caught up (or failed) once.
    pub once: bool,
    /// Progress reports, if anyone listens.
    pub on_progress: Option<ProgressFn>,
    /// Enrichment at ingest (geolocation, ASN, named ranges, user agents), if configured.
    pub enricher: Option<Arc<skylight_enrich::Enricher>>,
    /// With several processes on one store: each content type is collected only while this
    /// process holds its lease (`collect:TENANT:CONTENT-TYPE`), and taken over when its holder
    /// dies. `None`: collect regardless (one process, or a catch-up run beside others).
    pub leases: Option<Arc<skylight_store::lease::LeaseKeeper>>,
}

impl std::fmt::Debug for CollectorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorOptions")
            .field("poll_interval", &self.poll_interval)
            .field("overlap", &self.overlap)
            .field("blob_concurrency", &self.blob_concurrency)
            .field("once", &self.once)
            .field("leases", &self.leases.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            poll_interval: std::time::Duration::from_secs(60),
            overlap: Duration::hours(i64::from(crate::health::DEFAULT_OVERLAP_HOURS)),
            blob_concurrency: 8,
            once: false,
            on_progress: None,
            enricher: None,
            leases: None,
        }
    }
}

/// What one content type's collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Records stored for the first time.
    pub records: u64,
    /// Records already stored, skipped.
    pub duplicates: u64,
    /// Blobs committed.
    pub blobs: u64,
    /// Blobs skipped because already done.
    pub skipped: u64,
    /// Gaps recorded.
    pub gaps: u64,
    /// Records that could not be read and were kept aside.
    pub quarantined: u64,
    /// The last error, if the last cycle failed.
    pub error: Option<String>,
}

/// Why a collection cycle stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The API failed in a way retries did not fix.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task died.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl CollectError {
    fn remediation(&self) -> Option<Remediation> {
        match self {
            CollectError::Api(e) => Some(e.remediation()),
            _ => None,
        }
    }
}

/// Collects one tenant.
pub struct Collector {
    tenant: String,
    client: Arc<ActivityClient>,
    store: Arc<dyn Store>,
    opts: CollectorOptions,
}

impl Collector {
    /// A collector for the tenant named `tenant` (the config name), storing into `store`.
    pub fn new(
        tenant: &str,
        client: Arc<ActivityClient>,
        store: Arc<dyn Store>,
        opts: CollectorOptions,
    ) -> Collector {
        Collector {
            tenant: tenant.to_string(),
            client,
            store,
            opts,
        }
    }

    /// A collector for a configured tenant: its token provider, its Management API client (with
    /// the tenant's request budget) and the store, wired together.
    pub fn connect(
        http: reqwest::Client,
        tenant: &crate::config::TenantConfig,
        store: Arc<dyn Store>,
        opts: CollectorOptions,
    ) -> Collector {
        let tokens = Arc::new(crate::auth::TokenProvider::new(http.clone(), tenant));
        let client = Arc::new(ActivityClient::new(
            http,
            tokens,
            &tenant.endpoints().manage,
            &tenant.tenant_id,
            tenant.publisher_id(),
            tenant.requests_per_minute,
        ));
        Collector::new(&tenant.name, client, store, opts)
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }

    /// Runs every content type concurrently until done (with `once`) or forever.
    pub async fn run(
        self: Arc<Self>,
        content_types: &[ContentType],
    ) -> Vec<(ContentType, Progress)> {
        let enabled = match self.client.resolve_tenant().await {
            Ok(()) => self.client.enabled_subscriptions().await.ok(),
            Err(_) => None,
        };
        // A JoinSet, so that dropping this future (a connector paused or disconnected while the
        // process runs) stops every content type's task with it; commits are atomic, so a stop
        // anywhere is as safe as a crash.
        let mut tasks = tokio::task::JoinSet::new();
        let mut ids = std::collections::HashMap::new();
        for ct in content_types {
            let me = self.clone();
            let ct = *ct;
            let enabled = enabled.clone();
            let handle = tasks.spawn(async move { me.run_content_type(ct, enabled).await });
            ids.insert(handle.id(), ct);
        }
        let mut done = std::collections::HashMap::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, p)) => {
                    done.insert(id, p);
                }
                // A content type whose task died is a failure, never a silent omission.
                Err(e) => {
                    done.insert(
                        e.id(),
                        Progress {
                            error: Some(format!("collector task failed: {e}")),
                            ..Progress::default()
                        },
                    );
                }
            }
        }
        let by_type: std::collections::HashMap<ContentType, Progress> = done
            .into_iter()
            .filter_map(|(id, p)| Some((*ids.get(&id)?, p)))
            .collect();
        content_types
            .iter()
            .map(|ct| (*ct, by_type.get(ct).cloned().unwrap_or_default()))
            .collect()
    }

    async fn run_content_type(
        &self,
        ct: ContentType,
        enabled: Option<Vec<ContentType>>,
    ) -> Progress {
        let mut progress = Progress::default();
        let mut subscribed = enabled.is_some_and(|e| e.contains(&ct));
        let lease = self
            .opts
            .leases
            .as_ref()
            .map(|k| k.want_shared(&format!("collect:{}:{}", self.tenant, ct.as_str())));
        loop {
            if let Some(lease) = &lease
                && !lease.held()
            {
                // Another process collects this content type; look again soon, to take over
                // promptly when it stops renewing its lease.
                tokio::time::sleep(self.opts.poll_interval.min(LEASE_LOOK)).await;
                continue;
            }
            let outcome = self.cycle(ct, &mut subscribed, &mut progress).await;
            match &outcome {
                Ok(()) => progress.error = None,
                Err(e) => {
                    if let CollectError::Api(api) = e
                        && matches!(api.af_code(), Some("AF20023" | "AF20022"))
                    {
                        // Disabled or missing subscription: try /start again next time (§2.5).
                        subscribed = false;
                    }
                    tracing::warn!(tenant = %self.tenant, content_type = %ct, error = %e, "collection cycle failed");
                    progress.error = Some(e.to_string());
                    self.write_status(ct, ConnectorState::Error, &progress, Some(e))
                        .await;
                }
            }
            if self.opts.once {
                return progress;
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, CollectError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| CollectError::Task(e.to_string()))?
            .map_err(CollectError::from)
    }

    /// The service's time now, and how far its clock is ahead of this machine's (ms).
    fn service_clock(&self) -> (DateTime<Utc>, i64) {
        let now = self.client.now();
        (now, (now - Utc::now()).num_milliseconds())
    }

    /// Writes the last status again as it was, now: a status nobody writes for an hour reads
    /// as a stopped collector, and a pass's first window can take long (a large tenant, or a
    /// connector resumed after a pause).
    async fn touch_status(&self, ct: ContentType) {
        let tenant = self.tenant.clone();
        let (now, clock_offset_ms) = self.service_clock();
        let _ = self
            .blocking(move |s| {
                if let Some(mut status) = last_status(s, &tenant, ct)? {
                    status.updated_at = now;
                    status.clock_offset_ms = clock_offset_ms;
                    s.set_status(&status)?;
                }
                Ok(())
            })
            .await;
    }

    async fn write_status(
        &self,
        ct: ContentType,
        state: ConnectorState,
        _progress: &Progress,
        error: Option<&CollectError>,
    ) {
        let tenant = self.tenant.clone();
        let last_error = error.map(|e| e.to_string());
        let remediation = error.and_then(|e| e.remediation()).map(|r| r.message);
        // Times are the service's (the watermark is on its clock too), so lag reads true; the
        // offset lets a reader judge them on its own clock.
        let (now, clock_offset_ms) = self.service_clock();
        let _ = self
            .blocking(move |s| {
                let previous = last_status(s, &tenant, ct)?;
                let watermark = s.watermark(&tenant, ct)?;
                // Counts come from the store, so they survive restarts and kills exactly.
                let (records, blobs, gaps) = s.content_counts(&tenant, ct)?;
                let status = ConnectorStatus {
                    last_success: if state == ConnectorState::Healthy {
                        Some(now)
                    } else {
                        previous.as_ref().and_then(|p| p.last_success)
                    },
                    watermark,
                    records,
                    blobs,
                    gaps,
                    last_error,
                    remediation,
                    updated_at: now,
                    clock_offset_ms,
                    tenant,
                    content_type: ct,
                    state,
                };
                s.set_status(&status)
            })
            .await;
    }

    /// One pass: list every window from the watermark (minus the overlap) to now, collect every
    /// blob not yet done, move the watermark.
    async fn cycle(
        &self,
        ct: ContentType,
        subscribed: &mut bool,
        progress: &mut Progress,
    ) -> Result<(), CollectError> {
        self.client.resolve_tenant().await?;
        if !*subscribed {
            // Another process sharing the store (or an earlier run) may have started it since
            // this one last looked, and Microsoft refuses a second start within 15 minutes
            // (AF429): look again before starting.
            if !self.client.enabled_subscriptions().await?.contains(&ct) {
                self.client.start_subscription(ct).await?;
            }
            *subscribed = true;
        }
        let now = self.client.now();
        // Stay a few minutes inside the 7-day limit, which is judged when each request arrives.
        let earliest = crate::health::collectable_from(now);
        let tenant = self.tenant.clone();
        let watermark = self
            .blocking(move |s| {
                // Content older than the API's 7 days can never be listed again: forget its markers.
                s.prune_done(now - Duration::days(8))?;
                s.watermark(&tenant, ct)
            })
            .await?;
        match watermark {
            None => {
                self.write_status(ct, ConnectorState::Backfilling, progress, None)
                    .await
            }
            Some(w) if w < earliest => {
                // Down (or failing) for longer than Microsoft keeps content: say so, as a gap.
                let gap = Gap {
                    tenant: self.tenant.clone(),
                    content_type: ct,
                    content_id: format!("range:{}..{}", w.to_rfc3339(), earliest.to_rfc3339()),
                    created: w,
                    reason: "not collected before Microsoft's 7-day retention ran out (collector stopped or failing)".into(),
                    detected_at: now,
                };
                tracing::warn!(tenant = %self.tenant, content_type = %ct, from = %w, to = %earliest, "content older than 7 days was never collected");
                let tenant = self.tenant.clone();
                // Content before `earliest` is lost whole: the watermark moves past it after
                // the gap, or each later pass would record the loss again (a loss from the
                // same start already recorded, by a pass killed before it moved the watermark,
                // is not recorded twice).
                let start = format!("range:{}..", w.to_rfc3339());
                self.blocking(move |s| {
                    let known = s
                        .gaps(Some(&tenant))?
                        .iter()
                        .any(|g| g.content_type == ct && g.content_id.starts_with(&start));
                    if !known {
                        s.record_gap(&gap)?;
                    }
                    s.set_watermark(&tenant, ct, earliest)
                })
                .await?;
                progress.gaps += 1;
                self.write_status(ct, ConnectorState::Backfilling, progress, None)
                    .await;
            }
            Some(_) => self.touch_status(ct).await,
        }
        let mut from = watermark.map_or(earliest, |w| (w - self.opts.overlap).max(earliest));
        let pass = (from, now);
        let mut first_failure: Option<(DateTime<Utc>, CollectError)> = None;
        while from < now {
            let to = (from + Duration::hours(24)).min(now);
            let failed = self
                .window(ct, from, to, pass, subscribed, progress)
                .await?;
            if first_failure.is_none() {
                first_failure = failed;
            }
            // The watermark never passes a blob that could not be collected: it is retried next
            // time (done-markers spare the rest), until it succeeds or expires into a gap.
            let to_mark = first_failure.as_ref().map_or(to, |(at, _)| (*at).min(to));
            let tenant = self.tenant.clone();
            self.blocking(move |s| {
                let current = s.watermark(&tenant, ct)?;
                if current.is_none_or(|c| c < to_mark) {
                    s.set_watermark(&tenant, ct, to_mark)
                } else {
                    Ok(())
                }
            })
            .await?;
            from = to;
            if from < now {
                // A backfill takes minutes: status shows it advance window by window, and the
                // blob that failed so far in the pass, if one did.
                let failed = first_failure.as_ref().map(|(_, e)| e);
                self.write_status(ct, ConnectorState::Backfilling, progress, failed)
                    .await;
            }
        }
        if let Some((_, e)) = first_failure {
            return Err(e);
        }
        self.write_status(ct, ConnectorState::Healthy, progress, None)
            .await;
        Ok(())
    }

    /// Collects every not-yet-done blob listed in one window.
    async fn window(
        &self,
        ct: ContentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        pass: (DateTime<Utc>, DateTime<Utc>),
        subscribed: &mut bool,
        progress: &mut Progress,
    ) -> Result<Option<(DateTime<Utc>, CollectError)>, CollectError> {
        let listed = match self.client.list_content(ct, from, to).await {
            Err(e) if e.af_code() == Some("AF20022") => {
                // No subscription (yet, or any more): start it and list again.
                self.client.start_subscription(ct).await?;
                *subscribed = true;
                self.client.list_content(ct, from, to).await?
            }
            // A stale or refused page token: list the window again from its start, once.
            Err(e) if e.af_code() == Some("AF20031") => {
                self.client.list_content(ct, from, to).await?
            }
            other => other?,
        };
        let tenant = self.tenant.clone();
        let since = from - Duration::days(1);
        let done = self
            .blocking(move |s| s.done_blobs(&tenant, ct, since))
            .await?;
        let mut seen = HashSet::new();
        let mut todo: Vec<ContentItem> = listed
            .into_iter()
            .filter(|i| seen.insert(i.content_id.clone()))
            .collect();
        todo.sort_by(|a, b| {
            (a.content_created, &a.content_id).cmp(&(b.content_created, &b.content_id))
        });
        let before = todo.len();
        todo.retain(|i| !done.contains(&i.content_id));
        progress.skipped += (before - todo.len()) as u64;

        let now = self.client.now();
        let (expired, live): (Vec<ContentItem>, Vec<ContentItem>) =
            todo.into_iter().partition(|i| i.content_expiration <= now);
        for item in expired {
            self.gap(
                ct,
                &item,
                format!(
                    "listed content expired at {} before it could be fetched",
                    item.content_expiration.to_rfc3339()
                ),
            )
            .await?;
            progress.gaps += 1;
        }

        let live_count = live.len();
        let mut blobs = futures_util::stream::iter(live.into_iter().map(|item| {
            let (client, store) = (self.client.clone(), self.store.clone());
            let enricher = self.opts.enricher.clone();
            async move {
                let result = blob::collect(&client, store, enricher, &self.tenant, ct, &item).await;
                (item, result)
            }
        }))
        .buffer_unordered(self.opts.blob_concurrency.max(1));
        let total = live_count.max(1) as f64;
        let mut finished = 0usize;
        let mut first_failure: Option<(DateTime<Utc>, CollectError)> = None;
        while let Some((item, result)) = blobs.next().await {
            finished += 1;
            let covered = (from - pass.0).num_seconds() as f64
                + (to - from).num_seconds() as f64 * finished as f64 / total;
            let share = covered / (pass.1 - pass.0).num_seconds().max(1) as f64;
            let outcome = match result {
                Ok(done) => {
                    progress.records += done.stats.inserted;
                    progress.duplicates += done.stats.duplicates;
                    progress.quarantined += done.quarantined;
                    progress.blobs += 1;
                    Ok(())
                }
                // Gone for good (expired, missing, refused id): a recorded gap, not a stall.
                Err(CollectError::Api(e))
                    if matches!(e.af_code(), Some("AF20050" | "AF20051" | "AF20052"))
                        || e.is_not_found() =>
                {
                    progress.gaps += 1;
                    self.gap(ct, &item, e.to_string()).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    if let Some(f) = &self.opts.on_progress {
                        f(ct, progress, share.clamp(0.0, 1.0));
                    }
                }
                // The store failing is fatal for the cycle; one blob failing is not.
                Err(e @ CollectError::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, content_type = %ct, content_id = %item.content_id, error = %e, "blob not collected; will retry");
                    if first_failure
                        .as_ref()
                        .is_none_or(|(at, _)| item.content_created < *at)
                    {
                        first_failure = Some((item.content_created, e));
                    }
                }
            }
        }
        Ok(first_failure)
    }

    async fn gap(
        &self,
        ct: ContentType,
        item: &ContentItem,
        reason: String,
    ) -> Result<(), CollectError> {
        tracing::warn!(tenant = %self.tenant, content_type = %ct, content_id = %item.content_id, %reason, "recording a gap");
        let gap = Gap {
            tenant: self.tenant.clone(),
            content_type: ct,
            content_id: item.content_id.clone(),
            created: item.content_created,
            reason,
            detected_at: Utc::now(),
        };
        self.blocking(move |s| s.record_gap(&gap)).await
    }
}

/// The status last written for a tenant's content type.
fn last_status(
    store: &dyn Store,
    tenant: &str,
    ct: ContentType,
) -> Result<Option<ConnectorStatus>, StoreError> {
    Ok(store
        .statuses()?
        .into_iter()
        .find(|x| x.tenant == tenant && x.content_type == ct))
}
