//! A connector's collection ledger as its page shows it: a row per UTC day of publication, its
//! content types side by side (the records the blobs collected held, the blobs lost), and
//! whether collection has listed the day to its end.

use skylight_m365::health::JudgedDay;

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

/// `tenant`'s ledger out of `days` (any tenants').
pub(super) fn ledger_view(tenant: &str, days: &[JudgedDay]) -> LedgerView {
    let mine: Vec<&JudgedDay> = days.iter().filter(|j| j.day.tenant == tenant).collect();
    let mut columns: Vec<_> = mine.iter().map(|j| j.day.content_type).collect();
    columns.sort_by_key(|ct| ct.as_str());
    columns.dedup();
    let mut dates: Vec<_> = mine.iter().map(|j| j.day.day).collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    let cell = |j: &JudgedDay| LedgerCell {
        text: format!(
            "{} ({} blobs)",
            charts::count(j.day.records),
            charts::count(j.day.blobs)
        ),
        gaps: j.day.gaps,
        open: !j.complete || j.today,
    };
    let rows = dates
        .into_iter()
        .map(|date| LedgerRow {
            day: date.format("%Y-%m-%d").to_string(),
            cells: columns
                .iter()
                .map(|ct| {
                    mine.iter()
                        .find(|j| j.day.day == date && j.day.content_type == *ct)
                        .map_or_else(
                            || LedgerCell {
                                text: "—".into(),
                                gaps: 0,
                                open: false,
                            },
                            |j| cell(j),
                        )
                })
                .collect(),
        })
        .collect();
    LedgerView {
        columns: columns.iter().map(|ct| ct.as_str()).collect(),
        rows,
    }
}
