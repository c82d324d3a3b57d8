//! The tenant as Microsoft Graph shows it: users, groups, directory roles, service principals and
//! their grants, risky users, sign-ins, sites and drives with their items and permissions.
//!
//! Built once, deterministically, from the generated [`Tenant`] (on the first Graph request, so
//! tenants nobody asks Graph about cost nothing), then mutable behind the simulator's lock: Graph
//! writes and `/_sim/graph/changes` change it. Every change takes the next number of one
//! monotonically increasing sequence; delta tokens are positions in that sequence.

pub mod audit;
pub mod changes;
pub mod drives;
pub mod generate;
pub mod ops;
pub mod tokens;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::catalog::ContentType;
use crate::config::GraphSettings;
use crate::feed::Injected;
use crate::tenant::Tenant;

pub use drives::{GDrive, GItem, GPerm, GSite, Ident, PermKind};

/// A user as Graph returns it.
#[derive(Debug, Clone)]
pub struct GUser {
    /// Object id.
    pub id: String,
    /// User principal name (guests: `mail_domain#EXT#@tenant.onmicrosoft.com`).
    pub upn: String,
    /// Mail address (for guests, their own address at home).
    pub mail: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Office location (city).
    pub office_location: Option<String>,
    /// Two-letter usage location.
    pub usage_location: Option<String>,
    /// Business phone numbers.
    pub business_phones: Vec<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// `Member` or `Guest`.
    pub user_type: &'static str,
    /// `Some(true)` synced from on-premises AD; `None` cloud-only.
    pub on_prem_sync: Option<bool>,
    /// The value on-premises AD holds (directory sync restores it).
    pub on_prem_enabled: bool,
    /// Created.
    pub created: DateTime<Utc>,
    /// Refresh tokens issued before this are invalid (`revokeSignInSessions` moves it).
    pub sessions_valid_from: DateTime<Utc>,
    /// E5 (true) or E3 licence; guests hold none.
    pub e5: Option<bool>,
    /// Last successful interactive sign-in, if any.
    pub last_sign_in: Option<DateTime<Utc>>,
    /// Last change.
    pub seq: u64,
}

/// A group.
#[derive(Debug, Clone)]
pub struct GGroup {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Mail address of mail-enabled groups.
    pub mail: Option<String>,
    /// Mail nickname.
    pub mail_nickname: String,
    /// Mail-enabled.
    pub mail_enabled: bool,
    /// Security-enabled.
    pub security_enabled: bool,
    /// `Unified` for Microsoft 365 groups.
    pub group_types: Vec<&'static str>,
    /// `Private` / `Public` for Microsoft 365 groups.
    pub visibility: Option<&'static str>,
    /// Synced from on-premises.
    pub on_prem_sync: Option<bool>,
    /// Created.
    pub created: DateTime<Utc>,
    /// Direct members: user and group ids.
    pub members: BTreeSet<String>,
    /// Owner user ids.
    pub owners: Vec<String>,
    /// The group's team site (index into `GraphState::sites`).
    pub site: Option<usize>,
    /// Last change.
    pub seq: u64,
}

/// An activated directory role and who holds it.
#[derive(Debug, Clone)]
pub struct GRole {
    /// Object id (the same one the audit records name).
    pub id: String,
    /// Role template id (the same in every tenant).
    pub template_id: &'static str,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// Member user ids.
    pub members: BTreeSet<String>,
}

/// An application permission (app role) a resource offers.
#[derive(Debug, Clone)]
pub struct GAppRole {
    /// Id.
    pub id: String,
    /// Value, e.g. `Mail.ReadWrite`.
    pub value: String,
    /// Display name.
    pub display_name: String,
}

/// A delegated permission (scope) a resource offers.
#[derive(Debug, Clone)]
pub struct GScope {
    /// Id.
    pub id: String,
    /// Value, e.g. `Files.ReadWrite.All`.
    pub value: String,
    /// `User` (users may consent) or `Admin` (admin consent required).
    pub kind: &'static str,
    /// What an admin sees when consenting.
    pub admin_consent_display_name: String,
}

