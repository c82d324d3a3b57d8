//! `/_sim/graph…`: what tests ask about the Graph side and how they steer it — the full state
//! (to prove a sync equals it), the write log (to prove nothing is applied twice), the audit
//! records Graph writes published, requested changes (for delta), faults, locks and settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::ts;
use crate::config::GraphSettings;
use crate::graph::audit::is_external;
use crate::graph::drives::{GDrive, Ident, PermKind};
use crate::graph::{FaultRule, GraphState};
use crate::http::Sim;

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

fn ident_json(i: &Ident) -> Value {
    json!({"id": i.id, "displayName": i.display_name, "email": i.email})
}

/// An item's access level as Defender for Cloud Apps defines it: `public` (an anonymous link),
/// `external` (shared with a guest or an outside address), `internal` (shared inside the
/// organisation, or any SharePoint library item: site members reach it), `private`.
pub fn access_level(
    st: &GraphState,
    d: &GDrive,
    item: &str,
) -> (&'static str, Vec<String>, Vec<String>) {
    let owner = d.owner.id.clone();
    let mut level = if d.drive_type == "documentLibrary" {
        1
    } else {
        0
    };
    let mut people = BTreeSet::new();
    let mut domains = BTreeSet::new();
    let external = |email: &str, domains: &mut BTreeSet<String>| {
        if let Some((_, dom)) = email.rsplit_once('@') {
            domains.insert(dom.to_ascii_lowercase());
        }
    };
    for (p, _) in d.effective_perms(item) {
        match &p.kind {
            PermKind::Link {
                scope: "anonymous", ..
            } => level = level.max(3),
            PermKind::Link {
                scope: "organization",
                ..
            } => level = level.max(1),
            PermKind::Link { recipients, .. } => {
                for r in recipients {
                    let email = r.email.clone().unwrap_or_default();
                    people.insert(email.clone());
                    let guest =
                        r.id.as_deref()
                            .and_then(|id| st.users.get(id))
                            .is_some_and(|u| u.user_type == "Guest");
                    if guest || is_external(st, &email) {
                        level = level.max(2);
                        external(&email, &mut domains);
                    } else {
                        level = level.max(1);
                    }
                }
            }
            PermKind::User { user } => {
                if user.id.is_some() && user.id == owner {
                    continue;
                }
                let email = user.email.clone().unwrap_or_default();
                people.insert(email.clone());
                let guest = user
                    .id
                    .as_deref()
                    .and_then(|id| st.users.get(id))
                    .is_some_and(|u| u.user_type == "Guest");
                if guest || is_external(st, &email) {
                    level = level.max(2);
                    external(&email, &mut domains);
                } else {
                    level = level.max(1);
                }
            }
            PermKind::Invitation { email, .. } => {
                people.insert(email.clone());
                level = level.max(2);
                external(email, &mut domains);
            }
            PermKind::SiteGroup { .. } => {}
        }
    }
    let name = match level {
        3 => "public",
        2 => "external",
        1 => "internal",
        _ => "private",
    };
    (
        name,
        people.into_iter().filter(|p| !p.is_empty()).collect(),
        domains.into_iter().collect(),
    )
}

/// Options of `GET /_sim/graph`.
#[derive(Debug, Deserialize)]
pub struct StateQuery {
    /// Include drives with their items (default true).
    drives: Option<bool>,
}

/// `GET /_sim/graph`: the whole Graph state.
pub async fn state(State(sim): State<Arc<Sim>>, Query(q): Query<StateQuery>) -> Response {
    let s = sim.clone();
    let with_drives = q.drives.unwrap_or(true);
    let body = tokio::task::spawn_blocking(move || {
        let mut st = s.graph();
        st.tick(s.clock.now());
        s.flush(&mut st);
        state_json(&st, with_drives).to_string()
    })
    .await
    .unwrap_or_default();
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}

