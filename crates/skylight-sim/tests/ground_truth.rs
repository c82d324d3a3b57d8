//! `/_sim/truth` is what a careful client collects: under every fault profile, alone and combined,
//! draining the tenant over HTTP yields exactly the truth's record Ids. Also: determinism, coverage
//! of every documented RecordType, and the injected incidents.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::{HashMap, HashSet};

use common::{CONTENT_TYPES, boot, small, truth_ids};
use skylight_sim::{Faults, SimConfig};

async fn drain_equals_truth(cfg: SimConfig) -> common::Drained {
    let sim = boot(cfg).await;
    let truth = sim.truth().await;
    let d = sim.drain().await;
    let mut total = 0;
    for ct in CONTENT_TYPES {
        let want = truth_ids(&truth, ct);
        let got = d.ids.get(ct).cloned().unwrap_or_default();
        let missing: Vec<_> = want.difference(&got).take(3).collect();
        let extra: Vec<_> = got.difference(&want).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{ct}: {} missing (e.g. {missing:?}), {} unexpected (e.g. {extra:?})",
            want.difference(&got).count(),
            got.difference(&want).count()
        );
        assert_eq!(
            truth["content_types"][ct]["records"].as_u64().unwrap() as usize,
            want.len()
        );
        total += want.len();
    }
    assert!(total > 1000, "a real tenant, not an empty one: {total}");
    d
}

