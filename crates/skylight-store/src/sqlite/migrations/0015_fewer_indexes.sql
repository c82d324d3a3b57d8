-- Schema 15: two indexes fewer.
--
-- Every index is a B-tree insert per record inside the single writer's transaction, and bytes on
-- disk: these two cost 19 B per record each (dbstat on a 2,000-user week) and about a quarter
-- of the commit's index work. The activity log filters by app (a column of its own, found
-- through the time index like any other filter); a filter on the Workload or RecordType alone
-- walks the time index newest first too, which finds a page of common values at once and rare
-- ones in a scan of the period asked for. PostgreSQL never had them.

DROP INDEX IF EXISTS records_by_workload_time;
DROP INDEX IF EXISTS records_by_type_time;
