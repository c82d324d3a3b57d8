//! Records of the other workloads (Audit.General and DLP.All): contract §3.7–§3.12.
use super::exchange::{internet_message_id, subject};
use super::messy::{
    alias, drop_empty, ews_id, finish, has_mailbox, hex_lower, ip_with_port, nv, other_user,
    pick_opt, put, stable_guid, stable_u64, stringify,
};
use super::sharepoint::{is_personal, pick_file, sp_user_key};
use super::{RecordCtx, creation_time, ip_string};
use crate::rng::{Rng, hash_str};
use crate::tenant::names::{FILE_WORDS, PARTNER_DOMAINS};
use crate::tenant::{Group, User, UserKind};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

/// `2024-05-14T10:00:00Z`
fn iso_z(t: DateTime<Utc>) -> String {
    format!("{}Z", creation_time(t))
}

/// `2024-05-14T10:00:00.0000000Z`, the form alert `Data` uses.
fn iso_7z(t: DateTime<Utc>) -> String {
    format!("{}.0000000Z", creation_time(t))
}

/// A unified group (team) the actor belongs to, else any team.
fn pick_team<'t>(ctx: &RecordCtx<'t>, r: &mut Rng) -> Option<&'t Group> {
    let mut seen = 0u64;
    let mut chosen = None;
    for g in ctx.tenant.groups_of(ctx.user).filter(|g| g.unified) {
        seen += 1;
        if r.below(seen) == 0 {
            chosen = Some(g);
        }
    }
    if chosen.is_some() {
        return chosen;
    }
    let groups = &ctx.tenant.groups;
    for _ in 0..8 {
        if let Some(g) = groups.get(r.below(groups.len() as u64) as usize)
            && g.unified
        {
            return Some(g);
        }
    }
    groups.iter().find(|g| g.unified)
}

/// The Teams thread id of a team (`19:<32 hex>@thread.tacv2`), stable per group.
fn team_guid(ctx: &RecordCtx<'_>, g: &Group) -> String {
    let h = hash_str(&g.object_id);
    format!(
        "19:{:016x}{:016x}@thread.tacv2",
        stable_u64(ctx, "team-thread", h),
        stable_u64(ctx, "team-thread2", h)
    )
}

/// A channel of a team: `(ChannelGuid, ChannelName, ChannelType)`.
fn channel(ctx: &RecordCtx<'_>, r: &mut Rng, g: &Group) -> (String, &'static str, &'static str) {
    static CHANNELS: &[(&str, &str)] = &[
        ("General", "Standard"),
        ("General", "Standard"),
        ("Announcements", "Standard"),
        ("Planning", "Standard"),
        ("Leads", "Private"),
        ("Partners", "Shared"),
    ];
    let i = r.below(CHANNELS.len() as u64);
    let (name, kind) = CHANNELS
        .get(i as usize)
        .copied()
        .unwrap_or(("General", "Standard"));
    let h = stable_u64(ctx, name, hash_str(&g.object_id));
    let id = if name == "General" {
        team_guid(ctx, g)
    } else {
        format!("19:{:016x}{:016x}@thread.tacv2", h, crate::rng::mix64(h))
    };
    (id, name, kind)
}

/// A `Members[]` entry (Role: 0 Member, 1 Owner, 2 Guest).
fn member(u: &User, owner: bool) -> Value {
    let role = if u.kind == UserKind::Guest {
        2
    } else if owner {
        1
    } else {
        0
    };
    json!({ "UPN": u.upn, "Role": role, "DisplayName": u.display_name })
}

fn team_fields(ctx: &RecordCtx<'_>, rec: &mut Map<String, Value>, g: &Group) {
    put(rec, "TeamGuid", team_guid(ctx, g));
    put(rec, "TeamName", g.display_name.as_str());
    put(rec, "AadGroupId", g.object_id.as_str());
}

/// RecordType 25 and the other Microsoft Teams record types.
pub(super) fn teams(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    put(rec, "UserKey", ctx.user.object_id.as_str());
    if r.chance(0.5) {
        // Teams records often carry no ClientIP (contract §3.7).
        rec.remove("ClientIP");
    }
    drop_empty(rec, "ObjectId");
    let op = ctx.operation;
    let team = pick_team(ctx, r);
    match ctx.info.value {
        57 => {
            static SETTINGS: &[(&str, &str, &str)] = &[
                ("AllowGuestAccess", "False", "True"),
                ("AllowFederatedUsers", "True", "False"),
                ("AllowThirdPartyApps", "True", "False"),
                ("AllowAnonymousUsersToJoinMeeting", "True", "False"),
            ];
            let &(name, old, new) = r.pick(SETTINGS);
            put(rec, "Name", name);
            put(rec, "OldValue", old);
            put(rec, "NewValue", new);
            put(rec, "ObjectId", "Global");
        }
        59 => {
            let n = 1 + stable_u64(ctx, "room", r.below(12)) % 40;
            put(rec, "DeviceId", stable_guid(ctx, "teams-device", n));
            put(
                rec,
                "DeviceName",
                format!("MTR-{}-{n:02}", ctx.user.country.code),
            );
            put(rec, "DeviceType", "TeamsRoom");
            put(
                rec,
                "ObjectId",
                format!("MTR-{}-{n:02}", ctx.user.country.code),
            );
        }
        60 => {
            put(
                rec,
                "ItemName",
                *r.pick(&["Teams usage", "Teams user activity", "PSTN usage"]),
            );
        }
        462 => {
            put(rec, "SubmissionId", r.guid());
            let reason = *r.pick(&["Spam", "Harassment", "Inappropriate content"]);
            put(
                rec,
                "ReportMetadata",
                json!({ "ReportedMessageId": ctx.time.timestamp_millis().to_string(), "ReportReason": reason }),
            );
            if let Some(g) = team {
                team_fields(ctx, rec, g);
            }
        }
        _ => {
            let Some(g) = team else {
                finish(ctx, r, rec, true);
                return;
            };
            team_fields(ctx, rec, g);
            if op == "TeamsSessionStarted" {
                rec.remove("TeamGuid");
                rec.remove("TeamName");
                rec.remove("AadGroupId");
                let os = if ctx.user_agent.contains("Mac OS X") {
                    "macos"
                } else if ctx.user_agent.contains("iPhone") {
                    "ios"
                } else {
                    "windows"
                };
                let ext = vec![
                    json!({ "Key": "OsName", "Value": os }),
                    json!({ "Key": "ClientName", "Value": "skypeteams" }),
                    json!({ "Key": "ClientVersion", "Value": "24295.605.3225.8804" }),
                    json!({ "Key": "Country", "Value": ctx.user.country.code.to_ascii_lowercase() }),
                    json!({ "Key": "TimeZone", "Value": format!("UTC{:+}", ctx.user.country.utc_offset_minutes / 60) }),
                ];
                put(rec, "ExtraProperties", ext);
                put(rec, "ObjectId", "Unknown (Unknown)");
            } else if op.starts_with("Message") || op.starts_with("Chat") {
                let kind = *r.pick(&["Team", "Team", "GroupChat", "OneOnOne"]);
                put(rec, "CommunicationType", kind);
                put(
                    rec,
                    "MessageId",
                    (ctx.time.timestamp_millis() + r.range(0, 999)).to_string(),
                );
                put(rec, "MessageSizeInBytes", 200 + r.below(6_000));
                if kind == "Team" {
                    let (cid, cname, ctype) = channel(ctx, r, g);
                    put(rec, "ChannelGuid", cid);
                    put(rec, "ChannelName", cname);
                    put(rec, "ChannelType", ctype);
                } else {
                    rec.remove("TeamGuid");
                    rec.remove("TeamName");
                    rec.remove("AadGroupId");
                    let thread = if kind == "OneOnOne" {
                        let other = other_user(ctx, r, has_mailbox);
                        format!(
                            "19:{}_{}@unq.gbl.spaces",
                            ctx.user.object_id, other.object_id
                        )
                    } else {
                        format!("19:{}@thread.v2", hex_lower(r, 32))
                    };
                    put(rec, "ChatThreadId", thread);
                }
                if op.contains("Link") || r.chance(0.05) {
                    put(
                        rec,
                        "MessageURLs",
                        vec![Value::from(format!(
                            "https://{}.sharepoint.com/sites/{}",
                            ctx.tenant.stem,
                            r.pick(FILE_WORDS)
                        ))],
                    );
                }
            } else if op.starts_with("Member") {
                let n = 1 + r.below(3);
                let members: Vec<Value> = (0..n)
                    .map(|_| {
                        let idx = pick_opt(r, &g.members).copied().unwrap_or(ctx.user.index);
                        let u = ctx.tenant.users.get(idx).unwrap_or(ctx.user);
                        member(u, op == "MemberRoleChanged" || g.owners.contains(&idx))
                    })
                    .collect();
                put(rec, "Members", members);
                put(rec, "CommunicationType", "Team");
                put(rec, "ItemName", g.display_name.as_str());
            } else if op.starts_with("Channel") {
                let (cid, cname, ctype) = channel(ctx, r, g);
                put(rec, "ChannelGuid", cid);
                put(rec, "ChannelName", cname);
                put(rec, "ChannelType", ctype);
            } else if op.starts_with("Bot")
                || op.starts_with("App")
                || op.starts_with("Tab")
                || op.starts_with("Connector")
            {
                static ADDONS: &[(&str, i64)] = &[
                    ("Planner", 3),
                    ("Polly", 1),
                    ("Wiki", 3),
                    ("Incoming Webhook", 2),
                    ("Jira Cloud", 1),
                    ("Forms", 3),
                ];
                let &(name, mut kind) = r.pick(ADDONS);
                if op.starts_with("Bot") {
                    kind = 1;
                } else if op.starts_with("Tab") {
                    kind = 3;
                } else if op.starts_with("Connector") {
                    kind = 2;
                }
                put(rec, "AddOnName", name);
                put(rec, "AddOnType", kind);
                put(rec, "AddOnGuid", stable_guid(ctx, name, 0));
                if kind == 3 {
                    put(rec, "TabType", name);
                }
            } else if op.ends_with("SettingChanged") {
                let &(name, old, new) = r.pick(&[
                    ("Team access type", "Private", "Public"),
                    ("Allow members to create channels", "True", "False"),
                    ("Team description", "", "Project workspace"),
                ]);
                put(rec, "Name", name);
                put(rec, "OldValue", old);
                put(rec, "NewValue", new);
            } else if op.starts_with("Meeting") {
                let start = ctx.time - Duration::minutes(r.range(5, 60));
                put(rec, "MeetingDetailId", r.guid());
                put(
                    rec,
                    "Attendees",
                    vec![json!({
                        "UserObjectId": ctx.user.object_id,
                        "DisplayName": ctx.user.display_name,
                        "UPN": ctx.user.upn,
                        "RecipientType": "User",
                        "OrganizationId": ctx.tenant.tenant_id,
                    })],
                );
                put(rec, "JoinTime", iso_z(start));
                put(rec, "LeaveTime", iso_z(ctx.time));
                put(rec, "DeviceInformation", ctx.user_agent);
                rec.remove("TeamGuid");
                rec.remove("TeamName");
                rec.remove("AadGroupId");
            } else if op == "TeamCreated" || op == "TeamDeleted" {
                let owners: Vec<Value> = g
                    .owners
                    .iter()
                    .filter_map(|&i| ctx.tenant.users.get(i))
                    .map(|u| member(u, true))
                    .collect();
                put(rec, "Members", owners);
            } else if op.starts_with("Shift")
                || op.starts_with("Clocked")
                || op.starts_with("Schedule")
            {
                put(rec, "ItemId", r.guid());
            }
        }
    }
    finish(ctx, r, rec, true);
}

