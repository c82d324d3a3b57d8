//! Sites, drives and drive items as trees, with sharing permissions inherited down the tree
//! (`inheritedFrom` names the nearest ancestor holding the permission, contract §4.6).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// An identity: a user (with id) or an address outside the directory (without).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// Directory object id, when the identity is in the directory.
    pub id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Mail address.
    pub email: Option<String>,
}

/// What a permission grants access to, and to whom.
#[derive(Debug, Clone, PartialEq)]
pub enum PermKind {
    /// A user of the directory (owner, member or guest).
    User {
        /// The user.
        user: Ident,
    },
    /// A SharePoint site group (Owners, Members, Visitors).
    SiteGroup {
        /// Site group number.
        id: String,
        /// Display name.
        display_name: String,
    },
    /// A sharing link.
    Link {
        /// `anonymous`, `organization` or `users`.
        scope: &'static str,
        /// `view` or `edit`.
        link_type: &'static str,
        /// The link.
        web_url: String,
        /// People a `users` link was shared with (or who redeemed it).
        recipients: Vec<Ident>,
    },
    /// An invitation sent by mail to someone outside the directory.
    Invitation {
        /// Invited address.
        email: String,
        /// Who sent it.
        invited_by: Ident,
    },
}

/// A permission set on an item.
#[derive(Debug, Clone, PartialEq)]
pub struct GPerm {
    /// Permission id.
    pub id: String,
    /// `read`, `write`, `owner`.
    pub roles: Vec<&'static str>,
    /// Grantee.
    pub kind: PermKind,
    /// When it was granted.
    pub created: DateTime<Utc>,
    /// Expiry, if any (`0001-01-01T00:00:00Z` on the wire means none).
    pub expiration: Option<DateTime<Utc>>,
    /// Links: protected by a password.
    pub has_password: bool,
    /// Share token for `/shares/{id}` (links).
    pub share_id: Option<String>,
}

/// A file or folder.
#[derive(Debug, Clone)]
pub struct GItem {
    /// Item id.
    pub id: String,
    /// Name (`root` for the root).
    pub name: String,
    /// Parent folder id (none for the root).
    pub parent: Option<String>,
    /// A folder (or the root).
    pub folder: bool,
    /// Size in bytes (folders: the sum of their files, computed when shown).
    pub size: u64,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
    /// Creator (shared: most items of a library have few authors).
    pub created_by: Arc<Ident>,
    /// Last modifier.
    pub modified_by: Arc<Ident>,
    /// Content version (in `eTag`/`cTag`).
    pub version: u32,
    /// Permissions set on this item itself (not inherited).
    pub perms: Vec<GPerm>,
    /// Last change (sequence).
    pub seq: u64,
    /// Last permission change (sequence), for `@microsoft.graph.sharedChanged`.
    pub shared_seq: u64,
    /// SharePoint list item unique id (`ListItemUniqueId` in audit records).
    pub unique_id: String,
}

/// A document library (SharePoint) or a OneDrive.
#[derive(Debug, Clone)]
pub struct GDrive {
    /// Drive id (`b!…`).
    pub id: String,
    /// Display name (`Documents` whatever the path).
    pub name: String,
    /// Library path in URLs (`Shared Documents`, `Documents`, or localised).
    pub library_path: String,
    /// `business` (OneDrive) or `documentLibrary`.
    pub drive_type: &'static str,
    /// Site index.
    pub site: usize,
    /// Library URL.
    pub web_url: String,
    /// Owner: a user (OneDrive) or group.
    pub owner: Ident,
    /// Owner is a group (true) or user.
    pub owner_is_group: bool,
    /// Created.
    pub created: DateTime<Utc>,
    /// SharePoint list id.
    pub list_id: String,
    /// Root item id.
    pub root_id: String,
    /// Items by id.
    pub items: BTreeMap<String, GItem>,
    /// Removed items: sequence of removal and last parent.
    pub removed: BTreeMap<String, (u64, Option<String>)>,
    /// Quota in bytes.
    pub quota_total: u64,
}

/// A site (team, communication or OneDrive personal site).
#[derive(Debug, Clone)]
pub struct GSite {
    /// `{hostname},{site collection id},{web id}`.
    pub id: String,
    /// Site collection GUID.
    pub site_guid: String,
    /// Web GUID.
    pub web_guid: String,
    /// URL name.
    pub name: String,
    /// Title.
    pub display_name: String,
    /// URL.
    pub web_url: String,
    /// A OneDrive.
    pub personal: bool,
    /// Created.
    pub created: DateTime<Utc>,
    /// Its drives.
    pub drives: Vec<String>,
    /// The Microsoft 365 group it belongs to.
    pub group: Option<String>,
}

/// Percent-encodes a path the way SharePoint writes it in `webUrl` (spaces and the like).
pub fn url_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Characters OneDrive refuses in names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.ends_with(' ')
        && !name.ends_with('.')
        && !name
            .chars()
            .any(|c| matches!(c, '"' | '*' | ':' | '<' | '>' | '?' | '/' | '\\' | '|') || c < ' ')
}

