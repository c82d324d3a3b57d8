//! Accounts, sessions, API tokens, the audit log and saved queries through `AccessStore`, on a
//! real SQLite file (taken as `&dyn Store`, to become part of the conformance suite).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use skylight_model::{AccountChange, AuditEntry, Role, Session};
use skylight_store::Store;
use skylight_store::testkit::on_every_backend;

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
