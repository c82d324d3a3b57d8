//! The activity log on PostgreSQL: pages newest first, histogram, top values, one activity, and
//! what detection reads in stored order. Same results and order as the SQLite backend's
//! (`sqlite/query.rs`): the WHERE clause comes from `filter`, free text (`text~…`) is checked in
//! Rust on the raw records of the rows SQL selected, and `seq` plays SQLite's row id (the
//! cursor's tie-break and detection's order).

use std::collections::{BTreeMap, HashMap};

use postgres::types::ToSql;
use skylight_model::ActivityRow;
use skylight_model::filter::Field;

use super::filter::{self, Clause};
use super::*;
use crate::batch::{Chunk, decode_chunk, record_in_chunk};
use crate::{codes, searchable_text};

/// Rows fetched per round while free text filters them.
const ROUND: usize = 1_000;

/// Chunks kept decoded while free text filters rows (bounds memory).
const CHUNK_CACHE: usize = 64;

/// The columns [`read_row`] reads, in its order (`r` is `records`).
const ROW_COLUMNS: &str = "r.seq, (SELECT name FROM tenants WHERE id = r.tenant_id), r.creation_ms, \
     r.record_key, r.record_type, r.workload, r.operation, r.user_id, r.client_ip, r.user_agent, \
     r.app, r.category, r.actor_kind, r.outcome, r.flags, r.chunk_id, r.chunk_pos, r.country, \
     r.isp, r.ip_tags, r.device_type, r.client_app, r.os";

/// An activity from a row selected with [`ROW_COLUMNS`].
fn read_row(row: &postgres::Row) -> Result<ActivityRow, StoreError> {
    let ms: i64 = row.try_get(2)?;
    let flags = i64::from(row.try_get::<_, i16>(14)?);
    let code = |i: usize| -> Result<Option<i64>, StoreError> {
        Ok(row.try_get::<_, Option<i16>>(i)?.map(i64::from))
    };
    Ok(ActivityRow {
        id: row.try_get(3)?,
        tenant: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        time: (ms != 0)
            .then(|| DateTime::from_timestamp_millis(ms))
            .flatten(),
        record_type: row.try_get(4)?,
        workload: row.try_get(5)?,
        operation: row.try_get(6)?,
        user: row.try_get(7)?,
        ip: row.try_get(8)?,
        user_agent: row.try_get(9)?,
        app: code(10)?.and_then(codes::app_of),
        category: code(11)?.and_then(codes::category_of),
        actor_kind: code(12)?.and_then(codes::actor_kind_of),
        result: code(13)?.and_then(codes::outcome_of),
        admin: flags & codes::FLAG_ADMIN != 0,
        external_user: flags & codes::FLAG_EXTERNAL != 0,
        impersonated: flags & codes::FLAG_IMPERSONATED != 0,
        country: row.try_get(17)?,
        isp: row.try_get(18)?,
        ip_tags: row.try_get(19)?,
        device_type: row.try_get(20)?,
        client_app: row.try_get(21)?,
        os: row.try_get(22)?,
    })
}

/// (chunk id, position) of a row selected with [`ROW_COLUMNS`].
fn chunk_place(row: &postgres::Row) -> Result<(i64, i64), StoreError> {
    Ok((row.try_get(15)?, i64::from(row.try_get::<_, i32>(16)?)))
}

/// A stored chunk, decoded.
fn load_chunk(c: &mut Client, id: i64) -> Result<Chunk, StoreError> {
    let row = c.query_one("SELECT data, raw_len FROM raw_chunks WHERE id = $1", &[&id])?;
    decode_chunk(row.try_get(0)?, row.try_get(1)?, &format!("chunk {id}"))
}

