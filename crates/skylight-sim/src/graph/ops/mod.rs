//! Changes to the Graph state, with Graph's rules and errors: what a write endpoint does once
//! its request is read. Each change takes a sequence number (delta sees it) and publishes the
//! audit record Microsoft would (see [`super::audit`]).

mod files;
mod sharing;

pub use files::{ctag, etag};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::audit::{self, Actor};
use super::drives::Ident;
use super::generate::ident_of;
use super::{GRisky, GraphState, MembershipChange, PendingRevert};

/// A refused change: HTTP status, Graph error code and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct OpError {
    /// HTTP status.
    pub status: u16,
    /// Graph error code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// Nested, more specific code (OneDrive errors).
    pub inner: Option<&'static str>,
}

/// Shorthand for an error.
pub fn err(status: u16, code: &'static str, message: impl Into<String>) -> OpError {
    OpError {
        status,
        code,
        message: message.into(),
        inner: None,
    }
}

/// 404 for a directory object.
pub fn no_object(key: &str) -> OpError {
    err(
        404,
        "Request_ResourceNotFound",
        format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// 404 for a drive, item or permission.
pub fn no_item() -> OpError {
    err(404, "itemNotFound", "The resource could not be found.")
}

const SYNCED: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";

/// What `conflictBehavior` asks for when a name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// 409 `nameAlreadyExists` (the default).
    Fail,
    /// Replace the existing item.
    Replace,
    /// Pick a free name.
    Rename,
}

impl Conflict {
    /// Reads `fail`, `replace` or `rename`.
    pub fn parse(s: Option<&str>) -> Result<Conflict, OpError> {
        match s.map(str::to_ascii_lowercase).as_deref() {
            None | Some("fail") => Ok(Conflict::Fail),
            Some("replace") => Ok(Conflict::Replace),
            Some("rename") => Ok(Conflict::Rename),
            Some(o) => Err(err(
                400,
                "invalidRequest",
                format!("Invalid value '{o}' for @microsoft.graph.conflictBehavior."),
            )),
        }
    }
}

fn pretty_bool(b: bool) -> String {
    format!("[\r\n  {b}\r\n]")
}

fn pretty_str(s: &str) -> String {
    format!("[\r\n  {}\r\n]", Value::String(s.to_string()))
}

/// The identity that shows as creator or modifier for an actor.
pub fn actor_ident(s: &GraphState, actor: &Actor) -> Ident {
    match actor {
        Actor::App { app_id, name, .. } => Ident {
            id: Some(app_id.clone()),
            display_name: name.clone(),
            email: None,
        },
        Actor::User(uid) => s.users.get(uid).map(ident_of).unwrap_or(Ident {
            id: Some(uid.clone()),
            display_name: String::new(),
            email: None,
        }),
        Actor::Sync => Ident {
            id: None,
            display_name: "SharePoint App".into(),
            email: None,
        },
    }
}

impl GraphState {
    // ---------------------------------------------------------------------------------------
    // Users

    /// `PATCH /users/{id}`: `accountEnabled`, `displayName`, `jobTitle`, `department`,
    /// `officeLocation`, `usageLocation`. Returns whether anything changed.
    pub fn patch_user(
        &mut self,
        key: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, OpError> {
        let user = self.find_user(key).cloned().ok_or_else(|| no_object(key))?;
        let bad = |p: &str| {
            err(
                400,
                "Request_BadRequest",
                format!("Invalid value specified for property '{p}' of resource 'User'."),
            )
        };
        let mut enabled = None;
        let mut texts: Vec<(&'static str, Option<String>)> = Vec::new();
        for (k, v) in body {
            match k.as_str() {
                "accountEnabled" => enabled = Some(v.as_bool().ok_or_else(|| bad(k))?),
                "displayName" => match v.as_str() {
                    Some(x) if !x.trim().is_empty() => texts.push(("displayName", Some(x.into()))),
                    _ => return Err(bad(k)),
                },
                "jobTitle" | "department" | "officeLocation" | "usageLocation" => {
                    let name = match k.as_str() {
                        "jobTitle" => "jobTitle",
                        "department" => "department",
                        "officeLocation" => "officeLocation",
                        _ => "usageLocation",
                    };
                    match v {
                        Value::Null => texts.push((name, None)),
                        Value::String(x) => texts.push((name, Some(x.clone()))),
                        _ => return Err(bad(k)),
                    }
                }
                "@odata.type" => {}
                other => {
                    return Err(err(
                        400,
                        "Request_BadRequest",
                        format!(
                            "Property '{other}' does not exist on type 'microsoft.graph.user'."
                        ),
                    ));
                }
            }
        }
        let synced = user.on_prem_sync == Some(true);
        if synced
            && (!texts.is_empty() || (enabled.is_some() && !self.settings.synced_patch_accepted))
        {
            return Err(err(400, "Request_BadRequest", SYNCED));
        }
        if enabled.is_some() && self.settings.protect_admins && !self.roles_of(&user.id).is_empty()
        {
            return Err(err(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        let mut props: Vec<(&str, String, String)> = Vec::new();
        if let Some(e) = enabled
            && e != user.account_enabled
        {
            props.push((
                "AccountEnabled",
                pretty_bool(user.account_enabled),
                pretty_bool(e),
            ));
        }
        let current = |name: &str| -> Option<String> {
            match name {
                "displayName" => Some(user.display_name.clone()),
                "jobTitle" => user.job_title.clone(),
                "department" => user.department.clone(),
                "officeLocation" => user.office_location.clone(),
                _ => user.usage_location.clone(),
            }
        };
        let audit_name = |name: &str| match name {
            "displayName" => "DisplayName",
            "jobTitle" => "JobTitle",
            "department" => "Department",
            "officeLocation" => "PhysicalDeliveryOfficeName",
            _ => "UsageLocation",
        };
        let mut changed_texts = Vec::new();
        for (name, value) in &texts {
            let old = current(name);
            if old != *value {
                props.push((
                    audit_name(name),
                    old.as_deref()
                        .map(pretty_str)
                        .unwrap_or_else(|| "[]".into()),
                    value
                        .as_deref()
                        .map(pretty_str)
                        .unwrap_or_else(|| "[]".into()),
                ));
                changed_texts.push((*name, value.clone()));
            }
        }
        if props.is_empty() {
            return Ok(false);
        }
        let seq = self.bump(now);
        if let Some(u) = self.users.get_mut(&user.id) {
            if let Some(e) = enabled {
                u.account_enabled = e;
            }
            for (name, value) in changed_texts {
                match name {
                    "displayName" => u.display_name = value.unwrap_or_default(),
                    "jobTitle" => u.job_title = value,
                    "department" => u.department = value,
                    "officeLocation" => u.office_location = value,
                    _ => u.usage_location = value,
                }
            }
            u.seq = seq;
        }
        if synced && let Some(e) = enabled {
            self.reverts.retain(|r| r.user != user.id);
            if e != user.on_prem_enabled {
                self.reverts.push(PendingRevert {
                    user: user.id.clone(),
                    due: now + Duration::seconds(self.settings.sync_interval_secs.max(0)),
                });
            }
        }
        let rec = audit::update_user(self, actor, &user.id, &props, now);
        self.emit(rec, now, self.cause);
        Ok(true)
    }

    /// `POST /users/{id}/revokeSignInSessions`.
    pub fn revoke_sessions(
        &mut self,
        key: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let user = self.find_user(key).cloned().ok_or_else(|| no_object(key))?;
        let seq = self.bump(now);
        if let Some(u) = self.users.get_mut(&user.id) {
            u.sessions_valid_from = now;
            u.seq = seq;
        }
        let rec = audit::revoke_sessions(self, actor, &user.id, user.sessions_valid_from, now);
        self.emit(rec, now, self.cause);
        Ok(())
    }

    /// `POST /identityProtection/riskyUsers/confirmCompromised` (or `dismiss`).
    pub fn risky_action(
        &mut self,
        ids: &[String],
        confirm: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<usize, OpError> {
        if ids.is_empty() {
            return Err(err(
                400,
                "invalidRequest",
                "userIds must name at least one user.",
            ));
        }
        if let Some(missing) = ids.iter().find(|id| !self.users.contains_key(*id)) {
            return Err(no_object(missing));
        }
        let mut changed = 0;
        for id in ids {
            let target = if confirm {
                (
                    "high",
                    "confirmedCompromised",
                    "adminConfirmedUserCompromised",
                )
            } else {
                ("none", "dismissed", "adminDismissedAllRiskForUser")
            };
            let current = self.risky.get(id).map(|r| (r.level, r.state, r.detail));
            if current == Some(target) || (!confirm && current.is_none()) {
                continue;
            }
            self.risky.insert(
                id.clone(),
                GRisky {
                    id: id.clone(),
                    level: target.0,
                    state: target.1,
                    detail: target.2,
                    updated: now,
                },
            );
            let rec = audit::risk_action(self, actor, id, confirm, now);
            self.emit(rec, now, self.cause);
            changed += 1;
        }
        Ok(changed)
    }

    // ---------------------------------------------------------------------------------------
    // Apps

    /// `PATCH /servicePrincipals/{id}`: `accountEnabled`.
    pub fn patch_sp(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, OpError> {
        let sp = self.sps.get(id).cloned().ok_or_else(|| no_object(id))?;
        let mut enabled = None;
        for (k, v) in body {
            match k.as_str() {
                "accountEnabled" => {
                    enabled = Some(v.as_bool().ok_or_else(|| {
                        err(400, "Request_BadRequest", "Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.")
                    })?)
                }
                "@odata.type" => {}
                other => {
                    return Err(err(
                        400,
                        "Request_BadRequest",
                        format!("Property '{other}' does not exist on type 'microsoft.graph.servicePrincipal'."),
                    ));
                }
            }
        }
        let Some(e) = enabled.filter(|e| *e != sp.account_enabled) else {
            return Ok(false);
        };
        let seq = self.bump(now);
        if let Some(x) = self.sps.get_mut(id) {
            x.account_enabled = e;
            x.seq = seq;
        }
        let rec = audit::update_sp_enabled(self, actor, id, sp.account_enabled, e, now);
        self.emit(rec, now, self.cause);
        Ok(true)
    }

    /// `DELETE /oauth2PermissionGrants/{id}`.
    pub fn delete_grant(
        &mut self,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let g = self.grants.remove(id).ok_or_else(|| no_object(id))?;
        self.bump(now);
        let rec = audit::grant_change(self, actor, &g, None, now);
        self.emit(rec, now, self.cause);
        Ok(())
    }

    /// `PATCH /oauth2PermissionGrants/{id}` `{"scope": "…"}`.
    pub fn patch_grant(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, OpError> {
        let g = self.grants.get(id).cloned().ok_or_else(|| no_object(id))?;
        let mut scope = None;
        for (k, v) in body {
            match k.as_str() {
                "scope" => {
                    scope = Some(v.as_str().map(str::to_string).ok_or_else(|| {
                        err(400, "Request_BadRequest", "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.")
                    })?)
                }
                other => {
                    return Err(err(
                        400,
                        "Request_BadRequest",
                        format!("Property '{other}' is read-only and cannot be set."),
                    ));
                }
            }
        }
        let Some(scope) = scope.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")) else {
            return Ok(false);
        };
        if scope == g.scope {
            return Ok(false);
        }
        self.bump(now);
        if let Some(x) = self.grants.get_mut(id) {
            x.scope = scope.clone();
        }
        let rec = audit::grant_change(self, actor, &g, Some(&scope), now);
        self.emit(rec, now, self.cause);
        Ok(true)
    }

    /// `DELETE /servicePrincipals/{sp}/appRoleAssignments/{id}` (`assigned_to` false: `sp` is
    /// the client) or `…/appRoleAssignedTo/{id}` (`sp` is the resource).
    pub fn delete_assignment(
        &mut self,
        sp: &str,
        id: &str,
        assigned_to: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        if !self.sps.contains_key(sp) {
            return Err(no_object(sp));
        }
        let a = self
            .assignments
            .get(id)
            .filter(|a| {
                if assigned_to {
                    a.resource_id == sp
                } else {
                    a.principal_id == sp
                }
            })
            .cloned()
            .ok_or_else(|| no_object(id))?;
        self.assignments.remove(id);
        self.bump(now);
        let value = self
            .sps
            .get(&a.resource_id)
            .and_then(|r| r.app_roles.iter().find(|x| x.id == a.app_role_id))
            .map(|x| x.value.clone())
            .unwrap_or_default();
        let rec = audit::remove_assignment(self, actor, &a, &value, now);
        self.emit(rec, now, self.cause);
        Ok(())
    }

    /// Adds or removes a group member (requested directory changes).
    pub fn set_membership(
        &mut self,
        group: &str,
        member: &str,
        add: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(g) = self.groups.get(group) else {
            return false;
        };
        if g.members.contains(member) == add {
            return false;
        }
        let seq = self.bump(now);
        if let Some(g) = self.groups.get_mut(group) {
            if add {
                g.members.insert(member.to_string());
            } else {
                g.members.remove(member);
            }
            g.seq = seq;
        }
        self.membership_log.push(MembershipChange {
            group: group.to_string(),
            member: member.to_string(),
            added: add,
            seq,
        });
        if self.users.contains_key(member) {
            let rec = audit::group_member(self, actor, group, member, add, now);
            self.emit(rec, now, self.cause);
        }
        true
    }
}
