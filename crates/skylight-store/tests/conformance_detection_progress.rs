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
        store.commit_detection(first[0], &[], &[]).unwrap();
        assert_eq!(store.detection_progress().unwrap(), (first[0], first[1]));
        let second = store_records(store, "c2", &["r3"]);
        assert!(second[0] > first[1], "sequence numbers grow");
        assert_eq!(store.detection_progress().unwrap(), (first[0], second[0]));
        store.commit_detection(second[0], &[], &[]).unwrap();
        assert_eq!(store.detection_progress().unwrap(), (second[0], second[0]));
        assert_eq!(store.detection_state().unwrap().0, second[0]);
    });
}
