//! Faults, throttling and the write log.

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_carry_retry_after_and_nothing_is_applied_twice() {
    let g = boot_graph(40).await;
    g.sim_post("/_sim/graph/faults", json!({"rules": [{"status": 429, "count": 2, "retry_after": "2.5", "path_contains": "/users"}]})).await;
    for _ in 0..2 {
        let r = g.get("/users").await;
        assert_graph_error(&r, 429, "TooManyRequests");
        assert_eq!(r.header("retry-after").as_deref(), Some("2.5"));
        assert!(
            r.header("x-ms-throttle-scope").is_some()
                && r.header("x-ms-throttle-information").is_some()
        );
    }
    assert_eq!(g.get("/users").await.status, 200, "the fault ran out");
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 503, "count": 1, "retry_after": "3"}]}),
    )
    .await;
    let r = g.get("/groups").await;
    assert_graph_error(&r, 503, "serviceNotAvailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 429, "count": 1, "path_contains": "/drives"}]}),
    )
    .await;
    let state = g.state().await;
    let did = state["drives"][0]["id"].as_str().unwrap();
    assert_graph_error(
        &g.get(&format!("/drives/{did}/root/children")).await,
        429,
        "activityLimitReached",
    );

    // A write applied and then answered 500: the retry finds nothing left to do.
    let grant = state["oauth2PermissionGrants"][0]["id"].as_str().unwrap();
    g.sim_post(
        "/_sim/graph/faults",
        json!({"rules": [{"status": 500, "count": 1, "method": "DELETE", "after_apply": true}]}),
    )
    .await;
    assert_graph_error(
        &g.delete(&format!("/oauth2PermissionGrants/{grant}")).await,
        500,
        "generalException",
    );
    assert_graph_error(
        &g.delete(&format!("/oauth2PermissionGrants/{grant}")).await,
        404,
        "Request_ResourceNotFound",
    );
    let writes = g.writes().await;
    assert_eq!(writes.len(), 2);
    assert_eq!(
        (writes[0]["status"].as_u64(), writes[0]["applied"].as_bool()),
        (Some(500), Some(true))
    );
    assert_eq!(
        (writes[1]["status"].as_u64(), writes[1]["applied"].as_bool()),
        (Some(404), Some(false))
    );
    assert_eq!(g.audit().await.len(), 1, "one change, one record");
    let cleared = g
        .sim
        .http
        .delete(format!("{}/_sim/graph/faults", g.sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_throttle_profile_limits_each_app_and_identity_protection_sends_no_retry_after() {
    let sim = boot(skylight_sim::SimConfig {
        faults: "throttle".parse().unwrap(),
        ..small(30, 1)
    })
    .await;
    let t = token(
        &sim,
        sim.tenant["client_id"].as_str().unwrap(),
        sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    let g = G { sim, token: t };
    let mut throttled = None;
    for _ in 0..200 {
        let r = g.get("/users?$top=1&$select=id").await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("a burst is throttled");
    let ra: f64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra < 5.0, "{ra}");
    let mut no_retry_after = false;
    for _ in 0..5 {
        let r = g.get("/identityProtection/riskyUsers").await;
        if r.status == 429 {
            no_retry_after = r.header("retry-after").is_none();
            break;
        }
    }
    assert!(
        no_retry_after,
        "Identity Protection's 429 has no Retry-After"
    );
}
