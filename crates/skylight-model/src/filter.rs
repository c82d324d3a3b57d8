//! The activity filter language, one for the CLI, the REST API and policies.
//!
//! A filter is a list of conditions, all of which must hold. A condition is written
//! `FIELD OP VALUES`:
//! - `app=exchange` equals, `app!=exchange` differs;
//! - `app=exchange,share-point` any of, `app!=exchange,teams` none of;
//! - `user=*` is set, `user!=*` is not set;
//! - `time=2026-11-20T00:00:00Z..2026-11-21T00:00:00Z` and `record_type=1..20` ranges (either
//!   end may be left out);
//! - `ip=10.0.0.0/8` matches a CIDR block as well as an address;
//! - `text~password` the raw record contains the text (case-insensitive);
//! - `ip_tag=corporate` (a range's category), `ip_tag=name:Paris office`, `ip_tag=tag:hq`.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::{ActorKind, App, Category, Outcome, parse_creation_time};

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The event time.
    Time,
    /// The app.
    App,
    /// The actor (UserId), case-insensitive.
    User,
    /// Microsoft's operation, case-insensitive.
    Operation,
    /// The action category.
    Category,
    /// RecordType number.
    RecordType,
    /// `Workload`.
    Workload,
    /// Client address or CIDR block.
    Ip,
    /// Success or failure.
    Result,
    /// The actor's kind.
    ActorKind,
    /// Administrative activity (`true`/`false`).
    Admin,
    /// External user (`true`/`false`).
    External,
    /// Impersonation (`true`/`false`).
    Impersonated,
    /// User agent, case-insensitive.
    UserAgent,
    /// Free text over the raw record.
    Text,
    /// Country of the client address (ISO code).
    Country,
    /// The client network's organisation (ISP, hosting provider).
    Isp,
    /// Autonomous system number.
    Asn,
    /// A named range's category, name (`name:…`) or tag (`tag:…`).
    IpTag,
    /// Device kind: desktop, mobile, tablet, script, service, unknown.
    DeviceType,
    /// Browser or client application.
    ClientApp,
    /// Operating system.
    Os,
    /// Member of a directory group (its name or id), directly or through nested groups.
    Group,
}

impl Field {
    /// Every field with its name in the language.
    pub const ALL: [(Field, &'static str); 23] = [
        (Field::Time, "time"),
        (Field::App, "app"),
        (Field::User, "user"),
        (Field::Operation, "operation"),
        (Field::Category, "category"),
        (Field::RecordType, "record_type"),
        (Field::Workload, "workload"),
        (Field::Ip, "ip"),
        (Field::Result, "result"),
        (Field::ActorKind, "actor_kind"),
        (Field::Admin, "admin"),
        (Field::External, "external"),
        (Field::Impersonated, "impersonated"),
        (Field::UserAgent, "user_agent"),
        (Field::Text, "text"),
        (Field::Country, "country"),
        (Field::Isp, "isp"),
        (Field::Asn, "asn"),
        (Field::IpTag, "ip_tag"),
        (Field::DeviceType, "device_type"),
        (Field::ClientApp, "client_app"),
        (Field::Os, "os"),
        (Field::Group, "group"),
    ];

    /// The field's name in the language.
    pub fn name(self) -> &'static str {
        Field::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, n)| n)
    }
}

/// One value a condition compares with, already read for its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (users, operations, workloads, user agents, free text).
    Text(String),
    /// An app.
    App(App),
    /// A category.
    Category(Category),
    /// A number (RecordType).
    Number(i64),
    /// An address block (an address is a /32 or /128).
    Cidr(IpAddr, u8),
    /// An outcome.
    Outcome(Outcome),
    /// An actor kind.
    ActorKind(ActorKind),
    /// A yes/no flag.
    Flag(bool),
}

/// How a condition compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Equal to one of the values.
    AnyOf(Vec<Value>),
    /// Equal to none of the values.
    NoneOf(Vec<Value>),
    /// Has a value.
    IsSet,
    /// Has no value.
    NotSet,
    /// Between two times, start included, end excluded.
    TimeRange(Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    /// Between two numbers, both included.
    NumberRange(Option<i64>, Option<i64>),
    /// Contains the text, case-insensitive.
    Contains(String),
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// What it looks at.
    pub field: Field,
    /// How.
    pub test: Test,
}

/// A filter: every condition must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The conditions.
    pub conditions: Vec<Condition>,
}

/// Why a filter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No operator.
    #[error("`{0}`: write FIELD=VALUE, FIELD!=VALUE or text~WORDS")]
    Syntax(String),
    /// Unknown field.
    #[error("unknown field `{0}`; fields: {1}")]
    UnknownField(String, String),
    /// A value that does not fit its field.
    #[error("`{field}`: {why}")]
    BadValue {
        /// The field.
        field: String,
        /// What is wrong.
        why: String,
    },
}

fn bad(field: Field, why: impl Into<String>) -> FilterError {
    FilterError::BadValue {
        field: field.name().to_owned(),
        why: why.into(),
    }
}

