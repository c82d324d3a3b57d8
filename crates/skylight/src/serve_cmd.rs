//! `skylight serve`: the web console and the REST API over the store; with `--config`, also
//! collection, detection and notifications.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skylight_server::{AppState, ConsoleConfig};

use crate::collect_cmd::StoreArgs;

/// Options of `skylight serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Beyond loopback, Skylight must sit behind a TLS proxy (say so with
    /// an https --public-url) or serve the API to token holders only (--api-token-file).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The address people and clients use, e.g. https://skylight.example behind a TLS proxy:
    /// an https URL makes session cookies Secure and turns on HSTS.
    #[arg(long, env = "SKYLIGHT_PUBLIC_URL")]
    public_url: Option<String>,
    /// A file holding an API token with the admin role, for clients configured before console
    /// accounts existed (or set SKYLIGHT_API_TOKEN). `skylight admin token` makes revocable
    /// tokens with a role.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// A connector configuration: collect its tenants, run detection and notifications, and
    /// serve the console and API over what arrives, in one process (without it, the console and
    /// API alone).
    #[arg(long)]
    config: Option<PathBuf>,
    /// What this process does, to spread the work over machines sharing one PostgreSQL
    /// database: `collector` (audit records, directory and files), `detector` (detection,
    /// notifications, policies' governance actions), `api` (console and REST API), any
    /// combination, comma-separated. Processes with the same role split its work through
    /// leases and take over from one that dies. collector and detector need --config.
    #[arg(long, value_delimiter = ',', default_values = ["collector", "detector", "api"])]
    role: Vec<Role>,
    #[command(flatten)]
    store: StoreArgs,
}

/// A part of Skylight's work a process can take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Collection from Microsoft 365 (audit records, directory, files).
    Collector,
    /// Detection, notifications and governance actions.
    Detector,
    /// The web console and the REST API.
    Api,
}

/// Serves the console and the API until interrupted.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let token = match &args.api_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the API token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("SKYLIGHT_API_TOKEN")
            .ok()
            .map(|t| t.trim().to_owned()),
    }
    .filter(|t| !t.is_empty());
    if token.as_ref().is_some_and(|t| t.len() < 16) {
        anyhow::bail!("the API token is too short: use at least 16 characters");
    }
    let tls = match &args.public_url {
        Some(u) if u.starts_with("https://") => true,
        Some(u) if u.starts_with("http://") => false,
        Some(u) => anyhow::bail!("--public-url {u}: an http:// or https:// URL"),
        None => false,
    };
    if !args.listen.ip().is_loopback() && !tls && token.is_none() {
        anyhow::bail!(
            "refusing to serve audit data on {} over plain HTTP without an API token: put Skylight behind a TLS proxy and pass --public-url https://…, or listen on 127.0.0.1",
            args.listen
        );
    }
    let roles = crate::collect_cmd::Roles {
        collect: args.role.contains(&Role::Collector),
        detect: args.role.contains(&Role::Detector),
    };
    let api = args.role.contains(&Role::Api);
    let store = args.store.open()?;
    let sealer = args.store.sealer()?;
    // Fail now on a broken configuration rather than from a background task; without one, the
    // tenants are those connected in the console, with the default settings.
    let config = match &args.config {
        Some(path) => skylight_m365::config::Config::load(path)
            .with_context(|| format!("cannot load the configuration {}", path.display()))?,
        None => skylight_m365::config::Config::from_toml_str("", ".")
            .context("the default configuration")?,
    };
    if !api {
        // Checked now, as `collect` does, so that a broken configuration stops here.
        skylight_enrich::Enricher::new(&config.enrichment)
            .context("enrichment: fix [enrichment] or [[ip_range]] in the configuration")?;
        let what = match (roles.collect, roles.detect) {
            (true, true) => "collecting and detecting",
            (true, false) => "collecting",
            (false, true) => "detecting",
            (false, false) => {
                anyhow::bail!("nothing to do: give --role collector, detector or api")
            }
        };
        println!("skylight {what} (no console or API in this process); stop with Ctrl-C");
        let mut task = spawn_collecting(args.config.clone(), store, sealer, roles);
        return tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                task.abort();
                Ok(())
            }
            ended = &mut task => match ended {
                Ok(outcome) => outcome.context("the collector stopped"),
                Err(e) => Err(anyhow::anyhow!("the collector task failed: {e}")),
            },
        };
    }
    let accounts = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.account_count())
            .await
            .context("store task failed")??
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut banner = vec![
        format!("skylight console on http://{addr}/ (sign in with a console account)"),
        format!("skylight API on http://{addr}/api/v1/activities (OpenAPI: /api/v1/openapi.json)"),
    ];
    if accounts == 0 {
        banner.push(
            "no console account yet: create one with `skylight admin create --username NAME` (same --data-dir)".into(),
        );
    }
    let serving = Serving {
        config_path: args.config.clone(),
        config,
        store,
        sealer,
        roles,
        api_token: token,
        secure_cookies: tls,
    };
    run_console(serving, listener, banner).await
}

