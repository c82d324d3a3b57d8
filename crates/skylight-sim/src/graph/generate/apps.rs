//! Service principals (Microsoft's and third parties'), their permissions, consents and
//! application permission assignments.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::ids::*;
use crate::graph::{
    GAppRole, GAssignment, GGrant, GScope, GServicePrincipal, GUser, GraphState, Verified,
};
use crate::rng::{Rng, hash_str};
use crate::tenant::apps::first_party;

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

pub(super) fn apps(s: &mut GraphState, now: DateTime<Utc>, seq: &mut u64) {
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
