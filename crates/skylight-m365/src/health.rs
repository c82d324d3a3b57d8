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
mod tests {
    use chrono::TimeZone;
    use skylight_model::{ConnectorState, ContentType};
    use skylight_store::CredentialKind;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
            .single()
            .expect("valid time")
    }

    /// A status written `written` before [`now`], with everything before `watermark` collected.
    fn status(written: Duration, watermark: Option<Duration>) -> ConnectorStatus {
        ConnectorStatus {
            tenant: "contoso".into(),
            content_type: ContentType::Exchange,
            state: ConnectorState::Healthy,
            last_success: Some(now() - written),
            watermark: watermark.map(|w| now() - w),
            records: 10,
            blobs: 2,
            gaps: 0,
            last_error: None,
            remediation: None,
            updated_at: now() - written,
            clock_offset_ms: 0,
        }
    }

    fn kinds(s: &ConnectorStatus, expected: Expected) -> Vec<WarningKind> {
        warnings(s, now(), expected)
            .iter()
            .map(|w| w.kind)
            .collect()
    }

    fn collecting(s: &ConnectorStatus) -> Vec<WarningKind> {
        kinds(s, Expected::Collecting)
    }

    #[test]
    fn a_connector_collecting_normally_has_none() {
        assert!(collecting(&status(Duration::minutes(2), Some(Duration::minutes(3)))).is_empty());
        assert!(collecting(&status(Duration::minutes(1), Some(Duration::days(4)))).is_empty());
        assert!(collecting(&status(Duration::minutes(1), None)).is_empty());
        // A first backfill, one window in: its oldest content is a day from the edge.
        let mut s = status(
            Duration::minutes(1),
            Some(Duration::days(6) - Duration::minutes(10)),
        );
        s.state = ConnectorState::Backfilling;
        assert!(collecting(&s).is_empty());
        // The same, failing: its oldest content is at risk.
        s.last_error = Some("HTTP 500".into());
        assert_eq!(collecting(&s), [WarningKind::Expiring]);
        // Backfilling from the edge after a range lost whole, minutes later: not expired.
        let mut s = status(
            Duration::minutes(20),
            Some(Duration::days(7) + Duration::minutes(10)),
        );
        s.state = ConnectorState::Backfilling;
        assert!(collecting(&s).is_empty());
        s.state = ConnectorState::Healthy;
        assert_eq!(collecting(&s), [WarningKind::Expired]);
    }

    #[test]
    fn a_status_nobody_writes_any_more_is_stalled() {
        assert!(collecting(&status(Duration::minutes(59), Some(Duration::hours(1)))).is_empty());
        let s = status(Duration::hours(3), Some(Duration::hours(3)));
        let found = warnings(&s, now(), Expected::Collecting);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, WarningKind::Stalled);
        assert!(
            found[0]
                .message
                .contains("since 2026-11-20 09:00 UTC (3 h ago)"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn content_close_to_microsofts_seven_days_is_at_risk() {
        // Written a minute ago (the collector runs) but stuck six days back, as when one blob
        // keeps failing: its content can be collected for another day, less the margin.
        let s = status(Duration::minutes(1), Some(Duration::days(6)));
        let found = warnings(&s, now(), Expected::Collecting);
        assert_eq!(collecting(&s), [WarningKind::Expiring]);
        assert!(
            found[0]
                .message
                .contains("the oldest can be collected until 2026-11-21 11:50 UTC (for 23 h)"),
            "{}",
            found[0].message
        );
        // 48 hours from the end, and just outside them.
        let at = |d: Duration| status(Duration::minutes(1), Some(d));
        assert_eq!(
            collecting(&at(Duration::days(5) - Duration::minutes(9))),
            [WarningKind::Expiring]
        );
        assert!(collecting(&at(Duration::days(5) - Duration::minutes(11))).is_empty());
    }

    #[test]
    fn a_collector_down_past_the_seven_days_has_lost_content() {
        let s = status(Duration::days(9), Some(Duration::days(9)));
        let found = warnings(&s, now(), Expected::Collecting);
        assert_eq!(collecting(&s), [WarningKind::Stalled, WarningKind::Expired]);
        assert!(
            found[1]
                .message
                .contains("between 2026-11-11 12:00 UTC and 2026-11-13 12:10 UTC"),
            "{}",
            found[1].message
        );
        assert!(
            found[0].message.contains("(9 days ago)"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn paused_is_not_stalled_and_nothing_expected_warns_of_nothing() {
        let s = status(Duration::days(6), Some(Duration::days(6)));
        assert_eq!(
            collecting(&s),
            [WarningKind::Stalled, WarningKind::Expiring]
        );
        let paused = warnings(&s, now(), Expected::Paused);
        assert_eq!(paused.len(), 1, "{paused:?}");
        assert_eq!(paused[0].kind, WarningKind::Expiring);
        assert!(
            paused[0].message.contains("resume it"),
            "{}",
            paused[0].message
        );
        assert!(kinds(&s, Expected::Nothing).is_empty());
        // Paused during its first backfill: nobody collects its oldest content.
        let mut s = status(
            Duration::minutes(1),
            Some(Duration::days(6) - Duration::minutes(10)),
        );
        s.state = ConnectorState::Backfilling;
        assert_eq!(kinds(&s, Expected::Paused), [WarningKind::Expiring]);
        assert!(collecting(&s).is_empty());
    }

    #[test]
    fn what_needs_attention() {
        let judged = |state, expected| {
            let mut status = status(Duration::minutes(1), Some(Duration::minutes(2)));
            status.state = state;
            judge(vec![status], now(), |_| expected).pop().expect("one")
        };
        assert!(!judged(ConnectorState::Healthy, Expected::Collecting).needs_attention());
        assert!(judged(ConnectorState::Error, Expected::Collecting).needs_attention());
        // An error of a content type nobody collects any more, or of a paused connector.
        assert!(!judged(ConnectorState::Error, Expected::Nothing).needs_attention());
        assert!(!judged(ConnectorState::Error, Expected::Paused).needs_attention());
        let stale = judge(
            vec![status(Duration::hours(2), Some(Duration::hours(2)))],
            now(),
            |_| Expected::Collecting,
        );
        assert!(stale[0].needs_attention() && stale[0].stalled());
    }

    #[test]
    fn what_is_expected_follows_the_connectors() {
        let s = status(Duration::minutes(1), None);
        let connector = |phase, content_types: Vec<ContentType>| StoredConnector {
            name: "contoso".into(),
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "c".into(),
            cloud: "commercial".into(),
            credential_kind: CredentialKind::Secret,
            certificate_pem: None,
            sealed_credential: Vec::new(),
            login_url: None,
            manage_url: None,
            graph_url: None,
            activities: true,
            files: false,
            content_types,
            phase,
            last_test: None,
            created_at: now(),
            updated_at: now(),
            updated_by: "admin".into(),
        };
        let ex = vec![ContentType::Exchange];
        let of = |c: StoredConnector| expected(&s, &[c], &[]);
        assert_eq!(
            of(connector(ConnectorPhase::Active, ex.clone())),
            Expected::Collecting
        );
        assert_eq!(
            of(connector(ConnectorPhase::Paused, ex.clone())),
            Expected::Paused
        );
        assert_eq!(
            of(connector(ConnectorPhase::Draft, ex.clone())),
            Expected::Nothing
        );
        // Its content type deselected.
        assert_eq!(
            of(connector(
                ConnectorPhase::Active,
                vec![ContentType::SharePoint]
            )),
            Expected::Nothing
        );
        // Not a console connector: a configuration file's.
        assert_eq!(expected(&s, &[], &[]), Expected::Collecting);
        // A file's tenant wins over a draft console connector of the same name.
        assert_eq!(
            expected(
                &s,
                &[connector(ConnectorPhase::Draft, ex.clone())],
                &["Contoso".to_owned()]
            ),
            Expected::Collecting
        );
    }

    #[test]
    fn a_status_is_judged_on_the_clock_of_the_service_that_wrote_it() {
        // A service whose clock is five days behind the reader's (a simulator started at a
        // fixed time): its status, written a minute ago by its clock, is current.
        let mut s = status(
            Duration::days(5) + Duration::minutes(1),
            Some(Duration::days(5)),
        );
        s.clock_offset_ms = -Duration::days(5).num_milliseconds();
        assert!(collecting(&s).is_empty(), "{:?}", collecting(&s));
        assert!(!stalled(&s, now()));
        // Two hours later by the reader's clock, nobody having written it since; the time it
        // was written is shown on the reader's clock.
        let later = now() + Duration::hours(2);
        assert!(stalled(&s, later));
        let found = warnings(&s, later, Expected::Collecting);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("since 2026-11-20 11:59 UTC (2 h ago)"),
            "{}",
            found[0].message
        );
        // Its content's deadline is shown on the reader's clock too: stuck six days back by the
        // service's clock, the oldest goes a day (less the margin) after the reader's now.
        let mut stuck = status(
            Duration::days(5) + Duration::minutes(1),
            Some(Duration::days(11)),
        );
        stuck.clock_offset_ms = -Duration::days(5).num_milliseconds();
        let found = warnings(&stuck, now(), Expected::Collecting);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("until 2026-11-21 11:50 UTC (for 23 h)"),
            "{}",
            found[0].message
        );
        // A damaged offset is ignored, not a panic.
        s.clock_offset_ms = i64::MAX;
        assert!(stalled(&s, now()));
    }

    #[test]
    fn ledger_days_are_complete_once_listed_past_the_overlap() {
        let mut s = status(Duration::minutes(1), None);
        let day = |d: u32| LedgerDay {
            tenant: "contoso".into(),
            content_type: ContentType::Exchange,
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, d).expect("valid day"),
            blobs: 1,
            records: 1,
            gaps: 0,
        };
        let judged = |s: &ConnectorStatus, ndays| {
            judge_ledger(
                (12..=20).map(day).collect(),
                std::slice::from_ref(s),
                now(),
                ndays,
            )
        };
        // Listed to 05:59 on the 20th: the 18th is complete, the 19th's late content may
        // still come.
        s.watermark = Some(now() - Duration::hours(6) - Duration::minutes(1));
        let all = judged(&s, 8);
        assert_eq!(
            all.first().map(|j| j.day.day.to_string()),
            Some("2026-11-13".into())
        );
        let complete: Vec<u32> = all
            .iter()
            .filter(|j| j.complete)
            .map(|j| chrono::Datelike::day(&j.day.day))
            .collect();
        assert_eq!(complete, (13..=18).collect::<Vec<_>>());
        assert_eq!(
            all.iter().filter(|j| j.today).count(),
            1,
            "the 20th is today"
        );
        assert_eq!(judged(&s, 1).len(), 1);
        // On a service two days behind, its own last day is the 18th.
        s.clock_offset_ms = -Duration::days(2).num_milliseconds();
        let behind = judged(&s, 1);
        assert_eq!(
            behind.len(),
            3,
            "the 18th, and the 19th and 20th (not yet come)"
        );
        assert!(behind.iter().all(|j| j.today));
    }
}