/// The rows a clause selects, newest first, a page at a time.
fn list(
    c: &mut Client,
    q: &ActivityQuery,
    w: &Clause,
    words: &[String],
) -> Result<ActivityPage, StoreError> {
    let limit = q.limit.max(1);
    let mut out: Vec<(crate::Cursor, ActivityRow)> = Vec::new();
    let mut after = q.after;
    let mut chunks: HashMap<i64, Chunk> = HashMap::new();
    loop {
        let mut sql = format!("SELECT {ROW_COLUMNS} FROM records r WHERE true{}", w.sql);
        let mut params = w.refs();
        let cursor;
        if let Some(at) = after {
            cursor = at;
            let n = params.len();
            sql.push_str(&format!(
                " AND (r.creation_ms, r.seq) < (${}, ${})",
                n + 1,
                n + 2
            ));
            params.push(&cursor.0);
            params.push(&cursor.1);
        }
        let round = if words.is_empty() { limit + 1 } else { ROUND };
        sql.push_str(&format!(
            " ORDER BY r.creation_ms DESC, r.seq DESC LIMIT {round}"
        ));
        let rows = c.query(&sql, &params)?;
        for row in &rows {
            let here: crate::Cursor = (row.try_get(2)?, row.try_get(0)?);
            after = Some(here);
            if !words.is_empty() {
                let (chunk_id, pos) = chunk_place(row)?;
                if !chunks.contains_key(&chunk_id) {
                    if chunks.len() > CHUNK_CACHE {
                        chunks.clear();
                    }
                    chunks.insert(chunk_id, load_chunk(c, chunk_id)?);
                }
                let raw = usize::try_from(pos)
                    .ok()
                    .and_then(|p| chunks.get(&chunk_id).and_then(|ch| ch.get(p)))
                    .map(searchable_text)
                    .unwrap_or_default();
                if !words.iter().all(|w| raw.contains(w.as_str())) {
                    continue;
                }
            }
            if out.len() == limit {
                // One more than asked: there is a next page, starting after the last returned.
                return Ok(ActivityPage {
                    next: out.last().map(|(c, _)| *c),
                    rows: out.into_iter().map(|(_, r)| r).collect(),
                });
            }
            out.push((here, read_row(row)?));
        }
        if rows.len() < round {
            return Ok(ActivityPage {
                next: None,
                rows: out.into_iter().map(|(_, r)| r).collect(),
            });
        }
    }
}

/// [`Store::activities`](crate::Store::activities).
pub(super) fn activities(
    c: &mut Client,
    query: &ActivityQuery,
) -> Result<ActivityPage, StoreError> {
    let (w, words) = filter::clause(query);
    list(c, query, &w, &words)
}

/// Every activity a query matches (its limit and cursor ignored), a round at a time: what
/// counting with free text goes through.
fn each_match(
    c: &mut Client,
    query: &ActivityQuery,
    mut f: impl FnMut(&ActivityRow),
) -> Result<(), StoreError> {
    let mut page_query = ActivityQuery {
        limit: ROUND,
        after: None,
        ..query.clone()
    };
    loop {
        let page = activities(c, &page_query)?;
        page.rows.iter().for_each(&mut f);
        match page.next {
            Some(next) => page_query.after = Some(next),
            None => return Ok(()),
        }
    }
}

/// [`Store::activity_histogram`](crate::Store::activity_histogram).
pub(super) fn activity_histogram(
    c: &mut Client,
    query: &ActivityQuery,
    bucket_ms: i64,
) -> Result<Vec<(i64, u64)>, StoreError> {
    let bucket = bucket_ms.max(1);
    let (mut w, words) = filter::clause(query);
    if words.is_empty() {
        let b = w.bind(bucket);
        let sql = format!(
            "SELECT (r.creation_ms / {b}::int8) * {b}::int8, count(*) FROM records r WHERE true{} \
             GROUP BY 1 ORDER BY 1",
            w.sql
        );
        let rows = c.query(&sql, &w.refs())?;
        return rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, from_count(r.try_get(1)?, "count")?)))
            .collect();
    }
    // Free text needs the raw records: count what the log would list.
    let mut counts = BTreeMap::<i64, u64>::new();
    each_match(c, query, |row| {
        let ms = row.time.map_or(0, |t| t.timestamp_millis());
        *counts.entry(ms.div_euclid(bucket) * bucket).or_default() += 1;
    })?;
    Ok(counts.into_iter().collect())
}

