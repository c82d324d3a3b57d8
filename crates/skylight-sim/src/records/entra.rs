//! Microsoft Entra ID records: directory changes and sign-ins (contract §3.6).
use super::messy::{
    finish, ident, modified, nv, other_user, pick_opt, pretty, pretty_str, put, stable_guid,
    stable_u64, stringify,
};
use super::{RecordCtx, creation_time, ip_string};
use crate::rng::Rng;
use crate::tenant::apps::first_party;
use crate::tenant::{ADMIN_ROLES, OAuthApp, User, UserKind};
use serde_json::{Map, Value, json};

/// Client ids of first-party tools that are not in `first_party`.
const AZURE_POWERSHELL: &str = "1b730954-1685-4b74-9bfd-dac224a7b894";
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const OUTLOOK_MOBILE: &str = "27922004-5251-4030-b22d-91ecd9a37ea4";
const TEAMS_SERVICES: &str = "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe";
const AZURE_MANAGEMENT: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";
const O365_PORTAL: &str = "00000006-0000-0ff1-ce00-000000000000";

/// Entra's `UserKey`: `<PUID>@<initial domain>`.
fn entra_user_key(ctx: &RecordCtx<'_>, u: &User) -> String {
    format!("{}@{}", u.puid, ctx.tenant.initial_domain)
}

/// Fields shared by directory events and sign-ins.
fn entra_common(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    put(rec, "AzureActiveDirectoryEventType", 1);
    // Entra never writes UserType 2: admins appear as 0 (contract §3.2).
    put(rec, "UserType", 0);
    put(rec, "UserKey", entra_user_key(ctx, ctx.user));
    put(rec, "ActorContextId", ctx.tenant.tenant_id.as_str());
    put(rec, "TargetContextId", ctx.tenant.tenant_id.as_str());
    put(rec, "InterSystemsId", r.guid());
    put(rec, "SupportTicketId", "");
}

/// `Target[]` for a user.
fn user_target(u: &User) -> Vec<Value> {
    vec![
        ident(format!("User_{}", u.object_id), 2),
        ident(u.object_id.as_str(), 2),
        ident("User", 2),
        ident(u.upn.as_str(), 5),
        ident(u.puid.as_str(), 3),
    ]
}

/// `Target[]` for a service principal.
fn sp_target(sp_object_id: &str, name: &str, app_id: &str) -> Vec<Value> {
    vec![
        ident(format!("ServicePrincipal_{sp_object_id}"), 2),
        ident(sp_object_id, 2),
        ident("ServicePrincipal", 2),
        ident(name, 1),
        ident(app_id, 2),
        ident(app_id, 4),
    ]
}

/// `Actor[]` for the acting user, sometimes with the portal/tool they used.
fn user_actor(r: &mut Rng, u: &User) -> Vec<Value> {
    let mut a = vec![ident(u.upn.as_str(), 5), ident(u.puid.as_str(), 3)];
    match r.below(4) {
        0 => {
            a.push(ident("Microsoft Office 365 Portal", 1));
            a.push(ident(O365_PORTAL, 2));
        }
        1 => {
            a.push(ident("Azure Portal", 1));
            a.push(ident(first_party::AZURE_PORTAL, 2));
        }
        _ => {}
    }
    a.push(ident(format!("User_{}", u.object_id), 2));
    a.push(ident(u.object_id.as_str(), 2));
    a.push(ident("User", 2));
    a
}

/// Directory role template ids (well-known, the same in every tenant).
pub(crate) fn role_template(role: &str) -> &'static str {
    match role {
        "Global Administrator" => "62e90394-69f5-4237-9190-012177145e10",
        "Exchange Administrator" => "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "SharePoint Administrator" => "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "Security Administrator" => "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "User Administrator" => "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Teams Administrator" => "69091246-20e8-4a56-aa4d-066075b2a7a8",
        "Compliance Administrator" => "17315797-102d-40b4-93e0-432062caca18",
        _ => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    }
}

/// The stable object id of the Microsoft Graph service principal in this tenant.
fn graph_sp(ctx: &RecordCtx<'_>) -> String {
    stable_guid(ctx, "graph-sp", 0)
}

/// A 43-character base64url id like the ids of OAuth2 permission grants.
fn grant_id(r: &mut Rng) -> String {
    let mut s = super::messy::ews_id(r, "", 43);
    s = s.replace('+', "-").replace('/', "_");
    s
}

/// `KeyDescription`-style credential summary.
fn key_description(r: &mut Rng, kind: &str, name: &str) -> String {
    stringify(&json!([format!(
        "[KeyIdentifier={}, KeyType={kind}, KeyUsage=Verify, DisplayName={name}]",
        r.guid()
    )]))
}

