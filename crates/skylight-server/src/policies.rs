//! `/api/v1/policies`: activity policies defined through the API (files and built-ins are read
//! by detection from the configuration). Detection notices a change within a second or two and
//! runs the new set from where it got.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use skylight_detect::PolicyConfig;
use utoipa::ToSchema;

use crate::AppState;
use crate::activities::ApiError;
use crate::alerts::{Refusal, blocking, json_body};
use crate::auth::{Principal, audit};

/// Policies defined through the API.
#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    /// Each policy as it was put (the same keys as a `[[policy]]` in a policy file).
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<serde_json::Value>,
}

/// The policies defined through the API.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    operation_id = "list_policies",
    responses((status = 200, description = "The policies", body = PolicyList))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<PolicyList>, Refusal> {
    let stored = blocking(&state, |store| store.stored_policies()).await?;
    let policies = stored
        .into_iter()
        .filter_map(|(_, body)| serde_json::from_str(&body).ok())
        .collect();
    Ok(Json(PolicyList { policies }))
}

/// Creates or replaces a policy (JSON with the keys of a `[[policy]]`; `id` must be the path's).
#[utoipa::path(
    put,
    path = "/api/v1/policies/{id}",
    operation_id = "put_policy",
    params(("id" = String, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "The policy, as stored"),
        (status = 400, description = "Not a valid policy (the message says why)", body = ApiError),
        (status = 409, description = "The id belongs to a built-in policy or detection", body = ApiError),
        (status = 415, description = "The body is not `application/json`", body = ApiError),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PolicyConfig>, Refusal> {
    let config: PolicyConfig = json_body(&headers, &body)?;
    if config.id != id {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("the body's id `{}` is not the path's `{id}`", config.id),
        ));
    }
    save(&state, &who, config).await.map(Json)
}

/// Checks a policy and stores it (created or replaced), recording it in the audit log; the API
/// and the console's policy form both come here.
pub(crate) async fn save(
    state: &AppState,
    who: &Principal,
    config: PolicyConfig,
) -> Result<PolicyConfig, Refusal> {
    let id = config.id.clone();
    let built_in = skylight_detect::policy::built_in()
        .iter()
        .any(|p| p.rule.id == id)
        || skylight_detect::anomaly::CATALOGUE
            .iter()
            .any(|c| c.0 == id);
    if built_in {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            format!("`{id}` is a built-in policy or detection: choose another id"),
        ));
    }
    let policy = skylight_detect::ActivityPolicy::new(config)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let text = serde_json::to_string(&policy.config)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let key = id.clone();
    blocking(state, move |store| store.put_policy(&key, &text)).await?;
    let detail = format!("enabled {}", policy.config.enabled);
    audit(state, who, "policy.put", Some(id), Some(detail)).await;
    Ok(policy.config)
}

/// Deletes a policy defined through the API (its alerts stay).
#[utoipa::path(
    delete,
    path = "/api/v1/policies/{id}",
    operation_id = "delete_policy",
    params(("id" = String, Path, description = "The policy's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such policy", body = ApiError),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    let key = id.clone();
    if blocking(&state, move |store| store.delete_policy(&key)).await? {
        audit(&state, &who, "policy.delete", Some(id), None).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no policy defined through the API has the id `{id}`"),
        ))
    }
}
