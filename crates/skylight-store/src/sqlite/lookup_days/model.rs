//! A randomized model of the packed lookups: random commits (several days, untimed records,
//! records of 1970 and 1969, two tenants, repeats, late records into packed days), random
//! catch-ups, packs at random times (whole, or one lookup's day alone, as a pack killed between
//! its transactions leaves it), random retention (some cut short, some deleting the newest
//! record so that its row id is handed out again), reopening, and a second writer on the same
//! file. After each step the lookups hold every record up to `upto` as [`check_entries`] says,
//! and the log, its histograms and its top values list exactly what a brute-force model holds.
//!
//! `SKYLIGHT_MODEL_SEEDS` (default 4) seeds of `SKYLIGHT_MODEL_STEPS` (default 250) steps;
//! `SKYLIGHT_MODEL_SEED` runs that one seed alone.

#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::needless_late_init
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use skylight_model::filter::{Condition, Field, Filter, Test};
use skylight_model::{AuditRecord, BlobRef, ContentType};

use super::super::SqliteStore;
use super::super::lookups::Column;
use super::{code, decode, list_start, period_hours};
use crate::test_rng::TestRng as Rng;
use crate::{ActivityQuery, RecordBatch, Store};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

const USERS: [&str; 4] = ["alice@x.com", "bob@x.com", "carol@x.com", "dave@y.org"];
const ADDRESSES: [&str; 4] = ["10.1.2.3", "10.9.9.9", "2001:db8::5", "203.0.113.9"];
const OPERATIONS: [&str; 3] = ["FileAccessed", "MailItemsAccessed", "UserLoggedIn"];
const TENANTS: [&str; 2] = ["t1", "t2"];

/// A record template: the same template delivered to the same tenant is the same record.
#[derive(Clone, Copy, Debug)]
struct Template {
    /// `None`: no CreationTime.
    ms: Option<i64>,
    user: Option<usize>,
    ip: Option<usize>,
    op: Option<usize>,
}

