//! Detections on hand-made records: the cases the simulated week does not exercise, or not
//! alone (late markers, suppression by named ranges, learning, restarts mid-burst, scopes).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{detect, run, store_records};
use serde_json::{Value, json};
use skylight_detect::DetectConfig;
use skylight_store::{SqliteStore, Store};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-10T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A minimal audit record.
fn rec(n: u32, at: DateTime<Utc>, rt: i64, op: &str, user: &str, ip: &str) -> Value {
    json!({
        "Id": format!("00000000-0000-4000-8000-{n:012}"),
        "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "RecordType": rt,
        "Operation": op,
        "UserId": user,
        "UserType": 0,
        "ClientIP": ip,
        "ResultStatus": "Succeeded",
        "Workload": if rt == 6 { "SharePoint" } else { "AzureActiveDirectory" },
        "OrganizationId": "4a3b2c1d-0000-4000-8000-000000000001",
    })
}

fn disable(n: u32, at: DateTime<Utc>, enabled: bool) -> Value {
    let mut r = rec(n, at, 8, "Update user.", "admin@contoso.com", "73.10.20.30");
    r["ObjectId"] = json!("victim@contoso.com");
    r["ModifiedProperties"] = json!([
        {"Name": "AccountEnabled", "NewValue": format!("[{enabled}]"), "OldValue": format!("[{}]", !enabled)},
        {"Name": "Included Updated Properties", "NewValue": "AccountEnabled", "OldValue": ""}
    ]);
    r
}

fn policies_of(alerts: &[skylight_model::AlertDraft]) -> Vec<&str> {
    alerts.iter().map(|a| a.policy.as_str()).collect()
}

#[test]
fn activity_after_the_account_is_disabled_alerts_and_after_re_enabling_does_not() {
    let download = rec(
        2,
        t0() + Duration::minutes(10),
        6,
        "FileDownloaded",
        "victim@contoso.com",
        "73.10.20.31",
    );
    let alerts = detect(
        &DetectConfig::default(),
        "",
        &[disable(1, t0(), false), download.clone()],
    );
    let a = alerts
        .iter()
        .find(|a| a.policy == "disabled_user")
        .expect("disabled_user");
    assert_eq!(a.users, vec!["victim@contoso.com"]);
    assert!(
        a.facts[0].contains("disabled by admin@contoso.com"),
        "{:?}",
        a.facts
    );

    let alerts = detect(
        &DetectConfig::default(),
        "",
        &[
            disable(1, t0(), false),
            disable(3, t0() + Duration::minutes(5), true),
            download,
        ],
    );
    assert!(
        !policies_of(&alerts).contains(&"disabled_user"),
        "{alerts:#?}"
    );
}

#[test]
fn a_disable_marker_arriving_after_the_activity_still_alerts_across_a_restart() {
    let store = SqliteStore::open_in_memory().unwrap();
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    // The download is stored and evaluated first (its blob came first)…
    let download = rec(
        2,
        t0() + Duration::minutes(10),
        6,
        "FileDownloaded",
        "victim@contoso.com",
        "73.10.20.31",
    );
    store_records(&store, &[download], &enricher, 0);
    assert!(run(&store, &DetectConfig::default(), "").is_empty());
    // …then, by a new detector resuming from saved state, the earlier disable.
    store_records(&store, &[disable(1, t0(), false)], &enricher, 1);
    let alerts = run(&store, &DetectConfig::default(), "");
    let a = alerts
        .iter()
        .find(|a| a.policy == "disabled_user")
        .expect("late marker");
    assert_eq!(a.activity_ids, vec!["00000000-0000-4000-8000-000000000002"]);
}

#[test]
fn impossible_travel_alerts_unless_an_end_is_a_named_vpn_range() {
    let records = [
        rec(
            1,
            t0(),
            15,
            "UserLoggedIn",
            "alice@contoso.com",
            "73.10.20.30",
        ),
        rec(
            2,
            t0() + Duration::minutes(30),
            15,
            "UserLoggedIn",
            "alice@contoso.com",
            "126.10.20.30",
        ),
    ];
    let alerts = detect(&DetectConfig::default(), "", &records);
    let a = alerts
        .iter()
        .find(|a| a.policy == "impossible_travel")
        .expect("travel");
    assert!(
        a.facts[0].contains("from JP") && a.facts[0].contains("from US"),
        "{:?}",
        a.facts
    );
    assert!(a.facts[0].contains("30 minutes"), "{:?}", a.facts);
    assert!(
        a.facts[0].contains("9,716 km apart, 19,433 km/h needed"),
        "{:?}",
        a.facts
    );
    assert_eq!(a.countries.len(), 2);

    // The same with the Tokyo address tagged as the company's VPN egress.
    let store = SqliteStore::open_in_memory().unwrap();
    let enricher = skylight_enrich::Enricher::new(&skylight_enrich::EnrichConfig {
        ip_ranges: vec![skylight_enrich::IpRangeConfig {
            name: "VPN Tokyo".into(),
            category: skylight_enrich::IpCategory::Vpn,
            cidrs: vec!["126.10.20.0/24".into()],
            tags: vec![],
        }],
        ..Default::default()
    })
    .unwrap();
    store_records(&store, &records, &enricher, 0);
    let alerts = run(&store, &DetectConfig::default(), "");
    assert!(
        !policies_of(&alerts).contains(&"impossible_travel"),
        "{alerts:#?}"
    );
}

