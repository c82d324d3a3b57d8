//! The files component: every SharePoint library and OneDrive, by drive delta (contract §4.5),
//! with the sharing permissions of the items that carry any (§4.6), and an access level for each
//! item worked out from its own and its folders' permissions.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use skylight_model::{AccessLevel, Collaborator, FileItem};
use skylight_store::{DirectoryQuery, FileChanges, FileQuery, Store};

use super::directory::{SyncError, on_store, time};
use super::{GraphClient, GraphError, segment};

/// Asks drive delta to mark items whose sharing changed and to show removals as deletions.
const PREFER: &str =
    "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges";

/// What a files round brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesReport {
    /// Drives read.
    pub drives: usize,
    /// Items added or changed (including those whose access changed through a folder).
    pub changed: usize,
    /// Items removed.
    pub removed: usize,
    /// Drives whose delta link had expired and were enumerated again.
    pub resynced: usize,
    /// Sites or drives that could not be read (the others were), each with what to do.
    pub warnings: Vec<String>,
}

/// Decodes `%XX` escapes (UTF-8); a broken escape is kept as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// An item as the round knows it: its fields and its own (not inherited) permissions.
#[derive(Debug, Clone)]
struct Node {
    item: FileItem,
    own: Vec<Collaborator>,
}

/// Who is inside the organisation: its domains and its guests (from the directory).
#[derive(Debug, Clone, Default)]
pub struct Insiders {
    /// Domains of the members' UPNs and mail addresses, lowercase.
    pub domains: HashSet<String>,
    /// Object ids of guest accounts.
    pub guests: HashSet<String>,
}

impl Insiders {
    /// From the directory's users.
    pub fn from_users(users: &[skylight_model::DirectoryUser]) -> Insiders {
        let mut insiders = Insiders::default();
        for u in users {
            if u.is_guest() {
                insiders.guests.insert(u.id.clone());
                continue;
            }
            for addr in std::iter::once(&u.upn).chain(u.mail.as_ref()) {
                if let Some((_, d)) = addr.rsplit_once('@') {
                    insiders.domains.insert(d.to_ascii_lowercase());
                }
            }
        }
        insiders
    }

    /// An address outside the organisation (or a guest's `#EXT#` UPN).
    pub fn external_email(&self, email: &str) -> bool {
        let e = email.to_ascii_lowercase();
        e.contains("#ext#")
            || e.rsplit_once('@')
                .is_some_and(|(_, d)| !self.domains.contains(d))
    }
}

