//! OData query options as Graph reads them: `$select`, `$top`, `$filter` (the handful of forms
//! the contract names), `$skiptoken`, and the query string kept for `@odata.nextLink`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::graph::ops::{OpError, err};

/// Percent-decoding without treating `+` as a space (paths).
pub fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                (bytes.get(i + 1).copied().unwrap_or(b'x') as char).to_digit(16),
                (bytes.get(i + 2).copied().unwrap_or(b'x') as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value.
pub fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b','
            | b'$'
            | b'\''
            | b'('
            | b')'
            | b':'
            | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Query parameters in order, decoded.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`+` is a space in query strings).
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            raw.unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (crate::http::form_decode(k), crate::http::form_decode(v))
                })
                .collect(),
        )
    }

    /// A parameter (names compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query string without the named parameters, re-encoded (for `@odata.nextLink`).
    pub fn without(&self, names: &[&str]) -> String {
        self.0
            .iter()
            .filter(|(k, _)| !names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `$select` as a list of property names.
    pub fn select(&self) -> Option<Vec<String>> {
        self.get("$select").map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
    }

    /// `$top`, checked against the endpoint's maximum.
    pub fn top(&self, default: usize, max: usize, code: &'static str) -> Result<usize, OpError> {
        match self.get("$top") {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(err(
                    400,
                    code,
                    format!(
                        "Invalid page size specified: '{v}'. Must be between 1 and {max} inclusive."
                    ),
                )),
            },
        }
    }
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `'text'`
    Str(String),
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Num(f64),
    /// `null`
    Null,
    /// An unquoted date-time.
    Time(DateTime<Utc>),
}

/// One condition of a filter (conditions are joined by `and`).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `prop op literal` with op one of `eq ne ge gt le lt`.
    Cmp(String, &'static str, Lit),
    /// `startswith(prop,'x')`
    StartsWith(String, String),
    /// `endswith(prop,'x')` (advanced query)
    EndsWith(String, String),
    /// `prop/any(c:c eq 'x')`
    Any(String, String),
    /// `prop in ('a','b')`
    In(String, Vec<Lit>),
}

impl Cond {
    /// The property the condition is on.
    pub fn prop(&self) -> &str {
        match self {
            Cond::Cmp(p, _, _)
            | Cond::StartsWith(p, _)
            | Cond::EndsWith(p, _)
            | Cond::Any(p, _)
            | Cond::In(p, _) => p,
        }
    }

    /// The operator's name, for the rules of each resource.
    pub fn op(&self) -> &'static str {
        match self {
            Cond::Cmp(_, op, _) => op,
            Cond::StartsWith(..) => "startswith",
            Cond::EndsWith(..) => "endswith",
            Cond::Any(..) => "any",
            Cond::In(..) => "in",
        }
    }
}

fn lit(s: &str) -> Option<Lit> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        return Some(Lit::Str(inner.replace("''", "'")));
    }
    match s.to_ascii_lowercase().as_str() {
        "true" => return Some(Lit::Bool(true)),
        "false" => return Some(Lit::Bool(false)),
        "null" => return Some(Lit::Null),
        _ => {}
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(Lit::Time(t.with_timezone(&Utc)));
    }
    s.parse::<f64>().ok().map(Lit::Num)
}

/// Splits on a keyword outside quotes and parentheses.
fn split_top(s: &str, word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let lower = s.to_ascii_lowercase();
    let pat = format!(" {word} ");
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ => {}
        }
        if !quoted && depth == 0 && lower[i..].starts_with(&pat) {
            parts.push(s[start..i].to_string());
            i += pat.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(s[start..].to_string());
    parts
}

fn unsupported(clause: &str) -> OpError {
    err(
        400,
        "Request_UnsupportedQuery",
        format!(
            "Unsupported or invalid query filter clause specified: '{}'.",
            clause.trim()
        ),
    )
}

/// Parses a `$filter` into its `and`-joined conditions.
pub fn parse_filter(s: &str) -> Result<Vec<Cond>, OpError> {
    if split_top(s, "or").len() > 1 {
        return Err(unsupported(s));
    }
    let mut out = Vec::new();
    for clause in split_top(s, "and") {
        let c = clause.trim();
        let lower = c.to_ascii_lowercase();
        let func = |name: &str| -> Option<(String, String)> {
            let inner = lower.strip_prefix(name).map(|_| &c[name.len()..])?;
            let inner = inner.trim().strip_prefix('(')?.strip_suffix(')')?;
            let (p, v) = inner.split_once(',')?;
            match lit(v)? {
                Lit::Str(x) => Some((p.trim().to_string(), x)),
                _ => None,
            }
        };
        if lower.starts_with("startswith(") {
            let (p, v) = func("startswith").ok_or_else(|| unsupported(c))?;
            out.push(Cond::StartsWith(p, v));
            continue;
        }
        if lower.starts_with("endswith(") {
            let (p, v) = func("endswith").ok_or_else(|| unsupported(c))?;
            out.push(Cond::EndsWith(p, v));
            continue;
        }
        if let Some(i) = lower.find("/any(") {
            let prop = c[..i].trim().to_string();
            let inner = c[i + 5..]
                .trim()
                .strip_suffix(')')
                .ok_or_else(|| unsupported(c))?;
            let (var, body) = inner.split_once(':').ok_or_else(|| unsupported(c))?;
            let parts: Vec<&str> = body.trim().splitn(3, ' ').collect();
            match parts.as_slice() {
                [v, op, l] if *v == var.trim() && op.eq_ignore_ascii_case("eq") => match lit(l) {
                    Some(Lit::Str(x)) => out.push(Cond::Any(prop, x)),
                    _ => return Err(unsupported(c)),
                },
                _ => return Err(unsupported(c)),
            }
            continue;
        }
        let parts: Vec<&str> = c.splitn(3, ' ').collect();
        let [prop, op, rest] = parts.as_slice() else {
            return Err(unsupported(c));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "eq" => "eq",
            "ne" => "ne",
            "ge" => "ge",
            "gt" => "gt",
            "le" => "le",
            "lt" => "lt",
            "in" => {
                let inner = rest
                    .trim()
                    .strip_prefix('(')
                    .and_then(|x| x.strip_suffix(')'))
                    .ok_or_else(|| unsupported(c))?;
                let items = inner
                    .split(',')
                    .map(lit)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| unsupported(c))?;
                out.push(Cond::In(prop.to_string(), items));
                continue;
            }
            _ => return Err(unsupported(c)),
        };
        out.push(Cond::Cmp(
            prop.to_string(),
            op,
            lit(rest).ok_or_else(|| unsupported(c))?,
        ));
    }
    Ok(out)
}

