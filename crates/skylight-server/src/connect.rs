//! What connecting a tenant from the console needs beyond the store: the sealer for connector
//! credentials, an HTTP client for connection tests, and the connector names the configuration
//! file already uses.

use std::sync::Arc;

use skylight_store::seal::Sealer;

/// Tools for console-made connectors.
pub struct ConnectKit {
    /// Seals credentials before they reach the store, and opens them for connection tests.
    pub sealer: Arc<Sealer>,
    /// Reaches Microsoft (or the simulator) for connection tests.
    pub http: reqwest::Client,
    /// Names of the connectors written in the configuration file (not editable here).
    pub file_tenants: Vec<String>,
}

impl std::fmt::Debug for ConnectKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectKit")
            .field("sealer", &self.sealer)
            .field("file_tenants", &self.file_tenants)
            .finish_non_exhaustive()
    }
}

/// Whether `name` can name a new console-made connector: 1 to 32 lowercase letters, digits and
/// hyphens, starting with a letter or digit, and not a word the console's paths use.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && name != "new"
}

/// The tenants of this server's configuration file (none when it has no connect kit): they win
/// over console connectors of the same name.
pub(crate) fn file_tenants(state: &crate::AppState) -> Vec<String> {
    state
        .connect
        .as_ref()
        .map(|k| k.file_tenants.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn connector_names_are_short_lowercase_slugs() {
        for good in ["contoso", "eu-1", "a", "0fabrikam"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Contoso",
            "-x",
            "new",
            "a b",
            "a/b",
            &"x".repeat(33),
            "é",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
