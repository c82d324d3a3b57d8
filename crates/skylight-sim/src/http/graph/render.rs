//! Graph's JSON for each resource (contract §4.3–§4.9), in full; `$select` and default
//! property sets are applied by [`select`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::graph::drives::{GDrive, GItem, GPerm, Ident, PermKind};
use crate::graph::ops::{ctag, etag};
use crate::graph::{
    GAssignment, GGrant, GGroup, GRisky, GRole, GServicePrincipal, GSignIn, GSite, GUser,
    GraphState,
};

/// Graph's date-time format.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Properties a user shows without `$select` (contract §4.3).
pub const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// Keeps the selected properties (or the default set) of a full object; `id` always stays.
pub fn select(
    full: Map<String, Value>,
    select: Option<&[String]>,
    default: Option<&[&str]>,
) -> Value {
    let keep = |k: &str| -> bool {
        if k == "id" || k.starts_with('@') {
            return true;
        }
        match (select, default) {
            (Some(s), _) => s.iter().any(|x| x.eq_ignore_ascii_case(k)),
            (None, Some(d)) => d.contains(&k),
            (None, None) => true,
        }
    };
    Value::Object(full.into_iter().filter(|(k, _)| keep(k)).collect())
}

/// Every property of a user.
pub fn user_full(st: &GraphState, u: &GUser) -> Map<String, Value> {
    let guest = u.user_type == "Guest";
    let licences = match u.e5 {
        Some(true) => {
            json!([{"disabledPlans": [], "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06"}])
        }
        Some(false) => {
            json!([{"disabledPlans": [], "skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965"}])
        }
        None => json!([]),
    };
    let nickname = u.upn.split('@').next().unwrap_or_default().to_string();
    let synced = u.on_prem_sync == Some(true);
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("businessPhones".into(), json!(u.business_phones));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), json!(u.given_name));
    m.insert("jobTitle".into(), json!(u.job_title));
    m.insert("mail".into(), json!(u.mail));
    m.insert("mobilePhone".into(), Value::Null);
    m.insert("officeLocation".into(), json!(u.office_location));
    m.insert("preferredLanguage".into(), json!(u.preferred_language));
    m.insert("surname".into(), json!(u.surname));
    m.insert("userPrincipalName".into(), json!(u.upn));
    m.insert("accountEnabled".into(), json!(u.account_enabled));
    m.insert("userType".into(), json!(u.user_type));
    m.insert("onPremisesSyncEnabled".into(), json!(u.on_prem_sync));
    m.insert("createdDateTime".into(), json!(ts(u.created)));
    m.insert("department".into(), json!(u.department));
    m.insert("usageLocation".into(), json!(u.usage_location));
    m.insert(
        "companyName".into(),
        if guest {
            Value::Null
        } else {
            json!(st.tenant.org_name)
        },
    );
    m.insert("assignedLicenses".into(), licences);
    m.insert(
        "creationType".into(),
        if guest {
            json!("Invitation")
        } else {
            Value::Null
        },
    );
    m.insert(
        "externalUserState".into(),
        if guest {
            json!("Accepted")
        } else {
            Value::Null
        },
    );
    m.insert("mailNickname".into(), json!(nickname));
    m.insert("otherMails".into(), json!([]));
    m.insert(
        "proxyAddresses".into(),
        json!(
            u.mail
                .iter()
                .filter(|_| !guest)
                .map(|x| format!("SMTP:{x}"))
                .collect::<Vec<_>>()
        ),
    );
    m.insert(
        "signInSessionsValidFromDateTime".into(),
        json!(ts(u.sessions_valid_from)),
    );
    m.insert(
        "onPremisesImmutableId".into(),
        if synced {
            json!(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                &u.id.as_bytes()[..16.min(u.id.len())]
            ))
        } else {
            Value::Null
        },
    );
    m.insert(
        "onPremisesLastSyncDateTime".into(),
        if synced {
            json!(ts(st.started))
        } else {
            Value::Null
        },
    );
    m.insert(
        "onPremisesSamAccountName".into(),
        if synced { json!(nickname) } else { Value::Null },
    );
    m.insert(
        "signInActivity".into(),
        json!({
            "lastSignInDateTime": u.last_sign_in.map(ts),
            "lastNonInteractiveSignInDateTime": u.last_sign_in.map(ts),
        }),
    );
    m
}

