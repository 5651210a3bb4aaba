//! The encrypted-file backend (docs/spec.md §5.2): age X25519, in the layout of existing Runbeam
//! installs — `<root>/<instance>/runbeam/<type>.json` (age ciphertext of the token JSON) and
//! `<root>/<instance>/encryption.key` (base64 of `AGE-SECRET-KEY-1…`).
//!
//! Directories are created 0700 and files 0600 at creation (no chmod window); a save is a
//! temp file + fsync + rename + directory fsync under an exclusive advisory lock, so a crash
//! leaves the previous or the new token, never a mix; the temp files (of a token or of the
//! key) a killed writer leaves are removed by the next write, under the same lock.
//!
//! Everything from the root down goes through [`secure_fs`](super::secure_fs): no symbolic
//! link is followed, owner and mode are checked on the opened descriptors (a key readable by
//! others, a directory writable by others or a file of another user is refused), and every
//! read, write and rename uses those checked descriptors, never the path again.

use std::fs::File;
use std::io::{ErrorKind as IoKind, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::secure_fs::{Dir, io_error};
use super::{TokenStore, TokenStoreBackend, check_slot};
use crate::Secret;
use crate::error::{Error, ErrorKind, Result};

/// Environment variable naming the storage root (default `~/.runbeam`).
pub const ENV_HOME: &str = "RUNBEAM_HOME";
/// Environment variable holding the key (raw `AGE-SECRET-KEY-1…` or its base64); overrides
/// the key file.
pub const ENV_KEY: &str = "RUNBEAM_ENCRYPTION_KEY";

/// The encrypted-file token store.
///
/// ```
/// use runbeam_core::storage::{FileTokenStore, TokenStore};
/// use runbeam_core::Secret;
/// let dir = std::env::temp_dir().join(format!("runbeam-doc-{}", std::process::id()));
/// let store = FileTokenStore::new(&dir);
/// store.save("gw-1", "machine_token", &Secret::new(r#"{"x":1}"#.into()))?;
/// assert_eq!(store.load("gw-1", "machine_token")?.unwrap().expose(), r#"{"x":1}"#);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), runbeam_core::Error>(())
/// ```
pub struct FileTokenStore {
    root: PathBuf,
    key: Option<Secret>,
}

impl std::fmt::Debug for FileTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTokenStore")
            .field("root", &self.root)
            .field(
                "key",
                &self.key.as_ref().map(|_| "*** (RUNBEAM_ENCRYPTION_KEY)"),
            )
            .finish()
    }
}

fn corrupt(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::StorageCorrupt,
        format!(
            "{}: {what}; the file was kept. Restore the right key (encryption.key or \
             RUNBEAM_ENCRYPTION_KEY), or move the file away and authorize the gateway again",
            path.display()
        ),
    )
}

/// The lock file of an instance's token directory.
const LOCK_FILE: &str = ".lock";
/// The key file of an instance, in its directory.
const KEY_FILE: &str = "encryption.key";
/// The variable naming the user's home directory.
#[cfg(not(windows))]
const HOME_VAR: &str = "HOME";
#[cfg(windows)]
const HOME_VAR: &str = "USERPROFILE";
/// The token directory of an instance.
const TOKEN_DIR: &str = "runbeam";

/// An advisory lock on `<instance>/runbeam/.lock` (`flock` on Unix, `LockFileEx` on Windows:
/// the standard library's `File::lock`), released when dropped. A shared lock on a directory
/// where the lock file cannot be created (read-only media) is skipped: nobody can be writing
/// there.
struct Lock(#[allow(dead_code)] Option<File>);

impl Lock {
    fn take(dir: &Dir, exclusive: bool) -> Result<Lock> {
        let Some(file) = dir.open_lock(LOCK_FILE, exclusive)? else {
            return Ok(Lock(None));
        };
        loop {
            let locked = if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            };
            match locked {
                Ok(()) => return Ok(Lock(Some(file))),
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return Err(io_error("lock", &dir.child(LOCK_FILE), &e)),
            }
        }
    }
}

