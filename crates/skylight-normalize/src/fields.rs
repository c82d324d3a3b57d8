//! A JSON object's members read in one pass without building a tree: names and raw values
//! borrowed from the record's bytes, looked up by name in any casing. Parsing a whole record into
//! `serde_json::Value` (a map of owned strings) was the largest part of normalising it; most
//! members are never looked at, so only the ones asked for are decoded.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// The members of one JSON object, in document order.
pub(crate) struct Fields<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// One member's value, still as its JSON text.
#[derive(Clone, Copy)]
pub(crate) struct Field<'a>(&'a RawValue);

impl<'a> Fields<'a> {
    /// Reads a JSON object (nothing but whitespace around it).
    pub(crate) fn parse(raw: &'a [u8]) -> Result<Self, String> {
        // Checked as UTF-8 once: read from bytes, serde_json checks every raw value again.
        let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
        // Skipping a raw value does not check it the way reading it does (a lone surrogate
        // escape, a number out of range, nesting past serde_json's limit all pass), and every
        // later reader of the record — detection, Sigma rules, the activity page — reads it
        // whole: what they could not read is refused here, as it was when this parse built a
        // tree.
        let fields: Fields<'a> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (_, value) in &fields.members {
            Strict::check(value)?;
        }
        Ok(fields)
    }

    /// A member by name: exactly, or else in another casing (services differ). Like a map, the
    /// last of repeated names wins; of several casings, the first in byte order.
    pub(crate) fn get(&self, name: &str) -> Option<Field<'a>> {
        let mut exact = None;
        let mut folded: Option<&(Cow<'a, str>, &'a RawValue)> = None;
        for member in &self.members {
            let key = member.0.as_ref();
            // Lengths differ for almost every member: the cheap test first.
            if key.len() != name.len() {
                continue;
            }
            if key == name {
                exact = Some(member.1);
            } else if key.eq_ignore_ascii_case(name)
                // `<=`: of a repeated name, the last.
                && folded.is_none_or(|f| key <= f.0.as_ref())
            {
                folded = Some(member);
            }
        }
        exact.or(folded.map(|m| m.1)).map(Field)
    }

    /// A member by its exact name (the last, if repeated).
    pub(crate) fn exact(&self, name: &str) -> Option<Field<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Field(v))
    }

    /// A member as non-empty text (numbers and booleans as written).
    pub(crate) fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name)?.text()
    }

    /// A member as owned non-empty text.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(Cow::into_owned)
    }

    /// A member as an integer (a JSON integer, or text holding one).
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.int()
    }

    /// A member as a flag: `true`, or text saying `true` in any casing.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(Field::flag)
    }
}

impl<'a> Field<'a> {
    /// The JSON text of the value.
    fn json(self) -> &'a str {
        self.0.get()
    }

    /// The value as non-empty text: strings (not blank) as they are, numbers and booleans as
    /// written; `None` for null, objects and arrays.
    pub(crate) fn text(self) -> Option<Cow<'a, str>> {
        let json = self.json();
        match json.as_bytes().first()? {
            b'"' => {
                let s = string(json)?;
                (!s.trim().is_empty()).then_some(s)
            }
            b't' => Some(Cow::Borrowed("true")),
            b'f' => Some(Cow::Borrowed("false")),
            b'-' | b'0'..=b'9' => json
                .parse::<serde_json::Number>()
                .ok()
                .map(|n| Cow::Owned(n.to_string())),
            _ => None,
        }
    }

    /// The value as an integer: a JSON integer, or a string holding one (spaces around allowed).
    pub(crate) fn int(self) -> Option<i64> {
        let json = self.json();
        match json.as_bytes().first()? {
            b'"' => string(json)?.trim().parse().ok(),
            b'-' | b'0'..=b'9' => json.parse::<serde_json::Number>().ok()?.as_i64(),
            _ => None,
        }
    }

    /// The value as a flag: `true`, or a string saying `true` in any casing.
    pub(crate) fn flag(self) -> bool {
        let json = self.json();
        match json.as_bytes().first() {
            Some(b't') => true,
            Some(b'"') => string(json).is_some_and(|s| s.eq_ignore_ascii_case("true")),
            _ => false,
        }
    }

    /// The value as a JSON tree.
    pub(crate) fn value(self) -> Option<Value> {
        serde_json::from_str(self.json()).ok()
    }

    /// The value's members, if it is an object.
    pub(crate) fn fields(self) -> Option<Fields<'a>> {
        if !self.json().starts_with('{') {
            return None;
        }
        serde_json::from_str(self.json()).ok()
    }

    /// The value's items, if it is an array.
    pub(crate) fn items(self) -> Option<Vec<Field<'a>>> {
        if !self.json().starts_with('[') {
            return None;
        }
        let items: Items<'a> = serde_json::from_str(self.json()).ok()?;
        Some(items.0)
    }
}

