//! `migrate`: a SQLite store holding a bit of everything, copied into PostgreSQL, then compared
//! through the `Store` trait (and the copy's own verification shown to catch a difference).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use skylight_model::{
    AccessLevel, ActionKind, ActionStatus, ActivityColumns, ActorKind, AlertDraft, AlertStatus,
    App, AppGrant, AppReview, AuditEntry, AuditRecord, BlobRef, Category, Collaborator,
    ConnectorState, ConnectorStatus, ContentType, DirectoryGroup, DirectorySyncStatus,
    DirectoryUser, Enrichment, FileItem, Gap, GroupKind, GroupMember, OAuthApp, Outcome,
    PermissionLevel, RecordColumns, Resolution, Role, Session, Severity, TargetKind,
};
use skylight_store::migrate::{copy_sqlite_to_postgres, verify};
use skylight_store::seal::Sealer;
use skylight_store::testkit::TestDatabase;
use skylight_store::{
    AccessStore, ActionDraft, ActionUpdate, AlertChange, AlertQuery, AttemptOutcome,
    ConnectorPhase, CredentialKind, DirectoryChanges, FileChanges, NewDelivery, RoleMembers,
    SqliteStore, Store, StoreError, StoredConnector,
};

/// 2026-11-`day` `h`:00 UTC.
fn nov(day: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, 0, 0).unwrap()
}

/// A record; every third one normalised and enriched, every fifth one without a time.
fn record(id: String, i: usize) -> AuditRecord {
    let time = (i % 5 != 4).then(|| nov(1 + (i % 28) as u32, (i % 24) as u32));
    let mut columns = RecordColumns {
        id: id.clone(),
        creation_time: time,
        user_id: Some(format!("user{}@contoso.com", i % 7)),
        operation: Some("FileAccessed".into()),
        workload: Some("SharePoint".into()),
        client_ip: Some(
            if i.is_multiple_of(2) {
                "203.0.113.9"
            } else {
                "not an address"
            }
            .into(),
        ),
        record_type: Some(6),
        ..RecordColumns::default()
    };
    if i.is_multiple_of(3) {
        columns.activity = Some(Box::new(ActivityColumns {
            app: App::SharePoint,
            category: Category::FileAccess,
            actor_kind: ActorKind::User,
            outcome: Outcome::Success,
            admin: i.is_multiple_of(2),
            external_user: false,
            impersonated: true,
            user_agent: Some("Mozilla/5.0".into()),
            enrichment: Some(Enrichment {
                country: Some("FR".into()),
                city: Some("Paris".into()),
                asn: Some(3215),
                isp: Some("Orange".into()),
                ip_tags: Some("corporate|name:Paris office|tag:hq".into()),
                device_type: Some("desktop".into()),
                client_app: Some("Edge".into()),
                os: Some("Windows".into()),
            }),
        }));
    }
    AuditRecord {
        columns,
        // Whitespace and escapes as received: the bytes must come back unchanged.
        raw: format!("{{ \"Id\" : \"{id}\",\n\t\"N\":\"Zoë \\u00e9 {i}\" }}").into_bytes(),
    }
}

/// A lowercase GUID (stored as 16 bytes in SQLite), or other ids kept as text.
fn record_id(i: usize) -> String {
    match i % 4 {
        0 | 1 => format!("{i:08x}-0000-4000-8000-{i:012x}"),
        2 => format!("{i:08X}-0000-4000-8000-{i:012X}"),
        _ => format!("rec-{i}"),
    }
}

/// An alert of `key` on contoso.
fn draft(key: &str) -> AlertDraft {
    AlertDraft {
        key: key.into(),
        tenant: "contoso".into(),
        policy: "p".into(),
        kind: "activity".into(),
        title: format!("Alert {key}"),
        severity: Severity::High,
        category: "threat_detection".into(),
        signal_only: key.ends_with('s'),
        users: vec!["eve@contoso.com".into(), "x\"y".into()],
        ips: vec!["203.0.113.9".into()],
        countries: vec!["FR".into()],
        activity_ids: vec![record_id(0), record_id(1)],
        activity_count: 2,
        facts: vec!["{\"k\":1}".into()],
        first: nov(2, 1),
        last: nov(2, 3),
    }
}

