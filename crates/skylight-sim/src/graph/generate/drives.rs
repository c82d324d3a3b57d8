//! Sites, libraries and OneDrives with their items and sharing.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};

use super::ids::*;
use crate::graph::drives::{GDrive, GItem, GPerm, GSite, Ident, PermKind};
use crate::graph::{GUser, GraphState};
use crate::rng::{Rng, guid, hash, hash_str, mix64};
use crate::tenant::{Tenant, names};

/// The root's permissions: the OneDrive owner, or the site's three groups.
fn base_perms(site_title: &str, owner: Option<&GUser>, created: DateTime<Utc>) -> Vec<GPerm> {
    match owner {
        Some(u) => vec![GPerm {
            id: perm_id_for(&u.upn.to_ascii_lowercase()),
            roles: vec!["owner"],
            kind: PermKind::User { user: ident_of(u) },
            created,
            expiration: None,
            has_password: false,
            share_id: None,
        }],
        None => [
            ("3", "Owners", "owner"),
            ("5", "Members", "write"),
            ("4", "Visitors", "read"),
        ]
        .into_iter()
        .map(|(n, label, role)| GPerm {
            id: base64::engine::general_purpose::STANDARD
                .encode(format!("i:0#.s|sitegroup|{site_title} {label}")),
            roles: vec![role],
            kind: PermKind::SiteGroup {
                id: n.to_string(),
                display_name: format!("{site_title} {label}"),
            },
            created,
            expiration: None,
            has_password: false,
            share_id: None,
        })
        .collect(),
    }
}

/// A sharing link permission.
pub fn link_perm(
    drive: &GDrive,
    item_id: &str,
    host: &str,
    (scope, link_type): (&'static str, &'static str),
    recipients: Vec<Ident>,
    created: DateTime<Utc>,
    n: u64,
) -> GPerm {
    let h = hash(&[hash_str(item_id), hash_str(scope), hash_str(link_type), n]);
    let token = URL_SAFE_NO_PAD.encode(
        [
            h.to_le_bytes(),
            mix64(h).to_le_bytes(),
            mix64(h ^ 1).to_le_bytes(),
        ]
        .concat(),
    );
    let kind_letter = if link_type == "edit" { "w" } else { "r" };
    GPerm {
        id: guid(h, mix64(h ^ 7)),
        roles: vec![if link_type == "edit" { "write" } else { "read" }],
        kind: PermKind::Link {
            scope,
            link_type,
            web_url: format!(
                "https://{host}/:{kind_letter}:/g/{}",
                &token[..token.len().min(46)]
            ),
            recipients,
        },
        created,
        expiration: None,
        has_password: false,
        share_id: Some(format!(
            "u!{}",
            URL_SAFE_NO_PAD.encode(format!("{}{}", drive.web_url, drive.path_of(item_id)))
        )),
    }
}

