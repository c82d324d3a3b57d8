//! The `[notifications]` table: channels (webhooks, syslog) and the retry policy.
//!
//! ```toml
//! [notifications]
//! max_attempts = 8            # then the delivery is `failed`, with its last error
//! retry_initial_secs = 30     # doubling after each failure…
//! retry_max_secs = 1800       # …up to this (8 attempts span about an hour)
//! backfill_hours = 48         # on first start, changes this recent are sent
//! portal_url = "https://skylight.example"   # cs1 of CEF lines; default http://127.0.0.1:8080
//!
//! [[notifications.webhook]]
//! name = "soc"
//! url = "https://hooks.example/skylight"
//! secret_env = "SKYLIGHT_WEBHOOK_SECRET"   # or secret_file; signs the body (HMAC-SHA256)
//! min_severity = "medium"
//! include_signals = false
//! timeout_secs = 10
//!
//! [[notifications.syslog]]
//! name = "siem"
//! address = "10.0.0.5:514"
//! protocol = "udp"            # or "tcp"
//! framing = "octet-counting"  # tcp only: or "newline"
//! facility = "local0"
//! hostname = "skylight-1"     # default: this machine's name
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use skylight_model::{Alert, Severity};

use crate::cef::Facility;

/// Why the `[notifications]` table cannot be used. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Wrong shape: an unknown key, a wrong type.
    #[error("[notifications]: {0}")]
    Syntax(String),
    /// Wrong values; every problem found is listed.
    #[error("[notifications]: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The `[notifications]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Webhooks.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
    /// Syslog receivers.
    #[serde(default)]
    pub syslog: Vec<SyslogConfig>,
    /// Attempts before a delivery is failed (default 8).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Seconds before the first retry, doubling after each failure (default 30).
    #[serde(default = "default_initial")]
    pub retry_initial_secs: u64,
    /// Longest wait between attempts, in seconds (default 1800).
    #[serde(default = "default_max")]
    pub retry_max_secs: u64,
    /// On the very first start, alert changes this many hours old are still sent (default 48,
    /// as Defender for Cloud Apps' SIEM agent backfills two days).
    #[serde(default = "default_backfill")]
    pub backfill_hours: u32,
    /// Base URL of Skylight's API, for links (default `http://127.0.0.1:8080`).
    #[serde(default)]
    pub portal_url: Option<String>,
}

fn default_attempts() -> u32 {
    8
}
fn default_initial() -> u64 {
    30
}
fn default_max() -> u64 {
    1800
}
fn default_backfill() -> u32 {
    48
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook: Vec::new(),
            syslog: Vec::new(),
            max_attempts: default_attempts(),
            retry_initial_secs: default_initial(),
            retry_max_secs: default_max(),
            backfill_hours: default_backfill(),
            portal_url: None,
        }
    }
}

/// One `[[notifications.webhook]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The channel's name (unique among channels).
    pub name: String,
    /// Where alerts are POSTed (http or https).
    pub url: String,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The file holding the signing secret (relative to the configuration file).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Only alerts at least this severe.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Signals (detections that record without alerting) too.
    #[serde(default)]
    pub include_signals: bool,
    /// Seconds an attempt may take (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

/// Syslog transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// One message per datagram.
    #[default]
    Udp,
    /// A stream of framed messages.
    Tcp,
}

/// How messages are delimited on a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// `<length> <message>` (RFC 6587 §3.4.1), the default.
    #[default]
    OctetCounting,
    /// `<message>\n` (RFC 6587 §3.4.2); CEF lines never hold a raw line break.
    Newline,
}

/// One `[[notifications.syslog]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// The channel's name (unique among channels).
    pub name: String,
    /// `host:port` of the receiver.
    pub address: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// TCP framing (default octet counting).
    #[serde(default)]
    pub framing: Option<Framing>,
    /// Syslog facility (default `local0`).
    #[serde(default)]
    pub facility: Facility,
    /// HOSTNAME of the messages (default: this machine's name).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Only alerts at least this severe.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Signals (detections that record without alerting) too.
    #[serde(default)]
    pub include_signals: bool,
    /// Seconds a TCP connection and write may take (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// A signing secret; `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for signing only; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A webhook, ready to send.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to POST.
    pub url: reqwest::Url,
    /// Signing secret.
    pub secret: Option<Secret>,
    /// Per attempt.
    pub timeout: Duration,
}

