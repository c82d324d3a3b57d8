//! Accounts, sessions, API tokens, the audit log and saved queries through `AccessStore`, on
//! every backend (SQLite in memory and on disk, PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use skylight_model::{AccountChange, AuditEntry, Role, Session};
use skylight_store::Store;
use skylight_store::testkit::on_every_backend;

/// A session of eight hours from `at`, its hash all `hash` bytes.
fn session(hash: u8, account_id: i64, at: chrono::DateTime<Utc>) -> Session {
    Session {
        token_hash: [hash; 32],
        account_id,
        csrf: format!("csrf-{hash}"),
        created: at,
        last_seen: at,
        expires: at + Duration::hours(8),
    }
}

#[test]
fn accounts_are_unique_by_name_whatever_the_case_and_changes_end_their_sessions() {
    on_every_backend(|store: &dyn Store| {
        assert_eq!(store.account_count().unwrap(), 0);
        let alice = store
            .create_account("Alice", "$argon2id$hash-a", Role::Analyst)
            .unwrap()
            .unwrap();
        assert_eq!(alice.role, Role::Analyst);
        assert!(
            store
                .create_account("alice", "$argon2id$other", Role::Admin)
                .unwrap()
                .is_none(),
            "names are case-insensitive"
        );
        store
            .create_account("bob", "$argon2id$hash-b", Role::ReadOnly)
            .unwrap()
            .unwrap();
        assert_eq!(store.account_count().unwrap(), 2);
        let (found, hash) = store.account_by_name("ALICE").unwrap().unwrap();
        assert_eq!((found.id, hash.as_str()), (alice.id, "$argon2id$hash-a"));
        assert_eq!(
            store
                .accounts()
                .unwrap()
                .iter()
                .map(|a| a.username.as_str())
                .collect::<Vec<_>>(),
            ["Alice", "bob"]
        );

        // A session lives until it expires, and shows its account.
        let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        store.create_session(&session(1, alice.id, t0)).unwrap();
        store.create_session(&session(2, alice.id, t0)).unwrap();
        let (s, a) = store
            .session(&[1; 32], t0 + Duration::hours(1))
            .unwrap()
            .unwrap();
        assert_eq!((s.csrf.as_str(), a.username.as_str()), ("csrf-1", "Alice"));
        assert_eq!(
            store
                .account_by_name("alice")
                .unwrap()
                .unwrap()
                .0
                .last_login,
            Some(t0)
        );
        assert!(
            store
                .session(&[1; 32], t0 + Duration::hours(9))
                .unwrap()
                .is_none()
        );
        store
            .touch_session(&[1; 32], t0 + Duration::hours(8), t0 + Duration::hours(16))
            .unwrap();
        assert!(
            store
                .session(&[1; 32], t0 + Duration::hours(9))
                .unwrap()
                .is_some()
        );
        assert!(store.session(&[9; 32], t0).unwrap().is_none());

        // Any change to the account ends its sessions.
        let demoted = store
            .update_account(
                alice.id,
                &AccountChange {
                    role: Some(Role::ReadOnly),
                    ..AccountChange::default()
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!(demoted.role, Role::ReadOnly);
        assert!(store.session(&[1; 32], t0).unwrap().is_none());
        assert!(store.session(&[2; 32], t0).unwrap().is_none());
        // A disabled account's sessions are not honoured.
        store.create_session(&session(3, alice.id, t0)).unwrap();
        let disabled = AccountChange {
            disabled: Some(true),
            ..AccountChange::default()
        };
        assert!(
            store
                .update_account(alice.id, &disabled)
                .unwrap()
                .unwrap()
                .disabled
        );
        store.create_session(&session(4, alice.id, t0)).unwrap();
        assert!(store.session(&[4; 32], t0).unwrap().is_none());
        assert!(store.update_account(999, &disabled).unwrap().is_none());
        // Sign-out and expiry.
        let bob = store.account_by_name("bob").unwrap().unwrap().0;
        store.create_session(&session(5, bob.id, t0)).unwrap();
        assert!(store.delete_session(&[5; 32]).unwrap());
        assert!(!store.delete_session(&[5; 32]).unwrap());
        store.create_session(&session(6, bob.id, t0)).unwrap();
        assert!(store.prune_sessions(t0 + Duration::days(1)).unwrap() >= 1);
        assert!(store.session(&[6; 32], t0).unwrap().is_none());
    });
}

#[test]
fn tokens_are_found_by_hash_until_revoked() {
    on_every_backend(|store: &dyn Store| {
        let t = store
            .create_api_token("siem", &[7; 32], Role::ReadOnly, "alice")
            .unwrap();
        let found = store.api_token_by_hash(&[7; 32]).unwrap().unwrap();
        assert_eq!(
            (found.id, found.role, found.name.as_str()),
            (t.id, Role::ReadOnly, "siem")
        );
        assert!(store.api_token_by_hash(&[8; 32]).unwrap().is_none());
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        store.touch_api_token(t.id, at).unwrap();
        assert_eq!(store.api_tokens().unwrap()[0].last_used, Some(at));
        assert!(store.revoke_api_token(t.id, at).unwrap());
        assert!(!store.revoke_api_token(t.id, at).unwrap(), "revoked once");
        assert!(store.api_token_by_hash(&[7; 32]).unwrap().is_none());
        assert_eq!(store.api_tokens().unwrap()[0].revoked, Some(at));
    });
}

#[test]
fn the_audit_log_pages_newest_first_and_queries_are_saved_per_account() {
    on_every_backend(|store: &dyn Store| {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        for i in 0..5 {
            store
                .record_audit(&AuditEntry {
                    id: 0,
                    at: at + Duration::minutes(i),
                    actor: "alice".into(),
                    action: "policy.put".into(),
                    target: Some(format!("p{i}")),
                    detail: None,
                    ip: Some("127.0.0.1".into()),
                })
                .unwrap();
        }
        let first = store.audit_log(2, None).unwrap();
        assert_eq!(
            first
                .iter()
                .map(|e| e.target.clone().unwrap())
                .collect::<Vec<_>>(),
            ["p4", "p3"]
        );
        let next = store.audit_log(10, Some(first[1].id)).unwrap();
        assert_eq!(next.len(), 3);
        assert_eq!(next[0].target.as_deref(), Some("p2"));
        assert_eq!(next[0].at, at + Duration::minutes(2));

        let a = store
            .create_account("a", "h", Role::Analyst)
            .unwrap()
            .unwrap();
        let b = store
            .create_account("b", "h", Role::Analyst)
            .unwrap()
            .unwrap();
        let q = store
            .save_query(a.id, "failures", "q=result%3Dfailure")
            .unwrap();
        store
            .save_query(a.id, "failures", "q=result%3Dfailure&q=app%3Dexchange")
            .unwrap();
        let mine = store.saved_queries(a.id).unwrap();
        assert_eq!(mine.len(), 1, "saved again under the same name: replaced");
        assert_eq!(mine[0].query, "q=result%3Dfailure&q=app%3Dexchange");
        assert!(store.saved_queries(b.id).unwrap().is_empty());
        assert!(
            !store.delete_saved_query(b.id, q.id).unwrap(),
            "not b's to delete"
        );
        assert!(store.delete_saved_query(a.id, mine[0].id).unwrap());
        assert!(store.saved_queries(a.id).unwrap().is_empty());
    });
}

#[test]
fn accounts_sort_and_match_by_ascii_folded_name_and_keep_what_was_stored() {
    on_every_backend(|store: &dyn Store| {
        let carol = store
            .create_account("Carol", "hash-c", Role::Admin)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                carol.username.as_str(),
                carol.role,
                carol.disabled,
                carol.last_login
            ),
            ("Carol", Role::Admin, false, None)
        );
        for name in ["bob", "_ops", "Émile", "émile"] {
            assert!(
                store
                    .create_account(name, "h", Role::ReadOnly)
                    .unwrap()
                    .is_some(),
                "{name}: letters beyond ASCII keep their case"
            );
        }
        assert!(
            store
                .create_account("CAROL", "h", Role::ReadOnly)
                .unwrap()
                .is_none()
        );
        assert_eq!(store.account_count().unwrap(), 5);
        // `_` (0x5f) < `b` < folded `carol`, and `É` (0xc3 0x89) < `é` (0xc3 0xa9) after ASCII.
        assert_eq!(
            store
                .accounts()
                .unwrap()
                .iter()
                .map(|a| a.username.as_str())
                .collect::<Vec<_>>(),
            ["_ops", "bob", "Carol", "Émile", "émile"]
        );
        assert_eq!(
            store.account_by_name("ÉMILE").unwrap().unwrap().0.username,
            "Émile",
            "only ASCII letters fold"
        );
        let (found, hash) = store.account_by_name("cArOl").unwrap().unwrap();
        assert_eq!((found, hash.as_str()), (carol.clone(), "hash-c"));

        // A new password replaces the hash; enabling again keeps the rest.
        let changed = store
            .update_account(
                carol.id,
                &AccountChange {
                    password_hash: Some("hash-c2".into()),
                    disabled: Some(true),
                    ..AccountChange::default()
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!((changed.role, changed.disabled), (Role::Admin, true));
        let enabled = store
            .update_account(
                carol.id,
                &AccountChange {
                    disabled: Some(false),
                    ..AccountChange::default()
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!((enabled.role, enabled.disabled), (Role::Admin, false));
        assert_eq!(
            store.account_by_name("carol").unwrap().unwrap().1,
            "hash-c2"
        );
    });
}

#[test]
fn sessions_come_back_as_stored_and_expire_on_time() {
    on_every_backend(|store: &dyn Store| {
        let a = store
            .create_account("a", "h", Role::Analyst)
            .unwrap()
            .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
            + Duration::nanoseconds(123_456_789);
        let mut stored = Vec::new();
        for (i, hours) in [1, 2, 3].into_iter().enumerate() {
            let mut s = session(10 + i as u8, a.id, t0);
            s.expires = t0 + Duration::hours(hours);
            store.create_session(&s).unwrap();
            stored.push(s);
        }
        let (s, account) = store.session(&[10; 32], t0).unwrap().unwrap();
        assert_eq!(s, stored[0]);
        assert_eq!(
            (account.id, account.last_login),
            (a.id, Some(t0)),
            "signing in records the time"
        );
        // Expired exactly at its expiry.
        assert!(
            store
                .session(&[10; 32], t0 + Duration::hours(1))
                .unwrap()
                .is_none()
        );
        store
            .touch_session(
                &[11; 32],
                t0 + Duration::minutes(30),
                t0 + Duration::hours(5),
            )
            .unwrap();
        let (touched, _) = store.session(&[11; 32], t0).unwrap().unwrap();
        assert_eq!(
            (touched.last_seen, touched.expires, touched.created),
            (t0 + Duration::minutes(30), t0 + Duration::hours(5), t0)
        );
        // At t0 + 3h: [10] (1h) and [12] (3h) are expired; [11] was moved to 5h.
        assert_eq!(store.prune_sessions(t0 + Duration::hours(3)).unwrap(), 2);
        assert!(store.session(&[11; 32], t0).unwrap().is_some());
        assert!(!store.delete_session(&[12; 32]).unwrap(), "pruned already");
        assert_eq!(store.prune_sessions(t0 + Duration::hours(3)).unwrap(), 0);
    });
}

#[test]
fn tokens_are_listed_newest_first_with_their_uses() {
    on_every_backend(|store: &dyn Store| {
        let before = Utc::now();
        let first = store
            .create_api_token("siem", &[1; 32], Role::ReadOnly, "alice")
            .unwrap();
        let second = store
            .create_api_token("o'brien's \"bot\"", &[2; 32], Role::Admin, "bob")
            .unwrap();
        assert!(first.created >= before && second.created >= first.created);
        assert_eq!(
            (
                second.name.as_str(),
                second.role,
                second.created_by.as_str()
            ),
            ("o'brien's \"bot\"", Role::Admin, "bob")
        );
        assert_eq!(store.api_tokens().unwrap(), [second.clone(), first.clone()]);
        assert_eq!(
            store.api_token_by_hash(&[2; 32]).unwrap(),
            Some(second.clone())
        );
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        store.touch_api_token(first.id, at).unwrap();
        assert!(store.revoke_api_token(second.id, at).unwrap());
        let listed = store.api_tokens().unwrap();
        assert_eq!(
            (
                listed[0].revoked,
                listed[0].last_used,
                listed[1].last_used,
                listed[1].revoked
            ),
            (Some(at), None, Some(at), None)
        );
        assert!(store.api_token_by_hash(&[2; 32]).unwrap().is_none());
        assert!(!store.revoke_api_token(second.id + 100, at).unwrap());
    });
}

#[test]
fn audit_entries_come_back_whole_and_queries_sort_by_name_bytes() {
    on_every_backend(|store: &dyn Store| {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + Duration::nanoseconds(7);
        let mut entry = AuditEntry {
            id: 0,
            at,
            actor: "token:siem".into(),
            action: "alert.update".into(),
            target: None,
            detail: Some("status=closed; it's done".into()),
            ip: None,
        };
        let id = store.record_audit(&entry).unwrap();
        let next = store.record_audit(&entry).unwrap();
        assert!(next > id);
        entry.id = id;
        assert_eq!(store.audit_log(10, Some(next)).unwrap(), [entry]);
        assert!(store.audit_log(0, None).unwrap().is_empty(), "a limit of 0");
        assert_eq!(store.audit_log(10, None).unwrap().len(), 2);

        let a = store
            .create_account("a", "h", Role::Analyst)
            .unwrap()
            .unwrap();
        let first = store.save_query(a.id, "b", "q=1").unwrap();
        assert_eq!(
            (first.account_id, first.name.as_str(), first.query.as_str()),
            (a.id, "b", "q=1")
        );
        let replaced = store.save_query(a.id, "b", "q=2").unwrap();
        assert_eq!(replaced.id, first.id, "replaced in place");
        store.save_query(a.id, "A", "q=3").unwrap();
        store.save_query(a.id, "_", "q=4").unwrap();
        let mine = store.saved_queries(a.id).unwrap();
        assert_eq!(
            mine.iter()
                .map(|q| (q.name.as_str(), q.query.as_str()))
                .collect::<Vec<_>>(),
            [("A", "q=3"), ("_", "q=4"), ("b", "q=2")]
        );
        assert_eq!(mine[2], replaced);
        assert!(!store.delete_saved_query(a.id, first.id + 100).unwrap());
    });
}
