-- Schema 9: the SharePoint and OneDrive file inventory (the files component). `body` is the item
-- with its collaborators as JSON; the columns are what the inventory filters on.
-- `external_domains` is `,a.com,b.org,` so that one domain is found with LIKE '%,a.com,%'.

CREATE TABLE files (
    tenant           TEXT NOT NULL,
    drive_id         TEXT NOT NULL,
    id               TEXT NOT NULL,
    parent_id        TEXT,
    name             TEXT NOT NULL,
    path             TEXT NOT NULL,
    folder           INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    modified_ns      INTEGER,
    owner            TEXT,
    access           TEXT NOT NULL,
    external_domains TEXT NOT NULL,
    body             TEXT NOT NULL,
    synced_ns        INTEGER NOT NULL,
    PRIMARY KEY (tenant, drive_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX files_access ON files (tenant, access);
CREATE INDEX files_owner ON files (owner COLLATE NOCASE);
