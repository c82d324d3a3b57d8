//! Simulator settings: tenant size, history, faults, scenarios and knobs of the API's behaviour.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A named fault profile: a way Microsoft's service misbehaves that clients must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Requests beyond a per-minute budget answer AF429 (HTTP 429 or 403).
    Throttle,
    /// 5xx answers, connection resets and slow answers.
    Flaky,
    /// The same record in several blobs, and the same blob on several pages.
    Duplicates,
    /// Listing pages and blob records out of order.
    Shuffle,
    /// Some listed content has already expired (AF20051 on retrieval).
    Expired,
    /// Some content is published days after its events.
    Late,
    /// Publication outages: hours without content, then a burst; empty pages.
    Gaps,
}

impl Fault {
    /// Every fault profile.
    pub const ALL: [Fault; 7] = [
        Fault::Throttle,
        Fault::Flaky,
        Fault::Duplicates,
        Fault::Shuffle,
        Fault::Expired,
        Fault::Late,
        Fault::Gaps,
    ];

    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Flaky => "flaky",
            Fault::Duplicates => "duplicates",
            Fault::Shuffle => "shuffle",
            Fault::Expired => "expired",
            Fault::Late => "late",
            Fault::Gaps => "gaps",
        }
    }
}

/// A named attack scenario injected into the activity, with ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Sign-ins from two countries too far apart for the time between them.
    ImpossibleTravel,
    /// Sign-in from a Tor exit relay.
    AnonymousIp,
    /// Many failed passwords on one account, then a success.
    BruteForce,
    /// One password tried against many accounts from one address.
    PasswordSpray,
    /// One user downloads hundreds of files within minutes.
    MassDownload,
    /// One user deletes hundreds of files within minutes.
    MassDelete,
    /// One user shares many files externally.
    MassShare,
    /// Rename-and-overwrite bursts with a ransom extension.
    Ransomware,
    /// An inbox rule forwarding mail to an external address.
    InboxForwardRule,
    /// An inbox rule deleting or hiding incoming mail.
    InboxDeleteRule,
    /// Full-access permission on another user's mailbox.
    MailboxDelegation,
    /// A user added to a privileged admin role.
    AdminRoleAssignment,
    /// Multi-factor authentication removed from a user.
    MfaDisabled,
    /// Admin consent to an unverified app asking for high privileges.
    OauthConsentHighPrivilege,
    /// Activity by a disabled or departed user.
    DepartedUserActivity,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 15] = [
        Scenario::ImpossibleTravel,
        Scenario::AnonymousIp,
        Scenario::BruteForce,
        Scenario::PasswordSpray,
        Scenario::MassDownload,
        Scenario::MassDelete,
        Scenario::MassShare,
        Scenario::Ransomware,
        Scenario::InboxForwardRule,
        Scenario::InboxDeleteRule,
        Scenario::MailboxDelegation,
        Scenario::AdminRoleAssignment,
        Scenario::MfaDisabled,
        Scenario::OauthConsentHighPrivilege,
        Scenario::DepartedUserActivity,
    ];

    /// The scenario's name on the command line and in `/_sim/truth`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ImpossibleTravel => "impossible_travel",
            Scenario::AnonymousIp => "anonymous_ip",
            Scenario::BruteForce => "brute_force",
            Scenario::PasswordSpray => "password_spray",
            Scenario::MassDownload => "mass_download",
            Scenario::MassDelete => "mass_delete",
            Scenario::MassShare => "mass_share",
            Scenario::Ransomware => "ransomware",
            Scenario::InboxForwardRule => "inbox_forward_rule",
            Scenario::InboxDeleteRule => "inbox_delete_rule",
            Scenario::MailboxDelegation => "mailbox_delegation",
            Scenario::AdminRoleAssignment => "admin_role_assignment",
            Scenario::MfaDisabled => "mfa_disabled",
            Scenario::OauthConsentHighPrivilege => "oauth_consent_high_privilege",
            Scenario::DepartedUserActivity => "departed_user_activity",
        }
    }
}

/// Why a list of names could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{name}`; expected `all` or one of: {expected}")]
pub struct UnknownName {
    kind: &'static str,
    name: String,
    expected: String,
}

