//! Changes made on request (`POST /_sim/graph/changes`): what people and directory sync do to a
//! tenant between two syncs, so delta queries have something to report. Each change is made by
//! a user of the tenant (or by directory sync) and publishes its audit record.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::audit::{self, Actor};
use super::ops::Conflict;
use super::{GUser, GraphState, Removed};
use crate::rng::{Rng, hash_str};
use crate::tenant::names;

/// Every kind of change `/_sim/graph/changes` can make.
pub const KINDS: &[&str] = &[
    "user_update",
    "user_disable",
    "user_enable",
    "user_create",
    "user_delete",
    "group_add_member",
    "group_remove_member",
    "file_create",
    "file_modify",
    "file_rename",
    "file_move",
    "file_delete",
    "file_share",
    "file_unshare",
];

/// One change made.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Kind (one of [`KINDS`]).
    pub kind: &'static str,
    /// The object changed (user, group or item id).
    pub id: String,
    /// The drive, for file changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drive_id: Option<String>,
    /// What happened, in words.
    pub detail: String,
}

impl GraphState {
    /// Makes `n` changes of the given kinds (all kinds when empty), chosen from the seed and
    /// the number of changes made so far.
    pub fn random_changes(
        &mut self,
        n: usize,
        kinds: &[String],
        now: DateTime<Utc>,
    ) -> Vec<Change> {
        let allowed: Vec<&'static str> = KINDS
            .iter()
            .copied()
            .filter(|k| kinds.is_empty() || kinds.iter().any(|x| x == k))
            .collect();
        let mut out = Vec::new();
        if allowed.is_empty() {
            return out;
        }
        self.cause = "change";
        let mut attempts = 0;
        while out.len() < n && attempts < n * 20 + 20 {
            attempts += 1;
            let c = self.next_counter();
            let mut r = Rng::new(&[self.tenant.seed, hash_str("graph-changes"), c]);
            let kind = *r.pick(&allowed);
            if let Some(ch) = self.one_change(kind, &mut r, now) {
                out.push(ch);
            }
        }
        self.cause = "graph";
        out
    }

    fn pick_user(&self, r: &mut Rng, ok: impl Fn(&GUser) -> bool) -> Option<String> {
        let ids: Vec<&String> = self
            .users
            .values()
            .filter(|u| ok(u))
            .map(|u| &u.id)
            .collect();
        if ids.is_empty() {
            None
        } else {
            Some(ids[r.below(ids.len() as u64) as usize].clone())
        }
    }

    fn admin_actor(&self, r: &mut Rng) -> Actor {
        let admins: Vec<&String> = self.roles.iter().flat_map(|x| x.members.iter()).collect();
        match admins.get(r.below(admins.len().max(1) as u64) as usize) {
            Some(a) => Actor::User((*a).clone()),
            None => Actor::Sync,
        }
    }

