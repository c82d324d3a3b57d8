//! The connector configuration: a TOML file with one `[[tenant]]` table per Microsoft 365 tenant,
//! an optional `[collector]` table, an optional `[detection]` table and an optional
//! `[notifications]` table (passed on as written).
//!
//! ```toml
//! [[tenant]]
//! name = "contoso"
//! tenant_id = "contoso.onmicrosoft.com"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! client_secret_env = "CONTOSO_SECRET"   # or client_secret_file = "…", or certificate_file = "….pem"
//! cloud = "commercial"                   # gcc | gcc-high | dod | china
//! components = ["activities", "files"]
//! ```
//!
//! Secrets never appear in the file itself: they come from an environment variable or a file, are
//! read once at load time, and are held in [`Secret`], whose `Debug` and `Display` are redacted.
//! `SKYLIGHT_<TENANT>_CLIENT_ID` and `SKYLIGHT_<TENANT>_TENANT_ID` override the file's values
//! (`<TENANT>` is the tenant's name upper-cased, every other character than a letter or digit
//! replaced by `_`). Relative paths resolve against the configuration file's directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use skylight_model::ContentType;

use crate::cloud::{Cloud, Endpoints};

/// A secret value (client secret, private key). `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value. Use it only to send it where it belongs; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How the connector proves its identity to the identity platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret (`client_secret_env` or `client_secret_file`).
    Secret(Secret),
    /// A certificate and its RSA private key (`certificate_file`, optional `private_key_file`).
    Certificate {
        /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`). Public.
        certificate_pem: String,
        /// The private key, PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
        private_key: Secret,
    },
}

impl Credential {
    /// `"secret"` or `"certificate"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Secret(_) => "secret",
            Credential::Certificate { .. } => "certificate",
        }
    }
}

/// Which parts of a tenant are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Components {
    /// Audit records from the Office 365 Management Activity API.
    pub activities: bool,
    /// The SharePoint/OneDrive file inventory from Microsoft Graph (needs `activities`).
    pub files: bool,
}

impl Default for Components {
    fn default() -> Self {
        Components {
            activities: true,
            files: false,
        }
    }
}

/// One connected tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The connector's name (unique in the file), used in status, logs and environment variables.
    pub name: String,
    /// The tenant: its GUID or a verified domain.
    pub tenant_id: String,
    /// The app registration's Application (client) ID.
    pub client_id: String,
    /// The app's credential.
    pub credential: Credential,
    /// The tenant's cloud.
    pub cloud: Cloud,
    /// Overrides the cloud's login authority (e.g. the simulator).
    pub login_url: Option<String>,
    /// Overrides the cloud's Management Activity API host.
    pub manage_url: Option<String>,
    /// Overrides the cloud's Microsoft Graph host.
    pub graph_url: Option<String>,
    /// What is collected.
    pub components: Components,
    /// The content types collected (default: all five), without duplicates, in file order.
    pub content_types: Vec<ContentType>,
    /// `PublisherIdentifier` sent to the Management Activity API; see
    /// [`TenantConfig::publisher_id`] for the effective value.
    pub publisher_id: Option<String>,
    /// The tenant's Management Activity API request budget (default 1800 per minute, under
    /// Microsoft's 2000).
    pub requests_per_minute: u32,
    /// The SharePoint site whose default library holds admin quarantine (files component);
    /// admin quarantine is refused without it.
    pub quarantine_site: Option<String>,
    /// The mailbox notifications are sent from (`notify-user`, `notify-owner`; the app needs
    /// `Mail.Send`); notifying is refused without it.
    pub notify_sender: Option<String>,
}

impl TenantConfig {
    /// The cloud's endpoints with this tenant's overrides applied. The resource identifiers (token
    /// scopes) stay the cloud's.
    pub fn endpoints(&self) -> Endpoints {
        let mut e = self.cloud.endpoints();
        if let Some(u) = &self.login_url {
            e.login = u.clone();
        }
        if let Some(u) = &self.manage_url {
            e.manage = u.clone();
        }
        if let Some(u) = &self.graph_url {
            e.graph = u.clone();
        }
        e
    }

    /// The effective `PublisherIdentifier`: `publisher_id`, or else the tenant id.
    pub fn publisher_id(&self) -> &str {
        self.publisher_id.as_deref().unwrap_or(&self.tenant_id)
    }

    /// The prefix of this tenant's environment overrides, e.g. `SKYLIGHT_CONTOSO_EU_`.
    pub fn env_prefix(&self) -> String {
        env_prefix(&self.name)
    }
}

/// The Management Activity API budget of a tenant that sets none, under Microsoft's 2000 requests
/// a minute.
const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1800;

/// A connector as the console gives it: values, not file paths or variable names.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    /// The connector's name (at most 64 characters, no control characters).
    pub name: String,
    /// The tenant: its Directory (tenant) ID or a verified domain.
    pub tenant_id: String,
    /// The app registration's Application (client) ID.
    pub client_id: String,
    /// A client secret, or a certificate and its private key as PEM text (an empty private key
    /// means the certificate's text holds it too).
    pub credential: Credential,
    /// The cloud as the file's `cloud` key spells it: `commercial` (also when empty), `gcc`,
    /// `gcc-high`, `dod` or `china`.
    pub cloud: String,
    /// Overrides the cloud's login authority (empty or `None`: the cloud's).
    pub login_url: Option<String>,
    /// Overrides the cloud's Management Activity API host.
    pub manage_url: Option<String>,
    /// Overrides the cloud's Microsoft Graph host.
    pub graph_url: Option<String>,
    /// Collect audit records (the activities component).
    pub activities: bool,
    /// Sync the file inventory (the files component; needs activities).
    pub files: bool,
    /// The content types collected; empty means all five.
    pub content_types: Vec<ContentType>,
    /// The SharePoint site whose default library holds admin quarantine.
    pub quarantine_site: Option<String>,
}

