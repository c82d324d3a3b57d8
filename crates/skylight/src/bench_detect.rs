//! `skylight bench detect`: detection over a store filled from a simulated tenant that carries
//! every attack scenario: evaluation rate with every default policy and detection on, and the
//! alerts per detection against the injected incidents (recall and precision).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use skylight_detect::{DetectConfig, Detector};
use skylight_store::{AlertQuery, SqliteStore, Store};

/// Options of `skylight bench detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Users in the simulated tenant.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Days of history.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Days baselines learn (the simulated week places incidents from its first day on).
    #[arg(long, default_value_t = 1.0)]
    learning_days: f64,
    /// Users whose detection state is held in memory (`[detection] users_in_memory`).
    #[arg(long, default_value_t = DetectConfig::default().users_in_memory)]
    users_in_memory: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::collect_cmd::Format,
}

/// The detection meant to catch each scenario (the simulator's catalogue).
const INTENDED: [(&str, &str); 15] = [
    ("impossible_travel", "impossible_travel"),
    ("anonymous_ip", "risky_ip"),
    ("brute_force", "failed_sign_ins"),
    ("password_spray", "password_spray"),
    ("mass_download", "mass_download"),
    ("mass_delete", "mass_delete"),
    ("mass_share", "mass_share"),
    ("ransomware", "ransomware"),
    ("inbox_forward_rule", "inbox_forwarding"),
    ("inbox_delete_rule", "inbox_manipulation"),
    ("mailbox_delegation", "mailbox-access-granted"),
    ("admin_role_assignment", "privileged-role-assigned"),
    ("mfa_disabled", "mfa_disabled"),
    ("oauth_consent_high_privilege", "oauth_high_privilege"),
    ("departed_user_activity", "disabled_user"),
];

/// Runs the detection benchmark.
pub async fn bench_detect(args: DetectArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run(&args))
        .await
        .context("the benchmark task failed")?
}

fn run(args: &DetectArgs) -> anyhow::Result<()> {
    let cfg = skylight_sim::SimConfig {
        users: args.users,
        days: args.days,
        now: chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
        scenarios: "all".parse().unwrap_or_default(),
        ..skylight_sim::SimConfig::default()
    };
    let sim = skylight_sim::build(cfg, "http://127.0.0.1:9".into())?;
    let temp = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(temp.path())?);
    let records = crate::bench_query::fill(&sim, &store)?;

    let config = DetectConfig {
        learning_days: args.learning_days,
        users_in_memory: args.users_in_memory,
        ..DetectConfig::default()
    };
    let engine = crate::detect_cmd::engine(&config, temp.path(), None)?;
    let policies = engine.policies().len();
    let mut detector = Detector::open(store.as_ref(), engine)?;
    let started = Instant::now();
    let progress = detector.catch_up()?;
    let secs = started.elapsed().as_secs_f64();
    let (in_memory, stored_only) = detector.engine().users();

    let alerts = store.alerts(&AlertQuery {
        include_signals: true,
        ..AlertQuery::default()
    })?;
    let injected: HashSet<&str> = sim
        .incidents
        .iter()
        .flat_map(|i| i.records.iter().map(|(_, id)| id.as_str()))
        .collect();
    // Per policy: (alerts, of which on injected incidents, signal only).
    let mut per: BTreeMap<String, (u64, u64, bool)> = BTreeMap::new();
    for a in &alerts {
        let e = per
            .entry(a.draft.policy.clone())
            .or_insert((0, 0, a.draft.signal_only));
        e.0 += 1;
        if a.draft
            .activity_ids
            .iter()
            .any(|id| injected.contains(id.as_str()))
        {
            e.1 += 1;
        }
    }
    let mut caught = 0;
    let mut missed = Vec::new();
    for inc in &sim.incidents {
        let ids: HashSet<&str> = inc.records.iter().map(|(_, id)| id.as_str()).collect();
        let want = INTENDED
            .iter()
            .find(|(s, _)| *s == inc.scenario.name())
            .map_or("", |(_, d)| *d);
        let hit = alerts.iter().any(|a| {
            a.draft.policy == want
                && a.draft
                    .activity_ids
                    .iter()
                    .any(|id| ids.contains(id.as_str()))
        });
        if hit {
            caught += 1;
        } else {
            missed.push(inc.scenario.name());
        }
    }
    let queue: Vec<_> = alerts.iter().filter(|a| !a.draft.signal_only).collect();
    let true_alerts = queue
        .iter()
        .filter(|a| {
            a.draft
                .activity_ids
                .iter()
                .any(|id| injected.contains(id.as_str()))
        })
        .count();
    let per_json: serde_json::Map<String, serde_json::Value> = per
        .iter()
        .map(|(k, (n, tp, signal))| {
            (
                k.clone(),
                serde_json::json!({"alerts": n, "on_incidents": tp, "signal_only": signal}),
            )
        })
        .collect();
    let out = serde_json::json!({
        "activities": records,
        "evaluated": progress.activities,
        "policies_enabled": policies,
        "detect_seconds": (secs * 10.0).round() / 10.0,
        "events_per_s": (progress.activities as f64 / secs.max(1e-9)).round(),
        "incidents": sim.incidents.len(),
        "incidents_caught_by_intended_detection": caught,
        "missed": missed,
        "queue_alerts": queue.len(),
        "queue_alerts_on_incidents": true_alerts,
        "queue_precision": if queue.is_empty() { 1.0 } else { ((true_alerts as f64 / queue.len() as f64) * 1000.0).round() / 1000.0 },
        "signals": alerts.len() - queue.len(),
        "users_in_memory": in_memory,
        "users_stored_only": stored_only,
        "per_detection": per_json,
        "peak_rss_bytes": crate::bench_cmd::peak_rss_bytes(),
    });
    crate::bench_cmd::print(&out, args.format);
    Ok(())
}
