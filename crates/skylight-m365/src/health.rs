//! What a connector's status means at the time it is read: a status is written by the collector
//! as it goes, so once no collector runs it keeps saying what was true then ("healthy", a lag of
//! seconds). Judged against the clock and Microsoft's retention, it tells the admin whether
//! collection has stopped and whether content is about to be lost, or was; and which days of the
//! collection ledger are complete.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;
use skylight_model::{ConnectorStatus, LedgerDay};

/// Days Microsoft keeps content available after publishing it (`contentExpiration`).
pub const CONTENT_KEPT_DAYS: i64 = 7;

/// A status no collector has written for this long: none is running for it. The collector
/// writes it after every poll (every minute by default) and every listing window of a backfill.
pub const STALLED_AFTER_MINUTES: i64 = 60;

/// Content not yet collected that Microsoft deletes within this many hours is at risk.
pub const EXPIRING_WITHIN_HOURS: i64 = 48;

/// Something about a connector an admin should act on, beyond its state and last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `stalled` (no collector is writing the status), `expiring` (content not collected is
    /// deleted by Microsoft soon) or `expired` (content was deleted before it was collected).
    pub kind: &'static str,
    /// What is wrong, and what to do about it.
    pub message: String,
}

/// [`Warning::kind`] of a status no collector writes any more.
pub const STALLED: &str = "stalled";

/// `now` (the reader's clock) on the clock of `status`'s times: the service's, as the collector
/// that wrote it saw it.
fn service_time(status: &ConnectorStatus, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::milliseconds(status.clock_offset_ms)
}

/// Whether no collector has written `status` for [`STALLED_AFTER_MINUTES`] at `now` (the
/// reader's clock).
pub fn stalled(status: &ConnectorStatus, now: DateTime<Utc>) -> bool {
    service_time(status, now) - status.updated_at >= Duration::minutes(STALLED_AFTER_MINUTES)
}

/// The warnings of `status` at `now`, the reader's clock (none for a connector collecting
/// normally).
pub fn warnings(status: &ConnectorStatus, now: DateTime<Utc>) -> Vec<Warning> {
    let mut found = Vec::new();
    let stalled = stalled(status, now);
    let now = service_time(status, now);
    let silent = now - status.updated_at;
    if stalled {
        found.push(Warning {
            kind: STALLED,
            message: format!(
                "no collector has written this status since {} ({} ago): `skylight collect` or \
                 `skylight serve` is not running for this tenant, or cannot write to the store; \
                 start it (or find in its logs why it stopped): Microsoft keeps content {} days",
                stamp(status.updated_at),
                span(silent),
                CONTENT_KEPT_DAYS
            ),
        });
    }
    if let Some(watermark) = status.watermark {
        let expires = watermark + Duration::days(CONTENT_KEPT_DAYS);
        if expires <= now {
            found.push(Warning {
                kind: "expired",
                message: format!(
                    "content published between {} and {} was deleted by Microsoft ({} days after \
                     publishing it) before it was collected: its records are lost; collection \
                     records the loss as a gap when it runs again",
                    stamp(watermark),
                    stamp(now - Duration::days(CONTENT_KEPT_DAYS)),
                    CONTENT_KEPT_DAYS
                ),
            });
        } else if expires - now <= Duration::hours(EXPIRING_WITHIN_HOURS) {
            found.push(Warning {
                kind: "expiring",
                message: format!(
                    "content published since {} is not all collected, and Microsoft deletes \
                     content {} days after publishing it: the oldest goes at {} (in {}); get \
                     collection running and caught up before then (its last error, if any, says what \
                     stops it), or its records are lost",
                    stamp(watermark),
                    CONTENT_KEPT_DAYS,
                    stamp(expires),
                    span(expires - now)
                ),
            });
        }
    }
    found
}

/// Days the store remembers each blob done (the ledger's reach): as long as Microsoft could list
/// it again, and a day more.
pub const LEDGER_DAYS: u32 = 8;