/// The two directories of an instance, opened and checked from the root down.
struct Place {
    /// `<root>/<instance>`: the key file.
    instance: Dir,
    /// `<root>/<instance>/runbeam`: the token files and the lock.
    tokens: Dir,
}

fn token_file(token_type: &str) -> String {
    format!("{token_type}.json")
}

/// Removes the temp files of `target` in `dir` (`.<target>.<pid>.<rand>.tmp`, as
/// [`Dir::write_temp`] names them), ignoring failures.
///
/// Call it only under the instance's exclusive lock: token and key temp files are created,
/// renamed or linked, and removed while their writer holds that lock, so one present then
/// was left by a process killed in between. A live temp file of another writer cannot be
/// seen, as that writer holds the lock.
fn sweep_temps(dir: &Dir, target: &str) {
    let prefix = format!(".{target}.");
    let Ok(names) = dir.names() else {
        return;
    };
    for temp in names {
        let temp = temp.to_string_lossy();
        if temp.starts_with(&prefix) && temp.ends_with(".tmp") {
            dir.remove(&temp).ok();
        }
    }
}

/// Parses a key given raw (`AGE-SECRET-KEY-1…`) or as base64 of it.
fn parse_key(text: &str) -> Option<Identity> {
    let text = text.trim();
    if let Ok(identity) = Identity::from_str(text) {
        return Some(identity);
    }
    let decoded = Zeroizing::new(STANDARD.decode(text).ok()?);
    let raw = std::str::from_utf8(&decoded).ok()?;
    Identity::from_str(raw.trim()).ok()
}

impl FileTokenStore {
    /// A store under `root` (keys in each instance's `encryption.key`, or
    /// `RUNBEAM_ENCRYPTION_KEY` if set — read now).
    pub fn new(root: impl Into<PathBuf>) -> FileTokenStore {
        FileTokenStore {
            root: root.into(),
            key: std::env::var(ENV_KEY)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .map(Secret::new),
        }
    }

    /// The store at `RUNBEAM_HOME`, else `~/.runbeam` (`%USERPROFILE%\\.runbeam` on Windows).
    ///
    /// # Errors
    /// `Storage` when neither `RUNBEAM_HOME` nor a home directory is set.
    pub fn from_env() -> Result<FileTokenStore> {
        if let Some(home) = std::env::var_os(ENV_HOME).filter(|h| !h.is_empty()) {
            return Ok(FileTokenStore::new(home));
        }
        match std::env::var_os(HOME_VAR).filter(|h| !h.is_empty()) {
            Some(home) => Ok(FileTokenStore::new(Path::new(&home).join(".runbeam"))),
            None => Err(Error::new(
                ErrorKind::Storage,
                "no home directory to keep tokens in: set RUNBEAM_HOME to a writable directory",
            )),
        }
    }

