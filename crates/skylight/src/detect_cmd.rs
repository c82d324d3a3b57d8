//! Detection in the binary: the detection thread that runs beside the collector, `skylight
//! alerts`, `skylight alert` and `skylight policies`.

use crate::out::outln;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use skylight_detect::{DetectConfig, Detector, Engine, Progress};
use skylight_model::{Alert, AlertStatus, Resolution, Severity};
use skylight_store::{AlertChange, AlertQuery, Store};

use crate::collect_cmd::{Format, StoreArgs};

/// The `[detection]` table of a configuration, read by the detection crate.
pub fn detect_config(
    settings: &skylight_m365::config::DetectionSettings,
) -> anyhow::Result<DetectConfig> {
    let mut table = settings.other.clone();
    table.insert(
        "learning_days".into(),
        toml::Value::Float(settings.learning_days),
    );
    let config = toml::Value::Table(table)
        .try_into::<DetectConfig>()
        .map_err(|e| anyhow::anyhow!("[detection]: {e}"))?;
    if !(1..=MAX_PARTITIONS).contains(&config.partitions) {
        anyhow::bail!(
            "[detection] partitions = {}: give a number from 1 (not partitioned) to {MAX_PARTITIONS}, the same on every process",
            config.partitions
        );
    }
    Ok(config)
}

/// The most partitions detection can be spread over: well beyond the processes one database
/// serves, and each costs a read of the activity stream per pass.
const MAX_PARTITIONS: u32 = 256;

/// The enabled policies: built-in, from files and, when a store is given, defined through the
/// API (unless a file or built-in policy has the id).
fn enabled_policies(
    config: &DetectConfig,
    base_dir: &Path,
    store: Option<&dyn Store>,
) -> anyhow::Result<Vec<skylight_detect::ActivityPolicy>> {
    let mut policies = skylight_detect::load_policies(config, base_dir)?;
    if let Some(store) = store {
        for p in skylight_detect::load_stored(store)? {
            if policies.iter().any(|q| q.rule.id == p.rule.id) {
                tracing::error!(policy = %p.rule.id, "a policy defined through the API has the id of a file or built-in policy; it is not run");
            } else {
                policies.push(p);
            }
        }
    }
    Ok(policies)
}

/// The governance actions of each enabled policy that has some, by policy id.
pub fn policy_actions(
    config: &DetectConfig,
    base_dir: &Path,
    store: &dyn Store,
) -> anyhow::Result<std::collections::HashMap<String, Vec<skylight_model::ActionKind>>> {
    let mut actions: std::collections::HashMap<String, Vec<skylight_model::ActionKind>> =
        enabled_policies(config, base_dir, Some(store))?
            .into_iter()
            .filter(|p| !p.config.actions.is_empty())
            .map(|p| {
                let kinds = p
                    .config
                    .actions
                    .iter()
                    .filter_map(|a| skylight_model::ActionKind::parse(a))
                    .collect();
                (p.rule.id, kinds)
            })
            .collect();
    for p in skylight_detect::load_file_policies(config, base_dir)? {
        if !p.actions.is_empty() {
            actions.insert(p.config.id.clone(), p.actions.clone());
        }
    }
    for p in skylight_detect::load_app_policies(config, base_dir)? {
        if !p.actions.is_empty() {
            actions.insert(p.config.id.clone(), p.actions.clone());
        }
    }
    Ok(actions)
}

/// Raises an alert, once, for each file of `tenant` a file policy matches; returns how many
/// were new.
pub fn raise_file_alerts(
    policies: &[skylight_detect::file_policy::FilePolicy],
    store: &dyn Store,
    tenant: &str,
) -> anyhow::Result<u64> {
    if policies.is_empty() {
        return Ok(0);
    }
    let files = store.files(&skylight_store::FileQuery {
        tenant: Some(tenant.to_owned()),
        include_folders: true,
        ..Default::default()
    })?;
    let now = chrono::Utc::now();
    let drafts: Vec<skylight_model::AlertDraft> = files
        .iter()
        .flat_map(|f| {
            policies
                .iter()
                .filter_map(move |p| p.matches(f).map(|facts| p.alert(f, facts, now)))
        })
        .collect();
    Ok(store.raise_new_alerts(&drafts)?)
}