fn state_json(st: &GraphState, with_drives: bool) -> Value {
    let users: Vec<Value> = st
        .users
        .values()
        .map(|u| {
            json!({
                "id": u.id, "userPrincipalName": u.upn, "displayName": u.display_name, "mail": u.mail,
                "userType": u.user_type, "accountEnabled": u.account_enabled, "onPremisesSyncEnabled": u.on_prem_sync,
                "onPremisesAccountEnabled": u.on_prem_enabled, "createdDateTime": ts(u.created),
                "jobTitle": u.job_title, "department": u.department, "usageLocation": u.usage_location,
                "roles": st.roles_of(&u.id), "signInSessionsValidFromDateTime": ts(u.sessions_valid_from),
                "pendingSyncRevertAt": st.reverts.iter().find(|r| r.user == u.id).map(|r| ts(r.due)),
            })
        })
        .collect();
    let groups: Vec<Value> = st
        .groups
        .values()
        .map(|g| {
            json!({
                "id": g.id, "displayName": g.display_name, "groupTypes": g.group_types, "securityEnabled": g.security_enabled,
                "mailEnabled": g.mail_enabled, "mail": g.mail, "onPremisesSyncEnabled": g.on_prem_sync,
                "members": g.members, "transitiveMembers": st.transitive_members(&g.id), "owners": g.owners,
            })
        })
        .collect();
    let roles: Vec<Value> = st
        .roles
        .iter()
        .map(|r| json!({"id": r.id, "displayName": r.display_name, "roleTemplateId": r.template_id, "members": r.members}))
        .collect();
    let sps: Vec<Value> = st
        .sps
        .values()
        .map(|s| {
            json!({
                "id": s.id, "appId": s.app_id, "displayName": s.display_name, "publisherName": s.publisher_name,
                "verifiedPublisher": s.verified.as_ref().map(|v| json!({"displayName": v.display_name, "verifiedPublisherId": v.id})),
                "appOwnerOrganizationId": s.app_owner_org, "accountEnabled": s.account_enabled, "firstParty": s.first_party,
                "appRoles": s.app_roles.iter().map(|r| json!({"id": r.id, "value": r.value})).collect::<Vec<_>>(),
                "oauth2PermissionScopes": s.scopes.iter().map(|r| json!({"id": r.id, "value": r.value, "type": r.kind})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let grants: Vec<Value> = st
        .grants
        .values()
        .map(|g| {
            json!({"id": g.id, "clientId": g.client_id, "consentType": g.consent_type, "principalId": g.principal_id,
                   "resourceId": g.resource_id, "scope": g.scope, "consentedDateTime": ts(g.consented)})
        })
        .collect();
    let assignments: Vec<Value> = st
        .assignments
        .values()
        .map(|a| {
            let value = st
                .sps
                .get(&a.resource_id)
                .and_then(|r| r.app_roles.iter().find(|x| x.id == a.app_role_id))
                .map(|x| x.value.clone());
            json!({"id": a.id, "appRoleId": a.app_role_id, "appRoleValue": value, "principalId": a.principal_id,
                   "principalType": a.principal_type, "principalDisplayName": a.principal_display_name,
                   "resourceId": a.resource_id, "resourceDisplayName": a.resource_display_name, "createdDateTime": ts(a.created)})
        })
        .collect();
    let risky: Vec<Value> = st
        .risky
        .values()
        .map(|r| json!({"id": r.id, "riskLevel": r.level, "riskState": r.state, "riskDetail": r.detail}))
        .collect();
    let sites: Vec<Value> = st
        .sites
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "displayName": s.display_name, "webUrl": s.web_url, "isPersonalSite": s.personal, "groupId": s.group, "drives": s.drives}))
        .collect();
    let drives: Vec<Value> = if with_drives {
        st.drives.values().map(|d| drive_json(st, d)).collect()
    } else {
        Vec::new()
    };
    json!({
        "seq": st.seq,
        "users": users,
        "groups": groups,
        "directoryRoles": roles,
        "servicePrincipals": sps,
        "oauth2PermissionGrants": grants,
        "appRoleAssignments": assignments,
        "riskyUsers": risky,
        "sites": sites,
        "drives": drives,
        "files": st.drives.values().map(|d| d.items.values().filter(|i| !i.folder).count()).sum::<usize>(),
        "sentMail": st.sent_mail,
        "locks": st.locks.iter().map(|((d, i), until)| json!({"drive_id": d, "item_id": i, "until": ts(*until)})).collect::<Vec<_>>(),
        "settings": st.settings,
    })
}

fn drive_json(st: &GraphState, d: &GDrive) -> Value {
    let mut items: Vec<&crate::graph::GItem> = d.items.values().collect();
    items.sort_by_key(|i| d.path_of(&i.id));
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| {
            let (level, people, domains) = access_level(st, d, &i.id);
            let perms: Vec<Value> = d
                .effective_perms(&i.id)
                .into_iter()
                .map(|(p, from)| {
                    let (kind, grantee, scope, link_type) = match &p.kind {
                        PermKind::User { user } => ("user", ident_json(user), None, None),
                        PermKind::SiteGroup { id, display_name } => ("siteGroup", json!({"id": id, "displayName": display_name}), None, None),
                        PermKind::Link { scope, link_type, recipients, .. } => {
                            ("link", Value::Array(recipients.iter().map(ident_json).collect()), Some(*scope), Some(*link_type))
                        }
                        PermKind::Invitation { email, .. } => ("invitation", json!({"email": email}), None, None),
                    };
                    json!({"id": p.id, "roles": p.roles, "kind": kind, "grantee": grantee, "scope": scope, "linkType": link_type, "inheritedFrom": from})
                })
                .collect();
            json!({
                "id": i.id, "name": i.name, "path": d.path_of(&i.id), "parentId": i.parent, "folder": i.folder,
                "size": d.size_of(&i.id), "createdDateTime": ts(i.created), "lastModifiedDateTime": ts(i.modified),
                "createdBy": ident_json(&i.created_by), "lastModifiedBy": ident_json(&i.modified_by),
                "listItemUniqueId": i.unique_id, "permissions": perms,
                "accessLevel": level, "collaborators": people, "externalDomains": domains,
            })
        })
        .collect();
    json!({
        "id": d.id, "name": d.name, "driveType": d.drive_type, "webUrl": d.web_url, "libraryPath": d.library_path,
        "siteId": st.sites.get(d.site).map(|s| s.id.clone()), "owner": ident_json(&d.owner), "items": items,
    })
}

/// `GET /_sim/graph/writes`: every Graph write received, in order.
pub async fn writes(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let st = sim.graph();
    Json(json!({"writes": st.writes}))
}

/// `GET /_sim/graph/audit`: the records Graph writes, directory sync and requested changes
/// published (or will publish), with whether they are visible in the feed yet.
pub async fn audit(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.graph_tick();
    let now = sim.clock.now();
    let st = sim.graph();
    let records: Vec<Value> = st
        .audit_log
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
            let visible =
                chrono::DateTime::parse_from_rfc3339(&a.published).is_ok_and(|p| p <= now);
            v["visible"] = json!(visible);
            v
        })
        .collect();
    Json(json!({"records": records, "now": now.to_rfc3339()}))
}

