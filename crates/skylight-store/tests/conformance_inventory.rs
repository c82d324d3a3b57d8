//! The directory, app and file inventories on every backend: every filter and every order, with
//! expectations worked out by hand (orders are SQLite's: names by ASCII-folded bytes, the rest by
//! bytes), and the syncs' replacements and full re-enumerations.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::{
    AccessLevel, AppGrant, AppReview, Collaborator, DirectoryGroup, DirectorySyncStatus,
    DirectoryUser, FileItem, GroupKind, GroupMember, OAuthApp, PermissionLevel,
};
use skylight_store::testkit::on_every_backend;
use skylight_store::{
    AppQuery, DirectoryChanges, DirectoryQuery, FileChanges, FileQuery, RoleMembers, Store,
    UserRisk,
};

/// A user of a tenant.
fn user(tenant: &str, id: &str, upn: &str, name: &str) -> DirectoryUser {
    DirectoryUser {
        tenant: tenant.into(),
        id: id.into(),
        upn: upn.into(),
        display_name: name.into(),
        mail: Some(upn.to_ascii_lowercase()),
        account_enabled: Some(true),
        user_type: "Member".into(),
        on_premises_synced: false,
        created: None,
        roles: vec![],
        risk_level: None,
        risk_state: None,
        synced: Utc::now(),
    }
}

/// A group of a tenant.
fn group(tenant: &str, id: &str, name: &str, kind: GroupKind) -> DirectoryGroup {
    DirectoryGroup {
        tenant: tenant.into(),
        id: id.into(),
        display_name: name.into(),
        mail: None,
        kind,
        on_premises_synced: false,
        direct_members: 0,
        user_members: 0,
        synced: Utc::now(),
    }
}

/// A member of a group.
fn member(id: &str, kind: &str, name: Option<&str>) -> GroupMember {
    GroupMember {
        id: id.into(),
        kind: kind.into(),
        name: name.map(str::to_owned),
    }
}

/// The contoso users, in the order they are given to the store.
fn contoso_users() -> Vec<DirectoryUser> {
    let zed = user("contoso", "u1", "Zed@contoso.com", "Zed Zulu");
    let mut adam = user("contoso", "u2", "adam@contoso.com", "Adam");
    adam.mail = None;
    adam.account_enabled = None;
    let mut svc = user("contoso", "u3", "_svc@contoso.com", "Service");
    svc.account_enabled = Some(false);
    let mut emile = user("contoso", "u4", "émile@contoso.com", "Émile");
    emile.mail = None;
    emile.user_type = "guest".into();
    let obrien = user("contoso", "u5", "o'brien%x@contoso.com", "O'Brien");
    vec![zed, adam, svc, emile, obrien]
}

/// Two tenants: contoso's users, groups (with a cycle) and roles; fabrikam's one user and group.
fn seed(store: &dyn Store) {
    let mut sales = group("contoso", "g1", "sales", GroupKind::Microsoft365);
    sales.mail = Some("sales@contoso.com".into());
    store
        .commit_directory(
            "contoso",
            &DirectoryChanges {
                users: contoso_users(),
                all_users: true,
                groups: vec![
                    sales,
                    group("contoso", "g2", "Berlin", GroupKind::Security),
                    group("contoso", "g3", "apple", GroupKind::Distribution),
                ],
                all_groups: true,
                members: vec![
                    (
                        "g1".into(),
                        vec![
                            member("u1", "user", Some("Zed")),
                            member("u2", "user", None),
                            member("g2", "group", Some("Berlin")),
                        ],
                    ),
                    (
                        "g2".into(),
                        vec![
                            member("u3", "user", Some("Service")),
                            member("u1", "user", Some("Zed")),
                            member("g1", "group", Some("sales")),
                        ],
                    ),
                ],
                roles: Some(vec![
                    RoleMembers {
                        id: "r1".into(),
                        name: "Global Administrator".into(),
                        members: vec!["u1".into()],
                    },
                    RoleMembers {
                        id: "r2".into(),
                        name: "Billing Administrator".into(),
                        members: vec!["u1".into(), "u2".into()],
                    },
                ]),
                risks: Some(vec![UserRisk {
                    user_id: "u1".into(),
                    level: "high".into(),
                    state: "atRisk".into(),
                }]),
                cursors: vec![
                    ("users".into(), Some("users-1".into())),
                    ("groups".into(), Some("groups-1".into())),
                ],
                ..DirectoryChanges::default()
            },
        )
        .expect("contoso");
    store
        .commit_directory(
            "fabrikam",
            &DirectoryChanges {
                users: vec![user("fabrikam", "f1", "ADAM@contoso.com", "Adam F")],
                groups: vec![group("fabrikam", "fg", "Sales", GroupKind::Security)],
                members: vec![("fg".into(), vec![member("f1", "user", Some("Adam F"))])],
                ..DirectoryChanges::default()
            },
        )
        .expect("fabrikam");
}

