//! The Graph calls behind each governance action (contract §4.10). Every call made is recorded as
//! a step, with Graph's answer, so the governance log shows exactly what happened.

use reqwest::Method;
use serde_json::{Value, json};
use skylight_model::ActionStep;

use super::{Answer, GraphClient, GraphError, segment};

/// A user's state, as the action needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    /// Object id.
    pub id: String,
    /// UPN.
    pub upn: String,
    /// Sign-in allowed.
    pub enabled: bool,
    /// Synced from on-premises Active Directory.
    pub synced: bool,
    /// A guest.
    pub guest: bool,
}

/// Calls Graph and records the call in `steps` (a dry run records it without calling).
pub struct Recorder<'a> {
    client: &'a GraphClient,
    /// The calls made so far.
    pub steps: Vec<ActionStep>,
    dry_run: bool,
}

impl<'a> Recorder<'a> {
    /// A recorder over `client`; with `dry_run`, writes are recorded but not sent.
    pub fn new(client: &'a GraphClient, dry_run: bool) -> Recorder<'a> {
        Recorder {
            client,
            steps: Vec::new(),
            dry_run,
        }
    }

    /// A read: always sent (a dry run needs to know what it would change), not recorded.
    async fn read(&self, path: &str) -> Result<Value, GraphError> {
        self.client.get(path).await
    }

    /// Every item of a collection (a read).
    async fn read_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        self.client.get_all(path).await
    }

    /// A write: recorded, and sent unless this is a dry run. A 404 on a DELETE counts as done
    /// (a retry after a lost answer finds the object already gone).
    async fn write(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Answer>, GraphError> {
        let log_path = self.client.log_path(&self.client.url(path));
        if self.dry_run {
            self.steps.push(ActionStep {
                method: method.to_string(),
                path: log_path,
                status: None,
                note: Some("dry run: not sent".into()),
            });
            return Ok(None);
        }
        let deleting = method == Method::DELETE;
        match self.client.call(method.clone(), path, body.as_ref()).await {
            Ok(a) => {
                self.steps.push(ActionStep {
                    method: method.to_string(),
                    path: log_path,
                    status: Some(a.status),
                    note: None,
                });
                Ok(Some(a))
            }
            Err(e) if deleting && e.is_not_found() => {
                self.steps.push(ActionStep {
                    method: method.to_string(),
                    path: log_path,
                    status: e.status(),
                    note: Some("already gone".into()),
                });
                Ok(None)
            }
            Err(e) => {
                self.steps.push(ActionStep {
                    method: method.to_string(),
                    path: log_path,
                    status: e.status(),
                    note: Some(e.code().map_or_else(|| e.to_string(), str::to_owned)),
                });
                Err(e)
            }
        }
    }

    /// Notes a step that was skipped because the tenant is already as asked.
    fn skipped(&mut self, method: &str, path: &str, why: &str) {
        self.steps.push(ActionStep {
            method: method.into(),
            path: self.client.log_path(&self.client.url(path)),
            status: None,
            note: Some(why.into()),
        });
    }

    /// The user's current state.
    pub async fn user(&self, key: &str) -> Result<UserState, GraphError> {
        let u = self
            .read(&format!(
                "/users/{}?$select=id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,userType",
                segment(key)
            ))
            .await?;
        let id = u["id"]
            .as_str()
            .ok_or_else(|| GraphError::Malformed("a user without an id".into()))?;
        Ok(UserState {
            id: id.to_owned(),
            upn: u["userPrincipalName"].as_str().unwrap_or(id).to_owned(),
            enabled: u["accountEnabled"].as_bool() != Some(false),
            synced: u["onPremisesSyncEnabled"].as_bool() == Some(true),
            guest: u["userType"].as_str() == Some("Guest"),
        })
    }

    /// Sets `accountEnabled`, unless it already has that value.
    pub async fn set_enabled(&mut self, user: &UserState, enabled: bool) -> Result<(), GraphError> {
        let path = format!("/users/{}", segment(&user.id));
        if user.enabled == enabled {
            let why = if enabled {
                "already enabled"
            } else {
                "already disabled"
            };
            self.skipped("PATCH", &path, why);
            return Ok(());
        }
        self.write(
            Method::PATCH,
            &path,
            Some(json!({ "accountEnabled": enabled })),
        )
        .await
        .map(drop)
    }

    /// Revokes the user's refresh tokens and session cookies.
    pub async fn revoke_sessions(&mut self, user_id: &str) -> Result<(), GraphError> {
        self.write(
            Method::POST,
            &format!("/users/{}/revokeSignInSessions", segment(user_id)),
            None,
        )
        .await
        .map(drop)
    }

    /// Marks the user compromised in Identity Protection.
    pub async fn confirm_compromised(&mut self, user_id: &str) -> Result<(), GraphError> {
        self.write(
            Method::POST,
            "/identityProtection/riskyUsers/confirmCompromised",
            Some(json!({ "userIds": [user_id] })),
        )
        .await
        .map(drop)
    }

    /// Whether the service principal is enabled.
    pub async fn app_enabled(&self, sp_id: &str) -> Result<bool, GraphError> {
        let sp = self
            .read(&format!(
                "/servicePrincipals/{}?$select=id,accountEnabled",
                segment(sp_id)
            ))
            .await?;
        Ok(sp["accountEnabled"].as_bool() != Some(false))
    }

    /// Disables (or enables) the service principal, unless it already is.
    pub async fn set_app_enabled(&mut self, sp_id: &str, enabled: bool) -> Result<(), GraphError> {
        let path = format!("/servicePrincipals/{}", segment(sp_id));
        if self.app_enabled(sp_id).await? == enabled {
            self.skipped(
                "PATCH",
                &path,
                if enabled {
                    "already enabled"
                } else {
                    "already disabled"
                },
            );
            return Ok(());
        }
        self.write(
            Method::PATCH,
            &path,
            Some(json!({ "accountEnabled": enabled })),
        )
        .await
        .map(drop)
    }

    /// Deletes every delegated grant and application permission of the app, then disables it.
    pub async fn revoke_app(&mut self, sp_id: &str) -> Result<(), GraphError> {
        let grants = self
            .read_all(&format!(
                "/oauth2PermissionGrants?$filter=clientId eq '{}'",
                sp_id.replace('\'', "''")
            ))
            .await?;
        for g in grants {
            if let Some(id) = g["id"].as_str() {
                self.write(
                    Method::DELETE,
                    &format!("/oauth2PermissionGrants/{}", segment(id)),
                    None,
                )
                .await?;
            }
        }
        let assignments = self
            .read_all(&format!(
                "/servicePrincipals/{}/appRoleAssignments",
                segment(sp_id)
            ))
            .await?;
        for a in assignments {
            if let Some(id) = a["id"].as_str() {
                self.write(
                    Method::DELETE,
                    &format!(
                        "/servicePrincipals/{}/appRoleAssignments/{}",
                        segment(sp_id),
                        segment(id)
                    ),
                    None,
                )
                .await?;
            }
        }
        self.set_app_enabled(sp_id, false).await
    }
}
