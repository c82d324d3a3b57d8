//! Users (contract §4.2, §4.3), and what the directory endpoints share: `$select` and `$filter`
//! checks, directory delta rounds, member lists.

use serde_json::{Value, json};

use super::query::{Cond, check_filter, matches, parse_filter};
use super::render::{self, USER_DEFAULT, select};
use super::{Ctx, Reply, context, no_content, ok, page};
use crate::graph::GraphState;
use crate::graph::ops::{OpError, err, no_object};
use crate::graph::tokens::DeltaToken;

pub(super) const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub(super) const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
pub(super) const USER_ENABLE: &[&str] = &[
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
    "User.EnableDisableAccount.All",
];
pub(super) const USER_REVOKE: &[&str] = &[
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
    "User.RevokeSessions.All",
];
pub(super) const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub(super) const ROLE_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub(super) const RISK_READ: &[&str] = &[
    "IdentityRiskyUser.Read.All",
    "IdentityRiskyUser.ReadWrite.All",
];
pub(super) const RISK_WRITE: &[&str] = &["IdentityRiskyUser.ReadWrite.All"];

pub(super) const USER_FILTERS: &[(&str, &[&str])] = &[
    ("accountEnabled", &["eq", "ne"]),
    ("userType", &["eq", "ne", "in"]),
    (
        "userPrincipalName",
        &["eq", "ne", "startswith", "endswith", "in"],
    ),
    ("mail", &["eq", "ne", "startswith", "endswith", "in"]),
    ("displayName", &["eq", "ne", "startswith", "endswith", "in"]),
    ("givenName", &["eq", "startswith"]),
    ("surname", &["eq", "startswith"]),
    ("id", &["eq", "ne", "in"]),
    ("onPremisesSyncEnabled", &["eq", "ne"]),
    ("department", &["eq", "startswith"]),
    ("jobTitle", &["eq", "startswith"]),
    ("usageLocation", &["eq"]),
    ("createdDateTime", &["eq", "ge", "gt", "le", "lt"]),
    ("creationType", &["eq"]),
    ("externalUserState", &["eq"]),
];

pub(super) const GROUP_FILTERS: &[(&str, &[&str])] = &[
    ("id", &["eq", "in"]),
    ("displayName", &["eq", "ne", "startswith", "endswith", "in"]),
    ("mail", &["eq", "startswith"]),
    ("mailEnabled", &["eq", "ne"]),
    ("securityEnabled", &["eq", "ne"]),
    ("groupTypes", &["any"]),
    ("onPremisesSyncEnabled", &["eq", "ne"]),
    ("visibility", &["eq"]),
];

/// Checks `$select` names against an object's properties.
pub(super) fn check_select(
    sel: Option<&[String]>,
    sample: &serde_json::Map<String, Value>,
    ty: &str,
) -> Result<(), OpError> {
    for p in sel.unwrap_or_default() {
        if !sample.keys().any(|k| k.eq_ignore_ascii_case(p)) && !p.starts_with('@') {
            return Err(err(
                400,
                "Request_BadRequest",
                format!("Could not find a property named '{p}' on type 'microsoft.graph.{ty}'."),
            ));
        }
    }
    Ok(())
}

/// Options Graph refuses without `ConsistencyLevel: eventual`, and never supports here.
pub(super) fn check_options(c: &Ctx<'_>) -> Result<(), OpError> {
    if c.q.get("$search").is_some() {
        return Err(err(
            400,
            "Request_UnsupportedQuery",
            "$search is not supported on this resource by the simulator.",
        ));
    }
    if c.q.get("$orderby").is_some() && !c.eventual() {
        return Err(err(
            400,
            "Request_UnsupportedQuery",
            "Sorting not supported for current query. Use ConsistencyLevel: eventual.",
        ));
    }
    if c.q.get("$count").is_some() && !c.eventual() {
        return Err(err(
            400,
            "Request_BadRequest",
            "$count is not currently supported without the ConsistencyLevel header set to eventual.",
        ));
    }
    if c.q.get("$expand").is_some() {
        return Err(err(
            400,
            "Request_UnsupportedQuery",
            "$expand is not supported on this resource.",
        ));
    }
    Ok(())
}

pub(super) fn filter(
    c: &Ctx<'_>,
    allowed: &[(&str, &[&str])],
    ty: &str,
) -> Result<Vec<Cond>, OpError> {
    match c.q.get("$filter") {
        None => Ok(Vec::new()),
        Some(f) => {
            let conds = parse_filter(f)?;
            let advanced = c.eventual()
                && c.q
                    .get("$count")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            check_filter(&conds, allowed, advanced, ty)?;
            Ok(conds)
        }
    }
}

