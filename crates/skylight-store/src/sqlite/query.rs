//! The activity log's queries: a [`Filter`] turned into SQL over the record columns, newest
//! first, a page at a time. Text compares ignore ASCII case only, on both sides: SQLite's
//! `lower()` folds A–Z and nothing else. Free text (`text~…`) is checked in Rust on the raw
//! records of the rows SQL selected; a CIDR block becomes a range of inline IPv4 values (see
//! [`super::address`]) and the list of the dictionary's addresses inside it, found in Rust.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::DateTime;
use rusqlite::OptionalExtension as _;
use rusqlite::types::Value as Sql;
use skylight_model::ActivityRow;
use skylight_model::filter::{Condition, Field, Filter, Test, Value};

use super::address::{self, address_text};
use super::lookups::{Column, Lookup};
use super::segments::ChunkReader;
use super::{Inner, id_from_key};
use crate::{ActivityPage, ActivityQuery, StoreError, codes};

/// The unique key led by the time (schema 16): the log's newest-first walk.
const TIME_INDEX: &str = "records_by_time_tenant_key";

/// Rows fetched from SQLite per round while free text filters them.
const ROUND: usize = 1_000;

/// A WHERE clause under construction.
#[derive(Default)]
struct Clause {
    sql: String,
    params: Vec<Sql>,
    /// How the rows are reached, when the planner cannot be trusted to pick it.
    access: Access,
    /// The user, address or operation lookup whose term each statement adds (for its hours), if
    /// any.
    lookup: Option<Lookup>,
}

/// How a query reaches the rows of `records`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Access {
    /// As the planner likes.
    #[default]
    Planner,
    /// Through this index.
    Index(&'static str),
    /// By row id alone (the clause holds `r.id IN (…)`).
    ById,
}

impl Clause {
    /// The FROM clause: the records, through the chosen index if any.
    fn from(&self) -> String {
        match self.access {
            Access::Planner => "records r".to_owned(),
            Access::Index(index) => format!("records r INDEXED BY {index}"),
            // No index, but the row id can still be used: `NOT INDEXED` leaves the planner
            // nothing else.
            Access::ById => "records r NOT INDEXED".to_owned(),
        }
    }

    /// The clause's conditions and parameters, the lookup's term included (for the hours of
    /// `window`, or of the whole range if `None`).
    fn with_lookup(&self, window: Option<(i64, i64)>) -> (String, Vec<Sql>) {
        let mut sql = self.sql.clone();
        let mut params = self.params.clone();
        if let Some(l) = &self.lookup {
            let (term, more) = l.term(window.unwrap_or(l.hours));
            sql.push_str(&term);
            params.extend(more);
        }
        (sql, params)
    }

    fn and(&mut self, sql: &str, params: impl IntoIterator<Item = Sql>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(sql);
        self.params.extend(params);
    }
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// The column of a field stored through the `strings` dictionary.
fn string_column(f: Field) -> Option<&'static str> {
    match f {
        Field::User => Some("r.user_id"),
        Field::Operation => Some("r.operation"),
        Field::Workload => Some("r.workload"),
        Field::UserAgent => Some("r.user_agent"),
        Field::Ip => Some("r.client_ip"),
        Field::Country => Some("r.country"),
        Field::Isp => Some("r.isp"),
        Field::IpTag => Some("r.ip_tags"),
        Field::DeviceType => Some("r.device_type"),
        Field::ClientApp => Some("r.client_app"),
        Field::Os => Some("r.os"),
        _ => None,
    }
}

