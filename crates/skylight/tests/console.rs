//! The console and API's security as a user meets it, on the real binary over a tenant collected
//! from the simulator: every route for anonymous, read-only, analyst and admin callers; CSRF; the
//! sign-in limits; security headers; secrets in no response and no log line; the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{Value, json};

mod common;
#[path = "console/matrix.rs"]
mod matrix;

use common::{Console, Killed, TOKEN, no_redirects, run_ok, spawn_announcing_with, spawn_sim};
use matrix::{Body, Caller, Route, route};

const DETECTION: &str = "\n[detection]\nlearning_days = 1\n";

struct World {
    _sim: Killed,
    _serve: Killed,
    dir: tempfile::TempDir,
    data: String,
    base: String,
    connector_secret: String,
    passwords: HashMap<&'static str, String>,
}

/// A simulated tenant collected by `skylight serve --config`, with one account per role made on
/// the command line before the server starts, and the server's log kept in a file.
fn world() -> World {
    let (sim, url) = spawn_sim(&["--users", "120", "--days", "2", "--scenarios", "all"]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = common::write_config_with(dir.path(), &url, DETECTION);
    let connector_secret = std::fs::read_to_string(dir.path().join("secret.txt"))
        .unwrap()
        .trim()
        .to_owned();
    let mut passwords = HashMap::new();
    for (name, role) in [
        ("admin@contoso.com", "admin"),
        ("ana", "analyst"),
        ("rita", "read-only"),
        ("spare", "read-only"),
    ] {
        let pw = format!("{name}-long-password-{}", name.len());
        let file = dir.path().join(format!("{role}.pw"));
        std::fs::write(&file, format!("{pw}\n")).unwrap();
        let out = run_ok(&[
            "admin",
            "create",
            "--username",
            name,
            "--role",
            role,
            "--password-file",
            &file.display().to_string(),
            "--data-dir",
            &data,
        ]);
        assert!(!out.contains(&pw), "a given password is never printed");
        passwords.insert(name, pw);
    }
    let log = dir.path().join("serve.log");
    let (serve, base) = spawn_announcing_with(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &config,
            "--data-dir",
            &data,
        ],
        &[
            ("SKYLIGHT_API_TOKEN", TOKEN),
            ("RUST_LOG", "debug,hyper=info,h2=info,rustls=info"),
        ],
        Some(&log),
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_owned())
        },
    );
    let alerts = common::poll_list(
        &common::api_client(),
        &format!("{base}/api/v1/alerts"),
        "alerts",
        2,
        120,
    );
    assert!(alerts.len() >= 2, "detection raised alerts: {alerts:?}");
    World {
        _sim: sim,
        _serve: serve,
        dir,
        data,
        base,
        connector_secret,
        passwords,
    }
}

fn send(w: &World, who: Option<&Console>, r: &Route, csrf: bool) -> reqwest::blocking::Response {
    let http = no_redirects();
    let mut req = http.request(r.method.clone(), format!("{}{}", w.base, r.path));
    if let Some(c) = who {
        req = req.header("Cookie", &c.cookie);
    }
    req = match &r.body {
        Body::None => match (who, csrf && r.method != Method::GET) {
            (Some(c), true) => req.header("X-CSRF-Token", &c.csrf),
            _ => req,
        },
        Body::Form(fields) => {
            let mut all: Vec<(&str, String)> = fields.clone();
            if let (Some(c), true) = (who, csrf) {
                all.push(("csrf", c.csrf.clone()));
            }
            req.form(&all)
        }
        Body::Json(v) => {
            if let (Some(c), true) = (who, csrf) {
                req = req.header("X-CSRF-Token", &c.csrf);
            }
            req.json(v)
        }
    };
    req.send().unwrap()
}

/// Reads a response's body, except an endless feed's (its headers are the answer).
fn body_of(r: reqwest::blocking::Response) -> String {
    let feed = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if feed {
        String::new()
    } else {
        r.text().unwrap_or_default()
    }
}