/// Raises an alert, once, for each OAuth app of `tenant` an app policy matches; returns how
/// many were new.
pub fn raise_app_alerts(
    policies: &[skylight_detect::app_policy::AppPolicy],
    store: &dyn Store,
    tenant: &str,
) -> anyhow::Result<u64> {
    if policies.is_empty() {
        return Ok(0);
    }
    let apps = store.oauth_apps(&skylight_store::AppQuery {
        tenant: Some(tenant.to_owned()),
        ..Default::default()
    })?;
    let now = chrono::Utc::now();
    let drafts: Vec<skylight_model::AlertDraft> = apps
        .iter()
        .flat_map(|a| {
            policies
                .iter()
                .filter_map(move |p| p.matches(a, now).map(|facts| p.alert(a, facts, now)))
        })
        .collect();
    Ok(store.raise_new_alerts(&drafts)?)
}

/// An engine with the configured policies and detections, and the policies defined through the
/// API when a store is given.
pub fn engine(
    config: &DetectConfig,
    base_dir: &Path,
    store: Option<&dyn Store>,
) -> anyhow::Result<Engine> {
    let mut engine = Engine::new(config, enabled_policies(config, base_dir, store)?)?;
    if let Some(store) = store {
        let members = scope_members(&engine, store)?;
        engine = engine.with_directory(members);
    }
    Ok(match skylight_detect::load_sigma(config, base_dir)? {
        Some(sigma) => {
            tracing::info!(
                rules = sigma.rules().count(),
                skipped = sigma.skipped,
                "sigma rules loaded"
            );
            engine.with_sigma(sigma)?
        }
        None => engine,
    })
}

/// The users of each directory group the engine's scopes name, nested groups included, from
/// the last directory sync.
fn scope_members(
    engine: &Engine,
    store: &dyn Store,
) -> anyhow::Result<skylight_detect::GroupMembers> {
    let mut members = skylight_detect::GroupMembers::new();
    for group in engine.scope_groups() {
        let known = store
            .directory_groups(&skylight_store::DirectoryQuery {
                search: Some(group.clone()),
                ..Default::default()
            })?
            .iter()
            .any(|g| {
                g.display_name.eq_ignore_ascii_case(&group) || g.id.eq_ignore_ascii_case(&group)
            });
        if !known {
            continue;
        }
        let users = store.directory_users(&skylight_store::DirectoryQuery {
            group: Some(group.clone()),
            ..Default::default()
        })?;
        members.insert(
            group,
            users
                .into_iter()
                .map(|u| u.upn.to_ascii_lowercase())
                .collect(),
        );
    }
    Ok(members)
}

/// Detection running on a thread of its own (SQLite reads and evaluation block), evaluating
/// activities as the collector stores them.
pub struct DetectionThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<anyhow::Result<Progress>>,
}

/// How long the thread rests when it has caught up.
const IDLE: Duration = Duration::from_millis(500);

/// One partition of detection as this process sees it: whether it holds it, and its detector
/// while it does.
struct Slot<'a> {
    partition: skylight_detect::Partition,
    /// `None`: no other process to share with (`collect --once`, benchmarks).
    lease: Option<skylight_store::lease::Lease>,
    detector: Option<Detector<'a>>,
}

