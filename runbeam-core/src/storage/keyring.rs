//! The OS keyring backend (docs/spec.md §5.2): service `runbeam`, account `<instance_id>/<token_type>`.
//! On Linux: the Secret Service over D-Bus (GNOME Keyring, KWallet) or kernel keyutils; on
//! macOS the login Keychain; on Windows the Credential Manager (these two are wired but not
//! compiled or tested in the Linux development environment).
//!
//! Every keyring call runs on a helper thread under [`KEYRING_TIMEOUT`]; a call that times out
//! keeps running. Writes (save, delete) of one slot (instance, token type) are therefore
//! ordered: each gets the next generation of its slot and runs holding the slot's lock, and a
//! write that gets the lock after a newer write of its slot was issued is skipped. So a save
//! that timed out can never land later over a newer token.
//!
//! The semantics are last-writer-wins per slot, by the order in which writes were issued (not
//! the order they reach the keyring). A skipped write reports success (`Ok`: `()` for a save,
//! `false` for a delete) without touching the keyring: its value was superseded by a newer
//! write of the same slot issued after it, and that newer write reports its own result —
//! possibly an error — to its own caller. So `Ok` from a superseded save does not mean its
//! token is stored, nor that the slot holds any token: when the newer write fails, the slot
//! keeps whatever it held before (neither value may be in it). A caller that needs to know
//! what is stored reads the slot back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use super::{MACHINE_TOKEN, MachineToken, TokenStore, TokenStoreBackend, check_slot, save_token};
use crate::Secret;
use crate::error::{Error, ErrorKind, Result};

/// The keyring service name of every entry.
pub const SERVICE: &str = "runbeam";
/// The account of runbeam-sdk 0.4's machine token under [`SERVICE`]: one entry per host,
/// whose JSON names its instance in `gateway_code`. [`KeyringTokenStore`] moves it into the
/// instance's own slot the first time that instance loads its machine token.
pub const SDK_0_4_ACCOUNT: &str = "runbeam/auth.json";
/// How long a keyring call may take before the store is considered unavailable (a locked
/// keyring can wait for a prompt forever).
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Which OS keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringKind {
    /// The freedesktop Secret Service (Linux desktops, gnome-keyring-daemon).
    SecretService,
    /// The Linux kernel key retention service (session keyring; not persistent).
    KeyUtils,
    /// The macOS login Keychain ("legacy" keychain store).
    MacosKeychain,
    /// The Windows Credential Manager (generic credentials).
    WindowsCredentialManager,
}

/// A token store in an OS keyring. Entries are built from this store object, never from a
/// process-global default, so several stores can coexist.
pub struct KeyringTokenStore {
    store: Arc<CredentialStore>,
    kind: KeyringKind,
    order: WriteOrder,
}

/// The generations and locks of the slots this store wrote to (see the module documentation).
#[derive(Default)]
struct WriteOrder {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One slot: the generation of its newest write, and the lock its writes run under.
#[derive(Default)]
struct Slot {
    newest: AtomicU64,
    writing: Mutex<()>,
}

/// The right of one write to run, unless a newer write of its slot was issued first.
struct WriteTicket {
    slot: Arc<Slot>,
    generation: u64,
}

impl WriteOrder {
    /// The next write of `account`: newer than every write issued before.
    fn ticket(&self, account: &str) -> WriteTicket {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(account.to_string()).or_default())
        };
        let generation = slot.newest.fetch_add(1, Ordering::SeqCst) + 1;
        WriteTicket { slot, generation }
    }
}

impl WriteTicket {
    /// Runs `write` holding the slot's lock, or returns `Ok(skipped)` without running it when
    /// a newer write of the slot was issued in the meantime (that one's value must win, and
    /// it reports its own result, success or failure, to its own caller).
    fn run<T>(self, skipped: T, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let writing = self
            .slot
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.slot.newest.load(Ordering::SeqCst) != self.generation {
            // Logged without the lock: a host's log handler may wait for a lock (Python's
            // GIL) whose holder waits for this slot.
            drop(writing);
            tracing::debug!(
                target: "runbeam::storage",
                "keyring write skipped: a newer write of the same slot was issued"
            );
            return Ok(skipped);
        }
        write()
    }
}

impl std::fmt::Debug for KeyringTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringTokenStore")
            .field("kind", &self.kind)
            .finish()
    }
}

fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::KeyringUnavailable,
        format!(
            "the OS keyring is unavailable ({what}): {e}; set RUNBEAM_TOKEN_STORE=file to use the encrypted file store"
        ),
    )
}

fn map_err(action: &str, account: &str, e: keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(p) => unavailable(&format!("{action} {account}: locked or denied"), &p),
        K::PlatformFailure(p) => unavailable(&format!("{action} {account}"), &p),
        other => Error::new(
            ErrorKind::Storage,
            format!("keyring: cannot {action} {SERVICE}/{account}: {other}"),
        ),
    }
}

/// Runs `f` on a helper thread and gives up after [`KEYRING_TIMEOUT`].
fn with_deadline<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("runbeam-keyring".into())
        .spawn(move || {
            tx.send(f()).ok();
        })
        .map_err(|e| unavailable(what, &e))?;
    rx.recv_timeout(KEYRING_TIMEOUT).unwrap_or_else(|_| {
        Err(unavailable(
            what,
            &format!(
                "no answer within {}s (a locked keyring waiting for a prompt?)",
                KEYRING_TIMEOUT.as_secs()
            ),
        ))
    })
}

impl KeyringTokenStore {
    /// The Secret Service store (needs a D-Bus session bus with a Secret Service daemon).
    ///
    /// # Errors
    /// `KeyringUnavailable` when there is no session bus or no daemon, or when this build
    /// leaves the Secret Service out (the `secret-service` feature, on by default).
    #[cfg(target_os = "linux")]
    pub fn secret_service() -> Result<KeyringTokenStore> {
        #[cfg(feature = "secret-service")]
        {
            let store: Arc<CredentialStore> =
                with_deadline("connecting to the Secret Service", || {
                    let store: Arc<CredentialStore> = super::secret_service::Store::new()
                        .map_err(|e| unavailable("connecting to the Secret Service", &e))?;
                    Ok(store)
                })?;
            Ok(KeyringTokenStore {
                store,
                kind: KeyringKind::SecretService,
                order: WriteOrder::default(),
            })
        }
        #[cfg(not(feature = "secret-service"))]
        {
            Err(Error::new(
                ErrorKind::KeyringUnavailable,
                "the Secret Service is not in this build of librunbeam (built without \
                 runbeam-core's `secret-service` feature); kernel keyutils or the encrypted \
                 file store keeps the tokens",
            ))
        }
    }

    /// The kernel keyutils store (the calling process's session keyring).
    ///
    /// # Errors
    /// `KeyringUnavailable` when keyutils cannot be used.
    #[cfg(target_os = "linux")]
    pub fn keyutils() -> Result<KeyringTokenStore> {
        let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()
            .map_err(|e| unavailable("opening kernel keyutils", &e))?;
        Ok(KeyringTokenStore {
            store,
            kind: KeyringKind::KeyUtils,
            order: WriteOrder::default(),
        })
    }

    /// The macOS login Keychain.
    ///
    /// # Errors
    /// `KeyringUnavailable` when it cannot be opened.
    #[cfg(target_os = "macos")]
    pub fn macos_keychain() -> Result<KeyringTokenStore> {
        let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()
            .map_err(|e| unavailable("opening the macOS Keychain", &e))?;
        Ok(KeyringTokenStore {
            store,
            kind: KeyringKind::MacosKeychain,
            order: WriteOrder::default(),
        })
    }

    /// The Windows Credential Manager.
    ///
    /// # Errors
    /// `KeyringUnavailable` when it cannot be opened.
    #[cfg(windows)]
    pub fn windows_credential_manager() -> Result<KeyringTokenStore> {
        let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()
            .map_err(|e| unavailable("opening the Windows Credential Manager", &e))?;
        Ok(KeyringTokenStore {
            store,
            kind: KeyringKind::WindowsCredentialManager,
            order: WriteOrder::default(),
        })
    }