#[test]
fn every_route_answers_each_role_as_it_should_and_secrets_stay_secret() {
    let w = world();
    let admin = Console::sign_in(
        &w.base,
        "admin@contoso.com",
        &w.passwords["admin@contoso.com"],
    );
    let ana = Console::sign_in(&w.base, "ANA", &w.passwords["ana"]);
    let rita = Console::sign_in(&w.base, "rita", &w.passwords["rita"]);
    let api = common::api_client();
    let get_json = |path: &str| -> Value {
        api.get(format!("{}{path}", w.base))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let alert = get_json("/api/v1/alerts")["alerts"][0].clone();
    let alert_id = alert["id"].as_i64().unwrap();
    let user = alert["users"][0].as_str().unwrap().to_owned();
    let activity = get_json("/api/v1/activities?limit=1")["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in ["matrix-keep", "matrix-del-page", "matrix-del-api"] {
        let put = api
            .put(format!("{}/api/v1/policies/{id}", w.base))
            .json(&json!({"id": id, "name": id, "filters": ["app=exchange"]}))
            .send()
            .unwrap();
        assert_eq!(put.status().as_u16(), 200);
    }
    let made = run_ok(&[
        "admin",
        "token",
        "--name",
        "to-revoke",
        "--data-dir",
        &w.data,
    ]);
    let token_id: i64 = made.split_whitespace().nth(2).unwrap().parse().unwrap();
    use Caller::*;
    let matrix = matrix::routes(alert_id, &user, &activity, token_id);
    let mut bodies: Vec<String> = Vec::new();
    for r in &matrix {
        for (caller, session) in [
            (Anonymous, None),
            (ReadOnly, Some(&rita)),
            (Analyst, Some(&ana)),
            (Admin, Some(&admin)),
        ] {
            let res = send(&w, session, r, true);
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            assert_eq!(
                res.headers()
                    .get("x-content-type-options")
                    .map(|v| v.to_str().unwrap()),
                Some("nosniff"),
                "{} {}",
                r.method,
                r.path
            );
            let want = if caller >= r.least {
                r.ok
            } else if caller == Anonymous && r.path.starts_with("/api/") {
                401
            } else if caller == Anonymous && r.method == Method::GET {
                303
            } else if caller == Anonymous {
                401
            } else {
                403
            };
            assert_eq!(status, want, "{caller:?} {} {}", r.method, r.path);
            if want == 303 && caller == Anonymous {
                assert!(location.starts_with("/login?next="), "{location}");
            }
            bodies.push(body_of(res));
        }
    }

    // Every API route of the OpenAPI document is in the matrix, and the document is valid.
    let doc: Value = serde_json::from_str(&admin.get("/api/v1/openapi.json").1).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let tried: BTreeSet<(String, String)> = matrix
        .iter()
        .filter(|r| r.path.starts_with("/api/") && r.path != "/api/v1/openapi.json")
        .map(|r| (r.method.to_string(), templated(&r.path)))
        .collect();
    assert_eq!(
        documented, tried,
        "the OpenAPI document lists exactly the API's routes"
    );
    common::openapi::validate(&doc);

    // The matrix changed what it was allowed to, and recorded it in the audit log.
    let audit: Value = get_json("/api/v1/audit-log?limit=1000");
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (actor, action) in [
        ("ana", "alert.update"),
        ("admin@contoso.com", "alert.comment"),
        ("admin@contoso.com", "policy.delete"),
        ("admin@contoso.com", "account.create"),
        ("admin@contoso.com", "token.revoke"),
        ("admin@contoso.com", "ip_range.save"),
        ("admin@contoso.com", "retention.set"),
        ("rita", "sign_in"),
        ("cli", "account.create"),
    ] {
        assert!(
            actions.contains(&(actor.to_owned(), action.to_owned())),
            "{actor} {action} in {actions:?}"
        );
    }
    assert!(
        !actions
            .iter()
            .any(|(a, act)| a == "rita" && act == "alert.update")
    );

    // Governance buttons show to analysts and admins, not to read-only accounts.
    let synced = common::poll_list(&api, &format!("{}/api/v1/users", w.base), "users", 1, 120);
    let upn: String = synced[0]["upn"]
        .as_str()
        .unwrap()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    for (who, session, buttons) in [
        ("rita", &rita, false),
        ("ana", &ana, true),
        ("admin", &admin, true),
    ] {
        let (status, html) = session.get(&format!("/users/{upn}"));
        assert_eq!(status, 200);
        assert!(
            html.contains("id=\"directory\""),
            "{who}: the directory panel"
        );
        assert_eq!(
            html.contains("id=\"action-suspend-user\""),
            buttons,
            "{who}"
        );
    }

    csrf_is_required(&w, &ana, alert_id);

    // Signing out ends the session in the store: the old cookie no longer works.
    let (status, _) = rita.post("/logout", &[]);
    assert_eq!(status, 303);
    let (status, _) = rita.get("/alerts");
    assert_eq!(status, 303, "signed out: back to the sign-in page");

    // The connector's secret and the accounts' passwords are in no response and no log line.
    let log = std::fs::read_to_string(w.dir.path().join("serve.log")).unwrap();
    assert!(
        log.lines().count() > 10,
        "the server logged its work at debug level"
    );
    let session = admin.cookie.split_once('=').unwrap().1.to_owned();
    let mut secrets = vec![w.connector_secret.clone(), TOKEN.to_owned(), session];
    secrets.extend(w.passwords.values().cloned());
    for value in &secrets {
        assert!(value.len() >= 12);
        assert!(!log.contains(value.as_str()), "a secret in the server log");
        for b in &bodies {
            assert!(
                !b.contains(value),
                "a secret in a response: {}",
                &b[..b.len().min(300)]
            );
        }
    }
    let connectors = admin.get("/connectors").1;
    assert!(connectors.contains("Audit.Exchange") && !connectors.contains(&w.connector_secret));
}

/// The document's template of a matrix path: the values it carries become `{id}`, `{key}`,
/// `{verb}`, as the document names them.
fn templated(path: &str) -> String {
    let parts: Vec<&str> = path.split('?').next().unwrap().split('/').collect();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let before = if i > 0 { parts[i - 1] } else { "" };
        let named = match (before, *p) {
            (_, "histogram" | "stream" | "members" | "comments") => None,
            ("activities" | "alerts" | "policies" | "groups" | "governance", _) if i == 4 => {
                Some("{id}")
            }
            ("users", _) if i == 4 => Some("{key}"),
            (_, _) if i == 5 && parts[3] == "governance" => Some("{verb}"),
            _ => None,
        };
        out.push(named.map_or_else(|| (*p).to_owned(), String::from));
    }
    out.join("/")
}

