//! What detection looks at: a stored activity, normalised again from its raw record so that
//! objects and flattened properties are at hand, with the enrichment stored at ingest.

use std::cell::OnceCell;

use serde_json::{Map, Value};
use skylight_model::{Activity, ActivityRow};
use skylight_store::StoredActivity;

/// One activity under evaluation.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its place in the store's order.
    pub seq: i64,
    /// The stored columns (tenant, enrichment).
    pub row: ActivityRow,
    /// The full normalised activity (objects, properties, failure reason).
    pub activity: Activity,
    /// The raw record, for free text.
    pub raw: Vec<u8>,
    /// Time in milliseconds since the epoch (0 when the record had none).
    pub ms: i64,
    /// The acting user, lowercase (empty when the record names none).
    pub user: String,
    /// The raw record's top-level fields, parsed when first asked for.
    fields: OnceCell<Option<Map<String, Value>>>,
}

impl Event {
    /// Builds the event; a record that no longer normalises (it did at ingest) keeps its stored
    /// columns and an activity with only its Id, so that policies on columns still see it.
    pub fn new(stored: StoredActivity) -> Event {
        let activity = skylight_normalize::normalize(&stored.raw).unwrap_or_else(|_| Activity {
            id: stored.row.id.clone(),
            time: stored.row.time,
            organization_id: None,
            app: stored.row.app.unwrap_or(skylight_model::App::Unknown),
            record_type: stored.row.record_type,
            record_type_name: String::new(),
            workload: stored.row.workload.clone(),
            operation: stored.row.operation.clone().unwrap_or_default(),
            category: stored
                .row
                .category
                .unwrap_or(skylight_model::Category::Other),
            actor: skylight_model::Actor {
                name: stored.row.user.clone(),
                id: None,
                kind: stored
                    .row
                    .actor_kind
                    .unwrap_or(skylight_model::ActorKind::Unknown),
                impersonating: None,
            },
            ip: None,
            port: None,
            ip_text: None,
            user_agent: stored.row.user_agent.clone(),
            device: None,
            objects: Vec::new(),
            outcome: stored
                .row
                .result
                .unwrap_or(skylight_model::Outcome::Unknown),
            failure_reason: None,
            admin: stored.row.admin,
            external_user: stored.row.external_user,
            impersonated: stored.row.impersonated,
            properties: Default::default(),
        });
        let ms = stored.row.time.map_or(0, |t| t.timestamp_millis());
        let user = stored
            .row
            .user
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Event {
            seq: stored.seq,
            row: stored.row,
            activity,
            raw: stored.raw,
            ms,
            user,
            fields: OnceCell::new(),
        }
    }

    /// A top-level field of the raw record as text (strings as they are, numbers and booleans
    /// written out), matched case-insensitively when the exact name is absent.
    pub fn field(&self, name: &str) -> Option<String> {
        let fields = self
            .fields
            .get_or_init(|| serde_json::from_slice(&self.raw).ok())
            .as_ref()?;
        let v = fields.get(name).or_else(|| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A flattened property, looked up case-insensitively.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.activity
            .properties
            .get(name)
            .map(String::as_str)
            .or_else(|| {
                self.activity
                    .properties
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            })
    }

    /// The operation, as stored.
    pub fn operation(&self) -> &str {
        self.row
            .operation
            .as_deref()
            .unwrap_or(&self.activity.operation)
    }
}
