//! Error bodies exactly as each Microsoft service shapes them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use crate::rng::guid;

/// A Management Activity API error: `{"error":{"code":"AF…","message":"…"}}`.
pub fn af(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut r = (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The Management API's answer to a missing, invalid or expired token (not AF-shaped).
pub fn unauthorized() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"Message": "Authorization has been denied for this request."})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// An identity-platform error with its AADSTS code, trace and correlation ids.
pub fn aadsts(
    now: chrono::DateTime<Utc>,
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
    n: u64,
) -> Response {
    let now = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace = guid(crate::rng::mix64(n), crate::rng::mix64(n ^ 1));
    let correlation = guid(crate::rng::mix64(n ^ 2), crate::rng::mix64(n ^ 3));
    let description = format!(
        "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}"
    );
    (
        status,
        Json(json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
    )
        .into_response()
}
