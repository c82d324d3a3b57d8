//! Skylight's normaliser: every Microsoft 365 audit record, of any RecordType, to one
//! [`Activity`]. Unknown types and fields are kept (the raw record stays in the store, and the
//! activity says `Unknown` rather than failing); only a record that is not a JSON object, or has
//! no `Id`, is refused.

mod category;
mod fields;
mod flatten;
mod ip;
mod record_types;

use std::cell::OnceCell;
use std::collections::BTreeMap;

use fields::Fields;
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

/// One record's members and, once something asks for them, its flattened properties.
struct Record<'a> {
    /// The top-level members.
    fields: Fields<'a>,
    /// The flattened properties (see [`flatten`]), once asked for.
    properties: OnceCell<BTreeMap<String, String>>,
}

impl<'a> Record<'a> {
    /// Reads a record's members; not an object (or not readable as JSON) is an error.
    fn parse(raw: &'a [u8]) -> Result<Self, NormalizeError> {
        let fields = Fields::parse(raw).map_err(NormalizeError::NotAnObject)?;
        Ok(Record {
            fields,
            properties: OnceCell::new(),
        })
    }

    /// The flattened properties, computed on first use: most records' columns never need them.
    fn properties(&self) -> &BTreeMap<String, String> {
        self.properties
            .get_or_init(|| flatten::properties(&self.fields))
    }
}

/// What the store's columns and the full activity share.
struct Core {
    /// `Id`.
    id: String,
    /// `CreationTime`.
    time: Option<chrono::DateTime<chrono::Utc>>,
    /// `RecordType`.
    record_type: Option<i64>,
    /// The RecordType's documented name, or `Unknown`.
    record_type_name: &'static str,
    /// `Workload`.
    workload: Option<String>,
    /// The service.
    app: App,
    /// `Operation` (empty when absent).
    operation: String,
    /// The action category.
    category: Category,
    /// The client address.
    ip: Option<std::net::IpAddr>,
    /// The client port, when the address field carried one.
    port: Option<u16>,
    /// Client address text that is not an address.
    ip_text: Option<String>,
    /// Who acted.
    actor: Actor,
    /// Success or failure.
    outcome: Outcome,
    /// Why it failed.
    failure_reason: Option<String>,
    /// An administrative activity.
    admin: bool,
    /// The actor is external.
    external_user: bool,
    /// The client's user agent.
    user_agent: Option<String>,
}

