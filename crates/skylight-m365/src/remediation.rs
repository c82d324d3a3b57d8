//! What the administrator should do about a connector error.
//!
//! Every error the identity platform (AADSTS codes, contract §1.6) or the Management Activity API
//! (AF codes, contract §2.5) can answer maps to a [`Remediation`]: a stable `kind` the status
//! pages and tests branch on, and a message an administrator can act on, naming the place in the
//! Microsoft Entra admin center, the Microsoft 365 admin center or Microsoft Purview where the fix
//! is made. Messages never contain secrets: they are built from codes, not from request data.

use serde::Serialize;

/// What to do about an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    /// A stable classification, e.g. `credentials_expired`, `app_not_consented`,
    /// `permission_missing`, `audit_disabled`, `tenant_unlicensed`, `throttled`, `transient`,
    /// `config`.
    pub kind: &'static str,
    /// What the administrator should do, in one or two sentences.
    pub message: String,
}

impl Remediation {
    fn new(kind: &'static str, message: impl Into<String>) -> Remediation {
        Remediation {
            kind,
            message: message.into(),
        }
    }

    /// True when Skylight recovers on its own (retry, back off, skip) and the administrator need
    /// not act unless the condition persists.
    pub fn is_automatic(&self) -> bool {
        matches!(
            self.kind,
            KIND_TRANSIENT
                | KIND_THROTTLED
                | KIND_ALREADY_ENABLED
                | KIND_SUBSCRIPTION_MISSING
                | KIND_CONTENT_UNAVAILABLE
                | KIND_CONTENT_EXPIRED
                | KIND_PAGING
                | KIND_UNAUTHORIZED
        )
    }
}

impl std::fmt::Display for Remediation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Kind of the fallback for an AADSTS code not in the contract's table.
pub const KIND_SIGN_IN_FAILED: &str = "sign_in_failed";
/// Kind of the fallback for an AF code (or error body) not in the contract's table.
pub const KIND_API_ERROR: &str = "api_error";
/// Kind of a condition that clears by itself (Skylight retries).
pub const KIND_TRANSIENT: &str = "transient";
/// Kind of throttling (Skylight backs off).
pub const KIND_THROTTLED: &str = "throttled";
/// Kind of a configuration mistake in Skylight's own configuration file.
pub const KIND_CONFIG: &str = "config";
/// Kind of a request Skylight should never have sent.
pub const KIND_CLIENT_BUG: &str = "client_bug";
const KIND_ALREADY_ENABLED: &str = "already_enabled";
const KIND_SUBSCRIPTION_MISSING: &str = "subscription_missing";
const KIND_CONTENT_UNAVAILABLE: &str = "content_unavailable";
const KIND_CONTENT_EXPIRED: &str = "content_expired";
const KIND_PAGING: &str = "paging";
const KIND_UNAUTHORIZED: &str = "unauthorized";

const SECRETS_PAGE: &str = "Microsoft Entra admin center → Identity → Applications → App registrations → (the Skylight app) → Certificates & secrets";
const API_PERMISSIONS_PAGE: &str = "Microsoft Entra admin center → Identity → Applications → App registrations → (the Skylight app) → API permissions";
const SERVICE_HEALTH: &str = "Microsoft 365 admin center → Health → Service health";

/// The remediation for an AADSTS code from the token endpoint (`error_codes` in the error body).
/// Codes outside the contract's table get a generic message naming the code.
pub fn for_aadsts(code: u32) -> Remediation {
    lookup_aadsts(code).unwrap_or_else(|| {
        Remediation::new(
            KIND_SIGN_IN_FAILED,
            format!(
                "Microsoft Entra ID refused the sign-in with AADSTS{code}: look the code up at https://login.microsoftonline.com/error?code={code} and check the app registration, the tenant id and the credential configured for this connector"
            ),
        )
    })
}

