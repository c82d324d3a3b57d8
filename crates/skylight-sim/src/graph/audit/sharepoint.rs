//! SharePoint and OneDrive records (RecordTypes 6 and 14) for file and sharing changes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Actor, Record, app_ip, finish, new_id, puid_of};
use crate::catalog::ContentType;
use crate::graph::GraphState;
use crate::graph::drives::{GDrive, GItem, GPerm, PermKind};
use crate::records::creation_time;
use crate::rng::{guid, hash_str};

/// Where an item lives, as SharePoint records describe it (taken before a change).
#[derive(Debug, Clone)]
pub struct Place {
    /// Site URL without trailing slash.
    pub site_url: String,
    /// Site collection GUID.
    pub site_guid: String,
    /// Web GUID.
    pub web_guid: String,
    /// List id.
    pub list_id: String,
    /// Library path (`Shared Documents`).
    pub library: String,
    /// Folder path below the library (`/Budget`, or empty).
    pub folder: String,
    /// Item name.
    pub name: String,
    /// A folder.
    pub is_folder: bool,
    /// `ListItemUniqueId`.
    pub unique_id: String,
    /// OneDrive (true) or SharePoint.
    pub personal: bool,
    /// Size.
    pub size: u64,
}

impl Place {
    /// Describes an item of a drive.
    pub fn of(s: &GraphState, drive: &GDrive, item: &GItem) -> Place {
        let site = s.sites.get(drive.site);
        Place {
            site_url: site.map(|x| x.web_url.clone()).unwrap_or_default(),
            site_guid: site.map(|x| x.site_guid.clone()).unwrap_or_default(),
            web_guid: site.map(|x| x.web_guid.clone()).unwrap_or_default(),
            list_id: drive.list_id.clone(),
            library: drive.library_path.clone(),
            folder: drive.parent_path_of(&item.id),
            name: item.name.clone(),
            is_folder: item.folder,
            unique_id: item.unique_id.clone(),
            personal: drive.drive_type == "business",
            size: item.size,
        }
    }

    fn rel(&self) -> String {
        format!("{}{}", self.library, self.folder)
    }

    fn url(&self) -> String {
        format!("{}/{}/{}", self.site_url, self.rel(), self.name)
    }

    fn ext(&self) -> &str {
        if self.is_folder {
            ""
        } else {
            self.name.rsplit_once('.').map_or("", |(_, e)| e)
        }
    }
}

/// Fields of a SharePoint/OneDrive record about an item.
fn sp_base(
    s: &mut GraphState,
    actor: &Actor,
    op: &str,
    rt: i32,
    p: &Place,
    at: DateTime<Utc>,
) -> Map<String, Value> {
    let id = new_id(s);
    let mut rec = Map::new();
    rec.insert("CreationTime".into(), json!(creation_time(at)));
    rec.insert("Id".into(), json!(id));
    rec.insert("Operation".into(), json!(op));
    rec.insert("OrganizationId".into(), json!(s.tenant.tenant_id));
    rec.insert("RecordType".into(), json!(rt));
    rec.insert("Version".into(), json!(1));
    rec.insert(
        "Workload".into(),
        json!(if p.personal { "OneDrive" } else { "SharePoint" }),
    );
    rec.insert("ResultStatus".into(), json!("Succeeded"));
    match actor {
        Actor::App { app_id, name, .. } => {
            rec.insert("UserId".into(), json!("app@sharepoint"));
            rec.insert(
                "UserKey".into(),
                json!("i:0i.t|00000003-0000-0ff1-ce00-000000000000|app@sharepoint"),
            );
            rec.insert("UserType".into(), json!(0));
            rec.insert("ClientIP".into(), json!(app_ip(app_id)));
            rec.insert("ApplicationId".into(), json!(app_id));
            rec.insert("ApplicationDisplayName".into(), json!(name));
            rec.insert("UserAgent".into(), json!("Skylight/1.0"));
        }
        Actor::User(uid) => {
            let (upn, guest) = s
                .users
                .get(uid)
                .map(|u| (u.upn.clone(), u.user_type == "Guest"))
                .unwrap_or_default();
            let key = if guest {
                format!("i:0#.f|membership|{}", upn.to_ascii_lowercase())
            } else {
                format!(
                    "i:0h.f|membership|{}@live.com",
                    puid_of(s, uid).to_ascii_lowercase()
                )
            };
            rec.insert("UserId".into(), json!(upn));
            rec.insert("UserKey".into(), json!(key));
            rec.insert("UserType".into(), json!(0));
            rec.insert("ClientIP".into(), json!("192.0.2.10"));
            rec.insert(
                "UserAgent".into(),
                json!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
            );
        }
        Actor::Sync => {
            rec.insert("UserId".into(), json!("SHAREPOINT\\system"));
            rec.insert("UserKey".into(), json!("SHAREPOINT\\system"));
            rec.insert("UserType".into(), json!(4));
            rec.insert("ClientIP".into(), json!(""));
        }
    }
    rec.insert("Site".into(), json!(p.site_guid));
    rec.insert("WebId".into(), json!(p.web_guid));
    rec.insert("SiteUrl".into(), json!(format!("{}/", p.site_url)));
    rec.insert("EventSource".into(), json!("SharePoint"));
    rec.insert(
        "ItemType".into(),
        json!(if p.is_folder { "Folder" } else { "File" }),
    );
    rec.insert("ListId".into(), json!(p.list_id));
    rec.insert("ListItemUniqueId".into(), json!(p.unique_id));
    rec.insert("SourceRelativeUrl".into(), json!(p.rel()));
    rec.insert("SourceFileName".into(), json!(p.name));
    if !p.is_folder {
        rec.insert("SourceFileExtension".into(), json!(p.ext()));
    }
    rec.insert("ObjectId".into(), json!(p.url()));
    let corr = guid(hash_str(&id), 0x9000);
    rec.insert("CorrelationId".into(), json!(corr));
    rec
}