/// Report names a workspace holds.
fn report_name(r: &mut Rng) -> String {
    format!(
        "{} {}",
        r.pick(FILE_WORDS),
        r.pick(&["Dashboard", "Report", "Overview", "KPIs", "Analysis"])
    )
}

/// RecordType 20 (and Fabric 357): Power BI activity.
pub(super) fn power_bi(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let op = ctx.operation;
    let team = pick_team(ctx, r);
    let (ws_name, ws_id) = match team {
        Some(g) if r.chance(0.8) => (
            g.display_name.clone(),
            stable_guid(ctx, "pbi-ws", hash_str(&g.object_id)),
        ),
        _ => (
            "My workspace".to_owned(),
            stable_guid(ctx, "pbi-my", ctx.user.index as u64),
        ),
    };
    let report = report_name(r);
    let dataset = report.split(' ').next().unwrap_or("Sales").to_owned();
    let report_id = stable_guid(ctx, &report, hash_str(&ws_id));
    let dataset_id = stable_guid(ctx, &dataset, hash_str(&ws_id));
    put(rec, "Activity", op);
    put(rec, "UserAgent", ctx.user_agent);
    put(rec, "RequestId", r.guid());
    put(rec, "ActivityId", r.guid());
    put(rec, "WorkSpaceName", ws_name.as_str());
    put(rec, "WorkspaceId", ws_id.as_str());
    put(rec, "IsSuccess", true);
    let fabric = op.ends_with("Artifact") || ctx.info.value == 357;
    if fabric {
        let &(experience, kind) = r.pick(&[
            ("Lakehouse", "Lakehouse"),
            ("Data Engineering", "Notebook"),
            ("Data Warehouse", "Warehouse"),
            ("Data Factory", "DataPipeline"),
        ]);
        let name = format!(
            "{}_{}",
            r.pick(FILE_WORDS).to_lowercase(),
            kind.to_lowercase()
        );
        put(rec, "Experience", experience);
        put(rec, "ObjectType", kind);
        put(rec, "ObjectDisplayName", name.as_str());
        put(rec, "ObjectId", stable_guid(ctx, &name, hash_str(&ws_id)));
        put(rec, "ItemName", name);
        put(rec, "OperationId", r.guid());
        put(
            rec,
            "Timestamp",
            creation_time(ctx.time - Duration::seconds(r.range(5, 90))),
        );
        // Fabric writes long-running operations as InProgress (contract §3.8 example O).
        if op == "CreateArtifact" && r.chance(0.5) {
            put(rec, "ResultStatus", "InProgress");
        }
        let props = if r.chance(0.6) {
            json!([{ "Name": "SystemArtifactType", "Value": "None" }])
        } else {
            json!([])
        };
        put(rec, "OperationProperties", stringify(&props));
    } else {
        let dashboard = op.contains("Dashboard");
        let kind = if dashboard {
            "Dashboard"
        } else if op.contains("Dataset") {
            "Dataset"
        } else {
            "Report"
        };
        put(rec, "ItemName", report.as_str());
        put(rec, "ObjectType", kind);
        put(rec, "ObjectDisplayName", report.as_str());
        put(rec, "ObjectId", report.as_str());
        put(rec, "DatasetName", dataset.as_str());
        put(rec, "DatasetId", dataset_id);
        if dashboard {
            put(rec, "DashboardName", report.as_str());
            put(rec, "DashboardId", report_id);
        } else {
            put(rec, "ReportName", report.as_str());
            put(rec, "ReportId", report_id);
            put(rec, "ReportType", "PowerBIReport");
        }
        put(
            rec,
            "DistributionMethod",
            if ws_name == "My workspace" {
                "Shared"
            } else {
                "Workspace"
            },
        );
        put(
            rec,
            "ConsumptionMethod",
            if ctx.user_agent.contains("Mobile") {
                "Power BI Mobile"
            } else {
                "Power BI Web"
            },
        );
        put(rec, "DataClassification", "");
        match op {
            "ExportReport" | "ExportTile" | "ExportArtifact" => {
                put(
                    rec,
                    "ExportedArtifactInfo",
                    json!({ "ExportType": *r.pick(&["PDF", "PowerPoint", "CSV", "Excel"]), "ArtifactType": kind, "ArtifactId": 1 + r.below(9_000) }),
                );
            }
            "ShareReport" | "ShareDashboard" => {
                let who = other_user(ctx, r, |_| true);
                put(
                    rec,
                    "SharingInformation",
                    vec![
                        json!({ "RecipientEmail": who.mail, "RecipientName": who.display_name, "ResharePermission": "Read" }),
                    ],
                );
                put(rec, "SharingAction", "Direct");
            }
            "AddGroupMembers" | "DeleteGroupMembers" => {
                let who = other_user(ctx, r, |_| true);
                put(
                    rec,
                    "MembershipInformation",
                    vec![json!({ "MemberEmail": who.mail, "Status": "Member" })],
                );
            }
            _ => {}
        }
        // OperationProperties is a JSON-encoded string in Power BI records (contract §3.8, R1).
        let props = json!([{ "Name": "ConsumptionMethod", "Value": if ctx.user_agent.contains("Mobile") { "Mobile" } else { "Web" } }]);
        put(rec, "OperationProperties", stringify(&props));
    }
    finish(ctx, r, rec, true);
}

/// Dynamics 365 entities: (entity, primary field).
static CRM_ENTITIES: &[(&str, &str)] = &[
    ("contact", "fullname"),
    ("account", "name"),
    ("opportunity", "name"),
    ("lead", "fullname"),
    ("incident", "title"),
];