/// Evaluates new activities until `stop` is set, then once more. Detection is spread over the
/// partitions of `partitioning`; with leases, this process evaluates the partitions it holds
/// (one at a time when not partitioned, a fair share of them otherwise), each resuming from the
/// last commit, whoever made it. A failed pass (the store busy or failing) is retried from the
/// last commit, with a growing pause, rather than ending detection while collection goes on.
fn run_detection(
    store: &dyn Store,
    make_engine: &dyn Fn() -> anyhow::Result<Engine>,
    stop: &AtomicBool,
    leases: Option<&skylight_store::lease::LeaseKeeper>,
    partitioning: skylight_detect::Partitioning,
    first_syncs: &[String],
) -> anyhow::Result<Progress> {
    wait_for_first_syncs(store, first_syncs, stop);
    store
        .plan_detection(&partitioning.names())
        .context("cannot record detection's partitions in the store")?;
    // Policies changed through the API, or a directory sync that may have changed the members
    // of the groups scopes name.
    let versions =
        |store: &dyn Store| -> anyhow::Result<(i64, Vec<Option<chrono::DateTime<chrono::Utc>>>)> {
            Ok((
                store.policy_version()?,
                store
                    .directory_statuses()?
                    .into_iter()
                    .map(|d| d.last_success)
                    .collect(),
            ))
        };
    let mut version = versions(store)?;
    let mut slots: Vec<Slot<'_>> = partitioning
        .partitions()
        .into_iter()
        .map(|partition| {
            let name = partition.name();
            let lease = leases.map(|k| {
                if name.is_empty() {
                    k.want("detect")
                } else {
                    k.want_shared(&format!("detect:{name}"))
                }
            });
            Slot {
                partition,
                lease,
                detector: None,
            }
        })
        .collect();
    let mut total = Progress::default();
    let mut pause = Duration::from_secs(1);
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        // Policies changed through the API: everything evaluated so far is committed (a pass
        // ends with a commit), so new engines resume exactly there.
        let now = versions(store)?;
        if now != version {
            version = now;
            if slots.iter().any(|s| s.detector.is_some()) {
                tracing::info!("policies or the directory changed: detection reloads its policies");
            }
            for slot in &mut slots {
                slot.detector = None;
            }
        }
        let mut failed = false;
        for slot in &mut slots {
            let name = slot.partition.name();
            if slot.lease.as_ref().is_some_and(|l| !l.held()) {
                if slot.detector.take().is_some() {
                    tracing::info!(partition = %name, "another process now runs this detection partition");
                }
                continue;
            }
            let pass = (|| -> Result<Progress, skylight_detect::DetectError> {
                if slot.detector.is_none() {
                    let engine = make_engine()
                        .map_err(|e| skylight_detect::DetectError::Config(format!("{e:#}")))?;
                    slot.detector = Some(Detector::open_partition(store, engine, slot.partition)?);
                    if slot.lease.is_some() {
                        tracing::info!(partition = %name, "this process now runs detection");
                    }
                }
                match slot.detector.as_mut() {
                    Some(d) => d.catch_up(),
                    None => Ok(Progress::default()),
                }
            })();
            match pass {
                Ok(p) => {
                    if p.activities > 0 {
                        tracing::info!(
                            partition = %name,
                            activities = p.activities,
                            alerts = p.alerts,
                            "detection evaluated new activities"
                        );
                    }
                    total.activities += p.activities;
                    total.alerts += p.alerts;
                    total.seq = total.seq.max(p.seq);
                }
                // Another process committed this partition under this one (it took over while
                // this one stalled): nothing of this pass was written; carry on from what it
                // committed.
                Err(skylight_detect::DetectError::Store(skylight_store::StoreError::Conflict(
                    why,
                ))) => {
                    tracing::warn!(partition = %name, %why, "detection was committed by another process meanwhile: this pass is dropped and detection resumes from the store");
                    slot.detector = None;
                    failed = true;
                }
                Err(e) if !stopping => {
                    tracing::error!(partition = %name, error = %e, retry_in_s = pause.as_secs(), "detection failed; resuming from its last commit");
                    // What the failed pass evaluated was not committed: start again from the
                    // store.
                    slot.detector = None;
                    failed = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if stopping {
            return Ok(total);
        }
        if failed {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(60));
        } else {
            pause = Duration::from_secs(1);
            std::thread::sleep(IDLE);
        }
    }
}

/// The longest detection waits for the tenants' first directory rounds.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(600);

/// Waits until each of `tenants` has had a directory round (successful or not), at most
/// [`FIRST_SYNC_WAIT`]: on a fresh deployment the back-fill would otherwise be evaluated before
/// the directory's groups are known, so policies and detections scoped to directory groups
/// would include nobody (and, for an excluded group, spare everybody) for the whole week.
fn wait_for_first_syncs(store: &dyn Store, tenants: &[String], stop: &AtomicBool) {
    if tenants.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        let synced: Vec<String> = match store.directory_statuses() {
            Ok(s) => s.into_iter().map(|s| s.tenant).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the directory syncs' status; detection starts without waiting");
                return;
            }
        };
        let waiting: Vec<&String> = tenants.iter().filter(|t| !synced.contains(t)).collect();
        if waiting.is_empty() || stop.load(Ordering::Relaxed) {
            return;
        }
        if started.elapsed() >= FIRST_SYNC_WAIT {
            tracing::warn!(tenants = ?waiting, "no directory round yet after 10 minutes: detection starts without it (policies scoped to directory groups see no members until it comes)");
            return;
        }
        if !told {
            tracing::info!(tenants = ?waiting, "detection waits for the first directory round of these tenants");
            told = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl DetectionThread {
    /// Starts detection over the store; it resumes where its last commit ended. `make_engine`
    /// builds an engine (per partition, and again after a failure); `leases`: shared with other
    /// processes (none: this process evaluates every partition); `first_syncs`: tenants whose
    /// first directory round detection waits for.
    pub fn spawn(
        store: Arc<dyn Store>,
        make_engine: impl Fn() -> anyhow::Result<Engine> + Send + 'static,
        leases: Option<Arc<skylight_store::lease::LeaseKeeper>>,
        partitioning: skylight_detect::Partitioning,
        first_syncs: Vec<String>,
    ) -> anyhow::Result<DetectionThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("detection".into())
            .spawn(move || {
                let run = run_detection(
                    store.as_ref(),
                    &make_engine,
                    &flag,
                    leases.as_deref(),
                    partitioning,
                    &first_syncs,
                );
                if let Err(e) = &run {
                    tracing::error!(error = %format!("{e:#}"), "detection stopped");
                }
                run
            })
            .context("cannot start the detection thread")?;
        Ok(DetectionThread { stop, handle })
    }

    /// Starts detection with the engine `config` builds (its policies read from `base_dir` and
    /// the store), in the partitions `config` sets; `leases` and `first_syncs` as for
    /// [`DetectionThread::spawn`].
    pub fn for_config(
        store: Arc<dyn Store>,
        config: DetectConfig,
        base_dir: PathBuf,
        leases: Option<Arc<skylight_store::lease::LeaseKeeper>>,
        first_syncs: Vec<String>,
    ) -> anyhow::Result<DetectionThread> {
        let partitioning = config.partitioning();
        let engine_store = Arc::clone(&store);
        Self::spawn(
            store,
            move || engine(&config, &base_dir, Some(engine_store.as_ref())),
            leases,
            partitioning,
            first_syncs,
        )
    }

    /// Evaluates what is left, stops, and reports the whole run.
    pub fn finish(self) -> anyhow::Result<Progress> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| anyhow::anyhow!("the detection thread panicked"))?
    }
}

