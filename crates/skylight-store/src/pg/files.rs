//! The file inventory in the PostgreSQL store. Behaves as the SQLite backend's `sqlite/files.rs`,
//! query by query.

use super::directory::{Args, escape_like, limit};
use super::*;

/// Namespace (first key) of the advisory locks that serialise one drive's commits: two processes
/// syncing the same drive take turns instead of deadlocking on each other's rows.
const FILES_LOCK: i32 = 0x6669_6c01;

/// `,a.com,b.org,`: one domain is found with `LIKE '%,a.com,%'`.
fn domain_list(domains: &[String]) -> String {
    let mut out = String::from(",");
    for d in domains {
        out.push_str(&d.to_ascii_lowercase());
        out.push(',');
    }
    out
}

/// A file item from its stored body.
fn read_item(body: &str) -> Result<FileItem, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("file item: {e}")))
}

/// `%text%` for LIKE, lowercase, with LIKE's wildcards taken literally.
fn like(text: &str) -> String {
    format!("%{}%", escape_like(&text.to_ascii_lowercase()))
}

/// [`Store::commit_files`](crate::Store::commit_files).
pub(super) fn commit_files(
    c: &mut Client,
    tenant: &str,
    drive_id: &str,
    ch: &FileChanges,
) -> Result<(), StoreError> {
    let now = to_ns(Utc::now());
    let mut tx = c.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(31) || $3))",
        &[&FILES_LOCK, &tenant, &drive_id],
    )?;
    if !ch.items.is_empty() {
        let upsert = tx.prepare(
            "INSERT INTO files (tenant, drive_id, id, parent_id, name, path, folder, size, \
             modified_ns, owner, access, external_domains, body, synced_ns) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (tenant, drive_id, id) DO UPDATE SET parent_id = excluded.parent_id, \
             name = excluded.name, path = excluded.path, folder = excluded.folder, \
             size = excluded.size, modified_ns = excluded.modified_ns, owner = excluded.owner, \
             access = excluded.access, external_domains = excluded.external_domains, \
             body = excluded.body, synced_ns = excluded.synced_ns",
        )?;
        // One by one, in order: the last occurrence of an item in a round wins.
        for f in &ch.items {
            let body = serde_json::to_string(f)
                .map_err(|e| StoreError::Corrupt(format!("file item: {e}")))?;
            tx.execute(
                &upsert,
                &[
                    &tenant,
                    &drive_id,
                    &f.id,
                    &f.parent_id,
                    &f.name,
                    &f.path,
                    &f.folder,
                    &to_count(f.size),
                    &f.modified.map(to_ns),
                    &f.owner,
                    &f.access.as_str(),
                    &domain_list(&f.external_domains),
                    &body,
                    &now,
                ],
            )?;
        }
    }
    if !ch.removed.is_empty() {
        let remove =
            tx.prepare("DELETE FROM files WHERE tenant = $1 AND drive_id = $2 AND id = $3")?;
        for id in &ch.removed {
            tx.execute(&remove, &[&tenant, &drive_id, id])?;
        }
    }
    if ch.all {
        // A full enumeration: what it did not bring is gone.
        tx.execute(
            "DELETE FROM files WHERE tenant = $1 AND drive_id = $2 AND synced_ns <> $3",
            &[&tenant, &drive_id, &now],
        )?;
    }
    tx.execute(
        "INSERT INTO directory_cursors (tenant, resource, link, updated_ns) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, resource) DO UPDATE SET \
         link = excluded.link, updated_ns = excluded.updated_ns",
        &[&tenant, &format!("drive:{drive_id}"), &ch.cursor, &now],
    )?;
    tx.commit()?;
    Ok(())
}

/// [`Store::files`](crate::Store::files).
pub(super) fn files(c: &mut Client, q: &FileQuery) -> Result<Vec<FileItem>, StoreError> {
    let mut args = Args::default();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(t) = &q.tenant {
        let p = args.bind(t.clone());
        conditions.push(format!("tenant = {p}"));
    }
    if let Some(d) = &q.drive_id {
        let p = args.bind(d.clone());
        conditions.push(format!("drive_id = {p}"));
    }
    // SQLite's lower() and LIKE fold ASCII letters only: `ascii_nocase` does the same.
    if let Some(n) = &q.name {
        let p = args.bind(like(n));
        conditions.push(format!("ascii_nocase(name) LIKE {p} ESCAPE '\\'"));
    }
    if let Some(e) = &q.extension {
        let p = args.bind(format!(
            "%.{}",
            escape_like(&e.trim_start_matches('.').to_ascii_lowercase())
        ));
        conditions.push(format!("ascii_nocase(name) LIKE {p} ESCAPE '\\'"));
    }
    if let Some(o) = &q.owner {
        let p = args.bind(o.clone());
        conditions.push(format!("ascii_nocase(owner) = ascii_nocase({p})"));
    }
    if !q.access.is_empty() {
        let list: Vec<&'static str> = q.access.iter().map(|a| a.as_str()).collect();
        let p = args.bind(list);
        conditions.push(format!("access = ANY({p}::text[])"));
    }
    if let Some(d) = &q.external_domain {
        let p = args.bind(format!(",{},", d.to_ascii_lowercase()));
        // The stored list is lowercase already; SQLite's LIKE would fold its ASCII letters.
        conditions.push(format!(
            "strpos(ascii_nocase(external_domains), ascii_nocase({p})) > 0"
        ));
    }
    if let Some(who) = &q.collaborator {
        let p = args.bind(like(who));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(body::jsonb -> 'collaborators') j \
             WHERE ascii_nocase(j ->> 'who') LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(f) = &q.folder {
        let p = args.bind(format!("{}/", f.trim_end_matches('/')));
        conditions.push(format!("left(path, char_length({p})) = {p}"));
    }
    if !q.include_folders {
        conditions.push("NOT folder".into());
    }
    let mut sql = "SELECT body FROM files".to_owned();
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    let p = args.bind(limit(q.limit));
    sql.push_str(&format!(
        " ORDER BY CASE access WHEN 'public' THEN 0 WHEN 'external' THEN 1 \
         WHEN 'internal' THEN 2 ELSE 3 END, tenant, drive_id, path LIMIT {p}"
    ));
    c.query(&sql, &args.refs())?
        .iter()
        .map(|r| read_item(&r.try_get::<_, String>(0)?))
        .collect()
}

/// [`Store::file`](crate::Store::file).
pub(super) fn file(
    c: &mut Client,
    tenant: &str,
    drive_id: &str,
    id: &str,
) -> Result<Option<FileItem>, StoreError> {
    match c.query_opt(
        "SELECT body FROM files WHERE tenant = $1 AND drive_id = $2 AND id = $3",
        &[&tenant, &drive_id, &id],
    )? {
        Some(r) => Ok(Some(read_item(&r.try_get::<_, String>(0)?)?)),
        None => Ok(None),
    }
}
