//! One blob: fetched, split into records while it downloads, parsed, and committed with its
//! done-marker. Memory holds the compressed batch and the record being read, never the body.

use std::sync::Arc;

use bytes::Bytes;
use skylight_enrich::Enricher;
use skylight_model::{BlobRef, CommitStats, ContentType};
use skylight_store::{RecordBatch, Store, StoreError};
use tokio::sync::mpsc;

use super::CollectError;
use crate::activity::{ActivityClient, ApiError, ContentItem};
use crate::split::{ArraySplitter, Element, MAX_ELEMENT, SplitError};

/// Times a blob whose download broke off (or came back cut short) is fetched again before the
/// cycle gives up on it (it is then retried next cycle: it is not done).
const ATTEMPTS: u32 = 3;

/// Body pieces waiting for the parser: enough to keep it busy, few enough to bound memory.
const PIECES_IN_FLIGHT: usize = 8;

/// What collecting a blob did.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BlobOutcome {
    pub stats: CommitStats,
    /// Records kept aside, unreadable.
    pub quarantined: u64,
}

enum Piece {
    Bytes(Bytes),
    End,
}

/// How the parsing side ended.
enum Built {
    Committed(BlobOutcome),
    /// The body was not a JSON array (or was cut short): nothing committed.
    NotAnArray(SplitError),
    /// The download broke off: nothing committed.
    Aborted,
}

/// Collects one blob: at most [`ATTEMPTS`] downloads, one commit.
pub(super) async fn collect(
    client: &ActivityClient,
    store: Arc<dyn Store>,
    enricher: Option<Arc<Enricher>>,
    tenant: &str,
    ct: ContentType,
    item: &ContentItem,
) -> Result<BlobOutcome, CollectError> {
    let blob = BlobRef {
        content_id: item.content_id.clone(),
        created: item.content_created,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match fetch_once(
            client,
            store.clone(),
            enricher.clone(),
            tenant,
            ct,
            &blob,
            item,
        )
        .await?
        {
            Ok(outcome) => return Ok(outcome),
            Err(e) => e,
        };
        if !failure.is_transient() || attempt >= ATTEMPTS {
            return Err(failure.into());
        }
        tracing::debug!(content_id = %item.content_id, error = %failure, attempt, "fetching the blob again");
    }
}

