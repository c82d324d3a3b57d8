//! The simulator's HTTP surface on one port: identity platform, Management Activity API and the
//! `/_sim` endpoints tests use (tenant, ground truth, request log, clock).

mod activity;
mod errors;
pub mod graph;
pub mod report;
mod sim_api;
mod token;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::catalog::ContentType;
use crate::certs::AppCertificate;
use crate::clock::SimClock;
use crate::config::{Fault, SimConfig};
use crate::feed::ids::BlobKey;
use crate::feed::runtime::RuntimeFeed;
use crate::feed::{BlobMeta, Feed};
use crate::graph::GraphState;
use crate::hosts::{PublicUrls, service_of_path};
use crate::rng::hash;
use crate::scenarios::Incident;
use crate::tenant::Tenant;

/// A content-type subscription's state.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Enabled or stopped.
    pub enabled: bool,
    /// The content type as the caller spelled it (echoed back, as the service does).
    pub spelled: String,
    /// Webhook, if any.
    pub webhook: Option<Webhook>,
    /// When `/start` was last called for it.
    pub last_start: DateTime<Utc>,
    /// Content published before this time is unreachable (set when restarted after a stop).
    pub floor: Option<DateTime<Utc>>,
}

/// A webhook registered on a subscription.
#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    /// `enabled`, `disabled` or `expired`.
    pub status: String,
    /// HTTPS address.
    pub address: String,
    /// Sent back in `Webhook-AuthID`.
    #[serde(rename = "authId")]
    pub auth_id: Option<String>,
    /// Expiration, if any.
    pub expiration: Option<String>,
}

/// A webhook delivery, as `/subscriptions/notifications` lists them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// Content type.
    pub content_type: String,
    /// Content id.
    pub content_id: String,
    /// Content URI.
    pub content_uri: String,
    /// Content created.
    pub content_created: String,
    /// Content expiration.
    pub content_expiration: String,
    /// When it was sent.
    pub notification_sent: String,
    /// HTTP outcome.
    pub notification_status: String,
    #[serde(skip)]
    sent_at: DateTime<Utc>,
}

/// Tenant-wide switches tests flip through `POST /_sim/control`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Control {
    /// Unified audit logging is on.
    pub audit_enabled: bool,
    /// The tenant holds a Microsoft 365 licence.
    pub licensed: bool,
    /// When set, the token endpoints answer every request with this AADSTS error (see
    /// `token::FORCEABLE` for the codes), so clients can be tested on each of them.
    #[serde(default)]
    pub force_aadsts: Option<u32>,
}

/// One served request.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Sequence number.
    pub seq: u64,
    /// Simulator time it arrived.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Milliseconds taken.
    pub ms: u64,
    /// The `Host` (or HTTP/2 authority) the client named.
    pub host: String,
    /// The client as the drain report counts it: the app's client id, or the peer address.
    pub client: String,
}

/// The bounded request log.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<LoggedRequest>,
    dropped: u64,
}

/// Blobs built at start-up (see [`Sim::prebuild`]): the JSON served and its record count.
#[derive(Default)]
pub struct Prebuilt(HashMap<BlobKey, (Bytes, u32)>);

impl std::fmt::Debug for Prebuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prebuilt({} blobs)", self.0.len())
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Sim {
    /// Settings.
    pub cfg: SimConfig,
    /// Clock.
    pub clock: SimClock,
    /// Directory.
    pub tenant: Arc<Tenant>,
    /// Publication plan.
    pub feed: Feed,
    /// Injected incidents.
    pub incidents: Vec<Incident>,
    /// The registered certificate of the main app.
    pub cert: AppCertificate,
    /// Base URL the simulator is reached at (`/_sim`; the management URL).
    pub public_url: String,
    /// The base URLs written into what each service emits.
    pub urls: PublicUrls,
    /// Per-client tallies for the drain report.
    pub drain: report::Drain,
    subs: Mutex<BTreeMap<ContentType, Subscription>>,
    control: Mutex<Control>,
    limiter: Option<(DefaultKeyedRateLimiter<String>, DefaultDirectRateLimiter)>,
    log: Mutex<RequestLog>,
    notifications: Mutex<VecDeque<NotificationRecord>>,
    counter: AtomicU64,
    token_key: Vec<u8>,
    /// The Graph view of the tenant, built on first use.
    graph: OnceLock<Mutex<GraphState>>,
    /// Records published while running (Graph writes, directory sync, requested changes).
    runtime: Mutex<RuntimeFeed>,
    /// Graph throttling buckets per application and workload class (the `throttle` fault).
    graph_limits: Option<graph::Limits>,
    /// Blobs built at start-up (`SimConfig::pregenerate`).
    prebuilt: Prebuilt,
}