/// A state-changing request made with a session is refused without the session's CSRF token,
/// with a wrong one, or from another site; nothing changes. Bearer tokens need none.
fn csrf_is_required(w: &World, ana: &Console, alert_id: i64) {
    let api = common::api_client();
    let status_of = || -> String {
        let a: Value = api
            .get(format!("{}/api/v1/alerts/{alert_id}", w.base))
            .send()
            .unwrap()
            .json()
            .unwrap();
        a["status"].as_str().unwrap().to_owned()
    };
    let before = status_of();
    assert_eq!(before, "in_progress");
    let triage = route(
        Method::POST,
        format!("/alerts/{alert_id}/triage"),
        Caller::Analyst,
        303,
        Body::Form(vec![("status", "dismissed".into())]),
    );
    assert_eq!(
        send(w, Some(ana), &triage, false).status().as_u16(),
        403,
        "no token"
    );
    let wrong = ana
        .request(Method::POST, &triage.path)
        .form(&[("status", "dismissed"), ("csrf", "not-the-token")])
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403, "a wrong token");
    for (header, value) in [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let r = ana
            .request(Method::POST, &triage.path)
            .header(header, value)
            .form(&[("status", "dismissed"), ("csrf", ana.csrf.as_str())])
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{header}: {value}");
    }
    let patch = route(
        Method::PATCH,
        format!("/api/v1/alerts/{alert_id}"),
        Caller::Analyst,
        200,
        Body::Json(json!({"status": "dismissed"})),
    );
    let r = send(w, Some(ana), &patch, false);
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().unwrap().contains("X-CSRF-Token"));
    assert_eq!(status_of(), before, "nothing changed");
    // With the token it goes through; a bearer token needs none (browsers never send it alone).
    assert_eq!(send(w, Some(ana), &triage, true).status().as_u16(), 303);
    assert_eq!(status_of(), "dismissed");
    let r = api
        .patch(format!("{}/api/v1/alerts/{alert_id}", w.base))
        .json(&json!({"status": "open"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The sign-in form itself wants its double-submit cookie: no signing a browser in from
    // another site.
    let r = no_redirects()
        .post(format!("{}/login", w.base))
        .form(&[
            ("username", "ana"),
            ("password", w.passwords["ana"].as_str()),
            ("csrf", "x"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(common::set_cookie(&r, "skylight_session").is_none());
}
