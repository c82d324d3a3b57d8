//! The alerts API on a real server and a real store: the queue's filters, one alert, triage,
//! comments, the API token, and the live feed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::{Value, json};
use skylight_model::{AlertDraft, AlertStatus, Severity};
use skylight_server::{AppState, router};
use skylight_store::{AlertChange, AlertQuery, SqliteStore, Store};

/// The token the test servers are configured with (an administrator's).
const TOKEN: &str = "test-token-0123456789";

/// A client that sends [`TOKEN`].
fn client() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// An alert about `users`, its last activity at minute `minute` of 2026-11-20 09:00 UTC.
fn draft(key: &str, policy: &str, severity: Severity, users: &[&str], minute: u32) -> AlertDraft {
    let at = chrono::Utc
        .with_ymd_and_hms(2026, 11, 20, 9, minute, 0)
        .unwrap();
    AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: policy.into(),
        kind: "activity".into(),
        title: key.into(),
        severity,
        category: "threat_detection".into(),
        signal_only: false,
        users: users.iter().map(|u| u.to_string()).collect(),
        ips: vec!["91.10.20.1".into()],
        countries: vec!["FR".into()],
        activity_ids: vec![format!("00000000-0000-4000-8000-{minute:012}")],
        activity_count: 1,
        facts: vec!["a fact".into()],
        first: at,
        last: at,
    }
}

/// The queue the tests start from: three alerts and a signal, newest activity first.
fn queue() -> Vec<AlertDraft> {
    let mut admin = draft(
        "admin",
        "admin_activity",
        Severity::Low,
        &["eve@contoso.com", "root@fabrikam.com"],
        20,
    );
    admin.tenant = "fabrikam".into();
    let mut signal = draft(
        "new-country",
        "new_country",
        Severity::Informational,
        &["bob@contoso.com"],
        10,
    );
    signal.signal_only = true;
    vec![
        draft(
            "travel",
            "impossible_travel",
            Severity::High,
            &["eve@contoso.com"],
            40,
        ),
        draft(
            "download",
            "mass_download",
            Severity::Medium,
            &["bob@contoso.com"],
            30,
        ),
        admin,
        signal,
    ]
}

