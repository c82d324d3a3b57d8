//! Sigma rules on real records: Splunk's and Panther's Microsoft 365 examples
//! (`../shared/corpora`), checked against hand-worked expectations; every rule evaluates on every
//! record without error, a missing field never matches, and a matching rule raises an alert.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::{splunk_and_panther, store_records, stored_events};
use skylight_detect::sigma::SigmaRules;
use skylight_detect::{DetectConfig, Detector, Engine, Event};
use skylight_store::{AlertQuery, SqliteStore, Store};

fn corpora() -> Option<PathBuf> {
    common::corpora("")
}

fn rules() -> SigmaRules {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigma_rules");
    SigmaRules::load(&[dir]).unwrap()
}

#[test]
fn rules_for_other_products_are_skipped_and_broken_files_are_named() {
    let r = rules();
    assert_eq!(r.rules().count(), 5);
    assert_eq!(r.skipped, 1);
    assert!(r.rules().all(|x| x.id.starts_with("sigma:")));
    let err = SigmaRules::from_yaml(&[("bad.yml".into(), "title: x\nlogsource: {product: m365}\ndetection:\n  sel: {a: b}\n  condition: sel and nothing\n".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.yml"), "{err}");
}

#[test]
fn verdicts_on_the_splunk_and_panther_records_are_the_hand_worked_ones() {
    let Some(dir) = corpora() else { return };
    let rules = rules();
    let events = stored_events(&splunk_and_panther(&dir));
    let mut matched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, e) in &events {
        for (rule, _) in rules.evaluate(e) {
            matched.entry(rule).or_default().insert(name.clone());
        }
    }
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let fw = "panther/Microsoft365.Exchange.External.Forwarding";
    let expected: BTreeMap<String, BTreeSet<String>> = [
        (
            "sigma:9f0c2d6e-4b1a-4c53-9a55-1e7a0b3c2d01",
            set(&["splunk/o365_disable_strong_authentication_"]),
        ),
        (
            "sigma:9f0c2d6e-4b1a-4c53-9a55-1e7a0b3c2d02",
            set(&[
                &format!("{fw}/Suspicious Forwarding Pattern"),
                &format!("{fw}/Multiple Forwarding Addresses"),
            ]),
        ),
        (
            "sigma:9f0c2d6e-4b1a-4c53-9a55-1e7a0b3c2d03",
            set(&[
                &format!("{fw}/External Organization Forwarding"),
                &format!("{fw}/Internal Organization Forwarding"),
                &format!("{fw}/Invalid Identity Format"),
                &format!("{fw}/Missing Organization Name"),
                &format!("{fw}/Subdomain Forwarding (Internal)"),
                &format!("{fw}/Similar Domain Forwarding (External)"),
                &format!("{fw}/Non-Com TLD Organization"),
            ]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(matched, expected);
    assert!(events.len() >= 37, "{} records", events.len());
}

#[test]
fn defender_field_names_are_mapped_and_a_match_raises_an_alert() {
    let alert = |name: &str, workload: &str| {
        serde_json::json!({
            "Id": format!("alert-{name}"), "CreationTime": "2026-11-10T08:00:00", "RecordType": 40,
            "Operation": "AlertTriggered", "Workload": workload, "UserId": "SecurityComplianceAlerts",
            "UserType": 4, "Name": name, "Severity": "Medium", "Source": "Cloud App Security",
            "ResultStatus": "Succeeded"
        })
    };
    let store = SqliteStore::open_in_memory().unwrap();
    store_records(
        &store,
        &[
            alert("Impossible travel activity", "SecurityComplianceCenter"),
            alert(
                "Activity from infrequent country",
                "SecurityComplianceCenter",
            ),
            alert("Impossible travel activity", "Exchange"),
        ],
        &skylight_enrich::Enricher::builtin_only().unwrap(),
        0,
    );
    let engine = Engine::new(&DetectConfig::policies_only(), Vec::new())
        .unwrap()
        .with_sigma(rules())
        .unwrap();
    let mut detector = Detector::open(&store, engine).unwrap();
    detector.catch_up().unwrap();
    let alerts = store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0].draft;
    assert_eq!(a.policy, "sigma:9f0c2d6e-4b1a-4c53-9a55-1e7a0b3c2d04");
    assert_eq!(a.kind, "sigma");
    assert_eq!(a.activity_ids, vec!["alert-Impossible travel activity"]);
    assert!(
        a.facts[0].contains("impossible travel reported by Microsoft"),
        "{:?}",
        a.facts
    );
}

#[test]
fn every_rule_evaluates_on_a_simulated_day_without_error() {
    // A day of every RecordType the simulator writes, through every rule: no panic, and the rule on a
    // field nobody writes never matches.
    let values = common::simulated_day();
    let store = SqliteStore::open_in_memory().unwrap();
    store_records(
        &store,
        &values,
        &skylight_enrich::Enricher::builtin_only().unwrap(),
        0,
    );
    let rules = rules();
    let mut seen = 0;
    for s in store.activities_since(0, usize::MAX >> 1).unwrap() {
        let e = Event::new(s);
        for (rule, _) in rules.evaluate(&e) {
            assert_ne!(rule, "sigma:9f0c2d6e-4b1a-4c53-9a55-1e7a0b3c2d05");
        }
        seen += 1;
    }
    assert!(seen > 1_000, "{seen}");
}
