//! Policies' governance actions, taken on the users of the alerts they raise, once per alert,
//! action and user: the alert's governance log entries are the memory of what was done.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use skylight_govern::{ActionRequest, Governor};
use skylight_model::{ActionKind, AlertStatus, TargetKind};
use skylight_store::{AlertQuery, FileQuery, GovernanceQuery, Store, StoreError};

/// How often alerts are looked at.
const INTERVAL: Duration = Duration::from_secs(2);
/// Files acted on per alert at most (from its first matched activities).
const MAX_FILES_PER_ALERT: usize = 50;
/// Users acted on per alert at most: a policy that matched hundreds of users at once is more
/// likely wrong than a breach of hundreds of accounts, and an admin should look first.
const MAX_USERS_PER_ALERT: usize = 10;

/// The actions of each policy that has some.
pub type PolicyActions = HashMap<String, Vec<ActionKind>>;

/// Takes policies' actions on new and changed alerts until `stop` is set.
pub async fn run(
    governor: Arc<Governor>,
    store: Arc<dyn Store>,
    actions_of: impl Fn(&dyn Store) -> anyhow::Result<PolicyActions> + Send + Sync + 'static,
    stop: Arc<AtomicBool>,
    lease: Option<skylight_store::lease::Lease>,
) {
    // With several processes on one store, one governs at a time: another's in-progress
    // actions are not "interrupted" while it lives.
    if let Some(lease) = &lease {
        while !lease.held() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(INTERVAL).await;
        }
    }
    match governor.resume_interrupted().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            actions = n,
            "finished governance actions a stop interrupted"
        ),
        Err(e) => tracing::error!(error = %e, "cannot resume interrupted governance actions"),
    }
    let actions_of = Arc::new(actions_of);
    let mut cursor: Option<DateTime<Utc>> = None;
    // The policies' actions, read again only when policies change through the API (policy
    // files are read when the process starts, as detection reads them).
    let mut known: Option<(i64, Arc<PolicyActions>)> = None;
    loop {
        // A round after the stop was seen: what detection raised last is acted on too.
        let stopping = stop.load(Ordering::Relaxed);
        if let Some(lease) = &lease
            && !lease.held()
        {
            if stopping {
                break;
            }
            tokio::time::sleep(INTERVAL).await;
            continue;
        }
        let actions = match current_actions(&store, &actions_of, &mut known).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot read the policies' actions; retrying");
                tokio::time::sleep(INTERVAL).await;
                continue;
            }
        };
        match round(&governor, &store, &actions, cursor).await {
            Ok(next) => cursor = next,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "policy governance round failed; retrying")
            }
        }
        if stopping {
            break;
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// The policies' actions, from `known` unless the policy version moved.
async fn current_actions(
    store: &Arc<dyn Store>,
    actions_of: &Arc<impl Fn(&dyn Store) -> anyhow::Result<PolicyActions> + Send + Sync + 'static>,
    known: &mut Option<(i64, Arc<PolicyActions>)>,
) -> anyhow::Result<Arc<PolicyActions>> {
    let (s, f, held) = (
        Arc::clone(store),
        Arc::clone(actions_of),
        known.as_ref().map(|(v, _)| *v),
    );
    let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let version = s.policy_version()?;
        if held == Some(version) {
            return Ok((version, None));
        }
        Ok((version, Some(f(s.as_ref())?)))
    })
    .await
    .context("policy task failed")??;
    if let (version, Some(actions)) = read {
        *known = Some((version, Arc::new(actions)));
    }
    known
        .as_ref()
        .map(|(_, a)| Arc::clone(a))
        .context("no policy actions read")
}

