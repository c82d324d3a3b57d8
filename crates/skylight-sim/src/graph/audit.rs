//! The audit records Microsoft publishes for the changes Graph writes make (contract §3.5, §3.6,
//! §7 "Side effects").
//!
//! Shapes follow the records of the same operations observed in public corpora: an application
//! acting through Graph appears as `UserId` `ServicePrincipal_<object id>`, `UserKey`
//! `Not Available`, `UserType` 4, with the app's name, app id and object id in `Actor[]` (as in an
//! observed `Add app role assignment to service principal.` record); SharePoint records of
//! app-only calls carry `UserId` `app@sharepoint` (contract §3.5). Operation names the contract
//! does not list are marked *inferred* where they are built.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::drives::{GDrive, GItem, GPerm, PermKind};
use super::{GAssignment, GGrant, GraphState};
use crate::catalog::ContentType;
use crate::records::creation_time;
use crate::rng::{guid, hash, hash_str, mix64};

/// Who made a change.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An application calling Graph with its own identity (app-only token).
    App {
        /// Application (client) id.
        app_id: String,
        /// Service principal object id.
        sp_id: String,
        /// Display name.
        name: String,
    },
    /// A user of the directory, by object id (changes tests request).
    User(String),
    /// On-premises directory sync (AD Connect's sync account).
    Sync,
}

/// A finished audit record.
#[derive(Debug, Clone)]
pub struct Record {
    /// `Id`.
    pub id: String,
    /// Content type it is published under.
    pub ct: ContentType,
    /// `RecordType`.
    pub record_type: i32,
    /// `Operation`.
    pub operation: String,
    /// `ObjectId`.
    pub object_id: String,
    /// Serialised record.
    pub json: Vec<u8>,
}

fn pretty(raw: &str) -> String {
    format!("[\r\n  {raw}\r\n]")
}

fn pretty_str(s: &str) -> String {
    pretty(&Value::String(s.to_string()).to_string())
}

fn modified(name: &str, new: impl Into<Value>, old: impl Into<Value>) -> Value {
    json!({"Name": name, "NewValue": new.into(), "OldValue": old.into()})
}

fn ident(id: impl Into<Value>, kind: i64) -> Value {
    json!({"ID": id.into(), "Type": kind})
}

/// A stable PUID-style id for a user (the tenant's own, or one derived from the object id).
fn puid_of(s: &GraphState, user_id: &str) -> String {
    s.tenant
        .users
        .iter()
        .find(|u| u.object_id == user_id)
        .map(|u| u.puid.clone())
        .unwrap_or_else(|| format!("10032{:011X}", hash_str(user_id) & 0xFFF_FFFF_FFFF))
}

/// The address an application's calls come from (an Azure address, stable per app) —
/// inferred: Microsoft records the caller's egress address.
fn app_ip(app_id: &str) -> String {
    let h = hash_str(app_id);
    format!("20.190.{}.{}", 128 + (h % 64), 1 + (h >> 8) % 254)
}

/// The AD Connect sync account of the tenant.
fn sync_account(s: &GraphState) -> (String, String) {
    let h = hash(&[s.tenant.seed, hash_str("sync-account")]);
    (
        format!(
            "Sync_DC01_{:012x}@{}",
            h & 0xFFFF_FFFF_FFFF,
            s.tenant.initial_domain
        ),
        guid(h, mix64(h)),
    )
}

fn new_id(s: &mut GraphState) -> String {
    let n = s.next_counter();
    let h = hash(&[s.tenant.seed, hash_str("graph-audit"), n]);
    guid(h, mix64(h ^ 0xA0D1))
}

