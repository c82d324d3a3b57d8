//! What is copied, table by table, and the copy itself: rows streamed out of SQLite, converted
//! column by column, and written to PostgreSQL with binary COPY, one transaction per batch.

use std::net::IpAddr;

use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use skylight_model::OAuthApp;

use crate::sqlite::address::address_text;
use crate::sqlite::segments::ChunkReader;
use crate::{PostgresStore, StoreError};

/// How a SQLite column becomes a PostgreSQL one.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// `bigint`.
    I64,
    /// `integer`.
    I32,
    /// `smallint` (content types and the activity codes).
    I16,
    /// `boolean`, from SQLite's 0/1.
    Bool,
    /// `text`.
    Text,
    /// `bytea`.
    Bytes,
    /// `text[]`, from a JSON array of strings (the alerts' lists).
    JsonList,
    /// `text`, from a record key (16 bytes for a lowercase GUID, text otherwise).
    Key,
    /// `inet`, from a client address's text (NULL unless it reads as an address, as `commit`).
    Inet,
    /// `text`: the publisher of the app whose JSON body this is.
    Publisher,
    /// `boolean`: whether the app whose JSON body this is is Microsoft's own.
    FirstParty,
    /// `bytea`: a raw chunk's data (the select's first column is the chunk's id), compressed
    /// alone as PostgreSQL keeps chunks: out of its segment if it is sealed.
    Chunk,
}

impl Kind {
    /// The PostgreSQL type binary COPY writes.
    fn pg_type(self) -> Type {
        match self {
            Kind::I64 => Type::INT8,
            Kind::I32 => Type::INT4,
            Kind::I16 => Type::INT2,
            Kind::Bool | Kind::FirstParty => Type::BOOL,
            Kind::Text | Kind::Key | Kind::Publisher => Type::TEXT,
            Kind::Bytes | Kind::Chunk => Type::BYTEA,
            Kind::JsonList => Type::TEXT_ARRAY,
            Kind::Inet => Type::INET,
        }
    }
}

/// A table to copy: SQLite's rows become PostgreSQL's `columns`, in order.
#[derive(Debug)]
pub(super) struct Table {
    /// The PostgreSQL table (SQLite's of the same name, unless `select` says otherwise).
    pub name: &'static str,
    /// The SQLite query giving `columns`, when not `SELECT <columns> FROM <name>`.
    pub select: Option<&'static str>,
    /// PostgreSQL's columns and how each is converted.
    pub columns: &'static [(&'static str, Kind)],
    /// Rows per batch (one transaction each).
    pub batch: usize,
    /// The column holding `records.creation_ms`, whose week partitions must exist first.
    pub partition_by: Option<usize>,
}

use Kind::*;

/// Rows per batch for ordinary tables.
const BATCH: usize = 2_000;

