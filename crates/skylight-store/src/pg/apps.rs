//! OAuth apps in the PostgreSQL store (part of the directory): what a sync brings, reviews and
//! consent times kept across syncs. Behaves as the SQLite backend's apps, query by query.

use postgres::{Row, Transaction};
use skylight_model::PermissionLevel;

use super::super::*;
use super::{contains_pattern, limit};

/// An app from its body, with the review and consent times kept in columns.
fn read_app(r: &Row) -> Result<OAuthApp, StoreError> {
    let body: String = r.try_get(0)?;
    let mut app: OAuthApp =
        serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("oauth app: {e}")))?;
    app.review = AppReview::parse(&r.try_get::<_, String>(1)?);
    app.first_consent = r.try_get::<_, Option<i64>>(2)?.map(from_ns);
    app.last_consent = r.try_get::<_, Option<i64>>(3)?.map(from_ns);
    Ok(app)
}

/// Replaces a tenant's apps with those a sync read, in the sync's transaction: reviews and the
/// first consent time stay; the last consent time moves only when the grants changed.
pub(super) fn commit_apps(
    tx: &mut Transaction<'_>,
    tenant: &str,
    apps: &[OAuthApp],
    now: i64,
) -> Result<(), StoreError> {
    // SQLite's `id NOT IN (NULL)` for an empty list deletes nothing: an empty read keeps the
    // inventory there too.
    if !apps.is_empty() {
        let keep: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
        tx.execute(
            "DELETE FROM oauth_apps WHERE tenant = $1 AND NOT (id = ANY($2::text[]))",
            &[&tenant, &keep],
        )?;
    }
    let old_body = tx.prepare("SELECT body FROM oauth_apps WHERE tenant = $1 AND id = $2")?;
    let upsert = tx.prepare(
        "INSERT INTO oauth_apps (tenant, id, app_id, name, publisher, first_party, level, body, \
         first_ns, last_ns, synced_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
         ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, \
         name = excluded.name, publisher = excluded.publisher, \
         first_party = excluded.first_party, level = excluded.level, body = excluded.body, \
         first_ns = LEAST(oauth_apps.first_ns, excluded.first_ns), \
         last_ns = CASE WHEN $11::boolean \
         THEN GREATEST(coalesce(oauth_apps.last_ns, 0), excluded.last_ns) \
         ELSE oauth_apps.last_ns END, synced_ns = excluded.synced_ns",
    )?;
    for a in apps {
        let body =
            serde_json::to_string(a).map_err(|e| StoreError::Corrupt(format!("oauth app: {e}")))?;
        let before: Option<String> = match tx.query_opt(&old_body, &[&tenant, &a.id])? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        };
        let grants_changed = before
            .and_then(|b| serde_json::from_str::<OAuthApp>(&b).ok())
            .is_none_or(|old| old.permissions() != a.permissions());
        let seen = a.last_consent.or(a.first_consent).map(to_ns).unwrap_or(now);
        tx.execute(
            &upsert,
            &[
                &tenant,
                &a.id,
                &a.app_id,
                &a.name,
                &a.publisher,
                &a.first_party,
                &a.level.as_str(),
                &body,
                &a.first_consent.map(to_ns).unwrap_or(seen),
                &now,
                &grants_changed,
            ],
        )?;
    }
    Ok(())
}

/// [`Store::oauth_apps`](crate::Store::oauth_apps).
pub(in crate::pg) fn oauth_apps(c: &mut Client, q: &AppQuery) -> Result<Vec<OAuthApp>, StoreError> {
    let levels: Vec<&str> = [
        PermissionLevel::Low,
        PermissionLevel::Medium,
        PermissionLevel::High,
    ]
    .into_iter()
    .filter(|l| q.min_level.is_none_or(|m| *l >= m))
    .map(PermissionLevel::as_str)
    .collect();
    c.query(
        "SELECT body, review, first_ns, last_ns FROM oauth_apps \
         WHERE ($1::text IS NULL OR tenant = $1) \
         AND ($2::text IS NULL OR ascii_nocase(name) LIKE ascii_nocase($2) ESCAPE '\\' \
         OR ascii_nocase(app_id) LIKE ascii_nocase($2) ESCAPE '\\' \
         OR ascii_nocase(publisher) LIKE ascii_nocase($2) ESCAPE '\\') \
         AND level = ANY($3::text[]) AND ($4::boolean OR NOT first_party) \
         ORDER BY CASE level WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, \
         ascii_nocase(name) COLLATE \"C\", tenant, id LIMIT $5",
        &[
            &q.tenant,
            &q.search.as_deref().map(contains_pattern),
            &levels,
            &q.first_party,
            &limit(q.limit),
        ],
    )?
    .iter()
    .map(read_app)
    .collect()
}

/// [`Store::oauth_app`](crate::Store::oauth_app).
pub(in crate::pg) fn oauth_app(
    c: &mut Client,
    tenant: Option<&str>,
    key: &str,
) -> Result<Option<OAuthApp>, StoreError> {
    // SQLite takes the first row its scan meets; the key's order (tenant, id) is that scan's.
    c.query_opt(
        "SELECT body, review, first_ns, last_ns FROM oauth_apps \
         WHERE ($1::text IS NULL OR tenant = $1) AND (id = $2 \
         OR ascii_nocase(app_id) = ascii_nocase($2) OR ascii_nocase(name) = ascii_nocase($2)) \
         ORDER BY tenant, id LIMIT 1",
        &[&tenant, &key],
    )?
    .as_ref()
    .map(read_app)
    .transpose()
}

/// [`Store::set_app_review`](crate::Store::set_app_review).
pub(in crate::pg) fn set_app_review(
    c: &mut Client,
    tenant: &str,
    id: &str,
    review: AppReview,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE oauth_apps SET review = $3 WHERE tenant = $1 AND id = $2",
        &[&tenant, &id, &review.as_str()],
    )?;
    Ok(n > 0)
}
