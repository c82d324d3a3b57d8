//! Detection state, alerts and policies through the `Store` trait, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::{Alert, AlertDraft, AlertStatus, Resolution, Severity};
use skylight_store::testkit::on_every_backend;
use skylight_store::{AlertChange, AlertQuery, Store};

/// 2026-11-20 09:`minute`:00 UTC (whole seconds: alerts keep their times to the millisecond).
fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, minute, 0).unwrap()
}

/// A medium alert of `key` on contoso, at `minute`.
fn draft(key: &str, minute: u32) -> AlertDraft {
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
        activity_ids: vec![format!("{key}-1")],
        activity_count: 1,
        facts: Vec::new(),
        first: at(minute),
        last: at(minute),
    }
}

/// The alerts' keys, in order.
fn keys(v: &[Alert]) -> Vec<String> {
    v.iter().map(|a| a.draft.key.clone()).collect()
}

/// The alerts' titles, in order.
fn titles(v: &[Alert]) -> Vec<String> {
    v.iter().map(|a| a.draft.title.clone()).collect()
}

/// Every alert, signals too.
fn all(store: &dyn Store) -> Vec<Alert> {
    store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap()
}

/// The alert of `key`.
fn by_key(store: &dyn Store, key: &str) -> Alert {
    all(store).into_iter().find(|a| a.draft.key == key).unwrap()
}

#[test]
fn updated_after_lists_later_changes_oldest_first() {
    on_every_backend(|store| {
        // `b` happened later but is committed first: the feed follows changes, not activity.
        store
            .commit_detection(0, 1, &[draft("b", 30)], &[])
            .unwrap();
        store
            .commit_detection(1, 2, &[draft("a", 10)], &[])
            .unwrap();
        let all = store.alerts(&AlertQuery::default()).unwrap();
        assert_eq!(titles(&all), ["b", "a"], "newest activity first");
        let b = all[0].clone();

        let since_b = AlertQuery {
            updated_after: Some(b.updated),
            ..AlertQuery::default()
        };
        assert_eq!(titles(&store.alerts(&since_b).unwrap()), ["a"]);

        let change = AlertChange {
            status: Some(AlertStatus::InProgress),
            ..AlertChange::default()
        };
        store.update_alert(b.id, &change).unwrap().unwrap();
        let changed = store.alerts(&since_b).unwrap();
        assert_eq!(titles(&changed), ["a", "b"], "oldest change first");
        assert_eq!(changed[1].status, AlertStatus::InProgress);

        let since_last = AlertQuery {
            updated_after: Some(changed[1].updated),
            ..AlertQuery::default()
        };
        assert!(store.alerts(&since_last).unwrap().is_empty());
    });
}

#[test]
fn detection_rewrites_its_columns_and_never_the_triage() {
    on_every_backend(|store| {
        store
            .commit_detection(
                0,
                10,
                &[draft("k", 5)],
                &[("u|x".into(), Some(b"1".to_vec()))],
            )
            .unwrap();
        let id = store.alerts(&AlertQuery::default()).unwrap()[0].id;
        let change = AlertChange {
            status: Some(AlertStatus::Resolved),
            resolution: Some(Resolution::TruePositive),
            comment: Some(("soc".into(), "handled".into())),
        };
        store.update_alert(id, &change).unwrap().unwrap();
        // The incident grows: same key, more activities, a later end.
        let mut grown = draft("k", 5);
        grown.activity_ids.push("k-2".into());
        grown.activity_count = 2;
        grown.last += Duration::minutes(3);
        store
            .commit_detection(
                10,
                20,
                &[grown],
                &[("u|x".into(), None), ("u|y".into(), Some(b"2".to_vec()))],
            )
            .unwrap();
        let all = store.alerts(&AlertQuery::default()).unwrap();
        assert_eq!(all.len(), 1, "one alert per incident key");
        let a = store.alert(id).unwrap().unwrap();
        assert_eq!(a.draft.activity_count, 2);
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(a.resolution, Some(Resolution::TruePositive));
        assert_eq!(a.comments.len(), 1);
        // Progress and state moved together.
        let (seq, state) = store.detection_state().unwrap();
        assert_eq!(seq, 20);
        assert_eq!(state, vec![("u|y".to_string(), b"2".to_vec())]);
    });
}

