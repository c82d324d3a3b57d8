//! The governance log on every backend: entries as logged, filters, the one-running-action rule
//! and the compare-and-set of `update_action`, raced from threads; and, on PostgreSQL, raced from
//! two stores on one database, as two Skylight processes would.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Barrier;

use skylight_model::{ActionKind, ActionStatus, ActionStep, TargetKind};
use skylight_store::testkit::{TestDatabase, on_every_backend};
use skylight_store::{ActionDraft, ActionUpdate, GovernanceQuery, Store, StoreError};

/// Threads in each race.
const RACERS: usize = 8;

/// An action on a user of a tenant, in this status.
fn draft(tenant: &str, action: ActionKind, target: &str, status: ActionStatus) -> ActionDraft {
    ActionDraft {
        tenant: tenant.into(),
        action,
        target_kind: TargetKind::User,
        target_id: target.into(),
        target_name: format!("{target}@contoso.com"),
        requested_by: "alice".into(),
        alert_id: Some(42),
        params: serde_json::json!({"reason": "it's \"compromised\"", "hours": 4}),
        status,
        warnings: vec!["MFA not enforced".into()],
    }
}

/// Suspending contoso's u1, in this status.
fn suspend(status: ActionStatus) -> ActionDraft {
    draft("contoso", ActionKind::SuspendUser, "u1", status)
}

