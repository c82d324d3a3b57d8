//! Derives the Graph view from the generated tenant, deterministically from the seed.
//!
//! Inventory rule: every library holds exactly the files the audit feed names (file `k` of a
//! site for `k < site.files`, with the same folder and name, so an audit record's `ObjectId`
//! is a real item), minus name collisions; `site.files` is 20–219 for team sites, 50–449 for
//! communication sites, 15–74 for localised sites and 5–124 for OneDrives, so every drive holds
//! a few hundred items at most and the inventory grows linearly with the user count. One extra
//! library ("Contracts" on the Legal site) holds a dozen files the audit feed never names.

mod apps;
mod drives;
mod ids;

pub use apps::{GRAPH_APP_ROLES, GRAPH_SCOPES, MANAGEMENT_APP_ROLES, MICROSOFT_TENANT};
pub use drives::link_perm;
pub use ids::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::config::GraphSettings;
use crate::graph::{GGroup, GRisky, GRole, GSignIn, GUser, GraphState};
use crate::rng::{Rng, guid, hash, hash_str, mix64};
use crate::tenant::apps::first_party;
use crate::tenant::{Tenant, User, UserKind};

fn user_from(t: &Tenant, u: &User, started: DateTime<Utc>, seq: u64) -> GUser {
    let guest = u.kind == UserKind::Guest;
    let mut r = Rng::new(&[t.seed, hash_str("graph-user"), u.index as u64]);
    let phone = (!guest && r.chance(0.6)).then(|| {
        format!(
            "+{} {} {}",
            1 + r.below(60),
            100 + r.below(900),
            1000 + r.below(9000)
        )
    });
    let last_sign_in = (u.account_enabled && !u.departed)
        .then(|| started - Duration::minutes(r.range(5, 6 * 24 * 60)));
    GUser {
        id: u.object_id.clone(),
        upn: u.upn.clone(),
        mail: Some(u.mail.clone()),
        display_name: u.display_name.clone(),
        given_name: Some(u.given_name.clone()),
        surname: Some(u.surname.clone()),
        job_title: (!guest).then(|| u.job_title.to_string()),
        department: (!guest).then(|| u.department.to_string()),
        office_location: (!guest).then(|| u.country.city.0.to_string()),
        usage_location: Some(u.country.code.to_string()),
        business_phones: phone.into_iter().collect(),
        preferred_language: (!guest).then(|| "en-US".to_string()),
        account_enabled: u.account_enabled,
        user_type: if guest { "Guest" } else { "Member" },
        on_prem_sync: u.on_premises_synced.then_some(true),
        on_prem_enabled: u.account_enabled,
        created: u.created,
        sessions_valid_from: u.created,
        e5: (!guest).then_some(u.e5),
        last_sign_in,
        seq,
    }
}

/// What each directory role allows, as Entra describes it.
fn role_description(role: &str) -> &'static str {
    match role {
        "Global Administrator" => {
            "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."
        }
        "Exchange Administrator" => "Can manage all aspects of the Exchange product.",
        "SharePoint Administrator" => "Can manage all aspects of the SharePoint service.",
        "Security Administrator" => {
            "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."
        }
        "User Administrator" => {
            "Can manage all aspects of users and groups, including resetting passwords for limited admins."
        }
        "Teams Administrator" => "Can manage the Microsoft Teams service.",
        "Compliance Administrator" => {
            "Can read and manage compliance configuration and reports in Microsoft Entra ID and Microsoft 365."
        }
        _ => "Can manage the directory.",
    }
}

