-- Schema 20: the lookups of closed days packed into lists.
--
-- The user, address and operation lookups hold an entry per record and lookup, a row of a
-- `WITHOUT ROWID` table (hour, value, row id): 54 B per record for the three on a 10,000-user
-- week, a sixth of the store once its raw chunks are sealed. A day after a day ends, and once
-- nothing has been added to it for a quarter of an hour, `lookup_days.rs` moves its entries into
-- one list per user and day, address and day, or operation and hour: the row ids of the entries,
-- grouped by hour and delta-encoded. Queries read the lists and the tables both; every record up
-- to `looked_up.upto` has its entries in exactly one of them.
--
-- Retention does not rewrite the lists of the records it deletes (a batch of records touches
-- thousands of lists: eight times the writes): it raises `looked_up.floor_ms` to its cutoff,
-- queries read no list's hour before the floor's, and the lists below it are deleted (or cut) at
-- the end. So a list may still name deleted records in the floor's hour; a query finds their rows
-- gone, and counts that hour through the rows.
--
-- A process of the previous version does not know the lists: the schema number keeps it from
-- opening the store.

CREATE TABLE lookup_days (
    col        INTEGER NOT NULL, -- 0 user, 1 address, 2 operation
    value      INTEGER NOT NULL,
    start_hour INTEGER NOT NULL, -- the first hour of the list: a day's, or an operation's hour
    entries    BLOB NOT NULL,
    PRIMARY KEY (col, value, start_hour)
) STRICT, WITHOUT ROWID;

-- The lists of some days: a block of addresses (a range of values) for a week, and retention.
CREATE INDEX lookup_days_by_start ON lookup_days (col, start_hour, value);

-- The days with entries in the tables, and when an entry was last added to each.
CREATE TABLE lookup_days_pending (
    day        INTEGER PRIMARY KEY,
    touched_ms INTEGER NOT NULL
) STRICT;

ALTER TABLE looked_up ADD COLUMN floor_ms INTEGER NOT NULL DEFAULT 0;

-- The days holding records, from the second day of 1970 (hour 0 holds the records without a
-- time): a seek per day on the time-led key, not a read of every record.
WITH RECURSIVE days (day) AS (
    SELECT (SELECT min(creation_ms) FROM records WHERE creation_ms >= 86400000) / 86400000
    UNION ALL
    SELECT (SELECT min(creation_ms) FROM records WHERE creation_ms >= (day + 1) * 86400000)
        / 86400000
    FROM days WHERE day IS NOT NULL
)
INSERT INTO lookup_days_pending (day, touched_ms) SELECT day, 0 FROM days WHERE day IS NOT NULL;
