//! The scale-out backend: one PostgreSQL database shared by any number of Skylight processes.
//!
//! The schema is in `pg/migrations/*.sql`, applied by `migrations` under an advisory lock
//! (two processes starting together migrate once). Calls block like the SQLite backend's: a
//! small pool of connections serves them, each call on the calling thread, or on a plain thread
//! of its own when called from inside a tokio runtime (the blocking client drives its connection
//! on a runtime of its own, which tokio refuses to start inside another). Times are stored as
//! the SQLite backend stores them (`_ns` and `_ms` integers), so both return the same values.

mod access;
mod collection;
mod commit;
mod connectors;
mod deliveries;
mod detection;
mod directory;
mod files;
mod filter;
mod governance;
mod migrations;
mod partitions;
mod query;
mod settings;
mod tls;

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use postgres::{Client, NoTls};
use skylight_model::{
    Account, AccountChange, Alert, AlertDraft, ApiToken, AppReview, AuditEntry, BlobRef,
    CommitStats, ConnectorStatus, ContentType, Delivery, DirectoryGroup, DirectorySyncStatus,
    DirectoryUser, FileItem, Gap, GovernanceEntry, GroupMember, LedgerDay, OAuthApp, Role,
    SavedQuery, Session,
};

use crate::convert::{from_count, from_ns, to_count, to_ns};
use crate::{
    AccessStore, ActionDraft, ActionUpdate, ActivityPage, ActivityQuery, AlertChange, AlertQuery,
    AppQuery, AttemptOutcome, DeliveryQuery, DirectoryChanges, DirectoryQuery, DueDelivery,
    FileChanges, FileQuery, GovernanceQuery, NewDelivery, RecordBatch, StateChange, StateEntry,
    Store, StoreError, StoredActivity,
};

/// Connections a store opens at most (PostgreSQL's default limit is 100 for every client).
const MAX_CONNECTIONS: usize = 16;

/// The PostgreSQL store.
///
/// `Send + Sync`; every method blocks (async callers use `spawn_blocking`, though a call made
/// on a runtime thread still works).
pub struct PostgresStore {
    pool: Pool,
    /// Where the database is, without the password (for messages).
    address: String,
    /// Tenants and record partitions known to exist (see `commit`).
    known: commit::Known,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The schema version this build creates and understands.
    pub const SCHEMA_VERSION: i64 = migrations::MIGRATIONS.len() as i64;

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// creating or migrating its schema.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] if a newer Skylight wrote the database.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let tls::TlsRequest { url, tls } = tls::request(url)?;
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Config(format!("the database URL is not a PostgreSQL URL: {e}"))
        })?;
        // A server or network that goes silent must fail calls within a minute, not hang them
        // (and a lease with them) for the kernel's quarter of an hour; unless the URL says
        // otherwise.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.keepalives(true);
        config.keepalives_idle(std::time::Duration::from_secs(30));
        config.tcp_user_timeout(std::time::Duration::from_secs(60));
        // "relation … already exists, skipping" and the like: the store's business only.
        config.notice_callback(
            |notice| tracing::debug!(notice = %notice.message(), "postgresql notice"),
        );
        let store = PostgresStore {
            address: address(&config),
            pool: Pool {
                config,
                tls,
                state: Mutex::new(PoolState::default()),
                freed: Condvar::new(),
            },
            known: commit::Known::default(),
        };
        store.with(|c| migrations::migrate(c, migrations::MIGRATIONS))?;
        Ok(store)
    }

    /// Where the database is: `user@host:port/database`, never the password.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The database's schema version (equal to [`PostgresStore::SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(migrations::version)
    }

    /// Drops the activities of every week that ended at or before `before` (whole partitions,
    /// with their raw records); returns how many records went. Records without a readable time
    /// are kept.
    pub fn drop_activities_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with(|c| partitions::drop_before(c, &self.known, before))
    }

    /// Creates an empty database `name` (letters, digits and `_`) on the server of `admin_url`,
    /// whose user may create databases; returns the new database's URL. For tests and
    /// benchmarks: `admin_url` must end with `/database`, without parameters.
    pub fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        let (base, _) = database_url_parts(admin_url, name)?;
        let mut admin = postgres::Client::connect(admin_url, NoTls)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(format!("{base}/{name}"))
    }

    /// Drops the database `name` made by [`PostgresStore::create_database`], closing its
    /// connections.
    pub fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
        database_url_parts(admin_url, name)?;
        let mut admin = postgres::Client::connect(admin_url, NoTls)?;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        Ok(())
    }

    /// Bytes the database takes on disk (tables, indexes, TOAST), for benchmarks.
    pub fn database_size(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Runs `f` on a pooled connection (for `migrate`, which writes the tables directly). Unlike
    /// the trait's methods, not to be called on a runtime thread: `f` need not be `Send`.
    pub(crate) fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_here(f)
    }

    /// Creates the week partitions of `records` these record times need (for `migrate`).
    pub(crate) fn ensure_partitions(
        &self,
        c: &mut Client,
        times: &[i64],
    ) -> Result<(), StoreError> {
        partitions::ensure(c, &self.known, times)
    }

    /// Runs `f` on a pooled connection.
    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return std::thread::scope(|s| {
                s.spawn(|| self.with_here(f))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
        }
        self.with_here(f)
    }

    fn with_here<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        // Returned to the pool when dropped, even if `f` panics.
        f(conn.client())
    }
}

