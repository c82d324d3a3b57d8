//! A policy's filter matches in memory exactly what the same filter lists in the activity log
//! (the store's SQL): two independent implementations of one language, checked against each
//! other on a simulated tenant's records, for every field and operator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use serde_json::value::RawValue;
use skylight_detect::Event;
use skylight_model::filter::Filter;
use skylight_model::{BlobRef, ContentType};
use skylight_store::{ActivityQuery, RecordBatch, SqliteStore, Store};

fn ct(c: skylight_sim::catalog::ContentType) -> ContentType {
    use skylight_sim::catalog::ContentType as S;
    match c {
        S::AzureActiveDirectory => ContentType::AzureActiveDirectory,
        S::Exchange => ContentType::Exchange,
        S::SharePoint => ContentType::SharePoint,
        S::General => ContentType::General,
        S::Dlp => ContentType::Dlp,
    }
}

/// A store holding a small simulated tenant's records, normalised and enriched as collected
/// (Tor exits among the addresses, so `ip_tag=risky` has something to find).
fn filled() -> SqliteStore {
    let cfg = skylight_sim::SimConfig {
        users: 60,
        days: 2,
        scenarios: "all".parse().unwrap(),
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
        ..skylight_sim::SimConfig::default()
    };
    let sim = skylight_sim::build(cfg, "http://127.0.0.1:9".into()).unwrap();
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let mut n = 0;
    for c in skylight_sim::catalog::ContentType::ALL {
        for meta in sim.feed.published(c, sim.horizon()) {
            let body = sim.feed.blob_json(&meta, false);
            let records: Vec<&RawValue> = serde_json::from_slice(&body).unwrap();
            let mut batch = RecordBatch::new().unwrap();
            for raw in records {
                let raw = raw.get().as_bytes();
                let mut columns = skylight_normalize::record_columns(raw).unwrap();
                enricher.enrich(&mut columns);
                batch.push(columns, raw).unwrap();
            }
            n += 1;
            let blob = BlobRef {
                content_id: format!("b{n}"),
                created: meta.created,
            };
            store.commit_batch("contoso", ct(c), &blob, batch).unwrap();
        }
    }
    store
}

#[test]
fn policies_match_what_the_activity_log_lists() {
    let store = filled();
    let events: Vec<Event> = store
        .activities_since(0, usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(Event::new)
        .collect();
    assert!(events.len() > 5_000, "{} activities", events.len());
    let some_user = events.iter().find_map(|e| e.row.user.clone()).unwrap();
    let some_ip = events.iter().find_map(|e| e.row.ip.clone()).unwrap();
    let t0 = events.iter().filter_map(|e| e.row.time).min().unwrap();
    let filters: Vec<Vec<String>> = [
        vec!["app=exchange".to_string()],
        vec!["app!=exchange,share-point".into()],
        vec!["category=login".into(), "result=failure".into()],
        vec!["category=file_download,file_share".into()],
        vec!["actor_kind=admin,external".into()],
        vec!["actor_kind!=user".into()],
        vec!["admin=true".into()],
        vec!["admin=false".into(), "external=true".into()],
        vec!["impersonated=true".into()],
        vec!["record_type=1..20".into()],
        vec!["record_type=15".into()],
        vec!["workload=AZUREACTIVEDIRECTORY".into()],
        vec!["operation=filedownloaded,UserLoginFailed".into()],
        vec!["operation!=FileAccessed".into()],
        vec![format!("user={}", some_user.to_uppercase())],
        vec!["user!=*".into()],
        vec!["user=*".into(), "ip!=*".into()],
        vec![format!("ip={some_ip}")],
        vec!["ip=185.220.100.0/22,10.0.0.0/8".into()],
        vec![format!("ip=::ffff:{some_ip}")],
        vec!["ip=::ffff:185.220.100.0/118".into()],
        vec!["ip!=::ffff:0.0.0.0/96".into()],
        vec!["ip_tag=risky".into()],
        vec!["ip_tag=tag:tor".into()],
        vec!["country=US,gb".into()],
        vec!["country!=US".into(), "category=login".into()],
        vec!["device_type=mobile".into()],
        vec!["client_app=Chrome".into()],
        vec!["os=Windows,macOS".into()],
        vec!["user_agent~python".into()],
        vec!["text~invoice".into()],
        vec!["text~WOODGROVE".into(), "app=teams".into()],
        vec![format!(
            "time={}..{}",
            (t0 + chrono::Duration::hours(5)).to_rfc3339(),
            (t0 + chrono::Duration::hours(9)).to_rfc3339()
        )],
        vec!["result=success".into(), "category=mailbox_rule".into()],
    ]
    .into_iter()
    .collect();
    let mut nonempty = 0;
    for f in &filters {
        let filter = Filter::parse(f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        let listed: BTreeSet<String> = store
            .activities(&ActivityQuery {
                tenant: None,
                filter: filter.clone(),
                limit: 1_000_000,
                after: None,
            })
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.id)
            .collect();
        let matched: BTreeSet<String> = events
            .iter()
            .filter(|e| skylight_detect::matches(&filter, e))
            .map(|e| e.row.id.clone())
            .collect();
        assert_eq!(
            listed.len(),
            matched.len(),
            "{f:?}: the log lists {}, a policy matches {}; e.g. {:?} / {:?}",
            listed.len(),
            matched.len(),
            listed.difference(&matched).next(),
            matched.difference(&listed).next()
        );
        assert_eq!(listed, matched, "{f:?}");
        if !listed.is_empty() {
            nonempty += 1;
        }
    }
    // The comparison means something only where filters select something.
    assert!(
        nonempty >= filters.len() - 3,
        "only {nonempty} of {} filters selected anything",
        filters.len()
    );
}
