//! `skylight sync`, `users`, `groups` and `apps`: the directory and app inventory from
//! Microsoft Graph, and the syncs that keep it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skylight_m365::auth::TokenProvider;
use skylight_m365::config::{Config, TenantConfig};
use skylight_m365::graph::GraphClient;
use skylight_model::{GroupKind, PermissionLevel};
use skylight_store::{AppQuery, DirectoryQuery, Store};

use crate::collect_cmd::{Format, StoreArgs};
use crate::out::outln;

/// Graph requests per second per tenant: well inside the identity limits of a small tenant
/// (3,500 resource units per 10 s, contract §4.1), so a sync never starves governance calls.
const GRAPH_REQUESTS_PER_SECOND: u32 = 50;

/// The configuration file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The connector configuration (TOML).
    #[arg(long, default_value = "skylight.toml", env = "SKYLIGHT_CONFIG")]
    pub(crate) config: PathBuf,
}

/// Options of `skylight sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `skylight users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Name, UPN or mail contains this.
    search: Option<String>,
    /// Only members (directly or through nested groups) of this group (name or id).
    #[arg(long)]
    group: Option<String>,
    /// Only disabled (suspended) accounts.
    #[arg(long)]
    disabled: bool,
    /// Only guests.
    #[arg(long)]
    guests: bool,
    /// Only holders of a directory role.
    #[arg(long)]
    admins: bool,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `skylight groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// Name or mail contains this.
    search: Option<String>,
    /// Only this kind: microsoft365, security, distribution, other.
    #[arg(long)]
    kind: Option<String>,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `skylight apps`.
#[derive(Debug, Args)]
pub struct AppsArgs {
    /// Name, app id or publisher contains this.
    search: Option<String>,
    /// At least this permission level: low, medium, high.
    #[arg(long)]
    level: Option<String>,
    /// Include Microsoft's own apps.
    #[arg(long)]
    microsoft: bool,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// A Graph client per configured tenant.
pub fn graph_clients(config: &Config) -> anyhow::Result<HashMap<String, Arc<GraphClient>>> {
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .context("cannot build the HTTP client")?;
    Ok(config
        .tenants
        .iter()
        .map(|t| (t.name.clone(), graph_client(&http, t)))
        .collect())
}

/// A tenant's Microsoft Graph client.
pub fn graph_client(http: &reqwest::Client, tenant: &TenantConfig) -> Arc<GraphClient> {
    let tokens = Arc::new(TokenProvider::new(http.clone(), tenant));
    Arc::new(GraphClient::new(
        http.clone(),
        tokens,
        &tenant.endpoints().graph,
        GRAPH_REQUESTS_PER_SECOND,
    ))
}

pub(crate) fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| format!("cannot load the configuration {}", path.display()))
}

/// Runs `f` on the store off the async runtime.
pub(crate) async fn on_store<T, F>(store: &Arc<dyn Store>, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, skylight_store::StoreError> + Send + 'static,
{
    Ok(skylight_m365::on_store(store, f).await?)
}

/// [`sync_round`], with how it went recorded for `skylight status`.
async fn sync_tenant(
    client: &GraphClient,
    store: &Arc<dyn Store>,
    tenant: &str,
    policies: &InventoryPolicies,
    files: bool,
) -> anyhow::Result<Round> {
    let result = sync_round(client, store, tenant, policies, files).await;
    let (t, previous) = (tenant.to_owned(), Arc::clone(store));
    let last_success = tokio::task::spawn_blocking(move || previous.directory_statuses())
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|all| all.into_iter().find(|s| s.tenant == t))
        .and_then(|s| s.last_success);
    let now = chrono::Utc::now();
    let status = match &result {
        Ok(Round {
            directory: r,
            files: f,
            ..
        }) => skylight_model::DirectorySyncStatus {
            tenant: tenant.to_owned(),
            last_attempt: now,
            last_success: Some(now),
            users_changed: (r.users + r.removed_users) as u64,
            groups_changed: (r.groups + r.removed_groups) as u64,
            apps: r.apps as u64,
            files_changed: f.as_ref().map(|(f, _)| (f.changed + f.removed) as u64),
            error: None,
            warnings: r
                .warnings
                .iter()
                .chain(f.iter().flat_map(|(f, _)| f.warnings.iter()))
                .cloned()
                .collect(),
        },
        Err(e) => skylight_model::DirectorySyncStatus {
            tenant: tenant.to_owned(),
            last_attempt: now,
            last_success,
            users_changed: 0,
            groups_changed: 0,
            apps: 0,
            files_changed: None,
            error: Some(format!("{e:#}")),
            warnings: Vec::new(),
        },
    };
    let s = Arc::clone(store);
    match tokio::task::spawn_blocking(move || s.set_directory_status(&status)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot record the directory sync status"),
        Err(e) => tracing::error!(error = %e, "cannot record the directory sync status"),
    }
    result
}

/// What one sync round of a tenant did.
struct Round {
    /// Users, groups, roles and apps.
    directory: skylight_m365::graph::directory::SyncReport,
    /// New alerts of the app policies.
    app_alerts: u64,
    /// With the files component: the drives, and the new alerts of the file policies.
    files: Option<(skylight_m365::graph::files::FilesReport, u64)>,
}

/// One round for one tenant: the directory and apps (matched against the app policies), then
/// (with the files component) every drive, whose sharing is judged against the directory just
/// synced.
async fn sync_round(
    client: &GraphClient,
    store: &Arc<dyn Store>,
    tenant: &str,
    policies: &InventoryPolicies,
    files: bool,
) -> anyhow::Result<Round> {
    let fail = |e: skylight_m365::graph::directory::SyncError| {
        let fix = e.remediation().message;
        anyhow::anyhow!("{e}; {fix}")
    };
    let report = skylight_m365::graph::directory::sync(client, store, tenant)
        .await
        .map_err(fail)?;
    // App policies match the inventory as it now is; an app already alerted on is not again.
    let (p, s, t) = (Arc::clone(policies), Arc::clone(store), tenant.to_owned());
    let app_alerts = tokio::task::spawn_blocking(move || {
        crate::detect_cmd::raise_app_alerts(&p.apps, s.as_ref(), &t)
    })
    .await
    .context("app policy task failed")??;
    if !files {
        return Ok(Round {
            directory: report,
            app_alerts,
            files: None,
        });
    }
    let files = skylight_m365::graph::files::sync(client, store, tenant)
        .await
        .map_err(fail)?;
    let (p, s, t) = (Arc::clone(policies), Arc::clone(store), tenant.to_owned());
    let alerts = tokio::task::spawn_blocking(move || {
        crate::detect_cmd::raise_file_alerts(&p.files, s.as_ref(), &t)
    })
    .await
    .context("file policy task failed")??;
    Ok(Round {
        directory: report,
        app_alerts,
        files: Some((files, alerts)),
    })
}

/// The file and OAuth app policies, shared by the sync rounds.
pub type InventoryPolicies = Arc<Inventory>;

/// The policies matched against the inventories Graph gives.
#[derive(Default)]
pub struct Inventory {
    /// File policies.
    pub files: Vec<skylight_detect::file_policy::FilePolicy>,
    /// OAuth app policies, built-ins included.
    pub apps: Vec<skylight_detect::app_policy::AppPolicy>,
}

/// The file and app policies of a configuration (its `[detection]`), policy files read
/// relative to `base` (the configuration file's folder).
pub fn inventory_policies(config: &Config, base: &Path) -> anyhow::Result<InventoryPolicies> {
    let detect = crate::detect_cmd::detect_config(&config.detection)?;
    Ok(Arc::new(Inventory {
        files: skylight_detect::load_file_policies(&detect, base)?,
        apps: skylight_detect::load_app_policies(&detect, base)?,
    }))
}

/// One round of directory and app sync for every configured tenant.
pub async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let config = load(&args.config.config)?;
    let store = args.store.open()?;
    let clients = graph_clients(&config)?;
    let base = args
        .config
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let policies = inventory_policies(&config, &base)?;
    let mut failed = 0;
    for t in &config.tenants {
        let Some(client) = clients.get(&t.name) else {
            continue;
        };
        match sync_tenant(client, &store, &t.name, &policies, t.components.files).await {
            Ok(Round {
                directory: r,
                app_alerts,
                files,
            }) => {
                outln!(
                    "{}: {} users changed, {} removed; {} groups changed, {} removed; {} apps, {} new app policy alerts{}",
                    t.name,
                    r.users,
                    r.removed_users,
                    r.groups,
                    r.removed_groups,
                    r.apps,
                    app_alerts,
                    if r.resynced {
                        " (a delta link had expired: enumerated again)"
                    } else {
                        ""
                    }
                );
                for w in &r.warnings {
                    outln!("  warning: {w}");
                }
                if let Some((f, alerts)) = files {
                    for w in &f.warnings {
                        outln!("  warning: {w}");
                    }
                    outln!(
                        "{}: files: {} drives, {} items changed, {} removed, {} new file policy alerts{}",
                        t.name,
                        f.drives,
                        f.changed,
                        f.removed,
                        alerts,
                        if f.resynced > 0 {
                            format!(" ({} drives enumerated again)", f.resynced)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: sync failed: {e:#}", t.name);
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} tenant(s) could not be synced");
    }
    Ok(())
}

/// Prints each item as one JSON line.
pub fn json_lines<T: serde::Serialize>(list: &[T]) -> anyhow::Result<()> {
    for item in list {
        outln!("{}", serde_json::to_string(item)?);
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Lists users.
pub async fn users(args: UsersArgs) -> anyhow::Result<()> {
    let query = DirectoryQuery {
        tenant: args.tenant,
        search: args.search,
        enabled: args.disabled.then_some(false),
        guest: args.guests.then_some(true),
        admin: args.admins.then_some(true),
        group: args.group,
        limit: args.limit,
        ..DirectoryQuery::default()
    };
    let store = args.store.open()?;
    let list = on_store(&store, move |s| s.directory_users(&query)).await?;
    if matches!(args.format, Format::Json) {
        return json_lines(&list);
    }
    if list.is_empty() {
        outln!("no users match (users come from `skylight sync`)");
        return Ok(());
    }
    outln!(
        "{:<44} {:<26} {:<7} {:<6} {:<7} {:<8} roles",
        "upn",
        "name",
        "enabled",
        "guest",
        "synced",
        "risk"
    );
    for u in &list {
        outln!(
            "{:<44} {:<26} {:<7} {:<6} {:<7} {:<8} {}",
            u.upn,
            u.display_name,
            u.account_enabled.map_or("?", yes_no),
            yes_no(u.is_guest()),
            yes_no(u.on_premises_synced),
            u.risk_level.as_deref().unwrap_or("-"),
            u.roles.join(", ")
        );
    }
    Ok(())
}

/// Lists groups.
pub async fn groups(args: GroupsArgs) -> anyhow::Result<()> {
    let query = DirectoryQuery {
        tenant: args.tenant,
        search: args.search,
        kind: args.kind.as_deref().map(GroupKind::parse),
        limit: args.limit,
        ..DirectoryQuery::default()
    };
    let store = args.store.open()?;
    let list = on_store(&store, move |s| s.directory_groups(&query)).await?;
    if matches!(args.format, Format::Json) {
        return json_lines(&list);
    }
    if list.is_empty() {
        outln!("no groups match (groups come from `skylight sync`)");
        return Ok(());
    }
    outln!(
        "{:<36} {:<13} {:>7} {:>7}  id",
        "name",
        "kind",
        "direct",
        "users"
    );
    for g in &list {
        outln!(
            "{:<36} {:<13} {:>7} {:>7}  {}",
            g.display_name,
            g.kind.as_str(),
            g.direct_members,
            g.user_members,
            g.id
        );
    }
    Ok(())
}

/// Lists OAuth apps.
pub async fn apps(args: AppsArgs) -> anyhow::Result<()> {
    let min_level = match args.level.as_deref() {
        Some(l) => Some(
            PermissionLevel::parse(l)
                .with_context(|| format!("unknown level `{l}`; levels: low, medium, high"))?,
        ),
        None => None,
    };
    let query = AppQuery {
        tenant: args.tenant,
        search: args.search,
        min_level,
        first_party: args.microsoft,
        limit: args.limit,
    };
    let store = args.store.open()?;
    let list = on_store(&store, move |s| s.oauth_apps(&query)).await?;
    if matches!(args.format, Format::Json) {
        return json_lines(&list);
    }
    if list.is_empty() {
        outln!("no apps match (apps come from `skylight sync`)");
        return Ok(());
    }
    outln!(
        "{:<32} {:<6} {:<10} {:>5} {:<4} {:<7} {:<24} permissions",
        "name",
        "level",
        "review",
        "users",
        "all",
        "enabled",
        "publisher"
    );
    for a in &list {
        let publisher = match (&a.verified_publisher, &a.publisher) {
            (Some(v), _) => format!("{v} (verified)"),
            (None, Some(p)) => p.clone(),
            (None, None) => "-".into(),
        };
        outln!(
            "{:<32} {:<6} {:<10} {:>5} {:<4} {:<7} {:<24} {}",
            a.name,
            a.level.as_str(),
            a.review.as_str(),
            a.consented_users,
            yes_no(a.all_users),
            yes_no(a.enabled),
            publisher,
            a.permissions().join(" ")
        );
    }
    Ok(())
}

/// Starts one tenant's directory sync (and file sync with `files`): a round every `every`
/// minutes, or one round with `None`, while this process holds `lease` (when processes share the
/// store: one of them syncs a tenant; another takes over, with a round at once, when it stops).
/// With one round the task ends with its summary line.
pub fn spawn_sync(
    name: String,
    client: Arc<GraphClient>,
    store: Arc<dyn Store>,
    policies: InventoryPolicies,
    files: bool,
    every: Option<u64>,
    lease: Option<skylight_store::lease::Lease>,
) -> tokio::task::JoinHandle<Option<String>> {
    tokio::spawn(async move {
        loop {
            if lease.as_ref().is_some_and(|l| !l.held()) {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            let line = match sync_tenant(&client, &store, &name, &policies, files).await {
                Ok(Round {
                    directory: r,
                    app_alerts,
                    files: f,
                }) => {
                    tracing::info!(tenant = %name, users = r.users, removed_users = r.removed_users, groups = r.groups, apps = r.apps, resynced = r.resynced, "directory synced");
                    for w in &r.warnings {
                        tracing::warn!(tenant = %name, "{w}");
                    }
                    format!(
                        "directory {name}: {} users and {} groups changed, {} apps, {app_alerts} new app policy alerts{}{}",
                        r.users,
                        r.groups,
                        r.apps,
                        f.map(|(f, alerts)| format!(
                            ", {} files changed in {} drives, {alerts} new file policy alerts",
                            f.changed, f.drives
                        ))
                        .unwrap_or_default(),
                        if r.warnings.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " ({} parts not read: `skylight sync` says why)",
                                r.warnings.len()
                            )
                        }
                    )
                }
                Err(e) => {
                    tracing::error!(tenant = %name, error = %format!("{e:#}"), "directory sync failed");
                    format!("directory {name}: sync failed: {e:#}")
                }
            };
            let Some(minutes) = every else {
                return Some(line);
            };
            tokio::time::sleep(std::time::Duration::from_secs(minutes * 60)).await;
        }
    })
}
