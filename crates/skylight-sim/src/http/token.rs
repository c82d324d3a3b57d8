//! The Microsoft identity platform's token endpoints (v1 and v2), client credentials only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Sim;
use super::errors::aadsts;
use crate::certs::{AssertionError, verify_assertion};
use crate::rng::is_guid;
use crate::tenant::apps::first_party;

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Office 365 Management APIs.
    Management,
    /// Microsoft Graph.
    Graph,
}

/// Permissions that belong to each resource.
fn roles_for(resource: Resource, granted: &[&'static str]) -> Vec<&'static str> {
    granted
        .iter()
        .copied()
        .filter(|r| {
            matches!(resource, Resource::Management)
                == (r.starts_with("ActivityFeed.") || r.starts_with("ServiceHealth."))
        })
        .collect()
}

/// The resource identifiers each API answers to, in every cloud, plus the simulator's own URL.
fn resolve_resource(sim: &Sim, id: &str) -> Option<(Resource, String)> {
    let id = id.trim().trim_end_matches('/');
    let lower = id.to_ascii_lowercase();
    let public = sim.urls.base.to_ascii_lowercase();
    let manage = sim.urls.manage.to_ascii_lowercase();
    let graph_url = sim.urls.graph.to_ascii_lowercase();
    let management = [
        "https://manage.office.com",
        "https://manage-gcc.office.com",
        "https://manage.office365.us",
        "https://manage.protection.apps.mil",
        "https://manage.office365.cn",
        first_party::MANAGEMENT,
    ];
    let graph = [
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        first_party::GRAPH,
    ];
    // The configured public URLs name their service too (when Graph shares the base, the
    // base's `/graph` does).
    if management.contains(&lower.as_str()) || lower == public || lower == manage {
        Some((Resource::Management, id.to_string()))
    } else if graph.contains(&lower.as_str())
        || lower == format!("{public}/graph")
        || (lower == graph_url && graph_url != manage)
    {
        Some((Resource::Graph, id.to_string()))
    } else {
        None
    }
}

/// Claims of the access tokens the simulator issues.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Audience: the resource.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Tenant.
    pub tid: String,
    /// Client application id.
    pub appid: String,
    /// 1 secret, 2 certificate.
    pub appidacr: String,
    /// Service principal object id.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Identity provider.
    pub idp: String,
    /// Token version.
    pub ver: String,
    /// Application permissions; absent when the app has no consent for the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// Which token version is being asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// `POST /{tenant}/oauth2/token`.
pub async fn token_v1(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&sim, &tenant, &headers, &parse_form(&body), Version::V1)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_v2(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&sim, &tenant, &headers, &parse_form(&body), Version::V2)
}

/// Reads an `application/x-www-form-urlencoded` body leniently: whatever is not a form simply
/// lacks parameters, and is answered with the AADSTS error for the missing one.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (super::form_decode(k), super::form_decode(v)))
        })
        .collect()
}

/// AADSTS errors `/_sim/control` can force: code, HTTP status, `error`, description.
pub const FORCEABLE: &[(u32, u16, &str, &str)] = &[
    (
        7000216,
        400,
        "invalid_request",
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    ),
    (
        700011,
        400,
        "unauthorized_client",
        "Client application with the specified identifier was not found in the tenant.",
    ),
    (
        90038,
        400,
        "invalid_request",
        "Tenant belongs to another national cloud. Use the login endpoint of the tenant's cloud.",
    ),
    (
        90124,
        400,
        "invalid_request",
        "Resource identifier is not supported over the /common or /consumers endpoints.",
    ),
    (
        90130,
        400,
        "invalid_request",
        "Application is not supported over the /common or /consumers endpoints.",
    ),
    (
        700022,
        400,
        "invalid_scope",
        "The provided value for the input parameter scope is not valid because it contains more than one resource.",
    ),
    (
        700023,
        400,
        "invalid_scope",
        "The provided value for the input parameter scope has no resource.",
    ),
    (
        28002,
        400,
        "invalid_scope",
        "Provided value for the input parameter scope is not valid when requesting an access token.",
    ),
    (
        65001,
        400,
        "invalid_grant",
        "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
    ),
    (
        650056,
        400,
        "invalid_client",
        "Misconfigured application. The client has not listed any permissions for the resource in the requested permissions in the client's application registration, or the admin has not consented in the tenant.",
    ),
    (
        650057,
        400,
        "invalid_client",
        "Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration.",
    ),
    (
        90094,
        400,
        "invalid_grant",
        "The grant requires admin permission.",
    ),
    (
        53003,
        400,
        "invalid_grant",
        "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
    ),
    (
        90055,
        429,
        "temporarily_unavailable",
        "There are too many incoming requests for this tenant. Please try again later.",
    ),
    (
        50196,
        400,
        "invalid_request",
        "The server terminated an operation because it encountered a client request loop.",
    ),
    (
        70002,
        400,
        "invalid_client",
        "Error validating credentials.",
    ),
    (
        70008,
        400,
        "invalid_grant",
        "The provided authorization code or refresh token has expired due to inactivity.",
    ),
    (
        90033,
        503,
        "temporarily_unavailable",
        "A transient error has occurred. Please try again.",
    ),
];

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    Some((super::form_decode(id), super::form_decode(secret)))
}

