//! Shared by the detection tests: records stored as the collector stores them, then detection.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use skylight_detect::{DetectConfig, Detector, Engine};
use skylight_model::{AlertDraft, BlobRef, ContentType};
use skylight_store::{AlertQuery, RecordBatch, SqliteStore, Store};

/// Stores records (normalised and enriched like the collector does), one blob each.
pub fn store_records(
    store: &SqliteStore,
    records: &[serde_json::Value],
    enricher: &skylight_enrich::Enricher,
    first_blob: usize,
) {
    for (i, r) in records.iter().enumerate() {
        let raw = serde_json::to_vec(r).unwrap();
        let mut columns = skylight_normalize::record_columns(&raw).unwrap();
        enricher.enrich(&mut columns);
        let mut batch = RecordBatch::new().unwrap();
        batch.push(columns, &raw).unwrap();
        let blob = BlobRef {
            content_id: format!("blob-{}", first_blob + i),
            created: chrono::Utc::now(),
        };
        store
            .commit_batch("contoso", ContentType::General, &blob, batch)
            .unwrap();
    }
}

/// Runs detection over everything stored; returns every alert and signal in the store.
pub fn run(store: &SqliteStore, config: &DetectConfig, policies: &str) -> Vec<AlertDraft> {
    let policies = skylight_detect::policy::parse_file(policies, "test.toml").unwrap();
    let engine = Engine::new(config, policies).unwrap();
    let mut detector = Detector::open(store, engine).unwrap();
    detector.catch_up().unwrap();
    store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| a.draft)
        .collect()
}

/// Stores the records in a fresh store and runs detection over them.
pub fn detect(
    config: &DetectConfig,
    policies: &str,
    records: &[serde_json::Value],
) -> Vec<AlertDraft> {
    let store = SqliteStore::open_in_memory().unwrap();
    store_records(
        &store,
        records,
        &skylight_enrich::Enricher::builtin_only().unwrap(),
        0,
    );
    run(&store, config, policies)
}

/// Panther's lower-case field names, as the Management Activity API writes them.
pub const FIELD_NAMES: [&str; 16] = [
    "ClientIP",
    "CreationTime",
    "ExternalAccess",
    "Id",
    "ObjectId",
    "Operation",
    "OrganizationId",
    "OrganizationName",
    "OriginatingServer",
    "Parameters",
    "RecordType",
    "ResultStatus",
    "UserId",
    "UserKey",
    "UserType",
    "Workload",
];

/// A Panther test log as the API would have sent it: lower-case keys restored.
pub fn as_api_record(log: &serde_json::Value) -> serde_json::Value {
    let obj = log.as_object().unwrap();
    let restored = obj
        .iter()
        .map(|(k, v)| {
            let key = FIELD_NAMES
                .iter()
                .find(|n| n.to_ascii_lowercase() == *k)
                .map_or(k.clone(), |n| (*n).to_owned());
            (key, v.clone())
        })
        .collect();
    serde_json::Value::Object(restored)
}

/// A folder of `../shared/corpora`, when the checkout has it (required when
/// `SKYLIGHT_REQUIRE_CORPORA` is set, as the test command sets it).
pub fn corpora(sub: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora")
        .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SKYLIGHT_REQUIRE_CORPORA").is_none(),
        "SKYLIGHT_REQUIRE_CORPORA is set but {} is missing",
        dir.display()
    );
    None
}