impl Sim {
    /// Builds the simulator's state.
    pub fn new(
        cfg: SimConfig,
        tenant: Arc<Tenant>,
        feed: Feed,
        incidents: Vec<Incident>,
        cert: AppCertificate,
        clock: SimClock,
        urls: PublicUrls,
    ) -> Sim {
        // Each publisher GUID gets the full budget; requests without one (or with something
        // that is not a GUID) share a quarter of it, as the reference describes a shared pool.
        let limiter = cfg
            .effective_rpm()
            .and_then(std::num::NonZeroU32::new)
            .map(|rpm| {
                let shared = std::num::NonZeroU32::new((rpm.get() / 4).max(1)).unwrap_or(rpm);
                (
                    RateLimiter::keyed(Quota::per_minute(rpm)),
                    RateLimiter::direct(Quota::per_minute(shared)),
                )
            });
        let token_key = hash(&[cfg.seed, 0x70_6b_65_79]).to_le_bytes().repeat(4);
        let cfg_throttle = cfg.has(Fault::Throttle);
        Sim {
            cfg,
            clock,
            tenant,
            feed,
            incidents,
            cert,
            public_url: urls.base.clone(),
            urls,
            drain: report::Drain::default(),
            subs: Mutex::new(BTreeMap::new()),
            control: Mutex::new(Control {
                audit_enabled: true,
                licensed: true,
                force_aadsts: None,
            }),
            limiter,
            log: Mutex::new(RequestLog::default()),
            notifications: Mutex::new(VecDeque::new()),
            counter: AtomicU64::new(0),
            token_key,
            graph: OnceLock::new(),
            runtime: Mutex::new(RuntimeFeed::default()),
            graph_limits: graph::Limits::new(cfg_throttle),
            prebuilt: Prebuilt::default(),
        }
    }

