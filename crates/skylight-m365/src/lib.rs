//! Skylight's Microsoft 365 connector: configuration, the identity platform (client secret and
//! certificate credentials), the Office 365 Management Activity API collector, and Microsoft
//! Graph: directory and app sync and the governance calls.
//!
//! It is written from Microsoft's published contract and shares nothing with the simulator.

pub mod activity;
pub mod auth;
pub mod cloud;
pub mod collector;
pub mod config;
pub mod connect;
pub mod graph;
pub mod health;
pub mod import;
pub mod remediation;
pub mod split;
pub mod stored;

/// Runs a store call on the blocking pool (SQLite blocks), for async code of the connector and
/// those built on it.
pub async fn on_store<T, F>(
    store: &std::sync::Arc<dyn skylight_store::Store>,
    f: F,
) -> Result<T, skylight_store::StoreError>
where
    T: Send + 'static,
    F: FnOnce(&dyn skylight_store::Store) -> Result<T, skylight_store::StoreError> + Send + 'static,
{
    let store = std::sync::Arc::clone(store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| skylight_store::StoreError::Corrupt(format!("store task failed: {e}")))?
}
