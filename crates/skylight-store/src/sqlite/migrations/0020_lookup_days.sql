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
-- A process of the previous version does not know the lists: the schema number keeps it from
-- opening the store.

CREATE TABLE lookup_days (
    col        INTEGER NOT NULL, -- 0 user, 1 address, 2 operation
    value      INTEGER NOT NULL,
    start_hour INTEGER NOT NULL, -- the first hour of the list: a day's, or an operation's hour
    entries    BLOB NOT NULL,
    PRIMARY KEY (col, value, start_hour)
) STRICT, WITHOUT ROWID;

-- The days with entries in the tables, and when an entry was last added to each.
CREATE TABLE lookup_days_pending (
    day        INTEGER PRIMARY KEY,
    touched_ms INTEGER NOT NULL
) STRICT;

INSERT INTO lookup_days_pending (day, touched_ms)
    SELECT DISTINCT hour / 24, 0 FROM records WHERE hour >= 24 AND id <= (SELECT upto FROM looked_up)
    ORDER BY 1;