/// Fields every Entra directory record carries, with the actor.
fn entra_base(
    s: &mut GraphState,
    actor: &Actor,
    op: &str,
    object_id: &str,
    at: DateTime<Utc>,
) -> Map<String, Value> {
    let id = new_id(s);
    let tid = s.tenant.tenant_id.clone();
    let mut rec = Map::new();
    rec.insert("CreationTime".into(), json!(creation_time(at)));
    rec.insert("Id".into(), json!(id));
    rec.insert("Operation".into(), json!(op));
    rec.insert("OrganizationId".into(), json!(tid));
    rec.insert("RecordType".into(), json!(8));
    rec.insert("ResultStatus".into(), json!("Success"));
    rec.insert("Version".into(), json!(1));
    rec.insert("Workload".into(), json!("AzureActiveDirectory"));
    rec.insert("ObjectId".into(), json!(object_id));
    rec.insert("AzureActiveDirectoryEventType".into(), json!(1));
    rec.insert("ActorContextId".into(), json!(tid));
    rec.insert("TargetContextId".into(), json!(tid));
    rec.insert("InterSystemsId".into(), json!(guid(hash_str(&id), 3)));
    rec.insert(
        "IntraSystemId".into(),
        json!("00000000-0000-0000-0000-000000000000"),
    );
    rec.insert("SupportTicketId".into(), json!(""));
    let (user_id, user_key, user_type, actors, agent, app) = match actor {
        Actor::App {
            app_id,
            sp_id,
            name,
        } => (
            format!("ServicePrincipal_{sp_id}"),
            "Not Available".to_string(),
            4,
            vec![
                ident(name.as_str(), 1),
                ident(app_id.as_str(), 2),
                ident(format!("ServicePrincipal_{sp_id}"), 2),
                ident(sp_id.as_str(), 2),
                ident("ServicePrincipal", 2),
            ],
            "Skylight/1.0",
            Some(app_id.clone()),
        ),
        Actor::User(uid) => {
            let upn = s.users.get(uid).map(|u| u.upn.clone()).unwrap_or_default();
            let puid = puid_of(s, uid);
            (
                upn.clone(),
                format!("{puid}@{}", s.tenant.initial_domain),
                0,
                vec![
                    ident(upn, 5),
                    ident(puid, 3),
                    ident(format!("User_{uid}"), 2),
                    ident(uid.as_str(), 2),
                    ident("User", 2),
                ],
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0",
                None,
            )
        }
        Actor::Sync => {
            let (upn, oid) = sync_account(s);
            let puid = format!("10032{:011X}", hash_str(&upn) & 0xFFF_FFFF_FFFF);
            (
                upn.clone(),
                format!("{puid}@{}", s.tenant.initial_domain),
                0,
                vec![
                    ident(upn, 5),
                    ident(puid, 3),
                    ident(format!("User_{oid}"), 2),
                    ident(oid, 2),
                    ident("User", 2),
                ],
                "Microsoft Azure AD Connect",
                None,
            )
        }
    };
    rec.insert("UserId".into(), json!(user_id));
    rec.insert("UserKey".into(), json!(user_key));
    rec.insert("UserType".into(), json!(user_type));
    rec.insert("Actor".into(), Value::Array(actors));
    let details = match app {
        Some(a) => json!({"User-Agent": agent, "AppId": a}).to_string(),
        None => json!({"User-Agent": agent}).to_string(),
    };
    rec.insert(
        "ExtendedProperties".into(),
        json!([{"Name": "additionalDetails", "Value": details}]),
    );
    rec
}

