//! Closed days of the user, address and operation lookups packed into lists (schema 20; see
//! `0020_lookup_days.sql`).
//!
//! A lookup entry is a row of a `WITHOUT ROWID` table: (hour, value, row id), 17–20 B per record
//! and lookup on a 10,000-user week, 54 B for the three. Once a day is closed,
//! [`Inner::pack_lookups`] moves its entries into one list per value — a user's or an address's
//! day, an operation's hour — of row ids grouped by hour and delta-encoded ([`encode`]), a few
//! bytes per entry. The queries read both (`lookups.rs`): the lists through the SQL function
//! [`ENTRIES`], which gives the row ids of some hours of a list, or those hours with their counts
//! of entries, as a JSON array for `json_each`.
//!
//! The rule of the lookups holds across both: every record up to `looked_up.upto` has its
//! entries in exactly one of the tables or the lists, and a move is one transaction. A record of
//! a packed day committed later gets an ordinary entry, moved into the day's list when the day
//! is packed again. Retention leaves the lists of the records it deletes as they are and raises
//! `looked_up.floor_ms` instead: the lists' hours before the floor's are read by no query and
//! deleted at the end of retention ([`Inner::drop_lists_below_floor`]), and the floor's own hour,
//! which may still name deleted records, is counted through the rows. A deleted record's row id
//! can be handed to a new record (SQLite reuses the highest after it is deleted), so a query
//! keeps the rows a list names to the hours it asked for (`Lookup::term`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior, params};

use super::Inner;
use super::lookups::Column;
use crate::StoreError;

/// The SQL function `lookup_entries(entries, start_hour, h0, h1, what)`: the row ids
/// ([`WANT_IDS`]) of a list's entries in hours `h0..=h1`, or each of those hours with its count of
/// entries ([`WANT_HOUR_COUNTS`], `[hour, count]` pairs), as a JSON array.
pub(super) const ENTRIES: &str = "lookup_entries";

/// `lookup_entries`'s `what` for row ids.
pub(super) const WANT_IDS: i64 = 0;

/// `lookup_entries`'s `what` for `[hour, count]` pairs.
pub(super) const WANT_HOUR_COUNTS: i64 = 2;

/// A day is packed once this long has passed since its end: records arrive up to a day late or
/// so, and each that arrives after the day is packed rewrites a list.
const PACK_AFTER_DAY_ENDS: i64 = 24 * 3_600_000;

/// ... and once no record of it has been committed for this long (a backfill adds to old days).
const SETTLED_AFTER: i64 = 15 * 60_000;

/// Hours moved per transaction: a day, so that each user's and address's list of the day is
/// written once (in 6-hour steps, each step rewrote the lists the one before had written: 225
/// instead of 80 MB for a week of 144,000 records a day). A 10,000-user tenant's day is about
/// 300,000 entries per lookup, a tenth of a second or so that commits wait.
const STEP_HOURS: i64 = 24;

/// How often a writer looks for days to pack.
const PACK_EVERY: Duration = Duration::from_secs(30);

/// How long a writer packs at a time (steps are not cut short).
const PACK_BUDGET: Duration = Duration::from_millis(250);

/// What [`Inner::pack_lookups`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Days whose entries were all moved into lists.
    pub days: u64,
    /// Entries moved.
    pub entries: u64,
}

/// The hours one list covers: a user's or an address's day (about 30 entries on a 10,000-user
/// tenant), an operation's hour (a common one has thousands a day: a late record merged into its
/// list rewrites an hour's, not a day's).
pub(super) fn period_hours(column: Column) -> i64 {
    match column {
        Column::User | Column::Address => 24,
        Column::Operation => 1,
    }
}

/// The first hour of the list that holds `hour`'s entries.
pub(super) fn list_start(column: Column, hour: i64) -> i64 {
    let period = period_hours(column);
    hour.div_euclid(period) * period
}

