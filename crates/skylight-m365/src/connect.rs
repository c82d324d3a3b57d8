//! The connection test behind the console's Connect button: signs in to each API the connector
//! will use and makes the cheapest call each component needs, so that a wrong secret, a missing
//! permission or an unreachable endpoint shows before collection starts, each with what to do.
//!
//! Details and remediations are built from the services' error codes and messages, which never
//! carry the credential.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use skylight_model::ContentType;

use crate::activity::ActivityClient;
use crate::auth::{AccessToken, Api, TokenProvider};
use crate::config::TenantConfig;
use crate::graph::GraphClient;
use crate::graph::directory::SyncError;
use crate::remediation::{self, Remediation};

/// How long one step may take: a dead endpoint should read "unreachable" while the admin still
/// looks at the wizard, not after the token request's own 30 s timeout and retries.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts per call: one retry for a blip, and the service's own answer rather than minutes of
/// backoff when it keeps throttling.
const MAX_ATTEMPTS: u32 = 2;
/// The Graph request budget of a test, which makes at most a handful of calls.
const GRAPH_REQUESTS_PER_SECOND: u32 = 5;

/// One step of a connection test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestStep {
    /// What was tried, e.g. "Sign in to the Office 365 Management Activity API".
    pub name: String,
    /// It worked.
    pub ok: bool,
    /// What happened: what was found, or the service's error.
    pub detail: String,
    /// What the administrator should do, when it failed.
    pub remediation: Option<String>,
}

/// The outcome of a connection test, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    /// The steps taken, in order; steps that a failure made meaningless are left out.
    pub steps: Vec<TestStep>,
    /// When the test started.
    pub at: DateTime<Utc>,
}

impl ConnectionTest {
    /// True when every step taken worked.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }
}

/// Tests `tenant`'s connector: with the activities component, a Management Activity API token
/// with `ActivityFeed.Read` (and `ActivityFeed.ReadDlp` when DLP.All is collected) and the
/// subscription list; then a Graph token and a read of users, and with the files component a
/// read of sites. A failed sign-in ends the test; other failures leave the independent steps to
/// run, so that the admin sees every missing permission at once.
pub async fn test_connection(http: reqwest::Client, tenant: &TenantConfig) -> ConnectionTest {
    run(http, tenant, STEP_TIMEOUT).await
}

async fn run(http: reqwest::Client, tenant: &TenantConfig, timeout: Duration) -> ConnectionTest {
    let mut test = Steps {
        steps: Vec::new(),
        timeout,
    };
    let at = Utc::now();
    let tokens = Arc::new(TokenProvider::new(http.clone(), tenant));
    let signed_in =
        !tenant.components.activities || management(&mut test, &http, &tokens, tenant).await;
    if signed_in {
        graph(&mut test, &http, &tokens, tenant).await;
    }
    ConnectionTest {
        steps: test.steps,
        at,
    }
}

