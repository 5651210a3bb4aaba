//! The devcloud checks untrusted input with its own reading of the contract, not with
//! `runbeam-core`'s functions, so that a bug in the core cannot be mirrored by the test
//! double every end-to-end test runs against. These tests pin that reading at the edges of
//! each rule: an input just inside the rule is accepted, its near miss just outside is
//! refused with the status the contract gives it (`docs/spec.md §3.4`: a malformed field is
//! 422 with field errors; `§3.3`: a destination outside the mesh is 403).

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// `GET /harmony/resources/resolve?ref=<reference>`, asserting `status`; returns the body.
async fn resolve(
    h: &Harness,
    token: &str,
    reference: &str,
    status: StatusCode,
) -> serde_json::Value {
    let path = format!(
        "/harmony/resources/resolve?ref={}",
        percent_encoding::utf8_percent_encode(reference, percent_encoding::NON_ALPHANUMERIC)
    );
    h.expect(Method::GET, &path, Some(token), None, status)
        .await
}

/// Asserts that `reference` is refused as a validation error on `ref` whose message names
/// the faulty segment (`docs/spec.md §1.2`).
async fn refused(h: &Harness, token: &str, reference: &str, segment: usize) {
    let body = resolve(h, token, reference, StatusCode::UNPROCESSABLE_ENTITY).await;
    let message = body["errors"]["ref"][0].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("segment {segment}")),
        "{reference}: {body}"
    );
}

#[tokio::test]
async fn references_are_checked_at_the_edges_of_each_rule() {
    let h = Harness::start().await;
    let token = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;

    // docs/spec.md §1.1: segments are at most 128 characters. A 128-character team is well
    // formed (and unknown: 404); one more character makes the reference invalid (422).
    let team = "t".repeat(128);
    resolve(
        &h,
        &token,
        &format!("runbeam.{team}.ingress.name.dicomweb"),
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(
        &h,
        &token,
        &format!("runbeam.{team}t.ingress.name.dicomweb"),
        1,
    )
    .await;
    let id = "A".repeat(128);
    resolve(
        &h,
        &token,
        &format!("runbeam.id.{id}"),
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(&h, &token, &format!("runbeam.id.{id}A"), 2).await;

    // Case rules: the type is case-insensitive, keywords and names are lowercase only, ids
    // are mixed case.
    let ok = "runbeam.radiology-dept.Ingress.name.dicomweb";
    let body = resolve(&h, &token, ok, StatusCode::OK).await;
    assert_eq!(body["data"]["id"], DICOMWEB_ID);
    refused(
        &h,
        &token,
        "runbeam.radiology-dept.ingress.Name.dicomweb",
        3,
    )
    .await;
    refused(
        &h,
        &token,
        "runbeam.Radiology-dept.ingress.name.dicomweb",
        1,
    )
    .await;
    refused(
        &h,
        &token,
        "runbeam.radiology-dept.ingress.name.Dicomweb",
        4,
    )
    .await;
    resolve(
        &h,
        &token,
        &format!("runbeam.id.{}", DICOMWEB_ID.to_ascii_lowercase()),
        StatusCode::NOT_FOUND,
    )
    .await;

    // Character sets: a name starts with a letter or digit; an id has no other punctuation
    // than '_' and '-'.
    refused(
        &h,
        &token,
        "runbeam.radiology-dept.ingress.name.-dicomweb",
        4,
    )
    .await;
    refused(
        &h,
        &token,
        "runbeam.radiology-dept.ingress.name._dicomweb",
        4,
    )
    .await;
    resolve(&h, &token, "runbeam.id.a_b-c", StatusCode::NOT_FOUND).await;
    refused(&h, &token, "runbeam.id.a+b", 2).await;

    // Forms: a name lookup outside `local` needs team and type; `local` has names only.
    refused(&h, &token, "runbeam.name.dicomweb", 1).await;
    refused(&h, &token, "runbeam.radiology-dept.name.dicomweb", 2).await;
    refused(&h, &token, "local.id.dicomweb", 1).await;
    refused(&h, &token, "runbeam..id.x", 1).await;
}

#[tokio::test]
async fn mesh_token_destination_matches_the_ingress_path_on_segments() {
    let h = Harness::start().await;
    // An ingress of the mesh whose URL has a path (the seeded one has none).
    h.expect(
        Method::POST,
        "/ingresses",
        Some(ALICE_SANCTUM),
        Some(json!({
            "name": "wado",
            "urls": ["https://pacs.radiology.example.com/wado"],
            "mesh_id": MESH_ID,
        })),
        StatusCode::CREATED,
    )
    .await;
    let token = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    let request = |dest: &str| json!({"mesh_id": MESH_ID, "destination_url": dest});

    // docs/spec.md §3.3: prefix match on scheme, host, port and path, the path on whole
    // segments; default ports and host case do not matter.
    for dest in [
        "https://pacs.radiology.example.com/wado",
        "https://pacs.radiology.example.com/wado/",
        "https://pacs.radiology.example.com/wado/studies/1.2.3",
        "https://PACS.radiology.example.com:443/wado/studies",
    ] {
        h.expect(
            Method::POST,
            "/harmony/mesh/token",
            Some(&token),
            Some(request(dest)),
            StatusCode::OK,
        )
        .await;
    }
    for dest in [
        "https://pacs.radiology.example.com/wadox",
        "https://pacs.radiology.example.com/wad",
        "https://pacs.radiology.example.com/",
        "https://pacs.radiology.example.com/other/wado",
        "https://pacs.radiology.example.com.evil.test/wado",
        "https://pacs.radiology.example.com:8443/wado",
        "http://pacs.radiology.example.com/wado",
    ] {
        h.expect_error(
            Method::POST,
            "/harmony/mesh/token",
            Some(&token),
            Some(request(dest)),
            StatusCode::FORBIDDEN,
            "Rule 2",
        )
        .await;
    }
}

#[tokio::test]
async fn names_and_ids_written_through_the_api_follow_the_reference_rules() {
    let h = Harness::start().await;
    // docs/spec.md §1.1: a name of 128 characters is accepted, 129 is refused (422, field
    // `name`), as is one with an uppercase letter.
    let name = "n".repeat(128);
    h.expect(
        Method::POST,
        "/services",
        Some(ALICE_SANCTUM),
        Some(json!({"name": name})),
        StatusCode::CREATED,
    )
    .await;
    for bad in [format!("{name}n"), "Pacs".to_owned()] {
        let body = h
            .expect(
                Method::POST,
                "/services",
                Some(ALICE_SANCTUM),
                Some(json!({"name": bad})),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(body["errors"]["name"].is_array(), "{body}");
    }

    // An id pushed with `POST /harmony/update` is an id a reference can name.
    let machine = h.machine_token(BOB_SANCTUM, "analytics-gw-1").await;
    let update = |id: &str| json!({"type": "pipeline", "id": id, "config": "x = 1"});
    h.expect(
        Method::POST,
        "/harmony/update",
        Some(&machine),
        Some(update("Pipeline_01-a")),
        StatusCode::OK,
    )
    .await;
    for bad in ["pipeline.01", "pipeline 01", &"p".repeat(129)] {
        let body = h
            .expect(
                Method::POST,
                "/harmony/update",
                Some(&machine),
                Some(update(bad)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(body["errors"]["id"].is_array(), "{body}");
    }
}
