//! No secret in the `Debug` (and, for errors, `Display`) text of any value the Rust surface
//! returns, with real values from devcloud: Sanctum tokens, machine tokens, mesh tokens, user
//! JWTs and encryption keys end up in logs through `{:?}` — they must show as redacted.
//! (The Python, Node and C surfaces have the same check for their own renderings.)

use std::sync::Arc;

use runbeam_core::client::AuthorizeRequest;
use runbeam_core::jwt::Validator;
use runbeam_core::storage::{self, Credential, FileTokenStore, MemoryTokenStore, TokenManager};
use runbeam_core::{Reference, Secret};
use runbeam_e2e::{
    ALICE_EMAIL, ANALYTICS_GW, BOB_SANCTUM, Cloud, DICOM_URL, DICOMWEB, MESH, TempDir,
};

/// Every secret and every 12-character piece of it (a partial leak is a leak too).
fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        let chars: Vec<char> = secret.chars().collect();
        let pieces = chars.windows(12.min(chars.len()));
        for piece in pieces.map(|w| w.iter().collect::<String>()) {
            assert!(
                !text.contains(&piece),
                "{what} shows part of a secret ({piece}): {text}"
            );
        }
    }
}

#[tokio::test]
async fn no_debug_or_error_text_shows_a_secret() {
    let cloud = Cloud::start().await;
    let user = cloud.client(BOB_SANCTUM);
    let granted = user
        .authorize(AuthorizeRequest::new(ANALYTICS_GW))
        .await
        .unwrap();
    let machine = granted.machine_token.expose().to_string();
    let gateway = user.with_token(granted.machine_token.clone());
    let mesh = gateway.mesh_token(MESH, DICOM_URL).await.unwrap();
    let jwt = cloud.user_jwt(ALICE_EMAIL).await;
    let signature = jwt.rsplit('.').next().unwrap_or_default().to_string();

    let tmp = TempDir::new("secrets");
    let home = tmp.path().join("home");
    let files = FileTokenStore::new(&home);
    let manager = TokenManager::new(
        ANALYTICS_GW,
        Arc::new(files),
        cloud.builder().build().unwrap(),
    )
    .credential(Credential::Token(Secret::new(BOB_SANCTUM.to_string())));
    let stored = manager.ensure_token().await.unwrap();
    let key = std::fs::read_to_string(FileTokenStore::new(&home).key_path(ANALYTICS_GW)).unwrap();
    let keyed = FileTokenStore::new(&home)
        .with_key(Secret::new(key.trim().to_string()))
        .unwrap();

    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root().as_str())
        .build()
        .unwrap();
    let claims = validator.validate(&jwt).await.unwrap();
    let resolver = cloud.analytics_resolver(300).build().unwrap();
    let resolution = resolver.resolve(DICOMWEB).await.unwrap();
    let issued = resolver
        .mesh_token(MESH, &resolution.resource().urls[0])
        .await
        .unwrap();

    let refused = cloud
        .client("7|not-a-real-sanctum-token-secret")
        .authorize(AuthorizeRequest::new(ANALYTICS_GW))
        .await
        .unwrap_err();
    let bad_jwt = validator.validate(&format!("{jwt}x")).await.unwrap_err();
    let bad_bearer = runbeam_core::jwt::parse_bearer(&format!("Basic {machine}")).unwrap_err();
    let memory = MemoryTokenStore::new();
    storage::save_machine_token(&memory, "gw", &stored).unwrap();

    let secrets = [
        BOB_SANCTUM.to_string(),
        "not-a-real-sanctum-token-secret".to_string(),
        machine.clone(),
        stored.machine_token.expose().to_string(),
        mesh.token.expose().to_string(),
        issued.token.token.expose().to_string(),
        jwt.clone(),
        signature,
        key.trim().to_string(),
    ];
    let rendered = [
        ("AuthorizeResult", format!("{granted:?}")),
        ("user Client", format!("{user:?}")),
        ("gateway Client", format!("{gateway:?}")),
        ("MeshTokenResult", format!("{mesh:?}")),
        ("MachineToken", format!("{stored:?}")),
        ("TokenManager", format!("{manager:?}")),
        ("FileTokenStore with key", format!("{keyed:?}")),
        ("MemoryTokenStore", format!("{memory:?}")),
        ("Validator", format!("{validator:?}")),
        ("Claims", format!("{claims:?}")),
        ("Resolver", format!("{resolver:?}")),
        ("Resolution", format!("{resolution:?}")),
        ("IssuedMeshToken", format!("{issued:?}")),
        (
            "Reference",
            format!("{:?}", Reference::parse(DICOMWEB).unwrap()),
        ),
        ("Unauthorized error", format!("{refused:?} / {refused}")),
        ("JwtInvalid error", format!("{bad_jwt:?} / {bad_jwt}")),
        ("bearer error", format!("{bad_bearer:?} / {bad_bearer}")),
    ];
    for (what, text) in &rendered {
        assert_no_secret(what, text, &secrets);
    }
    // The check itself finds a secret where there is one.
    let leaked = std::panic::catch_unwind(|| {
        assert_no_secret("control", &format!("token={machine}"), &secrets)
    });
    assert!(leaked.is_err(), "the check finds an exposed token");
}
