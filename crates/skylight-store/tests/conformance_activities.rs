//! The activity log through the `Store` trait, on every backend: every filter field and test,
//! paging, histogram, top values, one activity, and detection's reading in stored order.
//!
//! Expected results are written out by hand from the records below, never computed by the
//! store's code.

use std::collections::HashSet;

use chrono::{DateTime, TimeZone, Utc};
use skylight_model::filter::{Field, Filter};
use skylight_model::{
    ActivityColumns, ActivityRow, ActorKind, App, AuditRecord, BlobRef, Category, ContentType,
    Enrichment, Outcome, RecordColumns,
};
use skylight_store::testkit::on_every_backend;
use skylight_store::{ActivityQuery, Store};

/// 2026-11-`day` `h`:`m` UTC.
fn nov(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0)
        .single()
        .expect("valid time")
}

/// A record with these columns; its raw JSON holds the Id and a note (for free text).
fn rec(
    id: &str,
    time: Option<DateTime<Utc>>,
    note: &str,
    set: impl FnOnce(&mut RecordColumns),
) -> AuditRecord {
    let mut columns = RecordColumns {
        id: id.into(),
        creation_time: time,
        ..RecordColumns::default()
    };
    set(&mut columns);
    AuditRecord {
        columns,
        raw: format!(r#"{{"Id":"{id}","Note":"{note}"}}"#).into_bytes(),
    }
}

fn act(app: App, category: Category, kind: ActorKind, outcome: Outcome) -> ActivityColumns {
    ActivityColumns {
        app,
        category,
        actor_kind: kind,
        outcome,
        admin: false,
        external_user: false,
        impersonated: false,
        user_agent: None,
        enrichment: None,
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// The records, in the order they are stored (a1 … a6 in contoso, then f1 in fabrikam).
fn records() -> Vec<AuditRecord> {
    vec![
        rec("a1", Some(nov(20, 10, 0)), "Q3 Budget.xlsx", |c| {
            c.user_id = s("Alice@Contoso.com");
            c.operation = s("FileAccessed");
            c.workload = s("SharePoint");
            c.client_ip = s("203.0.113.9");
            c.record_type = Some(6);
            let mut a = act(
                App::SharePoint,
                Category::FileAccess,
                ActorKind::User,
                Outcome::Success,
            );
            a.user_agent = s("Mozilla/5.0 (Windows NT 10.0) Edge/120");
            a.enrichment = Some(Enrichment {
                country: s("FR"),
                city: s("Paris"),
                asn: Some(3215),
                isp: s("Orange"),
                ip_tags: s("corporate|name:Paris office|tag:hq"),
                device_type: s("desktop"),
                client_app: s("Edge"),
                os: s("Windows"),
            });
            c.activity = Some(Box::new(a));
        }),
        // Same time as a1, stored after it: listed before it.
        rec("a2", Some(nov(20, 10, 0)), "password spray", |c| {
            c.user_id = s("bob@contoso.com");
            c.operation = s("UserLoggedIn");
            c.workload = s("AzureActiveDirectory");
            c.client_ip = s("198.51.100.7");
            c.record_type = Some(15);
            let mut a = act(
                App::EntraId,
                Category::Login,
                ActorKind::User,
                Outcome::Failure,
            );
            a.user_agent = s("python-requests/2.31");
            a.enrichment = Some(Enrichment {
                country: s("US"),
                asn: Some(16509),
                isp: s("Amazon Cloud"),
                ip_tags: s("cloud|tag:aws"),
                device_type: s("script"),
                client_app: s("python"),
                ..Enrichment::default()
            });
            c.activity = Some(Box::new(a));
        }),
        rec("a3", Some(nov(19, 23, 59)), "mailbox forwarding", |c| {
            c.user_id = s("admin@contoso.com");
            c.operation = s("Set-Mailbox");
            c.workload = s("Exchange");
            c.client_ip = s("2001:db8::5");
            c.record_type = Some(1);
            let mut a = act(
                App::Exchange,
                Category::MailboxRule,
                ActorKind::Admin,
                Outcome::Success,
            );
            a.admin = true;
            a.impersonated = true;
            a.enrichment = Some(Enrichment {
                country: s("DE"),
                asn: Some(64500),
                isp: s("Hetzner Cloud"),
                device_type: s("service"),
                os: s("Linux"),
                ..Enrichment::default()
            });
            c.activity = Some(Box::new(a));
        }),
        rec("a4", Some(nov(18, 12, 0)), "budget review", |c| {
            c.user_id = s("alice@contoso.com");
            c.operation = s("fileaccessed");
            c.workload = s("OneDrive");
            c.client_ip = s("203.0.113.200");
            c.record_type = Some(6);
            let mut a = act(
                App::OneDrive,
                Category::FileAccess,
                ActorKind::External,
                Outcome::Success,
            );
            a.external_user = true;
            a.user_agent = s("Mozilla/5.0 (Macintosh)");
            a.enrichment = Some(Enrichment {
                country: s("fr"),
                asn: Some(12322),
                isp: s("Free"),
                ip_tags: s("corporate|name:Lyon office"),
                device_type: s("mobile"),
                client_app: s("Safari"),
                os: s("iOS"),
                ..Enrichment::default()
            });
            c.activity = Some(Box::new(a));
        }),
        // The week before, not normalised, an address that is not one.
        rec("a5", Some(nov(10, 8, 0)), "orphan", |c| {
            c.operation = s("FileAccessed");
            c.workload = s("SharePoint");
            c.client_ip = s("unknown");
            c.record_type = Some(6);
        }),
        // No readable time.
        rec("a6", None, "untimed", |c| {
            c.user_id = s("carol@contoso.com");
            c.operation = s("MailItemsAccessed");
            c.workload = s("Exchange");
            c.client_ip = s("10.1.2.3");
            c.record_type = Some(50);
            c.activity = Some(Box::new(act(
                App::Exchange,
                Category::MailAccess,
                ActorKind::System,
                Outcome::Unknown,
            )));
        }),
        // Another tenant; an IPv4 address written as IPv6.
        rec("f1", Some(nov(17, 9, 0)), "Q3 budget copy", |c| {
            c.user_id = s("Alice@Contoso.com");
            c.operation = s("FileAccessed");
            c.workload = s("SharePoint");
            c.client_ip = s("::ffff:203.0.113.9");
            c.record_type = Some(6);
            c.activity = Some(Box::new(act(
                App::SharePoint,
                Category::FileAccess,
                ActorKind::User,
                Outcome::Success,
            )));
        }),
    ]
}

/// Every record, newest first (time, then the later stored first; no time last).
const NEWEST_FIRST: [&str; 7] = ["a2", "a1", "a3", "a4", "f1", "a5", "a6"];

fn blob(id: &str) -> BlobRef {
    BlobRef {
        content_id: id.into(),
        created: nov(20, 12, 0),
    }
}

fn seed(store: &dyn Store) -> Vec<AuditRecord> {
    let all = records();
    store
        .commit_blob("contoso", ContentType::General, &blob("b1"), &all[..3])
        .expect("blob 1");
    store
        .commit_blob("contoso", ContentType::General, &blob("b2"), &all[3..6])
        .expect("blob 2");
    store
        .commit_blob("fabrikam", ContentType::SharePoint, &blob("b3"), &all[6..])
        .expect("blob 3");
    // A blob repeating two records: nothing new appears anywhere.
    let again = store
        .commit_blob(
            "contoso",
            ContentType::General,
            &blob("b4"),
            &[all[1].clone(), all[3].clone()],
        )
        .expect("blob 4");
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    all
}

fn query(conditions: &[&str]) -> ActivityQuery {
    ActivityQuery {
        filter: Filter::parse(conditions).expect("a valid filter"),
        limit: 100,
        ..ActivityQuery::default()
    }
}

fn listed(store: &dyn Store, q: &ActivityQuery) -> Vec<String> {
    let page = store.activities(q).expect("activities");
    assert_eq!(page.next, None, "one page holds everything");
    page.rows.into_iter().map(|r| r.id).collect()
}

/// `ids` in the log's order.
fn newest_first(ids: &[&str]) -> Vec<String> {
    let set: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "no id twice in an expectation");
    NEWEST_FIRST
        .iter()
        .filter(|id| set.contains(*id))
        .map(|id| id.to_string())
        .collect()
}

/// (filter, the records it selects).
const CASES: &[(&[&str], &[&str])] = &[
    (&[], &["a1", "a2", "a3", "a4", "a5", "a6", "f1"]),
    (&["user=alice@contoso.com"], &["a1", "a4", "f1"]),
    (
        &["user=ALICE@contoso.com,bob@contoso.com"],
        &["a1", "a2", "a4", "f1"],
    ),
    (&["user!=alice@contoso.com"], &["a2", "a3", "a5", "a6"]),
    (&["user=*"], &["a1", "a2", "a3", "a4", "a6", "f1"]),
    (&["user!=*"], &["a5"]),
    (&["user~ALICE"], &["a1", "a4", "f1"]),
    (&["operation=fileaccessed"], &["a1", "a4", "a5", "f1"]),
    (&["operation~mail"], &["a3", "a6"]),
    (&["workload=exchange"], &["a3", "a6"]),
    (&["user_agent~mozilla"], &["a1", "a4"]),
    (&["user_agent!=*"], &["a3", "a5", "a6", "f1"]),
    (&["ip=203.0.113.9"], &["a1"]),
    (&["ip=203.0.113.0/24"], &["a1", "a4"]),
    (&["ip!=203.0.113.0/24"], &["a2", "a3", "a5", "a6", "f1"]),
    (&["ip=2001:db8::/32"], &["a3"]),
    (&["ip=10.0.0.0/8,2001:db8::/32"], &["a3", "a6"]),
    (&["ip=2001:DB8::5"], &["a3"]),
    (&["ip!=203.0.113.9"], &["a2", "a3", "a4", "a5", "a6", "f1"]),
    (&["ip=203.0.113.9/32"], &["a1"]),
    (&["ip=0.0.0.0/0"], &["a1", "a2", "a4", "a6"]),
    (&["ip!=10.0.0.0/8"], &["a1", "a2", "a3", "a4", "a5", "f1"]),
    (&["ip=198.51.100.7,2001:db8::5"], &["a2", "a3"]),
    (&["app=exchange"], &["a3", "a6"]),
    (&["app!=exchange"], &["a1", "a2", "a4", "a5", "f1"]),
    (&["app=share-point,one-drive"], &["a1", "a4", "f1"]),
    (&["app=*"], &["a1", "a2", "a3", "a4", "a6", "f1"]),
    (&["app!=*"], &["a5"]),
    (&["category=login"], &["a2"]),
    (&["category!=file_access"], &["a2", "a3", "a5", "a6"]),
    (&["record_type=6"], &["a1", "a4", "a5", "f1"]),
    (&["record_type=1..10"], &["a1", "a3", "a4", "a5", "f1"]),
    (&["record_type=20.."], &["a6"]),
    (&["record_type=..6"], &["a1", "a3", "a4", "a5", "f1"]),
    (&["result=failure"], &["a2"]),
    (&["result!=success"], &["a2", "a5", "a6"]),
    (&["actor_kind=admin"], &["a3"]),
    (&["actor_kind=external,system"], &["a4", "a6"]),
    (&["admin=true"], &["a3"]),
    (&["admin=false"], &["a1", "a2", "a4", "a5", "a6", "f1"]),
    (&["admin!=false"], &["a3"]),
    (&["external=yes"], &["a4"]),
    (&["impersonated=true"], &["a3"]),
    (
        &["impersonated!=true"],
        &["a1", "a2", "a4", "a5", "a6", "f1"],
    ),
    (&["country=FR"], &["a1", "a4"]),
    (&["country!=fr"], &["a2", "a3", "a5", "a6", "f1"]),
    (&["country=*"], &["a1", "a2", "a3", "a4"]),
    (&["isp~cloud"], &["a2", "a3"]),
    (&["asn=64500,3215"], &["a1", "a3"]),
    (&["asn!=64500"], &["a1", "a2", "a4", "a5", "a6", "f1"]),
    (&["ip_tag=corporate"], &["a1", "a4"]),
    (&["ip_tag=tag:HQ"], &["a1"]),
    (&["ip_tag=name:paris office"], &["a1"]),
    (&["ip_tag=corp"], &[]),
    (&["ip_tag!=corporate"], &["a2", "a3", "a5", "a6", "f1"]),
    (&["device_type=mobile"], &["a4"]),
    (&["client_app=edge"], &["a1"]),
    (&["os=windows,ios"], &["a1", "a4"]),
    (&["os!=*"], &["a2", "a5", "a6", "f1"]),
    (&["text~budget"], &["a1", "a4", "f1"]),
    (&["text~q3 budget"], &["a1", "f1"]),
    (&["text~BUDGET", "app=one-drive"], &["a4"]),
    (&["text~nowhere"], &[]),
    (&["time=2026-11-18..2026-11-20"], &["a3", "a4"]),
    (&["time=2026-11-20.."], &["a1", "a2"]),
    (&["time=..2026-11-11"], &["a5", "a6"]),
    (
        &[
            "user=alice@contoso.com",
            "time=2026-11-17..2026-11-21",
            "country=fr",
        ],
        &["a1", "a4"],
    ),
];

fn every_filter_selects_what_it_says(store: &dyn Store) {
    seed(store);
    for (conditions, expected) in CASES {
        assert_eq!(
            listed(store, &query(conditions)),
            newest_first(expected),
            "{conditions:?}"
        );
    }
    let tenant = |t: &str| ActivityQuery {
        tenant: Some(t.into()),
        ..query(&[])
    };
    assert_eq!(listed(store, &tenant("fabrikam")), newest_first(&["f1"]));
    assert_eq!(
        listed(store, &tenant("contoso")),
        newest_first(&["a1", "a2", "a3", "a4", "a5", "a6"])
    );
    assert_eq!(listed(store, &tenant("nobody")), Vec::<String>::new());
}

fn rows_carry_their_columns(store: &dyn Store) {
    let all = seed(store);
    let (row, raw) = store
        .activity(Some("contoso"), "a1")
        .expect("activity")
        .expect("found");
    let expected = ActivityRow {
        id: "a1".into(),
        tenant: "contoso".into(),
        time: Some(nov(20, 10, 0)),
        app: Some(App::SharePoint),
        record_type: Some(6),
        workload: s("SharePoint"),
        operation: s("FileAccessed"),
        category: Some(Category::FileAccess),
        user: s("Alice@Contoso.com"),
        actor_kind: Some(ActorKind::User),
        ip: s("203.0.113.9"),
        result: Some(Outcome::Success),
        admin: false,
        external_user: false,
        impersonated: false,
        user_agent: s("Mozilla/5.0 (Windows NT 10.0) Edge/120"),
        country: s("FR"),
        isp: s("Orange"),
        ip_tags: s("corporate|name:Paris office|tag:hq"),
        device_type: s("desktop"),
        client_app: s("Edge"),
        os: s("Windows"),
    };
    assert_eq!(row, expected);
    assert_eq!(raw, all[0].raw);
    // Flags, no time, no activity columns.
    let (a3, _) = store.activity(None, "a3").expect("a3").expect("found");
    assert!(a3.admin && a3.impersonated && !a3.external_user, "{a3:?}");
    let (a6, raw6) = store.activity(None, "a6").expect("a6").expect("found");
    assert_eq!((a6.time, a6.result), (None, Some(Outcome::Unknown)));
    assert_eq!(raw6, all[5].raw);
    let (a5, _) = store.activity(None, "a5").expect("a5").expect("found");
    assert_eq!((a5.app, a5.user.clone(), a5.admin), (None, None, false));
    assert_eq!(
        store
            .activity(None, "f1")
            .expect("f1")
            .map(|(r, _)| r.tenant),
        s("fabrikam")
    );
    assert!(store.activity(Some("contoso"), "f1").expect("f1").is_none());
    assert!(store.activity(None, "nope").expect("nope").is_none());
}

fn pages_follow_the_cursor(store: &dyn Store) {
    seed(store);
    for (conditions, expected) in [
        (&[][..], &NEWEST_FIRST[..]),
        (&["text~budget"][..], &["a1", "a4", "f1"][..]),
        (&["record_type=6"][..], &["a1", "a4", "f1", "a5"][..]),
    ] {
        for limit in [1, 2, 3] {
            let mut q = ActivityQuery {
                limit,
                ..query(conditions)
            };
            let mut seen = Vec::new();
            let mut pages = 0;
            loop {
                let page = store.activities(&q).expect("page");
                assert!(page.rows.len() <= limit);
                pages += 1;
                seen.extend(page.rows.into_iter().map(|r| r.id));
                match page.next {
                    Some(next) => q.after = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "{conditions:?} by {limit}");
            assert_eq!(
                pages,
                expected.len().div_ceil(limit),
                "{conditions:?} by {limit}"
            );
        }
    }
}

fn histogram_counts_per_bucket(store: &dyn Store) {
    seed(store);
    let day = 86_400_000;
    let at = |d: u32| nov(d, 0, 0).timestamp_millis();
    assert_eq!(
        store
            .activity_histogram(&query(&[]), day)
            .expect("histogram"),
        vec![
            (0, 1),
            (at(10), 1),
            (at(17), 1),
            (at(18), 1),
            (at(19), 1),
            (at(20), 2)
        ]
    );
    assert_eq!(
        store
            .activity_histogram(&query(&["text~budget"]), day)
            .expect("histogram"),
        vec![(at(17), 1), (at(18), 1), (at(20), 1)]
    );
    assert_eq!(
        store
            .activity_histogram(&query(&["user=alice@contoso.com"]), 7 * day)
            .expect("histogram"),
        // Weeks from the epoch (a Thursday): 2026-11-12 and 2026-11-19.
        vec![(at(12), 2), (at(19), 1)]
    );
}

fn top_values_most_frequent_first(store: &dyn Store) {
    seed(store);
    let top = |conditions: &[&str], field: Field, limit: usize| {
        store
            .activity_top(&query(conditions), field, limit)
            .expect("top")
    };
    let pairs = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(
        top(&[], Field::User, 10),
        pairs(&[
            ("Alice@Contoso.com", 2),
            ("admin@contoso.com", 1),
            ("alice@contoso.com", 1),
            ("bob@contoso.com", 1),
            ("carol@contoso.com", 1),
        ])
    );
    assert_eq!(
        top(&[], Field::User, 2),
        pairs(&[("Alice@Contoso.com", 2), ("admin@contoso.com", 1)])
    );
    assert_eq!(
        top(&[], Field::Country, 10),
        pairs(&[("DE", 1), ("FR", 1), ("US", 1), ("fr", 1)])
    );
    assert_eq!(
        top(&["app=share-point,one-drive"], Field::Operation, 10),
        pairs(&[("FileAccessed", 2), ("fileaccessed", 1)])
    );
    assert_eq!(
        top(&["text~budget"], Field::User, 10),
        pairs(&[("Alice@Contoso.com", 2), ("alice@contoso.com", 1)])
    );
    assert_eq!(
        top(&[], Field::Ip, 10),
        pairs(&[
            ("10.1.2.3", 1),
            ("198.51.100.7", 1),
            ("2001:db8::5", 1),
            ("203.0.113.200", 1),
            ("203.0.113.9", 1),
            ("::ffff:203.0.113.9", 1),
            ("unknown", 1),
        ])
    );
    assert!(store.activity_top(&query(&[]), Field::App, 5).is_err());
}

fn detection_reads_in_stored_order(store: &dyn Store) {
    let all = seed(store);
    let read = store.activities_since(0, 100).expect("since");
    let ids: Vec<&str> = read.iter().map(|a| a.row.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5", "a6", "f1"]);
    assert!(read.windows(2).all(|w| w[0].seq < w[1].seq));
    for (a, r) in read.iter().zip(&all) {
        assert_eq!(a.raw, r.raw, "{}", a.row.id);
    }
    assert_eq!(read[6].row.tenant, "fabrikam");
    let rest = store.activities_since(read[2].seq, 2).expect("since");
    let ids: Vec<&str> = rest.iter().map(|a| a.row.id.as_str()).collect();
    assert_eq!(ids, ["a4", "a5"]);
    assert!(
        store
            .activities_since(read[6].seq, 10)
            .expect("since")
            .is_empty()
    );
}

#[test]
fn every_filter_field_and_test_selects_the_same_records() {
    on_every_backend(every_filter_selects_what_it_says);
}

#[test]
fn an_activity_by_id_has_its_columns_and_raw_record() {
    on_every_backend(rows_carry_their_columns);
}

#[test]
fn pages_follow_the_cursor_without_gaps_or_repeats() {
    on_every_backend(pages_follow_the_cursor);
}

#[test]
fn the_histogram_counts_per_bucket() {
    on_every_backend(histogram_counts_per_bucket);
}

#[test]
fn top_values_come_most_frequent_first() {
    on_every_backend(top_values_most_frequent_first);
}

#[test]
fn detection_reads_activities_in_stored_order() {
    on_every_backend(detection_reads_in_stored_order);
}

/// Writers commit from several threads while a reader follows `activities_since` from the last
/// number it saw: it must read every record exactly once, in increasing numbers.
fn detection_skips_nothing_under_concurrent_commits(store: &dyn Store) {
    const WRITERS: usize = 4;
    const BLOBS: usize = 30;
    const PER_BLOB: usize = 100;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let seen: Vec<(i64, String)> = std::thread::scope(|s| {
        for w in 0..WRITERS {
            let done = &done;
            s.spawn(move || {
                for b in 0..BLOBS {
                    let recs: Vec<AuditRecord> = (0..PER_BLOB)
                        .map(|i| {
                            // Times spread over weeks, so that commits touch several partitions.
                            let day = 1 + ((w * 7 + b + i) % 28) as u32;
                            rec(
                                &format!("w{w}-b{b}-r{i}"),
                                Some(nov(day, 8, 0)),
                                "x",
                                |_| {},
                            )
                        })
                        .collect();
                    store
                        .commit_blob(
                            "contoso",
                            ContentType::General,
                            &blob(&format!("w{w}-b{b}")),
                            &recs,
                        )
                        .expect("commit");
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let reader = s.spawn(|| {
            let mut seen = Vec::new();
            let mut last = 0;
            loop {
                // Read whether the writers were done before reading: the read after that is the last.
                let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
                let batch = store.activities_since(last, 7).expect("since");
                if let Some(a) = batch.last() {
                    last = a.seq;
                }
                let empty = batch.is_empty();
                seen.extend(batch.into_iter().map(|a| (a.seq, a.row.id)));
                if finished && empty {
                    return seen;
                }
            }
        });
        reader.join().expect("reader")
    });
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "numbers only grow"
    );
    let ids: HashSet<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "nothing read twice");
    assert_eq!(seen.len(), WRITERS * BLOBS * PER_BLOB, "nothing skipped");
}

#[test]
fn detection_skips_nothing_while_commits_run_concurrently() {
    on_every_backend(detection_skips_nothing_under_concurrent_commits);
}

/// Alice and Bob in Sales; EMEA holds Sales and Carol.
fn group_filter_follows_nesting(store: &dyn Store) {
    use skylight_model::{DirectoryGroup, DirectoryUser, GroupKind, GroupMember};
    use skylight_store::DirectoryChanges;
    seed(store);
    let user = |id: &str, upn: &str| DirectoryUser {
        tenant: "contoso".into(),
        id: id.into(),
        upn: upn.into(),
        display_name: id.into(),
        mail: None,
        account_enabled: Some(true),
        user_type: "Member".into(),
        on_premises_synced: false,
        created: None,
        roles: vec![],
        risk_level: None,
        risk_state: None,
        synced: Utc::now(),
    };
    let group = |id: &str, name: &str| DirectoryGroup {
        tenant: "contoso".into(),
        id: id.into(),
        display_name: name.into(),
        mail: None,
        kind: GroupKind::Security,
        on_premises_synced: false,
        direct_members: 0,
        user_members: 0,
        synced: Utc::now(),
    };
    let member = |id: &str, kind: &str| GroupMember {
        id: id.into(),
        kind: kind.into(),
        name: None,
    };
    let changes = DirectoryChanges {
        users: vec![
            user("a", "alice@contoso.com"),
            user("b", "Bob@Contoso.com"),
            user("c", "carol@contoso.com"),
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
        ..DirectoryChanges::default()
    };
    store
        .commit_directory("contoso", &changes)
        .expect("directory");
    for (conditions, expected) in [
        (&["group=emea"][..], &["a1", "a2", "a4", "a6", "f1"][..]),
        (&["group=SALES"][..], &["a1", "a2", "a4", "f1"][..]),
        (&["group=g2"][..], &["a1", "a2", "a4", "a6", "f1"][..]),
        (&["group!=sales"][..], &["a3", "a5", "a6"][..]),
        (&["group=nobody"][..], &[][..]),
    ] {
        assert_eq!(
            listed(store, &query(conditions)),
            newest_first(expected),
            "{conditions:?}"
        );
    }
}

#[test]
fn the_group_filter_follows_nested_groups() {
    on_every_backend(group_filter_follows_nesting);
}

/// Earlier versions kept IPv4 client addresses in SQLite's dictionary of strings; this one keeps
/// them inline. A store written before holds the first form: moved back to it, the same records
/// are selected, shown, counted and read by detection.
#[test]
fn sqlite_addresses_kept_in_the_dictionary_by_earlier_versions_read_the_same() {
    use skylight_store::SqliteStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("store");
    seed(&store);
    let shown = |store: &SqliteStore| {
        let ips: Vec<Option<String>> = store
            .activities_since(0, 100)
            .expect("since")
            .into_iter()
            .map(|a| a.row.ip)
            .collect();
        let top = store.activity_top(&query(&[]), Field::Ip, 10).expect("top");
        let a1 = store.activity(None, "a1").expect("a1").map(|(r, _)| r.ip);
        (ips, top, a1)
    };
    let inline = shown(&store);
    let expected = [
        "203.0.113.9",
        "198.51.100.7",
        "2001:db8::5",
        "203.0.113.200",
        "unknown",
        "10.1.2.3",
        "::ffff:203.0.113.9",
    ];
    assert_eq!(inline.0, expected.map(s));
    assert_eq!(inline.2, Some(s("203.0.113.9")));
    let conn = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).expect("open");
    let rows: Vec<(i64, i64)> = conn
        .prepare("SELECT id, client_ip FROM records WHERE client_ip < 0")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    // a1, a2, a4 and a6: the IPv4 addresses written in their canonical form.
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (id, value) in rows {
        let address = std::net::Ipv4Addr::from(u32::try_from(value + (1 << 32)).expect("u32"));
        conn.execute(
            "INSERT OR IGNORE INTO strings (value) VALUES (?1)",
            [address.to_string()],
        )
        .expect("string");
        conn.execute(
            "UPDATE records SET client_ip = (SELECT id FROM strings WHERE value = ?1) WHERE id = ?2",
            rusqlite::params![address.to_string(), id],
        )
        .expect("update");
    }
    drop(conn);
    for (conditions, expected) in CASES {
        assert_eq!(
            listed(&store, &query(conditions)),
            newest_first(expected),
            "{conditions:?}"
        );
    }
    assert_eq!(shown(&store), inline);
    // A store upgraded in place holds both forms of one address: counted as one value.
    let later = rec("a7", Some(nov(21, 9, 0)), "later", |c| {
        c.client_ip = s("203.0.113.9");
    });
    store
        .commit_blob("contoso", ContentType::General, &blob("b5"), &[later])
        .expect("blob 5");
    assert_eq!(
        store.activity_top(&query(&[]), Field::Ip, 1).expect("top"),
        vec![("203.0.113.9".to_string(), 2)]
    );
    assert_eq!(
        listed(&store, &query(&["ip=203.0.113.9"])),
        vec!["a7".to_string(), "a1".to_string()]
    );
    assert_eq!(
        listed(&store, &query(&["ip=203.0.113.0/24"])),
        vec!["a7".to_string(), "a1".to_string(), "a4".to_string()]
    );
}
