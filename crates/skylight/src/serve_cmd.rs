//! `skylight serve`: the REST API over the store (the console joins it with its issue).

use crate::out::outln;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skylight_server::AppState;

use crate::collect_cmd::StoreArgs;

/// Options of `skylight serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Without an API token only a loopback address is allowed.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file holding the API token clients must send as `Authorization: Bearer …` (or set
    /// SKYLIGHT_API_TOKEN).
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// A connector configuration: collect its tenants, run detection and notifications, and
    /// serve the API over what arrives, in one process (without it, the API alone).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Serves the API until interrupted.
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
    if token.is_none() && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve audit data on {} without an API token: set SKYLIGHT_API_TOKEN or --api-token-file, or listen on 127.0.0.1",
            args.listen
        );
    }
    if token.as_ref().is_some_and(|t| t.len() < 16) {
        anyhow::bail!("the API token is too short: use at least 16 characters");
    }
    let store = args.store.open()?;
    let mut governor = None;
    let collecting = match &args.config {
        Some(path) => {
            // Fail now on a broken configuration rather than from a background task.
            let config = skylight_m365::config::Config::load(path)
                .with_context(|| format!("cannot load the configuration {}", path.display()))?;
            governor = Some(Arc::new(crate::directory_cmd::governor(
                &config,
                store.clone(),
            )?));
            let (path, store) = (path.clone(), store.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = crate::collect_cmd::collect_into(&path, store, false).await {
                    tracing::error!(error = %format!("{e:#}"), "collection stopped");
                }
            }))
        }
        None => None,
    };
    let state = AppState {
        store,
        api_token: token.map(Arc::from),
        governor,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(url = %format!("http://{addr}"), "serving the API (OpenAPI document at /api/v1/openapi.json)");
    outln!("skylight API on http://{addr}/api/v1/activities (OpenAPI: /api/v1/openapi.json)");
    let served = skylight_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    if let Some(task) = collecting {
        task.abort();
    }
    served.context("the API server stopped")
}