fn parse_list<T: Copy + Ord>(
    s: &str,
    kind: &'static str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, UnknownName> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.eq_ignore_ascii_case("all") {
            out.extend_from_slice(all);
        } else if part.eq_ignore_ascii_case("none") {
            continue;
        } else if let Some(x) = all.iter().find(|x| name(**x).eq_ignore_ascii_case(part)) {
            out.push(*x);
        } else {
            return Err(UnknownName {
                kind,
                name: part.to_string(),
                expected: all.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", "),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A comma-separated list of fault profiles (`all` names every one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(pub Vec<Fault>);

impl FromStr for Faults {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_list(s, "fault profile", &Fault::ALL, Fault::name).map(Faults)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .0
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// A comma-separated list of attack scenarios (`all` names every one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenarios(pub Vec<Scenario>);

impl FromStr for Scenarios {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_list(s, "scenario", &Scenario::ALL, Scenario::name).map(Scenarios)
    }
}

impl fmt::Display for Scenarios {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .0
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// Everything the simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of users in the tenant.
    pub users: usize,
    /// Days of history already published at start-up.
    pub days: u32,
    /// Seed every generated value derives from.
    pub seed: u64,
    /// Fault profiles switched on.
    pub faults: Faults,
    /// Attack scenarios injected.
    pub scenarios: Scenarios,
    /// Keep publishing new activity in real time.
    pub live: bool,
    /// The simulator's "now" at start-up (default: the wall clock).
    pub now: Option<DateTime<Utc>>,
    /// How fast the simulator's clock runs relative to the wall clock (1.0 = real time).
    pub speed: f64,
    /// Base URL clients reach the simulator at (default: `http://` + the listen address).
    pub public_url: Option<String>,
    /// Lifetime of issued access tokens, in seconds.
    pub token_lifetime_secs: i64,
    /// Management API request budget per minute (default: unlimited, or 300 with `throttle`).
    pub requests_per_minute: Option<u32>,
    /// Content objects per listing page.
    pub page_size: usize,
    /// Minutes of activity each content blob covers.
    pub blob_minutes: u32,
    /// Accept `http://` webhook addresses (Microsoft requires HTTPS).
    pub allow_http_webhooks: bool,
    /// Most requests kept in the request log.
    pub request_log_capacity: usize,
    /// Build every blob published at start-up before serving, so that draining the tenant costs
    /// the simulator only the copy (benchmarks: the load generator shares the client's machine).
    /// Holds the blobs in memory, about 1.3 KB per record; blobs published later are built
    /// when asked for, as without it.
    pub pregenerate: bool,
    /// How the Microsoft Graph surface behaves.
    pub graph: GraphSettings,
}

/// How the simulated Microsoft Graph behaves (contract §4 and §7); `POST /_sim/graph/control`
/// changes these at run time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GraphSettings {
    /// Seconds a delta token (directory or drive) stays valid; Microsoft documents 7 days for
    /// directory tokens, after which the client must resynchronise (410).
    pub delta_token_lifetime_secs: i64,
    /// Seconds until on-premises directory sync reverts a cloud-side change to a synced user
    /// (AD Connect's default cycle is 30 minutes).
    pub sync_interval_secs: i64,
    /// Synced users: `true` accepts a PATCH of `accountEnabled` and reverts it at the next sync;
    /// `false` refuses it with 400 `Request_BadRequest` (the contract leaves both possible).
    pub synced_patch_accepted: bool,
    /// Least seconds between a Graph write and the publication of its audit record in the
    /// Management Activity API; each record is published between this and twice this.
    pub audit_delay_secs: i64,
    /// Items per delta page (Graph chooses the page size of delta queries itself).
    pub delta_page_size: usize,
    /// The tenant holds Entra ID P1 (sign-in logs).
    pub entra_p1: bool,
    /// The tenant holds Entra ID P2 (Identity Protection: risky users).
    pub entra_p2: bool,
    /// Disabling a user who holds a directory role needs a privileged role the app does not
    /// have: such PATCHes answer 403 `Authorization_RequestDenied`.
    pub protect_admins: bool,
    /// Chance that a delta page repeats the previous page's last object (Graph may report an
    /// object more than once; clients apply the last occurrence). 0.1 with the `duplicates` fault.
    pub delta_duplicate_probability: f64,
}

impl Default for GraphSettings {
    fn default() -> Self {
        GraphSettings {
            delta_token_lifetime_secs: 7 * 24 * 3600,
            sync_interval_secs: 30 * 60,
            synced_patch_accepted: true,
            audit_delay_secs: 300,
            delta_page_size: 200,
            entra_p1: true,
            entra_p2: true,
            protect_admins: true,
            delta_duplicate_probability: 0.0,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            users: 500,
            days: 7,
            seed: 1,
            faults: Faults::default(),
            scenarios: Scenarios::default(),
            live: false,
            now: None,
            speed: 1.0,
            public_url: None,
            token_lifetime_secs: 3599,
            requests_per_minute: None,
            page_size: 100,
            blob_minutes: 60,
            allow_http_webhooks: false,
            request_log_capacity: 200_000,
            pregenerate: false,
            graph: GraphSettings::default(),
        }
    }
}

impl SimConfig {
    /// True when the fault profile is on.
    pub fn has(&self, fault: Fault) -> bool {
        self.faults.0.contains(&fault)
    }

    /// The effective per-minute request budget, if any.
    pub fn effective_rpm(&self) -> Option<u32> {
        self.requests_per_minute.or(if self.has(Fault::Throttle) {
            Some(300)
        } else {
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_all_and_reject_unknown_names() {
        let all: Faults = "all".parse().expect("all parses");
        assert_eq!(all.0.len(), 7);
        let two: Faults = "late, throttle".parse().expect("two parse");
        assert_eq!(two.0, vec![Fault::Throttle, Fault::Late]);
        let err = "throttle,bogus"
            .parse::<Faults>()
            .expect_err("bogus is rejected");
        assert!(err.to_string().contains("bogus"));
        assert_eq!("all".parse::<Scenarios>().map(|s| s.0.len()).ok(), Some(15));
    }
}
