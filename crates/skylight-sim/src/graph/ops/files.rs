//! Changes to drives: sharing, moves, renames, folders, uploads, deletes and copies.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::graph::audit::{self, Actor, Place};
use crate::graph::drives::{GItem, valid_name};
use crate::graph::generate::item_id;
use crate::graph::{CopyJob, GraphState};

use super::{Conflict, OpError, actor_ident, err, no_item};

impl GraphState {
    // ---------------------------------------------------------------------------------------
    // Drives

    /// The drive and item, or 404 `itemNotFound`.
    pub fn item(
        &self,
        drive: &str,
        item: &str,
    ) -> Result<(&crate::graph::GDrive, &GItem), OpError> {
        let d = self.drives.get(drive).ok_or_else(no_item)?;
        let i = d.items.get(item).ok_or_else(no_item)?;
        Ok((d, i))
    }

    pub(super) fn check_lock(
        &self,
        drive: &str,
        item: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
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

    pub(super) fn check_etag(item: &GItem, if_match: Option<&str>) -> Result<(), OpError> {
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

    pub(super) fn touch(&mut self, drive: &str, item: &str, now: DateTime<Utc>, sharing: bool) {
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
        let h = crate::rng::hash_str(&id);
        let unique = crate::rng::guid(h, crate::rng::mix64(h ^ n));
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