/// Every property of a group.
pub fn group_full(g: &GGroup) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert("classification".into(), Value::Null);
    m.insert("createdDateTime".into(), json!(ts(g.created)));
    m.insert("description".into(), json!(g.description));
    m.insert("displayName".into(), json!(g.display_name));
    m.insert("groupTypes".into(), json!(g.group_types));
    m.insert("mail".into(), json!(g.mail));
    m.insert("mailEnabled".into(), json!(g.mail_enabled));
    m.insert("mailNickname".into(), json!(g.mail_nickname));
    m.insert("membershipRule".into(), Value::Null);
    m.insert("onPremisesSyncEnabled".into(), json!(g.on_prem_sync));
    m.insert(
        "proxyAddresses".into(),
        json!(
            g.mail
                .iter()
                .map(|x| format!("SMTP:{x}"))
                .collect::<Vec<_>>()
        ),
    );
    m.insert("securityEnabled".into(), json!(g.security_enabled));
    m.insert("visibility".into(), json!(g.visibility));
    m
}

/// A directory object in a member list: a user or a group, with its `@odata.type`.
pub fn directory_object(st: &GraphState, id: &str, sel: Option<&[String]>) -> Option<Value> {
    if let Some(u) = st.users.get(id) {
        let mut v = select(user_full(st, u), sel, Some(USER_DEFAULT));
        v["@odata.type"] = json!("#microsoft.graph.user");
        return Some(v);
    }
    st.groups.get(id).map(|g| {
        let mut v = select(group_full(g), sel, None);
        v["@odata.type"] = json!("#microsoft.graph.group");
        v
    })
}

/// A directory role.
pub fn role_full(r: &GRole) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert("description".into(), json!(r.description));
    m.insert("displayName".into(), json!(r.display_name));
    m.insert("roleTemplateId".into(), json!(r.template_id));
    m
}