#[test]
fn a_new_country_is_a_signal_only_after_the_learning_period() {
    let config = DetectConfig {
        learning_days: 1.0,
        ..DetectConfig::default()
    };
    let home = |n: u32, h: i64| {
        rec(
            n,
            t0() + Duration::hours(h),
            15,
            "UserLoggedIn",
            "bob@contoso.com",
            "73.10.20.30",
        )
    };
    // Two hours in: still learning.
    let early = detect(
        &config,
        "",
        &[
            home(1, 0),
            rec(
                2,
                t0() + Duration::hours(2),
                15,
                "UserLoggedIn",
                "bob@contoso.com",
                "126.10.20.30",
            ),
        ],
    );
    assert!(
        !policies_of(&early).contains(&"infrequent_country"),
        "{early:#?}"
    );
    // Two days in: a first from JP.
    let late = detect(
        &config,
        "",
        &[
            home(1, 0),
            home(2, 30),
            rec(
                3,
                t0() + Duration::hours(48),
                15,
                "UserLoggedIn",
                "bob@contoso.com",
                "126.10.20.30",
            ),
        ],
    );
    let a = late
        .iter()
        .find(|a| a.policy == "infrequent_country")
        .expect("infrequent");
    assert!(
        a.signal_only,
        "a signal by default, as Defender for Cloud Apps ships it"
    );
    assert!(
        a.facts[0].contains("first activity from JP"),
        "{:?}",
        a.facts
    );
}

#[test]
fn a_ransom_note_upload_alerts() {
    let mut r = rec(
        1,
        t0(),
        6,
        "FileUploaded",
        "carol@contoso.com",
        "73.10.20.30",
    );
    r["SourceFileName"] = json!("HOW_TO_DECRYPT_FILES.txt");
    r["ObjectId"] = json!("https://contoso.sharepoint.com/sites/x/HOW_TO_DECRYPT_FILES.txt");
    let alerts = detect(&DetectConfig::default(), "", &[r.clone()]);
    assert!(policies_of(&alerts).contains(&"ransomware"), "{alerts:#?}");
    r["SourceFileName"] = json!("quarterly report.docx");
    r["ObjectId"] = json!("https://contoso.sharepoint.com/sites/x/quarterly report.docx");
    assert!(detect(&DetectConfig::default(), "", &[r]).is_empty());
}

#[test]
fn a_mass_download_split_by_a_restart_is_one_alert_with_every_download() {
    let downloads: Vec<Value> = (0..60)
        .map(|i| {
            rec(
                i + 1,
                t0() + Duration::seconds(i64::from(i) * 10),
                6,
                "FileDownloaded",
                "dave@contoso.com",
                "73.10.20.30",
            )
        })
        .collect();
    let store = SqliteStore::open_in_memory().unwrap();
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    store_records(&store, &downloads[..30], &enricher, 0);
    assert!(
        run(&store, &DetectConfig::default(), "").is_empty(),
        "30 is under the floor"
    );
    store_records(&store, &downloads[30..], &enricher, 30);
    let alerts = run(&store, &DetectConfig::default(), "");
    let mass: Vec<_> = alerts
        .iter()
        .filter(|a| a.policy == "mass_download")
        .collect();
    assert_eq!(mass.len(), 1, "{alerts:#?}");
    // Every download from the 50th on joins, with the span that crossed the floor.
    assert_eq!(mass[0].activity_count, 60, "{:?}", mass[0].facts);
}

