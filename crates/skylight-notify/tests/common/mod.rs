//! Shared helpers of the notifier's tests: alerts in a real SQLite store, channels, receivers.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use skylight_model::{Alert, AlertDraft, Delivery, Severity};
use skylight_notify::{
    Channel, Framing, NotifierOptions, Protocol, RetryPolicy, Secret, Syslog, Target, Webhook,
};
use skylight_store::{AlertQuery, DeliveryQuery, Store};

/// Commits an alert as detection would, and returns it as stored.
pub fn raise(store: &dyn Store, key: &str, severity: Severity, signal_only: bool) -> Alert {
    let first = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let draft = AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: "mass_download".into(),
        kind: "anomaly".into(),
        title: format!("Mass download: {key}|eve"),
        severity,
        category: "threat_detection".into(),
        signal_only,
        users: vec!["eve@contoso.com".into()],
        ips: vec!["203.0.113.7".into()],
        countries: vec!["FR".into()],
        activity_ids: vec![format!("{key}-1"), format!("{key}-2")],
        activity_count: 2,
        facts: vec!["120 files in 10 minutes = 12x usual".into()],
        first,
        last: first + chrono::Duration::minutes(10),
    };
    // Progress stays where it is: only the alert is new.
    let seq = store.detection_state().unwrap().0;
    store.commit_detection(seq, seq, &[draft], &[]).unwrap();
    let all = store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap();
    all.into_iter().find(|a| a.draft.key == key).unwrap()
}

/// Quick retries, for tests.
pub fn options(max_attempts: u32) -> NotifierOptions {
    NotifierOptions {
        retry: RetryPolicy {
            max_attempts,
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        poll_interval: Duration::from_millis(20),
        backfill: Duration::from_secs(3600),
        overlap: Duration::from_secs(60),
        batch: 20,
        portal_url: "https://skylight.example".into(),
    }
}

/// A webhook channel.
pub fn webhook(name: &str, url: &str, secret: Option<&str>) -> Channel {
    Channel {
        name: name.into(),
        min_severity: None,
        include_signals: false,
        target: Target::Webhook(Webhook {
            url: url.parse().unwrap(),
            secret: secret.map(Secret::new),
            timeout: Duration::from_secs(5),
        }),
    }
}

/// A syslog channel.
pub fn syslog(name: &str, address: &str, protocol: Protocol, framing: Framing) -> Channel {
    Channel {
        name: name.into(),
        min_severity: None,
        include_signals: false,
        target: Target::Syslog(Syslog {
            address: address.into(),
            protocol,
            framing,
            facility: skylight_notify::cef::Facility::Local0,
            hostname: "sky-test".into(),
            timeout: Duration::from_secs(5),
        }),
    }
}

/// The delivery log of a channel, oldest first.
pub fn log(store: &dyn Store, channel: &str) -> Vec<Delivery> {
    let mut v = store
        .deliveries(&DeliveryQuery {
            channel: Some(channel.into()),
            ..DeliveryQuery::default()
        })
        .unwrap();
    v.reverse();
    v
}

/// Waits until `f` returns something (or fails the test after 20 s).
pub async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A real HTTP receiver on 127.0.0.1 answering with the scripted statuses, then `then`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
    then: u16,
}

async fn receive(
    State(s): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    s.got.lock().unwrap().push(Received {
        at: Instant::now(),
        headers,
        body,
    });
    let code = {
        let mut script = s.script.lock().unwrap();
        if script.is_empty() {
            s.then
        } else {
            script.remove(0)
        }
    };
    (StatusCode::from_u16(code).unwrap(), "maintenance\n")
}

impl Receiver {
    /// Starts a receiver on a free port, or on `addr`.
    pub async fn start(script: &[u16], then: u16) -> Receiver {
        Self::start_on("127.0.0.1:0", script, then).await
    }

    /// Starts a receiver on `addr`.
    pub async fn start_on(addr: &str, script: &[u16], then: u16) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            got: got.clone(),
            script: Arc::new(Mutex::new(script.to_vec())),
            then,
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got }
    }

    /// What it got so far.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