/// Every property of a service principal.
pub fn sp_full(sp: &GServicePrincipal) -> Map<String, Value> {
    let verified = match &sp.verified {
        Some(v) => {
            json!({"displayName": v.display_name, "verifiedPublisherId": v.id, "addedDateTime": ts(v.added)})
        }
        None => json!({"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}),
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(sp.id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert("accountEnabled".into(), json!(sp.account_enabled));
    m.insert("alternativeNames".into(), json!([]));
    m.insert("appDisplayName".into(), json!(sp.display_name));
    m.insert("appDescription".into(), Value::Null);
    m.insert("appId".into(), json!(sp.app_id));
    m.insert("appOwnerOrganizationId".into(), json!(sp.app_owner_org));
    m.insert(
        "appRoleAssignmentRequired".into(),
        json!(sp.assignment_required),
    );
    m.insert("createdDateTime".into(), json!(ts(sp.created)));
    m.insert("description".into(), Value::Null);
    m.insert("displayName".into(), json!(sp.display_name));
    m.insert("homepage".into(), json!(sp.homepage));
    m.insert("notes".into(), Value::Null);
    m.insert("publisherName".into(), json!(sp.publisher_name));
    m.insert("replyUrls".into(), json!(sp.reply_urls));
    m.insert("servicePrincipalNames".into(), json!([sp.app_id]));
    m.insert("servicePrincipalType".into(), json!("Application"));
    m.insert("signInAudience".into(), json!("AzureADMultipleOrgs"));
    m.insert("tags".into(), json!(sp.tags));
    m.insert("verifiedPublisher".into(), verified);
    m.insert(
        "appRoles".into(),
        Value::Array(
            sp.app_roles
                .iter()
                .map(|r| {
                    json!({"allowedMemberTypes": ["Application"], "description": r.display_name, "displayName": r.display_name,
                           "id": r.id, "isEnabled": true, "origin": "Application", "value": r.value})
                })
                .collect(),
        ),
    );
    m.insert(
        "oauth2PermissionScopes".into(),
        Value::Array(
            sp.scopes
                .iter()
                .map(|s| {
                    json!({"adminConsentDescription": s.admin_consent_display_name, "adminConsentDisplayName": s.admin_consent_display_name,
                           "id": s.id, "isEnabled": true, "type": s.kind, "userConsentDescription": s.admin_consent_display_name,
                           "userConsentDisplayName": s.admin_consent_display_name, "value": s.value})
                })
                .collect(),
        ),
    );
    m
}

/// A delegated permission grant.
pub fn grant_full(g: &GGrant) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("clientId".into(), json!(g.client_id));
    m.insert("consentType".into(), json!(g.consent_type));
    m.insert("id".into(), json!(g.id));
    m.insert("principalId".into(), json!(g.principal_id));
    m.insert("resourceId".into(), json!(g.resource_id));
    m.insert("scope".into(), json!(g.scope));
    m
}

/// An app role assignment.
pub fn assignment_full(a: &GAssignment) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(a.id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert("appRoleId".into(), json!(a.app_role_id));
    m.insert("createdDateTime".into(), json!(ts(a.created)));
    m.insert(
        "principalDisplayName".into(),
        json!(a.principal_display_name),
    );
    m.insert("principalId".into(), json!(a.principal_id));
    m.insert("principalType".into(), json!(a.principal_type));
    m.insert("resourceDisplayName".into(), json!(a.resource_display_name));
    m.insert("resourceId".into(), json!(a.resource_id));
    m
}

/// A risky user.
pub fn risky_full(st: &GraphState, r: &GRisky) -> Map<String, Value> {
    let u = st.users.get(&r.id);
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("isDeleted".into(), json!(u.is_none()));
    m.insert("isProcessing".into(), json!(false));
    m.insert("riskLastUpdatedDateTime".into(), json!(ts(r.updated)));
    m.insert("riskLevel".into(), json!(r.level));
    m.insert("riskState".into(), json!(r.state));
    m.insert("riskDetail".into(), json!(r.detail));
    m.insert(
        "userDisplayName".into(),
        json!(u.map(|u| u.display_name.clone())),
    );
    m.insert("userPrincipalName".into(), json!(u.map(|u| u.upn.clone())));
    m
}

/// A sign-in.
pub fn sign_in_full(st: &GraphState, s: &GSignIn) -> Map<String, Value> {
    let u = st.users.get(&s.user_id);
    let failure = match s.error_code {
        0 => Value::Null,
        _ => json!("Invalid username or password or Invalid on-premises username or password."),
    };
    let v = json!({
        "id": s.id, "createdDateTime": ts(s.created),
        "userDisplayName": u.map(|u| u.display_name.clone()), "userPrincipalName": u.map(|u| u.upn.clone()), "userId": s.user_id,
        "appId": s.app_id, "appDisplayName": s.app_name, "ipAddress": s.ip, "clientAppUsed": s.client_app,
        "correlationId": crate::rng::guid(crate::rng::hash_str(&s.id), 11),
        "conditionalAccessStatus": "notApplied", "isInteractive": true,
        "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
        "riskEventTypes_v2": [], "resourceDisplayName": s.app_name, "resourceId": s.app_id,
        "status": {"errorCode": s.error_code, "failureReason": failure, "additionalDetails": null},
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows10", "browser": "Edge 126.0.0", "isCompliant": false, "isManaged": false, "trustType": ""},
        "location": {"city": s.location.0, "state": s.location.0, "countryOrRegion": s.location.1,
                     "geoCoordinates": {"altitude": null, "latitude": s.location.2, "longitude": s.location.3}},
        "appliedConditionalAccessPolicies": []
    });
    v.as_object().cloned().unwrap_or_default()
}

/// A site.
pub fn site_full(s: &GSite) -> Map<String, Value> {
    let host = s.id.split(',').next().unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(s.id));
    m.insert("createdDateTime".into(), json!(ts(s.created)));
    m.insert("lastModifiedDateTime".into(), json!(ts(s.created)));
    m.insert("name".into(), json!(s.name));
    m.insert("displayName".into(), json!(s.display_name));
    m.insert("webUrl".into(), json!(s.web_url));
    m.insert("isPersonalSite".into(), json!(s.personal));
    m.insert("siteCollection".into(), json!({"hostname": host}));
    m
}

/// An identity set: `user` for directory users and addresses, `application` for apps.
pub fn identity_set(st: &GraphState, i: &Ident) -> Value {
    match (&i.id, &i.email) {
        (Some(id), _) if st.users.contains_key(id) => {
            json!({"user": {"id": id, "displayName": i.display_name, "email": i.email}})
        }
        (Some(id), None) if st.groups.contains_key(id) => {
            json!({"group": {"id": id, "displayName": i.display_name}})
        }
        (Some(id), None) => json!({"application": {"id": id, "displayName": i.display_name}}),
        (Some(id), Some(_)) if st.groups.contains_key(id) => {
            json!({"group": {"id": id, "displayName": i.display_name, "email": i.email}})
        }
        _ => json!({"user": {"displayName": i.display_name, "email": i.email}}),
    }
}

/// A drive.
pub fn drive_full(st: &GraphState, d: &GDrive) -> Map<String, Value> {
    let used = d.size_of(&d.root_id);
    let mut m = Map::new();
    m.insert("id".into(), json!(d.id));
    m.insert("createdDateTime".into(), json!(ts(d.created)));
    m.insert("description".into(), json!(""));
    m.insert(
        "lastModifiedDateTime".into(),
        json!(ts(d
            .items
            .values()
            .map(|i| i.modified)
            .max()
            .unwrap_or(d.created))),
    );
    m.insert("name".into(), json!(d.name));
    m.insert("webUrl".into(), json!(d.web_url));
    m.insert("driveType".into(), json!(d.drive_type));
    m.insert(
        "createdBy".into(),
        json!({"user": {"displayName": "System Account"}}),
    );
    m.insert("owner".into(), identity_set(st, &d.owner));
    m.insert(
        "quota".into(),
        json!({"deleted": 0, "remaining": d.quota_total.saturating_sub(used), "state": "normal", "total": d.quota_total, "used": used}),
    );
    m
}

/// How an item is shown: full (get, children) or as delta reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemMode {
    /// With `parentReference.path`.
    Full,
    /// Without `parentReference.path`; OneDrive for Business also omits `cTag` (contract §4.5).
    Delta,
}

/// A drive item.
pub fn item_full(st: &GraphState, d: &GDrive, i: &GItem, mode: ItemMode) -> Map<String, Value> {
    let mut m = Map::new();
    let site = st.sites.get(d.site);
    m.insert("id".into(), json!(i.id));
    m.insert("name".into(), json!(i.name));
    m.insert("createdDateTime".into(), json!(ts(i.created)));
    m.insert("lastModifiedDateTime".into(), json!(ts(i.modified)));
    m.insert("eTag".into(), json!(etag(i)));
    if !(mode == ItemMode::Delta && d.drive_type == "business") {
        m.insert("cTag".into(), json!(ctag(i)));
    }
    m.insert("size".into(), json!(d.size_of(&i.id)));
    m.insert(
        "webUrl".into(),
        json!(if i.parent.is_none() {
            d.web_url.clone()
        } else {
            d.web_url_of(&i.id)
        }),
    );
    m.insert("createdBy".into(), identity_set(st, &i.created_by));
    m.insert("lastModifiedBy".into(), identity_set(st, &i.modified_by));
    let mut parent = json!({"driveId": d.id, "driveType": d.drive_type});
    if let Some(s) = site {
        parent["siteId"] = json!(s.id);
    }
    if let Some(p) = &i.parent {
        parent["id"] = json!(p);
        if mode == ItemMode::Full {
            parent["path"] = json!(d.reference_path(p));
            if let Some(pi) = d.items.get(p) {
                parent["name"] = json!(if pi.parent.is_none() {
                    d.name.clone()
                } else {
                    pi.name.clone()
                });
            }
        }
    }
    m.insert("parentReference".into(), parent);
    m.insert(
        "fileSystemInfo".into(),
        json!({"createdDateTime": ts(i.created), "lastModifiedDateTime": ts(i.modified)}),
    );
    if i.parent.is_none() {
        m.insert("root".into(), json!({}));
    }
    if i.folder {
        m.insert(
            "folder".into(),
            json!({"childCount": d.children(&i.id).len()}),
        );
    } else {
        let h = crate::rng::hash(&[crate::rng::hash_str(&i.id), u64::from(i.version)]);
        let bytes = [
            h.to_le_bytes(),
            crate::rng::mix64(h).to_le_bytes(),
            crate::rng::mix64(h ^ 1).to_le_bytes(),
        ]
        .concat();
        // quickXorHash: 20 bytes, base64.
        let quick =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes[..20]);
        m.insert(
            "file".into(),
            json!({"mimeType": crate::graph::drives::mime_of(&i.name), "hashes": {"quickXorHash": quick}}),
        );
    }
    // The root's permissions are the library's own (owners, site groups), not sharing.
    let own: Vec<&GPerm> = if i.parent.is_none() {
        Vec::new()
    } else {
        i.perms.iter().collect()
    };
    if !own.is_empty() {
        let scope = if own.iter().any(|p| {
            matches!(
                p.kind,
                PermKind::Link {
                    scope: "anonymous",
                    ..
                }
            )
        }) {
            "anonymous"
        } else if own.iter().any(|p| {
            matches!(
                p.kind,
                PermKind::Link {
                    scope: "organization",
                    ..
                }
            )
        }) {
            "organization"
        } else {
            "users"
        };
        m.insert("shared".into(), json!({"scope": scope}));
    }
    if let Some(s) = site {
        m.insert(
            "sharepointIds".into(),
            json!({"listId": d.list_id, "listItemUniqueId": i.unique_id, "siteId": s.site_guid, "siteUrl": s.web_url, "webId": s.web_guid}),
        );
    }
    m
}

