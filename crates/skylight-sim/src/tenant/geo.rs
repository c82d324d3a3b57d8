//! Countries the generated workforce lives in: time zone, cities, and IPv4 blocks that public
//! geolocation databases place in that country (large consumer-ISP allocations), so activity comes
//! "from" the user's country. Every /24 of every block was checked against a public country
//! database (ip-location-db geo-whois-asn-country, June 2026): parts of an ISP's range that
//! databases place elsewhere were left out. Offsets are fixed (no daylight saving): enough for
//! working hours.

/// A country users live and work in.
#[derive(Debug)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Local time minus UTC, in minutes.
    pub utc_offset_minutes: i32,
    /// Main city, with latitude and longitude.
    pub city: (&'static str, f64, f64),
    /// IPv4 blocks (first octet, second-octet range start, range length) allocated in the country.
    pub blocks: &'static [(u8, u8, u8)],
    /// Relative share of the workforce.
    pub weight: u32,
}

/// The workforce's countries.
pub static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        name: "United States",
        utc_offset_minutes: -300,
        city: ("New York", 40.71, -74.01),
        blocks: &[(73, 0, 255), (71, 160, 64)],
        weight: 24,
    },
    Country {
        code: "US",
        name: "United States",
        utc_offset_minutes: -480,
        city: ("San Francisco", 37.77, -122.42),
        blocks: &[(73, 0, 255), (71, 160, 64)],
        weight: 12,
    },
    Country {
        code: "GB",
        name: "United Kingdom",
        utc_offset_minutes: 0,
        city: ("London", 51.51, -0.13),
        blocks: &[(86, 128, 64)],
        weight: 10,
    },
    Country {
        code: "DE",
        name: "Germany",
        utc_offset_minutes: 60,
        city: ("Berlin", 52.52, 13.40),
        blocks: &[(91, 0, 64), (84, 128, 64)],
        weight: 8,
    },
    Country {
        code: "FR",
        name: "France",
        utc_offset_minutes: 60,
        city: ("Paris", 48.86, 2.35),
        blocks: &[(90, 0, 64), (92, 128, 64)],
        weight: 6,
    },
    Country {
        code: "IN",
        name: "India",
        utc_offset_minutes: 330,
        city: ("Bengaluru", 12.97, 77.59),
        blocks: &[(49, 32, 16), (117, 192, 64)],
        weight: 8,
    },
    Country {
        code: "JP",
        name: "Japan",
        utc_offset_minutes: 540,
        city: ("Tokyo", 35.68, 139.69),
        blocks: &[(126, 0, 52), (126, 64, 64)],
        weight: 5,
    },
    Country {
        code: "BR",
        name: "Brazil",
        utc_offset_minutes: -180,
        city: ("São Paulo", -23.55, -46.63),
        blocks: &[(179, 96, 13), (179, 110, 18)],
        weight: 5,
    },
    Country {
        code: "CA",
        name: "Canada",
        utc_offset_minutes: -300,
        city: ("Toronto", 43.65, -79.38),
        blocks: &[(99, 224, 32)],
        weight: 5,
    },
    Country {
        code: "AU",
        name: "Australia",
        utc_offset_minutes: 600,
        city: ("Sydney", -33.87, 151.21),
        blocks: &[(1, 120, 8)],
        weight: 4,
    },
    Country {
        code: "ES",
        name: "Spain",
        utc_offset_minutes: 60,
        city: ("Madrid", 40.42, -3.70),
        blocks: &[(83, 32, 32)],
        weight: 3,
    },
    Country {
        code: "MX",
        name: "Mexico",
        utc_offset_minutes: -360,
        city: ("Mexico City", 19.43, -99.13),
        blocks: &[(187, 128, 48)],
        weight: 3,
    },
    Country {
        code: "PL",
        name: "Poland",
        utc_offset_minutes: 60,
        city: ("Warsaw", 52.23, 21.01),
        blocks: &[(83, 0, 32)],
        weight: 2,
    },
    Country {
        code: "IT",
        name: "Italy",
        utc_offset_minutes: 60,
        city: ("Milan", 45.46, 9.19),
        blocks: &[(79, 0, 64)],
        weight: 2,
    },
    Country {
        code: "SG",
        name: "Singapore",
        utc_offset_minutes: 480,
        city: ("Singapore", 1.35, 103.82),
        blocks: &[(116, 86, 2)],
        weight: 2,
    },
    Country {
        code: "KR",
        name: "South Korea",
        utc_offset_minutes: 540,
        city: ("Seoul", 37.57, 126.98),
        blocks: &[(211, 32, 32)],
        weight: 1,
    },
];

/// Addresses of anonymising services (Tor exit relays' well-known blocks) used by attack scenarios.
pub static ANONYMOUS_BLOCKS: &[(u8, u8, u8, u8)] = &[(185, 220, 100, 4), (171, 25, 193, 1)];

/// Hosting-provider blocks attackers rent, used by brute-force and spray scenarios.
pub static HOSTING_BLOCKS: &[(u8, u8, u8, u8)] =
    &[(45, 155, 205, 1), (193, 142, 146, 1), (5, 188, 206, 1)];

/// Countries far from most of the workforce, for impossible travel (index into `COUNTRIES`).
pub fn country_by_code(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code == code)
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}