/// Reads one value for a field.
fn value(field: Field, v: &str) -> Result<Value, FilterError> {
    let v = v.trim();
    Ok(match field {
        Field::App => Value::App(
            App::ALL
                .into_iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(v))
                .ok_or_else(|| {
                    bad(
                        field,
                        format!(
                            "unknown app `{v}`; apps: {}",
                            App::ALL.map(App::as_str).join(", ")
                        ),
                    )
                })?,
        ),
        Field::Category => Value::Category(
            Category::ALL
                .into_iter()
                .find(|c| c.as_str().eq_ignore_ascii_case(v))
                .ok_or_else(|| {
                    bad(
                        field,
                        format!(
                            "unknown category `{v}`; categories: {}",
                            Category::ALL.map(Category::as_str).join(", ")
                        ),
                    )
                })?,
        ),
        Field::RecordType | Field::Asn => Value::Number(
            v.parse()
                .map_err(|_| bad(field, format!("`{v}` is not a number")))?,
        ),
        Field::Ip => {
            let (addr, bits) = match v.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (v, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| bad(field, format!("`{v}` is not an address or CIDR block")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| bad(field, format!("`{v}`: prefix length over {max}")))?,
                None => max,
            };
            // An IPv4 address written as IPv6 (`::ffff:203.0.113.5`) is stored as IPv4: so is
            // the block.
            match ip {
                IpAddr::V6(v6) if bits >= 96 && v6.to_ipv4_mapped().is_some() => {
                    Value::Cidr(ip.to_canonical(), bits - 96)
                }
                _ => Value::Cidr(ip, bits),
            }
        }
        Field::Result => Value::Outcome(match v.to_ascii_lowercase().as_str() {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            "unknown" => Outcome::Unknown,
            _ => return Err(bad(field, "success, failure or unknown")),
        }),
        Field::ActorKind => Value::ActorKind(match v.to_ascii_lowercase().as_str() {
            "user" => ActorKind::User,
            "admin" => ActorKind::Admin,
            "external" => ActorKind::External,
            "system" => ActorKind::System,
            "application" => ActorKind::Application,
            "unknown" => ActorKind::Unknown,
            _ => {
                return Err(bad(
                    field,
                    "user, admin, external, system, application or unknown",
                ));
            }
        }),
        Field::Admin | Field::External | Field::Impersonated => {
            Value::Flag(match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(bad(field, "true or false")),
            })
        }
        Field::Time => return Err(bad(field, "use a range: time=FROM..TO")),
        Field::IpTag if v.contains('|') => {
            return Err(bad(
                field,
                "one category, name:NAME or tag:TAG per value (no `|`)",
            ));
        }
        Field::User
        | Field::Operation
        | Field::Workload
        | Field::UserAgent
        | Field::Text
        | Field::Country
        | Field::Isp
        | Field::IpTag
        | Field::DeviceType
        | Field::ClientApp
        | Field::Os
        | Field::Group => Value::Text(v.to_owned()),
    })
}

fn time(field: Field, s: &str) -> Result<Option<DateTime<Utc>>, FilterError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let t = parse_creation_time(s).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
    });
    t.map(Some).ok_or_else(|| {
        bad(
            field,
            format!("`{s}` is not a time (2026-11-20 or 2026-11-20T08:00:00Z)"),
        )
    })
}

/// Values separated by commas; a value in double quotes may hold commas (`isp="Amazon.com, Inc."`).
fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