/// A syslog receiver, ready to send.
#[derive(Debug, Clone)]
pub struct Syslog {
    /// `host:port`.
    pub address: String,
    /// Transport.
    pub protocol: Protocol,
    /// TCP framing.
    pub framing: Framing,
    /// Facility.
    pub facility: Facility,
    /// HOSTNAME field.
    pub hostname: String,
    /// Per connection and write.
    pub timeout: Duration,
}

/// Where a channel sends.
#[derive(Debug, Clone)]
pub enum Target {
    /// An HTTP endpoint.
    Webhook(Webhook),
    /// A syslog receiver.
    Syslog(Syslog),
}

/// A configured channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its name, as in the delivery log.
    pub name: String,
    /// Only alerts at least this severe.
    pub min_severity: Option<Severity>,
    /// Signals too.
    pub include_signals: bool,
    /// Where it sends.
    pub target: Target,
}

impl Channel {
    /// Whether this channel takes this alert.
    pub fn wants(&self, alert: &Alert) -> bool {
        (!alert.draft.signal_only || self.include_signals)
            && self.min_severity.is_none_or(|m| alert.draft.severity >= m)
    }

    /// The longest an attempt on this channel may take.
    pub fn timeout(&self) -> Duration {
        match &self.target {
            Target::Webhook(w) => w.timeout,
            Target::Syslog(s) => s.timeout,
        }
    }
}

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a delivery is failed.
    pub max_attempts: u32,
    /// Wait after the first failure; it doubles after each one.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (at least 1), at least `hint` (a server's
    /// `Retry-After`) and at most `max`.
    pub fn delay(&self, failures: u32, hint: Option<Duration>) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
        doubled.max(hint.unwrap_or_default()).min(self.max)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_attempts(),
            initial: Duration::from_secs(default_initial()),
            max: Duration::from_secs(default_max()),
        }
    }
}

/// Everything the notifier needs from the configuration.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// The channels, webhooks first, in file order.
    pub channels: Vec<Channel>,
    /// Retries.
    pub retry: RetryPolicy,
    /// How far back the very first start looks.
    pub backfill: Duration,
    /// Base URL for links.
    pub portal_url: String,
}

/// The default `portal_url`: `skylight serve`'s default address.
pub const DEFAULT_PORTAL_URL: &str = "http://127.0.0.1:8080";

impl NotifyConfig {
    /// Reads the table from any serde deserializer (e.g. a `toml::Value`); unknown keys are
    /// errors that name the key.
    pub fn from_deserializer<'de, D>(d: D) -> Result<NotifyConfig, ConfigError>
    where
        D: serde::Deserializer<'de>,
    {
        NotifyConfig::deserialize(d).map_err(|e| {
            // Messages name the key, never its value (which could be a secret).
            let mut m = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            if m.contains("unknown field `secret`") {
                m.push_str(" (do not write the secret in the configuration: put it in an environment variable, secret_env, or a file, secret_file)");
            }
            ConfigError::Syntax(m)
        })
    }

