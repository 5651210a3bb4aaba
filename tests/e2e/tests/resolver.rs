//! Reference resolution and mesh tokens (docs/spec.md §6) against runbeam-devcloud over real HTTP:
//! single-flight, TTL, stale answers while the Cloud is down, errors that are not cached,
//! reload, mesh context, mesh-token reuse and renewal, and the receiving side.

use std::time::Duration;

use std::sync::Arc;

use runbeam_core::client::Client;
use runbeam_core::config::MeshConfig;
use runbeam_core::jwt::{Algorithm, Validator, ValidatorBuilder};
use runbeam_core::resolve::Resolver;
use runbeam_core::storage::{Credential, MemoryTokenStore, TokenManager};
use runbeam_core::{ErrorKind, Secret};
use runbeam_e2e::*;
use serde_json::json;

const RESOLVE: &str = "GET /api/harmony/resources/resolve";
const RESOLVE_PATH: &str = "/api/harmony/resources/resolve";
const MESH_TOKEN: &str = "POST /api/harmony/mesh/token";
const AUTHORIZE: &str = "POST /api/harmony/authorize";

async fn resolver(cloud: &Cloud, ttl_secs: u32) -> Resolver {
    cloud.analytics_resolver(ttl_secs).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_cold_resolves_send_one_request() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    resolver.validate_startup().unwrap();
    cloud.reset_counts().await;
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move { resolver.resolve(DICOMWEB).await })
        })
        .collect();
    for task in tasks {
        let answer = task.await.unwrap().unwrap();
        assert_eq!(answer.resource().urls, [DICOM_URL]);
        assert!(!answer.is_stale());
    }
    assert_eq!(cloud.count(RESOLVE).await, 1, "one upstream request");
    assert_eq!(cloud.count(AUTHORIZE).await, 1, "one machine token");
    let stats = resolver.stats();
    assert_eq!(stats.upstream_requests, 1);
    assert_eq!(stats.hits + stats.misses, 1000);
    // Later calls are cache hits, also without I/O.
    let hit = resolver.resolve_cached(DICOMWEB).expect("cached").unwrap();
    assert_eq!(hit.resource().name, "dicomweb");
    assert_eq!(hit.provider(), "runbeam");
    assert_eq!(cloud.count(RESOLVE).await, 1);
}

#[tokio::test]
async fn the_answer_is_refetched_after_the_ttl() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1).await;
    resolver.resolve(DICOMWEB).await.unwrap();
    resolver.resolve(DICOMWEB).await.unwrap();
    assert_eq!(cloud.count(RESOLVE).await, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(resolver.resolve_cached(DICOMWEB).is_none(), "expired");
    let again = resolver.resolve(DICOMWEB).await.unwrap();
    assert!(!again.is_stale());
    assert_eq!(cloud.count(RESOLVE).await, 2);
}

#[tokio::test]
async fn cloud_down_serves_the_stale_answer_flagged_then_the_error_after_max_stale() {
    let cloud = Cloud::start().await;
    let resolver = cloud
        .analytics_resolver(1)
        .max_stale(Duration::from_secs(3))
        .build()
        .unwrap();
    let fresh = resolver.resolve(DICOMWEB).await.unwrap();
    cloud.dev.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = resolver.resolve(DICOMWEB).await.unwrap();
    assert!(stale.is_stale(), "past the TTL with the Cloud down");
    assert_eq!(stale.resource(), fresh.resource());
    assert_eq!(resolver.stats().stale_served, 1);
    let json = serde_json::to_value(&stale).unwrap();
    assert_eq!(json["meta"]["stale"], true);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[tokio::test]
async fn junk_and_5xx_from_the_cloud_serve_the_stale_answer() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1).await;
    resolver.resolve(DICOMWEB).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "malformed_body": true, "count": 1}))
        .await;
    assert!(resolver.resolve(DICOMWEB).await.unwrap().is_stale());
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 503, "count": 10}))
        .await;
    assert!(resolver.resolve(DICOMWEB).await.unwrap().is_stale());
    cloud.dev_delete("faults").await;
    let fresh = resolver.resolve(DICOMWEB).await.unwrap();
    assert!(!fresh.is_stale(), "the Cloud is back");
}

#[tokio::test]
async fn not_found_is_returned_and_not_cached_but_shared_by_concurrent_callers() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    for expected in 1..=2 {
        let err = resolver.resolve(RETIRED).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(cloud.count(RESOLVE).await, expected, "not cached");
    }
    cloud.reset_counts().await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move { resolver.resolve(RETIRED).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err().kind(), ErrorKind::NotFound);
    }
    assert!(cloud.count(RESOLVE).await <= 2, "callers share a request");
    assert_eq!(
        resolver.cached_references(),
        0,
        "nothing that could be served"
    );
    assert!(resolver.resolve_cached(RETIRED).is_none());
}

