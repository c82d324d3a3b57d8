//! Changes to sharing: removing a permission, inviting people, creating links.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::graph::GraphState;
use crate::graph::audit::{self, Actor, Place};
use crate::graph::drives::{GPerm, PermKind};
use crate::graph::generate::{ident_of, link_perm, perm_id_for};

use super::{OpError, actor_ident, err, no_item};

impl GraphState {
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
}
