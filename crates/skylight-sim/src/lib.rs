//! `skylight-sim`: a simulator of the Microsoft 365 APIs Skylight reads.
//!
//! It is a second, independent reading of Microsoft's published contract and shares no code with
//! the connector. It is strict where Microsoft is strict (documented rules and error codes) and
//! messy where Microsoft is messy (late and duplicated content, throttling, stringified JSON).

pub mod catalog;
pub mod certs;
pub mod clock;
pub mod config;
pub mod feed;
pub mod graph;
pub mod hosts;
pub mod http;
pub mod records;
pub mod rng;
pub mod scenarios;
pub mod tenant;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use tokio::net::TcpListener;

pub use config::{Fault, Faults, GraphSettings, Scenario, Scenarios, SimConfig};
pub use hosts::{Cloud, PublicUrls};
pub use http::Sim;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The app certificate could not be generated.
    #[error(transparent)]
    Certificate(#[from] certs::CertError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The listener failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// A running simulator.
#[derive(Debug)]
pub struct RunningSim {
    /// The shared state (tenant, feed, clock).
    pub sim: Arc<Sim>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The serving task.
    pub task: tokio::task::JoinHandle<()>,
    /// The CA and server certificate, when serving HTTPS.
    pub tls: Option<tls::TlsMaterial>,
}

/// How the simulator is reached: plain HTTP on an address, or HTTPS by Microsoft's names.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Serve HTTPS with a throwaway CA and a certificate for every Microsoft host name.
    pub tls: bool,
    /// The cloud whose host names the emitted URLs use under TLS.
    pub cloud: Cloud,
    /// Public base of the identity platform (token endpoints).
    pub login_url: Option<String>,
    /// Public base of the Management Activity API (contentUri, NextPageUri).
    pub manage_url: Option<String>,
    /// Public base of Microsoft Graph (@odata.nextLink and other links).
    pub graph_url: Option<String>,
}

impl RunningSim {
    /// The base URL clients use.
    pub fn url(&self) -> String {
        self.sim.public_url.clone()
    }

    /// The `/_sim/tenant` document.
    pub fn tenant_json(&self) -> serde_json::Value {
        http::tenant_json(&self.sim)
    }

    /// The drain report (walks the publication plan: blocking).
    pub fn report_json(&self) -> serde_json::Value {
        http::report::report_json(&self.sim)
    }
}

/// Generates the tenant and its feed (the expensive, blocking part of start-up).
pub fn build(cfg: SimConfig, public_url: String) -> Result<Sim, SimError> {
    build_with(cfg, PublicUrls::same(&public_url))
}

/// Generates the tenant and its feed, emitting URLs under `urls`.
pub fn build_with(cfg: SimConfig, urls: PublicUrls) -> Result<Sim, SimError> {
    let start = cfg.now.unwrap_or_else(Utc::now);
    let clock = clock::SimClock::new(start, cfg.speed);
    let tenant = Arc::new(tenant::Tenant::generate(cfg.seed, cfg.users.max(1), start));
    let mut feed = feed::Feed::new(&cfg, tenant.clone(), start);
    let incidents = scenarios::plan(&cfg, &tenant, &mut feed, start);
    let cert =
        certs::AppCertificate::generate(&format!("CN=Skylight connector, O={}", tenant.org_name))?;
    let pregenerate = cfg.pregenerate;
    let mut sim = Sim::new(cfg, tenant, feed, incidents, cert, clock, urls);
    if pregenerate {
        sim.prebuild();
    }
    Ok(sim)
}

/// Binds `listen` and serves the simulator over plain HTTP until the task is aborted.
pub async fn start(cfg: SimConfig, listen: &str) -> Result<RunningSim, SimError> {
    start_with(cfg, listen, ServeOptions::default()).await
}

/// Binds `listen` and serves the simulator as `opts` say until the task is aborted.
pub async fn start_with(
    cfg: SimConfig,
    listen: &str,
    opts: ServeOptions,
) -> Result<RunningSim, SimError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| SimError::Io {
            addr: listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Io {
        addr: listen.to_string(),
        source,
    })?;
    // Precedence: a per-service URL, then `public_url` for all, then the listener's own names.
    let defaults = match (&cfg.public_url, opts.tls) {
        (Some(u), _) => PublicUrls::same(u),
        (None, true) => PublicUrls::cloud(opts.cloud, addr.port()),
        (None, false) => PublicUrls::same(&format!("http://{addr}")),
    };
    let urls = defaults.with(
        opts.login_url.as_deref(),
        opts.manage_url.as_deref(),
        opts.graph_url.as_deref(),
    );
    let material = if opts.tls {
        // Key generation is CPU work: keep it off the async threads.
        let mut names: Vec<String> = hosts::all_hosts().into_iter().map(String::from).collect();
        names.extend(urls.host_names());
        names.sort();
        names.dedup();
        let m = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            tls::TlsMaterial::generate(&refs)
        })
        .await
        .map_err(|e| SimError::Io {
            addr: listen.to_string(),
            source: std::io::Error::other(e.to_string()),
        })??;
        Some(m)
    } else {
        None
    };
    let sim = Arc::new(
        tokio::task::spawn_blocking(move || build_with(cfg, urls))
            .await
            .map_err(|e| SimError::Io {
                addr: listen.to_string(),
                source: std::io::Error::other(e.to_string()),
            })??,
    );
    let app = http::router(sim.clone());
    if sim.cfg.live {
        tokio::spawn(http::notify_loop(sim.clone()));
    }
    let make = app.into_make_service_with_connect_info::<tls::ClientAddr>();
    let task = match &material {
        Some(m) => {
            let tls = tls::TlsListener::new(listener, m.server_config()?).map_err(|source| {
                SimError::Io {
                    addr: listen.to_string(),
                    source,
                }
            })?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(tls, make).await {
                    tracing::error!(error = %e, "simulator stopped serving");
                }
            })
        }
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, make).await {
                tracing::error!(error = %e, "simulator stopped serving");
            }
        }),
    };
    Ok(RunningSim {
        sim,
        addr,
        task,
        tls: material,
    })
}

/// Shared helpers of the crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, Utc};

    /// The fixed "now" unit tests generate tenants at.
    pub fn fixed_now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }
}
