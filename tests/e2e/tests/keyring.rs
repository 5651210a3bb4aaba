//! The keyring backend against a real Secret Service (gnome-keyring-daemon). These tests are
//! `#[ignore]`d in a plain `cargo test`: `make test` runs them inside
//! `dbus-run-session -- scripts/with-keyring.sh` (which sets RUNBEAM_TEST_SECRET_SERVICE).
//!
//! The kernel keyutils test needs no Secret Service: it joins a fresh session keyring with
//! `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)` (the `keyctl` CLI is not needed). The locked
//! keyring test and the daemon restart test re-run themselves on a private D-Bus session of
//! their own (locking or restarting the shared one would disturb the tests running in parallel).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runbeam_core::storage::{
    self, KEYRING_TIMEOUT, KeyringKind, KeyringTokenStore, MACHINE_TOKEN, MachineToken,
    SDK_0_4_ACCOUNT, SERVICE, StoreChoice, TokenStore, TokenStoreBackend,
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
    let store = KeyringTokenStore::secret_service().expect("the Secret Service answers");
    store.probe().unwrap();
    assert_eq!(store.backend(), TokenStoreBackend::Keyring);
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
    let store: Arc<dyn TokenStore> = storage::open_token_store(StoreChoice::Auto).unwrap();
    assert_eq!(store.backend(), TokenStoreBackend::Keyring);
    let forced = storage::open_token_store(StoreChoice::Keyring).unwrap();
    assert_eq!(forced.backend(), TokenStoreBackend::Keyring);
}

/// runbeam-sdk 0.4's machine token entry as its keyring 3 crate writes it to the Secret
/// Service: service `runbeam`, account (attribute `username`) `runbeam/auth.json`, attribute
/// `target` = `default`; the JSON names the instance in `gateway_code`.
fn sdk_0_4_entry() -> keyring_core::Entry {
    use std::collections::HashMap;
    let store: Arc<keyring_core::CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().expect("the Secret Service");
    store
        .build(
            SERVICE,
            SDK_0_4_ACCOUNT,
            Some(&HashMap::from([("target", "default")])),
        )
        .expect("an entry")
}

#[test]
#[ignore = "needs a Secret Service: make test runs it under scripts/with-keyring.sh"]
fn runbeam_sdk_0_4_keyring_token_moves_to_its_instance_slot() {
    require_secret_service();
    let store = KeyringTokenStore::secret_service().expect("the Secret Service answers");
    let instance = format!("kr-sdk04-{}", std::process::id());
    let other = format!("{instance}-other");
    let entry = sdk_0_4_entry();
    entry
        .set_password(
            &serde_json::json!({
                "machine_token": "mt-from-sdk-0.4",
                "expires_at": "2099-03-01T00:00:00+00:00",
                "gateway_id": "gw-sdk04",
                "gateway_code": instance,
                "abilities": ["harmony:send"],
                "issued_at": "2026-01-01T00:00:00+00:00",
            })
            .to_string(),
        )
        .unwrap();

    // Another instance does not take it.
    assert!(
        storage::load_machine_token(&store, &other)
            .unwrap()
            .is_none()
    );
    assert!(
        entry.get_password().is_ok(),
        "left alone for its own instance"
    );

    let moved = storage::load_machine_token(&store, &instance)
        .unwrap()
        .expect("the 0.4 token");
    assert_eq!(moved.machine_token.expose(), "mt-from-sdk-0.4");
    assert_eq!(moved.gateway_id, "gw-sdk04");
    assert_eq!(moved.abilities, ["harmony:send"]);
    // Now in the instance's own slot, and gone from the shared 0.4 entry.
    assert!(store.load(&instance, MACHINE_TOKEN).unwrap().is_some());
    assert!(matches!(
        entry.get_password(),
        Err(keyring_core::Error::NoEntry)
    ));
    assert_eq!(loaded(&store, &instance), "mt-from-sdk-0.4");
    assert!(store.delete(&instance, MACHINE_TOKEN).unwrap());

    // An entry that is not a machine token is left alone, and is no error.
    entry.set_password("not json").unwrap();
    assert!(
        storage::load_machine_token(&store, &instance)
            .unwrap()
            .is_none()
    );
    assert_eq!(entry.get_password().unwrap(), "not json");
    entry.delete_credential().unwrap();
}

