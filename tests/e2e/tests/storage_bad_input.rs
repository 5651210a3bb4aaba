//! The file store and the token manager on bad ground (docs/spec.md §5.2, §5.3): a read-only file
//! system, a full disk, a missing home or one under a regular file, a key file of the wrong
//! format, a token of the wrong shape. Every failure is a specific error that names the path
//! and says what is wrong; the previous token stays loadable; nothing is left behind.
//!
//! The read-only and full-disk cases mount a small tmpfs (`mount -t tmpfs`), so they need
//! root; without it (or when mounting is not permitted) they print why and pass without
//! checking anything. Every mount is unmounted by a drop guard, also when an assertion fails.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use runbeam_core::storage::{
    self, Credential, FileTokenStore, MACHINE_TOKEN, MachineToken, TokenManager, TokenStore,
    USER_TOKEN,
};
use runbeam_core::{ErrorKind, Secret};
use runbeam_e2e::*;

const WRITER: &str = env!("CARGO_BIN_EXE_token-writer");
const AUTHORIZE: &str = "POST /api/harmony/authorize";

/// A tmpfs mounted on a fresh directory; unmounted (and the directory removed) when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=…`), or prints why it cannot and gives `None`.
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs for the {name} case needs root");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "runbeam-tmpfs-{name}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        if !out.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs for the {name} case: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            fs::remove_dir(&dir).ok();
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount,{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Busy (a file still open by a failing test): detach it lazily.
            Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status()
                .ok();
        }
        fs::remove_dir(&self.dir).ok();
    }
}

fn token(secret: &str) -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": secret, "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw-bad",
        "abilities": ["harmony:read"],
    }))
    .unwrap()
}

fn loaded(store: &dyn TokenStore, instance: &str) -> String {
    storage::load_machine_token(store, instance)
        .unwrap()
        .expect("a token is stored")
        .machine_token
        .expose()
        .to_string()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_read_only_home_fails_saves_clearly_and_still_loads() {
    let Some(tmpfs) = Tmpfs::mount("ro", "1m") else {
        return;
    };
    let root = tmpfs.dir.join("home");
    let store = FileTokenStore::new(&root);
    storage::save_machine_token(&store, "gw", &token("mt-before")).unwrap();
    tmpfs.remount("ro");

    let err = storage::save_machine_token(&store, "gw", &token("mt-after")).unwrap_err();
    eprintln!("read-only, save: {err}");
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let dir = root.join("gw/runbeam").display().to_string();
    assert!(err.message().contains(&dir), "names the path: {err}");
    assert!(err.message().contains("read-only"), "{err}");
    assert!(
        err.message().contains("RUNBEAM_HOME"),
        "says what to do: {err}"
    );
    assert!(!err.message().contains("mt-after"), "{err}");
    assert_eq!(
        loaded(&store, "gw"),
        "mt-before",
        "the previous token loads"
    );

    // A first save of another instance cannot create its directory: the same clear error.
    let err = storage::save_machine_token(&store, "gw-new", &token("mt-new")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message()
            .contains(&root.join("gw-new").display().to_string()),
        "{err}"
    );
    assert!(err.message().contains("read-only"), "{err}");
    assert!(
        storage::load_machine_token(&store, "gw-new")
            .unwrap()
            .is_none()
    );

    // Deleting fails the same way and loses nothing.
    let err = store.delete("gw", MACHINE_TOKEN).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("read-only"), "{err}");
    assert_eq!(loaded(&store, "gw"), "mt-before");

    // Writable again: saves work.
    tmpfs.remount("rw");
    storage::save_machine_token(&store, "gw", &token("mt-after")).unwrap();
    assert_eq!(loaded(&store, "gw"), "mt-after");
}

/// Writes to `path` until the file system is full; asserts it ended with ENOSPC.
fn fill(path: &Path) {
    let mut file = fs::File::create(path).unwrap();
    let chunk = [0x5au8; 4096];
    loop {
        match file.write(&chunk) {
            Ok(0) => panic!("write returned 0 before the disk was full"),
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                return;
            }
        }
    }
}

