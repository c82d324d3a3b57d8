//! The activity-log filter language evaluated on one event in memory, with the semantics of the
//! store's SQL (ASCII case folding, `!=` matching a missing value, `ip_tag` parts, CIDR blocks,
//! free text over decoded values): a policy matches exactly what its filter lists in the log.

use std::net::IpAddr;

use skylight_model::filter::{Condition, Field, Filter, Test, Value};

use crate::event::Event;

/// What a field holds for an event.
enum Have<'a> {
    Text(Option<&'a str>),
    Number(Option<i64>),
    Flag(bool),
    Code(Option<Value>),
}

fn have(e: &Event, f: Field) -> Have<'_> {
    let r = &e.row;
    match f {
        // A record without a readable time is stored at 0 ms, and the log filters it there.
        Field::Time => Have::Number(Some(r.time.map_or(0, |t| t.timestamp_millis()))),
        Field::User => Have::Text(r.user.as_deref()),
        Field::Operation => Have::Text(r.operation.as_deref()),
        Field::Workload => Have::Text(r.workload.as_deref()),
        Field::UserAgent => Have::Text(r.user_agent.as_deref()),
        Field::Ip => Have::Text(r.ip.as_deref()),
        Field::Country => Have::Text(r.country.as_deref()),
        Field::Isp => Have::Text(r.isp.as_deref()),
        Field::IpTag => Have::Text(r.ip_tags.as_deref()),
        Field::DeviceType => Have::Text(r.device_type.as_deref()),
        Field::ClientApp => Have::Text(r.client_app.as_deref()),
        Field::Os => Have::Text(r.os.as_deref()),
        Field::Text => Have::Text(None),
        Field::RecordType => Have::Number(r.record_type),
        Field::Asn => Have::Number(None),
        // Refused in policies (scopes name groups); never asked here.
        Field::Group => Have::Text(None),
        Field::App => Have::Code(r.app.map(Value::App)),
        Field::Category => Have::Code(r.category.map(Value::Category)),
        Field::Result => Have::Code(r.result.map(Value::Outcome)),
        Field::ActorKind => Have::Code(r.actor_kind.map(Value::ActorKind)),
        Field::Admin => Have::Flag(r.admin),
        Field::External => Have::Flag(r.external_user),
        Field::Impersonated => Have::Flag(r.impersonated),
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    // Blocks arrive canonical from the filter's parser (IPv4 written as IPv6 made IPv4), as
    // stored addresses are.
    match (ip.to_canonical(), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let Some(shift) = 32u32.checked_sub(u32::from(bits)) else {
                return false;
            };
            let mask = u32::MAX.checked_shl(shift).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let Some(shift) = 128u32.checked_sub(u32::from(bits)) else {
                return false;
            };
            let mask = u128::MAX.checked_shl(shift).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Whether a stored text equals one value of the condition.
fn text_equals(field: Field, have: &str, want: &Value) -> bool {
    match (field, want) {
        (Field::Ip, Value::Cidr(net, bits)) => have
            .parse::<IpAddr>()
            .is_ok_and(|ip| in_block(ip, *net, *bits)),
        (Field::IpTag, Value::Text(t)) => have.split('|').any(|p| p.eq_ignore_ascii_case(t)),
        (_, Value::Text(t)) => have.eq_ignore_ascii_case(t),
        _ => false,
    }
}

fn condition(e: &Event, c: &Condition, text: &mut Option<String>) -> bool {
    if c.field == Field::Text {
        let Test::Contains(word) = &c.test else {
            return true;
        };
        let t = text.get_or_insert_with(|| skylight_store::searchable_text(&e.raw));
        return t.contains(&word.to_lowercase());
    }
    match (have(e, c.field), &c.test) {
        (Have::Text(v), Test::IsSet) | (Have::Text(v), Test::NotSet) => {
            v.is_some() == matches!(c.test, Test::IsSet)
        }
        (Have::Text(v), Test::Contains(w)) => {
            v.is_some_and(|v| v.to_ascii_lowercase().contains(&w.to_ascii_lowercase()))
        }
        (Have::Text(v), Test::AnyOf(vs)) => {
            v.is_some_and(|v| vs.iter().any(|w| text_equals(c.field, v, w)))
        }
        (Have::Text(v), Test::NoneOf(vs)) => {
            v.is_none_or(|v| !vs.iter().any(|w| text_equals(c.field, v, w)))
        }
        (Have::Number(v), Test::IsSet) | (Have::Number(v), Test::NotSet) => {
            v.is_some() == matches!(c.test, Test::IsSet)
        }
        (Have::Number(v), Test::TimeRange(from, to)) => v.is_some_and(|ms| {
            from.is_none_or(|f| ms >= f.timestamp_millis())
                && to.is_none_or(|t| ms < t.timestamp_millis())
        }),
        (Have::Number(v), Test::NumberRange(lo, hi)) => {
            v.is_some_and(|n| lo.is_none_or(|l| n >= l) && hi.is_none_or(|h| n <= h))
        }
        (Have::Number(v), Test::AnyOf(vs)) => v.is_some_and(|n| vs.contains(&Value::Number(n))),
        (Have::Number(v), Test::NoneOf(vs)) => v.is_none_or(|n| !vs.contains(&Value::Number(n))),
        (Have::Flag(b), Test::AnyOf(vs)) => vs.contains(&Value::Flag(b)),
        (Have::Flag(b), Test::NoneOf(vs)) => !vs.contains(&Value::Flag(b)),
        (Have::Flag(_), Test::IsSet) => true,
        (Have::Flag(_), Test::NotSet) => false,
        (Have::Code(v), Test::IsSet) | (Have::Code(v), Test::NotSet) => {
            v.is_some() == matches!(c.test, Test::IsSet)
        }
        (Have::Code(v), Test::AnyOf(vs)) => v.is_some_and(|v| vs.contains(&v)),
        (Have::Code(v), Test::NoneOf(vs)) => v.is_none_or(|v| !vs.contains(&v)),
        // Tests a field cannot take were refused when the filter was read.
        _ => false,
    }
}

/// Whether every condition of the filter holds for the event.
pub fn matches(filter: &Filter, e: &Event) -> bool {
    let mut text = None;
    filter.conditions.iter().all(|c| condition(e, c, &mut text))
}
