//! Skylight's normaliser: every Microsoft 365 audit record, of any RecordType, to one
//! [`Activity`]. Unknown types and fields are kept (the raw record stays in the store, and the
//! activity says `Unknown` rather than failing); only a record that is not a JSON object, or has
//! no `Id`, is refused.

mod category;
mod flatten;
mod ip;
mod record_types;

use serde_json::{Map, Value};
use skylight_model::{
    Activity, ActivityObject, Actor, ActorKind, App, Category, ObjectKind, Outcome, RecordColumns,
    parse_creation_time,
};

pub use category::categorize;
pub use flatten::FLATTENED;
pub use ip::parse_ip;
pub use record_types::RECORD_TYPES;

/// Why a record could not be normalised.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NormalizeError {
    /// Not JSON, or not an object.
    #[error("record is not a json object: {0}")]
    NotAnObject(String),
    /// No `Id`.
    #[error("record has no Id")]
    MissingId,
}

/// The name and app of a RecordType number, if Microsoft documents it.
pub fn record_type(value: i64) -> Option<(&'static str, App)> {
    RECORD_TYPES
        .binary_search_by_key(&value, |(v, _, _)| *v)
        .ok()
        .map(|i| (RECORD_TYPES[i].1, RECORD_TYPES[i].2))
}

