-- Connectors made in the console. The credential is sealed (AES-256-GCM) with a key kept
-- outside the database; the certificate of a certificate credential is public.
CREATE TABLE connectors (
    name              TEXT COLLATE "C" PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    cloud             TEXT NOT NULL,
    credential_kind   TEXT NOT NULL,
    certificate_pem   TEXT,
    sealed_credential BYTEA NOT NULL,
    login_url         TEXT,
    manage_url        TEXT,
    graph_url         TEXT,
    activities        BOOLEAN NOT NULL,
    files             BOOLEAN NOT NULL,
    content_types     TEXT NOT NULL,
    phase             TEXT NOT NULL,
    last_test         TEXT,
    created_ns        BIGINT NOT NULL,
    updated_ns        BIGINT NOT NULL,
    updated_by        TEXT NOT NULL
);
