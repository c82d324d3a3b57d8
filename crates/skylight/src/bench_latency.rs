//! `skylight bench latency`: the delay from content availability to alert. A live simulated
//! tenant publishes a blob a minute per content type; the collector polls it and detection runs
//! beside it, with a probe policy that raises an alert for every sign-in. Each alert's delay is
//! the time it was first stored minus the time its sign-in's blob became available in listings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::value::RawValue;
use skylight_m365::collector::{Collector, CollectorOptions};
use skylight_m365::config::Config;
use skylight_model::ContentType;
use skylight_store::{AlertQuery, SqliteStore, Store};

/// Options of `skylight bench latency`.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Users in the simulated tenant.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// The collector's poll interval, in seconds.
    #[arg(long, default_value_t = 10)]
    poll_secs: u64,
    /// How long to measure after the backfill, in seconds (the simulator publishes a slot's blob
    /// 3 minutes to hours after it ends, so live content only starts to flow a few minutes in).
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::collect_cmd::Format,
}

/// The probe: one alert per sign-in (no de-duplication), so every sign-in's delay is seen.
const PROBE: &str = "[[policy]]\nid = \"latency-probe\"\nname = \"Latency probe\"\nfilters = [\"operation=UserLoggedIn\"]\ndedup_minutes = 0\ndaily_alert_limit = 4000000000\n";

/// Runs the latency benchmark.
pub async fn bench_latency(args: LatencyArgs) -> anyhow::Result<()> {
    let cfg = skylight_sim::SimConfig {
        users: args.users.max(1),
        days: 1,
        live: true,
        blob_minutes: 1,
        ..skylight_sim::SimConfig::default()
    };
    let sim = skylight_sim::start(cfg, "127.0.0.1:0")
        .await
        .context("cannot start the simulated tenant")?;
    let temp = tempfile::tempdir()?;
    let t = sim.tenant_json();
    let field = |k: &str| t[k].as_str().unwrap_or_default().to_string();
    std::fs::write(temp.path().join("secret"), field("client_secret"))?;
    let toml = format!(
        "[[tenant]]\nname = \"bench\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"secret\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}/graph\"\n",
        field("tenant_id"),
        field("client_id"),
        url = sim.url()
    );
    let config = Config::from_toml_str(&toml, temp.path()).context("bench configuration")?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&temp.path().join("data"))?);
    let opts = CollectorOptions {
        poll_interval: Duration::from_secs(args.poll_secs.max(1)),
        overlap: chrono::Duration::hours(1),
        enricher: Some(Arc::new(skylight_enrich::Enricher::builtin_only()?)),
        ..CollectorOptions::default()
    };
    let collector = Arc::new(Collector::connect(
        reqwest::Client::new(),
        &config.tenants[0],
        store.clone(),
        opts,
    ));
    let collecting = tokio::spawn(async move { collector.run(&ContentType::ALL).await });
    let detection = crate::detect_cmd::DetectionThread::spawn(
        store.clone(),
        || {
            let policies = skylight_detect::policy::parse_file(PROBE, "probe")?;
            Ok(skylight_detect::Engine::new(
                &skylight_detect::DetectConfig::default(),
                policies,
            )?)
        },
        None,
        skylight_detect::Partitioning::NONE,
        Vec::new(),
    )?;

    // The backfill first: measured are the blobs that become available after it.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let s = store.clone();
        let now = tokio::task::spawn_blocking(move || s.record_count(None)).await??;
        if now > 0 && now == last {
            break;
        }
        last = now;
    }
    let from = chrono::Utc::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    // Blobs available from then until a poll interval before the end (so each had its chance).
    let until = chrono::Utc::now() - chrono::Duration::seconds(args.poll_secs as i64 + 5);
    let mut available: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut blobs = 0;
    for ct in skylight_sim::catalog::ContentType::ALL {
        for meta in sim.sim.feed.published(ct, sim.sim.horizon()) {
            if meta.available < from || meta.available > until {
                continue;
            }
            blobs += 1;
            let body = sim.sim.feed.blob_json(&meta, false);
            let records: Vec<&RawValue> = serde_json::from_slice(&body)?;
            for r in records {
                let v: serde_json::Value = serde_json::from_str(r.get())?;
                if let Some(id) = v["Id"].as_str() {
                    available.insert(id.to_owned(), meta.available);
                }
            }
        }
    }
    collecting.abort();
    let _ = tokio::task::spawn_blocking(move || detection.finish()).await;
    sim.task.abort();
    let alerts = store.alerts(&AlertQuery {
        policy: Some("latency-probe".into()),
        include_signals: true,
        ..AlertQuery::default()
    })?;
    let mut delays: Vec<f64> = alerts
        .iter()
        .filter_map(|a| {
            let at = a
                .draft
                .activity_ids
                .iter()
                .filter_map(|id| available.get(id))
                .max()?;
            Some((a.created - *at).num_milliseconds() as f64 / 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let at = |p: f64| {
        delays
            .get(((delays.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let out = serde_json::json!({
        "users": args.users,
        "poll_interval_s": args.poll_secs,
        "measured_s": args.seconds,
        "blobs_available_while_measuring": blobs,
        "probe_alerts": alerts.len(),
        "sign_ins_measured": delays.len(),
        "delay_p50_s": (at(0.5) * 10.0).round() / 10.0,
        "delay_p95_s": (at(0.95) * 10.0).round() / 10.0,
        "delay_max_s": (at(1.0) * 10.0).round() / 10.0,
        "target_s": args.poll_secs + 5,
    });
    crate::bench_cmd::print(&out, args.format);
    Ok(())
}
