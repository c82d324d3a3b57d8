//! The SharePoint and OneDrive file inventory (the files component): items, who they are shared
//! with, and the access level Skylight derives from that.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who can reach a file, as Defender for Cloud Apps grades it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Only its owner.
    #[default]
    Private,
    /// People of the organisation (shared with them, an organisation link, or a SharePoint
    /// library whose site members reach it).
    Internal,
    /// Someone outside the organisation: a guest or an outside address.
    External,
    /// Anyone with the link (an anonymous link).
    Public,
}

impl AccessLevel {
    /// Every level, least exposed first.
    pub const ALL: [AccessLevel; 4] = [
        AccessLevel::Private,
        AccessLevel::Internal,
        AccessLevel::External,
        AccessLevel::Public,
    ];

    /// The identifier used in the store, filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Private => "private",
            AccessLevel::Internal => "internal",
            AccessLevel::External => "external",
            AccessLevel::Public => "public",
        }
    }

    /// Reads an identifier, case-insensitively.
    pub fn parse(s: &str) -> Option<AccessLevel> {
        AccessLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One way a file is shared: a person, a group or a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collaborator {
    /// Graph's permission id (what removing it deletes).
    pub permission_id: String,
    /// `user`, `group`, `link`.
    pub kind: String,
    /// Mail address or name; for a link, its scope (`anonymous`, `organization`, `users`).
    pub who: String,
    /// `read`, `write`, `owner`, … as Graph gives them.
    pub roles: Vec<String>,
    /// Outside the organisation (a guest, an outside address, or an anonymous link).
    pub external: bool,
    /// Inherited from a parent folder: removed there, not here.
    pub inherited: bool,
}

/// A file or folder of a SharePoint library or OneDrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileItem {
    /// The tenant.
    pub tenant: String,
    /// The drive (library) id.
    pub drive_id: String,
    /// The item id.
    pub id: String,
    /// File or folder name.
    pub name: String,
    /// Path below the library root (`/Finance/Q3.xlsx`).
    pub path: String,
    /// The parent folder's item id (`None` for the root).
    pub parent_id: Option<String>,
    /// A folder.
    pub folder: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last modified.
    pub modified: Option<DateTime<Utc>>,
    /// The owner's mail or UPN (the drive's owner for OneDrive; the creator for a library item).
    pub owner: Option<String>,
    /// Web address.
    pub web_url: Option<String>,
    /// The library's name (`Documents`), its URL path segment (`Shared Documents`), and whether
    /// it is a OneDrive (`business`) or a SharePoint library (`documentLibrary`).
    pub library: String,
    /// The library's URL path segment (`Shared Documents`, `Documents`, `Freigegebene Dokumente`).
    pub library_path: String,
    /// `business` (OneDrive) or `documentLibrary` (SharePoint).
    pub drive_type: String,
    /// The site's address.
    pub site_url: Option<String>,
    /// Who can reach it.
    pub access: AccessLevel,
    /// Who it is shared with, own and inherited.
    pub collaborators: Vec<Collaborator>,
    /// Domains outside the organisation it is shared with.
    pub external_domains: Vec<String>,
    /// When Skylight last saw a change of it.
    pub synced: DateTime<Utc>,
}

impl FileItem {
    /// The extension, lowercase, without the dot (`xlsx`), if any.
    pub fn extension(&self) -> Option<String> {
        let (stem, ext) = self.name.rsplit_once('.')?;
        (!stem.is_empty() && !self.folder).then(|| ext.to_ascii_lowercase())
    }
}
