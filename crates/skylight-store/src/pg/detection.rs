//! detection (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::detection_state`](crate::Store::detection_state).
pub(super) fn detection_state(c: &mut Client) -> Result<(i64, Vec<StateEntry>), StoreError> {
    let _ = &c;
    Err(not_yet("detection_state"))
}

/// [`Store::commit_detection`](crate::Store::commit_detection).
pub(super) fn commit_detection(
    c: &mut Client,
    progress: i64,
    alerts: &[AlertDraft],
    state: &[StateChange],
) -> Result<(), StoreError> {
    let _ = (&c, progress, alerts, state);
    Err(not_yet("commit_detection"))
}

/// [`Store::raise_new_alerts`](crate::Store::raise_new_alerts).
pub(super) fn raise_new_alerts(c: &mut Client, alerts: &[AlertDraft]) -> Result<u64, StoreError> {
    let _ = (&c, alerts);
    Err(not_yet("raise_new_alerts"))
}

/// [`Store::stored_policies`](crate::Store::stored_policies).
pub(super) fn stored_policies(c: &mut Client) -> Result<Vec<(String, String)>, StoreError> {
    let _ = &c;
    Err(not_yet("stored_policies"))
}

/// [`Store::put_policy`](crate::Store::put_policy).
pub(super) fn put_policy(c: &mut Client, id: &str, body: &str) -> Result<(), StoreError> {
    let _ = (&c, id, body);
    Err(not_yet("put_policy"))
}

/// [`Store::delete_policy`](crate::Store::delete_policy).
pub(super) fn delete_policy(c: &mut Client, id: &str) -> Result<bool, StoreError> {
    let _ = (&c, id);
    Err(not_yet("delete_policy"))
}

/// [`Store::policy_version`](crate::Store::policy_version).
pub(super) fn policy_version(c: &mut Client) -> Result<i64, StoreError> {
    let _ = &c;
    Err(not_yet("policy_version"))
}

/// [`Store::detection_progress`](crate::Store::detection_progress).
pub(super) fn detection_progress(c: &mut Client) -> Result<(i64, i64), StoreError> {
    let _ = &c;
    Err(not_yet("detection_progress"))
}

/// [`Store::alerts`](crate::Store::alerts).
pub(super) fn alerts(c: &mut Client, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("alerts"))
}

/// [`Store::alert`](crate::Store::alert).
pub(super) fn alert(c: &mut Client, id: i64) -> Result<Option<Alert>, StoreError> {
    let _ = (&c, id);
    Err(not_yet("alert"))
}

/// [`Store::update_alert`](crate::Store::update_alert).
pub(super) fn update_alert(
    c: &mut Client,
    id: i64,
    change: &AlertChange,
) -> Result<Option<Alert>, StoreError> {
    let _ = (&c, id, change);
    Err(not_yet("update_alert"))
}
