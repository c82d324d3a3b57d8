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
pub mod http;
pub mod records;
pub mod rng;
pub mod scenarios;
pub mod tenant;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use tokio::net::TcpListener;

pub use config::{Fault, Faults, GraphSettings, Scenario, Scenarios, SimConfig};
pub use http::Sim;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The app certificate could not be generated.
    #[error(transparent)]
    Certificate(#[from] certs::CertError),
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
}

/// Generates the tenant and its feed (the expensive, blocking part of start-up).
pub fn build(cfg: SimConfig, public_url: String) -> Result<Sim, SimError> {
    let start = cfg.now.unwrap_or_else(Utc::now);
    let clock = clock::SimClock::new(start, cfg.speed);
    let tenant = Arc::new(tenant::Tenant::generate(cfg.seed, cfg.users.max(1), start));
    let mut feed = feed::Feed::new(&cfg, tenant.clone(), start);
    let incidents = scenarios::plan(&cfg, &tenant, &mut feed, start);
    let cert =
        certs::AppCertificate::generate(&format!("CN=Skylight connector, O={}", tenant.org_name))?;
    Ok(Sim::new(
        cfg, tenant, feed, incidents, cert, clock, public_url,
    ))
}

/// Binds `listen` and serves the simulator until the task is aborted.
pub async fn start(cfg: SimConfig, listen: &str) -> Result<RunningSim, SimError> {
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
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let sim = Arc::new(
        tokio::task::spawn_blocking(move || build(cfg, public_url))
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
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulator stopped serving");
        }
    });
    Ok(RunningSim { sim, addr, task })
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
