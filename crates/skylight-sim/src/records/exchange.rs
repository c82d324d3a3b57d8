//! Exchange Online records: admin cmdlets and mailbox audit (contract §3.3, §3.4).
use super::RecordCtx;
use super::messy::{
    alias, drop_empty, ews_id, finish, has_mailbox, ip_with_port, nv, other_user, pick_opt, put,
    stable_ews_id, stable_u64, stringify,
};
use crate::rng::{Rng, hash_str};
use crate::tenant::User;
use crate::tenant::apps::first_party;
use crate::tenant::names::FILE_WORDS;
use serde_json::{Map, Value, json};

/// Outlook for iOS/Android's client id.
const OUTLOOK_MOBILE: &str = "27922004-5251-4030-b22d-91ecd9a37ea4";

/// The Exchange system account that runs service-side cmdlets (contract §3.3 example A).
const EXCHANGE_SYSTEM: &str = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";

// ---------------------------------------------------------------------------------------------
// Tenant-level Exchange topology: region, mailbox servers, pod.

struct Region {
    servers: &'static [&'static str],
    prd: &'static str,
    pod: &'static str,
}

static REGIONS: [Region; 3] = [
    Region {
        servers: &[
            "BN8PR", "CH0PR", "DM6PR", "SN6PR", "PH0PR", "CY4PR", "MW4PR", "SA1PR",
        ],
        prd: "namprd",
        pod: "NAMPR",
    },
    Region {
        servers: &[
            "AM0PR", "DB9PR", "HE1PR", "VI1PR", "PA4PR", "AS8PR", "DU0PR",
        ],
        prd: "eurprd",
        pod: "EURPR",
    },
    Region {
        servers: &["SG2PR", "TYZPR", "ME3PR", "SY4PR", "OS3PR"],
        prd: "apcprd",
        pod: "APCPR",
    },
];

