//! Passwords and random tokens: argon2id hashes for passwords, SHA-256 for tokens (a token is 256
//! random bits, so a fast hash is enough and lookups stay an index probe).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password (argon2 takes any length; this bounds the work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// What every API token starts with, so that secret scanners recognise a leaked one.
pub const TOKEN_PREFIX: &str = "sky_";

/// Why a secret could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The system's random source failed.
    #[error("the system random source failed")]
    Random,
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// A password that is too short or too long.
    #[error("a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    PasswordLength,
}

/// `n` random bytes from the system's source.
fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    Ok(bytes)
}

/// A random URL-safe secret of 256 bits (session tokens, CSRF tokens).
pub fn new_secret() -> Result<String, SecretError> {
    Ok(URL_SAFE_NO_PAD.encode(random::<32>()?))
}

/// A new API token: `sky_` and 256 random bits.
pub fn new_api_token() -> Result<String, SecretError> {
    Ok(format!("{TOKEN_PREFIX}{}", new_secret()?))
}

/// A random password of 24 characters (144 bits), for first admins and resets.
pub fn new_password() -> Result<String, SecretError> {
    Ok(URL_SAFE_NO_PAD.encode(random::<18>()?))
}

/// The SHA-256 of a token: what the store keeps and looks up.
pub fn token_hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// A password's argon2id hash (PHC string, OWASP's parameters: 19 MiB, 2 passes). Slow on
/// purpose: call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(SecretError::PasswordLength);
    }
    let salt = random::<16>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash. With no hash (an unknown account) it checks against
/// a dummy hash all the same, so that the answer takes as long for a name that does not exist.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    let dummy =
        DUMMY.get_or_init(|| hash_password("not a password of anyone's").unwrap_or_default());
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok();
    ok && real
}

/// Compares two secrets in time that depends on their lengths only.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_hash_with_a_salt_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(verify_password("correct horse battery", Some(&h)));
        assert!(!verify_password("correct horse batterx", Some(&h)));
        assert!(!verify_password("correct horse battery", None));
        assert!(!verify_password("x", Some("not a hash")));
        assert!(matches!(
            hash_password("short"),
            Err(SecretError::PasswordLength)
        ));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_api_token().unwrap();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 4 + 43, "{a}");
        assert_ne!(a, new_api_token().unwrap());
        assert_eq!(token_hash(&a), token_hash(&a.clone()));
        assert_ne!(token_hash(&a), token_hash("sky_other"));
        assert_eq!(new_password().unwrap().len(), 24);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
