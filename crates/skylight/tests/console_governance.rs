//! The console's directory, app, file and governance pages over a tenant synced from the
//! simulator's Graph (files included), called with the API token (an administrator; token
//! callers carry no CSRF token): filters narrow, a group's members match its counts, the
//! confirmation page says what an action does, a ban succeeds, a refused file action shows its
//! reason and is logged failed with a Retry button, and a pending action is approved.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{Value, json};

mod common;

use common::{TOKEN, api_client, run_ok, spawn_announcing_with, spawn_sim, write_config};

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A page's status and HTML (following the redirect after a form).
fn page(base: &str, path: &str) -> (u16, String) {
    let r = api_client().get(format!("{base}{path}")).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn submit(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = api_client()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .unwrap();
    let url = r.url().path().to_owned();
    (r.status().as_u16(), url, r.text().unwrap())
}

fn api(base: &str, path: &str) -> Value {
    api_client()
        .get(format!("{base}{path}"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The rows of the table `id` of a page.
fn rows(html: &str, id: &str) -> usize {
    let start = html.find(&format!("id=\"{id}\"")).unwrap();
    let table = &html[start..];
    let end = table.find("</table>").unwrap();
    table[..end].matches("<tr>").count() - 1
}

#[test]
fn directory_apps_files_and_governance_pages_act_through_the_governor() {
    let (_sim, url) = spawn_sim(&["--users", "60", "--days", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let state: Value = reqwest::blocking::get(format!("{url}/_sim/graph"))
        .unwrap()
        .json()
        .unwrap();
    let sites = state["sites"].as_array().unwrap();
    let quarantine = sites.iter().find(|s| s["isPersonalSite"] != true).unwrap()["webUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let (config, data) = write_config(dir.path(), &url);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "components = [\"activities\"]",
        &format!("components = [\"activities\", \"files\"]\nquarantine_site = \"{quarantine}\""),
    );
    std::fs::write(&config, text).unwrap();
    run_ok(&["sync", "--config", &config, "--data-dir", &data]);
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

    // Groups: a nested group's members, direct and transitive, match its counts.
    let groups = api(&base, "/api/v1/groups?limit=0")["groups"]
        .as_array()
        .unwrap()
        .clone();
    let (status, html) = page(&base, "/groups");
    assert_eq!(status, 200);
    assert_eq!(rows(&html, "groups"), groups.len());
    let nested = groups
        .iter()
        .find(|g| {
            g["user_members"].as_u64().unwrap() > 0 && g["direct_members"] != g["user_members"]
        })
        .unwrap_or(&groups[0]);
    let gid = nested["id"].as_str().unwrap();
    let (_, direct) = page(&base, &format!("/groups/{}", enc(gid)));
    assert_eq!(
        rows(&direct, "members") as u64,
        nested["direct_members"].as_u64().unwrap()
    );
    let (_, every) = page(&base, &format!("/groups/{}?transitive=1", enc(gid)));
    assert_eq!(
        rows(&every, "members") as u64,
        nested["user_members"].as_u64().unwrap()
    );

    // Users: the directory's users are listed, a user's page shows the action buttons.
    let users = api(&base, "/api/v1/users?limit=0")["users"]
        .as_array()
        .unwrap()
        .clone();
    let (_, html) = page(&base, "/users");
    assert_eq!(rows(&html, "directory-users"), users.len().min(200));
    let upn = users
        .iter()
        .find(|u| {
            u["account_enabled"] == true
                && u["on_premises_synced"] == false
                && u["roles"].as_array().unwrap().is_empty()
        })
        .unwrap()["upn"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = page(&base, &format!("/users/{}", enc(&upn)));
    assert!(html.contains("id=\"action-suspend-user\""), "the buttons");

    // A user synced from on-premises: the confirmation warns that directory sync reverts it.
    let synced = users
        .iter()
        .find(|u| u["on_premises_synced"] == true)
        .expect("a user synced from on-premises");
    let (_, html) = page(
        &base,
        &format!(
            "/governance/confirm?action=suspend-user&target={}",
            enc(synced["upn"].as_str().unwrap())
        ),
    );
    assert!(html.contains("the next directory sync reverts"), "{html}");
    let (_, html) = page(
        &base,
        &format!(
            "/governance/confirm?action=suspend-user&target={}",
            enc(&upn)
        ),
    );
    assert!(!html.contains("the next directory sync reverts"), "{html}");

    // Apps: the level filter narrows; Microsoft's show only when asked for.
    let (_, all_apps) = page(&base, "/apps?microsoft=1");
    let (_, theirs) = page(&base, "/apps");
    let (_, high) = page(&base, "/apps?level=high");
    assert!(rows(&all_apps, "apps") > rows(&theirs, "apps"));
    assert!(rows(&theirs, "apps") > rows(&high, "apps"));
    assert!(!theirs.contains("<span class=\"badge\">Microsoft</span>"));
    assert!(!high.contains("sev low") && !high.contains("sev medium"));

    // Ban an app: the confirmation says the grants stay; the entry succeeds.
    let app = api(&base, "/api/v1/apps")["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["enabled"] == true && !a["grants"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    let app_id = app["id"].as_str().unwrap();
    let (_, html) = page(&base, &format!("/apps/{}", enc(app_id)));
    assert!(html.contains("id=\"action-ban-app\""), "the app's buttons");
    assert_eq!(
        rows(&html, "grants"),
        app["grants"].as_array().unwrap().len()
    );
    let (status, confirm) = page(
        &base,
        &format!("/governance/confirm?action=ban-app&target={}", enc(app_id)),
    );
    assert_eq!(status, 200);
    assert!(
        confirm.contains("does not remove the permissions already granted"),
        "{confirm}"
    );
    let (status, at, entry) = submit(
        &base,
        "/governance",
        &[("action", "ban-app"), ("target", app_id)],
    );
    assert_eq!(status, 200);
    assert!(at.starts_with("/governance/"), "{at}");
    assert!(entry.contains("id=\"entry-status\">succeeded"), "{entry}");
    let (_, html) = page(&base, &format!("/apps/{}", enc(app_id)));
    assert!(html.contains("ban-app"), "the app's page lists the action");

    // A dry run is recorded as one.
    let (_, _, dry) = submit(
        &base,
        "/governance",
        &[
            ("action", "revoke-app"),
            ("target", app_id),
            ("dry_run", "1"),
        ],
    );
    assert!(dry.contains("id=\"entry-status\">dry_run"), "{dry}");

    // Files: most exposed first, filters narrow, and the file page lists the collaborators.
    let (status, html) = page(&base, "/files");
    assert_eq!(status, 200);
    let first_public = html.find("access public").unwrap();
    let first_private = html.find("access private").unwrap_or(usize::MAX);
    assert!(first_public < first_private, "most exposed first");
    let (_, public) = page(&base, "/files?access=public");
    assert!(rows(&public, "files") > 0);
    assert!(!public.contains("access private") && !public.contains("access internal"));

    // User quarantine outside `Shared Documents` is refused, with the reason shown and logged.
    let drives = state["drives"].as_array().unwrap();
    let foreign = drives
        .iter()
        .find(|d| {
            d["driveType"] == "documentLibrary"
                && d["libraryPath"] != "Shared Documents"
                && d["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["folder"] == false)
        })
        .expect("a library with a non-English path");
    let item = foreign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["folder"] == false)
        .unwrap();
    let target = format!(
        "{}/{}",
        foreign["id"].as_str().unwrap(),
        item["id"].as_str().unwrap()
    );
    let (status, html) = page(
        &base,
        &format!(
            "/files/{}/{}",
            enc(foreign["id"].as_str().unwrap()),
            enc(item["id"].as_str().unwrap())
        ),
    );
    assert_eq!(status, 200);
    assert!(html.contains("id=\"action-user-quarantine\""));
    assert!(html.contains("id=\"collaborators\""));
    let (status, _, refused) = submit(
        &base,
        "/governance",
        &[("action", "user-quarantine"), ("target", &target)],
    );
    assert_eq!(status, 400);
    assert!(refused.contains("Shared Documents"), "{refused}");
    let (_, failed) = page(&base, "/governance?status=failed");
    assert!(failed.contains("user-quarantine"), "{failed}");
    assert!(failed.contains("class=\"retry\""), "a Retry button");
    assert!(!failed.contains("ban-app"), "the status filter");

    // A pending action waits for approval; Approve carries it out.
    let pending: Value = api_client()
        .post(format!("{base}/api/v1/governance"))
        .json(&json!({"action": "require-sign-in", "target": upn, "needs_approval": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(pending["status"], "pending", "{pending}");
    let id = pending["id"].as_i64().unwrap();
    let (_, html) = page(
        &base,
        &format!("/governance?status=pending&target={}", enc(&upn)),
    );
    assert!(
        html.contains(&format!("action=\"/governance/{id}/approve\"")),
        "{html}"
    );
    let (status, at, html) = submit(&base, &format!("/governance/{id}/approve"), &[]);
    assert_eq!(
        (status, at.as_str()),
        (200, format!("/governance/{id}").as_str())
    );
    assert!(html.contains("id=\"entry-status\">succeeded"), "{html}");
    let (_, user) = page(&base, &format!("/users/{}", enc(&upn)));
    assert!(
        user.contains("require-sign-in"),
        "the user's page lists the action"
    );

    // One collaborator removed from the file page: a Remove link for access granted on the item
    // itself, a confirmation naming them, and the permission gone from the simulated tenant
    // (the file's other permissions stay).
    let graph = |url: &str| -> Value {
        reqwest::blocking::get(format!("{url}/_sim/graph"))
            .unwrap()
            .json()
            .unwrap()
    };
    let now = graph(&url);
    let (drive, item, perm, email, others) = now["drives"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| {
            d["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |i| (d["id"].as_str().unwrap().to_owned(), i))
        })
        .find_map(|(drive, i)| {
            let perms = i["permissions"].as_array()?;
            let p = perms.iter().find(|p| {
                p["kind"] == "user"
                    && p["inheritedFrom"].is_null()
                    && p["grantee"]["email"].is_string()
                    && !p["roles"].as_array().unwrap().iter().any(|r| r == "owner")
            })?;
            Some((
                drive,
                i["id"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
                p["grantee"]["email"].as_str().unwrap().to_owned(),
                perms.len() - 1,
            ))
        })
        .expect("a file shared with a person on the item itself");
    let (status, html) = page(&base, &format!("/files/{}/{}", enc(&drive), enc(&item)));
    assert_eq!(status, 200);
    // The Remove link of that collaborator's row.
    let row = html
        .split("<tr>")
        .find(|r| r.contains(&format!("<td>{email}</td>")))
        .unwrap_or_else(|| panic!("{email} listed: {html}"));
    let at = row.find("href=\"").expect("a Remove link") + 6;
    let confirm = row[at..at + row[at..].find('"').unwrap()].replace("&#38;", "&");
    assert!(
        confirm.starts_with("/governance/confirm?action=remove-collaborator&"),
        "{confirm}"
    );
    let (status, html) = page(&base, &confirm);
    assert_eq!(status, 200);
    assert!(html.contains(&format!("Remove {email}")), "{html}");
    assert!(html.contains("name=\"collaborator\""), "{html}");
    let (status, at, html) = submit(
        &base,
        "/governance",
        &[
            ("action", "remove-collaborator"),
            ("target", &format!("{drive}/{item}")),
            ("collaborator", &email),
        ],
    );
    assert_eq!(status, 200, "{html}");
    assert!(at.starts_with("/governance/"), "{at}");
    assert!(html.contains("id=\"entry-status\">succeeded"), "{html}");
    let after = graph(&url);
    let perms: Vec<&Value> = after["drives"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] == drive.as_str())
        .flat_map(|d| d["items"].as_array().unwrap())
        .filter(|i| i["id"] == item.as_str())
        .flat_map(|i| i["permissions"].as_array().unwrap())
        .collect();
    assert!(perms.iter().all(|p| p["id"] != perm.as_str()), "{perms:?}");
    assert_eq!(perms.len(), others, "only that collaborator went");
}