#[test]
fn a_new_alert_reads_back_field_for_field() {
    on_every_backend(|store| {
        let d = AlertDraft {
            key: "impossible-travel|eve".into(),
            tenant: "fabrikam".into(),
            policy: "impossible_travel".into(),
            kind: "sequence".into(),
            title: "Impossible travel: Eve (Paris → Sydney)".into(),
            severity: Severity::High,
            category: "threat_detection".into(),
            signal_only: true,
            users: vec!["eve@fabrikam.com".into(), "bob@fabrikam.com".into()],
            ips: vec!["203.0.113.7".into(), "2001:db8::1".into()],
            countries: vec!["FR".into(), "AU".into()],
            activity_ids: vec!["a-1".into(), "a-2".into(), "a-3".into()],
            activity_count: 5_000_000_000,
            facts: vec!["distance 16 960 km".into(), "\"quoted\", [json]".into()],
            first: at(1),
            last: at(59),
        };
        let before = Utc::now();
        store
            .commit_detection(0, 3, std::slice::from_ref(&d), &[])
            .unwrap();
        let after = Utc::now();
        let listed = all(store);
        assert_eq!(listed.len(), 1);
        let a = &listed[0];
        assert_eq!(a.draft, d);
        assert_eq!(a.status, AlertStatus::Open);
        assert_eq!(a.resolution, None);
        assert!(a.comments.is_empty());
        assert_eq!(
            a.created, a.updated,
            "a new alert's only change is its creation"
        );
        assert!(before <= a.created && a.created <= after, "{}", a.created);
        assert_eq!(store.alert(a.id).unwrap().as_ref(), Some(a));
        assert_eq!(store.alert(a.id + 1000).unwrap(), None);
    });
}

#[test]
fn growing_an_incident_keeps_what_identifies_it() {
    on_every_backend(|store| {
        let first = draft("k", 5);
        store
            .commit_detection(0, 1, std::slice::from_ref(&first), &[])
            .unwrap();
        let old = by_key(store, "k");
        let grown = AlertDraft {
            key: "k".into(),
            tenant: "other".into(),
            policy: "other".into(),
            kind: "other".into(),
            title: "k, grown".into(),
            severity: Severity::High,
            category: "other".into(),
            signal_only: true,
            users: vec!["eve@contoso.com".into(), "mallory@contoso.com".into()],
            ips: vec!["198.51.100.1".into()],
            countries: vec!["NL".into()],
            activity_ids: vec!["k-1".into(), "k-2".into()],
            activity_count: 2,
            facts: vec!["grew".into()],
            first: at(4),
            last: at(9),
        };
        store
            .commit_detection(1, 2, std::slice::from_ref(&grown), &[])
            .unwrap();
        let now = by_key(store, "k");
        assert_eq!(now.id, old.id);
        // Detection's columns follow the incident…
        let expected = AlertDraft {
            tenant: first.tenant,
            policy: first.policy,
            kind: first.kind,
            category: first.category,
            signal_only: first.signal_only,
            ..grown
        };
        // …its identity (tenant, policy, kind, category, signal or not) stays.
        assert_eq!(now.draft, expected);
        assert_eq!(now.created, old.created);
        assert!(now.updated > old.updated);
        assert_eq!(all(store).len(), 1);
    });
}

#[test]
fn state_changes_apply_in_order_and_state_comes_back_by_key() {
    on_every_backend(|store| {
        assert_eq!(store.detection_state().unwrap(), (0, Vec::new()));
        let put = |k: &str, v: &[u8]| (k.to_string(), Some(v.to_vec()));
        let del = |k: &str| (k.to_string(), None);
        store
            .commit_detection(
                0,
                7,
                &[],
                &[
                    put("b", b"b1"),
                    put("a", b"a1"),
                    put("B", &[0, 255, 1]),
                    put("c", b"c1"),
                    del("c"),
                    del("d"),
                    put("d", b"d1"),
                    put("b", b"b2"),
                ],
            )
            .unwrap();
        let (seq, state) = store.detection_state().unwrap();
        assert_eq!(seq, 7);
        // Byte order: upper case before lower case.
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("B".into(), vec![0, 255, 1]),
            ("a".into(), b"a1".to_vec()),
            ("b".into(), b"b2".to_vec()),
            ("d".into(), b"d1".to_vec()),
        ];
        assert_eq!(state, expected);
        assert!(all(store).is_empty(), "no alert raised");

        // Progress is what detection says, even backwards (a rewind re-evaluates).
        store
            .commit_detection(7, 3, &[], &[del("a"), del("B"), put("e", b"")])
            .unwrap();
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("b".into(), b"b2".to_vec()),
            ("d".into(), b"d1".to_vec()),
            ("e".into(), Vec::new()),
        ];
        assert_eq!(store.detection_state().unwrap(), (3, expected));
    });
}

