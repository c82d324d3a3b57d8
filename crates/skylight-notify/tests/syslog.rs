//! Syslog against real sockets on 127.0.0.1: a UDP datagram and TCP frames (octet counting,
//! newline) carrying the alert's CEF line, and a TCP receiver that hangs up.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{log, options, raise, syslog, until};
use skylight_model::{
    ActivityColumns, ActorKind, App, AuditRecord, BlobRef, Category, ContentType, DeliveryStatus,
    Outcome, Severity,
};
use skylight_notify::{Framing, Notifier, Protocol};
use skylight_store::{SqliteStore, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

/// Stores the alert's first activity as an Exchange activity, so the line names its app.
fn store_activity(store: &dyn Store, id: &str, time: &str) {
    let raw = format!(
        r#"{{"Id":"{id}","CreationTime":"{time}","RecordType":1,"Operation":"FileDownloaded","UserId":"eve@contoso.com"}}"#
    );
    let mut record = AuditRecord::from_json(&raw).unwrap();
    record.columns.activity = Some(Box::new(ActivityColumns {
        app: App::Exchange,
        category: Category::FileDownload,
        actor_kind: ActorKind::User,
        outcome: Outcome::Success,
        admin: false,
        external_user: false,
        impersonated: false,
        user_agent: None,
        enrichment: None,
    }));
    let blob = BlobRef {
        content_id: format!("blob-{id}"),
        created: chrono::Utc::now(),
    };
    store
        .commit_blob("contoso", ContentType::Exchange, &blob, &[record])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_receiver_gets_the_cef_line() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    store_activity(store.as_ref(), "k1-1", "2026-11-20T09:00:00");
    let alert = raise(store.as_ref(), "k1", Severity::High, false);
    let notifier = Notifier::new(
        store.clone(),
        vec![syslog("siem", &addr, Protocol::Udp, Framing::OctetCounting)],
        options(3),
    )
    .unwrap()
    .spawn();
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(20), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let line = String::from_utf8(buf[..n].to_vec()).unwrap();
    // local0 (16) * 8 + error (3, high) = 131; the change's time; one message per datagram.
    let ts = alert
        .updated
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert!(
        line.starts_with(&format!(
            "<131>1 {ts} sky-test skylight - alert - CEF:0|Skylight|Skylight|"
        )),
        "{line}"
    );
    assert!(
        line.contains("|ALERT_SUSPICIOUS_ACTIVITY|Mass download: k1\\|eve|8|externalId="),
        "{line}"
    );
    for field in [
        format!("externalId={} ", alert.id),
        "msg=120 files in 10 minutes \\= 12x usual ".into(),
        "suser=eve@contoso.com ".into(),
        "destinationServiceName=Exchange Online ".into(),
        format!(
            "cs1Label=portalURL cs1=https://skylight.example/api/v1/alerts/{} ",
            alert.id
        ),
        "cs3Label=relatedAudits cs3=k1-1,k1-2 ".into(),
        "cs4Label=policyIDs cs4=mass_download ".into(),
        "src=203.0.113.7 ".into(),
    ] {
        assert!(line.contains(&field), "{field}: {line}");
    }
    assert!(!line.contains('\n'));
    let d = until("the delivery", || {
        log(store.as_ref(), "siem")
            .into_iter()
            .find(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    assert_eq!(d.attempts, 1);
    notifier.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_receiver_gets_octet_counted_frames() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let a = raise(store.as_ref(), "k1", Severity::Medium, false);
    let b = raise(store.as_ref(), "k2", Severity::Low, false);
    let notifier = Notifier::new(
        store.clone(),
        vec![syslog("siem", &addr, Protocol::Tcp, Framing::OctetCounting)],
        options(3),
    )
    .unwrap()
    .spawn();
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .unwrap()
        .unwrap();
    // Two frames on one connection: `<length> <message>` each.
    let mut messages = Vec::new();
    let mut pending = Vec::new();
    while messages.len() < 2 {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed early");
        pending.extend_from_slice(&chunk[..n]);
        while let Some(sp) = pending.iter().position(|&c| c == b' ') {
            let len: usize = std::str::from_utf8(&pending[..sp])
                .unwrap()
                .parse()
                .unwrap();
            if pending.len() < sp + 1 + len {
                break;
            }
            messages.push(String::from_utf8(pending[sp + 1..sp + 1 + len].to_vec()).unwrap());
            pending.drain(..sp + 1 + len);
        }
    }
    assert!(pending.is_empty());
    // medium → warning (4), low → notice (5), in local0.
    assert!(messages[0].starts_with("<132>1 "), "{}", messages[0]);
    assert!(messages[0].contains(&format!("|5|externalId={} ", a.id)));
    assert!(messages[1].starts_with("<133>1 "), "{}", messages[1]);
    assert!(messages[1].contains(&format!("|3|externalId={} ", b.id)));
    // No activity in the store: the app is Microsoft 365.
    assert!(messages[0].contains("destinationServiceName=Microsoft 365 "));
    until("both delivered", || {
        (log(store.as_ref(), "siem")
            .iter()
            .filter(|d| d.status == DeliveryStatus::Delivered)
            .count()
            == 2)
            .then_some(())
    })
    .await;
    notifier.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newline_framing_and_a_receiver_that_hangs_up() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let a = raise(store.as_ref(), "k1", Severity::High, false);
    let notifier = Notifier::new(
        store.clone(),
        vec![syslog("siem", &addr, Protocol::Tcp, Framing::Newline)],
        options(3),
    )
    .unwrap()
    .spawn();
    let read_line = |conn: tokio::net::TcpStream| async move {
        let mut lines = BufReader::new(conn).lines();
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    let (conn, _) = listener.accept().await.unwrap();
    let first = read_line(conn).await; // and the connection is dropped: the receiver hung up
    assert!(first.contains(&format!("externalId={} ", a.id)), "{first}");
    until("the first delivery", || {
        (log(store.as_ref(), "siem").first()?.status == DeliveryStatus::Delivered).then_some(())
    })
    .await;
    // The next alert goes over a new connection, not into the closed one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = raise(store.as_ref(), "k2", Severity::High, false);
    let (conn, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let second = read_line(conn).await;
    assert!(
        second.contains(&format!("externalId={} ", b.id)),
        "{second}"
    );
    let log = until("the second delivery", || {
        let l = log(store.as_ref(), "siem");
        (l.len() == 2 && l[1].status == DeliveryStatus::Delivered).then_some(l)
    })
    .await;
    assert_eq!(
        log[1].attempts, 1,
        "sent on the first attempt, over a new connection"
    );
    notifier.finish().await.unwrap();
}