/// RecordType 21: Dynamics 365.
pub(super) fn crm(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let h = stable_u64(ctx, "crm-org", 0);
    let host = match ctx.user.country.utc_offset_minutes {
        m if m <= -120 => "crm",
        m if m >= 300 => "crm5",
        _ => "crm4",
    };
    let instance = format!("https://{}.{host}.dynamics.com", ctx.tenant.stem);
    let &(entity, primary) = r.pick(CRM_ENTITIES);
    let value = match entity {
        "contact" | "lead" => format!(
            "{} {}",
            r.pick(crate::tenant::names::GIVEN),
            r.pick(crate::tenant::names::FAMILY)
        ),
        "account" => format!(
            "{} {}",
            r.pick(FILE_WORDS),
            r.pick(&["Ltd", "Inc", "GmbH", "Partners"])
        ),
        "incident" => format!("{} issue #{}", r.pick(FILE_WORDS), 1_000 + r.below(9_000)),
        _ => format!("{} deal {}", r.pick(FILE_WORDS), 2024 + r.below(3)),
    };
    let op = ctx.operation;
    let message = match op {
        "Create" | "Retrieve" | "RetrieveMultiple" | "Update" | "Delete" | "ExportToExcel"
        | "Assign" | "Associate" => op,
        _ if op.contains("Export") => "ExportToExcel",
        _ if op.contains("Multiple") => "RetrieveMultiple",
        _ => "Retrieve",
    };
    put(
        rec,
        "CrmOrganizationUniqueName",
        format!("org{:08x}", h & 0xffff_ffff),
    );
    put(rec, "InstanceUrl", instance.as_str());
    put(rec, "ItemType", entity);
    put(rec, "EntityName", entity);
    put(rec, "Message", message);
    put(rec, "UserAgent", ctx.user_agent);
    put(rec, "CorrelationId", r.guid());
    put(rec, "UserUpn", ctx.user.upn.as_str());
    put(
        rec,
        "SystemUserId",
        stable_guid(ctx, "crm-user", ctx.user.index as u64),
    );
    if matches!(message, "RetrieveMultiple" | "ExportToExcel") {
        put(
            rec,
            "Query",
            format!(
                "<fetch version=\"1.0\" mapping=\"logical\"><entity name=\"{entity}\"><attribute name=\"{primary}\" /><filter><condition attribute=\"statecode\" operator=\"eq\" value=\"0\" /></filter></entity></fetch>"
            ),
        );
        put(
            rec,
            "ItemUrl",
            format!("{instance}/main.aspx?etn={entity}&pagetype=entitylist"),
        );
        put(rec, "EntityId", "");
    } else {
        let id = r.guid();
        put(
            rec,
            "ItemUrl",
            format!(
                "{instance}/main.aspx?etn={entity}&pagetype=entityrecord&id=%7b{}%7d",
                id.to_ascii_uppercase()
            ),
        );
        put(rec, "EntityId", id.as_str());
        put(rec, "ObjectId", id);
        put(rec, "PrimaryFieldValue", value.as_str());
        if matches!(message, "Create" | "Update") {
            let mut fields = vec![nv(primary, value)];
            if entity == "contact" || entity == "lead" {
                fields.push(nv(
                    "emailaddress1",
                    format!("{}@{}", hex_lower(r, 6), r.pick(PARTNER_DOMAINS)),
                ));
            }
            fields.push(nv("modifiedon", iso_z(ctx.time)));
            put(rec, "Fields", fields);
        }
    }
    finish(ctx, r, rec, true);
}

/// Built-in sensitive information types: (SensitiveType GUID, name).
static SENSITIVE_TYPES: &[(&str, &str)] = &[
    ("50842eb7-edc8-4019-85dd-5a5c1f2bb085", "Credit Card Number"),
    (
        "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
        "U.S. Social Security Number (SSN)",
    ),
    (
        "a2ce32a8-f935-4bb6-8e96-2a5157672e2c",
        "U.S. Bank Account Number",
    ),
    (
        "178ec42a-18b4-47cc-85c7-d62c92fd67f8",
        "U.S. / U.K. Passport Number",
    ),
    (
        "dfeb356f-61cd-459e-bf0f-7c6d28b458c6",
        "U.S. Driver's License Number",
    ),
    (
        "e55e2a32-f92d-4985-a35d-a0b269eb687b",
        "U.S. Individual Taxpayer Identification Number (ITIN)",
    ),
    ("cb353f78-2b72-4c3c-8827-92ebe4f69fdf", "ABA Routing Number"),
];

/// The tenant's DLP policies: (policy, rule, sensitive types (indexes), severity, mode).
static DLP_POLICIES: &[(&str, &str, &[usize], &str, &str)] = &[
    (
        "Financial data protection",
        "Financial account numbers detected",
        &[0, 2, 6],
        "Medium",
        "Enforce",
    ),
    (
        "PII - external sharing",
        "Many identity numbers",
        &[1, 3, 4, 5],
        "High",
        "Enforce",
    ),
    (
        "PII - audit",
        "Any identity number",
        &[1, 4],
        "Low",
        "AuditAndNotify",
    ),
];

/// A sample of what a detection looked like (never real data).
fn detected_value(r: &mut Rng, sit: usize) -> String {
    match sit {
        0 => format!("4{:03}********{:04}", r.below(1000), r.below(10_000)),
        1 | 5 => format!(
            "9{:02}-7{}-{:04}",
            r.below(100),
            r.below(10),
            r.below(10_000)
        ),
        _ => format!("{:09}", r.below(1_000_000_000)),
    }
}