#[test]
fn a_streamed_change_set_larger_than_a_write_round_applies_in_order() {
    on_every_backend(|store| {
        // 2,506 changes, produced one at a time: keys changed again in the same thousand and
        // across thousands (PostgreSQL writes a thousand per round), deleted and put back.
        let changes = || {
            let within = [
                ("w", Some(b"w1".to_vec())),
                ("w", None),
                ("w", Some(b"w2".to_vec())),
                ("gone", Some(b"g1".to_vec())),
                ("gone", None),
            ];
            within
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .chain((0..1_000).map(|i| (format!("k{i:04}"), Some(b"v1".to_vec()))))
                .chain((0..1_000).map(|i| {
                    let value = (i % 7 != 0).then(|| format!("v2-{i}").into_bytes());
                    (format!("k{i:04}"), value)
                }))
                .chain((0..500).map(|i| (format!("k{:04}", i * 2), Some(b"v3".to_vec()))))
                .chain(std::iter::once(("k0007".to_string(), Some(b"v4".to_vec()))))
        };
        let mut expected = std::collections::BTreeMap::new();
        for (k, v) in changes() {
            match v {
                Some(v) => expected.insert(k, v),
                None => expected.remove(&k),
            };
        }
        store
            .commit_detection_streamed("", 0, 9, &[], &mut changes())
            .unwrap();
        let (seq, state) = store.detection_state().unwrap();
        assert_eq!(seq, 9);
        assert_eq!(state, expected.into_iter().collect::<Vec<_>>());
        // Spot checks of what the rules above mean.
        let state: std::collections::BTreeMap<_, _> =
            store.detection_state().unwrap().1.into_iter().collect();
        assert_eq!(state["k0001"], b"v2-1");
        assert_eq!(state["k0014"], b"v3", "deleted, then put back");
        assert!(!state.contains_key("k0021"), "deleted last");
        assert_eq!(state["k0007"], b"v4");
        assert_eq!(state["w"], b"w2", "put, deleted and put again in one round");
        assert!(!state.contains_key("gone"), "put and deleted in one round");
    });
}

#[test]
fn raising_skips_keys_already_raised() {
    on_every_backend(|store| {
        assert_eq!(store.raise_new_alerts(&[]).unwrap(), 0);
        let mut a_again = draft("a", 1);
        a_again.title = "a, again".into();
        let raised = store
            .raise_new_alerts(&[draft("a", 1), draft("b", 2), a_again.clone()])
            .unwrap();
        assert_eq!(raised, 2, "a key twice in one call is raised once");
        store.commit_detection(0, 1, &[draft("d", 4)], &[]).unwrap();
        let raised = store
            .raise_new_alerts(&[a_again, draft("c", 3), draft("d", 9)])
            .unwrap();
        assert_eq!(raised, 1);
        let listed = all(store);
        assert_eq!(keys(&listed), ["d", "c", "b", "a"]);
        assert_eq!(by_key(store, "a").draft.title, "a", "never rewritten");
        assert_eq!(by_key(store, "d").draft.last, at(4), "never rewritten");
        assert_eq!(store.detection_state().unwrap().0, 1, "progress untouched");
    });
}