/// A file or folder operation (RecordType 6): `FileMoved`, `FileRenamed`, `FileRecycled`,
/// `FolderCreated`, `FileCopied`, `FileUploaded`…; `dest` is the new folder path below the
/// library and the new name, for moves, renames and copies.
pub fn file_op(
    s: &mut GraphState,
    actor: &Actor,
    op: &str,
    p: &Place,
    dest: Option<(&str, &str, &str)>,
    at: DateTime<Utc>,
) -> Record {
    let mut rec = sp_base(s, actor, op, 6, p, at);
    if let Some((library, folder, name)) = dest {
        rec.insert(
            "DestinationRelativeUrl".into(),
            json!(format!("{library}{folder}")),
        );
        rec.insert("DestinationFileName".into(), json!(name));
        if !p.is_folder {
            rec.insert(
                "DestinationFileExtension".into(),
                json!(name.rsplit_once('.').map_or("", |(_, e)| e)),
            );
        }
    }
    if matches!(op, "FileUploaded" | "FileModified") {
        rec.insert("FileSizeBytes".into(), json!(p.size));
    }
    finish(rec, ContentType::SharePoint)
}

/// The link's sharing-group name as SharePoint records it
/// (`SharingLinks.<item guid>.AnonymousEdit.<link guid>`).
fn link_group(p: &Place, perm: &GPerm, scope: &str, link_type: &str) -> String {
    let kind = match (scope, link_type) {
        ("anonymous", "edit") => "AnonymousEdit",
        ("anonymous", _) => "AnonymousView",
        ("organization", "edit") => "OrganizationEdit",
        ("organization", _) => "OrganizationView",
        (_, "edit") => "Flexible",
        _ => "Flexible",
    };
    format!(
        "SharingLinks.{}.{kind}.{}",
        p.unique_id,
        guid(hash_str(&perm.id), 1)
    )
}

/// True when an address is outside the tenant's domains.
pub fn is_external(s: &GraphState, email: &str) -> bool {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    domain != s.tenant.domain && domain != s.tenant.initial_domain
}

/// The sharing record for granting (`created`) or removing a permission (RecordType 14):
/// links give `AnonymousLinkCreated`/`CompanyLinkCreated`/`SecureLinkCreated` and
/// `AnonymousLinkRemoved`/`CompanyLinkRemoved`/`SecureLinkDeleted` (the last two inferred);
/// people give `SharingSet`/`SharingInvitationCreated` and `SharingRevoked`.
pub fn sharing_op(
    s: &mut GraphState,
    actor: &Actor,
    p: &Place,
    perm: &GPerm,
    created: bool,
    at: DateTime<Utc>,
) -> Record {
    let role = perm.roles.first().copied().unwrap_or("read");
    let level = match role {
        "owner" => "Full Control",
        "write" => "Contribute",
        _ => "Read",
    };
    let (op, target, target_type, event): (&str, String, &str, String) = match &perm.kind {
        PermKind::Link {
            scope, link_type, ..
        } => {
            let op = match (*scope, created) {
                ("anonymous", true) => "AnonymousLinkCreated",
                ("anonymous", false) => "AnonymousLinkRemoved",
                ("organization", true) => "CompanyLinkCreated",
                ("organization", false) => "CompanyLinkRemoved",
                (_, true) => "SecureLinkCreated",
                (_, false) => "SecureLinkDeleted",
            };
            let t = if *link_type == "edit" { "Edit" } else { "View" };
            (
                op,
                link_group(p, perm, scope, link_type),
                "SharePointGroup",
                format!("<Type>{t}</Type>"),
            )
        }
        PermKind::User { user } => {
            let email = user.email.clone().unwrap_or_default();
            let guest = user
                .id
                .as_deref()
                .and_then(|id| s.users.get(id))
                .is_some_and(|u| u.user_type == "Guest");
            (
                if created {
                    "SharingSet"
                } else {
                    "SharingRevoked"
                },
                email,
                if guest { "Guest" } else { "Member" },
                format!("<Permissions granted>{level}</Permissions granted>"),
            )
        }
        PermKind::Invitation { email, .. } => (
            if created {
                "SharingInvitationCreated"
            } else {
                "SharingRevoked"
            },
            email.clone(),
            "Guest",
            format!("<Permissions granted>{level}</Permissions granted>"),
        ),
        PermKind::SiteGroup { display_name, .. } => (
            if created {
                "SharingSet"
            } else {
                "SharingRevoked"
            },
            display_name.clone(),
            "SharePointGroup",
            format!("<Permissions granted>{level}</Permissions granted>"),
        ),
    };
    let mut rec = sp_base(s, actor, op, 14, p, at);
    rec.insert("TargetUserOrGroupName".into(), json!(target));
    rec.insert("TargetUserOrGroupType".into(), json!(target_type));
    rec.insert("EventData".into(), json!(event));
    rec.insert("UniqueSharingId".into(), json!(guid(hash_str(&perm.id), 2)));
    finish(rec, ContentType::SharePoint)
}