    /// The platform's preferred keyring: Linux the Secret Service, macOS the login Keychain,
    /// Windows the Credential Manager.
    ///
    /// # Errors
    /// `KeyringUnavailable` when it cannot be reached or none is built for this platform.
    pub fn platform() -> Result<KeyringTokenStore> {
        #[cfg(target_os = "linux")]
        {
            KeyringTokenStore::secret_service()
        }
        #[cfg(target_os = "macos")]
        {
            KeyringTokenStore::macos_keychain()
        }
        #[cfg(windows)]
        {
            KeyringTokenStore::windows_credential_manager()
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        {
            Err(Error::new(
                ErrorKind::KeyringUnavailable,
                "no OS keyring backend is built for this platform yet; the encrypted file store is used",
            ))
        }
    }

    /// The first keyring of this platform that passes a real write, read and delete
    /// ([`KeyringTokenStore::probe`]): what `RUNBEAM_TOKEN_STORE=keyring` opens. On Linux: the
    /// Secret Service, or — when there is none (no session bus, no daemon; a locked one is an
    /// error) — kernel keyutils, only when the user's persistent keyring is available, so
    /// tokens outlive the session and the service's restarts (they never outlive a reboot:
    /// that is logged as a warning when keyutils is chosen). Elsewhere:
    /// [`KeyringTokenStore::platform`].
    ///
    /// # Errors
    /// `KeyringUnavailable` saying why each keyring was not usable.
    pub fn first_usable() -> Result<KeyringTokenStore> {
        #[cfg(target_os = "linux")]
        {
            // A Secret Service that answers but refuses (locked, denied) is an error to report,
            // not a reason to move tokens somewhere else: keyutils stands in only where there
            // is no Secret Service at all (no session bus, no daemon).
            let secret_service = match KeyringTokenStore::secret_service() {
                Ok(keyring) => return keyring.probe().map(|()| keyring),
                Err(e) => e,
            };
            let keyutils = persistent_keyring()
                .and_then(|()| KeyringTokenStore::keyutils())
                .and_then(|k| k.probe().map(|()| k));
            match keyutils {
                Ok(keyring) => {
                    tracing::warn!(
                        target: "runbeam::storage",
                        "runbeam keeps tokens in kernel keyutils (no Secret Service): they are \
                         lost when the machine restarts; set RUNBEAM_TOKEN_STORE=file to keep \
                         them on disk"
                    );
                    Ok(keyring)
                }
                Err(e) => Err(Error::new(
                    ErrorKind::KeyringUnavailable,
                    format!("{}; and {}", secret_service.message(), e.message()),
                )),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let keyring = KeyringTokenStore::platform()?;
            keyring.probe()?;
            Ok(keyring)
        }
    }

    /// Which keyring this is.
    pub fn kind(&self) -> KeyringKind {
        self.kind
    }

    fn entry(&self, account: &str) -> Result<Entry> {
        self.store
            .build(SERVICE, account, None)
            .map_err(|e| map_err("open", account, e))
    }

    /// A real write, read and delete of a probe entry, within the deadline.
    ///
    /// # Errors
    /// `KeyringUnavailable` (or `Storage`) saying what failed.
    pub fn probe(&self) -> Result<()> {
        let account = format!("probe-{}-{:x}", std::process::id(), rand::random::<u32>());
        let store = Arc::clone(&self.store);
        with_deadline("probing", move || {
            let entry = store
                .build(SERVICE, &account, None)
                .map_err(|e| map_err("open", &account, e))?;
            entry
                .set_password("probe")
                .map_err(|e| map_err("write", &account, e))?;
            let read = entry
                .get_password()
                .map_err(|e| map_err("read", &account, e))?;
            entry
                .delete_credential()
                .map_err(|e| map_err("delete", &account, e))?;
            if read != "probe" {
                return Err(unavailable(
                    "probing",
                    &"the probe entry read back differently",
                ));
            }
            Ok(())
        })
    }
}

impl TokenStore for KeyringTokenStore {
    fn backend(&self) -> TokenStoreBackend {
        TokenStoreBackend::Keyring
    }

    fn location(&self, instance_id: &str, token_type: &str) -> String {
        format!("keyring {SERVICE}/{instance_id}/{token_type}")
    }

    fn load(&self, instance_id: &str, token_type: &str) -> Result<Option<Secret>> {
        check_slot(instance_id, token_type)?;
        self.read_account(format!("{instance_id}/{token_type}"))
    }

    /// Ordered per slot, last writer wins (see the module documentation): a save superseded
    /// by a newer save or delete of the same slot before it could start is skipped and
    /// returns `Ok(())` without writing, even when that newer write then fails (the newer
    /// write reports its own result to its caller).
    fn save(&self, instance_id: &str, token_type: &str, json: &Secret) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let account = format!("{instance_id}/{token_type}");
        let entry = self.entry(&account)?;
        let json = json.clone();
        let ticket = self.order.ticket(&account);
        with_deadline("writing", move || {
            ticket.run((), || {
                entry
                    .set_password(json.expose())
                    .map_err(|e| map_err("write", &account, e))
            })
        })
    }

    /// runbeam-sdk 0.4 kept one machine token per host at [`SDK_0_4_ACCOUNT`]; when its
    /// `gateway_code` is `instance_id`, it is written to the instance's slot and the old entry
    /// deleted (so the identity is moved, not copied), and the move is logged.
    fn adopt_legacy_machine_token(&self, instance_id: &str) -> Result<bool> {
        check_slot(instance_id, MACHINE_TOKEN)?;
        let Some(json) = self.read_account(SDK_0_4_ACCOUNT.to_string())? else {
            return Ok(false);
        };
        let old = match serde_json::from_str::<Sdk04MachineToken>(json.expose()) {
            Ok(old) => old,
            Err(e) => {
                tracing::warn!(
                    target: "runbeam::storage",
                    entry = %format!("keyring {SERVICE}/{SDK_0_4_ACCOUNT}"),
                    error = %super::describe(&e),
                    "runbeam left runbeam-sdk 0.4's keyring entry alone: it is not a machine token"
                );
                return Ok(false);
            }
        };
        if old.gateway_code != instance_id {
            tracing::debug!(
                target: "runbeam::storage",
                "runbeam-sdk 0.4's keyring entry belongs to another instance"
            );
            return Ok(false);
        }
        save_token(self, instance_id, MACHINE_TOKEN, &old.token)?;
        let deleted = self.delete_account(SDK_0_4_ACCOUNT.to_string());
        tracing::info!(
            target: "runbeam::storage",
            from = %format!("keyring {SERVICE}/{SDK_0_4_ACCOUNT}"),
            to = %self.location(instance_id, MACHINE_TOKEN),
            old_entry_deleted = deleted.is_ok(),
            "runbeam moved the machine token runbeam-sdk 0.4 stored in the keyring"
        );
        Ok(true)
    }

    /// Ordered per slot like [`KeyringTokenStore::save`]; a superseded delete is skipped and
    /// reports `Ok(false)` (it deleted nothing), even when the newer write then fails.
    fn delete(&self, instance_id: &str, token_type: &str) -> Result<bool> {
        check_slot(instance_id, token_type)?;
        self.delete_account(format!("{instance_id}/{token_type}"))
    }
}

/// Whether the calling user's persistent kernel keyring can be linked into this thread's
/// session keyring (`keyctl(KEYCTL_GET_PERSISTENT)`): what keeps keyutils entries across
/// sessions and service restarts.
#[cfg(target_os = "linux")]
fn persistent_keyring() -> Result<()> {
    const KEYCTL_GET_PERSISTENT: libc::c_long = 22;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const CURRENT_UID: libc::c_long = -1;
    // SAFETY: keyctl with integer arguments only; it links (or creates) a keyring, nothing
    // in this process's memory is touched.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_PERSISTENT,
            CURRENT_UID,
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    if id < 0 {
        return Err(unavailable(
            "kernel keyutils",
            &format!(
                "no persistent keyring for this user ({})",
                std::io::Error::last_os_error()
            ),
        ));
    }
    Ok(())
}

/// runbeam-sdk 0.4's machine token: librunbeam's fields plus the instance it belongs to.
#[derive(serde::Deserialize)]
struct Sdk04MachineToken {
    #[serde(flatten)]
    token: MachineToken,
    gateway_code: String,
}

impl KeyringTokenStore {
    /// The entry of `account`, `None` when there is none.
    fn read_account(&self, account: String) -> Result<Option<Secret>> {
        let entry = self.entry(&account)?;
        with_deadline("reading", move || match entry.get_password() {
            Ok(text) => Ok(Some(Secret::new(text))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err("read", &account, e)),
        })
    }