/// RecordType 8: directory changes.
pub(super) fn directory(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    entra_common(ctx, r, rec);
    put(rec, "ResultStatus", "Success");
    put(rec, "IntraSystemId", r.guid());
    if r.chance(0.4) {
        // Directory events often carry no client address (contract §3.1).
        rec.remove("ClientIP");
    }
    let op = ctx.operation.trim_end_matches('.').to_ascii_lowercase();
    let ua_details = || stringify(&json!({ "User-Agent": ctx.user_agent }));
    let mut mods: Vec<Value> = Vec::new();
    let targets: Vec<Value>;
    let object_id: String;
    let mut details = String::from("{}");
    let (category, audit_category);

    // Helpers for user-targeted operations.
    let user_type_of = |u: &User| {
        if u.kind == UserKind::Guest {
            "Guest"
        } else {
            "Member"
        }
    };

    if op == "consent to application" {
        let app = pick_opt(r, &ctx.tenant.apps);
        let (sp_oid, app_id, name, scopes, app_only) = match app {
            Some(OAuthApp {
                app_id,
                sp_object_id,
                template,
            }) => {
                let app_only = template.scopes.is_empty() && ctx.user.is_admin();
                let scopes = if template.scopes.is_empty() {
                    if app_only {
                        template.app_roles.join(" ")
                    } else {
                        "User.Read".to_owned()
                    }
                } else {
                    template.scopes.to_owned()
                };
                (
                    sp_object_id.clone(),
                    app_id.clone(),
                    template.name,
                    scopes,
                    app_only,
                )
            }
            None => (
                r.guid(),
                r.guid(),
                "Application",
                "User.Read".to_owned(),
                false,
            ),
        };
        let admin_consent = ctx.user.is_admin() && (app_only || r.chance(0.7));
        let consent_type = if admin_consent {
            "AllPrincipals"
        } else {
            "Principal"
        };
        let principal = if admin_consent {
            ""
        } else {
            ctx.user.object_id.as_str()
        };
        let tf = |b: bool| if b { "True" } else { "False" };
        mods.push(modified(
            "ConsentContext.IsAdminConsent",
            tf(admin_consent),
            "",
        ));
        mods.push(modified("ConsentContext.IsAppOnly", tf(app_only), ""));
        mods.push(modified(
            "ConsentContext.OnBehalfOfAll",
            tf(admin_consent),
            "",
        ));
        mods.push(modified("ConsentContext.Tags", "", ""));
        mods.push(modified(
            "ConsentAction.Permissions",
            format!(
                "[] => [[Id: {}, ClientId: {sp_oid}, PrincipalId: {principal}, ResourceId: {}, ConsentType: {consent_type}, Scope: {scopes}, CreatedDateTime: , LastModifiedDateTime ]]; ",
                grant_id(r),
                graph_sp(ctx)
            ),
            "",
        ));
        mods.push(modified(
            "TargetId.ServicePrincipalNames",
            app_id.as_str(),
            "",
        ));
        details = stringify(&json!({ "User-Agent": ctx.user_agent, "AppId": app_id }));
        targets = sp_target(&sp_oid, name, &app_id);
        object_id = app_id;
        category = "ServicePrincipal";
        audit_category = "ApplicationManagement";
    } else if op.contains("delegated permission grant") || op.contains("oauth2permissiongrant") {
        let client =
            pick_opt(r, &ctx.tenant.apps).map_or_else(|| r.guid(), |a| a.sp_object_id.clone());
        let scope = pick_opt(r, &ctx.tenant.apps).map_or("User.Read", |a| {
            if a.template.scopes.is_empty() {
                "User.Read"
            } else {
                a.template.scopes
            }
        });
        let removing = op.starts_with("remove");
        let scope = format!(" {scope}");
        let (new, old) = if removing {
            ("", scope.as_str())
        } else {
            (scope.as_str(), "")
        };
        mods.push(modified("DelegatedPermissionGrant.Scope", new, old));
        mods.push(modified(
            "DelegatedPermissionGrant.ConsentType",
            "AllPrincipals",
            "",
        ));
        mods.push(modified("ServicePrincipal.ObjectID", client.as_str(), ""));
        let gsp = graph_sp(ctx);
        targets = sp_target(&gsp, "Microsoft Graph", first_party::GRAPH);
        object_id = first_party::GRAPH.to_owned();
        category = "ServicePrincipal";
        audit_category = "ApplicationManagement";
    } else if op.contains("app role assignment") {
        let app = ctx
            .tenant
            .apps
            .iter()
            .filter(|a| !a.template.app_roles.is_empty())
            .nth(r.below(4) as usize)
            .or_else(|| ctx.tenant.apps.first());
        let (sp_oid, app_id, name, role) = match app {
            Some(a) => (
                a.sp_object_id.clone(),
                a.app_id.clone(),
                a.template.name,
                a.template
                    .app_roles
                    .first()
                    .copied()
                    .unwrap_or("User.Read.All"),
            ),
            None => (r.guid(), r.guid(), "Application", "User.Read.All"),
        };
        mods.push(modified("AppRole.Id", stable_guid(ctx, role, 0), ""));
        mods.push(modified("AppRole.Value", role, ""));
        mods.push(modified("AppRole.DisplayName", role, ""));
        mods.push(modified("ServicePrincipal.ObjectID", sp_oid.as_str(), ""));
        mods.push(modified("ServicePrincipal.DisplayName", name, ""));
        mods.push(modified("ServicePrincipal.AppId", app_id.as_str(), ""));
        mods.push(modified("ServicePrincipal.Name", app_id.as_str(), ""));
        details = stringify(&json!({ "User-Agent": ctx.user_agent, "AppId": app_id }));
        if op.contains("to user") {
            let target = other_user(ctx, r, |_| true);
            targets = user_target(target);
            object_id = target.upn.clone();
        } else {
            let gsp = graph_sp(ctx);
            targets = sp_target(&gsp, "Microsoft Graph", first_party::GRAPH);
            object_id = gsp;
        }
        category = "ServicePrincipal";
        audit_category = "ApplicationManagement";
    } else if op.contains("service principal") || op.contains("application") {
        let app = pick_opt(r, &ctx.tenant.apps);
        let (sp_oid, app_id, name) = match app {
            Some(a) => (a.sp_object_id.clone(), a.app_id.clone(), a.template.name),
            None => (r.guid(), r.guid(), "Application"),
        };
        let removing = op.starts_with("remove") || op.starts_with("delete");
        if op.contains("credential") || op.contains("certificates") || op.contains("password") {
            let kind = if r.chance(0.7) {
                "Password"
            } else {
                "AsymmetricX509Cert"
            };
            let key = key_description(r, kind, &format!("{name} key"));
            let (new, old) = if removing {
                ("[]".to_owned(), key)
            } else {
                (key, "[]".to_owned())
            };
            mods.push(modified("KeyDescription", new, old));
            mods.push(modified(
                "Included Updated Properties",
                "KeyDescription",
                "",
            ));
        } else if op.starts_with("add") {
            mods.push(modified("AccountEnabled", pretty("true"), ""));
            mods.push(modified("AppPrincipalId", pretty_str(&app_id), ""));
            mods.push(modified("DisplayName", pretty_str(name), ""));
            mods.push(modified("ServicePrincipalName", pretty_str(&app_id), ""));
            mods.push(modified(
                "Included Updated Properties",
                "AccountEnabled, AppPrincipalId, DisplayName, ServicePrincipalName",
                "",
            ));
        } else if !removing {
            let url = format!(
                "https://{}.example.app/auth/callback",
                name.to_ascii_lowercase().replace(' ', "")
            );
            mods.push(modified(
                "AppAddress",
                pretty(&stringify(
                    &json!({ "AddressType": 0, "Address": url, "ReplyAddressClientType": 1 }),
                )),
                "",
            ));
            mods.push(modified("Included Updated Properties", "AppAddress", ""));
        }
        details = stringify(&json!({ "User-Agent": ctx.user_agent, "AppId": app_id }));
        if op.contains("application") && !op.contains("service principal") {
            targets = vec![
                ident(format!("Application_{sp_oid}"), 2),
                ident(sp_oid.as_str(), 2),
                ident("Application", 2),
                ident(name, 1),
                ident(app_id.as_str(), 2),
            ];
            category = "Application";
        } else {
            targets = sp_target(&sp_oid, name, &app_id);
            category = "ServicePrincipal";
        }
        object_id = app_id;
        audit_category = "ApplicationManagement";
    } else if op.contains("member to role")
        || op.contains("member from role")
        || op.contains("eligible member")
    {
        let target = other_user(ctx, r, |u| u.kind != UserKind::Guest);
        let role = match target.kind {
            UserKind::Admin(role) => role,
            _ => *r.pick(ADMIN_ROLES),
        };
        let removing = op.starts_with("remove");
        let side = |v: String| {
            if removing {
                (String::new(), v)
            } else {
                (v, String::new())
            }
        };
        let role_oid = stable_guid(ctx, "role", crate::rng::hash_str(role));
        let (n, o) = side(role_oid);
        mods.push(modified("Role.ObjectID", n, o));
        let (n, o) = side(role.to_owned());
        mods.push(modified("Role.DisplayName", n, o));
        let (n, o) = side(role_template(role).to_owned());
        mods.push(modified("Role.TemplateId", n, o));
        if role == "Global Administrator" {
            let (n, o) = side("TenantAdmins".to_owned());
            mods.push(modified("Role.WellKnownObjectName", n, o));
        }
        targets = user_target(target);
        object_id = target.upn.clone();
        category = "Role";
        audit_category = "RoleManagement";
    } else if op.contains("group") {
        let group = pick_opt(r, &ctx.tenant.groups);
        let (gid, gname) = group.map_or_else(
            || (r.guid(), "Group".to_owned()),
            |g| (g.object_id.clone(), g.display_name.clone()),
        );
        if op.contains("member") || op.contains("owner") {
            let target = other_user(ctx, r, |_| true);
            let removing = op.starts_with("remove");
            let side = |v: &str| {
                if removing {
                    (String::new(), v.to_owned())
                } else {
                    (v.to_owned(), String::new())
                }
            };
            let (n, o) = side(&gid);
            mods.push(modified("Group.ObjectID", n, o));
            let (n, o) = side(&gname);
            mods.push(modified("Group.DisplayName", n, o));
            details = stringify(&json!({ "UserType": user_type_of(target) }));
            targets = user_target(target);
            object_id = target.upn.clone();
        } else {
            if op.starts_with("add") {
                mods.push(modified("DisplayName", pretty_str(&gname), ""));
                mods.push(modified("MailEnabled", pretty("false"), ""));
                mods.push(modified("SecurityEnabled", pretty("true"), ""));
                mods.push(modified(
                    "Included Updated Properties",
                    "DisplayName, MailEnabled, SecurityEnabled",
                    "",
                ));
            } else if op.starts_with("update") {
                mods.push(modified(
                    "Description",
                    pretty_str(&format!("{gname} members")),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified("Included Updated Properties", "Description", ""));
            }
            targets = vec![
                ident(format!("Group_{gid}"), 2),
                ident(gid.as_str(), 2),
                ident("Group", 2),
                ident(gname.as_str(), 1),
            ];
            object_id = gid;
        }
        category = "Group";
        audit_category = "GroupManagement";
    } else if op.contains("domain") {
        let domain = ctx.tenant.domain.clone();
        if op.contains("authentication") || op.contains("federation") {
            mods.push(modified(
                "LiveType",
                pretty_str("Federated"),
                pretty_str("Managed"),
            ));
            mods.push(modified("Included Updated Properties", "LiveType", ""));
        }
        targets = vec![ident(domain.as_str(), 1)];
        object_id = domain;
        category = "Directory";
        audit_category = "DirectoryManagement";
    } else if op.contains("company")
        || op.contains("policy")
        || op.contains("partner")
        || op.contains("tenant")
    {
        mods.push(modified(
            "Included Updated Properties",
            if op.contains("policy") {
                "PolicyDetail"
            } else {
                "TechnicalNotificationMails"
            },
            "",
        ));
        targets = vec![
            ident(ctx.tenant.org_name.as_str(), 1),
            ident(ctx.tenant.tenant_id.as_str(), 2),
        ];
        object_id = ctx.tenant.tenant_id.clone();
        category = if op.contains("policy") {
            "Policy"
        } else {
            "Directory"
        };
        audit_category = if op.contains("policy") {
            "Policy"
        } else {
            "DirectoryManagement"
        };
    } else {
        // User operations (and the default).
        let self_service = op == "change user password"
            || op.contains("self-service")
            || (op == "update user" && r.chance(0.15));
        let target: &User = if self_service {
            ctx.user
        } else {
            other_user(ctx, r, |_| true)
        };
        let ts = |t: &User| {
            pretty_str(&format!(
                "{}Z",
                creation_time(
                    ctx.time
                        - chrono::Duration::days(
                            1 + (stable_u64(ctx, "upd", t.index as u64) % 300) as i64
                        )
                )
            ))
        };
        match op.as_str() {
            "add user" => {
                mods.push(modified(
                    "AccountEnabled",
                    pretty("true"),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified(
                    "DisplayName",
                    pretty_str(&target.display_name),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified(
                    "UserPrincipalName",
                    pretty_str(&target.upn),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified(
                    "UserType",
                    pretty_str(user_type_of(target)),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified(
                    "Included Updated Properties",
                    "AccountEnabled, DisplayName, UserPrincipalName, UserType",
                    "",
                ));
            }
            "update user" => {
                let mut names: Vec<&str> = Vec::with_capacity(2);
                let pick = if target.departed { 0 } else { 1 + r.below(7) };
                match pick {
                    0 => {
                        mods.push(modified("AccountEnabled", pretty("false"), pretty("true")));
                        names.push("AccountEnabled");
                    }
                    1 => {
                        mods.push(modified(
                            "StsRefreshTokensValidFrom",
                            pretty_str(&format!("{}Z", creation_time(ctx.time))),
                            ts(target),
                        ));
                        names.push("StsRefreshTokensValidFrom");
                    }
                    2 => {
                        let old_dept = *r.pick(&["Sales", "Operations", "Support"]);
                        mods.push(modified(
                            "Department",
                            pretty_str(target.department),
                            pretty_str(old_dept),
                        ));
                        names.push("Department");
                    }
                    3 => {
                        mods.push(modified(
                            "JobTitle",
                            pretty_str(target.job_title),
                            PRETTY_EMPTY_ARRAY,
                        ));
                        names.push("JobTitle");
                    }
                    4 => {
                        let phone = format!("+1 555 01{:02}", r.below(100));
                        mods.push(modified(
                            "TelephoneNumber",
                            pretty_str(&phone),
                            PRETTY_EMPTY_ARRAY,
                        ));
                        names.push("TelephoneNumber");
                    }
                    5 => {
                        let m = r.below(2) * 6;
                        let new = format!(
                            "[\r\n  {{\r\n    \"MethodType\": {m},\r\n    \"Default\": true\r\n  }},\r\n  {{\r\n    \"MethodType\": 7,\r\n    \"Default\": false\r\n  }}\r\n]"
                        );
                        let old = "[\r\n  {\r\n    \"MethodType\": 7,\r\n    \"Default\": true\r\n  }\r\n]";
                        mods.push(modified("StrongAuthenticationMethod", new, old));
                        names.push("StrongAuthenticationMethod");
                    }
                    _ => {
                        if target.on_premises_synced {
                            mods.push(modified(
                                "LastDirSyncTime",
                                pretty_str(&format!("{}Z", creation_time(ctx.time))),
                                ts(target),
                            ));
                            names.push("LastDirSyncTime");
                        } else {
                            mods.push(modified(
                                "DisplayName",
                                pretty_str(&target.display_name),
                                pretty_str(&format!(
                                    "{} {}.",
                                    target.given_name,
                                    target.surname.chars().next().unwrap_or('X')
                                )),
                            ));
                            names.push("DisplayName");
                        }
                    }
                }
                mods.push(modified(
                    "Included Updated Properties",
                    names.join(", "),
                    "",
                ));
            }
            "disable strong authentication" => {
                mods.push(modified(
                    "StrongAuthenticationRequirement",
                    "[]",
                    "[\r\n  {\r\n    \"RelyingParty\": \"*\",\r\n    \"State\": 1\r\n  }\r\n]",
                ));
                mods.push(modified(
                    "Included Updated Properties",
                    "StrongAuthenticationRequirement",
                    "",
                ));
            }
            "change user license" | "update user license" => {
                let lic = format!(
                    "[SkuName=SPE_E5, AccountId={}, SkuId=06ebc4ee-1bb5-47dd-8120-11324bc54e06, DisabledPlans=[]]",
                    ctx.tenant.tenant_id
                );
                mods.push(modified(
                    "AssignedLicense",
                    pretty_str(&lic),
                    PRETTY_EMPTY_ARRAY,
                ));
                mods.push(modified(
                    "Included Updated Properties",
                    "AssignedLicense",
                    "",
                ));
            }
            _ => {}
        }
        mods.push(modified("TargetId.UserType", user_type_of(target), ""));
        details = stringify(&json!({ "UserType": user_type_of(target) }));
        targets = user_target(target);
        object_id = target.upn.clone();
        category = "User";
        audit_category = "UserManagement";
    }
    if details == "{}" && r.chance(0.5) {
        details = ua_details();
    }
    let mut ext = vec![
        nv("additionalDetails", details),
        nv("extendedAuditEventCategory", category),
    ];
    if r.chance(0.5) {
        ext.push(nv("auditEventCategory", audit_category));
    }
    put(rec, "ExtendedProperties", ext);
    put(rec, "ModifiedProperties", mods);
    put(rec, "Actor", user_actor(r, ctx.user));
    put(rec, "Target", targets);
    put(rec, "ObjectId", object_id);
    finish(ctx, r, rec, true);
}

/// An empty pretty-printed old value (`[]`).
const PRETTY_EMPTY_ARRAY: &str = "[]";

/// Operating system and browser as sign-in records name them, from the user agent.
fn os_and_browser(ua: &str) -> (&'static str, Option<&'static str>) {
    let os = if ua.contains("Windows") {
        "Windows10"
    } else if ua.contains("iPhone") || ua.contains("Outlook-iOS") {
        "Ios"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Mac OS X") {
        "MacOs"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let browser = if ua.starts_with("Mozilla/5.0") && !ua.contains("Teams/") && !ua.contains("MSAL")
    {
        if ua.contains("Edg/") {
            Some("Edge")
        } else if ua.contains("Firefox/") {
            Some("Firefox")
        } else if ua.contains("Chrome/") {
            Some("Chrome")
        } else if ua.contains("Safari/") {
            Some("Safari")
        } else {
            Some("Other")
        }
    } else if ua.contains("python")
        || ua.contains("curl")
        || ua.contains("BAV2ROPC")
        || ua.contains("MSAL")
    {
        Some("Other")
    } else {
        None
    };
    (os, browser)
}

/// The client application and the resource it signs in to, from the user agent.
fn client_and_resource(r: &mut Rng, ua: &str, admin: bool) -> (&'static str, &'static str) {
    if ua.contains("Teams/") {
        (
            first_party::TEAMS,
            *r.pick(&[TEAMS_SERVICES, first_party::GRAPH, first_party::SHAREPOINT]),
        )
    } else if ua.contains("SkyDriveSync") {
        (first_party::ONEDRIVE_SYNC, first_party::SHAREPOINT)
    } else if ua.contains("Microsoft Outlook") {
        (first_party::OFFICE, first_party::EXCHANGE)
    } else if ua.contains("Microsoft Office") {
        (first_party::OFFICE, first_party::SHAREPOINT)
    } else if ua.contains("Outlook-iOS") || ua.contains("Outlook-Android") {
        (OUTLOOK_MOBILE, first_party::EXCHANGE)
    } else if ua.contains("python") || ua.contains("curl") || ua.contains("BAV2ROPC") {
        (
            *r.pick(&[AZURE_POWERSHELL, AZURE_CLI, first_party::OFFICE]),
            *r.pick(&[
                first_party::AAD_GRAPH,
                first_party::GRAPH,
                first_party::EXCHANGE,
            ]),
        )
    } else if admin && r.chance(0.3) {
        (first_party::AZURE_PORTAL, AZURE_MANAGEMENT)
    } else {
        match r.below(3) {
            0 => (first_party::OFFICE_HOME, first_party::GRAPH),
            1 => (first_party::OWA, first_party::EXCHANGE),
            _ => (first_party::OFFICE_HOME, first_party::SHAREPOINT),
        }
    }
}

/// AADSTS errors of failed sign-ins: (ErrorNumber, LogonError, weight).
static FAILURES: &[(&str, &str, u64)] = &[
    ("50126", "InvalidUserNameOrPassword", 60),
    ("50074", "UserStrongAuthClientAuthNRequiredInterrupt", 10),
    ("50140", "KmsiInterrupt", 8),
    ("50076", "UserStrongAuthClientAuthNRequired", 7),
    ("50053", "IdsLocked", 5),
    ("53003", "BlockedByConditionalAccess", 5),
    ("50055", "InvalidPasswordExpiredPassword", 3),
    ("50155", "DeviceAuthenticationFailed", 2),
];

/// RecordType 15: sign-ins (`UserLoggedIn` / `UserLoginFailed`).
pub(super) fn sts_logon(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    entra_common(ctx, r, rec);
    let failed = ctx.operation == "UserLoginFailed";
    let ip = ip_string(ctx.ip);
    // The plain address, equal to ActorIpAddress (contract §3.1): no R3 variants here.
    put(rec, "ClientIP", ip.as_str());
    put(rec, "ActorIpAddress", ip);
    // Sign-in records reuse the request id: IntraSystemId equals the record Id.
    put(rec, "IntraSystemId", ctx.id.as_str());
    put(rec, "ModifiedProperties", Vec::<Value>::new());
    let ua = ctx.user_agent;
    let (app, mut resource) = client_and_resource(r, ua, ctx.user.is_admin());
    if failed && r.chance(0.4) {
        resource = "Unknown";
    }
    put(rec, "ApplicationId", app);
    put(rec, "ObjectId", resource);
    put(rec, "Target", vec![ident(resource, 0)]);
    let mut actor = vec![
        ident(ctx.user.object_id.as_str(), 0),
        ident(ctx.user.upn.as_str(), 5),
    ];
    if r.chance(0.3) {
        actor.push(ident(ctx.user.puid.as_str(), 3));
    }
    put(rec, "Actor", actor);

    let (os, browser) = os_and_browser(ua);
    let interactive = browser.is_some_and(|b| b != "Other");
    let request = if !interactive {
        "OAuth2:Token"
    } else if failed {
        *r.pick(&["Login:login", "Login:login", "OAuth2:Authorize"])
    } else {
        *r.pick(&[
            "OAuth2:Authorize",
            "OAuth2:Authorize",
            "Login:login",
            "Kmsi:kmsi",
            "Login:reprocess",
            "SAS:ProcessAuth",
        ])
    };
    let detail = if failed {
        if r.chance(0.7) {
            "UserError"
        } else {
            "Success"
        }
    } else if request == "Login:login" && r.chance(0.5) {
        "Redirect"
    } else {
        "Success"
    };
    let mut ext = vec![
        nv("ResultStatusDetail", detail),
        nv("UserAgent", ua),
        nv(
            "UserAuthenticationMethod",
            if r.chance(0.8) { "1" } else { "9" },
        ),
        nv("RequestType", request),
    ];
    if request.starts_with("Kmsi") || request.starts_with("Login") {
        ext.push(nv(
            "KeepMeSignedIn",
            if r.chance(0.4) { "True" } else { "False" },
        ));
    }
    put(rec, "ExtendedProperties", ext);

    let mut dev: Vec<Value> = Vec::with_capacity(8);
    let managed = os == "Windows10"
        && ctx.user.kind != UserKind::Guest
        && stable_u64(ctx, "managed", ctx.user.index as u64) % 10 < 6;
    if managed {
        dev.push(nv("Id", stable_guid(ctx, "device", ctx.user.index as u64)));
        dev.push(nv(
            "DisplayName",
            format!(
                "{}-{}",
                ctx.tenant
                    .stem
                    .to_ascii_uppercase()
                    .chars()
                    .take(4)
                    .collect::<String>(),
                ctx.user.puid.get(11..16).unwrap_or("00000")
            ),
        ));
    }
    if !os.is_empty() {
        dev.push(nv("OS", os));
    }
    if let Some(b) = browser {
        dev.push(nv("BrowserType", b));
    }
    if managed {
        dev.push(nv(
            "TrustType",
            if ctx.user.on_premises_synced {
                "2"
            } else {
                "1"
            },
        ));
        dev.push(nv("IsCompliant", "True"));
        dev.push(nv("IsCompliantAndManaged", "True"));
    } else {
        dev.push(nv("IsCompliantAndManaged", "False"));
    }
    dev.push(nv("SessionId", r.guid()));
    put(rec, "DeviceProperties", dev);

    if failed {
        put(rec, "ResultStatus", "Failed");
        let (code, reason) = if !ctx.user.account_enabled {
            ("50057", "UserDisabled")
        } else {
            let total: u64 = FAILURES.iter().map(|f| f.2).sum();
            let mut roll = r.below(total);
            let mut out = ("50126", "InvalidUserNameOrPassword");
            for &(c, e, w) in FAILURES {
                if roll < w {
                    out = (c, e);
                    break;
                }
                roll -= w;
            }
            out
        };
        put(rec, "ErrorNumber", code);
        put(rec, "LogonError", reason);
    } else {
        // Older records say "Succeeded", newer ones "Success"; either way only the HTTP exchange.
        put(
            rec,
            "ResultStatus",
            if r.chance(0.7) {
                "Success"
            } else {
                "Succeeded"
            },
        );
        put(rec, "ErrorNumber", "0");
    }
    finish(ctx, r, rec, false);
}

/// RecordType 9 (deprecated): account logon, in the 2015 shape of the API reference sample.
pub(super) fn account_logon(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let failed = ctx.operation.contains("Fail") || !ctx.user.account_enabled || r.chance(0.1);
    put(rec, "AzureActiveDirectoryEventType", 0);
    put(rec, "UserType", 0);
    put(rec, "UserKey", entra_user_key(ctx, ctx.user));
    put(rec, "ObjectId", ctx.user.upn.as_str());
    put(
        rec,
        "ResultStatus",
        if failed { "failed" } else { "success" },
    );
    put(
        rec,
        "Client",
        *r.pick(&["Exchange", "SharePoint", "Unknown"]),
    );
    put(
        rec,
        "Application",
        *r.pick(&["Office 365", "Exchange Online", "SharePoint Online"]),
    );
    put(rec, "UserDomain", ctx.tenant.initial_domain.as_str());
    if failed {
        put(rec, "LoginStatus", -2_147_217_390_i64);
        put(
            rec,
            "ExtendedProperties",
            vec![nv(
                "LoginError",
                "-2147217390;PP_E_BAD_PASSWORD;The entered and stored passwords do not match.",
            )],
        );
    } else {
        put(rec, "LoginStatus", 0);
        put(rec, "ExtendedProperties", Vec::<Value>::new());
    }
    finish(ctx, r, rec, true);
}

#[cfg(test)]
mod tests {
    use super::super::{RecordCtx, build};
    use crate::catalog::record_type;
    use crate::rng::Rng;
    use crate::tenant::Tenant;
    use serde_json::{Map, Value};

    use crate::test_support::fixed_now as now;

    fn records(t: &Tenant, rt: i32, op: &str, n: u64) -> Vec<Map<String, Value>> {
        let Some(info) = record_type(rt) else {
            return Vec::new();
        };
        let agents: Vec<&str> = crate::records::agents::DESKTOP
            .iter()
            .chain(crate::records::agents::MOBILE)
            .chain(crate::records::agents::SCRIPTED)
            .copied()
            .collect();
        (0..n)
            .map(|i| {
                let user = &t.users[(i as usize * 11) % t.users.len()];
                let ctx = RecordCtx {
                    tenant: t,
                    user,
                    info,
                    operation: op,
                    id: format!("00000000-0000-0000-0000-{i:012}"),
                    time: now(),
                    ip: [86, 130, 1, 2],
                    user_agent: agents[i as usize % agents.len()],
                };
                build(&ctx, &mut Rng::new(&[rt as u64, i]))
            })
            .collect()
    }

    fn s<'a>(rec: &'a Map<String, Value>, k: &str) -> &'a str {
        rec.get(k).and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn failed_sign_ins_carry_an_error_and_failed_status() {
        let t = Tenant::generate(1, 200, now());
        let recs = records(&t, 15, "UserLoginFailed", 200);
        assert_eq!(recs.len(), 200);
        for rec in &recs {
            assert_eq!(s(rec, "ResultStatus"), "Failed");
            assert!(s(rec, "ErrorNumber").parse::<u32>().is_ok_and(|n| n > 0));
            assert!(!s(rec, "LogonError").is_empty());
            assert_eq!(s(rec, "ClientIP"), s(rec, "ActorIpAddress"));
            assert_eq!(s(rec, "ClientIP"), "86.130.1.2");
            assert_eq!(rec["Target"][0]["ID"], rec["ObjectId"]);
            assert!(s(rec, "UserKey").ends_with(&format!("@{}", t.initial_domain)));
        }
        for rec in records(&t, 15, "UserLoggedIn", 100) {
            assert_eq!(s(&rec, "ErrorNumber"), "0");
            assert!(rec.get("LogonError").is_none());
            assert_eq!(rec["Actor"][1]["Type"], 5);
        }
    }

    #[test]
    fn directory_events_have_actor_target_and_modified_properties() {
        let t = Tenant::generate(1, 200, now());
        for op in [
            "Add user.",
            "Update user.",
            "Add member to group.",
            "Add member to role.",
            "Consent to application.",
            "Reset user password.",
            "Add service principal credentials.",
            "Set company information.",
        ] {
            for rec in records(&t, 8, op, 40) {
                assert_eq!(s(&rec, "ResultStatus"), "Success");
                // R2 may turn it into "0".
                assert!(rec["UserType"] == 0 || rec["UserType"] == "0");
                assert!(
                    rec["Actor"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x["Type"] == 5))
                );
                assert!(rec["Target"].as_array().is_some_and(|a| !a.is_empty()));
                assert!(!s(&rec, "ObjectId").is_empty());
                let mods = rec["ModifiedProperties"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(mods.iter().all(|m| m["Name"].is_string()
                    && m["NewValue"].is_string()
                    && m["OldValue"].is_string()));
                if op == "Add member to role." {
                    assert!(mods.iter().any(|m| m["Name"] == "Role.DisplayName"));
                }
                if op == "Consent to application." {
                    assert!(
                        mods.iter()
                            .any(|m| m["Name"] == "ConsentAction.Permissions")
                    );
                }
                if op == "Update user." {
                    assert!(
                        mods.iter()
                            .any(|m| m["Name"] == "Included Updated Properties")
                    );
                }
                let details = match &rec["ExtendedProperties"] {
                    Value::Array(a) => a
                        .iter()
                        .find(|p| p["Name"] == "additionalDetails")
                        .map(|p| p["Value"].clone()),
                    _ => None,
                };
                if let Some(Value::String(d)) = details {
                    assert!(
                        serde_json::from_str::<Value>(&d).is_ok_and(|v| v.is_object()),
                        "{d}"
                    );
                }
            }
        }
    }
}