/// The URL without its database, checking that `name` is safe to write into SQL as is.
fn database_url_parts<'a>(url: &'a str, name: &str) -> Result<(&'a str, &'a str), StoreError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Config(format!(
            "{name:?} is not a database name this can create (lowercase letters, digits, _)"
        )));
    }
    url.rsplit_once('/')
        .filter(|(base, db)| base.contains("://") && !db.contains('?') && !db.is_empty())
        .ok_or_else(|| {
            StoreError::Config(
                "the database URL must end with /DATABASE, without parameters".into(),
            )
        })
}

/// `user@host:port/database` of a connection configuration.
fn address(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

/// Open connections, reused across calls.
struct Pool {
    config: postgres::Config,
    /// TLS, when the URL asks for it.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    state: Mutex<PoolState>,
    /// Signalled when a connection is returned or closed.
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Client>,
    /// Connections open, idle or in use.
    open: usize,
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock().idle);
        if tokio::runtime::Handle::try_current().is_ok() {
            // Closing a connection blocks on the client's own runtime, which tokio refuses to
            // start on a runtime thread (a store dropped in async code): close them elsewhere.
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// A connection taken from the pool.
struct Pooled<'a> {
    client: Option<Client>,
    pool: &'a Pool,
}

impl Pooled<'_> {
    fn client(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        match self.client.take() {
            // A panic may have left a transaction open: never reuse the connection then.
            Some(client) if !client.is_closed() && !std::thread::panicking() => {
                state.idle.push(client);
            }
            Some(client) => {
                state.open -= 1;
                drop(state);
                drop(client);
                self.pool.freed.notify_one();
                return;
            }
            None => state.open -= 1,
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let mut state = self.lock();
        loop {
            if let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    // The server went away (restart, idle timeout): open a fresh one instead.
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    client: Some(client),
                    pool: self,
                });
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                drop(state);
                let connected = match &self.tls {
                    Some(tls) => self.config.connect(tls.clone()),
                    None => self.config.connect(NoTls),
                };
                return match connected {
                    Ok(client) => Ok(Pooled {
                        client: Some(client),
                        pool: self,
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(StoreError::Postgres(e))
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The stored code of a content type (the same codes as the SQLite backend's).
fn ct_code(ct: ContentType) -> i16 {
    match ct {
        ContentType::AzureActiveDirectory => 1,
        ContentType::Exchange => 2,
        ContentType::SharePoint => 3,
        ContentType::General => 4,
        ContentType::Dlp => 5,
    }
}

fn ct_from_code(code: i16) -> Result<ContentType, StoreError> {
    Ok(match code {
        1 => ContentType::AzureActiveDirectory,
        2 => ContentType::Exchange,
        3 => ContentType::SharePoint,
        4 => ContentType::General,
        5 => ContentType::Dlp,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "unknown content type code {code}"
            )));
        }
    })
}

impl AccessStore for PostgresStore {
    fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Option<Account>, StoreError> {
        self.with(|c| access::create_account(c, username, password_hash, role))
    }

    fn account_count(&self) -> Result<u64, StoreError> {
        self.with(access::account_count)
    }

    fn account_by_name(&self, username: &str) -> Result<Option<(Account, String)>, StoreError> {
        self.with(|c| access::account_by_name(c, username))
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.with(access::accounts)
    }

    fn update_account(
        &self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        self.with(|c| access::update_account(c, id, change))
    }

    fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.with(|c| access::create_session(c, session))
    }

    fn session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        self.with(|c| access::session(c, token_hash, now))
    }

    fn touch_session(
        &self,
        token_hash: &[u8; 32],
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|c| access::touch_session(c, token_hash, last_seen, expires))
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        self.with(|c| access::delete_session(c, token_hash))
    }

    fn prune_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with(|c| access::prune_sessions(c, now))
    }

    fn create_api_token(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        role: Role,
        created_by: &str,
    ) -> Result<ApiToken, StoreError> {
        self.with(|c| access::create_api_token(c, name, token_hash, role, created_by))
    }

    fn api_token_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError> {
        self.with(|c| access::api_token_by_hash(c, token_hash))
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.with(access::api_tokens)
    }

    fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|c| access::touch_api_token(c, id, at))
    }

    fn revoke_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.with(|c| access::revoke_api_token(c, id, at))
    }

    fn record_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        self.with(|c| access::record_audit(c, entry))
    }

    fn audit_log(&self, limit: usize, before: Option<i64>) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| access::audit_log(c, limit, before))
    }

    fn save_query(
        &self,
        account_id: i64,
        name: &str,
        query: &str,
    ) -> Result<SavedQuery, StoreError> {
        self.with(|c| access::save_query(c, account_id, name, query))
    }

    fn saved_queries(&self, account_id: i64) -> Result<Vec<SavedQuery>, StoreError> {
        self.with(|c| access::saved_queries(c, account_id))
    }

    fn delete_saved_query(&self, account_id: i64, id: i64) -> Result<bool, StoreError> {
        self.with(|c| access::delete_saved_query(c, account_id, id))
    }
}