/// Options of `skylight alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Statuses to list (comma-separated: open, in_progress, resolved, dismissed); all when absent.
    #[arg(long, value_delimiter = ',')]
    status: Vec<String>,
    /// At least this severe (informational, low, medium, high).
    #[arg(long)]
    severity: Option<String>,
    /// Raised by this policy or detection (its id).
    #[arg(long)]
    policy: Option<String>,
    /// Involving this user.
    #[arg(long)]
    user: Option<String>,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Include signals (detections set to record without alerting).
    #[arg(long)]
    signals: bool,
    /// At most this many, newest first (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `skylight alert`.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// The alert's number.
    id: i64,
    /// New status: open, in_progress, resolved, dismissed.
    #[arg(long)]
    status: Option<String>,
    /// Resolution when closing: true_positive, benign, false_positive.
    #[arg(long)]
    resolution: Option<String>,
    /// Add a comment.
    #[arg(long)]
    comment: Option<String>,
    /// Who comments (default: $USER).
    #[arg(long)]
    author: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_status(s: &str) -> anyhow::Result<AlertStatus> {
    AlertStatus::parse(s).with_context(|| {
        format!(
            "unknown status `{s}`; statuses: {}",
            AlertStatus::ALL.map(AlertStatus::as_str).join(", ")
        )
    })
}

