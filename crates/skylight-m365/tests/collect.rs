//! The collector against a real simulator: a 7-day backfill stores exactly the record Ids of
//! `/_sim/truth`, under every fault profile alone and all combined; a restart fetches no completed
//! blob again; failures land in the status with what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{setup, setup_with, sim_config};

use std::sync::Arc;

use skylight_m365::collector::{Collector, CollectorOptions};
use skylight_m365::config::Config;
use skylight_model::{ConnectorState, ContentType};
use skylight_sim::SimConfig;
use skylight_store::{SqliteStore, Store};

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_backfill_stores_exactly_the_truth_and_a_rerun_fetches_nothing_again() {
    let s = setup(sim_config(150, 7, ""), None).await;
    s.collect_cleanly("collect").await;
    let blobs_before = s.requests("/activity/feed/audit/").await;
    assert!(blobs_before > 100);
    let again = s.collect().await;
    assert!(
        again.iter().all(|(_, p)| p.blobs == 0 && p.records == 0),
        "{again:?}"
    );
    let after = s.requests("/activity/feed/audit/").await;
    assert_eq!(after, blobs_before, "no completed blob is fetched again");
    let statuses = s.store.statuses().unwrap();
    assert_eq!(statuses.len(), 5);
    assert!(
        statuses
            .iter()
            .all(|st| st.state == ConnectorState::Healthy && st.last_error.is_none()),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_profile_alone_loses_and_duplicates_nothing() {
    for fault in ["duplicates", "shuffle", "late", "gaps", "throttle"] {
        let s = setup(sim_config(100, 3, fault), None).await;
        s.collect_cleanly(fault).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flaky_service_and_expired_content_lose_nothing_collectable() {
    let s = setup(
        SimConfig {
            page_size: 400,
            ..sim_config(100, 2, "flaky")
        },
        None,
    )
    .await;
    s.collect_cleanly("collect").await;

    let s = setup(sim_config(600, 7, "expired"), None).await;
    s.collect().await;
    s.assert_store_equals_truth().await;
    let gaps = s.store.gaps(Some("contoso")).unwrap();
    assert!(!gaps.is_empty(), "expired content is a recorded gap");
    assert!(
        gaps.iter()
            .all(|g| g.reason.contains("expired") || g.reason.contains("AF20051")),
        "{gaps:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn all_faults_at_once_still_equal_the_truth() {
    let s = setup(
        SimConfig {
            page_size: 300,
            requests_per_minute: Some(3000),
            ..sim_config(100, 3, "all")
        },
        None,
    )
    .await;
    s.collect_cleanly("collect").await;
    let _ = &s.dir;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_dlp_permission_fails_dlp_only_and_says_what_to_do() {
    let s = setup(sim_config(80, 2, ""), Some("no DLP")).await;
    let progress = s.collect().await;
    for (ct, p) in &progress {
        assert_eq!(p.error.is_some(), *ct == ContentType::Dlp, "{ct}: {p:?}");
    }
    let dlp = s
        .store
        .statuses()
        .unwrap()
        .into_iter()
        .find(|st| st.content_type == ContentType::Dlp)
        .unwrap();
    assert_eq!(dlp.state, ConnectorState::Error);
    assert!(
        dlp.last_error.as_deref().unwrap().contains("AF10001"),
        "{dlp:?}"
    );
    assert!(
        dlp.remediation.as_deref().unwrap().contains("ActivityFeed"),
        "{dlp:?}"
    );
    assert!(
        s.store.record_count(Some("contoso")).unwrap() > 0,
        "the healthy content types kept flowing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_expired_secret_is_an_error_with_the_fix() {
    let s = setup(sim_config(50, 1, ""), Some("expired secret")).await;
    let progress = s.collect().await;
    assert!(
        progress
            .iter()
            .all(|(_, p)| p.error.as_deref().is_some_and(|e| e.contains("7000222"))),
        "{progress:?}"
    );
    let st = &s.store.statuses().unwrap()[0];
    assert!(
        st.remediation
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("secret"),
        "{st:?}"
    );
    assert!(
        !format!("{:?}", s.store.statuses().unwrap()).contains(
            s.sim.tenant_json()["other_apps"][2]["client_secret"]
                .as_str()
                .unwrap()
        ),
        "no secret in the status"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_named_by_its_domain_is_collected_through_its_guid() {
    let s = setup_with(sim_config(60, 1, ""), None, true).await;
    s.collect_cleanly("collect").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_without_admin_consent_is_told_to_grant_it() {
    let s = setup(sim_config(50, 1, ""), Some("no admin consent")).await;
    let progress = s.collect().await;
    assert!(
        progress
            .iter()
            .all(|(_, p)| p.error.as_deref().is_some_and(|e| e.contains("AF10001"))),
        "{progress:?}"
    );
    let st = &s.store.statuses().unwrap()[0];
    let fix = st.remediation.as_deref().unwrap();
    assert!(
        fix.contains("ActivityFeed.Read") && fix.to_lowercase().contains("consent"),
        "{fix}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_7000215_and_counts_in_status_come_from_the_store() {
    let s = setup(sim_config(60, 2, ""), None).await;
    s.collect().await;
    let stored = s
        .store
        .record_ids("contoso", Some(ContentType::Exchange))
        .unwrap()
        .len() as u64;
    let st = s
        .store
        .statuses()
        .unwrap()
        .into_iter()
        .find(|x| x.content_type == ContentType::Exchange)
        .unwrap();
    assert_eq!(st.records, stored, "status counts are the store's");
    // Now the secret in the file is wrong.
    std::fs::write(s.dir.path().join("secret"), "not-the-secret").unwrap();
    let toml = std::fs::read_to_string(s.dir.path().join("secret")).unwrap();
    assert_eq!(toml, "not-the-secret");
    let config = Config::from_toml_str(&s.config_text(), s.dir.path()).unwrap();
    let t = &config.tenants[0];
    let http = reqwest::Client::new();
    let opts = CollectorOptions {
        once: true,
        ..CollectorOptions::default()
    };
    let collector = Arc::new(Collector::connect(http, t, s.store.clone(), opts));
    let progress = collector.run(&[ContentType::Exchange]).await;
    assert!(
        progress[0]
            .1
            .error
            .as_deref()
            .is_some_and(|e| e.contains("7000215")),
        "{progress:?}"
    );
    let st = s
        .store
        .statuses()
        .unwrap()
        .into_iter()
        .find(|x| x.content_type == ContentType::Exchange)
        .unwrap();
    assert_eq!(st.state, ConnectorState::Error);
    assert_eq!(st.records, stored, "a failing run keeps the count");
    assert!(
        st.remediation
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("secret"),
        "{st:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pfx_certificate_with_a_password_collects_like_a_secret() {
    let sim = skylight_sim::start(sim_config(40, 1, ""), "127.0.0.1:0")
        .await
        .unwrap();
    let t = sim.tenant_json();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        t["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        t["private_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("pfx-password"), "correct horse\n").unwrap();
    // The way admins make one: openssl pkcs12 -export.
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "pkcs12",
            "-export",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "app.pfx",
            "-passout",
            "pass:correct horse",
        ])
        .output()
        .expect("openssl is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = format!(
        "[[tenant]]\nname = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\ncertificate_file = \"app.pfx\"\ncertificate_password_file = \"pfx-password\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\n",
        t["tenant_id"].as_str().unwrap(),
        t["client_id"].as_str().unwrap(),
        url = sim.url()
    );
    let config = Config::from_toml_str(&toml, dir.path()).unwrap();
    assert!(
        !format!("{config:?}").contains("correct horse"),
        "the password is never printed"
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("data")).unwrap());
    let opts = CollectorOptions {
        once: true,
        ..CollectorOptions::default()
    };
    let collector = Arc::new(Collector::connect(
        reqwest::Client::new(),
        &config.tenants[0],
        store.clone(),
        opts,
    ));
    let progress = collector.run(&[ContentType::AzureActiveDirectory]).await;
    assert!(
        progress[0].1.error.is_none() && progress[0].1.records > 0,
        "{progress:?}"
    );
    // Wrong password: a configuration error that names the fix.
    std::fs::write(dir.path().join("pfx-password"), "wrong").unwrap();
    let e = Config::from_toml_str(&toml, dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("wrong password"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_back_after_more_than_seven_days_records_the_loss_once() {
    let s = setup(sim_config(60, 7, ""), None).await;
    // The last run got Exchange to nine days before the service's now, then stopped.
    let sim_now: chrono::DateTime<chrono::Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
    s.store
        .set_watermark(
            "contoso",
            ContentType::Exchange,
            sim_now - chrono::Duration::days(9),
        )
        .unwrap();
    // A pass back before this one recorded the loss and was killed before it moved the
    // watermark: the loss from that start is not recorded twice.
    let start = sim_now - chrono::Duration::days(9);
    let killed = skylight_model::Gap {
        tenant: "contoso".into(),
        content_type: ContentType::Exchange,
        content_id: format!(
            "range:{}..{}",
            start.to_rfc3339(),
            (start + chrono::Duration::days(2)).to_rfc3339()
        ),
        created: start,
        reason: "not collected before Microsoft's 7-day retention ran out".into(),
        detected_at: sim_now,
    };
    s.store.record_gap(&killed).unwrap();
    s.collect_cleanly("back after nine days").await;
    let ranges = |s: &common::Setup| -> Vec<skylight_model::Gap> {
        s.store
            .gaps(Some("contoso"))
            .unwrap()
            .into_iter()
            .filter(|g| g.content_id.starts_with("range:"))
            .collect()
    };
    let lost = ranges(&s);
    assert_eq!(lost, [killed], "one loss, as first recorded");
    // The loss is recorded, not left to read as content still expiring or expired.
    let exchange = s
        .store
        .statuses()
        .unwrap()
        .into_iter()
        .find(|st| st.content_type == ContentType::Exchange)
        .unwrap();
    let expected = skylight_m365::health::Expected::Collecting;
    assert!(
        skylight_m365::health::warnings(&exchange, chrono::Utc::now(), expected).is_empty(),
        "{exchange:?}"
    );
    // Later passes do not record it again.
    s.collect_cleanly("again").await;
    assert_eq!(ranges(&s), lost);
}