fn region(ctx: &RecordCtx<'_>) -> &'static Region {
    match stable_u64(ctx, "exo-region", 0) % 10 {
        0..=5 => &REGIONS[0],
        6..=8 => &REGIONS[1],
        _ => &REGIONS[2],
    }
}

/// One of the tenant's mailbox servers (`BN8PR12MB1234`) and its ring number (the `12`).
fn server(ctx: &RecordCtx<'_>, r: &mut Rng) -> (String, u64) {
    let reg = region(ctx);
    let h = stable_u64(ctx, "exo-server", r.below(16));
    let prefix = reg
        .servers
        .get((h % reg.servers.len() as u64) as usize)
        .copied()
        .unwrap_or("BN8PR");
    let ring = 1 + (h >> 8) % 20;
    (
        format!("{prefix}{ring:02}MB{:04}", (h >> 16) % 10_000),
        ring,
    )
}

/// `OriginatingServer`: `BN8PR12MB1234 (15.20.7544.030)`; sometimes with a trailing CR LF as seen
/// in real records (contract §3.3 "may end with \n").
pub(super) fn originating_server(ctx: &RecordCtx<'_>, r: &mut Rng) -> String {
    let (name, _) = server(ctx, r);
    let b = stable_u64(ctx, "exo-build", r.below(2));
    let mut s = format!("{name} (15.20.{}.{:03})", 7000 + b % 1900, (b >> 12) % 40);
    if r.chance(0.03) {
        s.push_str("\r\n");
    }
    s
}

/// An `InternetMessageId` minted by the tenant's own servers.
pub(super) fn internet_message_id(ctx: &RecordCtx<'_>, r: &mut Rng) -> String {
    let (name, ring) = server(ctx, r);
    format!(
        "<{name}{}@{name}.{}{ring:02}.prod.outlook.com>",
        r.hex_upper(25),
        region(ctx).prd
    )
}

/// The tenant's Exchange Online pod (`NAMPR01A001.prod.outlook.com`).
fn pod(ctx: &RecordCtx<'_>) -> String {
    let h = stable_u64(ctx, "exo-pod", 0);
    format!(
        "{}{:02}A{:03}.prod.outlook.com",
        region(ctx).pod,
        1 + h % 12,
        1 + (h >> 8) % 12
    )
}

/// The Exchange identity of a mailbox as `ObjectId` shows it: the full hosted-organisation path
/// or the bare alias (both occur, contract §3.3).
fn exchange_identity(ctx: &RecordCtx<'_>, r: &mut Rng, name: &str) -> String {
    if r.chance(0.6) {
        format!(
            "{}/Microsoft Exchange Hosted Organizations/{}/{}",
            pod(ctx),
            ctx.tenant.initial_domain,
            name
        )
    } else {
        name.to_owned()
    }
}

/// A plausible subject line.
pub(super) fn subject(r: &mut Rng) -> String {
    let a = r.pick(FILE_WORDS);
    let b = r.pick(FILE_WORDS);
    match r.below(7) {
        0 => format!("{a} {b} review"),
        1 => format!("RE: {a} {b}"),
        2 => format!("FW: {a} update"),
        3 => format!("{a} {b} {}", 2023 + r.below(4)),
        4 => format!("Meeting: {a} sync"),
        5 => format!("Invoice {}", 10_000 + r.below(90_000)),
        _ => format!(
            "Question about the {} {}",
            a.to_lowercase(),
            b.to_lowercase()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// RecordType 1 (and other cmdlet record types): admin cmdlets.

/// Inbox rule names users give their (benign) rules.
static RULE_NAMES: &[&str] = &[
    "Newsletters",
    "Receipts",
    "Project updates",
    "Vendor mail",
    "Jira notifications",
    "Calendar replies",
    "Expense reports",
    "CI builds",
];
/// Folders such rules move mail to.
static RULE_FOLDERS: &[&str] = &[
    "Newsletters",
    "Receipts",
    "Projects",
    "Vendors",
    "Notifications",
    "Archive",
];

/// Cmdlets that act on the organisation rather than on one mailbox.
fn org_level(cmdlet: &str) -> bool {
    matches!(
        cmdlet,
        "Set-TransportConfig"
            | "Set-OrganizationConfig"
            | "New-TransportRule"
            | "Set-TransportRule"
            | "Set-HostedContentFilterPolicy"
            | "Set-AntiPhishPolicy"
            | "Set-AdminAuditLogConfig"
            | "Set-OwaMailboxPolicy"
            | "Set-HostedOutboundSpamFilterPolicy"
    )
}

/// The `Parameters` a cmdlet is typically run with, and the `ObjectId` it acts on.
pub(super) fn cmdlet_parameters(
    ctx: &RecordCtx<'_>,
    r: &mut Rng,
    op: &str,
) -> (Vec<Value>, String) {
    let domain = &ctx.tenant.initial_domain;
    let me = alias(&ctx.user.upn);
    let target = other_user(ctx, r, has_mailbox);
    let t_alias = alias(&target.upn);
    let mut params: Vec<Value> = Vec::with_capacity(6);
    let object_id: String;
    match op {
        "Set-Mailbox" => {
            params.push(nv("Identity", target.upn.as_str()));
            match r.below(8) {
                0 => {
                    // Internal forwarding to a colleague; baseline never forwards outside the tenant.
                    let to = other_user(ctx, r, has_mailbox);
                    params.push(nv("ForwardingSmtpAddress", format!("smtp:{}", to.mail)));
                    params.push(nv("DeliverToMailboxAndForward", "True"));
                }
                1 => params.push(nv("ForwardingAddress", "")),
                2 => params.push(nv("LitigationHoldEnabled", "True")),
                3 => params.push(nv("Type", "Shared")),
                4 => params.push(nv("RetentionPolicy", "Default MRM Policy")),
                5 => {
                    params.push(nv("AuditEnabled", "True"));
                    params.push(nv("AuditOwner", "Create,HardDelete,MailboxLogin,Move,MoveToDeletedItems,SoftDelete,Update,UpdateInboxRules"));
                }
                6 => params.push(nv("MessageCopyForSentAsEnabled", "True")),
                _ => params.push(nv("ProhibitSendQuota", "49GB")),
            }
            object_id = exchange_identity(ctx, r, t_alias);
        }
        "New-InboxRule" | "Set-InboxRule" | "Enable-InboxRule" | "Disable-InboxRule"
        | "Remove-InboxRule" => {
            let name = *r.pick(RULE_NAMES);
            params.push(nv("AlwaysDeleteOutlookRulesBlob", "False"));
            params.push(nv("Force", "False"));
            if op == "New-InboxRule" {
                params.push(nv("Name", name));
                match r.below(3) {
                    0 => params.push(nv(
                        "From",
                        format!("noreply@{}", r.pick(crate::tenant::names::PARTNER_DOMAINS)),
                    )),
                    1 => params.push(nv("SubjectContainsWords", name.to_lowercase())),
                    _ => params.push(nv("FromAddressContainsWords", "notifications")),
                }
                params.push(nv("MoveToFolder", *r.pick(RULE_FOLDERS)));
                if r.chance(0.4) {
                    params.push(nv("MarkAsRead", "True"));
                }
                params.push(nv(
                    "StopProcessingRules",
                    if r.chance(0.5) { "True" } else { "False" },
                ));
                object_id = exchange_identity(ctx, r, &format!("{me}\\{name}"));
            } else {
                let rule_id = 1_000_000_000_000_000_000u64 + r.below(8_000_000_000_000_000_000);
                params.push(nv("Identity", format!("{me}\\{rule_id}")));
                if op == "Set-InboxRule" {
                    params.push(nv("MoveToFolder", *r.pick(RULE_FOLDERS)));
                }
                object_id = exchange_identity(ctx, r, &format!("{me}\\{name}"));
            }
        }
        "Add-MailboxPermission" | "Remove-MailboxPermission" => {
            let who = other_user(ctx, r, has_mailbox);
            params.push(nv("Identity", t_alias));
            params.push(nv("User", who.display_name.as_str()));
            params.push(nv("AccessRights", "FullAccess"));
            params.push(nv("InheritanceType", "All"));
            if op == "Add-MailboxPermission" && r.chance(0.3) {
                params.push(nv("AutoMapping", "False"));
            }
            object_id = t_alias.to_owned();
        }
        "Add-RecipientPermission" | "Remove-RecipientPermission" => {
            let who = other_user(ctx, r, has_mailbox);
            params.push(nv("Identity", target.upn.as_str()));
            params.push(nv("Trustee", who.upn.as_str()));
            params.push(nv("AccessRights", "SendAs"));
            params.push(nv("Confirm", "False"));
            object_id = exchange_identity(ctx, r, t_alias);
        }
        "Add-MailboxFolderPermission" | "Set-MailboxFolderPermission" => {
            let who = other_user(ctx, r, has_mailbox);
            params.push(nv("Identity", format!("{}:\\Calendar", target.upn)));
            params.push(nv("User", who.upn.as_str()));
            params.push(nv(
                "AccessRights",
                *r.pick(&["Reviewer", "Editor", "LimitedDetails"]),
            ));
            object_id = format!("{t_alias}:\\Calendar");
        }
        "Set-CASMailbox" => {
            params.push(nv("Identity", target.upn.as_str()));
            let protocol = *r.pick(&[
                "PopEnabled",
                "ImapEnabled",
                "ActiveSyncEnabled",
                "SmtpClientAuthenticationDisabled",
            ]);
            params.push(nv(protocol, "False"));
            object_id = exchange_identity(ctx, r, t_alias);
        }
        "Set-TransportConfig" => {
            params.push(nv("DomainController", ""));
            params.push(nv("Identity", domain.as_str()));
            if r.chance(0.5) {
                params.push(nv("SmtpClientAuthenticationDisabled", "True"));
            }
            object_id = format!("{domain}\\Transport Settings");
        }
        "New-TransportRule" | "Set-TransportRule" => {
            let name = *r.pick(&[
                "External sender warning",
                "Block executable attachments",
                "Disclaimer",
                "Encrypt legal mail",
            ]);
            params.push(nv("Name", name));
            match name {
                "External sender warning" => {
                    params.push(nv("FromScope", "NotInOrganization"));
                    params.push(nv("PrependSubject", "[EXTERNAL] "));
                }
                "Block executable attachments" => {
                    params.push(nv("AttachmentExtensionMatchesWords", "exe;js;vbs;scr"));
                    params.push(nv(
                        "RejectMessageReasonText",
                        "Executable attachments are not allowed",
                    ));
                }
                "Disclaimer" => {
                    params.push(nv("SentToScope", "NotInOrganization"));
                    params.push(nv("ApplyHtmlDisclaimerLocation", "Append"));
                }
                _ => {
                    params.push(nv("SentToScope", "NotInOrganization"));
                    params.push(nv("ApplyRightsProtectionTemplate", "Encrypt"));
                }
            }
            params.push(nv("Mode", "Enforce"));
            object_id = name.to_owned();
        }
        "Set-HostedContentFilterPolicy"
        | "Set-AntiPhishPolicy"
        | "Set-HostedOutboundSpamFilterPolicy" => {
            let identity = if op == "Set-AntiPhishPolicy" {
                "Office365 AntiPhish Default"
            } else {
                "Default"
            };
            params.push(nv("Identity", identity));
            match op {
                "Set-AntiPhishPolicy" => {
                    params.push(nv("EnableMailboxIntelligenceProtection", "True"))
                }
                "Set-HostedOutboundSpamFilterPolicy" => {
                    params.push(nv("AutoForwardingMode", "Off"))
                }
                _ => params.push(nv("BulkThreshold", "6")),
            }
            object_id = identity.to_owned();
        }
        "Get-QuarantineMessage" | "Release-QuarantineMessage" => {
            if op == "Release-QuarantineMessage" {
                let id = format!("{}\\{}", r.guid(), r.guid());
                params.push(nv("Identity", id.as_str()));
                params.push(nv("ReleaseToAll", "True"));
                object_id = id;
            } else {
                params.push(nv("PageSize", "100"));
                params.push(nv("Page", "1"));
                params.push(nv("MyItems", "True"));
                object_id = String::new();
            }
        }
        "New-ComplianceSearch" => {
            let name = format!("{} search {}", r.pick(FILE_WORDS), 1 + r.below(40));
            params.push(nv("Name", name.as_str()));
            params.push(nv("ExchangeLocation", "All"));
            params.push(nv(
                "ContentMatchQuery",
                format!("subject:\"{}\"", r.pick(FILE_WORDS)),
            ));
            object_id = name;
        }
        "Add-RoleGroupMember" | "Remove-RoleGroupMember" => {
            let group = *r.pick(&[
                "Organization Management",
                "Compliance Management",
                "Recipient Management",
                "Help Desk",
            ]);
            params.push(nv("Identity", group));
            params.push(nv("Member", target.upn.as_str()));
            object_id = group.to_owned();
        }
        "New-RoleGroup" => {
            let name = format!("{} Operators", r.pick(FILE_WORDS));
            params.push(nv("Name", name.as_str()));
            params.push(nv("Roles", "Mail Recipients, View-Only Recipients"));
            object_id = name;
        }
        "New-ManagementRoleAssignment" => {
            params.push(nv("Role", "ApplicationImpersonation"));
            params.push(nv("User", target.upn.as_str()));
            object_id = format!("ApplicationImpersonation-{t_alias}");
        }
        "Set-MailboxAuditBypassAssociation" => {
            params.push(nv("Identity", target.upn.as_str()));
            params.push(nv("AuditBypassEnabled", "False"));
            object_id = exchange_identity(ctx, r, t_alias);
        }
        "Set-AdminAuditLogConfig" => {
            params.push(nv("UnifiedAuditLogIngestionEnabled", "True"));
            object_id = "Admin Audit Log Settings".to_owned();
        }
        "Set-OwaMailboxPolicy" => {
            params.push(nv("Identity", "OwaMailboxPolicy-Default"));
            params.push(nv("AdditionalStorageProvidersAvailable", "False"));
            object_id = "OwaMailboxPolicy-Default".to_owned();
        }
        "New-UnifiedAuditLogRetentionPolicy" | "Set-UnifiedAuditLogRetentionPolicy" => {
            params.push(nv("Name", "Retain audit one year"));
            params.push(nv("RetentionDuration", "OneYear"));
            params.push(nv("Priority", "100"));
            object_id = "Retain audit one year".to_owned();
        }
        _ if op.contains("-Cs") => {
            // Skype for Business / Teams policy cmdlets.
            if op.starts_with("Grant-") {
                params.push(nv("Identity", target.upn.as_str()));
                params.push(nv(
                    "PolicyName",
                    *r.pick(&["RestrictedAnonymousAccess", "AllOn", "Tag:Default"]),
                ));
                object_id = target.upn.clone();
            } else {
                params.push(nv("Identity", "Global"));
                if op.contains("Federation") {
                    params.push(nv("AllowPublicUsers", "False"));
                } else {
                    params.push(nv("AllowAnonymousUsersToJoinMeeting", "False"));
                }
                object_id = "Global".to_owned();
            }
        }
        _ if op.starts_with("Get-") => {
            if r.chance(0.5) {
                params.push(nv("Identity", target.upn.as_str()));
                object_id = t_alias.to_owned();
            } else {
                params.push(nv("ResultSize", "Unlimited"));
                object_id = String::new();
            }
        }
        _ => {
            // Unknown cmdlets: the object they act on.
            params.push(nv("Identity", target.upn.as_str()));
            object_id = exchange_identity(ctx, r, t_alias);
        }
    }
    (params, object_id)
}

pub(super) fn admin(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let op = ctx.operation;
    let domain = &ctx.tenant.initial_domain;
    let (params, object_id) = cmdlet_parameters(ctx, r, op);

    // Org-level cmdlets attributed to someone who is not an admin were run by the service itself
    // (contract §3.3 example A: UserType 3, ExternalAccess true).
    let system = org_level(op) && !ctx.user.is_admin();
    if system {
        put(rec, "UserId", EXCHANGE_SYSTEM);
        put(rec, "UserKey", EXCHANGE_SYSTEM);
        put(rec, "UserType", 3);
        rec.remove("ClientIP");
    } else if r.chance(0.65) {
        // ClientIP often ip:port on admin records (contract §3.3; R3).
        put(rec, "ClientIP", ip_with_port(r, ctx.ip));
    }
    put(
        rec,
        "ResultStatus",
        if r.chance(0.005) { "False" } else { "True" },
    );
    put(rec, "ObjectId", object_id);
    put(rec, "OriginatingServer", originating_server(ctx, r));
    put(rec, "OrganizationName", domain.as_str());
    put(rec, "ExternalAccess", system);
    put(rec, "AppId", "");
    put(rec, "ClientAppId", "");
    if !system {
        put(rec, "SessionId", r.guid());
        if r.chance(0.5) {
            put(rec, "TokenObjectId", ctx.user.object_id.as_str());
            put(rec, "TokenTenantId", ctx.tenant.tenant_id.as_str());
        }
    }
    // R1: Exchange sometimes writes Parameters as one PowerShell-style string
    // (`-Identity "x" -Name "y"`, BEATS str-params.log); `finish` adds the JSON-string form.
    if r.chance(0.005) {
        let mut s = String::new();
        for p in &params {
            if let (Some(n), Some(v)) = (
                p.get("Name").and_then(Value::as_str),
                p.get("Value").and_then(Value::as_str),
            ) {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push('-');
                s.push_str(n);
                s.push_str(" \"");
                s.push_str(v);
                s.push('"');
            }
        }
        put(rec, "Parameters", s);
    } else {
        put(rec, "Parameters", params);
    }
    finish(ctx, r, rec, !system);
}

// ---------------------------------------------------------------------------------------------
// Mailbox audit (RecordTypes 2, 3, 50 and 19).

/// What kind of client the user agent is, as Exchange records it: `(ClientInfoString, AppId)`.
fn client_info(ua: &str) -> (&'static str, &'static str) {
    if ua.contains("Outlook-iOS") {
        ("Client=OutlookService;Outlook-iOS/2.0;", OUTLOOK_MOBILE)
    } else if ua.contains("Outlook-Android") {
        ("Client=OutlookService;Outlook-Android/2.0;", OUTLOOK_MOBILE)
    } else if ua.contains("Microsoft Outlook") {
        ("Client=MSExchangeRPC", "")
    } else if ua.contains("Teams/") {
        ("Client=REST;Client=RESTSystem;;", first_party::TEAMS)
    } else if ua.contains("python")
        || ua.contains("curl")
        || ua.contains("MSAL")
        || ua.contains("BAV2ROPC")
    {
        ("Client=REST;Client=RESTSystem;;", first_party::GRAPH)
    } else if ua.contains("Microsoft Office") || ua.contains("SkyDriveSync") {
        ("Client=REST;Client=RESTSystem;;", first_party::OFFICE)
    } else {
        ("Client=OWA;Action=ViaProxy", first_party::OWA)
    }
}

/// Well-known folders; repeats weight the busy ones.
static FOLDERS: &[&str] = &[
    "\\Inbox",
    "\\Inbox",
    "\\Inbox",
    "\\Sent Items",
    "\\Drafts",
    "\\Deleted Items",
    "\\Archive",
    "\\Calendar",
    "\\Junk Email",
    "\\Inbox\\Projects",
];

/// One of the well-known folders, weighted by activity.
fn pick_folder(r: &mut Rng) -> &'static str {
    FOLDERS
        .get(r.below(FOLDERS.len() as u64) as usize)
        .copied()
        .unwrap_or("\\Inbox")
}

/// A folder of a mailbox: `(Id, Path)`, the id stable per mailbox and folder.
fn folder(owner: &User, path: &'static str) -> (String, &'static str) {
    let id = stable_ews_id(
        &[hash_str(&owner.mailbox_guid), hash_str(path)],
        "LgAAAA",
        58,
    );
    (id, path)
}

fn folder_obj(id: &str, path: &str) -> Value {
    json!({ "Id": id, "Path": path })
}

/// Who owns the mailbox and how the actor logged on to it (LogonType 0 owner, 1 admin,
/// 2 delegated).
fn mailbox_owner<'t>(ctx: &RecordCtx<'t>, r: &mut Rng) -> (&'t User, i64) {
    if !has_mailbox(ctx.user) {
        return (other_user(ctx, r, has_mailbox), 2);
    }
    let roll = r.f64();
    if roll < 0.05 {
        (other_user(ctx, r, has_mailbox), 2)
    } else if roll < 0.06 && ctx.user.is_admin() {
        (other_user(ctx, r, has_mailbox), 1)
    } else {
        (ctx.user, 0)
    }
}

/// The fields every mailbox audit record carries.
fn mailbox_base(
    ctx: &RecordCtx<'_>,
    r: &mut Rng,
    rec: &mut Map<String, Value>,
    owner: &User,
    logon: i64,
) {
    let (info, app) = client_info(ctx.user_agent);
    // Mailbox access is user activity: UserType 2 only when an admin logs on as admin.
    put(rec, "UserType", if logon == 1 { 2 } else { 0 });
    // Mailbox audit records carry no ObjectId.
    drop_empty(rec, "ObjectId");
    put(rec, "ClientInfoString", info);
    put(rec, "ClientIPAddress", super::ip_string(ctx.ip));
    put(rec, "ExternalAccess", false);
    put(rec, "LogonType", logon);
    put(rec, "InternalLogonType", logon);
    put(rec, "LogonUserSid", ctx.user.sid.as_str());
    put(rec, "MailboxGuid", owner.mailbox_guid.as_str());
    put(rec, "MailboxOwnerUPN", owner.upn.as_str());
    put(rec, "MailboxOwnerSid", owner.sid.as_str());
    put(rec, "OrganizationName", ctx.tenant.initial_domain.as_str());
    put(rec, "OriginatingServer", originating_server(ctx, r));
    if logon != 0 {
        put(rec, "LogonUserDisplayName", ctx.user.display_name.as_str());
    }
    if app.is_empty() {
        // Outlook desktop over MAPI.
        put(
            rec,
            "ClientVersion",
            format!("16.0.{}.{}", 17_000 + r.below(1_500), 20_000 + r.below(300)),
        );
        put(rec, "ClientProcessName", "OUTLOOK.EXE");
    } else {
        put(rec, "AppId", app);
        put(rec, "ClientAppId", if r.chance(0.5) { app } else { "" });
        put(rec, "SessionId", r.guid());
        if r.chance(0.4) {
            put(rec, "TokenObjectId", ctx.user.object_id.as_str());
            put(rec, "TokenTenantId", ctx.tenant.tenant_id.as_str());
        }
        if r.chance(0.25) {
            // R5: AppAccessContext is an object, not the documented collection.
            let issued = super::creation_time(ctx.time - chrono::Duration::minutes(r.range(1, 55)));
            put(
                rec,
                "AppAccessContext",
                json!({
                    "AADSessionId": r.guid(),
                    "ClientAppId": app,
                    "IssuedAtTime": issued,
                    "UniqueTokenId": ews_id(r, "", 22),
                }),
            );
        }
    }
}

fn attachments(r: &mut Rng) -> String {
    let n = 1 + r.below(3);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str("; ");
        }
        let ext = *r.pick(&["pdf", "docx", "xlsx", "png", "jpg"]);
        s.push_str(&format!(
            "{} {}.{ext} ({}b)",
            r.pick(FILE_WORDS),
            r.pick(FILE_WORDS),
            4_096 + r.below(2_000_000)
        ));
    }
    s
}

