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

/// Stores `records` for `tenant` as one blob, normalised and enriched as collected.
pub fn store_batch(store: &SqliteStore, tenant: &str, blob: &str, records: &[serde_json::Value]) {
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    let mut batch = RecordBatch::new().unwrap();
    for r in records {
        let raw = serde_json::to_vec(r).unwrap();
        let mut columns = skylight_normalize::record_columns(&raw).unwrap();
        enricher.enrich(&mut columns);
        batch.push(columns, &raw).unwrap();
    }
    let blob = BlobRef {
        content_id: blob.to_owned(),
        created: chrono::Utc::now(),
    };
    store
        .commit_batch(tenant, ContentType::General, &blob, batch)
        .unwrap();
}

/// The tenants of [`three_tenants`].
pub const TENANTS: [&str; 3] = ["contoso", "fabrikam", "northwind"];

/// A store holding `records` once per tenant, in blobs of 50, the tenants' blobs interleaved.
pub fn three_tenants(records: &[serde_json::Value]) -> SqliteStore {
    let store = SqliteStore::open_in_memory().unwrap();
    for (i, chunk) in records.chunks(50).enumerate() {
        for tenant in TENANTS {
            store_batch(&store, tenant, &format!("{tenant}-{i}"), chunk);
        }
    }
    store
}

/// Every alert and signal in the store.
pub fn all_alerts(store: &dyn Store) -> Vec<AlertDraft> {
    store
        .alerts(&AlertQuery {
            include_signals: true,
            limit: 0,
            ..AlertQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| a.draft)
        .collect()
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

/// Every record of the two corpora, named `splunk/<file>` or `panther/<rule>/<test>`, each
/// given its own Id (Panther's tests share theirs).
pub fn splunk_and_panther(dir: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("splunk"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        out.push((
            format!("splunk/{}", f.file_stem().unwrap().to_string_lossy()),
            r,
        ));
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.join("panther"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tests.json"))
        .collect();
    files.sort();
    for f in files {
        let rule = f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".tests.json", "");
        let tests: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for t in tests {
            out.push((
                format!("panther/{rule}/{}", t["name"].as_str().unwrap()),
                as_api_record(&t["log"]),
            ));
        }
    }
    for (i, (_, r)) in out.iter_mut().enumerate() {
        r["Id"] = serde_json::json!(format!("corpus-{i}"));
    }
    out
}

/// The records stored as the collector stores them, as detection sees them, by name.
pub fn stored_events(
    records: &[(String, serde_json::Value)],
) -> Vec<(String, skylight_detect::Event)> {
    let store = SqliteStore::open_in_memory().unwrap();
    let values: Vec<serde_json::Value> = records.iter().map(|(_, r)| r.clone()).collect();
    store_records(
        &store,
        &values,
        &skylight_enrich::Enricher::builtin_only().unwrap(),
        0,
    );
    let stored = store.activities_since(0, 10_000).unwrap();
    assert_eq!(stored.len(), records.len(), "every corpus record stored");
    let names: std::collections::BTreeMap<String, String> = records
        .iter()
        .map(|(n, r)| (r["Id"].as_str().unwrap().to_string(), n.clone()))
        .collect();
    stored
        .into_iter()
        .map(|s| (names[&s.row.id].clone(), skylight_detect::Event::new(s)))
        .collect()
}

/// Every record a simulated day of a 40-user tenant publishes, in every content type.
pub fn simulated_day() -> Vec<serde_json::Value> {
    simulated(40, 1, "")
}

/// Every record a simulated tenant publishes, in every content type, with the attack
/// `scenarios` named (`all`: every one).
pub fn simulated(users: usize, days: u32, scenarios: &str) -> Vec<serde_json::Value> {
    let cfg = skylight_sim::SimConfig {
        users,
        days,
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
        scenarios: scenarios.parse().unwrap(),
        ..skylight_sim::SimConfig::default()
    };
    let sim = skylight_sim::build(cfg, "http://127.0.0.1:9".into()).unwrap();
    let mut values = Vec::new();
    for c in skylight_sim::catalog::ContentType::ALL {
        for meta in sim.feed.published(c, sim.horizon()) {
            let body = sim.feed.blob_json(&meta, false);
            let v: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
            values.extend(v);
        }
    }
    values
}
