//! Identifiers as Microsoft forms them (grant, assignment, drive and item ids), and the stable
//! ids the audit records also use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::graph::GUser;
use crate::graph::drives::Ident;
use crate::rng::{guid, hash, hash_str, mix64};
use crate::tenant::Tenant;

/// The stable GUID the audit records use for a named thing (see `records::messy::stable_guid`).
pub(crate) fn stable(t: &Tenant, what: &str, n: u64) -> String {
    let h = hash(&[t.seed, hash_str(what), n]);
    guid(h, mix64(h))
}

/// The Microsoft Graph service principal's object id (the one audit records name).
pub fn graph_sp_id(t: &Tenant) -> String {
    stable(t, "graph-sp", 0)
}

/// The object id of a directory role (the one audit records name).
pub fn role_id(t: &Tenant, role: &str) -> String {
    stable(t, "role", hash_str(role))
}

/// The service principal object id of an app registration (the `oid` of its tokens).
pub fn registration_sp_id(client_id: &str) -> String {
    guid(hash_str(client_id), 7)
}

/// The 16 bytes of a GUID in the order .NET writes them (first three groups little-endian).
pub fn guid_bytes(g: &str) -> [u8; 16] {
    let hex: String = g.chars().filter(char::is_ascii_hexdigit).collect();
    let mut raw = [0u8; 16];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = hex
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    let mut out = raw;
    out[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    out[4..6].copy_from_slice(&[raw[5], raw[4]]);
    out[6..8].copy_from_slice(&[raw[7], raw[6]]);
    out
}

/// A delegated grant's id: base64url of client, resource and (for `Principal`) user ids.
pub fn grant_id(client: &str, resource: &str, principal: Option<&str>) -> String {
    let mut bytes = Vec::with_capacity(48);
    bytes.extend_from_slice(&guid_bytes(client));
    bytes.extend_from_slice(&guid_bytes(resource));
    if let Some(p) = principal {
        bytes.extend_from_slice(&guid_bytes(p));
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An app role assignment's id: base64url of the principal id and 16 more stable bytes.
pub fn assignment_id(principal: &str, resource: &str, role: &str) -> String {
    let mut bytes = guid_bytes(principal).to_vec();
    let h = hash(&[hash_str(resource), hash_str(role)]);
    bytes.extend_from_slice(&h.to_le_bytes());
    bytes.extend_from_slice(&mix64(h).to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A drive id: `b!` and base64url of the site, web and list ids.
pub fn drive_id(site: &str, web: &str, list: &str) -> String {
    let mut bytes = guid_bytes(site).to_vec();
    bytes.extend_from_slice(&guid_bytes(web));
    bytes.extend_from_slice(&guid_bytes(list));
    format!("b!{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A drive item id: `01`, a per-drive prefix and 26 base32 characters.
pub fn item_id(drive: &str, n: u64) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from("01");
    let mut p = hash_str(drive);
    for _ in 0..6 {
        s.push(A[(p & 31) as usize] as char);
        p >>= 5;
    }
    let mut h = hash(&[hash_str(drive), n]);
    for i in 0..26 {
        if i == 12 {
            h = mix64(h ^ n);
        }
        s.push(A[(h & 31) as usize] as char);
        h >>= 5;
    }
    s
}

/// A permission id for a login name, as SharePoint forms them (base64 of the claim).
pub fn perm_id_for(login: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("i:0#.f|membership|{login}"))
}

/// The identity a user shows as creator, grantee or owner.
pub fn ident_of(u: &GUser) -> Ident {
    Ident {
        id: Some(u.id.clone()),
        display_name: u.display_name.clone(),
        email: u.mail.clone().or_else(|| Some(u.upn.clone())),
    }
}
