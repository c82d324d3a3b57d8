//! Detection spread over partitions, through the `Store` trait, on every backend: each
//! partition's progress and state apart from the others', a plan that starts new partitions
//! where detection had got to, and commits fenced per partition.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use skylight_store::testkit::on_every_backend;
use skylight_store::{Store, StoreError};

fn plan(store: &dyn Store, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    store.plan_detection(&names).unwrap();
}

fn put(key: &str, value: &str) -> (String, Option<Vec<u8>>) {
    (key.to_owned(), Some(value.as_bytes().to_vec()))
}

#[test]
fn partitions_keep_their_own_progress_and_state() {
    on_every_backend(|store| {
        plan(store, &["0/2", "1/2"]);
        assert_eq!(
            store.detection_partitions().unwrap(),
            vec![("0/2".to_owned(), 0), ("1/2".to_owned(), 0)]
        );
        store
            .commit_detection_in("0/2", 0, 10, &[], &[put("u|t|alice", "a")])
            .unwrap();
        store
            .commit_detection_in("1/2", 0, 4, &[], &[put("u|t|alice", "b"), put("t|t", "c")])
            .unwrap();
        let (seq, entries) = store.detection_state_in("0/2").unwrap();
        assert_eq!(seq, 10);
        assert_eq!(entries, vec![("u|t|alice".to_owned(), b"a".to_vec())]);
        let (seq, mut entries) = store.detection_state_in("1/2").unwrap();
        entries.sort();
        assert_eq!(seq, 4);
        assert_eq!(
            entries,
            vec![
                ("t|t".to_owned(), b"c".to_vec()),
                ("u|t|alice".to_owned(), b"b".to_vec())
            ]
        );
        // Overall progress is the slowest's.
        assert_eq!(store.detection_progress().unwrap().0, 4);
        // Deleting a key in one partition leaves the other's.
        store
            .commit_detection_in("1/2", 4, 6, &[], &[("u|t|alice".into(), None)])
            .unwrap();
        assert_eq!(store.detection_state_in("0/2").unwrap().1.len(), 1);
        assert_eq!(store.detection_state_in("1/2").unwrap().1.len(), 1);
    });
}

