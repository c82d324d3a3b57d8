//! A detector holding only a few users in memory raises and saves exactly what one holding
//! them all does: two simulated days (every attack scenario in them) for three tenants, evaluated
//! in the same steps by both, each reopened from the store now and then as after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;

use skylight_detect::{DetectConfig, Detector, Engine};
use skylight_model::{AlertDraft, BlobRef, ContentType};
use skylight_store::{AlertQuery, RecordBatch, SqliteStore, Store};

const TENANTS: [&str; 3] = ["contoso", "fabrikam", "northwind"];

/// A store holding the simulated day once per tenant, blobs of the tenants interleaved.
fn three_tenants(day: &[serde_json::Value]) -> SqliteStore {
    let store = SqliteStore::open_in_memory().unwrap();
    let enricher = skylight_enrich::Enricher::builtin_only().unwrap();
    for (i, chunk) in day.chunks(50).enumerate() {
        for tenant in TENANTS {
            let mut batch = RecordBatch::new().unwrap();
            for r in chunk {
                let raw = serde_json::to_vec(r).unwrap();
                let mut columns = skylight_normalize::record_columns(&raw).unwrap();
                enricher.enrich(&mut columns);
                batch.push(columns, &raw).unwrap();
            }
            let blob = BlobRef {
                content_id: format!("{tenant}-{i}"),
                created: chrono::Utc::now(),
            };
            store
                .commit_batch(tenant, ContentType::General, &blob, batch)
                .unwrap();
        }
    }
    store
}

fn config(users_in_memory: usize) -> DetectConfig {
    DetectConfig {
        learning_days: 0.25,
        users_in_memory,
        ..DetectConfig::default()
    }
}

/// Every alert and signal, by key.
fn alerts(store: &dyn Store) -> BTreeMap<String, AlertDraft> {
    store
        .alerts(&AlertQuery {
            include_signals: true,
            limit: 0,
            ..AlertQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| (a.draft.key.clone(), a.draft))
        .collect()
}

/// The saved state, each entry parsed; an incident's activities seen (a set, saved in hash
/// order) sorted.
fn saved_state(store: &dyn Store) -> BTreeMap<String, serde_json::Value> {
    store
        .detection_state()
        .unwrap()
        .1
        .into_iter()
        .map(|(k, v)| {
            let mut v: serde_json::Value = serde_json::from_slice(&v).unwrap();
            if let Some(serde_json::Value::Array(seen)) = v.get_mut("seen") {
                seen.sort_by_key(ToString::to_string);
            }
            (k, v)
        })
        .collect()
}

/// Evaluates everything in steps of `step` activities, reopening the detector every
/// `reopen_every` steps; returns the most users held in memory after a step and how many
/// were only in the store at the end.
fn evaluate(store: &SqliteStore, users_in_memory: usize, reopen_every: usize) -> (usize, usize) {
    let newest = store.detection_progress().unwrap().1;
    let open = || {
        Detector::open(
            store,
            Engine::new(&config(users_in_memory), Vec::new()).unwrap(),
        )
    };
    let mut detector = open().unwrap();
    let (mut most, mut steps) = (0, 0);
    while store.detection_progress().unwrap().0 < newest {
        detector.step(400).unwrap();
        most = most.max(detector.engine().users().0);
        steps += 1;
        if steps % reopen_every == 0 {
            detector = open().unwrap();
        }
    }
    (most, detector.engine().users().1)
}

#[test]
fn a_detector_with_few_users_in_memory_raises_and_saves_what_one_with_all_does() {
    // Two days, every attack scenario; then an administrator disables the three accounts
    // idle longest, so that detection looks up users other than the actor.
    let mut day = common::simulated(40, 2, "all");
    disable_idle_accounts(&mut day, 3);
    let whole = three_tenants(&day);
    // Both reopened at the same steps: a reopened detector sweeps its state at once.
    let (all, stored_only) = evaluate(&whole, 100_000, 7);
    assert_eq!(stored_only, 0);
    assert!(all >= 100, "three tenants of 40 users: {all} in memory");
    let expected = alerts(&whole);
    assert!(
        TENANTS
            .iter()
            .all(|t| expected.values().filter(|a| a.tenant == *t).count() >= 5),
        "every tenant has incidents: {expected:#?}"
    );

    let paged = three_tenants(&day);
    let (most, stored_only) = evaluate(&paged, 12, 7);
    assert!(
        stored_only > 50,
        "most users leave memory: {stored_only} only in the store"
    );
    // After each save at most the limit stays, plus the users known disabled and the
    // activities without a user, which never leave.
    assert!(most < 30, "{most} users in memory");
    assert_eq!(alerts(&paged), expected);
    let (got, want) = (saved_state(&paged), saved_state(&whole));
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    let differ: Vec<_> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} entries differ: {:#?}",
        differ.len(),
        want.len(),
        differ
            .iter()
            .map(|k| (k, difference(got.get(*k), want.get(*k))))
            .collect::<Vec<_>>()
    );
}

/// Appends a `Disable account.` by an administrator for each of the `n` users whose last
/// activity is oldest, after everything else.
fn disable_idle_accounts(records: &mut Vec<serde_json::Value>, n: usize) {
    let time = |r: &serde_json::Value| r["CreationTime"].as_str().unwrap_or("").to_owned();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for r in records.iter() {
        if let Some(u) = r["UserId"]
            .as_str()
            .filter(|u| u.ends_with("@proseware.com"))
        {
            let t = time(r);
            let e = last.entry(u.to_ascii_lowercase()).or_default();
            if t > *e {
                *e = t;
            }
        }
    }
    let mut idle: Vec<(String, String)> = last.into_iter().map(|(u, t)| (t, u)).collect();
    idle.sort();
    let end = records.iter().map(time).max().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(&format!("{end}Z")).unwrap()
        + chrono::Duration::minutes(1);
    for (i, (_, user)) in idle.into_iter().take(n).enumerate() {
        records.push(serde_json::json!({
            "Id": format!("00000000-0000-4000-8000-00000000000{i}"),
            "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "RecordType": 8,
            "Operation": "Disable account.",
            "Workload": "AzureActiveDirectory",
            "OrganizationId": "4a1c9a3e-0000-4000-8000-000000000001",
            "UserId": "it.admin@proseware.com",
            "UserType": 0,
            "ObjectId": user,
            "ResultStatus": "Success",
            "ClientIP": "73.10.20.30",
        }));
    }
}

/// Where two saved entries differ: the paths of the values that do and both values.
fn difference(got: Option<&serde_json::Value>, want: Option<&serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    match (got, want) {
        (Some(Value::Object(g)), Some(Value::Object(w))) => g
            .keys()
            .chain(w.keys().filter(|k| !g.contains_key(*k)))
            .filter(|k| g.get(*k) != w.get(*k))
            .flat_map(|k| {
                difference(g.get(k), w.get(k))
                    .into_iter()
                    .map(move |d| format!("{k}.{d}"))
            })
            .collect(),
        (g, w) => vec![format!(": {g:?} against {w:?}")],
    }
}
