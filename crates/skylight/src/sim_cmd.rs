//! `skylight sim` and `skylight demo`.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use skylight_sim::{Faults, Scenarios, SimConfig};

/// Options of `skylight sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000", env = "SKYLIGHT_SIM_LISTEN")]
    listen: String,
    /// Users in the generated tenant.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Days of activity already published at start-up.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=30))]
    days: u32,
    /// Seed: the same seed gives the same tenant and the same records.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fault profiles, comma-separated, or `all`: throttle, flaky, duplicates, shuffle, expired, late, gaps.
    #[arg(long, default_value = "")]
    faults: Faults,
    /// Attack scenarios, comma-separated, or `all` (see README for names).
    #[arg(long, default_value = "")]
    scenarios: Scenarios,
    /// Keep publishing new activity in real time (otherwise the tenant is static).
    #[arg(long)]
    live: bool,
    /// The simulator's "now" at start-up, RFC 3339 (default: the wall clock).
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Clock speed relative to real time (e.g. 60 = an hour a minute; 0 = frozen).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Base URL clients reach the simulator at (default: http:// + the listen address).
    #[arg(long)]
    public_url: Option<String>,
    /// Lifetime of issued access tokens, in seconds (short values exercise refresh).
    #[arg(long, default_value_t = 3599, value_parser = clap::value_parser!(i64).range(1..=86_400))]
    token_lifetime: i64,
    /// Management API budget per minute and publisher; beyond it, AF429 (default: unlimited, 300 with the throttle fault).
    #[arg(long)]
    requests_per_minute: Option<u32>,
    /// Content objects per listing page.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Minutes of activity each content blob covers.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    blob_minutes: u32,
    /// Accept http:// webhook addresses (Microsoft requires HTTPS).
    #[arg(long)]
    allow_http_webhooks: bool,
    /// Most requests kept in the request log (`GET /_sim/requests`); the oldest are dropped.
    #[arg(long, default_value_t = 200_000)]
    request_log: usize,
    /// Seconds until directory sync reverts a cloud-side change to an on-premises-synced user.
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(i64).range(0..=604_800))]
    sync_interval: i64,
    /// Seconds a Graph delta token stays valid before the client must resynchronise (410).
    #[arg(long, default_value_t = 604_800, value_parser = clap::value_parser!(i64).range(1..=31_536_000))]
    delta_token_lifetime: i64,
    /// Least seconds between a Graph write and its audit record's publication (published between this and twice this).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    graph_audit_delay: i64,
}

/// Clock speeds from frozen (0) to a year a second or so.
fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1_000_000.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a speed between 0 and 1000000")),
    }
}

impl SimArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            users: self.users.max(1),
            days: self.days,
            seed: self.seed,
            faults: self.faults.clone(),
            scenarios: self.scenarios.clone(),
            live: self.live,
            now: self.now,
            speed: self.speed,
            public_url: self.public_url.clone(),
            token_lifetime_secs: self.token_lifetime,
            requests_per_minute: self.requests_per_minute,
            page_size: self.page_size.max(1),
            blob_minutes: self.blob_minutes,
            allow_http_webhooks: self.allow_http_webhooks,
            request_log_capacity: self.request_log.max(1),
            graph: skylight_sim::GraphSettings {
                sync_interval_secs: self.sync_interval,
                delta_token_lifetime_secs: self.delta_token_lifetime,
                audit_delay_secs: self.graph_audit_delay,
                ..skylight_sim::GraphSettings::default()
            },
        }
    }
}

/// Options of `skylight demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address the console and API listen on (loopback: the demo serves plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where Skylight keeps its data.
    #[arg(long, default_value = "./skylight-data")]
    pub data_dir: std::path::PathBuf,
    /// Users in the simulated tenant.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Days of history.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed of the simulated tenant.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs the simulator until Ctrl-C.
pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    run(cfg, &args.listen).await
}

async fn run(cfg: SimConfig, listen: &str) -> anyhow::Result<()> {
    let users = cfg.users;
    let days = cfg.days;
    let running = skylight_sim::start(cfg, listen).await.with_context(|| {
        format!(
            "cannot start the simulator on {listen}; is the port in use? pick another with --listen"
        )
    })?;
    let t = running.tenant_json();
    let field = |k: &str| t[k].as_str().unwrap_or_default().to_string();
    let banner = [
        format!(
            "skylight sim: a Microsoft 365 tenant of {users} users with {days} days of audit activity"
        ),
        format!("  tenant_id      {}", field("tenant_id")),
        format!("  client_id      {}", field("client_id")),
        format!(
            "  client_secret  {}   (simulated credential, safe to share)",
            field("client_secret")
        ),
        format!("  login_url      {}", field("login_url")),
        format!("  manage_url     {}", field("manage_url")),
        format!("  graph_url      {}", field("graph_url")),
        format!(
            "  certificate    GET {}/_sim/tenant (certificate_pem, private_key_pem)",
            running.url()
        ),
        format!("  ground truth   GET {}/_sim/truth", running.url()),
    ];
    // Whoever started us may stop reading once it has the URL: a closed pipe is not an error.
    let mut out = std::io::stdout().lock();
    for line in banner {
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    drop(out);
    tracing::info!(url = %running.url(), "simulator ready");
    tokio::select! {
        r = running.task => r.context("the simulator stopped")?,
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
    }
    Ok(())
}