    fn one_change(
        &mut self,
        kind: &'static str,
        r: &mut Rng,
        now: DateTime<Utc>,
    ) -> Option<Change> {
        let roles_free = |s: &GraphState, u: &GUser| s.roles_of(&u.id).is_empty();
        match kind {
            "user_update" => {
                let id =
                    self.pick_user(r, |u| u.on_prem_sync.is_none() && u.user_type == "Member")?;
                let title = (*r.pick(&[
                    "Senior Analyst",
                    "Team Lead",
                    "Consultant",
                    "Project Manager",
                    "Specialist",
                ]))
                .to_string();
                let actor = self.admin_actor(r);
                let mut body = Map::new();
                body.insert("jobTitle".into(), json!(title));
                self.patch_user(&id, &body, &actor, now)
                    .ok()?
                    .then(|| Change {
                        kind,
                        id,
                        drive_id: None,
                        detail: format!("jobTitle set to {title}"),
                    })
            }
            "user_disable" | "user_enable" => {
                let enable = kind == "user_enable";
                let snapshot: Vec<GUser> = self.users.values().cloned().collect();
                let candidates: Vec<&GUser> = snapshot
                    .iter()
                    .filter(|u| u.account_enabled != enable && roles_free(self, u))
                    .collect();
                let u = candidates.get(r.below(candidates.len().max(1) as u64) as usize)?;
                let synced = u.on_prem_sync == Some(true);
                let actor = if synced {
                    Actor::Sync
                } else {
                    self.admin_actor(r)
                };
                let seq = self.bump(now);
                if let Some(x) = self.users.get_mut(&u.id) {
                    x.account_enabled = enable;
                    x.on_prem_enabled = enable;
                    x.seq = seq;
                }
                self.reverts.retain(|p| p.user != u.id);
                let rec = audit::update_user_enabled(self, &actor, &u.id, !enable, enable, now);
                self.emit(rec, now, "change");
                Some(Change {
                    kind,
                    id: u.id.clone(),
                    drive_id: None,
                    detail: format!("{} {}", if enable { "enabled" } else { "disabled" }, u.upn),
                })
            }
            "user_create" => {
                let given = *r.pick(names::GIVEN);
                let family = *r.pick(names::FAMILY);
                let local: String = format!("{given}.{family}{}", 100 + self.counter)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .collect::<String>()
                    .to_ascii_lowercase();
                let upn = format!("{local}@{}", self.tenant.domain);
                let id = r.guid();
                let seq = self.bump(now);
                self.users.insert(
                    id.clone(),
                    GUser {
                        id: id.clone(),
                        upn: upn.clone(),
                        mail: Some(upn.clone()),
                        display_name: format!("{given} {family}"),
                        given_name: Some(given.to_string()),
                        surname: Some(family.to_string()),
                        job_title: Some("New Starter".into()),
                        department: Some("Operations".into()),
                        office_location: None,
                        usage_location: Some("US".into()),
                        business_phones: Vec::new(),
                        preferred_language: Some("en-US".into()),
                        account_enabled: true,
                        user_type: "Member",
                        on_prem_sync: None,
                        on_prem_enabled: true,
                        created: now,
                        sessions_valid_from: now,
                        e5: Some(false),
                        last_sign_in: None,
                        seq,
                    },
                );
                let actor = self.admin_actor(r);
                let rec = audit::user_lifecycle(self, &actor, &id, true, now);
                self.emit(rec, now, "change");
                Some(Change {
                    kind,
                    id,
                    drive_id: None,
                    detail: format!("created {upn}"),
                })
            }
            "user_delete" => {
                let id =
                    self.pick_user(r, |u| u.on_prem_sync.is_none() && u.user_type == "Member")?;
                if !self.roles_of(&id).is_empty() {
                    return None;
                }
                let actor = self.admin_actor(r);
                let rec = audit::user_lifecycle(self, &actor, &id, false, now);
                for g in self.member_of(&id) {
                    self.set_membership(&g, &id, false, &Actor::Sync, now);
                }
                let seq = self.bump(now);
                let upn = self.users.remove(&id).map(|u| u.upn).unwrap_or_default();
                self.reverts.retain(|p| p.user != id);
                self.removed_users.insert(
                    id.clone(),
                    Removed {
                        seq,
                        reason: "changed",
                    },
                );
                self.emit(rec, now, "change");
                Some(Change {
                    kind,
                    id,
                    drive_id: None,
                    detail: format!("deleted {upn} (soft)"),
                })
            }
            "group_add_member" | "group_remove_member" => {
                let add = kind == "group_add_member";
                let groups: Vec<String> = self
                    .groups
                    .values()
                    .filter(|g| g.on_prem_sync.is_none() && (add || !g.members.is_empty()))
                    .map(|g| g.id.clone())
                    .collect();
                let gid = groups
                    .get(r.below(groups.len().max(1) as u64) as usize)?
                    .clone();
                let member = if add {
                    let g = self.groups.get(&gid)?;
                    let pool: Vec<String> = self
                        .users
                        .values()
                        .filter(|u| u.user_type == "Member" && !g.members.contains(&u.id))
                        .map(|u| u.id.clone())
                        .collect();
                    pool.get(r.below(pool.len().max(1) as u64) as usize)?
                        .clone()
                } else {
                    let g = self.groups.get(&gid)?;
                    let users: Vec<&String> = g
                        .members
                        .iter()
                        .filter(|m| self.users.contains_key(*m))
                        .collect();
                    (*users.get(r.below(users.len().max(1) as u64) as usize)?).clone()
                };
                let actor = self.admin_actor(r);
                self.set_membership(&gid, &member, add, &actor, now)
                    .then(|| Change {
                        kind,
                        id: gid,
                        drive_id: None,
                        detail: format!(
                            "{} member {member}",
                            if add { "added" } else { "removed" }
                        ),
                    })
            }
            _ => self.file_change(kind, r, now),
        }
    }

