//! The directory side of the PostgreSQL store: users, groups with nested membership, directory
//! roles, the delta links that resume the sync and each tenant's sync status (OAuth apps are in
//! `apps.rs`). Behaves as the SQLite backend's `sqlite/directory.rs`, query by query.

use postgres::Row;
use postgres::types::ToSql;
use skylight_model::GroupKind;

use super::*;

/// OAuth apps, in a file of their own (`pg/apps.rs`) for size.
#[path = "apps.rs"]
mod apps;

pub(super) use apps::{oauth_app, oauth_apps, set_app_review};

/// Namespace (first key) of the advisory locks that serialise one tenant's directory commits:
/// two processes syncing the same tenant take turns instead of deadlocking on each other's rows.
const DIRECTORY_LOCK: i32 = 0x6469_7201;

/// A user row with its role names (sorted after reading, as SQLite does).
const USER_COLUMNS: &str = "u.tenant, u.id, u.upn, u.display_name, u.mail, u.account_enabled, \
     u.user_type, u.on_premises_synced, u.created_ns, u.risk_level, u.risk_state, u.synced_ns, \
     ARRAY(SELECT r.display_name FROM role_members m JOIN directory_roles r \
      ON r.tenant = m.tenant AND r.id = m.role_id WHERE m.tenant = u.tenant AND m.member_id = u.id)";

/// Members reached from group `$2` of tenant `$1`, through nested groups (`UNION` stops cycles).
const REACH: &str = "WITH RECURSIVE reach(id) AS ( \
     SELECT member_id FROM group_members WHERE tenant = $1 AND group_id = $2 \
     UNION SELECT gm.member_id FROM group_members gm JOIN reach ON gm.group_id = reach.id \
     WHERE gm.tenant = $1)";

/// A group row with its count of direct members.
const GROUP_COLUMNS: &str = "g.tenant, g.id, g.display_name, g.mail, g.kind, g.on_premises_synced, \
     g.synced_ns, (SELECT count(*) FROM group_members m WHERE m.tenant = g.tenant AND m.group_id = g.id)";

/// Bind parameters of a query built piece by piece: every user value goes through here.
#[derive(Default)]
pub(super) struct Args {
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Args {
    /// Adds a value and returns its placeholder (`$n`).
    pub(super) fn bind(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    /// The values, as the client takes them.
    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| v.as_ref()).collect()
    }
}

/// A list's limit as a `LIMIT` parameter: `NULL` (no limit) for 0.
pub(super) fn limit(n: usize) -> Option<i64> {
    (n > 0).then(|| to_count(n as u64))
}

/// `%text%` for a LIKE pattern, with LIKE's wildcards taken literally (with `ESCAPE '\'`).
pub(super) fn contains_pattern(text: &str) -> String {
    format!("%{}%", escape_like(text))
}

/// LIKE's wildcards and escape taken literally (with `ESCAPE '\'`).
pub(super) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A user from a row of `USER_COLUMNS`.
fn read_user(r: &Row) -> Result<DirectoryUser, StoreError> {
    let mut roles: Vec<String> = r.try_get(12)?;
    roles.sort();
    Ok(DirectoryUser {
        tenant: r.try_get(0)?,
        id: r.try_get(1)?,
        upn: r.try_get(2)?,
        display_name: r.try_get(3)?,
        mail: r.try_get(4)?,
        account_enabled: r.try_get(5)?,
        user_type: r.try_get(6)?,
        on_premises_synced: r.try_get(7)?,
        created: r.try_get::<_, Option<i64>>(8)?.map(from_ns),
        roles,
        risk_level: r.try_get(9)?,
        risk_state: r.try_get(10)?,
        synced: from_ns(r.try_get(11)?),
    })
}

/// A group from a row of `GROUP_COLUMNS` (nested users counted apart).
fn read_group(r: &Row) -> Result<DirectoryGroup, StoreError> {
    let kind: String = r.try_get(4)?;
    Ok(DirectoryGroup {
        tenant: r.try_get(0)?,
        id: r.try_get(1)?,
        display_name: r.try_get(2)?,
        mail: r.try_get(3)?,
        kind: GroupKind::parse(&kind),
        on_premises_synced: r.try_get(5)?,
        direct_members: u32::try_from(r.try_get::<_, i64>(7)?).unwrap_or(u32::MAX),
        user_members: 0,
        synced: from_ns(r.try_get(6)?),
    })
}

