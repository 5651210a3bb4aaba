//! File and memory backends: layout, modes, atomicity, corruption, ids, compatibility.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "runbeam-storage-{name}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        fs::remove_dir_all(&self.0).ok();
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn token(secret: &str, gateway: &str) -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": secret,
        "expires_at": "2099-01-01T00:00:00Z",
        "gateway_id": gateway,
        "abilities": ["harmony:read"],
        "issued_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap()
}

/// `tests/fixtures/storage/<name>`: `librunbeam-0.1` (the 0.1 slot names, written with the
/// reference age tools) or `sdk-0.11` (written by the published runbeam-sdk 0.11).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/storage")
        .join(name)
}

/// Copies a fixture tree with the modes runbeam-sdk 0.11 gives an install (git keeps none):
/// directories 0755, the key 0600, token files 0644.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
            let mode = if entry.file_name() == "encryption.key" {
                0o600
            } else {
                0o644
            };
            fs::set_permissions(&target, fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[test]
fn file_store_round_trip_with_private_modes() {
    let tmp = TempDir::new("modes");
    let root = tmp.0.join("home");
    let store = FileTokenStore::new(&root);
    assert_eq!(store.load("gw-1", MACHINE_TOKEN).unwrap(), None);
    let t = token("mt_secret_value", "gw-1");
    save_machine_token(&store, "gw-1", &t).unwrap();
    assert_eq!(load_machine_token(&store, "gw-1").unwrap().unwrap(), t);

    for dir in [root.clone(), root.join("gw-1"), root.join("gw-1/runbeam")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let file = store.token_path("gw-1", MACHINE_TOKEN);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&store.key_path("gw-1")), 0o600);
    let raw = fs::read(&file).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1"));
    assert!(!String::from_utf8_lossy(&raw).contains("mt_secret_value"));
    // No temp files are left behind.
    let names: Vec<String> = fs::read_dir(root.join("gw-1/runbeam"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");

    // Instances never share a slot or a key.
    save_machine_token(&store, "gw-2", &token("other", "gw-2")).unwrap();
    assert_eq!(load_machine_token(&store, "gw-1").unwrap().unwrap(), t);
    assert_ne!(
        fs::read(store.key_path("gw-1")).unwrap(),
        fs::read(store.key_path("gw-2")).unwrap()
    );
    assert!(store.delete("gw-1", MACHINE_TOKEN).unwrap());
    assert!(!store.delete("gw-1", MACHINE_TOKEN).unwrap());
    assert_eq!(store.load("gw-1", MACHINE_TOKEN).unwrap(), None);
}

#[test]
fn ids_that_could_escape_the_root_are_refused() {
    let tmp = TempDir::new("ids");
    let store = FileTokenStore::new(&tmp.0);
    let json = Secret::new("{}".into());
    let long = "a".repeat(129);
    for bad in [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "a\\b",
        "a b",
        "é",
        long.as_str(),
        "a\0b",
    ] {
        for (instance, kind) in [(bad, MACHINE_TOKEN), ("gw", bad)] {
            let err = store.save(instance, kind, &json).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
            assert!(store.load(instance, kind).is_err());
            assert!(store.delete(instance, kind).is_err());
        }
    }
    assert!(!tmp.0.exists() || fs::read_dir(&tmp.0).unwrap().next().is_none());
    store.save("a.b_c-1", "x", &json).unwrap();
}

#[test]
fn a_corrupted_file_or_a_wrong_key_is_storage_corrupt_and_the_file_is_kept() {
    let tmp = TempDir::new("corrupt");
    let store = FileTokenStore::new(&tmp.0);
    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    let file = store.token_path("gw", MACHINE_TOKEN);

    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0xff;
    fs::write(&file, &bytes).unwrap();
    let err = load_machine_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains(&file.display().to_string()), "{err}");
    assert_eq!(fs::read(&file).unwrap(), bytes, "the bad file is kept");

    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    let other = age::x25519::Identity::generate();
    let key = {
        use age::secrecy::ExposeSecret;
        Secret::new(other.to_string().expose_secret().to_string())
    };
    let wrong = FileTokenStore::new(&tmp.0).with_key(key).unwrap();
    let err = load_machine_token(&wrong, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("another key"), "{err}");
    assert!(
        load_machine_token(&store, "gw").unwrap().is_some(),
        "nothing was lost"
    );

    fs::write(&file, b"garbage").unwrap();
    assert_eq!(
        load_machine_token(&store, "gw").unwrap_err().kind(),
        ErrorKind::StorageCorrupt
    );
}

#[test]
fn a_token_of_the_wrong_shape_is_storage_corrupt_naming_the_file() {
    let tmp = TempDir::new("shape");
    let store = FileTokenStore::new(&tmp.0);
    store
        .save(
            "gw",
            MACHINE_TOKEN,
            &Secret::new(r#"{"machine_token":"leak-me","gateway_id":"g"}"#.into()),
        )
        .unwrap();
    let err = load_machine_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("runbeam/auth.json"), "{err}");
    assert!(!err.message().contains("leak-me"), "{err}");
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let tmp = TempDir::new("keymode");
    let store = FileTokenStore::new(&tmp.0);
    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    let key = store.key_path("gw");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = load_machine_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("chmod 600"), "{err}");
    let err = save_machine_token(&store, "gw", &token("mt2", "gw")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        load_machine_token(&store, "gw")
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt"
    );
}

