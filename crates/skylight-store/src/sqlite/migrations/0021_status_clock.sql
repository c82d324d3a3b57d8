-- Schema 21: the service's clock beside each connector status.
--
-- A status's times (`updated_ns`, `watermark_ns`, `last_success_ns`) are the service's, as the
-- collector judges windows by Microsoft's `Date` headers. Whether a status is stale (no collector
-- writes it any more) or its uncollected content is about to expire is judged when it is read,
-- on the reader's clock: `clock_offset_ms` (the service's clock minus the collector's, when it
-- wrote the status) brings the two onto one clock. Statuses written before this version read as
-- 0 (the service's clock taken to be the reader's) until their collector writes them again.
ALTER TABLE statuses ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
