//! Strings detection keeps by the hundred thousand (record Ids, addresses, country codes) held
//! without a heap allocation when they can be: a tenant's users each keep dozens of them for a
//! day, and as `String`s their allocations were most of detection's memory.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes held inline: an IPv4 address, a country code, most IPv6 addresses.
const INLINE: usize = 22;

/// A string in 24 bytes: inline up to 22 bytes, a lowercase GUID (the Management API's record
/// Ids) as its 16 bytes, anything else boxed. Each string has one form, so equality is exact.
/// Serialised as the string itself, so saved state reads the same either way.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Packed {
    /// Up to [`INLINE`] bytes of UTF-8 (the rest zero).
    Inline {
        /// Bytes used.
        len: u8,
        /// The bytes.
        bytes: [u8; INLINE],
    },
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
            return Packed::Guid(g);
        }
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            return Packed::Inline {
                len: s.len() as u8,
                bytes,
            };
        }
        Packed::Boxed(s.into())
    }
}

impl From<String> for Packed {
    fn from(s: String) -> Packed {
        Packed::from(s.as_str())
    }
}

impl Packed {
    /// The string (written out for a GUID).
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            // Built from a `&str`, so always UTF-8; an impossible failure reads as empty.
            Packed::Inline { len, bytes } => {
                Cow::Borrowed(std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default())
            }
            Packed::Guid(g) => Cow::Owned(write_guid(g)),
            Packed::Boxed(s) => Cow::Borrowed(s),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self, Packed::Inline { len: 0, .. })
    }
}

impl PartialEq<str> for Packed {
    fn eq(&self, other: &str) -> bool {
        match self {
            Packed::Guid(g) => guid(other).as_ref() == Some(g),
            _ => self.as_str() == other,
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
        f.write_str(&self.as_str())
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.as_str(), f)
    }
}

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Packed, D::Error> {
        Cow::<'de, str>::deserialize(d).map(|s| Packed::from(&*s))
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

fn write_guid(g: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in g.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 15)]));
    }
    s
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
        assert!(matches!(packed, Packed::Guid(_)));
        assert_eq!(packed.to_string(), id);
        assert!(packed == *id);
        let upper = id.to_ascii_uppercase();
        assert!(matches!(Packed::from(upper.as_str()), Packed::Boxed(_)));
        assert_eq!(Packed::from(upper.as_str()).to_string(), upper);
        assert!(matches!(Packed::from("203.0.113.7"), Packed::Inline { .. }));
        assert!(matches!(
            Packed::from("2001:db8:85a3::8a2e:370:7334"),
            Packed::Boxed(_)
        ));
        assert!(Packed::from("").is_empty());
        assert!(!Packed::from("US").is_empty());
        // A GUID-shaped string that is not one stays text.
        for s in [
            "5f2b4a7e-0c1d-4e8f-9a3b-6c7d8e9f0a1g",
            "5f2b4a7e00c1d-4e8f-9a3b-6c7d8e9f0a1b",
        ] {
            assert!(!matches!(Packed::from(s), Packed::Guid(_)), "{s}");
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
    }

    proptest! {
        /// Any string, GUIDs included, reads back exactly, compares equal to itself only, and
        /// survives a save.
        #[test]
        fn any_string_round_trips(s in "\\PC{0,40}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-fA-F]{4}-[0-9a-f]{4}-[0-9a-f]{12}", t in "\\PC{0,30}") {
            let p = Packed::from(s.as_str());
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
