//! Access's side of the SQLite store: accounts, sessions, API tokens, the audit log and saved
//! queries (schema 8).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use skylight_model::{Account, AccountChange, ApiToken, AuditEntry, Role, SavedQuery, Session};

use super::{SqliteStore, from_ns, len_i64, to_ns};
use crate::{AccessStore, StoreError};

const ACCOUNT_COLUMNS: &str = "id, username, role, disabled, created_ns, last_login_ns";
const TOKEN_COLUMNS: &str = "id, name, role, created_by, created_ns, last_used_ns, revoked_ns";

fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown role {s:?}")))
}

fn read_account(r: &Row<'_>) -> Result<Account, StoreError> {
    let role_name: String = r.get(2)?;
    Ok(Account {
        id: r.get(0)?,
        username: r.get(1)?,
        role: role(&role_name)?,
        disabled: r.get::<_, i64>(3)? != 0,
        created: from_ns(r.get(4)?),
        last_login: r.get::<_, Option<i64>>(5)?.map(from_ns),
    })
}

fn read_token(r: &Row<'_>) -> Result<ApiToken, StoreError> {
    let role_name: String = r.get(2)?;
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: role(&role_name)?,
        created_by: r.get(3)?,
        created: from_ns(r.get(4)?),
        last_used: r.get::<_, Option<i64>>(5)?.map(from_ns),
        revoked: r.get::<_, Option<i64>>(6)?.map(from_ns),
    })
}

fn read_session(r: &Row<'_>, offset: usize) -> Result<Session, StoreError> {
    let hash: Vec<u8> = r.get(offset)?;
    Ok(Session {
        token_hash: hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("a session hash is not 32 bytes".into()))?,
        account_id: r.get(offset + 1)?,
        csrf: r.get(offset + 2)?,
        created: from_ns(r.get(offset + 3)?),
        last_seen: from_ns(r.get(offset + 4)?),
        expires: from_ns(r.get(offset + 5)?),
    })
}

fn read_saved(r: &Row<'_>) -> Result<SavedQuery, StoreError> {
    Ok(SavedQuery {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        query: r.get(3)?,
        created: from_ns(r.get(4)?),
    })
}

/// Collects rows read by a fallible reader.
fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    read: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(read(r)?);
    }
    Ok(out)
}

