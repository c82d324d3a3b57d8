//! Directory sync: users and groups through delta queries (contract §4.2–4.4), the direct
//! members of every group that changed, directory roles, Identity Protection's risky users and,
//! with them, the OAuth apps. Each round is committed in one transaction with its delta links.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use skylight_model::{DirectoryGroup, DirectoryUser, GroupKind, GroupMember};
use skylight_store::{DirectoryChanges, RoleMembers, Store, StoreError, UserRisk};

use super::{GraphClient, GraphError, segment};

/// The user properties read (the default set lacks `accountEnabled` and the others).
const USER_SELECT: &str = "id,displayName,userPrincipalName,mail,accountEnabled,onPremisesSyncEnabled,userType,createdDateTime";
/// The group properties read; `members` makes a membership change show the group in the delta.
const GROUP_SELECT: &str =
    "id,displayName,mail,mailEnabled,securityEnabled,groupTypes,onPremisesSyncEnabled,members";

/// Cursor names in the store.
const USERS: &str = "users";
const GROUPS: &str = "groups";

/// Why a sync round failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A Graph call failed for good.
    #[error("{what}: {source}")]
    Graph {
        /// What was being read.
        what: &'static str,
        /// The Graph permission that call needs.
        permission: &'static str,
        /// The failure.
        source: GraphError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    fn graph(what: &'static str, permission: &'static str) -> impl FnOnce(GraphError) -> SyncError {
        move |source| SyncError::Graph {
            what,
            permission,
            source,
        }
    }

    /// A failed read of the files component.
    pub(crate) fn graph_files(what: &'static str) -> impl FnOnce(GraphError) -> SyncError {
        Self::graph(what, "Files.Read.All and Sites.Read.All")
    }

    /// What the administrator should do about it.
    pub fn remediation(&self) -> crate::remediation::Remediation {
        match self {
            SyncError::Graph {
                permission, source, ..
            } => source.remediation(permission),
            SyncError::Store(_) => crate::remediation::Remediation {
                kind: "store",
                message: "Skylight could not write its database; check the disk and the data \
                          directory's permissions."
                    .into(),
            },
        }
    }
}

/// What one round brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Users added or changed.
    pub users: usize,
    /// Users removed.
    pub removed_users: usize,
    /// Groups added or changed.
    pub groups: usize,
    /// Groups removed.
    pub removed_groups: usize,
    /// OAuth apps now known.
    pub apps: usize,
    /// A delta link had expired: users or groups were enumerated again from scratch.
    pub resynced: bool,
    /// Parts that could not be read (missing licence or permission), each with what to do.
    pub warnings: Vec<String>,
}

/// Reads a Graph timestamp.
pub(crate) fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A user as Graph returns it.
pub fn user_from(tenant: &str, u: &Value) -> Option<DirectoryUser> {
    let id = text(&u["id"])?;
    let upn = text(&u["userPrincipalName"]).unwrap_or_else(|| id.clone());
    Some(DirectoryUser {
        tenant: tenant.to_owned(),
        display_name: text(&u["displayName"]).unwrap_or_else(|| upn.clone()),
        upn,
        id,
        mail: text(&u["mail"]),
        account_enabled: u["accountEnabled"].as_bool(),
        user_type: text(&u["userType"]).unwrap_or_else(|| "Member".into()),
        on_premises_synced: u["onPremisesSyncEnabled"].as_bool() == Some(true),
        created: time(&u["createdDateTime"]),
        roles: Vec::new(),
        risk_level: None,
        risk_state: None,
        synced: Utc::now(),
    })
}