fn loaded(store: &dyn TokenStore, instance: &str) -> String {
    storage::load_machine_token(store, instance)
        .unwrap()
        .expect("a token is stored")
        .machine_token
        .expose()
        .to_string()
}

/// `keyctl(2)` operation: join (here: create) an anonymous session keyring.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Joins a new anonymous session keyring on this thread (processes here have none of their
/// own); threads spawned afterwards inherit it.
fn join_session_keyring() {
    // SAFETY: keyctl with a NULL name only replaces this thread's session keyring.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    assert!(
        id > 0,
        "keyctl(KEYCTL_JOIN_SESSION_KEYRING): {}",
        std::io::Error::last_os_error()
    );
}

const NO_DBUS_TEST: &str = "without_a_session_bus_a_forced_keyring_is_kernel_keyutils";

#[test]
#[ignore = "needs kernel keyutils: make keyring-test runs it"]
fn without_a_session_bus_a_forced_keyring_is_kernel_keyutils() {
    // A host without D-Bus: re-run in a child process with no session bus address.
    if std::env::var_os("RUNBEAM_TEST_NO_DBUS_CHILD").is_none() {
        let home = runbeam_e2e::TempDir::new("no-dbus");
        let out = Command::new(std::env::current_exe().unwrap())
            .args([NO_DBUS_TEST, "--exact", "--ignored", "--nocapture"])
            .env("RUNBEAM_TEST_NO_DBUS_CHILD", "1")
            .env("RUNBEAM_HOME", home.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("RUNBEAM_TOKEN_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    join_session_keyring();
    // `auto` keeps tokens where a reboot cannot take them: the encrypted files.
    let auto = storage::open_token_store(StoreChoice::Auto).unwrap();
    assert_eq!(auto.backend(), TokenStoreBackend::File);
    // `keyring` takes the first usable one: kernel keyutils, after the Secret Service failed.
    let forced = storage::open_token_store(StoreChoice::Keyring).unwrap();
    assert_eq!(forced.backend(), TokenStoreBackend::Keyring);
    let keyutils = KeyringTokenStore::first_usable().unwrap();
    assert_eq!(keyutils.kind(), KeyringKind::KeyUtils);
    let instance = format!("ku-forced-{}", std::process::id());
    storage::save_machine_token(&*forced, &instance, &token("mt-forced-keyutils")).unwrap();
    assert_eq!(loaded(&keyutils, &instance), "mt-forced-keyutils");
    assert!(forced.delete(&instance, MACHINE_TOKEN).unwrap());
}

#[test]
#[ignore = "needs kernel keyutils: make keyring-test runs it"]
fn keyutils_round_trip_in_a_fresh_session_keyring() {
    // Processes here have no session keyring of their own (reads fail with "access denied").
    // Join a new anonymous one on this thread; the keyring store's helper threads are
    // spawned from it afterwards and inherit it (credentials are copied at thread creation).
    join_session_keyring();
    let store = KeyringTokenStore::keyutils().expect("kernel keyutils opens");
    assert_eq!(store.kind(), KeyringKind::KeyUtils);
    assert_eq!(store.backend(), TokenStoreBackend::Keyring);
    store.probe().expect("probe in the session keyring");
    let instance = format!("ku-{}", std::process::id());
    assert!(
        storage::load_machine_token(&store, &instance)
            .unwrap()
            .is_none()
    );
    storage::save_machine_token(&store, &instance, &token("mt-keyutils-1")).unwrap();
    assert_eq!(loaded(&store, &instance), "mt-keyutils-1");
    storage::save_machine_token(&store, &instance, &token("mt-keyutils-2")).unwrap();
    assert_eq!(loaded(&store, &instance), "mt-keyutils-2", "replaced");
    // Another store object on the same session keyring sees it.
    let again = KeyringTokenStore::keyutils().unwrap();
    assert_eq!(loaded(&again, &instance), "mt-keyutils-2");
    assert_eq!(
        store.location(&instance, MACHINE_TOKEN),
        format!("keyring runbeam/{instance}/auth")
    );
    assert!(store.delete(&instance, MACHINE_TOKEN).unwrap());
    assert!(!store.delete(&instance, MACHINE_TOKEN).unwrap());
    assert!(store.load(&instance, MACHINE_TOKEN).unwrap().is_none());
    // Bad ids are refused before the keyring is touched.
    let err = store.load("../x", MACHINE_TOKEN).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

const SECRETS: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
/// gnome-keyring's own interface for unlocking without a prompt (there is no prompter here).
const GNOME_IFACE: &str = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface";

/// A D-Bus connection to the Secret Service, to lock and unlock the default collection.
struct SecretServiceBus(zbus::blocking::Connection);

impl SecretServiceBus {
    fn connect() -> SecretServiceBus {
        SecretServiceBus(zbus::blocking::Connection::session().expect("session bus"))
    }

    /// The unique name of the Secret Service's connection, if it has one.
    fn owner(&self) -> Option<String> {
        let reply = self
            .0
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "GetNameOwner",
                &(SECRETS,),
            )
            .ok()?;
        reply.body().deserialize::<String>().ok()
    }

    fn default_collection(&self) -> zbus::zvariant::OwnedObjectPath {
        self.0
            .call_method(
                Some(SECRETS),
                SERVICE_PATH,
                Some(SERVICE_IFACE),
                "ReadAlias",
                &("default",),
            )
            .expect("ReadAlias default")
            .body()
            .deserialize()
            .expect("an object path")
    }

    fn is_locked(&self, collection: &zbus::zvariant::OwnedObjectPath) -> bool {
        let reply = self
            .0
            .call_method(
                Some(SECRETS),
                collection.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.freedesktop.Secret.Collection", "Locked"),
            )
            .expect("Get Locked");
        let value: zbus::zvariant::OwnedValue = reply.body().deserialize().unwrap();
        bool::try_from(value).unwrap()
    }

    fn lock(&self, collection: &zbus::zvariant::OwnedObjectPath) {
        self.0
            .call_method(
                Some(SECRETS),
                SERVICE_PATH,
                Some(SERVICE_IFACE),
                "Lock",
                &(vec![collection],),
            )
            .expect("Lock");
        assert!(self.is_locked(collection), "the collection is locked");
    }

    fn unlock(&self, collection: &zbus::zvariant::OwnedObjectPath, password: &str) {
        let reply = self
            .0
            .call_method(
                Some(SECRETS),
                SERVICE_PATH,
                Some(SERVICE_IFACE),
                "OpenSession",
                &("plain", zbus::zvariant::Value::from("")),
            )
            .expect("OpenSession plain");
        let (_, session): (zbus::zvariant::OwnedValue, zbus::zvariant::OwnedObjectPath) =
            reply.body().deserialize().unwrap();
        let secret = (
            session,
            Vec::<u8>::new(),
            password.as_bytes().to_vec(),
            "text/plain",
        );
        self.0
            .call_method(
                Some(SECRETS),
                SERVICE_PATH,
                Some(GNOME_IFACE),
                "UnlockWithMasterPassword",
                &(collection, secret),
            )
            .expect("UnlockWithMasterPassword");
        assert!(!self.is_locked(collection), "the collection is unlocked");
    }
}

const LOCKED_TEST: &str = "a_locked_keyring_is_unavailable_within_the_deadline_and_loses_nothing";
const RESTART_TEST: &str = "a_store_outlives_a_restart_of_the_secret_service";

/// The keyring password when this runs on its own private D-Bus session; else re-runs the test
/// `name` alone on one whose password is known (`None`: that run passed). For the tests that
/// lock or restart the Secret Service, which would disturb the tests sharing a session.
fn on_a_private_session(name: &str) -> Option<String> {
    if let Ok(password) = std::env::var("RUNBEAM_TEST_PRIVATE_KEYRING_PASSWORD") {
        return Some(password);
    }
    let password = format!("pw-{:016x}", rand::random::<u64>());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/with-keyring.sh");
    let out = Command::new("dbus-run-session")
        .args(["--", "bash", script])
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env("RUNBEAM_TEST_KEYRING_PASSWORD", &password)
        .env("RUNBEAM_TEST_PRIVATE_KEYRING_PASSWORD", &password)
        .output()
        .expect("dbus-run-session runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the private-session run failed:\n{stdout}\n{stderr}"
    );
    None
}

#[test]
#[ignore = "needs a Secret Service: make test runs it under scripts/with-keyring.sh"]
fn a_locked_keyring_is_unavailable_within_the_deadline_and_loses_nothing() {
    require_secret_service();
    let Some(password) = on_a_private_session(LOCKED_TEST) else {
        return;
    };
    let store = KeyringTokenStore::secret_service().unwrap();
    let instance = format!("kr-lock-{}", std::process::id());
    storage::save_machine_token(&store, &instance, &token("mt-before-lock")).unwrap();
    let bus = SecretServiceBus::connect();
    let collection = bus.default_collection();
    bus.lock(&collection);

    let deadline = KEYRING_TIMEOUT + Duration::from_secs(2);
    let started = Instant::now();
    let err = storage::load_machine_token(&store, &instance).unwrap_err();
    let took = started.elapsed();
    eprintln!("locked keyring, load: {took:?}: {err}");
    assert_eq!(err.kind(), ErrorKind::KeyringUnavailable, "{err}");
    assert!(took < deadline, "answered within the deadline: {took:?}");
    assert!(
        err.message().contains("locked"),
        "says it may be locked: {err}"
    );
    assert!(err.message().contains("RUNBEAM_TOKEN_STORE=file"), "{err}");
    assert!(!err.message().contains("mt-before-lock"), "{err}");

    // A save while locked fails the same way (and replaces nothing, checked below).
    let started = Instant::now();
    let err =
        storage::save_machine_token(&store, &instance, &token("mt-while-locked")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyringUnavailable, "{err}");
    assert!(started.elapsed() < deadline, "{:?}", started.elapsed());
    assert!(!err.message().contains("mt-while-locked"), "{err}");

    // Selection: auto falls back to the file store, a forced keyring is a clear error.
    let started = Instant::now();
    let auto = storage::open_token_store(StoreChoice::Auto).unwrap();
    assert_eq!(auto.backend(), TokenStoreBackend::File, "auto falls back");
    let err = storage::open_token_store(StoreChoice::Keyring).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyringUnavailable, "{err}");
    assert!(started.elapsed() < deadline * 2, "{:?}", started.elapsed());
    assert!(
        bus.is_locked(&collection),
        "nothing unlocked it behind our back"
    );

    // Unlocked again: the token saved before the lock is intact. A new store object (a new
    // connection): the old one may still have a call waiting for a prompt that never comes.
    bus.unlock(&collection, &password);
    let fresh = KeyringTokenStore::secret_service().unwrap();
    assert_eq!(loaded(&fresh, &instance), "mt-before-lock", "nothing lost");
    assert!(fresh.delete(&instance, MACHINE_TOKEN).unwrap());
}

/// A gateway keeps its store for its whole life; the Secret Service daemon may restart under it
/// (an update, a crash, a user logging out and in). The new daemon knows neither the store's
/// connection nor its encrypted session: the store connects again and the token is there.
#[test]
#[ignore = "needs a Secret Service: make test runs it under scripts/with-keyring.sh"]
fn a_store_outlives_a_restart_of_the_secret_service() {
    require_secret_service();
    let Some(password) = on_a_private_session(RESTART_TEST) else {
        return;
    };
    let store = KeyringTokenStore::secret_service().unwrap();
    let instance = format!("kr-restart-{}", std::process::id());
    storage::save_machine_token(&store, &instance, &token("mt-before-restart")).unwrap();

    let bus = SecretServiceBus::connect();
    let before = bus.owner();
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args([
            "--replace",
            "--unlock",
            "--components=secrets",
            "--daemonize",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon starts");
    {
        use std::io::Write as _;
        let mut stdin = daemon.stdin.take().unwrap();
        stdin.write_all(password.as_bytes()).unwrap();
    }
    assert!(daemon.wait().unwrap().success());
    let started = Instant::now();
    while bus.owner().is_none_or(|owner| Some(owner) == before) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new daemon took the name"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(
        loaded(&store, &instance),
        "mt-before-restart",
        "read after the restart"
    );
    storage::save_machine_token(&store, &instance, &token("mt-after-restart")).unwrap();
    assert_eq!(loaded(&store, &instance), "mt-after-restart");
    assert!(store.delete(&instance, MACHINE_TOKEN).unwrap());
}
