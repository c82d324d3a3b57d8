//! Console-made connectors in the SQLite store.

use rusqlite::{Row, params};

use super::Inner;
use crate::connectors::{content_types_text, read_enums};
use crate::convert::{from_ns, to_ns};
use crate::{StoreError, StoredConnector};

const COLUMNS: &str = "name, tenant_id, client_id, cloud, credential_kind, certificate_pem, \
    sealed_credential, login_url, manage_url, graph_url, activities, files, content_types, phase, \
    last_test, created_ns, updated_ns, updated_by";

/// One row of `SELECT {COLUMNS}`: the outer error is SQLite's, the inner one a phase, credential
/// kind or content type the store does not know (a damaged row).
fn connector(r: &Row<'_>) -> rusqlite::Result<Result<StoredConnector, StoreError>> {
    let (phase, credential_kind, content_types) = match read_enums(
        &r.get::<_, String>(13)?,
        &r.get::<_, String>(4)?,
        &r.get::<_, String>(12)?,
    ) {
        Ok(read) => read,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(StoredConnector {
        name: r.get(0)?,
        tenant_id: r.get(1)?,
        client_id: r.get(2)?,
        cloud: r.get(3)?,
        credential_kind,
        certificate_pem: r.get(5)?,
        sealed_credential: r.get(6)?,
        login_url: r.get(7)?,
        manage_url: r.get(8)?,
        graph_url: r.get(9)?,
        activities: r.get(10)?,
        files: r.get(11)?,
        content_types,
        phase,
        last_test: r.get(14)?,
        created_at: from_ns(r.get(15)?),
        updated_at: from_ns(r.get(16)?),
        updated_by: r.get(17)?,
    }))
}

impl Inner {
    pub(super) fn put_connector(&self, c: &StoredConnector) -> Result<(), StoreError> {
        // An upsert rather than `INSERT OR REPLACE`, whose delete-then-insert would also fire
        // foreign-key actions on anything that comes to refer to a connector.
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO connectors ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
                 ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, \
                 client_id = excluded.client_id, cloud = excluded.cloud, \
                 credential_kind = excluded.credential_kind, certificate_pem = excluded.certificate_pem, \
                 sealed_credential = excluded.sealed_credential, login_url = excluded.login_url, \
                 manage_url = excluded.manage_url, graph_url = excluded.graph_url, \
                 activities = excluded.activities, files = excluded.files, \
                 content_types = excluded.content_types, phase = excluded.phase, \
                 last_test = excluded.last_test, created_ns = excluded.created_ns, \
                 updated_ns = excluded.updated_ns, updated_by = excluded.updated_by"
            ))?
            .execute(params![
                c.name,
                c.tenant_id,
                c.client_id,
                c.cloud,
                c.credential_kind.as_str(),
                c.certificate_pem,
                c.sealed_credential,
                c.login_url,
                c.manage_url,
                c.graph_url,
                c.activities,
                c.files,
                content_types_text(&c.content_types),
                c.phase.as_str(),
                c.last_test,
                to_ns(c.created_at),
                to_ns(c.updated_at),
                c.updated_by,
            ])?;
        Ok(())
    }

    pub(super) fn connectors(&self) -> Result<Vec<StoredConnector>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM connectors ORDER BY name"))?;
        let rows = stmt
            .query_map([], connector)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    pub(super) fn delete_connector(&mut self, name: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let deleted = tx
            .prepare_cached("DELETE FROM connectors WHERE name = ?1")?
            .execute([name])?
            > 0;
        if deleted {
            // Nobody collects them any more: left, they would read as a collector stopped.
            tx.prepare_cached("DELETE FROM statuses WHERE tenant = ?1")?
                .execute([name])?;
        }
        tx.commit()?;
        Ok(deleted)
    }
}