#[tokio::test]
async fn references_outside_every_mesh_and_unknown_providers_are_refused_without_requests() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    cloud.reset_counts().await;
    let err = resolver
        .resolve("runbeam.acme.ingress.name.api")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);
    assert!(err.message().contains("runbeam.acme.ingress.name.api"));
    let err = resolver
        .resolve("elsewhere.acme.ingress.name.api")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownProvider);
    let err = resolver.resolve("runbeam..ingress").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidReference);
    // The same answers without I/O.
    let cached = resolver.resolve_cached("runbeam.acme.ingress.name.api");
    assert_eq!(cached.unwrap().unwrap_err().kind(), ErrorKind::NotInMesh);
    assert_eq!(cloud.count(RESOLVE).await, 0);
    assert_eq!(cloud.count(AUTHORIZE).await, 0);
    assert_eq!(
        resolver.cached_references(),
        0,
        "nothing outside the mesh is kept"
    );
}

#[tokio::test]
async fn local_references_are_answered_from_the_configuration() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    cloud.reset_counts().await;
    let local = resolver.resolve("imaging-out").await.unwrap();
    assert!(local.is_local());
    assert_eq!(local.resource().resource_type, "egress");
    assert_eq!(
        local.resource().backend_id.as_deref(),
        Some("dicom-archive")
    );
    let same = resolver.resolve("local.name.imaging-out").await.unwrap();
    assert_eq!(same.resource(), local.resource());
    let err = resolver.resolve("no-such-ingress").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("no-such-ingress"), "{err}");
    assert_eq!(cloud.count(RESOLVE).await, 0);
}

#[tokio::test]
async fn invalidate_and_reload_drop_what_changed() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    resolver.resolve(DICOMWEB).await.unwrap();
    assert!(resolver.invalidate(DICOMWEB).unwrap());
    resolver.resolve(DICOMWEB).await.unwrap();
    assert_eq!(cloud.count(RESOLVE).await, 2, "invalidate forgets");

    // The same configuration again keeps the answers.
    resolver.reload(cloud.analytics_config(300)).unwrap();
    resolver.resolve(DICOMWEB).await.unwrap();
    assert_eq!(cloud.count(RESOLVE).await, 2);

    // A changed provider (TTL) drops them.
    resolver.reload(cloud.analytics_config(120)).unwrap();
    assert!(resolver.resolve_cached(DICOMWEB).is_none());
    resolver.resolve(DICOMWEB).await.unwrap();
    assert_eq!(cloud.count(RESOLVE).await, 3);

    // A configuration with problems is refused and the old one stays.
    let broken = MeshConfig::from_toml(
        "[mesh.m]\ntype = \"http\"\nprovider = \"runbeam\"\negress = [\"runbeam.a.ingress.name.b\"]",
    )
    .unwrap();
    let err = resolver.reload(broken).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("Unknown provider"), "{err}");
    assert!(resolver.resolve_cached(DICOMWEB).is_some());

    // A mesh that no longer lists the reference: out of context, and its answer dropped.
    let without = include_str!("../../../examples/config/ai-analytics.toml")
        .replace("https://api.runbeam.io", cloud.url())
        .replace(&format!("  \"{DICOMWEB}\",\n"), "");
    resolver
        .reload(MeshConfig::from_toml(&without).unwrap())
        .unwrap();
    assert_eq!(resolver.cached_references(), 0);
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);

    resolver.invalidate_all();
    assert_eq!(resolver.cached_references(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_token_is_reused_until_near_expiry_then_renewed() {
    let cloud = Cloud::start().await;
    let destination = format!("{DICOM_URL}/studies");
    let resolver = resolver(&cloud, 300).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (resolver, destination) = (resolver.clone(), destination.clone());
            tokio::spawn(async move { resolver.mesh_token(MESH, &destination).await })
        })
        .collect();
    let mut jtis = Vec::new();
    for task in tasks {
        let issued = task.await.unwrap().unwrap();
        assert_eq!(issued.claims.mesh_id.as_deref(), Some(MESH));
        jtis.push(issued.claims.jti.clone().unwrap());
    }
    jtis.dedup();
    assert_eq!(jtis.len(), 1, "one token for all callers");
    assert_eq!(cloud.count(MESH_TOKEN).await, 1);

    // Tokens live 300 s; with a 299 s margin one is reusable for about a second.
    let short = cloud
        .analytics_resolver(300)
        .mesh_token_margin(Duration::from_secs(299))
        .build()
        .unwrap();
    cloud.reset_counts().await;
    let first = short.mesh_token(MESH, &destination).await.unwrap();
    let reused = short.mesh_token(MESH, &destination).await.unwrap();
    assert_eq!(first.claims.jti, reused.claims.jti);
    assert_eq!(cloud.count(MESH_TOKEN).await, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let renewed = short.mesh_token(MESH, &destination).await.unwrap();
    assert_ne!(first.claims.jti, renewed.claims.jti);
    assert_eq!(cloud.count(MESH_TOKEN).await, 2);
    assert!(!format!("{renewed:?}").contains(renewed.token.token.expose()));
}

#[tokio::test]
async fn mesh_token_errors_are_clear_and_not_cached() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    for expected in 1..=2 {
        let err = resolver
            .mesh_token(MESH, "https://elsewhere.example.com/")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("Rule 2"), "{err}");
        assert_eq!(cloud.count(MESH_TOKEN).await, expected);
    }
    let err = resolver
        .mesh_token("no-such-mesh", DICOM_URL)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);
    let err = resolver.mesh_token(MESH, "not a url").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(cloud.count(MESH_TOKEN).await, 2);
}

