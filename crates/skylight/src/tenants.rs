//! The tenants a process works for: the configuration file's `[[tenant]]`s and the connectors
//! connected in the console (stored, their credentials sealed). The store is read again every
//! few seconds, so that a connector connected, changed, paused or disconnected in any process's
//! console reaches every process sharing the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use skylight_m365::config::TenantConfig;
use skylight_store::seal::Sealer;
use skylight_store::{ConnectorPhase, Store, StoredConnector};
use tokio::sync::watch;

/// The tenants at one moment: the file's first, then the console's by name.
pub type Tenants = Arc<Vec<TenantConfig>>;

/// How often the store's connectors are read again.
pub const REFRESH: Duration = Duration::from_secs(3);

/// The file's tenants and the active console-made ones whose credential opens; a connector that
/// cannot be used is left out, with its reason in `problems` (by name).
fn combine(
    file: &[TenantConfig],
    stored: &[StoredConnector],
    sealer: &Sealer,
    problems: &mut HashMap<String, String>,
) -> Vec<TenantConfig> {
    let mut out = file.to_vec();
    for c in stored.iter().filter(|c| c.phase == ConnectorPhase::Active) {
        if file.iter().any(|t| t.name.eq_ignore_ascii_case(&c.name)) {
            problems.insert(
                c.name.clone(),
                "the configuration file has a tenant of the same name, which wins; disconnect this one or rename the file's".into(),
            );
            continue;
        }
        match skylight_m365::stored::tenant_config(c, sealer) {
            Ok(t) => out.push(t),
            Err(why) => {
                problems.insert(c.name.clone(), why);
            }
        }
    }
    out
}

/// Reads the tenants once.
pub async fn current(
    file: &[TenantConfig],
    store: &Arc<dyn Store>,
    sealer: &Sealer,
) -> anyhow::Result<Vec<TenantConfig>> {
    let stored = crate::directory_cmd::on_store(store, |s| s.connectors()).await?;
    let mut problems = HashMap::new();
    let tenants = combine(file, &stored, sealer, &mut problems);
    for (name, why) in problems {
        tracing::warn!(connector = %name, "connector not collected: {why}");
    }
    Ok(tenants)
}

/// Whether there is any tenant to work for: one in the file or an active connector (its
/// credential need not open here).
pub async fn any(file: &[TenantConfig], store: &Arc<dyn Store>) -> bool {
    !file.is_empty()
        || crate::directory_cmd::on_store(store, |s| s.connectors())
            .await
            .is_ok_and(|c| c.iter().any(|c| c.phase == ConnectorPhase::Active))
}

/// Watches the tenants: the receiver holds the current list and changes when it does. A store
/// that cannot be read keeps the last list (and logs why).
pub fn watch(
    file: Vec<TenantConfig>,
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
) -> watch::Receiver<Tenants> {
    let (tx, rx) = watch::channel(Arc::new(file.clone()));
    tokio::spawn(async move {
        let mut reported: HashMap<String, String> = HashMap::new();
        loop {
            match crate::directory_cmd::on_store(&store, |s| s.connectors()).await {
                Ok(stored) => {
                    let mut problems = HashMap::new();
                    let tenants = combine(&file, &stored, &sealer, &mut problems);
                    // Each problem is logged once, not every round.
                    for (name, why) in &problems {
                        if reported.get(name) != Some(why) {
                            tracing::warn!(connector = %name, "connector not collected: {why}");
                        }
                    }
                    reported = problems;
                    let changed = **tx.borrow() != tenants;
                    if changed && tx.send(Arc::new(tenants)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the connectors; keeping the last list")
                }
            }
            tokio::time::sleep(REFRESH).await;
        }
    });
    rx
}

/// Keeps a governor's Graph clients in step with the tenants, so that governance actions on a
/// tenant connected in the console work, and on a disconnected one are refused.
pub fn keep_governor(
    governor: Arc<skylight_govern::Governor>,
    mut tenants: watch::Receiver<Tenants>,
) {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        let mut known: HashMap<String, TenantConfig> = HashMap::new();
        loop {
            let now = tenants.borrow_and_update().clone();
            for gone in known
                .keys()
                .filter(|n| !now.iter().any(|t| &t.name == *n))
                .cloned()
                .collect::<Vec<_>>()
            {
                governor.remove_tenant(&gone);
                known.remove(&gone);
            }
            for t in now.iter() {
                if known.get(&t.name) != Some(t) {
                    governor.set_tenant(
                        &t.name,
                        crate::directory_cmd::graph_client(&http, t),
                        t.quarantine_site.clone(),
                    );
                    governor.set_notify_sender(&t.name, t.notify_sender.clone());
                    known.insert(t.name.clone(), t.clone());
                }
            }
            if tenants.changed().await.is_err() {
                return;
            }
        }
    });
}