fn code_of(v: &Value) -> Option<i64> {
    Some(match v {
        Value::App(a) => codes::app(*a),
        Value::Category(c) => codes::category(*c),
        Value::Outcome(o) => codes::outcome(*o),
        Value::ActorKind(k) => codes::actor_kind(*k),
        Value::Number(n) => *n,
        _ => return None,
    })
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The statement of one page of the activity log: the rows a clause selects after `after`
/// (time, row id), newest first, `round` at most; with a lookup, only those of `window` (hours,
/// first and last), or of its whole range if `None`.
fn page_sql(
    w: &Clause,
    window: Option<(i64, i64)>,
    after: Option<(i64, i64)>,
    round: usize,
) -> (String, Vec<Sql>) {
    let (clause, mut params) = w.with_lookup(window);
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM {} WHERE 1{clause}", w.from());
    if let Some((ms, id)) = after {
        sql.push_str(" AND (r.creation_ms, r.id) < (?, ?)");
        params.push(Sql::Integer(ms));
        params.push(Sql::Integer(id));
    }
    let _ = write!(sql, " ORDER BY r.creation_ms DESC, r.id DESC LIMIT {round}");
    (sql, params)
}

impl Inner {
    /// The condition on `col` (a `client_ip` column) for a list of addresses and blocks (or its
    /// negation). Every value is a column value, from the dictionary or computed, so an integer
    /// written into the statement; addresses alone make one `IN` list, so that each is found
    /// with a seek per hour in `record_addresses`.
    fn address_condition(
        &self,
        col: &str,
        vs: &[Value],
        negate: bool,
    ) -> Result<String, StoreError> {
        let (blocks, addresses) = crate::ip_blocks::ip_blocks(vs);
        let (mut values, ranges) = if addresses {
            // As stored: the canonical text of each address, inline or in the dictionary.
            let texts: Vec<String> = blocks
                .iter()
                .map(|(ip, _)| ip.to_canonical().to_string())
                .collect();
            let mut values = self.dictionary_ids(&texts)?;
            values.extend(texts.iter().filter_map(|t| address::inline(t)));
            (values, Vec::new())
        } else {
            // The dictionary's addresses in the blocks, and the inline values each IPv4 block
            // spans (a range: inline values are ordered like the addresses).
            let ranges: Vec<(i64, i64)> = blocks
                .iter()
                .filter_map(|(ip, bits)| match ip {
                    IpAddr::V4(v4) => Some(address::block(*v4, *bits)),
                    IpAddr::V6(_) => None,
                })
                .collect();
            (self.addresses_in(&blocks)?, ranges)
        };
        values.sort_unstable();
        values.dedup();
        // No empty list beside a range: `IN () OR BETWEEN` would lose the range's seek.
        let mut terms = Vec::new();
        if !values.is_empty() {
            let list: Vec<String> = values.iter().map(i64::to_string).collect();
            terms.push(format!("{col} IN ({})", list.join(",")));
        }
        for (lo, hi) in ranges {
            terms.push(format!("{col} BETWEEN {lo} AND {hi}"));
        }
        let sql = if terms.is_empty() {
            "0".to_owned()
        } else {
            terms.join(" OR ")
        };
        Ok(if negate {
            format!("({col} IS NULL OR NOT ({sql}))")
        } else {
            format!("({sql})")
        })
    }

    /// Ids of the dictionary strings equal to any of `texts`, ignoring ASCII case.
    fn dictionary_ids(&self, texts: &[String]) -> Result<Vec<i64>, StoreError> {
        let sql = format!(
            "SELECT id FROM strings WHERE lower(value) IN ({})",
            marks(texts.len())
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let lowered = texts.iter().map(|t| t.to_ascii_lowercase());
        let ids = stmt.query_map(rusqlite::params_from_iter(lowered), |r| r.get(0))?;
        Ok(ids.collect::<Result<Vec<i64>, _>>()?)
    }

    /// Ids of dictionary strings that are addresses inside any of the blocks.
    fn addresses_in(&self, blocks: &[(IpAddr, u8)]) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, value FROM strings")?;
        let mut rows = stmt.query([])?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next()? {
            let value: String = row.get(1)?;
            if let Ok(ip) = value.parse::<IpAddr>()
                && blocks.iter().any(|(n, b)| in_block(ip, *n, *b))
            {
                ids.push(row.get(0)?);
            }
        }
        Ok(ids)
    }

    /// The condition that `col`, the column of dictionary field `f`, holds one of `vs` (or, with
    /// `negate`, none of them), and its parameters.
    fn one_of(
        &self,
        f: Field,
        col: &str,
        vs: &[Value],
        negate: bool,
    ) -> Result<(String, Vec<Sql>), StoreError> {
        if f == Field::Ip {
            return Ok((self.address_condition(col, vs, negate)?, Vec::new()));
        }
        let set = if f == Field::IpTag {
            // One of the `|`-separated parts of the stored tags.
            let texts: Vec<Sql> = vs
                .iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(Sql::Text(format!("|{}|", t.to_ascii_lowercase()))),
                    _ => None,
                })
                .collect();
            let any = vec!["instr('|' || lower(value) || '|', ?) > 0"; texts.len()].join(" OR ");
            (format!("(SELECT id FROM strings WHERE {any})"), texts)
        } else {
            let texts: Vec<Sql> = vs
                .iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(Sql::Text(t.to_ascii_lowercase())),
                    _ => None,
                })
                .collect();
            (
                format!(
                    "(SELECT id FROM strings WHERE lower(value) IN ({}))",
                    marks(texts.len())
                ),
                texts,
            )
        };
        let sql = if negate {
            format!("({col} IS NULL OR {col} NOT IN {})", set.0)
        } else {
            format!("{col} IN {}", set.0)
        };
        Ok((sql, set.1))
    }

    fn condition(&self, c: &Condition, w: &mut Clause) -> Result<(), StoreError> {
        let f = c.field;
        if f == Field::Group {
            if let Test::AnyOf(vs) | Test::NoneOf(vs) = &c.test {
                let names: Vec<Sql> = vs
                    .iter()
                    .filter_map(|v| match v {
                        Value::Text(t) => Some(Sql::Text(t.to_ascii_lowercase())),
                        _ => None,
                    })
                    .collect();
                // The users of the named groups and of every group nested in them, as the
                // dictionary holds their UPNs.
                let members = format!(
                    "(SELECT s.id FROM strings s WHERE lower(s.value) IN ( \
                     WITH RECURSIVE reach(tenant, id) AS ( \
                     SELECT m.tenant, m.member_id FROM group_members m JOIN directory_groups g \
                     ON g.tenant = m.tenant AND g.id = m.group_id \
                     WHERE lower(g.display_name) IN ({0}) OR lower(g.id) IN ({0}) \
                     UNION SELECT m.tenant, m.member_id FROM group_members m \
                     JOIN reach ON m.tenant = reach.tenant AND m.group_id = reach.id) \
                     SELECT lower(u.upn) FROM directory_users u JOIN reach \
                     ON u.tenant = reach.tenant AND u.id = reach.id))",
                    marks(names.len())
                );
                let mut args = names.clone();
                args.extend(names);
                let sql = if matches!(c.test, Test::NoneOf(_)) {
                    format!("(r.user_id IS NULL OR r.user_id NOT IN {members})")
                } else {
                    format!("r.user_id IN {members}")
                };
                w.and(&sql, args);
            }
            return Ok(());
        }
        if let Some(col) = string_column(f) {
            match &c.test {
                Test::IsSet => w.and(&format!("{col} IS NOT NULL"), []),
                Test::NotSet => w.and(&format!("{col} IS NULL"), []),
                Test::Contains(t) => w.and(
                    &format!("{col} IN (SELECT id FROM strings WHERE instr(lower(value), ?) > 0)"),
                    [Sql::Text(t.to_ascii_lowercase())],
                ),
                Test::AnyOf(vs) | Test::NoneOf(vs) => {
                    let (sql, params) =
                        self.one_of(f, col, vs, matches!(c.test, Test::NoneOf(_)))?;
                    w.and(&sql, params);
                }
                _ => {}
            }
            return Ok(());
        }
        let col = match f {
            Field::App => "r.app",
            Field::Category => "r.category",
            Field::RecordType => "r.record_type",
            Field::Asn => "r.asn",
            Field::Result => "r.outcome",
            Field::ActorKind => "r.actor_kind",
            Field::Time => "r.creation_ms",
            Field::Admin => "(r.flags & 1 != 0)",
            Field::External => "(r.flags & 2 != 0)",
            Field::Impersonated => "(r.flags & 4 != 0)",
            _ => return Ok(()), // free text: checked on the raw records
        };
        match &c.test {
            Test::IsSet => w.and(&format!("{col} IS NOT NULL"), []),
            Test::NotSet => w.and(&format!("{col} IS NULL"), []),
            Test::TimeRange(from, to) => {
                if let Some(t) = from {
                    w.and("r.creation_ms >= ?", [Sql::Integer(t.timestamp_millis())]);
                }
                if let Some(t) = to {
                    w.and("r.creation_ms < ?", [Sql::Integer(t.timestamp_millis())]);
                }
            }
            Test::NumberRange(lo, hi) => {
                if let Some(n) = lo {
                    w.and(&format!("{col} >= ?"), [Sql::Integer(*n)]);
                }
                if let Some(n) = hi {
                    w.and(&format!("{col} <= ?"), [Sql::Integer(*n)]);
                }
            }
            Test::AnyOf(vs) | Test::NoneOf(vs) => {
                let negate = matches!(c.test, Test::NoneOf(_));
                if let [Value::Flag(want)] = vs.as_slice() {
                    let yes = *want != negate;
                    w.and(&format!("{col} = {}", i64::from(yes)), []);
                    return Ok(());
                }
                let params: Vec<Sql> = vs.iter().filter_map(code_of).map(Sql::Integer).collect();
                let sql = if negate {
                    format!("({col} IS NULL OR {col} NOT IN ({}))", marks(params.len()))
                } else {
                    format!("{col} IN ({})", marks(params.len()))
                };
                w.and(&sql, params);
            }
            Test::Contains(_) => {}
        }
        Ok(())
    }

    /// The times a lookup reads for a query (first ms, and the ms after the last): the query's
    /// time range, a side it leaves open closed by the store's first or last record (two seeks
    /// on the time-led key). The console's "last 7 days" leaves the end open. `None` if a side
    /// is open and the store is empty.
    fn lookup_span(&self, f: &Filter) -> Result<Option<(i64, i64)>, StoreError> {
        let (from, to) = f
            .conditions
            .iter()
            .find_map(|c| match c.test {
                Test::TimeRange(a, b) if c.field == Field::Time => Some((
                    a.map(|t| t.timestamp_millis()),
                    b.map(|t| t.timestamp_millis()),
                )),
                _ => None,
            })
            .unwrap_or((None, None));
        if let (Some(from), Some(to)) = (from, to) {
            return Ok(Some((from, to)));
        }
        // Records without a readable time are kept at 0: with the start open, the span then
        // reaches back to 1970, past what a user's or address's lookup reads (their queries
        // then walk the time-led key; an operation's is one range whatever the span).
        let (first, last): (Option<i64>, Option<i64>) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT min(creation_ms) FROM records), (SELECT max(creation_ms) FROM records)",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(first.zip(last).map(|(first, last)| {
            (
                from.unwrap_or(first),
                to.unwrap_or_else(|| last.saturating_add(1)),
            )
        }))
    }

    /// The WHERE clause of a query, and the free-text words checked on raw records.
    fn clause(&self, q: &ActivityQuery) -> Result<(Clause, Vec<String>), StoreError> {
        let mut w = Clause::default();
        if let Some(t) = &q.tenant {
            // Looked up first: a tenant the store does not know selects nothing at once, where
            // `tenant_id = NULL` would have walked the whole time-led key to find nothing.
            let id: Option<i64> = self
                .conn
                .prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
                .query_row([t], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => w.and(&format!("r.tenant_id = {id}"), []),
                None => w.and("0", []),
            }
        }
        for c in &q.filter.conditions {
            self.condition(c, &mut w)?;
        }
        // A user, address or operation: the row ids from its lookup, a seek per hour of the
        // query's time range (see `lookups.rs`), then each row by its id. The rows are reached
        // by id alone, not left to the planner: once `PRAGMA optimize` has gathered statistics
        // (at every close), it preferred walking the time index through the whole range, newest
        // first, to sorting a few hundred rows — 350 ms instead of 1.4 ms for a user's week
        // among 2.2 million activities.
        let any_of = |field: Field| {
            q.filter
                .conditions
                .iter()
                .find(|c| c.field == field && matches!(c.test, Test::AnyOf(_)))
        };
        // The most selective first: a user has fewer activities than most operations.
        let looked_up = any_of(Field::User)
            .map(|c| (Column::User, c))
            .or_else(|| any_of(Field::Ip).map(|c| (Column::Address, c)))
            .or_else(|| any_of(Field::Operation).map(|c| (Column::Operation, c)));
        if let Some((column, c)) = looked_up
            && let Test::AnyOf(vs) = &c.test
            && let Some((from, to)) = self.lookup_span(&q.filter)?
        {
            let (h0, h1) = (from / 3_600_000, (to - 1) / 3_600_000);
            // An hour list per user or address: bounded. One range per operation: any span.
            if h1 >= h0 && (column == Column::Operation || h1 - h0 <= 24 * 93) {
                let times = q
                    .filter
                    .conditions
                    .iter()
                    .filter(|x| x.field == Field::Time);
                let alone = q.tenant.is_none()
                    && times.count() <= 1
                    && q.filter.conditions.iter().all(|x| {
                        std::ptr::eq(x, c)
                            || (x.field == Field::Time && matches!(x.test, Test::TimeRange(..)))
                    });
                let lookup = Lookup {
                    column,
                    span: (from, to),
                    alone,
                    hours: (h0, h1),
                    on_lookup: self.one_of(c.field, &format!("l.{}", column.name()), vs, false)?,
                    on_records: self.one_of(c.field, &format!("t.{}", column.name()), vs, false)?,
                    on_packed: self.one_of(c.field, "p.value", vs, false)?,
                };
                w.lookup = Some(lookup);
                w.access = Access::ById;
            }
        }
        // Anything else walks the time-led unique key newest first. Named: a store whose
        // statistics were never gathered (no close yet) would otherwise read the whole table and
        // sort it for a first page.
        if w.access == Access::Planner {
            w.access = Access::Index(TIME_INDEX);
        }
        let words: Vec<String> = q
            .filter
            .conditions
            .iter()
            .filter_map(|c| match (&c.field, &c.test) {
                (Field::Text, Test::Contains(t)) => Some(t.to_lowercase()),
                _ => None,
            })
            .collect();
        Ok((w, words))
    }

    /// Activities per time bucket (`bucket_ms` wide, aligned on the epoch), oldest first.
    pub(super) fn histogram(
        &self,
        q: &ActivityQuery,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let bucket = bucket_ms.max(1);
        let (w, words) = self.clause(q)?;
        if words.is_empty() {
            let mut counts = std::collections::BTreeMap::<i64, u64>::new();
            let parts = match &w.lookup {
                Some(l) => self.count_whole_hours(l, bucket, &mut counts)?,
                None => vec![None],
            };
            for part in parts {
                let (clause, params) = w.with_lookup(part);
                let sql = format!(
                    "SELECT (r.creation_ms / {bucket}) * {bucket}, count(*) FROM {} WHERE 1{clause} GROUP BY 1",
                    w.from(),
                );
                let mut stmt = self.conn.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (at, n) = row?;
                    *counts.entry(at).or_default() += u64::try_from(n).unwrap_or(0);
                }
            }
            return Ok(counts.into_iter().collect());
        }
        // Free text needs the raw records: count what the log would list.
        let mut counts = std::collections::BTreeMap::<i64, u64>::new();
        let mut page_query = ActivityQuery {
            limit: ROUND,
            ..q.clone()
        };
        loop {
            let page = self.activities(&page_query)?;
            for row in &page.rows {
                let ms = row.time.map_or(0, |t| t.timestamp_millis());
                *counts.entry(ms.div_euclid(bucket) * bucket).or_default() += 1;
            }
            match page.next {
                Some(next) => page_query.after = Some(next),
                None => return Ok(counts.into_iter().collect()),
            }
        }
    }

    /// The most frequent values of a dictionary field (country, address, user, …) among the
    /// activities that match, most frequent first; activities without a value are not counted.
    pub(super) fn top(
        &self,
        q: &ActivityQuery,
        field: Field,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let Some(column) = string_column(field) else {
            return Err(StoreError::Corrupt(format!(
                "{} is not counted by value",
                field.name()
            )));
        };
        let (w, words) = self.clause(q)?;
        if words.is_empty() {
            // An address is grouped by its text: a store written by an earlier version holds
            // the same IPv4 address both in the dictionary and inline.
            let (text, group) = if field == Field::Ip {
                let text = address_text!(
                    "r.client_ip",
                    "(SELECT value FROM strings WHERE id = r.client_ip)"
                );
                (text.to_owned(), "1")
            } else {
                (
                    format!("(SELECT value FROM strings WHERE id = {column})"),
                    column,
                )
            };
            let (clause, params) = w.with_lookup(None);
            let sql = format!(
                "SELECT {text}, count(*) FROM {} \
                 WHERE {column} IS NOT NULL{clause} GROUP BY {group} ORDER BY 2 DESC, 1 LIMIT {}",
                w.from(),
                i64::try_from(limit).unwrap_or(i64::MAX)
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            return rows
                .map(|r| {
                    let (v, n) = r?;
                    Ok((v, u64::try_from(n).unwrap_or(0)))
                })
                .collect();
        }
        // Free text needs the raw records: count what the log would list.
        let mut counts = HashMap::<String, u64>::new();
        let mut page_query = ActivityQuery {
            limit: ROUND,
            ..q.clone()
        };
        loop {
            let page = self.activities(&page_query)?;
            for row in &page.rows {
                let value = match field {
                    Field::User => row.user.clone(),
                    Field::Operation => row.operation.clone(),
                    Field::Workload => row.workload.clone(),
                    Field::UserAgent => row.user_agent.clone(),
                    Field::Ip => row.ip.clone(),
                    Field::Country => row.country.clone(),
                    Field::Isp => row.isp.clone(),
                    Field::IpTag => row.ip_tags.clone(),
                    Field::DeviceType => row.device_type.clone(),
                    Field::ClientApp => row.client_app.clone(),
                    Field::Os => row.os.clone(),
                    _ => None,
                };
                if let Some(v) = value {
                    *counts.entry(v).or_default() += 1;
                }
            }
            match page.next {
                Some(next) => page_query.after = Some(next),
                None => break,
            }
        }
        let mut out: Vec<(String, u64)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit);
        Ok(out)
    }

    /// One page of the activity log.
    pub(super) fn activities(&self, q: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        let (w, words) = self.clause(q)?;
        self.list(q, &w, &words)
    }

    /// The activity of a record Id (walks the time-led key: see `Store::raw_record`).
    pub(super) fn activity_by_id(
        &self,
        q: &ActivityQuery,
        id: &str,
    ) -> Result<Option<ActivityRow>, StoreError> {
        let (mut w, words) = self.clause(q)?;
        w.and("r.record_key = ?", [super::record_key(id)]);
        Ok(self.list(q, &w, &words)?.rows.into_iter().next())
    }

    /// The statement and parameters of an activity query's first page, for the tests that hold
    /// the log to its indexes.
    #[cfg(test)]
    pub(super) fn first_page_sql(
        &self,
        q: &ActivityQuery,
    ) -> Result<(String, Vec<Sql>), StoreError> {
        let (w, _) = self.clause(q)?;
        let window = w
            .lookup
            .as_ref()
            .and_then(|l| l.windows(q.after).next(q.limit.max(1) + 1));
        Ok(page_sql(&w, window, q.after, q.limit.max(1) + 1))
    }

    /// The rows a clause selects, newest first, a page at a time.
    fn list(
        &self,
        q: &ActivityQuery,
        w: &Clause,
        words: &[String],
    ) -> Result<ActivityPage, StoreError> {
        let limit = q.limit.max(1);
        let mut out = Vec::new();
        let mut after = q.after;
        let mut chunks: HashMap<i64, crate::batch::Chunk> = HashMap::new();
        let mut reader = ChunkReader::default();
        let mut windows = w.lookup.as_ref().map(|l| l.windows(q.after));
        let mut window = match &mut windows {
            Some(ws) => match ws.next(limit + 1) {
                Some(first) => Some(first),
                // The cursor is past the range.
                None => return Ok(ActivityPage::default()),
            },
            None => None,
        };
        loop {
            loop {
                let round = if words.is_empty() { limit + 1 } else { ROUND };
                let (sql, params) = page_sql(w, window, after, round);
                let mut stmt = self.conn.prepare(&sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut fetched = 0usize;
                while let Some(row) = rows.next()? {
                    fetched += 1;
                    let rowid: i64 = row.get(0)?;
                    let ms: i64 = row.get(2)?;
                    after = Some((ms, rowid));
                    if !words.is_empty() {
                        let (chunk_id, pos): (i64, i64) = (row.get(15)?, row.get(16)?);
                        if !chunks.contains_key(&chunk_id) {
                            if chunks.len() > 64 {
                                chunks.clear();
                            }
                            chunks.insert(chunk_id, reader.chunk(&self.conn, chunk_id)?);
                        }
                        let raw = usize::try_from(pos)
                            .ok()
                            .and_then(|p| chunks.get(&chunk_id).and_then(|c| c.get(p)))
                            .map(searchable_text)
                            .unwrap_or_default();
                        if !words.iter().all(|w| raw.contains(w.as_str())) {
                            continue;
                        }
                    }
                    if out.len() == limit {
                        // One more than asked: there is a next page, starting after the last
                        // returned.
                        return Ok(ActivityPage {
                            next: out.last().map(|(c, _)| *c),
                            rows: out.into_iter().map(|(_, r)| r).collect(),
                        });
                    }
                    let activity = read_row(row)?;
                    out.push(((ms, rowid), activity));
                }
                if let Some(ws) = &mut windows {
                    ws.rows += fetched;
                }
                if fetched < round {
                    break;
                }
            }
            // This window is done: the next, older one.
            window = match windows
                .as_mut()
                .and_then(|ws| ws.next(limit + 1 - out.len()))
            {
                Some(next) => Some(next),
                None => break,
            };
        }
        Ok(ActivityPage {
            next: None,
            rows: out.into_iter().map(|(_, r)| r).collect(),
        })
    }
}

