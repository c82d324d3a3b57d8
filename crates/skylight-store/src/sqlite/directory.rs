//! The directory side of the SQLite store: users, groups with nested membership, directory
//! roles, OAuth apps, and the delta links that resume the sync.

use chrono::Utc;
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use skylight_model::{
    AppReview, DirectoryGroup, DirectoryUser, GroupKind, GroupMember, OAuthApp, PermissionLevel,
};

use super::{Inner, from_ns, to_ns};
use crate::{AppQuery, DirectoryChanges, DirectoryQuery, StoreError};

/// Separates role names in one column (a control character no display name holds).
const SEP: char = '\u{1f}';

const USER_COLUMNS: &str = "u.tenant, u.id, u.upn, u.display_name, u.mail, u.account_enabled, \
     u.user_type, u.on_premises_synced, u.created_ns, u.risk_level, u.risk_state, u.synced_ns, \
     (SELECT group_concat(r.display_name, char(31)) FROM role_members m JOIN directory_roles r \
      ON r.tenant = m.tenant AND r.id = m.role_id WHERE m.tenant = u.tenant AND m.member_id = u.id)";

/// Members reached from group `?2` of tenant `?1`, through nested groups (`UNION` stops cycles).
const REACH: &str = "WITH RECURSIVE reach(id) AS ( \
     SELECT member_id FROM group_members WHERE tenant = ?1 AND group_id = ?2 \
     UNION SELECT gm.member_id FROM group_members gm JOIN reach ON gm.group_id = reach.id \
     WHERE gm.tenant = ?1)";

fn read_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<DirectoryUser> {
    let roles: Option<String> = r.get(12)?;
    let mut roles: Vec<String> = roles
        .map(|s| s.split(SEP).map(str::to_owned).collect())
        .unwrap_or_default();
    roles.sort();
    Ok(DirectoryUser {
        tenant: r.get(0)?,
        id: r.get(1)?,
        upn: r.get(2)?,
        display_name: r.get(3)?,
        mail: r.get(4)?,
        account_enabled: r.get::<_, Option<bool>>(5)?,
        user_type: r.get(6)?,
        on_premises_synced: r.get(7)?,
        created: r.get::<_, Option<i64>>(8)?.map(from_ns),
        roles,
        risk_level: r.get(9)?,
        risk_state: r.get(10)?,
        synced: from_ns(r.get(11)?),
    })
}

const GROUP_COLUMNS: &str = "g.tenant, g.id, g.display_name, g.mail, g.kind, g.on_premises_synced, \
     g.synced_ns, (SELECT count(*) FROM group_members m WHERE m.tenant = g.tenant AND m.group_id = g.id)";

fn read_group(r: &rusqlite::Row<'_>) -> rusqlite::Result<DirectoryGroup> {
    let kind: String = r.get(4)?;
    Ok(DirectoryGroup {
        tenant: r.get(0)?,
        id: r.get(1)?,
        display_name: r.get(2)?,
        mail: r.get(3)?,
        kind: GroupKind::parse(&kind),
        on_premises_synced: r.get(5)?,
        direct_members: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        user_members: 0,
        synced: from_ns(r.get(6)?),
    })
}

fn read_app(r: &rusqlite::Row<'_>) -> Result<OAuthApp, StoreError> {
    let body: String = r.get(0)?;
    let mut app: OAuthApp =
        serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("oauth app: {e}")))?;
    app.review = AppReview::parse(&r.get::<_, String>(1)?);
    app.first_consent = r.get::<_, Option<i64>>(2)?.map(from_ns);
    app.last_consent = r.get::<_, Option<i64>>(3)?.map(from_ns);
    Ok(app)
}

