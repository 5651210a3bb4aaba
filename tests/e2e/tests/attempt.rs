//! The core's cached-then-fetch step (`runbeam_core::attempt`), the one rule behind every
//! surface's `validate`, `verify_mesh_token` and `resolve`: an answer known without I/O is
//! `Ready` on the calling thread (no request), anything else is one `Pending` request; errors
//! known without I/O are ready too. Against runbeam-devcloud over real HTTP.

use runbeam_core::ErrorKind;
use runbeam_core::attempt::Attempt;
use runbeam_core::jwt::Validator;
use runbeam_e2e::*;

const JWKS: &str = "GET /api/.well-known/jwks.json";
const RESOLVE: &str = "GET /api/harmony/resources/resolve";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_is_pending_only_until_the_keys_are_cached() {
    let cloud = Cloud::start().await;
    let token = cloud.user_jwt(ALICE_EMAIL).await;
    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .build()
        .unwrap();
    cloud.reset_counts().await;

    let cold = validator.validate_attempt(&token);
    assert!(cold.is_pending(), "no keys yet: {cold:?}");
    assert_eq!(
        cloud.count(JWKS).await,
        0,
        "making the attempt sends nothing"
    );
    let claims = cold.finish().await.unwrap();
    assert_eq!(
        claims.user.as_ref().unwrap().email.as_deref(),
        Some(ALICE_EMAIL)
    );
    assert_eq!(cloud.count(JWKS).await, 1);

    let warm = validator.validate_attempt(&token);
    assert!(matches!(warm, Attempt::Ready(Ok(_))), "{warm:?}");
    // A malformed token is refused without I/O, whatever the cache holds.
    let bad = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .build()
        .unwrap()
        .validate_attempt("not.a.jwt");
    match bad {
        Attempt::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::JwtInvalid, "{e}"),
        other => panic!("expected a ready refusal, got {other:?}"),
    }
    assert_eq!(cloud.count(JWKS).await, 1, "no further fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_is_ready_for_hits_local_names_and_refusals() {
    let cloud = Cloud::start().await;
    let resolver = cloud.analytics_resolver(300).build().unwrap();
    resolver.validate_startup().unwrap();
    cloud.reset_counts().await;

    let cold = resolver.resolve_attempt(DICOMWEB);
    assert!(cold.is_pending(), "{cold:?}");
    let answer = cold.finish().await.unwrap();
    assert_eq!(answer.resource().urls, [DICOM_URL]);
    assert_eq!(cloud.count(RESOLVE).await, 1);

    match resolver.resolve_attempt(DICOMWEB) {
        Attempt::Ready(Ok(hit)) => assert_eq!(hit.resource().urls, [DICOM_URL]),
        other => panic!("expected a cache hit, got {other:?}"),
    }
    match resolver.resolve_attempt("runbeam.radiology-dept.ingress.name.not-in-any-mesh") {
        Attempt::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::NotInMesh, "{e}"),
        other => panic!("expected a ready NotInMesh, got {other:?}"),
    }
    match resolver.resolve_attempt("runbeam..ingress") {
        Attempt::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidReference, "{e}"),
        other => panic!("expected a ready InvalidReference, got {other:?}"),
    }
    assert_eq!(cloud.count(RESOLVE).await, 1, "only the cold attempt asked");
}

#[test]
fn a_panic_while_making_an_attempt_is_a_ready_internal_error() {
    runbeam_core::panic::install_quiet_hook();
    let attempt: Attempt<u32> = Attempt::guarded("test_entry", || panic!("boom"));
    match attempt {
        Attempt::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Internal);
            assert!(e.message().contains("test_entry"), "{e}");
        }
        other => panic!("expected a ready Internal error, got {other:?}"),
    }
    let fine: Attempt<u32> = Attempt::guarded("test_entry", || Attempt::Ready(Ok(3)));
    assert!(matches!(fine.map(|n| n * 2), Attempt::Ready(Ok(6))));
}
