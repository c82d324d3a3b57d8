//! Notification deliveries and the notifier's cursor through the `Store` trait, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use skylight_model::{Alert, AlertDraft, AlertStatus, DeliveryStatus, Severity};
use skylight_store::testkit::on_every_backend;
use skylight_store::{AlertChange, AlertQuery, AttemptOutcome, DeliveryQuery, NewDelivery, Store};

/// Raises the alert of `key`; the alert.
fn alert(store: &dyn Store, key: &str) -> Alert {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let draft = AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: "p".into(),
        kind: "activity".into(),
        title: key.into(),
        severity: Severity::High,
        category: "threat_detection".into(),
        signal_only: false,
        users: vec!["eve@contoso.com".into()],
        ips: Vec::new(),
        countries: Vec::new(),
        activity_ids: vec!["a1".into()],
        activity_count: 1,
        facts: Vec::new(),
        first: at,
        last: at,
    };
    // Progress stays where it is: only the alert is new.
    let seq = store.detection_state().unwrap().0;
    store.commit_detection(seq, seq, &[draft], &[]).unwrap();
    let all = store.alerts(&AlertQuery::default()).unwrap();
    all.into_iter().find(|a| a.draft.key == key).unwrap()
}

/// A delivery of the alert's current change to `channel`.
fn new(alert: &Alert, channel: &str) -> NewDelivery {
    NewDelivery {
        alert_id: alert.id,
        change: alert.updated,
        channel: channel.into(),
        payload: format!("{}@{channel}", alert.id).into_bytes(),
    }
}

/// Channel names.
fn chans(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The deliveries' ids, in order.
fn ids(v: &[skylight_model::Delivery]) -> Vec<i64> {
    v.iter().map(|d| d.id).collect()
}

#[test]
fn a_change_is_queued_once_per_channel_and_the_cursor_only_moves_forward() {
    on_every_backend(|store| {
        assert_eq!(store.notification_cursor().unwrap(), None);
        let a = alert(store, "a");
        let rows = [new(&a, "soc"), new(&a, "siem")];
        let before = Utc::now();
        assert_eq!(store.enqueue_deliveries(&rows, a.updated).unwrap(), 2);
        let after = Utc::now();
        assert_eq!(store.notification_cursor().unwrap(), Some(a.updated));
        // Read again (a restart, an overlapping look): nothing new, the cursor stays.
        let earlier = a.updated - Duration::minutes(5);
        assert_eq!(store.enqueue_deliveries(&rows, earlier).unwrap(), 0);
        assert_eq!(store.notification_cursor().unwrap(), Some(a.updated));
        let log = store.deliveries(&DeliveryQuery::default()).unwrap();
        assert_eq!(log.len(), 2);
        for d in &log {
            assert_eq!((d.alert_id, d.change), (a.id, a.updated));
            assert!(before <= d.created && d.created <= after);
            assert_eq!(d.next_attempt, Some(d.created), "due as soon as queued");
            assert_eq!(
                (d.last_attempt, d.delivered, d.last_error.as_deref()),
                (None, None, None)
            );
        }

        // The alert changes again: a new change, queued again.
        let change = AlertChange {
            status: Some(AlertStatus::InProgress),
            ..AlertChange::default()
        };
        let b = store.update_alert(a.id, &change).unwrap().unwrap();
        assert!(b.updated > a.updated);
        assert_eq!(
            store
                .enqueue_deliveries(&[new(&b, "soc")], b.updated)
                .unwrap(),
            1
        );
        assert_eq!(store.notification_cursor().unwrap(), Some(b.updated));
        let log = store.deliveries(&DeliveryQuery::default()).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].change, b.updated, "newest first");
        assert!(
            log.iter()
                .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
        );
        let soc = store
            .deliveries(&DeliveryQuery {
                channel: Some("soc".into()),
                ..DeliveryQuery::default()
            })
            .unwrap();
        assert_eq!(soc.len(), 2);
        // Nothing to queue still moves the cursor.
        let later = b.updated + Duration::seconds(1);
        assert_eq!(store.enqueue_deliveries(&[], later).unwrap(), 0);
        assert_eq!(store.notification_cursor().unwrap(), Some(later));
    });
}