/// `%text%` for a LIKE pattern, with LIKE's wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Inner {
    pub(super) fn commit_directory(
        &mut self,
        tenant: &str,
        c: &DirectoryChanges,
    ) -> Result<(), StoreError> {
        let now = to_ns(Utc::now());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO directory_users (tenant, id, upn, display_name, mail, account_enabled, \
                 user_type, on_premises_synced, created_ns, synced_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (tenant, id) DO UPDATE SET upn = excluded.upn, \
                 display_name = excluded.display_name, mail = excluded.mail, \
                 account_enabled = excluded.account_enabled, user_type = excluded.user_type, \
                 on_premises_synced = excluded.on_premises_synced, created_ns = excluded.created_ns, \
                 synced_ns = excluded.synced_ns",
            )?;
            for u in &c.users {
                upsert.execute(params![
                    tenant,
                    u.id,
                    u.upn,
                    u.display_name,
                    u.mail,
                    u.account_enabled,
                    u.user_type,
                    u.on_premises_synced,
                    u.created.map(to_ns),
                    now
                ])?;
            }
            let mut remove =
                tx.prepare_cached("DELETE FROM directory_users WHERE tenant = ?1 AND id = ?2")?;
            let mut memberships = tx
                .prepare_cached("DELETE FROM group_members WHERE tenant = ?1 AND member_id = ?2")?;
            for id in &c.removed_users {
                remove.execute(params![tenant, id])?;
                memberships.execute(params![tenant, id])?;
            }
        }
        if c.all_users {
            // A full enumeration: who it did not bring is gone, with their memberships. Kept
            // users keep their risk when this round could not read it.
            tx.execute(
                "DELETE FROM directory_users WHERE tenant = ?1 AND synced_ns <> ?2",
                params![tenant, now],
            )?;
            tx.execute(
                "DELETE FROM group_members WHERE tenant = ?1 AND kind = 'user' AND member_id NOT IN \
                 (SELECT id FROM directory_users WHERE tenant = ?1)",
                [tenant],
            )?;
            tx.execute(
                "DELETE FROM role_members WHERE tenant = ?1 AND member_id NOT IN \
                 (SELECT id FROM directory_users WHERE tenant = ?1)",
                [tenant],
            )?;
        }
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO directory_groups (tenant, id, display_name, mail, kind, \
                 on_premises_synced, synced_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (tenant, id) DO UPDATE SET display_name = excluded.display_name, \
                 mail = excluded.mail, kind = excluded.kind, \
                 on_premises_synced = excluded.on_premises_synced, synced_ns = excluded.synced_ns",
            )?;
            for g in &c.groups {
                upsert.execute(params![
                    tenant,
                    g.id,
                    g.display_name,
                    g.mail,
                    g.kind.as_str(),
                    g.on_premises_synced,
                    now
                ])?;
            }
            let mut remove =
                tx.prepare_cached("DELETE FROM directory_groups WHERE tenant = ?1 AND id = ?2")?;
            let mut members =
                tx.prepare_cached("DELETE FROM group_members WHERE tenant = ?1 AND group_id = ?2")?;
            let mut as_member = tx
                .prepare_cached("DELETE FROM group_members WHERE tenant = ?1 AND member_id = ?2")?;
            for id in &c.removed_groups {
                remove.execute(params![tenant, id])?;
                members.execute(params![tenant, id])?;
                as_member.execute(params![tenant, id])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO group_members (tenant, group_id, member_id, kind, name) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET kind = excluded.kind, \
                 name = excluded.name",
            )?;
            for (group, list) in &c.members {
                members.execute(params![tenant, group])?;
                for m in list {
                    insert.execute(params![tenant, group, m.id, m.kind, m.name])?;
                }
            }
        }
        if c.all_groups {
            tx.execute(
                "DELETE FROM directory_groups WHERE tenant = ?1 AND synced_ns <> ?2",
                params![tenant, now],
            )?;
            // Memberships of groups that no longer exist go with them.
            tx.execute(
                "DELETE FROM group_members WHERE tenant = ?1 AND group_id NOT IN \
                 (SELECT id FROM directory_groups WHERE tenant = ?1)",
                [tenant],
            )?;
        }
        if let Some(roles) = &c.roles {
            tx.execute("DELETE FROM directory_roles WHERE tenant = ?1", [tenant])?;
            tx.execute("DELETE FROM role_members WHERE tenant = ?1", [tenant])?;
            let mut role = tx.prepare_cached(
                "INSERT INTO directory_roles (tenant, id, display_name) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
            )?;
            let mut member = tx.prepare_cached(
                "INSERT INTO role_members (tenant, role_id, member_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
            )?;
            for r in roles {
                role.execute(params![tenant, r.id, r.name])?;
                for m in &r.members {
                    member.execute(params![tenant, r.id, m])?;
                }
            }
        }
        if let Some(risks) = &c.risks {
            tx.execute(
                "UPDATE directory_users SET risk_level = NULL, risk_state = NULL WHERE tenant = ?1",
                [tenant],
            )?;
            let mut set = tx.prepare_cached(
                "UPDATE directory_users SET risk_level = ?3, risk_state = ?4 \
                 WHERE tenant = ?1 AND id = ?2",
            )?;
            for r in risks {
                set.execute(params![tenant, r.user_id, r.level, r.state])?;
            }
        }
        if let Some(apps) = &c.apps {
            let keep: Vec<Sql> = apps.iter().map(|a| Sql::Text(a.id.clone())).collect();
            let placeholders = vec!["?"; keep.len()].join(",");
            let mut args = vec![Sql::Text(tenant.to_owned())];
            args.extend(keep);
            tx.execute(
                &format!(
                    "DELETE FROM oauth_apps WHERE tenant = ? AND id NOT IN ({})",
                    if placeholders.is_empty() {
                        "NULL"
                    } else {
                        &placeholders
                    }
                ),
                params_from_iter(args),
            )?;
            let mut old_body =
                tx.prepare_cached("SELECT body FROM oauth_apps WHERE tenant = ?1 AND id = ?2")?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO oauth_apps (tenant, id, app_id, name, level, body, first_ns, last_ns, \
                 synced_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) \
                 ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, \
                 name = excluded.name, level = excluded.level, body = excluded.body, \
                 first_ns = coalesce(min(first_ns, excluded.first_ns), first_ns, excluded.first_ns), \
                 last_ns = CASE WHEN ?9 THEN max(coalesce(last_ns, 0), excluded.last_ns) \
                 ELSE last_ns END, synced_ns = excluded.synced_ns",
            )?;
            for a in apps {
                let body = serde_json::to_string(a)
                    .map_err(|e| StoreError::Corrupt(format!("oauth app: {e}")))?;
                let before: Option<String> = old_body
                    .query_row(params![tenant, a.id], |r| r.get(0))
                    .optional()?;
                let grants_changed = before
                    .and_then(|b| serde_json::from_str::<OAuthApp>(&b).ok())
                    .is_none_or(|old| old.permissions() != a.permissions());
                let seen = a.last_consent.or(a.first_consent).map(to_ns).unwrap_or(now);
                upsert.execute(params![
                    tenant,
                    a.id,
                    a.app_id,
                    a.name,
                    a.level.as_str(),
                    body,
                    a.first_consent.map(to_ns).unwrap_or(seen),
                    now,
                    grants_changed
                ])?;
            }
        }
        {
            let mut cursor = tx.prepare_cached(
                "INSERT INTO directory_cursors (tenant, resource, link, updated_ns) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, resource) DO UPDATE SET \
                 link = excluded.link, updated_ns = excluded.updated_ns",
            )?;
            for (resource, link) in &c.cursors {
                cursor.execute(params![tenant, resource, link, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn directory_cursor(
        &self,
        tenant: &str,
        resource: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT link FROM directory_cursors WHERE tenant = ?1 AND resource = ?2",
            )?
            .query_row(params![tenant, resource], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    pub(super) fn directory_users(
        &self,
        q: &DirectoryQuery,
    ) -> Result<Vec<DirectoryUser>, StoreError> {
        let mut sql = String::new();
        let mut args: Vec<Sql> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        if let Some(group) = &q.group {
            // Every group of that id or name (one per tenant, if several tenants have it), then
            // everything reached from them.
            sql.push_str(
                "WITH RECURSIVE reach(tenant, id) AS ( \
                 SELECT m.tenant, m.member_id FROM group_members m JOIN directory_groups g \
                 ON g.tenant = m.tenant AND g.id = m.group_id \
                 WHERE g.id = ?1 OR g.display_name = ?1 COLLATE NOCASE \
                 UNION SELECT m.tenant, m.member_id FROM group_members m \
                 JOIN reach ON m.tenant = reach.tenant AND m.group_id = reach.id) ",
            );
            args.push(Sql::Text(group.clone()));
            conditions.push(
                "EXISTS (SELECT 1 FROM reach WHERE reach.tenant = u.tenant AND reach.id = u.id)"
                    .into(),
            );
        }
        sql.push_str(&format!("SELECT {USER_COLUMNS} FROM directory_users u"));
        if let Some(t) = &q.tenant {
            let p = bind(&mut args, Sql::Text(t.clone()));
            conditions.push(format!("u.tenant = {p}"));
        }
        if let Some(s) = &q.search {
            let p = bind(&mut args, Sql::Text(contains_pattern(s)));
            conditions.push(format!(
                "(u.upn LIKE {p} ESCAPE '\\' OR u.display_name LIKE {p} ESCAPE '\\' \
                 OR u.mail LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(e) = q.enabled {
            conditions.push(if e {
                "coalesce(u.account_enabled, 1) = 1".into()
            } else {
                "u.account_enabled = 0".into()
            });
        }
        if let Some(g) = q.guest {
            let guest = "(u.user_type = 'Guest' COLLATE NOCASE OR u.upn LIKE '%#EXT#%')";
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
        sql.push_str(" ORDER BY u.upn COLLATE NOCASE, u.tenant");
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), read_user)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn directory_user(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<DirectoryUser>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM directory_users u WHERE (?1 IS NULL OR u.tenant = ?1) \
                 AND (u.id = ?2 OR u.upn = ?2 COLLATE NOCASE) LIMIT 1"
            ))?
            .query_row(params![tenant, key], read_user)
            .optional()?)
    }

    /// Adds each group's count of users reached through nested groups.
    fn count_users(&self, groups: &mut [DirectoryGroup]) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{REACH} SELECT count(*) FROM directory_users WHERE tenant = ?1 \
             AND id IN (SELECT id FROM reach)"
        ))?;
        for g in groups {
            let n: i64 = stmt.query_row(params![g.tenant, g.id], |r| r.get(0))?;
            g.user_members = u32::try_from(n).unwrap_or(u32::MAX);
        }
        Ok(())
    }

    pub(super) fn directory_groups(
        &self,
        q: &DirectoryQuery,
    ) -> Result<Vec<DirectoryGroup>, StoreError> {
        let mut sql = format!(
            "SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE (?1 IS NULL OR g.tenant = ?1) \
             AND (?2 IS NULL OR g.display_name LIKE ?2 ESCAPE '\\' OR g.mail LIKE ?2 ESCAPE '\\') \
             AND (?3 IS NULL OR g.kind = ?3) ORDER BY g.display_name COLLATE NOCASE, g.tenant"
        );
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut groups: Vec<DirectoryGroup> = self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![
                    q.tenant,
                    q.search.as_deref().map(contains_pattern),
                    q.kind.map(GroupKind::as_str)
                ],
                read_group,
            )?
            .collect::<Result<_, _>>()?;
        self.count_users(&mut groups)?;
        Ok(groups)
    }

    pub(super) fn group_members(
        &self,
        tenant: &str,
        group_id: &str,
        transitive: bool,
    ) -> Result<Vec<GroupMember>, StoreError> {
        let sql = if transitive {
            format!(
                "{REACH} SELECT m.member_id, m.kind, m.name FROM group_members m \
                 WHERE m.tenant = ?1 AND m.kind = 'user' AND m.member_id IN (SELECT id FROM reach) \
                 GROUP BY m.member_id ORDER BY m.name COLLATE NOCASE, m.member_id"
            )
        } else {
            "SELECT member_id, kind, name FROM group_members WHERE tenant = ?1 AND group_id = ?2 \
             ORDER BY kind, name COLLATE NOCASE, member_id"
                .to_owned()
        };
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![tenant, group_id], |r| {
                Ok(GroupMember {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub(super) fn user_groups(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<DirectoryGroup>, StoreError> {
        let mut groups: Vec<DirectoryGroup> = self
            .conn
            .prepare_cached(&format!(
                "WITH RECURSIVE up(id) AS ( \
                 SELECT group_id FROM group_members WHERE tenant = ?1 AND member_id = ?2 \
                 UNION SELECT gm.group_id FROM group_members gm JOIN up ON gm.member_id = up.id \
                 WHERE gm.tenant = ?1) \
                 SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE g.tenant = ?1 \
                 AND g.id IN (SELECT id FROM up) ORDER BY g.display_name COLLATE NOCASE"
            ))?
            .query_map(params![tenant, user_id], read_group)?
            .collect::<Result<_, _>>()?;
        self.count_users(&mut groups)?;
        Ok(groups)
    }

    pub(super) fn oauth_apps(&self, q: &AppQuery) -> Result<Vec<OAuthApp>, StoreError> {
        let levels: Vec<&str> = [
            PermissionLevel::Low,
            PermissionLevel::Medium,
            PermissionLevel::High,
        ]
        .into_iter()
        .filter(|l| q.min_level.is_none_or(|m| *l >= m))
        .map(PermissionLevel::as_str)
        .collect();
        let mut sql = format!(
            "SELECT body, review, first_ns, last_ns FROM oauth_apps WHERE (?1 IS NULL OR tenant = ?1) \
             AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\' OR app_id LIKE ?2 ESCAPE '\\' \
             OR json_extract(body, '$.publisher') LIKE ?2 ESCAPE '\\') \
             AND level IN ({}) AND (?3 OR json_extract(body, '$.first_party') = 0) \
             ORDER BY CASE level WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, \
             name COLLATE NOCASE",
            levels
                .iter()
                .map(|l| format!("'{l}'"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if q.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", q.limit));
        }
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![
            q.tenant,
            q.search.as_deref().map(contains_pattern),
            q.first_party
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read_app(r)?);
        }
        Ok(out)
    }

    pub(super) fn oauth_app(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<OAuthApp>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body, review, first_ns, last_ns FROM oauth_apps WHERE (?1 IS NULL OR tenant = ?1) \
             AND (id = ?2 OR app_id = ?2 COLLATE NOCASE OR name = ?2 COLLATE NOCASE) LIMIT 1",
        )?;
        let mut rows = stmt.query(params![tenant, key])?;
        match rows.next()? {
            Some(r) => Ok(Some(read_app(r)?)),
            None => Ok(None),
        }
    }

    pub(super) fn set_directory_status(
        &self,
        status: &skylight_model::DirectorySyncStatus,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(status)
            .map_err(|e| StoreError::Corrupt(format!("directory status: {e}")))?;
        self.conn
            .prepare_cached(
                "INSERT INTO directory_status (tenant, body, updated_ns) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (tenant) DO UPDATE SET body = excluded.body, \
                 updated_ns = excluded.updated_ns",
            )?
            .execute(params![status.tenant, body, to_ns(Utc::now())])?;
        Ok(())
    }

    pub(super) fn directory_statuses(
        &self,
    ) -> Result<Vec<skylight_model::DirectorySyncStatus>, StoreError> {
        let bodies: Vec<String> = self
            .conn
            .prepare_cached("SELECT body FROM directory_status ORDER BY tenant")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        bodies
            .iter()
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| StoreError::Corrupt(format!("directory status: {e}")))
            })
            .collect()
    }

    pub(super) fn set_app_review(
        &self,
        tenant: &str,
        id: &str,
        review: AppReview,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE oauth_apps SET review = ?3 WHERE tenant = ?1 AND id = ?2")?
            .execute(params![tenant, id, review.as_str()])?;
        Ok(n > 0)
    }
}

/// Adds a value to the arguments and returns its placeholder.
fn bind(args: &mut Vec<Sql>, v: Sql) -> String {
    args.push(v);
    format!("?{}", args.len())
}