#[test]
fn a_key_of_the_wrong_format_is_a_clear_error() {
    let tmp = TempDir::new("keyfmt");
    let store = FileTokenStore::new(&tmp.0);
    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    fs::write(store.key_path("gw"), "bm90IGEga2V5").unwrap();
    let err = load_machine_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("AGE-SECRET-KEY-1"), "{err}");
    assert!(
        FileTokenStore::new(&tmp.0)
            .with_key(Secret::new("nope".into()))
            .is_err()
    );
}

#[test]
fn tokens_in_librunbeam_0_1_slots_load_and_move_to_the_sdk_0_11_slots() {
    let tmp = TempDir::new("compat");
    copy_dir(&fixture("librunbeam-0.1"), &tmp.0);
    let store = FileTokenStore::new(&tmp.0);
    let old_machine = store.token_path("compat-gw", LEGACY_MACHINE_TOKEN);
    let old_user = store.token_path("compat-gw", LEGACY_USER_TOKEN);
    assert!(old_machine.exists() && old_user.exists());

    let machine = load_machine_token(&store, "compat-gw").unwrap().unwrap();
    assert_eq!(
        machine.machine_token.expose(),
        "mt_compat_fixture_token_0123456789"
    );
    assert_eq!(machine.gateway_id, "gw-compat");
    assert_eq!(machine.abilities, ["harmony:read", "harmony:write"]);
    assert!(!old_machine.exists(), "moved, not copied");
    assert!(store.token_path("compat-gw", MACHINE_TOKEN).exists());
    assert_eq!(mode(&store.token_path("compat-gw", MACHINE_TOKEN)), 0o600);

    let user = load_user_token(&store, "compat-gw").unwrap().unwrap();
    assert_eq!(user.token.expose(), "1|compat-user-token");
    assert!(!old_user.exists());
    assert!(store.token_path("compat-gw", USER_TOKEN).exists());

    // Loaded again from the new slots: the same tokens (issued_at now known).
    let again = load_machine_token(&store, "compat-gw").unwrap().unwrap();
    assert_eq!(
        MachineToken {
            issued_at: None,
            ..again.clone()
        },
        machine
    );
    assert!(again.issued_at.is_some());
    assert_eq!(load_user_token(&store, "compat-gw").unwrap().unwrap(), user);
}

#[test]
fn a_token_in_the_new_slot_wins_over_a_librunbeam_0_1_one() {
    let tmp = TempDir::new("compat-both");
    let store = FileTokenStore::new(&tmp.0);
    save_token(&store, "gw", LEGACY_MACHINE_TOKEN, &token("old", "gw")).unwrap();
    save_machine_token(&store, "gw", &token("new", "gw")).unwrap();
    let loaded = load_machine_token(&store, "gw").unwrap().unwrap();
    assert_eq!(loaded.machine_token.expose(), "new");
    // The old one is left where it is: nothing decided to replace it.
    assert!(store.load("gw", LEGACY_MACHINE_TOKEN).unwrap().is_some());
}

#[test]
fn a_corrupt_librunbeam_0_1_token_is_storage_corrupt_and_kept() {
    let tmp = TempDir::new("compat-corrupt");
    let store = FileTokenStore::new(&tmp.0);
    store
        .save(
            "gw",
            LEGACY_MACHINE_TOKEN,
            &Secret::new("{\"no\": 1}".into()),
        )
        .unwrap();
    let err = load_machine_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("machine_token.json"), "{err}");
    assert!(store.load("gw", LEGACY_MACHINE_TOKEN).unwrap().is_some());
    assert_eq!(store.load("gw", MACHINE_TOKEN).unwrap(), None);
}

#[test]
fn files_written_by_runbeam_sdk_0_11_load() {
    let tmp = TempDir::new("sdk011");
    copy_dir(&fixture("sdk-0.11"), &tmp.0);
    let store = FileTokenStore::new(&tmp.0);
    let machine = load_machine_token(&store, "sdk-gw").unwrap().unwrap();
    assert_eq!(
        machine.machine_token.expose(),
        "mt_sdk011_fixture_token_0123456789"
    );
    assert_eq!(machine.gateway_id, "gw-sdk011");
    assert_eq!(machine.abilities, ["harmony:send", "harmony:receive"]);
    assert_eq!(
        machine.expires_at,
        MachineToken::parse_time("2099-12-31T23:59:59Z").unwrap()
    );
    assert!(machine.issued_at.is_some());
    let user = load_user_token(&store, "sdk-gw").unwrap().unwrap();
    assert_eq!(user.token.expose(), "sdk011.user.jwt");
    assert_eq!(user.expires_at.unwrap().unix_timestamp(), 4_102_444_799);
    assert_eq!(
        user.user.as_ref().unwrap()["email"],
        "ada@radiology.example"
    );
    // And ours load there: a save with the existing key is readable by the same key.
    save_machine_token(&store, "sdk-gw", &token("mt_new", "gw-sdk011")).unwrap();
    assert_eq!(
        load_machine_token(&store, "sdk-gw")
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt_new"
    );
}

