//! SharePoint Online and OneDrive records (contract §3.5).
use super::RecordCtx;
use super::agents::ONEDRIVE_SYNC;
use super::messy::{finish, hex_lower, modified, other_user, put, stable_guid};
use crate::rng::{Rng, hash, hash_str};
use crate::tenant::names::{FAMILY, FILE_WORDS, GIVEN, PARTNER_DOMAINS};
use crate::tenant::{Site, Tenant, User, UserKind};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Sites and files (shared with the DLP builder).

/// True for OneDrive personal sites.
pub(super) fn is_personal(site: &Site) -> bool {
    site.url.contains("-my.sharepoint.com")
}

/// The user's own OneDrive. Personal sites come last, in user order, so a binary search finds
/// it; the result is checked, with a linear search as the fallback.
fn own_onedrive(t: &Tenant, u: &User) -> Option<usize> {
    if !matches!(u.kind, UserKind::Member | UserKind::Admin(_)) {
        return None;
    }
    let start = t.sites.partition_point(|s| s.owner.is_none());
    let fast = t
        .sites
        .get(start..)
        .and_then(|tail| {
            tail.binary_search_by_key(&u.index, |s| s.owner.unwrap_or(usize::MAX))
                .ok()
        })
        .map(|i| start + i)
        .filter(|&i| t.sites.get(i).is_some_and(|s| s.owner == Some(u.index)));
    fast.or_else(|| t.sites.iter().position(|s| s.owner == Some(u.index)))
}

/// A site the actor works in: their OneDrive, a team site of one of their groups, or (for
/// intranet-style browsing, or when they have neither) any non-personal site.
pub(super) fn pick_site(ctx: &RecordCtx<'_>, r: &mut Rng) -> Option<usize> {
    let t = ctx.tenant;
    let roll = r.f64();
    let own = own_onedrive(t, ctx.user);
    if roll < 0.35
        && let Some(i) = own
    {
        return Some(i);
    }
    if roll < 0.85 {
        // Reservoir-pick one team site among the user's groups (no allocation).
        let mut seen = 0u64;
        let mut chosen = None;
        for g in t.groups_of(ctx.user).filter(|g| g.site.is_some()) {
            seen += 1;
            if r.below(seen) == 0 {
                chosen = g.site;
            }
        }
        if let Some(i) = chosen.filter(|&i| i < t.sites.len()) {
            return Some(i);
        }
    }
    let shared = t.sites.partition_point(|s| s.owner.is_none());
    if shared > 0 {
        return Some(r.below(shared as u64) as usize);
    }
    own.or_else(|| {
        if t.sites.is_empty() {
            None
        } else {
            Some(r.below(t.sites.len() as u64) as usize)
        }
    })
}

/// A file of a site's library.
pub(super) struct FileRef<'t> {
    /// Site index.
    pub idx: usize,
    /// The site.
    pub site: &'t Site,
    /// File number within the library.
    pub k: u32,
    /// Folder inside the library (`/Budget` or empty).
    pub folder: String,
    /// File name with extension.
    pub name: String,
}

impl FileRef<'_> {
    /// The extension without the dot.
    pub fn ext(&self) -> &str {
        self.name.rsplit_once('.').map_or("", |(_, e)| e)
    }
    /// `SiteUrl`: the site URL with a trailing slash.
    pub fn site_url(&self) -> String {
        format!("{}/", self.site.url)
    }
    /// `SourceRelativeUrl`: library plus folder (`Shared Documents/Budget`).
    pub fn rel(&self) -> String {
        format!("{}{}", self.site.library, self.folder)
    }
    /// The file's absolute URL (`ObjectId`).
    pub fn url(&self) -> String {
        format!(
            "{}/{}{}/{}",
            self.site.url, self.site.library, self.folder, self.name
        )
    }
    /// The stable `ListItemUniqueId` of the file.
    pub fn unique_id(&self, t: &Tenant) -> String {
        let h = hash(&[
            t.seed,
            hash_str("sp-item"),
            self.idx as u64,
            u64::from(self.k),
        ]);
        crate::rng::guid(h, crate::rng::mix64(h ^ 0x5eed))
    }
    /// The file's size in bytes (stable).
    pub fn size(&self, t: &Tenant) -> u64 {
        t.file_size(self.idx, self.k, self.ext())
    }
}