#[test]
fn commits_are_fenced_per_partition_and_unplanned_partitions_refused() {
    on_every_backend(|store| {
        plan(store, &["0/2", "1/2"]);
        store.commit_detection_in("0/2", 0, 5, &[], &[]).unwrap();
        // Partition 1/2 is still at 0: a commit from 5 there is stale.
        let stale = store.commit_detection_in("1/2", 5, 9, &[], &[]);
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        let other = store.commit_detection_in("2/3", 0, 9, &[], &[]);
        assert!(matches!(other, Err(StoreError::Conflict(_))), "{other:?}");
        assert!(matches!(
            store.detection_state_in("2/3"),
            Err(StoreError::Conflict(_))
        ));
        assert!(store.plan_detection(&["a#b".to_owned()]).is_err());
        // A process still running unpartitioned after the plan changed does not start over.
        assert!(matches!(
            store.detection_state(),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.commit_detection(0, 9, &[], &[]),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.detection_partitions().unwrap().len(), 2);
    });
}

#[test]
fn a_new_plan_starts_where_detection_got_to_and_forgets_the_old_one() {
    on_every_backend(|store| {
        // An unpartitioned deployment at 42, with state.
        store
            .commit_detection(0, 42, &[], &[put("u|t|alice", "old")])
            .unwrap();
        plan(store, &[""]);
        assert_eq!(
            store.detection_state().unwrap().0,
            42,
            "same plan: nothing moves"
        );
        assert_eq!(store.detection_state().unwrap().1.len(), 1);
        plan(store, &["0/3", "1/3", "2/3"]);
        assert_eq!(
            store.detection_partitions().unwrap(),
            vec![
                ("0/3".to_owned(), 42),
                ("1/3".to_owned(), 42),
                ("2/3".to_owned(), 42)
            ]
        );
        for p in ["0/3", "1/3", "2/3"] {
            assert_eq!(store.detection_state_in(p).unwrap(), (42, Vec::new()));
        }
        // The unpartitioned detection is no longer in the plan (its old state is gone: see
        // below, when the plan comes back to it).
        assert!(matches!(
            store.detection_state(),
            Err(StoreError::Conflict(_))
        ));
        store
            .commit_detection_in("0/3", 42, 50, &[], &[put("u|t|bob", "x")])
            .unwrap();
        store.commit_detection_in("1/3", 42, 60, &[], &[]).unwrap();
        // Back to one: it starts at the slowest (2/3 at 42), so nothing is skipped, with no
        // state (neither the partitions' nor its own from before).
        plan(store, &[""]);
        assert_eq!(
            store.detection_partitions().unwrap(),
            vec![(String::new(), 42)]
        );
        assert_eq!(store.detection_state().unwrap(), (42, Vec::new()));
        assert_eq!(store.detection_progress().unwrap().0, 42);
    });
}

#[test]
fn entries_are_read_back_by_key_within_their_partition() {
    on_every_backend(|store| {
        store
            .commit_detection(0, 3, &[], &[put("u|t|alice", "a0"), put("u|t|bob", "b0")])
            .unwrap();
        let keys = |ks: &[&str]| ks.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let mut got = store
            .detection_entries_in("", &keys(&["u|t|bob", "u|t|carol", "u|t|alice"]))
            .unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("u|t|alice".to_owned(), b"a0".to_vec()),
                ("u|t|bob".to_owned(), b"b0".to_vec())
            ],
            "saved keys only"
        );
        assert!(store.detection_entries_in("", &[]).unwrap().is_empty());

        plan(store, &["0/2", "1/2"]);
        store
            .commit_detection_in("0/2", 3, 5, &[], &[put("u|t|alice", "a1")])
            .unwrap();
        store
            .commit_detection_in("1/2", 3, 5, &[], &[put("u|t|bob", "b1")])
            .unwrap();
        assert_eq!(
            store
                .detection_entries_in("0/2", &keys(&["u|t|alice", "u|t|bob"]))
                .unwrap(),
            vec![("u|t|alice".to_owned(), b"a1".to_vec())],
            "a partition reads its own entries, under the engine's keys"
        );
        assert_eq!(
            store
                .detection_entries_in("1/2", &keys(&["u|t|bob"]))
                .unwrap(),
            vec![("u|t|bob".to_owned(), b"b1".to_vec())]
        );
    });
}

#[test]
fn saved_state_is_handed_over_entry_by_entry_and_a_refusal_stops_the_read() {
    on_every_backend(|store| {
        // More entries than one page of a backend that reads in pages.
        let entries: Vec<(String, Option<Vec<u8>>)> = (0..2_500)
            .map(|i| put(&format!("u|t|user{i:05}"), &format!("v{i}")))
            .collect();
        store.commit_detection(0, 7, &[], &entries).unwrap();
        let mut seen = Vec::new();
        let seq = store
            .detection_state_visit("", &mut |e| {
                seen.push(e);
                Ok(())
            })
            .unwrap();
        assert_eq!(seq, 7);
        seen.sort();
        let want: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unwrap()))
            .collect();
        assert_eq!(seen, want, "each entry once");

        let mut read = 0;
        let refused = store.detection_state_visit("", &mut |_| {
            read += 1;
            if read == 3 {
                return Err(StoreError::Corrupt("refused".into()));
            }
            Ok(())
        });
        assert!(
            matches!(refused, Err(StoreError::Corrupt(_))),
            "{refused:?}"
        );
        assert_eq!(read, 3);

        plan(store, &["0/2", "1/2"]);
        store
            .commit_detection_in("1/2", 7, 9, &[], &entries)
            .unwrap();
        let mut seen = Vec::new();
        store
            .detection_state_visit("1/2", &mut |e| {
                seen.push(e);
                Ok(())
            })
            .unwrap();
        seen.sort();
        assert_eq!(seen, want, "a partition's entries under the engine's keys");
    });
}
