//! `skylight sim` and `skylight demo`.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use skylight_sim::{Cloud, Faults, Scenarios, ServeOptions, SimConfig};

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
    /// Base URL clients reach the simulator at, for every service (`URL`) or one of them
    /// (`login=URL`, `manage=URL`, `graph=URL`); repeatable. Every URL the simulator emits
    /// (contentUri, NextPageUri, @odata.nextLink) uses it. Default: http:// + the listen address,
    /// or Microsoft's host names with --tls.
    #[arg(long, value_name = "[SERVICE=]URL", value_parser = parse_public_url)]
    public_url: Vec<PublicUrl>,
    /// Serve HTTPS with a throwaway CA and a certificate for Microsoft's host names (all clouds),
    /// so unmodified clients can drain the tenant by the real names mapped to this address.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the throwaway CA certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca_out: Option<std::path::PathBuf>,
    /// With --tls: whose host names the emitted URLs use (commercial, gcc, gcc-high, dod, china).
    #[arg(long, default_value = "commercial", requires = "tls")]
    cloud: Cloud,
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
    /// Build every published blob before serving (about 1.3 KB of memory per record), so that
    /// draining the tenant costs the simulator almost nothing: for benchmarks, where it shares
    /// the machine with the client.
    #[arg(long)]
    pregenerate: bool,
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

/// One `--public-url`: for every service, or for one.
#[derive(Debug, Clone)]
pub enum PublicUrl {
    /// Every service.
    All(String),
    /// The identity platform.
    Login(String),
    /// The Management Activity API.
    Manage(String),
    /// Microsoft Graph.
    Graph(String),
}

/// `URL` or `login=URL` / `manage=URL` / `graph=URL`.
fn parse_public_url(s: &str) -> Result<PublicUrl, String> {
    let check = |u: &str| {
        if u.starts_with("http://") || u.starts_with("https://") {
            Ok(u.trim_end_matches('/').to_string())
        } else {
            Err(format!("`{u}` is not an http:// or https:// URL"))
        }
    };
    match s.split_once('=') {
        Some((k, u)) if !k.contains('/') => match k.trim().to_ascii_lowercase().as_str() {
            "login" => check(u).map(PublicUrl::Login),
            "manage" => check(u).map(PublicUrl::Manage),
            "graph" => check(u).map(PublicUrl::Graph),
            other => Err(format!(
                "unknown service `{other}`; expected login, manage or graph"
            )),
        },
        _ => check(s).map(PublicUrl::All),
    }
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
            public_url: self.public_url.iter().rev().find_map(|p| match p {
                PublicUrl::All(u) => Some(u.clone()),
                _ => None,
            }),
            token_lifetime_secs: self.token_lifetime,
            requests_per_minute: self.requests_per_minute,
            page_size: self.page_size.max(1),
            blob_minutes: self.blob_minutes,
            allow_http_webhooks: self.allow_http_webhooks,
            request_log_capacity: self.request_log.max(1),
            pregenerate: self.pregenerate,
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

impl SimArgs {
    fn serve_options(&self) -> ServeOptions {
        let last = |f: fn(&PublicUrl) -> Option<&String>| {
            self.public_url.iter().rev().find_map(f).cloned()
        };
        ServeOptions {
            tls: self.tls,
            cloud: self.cloud,
            login_url: last(|p| match p {
                PublicUrl::Login(u) => Some(u),
                _ => None,
            }),
            manage_url: last(|p| match p {
                PublicUrl::Manage(u) => Some(u),
                _ => None,
            }),
            graph_url: last(|p| match p {
                PublicUrl::Graph(u) => Some(u),
                _ => None,
            }),
        }
    }
}

/// Runs the simulator until Ctrl-C, then prints the drain report.
pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    run(
        cfg,
        &args.listen,
        args.serve_options(),
        args.ca_out.as_deref(),
    )
    .await
}

async fn run(
    cfg: SimConfig,
    listen: &str,
    opts: ServeOptions,
    ca_out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let users = cfg.users;
    let days = cfg.days;
    let running = skylight_sim::start_with(cfg, listen, opts).await.with_context(|| {
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
        format!(
            "  drain report   GET {}/_sim/report (also printed at Ctrl-C)",
            running.url()
        ),
    ];
    let mut banner = banner.to_vec();
    if let Some(m) = &running.tls {
        let ca = match ca_out {
            Some(path) => {
                std::fs::write(path, &m.ca_pem).with_context(|| {
                    format!("cannot write the CA certificate to {}", path.display())
                })?;
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            None => {
                let path = std::env::temp_dir()
                    .join(format!("skylight-sim-ca-{}.pem", running.addr.port()));
                std::fs::write(&path, &m.ca_pem).with_context(|| {
                    format!("cannot write the CA certificate to {}", path.display())
                })?;
                path
            }
        };
        banner.extend(tls_instructions(&running, &ca));
    }
    // Whoever started us may stop reading once it has the URL: a closed pipe is not an error.
    let mut out = std::io::stdout().lock();
    for line in banner {
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    drop(out);
    tracing::info!(url = %running.url(), "simulator ready");
    let sim = running.sim.clone();
    tokio::select! {
        r = running.task => r.context("the simulator stopped")?,
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
    }
    let report = tokio::task::spawn_blocking(move || {
        skylight_sim::http::report::report_text(&skylight_sim::http::report::report_json(&sim))
    })
    .await
    .context("cannot build the drain report")?;
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{report}").and_then(|()| out.flush());
    Ok(())
}

/// What a user does to point an unmodified client at the HTTPS simulator.
fn tls_instructions(running: &skylight_sim::RunningSim, ca: &std::path::Path) -> Vec<String> {
    let ip = running.addr.ip();
    let ip = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        ip.to_string()
    };
    let ca = ca.display();
    let mut lines = vec![
        format!("  tls            CA certificate written to {ca}"),
        "  hosts file     (/etc/hosts, or C:\\Windows\\System32\\drivers\\etc\\hosts) lines:"
            .to_string(),
    ];
    for h in running.sim.urls.host_names() {
        lines.push(format!("    {ip} {h}"));
    }
    let port = running.addr.port();
    if port != 443 {
        lines.push(format!(
            "  port           the URLs carry :{port}; clients with fixed URLs need --listen {ip}:443 (or a port forward)"
        ));
    }
    lines.push("  environment    trust the CA in the client's process:".to_string());
    for var in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    ] {
        lines.push(format!("    export {var}={ca}"));
    }
    lines.push(format!(
        "    (Java: keytool -importcert -noprompt -alias skylight-sim -file {ca} -keystore truststore.jks -storepass changeit)"
    ));
    lines
}
