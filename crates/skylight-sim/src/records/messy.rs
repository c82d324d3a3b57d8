//! Helpers the record builders share, and the messiness real records show (contract §6.2).
//!
//! Every quirk is rare on purpose: most records come out clean, a few carry the shapes a tolerant
//! parser has to survive. Each quirk is tagged with the reference's quirk id (R1, R2, R3 …).

use serde_json::{Map, Value};

use super::{RecordCtx, ip_string};
use crate::rng::{Rng, hash, hash_str};
use crate::tenant::{User, UserKind};

/// Inserts one field.
pub(super) fn put(rec: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    rec.insert(key.to_owned(), value.into());
}

/// Removes a field when it is an empty string (real records omit what they do not know).
pub(super) fn drop_empty(rec: &mut Map<String, Value>, key: &str) {
    if rec.get(key).is_some_and(|v| v.as_str() == Some("")) {
        rec.remove(key);
    }
}

/// A `{Name, Value}` pair as Microsoft writes `Parameters`, `ExtendedProperties`,
/// `OperationProperties`, `DeviceProperties` and `Fields`.
pub(super) fn nv(name: &str, value: impl Into<Value>) -> Value {
    let mut m = Map::new();
    m.insert("Name".to_owned(), Value::String(name.to_owned()));
    m.insert("Value".to_owned(), value.into());
    Value::Object(m)
}

/// A `{Name, NewValue, OldValue}` entry of Entra/SharePoint `ModifiedProperties`.
pub(super) fn modified(name: &str, new: impl Into<Value>, old: impl Into<Value>) -> Value {
    let mut m = Map::new();
    m.insert("Name".to_owned(), Value::String(name.to_owned()));
    m.insert("NewValue".to_owned(), new.into());
    m.insert("OldValue".to_owned(), old.into());
    Value::Object(m)
}

/// An `{ID, Type}` entry of `Actor[]` / `Target[]` (IdentityType: 0 Claim, 1 Name, 2 Other,
/// 3 PUID, 4 SPN, 5 UPN — contract §3.2).
pub(super) fn ident(id: impl Into<Value>, kind: i64) -> Value {
    let mut m = Map::new();
    m.insert("ID".to_owned(), id.into());
    m.insert("Type".to_owned(), Value::from(kind));
    Value::Object(m)
}

/// A scalar pretty-printed as a one-element JSON array, the way Entra writes `ModifiedProperties`
/// values: `[\r\n  false\r\n]`.
pub(super) fn pretty(raw_json: &str) -> String {
    format!("[\r\n  {raw_json}\r\n]")
}

/// A string pretty-printed as a one-element JSON array: `[\r\n  "value"\r\n]`.
pub(super) fn pretty_str(s: &str) -> String {
    pretty(&Value::String(s.to_owned()).to_string())
}

/// Serialises a value to a JSON string (never fails for `Value`).
pub(super) fn stringify(v: &Value) -> String {
    v.to_string()
}

/// One element of a slice, or `None` when it is empty.
pub(super) fn pick_opt<'a, T>(r: &mut Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(r.below(items.len() as u64) as usize)
    }
}

/// The local part of an address (`adele.vance` of `adele.vance@contoso.com`).
pub(super) fn alias(upn: &str) -> &str {
    upn.split('@').next().unwrap_or(upn)
}

/// A stable GUID for something named `what`/`n` in this tenant (a policy, a role, a workspace…).
pub(super) fn stable_guid(ctx: &RecordCtx<'_>, what: &str, n: u64) -> String {
    let h = hash(&[ctx.tenant.seed, hash_str(what), n]);
    crate::rng::guid(h, crate::rng::mix64(h))
}

/// A stable number for something named `what`/`n` in this tenant.
pub(super) fn stable_u64(ctx: &RecordCtx<'_>, what: &str, n: u64) -> u64 {
    hash(&[ctx.tenant.seed, hash_str(what), n])
}

/// Another user of the tenant (not the actor) whose kind passes `ok`; a few random probes, so the
/// cost does not grow with the directory. Falls back to the actor.
pub(super) fn other_user<'t>(
    ctx: &RecordCtx<'t>,
    r: &mut Rng,
    ok: impl Fn(&User) -> bool,
) -> &'t User {
    let users = &ctx.tenant.users;
    for _ in 0..12 {
        if let Some(u) = users.get(r.below(users.len() as u64) as usize)
            && u.index != ctx.user.index
            && ok(u)
        {
            return u;
        }
    }
    ctx.user
}

/// True for users who have a mailbox and a OneDrive (members and admins).
pub(super) fn has_mailbox(u: &User) -> bool {
    matches!(
        u.kind,
        UserKind::Member | UserKind::Admin(_) | UserKind::Service
    )
}