/// A file in a site the actor works in.
pub(super) fn pick_file<'t>(ctx: &RecordCtx<'t>, r: &mut Rng) -> Option<FileRef<'t>> {
    let idx = pick_site(ctx, r)?;
    let site = ctx.tenant.sites.get(idx)?;
    let k = r.below(u64::from(site.files.max(1))) as u32;
    let (folder, name) = ctx.tenant.file_name(idx, k);
    Some(FileRef {
        idx,
        site,
        k,
        folder,
        name,
    })
}

/// SharePoint's `UserKey`: `i:0h.f|membership|<puid>@live.com` for members; guests carry their
/// `#ext#` UPN claim.
pub(super) fn sp_user_key(u: &User) -> String {
    match u.kind {
        UserKind::Guest => format!("i:0#.f|membership|{}", u.upn.to_ascii_lowercase()),
        _ => format!("i:0h.f|membership|{}@live.com", u.puid.to_ascii_lowercase()),
    }
}

/// SharePoint correlation ids have a fixed `x000` third group (`fe71359f-005f-9000-…`).
fn sp_correlation(r: &mut Rng) -> String {
    const NIBBLE: [char; 7] = ['9', 'a', 'b', 'c', 'd', 'e', 'f'];
    let a = r.next_u64();
    let b = r.next_u64();
    let n = NIBBLE.get((a % 7) as usize).copied().unwrap_or('a');
    format!(
        "{:08x}-{:04x}-{n}000-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Fields every SharePoint/OneDrive record carries for a site.
fn sp_common(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>, site: &Site) {
    let personal = is_personal(site);
    put(
        rec,
        "Workload",
        if personal { "OneDrive" } else { "SharePoint" },
    );
    // Document and list activity is user activity, admins included; site-admin changes keep 2.
    if !ctx.operation.starts_with("SiteCollectionAdmin") {
        put(rec, "UserType", 0);
    }
    put(rec, "UserKey", sp_user_key(ctx.user));
    put(rec, "Site", site.site_id.as_str());
    put(rec, "WebId", site.web_id.as_str());
    put(rec, "SiteUrl", format!("{}/", site.url));
    put(rec, "EventSource", "SharePoint");
    put(rec, "UserAgent", ctx.user_agent);
    let corr = sp_correlation(r);
    if r.chance(0.3) {
        // R5: AppAccessContext is a single object.
        put(
            rec,
            "AppAccessContext",
            serde_json::json!({
                "AADSessionId": r.guid(),
                "CorrelationId": corr,
                "UniqueTokenId": super::messy::ews_id(r, "", 22),
            }),
        );
    }
    put(rec, "CorrelationId", corr);
    put(rec, "IsManagedDevice", r.chance(0.4));
    put(
        rec,
        "GeoLocation",
        match ctx.user.country.utc_offset_minutes {
            m if m <= -120 => "NAM",
            m if m >= 300 => "APC",
            _ => "EUR",
        },
    );
}

/// Source fields of a file.
fn file_fields(ctx: &RecordCtx<'_>, rec: &mut Map<String, Value>, f: &FileRef<'_>) {
    put(rec, "ListId", f.site.list_id.as_str());
    put(rec, "ListItemUniqueId", f.unique_id(ctx.tenant));
    put(rec, "SourceRelativeUrl", f.rel());
    put(rec, "SourceFileName", f.name.as_str());
    put(rec, "SourceFileExtension", f.ext());
    put(rec, "ObjectId", f.url());
}

/// A stable machine id for the user's PC (sync client records).
fn machine_id(ctx: &RecordCtx<'_>) -> String {
    stable_guid(ctx, "sp-machine", ctx.user.index as u64)
}

// ---------------------------------------------------------------------------------------------
// Builders.

/// RecordType 4: site, page and administration events.
pub(super) fn base(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let Some(site) = pick_site(ctx, r).and_then(|i| ctx.tenant.sites.get(i)) else {
        finish(ctx, r, rec, true);
        return;
    };
    sp_common(ctx, r, rec, site);
    let op = ctx.operation;
    if op.contains("Page") || op == "ClientViewSignaled" {
        let (rel, page) = if is_personal(site) {
            ("_layouts/15".to_owned(), "onedrive.aspx".to_owned())
        } else if r.chance(0.5) {
            ("SitePages".to_owned(), "Home.aspx".to_owned())
        } else {
            (
                "SitePages".to_owned(),
                format!("{}.aspx", r.pick(FILE_WORDS)),
            )
        };
        let pages_list = stable_guid(ctx, "sp-sitepages", hash_str(&site.site_id));
        put(rec, "ItemType", "Page");
        put(rec, "ListId", pages_list);
        put(
            rec,
            "ListItemUniqueId",
            stable_guid(ctx, &page, hash_str(&site.site_id)),
        );
        put(rec, "ObjectId", format!("{}/{rel}/{page}", site.url));
        put(rec, "SourceRelativeUrl", rel);
        put(rec, "SourceFileExtension", "aspx");
        put(rec, "SourceFileName", page);
    } else if op.starts_with("SiteCollectionAdmin") {
        let target = other_user(ctx, r, |u| {
            matches!(u.kind, UserKind::Member | UserKind::Admin(_))
        });
        put(rec, "ItemType", "Web");
        put(rec, "ObjectId", format!("{}/", site.url));
        let (new, old) = if op.ends_with("Removed") {
            ("", target.upn.as_str())
        } else {
            (target.upn.as_str(), "")
        };
        put(
            rec,
            "ModifiedProperties",
            vec![modified("SiteAdmin", new, old)],
        );
    } else {
        put(
            rec,
            "ItemType",
            if op.contains("Site") && op.contains("Created") {
                "Site"
            } else {
                "Web"
            },
        );
        put(rec, "ObjectId", format!("{}/", site.url));
    }
    finish(ctx, r, rec, true);
}

/// Operations that carry Destination* fields.
fn destination_kind(op: &str) -> Option<bool> {
    // Some(true) = renamed in place, Some(false) = moved/copied elsewhere.
    if op.ends_with("Renamed") {
        Some(true)
    } else if op.ends_with("Moved") || op.ends_with("Copied") {
        Some(false)
    } else {
        None
    }
}

/// RecordTypes 6 and 7: file and folder operations.
pub(super) fn file(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let Some(f) = pick_file(ctx, r) else {
        finish(ctx, r, rec, true);
        return;
    };
    sp_common(ctx, r, rec, f.site);
    let op = ctx.operation;
    let is_folder = op.starts_with("Folder");
    if is_folder {
        // The folder itself is the object: its parent is the library.
        let name = match f.folder.strip_prefix('/') {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => (*r.pick(FILE_WORDS)).to_owned(),
        };
        put(rec, "ItemType", "Folder");
        put(rec, "ListId", f.site.list_id.as_str());
        put(
            rec,
            "ListItemUniqueId",
            stable_guid(ctx, &name, f.idx as u64),
        );
        put(rec, "SourceRelativeUrl", f.site.library);
        put(
            rec,
            "ObjectId",
            format!("{}/{}/{}", f.site.url, f.site.library, name),
        );
        if let Some(rename) = destination_kind(op) {
            let dest_name = if rename {
                format!("{name} {}", r.pick(&["old", "2025", "archive", "final"]))
            } else {
                name.clone()
            };
            let dest_rel = if rename {
                f.site.library.to_owned()
            } else {
                format!("{}/{}", f.site.library, r.pick(FILE_WORDS))
            };
            put(rec, "DestinationRelativeUrl", dest_rel);
            put(rec, "DestinationFileName", dest_name);
        }
        put(rec, "SourceFileName", name);
    } else {
        put(rec, "ItemType", "File");
        file_fields(ctx, rec, &f);
        if let Some(rename) = destination_kind(op) {
            let ext = f.ext();
            let (dest_rel, dest_name) = if rename {
                (
                    f.rel(),
                    format!(
                        "{} {} v{}.{ext}",
                        r.pick(FILE_WORDS),
                        r.pick(FILE_WORDS),
                        2 + r.below(5)
                    ),
                )
            } else {
                (
                    format!("{}/{}", f.site.library, r.pick(FILE_WORDS)),
                    f.name.clone(),
                )
            };
            put(rec, "DestinationRelativeUrl", dest_rel);
            put(rec, "DestinationFileName", dest_name);
            put(rec, "DestinationFileExtension", ext);
        }
        if matches!(
            op,
            "FileUploaded"
                | "FileModified"
                | "FileModifiedExtended"
                | "FileSyncUploadedFull"
                | "FileSyncUploadedPartial"
                | "FileDownloaded"
                | "FileSyncDownloadedFull"
        ) {
            put(rec, "FileSizeBytes", f.size(ctx.tenant));
        }
    }
    if op.contains("Sync") {
        put(rec, "UserAgent", ONEDRIVE_SYNC);
        put(rec, "MachineId", machine_id(ctx));
        put(rec, "MachineDomainInfo", ctx.tenant.domain.as_str());
        put(
            rec,
            "DeviceDisplayName",
            format!("DESKTOP-{}", ctx.user.puid.get(10..16).unwrap_or("0A1B2C")),
        );
    }
    finish(ctx, r, rec, true);
}

/// A person something is shared with: `(TargetUserOrGroupName, TargetUserOrGroupType)`.
fn share_target(ctx: &RecordCtx<'_>, r: &mut Rng, external_only: bool) -> (String, &'static str) {
    let roll = if external_only {
        0.6 + 0.4 * r.f64()
    } else {
        r.f64()
    };
    if roll < 0.7 {
        let u = other_user(ctx, r, |u| {
            matches!(u.kind, UserKind::Member | UserKind::Admin(_))
        });
        return (u.upn.clone(), "Member");
    }
    if roll < 0.85 {
        let u = other_user(ctx, r, |u| u.kind == UserKind::Guest);
        if u.kind == UserKind::Guest {
            // Guests appear by their #ext# UPN (lowercased) or by their mail address.
            let name = if r.chance(0.5) {
                u.upn.to_ascii_lowercase()
            } else {
                u.mail.clone()
            };
            return (name, "Guest");
        }
    }
    // Someone outside the directory, invited by mail.
    let given = r.pick(GIVEN).to_ascii_lowercase();
    let family: String = r
        .pick(FAMILY)
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    (
        format!("{given}.{family}@{}", r.pick(PARTNER_DOMAINS)),
        "Guest",
    )
}

/// RecordType 14: sharing and access requests.
pub(super) fn sharing(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let Some(f) = pick_file(ctx, r) else {
        finish(ctx, r, rec, true);
        return;
    };
    sp_common(ctx, r, rec, f.site);
    let op = ctx.operation;
    let item_guid = f.unique_id(ctx.tenant);
    let web_level = matches!(op, "AddedToGroup" | "RemovedFromGroup")
        || (op.starts_with("SharingInvitation") && r.chance(0.3));
    if web_level {
        put(rec, "ItemType", "Web");
        put(rec, "ObjectId", format!("{}/", f.site.url));
    } else {
        put(rec, "ItemType", "File");
        file_fields(ctx, rec, &f);
    }
    let edit = r.chance(0.35);
    let link = |scope: &str, r: &mut Rng| format!("SharingLinks.{item_guid}.{scope}.{}", r.guid());
    if op.starts_with("AnonymousLink") {
        let scope = if edit {
            "AnonymousEdit"
        } else {
            "AnonymousView"
        };
        put(rec, "TargetUserOrGroupName", link(scope, r));
        put(rec, "TargetUserOrGroupType", "SharePointGroup");
        put(
            rec,
            "EventData",
            if edit {
                "<Type>Edit</Type>"
            } else {
                "<Type>View</Type>"
            },
        );
        if op == "AnonymousLinkUsed" {
            // Whoever holds the link is anonymous: SharePoint writes an urn:spo:anon identity.
            let anon = format!("urn:spo:anon#{}", hex_lower(r, 64));
            put(rec, "UserId", anon.as_str());
            put(rec, "UserKey", anon);
        }
    } else if op.starts_with("CompanyLink") {
        let scope = if edit {
            "OrganizationEdit"
        } else {
            "OrganizationView"
        };
        put(rec, "TargetUserOrGroupName", link(scope, r));
        put(rec, "TargetUserOrGroupType", "SharePointGroup");
        put(
            rec,
            "EventData",
            if edit {
                "<Type>Edit</Type>"
            } else {
                "<Type>View</Type>"
            },
        );
    } else if op.starts_with("SecureLink") {
        put(rec, "TargetUserOrGroupName", link("Flexible", r));
        put(rec, "TargetUserOrGroupType", "SharePointGroup");
        put(
            rec,
            "EventData",
            if edit {
                "<Type>Edit</Type>"
            } else {
                "<Type>View</Type>"
            },
        );
    } else if op == "SharingInheritanceBroken" {
        put(
            rec,
            "EventData",
            "<SharingInheritanceBroken>True</SharingInheritanceBroken>",
        );
    } else if matches!(op, "AddedToGroup" | "RemovedFromGroup") {
        let (name, kind) = share_target(ctx, r, false);
        put(rec, "TargetUserOrGroupName", name);
        put(rec, "TargetUserOrGroupType", kind);
        let group = *r.pick(&["Members", "Visitors", "Owners"]);
        put(
            rec,
            "EventData",
            format!("<Group>{} {group}</Group>", f.site.title),
        );
    } else {
        let external = op.starts_with("SharingInvitation") || op.starts_with("AccessInvitation");
        let (name, kind) = share_target(ctx, r, external);
        put(rec, "TargetUserOrGroupName", name);
        put(rec, "TargetUserOrGroupType", kind);
        let perm = if edit { "Contribute" } else { "Read" };
        put(
            rec,
            "EventData",
            format!("<Permissions granted>{perm}</Permissions granted>"),
        );
    }
    put(rec, "UniqueSharingId", r.guid());
    finish(ctx, r, rec, true);
}

/// Lists sites carry: (title, URL path under the site, ListBaseTemplateType, ListBaseType).
static LISTS: &[(&str, &str, &str, &str)] = &[
    ("Documents", "", "101", "1"),
    ("Tasks", "Lists/Tasks", "171", "0"),
    ("Issue tracker", "Lists/Issue tracker", "100", "0"),
    ("Announcements", "Lists/Announcements", "104", "0"),
    ("Events", "Lists/Events", "106", "0"),
    ("Site Pages", "SitePages", "119", "1"),
    ("Asset register", "Lists/Asset register", "100", "0"),
    ("Contacts", "Lists/Contacts", "105", "0"),
];

/// RecordTypes 36, 37, 54, 55, 56: lists, comments, list items, content types and columns.
pub(super) fn list(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    if ctx.info.value == 37 {
        // Comments are made on documents.
        let Some(f) = pick_file(ctx, r) else {
            finish(ctx, r, rec, true);
            return;
        };
        sp_common(ctx, r, rec, f.site);
        put(rec, "ItemType", "File");
        file_fields(ctx, rec, &f);
        finish(ctx, r, rec, true);
        return;
    }
    let Some((idx, site)) = pick_site(ctx, r).and_then(|i| ctx.tenant.sites.get(i).map(|s| (i, s)))
    else {
        finish(ctx, r, rec, true);
        return;
    };
    sp_common(ctx, r, rec, site);
    let &(title, path, template, base_type) = r.pick(LISTS);
    let path = if path.is_empty() { site.library } else { path };
    let list_id = if title == "Documents" {
        site.list_id.clone()
    } else {
        stable_guid(ctx, title, idx as u64)
    };
    let list_url = format!("{}/{path}", site.url);
    let op = ctx.operation;
    let item_type = if ctx.info.value == 54 {
        "ListItem"
    } else if op.starts_with("Site") {
        "Web"
    } else {
        "List"
    };
    put(rec, "ItemType", item_type);
    put(rec, "ListId", list_id.as_str());
    put(rec, "ListTitle", title);
    put(rec, "ListName", title.replace(' ', ""));
    put(rec, "ListUrl", list_url.as_str());
    put(rec, "ListBaseTemplateType", template);
    put(rec, "ListBaseType", base_type);
    if ctx.info.value == 54 {
        let n = 1 + r.below(400);
        put(rec, "ListItemUniqueId", stable_guid(ctx, &list_id, n));
        put(rec, "ObjectId", format!("{list_url}/{n}_.000"));
    } else if item_type == "Web" {
        put(rec, "ObjectId", format!("{}/", site.url));
    } else {
        put(rec, "ObjectId", list_url);
    }
    finish(ctx, r, rec, true);
}

#[cfg(test)]
mod tests {
    use super::super::{RecordCtx, build};
    use crate::catalog::record_type;
    use crate::rng::Rng;
    use crate::tenant::Tenant;
    use serde_json::{Map, Value};

    use crate::test_support::fixed_now as now;

    fn records(t: &Tenant, rt: i32, op: &str, n: u64) -> Vec<Map<String, Value>> {
        let Some(info) = record_type(rt) else {
            return Vec::new();
        };
        (0..n)
            .map(|i| {
                let user = &t.users[(i as usize * 13) % t.users.len()];
                let ctx = RecordCtx {
                    tenant: t,
                    user,
                    info,
                    operation: op,
                    id: format!("00000000-0000-0000-0000-{i:012}"),
                    time: now(),
                    ip: [81, 2, 69, 143],
                    user_agent: crate::records::agents::DESKTOP[(i % 8) as usize],
                };
                build(&ctx, &mut Rng::new(&[rt as u64, i]))
            })
            .collect()
    }

    fn s<'a>(rec: &'a Map<String, Value>, k: &str) -> &'a str {
        rec.get(k).and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn file_urls_add_up_and_workload_follows_the_site() {
        let t = Tenant::generate(1, 200, now());
        let recs = records(&t, 6, "FileModified", 400);
        assert_eq!(recs.len(), 400);
        let mut onedrive = 0;
        for rec in &recs {
            let site_url = s(rec, "SiteUrl");
            assert!(site_url.ends_with('/'));
            assert_eq!(
                format!(
                    "{site_url}{}/{}",
                    s(rec, "SourceRelativeUrl"),
                    s(rec, "SourceFileName")
                ),
                s(rec, "ObjectId")
            );
            assert!(
                s(rec, "SourceFileName").ends_with(&format!(".{}", s(rec, "SourceFileExtension")))
            );
            let personal = site_url.contains("-my.sharepoint.com");
            assert_eq!(
                s(rec, "Workload"),
                if personal { "OneDrive" } else { "SharePoint" }
            );
            onedrive += usize::from(personal);
            assert_eq!(s(rec, "ItemType"), "File");
            assert_eq!(s(rec, "EventSource"), "SharePoint");
            let key = s(rec, "UserKey");
            assert!(
                key.starts_with("i:0h.f|membership|") || key.starts_with("i:0#.f|membership|"),
                "{key}"
            );
        }
        assert!(onedrive > 0 && onedrive < recs.len());
        for rec in records(&t, 6, "FileRenamed", 20) {
            assert!(!s(&rec, "DestinationFileName").is_empty());
        }
    }

    #[test]
    fn shares_to_outsiders_are_guest_and_links_are_groups() {
        let t = Tenant::generate(1, 200, now());
        let recs = records(&t, 14, "SharingSet", 300);
        let mut guests = 0;
        for rec in &recs {
            let name = s(rec, "TargetUserOrGroupName");
            let domain = name.rsplit('@').next().unwrap_or("");
            let outsider = name.contains("#ext#") || (domain != t.domain && !name.is_empty());
            if outsider {
                assert_eq!(s(rec, "TargetUserOrGroupType"), "Guest", "{name}");
                guests += 1;
            } else {
                assert_eq!(s(rec, "TargetUserOrGroupType"), "Member", "{name}");
            }
            assert!(s(rec, "EventData").starts_with('<'));
            assert!(!s(rec, "UniqueSharingId").is_empty());
        }
        assert!(guests > 0);
        for rec in records(&t, 14, "AnonymousLinkCreated", 30) {
            let name = s(&rec, "TargetUserOrGroupName");
            assert!(
                name.starts_with("SharingLinks.") && name.contains(".Anonymous"),
                "{name}"
            );
        }
    }

    #[test]
    fn list_records_name_their_list() {
        let t = Tenant::generate(1, 200, now());
        for rec in records(&t, 54, "ListItemCreated", 30) {
            assert_eq!(s(&rec, "ItemType"), "ListItem");
            assert!(s(&rec, "ObjectId").starts_with(s(&rec, "ListUrl")));
        }
        for rec in records(&t, 4, "PageViewed", 30) {
            assert_eq!(s(&rec, "ItemType"), "Page");
            assert!(s(&rec, "ObjectId").ends_with(".aspx"));
        }
    }
}