/// The remediation for an AADSTS code when the contract's table lists it.
pub fn lookup_aadsts(code: u32) -> Option<Remediation> {
    let r = match code {
        7000215 => Remediation::new(
            "credentials_invalid",
            format!(
                "The client secret is wrong: make sure the connector has the secret's Value (shown only when it was created), not its Secret ID; if in doubt, create a new client secret under {SECRETS_PAGE} and update the connector's environment variable or secret file"
            ),
        ),
        7000222 => Remediation::new(
            "credentials_expired",
            format!(
                "The client secret has expired: create a new one under {SECRETS_PAGE} → Client secrets and update the connector's environment variable or secret file (then delete the expired secret)"
            ),
        ),
        7000218 | 7000216 => Remediation::new(
            KIND_CONFIG,
            "The token request carried no credential: give the tenant a client_secret_env, client_secret_file or certificate_file in the Skylight configuration, and make sure the variable or file is not empty",
        ),
        700016 | 700011 => Remediation::new(
            "app_not_consented",
            "The application (client id) does not exist in this tenant: check client_id and tenant_id in the configuration; if the app is registered in another tenant, a Global Administrator of this tenant must grant it admin consent (it then appears under Microsoft Entra admin center → Enterprise applications)",
        ),
        7000112 => Remediation::new(
            "app_disabled",
            "The application is disabled in this tenant: enable it under Microsoft Entra admin center → Enterprise applications → (the Skylight app) → Properties → \"Enabled for users to sign-in?\" = Yes",
        ),
        90002 => Remediation::new(
            "tenant_not_found",
            "The tenant was not found: check tenant_id (the Directory (tenant) ID on the Microsoft Entra admin center → Overview page, or a verified domain such as contoso.onmicrosoft.com) and that `cloud` is the tenant's cloud",
        ),
        900023 => Remediation::new(
            "tenant_invalid",
            "tenant_id is neither a GUID nor a domain name: copy the Directory (tenant) ID from the Microsoft Entra admin center → Overview page into the configuration",
        ),
        90038 => Remediation::new(
            "wrong_cloud",
            "The tenant belongs to another national cloud: set `cloud` in the configuration to the tenant's cloud (commercial, gcc, gcc-high, dod or china) and remove login_url/manage_url/graph_url overrides that point elsewhere",
        ),
        9001023 | 90124 | 90130 => Remediation::new(
            KIND_CONFIG,
            "tenant_id must name the tenant: `common`, `organizations` and `consumers` cannot be used for app-only sign-in; use the Directory (tenant) ID from the Microsoft Entra admin center → Overview page",
        ),
        700027 => Remediation::new(
            "cert_invalid",
            format!(
                "The certificate's signature was not accepted: the private key in the connector's certificate file does not match a certificate uploaded to the app; upload the certificate (public part, .cer or .pem) under {SECRETS_PAGE} → Certificates, or point certificate_file at the matching certificate and key"
            ),
        ),
        50012 => Remediation::new(
            "cert_invalid",
            format!(
                "Authentication with the certificate failed: check that this certificate is uploaded and not expired under {SECRETS_PAGE} → Certificates, and that `cloud` (or login_url) matches the tenant's cloud"
            ),
        ),
        700024 => Remediation::new(
            "clock_skew",
            "The certificate assertion was outside its validity window: the clock of the machine running Skylight is wrong; synchronise it with NTP (for example `timedatectl set-ntp true`)",
        ),
        700022 | 700023 | 70011 | 28002 => Remediation::new(
            KIND_CONFIG,
            "The token request named an invalid scope: check `cloud` and the manage_url/graph_url overrides in the configuration (resource identifiers come from the cloud); if they are right, this is a Skylight bug, please report it",
        ),
        500011 => Remediation::new(
            "resource_missing",
            "The tenant has no Office 365 Management APIs (or Microsoft Graph) service: make sure it has a Microsoft 365 subscription with at least one licence assigned (Microsoft 365 admin center → Billing → Licenses) and that `cloud` is the tenant's cloud",
        ),
        65001 | 650056 | 650057 | 90094 => Remediation::new(
            "consent_missing",
            format!(
                "Admin consent is missing: under {API_PERMISSIONS_PAGE}, add Office 365 Management APIs → Application permissions → ActivityFeed.Read and ActivityFeed.ReadDlp (and the Microsoft Graph permissions of the files component), then choose \"Grant admin consent\""
            ),
        ),
        53003 => Remediation::new(
            "blocked_by_policy",
            "A Conditional Access policy blocked the sign-in: exclude the Skylight app or allow the address Skylight connects from under Microsoft Entra admin center → Protection → Conditional Access → Policies (the service principal sign-in logs name the policy)",
        ),
        90055 | 50196 => Remediation::new(
            KIND_THROTTLED,
            "Microsoft Entra ID is throttling sign-ins for this app: Skylight backs off and retries; if it persists, check that no other program signs in with the same app registration in a loop",
        ),
        70002 => Remediation::new(
            "credentials_invalid",
            format!(
                "Microsoft Entra ID could not validate the connector's credential: create a new client secret or upload a new certificate under {SECRETS_PAGE} and update the connector"
            ),
        ),
        70008 => Remediation::new(
            "credentials_expired",
            format!(
                "The connector's credential has expired: create a new client secret or upload a new certificate under {SECRETS_PAGE} and update the connector"
            ),
        ),
        90033 => Remediation::new(
            KIND_TRANSIENT,
            format!(
                "Microsoft's sign-in service is temporarily unavailable: Skylight retries on its own; if it lasts more than an hour, check {SERVICE_HEALTH}"
            ),
        ),
        _ => return None,
    };
    Some(r)
}