#[test]
fn a_delivery_of_an_unknown_alert_is_refused_and_queues_nothing() {
    on_every_backend(|store| {
        let a = alert(store, "a");
        let mut ghost = new(&a, "siem");
        ghost.alert_id = a.id + 1000;
        let rows = [new(&a, "soc"), ghost];
        assert!(store.enqueue_deliveries(&rows, a.updated).is_err());
        // One transaction: neither the good row nor the cursor moved.
        assert!(
            store
                .deliveries(&DeliveryQuery::default())
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.notification_cursor().unwrap(), None);
    });
}

#[test]
fn taking_holds_deliveries_until_the_lease_ends() {
    on_every_backend(|store| {
        let a = alert(store, "a");
        store
            .enqueue_deliveries(&[new(&a, "soc"), new(&a, "siem")], a.updated)
            .unwrap();
        let now = Utc::now() + Duration::seconds(1);
        let lease = now + Duration::seconds(60);
        // Only the channels asked for.
        let taken = store
            .take_due_deliveries(&chans(&["soc"]), now, lease, 10)
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].delivery.channel, "soc");
        assert_eq!(taken[0].payload, format!("{}@soc", a.id).into_bytes());
        assert_eq!(taken[0].delivery.next_attempt, Some(lease));
        let stored = store.deliveries(&DeliveryQuery::default()).unwrap();
        let soc = stored.iter().find(|d| d.channel == "soc").unwrap();
        assert_eq!(
            soc, &taken[0].delivery,
            "the lease is stored as the next attempt"
        );
        // Held: not taken again before the lease ends…
        let again = store
            .take_due_deliveries(&chans(&["soc", "siem"]), now, lease, 10)
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].delivery.channel, "siem");
        // …and due again after it (the taker died).
        let later = lease + Duration::seconds(1);
        let retaken = store
            .take_due_deliveries(&chans(&["soc"]), later, later + Duration::seconds(60), 10)
            .unwrap();
        assert_eq!(retaken.len(), 1);
        assert_eq!(retaken[0].delivery.attempts, 0, "a lease is not an attempt");
        // Nothing when asked for no channel, or for a limit of 0.
        assert!(
            store
                .take_due_deliveries(&[], later, later, 10)
                .unwrap()
                .is_empty()
        );
        let far = later + Duration::days(1);
        assert!(
            store
                .take_due_deliveries(&chans(&["soc", "siem"]), far, far, 0)
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn the_longest_due_are_taken_first() {
    on_every_backend(|store| {
        let a = alert(store, "a");
        let chs = ["c1", "c2", "c3", "c4"];
        let rows: Vec<NewDelivery> = chs.iter().map(|c| new(&a, c)).collect();
        store.enqueue_deliveries(&rows, a.updated).unwrap();
        let log = store.deliveries(&DeliveryQuery::default()).unwrap();
        let id = |ch: &str| log.iter().find(|d| d.channel == ch).unwrap().id;
        let t = Utc::now() + Duration::seconds(1);
        // c4 retries first, then c2, then c1 and c3 at the same time (the older row first).
        for (ch, secs) in [("c1", 30), ("c2", 20), ("c3", 30), ("c4", 10)] {
            let retry = AttemptOutcome::Retry {
                error: "busy".into(),
                next_attempt: t + Duration::seconds(secs),
            };
            store
                .record_delivery_attempt(id(ch), t, &retry)
                .unwrap()
                .unwrap();
        }
        let all = chans(&chs);
        let now = t + Duration::minutes(1);
        let lease = now + Duration::minutes(1);
        let first = store.take_due_deliveries(&all, now, lease, 3).unwrap();
        let taken: Vec<i64> = first.iter().map(|d| d.delivery.id).collect();
        let (c1, c3) = (id("c1"), id("c3"));
        let (older, newer) = if c1 < c3 { (c1, c3) } else { (c3, c1) };
        assert_eq!(taken, [id("c4"), id("c2"), older]);
        for d in &first {
            assert_eq!(
                d.payload,
                format!("{}@{}", a.id, d.delivery.channel).into_bytes()
            );
            assert_eq!(d.delivery.attempts, 1);
        }
        let rest = store.take_due_deliveries(&all, now, lease, 3).unwrap();
        let rest: Vec<i64> = rest.iter().map(|d| d.delivery.id).collect();
        assert_eq!(rest, [newer]);
    });
}

#[test]
fn attempts_are_recorded_until_delivered_or_failed() {
    on_every_backend(|store| {
        let a = alert(store, "a");
        store
            .enqueue_deliveries(&[new(&a, "soc"), new(&a, "siem")], a.updated)
            .unwrap();
        let log = store.deliveries(&DeliveryQuery::default()).unwrap();
        let soc = log.iter().find(|d| d.channel == "soc").unwrap().id;
        let siem = log.iter().find(|d| d.channel == "siem").unwrap().id;
        let t0 = Utc::now();
        let next = t0 + Duration::seconds(30);
        let retry = AttemptOutcome::Retry {
            error: "HTTP 500".into(),
            next_attempt: next,
        };
        let d = store
            .record_delivery_attempt(soc, t0, &retry)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                d.status,
                d.attempts,
                d.last_error.as_deref(),
                d.next_attempt,
                d.last_attempt
            ),
            (
                DeliveryStatus::Pending,
                1,
                Some("HTTP 500"),
                Some(next),
                Some(t0)
            )
        );
        // Not due before its retry time.
        assert!(
            store
                .take_due_deliveries(&chans(&["soc"]), t0, t0, 10)
                .unwrap()
                .is_empty()
        );
        let t1 = next + Duration::seconds(1);
        let d = store
            .record_delivery_attempt(soc, t1, &AttemptOutcome::Delivered)
            .unwrap()
            .unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert_eq!(d.attempts, 2);
        assert_eq!(d.delivered, Some(t1));
        assert_eq!(d.last_attempt, Some(t1));
        assert_eq!(d.next_attempt, None);
        assert_eq!(
            d.last_error.as_deref(),
            Some("HTTP 500"),
            "kept for the record"
        );
        // A delivered row is final: a late outcome changes nothing.
        let late = AttemptOutcome::GaveUp { error: "x".into() };
        assert_eq!(store.record_delivery_attempt(soc, t1, &late).unwrap(), None);
        let soc_now = store
            .deliveries(&DeliveryQuery {
                channel: Some("soc".into()),
                ..DeliveryQuery::default()
            })
            .unwrap();
        assert_eq!(soc_now, [d]);

        let gave_up = AttemptOutcome::GaveUp {
            error: "connection refused".into(),
        };
        let d = store
            .record_delivery_attempt(siem, t1, &gave_up)
            .unwrap()
            .unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.attempts, 1);
        assert_eq!(d.last_error.as_deref(), Some("connection refused"));
        assert_eq!(d.next_attempt, None);
        assert_eq!(d.delivered, None);
        // Failed rows are never taken again, and are listed by status.
        let far = t1 + Duration::days(1);
        assert!(
            store
                .take_due_deliveries(&chans(&["soc", "siem"]), far, far, 10)
                .unwrap()
                .is_empty()
        );
        let failed = store
            .deliveries(&DeliveryQuery {
                status: Some(DeliveryStatus::Failed),
                ..DeliveryQuery::default()
            })
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, siem);
        assert_eq!(
            store.record_delivery_attempt(9999, t1, &late).unwrap(),
            None
        );
    });
}

