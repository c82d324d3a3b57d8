//! Closed raw chunks sealed into segments (schema 19; see `0019_segments.sql` for the layout).
//!
//! A chunk is compressed fast, alone, while its blob is committed. Once it is [`SEAL_AFTER`]
//! old, it is recompressed with the next chunks of its tenant and content type into a segment of
//! about [`SEGMENT_BYTES`] at [`SEAL_LEVEL`]: records of one kind share most of their text, and a
//! larger frame at a higher level finds it. Measured on a 10,000-user week: 248 → about 190 B
//! per record of 1,310 B of JSON. The price: reading one record decompresses its segment (4 MiB,
//! a few milliseconds), which [`ChunkReader`] does once for all the chunks a read touches in it.
//!
//! Sealing runs on the writer's connection after commits, at most every [`SEAL_EVERY`] and for
//! about [`SEAL_BUDGET`], so that a large backlog (after an upgrade, or a long backfill) goes a
//! little at a time and commits never wait long. Each segment is one transaction: a `kill -9`
//! leaves its chunks as they were or all sealed.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::Inner;
use crate::StoreError;
use crate::batch::{Chunk, unpack};

/// How long after being stored a chunk is sealed: detection has read it by then, and the
/// activity log shows the last minutes most.
pub(crate) const SEAL_AFTER: Duration = Duration::from_secs(15 * 60);

/// Records' bytes (their framing included) that fill a segment: about 3,200 records of
/// Microsoft 365's. Larger segments compress a little better (6,400 records: 2 % smaller) but
/// make reading one record slower, and a read holds several decompressed.
const SEGMENT_BYTES: i64 = 4 << 20;

/// A tenant's content type that fills no segment (a small tenant, or DLP events) is sealed
/// anyway once its oldest closed chunk is this old.
const SEAL_SHORT_AFTER: Duration = Duration::from_secs(24 * 3600);

/// zstd level of segments. On a sample of a 10,000-user week's records, in 4 MiB segments: 9
/// compresses them to 14.7 % at about 80 MB/s, 11 to 14.4 % at 45 MB/s (10 s of a core for a
/// day of that tenant), 13 to 14.3 % at 20 MB/s; 7 in 2 MiB, 15.3 %; 19, about 13 % at 3 MB/s.
const SEAL_LEVEL: i32 = 11;

/// How often a writer looks for chunks to seal.
const SEAL_EVERY: Duration = Duration::from_secs(30);

/// How long a writer seals at a time (one segment takes about 100 ms): the commits waiting
/// meanwhile wait no longer than this.
const SEAL_BUDGET: Duration = Duration::from_millis(250);

/// Segments a read keeps decompressed (20 MiB at most): records read in stored order go through
/// one segment per content type at a time (five of Microsoft 365's).
const SEGMENTS_HELD: usize = 5;

/// Unsealed chunks stored before `?1`, in the order they are grouped. The day's expression is
/// the one `raw_chunks_unsealed` indexes (`0019_segments.sql`), so that no sort is needed.
const NEXT_GROUP: &str = "SELECT tenant_id, content_type, \
     CASE WHEN min_ms > 0 THEN max_ms / 86400000 ELSE -1 END AS day, \
     id, stored_ms, raw_len FROM raw_chunks \
     INDEXED BY raw_chunks_unsealed WHERE sealed = 0 AND stored_ms < ?1 \
     ORDER BY tenant_id, content_type, day, id";

/// What sealing did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// Segments written.
    pub segments: u64,
    /// Chunks moved into them.
    pub chunks: u64,
}

/// Reads raw chunks, sealed or not, keeping the last few segments it decompressed.
#[derive(Default)]
pub(crate) struct ChunkReader {
    segments: VecDeque<(i64, Vec<u8>)>,
}

impl ChunkReader {
    /// Chunk `id`'s records.
    pub(crate) fn chunk(&mut self, conn: &Connection, id: i64) -> Result<Chunk, StoreError> {
        let what = format!("chunk {id}");
        Chunk::from_plain(self.plain(conn, id)?, &what)
    }

