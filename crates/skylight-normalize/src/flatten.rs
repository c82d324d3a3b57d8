//! Name/Value arrays and stringified JSON, flattened so that filters can reach every value.
//!
//! `Parameters`, `ExtendedProperties`, `OperationProperties`, `DeviceProperties`… are arrays of
//! `{"Name": …, "Value": …}`; `ModifiedProperties` carries `NewValue` and `OldValue`; some
//! services send these arrays, or whole objects, as a JSON string. Each value ends up under a
//! dotted key: `Parameters.ForwardTo`, `ModifiedProperties.AccountEnabled.NewValue`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fields::Fields;

/// Fields whose Name/Value (or stringified) content is flattened.
pub const FLATTENED: [&str; 8] = [
    "Parameters",
    "ExtendedProperties",
    "ModifiedProperties",
    "OperationProperties",
    "DeviceProperties",
    "AdditionalInfo",
    "Data",
    "ExtraProperties",
];

/// Depth beyond which nested values are kept as their JSON text.
const MAX_DEPTH: usize = 8;

/// The flattened properties of a record.
pub(crate) fn properties(record: &Fields<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for field in FLATTENED {
        if let Some(v) = record.exact(field).and_then(|f| f.value()) {
            flatten(field, &v, &mut out, 0);
        }
    }
    out
}

/// A value as text: strings as they are, everything else as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A string that holds JSON (an object or an array), parsed.
fn embedded_json(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(s).ok()
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > MAX_DEPTH {
        out.insert(prefix.to_owned(), text(v));
        return;
    }
    match v {
        Value::String(s) => match embedded_json(s) {
            Some(inner) => flatten(prefix, &inner, out, depth + 1),
            None => {
                out.insert(prefix.to_owned(), s.clone());
            }
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_object().and_then(name_of) {
                    Some(name) => named(prefix, &name, item, out, depth),
                    None => flatten(&format!("{prefix}.{i}"), item, out, depth + 1),
                }
            }
        }
        Value::Object(map) => {
            for (k, inner) in map {
                flatten(&format!("{prefix}.{k}"), inner, out, depth + 1);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// `Name` of a Name/Value entry (any key casing).
fn name_of(m: &Map<String, Value>) -> Option<String> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

fn named(prefix: &str, name: &str, item: &Value, out: &mut BTreeMap<String, String>, depth: usize) {
    let Some(m) = item.as_object() else { return };
    let key = format!("{prefix}.{name}");
    for (k, v) in m {
        if k.eq_ignore_ascii_case("name") {
            continue;
        }
        if k.eq_ignore_ascii_case("value") {
            flatten(&key, v, out, depth + 1);
        } else {
            flatten(&format!("{key}.{k}"), v, out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn name_value_arrays_and_stringified_json_become_dotted_keys() {
        let record = json!({
            "Parameters": [{"Name": "Identity", "Value": "alice"}, {"Name": "ForwardTo", "Value": "x@evil.example"}],
            "ModifiedProperties": [{"Name": "AccountEnabled", "NewValue": "[false]", "OldValue": "[true]"}],
            "OperationProperties": "[{\"Name\":\"ItemName\",\"Value\":\"Q3\"}]",
            "AdditionalInfo": "{\"a\":{\"b\":1}}",
            "ExtendedProperties": [{"name": "UserAgent", "value": "Mozilla/5.0"}],
            "DeviceProperties": [["odd"]],
        });
        let raw = record.to_string();
        let p = properties(&Fields::parse(raw.as_bytes()).expect("object"));
        let want = [
            ("AdditionalInfo.a.b", "1"),
            ("DeviceProperties.0.0", "odd"),
            ("ExtendedProperties.UserAgent", "Mozilla/5.0"),
            ("ModifiedProperties.AccountEnabled.NewValue.0", "false"),
            ("ModifiedProperties.AccountEnabled.OldValue.0", "true"),
            ("OperationProperties.ItemName", "Q3"),
            ("Parameters.ForwardTo", "x@evil.example"),
            ("Parameters.Identity", "alice"),
        ];
        assert_eq!(
            p.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            want
        );
    }

    #[test]
    fn a_parameter_string_that_is_not_json_stays_text() {
        let record = json!({"Parameters": "[not json", "Data": "{\"x\": [1, 2"});
        let raw = record.to_string();
        let p = properties(&Fields::parse(raw.as_bytes()).expect("object"));
        assert_eq!(p.get("Parameters").map(String::as_str), Some("[not json"));
        assert_eq!(p.get("Data").map(String::as_str), Some("{\"x\": [1, 2"));
    }
}