#[test]
fn concurrent_saves_and_loads_never_see_a_torn_token() {
    let tmp = TempDir::new("threads");
    let store = Arc::new(FileTokenStore::new(&tmp.0));
    save_machine_token(&*store, "gw", &token("mt-0-0", "gw")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    save_machine_token(&*store, "gw", &token(&format!("mt-{t}-{i}"), "gw"))
                        .unwrap();
                    let read = load_machine_token(&*store, "gw").unwrap().unwrap();
                    assert!(read.machine_token.expose().starts_with("mt-"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Plants a 0600 file `name` in `dir` holding `bytes`, as a writer killed before it could
/// rename or link its temp file into place would leave it.
fn plant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    file.write_all(bytes).unwrap();
    path
}

#[test]
fn temp_files_of_a_killed_writer_are_swept_by_the_next_write() {
    let tmp = TempDir::new("sweep");
    let store = FileTokenStore::new(&tmp.0);
    // A writer killed between writing the key's temp file and linking it: the instance
    // directories exist, the key file does not, the secret key sits in a temp file.
    let instance = tmp.0.join("gw");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(instance.join("runbeam"))
        .unwrap();
    let leftovers = [
        plant(
            &instance,
            ".encryption.key.4242.17.tmp",
            b"QUdFLVNFQ1JFVC1LRVktMQ==",
        ),
        plant(&instance, ".encryption.key.4243.18.tmp", b""),
        plant(&instance.join("runbeam"), ".auth.json.4242.19.tmp", b"age"),
    ];
    // Names that are not temp files of the key or of this slot stay.
    let kept = [
        plant(&instance, "notes.tmp", b"mine"),
        plant(&instance, ".encryption.key.bak", b"mine"),
    ];

    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    for path in &leftovers {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    for path in &kept {
        assert_eq!(fs::read(path).unwrap(), b"mine", "{}", path.display());
    }
    assert_eq!(mode(&store.key_path("gw")), 0o600);
    assert_eq!(
        load_machine_token(&store, "gw")
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt"
    );

    // A writer killed after linking the key but before removing its temp file: the key
    // exists, so no key is created, and the temp file still goes (the key is unchanged).
    let key = fs::read(store.key_path("gw")).unwrap();
    let late = plant(&instance, ".encryption.key.4244.20.tmp", &key);
    save_machine_token(&store, "gw", &token("mt2", "gw")).unwrap();
    assert!(!late.exists());
    assert_eq!(fs::read(store.key_path("gw")).unwrap(), key);
}

/// Whether this process has a writer blocked in `flock` on the file with inode `ino`
/// (a `->` line of `/proc/locks`).
fn flock_waiter(ino: u64) -> bool {
    let pid = std::process::id().to_string();
    let device_inode = format!(":{ino}");
    fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .any(|fields| {
            fields.get(1) == Some(&"->")
                && fields.get(2) == Some(&"FLOCK")
                && fields.get(5) == Some(&pid.as_str())
                && fields.get(6).is_some_and(|f| f.ends_with(&device_inode))
        })
}

#[test]
fn the_live_key_temp_file_of_a_writer_holding_the_lock_is_not_swept() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    let tmp = TempDir::new("live");
    let store = Arc::new(FileTokenStore::new(&tmp.0));
    save_machine_token(&*store, "gw", &token("mt", "gw")).unwrap();
    let instance = tmp.0.join("gw");
    let lock_path = instance.join("runbeam/.lock");

    // Another writer in the middle of creating a key: it holds the exclusive lock and its
    // temp file exists.
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    // SAFETY: flock on a descriptor owned by `lock`, which outlives the call.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let live = plant(&instance, ".encryption.key.4242.21.tmp", b"in progress");

    let saver = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || save_machine_token(&*store, "gw", &token("mt2", "gw")))
    };
    // Wait until the save is blocked on the lock (or has wrongly finished without it).
    let ino = fs::metadata(&lock_path).unwrap().ino();
    while !flock_waiter(ino) && !saver.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(!saver.is_finished(), "the save did not wait for the lock");
    assert_eq!(fs::read(&live).unwrap(), b"in progress");

    // The writer dies without cleaning up: the lock goes with it, and the next write may
    // sweep.
    drop(lock);
    saver.join().unwrap().unwrap();
    assert!(!live.exists());
    assert_eq!(
        load_machine_token(&*store, "gw")
            .unwrap()
            .unwrap()
            .machine_token
            .expose(),
        "mt2"
    );
}

#[test]
fn memory_store_behaves_like_a_store() {
    let store = MemoryTokenStore::new();
    assert_eq!(store.backend(), TokenStoreBackend::Memory);
    save_machine_token(&store, "gw", &token("mt", "gw")).unwrap();
    assert!(store.delete("gw", MACHINE_TOKEN).unwrap());
    assert!(load_machine_token(&store, "gw").unwrap().is_none());
    assert!(store.load("..", MACHINE_TOKEN).is_err());
}