fn lookup<'a>(v: &'a Value, prop: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in prop.split('/') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

fn cmp(v: &Value, l: &Lit) -> Option<std::cmp::Ordering> {
    match (v, l) {
        (Value::String(s), Lit::Str(x)) => Some(s.to_lowercase().cmp(&x.to_lowercase())),
        (Value::String(s), Lit::Time(t)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc).cmp(t)),
        (Value::Bool(b), Lit::Bool(x)) => Some(b.cmp(x)),
        (Value::Number(n), Lit::Num(x)) => n.as_f64().and_then(|a| a.partial_cmp(x)),
        (Value::Null, Lit::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// True when the object (its full JSON) meets every condition.
pub fn matches(conds: &[Cond], obj: &Value) -> bool {
    use std::cmp::Ordering::*;
    conds.iter().all(|c| {
        let v = lookup(obj, c.prop()).unwrap_or(&Value::Null);
        match c {
            Cond::Cmp(_, op, l) => {
                let o = cmp(v, l);
                match *op {
                    "eq" => o == Some(Equal),
                    "ne" => o != Some(Equal),
                    "ge" => matches!(o, Some(Greater | Equal)),
                    "gt" => o == Some(Greater),
                    "le" => matches!(o, Some(Less | Equal)),
                    _ => o == Some(Less),
                }
            }
            Cond::StartsWith(_, x) => v
                .as_str()
                .is_some_and(|s| s.to_lowercase().starts_with(&x.to_lowercase())),
            Cond::EndsWith(_, x) => v
                .as_str()
                .is_some_and(|s| s.to_lowercase().ends_with(&x.to_lowercase())),
            Cond::Any(_, x) => v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e.as_str().is_some_and(|s| s.eq_ignore_ascii_case(x)))
            }),
            Cond::In(_, items) => items.iter().any(|l| cmp(v, l) == Some(Equal)),
        }
    })
}

/// Which filters a resource supports: `(property, operators)`; advanced operators (`ne`,
/// `endswith`) need `ConsistencyLevel: eventual` and `$count=true` (contract §4.1).
pub fn check_filter(
    conds: &[Cond],
    allowed: &[(&str, &[&str])],
    advanced: bool,
    resource: &str,
) -> Result<(), OpError> {
    for c in conds {
        let ok = allowed
            .iter()
            .any(|(p, ops)| p.eq_ignore_ascii_case(c.prop()) && ops.contains(&c.op()));
        let needs_advanced = matches!(c.op(), "ne" | "endswith");
        if !ok || (needs_advanced && !advanced) {
            return Err(err(
                400,
                "Request_UnsupportedQuery",
                format!(
                    "Unsupported or invalid query filter clause specified for property '{}' of resource '{resource}'.",
                    c.prop()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_parse_and_match() {
        let f = parse_filter("accountEnabled eq false and userType eq 'Guest'").unwrap_or_default();
        assert_eq!(f.len(), 2);
        assert!(matches(
            &f,
            &json!({"accountEnabled": false, "userType": "guest"})
        ));
        assert!(!matches(
            &f,
            &json!({"accountEnabled": true, "userType": "Guest"})
        ));
        let f = parse_filter("groupTypes/any(c:c eq 'Unified')").unwrap_or_default();
        assert!(matches(&f, &json!({"groupTypes": ["Unified"]})));
        let f = parse_filter("startswith(displayName,'O''Brien')").unwrap_or_default();
        assert!(matches(&f, &json!({"displayName": "O'Brien Ltd"})));
        let f = parse_filter("createdDateTime ge 2024-05-14T00:00:00Z").unwrap_or_default();
        assert!(matches(
            &f,
            &json!({"createdDateTime": "2024-05-15T00:00:00Z"})
        ));
        let f = parse_filter("status/errorCode eq 50126").unwrap_or_default();
        assert!(matches(&f, &json!({"status": {"errorCode": 50126}})));
        assert!(parse_filter("a eq 1 or b eq 2").is_err());
        assert!(parse_filter("nonsense").is_err());
        assert_eq!(pct_decode("a%23EXT%23%40b+c"), "a#EXT#@b+c");
    }
}
