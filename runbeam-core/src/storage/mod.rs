//! Secure token storage (docs/spec.md §5): an OS keyring first, an age-encrypted file as the fallback,
//! chosen automatically by a real probe; typed machine and user tokens on top.
//!
//! ```
//! use runbeam_core::storage::{self, MemoryTokenStore, MachineToken};
//! let store = MemoryTokenStore::new();
//! let token: MachineToken = serde_json::from_str(r#"{"machine_token": "mt",
//!     "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw-1"}"#)?;
//! storage::save_machine_token(&store, "gw-1", &token)?;
//! assert_eq!(storage::load_machine_token(&store, "gw-1")?.unwrap().gateway_id, "gw-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod ids;
mod keyring;
mod manager;
mod memory;
#[cfg(all(target_os = "linux", feature = "secret-service"))]
pub(crate) mod secret_service;
mod secure_fs;
mod token;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use file::{ENV_HOME, ENV_KEY, FileTokenStore};
pub use ids::check_id;
pub use keyring::{KEYRING_TIMEOUT, KeyringKind, KeyringTokenStore, SDK_0_4_ACCOUNT, SERVICE};
pub use manager::{CREDENTIAL_TIMEOUT, Credential, CredentialFn, RenewalWindowFn, TokenManager};
pub use memory::MemoryTokenStore;
pub use token::{DEFAULT_RENEWAL_WINDOW, MachineToken, UserToken};

use crate::Secret;
use crate::error::{Error, ErrorKind, Result};

/// The token type of a gateway's machine token: the slot runbeam-sdk 0.11 (the SDK of today's
/// Runbeam gateways and CLI) uses too, so both read each other's tokens (`runbeam/auth.json`
/// in the file store).
pub const MACHINE_TOKEN: &str = "auth";
/// The token type of a user token, as runbeam-sdk 0.11 names it.
pub const USER_TOKEN: &str = "user_auth";
/// The machine token's slot in librunbeam 0.1. A token found there is moved to
/// [`MACHINE_TOKEN`] by [`load_machine_token`].
pub const LEGACY_MACHINE_TOKEN: &str = "machine_token";
/// The user token's slot in librunbeam 0.1, moved to [`USER_TOKEN`] by [`load_user_token`].
pub const LEGACY_USER_TOKEN: &str = "user_token";
/// Environment variable forcing the backend: `auto`, `keyring` or `file`.
pub const ENV_STORE: &str = "RUNBEAM_TOKEN_STORE";
/// Environment variable with a pre-provisioned machine token (JSON), preferred on load.
pub const ENV_MACHINE_TOKEN: &str = "RUNBEAM_MACHINE_TOKEN";

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStoreBackend {
    /// An OS keyring.
    Keyring,
    /// The age-encrypted files.
    File,
    /// In memory (tests).
    Memory,
}

impl TokenStoreBackend {
    /// `keyring`, `file` or `memory`.
    pub const fn name(self) -> &'static str {
        match self {
            TokenStoreBackend::Keyring => "keyring",
            TokenStoreBackend::File => "file",
            TokenStoreBackend::Memory => "memory",
        }
    }
}

impl fmt::Display for TokenStoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where tokens are kept: one slot per `(instance_id, token_type)`, holding the token JSON.
/// Implementations are blocking (file I/O, D-Bus) and thread-safe.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> TokenStoreBackend;
    /// Where a slot lives, for messages (a path or a keyring entry name).
    fn location(&self, instance_id: &str, token_type: &str) -> String;
    /// The slot's JSON, `None` when empty.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad id, `Storage`, `StorageCorrupt`, `KeyringUnavailable`.
    fn load(&self, instance_id: &str, token_type: &str) -> Result<Option<Secret>>;
    /// Replaces the slot's JSON atomically.
    ///
    /// # Errors
    /// As [`TokenStore::load`]; on error the previous content is intact.
    fn save(&self, instance_id: &str, token_type: &str, json: &Secret) -> Result<()>;
    /// Empties the slot; whether it held something.
    ///
    /// # Errors
    /// As [`TokenStore::load`].
    fn delete(&self, instance_id: &str, token_type: &str) -> Result<bool>;
    /// Moves a machine token that an earlier SDK kept outside this store's slots into
    /// `instance_id`'s [`MACHINE_TOKEN`] slot, and whether it did. Called by
    /// [`load_machine_token`] when that slot is empty. The keyring store adopts runbeam-sdk
    /// 0.4's entry (account `runbeam/auth.json`, one per host) when its `gateway_code` is
    /// `instance_id`; the default does nothing.
    ///
    /// # Errors
    /// The store's errors. An old entry that is not a machine token, or that names another
    /// instance, is left alone (and logged): it is not adopted and not an error.
    fn adopt_legacy_machine_token(&self, instance_id: &str) -> Result<bool> {
        let _ = instance_id;
        Ok(false)
    }

    /// Read-modify-write of a slot: `f` gets the current JSON and returns the new one
    /// (`None` leaves the slot as it is). The file store holds its exclusive lock across the
    /// whole update (no lost update between processes); the memory store its mutex; the
    /// keyring has no lock, so this is a plain load then save there.
    ///
    /// # Errors
    /// The store's errors, or `f`'s.
    fn update(
        &self,
        instance_id: &str,
        token_type: &str,
        f: &mut dyn FnMut(Option<Secret>) -> Result<Option<Secret>>,
    ) -> Result<()> {
        let current = self.load(instance_id, token_type)?;
        match f(current)? {
            Some(next) => self.save(instance_id, token_type, &next),
            None => Ok(()),
        }
    }
}

