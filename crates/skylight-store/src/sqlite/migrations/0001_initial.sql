-- Schema 1: collected records and the collection bookkeeping.
--
-- Conventions (keep them in later migrations):
-- * Content types are stored as their code in `content_types` (the order of ContentType::ALL), so
--   that ORDER BY content_type follows the enum's order and rows stay small.
-- * `_ms` columns are UTC milliseconds since the epoch (record times: what the activity log
--   filters on); `_ns` columns are UTC nanoseconds since the epoch (bookkeeping times, which must
--   round-trip exactly: Microsoft's contentCreated has 100 ns ticks).
-- * `records.id` is the row key other tables refer to (e.g. the normalised activity model);
--   `(tenant_id, record_id)` is the de-duplication key.
-- * Raw bytes are zstd frames; `raw_len` is the uncompressed length (checked on read).

CREATE TABLE content_types (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;

INSERT INTO content_types (code, name) VALUES
    (1, 'Audit.AzureActiveDirectory'),
    (2, 'Audit.Exchange'),
    (3, 'Audit.SharePoint'),
    (4, 'Audit.General'),
    (5, 'DLP.All');

CREATE TABLE tenants (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE records (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    record_id    TEXT NOT NULL,
    content_type INTEGER NOT NULL REFERENCES content_types (code),
    creation_ms  INTEGER,
    record_type  INTEGER,
    workload     TEXT,
    operation    TEXT,
    user_id      TEXT,
    client_ip    TEXT,
    raw          BLOB NOT NULL,
    raw_len      INTEGER NOT NULL,
    ingested_ms  INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX records_by_tenant_record ON records (tenant_id, record_id);
CREATE INDEX records_by_time ON records (creation_ms);
CREATE INDEX records_by_user_time ON records (user_id, creation_ms);
CREATE INDEX records_by_operation_time ON records (operation, creation_ms);
CREATE INDEX records_by_record_type ON records (record_type);

-- Blobs whose records are stored (records = how many the blob held) or that became a gap
-- (records IS NULL). Pruned once older than the API's retention.
CREATE TABLE done_blobs (
    tenant       TEXT NOT NULL,
    content_type INTEGER NOT NULL REFERENCES content_types (code),
    content_id   TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    done_ns      INTEGER NOT NULL,
    records      INTEGER,
    PRIMARY KEY (tenant, content_type, content_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX done_blobs_by_created ON done_blobs (created_ns);

CREATE TABLE watermarks (
    tenant       TEXT NOT NULL,
    content_type INTEGER NOT NULL REFERENCES content_types (code),
    ts_ns        INTEGER NOT NULL,
    PRIMARY KEY (tenant, content_type)
) STRICT, WITHOUT ROWID;

-- Listed content that could not be collected: kept for good (not pruned with done_blobs).
CREATE TABLE gaps (
    tenant       TEXT NOT NULL,
    content_type INTEGER NOT NULL REFERENCES content_types (code),
    content_id   TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    detected_ns  INTEGER NOT NULL,
    PRIMARY KEY (tenant, content_type, content_id)
) STRICT, WITHOUT ROWID;

-- Records that could not be read, kept aside (raw compressed like records.raw).
CREATE TABLE quarantine (
    id       INTEGER PRIMARY KEY,
    tenant   TEXT NOT NULL,
    source   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    raw      BLOB NOT NULL,
    raw_len  INTEGER NOT NULL,
    at_ns    INTEGER NOT NULL
) STRICT;

-- One row per connector (tenant, content type); state is ConnectorState in snake_case.
CREATE TABLE statuses (
    tenant          TEXT NOT NULL,
    content_type    INTEGER NOT NULL REFERENCES content_types (code),
    state           TEXT NOT NULL,
    last_success_ns INTEGER,
    watermark_ns    INTEGER,
    records         INTEGER NOT NULL,
    blobs           INTEGER NOT NULL,
    gaps            INTEGER NOT NULL,
    last_error      TEXT,
    remediation     TEXT,
    updated_ns      INTEGER NOT NULL,
    PRIMARY KEY (tenant, content_type)
) STRICT, WITHOUT ROWID;