/// RecordTypes 11, 13, 33, 63, 99, 100, 107: DLP rule matches.
pub(super) fn dlp(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    put(rec, "UserKey", "DlpAgent");
    put(rec, "UserType", 4);
    put(rec, "IncidentId", r.guid());
    let detections = r.chance(0.3);
    put(rec, "SensitiveInfoDetectionIsIncluded", detections);
    let op = ctx.operation;
    let exchange = ctx.info.workload == "Exchange" || matches!(ctx.info.value, 13 | 107);
    let endpoint = ctx.info.value == 63;
    if exchange {
        let to = other_user(ctx, r, has_mailbox);
        let mut recipients = vec![Value::from(to.mail.as_str())];
        if r.chance(0.3) {
            recipients.push(Value::from(format!(
                "{}@{}",
                hex_lower(r, 6),
                r.pick(PARTNER_DOMAINS)
            )));
        }
        let count = recipients.len();
        let msg_id = internet_message_id(ctx, r);
        put(rec, "ObjectId", msg_id.as_str());
        put(
            rec,
            "ExchangeMetaData",
            json!({
                "MessageID": msg_id,
                "From": ctx.user.mail,
                "To": recipients,
                "CC": [],
                "BCC": [],
                "Subject": subject(r),
                "Sent": iso_z(ctx.time - Duration::seconds(r.range(1, 30))),
                "RecipientCount": count,
                "UniqueID": r.guid(),
            }),
        );
    } else if endpoint {
        let file = format!(
            "{} {}.{}",
            r.pick(FILE_WORDS),
            r.pick(FILE_WORDS),
            r.pick(&["docx", "xlsx", "pdf", "csv"])
        );
        let ext = file.rsplit('.').next().unwrap_or("docx").to_owned();
        let path = format!("C:\\Users\\{}\\Documents\\{file}", alias(&ctx.user.upn));
        put(rec, "ObjectId", path);
        put(
            rec,
            "DeviceName",
            format!(
                "{}-{}.{}",
                ctx.tenant.stem.to_ascii_uppercase(),
                ctx.user.puid.get(11..16).unwrap_or("00000"),
                ctx.tenant.domain
            ),
        );
        put(rec, "Platform", 1);
        put(rec, "FileExtension", ext);
        put(rec, "FileSize", 10_000 + r.below(5_000_000));
        put(rec, "Sha1", hex_lower(r, 40));
        put(rec, "Sha256", hex_lower(r, 64));
        put(rec, "SourceLocationType", 1);
        put(rec, "RMSEncrypted", false);
        put(rec, "EnforcementMode", if r.chance(0.7) { 1 } else { 3 });
        match op {
            "FileCopiedToRemovableMedia" => {
                put(rec, "Application", "explorer.exe");
                put(rec, "TargetFilePath", format!("E:\\{file}"));
                put(
                    rec,
                    "RemovableMediaDeviceAttributes",
                    json!({ "Manufacturer": "SanDisk", "Model": "Ultra USB 3.0", "SerialNumber": r.hex_upper(20) }),
                );
            }
            "FileUploadedToCloud" => {
                put(rec, "Application", "msedge.exe");
                put(
                    rec,
                    "TargetDomain",
                    *r.pick(&["drive.google.com", "www.dropbox.com", "wetransfer.com"]),
                );
            }
            "FilePrinted" => {
                put(rec, "Application", "WINWORD.EXE");
                put(
                    rec,
                    "TargetPrinterName",
                    format!("{}-PRN-{:02}", ctx.user.country.code, 1 + r.below(20)),
                );
            }
            _ => put(rec, "Application", "WINWORD.EXE"),
        }
    } else if let Some(f) = pick_file(ctx, r) {
        if matches!(ctx.info.value, 11 | 33) {
            put(
                rec,
                "Workload",
                if is_personal(f.site) {
                    "OneDrive"
                } else {
                    "SharePoint"
                },
            );
        }
        let owner = f
            .site
            .owner
            .and_then(|i| ctx.tenant.users.get(i))
            .unwrap_or(ctx.user);
        let url = f.url();
        put(rec, "ObjectId", url.as_str());
        put(
            rec,
            "SharePointMetaData",
            json!({
                "From": ctx.user.upn,
                "itemCreationTime": iso_z(ctx.time - Duration::days(1 + r.range(0, 400))),
                "SiteCollectionGuid": f.site.site_id,
                "SiteCollectionUrl": f.site.url,
                "FileName": f.name,
                "FileOwner": owner.upn,
                "FilePathUrl": url,
                "DocumentLastModifier": ctx.user.upn,
                "DocumentSharer": ctx.user.upn,
                "UniqueId": f.unique_id(ctx.tenant),
                "LastModifiedTime": iso_z(ctx.time - Duration::seconds(r.range(5, 600))),
                "IsViewableByExternalUsers": r.chance(0.2),
                "IsVisibleOnlyToOdbOwner": false,
                "SensitivityLabelIds": [],
            }),
        );
    }

    let &(policy, rule, sits, severity, mode) = r.pick(DLP_POLICIES);
    let policy_no = DLP_POLICIES.iter().position(|p| p.0 == policy).unwrap_or(0) as u64;
    let n_types = 1 + r.below(sits.len().min(2) as u64) as usize;
    let start = r.below(sits.len() as u64) as usize;
    let infos: Vec<Value> = (0..n_types)
        .filter_map(|i| sits.get((start + i) % sits.len()).copied())
        .filter_map(|s| SENSITIVE_TYPES.get(s).map(|t| (s, t)))
        .map(|(s, &(guid, name))| {
            let count = 1 + r.poisson(4.0);
            let confidence = *r.pick(&[75_i64, 85, 85]);
            let mut m = Map::new();
            put(&mut m, "Confidence", confidence);
            put(&mut m, "Count", count);
            put(&mut m, "Location", "");
            put(&mut m, "SensitiveType", guid);
            put(&mut m, "SensitiveInformationTypeName", name);
            put(
                &mut m,
                "UniqueCount",
                count.saturating_sub(r.below(2)).max(1),
            );
            put(&mut m, "ClassifierType", "Content");
            put(
                &mut m,
                "SensitiveInformationDetailedClassificationAttributes",
                vec![json!({ "Confidence": confidence, "Count": count, "IsMatch": true })],
            );
            if detections {
                let values: Vec<Value> = (0..count.min(3))
                    .map(|_| json!({ "Name": detected_value(r, s), "Value": "… account number …" }))
                    .collect();
                put(
                    &mut m,
                    "SensitiveInformationDetections",
                    json!({ "DetectedValues": values, "ResultsTruncated": count > 3 }),
                );
            }
            Value::Object(m)
        })
        .collect();
    let actions: Vec<Value> = match mode {
        "Enforce" => vec![
            "NotifyUser".into(),
            if exchange {
                "BlockAccess".into()
            } else {
                "RestrictAccess".into()
            },
        ],
        _ => vec!["NotifyUser".into()],
    };
    let rule_obj = json!({
        "RuleId": stable_guid(ctx, "dlp-rule", policy_no),
        "RuleName": rule,
        "Actions": actions,
        "OverriddenActions": [],
        "Severity": severity,
        "RuleMode": mode,
        "ConditionsMatched": { "SensitiveInformation": infos, "DocumentProperties": [], "OtherConditions": [] },
        "ManagementRuleId": stable_guid(ctx, "dlp-mrule", policy_no),
    });
    put(
        rec,
        "PolicyDetails",
        vec![
            json!({ "PolicyId": stable_guid(ctx, "dlp-policy", policy_no), "PolicyName": policy, "Rules": [rule_obj] }),
        ],
    );
    if op == "DlpRuleUndo" || op == "DlpInfo" {
        let false_positive = op == "DlpInfo" || r.chance(0.3);
        put(
            rec,
            "ExceptionInfo",
            json!({
                "Reason": if false_positive { "FalsePositive" } else { "Override" },
                "FalsePositive": false_positive,
                "Justification": if false_positive { "" } else { "Business justification" },
                "Rules": [stable_guid(ctx, "dlp-rule", policy_no)],
            }),
        );
    }
    finish(ctx, r, rec, true);
}

/// Alert policies: (name, category, severity, op, workload, description).
static ALERTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "Elevation of Exchange admin privilege",
        "AccessGovernance",
        "Low",
        "GrantAdminPermission",
        "Exchange",
        "Someone was granted Exchange admin permissions",
    ),
    (
        "Creation of forwarding/redirect rule",
        "ThreatManagement",
        "Informational",
        "New-InboxRule",
        "Exchange",
        "A user created a mail forwarding or redirect rule",
    ),
    (
        "Suspicious email sending patterns detected",
        "ThreatManagement",
        "Medium",
        "MailSent",
        "Exchange",
        "Unusual sending volume from a mailbox",
    ),
    (
        "Email messages containing malicious URL removed after delivery",
        "ThreatManagement",
        "Informational",
        "ZapPhish",
        "Exchange",
        "Messages were removed after delivery",
    ),
    (
        "A potentially malicious URL click was detected",
        "ThreatManagement",
        "High",
        "TIUrlClickData",
        "ThreatIntelligence",
        "A user clicked a link later found malicious",
    ),
    (
        "eDiscovery search started or exported",
        "ThreatManagement",
        "Medium",
        "SearchExported",
        "SecurityComplianceCenter",
        "An eDiscovery search was run",
    ),
    (
        "DLP policy match",
        "DataLossPrevention",
        "Medium",
        "DlpRuleMatch",
        "SharePoint",
        "Content matched a DLP policy",
    ),
    (
        "Messages have been delayed",
        "MailFlow",
        "High",
        "MailFlowDelay",
        "Exchange",
        "Mail is queued",
    ),
];

/// Defender for Cloud Apps alerts (RecordType 98 and Source "Cloud App Security").
static MCAS_ALERTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "Impossible travel activity",
        "ThreatManagement",
        "Medium",
        "UserLoggedIn",
        "AzureActiveDirectory",
        "Sign-ins from distant places in a short time",
    ),
    (
        "Activity from infrequent country",
        "ThreatManagement",
        "Low",
        "UserLoggedIn",
        "AzureActiveDirectory",
        "Activity from a country not seen recently",
    ),
    (
        "Mass download by a single user",
        "ThreatManagement",
        "Medium",
        "FileDownloaded",
        "SharePoint",
        "Unusual number of downloads",
    ),
    (
        "Suspicious inbox manipulation rule",
        "ThreatManagement",
        "Medium",
        "New-InboxRule",
        "Exchange",
        "An inbox rule that hides or forwards mail",
    ),
];

/// Defender for Endpoint alerts (RecordType 78).
static WDATP_ALERTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "Suspicious PowerShell command line",
        "Execution",
        "Medium",
        "AlertTriggered",
        "MicrosoftDefenderForEndpoint",
        "A suspicious PowerShell command line was run",
    ),
    (
        "Malware was detected",
        "Malware",
        "Low",
        "AlertTriggered",
        "MicrosoftDefenderForEndpoint",
        "Malware was detected and remediated",
    ),
];

