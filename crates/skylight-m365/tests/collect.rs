//! The collector against a real simulator: a 7-day backfill stores exactly the record Ids of
//! `/_sim/truth`, under every fault profile alone and all combined; a restart fetches no completed
//! blob again; failures land in the status with what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use skylight_m365::collector::{Collector, CollectorOptions, Progress};
use skylight_m365::config::Config;
use skylight_model::{ConnectorState, ContentType};
use skylight_sim::{Faults, RunningSim, SimConfig};
use skylight_store::{SqliteStore, Store};

struct Setup {
    sim: RunningSim,
    dir: tempfile::TempDir,
    config: Config,
    toml: String,
    store: Arc<dyn Store>,
}

fn sim_config(users: usize, days: u32, faults: &str) -> SimConfig {
    SimConfig {
        users,
        days,
        seed: 7,
        faults: faults.parse::<Faults>().unwrap(),
        now: Some("2026-11-20T12:00:00Z".parse().unwrap()),
        ..SimConfig::default()
    }
}

/// Boots a simulator and writes a config pointing at it; `app` picks the registration (0 = fully consented).
async fn setup(cfg: SimConfig, app: Option<&str>) -> Setup {
    setup_with(cfg, app, false).await
}

/// As `setup`; `by_domain` names the tenant by its domain instead of its GUID.
async fn setup_with(cfg: SimConfig, app: Option<&str>, by_domain: bool) -> Setup {
    let sim = skylight_sim::start(cfg, "127.0.0.1:0").await.unwrap();
    let t = sim.tenant_json();
    let dir = tempfile::tempdir().unwrap();
    let (client_id, secret) = match app {
        None => (
            t["client_id"].as_str().unwrap().to_string(),
            t["client_secret"].as_str().unwrap().to_string(),
        ),
        Some(name) => {
            let a = t["other_apps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"].as_str().unwrap().contains(name))
                .unwrap();
            (
                a["client_id"].as_str().unwrap().to_string(),
                a["client_secret"].as_str().unwrap().to_string(),
            )
        }
    };
    std::fs::write(dir.path().join("secret"), &secret).unwrap();
    let toml = format!(
        r#"
[[tenant]]
name = "contoso"
tenant_id = "{tid}"
client_id = "{client_id}"
client_secret_file = "secret"
login_url = "{url}"
manage_url = "{url}"
graph_url = "{url}"
components = ["activities"]
"#,
        tid = if by_domain {
            t["tenant_domain"].as_str().unwrap()
        } else {
            t["tenant_id"].as_str().unwrap()
        },
        url = sim.url()
    );
    let config = Config::from_toml_str(&toml, dir.path()).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("data")).unwrap());
    Setup {
        sim,
        dir,
        config,
        toml,
        store,
    }
}

impl Setup {
    fn config_text(&self) -> String {
        self.toml.clone()
    }

    async fn collect(&self) -> Vec<(ContentType, Progress)> {
        let tenant = &self.config.tenants[0];
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        // The built-in country database, and one named range: the /8 of the first country's
        // first block is "the office".
        let (a, _, _) = skylight_sim::tenant::geo::COUNTRIES[0].blocks[0];
        let enricher = skylight_enrich::Enricher::new(&skylight_enrich::EnrichConfig {
            ip_ranges: vec![skylight_enrich::IpRangeConfig {
                name: "office".into(),
                category: skylight_enrich::IpCategory::Corporate,
                cidrs: vec![format!("{a}.0.0.0/8")],
                tags: vec!["hq".into()],
            }],
            ..skylight_enrich::EnrichConfig::default()
        })
        .unwrap();
        let opts = CollectorOptions {
            once: true,
            blob_concurrency: 4,
            enricher: Some(Arc::new(enricher)),
            ..CollectorOptions::default()
        };
        let collector = Arc::new(Collector::connect(http, tenant, self.store.clone(), opts));
        collector.run(&ContentType::ALL).await
    }

    /// Collects once, expects no content type to fail, and checks the store against the truth.
    async fn collect_cleanly(&self, context: &str) {
        let progress = self.collect().await;
        assert!(
            progress.iter().all(|(_, p)| p.error.is_none()),
            "{context}: {progress:?}"
        );
        self.assert_store_equals_truth().await;
    }

