//! IPv4 client addresses kept inline in `records.client_ip` instead of in the `strings`
//! dictionary.
//!
//! The dictionary pays for values that repeat (users, operations, agents); a tenant's client
//! addresses barely do (a 10,000-user week holds about 370,000 of them, each seen about six
//! times), and each new one was a lookup, an insert and two index entries at random places in
//! the writer's transaction: a fifth of the bytes written per record (5.3 → 4.2 KB). So an IPv4
//! address written in its canonical dotted form is stored as `address − 2³²` (from −2³² to −1),
//! which no dictionary id (always positive) can be, and is ordered like the address itself.
//! Anything else (IPv6, text that is not an address) stays in the dictionary. Rows written
//! by earlier versions refer to the dictionary for IPv4 too: every reader takes both.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// 2³²: the offset that makes an IPv4 address's number negative.
const OFFSET: i64 = 1 << 32;

/// The column value of a canonical IPv4 address; `None` for anything else (kept in the
/// dictionary), including forms that would not read back byte for byte (`010.0.0.1`).
pub(super) fn inline(text: &str) -> Option<i64> {
    let v4: Ipv4Addr = text.parse().ok()?;
    let mut canonical = String::with_capacity(15);
    let _ = write!(canonical, "{v4}");
    (canonical == text).then(|| i64::from(u32::from(v4)) - OFFSET)
}

/// The address an inline column value holds; `None` for a dictionary id.
pub(super) fn text(value: i64) -> Option<String> {
    let number = u32::try_from(value.checked_add(OFFSET)?).ok()?;
    (value < 0).then(|| Ipv4Addr::from(number).to_string())
}

/// The inline values of the addresses in `net/bits`, as an inclusive range.
pub(super) fn block(net: Ipv4Addr, bits: u8) -> (i64, i64) {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    };
    let first = u32::from(net) & mask;
    let last = first | !mask;
    (i64::from(first) - OFFSET, i64::from(last) - OFFSET)
}

/// SQL for the text of the address column `$col` (`r.client_ip`): the dotted form of an inline
/// value, else `$dictionary` (an expression reading the `strings` row). A macro so that it can
/// sit in the constant column lists; `||` binds tighter than the bit operators, hence the
/// parentheses.
macro_rules! address_text {
    ($col:literal, $dictionary:literal) => {
        concat!(
            "(CASE WHEN ",
            $col,
            " < 0 THEN ((",
            $col,
            " + 4294967296) >> 24) || '.' || (((",
            $col,
            " + 4294967296) >> 16) & 255) || '.' || (((",
            $col,
            " + 4294967296) >> 8) & 255) || '.' || ((",
            $col,
            " + 4294967296) & 255) ELSE ",
            $dictionary,
            " END)"
        )
    };
}
pub(crate) use address_text;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn canonical_ipv4_goes_inline_and_reads_back() {
        for a in ["0.0.0.0", "10.1.2.3", "192.168.0.255", "255.255.255.255"] {
            let v = inline(a).unwrap();
            assert!(v < 0, "{a}: {v}");
            assert_eq!(text(v).as_deref(), Some(a));
        }
        assert!(inline("10.0.0.1").unwrap() < inline("10.0.0.2").unwrap());
    }

    #[test]
    fn anything_else_stays_in_the_dictionary() {
        for t in [
            "::1",
            "2001:db8::1",
            "010.0.0.1",
            "10.0.0.1:443",
            " 10.0.0.1",
            "",
            "x",
        ] {
            assert_eq!(inline(t), None, "{t}");
        }
        assert_eq!(text(1), None);
        assert_eq!(text(0), None);
        assert_eq!(text(i64::MIN), None);
    }

    #[test]
    fn a_block_is_the_range_of_its_addresses() {
        let (lo, hi) = block("10.1.0.0".parse().unwrap(), 16);
        assert_eq!(text(lo).as_deref(), Some("10.1.0.0"));
        assert_eq!(text(hi).as_deref(), Some("10.1.255.255"));
        let (lo, hi) = block("0.0.0.0".parse().unwrap(), 0);
        assert_eq!((lo, hi), (-(1 << 32), -1));
        let (lo, hi) = block("10.1.2.3".parse().unwrap(), 32);
        assert_eq!(
            (lo, hi),
            (inline("10.1.2.3").unwrap(), inline("10.1.2.3").unwrap())
        );
    }

    #[test]
    fn sql_reads_inline_addresses_as_the_code_does() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for a in ["0.0.0.0", "10.1.2.3", "172.16.254.1", "255.255.255.255"] {
            let v = inline(a).unwrap();
            let sql = concat!("SELECT ", address_text!("?1", "'dictionary'"));
            let got: String = conn.query_row(sql, [v], |r| r.get(0)).unwrap();
            assert_eq!(got, a);
        }
        let sql = concat!("SELECT ", address_text!("?1", "'dictionary'"));
        let got: String = conn.query_row(sql, [7], |r| r.get(0)).unwrap();
        assert_eq!(got, "dictionary");
    }
}
