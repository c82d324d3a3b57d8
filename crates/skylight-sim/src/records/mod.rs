//! Audit record builders: one function per schema family, all sharing the common schema.
//!
//! A record is a pure function of its context and a seeded generator, so any record can be rebuilt
//! byte-for-byte on demand (blobs are never stored).

pub mod agents;
mod entra;
mod exchange;
mod general;
mod messy;
mod sharepoint;

pub(crate) use entra::role_template;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::catalog::{Family, RecordTypeInfo};
use crate::rng::Rng;
use crate::tenant::{Tenant, User, UserKind};

/// Everything a builder needs to shape one record.
#[derive(Debug)]
pub struct RecordCtx<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The acting user.
    pub user: &'a User,
    /// The RecordType being generated.
    pub info: &'static RecordTypeInfo,
    /// The `Operation` value.
    pub operation: &'a str,
    /// The record `Id`.
    pub id: String,
    /// Event time (`CreationTime`).
    pub time: DateTime<Utc>,
    /// The client's address.
    pub ip: [u8; 4],
    /// The client's user agent.
    pub user_agent: &'a str,
}

/// Formats a time as Microsoft writes `CreationTime`: no zone, no fraction.
pub fn creation_time(t: DateTime<Utc>) -> String {
    // Written out rather than through `format`, whose pattern interpretation was a measurable
    // share of the simulator's time per record; `format` still writes the forms it alone gets
    // right (years outside 0–9999 with their sign, a leap second as 60).
    use chrono::{Datelike, Timelike};
    if !(0..=9999).contains(&t.year()) || t.nanosecond() >= 1_000_000_000 {
        return t.format("%Y-%m-%dT%H:%M:%S").to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Dotted-quad form of an address.
pub fn ip_string(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// The `UserType` number Microsoft assigns the actor.
pub fn user_type(user: &User) -> i64 {
    match user.kind {
        UserKind::Member | UserKind::Guest => 0,
        UserKind::Admin(_) => 2,
        UserKind::Service => 0,
    }
}

/// Builds the record as a JSON object.
pub fn build(ctx: &RecordCtx<'_>, r: &mut Rng) -> Map<String, Value> {
    let mut rec = common(ctx);
    match ctx.info.family {
        Family::ExchangeAdmin => exchange::admin(ctx, r, &mut rec),
        Family::ExchangeItem => exchange::item(ctx, r, &mut rec),
        Family::ExchangeItemGroup => exchange::item_group(ctx, r, &mut rec),
        Family::ExchangeItemAggregated => exchange::item_aggregated(ctx, r, &mut rec),
        Family::SharePointBase => sharepoint::base(ctx, r, &mut rec),
        Family::SharePointFile => sharepoint::file(ctx, r, &mut rec),
        Family::SharePointSharing => sharepoint::sharing(ctx, r, &mut rec),
        Family::SharePointList => sharepoint::list(ctx, r, &mut rec),
        Family::EntraDirectory => entra::directory(ctx, r, &mut rec),
        Family::EntraStsLogon => entra::sts_logon(ctx, r, &mut rec),
        Family::EntraAccountLogon => entra::account_logon(ctx, r, &mut rec),
        Family::Teams => general::teams(ctx, r, &mut rec),
        Family::PowerBi => general::power_bi(ctx, r, &mut rec),
        Family::Crm => general::crm(ctx, r, &mut rec),
        Family::Dlp => general::dlp(ctx, r, &mut rec),
        Family::ComplianceAlert => general::compliance_alert(ctx, r, &mut rec),
        Family::Forms => general::forms(ctx, r, &mut rec),
        Family::Stream => general::stream(ctx, r, &mut rec),
        Family::Yammer => general::yammer(ctx, r, &mut rec),
        Family::ThreatIntelligence => general::threat_intelligence(ctx, r, &mut rec),
        Family::Quarantine => general::quarantine(ctx, r, &mut rec),
        Family::Generic => general::generic(ctx, r, &mut rec),
    }
    rec
}

/// The common schema every record carries.
fn common(ctx: &RecordCtx<'_>) -> Map<String, Value> {
    let mut rec = Map::new();
    rec.insert("Id".into(), json!(ctx.id));
    rec.insert("RecordType".into(), json!(ctx.info.value));
    rec.insert("CreationTime".into(), json!(creation_time(ctx.time)));
    rec.insert("Operation".into(), json!(ctx.operation));
    rec.insert("OrganizationId".into(), json!(ctx.tenant.tenant_id));
    rec.insert("UserType".into(), json!(user_type(ctx.user)));
    rec.insert("UserKey".into(), json!(ctx.user.puid));
    rec.insert("Workload".into(), json!(ctx.info.workload));
    rec.insert("ResultStatus".into(), json!("Succeeded"));
    rec.insert("ObjectId".into(), json!(""));
    rec.insert("UserId".into(), json!(ctx.user.upn));
    rec.insert("ClientIP".into(), json!(ip_string(ctx.ip)));
    rec.insert("Version".into(), json!(1));
    rec
}

/// DLP sensitive information types: GUID and friendly name (served by `/resources/dlpSensitiveTypes`).
pub static SENSITIVE_TYPES: &[(&str, &str)] = &[
    ("50842eb7-edc8-4019-85dd-5a5c1f2bb085", "Credit Card Number"),
    (
        "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
        "U.S. Social Security Number (SSN)",
    ),
    (
        "0e9b3178-9678-47dd-a509-37222ca96b42",
        "EU Debit Card Number",
    ),
    (
        "a2ce32a8-f935-4bb6-8e96-2a5157672e2c",
        "International Banking Account Number (IBAN)",
    ),
    (
        "178ec42a-18b4-47cc-85c7-d62c92fd67f8",
        "U.S. / U.K. Passport Number",
    ),
    ("cb353f78-2b72-4c3c-8827-92ebe4f69fdf", "ABA Routing Number"),
];
