-- Schema 5: detection's alerts, its saved state and its progress through the stored records.

-- One row per incident. Detection rewrites the detection-owned columns as the incident grows
-- (matched by `key`); triage (status, resolution, comments) belongs to people and is never
-- rewritten by detection. JSON columns hold arrays of strings.
CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    key            TEXT NOT NULL UNIQUE,
    tenant         TEXT NOT NULL,
    policy         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    severity       TEXT NOT NULL,
    category       TEXT NOT NULL,
    signal_only    INTEGER NOT NULL,
    users          TEXT NOT NULL,
    ips            TEXT NOT NULL,
    countries      TEXT NOT NULL,
    activity_ids   TEXT NOT NULL,
    activity_count INTEGER NOT NULL,
    facts          TEXT NOT NULL,
    first_ms       INTEGER NOT NULL,
    last_ms        INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open',
    resolution     TEXT,
    created_ns     INTEGER NOT NULL,
    updated_ns     INTEGER NOT NULL
) STRICT;

CREATE INDEX alerts_by_last ON alerts (last_ms);
-- The alert feed asks for what changed since its last look.
CREATE INDEX alerts_by_updated ON alerts (updated_ns);

CREATE TABLE alert_comments (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at_ns    INTEGER NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
) STRICT;

CREATE INDEX alert_comments_by_alert ON alert_comments (alert_id);

-- Detection's state (windows, baselines, open incidents), one entry per key, written in the
-- same transaction as the alerts and the progress it led to.
CREATE TABLE detection_state (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- The last `records.id` detection has evaluated (one row).
CREATE TABLE detection_progress (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
