//! `skylight admin`: console accounts, API tokens and the audit log, from the command line (the
//! way in before any administrator exists, and when one is locked out).

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};
use skylight_model::{AccountChange, AuditEntry, Role};
use skylight_store::Store;

use crate::collect_cmd::StoreArgs;
use crate::out::outln;

/// Options of `skylight admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a console account (an administrator unless --role says otherwise). Without
    /// --password-file a strong password is generated and printed once.
    Create {
        /// The sign-in name: letters, digits, `.`, `-`, `_`, `@` (e.g. alice@contoso.com).
        #[arg(long)]
        username: String,
        /// admin (everything), analyst (investigate and triage) or read-only.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: Role,
        /// A file holding the password (at least 12 characters), e.g. from a secret manager.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List console accounts: name, role, state, last sign-in.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account a new generated password (printed once) and end its sessions; also
    /// re-enables it.
    ResetPassword {
        /// The account's name.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create an API token with a role and print it once (clients send it as
    /// `Authorization: Bearer sky_…`); only its hash is kept.
    Token {
        /// What the token is for (letters, digits, `.`, `-`, `_`, `@`).
        #[arg(long)]
        name: String,
        /// admin, analyst or read-only.
        #[arg(long, default_value = "read-only", value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an API token by its number (see the console's Settings or `admin tokens`).
    RevokeToken {
        /// The token's number.
        id: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List API tokens (never their secrets).
    Tokens {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the audit log of Skylight's own actions, newest first.
    AuditLog {
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("`{s}`: admin, analyst or read-only"))
}

/// The audit entry of an action taken from the command line.
fn entry(action: &str, target: &str, detail: Option<String>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: "cli".into(),
        action: action.into(),
        target: Some(target.into()),
        detail,
        ip: None,
    }
}

/// Runs `skylight admin …`.
pub async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    // Every subcommand is short store work and password hashing: off the async threads.
    tokio::task::spawn_blocking(move || run(args.command))
        .await
        .context("admin task failed")?
}

fn run(command: AdminCommand) -> anyhow::Result<()> {
    let p = crate::activities_cmd::printable;
    match command {
        AdminCommand::Create {
            username,
            role,
            password_file,
            store,
        } => {
            let store = store.open()?;
            let (password, generated) = match password_file {
                Some(path) => (
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_owned(),
                    false,
                ),
                None => (skylight_server::auth::new_password()?, true),
            };
            let account = create(store.as_ref(), &username, &password, role)?;
            outln!(
                "created {} account {}",
                account.role.as_str(),
                p(&account.username)
            );
            if generated {
                outln!("password (shown once): {password}");
            }
        }
        AdminCommand::List { store } => {
            let store = store.open()?;
            outln!(
                "{:<36} {:<10} {:<9} last sign-in (UTC)",
                "name",
                "role",
                "state"
            );
            for a in store.accounts()? {
                outln!(
                    "{:<36} {:<10} {:<9} {}",
                    p(&a.username),
                    a.role.as_str(),
                    if a.disabled { "disabled" } else { "enabled" },
                    a.last_login
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        AdminCommand::ResetPassword { username, store } => {
            let store = store.open()?;
            let (account, _) = store
                .account_by_name(&username)?
                .with_context(|| format!("no account is named {}", p(&username)))?;
            let password = skylight_server::auth::new_password()?;
            let change = AccountChange {
                password_hash: Some(skylight_server::auth::hash_password(&password)?),
                disabled: Some(false),
                ..AccountChange::default()
            };
            store.update_account(account.id, &change)?;
            store.record_audit(&entry(
                "account.update",
                &account.username,
                Some("password reset, enabled".into()),
            ))?;
            outln!(
                "new password of {} (shown once): {password}",
                p(&account.username)
            );
        }
        AdminCommand::Token { name, role, store } => {
            let store = store.open()?;
            let (token, secret) =
                skylight_server::auth::create_api_token(store.as_ref(), &name, role, "cli")?;
            store.record_audit(&entry(
                "token.create",
                &token.name,
                Some(format!("role {}", role.as_str())),
            ))?;
            outln!("API token {} ({}), shown once:", token.id, role.as_str());
            outln!("{secret}");
        }
        AdminCommand::RevokeToken { id, store } => {
            let store = store.open()?;
            if !store.revoke_api_token(id, Utc::now())? {
                anyhow::bail!("no live API token has the number {id}");
            }
            store.record_audit(&entry("token.revoke", &id.to_string(), None))?;
            outln!("revoked API token {id}");
        }
        AdminCommand::Tokens { store } => {
            let store = store.open()?;
            outln!(
                "{:>4} {:<24} {:<10} {:<20} state",
                "id",
                "name",
                "role",
                "created by"
            );
            for t in store.api_tokens()? {
                outln!(
                    "{:>4} {:<24} {:<10} {:<20} {}",
                    t.id,
                    p(&t.name),
                    t.role.as_str(),
                    p(&t.created_by),
                    if t.revoked.is_some() {
                        "revoked"
                    } else {
                        "live"
                    }
                );
            }
        }
        AdminCommand::AuditLog { limit, store } => {
            let store = store.open()?;
            for e in store.audit_log(limit, None)? {
                outln!(
                    "{} {:<20} {:<18} {} {}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    p(&e.actor),
                    e.action,
                    p(e.target.as_deref().unwrap_or("-")),
                    p(e.detail.as_deref().unwrap_or(""))
                );
            }
        }
    }
    Ok(())
}

/// Creates an account and records it in the audit log.
pub fn create(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: Role,
) -> anyhow::Result<skylight_model::Account> {
    let account = skylight_server::auth::create_account(store, username, password, role)?;
    store.record_audit(&entry(
        "account.create",
        &account.username,
        Some(format!("role {}", role.as_str())),
    ))?;
    Ok(account)
}
