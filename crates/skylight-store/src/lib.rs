//! Skylight's storage: the `Store` trait, its embedded SQLite backend and its PostgreSQL backend.
//!
//! Storage knows nothing of HTTP, detection or Microsoft. Calls are blocking; async callers run
//! them on `spawn_blocking`.

mod batch;
pub mod codes;
pub mod connectors;
mod convert;
mod directory;
mod ip_blocks;
pub mod lease;
pub mod migrate;
mod partition;
mod pg;
pub mod seal;
pub mod settings;
mod sqlite;
#[cfg(any(test, feature = "testkit"))]
pub mod test_rng;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use skylight_model::{
    Account, AccountChange, ActivityRow, Alert, AlertDraft, AlertStatus, ApiToken, AppReview,
    AuditEntry, AuditRecord, BlobRef, CommitStats, ConnectorStatus, ContentType, Delivery,
    DeliveryStatus, DirectoryGroup, DirectorySyncStatus, DirectoryUser, FileItem, Gap,
    GovernanceEntry, GroupMember, LedgerDay, OAuthApp, Resolution, Role, SavedQuery, Session,
    Severity,
};

pub use batch::RecordBatch;
pub use connectors::{ConnectorPhase, CredentialKind, StoredConnector};
pub use directory::{
    ActionDraft, ActionUpdate, AppQuery, DirectoryChanges, DirectoryQuery, FileChanges, FileQuery,
    GovernanceQuery, RoleMembers, UserRisk,
};
pub use pg::PostgresStore;
pub use settings::Setting;
pub use sqlite::segments::Sealed;
pub use sqlite::{SqliteStore, searchable_text};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL reported an error, or could not be reached.
    #[error("postgresql: {}", with_causes(.0))]
    Postgres(#[from] postgres::Error),
    /// The store is configured wrongly (e.g. a malformed database URL).
    #[error("{0}")]
    Config(String),
    /// The data directory could not be used.
    #[error("cannot use the data directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The change collides with another one still under way.
    #[error("{0}")]
    Conflict(String),
    /// The database was written by a newer Skylight.
    #[error(
        "the database schema is version {found}, newer than this skylight knows ({known}); upgrade skylight"
    )]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// An error with what caused it (`error performing TLS handshake: invalid peer certificate:
/// UnknownIssuer`), so that the message says what to fix.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Why a detector's commit is refused: another one committed since it read the progress.
pub(crate) fn progress_moved(from: i64, saved: i64) -> StoreError {
    StoreError::Conflict(format!(
        "detection progress moved from {from} to {saved} under this detector (another process committed): reopen from the store"
    ))
}

/// Who may use Skylight: accounts, sessions, API tokens, the audit log and saved queries.
///
/// Credentials arrive hashed (argon2 for passwords, SHA-256 for random tokens): the store never
/// sees a password or a usable token.
pub trait AccessStore: Send + Sync {
    /// Creates an account; `None` when the name is taken (names are case-insensitive).
    fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Option<Account>, StoreError>;

    /// How many accounts exist (disabled ones too).
    fn account_count(&self) -> Result<u64, StoreError>;

    /// An account by its name (case-insensitive), with its password hash.
    fn account_by_name(&self, username: &str) -> Result<Option<(Account, String)>, StoreError>;

    /// Every account, by name.
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// Changes an account and ends its sessions, in one transaction; the account as it now
    /// stands (`None`: no such account).
    fn update_account(
        &self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<Account>, StoreError>;

    /// Stores a new session and the account's last sign-in time, in one transaction.
    fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// A session that has not expired at `now`, with its account, if that is enabled.
    fn session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, Account)>, StoreError>;

