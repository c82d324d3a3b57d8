//! The console's connection test against a real simulator: good credentials pass every step, a
//! wrong secret stops at sign-in with the fix, and missing permissions are each named with where
//! to grant them, without the secret ever appearing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;
use skylight_m365::config::{Credential, Secret, TenantConfig, TenantSpec};
use skylight_m365::connect::{ConnectionTest, test_connection};
use skylight_sim::{RunningSim, SimConfig};

const SIGN_IN_MANAGE: &str = "Sign in to the Office 365 Management Activity API";

async fn sim() -> RunningSim {
    let cfg = SimConfig {
        users: 30,
        days: 1,
        seed: 11,
        now: Some("2026-11-20T12:00:00Z".parse().unwrap()),
        ..SimConfig::default()
    };
    skylight_sim::start(cfg, "127.0.0.1:0").await.unwrap()
}

/// The registration whose name contains `name`, or the fully consented one: (client id, secret).
fn app(t: &Value, name: Option<&str>) -> (String, String) {
    let a = match name {
        None => t,
        Some(n) => t["other_apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"].as_str().unwrap().contains(n))
            .unwrap(),
    };
    (
        a["client_id"].as_str().unwrap().to_string(),
        a["client_secret"].as_str().unwrap().to_string(),
    )
}

/// A spec as the wizard would send it for the simulator, with every override set.
fn spec(sim: &RunningSim, client_id: String, credential: Credential, files: bool) -> TenantSpec {
    let t = sim.tenant_json();
    TenantSpec {
        name: "contoso".into(),
        tenant_id: t["tenant_id"].as_str().unwrap().to_string(),
        client_id,
        credential,
        cloud: "commercial".into(),
        login_url: Some(sim.url()),
        manage_url: Some(sim.url()),
        graph_url: Some(sim.url()),
        activities: true,
        files,
        content_types: Vec::new(),
        quarantine_site: None,
    }
}

async fn run(spec: TenantSpec) -> ConnectionTest {
    let tenant = TenantConfig::from_spec(spec).unwrap();
    test_connection(reqwest::Client::new(), &tenant).await
}

fn names(test: &ConnectionTest) -> Vec<(&str, bool)> {
    test.steps.iter().map(|s| (s.name.as_str(), s.ok)).collect()
}

/// The step whose name starts with `prefix`.
fn step<'a>(test: &'a ConnectionTest, prefix: &str) -> &'a skylight_m365::connect::TestStep {
    test.steps
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix:?} in {test:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn good_credentials_pass_every_step() {
    let sim = sim().await;
    let t = sim.tenant_json();
    let (client_id, secret) = app(&t, None);
    let test = run(spec(
        &sim,
        client_id,
        Credential::Secret(Secret::new(secret.clone())),
        true,
    ))
    .await;
    assert!(test.ok(), "{test:#?}");
    assert_eq!(test.steps.len(), 7, "{test:#?}");
    assert_eq!(test.steps[0].name, SIGN_IN_MANAGE);
    assert!(
        test.steps[0]
            .detail
            .contains(t["tenant_id"].as_str().unwrap()),
        "{test:#?}"
    );
    assert!(test.steps.iter().all(|s| s.remediation.is_none()));
    step(&test, "Check the ActivityFeed.ReadDlp permission");
    step(&test, "Read SharePoint sites");

    // What the server stores and sends to the console: the same test, and no secret in it.
    let json = serde_json::to_string(&test).unwrap();
    assert!(!json.contains(&secret));
    let back: ConnectionTest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, test);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_pasted_in_the_console_signs_in_for_a_tenant_named_by_domain() {
    let sim = sim().await;
    let t = sim.tenant_json();
    let (client_id, _) = app(&t, None);
    let mut s = spec(
        &sim,
        client_id,
        Credential::Certificate {
            certificate_pem: t["certificate_pem"].as_str().unwrap().to_string(),
            private_key: Secret::new(t["private_key_pem"].as_str().unwrap()),
        },
        false,
    );
    s.tenant_id = t["tenant_domain"].as_str().unwrap().to_string();
    let test = run(s).await;
    assert!(test.ok(), "{test:#?}");
    assert_eq!(
        names(&test).len(),
        6,
        "no files step without the files component: {test:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_stops_at_sign_in_with_the_fix() {
    let sim = sim().await;
    let (client_id, _) = app(&sim.tenant_json(), None);
    let wrong = "Wr0ng~SecretValue.That-Is_Long_Enough";
    let test = run(spec(
        &sim,
        client_id,
        Credential::Secret(Secret::new(wrong)),
        true,
    ))
    .await;
    assert!(!test.ok());
    assert_eq!(names(&test), vec![(SIGN_IN_MANAGE, false)], "{test:#?}");
    let s = &test.steps[0];
    assert!(s.detail.contains("7000215"), "{s:?}");
    let fix = s.remediation.as_deref().unwrap();
    assert!(fix.contains("client secret is wrong"), "{fix}");
    assert!(!serde_json::to_string(&test).unwrap().contains(wrong));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_without_admin_consent_is_told_what_to_grant() {
    let sim = sim().await;
    let (client_id, secret) = app(&sim.tenant_json(), Some("no admin consent"));
    let test = run(spec(
        &sim,
        client_id,
        Credential::Secret(Secret::new(secret.clone())),
        false,
    ))
    .await;
    assert_eq!(
        names(&test),
        vec![
            (SIGN_IN_MANAGE, true),
            (
                "Check the ActivityFeed.Read permission (needed for every content type)",
                false
            ),
            ("Sign in to Microsoft Graph", true),
            ("Read users through Microsoft Graph (User.Read.All)", false),
        ],
        "{test:#?}"
    );
    let feed = &test.steps[1];
    assert!(
        feed.detail.contains("ActivityFeed.Read is missing"),
        "{feed:?}"
    );
    let fix = feed.remediation.as_deref().unwrap();
    assert!(
        fix.contains("ActivityFeed.Read") && fix.contains("Grant admin consent"),
        "{fix}"
    );
    let users = &test.steps[3];
    assert!(users.detail.contains("403"), "{users:?}");
    assert!(
        users
            .remediation
            .as_deref()
            .unwrap()
            .contains("User.Read.All"),
        "{users:?}"
    );
    assert!(!serde_json::to_string(&test).unwrap().contains(&secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_dlp_and_files_permissions_do_not_hide_what_works() {
    let sim = sim().await;
    let (client_id, secret) = app(&sim.tenant_json(), Some("no DLP"));
    let test = run(spec(
        &sim,
        client_id,
        Credential::Secret(Secret::new(secret)),
        true,
    ))
    .await;
    assert!(!test.ok());
    assert!(step(&test, "Check the ActivityFeed.Read permission").ok);
    let dlp = step(&test, "Check the ActivityFeed.ReadDlp permission");
    assert!(
        !dlp.ok && dlp.detail.contains("only ActivityFeed.Read"),
        "{dlp:?}"
    );
    assert!(
        dlp.remediation
            .as_deref()
            .unwrap()
            .contains("ActivityFeed.ReadDlp"),
        "{dlp:?}"
    );
    assert!(step(&test, "List the subscriptions").ok, "{test:#?}");
    assert!(step(&test, "Read users").ok, "{test:#?}");
    let sites = step(&test, "Read SharePoint sites");
    assert!(!sites.ok, "{sites:?}");
    assert!(
        sites
            .remediation
            .as_deref()
            .unwrap()
            .contains("Sites.Read.All"),
        "{sites:?}"
    );
}
