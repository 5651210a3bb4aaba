//! The encrypted-file backend (SPEC §5.2): age X25519, in the layout of existing Runbeam
//! installs — `<root>/<instance>/runbeam/<type>.json` (age ciphertext of the token JSON) and
//! `<root>/<instance>/encryption.key` (base64 of `AGE-SECRET-KEY-1…`).
//!
//! Directories are created 0700 and files 0600 at creation (no chmod window); a save is a
//! temp file + fsync + rename + directory fsync under an exclusive advisory lock, so a crash
//! leaves the previous or the new token, never a mix; a key file readable by others is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::{Backend, TokenStore, check_slot};
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
/// use runbeam_core::storage::{FileStore, TokenStore};
/// use runbeam_core::Secret;
/// let dir = std::env::temp_dir().join(format!("runbeam-doc-{}", std::process::id()));
/// let store = FileStore::new(&dir);
/// store.save("gw-1", "machine_token", &Secret::new(r#"{"x":1}"#.into()))?;
/// assert_eq!(store.load("gw-1", "machine_token")?.unwrap().expose(), r#"{"x":1}"#);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), runbeam_core::Error>(())
/// ```
pub struct FileStore {
    root: PathBuf,
    key: Option<Secret>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("root", &self.root)
            .field(
                "key",
                &self.key.as_ref().map(|_| "*** (RUNBEAM_ENCRYPTION_KEY)"),
            )
            .finish()
    }
}

