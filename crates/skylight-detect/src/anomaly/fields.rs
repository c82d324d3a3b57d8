//! Reading audit records the way detections need: operations, parameters, modified
//! properties, mail domains and targets.

use crate::event::Event;

/// Whether the event's operation is one of these (case-insensitive).
pub(super) fn is_op(e: &Event, names: &[&str]) -> bool {
    names.iter().any(|n| e.operation().eq_ignore_ascii_case(n))
}

/// A `Parameters` value, when present and not blank.
pub(super) fn param(e: &Event, name: &str) -> Option<String> {
    e.property(&format!("Parameters.{name}"))
        .map(str::to_owned)
        .filter(|v| !v.trim().is_empty())
}

/// Whether a value reads `True`.
pub(super) fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The domain of an address (`smtp:` prefix and brackets removed), lowercase.
pub(super) fn domain_of(address: &str) -> Option<String> {
    let a = address.trim().trim_matches(['"', '\'', '<', '>', '[', ']']);
    let a = a
        .strip_prefix("smtp:")
        .or_else(|| a.strip_prefix("SMTP:"))
        .unwrap_or(a);
    a.rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Whether a domain is one of these or a sub-domain of one.
pub(super) fn internal(domain: &str, own: &[String]) -> bool {
    own.iter()
        .any(|d| domain == d || domain.ends_with(&format!(".{d}")))
}

/// The user a directory change is about (the target), lowercase.
pub(super) fn target_user(e: &Event) -> Option<String> {
    e.field("ObjectId")
        .filter(|o| o.contains('@'))
        .or_else(|| {
            e.activity()
                .objects
                .iter()
                .filter(|o| o.kind == skylight_model::ObjectKind::User)
                .find_map(|o| o.name.clone().or_else(|| o.id.clone()))
                .filter(|o| o.contains('@'))
        })
        .map(|u| u.to_ascii_lowercase())
}

/// A `ModifiedProperties` entry's (old, new) values as the record wrote them (flattening would
/// turn an emptied list into no key at all).
pub(super) fn modified(e: &Event, name: &str) -> Option<(String, String)> {
    let list: serde_json::Value = serde_json::from_str(&e.field("ModifiedProperties")?).ok()?;
    let entry = list.as_array()?.iter().find(|m| {
        m["Name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })?;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Some((text(&entry["OldValue"]), text(&entry["NewValue"])))
}

/// Whether a JSON list written as text holds something (`[]`, empty and `null` do not).
pub(super) fn non_empty_list(v: Option<&str>) -> bool {
    v.map(str::trim)
        .is_some_and(|t| !t.is_empty() && t != "[]" && t != "null")
}
