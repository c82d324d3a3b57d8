//! OAuth apps and directory sync statuses on every backend: most powerful first, then by
//! ASCII-folded name; found by any key; reviews and consent times kept across syncs; statuses
//! per tenant in byte order. Expectations are worked out by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::{AppGrant, AppReview, DirectorySyncStatus, OAuthApp, PermissionLevel};
use skylight_store::testkit::on_every_backend;
use skylight_store::{AppQuery, DirectoryChanges, Store};

/// A fixed time, `minutes` after noon on 2026-03-01.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// An app of contoso at a level, with one delegated grant of `scopes`.
fn app(id: &str, name: &str, level: PermissionLevel, scopes: &[&str]) -> OAuthApp {
    OAuthApp {
        tenant: "contoso".into(),
        id: id.into(),
        app_id: format!("APP-{id}"),
        name: name.into(),
        publisher: None,
        verified_publisher: None,
        first_party: false,
        enabled: true,
        grants: vec![AppGrant {
            id: format!("grant-{id}"),
            principal_id: Some("u1".into()),
            resource_id: "graph".into(),
            resource: Some("Microsoft Graph".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        app_roles: vec![],
        level,
        consented_users: 1,
        all_users: false,
        first_consent: None,
        last_consent: None,
        review: AppReview::Unreviewed,
        synced: Utc::now(),
    }
}

/// Four contoso apps: one high, two medium (one Microsoft's), one low with consent times.
fn apps() -> Vec<OAuthApp> {
    let mut zulu = app(
        "sp1",
        "Zulu Mail",
        PermissionLevel::High,
        &["Mail.ReadWrite"],
    );
    zulu.publisher = Some("Contoso Ltd".into());
    let mut alpha = app(
        "sp2",
        "alpha reader",
        PermissionLevel::Medium,
        &["Mail.Read"],
    );
    alpha.publisher = Some("Fabrikam".into());
    let mut beta = app("sp3", "Beta", PermissionLevel::Medium, &["Files.Read"]);
    beta.first_party = true;
    beta.publisher = Some("Microsoft".into());
    let mut gamma = app("sp4", "gamma", PermissionLevel::Low, &["User.Read"]);
    gamma.first_consent = Some(at(0));
    gamma.last_consent = Some(at(30));
    vec![gamma, beta, alpha, zulu]
}

/// Commits a round that read these apps (and nothing else).
fn sync_apps(store: &dyn Store, apps: Vec<OAuthApp>) {
    store
        .commit_directory(
            "contoso",
            &DirectoryChanges {
                apps: Some(apps),
                ..DirectoryChanges::default()
            },
        )
        .expect("apps");
}

#[test]
fn apps_are_listed_most_powerful_first_and_found_by_any_key() {
    on_every_backend(|store: &dyn Store| {
        sync_apps(store, apps());
        let list = |q: AppQuery| -> Vec<String> {
            store
                .oauth_apps(&q)
                .expect("apps")
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(list(AppQuery::default()), ["sp1", "sp2", "sp4"]);
        let all = |f: fn(&mut AppQuery)| {
            let mut q = AppQuery {
                first_party: true,
                ..AppQuery::default()
            };
            f(&mut q);
            list(q)
        };
        assert_eq!(all(|_| {}), ["sp1", "sp2", "sp3", "sp4"]);
        assert_eq!(
            all(|q| q.min_level = Some(PermissionLevel::Medium)),
            ["sp1", "sp2", "sp3"]
        );
        assert_eq!(all(|q| q.search = Some("CONTOSO".into())), ["sp1"]);
        assert_eq!(all(|q| q.search = Some("app-sp4".into())), ["sp4"]);
        assert_eq!(all(|q| q.search = Some("READER".into())), ["sp2"]);
        assert!(all(|q| q.search = Some("_".into())).is_empty());
        assert_eq!(all(|q| q.limit = 2), ["sp1", "sp2"]);
        assert!(all(|q| q.tenant = Some("fabrikam".into())).is_empty());

        let alpha = store
            .oauth_app(None, "ALPHA READER")
            .expect("get")
            .expect("by name");
        assert_eq!(alpha, {
            let mut a = apps().remove(2);
            // Stored without a consent time: first seen when synced (and `synced` is the
            // sync's own clock).
            a.synced = alpha.synced;
            a.first_consent = alpha.first_consent;
            a.last_consent = alpha.first_consent;
            a
        });
        assert!(alpha.first_consent.is_some());
        assert_eq!(
            store
                .oauth_app(Some("contoso"), "sp3")
                .expect("get")
                .map(|a| a.name),
            Some("Beta".into())
        );
        assert!(
            store
                .oauth_app(Some("fabrikam"), "sp1")
                .expect("get")
                .is_none()
        );

        // Consent times: the first is the earliest ever seen, the last moves with the grants.
        let gamma = store.oauth_app(None, "sp4").expect("get").expect("gamma");
        assert_eq!(
            (gamma.first_consent, gamma.last_consent),
            (Some(at(0)), Some(at(0)))
        );
        assert!(
            store
                .set_app_review("contoso", "sp4", AppReview::Banned)
                .expect("ban")
        );
        let mut again = apps();
        again[0].first_consent = Some(at(-10));
        sync_apps(store, again);
        let gamma = store.oauth_app(None, "sp4").expect("get").expect("gamma");
        assert_eq!(
            (gamma.first_consent, gamma.last_consent, gamma.review),
            (Some(at(-10)), Some(at(0)), AppReview::Banned),
            "same grants: the last consent stays"
        );
        let mut changed = apps();
        changed[0].grants[0].scopes.push("Calendars.Read".into());
        changed[0].first_consent = Some(at(60));
        changed[0].last_consent = None;
        sync_apps(store, changed);
        let gamma = store.oauth_app(None, "sp4").expect("get").expect("gamma");
        assert_eq!(
            (gamma.first_consent, gamma.last_consent, gamma.review),
            (Some(at(-10)), Some(at(60)), AppReview::Banned)
        );
        // An empty read keeps the inventory (the SQLite backend's behaviour).
        sync_apps(store, vec![]);
        assert_eq!(all(|_| {}).len(), 4);
        sync_apps(store, vec![apps().remove(0)]);
        assert_eq!(all(|_| {}), ["sp4"]);
    });
}

#[test]
fn sync_statuses_are_kept_per_tenant_in_byte_order() {
    on_every_backend(|store: &dyn Store| {
        let status = |tenant: &str, error: Option<&str>| DirectorySyncStatus {
            tenant: tenant.into(),
            last_attempt: at(5),
            last_success: error.is_none().then(|| at(5)),
            users_changed: 3,
            groups_changed: 1,
            apps: 7,
            files_changed: Some(2),
            error: error.map(str::to_owned),
            warnings: vec!["no P2 licence".into()],
        };
        assert!(store.directory_statuses().expect("none").is_empty());
        for t in ["beta", "_x", "Alpha"] {
            store.set_directory_status(&status(t, None)).expect("set");
        }
        store
            .set_directory_status(&status("beta", Some("throttled")))
            .expect("replace");
        assert_eq!(
            store.directory_statuses().expect("all"),
            [
                status("Alpha", None),
                status("_x", None),
                status("beta", Some("throttled"))
            ]
        );
    });
}