/// RecordType 40 (and 78, 98): alerts.
pub(super) fn compliance_alert(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let (table, source) = match ctx.info.value {
        98 => (MCAS_ALERTS, "Cloud App Security"),
        78 => (WDATP_ALERTS, "Microsoft Defender for Endpoint"),
        _ if r.chance(0.1) => (MCAS_ALERTS, "Cloud App Security"),
        _ => (ALERTS, "Office 365 Security & Compliance"),
    };
    let i = r.below(table.len() as u64) as usize;
    let Some(&(name, category, severity, alert_op, wl, desc)) = table.get(i) else {
        finish(ctx, r, rec, true);
        return;
    };
    let subject_user = ctx.user;
    put(rec, "UserId", "SecurityComplianceAlerts");
    put(rec, "UserKey", "SecurityComplianceAlerts");
    put(rec, "UserType", 4);
    rec.remove("ClientIP");
    let alert_id = r.guid();
    let op = ctx.operation;
    let status = match op {
        "AlertUpdated" => *r.pick(&["Investigating", "Resolved", "Dismissed"]),
        _ => "Active",
    };
    put(rec, "AlertId", alert_id.as_str());
    put(
        rec,
        "AlertType",
        if r.chance(0.8) { "System" } else { "Custom" },
    );
    put(rec, "Name", name);
    put(rec, "PolicyId", stable_guid(ctx, name, 0));
    put(rec, "Status", status);
    put(rec, "Severity", severity);
    put(rec, "Category", category);
    put(rec, "Source", source);
    put(
        rec,
        "Comments",
        if op == "AlertUpdated" {
            "Reviewed"
        } else {
            "New alert"
        },
    );
    put(
        rec,
        "AlertLinks",
        vec![
            json!({ "AlertLinkHref": format!("https://security.microsoft.com/alerts/{alert_id}") }),
        ],
    );
    let minute = i64::from(chrono::Timelike::minute(&ctx.time));
    let te = ctx.time
        - Duration::minutes(minute % 15)
        - Duration::seconds(i64::from(chrono::Timelike::second(&ctx.time)));
    let ts = te - Duration::minutes(15);
    let ut = if subject_user.is_admin() {
        "Admin"
    } else {
        "Regular"
    };
    let data = if op == "AlertEntityGenerated" {
        put(rec, "ObjectId", subject_user.upn.as_str());
        put(rec, "AlertEntityId", subject_user.upn.as_str());
        put(rec, "EntityType", "User");
        json!({
            "etype": "User", "eid": subject_user.upn, "tid": ctx.tenant.tenant_id,
            "ts": iso_7z(ts), "te": iso_7z(te), "op": alert_op, "tdc": "1",
            "suid": subject_user.upn, "ut": ut, "lon": alert_op,
        })
    } else {
        put(rec, "ObjectId", alert_id.as_str());
        json!({
            "f3u": subject_user.upn, "ts": iso_7z(ts), "te": iso_7z(te), "op": alert_op, "wl": wl,
            "tid": ctx.tenant.tenant_id, "tdc": "1", "reid": r.guid(), "rid": r.guid(),
            "cid": stable_guid(ctx, name, 0), "ad": desc, "lon": alert_op, "an": name, "sev": severity,
        })
    };
    // Data is a JSON document carried as a string (contract §3.11).
    put(rec, "Data", stringify(&data));
    finish(ctx, r, rec, true);
}

/// A Forms id: long base64url text.
fn form_id(owner: &User, n: u64) -> String {
    let id = super::messy::stable_ews_id(
        &[hash_str(&owner.object_id), n],
        "v4j5cvGGr0GRqy180BHbR",
        67,
    );
    id.replace('+', "-").replace('/', "_")
}

/// RecordType 66: Microsoft Forms.
pub(super) fn forms(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let op = ctx.operation;
    let responder = matches!(
        op,
        "ViewRuntimeForm" | "CreateResponse" | "SubmitResponse" | "UpdateResponse"
    );
    let owner = if responder {
        other_user(ctx, r, has_mailbox)
    } else {
        ctx.user
    };
    let n = r.below(6);
    let id = form_id(owner, n);
    let word = FILE_WORDS
        .get((stable_u64(ctx, "form", hash_str(&id)) % FILE_WORDS.len() as u64) as usize)
        .copied()
        .unwrap_or("Team");
    let (kind, label) = match n % 3 {
        0 => (0, "feedback"),
        1 => (1, "quiz"),
        _ => (2, "survey"),
    };
    put(
        rec,
        "FormsUserTypes",
        vec![Value::from(if responder {
            2
        } else if owner.index == ctx.user.index {
            1
        } else {
            3
        })],
    );
    put(rec, "SourceApp", "Microsoft Forms");
    put(rec, "FormName", format!("{word} {label}"));
    put(rec, "FormId", id.as_str());
    put(rec, "FormTypes", vec![Value::from(kind)]);
    let page = if responder {
        "ResponsePage.aspx"
    } else {
        "DesignPageV2.aspx"
    };
    put(
        rec,
        "ObjectId",
        format!("https://forms.office.com/Pages/{page}?id={id}"),
    );
    let mut params = Map::new();
    if responder {
        put(&mut params, "ResponseId", 1 + r.below(500));
    }
    put(&mut params, "FormsVersion", "v2");
    put(rec, "ActivityParameters", stringify(&Value::Object(params)));
    finish(ctx, r, rec, true);
}

/// RecordType 32: Microsoft Stream (classic).
pub(super) fn stream(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let n = r.below(40);
    let video = stable_guid(ctx, "stream-video", n);
    let title = format!(
        "{} {}",
        FILE_WORDS
            .get((n as usize) % FILE_WORDS.len())
            .copied()
            .unwrap_or("Team"),
        ["all-hands recording", "training", "demo", "town hall"][(n % 4) as usize]
    );
    let url = format!("https://web.microsoftstream.com/video/{video}");
    put(rec, "ResourceTitle", title);
    put(rec, "ResourceURL", url.as_str());
    put(rec, "ObjectId", url);
    put(rec, "UserAgent", ctx.user_agent);
    finish(ctx, r, rec, true);
}

/// RecordType 22 (and the other Viva Engage types): Yammer.
pub(super) fn yammer(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let network = 5_000_000_000 + stable_u64(ctx, "yammer-net", 0) % 1_000_000_000;
    let actor_id =
        30_000_000_000 + stable_u64(ctx, "yammer-user", ctx.user.index as u64) % 9_000_000_000;
    put(rec, "ActorUserId", ctx.user.upn.as_str());
    put(rec, "ActorYammerUserId", actor_id);
    put(rec, "YammerNetworkId", network);
    put(rec, "UserKey", ctx.user.puid.to_ascii_lowercase());
    put(rec, "ResultStatus", "TRUE");
    if r.chance(0.7) {
        // Yammer writes ClientIP with a port (contract §3.12; R3).
        put(rec, "ClientIP", ip_with_port(r, ctx.ip));
    }
    let group =
        pick_team(ctx, r).map_or_else(|| "All Company".to_owned(), |g| g.display_name.clone());
    let op = ctx.operation;
    if op.starts_with("File") {
        let file = format!(
            "{} {}.{}",
            r.pick(FILE_WORDS),
            r.pick(FILE_WORDS),
            r.pick(&["pdf", "docx", "png", "pptx"])
        );
        put(rec, "FileId", 1_000_000_000 + r.below(9_000_000_000));
        put(rec, "FileName", file.as_str());
        put(rec, "ObjectId", file);
        put(rec, "GroupName", group);
    } else if op.starts_with("Message") || op.starts_with("Thread") {
        let thread = 1_000_000_000_000 + r.below(900_000_000_000);
        put(rec, "MessageId", thread + r.below(1_000));
        put(rec, "ThreadId", thread);
        put(rec, "GroupName", group.as_str());
        put(rec, "ObjectId", group);
    } else if op.contains("Export") {
        put(
            rec,
            "DataExportType",
            *r.pick(&["Messages", "Files", "Users"]),
        );
    } else if op.contains("User") || op.contains("Profile") {
        let target = other_user(ctx, r, |_| true);
        put(rec, "TargetUserId", target.upn.as_str());
        put(
            rec,
            "TargetYammerUserId",
            30_000_000_000 + stable_u64(ctx, "yammer-user", target.index as u64) % 9_000_000_000,
        );
    } else {
        put(rec, "GroupName", group.as_str());
        put(rec, "ObjectId", group);
    }
    finish(ctx, r, rec, true);
}

/// Domains external mail comes from.
static SENDER_DOMAINS: &[&str] = &[
    "billing-notice.example",
    "secure-docshare.example",
    "newsletter.shopdeals.example",
    "fabrikam-partners.com",
    "adventure-works.com",
    "mail.promo-offers.example",
];

/// A public address for an external mail server.
fn sender_ip(r: &mut Rng) -> String {
    let first = *r.pick(&[40_u8, 52, 104, 185, 192, 203, 209]);
    format!(
        "{first}.{}.{}.{}",
        r.below(256),
        r.below(256),
        1 + r.below(254)
    )
}

