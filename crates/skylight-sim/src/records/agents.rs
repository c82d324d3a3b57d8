//! User agents and Office client strings records carry.

/// Desktop browsers and Office desktop clients (a user's usual desktop agent is one of these).
pub static DESKTOP: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Word 16.0.18129; Pro)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
];

/// Mobile browsers and apps.
pub static MOBILE: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.86 Mobile Safari/537.36",
    "Outlook-iOS/2.0",
    "Outlook-Android/2.0",
];

/// The OneDrive sync client.
pub const ONEDRIVE_SYNC: &str =
    "Microsoft SkyDriveSync 24.201.1006.0005 ship; Windows NT 10.0 (19045)";

/// The Teams desktop client.
pub const TEAMS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Teams/24295.605.3225.8804";

/// Scripts and tools attackers use.
pub static SCRIPTED: &[&str] = &[
    "python-requests/2.32.3",
    "Mozilla/5.0 (compatible; MSAL 1.0) PKeyAuth/1.0",
    "BAV2ROPC",
    "curl/8.5.0",
];

/// Exchange `ClientInfoString` values by client.
pub static EXCHANGE_CLIENT_INFO: &[&str] = &[
    "Client=OWA;Action=ViaProxy",
    "Client=MSExchangeRPC",
    "Client=REST;Client=RESTSystem;;",
    "Client=WebServices;Action=ConfigureGroupMailbox",
    "Client=OutlookService;Outlook-iOS/2.0;",
    "Client=Exchange;Action=ViaProxy",
];
