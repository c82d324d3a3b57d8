//! `skylight bench query`: activity-log latency on a store of millions of activities, filled
//! from a simulated tenant in-process (normalised and enriched as the collector does).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::value::RawValue;
use skylight_model::filter::{Field, Filter};
use skylight_model::{BlobRef, ContentType};
use skylight_store::{ActivityQuery, RecordBatch, SqliteStore, Store};

/// Options of `skylight bench query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Users in the simulated tenant (50,000 users × 7 days ≈ 11 million activities).
    #[arg(long, default_value_t = 50_000)]
    users: usize,
    /// Days of history.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Keep the filled store here (and reuse it if it is already filled) instead of a
    /// temporary directory.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Measure PostgreSQL instead of the embedded store
    /// (`postgres://user:password@host:port/database`): filled if empty, reused if it already
    /// holds the benchmark's records, left filled.
    #[arg(long)]
    database_url: Option<crate::collect_cmd::DatabaseUrl>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::collect_cmd::Format,
}

fn sim_ct(ct: skylight_sim::catalog::ContentType) -> ContentType {
    use skylight_sim::catalog::ContentType as S;
    match ct {
        S::AzureActiveDirectory => ContentType::AzureActiveDirectory,
        S::Exchange => ContentType::Exchange,
        S::SharePoint => ContentType::SharePoint,
        S::General => ContentType::General,
        S::Dlp => ContentType::Dlp,
    }
}

/// Fills the store with every record the simulated tenant published; returns how many.
pub(crate) fn fill(sim: &skylight_sim::Sim, store: &Arc<dyn Store>) -> anyhow::Result<u64> {
    let enricher = skylight_enrich::Enricher::builtin_only()?;
    let mut blobs = Vec::new();
    for ct in skylight_sim::catalog::ContentType::ALL {
        blobs.extend(sim.feed.published(ct, sim.horizon()).map(|m| (ct, m)));
    }
    let next = AtomicUsize::new(0);
    let stored = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((ct, meta)) = blobs.get(i) else {
                            return Ok(());
                        };
                        let body = sim.feed.blob_json(meta, false);
                        let records: Vec<&RawValue> = serde_json::from_slice(&body)?;
                        let mut batch = RecordBatch::new()?;
                        for raw in records {
                            let raw = raw.get().as_bytes();
                            let mut columns = skylight_normalize::record_columns(raw)?;
                            enricher.enrich(&mut columns);
                            batch.push(columns, raw)?;
                        }
                        let blob = BlobRef {
                            content_id: format!("bench-{i}"),
                            created: meta.created,
                        };
                        let s = store.commit_batch("bench", sim_ct(*ct), &blob, batch)?;
                        stored.fetch_add(s.inserted, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a fill worker panicked"))??;
        }
        Ok(())
    })?;
    Ok(stored.into_inner())
}

/// Normalisation and enrichment alone, on one core: records per second over the first blobs'
/// records (up to about 200,000).
fn normalise_rate(sim: &skylight_sim::Sim) -> anyhow::Result<(u64, f64)> {
    let enricher = skylight_enrich::Enricher::builtin_only()?;
    let mut bodies = Vec::new();
    let mut records = 0usize;
    // About a fifth of the sample from each content type.
    'outer: for (i, ct) in skylight_sim::catalog::ContentType::ALL
        .into_iter()
        .enumerate()
    {
        for meta in sim.feed.published(ct, sim.horizon()) {
            let body = sim.feed.blob_json(&meta, false);
            records += serde_json::from_slice::<Vec<&RawValue>>(&body)?.len();
            bodies.push(body);
            if records >= 40_000 * (i + 1) {
                continue 'outer;
            }
        }
    }
    let raws: Vec<Vec<&RawValue>> = bodies
        .iter()
        .map(|b| serde_json::from_slice(b))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut n = 0u64;
    for raw in raws.iter().flatten() {
        let mut columns = skylight_normalize::record_columns(raw.get().as_bytes())?;
        enricher.enrich(&mut columns);
        n += 1;
    }
    Ok((n, n as f64 / started.elapsed().as_secs_f64().max(1e-9)))
}

/// Latency percentiles of `runs` in milliseconds: (p50, p95).
fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.95))
}