#[test]
fn the_log_is_filtered_and_newest_first() {
    on_every_backend(|store| {
        let a = alert(store, "a");
        let b = alert(store, "b");
        store
            .enqueue_deliveries(&[new(&a, "soc"), new(&a, "siem")], a.updated)
            .unwrap();
        store
            .enqueue_deliveries(&[new(&b, "soc"), new(&b, "siem")], b.updated)
            .unwrap();
        let log = store.deliveries(&DeliveryQuery::default()).unwrap();
        let mut sorted = ids(&log);
        sorted.sort_unstable_by(|x, y| y.cmp(x));
        assert_eq!(ids(&log), sorted, "newest first");
        assert_eq!(log.len(), 4);
        let id = |alert: &Alert, ch: &str| {
            log.iter()
                .find(|d| d.alert_id == alert.id && d.channel == ch)
                .unwrap()
                .id
        };
        store
            .record_delivery_attempt(id(&b, "soc"), Utc::now(), &AttemptOutcome::Delivered)
            .unwrap()
            .unwrap();
        let q = |f: &dyn Fn(&mut DeliveryQuery)| {
            let mut q = DeliveryQuery::default();
            f(&mut q);
            ids(&store.deliveries(&q).unwrap())
        };
        let desc = |mut v: Vec<i64>| {
            v.sort_unstable_by(|x, y| y.cmp(x));
            v
        };
        assert_eq!(
            q(&|q| q.alert_id = Some(a.id)),
            desc(vec![id(&a, "soc"), id(&a, "siem")])
        );
        assert_eq!(
            q(&|q| q.channel = Some("soc".into())),
            desc(vec![id(&a, "soc"), id(&b, "soc")])
        );
        assert_eq!(
            q(&|q| q.status = Some(DeliveryStatus::Delivered)),
            [id(&b, "soc")]
        );
        assert_eq!(
            q(&|q| q.status = Some(DeliveryStatus::Pending)),
            desc(vec![id(&a, "soc"), id(&a, "siem"), id(&b, "siem")])
        );
        assert_eq!(
            q(&|q| {
                q.status = Some(DeliveryStatus::Pending);
                q.channel = Some("siem".into());
                q.alert_id = Some(b.id);
            }),
            [id(&b, "siem")]
        );
        assert_eq!(q(&|q| q.limit = 2), sorted[..2]);
        assert_eq!(
            q(&|q| {
                q.alert_id = Some(a.id);
                q.limit = 1;
            }),
            desc(vec![id(&a, "soc"), id(&a, "siem")])[..1]
        );
        assert!(q(&|q| q.channel = Some("SOC".into())).is_empty());
    });
}