#[tokio::test]
async fn the_receiving_gateway_verifies_the_mesh_token() {
    let cloud = Cloud::start().await;
    let sender = resolver(&cloud, 300).await;
    let destination = format!("{DICOM_URL}/studies");
    let issued = sender.mesh_token(MESH, &destination).await.unwrap();
    let token = issued.token.token.expose();

    let receiver = Resolver::builder(
        cloud.radiology_config(),
        cloud.builder().build().unwrap(),
        cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM),
    )
    .build()
    .unwrap();
    receiver.validate_startup().unwrap();
    let claims = receiver
        .verify_mesh_token(token, MESH, Some(&format!("{destination}/123")))
        .await
        .unwrap();
    assert_eq!(claims.get_str("source_team"), Some("ai-analytics"));
    assert!(
        receiver
            .verify_mesh_token_cached(token, MESH, Some(&destination))
            .expect("keys cached")
            .is_ok()
    );
    let err = receiver
        .verify_mesh_token(token, MESH, Some("https://pacs.radiology.example.com/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{err}");
    let err = receiver
        .verify_mesh_token(token, "other-mesh", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);
    let mut tampered = token.to_string();
    tampered.pop();
    assert!(
        receiver
            .verify_mesh_token(&tampered, MESH, None)
            .await
            .is_err()
    );

    // A validator made for the gateway's own user JWTs (with its audience) refuses the mesh
    // token on the audience, and says which validator verifies mesh tokens.
    let for_users = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .audience("my-gw")
        .build()
        .unwrap();
    let err = for_users
        .verify_mesh_token(token, MESH, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{err}");
    assert!(
        err.message().contains("validator without audiences"),
        "{err}"
    );
    let plain = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .build()
        .unwrap();
    plain.verify_mesh_token(token, MESH, None).await.unwrap();
}

#[tokio::test]
async fn the_mesh_token_validator_settings_apply_but_not_their_trust() {
    let cloud = Cloud::start().await;
    let sender = resolver(&cloud, 300).await;
    let destination = format!("{DICOM_URL}/studies");
    let issued = sender.mesh_token(MESH, &destination).await.unwrap();
    let token = issued.token.token.expose();
    let receiver = |template: ValidatorBuilder| {
        Resolver::builder(
            cloud.radiology_config(),
            cloud.builder().build().unwrap(),
            cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM),
        )
        .validator(template)
        .build()
        .unwrap()
    };
    // A template that trusts another issuer, pins a dead JWKS URL and wants an audience of its
    // own: none of that is used, the mesh's provider is what is trusted.
    let trusting = receiver(
        Validator::builder()
            .trusted_issuer("https://other.example/api")
            .jwks_url("http://127.0.0.1:9/jwks.json")
            .audience("someone-else")
            .leeway(Duration::from_secs(5)),
    );
    assert!(trusting.verify_mesh_token(token, MESH, None).await.is_ok());
    // Its other settings are: RS256 mesh tokens refused when only ES256 is allowed.
    let strict = receiver(Validator::builder().algorithms([Algorithm::Es256]));
    let err = strict
        .verify_mesh_token(token, MESH, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_racing_resolves_never_leave_an_answer_outside_the_mesh() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 300).await;
    let with = cloud.analytics_config(300);
    let without = MeshConfig::from_toml(
        &include_str!("../../../examples/config/ai-analytics.toml")
            .replace("https://api.runbeam.io", cloud.url())
            .replace(&format!("  \"{DICOMWEB}\",\n"), ""),
    )
    .unwrap();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    match resolver.resolve(DICOMWEB).await {
                        Ok(answer) => assert_eq!(answer.resource().name, "dicomweb"),
                        Err(e) => assert_eq!(e.kind(), ErrorKind::NotInMesh, "{e}"),
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for round in 0..100 {
        let config = if round % 2 == 0 { &without } else { &with };
        resolver.reload(config.clone()).unwrap();
        tokio::task::yield_now().await;
    }
    resolver.reload(without).unwrap();
    for caller in callers {
        caller.await.unwrap();
    }
    // Fetches still in flight finish into detached slots: nothing comes back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(resolver.cached_references(), 0);
    let err = resolver.resolve_cached(DICOMWEB).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);
}