/// Base64-looking identifiers of the kind Exchange uses for items and folders (`LgAAAA…`).
pub(super) fn ews_id(r: &mut Rng, prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(prefix.len() + len);
    s.push_str(prefix);
    let mut bits = 0u64;
    let mut left = 0;
    for _ in 0..len {
        if left == 0 {
            bits = r.next_u64();
            left = 10;
        }
        s.push(ALPHABET[(bits & 63) as usize] as char);
        bits >>= 6;
        left -= 1;
    }
    s
}

/// The same, from a fixed seed (stable ids such as a mailbox's folder ids).
pub(super) fn stable_ews_id(parts: &[u64], prefix: &str, len: usize) -> String {
    ews_id(&mut Rng::new(parts), prefix, len)
}

/// `n` lowercase hex digits.
pub(super) fn hex_lower(r: &mut Rng, n: usize) -> String {
    let mut s = r.hex_upper(n);
    s.make_ascii_lowercase();
    s
}

/// R3: the other shapes `ClientIP` takes in real data — with a port, bracketed with a port, or
/// IPv4-mapped IPv6 (contract §3.1, §3.13, quirk R3; BEATS `ip-formats`).
pub(super) fn ip_variant(r: &mut Rng, ip: [u8; 4]) -> String {
    let plain = ip_string(ip);
    let port = 1024 + r.below(64_000);
    match r.below(4) {
        0 | 1 => format!("{plain}:{port}"),
        2 => format!("[{plain}]:{port}"),
        _ => format!("::ffff:{plain}"),
    }
}

/// `ip:port`, the form Exchange admin and Yammer records usually carry (contract §3.3, §3.12; R3).
pub(super) fn ip_with_port(r: &mut Rng, ip: [u8; 4]) -> String {
    format!("{}:{}", ip_string(ip), 1024 + r.below(64_000))
}

/// Probability of an R3 `ClientIP` variant on a record that otherwise has the plain address.
const P_IP_VARIANT: f64 = 0.02;
/// Probability of R1 (a Name/Value array serialised as a JSON string).
const P_STRINGLY: f64 = 0.01;
/// Probability of R2 (a number serialised as a string).
const P_NUMBERY: f64 = 0.005;

/// Fields documented as Name/Value arrays that real records sometimes carry stringified (R1).
const STRINGLY_FIELDS: [&str; 3] = ["Parameters", "ExtendedProperties", "OperationProperties"];

/// Applies the rare quirks to a finished record. `ip_quirks` is false for records whose `ClientIP`
/// must stay the plain address (STS logons, where it equals `ActorIpAddress`).
pub(super) fn finish(
    ctx: &RecordCtx<'_>,
    r: &mut Rng,
    rec: &mut Map<String, Value>,
    ip_quirks: bool,
) {
    // R3: ClientIP with a port, "[ip]:port" or "::ffff:ip" instead of the plain address.
    if r.chance(P_IP_VARIANT)
        && ip_quirks
        && let Some(Value::String(s)) = rec.get("ClientIP")
        && !s.is_empty()
        && !s.contains(':')
    {
        let v = ip_variant(r, ctx.ip);
        rec.insert("ClientIP".to_owned(), Value::String(v));
    }
    // R1: "stringly" JSON — the first Name/Value array present arrives as a JSON-encoded string.
    if r.chance(P_STRINGLY) {
        for key in STRINGLY_FIELDS {
            if let Some(v @ Value::Array(_)) = rec.get_mut(key) {
                let s = stringify(v);
                *v = Value::String(s);
                break;
            }
        }
    }
    // R2: "numbery" JSON — UserType as a string ("0").
    if r.chance(P_NUMBERY)
        && let Some(v @ Value::Number(_)) = rec.get_mut("UserType")
    {
        let s = v.to_string();
        *v = Value::String(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_values_use_crlf_and_two_spaces() {
        assert_eq!(pretty("false"), "[\r\n  false\r\n]");
        assert_eq!(pretty_str("a\"b"), "[\r\n  \"a\\\"b\"\r\n]");
    }

    #[test]
    fn ip_variants_keep_the_address() {
        let mut r = Rng::new(&[3]);
        for _ in 0..50 {
            let v = ip_variant(&mut r, [10, 1, 2, 3]);
            assert!(v.contains("10.1.2.3") && v != "10.1.2.3", "{v}");
        }
    }

    #[test]
    fn ews_ids_have_the_prefix_and_length() {
        let mut r = Rng::new(&[4]);
        let id = ews_id(&mut r, "LgAAAA", 58);
        assert!(id.starts_with("LgAAAA") && id.len() == 64);
    }
}
