//! `skylight demo`: a live simulated tenant, the collector polling it into the embedded store,
//! detection, and the console and API over that store, in one process. On first run it creates
//! the administrator `admin` and prints its password once.

use std::sync::Arc;

use anyhow::Context;
use skylight_m365::config::Config;
use skylight_model::Role;
use skylight_sim::SimConfig;
use skylight_store::{SqliteStore, Store};

use crate::sim_cmd::DemoArgs;

/// Runs the demo until Ctrl-C.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let cfg = SimConfig {
        users: args.users.max(1),
        days: args.days.clamp(1, 30),
        seed: args.seed,
        live: true,
        blob_minutes: 5,
        scenarios: "all".parse().unwrap_or_default(),
        ..SimConfig::default()
    };
    // The simulated tenant on a port of its own; the API on the address asked for.
    let sim = skylight_sim::start(cfg, "127.0.0.1:0")
        .await
        .context("cannot start the simulated tenant")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another address with --listen",
                args.listen
            )
        })?;
    let api = listener.local_addr()?;
    if !api.ip().is_loopback() {
        anyhow::bail!(
            "the demo serves over plain HTTP: listen on a loopback address such as 127.0.0.1:8080 (or run `skylight serve` behind TLS)"
        );
    }

    // The connector, configured as an administrator would, for the simulated tenant.
    let t = sim.tenant_json();
    let field = |k: &str| t[k].as_str().unwrap_or_default().to_string();
    let secret_file = args.data_dir.join("demo-client-secret");
    std::fs::write(&secret_file, field("client_secret"))
        .with_context(|| format!("cannot write {}", secret_file.display()))?;
    // Baselines learn for a day of the simulated history, so the demo's incidents alert.
    let toml = format!(
        "[[tenant]]\nname = \"demo\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"demo-client-secret\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\ncomponents = [\"activities\", \"files\"]\n\n[collector]\npoll_interval_secs = 30\noverlap_hours = 1\ndirectory_interval_minutes = 10\n\n[detection]\nlearning_days = 1.0\n",
        field("tenant_id"),
        field("client_id"),
        url = sim.url()
    );
    // Written out, so that the demo runs exactly as `skylight serve --config` would.
    let config_path = args.data_dir.join("demo.toml");
    std::fs::write(&config_path, &toml)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let config = Config::load(&config_path).context("demo configuration")?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&args.data_dir)?);
    let sealer = Arc::new(
        skylight_store::seal::Sealer::load_or_create(&args.data_dir.join("connector-secrets.key"))
            .context("cannot use the key that seals connector credentials")?,
    );
    // The first run makes the first administrator; the password is printed once, below.
    let first_admin = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
            if store.account_count()? > 0 {
                return Ok(None);
            }
            let password = skylight_server::auth::new_password()?;
            crate::admin_cmd::create(store.as_ref(), "admin", &password, Role::Admin)?;
            Ok(Some(password))
        })
        .await
        .context("account task failed")??
    };

    let data = args.data_dir.display();
    let lines = [
        format!(
            "Skylight demo: a live simulated tenant of {} users ({} days of history, every attack scenario)",
            args.users.max(1),
            args.days.clamp(1, 30)
        ),
        format!("  collecting into   {data} (first the backfill, then every 30 s)"),
        format!(
            "  activity log      skylight activities --data-dir {data} category=login result=failure"
        ),
        format!("  alerts            skylight alerts --data-dir {data}"),
        format!(
            "  directory, apps   skylight users --data-dir {data}; skylight apps --level high --data-dir {data}"
        ),
        format!("  files             skylight files --access external,public --data-dir {data}"),
        format!("  connector status  skylight status --data-dir {data}"),
        match &first_admin {
            Some(password) => format!(
                "  console           http://{api}/   sign in as admin with password {password} (shown once)"
            ),
            None => format!(
                "  console           http://{api}/   sign in with your account (`skylight admin reset-password --username admin --data-dir {data}` if it is lost)"
            ),
        },
        format!(
            "  API               http://{api}/api/v1/activities   (a console session, or a token from `skylight admin token`; OpenAPI: /api/v1/openapi.json)"
        ),
        format!(
            "  simulated tenant  {}   (ground truth: {}/_sim/truth)",
            sim.url(),
            sim.url()
        ),
        "Ctrl-C stops the demo.".to_string(),
    ];
    // Collection (a week back, then every 30 s), detection, notifications, directory and files
    // every 10 minutes, governance, IP ranges and retention from the console, and tenants
    // connected in the console too: all as `skylight serve` does them.
    let serving = crate::serve_cmd::Serving {
        config_path: Some(config_path),
        config,
        store,
        sealer,
        roles: crate::collect_cmd::Roles::ALL,
        api_token: None,
        secure_cookies: false,
    };
    let served = crate::serve_cmd::run_console(serving, listener, lines.to_vec()).await;
    sim.task.abort();
    served
}
