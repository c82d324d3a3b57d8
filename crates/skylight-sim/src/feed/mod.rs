//! The publication plan: which content blobs exist, when each was published, what it holds.
//!
//! Nothing is stored. A blob is identified by (content type, activity slot, user shard); its
//! publication time, record count and records are pure functions of the seed, so the simulator
//! serves a 10,000-user tenant in the memory of a small one. Only scenario records (a few thousand)
//! are built up front.

pub mod ids;
pub mod runtime;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

use crate::catalog::{self, ContentType, Family, RecordTypeInfo};
use crate::config::{Fault, SimConfig};
use crate::records::{self, RecordCtx, agents};
use crate::rng::{Rng, guid, hash, hash_str};
use crate::tenant::{Tenant, User, UserKind};
use ids::BlobKey;

/// Users per shard: each blob carries the activity of one shard for one slot.
pub const SHARD_SIZE: usize = 500;
/// Content stays retrievable this long after publication.
pub const RETENTION: i64 = 7 * 24 * 3600;

/// A record injected by a scenario, already serialised.
#[derive(Debug, Clone)]
pub struct Injected {
    /// Record Id.
    pub id: String,
    /// The record's JSON.
    pub json: Vec<u8>,
}

/// Facts about one blob.
#[derive(Debug, Clone, Copy)]
pub struct BlobMeta {
    /// Identity.
    pub key: BlobKey,
    /// `contentCreated`: when the blob became available.
    pub created: DateTime<Utc>,
    /// `contentExpiration`.
    pub expiration: DateTime<Utc>,
    /// When the blob starts to show in listings: at or after `contentCreated`, so a blob can
    /// appear with a `contentCreated` already in the past (contract §2.6 step 5, quirk Q6).
    pub available: DateTime<Utc>,
    /// Regularly generated records.
    pub base: u32,
    /// Coverage-sweep records (every RecordType appears daily).
    pub sweep: u32,
    /// Scenario records.
    pub injected: u32,
}

impl BlobMeta {
    /// Records in the blob, not counting duplicate copies.
    pub fn count(&self) -> u32 {
        self.base + self.sweep + self.injected
    }
}