fn user_ids(store: &dyn Store, q: DirectoryQuery) -> Vec<String> {
    store
        .directory_users(&q)
        .expect("users")
        .into_iter()
        .map(|u| u.id)
        .collect()
}

fn group_rows(store: &dyn Store, q: DirectoryQuery) -> Vec<(String, u32, u32)> {
    store
        .directory_groups(&q)
        .expect("groups")
        .into_iter()
        .map(|g| (g.display_name, g.direct_members, g.user_members))
        .collect()
}

fn member_ids(members: Vec<GroupMember>) -> Vec<String> {
    members.into_iter().map(|m| m.id).collect()
}

fn contoso() -> Option<String> {
    Some("contoso".into())
}

#[test]
fn users_are_listed_by_ascii_folded_upn_and_filtered() {
    on_every_backend(|store: &dyn Store| {
        seed(store);
        // `_` (0x5f) < `a`; folded `Zed` is `zed`; `é` (0xc3…) after every ASCII letter; equal
        // folded UPNs by tenant.
        assert_eq!(
            user_ids(store, DirectoryQuery::default()),
            ["u3", "u2", "f1", "u5", "u1", "u4"]
        );
        let q = |f: fn(&mut DirectoryQuery)| {
            let mut q = DirectoryQuery {
                tenant: contoso(),
                ..DirectoryQuery::default()
            };
            f(&mut q);
            user_ids(store, q)
        };
        assert_eq!(q(|_| {}), ["u3", "u2", "u5", "u1", "u4"]);
        assert_eq!(
            q(|q| q.enabled = Some(true)),
            ["u2", "u5", "u1", "u4"],
            "an unknown state counts as enabled"
        );
        assert_eq!(q(|q| q.enabled = Some(false)), ["u3"]);
        assert_eq!(q(|q| q.guest = Some(true)), ["u4"], "user type, any case");
        assert_eq!(q(|q| q.guest = Some(false)), ["u3", "u2", "u5", "u1"]);
        assert_eq!(q(|q| q.admin = Some(true)), ["u2", "u1"]);
        assert_eq!(q(|q| q.admin = Some(false)), ["u3", "u5", "u4"]);
        assert_eq!(q(|q| q.limit = 2), ["u3", "u2"]);
        // Searches: ASCII letters in any case, wildcards and quotes literally, other letters as
        // they are.
        assert_eq!(q(|q| q.search = Some("O'BRIEN%".into())), ["u5"]);
        assert_eq!(q(|q| q.search = Some("%".into())), ["u5"]);
        assert_eq!(q(|q| q.search = Some("ZULU".into())), ["u1"]);
        assert_eq!(q(|q| q.search = Some("émILE@".into())), ["u4"]);
        assert!(q(|q| q.search = Some("ÉMILE@".into())).is_empty());
        assert_eq!(q(|q| q.group = Some("SALES".into())), ["u3", "u2", "u1"]);
        // Every tenant's group of that name.
        assert_eq!(
            user_ids(
                store,
                DirectoryQuery {
                    group: Some("sales".into()),
                    ..DirectoryQuery::default()
                }
            ),
            ["u3", "u2", "f1", "u1"]
        );
        assert_eq!(q(|q| q.group = Some("g3".into())), Vec::<String>::new());

        let zed = store
            .directory_user(None, "ZED@CONTOSO.COM")
            .expect("get")
            .expect("zed");
        assert_eq!(
            (zed.id.as_str(), zed.upn.as_str(), zed.display_name.as_str()),
            ("u1", "Zed@contoso.com", "Zed Zulu")
        );
        assert_eq!(zed.roles, ["Billing Administrator", "Global Administrator"]);
        assert_eq!(
            (zed.risk_level.as_deref(), zed.risk_state.as_deref()),
            (Some("high"), Some("atRisk"))
        );
        assert_eq!(zed.mail.as_deref(), Some("zed@contoso.com"));
        let adam = store
            .directory_user(Some("contoso"), "u2")
            .expect("get")
            .expect("by id");
        assert_eq!((adam.mail, adam.account_enabled), (None, None));
        assert_eq!(adam.roles, ["Billing Administrator"]);
        assert_eq!(
            store
                .directory_user(Some("fabrikam"), "adam@CONTOSO.com")
                .expect("get")
                .map(|u| u.id),
            Some("f1".into())
        );
        assert!(
            store
                .directory_user(None, "ÉMILE@contoso.com")
                .expect("get")
                .is_none()
        );
        assert!(
            store
                .directory_user(Some("fabrikam"), "u1")
                .expect("get")
                .is_none()
        );
    });
}

