//! A connector's collection ledger as its page shows it: a row per UTC day of publication, its
//! content types side by side (the records the blobs collected held, the blobs lost), and
//! whether collection has listed the day to its end.

use chrono::{DateTime, Utc};
use skylight_m365::health::{day_complete, day_is_today};
use skylight_model::{ConnectorStatus, LedgerDay};

use super::charts;

/// What one content type did with one day's content.
pub(super) struct LedgerCell {
    /// Records and blobs collected, or a dash.
    pub(super) text: String,
    /// Blobs lost (expired before they were collected).
    pub(super) gaps: u64,
    /// Not listed to the day's end yet (today, or collection behind).
    pub(super) open: bool,
}

/// One day of the ledger.
pub(super) struct LedgerRow {
    pub(super) day: String,
    pub(super) cells: Vec<LedgerCell>,
}

/// The ledger of one tenant: its content types (the columns) and its days, newest first.
#[derive(Default)]
pub(super) struct LedgerView {
    pub(super) columns: Vec<&'static str>,
    pub(super) rows: Vec<LedgerRow>,
}

/// `tenant`'s ledger out of `days` (any tenants'), judged with `statuses` at `now`.
pub(super) fn ledger_view(
    tenant: &str,
    days: &[LedgerDay],
    statuses: &[ConnectorStatus],
    now: DateTime<Utc>,
) -> LedgerView {
    let mine: Vec<&LedgerDay> = days.iter().filter(|d| d.tenant == tenant).collect();
    let mut columns: Vec<_> = mine.iter().map(|d| d.content_type).collect();
    columns.sort_by_key(|ct| ct.as_str());
    columns.dedup();
    let mut dates: Vec<_> = mine.iter().map(|d| d.day).collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    let rows = dates
        .into_iter()
        .map(|date| LedgerRow {
            day: date.format("%Y-%m-%d").to_string(),
            cells: columns
                .iter()
                .map(
                    |ct| match mine.iter().find(|d| d.day == date && d.content_type == *ct) {
                        Some(d) => LedgerCell {
                            text: format!(
                                "{} ({} blobs)",
                                charts::count(d.records),
                                charts::count(d.blobs)
                            ),
                            gaps: d.gaps,
                            open: !day_complete(d, statuses) || day_is_today(d, statuses, now),
                        },
                        None => LedgerCell {
                            text: "—".into(),
                            gaps: 0,
                            open: false,
                        },
                    },
                )
                .collect(),
        })
        .collect();
    LedgerView {
        columns: columns.iter().map(|ct| ct.as_str()).collect(),
        rows,
    }
}
