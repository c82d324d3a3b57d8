//! Closed raw chunks sealed into segments (schema 19; see `0019_segments.sql` for the layout).
//!
//! A chunk is compressed fast, alone, while its blob is committed. Once it is [`SEAL_AFTER`]
//! old, it is recompressed with the next chunks of its tenant and content type into a segment of
//! about [`SEGMENT_BYTES`] at [`SEAL_LEVEL`]: records of one kind share most of their text, and a
//! larger frame at a higher level finds it. Measured on a 10,000-user week: 248 → about 190 B
//! per record of 1,310 B of JSON at level 11; at 19, `bench ingest`'s sealed store is 17 B per
//! record smaller. The price: reading one record decompresses its segment (4 MiB,
//! a few milliseconds), which [`ChunkReader`] does once for all the chunks a read touches in it.
//!
//! Sealing is the writer's, after its commits: it reads a group's chunks (milliseconds), a thread
//! of its own compresses them (one to two seconds of a core at level 19; see `sealer.rs`), and
//! the writer writes the segment after a later commit, one transaction per segment: a `kill -9`
//! leaves its chunks as they were or all sealed. A backlog (after an upgrade, or a long backfill)
//! goes a segment after another, and commits never wait for the compression.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::Inner;
use crate::StoreError;
use crate::batch::{Chunk, unpack};

mod sealer;
pub(crate) use sealer::Sealer;
use sealer::{Gathered, Placed};

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
/// compresses them to 14.7 % at about 80 MB/s, 11 to 14.4 % at 45 MB/s, 13 to 14.3 % at 20
/// MB/s; 7 in 2 MiB, 15.3 %. On simulator blobs of all four audit content types (48 MB), 11
/// gives 7.07 MB at 56 MB/s, 17 6.70 MB at 4.6 MB/s, 19 6.48 MB (8 % less) at 2.7 MB/s: about
/// 100 s of a core for a day of a 10,000-user tenant (`bench ingest`: 3 k records per second
/// per core), on the sealing thread.
const SEAL_LEVEL: i32 = 19;

/// The window and match tables of [`SEAL_LEVEL`], smaller than its own: a 4 MiB window (a
/// segment), 2^21 chain and 2^20 hash entries. On a 4 MiB segment of simulator SharePoint
/// records: 525,390 B against 521,851 with level 19's tables and 591,116 at level 11, in 1.35 s
/// and 21 MB of peak RSS (`zstd` CLI) against 1.7 s and 58 MB (level 11: 33 MB) — a collector
/// running detection is at 290–300 MB already.
const SEAL_TABLES: [zstd::stream::raw::CParameter; 3] = [
    zstd::stream::raw::CParameter::WindowLog(22),
    zstd::stream::raw::CParameter::ChainLog(21),
    zstd::stream::raw::CParameter::HashLog(20),
];

/// How often a writer looks for chunks to seal.
const SEAL_EVERY: Duration = Duration::from_secs(30);

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