fn with_faults(faults: &str, users: usize, days: u32) -> SimConfig {
    SimConfig {
        faults: faults.parse::<Faults>().unwrap(),
        ..small(users, days)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_tenant_drains_to_exactly_the_truth() {
    let d = drain_equals_truth(small(200, 7)).await;
    assert_eq!(d.duplicate_records, 0);
    assert_eq!(d.relisted, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_repeat_records_and_listings_but_add_nothing() {
    let d = drain_equals_truth(SimConfig {
        page_size: 5,
        ..with_faults("duplicates", 200, 3)
    })
    .await;
    assert!(
        d.duplicate_records > 0,
        "the same record arrives in several blobs"
    );
    assert!(d.relisted > 0, "the same blob is listed on several pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn shuffle_late_and_gaps_lose_nothing() {
    drain_equals_truth(with_faults("shuffle", 150, 3)).await;
    drain_equals_truth(with_faults("late", 150, 7)).await;
    drain_equals_truth(with_faults("gaps", 150, 4)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_flaky_service_lose_nothing_for_a_client_that_retries() {
    drain_equals_truth(with_faults("throttle", 100, 2)).await;
    drain_equals_truth(SimConfig {
        page_size: 500,
        ..with_faults("flaky", 100, 2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_at_once_still_adds_up_to_the_truth() {
    let cfg = SimConfig {
        requests_per_minute: Some(3000),
        page_size: 400,
        ..with_faults("all", 120, 3)
    };
    let d = drain_equals_truth(cfg).await;
    assert!(d.duplicate_records > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_gives_the_same_records_and_another_seed_does_not() {
    let a = boot(small(150, 2)).await;
    let b = boot(small(150, 2)).await;
    let c = boot(SimConfig {
        seed: 43,
        ..small(150, 2)
    })
    .await;
    assert_eq!(a.tenant["tenant_id"], b.tenant["tenant_id"]);
    assert_eq!(a.tenant["client_secret"], b.tenant["client_secret"]);
    assert_ne!(a.tenant["tenant_id"], c.tenant["tenant_id"]);
    let (ta, tb, tc) = (a.truth().await, b.truth().await, c.truth().await);
    for ct in CONTENT_TYPES {
        assert_eq!(
            ta["content_types"][ct]["record_ids"], tb["content_types"][ct]["record_ids"],
            "{ct}"
        );
        assert_ne!(
            ta["content_types"][ct]["record_ids"], tc["content_types"][ct]["record_ids"],
            "{ct}"
        );
    }
    // Byte-identical blobs.
    for sim in [&a, &b] {
        let token = sim.token().await;
        sim.start(&token, "Audit.SharePoint").await;
    }
    let (tka, tkb) = (a.token().await, b.token().await);
    let la = a
        .get(
            &format!(
                "{}/subscriptions/content?contentType=Audit.SharePoint&{}",
                a.root(),
                a.pubid()
            ),
            Some(&tka),
        )
        .await
        .json();
    let lb = b
        .get(
            &format!(
                "{}/subscriptions/content?contentType=Audit.SharePoint&{}",
                b.root(),
                b.pubid()
            ),
            Some(&tkb),
        )
        .await
        .json();
    assert_eq!(la.as_array().unwrap().len(), lb.as_array().unwrap().len());
    for (x, y) in la
        .as_array()
        .unwrap()
        .iter()
        .zip(lb.as_array().unwrap())
        .take(5)
    {
        assert_eq!(x["contentId"], y["contentId"]);
        let bx = a
            .get(
                &format!("{}?{}", x["contentUri"].as_str().unwrap(), a.pubid()),
                Some(&tka),
            )
            .await
            .text;
        let by = b
            .get(
                &format!("{}?{}", y["contentUri"].as_str().unwrap(), b.pubid()),
                Some(&tkb),
            )
            .await
            .text;
        assert_eq!(bx, by);
    }
}

/// Fetches every record of a drained tenant (the test needs record bodies, not only Ids).
async fn all_records(sim: &common::TestSim) -> Vec<(String, serde_json::Value)> {
    let token = sim.token().await;
    sim.start_all(&token).await;
    let now = sim.now().await;
    let mut out = Vec::new();
    for ct in CONTENT_TYPES {
        for day in (1..=7).rev() {
            let s = now - chrono::Duration::days(day) + chrono::Duration::minutes(1);
            let e = (s + chrono::Duration::days(1)).min(now);
            let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
            for obj in sim.list_window(&token, ct, &f(s), &f(e)).await {
                let r = sim
                    .get(
                        &format!("{}?{}", obj["contentUri"].as_str().unwrap(), sim.pubid()),
                        Some(&token),
                    )
                    .await;
                for rec in r.json().as_array().unwrap() {
                    out.push((ct.to_string(), rec.clone()));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_user_week_holds_every_documented_record_type_in_its_content_type() {
    let sim = boot(small(500, 7)).await;
    let records = all_records(&sim).await;
    let seen: HashSet<i64> = records
        .iter()
        .filter_map(|(_, r)| {
            r["RecordType"]
                .as_i64()
                .or_else(|| r["RecordType"].as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    let documented: Vec<(i64, String)> = include_str!("fixtures/record-types.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut p = l.split('\t');
            Some((p.next()?.parse().ok()?, p.next()?.to_string()))
        })
        .collect();
    assert_eq!(documented.len(), 257);
    let missing: Vec<_> = documented
        .iter()
        .filter(|(v, _)| !seen.contains(v))
        .collect();
    assert!(
        missing.is_empty(),
        "RecordTypes never generated: {missing:?}"
    );

    // Records sit in the content type Microsoft puts them in.
    let expect = |rt: i64| match rt {
        8 | 9 | 15 => Some("Audit.AzureActiveDirectory"),
        1 | 2 | 3 | 50 => Some("Audit.Exchange"),
        4 | 6 | 14 | 36 => Some("Audit.SharePoint"),
        20 | 22 | 25 | 40 | 66 => Some("Audit.General"),
        11 | 13 => Some("DLP.All"),
        _ => None,
    };
    for (ct, r) in &records {
        if let Some(want) = r["RecordType"].as_i64().and_then(expect) {
            assert_eq!(ct, want, "{r}");
        }
    }
    // Shapes Microsoft documents.
    let by_type: HashMap<i64, Vec<&serde_json::Value>> =
        records.iter().fold(HashMap::new(), |mut m, (_, r)| {
            if let Some(t) = r["RecordType"].as_i64() {
                m.entry(t).or_default().push(r);
            }
            m
        });
    assert!(
        by_type[&20]
            .iter()
            .any(|r| r["OperationProperties"].is_string()),
        "Power BI stringifies OperationProperties"
    );
    assert!(
        by_type[&1]
            .iter()
            .all(|r| r["Parameters"].is_array() || r["Parameters"].is_string())
    );
    assert!(
        by_type[&15]
            .iter()
            .any(|r| r["Operation"] == "UserLoginFailed" && r["ErrorNumber"].is_string())
    );
    assert!(
        by_type[&8]
            .iter()
            .all(|r| r["Operation"].as_str().unwrap().ends_with('.')),
        "Entra directory operations end with a period"
    );
    assert!(
        by_type[&6].iter().any(|r| r["Workload"] == "OneDrive")
            && by_type[&6].iter().any(|r| r["Workload"] == "SharePoint")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn activity_follows_working_hours_and_comes_from_many_countries() {
    let sim = boot(small(400, 7)).await;
    let records = all_records(&sim).await;
    // UTC hour histogram of sign-ins: a follow-the-sun workforce, but never flat.
    let mut hours = [0usize; 24];
    let mut ips = HashSet::new();
    for (_, r) in records.iter().filter(|(_, r)| r["RecordType"] == 15) {
        let t: chrono::NaiveDateTime = r["CreationTime"].as_str().unwrap().parse().unwrap();
        hours[chrono::Timelike::hour(&t) as usize] += 1;
        ips.insert(
            r["ClientIP"]
                .as_str()
                .unwrap()
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join("."),
        );
    }
    let (max, min) = (*hours.iter().max().unwrap(), *hours.iter().min().unwrap());
    assert!(
        max > 3 * min.max(1),
        "activity has a daily rhythm: {hours:?}"
    );
    assert!(
        ips.len() > 30,
        "sign-ins come from many networks: {}",
        ips.len()
    );
    // Weekends are quiet.
    let weekday = |r: &serde_json::Value| {
        chrono::Datelike::weekday(
            &r["CreationTime"]
                .as_str()
                .unwrap()
                .parse::<chrono::NaiveDateTime>()
                .unwrap(),
        )
        .number_from_monday()
    };
    let weekend = records.iter().filter(|(_, r)| weekday(r) >= 6).count();
    assert!(
        weekend * 5 < records.len(),
        "{weekend} of {} on weekends",
        records.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_is_injected_with_its_ground_truth() {
    let sim = boot(SimConfig {
        scenarios: "all".parse().unwrap(),
        ..small(300, 7)
    })
    .await;
    let truth = sim.truth().await;
    let incidents = truth["incidents"].as_array().unwrap();
    let names: HashSet<&str> = incidents
        .iter()
        .map(|i| i["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 15, "{names:?}");
    let records: HashMap<String, serde_json::Value> = all_records(&sim)
        .await
        .into_iter()
        .map(|(_, r)| (r["Id"].as_str().unwrap().to_string(), r))
        .collect();
    for inc in incidents {
        let ids = inc["record_ids"].as_array().unwrap();
        assert!(!ids.is_empty());
        for id in ids {
            assert!(
                records.contains_key(id.as_str().unwrap()),
                "{} record {id} is served",
                inc["scenario"]
            );
        }
        let recs: Vec<&serde_json::Value> = ids
            .iter()
            .map(|id| &records[id.as_str().unwrap()])
            .collect();
        match inc["scenario"].as_str().unwrap() {
            "brute_force" => {
                assert!(
                    recs.iter()
                        .filter(
                            |r| r["Operation"] == "UserLoginFailed" && r["ErrorNumber"] == "50126"
                        )
                        .count()
                        >= 20
                );
                assert!(recs.iter().any(|r| r["Operation"] == "UserLoggedIn"));
                let ips: HashSet<_> = recs
                    .iter()
                    .map(|r| r["ClientIP"].as_str().unwrap())
                    .collect();
                assert_eq!(ips.len(), 1, "one attacking address");
            }
            "password_spray" => {
                let users: HashSet<_> =
                    recs.iter().map(|r| r["UserId"].as_str().unwrap()).collect();
                assert!(users.len() >= 20);
            }
            "mass_download" => assert!(
                recs.iter()
                    .filter(|r| r["Operation"] == "FileDownloaded")
                    .count()
                    >= 100
            ),
            "inbox_forward_rule" => assert!(recs.iter().any(|r| r["Operation"] == "New-InboxRule"
                && r["Parameters"].to_string().contains("ForwardTo"))),
            "admin_role_assignment" => assert!(recs.iter().any(|r| {
                r["Operation"] == "Add member to role."
                    && r["ModifiedProperties"]
                        .to_string()
                        .contains("Global Administrator")
            })),
            "impossible_travel" => {
                let ips: HashSet<_> = recs
                    .iter()
                    .filter(|r| r["Operation"] == "UserLoggedIn")
                    .map(|r| r["ClientIP"].as_str().unwrap())
                    .collect();
                assert_eq!(ips.len(), 2);
            }
            "anonymous_ip" => assert!(recs.iter().any(|r| {
                r["Operation"] == "UserLoggedIn"
                    && ["185.220.", "171.25."]
                        .iter()
                        .any(|p| r["ClientIP"].as_str().unwrap().starts_with(p))
            })),
            "mass_delete" => assert!(
                recs.iter()
                    .filter(|r| r["Operation"] == "FileDeleted")
                    .count()
                    >= 100
            ),
            "mass_share" => assert!(
                recs.iter()
                    .filter(
                        |r| r["Operation"] == "SharingSet" && r["TargetUserOrGroupType"] == "Guest"
                    )
                    .count()
                    >= 30
            ),
            "ransomware" => assert!(
                recs.iter()
                    .filter(|r| r["Operation"] == "FileRenamed"
                        && r["DestinationFileName"]
                            .as_str()
                            .unwrap_or_default()
                            .ends_with(".locky"))
                    .count()
                    >= 50
            ),
            "inbox_delete_rule" => assert!(recs.iter().any(|r| r["Operation"] == "New-InboxRule"
                && r["Parameters"].to_string().contains("DeleteMessage"))),
            "mailbox_delegation" => assert!(
                recs.iter()
                    .any(|r| r["Operation"] == "Add-MailboxPermission"
                        && r["Parameters"].to_string().contains("FullAccess"))
            ),
            "mfa_disabled" => assert!(recs.iter().any(|r| {
                r["ModifiedProperties"]
                    .to_string()
                    .contains("StrongAuthenticationRequirement")
            })),
            "oauth_consent_high_privilege" => assert!(recs.iter().any(|r| {
                r["Operation"] == "Consent to application."
                    && r["ModifiedProperties"]
                        .to_string()
                        .contains("Mail.ReadWrite")
            })),
            "departed_user_activity" => {
                assert!(recs.iter().any(|r| r["Operation"] == "UserLoginFailed" && r["ErrorNumber"] == "50057"));
                assert!(recs.iter().any(|r| r["Operation"] == "FileDownloaded"));
            }
            other => panic!("unexpected scenario {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prebuilt_blobs_drain_to_the_truth_and_are_the_blobs_built_on_request() {
    let cfg = SimConfig {
        pregenerate: true,
        ..with_faults("duplicates,shuffle", 150, 3)
    };
    let d = drain_equals_truth(cfg.clone()).await;
    assert!(
        d.duplicate_records > 0,
        "duplicates are served prebuilt too"
    );
    // Byte for byte what the same tenant builds when a blob is asked for.
    let url = "http://127.0.0.1:9".to_owned();
    let prebuilt = skylight_sim::build(cfg.clone(), url.clone()).unwrap();
    let lazy = skylight_sim::build(
        SimConfig {
            pregenerate: false,
            ..cfg
        },
        url,
    )
    .unwrap();
    let mut blobs = 0;
    for ct in skylight_sim::catalog::ContentType::ALL {
        for m in lazy.feed.published(ct, lazy.horizon()) {
            let (json, records) = prebuilt.prebuilt(&m.key).expect("every blob prebuilt");
            assert_eq!(json, lazy.feed.blob_json(&m, true), "{:?}", m.key);
            assert_eq!(
                records as usize,
                m.count() as usize + lazy.feed.duplicate_sources(&m).len()
            );
            assert!(lazy.prebuilt(&m.key).is_none());
            blobs += 1;
        }
    }
    assert!(blobs > 50, "{blobs}");
}
