//! The console in real Chromium (headless, driven over WebDriver), against `skylight serve` and
//! the simulator: sign in, connect the simulated tenant with the connect wizard and see it turn
//! Connected, filter the activity log to an injected
//! incident's user and country, open an activity's raw record, open the alert raised for the
//! incident, triage and comment it; then suspend a user synced from the simulator's Graph
//! through the confirmation page and see the governance log entry succeed. Screenshots of the main pages go to
//! `target/tmp/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;

use serde_json::Value;

mod common;

use common::webdriver::Browser;
use common::{TOKEN, api_client, run_ok, spawn_announcing_with, spawn_sim};

/// The incident to look for: its user, a country its activities came from, its record Ids and
/// the alert raised for it.
struct Target {
    scenario: String,
    user: String,
    country: String,
    records: HashSet<String>,
    alert: i64,
}

fn ids(v: &Value) -> HashSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// An injected incident that detection alerted on, with the country of one of its activities.
fn target(sim: &str, base: &str) -> Option<Target> {
    let api = api_client();
    let truth: Value = reqwest::blocking::get(format!("{sim}/_sim/truth"))
        .unwrap()
        .json()
        .unwrap();
    let alerts: Value = api
        .get(format!("{base}/api/v1/alerts?limit=5000"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut incidents: Vec<&Value> = truth["incidents"].as_array().unwrap().iter().collect();
    // Sign-in incidents first: their country is the point of them.
    incidents.sort_by_key(|i| {
        !matches!(
            i["scenario"].as_str().unwrap(),
            "impossible_travel" | "anonymous_ip"
        )
    });
    for incident in incidents {
        let records = ids(&incident["record_ids"]);
        let Some(user) = incident["users"][0].as_str() else {
            continue;
        };
        let Some(alert) = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            // One about this user: an alert on a shared address (a spray, a risky IP) can hold
            // one of the incident's activities and name only other users, or name this one
            // after the three its page lists ("and N more").
            .find(|a| {
                !ids(&a["activity_ids"]).is_disjoint(&records)
                    && a["users"].as_array().is_some_and(|users| {
                        users
                            .iter()
                            .take(3)
                            .filter_map(Value::as_str)
                            .any(|u| u.eq_ignore_ascii_case(user))
                    })
            })
        else {
            continue;
        };
        let q: String = format!("user={user}")
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let mine: Value = api
            .get(format!("{base}/api/v1/activities?q={q}&limit=5000"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let country = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| records.contains(a["id"].as_str().unwrap()) && a["country"].is_string())
            .map(|a| a["country"].as_str().unwrap().to_owned());
        if let Some(country) = country {
            return Some(Target {
                scenario: incident["scenario"].as_str().unwrap().to_owned(),
                user: user.to_lowercase(),
                country,
                records,
                alert: alert["id"].as_i64().unwrap(),
            });
        }
    }
    None
}

/// Picks an option of the `n`th (from 1) condition row's field select and types its value.
fn set_condition(b: &Browser, n: usize, field: &str, value: &str) {
    let row = format!("#filters div.row:nth-of-type({n})");
    b.click(&b.find(&format!("{row} select[name=f] option[value={field}]")));
    b.type_into(&b.find(&format!("{row} input[name=v]")), value);
}

/// A member who can be suspended (enabled, cloud-only, no directory role): id and UPN.
fn plain_member(sim: &str) -> (String, String) {
    let state: Value = reqwest::blocking::get(format!("{sim}/_sim/graph?drives=false"))
        .unwrap()
        .json()
        .unwrap();
    let u = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["userType"] == "Member"
                && u["accountEnabled"] == true
                && u["onPremisesSyncEnabled"] != true
                && u["roles"].as_array().unwrap().is_empty()
        })
        .unwrap();
    (
        u["id"].as_str().unwrap().to_owned(),
        u["userPrincipalName"].as_str().unwrap().to_owned(),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Waits until the directory sync brought `upn` in (`serve --config` syncs at start).
fn wait_for_user(base: &str, upn: &str) {
    let url = format!("{base}/api/v1/users/{}", urlencode(upn));
    for _ in 0..240 {
        if api_client().get(&url).send().unwrap().status() == 200 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{upn} never came from the directory sync");
}

#[test]
fn an_analyst_finds_an_incident_in_the_log_and_opens_its_alert_in_chromium() {
    let (_sim, sim) = spawn_sim(&["--users", "120", "--days", "2", "--scenarios", "all"]);
    let dir = tempfile::tempdir().unwrap();
    // No tenant in the file: the administrator connects it in the console.
    let config = dir.path().join("skylight.toml").display().to_string();
    std::fs::write(
        &config,
        "[collector]\nblob_concurrency = 4\n\n[detection]\nlearning_days = 1\n",
    )
    .unwrap();
    let data = dir.path().join("data").display().to_string();
    let app: Value = reqwest::blocking::get(format!("{sim}/_sim/tenant"))
        .unwrap()
        .json()
        .unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "an-admin-password-for-tests").unwrap();
    run_ok(&[
        "admin",
        "create",
        "--username",
        "soc@contoso.com",
        "--password-file",
        &pw.display().to_string(),
        "--data-dir",
        &data,
    ]);
    let (_serve, base) = spawn_announcing_with(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &config,
            "--data-dir",
            &data,
        ],
        &[("SKYLIGHT_API_TOKEN", TOKEN)],
        None,
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_owned())
        },
    );
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = |b: &Browser, name: &str| b.screenshot(&shots.join(format!("{name}.png")));
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path());

    // Signing in: the log asks for it and comes back afterwards.
    b.goto(&format!("{base}/activities"));
    assert!(b.url().contains("/login?next=%2Factivities"), "{}", b.url());
    b.type_into(&b.find("#username"), "soc@contoso.com");
    b.type_into(&b.find("#password"), "an-admin-password-for-tests");
    shot(&b, "01-sign-in");
    b.click(&b.find("#sign-in"));
    b.find("#filters");
    assert!(
        b.wait_url("/activities").ends_with("/activities"),
        "{}",
        b.url()
    );
    assert_eq!(b.text(&b.find("#who")), "soc@contoso.com");

    // The connect wizard: credentials and cloud (the simulator's endpoints), components,
    // connect, and the result; the connector turns Connected.
    b.goto(&format!("{base}/connectors"));
    b.find("#no-connectors");
    b.click(&b.find("#connect-new"));
    b.type_into(&b.find("#name"), "contoso");
    b.type_into(&b.find("#tenant_id"), app["tenant_id"].as_str().unwrap());
    b.type_into(&b.find("#client_id"), app["client_id"].as_str().unwrap());
    b.type_into(&b.find("#secret"), app["client_secret"].as_str().unwrap());
    b.click(&b.find("details summary"));
    for field in ["#login_url", "#manage_url", "#graph_url"] {
        b.type_into(&b.find(field), &sim);
    }
    shot(&b, "00a-connect-credentials");
    b.click(&b.find("#save-credentials"));
    b.find("#components-form");
    shot(&b, "00b-connect-components");
    b.click(&b.find("#save-components"));
    b.click(&b.find("#connect"));
    assert_eq!(
        b.wait_text("#connector-state", "connected"),
        "connected",
        "the connector turns Connected"
    );
    b.find("#connection-test");
    shot(&b, "00c-connect-result");

    // Collection and detection run on what the console connected.
    common::poll_list(
        &api_client(),
        &format!("{base}/api/v1/alerts"),
        "alerts",
        3,
        120,
    );
    let t = target(&sim, &base).expect("an injected incident with an alert and a country");

    // The overview's charts.
    b.goto(&format!("{base}/"));
    assert!(b.all("svg.chart rect.bar").len() > 3, "activity bars");
    shot(&b, "02-overview");

    // The incident's user and country, as form rows; the URL carries them.
    b.goto(&format!("{base}/activities"));
    set_condition(&b, 1, "user", &t.user);
    set_condition(&b, 2, "country", &t.country);
    b.click(&b.find("#apply"));
    let url = b.wait_url("q=country");
    b.find("#results");
    assert!(
        url.contains("q=user%3D") && url.contains("q=country%3D"),
        "{url}"
    );
    let rows = b.all("#results tbody tr");
    assert!(!rows.is_empty());
    let users: Vec<String> = b
        .all("#results tbody td.wrap")
        .iter()
        .map(|e| b.text(e).to_lowercase())
        .collect();
    let countries: Vec<String> = b
        .all("#results tbody td.country")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert_eq!(users.len(), rows.len());
    assert!(users.iter().all(|u| *u == t.user), "{users:?}");
    assert!(countries.iter().all(|c| *c == t.country), "{countries:?}");
    let shown: HashSet<String> = rows.iter().map(|r| b.attr(r, "data-id").unwrap()).collect();
    if rows.len() < 50 {
        assert!(
            !shown.is_disjoint(&t.records),
            "the {} incident's activities are listed",
            t.scenario
        );
    }
    assert!(!b.all("svg.chart rect.bar").is_empty(), "the histogram");
    shot(&b, "03-activity-log");

    // An incident activity's raw record in the drawer.
    let incident_row = rows
        .iter()
        .find(|r| t.records.contains(&b.attr(r, "data-id").unwrap()))
        .unwrap_or(&rows[0])
        .clone();
    let opened = b.attr(&incident_row, "data-id").unwrap();
    b.click(&b.find(&format!("#results tr[data-id=\"{opened}\"] td a")));
    let raw = b.text(&b.find("#drawer #raw-record"));
    assert!(raw.contains(&opened), "the raw record is shown");
    shot(&b, "04-activity-drawer");

    // The user's page, then the alert raised for the incident.
    b.click(&b.find("#drawer dd a[href^='/users/']"));
    assert_eq!(b.text(&b.find("#user-name")).to_lowercase(), t.user);
    shot(&b, "05-user");
    b.click(&b.find(&format!("a.alert-title[href='/alerts/{}']", t.alert)));
    let title = b.text(&b.find("#alert-title"));
    assert!(!title.is_empty());
    assert!(!b.all("#facts li").is_empty(), "the alert says why");
    let user_links: Vec<String> = b
        .all("a.user-link")
        .iter()
        .map(|e| b.text(e).to_lowercase())
        .collect();
    assert!(user_links.contains(&t.user), "{user_links:?}");
    shot(&b, "06-alert");

    // Triage and a comment, through the page's forms (CSRF token and all).
    b.click(&b.find("#status option[value=in_progress]"));
    b.click(&b.find("#triage"));
    assert_eq!(b.wait_text("#alert-status", "in_progress"), "in_progress");
    b.type_into(&b.find("#comment-text"), "Checked with the user: not them.");
    b.click(&b.find("#add-comment"));
    b.wait_text("#comments", "Checked with the user: not them.");
    let stored: Value = api_client()
        .get(format!("{base}/api/v1/alerts/{}", t.alert))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stored["status"], "in_progress");
    assert_eq!(stored["comments"][0]["author"], "soc@contoso.com");

    // Governance from the browser: a synced member's page, Suspend, the confirmation page, and
    // the log entry; the simulated tenant's user is then disabled.
    let (member_id, member) = plain_member(&sim);
    wait_for_user(&base, &member);
    b.goto(&format!("{base}/users/{}", urlencode(&member)));
    assert_eq!(b.text(&b.find("#account-state")), "enabled");
    b.find("#user-groups");
    shot(&b, "13-directory-user");
    b.click(&b.find("#action-suspend-user"));
    let explanation = b.text(&b.find("#explanation"));
    assert!(explanation.contains("Blocks sign-in"), "{explanation}");
    shot(&b, "14-confirm-suspend");
    b.click(&b.find("#confirm"));
    assert_eq!(b.wait_text("#entry-status", "succeeded"), "succeeded");
    assert!(
        b.text(&b.find("#entry")).contains("PATCH"),
        "the entry lists its Graph calls"
    );
    shot(&b, "15-governance-entry");
    let tenant: Value = reqwest::blocking::get(format!("{sim}/_sim/graph?drives=false"))
        .unwrap()
        .json()
        .unwrap();
    let user = tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == member_id.as_str())
        .unwrap();
    assert_eq!(
        user["accountEnabled"], false,
        "the tenant's user is suspended"
    );
    b.goto(&format!("{base}/governance?status=succeeded"));
    let listed = b.text(&b.find("#governance-log"));
    assert!(listed.contains(&member), "{listed}");
    shot(&b, "16-governance-log");
    b.goto(&format!("{base}/apps?microsoft=1"));
    assert!(!b.all("#apps tbody tr").is_empty(), "the app inventory");
    shot(&b, "17-oauth-apps");
    b.click(&b.find("#apps tbody tr td a"));
    b.find("#app-name");
    shot(&b, "18-oauth-app");
    b.goto(&format!("{base}/groups"));
    assert!(!b.all("#groups tbody tr").is_empty(), "the groups");
    shot(&b, "19-groups");

    for (path, name) in [
        ("/alerts", "07-alerts"),
        ("/policies", "08-policies"),
        (
            "/policies/new?template=mass-download-by-single-user",
            "09-policy-form",
        ),
        ("/connectors", "10-connected-apps"),
        ("/settings/accounts", "11-accounts"),
        ("/settings/audit", "12-audit-log"),
    ] {
        b.goto(&format!("{base}{path}"));
        b.find("main h1");
        shot(&b, name);
    }
    // Our own script and styles ran under the Content-Security-Policy without a violation.
    let messages = b.console_messages();
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("Content Security Policy")),
        "{messages:?}"
    );

    // Signing out ends the session.
    b.click(&b.find("#sign-out"));
    b.find("#sign-in");
    b.wait_url("/login");
    b.goto(&format!("{base}/alerts"));
    b.find("#sign-in");
    b.wait_url("/login?next=%2Falerts");
}
