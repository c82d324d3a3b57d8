-- Schema 4: indexes the activity log needs.
--
-- It lists newest first across tenants; without an index led by the time it would sort every
-- matching row to show the first page. Inserts land at its end (records arrive roughly in time
-- order), so it costs little at ingest.

CREATE INDEX records_by_time ON records (creation_ms);

-- Text filters (users, operations, countries…) match without regard to case: they look up
-- `lower(value)`, which without this index is a walk over every distinct value (millions of
-- client addresses and user agents on a large tenant).
CREATE INDEX strings_by_lower ON strings (lower(value));
