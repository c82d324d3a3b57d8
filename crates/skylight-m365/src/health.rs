//! What a connector's status means at the time it is read: a status is written by the collector
//! as it goes, so once no collector runs it keeps saying what was true then ("healthy", a lag of
//! seconds). Judged against the clock and Microsoft's retention, it tells the admin whether
//! collection has stopped and whether content is about to be lost, or was; and how far
//! collection got with each day of the collection ledger.

use chrono::{DateTime, Duration, NaiveTime, TimeDelta, Utc};
use serde::Serialize;
use skylight_model::{ConnectorStatus, Gap, LedgerDay};
use skylight_store::{ConnectorPhase, Store, StoreError, StoredConnector};

/// Days Microsoft keeps content available after publishing it (`contentExpiration`).
pub const CONTENT_KEPT_DAYS: i64 = 7;

/// Minutes inside Microsoft's 7 days the collector stays: a listing's start is judged when the
/// request arrives, so a window starting at the very edge would be refused.
pub const RETENTION_MARGIN_MINUTES: i64 = 10;

/// The oldest content still collectable at `now` (the service's clock).
pub fn collectable_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(CONTENT_KEPT_DAYS) + Duration::minutes(RETENTION_MARGIN_MINUTES)
}

/// Hours each poll lists again before the watermark unless configured otherwise, for content
/// Microsoft publishes late (`[collector] overlap_hours`).
pub const DEFAULT_OVERLAP_HOURS: u32 = 6;

/// A status no collector has written for this long: none is running for it. The collector
/// writes it when each pass starts and after every listing window.
pub const STALLED_AFTER_MINUTES: i64 = 60;

/// Content not yet collected that becomes uncollectable within this many hours is at risk.
pub const EXPIRING_WITHIN_HOURS: i64 = 48;

/// What kind of attention a status needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// No collector writes the status any more, though one is meant to.
    Stalled,
    /// Content not collected yet becomes uncollectable soon.
    Expiring,
    /// Content became uncollectable before it was collected.
    Expired,
}

/// Something about a connector an admin should act on, beyond its state and last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind.
    pub kind: WarningKind,
    /// What is wrong, and what to do about it.
    pub message: String,
}

/// What is expected of the collector of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// It is meant to be collecting: every warning applies.
    Collecting,
    /// Its connector is paused in the console: not stalled, but its content still expires.
    Paused,
    /// Nobody is meant to collect it any more (connector disconnected or not yet connected,
    /// content type deselected): no warning.
    Nothing,
}

/// What is expected of `status`'s collector, from the console's connectors and the tenants of the
/// reader's configuration file (`file_tenants`, empty if it has none). A tenant of a file wins
/// over a console connector of the same name (as collection has it); a tenant that is neither is
/// collected from another process's file sharing the store (which no reader knows whole), so it
/// is expected to be collecting too; a connector disconnected in the console takes its statuses
/// with it.
pub fn expected(
    status: &ConnectorStatus,
    connectors: &[StoredConnector],
    file_tenants: &[String],
) -> Expected {
    let named = |name: &str| name.eq_ignore_ascii_case(&status.tenant);
    if file_tenants.iter().any(|t| named(t)) {
        return Expected::Collecting;
    }
    let Some(c) = connectors.iter().find(|c| named(&c.name)) else {
        return Expected::Collecting;
    };
    let selected = c.activities && c.content_types.contains(&status.content_type);
    match c.phase {
        ConnectorPhase::Active if selected => Expected::Collecting,
        ConnectorPhase::Paused if selected => Expected::Paused,
        _ => Expected::Nothing,
    }
}

/// `t` moved by `ms` milliseconds (`t` itself if that is out of range: a damaged offset).
fn shifted(t: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    TimeDelta::try_milliseconds(ms)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(t)
}

/// Whether no collector has written `status` for [`STALLED_AFTER_MINUTES`] at `now` (the
/// reader's clock; the status's times are its service's, `clock_offset_ms` ahead).
pub fn stalled(status: &ConnectorStatus, now: DateTime<Utc>) -> bool {
    shifted(now, status.clock_offset_ms) - status.updated_at
        >= Duration::minutes(STALLED_AFTER_MINUTES)
}

