//! The activity log's filters against a real simulator: each filter's count equals what the
//! simulator published, read from the raw records without Skylight's parser.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashSet;

use common::{Setup, setup, sim_config};
use serde_json::Value;

/// Every published record of the simulated tenant, as JSON (no faults: what was published is
/// what was collected).
fn published(s: &Setup) -> Vec<Value> {
    let sim = &s.sim.sim;
    let mut out = Vec::new();
    for ct in skylight_sim::catalog::ContentType::ALL {
        for meta in sim.feed.published(ct, sim.horizon()) {
            let blob: Vec<Value> =
                serde_json::from_slice(&sim.feed.blob_json(&meta, false)).unwrap();
            out.extend(blob);
        }
    }
    out
}

fn count(s: &Setup, conditions: &[&str]) -> usize {
    let q = skylight_store::ActivityQuery {
        tenant: Some("contoso".into()),
        filter: skylight_model::filter::Filter::parse(conditions).unwrap(),
        limit: 10_000_000,
        after: None,
    };
    s.store.activities(&q).unwrap().rows.len()
}

/// The address at the start of a ClientIP field as written (`a.b.c.d`, `a.b.c.d:port`,
/// `[a.b.c.d]:port`), read without Skylight's parser.
fn ipv4_text(r: &Value) -> Option<String> {
    // The first field that holds an address is the client's (Exchange's ClientIPAddress first).
    let first = [
        "ClientIPAddress",
        "ClientIP",
        "ActorIpAddress",
        "ClientIp",
        "IPAddress",
    ]
    .iter()
    .filter_map(|k| r.get(*k)?.as_str())
    .find_map(|field| {
        let t = field.trim();
        if let Ok(ip) = t.parse::<std::net::IpAddr>() {
            return Some(ip.to_canonical().to_string());
        }
        let t = t.trim_start_matches('[');
        let t = t.strip_prefix("::ffff:").unwrap_or(t);
        let end = t.find([']', ':']).unwrap_or(t.len());
        let ip = &t[..end];
        ip.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|_| ip.to_string())
    })?;
    first.parse::<std::net::Ipv4Addr>().ok().map(|_| first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_log_filters_count_what_the_simulator_published() {
    let mut s = setup(sim_config(150, 3, ""), None).await;
    let asn_db = s.dir.path().join("asn.mmdb");
    write_asn_db(&asn_db);
    s.asn_db = Some(asn_db);
    s.collect_cleanly("clean").await;
    let records = published(&s);
    let text = |r: &Value, k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };

    // Everything, then by time window.
    assert_eq!(count(&s, &[]), records.len());
    let (from, to) = ("2026-11-19T06:00:00", "2026-11-19T12:00:00");
    let in_window = records
        .iter()
        .filter(|r| {
            let t = text(r, "CreationTime");
            t.as_str() >= from && t.as_str() < to
        })
        .count();
    assert!(in_window > 0);
    assert_eq!(count(&s, &[&format!("time={from}Z..{to}Z")]), in_window);

    // The user with the most failed sign-ins: by operation, user and result.
    let mut failures = std::collections::HashMap::<String, usize>::new();
    for r in records
        .iter()
        .filter(|r| text(r, "Operation") == "UserLoginFailed")
    {
        *failures.entry(text(r, "UserId")).or_default() += 1;
    }
    let (user, n) = failures
        .into_iter()
        .max_by_key(|(u, n)| (*n, u.clone()))
        .unwrap();
    assert_eq!(
        count(
            &s,
            &[
                "operation=UserLoginFailed",
                &format!("user={}", user.to_uppercase())
            ]
        ),
        n
    );
    assert_eq!(
        count(
            &s,
            &[
                "operation=userloginfailed",
                "result=failure",
                &format!("user={user}")
            ]
        ),
        n
    );

    // One user over a window (its lookup, by hour), and everyone but that user.
    let by_user_in_window = records
        .iter()
        .filter(|r| text(r, "UserId") == user)
        .filter(|r| {
            let t = text(r, "CreationTime");
            t.as_str() >= from && t.as_str() < to
        })
        .count();
    assert_eq!(
        count(
            &s,
            &[&format!("user={user}"), &format!("time={from}Z..{to}Z")]
        ),
        by_user_in_window
    );
    let not_user = records.iter().filter(|r| text(r, "UserId") != user).count();
    assert_eq!(count(&s, &[&format!("user!={user}")]), not_user);

    // An address, and the /16 block around it.
    let ip = ipv4_text(records.iter().find(|r| text(r, "UserId") == user).unwrap()).unwrap();
    let exact = records
        .iter()
        .filter(|r| ipv4_text(r).as_deref() == Some(ip.as_str()))
        .count();
    assert_eq!(count(&s, &[&format!("ip={ip}")]), exact);
    let prefix: String = ip.split('.').take(2).collect::<Vec<_>>().join(".") + ".";
    let block = records
        .iter()
        .filter(|r| ipv4_text(r).is_some_and(|i| i.starts_with(&prefix)))
        .count();
    assert_eq!(count(&s, &[&format!("ip={prefix}0.0/16")]), block);

    // RecordType: one, a range, none of.
    let rt = |r: &Value| {
        r.get("RecordType")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    };
    assert_eq!(
        count(&s, &["record_type=15"]),
        records.iter().filter(|r| rt(r) == Some(15)).count()
    );
    assert_eq!(
        count(&s, &["record_type=1..20"]),
        records
            .iter()
            .filter(|r| rt(r).is_some_and(|t| (1..=20).contains(&t)))
            .count()
    );
    assert_eq!(
        count(&s, &["record_type!=15,6"]),
        records
            .iter()
            .filter(|r| !matches!(rt(r), Some(15 | 6)))
            .count()
    );

    // Free text over the raw record.
    let needle = text(
        records
            .iter()
            .find(|r| r.get("SourceFileName").is_some())
            .unwrap(),
        "SourceFileName",
    );
    let with_needle = records
        .iter()
        .filter(|r| {
            r.to_string()
                .to_lowercase()
                .contains(&needle.to_lowercase())
        })
        .count();
    assert_eq!(
        count(&s, &[&format!("text~{}", needle.to_uppercase())]),
        with_needle
    );

    // Countries: every address inside a simulated country's blocks is placed in that country
    // (the simulator's own table says which blocks belong to which country).
    for country in skylight_sim::tenant::geo::COUNTRIES {
        let blocks: Vec<String> = country
            .blocks
            .iter()
            .flat_map(|&(a, b, len)| {
                (u16::from(b)..u16::from(b) + u16::from(len))
                    .map(move |x| format!("{a}.{x}.0.0/16"))
            })
            .collect();
        let inside = records
            .iter()
            .filter(|r| {
                ipv4_text(r).is_some_and(|i| {
                    let o: Vec<u8> = i.split('.').filter_map(|p| p.parse().ok()).collect();
                    country.blocks.iter().any(|&(a, b, len)| {
                        o.len() == 4
                            && o[0] == a
                            && o[1] >= b
                            && u16::from(o[1]) < u16::from(b) + u16::from(len)
                    })
                })
            })
            .count();
        let ip = format!("ip={}", blocks.join(","));
        assert_eq!(
            count(
                &s,
                &[&ip, &format!("country={}", country.code.to_lowercase())]
            ),
            inside,
            "{}",
            country.code
        );
        assert_eq!(
            count(&s, &[&ip, &format!("country!={}", country.code)]),
            0,
            "{}",
            country.code
        );
        // The network each block was given in the test's own ASN database.
        let i = network_of(country.code);
        assert_eq!(
            count(&s, &[&format!("isp={}", isp_name(i, country.name))]),
            inside,
            "isp of {}",
            country.code
        );
        assert_eq!(
            count(&s, &[&format!("asn={}", 64_512 + i)]),
            inside,
            "asn of {}",
            country.code
        );
    }
    // The named range: its category, name and tag.
    let (a, _, _) = skylight_sim::tenant::geo::COUNTRIES[0].blocks[0];
    let office = records
        .iter()
        .filter(|r| ipv4_text(r).is_some_and(|i| i.starts_with(&format!("{a}."))))
        .count();
    assert!(office > 0);
    for tag in ["ip_tag=corporate", "ip_tag=name:office", "ip_tag=tag:hq"] {
        assert_eq!(count(&s, &[tag]), office, "{tag}");
    }
    assert_eq!(count(&s, &["ip_tag=vpn"]), 0);
    // User agents (in UserAgent, an Entra sign-in's ExtendedProperties, or Exchange's
    // ClientInfoString): Word desktop clients.
    let ua = |r: &Value| -> String {
        // Sometimes an array, sometimes the array as a JSON string.
        let props = match r.get("ExtendedProperties") {
            Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let extended = props
            .as_array()
            .and_then(|a| a.iter().find(|p| p["Name"] == "UserAgent"))
            .and_then(|p| p["Value"].as_str())
            .map(String::from);
        // Keys come in any casing.
        let direct = r.as_object().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("UserAgent"))
                .and_then(|(_, v)| v.as_str())
                .map(String::from)
        });
        direct
            .filter(|u| !u.is_empty())
            .or(extended)
            .unwrap_or_else(|| text(r, "ClientInfoString"))
    };
    let word = records
        .iter()
        .filter(|r| ua(r).to_lowercase().contains("microsoft word"))
        .count();
    assert!(word > 0);
    assert_eq!(count(&s, &["client_app=word"]), word);

    // Device kind and operating system of every user agent the simulator writes, as its agent
    // lists intend them (desktop, mobile, scripts and tools), worked out by hand.
    use skylight_sim::records::agents::{DESKTOP, MOBILE, SCRIPTED, TEAMS};
    let desktop_os = [
        "windows", "windows", "macos", "macos", "windows", "windows", "windows", "linux",
    ];
    let mobile_os = ["ios", "android", "ios", "android"];
    let intended = DESKTOP
        .iter()
        .zip(desktop_os)
        .map(|(a, os)| (*a, "desktop", Some(os)))
        .chain(
            MOBILE
                .iter()
                .zip(mobile_os)
                .map(|(a, os)| (*a, "mobile", Some(os))),
        )
        .chain(SCRIPTED.iter().map(|a| (*a, "script", None)))
        .chain([(TEAMS, "desktop", Some("windows"))]);
    let mut seen = 0;
    let mut wrong = Vec::new();
    for (agent, device, os) in intended {
        let n = records.iter().filter(|r| ua(r) == agent).count();
        seen += usize::from(n > 0);
        let this = format!("user_agent=\"{agent}\"");
        assert_eq!(count(&s, &[&this]), n, "{agent}");
        let as_device = count(&s, &[&this, &format!("device_type={device}")]);
        let on_os = os.map_or(n, |os| count(&s, &[&this, &format!("os={os}")]));
        if as_device != n || on_os != n {
            wrong.push(format!(
                "{agent}: {n} records, {as_device} as {device}, {on_os} on {os:?}"
            ));
        }
    }
    assert!(seen >= 12, "the simulated tenant uses most agents ({seen})");
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Apps by Microsoft's Workload over each service's own RecordTypes (compliance records that
    // Exchange or SharePoint write for Purview, Defender or Copilot are those products'), and
    // action categories by Microsoft's operation names (the download, sign-in and send
    // operations the audit log documents), read from the raw records.
    let mut apps = Vec::new();
    for (workload, app, types) in [
        ("MicrosoftTeams", "teams", &[25][..]),
        ("OneDrive", "one-drive", &[4, 6, 14, 36][..]),
        ("SharePoint", "share-point", &[4, 6, 14, 36][..]),
        ("Exchange", "exchange", &[1, 2, 3, 50][..]),
        ("AzureActiveDirectory", "entra-id", &[8, 15][..]),
    ] {
        let n = records
            .iter()
            .filter(|r| {
                text(r, "Workload") == workload && rt(r).is_some_and(|t| types.contains(&t))
            })
            .count();
        let listed: Vec<String> = types.iter().map(i64::to_string).collect();
        let got = count(
            &s,
            &[
                &format!("app={app}"),
                &format!("record_type={}", listed.join(",")),
            ],
        );
        if n == 0 || got != n {
            apps.push(format!("{workload}: {n} published, {got} as app={app}"));
        }
    }
    assert!(apps.is_empty(), "{apps:#?}");
    for (category, operations) in [
        (
            "file_download",
            &[
                "FileDownloaded",
                "FileSyncDownloadedFull",
                "FileSyncDownloadedPartial",
            ][..],
        ),
        (
            "login",
            &[
                "UserLoggedIn",
                "UserLoginFailed",
                "MailboxLogin",
                "SignInEvent",
                "TeamsSessionStarted",
            ][..],
        ),
        ("mail_send", &["Send", "SendAs", "SendOnBehalf"][..]),
    ] {
        let n = records
            .iter()
            .filter(|r| operations.contains(&text(r, "Operation").as_str()))
            .count();
        assert!(n > 0, "{category}");
        assert_eq!(
            count(&s, &[&format!("category={category}")]),
            n,
            "{category}"
        );
    }

    // Workload as Microsoft wrote it; guests (#EXT# in the UPN) as external users.
    let exchange = records
        .iter()
        .filter(|r| text(r, "Workload") == "Exchange")
        .count();
    assert!(exchange > 0);
    assert_eq!(count(&s, &["workload=exchange"]), exchange);
    let guests = records
        .iter()
        .filter(|r| text(r, "UserId").contains("#EXT#"))
        .count();
    assert!(guests > 0);
    assert_eq!(count(&s, &["external=true", "user~#ext#"]), guests);

    // Impersonation, as Microsoft documents Exchange's fields: mail sent as or on behalf of
    // someone (SendAsUserSmtp, SendOnBehalfOfUserSmtp), or a mailbox item or mailbox audit
    // record (RecordType 2, 3, 50) by an admin, a delegate or a delegated admin (LogonType 1,
    // 2, 6) on a mailbox that is not their own (MailboxOwnerUPN).
    let number = |r: &Value, k: &str| {
        r.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
    };
    let impersonated = records
        .iter()
        .filter(|r| {
            let as_other = ["SendAsUserSmtp", "SendOnBehalfOfUserSmtp"]
                .iter()
                .any(|k| !text(r, k).is_empty());
            let owner = text(r, "MailboxOwnerUPN");
            as_other
                || (matches!(rt(r), Some(2 | 3 | 50))
                    && matches!(number(r, "LogonType"), Some(1 | 2 | 6))
                    && !owner.is_empty()
                    && !owner.eq_ignore_ascii_case(&text(r, "UserId")))
        })
        .count();
    assert!(impersonated > 0, "the simulated tenant has delegate access");
    assert_eq!(count(&s, &["impersonated=true"]), impersonated);
    assert_eq!(
        count(&s, &["impersonated=false"]),
        records.len() - impersonated
    );
    // Administrators by Microsoft's UserType (2: an admin in the tenant) among Exchange admin
    // cmdlets (RecordType 1), where no service account stands in.
    let admin_cmdlets = records
        .iter()
        .filter(|r| rt(r) == Some(1) && number(r, "UserType") == Some(2))
        .count();
    assert!(admin_cmdlets > 0);
    assert_eq!(
        count(&s, &["record_type=1", "actor_kind=admin"]),
        admin_cmdlets
    );

    // Counts per hour (a chart's data), with and without free text.
    let q = |conditions: &[&str]| skylight_store::ActivityQuery {
        tenant: Some("contoso".into()),
        filter: skylight_model::filter::Filter::parse(conditions).unwrap(),
        limit: 1,
        after: None,
    };
    let mut per_hour = std::collections::BTreeMap::<String, u64>::new();
    for r in records.iter().filter(|r| rt(r) == Some(15)) {
        *per_hour
            .entry(text(r, "CreationTime")[..13].to_string())
            .or_default() += 1;
    }
    let hist = s
        .store
        .activity_histogram(&q(&["record_type=15"]), 3_600_000)
        .unwrap();
    let got: std::collections::BTreeMap<String, u64> = hist
        .iter()
        .map(|(ms, n)| {
            let t = chrono::DateTime::from_timestamp_millis(*ms).unwrap();
            (t.format("%Y-%m-%dT%H").to_string(), *n)
        })
        .collect();
    assert_eq!(got, per_hour);
    let text_hist = s
        .store
        .activity_histogram(&q(&[&format!("text~{needle}")]), 86_400_000)
        .unwrap();
    assert_eq!(
        text_hist.iter().map(|(_, n)| *n as usize).sum::<usize>(),
        with_needle
    );

    // One activity by Id: its columns and the raw record as published.
    let some = records.iter().find(|r| rt(r) == Some(15)).unwrap();
    let (row, raw) = s.store.activity(None, &text(some, "Id")).unwrap().unwrap();
    assert_eq!(row.user.as_deref(), Some(text(some, "UserId").as_str()));
    assert_eq!(serde_json::from_slice::<Value>(&raw).unwrap(), *some);
    assert!(s.store.activity(None, "no-such-id").unwrap().is_none());
    assert!(
        s.store
            .activity(Some("fabrikam"), &text(some, "Id"))
            .unwrap()
            .is_none()
    );

    // Paging: small pages, newest first, each record once.
    let mut seen = HashSet::new();
    let mut after = None;
    let mut last_time = None;
    loop {
        let q = skylight_store::ActivityQuery {
            tenant: None,
            filter: skylight_model::filter::Filter::parse(&["record_type=15"]).unwrap(),
            limit: 97,
            after,
        };
        let page = s.store.activities(&q).unwrap();
        for row in &page.rows {
            assert!(seen.insert(row.id.clone()), "{} twice", row.id);
            assert!(last_time.is_none_or(|t| row.time <= t), "newest first");
            last_time = Some(row.time);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        records.iter().filter(|r| rt(r) == Some(15)).count()
    );
}

/// An ASN database (DB-IP / GeoLite2 layout) the test writes itself: every /16 of each simulated
/// country's blocks belongs to AS 64512 + `network_of` the country, named by `isp_name` (the
/// simulator's addresses carry no ISP of their own).
fn write_asn_db(path: &std::path::Path) {
    use maxminddb_writer::Database;
    use maxminddb_writer::metadata::IpVersion;
    use maxminddb_writer::paths::IpAddrWithMask;
    #[derive(serde::Serialize)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: String,
    }
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = "DBIP-ASN-Lite".into();
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = 1_780_000_000;
    db.metadata.languages = vec!["en".into()];
    for (i, country) in skylight_sim::tenant::geo::COUNTRIES.iter().enumerate() {
        // Two cities of one country share its blocks: the country's first entry names them.
        if i != network_of(country.code) {
            continue;
        }
        let data = db
            .insert_value(&Asn {
                autonomous_system_number: 64_512 + i as u32,
                autonomous_system_organization: isp_name(i, country.name),
            })
            .unwrap();
        for &(a, b, len) in country.blocks {
            for second in u16::from(b)..u16::from(b) + u16::from(len) {
                let v4 = std::net::Ipv4Addr::new(a, second as u8, 0, 0);
                // An IPv6 tree holds IPv4 under ::/96, as MaxMind's own databases do.
                let net =
                    IpAddrWithMask::new(std::net::IpAddr::V6(v4.to_ipv6_compatible()), 16 + 96);
                db.insert_node(net, data);
            }
        }
    }
    std::fs::write(path, db.write_to(Vec::new()).unwrap()).unwrap();
}

/// The network index of a country in the test's ASN database: its first entry in the table.
fn network_of(code: &str) -> usize {
    skylight_sim::tenant::geo::COUNTRIES
        .iter()
        .position(|c| c.code == code)
        .unwrap()
}

/// The organisation the test's ASN database names for the i-th simulated country (unique even
/// where two entries share a country's name).
fn isp_name(i: usize, country: &str) -> String {
    format!("Telecom {i} of {country}")
}
