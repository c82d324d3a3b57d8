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

use super::{GAssignment, GGrant, GraphState};
use crate::catalog::ContentType;
use crate::records::creation_time;
use crate::rng::{guid, hash, hash_str, mix64};

mod sharepoint;

pub use sharepoint::{Place, file_op, is_external, sharing_op};

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
pub(super) fn puid_of(s: &GraphState, user_id: &str) -> String {
    s.tenant
        .users
        .iter()
        .find(|u| u.object_id == user_id)
        .map(|u| u.puid.clone())
        .unwrap_or_else(|| format!("10032{:011X}", hash_str(user_id) & 0xFFF_FFFF_FFFF))
}

/// The address an application's calls come from (an Azure address, stable per app) —
/// inferred: Microsoft records the caller's egress address.
pub(super) fn app_ip(app_id: &str) -> String {
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

pub(super) fn new_id(s: &mut GraphState) -> String {
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

pub(super) fn finish(rec: Map<String, Value>, ct: ContentType) -> Record {
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
