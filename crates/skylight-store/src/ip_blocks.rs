//! The values of an `ip` condition, as both backends read them.

use std::net::IpAddr;

use skylight_model::filter::Value;

/// The blocks an `ip` condition lists (an address is a block of its full length), and whether
/// every one is a single address: those are found by their canonical text, as stored.
pub(crate) fn ip_blocks(vs: &[Value]) -> (Vec<(IpAddr, u8)>, bool) {
    let blocks: Vec<(IpAddr, u8)> = vs
        .iter()
        .filter_map(|v| match v {
            Value::Cidr(ip, bits) => Some((*ip, *bits)),
            _ => None,
        })
        .collect();
    let addresses = blocks
        .iter()
        .all(|(ip, bits)| *bits == if ip.is_ipv4() { 32 } else { 128 });
    (blocks, addresses)
}
