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
    /// The full normalised activity (objects, properties, failure reason), made when first
    /// asked for: most detections need only the stored columns.
    activity: OnceCell<Activity>,
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
    /// Builds the event (the full activity is made later, if a detection asks for it).
    pub fn new(stored: StoredActivity) -> Event {
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
            activity: OnceCell::new(),
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

    /// The normalised activity; a record that no longer normalises (it did at ingest) gets one
    /// made of its stored columns, so that detections still see it.
    pub fn activity(&self) -> &Activity {
        self.activity.get_or_init(|| {
            skylight_normalize::normalize(&self.raw).unwrap_or_else(|_| Activity {
                id: self.row.id.clone(),
                time: self.row.time,
                organization_id: None,
                app: self.row.app.unwrap_or(skylight_model::App::Unknown),
                record_type: self.row.record_type,
                record_type_name: String::new(),
                workload: self.row.workload.clone(),
                operation: self.row.operation.clone().unwrap_or_default(),
                category: self.row.category.unwrap_or(skylight_model::Category::Other),
                actor: skylight_model::Actor {
                    name: self.row.user.clone(),
                    id: None,
                    kind: self
                        .row
                        .actor_kind
                        .unwrap_or(skylight_model::ActorKind::Unknown),
                    impersonating: None,
                },
                ip: None,
                port: None,
                ip_text: None,
                user_agent: self.row.user_agent.clone(),
                device: None,
                objects: Vec::new(),
                outcome: self.row.result.unwrap_or(skylight_model::Outcome::Unknown),
                failure_reason: None,
                admin: self.row.admin,
                external_user: self.row.external_user,
                impersonated: self.row.impersonated,
                properties: Default::default(),
            })
        })
    }

    /// The record's Id.
    pub fn id(&self) -> &str {
        &self.row.id
    }

    /// Whether the activity failed.
    pub fn failed(&self) -> bool {
        self.row.result == Some(skylight_model::Outcome::Failure)
    }

    /// A flattened property, looked up case-insensitively.
    pub fn property(&self, name: &str) -> Option<&str> {
        let properties = &self.activity().properties;
        properties.get(name).map(String::as_str).or_else(|| {
            properties
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
            .unwrap_or_else(|| &self.activity().operation)
    }
}
