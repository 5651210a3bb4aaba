//! The `/_dev` endpoints: faults, counters, key rotation.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn add_fault(h: &Harness, fault: Value) {
    let body = h
        .expect(
            Method::POST,
            "/_dev/faults",
            None,
            Some(fault),
            StatusCode::CREATED,
        )
        .await;
    assert!(body["id"].is_string());
}

#[tokio::test]
async fn status_fault_with_retry_after_applies_count_times() {
    let h = Harness::start().await;
    add_fault(
        &h,
        json!({"path": "/api/.well-known/*", "status": 429, "retry_after": 7, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let res = h
            .send(Method::GET, &h.api("/.well-known/jwks.json"), None, None)
            .await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "7");
        let body: Value = res.json().await.unwrap();
        assert!(body["message"].is_string());
    }
    let body = h
        .expect(
            Method::GET,
            "/.well-known/jwks.json",
            None,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(body["keys"].is_array());

    // Method filter and 5xx.
    add_fault(
        &h,
        json!({"path": "/api/gateways*", "method": "POST", "status": 503}),
    )
    .await;
    h.expect(
        Method::GET,
        "/gateways",
        Some(ALICE_SANCTUM),
        None,
        StatusCode::OK,
    )
    .await;
    h.expect_error(
        Method::POST,
        "/gateways",
        Some(ALICE_SANCTUM),
        Some(json!({"code": "g-x"})),
        StatusCode::SERVICE_UNAVAILABLE,
        "",
    )
    .await;
    h.expect(
        Method::POST,
        "/gateways",
        Some(ALICE_SANCTUM),
        Some(json!({"code": "g-x"})),
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn latency_fault_delays_the_answer() {
    let h = Harness::start().await;
    add_fault(
        &h,
        json!({"path": "/api/.well-known/jwks.json", "latency_ms": 400}),
    )
    .await;
    let start = Instant::now();
    h.expect(
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        StatusCode::OK,
    )
    .await;
    assert!(start.elapsed() >= Duration::from_millis(400));
    let start = Instant::now();
    h.expect(
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        StatusCode::OK,
    )
    .await;
    assert!(start.elapsed() < Duration::from_millis(400));

    // A server that never answers: the client times out.
    add_fault(
        &h,
        json!({"path": "/api/.well-known/jwks.json", "latency_ms": 60000}),
    )
    .await;
    let err = h
        .http
        .get(h.api("/.well-known/jwks.json"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn drop_connection_fault_closes_the_socket_without_a_response() {
    let h = Harness::start().await;
    add_fault(
        &h,
        json!({"path": "/api/.well-known/jwks.json", "drop_connection": true}),
    )
    .await;
    let err = h
        .http
        .get(h.api("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err}");
    assert!(err.status().is_none());
    // Raw socket view: no HTTP bytes at all.
    add_fault(
        &h,
        json!({"path": "/api/.well-known/jwks.json", "drop_connection": true}),
    )
    .await;
    let addr = h.cloud.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(b"GET /api/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // EOF or ECONNRESET are both fine; what matters is that no byte of a response came.
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.is_empty(), "got {:?}", String::from_utf8_lossy(&buf));
    // Next request is served normally.
    h.expect(
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn malformed_body_fault_and_clearing_faults() {
    let h = Harness::start().await;
    add_fault(
        &h,
        json!({"path": "/api/.well-known/jwks.json", "malformed_body": true}),
    )
    .await;
    let res = h
        .send(Method::GET, &h.api("/.well-known/jwks.json"), None, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    add_fault(&h, json!({"path": "*", "status": 500, "count": 5})).await;
    h.expect(
        Method::DELETE,
        "/_dev/faults",
        None,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    h.expect(
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        StatusCode::OK,
    )
    .await;

    let body = h
        .expect(
            Method::POST,
            "/_dev/faults",
            None,
            Some(json!({"count": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(body["errors"]["path"].is_array());
    assert!(body["errors"]["count"].is_array());
}

#[tokio::test]
async fn counters_count_every_request_including_faulted_ones() {
    let h = Harness::start().await;
    let token = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    add_fault(
        &h,
        json!({"path": "/api/harmony/resources/resolve", "status": 503}),
    )
    .await;
    for _ in 0..3 {
        h.call(
            Method::GET,
            "/harmony/resources/resolve?ref=runbeam.radiology-dept.ingress.name.dicomweb",
            Some(&token),
            None,
        )
        .await;
    }
    let body = h
        .expect(Method::GET, "/_dev/counters", None, None, StatusCode::OK)
        .await;
    assert_eq!(
        body["counts"]["GET /api/harmony/resources/resolve"], 3,
        "{body}"
    );
    assert_eq!(body["counts"]["POST /api/harmony/authorize"], 1);
    h.expect(
        Method::DELETE,
        "/_dev/counters",
        None,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let (_, body) = h.call(Method::GET, "/_dev/counters", None, None).await;
    assert_eq!(body["counts"], json!({}));
}

#[tokio::test]
async fn key_rotation_keeps_the_previous_key() {
    let h = Harness::start().await;
    let old_jwt = h.user_jwt(ALICE).await;
    let old_kid = jsonwebtoken::decode_header(&old_jwt).unwrap().kid.unwrap();
    let body = h
        .expect(Method::POST, "/_dev/rotate-key", None, None, StatusCode::OK)
        .await;
    let new_kid = body["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let new_jwt = h.user_jwt(ALICE).await;
    assert_eq!(
        jsonwebtoken::decode_header(&new_jwt).unwrap().kid.unwrap(),
        new_kid
    );

    let (_, jwks) = h
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);

    // Both JWTs still verify against the JWKS and authenticate at the server.
    for (jwt, kid) in [(&old_jwt, &old_kid), (&new_jwt, &new_kid)] {
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == **kid)
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_components(
            key["n"].as_str().unwrap(),
            key["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_issuer(&[h.cloud.api_root()]);
        let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims;
        assert_eq!(claims["user"]["email"], ALICE);
        assert_eq!(claims["team"]["name"], "Radiology Department");
        assert_eq!(claims["sub"], "01JDWXXQKFBF5KZNWJ47TAN9ZT");
        for c in ["iat", "nbf", "exp", "jti"] {
            assert!(!claims[c].is_null(), "{c}");
        }
        h.expect(Method::GET, "/gateways", Some(jwt), None, StatusCode::OK)
            .await;
    }
    // After a second rotation the first key is gone.
    h.call(Method::POST, "/_dev/rotate-key", None, None).await;
    h.expect(
        Method::GET,
        "/gateways",
        Some(&old_jwt),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    h.expect(
        Method::GET,
        "/gateways",
        Some(&new_jwt),
        None,
        StatusCode::OK,
    )
    .await;

    h.expect(
        Method::POST,
        "/_dev/jwt",
        None,
        Some(json!({"email": "nobody@example.com"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn shutdown_is_graceful_and_drop_stops_the_server() {
    let h = Harness::start().await;
    let url = h.api("/.well-known/jwks.json");
    h.expect(
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        StatusCode::OK,
    )
    .await;
    let Harness { cloud, http } = h;
    cloud.shutdown().await;
    assert!(http.get(&url).send().await.is_err());

    let h = Harness::start().await;
    let url = h.api("/.well-known/jwks.json");
    let Harness { cloud, http } = h;
    drop(cloud);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(http.get(&url).send().await.is_err());
}