fn io_error(action: &str, path: &Path, e: &std::io::Error) -> Error {
    let hint = match e.kind() {
        IoKind::PermissionDenied => "; check the owner and permissions of the directory",
        IoKind::ReadOnlyFilesystem => {
            "; the file system is read-only: set RUNBEAM_HOME to a writable directory"
        }
        IoKind::StorageFull => "; the disk is full: free space (the previous token file is intact)",
        IoKind::NotADirectory => {
            "; part of the path is a regular file, not a directory: set RUNBEAM_HOME to a \
             directory"
        }
        _ => "",
    };
    Error::new(
        ErrorKind::Storage,
        format!("cannot {action} {}: {e}{hint}", path.display()),
    )
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

/// An advisory `flock` on `<dir>/.lock`, released when dropped. A shared lock on a
/// directory where the lock file cannot be created (read-only media) is skipped: nobody
/// can be writing there.
struct Lock(#[allow(dead_code)] Option<File>);

impl Lock {
    fn take(dir: &Path, exclusive: bool) -> Result<Lock> {
        let path = dir.join(".lock");
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .or_else(|e| if exclusive { Err(e) } else { File::open(&path) });
        let file = match opened {
            Ok(file) => file,
            Err(e)
                if !exclusive
                    && matches!(
                        e.kind(),
                        IoKind::NotFound | IoKind::ReadOnlyFilesystem | IoKind::PermissionDenied
                    ) =>
            {
                return Ok(Lock(None));
            }
            Err(e) => return Err(io_error("open the lock file", &path, &e)),
        };
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of `file`.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                return Ok(Lock(Some(file)));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != IoKind::Interrupted {
                return Err(io_error("lock", &path, &e));
            }
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync the directory", dir, &e))
}

/// Writes `bytes` to a new 0600 temp file next to `target` and fsyncs it; returns its path.
fn write_temp(target: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = target.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    if let Err(e) = written {
        fs::remove_file(&temp).ok();
        // The temp file's random name says little: name the file being replaced.
        return Err(io_error("write", target, &e));
    }
    Ok(temp)
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

impl FileStore {
    /// A store under `root` (keys in each instance's `encryption.key`, or
    /// `RUNBEAM_ENCRYPTION_KEY` if set — read now).
    pub fn new(root: impl Into<PathBuf>) -> FileStore {
        FileStore {
            root: root.into(),
            key: std::env::var(ENV_KEY)
                .ok()
                .filter(|k| !k.trim().is_empty())
                .map(Secret::new),
        }
    }

    /// The store at `RUNBEAM_HOME`, else `~/.runbeam`.
    ///
    /// # Errors
    /// `Storage` when neither `RUNBEAM_HOME` nor a home directory is set.
    pub fn from_env() -> Result<FileStore> {
        if let Some(home) = std::env::var_os(ENV_HOME).filter(|h| !h.is_empty()) {
            return Ok(FileStore::new(home));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(FileStore::new(Path::new(&home).join(".runbeam"))),
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
    pub fn with_key(mut self, key: Secret) -> Result<FileStore> {
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
            .join("runbeam")
            .join(format!("{token_type}.json"))
    }

    /// `<root>/<instance>/encryption.key`.
    pub fn key_path(&self, instance_id: &str) -> PathBuf {
        self.root.join(instance_id).join("encryption.key")
    }

    fn token_dir(&self, instance_id: &str) -> Result<PathBuf> {
        let dir = self.root.join(instance_id).join("runbeam");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_error("create the directory", &dir, &e))?;
        Ok(dir)
    }

    /// The instance's key: `RUNBEAM_ENCRYPTION_KEY`, else the key file (created when
    /// `create` and missing).
    fn identity(&self, instance_id: &str, create: bool) -> Result<Identity> {
        if let Some(key) = &self.key {
            return parse_key(key.expose()).ok_or_else(|| {
                Error::new(
                    ErrorKind::StorageCorrupt,
                    format!("{ENV_KEY} is not an age X25519 secret key (AGE-SECRET-KEY-1… or its base64)"),
                )
            });
        }
        let path = self.key_path(instance_id);
        match fs::metadata(&path) {
            Ok(meta) => {
                if meta.mode() & 0o077 != 0 {
                    return Err(Error::new(
                        ErrorKind::Storage,
                        format!(
                            "{} is readable by others (mode {:o}); refusing to use it: run \
                             chmod 600 {} (and consider the key compromised)",
                            path.display(),
                            meta.mode() & 0o777,
                            path.display()
                        ),
                    ));
                }
                let mut bytes = Zeroizing::new(Vec::new());
                File::open(&path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
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
                            "{}: {what} (expected base64 of AGE-SECRET-KEY-1…); restore it \
                             from a backup, or move it away and authorize the gateway again",
                            path.display()
                        ),
                    )
                })
            }
            Err(e) if e.kind() == IoKind::NotFound && create => self.create_key(instance_id, &path),
            Err(e) if e.kind() == IoKind::NotFound => Err(Error::new(
                ErrorKind::StorageCorrupt,
                format!(
                    "{} is missing, so the tokens of '{instance_id}' cannot be decrypted; \
                     restore it or set {ENV_KEY}",
                    path.display()
                ),
            )),
            Err(e) => Err(io_error("read", &path, &e)),
        }
    }

    /// Creates the key file atomically; if another process wins the race, uses its key.
    fn create_key(&self, instance_id: &str, path: &Path) -> Result<Identity> {
        self.token_dir(instance_id)?;
        let identity = Identity::generate();
        let encoded = {
            use age::secrecy::ExposeSecret;
            Zeroizing::new(STANDARD.encode(identity.to_string().expose_secret()))
        };
        let temp = write_temp(path, encoded.as_bytes())?;
        let linked = fs::hard_link(&temp, path);
        fs::remove_file(&temp).ok();
        match linked {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
                tracing::info!(path = %path.display(), "runbeam created an encryption key");
                Ok(identity)
            }
            Err(e) if e.kind() == IoKind::AlreadyExists => self.identity(instance_id, false),
            Err(e) => Err(io_error("create", path, &e)),
        }
    }
}

impl FileStore {
    /// Reads and decrypts a slot; the caller holds a lock.
    fn read_locked(&self, instance_id: &str, path: &Path) -> Result<Option<Secret>> {
        let mut bytes = Vec::new();
        match File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            Ok(_) => {}
            Err(e) if e.kind() == IoKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", path, &e)),
        }
        let identity = self.identity(instance_id, false)?;
        let plain = if bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
            let mut dearmored = Vec::new();
            age::armor::ArmoredReader::new(&bytes[..])
                .read_to_end(&mut dearmored)
                .map_err(|_| corrupt(path, "the ASCII-armored age file is damaged"))?;
            age::decrypt(&identity, &dearmored)
        } else {
            age::decrypt(&identity, &bytes)
        }
        .map_err(|e| {
            corrupt(
                path,
                &format!(
                    "cannot decrypt it ({e}): the file is damaged or was written with another key"
                ),
            )
        })?;
        let plain = Zeroizing::new(plain);
        let text = std::str::from_utf8(&plain)
            .map_err(|_| corrupt(path, "the decrypted token is not UTF-8 JSON"))?;
        Ok(Some(Secret::new(text.to_string())))
    }

    /// Encrypts and atomically replaces the slot; the caller holds the exclusive lock, so
    /// temp files of this slot left by a killed writer can be removed.
    fn write_locked(
        &self,
        instance_id: &str,
        token_type: &str,
        dir: &Path,
        json: &Secret,
    ) -> Result<()> {
        let prefix = format!(".{token_type}.json.");
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&prefix) && name.ends_with(".tmp") {
                    fs::remove_file(entry.path()).ok();
                }
            }
        }
        let identity = self.identity(instance_id, true)?;
        let ciphertext = age::encrypt(&identity.to_public(), json.expose().as_bytes())
            .map_err(|e| Error::new(ErrorKind::Storage, format!("age encryption failed: {e}")))?;
        let path = self.token_path(instance_id, token_type);
        let temp = write_temp(&path, &ciphertext)?;
        if let Err(e) = fs::rename(&temp, &path) {
            fs::remove_file(&temp).ok();
            return Err(io_error("replace", &path, &e));
        }
        sync_dir(dir)
    }
}