#[tokio::test]
async fn a_slow_cloud_is_a_timeout_within_the_deadline_or_a_stale_answer() {
    let cloud = Cloud::start().await;
    let client = cloud
        .builder()
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    let resolver = Resolver::builder(
        cloud.analytics_config(1),
        client,
        cloud.token_manager(ANALYTICS_GW, BOB_SANCTUM),
    )
    .build()
    .unwrap();
    // Machine token first, so that only the resolve is slow.
    resolver.resolve("imaging-out").await.unwrap();
    cloud
        .fault(json!({"path": RESOLVE_PATH, "latency_ms": 3000, "count": 100}))
        .await;
    let started = std::time::Instant::now();
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline holds"
    );
    cloud.dev_delete("faults").await;
    resolver.resolve(DICOMWEB).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "latency_ms": 3000, "count": 100}))
        .await;
    let stale = resolver.resolve(DICOMWEB).await.unwrap();
    assert!(stale.is_stale());
}

#[tokio::test]
async fn a_mesh_token_capacity_of_zero_is_refused_when_building() {
    let cloud = Cloud::start().await;
    let refused = cloud
        .analytics_resolver(300)
        .mesh_token_capacity(0)
        .build()
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    assert_eq!(refused.message(), "mesh_token_capacity must be at least 1");
    assert!(
        cloud
            .analytics_resolver(300)
            .mesh_token_capacity(1)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn mesh_tokens_for_many_destinations_stay_within_the_capacity() {
    let cloud = Cloud::start().await;
    let resolver = cloud
        .analytics_resolver(300)
        .mesh_token_capacity(2)
        .build()
        .unwrap();
    for path in ["a", "b", "c", "d"] {
        let destination = format!("{DICOM_URL}/{path}");
        let issued = resolver.mesh_token(MESH, &destination).await.unwrap();
        assert_eq!(
            issued.claims.dest_url.as_deref(),
            Some(destination.as_str())
        );
        assert!(resolver.cached_mesh_tokens() <= 2);
    }
    assert_eq!(cloud.count(MESH_TOKEN).await, 4);
}

#[tokio::test]
async fn an_answer_the_cloud_says_is_gone_is_not_served_stale_afterwards() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1).await;
    resolver.resolve(DICOMWEB).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 404, "count": 1}))
        .await;
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 503, "count": 10}))
        .await;
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "no stale answer: {err}");
    assert_eq!(resolver.stats().stale_served, 0);
}

/// A user builds the token manager with a `Client` at the production URL and points the
/// configuration at another Cloud with `with_provider_api`: the resolver's renewals follow the
/// provider's `api`, so the machine token is authorized where the resolve is sent.
#[tokio::test]
async fn a_provider_api_override_takes_the_machine_token_renewal_along() {
    let cloud = Cloud::start().await;
    // Port 9 (discard) on loopback: nothing listens, so a request sent there fails at once.
    let elsewhere = Client::builder("http://127.0.0.1:9")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let manager = Arc::new(
        TokenManager::new(
            ANALYTICS_GW,
            Arc::new(MemoryTokenStore::new()),
            elsewhere.clone(),
        )
        .credential(Credential::Token(Secret::new(BOB_SANCTUM.to_string()))),
    );
    let config = MeshConfig::from_toml(include_str!("../../../examples/config/ai-analytics.toml"))
        .and_then(|c| c.with_provider_api("runbeam", cloud.url()))
        .unwrap();
    let resolver = Resolver::builder(config, elsewhere, Arc::clone(&manager))
        .build()
        .unwrap();
    cloud.reset_counts().await;
    let answer = resolver.resolve(DICOMWEB).await.unwrap();
    assert_eq!(answer.resource().urls, [DICOM_URL]);
    assert_eq!(
        cloud.count(AUTHORIZE).await,
        1,
        "authorized at the provider's api"
    );
    let mesh = resolver
        .mesh_token("imaging-integration", DICOM_URL)
        .await
        .unwrap();
    assert!(!mesh.token.token.expose().is_empty());
    // The manager on its own still uses its own client (nothing listens there), and the
    // token the resolver obtained is in its store.
    assert_eq!(
        manager
            .current()
            .await
            .unwrap()
            .map(|t| t.gateway_id.is_empty()),
        Some(false)
    );
}
