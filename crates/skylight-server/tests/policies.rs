//! Policies through the API on a real server and store: put, list, validation, delete.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use serde_json::{Value, json};
use skylight_server::{AppState, router};
use skylight_store::{SqliteStore, Store};

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

async fn serve() -> (String, Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let state = AppState::new(store.clone()).with_api_token(Some(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/policies", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    (url, store, dir)
}

async fn put(url: &str, body: &Value) -> (u16, Value) {
    let r = client().put(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn policies_are_put_listed_checked_and_deleted() {
    let (url, store, _dir) = serve().await;
    let version = store.policy_version().unwrap();
    let policy = json!({
        "id": "many-downloads", "name": "Many downloads", "severity": "high",
        "filters": ["category=file_download"], "repeated": {"count": 100, "within_minutes": 15}
    });
    let (status, body) = put(&format!("{url}/many-downloads"), &policy).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["daily_alert_limit"], 5, "defaults filled in: {body}");
    assert!(
        store.policy_version().unwrap() > version,
        "detection can see the change"
    );
    let list: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["policies"][0]["id"], "many-downloads");

    // What detection would refuse is refused here, saying why.
    let mut bad = policy.clone();
    bad["filters"] = json!(["catgory=file_download"]);
    let (status, body) = put(&format!("{url}/many-downloads"), &bad).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `catgory`"),
        "{body}"
    );
    let (status, _) = put(&format!("{url}/other-id"), &policy).await;
    assert_eq!(status, 400, "the body's id is the path's");
    let mut taken = policy.clone();
    taken["id"] = json!("impossible_travel");
    let (status, body) = put(&format!("{url}/impossible_travel"), &taken).await;
    assert_eq!(status, 409, "{body}");
    let plain = client()
        .put(format!("{url}/many-downloads"))
        .body(policy.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.status().as_u16(),
        415,
        "JSON only (no cross-site form posts)"
    );

    let del = client()
        .delete(format!("{url}/many-downloads"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 204);
    let again = client()
        .delete(format!("{url}/many-downloads"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 404);
    assert!(store.stored_policies().unwrap().is_empty());
}
