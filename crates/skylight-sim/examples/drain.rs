//! Drains a running simulator as fast as a client can (8 blobs in flight), and reports what it
//! served: blobs, records, bytes and rates. Used for the README's simulator figures:
//! `cargo run --release -p skylight-sim --example drain -- http://127.0.0.1:9000`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let http = reqwest::Client::new();
    let t: Value = http
        .get(format!("{url}/_sim/tenant"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = t["tenant_id"].as_str().unwrap().to_string();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", t["client_id"].as_str().unwrap()),
        ("client_secret", t["client_secret"].as_str().unwrap()),
        ("scope", "https://manage.office.com/.default"),
    ];
    let tok: Value = http
        .post(format!("{url}/{tenant}/oauth2/v2.0/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    let root = format!("{url}/api/v1.0/{tenant}/activity/feed");
    let pubid = format!("PublisherIdentifier={tenant}");
    let clock: Value = http
        .get(format!("{url}/_sim/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();

    let started = Instant::now();
    let (mut blobs, mut records, mut bytes, mut requests) = (0u64, 0u64, 0u64, 1u64);
    for ct in [
        "Audit.AzureActiveDirectory",
        "Audit.Exchange",
        "Audit.SharePoint",
        "Audit.General",
        "DLP.All",
    ] {
        http.post(format!(
            "{root}/subscriptions/start?contentType={ct}&{pubid}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
        requests += 1;
        let mut uris = Vec::new();
        for day in (1..=7).rev() {
            let s = now - chrono::Duration::days(day) + chrono::Duration::minutes(10);
            let e = (s + chrono::Duration::days(1)).min(now);
            let f = |x: chrono::DateTime<chrono::Utc>| x.format("%Y-%m-%dT%H:%M:%S").to_string();
            let mut next = Some(format!(
                "{root}/subscriptions/content?contentType={ct}&startTime={}&endTime={}&{pubid}",
                f(s),
                f(e)
            ));
            while let Some(u) = next.take() {
                let r = http.get(&u).bearer_auth(&token).send().await.unwrap();
                requests += 1;
                next = r
                    .headers()
                    .get("NextPageUri")
                    .map(|v| format!("{}&{pubid}", v.to_str().unwrap()));
                let page: Value = r.json().await.unwrap();
                uris.extend(
                    page.as_array()
                        .unwrap()
                        .iter()
                        .map(|o| format!("{}?{pubid}", o["contentUri"].as_str().unwrap())),
                );
            }
        }
        let mut fetches = futures_util::stream::iter(uris.into_iter().map(|u| {
            let (http, token) = (http.clone(), token.clone());
            async move {
                http.get(u)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            }
        }))
        .buffer_unordered(8);
        while let Some(body) = fetches.next().await {
            let arr: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&body).unwrap();
            blobs += 1;
            requests += 1;
            records += arr.len() as u64;
            bytes += body.len() as u64;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "blobs": blobs, "records": records, "bytes": bytes, "requests": requests, "seconds": (secs * 10.0).round() / 10.0,
            "records_per_s": (records as f64 / secs).round(), "mb_per_s": ((bytes as f64 / secs / 1e6) * 10.0).round() / 10.0,
            "bytes_per_record": bytes / records.max(1),
        })
    );
}