/// [`Store::commit_directory`](crate::Store::commit_directory).
pub(super) fn commit_directory(
    c: &mut Client,
    tenant: &str,
    ch: &DirectoryChanges,
) -> Result<(), StoreError> {
    let now = to_ns(Utc::now());
    let mut tx = c.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&DIRECTORY_LOCK, &tenant],
    )?;
    let upsert = tx.prepare(
        "INSERT INTO directory_users (tenant, id, upn, display_name, mail, account_enabled, \
         user_type, on_premises_synced, created_ns, synced_ns) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (tenant, id) DO UPDATE SET upn = excluded.upn, \
         display_name = excluded.display_name, mail = excluded.mail, \
         account_enabled = excluded.account_enabled, user_type = excluded.user_type, \
         on_premises_synced = excluded.on_premises_synced, created_ns = excluded.created_ns, \
         synced_ns = excluded.synced_ns",
    )?;
    // Rows one by one, in order: the last occurrence of an object in a round wins.
    for u in &ch.users {
        tx.execute(
            &upsert,
            &[
                &tenant,
                &u.id,
                &u.upn,
                &u.display_name,
                &u.mail,
                &u.account_enabled,
                &u.user_type,
                &u.on_premises_synced,
                &u.created.map(to_ns),
                &now,
            ],
        )?;
    }
    if !ch.removed_users.is_empty() {
        let remove = tx.prepare("DELETE FROM directory_users WHERE tenant = $1 AND id = $2")?;
        let memberships =
            tx.prepare("DELETE FROM group_members WHERE tenant = $1 AND member_id = $2")?;
        for id in &ch.removed_users {
            tx.execute(&remove, &[&tenant, id])?;
            tx.execute(&memberships, &[&tenant, id])?;
        }
    }
    if ch.all_users {
        // A full enumeration: who it did not bring is gone, with their memberships. Kept users
        // keep their risk when this round could not read it (the upsert leaves it alone).
        tx.execute(
            "DELETE FROM directory_users WHERE tenant = $1 AND synced_ns <> $2",
            &[&tenant, &now],
        )?;
        tx.execute(
            "DELETE FROM group_members m WHERE m.tenant = $1 AND m.kind = 'user' AND NOT EXISTS \
             (SELECT 1 FROM directory_users u WHERE u.tenant = $1 AND u.id = m.member_id)",
            &[&tenant],
        )?;
        tx.execute(
            "DELETE FROM role_members m WHERE m.tenant = $1 AND NOT EXISTS \
             (SELECT 1 FROM directory_users u WHERE u.tenant = $1 AND u.id = m.member_id)",
            &[&tenant],
        )?;
    }
    let upsert = tx.prepare(
        "INSERT INTO directory_groups (tenant, id, display_name, mail, kind, \
         on_premises_synced, synced_ns) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant, id) DO UPDATE SET display_name = excluded.display_name, \
         mail = excluded.mail, kind = excluded.kind, \
         on_premises_synced = excluded.on_premises_synced, synced_ns = excluded.synced_ns",
    )?;
    for g in &ch.groups {
        tx.execute(
            &upsert,
            &[
                &tenant,
                &g.id,
                &g.display_name,
                &g.mail,
                &g.kind.as_str(),
                &g.on_premises_synced,
                &now,
            ],
        )?;
    }
    let members = tx.prepare("DELETE FROM group_members WHERE tenant = $1 AND group_id = $2")?;
    if !ch.removed_groups.is_empty() {
        let remove = tx.prepare("DELETE FROM directory_groups WHERE tenant = $1 AND id = $2")?;
        let as_member =
            tx.prepare("DELETE FROM group_members WHERE tenant = $1 AND member_id = $2")?;
        for id in &ch.removed_groups {
            tx.execute(&remove, &[&tenant, id])?;
            tx.execute(&members, &[&tenant, id])?;
            tx.execute(&as_member, &[&tenant, id])?;
        }
    }
    if !ch.members.is_empty() {
        let insert = tx.prepare(
            "INSERT INTO group_members (tenant, group_id, member_id, kind, name) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, group_id, member_id) \
             DO UPDATE SET kind = excluded.kind, name = excluded.name",
        )?;
        for (group, list) in &ch.members {
            tx.execute(&members, &[&tenant, group])?;
            for m in list {
                tx.execute(&insert, &[&tenant, group, &m.id, &m.kind, &m.name])?;
            }
        }
    }
    if ch.all_groups {
        tx.execute(
            "DELETE FROM directory_groups WHERE tenant = $1 AND synced_ns <> $2",
            &[&tenant, &now],
        )?;
        // Memberships of groups that no longer exist go with them.
        tx.execute(
            "DELETE FROM group_members m WHERE m.tenant = $1 AND NOT EXISTS \
             (SELECT 1 FROM directory_groups g WHERE g.tenant = $1 AND g.id = m.group_id)",
            &[&tenant],
        )?;
    }
    if let Some(roles) = &ch.roles {
        tx.execute("DELETE FROM directory_roles WHERE tenant = $1", &[&tenant])?;
        tx.execute("DELETE FROM role_members WHERE tenant = $1", &[&tenant])?;
        let role = tx.prepare(
            "INSERT INTO directory_roles (tenant, id, display_name) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )?;
        let member = tx.prepare(
            "INSERT INTO role_members (tenant, role_id, member_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )?;
        for r in roles {
            tx.execute(&role, &[&tenant, &r.id, &r.name])?;
            for m in &r.members {
                tx.execute(&member, &[&tenant, &r.id, m])?;
            }
        }
    }
    if let Some(risks) = &ch.risks {
        tx.execute(
            "UPDATE directory_users SET risk_level = NULL, risk_state = NULL WHERE tenant = $1",
            &[&tenant],
        )?;
        let set = tx.prepare(
            "UPDATE directory_users SET risk_level = $3, risk_state = $4 \
             WHERE tenant = $1 AND id = $2",
        )?;
        for r in risks {
            tx.execute(&set, &[&tenant, &r.user_id, &r.level, &r.state])?;
        }
    }
    if let Some(list) = &ch.apps {
        apps::commit_apps(&mut tx, tenant, list, now)?;
    }
    if !ch.cursors.is_empty() {
        let cursor = tx.prepare(
            "INSERT INTO directory_cursors (tenant, resource, link, updated_ns) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, resource) DO UPDATE SET \
             link = excluded.link, updated_ns = excluded.updated_ns",
        )?;
        for (resource, link) in &ch.cursors {
            tx.execute(&cursor, &[&tenant, resource, link, &now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// [`Store::directory_cursor`](crate::Store::directory_cursor).
pub(super) fn directory_cursor(
    c: &mut Client,
    tenant: &str,
    resource: &str,
) -> Result<Option<String>, StoreError> {
    let row = c.query_opt(
        "SELECT link FROM directory_cursors WHERE tenant = $1 AND resource = $2",
        &[&tenant, &resource],
    )?;
    Ok(match row {
        Some(r) => r.try_get::<_, Option<String>>(0)?,
        None => None,
    })
}

/// [`Store::directory_users`](crate::Store::directory_users).
pub(super) fn directory_users(
    c: &mut Client,
    q: &DirectoryQuery,
) -> Result<Vec<DirectoryUser>, StoreError> {
    let mut sql = String::new();
    let mut args = Args::default();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(group) = &q.group {
        // Every group of that id or name (one per tenant, if several tenants have it), then
        // everything reached from them.
        let p = args.bind(group.clone());
        sql.push_str(&format!(
            "WITH RECURSIVE reach(tenant, id) AS ( \
             SELECT m.tenant, m.member_id FROM group_members m JOIN directory_groups g \
             ON g.tenant = m.tenant AND g.id = m.group_id \
             WHERE g.id = {p} OR ascii_nocase(g.display_name) = ascii_nocase({p}) \
             UNION SELECT m.tenant, m.member_id FROM group_members m \
             JOIN reach ON m.tenant = reach.tenant AND m.group_id = reach.id) "
        ));
        conditions.push(
            "EXISTS (SELECT 1 FROM reach WHERE reach.tenant = u.tenant AND reach.id = u.id)".into(),
        );
    }
    sql.push_str(&format!("SELECT {USER_COLUMNS} FROM directory_users u"));
    if let Some(t) = &q.tenant {
        let p = args.bind(t.clone());
        conditions.push(format!("u.tenant = {p}"));
    }
    if let Some(s) = &q.search {
        let p = args.bind(contains_pattern(s));
        conditions.push(format!(
            "(ascii_nocase(u.upn) LIKE ascii_nocase({p}) ESCAPE '\\' \
             OR ascii_nocase(u.display_name) LIKE ascii_nocase({p}) ESCAPE '\\' \
             OR ascii_nocase(u.mail) LIKE ascii_nocase({p}) ESCAPE '\\')"
        ));
    }
    if let Some(e) = q.enabled {
        conditions.push(if e {
            "coalesce(u.account_enabled, true)".into()
        } else {
            "u.account_enabled = false".into()
        });
    }
    if let Some(g) = q.guest {
        let guest = "(ascii_nocase(u.user_type) = 'guest' OR ascii_nocase(u.upn) LIKE '%#ext#%')";
        conditions.push(if g {
            guest.to_owned()
        } else {
            format!("NOT {guest}")
        });
    }
    if let Some(a) = q.admin {
        let admin = "EXISTS (SELECT 1 FROM role_members m WHERE m.tenant = u.tenant \
                     AND m.member_id = u.id)";
        conditions.push(if a {
            admin.to_owned()
        } else {
            format!("NOT {admin}")
        });
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    let p = args.bind(limit(q.limit));
    sql.push_str(&format!(
        " ORDER BY ascii_nocase(u.upn) COLLATE \"C\", u.tenant LIMIT {p}"
    ));
    c.query(&sql, &args.refs())?.iter().map(read_user).collect()
}

/// [`Store::directory_user`](crate::Store::directory_user).
pub(super) fn directory_user(
    c: &mut Client,
    tenant: Option<&str>,
    key: &str,
) -> Result<Option<DirectoryUser>, StoreError> {
    // SQLite takes the first row its scan meets; the key's order (tenant, id) is that scan's.
    c.query_opt(
        &format!(
            "SELECT {USER_COLUMNS} FROM directory_users u \
             WHERE ($1::text IS NULL OR u.tenant = $1) \
             AND (u.id = $2 OR ascii_nocase(u.upn) = ascii_nocase($2)) \
             ORDER BY u.tenant, u.id LIMIT 1"
        ),
        &[&tenant, &key],
    )?
    .as_ref()
    .map(read_user)
    .transpose()
}

/// Adds each group's count of users reached through nested groups.
fn count_users(c: &mut Client, groups: &mut [DirectoryGroup]) -> Result<(), StoreError> {
    if groups.is_empty() {
        return Ok(());
    }
    let stmt = c.prepare(&format!(
        "{REACH} SELECT count(*) FROM directory_users WHERE tenant = $1 \
         AND id IN (SELECT id FROM reach)"
    ))?;
    for g in groups {
        let n: i64 = c.query_one(&stmt, &[&g.tenant, &g.id])?.try_get(0)?;
        g.user_members = u32::try_from(n).unwrap_or(u32::MAX);
    }
    Ok(())
}

/// [`Store::directory_groups`](crate::Store::directory_groups).
pub(super) fn directory_groups(
    c: &mut Client,
    q: &DirectoryQuery,
) -> Result<Vec<DirectoryGroup>, StoreError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE ($1::text IS NULL OR g.tenant = $1) \
         AND ($2::text IS NULL OR ascii_nocase(g.display_name) LIKE ascii_nocase($2) ESCAPE '\\' \
         OR ascii_nocase(g.mail) LIKE ascii_nocase($2) ESCAPE '\\') \
         AND ($3::text IS NULL OR g.kind = $3) \
         ORDER BY ascii_nocase(g.display_name) COLLATE \"C\", g.tenant LIMIT $4"
    );
    let mut groups: Vec<DirectoryGroup> = c
        .query(
            &sql,
            &[
                &q.tenant,
                &q.search.as_deref().map(contains_pattern),
                &q.kind.map(GroupKind::as_str),
                &limit(q.limit),
            ],
        )?
        .iter()
        .map(read_group)
        .collect::<Result<_, _>>()?;
    count_users(c, &mut groups)?;
    Ok(groups)
}

/// [`Store::group_members`](crate::Store::group_members).
pub(super) fn group_members(
    c: &mut Client,
    tenant: &str,
    group_id: &str,
    transitive: bool,
) -> Result<Vec<GroupMember>, StoreError> {
    let sql = if transitive {
        // One row per user, whichever group lists them (SQLite's bare columns of a GROUP BY:
        // its scan of the member index meets the greatest group id last).
        format!(
            "{REACH} SELECT member_id, kind, name FROM ( \
             SELECT DISTINCT ON (m.member_id) m.member_id, m.kind, m.name, m.group_id \
             FROM group_members m WHERE m.tenant = $1 AND m.kind = 'user' \
             AND m.member_id IN (SELECT id FROM reach) \
             ORDER BY m.member_id, m.group_id DESC) x \
             ORDER BY ascii_nocase(name) COLLATE \"C\" NULLS FIRST, member_id"
        )
    } else {
        "SELECT member_id, kind, name FROM group_members WHERE tenant = $1 AND group_id = $2 \
         ORDER BY kind, ascii_nocase(name) COLLATE \"C\" NULLS FIRST, member_id"
            .to_owned()
    };
    c.query(&sql, &[&tenant, &group_id])?
        .iter()
        .map(|r| {
            Ok(GroupMember {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                name: r.try_get(2)?,
            })
        })
        .collect()
}

/// [`Store::user_groups`](crate::Store::user_groups).
pub(super) fn user_groups(
    c: &mut Client,
    tenant: &str,
    user_id: &str,
) -> Result<Vec<DirectoryGroup>, StoreError> {
    let mut groups: Vec<DirectoryGroup> = c
        .query(
            &format!(
                "WITH RECURSIVE up(id) AS ( \
                 SELECT group_id FROM group_members WHERE tenant = $1 AND member_id = $2 \
                 UNION SELECT gm.group_id FROM group_members gm JOIN up ON gm.member_id = up.id \
                 WHERE gm.tenant = $1) \
                 SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE g.tenant = $1 \
                 AND g.id IN (SELECT id FROM up) \
                 ORDER BY ascii_nocase(g.display_name) COLLATE \"C\", g.id"
            ),
            &[&tenant, &user_id],
        )?
        .iter()
        .map(read_group)
        .collect::<Result<_, _>>()?;
    count_users(c, &mut groups)?;
    Ok(groups)
}

/// [`Store::set_directory_status`](crate::Store::set_directory_status).
pub(super) fn set_directory_status(
    c: &mut Client,
    status: &DirectorySyncStatus,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(status)
        .map_err(|e| StoreError::Corrupt(format!("directory status: {e}")))?;
    c.execute(
        "INSERT INTO directory_status (tenant, body, updated_ns) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant) DO UPDATE SET body = excluded.body, updated_ns = excluded.updated_ns",
        &[&status.tenant, &body, &to_ns(Utc::now())],
    )?;
    Ok(())
}

/// [`Store::directory_statuses`](crate::Store::directory_statuses).
pub(super) fn directory_statuses(c: &mut Client) -> Result<Vec<DirectorySyncStatus>, StoreError> {
    c.query("SELECT body FROM directory_status ORDER BY tenant", &[])?
        .iter()
        .map(|r| {
            let body: String = r.try_get(0)?;
            serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("directory status: {e}")))
        })
        .collect()
}
