//! The activity: one model for every audit record of every Microsoft 365 service, what the
//! activity log shows and what policies are written against.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The Microsoft 365 service an activity happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum App {
    /// Exchange Online (mailboxes, admin cmdlets, mail flow).
    Exchange,
    /// SharePoint Online.
    SharePoint,
    /// OneDrive for Business.
    OneDrive,
    /// Microsoft Teams.
    Teams,
    /// Microsoft Entra ID (Azure AD): sign-ins and directory changes.
    EntraId,
    /// Power BI.
    PowerBi,
    /// Dynamics 365 (CRM, Business Central).
    Dynamics365,
    /// Power Automate (Flow).
    PowerAutomate,
    /// Power Apps and the Power Platform.
    PowerApps,
    /// Microsoft Forms.
    Forms,
    /// Microsoft Stream.
    Stream,
    /// Viva Engage (Yammer).
    VivaEngage,
    /// Microsoft Purview: DLP, labels, retention, eDiscovery, audit, insider risk.
    Purview,
    /// Microsoft Defender and Security & Compliance: alerts, threat intelligence, investigations.
    Defender,
    /// Microsoft 365 Copilot and other AI apps.
    Copilot,
    /// Planner.
    Planner,
    /// Project (for the web) and Project Online.
    Project,
    /// Skype for Business.
    SkypeForBusiness,
    /// Microsoft Viva (Insights, Learning, Pulse, Glint, Goals, Amplify).
    Viva,
    /// Microsoft Sentinel.
    Sentinel,
    /// Microsoft Fabric.
    Fabric,
    /// Microsoft To Do.
    ToDo,
    /// Windows and devices (Windows 365, Universal Print, device discovery, updates).
    Windows,
    /// Office apps and other Microsoft 365 services.
    Microsoft365,
    /// A RecordType Skylight does not know yet.
    Unknown,
}

impl App {
    /// Every app, in display order (new ones are only ever appended: stores keep positions as
    /// codes).
    pub const ALL: [App; 25] = [
        App::Exchange,
        App::SharePoint,
        App::OneDrive,
        App::Teams,
        App::EntraId,
        App::PowerBi,
        App::Dynamics365,
        App::PowerAutomate,
        App::PowerApps,
        App::Forms,
        App::Stream,
        App::VivaEngage,
        App::Purview,
        App::Defender,
        App::Copilot,
        App::Planner,
        App::Project,
        App::SkypeForBusiness,
        App::Viva,
        App::Sentinel,
        App::Fabric,
        App::ToDo,
        App::Windows,
        App::Microsoft365,
        App::Unknown,
    ];

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            App::Exchange => "Exchange Online",
            App::SharePoint => "SharePoint Online",
            App::OneDrive => "OneDrive for Business",
            App::Teams => "Microsoft Teams",
            App::EntraId => "Microsoft Entra ID",
            App::PowerBi => "Power BI",
            App::Dynamics365 => "Dynamics 365",
            App::PowerAutomate => "Power Automate",
            App::PowerApps => "Power Apps",
            App::Forms => "Microsoft Forms",
            App::Stream => "Microsoft Stream",
            App::VivaEngage => "Viva Engage (Yammer)",
            App::Purview => "Microsoft Purview",
            App::Defender => "Microsoft Defender",
            App::Copilot => "Microsoft Copilot",
            App::Planner => "Microsoft Planner",
            App::Project => "Microsoft Project",
            App::SkypeForBusiness => "Skype for Business",
            App::Viva => "Microsoft Viva",
            App::Sentinel => "Microsoft Sentinel",
            App::Fabric => "Microsoft Fabric",
            App::ToDo => "Microsoft To Do",
            App::Windows => "Windows and devices",
            App::Microsoft365 => "Microsoft 365",
            App::Unknown => "Unknown",
        }
    }

    /// The stable identifier used in filters and JSON (`entra-id`, `power-bi`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            App::Exchange => "exchange",
            App::SharePoint => "share-point",
            App::OneDrive => "one-drive",
            App::Teams => "teams",
            App::EntraId => "entra-id",
            App::PowerBi => "power-bi",
            App::Dynamics365 => "dynamics365",
            App::PowerAutomate => "power-automate",
            App::PowerApps => "power-apps",
            App::Forms => "forms",
            App::Stream => "stream",
            App::VivaEngage => "viva-engage",
            App::Purview => "purview",
            App::Defender => "defender",
            App::Copilot => "copilot",
            App::Planner => "planner",
            App::Project => "project",
            App::SkypeForBusiness => "skype-for-business",
            App::Viva => "viva",
            App::Sentinel => "sentinel",
            App::Fabric => "fabric",
            App::ToDo => "to-do",
            App::Windows => "windows",
            App::Microsoft365 => "microsoft365",
            App::Unknown => "unknown",
        }
    }
}