/// A verified publisher.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Publisher's name.
    pub display_name: String,
    /// Microsoft Partner Network id.
    pub id: String,
    /// When verification was added.
    pub added: DateTime<Utc>,
}

/// A service principal.
#[derive(Debug, Clone)]
pub struct GServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Publisher name shown at consent.
    pub publisher_name: Option<String>,
    /// Verified publisher, if verified.
    pub verified: Option<Verified>,
    /// Tenant owning the app registration.
    pub app_owner_org: Option<String>,
    /// Sign-in enabled (disabling it is how an app is banned).
    pub account_enabled: bool,
    /// Users need an assignment to sign in.
    pub assignment_required: bool,
    /// Application permissions it offers (resources).
    pub app_roles: Vec<GAppRole>,
    /// Delegated permissions it offers (resources).
    pub scopes: Vec<GScope>,
    /// Tags.
    pub tags: Vec<String>,
    /// Home page.
    pub homepage: Option<String>,
    /// Reply URLs.
    pub reply_urls: Vec<String>,
    /// Created.
    pub created: DateTime<Utc>,
    /// A Microsoft first-party application.
    pub first_party: bool,
    /// Last change.
    pub seq: u64,
}

/// A delegated permission grant (a user's or an admin's consent).
#[derive(Debug, Clone)]
pub struct GGrant {
    /// Id (base64url of client, resource and principal ids, as Entra forms it).
    pub id: String,
    /// Client service principal id.
    pub client_id: String,
    /// `AllPrincipals` (admin consent for everyone) or `Principal` (one user).
    pub consent_type: &'static str,
    /// The consenting user for `Principal` grants.
    pub principal_id: Option<String>,
    /// Resource service principal id.
    pub resource_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// When consent was first given (not in Graph v1.0; shown in `/_sim/graph`).
    pub consented: DateTime<Utc>,
}

/// An application permission granted (an app role assignment).
#[derive(Debug, Clone)]
pub struct GAssignment {
    /// Id.
    pub id: String,
    /// App role id (all zeros: default access).
    pub app_role_id: String,
    /// Principal id.
    pub principal_id: String,
    /// `ServicePrincipal`, `User` or `Group`.
    pub principal_type: &'static str,
    /// Principal display name.
    pub principal_display_name: String,
    /// Resource service principal id.
    pub resource_id: String,
    /// Resource display name.
    pub resource_display_name: String,
    /// Created.
    pub created: DateTime<Utc>,
}

/// A user Identity Protection has an opinion on.
#[derive(Debug, Clone)]
pub struct GRisky {
    /// User id.
    pub id: String,
    /// `low`, `medium`, `high`, `none`.
    pub level: &'static str,
    /// `atRisk`, `confirmedCompromised`, `dismissed`, `remediated`, `none`.
    pub state: &'static str,
    /// Why.
    pub detail: &'static str,
    /// Last change.
    pub updated: DateTime<Utc>,
}

/// One interactive sign-in (Entra ID P1 sign-in logs).
#[derive(Debug, Clone)]
pub struct GSignIn {
    /// Id.
    pub id: String,
    /// When.
    pub created: DateTime<Utc>,
    /// User id.
    pub user_id: String,
    /// Application signed in to.
    pub app_id: &'static str,
    /// Its name.
    pub app_name: &'static str,
    /// Client address.
    pub ip: String,
    /// `Browser`, `Mobile Apps and Desktop clients`, legacy protocols…
    pub client_app: &'static str,
    /// 0 success, else the AADSTS code.
    pub error_code: u32,
    /// City, country code, latitude, longitude.
    pub location: (&'static str, &'static str, f64, f64),
}

/// A removed directory object, kept for delta.
#[derive(Debug, Clone)]
pub struct Removed {
    /// When (sequence).
    pub seq: u64,
    /// `changed` (soft-deleted, restorable) or `deleted` (gone for good).
    pub reason: &'static str,
}

/// A membership change, for `members@delta`.
#[derive(Debug, Clone)]
pub struct MembershipChange {
    /// Group id.
    pub group: String,
    /// Member id.
    pub member: String,
    /// Added (true) or removed.
    pub added: bool,
    /// When (sequence).
    pub seq: u64,
}

