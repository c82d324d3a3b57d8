//! One audit record as collected: its raw JSON, kept byte for byte, and the columns the store
//! indexes, read leniently from it.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Not a JSON object.
    #[error("record is not a json object: {0}")]
    NotAnObject(String),
    /// No usable `Id`.
    #[error("record has no Id")]
    MissingId,
}

/// The columns the activity log filters on, read from a record; every one is optional except
/// `id`, because Microsoft's records vary (numbers as strings, missing fields, new types).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordColumns {
    /// The record's `Id` (the de-duplication key).
    pub id: String,
    /// `CreationTime` (event time, UTC).
    pub creation_time: Option<DateTime<Utc>>,
    /// `RecordType` number.
    pub record_type: Option<i64>,
    /// `Workload`.
    pub workload: Option<String>,
    /// `Operation`.
    pub operation: Option<String>,
    /// `UserId`.
    pub user_id: Option<String>,
    /// `ClientIP` as given, or once normalised the client address (port and brackets stripped).
    pub client_ip: Option<String>,
    /// The normalised columns, when the record went through the normaliser.
    pub activity: Option<Box<crate::ActivityColumns>>,
}

/// A collected record: its raw JSON and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Indexed columns.
    pub columns: RecordColumns,
    /// The record exactly as Microsoft sent it.
    pub raw: Vec<u8>,
}

/// A JSON value that may be a string or a number (Microsoft sends both for the same field).
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose<'a> {
    Int(i64),
    Float(f64),
    #[serde(borrow)]
    Str(std::borrow::Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "Id", borrow, default)]
    id: Option<Loose<'a>>,
    #[serde(rename = "CreationTime", borrow, default)]
    creation_time: Option<Loose<'a>>,
    #[serde(rename = "RecordType", borrow, default)]
    record_type: Option<Loose<'a>>,
    #[serde(rename = "Workload", borrow, default)]
    workload: Option<Loose<'a>>,
    #[serde(rename = "Operation", borrow, default)]
    operation: Option<Loose<'a>>,
    #[serde(rename = "UserId", borrow, default)]
    user_id: Option<Loose<'a>>,
    #[serde(rename = "ClientIP", borrow, default)]
    client_ip: Option<Loose<'a>>,
}

fn text(v: Option<Loose<'_>>) -> Option<String> {
    match v? {
        Loose::Str(s) if !s.is_empty() => Some(s.into_owned()),
        Loose::Int(i) => Some(i.to_string()),
        Loose::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Reads `CreationTime`: Microsoft writes it without a zone (UTC), sometimes with `Z` or a fraction.
pub fn parse_creation_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    plain_creation_time(t).or_else(|| any_creation_time(t))
}

/// Reads `CreationTime` in any form it is known in, with chrono's general parsers.
fn any_creation_time(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    let t = t.trim_end_matches('Z');
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .map(|n| n.and_utc())
}

/// `YYYY-MM-DDTHH:MM:SS`, with an optional fraction and `Z`: the form every service writes, read
/// without the general parsers' format interpretation (a measurable share of collection's CPU).
/// Anything else, including a leap second, is left to them.
fn plain_creation_time(t: &str) -> Option<DateTime<Utc>> {
    let b = t.strip_suffix('Z').unwrap_or(t).as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20..b.len())?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if second > 59 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(
        date.and_hms_nano_opt(hour, minute, second, nanos)?
            .and_utc(),
    )
}

