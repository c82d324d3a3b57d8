//! Connector credentials sealed at rest: AES-256-GCM with a key kept outside the database.
//!
//! The key is a file of its own (32 random bytes, base64), created with mode 0600 beside the
//! embedded store, or named by `SKYLIGHT_SECRET_KEY_FILE` so that every process sharing a
//! PostgreSQL database uses the same one. A database dump or backup alone does not reveal a
//! client secret or a private key. Each sealed value is bound to its connector's name (the
//! additional data), so that a sealed value copied onto another connector does not open.
//!
//! Layout of a sealed value: `SKS1` ‖ key id (8 bytes) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;

const MAGIC: &[u8; 4] = b"SKS1";
const KEY_ID_LEN: usize = 8;

/// Why a value could not be sealed or opened. Messages never contain the value.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file could not be read or created.
    #[error("cannot use the secret key file {path}: {detail}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The value was sealed with another key.
    #[error(
        "sealed with another key (id {sealed_with}; this process has {current}): give every process the same key file (SKYLIGHT_SECRET_KEY_FILE), or enter the credential again"
    )]
    OtherKey {
        /// The id of the key that sealed the value.
        sealed_with: String,
        /// The id of this process's key.
        current: String,
    },
    /// The value is not a sealed value, or was changed, or belongs to another connector.
    #[error(
        "the sealed value is damaged or belongs to another connector; enter the credential again"
    )]
    Damaged,
    /// The cipher failed (should not happen).
    #[error("encryption failed")]
    Cipher,
}

/// Seals and opens connector credentials with one key.
pub struct Sealer {
    key: RandomizedNonceKey,
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key id {})", self.key_id())
    }
}

impl Sealer {
    /// A sealer over a 32-byte key.
    pub fn from_key(key: &[u8; 32]) -> Result<Sealer, SealError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest.as_ref()[..KEY_ID_LEN]);
        Ok(Sealer {
            key: RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| SealError::Cipher)?,
            id,
        })
    }

    /// The key in `path`, created (32 random bytes, base64, mode 0600) if the file does not
    /// exist yet.
    pub fn load_or_create(path: &Path) -> Result<Sealer, SealError> {
        let err = |detail: String| SealError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| {
                        err("not a base64 key; it should hold 32 random bytes, base64".into())
                    })?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("the key is not 32 bytes long".into()))?;
                Sealer::from_key(&key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                aws_lc_rs::rand::fill(&mut key).map_err(|_| SealError::Cipher)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        let text = base64::engine::general_purpose::STANDARD.encode(key);
                        file.write_all(format!("{text}\n").as_bytes())
                            .and_then(|()| file.sync_all())
                            .map_err(|e| err(e.to_string()))?;
                        Sealer::from_key(&key)
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Sealer::load_or_create(path)
                    }
                    Err(e) => Err(err(e.to_string())),
                }
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// A short public identifier of the key (hex), to tell keys apart without revealing them.
    pub fn key_id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `plaintext` for the connector named `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut body = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| SealError::Cipher)?;
        let mut out = Vec::with_capacity(MAGIC.len() + KEY_ID_LEN + NONCE_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value [`Sealer::seal`] sealed for the connector named `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let header = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;
        if sealed.len() < header || &sealed[..MAGIC.len()] != MAGIC {
            return Err(SealError::Damaged);
        }
        let id = &sealed[MAGIC.len()..MAGIC.len() + KEY_ID_LEN];
        if id != self.id {
            return Err(SealError::OtherKey {
                sealed_with: id.iter().map(|b| format!("{b:02x}")).collect(),
                current: self.key_id(),
            });
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[MAGIC.len() + KEY_ID_LEN..header])
            .map_err(|_| SealError::Damaged)?;
        let mut body = sealed[header..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| SealError::Damaged)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_connector() {
        let a = Sealer::from_key(&[7u8; 32]).unwrap();
        let b = Sealer::from_key(&[8u8; 32]).unwrap();
        let sealed = a.seal("contoso", b"the client secret").unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"client"),
            "sealed text shows through"
        );
        assert_eq!(a.open("contoso", &sealed).unwrap(), b"the client secret");
        assert!(matches!(
            a.open("fabrikam", &sealed),
            Err(SealError::Damaged)
        ));
        assert!(matches!(
            b.open("contoso", &sealed),
            Err(SealError::OtherKey { .. })
        ));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            a.open("contoso", &tampered),
            Err(SealError::Damaged)
        ));
        assert!(matches!(
            a.open("contoso", b"SKS1"),
            Err(SealError::Damaged)
        ));
        // Random nonces: sealing twice gives two different values.
        assert_ne!(
            a.seal("contoso", b"x").unwrap(),
            a.seal("contoso", b"x").unwrap()
        );
    }

    #[test]
    fn the_key_file_is_created_private_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("connector-secret.key");
        let first = Sealer::load_or_create(&path).unwrap();
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let sealed = first.seal("c", b"v").unwrap();
        assert_eq!(again.open("c", &sealed).unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        let e = Sealer::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("base64"), "{e}");
    }
}
