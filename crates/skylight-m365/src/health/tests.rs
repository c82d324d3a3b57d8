//! The judgements of `health.rs`: warnings at chosen times and clocks, what is expected of a
//! status, what needs attention, and the ledger's days.

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