#[test]
fn a_full_disk_fails_the_save_clearly_keeps_the_token_and_leaves_no_temp_file() {
    let Some(tmpfs) = Tmpfs::mount("full", "64k") else {
        return;
    };
    let root = tmpfs.dir.join("home");
    let store = FileTokenStore::new(&root);
    storage::save_machine_token(&store, "gw", &token("mt-before")).unwrap();
    let filler = tmpfs.dir.join("filler");
    fill(&filler);

    let err = storage::save_machine_token(&store, "gw", &token("mt-after")).unwrap_err();
    eprintln!("full disk, save: {err}");
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let path = store.token_path("gw", MACHINE_TOKEN).display().to_string();
    assert!(err.message().contains(&path), "names the token file: {err}");
    assert!(
        err.message().to_lowercase().contains("no space left"),
        "{err}"
    );
    assert!(err.message().contains("disk is full"), "{err}");
    assert!(!err.message().contains("mt-after"), "{err}");
    assert_eq!(
        loaded(&store, "gw"),
        "mt-before",
        "the previous token loads"
    );
    assert_eq!(
        temp_files(&root.join("gw/runbeam")),
        Vec::<String>::new(),
        "no temp file is left behind"
    );

    // A new instance on the full disk: its key cannot be written either, clearly.
    let err = storage::save_machine_token(&store, "gw-2", &token("mt-2")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(
        err.message().to_lowercase().contains("no space left"),
        "{err}"
    );
    assert!(
        err.message()
            .contains(&store.key_path("gw-2").display().to_string()),
        "{err}"
    );
    assert_eq!(temp_files(&root.join("gw-2/runbeam")), Vec::<String>::new());
    assert_eq!(temp_files(&root.join("gw-2")), Vec::<String>::new());

    // Space freed: saving works again.
    fs::remove_file(&filler).unwrap();
    storage::save_machine_token(&store, "gw", &token("mt-after")).unwrap();
    assert_eq!(loaded(&store, "gw"), "mt-after");
}

/// Runs `token-writer env-save gw` with `RUNBEAM_HOME=home`; (success, stdout).
fn env_save(home: &Path) -> (bool, String) {
    let out = Command::new(WRITER)
        .args(["env-save", "gw"])
        .env("RUNBEAM_HOME", home)
        .env_remove(storage::ENV_KEY)
        .env_remove(storage::ENV_MACHINE_TOKEN)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[test]
fn a_missing_home_is_created_private_and_a_home_under_a_file_is_a_clear_error() {
    let tmp = TempDir::new("bad-home");
    // RUNBEAM_HOME names a directory that does not exist yet (its parent does).
    let home = tmp.path().join("new-home");
    let (ok, out) = env_save(&home);
    assert!(ok, "{out}");
    assert_eq!(out, format!("ok {}", home.display()));
    for dir in [home.clone(), home.join("gw"), home.join("gw/runbeam")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let store = FileTokenStore::new(&home);
    assert_eq!(mode(&store.token_path("gw", MACHINE_TOKEN)), 0o600);
    assert_eq!(mode(&store.key_path("gw")), 0o600);
    assert_eq!(loaded(&store, "gw"), "mt-7");

    // RUNBEAM_HOME under a regular file, or the file itself: a clear error naming the path.
    let file = tmp.path().join("plain-file");
    fs::write(&file, "not a directory").unwrap();
    for home in [file.join("home"), file.clone()] {
        let (ok, out) = env_save(&home);
        eprintln!("home under a file: {out}");
        assert!(!ok, "{out}");
        assert!(out.starts_with("err Storage "), "{out}");
        assert!(out.contains(&home.display().to_string()), "{out}");
        assert!(out.contains("not a directory"), "{out}");
        assert!(out.contains("RUNBEAM_HOME"), "{out}");
        assert!(!out.contains("mt-7"), "{out}");
        // Loading from there finds nothing rather than failing.
        assert!(
            storage::load_machine_token(&FileTokenStore::new(&home), "gw")
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn a_key_file_of_the_wrong_format_is_a_clear_error_and_the_token_file_is_kept() {
    let public = {
        let identity = age::x25519::Identity::generate();
        identity.to_public().to_string()
    };
    let public_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&public)
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "binary garbage",
            vec![0xff, 0x00, 0xfe, 0x41, 0x80, 0x0a],
            "not an age X25519",
        ),
        (
            "text garbage",
            b"hello, world\n".to_vec(),
            "not an age X25519",
        ),
        ("a public key", public.clone().into_bytes(), "public key"),
        (
            "base64 of a public key",
            public_b64.into_bytes(),
            "not an age X25519",
        ),
        ("empty", Vec::new(), "empty"),
    ];
    for (label, content, says) in cases {
        let tmp = TempDir::new("bad-keyfmt");
        let store = FileTokenStore::new(tmp.path());
        storage::save_machine_token(&store, "gw", &token("mt-secret-keyfmt")).unwrap();
        let token_file = store.token_path("gw", MACHINE_TOKEN);
        let before = fs::read(&token_file).unwrap();
        let key = store.key_path("gw");
        fs::write(&key, &content).unwrap();
        assert_eq!(mode(&key), 0o600, "{label}: the key file keeps its mode");

        let load = storage::load_machine_token(&store, "gw").unwrap_err();
        let save = storage::save_machine_token(&store, "gw", &token("mt-new")).unwrap_err();
        for err in [&load, &save] {
            assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{label}: {err}");
            assert!(
                err.message().contains(&key.display().to_string()),
                "{label}: names the key file: {err}"
            );
            assert!(err.message().contains(says), "{label}: {err}");
            assert!(err.message().contains("AGE-SECRET-KEY-1"), "{label}: {err}");
            assert!(
                !err.message().contains("mt-secret-keyfmt"),
                "{label}: {err}"
            );
            assert!(!err.message().contains("mt-new"), "{label}: {err}");
        }
        assert_eq!(
            fs::read(&token_file).unwrap(),
            before,
            "{label}: token file kept"
        );
        assert_eq!(fs::read(&key).unwrap(), content, "{label}: key file kept");
        assert_eq!(
            temp_files(token_file.parent().unwrap()),
            Vec::<String>::new()
        );
    }
}

/// Encrypts `plain` with the instance's key file and writes it as the token file (0600), as
/// a program of another version (or a bug) could have.
fn write_encrypted(store: &FileTokenStore, instance: &str, token_type: &str, plain: &[u8]) {
    use age::secrecy::ExposeSecret as _;
    use base64::Engine as _;
    use std::str::FromStr as _;
    let encoded = fs::read_to_string(store.key_path(instance)).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .unwrap();
    let identity = age::x25519::Identity::from_str(std::str::from_utf8(&raw).unwrap()).unwrap();
    assert!(
        identity
            .to_string()
            .expose_secret()
            .starts_with("AGE-SECRET-KEY-1")
    );
    let ciphertext = age::encrypt(&identity.to_public(), plain).unwrap();
    let path = store.token_path(instance, token_type);
    fs::write(&path, ciphertext).unwrap();
    // 0600 as any writer of this layout creates it (the store refuses files others can read).
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// What the core tests do not cover already (there: a missing field; in keyring.rs: `{}`):
/// text that is not JSON, JSON of another type, fields of the wrong type or format, bytes
/// that are not UTF-8, a user token of the wrong shape.
#[test]
fn a_token_of_the_wrong_shape_is_storage_corrupt_naming_the_file_and_kept() {
    let tmp = TempDir::new("bad-shape");
    let store = FileTokenStore::new(tmp.path());
    storage::save_machine_token(&store, "gw", &token("mt-valid")).unwrap();
    let file = store.token_path("gw", MACHINE_TOKEN);
    let shapes: [&[u8]; 9] = [
        b"mt-leak-1 is not json",
        br#"["mt-leak-2"]"#,
        b"42",
        br#"{"machine_token": 42, "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "g"}"#,
        br#"{"machine_token": "mt-leak-5", "expires_at": "next tuesday", "gateway_id": "g"}"#,
        br#"{"machine_token": "mt-leak-6", "expires_at": 4102444800, "gateway_id": "g"}"#,
        br#"{"machine_token": "mt-leak-7", "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "g", "abilities": "all"}"#,
        br#"{"machine_token": "mt-leak-8", "expires_at": "2099-01-01T00:00:00Z""#,
        b"\xff\xfe{\"machine_token\": \"mt-leak-9\"}",
    ];
    for (i, plain) in shapes.iter().enumerate() {
        write_encrypted(&store, "gw", MACHINE_TOKEN, plain);
        let stored = fs::read(&file).unwrap();
        let err = storage::load_machine_token(&store, "gw").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "shape {i}: {err}");
        assert!(
            err.message().contains(&file.display().to_string()),
            "shape {i}: {err}"
        );
        assert!(!err.message().contains("mt-leak"), "shape {i}: {err}");
        assert!(!err.message().contains("mt-valid"), "shape {i}: {err}");
        assert_eq!(
            fs::read(&file).unwrap(),
            stored,
            "shape {i}: the file is kept"
        );
    }
    // A user token of the wrong shape.
    write_encrypted(&store, "gw", USER_TOKEN, br#"{"token": ["ut-leak"]}"#);
    let err = storage::load_user_token(&store, "gw").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains("user_auth.json"), "{err}");
    assert!(err.message().contains("the stored user token"), "{err}");
    assert!(!err.message().contains("ut-leak"), "{err}");
    // A good save replaces a bad file.
    storage::save_machine_token(&store, "gw", &token("mt-valid")).unwrap();
    assert_eq!(loaded(&store, "gw"), "mt-valid");
}

fn manager(cloud: &Cloud, store: Arc<dyn TokenStore>) -> TokenManager {
    TokenManager::new(RADIOLOGY_GW, store, cloud.builder().build().unwrap())
        .credential(Credential::Token(Secret::new(ALICE_SANCTUM.to_string())))
}

fn expiring_in(secret: &str, delta: time::Duration) -> MachineToken {
    MachineToken::new(
        Secret::new(secret.to_string()),
        time::OffsetDateTime::now_utc() + delta,
        "gw-bad",
        vec![],
    )
}

#[tokio::test]
async fn the_token_manager_on_a_read_only_home() {
    let Some(tmpfs) = Tmpfs::mount("tm-ro", "1m") else {
        return;
    };
    let cloud = Cloud::start().await;
    let root = tmpfs.dir.join("home");
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(&root));
    let m = manager(&cloud, Arc::clone(&store));

    // Inside the renewal window, still valid: the renewal cannot be saved, the stored token
    // stays in use.
    let soon = expiring_in("mt-soon", time::Duration::days(1));
    storage::save_machine_token(&*store, RADIOLOGY_GW, &soon).unwrap();
    tmpfs.remount("ro");
    cloud.reset_counts().await;
    let kept = m.ensure_token().await.unwrap();
    assert_eq!(kept.machine_token.expose(), "mt-soon");
    assert_eq!(cloud.count(AUTHORIZE).await, 1, "it tried to renew");

    // Expired: the renewal cannot be saved, so the error says why (read-only, where).
    tmpfs.remount("rw");
    let expired = expiring_in("mt-expired", -time::Duration::hours(1));
    storage::save_machine_token(&*store, RADIOLOGY_GW, &expired).unwrap();
    tmpfs.remount("ro");
    let err = m.ensure_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.message().contains("read-only"), "{err}");
    assert!(
        err.message()
            .contains(&root.join(RADIOLOGY_GW).display().to_string()),
        "{err}"
    );
    assert!(!err.message().contains(ALICE_SANCTUM), "{err}");
    assert_eq!(loaded(&*store, RADIOLOGY_GW), "mt-expired", "nothing lost");
    drop(m);
    drop(store);
}

#[tokio::test]
async fn the_token_manager_never_replaces_a_corrupt_token_silently() {
    let cloud = Cloud::start().await;
    let tmp = TempDir::new("bad-tm-corrupt");
    let store = FileTokenStore::new(tmp.path());
    storage::save_machine_token(&store, RADIOLOGY_GW, &token("mt-old")).unwrap();
    let file = store.token_path(RADIOLOGY_GW, MACHINE_TOKEN);
    fs::write(&file, b"garbage").unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(store);
    let m = manager(&cloud, store);
    cloud.reset_counts().await;
    let err = m.ensure_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageCorrupt, "{err}");
    assert!(err.message().contains(&file.display().to_string()), "{err}");
    assert_eq!(
        cloud.count(AUTHORIZE).await,
        0,
        "no renewal over a corrupt file"
    );
    assert_eq!(fs::read(&file).unwrap(), b"garbage", "the bad file is kept");
}
