//! The directory inventory on every backend: every filter and every order, with
//! expectations worked out by hand (orders are SQLite's: names by ASCII-folded bytes, the rest by
//! bytes), and the syncs' replacements and full re-enumerations.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::Utc;
use skylight_model::{DirectoryGroup, DirectoryUser, GroupKind, GroupMember};
use skylight_store::testkit::on_every_backend;
use skylight_store::{DirectoryChanges, DirectoryQuery, RoleMembers, Store, UserRisk};

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

/// The ids of the users a query lists, in order.
fn user_ids(store: &dyn Store, q: DirectoryQuery) -> Vec<String> {
    store
        .directory_users(&q)
        .expect("users")
        .into_iter()
        .map(|u| u.id)
        .collect()
}

/// (name, direct members, nested users) of the groups a query lists, in order.
fn group_rows(store: &dyn Store, q: DirectoryQuery) -> Vec<(String, u32, u32)> {
    store
        .directory_groups(&q)
        .expect("groups")
        .into_iter()
        .map(|g| (g.display_name, g.direct_members, g.user_members))
        .collect()
}

/// The members' ids, in order.
fn member_ids(members: Vec<GroupMember>) -> Vec<String> {
    members.into_iter().map(|m| m.id).collect()
}

/// The contoso tenant, as a filter.
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
