//! Collection bookkeeping shared by the connector and the store: blobs, gaps, connector status.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ContentType;

/// A content blob listed by the Management Activity API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// `contentId`.
    pub content_id: String,
    /// `contentCreated`.
    pub created: DateTime<Utc>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Records stored for the first time.
    pub inserted: u64,
    /// Records already stored (same tenant and Id), skipped.
    pub duplicates: u64,
}

/// Content that was listed but could not be collected: a recorded, visible loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Tenant name.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// The blob's `contentId`.
    pub content_id: String,
    /// The blob's `contentCreated`.
    pub created: DateTime<Utc>,
    /// Why (e.g. `AF20051 content expired`).
    pub reason: String,
    /// When the gap was recorded.
    pub detected_at: DateTime<Utc>,
}

/// The state of one (tenant, content type) collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// Not started yet.
    Pending,
    /// Catching up on the last seven days.
    Backfilling,
    /// Caught up, polling.
    Healthy,
    /// Failing; see the error and remediation.
    Error,
}

/// What an admin sees for one (tenant, content type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    /// Tenant name.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// State.
    pub state: ConnectorState,
    /// Last time a listing window was fully collected.
    pub last_success: Option<DateTime<Utc>>,
    /// The listing watermark: content published before it has been collected.
    pub watermark: Option<DateTime<Utc>>,
    /// Records stored so far.
    pub records: u64,
    /// Blobs collected so far.
    pub blobs: u64,
    /// Gaps recorded so far.
    pub gaps: u64,
    /// The last error, as Microsoft or the network reported it (never a secret).
    pub last_error: Option<String>,
    /// What the admin should do about the last error.
    pub remediation: Option<String>,
    /// When this status was written.
    pub updated_at: DateTime<Utc>,
    /// The service's clock minus the collector's when it wrote this status (ms): the status's
    /// times are the service's (windows are judged by Microsoft's `Date` headers), so a reader
    /// adds this to its own clock to judge them.
    #[serde(default)]
    pub clock_offset_ms: i64,
}

/// What collection did with the content published on one UTC day, for one tenant and content
/// type: the collection ledger, from the markers the store keeps of each blob done (the last 8
/// days, as long as Microsoft could list the content again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerDay {
    /// Tenant name.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// The UTC day the blobs were published on (their `contentCreated`).
    pub day: NaiveDate,
    /// Blobs collected: their records committed.
    pub blobs: u64,
    /// Records those blobs held (those already stored from another blob included; unreadable
    /// ones are in the quarantine, apart).
    pub records: u64,
    /// Blobs listed that could not be collected (expired before they were fetched): gaps.
    pub gaps: u64,
}
