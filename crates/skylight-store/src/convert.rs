//! How both backends store times and counts, so that they return the same values.

use chrono::{DateTime, Utc};

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
