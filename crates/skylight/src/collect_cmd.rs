//! `skylight collect`, and where the store lives (shared by the commands that open it).

use crate::out::outln;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use skylight_m365::collector::{Collector, CollectorOptions, Progress};
use skylight_m365::config::{Config, TenantConfig};
use skylight_store::seal::Sealer;
use skylight_store::{PostgresStore, SqliteStore, Store};

/// Where the store lives: the embedded SQLite store in a data directory, or PostgreSQL.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory of the embedded SQLite store.
    #[arg(long, default_value = "./skylight-data", env = "SKYLIGHT_DATA_DIR")]
    data_dir: PathBuf,
    /// PostgreSQL instead of the embedded store: `postgres://user:password@host:port/database`
    /// (several Skylight processes can share one database). Prefer the environment variable:
    /// a password on the command line shows in the process list.
    #[arg(long, env = "SKYLIGHT_DATABASE_URL", hide_env_values = true)]
    database_url: Option<DatabaseUrl>,
    /// The key that seals the credentials of connectors made in the console (created, mode
    /// 0600, if missing; default: connector-secrets.key in the data directory). Every process
    /// sharing a database needs the same key; keep it out of the database's backups.
    #[arg(long, env = "SKYLIGHT_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
}

/// A database URL, kept out of debug output (it may hold a password).
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    /// Accepts anything: clap would quote a refused value, password and all, in its error, so
    /// the URL is checked when it is used ([`DatabaseUrl::checked`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

impl DatabaseUrl {
    /// The URL if it is a PostgreSQL one; an error that does not repeat it otherwise.
    pub fn checked(&self) -> anyhow::Result<&str> {
        let scheme = self
            .0
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(&self.0),
            _ => anyhow::bail!(
                "--database-url / SKYLIGHT_DATABASE_URL: expected a PostgreSQL URL, postgres://user:password@host:port/database"
            ),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(…)")
    }
}

impl StoreArgs {
    /// Opens the store these options name (creating or migrating its schema).
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        open_store(&self.data_dir, self.database_url.as_ref())
    }

    /// The sealer of connector credentials, its key read from (or created in) its file.
    pub fn sealer(&self) -> anyhow::Result<Arc<Sealer>> {
        let path = self
            .secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("connector-secrets.key"));
        Ok(Arc::new(Sealer::load_or_create(&path).context(
            "cannot use the key that seals connector credentials; fix --secret-key-file / SKYLIGHT_SECRET_KEY_FILE",
        )?))
    }
}

