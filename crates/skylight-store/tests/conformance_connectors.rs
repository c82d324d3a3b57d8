//! Console-made connectors on every backend: every field as put (sealed bytes, empty and absent
//! values, times to the nanosecond), replacement whole by name, byte order of names, deletion;
//! and a damaged row read as an error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::ContentType;
use skylight_store::testkit::{TestDatabase, on_every_backend};
use skylight_store::{
    ConnectorPhase, CredentialKind, SqliteStore, Store, StoreError, StoredConnector,
};

/// 2026-11-`day` 09:00 UTC plus `ns` nanoseconds.
fn at(day: u32, ns: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap() + Duration::nanoseconds(ns)
}

/// Sealed bytes as a sealer could give them: every byte value, NULs inside and at the end.
fn sealed() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).rev().collect();
    bytes.extend([0x00, 0x80, 0x00, 0x00]);
    bytes
}

/// A certificate connector with every optional field set.
fn full(name: &str) -> StoredConnector {
    StoredConnector {
        name: name.into(),
        tenant_id: "0b5e4d2c-9f6e-4c1a-8b1e-6a3f2d1c0e9f".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        cloud: "gcc-high".into(),
        credential_kind: CredentialKind::Certificate,
        certificate_pem: Some(
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n".into(),
        ),
        sealed_credential: sealed(),
        login_url: Some("http://127.0.0.1:8443/login".into()),
        manage_url: Some("http://127.0.0.1:8443/manage".into()),
        // Empty, not absent: the two must stay apart.
        graph_url: Some(String::new()),
        activities: true,
        files: false,
        // Not in the canonical order: the order given is kept.
        content_types: vec![
            ContentType::SharePoint,
            ContentType::AzureActiveDirectory,
            ContentType::Dlp,
        ],
        phase: ConnectorPhase::Active,
        last_test: Some(
            r#"{"ok":true,"steps":["token","subscriptions"],"note":"Zoë \"x\""}"#.into(),
        ),
        created_at: at(20, 123_456_789),
        updated_at: at(21, 987_654_321),
        updated_by: "alice@contoso.com".into(),
    }
}

/// A draft with a secret: no credential yet, nothing optional, no content types.
fn draft(name: &str) -> StoredConnector {
    StoredConnector {
        name: name.into(),
        tenant_id: "contoso.onmicrosoft.com".into(),
        client_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
        cloud: "commercial".into(),
        credential_kind: CredentialKind::Secret,
        certificate_pem: None,
        sealed_credential: Vec::new(),
        login_url: None,
        manage_url: None,
        graph_url: None,
        activities: false,
        files: true,
        content_types: Vec::new(),
        phase: ConnectorPhase::Draft,
        last_test: None,
        created_at: at(1, 1),
        updated_at: at(1, 999_999_999),
        updated_by: "token:ci".into(),
    }
}

/// Field by field, so that a failure names the field (equality alone would hide it: `Debug`
/// leaves most fields out).
fn assert_same(got: &StoredConnector, want: &StoredConnector) {
    let n = &want.name;
    assert_eq!(got.name, want.name);
    assert_eq!(got.tenant_id, want.tenant_id, "{n}: tenant_id");
    assert_eq!(got.client_id, want.client_id, "{n}: client_id");
    assert_eq!(got.cloud, want.cloud, "{n}: cloud");
    assert_eq!(got.credential_kind, want.credential_kind, "{n}: kind");
    assert_eq!(
        got.certificate_pem, want.certificate_pem,
        "{n}: certificate"
    );
    assert_eq!(got.sealed_credential, want.sealed_credential, "{n}: sealed");
    assert_eq!(got.login_url, want.login_url, "{n}: login_url");
    assert_eq!(got.manage_url, want.manage_url, "{n}: manage_url");
    assert_eq!(got.graph_url, want.graph_url, "{n}: graph_url");
    assert_eq!(got.activities, want.activities, "{n}: activities");
    assert_eq!(got.files, want.files, "{n}: files");
    assert_eq!(got.content_types, want.content_types, "{n}: content types");
    assert_eq!(got.phase, want.phase, "{n}: phase");
    assert_eq!(got.last_test, want.last_test, "{n}: last_test");
    assert_eq!(got.created_at, want.created_at, "{n}: created_at");
    assert_eq!(got.updated_at, want.updated_at, "{n}: updated_at");
    assert_eq!(got.updated_by, want.updated_by, "{n}: updated_by");
    // And whatever a field added later would bring.
    assert!(got == want, "{n}: differs from what was put");
}

#[test]
fn a_connector_reads_back_as_put() {
    on_every_backend(|store: &dyn Store| {
        assert!(store.connectors().unwrap().is_empty(), "a fresh store");
        let mut paused = full("paused");
        paused.phase = ConnectorPhase::Paused;
        paused.content_types = ContentType::ALL.to_vec();
        paused.sealed_credential = vec![0x00];
        paused.activities = false;
        paused.files = true;
        let put = [full("contoso"), draft("draft"), paused];
        for c in &put {
            store.put_connector(c).unwrap();
        }
        let got = store.connectors().unwrap();
        assert_eq!(got.len(), put.len());
        // By name: contoso, draft, paused.
        for (got, want) in got.iter().zip(&put) {
            assert_same(got, want);
        }
    });
}

