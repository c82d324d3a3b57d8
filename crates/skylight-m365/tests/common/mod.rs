//! Shared by the collector's tests: a running simulator, a configuration pointing at it, a store,
//! and checks against the simulator's truth.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use skylight_m365::collector::{Collector, CollectorOptions, Progress};
use skylight_m365::config::Config;
use skylight_model::ContentType;
use skylight_sim::{Faults, RunningSim, SimConfig};
use skylight_store::{SqliteStore, Store};

pub struct Setup {
    pub sim: RunningSim,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub toml: String,
    pub store: Arc<dyn Store>,
    /// An ASN database for the collector's enricher, if the test wrote one.
    pub asn_db: Option<std::path::PathBuf>,
}

pub fn sim_config(users: usize, days: u32, faults: &str) -> SimConfig {
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
pub async fn setup(cfg: SimConfig, app: Option<&str>) -> Setup {
    setup_with(cfg, app, false).await
}

/// As `setup`; `by_domain` names the tenant by its domain instead of its GUID.
pub async fn setup_with(cfg: SimConfig, app: Option<&str>, by_domain: bool) -> Setup {
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
        asn_db: None,
    }
}

impl Setup {
    pub fn config_text(&self) -> String {
        self.toml.clone()
    }

    pub async fn collect(&self) -> Vec<(ContentType, Progress)> {
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
            asn_db: self.asn_db.clone(),
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
    pub async fn collect_cleanly(&self, context: &str) {
        let progress = self.collect().await;
        assert!(
            progress.iter().all(|(_, p)| p.error.is_none()),
            "{context}: {progress:?}"
        );
        self.assert_store_equals_truth().await;
    }

    pub async fn truth(&self) -> Value {
        reqwest::get(format!("{}/_sim/truth", self.sim.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn requests(&self, path: &str) -> usize {
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
    pub async fn assert_store_equals_truth(&self) {
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
