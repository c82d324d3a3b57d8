//! The governance log in the SQLite store: every action, what it called, and where it stands.

use chrono::Utc;
use rusqlite::{ErrorCode, OptionalExtension, params};
use skylight_model::{ActionKind, ActionStatus, ActionStep, GovernanceEntry, TargetKind};

use super::{Inner, from_ns, to_ns};
use crate::{ActionDraft, ActionUpdate, GovernanceQuery, StoreError};

const COLUMNS: &str = "id, tenant, action, target_kind, target_id, target_name, requested_by, \
     alert_id, params, status, attempts, steps, warnings, error, created_ns, updated_ns";

/// The key that keeps one action on one target from running twice at once.
fn running_key(tenant: &str, action: &str, target: &str) -> String {
    format!("{tenant}\u{1f}{action}\u{1f}{target}")
}

/// Whether an action in this status holds its target.
fn holds(status: ActionStatus) -> bool {
    matches!(status, ActionStatus::Pending | ActionStatus::InProgress)
}

fn corrupt(id: i64, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("governance entry {id}: {what}: {e}"))
}

fn read_entry(r: &rusqlite::Row<'_>) -> Result<GovernanceEntry, StoreError> {
    let id: i64 = r.get(0)?;
    let action: String = r.get(2)?;
    let kind: String = r.get(3)?;
    let status: String = r.get(9)?;
    let params: String = r.get(8)?;
    let steps: String = r.get(11)?;
    let warnings: String = r.get(12)?;
    Ok(GovernanceEntry {
        id,
        tenant: r.get(1)?,
        action: ActionKind::parse(&action).ok_or_else(|| corrupt(id, "action", &action))?,
        target_kind: match kind.as_str() {
            "user" => TargetKind::User,
            "app" => TargetKind::App,
            "file" => TargetKind::File,
            other => return Err(corrupt(id, "target kind", other)),
        },
        target_id: r.get(4)?,
        target_name: r.get(5)?,
        requested_by: r.get(6)?,
        alert_id: r.get(7)?,
        params: serde_json::from_str(&params).map_err(|e| corrupt(id, "params", e))?,
        status: ActionStatus::parse(&status).ok_or_else(|| corrupt(id, "status", &status))?,
        attempts: u32::try_from(r.get::<_, i64>(10)?).unwrap_or(u32::MAX),
        steps: serde_json::from_str(&steps).map_err(|e| corrupt(id, "steps", e))?,
        warnings: serde_json::from_str(&warnings).map_err(|e| corrupt(id, "warnings", e))?,
        error: r.get(13)?,
        created: from_ns(r.get(14)?),
        updated: from_ns(r.get(15)?),
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

impl Inner {
    pub(super) fn governance_entry(&self, id: i64) -> Result<Option<GovernanceEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM governance_log WHERE id = ?1"
        ))?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_entry(r)?)),
            None => Ok(None),
        }
    }

    pub(super) fn begin_action(
        &self,
        d: &ActionDraft,
    ) -> Result<(GovernanceEntry, bool), StoreError> {
        let key = holds(d.status).then(|| running_key(&d.tenant, d.action.as_str(), &d.target_id));
        let now = to_ns(Utc::now());
        let warnings = serde_json::to_string(&d.warnings).unwrap_or_else(|_| "[]".into());
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO governance_log (tenant, action, target_kind, target_id, target_name, \
                 requested_by, alert_id, params, status, warnings, running_key, created_ns, updated_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) \
                 ON CONFLICT (running_key) DO NOTHING RETURNING id",
            )?
            .query_row(
                params![
                    d.tenant,
                    d.action.as_str(),
                    d.target_kind.as_str(),
                    d.target_id,
                    d.target_name,
                    d.requested_by,
                    d.alert_id,
                    d.params.to_string(),
                    d.status.as_str(),
                    warnings,
                    key,
                    now
                ],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        let (id, created) = match inserted {
            Some(id) => (id, true),
            None => {
                let id: i64 = self
                    .conn
                    .prepare_cached("SELECT id FROM governance_log WHERE running_key = ?1")?
                    .query_row([&key], |r| r.get(0))?;
                (id, false)
            }
        };
        let entry = self
            .governance_entry(id)?
            .ok_or_else(|| corrupt(id, "row", "vanished"))?;
        Ok((entry, created))
    }

    pub(super) fn update_action(
        &mut self,
        id: i64,
        u: &ActionUpdate,
    ) -> Result<Option<GovernanceEntry>, StoreError> {
        let Some(mut entry) = self.governance_entry(id)? else {
            return Ok(None);
        };
        // Read and written under the store's lock: one of two racing changes finds it moved.
        if let Some(expected) = u.expect
            && entry.status != expected
        {
            return Err(StoreError::Conflict(format!(
                "action {id} is {}, no longer {}",
                entry.status.as_str(),
                expected.as_str()
            )));
        }
        if let Some(s) = u.status {
            entry.status = s;
        }
        if u.attempt {
            entry.attempts += 1;
        }
        entry.steps.extend(u.steps.iter().cloned());
        entry.warnings.extend(u.warnings.iter().cloned());
        if let Some(e) = &u.error {
            entry.error = (!e.is_empty()).then(|| e.clone());
        }
        let key = holds(entry.status)
            .then(|| running_key(&entry.tenant, entry.action.as_str(), &entry.target_id));
        let steps: Vec<&ActionStep> = entry.steps.iter().collect();
        let result = self
            .conn
            .prepare_cached(
                "UPDATE governance_log SET status = ?2, attempts = ?3, steps = ?4, warnings = ?5, \
                 error = ?6, running_key = ?7, updated_ns = ?8 WHERE id = ?1",
            )?
            .execute(params![
                id,
                entry.status.as_str(),
                i64::from(entry.attempts),
                serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into()),
                serde_json::to_string(&entry.warnings).unwrap_or_else(|_| "[]".into()),
                entry.error,
                key,
                to_ns(Utc::now())
            ]);
        match result {
            Ok(_) => self.governance_entry(id),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "{} on {} is already pending or in progress",
                entry.action.as_str(),
                entry.target_name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn governance_log(
        &self,
        q: &GovernanceQuery,
    ) -> Result<Vec<GovernanceEntry>, StoreError> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM governance_log WHERE (?1 IS NULL OR tenant = ?1) \
             AND (?2 IS NULL OR status = ?2) \
             AND (?3 IS NULL OR target_id = ?3 OR target_name = ?3 COLLATE NOCASE) \
             AND (?4 IS NULL OR alert_id = ?4) ORDER BY id DESC"
        );
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![
            q.tenant,
            q.status.map(ActionStatus::as_str),
            q.target,
            q.alert_id
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read_entry(r)?);
        }
        Ok(out)
    }
}