/// A cloud-side change to a synced user that the next directory sync undoes.
#[derive(Debug, Clone)]
pub struct PendingRevert {
    /// User id.
    pub user: String,
    /// When sync runs.
    pub due: DateTime<Utc>,
}

/// One Graph write received.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WriteEntry {
    /// Order of arrival.
    pub seq: u64,
    /// Simulator time.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Calling application id.
    pub app_id: String,
    /// The write changed the tenant (false: refused, failed, or nothing to change).
    pub applied: bool,
    /// Audit records the write published.
    pub record_ids: Vec<String>,
}

/// An audit record published by a Graph write, a directory sync or a requested change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// Record Id.
    pub id: String,
    /// Content type.
    pub content_type: &'static str,
    /// RecordType.
    pub record_type: i32,
    /// Operation.
    pub operation: String,
    /// `ObjectId` of the record.
    pub object_id: String,
    /// Event time.
    pub time: String,
    /// When it is published in the Management Activity API.
    pub published: String,
    /// What caused it: `graph`, `sync` or `change`.
    pub cause: &'static str,
}

/// A record waiting to be handed to the feed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Content type.
    pub ct: ContentType,
    /// The record.
    pub record: Injected,
    /// When the event happened.
    pub event: DateTime<Utc>,
    /// When the record is published.
    pub published: DateTime<Utc>,
}

/// A file or folder copy in progress (`copy` answers with a monitor URL).
#[derive(Debug, Clone)]
pub struct CopyJob {
    /// The new item.
    pub resource_id: String,
    /// Times the monitor was polled.
    pub polls: u32,
}

/// A fault tests arm through `POST /_sim/graph/faults`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultRule {
    /// HTTP status to answer: 429, 500, 502, 503 or 504.
    pub status: u16,
    /// Answer this many matching requests, then stop (absent: no count limit).
    #[serde(default)]
    pub count: Option<u32>,
    /// Chance of answering each matching request (absent: always, until `count` runs out).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only requests whose path contains this.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only requests with this method.
    #[serde(default)]
    pub method: Option<String>,
    /// `Retry-After` value (seconds, may be fractional); absent on 429 means none is sent.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Apply the request first, then answer the error (the client sees a failure for a write
    /// that happened, and must not apply it twice).
    #[serde(default)]
    pub after_apply: bool,
}

/// The mutable Graph view of the tenant.
#[derive(Debug)]
pub struct GraphState {
    /// Behaviour settings (changed at run time by `/_sim/graph/control`).
    pub settings: GraphSettings,
    /// The generated tenant this was derived from.
    pub tenant: Arc<Tenant>,
    /// Last change number handed out.
    pub seq: u64,
    /// When each change number was handed out after start-up (drive delta `token=<time>`).
    pub seq_times: Vec<(u64, DateTime<Utc>)>,
    /// Start-up time.
    pub started: DateTime<Utc>,
    /// Users by id.
    pub users: BTreeMap<String, GUser>,
    /// Removed users by id.
    pub removed_users: BTreeMap<String, Removed>,
    /// Groups by id.
    pub groups: BTreeMap<String, GGroup>,
    /// Removed groups by id.
    pub removed_groups: BTreeMap<String, Removed>,
    /// Membership changes after start-up.
    pub membership_log: Vec<MembershipChange>,
    /// Activated directory roles.
    pub roles: Vec<GRole>,
    /// Service principals by id.
    pub sps: BTreeMap<String, GServicePrincipal>,
    /// Delegated grants by id.
    pub grants: BTreeMap<String, GGrant>,
    /// App role assignments by id.
    pub assignments: BTreeMap<String, GAssignment>,
    /// Risky users by user id.
    pub risky: BTreeMap<String, GRisky>,
    /// Sign-ins, newest first.
    pub sign_ins: Vec<GSignIn>,
    /// Sites.
    pub sites: Vec<GSite>,
    /// Drives by id.
    pub drives: BTreeMap<String, GDrive>,
    /// Synced users waiting for directory sync to revert them.
    pub reverts: Vec<PendingRevert>,
    /// Locked items (drive id, item id) and until when.
    pub locks: BTreeMap<(String, String), DateTime<Utc>>,
    /// Graph writes received.
    pub writes: Vec<WriteEntry>,
    /// Records published by writes, syncs and changes.
    pub audit_log: Vec<AuditEntry>,
    /// Records to hand to the feed.
    pub outbox: Vec<Outgoing>,
    /// Copy jobs by id.
    pub copy_jobs: BTreeMap<String, CopyJob>,
    /// Armed faults.
    pub faults: Vec<FaultRule>,
    /// Counter behind every id created at run time.
    pub counter: u64,
    /// What records published now are attributed to (`graph`, or `change` while requested
    /// changes are made).
    pub cause: &'static str,
}