    /// Builds every blob published by the horizon, on every core (`SimConfig::pregenerate`).
    pub fn prebuild(&mut self) {
        let shuffle = self.cfg.has(Fault::Shuffle);
        let horizon = self.horizon();
        let metas: Vec<BlobMeta> = ContentType::ALL
            .into_iter()
            .flat_map(|ct| self.feed.published(ct, horizon))
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let feed = &self.feed;
        let built: Vec<(BlobKey, Bytes, u32)> = std::thread::scope(|s| {
            let parts: Vec<_> = metas
                .chunks(metas.len().div_ceil(threads).max(1))
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|m| {
                                let copies = feed.duplicate_sources(m).len() as u32;
                                (
                                    m.key,
                                    Bytes::from(feed.blob_json(m, shuffle)),
                                    m.count() + copies,
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // A part whose thread failed is built when asked for, as without prebuilding.
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        });
        self.prebuilt.0 = built
            .into_iter()
            .map(|(key, json, records)| (key, (json, records)))
            .collect();
    }

    /// A blob built at start-up, and the records it serves (duplicates included).
    pub fn prebuilt(&self, key: &BlobKey) -> Option<(Bytes, u32)> {
        self.prebuilt.0.get(key).cloned()
    }

    /// The Graph state, built from the tenant on first use.
    pub fn graph(&self) -> MutexGuard<'_, GraphState> {
        self.graph
            .get_or_init(|| {
                let mut settings = self.cfg.graph.clone();
                if self.cfg.has(Fault::Duplicates) && settings.delta_duplicate_probability == 0.0 {
                    settings.delta_duplicate_probability = 0.1;
                }
                Mutex::new(GraphState::new(
                    self.tenant.clone(),
                    settings,
                    self.clock.start(),
                ))
            })
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Applies what fell due in the Graph state (directory sync) and publishes its records; a
    /// no-op until Graph is first used.
    pub fn graph_tick(&self) {
        if self.graph.get().is_some() {
            let mut st = self.graph();
            st.tick(self.clock.now());
            self.flush(&mut st);
        }
    }

    /// Hands the records the Graph state queued to the runtime feed, one blob per record.
    pub fn flush(&self, st: &mut GraphState) {
        if st.outbox.is_empty() {
            return;
        }
        let mut rt = self.runtime();
        for o in std::mem::take(&mut st.outbox) {
            rt.publish(
                o.ct,
                self.feed.slot_of(o.event),
                o.published,
                vec![o.record],
            );
        }
    }

    /// The runtime feed.
    pub fn runtime(&self) -> MutexGuard<'_, RuntimeFeed> {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The latest publication time content can have: start-up for a static tenant, now when live.
    pub fn horizon(&self) -> DateTime<Utc> {
        if self.cfg.live {
            self.clock.now()
        } else {
            self.clock.start()
        }
    }

    /// The next request number (drives deterministic fault injection).
    fn next_n(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, BTreeMap<ContentType, Subscription>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn control(&self) -> Control {
        self.control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// True when a request under this publisher key is over budget.
    fn throttled(&self, publisher: Option<&str>) -> bool {
        let Some((keyed, shared)) = &self.limiter else {
            return false;
        };
        match publisher.filter(|p| crate::rng::is_guid(p)) {
            Some(p) => {
                // Keep the per-publisher state from growing with every GUID ever seen.
                if self.counter.load(Ordering::Relaxed).is_multiple_of(4096) {
                    keyed.retain_recent();
                }
                keyed.check_key(&p.to_ascii_lowercase()).is_err()
            }
            None => shared.check().is_err(),
        }
    }
}

/// Builds the router.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/token", post(token::token_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/start",
            post(activity::start),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/stop",
            post(activity::stop),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/list",
            get(activity::list),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/content",
            get(activity::content),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/notifications",
            get(activity::notifications),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/audit/{content_id}",
            get(activity::retrieve),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/resources/dlpSensitiveTypes",
            get(activity::dlp_sensitive_types),
        )
        .route("/v1.0/{*rest}", any(graph::dispatch))
        .route("/graph/v1.0/{*rest}", any(graph::dispatch))
        .route("/_api/v2.0/monitor/{job}", get(graph::monitor))
        .route("/_sim/graph", get(graph::control::state))
        .route("/_sim/graph/writes", get(graph::control::writes))
        .route("/_sim/graph/audit", get(graph::control::audit))
        .route("/_sim/graph/changes", post(graph::control::changes))
        .route(
            "/_sim/graph/faults",
            get(graph::control::get_faults)
                .post(graph::control::set_faults)
                .delete(graph::control::clear_faults),
        )
        .route("/_sim/graph/locks", post(graph::control::lock))
        .route(
            "/_sim/graph/control",
            get(graph::control::get_settings).post(graph::control::set_settings),
        )
        .route("/_sim/tenant", get(sim_api::tenant))
        .route("/_sim/truth", get(sim_api::truth))
        .route("/_sim/requests", get(sim_api::requests))
        .route("/_sim/report", get(report::report))
        .route(
            "/_sim/clock",
            get(sim_api::clock).post(sim_api::advance_clock),
        )
        .route(
            "/_sim/control",
            get(sim_api::get_control).post(sim_api::set_control),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), faults_and_log))
        .with_state(sim)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Routes by `Host`, logs every request, counts it for the drain report, stamps `Date` with the
/// simulator's clock, and injects `flaky` faults.
async fn faults_and_log(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    // HTTP/1.1 names the host in `Host`; HTTP/2 in the `:authority` pseudo-header.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<crate::tls::ClientAddr>>()
        .map(|c| c.0.0);
    let client = report::client_of(&sim, req.headers(), peer);
    let arrived = sim.clock.now();
    let simulated = !path.starts_with("/_sim");
    let n = sim.next_n();
    // One listener answers for every Microsoft name: a name only serves its own service's
    // paths, as the real hosts do; plain addresses (and `/_sim`) route by path alone.
    let misrouted = match (sim.urls.service_of(&host), service_of_path(&path)) {
        (Some(h), Some(p)) => h != p,
        (Some(_), None) => simulated,
        _ => false,
    };

    let mut reset = false;
    let is_graph = path.starts_with("/v1.0/") || path.starts_with("/graph/v1.0/");
    let mut response = if misrouted {
        not_found().await
    } else if simulated && sim.cfg.has(Fault::Flaky) {
        let roll = (hash(&[sim.cfg.seed, 0xF1A4, n]) % 1000) as u32;
        match roll {
            0..=49 if is_graph => graph::flaky_error(&sim, roll, n),
            0..=49 if path.contains("/oauth2/") => errors::aadsts(
                sim.clock.now(),
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
                n,
            ),
            0..=29 => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
            30..=49 => errors::af(
                StatusCode::INTERNAL_SERVER_ERROR,
                "AF50000",
                "An internal error occurred. Retry the request.",
            ),
            50..=69 => {
                tokio::time::sleep(std::time::Duration::from_millis(
                    1500 + u64::from(roll) * 50,
                ))
                .await;
                next.run(req).await
            }
            70..=84 => {
                reset = true;
                next.run(req).await
            }
            _ => next.run(req).await,
        }
    } else {
        next.run(req).await
    };

    let date = sim
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, v);
    }
    let status = response.status().as_u16();
    if simulated {
        let throttled = status == 429 || response.extensions().get::<report::Throttled>().is_some();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        sim.drain.request(
            &client,
            report::Answered {
                endpoint: report::endpoint(&method, &path),
                status,
                throttled,
                retry_after,
                arrived: started,
                answered: Instant::now(),
            },
        );
        if let Some(s) = response
            .extensions()
            .get::<report::Served>()
            .filter(|_| !reset)
        {
            sim.drain.fetched(&s.client_id, &s.content_id, s.records);
        }
    }
    if reset {
        // A connection reset: the headers go out, then the body breaks off half-way.
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let half = bytes.slice(..bytes.len() / 2);
        let stream = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by simulator (flaky)",
            )),
        ]);
        response = Response::from_parts(parts, Body::from_stream(stream));
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    let mut log = sim.log.lock().unwrap_or_else(|p| p.into_inner());
    if log.entries.len() >= sim.cfg.request_log_capacity.max(1) {
        log.entries.pop_front();
        log.dropped += 1;
    }
    log.entries.push_back(LoggedRequest {
        seq: n,
        time: arrived.to_rfc3339(),
        method,
        path,
        status,
        ms: started.elapsed().as_millis() as u64,
        host,
        client: client.id,
    });
    drop(log);
    response
}

/// Seconds and minutes left, as the 15-minute start rule words it ("14m 56s").
fn wait_text(left: Duration) -> String {
    let s = left.num_seconds().max(0);
    format!("{}m {}s", s / 60, s % 60)
}

pub use sim_api::tenant_json;

/// Delivers webhook notifications every few seconds while the tenant is live.
pub async fn notify_loop(sim: Arc<Sim>) {
    let mut last = sim.clock.now();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let now = sim.clock.now();
        activity::deliver_notifications(sim.clone(), last, now).await;
        last = now;
    }
}

/// Percent-decoding (`+` is a space in query strings).
pub(crate) fn form_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%' && i + 2 < bytes.len() {
            match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b),
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
