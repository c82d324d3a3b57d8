//! Skylight's data model: what flows from the connector into the store and on to detection.
//!
//! This crate knows nothing of storage, HTTP or Microsoft's wire formats beyond the names of the
//! content types; it is the bottom of the house.

pub mod access;
mod activity;
mod alert;
mod collection;
mod directory;
mod files;
pub mod filter;
mod governance;
mod notification;
mod record;

pub use access::{Account, AccountChange, ApiToken, AuditEntry, Role, SavedQuery, Session};
pub use activity::{
    Activity, ActivityColumns, ActivityObject, ActivityRow, Actor, ActorKind, App, Category,
    Enrichment, ObjectKind, Outcome,
};
pub use alert::{Alert, AlertComment, AlertDraft, AlertStatus, Resolution, Severity};
pub use collection::{BlobRef, CommitStats, ConnectorState, ConnectorStatus, Gap, LedgerDay};
pub use directory::{
    AppGrant, AppReview, AppRoleGrant, DirectoryGroup, DirectorySyncStatus, DirectoryUser,
    GroupKind, GroupMember, HIGH_PRIVILEGE_SCOPES, OAuthApp, PermissionLevel, permission_level,
};
pub use files::{AccessLevel, Collaborator, FileItem};
pub use governance::{ActionKind, ActionStatus, ActionStep, GovernanceEntry, TargetKind};
pub use notification::{Delivery, DeliveryStatus};
pub use record::{AuditRecord, ParseError, RecordColumns, parse_creation_time};

use serde::{Deserialize, Serialize};

/// The five content types of the Office 365 Management Activity API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// Entra ID sign-ins and directory changes.
    #[serde(rename = "Audit.AzureActiveDirectory")]
    AzureActiveDirectory,
    /// Exchange admin and mailbox audit.
    #[serde(rename = "Audit.Exchange")]
    Exchange,
    /// SharePoint and OneDrive.
    #[serde(rename = "Audit.SharePoint")]
    SharePoint,
    /// Every other workload (Teams, Power BI, Dynamics, Forms, …).
    #[serde(rename = "Audit.General")]
    General,
    /// DLP events of all workloads.
    #[serde(rename = "DLP.All")]
    Dlp,
}

impl ContentType {
    /// Every content type.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::Dlp,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::Dlp => "DLP.All",
        }
    }

    /// Parses a name case-insensitively.
    pub fn parse(s: &str) -> Option<ContentType> {
        ContentType::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
