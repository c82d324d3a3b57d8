//! Webhooks: an alert change is POSTed as the alert's JSON, signed with HMAC-SHA256 when the
//! channel has a secret.

use std::time::Duration;

use aws_lc_rs::hmac;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use crate::Failure;
use crate::config::Webhook;

/// The header carrying the body's signature: `sha256=<lowercase hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "X-Skylight-Signature";
/// The header carrying the delivery's number (the same on every attempt: receivers can
/// de-duplicate with it).
pub const DELIVERY_HEADER: &str = "X-Skylight-Delivery";
/// Bytes of an error response kept in the delivery log.
const ERROR_BODY: usize = 200;

/// The signature header's value for a body: `sha256=` and the HMAC-SHA256 of the body under the
/// secret, in lowercase hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let mut out = String::from("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The HTTP client webhooks are sent with: no redirects (a webhook answers itself), no proxy
/// surprises beyond the environment's.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("skylight/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}

/// POSTs a body; any 2xx is success. Errors never carry the URL (it may hold a token) nor the
/// secret.
pub(crate) async fn post(
    http: &reqwest::Client,
    hook: &Webhook,
    delivery: i64,
    body: Vec<u8>,
) -> Result<(), Failure> {
    let mut req = http
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(DELIVERY_HEADER, delivery.to_string());
    if let Some(secret) = &hook.secret {
        req = req.header(SIGNATURE_HEADER, signature(secret.expose(), &body));
    }
    let mut resp = req.body(body).send().await.map_err(|e| Failure {
        error: format!("cannot POST: {}", chain(&e.without_url())),
        retry_after: None,
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut text = Vec::new();
    while text.len() < ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(c)) => text.extend_from_slice(&c),
            _ => break,
        }
    }
    text.truncate(ERROR_BODY);
    let text = String::from_utf8_lossy(&text);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let error = if status.is_redirection() {
        format!("HTTP {status}: redirects are not followed; configure the final URL")
    } else if text.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", text.trim())
    };
    Err(Failure { error, retry_after })
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
