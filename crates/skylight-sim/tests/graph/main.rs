//! Microsoft Graph v1.0 as the simulator serves it, checked against the contract
//! (`m365-api-contract.md` §4 and §7) over real HTTP: tokens and permissions, paging, delta with
//! changes and the 410 resync, every write's change of state and the audit record it publishes
//! (seen in `/_sim/truth` and through the Management Activity API), directory sync reverting a
//! synced user, locks, throttling and faults.
#![allow(clippy::unwrap_used, missing_docs)]

mod apps;
#[path = "../common/mod.rs"]
mod common;
mod directory;
mod faults;
mod files;

pub(crate) use std::collections::HashSet;

pub(crate) use common::{Resp, TestSim, boot, small};
pub(crate) use reqwest::Method;
pub(crate) use serde_json::{Value, json};

pub(crate) const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A simulator with a Graph token of the fully consented app.
pub(crate) struct G {
    pub(crate) sim: TestSim,
    pub(crate) token: String,
}

pub(crate) async fn token(sim: &TestSim, client_id: &str, secret: &str, scope: &str) -> String {
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

pub(crate) fn other_app<'a>(sim: &'a TestSim, name: &str) -> (&'a str, &'a str) {
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

pub(crate) async fn boot_graph(users: usize) -> G {
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
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!(
                "{}/v1.0{path}",
                self.sim.tenant["graph_url"].as_str().unwrap()
            )
        }
    }

    pub(crate) async fn send(
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

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(&self.token), None, &[])
            .await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(&self.token), Some(body), &[])
            .await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(&self.token), Some(body), &[])
            .await
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, Some(&self.token), None, &[])
            .await
    }

    /// Follows `@odata.nextLink` to the end; returns every item and the last page.
    pub(crate) async fn all(&self, path: &str) -> (Vec<Value>, Value) {
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

    pub(crate) async fn state(&self) -> Value {
        self.sim
            .get(&format!("{}/_sim/graph", self.sim.url), None)
            .await
            .json()
    }

    pub(crate) async fn writes(&self) -> Vec<Value> {
        self.sim
            .get(&format!("{}/_sim/graph/writes", self.sim.url), None)
            .await
            .json()["writes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) async fn sim_post(&self, path: &str, body: Value) -> Value {
        let r = self
            .sim
            .post(&format!("{}{path}", self.sim.url), None, Some(body))
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r.json()
    }

    /// Audit records Graph writes published, newest last.
    pub(crate) async fn audit(&self) -> Vec<Value> {
        self.sim
            .get(&format!("{}/_sim/graph/audit", self.sim.url), None)
            .await
            .json()["records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The record published for `id`, fetched through the Management Activity API.
    pub(crate) async fn fetch_record(&self, id: &str, ct: &str) -> Value {
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

pub(crate) fn code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn assert_graph_error(r: &Resp, status: u16, want: &str) {
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

pub(crate) fn user_by(state: &Value, f: impl Fn(&Value) -> bool) -> &Value {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| f(u))
        .expect("a matching user")
}
