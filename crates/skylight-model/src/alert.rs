//! Alerts: what detection raises, and what an analyst does with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How bad it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Informational,
    /// Look when there is time.
    Low,
    /// Look today.
    #[default]
    Medium,
    /// Look now.
    High,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    /// The identifier used in files, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Reads an identifier, case-insensitively.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where an alert stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Nobody has looked yet.
    #[default]
    Open,
    /// Someone is on it.
    InProgress,
    /// Closed after handling (with a resolution).
    Resolved,
    /// Closed as not worth handling.
    Dismissed,
}

impl AlertStatus {
    /// Every status.
    pub const ALL: [AlertStatus; 4] = [
        AlertStatus::Open,
        AlertStatus::InProgress,
        AlertStatus::Resolved,
        AlertStatus::Dismissed,
    ];

    /// The identifier used in files, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::InProgress => "in_progress",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Dismissed => "dismissed",
        }
    }

    /// Reads an identifier, case-insensitively (`in-progress` too).
    pub fn parse(s: &str) -> Option<AlertStatus> {
        let s = s.trim().replace('-', "_");
        AlertStatus::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(&s))
    }
}

/// What a closed alert turned out to be (Defender XDR's classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A real incident.
    TruePositive,
    /// Real, but expected or harmless (a test, a known traveller).
    Benign,
    /// The detection was wrong.
    FalsePositive,
}

impl Resolution {
    /// Every resolution.
    pub const ALL: [Resolution; 3] = [
        Resolution::TruePositive,
        Resolution::Benign,
        Resolution::FalsePositive,
    ];

    /// The identifier used in files, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::TruePositive => "true_positive",
            Resolution::Benign => "benign",
            Resolution::FalsePositive => "false_positive",
        }
    }

    /// Reads an identifier, case-insensitively (`true-positive` too).
    pub fn parse(s: &str) -> Option<Resolution> {
        let s = s.trim().replace('-', "_");
        Resolution::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(&s))
    }
}

/// An alert as detection writes it: one per incident, rewritten as the incident grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDraft {
    /// The incident's identity: the same key updates the same alert.
    pub key: String,
    /// The tenant.
    pub tenant: String,
    /// The policy or detection that raised it (its id).
    pub policy: String,
    /// `activity`, `anomaly` or `sigma`.
    pub kind: String,
    /// One line for the queue.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// The risk category (threat_detection, privileged_accounts, sharing_control, …).
    pub category: String,
    /// Recorded as a signal for investigation, not raised in the queue.
    pub signal_only: bool,
    /// Users involved (UPNs, lowercase).
    pub users: Vec<String>,
    /// Client addresses involved.
    pub ips: Vec<String>,
    /// Countries involved (ISO codes).
    pub countries: Vec<String>,
    /// Record Ids of the matched activities (the first ones, when there are very many).
    pub activity_ids: Vec<String>,
    /// How many activities matched in all.
    pub activity_count: u64,
    /// Why: facts a person can check ("first sign-in from BR; last from FR 40 minutes earlier,
    /// 9,400 km").
    pub facts: Vec<String>,
    /// The first matched activity's time.
    pub first: DateTime<Utc>,
    /// The last matched activity's time.
    pub last: DateTime<Utc>,
}

/// A comment on an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertComment {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub author: String,
    /// What.
    pub text: String,
}

/// A stored alert: the draft, plus its id and triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's number.
    pub id: i64,
    /// What detection wrote.
    #[serde(flatten)]
    pub draft: AlertDraft,
    /// Triage state.
    pub status: AlertStatus,
    /// How it was closed.
    pub resolution: Option<Resolution>,
    /// When it was first raised.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub updated: DateTime<Utc>,
    /// Analysts' comments, oldest first.
    pub comments: Vec<AlertComment>,
}
