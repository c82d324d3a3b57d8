//! query (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::activities`](crate::Store::activities).
pub(super) fn activities(
    c: &mut Client,
    query: &ActivityQuery,
) -> Result<ActivityPage, StoreError> {
    let _ = (&c, query);
    Err(not_yet("activities"))
}

/// [`Store::activity_histogram`](crate::Store::activity_histogram).
pub(super) fn activity_histogram(
    c: &mut Client,
    query: &ActivityQuery,
    bucket_ms: i64,
) -> Result<Vec<(i64, u64)>, StoreError> {
    let _ = (&c, query, bucket_ms);
    Err(not_yet("activity_histogram"))
}

/// [`Store::activity_top`](crate::Store::activity_top).
pub(super) fn activity_top(
    c: &mut Client,
    query: &ActivityQuery,
    field: skylight_model::filter::Field,
    limit: usize,
) -> Result<Vec<(String, u64)>, StoreError> {
    let _ = (&c, query, field, limit);
    Err(not_yet("activity_top"))
}

/// [`Store::activity`](crate::Store::activity).
pub(super) fn activity(
    c: &mut Client,
    tenant: Option<&str>,
    id: &str,
) -> Result<Option<(skylight_model::ActivityRow, Vec<u8>)>, StoreError> {
    let _ = (&c, tenant, id);
    Err(not_yet("activity"))
}

/// [`Store::activities_since`](crate::Store::activities_since).
pub(super) fn activities_since(
    c: &mut Client,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredActivity>, StoreError> {
    let _ = (&c, after, limit);
    Err(not_yet("activities_since"))
}
