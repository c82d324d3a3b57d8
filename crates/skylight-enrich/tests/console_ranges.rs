//! Ranges made in the console replace the previous console ranges while enrichment goes on; the
//! configuration file's ranges and the built-in Tor exits stay; a wrong range changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;

use skylight_enrich::{EnrichConfig, Enricher, IpCategory, IpRangeConfig};

fn range(name: &str, category: IpCategory, cidrs: &[&str], tags: &[&str]) -> IpRangeConfig {
    IpRangeConfig {
        name: name.into(),
        category,
        cidrs: cidrs.iter().map(|c| (*c).to_owned()).collect(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn tags(e: &Enricher, ip: &str) -> Option<String> {
    e.ip(ip.parse::<IpAddr>().unwrap()).tags()
}

#[test]
fn console_ranges_are_swapped_whole_and_the_file_s_stay() {
    let e = Enricher::new(&EnrichConfig {
        ip_ranges: vec![range(
            "HQ",
            IpCategory::Corporate,
            &["203.0.113.0/24"],
            &["hq"],
        )],
        ..EnrichConfig::default()
    })
    .unwrap();
    assert_eq!(tags(&e, "198.51.100.7"), None);

    e.set_console_ranges(&[range(
        "VPN",
        IpCategory::Vpn,
        &["198.51.100.0/24"],
        &["egress"],
    )])
    .unwrap();
    assert_eq!(
        tags(&e, "198.51.100.7").as_deref(),
        Some("vpn|name:VPN|tag:egress")
    );
    assert_eq!(
        tags(&e, "203.0.113.9").as_deref(),
        Some("corporate|name:HQ|tag:hq")
    );
    // Tor exits stay built in.
    assert!(tags(&e, "185.220.101.1").unwrap().contains("tag:tor"));

    // A wrong block: refused, and the ranges in use stay.
    let err = e
        .set_console_ranges(&[range("Bad", IpCategory::Risky, &["10.0.0.300/8"], &[])])
        .unwrap_err();
    assert!(err.to_string().contains("10.0.0.300/8"), "{err}");
    assert_eq!(
        tags(&e, "198.51.100.7").as_deref(),
        Some("vpn|name:VPN|tag:egress")
    );

    // The next set replaces the previous one whole.
    e.set_console_ranges(&[range(
        "Cloud",
        IpCategory::CloudProvider,
        &["2001:db8::/32"],
        &[],
    )])
    .unwrap();
    assert_eq!(tags(&e, "198.51.100.7"), None);
    assert_eq!(
        tags(&e, "2001:db8::1").as_deref(),
        Some("cloud_provider|name:Cloud")
    );
    e.set_console_ranges(&[]).unwrap();
    assert_eq!(tags(&e, "2001:db8::1"), None);
    assert_eq!(
        tags(&e, "203.0.113.9").as_deref(),
        Some("corporate|name:HQ|tag:hq")
    );
}
