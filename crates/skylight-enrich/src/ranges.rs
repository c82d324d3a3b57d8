//! Address ranges an administrator names and tags: corporate offices, VPN egress, known-risky
//! addresses, cloud providers. Policies and the activity log filter on the category and tags.

use std::net::IpAddr;

use serde::Deserialize;

use crate::EnrichError;

/// What a named range is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpCategory {
    /// The organisation's own networks.
    Corporate,
    /// VPN egress (the organisation's or a known provider's).
    Vpn,
    /// Known-bad or anonymising addresses.
    Risky,
    /// A cloud or hosting provider.
    CloudProvider,
    /// Anything else worth a name.
    Other,
}

impl IpCategory {
    /// The identifier used in configuration and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            IpCategory::Corporate => "corporate",
            IpCategory::Vpn => "vpn",
            IpCategory::Risky => "risky",
            IpCategory::CloudProvider => "cloud_provider",
            IpCategory::Other => "other",
        }
    }
}

/// A named range, as configured (`[[ip_range]]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRangeConfig {
    /// A name people recognise ("Paris office").
    pub name: String,
    /// What it is.
    pub category: IpCategory,
    /// Its blocks, as CIDR (`203.0.113.0/24`) or single addresses.
    pub cidrs: Vec<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// An address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub bits: u8,
}

impl Cidr {
    /// Reads `a.b.c.d/n`, `x::/n` or a single address.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, b) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = if b.is_empty() {
            max
        } else {
            b.parse().ok().filter(|b| *b <= max)?
        };
        Some(Cidr { addr, bits })
    }

    /// Whether the block holds the address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A configured range, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: IpCategory,
    /// Its blocks.
    pub blocks: Vec<Cidr>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// Every configured range.
#[derive(Debug, Clone, Default)]
pub struct IpRanges {
    ranges: Vec<IpRange>,
}

impl IpRanges {
    /// Reads the configured ranges; a block that is not CIDR is an error naming its range.
    pub fn new(config: &[IpRangeConfig]) -> Result<IpRanges, EnrichError> {
        let ranges = config
            .iter()
            .map(|c| {
                let blocks = c
                    .cidrs
                    .iter()
                    .map(|s| {
                        Cidr::parse(s).ok_or_else(|| EnrichError::Range {
                            range: c.name.clone(),
                            why: format!("`{s}` is not an address or CIDR block (203.0.113.0/24)"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(IpRange {
                    name: c.name.clone(),
                    category: c.category,
                    blocks,
                    tags: c.tags.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpRanges { ranges })
    }

    /// The ranges holding an address, in configuration order.
    pub fn matching(&self, ip: IpAddr) -> impl Iterator<Item = &IpRange> {
        self.ranges
            .iter()
            .filter(move |r| r.blocks.iter().any(|b| b.contains(ip)))
    }
}
