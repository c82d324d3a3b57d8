//! The collector: for each tenant and content type, a 7-day backfill on first connect, then
//! polling with overlapping windows; every blob's records committed with its done-marker in one
//! transaction, expired content recorded as a gap, and a status an admin can read.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use serde_json::value::RawValue;
use skylight_model::{AuditRecord, BlobRef, ConnectorState, ConnectorStatus, ContentType, Gap};
use skylight_store::{Store, StoreError};

use crate::activity::{ActivityClient, ApiError, ContentItem};
use crate::remediation::Remediation;

/// Called after every committed blob with the content type, its progress so far and the share
/// of the current pass done (0.0–1.0, by publication time covered): progress bars feed on it.
pub type ProgressFn = Arc<dyn Fn(ContentType, &Progress, f64) + Send + Sync>;

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
}

impl std::fmt::Debug for CollectorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorOptions")
            .field("poll_interval", &self.poll_interval)
            .field("overlap", &self.overlap)
            .field("blob_concurrency", &self.blob_concurrency)
            .field("once", &self.once)
            .finish_non_exhaustive()
    }
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            poll_interval: std::time::Duration::from_secs(60),
            overlap: Duration::hours(6),
            blob_concurrency: 4,
            once: false,
            on_progress: None,
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
        let tasks: Vec<_> = content_types
            .iter()
            .map(|ct| {
                let me = self.clone();
                let ct = *ct;
                let enabled = enabled.clone();
                tokio::spawn(async move { (ct, me.run_content_type(ct, enabled).await) })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    }

    async fn run_content_type(
        &self,
        ct: ContentType,
        enabled: Option<Vec<ContentType>>,
    ) -> Progress {
        let mut progress = Progress::default();
        let mut subscribed = enabled.is_some_and(|e| e.contains(&ct));
        loop {
            let outcome = self.cycle(ct, &mut subscribed, &mut progress).await;
            match &outcome {
                Ok(()) => progress.error = None,
                Err(e) => {
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

    async fn write_status(
        &self,
        ct: ContentType,
        state: ConnectorState,
        p: &Progress,
        error: Option<&CollectError>,
    ) {
        let tenant = self.tenant.clone();
        let (records, blobs, gaps) = (p.records, p.blobs, p.gaps);
        let last_error = error.map(|e| e.to_string());
        let remediation = error.and_then(|e| e.remediation()).map(|r| r.message);
        let _ = self
            .blocking(move |s| {
                let previous = s
                    .statuses()?
                    .into_iter()
                    .find(|x| x.tenant == tenant && x.content_type == ct);
                let watermark = s.watermark(&tenant, ct)?;
                let now = Utc::now();
                let status = ConnectorStatus {
                    last_success: if state == ConnectorState::Healthy {
                        Some(now)
                    } else {
                        previous.as_ref().and_then(|p| p.last_success)
                    },
                    watermark,
                    records: records.max(previous.as_ref().map_or(0, |p| p.records)),
                    blobs: blobs.max(previous.as_ref().map_or(0, |p| p.blobs)),
                    gaps: gaps.max(previous.as_ref().map_or(0, |p| p.gaps)),
                    last_error,
                    remediation,
                    updated_at: now,
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
            self.client.start_subscription(ct).await?;
            *subscribed = true;
        }
        let now = self.client.now();
        // Stay a few minutes inside the 7-day limit, which is judged when the request arrives.
        let earliest = now - Duration::days(7) + Duration::minutes(10);
        let tenant = self.tenant.clone();
        let watermark = self.blocking(move |s| s.watermark(&tenant, ct)).await?;
        if watermark.is_none() {
            self.write_status(ct, ConnectorState::Backfilling, progress, None)
                .await;
        }
        let mut from = watermark.map_or(earliest, |w| (w - self.opts.overlap).max(earliest));
        let pass = (from, now);
        while from < now {
            let to = (from + Duration::hours(24)).min(now);
            self.window(ct, from, to, pass, subscribed, progress)
                .await?;
            let tenant = self.tenant.clone();
            self.blocking(move |s| {
                let current = s.watermark(&tenant, ct)?;
                if current.is_none_or(|c| c < to) {
                    s.set_watermark(&tenant, ct, to)
                } else {
                    Ok(())
                }
            })
            .await?;
            from = to;
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
    ) -> Result<(), CollectError> {
        let listed = match self.client.list_content(ct, from, to).await {
            Err(e) if e.af_code() == Some("AF20022") => {
                // No subscription (yet, or any more): start it and list again.
                self.client.start_subscription(ct).await?;
                *subscribed = true;
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
        let client = self.client.clone();
        let mut fetches = futures_util::stream::iter(live.into_iter().map(|item| {
            let client = client.clone();
            async move {
                let bytes = client.fetch(&item).await;
                (item, bytes)
            }
        }))
        .buffer_unordered(self.opts.blob_concurrency.max(1));
        let total = live_count.max(1) as f64;
        let mut finished = 0usize;
        while let Some((item, bytes)) = fetches.next().await {
            finished += 1;
            let covered = (from - pass.0).num_seconds() as f64
                + (to - from).num_seconds() as f64 * finished as f64 / total;
            let share = covered / (pass.1 - pass.0).num_seconds().max(1) as f64;
            match bytes {
                Ok(bytes) => {
                    self.commit(ct, &item, bytes, progress).await?;
                    if let Some(f) = &self.opts.on_progress {
                        f(ct, progress, share.clamp(0.0, 1.0));
                    }
                }
                Err(e) if matches!(e.af_code(), Some("AF20051") | Some("AF20050")) => {
                    self.gap(ct, &item, e.to_string()).await?;
                    progress.gaps += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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

    /// Parses a blob and commits its records with the blob's done-marker.
    async fn commit(
        &self,
        ct: ContentType,
        item: &ContentItem,
        bytes: Vec<u8>,
        progress: &mut Progress,
    ) -> Result<(), CollectError> {
        let tenant = self.tenant.clone();
        let blob = BlobRef {
            content_id: item.content_id.clone(),
            created: item.content_created,
        };
        let started = Instant::now();
        let (stats, quarantined) = self
            .blocking(move |s| {
                let parsed: Result<Vec<&RawValue>, _> = serde_json::from_slice(&bytes);
                let mut records = Vec::new();
                let mut quarantined = 0u64;
                match parsed {
                    Ok(raws) => {
                        for raw in raws {
                            match AuditRecord::from_raw(raw) {
                                Ok(r) => records.push(r),
                                Err(e) => {
                                    s.quarantine(
                                        &tenant,
                                        &blob.content_id,
                                        &e.to_string(),
                                        raw.get().as_bytes(),
                                    )?;
                                    quarantined += 1;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        // Not a JSON array: keep the bytes aside rather than lose them silently.
                        s.quarantine(
                            &tenant,
                            &blob.content_id,
                            &format!("blob is not a json array: {e}"),
                            &bytes,
                        )?;
                        quarantined += 1;
                    }
                }
                Ok((s.commit_blob(&tenant, ct, &blob, &records)?, quarantined))
            })
            .await?;
        progress.records += stats.inserted;
        progress.duplicates += stats.duplicates;
        progress.quarantined += quarantined;
        progress.blobs += 1;
        tracing::debug!(content_id = %item.content_id, inserted = stats.inserted, duplicates = stats.duplicates, ms = started.elapsed().as_millis() as u64, "blob committed");
        Ok(())
    }
}