    /// Chunk `id` compressed alone, as a chunk is stored before it is sealed (and as
    /// PostgreSQL stores every chunk): its data as it is, or its records out of its segment.
    pub(crate) fn packed(&mut self, conn: &Connection, id: i64) -> Result<Vec<u8>, StoreError> {
        type Row = (bool, Vec<u8>, Option<i64>, Option<Vec<u8>>);
        let (sealed, own, segment, alone): Row = conn
            .prepare_cached(
                "SELECT c.sealed, c.data, c.segment_id, s.data FROM raw_chunks c \
                 LEFT JOIN raw_segments s ON s.id = c.segment_id WHERE c.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        if !sealed {
            // Not sealed yet: its segment (or, stored before segments, its row) is its data.
            return match (segment, alone) {
                (None, _) => Ok(own),
                (Some(_), Some(data)) => Ok(data),
                (Some(s), None) => Err(StoreError::Corrupt(format!(
                    "chunk {id}: its segment {s} is missing"
                ))),
            };
        }
        let plain = self.plain(conn, id)?;
        crate::batch::pack(&plain)
    }

    /// Chunk `id`'s bytes, decompressed (its records, each framed by its length).
    fn plain(&mut self, conn: &Connection, id: i64) -> Result<Vec<u8>, StoreError> {
        let what = format!("chunk {id}");
        let (data, raw_len, segment, offset): (Vec<u8>, i64, Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT data, raw_len, segment_id, segment_offset FROM raw_chunks WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        let Some(segment) = segment else {
            return unpack(&data, raw_len, &what);
        };
        let plain = self.segment(conn, segment)?;
        let part = offset
            .and_then(|o| usize::try_from(o).ok())
            .zip(usize::try_from(raw_len).ok())
            .and_then(|(start, len)| plain.get(start..start.checked_add(len)?))
            .ok_or_else(|| StoreError::Corrupt(format!("{what}: outside its segment {segment}")))?;
        Ok(part.to_vec())
    }

    /// Segment `id`, decompressed.
    fn segment(&mut self, conn: &Connection, id: i64) -> Result<&[u8], StoreError> {
        // Least recently used out first: a hit moves to the back.
        if let Some(at) = self.segments.iter().position(|(s, _)| *s == id) {
            if let Some(hit) = self.segments.remove(at) {
                self.segments.push_back(hit);
            }
            return Ok(self.segments.back().map_or(&[], |(_, p)| p.as_slice()));
        }
        let (data, raw_len): (Vec<u8>, i64) = conn
            .prepare_cached("SELECT data, raw_len FROM raw_segments WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("segment {id} is missing")))?;
        let plain = unpack(&data, raw_len, &format!("segment {id}"))?;
        if self.segments.len() >= SEGMENTS_HELD {
            self.segments.pop_front();
        }
        self.segments.push_back((id, plain));
        Ok(self.segments.back().map_or(&[], |(_, p)| p.as_slice()))
    }
}

/// A group of chunks to seal into one segment.
struct Group {
    key: GroupKey,
    chunks: Vec<i64>,
    bytes: i64,
    oldest_ms: i64,
}

impl Inner {
    /// Record `pos` of chunk `chunk`, sealed or not (`what` names it in errors).
    pub(super) fn raw_in_chunk(
        &self,
        chunk: i64,
        pos: i64,
        what: &str,
    ) -> Result<Vec<u8>, StoreError> {
        ChunkReader::default()
            .chunk(&self.conn, chunk)?
            .get(usize::try_from(pos).unwrap_or(usize::MAX))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| StoreError::Corrupt(format!("{what}: not in its chunk {chunk}")))
    }

    /// After a commit: seals what is due, at most every [`SEAL_EVERY`] and for about
    /// [`SEAL_BUDGET`]. An error is logged: the chunks stay readable as they are, and the next
    /// round tries again.
    pub(super) fn seal_if_due(&mut self) {
        if self.sealed_at.elapsed() < SEAL_EVERY {
            return;
        }
        self.sealed_at = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        if let Err(e) = self.seal_chunks(now_ms, Some(SEAL_BUDGET)) {
            tracing::warn!(error = %e, "cannot seal raw chunks into segments");
        }
    }

    /// Seals the chunks due at `now_ms` (stored [`SEAL_AFTER`] before it), a segment at a time,
    /// until none is due or `budget` is spent.
    pub(super) fn seal_chunks(
        &mut self,
        now_ms: i64,
        budget: Option<Duration>,
    ) -> Result<Sealed, StoreError> {
        let started = Instant::now();
        let mut sealed = Sealed::default();
        while budget.is_none_or(|b| started.elapsed() < b) {
            let Some(chunks) = self.next_group(now_ms)? else {
                break;
            };
            let n = self.seal_group(&chunks)?;
            sealed.segments += u64::from(n > 0);
            sealed.chunks += n;
        }
        Ok(sealed)
    }

    /// The first group of chunks due: a segment's worth of one tenant's content type and day,
    /// or less once its oldest chunk is [`SEAL_SHORT_AFTER`] old.
    fn next_group(&self, now_ms: i64) -> Result<Option<Vec<i64>>, StoreError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let closed_before = now_ms.saturating_sub(ms(SEAL_AFTER));
        let short_before = now_ms.saturating_sub(ms(SEAL_SHORT_AFTER));
        let mut stmt = self.conn.prepare_cached(NEXT_GROUP)?;
        let mut rows = stmt.query([closed_before])?;
        let mut group: Option<Group> = None;
        let due = |g: &Group| g.bytes >= SEGMENT_BYTES || g.oldest_ms < short_before;
        while let Some(row) = rows.next()? {
            let key: GroupKey = (row.get(0)?, row.get(1)?, row.get(2)?);
            let (id, stored_ms, raw_len): (i64, i64, i64) = (row.get(3)?, row.get(4)?, row.get(5)?);
            if self.unsealable.contains(&id) {
                continue;
            }
            if let Some(g) = group.take_if(|g| g.key != key)
                && due(&g)
            {
                return Ok(Some(g.chunks));
            }
            let g = group.get_or_insert_with(|| Group {
                key,
                chunks: Vec::new(),
                bytes: 0,
                oldest_ms: stored_ms,
            });
            g.chunks.push(id);
            g.bytes = g.bytes.saturating_add(raw_len);
            g.oldest_ms = g.oldest_ms.min(stored_ms);
            if g.bytes >= SEGMENT_BYTES {
                return Ok(group.map(|g| g.chunks));
            }
        }
        Ok(group.filter(due).map(|g| g.chunks))
    }