impl GraphState {
    /// Derives the Graph view of a tenant at `now`.
    pub fn new(tenant: Arc<Tenant>, settings: GraphSettings, now: DateTime<Utc>) -> GraphState {
        generate::build(tenant, settings, now)
    }

    /// Takes the next change number, recording when it was taken.
    pub fn bump(&mut self, now: DateTime<Utc>) -> u64 {
        self.seq += 1;
        self.seq_times.push((self.seq, now));
        self.seq
    }

    /// The last change number handed out at or before `t` (drive delta `token=<time>`).
    pub fn seq_at(&self, t: DateTime<Utc>) -> u64 {
        if t < self.started {
            return 0;
        }
        let i = self.seq_times.partition_point(|(_, at)| *at <= t);
        if i == 0 {
            self.seq_times.first().map_or(self.seq, |(s, _)| s - 1)
        } else {
            self.seq_times[i - 1].0
        }
    }

    /// The next run-time counter value (ids of new objects, records).
    pub fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Applies what falls due by `now`: directory sync reverts synced users, locks lapse.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.locks.retain(|_, until| *until > now);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reverts)
            .into_iter()
            .partition(|r| r.due <= now);
        self.reverts = later;
        for r in due {
            let Some(u) = self.users.get(&r.user) else {
                continue;
            };
            if u.account_enabled == u.on_prem_enabled {
                continue;
            }
            let (old, new) = (u.account_enabled, u.on_prem_enabled);
            let at = r.due;
            let seq = self.bump(at);
            if let Some(u) = self.users.get_mut(&r.user) {
                u.account_enabled = new;
                u.seq = seq;
            }
            let rec = audit::update_user_enabled(self, &audit::Actor::Sync, &r.user, old, new, at);
            self.emit(rec, at, "sync");
        }
    }

    /// Queues a record for publication and notes it in the audit log.
    pub fn emit(&mut self, rec: audit::Record, at: DateTime<Utc>, cause: &'static str) -> String {
        let delay = self.settings.audit_delay_secs.max(0);
        let jitter = if delay > 0 {
            (crate::rng::hash_str(&rec.id) % (delay as u64 + 1)) as i64
        } else {
            0
        };
        let published = at + Duration::seconds(delay + jitter);
        self.audit_log.push(AuditEntry {
            id: rec.id.clone(),
            content_type: rec.ct.as_str(),
            record_type: rec.record_type,
            operation: rec.operation.clone(),
            object_id: rec.object_id.clone(),
            time: at.to_rfc3339(),
            published: published.to_rfc3339(),
            cause,
        });
        let id = rec.id.clone();
        self.outbox.push(Outgoing {
            ct: rec.ct,
            record: Injected {
                id: rec.id,
                json: rec.json,
            },
            event: at,
            published,
        });
        id
    }

    /// The user holding a UPN or id (UPNs case-insensitively).
    pub fn find_user(&self, key: &str) -> Option<&GUser> {
        self.users.get(key).or_else(|| {
            let lower = key.to_ascii_lowercase();
            self.users
                .values()
                .find(|u| u.upn.to_ascii_lowercase() == lower || u.id.eq_ignore_ascii_case(&lower))
        })
    }

    /// Role names a user holds.
    pub fn roles_of(&self, user_id: &str) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|r| r.members.contains(user_id))
            .map(|r| r.display_name.as_str())
            .collect()
    }

    /// Every member of a group, nested groups expanded (users and groups, each once).
    pub fn transitive_members(&self, group_id: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut stack = vec![group_id.to_string()];
        let mut visited = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !visited.insert(g.clone()) {
                continue;
            }
            let Some(group) = self.groups.get(&g) else {
                continue;
            };
            for m in &group.members {
                if seen.insert(m.clone()) {
                    out.push(m.clone());
                }
                if self.groups.contains_key(m) {
                    stack.push(m.clone());
                }
            }
        }
        out
    }

    /// Groups a user or group is a direct member of.
    pub fn member_of(&self, id: &str) -> Vec<String> {
        self.groups
            .values()
            .filter(|g| g.members.contains(id))
            .map(|g| g.id.clone())
            .collect()
    }

    /// Groups a user or group belongs to, directly or through nesting.
    pub fn transitive_member_of(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack = vec![id.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            for g in self.member_of(&x) {
                if seen.insert(g.clone()) {
                    out.push(g.clone());
                    stack.push(g);
                }
            }
        }
        out
    }

    /// The Microsoft Graph service principal (the resource of most grants).
    pub fn graph_sp_id(&self) -> String {
        generate::graph_sp_id(&self.tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixed_now;

    fn state(users: usize) -> GraphState {
        let t = Arc::new(Tenant::generate(5, users, fixed_now()));
        GraphState::new(t, GraphSettings::default(), fixed_now())
    }

    #[test]
    fn the_graph_view_is_deterministic_and_complete() {
        let a = state(120);
        let b = state(120);
        assert_eq!(a.users.len(), 120);
        assert_eq!(
            a.users.keys().collect::<Vec<_>>(),
            b.users.keys().collect::<Vec<_>>()
        );
        let items = |s: &GraphState| -> Vec<String> {
            s.drives
                .values()
                .flat_map(|d| d.items.values().map(|i| format!("{}:{}", i.id, i.name)))
                .collect()
        };
        assert_eq!(items(&a), items(&b));
        assert!(a.users.values().any(|u| u.user_type == "Guest"));
        assert!(a.users.values().any(|u| u.on_prem_sync == Some(true)));
        assert!(
            a.roles
                .iter()
                .any(|r| r.display_name == "Global Administrator")
        );
        assert!(a.grants.values().any(|g| g.consent_type == "AllPrincipals"));
        assert!(a.grants.values().any(|g| g.consent_type == "Principal"));
        assert!(!a.assignments.is_empty());
    }

    #[test]
    fn nested_groups_make_transitive_membership_differ() {
        let s = state(150);
        let all_staff = s
            .groups
            .values()
            .find(|g| g.display_name == "Company Wide")
            .expect("Company Wide exists");
        let direct = all_staff.members.len();
        let transitive = s.transitive_members(&all_staff.id);
        assert!(
            transitive.len() > direct + 10,
            "{direct} vs {}",
            transitive.len()
        );
        let user_in_dept = transitive
            .iter()
            .find(|m| s.users.contains_key(*m))
            .expect("users arrive through nesting");
        assert!(s.transitive_member_of(user_in_dept).contains(&all_staff.id));
    }

    #[test]
    fn directory_sync_reverts_a_cloud_change_to_a_synced_user() {
        let mut s = state(100);
        let id = s
            .users
            .values()
            .find(|u| u.on_prem_sync == Some(true) && u.account_enabled)
            .map(|u| u.id.clone())
            .expect("a synced enabled user");
        let now = fixed_now();
        let seq = s.bump(now);
        if let Some(u) = s.users.get_mut(&id) {
            u.account_enabled = false;
            u.seq = seq;
        }
        s.reverts.push(PendingRevert {
            user: id.clone(),
            due: now + Duration::minutes(30),
        });
        s.tick(now + Duration::minutes(29));
        assert!(!s.users[&id].account_enabled);
        s.tick(now + Duration::minutes(30));
        assert!(s.users[&id].account_enabled, "sync restored it");
        assert_eq!(s.outbox.len(), 1, "the sync published its Update user.");
        assert!(s.seq_at(now + Duration::minutes(31)) > seq);
        assert_eq!(s.seq_at(now - Duration::minutes(1)), 0);
    }
}
