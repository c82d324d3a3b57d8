//! A connector's collection ledger as its page shows it: a row per UTC day of publication, its
//! content types side by side (the records the blobs collected held, the blobs lost), and
//! whether collection has listed the day to its end.

use skylight_m365::health::{JudgedDay, lost_text};
use skylight_model::Gap;

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

/// The ledger of one tenant: its content types (the columns), its days, newest first, and what
/// was lost in them.
#[derive(Default)]
pub(super) struct LedgerView {
    pub(super) columns: Vec<&'static str>,
    pub(super) rows: Vec<LedgerRow>,
    pub(super) lost: Vec<String>,
}

/// A tenant's ledger from its `days` and what it `lost`.
pub(super) fn ledger_view(days: &[JudgedDay], lost: Vec<Gap>) -> LedgerView {
    let mine: Vec<&JudgedDay> = days.iter().collect();
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
        open: !j.complete,
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
    let lost = lost
        .into_iter()
        .map(|g| format!("{}: {}", g.content_type.as_str(), lost_text(&g)))
        .collect();
    LedgerView {
        columns: columns.iter().map(|ct| ct.as_str()).collect(),
        rows,
        lost,
    }
}