/// RecordTypes 28, 29, 34, 41, 47, 62, 64, 86, 89, 90, 381: Defender for Office 365.
pub(super) fn threat_intelligence(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let nmid = r.guid();
    let domain = *r.pick(SENDER_DOMAINS);
    let sender = format!(
        "{}@{domain}",
        *r.pick(&["noreply", "billing", "info", "support", "docs"])
    );
    let link = format!("https://security.microsoft.com/?hash=/threatexplorer?messageParams={nmid}");
    match ctx.info.value {
        41 => {
            // URL clicks are the user's own.
            let url = format!("https://{domain}/{}", hex_lower(r, 12));
            put(
                rec,
                "AppName",
                *r.pick(&["Outlook", "Email client", "Teams", "Word"]),
            );
            put(rec, "Url", url.as_str());
            put(rec, "ObjectId", url);
            put(rec, "UserIp", ip_string(ctx.ip));
            put(rec, "TimeOfClick", iso_z(ctx.time));
            put(
                rec,
                "UrlClickAction",
                *r.pick(&[
                    "Allowed",
                    "Allowed",
                    "Blocked",
                    "PendingDetonation",
                    "BlockPageOverride",
                ]),
            );
            put(rec, "SourceId", nmid.as_str());
            put(rec, "EventDeepLink", link);
        }
        64 | 86 | 89 => {
            let id = r.guid();
            let subj = subject(r);
            put(rec, "InvestigationId", id.as_str());
            put(
                rec,
                "InvestigationName",
                format!("Email reported by user as malware or phish - '{subj}'"),
            );
            put(
                rec,
                "InvestigationType",
                if ctx.info.value == 64 {
                    "AutomatedInvestigation"
                } else {
                    "ManualInvestigation"
                },
            );
            put(
                rec,
                "Status",
                *r.pick(&[
                    "Running",
                    "Remediated",
                    "No threats found",
                    "Pending approval",
                ]),
            );
            put(
                rec,
                "StartTimeUtc",
                iso_z(ctx.time - Duration::minutes(r.range(5, 120))),
            );
            put(rec, "LastUpdateTimeUtc", iso_z(ctx.time));
            put(
                rec,
                "DeepLinkUrl",
                format!("https://security.microsoft.com/airinvestigation/{id}"),
            );
            // Actions is an array of JSON strings, Data a JSON string (contract §3.12).
            let action = json!({ "ActionType": "SoftDeleteEmail", "ActionStatus": "Pending", "Entities": [{ "NetworkMessageId": nmid, "Recipient": ctx.user.upn }] });
            put(rec, "Actions", vec![Value::from(stringify(&action))]);
            put(
                rec,
                "Data",
                stringify(
                    &json!({ "Version": "3.0", "Vendor": "Microsoft", "ProviderName": "OATP", "Recipient": ctx.user.upn, "Sender": sender }),
                ),
            );
        }
        47 => {
            put(rec, "UserId", "ThreatIntel");
            put(rec, "UserKey", "ThreatIntel");
            put(rec, "UserType", 4);
            rec.remove("ClientIP");
            let (name, path, workload) = match pick_file(ctx, r) {
                Some(f) => (
                    f.name.clone(),
                    f.url(),
                    if is_personal(f.site) {
                        "OneDrive"
                    } else {
                        "SharePoint"
                    },
                ),
                None => ("invoice.docm".to_owned(), String::new(), "SharePoint"),
            };
            put(
                rec,
                "FileData",
                json!({
                    "DocumentId": 1 + r.below(5_000),
                    "FileName": name,
                    "FilePath": path,
                    "FileVerdict": 1,
                    "MalwareFamily": *r.pick(&["Trojan:Win32/Wacatac", "TrojanDownloader:O97M/Donoff", "Exploit:Win32/CVE-2017-11882"]),
                    "SHA256": hex_lower(r, 64),
                    "FileSize": 20_000 + r.below(2_000_000),
                }),
            );
            put(rec, "SourceWorkload", workload);
            put(rec, "DetectionMethod", "ATP Safe Attachments");
            put(rec, "DetectionType", "Inline");
            put(rec, "EventDeepLink", link);
        }
        29 => {
            put(rec, "SubmissionId", r.guid());
            put(rec, "SubmissionType", "Email");
            put(
                rec,
                "SubmissionCategory",
                *r.pick(&["Phish", "Spam", "NotJunk", "Malware"]),
            );
            put(rec, "NetworkMessageId", nmid.as_str());
            put(rec, "Sender", sender.as_str());
            put(rec, "Subject", subject(r));
            put(rec, "ObjectId", nmid);
        }
        _ => {
            // Mail detections (TIMailData, campaigns, MSTIC, filtering metadata) are the system's.
            drop_empty(rec, "ObjectId");
            put(rec, "UserId", "ThreatIntel");
            put(rec, "UserKey", "ThreatIntel");
            put(rec, "UserType", 4);
            rec.remove("ClientIP");
            let &(verdict, method, action, location) = r.pick(&[
                ("Spam", "Spam: [General filter]", "Junked", "JunkFolder"),
                ("Spam", "Spam: [Domain reputation]", "Junked", "JunkFolder"),
                ("Bulk", "Bulk", "Junked", "JunkFolder"),
                (
                    "Phish",
                    "Phish: [URL detonation reputation]",
                    "Blocked",
                    "Quarantine",
                ),
                (
                    "Phish",
                    "Phish: [Impersonation domain]",
                    "Blocked",
                    "Quarantine",
                ),
                (
                    "Malware",
                    "Malware: [File detonation]",
                    "Blocked",
                    "Quarantine",
                ),
            ]);
            put(rec, "NetworkMessageId", nmid.as_str());
            put(
                rec,
                "InternetMessageId",
                format!("<{}@{domain}>", ews_id(r, "", 30).replace(['+', '/'], "x")),
            );
            put(
                rec,
                "P1Sender",
                format!("bounce-{}@{domain}", hex_lower(r, 8)),
            );
            put(rec, "P2Sender", sender.as_str());
            put(rec, "Recipients", vec![Value::from(ctx.user.mail.as_str())]);
            put(rec, "SenderIp", sender_ip(r));
            put(rec, "Subject", subject(r));
            put(rec, "Verdict", verdict);
            put(rec, "DetectionMethod", method);
            put(rec, "ThreatsAndDetectionTech", vec![Value::from(method)]);
            put(
                rec,
                "DetectionType",
                if r.chance(0.9) { "Inline" } else { "Delayed" },
            );
            put(rec, "DeliveryAction", action);
            put(rec, "OriginalDeliveryLocation", location);
            put(rec, "LatestDeliveryLocation", location);
            put(rec, "Directionality", "Inbound");
            put(
                rec,
                "MessageTime",
                iso_z(ctx.time - Duration::seconds(r.range(1, 120))),
            );
            put(
                rec,
                "AuthDetails",
                vec![
                    nv("SPF", *r.pick(&["Pass", "Fail", "SoftFail"])),
                    nv("DKIM", *r.pick(&["Pass", "Fail", "None"])),
                    nv("DMARC", *r.pick(&["Pass", "Fail", "BestGuessPass"])),
                    nv("Comp Auth", *r.pick(&["pass", "fail", "softpass"])),
                ],
            );
            if verdict == "Malware" {
                put(
                    rec,
                    "AttachmentData",
                    vec![json!({
                        "FileName": format!("{}.{}", r.pick(FILE_WORDS), r.pick(&["docm", "xlsm", "zip", "html"])),
                        "FileType": "Document",
                        "FileVerdict": 1,
                        "MalwareFamily": "TrojanDownloader:O97M/Donoff",
                        "SHA256": hex_lower(r, 64),
                    })],
                );
            }
            put(rec, "EventDeepLink", link);
        }
    }
    finish(ctx, r, rec, true);
}

/// RecordType 65: quarantine actions.
pub(super) fn quarantine(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let op = ctx.operation;
    // RequestType: 0 Preview, 1 Delete, 2 Release, 3 Export, 4 ViewHeader, 5 Release request.
    let request_type = match op {
        "QuarantinePreview" => 0,
        "QuarantineDelete" => 1,
        "QuarantineRelease" => 2,
        "QuarantineExport" => 3,
        "QuarantineViewHeader" => 4,
        "QuarantineReleaseRequest" => 5,
        _ => 0,
    };
    // RequestSource: 0 Security & Compliance Center, 1 cmdlet, 2 URL link in a notification.
    let roll = r.f64();
    let source = if roll < 0.7 {
        0
    } else if roll < 0.85 {
        1
    } else {
        2
    };
    let nmid = r.guid();
    put(rec, "RequestType", request_type);
    put(rec, "RequestSource", source);
    put(rec, "NetworkMessageId", nmid.as_str());
    put(rec, "ObjectId", nmid);
    if request_type == 2 {
        let to = if ctx.user.is_admin() {
            other_user(ctx, r, has_mailbox)
        } else {
            ctx.user
        };
        put(rec, "ReleaseTo", to.mail.as_str());
    }
    finish(ctx, r, rec, true);
}

