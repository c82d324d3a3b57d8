//! OAuth apps (contract §4.8): service principals, the delegated grants (consents) they hold, and
//! the application permissions (app roles) assigned to them, with Skylight's permission level.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value;
use skylight_model::{AppGrant, AppReview, AppRoleGrant, OAuthApp, PermissionLevel};

use super::directory::time;
use super::{GraphClient, GraphError, segment};

/// The tenants that own Microsoft's first-party apps.
const MICROSOFT_TENANTS: [&str; 2] = [
    "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    "72f988bf-86f1-41af-91ab-2d7cd011db47",
];

const SP_SELECT: &str = "id,appId,displayName,appDisplayName,appOwnerOrganizationId,publisherName,\
     verifiedPublisher,servicePrincipalType,accountEnabled,appRoles,createdDateTime";

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Reads every service principal, grant and application permission, and returns the apps
/// (service principals of type `Application`, and any other that holds a permission).
pub async fn read_apps(client: &GraphClient, tenant: &str) -> Result<Vec<OAuthApp>, GraphError> {
    let sps = client
        .get_all(&format!("/servicePrincipals?$select={SP_SELECT}&$top=999"))
        .await?;
    let grants = client.get_all("/oauth2PermissionGrants").await?;
    let by_id: HashMap<&str, &Value> = sps
        .iter()
        .filter_map(|sp| Some((sp["id"].as_str()?, sp)))
        .collect();

    let mut delegated: HashMap<String, Vec<AppGrant>> = HashMap::new();
    for g in &grants {
        let (Some(id), Some(client_id)) = (text(&g["id"]), text(&g["clientId"])) else {
            continue;
        };
        let resource_id = text(&g["resourceId"]).unwrap_or_default();
        let all = g["consentType"].as_str() == Some("AllPrincipals");
        delegated.entry(client_id).or_default().push(AppGrant {
            id,
            principal_id: if all { None } else { text(&g["principalId"]) },
            resource: by_id
                .get(resource_id.as_str())
                .and_then(|r| text(&r["displayName"])),
            resource_id,
            scopes: g["scope"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        });
    }

    // Application permissions, read from the few resources that define app roles.
    let mut roles: HashMap<String, Vec<AppRoleGrant>> = HashMap::new();
    for resource in &sps {
        let defined: HashMap<&str, &str> = resource["appRoles"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|role| {
                        role["allowedMemberTypes"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|x| x == "Application"))
                    })
                    .filter_map(|role| Some((role["id"].as_str()?, role["value"].as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        if defined.is_empty() {
            continue;
        }
        let Some(resource_id) = text(&resource["id"]) else {
            continue;
        };
        let assigned = client
            .get_all(&format!(
                "/servicePrincipals/{}/appRoleAssignedTo?$top=999",
                segment(&resource_id)
            ))
            .await?;
        for a in assigned {
            if a["principalType"].as_str() != Some("ServicePrincipal") {
                continue;
            }
            let (Some(id), Some(principal)) = (text(&a["id"]), text(&a["principalId"])) else {
                continue;
            };
            let role_id = text(&a["appRoleId"]).unwrap_or_default();
            roles.entry(principal).or_default().push(AppRoleGrant {
                id,
                resource_id: resource_id.clone(),
                resource: text(&a["resourceDisplayName"])
                    .or_else(|| text(&resource["displayName"])),
                permission: defined
                    .get(role_id.as_str())
                    .map(|v| (*v).to_owned())
                    .unwrap_or(role_id),
                created: time(&a["createdDateTime"]),
            });
        }
    }

    let mut apps = Vec::new();
    for sp in &sps {
        let Some(id) = text(&sp["id"]) else { continue };
        let owner = sp["appOwnerOrganizationId"].as_str().unwrap_or_default();
        let first_party = MICROSOFT_TENANTS.contains(&owner);
        let grants = delegated.remove(&id).unwrap_or_default();
        let app_roles = roles.remove(&id).unwrap_or_default();
        let is_application = sp["servicePrincipalType"]
            .as_str()
            .is_none_or(|t| t == "Application");
        // Managed identities and legacy principals are not OAuth apps; Microsoft's own apps are
        // kept (listed with `--microsoft`) so that their grants are seen too.
        if grants.is_empty() && app_roles.is_empty() && !is_application {
            continue;
        }
        let assigned_times = app_roles.iter().filter_map(|r| r.created);
        let first_consent = assigned_times
            .clone()
            .min()
            .or(time(&sp["createdDateTime"]));
        let last_consent = assigned_times.max().or(first_consent);
        let mut app = OAuthApp {
            tenant: tenant.to_owned(),
            app_id: text(&sp["appId"]).unwrap_or_default(),
            name: text(&sp["displayName"])
                .or_else(|| text(&sp["appDisplayName"]))
                .unwrap_or_else(|| id.clone()),
            id,
            publisher: text(&sp["publisherName"]),
            verified_publisher: text(&sp["verifiedPublisher"]["displayName"]),
            first_party,
            enabled: sp["accountEnabled"].as_bool() != Some(false),
            grants,
            app_roles,
            level: PermissionLevel::Low,
            consented_users: 0,
            all_users: false,
            first_consent,
            last_consent,
            review: AppReview::Unreviewed,
            synced: Utc::now(),
        };
        app.summarise();
        apps.push(app);
    }
    Ok(apps)
}