/// The warnings of `status` at `now` (the reader's clock), given what is `expected` of it.
pub fn warnings(status: &ConnectorStatus, now: DateTime<Utc>, expected: Expected) -> Vec<Warning> {
    let mut found = Vec::new();
    if expected == Expected::Nothing {
        return found;
    }
    let stalled = expected == Expected::Collecting && stalled(status, now);
    if stalled {
        // Written on the service's clock; shown on the reader's, as "ago" is.
        let written = shifted(status.updated_at, -status.clock_offset_ms);
        found.push(Warning {
            kind: WarningKind::Stalled,
            message: format!(
                "no collector has written this status since {} ({} ago): if `skylight serve` or \
                 `skylight collect` (without `--once`) should be collecting this tenant, it has \
                 stopped or cannot write to the store: start it, or find in its logs why it \
                 stopped (runs of `collect --once` collect what was published meanwhile if they \
                 come within {} days of its publication)",
                stamp(written),
                span(now - written),
                CONTENT_KEPT_DAYS
            ),
        });
    }
    let Some(watermark) = status.watermark else {
        return found;
    };
    let now = shifted(now, status.clock_offset_ms);
    let lost_from = collectable_from(now);
    // Content goes `CONTENT_KEPT_DAYS` after publication, less the collector's margin.
    let goes = watermark + (now - lost_from);
    // A backfill starts at the edge of what is collectable (a first one, or one after a range
    // lost whole, recorded as a gap) and moves a day a window: while it runs without error, its
    // oldest content is being collected, not left behind, and what it misses becomes gaps.
    let edge_backfill = !stalled
        && expected == Expected::Collecting
        && status.state == skylight_model::ConnectorState::Backfilling
        && status.last_error.is_none();
    if edge_backfill {
        return found;
    }
    if watermark < lost_from {
        found.push(Warning {
            kind: WarningKind::Expired,
            message: format!(
                "content published between {} and {} can no longer be collected (Microsoft \
                 keeps it {} days): its records are lost; collection records the loss as a gap \
                 when it runs again",
                stamp(watermark),
                stamp(lost_from),
                CONTENT_KEPT_DAYS
            ),
        });
    } else if goes - now <= Duration::hours(EXPIRING_WITHIN_HOURS) {
        found.push(Warning {
            kind: WarningKind::Expiring,
            message: format!(
                "content published since {} is not all collected, and Microsoft deletes content \
                 {} days after publishing it: the oldest can be collected until {} (for {}); get \
                 collection running{} and caught up before then (its last error, if any, says \
                 what stops it), or its records are lost",
                stamp(watermark),
                CONTENT_KEPT_DAYS,
                // The deadline the admin acts on, on the reader's clock.
                stamp(shifted(goes, -status.clock_offset_ms)),
                span(goes - now),
                if expected == Expected::Paused {
                    " (the connector is paused: resume it)"
                } else {
                    ""
                },
            ),
        });
    }
    found
}

/// A status with what it means when it is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgedStatus {
    /// The status as its collector wrote it.
    #[serde(flatten)]
    pub status: ConnectorStatus,
    /// What is expected of its collector: `collecting`, `paused` or `nothing` (disconnected or
    /// deselected in the console).
    pub expected: Expected,
    /// What an admin should act on (none while it collects normally).
    pub warnings: Vec<Warning>,
}

impl JudgedStatus {
    /// No collector writes it any more, though one is meant to.
    pub fn stalled(&self) -> bool {
        self.warnings.iter().any(|w| w.kind == WarningKind::Stalled)
    }

    /// It needs an admin: a warning, or an error of a collector meant to be collecting.
    pub fn needs_attention(&self) -> bool {
        !self.warnings.is_empty()
            || (self.expected == Expected::Collecting
                && self.status.state == skylight_model::ConnectorState::Error)
    }

    /// The service's time at `now` (the reader's clock), on which the status's times are.
    pub fn service_now(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        shifted(now, self.status.clock_offset_ms)
    }
}

/// Every status in `store`, judged at `now` (the reader's clock) against the console's
/// connectors and the reader's configuration file's tenants ([`expected`]).
pub fn judge_all(
    store: &dyn Store,
    now: DateTime<Utc>,
    file_tenants: &[String],
) -> Result<Vec<JudgedStatus>, StoreError> {
    let connectors = store.connectors()?;
    Ok(judge(store.statuses()?, now, |s| {
        expected(s, &connectors, file_tenants)
    }))
}

/// `statuses` with their warnings at `now` (the reader's clock), given what is `expected` of each.
pub fn judge(
    statuses: Vec<ConnectorStatus>,
    now: DateTime<Utc>,
    expected: impl Fn(&ConnectorStatus) -> Expected,
) -> Vec<JudgedStatus> {
    statuses
        .into_iter()
        .map(|status| {
            let expected = expected(&status);
            JudgedStatus {
                warnings: warnings(&status, now, expected),
                expected,
                status,
            }
        })
        .collect()
}

/// Days the store remembers each blob done (the ledger's reach): as long as Microsoft could list
/// it again, and a day more.
pub const LEDGER_DAYS: u32 = 8;