/// Body of `POST /_sim/graph/changes`.
#[derive(Debug, Deserialize)]
pub struct ChangesBody {
    /// How many changes.
    #[serde(default = "one")]
    count: usize,
    /// Which kinds (default: all).
    #[serde(default)]
    kinds: Vec<String>,
}

fn one() -> usize {
    1
}

/// `POST /_sim/graph/changes {"count": N, "kinds": [...]}`: makes N changes now.
pub async fn changes(State(sim): State<Arc<Sim>>, Json(b): Json<ChangesBody>) -> Response {
    if let Some(k) = b
        .kinds
        .iter()
        .find(|k| !crate::graph::changes::KINDS.contains(&k.as_str()))
    {
        return bad(format!(
            "unknown change kind `{k}`; expected one of {}",
            crate::graph::changes::KINDS.join(", ")
        ));
    }
    if b.count > 10_000 {
        return bad("at most 10000 changes at once");
    }
    let s = sim.clone();
    let out = tokio::task::spawn_blocking(move || {
        let now = s.clock.now();
        let mut st = s.graph();
        st.tick(now);
        let changes = st.random_changes(b.count, &b.kinds, now);
        s.flush(&mut st);
        json!({"seq": st.seq, "changes": changes})
    })
    .await
    .unwrap_or(Value::Null);
    Json(out).into_response()
}