/// The remediation for a Management Activity API error code (`error.code` in the error body, e.g.
/// `AF20023`), case-insensitively. Codes outside the contract's table get a generic message.
pub fn for_af(code: &str) -> Remediation {
    lookup_af(code).unwrap_or_else(|| {
        Remediation::new(
            KIND_API_ERROR,
            format!(
                "The Office 365 Management Activity API answered error {code}: Skylight retries; if it persists, check {SERVICE_HEALTH} and report it with the connector log"
            ),
        )
    })
}

/// The remediation for an AF code when the contract's table lists it.
pub fn lookup_af(code: &str) -> Option<Remediation> {
    let code = code.trim().to_ascii_uppercase();
    let bug = |what: &str| {
        Remediation::new(
            KIND_CLIENT_BUG,
            format!(
                "Skylight sent the Management Activity API an invalid request ({what}, {code}): this is a Skylight bug, please report it with the connector log"
            ),
        )
    };
    let r = match code.as_str() {
        "AF10001" => Remediation::new(
            "permission_missing",
            format!(
                "Grant admin consent for ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All) under {API_PERMISSIONS_PAGE} → Add a permission → Office 365 Management APIs → Application permissions, then \"Grant admin consent\"; Skylight picks the change up with its next token"
            ),
        ),
        "AF20001" => bug("a required parameter is missing"),
        "AF20002" => bug("a parameter has the wrong type"),
        "AF20003" => bug("the webhook expiration is in the past"),
        "AF20020" => bug("the content type is not valid"),
        "AF20053" => bug("more than one language in Accept-Language"),
        "AF20054" => bug("Accept-Language is malformed"),
        "AF20010" => Remediation::new(
            KIND_CONFIG,
            "The tenant in the request is not the tenant the app signed in to: set tenant_id (and publisher_id, if set) to the Directory (tenant) ID GUID from the Microsoft Entra admin center → Overview page",
        ),
        "AF20011" => Remediation::new(
            "tenant_not_found",
            "The Management Activity API does not know this tenant (it does not exist or was deleted): check tenant_id in the configuration against the Microsoft Entra admin center → Overview page",
        ),
        "AF20012" => Remediation::new(
            "tenant_unlicensed",
            "The tenant has no Microsoft 365 licence assigned: assign at least one licence to a user under Microsoft 365 admin center → Billing → Licenses, then wait for the Management Activity API to pick it up",
        ),
        "AF20013" => Remediation::new(
            KIND_CONFIG,
            "The Management Activity API needs the tenant's GUID: set tenant_id (and publisher_id, if set) to the Directory (tenant) ID from the Microsoft Entra admin center → Overview page",
        ),
        "AF20021" => Remediation::new(
            KIND_CONFIG,
            "The webhook address could not be validated: it must be reachable from Microsoft over HTTPS and answer the validation request with 200",
        ),
        "AF20022" => Remediation::new(
            KIND_SUBSCRIPTION_MISSING,
            "There is no subscription for this content type: Skylight starts one and retries; if this repeats, check that the app has ActivityFeed.Read with admin consent",
        ),
        "AF20023" => Remediation::new(
            "audit_disabled",
            "The subscription is disabled, which means unified audit logging is off: turn on auditing in the Microsoft Purview portal → Audit (\"Start recording user and admin activity\"; it can take up to 60 minutes), Skylight then restarts the subscription",
        ),
        "AF20024" => Remediation::new(
            KIND_ALREADY_ENABLED,
            "The subscription is already enabled: nothing to do",
        ),
        "AF20030" | "AF20055" => Remediation::new(
            "clock_skew",
            "The Management Activity API rejected the listing window (at most 24 hours, start within the last 7 days and before the end): usually the clock of the machine running Skylight is wrong; synchronise it with NTP (for example `timedatectl set-ntp true`)",
        ),
        "AF20031" => Remediation::new(
            KIND_PAGING,
            "The API rejected a next-page link: Skylight lists the window again from its start",
        ),
        "AF20050" | "AF20052" => Remediation::new(
            KIND_CONTENT_UNAVAILABLE,
            "Listed content could not be retrieved: Skylight skips it and records a gap, shown in status",
        ),
        "AF20051" => Remediation::new(
            KIND_CONTENT_EXPIRED,
            "Content expired (Microsoft keeps it 7 days) before Skylight fetched it: the gap is recorded in status; keep the connector running so that content is fetched well within 7 days of publication",
        ),
        "AF429" => Remediation::new(
            KIND_THROTTLED,
            "The Management Activity API is throttling this tenant: Skylight backs off and retries; if it persists, lower requests_per_minute for the tenant, or check which other tools read the same tenant's audit log",
        ),
        "AF50000" | "AF50005" | "AF50006" => Remediation::new(
            KIND_TRANSIENT,
            format!(
                "The Management Activity API had an internal error: Skylight retries with backoff; if it lasts more than an hour, check {SERVICE_HEALTH}"
            ),
        ),
        _ => return None,
    };
    Some(r)
}

