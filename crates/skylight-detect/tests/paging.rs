//! A detector holding only a few users in memory raises and saves exactly what one holding
//! them all does: two simulated days (every attack scenario in them) for three tenants, evaluated
//! in the same steps by both, each reopened from the store now and then as after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;

use skylight_detect::{DetectConfig, Detector, Engine};
use skylight_model::AlertDraft;
use skylight_store::{SqliteStore, Store};

/// A policy with windows per user (and one per tenant for activities without a user).
const POLICY: &str = r#"
[[policy]]
id = "downloads"
name = "Downloads"
filters = ["operation=FileDownloaded"]
repeated = { count = 4, within_minutes = 2880 }
"#;

fn config(users_in_memory: usize) -> DetectConfig {
    DetectConfig {
        learning_days: 0.25,
        users_in_memory,
        ..DetectConfig::default()
    }
}

/// Every alert and signal, by key.
fn alerts(store: &dyn Store) -> BTreeMap<String, AlertDraft> {
    common::all_alerts(store)
        .into_iter()
        .map(|a| (a.key.clone(), a))
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
        let policies = skylight_detect::policy::parse_file(POLICY, "paging.toml").unwrap();
        Detector::open(
            store,
            Engine::new(&config(users_in_memory), policies).unwrap(),
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
    let whole = common::three_tenants(&day);
    // Both reopened at the same steps: a reopened detector sweeps its state at once.
    let (all, stored_only) = evaluate(&whole, 100_000, 7);
    assert_eq!(stored_only, 0);
    assert!(all >= 100, "three tenants of 40 users: {all} in memory");
    let expected = alerts(&whole);
    assert!(
        expected
            .values()
            .filter(|a| a.policy == "downloads")
            .count()
            >= 10,
        "the policy's windows per user are at work: {expected:#?}"
    );
    assert!(
        common::TENANTS
            .iter()
            .all(|t| expected.values().filter(|a| a.tenant == *t).count() >= 5),
        "every tenant has incidents: {expected:#?}"
    );

    let paged = common::three_tenants(&day);
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

#[test]
fn a_saved_entry_that_does_not_read_stops_the_detector_opening_and_is_named() {
    let store = SqliteStore::open_in_memory().unwrap();
    let good = serde_json::to_vec(&serde_json::json!({"last_ms": 5})).unwrap();
    store
        .commit_detection(
            0,
            3,
            &[],
            &[
                ("u|contoso|alice@contoso.com".into(), Some(good)),
                (
                    "u|contoso|bob@contoso.com".into(),
                    Some(b"{not json".to_vec()),
                ),
            ],
        )
        .unwrap();
    let err = Detector::open(&store, Engine::new(&config(1), Vec::new()).unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("detection state entry `u|contoso|bob@contoso.com` cannot be read"),
        "{err}"
    );
}

/// A SharePoint download at `at`, by `user` (none when empty).
fn download(n: u32, at: &str, user: &str) -> serde_json::Value {
    let mut r = serde_json::json!({
        "Id": format!("00000000-0000-4000-9000-{n:012}"),
        "CreationTime": at,
        "RecordType": 6,
        "Operation": "FileDownloaded",
        "Workload": "SharePoint",
        "OrganizationId": "4a1c9a3e-0000-4000-8000-000000000001",
        "UserType": 0,
        "ObjectId": format!("https://proseware.sharepoint.com/sites/Sales/doc{n}.docx"),
        "ClientIP": "73.10.20.31",
    });
    if !user.is_empty() {
        r["UserId"] = serde_json::json!(user);
    }
    r
}

#[test]
fn the_windows_of_activities_without_a_user_stay_in_memory_through_a_restart() {
    // One user in memory. Fabrikam's downloads without a user sort after Contoso's user when
    // the detector reopens; their window must come back all the same.
    let store = SqliteStore::open_in_memory().unwrap();
    let policies = || skylight_detect::policy::parse_file(POLICY, "paging.toml").unwrap();
    let run = || {
        let engine = Engine::new(&config(1), policies()).unwrap();
        Detector::open(&store, engine).unwrap().catch_up().unwrap();
    };
    common::store_batch(
        &store,
        "contoso",
        "c-1",
        &[download(1, "2026-11-19T10:00:00", "alice@contoso.com")],
    );
    common::store_batch(
        &store,
        "fabrikam",
        "f-1",
        &[
            download(2, "2026-11-19T10:00:00", ""),
            download(3, "2026-11-19T10:01:00", ""),
        ],
    );
    run();
    assert!(alerts(&store).is_empty());
    common::store_batch(
        &store,
        "fabrikam",
        "f-2",
        &[
            download(4, "2026-11-19T11:00:00", ""),
            download(5, "2026-11-19T11:01:00", ""),
        ],
    );
    run();
    let raised: Vec<_> = alerts(&store).into_values().collect();
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].users, ["(no user)"]);
    assert_eq!(raised[0].activity_count, 4);
}

#[test]
fn a_user_read_back_is_trimmed_as_the_sweeps_it_missed_would_have_trimmed_it() {
    let record = |n: u32, at: &str, user: &str, op: &str| {
        let mut r = download(n, at, user);
        r["Operation"] = serde_json::json!(op);
        if op == "FileRenamed" {
            r["SourceFileName"] = serde_json::json!("plan.docx");
            r["DestinationFileName"] = serde_json::json!("plan.docx.zzq");
            r["DestinationFileExtension"] = serde_json::json!("zzq");
        }
        r
    };
    let gina = "gina@contoso.com";
    let hugo = "hugo@contoso.com";
    // Gina renames a file, then leaves memory; a day and more later the sweep drops such old
    // rename windows from users in memory; then Gina is back.
    let steps = [
        vec![
            record(1, "2026-11-18T10:00:00", gina, "FileRenamed"),
            record(2, "2026-11-18T10:01:00", hugo, "FileAccessed"),
        ],
        vec![record(3, "2026-11-19T14:00:00", hugo, "FileAccessed")],
        vec![record(4, "2026-11-19T14:05:00", gina, "FileAccessed")],
    ];
    let gina_saved = |users_in_memory: usize| {
        let store = SqliteStore::open_in_memory().unwrap();
        let engine = Engine::new(&config(users_in_memory), Vec::new()).unwrap();
        let mut detector = Detector::open(&store, engine).unwrap();
        for (i, records) in steps.iter().enumerate() {
            common::store_batch(&store, "contoso", &format!("b{i}"), records);
            detector.step(1_000).unwrap();
        }
        assert_eq!(
            detector.engine().users().1,
            usize::from(users_in_memory == 1)
        );
        saved_state(&store)["u|contoso|gina@contoso.com"].clone()
    };
    let all = gina_saved(100);
    assert!(all["windows"].get("renamed_to:zzq").is_none(), "{all}");
    assert_eq!(gina_saved(1), all);
}