/// A JSON string's content: borrowed when it has no escapes.
fn string(json: &str) -> Option<Cow<'_, str>> {
    let inner = json.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(json).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// Reads an object's members (see [`Fields`]).
struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(Name(name)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((name, value));
        }
        Ok(Fields { members })
    }
}

/// Levels of arrays and objects a member's value may nest: serde_json reads 127 into a tree, the
/// record's own object being the first (a test holds the two to the same limit).
const MEMBER_NESTING: usize = 126;

/// Reads a JSON value through, as serde_json reads it into a tree, dropping it as it goes:
/// strings unescaped (a lone surrogate refused), numbers in range, nesting within `levels`.
#[derive(Clone, Copy)]
struct Strict {
    levels: usize,
}

impl Strict {
    /// Checks one member's value, unless it is plain text or a literal (nothing to check).
    fn check(value: &RawValue) -> Result<(), String> {
        let json = value.get();
        let plain = match json.as_bytes().first() {
            Some(b'"') => !json.contains('\\'),
            Some(b't' | b'f' | b'n') => true,
            _ => false,
        };
        if plain {
            return Ok(());
        }
        let mut de = serde_json::Deserializer::from_str(json);
        Strict {
            levels: MEMBER_NESTING,
        }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())
    }

    /// One level further in, if the limit allows.
    fn inner<E: serde::de::Error>(self) -> Result<Strict, E> {
        match self.levels.checked_sub(1) {
            Some(levels) => Ok(Strict { levels }),
            None => Err(E::custom("recursion limit exceeded")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        // Names are read like strings (their escapes too); they add no level.
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
}

/// A member name, borrowed unless it has escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Reads a member name (see [`Name`]).
struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Name(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Name(Cow::Owned(v.to_owned())))
    }
}

/// The items of a JSON array, each still as its JSON text.
struct Items<'a>(Vec<Field<'a>>);

impl<'de> Deserialize<'de> for Items<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ItemsVisitor)
    }
}

