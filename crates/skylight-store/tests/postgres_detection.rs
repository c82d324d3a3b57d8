//! What only PostgreSQL has to prove about detection and notifications: several Skylight
//! processes (here, several stores) sharing one database, and transactions that roll back whole.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use skylight_model::{AlertDraft, AlertStatus, Severity};
use skylight_store::testkit::TestDatabase;
use skylight_store::{AlertChange, AlertQuery, DeliveryQuery, NewDelivery, Store};

/// A medium alert of `key`.
fn draft(key: &str) -> AlertDraft {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: "p".into(),
        kind: "activity".into(),
        title: key.into(),
        severity: Severity::Medium,
        category: "threat_detection".into(),
        signal_only: false,
        users: vec!["eve@contoso.com".into()],
        ips: Vec::new(),
        countries: Vec::new(),
        activity_ids: Vec::new(),
        activity_count: 1,
        facts: Vec::new(),
        first: at,
        last: at,
    }
}

#[test]
fn a_failed_detection_commit_leaves_alerts_state_and_progress_as_they_were() {
    let db = TestDatabase::create();
    let store = db.open();
    store
        .commit_detection(0, 5, &[draft("a")], &[("k".into(), Some(b"1".to_vec()))])
        .unwrap();
    // PostgreSQL text cannot hold NUL: the state write fails after the alerts were written.
    let bad = [("k\0".to_string(), Some(b"2".to_vec()))];
    assert!(store.commit_detection(5, 9, &[draft("b")], &bad).is_err());
    let keys: Vec<String> = store
        .alerts(&AlertQuery::default())
        .unwrap()
        .into_iter()
        .map(|a| a.draft.key)
        .collect();
    assert_eq!(keys, ["a"]);
    assert_eq!(
        store.detection_state().unwrap(),
        (5, vec![("k".to_string(), b"1".to_vec())])
    );
}

#[test]
fn takers_in_several_processes_share_the_deliveries_out() {
    let db = TestDatabase::create();
    let stores: Vec<_> = (0..4).map(|_| db.open()).collect();
    let first = &stores[0];
    first
        .raise_new_alerts(&(0..10).map(|i| draft(&format!("a{i}"))).collect::<Vec<_>>())
        .unwrap();
    let rows: Vec<NewDelivery> = first
        .alerts(&AlertQuery::default())
        .unwrap()
        .iter()
        .flat_map(|a| {
            (0..4).map(|c| NewDelivery {
                alert_id: a.id,
                change: a.updated,
                channel: format!("c{c}"),
                payload: vec![u8::try_from(c).unwrap()],
            })
        })
        .collect();
    assert_eq!(first.enqueue_deliveries(&rows, Utc::now()).unwrap(), 40);
    let channels: Vec<String> = (0..4).map(|c| format!("c{c}")).collect();
    let now = Utc::now() + Duration::seconds(1);
    let lease = now + Duration::hours(1);
    let taken: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .map(|store| {
                let channels = &channels;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = store.take_due_deliveries(channels, now, lease, 2).unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|d| d.delivery.id));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: BTreeSet<i64> = taken.iter().copied().collect();
    assert_eq!(taken.len(), 40, "each taken once");
    let queued: BTreeSet<i64> = first
        .deliveries(&DeliveryQuery::default())
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(unique, queued);
}

#[test]
fn changes_made_together_by_several_processes_are_stamped_apart() {
    let db = TestDatabase::create();
    let stores: Vec<_> = (0..4).map(|_| db.open()).collect();
    stores[0]
        .raise_new_alerts(&(0..8).map(|i| draft(&format!("a{i}"))).collect::<Vec<_>>())
        .unwrap();
    let ids: Vec<i64> = stores[0]
        .alerts(&AlertQuery::default())
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let stamps: Vec<chrono::DateTime<Utc>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let store = &stores[i % stores.len()];
                s.spawn(move || {
                    let change = AlertChange {
                        status: Some(AlertStatus::InProgress),
                        ..AlertChange::default()
                    };
                    store.update_alert(id, &change).unwrap().unwrap().updated
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // The notifier's feed relies on it: no two changes share a stamp, and the feed after any
    // stamp holds exactly the changes stamped later.
    let distinct: BTreeSet<_> = stamps.iter().copied().collect();
    assert_eq!(distinct.len(), stamps.len());
    for t in &stamps {
        let after = stores[1]
            .alerts(&AlertQuery {
                updated_after: Some(*t),
                ..AlertQuery::default()
            })
            .unwrap();
        assert_eq!(after.len(), stamps.iter().filter(|s| *s > t).count());
    }
}