/// The server's clock in nanoseconds since the epoch (what lease times are measured by).
const SERVER_NS: &str = "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint";

impl Store for PostgresStore {
    fn commit_batch(
        &self,
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        batch: RecordBatch,
    ) -> Result<CommitStats, StoreError> {
        // Sealed (the last compression step) before a connection is taken.
        let batch = batch.seal()?;
        self.with(|c| commit::commit_batch(c, &self.known, tenant, ct, blob, &batch))
    }

    fn record_gap(&self, gap: &Gap) -> Result<(), StoreError> {
        self.with(|c| collection::record_gap(c, gap))
    }

    fn quarantine(
        &self,
        tenant: &str,
        source: &str,
        reason: &str,
        raw: &[u8],
    ) -> Result<(), StoreError> {
        self.with(|c| collection::quarantine(c, tenant, source, reason, raw))
    }

    fn done_blobs(
        &self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError> {
        self.with(|c| collection::done_blobs(c, tenant, ct, since))
    }

    fn prune_done(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with(|c| collection::prune_done(c, before))
    }

    fn watermark(
        &self,
        tenant: &str,
        ct: ContentType,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with(|c| collection::watermark(c, tenant, ct))
    }

    fn set_watermark(
        &self,
        tenant: &str,
        ct: ContentType,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|c| collection::set_watermark(c, tenant, ct, at))
    }

    fn content_counts(&self, tenant: &str, ct: ContentType) -> Result<(u64, u64, u64), StoreError> {
        self.with(|c| collection::content_counts(c, tenant, ct))
    }

    fn record_count(&self, tenant: Option<&str>) -> Result<u64, StoreError> {
        self.with(|c| collection::record_count(c, tenant))
    }

    fn record_ids(&self, tenant: &str, ct: Option<ContentType>) -> Result<Vec<String>, StoreError> {
        self.with(|c| collection::record_ids(c, tenant, ct))
    }

