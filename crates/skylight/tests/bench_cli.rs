//! `skylight bench ingest` as a user runs it, on a small simulated tenant.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::run_ok;

#[test]
fn bench_ingest_with_detection_stops_the_clock_after_the_last_record_is_evaluated() {
    let out = run_ok(&[
        "bench", "ingest", "--users", "100", "--days", "1", "--detect", "--format", "json",
    ]);
    let figures: serde_json::Value =
        serde_json::from_str(&out).expect("`--format json` prints one JSON object");
    let records = figures["records"]
        .as_u64()
        .unwrap_or_else(|| panic!("no record count: {figures}"));
    assert!(records > 1_000, "{figures}");
    // Every record collected is an activity detection evaluated before the figures were taken.
    assert_eq!(
        figures["activities_evaluated"].as_u64(),
        Some(records),
        "{figures}"
    );
    assert_eq!(figures["detect"], true);
    for figure in ["records_per_s", "raw_parse_records_per_s", "peak_rss_bytes"] {
        assert!(
            figures[figure].as_f64().is_some_and(|v| v > 0.0),
            "{figure}: {figures}"
        );
    }
}