/// The remediation for a 401 without an AF code (`"Authorization has been denied for this
/// request."`): the token was refused.
pub fn for_unauthorized() -> Remediation {
    Remediation::new(
        KIND_UNAUTHORIZED,
        format!(
            "The Management Activity API refused the access token: Skylight gets a new token and retries; if this persists, check tenant_id and `cloud` in the configuration and that ActivityFeed.Read is granted with admin consent under {API_PERMISSIONS_PAGE}"
        ),
    )
}

/// The remediation for a failed `subscriptions/start`, from its response text. Recognises the
/// audit-disabled `DataServiceException` ("Tenant … does not exist."), AF codes in the body and
/// the 15-minute start rule.
pub fn for_start_failure(text: &str) -> Remediation {
    if text.contains("DataServiceException")
        || (text.contains("StartSubscription") && text.contains("does not exist"))
    {
        return lookup_af("AF20023").unwrap_or_else(|| for_af("AF20023"));
    }
    if let Some(code) = find_af_code(text) {
        return for_af(&code);
    }
    if text.to_ascii_lowercase().contains("too many frequent") {
        return Remediation::new(
            KIND_THROTTLED,
            "Subscriptions were started too often (Microsoft allows one start per 15 minutes): Skylight waits and tries again",
        );
    }
    Remediation::new(
        "subscription_failed",
        format!(
            "Starting the subscription failed: check that unified audit logging is on (Microsoft Purview portal → Audit) and that ActivityFeed.Read is granted with admin consent under {API_PERMISSIONS_PAGE}"
        ),
    )
}

/// The remediation for any failed Management Activity API call, from its HTTP status and body:
/// AF codes first, then the audit-disabled exception, then the status (401 → token refused,
/// 429 → throttled, 408 and 5xx → transient).
pub fn for_management_response(status: u16, body: &str) -> Remediation {
    if let Some(code) = find_af_code(body) {
        return for_af(&code);
    }
    if body.contains("DataServiceException") {
        return for_start_failure(body);
    }
    match status {
        401 => for_unauthorized(),
        429 => lookup_af("AF429").unwrap_or_else(|| for_af("AF429")),
        408 | 500..=599 => Remediation::new(
            KIND_TRANSIENT,
            format!(
                "The Management Activity API is unavailable (HTTP {status}): Skylight retries with backoff; if it lasts more than an hour, check {SERVICE_HEALTH}"
            ),
        ),
        _ => Remediation::new(
            KIND_API_ERROR,
            format!(
                "The Management Activity API answered HTTP {status}: Skylight retries; if it persists, report it with the connector log"
            ),
        ),
    }
}