impl GDrive {
    /// The item's path below the root: `/Folder/file.docx` (the root: empty).
    pub fn path_of(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = self.items.get(id);
        let mut guard = 0;
        while let Some(item) = cur {
            if item.parent.is_none() || guard > 64 {
                break;
            }
            parts.push(item.name.as_str());
            cur = item.parent.as_deref().and_then(|p| self.items.get(p));
            guard += 1;
        }
        parts.reverse();
        if parts.is_empty() {
            String::new()
        } else {
            format!("/{}", parts.join("/"))
        }
    }

    /// The item's parent folder path (`/Folder`, or empty for items at the root).
    pub fn parent_path_of(&self, id: &str) -> String {
        self.items
            .get(id)
            .and_then(|i| i.parent.as_deref())
            .map(|p| self.path_of(p))
            .unwrap_or_default()
    }

    /// `parentReference.path`: `/drives/{id}/root:` plus the folder path.
    pub fn reference_path(&self, folder_id: &str) -> String {
        format!("/drives/{}/root:{}", self.id, self.path_of(folder_id))
    }

    /// The item's URL.
    pub fn web_url_of(&self, id: &str) -> String {
        format!("{}{}", self.web_url, url_path(&self.path_of(id)))
    }

    /// Children of a folder, by name.
    pub fn children(&self, id: &str) -> Vec<&GItem> {
        let mut out: Vec<&GItem> = self
            .items
            .values()
            .filter(|i| i.parent.as_deref() == Some(id))
            .collect();
        out.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        out
    }

    /// The child of a folder with this name (names are case-insensitive).
    pub fn child_named(&self, parent: &str, name: &str) -> Option<&GItem> {
        let lower = name.to_lowercase();
        self.items
            .values()
            .find(|i| i.parent.as_deref() == Some(parent) && i.name.to_lowercase() == lower)
    }

    /// The item at a path below the root (`Folder/file.docx`, leading slash optional).
    pub fn by_path(&self, path: &str) -> Option<&GItem> {
        let mut cur = self.items.get(&self.root_id)?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            cur = self.child_named(&cur.id, part)?;
        }
        Some(cur)
    }

    /// True when `ancestor` is `id` or one of its ancestors.
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        let mut cur = Some(id.to_string());
        let mut guard = 0;
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            cur = self.items.get(&c).and_then(|i| i.parent.clone());
            guard += 1;
            if guard > 64 {
                break;
            }
        }
        false
    }

    /// The item and everything below it, parents before children.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            out.extend(self.children(&cur).into_iter().map(|c| c.id.clone()));
            i += 1;
        }
        out
    }

    /// Permissions that apply to an item: its own (inherited from nobody), then those of each
    /// ancestor, nearest first, with the ancestor they come from.
    pub fn effective_perms(&self, id: &str) -> Vec<(&GPerm, Option<&str>)> {
        let mut out = Vec::new();
        let Some(item) = self.items.get(id) else {
            return out;
        };
        out.extend(item.perms.iter().map(|p| (p, None)));
        let mut cur = item.parent.as_deref();
        let mut guard = 0;
        while let Some(pid) = cur {
            let Some(parent) = self.items.get(pid) else {
                break;
            };
            out.extend(parent.perms.iter().map(|p| (p, Some(parent.id.as_str()))));
            cur = parent.parent.as_deref();
            guard += 1;
            if guard > 64 {
                break;
            }
        }
        out
    }

    /// Sum of the sizes of files at and below an item (one pass over the drive).
    pub fn size_of(&self, id: &str) -> u64 {
        match self.items.get(id) {
            Some(i) if !i.folder => i.size,
            Some(i) if i.parent.is_none() => self
                .items
                .values()
                .filter(|i| !i.folder)
                .map(|i| i.size)
                .sum(),
            Some(_) => self
                .items
                .values()
                .filter(|i| !i.folder && self.is_within(&i.id, id))
                .map(|i| i.size)
                .sum(),
            None => 0,
        }
    }

    /// A free name in a folder, `name 1.ext`, `name 2.ext`… (conflictBehavior `rename`).
    pub fn free_name(&self, parent: &str, name: &str) -> String {
        if self.child_named(parent, name).is_none() {
            return name.to_string();
        }
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.to_string(), String::new()),
        };
        (1..10_000)
            .map(|n| format!("{stem} {n}{ext}"))
            .find(|c| self.child_named(parent, c).is_none())
            .unwrap_or_else(|| format!("{stem} {}{ext}", self.items.len()))
    }
}

/// The MIME type of a file name.
pub fn mime_of(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("pptx") => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("mp4") => "video/mp4",
        Some("zip") => "application/x-zip-compressed",
        Some("one") => "application/msonenote",
        Some("vsdx") => "application/vnd.ms-visio.drawing",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_follow_onedrive_rules() {
        assert!(valid_name("Budget 2025.xlsx"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name("trailing."));
        assert!(!valid_name(""));
        assert_eq!(
            url_path("/Shared Documents/a b.docx"),
            "/Shared%20Documents/a%20b.docx"
        );
        assert_eq!(mime_of("x.PDF"), "application/pdf");
    }
}