/// Everything else: the workload's most telling fields (contract §3.12 and related schemas).
pub(super) fn generic(ctx: &RecordCtx<'_>, r: &mut Rng, rec: &mut Map<String, Value>) {
    let op = ctx.operation;
    let value = ctx.info.value;
    match ctx.info.workload {
        "MicrosoftFlow" => {
            let flow = stable_guid(ctx, "flow", r.below(30));
            let env = format!("Default-{}", ctx.tenant.tenant_id);
            put(rec, "ObjectId", flow.as_str());
            put(
                rec,
                "FlowConnectorNames",
                *r.pick(&[
                    "Office 365 Outlook, SharePoint",
                    "Microsoft Teams, Approvals",
                    "OneDrive for Business, Office 365 Users",
                    "SharePoint, Microsoft Forms",
                ]),
            );
            put(
                rec,
                "FlowDetailsUrl",
                format!("https://make.powerautomate.com/environments/{env}/flows/{flow}/details"),
            );
            put(rec, "LicenseDisplayName", "Microsoft 365 E5");
            put(rec, "UserUPN", ctx.user.upn.as_str());
            put(rec, "UserTypeInitiated", 1);
            if op.contains("Permissions") {
                let who = other_user(ctx, r, |_| true);
                put(rec, "RecipientUPN", who.upn.as_str());
                put(rec, "SharingPermission", *r.pick(&["Owner", "User"]));
            }
        }
        "PowerApps" => {
            let app = stable_guid(ctx, "powerapp", r.below(20));
            let name = format!(
                "{} {}",
                r.pick(FILE_WORDS),
                r.pick(&["Tracker", "Requests", "Inventory", "Approvals"])
            );
            put(rec, "AppName", app.as_str());
            put(rec, "ObjectId", app);
            put(
                rec,
                "EnvironmentName",
                format!("Default-{}", ctx.tenant.tenant_id),
            );
            put(
                rec,
                "AdditionalInfo",
                stringify(
                    &json!({ "environmentName": format!("Default-{}", ctx.tenant.tenant_id), "appDisplayName": name }),
                ),
            );
        }
        "Planner" => {
            let plan = super::messy::stable_ews_id(&[ctx.tenant.seed, r.below(50)], "", 28)
                .replace(['+', '/'], "x");
            let group = pick_team(ctx, r);
            put(rec, "PlanId", plan.as_str());
            put(rec, "ContainerType", "Group");
            if let Some(g) = group {
                put(rec, "ContainerId", g.object_id.as_str());
            }
            if op.starts_with("Task") {
                let task = ews_id(r, "", 28).replace(['+', '/'], "x");
                put(rec, "TaskId", task.as_str());
                put(rec, "ObjectId", task);
            } else {
                put(rec, "ObjectId", plan);
            }
        }
        "Project" => {
            let id = stable_guid(ctx, "project", r.below(25));
            put(rec, "ProjectId", id.as_str());
            put(rec, "ObjectId", id);
            put(
                rec,
                "ProjectName",
                format!("{} rollout", r.pick(FILE_WORDS)),
            );
            put(
                rec,
                "Entity",
                if op.starts_with("Task") {
                    "Task"
                } else if op.starts_with("Roadmap") {
                    "Roadmap"
                } else {
                    "Project"
                },
            );
        }
        "Copilot" if matches!(value, 261 | 284 | 328 | 334 | 363) => {
            let host = *r.pick(&["Word", "Teams", "Outlook", "Excel", "Bizchat"]);
            let mut accessed = Vec::new();
            if let Some(f) = pick_file(ctx, r) {
                accessed.push(json!({ "Id": f.url(), "Name": f.name, "Type": f.ext(), "SiteUrl": f.site_url(), "Action": "Read" }));
            }
            put(
                rec,
                "CopilotEventData",
                json!({
                    "AppHost": host,
                    "ThreadId": format!("19:{}@thread.v2", hex_lower(r, 32)),
                    "Contexts": accessed.iter().map(|a| json!({ "Id": a["Id"], "Type": a["Type"] })).collect::<Vec<_>>(),
                    "AccessedResources": accessed,
                    "Messages": [{ "Id": ctx.time.timestamp_millis().to_string(), "isPrompt": true }, { "Id": (ctx.time.timestamp_millis() + 1).to_string(), "isPrompt": false }],
                }),
            );
            put(
                rec,
                "AppIdentity",
                format!("Copilot.MicrosoftCopilot.{host}"),
            );
        }
        "Aip" => {
            let app = *r.pick(&[
                (
                    "Microsoft Azure Information Protection Word Add-In",
                    "WINWORD",
                ),
                (
                    "Microsoft Azure Information Protection Excel Add-In",
                    "EXCEL",
                ),
                (
                    "Microsoft Azure Information Protection Explorer Extension",
                    "MSIP.App",
                ),
            ]);
            let device = format!(
                "{}-{}",
                ctx.user.department.to_ascii_lowercase().replace(' ', ""),
                ctx.user
                    .puid
                    .get(12..16)
                    .unwrap_or("0000")
                    .to_ascii_lowercase()
            );
            put(
                rec,
                "Common",
                json!({
                    "ApplicationId": "c00e9d32-3c8d-4a7d-832b-029040e7db99",
                    "ApplicationName": app.0,
                    "ProcessName": app.1,
                    "Platform": 1,
                    "DeviceName": device,
                    "Location": "On-premises file shares",
                    "ProductVersion": "2.14.90.0",
                }),
            );
            put(rec, "UserKey", ctx.user.object_id.as_str());
            put(rec, "Scope", 1);
            if op != "HeartBeat" {
                put(
                    rec,
                    "ObjectId",
                    format!(
                        "C:\\Users\\{}\\Documents\\{} {}.docx",
                        alias(&ctx.user.upn),
                        r.pick(FILE_WORDS),
                        r.pick(FILE_WORDS)
                    ),
                );
                put(rec, "DataState", "Use");
                put(
                    rec,
                    "SensitivityLabelEventData",
                    json!({ "SensitivityLabelId": stable_guid(ctx, "label", r.below(4)) }),
                );
                put(rec, "SensitiveInfoTypeData", json!([]));
            }
        }
        "SharePoint" | "OneDrive" => {
            if let Some(f) = pick_file(ctx, r) {
                put(
                    rec,
                    "Workload",
                    if is_personal(f.site) {
                        "OneDrive"
                    } else {
                        "SharePoint"
                    },
                );
                put(rec, "UserKey", sp_user_key(ctx.user));
                put(rec, "SiteUrl", f.site_url());
                put(rec, "SourceRelativeUrl", f.rel());
                put(rec, "SourceFileName", f.name.as_str());
                put(rec, "SourceFileExtension", f.ext());
                put(rec, "ObjectId", f.url());
                if op.contains("Label") {
                    put(
                        rec,
                        "SensitivityLabelId",
                        stable_guid(ctx, "label", r.below(4)),
                    );
                }
            }
            if op.starts_with("Search") {
                put(rec, "QueryText", r.pick(FILE_WORDS).to_lowercase());
            }
        }
        "Exchange" => {
            if value == 154 {
                let to = format!("{}@{}", hex_lower(r, 6), r.pick(PARTNER_DOMAINS));
                put(rec, "ResultStatus", "Success");
                put(rec, "UserKey", ctx.user.upn.as_str());
                put(
                    rec,
                    "AuthenticationMethod",
                    *r.pick(&["OneTimePasscode", "Google", "Microsoft"]),
                );
                put(rec, "AuthenticationStatus", 0);
                put(rec, "MessageId", internet_message_id(ctx, r));
                put(
                    rec,
                    "OperationProperties",
                    vec![nv("MailSubject", subject(r))],
                );
                put(rec, "OperationStatus", 0);
                put(rec, "Recipient", to);
                put(rec, "Sender", ctx.user.mail.as_str());
            } else if op.starts_with("Search") {
                put(rec, "QueryText", r.pick(FILE_WORDS).to_lowercase());
                put(rec, "QuerySource", "Outlook");
            } else {
                let id = internet_message_id(ctx, r);
                put(rec, "ObjectId", id.as_str());
                put(rec, "ItemName", subject(r));
            }
        }
        "AzureActiveDirectory" if value == 294 => {
            put(rec, "Activity", "signin");
            put(rec, "ActivityDateTime", iso_z(ctx.time));
            put(rec, "DetectedDateTime", iso_z(ctx.time));
            put(rec, "DetectionTimingType", "realtime");
            put(
                rec,
                "RiskEventType",
                *r.pick(&[
                    "unfamiliarFeatures",
                    "anonymizedIPAddress",
                    "unlikelyTravel",
                ]),
            );
            put(rec, "RiskLevel", *r.pick(&["low", "medium"]));
            put(rec, "RiskState", "atRisk");
            put(rec, "RiskDetail", "none");
            put(rec, "RiskId", hex_lower(r, 64));
            put(rec, "Source", "IdentityProtection");
            put(rec, "TokenIssuerType", "AzureAD");
            put(rec, "RequestId", r.guid());
            put(rec, "CorrelationId", r.guid());
            put(rec, "UserDisplayName", ctx.user.display_name.as_str());
            put(
                rec,
                "Location",
                json!({ "City": ctx.user.country.city.0, "CountryOrRegion": ctx.user.country.code, "State": "", "GeoCoordinates": { "Altitude": 0.0, "Latitude": ctx.user.country.city.1, "Longitude": ctx.user.country.city.2 } }),
            );
            put(
                rec,
                "AdditionalInfo",
                stringify(&json!([{ "Key": "userAgent", "Value": ctx.user_agent }])),
            );
        }
        "DataCenterSecurity" => {
            let start = ctx.time - Duration::minutes(r.range(1, 30));
            put(rec, "StartTime", iso_z(start));
            put(rec, "ElevationTime", iso_z(start - Duration::minutes(5)));
            put(rec, "ElevationApprover", "lockbox-approver@microsoft.com");
            put(
                rec,
                "ElevationApprovedTime",
                iso_z(start - Duration::minutes(7)),
            );
            put(rec, "ElevationRequestId", r.guid());
            put(rec, "ElevationRole", "MailboxSupportEngineer");
            put(rec, "ElevationDuration", 240);
            put(rec, "GenericInfo", "");
            put(
                rec,
                "ObjectId",
                other_user(ctx, r, has_mailbox).upn.as_str(),
            );
        }
        _ if op.contains('-')
            && op.chars().next().is_some_and(char::is_uppercase)
            && !op.contains(' ') =>
        {
            // PowerShell cmdlets (Skype for Business, audit configuration, role groups): the
            // same Parameters Name/Value shape as Exchange admin records.
            let (params, object_id) = super::exchange::cmdlet_parameters(ctx, r, op);
            put(rec, "Parameters", params);
            put(rec, "ObjectId", object_id);
            put(rec, "ResultStatus", "True");
        }
        _ => {
            // Anything else: what was acted on.
            let name = format!(
                "{} {}",
                r.pick(FILE_WORDS),
                r.pick(&["policy", "settings", "case", "report", "workspace", "item"])
            );
            put(
                rec,
                "ObjectId",
                stable_guid(ctx, &name, u64::from(value.unsigned_abs())),
            );
            put(rec, "ItemName", name);
        }
    }
    finish(ctx, r, rec, true);
}