    /// Seals `chunks` (those still there and unsealed) into one segment, and deletes the
    /// segments they leave empty; returns how many were sealed.
    fn seal_group(&mut self, chunks: &[i64]) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut reader = ChunkReader::default();
        let mut plain = Vec::new();
        let mut placed = Vec::with_capacity(chunks.len());
        let mut left = Vec::new();
        let mut damaged = Vec::new();
        for &id in chunks {
            let unsealed: Option<Option<i64>> = tx
                .prepare_cached("SELECT segment_id FROM raw_chunks WHERE id = ?1 AND sealed = 0")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(segment) = unsealed else {
                continue;
            };
            match reader.plain(&tx, id) {
                Ok(records) => {
                    placed.push((id, plain.len()));
                    plain.extend_from_slice(&records);
                    left.extend(segment);
                }
                Err(e) => damaged.push((id, e)),
            }
        }
        drop(reader);
        for (id, e) in damaged {
            // Left as it is (its records read as they did), and not tried again by this
            // process.
            tracing::warn!(chunk = id, error = %e, "a raw chunk cannot be sealed: it stays as it is");
            self.unsealable.insert(id);
        }
        if placed.is_empty() {
            return Ok(0);
        }
        let packed = zstd::bulk::compress(&plain, SEAL_LEVEL)
            .map_err(|e| StoreError::Corrupt(format!("cannot compress a segment: {e}")))?;
        tx.prepare_cached("INSERT INTO raw_segments (data, raw_len) VALUES (?1, ?2)")?
            .execute(params![packed, len_i64(plain.len())])?;
        let segment = tx.last_insert_rowid();
        let mut seal = tx.prepare_cached(
            "UPDATE raw_chunks SET data = X'', segment_id = ?2, segment_offset = ?3, sealed = 1 \
             WHERE id = ?1",
        )?;
        for &(id, offset) in &placed {
            seal.execute(params![id, segment, len_i64(offset)])?;
        }
        drop(seal);
        delete_emptied_segments(&tx, &left)?;
        tx.commit()?;
        Ok(len_i64(placed.len()).unsigned_abs())
    }
}