/// `GET /_sim/graph/faults`.
pub async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"rules": sim.graph().faults}))
}

/// Body of `POST /_sim/graph/faults`: rules to add.
#[derive(Debug, Deserialize)]
pub struct FaultsBody {
    /// The rules.
    rules: Vec<FaultRule>,
}

/// `POST /_sim/graph/faults {"rules": [...]}`: arms faults (added after those armed).
pub async fn set_faults(State(sim): State<Arc<Sim>>, Json(b): Json<FaultsBody>) -> Response {
    for r in &b.rules {
        if !matches!(r.status, 429 | 500 | 502 | 503 | 504) {
            return bad(format!(
                "status {} is not a fault (429, 500, 502, 503, 504)",
                r.status
            ));
        }
        if r.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return bad("probability lies between 0 and 1");
        }
    }
    let mut st = sim.graph();
    st.faults.extend(b.rules);
    Json(json!({"rules": st.faults})).into_response()
}

/// `DELETE /_sim/graph/faults`: disarms every fault.
pub async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut st = sim.graph();
    st.faults.clear();
    Json(json!({"rules": []}))
}

/// Body of `POST /_sim/graph/locks`.
#[derive(Debug, Deserialize)]
pub struct LockBody {
    /// Drive.
    drive_id: String,
    /// Item (or give `path`).
    item_id: Option<String>,
    /// Path below the root.
    path: Option<String>,
    /// How long, in simulator seconds.
    seconds: i64,
}

/// `POST /_sim/graph/locks {"drive_id", "item_id" | "path", "seconds"}`: the item answers 423
/// to moves, renames and deletes until then (someone has it open).
pub async fn lock(State(sim): State<Arc<Sim>>, Json(b): Json<LockBody>) -> Response {
    let now = sim.clock.now();
    let mut st = sim.graph();
    let Some(d) = st.drives.get(&b.drive_id) else {
        return bad("no such drive");
    };
    let item = match (&b.item_id, &b.path) {
        (Some(i), _) if d.items.contains_key(i) => i.clone(),
        (None, Some(p)) => match d.by_path(p) {
            Some(i) => i.id.clone(),
            None => return bad("no such path"),
        },
        _ => return bad("no such item"),
    };
    let Some(until) = Duration::try_seconds(b.seconds.clamp(0, 365 * 86_400))
        .and_then(|s| now.checked_add_signed(s))
    else {
        return bad("seconds out of range");
    };
    st.locks.insert((b.drive_id.clone(), item.clone()), until);
    Json(json!({"drive_id": b.drive_id, "item_id": item, "until": ts(until)})).into_response()
}

/// `GET /_sim/graph/control`: the Graph settings in force.
pub async fn get_settings(State(sim): State<Arc<Sim>>) -> Json<GraphSettings> {
    Json(sim.graph().settings.clone())
}

/// `POST /_sim/graph/control {…}`: changes some Graph settings (fields not given stay).
pub async fn set_settings(State(sim): State<Arc<Sim>>, Json(patch): Json<Value>) -> Response {
    let mut st = sim.graph();
    let mut current = serde_json::to_value(&st.settings).unwrap_or(Value::Null);
    let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) else {
        return bad("expected a JSON object");
    };
    for (k, v) in p {
        if !cur.contains_key(k) {
            return bad(format!("unknown setting `{k}`"));
        }
        cur.insert(k.clone(), v.clone());
    }
    match serde_json::from_value::<GraphSettings>(current) {
        Ok(s) => {
            st.settings = s.clone();
            Json(s).into_response()
        }
        Err(e) => bad(e.to_string()),
    }
}