    fn file_change(
        &mut self,
        kind: &'static str,
        r: &mut Rng,
        now: DateTime<Utc>,
    ) -> Option<Change> {
        let drive_ids: Vec<String> = self.drives.keys().cloned().collect();
        let drive = drive_ids
            .get(r.below(drive_ids.len().max(1) as u64) as usize)?
            .clone();
        let d = self.drives.get(&drive)?;
        let files: Vec<String> = d
            .items
            .values()
            .filter(|i| !i.folder)
            .map(|i| i.id.clone())
            .collect();
        let folders: Vec<String> = d
            .items
            .values()
            .filter(|i| i.folder)
            .map(|i| i.id.clone())
            .collect();
        let file = files
            .get(r.below(files.len().max(1) as u64) as usize)
            .cloned();
        let folder = folders
            .get(r.below(folders.len().max(1) as u64) as usize)
            .cloned()?;
        // The person making the change: the drive's owner, or a member.
        let actor = match d
            .owner
            .id
            .as_deref()
            .filter(|id| self.users.contains_key(*id))
        {
            Some(u) => Actor::User(u.to_string()),
            None => {
                Actor::User(self.pick_user(r, |u| u.user_type == "Member" && u.account_enabled)?)
            }
        };
        let change = |id: String, detail: String| Change {
            kind,
            id,
            drive_id: Some(drive.clone()),
            detail,
        };
        match kind {
            "file_create" => {
                let name = format!(
                    "{} {} {}.{}",
                    r.pick(names::FILE_WORDS),
                    r.pick(names::FILE_WORDS),
                    self.counter,
                    r.pick(names::FILE_EXTENSIONS)
                );
                let size = 10_000 + r.below(5_000_000);
                let (id, _) = self
                    .upload(&drive, &folder, &name, size, Conflict::Rename, &actor, now)
                    .ok()?;
                Some(change(id, format!("created {name}")))
            }
            "file_modify" => {
                let id = file?;
                let size = 10_000 + r.below(5_000_000);
                let (parent, name) = {
                    let i = self.drives.get(&drive)?.items.get(&id)?;
                    (i.parent.clone()?, i.name.clone())
                };
                self.upload(&drive, &parent, &name, size, Conflict::Replace, &actor, now)
                    .ok()?;
                Some(change(id, format!("modified {name}")))
            }
            "file_rename" => {
                let id = file?;
                let old = self.drives.get(&drive)?.items.get(&id)?.name.clone();
                let ext = old.rsplit_once('.').map_or("docx", |(_, e)| e).to_string();
                let name = format!("{} v{}.{ext}", r.pick(names::FILE_WORDS), 2 + r.below(9));
                let mut body = Map::new();
                body.insert("name".into(), Value::String(name.clone()));
                self.move_item(&drive, &id, &body, Conflict::Rename, None, &actor, now)
                    .ok()?
                    .then(|| change(id, format!("renamed {old} to {name}")))
            }
            "file_move" => {
                let id = file?;
                let mut body = Map::new();
                body.insert("parentReference".into(), json!({"id": folder}));
                self.move_item(&drive, &id, &body, Conflict::Rename, None, &actor, now)
                    .ok()?
                    .then(|| change(id, "moved".into()))
            }
            "file_delete" => {
                let id = file?;
                self.delete_item(&drive, &id, None, &actor, now).ok()?;
                Some(change(id, "deleted".into()))
            }
            "file_share" => {
                let id = file?;
                let mut body = Map::new();
                if r.chance(0.5) {
                    body.insert("type".into(), json!("view"));
                    body.insert("scope".into(), json!("anonymous"));
                    let (p, created) = self.create_link(&drive, &id, &body, &actor, now).ok()?;
                    created.then(|| change(id, format!("anonymous link {}", p.id)))
                } else {
                    let email = format!(
                        "{}.{}@{}",
                        r.pick(names::GIVEN),
                        self.counter,
                        r.pick(names::PARTNER_DOMAINS)
                    )
                    .to_ascii_lowercase();
                    body.insert("recipients".into(), json!([{"email": email}]));
                    body.insert("roles".into(), json!(["read"]));
                    self.invite(&drive, &id, &body, &actor, now).ok()?;
                    Some(change(id, format!("shared with {email}")))
                }
            }
            "file_unshare" => {
                let d = self.drives.get(&drive)?;
                let shared: Vec<(String, String)> = d
                    .items
                    .values()
                    .filter(|i| i.parent.is_some())
                    .flat_map(|i| i.perms.iter().map(move |p| (i.id.clone(), p.id.clone())))
                    .collect();
                let (item, perm) = shared
                    .get(r.below(shared.len().max(1) as u64) as usize)?
                    .clone();
                self.delete_permission(&drive, &item, &perm, None, &actor, now)
                    .ok()?;
                Some(change(item, format!("removed permission {perm}")))
            }
            _ => None,
        }
    }
}