/// The stored code of a lookup in `lookup_days.col`.
pub(super) fn code(column: Column) -> i64 {
    match column {
        Column::User => 0,
        Column::Address => 1,
        Column::Operation => 2,
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

/// A list's entries, (hour, row id) sorted, duplicates removed, every hour in `start..start +
/// 2^32`: per hour, its offset from `start`, how many, then each row id as the zigzag-encoded
/// difference from the previous one (of any hour).
pub(super) fn encode(start: i64, entries: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 3 + 4);
    let mut prev = 0i64;
    for group in entries.chunk_by(|a, b| a.0 == b.0) {
        put_varint(&mut out, (group[0].0 - start) as u64);
        put_varint(&mut out, group.len() as u64);
        for &(_, id) in group {
            let d = id.wrapping_sub(prev);
            put_varint(&mut out, ((d << 1) ^ (d >> 63)) as u64);
            prev = id;
        }
    }
    out
}

/// The entries of a list [`encode`] wrote; an error if its bytes are not such a list.
pub(super) fn decode(start: i64, data: &[u8]) -> Result<Vec<(i64, i64)>, StoreError> {
    let damaged = || StoreError::Corrupt(format!("the lookup list of hour {start} is damaged"));
    let mut out = Vec::new();
    let (mut at, mut prev) = (0usize, 0i64);
    while at < data.len() {
        let offset = get_varint(data, &mut at).ok_or_else(damaged)?;
        let n = get_varint(data, &mut at).ok_or_else(damaged)?;
        let hour = i64::try_from(offset)
            .ok()
            .and_then(|o| start.checked_add(o))
            .ok_or_else(damaged)?;
        // Each entry takes a byte at least: a count beyond the bytes left is damage, not a
        // reason to reserve memory.
        if n > (data.len() - at) as u64 {
            return Err(damaged());
        }
        for _ in 0..n {
            let z = get_varint(data, &mut at).ok_or_else(damaged)?;
            let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
            prev = prev.wrapping_add(d);
            out.push((hour, prev));
        }
    }
    Ok(out)
}

/// Registers [`ENTRIES`] on a connection (every connection that reads the lookups).
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        ENTRIES,
        5,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        entries_as_json,
    )
}

fn entries_as_json(ctx: &Context<'_>) -> rusqlite::Result<String> {
    let data = ctx.get_raw(0).as_blob()?;
    let (start, h0, h1, what): (i64, i64, i64, i64) =
        (ctx.get(1)?, ctx.get(2)?, ctx.get(3)?, ctx.get(4)?);
    let entries =
        decode(start, data).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
    let wanted = entries.into_iter().filter(|(h, _)| (h0..=h1).contains(h));
    let mut out = String::from("[");
    match what {
        WANT_IDS => {
            for (_, id) in wanted {
                if out.len() > 1 {
                    out.push(',');
                }
                let _ = write!(out, "{id}");
            }
        }
        WANT_HOUR_COUNTS => {
            // Entries come sorted by hour, so each hour's are together (were they not, an hour
            // given twice would still be summed right by the query).
            let mut hours: Vec<(i64, u64)> = Vec::new();
            for (hour, _) in wanted {
                match hours.last_mut() {
                    Some((h, n)) if *h == hour => *n += 1,
                    _ => hours.push((hour, 1)),
                }
            }
            for (hour, n) in hours {
                if out.len() > 1 {
                    out.push(',');
                }
                let _ = write!(out, "[{hour},{n}]");
            }
        }
        other => {
            return Err(rusqlite::Error::UserFunctionError(
                format!("{ENTRIES}: no such `what` as {other}").into(),
            ));
        }
    }
    out.push(']');
    Ok(out)
}