impl TokenStore for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn location(&self, instance_id: &str, token_type: &str) -> String {
        self.token_path(instance_id, token_type)
            .display()
            .to_string()
    }

    fn load(&self, instance_id: &str, token_type: &str) -> Result<Option<Secret>> {
        check_slot(instance_id, token_type)?;
        let path = self.token_path(instance_id, token_type);
        let Some(dir) = path.parent().filter(|d| d.is_dir()) else {
            return Ok(None);
        };
        let _lock = Lock::take(dir, false)?;
        self.read_locked(instance_id, &path)
    }

    fn save(&self, instance_id: &str, token_type: &str, json: &Secret) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let dir = self.token_dir(instance_id)?;
        let _lock = Lock::take(&dir, true)?;
        self.write_locked(instance_id, token_type, &dir, json)
    }

    fn update(
        &self,
        instance_id: &str,
        token_type: &str,
        f: &mut dyn FnMut(Option<Secret>) -> Result<Option<Secret>>,
    ) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let dir = self.token_dir(instance_id)?;
        let _lock = Lock::take(&dir, true)?;
        let path = self.token_path(instance_id, token_type);
        let current = self.read_locked(instance_id, &path)?;
        match f(current)? {
            Some(next) => self.write_locked(instance_id, token_type, &dir, &next),
            None => Ok(()),
        }
    }

    fn delete(&self, instance_id: &str, token_type: &str) -> Result<bool> {
        check_slot(instance_id, token_type)?;
        let path = self.token_path(instance_id, token_type);
        let Some(dir) = path.parent().filter(|d| d.is_dir()) else {
            return Ok(false);
        };
        let _lock = Lock::take(dir, true)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == IoKind::NotFound => Ok(false),
            Err(e) => Err(io_error("delete", &path, &e)),
        }
    }
}
