//! Console-made connectors in the PostgreSQL store. Behaves as the SQLite backend's
//! `sqlite/connectors.rs`.

use super::*;
use crate::StoredConnector;
use crate::connectors::{content_types_text, read_enums};

const COLUMNS: &str = "name, tenant_id, client_id, cloud, credential_kind, certificate_pem, \
    sealed_credential, login_url, manage_url, graph_url, activities, files, content_types, phase, \
    last_test, created_ns, updated_ns, updated_by";

pub(super) fn put_connector(c: &mut Client, k: &StoredConnector) -> Result<(), StoreError> {
    let types = content_types_text(&k.content_types);
    c.execute(
        &format!(
            "INSERT INTO connectors ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, \
             client_id = EXCLUDED.client_id, cloud = EXCLUDED.cloud, \
             credential_kind = EXCLUDED.credential_kind, certificate_pem = EXCLUDED.certificate_pem, \
             sealed_credential = EXCLUDED.sealed_credential, login_url = EXCLUDED.login_url, \
             manage_url = EXCLUDED.manage_url, graph_url = EXCLUDED.graph_url, \
             activities = EXCLUDED.activities, files = EXCLUDED.files, \
             content_types = EXCLUDED.content_types, phase = EXCLUDED.phase, \
             last_test = EXCLUDED.last_test, created_ns = EXCLUDED.created_ns, \
             updated_ns = EXCLUDED.updated_ns, updated_by = EXCLUDED.updated_by"
        ),
        &[
            &k.name,
            &k.tenant_id,
            &k.client_id,
            &k.cloud,
            &k.credential_kind.as_str(),
            &k.certificate_pem,
            &k.sealed_credential,
            &k.login_url,
            &k.manage_url,
            &k.graph_url,
            &k.activities,
            &k.files,
            &types,
            &k.phase.as_str(),
            &k.last_test,
            &to_ns(k.created_at),
            &to_ns(k.updated_at),
            &k.updated_by,
        ],
    )?;
    Ok(())
}

pub(super) fn connectors(c: &mut Client) -> Result<Vec<StoredConnector>, StoreError> {
    c.query(
        &format!("SELECT {COLUMNS} FROM connectors ORDER BY name"),
        &[],
    )?
    .iter()
    .map(|r| {
        let (phase, credential_kind, content_types) = read_enums(
            &r.try_get::<_, String>(13)?,
            &r.try_get::<_, String>(4)?,
            &r.try_get::<_, String>(12)?,
        )?;
        Ok(StoredConnector {
            name: r.try_get(0)?,
            tenant_id: r.try_get(1)?,
            client_id: r.try_get(2)?,
            cloud: r.try_get(3)?,
            credential_kind,
            certificate_pem: r.try_get(5)?,
            sealed_credential: r.try_get(6)?,
            login_url: r.try_get(7)?,
            manage_url: r.try_get(8)?,
            graph_url: r.try_get(9)?,
            activities: r.try_get(10)?,
            files: r.try_get(11)?,
            content_types,
            phase,
            last_test: r.try_get(14)?,
            created_at: from_ns(r.try_get(15)?),
            updated_at: from_ns(r.try_get(16)?),
            updated_by: r.try_get(17)?,
        })
    })
    .collect()
}

pub(super) fn delete_connector(c: &mut Client, name: &str) -> Result<bool, StoreError> {
    let mut tx = c.transaction()?;
    let deleted = tx.execute("DELETE FROM connectors WHERE name = $1", &[&name])? > 0;
    if deleted {
        // Nobody collects them any more: left, they would read as a collector stopped.
        tx.execute("DELETE FROM statuses WHERE tenant = $1", &[&name])?;
    }
    tx.commit()?;
    Ok(deleted)
}
