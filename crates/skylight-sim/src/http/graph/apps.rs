//! Service principals, their app role assignments, and delegated permission grants
//! (contract §4.8).

use serde_json::{Value, json};

use super::query::{check_filter, matches, parse_filter};
use super::render::{self, select};
use super::{Ctx, Reply, context, no_content, ok, page};
use crate::graph::GraphState;
use crate::graph::ops::{err, no_object};

const APP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const APP_WRITE: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];
const ASSIGN_WRITE: &[&str] = &["AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All"];
const GRANT_READ: &[&str] = &[
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "DelegatedPermissionGrant.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
];
const GRANT_WRITE: &[&str] = &[
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];

fn conds(
    c: &Ctx<'_>,
    allowed: &[(&str, &[&str])],
    ty: &str,
) -> Result<Vec<super::query::Cond>, crate::graph::ops::OpError> {
    match c.q.get("$filter") {
        None => Ok(Vec::new()),
        Some(f) => {
            let conds = parse_filter(f)?;
            check_filter(&conds, allowed, c.eventual(), ty)?;
            Ok(conds)
        }
    }
}

/// `/servicePrincipals…`
pub fn service_principals(c: &Ctx<'_>, st: &mut GraphState, key: Option<String>) -> Reply {
    let (id, rest) = match key {
        Some(k) => (Some(k), &c.segs[1..]),
        None => (c.segs.get(1).cloned(), c.segs.get(2..).unwrap_or_default()),
    };
    let Some(id) = id else {
        c.require(APP_READ)?;
        if c.method != "GET" {
            return Err(err(
                405,
                "Request_BadRequest",
                "Creating service principals is not supported by the simulator.",
            ));
        }
        let conds = conds(
            c,
            &[
                ("id", &["eq", "in"]),
                ("appId", &["eq", "in"]),
                ("displayName", &["eq", "startswith"]),
                ("servicePrincipalType", &["eq"]),
                ("accountEnabled", &["eq"]),
                ("publisherName", &["eq", "startswith"]),
                ("appOwnerOrganizationId", &["eq", "ne"]),
                ("tags", &["any"]),
            ],
            "ServicePrincipal",
        )?;
        let sel = c.q.select();
        let top = c.q.top(100, 999, "Request_BadRequest")?;
        let rows = st
            .sps
            .values()
            .filter_map(|sp| {
                let full = render::sp_full(sp);
                matches(&conds, &Value::Object(full.clone()))
                    .then(|| (sp.id.clone(), select(full, sel.as_deref(), None)))
            })
            .collect();
        return page(
            c,
            "sps",
            &context("servicePrincipals", sel.as_deref()),
            rows,
            top,
        );
    };
    let sp = st
        .sps
        .get(&id)
        .or_else(|| st.sps.values().find(|s| s.app_id.eq_ignore_ascii_case(&id)))
        .cloned()
        .ok_or_else(|| no_object(&id))?;
    match (
        c.method.as_str(),
        rest.first().map(String::as_str),
        rest.get(1),
    ) {
        ("GET", None, _) => {
            c.require(APP_READ)?;
            let mut v = select(render::sp_full(&sp), c.q.select().as_deref(), None);
            v["@odata.context"] = json!(format!("{}/$metadata#servicePrincipals/$entity", c.base));
            ok(v)
        }
        ("PATCH", None, _) => {
            c.require(APP_WRITE)?;
            let body = c.json_body()?;
            st.patch_sp(&sp.id, &body, &c.actor, c.now)?;
            no_content()
        }
        ("GET", Some(rel @ ("appRoleAssignments" | "appRoleAssignedTo")), None) => {
            c.require(APP_READ)?;
            let to = rel == "appRoleAssignedTo";
            let rows = st
                .assignments
                .values()
                .filter(|a| {
                    if to {
                        a.resource_id == sp.id
                    } else {
                        a.principal_id == sp.id
                    }
                })
                .map(|a| (a.id.clone(), Value::Object(render::assignment_full(a))))
                .collect();
            let ctx = format!("servicePrincipals('{}')/{rel}", sp.id);
            page(
                c,
                &format!("{rel}-{}", sp.id),
                &ctx,
                rows,
                c.q.top(100, 999, "Request_BadRequest")?,
            )
        }
        ("GET", Some(rel @ ("appRoleAssignments" | "appRoleAssignedTo")), Some(aid)) => {
            c.require(APP_READ)?;
            let to = rel == "appRoleAssignedTo";
            let a = st
                .assignments
                .get(aid)
                .filter(|a| {
                    if to {
                        a.resource_id == sp.id
                    } else {
                        a.principal_id == sp.id
                    }
                })
                .ok_or_else(|| no_object(aid))?;
            ok(Value::Object(render::assignment_full(a)))
        }
        ("DELETE", Some(rel @ ("appRoleAssignments" | "appRoleAssignedTo")), Some(aid)) => {
            c.require(ASSIGN_WRITE)?;
            st.delete_assignment(&sp.id, aid, rel == "appRoleAssignedTo", &c.actor, c.now)?;
            no_content()
        }
        ("GET", Some("oauth2PermissionGrants"), None) => {
            c.require(GRANT_READ)?;
            let rows = st
                .grants
                .values()
                .filter(|g| g.client_id == sp.id)
                .map(|g| (g.id.clone(), Value::Object(render::grant_full(g))))
                .collect();
            page(
                c,
                &format!("sp-grants-{}", sp.id),
                "oauth2PermissionGrants",
                rows,
                c.q.top(100, 999, "Request_BadRequest")?,
            )
        }
        _ => Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        )),
    }
}

/// `/oauth2PermissionGrants…`
pub fn grants(c: &Ctx<'_>, st: &mut GraphState) -> Reply {
    match (c.method.as_str(), c.segs.get(1)) {
        ("GET", None) => {
            c.require(GRANT_READ)?;
            let conds = conds(
                c,
                &[
                    ("id", &["eq"]),
                    ("clientId", &["eq"]),
                    ("resourceId", &["eq"]),
                    ("consentType", &["eq"]),
                    ("principalId", &["eq"]),
                ],
                "OAuth2PermissionGrant",
            )?;
            let top = c.q.top(100, 999, "Request_BadRequest")?;
            let sel = c.q.select();
            let rows = st
                .grants
                .values()
                .filter_map(|g| {
                    let full = render::grant_full(g);
                    matches(&conds, &Value::Object(full.clone()))
                        .then(|| (g.id.clone(), select(full, sel.as_deref(), None)))
                })
                .collect();
            page(
                c,
                "grants",
                &context("oauth2PermissionGrants", sel.as_deref()),
                rows,
                top,
            )
        }
        ("GET", Some(id)) => {
            c.require(GRANT_READ)?;
            let g = st.grants.get(id).ok_or_else(|| no_object(id))?;
            let mut v = Value::Object(render::grant_full(g));
            v["@odata.context"] = json!(format!(
                "{}/$metadata#oauth2PermissionGrants/$entity",
                c.base
            ));
            ok(v)
        }
        ("PATCH", Some(id)) => {
            c.require(GRANT_WRITE)?;
            let body = c.json_body()?;
            st.patch_grant(id, &body, &c.actor, c.now)?;
            no_content()
        }
        ("DELETE", Some(id)) => {
            c.require(GRANT_WRITE)?;
            st.delete_grant(id, &c.actor, c.now)?;
            no_content()
        }
        _ => Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        )),
    }
}