struct Server {
    url: String,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

async fn serve(token: Option<&str>, alerts: &[AlertDraft]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    if !alerts.is_empty() {
        store.commit_detection(0, 1, alerts, &[]).unwrap();
    }
    let state = AppState::new(store.clone()).with_api_token(Some(token.unwrap_or(TOKEN)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    Server {
        url,
        store,
        _dir: dir,
    }
}

impl Server {
    fn id(&self, key: &str) -> i64 {
        let all = AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        };
        let alerts = self.store.alerts(&all).unwrap();
        alerts.iter().find(|a| a.draft.key == key).unwrap().id
    }
}

async fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn send(method: reqwest::Method, url: &str, body: Value) -> (u16, Value) {
    let r = client()
        .request(method, url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The titles of a list, in order.
async fn titles(url: &str) -> Vec<String> {
    let (status, list) = get(url).await;
    assert_eq!(status, 200, "{url}: {list}");
    list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

fn error_of(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
}

#[tokio::test]
async fn the_queue_filters_by_status_severity_user_policy_and_tenant() {
    let s = serve(None, &queue()).await;
    let download = s.id("download");
    let change = AlertChange {
        status: Some(AlertStatus::InProgress),
        ..AlertChange::default()
    };
    s.store.update_alert(download, &change).unwrap();
    let list = |q: &str| format!("{}/api/v1/alerts{q}", s.url);

    // Signals stay out unless asked for.
    assert_eq!(titles(&list("")).await, ["travel", "download", "admin"]);
    assert_eq!(
        titles(&list("?signals=true")).await,
        ["travel", "download", "admin", "new-country"]
    );
    let (_, all) = get(&list("")).await;
    let travel = &all["alerts"][0];
    for field in [
        "id",
        "policy",
        "severity",
        "status",
        "users",
        "activity_ids",
    ] {
        assert!(!travel[field].is_null(), "{field} in {travel}");
    }
    assert_eq!(travel["severity"], "high");
    assert_eq!(travel["status"], "open");
    assert_eq!(
        travel["activity_ids"][0],
        "00000000-0000-4000-8000-000000000040"
    );

    // Severity is a minimum.
    assert_eq!(
        titles(&list("?severity=medium")).await,
        ["travel", "download"]
    );
    assert_eq!(
        titles(&list("?severity=low&signals=true")).await,
        ["travel", "download", "admin"]
    );
    // Statuses, repeated or comma-separated.
    assert_eq!(titles(&list("?status=open")).await, ["travel", "admin"]);
    assert_eq!(
        titles(&list("?status=in_progress&status=resolved")).await,
        ["download"]
    );
    assert_eq!(
        titles(&list("?status=resolved,in_progress")).await,
        ["download"]
    );
    // Users whatever their case; policies; tenants; limits.
    assert_eq!(
        titles(&list("?user=EVE%40Contoso.COM")).await,
        ["travel", "admin"]
    );
    assert_eq!(titles(&list("?policy=mass_download")).await, ["download"]);
    assert_eq!(titles(&list("?tenant=fabrikam")).await, ["admin"]);
    assert_eq!(titles(&list("?limit=2")).await, ["travel", "download"]);
    // A blank form field is no filter.
    assert_eq!(titles(&list("?user=&severity=")).await.len(), 3);

    // Mistakes name the valid values.
    for (q, says) in [
        ("?status=closed", "open, in_progress, resolved, dismissed"),
        ("?severity=critical", "informational, low, medium, high"),
        ("?limit=0", "from 1 to 5000"),
        ("?limit=5001", "from 1 to 5000"),
        ("?signals=maybe", "true or false"),
        ("?colour=red", "unknown parameter `colour`"),
    ] {
        let (status, e) = get(&list(q)).await;
        assert_eq!(status, 400, "{q}: {e}");
        assert!(error_of(&e).contains(says), "{q}: {e}");
    }
}

#[tokio::test]
async fn one_alert_is_triaged_and_commented() {
    let s = serve(None, &queue()).await;
    let travel = s.id("travel");
    let one = format!("{}/api/v1/alerts/{travel}", s.url);

    let (status, a) = get(&one).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["id"], travel);
    assert_eq!(a["policy"], "impossible_travel");
    assert_eq!(a["users"], json!(["eve@contoso.com"]));
    assert_eq!(a["comments"], json!([]));
    for missing in ["999999", "abc"] {
        let (status, e) = get(&format!("{}/api/v1/alerts/{missing}", s.url)).await;
        assert_eq!(status, 404, "{e}");
        assert!(error_of(&e).contains(missing), "{e}");
    }

    // Close it as a true positive.
    let (status, a) = send(
        reqwest::Method::PATCH,
        &one,
        json!({"status": "resolved", "resolution": "true_positive"}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["status"], "resolved");
    let (_, a) = get(&one).await;
    assert_eq!(a["status"], "resolved");
    assert_eq!(a["resolution"], "true_positive");

    // A resolution needs a closing status, given or already there.
    let (status, e) = send(
        reqwest::Method::PATCH,
        &one,
        json!({"status": "in_progress", "resolution": "benign"}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(error_of(&e).contains("resolved or dismissed"), "{e}");
    let (_, a) = get(&one).await;
    assert_eq!(a["status"], "resolved", "a refused change changes nothing");
    let (status, a) = send(
        reqwest::Method::PATCH,
        &one,
        json!({"resolution": "benign"}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["resolution"], "benign");
    let download = format!("{}/api/v1/alerts/{}", s.url, s.id("download"));
    let (status, e) = send(
        reqwest::Method::PATCH,
        &download,
        json!({"resolution": "benign"}),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(error_of(&e).contains("is open"), "{e}");
    let (_, d) = get(&download).await;
    assert_eq!(d["resolution"], Value::Null);

    // Other mistakes.
    for (body, says) in [
        (json!({}), "status, resolution or both"),
        (json!({"status": "closed"}), "in_progress"),
        (
            json!({"status": "resolved", "resolution": "meh"}),
            "false_positive",
        ),
        (json!({"statu": "open"}), "unknown field `statu`"),
    ] {
        let (status, e) = send(reqwest::Method::PATCH, &one, body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(error_of(&e).contains(says), "{body}: {e}");
    }
    let (status, _) = send(
        reqwest::Method::PATCH,
        &format!("{}/api/v1/alerts/999999", s.url),
        json!({"status": "open"}),
    )
    .await;
    assert_eq!(status, 404);
    // Only JSON: a cross-site form cannot post here without a CORS check.
    let r = client()
        .post(format!("{one}/comments"))
        .header("Content-Type", "text/plain")
        .body(r#"{"text": "from a form"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // Comments, oldest first; the author is who signed in (here the configured token), with
    // whoever they relay.
    let comments = format!("{one}/comments");
    let (status, a) = send(
        reqwest::Method::POST,
        &comments,
        json!({"text": "called eve: not her", "author": "ana"}),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["comments"][0]["author"], "api-token (for ana)");
    let long = "x".repeat(10_000);
    let (status, _) = send(reqwest::Method::POST, &comments, json!({"text": long})).await;
    assert_eq!(status, 201);
    let (_, a) = get(&one).await;
    let got = a["comments"].as_array().unwrap();
    assert_eq!(got.len(), 2, "{a}");
    assert_eq!(got[0]["text"], "called eve: not her");
    assert_eq!(got[0]["author"], "api-token (for ana)");
    assert_eq!(got[1]["author"], "api-token");
    assert!(got[1]["at"].is_string());
    for (body, says) in [
        (json!({"text": ""}), "empty"),
        (json!({"text": "  \n"}), "empty"),
        (json!({"text": "x".repeat(10_001)}), "at most 10000"),
        (json!({"author": "ana"}), "missing field `text`"),
    ] {
        let (status, e) = send(reqwest::Method::POST, &comments, body).await;
        assert_eq!(status, 400, "{e}");
        assert!(error_of(&e).contains(says), "{e}");
    }
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{}/api/v1/alerts/999999/comments", s.url),
        json!({"text": "hello"}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, a) = get(&one).await;
    assert_eq!(a["comments"].as_array().unwrap().len(), 2);

    // The OpenAPI document has the routes, and its Alert has exactly the fields served.
    let (status, doc) = get(&format!("{}/api/v1/openapi.json", s.url)).await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/stream", "get"),
        ("/api/v1/alerts/{id}", "get"),
        ("/api/v1/alerts/{id}", "patch"),
        ("/api/v1/alerts/{id}/comments", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Client generators name functions after operation ids: they must not repeat.
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "{ids:?}");
    let mut documented: Vec<&String> = doc["components"]["schemas"]["Alert"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut served: Vec<&String> = a.as_object().unwrap().keys().collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["AlertStatus"]["enum"],
        json!(["open", "in_progress", "resolved", "dismissed"])
    );
    assert_eq!(
        schemas["Severity"]["enum"],
        json!(["informational", "low", "medium", "high"])
    );
    assert_eq!(
        schemas["Resolution"]["enum"],
        json!(["true_positive", "benign", "false_positive"])
    );
}

#[tokio::test]
async fn the_alerts_api_wants_the_token() {
    let s = serve(Some("s3cret-token-0123"), &queue()).await;
    let client = reqwest::Client::new();
    let travel = s.id("travel");
    for path in [
        "/api/v1/alerts".to_string(),
        format!("/api/v1/alerts/{travel}"),
        "/api/v1/alerts/stream".to_string(),
    ] {
        let r = client.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let r = client
        .patch(format!("{}/api/v1/alerts/{travel}", s.url))
        .bearer_auth("wrong")
        .json(&json!({"status": "dismissed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .post(format!("{}/api/v1/alerts/{travel}/comments", s.url))
        .json(&json!({"text": "sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let a = s.store.alert(travel).unwrap().unwrap();
    assert_eq!(
        a.status,
        AlertStatus::Open,
        "nothing changed without the token"
    );
    assert!(a.comments.is_empty());

    let r = client
        .patch(format!("{}/api/v1/alerts/{travel}", s.url))
        .bearer_auth("s3cret-token-0123")
        .json(&json!({"status": "dismissed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .get(format!("{}/api/v1/alerts", s.url))
        .bearer_auth("s3cret-token-0123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Reads `event: alert` events from an SSE body until `n` arrived; fails after a while.
async fn read_events(r: &mut reqwest::Response, n: usize) -> Vec<Value> {
    let mut text = String::new();
    let mut events = Vec::new();
    let read = async {
        while events.len() < n {
            let chunk = r.chunk().await.unwrap().expect("the feed ended");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: alert") {
                    let data: String = block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect();
                    events.push(serde_json::from_str(&data).unwrap());
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the feed did not deliver in 10 s");
    events
}

#[tokio::test]
async fn the_feed_sends_alerts_raised_or_changed_after_connecting() {
    let s = serve(None, &queue()).await;
    let travel = s.id("travel");
    let mut r = client()
        .get(format!("{}/api/v1/alerts/stream", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");

    // A signal (hidden, as in the list), then a new alert, then a change to an old one.
    let mut signal = draft(
        "signal",
        "new_country",
        Severity::Low,
        &["bob@contoso.com"],
        50,
    );
    signal.signal_only = true;
    s.store.commit_detection(1, 2, &[signal], &[]).unwrap();
    let raised = draft(
        "raised",
        "mass_download",
        Severity::High,
        &["eve@contoso.com"],
        55,
    );
    s.store.commit_detection(2, 3, &[raised], &[]).unwrap();
    let change = AlertChange {
        status: Some(AlertStatus::InProgress),
        comment: Some(("ana".into(), "on it".into())),
        ..AlertChange::default()
    };
    s.store.update_alert(travel, &change).unwrap();

    let events = read_events(&mut r, 2).await;
    assert_eq!(events[0]["title"], "raised", "{events:?}");
    assert_eq!(events[0]["status"], "open");
    assert_eq!(
        events[0]["activity_ids"][0],
        "00000000-0000-4000-8000-000000000055"
    );
    assert_eq!(events[1]["id"], travel, "{events:?}");
    assert_eq!(events[1]["status"], "in_progress");
    assert_eq!(events[1]["comments"][0]["text"], "on it");
}

#[tokio::test]
async fn shutting_down_ends_open_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let state =
        AppState::new(Arc::new(SqliteStore::open(dir.path()).unwrap())).with_api_token(Some(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(skylight_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let mut r = client()
        .get(format!("{url}/api/v1/alerts/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    stop.send(()).unwrap();
    let served = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server waited for the feed instead of ending it");
    served.unwrap().unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(5), r.chunk()).await;
    assert!(matches!(rest, Ok(Ok(None))), "the feed ended cleanly");
}