#[test]
fn concurrent_takers_never_take_the_same_delivery() {
    on_every_backend(|store| {
        let alerts: Vec<Alert> = (0..12).map(|i| alert(store, &format!("a{i}"))).collect();
        let rows: Vec<NewDelivery> = alerts
            .iter()
            .flat_map(|a| ["soc", "siem", "mail", "hook", "log"].map(|c| new(a, c)))
            .collect();
        assert_eq!(store.enqueue_deliveries(&rows, Utc::now()).unwrap(), 60);
        let channels = chans(&["soc", "siem", "mail", "hook", "log"]);
        let now = Utc::now() + Duration::seconds(1);
        let lease = now + Duration::hours(1);
        let taken: Vec<i64> = std::thread::scope(|s| {
            let takers: Vec<_> = (0..6)
                .map(|_| {
                    let channels = &channels;
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let got = store.take_due_deliveries(channels, now, lease, 3).unwrap();
                            if got.is_empty() {
                                return mine;
                            }
                            mine.extend(got.into_iter().map(|d| d.delivery.id));
                        }
                    })
                })
                .collect();
            takers.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut times: BTreeMap<i64, u32> = BTreeMap::new();
        for id in &taken {
            *times.entry(*id).or_default() += 1;
        }
        let queued: Vec<i64> = ids(&store.deliveries(&DeliveryQuery::default()).unwrap());
        assert_eq!(queued.len(), 60);
        assert!(times.values().all(|&n| n == 1), "taken twice: {times:?}");
        assert_eq!(times.keys().copied().collect::<Vec<_>>(), {
            let mut q = queued.clone();
            q.sort_unstable();
            q
        });
        // Every one is now held until the lease ends.
        assert!(
            store
                .take_due_deliveries(&channels, now, lease, 100)
                .unwrap()
                .is_empty()
        );
    });
}
