//! Microsoft Graph v1.0 as the simulator serves it, checked against the contract
//! (`m365-api-contract.md` §4 and §7) over real HTTP: tokens and permissions, paging, delta with
//! changes and the 410 resync, every write's change of state and the audit record it publishes
//! (seen in `/_sim/truth` and through the Management Activity API), directory sync reverting a
//! synced user, locks, throttling and faults.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashSet;

use common::{Resp, TestSim, boot, small};
use reqwest::Method;
use serde_json::{Value, json};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A simulator with a Graph token of the fully consented app.
struct G {
    sim: TestSim,
    token: String,
}

async fn token(sim: &TestSim, client_id: &str, secret: &str, scope: &str) -> String {
    let r = sim
        .token_request(
            &sim.tenant_id(),
            true,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", scope),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "token: {}", r.text);
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn other_app<'a>(sim: &'a TestSim, name: &str) -> (&'a str, &'a str) {
    let app = sim.tenant["other_apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("registration {name}"));
    (
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    )
}

async fn boot_graph(users: usize) -> G {
    let sim = boot(small(users, 1)).await;
    let t = token(
        &sim,
        sim.tenant["client_id"].as_str().unwrap(),
        sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    G { sim, token: t }
}

impl G {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!(
                "{}/v1.0{path}",
                self.sim.tenant["graph_url"].as_str().unwrap()
            )
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.sim.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        Resp {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap_or_default(),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(&self.token), None, &[])
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(&self.token), Some(body), &[])
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(&self.token), Some(body), &[])
            .await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, Some(&self.token), None, &[])
            .await
    }

    /// Follows `@odata.nextLink` to the end; returns every item and the last page.
    async fn all(&self, path: &str) -> (Vec<Value>, Value) {
        let mut url = self.url(path);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let r = self.get(&url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.text);
            let j = r.json();
            out.extend(j["value"].as_array().cloned().unwrap_or_default());
            match j["@odata.nextLink"].as_str() {
                Some(n) => url = n.to_string(),
                None => return (out, j),
            }
        }
        panic!("paging never ended");
    }

    async fn state(&self) -> Value {
        self.sim
            .get(&format!("{}/_sim/graph", self.sim.url), None)
            .await
            .json()
    }

    async fn writes(&self) -> Vec<Value> {
        self.sim
            .get(&format!("{}/_sim/graph/writes", self.sim.url), None)
            .await
            .json()["writes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn sim_post(&self, path: &str, body: Value) -> Value {
        let r = self
            .sim
            .post(&format!("{}{path}", self.sim.url), None, Some(body))
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r.json()
    }

    /// Audit records Graph writes published, newest last.
    async fn audit(&self) -> Vec<Value> {
        self.sim
            .get(&format!("{}/_sim/graph/audit", self.sim.url), None)
            .await
            .json()["records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The record published for `id`, fetched through the Management Activity API.
    async fn fetch_record(&self, id: &str, ct: &str) -> Value {
        let token = self.sim.token().await;
        self.sim.start_all(&token).await;
        let now = self.sim.now().await;
        let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let listed = self
            .sim
            .list_window(
                &token,
                ct,
                &f(now - chrono::Duration::hours(23)),
                &f(now + chrono::Duration::seconds(1)),
            )
            .await;
        for obj in listed {
            let uri = format!(
                "{}?{}",
                obj["contentUri"].as_str().unwrap(),
                self.sim.pubid()
            );
            let r = self.sim.get_retrying(&uri, &token).await;
            let recs: Vec<Value> = serde_json::from_str(&r.text).unwrap_or_default();
            if let Some(rec) = recs.into_iter().find(|r| r["Id"] == id) {
                return rec;
            }
        }
        panic!("record {id} was not listed in {ct}");
    }
}

fn code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn assert_graph_error(r: &Resp, status: u16, want: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let j = r.json();
    assert_eq!(j["error"]["code"], want, "{}", r.text);
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
    let inner = &j["error"]["innerError"];
    assert!(
        inner["request-id"].as_str().is_some_and(|x| !x.is_empty()),
        "{}",
        r.text
    );
    assert!(inner["client-request-id"].is_string(), "{}", r.text);
    let date = inner["date"].as_str().unwrap_or_default();
    assert!(
        date.len() == 19 && !date.ends_with('Z'),
        "date without zone: {date}"
    );
}

fn user_by(state: &Value, f: impl Fn(&Value) -> bool) -> &Value {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| f(u))
        .expect("a matching user")
}

// ------------------------------------------------------------------------------------------------

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

/// A file with an anonymous link, a guest grant and an organisation link exist in the first
/// team site (the generator guarantees them).
async fn shared_file(g: &G, scope: &str) -> (String, String) {
    let state = g.state().await;
    for d in state["drives"].as_array().unwrap() {
        for i in d["items"].as_array().unwrap() {
            let own = i["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["inheritedFrom"].is_null() && p["scope"] == scope);
            if own && i["folder"] == false {
                return (
                    d["id"].as_str().unwrap().into(),
                    i["id"].as_str().unwrap().into(),
                );
            }
        }
    }
    panic!("no file with a {scope} link");
}

#[tokio::test(flavor = "multi_thread")]
async fn sites_drives_items_and_drive_delta() {
    let g = boot_graph(50).await;
    let state = g.state().await;
    let first = g.get("/sites/getAllSites?$top=5").await.json();
    assert!(
        first["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("/sites/oneDrive.getAllSites?"),
        "{first}"
    );
    let (sites, _) = g.all("/sites/getAllSites?$top=5").await;
    assert_eq!(sites.len(), state["sites"].as_array().unwrap().len());
    assert!(sites.iter().any(|s| s["isPersonalSite"] == true));
    let drives = state["drives"].as_array().unwrap();
    assert!(
        drives
            .iter()
            .any(|d| d["libraryPath"] == "Documents partages"),
        "a non-English library"
    );
    assert!(
        drives
            .iter()
            .filter(|d| d["driveType"] == "documentLibrary")
            .all(|d| d["name"] == "Documents" || d["name"] == "Contracts")
    );

    let paris = sites.iter().find(|s| s["name"] == "BureauParis").unwrap();
    let (site_drives, _) = g
        .all(&format!("/sites/{}/drives", paris["id"].as_str().unwrap()))
        .await;
    assert_eq!(site_drives[0]["name"], "Documents");
    assert!(
        site_drives[0]["webUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Documents%20partages")
    );

    // A user's OneDrive, its children, an item by path.
    let owner = drives
        .iter()
        .find(|d| d["driveType"] == "business")
        .unwrap();
    let uid = owner["owner"]["id"].as_str().unwrap();
    let drive = g.get(&format!("/users/{uid}/drive")).await.json();
    assert_eq!(drive["id"], owner["id"]);
    let did = owner["id"].as_str().unwrap();
    let (children, _) = g.all(&format!("/drives/{did}/root/children?$top=3")).await;
    let at_root = owner["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["parentId"].as_str() == owner["items"][0]["id"].as_str())
        .count();
    assert_eq!(children.len(), at_root);
    let file = owner["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["folder"] == false)
        .unwrap();
    let path = file["path"].as_str().unwrap().replace(' ', "%20");
    let by_path = g.get(&format!("/drives/{did}/root:{path}")).await;
    assert_eq!(by_path.status, 200, "{}", by_path.text);
    let item = by_path.json();
    assert_eq!(item["id"], file["id"]);
    assert!(
        item["parentReference"]["path"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/drives/{did}/root:"))
    );
    assert!(item["file"]["mimeType"].is_string() && item.get("sharepointIds").is_none());
    assert_graph_error(
        &g.get(&format!("/drives/{did}/root:/no/such/file.txt"))
            .await,
        404,
        "itemNotFound",
    );
    let guest = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userType"] == "Guest")
        .unwrap();
    assert_graph_error(
        &g.get(&format!("/users/{}/drive", guest["id"].as_str().unwrap()))
            .await,
        404,
        "ResourceNotFound",
    );

    // Drive delta: the first round lists every item (no parentReference.path), then changes.
    let (round, last) = g.all(&format!("/drives/{did}/root/delta?$top=10")).await;
    assert_eq!(round.len(), owner["items"].as_array().unwrap().len());
    assert!(
        round
            .iter()
            .all(|i| i["parentReference"].get("path").is_none())
    );
    let link = last["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(link.contains("/root/delta?token="));
    let r = g
        .delete(&format!(
            "/drives/{did}/items/{}",
            file["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (seen, last) = g.all(&link).await;
    let gone = seen
        .iter()
        .find(|i| i["id"] == file["id"])
        .expect("the deletion is reported");
    assert_eq!(gone["deleted"]["state"], "deleted");
    assert!(
        gone.get("name").is_none(),
        "OneDrive for Business deletes omit the name"
    );
    let link = last["@odata.deltaLink"].as_str().unwrap().to_string();

    // Expired token: 410 resyncRequired with a fresh enumeration in Location.
    g.sim.advance(8 * 86_400).await;
    let t = token(
        &g.sim,
        g.sim.tenant["client_id"].as_str().unwrap(),
        g.sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    let r = g.send(Method::GET, &link, Some(&t), None, &[]).await;
    assert_graph_error(&r, 410, "resyncRequired");
    assert_eq!(
        r.json()["error"]["innerError"]["code"],
        "resyncChangesApplyDifferences"
    );
    let loc = r.header("location").expect("Location");
    let again = g.send(Method::GET, &loc, Some(&t), None, &[]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(!again.json()["value"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_permissions_can_be_listed_removed_and_added() {
    let g = boot_graph(50).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let (did, iid) = shared_file(&g, "anonymous").await;
    let perms = g
        .get(&format!("/drives/{did}/items/{iid}/permissions"))
        .await
        .json();
    let perms = perms["value"].as_array().unwrap();
    let link = perms
        .iter()
        .find(|p| p["link"]["scope"] == "anonymous")
        .unwrap();
    assert!(link["inheritedFrom"].is_null());
    assert_eq!(link["expirationDateTime"], "0001-01-01T00:00:00Z");
    let inherited = perms
        .iter()
        .find(|p| p["inheritedFrom"].is_object())
        .expect("inherited permissions are listed");
    assert!(
        inherited["inheritedFrom"]["path"]
            .as_str()
            .unwrap()
            .contains("/root:")
    );
    let r = g
        .delete(&format!(
            "/drives/{did}/items/{iid}/permissions/{}",
            inherited["id"].as_str().unwrap()
        ))
        .await;
    assert_graph_error(&r, 403, "accessDenied");

    let lid = link["id"].as_str().unwrap();
    assert_eq!(
        g.delete(&format!("/drives/{did}/items/{iid}/permissions/{lid}"))
            .await
            .status,
        204
    );
    assert_graph_error(
        &g.delete(&format!("/drives/{did}/items/{iid}/permissions/{lid}"))
            .await,
        404,
        "itemNotFound",
    );
    let rec = g.audit().await.last().cloned().unwrap();
    assert_eq!(rec["operation"], "AnonymousLinkRemoved");
    let full = g
        .fetch_record(rec["id"].as_str().unwrap(), "Audit.SharePoint")
        .await;
    assert_eq!(full["RecordType"], 14);
    assert_eq!(full["UserId"], "app@sharepoint");
    let state = g.state().await;
    let item = state["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == did.as_str())
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == iid.as_str())
        .unwrap()
        .clone();
    assert_ne!(item["accessLevel"], "public");
    assert!(
        full["ObjectId"]
            .as_str()
            .unwrap()
            .ends_with(item["name"].as_str().unwrap())
    );

    // Invite someone outside, then a link for the organisation (again: the same link, 200).
    let r = g
        .post(&format!("/drives/{did}/items/{iid}/invite"), json!({"recipients": [{"email": "pat@fabrikam.example"}], "roles": ["write"], "requireSignIn": true, "sendInvitation": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["value"][0]["invitation"]["email"],
        "pat@fabrikam.example"
    );
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "SharingInvitationCreated"
    );
    let state = g.state().await;
    let item = state["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == did.as_str())
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == iid.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["accessLevel"], "external");
    assert!(
        item["externalDomains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "fabrikam.example")
    );
    let made = g
        .post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "view", "scope": "organization"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let again = g
        .post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "view", "scope": "organization"}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], made.json()["id"]);
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "CompanyLinkCreated"
    );
    assert_graph_error(
        &g.post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "embed"}),
        )
        .await,
        400,
        "invalidRequest",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_moves_locks_deletes_copies_and_uploads() {
    let g = boot_graph(50).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let (did, iid) = shared_file(&g, "organization").await;
    let q = g.post(&format!("/drives/{did}/root/children"), json!({"name": "Quarantine", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"})).await;
    assert_eq!(q.status, 201, "{}", q.text);
    let qid = q.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "FolderCreated"
    );
    let dup = g
        .post(
            &format!("/drives/{did}/root/children"),
            json!({"name": "quarantine", "folder": {}}),
        )
        .await;
    assert_graph_error(&dup, 409, "nameAlreadyExists");
    let renamed = g.post(&format!("/drives/{did}/root/children"), json!({"name": "Quarantine", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"})).await;
    assert_eq!(renamed.json()["name"], "Quarantine 1");

    // A locked file refuses moves and deletes (423) until the lock lapses.
    g.sim_post(
        "/_sim/graph/locks",
        json!({"drive_id": did, "item_id": iid, "seconds": 600}),
    )
    .await;
    let r = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"id": qid}}),
        )
        .await;
    assert_graph_error(&r, 423, "resourceLocked");
    assert_graph_error(
        &g.delete(&format!("/drives/{did}/items/{iid}")).await,
        423,
        "resourceLocked",
    );
    let t = g.state().await;
    assert!(!t["locks"].as_array().unwrap().is_empty());
    g.sim.advance(601).await;

    let moved = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"id": qid}}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json()["parentReference"]["id"], qid.as_str());
    let rec = g.audit().await.last().cloned().unwrap();
    assert_eq!(rec["operation"], "FileMoved");
    let full = g
        .fetch_record(rec["id"].as_str().unwrap(), "Audit.SharePoint")
        .await;
    assert!(
        full["DestinationRelativeUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Quarantine"),
        "{full}"
    );
    // Moving never carries across drives, and a name clash fails by default.
    let other = g.state().await["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] != did.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cross = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"driveId": other, "id": "x"}}),
        )
        .await;
    assert_graph_error(&cross, 400, "invalidRequest");

    // Copy with a monitor, upload a tombstone, then delete.
    let c = g
        .post(
            &format!("/drives/{did}/items/{iid}/copy"),
            json!({"parentReference": {"driveId": did, "id": qid}, "name": "copy.bin"}),
        )
        .await;
    assert_eq!(c.status, 202, "{}", c.text);
    let monitor = c.header("location").unwrap();
    let first = g.sim.http.get(&monitor).send().await.unwrap();
    assert_eq!(first.status(), 202);
    let done: Value = g
        .sim
        .http
        .get(&monitor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "completed");
    let copied = g
        .get(&format!(
            "/drives/{did}/items/{}",
            done["resourceId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(copied.json()["name"], "copy.bin");
    let up = g
        .sim
        .http
        .put(g.url(&format!(
            "/drives/{did}/root:/Quarantine/README.txt:/content"
        )))
        .bearer_auth(&g.token)
        .body("This file was quarantined.")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    assert_eq!(g.audit().await.last().unwrap()["operation"], "FileUploaded");
    assert_eq!(
        g.delete(&format!("/drives/{did}/items/{iid}")).await.status,
        204
    );
    assert_eq!(g.audit().await.last().unwrap()["operation"], "FileRecycled");
    assert_graph_error(
        &g.get(&format!("/drives/{did}/items/{iid}")).await,
        404,
        "itemNotFound",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_carry_retry_after_and_nothing_is_applied_twice() {
    let g = boot_graph(40).await;
    g.sim_post("/_sim/graph/faults", json!({"rules": [{"status": 429, "count": 2, "retry_after": "2.5", "path_contains": "/users"}]})).await;
    for _ in 0..2 {
        let r = g.get("/users").await;
        assert_graph_error(&r, 429, "TooManyRequests");
        assert_eq!(r.header("retry-after").as_deref(), Some("2.5"));
        assert!(
            r.header("x-ms-throttle-scope").is_some()
                && r.header("x-ms-throttle-information").is_some()
        );
    }
    assert_eq!(g.get("/users").await.status, 200, "the fault ran out");
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 503, "count": 1, "retry_after": "3"}]}),
    )
    .await;
    let r = g.get("/groups").await;
    assert_graph_error(&r, 503, "serviceNotAvailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 429, "count": 1, "path_contains": "/drives"}]}),
    )
    .await;
    let state = g.state().await;
    let did = state["drives"][0]["id"].as_str().unwrap();
    assert_graph_error(
        &g.get(&format!("/drives/{did}/root/children")).await,
        429,
        "activityLimitReached",
    );

    // A write applied and then answered 500: the retry finds nothing left to do.
    let grant = state["oauth2PermissionGrants"][0]["id"].as_str().unwrap();
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 500, "count": 1, "method": "DELETE", "after_apply": true}]}),
    )
    .await;
    assert_graph_error(
        &g.delete(&format!("/oauth2PermissionGrants/{grant}")).await,
        500,
        "generalException",
    );
    assert_graph_error(
        &g.delete(&format!("/oauth2PermissionGrants/{grant}")).await,
        404,
        "Request_ResourceNotFound",
    );
    let writes = g.writes().await;
    assert_eq!(writes.len(), 2);
    assert_eq!(
        (writes[0]["status"].as_u64(), writes[0]["applied"].as_bool()),
        (Some(500), Some(true))
    );
    assert_eq!(
        (writes[1]["status"].as_u64(), writes[1]["applied"].as_bool()),
        (Some(404), Some(false))
    );
    assert_eq!(g.audit().await.len(), 1, "one change, one record");
    let cleared = g
        .sim
        .http
        .delete(format!("{}/_sim/graph/faults", g.sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_throttle_profile_limits_each_app_and_identity_protection_sends_no_retry_after() {
    let sim = boot(skylight_sim::SimConfig {
        faults: "throttle".parse().unwrap(),
        ..small(30, 1)
    })
    .await;
    let t = token(
        &sim,
        sim.tenant["client_id"].as_str().unwrap(),
        sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    let g = G { sim, token: t };
    let mut throttled = None;
    for _ in 0..200 {
        let r = g.get("/users?$top=1&$select=id").await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("a burst is throttled");
    let ra: f64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra < 5.0, "{ra}");
    let mut no_retry_after = false;
    for _ in 0..5 {
        let r = g.get("/identityProtection/riskyUsers").await;
        if r.status == 429 {
            no_retry_after = r.header("retry-after").is_none();
            break;
        }
    }
    assert!(
        no_retry_after,
        "Identity Protection's 429 has no Retry-After"
    );
}