/// The columns [`read_row`] reads, in its order (`r` is `records`).
pub(super) const ROW_COLUMNS: &str = concat!(
    "r.id, (SELECT name FROM tenants WHERE id = r.tenant_id), r.creation_ms, r.record_key, r.record_type, \
     (SELECT value FROM strings WHERE id = r.workload), (SELECT value FROM strings WHERE id = r.operation), \
     (SELECT value FROM strings WHERE id = r.user_id), ",
    address_text!(
        "r.client_ip",
        "(SELECT value FROM strings WHERE id = r.client_ip)"
    ),
    ", (SELECT value FROM strings WHERE id = r.user_agent), r.app, r.category, r.actor_kind, r.outcome, r.flags, \
     r.chunk_id, r.chunk_pos, (SELECT value FROM strings WHERE id = r.country), \
     (SELECT value FROM strings WHERE id = r.isp), (SELECT value FROM strings WHERE id = r.ip_tags), \
     (SELECT value FROM strings WHERE id = r.device_type), (SELECT value FROM strings WHERE id = r.client_app), \
     (SELECT value FROM strings WHERE id = r.os)"
);

/// The columns [`read_row_with`] reads when strings are resolved by the caller: the same places
/// as [`ROW_COLUMNS`], with dictionary ids (and the tenant's id) instead of their text.
pub(super) const ROW_IDS: &str = "r.id, r.tenant_id, r.creation_ms, r.record_key, r.record_type, r.workload, \
     r.operation, r.user_id, r.client_ip, r.user_agent, r.app, r.category, r.actor_kind, r.outcome, r.flags, \
     r.chunk_id, r.chunk_pos, r.country, r.isp, r.ip_tags, r.device_type, r.client_app, r.os";