impl AccessStore for SqliteStore {
    fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Option<Account>, StoreError> {
        let inner = self.lock();
        let now = to_ns(Utc::now());
        let id: Option<i64> = inner
            .conn
            .prepare_cached(
                "INSERT INTO accounts (username, password_hash, role, created_ns, updated_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (username) DO NOTHING RETURNING id",
            )?
            .query_row(params![username, password_hash, role.as_str(), now], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
        ))?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_account(r)?)),
            None => Ok(None),
        }
    }

    fn account_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .lock()
            .conn
            .prepare_cached("SELECT count(*) FROM accounts")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn account_by_name(&self, username: &str) -> Result<Option<(Account, String)>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE username = ?1"
        ))?;
        let mut rows = stmt.query([username])?;
        match rows.next()? {
            Some(r) => Ok(Some((read_account(r)?, r.get(6)?))),
            None => Ok(None),
        }
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username"
        ))?;
        collect(stmt.query([])?, read_account)
    }

    fn update_account(
        &self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE accounts SET role = coalesce(?2, role), disabled = coalesce(?3, disabled), \
             password_hash = coalesce(?4, password_hash), updated_ns = ?5 WHERE id = ?1",
            params![
                id,
                change.role.map(Role::as_str),
                change.disabled.map(i64::from),
                change.password_hash,
                to_ns(Utc::now())
            ],
        )?;
        if n == 0 {
            return Ok(None);
        }
        tx.execute("DELETE FROM sessions WHERE account_id = ?1", [id])?;
        let account = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
            ))?;
            let mut rows = stmt.query([id])?;
            match rows.next()? {
                Some(r) => Some(read_account(r)?),
                None => None,
            }
        };
        tx.commit()?;
        Ok(account)
    }

    fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO sessions (token_hash, account_id, csrf, created_ns, last_seen_ns, expires_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                s.token_hash.as_slice(),
                s.account_id,
                s.csrf,
                to_ns(s.created),
                to_ns(s.last_seen),
                to_ns(s.expires)
            ],
        )?;
        tx.execute(
            "UPDATE accounts SET last_login_ns = ?2 WHERE id = ?1",
            params![s.account_id, to_ns(s.created)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT a.id, a.username, a.role, a.disabled, a.created_ns, a.last_login_ns, \
             s.token_hash, s.account_id, s.csrf, s.created_ns, s.last_seen_ns, s.expires_ns \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = ?1 AND s.expires_ns > ?2 AND a.disabled = 0",
        )?;
        let mut rows = stmt.query(params![token_hash.as_slice(), to_ns(now)])?;
        match rows.next()? {
            Some(r) => Ok(Some((read_session(r, 6)?, read_account(r)?))),
            None => Ok(None),
        }
    }

    fn touch_session(
        &self,
        token_hash: &[u8; 32],
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock()
            .conn
            .prepare_cached(
                "UPDATE sessions SET last_seen_ns = ?2, expires_ns = ?3 WHERE token_hash = ?1",
            )?
            .execute(params![
                token_hash.as_slice(),
                to_ns(last_seen),
                to_ns(expires)
            ])?;
        Ok(())
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .conn
            .prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
            .execute([token_hash.as_slice()])?;
        Ok(n > 0)
    }

    fn prune_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n = self
            .lock()
            .conn
            .prepare_cached("DELETE FROM sessions WHERE expires_ns <= ?1")?
            .execute([to_ns(now)])?;
        Ok(n as u64)
    }

    fn create_api_token(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        role: Role,
        created_by: &str,
    ) -> Result<ApiToken, StoreError> {
        let inner = self.lock();
        let now = Utc::now();
        let id: i64 = inner
            .conn
            .prepare_cached(
                "INSERT INTO api_tokens (name, token_hash, role, created_by, created_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            )?
            .query_row(
                params![
                    name,
                    token_hash.as_slice(),
                    role.as_str(),
                    created_by,
                    to_ns(now)
                ],
                |r| r.get(0),
            )?;
        Ok(ApiToken {
            id,
            name: name.to_owned(),
            role,
            created_by: created_by.to_owned(),
            created: from_ns(to_ns(now)),
            last_used: None,
            revoked: None,
        })
    }

    fn api_token_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1 AND revoked_ns IS NULL"
        ))?;
        let mut rows = stmt.query([token_hash.as_slice()])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_token(r)?)),
            None => Ok(None),
        }
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id DESC"
        ))?;
        collect(stmt.query([])?, read_token)
    }

    fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.lock()
            .conn
            .prepare_cached("UPDATE api_tokens SET last_used_ns = ?2 WHERE id = ?1")?
            .execute(params![id, to_ns(at)])?;
        Ok(())
    }

    fn revoke_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .conn
            .prepare_cached(
                "UPDATE api_tokens SET revoked_ns = ?2 WHERE id = ?1 AND revoked_ns IS NULL",
            )?
            .execute(params![id, to_ns(at)])?;
        Ok(n > 0)
    }

    fn record_audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .conn
            .prepare_cached(
                "INSERT INTO audit_log (at_ns, actor, action, target, detail, ip) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            )?
            .query_row(
                params![to_ns(e.at), e.actor, e.action, e.target, e.detail, e.ip],
                |r| r.get(0),
            )?)
    }

    fn audit_log(&self, limit: usize, before: Option<i64>) -> Result<Vec<AuditEntry>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id, at_ns, actor, action, target, detail, ip FROM audit_log \
             WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query(params![before.unwrap_or(i64::MAX), len_i64(limit)])?;
        collect(rows, |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: from_ns(r.get(1)?),
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
                ip: r.get(6)?,
            })
        })
    }

    fn save_query(
        &self,
        account_id: i64,
        name: &str,
        query: &str,
    ) -> Result<SavedQuery, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "INSERT INTO saved_queries (account_id, name, query, created_ns) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (account_id, name) DO UPDATE SET query = excluded.query, created_ns = excluded.created_ns \
             RETURNING id, account_id, name, query, created_ns",
        )?;
        let mut rows = stmt.query(params![account_id, name, query, to_ns(Utc::now())])?;
        match rows.next()? {
            Some(r) => read_saved(r),
            None => Err(StoreError::Corrupt("a saved query was not returned".into())),
        }
    }

    fn saved_queries(&self, account_id: i64) -> Result<Vec<SavedQuery>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id, account_id, name, query, created_ns FROM saved_queries \
             WHERE account_id = ?1 ORDER BY name",
        )?;
        collect(stmt.query([account_id])?, read_saved)
    }

    fn delete_saved_query(&self, account_id: i64, id: i64) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .conn
            .prepare_cached("DELETE FROM saved_queries WHERE id = ?1 AND account_id = ?2")?
            .execute(params![id, account_id])?;
        Ok(n > 0)
    }
}