fn group_from(tenant: &str, g: &Value) -> Option<DirectoryGroup> {
    let id = text(&g["id"])?;
    let unified = g["groupTypes"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Unified")));
    let kind = if unified {
        GroupKind::Microsoft365
    } else if g["securityEnabled"].as_bool() == Some(true) {
        GroupKind::Security
    } else if g["mailEnabled"].as_bool() == Some(true) {
        GroupKind::Distribution
    } else {
        GroupKind::Other
    };
    Some(DirectoryGroup {
        tenant: tenant.to_owned(),
        display_name: text(&g["displayName"]).unwrap_or_else(|| id.clone()),
        id,
        mail: text(&g["mail"]),
        kind,
        on_premises_synced: g["onPremisesSyncEnabled"].as_bool() == Some(true),
        direct_members: 0,
        user_members: 0,
        synced: Utc::now(),
    })
}

/// A directory object in a member list: its kind from `@odata.type`.
fn member_from(m: &Value) -> Option<GroupMember> {
    let id = text(&m["id"])?;
    let kind = m["@odata.type"]
        .as_str()
        .map(|t| t.trim_start_matches("#microsoft.graph.").to_owned())
        .unwrap_or_else(|| "unknown".into());
    Some(GroupMember {
        id,
        kind,
        name: text(&m["userPrincipalName"]).or_else(|| text(&m["displayName"])),
    })
}

fn is_removed(v: &Value) -> bool {
    v.get("@removed").is_some()
}

/// One delta round from the stored link, or a full enumeration when there is none or it expired.
/// Returns the items, the new delta link, and whether it was a full enumeration.
async fn delta(
    client: &GraphClient,
    stored: Option<String>,
    first: &str,
    report: &mut SyncReport,
) -> Result<(Vec<Value>, String, bool), GraphError> {
    if let Some(link) = stored {
        match client.delta_round(&link).await {
            Ok((items, next)) => return Ok((items, next, false)),
            Err(e) if e.needs_resync() => {
                tracing::info!(error = %e, "delta link expired; enumerating again");
                report.resynced = true;
            }
            Err(e) => return Err(e),
        }
    }
    let (items, next) = client.delta_round(first).await?;
    Ok((items, next, true))
}

pub(crate) use crate::on_store;

/// One round of directory and app sync for `tenant`, committed with its delta links.
pub async fn sync(
    client: &GraphClient,
    store: &Arc<dyn Store>,
    tenant: &str,
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let mut changes = DirectoryChanges::default();
    let (t, r) = (tenant.to_owned(), tenant.to_owned());
    let users_link = on_store(store, move |s| s.directory_cursor(&t, USERS)).await?;
    let groups_link = on_store(store, move |s| s.directory_cursor(&r, GROUPS)).await?;

    let (items, link, full) = delta(
        client,
        users_link,
        &format!("/users/delta?$select={USER_SELECT}"),
        &mut report,
    )
    .await
    .map_err(SyncError::graph("users", "User.Read.All"))?;
    changes.all_users = full;
    // The same object can appear more than once in a round (replays, delete then restore): the
    // last occurrence is its state (contract §4.2).
    let mut last: HashMap<String, &Value> = HashMap::new();
    for u in &items {
        if let Some(id) = text(&u["id"]) {
            last.insert(id, u);
        }
    }
    for (id, u) in last {
        if is_removed(u) {
            changes.removed_users.push(id);
        } else if let Some(user) = user_from(tenant, u) {
            changes.users.push(user);
        }
    }
    changes.cursors.push((USERS.into(), Some(link)));

    let (items, link, full) = delta(
        client,
        groups_link,
        &format!("/groups/delta?$select={GROUP_SELECT}"),
        &mut report,
    )
    .await
    .map_err(SyncError::graph("groups", "GroupMember.Read.All"))?;
    changes.all_groups = full;
    // A group can appear on several pages (its members split) or be removed and restored: the
    // last occurrence is its state.
    let mut last: HashMap<String, &Value> = HashMap::new();
    for g in &items {
        if let Some(id) = text(&g["id"]) {
            last.insert(id, g);
        }
    }
    let mut changed: Vec<String> = Vec::new();
    for (id, g) in last {
        if is_removed(g) {
            changes.removed_groups.push(id);
        } else if let Some(group) = group_from(tenant, g) {
            changed.push(group.id.clone());
            changes.groups.push(group);
        }
    }
    changed.sort();
    // Members as they are now, whatever `members@delta` said: a page may hold only part of them.
    for id in changed {
        let members = match client
            .get_all(&format!(
                "/groups/{}/members?$select=id,displayName,userPrincipalName&$top=999",
                segment(&id)
            ))
            .await
        {
            Ok(m) => m,
            // Deleted between the delta and now: the next round says so.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(SyncError::graph("group members", "GroupMember.Read.All")(e)),
        };
        changes
            .members
            .push((id, members.iter().filter_map(member_from).collect()));
    }
    changes.cursors.push((GROUPS.into(), Some(link)));

    changes.roles = match roles(client).await {
        Ok(r) => Some(r),
        Err(e) => {
            report.warnings.push(format!(
                "directory roles not read ({e}): {}",
                e.remediation("RoleManagement.Read.Directory").message
            ));
            None
        }
    };
    changes.risks = match client.get_all("/identityProtection/riskyUsers").await {
        Ok(items) => Some(
            items
                .iter()
                .filter_map(|r| {
                    Some(UserRisk {
                        user_id: text(&r["id"])?,
                        level: text(&r["riskLevel"]).unwrap_or_else(|| "none".into()),
                        state: text(&r["riskState"]).unwrap_or_else(|| "none".into()),
                    })
                })
                .collect(),
        ),
        Err(e) => {
            report.warnings.push(format!(
                "risky users not read ({e}): {}",
                e.remediation("IdentityRiskyUser.Read.All").message
            ));
            None
        }
    };
    match super::apps::read_apps(client, tenant).await {
        Ok(apps) => {
            report.apps = apps.len();
            changes.apps = Some(apps);
        }
        Err(e) => report.warnings.push(format!(
            "OAuth apps not read ({e}): {}",
            e.remediation("Application.Read.All and Directory.Read.All")
                .message
        )),
    }

    report.users = changes.users.len();
    report.removed_users = changes.removed_users.len();
    report.groups = changes.groups.len();
    report.removed_groups = changes.removed_groups.len();
    let t = tenant.to_owned();
    on_store(store, move |s| s.commit_directory(&t, &changes)).await?;
    Ok(report)
}

/// Every activated directory role with its members.
async fn roles(client: &GraphClient) -> Result<Vec<RoleMembers>, GraphError> {
    let mut out = Vec::new();
    for r in client
        .get_all("/directoryRoles?$select=id,displayName")
        .await?
    {
        let Some(id) = text(&r["id"]) else { continue };
        let members = client
            .get_all(&format!(
                "/directoryRoles/{}/members?$select=id",
                segment(&id)
            ))
            .await?;
        out.push(RoleMembers {
            name: text(&r["displayName"]).unwrap_or_else(|| id.clone()),
            id,
            members: members.iter().filter_map(|m| text(&m["id"])).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_groups_and_members_read_from_graph_shapes() {
        let u = serde_json::json!({"id": "5d0b", "displayName": "Bob (Fabrikam)",
            "userPrincipalName": "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "accountEnabled": false, "onPremisesSyncEnabled": null, "userType": "Guest"});
        let user = user_from("t", &u).expect("user");
        assert!(user.is_guest());
        assert_eq!(user.account_enabled, Some(false));
        assert!(!user.on_premises_synced);
        let g = serde_json::json!({"id": "g", "displayName": "Sales",
            "groupTypes": ["Unified"], "securityEnabled": false, "mailEnabled": true});
        assert_eq!(
            group_from("t", &g).map(|g| g.kind),
            Some(GroupKind::Microsoft365)
        );
        let m = serde_json::json!({"@odata.type": "#microsoft.graph.group", "id": "n",
            "displayName": "Nested"});
        assert_eq!(
            member_from(&m),
            Some(GroupMember {
                id: "n".into(),
                kind: "group".into(),
                name: Some("Nested".into())
            })
        );
        assert!(is_removed(
            &serde_json::json!({"id": "x", "@removed": {"reason": "changed"}})
        ));
    }
}
