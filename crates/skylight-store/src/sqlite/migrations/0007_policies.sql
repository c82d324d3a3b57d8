-- Schema 7: activity policies defined through the API (policy files stay files). `body` is the
-- policy as JSON; `policy_version` counts changes, so that detection notices them cheaply.

CREATE TABLE policies (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE policy_version (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO policy_version (one, version) VALUES (1, 0);
