//! User agents and client strings, read by Skylight's own rules first: the browsers and
//! operating systems people use, and what Microsoft 365 records carry besides (Office desktop
//! apps, `Client=OWA;…` strings, Teams, OneDrive sync, scripts and HTTP libraries); what they
//! leave unknown is read by uap-core's rules (`uap.rs`: the rest of the web, bots included).

use std::borrow::Cow;

/// The kind of device or client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    /// A desktop or laptop.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// A script, command-line tool or HTTP library (not a person at a browser).
    Script,
    /// A server-side client (Exchange REST or web services, sync engines).
    Service,
    /// Not known.
    Unknown,
}

impl DeviceType {
    /// The identifier used in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Script => "script",
            DeviceType::Service => "service",
            DeviceType::Unknown => "unknown",
        }
    }
}

/// What a user agent says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent {
    /// Browser or client application.
    pub client: Option<Cow<'static, str>>,
    /// Operating system.
    pub os: Option<Cow<'static, str>>,
    /// Device kind.
    pub device: DeviceType,
}

/// Substring (lowercase) → client, first match wins: specific clients before generic engines.
const CLIENTS: &[(&str, &str)] = &[
    ("client=owa", "Outlook on the web"),
    ("client=activesync", "Exchange ActiveSync"),
    ("client=rest", "Exchange REST API"),
    ("client=webservices", "Exchange Web Services"),
    ("client=pop3", "POP3"),
    ("client=imap4", "IMAP4"),
    ("client=momt", "Outlook (MAPI)"),
    ("outlook-ios", "Outlook mobile"),
    ("outlook-android", "Outlook mobile"),
    ("microsoft outlook", "Outlook"),
    ("microsoft word", "Word"),
    ("microsoft excel", "Excel"),
    ("microsoft powerpoint", "PowerPoint"),
    ("microsoft onenote", "OneNote"),
    ("onedrivesync", "OneDrive sync"),
    ("skydrivesync", "OneDrive sync"),
    ("microsoftteams", "Teams"),
    ("teams/", "Teams"),
    ("microsoft office", "Office"),
    ("python-requests", "python-requests"),
    ("python-urllib", "Python urllib"),
    ("aiohttp", "Python aiohttp"),
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("powershell", "PowerShell"),
    ("go-http-client", "Go HTTP client"),
    ("okhttp", "OkHttp"),
    ("axios", "axios"),
    ("postmanruntime", "Postman"),
    // Legacy (basic) authentication turned into a password grant by Entra ID: what password
    // spraying tools sign in as.
    ("bav2ropc", "Legacy authentication (ROPC)"),
    // Microsoft's authentication library called directly, as token tools do.
    ("pkeyauth", "MSAL library"),
    ("(compatible; msal", "MSAL library"),
    ("edg/", "Edge"),
    ("edge/", "Edge"),
    ("opr/", "Opera"),
    ("firefox/", "Firefox"),
    ("chrome/", "Chrome"),
    ("crios/", "Chrome"),
    ("safari/", "Safari"),
];

/// Clients that are scripts or libraries.
const SCRIPTS: &[&str] = &[
    "python-requests",
    "Python urllib",
    "Python aiohttp",
    "curl",
    "Wget",
    "PowerShell",
    "Go HTTP client",
    "OkHttp",
    "axios",
    "Postman",
    "Legacy authentication (ROPC)",
    "MSAL library",
];

/// Clients that only run on phones.
const MOBILE_CLIENTS: &[&str] = &["Outlook mobile"];

/// Clients that run on Microsoft's side or as sync engines.
const SERVICES: &[&str] = &[
    "Exchange REST API",
    "Exchange Web Services",
    "OneDrive sync",
];

/// Reads a user agent or client string: Skylight's rules, then uap-core's for what they leave
/// unknown.
pub fn parse(ua: &str) -> UserAgent {
    let own = own_rules(ua);
    if own.client.is_some() && own.os.is_some() && own.device != DeviceType::Unknown {
        return own;
    }
    with_uap(own, crate::uap::read(ua))
}

/// uap-core's operating system families under the names Skylight's rules use.
fn os_name(family: String) -> Cow<'static, str> {
    match family.as_str() {
        "Windows" => Cow::Borrowed("Windows"),
        "Mac OS X" | "macOS" => Cow::Borrowed("macOS"),
        "iOS" | "iPadOS" => Cow::Borrowed("iOS"),
        "Android" => Cow::Borrowed("Android"),
        "Chrome OS" => Cow::Borrowed("ChromeOS"),
        "Linux" | "Ubuntu" | "Debian" | "Fedora" | "Red Hat" | "SUSE" | "openSUSE" | "CentOS"
        | "Arch Linux" | "Linux Mint" | "Gentoo" | "Kubuntu" | "Mageia" => Cow::Borrowed("Linux"),
        _ => Cow::Owned(family),
    }
}

/// uap-core's families of HTTP libraries and command-line tools (not a person at a browser).
const UAP_SCRIPTS: &[&str] = &[
    "Python Requests",
    "Python-urllib",
    "Java",
    "Apache-HttpClient",
    "okhttp",
    "Go-http-client",
    "Wget",
    "curl",
    "libwww-perl",
    "PowerShell",
];