/// Properties an item shows without `$select` (`sharepointIds` only when selected).
pub const ITEM_HIDDEN: &[&str] = &["sharepointIds"];

/// Drops the properties Graph only returns when selected.
pub fn item_select(full: Map<String, Value>, sel: Option<&[String]>) -> Value {
    match sel {
        Some(_) => select(full, sel, None),
        None => Value::Object(
            full.into_iter()
                .filter(|(k, _)| !ITEM_HIDDEN.contains(&k.as_str()))
                .collect(),
        ),
    }
}

/// A deleted item in delta.
pub fn deleted_item(d: &GDrive, id: &str, parent: Option<&str>) -> Value {
    let mut p = json!({"driveId": d.id, "driveType": d.drive_type});
    if let Some(parent) = parent {
        p["id"] = json!(parent);
    }
    json!({"id": id, "deleted": {"state": "deleted"}, "parentReference": p})
}

fn user_ident(i: &Ident) -> Value {
    let mut u = json!({"displayName": i.display_name});
    if let Some(id) = &i.id {
        u["id"] = json!(id);
    }
    if let Some(e) = &i.email {
        u["email"] = json!(e);
    }
    u
}

/// A permission; `inherited_from` names the ancestor it comes from.
pub fn perm_json(d: &GDrive, p: &GPerm, inherited_from: Option<&str>) -> Value {
    let mut v = json!({"id": p.id, "roles": p.roles});
    match &p.kind {
        PermKind::User { user } => {
            let login = format!(
                "i:0#.f|membership|{}",
                user.email.clone().unwrap_or_default().to_ascii_lowercase()
            );
            let mut site_user = user_ident(user);
            site_user["loginName"] = json!(login);
            site_user["id"] = json!((crate::rng::hash_str(&login) % 900 + 10).to_string());
            v["grantedToV2"] = json!({"user": user_ident(user), "siteUser": site_user});
            v["grantedTo"] = json!({"user": user_ident(user)});
        }
        PermKind::SiteGroup { id, display_name } => {
            v["grantedToV2"] = json!({"siteGroup": {"id": id, "displayName": display_name, "loginName": display_name}});
            v["grantedTo"] = json!({"user": {"displayName": display_name}});
        }
        PermKind::Link {
            scope,
            link_type,
            web_url,
            recipients,
        } => {
            v["link"] = json!({"type": link_type, "scope": scope, "webUrl": web_url, "preventsDownload": false});
            v["hasPassword"] = json!(p.has_password);
            let ids: Vec<Value> = recipients
                .iter()
                .map(|r| json!({"user": user_ident(r)}))
                .collect();
            v["grantedToIdentitiesV2"] = Value::Array(ids.clone());
            v["grantedToIdentities"] = Value::Array(ids);
        }
        PermKind::Invitation { email, invited_by } => {
            v["grantedToV2"] = json!({"user": {"displayName": email, "email": email}});
            v["grantedTo"] = json!({"user": {"displayName": email}});
            v["invitation"] = json!({"email": email, "signInRequired": true, "invitedBy": {"user": user_ident(invited_by)}});
        }
    }
    v["expirationDateTime"] = json!(
        p.expiration
            .map(ts)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
    );
    if let Some(s) = &p.share_id {
        v["shareId"] = json!(s);
    }
    if let Some(from) = inherited_from {
        v["inheritedFrom"] = json!({"driveId": d.id, "id": from, "path": d.reference_path(from)});
    }
    v
}
