//! OAuth applications users and admins have consented to.

/// A third-party or first-party application known to the tenant.
#[derive(Debug)]
pub struct AppTemplate {
    /// Display name.
    pub name: &'static str,
    /// Publisher name.
    pub publisher: &'static str,
    /// Whether the publisher is verified.
    pub verified: bool,
    /// Delegated scopes users granted.
    pub scopes: &'static str,
    /// Application permissions (app roles) granted by an admin.
    pub app_roles: &'static [&'static str],
}

/// Applications the generated tenant has service principals for.
pub static APPS: &[AppTemplate] = &[
    AppTemplate {
        name: "Zoom",
        publisher: "Zoom Video Communications",
        verified: true,
        scopes: "openid profile email offline_access User.Read Calendars.ReadWrite",
        app_roles: &[],
    },
    AppTemplate {
        name: "Slack",
        publisher: "Slack Technologies",
        verified: true,
        scopes: "openid profile email User.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "DocuSign",
        publisher: "DocuSign Inc",
        verified: true,
        scopes: "openid profile email offline_access User.Read Files.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "Adobe Acrobat",
        publisher: "Adobe Inc",
        verified: true,
        scopes: "openid profile User.Read Files.ReadWrite.All",
        app_roles: &[],
    },
    AppTemplate {
        name: "Salesforce",
        publisher: "Salesforce.com",
        verified: true,
        scopes: "openid profile email User.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "Dropbox",
        publisher: "Dropbox Inc",
        verified: true,
        scopes: "openid profile email offline_access User.Read Files.Read.All",
        app_roles: &[],
    },
    AppTemplate {
        name: "Miro",
        publisher: "Miro",
        verified: true,
        scopes: "openid profile email User.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "Grammarly",
        publisher: "Grammarly Inc",
        verified: true,
        scopes: "openid profile email offline_access User.Read Mail.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "Calendly",
        publisher: "Calendly LLC",
        verified: true,
        scopes: "openid profile offline_access Calendars.ReadWrite",
        app_roles: &[],
    },
    AppTemplate {
        name: "Backup Vault 365",
        publisher: "Backup Vault Ltd",
        verified: true,
        scopes: "",
        app_roles: &["Files.Read.All", "Mail.Read", "Sites.Read.All"],
    },
    AppTemplate {
        name: "PDF Converter Pro",
        publisher: "PDFTools Online",
        verified: false,
        scopes: "openid profile email offline_access User.Read Mail.ReadWrite Files.ReadWrite.All",
        app_roles: &[],
    },
    AppTemplate {
        name: "Mail Sync Helper",
        publisher: "unknown",
        verified: false,
        scopes: "openid offline_access Mail.ReadWrite Mail.Send MailboxSettings.ReadWrite Contacts.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "Survey Builder",
        publisher: "SurveyCo",
        verified: false,
        scopes: "openid profile User.Read",
        app_roles: &[],
    },
    AppTemplate {
        name: "HR Connector",
        publisher: "Workday",
        verified: true,
        scopes: "",
        app_roles: &[
            "User.ReadWrite.All",
            "Group.ReadWrite.All",
            "Directory.ReadWrite.All",
        ],
    },
    // Consent phishing dressed as Microsoft: the `о` of "Micrоsoft" is Cyrillic (U+043E).
    AppTemplate {
        name: "Micr\u{043E}soft Account Verification",
        publisher: "Micr\u{043E}soft Support",
        verified: false,
        scopes: "openid profile offline_access User.Read Mail.Read Files.Read.All",
        app_roles: &[],
    },
];

/// First-party Microsoft resource application ids records refer to.
pub mod first_party {
    /// Microsoft Graph.
    pub const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
    /// Azure AD Graph (legacy).
    pub const AAD_GRAPH: &str = "00000002-0000-0000-c000-000000000000";
    /// Exchange Online.
    pub const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";
    /// SharePoint Online.
    pub const SHAREPOINT: &str = "00000003-0000-0ff1-ce00-000000000000";
    /// Office 365 Management APIs.
    pub const MANAGEMENT: &str = "c5393580-f805-4401-95e8-94b7a6ef2fc2";
    /// Microsoft Office (client application signing in).
    pub const OFFICE: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";
    /// Microsoft Teams client.
    pub const TEAMS: &str = "1fec8e78-bce4-4aaf-ab1b-5451cc387264";
    /// Office 365 Exchange web client (OWA).
    pub const OWA: &str = "00000002-0000-0ff1-ce00-000000000000";
    /// OfficeHome portal.
    pub const OFFICE_HOME: &str = "4765445b-32c6-49b0-83e6-1d93765276ca";
    /// OneDrive sync client.
    pub const ONEDRIVE_SYNC: &str = "ab9b8c07-8f02-4f72-87fa-80105867a763";
    /// Azure portal.
    pub const AZURE_PORTAL: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";
}