impl TenantConfig {
    /// A connector from values given directly (the console's connect wizard), checked by the
    /// rules the configuration file's `[[tenant]]` follows. Each problem is one line that starts
    /// with the form's field ("Tenant ID: …"); none contains the secret or the private key.
    /// Whether the name is unique among connectors is the caller's to check.
    pub fn from_spec(spec: TenantSpec) -> Result<TenantConfig, Vec<String>> {
        let mut problems = Vec::new();
        let name = spec.name.trim().to_string();
        check_name(
            &name,
            &Field::Console("Name"),
            "give the connector a name",
            &mut problems,
        );

        let tenant_id = spec.tenant_id.trim().to_string();
        if tenant_id.is_empty() {
            problems.push("Tenant ID: is missing; enter the Directory (tenant) ID from the Microsoft Entra admin center → Overview page".into());
        } else {
            check_tenant_id(&tenant_id, &Field::Console("Tenant ID"), &mut problems);
        }
        let client_id = spec.client_id.trim().to_string();
        if client_id.is_empty() {
            problems.push("Client ID: is missing; enter the app registration's Application (client) ID from Microsoft Entra admin center → App registrations → (the app) → Overview".into());
        } else {
            check_client_id(&client_id, &Field::Console("Client ID"), &mut problems);
        }

        let credential = match spec.credential {
            Credential::Secret(s) => {
                let v = secret_value(s.0);
                if v.is_none() {
                    problems.push("Client secret: is empty; paste the secret's Value (not its Secret ID) from Microsoft Entra admin center → App registrations → (the app) → Certificates & secrets".into());
                }
                v.map(Credential::Secret)
            }
            Credential::Certificate {
                certificate_pem,
                private_key,
            } => {
                let key_field = Field::Console("Private key");
                let key = private_key.expose();
                certificate_from_pem(
                    &certificate_pem,
                    (!key.trim().is_empty()).then_some((key, &key_field)),
                    &Field::Console("Certificate"),
                    &mut problems,
                )
            }
        };

        let cloud = spec.cloud.trim();
        let cloud = if cloud.is_empty() {
            Some(Cloud::default())
        } else {
            parse_cloud(cloud)
        };
        if cloud.is_none() {
            problems.push(format!(
                "Cloud: `{}` is not a Microsoft cloud; choose commercial, gcc, gcc-high, dod or china",
                spec.cloud.trim()
            ));
        }

        let mut url = |title: &str, key: &str, v: Option<String>| -> Option<String> {
            let v = v.filter(|v| !v.trim().is_empty())?;
            endpoint_url(&v, &Field::Console(title), &name, key, &mut problems)
        };
        let login_url = url("Login URL", "login_url", spec.login_url);
        let manage_url = url("Management API URL", "manage_url", spec.manage_url);
        let graph_url = url("Graph URL", "graph_url", spec.graph_url);

        let components = Components {
            activities: spec.activities,
            files: spec.files,
        };
        if !components.activities && !components.files {
            problems.push("Components: none is chosen; turn on activities".into());
        } else {
            check_components(components, &Field::Console("Components"), &mut problems);
        }
        let mut content_types = Vec::new();
        for ct in spec.content_types {
            if !content_types.contains(&ct) {
                content_types.push(ct);
            }
        }
        if content_types.is_empty() {
            content_types = ContentType::ALL.to_vec();
        }

        let (Some(credential), Some(cloud), true) = (credential, cloud, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(TenantConfig {
            name,
            tenant_id,
            client_id,
            credential,
            cloud,
            login_url,
            manage_url,
            graph_url,
            components,
            content_types,
            publisher_id: None,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            quarantine_site: spec
                .quarantine_site
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            notify_sender: None,
        })
    }
}

/// A cloud by the name the file's `cloud` key takes, through the same deserializer, so the two
/// accept the same names.
fn parse_cloud(name: &str) -> Option<Cloud> {
    use serde::de::IntoDeserializer;
    let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.into_deserializer();
    Cloud::deserialize(d).ok()
}

/// `[collector]`: how collection runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorSettings {
    /// Seconds between polls once caught up (default 60).
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    /// Hours each poll re-lists before the watermark, to pick up late content (default 6).
    #[serde(default = "default_overlap_hours")]
    pub overlap_hours: u32,
    /// Blobs fetched at once per content type (default 4).
    #[serde(default = "default_blob_concurrency")]
    pub blob_concurrency: usize,
    /// Data directory (embedded store); relative to the configuration file's directory.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Minutes between directory and app syncs from Microsoft Graph (default 60; 0: never).
    #[serde(default = "default_directory_interval")]
    pub directory_interval_minutes: u64,
    /// Seconds a process's claim on shared work (a tenant's content type, detection) lasts
    /// unless renewed, when several processes share one store: how soon another takes over
    /// from one that died (default 30; renewed every third of it).
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
}

fn default_poll_interval() -> u64 {
    60
}
fn default_overlap_hours() -> u32 {
    crate::health::DEFAULT_OVERLAP_HOURS
}
fn default_blob_concurrency() -> usize {
    8
}
fn default_directory_interval() -> u64 {
    60
}
fn default_lease_secs() -> u64 {
    30
}

impl Default for CollectorSettings {
    fn default() -> Self {
        CollectorSettings {
            poll_interval_secs: default_poll_interval(),
            overlap_hours: default_overlap_hours(),
            blob_concurrency: default_blob_concurrency(),
            data_dir: None,
            directory_interval_minutes: default_directory_interval(),
            lease_secs: default_lease_secs(),
        }
    }
}

/// `[detection]`: settings of the detection engine. Keys other than `learning_days` are kept in
/// `other` for the detection crate to read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DetectionSettings {
    /// Days of history anomaly baselines learn from (default 7).
    #[serde(default = "default_learning_days")]
    pub learning_days: f64,
    /// Every other key of the table.
    #[serde(flatten)]
    pub other: toml::Table,
}

fn default_learning_days() -> f64 {
    7.0
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings {
            learning_days: default_learning_days(),
            other: toml::Table::new(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Connected tenants, in file order.
    pub tenants: Vec<TenantConfig>,
    /// Detection settings.
    pub detection: DetectionSettings,
    /// Collector settings.
    pub collector: CollectorSettings,
    /// IP databases and named ranges (`[enrichment]`, `[[ip_range]]`).
    pub enrichment: skylight_enrich::EnrichConfig,
    /// `[notifications]`, kept as written for the notification crate to read.
    pub notifications: toml::Table,
}

/// Why a configuration could not be loaded. Messages name the file and key to fix and never
/// contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or a file it names) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has the wrong shape.
    #[error("{file}{location}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// `:line:column`, when known.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The values are wrong; every problem found is listed.
    #[error("{file}: {}", problems.join("; "))]
    Invalid {
        /// The file.
        file: String,
        /// One line per problem, e.g. "tenant `contoso`: client_secret_env names CONTOSO_SECRET,
        /// which is not set".
        problems: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tenant: Vec<RawTenant>,
    #[serde(default)]
    collector: CollectorSettings,
    #[serde(default)]
    detection: DetectionSettings,
    #[serde(default)]
    enrichment: RawEnrichment,
    #[serde(default)]
    ip_range: Vec<skylight_enrich::IpRangeConfig>,
    #[serde(default)]
    notifications: toml::Table,
}

/// `[enrichment]`: database paths (relative to the configuration file).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnrichment {
    city_db: Option<PathBuf>,
    asn_db: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: String,
    tenant_id: Option<String>,
    client_id: Option<String>,
    /// Accepted only to refuse it with a useful message; the value is never printed.
    client_secret: Option<toml::Value>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    private_key_file: Option<PathBuf>,
    /// Password of a PFX/PKCS#12 `certificate_file`, from an environment variable or a file.
    certificate_password_env: Option<String>,
    certificate_password_file: Option<PathBuf>,
    #[serde(default)]
    cloud: Cloud,
    login_url: Option<String>,
    manage_url: Option<String>,
    graph_url: Option<String>,
    components: Option<Vec<String>>,
    content_types: Option<Vec<String>>,
    publisher_id: Option<String>,
    requests_per_minute: Option<u32>,
    quarantine_site: Option<String>,
    notify_sender: Option<String>,
}

impl Config {
    /// Reads and validates a configuration file. Relative paths in it resolve against its
    /// directory; secrets are read from the environment and files it names.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        parse(&text, base, &path.display().to_string(), &|k| {
            std::env::var(k).ok()
        })
    }

    /// Parses configuration text; relative paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Config, ConfigError> {
        parse(text, base_dir.as_ref(), "configuration", &|k| {
            std::env::var(k).ok()
        })
    }

    /// Like [`Config::from_toml_str`], with the environment given as a lookup function (tests,
    /// embedding).
    pub fn from_toml_str_with_env(
        text: &str,
        base_dir: impl AsRef<Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        parse(text, base_dir.as_ref(), "configuration", env)
    }

    /// The tenant with this name.
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.name == name)
    }
}