/// Where [`ROW_IDS`] has `r.client_ip`, whose value may be an inline address rather than a
/// dictionary id.
pub(super) const CLIENT_IP: usize = 8;

/// Reads the text of a row's column (by index): the tenant or a dictionary string.
pub(super) type TextColumn<'a> =
    dyn FnMut(&rusqlite::Row<'_>, usize) -> Result<Option<String>, StoreError> + 'a;

/// An activity from a row selected with [`ROW_COLUMNS`].
pub(super) fn read_row(row: &rusqlite::Row<'_>) -> Result<ActivityRow, StoreError> {
    read_row_with(row, &mut |row, i| Ok(row.get::<_, Option<String>>(i)?))
}

/// An activity from a row, with `text` reading the text columns (tenant and dictionary strings)
/// at the given index.
pub(super) fn read_row_with(
    row: &rusqlite::Row<'_>,
    text: &mut TextColumn<'_>,
) -> Result<ActivityRow, StoreError> {
    let ms: i64 = row.get(2)?;
    let flags: i64 = row.get(14)?;
    Ok(ActivityRow {
        id: id_from_key(row.get_ref(3)?)?,
        tenant: text(row, 1)?.unwrap_or_default(),
        time: (ms != 0)
            .then(|| DateTime::from_timestamp_millis(ms))
            .flatten(),
        record_type: row.get(4)?,
        workload: text(row, 5)?,
        operation: text(row, 6)?,
        user: text(row, 7)?,
        ip: text(row, 8)?,
        user_agent: text(row, 9)?,
        app: row.get::<_, Option<i64>>(10)?.and_then(codes::app_of),
        category: row.get::<_, Option<i64>>(11)?.and_then(codes::category_of),
        actor_kind: row
            .get::<_, Option<i64>>(12)?
            .and_then(codes::actor_kind_of),
        result: row.get::<_, Option<i64>>(13)?.and_then(codes::outcome_of),
        admin: flags & codes::FLAG_ADMIN != 0,
        external_user: flags & codes::FLAG_EXTERNAL != 0,
        impersonated: flags & codes::FLAG_IMPERSONATED != 0,
        country: text(row, 17)?,
        isp: text(row, 18)?,
        ip_tags: text(row, 19)?,
        device_type: text(row, 20)?,
        client_app: text(row, 21)?,
        os: text(row, 22)?,
    })
}

/// What free text is searched in: every value of the record, decoded (escapes resolved, string
/// values inside stringified JSON too), lowercased, one per line; keys are left out so that
/// `text~operation` does not match every record. A record that is not JSON is searched as is.
pub fn searchable_text(raw: &[u8]) -> String {
    fn walk(v: &serde_json::Value, out: &mut String, depth: usize) {
        match v {
            serde_json::Value::String(s) => {
                out.push_str(&s.to_lowercase());
                out.push('\n');
                let t = s.trim_start();
                if depth < 4
                    && (t.starts_with('{') || t.starts_with('['))
                    && let Ok(inner) = serde_json::from_str::<serde_json::Value>(s)
                {
                    walk(&inner, out, depth + 1);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out, depth)),
            serde_json::Value::Object(m) => m.values().for_each(|i| walk(i, out, depth)),
            serde_json::Value::Null => {}
            other => {
                out.push_str(&other.to_string());
                out.push('\n');
            }
        }
    }
    match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(v) => {
            let mut out = String::new();
            walk(&v, &mut out, 0);
            out
        }
        Err(_) => String::from_utf8_lossy(raw).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::searchable_text;

    #[test]
    fn free_text_is_searched_in_decoded_values_not_keys() {
        let raw = br#"{"Operation":"FileAccessed","ObjectId":"C:\\Users\\bob\/Q3 \u00c9t\u00e9.xlsx","Data":"{\"f3u\":\"eve@contoso.com\"}","N":42}"#;
        let t = searchable_text(raw);
        assert!(t.contains(r"c:\users\bob/q3 été.xlsx"), "{t}");
        assert!(t.contains("eve@contoso.com"), "{t}");
        assert!(t.contains("42"));
        assert!(!t.contains("operation"), "keys are not searched: {t}");
    }
}
