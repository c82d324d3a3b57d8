//! Console settings in the PostgreSQL store. Behaves as the SQLite backend's
//! `sqlite/settings.rs`.

use super::*;
use crate::settings::Setting;

pub(super) fn setting(c: &mut Client, key: &str) -> Result<Option<Setting>, StoreError> {
    let row = c.query_opt(
        "SELECT key, value, version, updated_ns, updated_by FROM settings WHERE key = $1",
        &[&key],
    )?;
    Ok(row.map(|r| Setting {
        key: r.get(0),
        value: r.get(1),
        version: r.get(2),
        updated_at: from_ns(r.get(3)),
        updated_by: r.get(4),
    }))
}

pub(super) fn put_setting(
    c: &mut Client,
    key: &str,
    value: &str,
    expected: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let changed = if expected == 0 {
        c.execute(
            "INSERT INTO settings (key, value, version, updated_ns, updated_by) \
             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (key) DO NOTHING",
            &[&key, &value, &to_ns(now), &by],
        )?
    } else {
        c.execute(
            "UPDATE settings SET value = $2, version = version + 1, updated_ns = $3, \
             updated_by = $4 WHERE key = $1 AND version = $5",
            &[&key, &value, &to_ns(now), &by, &expected],
        )?
    };
    Ok((changed == 1).then_some(expected + 1))
}
