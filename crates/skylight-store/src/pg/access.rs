//! Access's side of the PostgreSQL store: accounts, sessions, API tokens, the audit log and saved
//! queries. Behaves as the SQLite backend's `sqlite/access.rs`, query by query.

use postgres::{GenericClient, Row};

use super::*;

/// An account row, as `read_account` reads it.
const ACCOUNT_COLUMNS: &str = "id, username, role, disabled, created_ns, last_login_ns";
/// A token row, as `read_token` reads it.
const TOKEN_COLUMNS: &str = "id, name, role, created_by, created_ns, last_used_ns, revoked_ns";
/// A saved query row, as `read_saved` reads it.
const SAVED_COLUMNS: &str = "id, account_id, name, query, created_ns";

/// A role from its stored name.
fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown role {s:?}")))
}

/// An account from a row starting with `ACCOUNT_COLUMNS`.
fn read_account(r: &Row) -> Result<Account, StoreError> {
    let role_name: String = r.try_get(2)?;
    Ok(Account {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        role: role(&role_name)?,
        disabled: r.try_get(3)?,
        created: from_ns(r.try_get(4)?),
        last_login: r.try_get::<_, Option<i64>>(5)?.map(from_ns),
    })
}

/// A token from a row of `TOKEN_COLUMNS`.
fn read_token(r: &Row) -> Result<ApiToken, StoreError> {
    let role_name: String = r.try_get(2)?;
    Ok(ApiToken {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: role(&role_name)?,
        created_by: r.try_get(3)?,
        created: from_ns(r.try_get(4)?),
        last_used: r.try_get::<_, Option<i64>>(5)?.map(from_ns),
        revoked: r.try_get::<_, Option<i64>>(6)?.map(from_ns),
    })
}

/// A session from the row's columns from `offset` on.
fn read_session(r: &Row, offset: usize) -> Result<Session, StoreError> {
    let hash: Vec<u8> = r.try_get(offset)?;
    Ok(Session {
        token_hash: hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("a session hash is not 32 bytes".into()))?,
        account_id: r.try_get(offset + 1)?,
        csrf: r.try_get(offset + 2)?,
        created: from_ns(r.try_get(offset + 3)?),
        last_seen: from_ns(r.try_get(offset + 4)?),
        expires: from_ns(r.try_get(offset + 5)?),
    })
}

/// A saved query from a row of `SAVED_COLUMNS`.
fn read_saved(r: &Row) -> Result<SavedQuery, StoreError> {
    Ok(SavedQuery {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        name: r.try_get(2)?,
        query: r.try_get(3)?,
        created: from_ns(r.try_get(4)?),
    })
}

