//! Notifications: the delivery of alert changes to channels (webhooks, syslog), as logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its first attempt or for a retry.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Every attempt failed; the last error says why.
    Failed,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];

    /// The identifier used in the store, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads an identifier, case-insensitively.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One alert change for one channel: a row of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The row's number.
    pub id: i64,
    /// The alert.
    pub alert_id: i64,
    /// The change delivered: the alert's `updated` time when it was queued.
    pub change: DateTime<Utc>,
    /// The channel's name in the configuration.
    pub channel: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last failed attempt's error (kept after a later success).
    pub last_error: Option<String>,
    /// When the last attempt was made.
    pub last_attempt: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt: Option<DateTime<Utc>>,
    /// When the channel accepted it.
    pub delivered: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created: DateTime<Utc>,
}