#[test]
fn groups_count_nested_members_through_cycles() {
    on_every_backend(|store: &dyn Store| {
        seed(store);
        let all = |q: DirectoryQuery| group_rows(store, q);
        let row = |n: &str, d, u| (n.to_owned(), d, u);
        assert_eq!(
            all(DirectoryQuery::default()),
            [
                row("apple", 0, 0),
                row("Berlin", 3, 3),
                row("sales", 3, 3),
                row("Sales", 1, 1)
            ]
        );
        assert_eq!(
            all(DirectoryQuery {
                search: Some("SALES@".into()),
                ..DirectoryQuery::default()
            }),
            [row("sales", 3, 3)],
            "the mail matches too"
        );
        assert_eq!(
            all(DirectoryQuery {
                kind: Some(GroupKind::Security),
                ..DirectoryQuery::default()
            }),
            [row("Berlin", 3, 3), row("Sales", 1, 1)]
        );
        assert_eq!(
            all(DirectoryQuery {
                tenant: Some("fabrikam".into()),
                ..DirectoryQuery::default()
            }),
            [row("Sales", 1, 1)]
        );
        assert_eq!(
            all(DirectoryQuery {
                limit: 1,
                ..DirectoryQuery::default()
            }),
            [row("apple", 0, 0)]
        );
        // Direct: groups before users, nameless first, then by folded name.
        assert_eq!(
            member_ids(store.group_members("contoso", "g1", false).expect("direct")),
            ["g2", "u2", "u1"]
        );
        let reached = store.group_members("contoso", "g1", true).expect("nested");
        assert_eq!(
            reached,
            [
                member("u2", "user", None),
                member("u3", "user", Some("Service")),
                member("u1", "user", Some("Zed")),
            ]
        );
        assert!(
            store
                .group_members("fabrikam", "g1", true)
                .expect("none")
                .is_empty()
        );
        let of_svc: Vec<(String, GroupKind, u32)> = store
            .user_groups("contoso", "u3")
            .expect("groups of u3")
            .into_iter()
            .map(|g| (g.display_name, g.kind, g.user_members))
            .collect();
        assert_eq!(
            of_svc,
            [
                ("Berlin".to_owned(), GroupKind::Security, 3),
                ("sales".to_owned(), GroupKind::Microsoft365, 3)
            ]
        );
        let sales = store.user_groups("fabrikam", "f1").expect("groups of f1");
        assert_eq!(sales.len(), 1);
        assert_eq!(
            (
                sales[0].tenant.as_str(),
                sales[0].id.as_str(),
                sales[0].direct_members
            ),
            ("fabrikam", "fg", 1)
        );
    });
}