/// A plain table: same name and columns on both sides.
const fn plain(name: &'static str, columns: &'static [(&'static str, Kind)]) -> Table {
    Table {
        name,
        select: None,
        columns,
        batch: BATCH,
        partition_by: None,
    }
}

/// Records, in SQLite's order, with their interned strings resolved. `seq` keeps SQLite's
/// `records.id`, so detection's progress, activity-log cursors and the order detection reads in
/// all keep their meaning.
const RECORDS_SELECT: &str = concat!(
    "SELECT r.id, r.tenant_id, r.creation_ms, r.record_key, r.content_type, \
     r.record_type, w.value, o.value, u.value, ",
    address_text!("r.client_ip", "i.value"),
    ", ",
    address_text!("r.client_ip", "i.value"),
    ", r.chunk_id, r.chunk_pos, r.app, \
     r.category, r.actor_kind, r.outcome, r.flags, ua.value, co.value, ci.value, r.asn, isp.value, \
     tg.value, dt.value, ca.value, os.value FROM records r \
     LEFT JOIN strings w ON w.id = r.workload LEFT JOIN strings o ON o.id = r.operation \
     LEFT JOIN strings u ON u.id = r.user_id LEFT JOIN strings i ON i.id = r.client_ip \
     LEFT JOIN strings ua ON ua.id = r.user_agent LEFT JOIN strings co ON co.id = r.country \
     LEFT JOIN strings ci ON ci.id = r.city LEFT JOIN strings isp ON isp.id = r.isp \
     LEFT JOIN strings tg ON tg.id = r.ip_tags LEFT JOIN strings dt ON dt.id = r.device_type \
     LEFT JOIN strings ca ON ca.id = r.client_app LEFT JOIN strings os ON os.id = r.os \
     ORDER BY r.id"
);

/// Raw chunks with the time bounds of their records (what PostgreSQL's retention reads), in
/// their segments' order, so that each sealed segment is decompressed once. Their data is read
/// apart (`Kind::Chunk`): in the select, it would go through the sort.
const CHUNKS_SELECT: &str = "SELECT c.id, c.tenant_id, NULL, c.raw_len, c.stored_ms, \
     coalesce(m.lo, 0), coalesce(m.hi, 0) FROM raw_chunks c LEFT JOIN \
     (SELECT chunk_id, min(creation_ms) AS lo, max(creation_ms) AS hi FROM records GROUP BY chunk_id) m \
     ON m.chunk_id = c.id ORDER BY c.segment_id, c.segment_offset, c.id";

/// Apps: `publisher` and `first_party` are copied out of the body, as PostgreSQL's sync does.
const APPS_SELECT: &str = "SELECT tenant, id, app_id, name, body, body, level, body, review, \
     first_ns, last_ns, synced_ns FROM oauth_apps";

/// Every table copied, in order (referenced rows before the rows referring to them). Leases,
/// SQLite's `strings` (resolved into the records) and its lookups (PostgreSQL
/// indexes its records itself) are not copied; `policy_version` is set apart.
pub(super) const TABLES: &[Table] = &[
    plain("tenants", &[("id", I32), ("name", Text)]),
    Table {
        name: "raw_chunks",
        select: Some(CHUNKS_SELECT),
        columns: &[
            ("id", I64),
            ("tenant_id", I32),
            ("data", Chunk),
            ("raw_len", I64),
            ("stored_ms", I64),
            ("min_ms", I64),
            ("max_ms", I64),
        ],
        // Chunks are up to a few MB each: a small batch bounds memory.
        batch: 16,
        partition_by: None,
    },
    Table {
        name: "records",
        select: Some(RECORDS_SELECT),
        columns: &[
            ("seq", I64),
            ("tenant_id", I32),
            ("creation_ms", I64),
            ("record_key", Key),
            ("content_type", I16),
            ("record_type", I64),
            ("workload", Text),
            ("operation", Text),
            ("user_id", Text),
            ("client_ip", Text),
            ("ip", Inet),
            ("chunk_id", I64),
            ("chunk_pos", I32),
            ("app", I16),
            ("category", I16),
            ("actor_kind", I16),
            ("outcome", I16),
            ("flags", I16),
            ("user_agent", Text),
            ("country", Text),
            ("city", Text),
            ("asn", I64),
            ("isp", Text),
            ("ip_tags", Text),
            ("device_type", Text),
            ("client_app", Text),
            ("os", Text),
        ],
        batch: 5_000,
        partition_by: Some(2),
    },
    plain(
        "record_counts",
        &[("tenant_id", I32), ("content_type", I16), ("records", I64)],
    ),
    plain(
        "done_blobs",
        &[
            ("tenant", Text),
            ("content_type", I16),
            ("content_id", Text),
            ("created_ns", I64),
            ("done_ns", I64),
            ("records", I64),
        ],
    ),
    plain(
        "watermarks",
        &[("tenant", Text), ("content_type", I16), ("ts_ns", I64)],
    ),
    plain(
        "gaps",
        &[
            ("tenant", Text),
            ("content_type", I16),
            ("content_id", Text),
            ("created_ns", I64),
            ("reason", Text),
            ("detected_ns", I64),
        ],
    ),
    plain(
        "quarantine",
        &[
            ("id", I64),
            ("tenant", Text),
            ("source", Text),
            ("reason", Text),
            ("raw", Bytes),
            ("raw_len", I64),
            ("at_ns", I64),
        ],
    ),
    plain(
        "statuses",
        &[
            ("tenant", Text),
            ("content_type", I16),
            ("state", Text),
            ("last_success_ns", I64),
            ("watermark_ns", I64),
            ("records", I64),
            ("blobs", I64),
            ("gaps", I64),
            ("last_error", Text),
            ("remediation", Text),
            ("updated_ns", I64),
            ("clock_offset_ms", I64),
        ],
    ),
    plain(
        "alerts",
        &[
            ("id", I64),
            ("key", Text),
            ("tenant", Text),
            ("policy", Text),
            ("kind", Text),
            ("title", Text),
            ("severity", Text),
            ("category", Text),
            ("signal_only", Bool),
            ("users", JsonList),
            ("ips", JsonList),
            ("countries", JsonList),
            ("activity_ids", JsonList),
            ("activity_count", I64),
            ("facts", JsonList),
            ("first_ms", I64),
            ("last_ms", I64),
            ("status", Text),
            ("resolution", Text),
            ("created_ns", I64),
            ("updated_ns", I64),
        ],
    ),
    plain(
        "alert_comments",
        &[
            ("id", I64),
            ("alert_id", I64),
            ("at_ns", I64),
            ("author", Text),
            ("text", Text),
        ],
    ),
    plain("detection_state", &[("key", Text), ("value", Bytes)]),
    // Sequence numbers are SQLite's record ids (see RECORDS_SELECT): the progress carries over.
    plain("detection_progress", &[("name", Text), ("seq", I64)]),
    plain(
        "deliveries",
        &[
            ("id", I64),
            ("alert_id", I64),
            ("change_ns", I64),
            ("channel", Text),
            ("payload", Bytes),
            ("status", Text),
            ("attempts", I64),
            ("last_error", Text),
            ("last_attempt_ns", I64),
            ("next_attempt_ns", I64),
            ("delivered_ns", I64),
            ("created_ns", I64),
        ],
    ),
    plain(
        "notification_progress",
        &[("name", Text), ("updated_ns", I64)],
    ),
    plain(
        "policies",
        &[("id", Text), ("body", Text), ("updated_ns", I64)],
    ),
    plain(
        "directory_users",
        &[
            ("tenant", Text),
            ("id", Text),
            ("upn", Text),
            ("display_name", Text),
            ("mail", Text),
            ("account_enabled", Bool),
            ("user_type", Text),
            ("on_premises_synced", Bool),
            ("created_ns", I64),
            ("risk_level", Text),
            ("risk_state", Text),
            ("synced_ns", I64),
        ],
    ),
    plain(
        "directory_groups",
        &[
            ("tenant", Text),
            ("id", Text),
            ("display_name", Text),
            ("mail", Text),
            ("kind", Text),
            ("on_premises_synced", Bool),
            ("synced_ns", I64),
        ],
    ),
    plain(
        "group_members",
        &[
            ("tenant", Text),
            ("group_id", Text),
            ("member_id", Text),
            ("kind", Text),
            ("name", Text),
        ],
    ),
    plain(
        "directory_roles",
        &[("tenant", Text), ("id", Text), ("display_name", Text)],
    ),
    plain(
        "role_members",
        &[("tenant", Text), ("role_id", Text), ("member_id", Text)],
    ),
    Table {
        name: "oauth_apps",
        select: Some(APPS_SELECT),
        columns: &[
            ("tenant", Text),
            ("id", Text),
            ("app_id", Text),
            ("name", Text),
            ("publisher", Publisher),
            ("first_party", FirstParty),
            ("level", Text),
            ("body", Text),
            ("review", Text),
            ("first_ns", I64),
            ("last_ns", I64),
            ("synced_ns", I64),
        ],
        batch: BATCH,
        partition_by: None,
    },
    plain(
        "directory_cursors",
        &[
            ("tenant", Text),
            ("resource", Text),
            ("link", Text),
            ("updated_ns", I64),
        ],
    ),
    // SQLite's `running_key` is not copied: PostgreSQL's partial unique index plays its part.
    plain(
        "governance_log",
        &[
            ("id", I64),
            ("tenant", Text),
            ("action", Text),
            ("target_kind", Text),
            ("target_id", Text),
            ("target_name", Text),
            ("requested_by", Text),
            ("alert_id", I64),
            ("params", Text),
            ("status", Text),
            ("attempts", I64),
            ("steps", Text),
            ("warnings", Text),
            ("error", Text),
            ("created_ns", I64),
            ("updated_ns", I64),
        ],
    ),
    plain(
        "files",
        &[
            ("tenant", Text),
            ("drive_id", Text),
            ("id", Text),
            ("parent_id", Text),
            ("name", Text),
            ("path", Text),
            ("folder", Bool),
            ("size", I64),
            ("modified_ns", I64),
            ("owner", Text),
            ("access", Text),
            ("external_domains", Text),
            ("body", Text),
            ("synced_ns", I64),
        ],
    ),
    plain(
        "directory_status",
        &[("tenant", Text), ("body", Text), ("updated_ns", I64)],
    ),
    plain(
        "accounts",
        &[
            ("id", I64),
            ("username", Text),
            ("password_hash", Text),
            ("role", Text),
            ("disabled", Bool),
            ("created_ns", I64),
            ("updated_ns", I64),
            ("last_login_ns", I64),
        ],
    ),
    plain(
        "sessions",
        &[
            ("token_hash", Bytes),
            ("account_id", I64),
            ("csrf", Text),
            ("created_ns", I64),
            ("last_seen_ns", I64),
            ("expires_ns", I64),
        ],
    ),
    plain(
        "api_tokens",
        &[
            ("id", I64),
            ("name", Text),
            ("token_hash", Bytes),
            ("role", Text),
            ("created_by", Text),
            ("created_ns", I64),
            ("last_used_ns", I64),
            ("revoked_ns", I64),
        ],
    ),
    plain(
        "audit_log",
        &[
            ("id", I64),
            ("at_ns", I64),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
            ("ip", Text),
        ],
    ),
    plain(
        "saved_queries",
        &[
            ("id", I64),
            ("account_id", I64),
            ("name", Text),
            ("query", Text),
            ("created_ns", I64),
        ],
    ),
    // The sealed credential is copied as is: it opens with the deployment's key file, not the
    // database (see `copy_sqlite_to_postgres`).
    plain(
        "connectors",
        &[
            ("name", Text),
            ("tenant_id", Text),
            ("client_id", Text),
            ("cloud", Text),
            ("credential_kind", Text),
            ("certificate_pem", Text),
            ("sealed_credential", Bytes),
            ("login_url", Text),
            ("manage_url", Text),
            ("graph_url", Text),
            ("activities", Bool),
            ("files", Bool),
            ("content_types", Text),
            ("phase", Text),
            ("last_test", Text),
            ("created_ns", I64),
            ("updated_ns", I64),
            ("updated_by", Text),
        ],
    ),
    plain(
        "settings",
        &[
            ("key", Text),
            ("value", Text),
            ("version", I64),
            ("updated_ns", I64),
            ("updated_by", Text),
        ],
    ),
];

/// One converted row, ready for COPY.
type Row = Vec<Box<dyn ToSql + Sync>>;

/// Copies one table; returns how many rows went in. `progress` hears the running count.
pub(super) fn copy_table(
    lite: &Connection,
    pg: &mut Client,
    to: &PostgresStore,
    table: &Table,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<u64, StoreError> {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let select = table.select.map_or_else(
        || format!("SELECT {} FROM {}", names.join(", "), table.name),
        str::to_owned,
    );
    let copy = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.name,
        names.join(", ")
    );
    let types: Vec<Type> = table.columns.iter().map(|(_, k)| k.pg_type()).collect();
    let mut stmt = lite.prepare(&select)?;
    let mut rows = stmt.query([])?;
    let (mut batch, mut times) = (Vec::with_capacity(table.batch), Vec::new());
    let mut chunks = ChunkReader::default();
    let mut copied = 0u64;
    progress(table.name, 0);
    while let Some(row) = rows.next()? {
        let mut out: Row = Vec::with_capacity(table.columns.len());
        for (i, (column, kind)) in table.columns.iter().enumerate() {
            if let Kind::Chunk = kind {
                out.push(Box::new(chunks.packed(lite, row.get(0)?)?));
                continue;
            }
            let value = convert(*kind, row.get_ref(i)?).map_err(|e| {
                StoreError::Corrupt(format!("SQLite's {}.{column}: {e}", table.name))
            })?;
            out.push(value);
        }
        if let Some(i) = table.partition_by {
            times.push(row.get::<_, i64>(i)?);
        }
        batch.push(out);
        if batch.len() >= table.batch {
            copied += flush(pg, to, &copy, &types, &mut batch, &mut times)?;
            progress(table.name, copied);
        }
    }
    if !batch.is_empty() {
        copied += flush(pg, to, &copy, &types, &mut batch, &mut times)?;
        progress(table.name, copied);
    }
    Ok(copied)
}

/// Writes a batch in one transaction and empties it.
fn flush(
    pg: &mut Client,
    to: &PostgresStore,
    copy: &str,
    types: &[Type],
    batch: &mut Vec<Row>,
    times: &mut Vec<i64>,
) -> Result<u64, StoreError> {
    // Partitions are created outside the batch's transaction, as `commit` does.
    if !times.is_empty() {
        to.ensure_partitions(pg, times)?;
    }
    let mut tx = pg.transaction()?;
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(copy)?, types);
    for row in batch.iter() {
        let values: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v.as_ref()).collect();
        writer.write(&values)?;
    }
    let n = writer.finish()?;
    tx.commit()?;
    batch.clear();
    times.clear();
    Ok(n)
}

