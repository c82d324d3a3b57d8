//! IP geolocation and ASN lookups in MaxMind-format databases: DB-IP Lite and ip-location-db
//! (flat `country_code`, `city`, `latitude`, `longitude`, `autonomous_system_*`), and GeoLite2 /
//! GeoIP2 (`country.iso_code`, `city.names.en`, `location.*`).

use std::net::IpAddr;
use std::path::Path;

use maxminddb::Reader;
use serde::Deserialize;

use crate::EnrichError;

/// What a database says about an address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// Latitude and longitude.
    pub coordinates: Option<(f64, f64)>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The AS's organisation (the ISP or hosting provider).
    pub isp: Option<String>,
}

#[derive(Deserialize, Default)]
struct Flat<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Coordinates {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize, Default)]
struct GeoIp2<'a> {
    #[serde(borrow)]
    country: Option<Named<'a>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
    location: Option<Coordinates>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// An open database.
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    /// GeoIP2 layout (nested) rather than flat.
    nested: bool,
    /// Where it came from, for messages and the console.
    pub source: String,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("source", &self.source)
            .field("type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl GeoDb {
    /// Opens a database file.
    pub fn open(path: &Path) -> Result<GeoDb, EnrichError> {
        let bytes = std::fs::read(path).map_err(|e| EnrichError::Database {
            source_name: path.display().to_string(),
            why: e.to_string(),
        })?;
        GeoDb::from_bytes(bytes, &path.display().to_string())
    }

    /// A database from its bytes.
    pub fn from_bytes(bytes: Vec<u8>, source: &str) -> Result<GeoDb, EnrichError> {
        let reader = Reader::from_source(bytes).map_err(|e| EnrichError::Database {
            source_name: source.to_owned(),
            why: format!("not a MaxMind DB file: {e}"),
        })?;
        let kind = reader.metadata().database_type.to_ascii_lowercase();
        Ok(GeoDb {
            nested: kind.contains("geoip2") || kind.contains("geolite2"),
            reader,
            source: source.to_owned(),
        })
    }

    /// When the database was built (seconds since the epoch).
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// What the database knows about an address (nothing, rather than an error, when it fails).
    pub fn lookup(&self, ip: IpAddr) -> Location {
        let Ok(found) = self.reader.lookup(ip) else {
            return Location::default();
        };
        if self.nested {
            let Ok(Some(g)) = found.decode::<GeoIp2<'_>>() else {
                return Location::default();
            };
            Location {
                country: g.country.and_then(|c| c.iso_code).map(str::to_owned),
                city: g
                    .city
                    .and_then(|c| c.names)
                    .and_then(|n| n.en)
                    .map(str::to_owned),
                coordinates: g.location.and_then(|l| Some((l.latitude?, l.longitude?))),
                asn: g.autonomous_system_number,
                isp: g.autonomous_system_organization.map(str::to_owned),
            }
        } else {
            let Ok(Some(f)) = found.decode::<Flat<'_>>() else {
                return Location::default();
            };
            Location {
                country: f.country_code.map(str::to_owned),
                city: f.city.map(str::to_owned),
                coordinates: f.latitude.zip(f.longitude),
                asn: f.autonomous_system_number,
                isp: f.autonomous_system_organization.map(str::to_owned),
            }
        }
    }
}