#[test]
fn rounds_replace_members_drop_unseen_objects_and_keep_risk() {
    on_every_backend(|store: &dyn Store| {
        seed(store);
        let mut first = user("contoso", "u1", "Zed@contoso.com", "First");
        first.account_enabled = Some(false);
        let second = user("contoso", "u1", "Zed@contoso.com", "Second");
        store
            .commit_directory(
                "contoso",
                &DirectoryChanges {
                    users: vec![first, second],
                    removed_groups: vec!["g2".into()],
                    members: vec![("g1".into(), vec![member("u2", "user", None)])],
                    cursors: vec![("groups".into(), None)],
                    ..DirectoryChanges::default()
                },
            )
            .expect("delta");
        let zed = store.directory_user(None, "u1").expect("get").expect("u1");
        assert_eq!(
            (zed.display_name.as_str(), zed.account_enabled),
            ("Second", Some(true)),
            "the last occurrence in a round wins"
        );
        assert_eq!(
            member_ids(store.group_members("contoso", "g1", true).expect("nested")),
            ["u2"]
        );
        assert!(store.user_groups("contoso", "u3").expect("none").is_empty());
        assert_eq!(
            store.directory_cursor("contoso", "groups").expect("cursor"),
            None
        );
        assert_eq!(
            store.directory_cursor("contoso", "users").expect("cursor"),
            Some("users-1".into()),
            "other resources' links stay"
        );
        assert_eq!(
            store.directory_cursor("fabrikam", "users").expect("cursor"),
            None
        );

        // A full re-enumeration without risks: the unseen user goes with its roles and
        // memberships; those kept keep their risk; groups not seen go; fabrikam is untouched.
        let kept: Vec<DirectoryUser> = contoso_users()
            .into_iter()
            .filter(|u| u.id != "u2")
            .collect();
        store
            .commit_directory(
                "contoso",
                &DirectoryChanges {
                    users: kept,
                    all_users: true,
                    groups: vec![group("contoso", "g1", "sales", GroupKind::Microsoft365)],
                    all_groups: true,
                    ..DirectoryChanges::default()
                },
            )
            .expect("resync");
        assert_eq!(
            user_ids(
                store,
                DirectoryQuery {
                    tenant: contoso(),
                    ..DirectoryQuery::default()
                }
            ),
            ["u3", "u5", "u1", "u4"]
        );
        let zed = store.directory_user(None, "u1").expect("get").expect("u1");
        assert_eq!(zed.risk_level.as_deref(), Some("high"));
        assert!(
            store
                .group_members("contoso", "g1", false)
                .expect("direct")
                .is_empty(),
            "the unseen user's memberships go"
        );
        assert_eq!(
            group_rows(store, DirectoryQuery::default()),
            [("sales".into(), 0, 0), ("Sales".into(), 1, 1)]
        );
        assert_eq!(
            user_ids(
                store,
                DirectoryQuery {
                    admin: Some(true),
                    ..DirectoryQuery::default()
                }
            ),
            ["u1"]
        );

        // Risks read again replace every risk; roles read again replace every role.
        store
            .commit_directory(
                "contoso",
                &DirectoryChanges {
                    risks: Some(vec![UserRisk {
                        user_id: "u3".into(),
                        level: "low".into(),
                        state: "remediated".into(),
                    }]),
                    roles: Some(vec![RoleMembers {
                        id: "r9".into(),
                        name: "Helpdesk Administrator".into(),
                        members: vec!["u5".into()],
                    }]),
                    ..DirectoryChanges::default()
                },
            )
            .expect("risks");
        let zed = store.directory_user(None, "u1").expect("get").expect("u1");
        assert_eq!((zed.risk_level, zed.roles), (None, vec![]));
        let svc = store.directory_user(None, "u3").expect("get").expect("u3");
        assert_eq!(svc.risk_state.as_deref(), Some("remediated"));
        let obrien = store.directory_user(None, "u5").expect("get").expect("u5");
        assert_eq!(obrien.roles, ["Helpdesk Administrator"]);
    });
}

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

/// A file of a drive.
fn item(tenant: &str, drive: &str, id: &str, path: &str, access: AccessLevel) -> FileItem {
    FileItem {
        tenant: tenant.into(),
        drive_id: drive.into(),
        id: id.into(),
        name: path.rsplit('/').next().unwrap_or(path).into(),
        path: path.into(),
        parent_id: Some("root".into()),
        folder: false,
        size: 10,
        modified: Some(at(1)),
        owner: Some("alice@contoso.com".into()),
        web_url: None,
        library: "Documents".into(),
        library_path: "Shared Documents".into(),
        drive_type: "documentLibrary".into(),
        site_url: None,
        access,
        collaborators: vec![],
        external_domains: vec![],
        synced: at(2),
    }
}