/// Record types with their cumulative weights, for weighted picking.
type TypeTable = Vec<(&'static RecordTypeInfo, u64)>;

/// The deterministic publication plan of a tenant.
#[derive(Debug)]
pub struct Feed {
    seed: u64,
    /// The tenant whose activity this is.
    pub tenant: std::sync::Arc<Tenant>,
    slot_secs: i64,
    shards: u32,
    /// First slot of the history.
    pub history_start_slot: i64,
    /// When the simulator started (fault windows are placed relative to it).
    start: DateTime<Utc>,
    duplicates: bool,
    late: bool,
    expired: bool,
    gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Sum of user intensities per shard and UTC hour of the week.
    shard_load: Vec<[f64; 168]>,
    /// Per content type: records per user per active hour, and the weighted type table.
    ct_rate: BTreeMap<ContentType, (f64, TypeTable)>,
    /// Sweep types per content type.
    sweep_types: BTreeMap<ContentType, Vec<&'static RecordTypeInfo>>,
    /// Scenario records by blob.
    injected: BTreeMap<BlobKey, Vec<Injected>>,
    /// Region code inside content ids.
    pub region: &'static str,
}

/// How active a user is at a moment: 1.0 in local working hours on weekdays.
pub fn intensity(user: &User, t: DateTime<Utc>) -> f64 {
    if user.departed {
        return 0.0;
    }
    if user.kind == UserKind::Service {
        return user.activity * 0.5;
    }
    let local = t + Duration::minutes(i64::from(user.country.utc_offset_minutes));
    let hour = local.hour();
    let weekend = local.weekday().number_from_monday() >= 6;
    let base = match hour {
        8..=11 | 13..=17 => 1.0,
        12 => 0.6,
        7 | 18 => 0.35,
        19..=22 => 0.08,
        _ => 0.02,
    };
    user.activity * base * if weekend { 0.06 } else { 1.0 }
}

impl Feed {
    /// Plans the feed for a tenant; `start` is the simulator's "now" at start-up.
    pub fn new(cfg: &SimConfig, tenant: std::sync::Arc<Tenant>, start: DateTime<Utc>) -> Feed {
        let seed = cfg.seed;
        let slot_secs = i64::from(cfg.blob_minutes.max(1)) * 60;
        let shards = tenant.users.len().div_ceil(SHARD_SIZE).max(1) as u32;
        let history_start = start - Duration::days(i64::from(cfg.days));
        let history_start_slot = history_start.timestamp().div_euclid(slot_secs) + 1;

        let monday = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(start);
        let mut shard_load = vec![[0.0f64; 168]; shards as usize];
        for u in &tenant.users {
            let s = u.index / SHARD_SIZE;
            for (h, slot) in shard_load[s].iter_mut().enumerate() {
                *slot += intensity(u, monday + Duration::minutes(h as i64 * 60 + 30));
            }
        }

        let mut ct_rate = BTreeMap::new();
        let mut sweep_types = BTreeMap::new();
        for ct in ContentType::ALL {
            let mut cum = 0u64;
            let table: Vec<_> = catalog::types_of(ct)
                .filter(|t| t.weight > 0)
                .map(|t| {
                    cum += u64::from(t.weight);
                    (t, cum)
                })
                .collect();
            // Weights are records per 100 users per 10-hour working day.
            ct_rate.insert(ct, (cum as f64 / 100.0 / 10.0, table));
            sweep_types.insert(ct, catalog::types_of(ct).collect());
        }

        let mut gaps = Vec::new();
        if cfg.has(Fault::Gaps) {
            for d in 0..=i64::from(cfg.days) {
                let mut r = Rng::new(&[seed, hash_str("gap"), d as u64]);
                if d == 0 || r.chance(0.6) {
                    let from =
                        history_start + Duration::days(d) + Duration::minutes(r.range(60, 20 * 60));
                    let to = from + Duration::minutes(r.range(120, 300));
                    if to < start {
                        gaps.push((from, to));
                    }
                }
            }
        }

        Feed {
            seed,
            tenant,
            slot_secs,
            shards,
            history_start_slot,
            start,
            duplicates: cfg.has(Fault::Duplicates),
            late: cfg.has(Fault::Late),
            expired: cfg.has(Fault::Expired),
            gaps,
            shard_load,
            ct_rate,
            sweep_types,
            injected: BTreeMap::new(),
            region: ["na", "emea", "apac"][(seed % 3) as usize],
        }
    }

    /// Number of user shards.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// Slot length in seconds.
    pub fn slot_secs(&self) -> i64 {
        self.slot_secs
    }

    /// The slot a moment falls in.
    pub fn slot_of(&self, t: DateTime<Utc>) -> i64 {
        t.timestamp().div_euclid(self.slot_secs)
    }

    /// The start of a slot.
    pub fn slot_start(&self, slot: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(slot * self.slot_secs, 0)
            .single()
            .unwrap_or(self.start)
    }

    /// The longest a blob can wait between its slot's end and publication.
    pub fn max_delay(&self) -> Duration {
        let mut d = Duration::hours(12);
        if self.late {
            d += Duration::days(3);
        }
        if !self.gaps.is_empty() {
            d += Duration::hours(6);
        }
        d
    }

    /// Adds a scenario record to the blob covering its user and time.
    pub fn inject(
        &mut self,
        ct: ContentType,
        user: usize,
        time: DateTime<Utc>,
        id: String,
        json: Vec<u8>,
    ) -> BlobKey {
        let key = BlobKey {
            ct,
            slot: self.slot_of(time).max(self.history_start_slot),
            shard: (user / SHARD_SIZE) as u32,
        };
        self.injected
            .entry(key)
            .or_default()
            .push(Injected { id, json });
        key
    }

    /// The blob of a key, if it exists (it has records and lies in the history).
    pub fn meta(&self, key: BlobKey) -> Option<BlobMeta> {
        if key.slot < self.history_start_slot || key.shard >= self.shards {
            return None;
        }
        let slot_start = self.slot_start(key.slot);
        let slot_end = slot_start + Duration::seconds(self.slot_secs);
        let mut r = Rng::new(&[
            self.seed,
            hash_str("blob"),
            key.ct.index(),
            key.slot as u64,
            u64::from(key.shard),
        ]);

        let (rate, _) = &self.ct_rate[&key.ct];
        let how =
            ((slot_start.weekday().num_days_from_monday() * 24 + slot_start.hour()) % 168) as usize;
        let lambda =
            rate * self.shard_load[key.shard as usize][how] * self.slot_secs as f64 / 3600.0;
        let base = r.poisson(lambda) as u32;
        let sweep = if key.shard == 0 {
            self.sweep_indexes(key).len() as u32
        } else {
            0
        };
        let injected = self.injected.get(&key).map_or(0, |v| v.len() as u32);
        if base + sweep + injected == 0 {
            return None;
        }

        let roll = r.f64();
        let delay_secs = if roll < 0.8 {
            r.range(180, 1800)
        } else if roll < 0.95 {
            r.range(1800, 4 * 3600)
        } else {
            r.range(4 * 3600, 12 * 3600)
        };
        let mut created = slot_end
            + Duration::seconds(delay_secs)
            + Duration::nanoseconds(r.below(1_000_000_000) as i64);
        if self.late && r.chance(0.03) {
            created += Duration::seconds(r.range(86_400, 3 * 86_400));
        }
        for (from, to) in &self.gaps {
            if created >= *from && created < *to {
                created = *to
                    + Duration::seconds(r.range(1, 600))
                    + Duration::nanoseconds(r.below(1_000_000_000) as i64);
            }
        }
        let lag = r.f64();
        let lag_secs = if lag < 0.8 {
            r.range(0, 120)
        } else if lag < 0.95 {
            r.range(120, 1200)
        } else {
            r.range(1200, 3 * 3600)
        };
        let available = created + Duration::seconds(lag_secs);
        let mut expiration = created + Duration::seconds(RETENTION);
        let oldest_tenth = self.slot_start(self.history_start_slot)
            + (self.start - self.slot_start(self.history_start_slot)) / 10;
        if self.expired && created < oldest_tenth && r.chance(0.25) {
            expiration = expiration.min(self.start - Duration::seconds(60));
        }
        Some(BlobMeta {
            key,
            created,
            expiration,
            available,
            base,
            sweep,
            injected,
        })
    }

    /// Which sweep record types (indexes into the content type's type list) a shard-0 blob carries.
    fn sweep_indexes(&self, key: BlobKey) -> Vec<usize> {
        let per_day = (86_400 / self.slot_secs).max(1) as usize;
        let pos = key.slot.rem_euclid(per_day as i64) as usize;
        let n = self.sweep_types[&key.ct].len();
        (0..n).filter(|j| j % per_day == pos).collect()
    }

    /// Every existing blob whose `contentCreated` lies in `[from, to)`, in publication order.
    pub fn blobs_created_in(
        &self,
        ct: ContentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<BlobMeta> {
        let first = self
            .slot_of(from - self.max_delay() - Duration::seconds(self.slot_secs))
            .max(self.history_start_slot);
        let last = self.slot_of(to);
        let mut out = Vec::new();
        for slot in first..=last {
            for shard in 0..self.shards {
                if let Some(m) = self.meta(BlobKey { ct, slot, shard })
                    && m.created >= from
                    && m.created < to
                {
                    out.push(m);
                }
            }
        }
        out.sort_by_key(|m| (m.created, m.key.shard));
        out
    }

    /// The content id of a blob.
    pub fn content_id(&self, m: &BlobMeta) -> String {
        ids::content_id(m.key, m.created, self.slot_start(m.key.slot), self.region)
    }

    /// The Id of regular or sweep record `k` of a blob.
    pub fn record_id(&self, key: BlobKey, k: u32) -> String {
        let p = [
            self.seed,
            hash_str("id"),
            key.ct.index(),
            key.slot as u64,
            u64::from(key.shard),
            u64::from(k),
        ];
        guid(hash(&p), hash(&[hash(&p), 1]))
    }

    /// Ids of every record in the blob (its own records, not duplicate copies).
    pub fn record_ids(&self, m: &BlobMeta) -> Vec<String> {
        let mut ids: Vec<String> = (0..m.base + m.sweep)
            .map(|k| self.record_id(m.key, k))
            .collect();
        if let Some(inj) = self.injected.get(&m.key) {
            ids.extend(inj.iter().map(|i| i.id.clone()));
        }
        ids
    }

    /// Duplicate copies a blob carries under the `duplicates` fault: (source blob, record index).
    pub fn duplicate_sources(&self, m: &BlobMeta) -> Vec<(BlobMeta, u32)> {
        if !self.duplicates {
            return Vec::new();
        }
        let mut r = Rng::new(&[
            self.seed,
            hash_str("dups"),
            m.key.ct.index(),
            m.key.slot as u64,
            u64::from(m.key.shard),
        ]);
        if !r.chance(0.3) {
            return Vec::new();
        }
        let prev = self
            .meta(BlobKey {
                slot: m.key.slot - 1,
                ..m.key
            })
            .filter(|p| p.available <= m.available);
        (0..r.range(1, 3))
            .map(|_| match prev {
                Some(p) if r.chance(0.5) => (p, r.below(u64::from(p.count())) as u32),
                _ => (*m, r.below(u64::from(m.count())) as u32),
            })
            .collect()
    }

    /// The JSON of record `k` of a blob.
    pub fn record_json(&self, m: &BlobMeta, k: u32) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_record_json(m, k, &mut out);
        out
    }

    /// Appends the JSON of record `k` of a blob to `out` (a blob's body is written in place:
    /// a record serialised apart grew its own buffer by doubling and was copied once more).
    fn write_record_json(&self, m: &BlobMeta, k: u32, out: &mut Vec<u8>) {
        if k >= m.base + m.sweep {
            let injected = self
                .injected
                .get(&m.key)
                .and_then(|v| v.get((k - m.base - m.sweep) as usize));
            out.extend_from_slice(injected.map_or(b"{}".as_slice(), |i| i.json.as_slice()));
            return;
        }
        let mut r = Rng::new(&[
            self.seed,
            hash_str("rec"),
            m.key.ct.index(),
            m.key.slot as u64,
            u64::from(m.key.shard),
            u64::from(k),
        ]);
        let slot_start = self.slot_start(m.key.slot);
        let (info, time, user) = if k < m.base {
            let info = self.pick_type(m.key.ct, &mut r);
            let mut time =
                slot_start + Duration::milliseconds(r.below(self.slot_secs as u64 * 1000) as i64);
            if r.chance(0.08) {
                // Stragglers: a blob mixes event times, some hours older than the rest.
                time -= Duration::seconds(r.range(3600, 12 * 3600));
            }
            let user = self.pick_user(m.key.shard, time, info, &mut r);
            (info, time, user)
        } else {
            let sweep = self.sweep_indexes(m.key);
            let types = &self.sweep_types[&m.key.ct];
            let info = sweep
                .get((k - m.base) as usize)
                .and_then(|j| types.get(*j))
                .copied()
                .unwrap_or(types[0]);
            let time =
                slot_start + Duration::milliseconds(r.below(self.slot_secs as u64 * 1000) as i64);
            let user = self.pick_user(m.key.shard, time, info, &mut r);
            (info, time, user)
        };
        let operation = pick_operation(info, &mut r);
        let (ip, ua) = self.client_of(user, time, &mut r);
        let ctx = RecordCtx {
            tenant: &self.tenant,
            user,
            info,
            operation,
            id: self.record_id(m.key, k),
            time,
            ip,
            user_agent: ua,
        };
        let rec = records::build(&ctx, &mut r);
        let start = out.len();
        if serde_json::to_writer(&mut *out, &rec).is_err() {
            out.truncate(start);
            out.extend_from_slice(b"{}");
        }
    }

    /// Every record of a blob, with duplicate copies, as the JSON array Microsoft serves.
    pub fn blob_json(&self, m: &BlobMeta, shuffle: bool) -> Vec<u8> {
        let mut order: Vec<(BlobMeta, u32)> = (0..m.count()).map(|k| (*m, k)).collect();
        order.extend(self.duplicate_sources(m));
        if shuffle {
            let mut r = Rng::new(&[
                self.seed,
                hash_str("shuffle"),
                m.key.ct.index(),
                m.key.slot as u64,
                u64::from(m.key.shard),
            ]);
            for i in (1..order.len()).rev() {
                order.swap(i, r.below(i as u64 + 1) as usize);
            }
        }
        let mut out = Vec::with_capacity(order.len() * 1200 + 2);
        out.push(b'[');
        for (i, (src, k)) in order.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_record_json(src, *k, &mut out);
        }
        out.push(b']');
        out
    }

    fn pick_type(&self, ct: ContentType, r: &mut Rng) -> &'static RecordTypeInfo {
        let (_, table) = &self.ct_rate[&ct];
        let total = table.last().map_or(0, |t| t.1);
        let x = r.below(total);
        table
            .iter()
            .find(|(_, c)| x < *c)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| self.sweep_types[&ct][0])
    }

    /// Picks the acting user: someone in the shard, likelier when in working hours; admin
    /// operations mostly by admins.
    fn pick_user(&self, shard: u32, t: DateTime<Utc>, info: &RecordTypeInfo, r: &mut Rng) -> &User {
        let users = &self.tenant.users;
        let lo = shard as usize * SHARD_SIZE;
        let hi = (lo + SHARD_SIZE).min(users.len());
        let admin_work = matches!(info.family, Family::ExchangeAdmin | Family::EntraDirectory);
        if admin_work && !self.tenant.admins.is_empty() && r.chance(0.85) {
            return &users[*r.pick(&self.tenant.admins)];
        }
        let mut best = &users[lo];
        for _ in 0..64 {
            let u = &users[lo + r.below((hi - lo) as u64) as usize];
            if u.departed {
                continue;
            }
            best = u;
            if r.f64() * 2.0 < intensity(u, t) {
                break;
            }
        }
        best
    }

    /// Where a user works from at a moment: office, home or phone.
    fn client_of(&self, user: &User, t: DateTime<Utc>, r: &mut Rng) -> ([u8; 4], &'static str) {
        if r.chance(0.18) {
            let ua = agents::MOBILE[user.mobile_agent % agents::MOBILE.len()];
            return (
                [
                    user.home_ip[0],
                    user.home_ip[1],
                    r.below(256) as u8,
                    1 + r.below(254) as u8,
                ],
                ua,
            );
        }
        let ua = agents::DESKTOP[user.desktop_agent % agents::DESKTOP.len()];
        let at_office = matches!(
            user.kind,
            UserKind::Member | UserKind::Admin(_) | UserKind::Service
        ) && intensity(user, t) > 0.5
            && r.chance(0.65);
        (
            if at_office {
                self.tenant.office_ip(user.country)
            } else {
                user.home_ip
            },
            ua,
        )
    }

    /// Every blob available by `horizon`, in slot order.
    pub fn published(
        &self,
        ct: ContentType,
        horizon: DateTime<Utc>,
    ) -> impl Iterator<Item = BlobMeta> + '_ {
        let last = self.slot_of(horizon);
        (self.history_start_slot..=last)
            .flat_map(move |slot| {
                (0..self.shards).filter_map(move |shard| self.meta(BlobKey { ct, slot, shard }))
            })
            .filter(move |m| m.available <= horizon)
    }
}

