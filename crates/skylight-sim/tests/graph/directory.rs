//! Users, groups, roles, directory delta, user writes, directory sync, risky users and sign-ins.

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn tokens_for_graph_are_required_and_permissions_are_checked() {
    let g = boot_graph(40).await;
    let none = g.send(Method::GET, "/users", None, None, &[]).await;
    assert_graph_error(&none, 401, "InvalidAuthenticationToken");
    assert!(none.header("www-authenticate").is_some());
    let management = g.sim.token().await;
    let wrong = g
        .send(Method::GET, "/users", Some(&management), None, &[])
        .await;
    assert_graph_error(&wrong, 401, "InvalidAuthenticationToken");
    assert!(wrong.text.contains("audience"), "{}", wrong.text);

    let ok = g
        .send(
            Method::GET,
            "/users",
            Some(&g.token),
            None,
            &[("client-request-id", "abc-123")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("client-request-id").as_deref(), Some("abc-123"));
    assert!(ok.header("request-id").is_some());

    let (id, secret) = other_app(&g.sim, "Skylight (no admin consent)");
    let roleless = token(&g.sim, id, secret, GRAPH_SCOPE).await;
    let r = g
        .send(Method::GET, "/users", Some(&roleless), None, &[])
        .await;
    assert_graph_error(&r, 403, "Authorization_RequestDenied");

    // User.Read.All only: users yes, groups, sites and writes no.
    let (id, secret) = other_app(&g.sim, "Skylight (no DLP permission)");
    let reader = token(&g.sim, id, secret, GRAPH_SCOPE).await;
    assert_eq!(
        g.send(Method::GET, "/users", Some(&reader), None, &[])
            .await
            .status,
        200
    );
    assert_graph_error(
        &g.send(Method::GET, "/groups", Some(&reader), None, &[])
            .await,
        403,
        "Authorization_RequestDenied",
    );
    assert_graph_error(
        &g.send(Method::GET, "/sites/getAllSites", Some(&reader), None, &[])
            .await,
        403,
        "accessDenied",
    );
    let state = g.state().await;
    let u = user_by(&state, |u| {
        u["userType"] == "Member"
            && u["onPremisesSyncEnabled"].is_null()
            && u["roles"].as_array().unwrap().is_empty()
    });
    let r = g
        .send(
            Method::PATCH,
            &format!("/users/{}", u["id"].as_str().unwrap()),
            Some(&reader),
            Some(json!({"accountEnabled": false})),
            &[],
        )
        .await;
    assert_graph_error(&r, 403, "Authorization_RequestDenied");
    assert_eq!(
        g.state().await["users"],
        state["users"],
        "a refused write changes nothing"
    );

    // /me is for delegated tokens only; the /graph/v1.0 alias serves the same Graph.
    assert_eq!(code(&g.get("/me").await), "BadRequest");
    let alias = g
        .sim
        .get(
            &format!("{}/graph/v1.0/users?$top=1", g.sim.url),
            Some(&g.token),
        )
        .await;
    assert_eq!(alias.status, 200, "{}", alias.text);
    assert!(
        alias.json()["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("/graph/v1.0/users?")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_page_with_skiptoken_select_and_filter() {
    let g = boot_graph(60).await;
    let state = g.state().await;
    let first = g.get("/users?$top=7").await;
    let j = first.json();
    assert!(
        j["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/$metadata#users")
    );
    let next = j["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$skiptoken=") && next.contains("$top=7"),
        "{next}"
    );
    let u0 = &j["value"][0];
    assert!(
        u0.get("userPrincipalName").is_some() && u0.get("accountEnabled").is_none(),
        "default set: {u0}"
    );

    let (all, last) = g.all("/users?$top=7&$select=id,userPrincipalName,accountEnabled,userType,onPremisesSyncEnabled").await;
    assert!(last.get("@odata.nextLink").is_none());
    let ids: HashSet<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "no user twice");
    let want: HashSet<&str> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want, "paging returns exactly the directory");
    assert!(
        all.iter()
            .all(|u| u.get("accountEnabled").is_some() && u.get("mail").is_none())
    );

    let (disabled, _) = g
        .all("/users?$filter=accountEnabled eq false&$select=id")
        .await;
    let want_disabled = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["accountEnabled"] == false)
        .count();
    assert_eq!(disabled.len(), want_disabled);
    let (guests, _) = g.all("/users?$filter=userType eq 'Guest'").await;
    assert!(
        !guests.is_empty()
            && guests
                .iter()
                .all(|u| u["userPrincipalName"].as_str().unwrap().contains("#EXT#"))
    );

    assert_graph_error(
        &g.get("/users?$filter=jobTitle ne 'x'").await,
        400,
        "Request_UnsupportedQuery",
    );
    assert_graph_error(
        &g.get("/users?$filter=city eq 'x'").await,
        400,
        "Request_UnsupportedQuery",
    );
    assert_graph_error(&g.get("/users?$top=1000").await, 400, "Request_BadRequest");
    assert_graph_error(
        &g.get("/users?$select=nonsense").await,
        400,
        "Request_BadRequest",
    );
    assert_graph_error(
        &g.get("/users?$skiptoken=forged").await,
        400,
        "Request_BadRequest",
    );
    // Advanced queries need ConsistencyLevel: eventual and $count=true.
    let adv = g
        .send(
            Method::GET,
            "/users?$filter=endswith(mail,'.com')&$count=true",
            Some(&g.token),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(adv.status, 200, "{}", adv.text);
    assert!(adv.json()["@odata.count"].as_u64().is_some());

    // Get by id and by UPN (a guest's, with # and @ percent-encoded).
    let guest = guests[0]["userPrincipalName"].as_str().unwrap();
    let enc = guest.replace('#', "%23");
    let r = g.get(&format!("/users/{enc}?$select=id,userType")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["userType"], "Guest");
    assert_graph_error(
        &g.get("/users/nobody@nowhere.example").await,
        404,
        "Request_ResourceNotFound",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn user_delta_reports_changes_and_removals_and_resyncs_with_410() {
    let g = boot_graph(60).await;
    g.sim_post("/_sim/graph/control", json!({"delta_page_size": 25}))
        .await;
    let (round, last) = g
        .all("/users/delta?$select=id,displayName,accountEnabled,jobTitle")
        .await;
    assert_eq!(round.len(), 60, "the first round lists every user");
    let delta_link = last["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(delta_link.contains("$deltatoken="));

    // Nothing changed: an empty round.
    let (none, again) = g.all(&delta_link).await;
    assert!(none.is_empty(), "{none:?}");
    let delta_link = again["@odata.deltaLink"].as_str().unwrap().to_string();

    let made = g
        .sim_post("/_sim/graph/changes", json!({"count": 6, "kinds": ["user_update", "user_create", "user_delete", "user_disable"]}))
        .await;
    let changes = made["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6, "{made}");
    let (seen, last) = g.all(&delta_link).await;
    let seen_ids: HashSet<&str> = seen.iter().map(|u| u["id"].as_str().unwrap()).collect();
    for ch in changes {
        assert!(
            seen_ids.contains(ch["id"].as_str().unwrap()),
            "{ch} reported in {seen:?}"
        );
    }
    for ch in changes.iter().filter(|c| c["kind"] == "user_delete") {
        let u = seen.iter().find(|u| u["id"] == ch["id"]).unwrap();
        assert_eq!(u["@removed"]["reason"], "changed", "{u}");
    }
    for ch in changes.iter().filter(|c| c["kind"] == "user_update") {
        let u = seen.iter().rev().find(|u| u["id"] == ch["id"]).unwrap();
        assert!(
            u.get("jobTitle").is_some(),
            "the first call's $select is remembered: {u}"
        );
    }
    let newest = last["@odata.deltaLink"].as_str().unwrap().to_string();

    // Graph may report an object twice in a round; with replays on, every page repeats one.
    g.sim_post(
        "/_sim/graph/control",
        json!({"delta_duplicate_probability": 1.0}),
    )
    .await;
    let (replayed, _) = g.all("/users/delta?$select=id").await;
    let unique: HashSet<&str> = replayed.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert!(
        replayed.len() > unique.len(),
        "{} items, {} users",
        replayed.len(),
        unique.len()
    );
    let live = g.state().await["users"].as_array().unwrap().len();
    assert_eq!(
        unique.len(),
        live,
        "a full round still names every user once at least"
    );
    g.sim_post(
        "/_sim/graph/control",
        json!({"delta_duplicate_probability": 0.0}),
    )
    .await;

    // `$deltatoken=latest` starts from now without enumerating.
    let latest = g.get("/users/delta?$deltatoken=latest").await.json();
    assert_eq!(latest["value"].as_array().unwrap().len(), 0);
    assert!(latest["@odata.deltaLink"].is_string());

    // An edited token is unknown; a week-old one expired: both ask for a new round (410).
    let forged = format!("{}x", newest);
    assert_graph_error(&g.get(&forged).await, 410, "syncStateInvalid");
    g.sim.advance(8 * 86_400).await;
    let fresh = token(
        &g.sim,
        g.sim.tenant["client_id"].as_str().unwrap(),
        g.sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    let r = g.send(Method::GET, &newest, Some(&fresh), None, &[]).await;
    assert_graph_error(&r, 410, "syncStateNotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_members_transitive_members_roles_and_group_delta() {
    let g = boot_graph(80).await;
    let state = g.state().await;
    let (groups, _) = g.all("/groups?$top=5").await;
    assert_eq!(groups.len(), state["groups"].as_array().unwrap().len());
    let (unified, _) = g
        .all("/groups?$filter=groupTypes/any(c:c eq 'Unified')")
        .await;
    assert!(!unified.is_empty() && unified.iter().all(|x| x["groupTypes"][0] == "Unified"));

    let cw = state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["displayName"] == "Company Wide")
        .unwrap();
    let id = cw["id"].as_str().unwrap();
    let (direct, _) = g.all(&format!("/groups/{id}/members?$top=3")).await;
    let (trans, _) = g
        .all(&format!("/groups/{id}/transitiveMembers?$top=50"))
        .await;
    assert_eq!(direct.len(), cw["members"].as_array().unwrap().len());
    assert_eq!(
        trans.len(),
        cw["transitiveMembers"].as_array().unwrap().len()
    );
    assert!(
        trans.len() > direct.len() + 10,
        "{} vs {}",
        trans.len(),
        direct.len()
    );
    assert!(
        direct
            .iter()
            .any(|m| m["@odata.type"] == "#microsoft.graph.group")
    );
    let (users_only, _) = g
        .all(&format!(
            "/groups/{id}/transitiveMembers/microsoft.graph.user"
        ))
        .await;
    assert!(
        !users_only.is_empty()
            && users_only
                .iter()
                .all(|m| m["@odata.type"] == "#microsoft.graph.user")
    );

    let (roles, _) = g.all("/directoryRoles").await;
    let ga = roles
        .iter()
        .find(|r| r["displayName"] == "Global Administrator")
        .unwrap();
    assert_eq!(ga["roleTemplateId"], "62e90394-69f5-4237-9190-012177145e10");
    let (members, _) = g
        .all(&format!(
            "/directoryRoles/{}/members",
            ga["id"].as_str().unwrap()
        ))
        .await;
    assert!(!members.is_empty());
    for m in &members {
        let u = user_by(&state, |u| u["id"] == m["id"]);
        assert!(
            u["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "Global Administrator")
        );
    }

    // Group delta: members@delta in the first round, then only the membership changes.
    let (round, last) = g.all("/groups/delta?$select=displayName,members").await;
    assert!(
        round
            .iter()
            .any(|x| x["members@delta"].as_array().is_some_and(|m| !m.is_empty()))
    );
    let link = last["@odata.deltaLink"].as_str().unwrap().to_string();
    let made = g
        .sim_post(
            "/_sim/graph/changes",
            json!({"count": 2, "kinds": ["group_add_member", "group_remove_member"]}),
        )
        .await;
    let (seen, _) = g.all(&link).await;
    for ch in made["changes"].as_array().unwrap() {
        let grp = seen
            .iter()
            .find(|x| x["id"] == ch["id"])
            .unwrap_or_else(|| panic!("{ch} in {seen:?}"));
        let md = grp["members@delta"].as_array().unwrap();
        assert!(!md.is_empty(), "{grp}");
        if ch["kind"] == "group_remove_member" {
            assert!(md.iter().any(|m| m.get("@removed").is_some()), "{grp}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_a_user_changes_state_and_publishes_update_user_once() {
    let g = boot_graph(60).await;
    let state = g.state().await;
    let u = user_by(&state, |u| {
        u["userType"] == "Member"
            && u["accountEnabled"] == true
            && u["onPremisesSyncEnabled"].is_null()
            && u["roles"].as_array().unwrap().is_empty()
    });
    let id = u["id"].as_str().unwrap();
    let r = g
        .patch(&format!("/users/{id}"), json!({"accountEnabled": false}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        user_by(&g.state().await, |x| x["id"] == id)["accountEnabled"],
        false
    );
    let one = g
        .get(&format!("/users/{id}?$select=accountEnabled"))
        .await
        .json();
    assert_eq!(one["accountEnabled"], false);

    // The same PATCH again is accepted and changes nothing: no second record.
    assert_eq!(
        g.patch(&format!("/users/{id}"), json!({"accountEnabled": false}))
            .await
            .status,
        204
    );
    let writes = g.writes().await;
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0]["applied"], true);
    assert_eq!(writes[1]["applied"], false);
    assert_eq!(writes[0]["method"], "PATCH");
    assert_eq!(writes[0]["status"], 204);
    let audit = g.audit().await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let rec_id = audit[0]["id"].as_str().unwrap().to_string();
    assert_eq!(writes[0]["record_ids"][0], rec_id.as_str());
    assert_eq!(
        audit[0]["visible"], false,
        "published minutes later, not at once"
    );
    let truth = g.sim.truth().await;
    assert!(!common::truth_ids(&truth, "Audit.AzureActiveDirectory").contains(&rec_id));

    g.sim.advance(11 * 60).await;
    let truth = g.sim.truth().await;
    assert!(
        common::truth_ids(&truth, "Audit.AzureActiveDirectory").contains(&rec_id),
        "in the truth once published"
    );
    let rec = g.fetch_record(&rec_id, "Audit.AzureActiveDirectory").await;
    assert_eq!(rec["Operation"], "Update user.");
    assert_eq!(rec["RecordType"], 8);
    assert_eq!(rec["Workload"], "AzureActiveDirectory");
    assert_eq!(rec["ObjectId"], u["userPrincipalName"]);
    assert_eq!(rec["UserKey"], "Not Available");
    assert!(
        rec["UserId"]
            .as_str()
            .unwrap()
            .starts_with("ServicePrincipal_")
    );
    let mp = rec["ModifiedProperties"].as_array().unwrap();
    let ae = mp
        .iter()
        .find(|m| m["Name"] == "AccountEnabled")
        .expect("AccountEnabled modified");
    assert_eq!(ae["NewValue"], "[\r\n  false\r\n]");
    assert_eq!(ae["OldValue"], "[\r\n  true\r\n]");

    // Unknown properties and wrong types are refused.
    assert_graph_error(
        &g.patch(&format!("/users/{id}"), json!({"favouriteColour": "red"}))
            .await,
        400,
        "Request_BadRequest",
    );
    assert_graph_error(
        &g.patch(&format!("/users/{id}"), json!({"accountEnabled": "no"}))
            .await,
        400,
        "Request_BadRequest",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_sync_reverts_a_suspended_synced_user_and_admins_are_protected() {
    let g = boot_graph(80).await;
    let state = g.state().await;
    let u = user_by(&state, |u| {
        u["onPremisesSyncEnabled"] == true
            && u["accountEnabled"] == true
            && u["roles"].as_array().unwrap().is_empty()
    });
    let id = u["id"].as_str().unwrap();
    assert_eq!(
        g.patch(&format!("/users/{id}"), json!({"accountEnabled": false}))
            .await
            .status,
        204
    );
    let now = user_by(&g.state().await, |x| x["id"] == id).clone();
    assert_eq!(now["accountEnabled"], false);
    assert!(now["pendingSyncRevertAt"].is_string());
    g.sim.advance(29 * 60).await;
    assert_eq!(
        user_by(&g.state().await, |x| x["id"] == id)["accountEnabled"],
        false
    );
    g.sim.advance(2 * 60).await;
    assert_eq!(
        user_by(&g.state().await, |x| x["id"] == id)["accountEnabled"],
        true,
        "sync restored it"
    );
    let audit = g.audit().await;
    let sync = audit
        .iter()
        .find(|a| a["cause"] == "sync")
        .expect("the sync published a record");
    assert_eq!(sync["operation"], "Update user.");
    // Other properties of synced users are mastered on-premises.
    assert_graph_error(
        &g.patch(&format!("/users/{id}"), json!({"displayName": "X"}))
            .await,
        400,
        "Request_BadRequest",
    );
    // The stricter reading: the PATCH itself is refused.
    g.sim_post(
        "/_sim/graph/control",
        json!({"synced_patch_accepted": false}),
    )
    .await;
    assert_graph_error(
        &g.patch(&format!("/users/{id}"), json!({"accountEnabled": false}))
            .await,
        400,
        "Request_BadRequest",
    );

    let admin = user_by(&state, |u| !u["roles"].as_array().unwrap().is_empty());
    let r = g
        .patch(
            &format!("/users/{}", admin["id"].as_str().unwrap()),
            json!({"accountEnabled": false}),
        )
        .await;
    assert_graph_error(&r, 403, "Authorization_RequestDenied");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_sessions_and_risky_user_actions_publish_records() {
    let g = boot_graph(120).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let state = g.state().await;
    let u = user_by(&state, |u| u["userType"] == "Member");
    let id = u["id"].as_str().unwrap();
    let r = g
        .post(&format!("/users/{id}/revokeSignInSessions"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["value"], true);
    let after = user_by(&g.state().await, |x| x["id"] == id).clone();
    assert_ne!(
        after["signInSessionsValidFromDateTime"],
        u["signInSessionsValidFromDateTime"]
    );
    let rec_id = g.audit().await.last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rec = g.fetch_record(&rec_id, "Audit.AzureActiveDirectory").await;
    assert_eq!(rec["Operation"], "Update user.");
    assert!(
        rec["ModifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == "StsRefreshTokensValidFrom")
    );

    let (risky, _) = g.all("/identityProtection/riskyUsers").await;
    assert!(
        risky
            .iter()
            .all(|r| r["riskState"].is_string() && r["userPrincipalName"].is_string())
    );
    assert_eq!(
        g.post(
            "/identityProtection/riskyUsers/confirmCompromised",
            json!({"userIds": [id]})
        )
        .await
        .status,
        204
    );
    let r = g
        .get(&format!("/identityProtection/riskyUsers/{id}"))
        .await
        .json();
    assert_eq!(r["riskState"], "confirmedCompromised");
    assert_eq!(r["riskLevel"], "high");
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "Confirm user compromised."
    );
    assert_eq!(
        g.post(
            "/identityProtection/riskyUsers/dismiss",
            json!({"userIds": [id]})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!("/identityProtection/riskyUsers/{id}"))
            .await
            .json()["riskState"],
        "dismissed"
    );
    assert_graph_error(
        &g.post(
            "/identityProtection/riskyUsers/dismiss",
            json!({"userIds": []}),
        )
        .await,
        400,
        "invalidRequest",
    );

    // Sign-in logs: P1; risky users: P2.
    let (signins, _) = g.all("/auditLogs/signIns?$top=50").await;
    assert!(!signins.is_empty());
    let times: Vec<&str> = signins
        .iter()
        .map(|s| s["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    g.sim_post(
        "/_sim/graph/control",
        json!({"entra_p1": false, "entra_p2": false}),
    )
    .await;
    assert_graph_error(
        &g.get("/auditLogs/signIns").await,
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    );
    assert_eq!(g.get("/identityProtection/riskyUsers").await.status, 403);
    assert_graph_error(
        &g.get("/users?$select=id,signInActivity").await,
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    );
}