/// Fills what Skylight's rules left unknown from uap-core's reading.
fn with_uap(mut u: UserAgent, r: crate::uap::Reading) -> UserAgent {
    if u.os.is_none() {
        u.os = r.os.map(os_name);
    }
    let library = r
        .family
        .as_deref()
        .is_some_and(|f| UAP_SCRIPTS.contains(&f));
    if u.client.is_none() {
        u.client = r.family.map(Cow::Owned);
    }
    if u.device == DeviceType::Unknown {
        let device = r.device.as_deref().unwrap_or_default();
        u.device = if device == "Spider" || library {
            DeviceType::Script
        } else if device == "iPad" || device.contains("Tablet") {
            DeviceType::Tablet
        } else if device == "iPhone"
            || device.contains("Smartphone")
            || device.contains("Phone")
            || u.os.as_deref() == Some("Android")
            || u.os.as_deref() == Some("iOS")
        {
            DeviceType::Mobile
        } else if matches!(
            u.os.as_deref(),
            Some("Windows" | "macOS" | "Linux" | "ChromeOS")
        ) {
            DeviceType::Desktop
        } else {
            DeviceType::Unknown
        };
    }
    u
}

/// Skylight's own rules alone.
fn own_rules(ua: &str) -> UserAgent {
    let lower = ua.to_ascii_lowercase();
    let client = CLIENTS
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, name)| *name);
    // `iOS` as a word (`Outlook-iOS/2.0`), not inside another (`studios`).
    let ios_word = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "ios");
    let os = if lower.contains("iphone") || lower.contains("ipad") || ios_word {
        Some("iOS")
    } else if lower.contains("android") {
        Some("Android")
    } else if lower.contains("windows") {
        Some("Windows")
    } else if lower.contains("mac os") || lower.contains("macintosh") || lower.contains("macos") {
        Some("macOS")
    } else if lower.contains("cros") {
        Some("ChromeOS")
    } else if lower.contains("linux") || lower.contains("x11") {
        Some("Linux")
    } else {
        None
    };
    let device = if lower.contains("ipad") || lower.contains("tablet") {
        DeviceType::Tablet
    } else if lower.contains("iphone")
        || lower.contains("mobile")
        || lower.contains("client=activesync")
        || os == Some("Android")
        || client.is_some_and(|c| MOBILE_CLIENTS.contains(&c))
    {
        DeviceType::Mobile
    } else if client.is_some_and(|c| SCRIPTS.contains(&c)) {
        DeviceType::Script
    } else if client.is_some_and(|c| SERVICES.contains(&c)) {
        DeviceType::Service
    } else if matches!(os, Some("Windows" | "macOS" | "Linux" | "ChromeOS")) {
        DeviceType::Desktop
    } else {
        DeviceType::Unknown
    };
    UserAgent {
        client: client.map(Cow::Borrowed),
        os: os.map(Cow::Borrowed),
        device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_office_clients_and_scripts() {
        for (ua, client, os, device) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
                Some("Edge"),
                Some("Windows"),
                DeviceType::Desktop,
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                Some("Safari"),
                Some("macOS"),
                DeviceType::Desktop,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                Some("Safari"),
                Some("iOS"),
                DeviceType::Mobile,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                Some("Firefox"),
                Some("Linux"),
                DeviceType::Desktop,
            ),
            (
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
                Some("Outlook"),
                Some("Windows"),
                DeviceType::Desktop,
            ),
            (
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Word 16.0.18129; Pro)",
                Some("Word"),
                Some("Windows"),
                DeviceType::Desktop,
            ),
            (
                "Client=OWA;Action=ViaProxy",
                Some("Outlook on the web"),
                None,
                DeviceType::Unknown,
            ),
            (
                "Client=REST;Client=RESTSystem;;",
                Some("Exchange REST API"),
                None,
                DeviceType::Service,
            ),
            (
                "Client=ActiveSync;UserAgent=Apple-iPhone15C2/2104.175;",
                Some("Exchange ActiveSync"),
                Some("iOS"),
                DeviceType::Mobile,
            ),
            (
                "python-requests/2.31.0",
                Some("python-requests"),
                None,
                DeviceType::Script,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.1",
                Some("PowerShell"),
                Some("Windows"),
                DeviceType::Script,
            ),
            (
                "Outlook-iOS/2.0",
                Some("Outlook mobile"),
                Some("iOS"),
                DeviceType::Mobile,
            ),
            (
                "Outlook-Android/2.0",
                Some("Outlook mobile"),
                Some("Android"),
                DeviceType::Mobile,
            ),
            (
                "BAV2ROPC",
                Some("Legacy authentication (ROPC)"),
                None,
                DeviceType::Script,
            ),
            (
                "Mozilla/5.0 (compatible; MSAL 1.0) PKeyAuth/1.0",
                Some("MSAL library"),
                None,
                DeviceType::Script,
            ),
            ("Visual Studios Agent/1.0", None, None, DeviceType::Unknown),
            // What Skylight's rules leave unknown, uap-core's read.
            (
                "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
                Some("IE"),
                Some("Windows"),
                DeviceType::Desktop,
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                Some("Googlebot"),
                None,
                DeviceType::Script,
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("ChromeOS"),
                DeviceType::Desktop,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
                Some("Opera"),
                Some("Windows"),
                DeviceType::Desktop,
            ),
            ("Java/17.0.2", Some("Java"), None, DeviceType::Script),
            ("", None, None, DeviceType::Unknown),
        ] {
            let got = parse(ua);
            assert_eq!(
                (got.client.as_deref(), got.os.as_deref(), got.device),
                (client, os, device),
                "{ua}"
            );
        }
    }
}
