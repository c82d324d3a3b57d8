//! Skylight's notifications: alert changes delivered to webhooks (the alert's JSON, signed) and
//! to syslog receivers (CEF lines, as Defender for Cloud Apps' SIEM agent writes them).
//!
//! The notifier reads the alerts' changes from the store (`updated_after`, from a cursor kept
//! in the store), queues one delivery per change and channel in the store's delivery log, and
//! works the due ones with exponential backoff until each is `delivered` or, after the last
//! attempt, `failed` with its error. Queued deliveries survive a restart; nothing is dropped
//! without a trace in the log.

pub mod cef;
mod config;
mod notifier;
mod syslog;
pub mod webhook;

use std::time::Duration;

pub use config::{
    Channel, ConfigError, DEFAULT_PORTAL_URL, Framing, Notifications, NotifyConfig, Protocol,
    RetryPolicy, Secret, Syslog, SyslogConfig, Target, Webhook, WebhookConfig,
};
pub use notifier::{Notifier, NotifierHandle, NotifierOptions, Totals};

/// Why the notifier could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] skylight_store::StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// A task of the notifier panicked or was cancelled.
    #[error("a notifier task failed: {0}")]
    Task(String),
    /// An alert could not be encoded.
    #[error("cannot encode alert {0}: {1}")]
    Encode(i64, String),
}

/// A failed attempt: why, and how long the receiver asked to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// What went wrong (never a secret or a webhook URL).
    pub error: String,
    /// A `Retry-After` the receiver sent.
    pub retry_after: Option<Duration>,
}