    /// Uses `key` (raw `AGE-SECRET-KEY-1…` or base64) instead of the key files.
    ///
    /// # Errors
    /// `InvalidArgument` when it is not an age X25519 secret key.
    pub fn with_key(mut self, key: Secret) -> Result<FileTokenStore> {
        if parse_key(key.expose()).is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the encryption key is not an age X25519 secret key (AGE-SECRET-KEY-1… or its base64)",
            ));
        }
        self.key = Some(key);
        Ok(self)
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<instance>/runbeam/<type>.json`.
    pub fn token_path(&self, instance_id: &str, token_type: &str) -> PathBuf {
        self.root
            .join(instance_id)
            .join(TOKEN_DIR)
            .join(token_file(token_type))
    }

    /// `<root>/<instance>/encryption.key`.
    pub fn key_path(&self, instance_id: &str) -> PathBuf {
        self.root.join(instance_id).join(KEY_FILE)
    }

    /// The instance's directories; `None` when they do not exist (nothing stored yet).
    fn open_place(&self, instance_id: &str) -> Result<Option<Place>> {
        let Some(root) = Dir::open_root(&self.root)? else {
            return Ok(None);
        };
        let Some(instance) = root.open_dir(instance_id)? else {
            return Ok(None);
        };
        Ok(instance
            .open_dir(TOKEN_DIR)?
            .map(|tokens| Place { instance, tokens }))
    }

    /// The instance's directories, created (0700) where missing.
    fn create_place(&self, instance_id: &str) -> Result<Place> {
        let instance = Dir::create_root(&self.root)?.create_dir(instance_id)?;
        let tokens = instance.create_dir(TOKEN_DIR)?;
        Ok(Place { instance, tokens })
    }

    /// The instance's key: `RUNBEAM_ENCRYPTION_KEY`, else the key file in `instance` (created
    /// when `create` and missing).
    ///
    /// The key is read from the very descriptor whose owner and mode were checked, so a key
    /// file swapped (for a link or another file) after the check cannot be the one read.
    fn identity(&self, instance: &Dir, create: bool) -> Result<Identity> {
        if let Some(key) = &self.key {
            return parse_key(key.expose()).ok_or_else(|| {
                Error::new(
                    ErrorKind::StorageCorrupt,
                    format!("{ENV_KEY} is not an age X25519 secret key (AGE-SECRET-KEY-1… or its base64)"),
                )
            });
        }
        let path = instance.child(KEY_FILE);
        let Some(mut file) = instance.open_file(KEY_FILE, true)? else {
            if create {
                return self.create_key(instance);
            }
            return Err(Error::new(
                ErrorKind::StorageCorrupt,
                format!(
                    "{} is missing, so the tokens of '{}' cannot be decrypted; restore it or \
                     set {ENV_KEY}",
                    path.display(),
                    instance
                        .path()
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ),
            ));
        };
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error("read", &path, &e))?;
        // Binary garbage is a key of the wrong format too, not an I/O error.
        let text = std::str::from_utf8(&bytes).ok();
        text.and_then(parse_key).ok_or_else(|| {
            let what = match text.map(str::trim) {
                Some("") => "the key file is empty",
                Some(t) if t.starts_with("age1") => {
                    "it holds an age public key (age1…), not the secret key"
                }
                _ => "not an age X25519 secret key",
            };
            Error::new(
                ErrorKind::StorageCorrupt,
                format!(
                    "{}: {what} (expected base64 of AGE-SECRET-KEY-1…); restore it from a \
                     backup, or move it away and authorize the gateway again",
                    path.display()
                ),
            )
        })
    }

    /// Creates the key file atomically (a temp file linked into place); if another process
    /// wins the race, uses its key. Runs only from [`write_locked`](Self::write_locked), under
    /// the exclusive lock, which is what lets that function sweep key temp files a killed
    /// process left.
    fn create_key(&self, instance: &Dir) -> Result<Identity> {
        let identity = Identity::generate();
        let encoded = {
            use age::secrecy::ExposeSecret;
            Zeroizing::new(STANDARD.encode(identity.to_string().expose_secret()))
        };
        let temp = instance.write_temp(KEY_FILE, encoded.as_bytes())?;
        let linked = instance.link(&temp, KEY_FILE);
        instance.remove(&temp).ok();
        let path = instance.child(KEY_FILE);
        match linked {
            Ok(()) => {
                instance.sync()?;
                tracing::info!(path = %path.display(), "runbeam created an encryption key");
                Ok(identity)
            }
            Err(e) if e.kind() == IoKind::AlreadyExists => self.identity(instance, false),
            Err(e) => Err(io_error("create", &path, &e)),
        }
    }

    /// Reads and decrypts a slot; the caller holds a lock.
    fn read_locked(&self, place: &Place, token_type: &str) -> Result<Option<Secret>> {
        let name = token_file(token_type);
        let path = place.tokens.child(&name);
        let Some(mut file) = place.tokens.open_file(&name, false)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error("read", &path, &e))?;
        let identity = self.identity(&place.instance, false)?;
        let plain = if bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
            let mut dearmored = Vec::new();
            age::armor::ArmoredReader::new(&bytes[..])
                .read_to_end(&mut dearmored)
                .map_err(|_| corrupt(&path, "the ASCII-armored age file is damaged"))?;
            age::decrypt(&identity, &dearmored)
        } else {
            age::decrypt(&identity, &bytes)
        }
        .map_err(|e| {
            corrupt(
                &path,
                &format!(
                    "cannot decrypt it ({e}): the file is damaged or was written with another key"
                ),
            )
        })?;
        let plain = Zeroizing::new(plain);
        let text = std::str::from_utf8(&plain)
            .map_err(|_| corrupt(&path, "the decrypted token is not UTF-8 JSON"))?;
        Ok(Some(Secret::new(text.to_string())))
    }

    /// Encrypts and atomically replaces the slot; the caller holds the exclusive lock, so
    /// temp files of this slot and of the key left by a killed writer can be removed.
    fn write_locked(&self, place: &Place, token_type: &str, json: &Secret) -> Result<()> {
        let name = token_file(token_type);
        sweep_temps(&place.tokens, &name);
        if self.key.is_none() {
            // Only a store that keeps its key in a file ever writes a key temp file.
            sweep_temps(&place.instance, KEY_FILE);
        }
        let identity = self.identity(&place.instance, true)?;
        let ciphertext = age::encrypt(&identity.to_public(), json.expose().as_bytes())
            .map_err(|e| Error::new(ErrorKind::Storage, format!("age encryption failed: {e}")))?;
        place.tokens.refuse_link(&name)?;
        let temp = place.tokens.write_temp(&name, &ciphertext)?;
        if let Err(e) = place.tokens.rename(&temp, &name) {
            place.tokens.remove(&temp).ok();
            return Err(io_error("replace", &place.tokens.child(&name), &e));
        }
        place.tokens.sync()
    }
}

impl TokenStore for FileTokenStore {
    fn backend(&self) -> TokenStoreBackend {
        TokenStoreBackend::File
    }

    fn location(&self, instance_id: &str, token_type: &str) -> String {
        self.token_path(instance_id, token_type)
            .display()
            .to_string()
    }

    fn load(&self, instance_id: &str, token_type: &str) -> Result<Option<Secret>> {
        check_slot(instance_id, token_type)?;
        let Some(place) = self.open_place(instance_id)? else {
            return Ok(None);
        };
        let _lock = Lock::take(&place.tokens, false)?;
        self.read_locked(&place, token_type)
    }

    fn save(&self, instance_id: &str, token_type: &str, json: &Secret) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let place = self.create_place(instance_id)?;
        let _lock = Lock::take(&place.tokens, true)?;
        self.write_locked(&place, token_type, json)
    }

    fn update(
        &self,
        instance_id: &str,
        token_type: &str,
        f: &mut dyn FnMut(Option<Secret>) -> Result<Option<Secret>>,
    ) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let place = self.create_place(instance_id)?;
        let _lock = Lock::take(&place.tokens, true)?;
        let current = self.read_locked(&place, token_type)?;
        match f(current)? {
            Some(next) => self.write_locked(&place, token_type, &next),
            None => Ok(()),
        }
    }

    fn delete(&self, instance_id: &str, token_type: &str) -> Result<bool> {
        check_slot(instance_id, token_type)?;
        let Some(place) = self.open_place(instance_id)? else {
            return Ok(false);
        };
        let _lock = Lock::take(&place.tokens, true)?;
        let name = token_file(token_type);
        place.tokens.refuse_link(&name)?;
        match place.tokens.remove(&name) {
            Ok(()) => {
                place.tokens.sync()?;
                Ok(true)
            }
            Err(e) if e.kind() == IoKind::NotFound => Ok(false),
            Err(e) => Err(io_error("delete", &place.tokens.child(&name), &e)),
        }
    }
}
