//! How both backends store times and counts, so that they return the same values.

use chrono::{DateTime, Utc};
use skylight_model::{ContentType, LedgerDay};

use crate::StoreError;

/// A time as stored in `_ns` columns; times outside 1677–2262 are clamped to the nearest end.
pub(crate) fn to_ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A time read from an `_ns` column.
pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// A count as stored (saturating at `i64::MAX`).
pub(crate) fn to_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count, which is never negative unless the data is damaged.
pub(crate) fn from_count(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative {what} {n}")))
}

/// Nanoseconds in a day: `created_ns / DAY_NS` is the UTC day (since the epoch) both backends
/// group the ledger by.
pub(crate) const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// One ledger row as both backends read it: tenant, content type, day since the epoch, then the
/// blobs collected, their records and the gaps.
pub(crate) fn ledger_day(
    (tenant, content_type, day): (String, ContentType, i64),
    (blobs, records, gaps): (i64, i64, i64),
) -> Result<LedgerDay, StoreError> {
    let day = day
        .checked_mul(86_400)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| StoreError::Corrupt(format!("ledger day {day} out of range")))?
        .date_naive();
    Ok(LedgerDay {
        tenant,
        content_type,
        day,
        blobs: from_count(blobs, "blob count")?,
        records: from_count(records, "record count")?,
        gaps: from_count(gaps, "gap count")?,
    })
}
