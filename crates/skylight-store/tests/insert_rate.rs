//! A quick insert-rate measurement, not a timed test:
//! `cargo test -p skylight-store --release --test insert_rate -- --ignored --nocapture`.
//! Knobs: `SKYLIGHT_BENCH_RECORDS` (default 200,000), `SKYLIGHT_BENCH_BLOB` (records per blob,
//! default 1,000; the simulator's blobs hold ~145) and `SKYLIGHT_BENCH_THREADS` (committing
//! threads, default 1).

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use skylight_model::{AuditRecord, BlobRef, ContentType};
use skylight_store::test_rng::TestRng as Rng;
use skylight_store::{SqliteStore, Store};

/// A random version-4-shaped UUID.
fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// A SharePoint-shaped record of about 1.3 KB with several random UUIDs and a random IP, like the
/// records measured in the reference notes (so it compresses worse than real tenant data).
fn record(rng: &mut Rng, i: usize) -> AuditRecord {
    let user = format!("user{}@contoso.onmicrosoft.com", rng.next_u64() % 10_000);
    let ip = format!(
        "{}.{}.{}.{}",
        rng.next_u64() % 223 + 1,
        rng.next_u64() % 256,
        rng.next_u64() % 256,
        rng.next_u64() % 256
    );
    let t = Utc
        .with_ymd_and_hms(2024, 5, 14, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::seconds(i as i64 / 10);
    let json = format!(
        r#"{{"CreationTime":"{}","Id":"{}","Operation":"FileAccessed","OrganizationId":"{}","RecordType":6,"UserKey":"i:0h.f|membership|{}@live.com","UserType":0,"Version":1,"Workload":"SharePoint","ClientIP":"{ip}","ObjectId":"https://contoso.sharepoint.com/sites/Finance/Shared Documents/Reports/Q{}/budget-{}.xlsx","UserId":"{user}","CorrelationId":"{}","EventSource":"SharePoint","ItemType":"File","ListId":"{}","ListItemUniqueId":"{}","Site":"{}","UserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0","WebId":"{}","HighPriorityMediaProcessing":false,"SourceFileExtension":"xlsx","SiteUrl":"https://contoso.sharepoint.com/sites/Finance/","SourceFileName":"budget-{}.xlsx","SourceRelativeUrl":"Shared Documents/Reports/Q{}","ApplicationDisplayName":"Microsoft Office Excel","ApplicationId":"{}","AuthenticationType":"OAuth","BrowserName":"Edge","BrowserVersion":"124.0.0.0","DeviceDisplayName":"{ip}","GeoLocation":"EUR","IsManagedDevice":true,"Platform":"WinDesktop","IsDocLib":true,"DoNotDistributeEvent":false,"FromApp":false}}"#,
        t.format("%Y-%m-%dT%H:%M:%S"),
        uuid(rng),
        uuid(rng),
        rng.next_u64() % 100_000,
        rng.next_u64() % 4 + 1,
        rng.next_u64() % 1_000,
        uuid(rng),
        uuid(rng),
        uuid(rng),
        uuid(rng),
        uuid(rng),
        rng.next_u64() % 1_000,
        rng.next_u64() % 4 + 1,
        uuid(rng),
    );
    AuditRecord::from_json(&json).unwrap_or_else(|e| panic!("bench record: {e}"))
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn insert_rate() {
    let total = env("SKYLIGHT_BENCH_RECORDS", 200_000);
    let per_blob = env("SKYLIGHT_BENCH_BLOB", 1_000).max(1);
    let threads = env("SKYLIGHT_BENCH_THREADS", 1).max(1);
    let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
    let records: Vec<AuditRecord> = (0..total).map(|i| record(&mut rng, i)).collect();
    let raw_bytes: usize = records.iter().map(|r| r.raw.len()).sum();

    let start = Instant::now();
    let mut zc = zstd::bulk::Compressor::new(3).unwrap_or_else(|e| panic!("zstd: {e}"));
    let packed: usize = records
        .iter()
        .map(|r| zc.compress(&r.raw).map_or(0, |z| z.len()))
        .sum();
    let zstd_secs = start.elapsed().as_secs_f64();
    println!(
        "zstd 3 alone: {:.0} records/s, {:.0} B/record compressed",
        total as f64 / zstd_secs,
        packed as f64 / total as f64
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let store = SqliteStore::open(dir.path()).unwrap_or_else(|e| panic!("open: {e}"));
    let blobs: Vec<&[AuditRecord]> = records.chunks(per_blob).collect();
    let start = Instant::now();
    // Blob n goes to thread n % threads, as a collector with `threads` blobs in flight would.
    let inserted: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (store, blobs) = (&store, &blobs);
                s.spawn(move || {
                    let mut inserted = 0;
                    for (n, chunk) in blobs.iter().enumerate().skip(t).step_by(threads) {
                        let blob = BlobRef {
                            content_id: format!("blob-{n}"),
                            created: Utc::now(),
                        };
                        let stats = store
                            .commit_blob("contoso", ContentType::SharePoint, &blob, chunk)
                            .unwrap_or_else(|e| panic!("commit: {e}"));
                        inserted += stats.inserted;
                    }
                    inserted
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| panic!("worker panicked")))
            .sum()
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(inserted, total as u64);

    // Duplicates only: the re-delivery path.
    let start = Instant::now();
    for (n, chunk) in records.chunks(per_blob).enumerate().take(20) {
        let blob = BlobRef {
            content_id: format!("again-{n}"),
            created: Utc::now(),
        };
        store
            .commit_blob("contoso", ContentType::SharePoint, &blob, chunk)
            .unwrap_or_else(|e| panic!("commit: {e}"));
    }
    let dup_secs = start.elapsed().as_secs_f64();
    let dup_n = records
        .chunks(per_blob)
        .take(20)
        .map(<[_]>::len)
        .sum::<usize>();

    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME))
        .unwrap_or_else(|e| panic!("open: {e}"));
    let mut stmt = conn
        .prepare("SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .unwrap_or_else(|e| panic!("dbstat: {e}"));
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .unwrap_or_else(|e| panic!("dbstat: {e}"));
    for row in rows {
        let (name, size, unused) = row.unwrap_or_else(|e| panic!("dbstat row: {e}"));
        println!(
            "  {name:<28} {:>6.0} B/record ({:.0} % unused)",
            size as f64 / total as f64,
            100.0 * unused as f64 / size.max(1) as f64
        );
    }
    drop(stmt);
    drop(conn);
    let disk: u64 = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("read dir: {e}"))
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{total} records in blobs of {per_blob}, {threads} thread(s): {secs:.2} s = {:.0} records/s; duplicates {:.0} records/s; \
         raw {:.0} B/record, on disk {:.0} B/record ({:.0} % of raw)",
        total as f64 / secs,
        dup_n as f64 / dup_secs,
        raw_bytes as f64 / total as f64,
        disk as f64 / total as f64,
        100.0 * disk as f64 / raw_bytes as f64,
    );
}