pub(crate) fn check_slot(instance_id: &str, token_type: &str) -> Result<()> {
    check_id("instance id", instance_id)?;
    check_id("token type", token_type)
}

/// Loads and parses a slot; a wrong shape is `StorageCorrupt` naming where it is.
///
/// # Errors
/// The store's errors, or `StorageCorrupt`.
pub fn load_token<T: DeserializeOwned>(
    store: &dyn TokenStore,
    instance_id: &str,
    token_type: &str,
) -> Result<Option<T>> {
    crate::panic::fault_point("storage");
    let Some(json) = store.load(instance_id, token_type)? else {
        return Ok(None);
    };
    serde_json::from_str(json.expose()).map(Some).map_err(|e| {
        Error::new(
            ErrorKind::StorageCorrupt,
            format!(
                "{}: the stored {} is not valid ({}); it was kept — move it away \
                 and authorize the gateway again",
                store.location(instance_id, token_type),
                describe_slot(token_type),
                describe(&e)
            ),
        )
    })
}

/// Serializes and saves a token.
///
/// # Errors
/// The store's errors.
pub fn save_token<T: Serialize>(
    store: &dyn TokenStore,
    instance_id: &str,
    token_type: &str,
    token: &T,
) -> Result<()> {
    let json = serde_json::to_string(token)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot encode the token: {e}")))?;
    store.save(instance_id, token_type, &Secret::new(json))
}

/// What a slot holds, for messages.
fn describe_slot(token_type: &str) -> &str {
    match token_type {
        MACHINE_TOKEN | LEGACY_MACHINE_TOKEN => "machine token",
        USER_TOKEN | LEGACY_USER_TOKEN => "user token",
        other => other,
    }
}

/// A serde error without the values it may quote (they can be tokens).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.split_once(" at line") {
        Some((before, _)) if !text.contains('"') && !text.contains('`') => before.to_string(),
        _ => format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    }
}

/// The gateway's machine token: `RUNBEAM_MACHINE_TOKEN` (JSON) when set, else the store's.
///
/// # Errors
/// A malformed `RUNBEAM_MACHINE_TOKEN` is `InvalidArgument`; otherwise the store's errors.
pub fn load_machine_token(
    store: &dyn TokenStore,
    instance_id: &str,
) -> Result<Option<MachineToken>> {
    check_id("instance id", instance_id)?;
    if let Some(json) = std::env::var(ENV_MACHINE_TOKEN)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        let json = Secret::new(json);
        return serde_json::from_str(json.expose()).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{ENV_MACHINE_TOKEN} is not a machine token JSON ({}); expected \
                     {{\"machine_token\", \"expires_at\", \"gateway_id\", \"abilities\"}}",
                    describe(&e)
                ),
            )
        });
    }
    if let Some(token) = load_moving(store, instance_id, MACHINE_TOKEN, LEGACY_MACHINE_TOKEN)? {
        return Ok(Some(token));
    }
    if store.adopt_legacy_machine_token(instance_id)? {
        return load_token(store, instance_id, MACHINE_TOKEN);
    }
    Ok(None)
}

/// A user token (the Cloud user's JWT or Sanctum token) of `instance_id`.
///
/// # Errors
/// The store's errors, or `StorageCorrupt`.
pub fn load_user_token(store: &dyn TokenStore, instance_id: &str) -> Result<Option<UserToken>> {
    load_moving(store, instance_id, USER_TOKEN, LEGACY_USER_TOKEN)
}

/// Saves a user token.
///
/// # Errors
/// The store's errors.
pub fn save_user_token(store: &dyn TokenStore, instance_id: &str, token: &UserToken) -> Result<()> {
    save_token(store, instance_id, USER_TOKEN, token)
}