fn finish(rec: Map<String, Value>, ct: ContentType) -> Record {
    let get = |k: &str| {
        rec.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Record {
        id: get("Id"),
        ct,
        record_type: rec.get("RecordType").and_then(Value::as_i64).unwrap_or(0) as i32,
        operation: get("Operation"),
        object_id: get("ObjectId"),
        json: serde_json::to_vec(&Value::Object(rec)).unwrap_or_default(),
    }
}

fn category(rec: &mut Map<String, Value>, cat: &str) {
    if let Some(Value::Array(a)) = rec.get_mut("ExtendedProperties") {
        a.push(json!({"Name": "extendedAuditEventCategory", "Value": cat}));
    }
}

/// `Target[]` of a user.
fn user_target(s: &GraphState, user_id: &str) -> (Vec<Value>, String, String) {
    let (upn, kind) = s
        .users
        .get(user_id)
        .map(|u| (u.upn.clone(), u.user_type))
        .unwrap_or_default();
    (
        vec![
            ident(format!("User_{user_id}"), 2),
            ident(user_id, 2),
            ident("User", 2),
            ident(upn.as_str(), 5),
            ident(puid_of(s, user_id), 3),
        ],
        upn,
        kind.to_string(),
    )
}

/// `Update user.` with the given properties `(name, old, new)` already pretty-printed.
pub fn update_user(
    s: &mut GraphState,
    actor: &Actor,
    user_id: &str,
    props: &[(&str, String, String)],
    at: DateTime<Utc>,
) -> Record {
    let (target, upn, kind) = user_target(s, user_id);
    let mut rec = entra_base(s, actor, "Update user.", &upn, at);
    category(&mut rec, "User");
    let mut mods: Vec<Value> = props
        .iter()
        .map(|(n, old, new)| modified(n, new.as_str(), old.as_str()))
        .collect();
    mods.push(modified(
        "Included Updated Properties",
        props.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
        "",
    ));
    mods.push(modified("TargetId.UserType", kind, ""));
    rec.insert("ModifiedProperties".into(), Value::Array(mods));
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

/// `Update user.` with `AccountEnabled` changed (contract §3.6 example M).
pub fn update_user_enabled(
    s: &mut GraphState,
    actor: &Actor,
    user_id: &str,
    old: bool,
    new: bool,
    at: DateTime<Utc>,
) -> Record {
    update_user(
        s,
        actor,
        user_id,
        &[(
            "AccountEnabled",
            pretty(&old.to_string()),
            pretty(&new.to_string()),
        )],
        at,
    )
}

/// `Update user.` with `StsRefreshTokensValidFrom` moved to now (`revokeSignInSessions`;
/// inferred, contract §3.6).
pub fn revoke_sessions(
    s: &mut GraphState,
    actor: &Actor,
    user_id: &str,
    old: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Record {
    let f = |t: DateTime<Utc>| pretty_str(&t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    update_user(
        s,
        actor,
        user_id,
        &[("StsRefreshTokensValidFrom", f(old), f(at))],
        at,
    )
}

/// `Add user.` / `Delete user.` (requested directory changes).
pub fn user_lifecycle(
    s: &mut GraphState,
    actor: &Actor,
    user_id: &str,
    added: bool,
    at: DateTime<Utc>,
) -> Record {
    let (target, upn, kind) = user_target(s, user_id);
    let op = if added { "Add user." } else { "Delete user." };
    let mut rec = entra_base(s, actor, op, &upn, at);
    category(&mut rec, "User");
    let display = s
        .users
        .get(user_id)
        .map(|u| u.display_name.clone())
        .unwrap_or_default();
    let mods = if added {
        vec![
            modified("AccountEnabled", pretty("true"), "[]"),
            modified("DisplayName", pretty_str(&display), "[]"),
            modified("UserPrincipalName", pretty_str(&upn), "[]"),
            modified("UserType", pretty_str(&kind), "[]"),
            modified(
                "Included Updated Properties",
                "AccountEnabled, DisplayName, UserPrincipalName, UserType",
                "",
            ),
        ]
    } else {
        Vec::new()
    };
    rec.insert("ModifiedProperties".into(), Value::Array(mods));
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

/// `Add member to group.` / `Remove member from group.`.
pub fn group_member(
    s: &mut GraphState,
    actor: &Actor,
    group_id: &str,
    member_id: &str,
    added: bool,
    at: DateTime<Utc>,
) -> Record {
    let (target, upn, _) = user_target(s, member_id);
    let op = if added {
        "Add member to group."
    } else {
        "Remove member from group."
    };
    let mut rec = entra_base(s, actor, op, &upn, at);
    category(&mut rec, "User");
    let name = s
        .groups
        .get(group_id)
        .map(|g| g.display_name.clone())
        .unwrap_or_default();
    let side = |v: &str| {
        if added {
            (v.to_string(), String::new())
        } else {
            (String::new(), v.to_string())
        }
    };
    let (n1, o1) = side(group_id);
    let (n2, o2) = side(&name);
    rec.insert(
        "ModifiedProperties".into(),
        json!([
            modified("Group.ObjectID", n1, o1),
            modified("Group.DisplayName", n2, o2)
        ]),
    );
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

/// Identity Protection's admin actions: `Confirm user compromised.` / `Dismiss user risk.`
/// (inferred names: Entra lists these activities; the contract does not show their records).
pub fn risk_action(
    s: &mut GraphState,
    actor: &Actor,
    user_id: &str,
    confirm: bool,
    at: DateTime<Utc>,
) -> Record {
    let (target, upn, _) = user_target(s, user_id);
    let op = if confirm {
        "Confirm user compromised."
    } else {
        "Dismiss user risk."
    };
    let mut rec = entra_base(s, actor, op, &upn, at);
    category(&mut rec, "IdentityProtection");
    let (new, old) = if confirm {
        ("high", "atRisk")
    } else {
        ("none", "atRisk")
    };
    rec.insert(
        "ModifiedProperties".into(),
        json!([modified("RiskLevel", pretty_str(new), pretty_str(old))]),
    );
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

fn sp_target(s: &GraphState, sp_id: &str) -> (Vec<Value>, String) {
    let (name, app_id) = s
        .sps
        .get(sp_id)
        .map(|x| (x.display_name.clone(), x.app_id.clone()))
        .unwrap_or_default();
    (
        vec![
            ident(format!("ServicePrincipal_{sp_id}"), 2),
            ident(sp_id, 2),
            ident("ServicePrincipal", 2),
            ident(name, 1),
            ident(app_id.as_str(), 2),
            ident(app_id.as_str(), 4),
        ],
        app_id,
    )
}

/// `Update service principal.` with `AccountEnabled` changed (disabling an app).
pub fn update_sp_enabled(
    s: &mut GraphState,
    actor: &Actor,
    sp_id: &str,
    old: bool,
    new: bool,
    at: DateTime<Utc>,
) -> Record {
    let (target, app_id) = sp_target(s, sp_id);
    let mut rec = entra_base(s, actor, "Update service principal.", &app_id, at);
    category(&mut rec, "ServicePrincipal");
    rec.insert(
        "ModifiedProperties".into(),
        json!([
            modified(
                "AccountEnabled",
                pretty(&new.to_string()),
                pretty(&old.to_string())
            ),
            modified("Included Updated Properties", "AccountEnabled", ""),
            modified("TargetId.ServicePrincipalNames", app_id.as_str(), ""),
        ]),
    );
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

/// `Remove delegated permission grant.` (revoking consent) or, with `new_scope`, `Update
/// delegated permission grant.` (partial revoke; inferred name). The target is the resource.
pub fn grant_change(
    s: &mut GraphState,
    actor: &Actor,
    grant: &GGrant,
    new_scope: Option<&str>,
    at: DateTime<Utc>,
) -> Record {
    let (target, app_id) = sp_target(s, &grant.resource_id);
    let op = match new_scope {
        None => "Remove delegated permission grant.",
        Some(_) => "Update delegated permission grant.",
    };
    let mut rec = entra_base(s, actor, op, &app_id, at);
    category(&mut rec, "ServicePrincipal");
    rec.insert(
        "ModifiedProperties".into(),
        json!([
            modified(
                "DelegatedPermissionGrant.Scope",
                new_scope.map(|x| format!(" {x}")).unwrap_or_default(),
                format!(" {}", grant.scope)
            ),
            modified(
                "DelegatedPermissionGrant.ConsentType",
                grant.consent_type,
                ""
            ),
            modified(
                "DelegatedPermissionGrant.PrincipalId",
                grant.principal_id.clone().unwrap_or_default(),
                ""
            ),
            modified("ServicePrincipal.ObjectID", grant.client_id.as_str(), ""),
        ]),
    );
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

/// `Remove app role assignment from service principal.` (revoking an application permission).
pub fn remove_assignment(
    s: &mut GraphState,
    actor: &Actor,
    a: &GAssignment,
    value: &str,
    at: DateTime<Utc>,
) -> Record {
    let (target, app_id) = sp_target(s, &a.resource_id);
    let client_app = s
        .sps
        .get(&a.principal_id)
        .map(|x| x.app_id.clone())
        .unwrap_or_default();
    let mut rec = entra_base(
        s,
        actor,
        "Remove app role assignment from service principal.",
        &app_id,
        at,
    );
    category(&mut rec, "ServicePrincipal");
    rec.insert(
        "ModifiedProperties".into(),
        json!([
            modified("AppRole.Id", "", a.app_role_id.as_str()),
            modified("AppRole.Value", "", value),
            modified("ServicePrincipal.ObjectID", "", a.principal_id.as_str()),
            modified(
                "ServicePrincipal.DisplayName",
                "",
                a.principal_display_name.as_str()
            ),
            modified("ServicePrincipal.AppId", "", client_app.as_str()),
        ]),
    );
    rec.insert("Target".into(), Value::Array(target));
    finish(rec, ContentType::AzureActiveDirectory)
}

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
