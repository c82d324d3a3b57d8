//! `skylight`: self-hosted cloud app security for Microsoft 365.

/// jemalloc rather than glibc's malloc, whose per-thread arenas kept what detection and the
/// parsers freed: with detection on a 10,000-user week, a fifth less wall time and 53–79 MB less
/// peak RSS (README, ingest figures). Its settings are in `.cargo/config.toml` (builds run
/// from this workspace; elsewhere jemalloc's defaults apply).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod activities_cmd;
mod admin_cmd;
mod bench_cmd;
mod bench_detect;
mod bench_latency;
mod bench_query;
mod bench_scale;
mod collect_cmd;
mod console_settings;
mod demo_cmd;
mod detect_cmd;
mod directory_cmd;
mod files_cmd;
mod govern_cmd;
mod govern_loop;
mod import_cmd;
mod migrate_cmd;
mod notify_cmd;
mod out;
mod serve_cmd;
mod sim_cmd;
mod status_cmd;
mod tenants;

use clap::{Parser, Subcommand};

/// Skylight: collect, search and act on Microsoft 365 audit activity.
#[derive(Debug, Parser)]
#[command(name = "skylight", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Skylight end to end against a built-in simulated tenant: the live tenant, the
    /// collector polling it into the store, detection, and the console and API (the first run
    /// creates the administrator `admin` and prints its password once).
    Demo(sim_cmd::DemoArgs),
    /// Serve a simulated Microsoft 365 tenant: identity platform and Management Activity API.
    Sim(sim_cmd::SimArgs),
    /// Collect audit records of every configured tenant into the store and run detection over
    /// them (`--once`: until caught up).
    Collect(collect_cmd::CollectArgs),
    /// Show each connector's state, lag, counts, and the last error with what to do about it.
    Status(status_cmd::StatusArgs),
    /// Search the activity log: `skylight activities app=exchange category=mailbox_rule
    /// time=2026-11-20..` (table, JSON lines, CSV or OCSF).
    Activities(activities_cmd::ActivitiesArgs),
    /// List alerts, newest first: `skylight alerts --status open --severity medium`.
    Alerts(detect_cmd::AlertsArgs),
    /// Show one alert with why it fired; change its status or add a comment.
    Alert(detect_cmd::AlertArgs),
    /// List policies and detections, or backtest a policy file over stored history.
    Policies(detect_cmd::PoliciesArgs),
    /// Show the notification delivery log (alert changes sent to webhooks and syslog), newest
    /// first: status, attempts, next attempt or delivery time, last error.
    Notifications(notify_cmd::NotificationsArgs),
    /// Serve the web console and the REST API over the store (`/`, `/api/v1/activities`,
    /// `/api/v1/alerts`, OpenAPI at `/api/v1/openapi.json`); with `--config`, also collect,
    /// detect and notify.
    Serve(serve_cmd::ServeArgs),
    /// Console accounts and roles, API tokens and the audit log: `skylight admin create
    /// --username alice@contoso.com` makes an administrator and prints its password once.
    Admin(admin_cmd::AdminArgs),
    /// Measure ingest throughput, memory and disk use against a simulated tenant (README figures).
    Bench(bench_cmd::BenchArgs),
    /// Load audit records from files (Management API JSON, NDJSON, Purview audit-search CSV)
    /// into the store, de-duplicated; unreadable lines are reported and quarantined.
    Import(import_cmd::ImportArgs),
    /// Import users, groups, directory roles, risky users and OAuth apps from Microsoft Graph
    /// (one delta round per configured tenant).
    Sync(directory_cmd::SyncArgs),
    /// List users from the directory: `skylight users --group Sales --disabled`.
    Users(directory_cmd::UsersArgs),
    /// List groups with their direct and nested member counts.
    Groups(directory_cmd::GroupsArgs),
    /// List OAuth apps with their permission level, consents and review.
    Apps(directory_cmd::AppsArgs),
    /// List SharePoint and OneDrive files (files component), most exposed first: `skylight files
    /// --access external,public --domain fabrikam.com`.
    Files(files_cmd::FilesArgs),
    /// Take a governance action through Microsoft Graph: `skylight govern suspend-user
    /// alice@contoso.com [--dry-run]`; each is recorded in the governance log.
    Govern(govern_cmd::GovernArgs),
    /// Show the governance log, newest first: action, target, status, the Graph calls made.
    GovernanceLog(govern_cmd::GovernanceLogArgs),
    /// Copy a SQLite deployment into an empty PostgreSQL database, then check the copy with
    /// counts and digests: `skylight migrate --from sqlite://DIR --to postgres://…`.
    Migrate(migrate_cmd::MigrateArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo_cmd::demo(args).await,
            Command::Sim(args) => sim_cmd::sim(args).await,
            Command::Collect(args) => collect_cmd::collect(args).await,
            Command::Status(args) => status_cmd::status(args).await,
            Command::Activities(args) => activities_cmd::activities(args).await,
            Command::Alerts(args) => detect_cmd::alerts(args).await,
            Command::Alert(args) => detect_cmd::alert(args).await,
            Command::Policies(args) => detect_cmd::policies(args).await,
            Command::Notifications(args) => notify_cmd::notifications(args).await,
            Command::Serve(args) => serve_cmd::serve(args).await,
            Command::Admin(args) => admin_cmd::admin(args).await,
            Command::Bench(args) => bench_cmd::bench(args).await,
            Command::Import(args) => import_cmd::import(args).await,
            Command::Sync(args) => directory_cmd::sync(args).await,
            Command::Users(args) => directory_cmd::users(args).await,
            Command::Groups(args) => directory_cmd::groups(args).await,
            Command::Apps(args) => directory_cmd::apps(args).await,
            Command::Files(args) => files_cmd::files(args).await,
            Command::Govern(args) => govern_cmd::govern(args).await,
            Command::GovernanceLog(args) => govern_cmd::governance_log(args).await,
            Command::Migrate(args) => migrate_cmd::migrate(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Human-readable logs on a terminal, JSON lines otherwise; `RUST_LOG` sets the level.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.compact().init();
    } else {
        builder.json().init();
    }
}
