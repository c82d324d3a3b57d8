//! Enrichment against databases the tests build themselves (tiny mmdb files in the DB-IP and
//! GeoLite2 layouts) and against the built-in country database, which must place every address
//! the simulator hands out in the country the simulator meant.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;
use skylight_enrich::{EnrichConfig, Enricher, GeoDb, IpCategory, IpRangeConfig};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Writes an mmdb of `(block, value)` to `path`.
fn write_db<T: Serialize>(path: &std::path::Path, kind: &str, rows: &[(&str, T)]) {
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = kind.into();
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = 1_780_000_000;
    db.metadata.languages = vec!["en".into()];
    for (block, value) in rows {
        let data = db.insert_value(value).unwrap();
        let mut net: IpAddrWithMask = block.parse().unwrap();
        // An IPv6 tree holds IPv4 under ::/96, as MaxMind's own databases do.
        if let IpAddr::V4(v4) = net.addr {
            net = IpAddrWithMask::new(IpAddr::V6(v4.to_ipv6_compatible()), net.mask + 96);
        }
        db.insert_node(net, data);
    }
    let bytes = db.write_to(Vec::new()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[derive(Serialize)]
struct DbIpCity {
    country_code: &'static str,
    city: &'static str,
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize)]
struct Asn {
    autonomous_system_number: u32,
    autonomous_system_organization: &'static str,
}

#[test]
fn a_dbip_city_database_an_asn_database_and_the_fallback_combine() {
    let dir = tempfile_dir();
    let city = dir.join("dbip-city-lite.mmdb");
    let asn = dir.join("dbip-asn-lite.mmdb");
    write_db(
        &city,
        "DBIP-City-Lite",
        &[
            (
                "203.0.113.0/24",
                DbIpCity {
                    country_code: "FR",
                    city: "Paris",
                    latitude: 48.86,
                    longitude: 2.35,
                },
            ),
            (
                "2001:db8::/32",
                DbIpCity {
                    country_code: "JP",
                    city: "Tokyo",
                    latitude: 35.68,
                    longitude: 139.69,
                },
            ),
        ],
    );
    write_db(
        &asn,
        "DBIP-ASN-Lite",
        &[(
            "203.0.113.0/25",
            Asn {
                autonomous_system_number: 64500,
                autonomous_system_organization: "Example Transit",
            },
        )],
    );
    let e = Enricher::new(&EnrichConfig {
        city_db: Some(city),
        asn_db: Some(asn),
        ip_ranges: vec![IpRangeConfig {
            name: "Paris office".into(),
            category: IpCategory::Corporate,
            cidrs: vec!["203.0.113.0/28".into()],
            tags: vec!["hq".into()],
        }],
    })
    .unwrap();
    let paris = e.ip(ip("203.0.113.5"));
    assert_eq!(paris.location.country.as_deref(), Some("FR"));
    assert_eq!(paris.location.city.as_deref(), Some("Paris"));
    assert_eq!(paris.location.coordinates, Some((48.86, 2.35)));
    assert_eq!(paris.location.asn, Some(64500));
    assert_eq!(paris.location.isp.as_deref(), Some("Example Transit"));
    assert_eq!(
        paris.tags().as_deref(),
        Some("corporate|name:Paris office|tag:hq")
    );
    // Outside the ASN block and the named range; IPv4-mapped IPv6 is the same address.
    let other = e.ip(ip("::ffff:203.0.113.200"));
    assert_eq!(
        (
            other.location.city.as_deref(),
            other.location.asn,
            other.tags()
        ),
        (Some("Paris"), None, None)
    );
    assert_eq!(
        e.ip(ip("2001:db8::1")).location.country.as_deref(),
        Some("JP")
    );
    // Not in the city database: the built-in one still gives the country.
    let de = e.ip(ip("91.10.20.30"));
    assert_eq!(
        (de.location.country.as_deref(), de.location.city.as_deref()),
        (Some("DE"), None)
    );
    assert_eq!(e.attributions()[0], skylight_enrich::DBIP_ATTRIBUTION);
}

#[test]
fn a_geolite2_layout_is_read_too() {
    #[derive(Serialize)]
    struct Named {
        iso_code: &'static str,
        names: BTreeMap<&'static str, &'static str>,
    }
    #[derive(Serialize)]
    struct Loc {
        latitude: f64,
        longitude: f64,
    }
    #[derive(Serialize)]
    struct City {
        country: Named,
        city: Named,
        location: Loc,
    }
    let dir = tempfile_dir();
    let path = dir.join("GeoLite2-City.mmdb");
    write_db(
        &path,
        "GeoLite2-City",
        &[(
            "198.51.100.0/24",
            City {
                country: Named {
                    iso_code: "BR",
                    names: BTreeMap::from([("en", "Brazil")]),
                },
                city: Named {
                    iso_code: "",
                    names: BTreeMap::from([("en", "São Paulo")]),
                },
                location: Loc {
                    latitude: -23.55,
                    longitude: -46.63,
                },
            },
        )],
    );
    let db = GeoDb::open(&path).unwrap();
    let l = db.lookup(ip("198.51.100.7"));
    assert_eq!(l.country.as_deref(), Some("BR"));
    assert_eq!(l.city.as_deref(), Some("São Paulo"));
    assert_eq!(l.coordinates, Some((-23.55, -46.63)));
    assert_eq!(db.build_epoch(), 1_780_000_000);
    assert_eq!(
        db.lookup(ip("192.0.2.1")),
        skylight_enrich::Location::default()
    );
}

#[test]
fn a_broken_database_or_range_is_a_clear_error() {
    let dir = tempfile_dir();
    let junk = dir.join("junk.mmdb");
    std::fs::write(&junk, b"not a database").unwrap();
    let e = Enricher::new(&EnrichConfig {
        city_db: Some(junk),
        ..EnrichConfig::default()
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("junk.mmdb: not a MaxMind DB file"),
        "{e}"
    );
    let e = Enricher::new(&EnrichConfig {
        city_db: Some(dir.join("missing.mmdb")),
        ..EnrichConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("missing.mmdb"), "{e}");
    let e = Enricher::new(&EnrichConfig {
        ip_ranges: vec![IpRangeConfig {
            name: "VPN".into(),
            category: IpCategory::Vpn,
            cidrs: vec!["10.0.0.0/33".into()],
            tags: vec![],
        }],
        ..EnrichConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ip range `VPN`: `10.0.0.0/33` is not an address or CIDR block (203.0.113.0/24)"
    );
}

#[test]
fn the_built_in_database_places_every_simulated_address_in_its_country() {
    let e = Enricher::builtin_only().unwrap();
    let mut checked = 0;
    for country in skylight_sim::tenant::geo::COUNTRIES {
        for &(a, b, len) in country.blocks {
            // Both ends of every /16 of the block, and an address in its middle.
            for second in u16::from(b)..u16::from(b) + u16::from(len) {
                let second = u8::try_from(second).unwrap();
                for (c, d) in [(0u8, 1u8), (128, 77), (255, 254)] {
                    let addr = IpAddr::from([a, second, c, d]);
                    let got = e.ip(addr).location.country;
                    assert_eq!(
                        got.as_deref(),
                        Some(country.code),
                        "{addr} ({})",
                        country.name
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 2_000, "{checked}");
}

/// A temporary directory, removed when the test ends.
fn tempfile_dir() -> TempPath {
    TempPath(tempfile::tempdir().unwrap())
}

struct TempPath(tempfile::TempDir);

impl std::ops::Deref for TempPath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}
