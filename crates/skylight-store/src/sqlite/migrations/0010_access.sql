-- Schema 10: who may use Skylight. Console accounts (argon2 password hashes), browser sessions
-- and API tokens (SHA-256 of the secret the holder keeps: the database never holds a usable
-- credential), the audit log of Skylight's own actions, and saved activity-log queries.
-- Sessions live here, not in a process, so that any number of API/console processes can serve.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('read-only', 'analyst', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_ns    INTEGER NOT NULL,
    updated_ns    INTEGER NOT NULL,
    last_login_ns INTEGER
) STRICT;

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    expires_ns   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_ns);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('read-only', 'analyst', 'admin')),
    created_by   TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    last_used_ns INTEGER,
    revoked_ns   INTEGER
) STRICT;

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at_ns  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    ip     TEXT
) STRICT;

CREATE TABLE saved_queries (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    UNIQUE (account_id, name)
) STRICT;