impl RecordColumns {
    /// Reads the columns of one record's JSON (which must be a whole, valid JSON object).
    pub fn read(raw: &[u8]) -> Result<RecordColumns, ParseError> {
        // Structs also deserialise from arrays; a record must be an object.
        let first = raw.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ParseError::NotAnObject(
                String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned(),
            ));
        }
        let head: Head<'_> =
            serde_json::from_slice(raw).map_err(|e| ParseError::NotAnObject(e.to_string()))?;
        let id = text(head.id).ok_or(ParseError::MissingId)?;
        let record_type = match head.record_type {
            Some(Loose::Int(i)) => Some(i),
            Some(Loose::Str(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let creation_time = text(head.creation_time).and_then(|s| parse_creation_time(&s));
        Ok(RecordColumns {
            id,
            creation_time,
            record_type,
            workload: text(head.workload),
            operation: text(head.operation),
            user_id: text(head.user_id),
            client_ip: text(head.client_ip),
            activity: None,
        })
    }
}

impl AuditRecord {
    /// Reads a record from its raw JSON, keeping the bytes as they are.
    pub fn from_raw(raw: &RawValue) -> Result<AuditRecord, ParseError> {
        Ok(AuditRecord {
            columns: RecordColumns::read(raw.get().as_bytes())?,
            raw: raw.get().as_bytes().to_vec(),
        })
    }

    /// Reads a record from a JSON text.
    pub fn from_json(json: &str) -> Result<AuditRecord, ParseError> {
        let raw: &RawValue =
            serde_json::from_str(json).map_err(|e| ParseError::NotAnObject(e.to_string()))?;
        AuditRecord::from_raw(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_read_leniently_and_raw_bytes_are_kept() {
        let json = r#"{"Id":"a1","RecordType":"15","CreationTime":"2020-02-10T15:13:13","Operation":"UserLoggedIn","UserId":"x@y.com","ClientIP":"[::1]:443","Workload":"AzureActiveDirectory","Extra":{"k":[1,2]}}"#;
        let r = AuditRecord::from_json(json).expect("reads");
        assert_eq!(r.columns.id, "a1");
        assert_eq!(r.columns.record_type, Some(15));
        assert_eq!(
            r.columns.creation_time.map(|t| t.to_rfc3339()),
            Some("2020-02-10T15:13:13+00:00".into())
        );
        assert_eq!(r.columns.client_ip.as_deref(), Some("[::1]:443"));
        assert_eq!(r.raw, json.as_bytes());
    }

    #[test]
    fn odd_records_are_errors_not_panics() {
        assert_eq!(
            AuditRecord::from_json(r#"{"Operation":"x"}"#),
            Err(ParseError::MissingId)
        );
        assert!(matches!(
            AuditRecord::from_json("[1,2]"),
            Err(ParseError::NotAnObject(_))
        ));
        let r = AuditRecord::from_json(r#"{"Id":7,"RecordType":{"a":1},"CreationTime":"garbage"}"#)
            .expect("reads");
        assert_eq!(
            (
                r.columns.id.as_str(),
                r.columns.record_type,
                r.columns.creation_time
            ),
            ("7", None, None)
        );
        assert!(parse_creation_time("2024-05-14T09:21:37.1234567Z").is_some());
    }

    #[test]
    fn the_fast_path_reads_what_the_general_parsers_read() {
        let mut seen = 0;
        for s in [
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.1",
            "2026-01-02T03:04:05.123456789",
            "2026-01-02T03:04:05.1234567890",
            "2026-01-02T03:04:05.1234567Z",
            " 2026-01-02T03:04:05 ",
            "2026-01-02T03:04:05ZZ",
            "2026-01-02T03:04:05.",
            "2026-01-02T03:04:05+02:00",
            "2026-01-02 03:04:05",
            "2026-01-02t03:04:05",
            "2026-1-2T3:4:5",
            "2026-13-02T03:04:05",
            "2026-02-30T03:04:05",
            "2024-02-29T23:59:59",
            "2026-01-02T24:00:00",
            "2026-01-02T03:60:05",
            "2016-12-31T23:59:60",
            "0000-01-01T00:00:00",
            "+2026-01-02T03:04:05",
            "2026-01-02T03:04",
            "2026-01-02T03:04:0x",
            "2026-01-02T03:04:05.12a",
            "",
        ] {
            assert_eq!(parse_creation_time(s), any_creation_time(s.trim()), "{s:?}");
            seen += usize::from(plain_creation_time(s.trim()).is_some());
        }
        assert_eq!(seen, 8, "the fast path took the plain forms");
    }
}