/// The remediation for a token-endpoint error that carried no AADSTS code, from its HTTP status
/// and OAuth `error` value.
pub fn for_token_error(status: u16, error: &str) -> Remediation {
    match error {
        "temporarily_unavailable" => lookup_aadsts(90033).unwrap_or_else(|| for_aadsts(90033)),
        _ if status == 429 => lookup_aadsts(90055).unwrap_or_else(|| for_aadsts(90055)),
        _ if status >= 500 || status == 408 => Remediation::new(
            KIND_TRANSIENT,
            format!(
                "Microsoft's sign-in service answered HTTP {status}: Skylight retries on its own; if it lasts more than an hour, check {SERVICE_HEALTH}"
            ),
        ),
        "invalid_client" => Remediation::new(
            "credentials_invalid",
            format!(
                "Microsoft Entra ID did not accept the connector's credential: check the client secret or certificate under {SECRETS_PAGE} and update the connector"
            ),
        ),
        "unauthorized_client" => lookup_aadsts(700016).unwrap_or_else(|| for_aadsts(700016)),
        "invalid_resource" => lookup_aadsts(500011).unwrap_or_else(|| for_aadsts(500011)),
        "invalid_scope" => lookup_aadsts(70011).unwrap_or_else(|| for_aadsts(70011)),
        _ => Remediation::new(
            KIND_SIGN_IN_FAILED,
            format!(
                "Microsoft Entra ID refused the sign-in (HTTP {status}, {error}): check tenant_id, client_id, `cloud` and the credential in the configuration"
            ),
        ),
    }
}

/// The remediation for a credential Skylight cannot use (unreadable certificate or key).
pub fn for_bad_credential(detail: &str) -> Remediation {
    Remediation::new(
        KIND_CONFIG,
        format!(
            "The connector's credential cannot be used ({detail}): fix certificate_file / private_key_file in the configuration (a PEM file with the certificate and its unencrypted RSA private key)"
        ),
    )
}

/// The remediation for a network failure reaching `host`.
pub fn for_unreachable(host: &str) -> Remediation {
    Remediation::new(
        KIND_TRANSIENT,
        format!(
            "Skylight could not reach {host}: it retries on its own; if this persists, check DNS, proxy and firewall rules for outbound HTTPS from the Skylight host"
        ),
    )
}

