-- Schema 8: the directory and app inventory imported from Microsoft Graph, the delta links that
-- resume its sync (committed with the data they lead to), and the governance log.

CREATE TABLE directory_users (
    tenant             TEXT NOT NULL,
    id                 TEXT NOT NULL,
    upn                TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    mail               TEXT,
    account_enabled    INTEGER,
    user_type          TEXT NOT NULL,
    on_premises_synced INTEGER NOT NULL,
    created_ns         INTEGER,
    risk_level         TEXT,
    risk_state         TEXT,
    synced_ns          INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX directory_users_upn ON directory_users (upn COLLATE NOCASE);

CREATE TABLE directory_groups (
    tenant             TEXT NOT NULL,
    id                 TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    mail               TEXT,
    kind               TEXT NOT NULL,
    on_premises_synced INTEGER NOT NULL,
    synced_ns          INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

-- Direct members only; transitive membership is computed when asked for.
CREATE TABLE group_members (
    tenant    TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    name      TEXT,
    PRIMARY KEY (tenant, group_id, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant, member_id);

CREATE TABLE directory_roles (
    tenant       TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE role_members (
    tenant    TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (tenant, role_id, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX role_members_member ON role_members (tenant, member_id);

-- `body` is the app with its grants as JSON; the review and consent times survive re-syncs.
CREATE TABLE oauth_apps (
    tenant        TEXT NOT NULL,
    id            TEXT NOT NULL,
    app_id        TEXT NOT NULL,
    name          TEXT NOT NULL,
    level         TEXT NOT NULL,
    body          TEXT NOT NULL,
    review        TEXT NOT NULL DEFAULT 'unreviewed',
    first_ns      INTEGER,
    last_ns       INTEGER,
    synced_ns     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE directory_cursors (
    tenant     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    link       TEXT,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (tenant, resource)
) STRICT, WITHOUT ROWID;

-- `running_key` is set while an action is pending or in progress and cleared when it ends, so
-- that the same action on the same target is never carried out twice at once.
CREATE TABLE governance_log (
    id           INTEGER PRIMARY KEY,
    tenant       TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    target_name  TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    alert_id     INTEGER,
    params       TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    steps        TEXT NOT NULL DEFAULT '[]',
    warnings     TEXT NOT NULL DEFAULT '[]',
    error        TEXT,
    running_key  TEXT UNIQUE,
    created_ns   INTEGER NOT NULL,
    updated_ns   INTEGER NOT NULL
) STRICT;
CREATE INDEX governance_log_target ON governance_log (tenant, target_id);
CREATE INDEX governance_log_alert ON governance_log (alert_id) WHERE alert_id IS NOT NULL;
