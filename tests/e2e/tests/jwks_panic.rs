//! A panic inside a JWKS fetch (a bug, or a hostile key set that reaches one) is that attempt's
//! error: the caller gets `Internal`, the attempt is recorded, so the minimum refresh interval
//! still holds — a hostile key set cannot make every token refetch — and the validator recovers
//! on the next allowed fetch. Its own test binary: the fault switch is process-wide.

use std::time::Duration;

use runbeam_core::ErrorKind;
use runbeam_core::jwt::Validator;
use runbeam_core::panic::fault;
use runbeam_e2e::{ALICE_EMAIL, Cloud};

const JWKS: &str = "GET /api/.well-known/jwks.json";
/// The minimum refresh interval: long enough that the second call surely falls inside it on a
/// loaded machine (the two calls are milliseconds apart), short enough to wait out once.
const INTERVAL: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_panicking_jwks_fetch_is_recorded_and_keeps_the_refresh_interval() {
    let cloud = Cloud::start().await;
    let token = cloud.user_jwt(ALICE_EMAIL).await;
    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .min_refresh_interval(INTERVAL)
        .build()
        .unwrap();
    cloud.reset_counts().await;

    fault::arm("jwks", 1);
    let e = validator.validate(&token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(e.message().contains("fault injected at 'jwks'"), "{e}");

    // Within the minimum interval: refused from the recorded attempt, no request.
    let e = validator.validate(&token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(
        e.message().contains("no signing keys could be fetched"),
        "{e}"
    );
    assert_eq!(cloud.count(JWKS).await, 0, "no fetch inside the interval");

    // After it: one fetch, and the validator works again.
    tokio::time::sleep(INTERVAL + Duration::from_millis(100)).await;
    let claims = validator.validate(&token).await.unwrap();
    assert_eq!(
        claims.user.as_ref().unwrap().email.as_deref(),
        Some(ALICE_EMAIL)
    );
    assert_eq!(cloud.count(JWKS).await, 1);
}
