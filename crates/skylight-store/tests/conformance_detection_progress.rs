//! How far detection got against the records stored, through the `Store` trait, on every
//! backend. Needs records: on PostgreSQL it passes once the collection part (the `records` table
//! and `commit_batch`) is in.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::Utc;
use skylight_model::{AuditRecord, BlobRef, ContentType};
use skylight_store::Store;
use skylight_store::testkit::on_every_backend;

/// Stores one blob of records with these Ids; their sequence numbers, in stored order.
fn store_records(store: &dyn Store, blob: &str, ids: &[&str]) -> Vec<i64> {
    let records: Vec<AuditRecord> = ids
        .iter()
        .map(|id| {
            AuditRecord::from_json(&format!(
                r#"{{"Id":"{id}","CreationTime":"2026-11-20T09:00:00","RecordType":1,"Operation":"Op"}}"#
            ))
            .unwrap()
        })
        .collect();
    let blob = BlobRef {
        content_id: blob.into(),
        created: Utc::now(),
    };
    store
        .commit_blob("contoso", ContentType::Exchange, &blob, &records)
        .unwrap();
    let stored = store.activities_since(0, 1000).unwrap();
    stored
        .iter()
        .filter(|a| ids.contains(&a.row.id.as_str()))
        .map(|a| a.seq)
        .collect()
}

#[test]
fn progress_is_the_last_evaluated_and_the_newest_stored() {
    on_every_backend(|store| {
        assert_eq!(store.detection_progress().unwrap(), (0, 0));
        let first = store_records(store, "c1", &["r1", "r2"]);
        assert_eq!(first.len(), 2);
        assert_eq!(store.detection_progress().unwrap(), (0, first[1]));
        store.commit_detection(0, first[0], &[], &[]).unwrap();
        assert_eq!(store.detection_progress().unwrap(), (first[0], first[1]));
        let second = store_records(store, "c2", &["r3"]);
        assert!(second[0] > first[1], "sequence numbers grow");
        assert_eq!(store.detection_progress().unwrap(), (first[0], second[0]));
        store
            .commit_detection(first[0], second[0], &[], &[])
            .unwrap();
        assert_eq!(store.detection_progress().unwrap(), (second[0], second[0]));
        assert_eq!(store.detection_state().unwrap().0, second[0]);
    });
}

/// A detector that stalled while another took over cannot commit over its successor: its
/// commit, fenced on the progress it read, is refused and writes nothing.
#[test]
fn a_commit_from_a_stale_progress_is_refused_and_writes_nothing() {
    use skylight_model::{AlertDraft, Severity};
    use skylight_store::{AlertQuery, StoreError};
    let draft = |key: &str| AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: "p".into(),
        kind: "single".into(),
        title: key.into(),
        severity: Severity::High,
        category: "threat_detection".into(),
        signal_only: false,
        users: vec!["eve@contoso.com".into()],
        ips: Vec::new(),
        countries: Vec::new(),
        activity_ids: vec![key.into()],
        activity_count: 1,
        facts: Vec::new(),
        first: Utc::now(),
        last: Utc::now(),
    };
    on_every_backend(|store| {
        // Both detectors opened at 0; the successor commits first.
        store
            .commit_detection(
                0,
                40,
                &[draft("successor")],
                &[("k".into(), Some(b"new".to_vec()))],
            )
            .unwrap();
        let stale = store.commit_detection(
            0,
            30,
            &[draft("stalled")],
            &[("k".into(), Some(b"old".to_vec()))],
        );
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        let (seq, state) = store.detection_state().unwrap();
        assert_eq!(seq, 40);
        assert_eq!(state, vec![("k".to_string(), b"new".to_vec())]);
        let keys: Vec<String> = store
            .alerts(&AlertQuery::default())
            .unwrap()
            .into_iter()
            .map(|a| a.draft.key)
            .collect();
        assert_eq!(keys, ["successor"]);
        // Reopened from the store, it commits again.
        store
            .commit_detection(40, 50, &[draft("stalled")], &[])
            .unwrap();
        assert_eq!(store.detection_state().unwrap().0, 50);
    });
}