/// The ids of the entries a query lists, in order.
fn ids(store: &dyn Store, q: GovernanceQuery) -> Vec<i64> {
    store
        .governance_log(&q)
        .expect("log")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[test]
fn entries_are_logged_as_drafted_and_changed_step_by_step() {
    on_every_backend(|store: &dyn Store| {
        let d = suspend(ActionStatus::Pending);
        let (e, created) = store.begin_action(&d).expect("begin");
        assert!(created);
        assert_eq!(
            (
                e.tenant.as_str(),
                e.action,
                e.target_kind,
                e.target_id.as_str(),
                e.target_name.as_str(),
                e.requested_by.as_str(),
                e.alert_id,
            ),
            (
                "contoso",
                ActionKind::SuspendUser,
                TargetKind::User,
                "u1",
                "u1@contoso.com",
                "alice",
                Some(42)
            )
        );
        assert_eq!(e.params, d.params);
        assert_eq!(
            (e.status, e.attempts, e.error.clone()),
            (ActionStatus::Pending, 0, None)
        );
        assert_eq!(e.warnings, ["MFA not enforced"]);
        assert!(e.steps.is_empty());
        assert_eq!(e.created, e.updated);
        assert_eq!(store.governance_entry(e.id).expect("get"), Some(e.clone()));
        assert_eq!(store.governance_entry(e.id + 1000).expect("get"), None);

        // Another action, tenant or target does not collide; the same one does, in any
        // holding status.
        let (other, created) = store
            .begin_action(&draft(
                "contoso",
                ActionKind::RequireSignIn,
                "u1",
                ActionStatus::InProgress,
            ))
            .expect("other action");
        assert!(created && other.id != e.id);
        let (elsewhere, created) = store
            .begin_action(&draft(
                "fabrikam",
                ActionKind::SuspendUser,
                "u1",
                ActionStatus::Pending,
            ))
            .expect("other tenant");
        assert!(created && elsewhere.id != e.id);
        let (same, created) = store
            .begin_action(&suspend(ActionStatus::InProgress))
            .expect("same");
        assert!(!created);
        assert_eq!(same, e, "the holder comes back unchanged");

        let step = ActionStep {
            method: "PATCH".into(),
            path: "/v1.0/users/u1".into(),
            status: Some(204),
            note: None,
        };
        let running = store
            .update_action(
                e.id,
                &ActionUpdate {
                    expect: Some(ActionStatus::Pending),
                    status: Some(ActionStatus::InProgress),
                    attempt: true,
                    steps: vec![step.clone()],
                    warnings: vec!["retrying".into()],
                    error: Some("throttled".into()),
                },
            )
            .expect("approve")
            .expect("entry");
        assert_eq!(running.status, ActionStatus::InProgress);
        assert_eq!(running.attempts, 1);
        assert_eq!(running.steps, std::slice::from_ref(&step));
        assert_eq!(running.warnings, ["MFA not enforced", "retrying"]);
        assert_eq!(running.error.as_deref(), Some("throttled"));
        assert!(running.updated >= e.updated);
        let stale = store.update_action(
            e.id,
            &ActionUpdate {
                expect: Some(ActionStatus::Pending),
                status: Some(ActionStatus::InProgress),
                ..ActionUpdate::default()
            },
        );
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        let done = store
            .update_action(
                e.id,
                &ActionUpdate {
                    status: Some(ActionStatus::Succeeded),
                    attempt: true,
                    steps: vec![step.clone()],
                    error: Some(String::new()),
                    ..ActionUpdate::default()
                },
            )
            .expect("done")
            .expect("entry");
        assert_eq!((done.attempts, done.steps.len(), done.error), (2, 2, None));
        assert_eq!(
            store.governance_entry(e.id).expect("get").map(|e| e.status),
            Some(ActionStatus::Succeeded)
        );
        assert!(
            store
                .update_action(e.id + 1000, &ActionUpdate::default())
                .expect("none")
                .is_none()
        );
        // Finished, it frees the target.
        let (next, created) = store
            .begin_action(&suspend(ActionStatus::Pending))
            .expect("next");
        assert!(created);

        assert_eq!(
            ids(store, GovernanceQuery::default()),
            [next.id, elsewhere.id, other.id, e.id]
        );
        assert_eq!(
            ids(
                store,
                GovernanceQuery {
                    tenant: Some("contoso".into()),
                    limit: 2,
                    ..GovernanceQuery::default()
                }
            ),
            [next.id, other.id]
        );
        assert_eq!(
            ids(
                store,
                GovernanceQuery {
                    status: Some(ActionStatus::Succeeded),
                    ..GovernanceQuery::default()
                }
            ),
            [e.id]
        );
        assert_eq!(
            ids(
                store,
                GovernanceQuery {
                    target: Some("U1@CONTOSO.COM".into()),
                    tenant: Some("contoso".into()),
                    ..GovernanceQuery::default()
                }
            ),
            [next.id, other.id, e.id]
        );
        assert_eq!(
            ids(
                store,
                GovernanceQuery {
                    alert_id: Some(41),
                    ..GovernanceQuery::default()
                }
            ),
            Vec::<i64>::new()
        );
        assert_eq!(
            ids(
                store,
                GovernanceQuery {
                    alert_id: Some(42),
                    target: Some("u1".into()),
                    status: Some(ActionStatus::Pending),
                    ..GovernanceQuery::default()
                }
            ),
            [next.id, elsewhere.id]
        );
    });
}

/// `RACERS` threads begin the same action at once, half on `a`, half on `b` (one store, or two
/// stores on one database): exactly one logs it and every one gets that entry; then they all
/// approve it at once and exactly one approval goes through.
fn race(a: &dyn Store, b: &dyn Store) {
    let start = Barrier::new(RACERS);
    let begun: Vec<(i64, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..RACERS)
            .map(|i| {
                let store = if i % 2 == 0 { a } else { b };
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let (e, created) = store
                        .begin_action(&suspend(ActionStatus::Pending))
                        .expect("begin");
                    (e.id, created)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("racer"))
            .collect()
    });
    assert_eq!(
        begun.iter().filter(|(_, created)| *created).count(),
        1,
        "{begun:?}"
    );
    let id = begun[0].0;
    assert!(begun.iter().all(|(i, _)| *i == id), "{begun:?}");

    let start = Barrier::new(RACERS);
    let approvals: Vec<Result<Option<_>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..RACERS)
            .map(|i| {
                let store = if i % 2 == 0 { a } else { b };
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    store.update_action(
                        id,
                        &ActionUpdate {
                            expect: Some(ActionStatus::Pending),
                            status: Some(ActionStatus::InProgress),
                            attempt: true,
                            ..ActionUpdate::default()
                        },
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("racer"))
            .collect()
    });
    let through = approvals
        .iter()
        .filter(|r| matches!(r, Ok(Some(_))))
        .count();
    let refused = approvals
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((through, refused), (1, RACERS - 1), "{approvals:?}");
    let entry = a.governance_entry(id).expect("get").expect("entry");
    assert_eq!(
        (entry.status, entry.attempts),
        (ActionStatus::InProgress, 1)
    );
    assert_eq!(
        a.governance_log(&GovernanceQuery::default())
            .expect("log")
            .len(),
        1
    );
}

#[test]
fn racing_threads_start_an_action_once_and_approve_it_once() {
    on_every_backend(|store: &dyn Store| race(store, store));
}

#[test]
fn racing_processes_on_one_postgresql_database_start_an_action_once() {
    let db = TestDatabase::create();
    let (a, b) = (db.open(), db.open());
    // Many rounds: a lost race shows up as a second entry or a second approval.
    for _ in 0..5 {
        race(&a, &b);
        // Empties the log so that the next round races for a free target again.
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
        c.batch_execute("DELETE FROM governance_log")
            .expect("clear");
    }
}
