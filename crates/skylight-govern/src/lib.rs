//! Governance: actions on a tenant's users and OAuth apps, carried out through Microsoft Graph and
//! recorded, call by call, in the governance log.
//!
//! Every action is logged before it starts, so a crash leaves an entry in progress that
//! [`Governor::resume_interrupted`] finishes. The same action on the same target never runs twice
//! at once (the store refuses a second running entry), and each step first reads the tenant's
//! state, so a repeated or resumed action changes nothing that is already as asked. A failure is
//! kept with Graph's answer and what to do, and can be retried.

mod files;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;
use skylight_m365::graph::actions::Recorder;
use skylight_m365::graph::{GraphClient, GraphError};
use skylight_model::{ActionKind, ActionStatus, AppReview, GovernanceEntry, TargetKind};
use skylight_store::{ActionDraft, ActionUpdate, GovernanceQuery, Store, StoreError};

/// Why an action could not be started.
#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    /// No configured tenant has that name.
    #[error("no tenant named {0:?} is configured")]
    UnknownTenant(String),
    /// Several tenants are configured and the target did not say which.
    #[error("several tenants are configured ({0}); say which with --tenant")]
    WhichTenant(String),
    /// The target does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The action is not allowed on this target.
    #[error("refused: {0}")]
    Refused(String),
    /// Reading the target from Graph failed.
    #[error("cannot read the target from Microsoft Graph: {0}")]
    Graph(#[from] GraphError),
    /// The store failed (or another run of the same action is under way).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An action someone asks for.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// The tenant, when more than one is configured.
    pub tenant: Option<String>,
    /// The action.
    pub action: ActionKind,
    /// The target: a UPN or object id for users; a name, app id or object id for apps.
    pub target: String,
    /// Who asks: `user:NAME`, `policy:ID`, `cli`.
    pub requested_by: String,
    /// The alert that led to it.
    pub alert_id: Option<i64>,
    /// Only record what would be done.
    pub dry_run: bool,
    /// Wait for an admin's approval before acting.
    pub needs_approval: bool,
    /// Extra parameters: `{"collaborator": MAIL}` for remove-collaborator.
    pub params: Value,
}

/// Carries out governance actions for the configured tenants.
pub struct Governor {
    store: Arc<dyn Store>,
    /// Connectors come and go while actions run: read under the lock, and the client cloned out
    /// before any await.
    tenants: RwLock<Tenants>,
}

/// The tenants a governor can act on. One lock over both maps, so that a tenant and its
/// quarantine site change together.
#[derive(Default)]
struct Tenants {
    clients: HashMap<String, Arc<GraphClient>>,
    quarantine_sites: HashMap<String, String>,
    notify_senders: HashMap<String, String>,
}

/// A resolved target.
struct Target {
    tenant: String,
    id: String,
    name: String,
    params: Value,
    warnings: Vec<String>,
}

impl Governor {
    /// A governor over `store`, acting through one Graph client per tenant name.
    pub fn new(store: Arc<dyn Store>, clients: HashMap<String, Arc<GraphClient>>) -> Governor {
        Governor {
            store,
            tenants: RwLock::new(Tenants {
                clients,
                quarantine_sites: HashMap::new(),
                notify_senders: HashMap::new(),
            }),
        }
    }

    /// The admin quarantine site of each tenant that has one.
    pub fn with_quarantine_sites(mut self, sites: HashMap<String, String>) -> Governor {
        self.tenants
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .quarantine_sites = sites;
        self
    }

    /// The mailbox each tenant's notifications are sent from.
    pub fn with_notify_senders(mut self, senders: HashMap<String, String>) -> Governor {
        self.tenants
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .notify_senders = senders;
        self
    }

    /// Sets or clears the mailbox a tenant's notifications are sent from.
    pub fn set_notify_sender(&self, name: &str, sender: Option<String>) {
        let mut t = self.write();
        match sender {
            Some(s) => t.notify_senders.insert(name.to_owned(), s),
            None => t.notify_senders.remove(name),
        };
    }

