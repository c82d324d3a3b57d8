//! Content published while the simulator runs: the audit records of Graph writes and of the
//! directory and file changes tests ask for. Unlike the planned feed, these cannot be derived
//! from the seed, so they are kept; each write's records of one content type make one blob,
//! published after a delay, as Microsoft publishes an action's record minutes after it.

use chrono::{DateTime, Duration, Utc};

use super::ids::BlobKey;
use super::{BlobMeta, Injected, RETENTION};
use crate::catalog::ContentType;

/// Shards at or above this number are runtime blobs; planned blobs use the user shards below it,
/// so the two never share a content id.
pub const FIRST_SHARD: u32 = 5000;

/// One blob of runtime content.
#[derive(Debug, Clone)]
pub struct RuntimeBlob {
    /// Identity and times, in the planned feed's shape so listing and retrieval treat both alike.
    pub meta: BlobMeta,
    /// The records, serialised.
    pub records: Vec<Injected>,
}

/// Every runtime blob, in publication order.
#[derive(Debug, Default)]
pub struct RuntimeFeed {
    blobs: Vec<RuntimeBlob>,
    next: u32,
}

impl RuntimeFeed {
    /// Adds a blob of `ct` records whose events happened in `slot`, published at `created`.
    pub fn publish(
        &mut self,
        ct: ContentType,
        slot: i64,
        created: DateTime<Utc>,
        records: Vec<Injected>,
    ) -> BlobMeta {
        let shard = FIRST_SHARD + self.next % FIRST_SHARD;
        self.next = self.next.wrapping_add(1);
        let meta = BlobMeta {
            key: BlobKey { ct, slot, shard },
            created,
            expiration: created + Duration::seconds(RETENTION),
            available: created,
            base: 0,
            sweep: 0,
            injected: records.len() as u32,
        };
        self.blobs.push(RuntimeBlob { meta, records });
        meta
    }

    /// Blobs of `ct` available by `now` whose `contentCreated` lies in `[from, to)`.
    pub fn created_in(
        &self,
        ct: ContentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<BlobMeta> {
        self.blobs
            .iter()
            .map(|b| b.meta)
            .filter(|m| m.key.ct == ct && m.created >= from && m.created < to && m.available <= now)
            .collect()
    }

    /// The blob with this key and publication time.
    pub fn get(&self, key: BlobKey, created: DateTime<Utc>) -> Option<&RuntimeBlob> {
        self.blobs
            .iter()
            .find(|b| b.meta.key == key && b.meta.created == created)
    }

    /// Blobs of `ct` that became available in `(since, until]` (webhook notifications).
    pub fn available_in(
        &self,
        ct: ContentType,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<BlobMeta> {
        self.blobs
            .iter()
            .map(|b| b.meta)
            .filter(|m| m.key.ct == ct && m.available > since && m.available <= until)
            .collect()
    }

    /// Blobs of `ct` available by `now`.
    pub fn published(&self, ct: ContentType, now: DateTime<Utc>) -> Vec<&RuntimeBlob> {
        self.blobs
            .iter()
            .filter(|b| b.meta.key.ct == ct && b.meta.available <= now)
            .collect()
    }

    /// The JSON array of a blob's records.
    pub fn blob_json(blob: &RuntimeBlob) -> Vec<u8> {
        let mut out = Vec::with_capacity(blob.records.iter().map(|r| r.json.len() + 1).sum());
        out.push(b'[');
        for (i, r) in blob.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&r.json);
        }
        out.push(b']');
        out
    }
}
