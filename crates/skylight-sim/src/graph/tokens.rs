//! Opaque paging and delta tokens (`$skiptoken`, `$deltatoken`, drive `token=`).
//!
//! A token carries its state (position in the change sequence, cursor, remembered `$select`,
//! issue time) and a keyed checksum, so clients cannot build or edit one: a changed token is
//! unknown, and answered as Microsoft answers unknown tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::rng::{hash, hash_str};

const SEP: char = '\u{1f}';

/// The state a delta token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaToken {
    /// What is tracked: `users`, `groups` or `drive`.
    pub kind: String,
    /// Drive id for drive deltas; empty otherwise.
    pub scope: String,
    /// Changes after this sequence number are reported.
    pub since: u64,
    /// Inside a round (a `nextLink`): the round reports changes up to this number.
    pub upto: u64,
    /// Inside a round: the last (sequence, id) reported.
    pub after: Option<(u64, String)>,
    /// Unix time the token was issued (tokens expire).
    pub issued: i64,
    /// The `$select` of the round's first request, remembered.
    pub select: String,
    /// A `nextLink` (true) or a `deltaLink` (false).
    pub next: bool,
}

fn seal(seed: u64, payload: &str) -> String {
    let mac = hash(&[seed, hash_str("graph-token"), hash_str(payload)]);
    let mut bytes = payload.as_bytes().to_vec();
    bytes.extend_from_slice(&mac.to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn open(seed: u64, token: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .ok()?;
    if bytes.len() < 8 {
        return None;
    }
    let (payload, mac) = bytes.split_at(bytes.len() - 8);
    let payload = std::str::from_utf8(payload).ok()?;
    let want = hash(&[seed, hash_str("graph-token"), hash_str(payload)]);
    (mac == want.to_le_bytes()).then(|| payload.to_string())
}

impl DeltaToken {
    /// The token's wire form.
    pub fn encode(&self, seed: u64) -> String {
        let (aseq, aid) = self
            .after
            .clone()
            .map_or((String::new(), String::new()), |(s, i)| (s.to_string(), i));
        let payload = [
            "d",
            &self.kind,
            &self.scope,
            &self.since.to_string(),
            &self.upto.to_string(),
            &aseq,
            &aid,
            &self.issued.to_string(),
            &self.select,
            if self.next { "n" } else { "l" },
        ]
        .join(&SEP.to_string());
        seal(seed, &payload)
    }

    /// Reads a token; `None` when it is not one of ours.
    pub fn decode(seed: u64, token: &str) -> Option<DeltaToken> {
        let payload = open(seed, token)?;
        let f: Vec<&str> = payload.split(SEP).collect();
        if f.len() != 10 || f[0] != "d" {
            return None;
        }
        let after = if f[5].is_empty() {
            None
        } else {
            Some((f[5].parse().ok()?, f[6].to_string()))
        };
        Some(DeltaToken {
            kind: f[1].to_string(),
            scope: f[2].to_string(),
            since: f[3].parse().ok()?,
            upto: f[4].parse().ok()?,
            after,
            issued: f[7].parse().ok()?,
            select: f[8].to_string(),
            next: f[9] == "n",
        })
    }
}

/// A `$skiptoken` for a listing: what is listed and the last key returned.
pub fn skip_encode(seed: u64, what: &str, after: &str) -> String {
    seal(seed, &format!("s{SEP}{what}{SEP}{after}"))
}

/// Reads a `$skiptoken` of a listing of `what`; `None` when it is not one.
pub fn skip_decode(seed: u64, what: &str, token: &str) -> Option<String> {
    let payload = open(seed, token)?;
    let mut f = payload.splitn(3, SEP);
    (f.next() == Some("s") && f.next() == Some(what)).then(|| f.next().unwrap_or("").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_edits() {
        let t = DeltaToken {
            kind: "drive".into(),
            scope: "b!abc".into(),
            since: 10,
            upto: 42,
            after: Some((12, "01ABC".into())),
            issued: 1_700_000_000,
            select: "id,name".into(),
            next: true,
        };
        let s = t.encode(7);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(DeltaToken::decode(7, &s), Some(t));
        assert_eq!(DeltaToken::decode(8, &s), None, "another tenant's token");
        let mut edited = s.clone().into_bytes();
        edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            DeltaToken::decode(7, &String::from_utf8(edited).unwrap_or_default()),
            None
        );
        assert_eq!(DeltaToken::decode(7, "not a token"), None);
        let k = skip_encode(7, "users", "abc");
        assert_eq!(skip_decode(7, "users", &k).as_deref(), Some("abc"));
        assert_eq!(skip_decode(7, "groups", &k), None);
    }
}