/// Lists alerts.
pub async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let query = AlertQuery {
        tenant: args.tenant.clone(),
        statuses: args
            .status
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_status(s))
            .collect::<anyhow::Result<_>>()?,
        min_severity: args
            .severity
            .as_deref()
            .map(|s| {
                Severity::parse(s).with_context(|| {
                    format!(
                        "unknown severity `{s}`; severities: {}",
                        Severity::ALL.map(Severity::as_str).join(", ")
                    )
                })
            })
            .transpose()?,
        policy: args.policy.clone(),
        user: args.user.clone(),
        include_signals: args.signals,
        limit: args.limit,
        ..AlertQuery::default()
    };
    let store = args.store.open()?;
    let list = tokio::task::spawn_blocking(move || store.alerts(&query))
        .await
        .context("alerts task failed")??;
    match args.format {
        Format::Json => {
            for a in &list {
                outln!("{}", serde_json::to_string(a)?);
            }
        }
        Format::Table => {
            if list.is_empty() {
                outln!("no alerts match");
                return Ok(());
            }
            outln!(
                "{:>6}  {:<8} {:<11} {:<17} {:<24} {:>6}  title",
                "id",
                "severity",
                "status",
                "last activity",
                "policy",
                "acts"
            );
            for a in &list {
                outln!(
                    "{:>6}  {:<8} {:<11} {:<17} {:<24} {:>6}  {}{}",
                    a.id,
                    a.draft.severity.as_str(),
                    a.status.as_str(),
                    a.draft.last.format("%Y-%m-%d %H:%M"),
                    truncate(&a.draft.policy, 24),
                    a.draft.activity_count,
                    if a.draft.signal_only { "[signal] " } else { "" },
                    crate::activities_cmd::printable(&a.draft.title)
                );
            }
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Shows one alert, after applying any change asked for.
pub async fn alert(args: AlertArgs) -> anyhow::Result<()> {
    let change = AlertChange {
        status: args.status.as_deref().map(parse_status).transpose()?,
        resolution: args
            .resolution
            .as_deref()
            .map(|r| {
                Resolution::parse(r).with_context(|| {
                    format!(
                        "unknown resolution `{r}`; resolutions: {}",
                        Resolution::ALL.map(Resolution::as_str).join(", ")
                    )
                })
            })
            .transpose()?,
        comment: args.comment.clone().map(|c| {
            let author = args
                .author
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "cli".into());
            (author, c)
        }),
    };
    if change.resolution.is_some()
        && !matches!(
            change.status,
            Some(AlertStatus::Resolved | AlertStatus::Dismissed)
        )
    {
        anyhow::bail!("a resolution goes with --status resolved or --status dismissed");
    }
    let store = args.store.open()?;
    let id = args.id;
    let changing = change.status.is_some() || change.comment.is_some();
    let found = tokio::task::spawn_blocking(move || {
        if changing {
            store.update_alert(id, &change)
        } else {
            store.alert(id)
        }
    })
    .await
    .context("alert task failed")??;
    let Some(a) = found else {
        anyhow::bail!("no alert {id}: `skylight alerts` lists them");
    };
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string(&a)?),
        Format::Table => print_alert(&a),
    }
    Ok(())
}