fn looks_like_domain(s: &str) -> bool {
    s.contains('.')
        && s.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn issue(
    sim: &Sim,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    version: Version,
) -> Response {
    let n = sim.next_n();
    let bad = |code: u32, text: &str| {
        aadsts(
            sim.clock.now(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            code,
            text,
            n,
        )
    };
    let t = &sim.tenant;

    if let Some(code) = sim.control().force_aadsts
        && let Some((_, status, error, text)) = FORCEABLE.iter().find(|f| f.0 == code)
    {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
        return aadsts(sim.clock.now(), status, error, code, text, n);
    }

    // Tenant in the path.
    let lower = tenant.to_ascii_lowercase();
    if ["common", "consumers", "organizations"].contains(&lower.as_str()) {
        return bad(
            9001023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        );
    }
    if !is_guid(tenant) && !looks_like_domain(tenant) {
        return bad(
            900023,
            &format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        );
    }
    if !(lower == t.tenant_id || lower == t.initial_domain || lower == t.domain) {
        return bad(
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        );
    }

    // Grant.
    match form.get("grant_type").map(String::as_str) {
        None => {
            return bad(
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
        Some("client_credentials") => {}
        Some(other) => {
            return aadsts(
                sim.clock.now(),
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
                n,
            );
        }
    }

    // Client.
    let basic = basic_auth(headers);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return bad(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(reg) = t
        .registrations
        .iter()
        .find(|r| r.client_id.eq_ignore_ascii_case(&client_id))
    else {
        return aadsts(
            sim.clock.now(),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                t.org_name
            ),
            n,
        );
    };
    if reg.disabled {
        return aadsts(
            sim.clock.now(),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            7000112,
            &format!("Application '{}'({}) is disabled.", reg.client_id, reg.name),
            n,
        );
    }

    // Target resource.
    let requested = match version {
        Version::V1 => match form.get("resource") {
            Some(r) => r.clone(),
            None => {
                return bad(
                    900144,
                    "The request body must contain the following parameter: 'resource'.",
                );
            }
        },
        Version::V2 => match form.get("scope") {
            Some(s) => {
                let scopes: Vec<&str> = s.split_whitespace().collect();
                if scopes.len() != 1 {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        70011,
                        &format!(
                            "The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid. Scopes for more than one resource cannot be requested in one call."
                        ),
                        n,
                    );
                }
                match scopes[0].strip_suffix("/.default") {
                    Some(r) => r.to_string(),
                    None => {
                        return aadsts(
                            sim.clock.now(),
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            1002012,
                            &format!(
                                "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                            ),
                            n,
                        );
                    }
                }
            }
            None => {
                return bad(
                    900144,
                    "The request body must contain the following parameter: 'scope'.",
                );
            }
        },
    };
    let Some((resource, audience)) = resolve_resource(sim, &requested) else {
        return aadsts(
            sim.clock.now(),
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {requested} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                t.org_name
            ),
            n,
        );
    };

    // Credential.
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.1.clone()));
    let assertion = form.get("client_assertion");
    let acr = match (secret, assertion) {
        (None, None) => {
            return bad(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        (Some(s), _) => {
            if s != reg.client_secret {
                return aadsts(
                    sim.clock.now(),
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        reg.client_id
                    ),
                    n,
                );
            }
            if reg.secret_expires <= sim.clock.now() {
                return aadsts(
                    sim.clock.now(),
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000222,
                    &format!(
                        "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                        reg.client_id
                    ),
                    n,
                );
            }
            "1"
        }
        (None, Some(jwt)) => {
            if form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return bad(
                    90014,
                    "The required field 'client_assertion_type' is missing or is not 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
                );
            }
            let cert = (reg.client_id == t.registrations[0].client_id).then_some(&sim.cert);
            match verify_assertion(
                jwt,
                cert,
                &reg.client_id,
                &assertion_audiences(sim, tenant),
                sim.clock.now().timestamp(),
            ) {
                Ok(()) => "2",
                Err(AssertionError::Malformed(why)) => {
                    return bad(
                        50027,
                        &format!("JWT token is invalid or malformed ({why})."),
                    );
                }
                Err(AssertionError::KeyNotFound(thumb)) => {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        700027,
                        &format!(
                            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                            reg.client_id
                        ),
                        n,
                    );
                }
                Err(AssertionError::BadSignature) => {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        700027,
                        "Client assertion failed signature validation.",
                        n,
                    );
                }
                Err(AssertionError::WrongAudience(aud)) => {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        50012,
                        &format!(
                            "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds. Audience: {aud}"
                        ),
                        n,
                    );
                }
                Err(AssertionError::WrongIssuer) => {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        50012,
                        "Authentication failed: the client assertion's iss and sub claims must both be the client id.",
                        n,
                    );
                }
                Err(AssertionError::Expired) => {
                    return aadsts(
                        sim.clock.now(),
                        StatusCode::BAD_REQUEST,
                        "invalid_client",
                        700024,
                        "Client assertion is not within its valid time range.",
                        n,
                    );
                }
            }
        }
    };

    let now = sim.clock.now().timestamp();
    let lifetime = sim.cfg.token_lifetime_secs.max(1);
    let roles: Vec<String> = roles_for(resource, &reg.roles)
        .into_iter()
        .map(String::from)
        .collect();
    let claims = AccessClaims {
        aud: audience.clone(),
        // The Management API and Graph accept v1.0 access tokens, so both endpoints issue
        // v1.0-shaped tokens for them; only the response body differs between versions.
        iss: format!("https://sts.windows.net/{}/", t.tenant_id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        tid: t.tenant_id.clone(),
        appid: reg.client_id.clone(),
        appidacr: acr.into(),
        oid: crate::rng::guid(crate::rng::hash_str(&reg.client_id), 7),
        sub: crate::rng::guid(crate::rng::hash_str(&reg.client_id), 7),
        idp: format!("https://sts.windows.net/{}/", t.tenant_id),
        ver: "1.0".into(),
        roles: (!roles.is_empty()).then_some(roles),
    };
    let token = match jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(&sim.token_key),
    ) {
        Ok(t) => t,
        Err(_) => {
            return aadsts(
                sim.clock.now(),
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                50196,
                "The server encountered an unexpected error.",
                n,
            );
        }
    };
    let body = match version {
        Version::V1 => json!({
            "token_type": "Bearer",
            "expires_in": lifetime.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "expires_on": (now + lifetime).to_string(),
            "not_before": now.to_string(),
            "resource": audience,
            "access_token": token,
        }),
        Version::V2 => {
            json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})
        }
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// Token endpoint URLs a client assertion's `aud` may name.
fn assertion_audiences(sim: &Sim, tenant: &str) -> Vec<String> {
    let mut out = Vec::new();
    for host in [
        sim.urls.base.as_str(),
        sim.urls.login.as_str(),
        "https://login.microsoftonline.com",
        "https://login.windows.net",
        "https://login.microsoftonline.us",
        "https://login.partner.microsoftonline.cn",
    ] {
        for t in [
            tenant,
            sim.tenant.tenant_id.as_str(),
            sim.tenant.initial_domain.as_str(),
            sim.tenant.domain.as_str(),
        ] {
            out.push(format!("{host}/{t}/oauth2/token"));
            out.push(format!("{host}/{t}/oauth2/v2.0/token"));
        }
    }
    out
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token this tenant issued.
    Invalid,
    /// Expired by the simulator's clock.
    Expired,
    /// Issued for another API.
    WrongAudience,
}

/// Reads and checks a bearer token for `resource`, saying why it is refused.
pub fn decode_bearer(
    sim: &Sim,
    headers: &HeaderMap,
    resource: Resource,
) -> Result<AccessClaims, BearerError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(BearerError::Missing)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(BearerError::Missing)?
        .trim();
    if token.is_empty() {
        return Err(BearerError::Missing);
    }
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_aud = false;
    v.leeway = 0;
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<AccessClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&sim.token_key),
        &v,
    )
    .map_err(|_| BearerError::Invalid)?;
    // Expiry is judged by the simulator's clock, which tests can move forward.
    if data.claims.exp <= sim.clock.now().timestamp() {
        return Err(BearerError::Expired);
    }
    match resolve_resource(sim, &data.claims.aud) {
        Some((r, _)) if r == resource => Ok(data.claims),
        _ => Err(BearerError::WrongAudience),
    }
}

/// Reads and checks a bearer token for `resource`; `None` when missing, invalid or expired.
pub fn check_bearer(sim: &Sim, headers: &HeaderMap, resource: Resource) -> Option<AccessClaims> {
    decode_bearer(sim, headers, resource).ok()
}
