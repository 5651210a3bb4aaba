//! Reliability over real HTTP: every error kind of docs/spec.md §3.4 produced by the devcloud's fault
//! injection, retries, `Retry-After`, the total deadline and the body cap.

use std::time::{Duration, Instant};

use runbeam_core::client::{AuthorizeRequest, RetryPolicy};
use runbeam_core::{ErrorKind, Reference, Secret};
use runbeam_e2e::*;
use serde_json::json;

const BASE_URL_PATH: &str = "/api/harmony/base-url";
const RESOLVE_PATH: &str = "/api/harmony/resources/resolve";
const MESH_TOKEN_PATH: &str = "/api/harmony/mesh/token";

fn dicomweb() -> Reference {
    Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb").unwrap()
}

#[tokio::test]
async fn every_http_error_kind_from_injected_faults() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let table = [
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::PermissionDenied),
        (404, ErrorKind::NotFound),
        (409, ErrorKind::Conflict),
        (422, ErrorKind::Validation),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::ServerError),
        (503, ErrorKind::ServerError),
    ];
    for (status, kind) in table {
        cloud.dev_delete("faults").await;
        cloud
            .fault(json!({"path": BASE_URL_PATH, "status": status, "count": 10}))
            .await;
        let err = gateway.base_url().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.request(), Some(("GET", "/harmony/base-url")));
        assert!(
            err.message().contains("GET /harmony/base-url") || status == 404,
            "{err}"
        );
        if status == 422 {
            assert!(err.field_errors().contains_key("fault"), "{err:?}");
        }
        if status == 403 {
            assert!(err.server_message().is_some());
        }
    }
    cloud.dev_delete("faults").await;
}

#[tokio::test]
async fn get_is_retried_and_post_is_not() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;

    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 503, "count": 1}))
        .await;
    gateway.resolve(&dicomweb()).await.unwrap();
    let gets = cloud.count(&format!("GET {RESOLVE_PATH}")).await;
    assert!((2..=3).contains(&gets), "GET served {gets} times");

    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": MESH_TOKEN_PATH, "method": "POST", "status": 503, "count": 1}))
        .await;
    let err = gateway
        .mesh_token(MESH, &format!("{DICOM_URL}/studies"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert_eq!(cloud.count(&format!("POST {MESH_TOKEN_PATH}")).await, 1);
    // The fault is used up: the same call now succeeds.
    gateway
        .mesh_token(MESH, &format!("{DICOM_URL}/studies"))
        .await
        .unwrap();

    // A persistent 5xx is given up after max_attempts.
    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 500, "count": 50}))
        .await;
    let err = gateway.resolve(&dicomweb()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(cloud.count(&format!("GET {RESOLVE_PATH}")).await, 3);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 429, "retry_after": 1, "count": 1}))
        .await;
    let start = Instant::now();
    gateway.resolve(&dicomweb()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(cloud.count(&format!("GET {RESOLVE_PATH}")).await, 2);
}

#[tokio::test]
async fn rate_limit_without_retries_keeps_retry_after() {
    let cloud = Cloud::start().await;
    let user = cloud
        .builder()
        .retry(RetryPolicy::none())
        .token(Secret::new(BOB_SANCTUM.into()))
        .build()
        .unwrap();
    let granted = user
        .authorize(AuthorizeRequest::new(ANALYTICS_GW))
        .await
        .unwrap();
    let gateway = user.with_token(granted.machine_token);
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 429, "retry_after": 7, "count": 1}))
        .await;
    let err = gateway.resolve(&dicomweb()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.status(), Some(429));
}

#[tokio::test]
async fn the_deadline_is_respected_with_a_slow_server() {
    let cloud = Cloud::start().await;
    let user = cloud
        .builder()
        .deadline(Duration::from_millis(500))
        .token(Secret::new(BOB_SANCTUM.into()))
        .build()
        .unwrap();
    let granted = user
        .authorize(AuthorizeRequest::new(ANALYTICS_GW))
        .await
        .unwrap();
    let gateway = user.with_token(granted.machine_token);
    cloud
        .fault(json!({"path": RESOLVE_PATH, "latency_ms": 3000, "count": 5}))
        .await;
    let start = Instant::now();
    let err = gateway.resolve(&dicomweb()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("deadline"), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "drop_connection": true, "count": 10}))
        .await;
    let err = gateway.resolve(&dicomweb()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(cloud.count(&format!("GET {RESOLVE_PATH}")).await, 3);

    // One dropped connection is recovered by a retry.
    cloud.dev_delete("faults").await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "drop_connection": true, "count": 1}))
        .await;
    gateway.resolve(&dicomweb()).await.unwrap();
}

#[tokio::test]
async fn malformed_bodies_are_protocol_errors() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "malformed_body": true, "count": 1}))
        .await;
    let err = gateway.resolve(&dicomweb()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert_eq!(err.attempts(), Some(1));
}

#[tokio::test]
async fn the_body_cap_is_enforced() {
    let cloud = Cloud::start().await;
    let tiny = cloud.builder().max_body_bytes(64).build().unwrap();
    let err = tiny.jwks().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        err.message().contains("exceeds the limit of 64 bytes"),
        "{err}"
    );
    let roomy = cloud.builder().build().unwrap();
    roomy.jwks().await.unwrap();
}
