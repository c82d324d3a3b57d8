//! The objects of the Graph view: directory objects, apps and grants, and the records of what
//! happened to them (writes, audit records, faults).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::catalog::ContentType;
use crate::feed::Injected;

/// A user as Graph returns it.
#[derive(Debug, Clone)]
pub struct GUser {
    /// Object id.
    pub id: String,
    /// User principal name (guests: `mail_domain#EXT#@tenant.onmicrosoft.com`).
    pub upn: String,
    /// Mail address (for guests, their own address at home).
    pub mail: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Office location (city).
    pub office_location: Option<String>,
    /// Two-letter usage location.
    pub usage_location: Option<String>,
    /// Business phone numbers.
    pub business_phones: Vec<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// `Member` or `Guest`.
    pub user_type: &'static str,
    /// `Some(true)` synced from on-premises AD; `None` cloud-only.
    pub on_prem_sync: Option<bool>,
    /// The value on-premises AD holds (directory sync restores it).
    pub on_prem_enabled: bool,
    /// Created.
    pub created: DateTime<Utc>,
    /// Refresh tokens issued before this are invalid (`revokeSignInSessions` moves it).
    pub sessions_valid_from: DateTime<Utc>,
    /// E5 (true) or E3 licence; guests hold none.
    pub e5: Option<bool>,
    /// Last successful interactive sign-in, if any.
    pub last_sign_in: Option<DateTime<Utc>>,
    /// Last change.
    pub seq: u64,
}

/// A group.
#[derive(Debug, Clone)]
pub struct GGroup {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Mail address of mail-enabled groups.
    pub mail: Option<String>,
    /// Mail nickname.
    pub mail_nickname: String,
    /// Mail-enabled.
    pub mail_enabled: bool,
    /// Security-enabled.
    pub security_enabled: bool,
    /// `Unified` for Microsoft 365 groups.
    pub group_types: Vec<&'static str>,
    /// `Private` / `Public` for Microsoft 365 groups.
    pub visibility: Option<&'static str>,
    /// Synced from on-premises.
    pub on_prem_sync: Option<bool>,
    /// Created.
    pub created: DateTime<Utc>,
    /// Direct members: user and group ids.
    pub members: BTreeSet<String>,
    /// Owner user ids.
    pub owners: Vec<String>,
    /// The group's team site (index into `GraphState::sites`).
    pub site: Option<usize>,
    /// Last change.
    pub seq: u64,
}

/// An activated directory role and who holds it.
#[derive(Debug, Clone)]
pub struct GRole {
    /// Object id (the same one the audit records name).
    pub id: String,
    /// Role template id (the same in every tenant).
    pub template_id: &'static str,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// Member user ids.
    pub members: BTreeSet<String>,
}

/// An application permission (app role) a resource offers.
#[derive(Debug, Clone)]
pub struct GAppRole {
    /// Id.
    pub id: String,
    /// Value, e.g. `Mail.ReadWrite`.
    pub value: String,
    /// Display name.
    pub display_name: String,
}

/// A delegated permission (scope) a resource offers.
#[derive(Debug, Clone)]
pub struct GScope {
    /// Id.
    pub id: String,
    /// Value, e.g. `Files.ReadWrite.All`.
    pub value: String,
    /// `User` (users may consent) or `Admin` (admin consent required).
    pub kind: &'static str,
    /// What an admin sees when consenting.
    pub admin_consent_display_name: String,
}

/// A verified publisher.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Publisher's name.
    pub display_name: String,
    /// Microsoft Partner Network id.
    pub id: String,
    /// When verification was added.
    pub added: DateTime<Utc>,
}

/// A service principal.
#[derive(Debug, Clone)]
pub struct GServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Publisher name shown at consent.
    pub publisher_name: Option<String>,
    /// Verified publisher, if verified.
    pub verified: Option<Verified>,
    /// Tenant owning the app registration.
    pub app_owner_org: Option<String>,
    /// Sign-in enabled (disabling it is how an app is banned).
    pub account_enabled: bool,
    /// Users need an assignment to sign in.
    pub assignment_required: bool,
    /// Application permissions it offers (resources).
    pub app_roles: Vec<GAppRole>,
    /// Delegated permissions it offers (resources).
    pub scopes: Vec<GScope>,
    /// Tags.
    pub tags: Vec<String>,
    /// Home page.
    pub homepage: Option<String>,
    /// Reply URLs.
    pub reply_urls: Vec<String>,
    /// Created.
    pub created: DateTime<Utc>,
    /// A Microsoft first-party application.
    pub first_party: bool,
    /// Last change.
    pub seq: u64,
}

/// A delegated permission grant (a user's or an admin's consent).
#[derive(Debug, Clone)]
pub struct GGrant {
    /// Id (base64url of client, resource and principal ids, as Entra forms it).
    pub id: String,
    /// Client service principal id.
    pub client_id: String,
    /// `AllPrincipals` (admin consent for everyone) or `Principal` (one user).
    pub consent_type: &'static str,
    /// The consenting user for `Principal` grants.
    pub principal_id: Option<String>,
    /// Resource service principal id.
    pub resource_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// When consent was first given (not in Graph v1.0; shown in `/_sim/graph`).
    pub consented: DateTime<Utc>,
}

