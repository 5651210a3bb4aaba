//! The client against runbeam-devcloud over real HTTP: every endpoint of docs/spec.md §3.3.

use futures_util::TryStreamExt;
use runbeam_core::client::{AuthorizeRequest, Collection, PageRequest, TokenKind};
use runbeam_core::{ErrorKind, Reference};
use runbeam_e2e::*;
use serde_json::json;

#[tokio::test]
async fn authorize_with_sanctum_and_with_a_user_jwt() {
    let cloud = Cloud::start().await;
    let alice = cloud.client(ALICE_SANCTUM);
    assert_eq!(alice.token_kind(), Some(TokenKind::Sanctum));
    let granted = alice
        .authorize(AuthorizeRequest::new(RADIOLOGY_GW).metadata(vec!["e2e".into()]))
        .await
        .unwrap();
    assert_eq!(granted.gateway.code, RADIOLOGY_GW);
    assert!(!granted.expires_in.is_zero());
    assert!(!granted.machine_token.expose().is_empty());
    assert!(!format!("{granted:?}").contains(granted.machine_token.expose()));
    let by = granted
        .gateway
        .authorized_by
        .as_ref()
        .expect("authorized_by");
    assert_eq!(by.email, ALICE_EMAIL);

    let jwt = cloud.user_jwt(ALICE_EMAIL).await;
    let alice_jwt = cloud.client(&jwt);
    assert_eq!(alice_jwt.token_kind(), Some(TokenKind::Jwt));
    let again = alice_jwt
        .authorize(AuthorizeRequest::new(RADIOLOGY_GW))
        .await
        .unwrap();
    assert_eq!(again.gateway.id, granted.gateway.id);

    // A new code creates a gateway in the caller's team.
    let created = alice
        .authorize(AuthorizeRequest::new("radiology-gw-new"))
        .await
        .unwrap();
    assert_eq!(created.gateway.code, "radiology-gw-new");

    // The machine token works for gateway calls.
    let gateway = alice.with_token(granted.machine_token);
    assert_eq!(gateway.token_kind(), Some(TokenKind::Opaque));
    let base = gateway.base_url().await.unwrap();
    assert!(!base.base_url.is_empty());
    cloud.dev.shutdown().await;
}

#[tokio::test]
async fn another_teams_gateway_is_permission_denied() {
    let cloud = Cloud::start().await;
    let err = cloud
        .client(BOB_SANCTUM)
        .authorize(AuthorizeRequest::new(RADIOLOGY_GW))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.request(), Some(("POST", "/harmony/authorize")));
    assert!(err.server_message().is_some());
    assert!(!err.to_string().contains("ai-dev-4b8e"));
    assert!(!format!("{err:?}").contains("ai-dev-4b8e"));
}

#[tokio::test]
async fn revoked_machine_tokens_are_unauthorized() {
    let cloud = Cloud::start().await;
    let alice = cloud.client(ALICE_SANCTUM);
    let gateway = cloud.gateway(ALICE_SANCTUM, RADIOLOGY_GW).await;
    gateway.base_url().await.unwrap();
    let done = alice.revoke(RADIOLOGY_GW).await.unwrap();
    assert!(done.success);
    let err = gateway.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(err.message().contains("re-authorize the gateway"), "{err}");
    assert_eq!(err.attempts(), Some(1));
}

#[tokio::test]
async fn jwks_is_public() {
    let cloud = Cloud::start().await;
    let anonymous = cloud.builder().build().unwrap();
    let jwks = anonymous.jwks().await.unwrap();
    assert!(!jwks.keys.is_empty());
    assert_eq!(jwks.keys[0].kty, "RSA");
    assert!(jwks.keys[0].kid.is_some());
    assert!(jwks.keys[0].extra.contains_key("n"));
}

#[tokio::test]
async fn resolve_finds_the_ingress_and_reports_unknown_ones() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let reference = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb").unwrap();
    let resolved = gateway.resolve(&reference).await.unwrap();
    assert_eq!(resolved.resource.name, "dicomweb");
    assert_eq!(resolved.resource.resource_type, "ingress");
    assert_eq!(resolved.resource.urls, vec![DICOM_URL.to_string()]);
    assert!(resolved.resource.enabled);
    assert_eq!(resolved.provider, "runbeam");

    let unknown = Reference::parse("runbeam.radiology-dept.ingress.name.nope").unwrap();
    let err = gateway.resolve(&unknown).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.message()
            .starts_with("Resource not found: runbeam.radiology-dept.ingress.name.nope"),
        "{err}"
    );
    assert_eq!(err.request(), Some(("GET", "/harmony/resources/resolve")));
}

#[tokio::test]
async fn mesh_tokens_follow_both_rules() {
    let cloud = Cloud::start().await;
    let analytics = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let destination = format!("{DICOM_URL}/studies/1.2.3");
    let token = analytics.mesh_token(MESH, &destination).await.unwrap();
    assert_eq!(token.token.expose().split('.').count(), 3);
    assert!(!format!("{token:?}").contains(token.token.expose()));

    // Rule 1: radiology-dept has no enabled egress in the mesh.
    let radiology = cloud.gateway(ALICE_SANCTUM, RADIOLOGY_GW).await;
    let err = radiology.mesh_token(MESH, &destination).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.server_message().unwrap_or_default().contains("Rule 1"),
        "{err}"
    );

    // Rule 2: the destination matches no ingress URL of the mesh.
    let err = analytics
        .mesh_token(MESH, "https://evil.example.com/studies")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.server_message().unwrap_or_default().contains("Rule 2"),
        "{err}"
    );
}

