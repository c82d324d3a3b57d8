//! The Microsoft identity platform's token endpoints (v1 and v2, client credentials), checked
//! against the contract (`m365-api-contract.md` §1 and §7 "Identity endpoint"): success bodies,
//! the minted token's claims, secrets in the body and in HTTP Basic, certificate assertions, every
//! AADSTS error the connector classifies, and how the Management API treats the tokens.
//! Every test talks HTTP to a real simulator, as a client would.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Resp, TestSim, boot, small};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use skylight_sim::SimConfig;

const MANAGEMENT: &str = "https://manage.office.com";
const MANAGEMENT_SCOPE: &str = "https://manage.office.com/.default";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

/// The payload (middle part) of a JWT, base64url-decoded.
fn jwt_payload(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .expect("payload is base64url");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_digits(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
}

/// The documented identity-platform error shape (contract §1.5).
fn assert_error_shape(r: &Resp) {
    let j = r.json();
    assert!(j.is_object(), "error body is a JSON object: {}", r.text);
    assert!(
        j["error"].as_str().is_some_and(|e| !e.is_empty()),
        "`error` string: {}",
        r.text
    );
    let codes = j["error_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("`error_codes` is an array: {}", r.text));
    assert!(
        !codes.is_empty() && codes.iter().all(Value::is_u64),
        "`error_codes` holds numbers: {}",
        r.text
    );
    let code = codes[0].as_u64().unwrap();
    let desc = s(&j, "error_description");
    assert!(
        desc.starts_with(&format!("AADSTS{code}: ")),
        "description starts with AADSTS{code}: {desc}"
    );
    let trace = s(&j, "trace_id");
    let correlation = s(&j, "correlation_id");
    assert!(is_guid(trace), "trace_id is a GUID: {trace}");
    assert!(
        is_guid(correlation),
        "correlation_id is a GUID: {correlation}"
    );
    assert!(
        desc.contains(&format!("\r\nTrace ID: {trace}")),
        "description carries the Trace ID: {desc}"
    );
    assert!(
        desc.contains(&format!("\r\nCorrelation ID: {correlation}")),
        "description carries the Correlation ID: {desc}"
    );
    let ts = s(&j, "timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "timestamp is `YYYY-MM-DD hh:mm:ssZ`: {ts}"
    );
    assert!(
        desc.contains(&format!("Timestamp: {ts}")),
        "description carries the timestamp: {desc}"
    );
}

/// Status, `error`, AADSTS code, a fragment of the description, and the documented shape.
#[track_caller]
fn assert_aadsts(r: &Resp, status: u16, error: &str, code: u64, fragment: &str) {
    assert_eq!(r.status.as_u16(), status, "HTTP status; body: {}", r.text);
    let j = r.json();
    assert_eq!(
        j["error"].as_str(),
        Some(error),
        "`error`; body: {}",
        r.text
    );
    assert_eq!(r.aadsts(), code, "AADSTS code; body: {}", r.text);
    let desc = j["error_description"].as_str().unwrap_or_default();
    assert!(
        desc.to_lowercase().contains(&fragment.to_lowercase()),
        "description contains {fragment:?}: {desc}"
    );
    assert_error_shape(r);
}

fn client_id(sim: &TestSim) -> String {
    s(&sim.tenant, "client_id").to_string()
}

fn client_secret(sim: &TestSim) -> String {
    s(&sim.tenant, "client_secret").to_string()
}

/// `(client_id, client_secret)` of the registration whose name contains `needle`.
fn other_app(sim: &TestSim, needle: &str) -> (String, String) {
    let apps = sim.tenant["other_apps"].as_array().expect("other_apps");
    let app = apps
        .iter()
        .find(|a| s(a, "name").contains(needle))
        .unwrap_or_else(|| panic!("no registration named like {needle:?} in {apps:?}"));
    (
        s(app, "client_id").to_string(),
        s(app, "client_secret").to_string(),
    )
}

async fn v2_secret(sim: &TestSim, tenant: &str, id: &str, secret: &str, scope: &str) -> Resp {
    sim.token_request(
        tenant,
        true,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", scope),
        ],
    )
    .await
}

async fn main_v2(sim: &TestSim, tenant: &str) -> Resp {
    v2_secret(
        sim,
        tenant,
        &client_id(sim),
        &client_secret(sim),
        MANAGEMENT_SCOPE,
    )
    .await
}

fn list_url(sim: &TestSim) -> String {
    format!("{}/subscriptions/list?{}", sim.root(), sim.pubid())
}

/// The Management API's non-AF 401 for a missing, invalid or expired token.
#[track_caller]
fn assert_denied(r: &Resp) {
    assert_eq!(r.status.as_u16(), 401, "status; body: {}", r.text);
    assert_eq!(
        r.json(),
        json!({"Message": "Authorization has been denied for this request."}),
        "body: {}",
        r.text
    );
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(
        www.starts_with("Bearer"),
        "WWW-Authenticate: Bearer, got {www:?}"
    );
}

// --- Certificate assertions ----------------------------------------------------------------------

/// What to put in a client assertion; `Assertion::new` is a valid one.
struct Assertion {
    alg: Algorithm,
    /// `x5t` (SHA-1) or `x5t#S256` (SHA-256).
    sha256: bool,
    thumbprint: String,
    key_pem: String,
    aud: String,
    iss: String,
    sub: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

static JTI: AtomicU64 = AtomicU64::new(1);

impl Assertion {
    async fn new(sim: &TestSim, v2: bool) -> Assertion {
        let now = sim.now().await.timestamp();
        let id = client_id(sim);
        let path = if v2 {
            "oauth2/v2.0/token"
        } else {
            "oauth2/token"
        };
        Assertion {
            alg: Algorithm::RS256,
            sha256: false,
            thumbprint: s(&sim.tenant, "certificate_thumbprint_sha1").to_string(),
            key_pem: s(&sim.tenant, "private_key_pem").to_string(),
            aud: format!("{}/{}/{path}", sim.url, sim.tenant_id()),
            iss: id.clone(),
            sub: id,
            nbf: now,
            iat: now,
            exp: now + 600,
        }
    }

    fn sign(&self) -> String {
        let mut header = Header::new(self.alg);
        if self.sha256 {
            header.x5t_s256 = Some(self.thumbprint.clone());
        } else {
            header.x5t = Some(self.thumbprint.clone());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let jti = format!(
            "{:08x}-{:04x}-4000-8000-{:012x}",
            nanos as u32,
            JTI.fetch_add(1, Ordering::Relaxed) & 0xffff,
            (nanos >> 32) as u64 & 0xffff_ffff_ffff
        );
        let claims = json!({
            "aud": self.aud, "iss": self.iss, "sub": self.sub, "jti": jti,
            "nbf": self.nbf, "iat": self.iat, "exp": self.exp,
        });
        let key = EncodingKey::from_rsa_pem(self.key_pem.as_bytes()).expect("RSA private key PEM");
        jsonwebtoken::encode(&header, &claims, &key).expect("assertion signs")
    }

    async fn send(&self, sim: &TestSim, v2: bool) -> Resp {
        let jwt = self.sign();
        let id = client_id(sim);
        let target = if v2 {
            ("scope", MANAGEMENT_SCOPE)
        } else {
            ("resource", MANAGEMENT)
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt.as_str()),
            target,
        ];
        sim.token_request(&sim.tenant_id(), v2, &form).await
    }
}

// ------------------------------------------------------------------------------------------------
// 1-3. Successful requests
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn v2_client_secret_in_body_issues_a_bearer_token_with_the_consented_roles() {
    let sim = boot(small(50, 1)).await;
    let r = main_v2(&sim, &sim.tenant_id()).await;
    assert_eq!(r.status, 200, "body: {}", r.text);
    let j = r.json();
    assert_eq!(j["token_type"], "Bearer");
    assert!(
        j["expires_in"].is_u64(),
        "v2 `expires_in` is a JSON number: {}",
        j["expires_in"]
    );
    assert_eq!(j["expires_in"].as_u64(), Some(3599), "default lifetime");
    assert!(
        j.get("ext_expires_in").is_none_or(Value::is_u64),
        "v2 `ext_expires_in`, when present, is a number"
    );
    assert!(
        j.get("refresh_token").is_none(),
        "no refresh token for client credentials"
    );
    assert!(
        j.get("resource").is_none() && j.get("expires_on").is_none(),
        "v1-only fields are absent from v2: {j}"
    );

    let claims = jwt_payload(s(&j, "access_token"));
    let tid = sim.tenant_id();
    assert_eq!(claims["tid"], tid.as_str());
    assert_eq!(claims["aud"], MANAGEMENT);
    assert_eq!(claims["appid"], client_id(&sim).as_str());
    assert_eq!(claims["appidacr"], "1", "secret-authenticated client");
    // The Management API accepts v1.0 tokens, so even the v2 endpoint issues a v1.0 token for it.
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{tid}/").as_str()
    );
    assert_eq!(claims["ver"], "1.0");
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .expect("`roles` array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(roles.contains(&"ActivityFeed.Read"), "roles: {roles:?}");
    assert!(roles.contains(&"ActivityFeed.ReadDlp"), "roles: {roles:?}");
    assert!(
        !roles
            .iter()
            .any(|r| r.contains("User.Read") || r.contains("Sites.")),
        "Graph permissions are not in a Management token: {roles:?}"
    );
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3599, "exp = iat + expires_in");
    let now = sim.now().await.timestamp();
    assert!(
        (iat - now).abs() <= 5,
        "iat ({iat}) is the simulator's now ({now})"
    );

    // And the Management API accepts it.
    let r = sim.get(&list_url(&sim), Some(s(&j, "access_token"))).await;
    assert_eq!(
        r.status, 200,
        "subscriptions/list with a fresh token: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_resource_request_answers_string_numbers_and_echoes_the_resource() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = (client_id(&sim), client_secret(&sim));
    let r = sim
        .token_request(
            &sim.tenant_id(),
            false,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("resource", MANAGEMENT),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "body: {}", r.text);
    let j = r.json();
    assert_eq!(j["token_type"], "Bearer");
    for field in ["expires_in", "expires_on", "not_before"] {
        assert!(
            is_digits(&j[field]),
            "v1 `{field}` is a string of digits: {}",
            j[field]
        );
    }
    assert_eq!(j["resource"], MANAGEMENT, "resource echoed");
    let expires_in: i64 = s(&j, "expires_in").parse().unwrap();
    let expires_on: i64 = s(&j, "expires_on").parse().unwrap();
    let not_before: i64 = s(&j, "not_before").parse().unwrap();
    assert_eq!(
        expires_on - not_before,
        expires_in,
        "expires_on = not_before + expires_in"
    );

    let claims = jwt_payload(s(&j, "access_token"));
    let tid = sim.tenant_id();
    assert_eq!(claims["aud"], MANAGEMENT);
    assert_eq!(claims["tid"], tid.as_str());
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{tid}/").as_str(),
        "v1 issuer"
    );
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(
        claims["exp"].as_i64(),
        Some(expires_on),
        "token exp = expires_on"
    );
    assert!(
        claims["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "ActivityFeed.Read")),
        "roles: {}",
        claims["roles"]
    );

    let r = sim.get(&list_url(&sim), Some(s(&j, "access_token"))).await;
    assert_eq!(
        r.status, 200,
        "a v1 token works on the Management API: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_basic_client_authentication_is_accepted() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = (client_id(&sim), client_secret(&sim));
    let tid = sim.tenant_id();
    let send = |v2: bool, user: String, pass: String| {
        let (path, target) = if v2 {
            ("oauth2/v2.0/token", ("scope", MANAGEMENT_SCOPE))
        } else {
            ("oauth2/token", ("resource", MANAGEMENT))
        };
        let req = sim
            .http
            .post(format!("{}/{tid}/{path}", sim.url))
            .header(
                "Authorization",
                format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))),
            )
            .form(&[("grant_type", "client_credentials"), target]);
        async move {
            let r = req.send().await.unwrap();
            Resp {
                status: r.status(),
                headers: r.headers().clone(),
                text: r.text().await.unwrap(),
            }
        }
    };
    for v2 in [true, false] {
        let r = send(v2, id.clone(), secret.clone()).await;
        assert_eq!(r.status, 200, "Basic auth, v2={v2}: {}", r.text);
        let claims = jwt_payload(s(&r.json(), "access_token"));
        assert_eq!(claims["appid"], id.as_str());
        assert_eq!(claims["appidacr"], "1");
    }
    // A wrong secret in the Basic header is refused as any wrong secret is.
    let r = send(true, id.clone(), format!("{secret}x")).await;
    assert_aadsts(
        &r,
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided",
    );
}

