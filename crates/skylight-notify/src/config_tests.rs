#![allow(clippy::unwrap_used)]

use super::*;

const SECRET: &str = "whsec-Very~Secret_123";

fn read(text: &str) -> Result<NotifyConfig, ConfigError> {
    let table: toml::Table = toml::from_str(text).unwrap();
    let notifications = table
        .get("notifications")
        .cloned()
        .unwrap_or(toml::Value::Table(toml::Table::new()));
    NotifyConfig::from_deserializer(notifications)
}

fn env(k: &str) -> Option<String> {
    (k == "HOOK_SECRET").then(|| format!("{SECRET}\n"))
}

fn resolve(text: &str) -> Result<Notifications, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    read(text)?.resolve(dir.path(), &env)
}

fn err(r: Result<Notifications, ConfigError>) -> String {
    match r {
        Ok(n) => panic!("expected an error, got {n:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_documented_example_reads_with_its_defaults() {
    let n = resolve(
        r#"
[[notifications.webhook]]
name = "soc"
url = "https://hooks.example/skylight"
secret_env = "HOOK_SECRET"
min_severity = "medium"
[[notifications.syslog]]
name = "siem"
address = "10.0.0.5:514"
protocol = "udp"
"#,
    )
    .unwrap();
    assert_eq!(n.channels.len(), 2);
    assert_eq!(n.retry, RetryPolicy::default());
    assert_eq!(n.retry.max_attempts, 8);
    assert_eq!(n.backfill, Duration::from_secs(48 * 3600));
    assert_eq!(n.portal_url, DEFAULT_PORTAL_URL);
    let soc = &n.channels[0];
    assert_eq!(soc.name, "soc");
    assert_eq!(soc.min_severity, Some(Severity::Medium));
    assert!(!soc.include_signals);
    let Target::Webhook(w) = &soc.target else {
        panic!("a webhook")
    };
    assert_eq!(w.secret.as_ref().map(Secret::expose), Some(SECRET));
    assert_eq!(w.timeout, Duration::from_secs(10));
    let Target::Syslog(s) = &n.channels[1].target else {
        panic!("syslog")
    };
    assert_eq!(s.protocol, Protocol::Udp);
    assert_eq!(s.facility, Facility::Local0);
    assert!(!s.hostname.is_empty());
    // The secret never shows in Debug output.
    let dbg = format!("{n:?}");
    assert!(!dbg.contains(SECRET), "{dbg}");
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn tcp_framing_facility_secret_file_and_retry_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let n = read(
        r#"
[notifications]
max_attempts = 3
retry_initial_secs = 5
retry_max_secs = 60
backfill_hours = 0
portal_url = "https://skylight.example"
[[notifications.webhook]]
name = "soc"
url = "http://127.0.0.1:9/x"
secret_file = "hook.secret"
include_signals = true
timeout_secs = 3
[[notifications.syslog]]
name = "siem"
address = "siem.example:6514"
protocol = "tcp"
framing = "newline"
facility = "authpriv"
hostname = "sky-1"
"#,
    )
    .unwrap()
    .resolve(dir.path(), &env)
    .unwrap();
    assert_eq!(
        n.retry,
        RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60)
        }
    );
    assert_eq!(n.backfill, Duration::ZERO);
    assert_eq!(n.portal_url, "https://skylight.example");
    let Target::Webhook(w) = &n.channels[0].target else {
        panic!("a webhook")
    };
    assert_eq!(w.secret.as_ref().map(Secret::expose), Some(SECRET));
    assert!(n.channels[0].include_signals);
    let Target::Syslog(s) = &n.channels[1].target else {
        panic!("syslog")
    };
    assert_eq!(
        (s.protocol, s.framing, s.facility, s.hostname.as_str()),
        (Protocol::Tcp, Framing::Newline, Facility::Authpriv, "sky-1")
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = read("[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nmin_sevrity = \"high\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("min_sevrity"), "{e}");
    let e = read("[notifications]\nretries = 3\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("retries"), "{e}");
    let e = read("[[notifications.syslog]]\nname = \"s\"\naddress = \"h:514\"\nport = 514\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("port"), "{e}");
    let e = read("[[notifications.smtp]]\nname = \"s\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("smtp"), "{e}");
    let e =
        read("[[notifications.syslog]]\nname = \"s\"\naddress = \"h:514\"\nprotocol = \"tls\"\n")
            .unwrap_err()
            .to_string();
    assert!(e.contains("tls"), "{e}");
}

#[test]
fn problems_say_what_to_fix_without_echoing_secrets() {
    // A literal secret is refused and never repeated.
    let e = read(&format!(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nsecret = \"{SECRET}\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("secret_env") && !e.contains(SECRET), "{e}");
    let e = err(resolve(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nsecret_env = \"MISSING_VAR\"\n",
    ));
    assert!(e.contains("MISSING_VAR"), "{e}");
    let e = err(resolve(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nsecret_env = \"HOOK_SECRET\"\nsecret_file = \"f\"\n",
    ));
    assert!(e.contains("not both"), "{e}");
    let e = err(resolve(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nsecret_file = \"nope.secret\"\n",
    ));
    assert!(e.contains("nope.secret"), "{e}");
    // A URL is not echoed (it may hold a token).
    let e = err(resolve(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"ftp://h.example/tok3n\"\n",
    ));
    assert!(e.contains("http or https") && !e.contains("tok3n"), "{e}");
    // Names, addresses, framing, retries: all problems at once.
    let e = err(resolve(
        r#"
[notifications]
max_attempts = 0
retry_initial_secs = 60
retry_max_secs = 10
[[notifications.webhook]]
name = "dup"
url = "https://h.example"
[[notifications.syslog]]
name = "dup"
address = "10.0.0.5"
framing = "newline"
[[notifications.syslog]]
name = ""
address = "h:514"
"#,
    ));
    for needle in [
        "used by another channel",
        "must be host:port",
        "framing applies",
        "name is empty",
        "max_attempts",
        "retry_max_secs",
    ] {
        assert!(e.contains(needle), "{needle}: {e}");
    }
}

#[test]
fn addresses_and_filters() {
    assert!(host_port("10.0.0.5:514"));
    assert!(host_port("[2001:db8::5]:514"));
    assert!(host_port("siem.example:6514"));
    assert!(!host_port("siem.example"));
    assert!(!host_port("2001:db8::5:514"));
    assert!(!host_port("h:0"));
    assert!(!host_port(":514"));

    let n = resolve(
        "[[notifications.webhook]]\nname = \"soc\"\nurl = \"https://h.example\"\nmin_severity = \"high\"\n[[notifications.syslog]]\nname = \"all\"\naddress = \"h:514\"\ninclude_signals = true\n",
    )
    .unwrap();
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let alert = |severity, signal_only| Alert {
        id: 1,
        draft: skylight_model::AlertDraft {
            key: "k".into(),
            tenant: "t".into(),
            policy: "p".into(),
            kind: "activity".into(),
            title: "t".into(),
            severity,
            category: "c".into(),
            signal_only,
            users: Vec::new(),
            ips: Vec::new(),
            countries: Vec::new(),
            activity_ids: Vec::new(),
            activity_count: 0,
            facts: Vec::new(),
            first: at,
            last: at,
        },
        status: skylight_model::AlertStatus::Open,
        resolution: None,
        created: at,
        updated: at,
        comments: Vec::new(),
    };
    let (soc, all) = (&n.channels[0], &n.channels[1]);
    assert!(soc.wants(&alert(Severity::High, false)));
    assert!(!soc.wants(&alert(Severity::Medium, false)));
    assert!(
        !soc.wants(&alert(Severity::High, true)),
        "no signals by default"
    );
    assert!(all.wants(&alert(Severity::Informational, true)));
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p = RetryPolicy::default();
    let waits: Vec<u64> = (1..p.max_attempts)
        .map(|n| p.delay(n, None).as_secs())
        .collect();
    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800]);
    // Eight attempts span about an hour.
    assert_eq!(waits.iter().sum::<u64>(), 3690);
    assert_eq!(p.delay(2, Some(Duration::from_secs(300))).as_secs(), 300);
    assert_eq!(
        p.delay(2, Some(Duration::from_secs(99_999))).as_secs(),
        1800
    );
    assert_eq!(p.delay(60, None).as_secs(), 1800, "no overflow");
}
