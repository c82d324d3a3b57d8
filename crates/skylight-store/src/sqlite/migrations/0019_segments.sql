-- Schema 19: closed raw chunks sealed into segments.
--
-- A chunk holds one blob's records (about 150 on a 10,000-user tenant), compressed fast (zstd
-- level 1) while the blob is committed: 248 B per record of 1,310 B of JSON on a 10,000-user
-- week, more than half of what the store holds. Once a chunk is a quarter of an hour old
-- (detection has read it, the log rarely shows it), `segments.rs` recompresses it together with
-- the next chunks of the same tenant, content type and day into a segment of about 4 MiB of records
-- at level 11: about 190 B per record (measured on a sample of that week's chunks).
--
-- From this version, a chunk's data is a segment of its own from the start (`raw_chunks.data` is
-- empty): sealing moves the chunk into a larger segment and deletes the small one, so that the
-- pages it held are freed whole. (Data kept in the chunk's row would leave its row's pages mostly
-- empty once moved out: 18 B per record measured.) A chunk keeps its row, since records point
-- at `(chunk_id, chunk_pos)` and retention deletes chunks by their times: its records are
-- `raw_len` bytes at `segment_offset` in its segment, framed as in a chunk. A segment goes once
-- none of its chunks is left. Chunks stored before this version keep their data until sealed.
--
-- `content_type` is what groups chunks into segments (records of one content type compress
-- better together); chunks stored before this version have none and are grouped by tenant only.
-- A process of the previous version still running after the upgrade cannot read the records of
-- chunks stored or sealed by this one (it fails with a damaged-chunk error, losing nothing) until
-- restarted.

CREATE TABLE raw_segments (
    id      INTEGER PRIMARY KEY,
    data    BLOB NOT NULL,
    raw_len INTEGER NOT NULL
) STRICT;

ALTER TABLE raw_chunks ADD COLUMN content_type INTEGER;
ALTER TABLE raw_chunks ADD COLUMN segment_id INTEGER;
ALTER TABLE raw_chunks ADD COLUMN segment_offset INTEGER;
ALTER TABLE raw_chunks ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- The chunks still to seal, in the order they are grouped (the day of their latest record, -1
-- for chunks retention keeps), with what choosing them needs: in a chunk stored before this
-- version, the columns after `data` are read from the end of its overflow pages, and without the
-- day in the index a backlog of old chunks (one group: they have no content type) was sorted
-- whole to find each segment (0.5 s for a year of a 10,000-user tenant). `segments.rs` writes
-- the day's expression exactly as here, so that SQLite uses the index for it.
CREATE INDEX raw_chunks_unsealed ON raw_chunks (
    tenant_id, content_type, (CASE WHEN min_ms > 0 THEN max_ms / 86400000 ELSE -1 END), id,
    stored_ms, raw_len, min_ms, max_ms
) WHERE sealed = 0;
CREATE INDEX raw_chunks_by_segment ON raw_chunks (segment_id) WHERE segment_id IS NOT NULL;
