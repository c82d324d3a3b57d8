//! Derives the Graph view from the generated tenant, deterministically from the seed.
//!
//! Inventory rule: every library holds exactly the files the audit feed names (file `k` of a
//! site for `k < site.files`, with the same folder and name, so an audit record's `ObjectId`
//! is a real item), minus name collisions; `site.files` is 20–219 for team sites, 50–449 for
//! communication sites, 15–74 for localised sites and 5–124 for OneDrives, so every drive holds
//! a few hundred items at most and the inventory grows linearly with the user count. One extra
//! library ("Contracts" on the Legal site) holds a dozen files the audit feed never names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};

use super::drives::{GDrive, GItem, GPerm, GSite, Ident, PermKind};
use super::{
    GAppRole, GAssignment, GGrant, GGroup, GRisky, GRole, GScope, GServicePrincipal, GSignIn,
    GUser, GraphState, Verified,
};
use crate::config::GraphSettings;
use crate::rng::{Rng, guid, hash, hash_str, mix64};
use crate::tenant::apps::first_party;
use crate::tenant::{Tenant, User, UserKind, names};

/// The tenant that owns Microsoft's first-party applications.
pub const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Microsoft Graph's application permissions: value and id (ids as Microsoft publishes them).
pub static GRAPH_APP_ROLES: &[(&str, &str)] = &[
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
    ),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    ),
    (
        "RoleManagement.Read.Directory",
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    ),
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "DelegatedPermissionGrant.ReadWrite.All",
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
    ),
    ("Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01"),
    ("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9"),
    ("Mail.Send", "b633e1c5-b582-4048-a93e-9f11b44c7e96"),
    ("Files.Read.All", "01d4889c-1287-42c6-ac1f-5d1e02578ef6"),
    (
        "Files.ReadWrite.All",
        "75359482-378d-4052-8f01-80520e7db3cd",
    ),
    ("Sites.Read.All", "332a536c-c7ef-4017-ab91-336970924f0d"),
    (
        "Sites.ReadWrite.All",
        "9492366f-7969-46a4-8d15-ed1a20078fff",
    ),
    (
        "Sites.FullControl.All",
        "a82116e5-55eb-4c41-a434-62fe8a61c773",
    ),
    ("AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da"),
    (
        "IdentityRiskyUser.Read.All",
        "dc5007c0-2d7d-4c42-879c-2dab87571379",
    ),
    (
        "IdentityRiskyUser.ReadWrite.All",
        "656f6061-f9fe-4807-9708-6a2e0934df76",
    ),
    (
        "Calendars.ReadWrite",
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
    ),
    ("Contacts.Read", "089fe4d0-434a-44c5-8827-41ba8a0b17f5"),
    (
        "MailboxSettings.ReadWrite",
        "6931bccd-447a-43d1-b442-00a195474933",
    ),
];

/// Microsoft Graph's delegated permissions: value, id, and whether an admin must consent.
pub static GRAPH_SCOPES: &[(&str, &str, bool)] = &[
    ("openid", "37f7f235-527c-4136-accd-4a02d197296e", false),
    ("profile", "14dad69e-099b-42c9-810b-d002981feec1", false),
    ("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", false),
    (
        "offline_access",
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        false,
    ),
    ("User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d", false),
    (
        "User.Read.All",
        "a154be20-db9c-4678-8ab7-66f6cc099a59",
        true,
    ),
    ("Mail.Read", "570282fd-fa5c-430d-a7fd-fc8dc98a9dca", false),
    (
        "Mail.ReadWrite",
        "024d486e-b451-40bb-833d-3e66d98c5c73",
        false,
    ),
    ("Mail.Send", "e383f46e-2787-4529-855e-0e479a3ffac0", false),
    (
        "MailboxSettings.ReadWrite",
        "818c620a-27a9-40bd-a6a5-d96f7d610b4b",
        false,
    ),
    (
        "Contacts.Read",
        "ff74d97f-43af-4b68-9f2a-b77ee6968c5d",
        false,
    ),
    (
        "Calendars.ReadWrite",
        "1ec239c2-d7c9-4623-a91a-a9775856bb36",
        false,
    ),
    ("Files.Read", "10465720-29dd-4523-a11a-6a75c743c9d9", false),
    (
        "Files.Read.All",
        "df85f4d6-205c-4ac5-a5ea-6bf408dba283",
        false,
    ),
    (
        "Files.ReadWrite.All",
        "863451e7-0667-486c-a5d6-d135439485f0",
        false,
    ),
    (
        "Directory.ReadWrite.All",
        "c5366453-9fb0-48a5-a156-24f0c49a4b84",
        true,
    ),
];