    fn raw_record(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| collection::raw_record(c, tenant, id))
    }

    fn ledger(&self, since: DateTime<Utc>) -> Result<Vec<LedgerDay>, StoreError> {
        self.with(|c| collection::ledger(c, since))
    }

    fn gaps(&self, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
        self.with(|c| collection::gaps(c, tenant))
    }

    fn quarantined(&self) -> Result<u64, StoreError> {
        self.with(collection::quarantined)
    }

    fn delete_statuses(&self, tenant: &str) -> Result<u64, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM statuses WHERE tenant = $1", &[&tenant])?))
    }

    fn set_status(&self, status: &ConnectorStatus) -> Result<(), StoreError> {
        self.with(|c| collection::set_status(c, status))
    }

    fn statuses(&self) -> Result<Vec<ConnectorStatus>, StoreError> {
        self.with(collection::statuses)
    }

    fn activities(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        self.with(|c| query::activities(c, query))
    }

    fn activity_histogram(
        &self,
        query: &ActivityQuery,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        self.with(|c| query::activity_histogram(c, query, bucket_ms))
    }

    fn activity_top(
        &self,
        query: &ActivityQuery,
        field: skylight_model::filter::Field,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| query::activity_top(c, query, field, limit))
    }

    fn activity(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<Option<(skylight_model::ActivityRow, Vec<u8>)>, StoreError> {
        self.with(|c| query::activity(c, tenant, id))
    }

    fn activities_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredActivity>, StoreError> {
        self.with(|c| query::activities_since(c, after, limit))
    }

    fn plan_detection(&self, partitions: &[String]) -> Result<(), StoreError> {
        self.with(|c| detection::plan_detection(c, partitions))
    }

    fn detection_partitions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(detection::detection_partitions)
    }

    fn detection_state_visit(
        &self,
        partition: &str,
        visit: &mut (dyn FnMut(StateEntry) -> Result<(), StoreError> + Send),
    ) -> Result<i64, StoreError> {
        self.with(|c| detection::detection_state(c, partition, visit))
    }

    fn detection_entries_in(
        &self,
        partition: &str,
        keys: &[String],
    ) -> Result<Vec<StateEntry>, StoreError> {
        self.with(|c| detection::detection_entries(c, partition, keys))
    }

    fn commit_detection_streamed(
        &self,
        partition: &str,
        from: i64,
        progress: i64,
        alerts: &[AlertDraft],
        state: &mut (dyn Iterator<Item = StateChange> + Send),
    ) -> Result<(), StoreError> {
        self.with(|c| detection::commit_detection(c, partition, from, progress, alerts, state))
    }

    fn raise_new_alerts(&self, alerts: &[AlertDraft]) -> Result<u64, StoreError> {
        self.with(|c| detection::raise_new_alerts(c, alerts))
    }

    fn stored_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.with(detection::stored_policies)
    }

    fn put_policy(&self, id: &str, body: &str) -> Result<(), StoreError> {
        self.with(|c| detection::put_policy(c, id, body))
    }

    fn delete_policy(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|c| detection::delete_policy(c, id))
    }

    fn policy_version(&self) -> Result<i64, StoreError> {
        self.with(detection::policy_version)
    }

    fn detection_progress(&self) -> Result<(i64, i64), StoreError> {
        self.with(detection::detection_progress)
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.with(|c| detection::alerts(c, query))
    }

    fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        self.with(|c| detection::alert(c, id))
    }

    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Option<Alert>, StoreError> {
        self.with(|c| detection::update_alert(c, id, change))
    }

    fn notification_cursor(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with(deliveries::notification_cursor)
    }

    fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        cursor: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.with(|c| deliveries::enqueue_deliveries(c, deliveries, cursor))
    }

    fn take_due_deliveries(
        &self,
        channels: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.with(|c| deliveries::take_due_deliveries(c, channels, now, lease_until, limit))
    }

    fn record_delivery_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> Result<Option<Delivery>, StoreError> {
        self.with(|c| deliveries::record_delivery_attempt(c, id, at, outcome))
    }

    fn deliveries(&self, query: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        self.with(|c| deliveries::deliveries(c, query))
    }

    fn commit_directory(&self, tenant: &str, changes: &DirectoryChanges) -> Result<(), StoreError> {
        self.with(|c| directory::commit_directory(c, tenant, changes))
    }

    fn directory_cursor(&self, tenant: &str, resource: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| directory::directory_cursor(c, tenant, resource))
    }

    fn directory_users(&self, query: &DirectoryQuery) -> Result<Vec<DirectoryUser>, StoreError> {
        self.with(|c| directory::directory_users(c, query))
    }

    fn directory_user(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<DirectoryUser>, StoreError> {
        self.with(|c| directory::directory_user(c, tenant, key))
    }

    fn directory_groups(&self, query: &DirectoryQuery) -> Result<Vec<DirectoryGroup>, StoreError> {
        self.with(|c| directory::directory_groups(c, query))
    }

    fn group_members(
        &self,
        tenant: &str,
        group_id: &str,
        transitive: bool,
    ) -> Result<Vec<GroupMember>, StoreError> {
        self.with(|c| directory::group_members(c, tenant, group_id, transitive))
    }

    fn user_groups(&self, tenant: &str, user_id: &str) -> Result<Vec<DirectoryGroup>, StoreError> {
        self.with(|c| directory::user_groups(c, tenant, user_id))
    }

    fn oauth_apps(&self, query: &AppQuery) -> Result<Vec<OAuthApp>, StoreError> {
        self.with(|c| directory::oauth_apps(c, query))
    }

    fn oauth_app(&self, tenant: Option<&str>, key: &str) -> Result<Option<OAuthApp>, StoreError> {
        self.with(|c| directory::oauth_app(c, tenant, key))
    }

    fn set_app_review(
        &self,
        tenant: &str,
        id: &str,
        review: AppReview,
    ) -> Result<bool, StoreError> {
        self.with(|c| directory::set_app_review(c, tenant, id, review))
    }

    fn begin_action(&self, draft: &ActionDraft) -> Result<(GovernanceEntry, bool), StoreError> {
        self.with(|c| governance::begin_action(c, draft))
    }

    fn update_action(
        &self,
        id: i64,
        update: &ActionUpdate,
    ) -> Result<Option<GovernanceEntry>, StoreError> {
        self.with(|c| governance::update_action(c, id, update))
    }

    fn governance_log(&self, query: &GovernanceQuery) -> Result<Vec<GovernanceEntry>, StoreError> {
        self.with(|c| governance::governance_log(c, query))
    }

    fn governance_entry(&self, id: i64) -> Result<Option<GovernanceEntry>, StoreError> {
        self.with(|c| governance::governance_entry(c, id))
    }

    fn commit_files(
        &self,
        tenant: &str,
        drive_id: &str,
        changes: &FileChanges,
    ) -> Result<(), StoreError> {
        self.with(|c| files::commit_files(c, tenant, drive_id, changes))
    }

    fn set_directory_status(&self, status: &DirectorySyncStatus) -> Result<(), StoreError> {
        self.with(|c| directory::set_directory_status(c, status))
    }

    fn directory_statuses(&self) -> Result<Vec<DirectorySyncStatus>, StoreError> {
        self.with(directory::directory_statuses)
    }

    fn files(&self, query: &FileQuery) -> Result<Vec<FileItem>, StoreError> {
        self.with(|c| files::files(c, query))
    }

    fn file(&self, tenant: &str, drive_id: &str, id: &str) -> Result<Option<FileItem>, StoreError> {
        self.with(|c| files::file(c, tenant, drive_id, id))
    }

    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Measured by the server's clock, not this host's: processes on hosts whose clocks
        // differ still agree on when a lease runs out.
        let ttl_ns = to_ns(until).saturating_sub(to_ns(now)).max(0);
        self.with(|c| {
            let n = c.execute(
                &format!(
                    "WITH t AS (SELECT {SERVER_NS} AS now_ns) \
                     INSERT INTO leases (name, holder, until_ns) SELECT $1, $2, t.now_ns + $3 FROM t \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns \
                     WHERE leases.holder = excluded.holder OR leases.until_ns <= (SELECT now_ns FROM t)"
                ),
                &[&name, &holder, &ttl_ns],
            )?;
            Ok(n == 1)
        })
    }

    fn lease_time(&self) -> Result<DateTime<Utc>, StoreError> {
        self.with(|c| {
            let ns: i64 = c
                .query_one(&format!("SELECT {SERVER_NS}"), &[])?
                .try_get(0)?;
            Ok(from_ns(ns))
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )?;
            Ok(())
        })
    }

    fn put_connector(&self, connector: &crate::StoredConnector) -> Result<(), StoreError> {
        self.with(|c| connectors::put_connector(c, connector))
    }

    fn connectors(&self) -> Result<Vec<crate::StoredConnector>, StoreError> {
        self.with(connectors::connectors)
    }

    fn delete_connector(&self, name: &str) -> Result<bool, StoreError> {
        self.with(|c| connectors::delete_connector(c, name))
    }

    fn setting(&self, key: &str) -> Result<Option<crate::Setting>, StoreError> {
        self.with(|c| settings::setting(c, key))
    }

    fn put_setting(
        &self,
        key: &str,
        value: &str,
        expected: i64,
        by: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.with(|c| settings::put_setting(c, key, value, expected, by, Utc::now()))
    }

    fn delete_activities_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.drop_activities_before(before)
    }

    fn leases(&self) -> Result<Vec<crate::Lease>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT name, holder, until_ns FROM leases ORDER BY name",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| crate::Lease {
                    name: r.get(0),
                    holder: r.get(1),
                    until: from_ns(r.get(2)),
                })
                .collect())
        })
    }
}
