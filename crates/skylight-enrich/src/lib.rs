//! Skylight's enrichment: where an address is (country, city, coordinates, ASN and ISP, from
//! MaxMind-format databases, with a built-in country database as the offline fallback), what an
//! administrator calls it (named ranges: corporate, VPN, risky, cloud provider, tags), and what a
//! user agent says (client, operating system, device kind). Pure lookups: no I/O after loading.

mod geo;
mod ranges;
pub mod ua;
mod uap;

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use serde::Deserialize;

pub use geo::{GeoDb, Location};
pub use ranges::{Cidr, IpCategory, IpRange, IpRangeConfig, IpRanges};
pub use ua::{DeviceType, UserAgent};

/// The built-in country database (see `data/README.md`), zstd-compressed.
static BUILTIN: &[u8] = include_bytes!("../data/country.mmdb.zst");

/// Attribution owed when the built-in database gave a country.
pub const BUILTIN_ATTRIBUTION: &str = "IP country data by nro.net (CC BY 4.0)";

/// Attribution owed when a DB-IP database gave a location.
pub const DBIP_ATTRIBUTION: &str = "IP Geolocation by DB-IP (https://db-ip.com, CC BY 4.0)";

/// Why enrichment could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// A database could not be read.
    #[error("cannot use the IP database {source_name}: {why}")]
    Database {
        /// Its path or name.
        source_name: String,
        /// What went wrong.
        why: String,
    },
    /// A named range is wrong.
    #[error("ip range `{range}`: {why}")]
    Range {
        /// The range's name.
        range: String,
        /// What is wrong.
        why: String,
    },
}

/// Enrichment settings (`[enrichment]` and `[[ip_range]]` in the configuration file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// A city database: DB-IP Lite City or GeoLite2-City (mmdb).
    #[serde(default)]
    pub city_db: Option<PathBuf>,
    /// An ASN database: DB-IP Lite ASN or GeoLite2-ASN (mmdb).
    #[serde(default)]
    pub asn_db: Option<PathBuf>,
    /// Named address ranges.
    #[serde(default)]
    pub ip_ranges: Vec<IpRangeConfig>,
}

/// What Skylight knows about a client address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpInfo {
    /// Location and network.
    pub location: Location,
    /// The named ranges holding it.
    pub ranges: Vec<IpRange>,
}

impl IpInfo {
    /// Categories, range names and tags, as the store keeps them: `corporate|name:Paris|tag:hq`.
    pub fn tags(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        for r in &self.ranges {
            let c = r.category.as_str().to_owned();
            if !parts.contains(&c) {
                parts.push(c);
            }
            parts.push(format!("name:{}", r.name));
            parts.extend(r.tags.iter().map(|t| format!("tag:{t}")));
        }
        (!parts.is_empty()).then(|| parts.join("|"))
    }
}

/// The lookups, loaded once and shared.
#[derive(Debug)]
pub struct Enricher {
    city: Option<GeoDb>,
    asn: Option<GeoDb>,
    builtin: Arc<GeoDb>,
    /// The configuration file's ranges, then the console's, then the built-in ones: replaced
    /// whole when the console's change, while records are being enriched.
    ranges: RwLock<Arc<IpRanges>>,
    /// The configuration file's ranges.
    configured: Vec<IpRangeConfig>,
    /// User agents already read: a tenant's records repeat a few hundred agents, and uap-core's
    /// rules cost microseconds per reading.
    agents: Mutex<HashMap<String, UserAgent>>,
}

/// Agents remembered at most (the memory stays small whatever arrives).
const AGENTS_KEPT: usize = 4_096;

