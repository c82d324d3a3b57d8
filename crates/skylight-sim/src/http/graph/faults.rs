//! Throttling and faults: the `throttle` profile's token buckets per application and workload,
//! the `flaky` profile's server errors, and the faults tests arm through `/_sim/graph/faults`.

use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error_response;
use crate::graph::ops::err;
use crate::graph::{FaultRule, GraphState};
use crate::http::Sim;
use crate::rng::{guid, hash, hash_str, mix64};

/// The workload classes Graph throttles separately (contract §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Users, groups, roles, applications, grants.
    Identity,
    /// Sites and drives.
    Files,
    /// Sign-in logs.
    Reports,
    /// Identity Protection (429 without Retry-After).
    Protection,
}

/// Token buckets per application for each class, used with the `throttle` fault profile.
#[derive(Debug)]
pub struct Limits {
    identity: DefaultKeyedRateLimiter<String>,
    files: DefaultKeyedRateLimiter<String>,
    reports: DefaultKeyedRateLimiter<String>,
    protection: DefaultKeyedRateLimiter<String>,
}

impl Limits {
    /// Buckets when throttling is on. Lower than Microsoft's real figures so that tests and
    /// demos meet throttling without millions of requests; the shape (per app, per class,
    /// 1/s without Retry-After for Identity Protection, 5 per 10 s for reports) is Microsoft's.
    pub fn new(on: bool) -> Option<Limits> {
        let q = |per_sec: u32, burst: u32| {
            Quota::per_second(
                std::num::NonZeroU32::new(per_sec).unwrap_or(std::num::NonZeroU32::MIN),
            )
            .allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN))
        };
        let reports = Quota::with_period(std::time::Duration::from_secs(2))
            .map(|x| {
                x.allow_burst(std::num::NonZeroU32::new(5).unwrap_or(std::num::NonZeroU32::MIN))
            })
            .unwrap_or_else(|| q(1, 5));
        on.then(|| Limits {
            identity: RateLimiter::keyed(q(20, 40)),
            files: RateLimiter::keyed(q(20, 40)),
            reports: RateLimiter::keyed(reports),
            protection: RateLimiter::keyed(q(1, 1)),
        })
    }

    /// `None` when the request may go, or the seconds to wait.
    pub(super) fn check(&self, class: Class, app: &str) -> Option<f64> {
        let l = match class {
            Class::Identity => &self.identity,
            Class::Files => &self.files,
            Class::Reports => &self.reports,
            Class::Protection => &self.protection,
        };
        l.check_key(&app.to_ascii_lowercase()).err().map(|nu| {
            nu.wait_time_from(DefaultClock::default().now())
                .as_secs_f64()
                .max(0.05)
        })
    }
}

/// Who and when a fault answers: for the error body and the throttle headers.
pub(super) struct FaultCtx<'a> {
    pub(super) now: DateTime<Utc>,
    pub(super) app: &'a str,
    pub(super) tenant: &'a str,
    pub(super) request_id: &'a str,
    pub(super) client_request_id: &'a str,
}

/// A `429`/`5xx` in Graph's shape, with `Retry-After` and throttle headers where they belong.
pub(super) fn fault_response(
    f: &FaultCtx<'_>,
    status: u16,
    retry_after: Option<&str>,
    files: bool,
) -> Response {
    let (code, message) = match status {
        429 if files => ("activityLimitReached", "The request has been throttled"),
        429 => ("TooManyRequests", "Please retry after"),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry after the time in Retry-After.",
        ),
        504 => (
            "gatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
        502 => ("badGateway", "The gateway received an invalid response."),
        _ => ("generalException", "An unspecified error has occurred."),
    };
    let e = err(status, code, message);
    let mut r = error_response(f.now, &e, f.request_id, f.client_request_id);
    let h = r.headers_mut();
    if let Some(ra) = retry_after.filter(|v| !v.is_empty())
        && let Ok(v) = HeaderValue::from_str(ra)
    {
        h.insert(header::RETRY_AFTER, v);
    }
    if status == 429 {
        let scope = format!("Tenant_Application/ReadWrite/{}/{}", f.app, f.tenant);
        if let Ok(v) = HeaderValue::from_str(&scope) {
            h.insert("x-ms-throttle-scope", v);
        }
        h.insert(
            "x-ms-throttle-information",
            HeaderValue::from_static("CommonThrottle/ResourceUnitLimitExceeded"),
        );
        h.insert(
            "x-ms-throttle-limit-percentage",
            HeaderValue::from_static("1.8"),
        );
    }
    r
}

/// The `flaky` profile's failures on Graph paths (the middleware picks when).
pub fn flaky_error(sim: &Sim, roll: u32, n: u64) -> Response {
    let rid = guid(mix64(n), mix64(n ^ 0x51));
    let f = FaultCtx {
        now: sim.clock.now(),
        app: "",
        tenant: &sim.tenant.tenant_id,
        request_id: &rid,
        client_request_id: &rid,
    };
    match roll {
        0..=29 => fault_response(&f, 503, Some("1"), false),
        30..=39 => fault_response(&f, 504, None, false),
        _ => fault_response(&f, 500, None, false),
    }
}

/// Picks the armed fault that answers this request, counting it down.
pub(super) fn pick_fault(
    st: &mut GraphState,
    method: &Method,
    path: &str,
    n: u64,
    seed: u64,
) -> Option<FaultRule> {
    let mut chosen = None;
    for (i, rule) in st.faults.iter_mut().enumerate() {
        if rule.count == Some(0) {
            continue;
        }
        if rule
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method.as_str()))
        {
            continue;
        }
        if rule
            .path_contains
            .as_deref()
            .is_some_and(|p| !path.contains(p))
        {
            continue;
        }
        if let Some(p) = rule.probability {
            let roll =
                (hash(&[seed, hash_str("graph-fault"), n, i as u64]) % 1_000_000) as f64 / 1e6;
            if roll >= p {
                continue;
            }
        }
        if let Some(c) = rule.count.as_mut() {
            *c -= 1;
        }
        chosen = Some(rule.clone());
        break;
    }
    st.faults.retain(|r| r.count != Some(0));
    chosen
}

pub(super) fn class_of(segs: &[String]) -> Class {
    let first = segs.first().map(String::as_str).unwrap_or_default();
    let second = segs.get(2).map(String::as_str).unwrap_or_default();
    match first {
        "identityProtection" => Class::Protection,
        "auditLogs" => Class::Reports,
        "sites" | "drives" => Class::Files,
        "users" | "groups" if second == "drive" || second == "drives" => Class::Files,
        _ => Class::Identity,
    }
}