#[test]
fn concurrent_raisers_raise_each_key_once() {
    on_every_backend(|store| {
        let drafts: Vec<AlertDraft> = (0..20).map(|i| draft(&format!("f{i:02}"), i)).collect();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let mut mine = drafts.clone();
                    mine.rotate_left(t * 5);
                    s.spawn(move || {
                        mine.chunks(3)
                            .map(|c| store.raise_new_alerts(c).unwrap())
                            .sum::<u64>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(total, 20);
        let listed: BTreeSet<String> = keys(&all(store)).into_iter().collect();
        let expected: BTreeSet<String> = drafts.iter().map(|d| d.key.clone()).collect();
        assert_eq!(listed, expected);
        assert_eq!(all(store).len(), 20);
    });
}

#[test]
fn alerts_are_filtered_ordered_and_limited() {
    on_every_backend(|store| {
        let mut v = Vec::new();
        let mut d = |key: &str, minute: u32, f: &dyn Fn(&mut AlertDraft)| {
            let mut a = draft(key, minute);
            f(&mut a);
            v.push(a);
        };
        d("t1", 10, &|a| a.severity = Severity::Low);
        d("t2", 20, &|a| a.tenant = "fabrikam".into());
        d("t3", 30, &|a| a.severity = Severity::High);
        d("t4", 30, &|a| a.policy = "q".into());
        d("t5", 40, &|a| a.signal_only = true);
        d("t6", 5, &|a| a.users = vec!["bob@contoso.com".into()]);
        d("t7", 15, &|a| a.severity = Severity::Informational);
        d("t8", 1, &|a| a.users = vec!["Émile@contoso.com".into()]);
        store.commit_detection(0, 1, &v, &[]).unwrap();
        let resolve = AlertChange {
            status: Some(AlertStatus::Resolved),
            ..AlertChange::default()
        };
        store
            .update_alert(by_key(store, "t1").id, &resolve)
            .unwrap()
            .unwrap();
        let dismiss = AlertChange {
            status: Some(AlertStatus::Dismissed),
            ..AlertChange::default()
        };
        store
            .update_alert(by_key(store, "t2").id, &dismiss)
            .unwrap()
            .unwrap();

        let q = |f: &dyn Fn(&mut AlertQuery)| {
            let mut q = AlertQuery::default();
            f(&mut q);
            keys(&store.alerts(&q).unwrap())
        };
        // Newest activity first; t3 and t4 end together, the later raised first.
        assert_eq!(q(&|_| {}), ["t4", "t3", "t2", "t7", "t1", "t6", "t8"]);
        assert_eq!(
            q(&|q| q.include_signals = true),
            ["t5", "t4", "t3", "t2", "t7", "t1", "t6", "t8"]
        );
        assert_eq!(q(&|q| q.limit = 2), ["t4", "t3"]);
        assert_eq!(q(&|q| q.tenant = Some("fabrikam".into())), ["t2"]);
        assert_eq!(
            q(&|q| q.tenant = Some("Fabrikam".into())),
            Vec::<String>::new()
        );
        assert_eq!(q(&|q| q.policy = Some("q".into())), ["t4"]);
        assert_eq!(q(&|q| q.min_severity = Some(Severity::High)), ["t3"]);
        assert_eq!(
            q(&|q| q.min_severity = Some(Severity::Low)),
            ["t4", "t3", "t2", "t1", "t6", "t8"]
        );
        assert_eq!(
            q(&|q| q.statuses = vec![AlertStatus::Resolved, AlertStatus::Dismissed]),
            ["t2", "t1"]
        );
        assert_eq!(
            q(&|q| q.statuses = vec![AlertStatus::Open]),
            ["t4", "t3", "t7", "t6", "t8"]
        );
        assert_eq!(q(&|q| q.user = Some("BOB@Contoso.com".into())), ["t6"]);
        assert_eq!(q(&|q| q.user = Some("bob".into())), Vec::<String>::new());
        // Case is folded in ASCII only, by every backend alike (SQLite's lower() does no more).
        assert_eq!(q(&|q| q.user = Some("ÉMILE@CONTOSO.COM".into())), ["t8"]);
        assert_eq!(
            q(&|q| q.user = Some("émile@contoso.com".into())),
            Vec::<String>::new()
        );
        assert_eq!(
            q(&|q| {
                q.user = Some("eve@contoso.com".into());
                q.min_severity = Some(Severity::Medium);
                q.statuses = vec![AlertStatus::Open, AlertStatus::Dismissed];
                q.include_signals = true;
                q.limit = 3;
            }),
            ["t5", "t4", "t3"]
        );
    });
}

#[test]
fn triage_changes_status_resolution_and_comments() {
    on_every_backend(|store| {
        assert!(
            store
                .update_alert(1234, &AlertChange::default())
                .unwrap()
                .is_none()
        );
        store.commit_detection(0, 1, &[draft("k", 1)], &[]).unwrap();
        let a0 = by_key(store, "k");
        let change = |status, resolution, comment: Option<(&str, &str)>| AlertChange {
            status,
            resolution,
            comment: comment.map(|(a, t)| (a.to_string(), t.to_string())),
        };
        let missing = change(None, None, Some(("soc", "lost")));
        assert!(store.update_alert(a0.id + 1, &missing).unwrap().is_none());

        // A resolution alone is recorded as such.
        let a1 = store
            .update_alert(a0.id, &change(None, Some(Resolution::Benign), None))
            .unwrap()
            .unwrap();
        assert_eq!(
            (a1.status, a1.resolution),
            (AlertStatus::Open, Some(Resolution::Benign))
        );
        assert!(a1.updated > a0.updated);
        // An open status clears it, even when one is given.
        let a2 = store
            .update_alert(
                a0.id,
                &change(
                    Some(AlertStatus::InProgress),
                    Some(Resolution::TruePositive),
                    None,
                ),
            )
            .unwrap()
            .unwrap();
        assert_eq!((a2.status, a2.resolution), (AlertStatus::InProgress, None));
        assert!(a2.updated > a1.updated);
        // Closing keeps the resolution given.
        let a3 = store
            .update_alert(
                a0.id,
                &change(
                    Some(AlertStatus::Dismissed),
                    Some(Resolution::FalsePositive),
                    Some(("ann", "noise")),
                ),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (a3.status, a3.resolution),
            (AlertStatus::Dismissed, Some(Resolution::FalsePositive))
        );
        // A comment alone changes nothing else, but is a change.
        let a4 = store
            .update_alert(a0.id, &change(None, None, Some(("bob", "agreed"))))
            .unwrap()
            .unwrap();
        assert_eq!(
            (a4.status, a4.resolution),
            (AlertStatus::Dismissed, Some(Resolution::FalsePositive))
        );
        assert!(a4.updated > a3.updated);
        let comments: Vec<(&str, &str)> = a4
            .comments
            .iter()
            .map(|c| (c.author.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(comments, [("ann", "noise"), ("bob", "agreed")]);
        assert_eq!(a4.comments[0].at, a3.updated);
        assert_eq!(a4.comments[1].at, a4.updated);
        assert_eq!(
            a4.draft, a0.draft,
            "triage never touches detection's columns"
        );
        assert_eq!(a4.created, a0.created);
        // Closing without a resolution leaves none; reopening clears one.
        let a5 = store
            .update_alert(a0.id, &change(Some(AlertStatus::Resolved), None, None))
            .unwrap()
            .unwrap();
        assert_eq!((a5.status, a5.resolution), (AlertStatus::Resolved, None));
        let a6 = store
            .update_alert(a0.id, &change(Some(AlertStatus::Open), None, None))
            .unwrap()
            .unwrap();
        assert_eq!((a6.status, a6.resolution), (AlertStatus::Open, None));
        assert_eq!(store.alert(a0.id).unwrap().as_ref(), Some(&a6));
        assert_eq!(all(store).len(), 1);
    });
}

#[test]
fn policies_are_kept_by_id_and_every_change_moves_the_version() {
    on_every_backend(|store| {
        assert!(store.stored_policies().unwrap().is_empty());
        assert_eq!(store.policy_version().unwrap(), 0);
        store.put_policy("b", r#"{"name":"b"}"#).unwrap();
        store.put_policy("a", r#"{"name":"a"}"#).unwrap();
        store.put_policy("B", r#"{"name":"B"}"#).unwrap();
        store.put_policy("_x", r#"{"name":"_x"}"#).unwrap();
        assert_eq!(store.policy_version().unwrap(), 4);
        let ids = |store: &dyn Store| -> Vec<String> {
            store
                .stored_policies()
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        };
        // Byte order, whatever the database's locale.
        assert_eq!(ids(store), ["B", "_x", "a", "b"]);
        store.put_policy("a", r#"{"name":"a2"}"#).unwrap();
        assert_eq!(
            store.policy_version().unwrap(),
            5,
            "a replacement is a change"
        );
        let a = store
            .stored_policies()
            .unwrap()
            .into_iter()
            .find(|(id, _)| id == "a")
            .unwrap();
        assert_eq!(a.1, r#"{"name":"a2"}"#);
        assert!(!store.delete_policy("zz").unwrap());
        assert_eq!(
            store.policy_version().unwrap(),
            5,
            "deleting nothing is no change"
        );
        assert!(store.delete_policy("a").unwrap());
        assert!(!store.delete_policy("a").unwrap());
        assert_eq!(store.policy_version().unwrap(), 6);
        assert_eq!(ids(store), ["B", "_x", "b"]);
    });
}