/// One download, parsed as it arrives; the inner error is the API's (worth another attempt if
/// transient), the outer one the store's or a task's.
async fn fetch_once(
    client: &ActivityClient,
    store: Arc<dyn Store>,
    enricher: Option<Arc<Enricher>>,
    tenant: &str,
    ct: ContentType,
    blob: &BlobRef,
    item: &ContentItem,
) -> Result<Result<BlobOutcome, ApiError>, CollectError> {
    let mut body = match client.open(item).await {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let (tx, rx) = mpsc::channel(PIECES_IN_FLIGHT);
    let parser = {
        let (tenant, blob) = (tenant.to_owned(), blob.clone());
        tokio::task::spawn_blocking(move || {
            build(rx, store.as_ref(), enricher.as_deref(), &tenant, ct, &blob)
        })
    };
    let mut broke: Option<ApiError> = None;
    loop {
        match body.chunk().await {
            Ok(Some(bytes)) => {
                if tx.send(Piece::Bytes(bytes)).await.is_err() {
                    break; // the parser stopped early (not an array); its verdict follows
                }
            }
            Ok(None) => {
                let _ = tx.send(Piece::End).await;
                break;
            }
            Err(e) => {
                broke = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let built = parser
        .await
        .map_err(|e| CollectError::Task(e.to_string()))??;
    Ok(match built {
        Built::Committed(outcome) => Ok(outcome),
        Built::Aborted => Err(broke.unwrap_or_else(|| {
            ApiError::Transport("the download of the blob stopped early".into())
        })),
        // Cut short: as transient as a broken connection.
        Built::NotAnArray(e @ SplitError::Truncated(_)) => Err(ApiError::Transport(format!(
            "blob {}: {e}",
            blob.content_id
        ))),
        Built::NotAnArray(e) => Err(ApiError::Malformed(format!(
            "blob {}: {e}",
            blob.content_id
        ))),
    })
}

/// The parsing side (a blocking thread): splits, reads and batches records, then commits.
fn build(
    mut rx: mpsc::Receiver<Piece>,
    store: &dyn Store,
    enricher: Option<&Enricher>,
    tenant: &str,
    ct: ContentType,
    blob: &BlobRef,
) -> Result<Built, StoreError> {
    let mut splitter = ArraySplitter::new();
    let mut batch = RecordBatch::new()?;
    loop {
        match rx.blocking_recv() {
            Some(Piece::Bytes(bytes)) => {
                // Only while parsing: a thread waiting for the network holds no slot.
                let _slot = super::cpu_slots::PARSING.take();
                if let Err(e) =
                    splitter.feed(&bytes, |element| add(&mut batch, enricher, element))?
                {
                    return Ok(Built::NotAnArray(e));
                }
            }
            Some(Piece::End) => break,
            None => return Ok(Built::Aborted),
        }
    }
    if let Err(e) = splitter.finish() {
        return Ok(Built::NotAnArray(e));
    }
    let quarantined = batch.rejected() as u64;
    let stats = store.commit_batch(tenant, ct, blob, batch)?;
    Ok(Built::Committed(BlobOutcome { stats, quarantined }))
}

/// Adds one array element to the batch: a record, or a reject with its reason.
fn add(
    batch: &mut RecordBatch,
    enricher: Option<&Enricher>,
    element: Element<'_>,
) -> Result<(), StoreError> {
    match element {
        Element::Whole(raw) => match skylight_normalize::record_columns(raw) {
            Ok(mut columns) => {
                if let Some(e) = enricher {
                    e.enrich(&mut columns);
                }
                batch.push(columns, raw)
            }
            Err(e) => batch.reject(e.to_string(), raw),
        },
        Element::Oversized { head, len } => batch.reject(
            format!(
                "a record of {len} bytes, over the {MAX_ELEMENT}-byte limit; its start is kept"
            ),
            head,
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use skylight_store::SqliteStore;

    use super::*;

    fn blob(id: &str) -> BlobRef {
        BlobRef {
            content_id: id.into(),
            created: chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
                .single()
                .expect("time"),
        }
    }

    /// Runs the parsing side on `body` cut into pieces of `piece` bytes, ended with `end`.
    fn run(store: &SqliteStore, id: &str, body: &[u8], piece: usize, end: bool) -> Built {
        let (tx, rx) = mpsc::channel(body.len() / piece + 2);
        for p in body.chunks(piece) {
            tx.try_send(Piece::Bytes(Bytes::copy_from_slice(p)))
                .expect("room");
        }
        if end {
            tx.try_send(Piece::End).expect("room");
        }
        drop(tx);
        build(rx, store, None, "t", ContentType::General, &blob(id)).expect("store works")
    }

    #[test]
    fn unreadable_records_are_kept_aside_and_the_rest_of_the_blob_is_stored() {
        let store = SqliteStore::open_in_memory().expect("store");
        let body = br#"[{"Id":"a","CreationTime":"2026-11-20T09:00:00","Operation":"x"},
            {"Id":}, 42, {"NoId":1}, "text", {"Id":"b","CreationTime":"2026-11-20T09:01:00"}]"#;
        let Built::Committed(outcome) = run(&store, "b1", body, 3, true) else {
            panic!("not committed");
        };
        assert_eq!((outcome.stats.inserted, outcome.quarantined), (2, 4));
        assert_eq!(store.record_ids("t", None).expect("ids"), ["a", "b"]);
        assert_eq!(store.quarantined().expect("count"), 4);
        assert_eq!(
            store.raw_record("t", "b").expect("read"),
            Some(br#"{"Id":"b","CreationTime":"2026-11-20T09:01:00"}"#.to_vec())
        );
    }

    #[test]
    fn a_cut_or_broken_body_commits_nothing() {
        let store = SqliteStore::open_in_memory().expect("store");
        let whole = br#"[{"Id":"a"},{"Id":"b"}]"#;
        // The connection broke: no end marker.
        assert!(matches!(run(&store, "b1", whole, 4, false), Built::Aborted));
        // The body ended early, or is not an array.
        assert!(matches!(
            run(&store, "b2", &whole[..15], 4, true),
            Built::NotAnArray(SplitError::Truncated(_))
        ));
        assert!(matches!(
            run(&store, "b3", br#"{"Id":"a"}"#, 4, true),
            Built::NotAnArray(SplitError::Unexpected { .. })
        ));
        assert_eq!(store.record_count(None).expect("count"), 0);
        let since = blob("x").created - chrono::Duration::days(1);
        assert!(
            store
                .done_blobs("t", ContentType::General, since)
                .expect("done")
                .is_empty(),
            "no blob is marked done"
        );
    }
}