/// The Management Activity API's steps; false when signing in failed, which makes every other
/// step meaningless.
async fn management(
    test: &mut Steps,
    http: &reqwest::Client,
    tokens: &Arc<TokenProvider>,
    tenant: &TenantConfig,
) -> bool {
    let endpoints = tenant.endpoints();
    let Some(token) = test
        .sign_in(
            "Sign in to the Office 365 Management Activity API",
            tokens,
            Api::Management,
            &endpoints.login,
        )
        .await
    else {
        return false;
    };
    // The collector needs ActivityFeed.Read for every content type: without it the API answers
    // AF10001 to everything, so the subscription list would only say the same again.
    if !test.role(&token, "ActivityFeed.Read", "every content type") {
        return true;
    }
    if tenant.content_types.contains(&ContentType::Dlp) {
        test.role(&token, "ActivityFeed.ReadDlp", "DLP.All");
    }

    let client = ActivityClient::new(
        http.clone(),
        Arc::clone(tokens),
        &endpoints.manage,
        &tenant.tenant_id,
        tenant.publisher_id(),
        tenant.requests_per_minute,
    )
    .with_max_attempts(MAX_ATTEMPTS);
    let listed = test
        .timed(async {
            // A tenant named by its domain is addressed by its GUID (AF20013 otherwise).
            client.resolve_tenant().await?;
            client.enabled_subscriptions().await
        })
        .await;
    let name = "List the subscriptions of the Management Activity API";
    match listed {
        None => test.unreachable(name, &endpoints.manage),
        Some(Err(e)) => test.fail(name, e.to_string(), e.remediation()),
        Some(Ok(enabled)) => {
            let detail = if enabled.is_empty() {
                "the API answers for this tenant; no subscription is on yet (Skylight starts them when it collects)".to_string()
            } else {
                format!(
                    "the API answers for this tenant; subscriptions on: {}",
                    enabled
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            test.pass(name, detail);
        }
    }
    true
}

/// Microsoft Graph's steps: sign in, the directory sync's read, and the file sync's read when the
/// files component is on.
async fn graph(
    test: &mut Steps,
    http: &reqwest::Client,
    tokens: &Arc<TokenProvider>,
    tenant: &TenantConfig,
) {
    let endpoints = tenant.endpoints();
    if test
        .sign_in(
            "Sign in to Microsoft Graph",
            tokens,
            Api::Graph,
            &endpoints.login,
        )
        .await
        .is_none()
    {
        return;
    }
    let client = GraphClient::new(
        http.clone(),
        Arc::clone(tokens),
        &endpoints.graph,
        GRAPH_REQUESTS_PER_SECOND,
    )
    .with_max_attempts(MAX_ATTEMPTS);

    let name = "Read users through Microsoft Graph (User.Read.All)";
    match test.timed(client.get("/users?$top=1&$select=id")).await {
        None => test.unreachable(name, &endpoints.graph),
        Some(Err(e)) => {
            let fix = e.remediation("User.Read.All");
            test.fail(name, e.to_string(), fix);
        }
        Some(Ok(_)) => test.pass(name, "the directory can be read".to_string()),
    }

    if tenant.components.files {
        let name = "Read SharePoint sites through Microsoft Graph (Sites.Read.All, Files.Read.All)";
        // The file sync's first call, on one site.
        match test
            .timed(client.get("/sites/getAllSites?$select=id&$top=1"))
            .await
        {
            None => test.unreachable(name, &endpoints.graph),
            Some(Err(e)) => {
                let detail = e.to_string();
                let fix = SyncError::graph_files("sites")(e).remediation();
                test.fail(name, detail, fix);
            }
            Some(Ok(_)) => test.pass(name, "sites and libraries can be read".to_string()),
        }
    }
}

/// The steps so far, and how long each may take.
struct Steps {
    steps: Vec<TestStep>,
    timeout: Duration,
}

impl Steps {
    fn pass(&mut self, name: &str, detail: String) {
        self.steps.push(TestStep {
            name: name.to_string(),
            ok: true,
            detail,
            remediation: None,
        });
    }

    fn fail(&mut self, name: &str, detail: String, fix: Remediation) {
        self.steps.push(TestStep {
            name: name.to_string(),
            ok: false,
            detail,
            remediation: Some(fix.message),
        });
    }

    /// A step that got no answer within the timeout.
    fn unreachable(&mut self, name: &str, url: &str) {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| url.to_string());
        self.fail(
            name,
            format!(
                "unreachable: {host} did not answer within {} s",
                self.timeout.as_secs()
            ),
            remediation::for_unreachable(&host),
        );
    }

    /// `fut`'s result, or `None` when it takes longer than a step may.
    async fn timed<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.timeout, fut).await.ok()
    }

    /// A token for `api`, recorded as a step either way.
    async fn sign_in(
        &mut self,
        name: &str,
        tokens: &TokenProvider,
        api: Api,
        login: &str,
    ) -> Option<AccessToken> {
        match self.timed(tokens.token(api)).await {
            None => {
                self.unreachable(name, login);
                None
            }
            Some(Err(e)) => {
                let fix = e.remediation();
                self.fail(name, e.to_string(), fix);
                None
            }
            Some(Ok(token)) => {
                let detail = match token.tenant_id() {
                    Some(tid) => format!("signed in to tenant {tid}"),
                    None => "signed in".to_string(),
                };
                self.pass(name, detail);
                Some(token)
            }
        }
    }

    /// Whether `token` carries the application permission `role`, recorded as a step.
    fn role(&mut self, token: &AccessToken, role: &str, needed_for: &str) -> bool {
        let name = format!("Check the {role} permission (needed for {needed_for})");
        if token.has_role(role) {
            self.pass(&name, format!("{role} is granted with admin consent"));
            return true;
        }
        let granted = if token.roles().is_empty() {
            "no application permission of this API is granted with admin consent".to_string()
        } else {
            format!("only {} is granted", token.roles().join(", "))
        };
        // The same advice the collector gives when the API answers AF10001 for this.
        self.fail(
            &name,
            format!("{role} is missing: {granted}"),
            remediation::for_af("AF10001"),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Credential, Secret, TenantSpec};

    fn tenant(url: &str) -> TenantConfig {
        TenantConfig::from_spec(TenantSpec {
            name: "contoso".into(),
            tenant_id: "6d8a2f3c-1b4e-4c7a-9f21-0e5d3b7a9c11".into(),
            client_id: "2b9f7e41-5c3d-4a8e-b6f0-7d1c9e2a4b55".into(),
            credential: Credential::Secret(Secret::new("s3cr3t~Value")),
            cloud: String::new(),
            login_url: Some(url.into()),
            manage_url: Some(url.into()),
            graph_url: Some(url.into()),
            activities: true,
            files: false,
            content_types: Vec::new(),
            quarantine_site: None,
        })
        .unwrap_or_else(|p| panic!("{p:?}"))
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_is_unreachable_in_time() {
        // Accepts connections and says nothing: the token request would wait for its own
        // 30 s timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let started = std::time::Instant::now();
        let test = run(
            reqwest::Client::new(),
            &tenant(&url),
            Duration::from_millis(500),
        )
        .await;
        silent.abort();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!test.ok());
        assert_eq!(test.steps.len(), 1, "{test:?}");
        let step = &test.steps[0];
        assert!(
            step.detail.starts_with("unreachable: 127.0.0.1"),
            "{step:?}"
        );
        assert!(
            step.remediation
                .as_deref()
                .is_some_and(|r| r.contains("could not reach 127.0.0.1")),
            "{step:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_stops_at_sign_in() {
        // Bound and dropped: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let test = test_connection(
            reqwest::Client::new(),
            &tenant(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        assert_eq!(test.steps.len(), 1, "{test:?}");
        assert!(!test.steps[0].ok);
        assert!(
            test.steps[0].detail.contains("token endpoint unreachable"),
            "{test:?}"
        );
        assert!(!format!("{test:?}").contains("s3cr3t~Value"));
    }
}
