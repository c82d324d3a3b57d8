//! The binary on PostgreSQL (`SKYLIGHT_DATABASE_URL`), against `skylight sim`: collection killed
//! mid-backfill still ends equal to the truth, and every other command and process reads the
//! same database.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use skylight_model::ContentType;
use skylight_store::Store;
use skylight_store::testkit::TestDatabase;

mod common;

use common::{BIN, spawn_sim, write_config};

/// `skylight ARGS…` on the database at `url`.
fn skylight(args: &[&str], url: &str) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("SKYLIGHT_DATABASE_URL", url)
        .env_remove("SKYLIGHT_API_TOKEN");
    c
}

fn assert_equals_truth(sim: &str, store: &dyn Store) {
    let truth: serde_json::Value = reqwest::blocking::get(format!("{sim}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let mut total = 0;
    for ct in ContentType::ALL {
        let want: HashSet<String> = truth["content_types"][ct.as_str()]["record_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let got_list = store.record_ids("contoso", Some(ct)).unwrap();
        let got: HashSet<String> = got_list.iter().cloned().collect();
        assert_eq!(got.len(), got_list.len(), "{ct}: no record stored twice");
        assert_eq!(want.difference(&got).count(), 0, "{ct}: records lost");
        assert_eq!(got.difference(&want).count(), 0, "{ct}: unexpected records");
        total += want.len();
    }
    assert!(total > 1000, "a tenant worth testing ({total} records)");
}

#[test]
fn collection_into_postgres_killed_mid_backfill_ends_equal_to_the_truth() {
    let (_sim, sim) = spawn_sim(&[
        "--users",
        "200",
        "--days",
        "7",
        "--faults",
        "duplicates,shuffle",
        "--requests-per-minute",
        "2400",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &sim);
    let db = TestDatabase::create();
    let mut killed_mid_way = 0;
    for i in 0..8u64 {
        let mut child = skylight(&["collect", "--once", "--config", &config], &db.url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + (i * 7919) % 600));
        if child.try_wait().unwrap().is_none() {
            killed_mid_way += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        killed_mid_way >= 5,
        "kills landed mid-backfill ({killed_mid_way})"
    );
    let out = skylight(&["collect", "--once", "--config", &config], &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !std::path::Path::new(&data).join("skylight.db").exists(),
        "nothing went to the embedded store"
    );
    let store = db.open();
    assert_equals_truth(&sim, &store);

    // Other commands read the same database: status counts what is stored, and the activity
    // log finds one user's records.
    let status = skylight(&["status", "--format", "json"], &db.url)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let counted: u64 = String::from_utf8(status.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("content_type").is_some())
        .map(|v| v["records"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, store.record_count(Some("contoso")).unwrap());
    let page = store
        .activities(&skylight_store::ActivityQuery {
            tenant: None,
            filter: skylight_model::filter::Filter::default(),
            limit: 1,
            after: None,
        })
        .unwrap();
    let user = page.rows[0].user.clone().unwrap();
    let condition = format!("user={user}");
    let listed = skylight(
        &["activities", &condition, "--limit", "0", "--format", "json"],
        &db.url,
    )
    .output()
    .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["user"].as_str().unwrap().eq_ignore_ascii_case(&user))
    );
}

#[test]
fn a_wrong_database_url_is_a_clear_error_that_never_shows_the_password() {
    let out = skylight(
        &["status"],
        "postgres://skylight:s3cret-pw@127.0.0.1:9/skylight",
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open the PostgreSQL store"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    let help = skylight(
        &["status", "--help"],
        "postgres://skylight:s3cret-pw@db/skylight",
    )
    .output()
    .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--database-url"), "{help}");
    assert!(!help.contains("s3cret-pw"), "{help}");
    // A URL refused for its scheme is not repeated either (it may still hold a password).
    let out = skylight(&["status"], "mysql://root:s3cret-pw@db/skylight")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("s3cret-pw"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected a PostgreSQL URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `skylight serve ARGS…` on the database; returns it once it has announced itself.
fn spawn_serve_on(args: &[&str], url: &str, log: &std::path::Path) -> common::Killed {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let (child, _) = common::spawn_announcing_with(
        &all,
        &[
            ("SKYLIGHT_DATABASE_URL", url),
            ("SKYLIGHT_API_TOKEN", common::TOKEN),
        ],
        Some(log),
        |l| l.starts_with("skylight ").then(|| l.to_string()),
    );
    child
}

/// Waits (up to four minutes: the simulator throttles, and the machine may be busy) until
/// `done` holds, or fails saying `what`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Which process (by pid) holds each unit of work.
fn holders(store: &dyn Store) -> Vec<(String, u32)> {
    store
        .leases()
        .unwrap()
        .into_iter()
        .filter(|l| l.until > chrono::Utc::now() && !l.name.starts_with("process:"))
        .map(|l| {
            let pid = l.holder.split(':').nth(1).unwrap().parse().unwrap();
            (l.name, pid)
        })
        .collect()
}

#[test]
fn processes_on_one_database_split_the_work_and_take_over_from_one_killed() {
    let (_sim, sim) = spawn_sim(&[
        "--users",
        "200",
        "--days",
        "7",
        "--faults",
        "duplicates,shuffle",
        "--requests-per-minute",
        "2400",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (config, _) =
        common::write_config_with(dir.path(), &sim, "poll_interval_secs = 1\nlease_secs = 3\n");
    let db = TestDatabase::create();
    let store = db.open();
    let first = spawn_serve_on(
        &["--role", "collector,detector", "--config", &config],
        &db.url,
        &dir.path().join("first.log"),
    );
    let first_pid = first.0.id();
    // Every content type, the directory sync, detection and governance taken by the first.
    wait_for("the first process holds the work", || {
        let h = holders(&store);
        h.len() == 8
            && h.iter().any(|(n, _)| n == "sync:contoso")
            && h.iter().all(|(_, pid)| *pid == first_pid)
    });
    let second = spawn_serve_on(
        &["--role", "collector,detector", "--config", &config],
        &db.url,
        &dir.path().join("second.log"),
    );
    let second_pid = second.0.id();
    // An API-only process on the same database: it serves what the others store.
    let (api, api_url) = common::spawn_announcing_with(
        &["serve", "--role", "api", "--listen", "127.0.0.1:0"],
        &[
            ("SKYLIGHT_DATABASE_URL", db.url.as_str()),
            ("SKYLIGHT_API_TOKEN", common::TOKEN),
        ],
        None,
        |l| {
            l.strip_prefix("skylight API on ")
                .and_then(|r| r.split_whitespace().next())
                .map(String::from)
        },
    );
    // The second takes its share of each kind of shared unit (two or three of the five content
    // types) from the first, which gives them up; the one directory sync stays with one of
    // them; detection and governance stay with the first, which renews them.
    let shared = |n: &str| n.starts_with("collect:") || n.starts_with("sync:");
    wait_for("the content types and the sync are shared out", || {
        let h = holders(&store);
        let on = |pid: u32| {
            h.iter()
                .filter(|(n, p)| n.starts_with("collect:") && *p == pid)
                .count()
        };
        on(first_pid).min(on(second_pid)) == 2
            && on(first_pid) + on(second_pid) == 5
            && h.iter().any(|(n, _)| n == "sync:contoso")
    });
    assert!(
        holders(&store)
            .iter()
            .filter(|(n, _)| !shared(n))
            .all(|(_, pid)| *pid == first_pid),
        "{:?}",
        holders(&store)
    );
    let stored_before = store.record_count(Some("contoso")).unwrap();
    // Killed mid-backfill (SIGKILL: no release), the second takes every lease over once the
    // first's expire, and finishes the backfill.
    drop(first);
    wait_for("the second process takes the work over", || {
        let h = holders(&store);
        h.len() == 8 && h.iter().all(|(_, pid)| *pid == second_pid)
    });
    // `status` says which process does what.
    let status = skylight(&["status"], &db.url).output().unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("work detect: done by "))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains(&format!(":{second_pid}:")), "{line}");
    let truth: serde_json::Value = reqwest::blocking::get(format!("{sim}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let published: u64 = ContentType::ALL
        .iter()
        .map(|ct| {
            truth["content_types"][ct.as_str()]["record_ids"]
                .as_array()
                .unwrap()
                .len() as u64
        })
        .sum();
    assert!(
        stored_before < published,
        "the first was killed mid-backfill"
    );
    wait_for("the backfill finishes", || {
        store.record_count(Some("contoso")).unwrap() >= published
    });
    assert_equals_truth(&sim, &store);
    // Detection, moved over too, evaluates everything stored exactly once.
    wait_for("detection catches up", || {
        let (done, newest) = store.detection_progress().unwrap();
        done == newest
    });
    let served: serde_json::Value = common::api_client()
        .get(format!("{api_url}?limit=500"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rows = served["items"].as_array().expect("items");
    assert_eq!(
        rows.len(),
        500,
        "the API process serves the stored activities"
    );
    drop(second);
    drop(api);
}

/// Starts an API-only process on the database; returns it with its base URL.
fn spawn_api(url: &str) -> (common::Killed, String) {
    common::spawn_announcing_with(
        &["serve", "--role", "api", "--listen", "127.0.0.1:0"],
        &[("SKYLIGHT_DATABASE_URL", url)],
        None,
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_string())
        },
    )
}

#[test]
fn a_session_opened_on_one_api_process_works_on_another_and_ends_on_both() {
    let db = TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse battery staple").unwrap();
    let made = skylight(
        &[
            "admin",
            "create",
            "--username",
            "alice",
            "--password-file",
            password.to_str().unwrap(),
        ],
        &db.url,
    )
    .output()
    .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (_a, a) = spawn_api(&db.url);
    let (_b, b) = spawn_api(&db.url);
    let on_a = common::Console::sign_in(&a, "alice", "correct horse battery staple");
    // The same cookie and CSRF token on the other process: no sticky sessions needed.
    let on_b = common::Console {
        base: b.clone(),
        cookie: on_a.cookie.clone(),
        csrf: on_a.csrf.clone(),
        http: common::no_redirects(),
    };
    let (status, page) = on_b.get("/");
    assert_eq!(status, 200);
    assert!(
        page.contains("alice"),
        "signed in as alice on the second process"
    );
    // Signing out on the second ends the session on the first too.
    let (status, _) = on_b.post("/logout", &[]);
    assert_eq!(status, 303);
    let (status, _) = on_a.get("/");
    assert_eq!(
        status, 303,
        "the first process sends a signed-out visitor to the sign-in page"
    );
}

/// A configuration for several simulated tenants (`t0`, `t1`, …), one simulator each.
fn write_mssp_config(dir: &std::path::Path, sims: &[String], extra: &str) -> String {
    let mut toml = String::new();
    for (i, url) in sims.iter().enumerate() {
        let t: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/tenant"))
            .unwrap()
            .json()
            .unwrap();
        let secret = format!("secret-{i}.txt");
        std::fs::write(dir.join(&secret), t["client_secret"].as_str().unwrap()).unwrap();
        toml.push_str(&format!(
            "[[tenant]]\nname = \"t{i}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{secret}\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\ncomponents = [\"activities\"]\n\n",
            t["tenant_id"].as_str().unwrap(),
            t["client_id"].as_str().unwrap()
        ));
    }
    toml.push_str(extra);
    let path = dir.join("skylight.toml");
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

#[test]
fn three_processes_backfill_ten_tenants_through_a_kill_and_a_restart() {
    let sims: Vec<(common::Killed, String)> = (1..=10)
        .map(|seed| {
            common::spawn_sim_with(&[
                "--now",
                "2026-11-20T12:00:00Z",
                "--seed",
                &seed.to_string(),
                "--users",
                "20",
                "--days",
                "7",
                "--scenarios",
                "all",
                "--faults",
                "duplicates,shuffle",
                "--requests-per-minute",
                "2400",
            ])
        })
        .collect();
    let urls: Vec<String> = sims.iter().map(|(_, u)| u.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write_mssp_config(
        dir.path(),
        &urls,
        // Detection spread over six partitions by tenant: the processes share them out.
        "[collector]\npoll_interval_secs = 1\nlease_secs = 3\nblob_concurrency = 2\n\n[detection]\nlearning_days = 1\npartitions = 6\n",
    );
    let db = TestDatabase::create();
    let store = db.open();
    let serve = |name: &str| {
        spawn_serve_on(
            &["--role", "collector,detector", "--config", &config],
            &db.url,
            &dir.path().join(name),
        )
    };
    let first = serve("first.log");
    let second = serve("second.log");
    let third = serve("third.log");
    let pids = [first.0.id(), second.0.id(), third.0.id()];
    wait_for("three processes share the fifty content types", || {
        let h = holders(&store);
        let collecting = h.iter().filter(|(n, _)| n.starts_with("collect:")).count();
        collecting == 50
            && h.iter().filter(|(n, _)| n.starts_with("sync:")).count() == 10
            && pids
                .iter()
                .all(|p| h.iter().any(|(n, q)| n.starts_with("collect:") && q == p))
    });
    let truths: Vec<serde_json::Value> = urls
        .iter()
        .map(|u| {
            reqwest::blocking::get(format!("{u}/_sim/truth"))
                .unwrap()
                .json()
                .unwrap()
        })
        .collect();
    let published: u64 = truths
        .iter()
        .flat_map(|t| {
            ContentType::ALL.iter().map(move |ct| {
                t["content_types"][ct.as_str()]["record_ids"]
                    .as_array()
                    .unwrap()
                    .len() as u64
            })
        })
        .sum();
    // The second dies mid-backfill (SIGKILL: nothing released) and comes back later.
    drop(second);
    assert!(
        store.record_count(None).unwrap() < published,
        "the kill landed mid-backfill"
    );
    std::thread::sleep(Duration::from_secs(5));
    let second = serve("second-again.log");
    let second_pid = second.0.id();
    wait_for("every record of every tenant is stored", || {
        store.record_count(None).unwrap() >= published
    });
    for (i, truth) in truths.iter().enumerate() {
        let tenant = format!("t{i}");
        for ct in ContentType::ALL {
            let want: HashSet<String> = truth["content_types"][ct.as_str()]["record_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let got_list = store.record_ids(&tenant, Some(ct)).unwrap();
            let got: HashSet<String> = got_list.iter().cloned().collect();
            assert_eq!(
                got.len(),
                got_list.len(),
                "{tenant} {ct}: no record stored twice"
            );
            assert_eq!(got, want, "{tenant} {ct}: the store equals the truth");
        }
    }
    // The process that came back took its share again, of collection and of detection: each
    // process evaluates two of the six detection partitions.
    wait_for("the restarted process collects again", || {
        holders(&store)
            .iter()
            .any(|(n, p)| n.starts_with("collect:") && *p == second_pid)
    });
    wait_for("each process holds two detection partitions", || {
        let h = holders(&store);
        [pids[0], second_pid, pids[2]].iter().all(|p| {
            h.iter()
                .filter(|(n, q)| n.starts_with("detect:") && q == p)
                .count()
                == 2
        })
    });
    // Detection caught up across the kill in every partition, and every injected incident of
    // every tenant is alerted.
    wait_for("detection catches up", || {
        let (done, newest) = store.detection_progress().unwrap();
        done == newest
    });
    let partitions = store.detection_partitions().unwrap();
    assert_eq!(partitions.len(), 6, "{partitions:?}");
    let alerts = store
        .alerts(&skylight_store::AlertQuery {
            include_signals: true,
            ..Default::default()
        })
        .unwrap();
    let mut incidents = 0;
    let mut missed = Vec::new();
    for truth in &truths {
        for inc in truth["incidents"].as_array().unwrap() {
            let ids: HashSet<&str> = inc["record_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let on_it = alerts
                .iter()
                .filter(|a| {
                    a.draft
                        .activity_ids
                        .iter()
                        .any(|id| ids.contains(id.as_str()))
                })
                .count();
            if on_it == 0 {
                missed.push(inc["scenario"].as_str().unwrap().to_string());
            }
            incidents += 1;
        }
    }
    assert!(incidents >= 10, "{incidents} incidents injected");
    // Activity by a departed user among them (every simulated tenant has one).
    assert!(missed.is_empty(), "incidents not alerted: {missed:?}");
    drop((first, second, third));
}
