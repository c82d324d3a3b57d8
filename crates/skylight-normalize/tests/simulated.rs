//! Every record a simulated tenant publishes, of every documented RecordType, normalises to a
//! named type and an app, with its client IP read; and arbitrary JSON never panics the normaliser.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::Value;
use skylight_model::App;
use skylight_normalize::normalize;
use skylight_sim::SimConfig;
use skylight_sim::catalog::ContentType;

#[test]
fn a_simulated_week_normalises_completely() {
    let cfg = SimConfig {
        users: 500,
        days: 7,
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
        ..SimConfig::default()
    };
    let sim = skylight_sim::build(cfg, "http://127.0.0.1:9".into()).expect("sim");
    let horizon = sim.horizon();
    let mut types = BTreeSet::new();
    let mut records = 0usize;
    for ct in ContentType::ALL {
        for meta in sim.feed.published(ct, horizon) {
            let blob: Vec<Value> =
                serde_json::from_slice(&sim.feed.blob_json(&meta, false)).unwrap();
            for record in blob {
                let raw = record.to_string();
                let a = normalize(raw.as_bytes()).unwrap_or_else(|e| panic!("{e}: {raw}"));
                assert_ne!(a.app, App::Unknown, "{raw}");
                assert_ne!(a.record_type_name, "Unknown", "{raw}");
                assert!(a.time.is_some(), "{raw}");
                assert!(
                    a.ip_text.is_none(),
                    "every simulated client IP is an address: {raw}"
                );
                assert!(!a.operation.is_empty(), "{raw}");
                types.insert(a.record_type.unwrap());
                records += 1;
            }
        }
    }
    assert!(records > 100_000, "{records}");
    assert_eq!(types.len(), 257, "every documented RecordType was seen");
}

#[test]
fn administrative_activity_is_told_from_self_service() {
    let a = |json: &str| normalize(json.as_bytes()).unwrap();
    let own = a(
        r#"{"Id":"1","RecordType":8,"Operation":"Change user password.","UserType":0,"UserId":"bob@x.com"}"#,
    );
    assert!(!own.admin, "a user's own password change");
    let reset = a(
        r#"{"Id":"2","RecordType":8,"Operation":"Reset user password.","UserType":0,"UserId":"it@x.com"}"#,
    );
    assert!(reset.admin);
    let user_consent = a(
        r#"{"Id":"3","RecordType":8,"Operation":"Consent to application.","UserType":0,"ModifiedProperties":[{"Name":"ConsentContext.IsAdminConsent","NewValue":"False","OldValue":""}]}"#,
    );
    assert!(!user_consent.admin, "a user's own consent");
    let admin_consent = a(
        r#"{"Id":"4","RecordType":8,"Operation":"Consent to application.","UserType":0,"ModifiedProperties":[{"Name":"ConsentContext.IsAdminConsent","NewValue":"True","OldValue":""}]}"#,
    );
    assert!(admin_consent.admin);
    let partner = a(
        r#"{"Id":"5","RecordType":1,"Operation":"Get-Mailbox","UserType":9,"UserId":"tech@partner.example"}"#,
    );
    assert!(partner.admin && partner.actor.kind == skylight_model::ActorKind::External);
    let forward = a(
        r#"{"Id":"6","RecordType":1,"Operation":"Set-Mailbox","UserType":2,"Parameters":[{"Name":"Identity","Value":"ceo"},{"Name":"ForwardingSmtpAddress","Value":"smtp:x@evil.example"}]}"#,
    );
    assert_eq!(forward.category, skylight_model::Category::MailboxRule);
    let quota = a(
        r#"{"Id":"7","RecordType":1,"Operation":"Set-Mailbox","UserType":2,"Parameters":[{"Name":"Identity","Value":"ceo"},{"Name":"ProhibitSendQuota","Value":"50GB"}]}"#,
    );
    assert_eq!(quota.category, skylight_model::Category::AdminSettings);
    let rule = a(r#"{"Id":"8","RecordType":1,"Operation":"Enable-TransportRule","UserType":2}"#);
    assert_eq!(rule.category, skylight_model::Category::MailboxRule);
}

/// Arbitrary JSON values, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[\\[{].{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("Id".to_owned()),
                    Just("RecordType".to_owned()),
                    Just("ClientIP".to_owned()),
                    Just("Parameters".to_owned()),
                    Just("ModifiedProperties".to_owned()),
                    Just("Name".to_owned()),
                    Just("Value".to_owned()),
                    Just("Target".to_owned()),
                    Just("UserId".to_owned()),
                    Just("Operation".to_owned()),
                    ".{0,8}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(v in json()) {
        let _ = normalize(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = normalize(&bytes);
    }
}
