//! Service principals, delegated grants and application permissions.

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn oauth_apps_grants_and_assignments_can_be_listed_and_revoked() {
    let g = boot_graph(150).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let state = g.state().await;
    let r = g
        .get("/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'")
        .await
        .json();
    let graph_sp = &r["value"][0];
    assert_eq!(graph_sp["displayName"], "Microsoft Graph");
    let roles = graph_sp["appRoles"].as_array().unwrap();
    assert!(roles.iter().any(
        |x| x["value"] == "Mail.ReadWrite" && x["id"] == "e2a3a72e-5f79-4c64-b1b1-878b674786c9"
    ));
    let (sps, _) = g.all("/servicePrincipals?$top=4").await;
    assert_eq!(
        sps.len(),
        state["servicePrincipals"].as_array().unwrap().len()
    );
    assert!(
        sps.iter()
            .any(|s| s["verifiedPublisher"]["verifiedPublisherId"].is_null()
                && s["appOwnerOrganizationId"] != "f8cdef31-a31e-4b4a-93e4-5f571e91255a")
    );

    let (grants, _) = g.all("/oauth2PermissionGrants?$top=10").await;
    assert_eq!(
        grants.len(),
        state["oauth2PermissionGrants"].as_array().unwrap().len()
    );
    assert!(
        grants
            .iter()
            .any(|x| x["consentType"] == "AllPrincipals" && x["principalId"].is_null())
    );
    assert!(
        grants
            .iter()
            .any(|x| x["scope"].as_str().unwrap().contains("Files.ReadWrite.All"))
    );
    let risky_app = sps
        .iter()
        .find(|s| s["displayName"] == "PDF Converter Pro")
        .unwrap();
    let client = risky_app["id"].as_str().unwrap();
    let (mine, _) = g
        .all(&format!(
            "/oauth2PermissionGrants?$filter=clientId eq '{client}'"
        ))
        .await;
    assert!(!mine.is_empty() && mine.iter().all(|x| x["clientId"] == client));

    // Partial revoke, then revoke.
    let gid = mine[0]["id"].as_str().unwrap();
    assert_eq!(
        g.patch(
            &format!("/oauth2PermissionGrants/{gid}"),
            json!({"scope": "openid User.Read"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!("/oauth2PermissionGrants/{gid}"))
            .await
            .json()["scope"],
        "openid User.Read"
    );
    assert_eq!(
        g.delete(&format!("/oauth2PermissionGrants/{gid}"))
            .await
            .status,
        204
    );
    assert_graph_error(
        &g.delete(&format!("/oauth2PermissionGrants/{gid}")).await,
        404,
        "Request_ResourceNotFound",
    );
    let rec = g
        .audit()
        .await
        .iter()
        .rev()
        .find(|a| a["operation"] == "Remove delegated permission grant.")
        .cloned()
        .unwrap();
    let full = g
        .fetch_record(rec["id"].as_str().unwrap(), "Audit.AzureActiveDirectory")
        .await;
    assert!(
        full["ModifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == "ServicePrincipal.ObjectID" && m["NewValue"] == client)
    );

    // Ban: disable the service principal.
    assert_eq!(
        g.patch(
            &format!("/servicePrincipals/{client}"),
            json!({"accountEnabled": false})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!(
            "/servicePrincipals/{client}?$select=accountEnabled"
        ))
        .await
        .json()["accountEnabled"],
        false
    );
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "Update service principal."
    );

    // Application permissions: listed both ways; revoking one removes it from both.
    let hr = sps
        .iter()
        .find(|s| s["displayName"] == "HR Connector")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (assigned, _) = g
        .all(&format!("/servicePrincipals/{hr}/appRoleAssignments"))
        .await;
    assert!(assigned.len() >= 3, "{assigned:?}");
    let resource = assigned[0]["resourceId"].as_str().unwrap().to_string();
    let (to, _) = g
        .all(&format!(
            "/servicePrincipals/{resource}/appRoleAssignedTo?$top=5"
        ))
        .await;
    assert!(to.iter().any(|a| a["id"] == assigned[0]["id"]));
    let aid = assigned[0]["id"].as_str().unwrap();
    assert_eq!(
        g.delete(&format!(
            "/servicePrincipals/{resource}/appRoleAssignedTo/{aid}"
        ))
        .await
        .status,
        204
    );
    let (left, _) = g
        .all(&format!("/servicePrincipals/{hr}/appRoleAssignments"))
        .await;
    assert_eq!(left.len(), assigned.len() - 1);
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "Remove app role assignment from service principal."
    );
}