/// Where the ledger of the last `days` UTC days starts at `now` (the reader's clock): on the clock
/// of the service furthest behind it, so that every tenant's last days are in.
pub fn ledger_since(statuses: &[ConnectorStatus], now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let behind = statuses
        .iter()
        .map(|s| s.clock_offset_ms)
        .min()
        .unwrap_or(0);
    let today = midnight(now + Duration::milliseconds(behind.min(0)));
    today - Duration::days(i64::from(days.max(1)) - 1)
}

/// Whether collection has listed past the end of `day` (its connector's watermark is past it):
/// every blob published that day was collected or recorded as a gap.
pub fn day_complete(day: &LedgerDay, statuses: &[ConnectorStatus]) -> bool {
    let end = day
        .day
        .succ_opt()
        .map(|d| d.and_time(NaiveTime::MIN).and_utc());
    status_of(day, statuses)
        .and_then(|s| s.watermark)
        .zip(end)
        .is_some_and(|(watermark, end)| watermark >= end)
}

/// Whether `day` is the current day on its service's clock at `now` (the reader's clock).
pub fn day_is_today(day: &LedgerDay, statuses: &[ConnectorStatus], now: DateTime<Utc>) -> bool {
    let offset = status_of(day, statuses).map_or(0, |s| s.clock_offset_ms);
    day.day >= (now + Duration::milliseconds(offset)).date_naive()
}

/// The status of a ledger day's tenant and content type.
fn status_of<'a>(day: &LedgerDay, statuses: &'a [ConnectorStatus]) -> Option<&'a ConnectorStatus> {
    statuses
        .iter()
        .find(|s| s.tenant == day.tenant && s.content_type == day.content_type)
}

/// The start of `t`'s UTC day.
fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
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

    fn kinds(s: &ConnectorStatus) -> Vec<&'static str> {
        warnings(s, now()).iter().map(|w| w.kind).collect()
    }

    #[test]
    fn a_connector_collecting_normally_has_none() {
        let s = status(Duration::minutes(2), Some(Duration::minutes(3)));
        assert!(warnings(&s, now()).is_empty());
        // Still backfilling, from the week's start: nothing at risk yet.
        let s = status(Duration::minutes(1), Some(Duration::days(4)));
        assert!(warnings(&s, now()).is_empty());
        // Never got as far as a watermark, and written a minute ago.
        assert!(kinds(&status(Duration::minutes(1), None)).is_empty());
    }

    #[test]
    fn a_status_nobody_writes_any_more_is_stalled() {
        assert!(kinds(&status(Duration::minutes(59), Some(Duration::hours(1)))).is_empty());
        let s = status(Duration::hours(3), Some(Duration::hours(3)));
        let found = warnings(&s, now());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, "stalled");
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
        // Written a minute ago (the collector runs) but stuck at a watermark six days back, as
        // when one blob keeps failing: its content goes in a day.
        let s = status(Duration::minutes(1), Some(Duration::days(6)));
        let found = warnings(&s, now());
        assert_eq!(kinds(&s), ["expiring"]);
        assert!(
            found[0]
                .message
                .contains("the oldest goes at 2026-11-21 12:00 UTC (in 24 h)"),
            "{}",
            found[0].message
        );
        // Just outside the 48 hours.
        let s = status(
            Duration::minutes(1),
            Some(Duration::days(5) - Duration::minutes(1)),
        );
        assert!(kinds(&s).is_empty());
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
        assert!(warnings(&s, now()).is_empty(), "{:?}", warnings(&s, now()));
        assert!(!stalled(&s, now()));
        // Two hours later by the reader's clock, nobody having written it since.
        let later = now() + Duration::hours(2);
        assert!(stalled(&s, later));
        let found = warnings(&s, later);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("(2 h ago)"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_collector_down_past_the_seven_days_has_lost_content() {
        let s = status(Duration::days(9), Some(Duration::days(9)));
        let found = warnings(&s, now());
        assert_eq!(kinds(&s), ["stalled", "expired"]);
        assert!(
            found[1]
                .message
                .contains("between 2026-11-11 12:00 UTC and 2026-11-13 12:00 UTC"),
            "{}",
            found[1].message
        );
        assert!(
            found[0].message.contains("(9 days ago)"),
            "{}",
            found[0].message
        );
    }
}