pub(super) fn sites_and_drives(s: &mut GraphState, now: DateTime<Utc>, seq: &mut u64) {
    let t = s.tenant.clone();
    let guests: Vec<GUser> = s
        .users
        .values()
        .filter(|u| u.user_type == "Guest")
        .cloned()
        .collect();
    let members: Vec<GUser> = s
        .users
        .values()
        .filter(|u| u.user_type == "Member")
        .cloned()
        .collect();
    let mut forced_done = false;
    for (si, site) in t.sites.iter().enumerate() {
        let mut r = Rng::new(&[t.seed, hash_str("graph-site"), si as u64]);
        let personal = site.owner.is_some();
        let host = site
            .url
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let created = now - Duration::days(r.range(200, 2000));
        let owner_user = site
            .owner
            .and_then(|i| t.users.get(i))
            .and_then(|u| s.users.get(&u.object_id))
            .cloned();
        let group = t
            .groups
            .iter()
            .find(|g| g.site == Some(si))
            .map(|g| g.object_id.clone());
        let name = site.url.rsplit('/').next().unwrap_or_default().to_string();
        let gsite = GSite {
            id: format!("{host},{},{}", site.site_id, site.web_id),
            site_guid: site.site_id.clone(),
            web_guid: site.web_id.clone(),
            name,
            display_name: site.title.clone(),
            web_url: site.url.clone(),
            personal,
            created,
            drives: Vec::new(),
            group: group.clone(),
        };
        s.sites.push(gsite);

        // The creator pool: the OneDrive's owner, or the group's members, or anyone.
        let pool: Vec<GUser> = match (&owner_user, &group) {
            (Some(u), _) => vec![u.clone()],
            (None, Some(g)) => s
                .groups
                .get(g)
                .map(|g| {
                    g.members
                        .iter()
                        .filter_map(|m| s.users.get(m))
                        .filter(|u| u.user_type == "Member")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let pool = if pool.is_empty() {
            members.clone()
        } else {
            pool
        };

        let owner_ident = match (&owner_user, &group) {
            (Some(u), _) => (ident_of(u), false),
            (None, Some(g)) => (
                Ident {
                    id: Some(g.clone()),
                    display_name: site.title.clone(),
                    email: s.groups.get(g).and_then(|g| g.mail.clone()),
                },
                true,
            ),
            _ => (
                Ident {
                    id: None,
                    display_name: format!("{} Owners", site.title),
                    email: None,
                },
                true,
            ),
        };
        let mut libraries: Vec<(String, String, String, u32, bool)> = vec![(
            "Documents".to_string(),
            site.library.to_string(),
            site.list_id.clone(),
            site.files,
            true,
        )];
        if !personal && site.title == "Legal" {
            libraries.push((
                "Contracts".into(),
                "Contracts".into(),
                stable(&t, "contracts-list", si as u64),
                12,
                false,
            ));
        }
        for (lib_name, lib_path, list_id, files, audited) in libraries {
            let id = drive_id(&site.site_id, &site.web_id, &list_id);
            let root_id = item_id(&id, 0);
            let mut drive = GDrive {
                id: id.clone(),
                name: lib_name.clone(),
                library_path: lib_path.clone(),
                drive_type: if personal {
                    "business"
                } else {
                    "documentLibrary"
                },
                site: si,
                web_url: format!("{}/{}", site.url, crate::graph::drives::url_path(&lib_path)),
                owner: owner_ident.0.clone(),
                owner_is_group: owner_ident.1,
                created,
                list_id: list_id.clone(),
                root_id: root_id.clone(),
                items: BTreeMap::new(),
                removed: BTreeMap::new(),
                quota_total: if personal { 1 << 40 } else { 25 << 40 },
            };
            let owner_arc = Arc::new(owner_ident.0.clone());
            let authors: Vec<Arc<Ident>> = pool.iter().map(|u| Arc::new(ident_of(u))).collect();
            let first = authors
                .first()
                .cloned()
                .unwrap_or_else(|| owner_arc.clone());
            *seq += 1;
            drive.items.insert(
                root_id.clone(),
                GItem {
                    id: root_id.clone(),
                    name: "root".into(),
                    parent: None,
                    folder: true,
                    size: 0,
                    created,
                    modified: created,
                    created_by: first.clone(),
                    modified_by: first,
                    version: 1,
                    perms: base_perms(&site.title, owner_user.as_ref(), created),
                    seq: *seq,
                    shared_seq: 0,
                    unique_id: stable(&t, "sp-root", hash_str(&id)),
                },
            );
            let mut n = 1u64;
            // Names taken per folder (lowercase: names are case-insensitive), and folders by name.
            let mut taken: std::collections::HashSet<(String, String)> = Default::default();
            let mut folders: BTreeMap<String, String> = BTreeMap::new();
            for k in 0..files {
                let (folder, name) = if audited {
                    t.file_name(si, k)
                } else {
                    let mut fr = Rng::new(&[t.seed, hash_str("contract"), u64::from(k)]);
                    (
                        String::new(),
                        format!(
                            "{} contract {}.pdf",
                            fr.pick(names::PARTNER_DOMAINS),
                            2020 + k
                        ),
                    )
                };
                let mut fr = Rng::new(&[t.seed, hash_str("graph-file"), si as u64, u64::from(k)]);
                let author = authors
                    .get(fr.below(authors.len() as u64) as usize)
                    .cloned()
                    .unwrap_or_else(|| owner_arc.clone());
                let mut parent = root_id.clone();
                if let Some(folder_name) = folder.strip_prefix('/') {
                    let existing = folders.get(&folder_name.to_lowercase()).cloned();
                    parent = match existing {
                        Some(f) => f,
                        None => {
                            let fid = item_id(&id, n);
                            n += 1;
                            *seq += 1;
                            let fc = created + Duration::days(fr.range(0, 60));
                            drive.items.insert(
                                fid.clone(),
                                GItem {
                                    id: fid.clone(),
                                    name: folder_name.to_string(),
                                    parent: Some(root_id.clone()),
                                    folder: true,
                                    size: 0,
                                    created: fc,
                                    modified: fc,
                                    created_by: author.clone(),
                                    modified_by: author.clone(),
                                    version: 1,
                                    perms: Vec::new(),
                                    seq: *seq,
                                    shared_seq: 0,
                                    unique_id: stable(&t, folder_name, si as u64),
                                },
                            );
                            folders.insert(folder_name.to_lowercase(), fid.clone());
                            taken.insert((root_id.clone(), folder_name.to_lowercase()));
                            fid
                        }
                    };
                }
                if !taken.insert((parent.clone(), name.to_lowercase())) {
                    continue;
                }
                let ext = name.rsplit_once('.').map_or("", |(_, e)| e).to_string();
                let fid = item_id(&id, n);
                n += 1;
                *seq += 1;
                let age = (now - created).num_minutes().max(60);
                let fcreated = created + Duration::minutes(fr.range(0, age - 30));
                let fmod = fcreated
                    + Duration::minutes(fr.range(0, (now - fcreated).num_minutes().max(1)));
                let editor = if fr.chance(0.3) {
                    authors
                        .get(fr.below(authors.len() as u64) as usize)
                        .cloned()
                        .unwrap_or_else(|| author.clone())
                } else {
                    author.clone()
                };
                let unique = {
                    let h = hash(&[t.seed, hash_str("sp-item"), si as u64, u64::from(k)]);
                    guid(h, mix64(h ^ 0x5eed))
                };
                drive.items.insert(
                    fid.clone(),
                    GItem {
                        id: fid,
                        name,
                        parent: Some(parent),
                        folder: false,
                        size: if audited {
                            t.file_size(si, k, &ext)
                        } else {
                            40_000 + fr.below(900_000)
                        },
                        created: fcreated,
                        modified: fmod,
                        created_by: author,
                        modified_by: editor,
                        version: 1 + fr.below(12) as u32,
                        perms: Vec::new(),
                        seq: *seq,
                        shared_seq: 0,
                        unique_id: unique,
                    },
                );
            }
            share_items(
                &t,
                &mut drive,
                &host,
                &guests,
                &members,
                personal,
                &mut forced_done,
                si,
            );
            let drive_id = drive.id.clone();
            s.sites[si].drives.push(drive_id.clone());
            s.drives.insert(drive_id, drive);
        }
    }
}

/// Shares some items: anonymous and organisation links, links for specific people, direct
/// grants to guests and invitations to outsiders. The first library with three files carries
/// one of each of the first three, so every tenant has them.
#[allow(clippy::too_many_arguments)]
fn share_items(
    t: &Tenant,
    drive: &mut GDrive,
    host: &str,
    guests: &[GUser],
    members: &[GUser],
    personal: bool,
    forced_done: &mut bool,
    si: usize,
) {
    let ids: Vec<String> = drive
        .items
        .values()
        .filter(|i| i.parent.is_some())
        .map(|i| i.id.clone())
        .collect();
    let files: Vec<String> = ids
        .iter()
        .filter(|i| drive.items.get(*i).is_some_and(|x| !x.folder))
        .cloned()
        .collect();
    let mut forced: BTreeMap<String, u8> = BTreeMap::new();
    if !*forced_done && files.len() >= 3 && !personal {
        *forced_done = true;
        for (n, f) in files.iter().take(3).enumerate() {
            forced.insert(f.clone(), n as u8);
        }
    }
    for (ord, id) in ids.iter().enumerate() {
        let Some(item) = drive.items.get(id) else {
            continue;
        };
        let mut r = Rng::new(&[t.seed, hash_str("graph-share"), si as u64, ord as u64]);
        let rate = match (item.folder, personal) {
            (true, _) => 0.12,
            (false, true) => 0.08,
            (false, false) => 0.06,
        };
        let kind = match forced.get(id) {
            Some(k) => *k,
            None if r.chance(rate) => {
                let x = r.f64();
                if x < 0.2 {
                    0
                } else if x < 0.45 {
                    2
                } else if x < 0.6 {
                    3
                } else if x < 0.8 {
                    1
                } else {
                    4
                }
            }
            None => continue,
        };
        let when = item.modified;
        let sharer: Ident = (*item.modified_by).clone();
        let perm = match kind {
            // Anonymous ("anyone with the link").
            0 => link_perm(
                drive,
                id,
                host,
                ("anonymous", if r.chance(0.4) { "edit" } else { "view" }),
                Vec::new(),
                when,
                ord as u64,
            ),
            // A direct grant to a guest of the directory.
            1 => match guests.get(r.below(guests.len().max(1) as u64) as usize) {
                Some(g) => GPerm {
                    id: perm_id_for(&g.upn.to_ascii_lowercase()),
                    roles: vec![if r.chance(0.5) { "write" } else { "read" }],
                    kind: PermKind::User { user: ident_of(g) },
                    created: when,
                    expiration: None,
                    has_password: false,
                    share_id: None,
                },
                None => invitation(&mut r, &sharer, when),
            },
            // Everyone in the organisation.
            2 => link_perm(
                drive,
                id,
                host,
                ("organization", if r.chance(0.3) { "edit" } else { "view" }),
                Vec::new(),
                when,
                ord as u64,
            ),
            // Specific people (a colleague, sometimes someone outside).
            3 => {
                let who = if r.chance(0.3) {
                    guests
                        .get(r.below(guests.len().max(1) as u64) as usize)
                        .map(ident_of)
                } else {
                    members
                        .get(r.below(members.len().max(1) as u64) as usize)
                        .map(ident_of)
                };
                link_perm(
                    drive,
                    id,
                    host,
                    ("users", "view"),
                    who.into_iter().collect(),
                    when,
                    ord as u64,
                )
            }
            // An invitation mailed to someone outside the directory.
            _ => invitation(&mut r, &sharer, when),
        };
        if let Some(item) = drive.items.get_mut(id) {
            item.shared_seq = item.seq;
            item.perms.push(perm);
        }
    }
}

fn invitation(r: &mut Rng, by: &Ident, when: DateTime<Utc>) -> GPerm {
    let given = r.pick(names::GIVEN).to_ascii_lowercase();
    let family: String = r
        .pick(names::FAMILY)
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let email = format!("{given}.{family}@{}", r.pick(names::PARTNER_DOMAINS));
    GPerm {
        id: perm_id_for(&format!("urn%3aspo%3aguest#{email}")),
        roles: vec!["read"],
        kind: PermKind::Invitation {
            email,
            invited_by: by.clone(),
        },
        created: when,
        expiration: None,
        has_password: false,
        share_id: None,
    }
}
