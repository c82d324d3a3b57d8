//! Collection on PostgreSQL: the bookkeeping around commits (done blobs, watermarks, gaps,
//! quarantine, connector statuses) and reading stored records back. Commits are in `commit`.

use skylight_model::ConnectorState;

use super::commit::{len_i64, mark_done};
use super::*;
use crate::batch::record_in_chunk;
use crate::convert::{DAY_NS, ledger_day};

/// [`Store::record_gap`](crate::Store::record_gap).
pub(super) fn record_gap(c: &mut Client, gap: &Gap) -> Result<(), StoreError> {
    let code = ct_code(gap.content_type);
    let mut tx = c.transaction()?;
    tx.execute(
        "INSERT INTO gaps (tenant, content_type, content_id, created_ns, reason, detected_ns) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[
            &gap.tenant,
            &code,
            &gap.content_id,
            &to_ns(gap.created),
            &gap.reason,
            &to_ns(gap.detected_at),
        ],
    )?;
    mark_done(
        &mut tx,
        &gap.tenant,
        code,
        &gap.content_id,
        gap.created,
        None,
    )?;
    tx.commit()?;
    Ok(())
}

/// [`Store::quarantine`](crate::Store::quarantine).
pub(super) fn quarantine(
    c: &mut Client,
    tenant: &str,
    source: &str,
    reason: &str,
    raw: &[u8],
) -> Result<(), StoreError> {
    let packed = zstd::bulk::compress(raw, 3)
        .map_err(|e| StoreError::Corrupt(format!("cannot compress a quarantined record: {e}")))?;
    c.execute(
        "INSERT INTO quarantine (tenant, source, reason, raw, raw_len, at_ns) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&tenant, &source, &reason, &packed, &len_i64(raw.len()), &to_ns(Utc::now())],
    )?;
    Ok(())
}

/// [`Store::done_blobs`](crate::Store::done_blobs).
pub(super) fn done_blobs(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
    since: DateTime<Utc>,
) -> Result<HashSet<String>, StoreError> {
    let rows = c.query(
        "SELECT content_id FROM done_blobs WHERE tenant = $1 AND content_type = $2 AND created_ns >= $3",
        &[&tenant, &ct_code(ct), &to_ns(since)],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// [`Store::prune_done`](crate::Store::prune_done).
pub(super) fn prune_done(c: &mut Client, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(c.execute(
        "DELETE FROM done_blobs WHERE created_ns < $1",
        &[&to_ns(before)],
    )?)
}

/// [`Store::watermark`](crate::Store::watermark).
pub(super) fn watermark(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row = c.query_opt(
        "SELECT ts_ns FROM watermarks WHERE tenant = $1 AND content_type = $2",
        &[&tenant, &ct_code(ct)],
    )?;
    Ok(row.map(|r| from_ns(r.get(0))))
}

/// [`Store::set_watermark`](crate::Store::set_watermark).
pub(super) fn set_watermark(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO watermarks (tenant, content_type, ts_ns) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant, content_type) DO UPDATE SET ts_ns = excluded.ts_ns",
        &[&tenant, &ct_code(ct), &to_ns(at)],
    )?;
    Ok(())
}

/// [`Store::content_counts`](crate::Store::content_counts).
pub(super) fn content_counts(
    c: &mut Client,
    tenant: &str,
    ct: ContentType,
) -> Result<(u64, u64, u64), StoreError> {
    let row = c.query_one(
        "SELECT \
         (SELECT coalesce(sum(records), 0)::int8 FROM record_counts \
          WHERE tenant_id = (SELECT id FROM tenants WHERE name = $1) AND content_type = $2), \
         (SELECT count(*) FROM done_blobs WHERE tenant = $1 AND content_type = $2 AND records IS NOT NULL), \
         (SELECT count(*) FROM gaps WHERE tenant = $1 AND content_type = $2)",
        &[&tenant, &ct_code(ct)],
    )?;
    Ok((
        from_count(row.get(0), "record count")?,
        from_count(row.get(1), "blob count")?,
        from_count(row.get(2), "gap count")?,
    ))
}

/// [`Store::record_count`](crate::Store::record_count).
pub(super) fn record_count(c: &mut Client, tenant: Option<&str>) -> Result<u64, StoreError> {
    let n: i64 = c
        .query_one(
            "SELECT coalesce(sum(records), 0)::int8 FROM record_counts \
             WHERE $1::text IS NULL OR tenant_id = (SELECT id FROM tenants WHERE name = $1)",
            &[&tenant],
        )?
        .get(0);
    from_count(n, "record count")
}

