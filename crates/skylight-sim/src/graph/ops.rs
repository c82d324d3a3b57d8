//! Changes to the Graph state, with Graph's rules and errors: what a write endpoint does once
//! its request is read. Each change takes a sequence number (delta sees it) and publishes the
//! audit record Microsoft would (see [`super::audit`]).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::audit::{self, Actor, Place};
use super::drives::{GItem, GPerm, Ident, PermKind, valid_name};
use super::generate::{ident_of, item_id, link_perm, perm_id_for};
use super::{CopyJob, GRisky, GraphState, MembershipChange, PendingRevert};

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

    // ---------------------------------------------------------------------------------------
    // Drives

    /// The drive and item, or 404 `itemNotFound`.
    pub fn item(&self, drive: &str, item: &str) -> Result<(&super::GDrive, &GItem), OpError> {
        let d = self.drives.get(drive).ok_or_else(no_item)?;
        let i = d.items.get(item).ok_or_else(no_item)?;
        Ok((d, i))
    }

    fn check_lock(&self, drive: &str, item: &str, now: DateTime<Utc>) -> Result<(), OpError> {
        match self.locks.get(&(drive.to_string(), item.to_string())) {
            Some(until) if *until > now => Err(OpError {
                status: 423,
                code: "resourceLocked",
                message: "The resource you are attempting to access is locked.".into(),
                inner: Some("lockMismatch"),
            }),
            _ => Ok(()),
        }
    }

    fn check_etag(item: &GItem, if_match: Option<&str>) -> Result<(), OpError> {
        match if_match {
            Some(tag)
                if tag != "*"
                    && tag.trim_matches('"') != etag(item).trim_matches('"')
                    && tag.trim_matches('"') != ctag(item).trim_matches('"') =>
            {
                Err(err(
                    412,
                    "preconditionFailed",
                    "The resource has changed since the caller last read it; usually an eTag mismatch.",
                ))
            }
            _ => Ok(()),
        }
    }

    fn touch(&mut self, drive: &str, item: &str, now: DateTime<Utc>, sharing: bool) {
        let seq = self.bump(now);
        if let Some(i) = self
            .drives
            .get_mut(drive)
            .and_then(|d| d.items.get_mut(item))
        {
            i.seq = seq;
            if sharing {
                i.shared_seq = seq;
            } else {
                i.version += 1;
            }
        }
    }

    /// `DELETE /drives/{d}/items/{i}/permissions/{p}`: only the item's own permissions.
    pub fn delete_permission(
        &mut self,
        drive: &str,
        item: &str,
        perm: &str,
        if_match: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let (d, i) = self.item(drive, item)?;
        Self::check_etag(i, if_match)?;
        let effective = d.effective_perms(item);
        let Some((p, from)) = effective.iter().find(|(p, _)| p.id == perm) else {
            return Err(no_item());
        };
        if from.is_some() {
            return Err(err(
                403,
                "accessDenied",
                "Inherited permissions cannot be removed from this item; remove them from the item they are inherited from.",
            ));
        }
        if i.parent.is_none() {
            return Err(err(
                403,
                "accessDenied",
                "The owners' and site groups' permissions on the library root cannot be removed.",
            ));
        }
        let p: GPerm = (*p).clone();
        let place = Place::of(self, d, i);
        if let Some(x) = self
            .drives
            .get_mut(drive)
            .and_then(|d| d.items.get_mut(item))
        {
            x.perms.retain(|q| q.id != perm);
        }
        self.touch(drive, item, now, true);
        let rec = audit::sharing_op(self, actor, &place, &p, false, now);
        self.emit(rec, now, self.cause);
        Ok(())
    }

    /// `POST /drives/{d}/items/{i}/invite`: one permission per recipient (existing ones are
    /// given the new roles). Returns the permissions.
    pub fn invite(
        &mut self,
        drive: &str,
        item: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<GPerm>, OpError> {
        let (d, i) = self.item(drive, item)?;
        let place = Place::of(self, d, i);
        let recipients = body
            .get("recipients")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err(400, "invalidRequest", "recipients is required."))?;
        let role = match body
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        {
            Some(r) if r == ["write"] => "write",
            Some(r) if r == ["read"] => "read",
            None => "read",
            Some(_) => {
                return Err(err(
                    400,
                    "invalidRequest",
                    "roles must be [\"read\"] or [\"write\"].",
                ));
            }
        };
        if let Some(m) = body.get("message").and_then(Value::as_str)
            && m.chars().count() > 2000
        {
            return Err(err(
                400,
                "invalidRequest",
                "message is longer than 2000 characters.",
            ));
        }
        let mut grants = Vec::new();
        for r in recipients {
            let user = if let Some(oid) = r.get("objectId").and_then(Value::as_str) {
                Some(self.users.get(oid).cloned().ok_or_else(|| {
                    err(
                        400,
                        "invalidRequest",
                        format!("Recipient '{oid}' was not found."),
                    )
                })?)
            } else if let Some(email) = r.get("email").and_then(Value::as_str) {
                if !email.contains('@') {
                    return Err(err(
                        400,
                        "invalidRequest",
                        format!("'{email}' is not an email address."),
                    ));
                }
                let lower = email.to_ascii_lowercase();
                match self.users.values().find(|u| {
                    u.mail.as_deref().map(str::to_ascii_lowercase).as_deref()
                        == Some(lower.as_str())
                        || u.upn.to_ascii_lowercase() == lower
                }) {
                    Some(u) => Some(u.clone()),
                    None => {
                        grants.push(Err(email.to_string()));
                        continue;
                    }
                }
            } else {
                return Err(err(
                    400,
                    "invalidRequest",
                    "Each recipient needs an email or an objectId.",
                ));
            };
            if let Some(u) = user {
                grants.push(Ok(u));
            }
        }
        let by = actor_ident(self, actor);
        let mut out = Vec::new();
        for g in grants {
            let perm = match g {
                Ok(u) => GPerm {
                    id: perm_id_for(&u.upn.to_ascii_lowercase()),
                    roles: vec![role],
                    kind: PermKind::User { user: ident_of(&u) },
                    created: now,
                    expiration: None,
                    has_password: false,
                    share_id: None,
                },
                Err(email) => GPerm {
                    id: perm_id_for(&format!("urn%3aspo%3aguest#{}", email.to_ascii_lowercase())),
                    roles: vec![role],
                    kind: PermKind::Invitation {
                        email,
                        invited_by: by.clone(),
                    },
                    created: now,
                    expiration: None,
                    has_password: false,
                    share_id: None,
                },
            };
            let existing = self
                .drives
                .get(drive)
                .and_then(|d| d.items.get(item))
                .and_then(|i| i.perms.iter().find(|p| p.id == perm.id).cloned());
            match existing {
                Some(e) if e.roles == perm.roles => out.push(e),
                _ => {
                    if let Some(x) = self
                        .drives
                        .get_mut(drive)
                        .and_then(|d| d.items.get_mut(item))
                    {
                        x.perms.retain(|p| p.id != perm.id);
                        x.perms.push(perm.clone());
                    }
                    self.touch(drive, item, now, true);
                    let rec = audit::sharing_op(self, actor, &place, &perm, true, now);
                    self.emit(rec, now, self.cause);
                    out.push(perm);
                }
            }
        }
        Ok(out)
    }

    /// `POST /drives/{d}/items/{i}/createLink`: the permission, and whether it is new (201)
    /// or an equivalent link that already existed (200).
    pub fn create_link(
        &mut self,
        drive: &str,
        item: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(GPerm, bool), OpError> {
        let (d, i) = self.item(drive, item)?;
        let link_type = match body.get("type").and_then(Value::as_str) {
            Some("view") => "view",
            Some("edit") => "edit",
            Some("embed") => {
                return Err(err(
                    400,
                    "invalidRequest",
                    "Embed links are only supported for OneDrive personal.",
                ));
            }
            _ => return Err(err(400, "invalidRequest", "type must be view or edit.")),
        };
        let scope = match body.get("scope").and_then(Value::as_str) {
            Some("anonymous") => "anonymous",
            Some("organization") | None => "organization",
            Some("users") => "users",
            Some(o) => {
                return Err(err(
                    400,
                    "invalidRequest",
                    format!("Unsupported link scope '{o}'."),
                ));
            }
        };
        if let Some(p) = i.perms.iter().find(|p| matches!(&p.kind, PermKind::Link { scope: s, link_type: t, recipients, .. } if *s == scope && *t == link_type && recipients.is_empty())) {
            return Ok((p.clone(), false));
        }
        let place = Place::of(self, d, i);
        let host = d
            .web_url
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let n = self.counter + 1;
        let mut perm = link_perm(
            d,
            item,
            &host,
            (scope, link_type),
            Vec::new(),
            now,
            1_000_000 + n,
        );
        self.next_counter();
        if let Some(exp) = body.get("expirationDateTime").and_then(Value::as_str) {
            perm.expiration = Some(
                DateTime::parse_from_rfc3339(exp)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| err(400, "invalidRequest", "expirationDateTime is not a date."))?,
            );
        }
        perm.has_password = body
            .get("password")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty());
        if let Some(x) = self
            .drives
            .get_mut(drive)
            .and_then(|d| d.items.get_mut(item))
        {
            x.perms.push(perm.clone());
        }
        self.touch(drive, item, now, true);
        let rec = audit::sharing_op(self, actor, &place, &perm, true, now);
        self.emit(rec, now, self.cause);
        Ok((perm, true))
    }

    /// Deletes an item and everything below it (recycle bin), leaving delta tombstones.
    fn remove_subtree(&mut self, drive: &str, item: &str, now: DateTime<Utc>) {
        let Some(d) = self.drives.get(drive) else {
            return;
        };
        let ids = d.subtree(item);
        let parents: Vec<Option<String>> = ids
            .iter()
            .map(|i| d.items.get(i).and_then(|x| x.parent.clone()))
            .collect();
        for (id, parent) in ids.into_iter().zip(parents).rev() {
            let seq = self.bump(now);
            if let Some(d) = self.drives.get_mut(drive) {
                d.items.remove(&id);
                d.removed.insert(id, (seq, parent));
            }
        }
    }

    /// `PATCH /drives/{d}/items/{i}`: move (`parentReference`) and/or rename (`name`).
    #[allow(clippy::too_many_arguments)]
    pub fn move_item(
        &mut self,
        drive: &str,
        item: &str,
        body: &Map<String, Value>,
        conflict: Conflict,
        if_match: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, OpError> {
        let (d, i) = self.item(drive, item)?;
        Self::check_etag(i, if_match)?;
        if i.parent.is_none() {
            return Err(err(
                400,
                "invalidRequest",
                "The root of a drive cannot be moved or renamed.",
            ));
        }
        for k in body.keys() {
            if !matches!(
                k.as_str(),
                "name"
                    | "parentReference"
                    | "@microsoft.graph.conflictBehavior"
                    | "description"
                    | "fileSystemInfo"
            ) {
                return Err(err(
                    400,
                    "invalidRequest",
                    format!("Property '{k}' cannot be set on a driveItem."),
                ));
            }
        }
        let mut parent = i.parent.clone().unwrap_or_default();
        if let Some(pr) = body.get("parentReference") {
            if let Some(other) = pr.get("driveId").and_then(Value::as_str)
                && other != drive
            {
                return Err(err(
                    400,
                    "invalidRequest",
                    "Items cannot be moved between drives with PATCH; copy them instead.",
                ));
            }
            if let Some(pid) = pr.get("id").and_then(Value::as_str) {
                parent = pid.to_string();
            } else if let Some(path) = pr.get("path").and_then(Value::as_str) {
                let rel = path.split_once("root:").map(|(_, r)| r).unwrap_or(path);
                parent = d.by_path(rel).map(|x| x.id.clone()).ok_or_else(no_item)?;
            }
        }
        let target = d.items.get(&parent).ok_or_else(no_item)?;
        if !target.folder {
            return Err(err(
                400,
                "invalidRequest",
                "The new parent is not a folder.",
            ));
        }
        if d.is_within(&parent, item) {
            return Err(err(
                400,
                "invalidRequest",
                "A folder cannot be moved into itself.",
            ));
        }
        let mut name = match body.get("name") {
            None => i.name.clone(),
            Some(Value::String(n)) => n.clone(),
            Some(_) => return Err(err(400, "invalidRequest", "name must be a string.")),
        };
        if !valid_name(&name) {
            return Err(err(
                400,
                "invalidRequest",
                "The name contains characters that are not allowed.",
            ));
        }
        let moved = Some(&parent) != i.parent.as_ref();
        let renamed = name != i.name;
        if !moved && !renamed {
            return Ok(false);
        }
        self.check_lock(drive, item, now)?;
        let mut replace = None;
        if let Some(existing) = d.child_named(&parent, &name).filter(|x| x.id != item) {
            match conflict {
                Conflict::Fail => {
                    return Err(err(
                        409,
                        "nameAlreadyExists",
                        "The specified item name already exists.",
                    ));
                }
                Conflict::Rename => name = d.free_name(&parent, &name),
                Conflict::Replace => replace = Some(existing.id.clone()),
            }
        }
        let place = Place::of(self, d, i);
        let library = d.library_path.clone();
        let dest_folder = d.path_of(&parent);
        if let Some(old) = replace {
            self.check_lock(drive, &old, now)?;
            self.remove_subtree(drive, &old, now);
        }
        if let Some(x) = self
            .drives
            .get_mut(drive)
            .and_then(|d| d.items.get_mut(item))
        {
            x.parent = Some(parent);
            x.name = name.clone();
        }
        self.touch(drive, item, now, false);
        let op = match (place.is_folder, moved) {
            (false, true) => "FileMoved",
            (false, false) => "FileRenamed",
            (true, true) => "FolderMoved",
            (true, false) => "FolderRenamed",
        };
        let rec = audit::file_op(
            self,
            actor,
            op,
            &place,
            Some((&library, &dest_folder, &name)),
            now,
        );
        self.emit(rec, now, self.cause);
        Ok(true)
    }

    /// `POST /drives/{d}/items/{parent}/children` with a folder: returns the folder id and
    /// whether it was created (an existing folder is returned under `replace`… no: replaced).
    pub fn create_folder(
        &mut self,
        drive: &str,
        parent: &str,
        name: &str,
        conflict: Conflict,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<String, OpError> {
        let (d, p) = self.item(drive, parent)?;
        if !p.folder {
            return Err(err(400, "invalidRequest", "The parent is not a folder."));
        }
        if !valid_name(name) {
            return Err(err(
                400,
                "invalidRequest",
                "The name contains characters that are not allowed.",
            ));
        }
        let mut name = name.to_string();
        if let Some(existing) = d.child_named(parent, &name) {
            match conflict {
                Conflict::Fail => {
                    return Err(err(
                        409,
                        "nameAlreadyExists",
                        "The specified item name already exists.",
                    ));
                }
                Conflict::Rename => name = d.free_name(parent, &name),
                Conflict::Replace => {
                    let old = existing.id.clone();
                    self.remove_subtree(drive, &old, now);
                }
            }
        }
        let id = self.new_item(drive, parent, &name, true, 0, actor, now);
        let (d, i) = self.item(drive, &id)?;
        let place = Place::of(self, d, i);
        let rec = audit::file_op(self, actor, "FolderCreated", &place, None, now);
        self.emit(rec, now, self.cause);
        Ok(id)
    }

    /// Adds an item (folder or file) and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn new_item(
        &mut self,
        drive: &str,
        parent: &str,
        name: &str,
        folder: bool,
        size: u64,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> String {
        let n = self.next_counter();
        let id = item_id(drive, 1_000_000 + n);
        let who = std::sync::Arc::new(actor_ident(self, actor));
        let seq = self.bump(now);
        let unique = crate::rng::guid(crate::rng::hash_str(&id), n);
        if let Some(d) = self.drives.get_mut(drive) {
            d.items.insert(
                id.clone(),
                GItem {
                    id: id.clone(),
                    name: name.to_string(),
                    parent: Some(parent.to_string()),
                    folder,
                    size,
                    created: now,
                    modified: now,
                    created_by: who.clone(),
                    modified_by: who,
                    version: 1,
                    perms: Vec::new(),
                    seq,
                    shared_seq: 0,
                    unique_id: unique,
                },
            );
        }
        id
    }

    /// `PUT /drives/{d}/items/{parent}:/{name}:/content`: returns the item and whether it is
    /// new (201) or replaced (200).
    #[allow(clippy::too_many_arguments)]
    pub fn upload(
        &mut self,
        drive: &str,
        parent: &str,
        name: &str,
        size: u64,
        conflict: Conflict,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let (d, p) = self.item(drive, parent)?;
        if !p.folder {
            return Err(err(400, "invalidRequest", "The parent is not a folder."));
        }
        if !valid_name(name) {
            return Err(err(
                400,
                "invalidRequest",
                "The name contains characters that are not allowed.",
            ));
        }
        let mut name = name.to_string();
        if let Some(existing) = d.child_named(parent, &name) {
            match conflict {
                Conflict::Fail => {
                    return Err(err(
                        409,
                        "nameAlreadyExists",
                        "The specified item name already exists.",
                    ));
                }
                Conflict::Rename => name = d.free_name(parent, &name),
                Conflict::Replace if existing.folder => {
                    return Err(err(
                        409,
                        "nameAlreadyExists",
                        "A folder with this name exists.",
                    ));
                }
                Conflict::Replace => {
                    let id = existing.id.clone();
                    self.check_lock(drive, &id, now)?;
                    let who = std::sync::Arc::new(actor_ident(self, actor));
                    if let Some(x) = self
                        .drives
                        .get_mut(drive)
                        .and_then(|d| d.items.get_mut(&id))
                    {
                        x.size = size;
                        x.modified = now;
                        x.modified_by = who;
                    }
                    self.touch(drive, &id, now, false);
                    let (d, i) = self.item(drive, &id)?;
                    let place = Place::of(self, d, i);
                    let rec = audit::file_op(self, actor, "FileModified", &place, None, now);
                    self.emit(rec, now, self.cause);
                    return Ok((id, false));
                }
            }
        }
        let id = self.new_item(drive, parent, &name, false, size, actor, now);
        let (d, i) = self.item(drive, &id)?;
        let place = Place::of(self, d, i);
        let rec = audit::file_op(self, actor, "FileUploaded", &place, None, now);
        self.emit(rec, now, self.cause);
        Ok((id, true))
    }

    /// `DELETE /drives/{d}/items/{i}`: to the recycle bin.
    pub fn delete_item(
        &mut self,
        drive: &str,
        item: &str,
        if_match: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let (d, i) = self.item(drive, item)?;
        Self::check_etag(i, if_match)?;
        if i.parent.is_none() {
            return Err(err(
                403,
                "accessDenied",
                "The root of a drive cannot be deleted.",
            ));
        }
        self.check_lock(drive, item, now)?;
        let place = Place::of(self, d, i);
        self.remove_subtree(drive, item, now);
        let op = if place.is_folder {
            "FolderRecycled"
        } else {
            "FileRecycled"
        };
        let rec = audit::file_op(self, actor, op, &place, None, now);
        self.emit(rec, now, self.cause);
        Ok(())
    }

    /// `POST /drives/{d}/items/{i}/copy`: copies the item (and what is below it) without its
    /// sharing; returns the copy job id.
    pub fn copy_item(
        &mut self,
        drive: &str,
        item: &str,
        body: &Map<String, Value>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<String, OpError> {
        let (d, i) = self.item(drive, item)?;
        if i.parent.is_none() {
            return Err(err(
                400,
                "invalidRequest",
                "The root of a drive cannot be copied.",
            ));
        }
        let pr = body.get("parentReference");
        let dest_drive = pr
            .and_then(|p| p.get("driveId"))
            .and_then(Value::as_str)
            .unwrap_or(drive)
            .to_string();
        let dd = self.drives.get(&dest_drive).ok_or_else(no_item)?;
        let dest_parent = match pr.and_then(|p| p.get("id")).and_then(Value::as_str) {
            Some(p) => p.to_string(),
            None if dest_drive == drive => i.parent.clone().unwrap_or_default(),
            None => dd.root_id.clone(),
        };
        let target = dd.items.get(&dest_parent).ok_or_else(no_item)?;
        if !target.folder {
            return Err(err(
                400,
                "invalidRequest",
                "The destination is not a folder.",
            ));
        }
        if dest_drive == drive && d.is_within(&dest_parent, item) {
            return Err(err(
                400,
                "invalidRequest",
                "A folder cannot be copied into itself.",
            ));
        }
        let name = match body.get("name") {
            None | Some(Value::Null) => i.name.clone(),
            Some(Value::String(n)) if valid_name(n) => n.clone(),
            Some(_) => {
                return Err(err(
                    400,
                    "invalidRequest",
                    "The name contains characters that are not allowed.",
                ));
            }
        };
        if dd.child_named(&dest_parent, &name).is_some() {
            return Err(err(
                409,
                "nameAlreadyExists",
                "The specified item name already exists.",
            ));
        }
        let place = Place::of(self, d, i);
        let dest_library = dd.library_path.clone();
        let dest_folder = dd.path_of(&dest_parent);
        // Copy the tree: (source id, new parent id, name).
        let src_ids = d.subtree(item);
        let mut map: std::collections::BTreeMap<String, String> = Default::default();
        let mut new_root = String::new();
        for sid in src_ids {
            let Some(src) = self
                .drives
                .get(drive)
                .and_then(|d| d.items.get(&sid))
                .cloned()
            else {
                continue;
            };
            let (parent, nm) = if sid == item {
                (dest_parent.clone(), name.clone())
            } else {
                let p = src
                    .parent
                    .as_ref()
                    .and_then(|p| map.get(p))
                    .cloned()
                    .unwrap_or_else(|| dest_parent.clone());
                (p, src.name.clone())
            };
            let nid = self.new_item(&dest_drive, &parent, &nm, src.folder, src.size, actor, now);
            if sid == item {
                new_root = nid.clone();
            }
            map.insert(sid, nid);
        }
        let rec = audit::file_op(
            self,
            actor,
            if place.is_folder {
                "FolderCopied"
            } else {
                "FileCopied"
            },
            &place,
            Some((&dest_library, &dest_folder, &name)),
            now,
        );
        self.emit(rec, now, self.cause);
        let job = crate::rng::guid(crate::rng::hash_str(&new_root), self.next_counter());
        self.copy_jobs.insert(
            job.clone(),
            CopyJob {
                resource_id: new_root,
                polls: 0,
            },
        );
        Ok(job)
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

/// An item's `eTag`.
pub fn etag(i: &GItem) -> String {
    format!("\"{{{}}},{}\"", i.unique_id.to_ascii_uppercase(), i.version)
}

/// An item's `cTag`.
pub fn ctag(i: &GItem) -> String {
    format!(
        "\"c:{{{}}},{}\"",
        i.unique_id.to_ascii_uppercase(),
        i.version
    )
}