/// Reads raw chunks, sealed or not, keeping the last few segments of several chunks it
/// decompressed.
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
        let plain = match self.held(segment) {
            Some(plain) => plain,
            None => {
                let (data, segment_len): (Vec<u8>, i64) = conn
                    .prepare_cached("SELECT data, raw_len FROM raw_segments WHERE id = ?1")?
                    .query_row([segment], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or_else(|| StoreError::Corrupt(format!("segment {segment} is missing")))?;
                if offset == Some(0) && segment_len == raw_len {
                    // The chunk is the whole segment (every chunk until it is sealed, and one
                    // sealed alone): no other chunk is read from it, so it is neither held nor
                    // copied out.
                    return unpack(&data, raw_len, &format!("{what} (segment {segment})"));
                }
                let plain = unpack(&data, segment_len, &format!("segment {segment}"))?;
                self.hold(segment, plain)
            }
        };
        let part = offset
            .and_then(|o| usize::try_from(o).ok())
            .zip(usize::try_from(raw_len).ok())
            .and_then(|(start, len)| plain.get(start..start.checked_add(len)?))
            .ok_or_else(|| StoreError::Corrupt(format!("{what}: outside its segment {segment}")))?;
        Ok(part.to_vec())
    }

    /// Segment `id` decompressed, if held.
    fn held(&mut self, id: i64) -> Option<&[u8]> {
        // Least recently used out first: a hit moves to the back.
        let at = self.segments.iter().position(|(s, _)| *s == id)?;
        let hit = self.segments.remove(at)?;
        self.segments.push_back(hit);
        self.segments.back().map(|(_, p)| p.as_slice())
    }

    /// Holds segment `id`, decompressed (in place of the least recently used one once
    /// [`SEGMENTS_HELD`] are).
    fn hold(&mut self, id: i64, plain: Vec<u8>) -> &[u8] {
        if self.segments.len() >= SEGMENTS_HELD {
            self.segments.pop_front();
        }
        self.segments.push_back((id, plain));
        self.segments.back().map_or(&[], |(_, p)| p.as_slice())
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

    /// After a commit: writes the segment the sealing thread has finished, if any, and hands
    /// it the next group due. After a segment written, the next is looked for once the thread
    /// has rested as long as it compressed (so that a backlog goes a segment after another on
    /// at most half a core, and ingest keeps the rest); otherwise at most every
    /// [`SEAL_EVERY`]. An error is logged: the chunks stay readable as they are, and a later
    /// round tries again.
    pub(super) fn seal_if_due(&mut self) {
        if let Some(done) = self.sealer.finished() {
            let written = done
                .packed
                .map_err(StoreError::Corrupt)
                .and_then(|packed| self.write_segment(&done.group, &packed));
            match written {
                Ok(_) => self.seal_next_at = Some(Instant::now() + done.took),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot seal raw chunks into a segment");
                    self.seal_next_at = None;
                    self.sealed_at = Instant::now();
                }
            }
        }
        if self.sealer.busy() {
            return;
        }
        let due = match self.seal_next_at {
            Some(at) => Instant::now() >= at,
            None => self.sealed_at.elapsed() >= SEAL_EVERY,
        };
        if !due {
            return;
        }
        self.seal_next_at = None;
        self.sealed_at = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let group = self
            .next_groups(now_ms, 1)
            .and_then(|groups| match groups.first() {
                Some(chunks) => self.read_group(chunks),
                None => Ok(None),
            });
        match group {
            Ok(Some(group)) => {
                if let Err((_, e)) = self.sealer.send(group) {
                    tracing::warn!(error = %e, "cannot seal raw chunks into segments");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot seal raw chunks into segments"),
        }
    }

    /// Seals every chunk due at `now_ms` (stored [`SEAL_AFTER`] before it), however long it
    /// takes: a few segments at a time, compressed in parallel on sealing threads.
    pub(super) fn seal_chunks(&mut self, now_ms: i64) -> Result<Sealed, StoreError> {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let mut sealers: Vec<Sealer> = (0..parallel).map(|_| Sealer::for_a_backlog()).collect();
        let mut sealed = Sealed::default();
        loop {
            let due = self.next_groups(now_ms, parallel)?;
            if due.is_empty() {
                break;
            }
            // Chunks found unreadable are left out of the next search, so this ends.
            for (chunks, sealer) in due.iter().zip(&mut sealers) {
                if let Some(group) = self.read_group(chunks)? {
                    sealer
                        .send(group)
                        .map_err(|(_, e)| StoreError::Corrupt(e))?;
                }
            }
            for sealer in sealers.iter_mut().filter(|s| s.busy()) {
                let done = sealer.wait()?;
                let packed = done.packed.map_err(StoreError::Corrupt)?;
                let n = self.write_segment(&done.group, &packed)?;
                sealed.segments += u64::from(n > 0);
                sealed.chunks += n;
            }
        }
        Ok(sealed)
    }

    /// Up to `max` groups of chunks due, each a segment's worth of one tenant's content type
    /// and day, or less once its oldest chunk is [`SEAL_SHORT_AFTER`] old.
    fn next_groups(&self, now_ms: i64, max: usize) -> Result<Vec<Vec<i64>>, StoreError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let closed_before = now_ms.saturating_sub(ms(SEAL_AFTER));
        let short_before = now_ms.saturating_sub(ms(SEAL_SHORT_AFTER));
        let mut stmt = self.conn.prepare_cached(NEXT_GROUP)?;
        let mut rows = stmt.query([closed_before])?;
        let mut found = Vec::new();
        let mut group: Option<Group> = None;
        let due = |g: &Group| g.bytes >= SEGMENT_BYTES || g.oldest_ms < short_before;
        while found.len() < max
            && let Some(row) = rows.next()?
        {
            let key: GroupKey = (row.get(0)?, row.get(1)?, row.get(2)?);
            let (id, stored_ms, raw_len): (i64, i64, i64) = (row.get(3)?, row.get(4)?, row.get(5)?);
            if self.unsealable.contains(&id) {
                continue;
            }
            if let Some(g) = group.take_if(|g| g.key != key)
                && due(&g)
            {
                found.push(g.chunks);
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
                found.extend(group.take().map(|g| g.chunks));
            }
        }
        if found.len() < max {
            found.extend(group.filter(due).map(|g| g.chunks));
        }
        Ok(found)
    }

    /// Reads `chunks` (those still there and unsealed) for sealing; `None` if none is. A chunk
    /// that cannot be read is left as it is (its records read as they did) and not tried again
    /// by this process.
    fn read_group(&mut self, chunks: &[i64]) -> Result<Option<Gathered>, StoreError> {
        // One snapshot for the chunks' states and bytes.
        let tx = self.conn.transaction()?;
        let mut reader = ChunkReader::default();
        let mut plain = Vec::new();
        let mut placed = Vec::with_capacity(chunks.len());
        for &id in chunks {
            if unsealed(&tx, id)?.is_none() {
                continue;
            }
            match reader.plain(&tx, id) {
                Ok(records) => {
                    if plain.is_empty() {
                        // A segment's worth at once, not twice that by doubling.
                        plain.reserve(usize::try_from(SEGMENT_BYTES).unwrap_or(0) + records.len());
                    }
                    placed.push(Placed {
                        id,
                        offset: plain.len(),
                        raw_len: records.len(),
                    });
                    plain.extend_from_slice(&records);
                }
                Err(e) => {
                    tracing::warn!(chunk = id, error = %e, "a raw chunk cannot be sealed: it stays as it is");
                    self.unsealable.insert(id);
                }
            }
        }
        tx.commit()?;
        Ok((!placed.is_empty()).then_some(Gathered { placed, plain }))
    }

    /// Writes `group`'s segment, `packed`, and seals into it those of its chunks that are still
    /// as they were read; deletes the segments they leave empty. Returns how many were sealed.
    fn write_segment(&mut self, group: &Gathered, packed: &[u8]) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut still = Vec::with_capacity(group.placed.len());
        let mut reader = ChunkReader::default();
        let mut left = Vec::new();
        for p in &group.placed {
            let Some(segment) = unsealed(&tx, p.id)? else {
                continue;
            };
            // Its bytes read again (milliseconds for a segment's worth): a chunk is sealed with
            // its own, whatever became of ids (a deleted chunk's is given to the next) since.
            let read = group
                .plain
                .get(p.offset..p.offset.saturating_add(p.raw_len));
            if reader
                .plain(&tx, p.id)
                .is_ok_and(|now| Some(now.as_slice()) == read)
            {
                still.push(p);
                left.extend(segment);
            }
        }
        if still.is_empty() {
            return Ok(0);
        }
        // A chunk deleted meanwhile leaves its bytes in the segment, unreadable, as retention
        // leaves those of a chunk deleted from a segment: gone with the segment's last chunk.
        tx.prepare_cached("INSERT INTO raw_segments (data, raw_len) VALUES (?1, ?2)")?
            .execute(params![packed, len_i64(group.plain.len())])?;
        let segment = tx.last_insert_rowid();
        let mut seal = tx.prepare_cached(
            "UPDATE raw_chunks SET data = X'', segment_id = ?2, segment_offset = ?3, sealed = 1 \
             WHERE id = ?1",
        )?;
        for p in &still {
            seal.execute(params![p.id, segment, len_i64(p.offset)])?;
        }
        drop(seal);
        delete_emptied_segments(&tx, &left)?;
        tx.commit()?;
        Ok(len_i64(still.len()).unsigned_abs())
    }
}

