//! Checking a copy: rows per table on both sides, and digests of what each store gives back
//! through the [`Store`] trait alone, so that the check shares no code with the copy.

use aws_lc_rs::digest::{Context, SHA256};
use serde::Serialize;
use skylight_model::ContentType;

use crate::{
    AlertQuery, AppQuery, DeliveryQuery, DirectoryQuery, FileQuery, GovernanceQuery, PostgresStore,
    SqliteStore, Store, StoreError,
};

/// Activities read per call while digesting the records.
const PAGE: usize = 1_000;

/// A figure of one store: how many items, and the SHA-256 of them (counts have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Items (rows, records, alerts…).
    pub count: u64,
    /// SHA-256 of the items in the order the store gives them, in hex.
    pub digest: Option<String>,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.digest {
            // 16 hex digits are enough for a reader to compare; equality uses all of them.
            Some(d) => write!(f, "{} · {}", self.count, &d[..16.min(d.len())]),
            None => write!(f, "{}", self.count),
        }
    }
}

/// One figure compared between the source and the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What is compared (`rows in alerts`, `records`…).
    pub what: String,
    /// The SQLite store's figure.
    pub source: Figure,
    /// The PostgreSQL store's figure.
    pub target: Figure,
}

impl Check {
    /// Whether both stores agree.
    pub fn ok(&self) -> bool {
        self.source == self.target
    }
}

/// Compares a copy: rows per table, then the digests of both stores (see [`digests`]).
pub fn verify(from: &SqliteStore, to: &PostgresStore) -> Result<Vec<Check>, StoreError> {
    let figure = |count| Figure {
        count,
        digest: None,
    };
    let mut checks: Vec<Check> = super::table_counts(from, to)?
        .into_iter()
        .map(|(table, a, b)| Check {
            what: format!("rows in {table}"),
            source: figure(a),
            target: figure(b),
        })
        .collect();
    let tenants = super::tenants(from)?;
    let source = digests(from, &tenants)?;
    let target = digests(to, &tenants)?;
    for ((what, a), (_, b)) in source.into_iter().zip(target) {
        checks.push(Check {
            what,
            source: a,
            target: b,
        });
    }
    Ok(checks)
}

/// A running SHA-256 over items, each a list of length-prefixed parts.
struct Digest {
    context: Context,
    count: u64,
}

impl Digest {
    fn new() -> Digest {
        Digest {
            context: Context::new(&SHA256),
            count: 0,
        }
    }

    /// Adds one item made of these parts (length-prefixed, so that no two items collide).
    fn add(&mut self, parts: &[&[u8]]) {
        for part in parts {
            self.context.update(&(part.len() as u64).to_le_bytes());
            self.context.update(part);
        }
        self.count += 1;
    }

    /// Adds one item as its JSON.
    fn json<T: Serialize>(&mut self, item: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(item)
            .map_err(|e| StoreError::Corrupt(format!("cannot write an item as JSON: {e}")))?;
        self.add(&[&bytes]);
        Ok(())
    }

    fn finish(self) -> Figure {
        let hex = self
            .context
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Figure {
            count: self.count,
            digest: Some(hex),
        }
    }
}