/// A stable action category over Microsoft's many operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A sign-in (successful or not).
    Login,
    /// A sign-out.
    Logout,
    /// A file or page read, previewed or synced down.
    FileAccess,
    /// A file downloaded.
    FileDownload,
    /// A file uploaded or created.
    FileUpload,
    /// A file changed, renamed, moved or copied.
    FileModify,
    /// A file, folder or item deleted or recycled.
    FileDelete,
    /// Sharing: links, invitations, permissions on files and sites.
    FileShare,
    /// Mail sent (including send as / on behalf).
    MailSend,
    /// Mailbox items read, searched or accessed.
    MailAccess,
    /// Mailbox items moved, deleted or changed.
    MailModify,
    /// Inbox rules and forwarding.
    MailboxRule,
    /// Mailbox permissions and delegation.
    MailboxPermission,
    /// Users created, changed, deleted, passwords and licences.
    UserManagement,
    /// Groups and memberships.
    GroupManagement,
    /// Admin roles assigned or removed.
    RoleChange,
    /// Consent to an application, app or service principal changes.
    AppConsent,
    /// Security and authentication policy changes (MFA, conditional access, …).
    PolicyChange,
    /// Tenant or service configuration.
    AdminSettings,
    /// Searches (audit, eDiscovery, content).
    Search,
    /// Data loss prevention matches and label actions.
    Dlp,
    /// Security alerts and investigations.
    Alert,
    /// Messages, meetings, chats and channels.
    Collaboration,
    /// Reports, dashboards and data exports.
    Report,
    /// AI and Copilot interactions.
    AiInteraction,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category (new ones are only ever appended: stores keep positions as codes).
    pub const ALL: [Category; 26] = [
        Category::Login,
        Category::Logout,
        Category::FileAccess,
        Category::FileDownload,
        Category::FileUpload,
        Category::FileModify,
        Category::FileDelete,
        Category::FileShare,
        Category::MailSend,
        Category::MailAccess,
        Category::MailModify,
        Category::MailboxRule,
        Category::MailboxPermission,
        Category::UserManagement,
        Category::GroupManagement,
        Category::RoleChange,
        Category::AppConsent,
        Category::PolicyChange,
        Category::AdminSettings,
        Category::Search,
        Category::Dlp,
        Category::Alert,
        Category::Collaboration,
        Category::Report,
        Category::AiInteraction,
        Category::Other,
    ];

    /// The stable identifier used in filters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Login => "login",
            Category::Logout => "logout",
            Category::FileAccess => "file_access",
            Category::FileDownload => "file_download",
            Category::FileUpload => "file_upload",
            Category::FileModify => "file_modify",
            Category::FileDelete => "file_delete",
            Category::FileShare => "file_share",
            Category::MailSend => "mail_send",
            Category::MailAccess => "mail_access",
            Category::MailModify => "mail_modify",
            Category::MailboxRule => "mailbox_rule",
            Category::MailboxPermission => "mailbox_permission",
            Category::UserManagement => "user_management",
            Category::GroupManagement => "group_management",
            Category::RoleChange => "role_change",
            Category::AppConsent => "app_consent",
            Category::PolicyChange => "policy_change",
            Category::AdminSettings => "admin_settings",
            Category::Search => "search",
            Category::Dlp => "dlp",
            Category::Alert => "alert",
            Category::Collaboration => "collaboration",
            Category::Report => "report",
            Category::AiInteraction => "ai_interaction",
            Category::Other => "other",
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A member user.
    User,
    /// An administrator acting as one.
    Admin,
    /// A guest or external user.
    External,
    /// Microsoft's own services and system accounts.
    System,
    /// An application or service principal.
    Application,
    /// Not said in the record.
    Unknown,
}

/// The actor of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// User principal name, or the record's `UserId` as given.
    pub name: Option<String>,
    /// Object id (Entra GUID, PUID or SID), when the record carries one.
    pub id: Option<String>,
    /// What kind of actor.
    pub kind: ActorKind,
    /// The mailbox or account acted upon on someone else's behalf (delegate access, send as).
    pub impersonating: Option<String>,
}

/// What an activity touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A file or list item.
    File,
    /// A folder.
    Folder,
    /// A site or web.
    Site,
    /// A mailbox.
    Mailbox,
    /// A mail item.
    MailItem,
    /// A group or team.
    Group,
    /// An application or service principal.
    App,
    /// A user.
    User,
    /// A role.
    Role,
    /// A policy.
    Policy,
    /// Anything else.
    Other,
}