/// An app with one grant (Microsoft's own or Fabrikam's).
fn app(id: &str, first_party: bool) -> OAuthApp {
    let mut a = OAuthApp {
        tenant: "contoso".into(),
        id: id.into(),
        app_id: format!("APP-{id}"),
        name: format!("App {id}"),
        publisher: (!first_party).then(|| "Fabrikam".into()),
        verified_publisher: None,
        first_party,
        enabled: true,
        grants: vec![AppGrant {
            id: format!("grant-{id}"),
            principal_id: Some("a".into()),
            resource_id: "graph".into(),
            resource: Some("Microsoft Graph".into()),
            scopes: vec!["Mail.Read".into()],
        }],
        app_roles: vec![],
        level: PermissionLevel::Low,
        consented_users: 1,
        all_users: false,
        first_consent: Some(nov(1, 2)),
        last_consent: None,
        review: AppReview::Unreviewed,
        synced: nov(5, 1),
    };
    a.summarise();
    a
}

/// A file (or folder) of drive d1 shared with a fabrikam user.
fn file(id: &str, path: &str, folder: bool) -> FileItem {
    FileItem {
        tenant: "contoso".into(),
        drive_id: "d1".into(),
        id: id.into(),
        name: path.rsplit('/').next().unwrap_or(path).into(),
        path: path.into(),
        parent_id: Some("root".into()),
        folder,
        size: 10,
        modified: Some(nov(2, 2)),
        owner: Some("alice@contoso.com".into()),
        web_url: None,
        library: "Documents".into(),
        library_path: "Shared Documents".into(),
        drive_type: "documentLibrary".into(),
        site_url: None,
        access: AccessLevel::External,
        collaborators: vec![Collaborator {
            permission_id: format!("p-{id}"),
            kind: "user".into(),
            who: "bob@fabrikam.com".into(),
            roles: vec!["read".into()],
            external: true,
            inherited: false,
        }],
        external_domains: vec!["fabrikam.com".into()],
        synced: nov(5, 1),
    }
}

/// The key the deployment's connector credentials are sealed with (its key file's).
const SEAL_KEY: [u8; 32] = [42; 32];

