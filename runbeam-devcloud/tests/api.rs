//! The Runbeam Cloud API of the devcloud, over real HTTP.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn authorize_with_sanctum_token() {
    let h = Harness::start().await;
    let body = h.authorize(ALICE_SANCTUM, "radiology-gw-1").await;
    let token = body["machine_token"].as_str().unwrap();
    assert!(token.len() >= 43 && !token.contains('.') && !token.contains('|'));
    assert_eq!(body["expires_in"], 2_592_000);
    let expires_at = body["expires_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(expires_at, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
    assert_eq!(body["gateway"]["code"], "radiology-gw-1");
    assert_eq!(body["gateway"]["id"], "01JDWA7Z3DJ8FSSZ5AWSH8VHTP");
    assert_eq!(body["gateway"]["authorized_by"]["email"], ALICE);
    assert_eq!(body["gateway"]["authorized_by"]["name"], "Alice Reyes");
    assert!(!body["abilities"].as_array().unwrap().is_empty());

    let base = h
        .expect(
            Method::GET,
            "/harmony/base-url",
            Some(token),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(base["base_url"], h.cloud.api_root());
}

#[tokio::test]
async fn authorize_with_dev_jwt_creates_new_gateways() {
    let h = Harness::start().await;
    let jwt = h.user_jwt(BOB).await;
    assert_eq!(jwt.split('.').count(), 3);
    let body = h.authorize(&jwt, "analytics-gw-1").await;
    assert_eq!(body["gateway"]["authorized_by"]["name"], "Bob Okafor");

    // A new code creates a gateway in the caller's team.
    let body = h.authorize(&jwt, "analytics-gw-new").await;
    let id = body["gateway"]["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 26);
    let gw = h
        .expect(
            Method::GET,
            &format!("/gateways/{id}"),
            Some(&jwt),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(gw["data"]["code"], "analytics-gw-new");
    assert_eq!(gw["data"]["team_id"], "01JDWS3E28JT97KB6CQ643DZVM");
}

#[tokio::test]
async fn authorize_refuses_another_teams_gateway_and_a_mismatched_token() {
    let h = Harness::start().await;
    let body = h
        .expect_error(
            Method::POST,
            "/harmony/authorize",
            Some(ALICE_SANCTUM),
            Some(json!({"token": ALICE_SANCTUM, "gateway_code": "analytics-gw-1"})),
            StatusCode::FORBIDDEN,
            "another team",
        )
        .await;
    assert!(body["error"].is_string());

    let body = h
        .expect_error(
            Method::POST,
            "/harmony/authorize",
            Some(ALICE_SANCTUM),
            Some(json!({"token": BOB_SANCTUM})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        )
        .await;
    assert!(body["errors"]["token"].is_array(), "{body}");
    assert!(body["errors"]["gateway_code"].is_array(), "{body}");
}

#[tokio::test]
async fn bearer_kinds_are_enforced() {
    let h = Harness::start().await;
    let machine = h.machine_token(ALICE_SANCTUM, "radiology-gw-1").await;
    // No token, bad tokens.
    h.expect_error(
        Method::GET,
        "/gateways",
        None,
        None,
        StatusCode::UNAUTHORIZED,
        "",
    )
    .await;
    h.expect(
        Method::GET,
        "/gateways",
        Some("9|nope"),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    h.expect(
        Method::GET,
        "/gateways",
        Some("a.b.c"),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A machine token on a user endpoint and a user token on a machine endpoint.
    h.expect(
        Method::GET,
        "/gateways",
        Some(&machine),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    h.expect(
        Method::GET,
        "/harmony/base-url",
        Some(ALICE_SANCTUM),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let jwt = h.user_jwt(ALICE).await;
    h.expect(
        Method::GET,
        "/harmony/resources/resolve?ref=runbeam.id.x",
        Some(&jwt),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // An expired user JWT.
    let (_, body) = h
        .call(
            Method::POST,
            "/_dev/jwt",
            None,
            Some(json!({"email": ALICE, "ttl_secs": -5})),
        )
        .await;
    let expired = body["token"].as_str().unwrap();
    h.expect(
        Method::GET,
        "/gateways",
        Some(expired),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn revoke_invalidates_every_machine_token_of_the_gateway() {
    let h = Harness::start().await;
    let first = h.machine_token(ALICE_SANCTUM, "radiology-gw-1").await;
    let second = h.machine_token(ALICE_SANCTUM, "radiology-gw-1").await;
    let other = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    for t in [&first, &second] {
        h.expect(
            Method::GET,
            "/harmony/base-url",
            Some(t),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let body = h
        .expect(
            Method::POST,
            "/harmony/revoke",
            Some(ALICE_SANCTUM),
            Some(json!({"token": ALICE_SANCTUM, "gateway_code": "radiology-gw-1"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["success"], true);
    for t in [&first, &second] {
        h.expect_error(
            Method::GET,
            "/harmony/base-url",
            Some(t),
            None,
            StatusCode::UNAUTHORIZED,
            "",
        )
        .await;
    }
    h.expect(
        Method::GET,
        "/harmony/base-url",
        Some(&other),
        None,
        StatusCode::OK,
    )
    .await;
    // Revoking another team's gateway is refused.
    h.expect(
        Method::POST,
        "/harmony/revoke",
        Some(ALICE_SANCTUM),
        Some(json!({"token": ALICE_SANCTUM, "gateway_code": "analytics-gw-1"})),
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn machine_tokens_really_expire() {
    let h = Harness::start().await;
    let body = h
        .expect(
            Method::POST,
            "/_dev/machine-token-lifetime",
            None,
            Some(json!({"secs": 1})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["secs"], 1);
    let body = h.authorize(ALICE_SANCTUM, "radiology-gw-1").await;
    assert_eq!(body["expires_in"], 1);
    let token = body["machine_token"].as_str().unwrap();
    h.expect(
        Method::GET,
        "/harmony/base-url",
        Some(token),
        None,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    h.expect_error(
        Method::GET,
        "/harmony/base-url",
        Some(token),
        None,
        StatusCode::UNAUTHORIZED,
        "expired",
    )
    .await;
}

#[tokio::test]
async fn resolve_by_name_and_by_id() {
    let h = Harness::start().await;
    let token = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    let resolve = |r: &str, status: StatusCode| {
        let path = format!(
            "/harmony/resources/resolve?ref={}",
            percent_encoding::utf8_percent_encode(r, percent_encoding::NON_ALPHANUMERIC)
        );
        let h = &h;
        let token = token.clone();
        async move {
            h.expect(Method::GET, &path, Some(&token), None, status)
                .await
        }
    };
    let body = resolve(
        "runbeam.radiology-dept.ingress.name.dicomweb",
        StatusCode::OK,
    )
    .await;
    let data = &body["data"];
    assert_eq!(data["type"], "ingress");
    assert_eq!(data["id"], DICOMWEB_ID);
    assert_eq!(data["name"], "dicomweb");
    assert_eq!(data["team_id"], RADIOLOGY_TEAM_ID);
    assert_eq!(data["enabled"], true);
    assert_eq!(data["urls"], json!(["https://dicom.radiology.example.com"]));
    assert_eq!(data["protocol"], "http3");
    assert_eq!(data["mode"], "mesh");
    assert_eq!(data["mesh_id"], MESH_ID);
    assert_eq!(data["gateway_id"], "01JDWA7Z3DJ8FSSZ5AWSH8VHTP");
    assert_eq!(data["pipeline_id"], "01JDWZP11HYGCPWPQ5E6EYCNDY");
    assert_eq!(body["meta"]["provider"], "runbeam");
    assert!(body["meta"]["resolved_at"].is_string());

    for r in [
        format!("runbeam.id.{DICOMWEB_ID}"),
        format!("runbeam.radiology-dept.id.{DICOMWEB_ID}"),
        format!("runbeam.radiology-dept.ingress.id.{DICOMWEB_ID}"),
        "runbeam.radiology-dept.INGRESS.name.dicomweb".to_owned(),
    ] {
        let body = resolve(&r, StatusCode::OK).await;
        assert_eq!(body["data"]["id"], DICOMWEB_ID, "{r}");
    }
    let body = resolve(
        "runbeam.ai-analytics.egress.name.imaging-out",
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"]["type"], "egress");
    let body = resolve(
        "runbeam.radiology-dept.mesh.name.imaging-integration",
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"]["id"], MESH_ID);

    for r in [
        "runbeam.radiology-dept.ingress.name.nope",
        "runbeam.ai-analytics.ingress.name.dicomweb",
        "runbeam.radiology-dept.egress.name.dicomweb",
        "runbeam.nope.ingress.name.dicomweb",
        "other.radiology-dept.ingress.name.dicomweb",
        "dicomweb",
    ] {
        let body = resolve(r, StatusCode::NOT_FOUND).await;
        assert_eq!(body["message"], format!("Resource not found: {r}"));
    }
    let body = resolve(
        "runbeam.acme.widget.name.api",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("segment 2"),
        "{body}"
    );
    assert!(body["errors"]["ref"].is_array());
    h.expect(
        Method::GET,
        "/harmony/resources/resolve",
        Some(&token),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn jwks_key(h: &Harness, kid: &str) -> jsonwebtoken::DecodingKey {
    let jwks = h
        .expect(
            Method::GET,
            "/.well-known/jwks.json",
            None,
            None,
            StatusCode::OK,
        )
        .await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in {jwks}"));
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn mesh_token_is_issued_and_verifies_against_the_jwks() {
    let h = Harness::start().await;
    let token = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    let dest = "https://dicom.radiology.example.com/studies/1.2.3";
    let body = h
        .expect(
            Method::POST,
            "/harmony/mesh/token",
            Some(&token),
            Some(json!({"mesh_id": MESH_ID, "destination_url": dest})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["mesh_id"], MESH_ID);
    let jwt = body["token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let kid = header.kid.unwrap();
    let key = jwks_key(&h, &kid).await;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[h.cloud.api_root()]);
    validation.set_audience(&[format!("mesh:{MESH_ID}")]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "gateway:01JDWRE95B9EE0ZBGJ09TQM83X");
    assert_eq!(claims["mesh_id"], MESH_ID);
    assert_eq!(claims["dest_url"], dest);
    assert_eq!(claims["source_team"], "ai-analytics");
    assert!(claims["jti"].is_string());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 300);
    let expires_at = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_at.unix_timestamp(), exp);

    // The mesh name works where the gateway configuration has no mesh id (SPEC §2.1).
    let body = h
        .expect(
            Method::POST,
            "/harmony/mesh/token",
            Some(&token),
            Some(json!({"mesh_id": "imaging-integration", "destination_url": "https://dicom.radiology.example.com"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["mesh_id"], "imaging-integration");
}

#[tokio::test]
async fn mesh_token_refused_by_each_rule() {
    let h = Harness::start().await;
    // Rule 1: radiology-dept has an ingress but no egress in the mesh.
    let radiology = h.machine_token(ALICE_SANCTUM, "radiology-gw-1").await;
    h.expect_error(
        Method::POST,
        "/harmony/mesh/token",
        Some(&radiology),
        Some(
            json!({"mesh_id": MESH_ID, "destination_url": "https://dicom.radiology.example.com/x"}),
        ),
        StatusCode::FORBIDDEN,
        "Rule 1",
    )
    .await;

    // Rule 2: the destination is not under an ingress URL of the mesh.
    let analytics = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    for dest in [
        "https://evil.example.com/studies",
        "http://dicom.radiology.example.com/studies",
        "https://dicom.radiology.example.com:8443/studies",
        "https://inference.analytics.example.com/infer",
    ] {
        h.expect_error(
            Method::POST,
            "/harmony/mesh/token",
            Some(&analytics),
            Some(json!({"mesh_id": MESH_ID, "destination_url": dest})),
            StatusCode::FORBIDDEN,
            "Rule 2",
        )
        .await;
    }
    // Unknown mesh, missing fields.
    h.expect(
        Method::POST,
        "/harmony/mesh/token",
        Some(&analytics),
        Some(json!({"mesh_id": "nope", "destination_url": "https://dicom.radiology.example.com"})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let body = h
        .expect(
            Method::POST,
            "/harmony/mesh/token",
            Some(&analytics),
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(body["errors"]["mesh_id"].is_array());
    assert!(body["errors"]["destination_url"].is_array());
}

#[tokio::test]
async fn collections_crud_and_pagination() {
    let h = Harness::start().await;
    let alice = h.user_jwt(ALICE).await;
    // Seeded: radiology-dept has 2 services.
    let body = h
        .expect(Method::GET, "/services", Some(&alice), None, StatusCode::OK)
        .await;
    assert_eq!(body["meta"]["total"], 2);
    assert_eq!(body["meta"]["per_page"], 15);
    for i in 0..21 {
        let body = h
            .expect(
                Method::POST,
                "/services",
                Some(&alice),
                Some(json!({"name": format!("svc-{i:02}"), "url": "https://svc.example.com"})),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(body["data"]["team_id"], RADIOLOGY_TEAM_ID);
    }
    // 23 services, 5 per page: 5 pages, the last with 3.
    let mut url = Some(h.api("/services?per_page=5"));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let res = h.send(Method::GET, &u, Some(&alice), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        pages += 1;
        let meta = &body["meta"];
        assert_eq!(meta["current_page"], pages);
        assert_eq!(meta["last_page"], 5);
        assert_eq!(meta["total"], 23);
        assert_eq!(meta["per_page"], 5);
        assert_eq!(meta["path"], h.api("/services"));
        assert_eq!(meta["from"], (pages - 1) * 5 + 1);
        assert_eq!(body["links"]["first"], h.api("/services?page=1&per_page=5"));
        assert_eq!(body["links"]["last"], h.api("/services?page=5&per_page=5"));
        if pages == 1 {
            assert_eq!(body["links"]["prev"], Value::Null);
        } else {
            assert!(
                body["links"]["prev"]
                    .as_str()
                    .unwrap()
                    .starts_with("http://")
            );
        }
        for item in body["data"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        url = body["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 5);
    seen.dedup();
    assert_eq!(seen.len(), 23);
    // Past the end: empty page, still 200.
    let body = h
        .expect(
            Method::GET,
            "/services?page=9&per_page=5",
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["data"], json!([]));

    // Another team does not see them.
    let (_, body) = h
        .call(Method::GET, "/services", Some(BOB_SANCTUM), None)
        .await;
    assert_eq!(body["meta"]["total"], 1);

    // Get, update, delete.
    let id = seen[5].clone();
    let path = format!("/services/{id}");
    let body = h
        .expect(Method::GET, &path, Some(&alice), None, StatusCode::OK)
        .await;
    assert_eq!(body["data"]["id"], id);
    h.expect(
        Method::GET,
        &path,
        Some(BOB_SANCTUM),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let body = h
        .expect(
            Method::PUT,
            &path,
            Some(&alice),
            Some(json!({"description": "updated", "enabled": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["data"]["description"], "updated");
    assert_eq!(body["data"]["enabled"], false);
    h.expect(
        Method::DELETE,
        &path,
        Some(&alice),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let body = h
        .expect(
            Method::GET,
            &path,
            Some(&alice),
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(
        body["message"],
        format!("Resource not found: services/{id}")
    );

    // Conflicts: duplicate name, deleting something still referenced.
    h.expect_error(
        Method::POST,
        "/services",
        Some(&alice),
        Some(json!({"name": "pacs"})),
        StatusCode::CONFLICT,
        "",
    )
    .await;
    h.expect(
        Method::DELETE,
        &format!("/meshes/{MESH_ID}"),
        Some(&alice),
        None,
        StatusCode::CONFLICT,
    )
    .await;

    // Every collection lists.
    for c in [
        "gateways",
        "services",
        "endpoints",
        "backends",
        "pipelines",
        "meshes",
        "ingresses",
        "egresses",
    ] {
        let body = h
            .expect(
                Method::GET,
                &format!("/{c}"),
                Some(ALICE_SANCTUM),
                None,
                StatusCode::OK,
            )
            .await;
        assert!(body["meta"]["total"].as_u64().unwrap() >= 1, "{c}: {body}");
    }
}

#[tokio::test]
async fn validation_errors_are_422_with_fields() {
    let h = Harness::start().await;
    let body = h
        .expect_error(
            Method::POST,
            "/ingresses",
            Some(ALICE_SANCTUM),
            Some(json!({"name": "Bad Name", "protocol": "ftp", "urls": ["not a url"], "mesh_id": "nope"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "more error",
        )
        .await;
    let errors = body["errors"].as_object().unwrap();
    for field in ["name", "protocol", "urls.0", "mesh_id"] {
        assert!(errors.contains_key(field), "{field}: {body}");
    }
    let body = h
        .expect(
            Method::POST,
            "/pipelines",
            Some(ALICE_SANCTUM),
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(body["errors"]["name"].is_array());
    for q in ["page=0", "page=x", "per_page=101", "per_page=0"] {
        let body = h
            .expect(
                Method::GET,
                &format!("/gateways?{q}"),
                Some(ALICE_SANCTUM),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(body["errors"].is_object(), "{q}: {body}");
    }
    h.expect(
        Method::GET,
        "/gateways?per_page=100",
        Some(ALICE_SANCTUM),
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn malformed_oversized_and_unknown_requests() {
    let h = Harness::start().await;
    let res = h
        .http
        .post(h.api("/services"))
        .bearer_auth(ALICE_SANCTUM)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Malformed JSON"));

    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let res = h
        .http
        .post(h.api("/services"))
        .bearer_auth(ALICE_SANCTUM)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    h.expect_error(
        Method::GET,
        "/no/such/route",
        Some(ALICE_SANCTUM),
        None,
        StatusCode::NOT_FOUND,
        "",
    )
    .await;
    h.expect_error(
        Method::DELETE,
        "/harmony/authorize",
        Some(ALICE_SANCTUM),
        None,
        StatusCode::METHOD_NOT_ALLOWED,
        "",
    )
    .await;
}

#[tokio::test]
async fn change_feed_and_config_updates() {
    let h = Harness::start().await;
    let machine = h.machine_token(ALICE_SANCTUM, "radiology-gw-1").await;
    let (_, body) = h
        .call(Method::GET, "/harmony/changes", Some(&machine), None)
        .await;
    assert_eq!(body["meta"]["total"], 0);
    // A user edits a pipeline of the gateway: a change appears in its feed.
    h.expect(
        Method::PUT,
        "/pipelines/01JDWZP11HYGCPWPQ5E6EYCNDY",
        Some(ALICE_SANCTUM),
        Some(json!({"description": "v2"})),
        StatusCode::OK,
    )
    .await;
    let body = h
        .expect(
            Method::GET,
            "/harmony/changes",
            Some(&machine),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    let change = body["data"][0].clone();
    assert_eq!(change["type"], "pipeline");
    assert_eq!(change["action"], "updated");
    let id = change["id"].as_str().unwrap();
    let body = h
        .expect(
            Method::GET,
            "/harmony/changes/01JDWA7Z3DJ8FSSZ5AWSH8VHTP",
            Some(&machine),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["meta"]["total"], 1);
    h.expect(
        Method::GET,
        "/harmony/changes/01JDWRE95B9EE0ZBGJ09TQM83X",
        Some(&machine),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    let body = h
        .expect(
            Method::GET,
            &format!("/harmony/change/{id}"),
            Some(&machine),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["data"]["status"], "pending");
    h.expect(
        Method::POST,
        "/harmony/changes/acknowledge",
        Some(&machine),
        Some(json!({"change_ids": [id]})),
        StatusCode::OK,
    )
    .await;
    h.expect(
        Method::POST,
        "/harmony/changes/acknowledge",
        Some(&machine),
        Some(json!({"change_ids": ["nope"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let body = h
        .expect(
            Method::POST,
            &format!("/harmony/change/{id}/failed"),
            Some(&machine),
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(body["errors"]["error"].is_array());
    let applied = format!("/harmony/change/{id}/applied");
    let body = h
        .expect(Method::POST, &applied, Some(&machine), None, StatusCode::OK)
        .await;
    assert_eq!(body["data"]["status"], "applied");
    h.expect(
        Method::POST,
        &applied,
        Some(&machine),
        None,
        StatusCode::CONFLICT,
    )
    .await;
    let (_, body) = h
        .call(Method::GET, "/harmony/changes", Some(&machine), None)
        .await;
    assert_eq!(body["meta"]["total"], 0);

    // POST /harmony/update
    let body = h
        .expect(
            Method::POST,
            "/harmony/update",
            Some(&machine),
            Some(json!({"type": "pipeline", "config": "[pipelines.a]\ndescription = \"x\"\n"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["action"], "created");
    let id = body["data"]["id"].as_str().unwrap();
    let (_, body) = h
        .call(
            Method::POST,
            "/harmony/update",
            Some(&machine),
            Some(json!({"type": "pipeline", "id": id, "config": "x = 1"})),
        )
        .await;
    assert_eq!(body["data"]["action"], "updated");
    let body = h
        .expect(
            Method::POST,
            "/harmony/update",
            Some(&machine),
            Some(json!({"type": "widget", "config": "x = ["})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(body["errors"]["type"].is_array());
    assert!(body["errors"]["config"].is_array());
}
