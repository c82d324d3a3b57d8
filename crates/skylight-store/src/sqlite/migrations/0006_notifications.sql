-- Schema 6: notifications. One row per (alert change, channel): what to send, where it stands,
-- and the attempts made. Channels are names from the configuration; the payload is the exact
-- bytes the channel sends (the alert's JSON, a syslog line), so the store knows nothing of HTTP
-- or syslog. A change is the alert's `updated_ns` when it was queued: an alert changed again is
-- a new change, delivered again; the same change is never queued twice for a channel.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    change_ns       INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_ns INTEGER,
    next_attempt_ns INTEGER,                           -- set while pending
    delivered_ns    INTEGER,
    created_ns      INTEGER NOT NULL,
    UNIQUE (alert_id, change_ns, channel)
) STRICT;

-- The notifier asks for pending deliveries that are due.
CREATE INDEX deliveries_due ON deliveries (next_attempt_ns) WHERE status = 'pending';

-- How far the notifier has read the alerts' changes (the newest `alerts.updated_ns` queued), by
-- name; written in the same transaction as the deliveries it queued.
CREATE TABLE notification_progress (
    name       TEXT PRIMARY KEY,
    updated_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
