//! access (PostgreSQL): to be written.

#[allow(unused_imports)]
use super::*;

/// [`AccessStore::create_account`](crate::AccessStore::create_account).
pub(super) fn create_account(
    c: &mut Client,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<Option<Account>, StoreError> {
    let _ = (&c, username, password_hash, role);
    Err(not_yet("create_account"))
}

/// [`AccessStore::account_count`](crate::AccessStore::account_count).
pub(super) fn account_count(c: &mut Client) -> Result<u64, StoreError> {
    let _ = &c;
    Err(not_yet("account_count"))
}

/// [`AccessStore::account_by_name`](crate::AccessStore::account_by_name).
pub(super) fn account_by_name(
    c: &mut Client,
    username: &str,
) -> Result<Option<(Account, String)>, StoreError> {
    let _ = (&c, username);
    Err(not_yet("account_by_name"))
}

/// [`AccessStore::accounts`](crate::AccessStore::accounts).
pub(super) fn accounts(c: &mut Client) -> Result<Vec<Account>, StoreError> {
    let _ = &c;
    Err(not_yet("accounts"))
}

/// [`AccessStore::update_account`](crate::AccessStore::update_account).
pub(super) fn update_account(
    c: &mut Client,
    id: i64,
    change: &AccountChange,
) -> Result<Option<Account>, StoreError> {
    let _ = (&c, id, change);
    Err(not_yet("update_account"))
}

/// [`AccessStore::create_session`](crate::AccessStore::create_session).
pub(super) fn create_session(c: &mut Client, session: &Session) -> Result<(), StoreError> {
    let _ = (&c, session);
    Err(not_yet("create_session"))
}

/// [`AccessStore::session`](crate::AccessStore::session).
pub(super) fn session(
    c: &mut Client,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<(Session, Account)>, StoreError> {
    let _ = (&c, token_hash, now);
    Err(not_yet("session"))
}

/// [`AccessStore::touch_session`](crate::AccessStore::touch_session).
pub(super) fn touch_session(
    c: &mut Client,
    token_hash: &[u8; 32],
    last_seen: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    let _ = (&c, token_hash, last_seen, expires);
    Err(not_yet("touch_session"))
}

/// [`AccessStore::delete_session`](crate::AccessStore::delete_session).
pub(super) fn delete_session(c: &mut Client, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
    let _ = (&c, token_hash);
    Err(not_yet("delete_session"))
}

/// [`AccessStore::prune_sessions`](crate::AccessStore::prune_sessions).
pub(super) fn prune_sessions(c: &mut Client, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let _ = (&c, now);
    Err(not_yet("prune_sessions"))
}

/// [`AccessStore::create_api_token`](crate::AccessStore::create_api_token).
pub(super) fn create_api_token(
    c: &mut Client,
    name: &str,
    token_hash: &[u8; 32],
    role: Role,
    created_by: &str,
) -> Result<ApiToken, StoreError> {
    let _ = (&c, name, token_hash, role, created_by);
    Err(not_yet("create_api_token"))
}

/// [`AccessStore::api_token_by_hash`](crate::AccessStore::api_token_by_hash).
pub(super) fn api_token_by_hash(
    c: &mut Client,
    token_hash: &[u8; 32],
) -> Result<Option<ApiToken>, StoreError> {
    let _ = (&c, token_hash);
    Err(not_yet("api_token_by_hash"))
}

/// [`AccessStore::api_tokens`](crate::AccessStore::api_tokens).
pub(super) fn api_tokens(c: &mut Client) -> Result<Vec<ApiToken>, StoreError> {
    let _ = &c;
    Err(not_yet("api_tokens"))
}

/// [`AccessStore::touch_api_token`](crate::AccessStore::touch_api_token).
pub(super) fn touch_api_token(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let _ = (&c, id, at);
    Err(not_yet("touch_api_token"))
}

/// [`AccessStore::revoke_api_token`](crate::AccessStore::revoke_api_token).
pub(super) fn revoke_api_token(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let _ = (&c, id, at);
    Err(not_yet("revoke_api_token"))
}

/// [`AccessStore::record_audit`](crate::AccessStore::record_audit).
pub(super) fn record_audit(c: &mut Client, entry: &AuditEntry) -> Result<i64, StoreError> {
    let _ = (&c, entry);
    Err(not_yet("record_audit"))
}

/// [`AccessStore::audit_log`](crate::AccessStore::audit_log).
pub(super) fn audit_log(
    c: &mut Client,
    limit: usize,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, StoreError> {
    let _ = (&c, limit, before);
    Err(not_yet("audit_log"))
}

/// [`AccessStore::save_query`](crate::AccessStore::save_query).
pub(super) fn save_query(
    c: &mut Client,
    account_id: i64,
    name: &str,
    query: &str,
) -> Result<SavedQuery, StoreError> {
    let _ = (&c, account_id, name, query);
    Err(not_yet("save_query"))
}

/// [`AccessStore::saved_queries`](crate::AccessStore::saved_queries).
pub(super) fn saved_queries(
    c: &mut Client,
    account_id: i64,
) -> Result<Vec<SavedQuery>, StoreError> {
    let _ = (&c, account_id);
    Err(not_yet("saved_queries"))
}

/// [`AccessStore::delete_saved_query`](crate::AccessStore::delete_saved_query).
pub(super) fn delete_saved_query(
    c: &mut Client,
    account_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    let _ = (&c, account_id, id);
    Err(not_yet("delete_saved_query"))
}
