//! Backend selection and environment overrides (docs/spec.md §5.2), in a process of its own: the
//! environment is process-global, so everything runs in one test, in order.

use runbeam_core::ErrorKind;
use runbeam_core::storage::{self, FileTokenStore, StoreChoice, TokenStoreBackend};

#[test]
fn selection_fallback_and_environment_overrides() {
    let root = std::env::temp_dir().join(format!("runbeam-select-{}", std::process::id()));
    // SAFETY (edition 2024 set_var): this test binary has a single test and no other threads
    // reading the environment.
    unsafe {
        // No reachable session bus: the keyring is unavailable, as on a headless server.
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/runbeam-bus",
        );
        std::env::set_var(storage::ENV_HOME, &root);
        std::env::remove_var(storage::ENV_STORE);
        std::env::remove_var(storage::ENV_MACHINE_TOKEN);
    }
    let auto = storage::open_default_token_store().unwrap();
    assert_eq!(
        auto.backend(),
        TokenStoreBackend::File,
        "auto falls back to the file store"
    );

    // Forced, the keyring is kernel keyutils where the user has a persistent keyring (tested
    // in keyring.rs), else an error naming both keyrings and the way out.
    unsafe { std::env::set_var(storage::ENV_STORE, "keyring") };
    match storage::open_default_token_store() {
        Ok(store) => {
            assert_eq!(store.backend(), TokenStoreBackend::Keyring);
            let keyring = storage::KeyringTokenStore::first_usable().unwrap();
            assert_eq!(keyring.kind(), storage::KeyringKind::KeyUtils);
        }
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::KeyringUnavailable, "{err}");
            assert!(err.message().contains("RUNBEAM_TOKEN_STORE=file"), "{err}");
            assert!(err.message().contains("kernel keyutils"), "{err}");
        }
    }

    unsafe { std::env::set_var(storage::ENV_STORE, "FILE") };
    assert_eq!(
        storage::open_default_token_store().unwrap().backend(),
        TokenStoreBackend::File
    );
    unsafe { std::env::set_var(storage::ENV_STORE, "vault") };
    assert_eq!(
        storage::open_default_token_store().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        StoreChoice::from_env().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    unsafe { std::env::remove_var(storage::ENV_STORE) };

    // RUNBEAM_MACHINE_TOKEN wins over the store; issued_at is optional.
    let store = FileTokenStore::from_env().unwrap();
    assert_eq!(store.root(), root.as_path());
    unsafe {
        std::env::set_var(
            storage::ENV_MACHINE_TOKEN,
            r#"{"machine_token":"mt-provisioned","expires_at":"2099-01-01 00:00:00","gateway_id":"gw-p","abilities":[]}"#,
        );
    }
    let t = storage::load_machine_token(&store, "gw-p")
        .unwrap()
        .unwrap();
    assert_eq!(t.machine_token.expose(), "mt-provisioned");
    unsafe { std::env::set_var(storage::ENV_MACHINE_TOKEN, r#"{"machine_token":"mt-leak"}"#) };
    let err = storage::load_machine_token(&store, "gw-p").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(!err.message().contains("mt-leak"), "{err}");
    unsafe { std::env::remove_var(storage::ENV_MACHINE_TOKEN) };

    // RUNBEAM_ENCRYPTION_KEY (base64 form) overrides the key file.
    let identity = {
        use age::secrecy::ExposeSecret;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&identity);
    unsafe { std::env::set_var(storage::ENV_KEY, &b64) };
    let keyed = FileTokenStore::from_env().unwrap();
    let token: storage::MachineToken = serde_json::from_str(
        r#"{"machine_token":"mt-k","expires_at":"2099-01-01T00:00:00Z","gateway_id":"g",
            "issued_at":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    storage::save_machine_token(&keyed, "gw-env", &token).unwrap();
    assert!(
        !keyed.key_path("gw-env").exists(),
        "no key file when the key comes from the env"
    );
    unsafe { std::env::set_var(storage::ENV_KEY, &identity) };
    let raw = FileTokenStore::from_env().unwrap();
    assert_eq!(
        storage::load_machine_token(&raw, "gw-env")
            .unwrap()
            .unwrap(),
        token
    );
    unsafe { std::env::remove_var(storage::ENV_KEY) };

    // No home at all: a clear error.
    unsafe {
        std::env::remove_var(storage::ENV_HOME);
        std::env::remove_var("HOME");
    }
    let err = FileTokenStore::from_env().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("RUNBEAM_HOME"), "{err}");
    std::fs::remove_dir_all(&root).ok();
}
