//! Address ranges an administrator names and tags: corporate offices, VPN egress, known-risky
//! addresses, cloud providers. Policies and the activity log filter on the category and tags.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::EnrichError;

/// What a named range is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
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
    /// Every category, in the order the console lists them.
    pub const ALL: [IpCategory; 5] = [
        IpCategory::Corporate,
        IpCategory::Vpn,
        IpCategory::Risky,
        IpCategory::CloudProvider,
        IpCategory::Other,
    ];

    /// The category named by [`IpCategory::as_str`].
    pub fn parse(s: &str) -> Option<IpCategory> {
        IpCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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

/// Networks of the largest Tor exit-relay operators (as the Tor Project's relay search listed them
/// in 2026), so that sign-ins through Tor are tagged `risky` without any configuration. A snapshot:
/// exits come and go, so a deployment should add the current exit list as an `[[ip_range]]` of
/// category `risky` when it can fetch one.
pub const TOR_EXIT_NETWORKS: [&str; 10] = [
    "185.220.100.0/22",
    "171.25.193.0/24",
    "109.70.100.0/24",
    "199.249.230.0/24",
    "192.42.116.0/24",
    "204.8.96.0/22",
    "45.141.215.0/24",
    "185.129.61.0/24",
    "23.129.64.0/24",
    "104.244.72.0/21",
];

/// The built-in range of Tor exits (category `risky`, tag `tor`).
fn builtin_tor_exits() -> IpRange {
    IpRange {
        name: "Tor exit (built-in)".into(),
        category: IpCategory::Risky,
        blocks: TOR_EXIT_NETWORKS
            .iter()
            .filter_map(|c| Cidr::parse(c))
            .collect(),
        tags: vec!["tor".into()],
    }
}

/// Every configured range, and the built-in ones after them.
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
        let mut ranges = ranges;
        ranges.push(builtin_tor_exits());
        Ok(IpRanges { ranges })
    }

    /// The ranges holding an address, in configuration order.
    pub fn matching(&self, ip: IpAddr) -> impl Iterator<Item = &IpRange> {
        self.ranges
            .iter()
            .filter(move |r| r.blocks.iter().any(|b| b.contains(ip)))
    }
}