    /// Adds or replaces a tenant's Graph client (and admin quarantine site).
    pub fn set_tenant(
        &self,
        name: &str,
        client: Arc<GraphClient>,
        quarantine_site: Option<String>,
    ) {
        let mut t = self.write();
        t.clients.insert(name.to_owned(), client);
        match quarantine_site {
            Some(site) => t.quarantine_sites.insert(name.to_owned(), site),
            None => t.quarantine_sites.remove(name),
        };
    }

    /// Forgets a tenant (its log entries stay; new actions on it are refused as for an unknown
    /// tenant).
    pub fn remove_tenant(&self, name: &str) {
        let mut t = self.write();
        t.clients.remove(name);
        t.quarantine_sites.remove(name);
        t.notify_senders.remove(name);
    }

    /// The tenants it can act on, sorted.
    pub fn tenants(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().clients.keys().cloned().collect();
        names.sort();
        names
    }

    // A panic while holding the lock cannot leave the maps half-changed (each change is one
    // insert or remove), so a poisoned lock is still good to use.
    fn read(&self) -> RwLockReadGuard<'_, Tenants> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tenants> {
        self.tenants.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant's admin quarantine site, if it has one.
    fn quarantine_site(&self, tenant: &str) -> Option<String> {
        self.read().quarantine_sites.get(tenant).cloned()
    }

    fn notify_sender(&self, tenant: &str) -> Option<String> {
        self.read().notify_senders.get(tenant).cloned()
    }

