//! The file inventory on every backend: every filter and the order (most exposed first, then by
//! tenant, drive and path bytes), with expectations worked out by hand; full enumerations of one
//! drive and the delta links committed with them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::{AccessLevel, Collaborator, FileItem};
use skylight_store::testkit::on_every_backend;
use skylight_store::{FileChanges, FileQuery, Store};

/// A fixed time, `minutes` after noon on 2026-03-01.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
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

/// Two contoso drives and a fabrikam one, each enumerated in full.
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