/// A field by name, exactly or in another casing (services differ).
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A field as non-empty text (numbers and booleans as written).
fn text(m: &Map<String, Value>, name: &str) -> Option<String> {
    match field(m, name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn int(m: &Map<String, Value>, name: &str) -> Option<i64> {
    match field(m, name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(m: &Map<String, Value>, name: &str) -> bool {
    match field(m, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The app of a record whose RecordType is unknown, from its `Workload`.
fn app_of_workload(workload: &str) -> App {
    match workload.to_ascii_lowercase().as_str() {
        "exchange" => App::Exchange,
        "sharepoint" => App::SharePoint,
        "onedrive" => App::OneDrive,
        "microsoftteams" => App::Teams,
        "azureactivedirectory" => App::EntraId,
        "powerbi" => App::PowerBi,
        "crm" | "dynamics 365" => App::Dynamics365,
        "microsoftflow" => App::PowerAutomate,
        "powerapps" | "powerplatform" => App::PowerApps,
        "microsoftforms" => App::Forms,
        "microsoftstream" => App::Stream,
        "yammer" => App::VivaEngage,
        "securitycompliancecenter" | "threatintelligence" => App::Defender,
        "copilot" => App::Copilot,
        _ => App::Unknown,
    }
}

/// The store's columns of one audit record, normalised: what the collector and the importer
/// store with the raw record.
pub fn record_columns(raw: &[u8]) -> Result<RecordColumns, NormalizeError> {
    let a = normalize(raw)?;
    Ok(RecordColumns {
        client_ip: a.ip.map(|ip| ip.to_string()).or_else(|| a.ip_text.clone()),
        user_id: a.actor.name.clone(),
        activity: Some(Box::new(a.columns())),
        id: a.id,
        creation_time: a.time,
        record_type: a.record_type,
        workload: a.workload,
        operation: Some(a.operation).filter(|o| !o.is_empty()),
    })
}

/// Normalises one audit record's raw JSON.
pub fn normalize(raw: &[u8]) -> Result<Activity, NormalizeError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| NormalizeError::NotAnObject(e.to_string()))?;
    let Value::Object(m) = value else {
        return Err(NormalizeError::NotAnObject("not an object".into()));
    };
    let id = text(&m, "Id").ok_or(NormalizeError::MissingId)?;
    let rt = int(&m, "RecordType");
    let workload = text(&m, "Workload");
    let (rt_name, mut app) = match rt.and_then(record_type) {
        Some((name, app)) => (name.to_owned(), app),
        None => (
            "Unknown".to_owned(),
            workload.as_deref().map_or(App::Unknown, app_of_workload),
        ),
    };
    // OneDrive activity comes in SharePoint's record types, told apart by the workload.
    if app == App::SharePoint && workload.as_deref() == Some("OneDrive") {
        app = App::OneDrive;
    }
    let operation = text(&m, "Operation").unwrap_or_default();
    let properties = flatten::properties(&m);
    let mut category = categorize(rt, &operation);
    // Set-Mailbox is a mailbox rule when it forwards mail (the classic exfiltration setting).
    if operation.eq_ignore_ascii_case("Set-Mailbox")
        && properties.keys().any(|k| {
            matches!(
                k.as_str(),
                "Parameters.ForwardingSmtpAddress"
                    | "Parameters.ForwardingAddress"
                    | "Parameters.DeliverToMailboxAndForward"
            )
        })
    {
        category = Category::MailboxRule;
    }

    let (ip, port, ip_text) = client_ip(&m);
    let actor = actor(&m, rt);
    let impersonated = actor.impersonating.is_some();
    let external_user = actor.kind == ActorKind::External || flag(&m, "ExternalAccess");
    let (outcome, failure_reason) = outcome(&m, rt, &operation);
    let admin = is_admin(&m, rt, &operation, category, &properties);
    Ok(Activity {
        id,
        time: text(&m, "CreationTime").and_then(|t| parse_creation_time(&t)),
        organization_id: text(&m, "OrganizationId"),
        app,
        record_type: rt,
        record_type_name: rt_name,
        workload,
        operation,
        category,
        user_agent: user_agent(&m, &properties),
        device: device(&m, &properties),
        objects: objects(&m, app),
        actor,
        ip,
        port,
        ip_text,
        outcome,
        failure_reason,
        admin,
        external_user,
        impersonated,
        properties,
    })
}

/// Whether an activity is administrative: done as an admin (UserType admin, Microsoft datacenter
/// admin, partner technician), or an admin kind of change (roles, policies, settings, directory
/// changes other than a user's own password, admin consent to an app).
fn is_admin(
    m: &Map<String, Value>,
    rt: Option<i64>,
    operation: &str,
    category: Category,
    properties: &std::collections::BTreeMap<String, String>,
) -> bool {
    if matches!(int(m, "UserType"), Some(2 | 3 | 9)) {
        return true;
    }
    match category {
        Category::RoleChange | Category::PolicyChange | Category::AdminSettings => true,
        Category::UserManagement | Category::GroupManagement => {
            rt == Some(8) && !operation.eq_ignore_ascii_case("Change user password.")
        }
        // A user's own consent is not administrative; an admin's consent for everyone is.
        Category::AppConsent => properties
            .iter()
            .any(|(k, v)| k.contains("IsAdminConsent") && v.to_ascii_lowercase().contains("true")),
        _ => false,
    }
}

/// The client address: Exchange's `ClientIPAddress` is the client (its `ClientIP` may be a
/// server), then `ClientIP`, then the other names services use. Text that is not an address is
/// kept as `ip_text`.
fn client_ip(m: &Map<String, Value>) -> (Option<std::net::IpAddr>, Option<u16>, Option<String>) {
    let names = [
        "ClientIPAddress",
        "ClientIP",
        "ActorIpAddress",
        "ClientIp",
        "IPAddress",
    ];
    let mut first_text = None;
    for name in names {
        if let Some(t) = text(m, name) {
            if let Some((ip, port)) = parse_ip(&t) {
                return (Some(ip), port, None);
            }
            first_text.get_or_insert(t);
        }
    }
    (None, None, first_text)
}

fn actor(m: &Map<String, Value>, rt: Option<i64>) -> Actor {
    let name = text(m, "UserId");
    let lower = name.as_deref().unwrap_or_default().to_ascii_lowercase();
    let key = text(m, "UserKey").unwrap_or_default().to_ascii_lowercase();
    let kind = if lower.contains("#ext#") || key.contains("urn:spo:guest") {
        ActorKind::External
    } else if lower.starts_with("nt authority")
        || lower == "s-1-5-18"
        || lower.ends_with("(microsoft.exchange.servicehost)")
    {
        ActorKind::System
    } else {
        match int(m, "UserType") {
            Some(0) => ActorKind::User,
            Some(2) => ActorKind::Admin,
            // 3: a Microsoft datacenter administrator; 9: a partner's technician (GDAP).
            Some(3) => ActorKind::System,
            Some(9) => ActorKind::External,
            Some(1 | 4 | 7 | 8) => ActorKind::System,
            Some(5 | 6) => ActorKind::Application,
            Some(10) => ActorKind::External,
            _ if lower.ends_with("@sharepoint") || lower.starts_with("app@") => {
                ActorKind::Application
            }
            _ => ActorKind::Unknown,
        }
    };
    // Exchange: someone else's mailbox (admin, delegate), or mail sent as someone else.
    let owner = text(m, "MailboxOwnerUPN");
    let logon = int(m, "LogonType");
    let impersonating = if let Some(who) =
        text(m, "SendAsUserSmtp").or_else(|| text(m, "SendOnBehalfOfUserSmtp"))
    {
        Some(who)
    } else if matches!(rt, Some(2 | 3 | 50)) && matches!(logon, Some(1 | 2 | 6)) {
        owner.filter(|o| !o.eq_ignore_ascii_case(name.as_deref().unwrap_or_default()))
    } else {
        None
    };
    Actor {
        id: text(m, "UserKey"),
        name,
        kind,
        impersonating,
    }
}

fn outcome(m: &Map<String, Value>, rt: Option<i64>, op: &str) -> (Outcome, Option<String>) {
    let reason = text(m, "LogonError")
        .or_else(|| text(m, "ErrorNumber").filter(|e| e != "0"))
        .or_else(|| text(m, "ResultStatusDetail"))
        .or_else(|| text(m, "ErrorCode").filter(|e| e != "0"));
    if op.eq_ignore_ascii_case("UserLoginFailed") {
        return (Outcome::Failure, reason);
    }
    // For sign-ins `ResultStatus` only says the exchange with the service worked.
    if rt == Some(15) && text(m, "ErrorNumber").is_some_and(|e| e != "0") {
        return (Outcome::Failure, reason);
    }
    match text(m, "ResultStatus")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        Some("failed" | "failure" | "false") => (Outcome::Failure, reason),
        // An audit record is written for what was done; Power BI also says `InProgress`.
        _ => (Outcome::Success, None),
    }
}

fn user_agent(
    m: &Map<String, Value>,
    props: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    text(m, "UserAgent")
        .or_else(|| props.get("ExtendedProperties.UserAgent").cloned())
        .or_else(|| text(m, "ClientInfoString"))
        .or_else(|| text(m, "ClientAppName"))
}

fn device(
    m: &Map<String, Value>,
    props: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    text(m, "DeviceDisplayName")
        .or_else(|| props.get("DeviceProperties.DisplayName").cloned())
        .or_else(|| props.get("DeviceProperties.OS").cloned())
        .or_else(|| text(m, "Platform"))
}

fn objects(m: &Map<String, Value>, app: App) -> Vec<ActivityObject> {
    let mut out = Vec::new();
    let obj = |kind, id: Option<String>, name: Option<String>| ActivityObject { kind, id, name };
    match app {
        App::SharePoint | App::OneDrive => {
            let kind = match text(m, "ItemType").as_deref() {
                Some("Folder") => ObjectKind::Folder,
                Some("Web" | "Site") => ObjectKind::Site,
                _ => ObjectKind::File,
            };
            if text(m, "ObjectId").is_some() || text(m, "SourceFileName").is_some() {
                out.push(obj(kind, text(m, "ObjectId"), text(m, "SourceFileName")));
            }
            if let Some(site) = text(m, "SiteUrl") {
                out.push(obj(ObjectKind::Site, Some(site), None));
            }
        }
        App::Exchange => {
            if let Some(owner) = text(m, "MailboxOwnerUPN") {
                out.push(obj(
                    ObjectKind::Mailbox,
                    text(m, "MailboxGuid"),
                    Some(owner),
                ));
            }
            if let Some(Value::Object(item)) = field(m, "Item") {
                out.push(obj(
                    ObjectKind::MailItem,
                    text(item, "Id"),
                    text(item, "Subject"),
                ));
            }
            if let Some(Value::Array(items)) = field(m, "AffectedItems") {
                for item in items.iter().filter_map(Value::as_object).take(100) {
                    out.push(obj(
                        ObjectKind::MailItem,
                        text(item, "Id"),
                        text(item, "Subject"),
                    ));
                }
            }
            if out.is_empty()
                && let Some(id) = text(m, "ObjectId")
            {
                out.push(obj(ObjectKind::Mailbox, Some(id), None));
            }
        }
        _ => {}
    }
    // Security alerts: the entity the alert is about (the actor is the alerting system).
    if let Some(entity) = text(m, "AlertEntityId") {
        let kind = match text(m, "EntityType").as_deref() {
            Some("User") => ObjectKind::User,
            Some("File") => ObjectKind::File,
            Some("MailMessage") => ObjectKind::MailItem,
            _ => ObjectKind::Other,
        };
        out.push(obj(kind, Some(entity), None));
    }
    // Entra ID and others: `Target` entries of `{ID, Type}`.
    if let Some(Value::Array(targets)) = field(m, "Target") {
        for t in targets.iter().filter_map(Value::as_object).take(20) {
            let Some(id) = text(t, "ID") else { continue };
            let kind = match int(t, "Type") {
                Some(1 | 5) => ObjectKind::User, // PUID, UPN
                Some(2) => ObjectKind::Other,
                _ if id.starts_with("User_") => ObjectKind::User,
                _ if id.starts_with("Group_") => ObjectKind::Group,
                _ if id.starts_with("ServicePrincipal_") || id.starts_with("Application_") => {
                    ObjectKind::App
                }
                _ if id.starts_with("Role_") => ObjectKind::Role,
                _ if id.starts_with("Policy_") => ObjectKind::Policy,
                _ => ObjectKind::Other,
            };
            out.push(obj(kind, Some(id), None));
        }
    }
    if out.is_empty()
        && let Some(id) = text(m, "ObjectId")
    {
        out.push(obj(ObjectKind::Other, Some(id), None));
    }
    out
}
