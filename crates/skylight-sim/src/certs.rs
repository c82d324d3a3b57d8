//! The app registration's certificate credential: a throwaway RSA certificate generated at
//! start-up, and verification of the JWT client assertions clients sign with its key.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// A certificate registered on the app, with its private key (handed to tests and the demo).
#[derive(Debug, Clone)]
pub struct AppCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// SHA-1 thumbprint of the DER certificate.
    pub sha1: Vec<u8>,
    /// SHA-256 thumbprint of the DER certificate.
    pub sha256: Vec<u8>,
    public_key_pem: String,
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate the app certificate: {0}")]
pub struct CertError(String);

impl AppCertificate {
    /// Generates a 2048-bit RSA certificate for the app.
    pub fn generate(subject: &str) -> Result<AppCertificate, CertError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| CertError(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec![subject.to_string()])
            .map_err(|e| CertError(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, subject);
        let cert = params
            .self_signed(&key)
            .map_err(|e| CertError(e.to_string()))?;
        let der = cert.der().to_vec();
        Ok(AppCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
                .as_ref()
                .to_vec(),
            sha256: digest::digest(&digest::SHA256, &der).as_ref().to_vec(),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// Base64url SHA-1 thumbprint, as `x5t` carries it.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha1)
    }

    /// Base64url SHA-256 thumbprint, as `x5t#S256` carries it.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha256)
    }
}

/// Why an assertion was refused, mapped to AADSTS codes by the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionError {
    /// Not a JWT, or claims missing (AADSTS50027).
    Malformed(String),
    /// The thumbprint names no certificate registered on the app (AADSTS700027).
    KeyNotFound(String),
    /// The signature does not verify (AADSTS700027).
    BadSignature,
    /// `aud` is not this token endpoint (AADSTS50012).
    WrongAudience(String),
    /// `iss`/`sub` are not the client id (AADSTS700023 family; reported as 50012).
    WrongIssuer,
    /// Outside `nbf`..`exp` (AADSTS700024).
    Expired,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    exp: i64,
    nbf: i64,
}

/// Clock skew the identity platform tolerates on assertion times.
const LEEWAY_SECS: i64 = 300;

fn decode_thumbprint(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
        .or_else(|| STANDARD.decode(s).ok())
}

/// Verifies a client assertion for `client_id` against the registered certificate; `audiences`
/// are the token endpoint URLs the assertion may name.
pub fn verify_assertion(
    jwt: &str,
    cert: Option<&AppCertificate>,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<(), AssertionError> {
    let header =
        jsonwebtoken::decode_header(jwt).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(AssertionError::Malformed(format!(
            "unsupported alg {:?}",
            header.alg
        )));
    }
    let presented = header
        .x5t_s256
        .as_deref()
        .map(|t| ("x5t#S256", t))
        .or(header.x5t.as_deref().map(|t| ("x5t", t)))
        .ok_or_else(|| AssertionError::Malformed("no x5t or x5t#S256 header".into()))?;
    let cert = cert.ok_or_else(|| AssertionError::KeyNotFound(presented.1.to_string()))?;
    let matches = match (presented.0, decode_thumbprint(presented.1)) {
        ("x5t#S256", Some(t)) => t == cert.sha256,
        (_, Some(t)) => t == cert.sha1,
        _ => false,
    };
    if !matches {
        return Err(AssertionError::KeyNotFound(presented.1.to_string()));
    }
    let key = DecodingKey::from_rsa_pem(cert.public_key_pem.as_bytes())
        .map_err(|e| AssertionError::Malformed(e.to_string()))?;
    let mut v = Validation::new(header.alg);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub", "nbf"]);
    // Time is judged by the simulator's clock (which tests move), not the host's.
    v.validate_exp = false;
    v.validate_nbf = false;
    let data = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => AssertionError::BadSignature,
            ErrorKind::InvalidAudience => AssertionError::WrongAudience(
                jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(jwt)
                    .ok()
                    .and_then(|d| d.claims.get("aud").map(|a| a.to_string()))
                    .unwrap_or_default(),
            ),
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AssertionError::Expired,
            _ => AssertionError::Malformed(e.to_string()),
        }
    })?;
    if now > data.claims.exp + LEEWAY_SECS || now + LEEWAY_SECS < data.claims.nbf {
        return Err(AssertionError::Expired);
    }
    if data.claims.iss.as_deref() != Some(client_id)
        || data.claims.sub.as_deref() != Some(client_id)
    {
        return Err(AssertionError::WrongIssuer);
    }
    Ok(())
}