/// One object of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityObject {
    /// Its kind.
    pub kind: ObjectKind,
    /// Its id (GUID, URL, path).
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
}

/// Whether the action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did.
    Success,
    /// It did not.
    Failure,
    /// The record does not say.
    Unknown,
}

/// An audit record, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The audit record's `Id`.
    pub id: String,
    /// `CreationTime`.
    pub time: Option<DateTime<Utc>>,
    /// The record's `OrganizationId` (the tenant's GUID).
    pub organization_id: Option<String>,
    /// The service.
    pub app: App,
    /// `RecordType` number.
    pub record_type: Option<i64>,
    /// `RecordType` name (`Unknown` for a number not documented).
    pub record_type_name: String,
    /// `Workload` as given.
    pub workload: Option<String>,
    /// `Operation` as given (Microsoft's activity name).
    pub operation: String,
    /// The stable category of the operation.
    pub category: Category,
    /// Who acted.
    pub actor: Actor,
    /// Client IP, port and brackets stripped.
    pub ip: Option<IpAddr>,
    /// Client port, when the record gave one.
    pub port: Option<u16>,
    /// The client IP field as given, when it is not an address (kept, never dropped).
    pub ip_text: Option<String>,
    /// User agent or client string.
    pub user_agent: Option<String>,
    /// Device name or platform, when the record says.
    pub device: Option<String>,
    /// What was touched.
    pub objects: Vec<ActivityObject>,
    /// Success or failure.
    pub outcome: Outcome,
    /// Why it failed, when it did and the record says.
    pub failure_reason: Option<String>,
    /// An administrative activity (admin cmdlets, directory and tenant changes).
    pub admin: bool,
    /// The actor is external to the tenant (guest or another organisation).
    pub external_user: bool,
    /// Someone acted on a mailbox or account other than their own.
    pub impersonated: bool,
    /// Name/Value arrays and stringified JSON, flattened to `Field.Name` (and `.NewValue` /
    /// `.OldValue` for modified properties) → value text, for filters.
    pub properties: BTreeMap<String, String>,
}

/// The normalised fields the store keeps as columns beside the record's own (the activity log
/// filters on them without reading the raw record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityColumns {
    /// The service.
    pub app: App,
    /// The stable category.
    pub category: Category,
    /// Who acted.
    pub actor_kind: ActorKind,
    /// Success or failure.
    pub outcome: Outcome,
    /// An administrative activity.
    pub admin: bool,
    /// The actor is external.
    pub external_user: bool,
    /// Someone acted on another's mailbox or account.
    pub impersonated: bool,
    /// User agent or client string.
    pub user_agent: Option<String>,
    /// Where the client address is and whose network it is, and what the user agent says
    /// (filled by enrichment).
    pub enrichment: Option<Enrichment>,
}

/// What enrichment adds to an activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// Country (ISO 3166-1 alpha-2) of the client address.
    pub country: Option<String>,
    /// City of the client address.
    pub city: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The network's organisation (ISP, hosting provider).
    pub isp: Option<String>,
    /// Named ranges holding the address: `category|name:…|tag:…`.
    pub ip_tags: Option<String>,
    /// Device kind (desktop, mobile, tablet, script, service).
    pub device_type: Option<String>,
    /// Browser or client application.
    pub client_app: Option<String>,
    /// Operating system.
    pub os: Option<String>,
}

/// An activity as the activity log lists it: the stored columns of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The audit record's `Id`.
    pub id: String,
    /// The tenant (its name in the configuration).
    pub tenant: String,
    /// `CreationTime`.
    pub time: Option<DateTime<Utc>>,
    /// The service (`None` for records stored without normalising).
    pub app: Option<App>,
    /// `RecordType` number.
    pub record_type: Option<i64>,
    /// `Workload`.
    pub workload: Option<String>,
    /// `Operation`.
    pub operation: Option<String>,
    /// The action category.
    pub category: Option<Category>,
    /// The actor (`UserId`).
    pub user: Option<String>,
    /// The actor's kind.
    pub actor_kind: Option<ActorKind>,
    /// The client address.
    pub ip: Option<String>,
    /// Success or failure.
    pub result: Option<Outcome>,
    /// An administrative activity.
    pub admin: bool,
    /// The actor is external.
    pub external_user: bool,
    /// Impersonation.
    pub impersonated: bool,
    /// User agent.
    pub user_agent: Option<String>,
    /// Country of the client address.
    pub country: Option<String>,
    /// The client network's organisation.
    pub isp: Option<String>,
    /// Named ranges holding the client address.
    pub ip_tags: Option<String>,
    /// Device kind.
    pub device_type: Option<String>,
    /// Browser or client application.
    pub client_app: Option<String>,
    /// Operating system.
    pub os: Option<String>,
}
