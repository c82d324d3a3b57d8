//! The REST API on a real server and a real store: filters, paging, counts, one activity, the
//! OpenAPI document, and the API token.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use chrono::TimeZone;
use serde_json::Value;
use skylight_model::{AuditRecord, BlobRef, ContentType};
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

/// A sign-in record of `user` at minute `m` of 2026-11-20 09:00 UTC, failed when `failed`.
fn signin(i: usize, user: &str, m: u32, failed: bool) -> AuditRecord {
    let raw = format!(
        r#"{{"Id":"00000000-0000-4000-8000-{i:012}","RecordType":15,"CreationTime":"2026-11-20T09:{m:02}:00","Operation":"{}","UserId":"{user}","UserType":0,"Workload":"AzureActiveDirectory","ClientIP":"91.10.20.{i}","ResultStatus":"Success","ExtendedProperties":[{{"Name":"UserAgent","Value":"python-requests/2.31"}}]}}"#,
        if failed {
            "UserLoginFailed"
        } else {
            "UserLoggedIn"
        }
    );
    let columns = skylight_normalize::record_columns(raw.as_bytes()).unwrap();
    AuditRecord {
        columns,
        raw: raw.into_bytes(),
    }
}

async fn serve(token: Option<&str>) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let records: Vec<AuditRecord> = (0..30)
        .map(|i| {
            signin(
                i,
                if i % 3 == 0 {
                    "eve@contoso.com"
                } else {
                    "bob@contoso.com"
                },
                (i * 2) as u32,
                i % 3 == 0,
            )
        })
        .collect();
    let blob = BlobRef {
        content_id: "b1".into(),
        created: chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap(),
    };
    store
        .commit_blob(
            "contoso",
            ContentType::AzureActiveDirectory,
            &blob,
            &records,
        )
        .unwrap();
    let state = AppState::new(Arc::new(store)).with_api_token(Some(token.unwrap_or(TOKEN)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    (url, dir)
}

async fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_activity_log_filters_pages_counts_and_shows_one_activity() {
    let (url, _dir) = serve(None).await;
    // Filters, as repeated q parameters.
    let (status, page) = get(&format!(
        "{url}/api/v1/activities?q=user%3Deve%40contoso.com&q=result%3Dfailure&limit=100"
    ))
    .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert!(
        items
            .iter()
            .all(|a| a["user"] == "eve@contoso.com" && a["result"] == "failure")
    );
    assert_eq!(items[0]["ip"], "91.10.20.27");
    assert_eq!(
        items[0]["country"],
        Value::Null,
        "not enriched in this test"
    );
    assert!(page["next_cursor"].is_null());

    // Paging: 30 activities in pages of 7, newest first, each once.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let cursor = if next.is_empty() {
            String::new()
        } else {
            format!("&cursor={next}")
        };
        let (_, page) = get(&format!("{url}/api/v1/activities?limit=7{cursor}")).await;
        for a in page["items"].as_array().unwrap() {
            seen.push(a["time"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => next = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Counts per 10 minutes: 5 sign-ins in each of the six buckets of the hour.
    let (status, h) = get(&format!("{url}/api/v1/activities/histogram?bucket=10m")).await;
    assert_eq!(status, 200);
    let counts: Vec<u64> = h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![5; 6]);
    assert_eq!(h["buckets"][0]["start"], "2026-11-20T09:00:00Z");

    // One activity: its row, the full normalised activity and the raw record.
    let id = "00000000-0000-4000-8000-000000000003";
    let (status, one) = get(&format!("{url}/api/v1/activities/{id}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["activity"]["operation"], "UserLoginFailed");
    assert_eq!(one["normalized"]["outcome"], "failure");
    assert_eq!(
        one["normalized"]["properties"]["ExtendedProperties.UserAgent"],
        "python-requests/2.31"
    );
    assert_eq!(one["raw"]["ClientIP"], "91.10.20.3");
    let (status, _) = get(&format!("{url}/api/v1/activities/no-such-id")).await;
    assert_eq!(status, 404);

    // Mistakes say what to do.
    let (status, e) = get(&format!("{url}/api/v1/activities?q=app%3Dexchnage")).await;
    assert_eq!(status, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown app `exchnage`"),
        "{e}"
    );
    let (status, e) = get(&format!("{url}/api/v1/activities?colour=red")).await;
    assert_eq!(status, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown parameter `colour`"),
        "{e}"
    );

    // The OpenAPI document describes the routes.
    let (status, doc) = get(&format!("{url}/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/activities",
        "/api/v1/activities/histogram",
        "/api/v1/activities/{id}",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn without_credentials_nothing_is_answered_even_on_loopback() {
    let (url, _dir) = serve(None).await;
    let anonymous = reqwest::Client::new();
    for path in [
        "/api/v1/activities",
        "/api/v1/activities/histogram",
        "/api/v1/openapi.json",
    ] {
        let r = anonymous
            .get(format!("{url}{path}"))
            .header("Host", "localhost:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let e: Value = r.json().await.unwrap();
        assert!(e["error"].as_str().unwrap().contains("sign in"), "{e}");
    }
    let r = anonymous
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "health is open to probes");
}

#[tokio::test]
async fn with_a_token_the_api_wants_it() {
    let (url, _dir) = serve(Some("s3cret-token")).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{url}/api/v1/activities"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body = r.text().await.unwrap();
    assert!(!body.contains("s3cret-token"));
    let r = client
        .get(format!("{url}/api/v1/activities"))
        .bearer_auth("wrong-token!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .get(format!("{url}/api/v1/activities"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The document too needs the token.
    let r = client
        .get(format!("{url}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .get(format!("{url}/api/v1/openapi.json"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
