//! Settings an administrator changes in the console (named IP ranges, data retention): one JSON
//! document per key, versioned so that two administrators' edits never silently overwrite each
//! other. Settings written in the configuration file are not stored here.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The key of the named IP ranges made in the console (a JSON array of ranges).
pub const IP_RANGES: &str = "ip_ranges";
/// The key of the data-retention setting (a JSON object, `{"days": N}`).
pub const RETENTION: &str = "retention";

/// One stored setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Its key, such as [`IP_RANGES`].
    pub key: String,
    /// Its value, a JSON document the store does not read.
    pub value: String,
    /// 1 when first written, one more at each change.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last (a console account's name).
    pub updated_by: String,
}

/// The key of the last retention round's outcome ([`RetentionRun`]), written by the collector.
pub const RETENTION_RUN: &str = "retention.last_run";

/// Shortest retention an administrator may set: Microsoft keeps content listable for 7 days, and
/// the collector back-fills that week, so a shorter one would delete what is still arriving.
pub const MIN_RETENTION_DAYS: u32 = 7;

/// Longest retention an administrator may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// The value of [`RETENTION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Retention {
    /// Activities older than this many days are deleted; 0 keeps everything.
    pub days: u32,
}

/// The value of [`RETENTION_RUN`]: how the last retention round went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RetentionRun {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// What was deleted: activities created before this.
    pub cutoff: DateTime<Utc>,
    /// How many activities went.
    pub deleted: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}
