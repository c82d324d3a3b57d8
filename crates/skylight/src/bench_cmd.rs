//! `skylight bench`: figures for the README, measured in one run on this machine.

use crate::out::outln;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use skylight_m365::activity::ActivityClient;
use skylight_m365::auth::TokenProvider;
use skylight_m365::collector::{Collector, CollectorOptions};
use skylight_m365::config::Config;
use skylight_model::ContentType;
use skylight_store::{PostgresStore, SqliteStore, Store};

/// Options of `skylight bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: Option<BenchWhat>,
}

/// What to measure.
#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// End-to-end ingest: simulator over loopback → collect → store (→ detect with `--detect`),
    /// against raw JSON parsing.
    Ingest(IngestArgs),
    /// Activity-log latency on a store of millions of activities (a selective query, a 24 h
    /// histogram, a first page).
    Query(crate::bench_query::QueryArgs),
    /// Detection over a simulated week with every attack scenario: evaluation rate, alerts per
    /// detection, recall and precision against the injected incidents.
    Detect(crate::bench_detect::DetectArgs),
    /// The delay from content availability to alert on a live simulated tenant.
    Latency(crate::bench_latency::LatencyArgs),
    /// Ingest with 1, 2, 3… collector processes on one PostgreSQL database, against one
    /// process on SQLite.
    Scale(crate::bench_scale::ScaleArgs),
}

/// Options of `skylight bench ingest`.
#[derive(Debug, Args)]
struct IngestArgs {
    /// Users in the simulated tenant.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Days of history.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Measure PostgreSQL instead of the embedded store: an empty database
    /// (`postgres://user:password@host:port/database`), left with the records in it.
    #[arg(long)]
    database_url: Option<crate::collect_cmd::DatabaseUrl>,
    /// Blobs fetched and stored at once per content type (the collector's `blob_concurrency`).
    #[arg(long, default_value_t = CollectorOptions::default().blob_concurrency)]
    blob_concurrency: usize,
    /// Run detection beside the collector (every default policy and detection, as `collect` does)
    /// and stop the clock only once it has evaluated the last record.
    #[arg(long)]
    detect: bool,
    /// With `--detect`: users whose detection state is held in memory (`[detection]
    /// users_in_memory`; its default when not given).
    #[arg(long, requires = "detect")]
    users_in_memory: Option<usize>,
    /// Have the simulator build every blob before the clock starts (`sim --pregenerate`), so
    /// that serving costs it only the copy: Skylight alone on the machine's cores, as against
    /// Microsoft's servers. Without it the simulator builds each blob as it is fetched, on the
    /// same cores (a third of a core or more at 10,000 users).
    #[arg(long)]
    prebuilt_blobs: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::collect_cmd::Format,
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the benchmark.
pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let ingest = match args.what {
        Some(BenchWhat::Ingest(a)) => a,
        Some(BenchWhat::Query(a)) => return crate::bench_query::bench_query(a).await,
        Some(BenchWhat::Detect(a)) => return crate::bench_detect::bench_detect(a).await,
        Some(BenchWhat::Latency(a)) => return crate::bench_latency::bench_latency(a).await,
        Some(BenchWhat::Scale(a)) => return crate::bench_scale::bench_scale(a).await,
        None => IngestArgs {
            users: 10_000,
            days: 7,
            database_url: None,
            blob_concurrency: CollectorOptions::default().blob_concurrency,
            detect: false,
            users_in_memory: None,
            prebuilt_blobs: false,
            format: crate::collect_cmd::Format::Table,
        },
    };
    if ingest.blob_concurrency == 0 {
        anyhow::bail!("--blob-concurrency must be at least 1");
    }
    // The simulator runs as its own process, so the peak RSS measured here is Skylight's alone.
    let exe = std::env::current_exe().context("cannot find the skylight executable")?;
    let mut sim_args = vec![
        "sim".to_owned(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--users".into(),
        ingest.users.to_string(),
        "--days".into(),
        ingest.days.to_string(),
    ];
    if ingest.prebuilt_blobs {
        sim_args.push("--pregenerate".into());
    }
    let mut child = Command::new(exe)
        .args(&sim_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the simulator")?;
    let stdout = child.stdout.take().context("no simulator output")?;
    let sim = KillOnDrop(child);
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("manage_url")
                .map(|u| u.trim().to_string())
        })
        .context("the simulator did not print its URL")?;