    /// Records a session's use: its last use and new expiry.
    fn touch_session(
        &self,
        token_hash: &[u8; 32],
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Ends a session; whether it existed.
    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError>;

    /// Forgets sessions that expired before `now`; how many.
    fn prune_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Stores a new API token (its hash) with a name and a role.
    fn create_api_token(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        role: Role,
        created_by: &str,
    ) -> Result<ApiToken, StoreError>;

    /// The token with this hash, unless revoked.
    fn api_token_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError>;

    /// Every API token (revoked ones too), newest first.
    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Records a token's use.
    fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Revokes a token; whether it was live.
    fn revoke_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Appends to the audit log; the entry's number.
    fn record_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError>;

    /// The audit log, newest first: at most `limit` entries numbered below `before`.
    fn audit_log(&self, limit: usize, before: Option<i64>) -> Result<Vec<AuditEntry>, StoreError>;

    /// Saves (or replaces, by name) an account's activity-log query.
    fn save_query(
        &self,
        account_id: i64,
        name: &str,
        query: &str,
    ) -> Result<SavedQuery, StoreError>;

    /// An account's saved queries, by name.
    fn saved_queries(&self, account_id: i64) -> Result<Vec<SavedQuery>, StoreError>;

    /// Deletes one of an account's saved queries; whether it existed.
    fn delete_saved_query(&self, account_id: i64, id: i64) -> Result<bool, StoreError>;
}

/// Everything the collector and the CLI need from storage.
pub trait Store: AccessStore + Send + Sync {
    /// Stores a blob's records (de-duplicated on tenant and record Id) and its rejects, and marks
    /// the blob done, in one transaction: after a crash either all happened or nothing did.
    fn commit_batch(
        &self,
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        batch: RecordBatch,
    ) -> Result<CommitStats, StoreError>;

    /// [`Store::commit_batch`] for records already parsed.
    fn commit_blob(
        &self,
        tenant: &str,
        ct: ContentType,
        blob: &BlobRef,
        records: &[AuditRecord],
    ) -> Result<CommitStats, StoreError> {
        self.commit_batch(tenant, ct, blob, RecordBatch::from_records(records)?)
    }

    /// Records a listed blob that could not be collected, and marks it done.
    fn record_gap(&self, gap: &Gap) -> Result<(), StoreError>;

    /// Keeps aside a record that could not be read, with where it came from and why.
    fn quarantine(
        &self,
        tenant: &str,
        source: &str,
        reason: &str,
        raw: &[u8],
    ) -> Result<(), StoreError>;

