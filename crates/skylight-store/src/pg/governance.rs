//! The governance log in the PostgreSQL store: every action, what it called, and where it stands.
//!
//! Several processes share the log, so what SQLite gets from its single writer comes from the
//! database here: the unique partial index `governance_log_running` lets one action of a kind
//! hold a target while pending or in progress, and `update_action` changes a row it has locked.

use postgres::error::SqlState;
use postgres::{GenericClient, Row};
use skylight_model::{ActionKind, ActionStatus, ActionStep, TargetKind};

use super::directory::limit;
use super::*;

/// A governance log row, as `read_entry` reads it.
const COLUMNS: &str = "id, tenant, action, target_kind, target_id, target_name, requested_by, \
     alert_id, params, status, attempts, steps, warnings, error, created_ns, updated_ns";

/// How many times `begin_action` tries again when the entry that held the target ends between
/// its insert and its read (each time another entry took the target and ended at once).
const BEGIN_TRIES: usize = 16;

/// Whether an action in this status holds its target (the partial index's condition).
fn holds(status: ActionStatus) -> bool {
    matches!(status, ActionStatus::Pending | ActionStatus::InProgress)
}

/// The error of an entry that cannot be read back.
fn corrupt(id: i64, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("governance entry {id}: {what}: {e}"))
}

/// An entry from a row of `COLUMNS`.
fn read_entry(r: &Row) -> Result<GovernanceEntry, StoreError> {
    let id: i64 = r.try_get(0)?;
    let action: String = r.try_get(2)?;
    let kind: String = r.try_get(3)?;
    let status: String = r.try_get(9)?;
    let params: String = r.try_get(8)?;
    let steps: String = r.try_get(11)?;
    let warnings: String = r.try_get(12)?;
    Ok(GovernanceEntry {
        id,
        tenant: r.try_get(1)?,
        action: ActionKind::parse(&action).ok_or_else(|| corrupt(id, "action", &action))?,
        target_kind: match kind.as_str() {
            "user" => TargetKind::User,
            "app" => TargetKind::App,
            "file" => TargetKind::File,
            other => return Err(corrupt(id, "target kind", other)),
        },
        target_id: r.try_get(4)?,
        target_name: r.try_get(5)?,
        requested_by: r.try_get(6)?,
        alert_id: r.try_get(7)?,
        params: serde_json::from_str(&params).map_err(|e| corrupt(id, "params", e))?,
        status: ActionStatus::parse(&status).ok_or_else(|| corrupt(id, "status", &status))?,
        attempts: u32::try_from(r.try_get::<_, i64>(10)?).unwrap_or(u32::MAX),
        steps: serde_json::from_str(&steps).map_err(|e| corrupt(id, "steps", e))?,
        warnings: serde_json::from_str(&warnings).map_err(|e| corrupt(id, "warnings", e))?,
        error: r.try_get(13)?,
        created: from_ns(r.try_get(14)?),
        updated: from_ns(r.try_get(15)?),
    })
}

/// Whether PostgreSQL refused a row for a unique index (SQLSTATE 23505).
fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// [`Store::governance_entry`](crate::Store::governance_entry).
pub(super) fn governance_entry(
    c: &mut impl GenericClient,
    id: i64,
) -> Result<Option<GovernanceEntry>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM governance_log WHERE id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(read_entry)
    .transpose()
}