/// Everything both outputs need, read from the record.
fn core(r: &Record<'_>) -> Result<Core, NormalizeError> {
    let m = &r.fields;
    let id = m.string("Id").ok_or(NormalizeError::MissingId)?;
    let rt = m.int("RecordType");
    let workload = m.string("Workload");
    let (record_type_name, mut app) = match rt.and_then(record_type) {
        Some((name, app)) => (name, app),
        None => (
            "Unknown",
            workload.as_deref().map_or(App::Unknown, app_of_workload),
        ),
    };
    // OneDrive activity comes in SharePoint's record types, told apart by the workload.
    if app == App::SharePoint && workload.as_deref() == Some("OneDrive") {
        app = App::OneDrive;
    }
    let operation = m.string("Operation").unwrap_or_default();
    let mut category = categorize(rt, &operation);
    // Set-Mailbox is a mailbox rule when it forwards mail (the classic exfiltration setting).
    if operation.eq_ignore_ascii_case("Set-Mailbox")
        && r.properties().keys().any(|k| {
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
    let (ip, port, ip_text) = client_ip(m);
    let actor = actor(m, rt);
    let external_user = actor.kind == ActorKind::External || m.flag("ExternalAccess");
    let (outcome, failure_reason) = outcome(m, rt, &operation);
    let admin = is_admin(r, rt, &operation, category);
    Ok(Core {
        id,
        time: m.text("CreationTime").and_then(|t| parse_creation_time(&t)),
        record_type: rt,
        record_type_name,
        workload,
        app,
        operation,
        category,
        ip,
        port,
        ip_text,
        actor,
        outcome,
        failure_reason,
        admin,
        external_user,
        user_agent: user_agent(r),
    })
}

/// The store's columns of one audit record, normalised: what the collector and the importer
/// store with the raw record.
pub fn record_columns(raw: &[u8]) -> Result<RecordColumns, NormalizeError> {
    let c = core(&Record::parse(raw)?)?;
    let activity = skylight_model::ActivityColumns {
        app: c.app,
        category: c.category,
        actor_kind: c.actor.kind,
        outcome: c.outcome,
        admin: c.admin,
        external_user: c.external_user,
        impersonated: c.actor.impersonating.is_some(),
        user_agent: c.user_agent,
        enrichment: None,
    };
    Ok(RecordColumns {
        client_ip: c.ip.map(|ip| ip.to_string()).or(c.ip_text),
        user_id: c.actor.name,
        activity: Some(Box::new(activity)),
        id: c.id,
        creation_time: c.time,
        record_type: c.record_type,
        workload: c.workload,
        operation: Some(c.operation).filter(|o| !o.is_empty()),
    })
}

/// Normalises one audit record's raw JSON.
pub fn normalize(raw: &[u8]) -> Result<Activity, NormalizeError> {
    let r = Record::parse(raw)?;
    let c = core(&r)?;
    let m = &r.fields;
    let device = device(&r);
    let objects = objects(m, c.app);
    let organization_id = m.string("OrganizationId");
    let properties = r
        .properties
        .into_inner()
        .unwrap_or_else(|| flatten::properties(m));
    Ok(Activity {
        id: c.id,
        time: c.time,
        organization_id,
        app: c.app,
        record_type: c.record_type,
        record_type_name: c.record_type_name.to_owned(),
        workload: c.workload,
        operation: c.operation,
        category: c.category,
        user_agent: c.user_agent,
        device,
        objects,
        impersonated: c.actor.impersonating.is_some(),
        actor: c.actor,
        ip: c.ip,
        port: c.port,
        ip_text: c.ip_text,
        outcome: c.outcome,
        failure_reason: c.failure_reason,
        admin: c.admin,
        external_user: c.external_user,
        properties,
    })
}

/// Whether an activity is administrative: done as an admin (UserType admin, Microsoft datacenter
/// admin, partner technician), or an admin kind of change (roles, policies, settings, directory
/// changes other than a user's own password, admin consent to an app).
fn is_admin(r: &Record<'_>, rt: Option<i64>, operation: &str, category: Category) -> bool {
    if matches!(r.fields.int("UserType"), Some(2 | 3 | 9)) {
        return true;
    }
    match category {
        Category::RoleChange | Category::PolicyChange | Category::AdminSettings => true,
        Category::UserManagement | Category::GroupManagement => {
            rt == Some(8) && !operation.eq_ignore_ascii_case("Change user password.")
        }
        // A user's own consent is not administrative; an admin's consent for everyone is.
        Category::AppConsent => r
            .properties()
            .iter()
            .any(|(k, v)| k.contains("IsAdminConsent") && v.to_ascii_lowercase().contains("true")),
        _ => false,
    }
}

/// The client address: Exchange's `ClientIPAddress` is the client (its `ClientIP` may be a
/// server), then `ClientIP`, then the other names services use. Text that is not an address is
/// kept as `ip_text`.
fn client_ip(m: &Fields<'_>) -> (Option<std::net::IpAddr>, Option<u16>, Option<String>) {
    let names = [
        "ClientIPAddress",
        "ClientIP",
        "ActorIpAddress",
        "ClientIp",
        "IPAddress",
    ];
    let mut first_text = None;
    for name in names {
        if let Some(t) = m.text(name) {
            if let Some((ip, port)) = parse_ip(&t) {
                return (Some(ip), port, None);
            }
            first_text.get_or_insert(t);
        }
    }
    (None, None, first_text.map(std::borrow::Cow::into_owned))
}

fn actor(m: &Fields<'_>, rt: Option<i64>) -> Actor {
    let name = m.string("UserId");
    let lower = name.as_deref().unwrap_or_default().to_ascii_lowercase();
    let key = m.text("UserKey");
    let guest_key = key
        .as_deref()
        .is_some_and(|k| k.to_ascii_lowercase().contains("urn:spo:guest"));
    let kind = if lower.contains("#ext#") || guest_key {
        ActorKind::External
    } else if lower.starts_with("nt authority")
        || lower == "s-1-5-18"
        || lower.ends_with("(microsoft.exchange.servicehost)")
    {
        ActorKind::System
    } else {
        match m.int("UserType") {
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
    let impersonating = if let Some(who) = m
        .string("SendAsUserSmtp")
        .or_else(|| m.string("SendOnBehalfOfUserSmtp"))
    {
        Some(who)
    } else if matches!(rt, Some(2 | 3 | 50)) && matches!(m.int("LogonType"), Some(1 | 2 | 6)) {
        m.string("MailboxOwnerUPN")
            .filter(|o| !o.eq_ignore_ascii_case(name.as_deref().unwrap_or_default()))
    } else {
        None
    };
    Actor {
        id: key.map(std::borrow::Cow::into_owned),
        name,
        kind,
        impersonating,
    }
}

fn outcome(m: &Fields<'_>, rt: Option<i64>, op: &str) -> (Outcome, Option<String>) {
    let reason = || {
        m.string("LogonError")
            .or_else(|| m.string("ErrorNumber").filter(|e| e != "0"))
            .or_else(|| m.string("ResultStatusDetail"))
            .or_else(|| m.string("ErrorCode").filter(|e| e != "0"))
    };
    if op.eq_ignore_ascii_case("UserLoginFailed") {
        return (Outcome::Failure, reason());
    }
    // For sign-ins `ResultStatus` only says the exchange with the service worked.
    if rt == Some(15) && m.text("ErrorNumber").is_some_and(|e| e != "0") {
        return (Outcome::Failure, reason());
    }
    match m.text("ResultStatus") {
        Some(s)
            if ["failed", "failure", "false"]
                .iter()
                .any(|f| s.eq_ignore_ascii_case(f)) =>
        {
            (Outcome::Failure, reason())
        }
        // An audit record is written for what was done; Power BI also says `InProgress`.
        _ => (Outcome::Success, None),
    }
}

fn user_agent(r: &Record<'_>) -> Option<String> {
    let m = &r.fields;
    m.string("UserAgent")
        .or_else(|| r.properties().get("ExtendedProperties.UserAgent").cloned())
        .or_else(|| m.string("ClientInfoString"))
        .or_else(|| m.string("ClientAppName"))
}

fn device(r: &Record<'_>) -> Option<String> {
    let m = &r.fields;
    m.string("DeviceDisplayName")
        .or_else(|| r.properties().get("DeviceProperties.DisplayName").cloned())
        .or_else(|| r.properties().get("DeviceProperties.OS").cloned())
        .or_else(|| m.string("Platform"))
}

fn objects(m: &Fields<'_>, app: App) -> Vec<ActivityObject> {
    let mut out = Vec::new();
    let obj = |kind, id: Option<String>, name: Option<String>| ActivityObject { kind, id, name };
    match app {
        App::SharePoint | App::OneDrive => {
            let kind = match m.text("ItemType").as_deref() {
                Some("Folder") => ObjectKind::Folder,
                Some("Web" | "Site") => ObjectKind::Site,
                _ => ObjectKind::File,
            };
            let (id, name) = (m.string("ObjectId"), m.string("SourceFileName"));
            if id.is_some() || name.is_some() {
                out.push(obj(kind, id, name));
            }
            if let Some(site) = m.string("SiteUrl") {
                out.push(obj(ObjectKind::Site, Some(site), None));
            }
        }
        App::Exchange => {
            if let Some(owner) = m.string("MailboxOwnerUPN") {
                out.push(obj(
                    ObjectKind::Mailbox,
                    m.string("MailboxGuid"),
                    Some(owner),
                ));
            }
            if let Some(item) = m.get("Item").and_then(|f| f.fields()) {
                out.push(obj(
                    ObjectKind::MailItem,
                    item.string("Id"),
                    item.string("Subject"),
                ));
            }
            if let Some(items) = m.get("AffectedItems").and_then(|f| f.items()) {
                for item in items.iter().filter_map(|i| i.fields()).take(100) {
                    out.push(obj(
                        ObjectKind::MailItem,
                        item.string("Id"),
                        item.string("Subject"),
                    ));
                }
            }
            if out.is_empty()
                && let Some(id) = m.string("ObjectId")
            {
                out.push(obj(ObjectKind::Mailbox, Some(id), None));
            }
        }
        _ => {}
    }
    // Security alerts: the entity the alert is about (the actor is the alerting system).
    if let Some(entity) = m.string("AlertEntityId") {
        let kind = match m.text("EntityType").as_deref() {
            Some("User") => ObjectKind::User,
            Some("File") => ObjectKind::File,
            Some("MailMessage") => ObjectKind::MailItem,
            _ => ObjectKind::Other,
        };
        out.push(obj(kind, Some(entity), None));
    }
    // Entra ID and others: `Target` entries of `{ID, Type}`.
    if let Some(targets) = m.get("Target").and_then(|f| f.items()) {
        for t in targets.iter().filter_map(|t| t.fields()).take(20) {
            let Some(id) = t.string("ID") else { continue };
            let kind = match t.int("Type") {
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
        && let Some(id) = m.string("ObjectId")
    {
        out.push(obj(ObjectKind::Other, Some(id), None));
    }
    out
}
