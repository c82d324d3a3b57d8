//! Client IP fields as Microsoft writes them: `a.b.c.d`, `a.b.c.d:port`, `[a.b.c.d]:port`,
//! IPv6 with or without brackets and port, IPv4-mapped IPv6, and text with the address in
//! parentheses (`[CORRECTIPV4 (10.90.0.1)]`).

use std::net::{IpAddr, SocketAddr};

/// The address (IPv4-mapped IPv6 made IPv4) and port in a client IP field, if it holds one.
pub fn parse_ip(text: &str) -> Option<(IpAddr, Option<u16>)> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some((ip.to_canonical(), None));
    }
    if let Ok(sock) = t.parse::<SocketAddr>() {
        return Some((sock.ip().to_canonical(), Some(sock.port())));
    }
    // `[addr]` alone (the socket form needs a port).
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && let Ok(ip) = inner.trim().parse::<IpAddr>()
    {
        return Some((ip.to_canonical(), None));
    }
    // `[a.b.c.d]:port` with IPv4 inside brackets.
    if let Some((inner, port)) = t.strip_prefix('[').and_then(|r| r.split_once("]:"))
        && let (Ok(ip), Ok(port)) = (inner.parse::<IpAddr>(), port.parse::<u16>())
    {
        return Some((ip.to_canonical(), Some(port)));
    }
    // An address in parentheses inside some text.
    if let Some(start) = t.find('(')
        && let Some(len) = t[start + 1..].find(')')
    {
        return parse_ip(&t[start + 1..start + 1 + len]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_seen_in_the_wild() {
        let v4 = |s: &str| s.parse::<IpAddr>().ok();
        for (text, ip, port) in [
            ("10.11.12.13", "10.11.12.13", None),
            ("10.11.12.13:12345", "10.11.12.13", Some(12345)),
            ("[10.11.12.13]:12345", "10.11.12.13", Some(12345)),
            ("[10.11.12.13]", "10.11.12.13", None),
            ("::ffff:10.11.12.13", "10.11.12.13", None),
            ("[::ffff:10.11.12.13]:12345", "10.11.12.13", Some(12345)),
            ("2001:db8::abcd", "2001:db8::abcd", None),
            ("[2001:db8::abcd]:12345", "2001:db8::abcd", Some(12345)),
            ("[2001:db8::abcd]", "2001:db8::abcd", None),
            ("[CORRECTIPV4 (10.90.0.1)]", "10.90.0.1", None),
            (" 81.2.69.144 ", "81.2.69.144", None),
        ] {
            assert_eq!(parse_ip(text), Some((v4(ip).expect("ip"), port)), "{text}");
        }
        for text in [
            "",
            "localhost",
            "localhost:12345",
            "[localhost]:12345",
            "cool.client.local:12345",
            "NOTANIPV4 (10.9000.0.1)",
            "[INCORRECTIPV4 (10.900.0.1)]",
            "10.11.12.13:99999",
            "(((",
        ] {
            assert_eq!(parse_ip(text), None, "{text}");
        }
    }
}
