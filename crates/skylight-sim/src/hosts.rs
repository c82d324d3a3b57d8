//! Microsoft's host names per cloud (contract §1.1), which service each name stands for, and the
//! public base URLs the simulator writes into every URL it emits.

use std::fmt;
use std::str::FromStr;

/// One of the three services the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The identity platform's token endpoints.
    Identity,
    /// The Office 365 Management Activity API.
    Management,
    /// Microsoft Graph.
    Graph,
}

/// A Microsoft 365 cloud, naming the hosts its clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// The worldwide ("Enterprise") cloud.
    #[default]
    Commercial,
    /// Government Community Cloud (moderate): its own Management API host, worldwide login and Graph.
    Gcc,
    /// GCC High.
    GccHigh,
    /// Department of Defense.
    Dod,
    /// Microsoft 365 operated by 21Vianet.
    China,
}

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 5] = [
        Cloud::Commercial,
        Cloud::Gcc,
        Cloud::GccHigh,
        Cloud::Dod,
        Cloud::China,
    ];

    /// The cloud's name on the command line (the connector's `cloud` key uses the same words).
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// The login, Management API and Graph host names of this cloud.
    pub fn hosts(self) -> [&'static str; 3] {
        match self {
            Cloud::Commercial => [
                "login.microsoftonline.com",
                "manage.office.com",
                "graph.microsoft.com",
            ],
            Cloud::Gcc => [
                "login.microsoftonline.com",
                "manage-gcc.office.com",
                "graph.microsoft.com",
            ],
            Cloud::GccHigh => [
                "login.microsoftonline.us",
                "manage.office365.us",
                "graph.microsoft.us",
            ],
            Cloud::Dod => [
                "login.microsoftonline.us",
                "manage.protection.apps.mil",
                "dod-graph.microsoft.us",
            ],
            Cloud::China => [
                "login.partner.microsoftonline.cn",
                "manage.office365.cn",
                "microsoftgraph.chinacloudapi.cn",
            ],
        }
    }
}

/// Why a cloud name was refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown cloud `{0}`; expected commercial, gcc, gcc-high, dod or china")]
pub struct UnknownCloud(String);

impl FromStr for Cloud {
    type Err = UnknownCloud;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cloud::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCloud(s.to_string()))
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identity hosts outside the per-cloud table: the v1 endpoint's historical name and the older
/// 21Vianet login host some documentation still gives.
const EXTRA_IDENTITY_HOSTS: [&str; 2] = ["login.windows.net", "login.chinacloudapi.cn"];

/// Every Microsoft host name the simulator answers for (and its TLS certificate names).
pub fn all_hosts() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Cloud::ALL.iter().flat_map(|c| c.hosts()).collect();
    out.extend(EXTRA_IDENTITY_HOSTS);
    out.sort_unstable();
    out.dedup();
    out
}

/// The service a Microsoft host name stands for (`None` for any other name, e.g. `127.0.0.1`).
pub fn service_of_host(host: &str) -> Option<Service> {
    let host = strip_port(host).to_ascii_lowercase();
    if EXTRA_IDENTITY_HOSTS.contains(&host.as_str()) {
        return Some(Service::Identity);
    }
    Cloud::ALL.iter().find_map(|c| {
        let [login, manage, graph] = c.hosts();
        if host == login {
            Some(Service::Identity)
        } else if host == manage {
            Some(Service::Management)
        } else if host == graph {
            Some(Service::Graph)
        } else {
            None
        }
    })
}

/// The service a request path belongs to (`None` for `/_sim/…` and unknown paths).
pub fn service_of_path(path: &str) -> Option<Service> {
    if path.starts_with("/api/v1.0/") {
        Some(Service::Management)
    } else if path.starts_with("/v1.0/")
        || path.starts_with("/graph/v1.0/")
        || path.starts_with("/_api/v2.0/")
    {
        Some(Service::Graph)
    } else if path.contains("/oauth2/") {
        Some(Service::Identity)
    } else {
        None
    }
}

