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
    pub creation_ms: i64,
    pub key: Value,
    pub record_type: Option<i64>,
    /// An IPv4 client address written inline (`address.rs`); otherwise it is a string.
    pub inline_ip: Option<i64>,
    pub app: Option<i64>,
    pub category: Option<i64>,
    pub actor_kind: Option<i64>,
    pub outcome: Option<i64>,
    pub flags: i64,
    pub asn: Option<i64>,
    /// Workload, operation, user, client address (unless inline), user agent, country, city,
    /// ISP, address tags, device type, client app and OS.
    pub strings: [Option<usize>; STRING_COLUMNS],
}

/// A job's rows and the distinct strings they name.
pub(super) struct Rows {
    pub rows: Vec<Row>,
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
                let flags = a.map_or(0, |a| {
                    (if a.admin { codes::FLAG_ADMIN } else { 0 })
                        | (if a.external_user {
                            codes::FLAG_EXTERNAL
                        } else {
                            0
                        })
                        | (if a.impersonated {
                            codes::FLAG_IMPERSONATED
                        } else {
                            0
                        })
                });
                Row {
                    creation_ms: c.creation_time.map_or(0, |t| t.timestamp_millis()),
                    key: record_key(&c.id),
                    record_type: c.record_type,
                    inline_ip,
                    app: a.map(|a| codes::app(a.app)),
                    category: a.map(|a| codes::category(a.category)),
                    actor_kind: a.map(|a| codes::actor_kind(a.actor_kind)),
                    outcome: a.map(|a| codes::outcome(a.outcome)),
                    flags,
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
    use super::*;

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
        assert_eq!(named(a, 4), None);
    }
}