/// Sign-in activity needs `AuditLog.Read.All` and Entra ID P1 (contract §4.3).
pub(super) fn check_sign_in_activity(
    c: &Ctx<'_>,
    st: &GraphState,
    sel: Option<&[String]>,
) -> Result<(), OpError> {
    if sel
        .unwrap_or_default()
        .iter()
        .any(|s| s.eq_ignore_ascii_case("signInActivity"))
    {
        if !st.settings.entra_p1 {
            return Err(err(
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            ));
        }
        c.require(&["AuditLog.Read.All"])?;
    }
    Ok(())
}

/// `/users…`
pub fn users(c: &Ctx<'_>, st: &mut GraphState, key: Option<String>) -> Reply {
    let (id, rest) = match key {
        Some(k) => (Some(k), &c.segs[1..]),
        None => (c.segs.get(1).cloned(), c.segs.get(2..).unwrap_or_default()),
    };
    let Some(id) = id else {
        return match c.method.as_str() {
            "GET" => list_users(c, st),
            _ => Err(err(
                405,
                "Request_BadRequest",
                "Creating users is not supported by the simulator.",
            )),
        };
    };
    if (id == "delta" || id == "delta()") && rest.is_empty() {
        c.require(USER_READ)?;
        return users_delta(c, st);
    }
    let user = st.find_user(&id).cloned().ok_or_else(|| no_object(&id))?;
    match (c.method.as_str(), rest.first().map(String::as_str)) {
        ("GET", None) => {
            c.require(USER_READ)?;
            let sel = c.q.select();
            let full = render::user_full(st, &user);
            check_select(sel.as_deref(), &full, "user")?;
            check_sign_in_activity(c, st, sel.as_deref())?;
            let mut v = select(full, sel.as_deref(), Some(USER_DEFAULT));
            v["@odata.context"] = json!(format!("{}/$metadata#users/$entity", c.base));
            ok(v)
        }
        ("PATCH", None) => {
            let body = c.json_body()?;
            let only_enabled = body.keys().all(|k| k == "accountEnabled");
            c.require(if only_enabled {
                USER_ENABLE
            } else {
                USER_WRITE
            })?;
            st.patch_user(&user.id, &body, &c.actor, c.now)?;
            no_content()
        }
        ("POST", Some("revokeSignInSessions")) if rest.len() == 1 => {
            c.require(USER_REVOKE)?;
            st.revoke_sessions(&user.id, &c.actor, c.now)?;
            // Documented as 200 with a boolean although it "should be 204" (contract G1).
            ok(
                json!({"@odata.context": format!("{}/$metadata#Edm.Boolean", c.base), "value": true}),
            )
        }
        ("POST", Some("sendMail")) if rest.len() == 1 => {
            c.require(&["Mail.Send"])?;
            let body = c.json_body()?;
            let message = body.get("message").cloned().unwrap_or_default();
            let to: Vec<Value> = message["toRecipients"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["emailAddress"]["address"].as_str())
                .filter(|a| a.contains('@'))
                .map(|a| json!(a))
                .collect();
            if to.is_empty() {
                return Err(err(
                    400,
                    "ErrorInvalidRecipients",
                    "At least one recipient isn't valid.",
                ));
            }
            st.sent_mail.push(json!({
                "from": user.upn, "to": to, "subject": message["subject"],
                "body": message["body"]["content"], "time": c.now.to_rfc3339(),
            }));
            super::accepted()
        }
        ("GET", Some(rel @ ("memberOf" | "transitiveMemberOf"))) => {
            c.require(GROUP_READ)?;
            let ids = if rel == "memberOf" {
                st.member_of(&user.id)
            } else {
                st.transitive_member_of(&user.id)
            };
            member_list(c, st, ids, rest.get(1).map(String::as_str))
        }
        (_, Some("drive" | "drives")) => super::files::owner_drive(c, st, &user.id, rest),
        ("GET", Some("oauth2PermissionGrants")) if rest.len() == 1 => {
            c.require(&[
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "DelegatedPermissionGrant.Read.All",
                "DelegatedPermissionGrant.ReadWrite.All",
            ])?;
            let rows = st
                .grants
                .values()
                .filter(|g| g.principal_id.as_deref() == Some(user.id.as_str()))
                .map(|g| (g.id.clone(), Value::Object(render::grant_full(g))))
                .collect();
            page(
                c,
                "user-grants",
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

fn list_users(c: &Ctx<'_>, st: &GraphState) -> Reply {
    c.require(USER_READ)?;
    check_options(c)?;
    let sel = c.q.select();
    if let Some(u) = st.users.values().next() {
        check_select(sel.as_deref(), &render::user_full(st, u), "user")?;
    }
    check_sign_in_activity(c, st, sel.as_deref())?;
    let conds = filter(c, USER_FILTERS, "User")?;
    let top = c.q.top(100, 999, "Request_BadRequest")?;
    let order =
        c.q.get("$orderby")
            .map(|o| o.split_whitespace().next().unwrap_or_default().to_string());
    if let Some(o) = order.as_deref()
        && !matches!(o, "displayName" | "userPrincipalName")
    {
        return Err(err(
            400,
            "Request_UnsupportedQuery",
            format!("Sorting by '{o}' is not supported."),
        ));
    }
    let mut rows: Vec<(String, Value)> = st
        .users
        .values()
        .filter_map(|u| {
            let full = Value::Object(render::user_full(st, u));
            if !matches(&conds, &full) {
                return None;
            }
            let key = match order.as_deref() {
                Some("displayName") => format!("{}\u{1}{}", u.display_name.to_lowercase(), u.id),
                Some(_) => format!("{}\u{1}{}", u.upn.to_lowercase(), u.id),
                None => u.id.clone(),
            };
            let obj = full.as_object().cloned().unwrap_or_default();
            Some((key, select(obj, sel.as_deref(), Some(USER_DEFAULT))))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    page(c, "users", &context("users", sel.as_deref()), rows, top)
}

/// The delta round a request continues, or a new one.
pub(super) fn delta_round(
    c: &Ctx<'_>,
    st: &GraphState,
    kind: &str,
    scope: &str,
    token: Option<&str>,
    latest: bool,
) -> Result<Option<DeltaToken>, OpError> {
    let lifetime = st.settings.delta_token_lifetime_secs;
    if latest {
        return Ok(None);
    }
    let Some(raw) = token else {
        return Ok(Some(DeltaToken {
            kind: kind.into(),
            scope: scope.into(),
            since: 0,
            upto: st.seq,
            after: None,
            issued: c.now.timestamp(),
            select: c.q.select().map(|s| s.join(",")).unwrap_or_default(),
            next: true,
        }));
    };
    let t = DeltaToken::decode(c.seed, raw)
        .filter(|t| t.kind == kind && t.scope == scope)
        .ok_or_else(|| {
            err(
                410,
                "syncStateInvalid",
                "The delta token is not valid. Restart the synchronisation with a new delta query.",
            )
        })?;
    if c.now.timestamp() - t.issued > lifetime || t.since > st.seq {
        return Err(err(
            410,
            "syncStateNotFound",
            "The sync state generation is not found. The delta token is expired; restart the synchronisation with a new delta query.",
        ));
    }
    if t.next {
        Ok(Some(t))
    } else {
        Ok(Some(DeltaToken {
            since: t.since,
            upto: st.seq,
            after: None,
            issued: c.now.timestamp(),
            next: true,
            ..t
        }))
    }
}

/// One page of a directory delta round over the changed objects `(seq, id)`; only the page's
/// objects are rendered.
#[allow(clippy::too_many_arguments)]
pub(super) fn delta_page(
    c: &Ctx<'_>,
    st: &GraphState,
    round: &DeltaToken,
    mut rows: Vec<(u64, String)>,
    render: &dyn Fn(&str) -> Value,
    ctx: &str,
    base_path: &str,
) -> Reply {
    rows.sort();
    let start = match &round.after {
        Some((s, id)) => rows.partition_point(|(rs, rid)| (*rs, rid.as_str()) <= (*s, id.as_str())),
        None => 0,
    };
    let size = st.settings.delta_page_size.max(1);
    let end = (start + size).min(rows.len());
    let mut body = json!({
        "@odata.context": format!("{}/$metadata#{ctx}", c.base),
        "value": super::replay(c, st, start, round.since)
            .then(|| &rows[start - 1])
            .into_iter()
            .chain(&rows[start..end])
            .map(|r| render(&r.1))
            .collect::<Vec<_>>(),
    });
    if end < rows.len() {
        let next = DeltaToken {
            after: Some(rows[end - 1].clone()),
            ..round.clone()
        };
        body["@odata.nextLink"] =
            json!(c.link(&format!("{base_path}?$skiptoken={}", next.encode(c.seed))));
    } else {
        let done = DeltaToken {
            since: round.upto,
            upto: 0,
            after: None,
            issued: c.now.timestamp(),
            next: false,
            ..round.clone()
        };
        body["@odata.deltaLink"] =
            json!(c.link(&format!("{base_path}?$deltatoken={}", done.encode(c.seed))));
    }
    ok(body)
}

pub(super) fn delta_params(c: &Ctx<'_>) -> Result<(Option<String>, bool), OpError> {
    for o in ["$top", "$orderby", "$search", "$expand"] {
        if c.q.get(o).is_some() {
            return Err(err(
                400,
                "Request_UnsupportedQuery",
                format!("{o} is not supported with delta queries."),
            ));
        }
    }
    let dt = c.q.get("$deltatoken");
    let latest = dt.is_some_and(|t| t.eq_ignore_ascii_case("latest"));
    Ok((
        dt.filter(|_| !latest)
            .or(c.q.get("$skiptoken"))
            .map(String::from),
        latest,
    ))
}

pub(super) fn latest_link(
    c: &Ctx<'_>,
    st: &GraphState,
    kind: &str,
    ctx: &str,
    base_path: &str,
) -> Reply {
    let t = DeltaToken {
        kind: kind.into(),
        scope: String::new(),
        since: st.seq,
        upto: 0,
        after: None,
        issued: c.now.timestamp(),
        select: c.q.select().map(|s| s.join(",")).unwrap_or_default(),
        next: false,
    };
    ok(json!({
        "@odata.context": format!("{}/$metadata#{ctx}", c.base),
        "@odata.deltaLink": c.link(&format!("{base_path}?$deltatoken={}", t.encode(c.seed))),
        "value": [],
    }))
}

pub(super) fn id_filter(c: &Ctx<'_>) -> Result<Option<Vec<String>>, OpError> {
    let Some(f) = c.q.get("$filter") else {
        return Ok(None);
    };
    let conds = parse_filter(f)?;
    let mut ids = Vec::new();
    for cond in conds {
        match cond {
            Cond::Cmp(p, "eq", super::query::Lit::Str(v)) if p == "id" => ids.push(v),
            _ => {
                return Err(err(
                    400,
                    "Request_UnsupportedQuery",
                    "Delta queries filter only on id.",
                ));
            }
        }
    }
    Ok(Some(ids))
}

fn users_delta(c: &Ctx<'_>, st: &GraphState) -> Reply {
    let (token, latest) = delta_params(c)?;
    let Some(round) = delta_round(c, st, "users", "", token.as_deref(), latest)? else {
        return latest_link(c, st, "users", "users", "/users/delta");
    };
    let only = id_filter(c)?;
    let sel: Option<Vec<String>> =
        (!round.select.is_empty()).then(|| round.select.split(',').map(String::from).collect());
    if let Some(u) = st.users.values().next() {
        check_select(sel.as_deref(), &render::user_full(st, u), "user")?;
    }
    let wanted = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));
    let in_round = |seq: u64| seq > round.since && seq <= round.upto;
    let mut rows: Vec<(u64, String)> = st
        .users
        .values()
        .filter(|u| in_round(u.seq) && wanted(&u.id))
        .map(|u| (u.seq, u.id.clone()))
        .collect();
    if round.since > 0 {
        rows.extend(
            st.removed_users
                .iter()
                .filter(|(id, r)| in_round(r.seq) && wanted(id))
                .map(|(id, r)| (r.seq, id.clone())),
        );
    }
    let show = |id: &str| match (st.users.get(id), st.removed_users.get(id)) {
        (Some(u), _) => select(render::user_full(st, u), sel.as_deref(), Some(USER_DEFAULT)),
        (None, Some(r)) => json!({"id": id, "@removed": {"reason": r.reason}}),
        (None, None) => json!({"id": id, "@removed": {"reason": "deleted"}}),
    };
    delta_page(
        c,
        st,
        &round,
        rows,
        &show,
        &context("users", sel.as_deref()),
        "/users/delta",
    )
}

/// A page of directory objects (members, memberOf…), optionally cast to users or groups.
pub(super) fn member_list(
    c: &Ctx<'_>,
    st: &GraphState,
    ids: Vec<String>,
    cast: Option<&str>,
) -> Reply {
    let sel = c.q.select();
    let top = c.q.top(100, 999, "Request_BadRequest")?;
    let want = match cast {
        None => None,
        Some("microsoft.graph.user") => Some(true),
        Some("microsoft.graph.group") => Some(false),
        Some(o) => return Err(err(400, "BadRequest", format!("Unsupported cast '{o}'."))),
    };
    let mut rows: Vec<(String, Value)> = ids
        .into_iter()
        .filter(|id| want.is_none_or(|u| st.users.contains_key(id) == u))
        .filter_map(|id| render::directory_object(st, &id, sel.as_deref()).map(|v| (id, v)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let ctx = match want {
        Some(true) => "users",
        Some(false) => "groups",
        None => "directoryObjects",
    };
    page(
        c,
        &format!("members{}", c.path),
        &context(ctx, sel.as_deref()),
        rows,
        top,
    )
}
