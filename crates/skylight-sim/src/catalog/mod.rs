//! What Microsoft publishes: content types, and every documented audit RecordType with the
//! workload, content type, operations and schema family the generator uses for it.

mod record_types;

pub use record_types::RECORD_TYPES;

/// The five content types of the Office 365 Management Activity API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`
    AzureActiveDirectory,
    /// `Audit.Exchange`
    Exchange,
    /// `Audit.SharePoint`
    SharePoint,
    /// `Audit.General`
    General,
    /// `DLP.All`
    Dlp,
}

impl ContentType {
    /// Every content type, in the order Microsoft's reference lists them.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::Dlp,
    ];

    /// The content type's name on the wire, e.g. `Audit.Exchange`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::Dlp => "DLP.All",
        }
    }

    /// Parses a content type case-insensitively, as the service does.
    pub fn parse(s: &str) -> Option<ContentType> {
        ContentType::ALL
            .into_iter()
            .find(|ct| ct.as_str().eq_ignore_ascii_case(s))
    }

    /// A small stable number, used inside content ids and seeds.
    pub fn index(self) -> u64 {
        match self {
            ContentType::AzureActiveDirectory => 0,
            ContentType::Exchange => 1,
            ContentType::SharePoint => 2,
            ContentType::General => 3,
            ContentType::Dlp => 4,
        }
    }
}

/// Which record builder shapes a RecordType's fields (see `crate::records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// RecordType 1: Exchange admin cmdlets (`Parameters` Name/Value array).
    ExchangeAdmin,
    /// RecordType 2: single mailbox item actions.
    ExchangeItem,
    /// RecordType 3: actions on several mailbox items.
    ExchangeItemGroup,
    /// RecordType 50 (and 19): aggregated mailbox access such as MailItemsAccessed.
    ExchangeItemAggregated,
    /// RecordType 4: SharePoint site and page events.
    SharePointBase,
    /// RecordType 6 (and 7): SharePoint/OneDrive file operations.
    SharePointFile,
    /// RecordType 14: sharing operations.
    SharePointSharing,
    /// RecordTypes 36, 37, 54, 55, 56: list, comment, list item, content type and field operations.
    SharePointList,
    /// RecordType 8: Entra ID directory changes (`Actor`/`Target`, `ModifiedProperties`).
    EntraDirectory,
    /// RecordType 15: Entra ID sign-ins (`UserLoggedIn` / `UserLoginFailed`).
    EntraStsLogon,
    /// RecordType 9 (deprecated): account logon.
    EntraAccountLogon,
    /// RecordType 25 and other Teams types.
    Teams,
    /// RecordType 20: Power BI (`OperationProperties` stringified).
    PowerBi,
    /// RecordType 21: Dynamics 365.
    Crm,
    /// RecordTypes 11, 13, 33, 63, 107 …: DLP rule matches.
    Dlp,
    /// RecordType 40: Security & Compliance alerts (`Data` stringified).
    ComplianceAlert,
    /// RecordType 66: Microsoft Forms.
    Forms,
    /// RecordType 32: Microsoft Stream.
    Stream,
    /// RecordType 22: Yammer / Viva Engage.
    Yammer,
    /// RecordTypes 28, 41, 47, 64 …: Defender for Office 365 / threat intelligence.
    ThreatIntelligence,
    /// RecordType 65: quarantine.
    Quarantine,
    /// Power Automate, Power Apps and other workloads with only the common schema documented.
    Generic,
}

/// One documented audit RecordType and how the simulator generates it.
#[derive(Debug, Clone, Copy)]
pub struct RecordTypeInfo {
    /// The `RecordType` number.
    pub value: i32,
    /// The AuditLogRecordType member name, e.g. `SharePointFileOperation`.
    pub name: &'static str,
    /// The content type whose blobs carry it.
    pub content_type: ContentType,
    /// The `Workload` field value.
    pub workload: &'static str,
    /// Which builder shapes its fields.
    pub family: Family,
    /// Operation names it is generated with (at least one).
    pub operations: &'static [&'static str],
    /// Records per 100 users per working day; 0 means it appears only in the daily coverage sweep.
    pub weight: u32,
}

/// Looks up a RecordType by number.
pub fn record_type(value: i32) -> Option<&'static RecordTypeInfo> {
    RECORD_TYPES.iter().find(|t| t.value == value)
}

/// The record types a content type carries, in table order.
pub fn types_of(ct: ContentType) -> impl Iterator<Item = &'static RecordTypeInfo> {
    RECORD_TYPES.iter().filter(move |t| t.content_type == ct)
}
