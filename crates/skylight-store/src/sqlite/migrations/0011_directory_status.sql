-- Schema 11: how each tenant's last directory sync went (`body` is the status as JSON).

CREATE TABLE directory_status (
    tenant     TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