/// Console-made connectors: a certificate one whose private key is sealed with [`SEAL_KEY`], a
/// paused one whose sealed bytes hold NULs and high bytes, and a draft with nothing optional.
fn connectors() -> Vec<StoredConnector> {
    let sealer = Sealer::from_key(&SEAL_KEY).unwrap();
    let active = StoredConnector {
        name: "contoso".into(),
        tenant_id: "contoso.onmicrosoft.com".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        cloud: "commercial".into(),
        credential_kind: CredentialKind::Certificate,
        certificate_pem: Some(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        ),
        sealed_credential: sealer
            .seal("contoso", b"-----BEGIN PRIVATE KEY-----")
            .unwrap(),
        login_url: Some("http://127.0.0.1:8443/login".into()),
        manage_url: Some(String::new()),
        graph_url: None,
        activities: true,
        files: true,
        content_types: vec![ContentType::SharePoint, ContentType::Exchange],
        phase: ConnectorPhase::Active,
        last_test: Some(r#"{"ok":true,"note":"Zoë \"x\""}"#.into()),
        created_at: nov(5, 3) + Duration::nanoseconds(123_456_789),
        updated_at: nov(5, 4) + Duration::nanoseconds(1),
        updated_by: "admin".into(),
    };
    let paused = StoredConnector {
        name: "Fabrikam".into(),
        credential_kind: CredentialKind::Secret,
        certificate_pem: None,
        sealed_credential: vec![0x00, 0xff, 0x80, 0x00, 0x7f, 0xc3, 0x00],
        content_types: ContentType::ALL.to_vec(),
        phase: ConnectorPhase::Paused,
        ..active.clone()
    };
    let draft = StoredConnector {
        name: "new".into(),
        credential_kind: CredentialKind::Secret,
        certificate_pem: None,
        sealed_credential: Vec::new(),
        login_url: None,
        manage_url: None,
        activities: false,
        files: false,
        content_types: Vec::new(),
        phase: ConnectorPhase::Draft,
        last_test: None,
        ..active.clone()
    };
    vec![paused, active, draft]
}

/// Fills a SQLite store through the trait with some of everything it keeps, `connectors` too.
fn fill(store: &SqliteStore, connectors: &[StoredConnector]) {
    // 12,000 records in blobs of 500 (several copy batches), the last blob repeating records.
    let mut i = 0;
    for (b, tenant) in (0..24).zip(["contoso", "fabrikam"].iter().cycle()) {
        let records: Vec<AuditRecord> = (i..i + 500).map(|j| record(record_id(j), j)).collect();
        i += 500;
        let blob = BlobRef {
            content_id: format!("blob-{b}"),
            created: nov(3, 1) + Duration::minutes(b),
        };
        let ct = ContentType::ALL[b as usize % ContentType::ALL.len()];
        store.commit_blob(tenant, ct, &blob, &records).unwrap();
        if b == 11 {
            // Half the chunks sealed into segments (as a day later), half not: PostgreSQL
            // gets both as chunks of their own.
            let sealed = store.seal_chunks(Utc::now() + Duration::days(2)).unwrap();
            assert_eq!(sealed.chunks, 12);
        }
    }
    let again: Vec<AuditRecord> = (0..10).map(|j| record(record_id(j), j)).collect();
    let blob = BlobRef {
        content_id: "repeat".into(),
        created: nov(4, 1),
    };
    let stats = store
        .commit_blob("contoso", ContentType::ALL[0], &blob, &again)
        .unwrap();
    assert_eq!(stats.duplicates, 10);
    store
        .record_gap(&Gap {
            tenant: "contoso".into(),
            content_type: ContentType::Exchange,
            content_id: "lost".into(),
            created: nov(3, 2),
            reason: "expired".into(),
            detected_at: nov(4, 2),
        })
        .unwrap();
    store
        .quarantine("contoso", "blob-1", "not JSON", b"{oops")
        .unwrap();
    store
        .set_watermark("contoso", ContentType::Exchange, nov(4, 5))
        .unwrap();
    store
        .set_status(&ConnectorStatus {
            tenant: "contoso".into(),
            content_type: ContentType::Exchange,
            state: ConnectorState::Healthy,
            last_success: Some(nov(4, 5)),
            watermark: Some(nov(4, 5)),
            records: 6000,
            blobs: 12,
            gaps: 1,
            last_error: Some("throttled once".into()),
            remediation: None,
            updated_at: nov(4, 6),
            clock_offset_ms: 86_400_007,
        })
        .unwrap();

    // Detection got half-way, raised alerts, and people triaged one.
    store
        .commit_detection(
            0,
            6_000,
            &[draft("a1"), draft("a2s")],
            &[("window:eve".into(), Some(vec![0, 1, 2, 255]))],
        )
        .unwrap();
    // A detection partition beside it, with state of its own under the same key.
    store
        .plan_detection(&[String::new(), "1/2".into()])
        .unwrap();
    store
        .commit_detection_in(
            "1/2",
            6_000,
            6_000,
            &[],
            &[("window:eve".into(), Some(vec![9, 9]))],
        )
        .unwrap();
    store.raise_new_alerts(&[draft("file-1")]).unwrap();
    let alerts = store
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap();
    let a1 = alerts.iter().find(|a| a.draft.key == "a1").unwrap();
    store
        .update_alert(
            a1.id,
            &AlertChange {
                status: Some(AlertStatus::Resolved),
                resolution: Some(Resolution::TruePositive),
                comment: Some(("alice".into(), "contained".into())),
            },
        )
        .unwrap();
    store.put_policy("p1", r#"{"id":"p1"}"#).unwrap();
    store.put_policy("p2", r#"{"id":"p2"}"#).unwrap();
    store.delete_policy("p2").unwrap();
    let a1 = store.alert(a1.id).unwrap().unwrap();
    store
        .enqueue_deliveries(
            &[NewDelivery {
                alert_id: a1.id,
                change: a1.updated,
                channel: "hook".into(),
                payload: b"{\"alert\":1}".to_vec(),
            }],
            a1.updated,
        )
        .unwrap();
    let due = store
        .take_due_deliveries(&["hook".into()], Utc::now(), Utc::now(), 10)
        .unwrap();
    store
        .record_delivery_attempt(
            due[0].delivery.id,
            Utc::now(),
            &AttemptOutcome::Retry {
                error: "503".into(),
                next_attempt: nov(30, 1),
            },
        )
        .unwrap();

    // The directory, apps, files and governance.
    let user = |id: &str, upn: &str| DirectoryUser {
        tenant: "contoso".into(),
        id: id.into(),
        upn: upn.into(),
        display_name: upn.into(),
        mail: None,
        account_enabled: Some(id != "b"),
        user_type: "Member".into(),
        on_premises_synced: id == "a",
        created: Some(nov(1, 1)),
        roles: vec![],
        risk_level: Some("high".into()),
        risk_state: None,
        synced: nov(5, 1),
    };
    store
        .commit_directory(
            "contoso",
            &DirectoryChanges {
                users: vec![user("a", "alice@contoso.com"), user("b", "Bob@contoso.com")],
                all_users: true,
                groups: vec![DirectoryGroup {
                    tenant: "contoso".into(),
                    id: "g1".into(),
                    display_name: "Sales".into(),
                    mail: None,
                    kind: GroupKind::Security,
                    on_premises_synced: false,
                    direct_members: 0,
                    user_members: 0,
                    synced: nov(5, 1),
                }],
                all_groups: true,
                members: vec![(
                    "g1".into(),
                    vec![GroupMember {
                        id: "a".into(),
                        kind: "user".into(),
                        name: Some("alice".into()),
                    }],
                )],
                roles: Some(vec![RoleMembers {
                    id: "r1".into(),
                    name: "Global Administrator".into(),
                    members: vec!["b".into()],
                }]),
                apps: Some(vec![app("sp1", true), app("sp2", false)]),
                cursors: vec![("users".into(), Some("https://graph/delta?t=1".into()))],
                ..DirectoryChanges::default()
            },
        )
        .unwrap();
    assert!(
        store
            .set_app_review("contoso", "sp2", AppReview::Approved)
            .unwrap()
    );
    store
        .commit_files(
            "contoso",
            "d1",
            &FileChanges {
                items: vec![
                    file("1", "/Finance/Q3.xlsx", false),
                    file("2", "/Finance", true),
                ],
                all: true,
                cursor: Some("drive-link".into()),
                ..FileChanges::default()
            },
        )
        .unwrap();
    store
        .set_directory_status(&DirectorySyncStatus {
            tenant: "contoso".into(),
            last_attempt: nov(5, 1),
            last_success: Some(nov(5, 1)),
            users_changed: 2,
            groups_changed: 1,
            apps: 0,
            files_changed: None,
            error: None,
            warnings: vec!["no P2 licence".into()],
        })
        .unwrap();
    let (entry, _) = store
        .begin_action(&ActionDraft {
            tenant: "contoso".into(),
            action: ActionKind::SuspendUser,
            target_kind: TargetKind::User,
            target_id: "a".into(),
            target_name: "alice@contoso.com".into(),
            requested_by: "cli".into(),
            alert_id: Some(a1.id),
            params: serde_json::json!({"why": "x"}),
            status: ActionStatus::Pending,
            warnings: vec![],
        })
        .unwrap();
    store
        .update_action(
            entry.id,
            &ActionUpdate {
                expect: Some(ActionStatus::Pending),
                status: Some(ActionStatus::InProgress),
                attempt: true,
                warnings: vec!["slow".into()],
                ..ActionUpdate::default()
            },
        )
        .unwrap();

    // Console accounts, a session, a token, the audit log and a saved query.
    store
        .create_account("admin", "$argon2id$hash-a", Role::Admin)
        .unwrap();
    let bob = store
        .create_account("Bob", "$argon2id$hash-b", Role::Analyst)
        .unwrap()
        .unwrap();
    store
        .create_session(&Session {
            token_hash: [7; 32],
            account_id: bob.id,
            csrf: "csrf".into(),
            created: Utc::now(),
            last_seen: Utc::now(),
            expires: Utc::now() + Duration::hours(8),
        })
        .unwrap();
    store
        .create_api_token("ci", &[9; 32], Role::ReadOnly, "admin")
        .unwrap();
    store
        .record_audit(&AuditEntry {
            id: 0,
            at: nov(5, 2),
            actor: "admin".into(),
            action: "account.create".into(),
            target: Some("Bob".into()),
            detail: None,
            ip: Some("127.0.0.1".into()),
        })
        .unwrap();
    store.save_query(bob.id, "mine", "user=bob").unwrap();
    for c in connectors {
        store.put_connector(c).unwrap();
    }
    store
        .put_setting("ip_ranges", r#"[{"name":"HQ"}]"#, 0, "admin")
        .unwrap();
    store
        .put_setting("retention", r#"{"days":90}"#, 0, "admin")
        .unwrap();
    store
        .put_setting("retention", r#"{"days":120}"#, 1, "bob")
        .unwrap();
    assert!(
        store
            .acquire_lease(
                "detect",
                "old-host",
                Utc::now(),
                Utc::now() + Duration::minutes(1)
            )
            .unwrap()
    );
}

#[test]
fn a_sqlite_store_is_copied_whole_and_carries_on_in_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let from = SqliteStore::open(dir.path()).unwrap();
    // Sealed once: sealing again would give other bytes (random nonces).
    let put = connectors();
    fill(&from, &put);
    let db = TestDatabase::create();
    let to = db.open();

    let mut heard = 0u64;
    let report = copy_sqlite_to_postgres(&from, &to, &mut |_, n| heard = heard.max(n)).unwrap();
    assert_eq!(report.rows("records"), 12_000);
    assert_eq!(report.rows("alerts"), 3);
    assert_eq!(report.rows("accounts"), 2);
    assert_eq!(report.rows("connectors"), 3);
    assert_eq!(report.rows("settings"), 2);
    assert_eq!(report.detection_progress, (6_000, 6_000));
    assert!(heard >= 12_000);

    let checks = verify(&from, &to).unwrap();
    let bad: Vec<_> = checks.iter().filter(|c| !c.ok()).collect();
    assert!(bad.is_empty(), "mismatches: {bad:#?}");
    // Every digest is over something: a digest of nothing would prove nothing.
    for c in checks.iter().filter(|c| c.source.digest.is_some()) {
        assert!(c.source.count > 0, "nothing digested for {}", c.what);
    }

    // Through the trait, independently of the digests.
    for key in ["ip_ranges", "retention"] {
        assert_eq!(
            from.setting(key).unwrap(),
            to.setting(key).unwrap(),
            "{key}"
        );
    }
    assert_eq!(to.setting("retention").unwrap().unwrap().version, 2);
    assert_eq!(
        from.detection_progress().unwrap(),
        to.detection_progress().unwrap()
    );
    for partition in ["", "1/2"] {
        assert_eq!(
            from.detection_state_in(partition).unwrap(),
            to.detection_state_in(partition).unwrap(),
            "{partition}"
        );
    }
    assert_eq!(
        to.detection_state_in("1/2").unwrap().1,
        vec![("window:eve".to_owned(), vec![9, 9])]
    );
    // Whole rows: the addresses among them, inline in SQLite, arrive as text.
    let next = |s: &dyn Store| -> Vec<skylight_model::ActivityRow> {
        s.activities_since(6_000, 3)
            .unwrap()
            .into_iter()
            .map(|a| a.row)
            .collect()
    };
    assert_eq!(next(&from), next(&to));
    assert!(
        next(&to)
            .iter()
            .any(|r| r.ip.as_deref() == Some("203.0.113.9"))
    );
    for tenant in ["contoso", "fabrikam"] {
        let ids = from.record_ids(tenant, None).unwrap();
        assert_eq!(ids, to.record_ids(tenant, None).unwrap());
        for id in ids.iter().step_by(97) {
            assert_eq!(
                from.raw_record(tenant, id).unwrap(),
                to.raw_record(tenant, id).unwrap()
            );
        }
    }
    assert!(to.leases().unwrap().is_empty(), "leases are not copied");
    let (session, account) = to.session(&[7; 32], Utc::now()).unwrap().unwrap();
    assert_eq!(
        (session.csrf.as_str(), account.username.as_str()),
        ("csrf", "Bob")
    );
    assert!(to.api_token_by_hash(&[9; 32]).unwrap().is_some());
    // Connectors arrive identical, sealed credentials byte for byte (in name order: `Fabrikam`
    // first), and the deployment's key still opens them.
    let copied = to.connectors().unwrap();
    assert_eq!(copied.len(), put.len());
    assert!(copied == put, "connectors differ: {copied:#?}");
    for (got, want) in copied.iter().zip(&put) {
        assert_eq!(
            got.sealed_credential, want.sealed_credential,
            "{}",
            want.name
        );
        assert_eq!(got.created_at, want.created_at, "{}", want.name);
        assert_eq!(got.updated_at, want.updated_at, "{}", want.name);
    }
    assert_eq!(
        Sealer::from_key(&SEAL_KEY)
            .unwrap()
            .open("contoso", &copied[1].sealed_credential)
            .unwrap(),
        b"-----BEGIN PRIVATE KEY-----"
    );

    // New rows get ids and sequence numbers past the copied ones.
    let newest = to.detection_progress().unwrap().1;
    let blob = BlobRef {
        content_id: "after".into(),
        created: nov(6, 1),
    };
    to.commit_blob(
        "contoso",
        ContentType::Exchange,
        &blob,
        &[record("new-1".into(), 1)],
    )
    .unwrap();
    assert_eq!(to.activities_since(newest, 10).unwrap()[0].row.id, "new-1");
    let carol = to
        .create_account("carol", "h", Role::Admin)
        .unwrap()
        .unwrap();
    assert_eq!(carol.id, 3);
    to.raise_new_alerts(&[draft("after")]).unwrap();
    let ids: Vec<i64> = from
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let after = to
        .alerts(&AlertQuery {
            include_signals: true,
            ..AlertQuery::default()
        })
        .unwrap();
    let new_id = after.iter().find(|a| a.draft.key == "after").unwrap().id;
    assert!(ids.iter().all(|&id| id < new_id));
    // One byte of one sealed credential changed, and nothing else: the row counts agree, the
    // connectors' digest does not.
    let mut changed = to.connectors().unwrap().remove(0);
    changed.sealed_credential[0] ^= 0x01;
    to.put_connector(&changed).unwrap();

    // The verification sees a change made on one side only.
    let checks = verify(&from, &to).unwrap();
    let bad: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok())
        .map(|c| c.what.as_str())
        .collect();
    assert!(bad.contains(&"rows in records"), "{bad:?}");
    assert!(bad.contains(&"alerts with comments"), "{bad:?}");
    assert!(bad.contains(&"accounts"), "{bad:?}");
    assert!(
        bad.contains(&"connectors (with sealed credentials)"),
        "{bad:?}"
    );
    assert!(!bad.contains(&"rows in connectors"), "{bad:?}");

    // A target that already holds data is refused, and left as it was.
    let err = copy_sqlite_to_postgres(&from, &to, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(to.account_count().unwrap(), 3);
}