    let tenant: serde_json::Value = reqwest::get(format!("{url}/_sim/tenant"))
        .await?
        .json()
        .await?;
    let dir = std::env::temp_dir().join(format!("skylight-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("secret"),
        tenant["client_secret"].as_str().unwrap_or_default(),
    )?;
    let toml = format!(
        "[[tenant]]\nname = \"bench\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"secret\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\nrequests_per_minute = 100000\n",
        tenant["tenant_id"].as_str().unwrap_or_default(),
        tenant["client_id"].as_str().unwrap_or_default()
    );
    let config = Config::from_toml_str(&toml, &dir).context("bench configuration")?;
    let t = &config.tenants[0];
    let data = dir.join("data");
    let postgres = match &ingest.database_url {
        Some(url) => {
            let pg = Arc::new(PostgresStore::open(url.checked()?)?);
            if pg.record_count(None)? > 0 {
                anyhow::bail!("the benchmark needs an empty database: this one holds records");
            }
            Some(pg)
        }
        None => None,
    };
    let store: Arc<dyn Store> = match &postgres {
        Some(pg) => pg.clone(),
        None => Arc::new(SqliteStore::open(&data)?),
    };
    let http = reqwest::Client::new();
    let opts = CollectorOptions {
        once: true,
        blob_concurrency: ingest.blob_concurrency,
        enricher: Some(Arc::new(skylight_enrich::Enricher::builtin_only()?)),
        ..CollectorOptions::default()
    };
    let collector = Arc::new(Collector::connect(http.clone(), t, store.clone(), opts));
    // A second client, for the raw-parse reference after the run.
    let client = ActivityClient::new(
        http.clone(),
        Arc::new(TokenProvider::new(http, t)),
        &t.endpoints().manage,
        &t.tenant_id,
        t.publisher_id(),
        t.requests_per_minute,
    );

    let detection = if ingest.detect {
        let mut detect =
            crate::detect_cmd::detect_config(&skylight_m365::config::DetectionSettings::default())?;
        if let Some(n) = ingest.users_in_memory {
            detect.users_in_memory = n;
        }
        Some(crate::detect_cmd::DetectionThread::for_config(
            store.clone(),
            detect,
            dir.clone(),
            None,
            Vec::new(),
        )?)
    } else {
        None
    };

    let started = Instant::now();
    let progress = collector.clone().run(&ContentType::ALL).await;
    let detected = match detection {
        Some(d) => Some(
            tokio::task::spawn_blocking(move || d.finish())
                .await
                .context("detection task failed")??,
        ),
        None => None,
    };
    let seconds = started.elapsed().as_secs_f64();
    let records: u64 = progress.iter().map(|(_, p)| p.records).sum();
    if let Some((ct, p)) = progress.iter().find(|(_, p)| p.error.is_some()) {
        anyhow::bail!(
            "collection of {ct} failed: {}",
            p.error.clone().unwrap_or_default()
        );
    }
    let requests = collector.requests();
    let peak_rss = peak_rss_bytes();

    // Close the store first, so the write-ahead log is checkpointed into the database file, and
    // so that nothing of the run still competes for the CPU while the reference is measured.
    drop(collector);
    drop(store);
    let disk = match &postgres {
        Some(pg) => pg.database_size()?,
        None => dir_size(&data),
    };
    // What this process wrote to the disk (the WAL, checkpoints, the final one at close): the
    // store's write amplification. PostgreSQL's writes are the server's, not counted here.
    let written = postgres.is_none().then(written_bytes);
    drop(postgres);
    // What the store holds once its periods are closed (a day later: chunks sealed, lookups of
    // the days before packed; a running writer does both a little at a time after its commits),
    // timed apart, after the clock has stopped:
    // the file's pages in use, not its size (freed pages are reused by later records; the file
    // shrinks only by `VACUUM`).
    let sealed = match &ingest.database_url {
        Some(_) => None,
        None => Some(seal_everything(&data).await?),
    };
    // The physical reference: parsing the same blobs' JSON into values, on one core.
    let (raw_bytes_per_record, raw_parse_records_per_s) = raw_parse_rate(&client).await?;
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);

