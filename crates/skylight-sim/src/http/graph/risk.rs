//! Identity Protection's risky users (P2) and sign-in logs (P1) (contract §4.3, §4.9).

use chrono::Duration;
use serde_json::{Value, json};

use crate::graph::GraphState;
use crate::graph::ops::{err, no_object};
use crate::http::graph::query::matches;
use crate::http::graph::render::{self, select};
use crate::http::graph::{Ctx, Reply, no_content, ok, page};

use super::directory::*;

/// `/identityProtection/riskyUsers…` (Entra ID P2).
pub fn risky(c: &Ctx<'_>, st: &mut GraphState) -> Reply {
    if c.segs.get(1).map(String::as_str) != Some("riskyUsers") {
        return Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        ));
    }
    if !st.settings.entra_p2 {
        // Inferred: the contract only says "403 with a message about the licence".
        return Err(err(
            403,
            "Forbidden",
            "Your tenant is not licensed for this feature: Microsoft Entra ID P2 is required.",
        ));
    }
    let action = c.segs.get(2).map(String::as_str);
    match (c.method.as_str(), action) {
        ("GET", None) => {
            c.require(RISK_READ)?;
            let conds = filter(
                c,
                &[
                    ("riskLevel", &["eq"]),
                    ("riskState", &["eq"]),
                    ("userPrincipalName", &["eq"]),
                    ("id", &["eq"]),
                ],
                "RiskyUser",
            )?;
            let top = c.q.top(100, 500, "Request_BadRequest")?;
            let sel = c.q.select();
            let rows = st
                .risky
                .values()
                .filter_map(|r| {
                    let full = render::risky_full(st, r);
                    matches(&conds, &Value::Object(full.clone()))
                        .then(|| (r.id.clone(), select(full, sel.as_deref(), None)))
                })
                .collect();
            page(c, "risky", "identityProtection/riskyUsers", rows, top)
        }
        ("POST", Some(op @ ("confirmCompromised" | "dismiss"))) => {
            c.require(RISK_WRITE)?;
            let body = c.json_body()?;
            let ids: Vec<String> = body
                .get("userIds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            st.risky_action(&ids, op == "confirmCompromised", &c.actor, c.now)?;
            no_content()
        }
        ("GET", Some(id)) => {
            c.require(RISK_READ)?;
            let r = st.risky.get(id).ok_or_else(|| no_object(id))?;
            let mut v = Value::Object(render::risky_full(st, r));
            v["@odata.context"] = json!(format!(
                "{}/$metadata#identityProtection/riskyUsers/$entity",
                c.base
            ));
            ok(v)
        }
        _ => Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        )),
    }
}

/// `/auditLogs/signIns…` (Entra ID P1; `AuditLog.Read.All` and `Directory.Read.All`).
pub fn sign_ins(c: &Ctx<'_>, st: &mut GraphState) -> Reply {
    if c.segs.get(1).map(String::as_str) != Some("signIns") || c.method != "GET" {
        return Err(err(
            400,
            "BadRequest",
            format!("Unsupported request {} {}.", c.method, c.path),
        ));
    }
    if !c.roles.iter().any(|r| r == "AuditLog.Read.All") {
        return Err(err(
            403,
            "Authentication_MSGraphPermissionMissing",
            "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
        ));
    }
    c.require(&["Directory.Read.All", "Directory.ReadWrite.All"])?;
    if !st.settings.entra_p1 {
        return Err(err(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        ));
    }
    if let Some(id) = c.segs.get(2) {
        let s = st
            .sign_ins
            .iter()
            .find(|s| &s.id == id)
            .ok_or_else(|| no_object(id))?;
        return ok(Value::Object(render::sign_in_full(st, s)));
    }
    let conds = filter(
        c,
        &[
            ("createdDateTime", &["ge", "gt", "le", "lt", "eq"]),
            ("userId", &["eq"]),
            ("userPrincipalName", &["eq", "startswith"]),
            ("appId", &["eq"]),
            ("ipAddress", &["eq"]),
            ("status/errorCode", &["eq", "ne"]),
            ("clientAppUsed", &["eq"]),
            ("conditionalAccessStatus", &["eq"]),
        ],
        "SignIn",
    )?;
    let top = c.q.top(1000, 1000, "Request_BadRequest")?;
    let horizon = c.now - Duration::days(30);
    let rows = st
        .sign_ins
        .iter()
        .filter(|s| s.created >= horizon)
        .filter_map(|s| {
            let full = Value::Object(render::sign_in_full(st, s));
            matches(&conds, &full).then(|| {
                (
                    format!("{:020}{}", i64::MAX - s.created.timestamp(), s.id),
                    full,
                )
            })
        })
        .collect();
    page(c, "signins", "auditLogs/signIns", rows, top)
}
