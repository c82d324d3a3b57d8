-- Schema 12: leases on units of work, so that processes sharing a store split the work and one
-- takes over what another stopped renewing.

CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
