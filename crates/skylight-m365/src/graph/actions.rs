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

    /// Sends a plain-text mail from the `sender` mailbox (the app needs `Mail.Send`), not kept
    /// in its Sent Items.
    pub async fn send_mail(
        &mut self,
        sender: &str,
        to: &str,
        subject: &str,
        text: &str,
    ) -> Result<(), GraphError> {
        let message = json!({
            "message": {
                "subject": subject,
                "body": {"contentType": "Text", "content": text},
                "toRecipients": [{"emailAddress": {"address": to}}],
            },
            "saveToSentItems": false,
        });
        self.write(
            Method::POST,
            &format!("/users/{}/sendMail", segment(sender)),
            Some(message),
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

    /// A drive item's current state.
    pub async fn item(&self, drive: &str, item: &str) -> Result<Value, GraphError> {
        self.read(&format!(
            "/drives/{}/items/{}",
            segment(drive),
            segment(item)
        ))
        .await
    }

    /// A drive's description (name, type, web address).
    pub async fn drive(&self, drive: &str) -> Result<Value, GraphError> {
        self.read(&format!("/drives/{}", segment(drive))).await
    }

    /// An item's permissions, own and inherited.
    pub async fn permissions(&self, drive: &str, item: &str) -> Result<Vec<Value>, GraphError> {
        self.read_all(&format!(
            "/drives/{}/items/{}/permissions",
            segment(drive),
            segment(item)
        ))
        .await
    }

    /// Deletes one permission (a link or a person's access).
    pub async fn delete_permission(
        &mut self,
        drive: &str,
        item: &str,
        permission: &str,
    ) -> Result<(), GraphError> {
        self.write(
            Method::DELETE,
            &format!(
                "/drives/{}/items/{}/permissions/{}",
                segment(drive),
                segment(item),
                segment(permission)
            ),
            None,
        )
        .await
        .map(drop)
    }

    /// The id of the folder `name` at the drive's root, created when missing.
    pub async fn ensure_root_folder(
        &mut self,
        drive: &str,
        name: &str,
    ) -> Result<String, GraphError> {
        let path = format!("/drives/{}/root:/{}", segment(drive), segment(name));
        match self.read(&path).await {
            Ok(v) => {
                return v["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| GraphError::Malformed("a folder without an id".into()));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let created = self
            .write(
                Method::POST,
                &format!("/drives/{}/root/children", segment(drive)),
                Some(json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"})),
            )
            .await;
        match created {
            Ok(Some(a)) => a.body["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| GraphError::Malformed("a folder without an id".into())),
            // A dry run: the folder would be made.
            Ok(None) => Ok(format!("{name} (to be created)")),
            // Made meanwhile by someone else.
            Err(e) if e.status() == Some(409) => self.read(&path).await.and_then(|v| {
                v["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| GraphError::Malformed("a folder without an id".into()))
            }),
            Err(e) => Err(e),
        }
    }

    /// Moves an item under `parent` in the same drive, keeping its name unless one is given;
    /// a name already taken there gets a new one (`rename`).
    pub async fn move_item(
        &mut self,
        drive: &str,
        item: &str,
        parent: &str,
        name: Option<&str>,
    ) -> Result<(), GraphError> {
        let mut body = json!({"parentReference": {"id": parent}});
        if let Some(n) = name {
            body["name"] = json!(n);
        }
        self.write(
            Method::PATCH,
            &format!(
                "/drives/{}/items/{}?@microsoft.graph.conflictBehavior=rename",
                segment(drive),
                segment(item)
            ),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Moves an item to the recycle bin.
    pub async fn trash(&mut self, drive: &str, item: &str) -> Result<(), GraphError> {
        self.write(
            Method::DELETE,
            &format!("/drives/{}/items/{}", segment(drive), segment(item)),
            None,
        )
        .await
        .map(drop)
    }

    /// Copies an item into another drive's folder and waits for the copy (a monitor URL). A
    /// name already there is a conflict (409), not a second copy.
    pub async fn copy_item(
        &mut self,
        drive: &str,
        item: &str,
        to_drive: &str,
        to_parent: &str,
    ) -> Result<(), GraphError> {
        let answer = self
            .write(
                Method::POST,
                &format!(
                    "/drives/{}/items/{}/copy?@microsoft.graph.conflictBehavior=fail",
                    segment(drive),
                    segment(item)
                ),
                Some(json!({"parentReference": {"driveId": to_drive, "id": to_parent}})),
            )
            .await?;
        let Some(answer) = answer else {
            return Ok(());
        };
        let Some(monitor) = answer.location else {
            return Ok(());
        };
        for _ in 0..60 {
            let status = self.client.get_anonymous(&monitor).await?;
            // A finished monitor may redirect to the new item itself.
            if status.get("status").is_none() && status["id"].is_string() {
                return Ok(());
            }
            match status["status"].as_str() {
                Some("completed") => return Ok(()),
                Some("failed") => {
                    return Err(GraphError::Graph {
                        status: 500,
                        code: "copyFailed".into(),
                        message: status.to_string(),
                        location: None,
                    });
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
        Err(GraphError::Transport(
            "the copy did not complete within 30 s".into(),
        ))
    }

    /// Uploads a small text file (admin quarantine's placeholder).
    pub async fn upload_text(
        &mut self,
        drive: &str,
        parent: &str,
        name: &str,
        text: &str,
    ) -> Result<(), GraphError> {
        let path = format!(
            "/drives/{}/items/{}:/{}:/content",
            segment(drive),
            segment(parent),
            segment(name)
        );
        let log_path = self.client.log_path(&self.client.url(&path));
        if self.dry_run {
            self.skipped("PUT", &path, "dry run: not sent");
            return Ok(());
        }
        let result = self.client.put_bytes(&path, text.as_bytes()).await;
        self.steps.push(ActionStep {
            method: "PUT".into(),
            path: log_path,
            status: result
                .as_ref()
                .ok()
                .map(|a| a.status)
                .or_else(|| result.as_ref().err().and_then(GraphError::status)),
            note: result
                .as_ref()
                .err()
                .and_then(|e| e.code().map(str::to_owned)),
        });
        result.map(drop)
    }
}