/// One mailbox item as `Item` / `AffectedItems[]` show it.
fn item_obj(ctx: &RecordCtx<'_>, r: &mut Rng, owner: &User, path: &'static str) -> Value {
    let (fid, fpath) = folder(owner, path);
    let mut m = Map::new();
    put(&mut m, "Id", ews_id(r, "RgAAAA", 146));
    put(&mut m, "Subject", subject(r));
    put(&mut m, "ParentFolder", folder_obj(&fid, fpath));
    put(&mut m, "SizeInBytes", 2_000 + r.below(250_000));
    put(&mut m, "InternetMessageId", internet_message_id(ctx, r));
    put(&mut m, "IsRecord", false);
    if r.chance(0.15) {
        put(&mut m, "Attachments", attachments(r));
    }
    Value::Object(m)
}

pub(super) fn item(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let (owner, logon) = mailbox_owner(ctx, r);
    mailbox_base(ctx, r, rec, owner, logon);
    let op = ctx.operation;
    match op {
        "MailboxLogin" => {}
        "UpdateInboxRules" => {
            let (fid, fpath) = folder(owner, "\\Inbox");
            put(
                rec,
                "Item",
                json!({ "Id": ews_id(r, "RgAAAA", 146), "ParentFolder": { "Id": fid, "Path": fpath } }),
            );
            let name = *r.pick(RULE_NAMES);
            let target = *r.pick(RULE_FOLDERS);
            // RuleActions is itself a JSON document carried as a string (contract §3.4 example F).
            let actions = stringify(&json!([{ "ActionType": "MoveToFolder", "Folder": target }]));
            let words = name.to_lowercase();
            let mut props = vec![
                nv(
                    "RuleOperation",
                    if r.chance(0.6) {
                        "AddMailboxRule"
                    } else {
                        "ModifyMailboxRule"
                    },
                ),
                nv("RuleName", name),
                nv(
                    "RuleId",
                    (1_000_000_000_000_000_000u64 + r.below(8_000_000_000_000_000_000)).to_string(),
                ),
                nv("RuleState", "Enabled"),
                nv("RuleActions", actions),
            ];
            props.push(nv(
                "RuleCondition",
                format!("SubjectOrBody contains {words}"),
            ));
            put(rec, "OperationProperties", props);
        }
        "UpdateFolderPermissions"
        | "ModifyFolderPermissions"
        | "AddFolderPermissions"
        | "RemoveFolderPermissions"
        | "UpdateCalendarDelegation" => {
            let path = if op == "UpdateCalendarDelegation" || r.chance(0.5) {
                "\\Calendar"
            } else {
                "\\Inbox"
            };
            let (fid, fpath) = folder(owner, path);
            let member = other_user(ctx, r, has_mailbox);
            put(
                rec,
                "Item",
                json!({
                    "Id": fid,
                    "ParentFolder": {
                        "Id": fid,
                        "Path": fpath,
                        "Name": fpath.trim_start_matches('\\'),
                        "MemberRights": *r.pick(&["Reviewer", "Editor", "FreeBusySimple", "LimitedDetails"]),
                        "MemberSid": member.sid,
                        "MemberUpn": member.upn,
                    },
                }),
            );
        }
        _ => {
            let path = match op {
                "Send" | "SendAs" | "SendOnBehalf" => "\\Sent Items",
                "Create" => *r.pick(&["\\Drafts", "\\Calendar", "\\Drafts", "\\Inbox"]),
                _ => *r.pick(FOLDERS),
            };
            put(rec, "Item", item_obj(ctx, r, owner, path));
            match op {
                "SendAs" => {
                    let on_behalf = other_user(ctx, r, has_mailbox);
                    put(rec, "SendAsUserSmtp", on_behalf.mail.as_str());
                    put(
                        rec,
                        "SendAsUserMailboxGuid",
                        on_behalf.mailbox_guid.as_str(),
                    );
                }
                "SendOnBehalf" => {
                    let on_behalf = other_user(ctx, r, has_mailbox);
                    put(rec, "SendOnBehalfOfUserSmtp", on_behalf.mail.as_str());
                    put(
                        rec,
                        "SendOnBehalfOfUserMailboxGuid",
                        on_behalf.mailbox_guid.as_str(),
                    );
                }
                "Update" => {
                    // Here ModifiedProperties is an array of strings (contract §3.4).
                    static PROPS: &[&str] = &[
                        "Subject",
                        "HtmlBody",
                        "RecipientCollection",
                        "AttachmentCollection",
                        "IsRead",
                        "FlagStatus",
                        "Categories",
                    ];
                    let n = 1 + r.below(3) as usize;
                    let start = r.below(PROPS.len() as u64) as usize;
                    let list: Vec<Value> = (0..n)
                        .filter_map(|i| PROPS.get((start + i) % PROPS.len()))
                        .map(|s| Value::from(*s))
                        .collect();
                    put(rec, "ModifiedProperties", list);
                }
                _ => {}
            }
        }
    }
    finish(ctx, r, rec, true);
}

