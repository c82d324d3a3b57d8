//! `skylight bench scale`: the ingest rate of 1, 2, 3… collector processes sharing one
//! PostgreSQL database, against one process on the embedded SQLite store, in one run. Each round
//! gets fresh simulated tenants (their own processes) and a fresh store, starts its collectors
//! (`skylight serve --role collector`, which share the tenants' content types through leases),
//! and times them until every published record is stored.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use skylight_model::ContentType;
use skylight_store::{PostgresStore, SqliteStore, Store};

use crate::collect_cmd::DatabaseUrl;

/// Options of `skylight bench scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// A PostgreSQL server to measure on: a URL ending in `/DATABASE` whose user may create
    /// databases (each round creates and drops `skylight_bench_N`).
    #[arg(long, env = "SKYLIGHT_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: DatabaseUrl,
    /// Simulated tenants (five units of work each: their content types).
    #[arg(long, default_value_t = 4)]
    tenants: usize,
    /// Users per simulated tenant.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// The largest number of collector processes to measure (from 1).
    #[arg(long, default_value_t = 3)]
    processes: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::collect_cmd::Format,
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the scale benchmark.
pub async fn bench_scale(args: ScaleArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the skylight executable")?;
    let mut rounds = vec![round(&exe, &args, None).await?];
    for n in 1..=args.processes.max(1) {
        rounds.push(round(&exe, &args, Some(n)).await?);
    }
    let out = serde_json::json!({
        "tenants": args.tenants,
        "users_per_tenant": args.users,
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "rounds": rounds,
    });
    match args.format {
        crate::collect_cmd::Format::Json => crate::out::outln!("{out}"),
        crate::collect_cmd::Format::Table => {
            crate::out::outln!(
                "{:<24} {:>10} {:>9} {:>12}",
                "store",
                "records",
                "seconds",
                "records/s"
            );
            for r in &rounds {
                crate::out::outln!(
                    "{:<24} {:>10} {:>9} {:>12}",
                    r["store"].as_str().unwrap_or_default(),
                    r["records"].to_string(),
                    r["seconds"].to_string(),
                    r["records_per_s"].to_string()
                );
            }
        }
    }
    Ok(())
}

/// One round: `processes` collectors on PostgreSQL, or one on SQLite (`None`).
async fn round(
    exe: &std::path::Path,
    args: &ScaleArgs,
    processes: Option<usize>,
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let sims = (0..args.tenants.max(1))
        .map(|i| spawn_sim(exe, args.users, i as u64 + 1))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = String::new();
    let mut published = 0u64;
    for (i, (_, url)) in sims.iter().enumerate() {
        let t: serde_json::Value = reqwest::get(format!("{url}/_sim/tenant"))
            .await?
            .json()
            .await?;
        let truth: serde_json::Value = reqwest::get(format!("{url}/_sim/truth"))
            .await?
            .json()
            .await?;
        published += ContentType::ALL
            .iter()
            .map(|ct| {
                truth["content_types"][ct.as_str()]["record_ids"]
                    .as_array()
                    .map_or(0, Vec::len) as u64
            })
            .sum::<u64>();
        let secret = format!("secret-{i}");
        std::fs::write(
            dir.path().join(&secret),
            t["client_secret"].as_str().unwrap_or_default(),
        )?;
        config.push_str(&format!(
            "[[tenant]]\nname = \"t{i}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{secret}\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\nrequests_per_minute = 100000\n\n",
            t["tenant_id"].as_str().unwrap_or_default(),
            t["client_id"].as_str().unwrap_or_default(),
        ));
    }
    config.push_str("[collector]\npoll_interval_secs = 1\nlease_secs = 6\n");
    let config_path = dir.path().join("skylight.toml");
    std::fs::write(&config_path, config)?;
    let admin = args.database_url.checked()?;
    let (label, store, env): (String, Arc<dyn Store>, Vec<(&str, String)>) = match processes {
        None => {
            let data = dir.path().join("data");
            let store = Arc::new(SqliteStore::open(&data)?);
            (
                "sqlite, 1 process".into(),
                store,
                vec![("SKYLIGHT_DATA_DIR", data.display().to_string())],
            )
        }
        Some(n) => {
            let name = format!("skylight_bench_{n}");
            let admin_url = admin.to_owned();
            // The blocking PostgreSQL client cannot run on a runtime thread.
            let url = tokio::task::spawn_blocking(move || {
                PostgresStore::drop_database(&admin_url, &name)?;
                PostgresStore::create_database(&admin_url, &name)
            })
            .await
            .context("the store task failed")??;
            let store = Arc::new(PostgresStore::open(&url)?);
            (
                format!("postgresql, {n} process{}", if n == 1 { "" } else { "es" }),
                store,
                vec![("SKYLIGHT_DATABASE_URL", url)],
            )
        }
    };
    let started = Instant::now();
    let collectors: Vec<Killed> = (0..processes.unwrap_or(1))
        .map(|_| {
            Command::new(exe)
                .args(["serve", "--role", "collector", "--config"])
                .arg(&config_path)
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .env_remove("SKYLIGHT_API_TOKEN")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map(Killed)
                .context("cannot start a collector process")
        })
        .collect::<anyhow::Result<_>>()?;
    let limit = Duration::from_secs(3600);
    loop {
        let counted = store.clone();
        let stored = tokio::task::spawn_blocking(move || counted.record_count(None))
            .await
            .context("the store task failed")??;
        if stored >= published {
            break;
        }
        if started.elapsed() > limit {
            anyhow::bail!("{label}: {stored} of {published} records after an hour");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(collectors);
    drop(store);
    if let Some(n) = processes {
        let admin_url = admin.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            PostgresStore::drop_database(&admin_url, &format!("skylight_bench_{n}"))
        })
        .await;
    }
    drop(sims);
    Ok(serde_json::json!({
        "store": label,
        "records": published,
        "seconds": (seconds * 10.0).round() / 10.0,
        "records_per_s": (published as f64 / seconds).round(),
    }))
}

/// Starts a simulated tenant (its own process, seeded); returns it with its URL.
fn spawn_sim(exe: &std::path::Path, users: usize, seed: u64) -> anyhow::Result<(Killed, String)> {
    let mut child = Command::new(exe)
        .args(["sim", "--listen", "127.0.0.1:0", "--days", "7"])
        .args(["--users", &users.to_string(), "--seed", &seed.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the simulator")?;
    let stdout = child.stdout.take().context("no simulator output")?;
    let sim = Killed(child);
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("manage_url")
                .map(|u| u.trim().to_string())
        })
        .context("the simulator did not print its URL")?;
    Ok((sim, url))
}