fn print_alert(a: &Alert) {
    let p = crate::activities_cmd::printable;
    let d = &a.draft;
    outln!("alert {}: {}", a.id, p(&d.title));
    outln!(
        "  {} {} ({}){}; status {}{}",
        d.severity.as_str(),
        d.kind,
        d.policy,
        if d.signal_only { ", signal only" } else { "" },
        a.status.as_str(),
        a.resolution
            .map(|r| format!(" ({})", r.as_str()))
            .unwrap_or_default()
    );
    outln!("  tenant {}, category {}", p(&d.tenant), d.category);
    outln!(
        "  activities {} from {} to {}",
        d.activity_count,
        d.first.format("%Y-%m-%d %H:%M:%S UTC"),
        d.last.format("%Y-%m-%d %H:%M:%S UTC")
    );
    outln!("  users      {}", p(&d.users.join(", ")));
    outln!("  addresses  {}", p(&d.ips.join(", ")));
    outln!("  countries  {}", p(&d.countries.join(", ")));
    outln!("  why:");
    for f in &d.facts {
        outln!("    - {}", p(f));
    }
    outln!("  activity ids (skylight activities --format json ... to see them):");
    for id in d.activity_ids.iter().take(20) {
        outln!("    {}", p(id));
    }
    if d.activity_ids.len() > 20 {
        outln!("    … and {} more", d.activity_ids.len() - 20);
    }
    for c in &a.comments {
        outln!(
            "  comment by {} at {}: {}",
            p(&c.author),
            c.at.format("%Y-%m-%d %H:%M UTC"),
            p(&c.text)
        );
    }
}

/// Options of `skylight policies`.
#[derive(Debug, Args)]
pub struct PoliciesArgs {
    #[command(subcommand)]
    command: PoliciesCommand,
}

