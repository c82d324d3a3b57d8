-- Settings made in the console (named IP ranges, data retention): one JSON document per key,
-- versioned so that two administrators' edits cannot silently overwrite each other.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- Each chunk's earliest and latest record time (0 for a record without a readable time), so
-- that retention can delete a chunk once every record it holds is past the cutoff.
ALTER TABLE raw_chunks ADD COLUMN min_ms INTEGER;
ALTER TABLE raw_chunks ADD COLUMN max_ms INTEGER;
UPDATE raw_chunks SET min_ms = t.lo, max_ms = t.hi
FROM (SELECT chunk_id, min(creation_ms) AS lo, max(creation_ms) AS hi FROM records GROUP BY chunk_id) AS t
WHERE raw_chunks.id = t.chunk_id;