#[test]
fn putting_a_name_again_replaces_the_connector_whole() {
    on_every_backend(|store: &dyn Store| {
        store.put_connector(&full("contoso")).unwrap();
        store.put_connector(&full("fabrikam")).unwrap();
        // Every field changes, set ones to absent or empty, and created_at to an earlier time:
        // the store keeps what it is given, not what it had.
        let mut again = draft("contoso");
        again.created_at = at(2, 5);
        again.updated_at = at(22, 6);
        store.put_connector(&again).unwrap();
        let got = store.connectors().unwrap();
        let names: Vec<&str> = got.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["contoso", "fabrikam"], "no duplicate");
        assert_same(&got[0], &again);
        assert_eq!(got[0].created_at, at(2, 5), "created_at as given");
        assert_same(&got[1], &full("fabrikam"));

        // And back: absent and empty values become set ones again.
        store.put_connector(&full("contoso")).unwrap();
        let got = store.connectors().unwrap();
        assert_eq!(got.len(), 2);
        assert_same(&got[0], &full("contoso"));
    });
}

#[test]
fn connectors_come_by_name_in_byte_order() {
    on_every_backend(|store: &dyn Store| {
        let names = [
            "a", "éclair", "B", "b", "Zulu", "_x", "A", "a-b", "ab", "10", "9",
        ];
        for name in names {
            store.put_connector(&draft(name)).unwrap();
        }
        let got: Vec<String> = store
            .connectors()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        // Byte order: digits, upper case, `_`, lower case, then non-ASCII; no case folding.
        assert_eq!(
            got,
            [
                "10", "9", "A", "B", "Zulu", "_x", "a", "a-b", "ab", "b", "éclair"
            ]
        );
    });
}

#[test]
fn a_connector_is_deleted_once() {
    on_every_backend(|store: &dyn Store| {
        assert!(
            !store.delete_connector("contoso").unwrap(),
            "nothing to delete"
        );
        store.put_connector(&full("contoso")).unwrap();
        store.put_connector(&full("fabrikam")).unwrap();
        // Their collectors' statuses: a disconnected connector's go with it.
        let status = |tenant: &str| skylight_model::ConnectorStatus {
            tenant: tenant.into(),
            content_type: skylight_model::ContentType::Exchange,
            state: skylight_model::ConnectorState::Healthy,
            last_success: None,
            watermark: None,
            records: 1,
            blobs: 1,
            gaps: 0,
            last_error: None,
            remediation: None,
            updated_at: chrono::Utc::now(),
            clock_offset_ms: 0,
        };
        store.set_status(&status("contoso")).unwrap();
        store.set_status(&status("fabrikam")).unwrap();
        assert!(
            !store.delete_connector("Contoso").unwrap(),
            "names are exact"
        );
        assert_eq!(store.statuses().unwrap().len(), 2);
        assert!(store.delete_connector("contoso").unwrap(), "deleted");
        let left: Vec<String> = store
            .statuses()
            .unwrap()
            .into_iter()
            .map(|s| s.tenant)
            .collect();
        assert_eq!(left, ["fabrikam"]);
        assert!(!store.delete_connector("contoso").unwrap(), "already gone");
        let got = store.connectors().unwrap();
        assert_eq!(got.len(), 1, "the other one stays");
        assert_same(&got[0], &full("fabrikam"));
        // The name is free again.
        store.put_connector(&draft("contoso")).unwrap();
        assert_same(&store.connectors().unwrap()[0], &draft("contoso"));
    });
}

/// Damages one column of connector `contoso` in turn (through `damage(column, value)`, the
/// database written directly, as a bug or a hand edit could), and reads it back: an error
/// naming the value, never a panic; the row read again once repaired.
fn damaged_rows_are_errors(store: &dyn Store, damage: &dyn Fn(&str, &str)) {
    store.put_connector(&full("contoso")).unwrap();
    store.put_connector(&draft("fabrikam")).unwrap();
    // (column, damaged value, the value the error names, the value put).
    let cases = [
        ("phase", "running", "running", "active"),
        ("phase", "", "", "active"),
        ("credential_kind", "password", "password", "certificate"),
        (
            "content_types",
            "Audit.SharePoint,Audit.Nothing",
            "Audit.Nothing",
            "Audit.SharePoint,Audit.AzureActiveDirectory,DLP.All",
        ),
    ];
    for (column, bad, named, good) in cases {
        damage(column, bad);
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.connectors()));
        match read {
            Err(_) => panic!("reading a damaged {column} panicked"),
            Ok(Err(StoreError::Corrupt(message))) => {
                assert!(
                    message.contains(&format!("`{named}`")),
                    "{column}: {message}"
                );
            }
            Ok(other) => panic!("a damaged {column} must be an error, got {other:?}"),
        }
        damage(column, good);
        let got = store.connectors().unwrap();
        assert_same(&got[0], &full("contoso"));
        assert_same(&got[1], &draft("fabrikam"));
    }
}

#[test]
fn a_damaged_row_is_an_error_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let file = dir.path().join(SqliteStore::FILE_NAME);
    let damage = |column: &str, value: &str| {
        let n = rusqlite::Connection::open(&file)
            .unwrap()
            .execute(
                &format!("UPDATE connectors SET {column} = ?1 WHERE name = 'contoso'"),
                [value],
            )
            .unwrap();
        assert_eq!(n, 1);
    };
    damaged_rows_are_errors(&store, &damage);
}

#[test]
fn a_damaged_row_is_an_error_on_postgresql() {
    let db = TestDatabase::create();
    let store = db.open();
    let damage = |column: &str, value: &str| {
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
        let n = c
            .execute(
                &format!("UPDATE connectors SET {column} = $1 WHERE name = 'contoso'"),
                &[&value],
            )
            .unwrap();
        assert_eq!(n, 1);
    };
    damaged_rows_are_errors(&store, &damage);
}
