//! Panther's Microsoft 365 rule tests (`../shared/corpora/panther`): Skylight's equivalent
//! policies and detections agree with all 19 verdicts, and the brute-force threshold raises one
//! alert for ten failures within the hour and none for nine.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

mod common;

use common::{as_api_record, detect};
use skylight_detect::DetectConfig;

fn corpus() -> Option<PathBuf> {
    common::corpora("panther")
}

fn cases(dir: &std::path::Path, rule: &str) -> Vec<(String, bool, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join(format!("{rule}.tests.json"))).unwrap();
    let tests: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    tests
        .into_iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["expected_alert"].as_bool().unwrap(),
                as_api_record(&t["log"]),
            )
        })
        .collect()
}

/// One failed sign-in matches; the policy is Panther's brute-force rule as an activity policy.
const BRUTE_FORCE_SINGLE: &str = "[[policy]]\nid = \"brute-force\"\nname = \"Brute force\"\nfilters = [\"operation=UserLoginFailed\"]\n";
const BRUTE_FORCE: &str = "[[policy]]\nid = \"brute-force\"\nname = \"Brute force\"\nfilters = [\"operation=UserLoginFailed\"]\nrepeated = { count = 10, within_minutes = 60 }\n";

fn sharing_config() -> DetectConfig {
    // Panther's example allow-lists, which its negative tests rely on.
    toml::from_str(
        "[anomaly.external_sharing]\nallowed_domains = [\"mycompany.com\", \"alloweddomain.com\"]\nallowed_users = [\"exception@outsider.com\"]\nallowed_paths = [\"/External/\"]\n",
    )
    .unwrap()
}

#[test]
fn every_panther_verdict_is_matched() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    let rules: [(&str, &str, DetectConfig, &str); 4] = [
        (
            "Microsoft365.Brute.Force.Login.by.User",
            "brute-force",
            DetectConfig::policies_only(),
            BRUTE_FORCE_SINGLE,
        ),
        (
            "Microsoft365.External.Document.Sharing",
            "external_sharing",
            sharing_config(),
            "",
        ),
        (
            "Microsoft365.MFA.Disabled",
            "mfa_disabled",
            DetectConfig::default(),
            "",
        ),
        (
            "Microsoft365.Exchange.External.Forwarding",
            "inbox_forwarding",
            DetectConfig::default(),
            "",
        ),
    ];
    for (rule, ours, config, policies) in rules {
        for (name, expected, record) in cases(&dir, rule) {
            let raised = detect(&config, policies, std::slice::from_ref(&record));
            let got = raised.iter().any(|a| a.policy == ours);
            assert_eq!(
                got, expected,
                "{rule} / {name}: expected {expected}, {ours} said {got}; raised: {raised:#?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 19, "all 19 Panther verdicts");
}

#[test]
fn ten_failures_within_the_hour_raise_one_alert_and_nine_none() {
    let Some(dir) = corpus() else { return };
    let (_, expected, positive) = cases(&dir, "Microsoft365.Brute.Force.Login.by.User")
        .into_iter()
        .find(|c| c.1)
        .unwrap();
    assert!(expected);
    let replay = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                let mut r = positive.clone();
                r["Id"] = serde_json::json!(format!("replay-{i}"));
                r["CreationTime"] = serde_json::json!(format!("2022-12-12T15:{:02}:57", 5 * i));
                r
            })
            .collect()
    };
    let ten = detect(&DetectConfig::policies_only(), BRUTE_FORCE, &replay(10));
    assert_eq!(ten.len(), 1, "{ten:#?}");
    assert_eq!(ten[0].activity_count, 10);
    assert!(
        ten[0].facts[0].starts_with("10 matching activities"),
        "{:?}",
        ten[0].facts
    );
    let nine = detect(&DetectConfig::policies_only(), BRUTE_FORCE, &replay(9));
    assert!(nine.is_empty(), "{nine:#?}");
}