/// One look at the alerts changed since `cursor`; returns the new cursor.
async fn round(
    governor: &Governor,
    store: &Arc<dyn Store>,
    actions: &PolicyActions,
    cursor: Option<DateTime<Utc>>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    if actions.is_empty() {
        return Ok(cursor);
    }
    let s = Arc::clone(store);
    let alerts = tokio::task::spawn_blocking(move || {
        s.alerts(&AlertQuery {
            // From the start on the first round: a restart finds what it has not done yet.
            updated_after: Some(cursor.unwrap_or(DateTime::<Utc>::MIN_UTC)),
            include_signals: true,
            // Every alert changed since: alerts committed together share one time, so a page
            // that ended inside them would skip the rest.
            limit: 0,
            ..AlertQuery::default()
        })
    })
    .await
    .context("alerts task failed")??;
    let mut next = cursor;
    for alert in alerts {
        next = Some(alert.updated);
        let Some(kinds) = actions.get(&alert.draft.policy) else {
            continue;
        };
        if matches!(alert.status, AlertStatus::Dismissed) {
            continue;
        }
        let s = Arc::clone(store);
        let id = alert.id;
        let done = tokio::task::spawn_blocking(move || {
            s.governance_log(&GovernanceQuery {
                alert_id: Some(id),
                ..GovernanceQuery::default()
            })
        })
        .await
        .context("governance log task failed")??;
        let needs_files = kinds.iter().any(|k| k.target() == TargetKind::File);
        let files = if needs_files {
            let (s, tenant, ids) = (
                Arc::clone(store),
                alert.draft.tenant.clone(),
                alert.draft.activity_ids.clone(),
            );
            tokio::task::spawn_blocking(move || files_of(s.as_ref(), &tenant, &ids))
                .await
                .context("files task failed")??
        } else {
            Vec::new()
        };
        for kind in kinds {
            let targets: Vec<String> = match kind.target() {
                // A file policy's alert names its file; an activity policy's, its activities'.
                TargetKind::File => {
                    match skylight_detect::file_policy::file_of_key(&alert.draft.key) {
                        Some(file) => vec![file.to_owned()],
                        None => files.clone(),
                    }
                }
                // An app policy's alert names its app; no other alert leads to an app action.
                TargetKind::App => skylight_detect::app_policy::app_of_key(&alert.draft.key)
                    .map(|app| vec![app.to_owned()])
                    .unwrap_or_default(),
                _ => alert
                    .draft
                    .users
                    .iter()
                    .take(MAX_USERS_PER_ALERT)
                    .cloned()
                    .collect(),
            };
            for target in &targets {
                let already = done.iter().any(|e| {
                    e.action == *kind
                        && (e.target_name.eq_ignore_ascii_case(target)
                            || e.target_id.eq_ignore_ascii_case(target))
                });
                if already {
                    continue;
                }
                let req = ActionRequest {
                    tenant: Some(alert.draft.tenant.clone()),
                    action: *kind,
                    target: target.clone(),
                    requested_by: format!("policy:{}", alert.draft.policy),
                    alert_id: Some(alert.id),
                    dry_run: false,
                    needs_approval: false,
                    params: serde_json::json!({}),
                };
                match governor.request(req).await {
                    Ok(e) => {
                        tracing::info!(alert = alert.id, action = kind.as_str(), target = %target, status = e.status.as_str(), "policy governance action")
                    }
                    Err(e) => {
                        tracing::warn!(alert = alert.id, action = kind.as_str(), target = %target, error = %e, "policy governance action refused")
                    }
                }
            }
        }
    }
    Ok(next)
}

/// An address as a record and the inventory can both give it: decoded, lowercase, no trailing
/// slash.
fn plain(url: &str) -> String {
    skylight_m365::graph::files::percent_decode(url)
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

/// The files (`DRIVE/ITEM`) the alert's SharePoint and OneDrive activities name, found in the
/// inventory by site, library path and name.
fn files_of(store: &dyn Store, tenant: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    for id in ids.iter().take(MAX_FILES_PER_ALERT) {
        let Some((_, raw)) = store.activity(Some(tenant), id)? else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        let (Some(site), Some(folder), Some(name)) = (
            record["SiteUrl"].as_str(),
            record["SourceRelativeUrl"].as_str(),
            record["SourceFileName"].as_str(),
        ) else {
            continue;
        };
        let wanted = plain(&format!("{}/{}", folder.trim_matches('/'), name));
        let candidates = store.files(&FileQuery {
            tenant: Some(tenant.to_owned()),
            name: Some(name.to_owned()),
            include_folders: true,
            limit: 100,
            ..FileQuery::default()
        })?;
        for f in candidates {
            let same_site = f
                .site_url
                .as_deref()
                .is_some_and(|s| plain(s) == plain(site));
            let here = plain(&format!("{}{}", f.library_path, f.path));
            let key = format!("{}/{}", f.drive_id, f.id);
            if same_site && here == wanted && !out.contains(&key) {
                out.push(key);
            }
        }
    }
    Ok(out)
}