fn seed_files(store: &dyn Store) {
    let mut q3 = item(
        "contoso",
        "d1",
        "1",
        "/Finance/Q3.xlsx",
        AccessLevel::External,
    );
    q3.external_domains = vec!["Fabrikam.com".into()];
    q3.collaborators = vec![Collaborator {
        permission_id: "p1".into(),
        kind: "user".into(),
        who: "Bob@Fabrikam.com".into(),
        roles: vec!["read".into()],
        external: true,
        inherited: false,
    }];
    let mut report = item(
        "contoso",
        "d1",
        "5",
        "/Finance/Report.PDF",
        AccessLevel::Internal,
    );
    report.owner = Some("Bob@Contoso.com".into());
    let mut finance = item("contoso", "d1", "f", "/Finance", AccessLevel::Private);
    finance.folder = true;
    let commit = |tenant: &str, drive: &str, items: Vec<FileItem>| {
        store
            .commit_files(
                tenant,
                drive,
                &FileChanges {
                    items,
                    all: true,
                    cursor: Some(format!("{tenant}-{drive}-1")),
                    ..FileChanges::default()
                },
            )
            .expect("files");
    };
    commit(
        "contoso",
        "d1",
        vec![
            q3,
            item(
                "contoso",
                "d1",
                "2",
                "/Finance/plan.docx",
                AccessLevel::Public,
            ),
            item("contoso", "d1", "3", "/HR/list.xlsx", AccessLevel::Private),
            item(
                "contoso",
                "d1",
                "4",
                "/Finance_old/x.xlsx",
                AccessLevel::Internal,
            ),
            report,
            finance,
        ],
    );
    commit(
        "contoso",
        "d2",
        vec![item("contoso", "d2", "6", "/a.pdf", AccessLevel::Public)],
    );
    commit(
        "fabrikam",
        "d1",
        vec![item("fabrikam", "d1", "7", "/b.pdf", AccessLevel::Public)],
    );
}

#[test]
fn files_are_listed_most_exposed_first_then_by_path_bytes() {
    on_every_backend(|store: &dyn Store| {
        seed_files(store);
        let ids = |f: fn(&mut FileQuery)| -> Vec<String> {
            let mut q = FileQuery::default();
            f(&mut q);
            store
                .files(&q)
                .expect("files")
                .into_iter()
                .map(|f| f.id)
                .collect()
        };
        // `/Finance/` sorts before `/Finance_` ('/' < '_').
        assert_eq!(ids(|_| {}), ["2", "6", "7", "1", "5", "4", "3"]);
        assert_eq!(
            ids(|q| q.include_folders = true),
            ["2", "6", "7", "1", "5", "4", "f", "3"]
        );
        assert_eq!(ids(|q| q.name = Some("REPORT".into())), ["5"]);
        assert_eq!(ids(|q| q.extension = Some(".pdf".into())), ["6", "7", "5"]);
        assert_eq!(ids(|q| q.owner = Some("bob@contoso.COM".into())), ["5"]);
        assert_eq!(
            ids(|q| q.external_domain = Some("fabrikam.COM".into())),
            ["1"]
        );
        assert_eq!(ids(|q| q.collaborator = Some("BOB@fab".into())), ["1"]);
        assert!(ids(|q| q.collaborator = Some("%".into())).is_empty());
        assert_eq!(
            ids(|q| q.folder = Some("/Finance/".into())),
            ["2", "1", "5"]
        );
        assert_eq!(ids(|q| q.access = vec![AccessLevel::Internal]), ["5", "4"]);
        assert_eq!(
            ids(|q| {
                q.tenant = Some("contoso".into());
                q.drive_id = Some("d2".into());
            }),
            ["6"]
        );
        assert_eq!(ids(|q| q.limit = 2), ["2", "6"]);
        let q3 = store.file("contoso", "d1", "1").expect("get").expect("q3");
        assert_eq!(q3.collaborators[0].who, "Bob@Fabrikam.com");
        assert_eq!((q3.modified, q3.size), (Some(at(1)), 10));
        assert!(store.file("fabrikam", "d1", "1").expect("get").is_none());

        // A full enumeration of one drive drops its unseen items only; the last occurrence wins.
        store
            .commit_files(
                "contoso",
                "d1",
                &FileChanges {
                    items: vec![
                        item(
                            "contoso",
                            "d1",
                            "1",
                            "/Finance/Q3.xlsx",
                            AccessLevel::Private,
                        ),
                        item("contoso", "d1", "3", "/HR/list.xlsx", AccessLevel::Private),
                        item(
                            "contoso",
                            "d1",
                            "1",
                            "/Finance/Q3.xlsx",
                            AccessLevel::Public,
                        ),
                    ],
                    all: true,
                    cursor: None,
                    ..FileChanges::default()
                },
            )
            .expect("resync");
        assert_eq!(ids(|q| q.tenant = Some("contoso".into())), ["1", "6", "3"]);
        assert_eq!(
            store.directory_cursor("contoso", "drive:d1").expect("c"),
            None
        );
        assert_eq!(
            store.directory_cursor("contoso", "drive:d2").expect("c"),
            Some("contoso-d2-1".into())
        );
    });
}