/// Digests of what a store holds, read through the [`Store`] trait only, in a fixed order of
/// (what, figure). `tenants` names the tenants to ask about where the trait asks for one.
///
/// Records are read in stored order with their sequence numbers, columns and raw bytes, so the
/// digest also checks that detection would read the same records in the same order.
pub fn digests(store: &dyn Store, tenants: &[String]) -> Result<Vec<(String, Figure)>, StoreError> {
    let mut out = Vec::new();
    let mut records = Digest::new();
    let mut after = 0;
    loop {
        let page = store.activities_since(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for a in &page {
            let row = serde_json::to_vec(&a.row)
                .map_err(|e| StoreError::Corrupt(format!("an activity as JSON: {e}")))?;
            records.add(&[&a.seq.to_le_bytes(), &row, &a.raw]);
        }
    }
    out.push((
        "records (seq, columns, raw bytes)".to_owned(),
        records.finish(),
    ));

    let mut collection = Digest::new();
    collection.json(&store.record_count(None)?)?;
    collection.json(&store.quarantined()?)?;
    for tenant in tenants {
        for ct in ContentType::ALL {
            collection.json(&store.content_counts(tenant, ct)?)?;
            collection.json(&store.watermark(tenant, ct)?)?;
            let since = chrono::DateTime::UNIX_EPOCH;
            let mut done: Vec<String> = store.done_blobs(tenant, ct, since)?.into_iter().collect();
            done.sort_unstable();
            collection.json(&done)?;
        }
    }
    out.push((
        "counts, watermarks, done blobs".to_owned(),
        collection.finish(),
    ));
    out.push(("connector statuses".to_owned(), each(store.statuses()?)?));
    out.push(("gaps".to_owned(), each(store.gaps(None)?)?));

    let alerts = store.alerts(&AlertQuery {
        include_signals: true,
        ..AlertQuery::default()
    })?;
    out.push(("alerts with comments".to_owned(), each(alerts)?));
    let mut detection = Digest::new();
    detection.json(&store.detection_progress()?)?;
    let mut partitions: Vec<String> = store
        .detection_partitions()?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if partitions.is_empty() {
        partitions.push(String::new());
    }
    for partition in &partitions {
        let (progress, mut state) = store.detection_state_in(partition)?;
        // Both backends give the entries by key, but the digest must not rest on it.
        state.sort();
        detection.json(&(partition, progress))?;
        for (key, value) in &state {
            detection.add(&[key.as_bytes(), value]);
        }
    }
    out.push((
        "detection progress and state".to_owned(),
        detection.finish(),
    ));
    let mut policies = Digest::new();
    policies.json(&store.policy_version()?)?;
    for policy in store.stored_policies()? {
        policies.json(&policy)?;
    }
    out.push(("policies".to_owned(), policies.finish()));
    let mut deliveries = Digest::new();
    deliveries.json(&store.notification_cursor()?)?;
    for delivery in store.deliveries(&DeliveryQuery::default())? {
        deliveries.json(&delivery)?;
    }
    out.push((
        "deliveries and notification cursor".to_owned(),
        deliveries.finish(),
    ));

    out.push((
        "directory users".to_owned(),
        each(store.directory_users(&DirectoryQuery::default())?)?,
    ));
    let groups = store.directory_groups(&DirectoryQuery::default())?;
    let mut members = Vec::new();
    for g in &groups {
        for m in store.group_members(&g.tenant, &g.id, false)? {
            members.push((&g.tenant, &g.id, m));
        }
    }
    out.push(("directory groups".to_owned(), each_sorted(&groups)?));
    out.push(("group members".to_owned(), each_sorted(&members)?));
    let apps = store.oauth_apps(&AppQuery {
        first_party: true,
        ..AppQuery::default()
    })?;
    out.push(("oauth apps".to_owned(), each(apps)?));
    let files = store.files(&FileQuery {
        include_folders: true,
        ..FileQuery::default()
    })?;
    out.push(("files".to_owned(), each(files)?));
    out.push((
        "directory sync statuses".to_owned(),
        each(store.directory_statuses()?)?,
    ));
    out.push((
        "governance log".to_owned(),
        each(store.governance_log(&GovernanceQuery::default())?)?,
    ));

    let accounts = store.accounts()?;
    let mut saved = Digest::new();
    for a in &accounts {
        for q in store.saved_queries(a.id)? {
            saved.json(&q)?;
        }
    }
    out.push(("accounts".to_owned(), each(accounts)?));
    out.push(("saved queries".to_owned(), saved.finish()));
    out.push(("api tokens".to_owned(), each(store.api_tokens()?)?));
    let mut audit = Digest::new();
    let mut before = None;
    loop {
        let page = store.audit_log(PAGE, before)?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for entry in &page {
            audit.json(entry)?;
        }
    }
    out.push(("audit log".to_owned(), audit.finish()));
    let mut connectors = Digest::new();
    for c in store.connectors()? {
        // The JSON leaves the sealed credential out: its bytes are a part of their own.
        let json = serde_json::to_vec(&c)
            .map_err(|e| StoreError::Corrupt(format!("a connector as JSON: {e}")))?;
        connectors.add(&[&json, &c.sealed_credential]);
    }
    out.push((
        "connectors (with sealed credentials)".to_owned(),
        connectors.finish(),
    ));
    let mut settings = Digest::new();
    for key in [crate::settings::IP_RANGES, crate::settings::RETENTION] {
        settings.json(&store.setting(key)?)?;
    }
    out.push(("console settings".to_owned(), settings.finish()));
    Ok(out)
}

/// The digest of a set: its items' JSON, sorted (for lists whose order among equals the
/// backends leave open, such as groups of the same name).
fn each_sorted<T: Serialize>(items: &[T]) -> Result<Figure, StoreError> {
    let mut json = items
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("cannot write an item as JSON: {e}")))?;
    json.sort_unstable();
    let mut d = Digest::new();
    for item in &json {
        d.add(&[item]);
    }
    Ok(d.finish())
}

/// The digest of a list, item by item.
fn each<T: Serialize>(items: Vec<T>) -> Result<Figure, StoreError> {
    let mut d = Digest::new();
    for item in &items {
        d.json(item)?;
    }
    Ok(d.finish())
}