/// What a process serving the console does, besides serving it.
pub struct Serving {
    /// The configuration file, if any (its tenants, detection, notifications).
    pub config_path: Option<PathBuf>,
    /// The configuration read from it (or the defaults).
    pub config: skylight_m365::config::Config,
    /// The store.
    pub store: Arc<dyn skylight_store::Store>,
    /// Seals and opens console-made connectors' credentials.
    pub sealer: Arc<skylight_store::seal::Sealer>,
    /// Collection and detection in this process.
    pub roles: crate::collect_cmd::Roles,
    /// A configured admin bearer token.
    pub api_token: Option<String>,
    /// Served behind TLS.
    pub secure_cookies: bool,
}

/// Collection and detection as `roles` say, in a task of their own.
fn spawn_collecting(
    config_path: Option<PathBuf>,
    store: Arc<dyn skylight_store::Store>,
    sealer: Arc<skylight_store::seal::Sealer>,
    roles: crate::collect_cmd::Roles,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let outcome =
            crate::collect_cmd::collect_into(config_path.as_deref(), store, sealer, false, roles)
                .await;
        if let Err(e) = &outcome {
            tracing::error!(error = %format!("{e:#}"), "collection stopped");
        }
        outcome
    })
}

/// Collects and detects (as `serving.roles` say) and serves the console and the API on
/// `listener` until Ctrl-C, after printing `banner`: `skylight serve`, and `skylight demo` over
/// its simulated tenant.
pub async fn run_console(
    serving: Serving,
    listener: tokio::net::TcpListener,
    banner: Vec<String>,
) -> anyhow::Result<()> {
    let Serving {
        config_path,
        config,
        store,
        sealer,
        roles,
        api_token,
        secure_cookies,
    } = serving;
    let enricher = skylight_enrich::Enricher::new(&config.enrichment)
        .context("enrichment: fix [enrichment] or [[ip_range]] in the configuration")?;
    let attributions: Vec<String> = enricher
        .attributions()
        .into_iter()
        .map(String::from)
        .collect();
    let collecting = (roles.collect || roles.detect)
        .then(|| spawn_collecting(config_path, store.clone(), sealer.clone(), roles));
    // Governance actions from the console and the API, on the file's tenants and on those
    // connected in the console as they come and go.
    let governor = Arc::new(crate::govern_cmd::governor(&config, store.clone())?);
    let tenants = crate::tenants::watch(config.tenants.clone(), store.clone(), sealer.clone());
    crate::tenants::keep_governor(governor.clone(), tenants);
    let kit = skylight_server::connect::ConnectKit {
        sealer: sealer.clone(),
        http: reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(15))
            .build()
            .context("cannot build the HTTP client")?,
        file_tenants: config.tenants.iter().map(|t| t.name.clone()).collect(),
    };
    let state = AppState::new(store)
        .with_api_token(api_token.as_deref())
        .with_governor(Some(governor))
        .with_connect(kit)
        .with_console(ConsoleConfig {
            secure_cookies,
            attributions,
            file_ip_ranges: config.enrichment.ip_ranges.clone(),
            ..ConsoleConfig::default()
        });
    let addr = listener.local_addr()?;
    tracing::info!(url = %format!("http://{addr}"), "serving the console and the API (OpenAPI document at /api/v1/openapi.json)");
    // The server keeps running when whoever started it stops reading its output.
    let mut out = std::io::stdout().lock();
    for line in banner {
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    drop(out);
    let served = skylight_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    if let Some(task) = collecting {
        task.abort();
    }
    served.context("the server stopped")
}
