//! Sealing checked against a model (tests only): random blobs of two tenants and five content
//! types (repeating earlier records, some without a time, some stored as schema 18 stored them),
//! sealing at random moments, retention at random cutoffs, reopening, and another store on the
//! same file reading and sealing meanwhile; after every step, every record reads back byte for
//! byte and the segments' invariants hold.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration as D, TimeZone, Utc};
use skylight_model::{AuditRecord, BlobRef, ContentType};

use super::super::SqliteStore;
use crate::Store;
use crate::test_rng::TestRng as Rng;

/// Text records are made of, escapes and non-ASCII among it.
const WORDS: &[&str] = &[
    "alpha",
    "Exchange",
    "FileAccessed",
    "user@contoso.com",
    "é中文",
    "\\\"q\\\"",
    "SharePoint",
    "ClientIP",
    "10.0.0.1",
    "lorem",
    "ipsum",
    "dolor",
    "{}",
    "[1,2]",
    "MailItemsAccessed",
];

/// Record `n` of `tenant`: a pure function of (tenant, n), so that any read can be checked.
/// (creation ms, or 0 if untimed; JSON).
fn make(tenant: &str, n: u64) -> (i64, String) {
    let mut r = Rng::new(n ^ (u64::from(tenant.as_bytes()[0]) << 56));
    r.next_u64();
    // Records come in blocks of 150 of a day (or the next), so that blobs hold one or two days
    // and retention deletes whole chunks; one block in ten has a third of its records untimed.
    let block = n / 150;
    let untimed = block % 10 == 7 && r.below(3) == 0;
    let day = 1 + (block % 10) as u32 + u32::from(r.below(5) == 0);
    let (h, m, s) = (r.below(24) as u32, r.below(60) as u32, r.below(60) as u32);
    let time = Utc.with_ymd_and_hms(2024, 5, day, h, m, s).unwrap();
    let size = match r.below(10) {
        0 => r.below(20),
        1..=7 => 50 + r.below(1500),
        _ => 1500 + r.below(6000),
    };
    let mut text = String::new();
    while (text.len() as u64) < size {
        if r.below(3) == 0 {
            text.push(char::from(b'a' + r.below(26) as u8));
            text.push(char::from(b'0' + r.below(10) as u8));
        } else {
            text.push_str(WORDS[r.below(WORDS.len() as u64) as usize]);
        }
        text.push(' ');
    }
    let ct = if untimed {
        String::new()
    } else {
        format!(r#","CreationTime":"{}""#, time.format("%Y-%m-%dT%H:%M:%S"))
    };
    let json = format!(
        r#"{{"Id":"{tenant}-{n}"{ct},"UserId":"u{}@x.com","Operation":"Op{}","Text":"{text}"}}"#,
        r.below(40),
        r.below(7)
    );
    (if untimed { 0 } else { time.timestamp_millis() }, json)
}

/// (tenant, Id).
type Key = (String, String);
/// What the store must hold: (creation ms, raw bytes) by key.
type Model = BTreeMap<Key, (i64, Vec<u8>)>;

/// One integer out of `sql`.
fn count(store: &SqliteStore, sql: &str) -> i64 {
    store
        .with_connection(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

/// Queries that count what must not be.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "unreferenced segment",
        "SELECT count(*) FROM raw_segments WHERE id NOT IN \
         (SELECT segment_id FROM raw_chunks WHERE segment_id IS NOT NULL)",
    ),
    (
        "chunk pointing at a missing segment",
        "SELECT count(*) FROM raw_chunks WHERE segment_id IS NOT NULL \
         AND segment_id NOT IN (SELECT id FROM raw_segments)",
    ),
    (
        "sealed chunk with data",
        "SELECT count(*) FROM raw_chunks WHERE sealed = 1 AND length(data) > 0",
    ),
    (
        "sealed chunk without segment",
        "SELECT count(*) FROM raw_chunks WHERE sealed = 1 AND segment_id IS NULL",
    ),
    (
        "unsealed chunk not alone at offset 0 of its segment",
        "SELECT count(*) FROM raw_chunks c WHERE sealed = 0 AND segment_id IS NOT NULL AND \
         (segment_offset != 0 OR (SELECT count(*) FROM raw_chunks d WHERE d.segment_id = c.segment_id) != 1 \
          OR (SELECT raw_len FROM raw_segments s WHERE s.id = c.segment_id) != c.raw_len)",
    ),
    (
        "chunk outside its segment",
        "SELECT count(*) FROM raw_chunks c JOIN raw_segments s ON s.id = c.segment_id \
         WHERE c.segment_offset + c.raw_len > s.raw_len",
    ),
    (
        "record pointing at a missing chunk",
        "SELECT count(*) FROM records WHERE chunk_id NOT IN (SELECT id FROM raw_chunks)",
    ),
    (
        "segment mixing days (of chunks' latest records; untimed chunks apart)",
        "SELECT count(*) FROM (SELECT segment_id FROM raw_chunks WHERE segment_id IS NOT NULL \
         GROUP BY segment_id HAVING count(DISTINCT CASE WHEN min_ms > 0 THEN max_ms / 86400000 \
         ELSE -1 END) > 1)",
    ),
    (
        "segment mixing tenants or content types",
        "SELECT count(*) FROM (SELECT segment_id FROM raw_chunks WHERE segment_id IS NOT NULL \
         GROUP BY segment_id HAVING count(DISTINCT tenant_id) > 1 \
         OR count(DISTINCT coalesce(content_type, -1)) > 1)",
    ),
];

/// Checks the invariants, every record's bytes, and a sample read one by one.
fn check(store: &SqliteStore, model: &Model, rng: &mut Rng, ctx: &str) {
    for (what, sql) in INVARIANTS {
        assert_eq!(count(store, sql), 0, "{ctx}: {what}");
    }
    let got: BTreeMap<Key, Vec<u8>> = store
        .activities_since(0, usize::MAX >> 1)
        .unwrap_or_else(|e| panic!("{ctx}: activities_since: {e}"))
        .into_iter()
        .map(|a| ((a.row.tenant, a.row.id), a.raw))
        .collect();
    assert_eq!(got.len(), model.len(), "{ctx}: record count");
    for (k, (_, raw)) in model {
        assert!(
            got.get(k) == Some(raw),
            "{ctx}: {k:?} differs or is missing"
        );
    }
    let keys: Vec<&Key> = model.keys().collect();
    for _ in 0..keys.len().min(12) {
        let k = keys[rng.below(keys.len() as u64) as usize];
        let raw = &model[k].1;
        let (row, got) = store
            .activity(None, &k.1)
            .unwrap_or_else(|e| panic!("{ctx}: activity {k:?}: {e}"))
            .unwrap_or_else(|| panic!("{ctx}: activity {k:?} missing"));
        assert_eq!((&row.tenant, &row.id), (&k.0, &k.1), "{ctx}");
        assert!(&got == raw, "{ctx}: activity {k:?} bytes");
        let r = store
            .raw_record(&k.0, &k.1)
            .unwrap_or_else(|e| panic!("{ctx}: raw_record {k:?}: {e}"));
        assert!(r.as_ref() == Some(raw), "{ctx}: raw_record {k:?} bytes");
    }
}

/// Reads continuously through a store of its own on the same file (another process's view),
/// checking every record read against `gen`.
fn reader(dir: std::path::PathBuf, stop: Arc<AtomicBool>) -> u64 {
    let store = SqliteStore::open(&dir).unwrap();
    let mut reads = 0;
    while !stop.load(Ordering::Relaxed) {
        let all = store
            .activities_since(0, usize::MAX >> 1)
            .unwrap_or_else(|e| panic!("concurrent reader: {e}"));
        for a in &all {
            let n: u64 = a.row.id.rsplit('-').next().unwrap().parse().unwrap();
            assert!(
                a.raw == make(&a.row.tenant, n).1.into_bytes(),
                "concurrent reader: {}",
                a.row.id
            );
        }
        if let Some(a) = all.get(all.len() / 2) {
            match store.activity(None, &a.row.id) {
                Ok(Some((_, raw))) => assert_eq!(raw, a.raw, "concurrent activity"),
                Ok(None) => {} // deleted by retention meanwhile
                Err(e) => panic!("concurrent activity {}: {e}", a.row.id),
            }
        }
        reads += 1;
        if reads % 3 == 0 {
            // Another process sealing too.
            store
                .seal_chunks(Utc::now() + chrono::Duration::minutes(16))
                .unwrap_or_else(|e| panic!("concurrent sealer: {e}"));
        }
    }
    reads
}

/// `steps` random steps from `seed`, checked after each.
fn run(seed: u64, steps: usize, file: bool, concurrent: bool) {
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        if file {
            SqliteStore::open(dir.path()).unwrap()
        } else {
            SqliteStore::open_in_memory().unwrap()
        }
    };
    let mut store = open();
    let stop = Arc::new(AtomicBool::new(false));
    let reading = concurrent.then(|| {
        let (d, s) = (dir.path().to_owned(), stop.clone());
        std::thread::spawn(move || reader(d, s))
    });
    let mut model = Model::new();
    let mut next_n = [0u64; 2];
    let mut blob = 0u64;
    let offsets = [
        D::minutes(-1),
        D::zero(),
        D::minutes(10),
        D::minutes(14),
        D::minutes(16),
        D::hours(2),
        D::hours(23),
        D::hours(25),
        D::days(40),
    ];
    let (mut sealed_chunks, mut sealed_segments, mut deleted, mut dups) = (0, 0, 0u64, 0u64);
    let mut chunks_deleted = 0;
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step} (file {file})");
        match rng.below(100) {
            0..=59 => {
                let t = rng.below(2) as usize;
                let tenant = ["a", "b"][t];
                let ct = if rng.below(10) < 7 {
                    ContentType::Exchange
                } else {
                    ContentType::ALL[rng.below(5) as usize]
                };
                let n = match rng.below(4) {
                    0 => 1 + rng.below(5),
                    _ => 1 + rng.below(300),
                };
                let repeat_share = match rng.below(4) {
                    0 => 0,
                    1 => 100,
                    _ => rng.below(50),
                };
                let mut records = Vec::new();
                let mut ns = Vec::new();
                for _ in 0..n {
                    let k = if next_n[t] > 0 && rng.below(100) < repeat_share {
                        rng.below(next_n[t])
                    } else {
                        next_n[t] += 1;
                        next_n[t] - 1
                    };
                    ns.push(k);
                    records.push(AuditRecord::from_json(&make(tenant, k).1).unwrap());
                }
                blob += 1;
                let blob_ref = BlobRef {
                    content_id: format!("blob-{blob}"),
                    created: Utc.with_ymd_and_hms(2024, 5, 20, 0, 0, 0).unwrap(),
                };
                let stats = store
                    .commit_blob(tenant, ct, &blob_ref, &records)
                    .unwrap_or_else(|e| panic!("{ctx}: commit: {e}"));
                let mut inserted = 0;
                for k in ns {
                    let (ms, json) = make(tenant, k);
                    let key = (tenant.to_owned(), format!("{tenant}-{k}"));
                    if let std::collections::btree_map::Entry::Vacant(e) = model.entry(key) {
                        e.insert((ms, json.into_bytes()));
                        inserted += 1;
                    }
                }
                assert_eq!(stats.inserted, inserted, "{ctx}: inserted");
                if rng.below(5) == 0 {
                    // As a chunk stored by schema 18: data inline, no content type.
                    store
                        .with_connection(|c| {
                            c.execute_batch(
                                "UPDATE raw_chunks SET data = (SELECT data FROM raw_segments s \
                                 WHERE s.id = segment_id), segment_id = NULL, segment_offset = NULL, \
                                 content_type = NULL WHERE id = (SELECT max(id) FROM raw_chunks \
                                 WHERE sealed = 0 AND segment_id IS NOT NULL); \
                                 DELETE FROM raw_segments WHERE id NOT IN (SELECT segment_id \
                                 FROM raw_chunks WHERE segment_id IS NOT NULL);",
                            )?;
                            Ok(())
                        })
                        .unwrap();
                }
                dups += stats.duplicates;
            }
            60..=84 => {
                let at = Utc::now()
                    + if rng.below(2) == 0 {
                        D::minutes(16)
                    } else {
                        offsets[rng.below(offsets.len() as u64) as usize]
                    };
                let s = store
                    .seal_chunks(at)
                    .unwrap_or_else(|e| panic!("{ctx}: seal: {e}"));
                sealed_chunks += s.chunks;
                sealed_segments += s.segments;
            }
            85..=89 => {
                let chunks_before = count(&store, "SELECT count(*) FROM raw_chunks");
                let days = if rng.below(5) == 0 { 11 } else { 5 };
                let before = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()
                    + D::hours(rng.below(days * 24) as i64);
                let ms = before.timestamp_millis();
                let n = store
                    .delete_activities_before(before)
                    .unwrap_or_else(|e| panic!("{ctx}: retention: {e}"));
                let len = model.len();
                model.retain(|_, (t, _)| *t == 0 || *t >= ms);
                assert_eq!(n as usize, len - model.len(), "{ctx}: deleted");
                deleted += n;
                let chunks = count(&store, "SELECT count(*) FROM raw_chunks");
                chunks_deleted += chunks_before - chunks;
                let left =
                    format!("SELECT count(*) FROM raw_chunks WHERE min_ms > 0 AND max_ms < {ms}");
                assert_eq!(count(&store, &left), 0, "{ctx}: chunks left behind");
            }
            93..=95 if file => {
                drop(store);
                store = open();
            }
            _ => {}
        }
        check(&store, &model, &mut rng, &ctx);
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reading.map(|h| h.join().unwrap());
    // Not vacuous: segments were made, records deleted, duplicates dropped, and the other
    // store read along.
    assert!(
        sealed_segments > 0 && sealed_chunks > sealed_segments,
        "seed {seed}"
    );
    assert!(deleted > 0 && chunks_deleted > 0 && dups > 0, "seed {seed}");
    assert!(reads.is_none_or(|r| r > 0), "seed {seed}");
}

#[test]
fn sealing_agrees_with_the_model_in_memory() {
    run(5, 150, false, false);
}

#[test]
fn sealing_agrees_with_the_model_on_disk() {
    run(14, 120, true, false);
}

#[test]
fn sealing_agrees_with_the_model_beside_another_process() {
    run(23, 120, true, true);
}
