-- Schema 1: collected records and the collection bookkeeping.
--
-- Conventions (the SQLite backend's, so that both return the same values):
-- * Content types are stored as their code (1 Audit.AzureActiveDirectory … 5 DLP.All, the order
--   of ContentType::ALL), so that ORDER BY content_type follows the enum's order.
-- * `_ms` columns are UTC milliseconds since the epoch (record times: what the activity log
--   filters on); `_ns` columns are UTC nanoseconds since the epoch (bookkeeping times, which must
--   round-trip exactly: Microsoft's contentCreated has 100 ns ticks).
-- * app, category, actor_kind, outcome and flags use the stable codes of `crate::codes` (see the
--   SQLite migration 0002).
-- * Text the activity log compares is `COLLATE "C"`: `lower()` then folds ASCII only, as
--   SQLite's does, and ORDER BY sorts by bytes, as SQLite's BINARY does, whatever the database's
--   locale.
-- * Raw bytes are zstd frames; `raw_len` is the uncompressed length (checked on read).

CREATE TABLE tenants (
    id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- Raw records: one zstd frame per committed blob, holding for each record its length (u32, little
-- endian) then its bytes, exactly as received. `min_ms`/`max_ms` bound its records' times, so
-- that retention finds the chunks whose records it dropped without an index on records.chunk_id.
CREATE TABLE raw_chunks (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id integer NOT NULL REFERENCES tenants (id),
    data      bytea NOT NULL,
    raw_len   bigint NOT NULL,
    stored_ms bigint NOT NULL,
    min_ms    bigint NOT NULL,
    max_ms    bigint NOT NULL
);
-- The frame is already compressed: TOAST would spend CPU trying again for nothing.
ALTER TABLE raw_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
-- Retention deletes the chunks older than what it drops: one entry per blob, cheap to keep.
CREATE INDEX raw_chunks_by_max_time ON raw_chunks (max_ms);

-- The order records are stored in, which detection reads them by (`activities_since`).
-- CACHE 1 (the default, stated because it matters): with a cache, each session would take
-- numbers from a range of its own and numbers would no longer follow commit order.
CREATE SEQUENCE records_seq AS bigint CACHE 1;

-- One row per stored record, partitioned by week of `creation_ms` (partitions are created on
-- demand by the store, named records_YYYYMMDD after their Monday, and dropped whole by
-- retention). `creation_ms` is 0 when the record has no readable CreationTime: such records (and
-- any dated before the first Monday of 1970) go to `records_untimed`, which retention keeps.
-- `record_key` is the record's Id as received. `ip` is the client address when it reads as
-- one (for CIDR filters); `client_ip` keeps the text as received.
CREATE TABLE records (
    seq          bigint NOT NULL DEFAULT nextval('records_seq'),
    tenant_id    integer NOT NULL,
    creation_ms  bigint NOT NULL,
    record_key   text COLLATE "C" NOT NULL,
    content_type smallint NOT NULL CHECK (content_type BETWEEN 1 AND 5),
    record_type  bigint,
    workload     text COLLATE "C",
    operation    text COLLATE "C",
    user_id      text COLLATE "C",
    client_ip    text COLLATE "C",
    ip           inet,
    chunk_id     bigint NOT NULL,
    chunk_pos    integer NOT NULL,
    app          smallint,
    category     smallint,
    actor_kind   smallint,
    outcome      smallint,
    flags        smallint NOT NULL DEFAULT 0,
    user_agent   text COLLATE "C",
    country      text COLLATE "C",
    city         text COLLATE "C",
    asn          bigint,
    isp          text COLLATE "C",
    ip_tags      text COLLATE "C",
    device_type  text COLLATE "C",
    client_app   text COLLATE "C",
    os           text COLLATE "C"
) PARTITION BY RANGE (creation_ms);
-- No REFERENCES from records on purpose: the store is their only writer, and foreign keys on a
-- partitioned table cost a lookup per inserted record.

-- 345,600,000 ms is Monday 1970-01-05, where the weekly partitions begin.
CREATE TABLE records_untimed PARTITION OF records FOR VALUES FROM (MINVALUE) TO (345600000);

-- The de-duplication key (ON CONFLICT DO NOTHING). A record delivered twice carries the same Id
-- and CreationTime, so the time (the partition key, which a unique index must hold) is part of
-- it; leading with the tenant and time keeps inserts near the end of the index.
CREATE UNIQUE INDEX records_by_tenant_time_key ON records (tenant_id, creation_ms, record_key);
-- The activity log lists newest first (ORDER BY creation_ms DESC, seq DESC, with the cursor
-- `(creation_ms, seq) < (…)`): scanned backwards, this index gives the first page without a sort.
CREATE INDEX records_by_time ON records (creation_ms, seq);
-- Detection reads in stored order (`seq > $1 ORDER BY seq`), and `max(seq)` is its backlog.
CREATE INDEX records_by_seq ON records (seq);
-- Filters the analysts use most, each with the time so that a match comes out newest first
-- within a partition and a time range bounds the scan. Text filters compare `lower(column)`
-- (case-insensitive), so the indexes hold that expression.
CREATE INDEX records_by_user_time ON records (lower(user_id), creation_ms);
CREATE INDEX records_by_ip_time ON records (lower(client_ip), creation_ms);
CREATE INDEX records_by_operation_time ON records (lower(operation), creation_ms);
CREATE INDEX records_by_app_time ON records (app, creation_ms);

-- Stored records per tenant and content type, kept with each commit (status reads it often;
-- count(*) over the partitions would read every record).
CREATE TABLE record_counts (
    tenant_id    integer NOT NULL,
    content_type smallint NOT NULL,
    records      bigint NOT NULL,
    PRIMARY KEY (tenant_id, content_type)
);

-- Blobs whose records are stored (records = how many the blob held) or that became a gap
-- (records IS NULL). Pruned once older than the API's retention.
CREATE TABLE done_blobs (
    tenant       text COLLATE "C" NOT NULL,
    content_type smallint NOT NULL,
    content_id   text COLLATE "C" NOT NULL,
    created_ns   bigint NOT NULL,
    done_ns      bigint NOT NULL,
    records      bigint,
    PRIMARY KEY (tenant, content_type, content_id)
);
CREATE INDEX done_blobs_by_created ON done_blobs (created_ns);

CREATE TABLE watermarks (
    tenant       text COLLATE "C" NOT NULL,
    content_type smallint NOT NULL,
    ts_ns        bigint NOT NULL,
    PRIMARY KEY (tenant, content_type)
);

-- Listed content that could not be collected: kept for good (not pruned with done_blobs).
CREATE TABLE gaps (
    tenant       text COLLATE "C" NOT NULL,
    content_type smallint NOT NULL,
    content_id   text COLLATE "C" NOT NULL,
    created_ns   bigint NOT NULL,
    reason       text NOT NULL,
    detected_ns  bigint NOT NULL,
    PRIMARY KEY (tenant, content_type, content_id)
);

-- Records that could not be read, kept aside (raw compressed like the chunks).
CREATE TABLE quarantine (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant  text NOT NULL,
    source  text NOT NULL,
    reason  text NOT NULL,
    raw     bytea NOT NULL,
    raw_len bigint NOT NULL,
    at_ns   bigint NOT NULL
);
ALTER TABLE quarantine ALTER COLUMN raw SET STORAGE EXTERNAL;

-- One row per connector (tenant, content type); state is ConnectorState in snake_case.
CREATE TABLE statuses (
    tenant          text COLLATE "C" NOT NULL,
    content_type    smallint NOT NULL,
    state           text NOT NULL,
    last_success_ns bigint,
    watermark_ns    bigint,
    records         bigint NOT NULL,
    blobs           bigint NOT NULL,
    gaps            bigint NOT NULL,
    last_error      text,
    remediation     text,
    updated_ns      bigint NOT NULL,
    PRIMARY KEY (tenant, content_type)
);