/// Writes a list (deletes it if it has no entry).
fn write_list(
    tx: &Transaction<'_>,
    column: Column,
    value: i64,
    start: i64,
    entries: &[(i64, i64)],
) -> rusqlite::Result<()> {
    if entries.is_empty() {
        tx.prepare_cached(
            "DELETE FROM lookup_days WHERE col = ?1 AND value = ?2 AND start_hour = ?3",
        )?
        .execute(params![code(column), value, start])?;
    } else {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO lookup_days (col, value, start_hour, entries) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![code(column), value, start, encode(start, entries)])?;
    }
    Ok(())
}

/// The hour of `looked_up.floor_ms`: lists are read from there on, and counted from the next.
pub(super) fn floor_hour(conn: &Connection) -> rusqlite::Result<i64> {
    let floor: i64 = conn
        .prepare_cached("SELECT floor_ms FROM looked_up")?
        .query_row([], |r| r.get(0))?;
    Ok(floor.div_euclid(3_600_000))
}

impl Inner {
    /// After retention: deletes the lists wholly before the floor's hour and takes the hours
    /// before it out of those that straddle it, in one transaction; returns how many lists
    /// changed.
    pub(super) fn drop_lists_below_floor(&mut self) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let floor = floor_hour(&tx)?;
        let mut changed = 0;
        for column in Column::ALL {
            let period = period_hours(column);
            changed += tx
                .prepare_cached(
                    "DELETE FROM lookup_days INDEXED BY lookup_days_by_start \
                     WHERE col = ?1 AND start_hour <= ?2",
                )?
                .execute(params![code(column), floor - period])?;
            let straddling: Vec<(i64, i64, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT value, start_hour, entries FROM lookup_days \
                     INDEXED BY lookup_days_by_start \
                     WHERE col = ?1 AND start_hour > ?2 AND start_hour < ?3",
                )?
                .query_map(params![code(column), floor - period, floor], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            for (value, start, data) in straddling {
                let mut entries = decode(start, &data)?;
                let before = entries.len();
                entries.retain(|(hour, _)| *hour >= floor);
                // Cut by an earlier retention already: every round after it finds them again.
                if entries.len() < before {
                    write_list(&tx, column, value, start, &entries)?;
                    changed += 1;
                }
            }
        }
        tx.commit()?;
        Ok(changed as u64)
    }

    /// After a commit: packs what is due, at most every [`PACK_EVERY`] and for about
    /// [`PACK_BUDGET`]. An error is logged: the entries stay where they are, found as before.
    pub(super) fn pack_lookups_if_due(&mut self) {
        if self.packed_at.elapsed() < PACK_EVERY {
            return;
        }
        self.packed_at = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        if let Err(e) = self.pack_lookups(now_ms, Some(PACK_BUDGET)) {
            tracing::warn!(error = %e, "cannot pack the lookups of closed days");
        }
    }