/// One account by number, on a connection or inside a transaction.
fn account(c: &mut impl GenericClient, id: i64) -> Result<Option<Account>, StoreError> {
    c.query_opt(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(read_account)
    .transpose()
}

/// [`AccessStore::create_account`](crate::AccessStore::create_account).
pub(super) fn create_account(
    c: &mut Client,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<Option<Account>, StoreError> {
    let now = to_ns(Utc::now());
    // The only unique key a new row can collide with is the name's (`accounts_username`): a
    // taken name, whatever its case, inserts nothing, even when two processes race for it.
    let id = c.query_opt(
        "INSERT INTO accounts (username, password_hash, role, created_ns, updated_ns) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING RETURNING id",
        &[&username, &password_hash, &role.as_str(), &now],
    )?;
    match id {
        Some(r) => account(c, r.try_get(0)?),
        None => Ok(None),
    }
}

/// [`AccessStore::account_count`](crate::AccessStore::account_count).
pub(super) fn account_count(c: &mut Client) -> Result<u64, StoreError> {
    let n: i64 = c
        .query_one("SELECT count(*) FROM accounts", &[])?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// [`AccessStore::account_by_name`](crate::AccessStore::account_by_name).
pub(super) fn account_by_name(
    c: &mut Client,
    username: &str,
) -> Result<Option<(Account, String)>, StoreError> {
    match c.query_opt(
        &format!(
            "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts \
             WHERE ascii_nocase(username) = ascii_nocase($1)"
        ),
        &[&username],
    )? {
        Some(r) => Ok(Some((read_account(&r)?, r.try_get(6)?))),
        None => Ok(None),
    }
}

/// [`AccessStore::accounts`](crate::AccessStore::accounts).
pub(super) fn accounts(c: &mut Client) -> Result<Vec<Account>, StoreError> {
    // SQLite orders the name by its NOCASE collation.
    c.query(
        &format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY ascii_nocase(username) COLLATE \"C\""
        ),
        &[],
    )?
    .iter()
    .map(read_account)
    .collect()
}

/// [`AccessStore::update_account`](crate::AccessStore::update_account).
pub(super) fn update_account(
    c: &mut Client,
    id: i64,
    change: &AccountChange,
) -> Result<Option<Account>, StoreError> {
    let mut tx = c.transaction()?;
    let n = tx.execute(
        "UPDATE accounts SET role = coalesce($2, role), disabled = coalesce($3, disabled), \
         password_hash = coalesce($4, password_hash), updated_ns = $5 WHERE id = $1",
        &[
            &id,
            &change.role.map(Role::as_str),
            &change.disabled,
            &change.password_hash,
            &to_ns(Utc::now()),
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    tx.execute("DELETE FROM sessions WHERE account_id = $1", &[&id])?;
    let updated = account(&mut tx, id)?;
    tx.commit()?;
    Ok(updated)
}

/// [`AccessStore::create_session`](crate::AccessStore::create_session).
pub(super) fn create_session(c: &mut Client, s: &Session) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO sessions (token_hash, account_id, csrf, created_ns, last_seen_ns, expires_ns) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &s.token_hash.as_slice(),
            &s.account_id,
            &s.csrf,
            &to_ns(s.created),
            &to_ns(s.last_seen),
            &to_ns(s.expires),
        ],
    )?;
    tx.execute(
        "UPDATE accounts SET last_login_ns = $2 WHERE id = $1",
        &[&s.account_id, &to_ns(s.created)],
    )?;
    tx.commit()?;
    Ok(())
}

/// [`AccessStore::session`](crate::AccessStore::session).
pub(super) fn session(
    c: &mut Client,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<(Session, Account)>, StoreError> {
    match c.query_opt(
        "SELECT a.id, a.username, a.role, a.disabled, a.created_ns, a.last_login_ns, \
         s.token_hash, s.account_id, s.csrf, s.created_ns, s.last_seen_ns, s.expires_ns \
         FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = $1 AND s.expires_ns > $2 AND NOT a.disabled",
        &[&token_hash.as_slice(), &to_ns(now)],
    )? {
        Some(r) => Ok(Some((read_session(&r, 6)?, read_account(&r)?))),
        None => Ok(None),
    }
}

/// [`AccessStore::touch_session`](crate::AccessStore::touch_session).
pub(super) fn touch_session(
    c: &mut Client,
    token_hash: &[u8; 32],
    last_seen: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sessions SET last_seen_ns = $2, expires_ns = $3 WHERE token_hash = $1",
        &[&token_hash.as_slice(), &to_ns(last_seen), &to_ns(expires)],
    )?;
    Ok(())
}

/// [`AccessStore::delete_session`](crate::AccessStore::delete_session).
pub(super) fn delete_session(c: &mut Client, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
    let n = c.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        &[&token_hash.as_slice()],
    )?;
    Ok(n > 0)
}

/// [`AccessStore::prune_sessions`](crate::AccessStore::prune_sessions).
pub(super) fn prune_sessions(c: &mut Client, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(c.execute(
        "DELETE FROM sessions WHERE expires_ns <= $1",
        &[&to_ns(now)],
    )?)
}

/// [`AccessStore::create_api_token`](crate::AccessStore::create_api_token).
pub(super) fn create_api_token(
    c: &mut Client,
    name: &str,
    token_hash: &[u8; 32],
    role: Role,
    created_by: &str,
) -> Result<ApiToken, StoreError> {
    let now = to_ns(Utc::now());
    let id: i64 = c
        .query_one(
            "INSERT INTO api_tokens (name, token_hash, role, created_by, created_ns) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &name,
                &token_hash.as_slice(),
                &role.as_str(),
                &created_by,
                &now,
            ],
        )?
        .try_get(0)?;
    Ok(ApiToken {
        id,
        name: name.to_owned(),
        role,
        created_by: created_by.to_owned(),
        created: from_ns(now),
        last_used: None,
        revoked: None,
    })
}

