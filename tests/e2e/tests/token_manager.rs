//! The machine-token lifecycle (docs/spec.md §5.3) against runbeam-devcloud: first authorization,
//! renewal inside the window with exactly one authorize however many callers, errors that say
//! what to do, revoke.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use runbeam_core::storage::{
    Credential, FileTokenStore, MemoryTokenStore, TokenManager, TokenStore,
};
use runbeam_core::{ErrorKind, Secret};
use runbeam_e2e::*;
use serde_json::json;

const AUTHORIZE: &str = "POST /api/harmony/authorize";

fn manager(cloud: &Cloud, store: Arc<dyn TokenStore>) -> TokenManager {
    TokenManager::new(RADIOLOGY_GW, store, cloud.builder().build().unwrap())
        .credential(Credential::Token(Secret::new(ALICE_SANCTUM.to_string())))
}

#[tokio::test]
async fn first_use_authorizes_saves_and_then_loads() {
    let cloud = Cloud::start().await;
    let root = std::env::temp_dir().join(format!("runbeam-tm-{}", std::process::id()));
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(&root));
    let m = manager(&cloud, Arc::clone(&store));
    cloud.reset_counts().await;
    let token = m.ensure_token().await.unwrap();
    assert_eq!(cloud.count(AUTHORIZE).await, 1);
    assert!(!token.is_expired());
    let again = m.ensure_token().await.unwrap();
    assert_eq!(again, token);
    assert_eq!(
        cloud.count(AUTHORIZE).await,
        1,
        "the stored token is reused"
    );
    // The saved token works against the API.
    let gateway = cloud
        .builder()
        .build()
        .unwrap()
        .with_token(token.machine_token.clone());
    gateway.base_url().await.unwrap();
    // A new manager on the same store finds it.
    let other = TokenManager::new(RADIOLOGY_GW, store, cloud.builder().build().unwrap());
    assert_eq!(other.ensure_token().await.unwrap(), token);
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test]
async fn fifty_concurrent_callers_inside_the_window_cause_one_renewal() {
    let cloud = Cloud::start().await;
    cloud
        .dev_post("machine-token-lifetime", json!({"secs": 4}))
        .await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let announced = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&announced);
    let m = Arc::new(
        manager(&cloud, store)
            .renewal_window(Duration::from_secs(2))
            .on_renewal_window(Arc::new(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })),
    );
    let first = m.ensure_token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2300)).await;
    cloud.reset_counts().await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let m = Arc::clone(&m);
            tokio::spawn(async move { m.ensure_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert_eq!(cloud.count(AUTHORIZE).await, 1, "exactly one renewal");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_ne!(tokens[0].machine_token, first.machine_token);
    assert!(
        announced.load(Ordering::SeqCst) >= 1,
        "the renewal window was announced"
    );
}

#[tokio::test]
async fn without_a_credential_the_errors_say_what_to_do() {
    let cloud = Cloud::start().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let bare = TokenManager::new(
        RADIOLOGY_GW,
        Arc::clone(&store),
        cloud.builder().build().unwrap(),
    );
    let err = bare.ensure_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoToken, "{err}");
    assert!(err.message().contains("authorize"), "{err}");

    cloud
        .dev_post("machine-token-lifetime", json!({"secs": 1}))
        .await;
    manager(&cloud, Arc::clone(&store))
        .ensure_token()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = bare.ensure_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenExpired, "{err}");
    assert!(err.message().contains("expired"), "{err}");
    assert!(!err.message().contains(ALICE_SANCTUM));
}

#[tokio::test]
async fn a_failed_renewal_keeps_a_still_valid_token_and_a_callback_credential_works() {
    let cloud = Cloud::start().await;
    cloud
        .dev_post("machine-token-lifetime", json!({"secs": 30}))
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let m = TokenManager::new(RADIOLOGY_GW, store, cloud.builder().build().unwrap())
        .credential(Credential::Callback(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Secret::new(ALICE_SANCTUM.to_string()))
        })))
        .renewal_window(Duration::from_secs(3600));
    let first = m.ensure_token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    cloud
        .fault(json!({"path": "/api/harmony/authorize", "status": 503, "count": 5}))
        .await;
    let kept = m.ensure_token().await.unwrap();
    assert_eq!(
        kept, first,
        "the valid token stays in use while renewal fails"
    );
    cloud.dev_delete("faults").await;
}

#[tokio::test]
async fn revoke_revokes_at_the_api_and_clears_the_store() {
    let cloud = Cloud::start().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let m = manager(&cloud, Arc::clone(&store));
    let token = m.ensure_token().await.unwrap();
    m.revoke().await.unwrap();
    assert!(m.current().await.unwrap().is_none());
    let gateway = cloud
        .builder()
        .build()
        .unwrap()
        .with_token(token.machine_token);
    let err = gateway.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
}