    /// Packs the lookups of the days due at `now_ms` (ended [`PACK_AFTER_DAY_ENDS`] before it,
    /// no record of them committed for [`SETTLED_AFTER`]), oldest first, until none is due or
    /// `budget` is spent.
    pub(super) fn pack_lookups(
        &mut self,
        now_ms: i64,
        budget: Option<Duration>,
    ) -> Result<Packed, StoreError> {
        let started = Instant::now();
        let mut packed = Packed::default();
        let last_day = (now_ms - PACK_AFTER_DAY_ENDS).div_euclid(86_400_000) - 1;
        let settled = now_ms - SETTLED_AFTER;
        let mut after = 0;
        while budget.is_none_or(|b| started.elapsed() < b) {
            let next: Option<(i64, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT day, touched_ms FROM lookup_days_pending \
                     WHERE day > ?1 AND day <= ?2 AND touched_ms <= ?3 ORDER BY day LIMIT 1",
                )?
                .query_row(params![after, last_day, settled], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((day, touched)) = next else {
                break;
            };
            // Days are marked pending as their records are committed, which are looked up
            // later: whatever is committed is looked up first (each day: another process may
            // have committed meanwhile), so that a day packed leaves nothing behind.
            self.catch_up_lookups(1)?;
            after = day;
            let mut done = true;
            for hour in (day * 24..day * 24 + 24).step_by(STEP_HOURS as usize) {
                if budget.is_some_and(|b| started.elapsed() >= b) {
                    done = false;
                    break;
                }
                for column in Column::ALL {
                    packed.entries += self.pack_hours(column, (hour, hour + STEP_HOURS - 1))?;
                }
            }
            if done {
                // Unless entries of the day were added meanwhile (by another process: this one
                // holds the connection), which wait for the next round.
                let gone = self
                    .conn
                    .prepare_cached(
                        "DELETE FROM lookup_days_pending WHERE day = ?1 AND touched_ms = ?2",
                    )?
                    .execute(params![day, touched])?;
                packed.days += gone as u64;
            }
        }
        Ok(packed)
    }

    /// Moves the entries of lookup `column` in hours `h0..=h1` into their lists, in one
    /// transaction; returns how many.
    fn pack_hours(&mut self, column: Column, (h0, h1): (i64, i64)) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Not below the floor's hour: retention is deleting those records, and queries would not
        // read their entries in a list.
        let h0 = h0.max(floor_hour(&tx)?);
        if h0 > h1 {
            return Ok(0);
        }
        let (table, name) = (column.table(), column.name());
        // Per list: its entries, in (hour, row id) order.
        let mut lists: BTreeMap<(i64, i64), Vec<(i64, i64)>> = BTreeMap::new();
        let mut moved = 0u64;
        let mut add = |value: i64, hour: i64, id: i64| {
            lists
                .entry((value, list_start(column, hour)))
                .or_default()
                .push((hour, id));
            moved += 1;
        };
        match column {
            // Led by the hour: one range.
            Column::User | Column::Address => {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {name}, hour, id FROM {table} WHERE hour BETWEEN ?1 AND ?2"
                ))?;
                let mut rows = stmt.query(params![h0, h1])?;
                while let Some(r) = rows.next()? {
                    add(r.get(0)?, r.get(1)?, r.get(2)?);
                }
                drop(rows);
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE hour BETWEEN ?1 AND ?2"))?
                    .execute(params![h0, h1])?;
            }
            // Led by the operation: a range per operation, found one after the other.
            Column::Operation => {
                let mut operation = i64::MIN;
                loop {
                    let next: Option<i64> = tx
                        .prepare_cached(
                            "SELECT operation FROM record_operations WHERE operation > ?1 \
                             ORDER BY operation LIMIT 1",
                        )?
                        .query_row([operation], |r| r.get(0))
                        .optional()?;
                    let Some(op) = next else { break };
                    operation = op;
                    let mut stmt = tx.prepare_cached(
                        "SELECT hour, id FROM record_operations \
                         WHERE operation = ?1 AND hour BETWEEN ?2 AND ?3",
                    )?;
                    let mut rows = stmt.query(params![op, h0, h1])?;
                    while let Some(r) = rows.next()? {
                        add(op, r.get(0)?, r.get(1)?);
                    }
                    drop(rows);
                    tx.prepare_cached(
                        "DELETE FROM record_operations \
                         WHERE operation = ?1 AND hour BETWEEN ?2 AND ?3",
                    )?
                    .execute(params![op, h0, h1])?;
                }
            }
        }
        for ((value, start), mut entries) in lists {
            let old: Option<Vec<u8>> = tx
                .prepare_cached(
                    "SELECT entries FROM lookup_days \
                     WHERE col = ?1 AND value = ?2 AND start_hour = ?3",
                )?
                .query_row(params![code(column), value, start], |r| r.get(0))
                .optional()?;
            if let Some(old) = old {
                entries.extend(decode(start, &old)?);
            }
            entries.sort_unstable();
            entries.dedup();
            write_list(&tx, column, value, start, &entries)?;
        }
        tx.commit()?;
        Ok(moved)
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
