//! Records' rows made ready before the writer takes them.
//!
//! The writer is the one serial step of ingest: on a 10,000-user week it held the connection
//! for about four fifths of the run, so whatever can be done without the connection is done in
//! the blob's own thread, as the job is prepared. Every value of a row is computed there except
//! the ids of its strings, which need the `strings` table; the job's strings are gathered once
//! each (a blob of 150 records names a few dozen distinct workloads, operations, users, addresses
//! and user agents, against some 900 string columns filled), so the writer looks each up once.

use std::collections::HashMap;

use rusqlite::types::Value;
use skylight_model::RecordColumns;

use super::super::{address, record_key};
use crate::codes;

/// A record's string columns, in the order of [`Row::strings`] and of the insert's parameters.
const STRING_COLUMNS: usize = 12;

/// One record's row, without the connection: its strings are indexes into [`Rows::strings`].
pub(super) struct Row {
    /// `CreationTime` in milliseconds (0 without one).
    pub creation_ms: i64,
    /// The record Id as stored (`record_key`).
    pub key: Value,
    /// `RecordType`.
    pub record_type: Option<i64>,
    /// An IPv4 client address written inline (`address.rs`); otherwise it is a string.
    pub inline_ip: Option<i64>,
    /// Stored codes of the normalised app, category, actor kind and outcome.
    pub app: Option<i64>,
    /// See `app`.
    pub category: Option<i64>,
    /// See `app`.
    pub actor_kind: Option<i64>,
    /// See `app`.
    pub outcome: Option<i64>,
    /// Admin, external and impersonated (`codes::FLAG_*`).
    pub flags: i64,
    /// The client address's autonomous system.
    pub asn: Option<i64>,
    /// Workload, operation, user, client address (unless inline), user agent, country, city,
    /// ISP, address tags, device type, client app and OS.
    pub strings: [Option<usize>; STRING_COLUMNS],
}

/// A job's rows and the distinct strings they name.
pub(super) struct Rows {
    /// One per record, in the batch's order.
    pub rows: Vec<Row>,
    /// Each string the rows name, once.
    pub strings: Vec<String>,
}

