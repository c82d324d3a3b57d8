-- Schema 18: the operation index becomes a lookup too.
--
-- `records_by_operation_time` was the last index besides the time-led key that every commit
-- inserted into, at places spread over the few hundred operations: dropping it alone made a
-- 10,000-user week (`bench ingest --prebuilt-blobs`) 14–21 % faster, with 0.6 KB less written
-- and 20 B less on disk per record. Its replacement is filled with the user and address
-- lookups, in the same batches (`sqlite/lookups.rs`), and holds the same records: those up to
-- `lookup_progress.upto`.
--
-- Filled from the table on an existing store: a minute or so per ten million records, once.

CREATE TABLE record_operations (
    hour      INTEGER NOT NULL,
    operation INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    PRIMARY KEY (hour, operation, id)
) STRICT, WITHOUT ROWID;

INSERT INTO record_operations (hour, operation, id)
    SELECT hour, operation, id FROM records
    WHERE operation IS NOT NULL AND id <= (SELECT upto FROM lookup_progress)
    ORDER BY 1, 2, 3;

DROP INDEX records_by_operation_time;
