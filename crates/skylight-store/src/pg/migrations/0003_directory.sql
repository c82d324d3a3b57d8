-- 0003_directory: the directory and app inventory imported from Microsoft Graph, the delta links
-- that resume its sync (committed with the data they lead to), the governance log, the files
-- inventory and each tenant's last directory sync (SQLite schemas 8, 9 and 11).
--
-- Text that is sorted or compared is `COLLATE "C"` so that orders are bytewise, as SQLite's; what
-- SQLite compares `COLLATE NOCASE` (ASCII letters only) goes through `ascii_nocase`, whatever the
-- database's locale.

-- SQLite's NOCASE: folds A-Z only, so that matches and orders agree with the SQLite backend.
CREATE FUNCTION ascii_nocase(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

CREATE TABLE directory_users (
    tenant             text COLLATE "C" NOT NULL,
    id                 text COLLATE "C" NOT NULL,
    upn                text COLLATE "C" NOT NULL,
    display_name       text COLLATE "C" NOT NULL,
    mail               text COLLATE "C",
    account_enabled    boolean,
    user_type          text COLLATE "C" NOT NULL,
    on_premises_synced boolean NOT NULL,
    created_ns         bigint,
    risk_level         text COLLATE "C",
    risk_state         text COLLATE "C",
    synced_ns          bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX directory_users_upn ON directory_users (ascii_nocase(upn));

CREATE TABLE directory_groups (
    tenant             text COLLATE "C" NOT NULL,
    id                 text COLLATE "C" NOT NULL,
    display_name       text COLLATE "C" NOT NULL,
    mail               text COLLATE "C",
    kind               text COLLATE "C" NOT NULL,
    on_premises_synced boolean NOT NULL,
    synced_ns          bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- Direct members only; transitive membership is computed when asked for.
CREATE TABLE group_members (
    tenant    text COLLATE "C" NOT NULL,
    group_id  text COLLATE "C" NOT NULL,
    member_id text COLLATE "C" NOT NULL,
    kind      text COLLATE "C" NOT NULL,
    name      text COLLATE "C",
    PRIMARY KEY (tenant, group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (tenant, member_id);

CREATE TABLE directory_roles (
    tenant       text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    display_name text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE role_members (
    tenant    text COLLATE "C" NOT NULL,
    role_id   text COLLATE "C" NOT NULL,
    member_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, role_id, member_id)
);
CREATE INDEX role_members_member ON role_members (tenant, member_id);

-- `body` is the app with its grants as JSON (text: read back exactly as written); the review and
-- consent times survive re-syncs. `publisher` and `first_party` are copied out of it for filters.
CREATE TABLE oauth_apps (
    tenant      text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    app_id      text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    publisher   text COLLATE "C",
    first_party boolean NOT NULL,
    level       text COLLATE "C" NOT NULL,
    body        text NOT NULL,
    review      text COLLATE "C" NOT NULL DEFAULT 'unreviewed',
    first_ns    bigint,
    last_ns     bigint,
    synced_ns   bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE directory_cursors (
    tenant     text COLLATE "C" NOT NULL,
    resource   text COLLATE "C" NOT NULL,
    link       text,
    updated_ns bigint NOT NULL,
    PRIMARY KEY (tenant, resource)
);

CREATE TABLE governance_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text COLLATE "C" NOT NULL,
    action       text COLLATE "C" NOT NULL,
    target_kind  text COLLATE "C" NOT NULL,
    target_id    text COLLATE "C" NOT NULL,
    target_name  text COLLATE "C" NOT NULL,
    requested_by text NOT NULL,
    alert_id     bigint,
    params       text NOT NULL,
    status       text COLLATE "C" NOT NULL,
    attempts     bigint NOT NULL DEFAULT 0,
    steps        text NOT NULL DEFAULT '[]',
    warnings     text NOT NULL DEFAULT '[]',
    error        text,
    created_ns   bigint NOT NULL,
    updated_ns   bigint NOT NULL
);
-- While an action is pending or in progress no other one of the same kind may hold its target,
-- whichever process inserts it: the index refuses the second (SQLite's `running_key`).
CREATE UNIQUE INDEX governance_log_running ON governance_log (tenant, action, target_id)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX governance_log_target ON governance_log (tenant, target_id);
CREATE INDEX governance_log_alert ON governance_log (alert_id) WHERE alert_id IS NOT NULL;

-- The SharePoint and OneDrive file inventory. `body` is the item with its collaborators as JSON;
-- the columns are what the inventory filters on. `external_domains` is `,a.com,b.org,` so that
-- one domain is found with LIKE '%,a.com,%'.
CREATE TABLE files (
    tenant           text COLLATE "C" NOT NULL,
    drive_id         text COLLATE "C" NOT NULL,
    id               text COLLATE "C" NOT NULL,
    parent_id        text COLLATE "C",
    name             text COLLATE "C" NOT NULL,
    path             text COLLATE "C" NOT NULL,
    folder           boolean NOT NULL,
    size             bigint NOT NULL,
    modified_ns      bigint,
    owner            text COLLATE "C",
    access           text COLLATE "C" NOT NULL,
    external_domains text COLLATE "C" NOT NULL,
    body             text NOT NULL,
    synced_ns        bigint NOT NULL,
    PRIMARY KEY (tenant, drive_id, id)
);
CREATE INDEX files_access ON files (tenant, access);
CREATE INDEX files_owner ON files (ascii_nocase(owner));

-- How each tenant's last directory sync went (`body` is the status as JSON).
CREATE TABLE directory_status (
    tenant     text COLLATE "C" PRIMARY KEY,
    body       text NOT NULL,
    updated_ns bigint NOT NULL
);
