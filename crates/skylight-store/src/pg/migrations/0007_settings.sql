-- Settings made in the console (named IP ranges, data retention): one JSON document per key,
-- versioned so that two administrators' edits cannot silently overwrite each other.
CREATE TABLE settings (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_ns BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