/// Where to read the ledger of the last `days` UTC days from at `now` (the reader's clock): on the
/// clock of the service furthest behind it ([`judge_ledger`] trims each tenant to its own days).
pub fn ledger_since(statuses: &[ConnectorStatus], now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let behind = statuses
        .iter()
        .map(|s| s.clock_offset_ms)
        .min()
        .unwrap_or(0);
    first_day(shifted(now, behind.min(0)), days)
}

/// The start of the first of the `days` UTC days that end with `now`'s.
fn first_day(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc() - Duration::days(i64::from(days.max(1)) - 1)
}

/// A day of the collection ledger with how far collection got with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JudgedDay {
    /// What collection did with the day's content.
    #[serde(flatten)]
    pub day: LedgerDay,
    /// Collection has listed [`DEFAULT_OVERLAP_HOURS`] past the day's end (late content is
    /// listed that long after its time): every blob published that day was collected or recorded
    /// as a gap.
    pub complete: bool,
    /// The day is the current one on its service's clock.
    pub today: bool,
}

/// The ledger `days` of the last `ndays` UTC days (each tenant's on its service's clock), judged
/// with `statuses` at `now` (the reader's clock).
pub fn judge_ledger(
    days: Vec<LedgerDay>,
    statuses: &[ConnectorStatus],
    now: DateTime<Utc>,
    ndays: u32,
) -> Vec<JudgedDay> {
    days.into_iter()
        .filter_map(|day| {
            let status = statuses
                .iter()
                .find(|s| s.tenant == day.tenant && s.content_type == day.content_type);
            let now = shifted(now, status.map_or(0, |s| s.clock_offset_ms));
            let start = day.day.and_time(NaiveTime::MIN).and_utc();
            if start < first_day(now, ndays) {
                return None;
            }
            let listed_past =
                start + Duration::days(1) + Duration::hours(i64::from(DEFAULT_OVERLAP_HOURS));
            let complete = status
                .and_then(|s| s.watermark)
                .is_some_and(|watermark| watermark >= listed_past);
            let today = day.day >= now.date_naive();
            Some(JudgedDay {
                day,
                complete,
                today,
            })
        })
        .collect()
}

/// The gaps (kept for good) that reach into the last `days` UTC days of their tenant's service
/// at `now` (the reader's clock): blobs published in them, and ranges lost whole
/// (`range:FROM..TO`, a collector down past Microsoft's 7 days) that end in them.
pub fn lost_in(
    gaps: Vec<Gap>,
    statuses: &[ConnectorStatus],
    now: DateTime<Utc>,
    days: u32,
) -> Vec<Gap> {
    gaps.into_iter()
        .filter(|g| {
            let offset = statuses
                .iter()
                .find(|s| s.tenant == g.tenant && s.content_type == g.content_type)
                .map_or(0, |s| s.clock_offset_ms);
            lost_until(g) >= first_day(shifted(now, offset), days)
        })
        .collect()
}

/// The collection ledger of the last `days` UTC days in `store` at `now` (the reader's clock),
/// and what was lost in them; of one tenant, or all.
pub fn ledger(
    store: &dyn Store,
    now: DateTime<Utc>,
    days: u32,
    tenant: Option<&str>,
) -> Result<(Vec<JudgedDay>, Vec<Gap>), StoreError> {
    let statuses = store.statuses()?;
    let since = ledger_since(&statuses, now, days);
    let mut judged = judge_ledger(store.ledger(since)?, &statuses, now, days);
    if let Some(tenant) = tenant {
        judged.retain(|j| j.day.tenant == tenant);
    }
    let lost = lost_in(store.gaps(tenant)?, &statuses, now, days);
    Ok((judged, lost))
}

/// What a gap lost, and why, as an admin reads it.
pub fn lost_text(gap: &Gap) -> String {
    let what = match gap.content_id.strip_prefix("range:") {
        Some(range) => format!("everything published {}", range.replace("..", " to ")),
        None => format!(
            "blob {} published {}",
            gap.content_id,
            gap.created.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    };
    format!("{what} ({})", gap.reason)
}

/// The end of what a gap lost: a blob's publication time, or the end of a range lost whole.
fn lost_until(gap: &Gap) -> DateTime<Utc> {
    gap.content_id
        .strip_prefix("range:")
        .and_then(|range| range.split_once(".."))
        .and_then(|(_, to)| DateTime::parse_from_rfc3339(to).ok())
        .map_or(gap.created, |to| to.with_timezone(&Utc))
}

/// A time as the warnings print it.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A length of time in the largest unit that keeps it readable.
fn span(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    match minutes {
        0..120 => format!("{minutes} min"),
        120..2880 => format!("{} h", minutes / 60),
        _ => format!("{} days", minutes / 1440),
    }
}

#[cfg(test)]
mod tests;