    /// Content ids already done (committed or gapped) whose `contentCreated` is at or after `since`.
    fn done_blobs(
        &self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError>;

    /// Forgets done-blob markers published before `before`; returns how many.
    fn prune_done(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The listing watermark of a tenant and content type.
    fn watermark(&self, tenant: &str, ct: ContentType)
    -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Moves the listing watermark.
    fn set_watermark(
        &self,
        tenant: &str,
        ct: ContentType,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stored records, collected blobs still remembered (the last 8 days) and recorded gaps of a
    /// tenant's content type.
    fn content_counts(&self, tenant: &str, ct: ContentType) -> Result<(u64, u64, u64), StoreError>;

    /// Number of stored records, for one tenant or all.
    fn record_count(&self, tenant: Option<&str>) -> Result<u64, StoreError>;

    /// Ids of stored records of a tenant, optionally of one content type.
    fn record_ids(&self, tenant: &str, ct: Option<ContentType>) -> Result<Vec<String>, StoreError>;

    /// A stored record's raw JSON, exactly as received.
    ///
    /// Found by Id alone, this reads through the store's records (SQLite) or the tenant's
    /// de-duplication index (PostgreSQL): time grows with the records, since an index on the
    /// random Id would cost a page write per stored record. The activity log finds records by
    /// time first.
    fn raw_record(&self, tenant: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Recorded gaps, for one tenant or all.
    fn gaps(&self, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError>;

    /// The collection ledger of the content published at or after `since`: per tenant, content
    /// type and UTC day of publication, the blobs collected, the records they held and the
    /// gaps, ordered by tenant, content type and day. Built from the markers of blobs done,
    /// which are kept as long as Microsoft could list the content again (8 days). A range lost
    /// whole (a collector down past Microsoft's 7 days) is in [`Store::gaps`], not here.
    fn ledger(&self, since: DateTime<Utc>) -> Result<Vec<LedgerDay>, StoreError>;

    /// Number of quarantined (unreadable) records.
    fn quarantined(&self) -> Result<u64, StoreError>;

    /// Writes a connector status (one row per tenant and content type).
    fn set_status(&self, status: &ConnectorStatus) -> Result<(), StoreError>;

    /// Every connector status.
    fn statuses(&self) -> Result<Vec<ConnectorStatus>, StoreError>;

    /// Deletes a tenant's connector statuses (nobody collects it any more); returns how many.
    fn delete_statuses(&self, tenant: &str) -> Result<u64, StoreError>;

    /// A page of the activity log, newest first.
    fn activities(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError>;

    /// How many activities match, per time bucket of `bucket_ms` (aligned on the epoch), oldest
    /// first; the query's limit and cursor are ignored.
    fn activity_histogram(
        &self,
        query: &ActivityQuery,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, u64)>, StoreError>;

    /// The most frequent values of `field` among the activities that match (country, ip, user,
    /// operation, isp, …: the fields the log keeps as text), most frequent first, at most
    /// `limit`; the query's limit and cursor are ignored.
    fn activity_top(
        &self,
        query: &ActivityQuery,
        field: skylight_model::filter::Field,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// One activity by its record Id: its stored columns and the raw record.
    fn activity(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<Option<(skylight_model::ActivityRow, Vec<u8>)>, StoreError>;

    /// Up to `limit` activities stored after sequence number `after`, in the order they were
    /// stored, each with its raw record: what detection reads as records arrive.
    fn activities_since(&self, after: i64, limit: usize)
    -> Result<Vec<StoredActivity>, StoreError>;

    /// The unpartitioned detection's saved progress and state (see [`Store::detection_state_in`]).
    fn detection_state(&self) -> Result<(i64, Vec<StateEntry>), StoreError> {
        self.detection_state_in("")
    }

    /// Commits the unpartitioned detection (see [`Store::commit_detection_in`]).
    fn commit_detection(
        &self,
        from: i64,
        progress: i64,
        alerts: &[AlertDraft],
        state: &[StateChange],
    ) -> Result<(), StoreError> {
        self.commit_detection_in("", from, progress, alerts, state)
    }

    /// Makes `partitions` the partitions detection is spread over (`[""]`: not partitioned), in
    /// one transaction: each one not saved yet starts, with no state, where the slowest saved
    /// partition had got to (0 on a fresh store), so changing the partitioning neither skips nor
    /// re-evaluates activities; partitions of an earlier plan are forgotten, progress and state.
    fn plan_detection(&self, partitions: &[String]) -> Result<(), StoreError>;

    /// Detection's partitions and their progress (the last sequence number each evaluated), by
    /// name; `""` is the unpartitioned detection.
    fn detection_partitions(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// A detection partition's saved progress (the last sequence number it evaluated; 0 at first
    /// for `""`) and state. A partition other than `""` must be in the plan
    /// ([`Store::plan_detection`]), else [`StoreError::Conflict`].
    fn detection_state_in(&self, partition: &str) -> Result<(i64, Vec<StateEntry>), StoreError> {
        let mut entries = Vec::new();
        let seq = self.detection_state_visit(partition, &mut |entry| {
            entries.push(entry);
            Ok(())
        })?;
        Ok((seq, entries))
    }

    /// [`Store::detection_state_in`] handing each entry to `visit` as it is read, so that a
    /// detector restoring a large tenant's state never holds all of it at once; returns the
    /// progress. An error from `visit` stops the read and is returned.
    fn detection_state_visit(
        &self,
        partition: &str,
        visit: &mut (dyn FnMut(StateEntry) -> Result<(), StoreError> + Send),
    ) -> Result<i64, StoreError>;

    /// The saved values of some of a detection partition's state entries, by key (keys as the
    /// engine knows them; a key with nothing saved is left out): what a detector that keeps only
    /// part of its state in memory reads back when an activity needs the rest.
    fn detection_entries_in(
        &self,
        partition: &str,
        keys: &[String],
    ) -> Result<Vec<StateEntry>, StoreError>;

    /// Commits what a detection partition made of the activities after `from` up to `progress`:
    /// alerts (upserted by key), state changes (`None` deletes) and the progress, in one
    /// transaction, so that after a crash no activity is evaluated twice and no alert is lost.
    /// Fenced: refused with [`StoreError::Conflict`], writing nothing, when the partition's saved
    /// progress is no longer `from` (another detector committed meanwhile, e.g. one that took
    /// over while this one stalled) or the partition left the plan; the caller reopens from the
    /// store.
    fn commit_detection_in(
        &self,
        partition: &str,
        from: i64,
        progress: i64,
        alerts: &[AlertDraft],
        state: &[StateChange],
    ) -> Result<(), StoreError> {
        self.commit_detection_streamed(
            partition,
            from,
            progress,
            alerts,
            &mut state.iter().cloned(),
        )
    }

    /// [`Store::commit_detection_in`] with the state changes produced one at a time while they
    /// are written, so that a detector whose every user changed never holds all of them
    /// serialised at once. On an error the iterator may have been read in part and nothing was
    /// written: the caller reopens detection from the store.
    fn commit_detection_streamed(
        &self,
        partition: &str,
        from: i64,
        progress: i64,
        alerts: &[AlertDraft],
        state: &mut (dyn Iterator<Item = StateChange> + Send),
    ) -> Result<(), StoreError>;

    /// Raises alerts whose key is new (a file policy's match is raised once); returns how many.
    fn raise_new_alerts(&self, alerts: &[AlertDraft]) -> Result<u64, StoreError>;

    /// Policies defined through the API: (id, the policy as JSON), by id.
    fn stored_policies(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Creates or replaces a policy defined through the API.
    fn put_policy(&self, id: &str, body: &str) -> Result<(), StoreError>;

    /// Deletes a policy defined through the API; whether it existed.
    fn delete_policy(&self, id: &str) -> Result<bool, StoreError>;

    /// A number that changes whenever a policy is put or deleted.
    fn policy_version(&self) -> Result<i64, StoreError>;

    /// How far detection got: (the last sequence number every partition has evaluated, the
    /// newest stored).
    fn detection_progress(&self) -> Result<(i64, i64), StoreError>;

    /// Alerts, newest first (oldest change first with [`AlertQuery::updated_after`]).
    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError>;

    /// One alert.
    fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError>;

    /// Changes an alert's triage (status, resolution) and/or adds a comment; returns the alert.
    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Option<Alert>, StoreError>;

    /// How far the notifier has read the alerts' changes (`None` before its first look).
    fn notification_cursor(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Queues deliveries of alert changes (a change already queued for a channel is skipped)
    /// and moves the notifier's cursor forward to `cursor`, in one transaction; returns how many
    /// were queued.
    fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        cursor: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Takes up to `limit` pending deliveries of these channels that are due at `now`, the
    /// longest due first, and holds each until `lease_until` (its next attempt time then): no
    /// other taker gets it meanwhile, and if the taker dies it falls due again.
    fn take_due_deliveries(
        &self,
        channels: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// Records the outcome of an attempt made at `at` on a pending delivery; returns the
    /// delivery as it now stands (`None` if there is no such pending delivery).
    fn record_delivery_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        outcome: &AttemptOutcome,
    ) -> Result<Option<Delivery>, StoreError>;

    /// The delivery log, newest first.
    fn deliveries(&self, query: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError>;

    /// Applies one round of a directory sync and its delta links, in one transaction.
    fn commit_directory(&self, tenant: &str, changes: &DirectoryChanges) -> Result<(), StoreError>;

    /// The delta link a directory sync resumes `resource` from, if any.
    fn directory_cursor(&self, tenant: &str, resource: &str) -> Result<Option<String>, StoreError>;

    /// Users, by UPN, with the directory roles they hold.
    fn directory_users(&self, query: &DirectoryQuery) -> Result<Vec<DirectoryUser>, StoreError>;

    /// One user by object id or UPN (case-insensitive).
    fn directory_user(
        &self,
        tenant: Option<&str>,
        key: &str,
    ) -> Result<Option<DirectoryUser>, StoreError>;

    /// Groups, by name, with their member counts.
    fn directory_groups(&self, query: &DirectoryQuery) -> Result<Vec<DirectoryGroup>, StoreError>;

    /// A group's members: direct ones, or every user reached through nested groups.
    fn group_members(
        &self,
        tenant: &str,
        group_id: &str,
        transitive: bool,
    ) -> Result<Vec<GroupMember>, StoreError>;

    /// The groups a user belongs to, directly or through nested groups.
    fn user_groups(&self, tenant: &str, user_id: &str) -> Result<Vec<DirectoryGroup>, StoreError>;

    /// OAuth apps, most powerful first.
    fn oauth_apps(&self, query: &AppQuery) -> Result<Vec<OAuthApp>, StoreError>;

    /// One app by service principal id, app id or exact name (case-insensitive).
    fn oauth_app(&self, tenant: Option<&str>, key: &str) -> Result<Option<OAuthApp>, StoreError>;

    /// Records an admin's decision about an app; false if there is no such app.
    fn set_app_review(&self, tenant: &str, id: &str, review: AppReview)
    -> Result<bool, StoreError>;

    /// Logs an action about to be carried out. When the same action on the same target is
    /// already pending or in progress, nothing is added and that entry comes back with `false`.
    fn begin_action(&self, draft: &ActionDraft) -> Result<(GovernanceEntry, bool), StoreError>;

    /// Changes a logged action; `None` if there is no such entry.
    fn update_action(
        &self,
        id: i64,
        update: &ActionUpdate,
    ) -> Result<Option<GovernanceEntry>, StoreError>;

    /// The governance log, newest first.
    fn governance_log(&self, query: &GovernanceQuery) -> Result<Vec<GovernanceEntry>, StoreError>;

    /// One governance log entry.
    fn governance_entry(&self, id: i64) -> Result<Option<GovernanceEntry>, StoreError>;

    /// Applies one round of a drive's delta sync and its delta link, in one transaction (the
    /// link under the directory cursor `drive:{drive_id}`).
    fn commit_files(
        &self,
        tenant: &str,
        drive_id: &str,
        changes: &FileChanges,
    ) -> Result<(), StoreError>;

    /// Records how a tenant's directory sync round went.
    fn set_directory_status(&self, status: &DirectorySyncStatus) -> Result<(), StoreError>;

    /// Every tenant's last directory sync, by tenant.
    fn directory_statuses(&self) -> Result<Vec<DirectorySyncStatus>, StoreError>;

    /// Files, most exposed first, then by path.
    fn files(&self, query: &FileQuery) -> Result<Vec<FileItem>, StoreError>;

    /// One item of a drive.
    fn file(&self, tenant: &str, drive_id: &str, id: &str) -> Result<Option<FileItem>, StoreError>;

    /// Takes the lease `name` for `holder` until `until`, or renews it: true if `holder` holds it
    /// now (it was free, had expired at `now`, or was already `holder`'s). A store with a clock
    /// of its own ([`Store::lease_time`]) measures by it: `now` is its time and `until` that
    /// plus `until - now`. One unit of work
    /// (a tenant's content type, detection) is done by one process at a time; when its holder
    /// dies, another takes it over once the lease expires.
    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The time leases are measured by: this host's clock for an embedded store, the database
    /// server's for a shared one (so that hosts whose clocks differ agree on who holds what).
    fn lease_time(&self) -> Result<DateTime<Utc>, StoreError> {
        Ok(Utc::now())
    }

    /// Gives up a lease `holder` holds (nothing if it does not hold it).
    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Every lease, expired ones too, by name.
    fn leases(&self) -> Result<Vec<Lease>, StoreError>;

    /// Creates the console-made connector `connector.name`, or replaces it whole.
    fn put_connector(&self, connector: &StoredConnector) -> Result<(), StoreError>;

    /// Every console-made connector, by name.
    fn connectors(&self) -> Result<Vec<StoredConnector>, StoreError>;

    /// Removes a console-made connector and its connector statuses (what it collected stays);
    /// true if there was one.
    fn delete_connector(&self, name: &str) -> Result<bool, StoreError>;

    /// The console setting `key`, if it was ever written.
    fn setting(&self, key: &str) -> Result<Option<Setting>, StoreError>;

    /// Writes the console setting `key` if its version is still `expected` (0: never written);
    /// the new version, or `None` when someone changed it meanwhile (nothing is written).
    fn put_setting(
        &self,
        key: &str,
        value: &str,
        expected: i64,
        by: &str,
    ) -> Result<Option<i64>, StoreError>;

    /// Deletes the activities created before `before`, with their raw records; how many went.
    /// SQLite deletes to the millisecond; PostgreSQL drops whole weeks, so it keeps up to a week
    /// more. Records without a readable time are kept.
    fn delete_activities_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Who holds a unit of work, and until when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    /// The unit of work (`collect:TENANT:CONTENT-TYPE`, `detect`).
    pub name: String,
    /// The process holding it (host, process id and a random part).
    pub holder: String,
    /// When it expires unless renewed.
    pub until: DateTime<Utc>,
}

/// A delivery to queue: one alert change for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The alert.
    pub alert_id: i64,
    /// The change: the alert's `updated` time.
    pub change: DateTime<Utc>,
    /// The channel's name.
    pub channel: String,
    /// The exact bytes the channel sends.
    pub payload: Vec<u8>,
}

/// A delivery taken for an attempt, with what to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The log row.
    pub delivery: Delivery,
    /// The exact bytes to send.
    pub payload: Vec<u8>,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The channel accepted it.
    Delivered,
    /// It failed and is tried again at `next_attempt`.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        next_attempt: DateTime<Utc>,
    },
    /// It failed for the last time: the delivery is failed, with this error.
    GaveUp {
        /// Why it failed.
        error: String,
    },
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// In this status.
    pub status: Option<DeliveryStatus>,
    /// To this channel.
    pub channel: Option<String>,
    /// Of this alert.
    pub alert_id: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// A saved detection state entry: key and value.
pub type StateEntry = (String, Vec<u8>);

/// A change to detection state: key and new value (`None` deletes the entry).
pub type StateChange = (String, Option<Vec<u8>>);

/// An activity as detection reads it.
#[derive(Debug, Clone)]
pub struct StoredActivity {
    /// Its place in the store's order (grows with every stored record).
    pub seq: i64,
    /// Its stored columns.
    pub row: ActivityRow,
    /// The raw record, exactly as received.
    pub raw: Vec<u8>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// Any of these statuses (all when empty).
    pub statuses: Vec<AlertStatus>,
    /// At least this severe.
    pub min_severity: Option<Severity>,
    /// Raised by this policy.
    pub policy: Option<String>,
    /// Involving this user (case-insensitive).
    pub user: Option<String>,
    /// Signals (`signal_only`) too.
    pub include_signals: bool,
    /// Only alerts changed after this time, oldest change first (instead of newest first).
    pub updated_after: Option<DateTime<Utc>>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// A change an analyst makes to an alert.
#[derive(Debug, Clone, Default)]
pub struct AlertChange {
    /// New status.
    pub status: Option<AlertStatus>,
    /// Resolution (with a closing status).
    pub resolution: Option<Resolution>,
    /// A comment: (author, text).
    pub comment: Option<(String, String)>,
}

/// What the activity log asks for.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// The conditions.
    pub filter: skylight_model::filter::Filter,
    /// Rows per page (at least 1).
    pub limit: usize,
    /// Where the page starts: the `next` of the previous page.
    pub after: Option<Cursor>,
}

/// Where a page of the activity log ends: (time in ms, row id) of its last row.
pub type Cursor = (i64, i64);

/// A page of the activity log.
#[derive(Debug, Clone, Default)]
pub struct ActivityPage {
    /// The activities, newest first.
    pub rows: Vec<skylight_model::ActivityRow>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}