#[derive(Debug, Subcommand)]
enum PoliciesCommand {
    /// List the built-in policies and templates, the configured policy files' policies and the
    /// anomaly detections, with what is on.
    List {
        /// The configuration whose `[detection]` settings apply (optional).
        #[arg(long, env = "SKYLIGHT_CONFIG")]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Backtest: run the policies of FILE over stored history and print the alerts they would
    /// have raised. Nothing is written.
    Test {
        /// A policy file (TOML, `[[policy]]`); disabled policies are tested too.
        file: PathBuf,
        /// How far back: `7d`, `24h`, `90m`.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs `skylight policies …`.
pub async fn policies(args: PoliciesArgs) -> anyhow::Result<()> {
    match args.command {
        PoliciesCommand::List { config, format } => list_policies(config, format),
        PoliciesCommand::Test {
            file,
            since,
            format,
            store,
        } => test_policies(file, &since, format, store).await,
    }
}

fn list_policies(config: Option<PathBuf>, format: Format) -> anyhow::Result<()> {
    let (detect, base) = match &config {
        Some(path) => {
            let cfg = skylight_m365::config::Config::load(path)
                .with_context(|| format!("cannot load the configuration {}", path.display()))?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (detect_config(&cfg.detection)?, base)
        }
        None => (DetectConfig::default(), PathBuf::from(".")),
    };
    let active = skylight_detect::load_policies(&detect, &base)?;
    let on = |id: &str| active.iter().any(|p| p.rule.id == id);
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let built_in = skylight_detect::policy::built_in();
    for p in &built_in {
        rows.push(serde_json::json!({
            "id": p.rule.id, "kind": "activity", "source": if p.config.template.is_some() { "template" } else { "built-in" },
            "enabled": on(&p.rule.id), "mode": mode(p.rule.mode), "severity": p.rule.severity.as_str(),
            "name": p.rule.title, "filters": p.config.filters,
        }));
    }
    for p in active
        .iter()
        .filter(|p| !built_in.iter().any(|b| b.rule.id == p.rule.id))
    {
        rows.push(serde_json::json!({
            "id": p.rule.id, "kind": "activity", "source": "file", "enabled": true, "mode": mode(p.rule.mode),
            "severity": p.rule.severity.as_str(), "name": p.rule.title, "filters": p.config.filters,
        }));
    }
    for p in skylight_detect::load_file_policies(&detect, &base)? {
        rows.push(serde_json::json!({
            "id": p.config.id, "kind": "file", "source": "file", "enabled": true, "mode": "alert",
            "severity": p.config.severity.as_str(), "name": p.config.name, "actions": p.config.actions,
        }));
    }
    let apps = skylight_detect::load_app_policies(&detect, &base)?;
    let app_on = |id: &str| apps.iter().any(|p| p.config.id == id);
    let built_in_apps = skylight_detect::app_policy::built_in();
    for p in built_in_apps.iter().chain(
        apps.iter()
            .filter(|p| !built_in_apps.iter().any(|b| b.config.id == p.config.id)),
    ) {
        let source = if !built_in_apps.iter().any(|b| b.config.id == p.config.id) {
            "file"
        } else if p.config.template.is_some() {
            "template"
        } else {
            "built-in"
        };
        rows.push(serde_json::json!({
            "id": p.config.id, "kind": "app", "source": source, "enabled": app_on(&p.config.id),
            "mode": "alert", "severity": p.config.severity.as_str(), "name": p.config.name,
            "actions": p.config.actions,
        }));
    }
    if let Some(sigma) = skylight_detect::load_sigma(&detect, &base)? {
        for r in sigma.rules() {
            rows.push(serde_json::json!({
                "id": r.id, "kind": "sigma", "source": "file", "enabled": true, "mode": mode(r.mode),
                "severity": r.severity.as_str(), "name": r.title,
            }));
        }
    }
    let anomalies = skylight_detect::anomaly::Anomalies::new(&detect.anomaly, 0)
        .map_err(|e| anyhow::anyhow!("[detection]: {e}"))?;
    for (id, title, severity, _, default_mode) in skylight_detect::anomaly::CATALOGUE {
        let rule = anomalies.rules.get(id).map(|(r, _)| r);
        rows.push(serde_json::json!({
            "id": id, "kind": "anomaly", "source": "built-in", "enabled": rule.is_some(),
            "mode": mode(rule.map_or(default_mode, |r| r.mode)), "severity": severity.as_str(), "name": title,
        }));
    }
    match format {
        Format::Json => {
            for r in &rows {
                outln!("{r}");
            }
        }
        Format::Table => {
            outln!(
                "{:<38} {:<9} {:<9} {:<4} {:<7} {:<7}  name",
                "id",
                "kind",
                "source",
                "on",
                "mode",
                "severity"
            );
            for r in &rows {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                outln!(
                    "{:<38} {:<9} {:<9} {:<4} {:<7} {:<7}  {}",
                    s("id"),
                    s("kind"),
                    s("source"),
                    if r["enabled"].as_bool() == Some(true) {
                        "yes"
                    } else {
                        "no"
                    },
                    s("mode"),
                    s("severity"),
                    s("name")
                );
            }
        }
    }
    Ok(())
}

fn mode(m: skylight_detect::Mode) -> &'static str {
    match m {
        skylight_detect::Mode::Alert => "alert",
        skylight_detect::Mode::Signal => "signal",
    }
}

/// `7d`, `24h`, `90m` as a duration.
fn parse_since(s: &str) -> anyhow::Result<chrono::Duration> {
    let s = s.trim();
    let cut = s.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = s.split_at(cut);
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("`{s}`: write a number and d, h or m (7d, 24h, 90m)"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        _ => anyhow::bail!("`{s}`: write a number and d, h or m (7d, 24h, 90m)"),
    }
}

async fn test_policies(
    file: PathBuf,
    since: &str,
    format: Format,
    store: StoreArgs,
) -> anyhow::Result<()> {
    let since = parse_since(since)?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let policies = skylight_detect::policy::parse_file(&text, &file.display().to_string())?;
    if policies.is_empty() {
        anyhow::bail!("{} holds no [[policy]]", file.display());
    }
    let store = store.open()?;
    let from = chrono::Utc::now() - since;
    let (alerts, evaluated) = tokio::task::spawn_blocking(move || {
        skylight_detect::backtest(store.as_ref(), policies, from)
    })
    .await
    .context("backtest task failed")??;
    match format {
        Format::Json => {
            for a in &alerts {
                outln!("{}", serde_json::to_string(a)?);
            }
        }
        Format::Table => {
            outln!(
                "{evaluated} activities since {} evaluated: {} alerts would have been raised",
                from.format("%Y-%m-%d %H:%M UTC"),
                alerts.len()
            );
            for a in &alerts {
                outln!(
                    "  {:<8} {:<17} {:>6}  {}",
                    a.severity.as_str(),
                    a.last.format("%Y-%m-%d %H:%M"),
                    a.activity_count,
                    crate::activities_cmd::printable(&a.title)
                );
                for f in a.facts.iter().take(3) {
                    outln!("           {}", crate::activities_cmd::printable(f));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_detection_table_of_the_configuration_reaches_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        std::fs::write(
            dir.path().join("policies/a.toml"),
            "[[policy]]\nid = \"mine\"\nname = \"Mine\"\nfilters = [\"app=teams\"]\n",
        )
        .unwrap();
        let text = "[[tenant]]\nname = \"t\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\nclient_id = \"00000000-0000-0000-0000-000000000002\"\nclient_secret_file = \"s\"\n\n[detection]\nlearning_days = 0.5\npolicy_files = [\"policies\"]\nenable = [\"teams-mass-deletion\"]\ndisable = [\"mailbox-access-granted\"]\n[detection.anomaly.impossible_travel]\nsensitivity = \"low\"\nexclude_users = [\"a@b.c\"]\n[detection.anomaly.infrequent_country]\nenabled = false\n";
        std::fs::write(dir.path().join("s"), "secret").unwrap();
        std::fs::write(
            dir.path().join("mfa.yml"),
            "title: MFA off\nlogsource: {product: m365}\ndetection:\n  sel: {Operation: 'Disable Strong Authentication.'}\n  condition: sel\n",
        )
        .unwrap();
        let text = text.replace(
            "[detection]\n",
            "[detection]\nsigma_rules = [\"mfa.yml\"]\n",
        );
        let text = text.as_str();
        let cfg = skylight_m365::config::Config::from_toml_str(text, dir.path()).unwrap();
        let detect = detect_config(&cfg.detection).unwrap();
        assert_eq!(detect.learning_days, 0.5);
        let ids: Vec<String> = skylight_detect::load_policies(&detect, dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.rule.id)
            .collect();
        assert!(ids.contains(&"mine".to_string()), "{ids:?}");
        assert!(ids.contains(&"teams-mass-deletion".to_string()));
        assert!(!ids.contains(&"mailbox-access-granted".to_string()));
        assert!(ids.contains(&"privileged-role-assigned".to_string()));
        let sigma = skylight_detect::load_sigma(&detect, dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(
            sigma.rules().map(|r| r.title.clone()).collect::<Vec<_>>(),
            ["MFA off"]
        );
        engine(&detect, dir.path(), None).unwrap();
        let anomalies = skylight_detect::anomaly::Anomalies::new(&detect.anomaly, 0).unwrap();
        assert!(!anomalies.rules.contains_key("infrequent_country"));
        assert_eq!(
            anomalies.rules["impossible_travel"].0.scope.exclude_users,
            vec!["a@b.c".to_string()]
        );
        // A typo is an error that names the known keys.
        let bad = text.replace("sensitivity", "sensitivty");
        let cfg = skylight_m365::config::Config::from_toml_str(&bad, dir.path()).unwrap();
        let err = detect_config(&cfg.detection).unwrap_err().to_string();
        assert!(err.contains("sensitivty"), "{err}");
        // Partitions: by tenant unless told, a count in range.
        assert_eq!(detect.partitioning(), skylight_detect::Partitioning::NONE);
        let split = text.replace(
            "[detection]\n",
            "[detection]\npartitions = 8\npartition_by = \"user\"\n",
        );
        let cfg = skylight_m365::config::Config::from_toml_str(&split, dir.path()).unwrap();
        assert_eq!(
            detect_config(&cfg.detection).unwrap().partitioning(),
            skylight_detect::Partitioning {
                count: 8,
                by: skylight_detect::PartitionBy::User
            }
        );
        for bad in [
            "partitions = 0",
            "partitions = 257",
            "partition_by = \"ip\"",
        ] {
            let text = text.replace("[detection]\n", &format!("[detection]\n{bad}\n"));
            let cfg = skylight_m365::config::Config::from_toml_str(&text, dir.path()).unwrap();
            let err = detect_config(&cfg.detection).unwrap_err().to_string();
            assert!(err.contains("[detection]"), "{bad}: {err}");
        }
    }
}
