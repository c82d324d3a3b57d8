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
mod model;
pub mod ops;
pub mod tokens;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::config::GraphSettings;
use crate::feed::Injected;
use crate::tenant::Tenant;

pub use drives::{GDrive, GItem, GPerm, GSite, Ident, PermKind};
pub use model::*;

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
    /// Mail sent through `sendMail` (sender, recipients, subject, body, time), in order.
    pub sent_mail: Vec<serde_json::Value>,
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
            // The record carries the sync's time; the change number is taken now, so change
            // numbers stay in time order for `token=<time>`.
            let at = r.due;
            let seq = self.bump(now);
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
