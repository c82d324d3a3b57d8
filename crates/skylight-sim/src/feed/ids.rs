//! Wire formats of the feed's opaque identifiers: content ids, `nextpage` tokens and the time
//! formats Microsoft writes into them.

use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::catalog::ContentType;

/// `yyyyMMddHHmmss` + 9 fractional digits: the 23-digit stamps inside content ids.
pub fn stamp23(t: DateTime<Utc>) -> String {
    format!(
        "{}{:09}",
        t.format("%Y%m%d%H%M%S"),
        t.nanosecond() % 1_000_000_000
    )
}

/// Parses a 23-digit stamp.
pub fn parse_stamp23(s: &str) -> Option<DateTime<Utc>> {
    if s.len() != 23 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = NaiveDateTime::parse_from_str(&s[..14], "%Y%m%d%H%M%S").ok()?;
    let nanos: u32 = s[14..].parse().ok()?;
    Utc.from_utc_datetime(&base).with_nanosecond(nanos)
}

/// Seven fractional digits and `Z`, as the service writes times into `NextPageUri`.
pub fn time7(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        (t.nanosecond() % 1_000_000_000) / 100
    )
}

/// Milliseconds and `Z`, as content objects carry `contentCreated` / `contentExpiration`.
pub fn time_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a `startTime`/`endTime` value: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`,
/// each optionally with fractional seconds and a trailing `Z` (times without a zone are UTC).
pub fn parse_query_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    let s = s.strip_suffix("+00:00").unwrap_or(s);
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    None
}

/// Lowercase and Pascal forms of a content type inside a content id.
fn ct_parts(ct: ContentType) -> (&'static str, &'static str) {
    match ct {
        ContentType::AzureActiveDirectory => {
            ("audit_azureactivedirectory", "Audit_AzureActiveDirectory")
        }
        ContentType::Exchange => ("audit_exchange", "Audit_Exchange"),
        ContentType::SharePoint => ("audit_sharepoint", "Audit_SharePoint"),
        ContentType::General => ("audit_general", "Audit_General"),
        ContentType::Dlp => ("dlp_all", "DLP_All"),
    }
}

/// The identity of one content blob: its content type, the activity slot it covers and the shard
/// of users whose activity it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    /// Content type.
    pub ct: ContentType,
    /// Slot number (seconds since the epoch divided by the slot length).
    pub slot: i64,
    /// User shard.
    pub shard: u32,
}

/// Formats a content id: `{created}${slot start}${lower_ct}${Pascal_Ct}${region}{shard}`.
pub fn content_id(
    key: BlobKey,
    created: DateTime<Utc>,
    slot_start: DateTime<Utc>,
    region: &str,
) -> String {
    let (lower, pascal) = ct_parts(key.ct);
    format!(
        "{}${}${lower}${pascal}${region}{:04}",
        stamp23(created),
        stamp23(slot_start),
        key.shard
    )
}

/// What a content id says, before checking it names real content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedContentId {
    /// Claimed publication time.
    pub created: DateTime<Utc>,
    /// Claimed slot start.
    pub slot_start: DateTime<Utc>,
    /// Content type.
    pub ct: ContentType,
    /// Shard.
    pub shard: u32,
}

/// Parses a content id; `None` when it is not one of ours (AF20052).
pub fn parse_content_id(id: &str, region: &str) -> Option<ParsedContentId> {
    let parts: Vec<&str> = id.split('$').collect();
    if parts.len() != 5 {
        return None;
    }
    let created = parse_stamp23(parts[0])?;
    let slot_start = parse_stamp23(parts[1])?;
    let ct = ContentType::ALL
        .into_iter()
        .find(|ct| ct_parts(*ct).0 == parts[2] && ct_parts(*ct).1 == parts[3])?;
    let shard = parts[4].strip_prefix(region)?;
    if shard.len() != 4 || !shard.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ParsedContentId {
        created,
        slot_start,
        ct,
        shard: shard.parse().ok()?,
    })
}

/// A position in a listing: the next content object to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// `contentCreated` of the next object.
    pub created: DateTime<Utc>,
    /// Shard of the next object (breaks ties).
    pub shard: u32,
    /// This page was already served empty once (the `gaps` fault serves some pages empty).
    pub empty_served: bool,
}

/// Formats a `nextpage` token: `{next created}${window start}${region}{shard}` (the real shape).
pub fn next_page_token(c: PageCursor, window_start: DateTime<Utc>, region: &str) -> String {
    let region = if c.empty_served {
        format!("{region}e")
    } else {
        region.to_string()
    };
    format!(
        "{}${}${region}{:04}",
        stamp23(c.created),
        stamp23(window_start),
        c.shard
    )
}

/// Parses a `nextpage` token against the window it must belong to; `None` means AF20031.
pub fn parse_next_page(
    token: &str,
    window_start: DateTime<Utc>,
    region: &str,
) -> Option<PageCursor> {
    let parts: Vec<&str> = token.split('$').collect();
    if parts.len() != 3 {
        return None;
    }
    let created = parse_stamp23(parts[0])?;
    if parse_stamp23(parts[1])? != window_start {
        return None;
    }
    let rest = parts[2].strip_prefix(region)?;
    let (empty_served, digits) = match rest.strip_prefix('e') {
        Some(d) => (true, d),
        None => (false, rest),
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(PageCursor {
        created,
        shard: digits.parse().ok()?,
        empty_served,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn content_ids_round_trip_and_look_real() {
        let key = BlobKey {
            ct: ContentType::Exchange,
            slot: 5,
            shard: 12,
        };
        let created = t("2026-11-20T10:15:30.123456789Z");
        let id = content_id(key, created, t("2026-11-20T09:00:00Z"), "na");
        assert_eq!(
            id,
            "20261120101530123456789$20261120090000000000000$audit_exchange$Audit_Exchange$na0012"
        );
        let p = parse_content_id(&id, "na").expect("parses");
        assert_eq!(
            (p.created, p.ct, p.shard),
            (created, ContentType::Exchange, 12)
        );
        assert!(parse_content_id("492638008028$492638008028$f28ab", "na").is_none());
        assert!(parse_content_id(&id.replace("na0012", "eu0012"), "na").is_none());
    }

    #[test]
    fn query_times_accept_the_documented_and_observed_forms() {
        for s in [
            "2026-11-20",
            "2026-11-20T10:00",
            "2026-11-20T10:00:00",
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00.0000000Z",
        ] {
            assert!(parse_query_time(s).is_some(), "{s}");
        }
        assert!(parse_query_time("yesterday").is_none());
        assert!(parse_query_time("2026-13-01").is_none());
        assert_eq!(
            time7(t("2020-02-20T10:46:42Z")),
            "2020-02-20T10:46:42.0000000Z"
        );
    }

    #[test]
    fn next_page_tokens_are_bound_to_their_window() {
        let start = t("2026-11-20T00:00:00Z");
        let c = PageCursor {
            created: t("2026-11-20T05:00:00.5Z"),
            shard: 3,
            empty_served: true,
        };
        let tok = next_page_token(c, start, "na");
        assert_eq!(parse_next_page(&tok, start, "na"), Some(c));
        assert_eq!(parse_next_page(&tok, t("2026-11-19T00:00:00Z"), "na"), None);
        assert_eq!(parse_next_page("garbage", start, "na"), None);
    }
}