impl Rows {
    /// The rows of `columns`, in their order.
    pub(super) fn prepare<'a>(columns: &'a [RecordColumns]) -> Rows {
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        let mut strings: Vec<String> = Vec::new();
        let mut intern = |value: Option<&'a str>| -> Option<usize> {
            let value = value?;
            if let Some(&i) = index.get(value) {
                return Some(i);
            }
            let i = strings.len();
            strings.push(value.to_owned());
            index.insert(value, i);
            Some(i)
        };
        let rows = columns
            .iter()
            .map(|c| {
                let a = c.activity.as_deref();
                let e = a.and_then(|a| a.enrichment.as_ref());
                let inline_ip = c.client_ip.as_deref().and_then(address::inline);
                Row {
                    creation_ms: c.creation_time.map_or(0, |t| t.timestamp_millis()),
                    key: record_key(&c.id),
                    record_type: c.record_type,
                    inline_ip,
                    app: a.map(|a| codes::app(a.app)),
                    category: a.map(|a| codes::category(a.category)),
                    actor_kind: a.map(|a| codes::actor_kind(a.actor_kind)),
                    outcome: a.map(|a| codes::outcome(a.outcome)),
                    flags: a.map_or(0, codes::flags),
                    asn: e.and_then(|e| e.asn).map(i64::from),
                    strings: [
                        intern(c.workload.as_deref()),
                        intern(c.operation.as_deref()),
                        intern(c.user_id.as_deref()),
                        intern(c.client_ip.as_deref().filter(|_| inline_ip.is_none())),
                        intern(a.and_then(|a| a.user_agent.as_deref())),
                        intern(e.and_then(|e| e.country.as_deref())),
                        intern(e.and_then(|e| e.city.as_deref())),
                        intern(e.and_then(|e| e.isp.as_deref())),
                        intern(e.and_then(|e| e.ip_tags.as_deref())),
                        intern(e.and_then(|e| e.device_type.as_deref())),
                        intern(e.and_then(|e| e.client_app.as_deref())),
                        intern(e.and_then(|e| e.os.as_deref())),
                    ],
                }
            })
            .collect();
        Rows { rows, strings }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use skylight_model::{
        ActivityColumns, ActorKind, App, BlobRef, Category, ContentType, Enrichment, Outcome,
    };

    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::{RecordBatch, Store};

    /// Every column of a row, its strings read back through `strings`.
    const READ_BACK: &str = "SELECT r.creation_ms, r.hour, hex(r.record_key), r.content_type, \
         r.record_type, w.value, o.value, u.value, r.client_ip, r.chunk_pos, r.app, r.category, \
         r.actor_kind, r.outcome, r.flags, ua.value, co.value, ci.value, r.asn, i.value, t.value, \
         d.value, ca.value, os.value \
         FROM records r \
         LEFT JOIN strings w ON w.id = r.workload LEFT JOIN strings o ON o.id = r.operation \
         LEFT JOIN strings u ON u.id = r.user_id LEFT JOIN strings ua ON ua.id = r.user_agent \
         LEFT JOIN strings co ON co.id = r.country LEFT JOIN strings ci ON ci.id = r.city \
         LEFT JOIN strings i ON i.id = r.isp LEFT JOIN strings t ON t.id = r.ip_tags \
         LEFT JOIN strings d ON d.id = r.device_type LEFT JOIN strings ca ON ca.id = r.client_app \
         LEFT JOIN strings os ON os.id = r.os ORDER BY r.id";

    #[test]
    fn every_column_of_a_committed_row_holds_its_own_value() {
        let full = |id: &str, ip: &str| RecordColumns {
            id: id.to_owned(),
            creation_time: chrono::Utc
                .with_ymd_and_hms(2024, 5, 14, 9, 21, 37)
                .single(),
            record_type: Some(15),
            workload: Some("AzureActiveDirectory".into()),
            operation: Some("UserLoggedIn".into()),
            user_id: Some("ann@contoso.com".into()),
            client_ip: Some(ip.into()),
            activity: Some(Box::new(ActivityColumns {
                app: App::ALL[5],
                category: Category::ALL[9],
                actor_kind: ActorKind::Application,
                outcome: Outcome::Failure,
                admin: true,
                external_user: false,
                impersonated: true,
                user_agent: Some("Mozilla/5.0".into()),
                enrichment: Some(Enrichment {
                    country: Some("NL".into()),
                    city: Some("Amsterdam".into()),
                    asn: Some(64_500),
                    isp: Some("Example Net".into()),
                    ip_tags: Some("name:office".into()),
                    device_type: Some("Desktop".into()),
                    client_app: Some("Browser".into()),
                    os: Some("Windows".into()),
                }),
            })),
        };
        let mut batch = RecordBatch::new().expect("batch");
        for (id, ip) in [
            ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "2001:db8::7"),
            ("Not-A-Guid", "203.0.113.9"),
        ] {
            batch.push(full(id, ip), br#"{"Id":"x"}"#).expect("push");
        }
        let store = SqliteStore::open_in_memory().expect("store");
        let blob = BlobRef {
            content_id: "b".into(),
            created: chrono::Utc::now(),
        };
        store
            .commit_batch("t", ContentType::AzureActiveDirectory, &blob, batch)
            .expect("commit");
        type Read = (
            (i64, i64, String, i64, i64, String, String, String),
            (rusqlite::types::Value, i64, i64, i64, i64, i64, i64),
            (
                String,
                String,
                String,
                i64,
                String,
                String,
                String,
                String,
                String,
            ),
        );
        let rows: Vec<Read> = store
            .with_connection(|conn| {
                let mut stmt = conn.prepare(READ_BACK)?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        (
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ),
                        (
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                            r.get(11)?,
                            r.get(12)?,
                            r.get(13)?,
                            r.get(14)?,
                        ),
                        (
                            r.get(15)?,
                            r.get(16)?,
                            r.get(17)?,
                            r.get(18)?,
                            r.get(19)?,
                            r.get(20)?,
                            r.get(21)?,
                            r.get(22)?,
                            r.get(23)?,
                        ),
                    ))
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .expect("read back");
        let ms = 1_715_678_497_000;
        let strings = (
            "Mozilla/5.0".to_owned(),
            "NL".to_owned(),
            "Amsterdam".to_owned(),
            64_500,
            "Example Net".to_owned(),
            "name:office".to_owned(),
            "Desktop".to_owned(),
            "Browser".to_owned(),
            "Windows".to_owned(),
        );
        let common = |key: &str| {
            (
                ms,
                ms / 3_600_000,
                key.to_owned(),
                1, // Audit.AzureActiveDirectory
                15,
                "AzureActiveDirectory".to_owned(),
                "UserLoggedIn".to_owned(),
                "ann@contoso.com".to_owned(),
            )
        };
        let codes = |ip: rusqlite::types::Value, pos: i64| {
            (
                ip,
                pos,
                6,
                10,
                5,
                2,
                codes::FLAG_ADMIN | codes::FLAG_IMPERSONATED,
            )
        };
        let [first, second] = &rows[..] else {
            panic!("two rows, not {}", rows.len())
        };
        assert_eq!(first.0, common("3F2504E04F8911D39A0C0305E82C3301"));
        assert_eq!(second.0, common(&hex("Not-A-Guid")));
        // An IPv6 address is a string; an IPv4 one is inline (a number, not that string's id).
        let v6 = store
            .with_connection(|conn| {
                Ok(conn.query_row(
                    "SELECT id FROM strings WHERE value = '2001:db8::7'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .expect("the IPv6 address is a string");
        assert_eq!(first.1, codes(v6.into(), 0));
        assert_eq!(
            second.1,
            codes(address::inline("203.0.113.9").expect("inline").into(), 1)
        );
        assert_eq!((&first.2, &second.2), (&strings, &strings));
    }

    fn hex(text: &str) -> String {
        text.bytes().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn each_distinct_string_is_gathered_once_and_inline_addresses_are_not_strings() {
        let record = |id: &str, user: &str, ip: &str| RecordColumns {
            id: id.to_owned(),
            workload: Some("Exchange".into()),
            operation: Some("Send".into()),
            user_id: Some(user.into()),
            client_ip: Some(ip.into()),
            ..RecordColumns::default()
        };
        let rows = Rows::prepare(&[
            record("a", "ann@contoso.com", "203.0.113.7"),
            record("b", "bob@contoso.com", "2001:db8::1"),
            record("c", "ann@contoso.com", "2001:db8::1"),
        ]);
        assert_eq!(
            rows.strings,
            [
                "Exchange",
                "Send",
                "ann@contoso.com",
                "bob@contoso.com",
                "2001:db8::1"
            ]
        );
        let named = |r: &Row, col: usize| r.strings[col].map(|i| rows.strings[i].as_str());
        let [a, b, c] = &rows.rows[..] else {
            panic!("three rows")
        };
        assert_eq!(named(a, 2), Some("ann@contoso.com"));
        assert_eq!(named(c, 2), Some("ann@contoso.com"));
        assert_eq!(named(b, 2), Some("bob@contoso.com"));
        assert!(a.inline_ip.is_some());
        assert_eq!(named(a, 3), None);
        assert_eq!((b.inline_ip, named(b, 3)), (None, Some("2001:db8::1")));
        assert_eq!(named(c, 3), Some("2001:db8::1"));
    }
}
