//! The directory inventory and the governance log, through the `Store` trait.

use chrono::Utc;
use skylight_model::{
    AccessLevel, ActionKind, ActionStatus, ActionStep, AppGrant, AppReview, Collaborator,
    DirectoryGroup, DirectoryUser, FileItem, GroupKind, GroupMember, OAuthApp, PermissionLevel,
    TargetKind,
};
use skylight_store::testkit::on_every_backend;
use skylight_store::{
    ActionDraft, ActionUpdate, AppQuery, DirectoryChanges, DirectoryQuery, FileChanges, FileQuery,
    GovernanceQuery, RoleMembers, Store, StoreError,
};

/// A contoso user (a guest or a member).
fn user(id: &str, upn: &str, guest: bool) -> DirectoryUser {
    DirectoryUser {
        tenant: "contoso".into(),
        id: id.into(),
        upn: upn.into(),
        display_name: upn.split('@').next().unwrap_or(upn).into(),
        mail: Some(upn.into()),
        account_enabled: Some(true),
        user_type: if guest { "Guest" } else { "Member" }.into(),
        on_premises_synced: false,
        created: None,
        roles: vec![],
        risk_level: None,
        risk_state: None,
        synced: Utc::now(),
    }
}

/// A contoso security group.
fn group(id: &str, name: &str) -> DirectoryGroup {
    DirectoryGroup {
        tenant: "contoso".into(),
        id: id.into(),
        display_name: name.into(),
        mail: None,
        kind: GroupKind::Security,
        on_premises_synced: false,
        direct_members: 0,
        user_members: 0,
        synced: Utc::now(),
    }
}

/// A group member named by its id.
fn member(id: &str, kind: &str) -> GroupMember {
    GroupMember {
        id: id.into(),
        kind: kind.into(),
        name: Some(id.into()),
    }
}

