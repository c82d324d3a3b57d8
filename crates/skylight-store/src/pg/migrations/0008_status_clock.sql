-- The service's clock beside each connector status (SQLite's schema 21, `0021_status_clock.sql`):
-- the service's clock minus the collector's when it wrote the status, so that whoever reads it
-- can judge the status's times on its own clock.
ALTER TABLE statuses ADD COLUMN clock_offset_ms bigint NOT NULL DEFAULT 0;