/// The collaborators a permission names; owners are not collaborators.
pub fn collaborators(p: &Value, insiders: &Insiders) -> Vec<Collaborator> {
    let id = text(&p["id"]).unwrap_or_default();
    let roles: Vec<String> = p["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let inherited = p.get("inheritedFrom").is_some_and(|v| !v.is_null());
    let person = |ident: &Value, via_link: bool| -> Option<Collaborator> {
        let user = if ident["user"].is_object() {
            &ident["user"]
        } else {
            &ident["siteUser"]
        };
        if user.is_object() {
            let who = text(&user["email"])
                .or_else(|| text(&user["loginName"]))
                .or_else(|| text(&user["displayName"]))?;
            let guest = text(&user["id"]).is_some_and(|i| insiders.guests.contains(&i));
            return Some(Collaborator {
                permission_id: id.clone(),
                kind: if via_link { "link_user" } else { "user" }.into(),
                external: guest || insiders.external_email(&who),
                who,
                roles: roles.clone(),
                inherited,
            });
        }
        let group = if ident["group"].is_object() {
            &ident["group"]
        } else {
            &ident["siteGroup"]
        };
        group.is_object().then(|| Collaborator {
            permission_id: id.clone(),
            kind: "group".into(),
            who: text(&group["displayName"]).unwrap_or_else(|| "group".into()),
            roles: roles.clone(),
            external: false,
            inherited,
        })
    };
    let mut out = Vec::new();
    if p["link"].is_object() {
        let scope = text(&p["link"]["scope"]).unwrap_or_else(|| "users".into());
        out.push(Collaborator {
            permission_id: id.clone(),
            kind: "link".into(),
            external: scope == "anonymous",
            who: scope,
            roles: roles.clone(),
            inherited,
        });
        for i in p["grantedToIdentitiesV2"]
            .as_array()
            .or(p["grantedToIdentities"].as_array())
            .into_iter()
            .flatten()
        {
            out.extend(person(i, true));
        }
        return out;
    }
    if roles.iter().any(|r| r == "owner") {
        return out;
    }
    let granted = if p["grantedToV2"].is_object() {
        &p["grantedToV2"]
    } else {
        &p["grantedTo"]
    };
    if let Some(mut c) = person(granted, false) {
        if let Some(email) = text(&p["invitation"]["email"]) {
            c.external |= insiders.external_email(&email);
        }
        out.push(c);
    } else if let Some(email) = text(&p["invitation"]["email"]) {
        out.push(Collaborator {
            permission_id: id,
            kind: "user".into(),
            external: insiders.external_email(&email),
            who: email,
            roles,
            inherited,
        });
    }
    out
}

/// The access level and outside domains of a set of collaborators.
fn grade(collaborators: &[Collaborator], library: bool) -> (AccessLevel, Vec<String>) {
    let mut level = if library {
        AccessLevel::Internal
    } else {
        AccessLevel::Private
    };
    let mut domains = BTreeSet::new();
    for c in collaborators {
        let this = match (c.kind.as_str(), c.who.as_str()) {
            ("link", "anonymous") => AccessLevel::Public,
            ("link", _) | ("group", _) => AccessLevel::Internal,
            _ if c.external => {
                if let Some((_, d)) = c.who.rsplit_once('@') {
                    domains.insert(d.to_ascii_lowercase());
                }
                AccessLevel::External
            }
            _ => AccessLevel::Internal,
        };
        level = level.max(this);
    }
    (level, domains.into_iter().collect())
}

/// One round of every drive of `tenant`. The directory should have been synced first: its
/// domains and guests tell inside from outside.
pub async fn sync(
    client: &GraphClient,
    store: &Arc<dyn Store>,
    tenant: &str,
) -> Result<FilesReport, SyncError> {
    let t = tenant.to_owned();
    let users = on_store(store, move |s| {
        s.directory_users(&DirectoryQuery {
            tenant: Some(t),
            ..DirectoryQuery::default()
        })
    })
    .await?;
    let insiders = Insiders::from_users(&users);
    let graph = |what: &'static str| SyncError::graph_files(what);
    let sites = client
        .get_all("/sites/getAllSites?$select=id,webUrl,displayName,isPersonalSite&$top=999")
        .await
        .map_err(graph("sites"))?;
    let mut report = FilesReport::default();
    for site in &sites {
        let Some(site_id) = text(&site["id"]) else {
            continue;
        };
        // One site or library that cannot be read (locked, deleted meanwhile) does not stop the
        // others: it is reported and read again next round.
        let drives = match client
            .get_all(&format!("/sites/{}/drives", segment(&site_id)))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                report.warnings.push(format!(
                    "site {}: {e}; {}",
                    text(&site["webUrl"]).unwrap_or(site_id),
                    e.remediation("Sites.Read.All").message
                ));
                continue;
            }
        };
        for drive in &drives {
            report.drives += 1;
            match sync_drive(client, store, tenant, site, drive, &insiders, &mut report).await {
                Ok(()) => {}
                Err(SyncError::Graph {
                    what,
                    permission,
                    source,
                }) => report.warnings.push(format!(
                    "library {}: {what}: {source}; {}",
                    text(&drive["webUrl"]).unwrap_or_default(),
                    source.remediation(permission).message
                )),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(report)
}

/// One drive's round: the delta, the permissions of shared items, every item's access again.
async fn sync_drive(
    client: &GraphClient,
    store: &Arc<dyn Store>,
    tenant: &str,
    site: &Value,
    drive: &Value,
    insiders: &Insiders,
    report: &mut FilesReport,
) -> Result<(), SyncError> {
    let graph = |what: &'static str| SyncError::graph_files(what);
    let Some(drive_id) = text(&drive["id"]) else {
        return Ok(());
    };
    let (t, d) = (tenant.to_owned(), drive_id.clone());
    let cursor = on_store(store, move |s| {
        s.directory_cursor(&t, &format!("drive:{d}"))
    })
    .await?;
    let first = format!("/drives/{}/root/delta", segment(&drive_id));
    let (items, link, full) = match cursor {
        Some(link) => match client.delta_round_with(&link, Some(PREFER)).await {
            Ok((items, next)) => (items, next, false),
            Err(e) if e.needs_resync() => {
                report.resynced += 1;
                let start = match &e {
                    GraphError::Graph {
                        location: Some(l), ..
                    } => l.clone(),
                    _ => first.clone(),
                };
                let (items, next) = client
                    .delta_round_with(&start, Some(PREFER))
                    .await
                    .map_err(graph("drive delta"))?;
                (items, next, true)
            }
            Err(e) => return Err(graph("drive delta")(e)),
        },
        None => {
            let (items, next) = client
                .delta_round_with(&first, Some(PREFER))
                .await
                .map_err(graph("drive delta"))?;
            (items, next, true)
        }
    };

    // What the store holds of this drive, unless the round starts it again.
    let mut nodes: HashMap<String, Node> = HashMap::new();
    if !full {
        let (t, d) = (tenant.to_owned(), drive_id.clone());
        let stored = on_store(store, move |s| {
            s.files(&FileQuery {
                tenant: Some(t),
                drive_id: Some(d),
                include_folders: true,
                ..FileQuery::default()
            })
        })
        .await?;
        for item in stored {
            let own = item
                .collaborators
                .iter()
                .filter(|c| !c.inherited)
                .cloned()
                .collect();
            nodes.insert(item.id.clone(), Node { item, own });
        }
    }
    let before: HashMap<String, FileItem> = nodes
        .iter()
        .map(|(k, n)| (k.clone(), n.item.clone()))
        .collect();

    let drive_type = text(&drive["driveType"]).unwrap_or_else(|| "documentLibrary".into());
    let library = text(&drive["name"]).unwrap_or_else(|| "Documents".into());
    let web = text(&drive["webUrl"]).unwrap_or_default();
    let library_path = web
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .unwrap_or_else(|| library.clone());
    let drive_owner = text(&drive["owner"]["user"]["email"])
        .or_else(|| text(&drive["owner"]["user"]["displayName"]));
    let mut removed: Vec<String> = Vec::new();
    let mut root_id: Option<String> = None;
    for v in &items {
        let Some(id) = text(&v["id"]) else { continue };
        if v.get("deleted").is_some_and(|d| !d.is_null()) {
            nodes.remove(&id);
            removed.push(id);
            continue;
        }
        // Back after a removal in the same round: the last occurrence is its state.
        removed.retain(|r| r != &id);
        if v.get("root").is_some_and(|r| !r.is_null()) {
            root_id = Some(id.clone());
        }
        let shared = v.get("shared").is_some_and(|s| !s.is_null())
            || v["@microsoft.graph.sharedChanged"].as_str() == Some("True");
        let previous = nodes.get(&id);
        // Permissions are read for items that carry sharing, or did: a removed share must go.
        let own = if shared || previous.is_some_and(|n| !n.own.is_empty()) {
            match client
                .get_all(&format!(
                    "/drives/{}/items/{}/permissions",
                    segment(&drive_id),
                    segment(&id)
                ))
                .await
            {
                Ok(perms) => perms
                    .iter()
                    .flat_map(|p| collaborators(p, insiders))
                    .filter(|c| !c.inherited)
                    .collect(),
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(graph("permissions")(e)),
            }
        } else {
            Vec::new()
        };
        let item = FileItem {
            tenant: tenant.to_owned(),
            drive_id: drive_id.clone(),
            id: id.clone(),
            name: text(&v["name"]).unwrap_or_else(|| id.clone()),
            path: String::new(),
            parent_id: text(&v["parentReference"]["id"]),
            folder: v.get("folder").is_some_and(|f| !f.is_null())
                || v.get("root").is_some_and(|r| !r.is_null()),
            size: v["size"].as_u64().unwrap_or(0),
            modified: time(&v["lastModifiedDateTime"]),
            owner: if drive_type == "business" {
                drive_owner.clone()
            } else {
                text(&v["createdBy"]["user"]["email"])
                    .or_else(|| previous.and_then(|n| n.item.owner.clone()))
            },
            web_url: text(&v["webUrl"]),
            library: library.clone(),
            library_path: library_path.clone(),
            drive_type: drive_type.clone(),
            site_url: text(&site["webUrl"]),
            access: AccessLevel::Private,
            collaborators: Vec::new(),
            external_domains: Vec::new(),
            synced: Utc::now(),
        };
        nodes.insert(id, Node { item, own });
    }
    let root_id = root_id.or_else(|| {
        nodes
            .values()
            .find(|n| n.item.parent_id.is_none())
            .map(|n| n.item.id.clone())
    });

    // Paths and inherited sharing, from each item up to the root.
    let ids: Vec<String> = nodes.keys().cloned().collect();
    let library_drive = drive_type == "documentLibrary";
    let mut changed = Vec::new();
    for id in ids {
        let mut names = Vec::new();
        let mut inherited: Vec<Collaborator> = Vec::new();
        let mut cursor = nodes.get(&id).and_then(|n| n.item.parent_id.clone());
        let mut seen = HashSet::new();
        while let Some(p) = cursor.take() {
            if !seen.insert(p.clone()) {
                break;
            }
            let Some(parent) = nodes.get(&p) else { break };
            if Some(&p) != root_id.as_ref() {
                names.push(parent.item.name.clone());
            }
            inherited.extend(parent.own.iter().cloned().map(|mut c| {
                c.inherited = true;
                c
            }));
            cursor = parent.item.parent_id.clone();
        }
        let Some(node) = nodes.get_mut(&id) else {
            continue;
        };
        names.reverse();
        let is_root = Some(&id) == root_id.as_ref();
        node.item.path = if is_root {
            String::new()
        } else {
            format!(
                "/{}",
                names
                    .iter()
                    .chain([&node.item.name])
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/")
            )
        };
        let mut all = node.own.clone();
        all.extend(inherited);
        let (access, domains) = grade(&all, library_drive);
        node.item.access = access;
        node.item.external_domains = domains;
        node.item.collaborators = all;
        let same = before.get(&id).is_some_and(|b| {
            b.path == node.item.path
                && b.access == node.item.access
                && b.collaborators == node.item.collaborators
                && b.name == node.item.name
                && b.size == node.item.size
                && b.modified == node.item.modified
                && b.parent_id == node.item.parent_id
        });
        if !same {
            changed.push(node.item.clone());
        }
    }
    report.changed += changed.len();
    report.removed += removed.len();
    let changes = FileChanges {
        items: changed,
        removed,
        all: full,
        cursor: Some(link),
    };
    let (t, d) = (tenant.to_owned(), drive_id);
    on_store(store, move |s| s.commit_files(&t, &d, &changes)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insiders() -> Insiders {
        Insiders {
            domains: ["contoso.com".to_owned()].into_iter().collect(),
            guests: ["guest-id".to_owned()].into_iter().collect(),
        }
    }

    #[test]
    fn permissions_grade_as_the_contract_describes_them() {
        let perms = serde_json::json!([
            {"id": "o", "roles": ["owner"], "grantedToV2": {"user": {"id": "u", "email": "adele@contoso.com"}}},
            {"id": "l", "roles": ["read"], "link": {"type": "view", "scope": "organization"}},
            {"id": "b", "roles": ["write"], "grantedToV2": {"user": {"id": "x", "displayName": "Bob", "email": "bob@fabrikam.com"}},
             "invitation": {"email": "bob@fabrikam.com", "signInRequired": true}},
            {"id": "g", "roles": ["read"], "grantedToV2": {"user": {"id": "guest-id", "email": "carol_x.org#EXT#@contoso.onmicrosoft.com"}}}
        ]);
        let all: Vec<Collaborator> = perms
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .flat_map(|p| collaborators(p, &insiders()))
            .collect();
        assert_eq!(all.len(), 3, "the owner is not a collaborator: {all:?}");
        let (level, domains) = grade(&all, false);
        assert_eq!(level, AccessLevel::External);
        assert!(domains.contains(&"fabrikam.com".to_owned()));
        let anonymous = serde_json::json!({"id": "a", "roles": ["read"],
            "link": {"type": "view", "scope": "anonymous"}, "grantedToIdentitiesV2": []});
        let (level, _) = grade(&collaborators(&anonymous, &insiders()), false);
        assert_eq!(level, AccessLevel::Public);
        assert_eq!(
            grade(&[], true).0,
            AccessLevel::Internal,
            "a library's members reach it"
        );
        assert_eq!(grade(&[], false).0, AccessLevel::Private);
    }

    #[test]
    fn library_paths_are_decoded() {
        assert_eq!(percent_decode("Shared%20Documents"), "Shared Documents");
        assert_eq!(
            percent_decode("Documents%20partag%C3%A9s"),
            "Documents partagés"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%é"), "%zz%é");
    }
}
