//! The file inventory in the SQLite store.

use chrono::Utc;
use rusqlite::types::Value as Sql;
use rusqlite::{TransactionBehavior, params, params_from_iter};
use skylight_model::FileItem;

use super::{Inner, to_ns};
use crate::{FileChanges, FileQuery, StoreError};

/// `,a.com,b.org,`: one domain is found with `LIKE '%,a.com,%'`.
fn domain_list(domains: &[String]) -> String {
    let mut out = String::from(",");
    for d in domains {
        out.push_str(&d.to_ascii_lowercase());
        out.push(',');
    }
    out
}

fn read_item(body: &str) -> Result<FileItem, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("file item: {e}")))
}

/// LIKE's wildcards taken literally (with `ESCAPE '\\'`).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `%text%` for LIKE, lowercase, with LIKE's wildcards taken literally.
fn like(text: &str) -> String {
    format!("%{}%", escape(&text.to_ascii_lowercase()))
}

impl Inner {
    pub(super) fn commit_files(
        &mut self,
        tenant: &str,
        drive_id: &str,
        c: &FileChanges,
    ) -> Result<(), StoreError> {
        let now = to_ns(Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO files (tenant, drive_id, id, parent_id, name, path, folder, size, \
                 modified_ns, owner, access, external_domains, body, synced_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (tenant, drive_id, id) DO UPDATE SET parent_id = excluded.parent_id, \
                 name = excluded.name, path = excluded.path, folder = excluded.folder, \
                 size = excluded.size, modified_ns = excluded.modified_ns, owner = excluded.owner, \
                 access = excluded.access, external_domains = excluded.external_domains, \
                 body = excluded.body, synced_ns = excluded.synced_ns",
            )?;
            for f in &c.items {
                let body = serde_json::to_string(f)
                    .map_err(|e| StoreError::Corrupt(format!("file item: {e}")))?;
                upsert.execute(params![
                    tenant,
                    drive_id,
                    f.id,
                    f.parent_id,
                    f.name,
                    f.path,
                    f.folder,
                    i64::try_from(f.size).unwrap_or(i64::MAX),
                    f.modified.map(to_ns),
                    f.owner,
                    f.access.as_str(),
                    domain_list(&f.external_domains),
                    body,
                    now
                ])?;
            }
            let mut remove = tx.prepare_cached(
                "DELETE FROM files WHERE tenant = ?1 AND drive_id = ?2 AND id = ?3",
            )?;
            for id in &c.removed {
                remove.execute(params![tenant, drive_id, id])?;
            }
            if c.all {
                // A full enumeration: what it did not bring is gone.
                tx.prepare_cached(
                    "DELETE FROM files WHERE tenant = ?1 AND drive_id = ?2 AND synced_ns <> ?3",
                )?
                .execute(params![tenant, drive_id, now])?;
            }
            tx.prepare_cached(
                "INSERT INTO directory_cursors (tenant, resource, link, updated_ns) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, resource) DO UPDATE SET \
                 link = excluded.link, updated_ns = excluded.updated_ns",
            )?
            .execute(params![tenant, format!("drive:{drive_id}"), c.cursor, now])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn files(&self, q: &FileQuery) -> Result<Vec<FileItem>, StoreError> {
        let mut args: Vec<Sql> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        if let Some(t) = &q.tenant {
            let p = bind(Sql::Text(t.clone()), &mut args);
            conditions.push(format!("tenant = {p}"));
        }
        if let Some(d) = &q.drive_id {
            let p = bind(Sql::Text(d.clone()), &mut args);
            conditions.push(format!("drive_id = {p}"));
        }
        if let Some(n) = &q.name {
            let p = bind(Sql::Text(like(n)), &mut args);
            conditions.push(format!("lower(name) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(e) = &q.extension {
            let p = bind(
                Sql::Text(format!(
                    "%.{}",
                    escape(&e.trim_start_matches('.').to_ascii_lowercase())
                )),
                &mut args,
            );
            conditions.push(format!("lower(name) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(o) = &q.owner {
            let p = bind(Sql::Text(o.clone()), &mut args);
            conditions.push(format!("owner = {p} COLLATE NOCASE"));
        }
        if !q.access.is_empty() {
            let list: Vec<String> = q
                .access
                .iter()
                .map(|a| format!("'{}'", a.as_str()))
                .collect();
            conditions.push(format!("access IN ({})", list.join(",")));
        }
        if let Some(d) = &q.external_domain {
            let p = bind(
                Sql::Text(format!("%,{},%", escape(&d.to_ascii_lowercase()))),
                &mut args,
            );
            conditions.push(format!("external_domains LIKE {p} ESCAPE '\\'"));
        }
        if let Some(c) = &q.collaborator {
            let p = bind(Sql::Text(like(c)), &mut args);
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM json_each(body, '$.collaborators') j \
                 WHERE lower(json_extract(j.value, '$.who')) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(f) = &q.folder {
            let prefix = format!("{}/", f.trim_end_matches('/'));
            let p = bind(Sql::Text(prefix), &mut args);
            conditions.push(format!("substr(path, 1, length({p})) = {p}"));
        }
        if !q.include_folders {
            conditions.push("folder = 0".into());
        }
        let mut sql = "SELECT body FROM files".to_owned();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(
            " ORDER BY CASE access WHEN 'public' THEN 0 WHEN 'external' THEN 1 \
             WHEN 'internal' THEN 2 ELSE 3 END, tenant, drive_id, path",
        );
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let bodies: Vec<String> = stmt
            .query_map(params_from_iter(args), |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        bodies.iter().map(|b| read_item(b)).collect()
    }

    pub(super) fn file(
        &self,
        tenant: &str,
        drive_id: &str,
        id: &str,
    ) -> Result<Option<FileItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM files WHERE tenant = ?1 AND drive_id = ?2 AND id = ?3",
        )?;
        let mut rows = stmt.query(params![tenant, drive_id, id])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_item(&r.get::<_, String>(0)?)?)),
            None => Ok(None),
        }
    }
}

/// Adds a value to the arguments and returns its placeholder.
fn bind(v: Sql, args: &mut Vec<Sql>) -> String {
    args.push(v);
    format!("?{}", args.len())
}