pub(super) fn item_group(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let (owner, logon) = mailbox_owner(ctx, r);
    mailbox_base(ctx, r, rec, owner, logon);
    let op = ctx.operation;
    let src_path = match op {
        "HardDelete" | "SoftDelete" if r.chance(0.5) => "\\Deleted Items",
        _ => *r.pick(FOLDERS),
    };
    let (sid, spath) = folder(owner, src_path);
    put(rec, "Folder", folder_obj(&sid, spath));
    if op != "FolderBind" {
        let n = 1 + r.poisson(1.0).min(9);
        let items: Vec<Value> = (0..n).map(|_| item_obj(ctx, r, owner, src_path)).collect();
        put(rec, "AffectedItems", items);
        put(rec, "CrossMailboxOperation", false);
    }
    let dest = match op {
        "MoveToDeletedItems" => Some("\\Deleted Items"),
        "Move" | "Copy" => Some(*r.pick(&["\\Archive", "\\Inbox\\Projects", "\\Inbox"])),
        _ => None,
    };
    if let Some(d) = dest {
        let (did, dpath) = folder(owner, d);
        put(rec, "DestFolder", folder_obj(&did, dpath));
    }
    finish(ctx, r, rec, true);
}

pub(super) fn item_aggregated(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let (owner, logon) = mailbox_owner(ctx, r);
    mailbox_base(ctx, r, rec, owner, logon);
    let op = ctx.operation;
    // R7: bind auditing throttled after > 1000 records in 24 h — rare.
    let throttled = if r.chance(0.002) { "True" } else { "False" };
    match op {
        "AttachmentAccess" => {
            let n = 1 + r.below(4);
            let items: Vec<Value> = (0..n).map(|_| json!({ "Id": ews_id(r, "AAMkA", 140), "SizeInBytes": 1_000 + r.below(900_000) })).collect();
            put(rec, "OperationCount", n);
            put(
                rec,
                "OperationProperties",
                vec![nv("AttachmentAccessType", "Bind")],
            );
            put(
                rec,
                "Messages",
                vec![
                    json!({ "Id": ews_id(r, "AAMkA", 140), "Path": "Messages", "MessageItems": items }),
                ],
            );
        }
        "FolderBind" => {
            let n = 1 + r.below(3);
            let folders: Vec<Value> = (0..n)
                .map(|_| {
                    let (id, path) = folder(owner, pick_folder(r));
                    folder_obj(&id, path)
                })
                .collect();
            put(rec, "OperationCount", n);
            put(rec, "Folders", folders);
        }
        _ => {
            // MailItemsAccessed (and MessageBind): Bind accesses aggregated per folder, or one Sync
            // per folder from Outlook desktop (contract §3.4).
            let desktop = client_info(ctx.user_agent).1.is_empty();
            let sync = op == "MailItemsAccessed" && desktop && r.chance(0.4);
            if sync {
                let (id, path) = folder(owner, pick_folder(r));
                put(rec, "OperationCount", 1);
                put(
                    rec,
                    "OperationProperties",
                    vec![nv("MailAccessType", "Sync"), nv("IsThrottled", throttled)],
                );
                put(rec, "Folders", vec![folder_obj(&id, path)]);
            } else {
                let total = 1 + r.poisson(2.0).min(30);
                let nfolders = if total > 1 && r.chance(0.3) { 2 } else { 1 };
                let mut left = total;
                let mut folders = Vec::with_capacity(nfolders);
                for i in 0..nfolders {
                    let here = if i + 1 == nfolders {
                        left
                    } else {
                        1 + r.below(left.saturating_sub(1).max(1))
                    };
                    left = left.saturating_sub(here);
                    let (id, path) = folder(owner, pick_folder(r));
                    let items: Vec<Value> = (0..here)
                        .map(|_| {
                            let mut m = Map::new();
                            if r.chance(0.85) {
                                put(&mut m, "InternetMessageId", internet_message_id(ctx, r));
                            } else {
                                let d = pick_opt(r, crate::tenant::names::PARTNER_DOMAINS)
                                    .copied()
                                    .unwrap_or("mail.example");
                                put(
                                    &mut m,
                                    "InternetMessageId",
                                    format!("<{}@{d}>", ews_id(r, "CA", 40)),
                                );
                            }
                            put(&mut m, "SizeInBytes", 2_000 + r.below(300_000));
                            Value::Object(m)
                        })
                        .collect();
                    folders.push(json!({ "Id": id, "Path": path, "FolderItems": items }));
                }
                put(rec, "OperationCount", total);
                put(
                    rec,
                    "OperationProperties",
                    vec![nv("MailAccessType", "Bind"), nv("IsThrottled", throttled)],
                );
                put(rec, "Folders", folders);
            }
        }
    }
    finish(ctx, r, rec, true);
}

