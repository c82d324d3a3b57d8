//! Detection spread over partitions raises what one detector raises: a simulated day (every
//! attack scenario in it) stored for three tenants, evaluated once whole and once by
//! partition detectors taking turns in small steps, as processes sharing the work would.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use skylight_detect::{DetectConfig, Detector, Engine, PartitionBy, Partitioning};
use skylight_store::{SqliteStore, Store};

/// What was raised: (tenant, detection, users), signals included.
fn raised(store: &dyn Store) -> BTreeSet<(String, String, Vec<String>)> {
    common::all_alerts(store)
        .into_iter()
        .map(|a| (a.tenant, a.policy, a.users))
        .collect()
}

fn config() -> DetectConfig {
    DetectConfig {
        learning_days: 0.25,
        ..DetectConfig::default()
    }
}

/// Evaluates with `partitioning`: each partition's detector reopened from the store after
/// every step (a process handing a partition over), steps of a few hundred activities.
fn partitioned(store: &SqliteStore, partitioning: Partitioning) {
    store.plan_detection(&partitioning.names()).unwrap();
    let newest = store.detection_progress().unwrap().1;
    loop {
        for p in partitioning.partitions() {
            let engine = Engine::new(&config(), Vec::new()).unwrap();
            let mut d = Detector::open_partition(store, engine, p).unwrap();
            d.step(300).unwrap();
        }
        if store.detection_progress().unwrap().0 >= newest {
            break;
        }
    }
}

#[test]
fn partitions_by_tenant_raise_what_one_detector_raises() {
    let day = common::simulated_day();
    let whole = common::three_tenants(&day);
    let mut d = Detector::open(&whole, Engine::new(&config(), Vec::new()).unwrap()).unwrap();
    d.catch_up().unwrap();
    let expected = raised(&whole);
    assert!(
        common::TENANTS
            .iter()
            .all(|t| expected.iter().filter(|a| a.0 == *t).count() >= 5),
        "every tenant has incidents: {expected:#?}"
    );

    let split = common::three_tenants(&day);
    partitioned(
        &split,
        Partitioning {
            count: 3,
            by: PartitionBy::Tenant,
        },
    );
    assert_eq!(raised(&split), expected);
    let partitions = split.detection_partitions().unwrap();
    assert_eq!(partitions.len(), 3);
    let newest = split.detection_progress().unwrap().1;
    assert!(
        partitions.iter().all(|(_, seq)| *seq == newest),
        "{partitions:?}"
    );
}

#[test]
fn partitions_by_user_raise_every_per_user_incident() {
    let day = common::simulated_day();
    let whole = common::three_tenants(&day);
    let mut d = Detector::open(&whole, Engine::new(&config(), Vec::new()).unwrap()).unwrap();
    d.catch_up().unwrap();
    let split = common::three_tenants(&day);
    partitioned(
        &split,
        Partitioning {
            count: 4,
            by: PartitionBy::User,
        },
    );
    let got = raised(&split);
    // Per-user detections are exact; tenant-wide facts are per partition (README).
    let per_user = |set: &BTreeSet<(String, String, Vec<String>)>| -> BTreeSet<_> {
        set.iter().filter(|a| a.2.len() == 1).cloned().collect()
    };
    let expected = per_user(&raised(&whole));
    assert!(expected.len() >= 15, "{expected:#?}");
    assert_eq!(per_user(&got), expected);
}