#[test]
fn scopes_exclude_users_and_built_in_groups() {
    let failures: Vec<Value> = (0..3)
        .map(|i| {
            let mut r = rec(
                i + 1,
                t0() + Duration::minutes(i64::from(i)),
                15,
                "UserLoginFailed",
                "erin@contoso.com",
                "73.10.20.30",
            );
            r["ResultStatus"] = json!("Failed");
            r
        })
        .collect();
    let policy = |scope: &str| {
        format!(
            "[[policy]]\nid = \"p\"\nname = \"P\"\nfilters = [\"operation=UserLoginFailed\"]\nrepeated = {{ count = 3, within_minutes = 5 }}\n{scope}"
        )
    };
    let on = detect(&DetectConfig::policies_only(), &policy(""), &failures);
    assert_eq!(policies_of(&on), vec!["p"]);
    let off = detect(
        &DetectConfig::policies_only(),
        &policy("scope = { exclude_users = [\"ERIN@contoso.com\"] }\n"),
        &failures,
    );
    assert!(off.is_empty(), "{off:#?}");
    let admins_only = detect(
        &DetectConfig::policies_only(),
        &policy("scope = { include_groups = [\"administrators\"] }\n"),
        &failures,
    );
    assert!(admins_only.is_empty(), "{admins_only:#?}");
    // A directory group: its members (nested ones resolved by the store) are in scope.
    let in_finance = |members: &[&str], scope: &str| {
        let store = SqliteStore::open_in_memory().unwrap();
        store_records(
            &store,
            &failures,
            &skylight_enrich::Enricher::builtin_only().unwrap(),
            0,
        );
        let policies = skylight_detect::policy::parse_file(&policy(scope), "p.toml").unwrap();
        let mut directory = skylight_detect::GroupMembers::new();
        directory.insert(
            "finance".into(),
            members.iter().map(|m| m.to_string()).collect(),
        );
        let engine = skylight_detect::Engine::new(&DetectConfig::policies_only(), policies)
            .unwrap()
            .with_directory(directory);
        assert_eq!(engine.scope_groups().len(), 1);
        let mut detector = skylight_detect::Detector::open(&store, engine).unwrap();
        detector.catch_up().unwrap();
        store
            .alerts(&skylight_store::AlertQuery::default())
            .unwrap()
            .len()
    };
    let include = "scope = { include_groups = [\"Finance\"] }\n";
    assert_eq!(in_finance(&["erin@contoso.com"], include), 1);
    assert_eq!(in_finance(&["frank@contoso.com"], include), 0);
    // Excluding a group: its members are spared, and a group the directory does not know
    // spares everyone.
    let exclude = "scope = { exclude_groups = [\"Finance\"] }\n";
    assert_eq!(in_finance(&["erin@contoso.com"], exclude), 0);
    assert_eq!(in_finance(&["frank@contoso.com"], exclude), 1);
    let unknown = "scope = { exclude_groups = [\"Break-glass\"] }\n";
    assert_eq!(in_finance(&["frank@contoso.com"], unknown), 0);
    let err = skylight_detect::policy::parse_file(
        &policy("scope = { include_groups = [\" \"] }\n"),
        "p.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("an empty group name"), "{err}");
}

#[test]
fn bulk_uploads_with_bulk_deletions_look_like_ransomware_and_either_alone_does_not() {
    let at = |i: u32| t0() + Duration::seconds(i64::from(i) * 8);
    let mut uploads: Vec<Value> = (0..40)
        .map(|i| {
            let mut r = rec(
                i + 1,
                at(i),
                6,
                "FileUploaded",
                "frank@contoso.com",
                "73.10.20.30",
            );
            r["SourceFileName"] = json!(format!("report-{i}.docx.enc1"));
            r
        })
        .collect();
    let deletes: Vec<Value> = (0..40)
        .map(|i| {
            rec(
                i + 101,
                at(i) + Duration::seconds(3),
                6,
                "FileDeleted",
                "frank@contoso.com",
                "73.10.20.30",
            )
        })
        .collect();
    let alone = detect(&DetectConfig::default(), "", &uploads);
    assert!(!policies_of(&alone).contains(&"ransomware"), "{alone:#?}");
    uploads.extend(deletes);
    let both = detect(&DetectConfig::default(), "", &uploads);
    let a = both
        .iter()
        .find(|a| a.policy == "ransomware")
        .expect("ransomware");
    assert!(
        a.facts.iter().any(|f| f.contains("files replaced in bulk")),
        "{:?}",
        a.facts
    );
}

#[test]
fn state_forgets_old_addresses_and_idle_users() {
    // Also with one user in memory: the idle user is then forgotten from the store alone.
    for config in [
        DetectConfig::default(),
        DetectConfig {
            users_in_memory: 1,
            ..DetectConfig::default()
        },
    ] {
        forgets_old_addresses_and_idle_users(&config);
    }
}

fn forgets_old_addresses_and_idle_users(config: &DetectConfig) {
    let store = SqliteStore::open_in_memory().unwrap();
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    let failures: Vec<Value> = (0..20)
        .map(|i| {
            let mut r = rec(
                i + 1,
                t0(),
                15,
                "UserLoginFailed",
                "gina@contoso.com",
                &format!("73.10.20.{}", i + 1),
            );
            r["ResultStatus"] = json!("Failed");
            r
        })
        .collect();
    store_records(&store, &failures, &enricher, 0);
    // Aaron's key sorts first: restored with one user in memory, he is the one kept.
    let aaron = rec(
        50,
        t0(),
        6,
        "FileAccessed",
        "aaron@contoso.com",
        "73.10.20.50",
    );
    store_records(&store, &[aaron], &enricher, 50);
    run(&store, config, "");
    let addresses = |store: &SqliteStore| {
        skylight_store::Store::detection_state(store)
            .unwrap()
            .1
            .iter()
            .filter(|(k, _)| k.starts_with("a|"))
            .count()
    };
    assert_eq!(addresses(&store), 20, "each failing address is watched");
    // Two days later, activity elsewhere: the old addresses are dropped from saved state.
    let later = rec(
        100,
        t0() + Duration::days(2),
        6,
        "FileAccessed",
        "gina@contoso.com",
        "73.10.20.99",
    );
    store_records(&store, &[later], &enricher, 20);
    run(&store, config, "");
    assert_eq!(addresses(&store), 0);
    // Fifty days on, someone else is active: Gina's idle baseline is forgotten too.
    let saved = |store: &SqliteStore, key: &str| {
        skylight_store::Store::detection_state(store)
            .unwrap()
            .1
            .iter()
            .any(|(k, _)| k == key)
    };
    assert!(saved(&store, "u|contoso|gina@contoso.com"));
    let much_later = rec(
        101,
        t0() + Duration::days(50),
        6,
        "FileAccessed",
        "ivan@contoso.com",
        "73.10.20.98",
    );
    store_records(&store, &[much_later], &enricher, 21);
    run(&store, config, "");
    assert!(!saved(&store, "u|contoso|gina@contoso.com"));
    assert!(!saved(&store, "u|contoso|aaron@contoso.com"));
    assert!(saved(&store, "u|contoso|ivan@contoso.com"));
}

#[test]
fn a_long_burst_counts_each_activity_once() {
    let downloads: Vec<Value> = (0..600)
        .map(|i| {
            rec(
                i + 1,
                t0() + Duration::seconds(i64::from(i) * 5),
                6,
                "FileDownloaded",
                "hana@contoso.com",
                "73.10.20.30",
            )
        })
        .collect();
    let policy = "[[policy]]\nid = \"five\"\nname = \"Five downloads\"\nfilters = [\"category=file_download\"]\nrepeated = { count = 5, within_minutes = 60 }\n";
    let alerts = detect(&DetectConfig::policies_only(), policy, &downloads);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].activity_count, 600);
    assert_eq!(alerts[0].activity_ids.len(), 500, "ids kept up to the cap");
}