/// Picks an operation: the first listed is the most common; sign-in failures are rare.
pub fn pick_operation(info: &RecordTypeInfo, r: &mut Rng) -> &'static str {
    let ops = info.operations;
    if ops.is_empty() {
        return "Unknown";
    }
    if info.family == Family::EntraStsLogon {
        return if r.chance(0.04) {
            ops.get(1).copied().unwrap_or(ops[0])
        } else {
            ops[0]
        };
    }
    if ops.len() == 1 || r.chance(0.55) {
        return ops[0];
    }
    ops[1 + r.below(ops.len() as u64 - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixed_now;
    use std::sync::Arc;

    fn feed(users: usize) -> Feed {
        let cfg = SimConfig {
            users,
            days: 2,
            ..SimConfig::default()
        };
        Feed::new(
            &cfg,
            Arc::new(Tenant::generate(cfg.seed, users, fixed_now())),
            fixed_now(),
        )
    }

    /// The address inside a `ClientIP` value, whatever form Microsoft gave it.
    fn address(raw: &str) -> Option<std::net::Ipv4Addr> {
        let s = raw.trim_start_matches("::ffff:").trim_start_matches('[');
        let s = s.split([']', ':']).next()?;
        s.parse().ok()
    }

    #[test]
    fn activity_comes_from_addresses_in_the_users_country() {
        let f = feed(600);
        let (mut checked, mut outside) = (0, 0);
        for ct in ContentType::ALL {
            for m in f.published(ct, fixed_now()).take(40) {
                for k in 0..m.base {
                    let rec: serde_json::Value =
                        serde_json::from_slice(&f.record_json(&m, k)).unwrap_or_default();
                    let (Some(upn), Some(ip)) = (
                        rec["UserId"].as_str(),
                        rec["ClientIP"].as_str().and_then(address),
                    ) else {
                        continue;
                    };
                    let Some(user) = f.tenant.user_by_upn(upn) else {
                        continue;
                    };
                    let o = ip.octets();
                    let inside = user.country.blocks.iter().any(|b| {
                        o[0] == b.0
                            && u16::from(o[1]) >= u16::from(b.1)
                            && u16::from(o[1]) < u16::from(b.1) + u16::from(b.2)
                    });
                    checked += 1;
                    if !inside {
                        outside += 1;
                    }
                }
            }
        }
        assert!(checked > 2000, "{checked}");
        assert_eq!(
            outside, 0,
            "{outside} of {checked} records came from outside the user's country"
        );
    }

    #[test]
    fn blobs_are_published_after_their_slot_and_listed_once_available() {
        let f = feed(300);
        for m in f.published(ContentType::SharePoint, fixed_now()) {
            let slot_end = f.slot_start(m.key.slot) + Duration::seconds(f.slot_secs());
            assert!(
                m.created >= slot_end + Duration::minutes(3),
                "published minutes after its events"
            );
            assert!(m.available >= m.created && m.available <= fixed_now());
            assert_eq!(m.expiration - m.created, Duration::seconds(RETENTION));
        }
    }
}