#[cfg(test)]
mod tests {
    use super::super::{RecordCtx, build};
    use crate::catalog::{RECORD_TYPES, record_type};
    use crate::rng::Rng;
    use crate::tenant::Tenant;
    use serde_json::{Map, Value};

    use crate::test_support::fixed_now as now;

    fn one(t: &Tenant, rt: i32, op: &str, i: u64) -> Option<Map<String, Value>> {
        let info = record_type(rt)?;
        let user = &t.users[(i as usize * 17) % t.users.len()];
        let ctx = RecordCtx {
            tenant: t,
            user,
            info,
            operation: op,
            id: format!("00000000-0000-0000-0000-{i:012}"),
            time: now(),
            ip: [91, 3, 4, 5],
            user_agent: crate::records::agents::DESKTOP[(i % 8) as usize],
        };
        Some(build(&ctx, &mut Rng::new(&[rt as u64, i])))
    }

    fn records(t: &Tenant, rt: i32, op: &str, n: u64) -> Vec<Map<String, Value>> {
        (0..n).filter_map(|i| one(t, rt, op, i)).collect()
    }

    fn s<'a>(rec: &'a Map<String, Value>, k: &str) -> &'a str {
        rec.get(k).and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn power_bi_operation_properties_is_a_json_string() {
        let t = Tenant::generate(1, 200, now());
        for op in ["ViewReport", "CreateArtifact", "ShareReport"] {
            let recs = records(&t, 20, op, 50);
            assert_eq!(recs.len(), 50);
            for rec in recs {
                let props = s(&rec, "OperationProperties");
                assert!(
                    serde_json::from_str::<Value>(props).is_ok_and(|v| v.is_array()),
                    "{props}"
                );
                assert!(matches!(
                    s(&rec, "ResultStatus"),
                    "Succeeded" | "InProgress"
                ));
                assert_eq!(s(&rec, "Activity"), op);
            }
        }
    }

    #[test]
    fn dlp_and_alerts_have_their_system_identities() {
        let t = Tenant::generate(1, 200, now());
        for rt in [11, 13, 63] {
            for rec in records(&t, rt, "DlpRuleMatch", 30) {
                assert_eq!(s(&rec, "UserKey"), "DlpAgent");
                assert_eq!(rec["UserType"], 4);
                let sit = &rec["PolicyDetails"][0]["Rules"][0]["ConditionsMatched"]["SensitiveInformation"]
                    [0]["SensitiveType"];
                assert!(sit.as_str().is_some_and(crate::rng::is_guid));
                if rt == 13 {
                    assert!(rec["ExchangeMetaData"]["To"].is_array());
                }
                if rt == 11 {
                    assert_eq!(
                        s(&rec, "ObjectId"),
                        rec["SharePointMetaData"]["FilePathUrl"]
                            .as_str()
                            .unwrap_or("-")
                    );
                }
            }
        }
        for rec in records(&t, 40, "AlertTriggered", 30) {
            assert_eq!(s(&rec, "UserId"), "SecurityComplianceAlerts");
            assert_eq!(rec["UserType"], 4);
            let data: Value = serde_json::from_str(s(&rec, "Data")).unwrap_or(Value::Null);
            assert!(
                data["an"].is_string()
                    && data["ts"]
                        .as_str()
                        .is_some_and(|v| v.ends_with(".0000000Z"))
            );
        }
        for rec in records(&t, 98, "AlertTriggered", 5) {
            assert_eq!(s(&rec, "Source"), "Cloud App Security");
        }
    }

    #[test]
    fn teams_records_name_their_team() {
        let t = Tenant::generate(1, 200, now());
        for rec in records(&t, 25, "MemberAdded", 30) {
            assert!(
                s(&rec, "TeamGuid").starts_with("19:")
                    && s(&rec, "TeamGuid").ends_with("@thread.tacv2")
            );
            assert!(
                rec["Members"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(|x| x["UPN"].is_string()))
            );
            assert_eq!(
                s(&rec, "UserKey"),
                t.users
                    .iter()
                    .find(|u| u.upn == s(&rec, "UserId"))
                    .map_or("", |u| u.object_id.as_str())
            );
        }
    }

    #[test]
    fn every_catalogued_operation_builds_more_than_the_common_schema() {
        let t = Tenant::generate(1, 200, now());
        let common = [
            "Id",
            "RecordType",
            "CreationTime",
            "Operation",
            "OrganizationId",
            "UserType",
            "UserKey",
            "Workload",
            "ResultStatus",
            "ObjectId",
            "UserId",
            "ClientIP",
            "Version",
        ];
        for info in RECORD_TYPES {
            for (j, op) in info.operations.iter().enumerate() {
                for i in 0..5 {
                    let Some(rec) = one(&t, info.value, op, i * 10 + j as u64) else {
                        continue;
                    };
                    let extra = rec.keys().filter(|k| !common.contains(&k.as_str())).count();
                    let object = !s(&rec, "ObjectId").is_empty();
                    assert!(
                        extra > 0 || object,
                        "RecordType {} {op} has only the common schema: {rec:?}",
                        info.value
                    );
                    assert_eq!(
                        rec["Id"],
                        Value::from(format!("00000000-0000-0000-0000-{:012}", i * 10 + j as u64))
                    );
                }
            }
        }
    }

    #[test]
    fn records_are_a_pure_function_of_context_and_seed() {
        let t = Tenant::generate(1, 200, now());
        for info in RECORD_TYPES {
            let op = info.operations.first().copied().unwrap_or("x");
            assert_eq!(one(&t, info.value, op, 3), one(&t, info.value, op, 3));
        }
    }
}
