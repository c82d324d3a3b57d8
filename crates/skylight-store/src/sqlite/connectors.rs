//! Console-made connectors in the SQLite store.

use rusqlite::params;

use super::Inner;
use crate::connectors::{content_types_text, read_enums};
use crate::convert::{from_ns, to_ns};
use crate::{StoreError, StoredConnector};

const COLUMNS: &str = "name, tenant_id, client_id, cloud, credential_kind, certificate_pem, \
    sealed_credential, login_url, manage_url, graph_url, activities, files, content_types, phase, \
    last_test, created_ns, updated_ns, updated_by";

impl Inner {
    pub(super) fn put_connector(&self, c: &StoredConnector) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO connectors ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
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
            .query_map([], |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                    ),
                    (
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, bool>(10)?,
                        r.get::<_, bool>(11)?,
                        r.get::<_, String>(12)?,
                        r.get::<_, String>(13)?,
                    ),
                    (
                        r.get::<_, Option<String>>(14)?,
                        r.get::<_, i64>(15)?,
                        r.get::<_, i64>(16)?,
                        r.get::<_, String>(17)?,
                    ),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(a, b, c)| {
                let (phase, kind, content_types) = read_enums(&b.6, &a.4, &b.5)?;
                Ok(StoredConnector {
                    name: a.0,
                    tenant_id: a.1,
                    client_id: a.2,
                    cloud: a.3,
                    credential_kind: kind,
                    certificate_pem: a.5,
                    sealed_credential: a.6,
                    login_url: b.0,
                    manage_url: b.1,
                    graph_url: b.2,
                    activities: b.3,
                    files: b.4,
                    content_types,
                    phase,
                    last_test: c.0,
                    created_at: from_ns(c.1),
                    updated_at: from_ns(c.2),
                    updated_by: c.3,
                })
            })
            .collect()
    }

    pub(super) fn delete_connector(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM connectors WHERE name = ?1")?
            .execute([name])?
            > 0)
    }
}