    let out = serde_json::json!({
        "store": if ingest.database_url.is_some() { "postgresql" } else { "sqlite" },
        "users": ingest.users,
        "days": ingest.days,
        "blob_concurrency": ingest.blob_concurrency,
        "detect": ingest.detect,
        "prebuilt_blobs": ingest.prebuilt_blobs,
        "activities_evaluated": detected.as_ref().map(|d| d.activities),
        "alerts": detected.as_ref().map(|d| d.alerts),
        "records": records,
        "seconds": (seconds * 10.0).round() / 10.0,
        "records_per_s": (records as f64 / seconds).round(),
        "raw_parse_records_per_s": raw_parse_records_per_s.round(),
        "end_to_end_vs_raw_parse": ((records as f64 / seconds) / raw_parse_records_per_s * 1000.0).round() / 1000.0,
        "requests": requests,
        "peak_rss_bytes": peak_rss,
        "disk_bytes_per_record": disk / records.max(1),
        "raw_bytes_per_record": raw_bytes_per_record,
        "disk_written_bytes_per_record": written.map(|w| w / records.max(1)),
        "disk_vs_raw": ((disk as f64 / records.max(1) as f64) / raw_bytes_per_record.max(1) as f64 * 1000.0).round() / 1000.0,
        "sealed_in_use_bytes_per_record": sealed.map(|(bytes, _, _)| bytes / records.max(1)),
        "sealed_in_use_vs_raw": sealed.map(|(bytes, _, _)| ((bytes as f64 / records.max(1) as f64) / raw_bytes_per_record.max(1) as f64 * 1000.0).round() / 1000.0),
        "seal_records_per_s": sealed.map(|(_, seconds, _)| (records as f64 / seconds.max(1e-9)).round()),
        "pack_records_per_s": sealed.map(|(_, _, seconds)| (records as f64 / seconds.max(1e-9)).round()),
    });
    print(&out, ingest.format);
    Ok(())
}

/// Opens the store again and closes its periods as a day later: seals every chunk due and packs
/// the lookups of every day due. Returns the bytes of the file in use after, and the seconds
/// sealing and packing took.
async fn seal_everything(data: &std::path::Path) -> anyhow::Result<(u64, f64, f64)> {
    let data = data.to_owned();
    tokio::task::spawn_blocking(move || {
        let store = SqliteStore::open(&data)?;
        let later = chrono::Utc::now() + chrono::Duration::days(1);
        let started = Instant::now();
        store.seal_chunks(later)?;
        let seal_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        store.pack_lookups(later)?;
        let pack_seconds = started.elapsed().as_secs_f64();
        Ok((store.bytes_in_use()?, seal_seconds, pack_seconds))
    })
    .await
    .context("sealing task failed")?
}

/// Prints a benchmark's figures: one JSON object, or one `name value` line each.
pub(crate) fn print(out: &serde_json::Value, format: crate::collect_cmd::Format) {
    match format {
        crate::collect_cmd::Format::Json => outln!("{out}"),
        crate::collect_cmd::Format::Table => {
            if let Some(map) = out.as_object() {
                for (k, v) in map {
                    outln!("{k:<30} {v}");
                }
            }
        }
    }
}

/// Fetches a sample of blobs (one day of every content type) and times a full JSON parse of them.
async fn raw_parse_rate(client: &ActivityClient) -> anyhow::Result<(u64, f64)> {
    let now = client.now();
    let mut blobs = Vec::new();
    for ct in ContentType::ALL {
        let items = client
            .list_content(ct, now - chrono::Duration::hours(24), now)
            .await?;
        for item in items.iter().take(200) {
            blobs.push(client.fetch(item).await?);
        }
    }
    let bytes: usize = blobs.iter().map(Vec::len).sum();
    let started = Instant::now();
    let mut records = 0usize;
    for b in &blobs {
        let parsed: Vec<serde_json::Value> =
            serde_json::from_slice(b).context("a blob is not JSON")?;
        records += parsed.len();
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    Ok(((bytes / records.max(1)) as u64, records as f64 / secs))
}

/// Peak resident set size of this process (Linux), in bytes.
pub(crate) fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes this process has caused to be written to storage so far (Linux), 0 if unknown.
fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