/// The built-in database, decompressed once per process.
fn builtin() -> Result<Arc<GeoDb>, EnrichError> {
    static DB: OnceLock<Result<Arc<GeoDb>, String>> = OnceLock::new();
    DB.get_or_init(|| {
        let bytes = zstd::decode_all(BUILTIN).map_err(|e| e.to_string())?;
        GeoDb::from_bytes(bytes, "built-in country database")
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|why| EnrichError::Database {
        source_name: "built-in country database".into(),
        why,
    })
}

impl Enricher {
    /// Loads the configured databases and ranges (the built-in database always).
    pub fn new(config: &EnrichConfig) -> Result<Enricher, EnrichError> {
        Ok(Enricher {
            city: config.city_db.as_deref().map(GeoDb::open).transpose()?,
            asn: config.asn_db.as_deref().map(GeoDb::open).transpose()?,
            builtin: builtin()?,
            ranges: RwLock::new(Arc::new(IpRanges::new(&config.ip_ranges)?)),
            configured: config.ip_ranges.clone(),
            agents: Mutex::new(HashMap::new()),
        })
    }

    /// Uses `console` (the ranges made in the console) from now on, after the configuration
    /// file's; on an error the ranges in use stay as they were.
    pub fn set_console_ranges(&self, console: &[IpRangeConfig]) -> Result<(), EnrichError> {
        let all: Vec<IpRangeConfig> = self.configured.iter().chain(console).cloned().collect();
        let ranges = Arc::new(IpRanges::new(&all)?);
        *self.ranges.write().unwrap_or_else(PoisonError::into_inner) = ranges;
        Ok(())
    }

    /// The built-in database alone, no ranges.
    pub fn builtin_only() -> Result<Enricher, EnrichError> {
        Enricher::new(&EnrichConfig::default())
    }

    /// Everything known about an address.
    pub fn ip(&self, ip: IpAddr) -> IpInfo {
        let ip = ip.to_canonical();
        let mut location = self
            .city
            .as_ref()
            .map(|db| db.lookup(ip))
            .unwrap_or_default();
        if let Some(asn_db) = &self.asn {
            let a = asn_db.lookup(ip);
            location.asn = location.asn.or(a.asn);
            location.isp = location.isp.or(a.isp);
        }
        if location.country.is_none() {
            location.country = self.builtin.lookup(ip).country;
        }
        let ranges = Arc::clone(&self.ranges.read().unwrap_or_else(PoisonError::into_inner));
        IpInfo {
            location,
            ranges: ranges.matching(ip).cloned().collect(),
        }
    }

    /// Adds what enrichment knows to a record's normalised columns (no-op for a record that was
    /// not normalised).
    pub fn enrich(&self, columns: &mut skylight_model::RecordColumns) {
        let ip = columns
            .client_ip
            .as_deref()
            .and_then(|t| t.parse::<IpAddr>().ok());
        let Some(activity) = columns.activity.as_mut() else {
            return;
        };
        let mut e = skylight_model::Enrichment::default();
        if let Some(ip) = ip {
            let info = self.ip(ip);
            e.ip_tags = info.tags();
            e.country = info.location.country;
            e.city = info.location.city;
            e.asn = info.location.asn;
            e.isp = info.location.isp;
        }
        if let Some(ua) = activity.user_agent.as_deref() {
            let u = self.user_agent(ua);
            e.device_type = Some(u.device.as_str().to_owned());
            e.client_app = u.client.map(Cow::into_owned);
            e.os = u.os.map(Cow::into_owned);
        }
        activity.enrichment = Some(e);
    }

    /// What a user agent says.
    pub fn user_agent(&self, ua: &str) -> UserAgent {
        if let Some(u) = self
            .agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(ua)
        {
            return u.clone();
        }
        let u = ua::parse(ua);
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        if agents.len() >= AGENTS_KEPT {
            agents.clear();
        }
        agents.insert(ua.to_owned(), u.clone());
        u
    }

    /// The attributions owed for the databases in use.
    pub fn attributions(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let dbip = |db: &Option<GeoDb>| {
            db.as_ref().is_some_and(|d| {
                d.source.to_ascii_lowercase().contains("dbip")
                    || d.source.to_ascii_lowercase().contains("db-ip")
            })
        };
        if dbip(&self.city) || dbip(&self.asn) {
            out.push(DBIP_ATTRIBUTION);
        }
        out.push(BUILTIN_ATTRIBUTION);
        out
    }
}
