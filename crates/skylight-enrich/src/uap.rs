//! uap-core's rules (the ua-parser project's `regexes.yaml`, Apache-2.0, in `data/uap-core/`):
//! browsers, operating systems, devices and bots across the web, for what Skylight's own rules
//! (`ua.rs`, which know Microsoft 365's clients) leave unknown.

use std::sync::OnceLock;

/// The rules, as published in the npm package `uap-core` 0.18.0.
static RULES: &str = include_str!("../data/uap-core/regexes.yaml");

/// What uap-core reads in a user agent (its "Other" left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// Browser or client family (`Chrome Mobile`, `IE`, `Python Requests`, `Googlebot`).
    pub family: Option<String>,
    /// Operating system family (`Windows`, `Mac OS X`, `iOS`, `Android`, `Ubuntu`, `Chrome OS`).
    pub os: Option<String>,
    /// Device family (`iPhone`, `iPad`, `Samsung SM-G991B`, `Spider`, `Mac`).
    pub device: Option<String>,
}

/// The compiled rules, built on first use (a fraction of a second); `None` if they cannot be
/// (never expected: the rules ship with Skylight and are tested).
fn extractor() -> Option<&'static ua_parser::Extractor<'static>> {
    static EXTRACTOR: OnceLock<Option<ua_parser::Extractor<'static>>> = OnceLock::new();
    EXTRACTOR
        .get_or_init(|| {
            let regexes: ua_parser::Regexes<'static> = match yaml_serde::from_str(RULES) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "uap-core's rules cannot be read; user agents are read by Skylight's rules only");
                    return None;
                }
            };
            match ua_parser::Extractor::try_from(regexes) {
                Ok(x) => Some(x),
                Err(e) => {
                    tracing::error!(error = ?e, "uap-core's rules cannot be compiled; user agents are read by Skylight's rules only");
                    None
                }
            }
        })
        .as_ref()
}

/// What uap-core reads in `ua`.
pub fn read(ua: &str) -> Reading {
    let Some(x) = extractor() else {
        return Reading::default();
    };
    let known = |s: &str| (!s.is_empty() && s != "Other").then(|| s.to_owned());
    let (family, os, device) = x.extract(ua);
    Reading {
        family: family.and_then(|f| known(&f.family)),
        os: os.and_then(|o| known(&o.os)),
        device: device.and_then(|d| known(&d.device)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_load_and_read_the_web() {
        assert!(extractor().is_some(), "uap-core's rules compile");
        let ie = read("Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko");
        assert_eq!(ie.family.as_deref(), Some("IE"));
        assert_eq!(ie.os.as_deref(), Some("Windows"));
        let bot = read("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert_eq!(bot.family.as_deref(), Some("Googlebot"));
        assert_eq!(bot.device.as_deref(), Some("Spider"));
        let chromebook = read(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        );
        assert_eq!(chromebook.os.as_deref(), Some("Chrome OS"));
        assert_eq!(read("").family, None);
    }
}
