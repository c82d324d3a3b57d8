use super::*;
use skylight_model::{AppGrant, AppRoleGrant};

fn app(name: &str, publisher: Option<&str>, verified: bool, scopes: &[&str]) -> OAuthApp {
    let mut a = OAuthApp {
        tenant: "t".into(),
        id: "sp-1".into(),
        app_id: "app-1".into(),
        name: name.into(),
        publisher: publisher.map(str::to_owned),
        verified_publisher: verified.then(|| publisher.unwrap_or("x").to_owned()),
        first_party: false,
        enabled: true,
        grants: vec![AppGrant {
            id: "g".into(),
            principal_id: Some("u1".into()),
            resource_id: "graph".into(),
            resource: Some("Microsoft Graph".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        app_roles: Vec::new(),
        level: PermissionLevel::Low,
        consented_users: 0,
        all_users: false,
        first_consent: Some(Utc::now() - Duration::days(2)),
        last_consent: Some(Utc::now() - Duration::days(1)),
        review: AppReview::Unreviewed,
        synced: Utc::now(),
    };
    a.summarise();
    a
}

fn policy(body: &str) -> AppPolicy {
    let text = format!("[[app_policy]]\nid = \"p\"\nname = \"P\"\n{body}");
    let mut all = parse_app_policies(&text, "p.toml").unwrap_or_else(|e| panic!("{e}: {text}"));
    all.remove(0)
}

#[test]
fn conditions_all_hold_and_say_why() {
    let p = policy(
        "levels = [\"high\"]\npermissions = [\"mail.readwrite\"]\npublisher_verified = false\nreview = [\"unreviewed\"]\nnew_within_days = 7\nactions = [\"revoke-app\"]\n",
    );
    let risky = app(
        "PDF Converter Pro",
        Some("PDFTools Online"),
        false,
        &["openid", "Mail.ReadWrite"],
    );
    let facts = p.matches(&risky, Utc::now()).expect("matches");
    assert_eq!(facts[0], "permission level high");
    assert_eq!(facts[1], "granted Mail.ReadWrite");
    assert_eq!(facts[2], "publisher PDFTools Online is not verified");
    assert!(facts[3].starts_with("first consented to "), "{facts:?}");
    assert_eq!(facts[4], "review: unreviewed");
    assert_eq!(p.actions, vec![ActionKind::RevokeApp]);

    // Each condition can fail on its own.
    let verified = app(
        "PDF Converter Pro",
        Some("PDFTools"),
        true,
        &["Mail.ReadWrite"],
    );
    assert!(p.matches(&verified, Utc::now()).is_none());
    let low = app("PDF Converter Pro", Some("PDFTools"), false, &["User.Read"]);
    assert!(p.matches(&low, Utc::now()).is_none());
    let old = app(
        "PDF Converter Pro",
        Some("PDFTools"),
        false,
        &["Mail.ReadWrite"],
    );
    assert!(p.matches(&old, Utc::now() + Duration::days(30)).is_none());
    let mut approved = risky.clone();
    approved.review = AppReview::Approved;
    assert!(p.matches(&approved, Utc::now()).is_none());
    let mut microsoft = risky.clone();
    microsoft.first_party = true;
    assert!(
        p.matches(&microsoft, Utc::now()).is_none(),
        "Microsoft's own apps never match"
    );

    let alert = p.alert(&risky, facts, Utc::now());
    assert_eq!(alert.title, "P: PDF Converter Pro");
    assert_eq!(app_of_key(&alert.key), Some("sp-1"));
}

#[test]
fn consent_counts_and_application_permissions() {
    let p = policy("min_consented_users = 3\n");
    let mut a = app("Survey Builder", Some("SurveyCo"), false, &["User.Read"]);
    a.consented_users = 2;
    assert!(p.matches(&a, Utc::now()).is_none());
    a.consented_users = 3;
    assert_eq!(
        p.matches(&a, Utc::now()),
        Some(vec!["consented to by 3 users".to_owned()])
    );
    a.consented_users = 0;
    a.all_users = true;
    assert_eq!(
        p.matches(&a, Utc::now()),
        Some(vec!["consented for every user by an admin".to_owned()])
    );

    let p = policy("application_permission_level = \"high\"\n");
    let mut backup = app("Backup Vault 365", Some("Backup Vault Ltd"), true, &[]);
    assert!(p.matches(&backup, Utc::now()).is_none());
    backup.app_roles.push(AppRoleGrant {
        id: "r".into(),
        resource_id: "graph".into(),
        resource: Some("Microsoft Graph".into()),
        permission: "Files.Read.All".into(),
        created: None,
    });
    assert_eq!(
        p.matches(&backup, Utc::now()),
        Some(vec![
            "application permissions (no user needed): Files.Read.All".to_owned()
        ])
    );
}

#[test]
fn misleading_names_are_caught_and_honest_ones_are_not() {
    let p = policy("misleading_name = true\n");
    let hit = |name: &str, publisher: &str| {
        p.matches(
            &app(name, Some(publisher), false, &["User.Read"]),
            Utc::now(),
        )
    };
    // Cyrillic о (U+043E) inside a Latin word.
    let facts = hit("Micr\u{043E}soft Account Verify", "Security Team").expect("caught");
    assert_eq!(
        facts,
        vec![
            "the name \"Micr\u{043E}soft Account Verify\" mixes Latin letters with look-alike characters: '\u{043E}' (U+043E, Cyrillic) (reads as \"microsoft account verify\")"
                .to_owned()
        ]
    );
    // The publisher alone can be the disguise.
    let facts = hit("Account Verify", "Micros\u{03BF}ft Corporati\u{03BF}n").expect("caught");
    assert!(facts[0].starts_with("the publisher"), "{facts:?}");
    assert!(facts[0].contains("U+03BF, Greek"), "{facts:?}");
    // A Roman numeral Ⅿ, and a Microsoft app's exact name on a third-party app.
    assert!(hit("\u{216F}icrosoft Teams", "x").is_some());
    assert!(hit("\u{FF2F}utlook", "x").is_some(), "full-width O");
    let facts = hit("Microsoft Outlook", "Mail Tools").expect("caught");
    assert!(
        facts[0].contains("is the name of a Microsoft app"),
        "{facts:?}"
    );
    // Honest names: Latin, wholly Cyrillic or Greek, Microsoft's name inside a longer one.
    for (name, publisher) in [
        ("Zoom for Outlook", "Zoom Video Communications"),
        ("Мой Офис", "Новые облачные технологии"),
        ("Ελληνικό Ημερολόγιο", "Ημερολόγιο ΑΕ"),
        ("Salesforce", "Salesforce.com"),
        ("Teams Meeting Notes", "Notes Inc"),
    ] {
        assert!(hit(name, publisher).is_none(), "{name} / {publisher}");
    }
}

#[test]
fn mistakes_are_refused_and_built_ins_parse() {
    for bad in [
        "",
        "levels = [\"extreme\"]\n",
        "review = [\"maybe\"]\n",
        "levels = [\"high\"]\nactions = [\"approve-app\"]\n",
        "levels = [\"high\"]\nactions = [\"suspend-user\"]\n",
        "levels = [\"high\"]\nunknown = 1\n",
    ] {
        let text = format!("[[app_policy]]\nid = \"p\"\nname = \"P\"\n{bad}");
        assert!(parse_app_policies(&text, "p.toml").is_err(), "{bad}");
    }
    let built_in = parse_app_policies(
        include_str!("../../templates/built-in.toml"),
        "built-in.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        built_in
            .iter()
            .any(|p| p.config.id == "misleading-app-name" && p.config.enabled)
    );
}