    /// Checks the values and reads the secrets (from the environment through `env`, and from
    /// files relative to `base_dir`).
    pub fn resolve(
        &self,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifications, ConfigError> {
        let mut problems = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        let mut name_ok = |kind: &str, i: usize, name: &str, problems: &mut Vec<String>| {
            let label = format!("{kind} #{}", i + 1);
            if name.trim().is_empty() {
                problems.push(format!("{label}: name is empty; give each channel a name"));
            } else if name.len() > 64 || name.chars().any(char::is_control) {
                problems.push(format!(
                    "{label}: name must be at most 64 characters without control characters"
                ));
            } else if !names.insert(name.to_owned()) {
                problems.push(format!(
                    "{kind} `{name}`: the name is used by another channel; names must be unique"
                ));
            }
        };
        let mut channels = Vec::new();
        for (i, w) in self.webhook.iter().enumerate() {
            name_ok("webhook", i, &w.name, &mut problems);
            let label = format!("webhook `{}`", w.name);
            if let Some(hook) = webhook(w, &label, base_dir, env, &mut problems) {
                channels.push(Channel {
                    name: w.name.clone(),
                    min_severity: w.min_severity,
                    include_signals: w.include_signals,
                    target: Target::Webhook(hook),
                });
            }
        }
        for (i, s) in self.syslog.iter().enumerate() {
            name_ok("syslog", i, &s.name, &mut problems);
            let label = format!("syslog `{}`", s.name);
            if let Some(sys) = syslog(s, &label, &mut problems) {
                channels.push(Channel {
                    name: s.name.clone(),
                    min_severity: s.min_severity,
                    include_signals: s.include_signals,
                    target: Target::Syslog(sys),
                });
            }
        }
        if self.max_attempts == 0 {
            problems.push("max_attempts must be at least 1".into());
        }
        if self.retry_initial_secs == 0 {
            problems.push("retry_initial_secs must be at least 1".into());
        }
        if self.retry_max_secs < self.retry_initial_secs {
            problems.push("retry_max_secs must be at least retry_initial_secs".into());
        }
        let portal_url = self
            .portal_url
            .clone()
            .unwrap_or_else(|| DEFAULT_PORTAL_URL.into());
        if !http_url(&portal_url) {
            problems.push(format!(
                "portal_url `{portal_url}` is not an http or https URL"
            ));
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Notifications {
            channels,
            retry: RetryPolicy {
                max_attempts: self.max_attempts,
                initial: Duration::from_secs(self.retry_initial_secs),
                max: Duration::from_secs(self.retry_max_secs),
            },
            backfill: Duration::from_secs(u64::from(self.backfill_hours) * 3600),
            portal_url,
        })
    }
}

fn http_url(s: &str) -> bool {
    reqwest::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn webhook(
    w: &WebhookConfig,
    label: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<Webhook> {
    let before = problems.len();
    // The URL is not echoed: webhook URLs often carry a token of their own.
    let url = match reqwest::Url::parse(&w.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        _ => {
            problems.push(format!("{label}: url must be an http or https URL"));
            None
        }
    };
    let secret = match (&w.secret_env, &w.secret_file) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{label}: give either secret_env or secret_file, not both"
            ));
            None
        }
        (Some(var), None) => match env(var).filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(Secret::new(v.trim())),
            None => {
                problems.push(format!(
                    "{label}: secret_env names {var}, which is not set or empty"
                ));
                None
            }
        },
        (None, Some(file)) => {
            let path = if file.is_absolute() {
                file.clone()
            } else {
                base_dir.join(file)
            };
            match std::fs::read_to_string(&path) {
                Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
                Ok(_) => {
                    problems.push(format!("{label}: secret_file {} is empty", path.display()));
                    None
                }
                Err(e) => {
                    problems.push(format!(
                        "{label}: cannot read secret_file {}: {e}",
                        path.display()
                    ));
                    None
                }
            }
        }
        (None, None) => None,
    };
    if w.timeout_secs == 0 {
        problems.push(format!("{label}: timeout_secs must be at least 1"));
    }
    if problems.len() > before {
        return None;
    }
    Some(Webhook {
        url: url?,
        secret,
        timeout: Duration::from_secs(w.timeout_secs),
    })
}

/// Whether `s` is `host:port` (an IPv6 host in brackets).
fn host_port(s: &str) -> bool {
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(':')
                && !host.chars().any(|c| c.is_whitespace() || c.is_control())
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// This machine's name, from the kernel (Linux) or `/etc/hostname`; `-` when unknown.
fn this_host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "-".into())
}

fn syslog(s: &SyslogConfig, label: &str, problems: &mut Vec<String>) -> Option<Syslog> {
    let before = problems.len();
    if !host_port(s.address.trim()) {
        problems.push(format!(
            "{label}: address `{}` must be host:port (e.g. 10.0.0.5:514, [2001:db8::5]:514)",
            s.address
        ));
    }
    if s.protocol == Protocol::Udp && s.framing.is_some() {
        problems.push(format!(
            "{label}: framing applies to protocol = \"tcp\" only"
        ));
    }
    if s.timeout_secs == 0 {
        problems.push(format!("{label}: timeout_secs must be at least 1"));
    }
    if problems.len() > before {
        return None;
    }
    Some(Syslog {
        address: s.address.trim().to_owned(),
        protocol: s.protocol,
        framing: s.framing.unwrap_or_default(),
        facility: s.facility,
        hostname: s.hostname.clone().unwrap_or_else(this_host),
        timeout: Duration::from_secs(s.timeout_secs),
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
