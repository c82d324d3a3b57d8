//! deliveries (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::notification_cursor`](crate::Store::notification_cursor).
pub(super) fn notification_cursor(c: &mut Client) -> Result<Option<DateTime<Utc>>, StoreError> {
    let _ = &c;
    Err(not_yet("notification_cursor"))
}

/// [`Store::enqueue_deliveries`](crate::Store::enqueue_deliveries).
pub(super) fn enqueue_deliveries(
    c: &mut Client,
    deliveries: &[NewDelivery],
    cursor: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let _ = (&c, deliveries, cursor);
    Err(not_yet("enqueue_deliveries"))
}

/// [`Store::take_due_deliveries`](crate::Store::take_due_deliveries).
pub(super) fn take_due_deliveries(
    c: &mut Client,
    channels: &[String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    let _ = (&c, channels, now, lease_until, limit);
    Err(not_yet("take_due_deliveries"))
}

/// [`Store::record_delivery_attempt`](crate::Store::record_delivery_attempt).
pub(super) fn record_delivery_attempt(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
    outcome: &AttemptOutcome,
) -> Result<Option<Delivery>, StoreError> {
    let _ = (&c, id, at, outcome);
    Err(not_yet("record_delivery_attempt"))
}

/// [`Store::deliveries`](crate::Store::deliveries).
pub(super) fn deliveries(
    c: &mut Client,
    query: &DeliveryQuery,
) -> Result<Vec<Delivery>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("deliveries"))
}