    /// Deletes the entry of `account`, ordered with the other writes of that slot (see the
    /// module documentation); whether it existed.
    fn delete_account(&self, account: String) -> Result<bool> {
        let entry = self.entry(&account)?;
        let ticket = self.order.ticket(&account);
        with_deadline("deleting", move || {
            ticket.run(false, || match entry.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(map_err("delete", &account, e)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    /// A build without the Secret Service says so where a user looks (the error of
    /// `RUNBEAM_TOKEN_STORE=keyring`, the log line of `auto`) instead of a D-Bus failure.
    #[cfg(all(target_os = "linux", not(feature = "secret-service")))]
    #[test]
    fn a_build_without_the_secret_service_names_the_feature() {
        let Err(e) = KeyringTokenStore::secret_service() else {
            panic!("a build without the feature has no Secret Service store");
        };
        assert_eq!(e.kind(), ErrorKind::KeyringUnavailable);
        assert!(
            e.message().contains("`secret-service` feature"),
            "{}",
            e.message()
        );
        if let Err(e) = KeyringTokenStore::first_usable() {
            assert!(e.message().contains("not in this build"), "{}", e.message());
        }
    }

    /// What a slot holds: the value of the last write that ran.
    type Stored = Arc<Mutex<Option<&'static str>>>;

    fn write(stored: &Stored, value: &'static str) -> impl FnOnce() -> Result<bool> + use<> {
        let stored = Arc::clone(stored);
        move || {
            *stored.lock().unwrap() = Some(value);
            Ok(true)
        }
    }

    /// The skip is logged without the slot's lock: a host's log handler may wait for a lock
    /// (Python's GIL) whose holder waits for this slot.
    #[test]
    fn a_skipped_write_is_logged_without_the_slot_lock() {
        use std::sync::atomic::AtomicBool;
        let order = WriteOrder::default();
        let late = order.ticket("gw-1/machine");
        let _newer = order.ticket("gw-1/machine");
        let slot = Arc::clone(&late.slot);
        let (seen, free) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(true)),
        );
        let _records = {
            let (seen, free) = (Arc::clone(&seen), Arc::clone(&free));
            crate::log::on_records(move |message| {
                if message.starts_with("keyring write skipped") {
                    seen.store(true, Ordering::SeqCst);
                    if slot.writing.try_lock().is_err() {
                        free.store(false, Ordering::SeqCst);
                    }
                }
            })
        };
        assert!(!late.run(false, || Ok(true)).unwrap());
        assert!(seen.load(Ordering::SeqCst), "the skip was logged");
        assert!(
            free.load(Ordering::SeqCst),
            "logged while holding the slot's lock"
        );
    }

    #[test]
    fn a_write_overtaken_before_it_ran_is_skipped() {
        let order = WriteOrder::default();
        let stored = Stored::default();
        let late = order.ticket("gw-1/machine");
        let newer = order.ticket("gw-1/machine");
        let other_slot = order.ticket("gw-2/machine");
        assert!(newer.run(false, write(&stored, "new")).unwrap());
        assert!(!late.run(false, write(&stored, "old")).unwrap());
        assert_eq!(*stored.lock().unwrap(), Some("new"));
        // Slots are independent.
        assert!(other_slot.run(false, || Ok(true)).unwrap());
    }

    #[test]
    fn a_timed_out_write_waiting_behind_a_blocked_one_never_lands_over_a_newer_one() {
        let order = WriteOrder::default();
        let stored = Stored::default();
        let (started, has_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        // A: runs and blocks inside the keyring (a locked keyring) until released.
        let a = order.ticket("gw-1/machine");
        let in_keyring = write(&stored, "A");
        let first = thread::spawn(move || {
            a.run(false, move || {
                started.send(()).unwrap();
                released.recv().unwrap();
                in_keyring()
            })
        });
        has_started.recv().unwrap();
        // B is issued (its caller will time out waiting), then C, the newest token; both
        // helper threads wait for the slot, in either order.
        let b = order.ticket("gw-1/machine");
        let c = order.ticket("gw-1/machine");
        let b_write = write(&stored, "B");
        let second = thread::spawn(move || b.run(false, b_write));
        let c_write = write(&stored, "C");
        let third = thread::spawn(move || c.run(false, c_write));
        release.send(()).unwrap();
        assert!(first.join().unwrap().unwrap());
        assert!(!second.join().unwrap().unwrap(), "B was overtaken: skipped");
        assert!(third.join().unwrap().unwrap());
        assert_eq!(*stored.lock().unwrap(), Some("C"));
    }
}