/// Chunk `id`'s segment (`Some(None)` before schema 19), if it is there and unsealed.
fn unsealed(conn: &Connection, id: i64) -> Result<Option<Option<i64>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT segment_id FROM raw_chunks WHERE id = ?1 AND sealed = 0")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// A segment's bytes, compressed at [`SEAL_LEVEL`] with [`SEAL_TABLES`] by `compressor` (made
/// if there is none; the caller decides whether to keep it for the next segment).
fn compress(
    compressor: &mut Option<zstd::bulk::Compressor<'static>>,
    plain: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let failed = |e: std::io::Error| StoreError::Corrupt(format!("cannot compress a segment: {e}"));
    let compressor = match compressor {
        Some(compressor) => compressor,
        none => {
            let mut made = zstd::bulk::Compressor::new(SEAL_LEVEL).map_err(failed)?;
            for parameter in SEAL_TABLES {
                made.set_parameter(parameter).map_err(failed)?;
            }
            none.insert(made)
        }
    };
    let mut packed = compressor.compress(plain).map_err(failed)?;
    // Allocated at the worst case's size, a little over the segment's own.
    packed.shrink_to_fit();
    Ok(packed)
}

/// Deletes the segments none of whose chunks is left, among `segments` (after chunks are
/// deleted or sealed into another segment).
pub(super) fn delete_emptied_segments(
    conn: &Connection,
    segments: &[i64],
) -> Result<(), StoreError> {
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
mod model;
#[cfg(test)]
mod tests;