/// `host:port` or `[v6]:port` without the port.
pub fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// The host part of an absolute URL (`https://host:port/path` → `host`).
pub fn host_of_url(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(strip_port(authority)).filter(|h| !h.is_empty())
}

/// The base URLs the simulator writes into what it emits, one per service; no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    /// Where `/_sim/…` is reached, and the fallback of the three below.
    pub base: String,
    /// The identity platform (token endpoints).
    pub login: String,
    /// The Management Activity API (contentUri, NextPageUri).
    pub manage: String,
    /// Microsoft Graph (@odata.nextLink, monitor locations).
    pub graph: String,
}

impl PublicUrls {
    /// The same base for every service, as on a plain loopback address.
    pub fn same(base: &str) -> PublicUrls {
        let base = base.trim_end_matches('/').to_string();
        PublicUrls {
            login: base.clone(),
            manage: base.clone(),
            graph: base.clone(),
            base,
        }
    }

    /// Microsoft's own names for `cloud` over HTTPS on `port` (omitted when 443).
    pub fn cloud(cloud: Cloud, port: u16) -> PublicUrls {
        let url = |h: &str| {
            if port == 443 {
                format!("https://{h}")
            } else {
                format!("https://{h}:{port}")
            }
        };
        let [login, manage, graph] = cloud.hosts();
        PublicUrls {
            base: url(manage),
            login: url(login),
            manage: url(manage),
            graph: url(graph),
        }
    }

    /// Applies per-service overrides (`None` keeps the current value).
    pub fn with(
        mut self,
        login: Option<&str>,
        manage: Option<&str>,
        graph: Option<&str>,
    ) -> PublicUrls {
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        if let Some(u) = login {
            self.login = trim(u);
        }
        if let Some(u) = manage {
            self.manage = trim(u);
            self.base = trim(u);
        }
        if let Some(u) = graph {
            self.graph = trim(u);
        }
        self
    }

    /// The service a request's host stands for: one of Microsoft's names, or a host that only one
    /// configured public URL uses (so a custom name routes like the service it replaces).
    pub fn service_of(&self, host: &str) -> Option<Service> {
        service_of_host(host).or_else(|| {
            let host = strip_port(host).to_ascii_lowercase();
            let named: Vec<Service> = [
                (Service::Identity, &self.login),
                (Service::Management, &self.manage),
                (Service::Graph, &self.graph),
            ]
            .into_iter()
            .filter(|(_, u)| host_of_url(u).is_some_and(|h| h.eq_ignore_ascii_case(&host)))
            .map(|(s, _)| s)
            .collect();
            match named.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
    }

    /// The distinct host names of the three URLs, for hosts-file lines.
    pub fn host_names(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.login, &self.manage, &self.graph]
            .into_iter()
            .filter_map(|u| host_of_url(u).map(str::to_ascii_lowercase))
            .collect();
        out.dedup();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_their_service_with_or_without_a_port() {
        assert_eq!(
            service_of_host("manage.office.com:8443"),
            Some(Service::Management)
        );
        assert_eq!(
            service_of_host("LOGIN.microsoftonline.us"),
            Some(Service::Identity)
        );
        assert_eq!(
            service_of_host("dod-graph.microsoft.us"),
            Some(Service::Graph)
        );
        assert_eq!(service_of_host("127.0.0.1:9000"), None);
        assert_eq!(strip_port("[::1]:9000"), "::1");
        assert!(all_hosts().contains(&"manage.protection.apps.mil"));
    }

    #[test]
    fn custom_public_urls_route_by_their_host() {
        let u = PublicUrls::same("http://127.0.0.1:9000").with(
            None,
            Some("https://audit.example.test:8443/"),
            None,
        );
        assert_eq!(u.manage, "https://audit.example.test:8443");
        assert_eq!(
            u.service_of("audit.example.test:8443"),
            Some(Service::Management)
        );
        // The plain address serves every service, so it routes by path.
        assert_eq!(u.service_of("127.0.0.1:9000"), None);
    }
}