/// An application permission granted (an app role assignment).
#[derive(Debug, Clone)]
pub struct GAssignment {
    /// Id.
    pub id: String,
    /// App role id (all zeros: default access).
    pub app_role_id: String,
    /// Principal id.
    pub principal_id: String,
    /// `ServicePrincipal`, `User` or `Group`.
    pub principal_type: &'static str,
    /// Principal display name.
    pub principal_display_name: String,
    /// Resource service principal id.
    pub resource_id: String,
    /// Resource display name.
    pub resource_display_name: String,
    /// Created.
    pub created: DateTime<Utc>,
}

/// A user Identity Protection has an opinion on.
#[derive(Debug, Clone)]
pub struct GRisky {
    /// User id.
    pub id: String,
    /// `low`, `medium`, `high`, `none`.
    pub level: &'static str,
    /// `atRisk`, `confirmedCompromised`, `dismissed`, `remediated`, `none`.
    pub state: &'static str,
    /// Why.
    pub detail: &'static str,
    /// Last change.
    pub updated: DateTime<Utc>,
}

/// One interactive sign-in (Entra ID P1 sign-in logs).
#[derive(Debug, Clone)]
pub struct GSignIn {
    /// Id.
    pub id: String,
    /// When.
    pub created: DateTime<Utc>,
    /// User id.
    pub user_id: String,
    /// Application signed in to.
    pub app_id: &'static str,
    /// Its name.
    pub app_name: &'static str,
    /// Client address.
    pub ip: String,
    /// `Browser`, `Mobile Apps and Desktop clients`, legacy protocols…
    pub client_app: &'static str,
    /// 0 success, else the AADSTS code.
    pub error_code: u32,
    /// City, country code, latitude, longitude.
    pub location: (&'static str, &'static str, f64, f64),
}

/// A removed directory object, kept for delta.
#[derive(Debug, Clone)]
pub struct Removed {
    /// When (sequence).
    pub seq: u64,
    /// `changed` (soft-deleted, restorable) or `deleted` (gone for good).
    pub reason: &'static str,
}

/// A membership change, for `members@delta`.
#[derive(Debug, Clone)]
pub struct MembershipChange {
    /// Group id.
    pub group: String,
    /// Member id.
    pub member: String,
    /// Added (true) or removed.
    pub added: bool,
    /// When (sequence).
    pub seq: u64,
}

/// A cloud-side change to a synced user that the next directory sync undoes.
#[derive(Debug, Clone)]
pub struct PendingRevert {
    /// User id.
    pub user: String,
    /// When sync runs.
    pub due: DateTime<Utc>,
}

/// One Graph write received.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WriteEntry {
    /// Order of arrival.
    pub seq: u64,
    /// Simulator time.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Calling application id.
    pub app_id: String,
    /// The write changed the tenant (false: refused, failed, or nothing to change).
    pub applied: bool,
    /// Audit records the write published.
    pub record_ids: Vec<String>,
}

/// An audit record published by a Graph write, a directory sync or a requested change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// Record Id.
    pub id: String,
    /// Content type.
    pub content_type: &'static str,
    /// RecordType.
    pub record_type: i32,
    /// Operation.
    pub operation: String,
    /// `ObjectId` of the record.
    pub object_id: String,
    /// Event time.
    pub time: String,
    /// When it is published in the Management Activity API.
    pub published: String,
    /// What caused it: `graph`, `sync` or `change`.
    pub cause: &'static str,
}

/// A record waiting to be handed to the feed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Content type.
    pub ct: ContentType,
    /// The record.
    pub record: Injected,
    /// When the event happened.
    pub event: DateTime<Utc>,
    /// When the record is published.
    pub published: DateTime<Utc>,
}

/// A file or folder copy in progress (`copy` answers with a monitor URL).
#[derive(Debug, Clone)]
pub struct CopyJob {
    /// The new item.
    pub resource_id: String,
    /// Times the monitor was polled.
    pub polls: u32,
}

/// A fault tests arm through `POST /_sim/graph/faults`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaultRule {
    /// HTTP status to answer: 429, 500, 502, 503 or 504.
    pub status: u16,
    /// Answer this many matching requests, then stop (absent: no count limit).
    #[serde(default)]
    pub count: Option<u32>,
    /// Chance of answering each matching request (absent: always, until `count` runs out).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Only requests whose path contains this.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only requests with this method.
    #[serde(default)]
    pub method: Option<String>,
    /// `Retry-After` value (seconds, may be fractional); absent on 429 means none is sent.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Apply the request first, then answer the error (the client sees a failure for a write
    /// that happened, and must not apply it twice).
    #[serde(default)]
    pub after_apply: bool,
}
