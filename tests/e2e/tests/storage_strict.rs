//! The file store refuses unsafe places, like OpenSSH's `StrictModes` (docs/design.md, token
//! storage): a symbolic link at or below `RUNBEAM_HOME`, a directory writable by group or
//! others, a file with group or other permission bits, anything owned by another user.
//!
//! Each refusal is a `Storage` error naming the path and the command that fixes it, and
//! nothing is read from or written to what a link points to. The link targets are built so
//! that following them would *succeed* (a valid key, a token encrypted with the right key), so
//! an error proves the link was not followed, and the targets' bytes are compared before and
//! after every operation.
//!
//! The other-owner cases `chown` to uid 65534 (`nobody`), which needs root (as in CI); without
//! it they print why and check nothing.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use runbeam_core::storage::{self, FileTokenStore, MACHINE_TOKEN, MachineToken, TokenStore};
use runbeam_core::{Error, ErrorKind, Result};
use runbeam_e2e::TempDir;

fn token(secret: &str) -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": secret, "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw-strict",
    }))
    .unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn loaded(store: &FileTokenStore) -> String {
    storage::load_machine_token(store, "gw")
        .unwrap()
        .expect("a token is stored")
        .machine_token
        .expose()
        .to_string()
}

/// Every file below `dir` with its bytes (links as `-> target`), to prove nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&d).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.push((path, format!("-> {}", target.display()).into_bytes()));
            } else if kind.is_dir() {
                out.push((path.clone(), b"<dir>".to_vec()));
                stack.push(path);
            } else {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// Asserts a refusal: `Storage`, naming `path`, saying `why` and giving `fix`; no secret.
fn assert_refused(
    what: &str,
    result: Result<impl std::fmt::Debug>,
    path: &Path,
    why: &str,
    fix: &str,
) {
    let err: Error = result.expect_err(what);
    eprintln!("{what}: {err}");
    assert_eq!(err.kind(), ErrorKind::Storage, "{what}: {err}");
    let msg = err.message();
    assert!(
        msg.contains(&path.display().to_string()),
        "{what}: names {}: {err}",
        path.display()
    );
    assert!(msg.contains(why), "{what}: says {why:?}: {err}");
    assert!(msg.contains(fix), "{what}: gives the fix {fix:?}: {err}");
    assert!(
        !msg.contains("mt-"),
        "{what}: no token in the message: {err}"
    );
}

/// Every operation on instance `gw` of `store`, each expected to be refused.
fn assert_all_refused(label: &str, store: &FileTokenStore, path: &Path, why: &str, fix: &str) {
    assert_refused_ops(label, store, path, why, fix, true);
}

/// As [`assert_all_refused`] without delete, which never reads the key (deleting a token of a
/// store whose key file is unsafe is allowed; only the key is refused).
fn assert_all_refused_but_delete(
    label: &str,
    store: &FileTokenStore,
    path: &Path,
    why: &str,
    fix: &str,
) {
    assert_refused_ops(label, store, path, why, fix, false);
}

fn assert_refused_ops(
    label: &str,
    store: &FileTokenStore,
    path: &Path,
    why: &str,
    fix: &str,
    with_delete: bool,
) {
    let check = |op: &str, result: Result<()>| {
        assert_refused(&format!("{label}: {op}"), result, path, why, fix)
    };
    check("load", store.load("gw", MACHINE_TOKEN).map(drop));
    check(
        "save",
        storage::save_machine_token(store, "gw", &token("mt-new")),
    );
    check(
        "update",
        store
            .update("gw", MACHINE_TOKEN, &mut |current| Ok(current))
            .map(drop),
    );
    if with_delete {
        check("delete", store.delete("gw", MACHINE_TOKEN).map(drop));
    }
}

const LINK: &str = "is a symbolic link";
const LINK_FIX: &str = "replace it with";

/// A store under `<tmp>/home` with a token in `gw`, and a second, valid store under
/// `<tmp>/elsewhere` with a token in `gw` (the targets of the links).
fn two_stores(tmp: &TempDir) -> (FileTokenStore, FileTokenStore) {
    let home = FileTokenStore::new(tmp.path().join("home"));
    storage::save_machine_token(&home, "gw", &token("mt-home")).unwrap();
    let elsewhere = FileTokenStore::new(tmp.path().join("elsewhere"));
    storage::save_machine_token(&elsewhere, "gw", &token("mt-elsewhere")).unwrap();
    (home, elsewhere)
}

#[test]
fn a_symlinked_instance_directory_is_refused() {
    let tmp = TempDir::new("strict-instance");
    let (home, elsewhere) = two_stores(&tmp);
    assert_directory_link_refused("instance link", &home, &elsewhere, "gw");
    assert_eq!(loaded(&elsewhere), "mt-elsewhere");
}

#[test]
fn a_symlinked_token_directory_is_refused() {
    let tmp = TempDir::new("strict-tokendir");
    let (home, elsewhere) = two_stores(&tmp);
    // The key of `home` decrypts `elsewhere`'s tokens once copied there: following the link
    // would load them successfully.
    fs::copy(home.key_path("gw"), elsewhere.key_path("gw")).unwrap();
    storage::save_machine_token(&elsewhere, "gw", &token("mt-elsewhere")).unwrap();
    assert_directory_link_refused("token dir link", &home, &elsewhere, "gw/runbeam");
}

/// Replaces the directory `relative` of `home` with a link to the same directory of
/// `elsewhere`: every operation is refused naming it, and nothing under `elsewhere` changes.
fn assert_directory_link_refused(
    label: &str,
    home: &FileTokenStore,
    elsewhere: &FileTokenStore,
    relative: &str,
) {
    let dir = home.root().join(relative);
    fs::remove_dir_all(&dir).unwrap();
    symlink(elsewhere.root().join(relative), &dir).unwrap();
    let before = snapshot(elsewhere.root());
    assert_all_refused(label, home, &dir, LINK, "replace it with a directory");
    assert_eq!(
        snapshot(elsewhere.root()),
        before,
        "{label}: the target is untouched"
    );
}

#[test]
fn a_symlinked_key_file_is_refused_even_when_it_points_at_a_valid_key() {
    let tmp = TempDir::new("strict-key");
    let (home, _elsewhere) = two_stores(&tmp);
    let key = home.key_path("gw");
    // The real key, moved away and linked back: following the link would decrypt the token.
    let target = tmp.path().join("the-real-key");
    fs::rename(&key, &target).unwrap();
    symlink(&target, &key).unwrap();
    let before = fs::read(&target).unwrap();

    assert_all_refused_but_delete("key link", &home, &key, LINK, LINK_FIX);
    assert_eq!(
        fs::read(&target).unwrap(),
        before,
        "the target is untouched"
    );

    // A dangling link where no key exists yet: a first save does not create the target.
    let dangling = tmp.path().join("planted-key");
    let key2 = home.key_path("gw2");
    fs::create_dir_all(key2.parent().unwrap().join("runbeam")).unwrap();
    set_mode(key2.parent().unwrap(), 0o700);
    symlink(&dangling, &key2).unwrap();
    assert_refused(
        "dangling key link: save",
        storage::save_machine_token(&home, "gw2", &token("mt-2")),
        &key2,
        LINK,
        LINK_FIX,
    );
    assert!(!dangling.exists(), "no key was written through the link");
}

/// A Kubernetes Secret volume at `<tmp>/secret` holding `key` as the kubelet lays it out:
/// `encryption.key -> ..data/encryption.key`, `..data -> ..<timestamp>` (files 0644, the
/// default `defaultMode`); returns the path of `encryption.key` in it.
fn secret_volume(tmp: &TempDir, key: &[u8]) -> PathBuf {
    let volume = tmp.path().join("secret");
    let version = volume.join("..2024_01_01_00_00_00.000000000");
    fs::create_dir_all(&version).unwrap();
    fs::write(version.join("encryption.key"), key).unwrap();
    set_mode(&version.join("encryption.key"), 0o644);
    symlink("..2024_01_01_00_00_00.000000000", volume.join("..data")).unwrap();
    symlink("..data/encryption.key", volume.join("encryption.key")).unwrap();
    volume.join("encryption.key")
}

/// The migration of docs/design.md for a key file linked to a Kubernetes Secret: refused; the
/// key passed directly (what `RUNBEAM_ENCRYPTION_KEY` sets) or copied at start-up works.
#[test]
fn a_key_linked_to_a_kubernetes_secret_is_refused_and_both_documented_fixes_work() {
    let tmp = TempDir::new("strict-k8s");
    let (home, _elsewhere) = two_stores(&tmp);
    let key = home.key_path("gw");
    let secret = secret_volume(&tmp, &fs::read(&key).unwrap());
    fs::remove_file(&key).unwrap();
    symlink(&secret, &key).unwrap();
    let before = snapshot(&tmp.path().join("secret"));
    assert_all_refused_but_delete("key linked to a Secret", &home, &key, LINK, LINK_FIX);

    // Fix 1: the key from the Secret as a value (with the newline a Secret file often has);
    // the link in the instance directory is then never opened.
    let value = fs::read_to_string(&secret).unwrap() + "\n";
    let with_key = FileTokenStore::new(home.root())
        .with_key(runbeam_core::Secret::new(value))
        .unwrap();
    assert_eq!(loaded(&with_key), "mt-home");
    storage::save_machine_token(&with_key, "gw", &token("mt-with-key")).unwrap();
    assert_eq!(loaded(&with_key), "mt-with-key");
    assert_eq!(
        snapshot(&tmp.path().join("secret")),
        before,
        "the Secret is untouched"
    );

    // Fix 2: the documented start-up copy replaces the link with a private regular file.
    let copied = std::process::Command::new("sh")
        .args([
            "-c",
            "umask 077 && mkdir -p \"$2\" && cp --remove-destination \"$1\" \"$2/\"",
            "sh",
        ])
        .arg(&secret)
        .arg(key.parent().unwrap())
        .status()
        .unwrap();
    assert!(copied.success());
    assert_eq!(
        fs::symlink_metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(loaded(&home), "mt-with-key");
    assert_eq!(
        snapshot(&tmp.path().join("secret")),
        before,
        "the Secret is untouched"
    );
}

#[test]
fn a_symlinked_lock_file_is_refused_and_never_created_through() {
    let tmp = TempDir::new("strict-lock");
    let (home, _elsewhere) = two_stores(&tmp);
    let lock = home.root().join("gw/runbeam/.lock");
    let target = tmp.path().join("some-file-of-root");
    fs::write(&target, b"precious").unwrap();
    fs::remove_file(&lock).unwrap();
    symlink(&target, &lock).unwrap();

    assert_all_refused("lock link", &home, &lock, LINK, LINK_FIX);
    assert_eq!(
        fs::read(&target).unwrap(),
        b"precious",
        "the target is untouched"
    );

    // Dangling: the lock is created with O_CREAT, which must not create the target.
    let dangling = tmp.path().join("created-through-the-link");
    fs::remove_file(&lock).unwrap();
    symlink(&dangling, &lock).unwrap();
    assert_all_refused("dangling lock link", &home, &lock, LINK, LINK_FIX);
    assert!(!dangling.exists(), "nothing was created through the link");
}

#[test]
fn a_symlinked_token_file_is_refused_and_never_replaced_or_read() {
    let tmp = TempDir::new("strict-token");
    let (home, _elsewhere) = two_stores(&tmp);
    let file = home.token_path("gw", MACHINE_TOKEN);
    // A token encrypted with the right key, moved away and linked back.
    let target = tmp.path().join("the-real-token");
    fs::rename(&file, &target).unwrap();
    symlink(&target, &file).unwrap();
    let before = fs::read(&target).unwrap();

    assert_all_refused("token link", &home, &file, LINK, LINK_FIX);
    assert_eq!(
        fs::read(&target).unwrap(),
        before,
        "the target is untouched"
    );
    assert!(
        fs::symlink_metadata(&file).unwrap().is_symlink(),
        "the link is reported, not silently replaced"
    );

    // Removing the link is the fix: the slot works again.
    fs::remove_file(&file).unwrap();
    storage::save_machine_token(&home, "gw", &token("mt-after")).unwrap();
    assert_eq!(loaded(&home), "mt-after");
}

#[test]
fn runbeam_home_itself_a_symlink_is_refused_but_a_symlinked_parent_is_fine() {
    let tmp = TempDir::new("strict-home");
    let (home, _elsewhere) = two_stores(&tmp);
    let link = tmp.path().join("home-link");
    symlink(home.root(), &link).unwrap();
    let before = snapshot(home.root());
    for root in [link.clone(), link.join("")] {
        // `link/` (trailing slash) would make the system follow the link: still refused.
        let store = FileTokenStore::new(&root);
        assert_all_refused(
            &format!("RUNBEAM_HOME={}", root.display()),
            &store,
            &link,
            LINK,
            "set RUNBEAM_HOME to the directory it points to",
        );
    }
    assert_eq!(snapshot(home.root()), before, "the target is untouched");

    // Links above RUNBEAM_HOME are resolved as usual (/home -> /data/home is common).
    let parent_link = tmp.path().join("parent-link");
    symlink(tmp.path(), &parent_link).unwrap();
    let via_parent = FileTokenStore::new(parent_link.join("home"));
    assert_eq!(loaded(&via_parent), "mt-home");
    storage::save_machine_token(&via_parent, "gw", &token("mt-via-parent")).unwrap();
    assert_eq!(loaded(&home), "mt-via-parent");
}

#[test]
fn directories_writable_by_group_or_others_are_refused_and_0755_is_accepted() {
    let tmp = TempDir::new("strict-dirmode");
    let (home, _elsewhere) = two_stores(&tmp);
    let cases = [
        (home.root().to_path_buf(), 0o777),
        (home.root().join("gw"), 0o777),
        (home.root().join("gw/runbeam"), 0o775),
        (home.root().join("gw"), 0o720),
    ];
    for (dir, mode) in cases {
        set_mode(&dir, mode);
        let before = snapshot(home.root());
        assert_all_refused(
            &format!("{} {mode:o}", dir.display()),
            &home,
            &dir,
            &format!("is writable by group/other (mode 0{mode:o})"),
            &format!("run 'chmod 700 {}'", dir.display()),
        );
        assert_eq!(snapshot(home.root()), before, "nothing was written");
        set_mode(&dir, 0o700);
        assert_eq!(loaded(&home), "mt-home", "chmod 700 is the fix");
    }
    // Readable and searchable by others, but not writable (a `mkdir` with umask 022): fine,
    // the files inside are still 0600.
    for dir in [home.root().to_path_buf(), home.root().join("gw")] {
        set_mode(&dir, 0o755);
    }
    storage::save_machine_token(&home, "gw", &token("mt-755")).unwrap();
    assert_eq!(loaded(&home), "mt-755");
}

#[test]
fn files_with_group_or_other_bits_are_refused() {
    let tmp = TempDir::new("strict-filemode");
    let (home, _elsewhere) = two_stores(&tmp);
    let key = home.key_path("gw");
    set_mode(&key, 0o644);
    let before = snapshot(home.root());
    assert_all_refused_but_delete(
        "key 0644",
        &home,
        &key,
        "is accessible by group/other (mode 0644)",
        &format!(
            "run 'chmod 600 {}' (and consider the key compromised",
            key.display()
        ),
    );
    assert_eq!(snapshot(home.root()), before, "nothing was written");
    set_mode(&key, 0o600);

    // A token file is ciphertext: readable by others is accepted (runbeam-sdk 0.11 writes
    // 0644), writable is not; the next save writes it 0600.
    let file = home.token_path("gw", MACHINE_TOKEN);
    set_mode(&file, 0o644);
    assert_eq!(loaded(&home), "mt-home");
    set_mode(&file, 0o664);
    assert_refused(
        "token 0664: load",
        home.load("gw", MACHINE_TOKEN),
        &file,
        "is writable by group/other (mode 0664)",
        &format!("run 'chmod 600 {}'", file.display()),
    );
    set_mode(&file, 0o644);
    storage::save_machine_token(&home, "gw", &token("mt-home")).unwrap();
    assert_eq!(mode_of(&file), 0o600);

    let lock = home.root().join("gw/runbeam/.lock");
    set_mode(&lock, 0o666);
    assert_refused(
        "lock 0666: save",
        storage::save_machine_token(&home, "gw", &token("mt-new")),
        &lock,
        "is writable by group/other (mode 0666)",
        &format!("run 'chmod 600 {}'", lock.display()),
    );
    set_mode(&lock, 0o600);

    // A key only its owner can read (0400) is as good as 0600.
    set_mode(&key, 0o400);
    assert_eq!(loaded(&home), "mt-home");
    storage::save_machine_token(&home, "gw", &token("mt-400")).unwrap();
    assert_eq!(loaded(&home), "mt-400");
}

#[test]
fn a_fifo_in_place_of_a_token_file_is_refused_without_blocking() {
    let tmp = TempDir::new("strict-fifo");
    let (home, _elsewhere) = two_stores(&tmp);
    let file = home.token_path("gw", MACHINE_TOKEN);
    fs::remove_file(&file).unwrap();
    let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Opening a FIFO for reading would wait for a writer forever without O_NONBLOCK.
    assert_refused(
        "fifo: load",
        home.load("gw", MACHINE_TOKEN),
        &file,
        "is not a regular file",
        "move it away",
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chown(path: &Path, uid: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path; -1 keeps the group.
    let ret = unsafe { libc::chown(c.as_ptr(), uid, u32::MAX) };
    assert_eq!(
        ret,
        0,
        "chown {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

const NOBODY: u32 = 65534;

#[test]
fn anything_owned_by_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: making files owned by another user (chown) needs root");
        return;
    }
    let tmp = TempDir::new("strict-owner");
    let (home, _elsewhere) = two_stores(&tmp);
    let key = home.key_path("gw");
    let file = home.token_path("gw", MACHINE_TOKEN);
    let dirs = [
        home.root().to_path_buf(),
        home.root().join("gw"),
        home.root().join("gw/runbeam"),
    ];
    for path in dirs.iter().chain([&key, &file]) {
        chown(path, NOBODY);
        let before = snapshot(home.root());
        let why = format!("is owned by uid {NOBODY}, not 0 (the user running the gateway)");
        let fix = format!("run 'chown 0 {}'", path.display());
        if path == &file {
            // Only reading the token looks at the token file.
            assert_refused(
                "token owner: load",
                home.load("gw", MACHINE_TOKEN),
                path,
                &why,
                &fix,
            );
        } else if path == &key {
            assert_all_refused_but_delete("key owner", &home, path, &why, &fix);
        } else {
            assert_all_refused(
                &format!("{} owner", path.display()),
                &home,
                path,
                &why,
                &fix,
            );
        }
        assert_eq!(snapshot(home.root()), before, "nothing was written");
        chown(path, 0);
        assert_eq!(loaded(&home), "mt-home", "chown is the fix");
    }
}

/// The key is read from the descriptor that was checked: the file is opened once with
/// `O_NOFOLLOW` relative to the checked instance directory's descriptor, `fstat`-checked, and
/// read through that same descriptor; its name is never looked up again between the check and
/// the read, so swapping the name in that window cannot change what is read (impossible by
/// construction, hence not raced here). What can be tested: the store keeps no path-based
/// state from earlier calls, so a name replaced by a link *after* the store was opened and used
/// is refused on the next call, like any other link.
#[test]
fn a_key_replaced_by_a_link_after_the_store_was_used_is_not_followed() {
    let tmp = TempDir::new("strict-swap");
    let (home, elsewhere) = two_stores(&tmp);
    assert_eq!(loaded(&home), "mt-home");
    // The attacker's key: `elsewhere`'s, with our token re-encrypted for it, so that a load
    // following the link would succeed with the attacker's token.
    let planted = tmp.path().join("planted.key");
    fs::copy(elsewhere.key_path("gw"), &planted).unwrap();
    set_mode(&planted, 0o600);
    fs::copy(
        elsewhere.token_path("gw", MACHINE_TOKEN),
        home.token_path("gw", MACHINE_TOKEN),
    )
    .unwrap();
    let key = home.key_path("gw");
    fs::remove_file(&key).unwrap();
    symlink(&planted, &key).unwrap();
    let before = fs::read(&planted).unwrap();

    assert_all_refused_but_delete("swapped key", &home, &key, LINK, LINK_FIX);
    assert_eq!(fs::read(&planted).unwrap(), before);
    // The same store object, after the link is replaced by a regular file, works again (no
    // cached state): with the planted key as a real file, the planted token decrypts.
    fs::remove_file(&key).unwrap();
    fs::copy(&planted, &key).unwrap();
    assert_eq!(loaded(&home), "mt-elsewhere");
}

#[test]
fn a_fresh_home_and_existing_private_installs_still_work() {
    let tmp = TempDir::new("strict-fresh");
    // Fresh: nothing exists below the temp dir; everything is created private.
    let root = tmp.path().join("a/b/home");
    let store = FileTokenStore::new(&root);
    storage::save_machine_token(&store, "gw", &token("mt-fresh")).unwrap();
    assert_eq!(loaded(&store), "mt-fresh");
    for dir in [
        tmp.path().join("a"),
        root.clone(),
        root.join("gw"),
        root.join("gw/runbeam"),
    ] {
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
    // An existing install made by hand with 0700/0600 (another store wrote it): loads, saves.
    let again = FileTokenStore::new(&root);
    assert_eq!(loaded(&again), "mt-fresh");
    storage::save_machine_token(&again, "gw", &token("mt-again")).unwrap();
    assert!(again.delete("gw", MACHINE_TOKEN).unwrap());
    assert!(storage::load_machine_token(&again, "gw").unwrap().is_none());
}