#[cfg(test)]
mod tests {
    use super::super::{RecordCtx, build};
    use crate::catalog::record_type;
    use crate::rng::Rng;
    use crate::tenant::Tenant;
    use serde_json::Value;

    use crate::test_support::fixed_now as now;

    fn records(rt: i32, op: &str, n: u64) -> Vec<serde_json::Map<String, Value>> {
        let t = Tenant::generate(1, 200, now());
        let Some(info) = record_type(rt) else {
            return Vec::new();
        };
        (0..n)
            .map(|i| {
                let user = &t.users[(i as usize * 7) % t.users.len()];
                let ctx = RecordCtx {
                    tenant: &t,
                    user,
                    info,
                    operation: op,
                    id: format!("00000000-0000-0000-0000-{i:012}"),
                    time: now(),
                    ip: [73, 1, 2, 3],
                    user_agent: crate::records::agents::DESKTOP[(i % 8) as usize],
                };
                build(&ctx, &mut Rng::new(&[rt as u64, i]))
            })
            .collect()
    }

    #[test]
    fn admin_records_have_parameters_and_true_status() {
        let recs = records(1, "Set-Mailbox", 300);
        assert_eq!(recs.len(), 300);
        for rec in &recs {
            assert!(matches!(
                rec["ResultStatus"].as_str(),
                Some("True") | Some("False")
            ));
            let ok = match &rec["Parameters"] {
                Value::Array(a) => a.iter().any(|p| p["Name"] == "Identity"),
                Value::String(s) => s.contains("Identity"),
                _ => false,
            };
            assert!(ok, "{rec:?}");
            assert!(
                rec["OriginatingServer"]
                    .as_str()
                    .is_some_and(|s| s.contains(" (15.20."))
            );
            assert_eq!(rec["ExternalAccess"], false);
        }
    }

