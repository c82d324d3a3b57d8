//! A live tenant keeps publishing as its clock moves, and delivers webhook notifications.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{CONTENT_TYPES, boot, small};
use serde_json::{Value, json};
use skylight_sim::SimConfig;

fn total(truth: &Value) -> u64 {
    CONTENT_TYPES
        .iter()
        .map(|ct| truth["content_types"][ct]["records"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_tenant_stays_fixed_and_a_live_one_grows_with_its_clock() {
    let fixed = boot(small(200, 1)).await;
    let before = total(&fixed.truth().await);
    fixed.advance(6 * 3600).await;
    assert_eq!(
        total(&fixed.truth().await),
        before,
        "without --live the truth stays fixed"
    );

    let live = boot(SimConfig {
        live: true,
        blob_minutes: 10,
        ..small(200, 1)
    })
    .await;
    let before = total(&live.truth().await);
    live.advance(6 * 3600).await;
    let after = total(&live.truth().await);
    assert!(
        after > before,
        "six more hours of activity were published: {before} -> {after}"
    );
    // And the new content is listed.
    let token = live.token().await;
    live.start_all(&token).await;
    let now = live.now().await;
    let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let listed = live
        .list_window(
            &token,
            "Audit.AzureActiveDirectory",
            &f(common::fixed_now() + chrono::Duration::minutes(1)),
            &f(now),
        )
        .await;
    assert!(
        !listed.is_empty(),
        "content published after start-up is listed"
    );
    let r = live
        .get(
            &format!(
                "{}?{}",
                listed[0]["contentUri"].as_str().unwrap(),
                live.pubid()
            ),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_are_validated_then_notified_and_listed_in_the_history() {
    // A webhook receiver that records what it is sent.
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let s2 = seen.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::Json<Value>| {
            let s = s2.clone();
            async move {
                s.lock().unwrap().push((headers, body.0));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sim = boot(SimConfig {
        live: true,
        blob_minutes: 5,
        allow_http_webhooks: true,
        now: None,
        ..small(300, 1)
    })
    .await;
    let token = sim.token().await;
    let start = format!(
        "{}/subscriptions/start?contentType=Audit.SharePoint&{}",
        sim.root(),
        sim.pubid()
    );
    let r = sim
        .post(
            &start,
            Some(&token),
            Some(json!({"webhook": {"address": hook, "authId": "s3cret-auth"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["webhook"]["status"], "enabled");
    {
        let got = seen.lock().unwrap();
        let (headers, body) = &got[0];
        let code = headers
            .get("Webhook-ValidationCode")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(body["validationCode"], code);
        assert_eq!(headers.get("Webhook-AuthID").unwrap(), "s3cret-auth");
    }
    // An hour passes: new content is published and notified within the next delivery round.
    sim.advance(3600).await;
    let mut notified = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        notified = seen
            .lock()
            .unwrap()
            .iter()
            .skip(1)
            .flat_map(|(_, b)| b.as_array().cloned().unwrap_or_default())
            .collect();
        if !notified.is_empty() {
            break;
        }
    }
    assert!(!notified.is_empty(), "a notification arrived");
    for n in &notified {
        assert_eq!(n["tenantId"], sim.tenant["tenant_id"]);
        assert_eq!(n["clientId"], sim.tenant["client_id"]);
        assert!(
            n["contentUri"]
                .as_str()
                .unwrap()
                .contains("/activity/feed/audit/")
        );
    }
    let token = sim.token().await; // the first one expired with the hour that passed
    let history = sim
        .get(
            &format!(
                "{}/subscriptions/notifications?contentType=Audit.SharePoint&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
        )
        .await;
    assert_eq!(history.status, 200);
    assert!(
        history
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["notificationStatus"] == "200")
    );
    // Each notified blob can be fetched.
    let uri = format!(
        "{}?{}",
        notified[0]["contentUri"].as_str().unwrap(),
        sim.pubid()
    );
    assert_eq!(sim.get(&uri, Some(&token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn content_can_appear_with_a_content_created_already_in_the_past() {
    let sim = boot(SimConfig {
        live: true,
        blob_minutes: 5,
        speed: 0.0,
        ..small(300, 1)
    })
    .await;
    let token = sim.token().await;
    sim.start_all(&token).await;
    let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let (from, to) = (
        common::fixed_now() - chrono::Duration::hours(20),
        common::fixed_now(),
    );
    let mut late = 0;
    let mut before = Vec::new();
    for ct in CONTENT_TYPES {
        before.push(sim.list_window(&token, ct, &f(from), &f(to)).await.len());
    }
    sim.advance(4 * 3600).await;
    let token = sim.token().await;
    for (i, ct) in CONTENT_TYPES.iter().enumerate() {
        let after = sim.list_window(&token, ct, &f(from), &f(to)).await.len();
        assert!(after >= before[i], "{ct}: nothing listed disappears");
        late += after - before[i];
    }
    assert!(
        late > 0,
        "blobs became available after the window they are dated in had been listed"
    );
}
