//! Strings detection keeps by the hundred thousand (record Ids, addresses, country codes) held
//! without a heap allocation when they can be: a tenant's users each keep dozens of them for a
//! day, and as `String`s their allocations were most of detection's memory.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes held inline: an IPv4 address, a country code, most IPv6 addresses.
const INLINE: usize = 22;

/// A string in 24 bytes: inline up to 22 bytes, a lowercase GUID (the Management API's record
/// Ids) as its 16 bytes, anything else boxed. Serialised as the string itself, so saved state
/// reads the same either way.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Packed(Repr);

/// The forms, private so that each string has exactly one (derived equality relies on it).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Up to [`INLINE`] bytes of UTF-8, the rest zero.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A GUID written `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex.
    Guid([u8; 16]),
    /// Anything longer.
    Boxed(Box<str>),
}

impl Default for Packed {
    fn default() -> Self {
        Packed::from("")
    }
}

impl From<&str> for Packed {
    fn from(s: &str) -> Packed {
        if let Some(g) = guid(s) {
            return Packed(Repr::Guid(g));
        }
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            return Packed(Repr::Inline {
                len: s.len() as u8,
                bytes,
            });
        }
        Packed(Repr::Boxed(s.into()))
    }
}

impl From<String> for Packed {
    fn from(s: String) -> Packed {
        if s.len() > INLINE && guid(&s).is_none() {
            return Packed(Repr::Boxed(s.into_boxed_str()));
        }
        Packed::from(s.as_str())
    }
}

impl Packed {
    /// Calls `f` with the string, written out on the stack for a GUID (no allocation).
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match &self.0 {
            // Built from a `&str` (or hex digits and hyphens), so always UTF-8; an impossible
            // failure reads as empty rather than panicking.
            Repr::Inline { len, bytes } => {
                let used = bytes.get(..usize::from(*len)).unwrap_or_default();
                f(std::str::from_utf8(used).unwrap_or_default())
            }
            Repr::Guid(g) => {
                let text = write_guid(g);
                f(std::str::from_utf8(&text).unwrap_or_default())
            }
            Repr::Boxed(s) => f(s),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self.0, Repr::Inline { len: 0, .. })
    }
}

impl PartialEq<str> for Packed {
    fn eq(&self, other: &str) -> bool {
        match &self.0 {
            Repr::Guid(g) => guid(other).as_ref() == Some(g),
            _ => self.with_str(|s| s == other),
        }
    }
}

impl PartialEq<&str> for Packed {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for Packed {
    fn eq(&self, other: &String) -> bool {
        *self == *other.as_str()
    }
}

impl fmt::Display for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| f.write_str(s))
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| fmt::Debug::fmt(s, f))
    }
}

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_str(|text| s.serialize_str(text))
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Packed, D::Error> {
        d.deserialize_str(PackedVisitor)
    }
}

/// Reads a string without first copying it into a `String` of its own.
struct PackedVisitor;

impl serde::de::Visitor<'_> for PackedVisitor {
    type Value = Packed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Packed, E> {
        Ok(Packed::from(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Packed, E> {
        Ok(Packed::from(v))
    }
}

/// The 16 bytes of a GUID in its lowercase hyphenated form; `None` for anything else (an
/// uppercase GUID stays text, so that it reads back as it was written).
fn guid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for byte in &mut out {
        let hi = lower_hex(*digits.next()?)?;
        let lo = lower_hex(*digits.next()?)?;
        *byte = hi << 4 | lo;
    }
    digits.next().is_none().then_some(out)
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A GUID's lowercase hyphenated form, on the stack.
fn write_guid(g: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, byte) in g.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        out[at] = HEX[usize::from(byte >> 4)];
        out[at + 1] = HEX[usize::from(byte & 15)];
        at += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn it_is_as_small_as_a_string_header() {
        assert_eq!(std::mem::size_of::<Packed>(), 24);
        assert_eq!(std::mem::size_of::<Option<Packed>>(), 24);
    }

    #[test]
    fn each_kind_of_string_takes_its_form_and_reads_back() {
        let id = "5f2b4a7e-0c1d-4e8f-9a3b-6c7d8e9f0a1b";
        let packed = Packed::from(id);
        assert!(matches!(packed.0, Repr::Guid(_)));
        assert_eq!(packed.to_string(), id);
        assert!(packed == *id);
        let upper = id.to_ascii_uppercase();
        assert!(matches!(Packed::from(upper.as_str()).0, Repr::Boxed(_)));
        assert_eq!(Packed::from(upper.as_str()).to_string(), upper);
        assert!(matches!(Packed::from("203.0.113.7").0, Repr::Inline { .. }));
        assert!(matches!(
            Packed::from("2001:db8:85a3::8a2e:370:7334").0,
            Repr::Boxed(_)
        ));
        assert!(Packed::from("").is_empty());
        assert!(!Packed::from("US").is_empty());
        // A GUID-shaped string that is not one stays text.
        for s in [
            "5f2b4a7e-0c1d-4e8f-9a3b-6c7d8e9f0a1g",
            "5f2b4a7e00c1d-4e8f-9a3b-6c7d8e9f0a1b",
        ] {
            assert!(!matches!(Packed::from(s).0, Repr::Guid(_)), "{s}");
            assert_eq!(Packed::from(s).to_string(), s);
        }
    }

    #[test]
    fn it_is_saved_as_the_string_itself() {
        let id = "5f2b4a7e-0c1d-4e8f-9a3b-6c7d8e9f0a1b";
        let json = serde_json::to_string(&Packed::from(id)).expect("serialised");
        assert_eq!(json, format!("\"{id}\""));
        let back: Packed = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, Packed::from(id));
        // An escaped string is unescaped into a buffer first: the same value.
        let escaped: Packed =
            serde_json::from_str("\"5f2b4a7e-0c1d-4e8f-9a3b-6c7d8e9f0a1\\u0062\"")
                .expect("read back");
        assert_eq!(escaped, Packed::from(id));
    }

    proptest! {
        /// Any string, GUIDs included, reads back exactly, compares equal to itself only, and
        /// survives a save.
        #[test]
        fn any_string_round_trips(s in "\\PC{0,40}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-fA-F]{4}-[0-9a-f]{4}-[0-9a-f]{12}", t in "\\PC{0,30}") {
            let p = Packed::from(s.as_str());
            prop_assert_eq!(&Packed::from(s.clone()), &p, "an owned string takes the same form");
            prop_assert_eq!(p.to_string(), s.clone());
            prop_assert!(p == *s.as_str());
            let q = Packed::from(t.as_str());
            prop_assert_eq!(p == q, s == t);
            prop_assert_eq!(p != *t.as_str(), s != t);
            let json = serde_json::to_string(&p).expect("serialised");
            let back: Packed = serde_json::from_str(&json).expect("read back");
            prop_assert_eq!(back, p);
        }
    }
}