fn query(conditions: &[String], limit: usize) -> anyhow::Result<ActivityQuery> {
    Ok(ActivityQuery {
        tenant: None,
        filter: Filter::parse(conditions)?,
        limit,
        after: None,
    })
}

/// Runs the query benchmark.
pub async fn bench_query(args: QueryArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args))
        .await
        .context("the benchmark task failed")?
}

fn run(args: &QueryArgs) -> anyhow::Result<()> {
    let cfg = skylight_sim::SimConfig {
        users: args.users,
        days: args.days,
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
        ..skylight_sim::SimConfig::default()
    };
    let sim = skylight_sim::build(cfg, "http://127.0.0.1:9".into())?;
    let (normalised, normalise_per_s) = normalise_rate(&sim)?;
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let open = || -> anyhow::Result<Arc<dyn Store>> {
        Ok(match &args.database_url {
            Some(url) => Arc::new(skylight_store::PostgresStore::open(url.checked()?)?),
            None => Arc::new(SqliteStore::open(&dir)?),
        })
    };
    let mut store = open()?;
    let existing = store.record_count(None)?;
    if existing > 0 && store.record_count(Some("bench"))? != existing {
        anyhow::bail!(
            "the store holds records other than the benchmark's: give an empty database or data directory"
        );
    }
    let (records, fill_secs) = if existing > 0 {
        (existing, 0.0)
    } else {
        let started = Instant::now();
        let n = fill(&sim, &store)?;
        let secs = started.elapsed().as_secs_f64();
        // Queried as a store of past days is: its chunks sealed and its lookups packed, as a
        // running writer does a day later.
        if args.database_url.is_none() {
            drop(store);
            let sqlite = SqliteStore::open(&dir)?;
            let later = chrono::Utc::now() + chrono::Duration::days(1);
            sqlite.seal_chunks(later)?;
            sqlite.pack_lookups(later)?;
            store = open()?;
        }
        // Queried as a deployment queries it, after the collector has closed the store: closing
        // gathers the planner's statistics (SQLite's `PRAGMA optimize`), which change plans.
        drop(store);
        store = open()?;
        (n, secs)
    };

    let now = sim.horizon();
    let week = format!(
        "time={}..{}",
        (now - chrono::Duration::days(7)).to_rfc3339(),
        now.to_rfc3339()
    );
    let day_from = now - chrono::Duration::hours(24);
    // Selective: one user over a week, first page (what the user page and the log show).
    let users = &sim.tenant.users;
    let mut selective = Vec::new();
    let mut rows = 0usize;
    for i in 0..100 {
        let user = &users[(i * 7919) % users.len()].upn;
        let q = query(&[format!("user={user}"), week.clone()], 100)?;
        let started = Instant::now();
        rows += store.activities(&q)?.rows.len();
        selective.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (sel50, sel95) = percentiles(selective);
    // One address over a week, first page: a user's home (selective) and an office's (shared by
    // its country's staff: thousands of activities, all sorted for the first page).
    let ip_query = |ip: [u8; 4]| {
        let ip = std::net::Ipv4Addr::from(ip);
        query(&[format!("ip={ip}"), week.clone()], 100)
    };
    let mut home = Vec::new();
    let mut home_rows = 0usize;
    for i in 0..100 {
        let q = ip_query(users[(i * 7919) % users.len()].home_ip)?;
        let started = Instant::now();
        home_rows += store.activities(&q)?.rows.len();
        home.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (home50, home95) = percentiles(home);
    let mut office = Vec::new();
    for i in 0..10 {
        let user = &users[(i * 7919) % users.len()];
        let q = ip_query(sim.tenant.office_ip(user.country))?;
        let started = Instant::now();
        store.activities(&q)?;
        office.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (office50, office95) = percentiles(office);
    // One operation over a week, first page: the most common, and the rarest. Chosen by the
    // week's top operations (not timed).
    let operations = store.activity_top(
        &query(std::slice::from_ref(&week), 1)?,
        Field::Operation,
        1_000,
    )?;
    let time_op = |op: &str| -> anyhow::Result<(f64, f64)> {
        let mut ms = Vec::new();
        for _ in 0..10 {
            let q = query(&[format!("operation={op}"), week.clone()], 100)?;
            let started = Instant::now();
            store.activities(&q)?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(percentiles(ms))
    };
    let (common_op, rare_op) = match (operations.first(), operations.last()) {
        (Some(common), Some(rare)) => (common.clone(), rare.clone()),
        _ => anyhow::bail!("the store holds no operations to query"),
    };
    let (common50, common95) = time_op(&common_op.0)?;
    let (rare50, rare95) = time_op(&rare_op.0)?;
    // The common operation's week, hourly (what the log's chart shows above its first page).
    let mut op_histogram = Vec::new();
    for _ in 0..3 {
        let q = query(&[format!("operation={}", common_op.0), week.clone()], 1)?;
        let started = Instant::now();
        let buckets = store.activity_histogram(&q, 3_600_000)?;
        op_histogram.push(started.elapsed().as_secs_f64() * 1000.0);
        // On SQLite the histogram counts through the operation's lookup, the week's top values
        // from the rows: a figure for a wrong answer is worth nothing. (`operation=` matches any
        // letter case; the top values keep each spelling apart.)
        let counted: u64 = buckets.iter().map(|(_, n)| n).sum();
        let expected: u64 = operations
            .iter()
            .filter(|(op, _)| op.eq_ignore_ascii_case(&common_op.0))
            .map(|(_, n)| n)
            .sum();
        anyhow::ensure!(
            counted == expected,
            "the histogram of {} counts {counted} activities, the week's top values {expected}",
            common_op.0
        );
    }
    let (op_hist50, op_hist95) = percentiles(op_histogram);
    // A 24-hour histogram (hourly), all activities.
    let mut histogram = Vec::new();
    for _ in 0..10 {
        let q = query(
            &[format!(
                "time={}..{}",
                day_from.to_rfc3339(),
                now.to_rfc3339()
            )],
            1,
        )?;
        let started = Instant::now();
        store.activity_histogram(&q, 3_600_000)?;
        histogram.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (hist50, hist95) = percentiles(histogram);
    // The log's first page with a common filter.
    let mut page = Vec::new();
    for _ in 0..10 {
        let q = query(&["app=exchange".into(), "result=success".into()], 100)?;
        let started = Instant::now();
        store.activities(&q)?;
        page.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (page50, page95) = percentiles(page);
    let out = serde_json::json!({
        "store": if args.database_url.is_some() { "postgresql" } else { "sqlite" },
        "activities": records,
        "normalise_enrich_records": normalised,
        "normalise_enrich_records_per_s_one_core": normalise_per_s.round(),
        "fill_seconds": (fill_secs * 10.0).round() / 10.0,
        "fill_records_per_s": if fill_secs > 0.0 { (records as f64 / fill_secs).round() } else { 0.0 },
        "selective_user_week_p50_ms": (sel50 * 10.0).round() / 10.0,
        "selective_user_week_p95_ms": (sel95 * 10.0).round() / 10.0,
        "selective_rows_returned": rows,
        "address_home_week_p50_ms": (home50 * 10.0).round() / 10.0,
        "address_home_week_p95_ms": (home95 * 10.0).round() / 10.0,
        "address_home_rows_returned": home_rows,
        "address_office_week_p50_ms": (office50 * 10.0).round() / 10.0,
        "address_office_week_p95_ms": (office95 * 10.0).round() / 10.0,
        "operation_common": format!("{} ({} in the week)", common_op.0, common_op.1),
        "operation_common_week_p50_ms": (common50 * 10.0).round() / 10.0,
        "operation_common_week_p95_ms": (common95 * 10.0).round() / 10.0,
        "operation_common_week_histogram_p50_ms": (op_hist50 * 10.0).round() / 10.0,
        "operation_common_week_histogram_p95_ms": (op_hist95 * 10.0).round() / 10.0,
        "operation_rare": format!("{} ({} in the week)", rare_op.0, rare_op.1),
        "operation_rare_week_p50_ms": (rare50 * 10.0).round() / 10.0,
        "operation_rare_week_p95_ms": (rare95 * 10.0).round() / 10.0,
        "histogram_24h_p50_ms": (hist50 * 10.0).round() / 10.0,
        "histogram_24h_p95_ms": (hist95 * 10.0).round() / 10.0,
        "first_page_app_result_p50_ms": (page50 * 10.0).round() / 10.0,
        "first_page_app_result_p95_ms": (page95 * 10.0).round() / 10.0,
    });
    crate::bench_cmd::print(&out, args.format);
    Ok(())
}