/// Reads an array's items (see [`Items`]).
struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(Field(item));
        }
        Ok(Items(items))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_found_in_any_casing_and_the_exact_one_first() {
        let raw = br#"{"clientip":"a","CLIENTIP":"b","ClientIP":"c","Id":1,"Id":2}"#;
        let f = Fields::parse(raw).unwrap();
        assert_eq!(f.text("ClientIP").as_deref(), Some("c"));
        // Of the other casings, the first in byte order (as a sorted map would find it).
        assert_eq!(f.text("ClientIp").as_deref(), Some("b"));
        assert_eq!(f.text("Id").as_deref(), Some("2"), "the last repeat wins");
        assert_eq!(f.text("id").as_deref(), Some("2"));
        assert!(f.get("Missing").is_none());
        assert!(f.exact("clientIP").is_none());
        assert_eq!(
            f.exact("clientip").and_then(Field::text).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn values_read_as_text_integers_and_flags() {
        let raw = br#"{"s":"x\u00e9\"y","blank":"  ","n":15,"f":1.50,"e":1e3,"t":true,
            "ns":" 42 ","o":{"Id":"i"},"a":[1,{"ID":"u"}],"nul":null,"ft":"TRUE","nk\u0041":"esc"}"#;
        let f = Fields::parse(raw).unwrap();
        assert_eq!(f.text("s").as_deref(), Some("x\u{e9}\"y"));
        assert_eq!(f.text("blank"), None);
        assert_eq!(f.text("n").as_deref(), Some("15"));
        assert_eq!(f.text("f").as_deref(), Some("1.5"));
        assert_eq!(f.text("e").as_deref(), Some("1000.0"));
        assert_eq!(f.text("t").as_deref(), Some("true"));
        assert_eq!(
            (f.text("o"), f.text("a"), f.text("nul")),
            (None, None, None)
        );
        assert_eq!(
            f.text("nkA").as_deref(),
            Some("esc"),
            "escaped names are decoded"
        );
        assert_eq!(
            (f.int("n"), f.int("ns"), f.int("f"), f.int("s")),
            (Some(15), Some(42), None, None)
        );
        assert!(f.flag("t") && f.flag("ft") && !f.flag("s") && !f.flag("missing"));
        let o = f.get("o").unwrap().fields().unwrap();
        assert_eq!(o.text("id").as_deref(), Some("i"));
        let items = f.get("a").unwrap().items().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].fields().is_none());
        assert_eq!(items[1].fields().unwrap().text("ID").as_deref(), Some("u"));
        assert!(f.get("o").unwrap().items().is_none() && f.get("a").unwrap().fields().is_none());
    }

    #[test]
    fn only_a_whole_object_is_read() {
        for raw in [
            &b""[..],
            b"[]",
            b"null",
            b"\"x\"",
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"{\"a\":\xff}",
        ] {
            assert!(
                Fields::parse(raw).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(Fields::parse(b" {\"a\":[1,{\"b\":2}]} \n").is_ok());
    }

    /// What every later reader of a record (detection, Sigma, the activity page) can read:
    /// a tree of the whole record.
    fn readable(raw: &str) -> bool {
        serde_json::from_str::<Value>(raw).is_ok()
    }

    #[test]
    fn what_a_whole_read_refuses_is_refused_though_skipping_would_pass_it() {
        let mut cases = vec![
            r#"{"a":"\ud800"}"#.to_owned(),
            r#"{"a":"x\udc00y"}"#.to_owned(),
            r#"{"a":"\ud83d\ude00"}"#.to_owned(),
            r#"{"a":["\ud800"]}"#.to_owned(),
            r#"{"a":{"\ud800":1}}"#.to_owned(),
            r#"{"\ud800":1}"#.to_owned(),
            r#"{"a":1e400}"#.to_owned(),
            r#"{"a":-1e400}"#.to_owned(),
            r#"{"a":1e300}"#.to_owned(),
            r#"{"a":[0,{"b":1E+999}]}"#.to_owned(),
            format!(r#"{{"a":{}}}"#, "9".repeat(400)),
            r#"{"a":"\n\t\"\\\/\u00e9"}"#.to_owned(),
        ];
        // Nesting on either side of serde_json's limit, in arrays and in objects.
        for n in 120..=135 {
            cases.push(format!(r#"{{"a":{}{}}}"#, "[".repeat(n), "]".repeat(n)));
            cases.push(format!(
                r#"{{"a":{}1{}}}"#,
                r#"{"b":"#.repeat(n),
                "}".repeat(n)
            ));
        }
        let mut refused = 0;
        for raw in &cases {
            let ours = Fields::parse(raw.as_bytes()).is_ok();
            assert_eq!(
                ours,
                readable(raw),
                "{} ({} bytes)",
                &raw[..raw.len().min(60)],
                raw.len()
            );
            refused += usize::from(!ours);
        }
        assert!(
            refused >= 8 + 2 * 8,
            "both sides of every limit were tried: {refused}"
        );
    }
}
