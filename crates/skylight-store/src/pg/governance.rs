//! governance (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`Store::begin_action`](crate::Store::begin_action).
pub(super) fn begin_action(
    c: &mut Client,
    draft: &ActionDraft,
) -> Result<(GovernanceEntry, bool), StoreError> {
    let _ = (&c, draft);
    Err(not_yet("begin_action"))
}

/// [`Store::update_action`](crate::Store::update_action).
pub(super) fn update_action(
    c: &mut Client,
    id: i64,
    update: &ActionUpdate,
) -> Result<Option<GovernanceEntry>, StoreError> {
    let _ = (&c, id, update);
    Err(not_yet("update_action"))
}

/// [`Store::governance_log`](crate::Store::governance_log).
pub(super) fn governance_log(
    c: &mut Client,
    query: &GovernanceQuery,
) -> Result<Vec<GovernanceEntry>, StoreError> {
    let _ = (&c, query);
    Err(not_yet("governance_log"))
}

/// [`Store::governance_entry`](crate::Store::governance_entry).
pub(super) fn governance_entry(
    c: &mut Client,
    id: i64,
) -> Result<Option<GovernanceEntry>, StoreError> {
    let _ = (&c, id);
    Err(not_yet("governance_entry"))
}
