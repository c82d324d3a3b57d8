//! Webhooks against a real HTTP receiver on 127.0.0.1: retries with backoff until delivered,
//! giving up visibly, signatures, filters, and changes sent again.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use common::{Receiver, log, options, raise, until, webhook};
use skylight_model::{AlertStatus, DeliveryStatus, Severity};
use skylight_notify::Notifier;
use skylight_store::{AlertChange, SqliteStore, Store};

const SECRET: &str = "test-webhook-secret";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_receiver_gets_the_signed_alert_on_the_third_attempt() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let rx = Receiver::start(&[500, 500], 200).await;
    let alert = raise(store.as_ref(), "k1", Severity::High, false);
    let notifier = Notifier::new(
        store.clone(),
        vec![webhook("soc", &rx.url, Some(SECRET))],
        options(8),
    )
    .unwrap()
    .spawn();

    let d = until("the delivery", || {
        log(store.as_ref(), "soc")
            .into_iter()
            .find(|d| d.status != DeliveryStatus::Pending)
    })
    .await;
    let totals = notifier.finish().await.unwrap();
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert_eq!(d.attempts, 3);
    assert_eq!(d.alert_id, alert.id);
    assert_eq!(d.change, alert.updated);
    assert!(d.delivered.is_some() && d.next_attempt.is_none());
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("HTTP 500") && e.contains("maintenance")),
        "{:?}",
        d.last_error
    );
    assert_eq!(
        (
            totals.queued,
            totals.delivered,
            totals.retrying,
            totals.failed
        ),
        (1, 1, 2, 0)
    );

    let got = rx.got();
    assert_eq!(got.len(), 3, "two failures, one success, nothing more");
    // Backoff: 50 ms, then 100 ms.
    assert!(got[1].at - got[0].at >= Duration::from_millis(50));
    assert!(got[2].at - got[1].at >= Duration::from_millis(100));
    let expected = serde_json::to_value(store.alert(alert.id).unwrap().unwrap()).unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
    for r in &got {
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["x-skylight-delivery"], d.id.to_string().as_str());
        // The body is the alert as the Alert type serialises.
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, expected);
        assert_eq!(body["id"], alert.id);
        assert_eq!(body["severity"], "high");
        // The signature verifies over the exact body, and not over another one.
        let sig = r.headers["x-skylight-signature"].to_str().unwrap();
        let hexsig = sig.strip_prefix("sha256=").unwrap();
        assert_eq!(hexsig.len(), 64);
        hmac::verify(&key, &r.body, &hex(hexsig)).unwrap();
        assert!(hmac::verify(&key, b"{}", &hex(hexsig)).is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_ends_failed_with_its_error() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let rx = Receiver::start(&[], 503).await;
    raise(store.as_ref(), "k1", Severity::Medium, false);
    // No secret: no signature header.
    let notifier = Notifier::new(
        store.clone(),
        vec![webhook("soc", &rx.url, None)],
        options(4),
    )
    .unwrap()
    .spawn();
    let d = until("the delivery to fail", || {
        log(store.as_ref(), "soc")
            .into_iter()
            .find(|d| d.status != DeliveryStatus::Pending)
    })
    .await;
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.attempts, 4);
    assert_eq!(
        d.last_error.as_deref(),
        Some("HTTP 503 Service Unavailable: maintenance")
    );
    assert!(d.next_attempt.is_none() && d.delivered.is_none());
    // Given up: no further attempts.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let totals = notifier.finish().await.unwrap();
    let got = rx.got();
    assert_eq!(got.len(), 4);
    assert!(
        got.iter()
            .all(|r| !r.headers.contains_key("x-skylight-signature"))
    );
    assert_eq!(
        (totals.delivered, totals.retrying, totals.failed),
        (0, 3, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_receiver_is_recorded_without_its_url() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook?token=s3cr3t-path-token");
    raise(store.as_ref(), "k1", Severity::High, false);
    let notifier = Notifier::new(store.clone(), vec![webhook("soc", &url, None)], options(2))
        .unwrap()
        .spawn();
    let d = until("the delivery to fail", || {
        log(store.as_ref(), "soc")
            .into_iter()
            .find(|d| d.status == DeliveryStatus::Failed)
    })
    .await;
    notifier.finish().await.unwrap();
    let e = d.last_error.unwrap();
    assert!(e.starts_with("cannot POST"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_wanted_alerts_are_sent_and_a_later_change_is_sent_again() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let rx = Receiver::start(&[], 204).await;
    let low = raise(store.as_ref(), "low", Severity::Low, false);
    let signal = raise(store.as_ref(), "signal", Severity::High, true);
    let high = raise(store.as_ref(), "high", Severity::High, false);
    let mut soc = webhook("soc", &rx.url, None);
    soc.min_severity = Some(Severity::Medium);
    let mut all = webhook("all", &rx.url, None);
    all.include_signals = true;
    let notifier = Notifier::new(store.clone(), vec![soc, all], options(3))
        .unwrap()
        .spawn();
    until("first deliveries", || {
        let s = log(store.as_ref(), "soc");
        let a = log(store.as_ref(), "all");
        (s.len() == 1
            && a.len() == 3
            && s.iter()
                .chain(&a)
                .all(|d| d.status == DeliveryStatus::Delivered))
        .then_some(())
    })
    .await;
    let soc_log = log(store.as_ref(), "soc");
    assert_eq!(
        soc_log[0].alert_id, high.id,
        "low and signals are not for soc"
    );
    let mut all_ids: Vec<i64> = log(store.as_ref(), "all")
        .iter()
        .map(|d| d.alert_id)
        .collect();
    all_ids.sort();
    assert_eq!(all_ids, [low.id, signal.id, high.id]);

    // An analyst changes the alert: a new change, delivered again.
    let change = AlertChange {
        status: Some(AlertStatus::InProgress),
        comment: Some(("soc".into(), "looking".into())),
        ..AlertChange::default()
    };
    store.update_alert(high.id, &change).unwrap().unwrap();
    let second = until("the change's delivery", || {
        let s = log(store.as_ref(), "soc");
        (s.len() == 2 && s[1].status == DeliveryStatus::Delivered).then(|| s[1].clone())
    })
    .await;
    assert!(second.change > soc_log[0].change);
    notifier.finish().await.unwrap();
    let bodies: Vec<serde_json::Value> = rx
        .got()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .filter(|b: &serde_json::Value| b["id"] == high.id)
        .collect();
    assert_eq!(bodies.len(), 4, "each change once per channel");
    let last = bodies
        .iter()
        .find(|b| b["status"] == "in_progress")
        .unwrap();
    assert_eq!(last["comments"][0]["text"], "looking");
    // Nothing is queued twice: the log holds exactly these rows.
    assert_eq!(log(store.as_ref(), "all").len(), 4);
}
