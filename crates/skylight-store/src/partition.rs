//! How detection's partitions are kept: one progress row each, and their state entries under a
//! key prefix, so that both backends keep them the same way in the tables they already have.
//!
//! The unpartitioned detection (`""`) keeps the names it always had: progress row `activities`
//! and unprefixed state keys (`u|…`, `a|…`, `t|…`, `i|…`). Partition `P` has progress row
//! `activities:P` and state keys `#P#…`.

use crate::StoreError;

/// The progress row of the unpartitioned detection.
const UNPARTITIONED: &str = "activities";

/// The progress row of `partition`.
pub(crate) fn progress_row(partition: &str) -> String {
    if partition.is_empty() {
        UNPARTITIONED.to_owned()
    } else {
        format!("{UNPARTITIONED}:{partition}")
    }
}

/// The partition a progress row belongs to, if it is one of detection's.
pub(crate) fn partition_of_row(row: &str) -> Option<&str> {
    if row == UNPARTITIONED {
        Some("")
    } else {
        row.strip_prefix(UNPARTITIONED)?.strip_prefix(':')
    }
}

/// `key` as stored for `partition`.
pub(crate) fn state_key(partition: &str, key: &str) -> String {
    if partition.is_empty() {
        key.to_owned()
    } else {
        format!("#{partition}#{key}")
    }
}

/// The partition a stored state key belongs to, and the key as the engine knows it.
pub(crate) fn split_state_key(stored: &str) -> Option<(&str, &str)> {
    match stored.strip_prefix('#') {
        None => Some(("", stored)),
        Some(rest) => rest.split_once('#'),
    }
}

/// A stored state key as the engine knows it (without its partition's prefix).
pub(crate) fn engine_key(stored: &str) -> &str {
    split_state_key(stored).map_or(stored, |(_, k)| k)
}

/// The half-open range of stored keys holding `partition`'s entries (`#P#` up to `#P$`), for a
/// partition other than `""`: byte order, which both backends' key columns sort in.
pub(crate) fn key_range(partition: &str) -> (String, String) {
    (format!("#{partition}#"), format!("#{partition}$"))
}

/// Refuses a partition name the key scheme cannot hold.
pub(crate) fn check_name(partition: &str) -> Result<(), StoreError> {
    if partition.contains('#') {
        return Err(StoreError::Conflict(format!(
            "`{partition}` cannot name a detection partition: `#` is reserved"
        )));
    }
    Ok(())
}

/// Why a partition cannot be read or committed: it is not in the store's plan.
pub(crate) fn not_planned(partition: &str) -> StoreError {
    StoreError::Conflict(format!(
        "detection partition `{partition}` is not in the store's plan: another process runs with a different [detection] partitions setting (give every process the same)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_rows_round_trip() {
        for p in ["", "0/4", "3/4"] {
            let stored = state_key(p, "u|contoso|alice");
            assert_eq!(split_state_key(&stored), Some((p, "u|contoso|alice")));
            assert_eq!(partition_of_row(&progress_row(p)), Some(p));
        }
        assert_eq!(partition_of_row("notifications"), None);
        let (lo, hi) = key_range("1/4");
        let inside = state_key("1/4", "t|contoso");
        assert!(lo <= inside && inside < hi);
        assert!(!(lo <= state_key("1/40", "t|x") && state_key("1/40", "t|x") < hi));
        assert!(check_name("a#b").is_err());
    }
}
