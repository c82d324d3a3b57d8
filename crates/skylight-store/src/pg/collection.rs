//! collection (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::commit_batch`](crate::Store::commit_batch).
pub(super) fn commit_batch(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
    blob: &BlobRef,
    batch: RecordBatch,
) -> Result<CommitStats, StoreError> {
    let _ = (&c, tenant, ct, blob, batch);
    Err(not_yet("commit_batch"))
}

/// [`Store::record_gap`](crate::Store::record_gap).
pub(super) fn record_gap(c: &mut Client, gap: &Gap) -> Result<(), StoreError> {
    let _ = (&c, gap);
    Err(not_yet("record_gap"))
}

/// [`Store::quarantine`](crate::Store::quarantine).
pub(super) fn quarantine(
    c: &mut Client,
    tenant: &str,
    source: &str,
    reason: &str,
    raw: &[u8],
) -> Result<(), StoreError> {
    let _ = (&c, tenant, source, reason, raw);
    Err(not_yet("quarantine"))
}

/// [`Store::done_blobs`](crate::Store::done_blobs).
pub(super) fn done_blobs(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
    since: DateTime<Utc>,
) -> Result<HashSet<String>, StoreError> {
    let _ = (&c, tenant, ct, since);
    Err(not_yet("done_blobs"))
}

/// [`Store::prune_done`](crate::Store::prune_done).
pub(super) fn prune_done(c: &mut Client, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let _ = (&c, before);
    Err(not_yet("prune_done"))
}

/// [`Store::watermark`](crate::Store::watermark).
pub(super) fn watermark(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let _ = (&c, tenant, ct);
    Err(not_yet("watermark"))
}

/// [`Store::set_watermark`](crate::Store::set_watermark).
pub(super) fn set_watermark(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let _ = (&c, tenant, ct, at);
    Err(not_yet("set_watermark"))
}

/// [`Store::content_counts`](crate::Store::content_counts).
pub(super) fn content_counts(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
) -> Result<(u64, u64, u64), StoreError> {
    let _ = (&c, tenant, ct);
    Err(not_yet("content_counts"))
}

/// [`Store::record_count`](crate::Store::record_count).
pub(super) fn record_count(c: &mut Client, tenant: Option<&str>) -> Result<u64, StoreError> {
    let _ = (&c, tenant);
    Err(not_yet("record_count"))
}

/// [`Store::record_ids`](crate::Store::record_ids).
pub(super) fn record_ids(
    c: &mut Client,
    tenant: &str,
    ct: Option<ContentType>,
) -> Result<Vec<String>, StoreError> {
    let _ = (&c, tenant, ct);
    Err(not_yet("record_ids"))
}

/// [`Store::raw_record`](crate::Store::raw_record).
pub(super) fn raw_record(
    c: &mut Client,
    tenant: &str,
    id: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let _ = (&c, tenant, id);
    Err(not_yet("raw_record"))
}

/// [`Store::gaps`](crate::Store::gaps).
pub(super) fn gaps(c: &mut Client, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
    let _ = (&c, tenant);
    Err(not_yet("gaps"))
}

/// [`Store::quarantined`](crate::Store::quarantined).
pub(super) fn quarantined(c: &mut Client) -> Result<u64, StoreError> {
    let _ = &c;
    Err(not_yet("quarantined"))
}

/// [`Store::set_status`](crate::Store::set_status).
pub(super) fn set_status(c: &mut Client, status: &ConnectorStatus) -> Result<(), StoreError> {
    let _ = (&c, status);
    Err(not_yet("set_status"))
}

/// [`Store::statuses`](crate::Store::statuses).
pub(super) fn statuses(c: &mut Client) -> Result<Vec<ConnectorStatus>, StoreError> {
    let _ = &c;
    Err(not_yet("statuses"))
}
