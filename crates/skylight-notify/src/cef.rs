//! Alerts as CEF lines in syslog messages, in the layout Defender for Cloud Apps' SIEM agent
//! emits for alerts:
//!
//! ```text
//! CEF:0|Skylight|Skylight|<version>|<signature>|<title>|<severity>|externalId=<alert id>
//! start=<first ms> end=<last ms> msg=<facts> suser=<first user> destinationServiceName=<app>
//! cs1Label=portalURL cs1=<url> cs3Label=relatedAudits cs3=<activity ids>
//! cs4Label=policyIDs cs4=<policy> src=<first IPv4> c6a1=<first IPv6> cs5Label=status cs5=<status>
//! ```
//!
//! `cs5` (the triage status) is Skylight's addition: an alert is sent again when it changes.
//! Fields without a value are left out. Header fields escape `\` and `|`; extension values
//! escape `\`, `=` and line breaks (`\n`, `\r`); other control characters become spaces.

use std::net::IpAddr;

use chrono::SecondsFormat;
use skylight_model::{Alert, Severity};

/// Activity Ids carried in `cs3` (the rest are in the alert; a syslog line stays small).
pub const MAX_RELATED: usize = 50;
/// Characters of the facts carried in `msg` before it is cut (with `…`).
pub const MAX_MSG_CHARS: usize = 2000;

/// What a CEF line needs besides the alert.
#[derive(Debug, Clone, Copy)]
pub struct CefContext<'a> {
    /// Skylight's version (the header's device version).
    pub version: &'a str,
    /// Base URL of Skylight's API; `cs1` is `<portal_url>/api/v1/alerts/<id>`.
    pub portal_url: &'a str,
    /// The app the alert's activities happened in (`destinationServiceName`).
    pub app: &'a str,
}

/// CEF severity (0–10: 0–3 low, 4–6 medium, 7–8 high, 9–10 very high) of an alert severity:
/// informational 1, low 3, medium 5, high 8.
pub fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Informational => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
    }
}

/// Syslog severity (RFC 5424) of an alert severity: informational 6 (informational), low 5
/// (notice), medium 4 (warning), high 3 (error).
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Informational => 6,
        Severity::Low => 5,
        Severity::Medium => 4,
        Severity::High => 3,
    }
}

/// The header's signature (Device Event Class ID) of an alert kind, as Defender for Cloud Apps
/// names its alert types: activity policies `ALERT_CABINET_EVENT_MATCH_AUDIT`, anomaly
/// detections `ALERT_SUSPICIOUS_ACTIVITY`, Sigma rules `ALERT_SIGMA_RULE_MATCH`, others
/// `ALERT_<KIND>`.
pub fn signature(kind: &str) -> String {
    match kind {
        "activity" => "ALERT_CABINET_EVENT_MATCH_AUDIT".into(),
        "anomaly" => "ALERT_SUSPICIOUS_ACTIVITY".into(),
        "sigma" => "ALERT_SIGMA_RULE_MATCH".into(),
        other => {
            let k: String = other
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("ALERT_{k}")
        }
    }
}