/// The Office 365 Management APIs' application permissions.
pub static MANAGEMENT_APP_ROLES: &[(&str, &str)] = &[
    ("ActivityFeed.Read", "594c1fb6-4f81-4475-ae41-0c394909246c"),
    (
        "ActivityFeed.ReadDlp",
        "4807a72c-ad38-4250-94c9-4eabfe26cd55",
    ),
    ("ServiceHealth.Read", "e2cea78f-e743-4d8f-a16a-75b629a038ae"),
];

/// The stable GUID the audit records use for a named thing (see `records::messy::stable_guid`).
fn stable(t: &Tenant, what: &str, n: u64) -> String {
    let h = hash(&[t.seed, hash_str(what), n]);
    guid(h, mix64(h))
}

/// The Microsoft Graph service principal's object id (the one audit records name).
pub fn graph_sp_id(t: &Tenant) -> String {
    stable(t, "graph-sp", 0)
}

/// The object id of a directory role (the one audit records name).
pub fn role_id(t: &Tenant, role: &str) -> String {
    stable(t, "role", hash_str(role))
}

/// The service principal object id of an app registration (the `oid` of its tokens).
pub fn registration_sp_id(client_id: &str) -> String {
    guid(hash_str(client_id), 7)
}

/// The 16 bytes of a GUID in the order .NET writes them (first three groups little-endian).
pub fn guid_bytes(g: &str) -> [u8; 16] {
    let hex: String = g.chars().filter(char::is_ascii_hexdigit).collect();
    let mut raw = [0u8; 16];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = hex
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    let mut out = raw;
    out[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    out[4..6].copy_from_slice(&[raw[5], raw[4]]);
    out[6..8].copy_from_slice(&[raw[7], raw[6]]);
    out
}

/// A delegated grant's id: base64url of client, resource and (for `Principal`) user ids.
pub fn grant_id(client: &str, resource: &str, principal: Option<&str>) -> String {
    let mut bytes = Vec::with_capacity(48);
    bytes.extend_from_slice(&guid_bytes(client));
    bytes.extend_from_slice(&guid_bytes(resource));
    if let Some(p) = principal {
        bytes.extend_from_slice(&guid_bytes(p));
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An app role assignment's id: base64url of the principal id and 16 more stable bytes.
pub fn assignment_id(principal: &str, resource: &str, role: &str) -> String {
    let mut bytes = guid_bytes(principal).to_vec();
    let h = hash(&[hash_str(resource), hash_str(role)]);
    bytes.extend_from_slice(&h.to_le_bytes());
    bytes.extend_from_slice(&mix64(h).to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A drive id: `b!` and base64url of the site, web and list ids.
pub fn drive_id(site: &str, web: &str, list: &str) -> String {
    let mut bytes = guid_bytes(site).to_vec();
    bytes.extend_from_slice(&guid_bytes(web));
    bytes.extend_from_slice(&guid_bytes(list));
    format!("b!{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A drive item id: `01`, a per-drive prefix and 26 base32 characters.
pub fn item_id(drive: &str, n: u64) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from("01");
    let mut p = hash_str(drive);
    for _ in 0..6 {
        s.push(A[(p & 31) as usize] as char);
        p >>= 5;
    }
    let mut h = hash(&[hash_str(drive), n]);
    for i in 0..26 {
        if i == 12 {
            h = mix64(h ^ n);
        }
        s.push(A[(h & 31) as usize] as char);
        h >>= 5;
    }
    s
}

/// A permission id for a login name, as SharePoint forms them (base64 of the claim).
pub fn perm_id_for(login: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("i:0#.f|membership|{login}"))
}

/// The identity a user shows as creator, grantee or owner.
pub fn ident_of(u: &GUser) -> Ident {
    Ident {
        id: Some(u.id.clone()),
        display_name: u.display_name.clone(),
        email: u.mail.clone().or_else(|| Some(u.upn.clone())),
    }
}

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
            description: format!(
                "Can manage all aspects of {}.",
                role.trim_end_matches(" Administrator")
            ),
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
        audit_log: Vec::new(),
        outbox: Vec::new(),
        copy_jobs: BTreeMap::new(),
        faults: Vec::new(),
        counter: 0,
        cause: "graph",
    };
    let mut seq = state.users.len() as u64 + state.groups.len() as u64;
    apps(&mut state, now, &mut seq);
    sites_and_drives(&mut state, now, &mut seq);
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
                id: guid(hash(&[t.seed, hash_str("signin"), u.index as u64, n]), n),
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

#[allow(clippy::too_many_arguments)]
fn sp(
    id: String,
    app_id: &str,
    name: &str,
    publisher: Option<&str>,
    verified: Option<Verified>,
    owner: Option<String>,
    created: DateTime<Utc>,
    first: bool,
    seq: u64,
) -> GServicePrincipal {
    GServicePrincipal {
        id,
        app_id: app_id.to_string(),
        display_name: name.to_string(),
        publisher_name: publisher.map(String::from),
        verified,
        app_owner_org: owner,
        account_enabled: true,
        assignment_required: false,
        app_roles: Vec::new(),
        scopes: Vec::new(),
        tags: vec!["WindowsAzureActiveDirectoryIntegratedApp".into()],
        homepage: None,
        reply_urls: Vec::new(),
        created,
        first_party: first,
        seq,
    }
}

fn apps(s: &mut GraphState, now: DateTime<Utc>, seq: &mut u64) {
    let t = s.tenant.clone();
    let mut next = || {
        *seq += 1;
        *seq
    };
    let long_ago = now - Duration::days(900);
    let graph_id = graph_sp_id(&t);
    let mut graph = sp(
        graph_id.clone(),
        first_party::GRAPH,
        "Microsoft Graph",
        Some("Microsoft Services"),
        None,
        Some(MICROSOFT_TENANT.into()),
        long_ago,
        true,
        next(),
    );
    graph.app_roles = GRAPH_APP_ROLES
        .iter()
        .map(|(v, id)| GAppRole {
            id: id.to_string(),
            value: v.to_string(),
            display_name: format!("{v} (application)"),
        })
        .collect();
    graph.scopes = GRAPH_SCOPES
        .iter()
        .map(|(v, id, admin)| GScope {
            id: id.to_string(),
            value: v.to_string(),
            kind: if *admin { "Admin" } else { "User" },
            admin_consent_display_name: format!("{v} (delegated)"),
        })
        .collect();
    let management_id = stable(&t, "fp-sp", hash_str(first_party::MANAGEMENT));
    let mut management = sp(
        management_id.clone(),
        first_party::MANAGEMENT,
        "Office 365 Management APIs",
        Some("Microsoft Services"),
        None,
        Some(MICROSOFT_TENANT.into()),
        long_ago,
        true,
        next(),
    );
    management.app_roles = MANAGEMENT_APP_ROLES
        .iter()
        .map(|(v, id)| GAppRole {
            id: id.to_string(),
            value: v.to_string(),
            display_name: v.to_string(),
        })
        .collect();
    s.sps.insert(graph_id.clone(), graph);
    s.sps.insert(management_id.clone(), management);
    for (app_id, name) in [
        (first_party::EXCHANGE, "Office 365 Exchange Online"),
        (first_party::SHAREPOINT, "Office 365 SharePoint Online"),
        (first_party::TEAMS, "Microsoft Teams"),
        (first_party::OFFICE, "Microsoft Office"),
        (first_party::AZURE_PORTAL, "Azure Portal"),
    ] {
        let id = stable(&t, "fp-sp", hash_str(app_id));
        let x = sp(
            id.clone(),
            app_id,
            name,
            Some("Microsoft Services"),
            None,
            Some(MICROSOFT_TENANT.into()),
            long_ago,
            true,
            next(),
        );
        s.sps.insert(id, x);
    }
    let role_on = |sps: &BTreeMap<String, GServicePrincipal>, value: &str| {
        [&graph_id, &management_id].into_iter().find_map(|rid| {
            sps.get(rid).and_then(|r| {
                r.app_roles
                    .iter()
                    .find(|x| x.value == value)
                    .map(|x| (rid.clone(), r.display_name.clone(), x.id.clone()))
            })
        })
    };

    // The registrations clients sign in with: their consented roles are app role assignments.
    for (i, reg) in t.registrations.iter().enumerate() {
        let id = registration_sp_id(&reg.client_id);
        let mut x = sp(
            id.clone(),
            &reg.client_id,
            &reg.name,
            Some(t.org_name.as_str()),
            None,
            Some(t.tenant_id.clone()),
            now - Duration::days(30 + i as i64),
            false,
            next(),
        );
        x.account_enabled = !reg.disabled;
        x.tags = vec![
            "WindowsAzureActiveDirectoryIntegratedApp".into(),
            "HideApp".into(),
        ];
        s.sps.insert(id.clone(), x);
        for role in &reg.roles {
            if let Some((rid, rname, role_id)) = role_on(&s.sps, role) {
                let aid = assignment_id(&id, &rid, &role_id);
                s.assignments.insert(
                    aid.clone(),
                    GAssignment {
                        id: aid,
                        app_role_id: role_id,
                        principal_id: id.clone(),
                        principal_type: "ServicePrincipal",
                        principal_display_name: reg.name.clone(),
                        resource_id: rid,
                        resource_display_name: rname,
                        created: now - Duration::days(29),
                    },
                );
            }
        }
    }

    // Third-party apps users and admins consented to.
    let consenters: Vec<&GUser> = s
        .users
        .values()
        .filter(|u| u.user_type == "Member")
        .collect();
    let mut new_grants = Vec::new();
    let mut new_assignments = Vec::new();
    for (ai, app) in t.apps.iter().enumerate() {
        let tpl = app.template;
        let mut r = Rng::new(&[t.seed, hash_str("graph-app"), ai as u64]);
        let created = now - Duration::days(r.range(20, 700));
        let verified = tpl.verified.then(|| Verified {
            display_name: tpl.publisher.to_string(),
            id: (4_000_000 + r.below(999_999)).to_string(),
            added: created - Duration::days(r.range(10, 400)),
        });
        let mut x = sp(
            app.sp_object_id.clone(),
            &app.app_id,
            tpl.name,
            Some(tpl.publisher),
            verified,
            Some(r.guid()),
            created,
            false,
            next(),
        );
        let slug: String = tpl
            .name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        x.homepage = Some(format!("https://www.{slug}.example"));
        x.reply_urls = vec![format!("https://app.{slug}.example/auth/callback")];
        s.sps.insert(app.sp_object_id.clone(), x);

        if !tpl.scopes.is_empty() {
            // Popular, verified apps are admin-consented for everyone now and then; others are
            // consented user by user, some by many users and some by a few.
            if tpl.verified && r.chance(0.35) || ai == 0 {
                new_grants.push(GGrant {
                    id: grant_id(&app.sp_object_id, &graph_id, None),
                    client_id: app.sp_object_id.clone(),
                    consent_type: "AllPrincipals",
                    principal_id: None,
                    resource_id: graph_id.clone(),
                    scope: tpl.scopes.to_string(),
                    consented: created,
                });
            }
            let share = if tpl.verified { 0.12 } else { 0.03 };
            let cap = 200usize;
            let mut n = 0;
            for u in &consenters {
                if n >= cap {
                    break;
                }
                let mut ur = Rng::new(&[
                    t.seed,
                    hash_str("graph-consent"),
                    ai as u64,
                    hash_str(&u.id),
                ]);
                if ur.chance(share) {
                    n += 1;
                    new_grants.push(GGrant {
                        id: grant_id(&app.sp_object_id, &graph_id, Some(&u.id)),
                        client_id: app.sp_object_id.clone(),
                        consent_type: "Principal",
                        principal_id: Some(u.id.clone()),
                        resource_id: graph_id.clone(),
                        scope: tpl.scopes.to_string(),
                        consented: created + Duration::days(ur.range(0, 15)),
                    });
                }
            }
            if n == 0
                && let Some(u) = consenters.get(r.below(consenters.len() as u64) as usize)
            {
                new_grants.push(GGrant {
                    id: grant_id(&app.sp_object_id, &graph_id, Some(&u.id)),
                    client_id: app.sp_object_id.clone(),
                    consent_type: "Principal",
                    principal_id: Some(u.id.clone()),
                    resource_id: graph_id.clone(),
                    scope: tpl.scopes.to_string(),
                    consented: created,
                });
            }
        }
        for role in tpl.app_roles {
            if let Some((rid, rname, role_id)) = role_on(&s.sps, role) {
                new_assignments.push(GAssignment {
                    id: assignment_id(&app.sp_object_id, &rid, &role_id),
                    app_role_id: role_id,
                    principal_id: app.sp_object_id.clone(),
                    principal_type: "ServicePrincipal",
                    principal_display_name: tpl.name.to_string(),
                    resource_id: rid,
                    resource_display_name: rname,
                    created,
                });
            }
        }
    }
    for g in new_grants {
        s.grants.insert(g.id.clone(), g);
    }
    for a in new_assignments {
        s.assignments.insert(a.id.clone(), a);
    }
}

/// The root's permissions: the OneDrive owner, or the site's three groups.
fn base_perms(site_title: &str, owner: Option<&GUser>, created: DateTime<Utc>) -> Vec<GPerm> {
    match owner {
        Some(u) => vec![GPerm {
            id: perm_id_for(&u.upn.to_ascii_lowercase()),
            roles: vec!["owner"],
            kind: PermKind::User { user: ident_of(u) },
            created,
            expiration: None,
            has_password: false,
            share_id: None,
        }],
        None => [
            ("3", "Owners", "owner"),
            ("5", "Members", "write"),
            ("4", "Visitors", "read"),
        ]
        .into_iter()
        .map(|(n, label, role)| GPerm {
            id: base64::engine::general_purpose::STANDARD
                .encode(format!("i:0#.s|sitegroup|{site_title} {label}")),
            roles: vec![role],
            kind: PermKind::SiteGroup {
                id: n.to_string(),
                display_name: format!("{site_title} {label}"),
            },
            created,
            expiration: None,
            has_password: false,
            share_id: None,
        })
        .collect(),
    }
}

/// A sharing link permission.
pub fn link_perm(
    drive: &GDrive,
    item_id: &str,
    host: &str,
    (scope, link_type): (&'static str, &'static str),
    recipients: Vec<Ident>,
    created: DateTime<Utc>,
    n: u64,
) -> GPerm {
    let h = hash(&[hash_str(item_id), hash_str(scope), hash_str(link_type), n]);
    let token = URL_SAFE_NO_PAD.encode(
        [
            h.to_le_bytes(),
            mix64(h).to_le_bytes(),
            mix64(h ^ 1).to_le_bytes(),
        ]
        .concat(),
    );
    let kind_letter = if link_type == "edit" { "w" } else { "r" };
    GPerm {
        id: guid(h, mix64(h ^ 7)),
        roles: vec![if link_type == "edit" { "write" } else { "read" }],
        kind: PermKind::Link {
            scope,
            link_type,
            web_url: format!(
                "https://{host}/:{kind_letter}:/g/{}",
                &token[..token.len().min(46)]
            ),
            recipients,
        },
        created,
        expiration: None,
        has_password: false,
        share_id: Some(format!(
            "u!{}",
            URL_SAFE_NO_PAD.encode(format!("{}{}", drive.web_url, drive.path_of(item_id)))
        )),
    }
}

fn sites_and_drives(s: &mut GraphState, now: DateTime<Utc>, seq: &mut u64) {
    let t = s.tenant.clone();
    let guests: Vec<GUser> = s
        .users
        .values()
        .filter(|u| u.user_type == "Guest")
        .cloned()
        .collect();
    let members: Vec<GUser> = s
        .users
        .values()
        .filter(|u| u.user_type == "Member")
        .cloned()
        .collect();
    let mut forced_done = false;
    for (si, site) in t.sites.iter().enumerate() {
        let mut r = Rng::new(&[t.seed, hash_str("graph-site"), si as u64]);
        let personal = site.owner.is_some();
        let host = site
            .url
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let created = now - Duration::days(r.range(200, 2000));
        let owner_user = site
            .owner
            .and_then(|i| t.users.get(i))
            .and_then(|u| s.users.get(&u.object_id))
            .cloned();
        let group = t
            .groups
            .iter()
            .find(|g| g.site == Some(si))
            .map(|g| g.object_id.clone());
        let name = site.url.rsplit('/').next().unwrap_or_default().to_string();
        let gsite = GSite {
            id: format!("{host},{},{}", site.site_id, site.web_id),
            site_guid: site.site_id.clone(),
            web_guid: site.web_id.clone(),
            name,
            display_name: site.title.clone(),
            web_url: site.url.clone(),
            personal,
            created,
            drives: Vec::new(),
            group: group.clone(),
        };
        s.sites.push(gsite);

        // The creator pool: the OneDrive's owner, or the group's members, or anyone.
        let pool: Vec<GUser> = match (&owner_user, &group) {
            (Some(u), _) => vec![u.clone()],
            (None, Some(g)) => s
                .groups
                .get(g)
                .map(|g| {
                    g.members
                        .iter()
                        .filter_map(|m| s.users.get(m))
                        .filter(|u| u.user_type == "Member")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let pool = if pool.is_empty() {
            members.clone()
        } else {
            pool
        };

        let owner_ident = match (&owner_user, &group) {
            (Some(u), _) => (ident_of(u), false),
            (None, Some(g)) => (
                Ident {
                    id: Some(g.clone()),
                    display_name: site.title.clone(),
                    email: s.groups.get(g).and_then(|g| g.mail.clone()),
                },
                true,
            ),
            _ => (
                Ident {
                    id: None,
                    display_name: format!("{} Owners", site.title),
                    email: None,
                },
                true,
            ),
        };
        let mut libraries: Vec<(String, String, String, u32, bool)> = vec![(
            "Documents".to_string(),
            site.library.to_string(),
            site.list_id.clone(),
            site.files,
            true,
        )];
        if !personal && site.title == "Legal" {
            libraries.push((
                "Contracts".into(),
                "Contracts".into(),
                stable(&t, "contracts-list", si as u64),
                12,
                false,
            ));
        }
        for (lib_name, lib_path, list_id, files, audited) in libraries {
            let id = drive_id(&site.site_id, &site.web_id, &list_id);
            let root_id = item_id(&id, 0);
            let mut drive = GDrive {
                id: id.clone(),
                name: lib_name.clone(),
                library_path: lib_path.clone(),
                drive_type: if personal {
                    "business"
                } else {
                    "documentLibrary"
                },
                site: si,
                web_url: format!("{}/{}", site.url, super::drives::url_path(&lib_path)),
                owner: owner_ident.0.clone(),
                owner_is_group: owner_ident.1,
                created,
                list_id: list_id.clone(),
                root_id: root_id.clone(),
                items: BTreeMap::new(),
                removed: BTreeMap::new(),
                quota_total: if personal { 1 << 40 } else { 25 << 40 },
            };
            let owner_arc = Arc::new(owner_ident.0.clone());
            let authors: Vec<Arc<Ident>> = pool.iter().map(|u| Arc::new(ident_of(u))).collect();
            let first = authors
                .first()
                .cloned()
                .unwrap_or_else(|| owner_arc.clone());
            *seq += 1;
            drive.items.insert(
                root_id.clone(),
                GItem {
                    id: root_id.clone(),
                    name: "root".into(),
                    parent: None,
                    folder: true,
                    size: 0,
                    created,
                    modified: created,
                    created_by: first.clone(),
                    modified_by: first,
                    version: 1,
                    perms: base_perms(&site.title, owner_user.as_ref(), created),
                    seq: *seq,
                    shared_seq: 0,
                    unique_id: stable(&t, "sp-root", hash_str(&id)),
                },
            );
            let mut n = 1u64;
            // Names taken per folder (lowercase: names are case-insensitive), and folders by name.
            let mut taken: std::collections::HashSet<(String, String)> = Default::default();
            let mut folders: BTreeMap<String, String> = BTreeMap::new();
            for k in 0..files {
                let (folder, name) = if audited {
                    t.file_name(si, k)
                } else {
                    let mut fr = Rng::new(&[t.seed, hash_str("contract"), u64::from(k)]);
                    (
                        String::new(),
                        format!(
                            "{} contract {}.pdf",
                            fr.pick(names::PARTNER_DOMAINS),
                            2020 + k
                        ),
                    )
                };
                let mut fr = Rng::new(&[t.seed, hash_str("graph-file"), si as u64, u64::from(k)]);
                let author = authors
                    .get(fr.below(authors.len() as u64) as usize)
                    .cloned()
                    .unwrap_or_else(|| owner_arc.clone());
                let mut parent = root_id.clone();
                if let Some(folder_name) = folder.strip_prefix('/') {
                    let existing = folders.get(&folder_name.to_lowercase()).cloned();
                    parent = match existing {
                        Some(f) => f,
                        None => {
                            let fid = item_id(&id, n);
                            n += 1;
                            *seq += 1;
                            let fc = created + Duration::days(fr.range(0, 60));
                            drive.items.insert(
                                fid.clone(),
                                GItem {
                                    id: fid.clone(),
                                    name: folder_name.to_string(),
                                    parent: Some(root_id.clone()),
                                    folder: true,
                                    size: 0,
                                    created: fc,
                                    modified: fc,
                                    created_by: author.clone(),
                                    modified_by: author.clone(),
                                    version: 1,
                                    perms: Vec::new(),
                                    seq: *seq,
                                    shared_seq: 0,
                                    unique_id: stable(&t, folder_name, si as u64),
                                },
                            );
                            folders.insert(folder_name.to_lowercase(), fid.clone());
                            taken.insert((root_id.clone(), folder_name.to_lowercase()));
                            fid
                        }
                    };
                }
                if !taken.insert((parent.clone(), name.to_lowercase())) {
                    continue;
                }
                let ext = name.rsplit_once('.').map_or("", |(_, e)| e).to_string();
                let fid = item_id(&id, n);
                n += 1;
                *seq += 1;
                let age = (now - created).num_minutes().max(60);
                let fcreated = created + Duration::minutes(fr.range(0, age - 30));
                let fmod = fcreated
                    + Duration::minutes(fr.range(0, (now - fcreated).num_minutes().max(1)));
                let editor = if fr.chance(0.3) {
                    authors
                        .get(fr.below(authors.len() as u64) as usize)
                        .cloned()
                        .unwrap_or_else(|| author.clone())
                } else {
                    author.clone()
                };
                let unique = {
                    let h = hash(&[t.seed, hash_str("sp-item"), si as u64, u64::from(k)]);
                    guid(h, mix64(h ^ 0x5eed))
                };
                drive.items.insert(
                    fid.clone(),
                    GItem {
                        id: fid,
                        name,
                        parent: Some(parent),
                        folder: false,
                        size: if audited {
                            t.file_size(si, k, &ext)
                        } else {
                            40_000 + fr.below(900_000)
                        },
                        created: fcreated,
                        modified: fmod,
                        created_by: author,
                        modified_by: editor,
                        version: 1 + fr.below(12) as u32,
                        perms: Vec::new(),
                        seq: *seq,
                        shared_seq: 0,
                        unique_id: unique,
                    },
                );
            }
            share_items(
                &t,
                &mut drive,
                &host,
                &guests,
                &members,
                personal,
                &mut forced_done,
                si,
            );
            let drive_id = drive.id.clone();
            s.sites[si].drives.push(drive_id.clone());
            s.drives.insert(drive_id, drive);
        }
    }
}

/// Shares some items: anonymous and organisation links, links for specific people, direct
/// grants to guests and invitations to outsiders. The first library with three files carries
/// one of each of the first three, so every tenant has them.
#[allow(clippy::too_many_arguments)]
fn share_items(
    t: &Tenant,
    drive: &mut GDrive,
    host: &str,
    guests: &[GUser],
    members: &[GUser],
    personal: bool,
    forced_done: &mut bool,
    si: usize,
) {
    let ids: Vec<String> = drive
        .items
        .values()
        .filter(|i| i.parent.is_some())
        .map(|i| i.id.clone())
        .collect();
    let files: Vec<String> = ids
        .iter()
        .filter(|i| drive.items.get(*i).is_some_and(|x| !x.folder))
        .cloned()
        .collect();
    let mut forced: BTreeMap<String, u8> = BTreeMap::new();
    if !*forced_done && files.len() >= 3 && !personal {
        *forced_done = true;
        for (n, f) in files.iter().take(3).enumerate() {
            forced.insert(f.clone(), n as u8);
        }
    }
    for (ord, id) in ids.iter().enumerate() {
        let Some(item) = drive.items.get(id) else {
            continue;
        };
        let mut r = Rng::new(&[t.seed, hash_str("graph-share"), si as u64, ord as u64]);
        let rate = match (item.folder, personal) {
            (true, _) => 0.12,
            (false, true) => 0.08,
            (false, false) => 0.06,
        };
        let kind = match forced.get(id) {
            Some(k) => *k,
            None if r.chance(rate) => {
                let x = r.f64();
                if x < 0.2 {
                    0
                } else if x < 0.45 {
                    2
                } else if x < 0.6 {
                    3
                } else if x < 0.8 {
                    1
                } else {
                    4
                }
            }
            None => continue,
        };
        let when = item.modified;
        let sharer: Ident = (*item.modified_by).clone();
        let perm = match kind {
            // Anonymous ("anyone with the link").
            0 => link_perm(
                drive,
                id,
                host,
                ("anonymous", if r.chance(0.4) { "edit" } else { "view" }),
                Vec::new(),
                when,
                ord as u64,
            ),
            // A direct grant to a guest of the directory.
            1 => match guests.get(r.below(guests.len().max(1) as u64) as usize) {
                Some(g) => GPerm {
                    id: perm_id_for(&g.upn.to_ascii_lowercase()),
                    roles: vec![if r.chance(0.5) { "write" } else { "read" }],
                    kind: PermKind::User { user: ident_of(g) },
                    created: when,
                    expiration: None,
                    has_password: false,
                    share_id: None,
                },
                None => invitation(&mut r, &sharer, when),
            },
            // Everyone in the organisation.
            2 => link_perm(
                drive,
                id,
                host,
                ("organization", if r.chance(0.3) { "edit" } else { "view" }),
                Vec::new(),
                when,
                ord as u64,
            ),
            // Specific people (a colleague, sometimes someone outside).
            3 => {
                let who = if r.chance(0.3) {
                    guests
                        .get(r.below(guests.len().max(1) as u64) as usize)
                        .map(ident_of)
                } else {
                    members
                        .get(r.below(members.len().max(1) as u64) as usize)
                        .map(ident_of)
                };
                link_perm(
                    drive,
                    id,
                    host,
                    ("users", "view"),
                    who.into_iter().collect(),
                    when,
                    ord as u64,
                )
            }
            // An invitation mailed to someone outside the directory.
            _ => invitation(&mut r, &sharer, when),
        };
        if let Some(item) = drive.items.get_mut(id) {
            item.shared_seq = item.seq;
            item.perms.push(perm);
        }
    }
}

fn invitation(r: &mut Rng, by: &Ident, when: DateTime<Utc>) -> GPerm {
    let given = r.pick(names::GIVEN).to_ascii_lowercase();
    let family: String = r
        .pick(names::FAMILY)
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let email = format!("{given}.{family}@{}", r.pick(names::PARTNER_DOMAINS));
    GPerm {
        id: perm_id_for(&format!("urn%3aspo%3aguest#{email}")),
        roles: vec!["read"],
        kind: PermKind::Invitation {
            email,
            invited_by: by.clone(),
        },
        created: when,
        expiration: None,
        has_password: false,
        share_id: None,
    }
}
