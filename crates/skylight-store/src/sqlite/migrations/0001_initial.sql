-- Schema 1: collected records and the collection bookkeeping.
--
-- Conventions (keep them in later migrations):
-- * Content types are stored as their code in `content_types` (the order of ContentType::ALL), so
--   that ORDER BY content_type follows the enum's order and rows stay small.
-- * `_ms` columns are UTC milliseconds since the epoch (record times: what the activity log
--   filters on); `_ns` columns are UTC nanoseconds since the epoch (bookkeeping times, which must
--   round-trip exactly: Microsoft's contentCreated has 100 ns ticks).
-- * `records.id` is the row key other tables refer to (e.g. the normalised activity model);
--   `(tenant_id, creation_ms, record_key)` is the de-duplication key.
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

-- Values that repeat across records (users, operations, workloads, client IPs), stored once:
-- records refer to them by id, which keeps rows and their indexes small.
CREATE TABLE strings (
    id    INTEGER PRIMARY KEY,
    value TEXT NOT NULL UNIQUE
) STRICT;

-- Raw records: one zstd frame per committed blob, holding for each record its length (u32, little
-- endian) then its bytes, exactly as received.
CREATE TABLE raw_chunks (
    id        INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    data      BLOB NOT NULL,
    raw_len   INTEGER NOT NULL,
    stored_ms INTEGER NOT NULL
) STRICT;

-- One row per stored record. `record_key` is the record's Id: 16 bytes when it is a GUID written
-- in lowercase (Microsoft's form), its text otherwise. `creation_ms` is 0 when the record has no
-- readable CreationTime; `hour` is creation_ms / 3,600,000. The columns referring to `strings`, `tenants` and `raw_chunks` carry no
-- REFERENCES clause on purpose: the store is their only writer, and checking six foreign keys
-- per record would cost more than the insert itself.
CREATE TABLE records (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL,
    creation_ms  INTEGER NOT NULL,
    hour         INTEGER NOT NULL,
    record_key   ANY NOT NULL,
    content_type INTEGER NOT NULL,
    record_type  INTEGER,
    workload     INTEGER,
    operation    INTEGER,
    user_id      INTEGER,
    client_ip    INTEGER,
    chunk_id     INTEGER NOT NULL,
    chunk_pos    INTEGER NOT NULL
) STRICT;

-- The de-duplication key. A record delivered twice carries the same Id and CreationTime, and
-- leading with the time keeps inserts near the end of the index (records arrive roughly in time
-- order), where a key led by a random GUID would touch a random page per record.
CREATE UNIQUE INDEX records_by_tenant_time_key ON records (tenant_id, creation_ms, record_key);
-- Users and client IPs are many (thousands of each per hour): an index led by them puts each
-- record of a commit on a different page, and every touched page is written again at commit.
-- Led by the hour, a commit's records (a blob spans an hour or a few) share a few pages. A query
-- for one user over a week asks for `hour IN (…168 hours…) AND user_id = ?`: 168 index seeks.
CREATE INDEX records_by_hour_user ON records (hour, user_id, creation_ms);
CREATE INDEX records_by_hour_ip ON records (hour, client_ip, creation_ms);
CREATE INDEX records_by_operation_time ON records (operation, creation_ms);
CREATE INDEX records_by_workload_time ON records (workload, creation_ms);
CREATE INDEX records_by_type_time ON records (record_type, creation_ms);

-- Stored records per tenant and content type, kept with each commit (status reads it often).
CREATE TABLE record_counts (
    tenant_id    INTEGER NOT NULL,
    content_type INTEGER NOT NULL REFERENCES content_types (code),
    records      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, content_type)
) STRICT, WITHOUT ROWID;

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
