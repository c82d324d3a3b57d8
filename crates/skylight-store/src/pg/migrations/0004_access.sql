-- 0004_access: who may use Skylight (SQLite schema 10). Console accounts (argon2 password
-- hashes), browser sessions and API tokens (SHA-256 of the secret the holder keeps: the database
-- never holds a usable credential), the audit log of Skylight's own actions, and saved
-- activity-log queries. Sessions live here, not in a process, so that any number of API/console
-- processes can serve.

CREATE TABLE accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text COLLATE "C" NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('read-only', 'analyst', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    created_ns    bigint NOT NULL,
    updated_ns    bigint NOT NULL,
    last_login_ns bigint
);
-- Names are unique whatever the case of their ASCII letters, as SQLite's `COLLATE NOCASE UNIQUE`.
CREATE UNIQUE INDEX accounts_username ON accounts (ascii_nocase(username));

CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf         text NOT NULL,
    created_ns   bigint NOT NULL,
    last_seen_ns bigint NOT NULL,
    expires_ns   bigint NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_ns);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('read-only', 'analyst', 'admin')),
    created_by   text NOT NULL,
    created_ns   bigint NOT NULL,
    last_used_ns bigint,
    revoked_ns   bigint
);

CREATE TABLE audit_log (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ns  bigint NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    target text,
    detail text,
    ip     text
);

CREATE TABLE saved_queries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    query      text NOT NULL,
    created_ns bigint NOT NULL,
    UNIQUE (account_id, name)
);
