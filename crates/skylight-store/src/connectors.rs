//! Connectors made in the console: a tenant's settings and its credential, sealed
//! ([`crate::seal`]). Connectors written in the configuration file are not stored here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skylight_model::ContentType;

/// Where a console-made connector is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorPhase {
    /// Being set up in the connect wizard: not collected yet.
    Draft,
    /// Connected: collected, synced and governed.
    Active,
    /// Paused by an administrator: nothing is collected; what was collected stays, and
    /// collection resumes where it stopped.
    Paused,
}

impl ConnectorPhase {
    /// `draft`, `active` or `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorPhase::Draft => "draft",
            ConnectorPhase::Active => "active",
            ConnectorPhase::Paused => "paused",
        }
    }

    /// The phase named by [`ConnectorPhase::as_str`].
    pub fn parse(s: &str) -> Option<ConnectorPhase> {
        match s {
            "draft" => Some(ConnectorPhase::Draft),
            "active" => Some(ConnectorPhase::Active),
            "paused" => Some(ConnectorPhase::Paused),
            _ => None,
        }
    }
}

/// How a connector proves its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A client secret (sealed).
    Secret,
    /// A certificate (public, kept as is) and its private key (sealed).
    Certificate,
}

impl CredentialKind {
    /// `secret` or `certificate`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Secret => "secret",
            CredentialKind::Certificate => "certificate",
        }
    }

    /// The kind named by [`CredentialKind::as_str`].
    pub fn parse(s: &str) -> Option<CredentialKind> {
        match s {
            "secret" => Some(CredentialKind::Secret),
            "certificate" => Some(CredentialKind::Certificate),
            _ => None,
        }
    }
}

/// A Microsoft 365 connector made in the console. Its `Debug` leaves the sealed credential out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct StoredConnector {
    /// The connector's name, unique among connectors (also those of the configuration file); the
    /// tenant name its records, statuses and alerts carry.
    pub name: String,
    /// The tenant: its GUID or a verified domain.
    pub tenant_id: String,
    /// The app registration's Application (client) ID.
    pub client_id: String,
    /// The cloud (`commercial`, `gcc`, `gcc-high`, `dod`, `china`).
    pub cloud: String,
    /// How the app signs in.
    pub credential_kind: CredentialKind,
    /// The certificate (PEM) of a certificate credential. Public.
    pub certificate_pem: Option<String>,
    /// The client secret or the certificate's private key, sealed; empty while a draft has none.
    #[serde(skip)]
    pub sealed_credential: Vec<u8>,
    /// Overrides the cloud's login authority (e.g. the simulator).
    pub login_url: Option<String>,
    /// Overrides the cloud's Management Activity API host.
    pub manage_url: Option<String>,
    /// Overrides the cloud's Microsoft Graph host.
    pub graph_url: Option<String>,
    /// The activities component: audit records.
    pub activities: bool,
    /// The files component: the SharePoint and OneDrive inventory (needs activities).
    pub files: bool,
    /// The content types collected.
    pub content_types: Vec<ContentType>,
    /// Draft, active or paused.
    pub phase: ConnectorPhase,
    /// The last connection test, as the console wrote it (JSON, opaque to the store).
    pub last_test: Option<String>,
    /// When the connector was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed it (a console account or token name).
    pub updated_by: String,
}

impl std::fmt::Debug for StoredConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredConnector")
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("cloud", &self.cloud)
            .field("credential_kind", &self.credential_kind)
            .field(
                "sealed_credential",
                &format_args!("[{} bytes]", self.sealed_credential.len()),
            )
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// The content types as stored: their names, comma-separated.
pub(crate) fn content_types_text(types: &[ContentType]) -> String {
    types
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The columns both backends store, read back: phase, credential kind and content types.
pub(crate) fn read_enums(
    phase: &str,
    kind: &str,
    types: &str,
) -> Result<(ConnectorPhase, CredentialKind, Vec<ContentType>), crate::StoreError> {
    let corrupt =
        |what: &str, v: &str| crate::StoreError::Corrupt(format!("connector {what} `{v}`"));
    let phase = ConnectorPhase::parse(phase).ok_or_else(|| corrupt("phase", phase))?;
    let kind = CredentialKind::parse(kind).ok_or_else(|| corrupt("credential kind", kind))?;
    let types = types
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| ContentType::parse(t).ok_or_else(|| corrupt("content type", t)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((phase, kind, types))
}