/// [`Store::activity_top`](crate::Store::activity_top).
pub(super) fn activity_top(
    c: &mut Client,
    query: &ActivityQuery,
    field: Field,
    limit: usize,
) -> Result<Vec<(String, u64)>, StoreError> {
    let Some(column) = filter::text_column(field) else {
        return Err(StoreError::Corrupt(format!(
            "{} is not counted by value",
            field.name()
        )));
    };
    let (mut w, words) = filter::clause(query);
    if words.is_empty() {
        let n = w.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT {column}, count(*) FROM records r WHERE {column} IS NOT NULL{} \
             GROUP BY {column} ORDER BY 2 DESC, 1 LIMIT {n}",
            w.sql
        );
        let rows = c.query(&sql, &w.refs())?;
        return rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, from_count(r.try_get(1)?, "count")?)))
            .collect();
    }
    // Free text needs the raw records: count what the log would list.
    let mut counts = HashMap::<String, u64>::new();
    each_match(c, query, |row| {
        let value = match field {
            Field::User => &row.user,
            Field::Operation => &row.operation,
            Field::Workload => &row.workload,
            Field::UserAgent => &row.user_agent,
            Field::Ip => &row.ip,
            Field::Country => &row.country,
            Field::Isp => &row.isp,
            Field::IpTag => &row.ip_tags,
            Field::DeviceType => &row.device_type,
            Field::ClientApp => &row.client_app,
            Field::Os => &row.os,
            _ => &None,
        };
        if let Some(v) = value {
            *counts.entry(v.clone()).or_default() += 1;
        }
    })?;
    let mut out: Vec<(String, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(limit);
    Ok(out)
}

/// [`Store::activity`](crate::Store::activity): the newest activity with this Id (of the tenant).
pub(super) fn activity(
    c: &mut Client,
    tenant: Option<&str>,
    id: &str,
) -> Result<Option<(ActivityRow, Vec<u8>)>, StoreError> {
    let row = c.query_opt(
        &format!(
            "SELECT {ROW_COLUMNS} FROM records r WHERE r.record_key = $2 \
             AND ($1::text IS NULL OR r.tenant_id = (SELECT id FROM tenants WHERE name = $1)) \
             ORDER BY r.creation_ms DESC, r.seq DESC LIMIT 1"
        ),
        &[&tenant, &id],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let activity = read_row(&row)?;
    let (chunk_id, pos) = chunk_place(&row)?;
    let chunk = c.query_one(
        "SELECT data, raw_len FROM raw_chunks WHERE id = $1",
        &[&chunk_id],
    )?;
    let what = format!("record {id} of tenant {}", activity.tenant);
    let raw = record_in_chunk(chunk.try_get(0)?, chunk.try_get(1)?, pos, &what)?;
    Ok(Some((activity, raw)))
}

/// [`Store::activities_since`](crate::Store::activities_since).
///
/// Commits number their records in commit order (`collection::insert_records`), so the rows
/// visible above `after` are always every committed one up to some number: reading on from the
/// last `seq` returned skips nothing.
pub(super) fn activities_since(
    c: &mut Client,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredActivity>, StoreError> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows = c.query(
        &format!("SELECT {ROW_COLUMNS} FROM records r WHERE r.seq > $1 ORDER BY r.seq LIMIT $2"),
        &[&after, &limit],
    )?;
    // A blob's records sit together in one chunk: each chunk is fetched and decoded once.
    let mut ids: Vec<i64> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let (id, _) = chunk_place(row)?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    let mut chunks: HashMap<i64, Chunk> = HashMap::new();
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    for row in c.query(
        "SELECT id, data, raw_len FROM raw_chunks WHERE id = ANY($1)",
        &params,
    )? {
        let id: i64 = row.try_get(0)?;
        chunks.insert(
            id,
            decode_chunk(row.try_get(1)?, row.try_get(2)?, &format!("chunk {id}"))?,
        );
    }
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get(0)?;
            let (chunk_id, pos) = chunk_place(row)?;
            let raw = usize::try_from(pos)
                .ok()
                .and_then(|p| chunks.get(&chunk_id).and_then(|ch| ch.get(p)))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("record {seq}: not in its chunk {chunk_id}"))
                })?
                .to_vec();
            Ok(StoredActivity {
                seq,
                row: read_row(row)?,
                raw,
            })
        })
        .collect()
}
