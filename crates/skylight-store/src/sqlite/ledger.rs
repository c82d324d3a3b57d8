//! The collection ledger ([`Store::ledger`](crate::Store::ledger)) from the markers of blobs
//! done: a collected blob's marker holds its record count, a gap's none. The marker of a range
//! lost whole (`range:…`, a collector down past Microsoft's 7 days) is not a blob: the gaps
//! table tells it.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use skylight_model::LedgerDay;

use super::ct_from_code;
use crate::StoreError;
use crate::convert::{DAY_NS, ledger_day, to_ns};

/// Per tenant, content type and day of publication: blobs collected, their records, gaps.
const LEDGER: &str = "SELECT tenant, content_type, created_ns / ?2 AS day, \
     count(records), coalesce(sum(records), 0), count(*) - count(records) \
     FROM done_blobs WHERE created_ns >= ?1 AND content_id NOT LIKE 'range:%' \
     GROUP BY tenant, content_type, day ORDER BY tenant, content_type, day";

/// The ledger of the content published at or after `since`.
pub(super) fn ledger(
    conn: &Connection,
    since: DateTime<Utc>,
) -> Result<Vec<LedgerDay>, StoreError> {
    type Row = ((String, i64, i64), (i64, i64, i64));
    let rows: Vec<Row> = conn
        .prepare_cached(LEDGER)?
        .query_map([to_ns(since), DAY_NS], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?),
                (r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|((tenant, code, day), counts)| ledger_day((tenant, ct_from_code(code)?, day), counts))
        .collect()
}
