//! The authorisation matrix: every route of the console and the API, the least caller it
//! admits and what it answers them.

use reqwest::Method;
use serde_json::{Value, json};

/// Who calls: nobody, or a session of one of the roles (least powerful first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    Anonymous,
    ReadOnly,
    Analyst,
    Admin,
}

/// What a request carries.
pub enum Body {
    None,
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

/// One route of the matrix: who may call it at least, and what it answers them.
pub struct Route {
    pub method: Method,
    pub path: String,
    pub least: Caller,
    pub ok: u16,
    pub body: Body,
}

pub fn route(method: Method, path: impl Into<String>, least: Caller, ok: u16, body: Body) -> Route {
    Route {
        method,
        path: path.into(),
        least,
        ok,
        body,
    }
}

/// Every route, with the ids of things the test made or found.
pub fn routes(alert_id: i64, user: &str, activity: &str, token_id: i64) -> Vec<Route> {
    let enc = |s: &str| -> String { form_urlencoded_byte(s) };

    use Caller::*;
    let form = |fields: &[(&'static str, &str)]| {
        Body::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect())
    };
    vec![
        route(Method::GET, "/healthz", Anonymous, 200, Body::None),
        route(Method::GET, "/login", Anonymous, 200, Body::None),
        route(
            Method::GET,
            "/static/skylight.css",
            Anonymous,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            "/static/skylight.js",
            Anonymous,
            200,
            Body::None,
        ),
        route(Method::GET, "/", ReadOnly, 200, Body::None),
        route(Method::GET, "/activities", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            format!("/activities?q=user%3D{}", enc(user)),
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            "/activities/export.csv?q=app%3Dexchange",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::POST,
            "/activities/saved",
            ReadOnly,
            303,
            form(&[("name", "exchange"), ("query", "q=app%3Dexchange")]),
        ),
        route(
            Method::POST,
            "/activities/saved/999999/delete",
            ReadOnly,
            404,
            form(&[]),
        ),
        route(
            Method::GET,
            format!("/activities/{activity}"),
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/alerts", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            format!("/alerts/{alert_id}"),
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/users", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            format!("/users/{}", enc(user)),
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/policies", ReadOnly, 200, Body::None),
        route(Method::GET, "/connectors", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/connectors/contoso",
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/connectors/nosuch", ReadOnly, 404, Body::None),
        route(Method::GET, "/connectors/new", Admin, 200, Body::None),
        route(
            Method::POST,
            "/connectors/new",
            Admin,
            400,
            form(&[
                ("name", "fabrikam"),
                ("tenant_id", "common"),
                ("secret", "x"),
            ]),
        ),
        route(
            Method::GET,
            "/connectors/nosuch/credentials",
            Admin,
            404,
            Body::None,
        ),
        route(
            Method::POST,
            "/connectors/nosuch/credentials",
            Admin,
            404,
            form(&[("tenant_id", "contoso.com")]),
        ),
        route(
            Method::GET,
            "/connectors/nosuch/components",
            Admin,
            404,
            Body::None,
        ),
        route(
            Method::POST,
            "/connectors/nosuch/components",
            Admin,
            404,
            form(&[("activities", "1")]),
        ),
        route(
            Method::GET,
            "/connectors/nosuch/connect",
            Admin,
            404,
            Body::None,
        ),
        route(
            Method::POST,
            "/connectors/nosuch/connect",
            Admin,
            404,
            form(&[]),
        ),
        route(
            Method::POST,
            "/connectors/nosuch/pause",
            Admin,
            404,
            form(&[]),
        ),
        route(
            Method::POST,
            "/connectors/nosuch/resume",
            Admin,
            404,
            form(&[]),
        ),
        route(
            Method::GET,
            "/connectors/nosuch/disconnect",
            Admin,
            404,
            Body::None,
        ),
        route(
            Method::POST,
            "/connectors/nosuch/disconnect",
            Admin,
            404,
            form(&[]),
        ),
        route(Method::GET, "/groups", ReadOnly, 200, Body::None),
        route(Method::GET, "/groups?search=a", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/groups/no-such-group",
            ReadOnly,
            404,
            Body::None,
        ),
        route(Method::GET, "/apps", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/apps?level=medium&search=a&microsoft=1",
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/apps?level=huge", ReadOnly, 400, Body::None),
        route(Method::GET, "/apps/no-such-app", ReadOnly, 404, Body::None),
        route(Method::GET, "/files", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/files?access=external&owner=a&extension=docx",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            "/files/no-drive/no-item",
            ReadOnly,
            404,
            Body::None,
        ),
        route(Method::GET, "/governance", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/governance?status=failed&target=x",
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/governance/999999", ReadOnly, 404, Body::None),
        route(
            Method::GET,
            format!(
                "/governance/confirm?action=suspend-user&target={}",
                enc(user)
            ),
            Analyst,
            200,
            Body::None,
        ),
        route(
            Method::POST,
            "/governance",
            Analyst,
            400,
            form(&[("action", "no_such_action"), ("target", "x")]),
        ),
        route(
            Method::POST,
            "/governance/999999/retry",
            Analyst,
            404,
            form(&[]),
        ),
        route(
            Method::POST,
            "/governance/999999/approve",
            Analyst,
            404,
            form(&[]),
        ),
        route(
            Method::POST,
            format!("/alerts/{alert_id}/triage"),
            Analyst,
            303,
            form(&[("status", "in_progress")]),
        ),
        route(
            Method::POST,
            format!("/alerts/{alert_id}/comments"),
            Analyst,
            303,
            form(&[("text", "looked at it")]),
        ),
        route(
            Method::GET,
            "/policies/matrix-keep/backtest?since=30",
            Analyst,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            "/policies/new?template=mass-download-by-single-user",
            Admin,
            200,
            Body::None,
        ),
        route(
            Method::POST,
            "/policies",
            Admin,
            303,
            form(&[
                ("id", "matrix-new"),
                ("name", "Matrix"),
                ("severity", "low"),
                ("filters", "app=teams"),
                ("enabled", "1"),
            ]),
        ),
        route(
            Method::GET,
            "/policies/matrix-keep/edit",
            Admin,
            200,
            Body::None,
        ),
        route(
            Method::POST,
            "/policies/matrix-keep/enabled",
            Admin,
            303,
            form(&[("enabled", "false")]),
        ),
        route(
            Method::POST,
            "/policies/matrix-del-page/delete",
            Admin,
            303,
            form(&[]),
        ),
        route(Method::GET, "/settings/accounts", Admin, 200, Body::None),
        route(
            Method::POST,
            "/settings/accounts",
            Admin,
            200,
            form(&[("username", "matrix-made"), ("role", "read-only")]),
        ),
        route(
            Method::POST,
            "/settings/accounts/4",
            Admin,
            200,
            form(&[("role", "analyst")]),
        ),
        route(
            Method::POST,
            "/settings/tokens",
            Admin,
            200,
            form(&[("name", "matrix"), ("role", "read-only")]),
        ),
        route(
            Method::POST,
            format!("/settings/tokens/{token_id}/revoke"),
            Admin,
            303,
            form(&[]),
        ),
        route(Method::GET, "/settings/audit", Admin, 200, Body::None),
        route(Method::GET, "/settings/ip-ranges", Admin, 200, Body::None),
        route(
            Method::POST,
            "/settings/ip-ranges",
            Admin,
            303,
            form(&[
                ("name", "matrix office"),
                ("category", "corporate"),
                ("cidrs", "203.0.113.0/24"),
                ("tags", "hq"),
                ("version", "0"),
                ("op", "save"),
            ]),
        ),
        route(Method::GET, "/settings/retention", Admin, 200, Body::None),
        route(
            Method::POST,
            "/settings/retention",
            Admin,
            303,
            form(&[("days", "3650"), ("version", "0")]),
        ),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/api/v1/activities", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/api/v1/activities/histogram",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            format!("/api/v1/activities/{activity}"),
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/api/v1/alerts", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/api/v1/alerts/stream",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            format!("/api/v1/alerts/{alert_id}"),
            ReadOnly,
            200,
            Body::None,
        ),
        route(Method::GET, "/api/v1/policies", ReadOnly, 200, Body::None),
        route(
            Method::PATCH,
            format!("/api/v1/alerts/{alert_id}"),
            Analyst,
            200,
            Body::Json(json!({"status": "in_progress"})),
        ),
        route(
            Method::POST,
            format!("/api/v1/alerts/{alert_id}/comments"),
            Analyst,
            201,
            Body::Json(json!({"text": "api note"})),
        ),
        route(
            Method::PUT,
            "/api/v1/policies/matrix-api",
            Admin,
            200,
            Body::Json(json!({"id": "matrix-api", "name": "M", "filters": ["app=teams"]})),
        ),
        route(
            Method::DELETE,
            "/api/v1/policies/matrix-del-api",
            Admin,
            204,
            Body::None,
        ),
        route(Method::GET, "/api/v1/audit-log", Admin, 200, Body::None),
        route(Method::GET, "/api/v1/users", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/api/v1/users/nobody%40contoso.com",
            ReadOnly,
            404,
            Body::None,
        ),
        route(Method::GET, "/api/v1/groups", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/api/v1/groups/no-such-group/members",
            ReadOnly,
            404,
            Body::None,
        ),
        route(Method::GET, "/api/v1/apps", ReadOnly, 200, Body::None),
        route(Method::GET, "/api/v1/files", ReadOnly, 200, Body::None),
        route(Method::GET, "/api/v1/governance", ReadOnly, 200, Body::None),
        route(
            Method::GET,
            "/api/v1/collection/status",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::GET,
            "/api/v1/collection/ledger?days=2",
            ReadOnly,
            200,
            Body::None,
        ),
        route(
            Method::POST,
            "/api/v1/governance",
            Analyst,
            400,
            Body::Json(json!({"action": "no_such_action", "target": "x"})),
        ),
        route(
            Method::POST,
            "/api/v1/governance/999999/retry",
            Analyst,
            404,
            Body::None,
        ),
    ]
}

fn form_urlencoded_byte(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