/// Escapes a CEF header field: `\` and `|` are escaped, line breaks and other control
/// characters become spaces (a header has no escape for them).
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a CEF extension value: `\`, `=`, `\n` and `\r` are escaped, other control characters
/// become spaces.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn cut(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The first IPv4 and the first IPv6 address among an alert's addresses (IPv4-mapped IPv6
/// addresses count as IPv4).
fn addresses(ips: &[String]) -> (Option<IpAddr>, Option<IpAddr>) {
    let mut v4 = None;
    let mut v6 = None;
    for ip in ips {
        let Ok(ip) = ip.trim().parse::<IpAddr>() else {
            continue;
        };
        match ip.to_canonical() {
            a @ IpAddr::V4(_) => {
                v4.get_or_insert(a);
            }
            a @ IpAddr::V6(_) => {
                v6.get_or_insert(a);
            }
        }
    }
    (v4, v6)
}

/// The alert as one CEF line (no syslog header).
pub fn alert_cef(alert: &Alert, ctx: &CefContext<'_>) -> String {
    let a = &alert.draft;
    let mut ext: Vec<(&str, String)> = vec![
        ("externalId", alert.id.to_string()),
        ("start", a.first.timestamp_millis().to_string()),
        ("end", a.last.timestamp_millis().to_string()),
    ];
    let msg = if a.facts.is_empty() {
        a.title.clone()
    } else {
        a.facts.join("; ")
    };
    ext.push(("msg", cut(&msg, MAX_MSG_CHARS)));
    if let Some(user) = a.users.first() {
        ext.push(("suser", user.clone()));
    }
    ext.push(("destinationServiceName", ctx.app.to_owned()));
    ext.push(("cs1Label", "portalURL".into()));
    ext.push((
        "cs1",
        format!(
            "{}/api/v1/alerts/{}",
            ctx.portal_url.trim_end_matches('/'),
            alert.id
        ),
    ));
    if !a.activity_ids.is_empty() {
        ext.push(("cs3Label", "relatedAudits".into()));
        let ids: Vec<&str> = a
            .activity_ids
            .iter()
            .take(MAX_RELATED)
            .map(String::as_str)
            .collect();
        ext.push(("cs3", ids.join(",")));
    }
    ext.push(("cs4Label", "policyIDs".into()));
    ext.push(("cs4", a.policy.clone()));
    let (v4, v6) = addresses(&a.ips);
    if let Some(ip) = v4 {
        ext.push(("src", ip.to_string()));
    }
    if let Some(ip) = v6 {
        ext.push(("c6a1", ip.to_string()));
    }
    ext.push(("cs5Label", "status".into()));
    ext.push(("cs5", alert.status.as_str().into()));
    let extension: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_value(v)))
        .collect();
    format!(
        "CEF:0|Skylight|Skylight|{}|{}|{}|{}|{}",
        escape_header(ctx.version),
        escape_header(&signature(&a.kind)),
        escape_header(&a.title),
        cef_severity(a.severity),
        extension.join(" ")
    )
}

/// A syslog facility (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    /// User-level messages (1).
    User,
    /// System daemons (3).
    Daemon,
    /// Security/authorization messages (4).
    Auth,
    /// Private security/authorization messages (10).
    Authpriv,
    /// Local use 0 (16), the default.
    #[default]
    Local0,
    /// Local use 1 (17).
    Local1,
    /// Local use 2 (18).
    Local2,
    /// Local use 3 (19).
    Local3,
    /// Local use 4 (20).
    Local4,
    /// Local use 5 (21).
    Local5,
    /// Local use 6 (22).
    Local6,
    /// Local use 7 (23).
    Local7,
}

impl Facility {
    /// The facility's number.
    pub fn code(self) -> u8 {
        match self {
            Facility::User => 1,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Authpriv => 10,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }
}

/// A hostname as an RFC 5424 HOSTNAME field: printable ASCII without spaces, at most 255
/// characters, `-` when empty.
pub fn syslog_hostname(name: &str) -> String {
    let h: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if h.is_empty() { "-".into() } else { h }
}

/// The alert as an RFC 5424 syslog message carrying its CEF line:
/// `<PRI>1 TIMESTAMP HOSTNAME skylight - alert - CEF:0|…`. The timestamp is the alert change's
/// time; the message has no byte-order mark (CEF receivers expect none).
pub fn syslog_message(
    alert: &Alert,
    ctx: &CefContext<'_>,
    facility: Facility,
    hostname: &str,
) -> String {
    let pri = u16::from(facility.code()) * 8 + u16::from(syslog_severity(alert.draft.severity));
    format!(
        "<{pri}>1 {} {} skylight - alert - {}",
        alert.updated.to_rfc3339_opts(SecondsFormat::Millis, true),
        syslog_hostname(hostname),
        alert_cef(alert, ctx)
    )
}

/// A message framed for TCP by octet counting (RFC 6587 §3.4.1): `<length> <message>`.
pub fn octet_counted(message: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{TimeZone, Utc};
    use skylight_model::{AlertDraft, AlertStatus};

    fn sample() -> Alert {
        let first = Utc.with_ymd_and_hms(2026, 11, 10, 8, 0, 0).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 11, 10, 8, 30, 0).unwrap();
        Alert {
            id: 42,
            draft: AlertDraft {
                key: "impossible_travel|contoso|alice@contoso.com|1".into(),
                tenant: "contoso".into(),
                policy: "impossible_travel".into(),
                kind: "anomaly".into(),
                title: "Impossible travel: alice@contoso.com".into(),
                severity: Severity::High,
                category: "threat_detection".into(),
                signal_only: false,
                users: vec!["alice@contoso.com".into()],
                ips: vec![
                    "2001:db8::7".into(),
                    "73.10.20.30".into(),
                    "126.10.20.30".into(),
                ],
                countries: vec!["US".into(), "JP".into()],
                activity_ids: vec![
                    "0f8c1a2e-1111-4c7a-9f21-0e5d3b7a9c11".into(),
                    "0f8c1a2e-2222-4c7a-9f21-0e5d3b7a9c11".into(),
                ],
                activity_count: 2,
                facts: vec![
                    "UserLoggedIn from JP (126.10.20.30) at 2026-11-10 08:30 UTC".into(),
                    "30 minutes earlier from US (73.10.20.30): 9,716 km apart".into(),
                ],
                first,
                last,
            },
            status: AlertStatus::Open,
            resolution: None,
            created: last,
            updated: Utc.with_ymd_and_hms(2026, 11, 10, 8, 31, 5).unwrap(),
            comments: Vec::new(),
        }
    }

    const CTX: CefContext<'static> = CefContext {
        version: "0.1.0",
        portal_url: "https://skylight.example/",
        app: "Microsoft Entra ID",
    };

    #[test]
    fn a_sample_alert_in_the_agent_layout() {
        assert_eq!(
            alert_cef(&sample(), &CTX),
            "CEF:0|Skylight|Skylight|0.1.0|ALERT_SUSPICIOUS_ACTIVITY|Impossible travel: alice@contoso.com|8|\
             externalId=42 start=1794297600000 end=1794299400000 \
             msg=UserLoggedIn from JP (126.10.20.30) at 2026-11-10 08:30 UTC; 30 minutes earlier from US (73.10.20.30): 9,716 km apart \
             suser=alice@contoso.com destinationServiceName=Microsoft Entra ID \
             cs1Label=portalURL cs1=https://skylight.example/api/v1/alerts/42 \
             cs3Label=relatedAudits cs3=0f8c1a2e-1111-4c7a-9f21-0e5d3b7a9c11,0f8c1a2e-2222-4c7a-9f21-0e5d3b7a9c11 \
             cs4Label=policyIDs cs4=impossible_travel src=73.10.20.30 c6a1=2001:db8::7 cs5Label=status cs5=open"
        );
    }

    #[test]
    fn hostile_values_are_escaped() {
        let mut a = sample();
        a.draft.title = "pipe | back\\slash = eq\nnew\rline".into();
        a.draft.users = vec!["eve|x=1\\ cs4=forged\nCEF:0|evil".into()];
        a.draft.facts = vec!["a=b\\c|d\r\ne\u{7}f".into()];
        a.draft.kind = "file|policy".into();
        let line = alert_cef(&a, &CTX);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        let header: Vec<&str> = split_header(&line);
        assert_eq!(header.len(), 8, "{line}");
        assert_eq!(header[4], "ALERT_FILE_POLICY");
        assert_eq!(header[5], "pipe \\| back\\\\slash = eq new line");
        assert!(
            line.contains(" msg=a\\=b\\\\c|d\\r\\ne f suser="),
            "msg escaped: {line}"
        );
        assert!(
            line.contains(" suser=eve|x\\=1\\\\ cs4\\=forged\\nCEF:0|evil destinationServiceName="),
            "suser escaped: {line}"
        );
        // The forged key did not become a field: the only unescaped ` cs4=` is Skylight's.
        let ext = extension_pairs(header[7]);
        assert_eq!(ext.iter().filter(|(k, _)| k == "cs4").count(), 1, "{ext:?}");
        let user = ext.iter().find(|(k, _)| k == "suser").unwrap();
        assert_eq!(user.1, "eve|x=1\\ cs4=forged\nCEF:0|evil", "round trip");
        let msg = ext.iter().find(|(k, _)| k == "msg").unwrap();
        assert_eq!(msg.1, "a=b\\c|d\r\ne f");
    }

    /// Splits a CEF line into its 7 header fields and the extension, honouring `\|` and `\\`.
    fn split_header(line: &str) -> Vec<&str> {
        let mut fields = Vec::new();
        let mut start = 0;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            if fields.len() == 7 {
                break;
            }
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '|' => {
                    fields.push(&line[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        fields.push(&line[start..]);
        fields
    }

    /// Reads an extension the way a CEF parser does: a key is a word before an unescaped `=`
    /// that follows a space; values are unescaped.
    fn extension_pairs(ext: &str) -> Vec<(String, String)> {
        let chars: Vec<char> = ext.chars().collect();
        // Positions of unescaped '='.
        let mut eqs = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 2,
                '=' => {
                    eqs.push(i);
                    i += 1
                }
                _ => i += 1,
            }
        }
        let key_start = |eq: usize| {
            let mut s = eq;
            while s > 0 && chars[s - 1].is_ascii_alphanumeric() {
                s -= 1;
            }
            s
        };
        let mut out = Vec::new();
        for (n, &eq) in eqs.iter().enumerate() {
            let k: String = chars[key_start(eq)..eq].iter().collect();
            let end = eqs
                .get(n + 1)
                .map_or(chars.len(), |&next| key_start(next).saturating_sub(1));
            let raw: String = chars[eq + 1..end].iter().collect();
            let mut v = String::new();
            let mut it = raw.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next() {
                        Some('n') => v.push('\n'),
                        Some('r') => v.push('\r'),
                        Some(o) => v.push(o),
                        None => {}
                    }
                } else {
                    v.push(c);
                }
            }
            out.push((k, v));
        }
        out
    }

    #[test]
    fn severities_and_signatures() {
        let cef: Vec<u8> = Severity::ALL.into_iter().map(cef_severity).collect();
        assert_eq!(cef, [1, 3, 5, 8]);
        let sys: Vec<u8> = Severity::ALL.into_iter().map(syslog_severity).collect();
        assert_eq!(sys, [6, 5, 4, 3]);
        assert_eq!(signature("activity"), "ALERT_CABINET_EVENT_MATCH_AUDIT");
        assert_eq!(signature("anomaly"), "ALERT_SUSPICIOUS_ACTIVITY");
        assert_eq!(signature("sigma"), "ALERT_SIGMA_RULE_MATCH");
        assert_eq!(signature("oauth-app"), "ALERT_OAUTH_APP");
    }

    #[test]
    fn absent_values_are_left_out_and_long_ones_cut() {
        let mut a = sample();
        a.draft.users.clear();
        a.draft.ips = vec!["not an address".into(), "::ffff:10.1.2.3".into()];
        a.draft.activity_ids = (0..120).map(|i| format!("id{i}")).collect();
        a.draft.facts = vec!["x".repeat(5000)];
        let line = alert_cef(&a, &CTX);
        assert!(!line.contains("suser="), "{line}");
        assert!(
            line.contains(" src=10.1.2.3 "),
            "mapped IPv6 is IPv4: {line}"
        );
        assert!(!line.contains("c6a1="), "{line}");
        assert!(line.contains(",id49 cs4Label="), "{line}");
        assert!(!line.contains("id50"), "{line}");
        assert!(line.contains(&format!("msg={}… ", "x".repeat(MAX_MSG_CHARS))));
        a.draft.facts.clear();
        let line = alert_cef(&a, &CTX);
        assert!(line.contains(" msg=Impossible travel: alice@contoso.com "));
    }

    #[test]
    fn syslog_header_and_framing() {
        let a = sample();
        let m = syslog_message(&a, &CTX, Facility::Local0, "sky light\nhost");
        // local0 (16) * 8 + error (3) = 131.
        assert!(
            m.starts_with(
                "<131>1 2026-11-10T08:31:05.000Z skylighthost skylight - alert - CEF:0|Skylight|"
            ),
            "{m}"
        );
        let m = syslog_message(&a, &CTX, Facility::Auth, "");
        assert!(
            m.starts_with("<35>1 2026-11-10T08:31:05.000Z - skylight"),
            "{m}"
        );
        assert_eq!(
            octet_counted("héllo".as_bytes()),
            b"6 h\xc3\xa9llo".to_vec()
        );
    }
}