/// Finds the first `AF…` code in a response body: the JSON `error.code` when the body is an
/// error object, otherwise the first `AF` followed by digits in the text.
pub fn find_af_code(text: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let code = v
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(|c| c.as_str());
        if let Some(code) = code
            && code.len() > 2
            && code[..2].eq_ignore_ascii_case("AF")
        {
            return Some(code.to_ascii_uppercase());
        }
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        if bytes[i] == b'A'
            && bytes[i + 1] == b'F'
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits >= 3 {
                return Some(text[i..i + 2 + digits].to_string());
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every AADSTS code of contract §1.6 with the kind it must map to.
    const AADSTS: &[(u32, &str)] = &[
        (7000215, "credentials_invalid"),
        (7000222, "credentials_expired"),
        (7000218, "config"),
        (7000216, "config"),
        (700016, "app_not_consented"),
        (700011, "app_not_consented"),
        (7000112, "app_disabled"),
        (90002, "tenant_not_found"),
        (900023, "tenant_invalid"),
        (90038, "wrong_cloud"),
        (9001023, "config"),
        (90124, "config"),
        (90130, "config"),
        (700027, "cert_invalid"),
        (50012, "cert_invalid"),
        (700024, "clock_skew"),
        (700022, "config"),
        (700023, "config"),
        (70011, "config"),
        (28002, "config"),
        (500011, "resource_missing"),
        (65001, "consent_missing"),
        (650056, "consent_missing"),
        (650057, "consent_missing"),
        (90094, "consent_missing"),
        (53003, "blocked_by_policy"),
        (90055, "throttled"),
        (50196, "throttled"),
        (70002, "credentials_invalid"),
        (70008, "credentials_expired"),
        (90033, "transient"),
    ];

    /// Every AF code of contract §2.5 with the kind it must map to.
    const AF: &[(&str, &str)] = &[
        ("AF10001", "permission_missing"),
        ("AF20001", "client_bug"),
        ("AF20002", "client_bug"),
        ("AF20003", "client_bug"),
        ("AF20010", "config"),
        ("AF20011", "tenant_not_found"),
        ("AF20012", "tenant_unlicensed"),
        ("AF20013", "config"),
        ("AF20020", "client_bug"),
        ("AF20021", "config"),
        ("AF20022", "subscription_missing"),
        ("AF20023", "audit_disabled"),
        ("AF20024", "already_enabled"),
        ("AF20030", "clock_skew"),
        ("AF20031", "paging"),
        ("AF20050", "content_unavailable"),
        ("AF20051", "content_expired"),
        ("AF20052", "content_unavailable"),
        ("AF20053", "client_bug"),
        ("AF20054", "client_bug"),
        ("AF20055", "clock_skew"),
        ("AF429", "throttled"),
        ("AF50000", "transient"),
        ("AF50005", "transient"),
        ("AF50006", "transient"),
    ];

    #[test]
    fn every_aadsts_code_has_its_own_remediation() {
        for &(code, kind) in AADSTS {
            let r = for_aadsts(code);
            assert_ne!(
                r.kind, KIND_SIGN_IN_FAILED,
                "AADSTS{code} fell to the default"
            );
            assert_eq!(r.kind, kind, "AADSTS{code}");
            assert!(r.message.len() > 40, "AADSTS{code}: {}", r.message);
            assert!(
                !r.message.contains("error?code="),
                "AADSTS{code} uses the generic text"
            );
        }
        let unknown = for_aadsts(123456);
        assert_eq!(unknown.kind, KIND_SIGN_IN_FAILED);
        assert!(unknown.message.contains("AADSTS123456"));
    }

    #[test]
    fn every_af_code_has_its_own_remediation() {
        for &(code, kind) in AF {
            let r = for_af(code);
            assert_ne!(r.kind, KIND_API_ERROR, "{code} fell to the default");
            assert_eq!(r.kind, kind, "{code}");
            assert!(r.message.len() > 20, "{code}: {}", r.message);
            // Case-insensitive.
            assert_eq!(for_af(&code.to_ascii_lowercase()), r);
        }
        assert_eq!(for_af("AF99999").kind, KIND_API_ERROR);
        assert!(for_af("AF99999").message.contains("AF99999"));
    }

    #[test]
    fn messages_name_the_place_to_fix_it() {
        let expired = for_aadsts(7000222).message;
        assert!(expired.starts_with("The client secret has expired: create a new one under"));
        assert!(expired.contains("Certificates & secrets"));
        let consent = for_af("AF10001").message;
        assert!(consent.contains("ActivityFeed.Read"));
        assert!(consent.contains("ActivityFeed.ReadDlp"));
        assert!(consent.contains("API permissions"));
        assert!(consent.contains("Office 365 Management APIs"));
        let audit = for_af("AF20023").message;
        assert!(audit.contains("Microsoft Purview portal → Audit"));
        assert!(audit.contains("60 minutes"));
        assert!(
            for_af("AF20012")
                .message
                .contains("Microsoft 365 admin center")
        );
        assert!(
            for_aadsts(7000112)
                .message
                .contains("Enterprise applications")
        );
    }

    #[test]
    fn unauthorized_and_start_failures() {
        assert_eq!(for_unauthorized().kind, "unauthorized");
        assert!(for_unauthorized().is_automatic());
        let dse = "StartSubscription [TenantId=41463f53-8812-40f4-890f-865bf6e35190,ContentType=Audit.Exchange,ApplicationId=x,PublisherId=y] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant 41463f53-8812-40f4-890f-865bf6e35190 does not exist.";
        assert_eq!(for_start_failure(dse).kind, "audit_disabled");
        let body = r#"{"error":{"code":"AF20023","message":"The subscription was disabled."}}"#;
        assert_eq!(for_start_failure(body).kind, "audit_disabled");
        let unlicensed = r#"{"error":{"code":"AF20012","message":"Specified tenant ID (x) is incorrectly configured in the system."}}"#;
        assert_eq!(for_start_failure(unlicensed).kind, "tenant_unlicensed");
        assert_eq!(
            for_start_failure("Too many frequent subscription start requests").kind,
            "throttled"
        );
        assert_eq!(
            for_start_failure("something else").kind,
            "subscription_failed"
        );
    }

    #[test]
    fn management_responses_classify_by_body_then_status() {
        let throttled = r#"{"error":{"code":"AF429","message":"Too many requests. Method=GetBlob, PublisherId=x"}}"#;
        assert_eq!(for_management_response(403, throttled).kind, "throttled");
        assert_eq!(
            for_management_response(
                401,
                r#"{"Message":"Authorization has been denied for this request."}"#
            )
            .kind,
            "unauthorized"
        );
        assert_eq!(for_management_response(503, "").kind, "transient");
        assert_eq!(for_management_response(408, "").kind, "transient");
        assert_eq!(for_management_response(429, "slow down").kind, "throttled");
        assert_eq!(for_management_response(418, "").kind, KIND_API_ERROR);
        assert_eq!(
            find_af_code("failed: AF20051 content expired").as_deref(),
            Some("AF20051")
        );
        assert_eq!(find_af_code("SAFE123 no code"), None);
        assert_eq!(
            find_af_code(r#"{"error":{"code":"af20022"}}"#).as_deref(),
            Some("AF20022")
        );
    }
}