/// Loads `token_type`; when it is empty and librunbeam 0.1's `legacy` slot holds a token,
/// moves that token to `token_type` (written in today's format, then the old slot deleted;
/// logged) and returns it. A token that cannot be moved (a read-only store) is still returned,
/// and the move is tried again at the next load.
fn load_moving<T: Serialize + DeserializeOwned>(
    store: &dyn TokenStore,
    instance_id: &str,
    token_type: &str,
    legacy: &str,
) -> Result<Option<T>> {
    if let Some(token) = load_token(store, instance_id, token_type)? {
        return Ok(Some(token));
    }
    let Some(token) = load_token::<T>(store, instance_id, legacy)? else {
        return Ok(None);
    };
    let from = store.location(instance_id, legacy);
    let to = store.location(instance_id, token_type);
    match save_token(store, instance_id, token_type, &token)
        .and_then(|()| store.delete(instance_id, legacy))
    {
        Ok(_) => tracing::info!(
            target: "runbeam::storage",
            from = %from,
            to = %to,
            "runbeam moved a token stored by librunbeam 0.1 to where runbeam-sdk 0.11 keeps it"
        ),
        Err(e) => tracing::warn!(
            target: "runbeam::storage",
            from = %from,
            to = %to,
            error = %e.message(),
            "runbeam could not move a token stored by librunbeam 0.1; using it where it is"
        ),
    }
    Ok(Some(token))
}

/// Saves the gateway's machine token.
///
/// # Errors
/// The store's errors.
pub fn save_machine_token(
    store: &dyn TokenStore,
    instance_id: &str,
    token: &MachineToken,
) -> Result<()> {
    save_token(store, instance_id, MACHINE_TOKEN, token)
}

/// How to choose the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// Probe the keyring; fall back to the file store.
    Auto,
    /// The keyring or an error.
    Keyring,
    /// The encrypted files.
    File,
}

impl StoreChoice {
    /// From `RUNBEAM_TOKEN_STORE` (unset or empty = auto).
    ///
    /// # Errors
    /// `InvalidArgument` for another value.
    pub fn from_env() -> Result<StoreChoice> {
        let value = std::env::var(ENV_STORE).unwrap_or_default();
        StoreChoice::parse(&value).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{ENV_STORE}='{}' is not one of auto, keyring, file",
                    crate::error::quote_input(&value, 20)
                ),
            )
        })
    }

    /// `auto`, `keyring` or `file` (any case; empty = auto).
    ///
    /// # Errors
    /// `InvalidArgument` for another value.
    ///
    /// ```
    /// use runbeam_core::storage::StoreChoice;
    /// assert_eq!(StoreChoice::parse("File")?, StoreChoice::File);
    /// assert!(StoreChoice::parse("vault").is_err());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<StoreChoice> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(StoreChoice::Auto),
            "keyring" => Ok(StoreChoice::Keyring),
            "file" => Ok(StoreChoice::File),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "token store '{}' is not one of auto, keyring, file",
                    crate::error::quote_input(other, 20)
                ),
            )),
        }
    }
}

/// Opens the store `choice` asks for. `Auto` takes the platform's keyring
/// ([`KeyringTokenStore::platform`]: on Linux the Secret Service) when a real write, read and
/// delete of a probe entry works, else [`FileTokenStore::from_env`]. `Keyring` takes the first
/// usable keyring ([`KeyringTokenStore::first_usable`]: on Linux kernel keyutils after the
/// Secret Service) or fails. Kernel keyutils is not an automatic choice: its entries do not
/// survive a reboot, and a gateway that loses its machine token needs a person to authorize it
/// again, where the encrypted file keeps it (docs/spec.md §5.2). The choice is logged.
///
/// # Errors
/// `KeyringUnavailable` when the keyring is forced but unusable; `Storage` when the file
/// store has no root.
pub fn open_token_store(choice: StoreChoice) -> Result<Arc<dyn TokenStore>> {
    let store: Arc<dyn TokenStore> = match choice {
        StoreChoice::File => Arc::new(FileTokenStore::from_env()?),
        StoreChoice::Keyring => Arc::new(KeyringTokenStore::first_usable()?),
        StoreChoice::Auto => {
            match KeyringTokenStore::platform().and_then(|k| k.probe().map(|()| k)) {
                Ok(keyring) => Arc::new(keyring),
                Err(e) => {
                    tracing::info!(reason = %e.message(), "runbeam: OS keyring unusable, using the encrypted file store");
                    Arc::new(FileTokenStore::from_env()?)
                }
            }
        }
    };
    tracing::info!(backend = %store.backend(), "runbeam token store selected");
    Ok(store)
}

/// [`open_token_store`] with the choice from `RUNBEAM_TOKEN_STORE`.
///
/// # Errors
/// As [`open_token_store`] and [`StoreChoice::from_env`].
pub fn open_default_token_store() -> Result<Arc<dyn TokenStore>> {
    open_token_store(StoreChoice::from_env()?)
}

#[cfg(test)]
mod tests;