fn parse(
    text: &str,
    base: &Path,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        // The error's own Display quotes the offending line, which could hold a secret: report
        // the position and message only.
        let location = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        ConfigError::Syntax {
            file: file.to_string(),
            location,
            message: e.message().trim().to_string(),
        }
    })?;

    let mut problems = Vec::new();
    let mut tenants = Vec::new();
    let mut names = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    for (i, t) in raw.tenant.into_iter().enumerate() {
        let label = if t.name.trim().is_empty() {
            format!("tenant #{}", i + 1)
        } else {
            format!("tenant `{}`", t.name)
        };
        let name = Field::File(format!("{label}: name"));
        if check_name(
            &t.name,
            &name,
            "give each [[tenant]] a unique name",
            &mut problems,
        ) {
            if !names.insert(t.name.to_lowercase()) {
                problems.push(format!(
                    "{label}: the name is used by another [[tenant]]; names must be unique"
                ));
            } else if !prefixes.insert(env_prefix(&t.name)) {
                problems.push(format!(
                    "{label}: the name maps to the same environment prefix {} as another tenant; rename one of them",
                    env_prefix(&t.name)
                ));
            }
        }
        if let Some(tenant) = tenant(t, &label, base, env, &mut problems) {
            tenants.push(tenant);
        }
    }
    if raw.collector.poll_interval_secs == 0 {
        problems.push("[collector]: poll_interval_secs must be at least 1".into());
    }
    if raw.collector.blob_concurrency == 0 {
        problems.push("[collector]: blob_concurrency must be at least 1".into());
    }
    if raw.collector.overlap_hours > 24 * 7 {
        problems
            .push("[collector]: overlap_hours must be at most 168 (content is kept 7 days)".into());
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            file: file.to_string(),
            problems,
        });
    }
    let mut collector = raw.collector;
    collector.data_dir = collector.data_dir.map(|d| resolve(base, &d));
    Ok(Config {
        tenants,
        detection: raw.detection,
        collector,
        enrichment: skylight_enrich::EnrichConfig {
            city_db: raw.enrichment.city_db.map(|p| resolve(base, &p)),
            asn_db: raw.enrichment.asn_db.map(|p| resolve(base, &p)),
            ip_ranges: raw.ip_range,
        },
        notifications: raw.notifications,
    })
}

