//! Connectors made in the console, as the collectors use them: a [`StoredConnector`] with its
//! credential opened becomes a [`TenantConfig`], checked by the same rules as the file's.

use skylight_store::seal::Sealer;
use skylight_store::{CredentialKind, StoredConnector};

use crate::config::{Credential, Secret, TenantConfig, TenantSpec};

/// The credential a console-made connector carries, opened; `Err` says why it cannot be (never
/// with the secret in it).
pub fn credential(c: &StoredConnector, sealer: &Sealer) -> Result<Credential, String> {
    if c.sealed_credential.is_empty() {
        return Err("no credential has been entered".into());
    }
    let opened = sealer
        .open(&c.name, &c.sealed_credential)
        .map_err(|e| format!("the stored credential cannot be opened: {e}"))?;
    let text = String::from_utf8(opened)
        .map_err(|_| "the stored credential is not text; enter it again".to_owned())?;
    Ok(match c.credential_kind {
        CredentialKind::Secret => Credential::Secret(Secret::new(text)),
        CredentialKind::Certificate => Credential::Certificate {
            certificate_pem: c.certificate_pem.clone().unwrap_or_default(),
            private_key: Secret::new(text),
        },
    })
}

/// The spec of a console-made connector with `credential`.
pub fn spec(c: &StoredConnector, credential: Credential) -> TenantSpec {
    TenantSpec {
        name: c.name.clone(),
        tenant_id: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        credential,
        cloud: c.cloud.clone(),
        login_url: c.login_url.clone(),
        manage_url: c.manage_url.clone(),
        graph_url: c.graph_url.clone(),
        activities: c.activities,
        files: c.files,
        content_types: c.content_types.clone(),
        quarantine_site: None,
    }
}

/// A console-made connector as the collectors use it, its credential opened with `sealer`.
pub fn tenant_config(c: &StoredConnector, sealer: &Sealer) -> Result<TenantConfig, String> {
    let credential = credential(c, sealer)?;
    TenantConfig::from_spec(spec(c, credential)).map_err(|problems| problems.join("; "))
}
