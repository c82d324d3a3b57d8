//! Helpers the black-box tests share: start `skylight` processes, configure a connector for a
//! simulated tenant.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod openapi;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_skylight");

/// A child process killed (SIGKILL) when dropped.
pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The API token `spawn_serve` configures (an administrator's).
pub const TOKEN: &str = "cli-test-token-0123456789";

/// A client that sends [`TOKEN`] as its bearer token.
pub fn api_client() -> reqwest::blocking::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
    );
    reqwest::blocking::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// Starts `skylight ARGS…` and reads its standard output until `url_in` finds the URL it
/// announces on a line.
pub fn spawn_announcing(
    args: &[&str],
    url_in: impl Fn(&str) -> Option<String>,
) -> (Killed, String) {
    spawn_announcing_with(args, &[], None, url_in)
}

/// [`spawn_announcing`] with environment variables, and the standard error written to a file.
pub fn spawn_announcing_with(
    args: &[&str],
    env: &[(&str, &str)],
    stderr: Option<&std::path::Path>,
    url_in: impl Fn(&str) -> Option<String>,
) -> (Killed, String) {
    let err = match stderr {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SKYLIGHT_API_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let url = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| url_in(l.trim()))
        .expect("the process announces its URL");
    (Killed(child), url)
}

/// Starts `skylight sim ARGS…` on a free port; returns it with its base URL.
pub fn spawn_sim_with(args: &[&str]) -> (Killed, String) {
    let mut all = vec!["sim", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    spawn_announcing(&all, |l| {
        l.strip_prefix("manage_url").map(|u| u.trim().to_string())
    })
}

/// Starts a simulator with a fixed clock and seed (so its truth is the same every run).
pub fn spawn_sim(args: &[&str]) -> (Killed, String) {
    let mut all = vec!["--now", "2026-11-20T12:00:00Z", "--seed", "3"];
    all.extend_from_slice(args);
    spawn_sim_with(&all)
}

/// Writes a config for the simulator's main app, with `extra` TOML appended; returns (config
/// path, data dir).
pub fn write_config_with(dir: &std::path::Path, url: &str, extra: &str) -> (String, String) {
    let t: serde_json::Value = reqwest::blocking::get(format!("{url}/_sim/tenant"))
        .unwrap()
        .json()
        .unwrap();
    std::fs::write(
        dir.join("secret.txt"),
        format!("{}\n", t["client_secret"].as_str().unwrap()),
    )
    .unwrap();
    let config = format!(
        "[[tenant]]\nname = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"secret.txt\"\nlogin_url = \"{url}\"\nmanage_url = \"{url}\"\ngraph_url = \"{url}\"\ncomponents = [\"activities\"]\n\n[collector]\nblob_concurrency = 4\n{extra}",
        t["tenant_id"].as_str().unwrap(),
        t["client_id"].as_str().unwrap()
    );
    let path = dir.join("skylight.toml");
    std::fs::write(&path, config).unwrap();
    (
        path.display().to_string(),
        dir.join("data").display().to_string(),
    )
}

/// [`write_config_with`] and nothing more.
pub fn write_config(dir: &std::path::Path, url: &str) -> (String, String) {
    write_config_with(dir, url, "")
}

/// Runs `skylight collect --once` to the end and returns what it printed.
pub fn run_collect(config: &str, data: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["collect", "--once", "--config", config, "--data-dir", data])
        .output()
        .unwrap()
}

/// Runs `skylight ARGS…`, expects success, and returns its standard output.
pub fn run_ok(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skylight {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Output of `--format json`, a JSON value a line.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .collect()
}

/// Starts `skylight collect --once`, kills it (SIGKILL) after `after`; returns whether it was
/// still running then (killed mid-way).
pub fn collect_killed_after(config: &str, data: &str, after: std::time::Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(["collect", "--once", "--config", config, "--data-dir", data])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

/// Starts `skylight serve --config CONFIG --data-dir DATA` on a free port with [`TOKEN`]
/// configured; returns it with the activities URL it announces.
pub fn spawn_serve(config: &str, data: &str) -> (Killed, String) {
    spawn_announcing_with(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config,
            "--data-dir",
            data,
        ],
        &[("SKYLIGHT_API_TOKEN", TOKEN)],
        None,
        |l| {
            l.strip_prefix("skylight API on ")
                .and_then(|r| r.split_whitespace().next())
                .map(String::from)
        },
    )
}

/// Reads the JSON list `key` at `url` (as `client`) until it holds at least `enough` items or
/// `secs` pass; returns what it last held.
pub fn poll_list(
    client: &reqwest::blocking::Client,
    url: &str,
    key: &str,
    enough: usize,
    secs: u64,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let page: serde_json::Value = client.get(url).send().unwrap().json().unwrap();
        let items = page[key].as_array().cloned().unwrap_or_default();
        if items.len() >= enough || std::time::Instant::now() > deadline {
            return items;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// A signed-in console session, as a browser holds it: the session cookie and the page's CSRF
/// token. Redirects are not followed, so that tests see them.
pub struct Console {
    /// `http://host:port`.
    pub base: String,
    /// The session cookie (`name=value`).
    pub cookie: String,
    /// The session's CSRF token (from the page's `csrf-token` meta tag).
    pub csrf: String,
    /// The HTTP client.
    pub http: reqwest::blocking::Client,
}

/// A client that does not follow redirects.
pub fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap()
}

/// The `value` (or `content`) of the tag with `name="NAME"` in a page.
pub fn html_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let key = ["value=\"", "content=\""]
        .into_iter()
        .find(|k| tag.contains(k))?;
    let v = &tag[tag.find(key)? + key.len()..];
    Some(v[..v.find('"')?].to_owned())
}

/// The `name=value` of a `Set-Cookie` header named `name`.
pub fn set_cookie(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|kv| kv.starts_with(&format!("{name}=")))
}

impl Console {
    /// Signs in through the sign-in form; panics unless it succeeds.
    pub fn sign_in(base: &str, username: &str, password: &str) -> Console {
        Console::try_sign_in(base, username, password)
            .unwrap_or_else(|status| panic!("{username} could not sign in: {status}"))
    }

    /// Signs in through the sign-in form; the status of a refusal.
    pub fn try_sign_in(base: &str, username: &str, password: &str) -> Result<Console, u16> {
        let http = no_redirects();
        let form = http.get(format!("{base}/login")).send().unwrap();
        let login_cookie = set_cookie(&form, "skylight_login").unwrap();
        let csrf = html_value(&form.text().unwrap(), "csrf").unwrap();
        let r = http
            .post(format!("{base}/login"))
            .header("Cookie", &login_cookie)
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/"),
            ])
            .send()
            .unwrap();
        if r.status().as_u16() != 303 {
            return Err(r.status().as_u16());
        }
        let cookie = set_cookie(&r, "skylight_session").unwrap();
        let home = http
            .get(format!("{base}/"))
            .header("Cookie", &cookie)
            .send()
            .unwrap();
        assert_eq!(home.status().as_u16(), 200);
        let csrf = html_value(&home.text().unwrap(), "csrf-token").unwrap();
        Ok(Console {
            base: base.to_owned(),
            cookie,
            csrf,
            http,
        })
    }

    /// A request with the session cookie.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
    }

    /// GETs a path: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self.request(reqwest::Method::GET, path).send().unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    /// POSTs a form with the session's CSRF token: (status, body).
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = fields.to_vec();
        all.push(("csrf", &self.csrf));
        let r = self
            .request(reqwest::Method::POST, path)
            .form(&all)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    }
}