/// The records of one consent name the app by different ids (the service principal's object
/// id, its app id): they join one incident, keyed by the id the app was added under.
#[test]
fn one_consent_to_a_new_app_is_one_alert_whatever_id_each_record_names() {
    let sp = "5d8e2a10-0000-4000-8000-00000000aaaa";
    let app = "9f1c7b44-0000-4000-8000-00000000bbbb";
    let mut added = rec(
        1,
        t0(),
        8,
        "Add service principal.",
        "admin@contoso.com",
        "73.10.20.30",
    );
    added["ObjectId"] = json!(sp);
    added["Target"] = json!([{"Type": 2, "ID": format!("ServicePrincipal_{app}")}]);
    let mut consent = rec(
        2,
        t0() + Duration::minutes(2),
        8,
        "Consent to application.",
        "bob@contoso.com",
        "73.10.20.31",
    );
    consent["Target"] = json!([{"Type": 2, "ID": format!("ServicePrincipal_{app}")}, {"Type": 1, "ID": "Mail Helper"}]);
    consent["ModifiedProperties"] = json!([
        {"Name": "ConsentAction.Permissions", "NewValue": "[[Id: x, Scope:  Mail.ReadWrite User.Read, CreatedDateTime: ]]", "OldValue": ""}
    ]);
    let mut grant = rec(
        3,
        t0() + Duration::minutes(2),
        8,
        "Add delegated permission grant.",
        "bob@contoso.com",
        "73.10.20.31",
    );
    grant["ObjectId"] = json!(sp);
    grant["ModifiedProperties"] = json!([
        {"Name": "DelegatedPermissionGrant.Scope", "NewValue": "Mail.ReadWrite User.Read", "OldValue": ""}
    ]);
    let alerts = detect(&DetectConfig::default(), "", &[added, consent, grant]);
    let consents: Vec<_> = alerts
        .iter()
        .filter(|a| a.policy == "oauth_high_privilege")
        .collect();
    assert_eq!(consents.len(), 1, "{alerts:#?}");
    assert_eq!(consents[0].activity_ids.len(), 2, "{:#?}", consents[0]);
}
