//! The Office 365 Management Activity API's documented rules and error codes, one test each.
//! Every test talks HTTP to a real simulator, as a client would.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{CONTENT_TYPES, boot, small};
use serde_json::json;
use skylight_sim::{Faults, SimConfig};

fn fmt(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_valid_token_get_the_non_af_401() {
    let sim = boot(small(50, 1)).await;
    let url = format!("{}/subscriptions/list?{}", sim.root(), sim.pubid());
    for token in [
        None,
        Some("not-a-jwt"),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
    ] {
        let r = sim.get(&url, token).await;
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(
            r.json(),
            json!({"Message": "Authorization has been denied for this request."})
        );
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_in_the_url_must_be_a_guid_and_match_the_token() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let r = sim
        .get(
            &format!(
                "{}/api/v1.0/contoso.com/activity/feed/subscriptions/list",
                sim.url
            ),
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.af().as_str()),
        (400, "AF20013"),
        "{}",
        r.text
    );
    let other = "11111111-2222-3333-4444-555555555555";
    let r = sim
        .get(
            &format!(
                "{}/api/v1.0/{other}/activity/feed/subscriptions/list",
                sim.url
            ),
            Some(&token),
        )
        .await;
    assert_eq!(r.af(), "AF20010", "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(other)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn content_type_is_required_and_must_be_known() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let r = sim
        .post(
            &format!("{}/subscriptions/start?{}", sim.root(), sim.pubid()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.af().as_str()), (400, "AF20001"));
    let r = sim.start(&token, "Audit.Teams").await;
    assert_eq!((r.status.as_u16(), r.af().as_str()), (400, "AF20020"));
    // Content types and parameter names are case-insensitive; the caller's casing is echoed.
    let r = sim
        .post(
            &format!(
                "{}/subscriptions/start?CONTENTTYPE=audit.sharepoint&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["contentType"], "audit.sharepoint");
    assert_eq!(r.json()["status"], "enabled");
    assert_eq!(r.json()["webhook"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_needs_a_subscription_and_list_shows_only_started_ones() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let content = format!(
        "{}/subscriptions/content?contentType=Audit.Exchange&{}",
        sim.root(),
        sim.pubid()
    );
    let r = sim.get(&content, Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.af().as_str()), (400, "AF20022"));
    let list = format!("{}/subscriptions/list?{}", sim.root(), sim.pubid());
    assert_eq!(sim.get(&list, Some(&token)).await.json(), json!([]));
    assert_eq!(sim.start(&token, "Audit.Exchange").await.status, 200);
    let l = sim.get(&list, Some(&token)).await.json();
    assert_eq!(
        l,
        json!([{"contentType": "Audit.Exchange", "status": "enabled", "webhook": null}])
    );
    assert_eq!(sim.get(&content, Some(&token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_is_limited_to_once_per_15_minutes_then_answers_af20024() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    assert_eq!(sim.start(&token, "Audit.General").await.status, 200);
    let r = sim.start(&token, "Audit.General").await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.text
            .contains("Too many frequent subscription start requests"),
        "{}",
        r.text
    );
    sim.advance(16 * 60).await;
    let token = sim.token().await;
    let r = sim.start(&token, "Audit.General").await;
    assert_eq!(
        (r.status.as_u16(), r.af().as_str()),
        (400, "AF20024"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_disables_reading_and_restart_only_reaches_new_content() {
    let sim = boot(small(100, 2)).await;
    let token = sim.token().await;
    sim.start(&token, "Audit.SharePoint").await;
    let listing = format!(
        "{}/subscriptions/content?contentType=Audit.SharePoint&{}",
        sim.root(),
        sim.pubid()
    );
    let before = sim.get(&listing, Some(&token)).await.json();
    assert!(!before.as_array().unwrap().is_empty());
    let blob = format!(
        "{}?{}",
        before[0]["contentUri"].as_str().unwrap(),
        sim.pubid()
    );
    assert_eq!(sim.get(&blob, Some(&token)).await.status, 200);

    let r = sim
        .post(
            &format!(
                "{}/subscriptions/stop?contentType=Audit.SharePoint&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.is_empty());
    assert_eq!(sim.get(&listing, Some(&token)).await.af(), "AF20023");
    assert_eq!(sim.get(&blob, Some(&token)).await.af(), "AF20023");
    let l = sim
        .get(
            &format!("{}/subscriptions/list?{}", sim.root(), sim.pubid()),
            Some(&token),
        )
        .await
        .json();
    assert_eq!(l[0]["status"], "disabled");

    sim.advance(16 * 60).await;
    let token = sim.token().await;
    assert_eq!(sim.start(&token, "Audit.SharePoint").await.status, 200);
    // Content published before the restart is no longer reachable.
    assert_eq!(sim.get(&listing, Some(&token)).await.json(), json!([]));
    assert_eq!(sim.get(&blob, Some(&token)).await.af(), "AF20050");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_window_follows_every_documented_rule() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    sim.start(&token, "Audit.Exchange").await;
    let now = sim.now().await;
    let url = |q: &str| {
        format!(
            "{}/subscriptions/content?contentType=Audit.Exchange&{q}&{}",
            sim.root(),
            sim.pubid()
        )
    };
    let h = chrono::Duration::hours;
    let cases = [
        (format!("startTime={}", fmt(now - h(2))), 400, "AF20030"),
        (format!("endTime={}", fmt(now)), 400, "AF20030"),
        (
            format!("startTime={}&endTime={}", fmt(now - h(25)), fmt(now)),
            400,
            "AF20030",
        ),
        (
            format!(
                "startTime={}&endTime={}",
                fmt(now - chrono::Duration::days(7) - h(1)),
                fmt(now - chrono::Duration::days(7) + h(1))
            ),
            400,
            "AF20030",
        ),
        (
            format!("startTime={}&endTime={}", fmt(now - h(1)), fmt(now - h(2))),
            400,
            "AF20055",
        ),
        (
            "startTime=yesterday&endTime=today".to_string(),
            400,
            "AF20002",
        ),
        (
            format!("startTime={}&endTime={}", fmt(now - h(24)), fmt(now)),
            200,
            "",
        ),
        (
            format!(
                "startTime={}&endTime={}",
                (now - h(3)).format("%Y-%m-%d"),
                (now + h(20)).format("%Y-%m-%d")
            ),
            200,
            "",
        ),
        (
            format!(
                "starttime={}Z&ENDTIME={}.0000000Z",
                fmt(now - h(3)),
                fmt(now)
            ),
            200,
            "",
        ),
    ];
    for (q, status, code) in cases {
        let r = sim.get(&url(&q), Some(&token)).await;
        assert_eq!(r.status.as_u16(), status, "{q}: {}", r.text);
        assert_eq!(r.af(), code, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn next_page_uri_has_its_real_form_and_walks_every_blob_once() {
    let sim = boot(SimConfig {
        page_size: 7,
        ..small(600, 2)
    })
    .await;
    let token = sim.token().await;
    sim.start(&token, "Audit.AzureActiveDirectory").await;
    let now = sim.now().await;
    let (s, e) = (fmt(now - chrono::Duration::hours(23)), fmt(now));
    let first = sim.get(&format!("{}/subscriptions/content?contentType=Audit.AzureActiveDirectory&startTime={s}&endTime={e}&{}", sim.root(), sim.pubid()), Some(&token)).await;
    let next = first
        .header("NextPageUri")
        .expect("a 23-hour window of 600 users needs several pages of 7");
    assert!(next.starts_with(&format!("{}/api/v1.0/{}/activity/feed/subscriptions/content?contenttype=Audit.AzureActiveDirectory&endtime=", sim.url, sim.tenant_id())), "{next}");
    assert!(next.contains(&format!("&starttime={s}.0000000Z")), "{next}");
    assert!(next.contains("&nextpage="), "{next}");
    assert!(
        !next.to_lowercase().contains("publisheridentifier"),
        "{next}"
    );
    assert_eq!(first.json().as_array().unwrap().len(), 7);

    let all = sim
        .list_window(&token, "Audit.AzureActiveDirectory", &s, &e)
        .await;
    let ids: Vec<&str> = all
        .iter()
        .map(|o| o["contentId"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "no blob is listed twice without the duplicates fault"
    );
    let created: Vec<&str> = all
        .iter()
        .map(|o| o["contentCreated"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] <= w[1]),
        "listed in publication order"
    );
    for o in &all {
        let c: chrono::DateTime<chrono::Utc> =
            o["contentCreated"].as_str().unwrap().parse().unwrap();
        let x: chrono::DateTime<chrono::Utc> =
            o["contentExpiration"].as_str().unwrap().parse().unwrap();
        assert!(
            c >= now - chrono::Duration::hours(23) && c < now,
            "startTime <= contentCreated < endTime"
        );
        assert_eq!(x - c, chrono::Duration::days(7));
        assert!(
            o["contentUri"]
                .as_str()
                .unwrap()
                .ends_with(o["contentId"].as_str().unwrap())
        );
    }

    // A tampered or foreign nextpage token is refused.
    let bad = next.replace("nextpage=", "nextpage=X");
    assert_eq!(
        sim.get(&format!("{bad}&{}", sim.pubid()), Some(&token))
            .await
            .af(),
        "AF20031"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_window_the_last_24_hours_are_listed_and_the_next_page_fills_it_in() {
    let sim = boot(SimConfig {
        page_size: 5,
        ..small(300, 2)
    })
    .await;
    let token = sim.token().await;
    sim.start(&token, "Audit.SharePoint").await;
    let r = sim
        .get(
            &format!(
                "{}/subscriptions/content?contentType=Audit.SharePoint&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200);
    let next = r.header("NextPageUri").expect("more than one page");
    assert!(
        next.contains("&starttime=") && next.contains("&endtime="),
        "{next}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn content_ids_are_checked_and_blobs_are_json_arrays_of_records() {
    let sim = boot(small(100, 1)).await;
    let token = sim.token().await;
    sim.start(&token, "Audit.Exchange").await;
    let base = format!("{}/audit", sim.root());
    let r = sim
        .get(&format!("{base}/nonsense?{}", sim.pubid()), Some(&token))
        .await;
    assert_eq!((r.status.as_u16(), r.af().as_str()), (400, "AF20052"));
    let listing = sim
        .get(
            &format!(
                "{}/subscriptions/content?contentType=Audit.Exchange&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
        )
        .await
        .json();
    let id = listing[0]["contentId"].as_str().unwrap();
    // Well-formed but naming no published content.
    let forged = format!("2099{}", &id[4..]);
    let r = sim
        .get(&format!("{base}/{forged}?{}", sim.pubid()), Some(&token))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.af().as_str()),
        (404, "AF20050"),
        "{}",
        r.text
    );
    let r = sim
        .get(&format!("{base}/{id}?{}", sim.pubid()), Some(&token))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let records = r.json();
    assert!(!records.as_array().unwrap().is_empty());
    for rec in records.as_array().unwrap() {
        assert_eq!(rec["OrganizationId"], sim.tenant["tenant_id"]);
        assert!(
            rec["Id"].is_string() && rec["Operation"].is_string() && rec["Workload"].is_string()
        );
        let ct = rec["CreationTime"].as_str().unwrap();
        assert_eq!(
            ct.len(),
            19,
            "CreationTime has no zone and no fraction: {ct}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn content_expires_seven_days_after_publication() {
    let sim = boot(small(100, 1)).await;
    let token = sim.token().await;
    sim.start(&token, "Audit.General").await;
    let listing = sim
        .get(
            &format!(
                "{}/subscriptions/content?contentType=Audit.General&{}",
                sim.root(),
                sim.pubid()
            ),
            Some(&token),
        )
        .await
        .json();
    let created: chrono::DateTime<chrono::Utc> = listing[0]["contentCreated"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let uri = format!(
        "{}?{}",
        listing[0]["contentUri"].as_str().unwrap(),
        sim.pubid()
    );
    assert_eq!(sim.get(&uri, Some(&token)).await.status, 200);
    // A minute before the seventh day ends it is still served…
    let to_edge = created + chrono::Duration::days(7) - sim.now().await;
    sim.advance(to_edge.num_seconds() - 60).await;
    let token = sim.token().await;
    assert_eq!(
        sim.get(&uri, Some(&token)).await.status,
        200,
        "still inside the 7 days"
    );
    // …and two minutes later it has expired.
    sim.advance(120).await;
    let r = sim.get(&uri, Some(&token)).await;
    assert_eq!(
        (r.status.as_u16(), r.af().as_str()),
        (400, "AF20051"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_expired_fault_lists_content_that_can_no_longer_be_fetched() {
    let sim = boot(SimConfig {
        faults: "expired".parse::<Faults>().unwrap(),
        ..small(600, 7)
    })
    .await;
    let truth = sim.truth().await;
    let expired: usize = CONTENT_TYPES
        .iter()
        .map(|ct| {
            truth["content_types"][ct]["expired_record_ids"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert!(expired > 0, "some records are only in expired blobs");
    let d = sim.drain().await;
    assert!(d.expired_blobs > 0);
    for ct in CONTENT_TYPES {
        assert_eq!(
            d.ids.get(ct).cloned().unwrap_or_default(),
            common::truth_ids(&truth, ct),
            "{ct}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_answers_af429_beyond_the_budget() {
    let sim = boot(SimConfig {
        requests_per_minute: Some(20),
        ..small(50, 1)
    })
    .await;
    let token = sim.token().await;
    let url = format!("{}/subscriptions/list?{}", sim.root(), sim.pubid());
    let mut throttled = Vec::new();
    for _ in 0..40 {
        let r = sim.get(&url, Some(&token)).await;
        if r.af() == "AF429" {
            assert!(r.status == 429 || r.status == 403, "{}", r.status);
            assert!(
                r.json()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("PublisherId={}", sim.tenant_id()))
            );
            throttled.push(r.status);
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert!(
        throttled.len() >= 15,
        "only {} of 40 throttled",
        throttled.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dlp_sensitive_types_check_accept_language() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let url = format!("{}/resources/dlpSensitiveTypes?{}", sim.root(), sim.pubid());
    let ok = sim.get(&url, Some(&token)).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "50842eb7-edc8-4019-85dd-5a5c1f2bb085")
    );
    let with = |lang: &'static str| {
        sim.http
            .get(&url)
            .bearer_auth(&token)
            .header("Accept-Language", lang)
            .send()
    };
    let r = with("en-US, fr").await.unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "AF20053"
    );
    let r = with("en_US!").await.unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "AF20054"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_must_be_https_validated_and_not_expired() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let start = format!(
        "{}/subscriptions/start?contentType=Audit.Exchange&{}",
        sim.root(),
        sim.pubid()
    );
    let r = sim
        .post(
            &start,
            Some(&token),
            Some(json!({"webhook": {"address": "http://example.com/hook", "authId": "x"}})),
        )
        .await;
    assert_eq!(r.af(), "AF20021");
    assert!(r.text.contains("HTTPS"), "{}", r.text);
    let r = sim.post(&start, Some(&token), Some(json!({"webhook": {"address": "https://127.0.0.1:1/hook", "expiration": "2001-01-01T00:00:00Z"}}))).await;
    assert_eq!(r.af(), "AF20003", "{}", r.text);
    let r = sim
        .post(
            &start,
            Some(&token),
            Some(json!({"webhook": {"address": "https://127.0.0.1:1/hook"}})),
        )
        .await;
    assert_eq!(
        r.af(),
        "AF20021",
        "an unreachable endpoint fails validation"
    );
    assert!(r.text.contains("did not return HTTP 200"), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_disabled_and_unlicensed_tenants_answer_as_microsoft_does() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    sim.start(&token, "Audit.Exchange").await;
    let control = format!("{}/_sim/control", sim.url);
    sim.post(
        &control,
        None,
        Some(json!({"audit_enabled": false, "licensed": true})),
    )
    .await;
    let r = sim.start(&token, "Audit.General").await;
    assert!(
        r.text.contains("DataServiceException: Tenant") && r.text.contains("does not exist"),
        "{}",
        r.text
    );
    let listing = format!(
        "{}/subscriptions/content?contentType=Audit.Exchange&{}",
        sim.root(),
        sim.pubid()
    );
    assert_eq!(sim.get(&listing, Some(&token)).await.af(), "AF20023");
    sim.post(
        &control,
        None,
        Some(json!({"audit_enabled": true, "licensed": false})),
    )
    .await;
    assert_eq!(sim.get(&listing, Some(&token)).await.af(), "AF20012");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_is_dated_by_the_simulators_clock_and_logged() {
    let sim = boot(small(50, 1)).await;
    sim.advance(3 * 3600).await;
    let r = sim
        .get(&format!("{}/subscriptions/list", sim.root()), None)
        .await;
    let date = chrono::DateTime::parse_from_rfc2822(&r.header("date").unwrap()).unwrap();
    let expected = common::fixed_now() + chrono::Duration::hours(3);
    assert!(
        (date.with_timezone(&chrono::Utc) - expected)
            .num_seconds()
            .abs()
            < 30,
        "{date} vs {expected}"
    );
    let log = sim.requests().await;
    let hit = log
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/subscriptions/list"))
        .expect("logged");
    assert_eq!(hit["status"], 401);
    assert_eq!(hit["method"], "GET");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_webhook_body_is_af20002() {
    let sim = boot(small(50, 1)).await;
    let token = sim.token().await;
    let url = format!(
        "{}/subscriptions/start?contentType=Audit.Exchange&{}",
        sim.root(),
        sim.pubid()
    );
    let r = sim
        .http
        .post(&url)
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "AF20002"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_15_minute_rule_ends_exactly_at_15_minutes() {
    let sim = boot(SimConfig {
        speed: 0.0,
        ..small(50, 1)
    })
    .await;
    let token = sim.token().await;
    assert_eq!(sim.start(&token, "Audit.Exchange").await.status, 200);
    sim.advance(14 * 60 + 59).await;
    let r = sim.start(&token, "Audit.Exchange").await;
    assert_eq!(r.status, 429);
    assert!(r.text.contains("0m 1s"), "{}", r.text);
    sim.advance(1).await;
    assert_eq!(sim.start(&token, "Audit.Exchange").await.af(), "AF20024");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clock_refuses_absurd_jumps_and_keeps_serving() {
    let sim = boot(small(50, 1)).await;
    for secs in [i64::MAX, 9_000_000_000_000, -5] {
        let r = sim
            .post(
                &format!("{}/_sim/clock", sim.url),
                None,
                Some(json!({"advance_seconds": secs})),
            )
            .await;
        assert_eq!(r.status, 400, "{secs}: {}", r.text);
    }
    let token = sim.token().await;
    assert_eq!(
        sim.get(
            &format!("{}/subscriptions/list?{}", sim.root(), sim.pubid()),
            Some(&token)
        )
        .await
        .status,
        200
    );
}