#[tokio::test]
async fn collections_crud() {
    let cloud = Cloud::start().await;
    let alice = cloud.client(ALICE_SANCTUM);
    let services = alice.collection(Collection::Services);
    let created = services
        .create(&json!({"name": "e2e-svc", "url": "https://svc.example.com"}))
        .await
        .unwrap();
    assert_eq!(created.name.as_deref(), Some("e2e-svc"));
    assert_eq!(created.extra["url"], "https://svc.example.com");
    assert!(created.created_at.is_some());

    let fetched = services.get(&created.id).await.unwrap();
    assert_eq!(fetched.id, created.id);

    let updated = services
        .update(&created.id, &json!({"description": "updated"}))
        .await
        .unwrap();
    assert_eq!(updated.extra["description"], "updated");

    // 409: the name is taken; 422: a required field is missing.
    let err = services
        .create(&json!({"name": "e2e-svc"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = services
        .create(&json!({"url": "https://x.example"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    assert!(err.field_errors().contains_key("name"), "{err:?}");

    services.delete(&created.id).await.unwrap();
    let err = services.get(&created.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().starts_with("Resource not found: "), "{err}");

    // Another team's resource is not visible.
    let bob_services = cloud.client(BOB_SANCTUM).collection(Collection::Services);
    let radiology_gateways = alice
        .collection(Collection::Gateways)
        .list(PageRequest::default())
        .await
        .unwrap();
    let foreign = &radiology_gateways.data[0].id;
    assert!(bob_services.get(foreign).await.is_err());
}

#[tokio::test]
async fn pagination_across_several_pages() {
    let cloud = Cloud::start().await;
    let alice = cloud.client(ALICE_SANCTUM);
    let services = alice.collection(Collection::Services);
    for i in 0..8 {
        services
            .create(&json!({"name": format!("page-svc-{i}")}))
            .await
            .unwrap();
    }
    let first = services
        .list(PageRequest {
            page: 1,
            per_page: 3,
        })
        .await
        .unwrap();
    assert_eq!(first.data.len(), 3);
    assert!(first.meta.total >= 8);
    assert!(first.meta.last_page >= 3);
    assert!(first.has_next());
    assert!(first.links.next.is_some());

    let all: Vec<_> = services.list_all(3).try_collect().await.unwrap();
    assert_eq!(all.len() as u64, first.meta.total);
    let mut ids: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no duplicates across pages");
    for i in 0..8 {
        let name = format!("page-svc-{i}");
        assert!(all.iter().any(|r| r.name.as_deref() == Some(name.as_str())));
    }
    // Every collection lists.
    for c in Collection::ALL {
        alice
            .collection(c)
            .list(PageRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
    }
}

#[tokio::test]
async fn the_page_size_limit_is_the_clouds() {
    let cloud = Cloud::start().await;
    let services = cloud.client(ALICE_SANCTUM).collection(Collection::Services);
    // The largest page the SDK asks for is one the Cloud (devcloud) serves ...
    let page = services
        .list(PageRequest {
            page: 1,
            per_page: PageRequest::MAX_PER_PAGE,
        })
        .await
        .unwrap();
    assert_eq!(page.meta.per_page, u64::from(PageRequest::MAX_PER_PAGE));
    // ... and one more is refused by both: before sending by the SDK, with 422 by the Cloud.
    let sent = cloud.count("GET /api/services").await;
    assert!(sent >= 1);
    let err = services
        .list(PageRequest {
            page: 1,
            per_page: PageRequest::MAX_PER_PAGE + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(
        cloud.count("GET /api/services").await,
        sent,
        "nothing was sent"
    );
    let raw = reqwest::Client::new()
        .get(format!("{}/api/services?per_page=101", cloud.url()))
        .bearer_auth(ALICE_SANCTUM)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 422);
}

#[tokio::test]
async fn change_feed() {
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(ALICE_SANCTUM, RADIOLOGY_GW).await;
    // Editing a pipeline of the gateway queues a change for it.
    let alice = cloud.client(ALICE_SANCTUM);
    let pipelines = alice.collection(Collection::Pipelines);
    let pipeline = pipelines
        .list_all(100)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name.as_deref() == Some("dicom-api"))
        .expect("seeded pipeline");
    pipelines
        .update(&pipeline.id, &json!({"description": "changed by e2e"}))
        .await
        .unwrap();

    let changes = gateway.changes(None).await.unwrap();
    assert!(!changes.is_empty(), "a change is queued");
    let first = &changes[0];
    assert_eq!(gateway.change(&first.id).await.unwrap().id, first.id);
    let acked = gateway
        .acknowledge_changes(&[first.id.as_str()])
        .await
        .unwrap();
    assert!(acked.success);
    gateway.change_applied(&first.id).await.unwrap();

    let err = gateway.change("no-such-change").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn update_pushes_configuration() {
    use runbeam_core::client::{UpdateAction, UpdateKind, UpdateRequest};
    let cloud = Cloud::start().await;
    let gateway = cloud.gateway(ALICE_SANCTUM, RADIOLOGY_GW).await;
    let created = gateway
        .update_config(UpdateRequest::new(
            UpdateKind::Pipeline,
            "[pipeline]\nname = \"p\"\n",
        ))
        .await
        .unwrap();
    assert_eq!(created.data.action, UpdateAction::Created);
    assert_eq!(created.data.kind, UpdateKind::Pipeline);
    let updated = gateway
        .update_config(
            UpdateRequest::new(UpdateKind::Pipeline, "[pipeline]\nname = \"q\"\n")
                .id(created.data.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(updated.data.action, UpdateAction::Updated);
    let err = gateway
        .update_config(UpdateRequest::new(UpdateKind::Mesh, "not = = toml"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    assert!(err.field_errors().contains_key("config"));
}