/// [`Store::begin_action`](crate::Store::begin_action).
pub(super) fn begin_action(
    c: &mut Client,
    d: &ActionDraft,
) -> Result<(GovernanceEntry, bool), StoreError> {
    let now = to_ns(Utc::now());
    let warnings = serde_json::to_string(&d.warnings).unwrap_or_else(|_| "[]".into());
    let params = d.params.to_string();
    let insert = c.prepare(
        "INSERT INTO governance_log (tenant, action, target_kind, target_id, target_name, \
         requested_by, alert_id, params, status, warnings, created_ns, updated_ns) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
         ON CONFLICT (tenant, action, target_id) WHERE status IN ('pending', 'in_progress') \
         DO NOTHING RETURNING id",
    )?;
    for _ in 0..BEGIN_TRIES {
        // A racing insert of the same action waits here for the other's commit, then finds the
        // conflict: the index, not this process, decides who holds the target.
        let inserted = c.query_opt(
            &insert,
            &[
                &d.tenant,
                &d.action.as_str(),
                &d.target_kind.as_str(),
                &d.target_id,
                &d.target_name,
                &d.requested_by,
                &d.alert_id,
                &params,
                &d.status.as_str(),
                &warnings,
                &now,
            ],
        )?;
        let (id, created) = match inserted {
            Some(r) => (r.try_get::<_, i64>(0)?, true),
            None if holds(d.status) => {
                let holder = c.query_opt(
                    "SELECT id FROM governance_log WHERE tenant = $1 AND action = $2 \
                     AND target_id = $3 AND status IN ('pending', 'in_progress')",
                    &[&d.tenant, &d.action.as_str(), &d.target_id],
                )?;
                match holder {
                    Some(r) => (r.try_get::<_, i64>(0)?, false),
                    // The holder ended in between: the target is free, try again.
                    None => continue,
                }
            }
            None => return Err(StoreError::Corrupt("an action was not logged".into())),
        };
        let entry = governance_entry(c, id)?.ok_or_else(|| corrupt(id, "row", "vanished"))?;
        return Ok((entry, created));
    }
    Err(StoreError::Conflict(format!(
        "{} on {} keeps starting and ending; try again",
        d.action.as_str(),
        d.target_name
    )))
}

/// [`Store::update_action`](crate::Store::update_action).
pub(super) fn update_action(
    c: &mut Client,
    id: i64,
    u: &ActionUpdate,
) -> Result<Option<GovernanceEntry>, StoreError> {
    let mut tx = c.transaction()?;
    // The row stays locked until the commit: of two racing changes expecting the same status,
    // the second reads the row as the first left it and is refused.
    let Some(mut entry) = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM governance_log WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?
        .as_ref()
        .map(read_entry)
        .transpose()?
    else {
        return Ok(None);
    };
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
    let steps: Vec<&ActionStep> = entry.steps.iter().collect();
    let result = tx.execute(
        "UPDATE governance_log SET status = $2, attempts = $3, steps = $4, warnings = $5, \
         error = $6, updated_ns = $7 WHERE id = $1",
        &[
            &id,
            &entry.status.as_str(),
            &i64::from(entry.attempts),
            &serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into()),
            &serde_json::to_string(&entry.warnings).unwrap_or_else(|_| "[]".into()),
            &entry.error,
            &to_ns(Utc::now()),
        ],
    );
    match result {
        Ok(_) => {
            let updated = governance_entry(&mut tx, id)?;
            tx.commit()?;
            Ok(updated)
        }
        // Back to pending or in progress while another entry holds the target.
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "{} on {} is already pending or in progress",
            entry.action.as_str(),
            entry.target_name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// [`Store::governance_log`](crate::Store::governance_log).
pub(super) fn governance_log(
    c: &mut Client,
    q: &GovernanceQuery,
) -> Result<Vec<GovernanceEntry>, StoreError> {
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM governance_log WHERE ($1::text IS NULL OR tenant = $1) \
             AND ($2::text IS NULL OR status = $2) \
             AND ($3::text IS NULL OR target_id = $3 \
             OR ascii_nocase(target_name) = ascii_nocase($3)) \
             AND ($4::bigint IS NULL OR alert_id = $4) ORDER BY id DESC LIMIT $5"
        ),
        &[
            &q.tenant,
            &q.status.map(ActionStatus::as_str),
            &q.target,
            &q.alert_id,
            &limit(q.limit),
        ],
    )?
    .iter()
    .map(read_entry)
    .collect()
}