/// 2024-05-10, the first day of the model's ordinary records.
fn base() -> i64 {
    Utc.with_ymd_and_hms(2024, 5, 10, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
}

const DAYS: i64 = 7;

fn new_template(rng: &mut Rng, late: bool) -> Template {
    let ms = if late {
        // Into the first days (packed early).
        Some(base() + rng.range(0, 2 * DAY))
    } else {
        match rng.below(100) {
            0..=4 => None,
            // 1970-01-01 (hours 0–23), never at 0 itself.
            5..=9 => Some(rng.range(1_000, DAY)),
            // 1970-01-02: day 1, packable.
            10..=13 => Some(rng.range(DAY, 2 * DAY)),
            // 1969-12-30 .. 31.
            14..=16 => Some(-rng.range(1_000, 2 * DAY)),
            // On an hour's or a day's boundary.
            17..=19 => Some(base() + rng.range(0, DAYS * 24) * HOUR),
            _ => Some(base() + rng.range(0, DAYS * DAY)),
        }
    };
    // Whole seconds: CreationTime is written to the second.
    let ms = ms.map(|m| m.div_euclid(1000) * 1000);
    let pick = |rng: &mut Rng, n: usize| (!rng.chance(10)).then(|| rng.below(n as u64) as usize);
    Template {
        ms,
        user: pick(rng, USERS.len()),
        ip: pick(rng, ADDRESSES.len()),
        op: pick(rng, OPERATIONS.len()),
    }
}

fn audit_record(n: usize, t: &Template) -> AuditRecord {
    let mut fields = vec![format!(r#""Id":"m-{n}""#)];
    if let Some(ms) = t.ms {
        let time = Utc.timestamp_millis_opt(ms).unwrap();
        fields.push(format!(
            r#""CreationTime":"{}""#,
            time.format("%Y-%m-%dT%H:%M:%S")
        ));
    }
    if let Some(u) = t.user {
        fields.push(format!(r#""UserId":"{}""#, USERS[u]));
    }
    if let Some(a) = t.ip {
        fields.push(format!(r#""ClientIP":"{}""#, ADDRESSES[a]));
    }
    if let Some(o) = t.op {
        fields.push(format!(r#""Operation":"{}""#, OPERATIONS[o]));
    }
    AuditRecord::from_json(&format!("{{{}}}", fields.join(","))).unwrap()
}

/// What a query selects besides its time range.
#[derive(Clone, Copy, Debug)]
enum Sel {
    User(usize),
    Ip(usize),
    /// 10.0.0.0/8: the first two addresses.
    Block,
    Op(usize),
}

impl Sel {
    fn filter(self) -> String {
        match self {
            Sel::User(u) => format!("user={}", USERS[u]),
            Sel::Ip(a) => format!("ip={}", ADDRESSES[a]),
            Sel::Block => "ip=10.0.0.0/8".to_owned(),
            Sel::Op(o) => format!("operation={}", OPERATIONS[o]),
        }
    }
    fn keeps(self, t: &Template) -> bool {
        match self {
            Sel::User(u) => t.user == Some(u),
            Sel::Ip(a) => t.ip == Some(a),
            Sel::Block => matches!(t.ip, Some(0 | 1)),
            Sel::Op(o) => t.op == Some(o),
        }
    }
    fn all() -> Vec<Sel> {
        let mut v: Vec<Sel> = (0..USERS.len()).map(Sel::User).collect();
        v.extend((0..ADDRESSES.len()).map(Sel::Ip));
        v.push(Sel::Block);
        v.extend((0..OPERATIONS.len()).map(Sel::Op));
        v
    }
}

type Range = (Option<i64>, Option<i64>);

struct Model {
    templates: Vec<Template>,
    /// The stored records: (tenant, template).
    stored: BTreeSet<(usize, usize)>,
    /// Every record ever delivered (redelivered after retention, too).
    delivered: Vec<(usize, usize)>,
}

impl Model {
    fn expected(
        &self,
        sel: Sel,
        (from, to): Range,
        tenant: Option<usize>,
    ) -> Vec<(String, String, i64)> {
        let mut v: Vec<(String, String, i64)> = self
            .stored
            .iter()
            .filter(|(tn, n)| {
                let t = &self.templates[*n];
                let ms = t.ms.unwrap_or(0);
                sel.keeps(t)
                    && tenant.is_none_or(|x| x == *tn)
                    && from.is_none_or(|f| ms >= f)
                    && to.is_none_or(|e| ms < e)
            })
            .map(|&(tn, n)| {
                (
                    TENANTS[tn].to_owned(),
                    format!("m-{n}"),
                    self.templates[n].ms.unwrap_or(0),
                )
            })
            .collect();
        v.sort();
        v
    }
}

fn query(sel: Sel, (from, to): Range, tenant: Option<usize>, limit: usize) -> ActivityQuery {
    let mut filter = Filter::parse(&[sel.filter()]).unwrap();
    if from.is_some() || to.is_some() {
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).unwrap();
        filter.conditions.push(Condition {
            field: Field::Time,
            test: Test::TimeRange(from.map(at), to.map(at)),
        });
    }
    ActivityQuery {
        tenant: tenant.map(|t| TENANTS[t].to_owned()),
        filter,
        limit,
        after: None,
    }
}

/// The store lists, counts and tops exactly what the model holds.
fn check_query(
    store: &SqliteStore,
    model: &Model,
    sel: Sel,
    range: Range,
    tenant: Option<usize>,
    limit: usize,
    what: &str,
) {
    let want = model.expected(sel, range, tenant);
    let mut q = query(sel, range, tenant, limit);
    let mut got = Vec::new();
    let mut times = Vec::new();
    loop {
        let page = store.activities(&q).unwrap();
        for r in page.rows {
            let ms = r.time.map_or(0, |t: DateTime<Utc>| t.timestamp_millis());
            times.push(ms);
            got.push((r.tenant, r.id, ms));
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
        assert!(got.len() <= want.len() + 10, "{what}: runaway pages");
    }
    q.after = None;
    let ctx = format!("{what}: {} {range:?} tenant {tenant:?}", sel.filter());
    assert!(times.is_sorted_by(|a, b| a >= b), "{ctx}: newest first");
    got.sort();
    assert_eq!(got, want, "{ctx}: the log");
    for bucket in [300_000, HOUR, 2 * HOUR, DAY] {
        let mut counts = BTreeMap::<i64, u64>::new();
        for (_, _, ms) in &want {
            *counts.entry(ms / bucket * bucket).or_default() += 1;
        }
        let counted = store.activity_histogram(&q, bucket).unwrap();
        assert_eq!(
            counted,
            counts.into_iter().collect::<Vec<_>>(),
            "{ctx}: histogram of {bucket}"
        );
    }
    let kept: Vec<&Template> = model
        .stored
        .iter()
        .filter(|(tn, n)| {
            let t = &model.templates[*n];
            let ms = t.ms.unwrap_or(0);
            sel.keeps(t)
                && tenant.is_none_or(|x| x == *tn)
                && range.0.is_none_or(|f| ms >= f)
                && range.1.is_none_or(|e| ms < e)
        })
        .map(|(_, n)| &model.templates[*n])
        .collect();
    for (field, values, of) in [
        (
            Field::User,
            &USERS[..],
            (|t: &Template| t.user) as fn(&Template) -> Option<usize>,
        ),
        (Field::Ip, &ADDRESSES[..], |t: &Template| t.ip),
        (Field::Operation, &OPERATIONS[..], |t: &Template| t.op),
    ] {
        let mut counts = BTreeMap::<String, u64>::new();
        for t in &kept {
            if let Some(v) = of(t) {
                *counts.entry(values[v].to_owned()).or_default() += 1;
            }
        }
        let mut want: Vec<(String, u64)> = counts.into_iter().collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let top = store.activity_top(&q, field, 50).unwrap();
        assert_eq!(top, want, "{ctx}: top {field:?}");
    }
}

/// Every record up to `upto` has each of its lookup entries exactly once, in a table or a list;
/// nothing else is in either from the hour after retention's floor on, and before it only lists
/// hold more (entries of deleted records, which queries do not read or count there). Lists hold
/// their own hours only, from day 1 on. Returns how many entries the lists hold.
pub(super) fn check_entries(store: &SqliteStore, what: &str) -> usize {
    let inner = store.lock();
    let conn = &inner.conn;
    let (upto, floor): (i64, i64) = conn
        .query_row("SELECT upto, floor_ms FROM looked_up", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let floor_hour = floor.div_euclid(HOUR);
    let max: i64 = conn
        .query_row("SELECT coalesce(max(id), 0) FROM records", [], |r| r.get(0))
        .unwrap();
    assert!(
        upto <= max,
        "{what}: upto {upto} above the last record {max}"
    );
    let mut want = BTreeSet::new();
    let mut stmt = conn
        .prepare(
            "SELECT id, hour, user_id, client_ip, operation FROM records \
             WHERE id <= (SELECT upto FROM looked_up)",
        )
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let (id, hour): (i64, i64) = (r.get(0).unwrap(), r.get(1).unwrap());
        for (i, column) in Column::ALL.into_iter().enumerate() {
            if let Some(value) = r.get::<_, Option<i64>>(2 + i).unwrap() {
                want.insert((code(column), value, hour, id));
            }
        }
    }
    drop(rows);
    let mut tables = Vec::new();
    for column in Column::ALL {
        let sql = format!("SELECT {}, hour, id FROM {}", column.name(), column.table());
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            tables.push((
                code(column),
                r.get(0).unwrap(),
                r.get(1).unwrap(),
                r.get(2).unwrap(),
            ));
        }
    }
    let mut lists = Vec::new();
    let mut stmt = conn
        .prepare("SELECT col, value, start_hour, entries FROM lookup_days")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let (col, value, start): (i64, i64, i64) =
            (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap());
        let column = Column::ALL.into_iter().find(|c| code(*c) == col).unwrap();
        let entries = decode(start, &r.get::<_, Vec<u8>>(3).unwrap()).unwrap();
        assert!(!entries.is_empty(), "{what}: an empty list is deleted");
        assert!(entries.is_sorted(), "{what}: a list is sorted");
        assert_eq!(list_start(column, start), start, "{what}: list start");
        for (hour, id) in entries {
            assert!(
                (start..start + period_hours(column)).contains(&hour) && hour >= 24,
                "{what}: list {start} holds hour {hour}"
            );
            lists.push((col, value, hour, id));
        }
    }
    let packed = lists.len();
    // Above the floor's hour: exactly the records' entries, each once.
    let above = |e: &&(i64, i64, i64, i64)| e.2 > floor_hour;
    let mut got: Vec<_> = tables.iter().chain(&lists).filter(above).copied().collect();
    let n = got.len();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), n, "{what}: an entry twice");
    let want_above: Vec<_> = want.iter().filter(above).copied().collect();
    let (got, want_above): (BTreeSet<_>, BTreeSet<_>) =
        (got.into_iter().collect(), want_above.into_iter().collect());
    let missing: Vec<_> = want_above.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want_above).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, extra {extra:?} (upto {upto}, floor hour {floor_hour})"
    );
    // At the floor's hour and before: every record's entry is there, the tables hold no other
    // and none twice.
    let table_set: BTreeSet<_> = tables.iter().copied().collect();
    assert_eq!(table_set.len(), tables.len(), "{what}: a table entry twice");
    assert!(
        table_set.iter().all(|e| want.contains(e)),
        "{what}: a table holds an entry of no record"
    );
    let everything: BTreeSet<_> = tables.iter().chain(&lists).copied().collect();
    let missing: Vec<_> = want.difference(&everything).take(5).collect();
    assert!(missing.is_empty(), "{what}: missing {missing:?}");
    packed
}

/// Keeps the writer from catching up or packing on its own (the model does both).
fn quiet(store: &SqliteStore) {
    let mut inner = store.lock();
    let later = Instant::now() + Duration::from_secs(365 * 86_400);
    inner.lookups_filled = later;
    inner.packed_at = later;
}

fn open(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(dir).unwrap();
    quiet(&store);
    store
}

fn random_range(rng: &mut Rng) -> Range {
    let point = |rng: &mut Rng| -> i64 {
        match rng.below(10) {
            0 => rng.range(-2 * DAY, 3 * DAY) / 1000 * 1000,
            1 => base() + rng.range(0, DAYS * 24) * HOUR,
            2 => base() + rng.range(0, DAYS) * DAY,
            _ => base() + rng.range(-DAY, (DAYS + 1) * DAY),
        }
    };
    match rng.below(8) {
        0 => (None, None),
        1 => (Some(point(rng)), None),
        2 => (None, Some(point(rng))),
        _ => {
            let (a, b) = (point(rng), point(rng));
            if a <= b {
                (Some(a), Some(b))
            } else if rng.chance(20) {
                // Empty.
                (Some(a), Some(b))
            } else {
                (Some(b), Some(a))
            }
        }
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![open(dir.path())];
    let mut model = Model {
        templates: Vec::new(),
        stored: BTreeSet::new(),
        delivered: Vec::new(),
    };
    let mut blobs = 0usize;
    let mut stats = BTreeMap::<&str, u64>::new();
    for step in 0..steps {
        let what = format!("seed {seed} step {step}");
        // The second writer on the same file comes and goes.
        if stores.len() == 1 && rng.chance(3) {
            stores.push(open(dir.path()));
        } else if stores.len() == 2 && rng.chance(3) {
            stores.pop();
        }
        let s = rng.below(stores.len() as u64) as usize;
        let store = &stores[s];
        let action = rng.below(100);
        let desc;
        match action {
            0..=44 => {
                let tenant = rng.below(2) as usize;
                let n = 1 + rng.below(25) as usize;
                let late = rng.chance(25);
                let mut batch = Vec::new();
                for _ in 0..n {
                    let t = if !model.delivered.is_empty() && rng.chance(25) {
                        // A repeat (or a redelivery of a record retention deleted).
                        model.delivered[rng.below(model.delivered.len() as u64) as usize].1
                    } else {
                        model.templates.push(new_template(&mut rng, late));
                        model.templates.len() - 1
                    };
                    batch.push(t);
                }
                let records: Vec<AuditRecord> = batch
                    .iter()
                    .map(|&t| audit_record(t, &model.templates[t]))
                    .collect();
                blobs += 1;
                let blob = BlobRef {
                    content_id: format!("b{blobs}"),
                    created: Utc.with_ymd_and_hms(2024, 5, 20, 0, 0, 0).unwrap(),
                };
                store
                    .commit_batch(
                        TENANTS[tenant],
                        ContentType::Exchange,
                        &blob,
                        RecordBatch::from_records(&records).unwrap(),
                    )
                    .unwrap();
                for t in batch {
                    model.stored.insert((tenant, t));
                    model.delivered.push((tenant, t));
                }
                desc = format!("commit {n} to {tenant} late {late}");
            }
            45..=59 => {
                let at_least = [1, 1, 5, 40][rng.below(4) as usize];
                store.lock().catch_up_lookups(at_least).unwrap();
                desc = format!("catch up {at_least}");
            }
            60..=74 => {
                // A pack at a random time, with some pending days settled.
                let now_ms = if rng.chance(15) {
                    rng.range(2 * DAY, 5 * DAY)
                } else {
                    base() + rng.range(DAY, (DAYS + 3) * DAY)
                };
                let mut inner = store.lock();
                let days: Vec<i64> = inner
                    .conn
                    .prepare("SELECT day FROM lookup_days_pending")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let mut settled = Vec::new();
                for day in days {
                    let touched = if rng.chance(75) {
                        settled.push(day);
                        now_ms - 20 * 60_000
                    } else {
                        now_ms - 60_000
                    };
                    inner
                        .conn
                        .execute(
                            "UPDATE lookup_days_pending SET touched_ms = ?2 WHERE day = ?1",
                            [day, touched],
                        )
                        .unwrap();
                }
                let packed = inner.pack_lookups(now_ms, None).unwrap();
                // Every settled day due is packed whole (but for the hours before retention's
                // floor, whose records retention is deleting) and no longer pending.
                let last_day = now_ms.div_euclid(DAY) - 2;
                let floor_hour = super::floor_hour(&inner.conn).unwrap();
                for day in settled.into_iter().filter(|&d| d <= last_day) {
                    for column in Column::ALL {
                        let left: i64 = inner
                            .conn
                            .query_row(
                                &format!(
                                    "SELECT count(*) FROM {} WHERE hour BETWEEN ?1 AND ?2",
                                    column.table()
                                ),
                                [(day * 24).max(floor_hour), day * 24 + 23],
                                |r| r.get(0),
                            )
                            .unwrap();
                        assert_eq!(left, 0, "{what}: day {day} left in {}", column.table());
                    }
                    let pending: i64 = inner
                        .conn
                        .query_row(
                            "SELECT count(*) FROM lookup_days_pending WHERE day = ?1",
                            [day],
                            |r| r.get(0),
                        )
                        .unwrap();
                    assert_eq!(pending, 0, "{what}: day {day} still pending");
                }
                desc = format!("pack at {now_ms}: {packed:?}");
            }
            75..=81 => {
                // One lookup's day alone, as a pack killed between its transactions leaves it.
                let day = if rng.chance(15) {
                    1
                } else {
                    base() / DAY + rng.range(0, DAYS)
                };
                let hour = day * 24 + 6 * rng.range(0, 4);
                let column = Column::ALL[rng.below(3) as usize];
                store.lock().pack_hours(column, (hour, hour + 5)).unwrap();
                desc = format!("pack hours {hour} of {column:?}");
            }
            82..=89 => {
                // The newest record (the highest row id, which SQLite hands out again once it
                // is deleted), if it is timed.
                let newest: Option<i64> = store
                    .lock()
                    .conn
                    .query_row(
                        "SELECT creation_ms FROM records WHERE creation_ms >= ?1 \
                         ORDER BY id DESC LIMIT 1",
                        [DAY],
                        |r| r.get(0),
                    )
                    .ok();
                let through_newest = newest.filter(|_| rng.chance(30));
                let cutoff = if let Some(ms) = through_newest {
                    // Through the newest record's hour, after it, its entries packed first: the
                    // floor's list names it once it is deleted, and its id is reused.
                    let mut inner = store.lock();
                    inner.catch_up_lookups(1).unwrap();
                    let hour = ms.div_euclid(HOUR);
                    for column in Column::ALL {
                        inner.pack_hours(column, (hour, hour)).unwrap();
                    }
                    ms + 1 + rng.range(0, HOUR - ms.rem_euclid(HOUR))
                } else if rng.chance(20) {
                    rng.range(HOUR, 3 * DAY)
                } else {
                    base() + rng.range(0, DAYS * DAY)
                };
                let deleted = if rng.chance(25) {
                    // Cut short (a crash, or another process's commits in between): the records
                    // deleted, the lists below the floor not yet dropped, the chunks kept.
                    let mut n = 0;
                    loop {
                        let batch = store.lock().delete_records_batch(cutoff).unwrap();
                        if batch == 0 {
                            break n;
                        }
                        n += batch;
                    }
                } else {
                    store
                        .delete_activities_before(Utc.timestamp_millis_opt(cutoff).unwrap())
                        .unwrap()
                };
                let before = model.stored.len();
                let templates = &model.templates;
                model
                    .stored
                    .retain(|&(_, n)| templates[n].ms.is_none_or(|ms| ms <= 0 || ms >= cutoff));
                assert_eq!(
                    deleted as usize,
                    before - model.stored.len(),
                    "{what}: deleted"
                );
                desc =
                    format!("retention before {cutoff} (through the newest: {through_newest:?})");
            }
            90..=93 => {
                let n = stores.len();
                stores.clear();
                for _ in 0..n {
                    stores.push(open(dir.path()));
                }
                desc = "reopen".to_owned();
            }
            _ => {
                let now = Utc.timestamp_millis_opt(base() + rng.range(DAY, (DAYS + 3) * DAY));
                stores[s].pack_lookups(now.unwrap()).unwrap();
                desc = "pack as the writer would (real touched times)".to_owned();
            }
        }
        let what = format!("{what} ({desc})");
        {
            let inner = stores[0].lock();
            for (name, sql) in [
                ("lists", "SELECT count(*) FROM lookup_days"),
                (
                    "listed hours < 48",
                    "SELECT count(*) FROM lookup_days WHERE start_hour < 48",
                ),
                ("table entries", "SELECT count(*) FROM record_users"),
                ("records", "SELECT count(*) FROM records"),
                (
                    "not looked up",
                    "SELECT count(*) FROM records WHERE id > (SELECT upto FROM looked_up)",
                ),
            ] {
                let n: i64 = inner.conn.query_row(sql, [], |r| r.get(0)).unwrap();
                *stats.entry(name).or_default() += n as u64;
            }
        }
        *stats
            .entry(match action {
                0..=44 => "commits",
                45..=59 => "catch-ups",
                60..=74 => "packs",
                75..=81 => "pack steps",
                82..=89 => "retention",
                90..=93 => "reopens",
                _ => "writer packs",
            })
            .or_default() += 1;
        for store in &stores {
            check_entries(store, &what);
        }
        let full = step % 25 == 24 || step + 1 == steps;
        let sels = Sel::all();
        if full {
            for &sel in &sels {
                for range in [
                    (None, None),
                    (
                        Some(base() + 2 * DAY + 5 * HOUR / 2),
                        Some(base() + 5 * DAY - HOUR / 4),
                    ),
                    (Some(base() + DAY), Some(base() + 3 * DAY)),
                    (Some(1), Some(2 * DAY)),
                    (Some(base() + 3 * DAY), None),
                    random_range(&mut rng),
                ] {
                    let limit = 1 + rng.below(9) as usize;
                    check_query(&stores[0], &model, sel, range, None, limit, &what);
                }
                let tenant = rng.below(2) as usize;
                check_query(
                    &stores[0],
                    &model,
                    sel,
                    random_range(&mut rng),
                    Some(tenant),
                    5,
                    &what,
                );
            }
        } else {
            for _ in 0..3 {
                let sel = sels[rng.below(sels.len() as u64) as usize];
                let range = random_range(&mut rng);
                let tenant = rng.chance(20).then(|| rng.below(2) as usize);
                let limit = 1 + rng.below(9) as usize;
                let store = &stores[rng.below(stores.len() as u64) as usize];
                check_query(store, &model, sel, range, tenant, limit, &what);
            }
        }
    }
    eprintln!("seed {seed}: {stats:?} (entry counts summed over the steps)");
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn packed_lookups_follow_the_model() {
    let steps = env("SKYLIGHT_MODEL_STEPS", 250) as usize;
    if let Ok(seed) = std::env::var("SKYLIGHT_MODEL_SEED") {
        run(seed.parse().unwrap(), steps);
        return;
    }
    for seed in 1..=env("SKYLIGHT_MODEL_SEEDS", 4) {
        run(seed, steps);
    }
}