fn env_prefix(name: &str) -> String {
    let mut s = String::from("SKYLIGHT_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_uppercase());
        } else {
            s.push('_');
        }
    }
    s.push('_');
    s
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn tenant(
    t: RawTenant,
    label: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<TenantConfig> {
    let before = problems.len();
    let prefix = env_prefix(&t.name);

    // Identifiers, with environment overrides.
    let tenant_var = format!("{prefix}TENANT_ID");
    let client_var = format!("{prefix}CLIENT_ID");
    let tenant_id = env(&tenant_var)
        .map(|v| (v.trim().to_string(), Some(tenant_var.clone())))
        .or_else(|| t.tenant_id.as_ref().map(|v| (v.trim().to_string(), None)));
    let client_id = env(&client_var)
        .map(|v| (v.trim().to_string(), Some(client_var.clone())))
        .or_else(|| t.client_id.as_ref().map(|v| (v.trim().to_string(), None)));
    let from = |var: &Option<String>, key: &str| match var {
        Some(v) => format!("{v} (which overrides {key})"),
        None => key.to_string(),
    };
    let tenant_id = match tenant_id {
        None => {
            problems.push(format!(
                "{label}: tenant_id is missing; set it to the Directory (tenant) ID from the Microsoft Entra admin center → Overview page (or set {tenant_var})"
            ));
            String::new()
        }
        Some((v, var)) => {
            let field = Field::File(format!("{label}: {}", from(&var, "tenant_id")));
            check_tenant_id(&v, &field, problems);
            v
        }
    };
    let client_id = match client_id {
        None => {
            problems.push(format!(
                "{label}: client_id is missing; set it to the app registration's Application (client) ID (or set {client_var})"
            ));
            String::new()
        }
        Some((v, var)) => {
            let field = Field::File(format!("{label}: {}", from(&var, "client_id")));
            check_client_id(&v, &field, problems);
            v
        }
    };

    let credential = credential(&t, label, base, env, problems);

    // Endpoint overrides.
    let url = |key: &str, v: &Option<String>, problems: &mut Vec<String>| -> Option<String> {
        let field = Field::File(format!("{label}: {key}"));
        endpoint_url(v.as_ref()?, &field, &t.name, key, problems)
    };
    let login_url = url("login_url", &t.login_url, problems);
    let manage_url = url("manage_url", &t.manage_url, problems);
    let graph_url = url("graph_url", &t.graph_url, problems);

    // Components.
    let mut components = Components::default();
    if let Some(list) = &t.components {
        components = Components {
            activities: false,
            files: false,
        };
        for c in list {
            match c.trim().to_ascii_lowercase().as_str() {
                "activities" => components.activities = true,
                "files" => components.files = true,
                _ => problems.push(format!(
                    "{label}: components lists unknown component `{c}`; the components are \"activities\" and \"files\""
                )),
            }
        }
        if list.is_empty() {
            problems.push(format!(
                "{label}: components is empty; list at least \"activities\""
            ));
        } else {
            check_components(components, &Field::File(label.to_string()), problems);
        }
    }

    // Content types.
    let content_types = match &t.content_types {
        None => ContentType::ALL.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for s in list {
                match ContentType::parse(s.trim()) {
                    Some(ct) if !out.contains(&ct) => out.push(ct),
                    Some(_) => {}
                    None => problems.push(format!(
                        "{label}: content_types lists unknown content type `{s}`; the content types are {}",
                        ContentType::ALL
                            .iter()
                            .map(|c| format!("\"{c}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
            if list.is_empty() && components.activities {
                problems.push(format!(
                    "{label}: content_types is empty; list at least one content type, or leave the key out for all five"
                ));
            }
            out
        }
    };

    let publisher_id = t.publisher_id.as_ref().map(|p| p.trim().to_string());
    if let Some(p) = &publisher_id
        && !is_guid(p)
    {
        problems.push(format!(
            "{label}: publisher_id `{p}` is not a GUID; the Management Activity API's PublisherIdentifier is a tenant GUID (leave it out to use tenant_id)"
        ));
    }
    let requests_per_minute = t.requests_per_minute.unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
    if requests_per_minute == 0 {
        problems.push(format!("{label}: requests_per_minute must be at least 1"));
    }
    let notify_sender = t
        .notify_sender
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(n) = &notify_sender
        && !n.contains('@')
    {
        problems.push(format!(
            "{label}: notify_sender `{n}` is not a mailbox address; name the mailbox notifications are sent from (security@contoso.com)"
        ));
    }

    if problems.len() > before {
        return None;
    }
    Some(TenantConfig {
        name: t.name,
        tenant_id,
        client_id,
        credential: credential?,
        cloud: t.cloud,
        login_url,
        manage_url,
        graph_url,
        components,
        content_types,
        publisher_id,
        requests_per_minute,
        quarantine_site: t.quarantine_site.clone(),
        notify_sender,
    })
}

fn credential(
    t: &RawTenant,
    label: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<Credential> {
    if t.client_secret.is_some() {
        problems.push(format!(
            "{label}: client_secret must not be written in the configuration file; remove it and use client_secret_env = \"VARIABLE\" (an environment variable holding the secret) or client_secret_file = \"path\""
        ));
        return None;
    }
    let given = [
        t.client_secret_env.is_some(),
        t.client_secret_file.is_some(),
        t.certificate_file.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given == 0 {
        problems.push(format!(
            "{label}: no credential; set one of client_secret_env, client_secret_file or certificate_file"
        ));
        return None;
    }
    if given > 1 {
        problems.push(format!(
            "{label}: set only one of client_secret_env, client_secret_file and certificate_file"
        ));
        return None;
    }
    if t.private_key_file.is_some() && t.certificate_file.is_none() {
        problems.push(format!(
            "{label}: private_key_file is only used with certificate_file"
        ));
        return None;
    }

    if let Some(var) = &t.client_secret_env {
        return match env(var) {
            None => {
                problems.push(format!(
                    "{label}: client_secret_env names {var}, which is not set"
                ));
                None
            }
            Some(v) if v.trim().is_empty() => {
                problems.push(format!(
                    "{label}: client_secret_env names {var}, which is empty"
                ));
                None
            }
            Some(v) => Some(Credential::Secret(Secret(v))),
        };
    }
    if let Some(file) = &t.client_secret_file {
        let path = resolve(base, file);
        return match std::fs::read_to_string(&path) {
            Err(e) => {
                problems.push(format!(
                    "{label}: client_secret_file {} cannot be read: {e}",
                    path.display()
                ));
                None
            }
            Ok(v) => match secret_value(v) {
                None => {
                    problems.push(format!(
                        "{label}: client_secret_file {} is empty",
                        path.display()
                    ));
                    None
                }
                Some(s) => Some(Credential::Secret(s)),
            },
        };
    }
    let cert_file = resolve(base, t.certificate_file.as_deref()?);
    let ext = cert_file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("pfx" | "p12")) {
        let password = match (&t.certificate_password_env, &t.certificate_password_file) {
            (Some(var), _) => match env(var) {
                Some(v) => v,
                None => {
                    problems.push(format!(
                        "{label}: certificate_password_env names {var}, which is not set"
                    ));
                    return None;
                }
            },
            (None, Some(f)) => match std::fs::read_to_string(resolve(base, f)) {
                Ok(v) => v.trim_end_matches(['\r', '\n']).to_string(),
                Err(e) => {
                    problems.push(format!(
                        "{label}: certificate_password_file {} cannot be read: {e}",
                        f.display()
                    ));
                    return None;
                }
            },
            // A PFX exported without a password.
            (None, None) => String::new(),
        };
        return pfx_certificate(&cert_file, &password, label, problems);
    }
    certificate(
        &cert_file,
        t.private_key_file.as_deref().map(|k| resolve(base, k)),
        label,
        problems,
    )
}

/// Wraps DER bytes as PEM.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads a PFX/PKCS#12 file: the first private key with its certificate.
fn pfx_certificate(
    path: &Path,
    password: &str,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Credential> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            problems.push(format!(
                "{label}: certificate_file {} cannot be read: {e}",
                path.display()
            ));
            return None;
        }
    };
    let store = match p12_keystore::KeyStore::from_pkcs12(
        &bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    ) {
        Ok(s) => s,
        Err(_) => {
            problems.push(format!(
                "{label}: certificate_file {} cannot be opened: wrong password (certificate_password_env / certificate_password_file) or not a PFX file",
                path.display()
            ));
            return None;
        }
    };
    let Some((_, chain)) = store.private_key_chain() else {
        problems.push(format!(
            "{label}: certificate_file {} holds no private key; export the PFX with its key",
            path.display()
        ));
        return None;
    };
    let Some(cert) = chain.certs().first() else {
        problems.push(format!(
            "{label}: certificate_file {} holds a key but no certificate",
            path.display()
        ));
        return None;
    };
    Some(Credential::Certificate {
        certificate_pem: pem("CERTIFICATE", cert.as_der()),
        private_key: Secret(pem("PRIVATE KEY", chain.key().as_der())),
    })
}

/// A PEM block: its label and the full text from BEGIN to END.
struct PemBlock<'a> {
    label: &'a str,
    text: &'a str,
}

fn pem_blocks(text: &str) -> Vec<PemBlock<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(b) = rest.find("-----BEGIN ") {
        let start = offset + b;
        let after = &text[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(e) = text[start..].find(&end_marker) else {
            break;
        };
        let end = start + e + end_marker.len();
        out.push(PemBlock {
            label,
            text: &text[start..end],
        });
        offset = end;
        rest = &text[end..];
    }
    out
}

fn certificate(
    cert_file: &Path,
    key_file: Option<PathBuf>,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Credential> {
    let pfx_hint = "name a PFX/PKCS#12 file with a .pfx or .p12 extension (and its password with certificate_password_env), or convert it with `openssl pkcs12 -in app.pfx -out app.pem -nodes`";
    // .pfx / .p12 files are read by `pfx_certificate`; here only PEM.
    let read = |path: &Path, key: &str, problems: &mut Vec<String>| -> Option<String> {
        match std::fs::read(path) {
            Err(e) => {
                problems.push(format!(
                    "{label}: {key} {} cannot be read: {e}",
                    path.display()
                ));
                None
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) if s.contains("-----BEGIN ") => Some(s),
                _ => {
                    problems.push(format!(
                        "{label}: {key} {} is not a PEM file (binary content: if it is a PFX, {pfx_hint})",
                        path.display()
                    ));
                    None
                }
            },
        }
    };
    let cert_text = read(cert_file, "certificate_file", problems)?;
    let key_text = match &key_file {
        Some(k) => Some(read(k, "private_key_file", problems)?),
        None => None,
    };
    let cert_field = Field::File(format!("{label}: certificate_file {}", cert_file.display()));
    let key_field = key_file
        .as_deref()
        .map(|k| Field::File(format!("{label}: private_key_file {}", k.display())));
    certificate_from_pem(
        &cert_text,
        key_text.as_deref().zip(key_field.as_ref()),
        &cert_field,
        problems,
    )
}

/// A certificate credential from PEM text: the certificate, and its RSA private key either in
/// `key` (with the field it came from) or in the certificate's text. Both the file's
/// `certificate_file` / `private_key_file` and the console's pasted PEM go through here, so a
/// key the file would refuse is refused from the console too.
fn certificate_from_pem(
    cert_text: &str,
    key: Option<(&str, &Field<'_>)>,
    cert_field: &Field<'_>,
    problems: &mut Vec<String>,
) -> Option<Credential> {
    let (key_text, key_field) = key.unwrap_or((cert_text, cert_field));
    let cert = pem_blocks(cert_text)
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .map(|b| b.text.to_string());
    let Some(certificate_pem) = cert else {
        problems.push(format!(
            "{cert_field} holds no certificate (-----BEGIN CERTIFICATE-----)"
        ));
        return None;
    };
    let blocks = pem_blocks(key_text);
    if blocks.iter().any(|b| b.label == "ENCRYPTED PRIVATE KEY")
        || key_text.contains("Proc-Type: 4,ENCRYPTED")
    {
        let fix = match key_field {
            Field::File(_) => {
                "store it unencrypted with `openssl pkey -in key.pem -out key-plain.pem` and protect the file's permissions"
            }
            Field::Console(_) => {
                "give it unencrypted (decrypt it with `openssl pkey -in key.pem -out key-plain.pem`)"
            }
        };
        problems.push(format!(
            "{} the private key is encrypted; {fix}",
            key_field.heading()
        ));
        return None;
    }
    let Some(key) = blocks
        .iter()
        .find(|b| b.label == "PRIVATE KEY" || b.label == "RSA PRIVATE KEY")
    else {
        let hint = if blocks.iter().any(|b| b.label == "EC PRIVATE KEY") {
            "it holds an EC key, but the identity platform needs an RSA key (2048 bits or more)"
        } else if key.is_none() {
            match cert_field {
                Field::File(_) => "add the private key to the file or set private_key_file",
                Field::Console(_) => "give the private key as well",
            }
        } else {
            "expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"
        };
        problems.push(format!("{key_field} holds no RSA private key: {hint}"));
        return None;
    };
    if jsonwebtoken::EncodingKey::from_rsa_pem(key.text.as_bytes()).is_err() {
        problems.push(format!(
            "{} the private key is not a usable RSA key (the identity platform needs RSA, 2048 bits or more)",
            key_field.heading()
        ));
        return None;
    }
    Some(Credential::Certificate {
        certificate_pem,
        private_key: Secret(key.text.to_string()),
    })
}

/// How a problem names the value it is about. The configuration file and the console share every
/// check; only this differs: "tenant `contoso`: tenant_id `x` is …" against "Tenant ID: `x` is …".
enum Field<'a> {
    /// A key of the file, after its tenant's label (or the environment variable overriding it).
    File(String),
    /// A field of the console's form, by its title.
    Console(&'a str),
}

impl Field<'_> {
    /// The name followed by a colon, for problems that start a new clause.
    fn heading(&self) -> String {
        match self {
            Field::File(s) => format!("{s}:"),
            Field::Console(title) => format!("{title}:"),
        }
    }
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::File(s) => f.write_str(s),
            // A form field reads as "Title: problem".
            Field::Console(title) => write!(f, "{title}:"),
        }
    }
}

/// Checks a connector's name (its uniqueness is the caller's to check); false when it is wrong.
fn check_name(name: &str, field: &Field<'_>, give_one: &str, problems: &mut Vec<String>) -> bool {
    if name.trim().is_empty() {
        problems.push(format!("{field} is empty; {give_one}"));
        false
    } else if name.chars().any(char::is_control) || name.len() > 64 {
        problems.push(format!(
            "{field} must be at most 64 characters without control characters"
        ));
        false
    } else {
        true
    }
}

/// Checks a tenant id: a GUID or a domain, and not one of the multi-tenant aliases, which app-only
/// sign-in refuses.
fn check_tenant_id(v: &str, field: &Field<'_>, problems: &mut Vec<String>) {
    let lower = v.to_ascii_lowercase();
    if ["common", "organizations", "consumers"].contains(&lower.as_str()) {
        problems.push(format!(
            "{field} is `{v}`, which cannot be used for app-only sign-in; use the tenant's Directory (tenant) ID"
        ));
    } else if !is_guid(v) && !is_domain(v) {
        problems.push(format!(
            "{field} `{v}` is neither a GUID nor a domain name; use the Directory (tenant) ID from the Microsoft Entra admin center → Overview page"
        ));
    }
}

/// Checks an Application (client) ID.
fn check_client_id(v: &str, field: &Field<'_>, problems: &mut Vec<String>) {
    if !is_guid(v) {
        problems.push(format!(
            "{field} `{v}` is not a GUID; use the Application (client) ID from Microsoft Entra admin center → App registrations → (the app) → Overview"
        ));
    }
}

/// An endpoint override without its trailing slash, or `None` (with a problem) when it is not an
/// http(s) URL. Plain http is accepted, for the simulator, with a warning when it leaves the
/// machine.
fn endpoint_url(
    v: &str,
    field: &Field<'_>,
    tenant: &str,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let trimmed = v.trim().trim_end_matches('/').to_string();
    match reqwest::Url::parse(&trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if u.scheme() == "http"
                && !matches!(
                    u.host_str(),
                    Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
                )
            {
                tracing::warn!(
                    tenant = %tenant,
                    key,
                    "{key} uses plain http to a non-loopback host: credentials and tokens travel unencrypted"
                );
            }
            Some(trimmed)
        }
        _ => {
            problems.push(format!(
                "{field} `{v}` is not an http(s) URL such as https://login.microsoftonline.com"
            ));
            None
        }
    }
}

/// Checks how the components go together: the files component is only collected with activities.
fn check_components(c: Components, field: &Field<'_>, problems: &mut Vec<String>) {
    if c.files && !c.activities {
        let fix = match field {
            Field::File(_) => "use components = [\"activities\", \"files\"]",
            Field::Console(_) => "turn on activities as well",
        };
        problems.push(format!(
            "{} the \"files\" component requires \"activities\"; {fix}",
            field.heading()
        ));
    }
}

/// A client secret as given, without the line ending a file or a paste leaves after it; `None`
/// when nothing is left.
fn secret_value(mut v: String) -> Option<Secret> {
    while v.ends_with('\n') || v.ends_with('\r') {
        v.pop();
    }
    (!v.trim().is_empty()).then_some(Secret(v))
}

/// True for `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex), with optional braces.
pub fn is_guid(s: &str) -> bool {
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// True for a DNS name with at least two labels, e.g. `contoso.onmicrosoft.com`.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TENANT: &str = "6d8a2f3c-1b4e-4c7a-9f21-0e5d3b7a9c11";
    const CLIENT: &str = "2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55";
    const SECRET: &str = "s3cr3t~Value.With-Chars_123";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn parse_with(text: &str, dir: &Path, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str_with_env(text, dir, &env(pairs))
    }

    fn tenant_toml(extra: &str) -> String {
        format!(
            "[[tenant]]\nname = \"contoso\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n{extra}\n"
        )
    }

    fn err(r: Result<Config, ConfigError>) -> String {
        match r {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn test_cert() -> (String, String) {
        let c = skylight_sim::certs::AppCertificate::generate("CN=config test")
            .unwrap_or_else(|e| panic!("cert: {e}"));
        (c.cert_pem, c.key_pem)
    }

    #[test]
    fn secret_from_env_with_defaults() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cfg = parse_with(
            &tenant_toml("client_secret_env = \"CONTOSO_SECRET\""),
            dir.path(),
            &[("CONTOSO_SECRET", SECRET)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = &cfg.tenants[0];
        assert_eq!(t.credential, Credential::Secret(Secret::new(SECRET)));
        assert_eq!(t.cloud, Cloud::Commercial);
        assert_eq!(t.content_types, ContentType::ALL.to_vec());
        assert_eq!(
            t.components,
            Components {
                activities: true,
                files: false
            }
        );
        assert_eq!(t.requests_per_minute, 1800);
        assert_eq!(t.publisher_id(), TENANT);
        assert_eq!(cfg.collector, CollectorSettings::default());
        assert_eq!(cfg.collector.poll_interval_secs, 60);
        assert_eq!(cfg.collector.overlap_hours, 6);
        assert_eq!(cfg.collector.blob_concurrency, 8);
        assert_eq!(cfg.detection.learning_days, 7.0);
        assert_eq!(t.endpoints(), Cloud::Commercial.endpoints());
    }

    #[test]
    fn enrichment_databases_and_named_ranges() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "{}\n[enrichment]\ncity_db = \"geo/dbip-city-lite.mmdb\"\n\n[[ip_range]]\nname = \"Paris office\"\ncategory = \"corporate\"\ncidrs = [\"203.0.113.0/24\"]\ntags = [\"hq\"]\n",
            tenant_toml("client_secret_env = \"S\"")
        );
        let cfg = parse_with(&text, dir.path(), &[("S", SECRET)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.enrichment.city_db,
            Some(dir.path().join("geo/dbip-city-lite.mmdb"))
        );
        assert_eq!(cfg.enrichment.asn_db, None);
        assert_eq!(cfg.enrichment.ip_ranges.len(), 1);
        assert_eq!(
            cfg.enrichment.ip_ranges[0].category,
            skylight_enrich::IpCategory::Corporate
        );
        let wrong = text.replace("\"corporate\"", "\"friendly\"");
        let e = err(parse_with(&wrong, dir.path(), &[("S", SECRET)]));
        assert!(e.contains("friendly"), "{e}");
    }

    #[test]
    fn secret_from_file_trims_the_newline_and_resolves_relative_paths() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("secrets")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("secrets/contoso"), format!("{SECRET}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "{}\n[collector]\npoll_interval_secs = 5\ndata_dir = \"data\"\n[detection]\nlearning_days = 2\nsigma_dir = \"rules\"\n",
            tenant_toml("client_secret_file = \"secrets/contoso\"")
        );
        let path = dir.path().join("skylight.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.tenants[0].credential,
            Credential::Secret(Secret::new(SECRET))
        );
        assert_eq!(cfg.collector.poll_interval_secs, 5);
        assert_eq!(cfg.collector.overlap_hours, 6);
        assert_eq!(cfg.collector.data_dir, Some(dir.path().join("data")));
        assert_eq!(cfg.detection.learning_days, 2.0);
        assert_eq!(
            cfg.detection
                .other
                .get("sigma_dir")
                .and_then(|v| v.as_str()),
            Some("rules")
        );
    }

    #[test]
    fn certificate_from_one_pem_file_or_two() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = test_cert();
        std::fs::write(dir.path().join("app.pem"), format!("{cert}\n{key}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = parse_with(
            &tenant_toml("certificate_file = \"app.pem\""),
            dir.path(),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Credential::Certificate {
            certificate_pem,
            private_key,
        } = &cfg.tenants[0].credential
        else {
            panic!("not a certificate credential");
        };
        assert!(certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(private_key.expose().contains("PRIVATE KEY-----"));
        assert_eq!(cfg.tenants[0].credential.kind(), "certificate");
        let dbg = format!("{cfg:?}");
        let key_body: String = key.lines().nth(1).unwrap_or_default().to_string();
        assert!(key_body.len() > 20);
        assert!(!dbg.contains(&key_body), "private key in Debug output");

        // Separate files; key first in a file with a comment.
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("key.pem"), format!("# the key\n{key}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = parse_with(
            &tenant_toml("certificate_file = \"cert.pem\"\nprivate_key_file = \"key.pem\""),
            dir.path(),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.tenants[0].credential.kind(), "certificate");

        // Certificate without its key.
        let e = err(parse_with(
            &tenant_toml("certificate_file = \"cert.pem\""),
            dir.path(),
            &[],
        ));
        assert!(e.contains("holds no RSA private key"), "{e}");
        assert!(e.contains("private_key_file"), "{e}");
    }

    #[test]
    fn a_broken_pfx_or_a_binary_pem_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("app.pfx"), [0x30u8, 0x82, 0x0a, 0x01, 0x02])
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("app.bin"), [0x30u8, 0x82, 0xff, 0xfe])
            .unwrap_or_else(|e| panic!("{e}"));
        let e = err(parse_with(
            &tenant_toml("certificate_file = \"app.pfx\""),
            dir.path(),
            &[],
        ));
        assert!(
            e.contains("cannot be opened") && e.contains("certificate_password_env"),
            "{e}"
        );
        let e = err(parse_with(
            &tenant_toml("certificate_file = \"app.bin\""),
            dir.path(),
            &[],
        ));
        assert!(
            e.contains("openssl pkcs12 -in app.pfx -out app.pem -nodes") && e.contains(".pfx"),
            "{e}"
        );
        let e = err(parse_with(
            &tenant_toml("certificate_file = \"app.pfx\"\ncertificate_password_env = \"NOPE\""),
            dir.path(),
            &[],
        ));
        assert!(e.contains("NOPE"), "{e}");
    }

    #[test]
    fn a_literal_secret_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = err(parse_with(
            &tenant_toml(&format!("client_secret = \"{SECRET}\"")),
            dir.path(),
            &[],
        ));
        assert!(e.contains("client_secret_env"), "{e}");
        assert!(e.contains("client_secret_file"), "{e}");
        assert!(!e.contains(SECRET), "{e}");
        // A syntax error on the secret's line does not quote the line either.
        let e = err(parse_with(
            &tenant_toml(&format!("client_secret_env = {SECRET}")),
            dir.path(),
            &[],
        ));
        assert!(!e.contains(SECRET), "{e}");
        assert!(e.starts_with("configuration:5:"), "{e}");
    }

    #[test]
    fn missing_env_var_names_the_tenant_and_variable() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = err(parse_with(
            &tenant_toml("client_secret_env = \"CONTOSO_SECRET\""),
            dir.path(),
            &[],
        ));
        assert!(
            e.contains(
                "tenant `contoso`: client_secret_env names CONTOSO_SECRET, which is not set"
            ),
            "{e}"
        );
        let e = err(parse_with(
            &tenant_toml("client_secret_file = \"nope.txt\""),
            dir.path(),
            &[],
        ));
        assert!(e.contains("tenant `contoso`: client_secret_file"), "{e}");
        assert!(e.contains("nope.txt"), "{e}");
        let e = err(parse_with(&tenant_toml(""), dir.path(), &[]));
        assert!(e.contains("no credential"), "{e}");
        let e = err(parse_with(
            &tenant_toml("client_secret_env = \"A\"\ncertificate_file = \"x.pem\""),
            dir.path(),
            &[("A", "x")],
        ));
        assert!(e.contains("only one of"), "{e}");
    }

    #[test]
    fn environment_overrides_ids() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let other_client = "11111111-2222-3333-4444-555555555555";
        let text = format!(
            "[[tenant]]\nname = \"contoso-eu\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"S\"\n"
        );
        let cfg = parse_with(
            &text,
            dir.path(),
            &[
                ("S", SECRET),
                ("SKYLIGHT_CONTOSO_EU_TENANT_ID", "contoso.onmicrosoft.com"),
                ("SKYLIGHT_CONTOSO_EU_CLIENT_ID", other_client),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = &cfg.tenants[0];
        assert_eq!(t.tenant_id, "contoso.onmicrosoft.com");
        assert_eq!(t.client_id, other_client);
        assert_eq!(t.env_prefix(), "SKYLIGHT_CONTOSO_EU_");
        // Without the variable, tenant_id is missing.
        let e = err(parse_with(&text, dir.path(), &[("S", SECRET)]));
        assert!(e.contains("tenant_id is missing"), "{e}");
        assert!(e.contains("SKYLIGHT_CONTOSO_EU_TENANT_ID"), "{e}");
        // A bad override names the variable.
        let e = err(parse_with(
            &text,
            dir.path(),
            &[
                ("S", SECRET),
                ("SKYLIGHT_CONTOSO_EU_TENANT_ID", "not a tenant"),
            ],
        ));
        assert!(
            e.contains("SKYLIGHT_CONTOSO_EU_TENANT_ID (which overrides tenant_id)"),
            "{e}"
        );
    }

    #[test]
    fn validation_errors_say_what_to_fix() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = [("S", SECRET)];
        let secret = "client_secret_env = \"S\"";
        let bad_tenant = format!(
            "[[tenant]]\nname = \"a\"\ntenant_id = \"not_a_tenant\"\nclient_id = \"{CLIENT}\"\n{secret}\n"
        );
        let e = err(parse_with(&bad_tenant, dir.path(), &s));
        assert!(
            e.contains("tenant `a`: tenant_id `not_a_tenant` is neither a GUID nor a domain"),
            "{e}"
        );
        let common = bad_tenant.replace("not_a_tenant", "common");
        assert!(err(parse_with(&common, dir.path(), &s)).contains("app-only"));
        let bad_client = tenant_toml(secret).replace(CLIENT, "my-app");
        assert!(
            err(parse_with(&bad_client, dir.path(), &s))
                .contains("client_id `my-app` is not a GUID")
        );

        let dup = format!(
            "{}{}",
            tenant_toml(secret),
            tenant_toml(secret).replace("contoso", "Contoso")
        );
        let e = err(parse_with(&dup, dir.path(), &s));
        assert!(
            e.contains("tenant `Contoso`: the name is used by another [[tenant]]"),
            "{e}"
        );

        let ct = tenant_toml(&format!(
            "{secret}\ncontent_types = [\"Audit.Exchange\", \"Audit.Teams\"]"
        ));
        let e = err(parse_with(&ct, dir.path(), &s));
        assert!(e.contains("unknown content type `Audit.Teams`"), "{e}");
        assert!(e.contains("\"DLP.All\""), "{e}");

        let files = tenant_toml(&format!("{secret}\ncomponents = [\"files\"]"));
        let e = err(parse_with(&files, dir.path(), &s));
        assert!(
            e.contains("the \"files\" component requires \"activities\""),
            "{e}"
        );

        let typo = tenant_toml(&format!("{secret}\ncontent_type = [\"Audit.Exchange\"]"));
        let e = err(parse_with(&typo, dir.path(), &s));
        assert!(e.contains("unknown field `content_type`"), "{e}");
        let typo = format!("{}\n[collector]\npoll_interval = 5\n", tenant_toml(secret));
        assert!(err(parse_with(&typo, dir.path(), &s)).contains("unknown field `poll_interval`"));
        let typo = "[[tenants]]\nname = \"x\"\n".to_string();
        assert!(err(parse_with(&typo, dir.path(), &s)).contains("unknown field `tenants`"));

        let cloud = tenant_toml(&format!("{secret}\ncloud = \"gcc_high\""));
        assert!(err(parse_with(&cloud, dir.path(), &s)).contains("gcc-high"));

        let url = tenant_toml(&format!(
            "{secret}\nlogin_url = \"login.microsoftonline.com\""
        ));
        assert!(err(parse_with(&url, dir.path(), &s)).contains("login_url"));

        // Several problems are reported together.
        let three = "[[tenant]]\nname = \"a\"\ntenant_id = \"x\"\nclient_id = \"y\"\nclient_secret_env = \"MISSING\"\n";
        match parse_with(three, dir.path(), &s) {
            Err(ConfigError::Invalid { problems, .. }) => {
                assert_eq!(problems.len(), 3, "{problems:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn content_types_components_and_endpoint_overrides() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = tenant_toml(
            "client_secret_env = \"S\"\ncloud = \"gcc-high\"\nmanage_url = \"http://127.0.0.1:9000/\"\ncomponents = [\"activities\", \"files\"]\ncontent_types = [\"audit.exchange\", \"DLP.All\", \"Audit.Exchange\"]\npublisher_id = \"00000000-0000-0000-0000-0000000000aa\"\nrequests_per_minute = 600",
        );
        let cfg = parse_with(&text, dir.path(), &[("S", SECRET)]).unwrap_or_else(|e| panic!("{e}"));
        let t = &cfg.tenants[0];
        assert_eq!(
            t.content_types,
            vec![ContentType::Exchange, ContentType::Dlp]
        );
        assert!(t.components.files && t.components.activities);
        assert_eq!(t.publisher_id(), "00000000-0000-0000-0000-0000000000aa");
        assert_eq!(t.requests_per_minute, 600);
        let e = t.endpoints();
        assert_eq!(e.manage, "http://127.0.0.1:9000");
        assert_eq!(e.login, "https://login.microsoftonline.us");
        assert_eq!(e.graph, "https://graph.microsoft.us");
        assert_eq!(e.manage_resource, "https://manage.office365.us");
        assert_eq!(e.graph_resource, "https://graph.microsoft.us");
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cfg = parse_with(
            &tenant_toml("client_secret_env = \"S\""),
            dir.path(),
            &[("S", SECRET)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dbg = format!("{cfg:?} {cfg:#?}");
        assert!(!dbg.contains(SECRET), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        let s = Secret::new(SECRET);
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), SECRET);
    }

    #[test]
    fn notifications_are_passed_on_as_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "{}\n[notifications]\nmax_attempts = 3\n[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://hooks.example/skylight\"\nsurprise = 1\n",
            tenant_toml("client_secret_env = \"S\"")
        );
        let cfg = parse_with(&text, dir.path(), &[("S", SECRET)]).unwrap_or_else(|e| panic!("{e}"));
        // Read by the notification crate, which judges the keys; here they are only carried.
        assert_eq!(
            cfg.notifications.get("max_attempts"),
            Some(&toml::Value::Integer(3))
        );
        let hooks = cfg.notifications.get("webhook").and_then(|v| v.as_array());
        let hook = hooks.and_then(|h| h.first()).and_then(|h| h.as_table());
        assert_eq!(
            hook.and_then(|h| h.get("url")).and_then(|v| v.as_str()),
            Some("https://hooks.example/skylight")
        );
        assert!(hook.is_some_and(|h| h.contains_key("surprise")));
        // Without the table: empty.
        let cfg = parse_with(
            &tenant_toml("client_secret_env = \"S\""),
            dir.path(),
            &[("S", SECRET)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.notifications.is_empty());
        // Other unknown top-level tables are still refused, by name.
        let e = err(parse_with(
            &format!(
                "{}\n[notification]\nx = 1\n",
                tenant_toml("client_secret_env = \"S\"")
            ),
            dir.path(),
            &[("S", SECRET)],
        ));
        assert!(e.contains("notification"), "{e}");
    }

    fn spec() -> TenantSpec {
        TenantSpec {
            name: "contoso".into(),
            tenant_id: TENANT.into(),
            client_id: CLIENT.into(),
            credential: Credential::Secret(Secret::new(SECRET)),
            cloud: "gcc-high".into(),
            login_url: None,
            manage_url: Some("http://127.0.0.1:9000/".into()),
            graph_url: Some(String::new()),
            activities: true,
            files: true,
            content_types: vec![
                ContentType::Exchange,
                ContentType::Dlp,
                ContentType::Exchange,
            ],
            quarantine_site: Some(" ".into()),
        }
    }

    fn spec_problems(spec: TenantSpec) -> Vec<String> {
        match TenantConfig::from_spec(spec) {
            Ok(t) => panic!("expected problems, got {t:?}"),
            Err(p) => p,
        }
    }

    #[test]
    fn a_notification_mailbox_is_an_address() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ok = parse_with(
            &tenant_toml("client_secret_env = \"S\"\nnotify_sender = \" security@contoso.com \""),
            dir.path(),
            &[("S", SECRET)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ok.tenants[0].notify_sender.as_deref(),
            Some("security@contoso.com")
        );
        let bad = parse_with(
            &tenant_toml("client_secret_env = \"S\"\nnotify_sender = \"security\""),
            dir.path(),
            &[("S", SECRET)],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            bad.contains("notify_sender `security` is not a mailbox address"),
            "{bad}"
        );
    }

    #[test]
    fn a_console_spec_makes_the_tenant_the_file_would() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let from_file = parse_with(
            &tenant_toml(
                "client_secret_env = \"S\"\ncloud = \"gcc-high\"\nmanage_url = \"http://127.0.0.1:9000/\"\ncomponents = [\"activities\", \"files\"]\ncontent_types = [\"Audit.Exchange\", \"DLP.All\"]",
            ),
            dir.path(),
            &[("S", SECRET)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let from_console = TenantConfig::from_spec(spec()).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(from_console, from_file.tenants[0]);
        assert!(!format!("{from_console:?}").contains(SECRET));

        // Defaults: an empty cloud is commercial, no content types are all five, blank
        // overrides are none.
        let t = TenantConfig::from_spec(TenantSpec {
            cloud: String::new(),
            content_types: Vec::new(),
            files: false,
            manage_url: Some("  ".into()),
            quarantine_site: Some(" https://contoso.sharepoint.com/sites/q ".into()),
            ..spec()
        })
        .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(t.cloud, Cloud::Commercial);
        assert_eq!(t.content_types, ContentType::ALL.to_vec());
        assert_eq!(t.endpoints(), Cloud::Commercial.endpoints());
        assert_eq!(
            t.quarantine_site.as_deref(),
            Some("https://contoso.sharepoint.com/sites/q")
        );
        assert_eq!(t.requests_per_minute, 1800);
    }

    #[test]
    fn a_console_certificate_is_checked_as_the_file_checks_it() {
        let (cert, key) = test_cert();
        let with = |certificate_pem: String, private_key: String| TenantSpec {
            credential: Credential::Certificate {
                certificate_pem,
                private_key: Secret::new(private_key),
            },
            ..spec()
        };
        // Separate PEM texts, or both in the certificate's text.
        for s in [
            with(cert.clone(), format!("# the key\n{key}")),
            with(format!("{cert}\n{key}"), String::new()),
        ] {
            let t = TenantConfig::from_spec(s).unwrap_or_else(|p| panic!("{p:?}"));
            let Credential::Certificate {
                certificate_pem,
                private_key,
            } = &t.credential
            else {
                panic!("not a certificate credential");
            };
            assert!(certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(private_key.expose().starts_with("-----BEGIN"));
            assert!(!private_key.expose().contains("# the key"));
        }

        let key_body = key.lines().nth(1).unwrap_or_default().to_string();
        let cases = [
            (with(key.clone(), key.clone()), "Certificate: holds no certificate"),
            (with(cert.clone(), String::new()), "Certificate: holds no RSA private key"),
            (
                with(
                    cert.clone(),
                    "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----".into(),
                ),
                "Private key: holds no RSA private key: it holds an EC key",
            ),
            (
                with(
                    cert.clone(),
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
                        .into(),
                ),
                "Private key: the private key is encrypted",
            ),
            (
                with(
                    cert.clone(),
                    format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----"),
                ),
                "Private key: the private key is not a usable RSA key",
            ),
            (with(cert.clone(), "not a key".into()), "Private key: holds no RSA private key"),
        ];
        for (s, expected) in cases {
            let p = spec_problems(s);
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(p[0].starts_with(expected), "{p:?}");
            assert!(!p[0].contains("private_key_file"), "{p:?}");
            assert!(!p[0].contains(SECRET) && !p[0].contains(&key_body), "{p:?}");
        }
    }

    #[test]
    fn console_mistakes_name_the_field_in_plain_words() {
        let cases: Vec<(TenantSpec, &str)> = vec![
            (
                TenantSpec {
                    name: " ".into(),
                    ..spec()
                },
                "Name: is empty",
            ),
            (
                TenantSpec {
                    name: "x".repeat(65),
                    ..spec()
                },
                "Name: must be at most 64",
            ),
            (
                TenantSpec {
                    name: "a\tb".into(),
                    ..spec()
                },
                "Name: must be at most 64",
            ),
            (
                TenantSpec {
                    tenant_id: String::new(),
                    ..spec()
                },
                "Tenant ID: is missing",
            ),
            (
                TenantSpec {
                    tenant_id: "not_a_tenant".into(),
                    ..spec()
                },
                "Tenant ID: `not_a_tenant` is neither a GUID nor a domain name",
            ),
            (
                TenantSpec {
                    tenant_id: "Organizations".into(),
                    ..spec()
                },
                "Tenant ID: is `Organizations`, which cannot be used for app-only sign-in",
            ),
            (
                TenantSpec {
                    client_id: " ".into(),
                    ..spec()
                },
                "Client ID: is missing",
            ),
            (
                TenantSpec {
                    client_id: "my-app".into(),
                    ..spec()
                },
                "Client ID: `my-app` is not a GUID",
            ),
            (
                TenantSpec {
                    cloud: "gcc_high".into(),
                    ..spec()
                },
                "Cloud: `gcc_high` is not a Microsoft cloud; choose commercial, gcc, gcc-high, dod or china",
            ),
            (
                TenantSpec {
                    login_url: Some("login.microsoftonline.com".into()),
                    ..spec()
                },
                "Login URL: `login.microsoftonline.com` is not an http(s) URL",
            ),
            (
                TenantSpec {
                    manage_url: Some("ftp://manage".into()),
                    ..spec()
                },
                "Management API URL: `ftp://manage` is not an http(s) URL",
            ),
            (
                TenantSpec {
                    graph_url: Some("https://".into()),
                    ..spec()
                },
                "Graph URL: `https://` is not an http(s) URL",
            ),
            (
                TenantSpec {
                    activities: false,
                    ..spec()
                },
                "Components: the \"files\" component requires \"activities\"; turn on activities",
            ),
            (
                TenantSpec {
                    activities: false,
                    files: false,
                    ..spec()
                },
                "Components: none is chosen",
            ),
            (
                TenantSpec {
                    credential: Credential::Secret(Secret::new("\r\n")),
                    ..spec()
                },
                "Client secret: is empty",
            ),
        ];
        let toml_words = [
            "tenant_id",
            "client_id",
            "client_secret",
            "login_url",
            "manage_url",
            "graph_url",
            "components =",
            "[[tenant]]",
            "tenant `",
        ];
        for (s, expected) in cases {
            let p = spec_problems(s);
            assert_eq!(p.len(), 1, "{expected}: {p:?}");
            assert!(p[0].starts_with(expected), "{expected}: {p:?}");
            assert!(
                toml_words.iter().all(|w| !p[0].contains(w)),
                "a file key in a console message: {p:?}"
            );
            assert!(!p[0].contains(SECRET), "{p:?}");
        }

        // Every problem at once, one line each, and still no secret.
        let p = spec_problems(TenantSpec {
            name: String::new(),
            tenant_id: "common".into(),
            client_id: "x".into(),
            cloud: "mars".into(),
            login_url: Some("nope".into()),
            activities: false,
            ..spec()
        });
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(
            p.iter().all(|l| !l.contains('\n') && !l.contains(SECRET)),
            "{p:?}"
        );
    }

    #[test]
    fn guid_and_domain_rules() {
        assert!(is_guid(TENANT));
        assert!(is_guid(&format!("{{{TENANT}}}")));
        assert!(!is_guid("6d8a2f3c-1b4e-4c7a-9f21-0e5d3b7a9c1"));
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(is_domain("contoso.com"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("-bad.com"));
        assert!(!is_domain("a..com"));
    }
}