    #[test]
    fn mailbox_items_and_aggregates_have_their_shapes() {
        for rec in records(2, "Send", 50) {
            assert!(rec["Item"]["ParentFolder"]["Path"].is_string());
            assert!(rec["MailboxGuid"].is_string() && rec["LogonType"].is_i64());
        }
        for rec in records(2, "UpdateInboxRules", 50) {
            let props = rec["OperationProperties"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let actions = props
                .iter()
                .find(|p| p["Name"] == "RuleActions")
                .map(|p| p["Value"].clone());
            if let Some(Value::String(s)) = actions {
                assert!(serde_json::from_str::<Value>(&s).is_ok_and(|v| v.is_array()));
            } else if !rec["OperationProperties"].is_string() {
                panic!("no RuleActions: {rec:?}");
            }
        }
        for rec in records(50, "MailItemsAccessed", 200) {
            let count = rec["OperationCount"].as_u64().unwrap_or(0);
            assert!(count >= 1);
            let folders = rec["Folders"].as_array().cloned().unwrap_or_default();
            assert!(!folders.is_empty());
            let items: usize = folders
                .iter()
                .map(|f| f["FolderItems"].as_array().map_or(0, Vec::len))
                .sum();
            assert!(items == 0 || items as u64 == count, "{rec:?}");
        }
        for rec in records(3, "Move", 20) {
            assert!(
                rec["AffectedItems"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            );
            assert!(rec["DestFolder"]["Path"].is_string());
        }
    }
}