/// [`AccessStore::api_token_by_hash`](crate::AccessStore::api_token_by_hash).
pub(super) fn api_token_by_hash(
    c: &mut Client,
    token_hash: &[u8; 32],
) -> Result<Option<ApiToken>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_ns IS NULL"
        ),
        &[&token_hash.as_slice()],
    )?
    .as_ref()
    .map(read_token)
    .transpose()
}

/// [`AccessStore::api_tokens`](crate::AccessStore::api_tokens).
pub(super) fn api_tokens(c: &mut Client) -> Result<Vec<ApiToken>, StoreError> {
    c.query(
        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id DESC"),
        &[],
    )?
    .iter()
    .map(read_token)
    .collect()
}

/// [`AccessStore::touch_api_token`](crate::AccessStore::touch_api_token).
pub(super) fn touch_api_token(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE api_tokens SET last_used_ns = $2 WHERE id = $1",
        &[&id, &to_ns(at)],
    )?;
    Ok(())
}

/// [`AccessStore::revoke_api_token`](crate::AccessStore::revoke_api_token).
pub(super) fn revoke_api_token(
    c: &mut Client,
    id: i64,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE api_tokens SET revoked_ns = $2 WHERE id = $1 AND revoked_ns IS NULL",
        &[&id, &to_ns(at)],
    )?;
    Ok(n > 0)
}

/// [`AccessStore::record_audit`](crate::AccessStore::record_audit).
pub(super) fn record_audit(c: &mut Client, e: &AuditEntry) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "INSERT INTO audit_log (at_ns, actor, action, target, detail, ip) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &to_ns(e.at),
            &e.actor,
            &e.action,
            &e.target,
            &e.detail,
            &e.ip,
        ],
    )?
    .try_get(0)?)
}

/// [`AccessStore::audit_log`](crate::AccessStore::audit_log).
pub(super) fn audit_log(
    c: &mut Client,
    limit: usize,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, StoreError> {
    // As in SQLite, a limit of 0 is 0 entries.
    c.query(
        "SELECT id, at_ns, actor, action, target, detail, ip FROM audit_log \
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
        &[&before.unwrap_or(i64::MAX), &to_count(limit as u64)],
    )?
    .iter()
    .map(|r| {
        Ok(AuditEntry {
            id: r.try_get(0)?,
            at: from_ns(r.try_get(1)?),
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            target: r.try_get(4)?,
            detail: r.try_get(5)?,
            ip: r.try_get(6)?,
        })
    })
    .collect()
}

/// [`AccessStore::save_query`](crate::AccessStore::save_query).
pub(super) fn save_query(
    c: &mut Client,
    account_id: i64,
    name: &str,
    query: &str,
) -> Result<SavedQuery, StoreError> {
    let row = c.query_one(
        &format!(
            "INSERT INTO saved_queries (account_id, name, query, created_ns) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, name) DO UPDATE SET \
             query = excluded.query, created_ns = excluded.created_ns RETURNING {SAVED_COLUMNS}"
        ),
        &[&account_id, &name, &query, &to_ns(Utc::now())],
    )?;
    read_saved(&row)
}

/// [`AccessStore::saved_queries`](crate::AccessStore::saved_queries).
pub(super) fn saved_queries(
    c: &mut Client,
    account_id: i64,
) -> Result<Vec<SavedQuery>, StoreError> {
    c.query(
        &format!("SELECT {SAVED_COLUMNS} FROM saved_queries WHERE account_id = $1 ORDER BY name"),
        &[&account_id],
    )?
    .iter()
    .map(read_saved)
    .collect()
}

/// [`AccessStore::delete_saved_query`](crate::AccessStore::delete_saved_query).
pub(super) fn delete_saved_query(
    c: &mut Client,
    account_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "DELETE FROM saved_queries WHERE id = $1 AND account_id = $2",
        &[&id, &account_id],
    )?;
    Ok(n > 0)
}