    async fn truth(&self) -> Value {
        reqwest::get(format!("{}/_sim/truth", self.sim.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn requests(&self, path: &str) -> usize {
        let text = reqwest::get(format!("{}/_sim/requests?path={path}", self.sim.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The log also records this very query (its own path contains the fragment): count API calls only.
        text.lines()
            .filter(|l| l.contains("\"path\":\"/api/"))
            .count()
    }

    /// Asserts the store holds exactly the truth's collectable records, and gaps for the rest.
    async fn assert_store_equals_truth(&self) {
        let truth = self.truth().await;
        for ct in ContentType::ALL {
            let want: HashSet<String> = truth["content_types"][ct.as_str()]["record_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let got_list = self.store.record_ids("contoso", Some(ct)).unwrap();
            let got: HashSet<String> = got_list.iter().cloned().collect();
            assert_eq!(got.len(), got_list.len(), "{ct}: no record stored twice");
            let missing = want.difference(&got).count();
            let extra = got.difference(&want).count();
            assert!(
                missing == 0 && extra == 0,
                "{ct}: {missing} missing, {extra} unexpected (truth {})",
                want.len()
            );
        }
    }
}

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

/// Every published record of the simulated tenant, as JSON (no faults: what was published is
/// what was collected).
fn published(s: &Setup) -> Vec<Value> {
    let sim = &s.sim.sim;
    let mut out = Vec::new();
    for ct in skylight_sim::catalog::ContentType::ALL {
        for meta in sim.feed.published(ct, sim.horizon()) {
            let blob: Vec<Value> =
                serde_json::from_slice(&sim.feed.blob_json(&meta, false)).unwrap();
            out.extend(blob);
        }
    }
    out
}

fn count(s: &Setup, conditions: &[&str]) -> usize {
    let q = skylight_store::ActivityQuery {
        tenant: Some("contoso".into()),
        filter: skylight_model::filter::Filter::parse(conditions).unwrap(),
        limit: 10_000_000,
        after: None,
    };
    s.store.activities(&q).unwrap().rows.len()
}

/// The address at the start of a ClientIP field as written (`a.b.c.d`, `a.b.c.d:port`,
/// `[a.b.c.d]:port`), read without Skylight's parser.
fn ipv4_text(r: &Value) -> Option<String> {
    // The first field that holds an address is the client's (Exchange's ClientIPAddress first).
    let first = [
        "ClientIPAddress",
        "ClientIP",
        "ActorIpAddress",
        "ClientIp",
        "IPAddress",
    ]
    .iter()
    .filter_map(|k| r.get(*k)?.as_str())
    .find_map(|field| {
        let t = field.trim();
        if let Ok(ip) = t.parse::<std::net::IpAddr>() {
            return Some(ip.to_canonical().to_string());
        }
        let t = t.trim_start_matches('[');
        let t = t.strip_prefix("::ffff:").unwrap_or(t);
        let end = t.find([']', ':']).unwrap_or(t.len());
        let ip = &t[..end];
        ip.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|_| ip.to_string())
    })?;
    first.parse::<std::net::Ipv4Addr>().ok().map(|_| first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_log_filters_count_what_the_simulator_published() {
    let s = setup(sim_config(150, 3, ""), None).await;
    s.collect_cleanly("clean").await;
    let records = published(&s);
    let text = |r: &Value, k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };

    // Everything, then by time window.
    assert_eq!(count(&s, &[]), records.len());
    let (from, to) = ("2026-11-19T06:00:00", "2026-11-19T12:00:00");
    let in_window = records
        .iter()
        .filter(|r| {
            let t = text(r, "CreationTime");
            t.as_str() >= from && t.as_str() < to
        })
        .count();
    assert!(in_window > 0);
    assert_eq!(count(&s, &[&format!("time={from}Z..{to}Z")]), in_window);

    // The user with the most failed sign-ins: by operation, user and result.
    let mut failures = std::collections::HashMap::<String, usize>::new();
    for r in records
        .iter()
        .filter(|r| text(r, "Operation") == "UserLoginFailed")
    {
        *failures.entry(text(r, "UserId")).or_default() += 1;
    }
    let (user, n) = failures
        .into_iter()
        .max_by_key(|(u, n)| (*n, u.clone()))
        .unwrap();
    assert_eq!(
        count(
            &s,
            &[
                "operation=UserLoginFailed",
                &format!("user={}", user.to_uppercase())
            ]
        ),
        n
    );
    assert_eq!(
        count(
            &s,
            &[
                "operation=userloginfailed",
                "result=failure",
                &format!("user={user}")
            ]
        ),
        n
    );

    // One user over a window (the hour-led index), and everyone but that user.
    let by_user_in_window = records
        .iter()
        .filter(|r| text(r, "UserId") == user)
        .filter(|r| {
            let t = text(r, "CreationTime");
            t.as_str() >= from && t.as_str() < to
        })
        .count();
    assert_eq!(
        count(
            &s,
            &[&format!("user={user}"), &format!("time={from}Z..{to}Z")]
        ),
        by_user_in_window
    );
    let not_user = records.iter().filter(|r| text(r, "UserId") != user).count();
    assert_eq!(count(&s, &[&format!("user!={user}")]), not_user);

    // An address, and the /16 block around it.
    let ip = ipv4_text(records.iter().find(|r| text(r, "UserId") == user).unwrap()).unwrap();
    let exact = records
        .iter()
        .filter(|r| ipv4_text(r).as_deref() == Some(ip.as_str()))
        .count();
    assert_eq!(count(&s, &[&format!("ip={ip}")]), exact);
    let prefix: String = ip.split('.').take(2).collect::<Vec<_>>().join(".") + ".";
    let block = records
        .iter()
        .filter(|r| ipv4_text(r).is_some_and(|i| i.starts_with(&prefix)))
        .count();
    assert_eq!(count(&s, &[&format!("ip={prefix}0.0/16")]), block);

    // RecordType: one, a range, none of.
    let rt = |r: &Value| {
        r.get("RecordType")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    };
    assert_eq!(
        count(&s, &["record_type=15"]),
        records.iter().filter(|r| rt(r) == Some(15)).count()
    );
    assert_eq!(
        count(&s, &["record_type=1..20"]),
        records
            .iter()
            .filter(|r| rt(r).is_some_and(|t| (1..=20).contains(&t)))
            .count()
    );
    assert_eq!(
        count(&s, &["record_type!=15,6"]),
        records
            .iter()
            .filter(|r| !matches!(rt(r), Some(15 | 6)))
            .count()
    );

    // Free text over the raw record.
    let needle = text(
        records
            .iter()
            .find(|r| r.get("SourceFileName").is_some())
            .unwrap(),
        "SourceFileName",
    );
    let with_needle = records
        .iter()
        .filter(|r| {
            r.to_string()
                .to_lowercase()
                .contains(&needle.to_lowercase())
        })
        .count();
    assert_eq!(
        count(&s, &[&format!("text~{}", needle.to_uppercase())]),
        with_needle
    );

    // Countries: every address inside a simulated country's blocks is placed in that country
    // (the simulator's own table says which blocks belong to which country).
    for country in skylight_sim::tenant::geo::COUNTRIES {
        let blocks: Vec<String> = country
            .blocks
            .iter()
            .flat_map(|&(a, b, len)| {
                (u16::from(b)..u16::from(b) + u16::from(len))
                    .map(move |x| format!("{a}.{x}.0.0/16"))
            })
            .collect();
        let inside = records
            .iter()
            .filter(|r| {
                ipv4_text(r).is_some_and(|i| {
                    let o: Vec<u8> = i.split('.').filter_map(|p| p.parse().ok()).collect();
                    country.blocks.iter().any(|&(a, b, len)| {
                        o.len() == 4
                            && o[0] == a
                            && o[1] >= b
                            && u16::from(o[1]) < u16::from(b) + u16::from(len)
                    })
                })
            })
            .count();
        let ip = format!("ip={}", blocks.join(","));
        assert_eq!(
            count(
                &s,
                &[&ip, &format!("country={}", country.code.to_lowercase())]
            ),
            inside,
            "{}",
            country.code
        );
        assert_eq!(
            count(&s, &[&ip, &format!("country!={}", country.code)]),
            0,
            "{}",
            country.code
        );
    }
    // The named range: its category, name and tag.
    let (a, _, _) = skylight_sim::tenant::geo::COUNTRIES[0].blocks[0];
    let office = records
        .iter()
        .filter(|r| ipv4_text(r).is_some_and(|i| i.starts_with(&format!("{a}."))))
        .count();
    assert!(office > 0);
    for tag in ["ip_tag=corporate", "ip_tag=name:office", "ip_tag=tag:hq"] {
        assert_eq!(count(&s, &[tag]), office, "{tag}");
    }
    assert_eq!(count(&s, &["ip_tag=vpn"]), 0);
    // User agents (in UserAgent, an Entra sign-in's ExtendedProperties, or Exchange's
    // ClientInfoString): Word desktop clients.
    let ua = |r: &Value| -> String {
        // Sometimes an array, sometimes the array as a JSON string.
        let props = match r.get("ExtendedProperties") {
            Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let extended = props
            .as_array()
            .and_then(|a| a.iter().find(|p| p["Name"] == "UserAgent"))
            .and_then(|p| p["Value"].as_str())
            .map(String::from);
        // Keys come in any casing.
        let direct = r.as_object().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("UserAgent"))
                .and_then(|(_, v)| v.as_str())
                .map(String::from)
        });
        direct
            .filter(|u| !u.is_empty())
            .or(extended)
            .unwrap_or_else(|| text(r, "ClientInfoString"))
    };
    let word = records
        .iter()
        .filter(|r| ua(r).to_lowercase().contains("microsoft word"))
        .count();
    assert!(word > 0);
    assert_eq!(count(&s, &["client_app=word"]), word);

    // Workload as Microsoft wrote it; guests (#EXT# in the UPN) as external users.
    let exchange = records
        .iter()
        .filter(|r| text(r, "Workload") == "Exchange")
        .count();
    assert!(exchange > 0);
    assert_eq!(count(&s, &["workload=exchange"]), exchange);
    let guests = records
        .iter()
        .filter(|r| text(r, "UserId").contains("#EXT#"))
        .count();
    assert!(guests > 0);
    assert_eq!(count(&s, &["external=true", "user~#ext#"]), guests);

    // Counts per hour (a chart's data), with and without free text.
    let q = |conditions: &[&str]| skylight_store::ActivityQuery {
        tenant: Some("contoso".into()),
        filter: skylight_model::filter::Filter::parse(conditions).unwrap(),
        limit: 1,
        after: None,
    };
    let mut per_hour = std::collections::BTreeMap::<String, u64>::new();
    for r in records.iter().filter(|r| rt(r) == Some(15)) {
        *per_hour
            .entry(text(r, "CreationTime")[..13].to_string())
            .or_default() += 1;
    }
    let hist = s
        .store
        .activity_histogram(&q(&["record_type=15"]), 3_600_000)
        .unwrap();
    let got: std::collections::BTreeMap<String, u64> = hist
        .iter()
        .map(|(ms, n)| {
            let t = chrono::DateTime::from_timestamp_millis(*ms).unwrap();
            (t.format("%Y-%m-%dT%H").to_string(), *n)
        })
        .collect();
    assert_eq!(got, per_hour);
    let text_hist = s
        .store
        .activity_histogram(&q(&[&format!("text~{needle}")]), 86_400_000)
        .unwrap();
    assert_eq!(
        text_hist.iter().map(|(_, n)| *n as usize).sum::<usize>(),
        with_needle
    );

    // One activity by Id: its columns and the raw record as published.
    let some = records.iter().find(|r| rt(r) == Some(15)).unwrap();
    let (row, raw) = s.store.activity(None, &text(some, "Id")).unwrap().unwrap();
    assert_eq!(row.user.as_deref(), Some(text(some, "UserId").as_str()));
    assert_eq!(serde_json::from_slice::<Value>(&raw).unwrap(), *some);
    assert!(s.store.activity(None, "no-such-id").unwrap().is_none());
    assert!(
        s.store
            .activity(Some("fabrikam"), &text(some, "Id"))
            .unwrap()
            .is_none()
    );

    // Paging: small pages, newest first, each record once.
    let mut seen = HashSet::new();
    let mut after = None;
    let mut last_time = None;
    loop {
        let q = skylight_store::ActivityQuery {
            tenant: None,
            filter: skylight_model::filter::Filter::parse(&["record_type=15"]).unwrap(),
            limit: 97,
            after,
        };
        let page = s.store.activities(&q).unwrap();
        for row in &page.rows {
            assert!(seen.insert(row.id.clone()), "{} twice", row.id);
            assert!(last_time.is_none_or(|t| row.time <= t), "newest first");
            last_time = Some(row.time);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        records.iter().filter(|r| rt(r) == Some(15)).count()
    );
}