    /// Runs `f` on the store without blocking the runtime.
    async fn on_store<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        skylight_m365::on_store(&self.store, f).await
    }

    fn client(&self, tenant: &str) -> Result<Arc<GraphClient>, GovernError> {
        self.read()
            .clients
            .get(tenant)
            .cloned()
            .ok_or_else(|| GovernError::UnknownTenant(tenant.to_owned()))
    }

    /// The tenant asked for, or the only one configured.
    fn tenant(&self, asked: Option<&str>) -> Result<String, GovernError> {
        if let Some(t) = asked {
            self.client(t)?;
            return Ok(t.to_owned());
        }
        match self.tenants().as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(GovernError::UnknownTenant("(none configured)".into())),
            many => Err(GovernError::WhichTenant(many.join(", "))),
        }
    }

    /// Finds the target and what to warn about before acting on it.
    async fn resolve(&self, req: &ActionRequest) -> Result<Target, GovernError> {
        let tenant = self.tenant(req.tenant.as_deref())?;
        if matches!(req.action, ActionKind::NotifyUser | ActionKind::NotifyOwner)
            && self.notify_sender(&tenant).is_none()
        {
            return Err(GovernError::Refused(format!(
                "notifying needs a mailbox to send from: set `notify_sender` for tenant {tenant} \
                 in the configuration, and grant the app the Mail.Send application permission"
            )));
        }
        match req.action.target() {
            TargetKind::User => {
                let client = self.client(&tenant)?;
                let user = match Recorder::new(&client, true).user(&req.target).await {
                    Ok(u) => u,
                    Err(e) if e.is_not_found() => {
                        return Err(GovernError::NotFound(format!(
                            "no user {:?} in tenant {tenant}",
                            req.target
                        )));
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut warnings = Vec::new();
                if user.synced
                    && matches!(
                        req.action,
                        ActionKind::SuspendUser | ActionKind::UnsuspendUser
                    )
                {
                    warnings.push(format!(
                        "{} is synced from on-premises Active Directory: the next directory \
                         sync reverts this change. Disable the account on-premises as well.",
                        user.upn
                    ));
                }
                if user.guest && req.action == ActionKind::RequireSignIn {
                    warnings.push(format!(
                        "{} is a guest: sessions in the guest's home tenant are not ended.",
                        user.upn
                    ));
                }
                Ok(Target {
                    tenant,
                    id: user.id,
                    name: user.upn,
                    params: req.params.clone(),
                    warnings,
                })
            }
            TargetKind::App => {
                let (t, key) = (tenant.clone(), req.target.clone());
                let app = self
                    .on_store(move |s| s.oauth_app(Some(&t), &key))
                    .await?
                    .ok_or_else(|| {
                        GovernError::NotFound(format!(
                            "no OAuth app {:?} in tenant {tenant}; apps come from the directory \
                             sync (`skylight sync`)",
                            req.target
                        ))
                    })?;
                let mut warnings = Vec::new();
                if app.first_party && req.action != ActionKind::ApproveApp {
                    return Err(GovernError::Refused(format!(
                        "{} is one of Microsoft's own apps; Skylight does not revoke or ban those",
                        app.name
                    )));
                }
                if req.action == ActionKind::BanApp && !app.grants.is_empty() {
                    warnings.push(format!(
                        "banning keeps the {} permission grant(s) already given; revoke the app to \
                         remove them",
                        app.grants.len() + app.app_roles.len()
                    ));
                }
                Ok(Target {
                    tenant,
                    id: app.id,
                    name: app.name,
                    params: req.params.clone(),
                    warnings,
                })
            }
            TargetKind::File => {
                let client = self.client(&tenant)?;
                let mut params = req.params.clone();
                if req.action == ActionKind::RestoreFile {
                    // Where user quarantine took it from.
                    let (t, target) = (tenant.clone(), req.target.clone());
                    let quarantined = self
                        .on_store(move |s| {
                            s.governance_log(&GovernanceQuery {
                                tenant: Some(t),
                                target: Some(target),
                                status: Some(ActionStatus::Succeeded),
                                ..GovernanceQuery::default()
                            })
                        })
                        .await?
                        .into_iter()
                        .find(|e| e.action == ActionKind::UserQuarantine)
                        .ok_or_else(|| {
                            GovernError::Refused(format!(
                                "{} was not put in user quarantine by Skylight",
                                req.target
                            ))
                        })?;
                    params = quarantined.params;
                }
                let quarantine_site = self.quarantine_site(&tenant);
                let file = files::resolve(
                    &Recorder::new(&client, true),
                    req.action,
                    &req.target,
                    params,
                    quarantine_site.as_deref(),
                )
                .await?;
                Ok(Target {
                    tenant,
                    id: format!("{}/{}", file.drive, file.item),
                    name: file.path,
                    params: file.params,
                    warnings: file.warnings,
                })
            }
        }
    }

    /// Logs the action and, unless it waits for approval, carries it out. When the same action on
    /// the same target is already pending or running, that entry comes back instead.
    ///
    /// A target that cannot be found or acted on is refused with the reason, and the refusal is
    /// logged too (as failed), so that no asked-for action goes unrecorded.
    pub async fn request(&self, req: ActionRequest) -> Result<GovernanceEntry, GovernError> {
        let target = match self.resolve(&req).await {
            Ok(t) => t,
            Err(e @ (GovernError::UnknownTenant(_) | GovernError::WhichTenant(_))) => {
                return Err(e);
            }
            Err(e) => {
                self.log_refusal(&req, &e).await?;
                return Err(e);
            }
        };
        let status = if req.dry_run {
            ActionStatus::DryRun
        } else if req.needs_approval {
            ActionStatus::Pending
        } else {
            ActionStatus::InProgress
        };
        let draft = ActionDraft {
            tenant: target.tenant,
            action: req.action,
            target_kind: req.action.target(),
            target_id: target.id,
            target_name: target.name,
            requested_by: req.requested_by,
            alert_id: req.alert_id,
            params: target.params,
            status,
            warnings: target.warnings,
        };
        let (entry, created) = self.on_store(move |s| s.begin_action(&draft)).await?;
        if !created || status == ActionStatus::Pending {
            return Ok(entry);
        }
        self.carry_out(entry, req.dry_run).await
    }

    /// Records an action that could not start, with why.
    async fn log_refusal(&self, req: &ActionRequest, why: &GovernError) -> Result<(), GovernError> {
        let draft = ActionDraft {
            tenant: self.tenant(req.tenant.as_deref())?,
            action: req.action,
            target_kind: req.action.target(),
            target_id: req.target.clone(),
            target_name: req.target.clone(),
            requested_by: req.requested_by.clone(),
            alert_id: req.alert_id,
            params: req.params.clone(),
            status: ActionStatus::Failed,
            warnings: Vec::new(),
        };
        let (entry, _) = self.on_store(move |s| s.begin_action(&draft)).await?;
        self.update(
            entry.id,
            ActionUpdate {
                error: Some(why.to_string()),
                ..ActionUpdate::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Carries out a pending action once an admin approved it.
    pub async fn approve(&self, id: i64, by: &str) -> Result<GovernanceEntry, GovernError> {
        self.restart(id, ActionStatus::Pending, Some(format!("approved by {by}")))
            .await
    }

    /// Carries out a failed action again; its target is checked again first, so that a refusal
    /// stays a refusal.
    pub async fn retry(&self, id: i64) -> Result<GovernanceEntry, GovernError> {
        self.restart(id, ActionStatus::Failed, None).await
    }

    /// Moves an entry from `expected` to in progress and carries it out.
    async fn restart(
        &self,
        id: i64,
        expected: ActionStatus,
        note: Option<String>,
    ) -> Result<GovernanceEntry, GovernError> {
        let entry = self.entry(id).await?;
        if entry.status != expected {
            return Err(GovernError::Refused(format!(
                "action {id} is {}; only {} actions can be {}",
                entry.status.as_str(),
                expected.as_str(),
                if expected == ActionStatus::Pending {
                    "approved"
                } else {
                    "retried"
                }
            )));
        }
        if expected == ActionStatus::Failed {
            self.resolve(&ActionRequest {
                tenant: Some(entry.tenant.clone()),
                action: entry.action,
                target: entry.target_id.clone(),
                requested_by: entry.requested_by.clone(),
                alert_id: entry.alert_id,
                dry_run: false,
                needs_approval: false,
                params: entry.params.clone(),
            })
            .await?;
        }
        let entry = self
            .update(
                id,
                ActionUpdate {
                    expect: Some(expected),
                    status: Some(ActionStatus::InProgress),
                    warnings: note.into_iter().collect(),
                    ..ActionUpdate::default()
                },
            )
            .await?;
        self.carry_out(entry, false).await
    }

    /// Finishes every action a crash left in progress; returns how many.
    pub async fn resume_interrupted(&self) -> Result<usize, GovernError> {
        let running = self
            .on_store(|s| {
                s.governance_log(&GovernanceQuery {
                    status: Some(ActionStatus::InProgress),
                    ..GovernanceQuery::default()
                })
            })
            .await?;
        let n = running.len();
        for entry in running {
            if self.client(&entry.tenant).is_ok() {
                tracing::info!(
                    id = entry.id,
                    action = entry.action.as_str(),
                    "resuming an interrupted action"
                );
                self.carry_out(entry, false).await?;
            }
        }
        Ok(n)
    }

    async fn entry(&self, id: i64) -> Result<GovernanceEntry, GovernError> {
        self.on_store(move |s| s.governance_entry(id))
            .await?
            .ok_or_else(|| GovernError::NotFound(format!("no governance action {id}")))
    }

    async fn update(&self, id: i64, u: ActionUpdate) -> Result<GovernanceEntry, GovernError> {
        self.on_store(move |s| s.update_action(id, &u))
            .await?
            .ok_or_else(|| GovernError::NotFound(format!("no governance action {id}")))
    }

    /// A file action, with who is inside the organisation and the quarantine site.
    async fn act_on_file(
        &self,
        rec: &mut Recorder<'_>,
        client: &GraphClient,
        entry: &GovernanceEntry,
    ) -> Result<(), GraphError> {
        let t = entry.tenant.clone();
        let users = self
            .on_store(move |s| {
                s.directory_users(&skylight_store::DirectoryQuery {
                    tenant: Some(t),
                    ..Default::default()
                })
            })
            .await
            .map_err(|e| GraphError::Malformed(format!("the directory could not be read: {e}")))?;
        let insiders = skylight_m365::graph::files::Insiders::from_users(&users);
        let quarantine = match (entry.action, self.quarantine_site(&entry.tenant)) {
            (ActionKind::AdminQuarantine, Some(site)) => {
                Some(files::quarantine_drive(rec, client, &site).await?)
            }
            _ => None,
        };
        files::act(rec, entry, &insiders, quarantine).await
    }

    /// Mails the user (or the file's owner) from the tenant's notification mailbox: the alert's
    /// title and facts when an alert asked for it.
    async fn notify(
        &self,
        rec: &mut Recorder<'_>,
        entry: &GovernanceEntry,
    ) -> Result<(), GraphError> {
        let sender = self.notify_sender(&entry.tenant).ok_or_else(|| {
            GraphError::Malformed(format!(
                "no `notify_sender` is configured for tenant {} any more",
                entry.tenant
            ))
        })?;
        let alert = match entry.alert_id {
            Some(id) => self.on_store(move |s| s.alert(id)).await.ok().flatten(),
            None => None,
        };
        let (to, subject, opening) = if entry.action == ActionKind::NotifyOwner {
            let owner = entry.params["owner"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (
                owner,
                format!("Security notice about your file {}", entry.target_name),
                format!(
                    "Your security team is reviewing a file you own: {}.",
                    entry.target_name
                ),
            )
        } else {
            (
                entry.target_name.clone(),
                "Security notice about your account".to_owned(),
                "Your security team noticed activity on your account that needs a look.".to_owned(),
            )
        };
        let mut text = opening;
        if let Some(a) = &alert {
            text.push_str(&format!("\n\n{}\n", a.draft.title));
            for fact in &a.draft.facts {
                text.push_str(&format!("- {fact}\n"));
            }
        }
        text.push_str(
            "\nIf this was not you, or you did not expect it, contact your IT or security team. \
             Do not reply to this message.\n",
        );
        rec.send_mail(&sender, &to, &subject, &text).await
    }

    /// Makes the calls and records how it went.
    async fn carry_out(
        &self,
        entry: GovernanceEntry,
        dry_run: bool,
    ) -> Result<GovernanceEntry, GovernError> {
        let client = self.client(&entry.tenant)?;
        let mut rec = Recorder::new(&client, dry_run);
        let result = if matches!(
            entry.action,
            ActionKind::NotifyUser | ActionKind::NotifyOwner
        ) {
            self.notify(&mut rec, &entry).await
        } else if entry.target_kind == TargetKind::File {
            self.act_on_file(&mut rec, &client, &entry).await
        } else {
            act(&mut rec, &entry).await
        };
        let mut update = ActionUpdate {
            attempt: !dry_run,
            steps: std::mem::take(&mut rec.steps),
            ..ActionUpdate::default()
        };
        let succeeded = result.is_ok() && !dry_run;
        match result {
            Ok(()) => {
                update.status = Some(if dry_run {
                    ActionStatus::DryRun
                } else {
                    ActionStatus::Succeeded
                });
                update.error = Some(String::new());
            }
            Err(e) => {
                let permission = permission_for(entry.action);
                update.status = Some(ActionStatus::Failed);
                update.error = Some(format!("{e}. {}", e.remediation(permission).message));
            }
        }
        // The log first: what was done in the tenant is never lost to a later store failure.
        let done = self.update(entry.id, update).await?;
        if succeeded && let Err(e) = self.mirror(&entry).await {
            tracing::warn!(id = entry.id, error = %e, "the action is done; the inventory shows it at the next sync");
        }
        tracing::info!(
            id = done.id,
            action = done.action.as_str(),
            target = %done.target_name,
            status = done.status.as_str(),
            "governance action"
        );
        Ok(done)
    }
}

impl Governor {
    /// Shows a done action in the inventory now rather than at the next sync: the user's sign-in
    /// state, the app's review.
    async fn mirror(&self, entry: &GovernanceEntry) -> Result<(), StoreError> {
        let (t, id) = (entry.tenant.clone(), entry.target_id.clone());
        let enabled = match entry.action {
            ActionKind::SuspendUser => Some(false),
            ActionKind::UnsuspendUser => Some(true),
            _ => None,
        };
        let review = match entry.action {
            ActionKind::ApproveApp => Some(AppReview::Approved),
            ActionKind::BanApp | ActionKind::RevokeApp => Some(AppReview::Banned),
            _ => None,
        };
        self.on_store(move |s| {
            if let Some(enabled) = enabled
                && let Some(mut user) = s.directory_user(Some(&t), &id)?
            {
                user.account_enabled = Some(enabled);
                s.commit_directory(
                    &t,
                    &skylight_store::DirectoryChanges {
                        users: vec![user],
                        ..Default::default()
                    },
                )?;
            }
            if let Some(review) = review {
                s.set_app_review(&t, &id, review)?;
            }
            Ok(())
        })
        .await
    }
}

/// The Graph application permission an action needs, for the error message.
fn permission_for(action: ActionKind) -> &'static str {
    match action {
        ActionKind::SuspendUser | ActionKind::UnsuspendUser | ActionKind::RequireSignIn => {
            "User.ReadWrite.All"
        }
        ActionKind::ConfirmCompromised => "IdentityRiskyUser.ReadWrite.All",
        ActionKind::RevokeApp => {
            "DelegatedPermissionGrant.ReadWrite.All, AppRoleAssignment.ReadWrite.All and Application.ReadWrite.All"
        }
        ActionKind::BanApp => "Application.ReadWrite.All",
        ActionKind::NotifyUser | ActionKind::NotifyOwner => "Mail.Send",
        ActionKind::ApproveApp => "User.Read.All",
        _ => "Files.ReadWrite.All (or Sites.ReadWrite.All)",
    }
}

/// The calls of one action.
async fn act(rec: &mut Recorder<'_>, entry: &GovernanceEntry) -> Result<(), GraphError> {
    let id = entry.target_id.as_str();
    match entry.action {
        ActionKind::SuspendUser => {
            let user = rec.user(id).await?;
            rec.set_enabled(&user, false).await?;
            rec.revoke_sessions(id).await
        }
        ActionKind::UnsuspendUser => {
            let user = rec.user(id).await?;
            rec.set_enabled(&user, true).await
        }
        ActionKind::RequireSignIn => rec.revoke_sessions(id).await,
        ActionKind::ConfirmCompromised => rec.confirm_compromised(id).await,
        ActionKind::RevokeApp => rec.revoke_app(id).await,
        ActionKind::BanApp => rec.set_app_enabled(id, false).await,
        // Approval is Skylight's own; notifications are sent by `Governor::notify`, file actions
        // by `files::act`.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skylight_m365::auth::TokenProvider;
    use skylight_m365::config::{Credential, Secret, TenantConfig, TenantSpec};
    use skylight_model::{OAuthApp, PermissionLevel};
    use skylight_store::{DirectoryChanges, SqliteStore};

    /// A client whose every call would fail: nothing listens on the discard port, so a test that
    /// reached Microsoft Graph by mistake could not pass.
    fn unreachable_client(tenant: &str) -> Arc<GraphClient> {
        let url = "http://127.0.0.1:9";
        let config = TenantConfig::from_spec(TenantSpec {
            name: tenant.into(),
            tenant_id: "6d8a2f3c-1b4e-4c7a-9f21-0e5d3b7a9c11".into(),
            client_id: "2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55".into(),
            credential: Credential::Secret(Secret::new("unused")),
            cloud: String::new(),
            login_url: Some(url.into()),
            manage_url: Some(url.into()),
            graph_url: Some(url.into()),
            activities: true,
            files: false,
            content_types: Vec::new(),
            quarantine_site: None,
        })
        .unwrap_or_else(|p| panic!("{p:?}"));
        let http = reqwest::Client::new();
        let tokens = Arc::new(TokenProvider::new(http.clone(), &config));
        Arc::new(GraphClient::new(http, tokens, url, 1).with_max_attempts(1))
    }

    /// Approving an app is recorded without a Graph call, so it runs to the end offline.
    fn approve(tenant: Option<&str>) -> ActionRequest {
        ActionRequest {
            tenant: tenant.map(str::to_owned),
            action: ActionKind::ApproveApp,
            target: "Expense Tracker".into(),
            requested_by: "user:admin".into(),
            alert_id: None,
            dry_run: false,
            needs_approval: false,
            params: Value::Null,
        }
    }

    fn app(tenant: &str) -> OAuthApp {
        OAuthApp {
            tenant: tenant.into(),
            id: "sp-1".into(),
            app_id: "app-1".into(),
            name: "Expense Tracker".into(),
            publisher: None,
            verified_publisher: None,
            first_party: false,
            enabled: true,
            grants: Vec::new(),
            app_roles: Vec::new(),
            level: PermissionLevel::Low,
            consented_users: 0,
            all_users: false,
            first_consent: None,
            last_consent: None,
            review: AppReview::Unreviewed,
            synced: chrono::Utc::now(),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn tenants_set_at_run_time_are_acted_on_and_removed_ones_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}")));
        for t in ["contoso", "fabrikam"] {
            store
                .commit_directory(
                    t,
                    &DirectoryChanges {
                        apps: Some(vec![app(t)]),
                        ..DirectoryChanges::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let governor = Governor::new(Arc::clone(&store), HashMap::new());
        assert!(governor.tenants().is_empty());
        let refused = governor.request(approve(Some("fabrikam"))).await;
        assert!(
            matches!(&refused, Err(GovernError::UnknownTenant(t)) if t == "fabrikam"),
            "{refused:?}"
        );

        governor.set_tenant(
            "fabrikam",
            unreachable_client("fabrikam"),
            Some("https://fabrikam.sharepoint.com/sites/quarantine".into()),
        );
        governor.set_tenant("contoso", unreachable_client("contoso"), None);
        assert_eq!(governor.tenants(), ["contoso", "fabrikam"]);
        assert!(governor.quarantine_site("fabrikam").is_some());
        let done = governor
            .request(approve(Some("fabrikam")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.status, ActionStatus::Succeeded, "{done:?}");
        assert_eq!(done.tenant, "fabrikam");

        // Replaced without a quarantine site: the old one goes too.
        governor.set_tenant("fabrikam", unreachable_client("fabrikam"), None);
        assert!(governor.quarantine_site("fabrikam").is_none());

        governor.remove_tenant("fabrikam");
        assert_eq!(governor.tenants(), ["contoso"]);
        let refused = governor.request(approve(Some("fabrikam"))).await;
        assert!(
            matches!(&refused, Err(GovernError::UnknownTenant(t)) if t == "fabrikam"),
            "{refused:?}"
        );
        // Its log stays.
        let log = store
            .governance_log(&GovernanceQuery {
                tenant: Some("fabrikam".into()),
                ..GovernanceQuery::default()
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].id, done.id);

        // With one tenant left, a request that names none goes to it.
        let done = governor
            .request(approve(None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.tenant, "contoso");
        assert_eq!(done.status, ActionStatus::Succeeded);
    }
}