/// The users' ids, in order.
fn ids(users: &[DirectoryUser]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

/// alice and bob in `sales`; `emea` holds `sales` and carol; dave is a guest and an admin.
fn seed(store: &dyn Store) {
    let changes = DirectoryChanges {
        users: vec![
            user("a", "alice@contoso.com", false),
            user("b", "bob@contoso.com", false),
            user("c", "carol@contoso.com", false),
            user("d", "dave_fabrikam.com#EXT#@contoso.onmicrosoft.com", true),
        ],
        all_users: true,
        groups: vec![group("g1", "Sales"), group("g2", "EMEA")],
        all_groups: true,
        members: vec![
            ("g1".into(), vec![member("a", "user"), member("b", "user")]),
            (
                "g2".into(),
                vec![member("g1", "group"), member("c", "user")],
            ),
        ],
        roles: Some(vec![RoleMembers {
            id: "r1".into(),
            name: "Global Administrator".into(),
            members: vec!["d".into()],
        }]),
        cursors: vec![("users".into(), Some("https://graph/users/delta?t=1".into()))],
        ..DirectoryChanges::default()
    };
    store.commit_directory("contoso", &changes).expect("commit");
}

#[test]
fn nested_membership_roles_and_filters() {
    on_every_backend(|store: &dyn Store| {
        seed(store);
        let emea = store
            .directory_users(&DirectoryQuery {
                group: Some("emea".into()),
                ..DirectoryQuery::default()
            })
            .expect("users");
        assert_eq!(ids(&emea), vec!["a", "b", "c"], "nested members count");
        let groups = store
            .directory_groups(&DirectoryQuery::default())
            .expect("groups");
        let counts: Vec<(&str, u32, u32)> = groups
            .iter()
            .map(|g| (g.display_name.as_str(), g.direct_members, g.user_members))
            .collect();
        assert_eq!(counts, vec![("EMEA", 2, 3), ("Sales", 2, 2)]);
        let alice_groups = store.user_groups("contoso", "a").expect("groups of alice");
        let names: Vec<&str> = alice_groups
            .iter()
            .map(|g| g.display_name.as_str())
            .collect();
        assert_eq!(names, vec!["EMEA", "Sales"]);
        let transitive = store.group_members("contoso", "g2", true).expect("members");
        assert_eq!(transitive.len(), 3);
        assert!(transitive.iter().all(|m| m.kind == "user"));
        assert_eq!(
            store
                .group_members("contoso", "g2", false)
                .expect("direct")
                .len(),
            2
        );

        let admins = store
            .directory_users(&DirectoryQuery {
                admin: Some(true),
                ..DirectoryQuery::default()
            })
            .expect("admins");
        assert_eq!(ids(&admins), vec!["d"]);
        assert_eq!(admins[0].roles, vec!["Global Administrator"]);
        let guests = store
            .directory_users(&DirectoryQuery {
                guest: Some(true),
                ..DirectoryQuery::default()
            })
            .expect("guests");
        assert_eq!(ids(&guests), vec!["d"]);
        let by_upn = store
            .directory_user(None, "ALICE@contoso.com")
            .expect("lookup")
            .expect("alice");
        assert_eq!(by_upn.id, "a");
        assert_eq!(
            store.directory_cursor("contoso", "users").expect("cursor"),
            Some("https://graph/users/delta?t=1".into())
        );
        // A search takes `_` literally.
        let found = store
            .directory_users(&DirectoryQuery {
                search: Some("e_f".into()),
                ..DirectoryQuery::default()
            })
            .expect("search");
        assert_eq!(ids(&found), vec!["d"]);
    });
}

#[test]
fn deltas_change_remove_and_resync() {
    on_every_backend(|store: &dyn Store| {
        seed(store);
        let mut bob = user("b", "bob@contoso.com", false);
        bob.account_enabled = Some(false);
        store
            .commit_directory(
                "contoso",
                &DirectoryChanges {
                    users: vec![bob],
                    removed_users: vec!["a".into()],
                    removed_groups: vec!["g1".into()],
                    cursors: vec![("users".into(), Some("link-2".into()))],
                    ..DirectoryChanges::default()
                },
            )
            .expect("delta");
        let disabled = store
            .directory_users(&DirectoryQuery {
                enabled: Some(false),
                ..DirectoryQuery::default()
            })
            .expect("disabled");
        assert_eq!(ids(&disabled), vec!["b"]);
        let emea = store
            .directory_users(&DirectoryQuery {
                group: Some("g2".into()),
                ..DirectoryQuery::default()
            })
            .expect("emea");
        assert_eq!(
            ids(&emea),
            vec!["c"],
            "a removed group takes its nesting with it"
        );
        // A full re-enumeration drops what it did not see.
        store
            .commit_directory(
                "contoso",
                &DirectoryChanges {
                    users: vec![user("c", "carol@contoso.com", false)],
                    all_users: true,
                    cursors: vec![("users".into(), None)],
                    ..DirectoryChanges::default()
                },
            )
            .expect("resync");
        let all = store
            .directory_users(&DirectoryQuery::default())
            .expect("all");
        assert_eq!(ids(&all), vec!["c"]);
        assert_eq!(
            store.directory_cursor("contoso", "users").expect("cursor"),
            None
        );
    });
}

/// A contoso app with one delegated grant of `scopes`.
fn app(id: &str, scopes: &[&str]) -> OAuthApp {
    let mut a = OAuthApp {
        tenant: "contoso".into(),
        id: id.into(),
        app_id: format!("app-{id}"),
        name: format!("App {id}"),
        publisher: Some("Fabrikam".into()),
        verified_publisher: None,
        first_party: false,
        enabled: true,
        grants: vec![AppGrant {
            id: format!("grant-{id}"),
            principal_id: Some("a".into()),
            resource_id: "graph".into(),
            resource: Some("Microsoft Graph".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        app_roles: vec![],
        level: PermissionLevel::Low,
        consented_users: 0,
        all_users: false,
        first_consent: None,
        last_consent: None,
        review: AppReview::Unreviewed,
        synced: Utc::now(),
    };
    a.summarise();
    a
}

#[test]
fn apps_keep_reviews_and_consent_times_across_syncs() {
    on_every_backend(|store: &dyn Store| {
        let sync = |apps: Vec<OAuthApp>| {
            store
                .commit_directory(
                    "contoso",
                    &DirectoryChanges {
                        apps: Some(apps),
                        ..DirectoryChanges::default()
                    },
                )
                .expect("apps");
        };
        sync(vec![
            app("x", &["User.Read"]),
            app("y", &["Mail.ReadWrite"]),
        ]);
        assert!(
            store
                .set_app_review("contoso", "x", AppReview::Approved)
                .expect("review")
        );
        assert!(
            !store
                .set_app_review("contoso", "nope", AppReview::Approved)
                .expect("review")
        );
        let first = store.oauth_app(None, "app-x").expect("get").expect("x");
        std::thread::sleep(std::time::Duration::from_millis(5));
        sync(vec![app("x", &["User.Read", "Files.Read.All"])]);
        let x = store.oauth_app(None, "App X").expect("get").expect("x");
        assert_eq!(x.review, AppReview::Approved, "a re-sync keeps the review");
        assert_eq!(x.first_consent, first.first_consent);
        assert!(
            x.last_consent > first.last_consent,
            "new scopes move last consent"
        );
        assert_eq!(x.level, PermissionLevel::Medium);
        assert!(
            store.oauth_app(None, "app-y").expect("get").is_none(),
            "gone apps go"
        );
        let high = store
            .oauth_apps(&AppQuery {
                min_level: Some(PermissionLevel::High),
                ..AppQuery::default()
            })
            .expect("list");
        assert!(high.is_empty());
    });
}

/// Suspending alice, in this status.
fn draft(status: ActionStatus) -> ActionDraft {
    ActionDraft {
        tenant: "contoso".into(),
        action: ActionKind::SuspendUser,
        target_kind: TargetKind::User,
        target_id: "a".into(),
        target_name: "alice@contoso.com".into(),
        requested_by: "cli".into(),
        alert_id: Some(7),
        params: serde_json::json!({}),
        status,
        warnings: vec![],
    }
}

#[test]
fn one_action_on_one_target_runs_once_at_a_time() {
    on_every_backend(|store: &dyn Store| {
        let (first, new) = store
            .begin_action(&draft(ActionStatus::InProgress))
            .expect("begin");
        assert!(new);
        let (again, new_again) = store
            .begin_action(&draft(ActionStatus::InProgress))
            .expect("again");
        assert!(!new_again, "the running entry comes back");
        assert_eq!(again.id, first.id);
        let (dry, dry_new) = store
            .begin_action(&draft(ActionStatus::DryRun))
            .expect("dry run");
        assert!(
            dry_new && dry.id != first.id,
            "dry runs never hold the target"
        );

        let done = store
            .update_action(
                first.id,
                &ActionUpdate {
                    status: Some(ActionStatus::Failed),
                    attempt: true,
                    steps: vec![ActionStep {
                        method: "PATCH".into(),
                        path: "/v1.0/users/a".into(),
                        status: Some(503),
                        note: Some("serviceNotAvailable".into()),
                    }],
                    error: Some("graph unavailable".into()),
                    ..ActionUpdate::default()
                },
            )
            .expect("update")
            .expect("entry");
        assert_eq!(done.status, ActionStatus::Failed);
        assert_eq!(done.attempts, 1);
        assert_eq!(done.steps.len(), 1);
        let (second, new_second) = store
            .begin_action(&draft(ActionStatus::InProgress))
            .expect("next");
        assert!(new_second, "a finished action frees the target");
        // Retrying the failed one while the second runs is refused.
        let busy = store.update_action(
            first.id,
            &ActionUpdate {
                status: Some(ActionStatus::InProgress),
                ..ActionUpdate::default()
            },
        );
        assert!(matches!(busy, Err(StoreError::Conflict(_))), "{busy:?}");
        let log = store
            .governance_log(&GovernanceQuery {
                target: Some("ALICE@contoso.com".into()),
                ..GovernanceQuery::default()
            })
            .expect("log");
        let order: Vec<i64> = log.iter().map(|e| e.id).collect();
        assert_eq!(order, vec![second.id, dry.id, first.id]);
        assert_eq!(
            store
                .governance_log(&GovernanceQuery {
                    status: Some(ActionStatus::Failed),
                    ..GovernanceQuery::default()
                })
                .expect("failed")
                .len(),
            1
        );
    });
}

/// A contoso file of drive d1, shared with bob of the first domain.
fn item(id: &str, path: &str, access: AccessLevel, domains: &[&str]) -> FileItem {
    FileItem {
        tenant: "contoso".into(),
        drive_id: "d1".into(),
        id: id.into(),
        name: path.rsplit('/').next().unwrap_or(path).into(),
        path: path.into(),
        parent_id: Some("root".into()),
        folder: false,
        size: 10,
        modified: None,
        owner: Some("alice@contoso.com".into()),
        web_url: None,
        library: "Documents".into(),
        library_path: "Shared Documents".into(),
        drive_type: "documentLibrary".into(),
        site_url: None,
        access,
        collaborators: vec![Collaborator {
            permission_id: format!("p-{id}"),
            kind: "user".into(),
            who: format!("bob@{}", domains.first().unwrap_or(&"contoso.com")),
            roles: vec!["read".into()],
            external: !domains.is_empty(),
            inherited: false,
        }],
        external_domains: domains.iter().map(|d| d.to_string()).collect(),
        synced: Utc::now(),
    }
}

#[test]
fn files_filter_by_exposure_domain_folder_and_collaborator() {
    on_every_backend(|store: &dyn Store| {
        store
            .commit_files(
                "contoso",
                "d1",
                &FileChanges {
                    items: vec![
                        item(
                            "1",
                            "/Finance/Q3.xlsx",
                            AccessLevel::External,
                            &["fabrikam.com"],
                        ),
                        item("2", "/Finance/plan.docx", AccessLevel::Public, &[]),
                        item("3", "/HR/list.xlsx", AccessLevel::Private, &[]),
                        item("4", "/Finance_old/x.xlsx", AccessLevel::Internal, &[]),
                    ],
                    all: true,
                    cursor: Some("drive-link".into()),
                    ..FileChanges::default()
                },
            )
            .expect("commit");
        let ids = |q: FileQuery| -> Vec<String> {
            store
                .files(&q)
                .expect("files")
                .into_iter()
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(
            ids(FileQuery::default()),
            vec!["2", "1", "4", "3"],
            "most exposed first"
        );
        assert_eq!(
            ids(FileQuery {
                access: vec![AccessLevel::External, AccessLevel::Public],
                ..FileQuery::default()
            }),
            vec!["2", "1"]
        );
        assert_eq!(
            ids(FileQuery {
                external_domain: Some("FABRIKAM.com".into()),
                ..FileQuery::default()
            }),
            vec!["1"]
        );
        assert_eq!(
            ids(FileQuery {
                folder: Some("/Finance".into()),
                ..FileQuery::default()
            }),
            vec!["2", "1"],
            "a folder is not a prefix of its neighbour's name"
        );
        assert_eq!(
            ids(FileQuery {
                extension: Some("xlsx".into()),
                collaborator: Some("bob@fabrikam".into()),
                ..FileQuery::default()
            }),
            vec!["1"]
        );
        assert_eq!(
            store
                .directory_cursor("contoso", "drive:d1")
                .expect("cursor"),
            Some("drive-link".into())
        );
        store
            .commit_files(
                "contoso",
                "d1",
                &FileChanges {
                    removed: vec!["2".into()],
                    cursor: Some("drive-link-2".into()),
                    ..FileChanges::default()
                },
            )
            .expect("delta");
        assert!(store.file("contoso", "d1", "2").expect("get").is_none());
        assert_eq!(
            store
                .file("contoso", "d1", "1")
                .expect("get")
                .map(|f| f.access),
            Some(AccessLevel::External)
        );
    });
}
