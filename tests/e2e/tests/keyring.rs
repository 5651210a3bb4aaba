//! The keyring backend against a real Secret Service (gnome-keyring-daemon). These tests are
//! `#[ignore]`d in a plain `cargo test`: `make test` runs them inside
//! `dbus-run-session -- scripts/with-keyring.sh` (which sets RUNBEAM_TEST_SECRET_SERVICE).

use std::sync::Arc;

use runbeam_core::storage::{
    self, Backend, KeyringStore, MACHINE_TOKEN, MachineToken, StoreChoice, TokenStore,
};
use runbeam_core::{ErrorKind, Secret};

fn require_secret_service() {
    assert_eq!(
        std::env::var("RUNBEAM_TEST_SECRET_SERVICE").as_deref(),
        Ok("1"),
        "run with: dbus-run-session -- bash scripts/with-keyring.sh cargo test -p runbeam-e2e \
         --test keyring -- --ignored"
    );
}

fn token(secret: &str) -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": secret, "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw-k",
        "abilities": ["harmony:read"],
    }))
    .unwrap()
}

#[test]
#[ignore = "needs a Secret Service: make test runs it under scripts/with-keyring.sh"]
fn secret_service_round_trip_with_separate_instance_slots() {
    require_secret_service();
    let store = KeyringStore::secret_service().expect("the Secret Service answers");
    store.probe().unwrap();
    assert_eq!(store.backend(), Backend::Keyring);
    let a = format!("kr-a-{}", std::process::id());
    let b = format!("kr-b-{}", std::process::id());
    storage::save_machine_token(&store, &a, &token("mt-keyring-a")).unwrap();
    storage::save_machine_token(&store, &b, &token("mt-keyring-b")).unwrap();
    assert_eq!(
        storage::load_machine_token(&store, &a)
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt-keyring-a"
    );
    assert_eq!(
        storage::load_machine_token(&store, &b)
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt-keyring-b"
    );
    // Replace, then delete.
    storage::save_machine_token(&store, &a, &token("mt-keyring-a2")).unwrap();
    assert_eq!(
        storage::load_machine_token(&store, &a)
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt-keyring-a2"
    );
    assert!(store.delete(&a, MACHINE_TOKEN).unwrap());
    assert!(!store.delete(&a, MACHINE_TOKEN).unwrap());
    assert!(store.load(&a, MACHINE_TOKEN).unwrap().is_none());
    assert!(store.delete(&b, MACHINE_TOKEN).unwrap());
    // A token of the wrong shape is StorageCorrupt naming the entry.
    store
        .save(&a, MACHINE_TOKEN, &Secret::new("{}".into()))
        .unwrap();
    let err = storage::load_machine_token(&store, &a).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("keyring runbeam/"), "{err}");
    store.delete(&a, MACHINE_TOKEN).unwrap();
}

#[test]
#[ignore = "needs a Secret Service: make test runs it under scripts/with-keyring.sh"]
fn auto_selection_prefers_a_working_keyring() {
    require_secret_service();
    let store: Arc<dyn TokenStore> = storage::open_store(StoreChoice::Auto).unwrap();
    assert_eq!(store.backend(), Backend::Keyring);
    let forced = storage::open_store(StoreChoice::Keyring).unwrap();
    assert_eq!(forced.backend(), Backend::Keyring);
}