/// Opens PostgreSQL when a URL is given, else the SQLite store in `data_dir`.
pub fn open_store(
    data_dir: &std::path::Path,
    database_url: Option<&DatabaseUrl>,
) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = database_url {
        let store = PostgresStore::open(url.checked()?).context(
            "cannot open the PostgreSQL store named by --database-url / SKYLIGHT_DATABASE_URL; \
             check that the server is up and the user may create tables in that database",
        )?;
        tracing::debug!(database = store.address(), "store: PostgreSQL");
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(data_dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Options of `skylight collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The connector configuration (TOML).
    #[arg(long, default_value = "skylight.toml", env = "SKYLIGHT_CONFIG")]
    config: PathBuf,
    /// Run until every content type has caught up once, print a summary, exit.
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Json,
}

/// Collects every configured tenant.
pub async fn collect(args: CollectArgs) -> anyhow::Result<()> {
    let store = args.store.open()?;
    let sealer = args.store.sealer()?;
    collect_into(Some(&args.config), store, sealer, args.once, Roles::ALL).await
}

/// What a process does with a configuration (`serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Collect the tenants' audit records and sync their directories and files.
    pub collect: bool,
    /// Run detection, notifications and the policies' governance actions.
    pub detect: bool,
}

impl Roles {
    /// Collection and detection.
    pub const ALL: Roles = Roles {
        collect: true,
        detect: true,
    };
}

/// Collects every tenant, those of the configuration file and those connected in the console,
/// into a store, with detection and notifications beside the collectors; `once`: until caught
/// up, with a summary. Outside `once`, connectors connected, changed, paused or disconnected in
/// the console are picked up as the process runs, and processes sharing the store split the
/// work through leases: a tenant's content type, detection and governance are each done by one
/// of them at a time. Without a configuration file, the defaults apply.
pub async fn collect_into(
    config_path: Option<&std::path::Path>,
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    once: bool,
    roles: Roles,
) -> anyhow::Result<()> {
    let config = match config_path {
        Some(path) => Config::load(path)
            .with_context(|| format!("cannot load the configuration {}", path.display()))?,
        None => Config::from_toml_str("", ".").context("the default configuration")?,
    };
    if !once && roles.collect {
        crate::console_settings::keep_retention(store.clone());
    }
    if !once && !crate::tenants::any(&config.tenants, &store).await {
        tracing::info!(
            "no tenant yet: waiting for one to be connected in the console (Connected apps → Connect Microsoft 365)"
        );
        while !crate::tenants::any(&config.tenants, &store).await {
            tokio::time::sleep(crate::tenants::REFRESH).await;
        }
    }
    let http = reqwest::Client::builder()
        // Per read, not per request: a large blob streams for as long as it keeps arriving.
        .read_timeout(std::time::Duration::from_secs(120))
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .context("cannot build the HTTP client")?;
    // `--once` is a catch-up that runs regardless of others (commits are idempotent).
    let leases = if once {
        None
    } else {
        Some(Arc::new(
            skylight_store::lease::LeaseKeeper::start(
                store.clone(),
                skylight_store::lease::process_holder(),
                // Under 3 s, renewals (every third) would crowd the store for nothing.
                std::time::Duration::from_secs(config.collector.lease_secs.max(3)),
            )
            .context("cannot start the lease keeper")?,
        ))
    };
    let enricher = Arc::new(
        skylight_enrich::Enricher::new(&config.enrichment)
            .context("enrichment: fix [enrichment] or [[ip_range]] in the configuration")?,
    );
    // The console's ranges before the first record, then as they change.
    let ranges_seen = crate::console_settings::apply_ip_ranges(&enricher, &store, 0).await;
    if !once {
        crate::console_settings::follow_ip_ranges(enricher.clone(), store.clone(), ranges_seen);
    }
    let opts = CollectorOptions {
        poll_interval: std::time::Duration::from_secs(config.collector.poll_interval_secs.max(1)),
        // At least an hour: content is listed late with an older contentCreated (contract §2.6).
        overlap: chrono::Duration::hours(i64::from(config.collector.overlap_hours.max(1))),
        blob_concurrency: config.collector.blob_concurrency.max(1),
        once,
        on_progress: None,
        enricher: Some(enricher),
        leases: leases.clone(),
    };
    // Detection evaluates activities as the collectors store them.
    let base_dir = config_path
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let detect = crate::detect_cmd::detect_config(&config.detection)?;
    // Checked now, so that a mistake stops `collect` before it starts.
    crate::detect_cmd::engine(&detect, &base_dir, Some(store.as_ref()))?;
    let inventory_policies = crate::directory_cmd::inventory_policies(&config, &base_dir)?;
    let governor = Arc::new(crate::govern_cmd::governor(&config, store.clone())?);
    let (tenants, once_tenants) = if once {
        let now = crate::tenants::current(&config.tenants, &store, &sealer).await?;
        if now.is_empty() && roles.collect {
            anyhow::bail!(
                "no tenant to collect: add a [[tenant]] to the configuration, or connect one in the console (Connected apps → Connect Microsoft 365)"
            );
        }
        for t in &now {
            let client = crate::directory_cmd::graph_client(&http, t);
            governor.set_tenant(&t.name, client, t.quarantine_site.clone());
            governor.set_notify_sender(&t.name, t.notify_sender.clone());
        }
        (None, now)
    } else {
        let rx = crate::tenants::watch(config.tenants.clone(), store.clone(), sealer.clone());
        crate::tenants::keep_governor(governor.clone(), rx.clone());
        (Some(rx), Vec::new())
    };
    let stop_governance = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut notifier = None;
    let mut detection = None;
    let mut governance = None;
    if roles.detect {
        // Alert changes go to the configured channels (webhooks, syslog) as detection commits
        // them; deliveries are leased one by one, so every process may send.
        notifier = crate::notify_cmd::start(&config.notifications, &base_dir, store.clone())
            .context("notifications: fix [notifications] in the configuration")?;
        let (gov_dir, gov_detect) = (base_dir.clone(), detect.clone());
        // On a fresh deployment, the back-fill waits for the directory's groups (scopes).
        let first_syncs: Vec<String> = if config.collector.directory_interval_minutes > 0 {
            match &tenants {
                Some(rx) => rx.borrow().iter().map(|t| t.name.clone()).collect(),
                None => once_tenants.iter().map(|t| t.name.clone()).collect(),
            }
        } else {
            Vec::new()
        };
        detection = Some(crate::detect_cmd::DetectionThread::for_config(
            store.clone(),
            detect,
            base_dir.clone(),
            leases.clone(),
            first_syncs,
        )?);
        // Policies' governance actions on the alerts detection raises.
        governance = Some(tokio::spawn(crate::govern_loop::run(
            governor.clone(),
            store.clone(),
            move |s| crate::detect_cmd::policy_actions(&gov_detect, &gov_dir, s),
            stop_governance.clone(),
            leases.as_ref().map(|k| k.want("govern")),
        )));
    }
    let work = Work {
        http,
        store: store.clone(),
        opts,
        inventory_policies,
        directory_minutes: config.collector.directory_interval_minutes,
    };
    if let Some(rx) = tenants {
        // Until the process is stopped: collectors follow the tenants as they change.
        if roles.collect {
            supervise(&work, rx).await;
        }
        std::future::pending::<()>().await;
    }
    let tenants = if roles.collect {
        once_tenants
    } else {
        Vec::new()
    };
    let bars = progress_bars(&tenants, roles.collect);
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut syncs = Vec::new();
    for tenant in &tenants {
        let on_progress = bars.as_ref().map(|b| b.callback(&tenant.name));
        let (run, sync) = work.start(tenant, on_progress);
        runs.push(run);
        syncs.extend(sync);
    }
    let mut failed = false;
    let mut results = Vec::new();
    for run in runs {
        results.push(run.await.context("a collector task failed")?);
    }
    if let Some(b) = &bars {
        b.finish();
    }
    outln!(
        "{:<16} {:<28} {:>10} {:>10} {:>8} {:>6} {:>6}  error",
        "tenant",
        "content type",
        "records",
        "duplicate",
        "blobs",
        "gaps",
        "bad"
    );
    for (name, requests, progress) in results {
        for (ct, p) in &progress {
            failed |= p.error.is_some();
            outln!(
                "{:<16} {:<28} {:>10} {:>10} {:>8} {:>6} {:>6}  {}",
                name,
                ct.as_str(),
                p.records,
                p.duplicates,
                p.blobs,
                p.gaps,
                p.quarantined,
                p.error.as_deref().unwrap_or("-")
            );
        }
        outln!(
            "{name}: {requests} requests in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let detected = match detection {
        Some(d) => tokio::task::spawn_blocking(move || d.finish())
            .await
            .context("detection task failed")??,
        None => Default::default(),
    };
    for sync in syncs {
        if let Ok(Some(line)) = sync.await {
            outln!("{line}");
        }
    }
    stop_governance.store(true, std::sync::atomic::Ordering::Relaxed);
    // With `--once`, the last alerts' actions are taken before exiting.
    if let Some(governance) = governance {
        let _ = governance.await;
    }
    if roles.detect {
        outln!(
            "detection: {} activities evaluated, {} alerts raised or updated (`skylight alerts` lists them)",
            detected.activities,
            detected.alerts
        );
    }
    if let Some(notifier) = notifier {
        // One last round after detection's last commit; what is left waits in the store.
        let sent = notifier.finish().await?;
        outln!(
            "notifications: {} queued, {} delivered, {} attempts to retry, {} failed (`skylight notifications` lists them)",
            sent.queued,
            sent.delivered,
            sent.retrying,
            sent.failed
        );
    }
    if failed {
        anyhow::bail!("some content types failed; `skylight status` says what to do");
    }
    Ok(())
}

/// What a collector of one tenant needs, whichever tenant it is.
struct Work {
    http: reqwest::Client,
    store: Arc<dyn Store>,
    opts: CollectorOptions,
    inventory_policies: crate::directory_cmd::InventoryPolicies,
    directory_minutes: u64,
}

/// A collector's outcome: the tenant, the requests it made, each content type's progress.
type CollectorRun = (String, u64, Vec<(skylight_model::ContentType, Progress)>);

impl Work {
    /// Starts a tenant's collector and (unless syncs are off) its directory sync.
    fn start(
        &self,
        tenant: &TenantConfig,
        on_progress: Option<skylight_m365::collector::ProgressFn>,
    ) -> (
        tokio::task::JoinHandle<CollectorRun>,
        Option<tokio::task::JoinHandle<Option<String>>>,
    ) {
        let opts = CollectorOptions {
            on_progress,
            ..self.opts.clone()
        };
        let collector = Arc::new(Collector::connect(
            self.http.clone(),
            tenant,
            self.store.clone(),
            opts,
        ));
        let cts = tenant.content_types.clone();
        let name = tenant.name.clone();
        let run = tokio::spawn(async move {
            let progress = collector.clone().run(&cts).await;
            (name, collector.requests(), progress)
        });
        let sync = (self.directory_minutes > 0).then(|| {
            crate::directory_cmd::spawn_sync(
                tenant.name.clone(),
                crate::directory_cmd::graph_client(&self.http, tenant),
                self.store.clone(),
                Arc::clone(&self.inventory_policies),
                tenant.components.files,
                (!self.opts.once).then_some(self.directory_minutes),
                // Processes sharing the store share the tenants' syncs out, as content types.
                self.opts
                    .leases
                    .as_ref()
                    .map(|k| k.want_shared(&format!("sync:{}", tenant.name))),
            )
        });
        (run, sync)
    }
}

/// Once a stopped collector's last store writes are done, deletes its tenant's statuses if the
/// connector was disconnected (the console deletes them with the connector, but a status the
/// collector was writing as it stopped can land after): left, they would read as a collector
/// stopped. A paused connector is still in the store, and a changed one (or a file's tenant
/// whose settings changed) is collected again: they keep them.
fn forget_if_disconnected(
    store: Arc<dyn Store>,
    tenant: String,
    tenants: tokio::sync::watch::Receiver<crate::tenants::Tenants>,
) {
    /// When to look: after a status write the abort cannot cancel (it runs on the blocking
    /// pool), and again later in case one waited long for the store.
    const AFTER: [std::time::Duration; 2] = [
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(60),
    ];
    tokio::spawn(async move {
        for wait in AFTER {
            tokio::time::sleep(wait).await;
            if tenants.borrow().iter().any(|t| t.name == tenant) {
                return;
            }
            let name = tenant.clone();
            let forgot = skylight_m365::on_store(&store, move |s| {
                if s.connectors()?.iter().any(|c| c.name == name) {
                    return Ok(0);
                }
                s.delete_statuses(&name)
            })
            .await;
            if let Err(e) = forgot {
                tracing::warn!(error = %e, "cannot delete a disconnected connector's statuses");
            }
        }
    });
}

/// Runs a collector (and directory sync) per tenant and follows the tenants as they change: a
/// connector connected starts, one changed restarts with its new settings, one paused or
/// disconnected stops. Returns when the tenant list's sender is gone.
async fn supervise(
    work: &Work,
    mut tenants: tokio::sync::watch::Receiver<crate::tenants::Tenants>,
) {
    struct Running {
        tenant: TenantConfig,
        tasks: Vec<tokio::task::AbortHandle>,
    }
    let mut running: std::collections::HashMap<String, Running> = Default::default();
    loop {
        let now = tenants.borrow_and_update().clone();
        running.retain(|name, r| {
            let keep = now.contains(&r.tenant);
            if !keep {
                for task in &r.tasks {
                    task.abort();
                }
                tracing::info!(tenant = %name, "collector stopped (connector paused, changed or disconnected)");
                forget_if_disconnected(work.store.clone(), name.clone(), tenants.clone());
            }
            keep
        });
        let fresh: Vec<&TenantConfig> = now
            .iter()
            .filter(|t| !running.contains_key(&t.name))
            .collect();
        for t in fresh {
            tracing::info!(tenant = %t.name, content_types = t.content_types.len(), "collector started");
            let (run, sync) = work.start(t, None);
            let mut tasks = vec![run.abort_handle()];
            tasks.extend(sync.map(|s| s.abort_handle()));
            running.insert(
                t.name.clone(),
                Running {
                    tenant: t.clone(),
                    tasks,
                },
            );
        }
        if tenants.changed().await.is_err() {
            return;
        }
    }
}

/// One progress bar per tenant and content type, on a terminal during `--once` runs.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: std::collections::HashMap<(String, skylight_model::ContentType), indicatif::ProgressBar>,
    started: Instant,
}

fn progress_bars(tenants: &[TenantConfig], collect: bool) -> Option<Arc<Bars>> {
    use std::io::IsTerminal;
    if !collect || !std::io::stderr().is_terminal() {
        return None;
    }
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:<40} [{bar:30}] {percent:>3}%  {msg}  eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    let mut bars = std::collections::HashMap::new();
    for t in tenants {
        for ct in &t.content_types {
            let bar = multi.add(indicatif::ProgressBar::new(1000));
            bar.set_style(style.clone());
            bar.set_prefix(format!("{} {}", t.name, ct.as_str()));
            bars.insert((t.name.clone(), *ct), bar);
        }
    }
    Some(Arc::new(Bars {
        multi,
        bars,
        started: Instant::now(),
    }))
}

impl Bars {
    fn callback(self: &Arc<Self>, tenant: &str) -> skylight_m365::collector::ProgressFn {
        let me = self.clone();
        let tenant = tenant.to_string();
        Arc::new(move |ct, p, share| {
            if let Some(bar) = me.bars.get(&(tenant.clone(), ct)) {
                bar.set_position((share * 1000.0) as u64);
                let rate = p.records as f64 / me.started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{} records, {:.0}/s", p.records, rate));
            }
        })
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
        let _ = self.multi.clear();
    }
}
