//! `skylight govern` and `skylight governance-log`: actions on users, apps and files through
//! Microsoft Graph, and the log that records them.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skylight_govern::{ActionRequest, Governor};
use skylight_m365::config::Config;
use skylight_model::{ActionKind, ActionStatus, GovernanceEntry};
use skylight_store::{GovernanceQuery, Store};

use crate::collect_cmd::{Format, StoreArgs};
use crate::directory_cmd::{ConfigArgs, graph_clients, load, on_store};
use crate::out::outln;

/// Options of `skylight govern`.
#[derive(Debug, Args)]
pub struct GovernArgs {
    /// The action: suspend-user, unsuspend-user, require-sign-in, confirm-compromised,
    /// notify-user; revoke-app, ban-app, approve-app; remove-external-users,
    /// remove-shared-links, remove-collaborator, make-private, trash-file, user-quarantine,
    /// admin-quarantine, restore-file, notify-owner; or `approve` / `retry` with a governance
    /// log id as the target.
    action: String,
    /// A user's UPN or object id; an app's name, app id or object id; a file as
    /// DRIVE_ID/ITEM_ID; a log id for approve/retry.
    target: String,
    /// The tenant, when several are configured.
    #[arg(long)]
    tenant: Option<String>,
    /// Only show and log what would be done.
    #[arg(long)]
    dry_run: bool,
    /// Log the action as pending; `skylight govern approve ID` carries it out.
    #[arg(long)]
    needs_approval: bool,
    /// For remove-collaborator: whose access to remove (a mail address).
    #[arg(long)]
    collaborator: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// Options of `skylight governance-log`.
#[derive(Debug, Args)]
pub struct GovernanceLogArgs {
    /// Only in this status: pending, in_progress, succeeded, failed, reverted, dry_run.
    #[arg(long)]
    status: Option<String>,
    /// Only on this target (id or name).
    #[arg(long)]
    target: Option<String>,
    /// Only led to by this alert.
    #[arg(long)]
    alert: Option<i64>,
    /// One tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many, newest first (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

/// The governor of a configuration: its tenants' Graph clients, quarantine sites and
/// notification mailboxes.
pub fn governor(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Governor> {
    let sites = config
        .tenants
        .iter()
        .filter_map(|t| Some((t.name.clone(), t.quarantine_site.clone()?)))
        .collect();
    let senders = config
        .tenants
        .iter()
        .filter_map(|t| Some((t.name.clone(), t.notify_sender.clone()?)))
        .collect();
    Ok(Governor::new(store, graph_clients(config)?)
        .with_quarantine_sites(sites)
        .with_notify_senders(senders))
}
fn print_entry(e: &GovernanceEntry, format: Format) -> anyhow::Result<()> {
    if matches!(format, Format::Json) {
        outln!("{}", serde_json::to_string(e)?);
        return Ok(());
    }
    outln!(
        "#{} {} {} ({}): {}",
        e.id,
        e.action.as_str(),
        e.target_name,
        e.tenant,
        e.status.as_str()
    );
    for s in &e.steps {
        outln!(
            "  {} {} -> {}{}",
            s.method,
            s.path,
            s.status.map_or_else(|| "-".into(), |c| c.to_string()),
            s.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    for w in &e.warnings {
        outln!("  warning: {w}");
    }
    if let Some(err) = &e.error {
        outln!("  error: {err}");
    }
    Ok(())
}

/// Carries out (or approves, or retries) one governance action.
pub async fn govern(args: GovernArgs) -> anyhow::Result<()> {
    let config = load(&args.config.config)?;
    let store = args.store.open()?;
    let governor = governor(&config, store)?;
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let entry = match args.action.as_str() {
        "approve" | "retry" => {
            let id: i64 = args
                .target
                .parse()
                .with_context(|| format!("`{}` is not a governance log id", args.target))?;
            if args.action == "approve" {
                governor.approve(id, &by).await?
            } else {
                governor.retry(id).await?
            }
        }
        name => {
            let action = ActionKind::parse(name).with_context(|| {
                format!(
                    "unknown action `{name}`; actions: {}, approve, retry",
                    ActionKind::ALL.map(ActionKind::as_str).join(", ")
                )
            })?;
            if matches!(args.format, Format::Table) {
                outln!("{}: {}", action.as_str(), action.explanation());
            }
            governor
                .request(ActionRequest {
                    tenant: args.tenant,
                    action,
                    target: args.target,
                    requested_by: by,
                    alert_id: None,
                    dry_run: args.dry_run,
                    needs_approval: args.needs_approval,
                    params: match &args.collaborator {
                        Some(c) => serde_json::json!({ "collaborator": c }),
                        None => serde_json::json!({}),
                    },
                })
                .await?
        }
    };
    print_entry(&entry, args.format)?;
    if entry.status == ActionStatus::Failed {
        anyhow::bail!(
            "the action failed; `skylight govern retry {}` tries again",
            entry.id
        );
    }
    Ok(())
}

/// Shows the governance log.
pub async fn governance_log(args: GovernanceLogArgs) -> anyhow::Result<()> {
    let status = match args.status.as_deref() {
        Some(s) => Some(ActionStatus::parse(s).with_context(|| {
            format!(
                "unknown status `{s}`; statuses: {}",
                ActionStatus::ALL.map(ActionStatus::as_str).join(", ")
            )
        })?),
        None => None,
    };
    let query = GovernanceQuery {
        tenant: args.tenant,
        status,
        target: args.target,
        alert_id: args.alert,
        limit: args.limit,
    };
    let store = args.store.open()?;
    let list = on_store(&store, move |s| s.governance_log(&query)).await?;
    if list.is_empty() && matches!(args.format, Format::Table) {
        outln!("no governance actions match");
    }
    for e in &list {
        print_entry(e, args.format)?;
    }
    Ok(())
}
