-- Schema 18: the operation index becomes a lookup too.
--
-- `records_by_operation_time` was the last index besides the time-led key that every commit
-- inserted into, at places spread over the few hundred operations: dropping it alone made a
-- 10,000-user week (`bench ingest --prebuilt-blobs`) 14–21 % faster, with 0.6 KB less written
-- per record. Its replacement holds the same records as the user and address lookups (those up
-- to `lookup_progress.upto`), and is filled in the same batches.
--
-- Led by the operation, not the hour: there are a few hundred operations, so a batch still
-- writes each page once, and one operation over any time range is one range seek (a rare one
-- over a year, or with no time range at all, as with the old index).
--
-- `lookup_progress` is renamed `looked_up`: a process still running the previous version (a
-- collector not yet restarted after an upgrade) would otherwise move `upto` over records whose
-- operations it does not know of, and leave its retention's operations behind. Its catch-ups,
-- retention and lookup queries now fail (logged; retention is retried) until it is restarted;
-- its commits go on. (Triggers kept the table right for it, but peak RSS of `bench ingest`
-- rose from 192–199 to 211–218 MB, 310–314 with detection — likely SQLite's statement journal,
-- in memory, for the trigger's statement; not confirmed.)
--
-- Filled from the table on an existing store: a minute or so per ten million records, once.

CREATE TABLE record_operations (
    operation INTEGER NOT NULL,
    hour      INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    PRIMARY KEY (operation, hour, id)
) STRICT, WITHOUT ROWID;

INSERT INTO record_operations (operation, hour, id)
    SELECT operation, hour, id FROM records
    WHERE operation IS NOT NULL AND id <= (SELECT upto FROM lookup_progress)
    ORDER BY 1, 2, 3;

ALTER TABLE lookup_progress RENAME TO looked_up;

DROP INDEX records_by_operation_time;
