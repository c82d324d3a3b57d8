//! A restart: deliveries queued or retrying in the store are picked up by a new notifier over
//! the reopened store, nothing is queued twice, and changes made while it was down are sent.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{Receiver, log, options, raise, until, webhook};
use skylight_model::{DeliveryStatus, Severity};
use skylight_notify::Notifier;
use skylight_store::{SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let down = Receiver::start(&[], 502).await;
    let (a, b) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let a = raise(store.as_ref(), "a", Severity::High, false);
        // `a` fails once and waits for its retry…
        let first = Notifier::new(
            store.clone(),
            vec![webhook("soc", &down.url, None)],
            options(8),
        )
        .unwrap()
        .spawn();
        until("a failed attempt", || {
            log(store.as_ref(), "soc")
                .first()
                .and_then(|d| (d.attempts >= 1).then_some(()))
        })
        .await;
        first.finish().await.unwrap();
        // …and `b` is queued by a notifier that stops before delivering anything.
        let b = raise(store.as_ref(), "b", Severity::High, false);
        let second = Notifier::new(
            store.clone(),
            vec![webhook("soc", &down.url, None)],
            options(8),
        )
        .unwrap();
        assert_eq!(second.queue_changes().await.unwrap(), 1);
        drop(second);
        let rows = log(store.as_ref(), "soc");
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|d| d.status == DeliveryStatus::Pending));
        assert_eq!(rows[1].attempts, 0);
        (a, b)
    };
    let attempts_while_down = down.got().len();
    assert!(attempts_while_down >= 1);

    // The process is gone; the store is reopened from disk, the receiver is back.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    // While nobody was watching, another alert was raised.
    let c = raise(store.as_ref(), "c", Severity::High, false);
    let up = Receiver::start(&[], 200).await;
    let notifier = Notifier::new(
        store.clone(),
        vec![webhook("soc", &up.url, None)],
        options(8),
    )
    .unwrap()
    .spawn();
    let rows = until("everything delivered", || {
        let rows = log(store.as_ref(), "soc");
        (rows.len() == 3 && rows.iter().all(|d| d.status == DeliveryStatus::Delivered))
            .then_some(rows)
    })
    .await;
    let totals = notifier.finish().await.unwrap();
    assert_eq!(
        totals.queued, 1,
        "only `c` was new: the cursor and the log remember the rest"
    );
    let ids: Vec<i64> = rows.iter().map(|d| d.alert_id).collect();
    assert_eq!(ids, [a.id, b.id, c.id]);
    assert!(rows[0].attempts >= 2, "a's earlier failure counts");
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("HTTP 502 Bad Gateway: maintenance")
    );
    assert_eq!((rows[1].attempts, rows[2].attempts), (1, 1));
    // Each alert reached the receiver once.
    let mut got: Vec<i64> = up
        .got()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    got.sort();
    assert_eq!(got, [a.id, b.id, c.id]);
    assert_eq!(
        down.got().len(),
        attempts_while_down,
        "the old receiver got nothing more"
    );
}