/// One SQLite value as the PostgreSQL value of `kind` (a typed NULL for NULL).
fn convert(kind: Kind, v: ValueRef<'_>) -> Result<Box<dyn ToSql + Sync>, String> {
    let int = || match v {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(n) => Ok(Some(n)),
        other => Err(format!("an integer expected, found {}", other.data_type())),
    };
    let text = || match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|e| e.to_string()),
        other => Err(format!("text expected, found {}", other.data_type())),
    };
    let narrow = |n: i64| format!("{n} is out of range");
    let app = || {
        text()?
            .map(|body| serde_json::from_str::<OAuthApp>(&body).map_err(|e| e.to_string()))
            .transpose()
    };
    Ok(match kind {
        Kind::I64 => Box::new(int()?),
        Kind::I32 => Box::new(
            int()?
                .map(|n| i32::try_from(n).map_err(|_| narrow(n)))
                .transpose()?,
        ),
        Kind::I16 => Box::new(
            int()?
                .map(|n| i16::try_from(n).map_err(|_| narrow(n)))
                .transpose()?,
        ),
        Kind::Bool => Box::new(int()?.map(|n| n != 0)),
        Kind::Text => Box::new(text()?),
        Kind::Bytes | Kind::Chunk => Box::new(match v {
            ValueRef::Null => None,
            ValueRef::Blob(b) => Some(b.to_vec()),
            other => return Err(format!("a blob expected, found {}", other.data_type())),
        }),
        Kind::JsonList => Box::new(
            text()?
                .map(|t| serde_json::from_str::<Vec<String>>(&t).map_err(|e| e.to_string()))
                .transpose()?,
        ),
        Kind::Key => Box::new(crate::sqlite::id_from_key(v).map_err(|e| e.to_string())?),
        Kind::Inet => Box::new(text()?.and_then(|t| t.parse::<IpAddr>().ok())),
        Kind::Publisher => Box::new(app()?.and_then(|a| a.publisher)),
        Kind::FirstParty => Box::new(app()?.map(|a| a.first_party)),
    })
}
