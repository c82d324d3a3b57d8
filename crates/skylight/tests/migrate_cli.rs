//! `skylight migrate`: a simulated tenant collected into SQLite, with a console account, moved
//! to PostgreSQL; the records equal the simulator's truth there, alerts and detection progress
//! carried over, and the account signs in on an API process over PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::process::{Command, Output};

use skylight_model::ContentType;
use skylight_store::testkit::TestDatabase;
use skylight_store::{AlertQuery, PostgresStore, SqliteStore, Store};

mod common;

use common::{BIN, spawn_sim, write_config};

/// `skylight migrate --from sqlite://DATA`, with the target URL in the environment.
fn migrate(data: &str, url: &str) -> Output {
    Command::new(BIN)
        .args(["migrate", "--from", &format!("sqlite://{data}")])
        .env("SKYLIGHT_DATABASE_URL", url)
        .output()
        .unwrap()
}

/// Every alert, signals too.
fn alerts(store: &dyn Store) -> Vec<skylight_model::Alert> {
    store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap()
}

#[test]
fn a_collected_sqlite_deployment_moves_to_postgresql_whole() {
    let (_sim, url) = spawn_sim(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = write_config(dir.path(), &url);
    let out = common::run_collect(&config, &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse battery staple").unwrap();
    common::run_ok(&[
        "admin",
        "create",
        "--username",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
        "--data-dir",
        &data,
    ]);

    let db = TestDatabase::create();
    let out = migrate(&data, &db.url);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("every count and digest matches"),
        "{stdout}"
    );
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    for line in [
        "rows in records",
        "records (seq, columns, raw bytes)",
        "accounts",
    ] {
        assert!(stdout.contains(line), "the summary shows {line}: {stdout}");
    }
    // The URL's password is never printed, only the address.
    let secret = db
        .url
        .split_once("://")
        .unwrap()
        .1
        .split_once('@')
        .unwrap()
        .0;
    if let Some((_, pass)) = secret.split_once(':') {
        assert!(!stdout.contains(pass) && !stderr.contains(pass));
    }

    let from = SqliteStore::open(std::path::Path::new(&data)).unwrap();
    let to = PostgresStore::open(&db.url).unwrap();
    let truth: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/truth"))
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
        let got = to.record_ids("contoso", Some(ct)).unwrap();
        assert_eq!(got.len(), want.len(), "{ct}: as many records as the truth");
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), want, "{ct}");
        total += want.len();
    }
    assert!(total > 1000, "a tenant worth testing ({total} records)");
    let progress = from.detection_progress().unwrap();
    assert!(progress.0 > 0, "detection ran before the move");
    assert_eq!(to.detection_progress().unwrap(), progress);
    let before = alerts(&from);
    assert!(!before.is_empty(), "the simulated incidents raised alerts");
    assert_eq!(alerts(&to), before);
    drop(from);
    drop(to);

    // The same figures from the command line, on either store.
    let status = |store: &[&str]| {
        let mut args = vec!["alerts", "--format", "json"];
        args.extend_from_slice(store);
        let out = Command::new(BIN)
            .args(&args)
            .env("SKYLIGHT_DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let on_pg = status(&[]);
    let on_sqlite = Command::new(BIN)
        .args(["alerts", "--format", "json", "--data-dir", &data])
        .env_remove("SKYLIGHT_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(on_sqlite.stdout).unwrap(), on_pg);

    // The account signs in on an API process over PostgreSQL.
    let (_api, base) = common::spawn_announcing_with(
        &["serve", "--role", "api", "--listen", "127.0.0.1:0"],
        &[("SKYLIGHT_DATABASE_URL", db.url.as_str())],
        None,
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_string())
        },
    );
    let console = common::Console::sign_in(&base, "alice", "correct horse battery staple");
    let (code, page) = console.get("/");
    assert_eq!(code, 200);
    assert!(page.contains("alice"), "signed in as alice");

    // A second run refuses the database, which now holds data.
    let again = migrate(&data, &db.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