/// [`Store::record_ids`](crate::Store::record_ids).
pub(super) fn record_ids(
    c: &mut Client,
    tenant: &str,
    ct: Option<ContentType>,
) -> Result<Vec<String>, StoreError> {
    let rows = c.query(
        "SELECT record_key FROM records WHERE tenant_id = (SELECT id FROM tenants WHERE name = $1) \
         AND ($2::int2 IS NULL OR content_type = $2) ORDER BY seq",
        &[&tenant, &ct.map(ct_code)],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// [`Store::raw_record`](crate::Store::raw_record).
pub(super) fn raw_record(
    c: &mut Client,
    tenant: &str,
    id: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = c.query_opt(
        "SELECT ch.data, ch.raw_len, r.chunk_pos FROM records r JOIN raw_chunks ch ON ch.id = r.chunk_id \
         WHERE r.record_key = $2 AND r.tenant_id = (SELECT id FROM tenants WHERE name = $1) \
         ORDER BY r.creation_ms, r.seq LIMIT 1",
        &[&tenant, &id],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let what = format!("record {id} of tenant {tenant}");
    record_in_chunk(
        row.get(0),
        row.get(1),
        i64::from(row.get::<_, i32>(2)),
        &what,
    )
    .map(Some)
}

/// [`Store::gaps`](crate::Store::gaps).
pub(super) fn gaps(c: &mut Client, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
    let rows = c.query(
        "SELECT tenant, content_type, content_id, created_ns, reason, detected_ns FROM gaps \
         WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, content_type, created_ns, content_id",
        &[&tenant],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Gap {
                tenant: r.get(0),
                content_type: ct_from_code(r.get(1))?,
                content_id: r.get(2),
                created: from_ns(r.get(3)),
                reason: r.get(4),
                detected_at: from_ns(r.get(5)),
            })
        })
        .collect()
}

/// [`Store::quarantined`](crate::Store::quarantined).
pub(super) fn quarantined(c: &mut Client) -> Result<u64, StoreError> {
    let n: i64 = c.query_one("SELECT count(*) FROM quarantine", &[])?.get(0);
    from_count(n, "quarantine count")
}

fn state_name(state: ConnectorState) -> &'static str {
    match state {
        ConnectorState::Pending => "pending",
        ConnectorState::Backfilling => "backfilling",
        ConnectorState::Healthy => "healthy",
        ConnectorState::Error => "error",
    }
}

fn state_from_name(name: &str) -> Result<ConnectorState, StoreError> {
    Ok(match name {
        "pending" => ConnectorState::Pending,
        "backfilling" => ConnectorState::Backfilling,
        "healthy" => ConnectorState::Healthy,
        "error" => ConnectorState::Error,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "unknown connector state {name:?}"
            )));
        }
    })
}

/// [`Store::set_status`](crate::Store::set_status).
pub(super) fn set_status(c: &mut Client, s: &ConnectorStatus) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO statuses (tenant, content_type, state, last_success_ns, watermark_ns, records, blobs, gaps, \
         last_error, remediation, updated_ns, clock_offset_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (tenant, content_type) DO UPDATE SET state = excluded.state, \
         last_success_ns = excluded.last_success_ns, watermark_ns = excluded.watermark_ns, \
         records = excluded.records, blobs = excluded.blobs, gaps = excluded.gaps, \
         last_error = excluded.last_error, remediation = excluded.remediation, updated_ns = excluded.updated_ns, \
         clock_offset_ms = excluded.clock_offset_ms",
        &[
            &s.tenant,
            &ct_code(s.content_type),
            &state_name(s.state),
            &s.last_success.map(to_ns),
            &s.watermark.map(to_ns),
            &to_count(s.records),
            &to_count(s.blobs),
            &to_count(s.gaps),
            &s.last_error,
            &s.remediation,
            &to_ns(s.updated_at),
            &s.clock_offset_ms,
        ],
    )?;
    Ok(())
}

/// [`Store::statuses`](crate::Store::statuses).
pub(super) fn statuses(c: &mut Client) -> Result<Vec<ConnectorStatus>, StoreError> {
    let rows = c.query(
        "SELECT tenant, content_type, state, last_success_ns, watermark_ns, records, blobs, gaps, last_error, \
         remediation, updated_ns, clock_offset_ms FROM statuses ORDER BY tenant, content_type",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ConnectorStatus {
                tenant: r.get(0),
                content_type: ct_from_code(r.get(1))?,
                state: state_from_name(r.get(2))?,
                last_success: r.get::<_, Option<i64>>(3).map(from_ns),
                watermark: r.get::<_, Option<i64>>(4).map(from_ns),
                records: from_count(r.get(5), "record count")?,
                blobs: from_count(r.get(6), "blob count")?,
                gaps: from_count(r.get(7), "gap count")?,
                last_error: r.get(8),
                remediation: r.get(9),
                updated_at: from_ns(r.get(10)),
                clock_offset_ms: r.get(11),
            })
        })
        .collect()
}

/// [`Store::ledger`](crate::Store::ledger): from the markers of blobs done (a collected blob's
/// holds its record count, a gap's none; a range lost whole is not a blob).
pub(super) fn ledger(c: &mut Client, since: DateTime<Utc>) -> Result<Vec<LedgerDay>, StoreError> {
    let rows = c.query(
        "SELECT tenant, content_type, created_ns / $2 AS day, count(records), \
         coalesce(sum(records), 0)::int8, count(*) - count(records) \
         FROM done_blobs WHERE created_ns >= $1 AND content_id NOT LIKE 'range:%' \
         GROUP BY tenant, content_type, day ORDER BY tenant, content_type, day",
        &[&to_ns(since), &DAY_NS],
    )?;
    rows.iter()
        .map(|r| {
            ledger_day(
                (r.get(0), ct_from_code(r.get(1))?, r.get(2)),
                (r.get(3), r.get(4), r.get(5)),
            )
        })
        .collect()
}