/// Builds the whole Graph state.
pub fn build(tenant: Arc<Tenant>, settings: GraphSettings, now: DateTime<Utc>) -> GraphState {
    let t = &*tenant;
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq
    };

    let users: BTreeMap<String, GUser> = t
        .users
        .iter()
        .map(|u| (u.object_id.clone(), user_from(t, u, now, next())))
        .collect();

    let mut groups = BTreeMap::new();
    for (gi, g) in t.groups.iter().enumerate() {
        let mut r = Rng::new(&[t.seed, hash_str("graph-group"), gi as u64]);
        let mut members: BTreeSet<String> = g
            .members
            .iter()
            .filter_map(|i| t.users.get(*i))
            .map(|u| u.object_id.clone())
            .collect();
        members.extend(
            g.member_groups
                .iter()
                .filter_map(|i| t.groups.get(*i))
                .map(|x| x.object_id.clone()),
        );
        let nickname: String = g
            .display_name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        groups.insert(
            g.object_id.clone(),
            GGroup {
                id: g.object_id.clone(),
                display_name: g.display_name.clone(),
                description: Some(format!("{} members", g.display_name)),
                mail: g.unified.then(|| format!("{nickname}@{}", t.domain)),
                mail_nickname: nickname,
                mail_enabled: g.unified,
                security_enabled: g.security_enabled,
                group_types: if g.unified { vec!["Unified"] } else { vec![] },
                visibility: g
                    .unified
                    .then(|| if r.chance(0.7) { "Private" } else { "Public" }),
                on_prem_sync: g.on_premises_synced.then_some(true),
                created: now - Duration::days(60 + r.below(1500) as i64),
                members,
                owners: g
                    .owners
                    .iter()
                    .filter_map(|i| t.users.get(*i))
                    .map(|u| u.object_id.clone())
                    .collect(),
                site: g.site,
                seq: next(),
            },
        );
    }

    let mut roles: Vec<GRole> = Vec::new();
    for role in crate::tenant::ADMIN_ROLES {
        let members: BTreeSet<String> = t
            .users
            .iter()
            .filter(|u| u.kind == UserKind::Admin(role))
            .map(|u| u.object_id.clone())
            .collect();
        if members.is_empty() && *role != "Global Administrator" {
            continue;
        }
        roles.push(GRole {
            id: role_id(t, role),
            template_id: crate::records::role_template(role),
            display_name: role.to_string(),
            description: role_description(role).to_string(),
            members,
        });
    }

    let mut risky = BTreeMap::new();
    for u in t.users.iter().filter(|u| u.kind == UserKind::Member) {
        let mut r = Rng::new(&[t.seed, hash_str("graph-risk"), u.index as u64]);
        if r.chance(0.04) {
            let level = *r.pick(&["low", "medium", "high"]);
            risky.insert(
                u.object_id.clone(),
                GRisky {
                    id: u.object_id.clone(),
                    level,
                    state: "atRisk",
                    detail: "none",
                    updated: now - Duration::minutes(r.range(30, 5 * 24 * 60)),
                },
            );
        }
    }

    let sign_ins = sign_ins(t, now);

    let mut state = GraphState {
        settings,
        tenant: tenant.clone(),
        seq: 0,
        seq_times: Vec::new(),
        started: now,
        users,
        removed_users: BTreeMap::new(),
        groups,
        removed_groups: BTreeMap::new(),
        membership_log: Vec::new(),
        roles,
        sps: BTreeMap::new(),
        grants: BTreeMap::new(),
        assignments: BTreeMap::new(),
        risky,
        sign_ins,
        sites: Vec::new(),
        drives: BTreeMap::new(),
        reverts: Vec::new(),
        locks: BTreeMap::new(),
        writes: Vec::new(),
        sent_mail: Vec::new(),
        audit_log: Vec::new(),
        outbox: Vec::new(),
        copy_jobs: BTreeMap::new(),
        faults: Vec::new(),
        counter: 0,
        cause: "graph",
    };
    let mut seq = state.users.len() as u64 + state.groups.len() as u64;
    apps::apps(&mut state, now, &mut seq);
    drives::sites_and_drives(&mut state, now, &mut seq);
    state.seq = seq;
    state.seq_times.push((seq, now));
    state
}

/// A handful of interactive sign-ins per active user over the last week (P1 sign-in logs).
fn sign_ins(t: &Tenant, now: DateTime<Utc>) -> Vec<GSignIn> {
    const APPS: &[(&str, &str)] = &[
        (first_party::OFFICE_HOME, "Office 365"),
        (first_party::EXCHANGE, "Office 365 Exchange Online"),
        (first_party::TEAMS, "Microsoft Teams"),
        (first_party::ONEDRIVE_SYNC, "OneDrive SyncEngine"),
        (first_party::AZURE_PORTAL, "Azure Portal"),
    ];
    let mut out = Vec::new();
    for u in t
        .users
        .iter()
        .filter(|u| u.account_enabled && !matches!(u.kind, UserKind::Guest))
    {
        let mut r = Rng::new(&[t.seed, hash_str("graph-signin"), u.index as u64]);
        for n in 0..1 + r.below(3) {
            let (app_id, app_name) = *r.pick(APPS);
            let legacy = r.chance(0.03);
            let failed = r.chance(0.05);
            let ip = if r.chance(0.5) {
                u.home_ip
            } else {
                t.office_ip(u.country)
            };
            out.push(GSignIn {
                id: {
                    let h = hash(&[t.seed, hash_str("signin"), u.index as u64, n]);
                    guid(h, mix64(h))
                },
                created: now - Duration::seconds(r.range(60, 7 * 86_400)),
                user_id: u.object_id.clone(),
                app_id,
                app_name,
                ip: crate::records::ip_string(ip),
                client_app: if legacy {
                    "IMAP4"
                } else if r.chance(0.3) {
                    "Mobile Apps and Desktop clients"
                } else {
                    "Browser"
                },
                error_code: if failed { 50126 } else { 0 },
                location: (
                    u.country.city.0,
                    u.country.code,
                    u.country.city.1,
                    u.country.city.2,
                ),
            });
        }
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    out
}