/// Deletes the segments none of whose chunks is left, among `segments` (after chunks are
/// deleted or sealed into another segment).
fn delete_emptied_segments(conn: &Connection, segments: &[i64]) -> Result<(), StoreError> {
    let mut delete = conn.prepare_cached(
        "DELETE FROM raw_segments WHERE id = ?1 AND NOT EXISTS \
         (SELECT 1 FROM raw_chunks WHERE segment_id = ?1)",
    )?;
    for s in segments {
        delete.execute([s])?;
    }
    Ok(())
}

/// What chunks are sealed together by: tenant, content type, and the UTC day of their latest
/// record (-1 for chunks holding a record without a time, which retention never deletes), so
/// that retention, which deletes chunks by their latest record, deletes segments whole within a
/// day of their first chunk, and a chunk it never deletes keeps no other chunk's bytes.
type GroupKey = (i64, Option<i64>, Option<i64>);

/// Chunks a process will not try to seal again (their data cannot be read).
pub(super) type Unsealable = HashSet<i64>;

/// A length or offset as SQLite's integer.
fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use chrono::{Duration as Days, TimeZone, Utc};
    use skylight_model::filter::Filter;
    use skylight_model::{AuditRecord, BlobRef, ContentType};

    use super::super::SqliteStore;
    use crate::{ActivityQuery, Store};

    /// Record `n` of day `day` (May 2024), about 1 KB, a tenth of it text unique to it.
    fn record(n: usize, day: u32) -> AuditRecord {
        let mut x = n as u64 * 2_654_435_761 + 1;
        let noise: String = (0..100)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                char::from(b'a' + (x >> 59) as u8)
            })
            .collect();
        AuditRecord::from_json(&format!(
            r#"{{"Id":"rec-{n}","CreationTime":"2024-05-{day:02}T{:02}:{:02}:00","UserId":"user{}@x.com","Operation":"FileAccessed","Noise":"{noise}","Padding":"{}"}}"#,
            n % 24,
            n % 60,
            n % 50,
            "the quick brown fox jumps over the lazy dog ".repeat(20),
        ))
        .unwrap()
    }

    /// Commits `records` in blobs of 100 as `content_type`.
    fn commit(store: &SqliteStore, content_type: ContentType, records: &[AuditRecord]) {
        for (b, blob) in records.chunks(100).enumerate() {
            let blob_ref = BlobRef {
                content_id: format!("{content_type}-{}-{b}", blob[0].columns.id),
                created: Utc.with_ymd_and_hms(2024, 5, 20, 0, 0, 0).unwrap(),
            };
            store
                .commit_blob("t", content_type, &blob_ref, blob)
                .unwrap();
        }
    }

    /// Every stored record's raw bytes, by Id, as detection reads them.
    fn raws(store: &SqliteStore) -> BTreeMap<String, Vec<u8>> {
        store
            .activities_since(0, usize::MAX >> 1)
            .unwrap()
            .into_iter()
            .map(|a| (a.row.id, a.raw))
            .collect()
    }

    fn count(store: &SqliteStore, sql: &str) -> i64 {
        store
            .with_connection(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .unwrap()
    }

    const UNSEALED: &str = "SELECT count(*) FROM raw_chunks WHERE sealed = 0";

    /// Moves chunk `id`'s data back into its row, as stored before schema 19.
    fn as_before_segments(store: &SqliteStore, id: i64) {
        store
            .with_connection(|c| {
                c.execute_batch(&format!(
                    "UPDATE raw_chunks SET data = (SELECT data FROM raw_segments s \
                     WHERE s.id = segment_id), segment_id = NULL, segment_offset = NULL \
                     WHERE id = {id}; \
                     DELETE FROM raw_segments WHERE id NOT IN (SELECT segment_id FROM raw_chunks \
                     WHERE segment_id IS NOT NULL);"
                ))?;
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn sealed_records_read_back_byte_for_byte_wherever_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        // 5,000 records (about 5.5 MB) each of two content types, their blobs interleaved.
        let exchange: Vec<_> = (0..5000).map(|n| record(n, 14)).collect();
        let sharepoint: Vec<_> = (5000..10_000).map(|n| record(n, 14)).collect();
        for (e, s) in exchange.chunks(500).zip(sharepoint.chunks(500)) {
            commit(&store, ContentType::Exchange, e);
            commit(&store, ContentType::SharePoint, s);
        }
        // Two chunks as a store of schema 18 holds them, with their data in their rows.
        as_before_segments(&store, 1);
        as_before_segments(&store, 2);
        let before = raws(&store);
        assert_eq!(before.len(), 10_000);
        let chunk_bytes = count(
            &store,
            "SELECT (SELECT sum(length(data)) FROM raw_chunks) + \
             (SELECT sum(length(data)) FROM raw_segments)",
        );
        // Each chunk stored since is a segment of its own.
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 98);

        // Just stored: nothing is due.
        let now = Utc::now();
        assert_eq!(store.seal_chunks(now).unwrap(), super::Sealed::default());
        assert_eq!(count(&store, UNSEALED), 100);
        // A quarter of an hour later: one full segment of each content type; the rest waits
        // for more chunks of its kind.
        let sealed = store.seal_chunks(now + Days::minutes(16)).unwrap();
        assert_eq!(sealed.segments, 2);
        assert!(sealed.chunks >= 76, "{sealed:?}");
        assert_eq!(count(&store, UNSEALED), 100 - sealed.chunks as i64);
        // A day later, the rest too, whatever its size.
        let rest = store.seal_chunks(now + Days::hours(25)).unwrap();
        assert_eq!(rest.segments, 2);
        assert_eq!(count(&store, UNSEALED), 0);
        assert_eq!(
            store.seal_chunks(now + Days::days(30)).unwrap(),
            super::Sealed::default()
        );
        // Each segment holds one content type.
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM (SELECT segment_id FROM raw_chunks \
                 GROUP BY segment_id HAVING count(DISTINCT content_type) > 1)"
            ),
            0
        );
        // Sealed chunks keep no data of their own, and their small segments are gone.
        assert_eq!(count(&store, "SELECT sum(length(data)) FROM raw_chunks"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 4);
        let segment_bytes = count(&store, "SELECT sum(length(data)) FROM raw_segments");
        // (Mostly random text here: Microsoft 365's records shrink by a fifth.)
        assert!(
            segment_bytes < chunk_bytes,
            "{segment_bytes} vs {chunk_bytes}"
        );

        // Detection's read, one record with its row, one raw record, the log's free text.
        assert_eq!(raws(&store), before);
        for id in ["rec-0", "rec-1234", "rec-5000", "rec-9999"] {
            let (row, raw) = store.activity(None, id).unwrap().unwrap();
            assert_eq!(row.id, id);
            assert_eq!(&raw, &before[id]);
            assert_eq!(
                store.raw_record("t", id).unwrap().as_ref(),
                Some(&before[id])
            );
        }
        let noise =
            serde_json::from_slice::<serde_json::Value>(&before["rec-3777"]).unwrap()["Noise"]
                .as_str()
                .unwrap()
                .to_owned();
        let page = store
            .activities(&ActivityQuery {
                tenant: None,
                filter: Filter::parse(&[&format!("text~{noise}")]).unwrap(),
                limit: 10,
                after: None,
            })
            .unwrap();
        let found: Vec<_> = page.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(found, ["rec-3777"]);

        // Reopened, as another process would find it.
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(raws(&store), before);
    }

    /// Records `range` of May `day` at hours `first_hour` to `first_hour + 5`.
    fn at_hours(range: std::ops::Range<usize>, day: u32, first_hour: usize) -> Vec<AuditRecord> {
        range
            .map(|n| {
                let r = record(n, day);
                let json = String::from_utf8(r.raw.to_vec()).unwrap().replace(
                    &format!("T{:02}:", n % 24),
                    &format!("T{:02}:", first_hour + n % 6),
                );
                AuditRecord::from_json(&json).unwrap()
            })
            .collect()
    }

    /// Every segment's bytes, decompressed.
    fn segment_bytes(store: &SqliteStore) -> Vec<u8> {
        store
            .with_connection(|c| {
                let mut out = Vec::new();
                let mut stmt = c.prepare("SELECT data, raw_len FROM raw_segments")?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    out.extend(crate::batch::unpack(
                        &r.get::<_, Vec<u8>>(0)?,
                        r.get(1)?,
                        "s",
                    )?);
                }
                Ok(out)
            })
            .unwrap()
    }

    fn holds(bytes: &[u8], text: &str) -> bool {
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    }

    #[test]
    fn retention_deletes_segments_whole_within_a_day() {
        let store = SqliteStore::open_in_memory().unwrap();
        let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 5, d, h, 0, 0).unwrap();
        // Exchange on the 14th; SharePoint on the 14th, early and late on the 16th, and a
        // record without a time: segments are cut by day, and the untimed one is alone.
        commit(&store, ContentType::Exchange, &at_hours(0..300, 14, 0));
        commit(&store, ContentType::SharePoint, &at_hours(300..400, 14, 0));
        commit(&store, ContentType::SharePoint, &at_hours(400..700, 16, 0));
        commit(
            &store,
            ContentType::SharePoint,
            &at_hours(700..1000, 16, 18),
        );
        let untimed = AuditRecord::from_json(r#"{"Id":"untimed","Operation":"FileAccessed"}"#);
        commit(&store, ContentType::SharePoint, &[untimed.unwrap()]);
        store.seal_chunks(Utc::now() + Days::days(2)).unwrap();
        assert_eq!(count(&store, UNSEALED), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 4);
        let before = raws(&store);
        let gone = |id: &str| format!(r#""Id":"{id}""#);

        // The 14th: both its segments go, though SharePoint's next chunks are in the store.
        assert_eq!(store.delete_activities_before(day(15, 0)).unwrap(), 400);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
        assert!(!holds(&segment_bytes(&store), &gone("rec-0")));
        assert!(!holds(&segment_bytes(&store), &gone("rec-399")));
        // The 16th's morning: its chunks go, its segment stays for the evening's records
        // (the morning's bytes with it, until the day has gone).
        assert_eq!(store.delete_activities_before(day(16, 12)).unwrap(), 300);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 4);
        let after = raws(&store);
        assert_eq!(after.len(), 301);
        for (id, raw) in &after {
            assert_eq!(raw, &before[id]);
        }
        // Then the whole day; the untimed record stays, alone in its segment.
        assert_eq!(store.delete_activities_before(day(17, 0)).unwrap(), 300);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 1);
        assert_eq!(raws(&store).keys().collect::<Vec<_>>(), ["untimed"]);
        assert!(!holds(&segment_bytes(&store), &gone("rec-999")));
    }

    #[test]
    fn retention_deletes_the_segments_a_process_of_schema_18_left() {
        let store = SqliteStore::open_in_memory().unwrap();
        commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
        commit(&store, ContentType::Exchange, &at_hours(100..200, 16, 0));
        let cutoff = Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap();
        // What its retention runs: records, then chunks, not knowing of segments.
        store
            .with_connection(|c| {
                let ms = cutoff.timestamp_millis();
                c.execute(
                    "DELETE FROM records WHERE creation_ms > 0 AND creation_ms < ?1",
                    [ms],
                )?;
                c.execute(
                    "DELETE FROM raw_chunks WHERE max_ms < ?1 AND min_ms > 0",
                    [ms],
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 2);
        store.delete_activities_before(cutoff).unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 1);
        assert_eq!(raws(&store).len(), 100);
    }

    #[test]
    fn a_blob_of_old_records_committed_during_retention_keeps_its_chunk() {
        let store = SqliteStore::open_in_memory().unwrap();
        let cutoff = Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap();
        commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
        while store
            .lock()
            .delete_records_batch(cutoff.timestamp_millis())
            .unwrap()
            > 0
        {}
        // A late blob of old records, between the records' deletion and the chunks'.
        commit(&store, ContentType::Exchange, &at_hours(100..200, 14, 0));
        assert!(
            !store
                .lock()
                .delete_chunks_before(cutoff.timestamp_millis())
                .unwrap()
        );
        assert_eq!(raws(&store).len(), 100, "its records read");
        // Retention goes round again and deletes them with their chunk.
        assert_eq!(store.delete_activities_before(cutoff).unwrap(), 100);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_chunks"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM raw_segments"), 0);
    }

    #[test]
    fn chunks_to_seal_are_read_in_order_from_their_index_without_a_sort() {
        let store = SqliteStore::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .with_connection(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", super::NEXT_GROUP))?;
                let rows = stmt.query_map([0], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap();
        assert_eq!(
            plan,
            ["SCAN raw_chunks USING COVERING INDEX raw_chunks_unsealed"]
        );
    }

    #[test]
    fn a_chunk_whose_segment_is_missing_is_an_error_not_empty_data() {
        let store = SqliteStore::open_in_memory().unwrap();
        commit(&store, ContentType::Exchange, &at_hours(0..100, 14, 0));
        let packed = store.with_connection(|c| {
            c.execute_batch("DELETE FROM raw_segments")?;
            super::ChunkReader::default().packed(c, 1)
        });
        assert!(
            matches!(packed, Err(crate::StoreError::Corrupt(_))),
            "{packed:?}"
        );
    }

    #[test]
    fn a_damaged_chunk_is_left_as_it_is_and_the_others_are_sealed() {
        let store = SqliteStore::open_in_memory().unwrap();
        commit(
            &store,
            ContentType::Exchange,
            &(0..500).map(|n| record(n, 14)).collect::<Vec<_>>(),
        );
        store
            .with_connection(|c| {
                c.execute_batch(
                    "UPDATE raw_segments SET data = X'00' \
                     WHERE id = (SELECT segment_id FROM raw_chunks WHERE id = 3)",
                )?;
                Ok(())
            })
            .unwrap();
        // Sealing everything ends (the damaged chunk is not tried again and again).
        let sealed = store.seal_chunks(Utc::now() + Days::days(2)).unwrap();
        assert_eq!(
            sealed,
            super::Sealed {
                segments: 1,
                chunks: 4
            }
        );
        assert_eq!(count(&store, UNSEALED), 1);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM raw_chunks WHERE id = 3 AND sealed = 0"
            ),
            1
        );
        assert!(store.activity(None, "rec-0").unwrap().is_some());
        assert!(store.activity(None, "rec-499").unwrap().is_some());
    }
}