impl Condition {
    /// Reads one condition (`app=exchange`, `user!=*`, `time=2026-11-20..`, `text~secret`).
    pub fn parse(s: &str) -> Result<Condition, FilterError> {
        // The operator follows the field name: values may hold `=`, `!=` or `~` themselves.
        let s = s.trim_start();
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let (name, after) = s.split_at(name_len);
        let after = after.trim_start();
        let (op, rest) = if let Some(r) = after.strip_prefix("!=") {
            ("!=", r)
        } else if let Some(r) = after.strip_prefix('~') {
            ("~", r)
        } else if let Some(r) = after.strip_prefix('=') {
            ("=", r)
        } else {
            return Err(FilterError::Syntax(s.to_owned()));
        };
        let field = Field::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                FilterError::UnknownField(name.to_owned(), Field::ALL.map(|(_, n)| n).join(", "))
            })?;
        let rest = rest.trim();
        let test = match (op, rest) {
            ("~", words) => Test::Contains(words.to_owned()),
            ("=", "*") => Test::IsSet,
            ("!=", "*") => Test::NotSet,
            (_, r) if field == Field::Time => {
                let (a, b) = r
                    .split_once("..")
                    .ok_or_else(|| bad(field, "use a range: time=FROM..TO"))?;
                if op == "!=" {
                    return Err(bad(field, "a time range is written time=FROM..TO"));
                }
                Test::TimeRange(time(field, a)?, time(field, b)?)
            }
            ("=", r) if field == Field::RecordType && r.contains("..") => {
                let (a, b) = r.split_once("..").unwrap_or((r, ""));
                let num = |x: &str| -> Result<Option<i64>, FilterError> {
                    let x = x.trim();
                    if x.is_empty() {
                        Ok(None)
                    } else {
                        x.parse()
                            .map(Some)
                            .map_err(|_| bad(field, format!("`{x}` is not a number")))
                    }
                };
                Test::NumberRange(num(a)?, num(b)?)
            }
            (_, r) => {
                let values = split_values(r)
                    .iter()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| value(field, v))
                    .collect::<Result<Vec<_>, _>>()?;
                if values.is_empty() {
                    return Err(bad(field, "no value"));
                }
                if matches!(field, Field::Admin | Field::External | Field::Impersonated)
                    && values.len() > 1
                {
                    return Err(bad(field, "one value: true or false"));
                }
                if op == "=" {
                    Test::AnyOf(values)
                } else {
                    Test::NoneOf(values)
                }
            }
        };
        if field == Field::Group && !matches!(test, Test::AnyOf(_) | Test::NoneOf(_)) {
            return Err(bad(
                field,
                "a group's name or id: group=Sales or group!=Sales",
            ));
        }
        if field == Field::Text && !matches!(test, Test::Contains(_)) {
            return Err(bad(field, "free text is searched with text~WORDS"));
        }
        if matches!(test, Test::Contains(_))
            && !matches!(
                field,
                Field::Text | Field::User | Field::Operation | Field::UserAgent | Field::Isp
            )
        {
            return Err(bad(
                field,
                "~ (contains) works on text, user, operation, user_agent and isp",
            ));
        }
        Ok(Condition { field, test })
    }
}

impl Filter {
    /// Reads a filter from its conditions.
    pub fn parse<S: AsRef<str>>(conditions: &[S]) -> Result<Filter, FilterError> {
        Ok(Filter {
            conditions: conditions
                .iter()
                .map(|c| Condition::parse(c.as_ref()))
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_as_written() {
        let f = Filter::parse(&[
            "app=exchange,share-point",
            "user!=*",
            "category!=login",
            "time=2026-11-20..2026-11-21T06:00:00Z",
            "record_type=1..20",
            "ip=10.0.0.0/8",
            "admin=true",
            "text~Secret Plan",
        ])
        .expect("reads");
        assert_eq!(
            f.conditions[0].test,
            Test::AnyOf(vec![Value::App(App::Exchange), Value::App(App::SharePoint)])
        );
        assert_eq!(f.conditions[1].test, Test::NotSet);
        assert_eq!(
            f.conditions[2].test,
            Test::NoneOf(vec![Value::Category(Category::Login)])
        );
        assert!(matches!(
            f.conditions[3].test,
            Test::TimeRange(Some(_), Some(_))
        ));
        assert_eq!(f.conditions[4].test, Test::NumberRange(Some(1), Some(20)));
        assert_eq!(
            f.conditions[5].test,
            Test::AnyOf(vec![Value::Cidr("10.0.0.0".parse().expect("ip"), 8)])
        );
        assert_eq!(f.conditions[6].test, Test::AnyOf(vec![Value::Flag(true)]));
        assert_eq!(f.conditions[7].test, Test::Contains("Secret Plan".into()));
        // Values that hold commas (quoted) or operator characters.
        let c = Condition::parse(r#"isp="Amazon.com, Inc.",Other"#).expect("reads");
        assert_eq!(
            c.test,
            Test::AnyOf(vec![
                Value::Text("Amazon.com, Inc.".into()),
                Value::Text("Other".into())
            ])
        );
        let c = Condition::parse("user_agent=a=b!=c~d").expect("reads");
        assert_eq!(c.test, Test::AnyOf(vec![Value::Text("a=b!=c~d".into())]));
        let c = Condition::parse("text~x!=y").expect("reads");
        assert_eq!(c.test, Test::Contains("x!=y".into()));
    }

    #[test]
    fn mistakes_say_what_to_write() {
        for (s, want) in [
            ("app", "FIELD=VALUE"),
            ("colour=red", "unknown field `colour`"),
            ("app=exchnage", "unknown app `exchnage`; apps: exchange"),
            ("ip=10.0.0.0/33", "prefix length over 32"),
            ("time=yesterday", "time=FROM..TO"),
            ("time=2026-13-01..", "is not a time"),
            ("text=x", "text~WORDS"),
            ("app~ex", "contains"),
            ("result=maybe", "success, failure or unknown"),
            ("admin=true,false", "one value"),
            ("ip_tag=vpn|corporate", "no `|`"),
        ] {
            let e = Condition::parse(s).expect_err(s).to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn ipv4_written_as_ipv6_is_read_as_ipv4() {
        let c = Condition::parse("ip=::ffff:203.0.113.0/120").expect("reads");
        assert_eq!(
            c.test,
            Test::AnyOf(vec![Value::Cidr("203.0.113.0".parse().expect("ip"), 24)])
        );
    }
}