// ------------------------------------------------------------------------------------------------
// 4. The tenant in the path
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn tenant_is_found_by_guid_or_verified_domain_and_bad_tenants_are_refused() {
    let sim = boot(small(50, 1)).await;
    let domain = s(&sim.tenant, "tenant_domain").to_string();
    assert!(
        domain.ends_with(".onmicrosoft.com"),
        "tenant_domain: {domain}"
    );

    let r = main_v2(&sim, &domain).await;
    assert_eq!(r.status, 200, "tenant by domain {domain}: {}", r.text);
    assert_eq!(
        jwt_payload(s(&r.json(), "access_token"))["tid"],
        sim.tenant_id().as_str(),
        "tid is the GUID whatever the path said"
    );

    let r = main_v2(&sim, &sim.tenant_id().to_uppercase()).await;
    assert_eq!(
        r.status, 200,
        "tenant GUIDs are case-insensitive: {}",
        r.text
    );

    let r = main_v2(&sim, "0b4f7c1e-9a3d-4e2b-8c6f-5d1a2b3c4d5e").await;
    assert_aadsts(
        &r,
        400,
        "invalid_request",
        90002,
        "Tenant '0b4f7c1e-9a3d-4e2b-8c6f-5d1a2b3c4d5e' not found",
    );

    let r = main_v2(&sim, "not a tenant!").await;
    assert_aadsts(
        &r,
        400,
        "invalid_request",
        900023,
        "is neither a valid DNS name",
    );

    for v2 in [true, false] {
        let (id, secret) = (client_id(&sim), client_secret(&sim));
        let target = if v2 {
            ("scope", MANAGEMENT_SCOPE)
        } else {
            ("resource", MANAGEMENT)
        };
        let r = sim
            .token_request(
                "common",
                v2,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    target,
                ],
            )
            .await;
        assert_aadsts(
            &r,
            400,
            "invalid_request",
            9001023,
            "isn't supported over the /common or /consumers endpoints",
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 5. Client and grant errors
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn unknown_client_id_is_700016() {
    let sim = boot(small(50, 1)).await;
    let r = v2_secret(
        &sim,
        &sim.tenant_id(),
        "11111111-2222-4333-8444-555555555555",
        &client_secret(&sim),
        MANAGEMENT_SCOPE,
    )
    .await;
    assert_aadsts(
        &r,
        400,
        "unauthorized_client",
        700016,
        "Application with identifier '11111111-2222-4333-8444-555555555555' was not found in the directory",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_is_401_7000215() {
    let sim = boot(small(50, 1)).await;
    let id = client_id(&sim);
    let r = v2_secret(
        &sim,
        &sim.tenant_id(),
        &id,
        "Abc~wrongwrongwrongwrongwrongwrongwrong1",
        MANAGEMENT_SCOPE,
    )
    .await;
    assert_aadsts(
        &r,
        401,
        "invalid_client",
        7000215,
        &format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{id}'"
        ),
    );
    // Another registration's (valid) secret is just as wrong.
    let (_, other_secret) = other_app(&sim, "no admin consent");
    let r = v2_secret(&sim, &sim.tenant_id(), &id, &other_secret, MANAGEMENT_SCOPE).await;
    assert_aadsts(
        &r,
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_secret_is_401_7000222() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = other_app(&sim, "expired secret");
    let r = v2_secret(&sim, &sim.tenant_id(), &id, &secret, MANAGEMENT_SCOPE).await;
    assert_aadsts(
        &r,
        401,
        "invalid_client",
        7000222,
        &format!("The provided client secret keys for app '{id}' are expired"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_app_is_7000112() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = other_app(&sim, "disabled");
    let r = v2_secret(&sim, &sim.tenant_id(), &id, &secret, MANAGEMENT_SCOPE).await;
    assert_aadsts(&r, 400, "unauthorized_client", 7000112, "is disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credential_is_7000218() {
    let sim = boot(small(50, 1)).await;
    let id = client_id(&sim);
    for (v2, target) in [
        (true, ("scope", MANAGEMENT_SCOPE)),
        (false, ("resource", MANAGEMENT)),
    ] {
        let r = sim
            .token_request(
                &sim.tenant_id(),
                v2,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    target,
                ],
            )
            .await;
        assert_aadsts(
            &r,
            400,
            "invalid_request",
            7000218,
            "must contain the following parameter: 'client_assertion' or 'client_secret'",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_unsupported_grant_type_is_refused() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = (client_id(&sim), client_secret(&sim));
    let r = sim
        .token_request(
            &sim.tenant_id(),
            true,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", MANAGEMENT_SCOPE),
            ],
        )
        .await;
    assert_aadsts(
        &r,
        400,
        "invalid_request",
        900144,
        "must contain the following parameter: 'grant_type'",
    );

    let r = sim
        .token_request(
            &sim.tenant_id(),
            true,
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", MANAGEMENT_SCOPE),
                ("username", "a@b.c"),
                ("password", "x"),
            ],
        )
        .await;
    assert_aadsts(
        &r,
        400,
        "unsupported_grant_type",
        70003,
        "unsupported grant type 'password'",
    );
}

// ------------------------------------------------------------------------------------------------
// 6. Scope and resource errors
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn v2_scope_and_v1_resource_problems_are_refused() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = (client_id(&sim), client_secret(&sim));
    let tid = sim.tenant_id();

    let two = format!("{MANAGEMENT_SCOPE} {GRAPH_SCOPE}");
    let r = v2_secret(&sim, &tid, &id, &secret, &two).await;
    assert_aadsts(
        &r,
        400,
        "invalid_scope",
        70011,
        "Scopes for more than one resource cannot be requested in one call",
    );

    let r = v2_secret(&sim, &tid, &id, &secret, MANAGEMENT).await;
    assert_aadsts(
        &r,
        400,
        "invalid_scope",
        1002012,
        "must have a scope value with /.default suffixed",
    );
    let r = v2_secret(
        &sim,
        &tid,
        &id,
        &secret,
        "https://manage.office.com/ActivityFeed.Read",
    )
    .await;
    assert_eq!(
        r.json()["error"],
        "invalid_scope",
        "a named permission is not a client-credentials scope: {}",
        r.text
    );
    assert_eq!(r.status, 400);

    let r = v2_secret(&sim, &tid, &id, &secret, "https://example.com/.default").await;
    assert_aadsts(
        &r,
        400,
        "invalid_resource",
        500011,
        "The resource principal named https://example.com was not found in the tenant",
    );

    let r = sim
        .token_request(
            &tid,
            false,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_aadsts(
        &r,
        400,
        "invalid_request",
        900144,
        "must contain the following parameter: 'resource'",
    );
    let r = sim
        .token_request(
            &tid,
            true,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_aadsts(
        &r,
        400,
        "invalid_request",
        900144,
        "must contain the following parameter: 'scope'",
    );
}

// ------------------------------------------------------------------------------------------------
// 7. Consent: tokens without roles, and DLP.All without ActivityFeed.ReadDlp
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn app_without_admin_consent_gets_a_roleless_token_that_the_api_refuses_with_af10001() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = other_app(&sim, "no admin consent");
    let r = v2_secret(&sim, &sim.tenant_id(), &id, &secret, MANAGEMENT_SCOPE).await;
    assert_eq!(
        r.status, 200,
        "consent is not checked at the token endpoint: {}",
        r.text
    );
    let token = s(&r.json(), "access_token").to_string();
    let claims = jwt_payload(&token);
    assert!(
        claims.get("roles").is_none(),
        "no `roles` claim at all: {claims}"
    );
    assert_eq!(claims["appid"], id.as_str());

    let r = sim.get(&list_url(&sim), Some(&token)).await;
    assert_eq!(r.status, 401, "body: {}", r.text);
    assert_eq!(r.af(), "AF10001", "body: {}", r.text);
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("ActivityFeed.Read"),
        "names the missing permission: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn app_without_readdlp_can_start_audit_but_not_dlp_all() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = other_app(&sim, "no DLP permission");
    let token = sim.token_for(&id, &secret).await;
    let roles: Vec<String> = jwt_payload(&token)["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    assert!(
        roles.iter().any(|r| r == "ActivityFeed.Read"),
        "roles: {roles:?}"
    );
    assert!(
        !roles.iter().any(|r| r == "ActivityFeed.ReadDlp"),
        "roles: {roles:?}"
    );

    let r = sim.start(&token, "Audit.Exchange").await;
    assert_eq!(
        r.status, 200,
        "Audit.Exchange needs only ActivityFeed.Read: {}",
        r.text
    );

    // Contract §1.4: DLP.All needs ActivityFeed.ReadDlp.
    let r = sim.start(&token, "DLP.All").await;
    assert_eq!(r.status, 401, "start DLP.All without ReadDlp: {}", r.text);
    assert_eq!(
        r.af(),
        "AF10001",
        "start DLP.All without ReadDlp: {}",
        r.text
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ActivityFeed.ReadDlp"),
        "{}",
        r.text
    );

    // Listing DLP.All content is refused the same way.
    let now = sim.now().await;
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let url = format!(
        "{}/subscriptions/content?contentType=DLP.All&startTime={}&endTime={}&{}",
        sim.root(),
        fmt(now - chrono::Duration::hours(12)),
        fmt(now),
        sim.pubid()
    );
    let r = sim.get(&url, Some(&token)).await;
    assert_eq!(
        (r.status.as_u16(), r.af()),
        (401, "AF10001".to_string()),
        "list DLP.All without ReadDlp: {}",
        r.text
    );
}

// ------------------------------------------------------------------------------------------------
// 8. Certificate credential (client assertion)
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_rs256_with_x5t_issues_a_certificate_token() {
    let sim = boot(small(50, 1)).await;
    for v2 in [true, false] {
        let r = Assertion::new(&sim, v2).await.send(&sim, v2).await;
        assert_eq!(r.status, 200, "RS256 + x5t assertion (v2={v2}): {}", r.text);
        let token = s(&r.json(), "access_token").to_string();
        let claims = jwt_payload(&token);
        assert_eq!(claims["appidacr"], "2", "certificate-authenticated client");
        assert_eq!(claims["appid"], client_id(&sim).as_str());
        assert!(
            claims["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == "ActivityFeed.Read"))
        );
        let r = sim.get(&list_url(&sim), Some(&token)).await;
        assert_eq!(
            r.status, 200,
            "a certificate token works on the Management API: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_ps256_with_x5t_s256_issues_a_certificate_token() {
    let sim = boot(small(50, 1)).await;
    let mut a = Assertion::new(&sim, true).await;
    a.alg = Algorithm::PS256;
    a.sha256 = true;
    a.thumbprint = s(&sim.tenant, "certificate_thumbprint_sha256").to_string();
    let r = a.send(&sim, true).await;
    assert_eq!(r.status, 200, "PS256 + x5t#S256 assertion: {}", r.text);
    assert_eq!(jwt_payload(s(&r.json(), "access_token"))["appidacr"], "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_signed_by_another_key_is_700027() {
    let sim = boot(small(50, 1)).await;
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let mut a = Assertion::new(&sim, true).await;
    a.key_pem = other.serialize_pem();
    let r = a.send(&sim, true).await;
    assert_aadsts(&r, 401, "invalid_client", 700027, "signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_with_an_unknown_thumbprint_is_700027() {
    let sim = boot(small(50, 1)).await;
    let unknown = URL_SAFE_NO_PAD.encode([0x5au8; 20]);
    let mut a = Assertion::new(&sim, true).await;
    a.thumbprint = unknown.clone();
    let r = a.send(&sim, true).await;
    assert_aadsts(&r, 401, "invalid_client", 700027, "The key was not found");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains(&unknown),
        "names the thumbprint used: {}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_for_another_audience_is_50012() {
    let sim = boot(small(50, 1)).await;
    let mut a = Assertion::new(&sim, true).await;
    a.aud =
        "https://login.microsoftonline.com/00000000-1111-4222-8333-444444444444/oauth2/v2.0/token"
            .into();
    let r = a.send(&sim, true).await;
    assert_aadsts(
        &r,
        401,
        "invalid_client",
        50012,
        "audience claim does not match",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_past_its_exp_is_700024() {
    let sim = boot(small(50, 1)).await;
    let mut a = Assertion::new(&sim, true).await;
    // Ten minutes past exp: beyond the 5-minute clock-skew leeway.
    a.nbf -= 1800;
    a.iat -= 1800;
    a.exp = a.iat + 1200;
    let r = a.send(&sim, true).await;
    assert_aadsts(
        &r,
        400,
        "invalid_client",
        700024,
        "not within its valid time range",
    );
}

/// The simulator's clock, not the host's, decides whether an assertion is current: started on the
/// wall clock, an assertion made "now" works; once the simulator's clock moves an hour on, an
/// assertion stamped with the old time is past its `exp` (+5 min leeway) and refused.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_time_is_judged_by_the_simulator_clock() {
    let sim = boot(SimConfig {
        now: None,
        ..small(50, 1)
    })
    .await;
    let a = Assertion::new(&sim, true).await;
    let r = a.send(&sim, true).await;
    assert_eq!(
        r.status, 200,
        "an assertion stamped with the simulator's now: {}",
        r.text
    );

    sim.advance(3600).await;
    let r = a.send(&sim, true).await;
    assert_aadsts(
        &r,
        400,
        "invalid_client",
        700024,
        "not within its valid time range",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_assertion_whose_iss_is_not_the_client_is_50012() {
    let sim = boot(small(50, 1)).await;
    let mut a = Assertion::new(&sim, true).await;
    a.iss = "11111111-2222-4333-8444-555555555555".into();
    let r = a.send(&sim, true).await;
    assert_aadsts(&r, 401, "invalid_client", 50012, "iss");
}

// ------------------------------------------------------------------------------------------------
// 9-10. The Management API and the tokens
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn tokens_expire_on_the_simulator_clock_and_a_new_one_works() {
    let sim = boot(SimConfig {
        token_lifetime_secs: 60,
        ..small(50, 1)
    })
    .await;
    let r = main_v2(&sim, &sim.tenant_id()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["expires_in"].as_u64(),
        Some(60),
        "configured lifetime"
    );
    let token = s(&r.json(), "access_token").to_string();
    let url = list_url(&sim);
    let r = sim.get(&url, Some(&token)).await;
    assert_eq!(r.status, 200, "fresh token: {}", r.text);

    sim.advance(61).await;
    let r = sim.get(&url, Some(&token)).await;
    assert_denied(&r);

    let fresh = sim.token().await;
    let r = sim.get(&url, Some(&fresh)).await;
    assert_eq!(r.status, 200, "a new token after expiry: {}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_token_is_refused_by_the_management_api() {
    let sim = boot(small(50, 1)).await;
    let (id, secret) = (client_id(&sim), client_secret(&sim));
    let r = v2_secret(&sim, &sim.tenant_id(), &id, &secret, GRAPH_SCOPE).await;
    assert_eq!(r.status, 200, "Graph token: {}", r.text);
    let token = s(&r.json(), "access_token").to_string();
    let claims = jwt_payload(&token);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    let roles = claims["roles"].as_array().cloned().unwrap_or_default();
    assert!(
        !roles
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.starts_with("ActivityFeed."))),
        "Management roles are not in a Graph token: {roles:?}"
    );
    assert_denied(&sim.get(&list_url(&sim), Some(&token)).await);

    let r = sim
        .token_request(
            &sim.tenant_id(),
            false,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("resource", "https://graph.microsoft.com"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "v1 Graph token: {}", r.text);
    assert_denied(
        &sim.get(&list_url(&sim), Some(s(&r.json(), "access_token")))
            .await,
    );
}

// ------------------------------------------------------------------------------------------------
// 11. The error body's documented shape
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn error_bodies_have_the_documented_shape() {
    let sim = boot(small(50, 1)).await;
    let id = client_id(&sim);
    let first = v2_secret(&sim, &sim.tenant_id(), &id, "wrong", MANAGEMENT_SCOPE).await;
    assert_eq!(first.status, 401, "{}", first.text);
    let ct = first.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "Content-Type: {ct}");
    let j = first.json();
    let obj = j.as_object().expect("object");
    for key in [
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(obj.contains_key(key), "`{key}` present: {}", first.text);
    }
    assert_eq!(j["error"], "invalid_client");
    assert_eq!(j["error_codes"], json!([7000215]));
    let desc = s(&j, "error_description");
    assert!(
        desc.starts_with("AADSTS7000215: Invalid client secret provided."),
        "{desc}"
    );
    assert!(
        desc.contains("Trace ID: ") && desc.contains("Correlation ID: "),
        "{desc}"
    );
    assert_error_shape(&first);
    if let Some(uri) = j.get("error_uri") {
        assert_eq!(
            uri, "https://login.microsoftonline.com/error?code=7000215",
            "error_uri names the code"
        );
    }

    // Every request gets its own trace id; 400s have the same shape.
    let second = main_v2(&sim, "not a tenant!").await;
    assert_eq!(second.status, 400);
    assert_error_shape(&second);
    assert_ne!(
        first.json()["trace_id"],
        second.json()["trace_id"],
        "trace ids are per request"
    );
    assert_ne!(
        first.json()["correlation_id"],
        second.json()["correlation_id"],
        "correlation ids are per request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_can_force_each_remaining_aadsts_code() {
    let sim = common::boot(common::small(50, 1)).await;
    let control = format!("{}/_sim/control", sim.url);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", sim.tenant["client_id"].as_str().unwrap()),
        (
            "client_secret",
            sim.tenant["client_secret"].as_str().unwrap(),
        ),
        ("scope", "https://manage.office.com/.default"),
    ];
    for (code, status, error) in [
        (53003, 400, "invalid_grant"),
        (90038, 400, "invalid_request"),
        (650057, 400, "invalid_client"),
        (90055, 429, "temporarily_unavailable"),
        (90033, 503, "temporarily_unavailable"),
    ] {
        sim.post(
            &control,
            None,
            Some(
                serde_json::json!({"audit_enabled": true, "licensed": true, "force_aadsts": code}),
            ),
        )
        .await;
        let r = sim.token_request(&sim.tenant_id(), true, &form).await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.json()["error"].as_str().unwrap_or_default(),
                r.aadsts()
            ),
            (status, error, code),
            "{}",
            r.text
        );
    }
    sim.post(
        &control,
        None,
        Some(serde_json::json!({"audit_enabled": true, "licensed": true})),
    )
    .await;
    assert_eq!(
        sim.token_request(&sim.tenant_id(), true, &form)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_a_form_gets_an_aadsts_error_not_a_415() {
    let sim = common::boot(common::small(50, 1)).await;
    let r = sim
        .http
        .post(format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 900144, "{body}");
}
