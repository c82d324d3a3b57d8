//! Signing in to the console on the real binary: rate limits per name, the session cookie's flags,
//! the security headers, and password resets from the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reqwest::Method;

mod common;

use common::{Console, no_redirects, run_ok};

#[test]
fn sign_in_is_rate_limited_and_cookies_and_headers_are_strict() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct-horse-battery").unwrap();
    run_ok(&[
        "admin",
        "create",
        "--username",
        "bob",
        "--role",
        "analyst",
        "--password-file",
        &pw.display().to_string(),
        "--data-dir",
        &data,
    ]);
    let (_serve, base) = common::spawn_announcing(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &data],
        |l| {
            l.strip_prefix("skylight console on ")
                .and_then(|r| r.split_whitespace().next())
                .map(|u| u.trim_end_matches('/').to_owned())
        },
    );
    for _ in 0..5 {
        assert_eq!(
            Console::try_sign_in(&base, "bob", "wrong-password-1").err(),
            Some(401)
        );
    }
    // The sixth try within a minute is refused before the password is even checked.
    assert_eq!(
        Console::try_sign_in(&base, "bob", "correct-horse-battery").err(),
        Some(429)
    );
    assert_eq!(
        Console::try_sign_in(&base, "BOB", "correct-horse-battery").err(),
        Some(429)
    );
    // The session cookie and the headers.
    let http = no_redirects();
    let form = http.get(format!("{base}/login")).send().unwrap();
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(form.headers()["x-frame-options"], "DENY");
    assert_eq!(form.headers()["referrer-policy"], "same-origin");
    let page = form.text().unwrap();
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "no inline code"
    );
    let run = run_ok(&[
        "admin",
        "reset-password",
        "--username",
        "bob",
        "--data-dir",
        &data,
    ]);
    let new_pw = run.split_whitespace().last().unwrap().to_owned();
    // A reset does not lift the rate limit on the name; another account signs in meanwhile.
    run_ok(&[
        "admin",
        "create",
        "--username",
        "carol",
        "--role",
        "read-only",
        "--password-file",
        &pw.display().to_string(),
        "--data-dir",
        &data,
    ]);
    let carol = Console::sign_in(&base, "carol", "correct-horse-battery");
    let r = carol.request(Method::GET, "/").send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let login = http.get(format!("{base}/login")).send().unwrap();
    let cookie = common::set_cookie(&login, "skylight_login").unwrap();
    let csrf = common::html_value(&login.text().unwrap(), "csrf").unwrap();
    let r = http
        .post(format!("{base}/login"))
        .header("Cookie", &cookie)
        .form(&[
            ("username", "carol"),
            ("password", "correct-horse-battery"),
            ("csrf", &csrf),
        ])
        .send()
        .unwrap();
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("skylight_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP on loopback: no Secure flag"
    );
    assert!(new_pw.len() >= 20);
}
