//! Microsoft's national clouds and their endpoint sets (contract §1.1). The connector never
//! assumes the simulator: every URL comes from here or from an explicit override in config.

use serde::{Deserialize, Serialize};

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Commercial ("Enterprise").
    #[default]
    Commercial,
    /// Government Community Cloud.
    Gcc,
    /// GCC High.
    GccHigh,
    /// Department of Defense.
    Dod,
    /// Operated by 21Vianet.
    China,
}

/// The endpoints of a cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Identity platform authority, e.g. `https://login.microsoftonline.com`.
    pub login: String,
    /// Management Activity API host, e.g. `https://manage.office.com`.
    pub manage: String,
    /// Microsoft Graph host.
    pub graph: String,
    /// The Management API's resource identifier (v1 `resource`, v2 scope prefix). It stays the
    /// cloud's identifier even when `manage` is overridden.
    pub manage_resource: String,
    /// Microsoft Graph's resource identifier.
    pub graph_resource: String,
}

impl Cloud {
    /// The cloud's published endpoints.
    pub fn endpoints(self) -> Endpoints {
        let (login, manage, graph) = match self {
            Cloud::Commercial => (
                "https://login.microsoftonline.com",
                "https://manage.office.com",
                "https://graph.microsoft.com",
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://manage-gcc.office.com",
                "https://graph.microsoft.com",
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://manage.office365.us",
                "https://graph.microsoft.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://manage.protection.apps.mil",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.partner.microsoftonline.cn",
                "https://manage.office365.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
        };
        Endpoints {
            login: login.into(),
            manage: manage.into(),
            graph: graph.into(),
            manage_resource: manage.into(),
            graph_resource: graph.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sovereign_clouds_have_their_own_hosts() {
        assert_eq!(
            Cloud::GccHigh.endpoints().manage,
            "https://manage.office365.us"
        );
        assert_eq!(
            Cloud::Dod.endpoints().graph,
            "https://dod-graph.microsoft.us"
        );
        assert_eq!(
            Cloud::Gcc.endpoints().login,
            "https://login.microsoftonline.com"
        );
        let parsed: Cloud =
            toml::from_str::<std::collections::BTreeMap<String, Cloud>>("c = \"gcc-high\"")
                .ok()
                .and_then(|m| m.get("c").copied())
                .unwrap_or_default();
        assert_eq!(parsed, Cloud::GccHigh);
    }
}
