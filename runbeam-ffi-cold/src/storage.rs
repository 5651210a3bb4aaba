//! Token storage and the machine-token lifecycle (docs/spec.md §5) for C: `runbeam_token_store`,
//! `runbeam_machine_token` and `runbeam_token_manager`.
//!
//! The store functions do file or keyring I/O on the calling thread (no runtime needed); the
//! token manager owns one tokio runtime (like a client handle) for its renewals, with a blocking
//! `ensure_token` and a callback (`_async`) form.

use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runbeam_core::client::Client;
use runbeam_core::storage::{
    self, Credential, FileTokenStore, MachineToken, MemoryTokenStore, StoreChoice, TokenManager,
    TokenStore,
};
use runbeam_core::{Error, ErrorKind, Secret};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::client::{
    runbeam_bool_callback, runbeam_cancel, runbeam_client_config, runbeam_status_callback,
};
use crate::error::to_cstring;
use crate::guard::{
    free_handle, guard, guard_value, handle_arg, invalid_argument, opt_str_arg, out_arg,
    read_handle, str_arg,
};
use crate::runtime::{CallbackGate, CallbackOwner, Completion, Runtime, callback_arg, off_thread};
use crate::status::{RUNBEAM_OK, kind_of, runbeam_status};
use crate::strings::secret_c_bytes;
use crate::user_token::{runbeam_user_token, runbeam_user_token_callback};

// ---------------------------------------------------------------------------------------------
// Token stores
// ---------------------------------------------------------------------------------------------

/// Where tokens are kept (docs/spec.md §5.2): the OS keyring, the age-encrypted files or memory.
/// Create with `runbeam_token_store_open()`, `runbeam_token_store_file_new()`,
/// `runbeam_token_store_file_new_with_key()` or `runbeam_token_store_memory_new()`; release
/// with `runbeam_token_store_free()`. Thread-safe; a token manager keeps its own reference, so
/// the store handle may be freed after `runbeam_token_manager_new()`.
///
/// The blocking functions do their file or keyring I/O on the calling thread. The `_async`
/// forms do it on a runtime of the store handle (two `runbeam-worker` threads and a blocking
/// pool, started by the first `_async` call) and never block the caller.
#[allow(non_camel_case_types)]
pub struct runbeam_token_store {
    store: Arc<dyn TokenStore>,
    /// The runtime of the `_async` forms, started by the first of them.
    runtime: OnceLock<Runtime>,
}

fn hand_out_store(store: Arc<dyn TokenStore>, out: *mut *mut runbeam_token_store) {
    let handle = Box::new(runbeam_token_store {
        store,
        runtime: OnceLock::new(),
    });
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = Box::into_raw(handle) };
}

impl runbeam_token_store {
    /// The runtime of the `_async` forms, started on first use.
    fn runtime(&self) -> Result<&Runtime, Error> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        // Two threads racing here both start one; the loser's stops when it is dropped.
        let _ = self.runtime.set(Runtime::new()?);
        self.runtime
            .get()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the store's runtime did not start"))
    }

    /// Starts the `_async` store call `function`: `work` (the store's blocking I/O) runs on a
    /// blocking thread of the store's runtime; its result goes to `completion` exactly once.
    fn start<T: Send + 'static>(
        &self,
        function: &'static str,
        work: impl FnOnce(&dyn TokenStore) -> Result<T, Error> + Send + 'static,
        completion: Completion<T>,
        cancel_out: *mut *mut runbeam_cancel,
    ) -> Result<(), Error> {
        let store = Arc::clone(&self.store);
        self.runtime()?.start(
            function,
            off_thread(function, move || work(&*store)),
            completion,
            cancel_out,
        )
    }
}

/// Opens the token store `choice` names: `"auto"` (probe the OS keyring with a real
/// write/read/delete, fall back to the encrypted files), `"keyring"` or `"file"` (the files
/// under `RUNBEAM_HOME`, else `~/.runbeam`). NULL means the choice of the
/// `RUNBEAM_TOKEN_STORE` environment variable (unset = `"auto"`). The chosen backend is logged
/// and reported by `runbeam_token_store_backend()`.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for another choice (or environment value),
/// `RUNBEAM_STATUS_KEYRING_UNAVAILABLE` when `"keyring"` is forced but unusable,
/// `RUNBEAM_STATUS_STORAGE` when the file store has no home directory.
///
/// ```c
/// runbeam_token_store *store = NULL;
/// if (runbeam_token_store_open(NULL, &store) == RUNBEAM_OK)
///     printf("tokens kept in the %s store\n", runbeam_token_store_backend(store));
/// ```
///
/// # Safety
/// `choice` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_open(
    choice: *const c_char,
    out: *mut *mut runbeam_token_store,
) -> runbeam_status {
    guard("runbeam_token_store_open", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let choice = match unsafe { opt_str_arg(choice, "choice") }? {
            None => StoreChoice::from_env()?,
            Some(text) => StoreChoice::parse(text)?,
        };
        hand_out_store(storage::open_token_store(choice)?, out);
        Ok(())
    })
}

/// The encrypted file store (age X25519) under `root`: tokens in
/// `<root>/<instance_id>/runbeam/<token_type>.json`, the key in
/// `<root>/<instance_id>/encryption.key` unless `RUNBEAM_ENCRYPTION_KEY` is set (read now).
/// Directories are created 0700 and files 0600 on first save. NULL `root` means
/// `RUNBEAM_HOME`, else `~/.runbeam` (`RUNBEAM_STATUS_STORAGE` when there is neither). Nothing
/// is touched on disk by this call.
///
/// # Safety
/// `root` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_file_new(
    root: *const c_char,
    out: *mut *mut runbeam_token_store,
) -> runbeam_status {
    guard("runbeam_token_store_file_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let store = unsafe { file_store(root) }?;
        hand_out_store(Arc::new(store), out);
        Ok(())
    })
}

/// The file store at `root`, or from the environment when `root` is NULL.
///
/// # Safety
/// `root` is NULL or NUL-terminated.
unsafe fn file_store(root: *const c_char) -> Result<FileTokenStore, Error> {
    // SAFETY: forwarded contract.
    match unsafe { opt_str_arg(root, "root") }? {
        None => FileTokenStore::from_env(),
        Some("") => Err(invalid_argument("argument 'root' is empty".to_string())),
        Some(root) => Ok(FileTokenStore::new(root)),
    }
}

/// The encrypted file store under `root`, as `runbeam_token_store_file_new()`, with `key` as
/// the encryption key of every instance instead of the `encryption.key` files (and of
/// `RUNBEAM_ENCRYPTION_KEY`): an age X25519 secret key, raw (`AGE-SECRET-KEY-1…`) or the
/// base64 of it (what a key file holds), e.g. from a secrets manager. Copied; the copy is
/// zeroized when the store is freed. NULL `root` means `RUNBEAM_HOME`, else `~/.runbeam`.
/// Nothing is touched on disk by this call.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL or empty argument or a key that is not
/// an age X25519 secret key (the message never quotes the key); `RUNBEAM_STATUS_STORAGE` when
/// `root` is NULL and there is no home directory.
///
/// ```c
/// runbeam_token_store *store = NULL;
/// if (runbeam_token_store_file_new_with_key("/var/lib/gateway", key_from_vault, &store) != RUNBEAM_OK)
///     fprintf(stderr, "%s\n", runbeam_last_error_message());
/// ```
///
/// # Safety
/// `root` and `key` are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_file_new_with_key(
    root: *const c_char,
    key: *const c_char,
    out: *mut *mut runbeam_token_store,
) -> runbeam_status {
    guard("runbeam_token_store_file_new_with_key", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let key = unsafe { str_arg(key, "key") }?;
        if key.is_empty() {
            return Err(invalid_argument("argument 'key' is empty".to_string()));
        }
        // SAFETY: forwarded contract.
        let store = unsafe { file_store(root) }?.with_key(Secret::new(key.to_string()))?;
        hand_out_store(Arc::new(store), out);
        Ok(())
    })
}

/// A store in memory, empty, private to this handle (and the managers built on it): for tests
/// and for gateways that must not persist tokens.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_memory_new(
    out: *mut *mut runbeam_token_store,
) -> runbeam_status {
    guard("runbeam_token_store_memory_new", || {
        let out = out_arg(out, "out")?;
        hand_out_store(Arc::new(MemoryTokenStore::new()), out);
        Ok(())
    })
}

/// The backend of `store`: `"keyring"`, `"file"` or `"memory"`; `""` if `store` is NULL.
/// Static: do not free.
///
/// # Safety
/// `store` is NULL or a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_backend(
    store: *const runbeam_token_store,
) -> *const c_char {
    guard_value("runbeam_token_store_backend", c"".as_ptr(), || {
        // SAFETY: NULL or live (contract).
        match unsafe { store.as_ref() }.map(|s| s.store.backend()) {
            Some(storage::TokenStoreBackend::Keyring) => c"keyring".as_ptr(),
            Some(storage::TokenStoreBackend::File) => c"file".as_ptr(),
            Some(storage::TokenStoreBackend::Memory) => c"memory".as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// Releases a store handle (managers built on it keep the store alive). NULL is a no-op.
///
/// When an `_async` call of this handle ever started its runtime, the runtime shuts down and
/// its threads are joined; when `runbeam_token_store_free` returns, no callback of this
/// handle's async calls can run any more: calls not finished yet are cancelled and their
/// callbacks get `RUNBEAM_STATUS_CANCELLED` before it returns, a callback that is running is
/// waited for, and so is a store operation already running on a blocking thread (file and
/// keyring I/O cannot be interrupted; a cancelled save may therefore still have been written).
/// So the `user_data` of those calls may be released right after. Called from inside one of
/// its own callbacks, it cannot wait (a callback cannot wait for itself): it cancels the
/// handle's other calls, whose callbacks then run after it returned; keep their `user_data`
/// valid until they were called.
///
/// # Safety
/// `store` is NULL or a store not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_free(store: *mut runbeam_token_store) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_token_store_free", store) }
}

/// Loads the machine token of gateway instance `instance_id`: `RUNBEAM_MACHINE_TOKEN` (JSON)
/// when set, else the store's. On success `*out_token` is a new handle (free it with
/// `runbeam_machine_token_free()`) or NULL when nothing is stored. Blocking (file or keyring
/// I/O on the calling thread); `runbeam_token_store_load_machine_token_async()` is not.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for an id outside `[A-Za-z0-9_.-]{1,128}` (or
/// `.`/`..`: no path escape) or a malformed `RUNBEAM_MACHINE_TOKEN`;
/// `RUNBEAM_STATUS_STORAGE_CORRUPT` for a damaged file, a wrong key or a token of the wrong
/// shape (the message names the file, which is kept); `RUNBEAM_STATUS_STORAGE`,
/// `RUNBEAM_STATUS_KEYRING_UNAVAILABLE`. Messages never contain the token.
///
/// # Safety
/// `store` is NULL or a live store; `instance_id` is NULL or NUL-terminated; `out_token` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_load_machine_token(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    out_token: *mut *mut runbeam_machine_token,
) -> runbeam_status {
    guard("runbeam_token_store_load_machine_token", || {
        let out = out_arg(out_token, "out_token")?;
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let token = storage::load_machine_token(&*store.store, instance)?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_optional(out, token, runbeam_machine_token::into_raw) };
        Ok(())
    })
}

/// Callback form of `runbeam_token_store_load_machine_token()`: returns at once; the store is
/// read on a blocking thread of the store's runtime and `callback` gets a new token handle it
/// owns — NULL (with `RUNBEAM_OK`) when nothing is stored — or the error, exactly once (see
/// `runbeam_machine_token_callback`). The arguments are copied before it returns. If
/// `cancel_out` is not NULL it receives a handle for `runbeam_cancel_request()` (free it with
/// `runbeam_cancel_free()`). A NULL callback is `RUNBEAM_STATUS_INVALID_ARGUMENT` (and nothing
/// is started). `runbeam_token_store_free()` waits for the pending calls of the handle as
/// `runbeam_client_free()` does (they are cancelled; a store operation already running is
/// finished first).
///
/// # Safety
/// As `runbeam_token_store_load_machine_token()`; `user_data` is handed back untouched on a
/// runtime thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_load_machine_token_async(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    callback: runbeam_machine_token_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_store_load_machine_token_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let instance = instance.to_string();
        let completion = Completion::optional_handle(
            callback_arg(callback)?,
            user_data,
            runbeam_machine_token::into_raw,
        );
        store.start(
            NAME,
            move |s| storage::load_machine_token(s, &instance),
            completion,
            cancel_out,
        )
    })
}

/// Saves `token` as the machine token of `instance_id` (atomic replace; on error the previous
/// token is intact). Blocking. Errors as `runbeam_token_store_load_machine_token()`.
///
/// # Safety
/// `store` and `token` are NULL or live handles; `instance_id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_save_machine_token(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token: *const runbeam_machine_token,
) -> runbeam_status {
    guard("runbeam_token_store_save_machine_token", || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        // SAFETY: forwarded contract.
        let token = unsafe { handle_arg(token, "token") }?;
        storage::save_machine_token(&*store.store, instance, &token.token)
    })
}

/// Callback form of `runbeam_token_store_save_machine_token()` (rules:
/// `runbeam_token_store_load_machine_token_async()`); the token is copied, so it may be freed
/// as soon as this returns. `callback` gets the status (see `runbeam_status_callback`).
/// Cancelling stops the wait, not a save already running: the token may still be saved.
///
/// # Safety
/// As `runbeam_token_store_save_machine_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_save_machine_token_async(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token: *const runbeam_machine_token,
    callback: runbeam_status_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_store_save_machine_token_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let instance = instance.to_string();
        // SAFETY: forwarded contract.
        let token = unsafe { handle_arg(token, "token") }?.token.clone();
        let completion = Completion::status(callback_arg(callback)?, user_data);
        store.start(
            NAME,
            move |s| storage::save_machine_token(s, &instance, &token),
            completion,
            cancel_out,
        )
    })
}

/// Loads the user token (user JWT or Sanctum token) kept for `instance_id` (slot `user_auth`,
/// where runbeam-sdk 0.11 keeps it; librunbeam 0.1's slot is moved there on first load). On
/// success `*out_token` is a new handle (free it with `runbeam_user_token_free()`, which
/// zeroizes the token) or NULL when nothing is stored. Blocking. Errors as
/// `runbeam_token_store_load_machine_token()`; messages never contain the token.
///
/// # Safety
/// `store` is NULL or a live store; `instance_id` is NULL or NUL-terminated; `out_token` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_load_user_token(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    out_token: *mut *mut runbeam_user_token,
) -> runbeam_status {
    guard("runbeam_token_store_load_user_token", || {
        let out = out_arg(out_token, "out_token")?;
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let token = storage::load_user_token(&*store.store, instance)?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_optional(out, token, runbeam_user_token::into_raw) };
        Ok(())
    })
}

/// Callback form of `runbeam_token_store_load_user_token()` (rules:
/// `runbeam_token_store_load_machine_token_async()`): `callback` gets a new user token handle
/// it owns, NULL (with `RUNBEAM_OK`) when nothing is stored (see
/// `runbeam_user_token_callback`).
///
/// # Safety
/// As `runbeam_token_store_load_user_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_load_user_token_async(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    callback: runbeam_user_token_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_store_load_user_token_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let instance = instance.to_string();
        let completion = Completion::optional_handle(
            callback_arg(callback)?,
            user_data,
            runbeam_user_token::into_raw,
        );
        store.start(
            NAME,
            move |s| storage::load_user_token(s, &instance),
            completion,
            cancel_out,
        )
    })
}

/// Saves `token` as the user token of `instance_id` (slot `user_auth`, in runbeam-sdk 0.11's
/// JSON; atomic replace). Blocking. Errors as `runbeam_token_store_load_machine_token()`.
///
/// # Safety
/// `store` and `token` are NULL or live handles; `instance_id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_save_user_token(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token: *const runbeam_user_token,
) -> runbeam_status {
    guard("runbeam_token_store_save_user_token", || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        // SAFETY: forwarded contract.
        let token = unsafe { handle_arg(token, "token") }?;
        storage::save_user_token(&*store.store, instance, &token.token)
    })
}

/// Callback form of `runbeam_token_store_save_user_token()` (rules:
/// `runbeam_token_store_save_machine_token_async()`).
///
/// # Safety
/// As `runbeam_token_store_save_user_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_save_user_token_async(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token: *const runbeam_user_token,
    callback: runbeam_status_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_store_save_user_token_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let instance = instance.to_string();
        // SAFETY: forwarded contract.
        let token = unsafe { handle_arg(token, "token") }?.token.clone();
        let completion = Completion::status(callback_arg(callback)?, user_data);
        store.start(
            NAME,
            move |s| storage::save_user_token(s, &instance, &token),
            completion,
            cancel_out,
        )
    })
}

/// Empties the slot `(instance_id, token_type)` (`"auth"`: the machine token, `"user_auth"`: a
/// user token, the names runbeam-sdk 0.11 uses). When
/// `out_existed` is not NULL it receives whether the slot held something. Blocking. Errors as
/// `runbeam_token_store_load_machine_token()`.
///
/// # Safety
/// `store` is NULL or a live store; strings are NULL or NUL-terminated; `out_existed` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_delete(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token_type: *const c_char,
    out_existed: *mut bool,
) -> runbeam_status {
    guard("runbeam_token_store_delete", || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        // SAFETY: forwarded contract.
        let token_type = unsafe { token_type_arg(token_type) }?;
        let existed = store.store.delete(instance, token_type)?;
        if !out_existed.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *out_existed = existed };
        }
        Ok(())
    })
}

/// Callback form of `runbeam_token_store_delete()` (rules:
/// `runbeam_token_store_load_machine_token_async()`): `callback` gets whether the slot held
/// something (see `runbeam_bool_callback`). Cancelling stops the wait, not a delete already
/// running.
///
/// # Safety
/// As `runbeam_token_store_delete()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_store_delete_async(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
    token_type: *const c_char,
    callback: runbeam_bool_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_store_delete_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let (store, instance) = unsafe { store_args(store, instance_id) }?;
        let instance = instance.to_string();
        // SAFETY: forwarded contract.
        let token_type = unsafe { token_type_arg(token_type) }?.to_string();
        let completion = Completion::flag(callback_arg(callback)?, user_data);
        store.start(
            NAME,
            move |s| s.delete(&instance, &token_type),
            completion,
            cancel_out,
        )
    })
}

/// The store and instance id arguments of the store calls; the id is checked by the core's
/// rule now, so that the `_async` forms refuse a bad one before starting anything.
///
/// # Safety
/// `store` is NULL or a live store; `instance_id` is NULL or NUL-terminated.
unsafe fn store_args<'a>(
    store: *const runbeam_token_store,
    instance_id: *const c_char,
) -> Result<(&'a runbeam_token_store, &'a str), Error> {
    // SAFETY: forwarded contract.
    let store = unsafe { handle_arg(store, "store") }?;
    // SAFETY: forwarded contract.
    let instance = unsafe { str_arg(instance_id, "instance_id") }?;
    storage::check_id("instance id", instance)?;
    Ok((store, instance))
}

/// The token type argument of the delete calls, checked by the core's rule.
///
/// # Safety
/// `token_type` is NULL or NUL-terminated.
unsafe fn token_type_arg<'a>(token_type: *const c_char) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let token_type = unsafe { str_arg(token_type, "token_type") }?;
    storage::check_id("token type", token_type)?;
    Ok(token_type)
}

/// Writes a new handle for `value` to `*out`, or NULL for `None`.
///
/// # Safety
/// `out` is non-NULL and writable.
pub(crate) unsafe fn write_optional<T, H>(
    out: *mut *mut H,
    value: Option<T>,
    into_raw: fn(T) -> *mut H,
) {
    let handle = value.map_or(ptr::null_mut(), into_raw);
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = handle };
}

// ---------------------------------------------------------------------------------------------
// Machine tokens
// ---------------------------------------------------------------------------------------------

/// A gateway's machine token (docs/spec.md §5.1): the secret plus its expiry, gateway id, abilities and
/// issue time. Immutable; read it from any thread. Release with `runbeam_machine_token_free()`,
/// which zeroizes the secret.
#[allow(non_camel_case_types)]
pub struct runbeam_machine_token {
    token: MachineToken,
    /// The secret, NUL-terminated, zeroized on drop.
    secret: Zeroizing<Vec<u8>>,
    gateway_id: CString,
    expires_at: CString,
    abilities: Vec<CString>,
}

impl runbeam_machine_token {
    fn new(token: MachineToken) -> runbeam_machine_token {
        let secret = secret_c_bytes(token.machine_token.expose().as_bytes());
        runbeam_machine_token {
            secret,
            gateway_id: to_cstring(&token.gateway_id),
            expires_at: rfc3339_text(token.expires_at),
            abilities: token.abilities.iter().map(|a| to_cstring(a)).collect(),
            token,
        }
    }

    pub(crate) fn into_raw(token: MachineToken) -> *mut runbeam_machine_token {
        Box::into_raw(Box::new(runbeam_machine_token::new(token)))
    }
}

/// The RFC 3339 text of a token time for a `_rfc3339` getter (Unix seconds in the
/// unreachable case of a time RFC 3339 cannot write).
pub(crate) fn rfc3339_text(at: OffsetDateTime) -> CString {
    to_cstring(
        &at.format(&Rfc3339)
            .unwrap_or_else(|_| at.unix_timestamp().to_string()),
    )
}

/// What the getters of an optional time do: writes its Unix seconds to `*out_unix_secs`
/// (unless NULL) and returns true when known; false, `*out_unix_secs` untouched, when not.
///
/// # Safety
/// `out_unix_secs` is NULL or writable.
pub(crate) unsafe fn optional_unix_secs(
    at: Option<OffsetDateTime>,
    out_unix_secs: *mut i64,
) -> bool {
    match at {
        Some(at) => {
            if !out_unix_secs.is_null() {
                // SAFETY: non-NULL and writable per the contract.
                unsafe { *out_unix_secs = at.unix_timestamp() };
            }
            true
        }
        None => false,
    }
}

/// Builds a machine token (e.g. one provisioned out of band) to save with
/// `runbeam_token_store_save_machine_token()`. `secret` is the opaque token (non-empty, copied
/// and zeroized on free), `expires_at` RFC 3339 or `YYYY-MM-DD HH:MM:SS` (UTC), `gateway_id`
/// non-empty. No abilities, no issue time. A bad argument is `RUNBEAM_STATUS_INVALID_ARGUMENT`
/// (the message never quotes the secret).
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_new(
    secret: *const c_char,
    expires_at: *const c_char,
    gateway_id: *const c_char,
    out: *mut *mut runbeam_machine_token,
) -> runbeam_status {
    guard("runbeam_machine_token_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let secret = unsafe { str_arg(secret, "secret") }?;
        // SAFETY: forwarded contract.
        let expires_at = unsafe { str_arg(expires_at, "expires_at") }?;
        // SAFETY: forwarded contract.
        let gateway_id = unsafe { str_arg(gateway_id, "gateway_id") }?;
        if secret.is_empty() {
            return Err(invalid_argument("argument 'secret' is empty".to_string()));
        }
        if gateway_id.is_empty() {
            return Err(invalid_argument(
                "argument 'gateway_id' is empty".to_string(),
            ));
        }
        // The core's parser accepts both date formats; the secret is checked above, so a
        // parse error can only be about the date (whose text is not secret).
        let dated: MachineToken = serde_json::from_value(serde_json::json!({
            "machine_token": "x",
            "expires_at": expires_at,
            "gateway_id": gateway_id,
        }))
        .map_err(|_| {
            invalid_argument(
                "argument 'expires_at' is not a date (expected RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)"
                    .to_string(),
            )
        })?;
        let token = MachineToken {
            machine_token: Secret::new(secret.to_string()),
            ..dated
        };
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = runbeam_machine_token::into_raw(token) };
        Ok(())
    })
}

/// **The secret**: the machine token to send as `Authorization: Bearer` (e.g. with
/// `runbeam_client_with_token()`). Borrowed from `token` (valid until
/// `runbeam_machine_token_free()`, which zeroizes it); do not free, log or print it. NULL if
/// `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_secret(
    token: *const runbeam_machine_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_secret", token, ptr::null(), |t| {
            t.secret.as_ptr().cast()
        })
    }
}

/// The gateway id the token identifies. Borrowed from `token`; NULL if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_gateway_id(
    token: *const runbeam_machine_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_machine_token_gateway_id",
            token,
            ptr::null(),
            |t| t.gateway_id.as_ptr(),
        )
    }
}

/// When the token stops working, in Unix seconds; 0 if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_expires_at(
    token: *const runbeam_machine_token,
) -> i64 {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_expires_at", token, 0, |t| {
            t.token.expires_at.unix_timestamp()
        })
    }
}

/// When the token stops working, as RFC 3339 text (e.g. `"2026-12-25T18:00:00Z"`). Borrowed
/// from `token`; NULL if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_expires_at_rfc3339(
    token: *const runbeam_machine_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_machine_token_expires_at_rfc3339",
            token,
            ptr::null(),
            |t| t.expires_at.as_ptr(),
        )
    }
}

/// When the token was issued (Unix seconds) into `*out_unix_secs` when known: returns true
/// then; false (and `*out_unix_secs` untouched) when unknown or `token` is NULL.
/// `out_unix_secs` may be NULL to ask only whether it is known.
///
/// # Safety
/// `token` is NULL or a live handle; `out_unix_secs` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_issued_at(
    token: *const runbeam_machine_token,
    out_unix_secs: *mut i64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_issued_at", token, false, |t| {
            optional_unix_secs(t.token.issued_at, out_unix_secs)
        })
    }
}

/// How many abilities the token has (0 if `token` is NULL).
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_ability_count(
    token: *const runbeam_machine_token,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_ability_count", token, 0, |t| {
            t.abilities.len()
        })
    }
}

/// Ability number `index` (from 0), borrowed from `token`; NULL when out of range or `token`
/// is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_ability(
    token: *const runbeam_machine_token,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_ability", token, ptr::null(), |t| {
            t.abilities.get(index).map_or(ptr::null(), |a| a.as_ptr())
        })
    }
}

/// Whether the token has expired (true if `token` is NULL: nothing usable).
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_is_expired(
    token: *const runbeam_machine_token,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_is_expired", token, true, |t| {
            t.token.is_expired()
        })
    }
}

/// Milliseconds left before expiry (0 once expired or if `token` is NULL).
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_expires_in_ms(
    token: *const runbeam_machine_token,
) -> u64 {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_expires_in_ms", token, 0, |t| {
            u64::try_from(t.token.expires_in().as_millis()).unwrap_or(u64::MAX)
        })
    }
}

/// Whether the token expires within `window_ms` milliseconds (or has expired): the renewal
/// rule of docs/spec.md §5.3 (default window 7 days = 604800000 ms). True if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_needs_renewal(
    token: *const runbeam_machine_token,
    window_ms: u64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_machine_token_needs_renewal", token, true, |t| {
            t.token.needs_renewal(Duration::from_millis(window_ms))
        })
    }
}

/// Releases a machine token (the secret is zeroized). NULL is a no-op.
///
/// # Safety
/// `token` is NULL or a handle not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_machine_token_free(token: *mut runbeam_machine_token) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_machine_token_free", token) }
}

// ---------------------------------------------------------------------------------------------
// Token manager configuration
// ---------------------------------------------------------------------------------------------

/// Where a credential callback puts the user JWT or Sanctum token it supplies (see
/// `runbeam_credential_callback`). Only valid during the callback.
#[allow(non_camel_case_types)]
pub struct runbeam_credential {
    token: Option<Zeroizing<String>>,
}

/// Supplies the credential (user JWT or Sanctum token) a renewal or revoke needs, e.g. read
/// from a vault. Called only when one is needed, on a librunbeam runtime thread (never
/// concurrently for one manager's renewals, but a revoke may run alongside), so `user_data`
/// must be usable from any thread. It is called by the token manager and by every resolver
/// built from it (`runbeam_resolver_new()`), until the last of those handles is freed.
/// A call that takes longer than 60 s is abandoned (the renewal fails with
/// `RUNBEAM_STATUS_NO_TOKEN`), but the callback itself keeps running on a blocking thread (it
/// cannot be interrupted) and is still waited for by that last free.
///
/// **Ownership**: the callback keeps ownership of its string. It hands it over by calling
/// `runbeam_credential_set_token(out, token)`, which copies it (the copy is zeroized after use),
/// so the callback may wipe and free its own buffer as soon as that call returns. Return
/// `RUNBEAM_OK` after setting the token; any other `runbeam_status` fails the renewal with that
/// status (a status that is not a `RUNBEAM_STATUS_*` code becomes `RUNBEAM_STATUS_NO_TOKEN`);
/// returning `RUNBEAM_OK` without setting a token is `RUNBEAM_STATUS_NO_TOKEN`.
/// The callback must not call blocking librunbeam network functions.
#[allow(non_camel_case_types)]
pub type runbeam_credential_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, out: *mut runbeam_credential) -> runbeam_status,
>;

/// Called when the stored token is inside the renewal window, before the renewal is tried (to
/// log or alert). `token` is borrowed for the duration of the call only (copy what you keep;
/// do not free it). Runs on a librunbeam runtime thread or the thread calling
/// `runbeam_token_manager_ensure_token()`; `user_data` must be usable from any thread. It is
/// called by the token manager and by every resolver built from it (`runbeam_resolver_new()`),
/// until the last of those handles is freed. The renewal waits at most 60 s for it; a call
/// still running then keeps running on a blocking thread and is waited for by that last free.
#[allow(non_camel_case_types)]
pub type runbeam_renewal_window_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, token: *const runbeam_machine_token)>;

/// Hands the credential over from a `runbeam_credential_callback` (copied; see there).
/// An empty token is `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `out` is the pointer the callback received (during the callback); `token` is NULL or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_credential_set_token(
    out: *mut runbeam_credential,
    token: *const c_char,
) -> runbeam_status {
    guard("runbeam_credential_set_token", || {
        // SAFETY: live and exclusively ours during the callback (contract).
        let out = unsafe { out.as_mut() }
            .ok_or_else(|| invalid_argument("argument 'out' is NULL".to_string()))?;
        // SAFETY: forwarded contract.
        let token = unsafe { str_arg(token, "token") }?;
        if token.is_empty() {
            return Err(invalid_argument("argument 'token' is empty".to_string()));
        }
        out.token = Some(Zeroizing::new(token.to_string()));
        Ok(())
    })
}

/// The caller's `user_data` of a callback kept by a manager.
struct SharedUserData(*mut c_void);
// SAFETY: librunbeam never dereferences it; the caller promises (documented on the callback
// types) that it may be used from any thread, concurrently.
unsafe impl Send for SharedUserData {}
// SAFETY: as above.
unsafe impl Sync for SharedUserData {}

impl SharedUserData {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Settings of a token manager, filled by the `runbeam_token_manager_config_set_*` setters and
/// read by `runbeam_token_manager_new()`. Not thread-safe while being set; may create several
/// managers. Release with `runbeam_token_manager_config_free()` (the credential is zeroized).
#[allow(non_camel_case_types)]
pub struct runbeam_token_manager_config {
    instance_id: String,
    client: Option<Client>,
    gateway_code: Option<String>,
    credential: Option<Credential>,
    window: Option<Duration>,
    on_window: Option<Arc<storage::RenewalWindowFn>>,
}

/// Starts the configuration of a token manager for gateway instance `instance_id` (also the
/// gateway code authorized, unless `runbeam_token_manager_config_set_gateway_code()`). The API
/// must be set with `runbeam_token_manager_config_set_api_url()` or
/// `_set_client_config()`. Defaults: no credential (a missing or expired token is an error),
/// renewal window 7 days.
///
/// ```c
/// runbeam_token_manager_config *cfg = NULL;
/// runbeam_token_manager *mgr = NULL;
/// runbeam_machine_token *token = NULL;
/// runbeam_token_manager_config_new("radiology-gw-1", &cfg);
/// runbeam_token_manager_config_set_api_url(cfg, "https://api.runbeam.io");
/// runbeam_token_manager_config_set_credential_token(cfg, "1|sanctum-token");
/// runbeam_token_manager_new(cfg, store, &mgr);
/// runbeam_token_manager_config_free(cfg);
/// if (runbeam_token_manager_ensure_token(mgr, &token) == RUNBEAM_OK) {
///     use(runbeam_machine_token_secret(token));
///     runbeam_machine_token_free(token);
/// }
/// ```
///
/// # Safety
/// `instance_id` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_new(
    instance_id: *const c_char,
    out: *mut *mut runbeam_token_manager_config,
) -> runbeam_status {
    guard("runbeam_token_manager_config_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let instance = unsafe { str_arg(instance_id, "instance_id") }?;
        storage::check_id("instance id", instance)?;
        let config = Box::new(runbeam_token_manager_config {
            instance_id: instance.to_string(),
            client: None,
            gateway_code: None,
            credential: None,
            window: None,
            on_window: None,
        });
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(config) };
        Ok(())
    })
}

/// # Safety
/// `config` is NULL or a live configuration not used by another thread during the call.
unsafe fn with_manager_config(
    function: &str,
    config: *mut runbeam_token_manager_config,
    body: impl FnOnce(&mut runbeam_token_manager_config) -> Result<(), Error>,
) -> runbeam_status {
    guard(function, || {
        // SAFETY: per the contract, non-NULL means a live, exclusively used handle.
        let config = unsafe { config.as_mut() }
            .ok_or_else(|| invalid_argument("argument 'config' is NULL".to_string()))?;
        body(config)
    })
}

/// The API to authorize and revoke with, by URL and default client settings (`http://` only
/// for loopback hosts). Errors as `runbeam_client_new()`.
///
/// # Safety
/// `config` is NULL or a live configuration; `api_url` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_api_url(
    config: *mut runbeam_token_manager_config,
    api_url: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config("runbeam_token_manager_config_set_api_url", config, |c| {
            let url = str_arg(api_url, "api_url")?;
            c.client = Some(Client::builder(url).language("c").build()?);
            Ok(())
        })
    }
}

/// The API to authorize and revoke with, from a client configuration (URL, timeouts, CA
/// bundles, …; its token is ignored: renewals use the manager's credential). Read now;
/// `client_config` may be freed right after. Errors as `runbeam_client_new()`.
///
/// # Safety
/// `config` is NULL or a live configuration; `client_config` is NULL or a live client
/// configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_client_config(
    config: *mut runbeam_token_manager_config,
    client_config: *const runbeam_client_config,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_client_config",
            config,
            |c| {
                let client_config = handle_arg(client_config, "client_config")?;
                c.client = Some(client_config.builder().build()?);
                Ok(())
            },
        )
    }
}

/// The gateway code sent to `/harmony/authorize` and `/harmony/revoke` (default: the instance
/// id). An empty code is `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live configuration; `gateway_code` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_gateway_code(
    config: *mut runbeam_token_manager_config,
    gateway_code: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_gateway_code",
            config,
            |c| {
                let code = str_arg(gateway_code, "gateway_code")?;
                if code.is_empty() {
                    return Err(invalid_argument(
                        "argument 'gateway_code' is empty".to_string(),
                    ));
                }
                c.gateway_code = Some(code.to_string());
                Ok(())
            },
        )
    }
}

/// A fixed renewal credential: a user JWT or Sanctum token (copied; zeroized when the
/// configuration and the managers are freed). Replaces a credential callback. An empty token
/// is `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live configuration; `token` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_credential_token(
    config: *mut runbeam_token_manager_config,
    token: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_credential_token",
            config,
            |c| {
                let token = str_arg(token, "token")?;
                if token.is_empty() {
                    return Err(invalid_argument("argument 'token' is empty".to_string()));
                }
                c.credential = Some(Credential::Token(Secret::new(token.to_string())));
                Ok(())
            },
        )
    }
}

/// A renewal credential supplied on demand by `callback` (see `runbeam_credential_callback`
/// for the ownership rule); replaces a fixed credential token. `user_data` is handed back
/// untouched and must stay valid until every manager built from this configuration **and**
/// every resolver built from those managers are freed (resolvers renew through the callback
/// after the manager's free returned); the last of those frees waits for a call still running.
/// A NULL callback is `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live configuration; `user_data` as documented.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_credential_callback(
    config: *mut runbeam_token_manager_config,
    callback: runbeam_credential_callback,
    user_data: *mut c_void,
) -> runbeam_status {
    let credential = callback.map(|callback| credential_fn(callback, SharedUserData(user_data)));
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_credential_callback",
            config,
            |c| {
                let credential = credential
                    .ok_or_else(|| invalid_argument("argument 'callback' is NULL".to_string()))?;
                c.credential = Some(Credential::Callback(credential));
                Ok(())
            },
        )
    }
}

type CredentialCallback =
    unsafe extern "C" fn(*mut c_void, *mut runbeam_credential) -> runbeam_status;

fn credential_fn(
    callback: CredentialCallback,
    user_data: SharedUserData,
) -> Arc<storage::CredentialFn> {
    Arc::new(move || -> Result<Secret, Error> {
        let mut out = runbeam_credential { token: None };
        // SAFETY: the caller's callback; `out` is valid during the call.
        let status = unsafe { callback(user_data.get(), &mut out) };
        match (status, out.token.take()) {
            (RUNBEAM_OK, Some(token)) => Ok(Secret::new(token.to_string())),
            (RUNBEAM_OK, None) => Err(Error::new(
                ErrorKind::NoToken,
                "the credential callback returned RUNBEAM_OK without calling \
                 runbeam_credential_set_token()",
            )),
            (status, _) => Err(Error::new(
                kind_of(status).unwrap_or(ErrorKind::NoToken),
                format!("the credential callback failed with status {status}"),
            )),
        }
    })
}

/// Renew this many milliseconds before expiry (default 604800000 = 7 days; 0 renews only once
/// expired).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_renewal_window_ms(
    config: *mut runbeam_token_manager_config,
    window_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_renewal_window_ms",
            config,
            |c| {
                c.window = Some(Duration::from_millis(window_ms));
                Ok(())
            },
        )
    }
}

/// `callback` is told when the stored token is inside the renewal window (see
/// `runbeam_renewal_window_callback`); `user_data` must stay valid until every manager built
/// from this configuration **and** every resolver built from those managers are freed
/// (resolvers renew through the manager after its free returned); the last of those frees
/// waits for a call still running. A NULL callback removes it.
///
/// # Safety
/// `config` is NULL or a live configuration; `user_data` as documented.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_set_renewal_window_callback(
    config: *mut runbeam_token_manager_config,
    callback: runbeam_renewal_window_callback,
    user_data: *mut c_void,
) -> runbeam_status {
    let on_window = callback.map(|callback| window_fn(callback, SharedUserData(user_data)));
    // SAFETY: forwarded contract.
    unsafe {
        with_manager_config(
            "runbeam_token_manager_config_set_renewal_window_callback",
            config,
            |c| {
                c.on_window = on_window;
                Ok(())
            },
        )
    }
}

type WindowCallback = unsafe extern "C" fn(*mut c_void, *const runbeam_machine_token);

fn window_fn(callback: WindowCallback, user_data: SharedUserData) -> Arc<storage::RenewalWindowFn> {
    Arc::new(move |token: &MachineToken| {
        let handle = runbeam_machine_token::new(token.clone());
        // SAFETY: the caller's callback; `handle` is borrowed for the call.
        unsafe { callback(user_data.get(), &handle) };
    })
}

/// `credential` behind `gate` (a fixed token as is): once the gate is closed, a renewal fails
/// with `Cancelled` instead of calling the user's callback.
fn gated_credential(credential: &Credential, gate: &Arc<CallbackGate>) -> Credential {
    match credential {
        Credential::Token(_) => credential.clone(),
        Credential::Callback(callback) => {
            let (callback, gate) = (Arc::clone(callback), Arc::clone(gate));
            Credential::Callback(Arc::new(move || {
                gate.enter(|| callback()).unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::Cancelled,
                        "the token manager and every resolver built from it were freed: its \
                         credential callback is not called any more",
                    ))
                })
            }))
        }
    }
}

/// `on_window` behind `gate`: not called once the gate is closed.
fn gated_window(
    on_window: &Arc<storage::RenewalWindowFn>,
    gate: &Arc<CallbackGate>,
) -> Arc<storage::RenewalWindowFn> {
    let (on_window, gate) = (Arc::clone(on_window), Arc::clone(gate));
    Arc::new(move |token: &MachineToken| {
        let _ = gate.enter(|| on_window(token));
    })
}

/// Releases a configuration (its credential is zeroized). NULL is a no-op.
///
/// # Safety
/// `config` is NULL or a configuration not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_config_free(
    config: *mut runbeam_token_manager_config,
) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_token_manager_config_free", config) }
}

// ---------------------------------------------------------------------------------------------
// Token managers
// ---------------------------------------------------------------------------------------------

/// Keeps one gateway instance's machine token valid (docs/spec.md §5.3): load, and when missing,
/// expired or inside the renewal window, re-authorize with the credential (one renewal however
/// many threads ask), save, return. Owns one tokio runtime (two `runbeam-worker` threads).
/// Thread-safe. Release with `runbeam_token_manager_free()`.
#[allow(non_camel_case_types)]
pub struct runbeam_token_manager {
    pub(crate) manager: Arc<TokenManager>,
    runtime: Runtime,
    /// The gate of `manager`'s user callbacks, shared with every resolver built from it
    /// (dropped after the runtime: the calls are settled first).
    pub(crate) callbacks: Arc<CallbackOwner>,
}

/// Creates a manager from `config` (which may be freed right after) keeping tokens in `store`
/// (the manager holds its own reference: `store` may be freed right after too).
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` when no API was set on the configuration.
///
/// # Safety
/// `config` and `store` are NULL or live handles; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_new(
    config: *const runbeam_token_manager_config,
    store: *const runbeam_token_store,
    out: *mut *mut runbeam_token_manager,
) -> runbeam_status {
    guard("runbeam_token_manager_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let config = unsafe { handle_arg(config, "config") }?;
        // SAFETY: forwarded contract.
        let store = unsafe { handle_arg(store, "store") }?;
        let client = config.client.clone().ok_or_else(|| {
            invalid_argument(
                "the token manager configuration has no API: call \
                 runbeam_token_manager_config_set_api_url() or _set_client_config()"
                    .to_string(),
            )
        })?;
        let mut manager =
            TokenManager::new(config.instance_id.clone(), Arc::clone(&store.store), client);
        if let Some(code) = &config.gateway_code {
            manager = manager.gateway_code(code.clone());
        }
        let gate = Arc::new(CallbackGate::default());
        if let Some(credential) = &config.credential {
            manager = manager.credential(gated_credential(credential, &gate));
        }
        if let Some(window) = config.window {
            manager = manager.renewal_window(window);
        }
        if let Some(on_window) = &config.on_window {
            manager = manager.on_renewal_window(gated_window(on_window, &gate));
        }
        let runtime = Runtime::new()?;
        let handle = Box::new(runbeam_token_manager {
            manager: Arc::new(manager),
            runtime,
            callbacks: Arc::new(CallbackOwner(gate)),
        });
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// A valid machine token for the manager's instance, renewing it first when needed (see
/// `runbeam_token_manager`); blocking. `*out_token` is a new handle (free it with
/// `runbeam_machine_token_free()`). A renewal that fails while the stored token is still valid
/// returns the stored token (and logs a warning).
///
/// Errors: `RUNBEAM_STATUS_NO_TOKEN` (nothing stored and no credential) or
/// `RUNBEAM_STATUS_TOKEN_EXPIRED` (expired and no credential), with the next step in the
/// message; the store's errors (`_STORAGE`, `_STORAGE_CORRUPT`, `_KEYRING_UNAVAILABLE`); the
/// API's (`_UNAUTHORIZED` for a bad credential, `_PERMISSION_DENIED`, `_TRANSPORT`, …); the
/// credential callback's status. `RUNBEAM_STATUS_INVALID_ARGUMENT` from a librunbeam callback.
///
/// # Safety
/// `manager` is NULL or a live manager; `out_token` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_ensure_token(
    manager: *const runbeam_token_manager,
    out_token: *mut *mut runbeam_machine_token,
) -> runbeam_status {
    guard("runbeam_token_manager_ensure_token", || {
        let out = out_arg(out_token, "out_token")?;
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let inner = Arc::clone(&m.manager);
        let token = m
            .runtime
            .block_on("runbeam_token_manager_ensure_token", async move {
                inner.ensure_token().await
            })?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = runbeam_machine_token::into_raw(token) };
        Ok(())
    })
}

/// The callback of `runbeam_token_manager_ensure_token_async()`,
/// `runbeam_token_manager_current_async()` and `runbeam_token_store_load_machine_token_async()`,
/// called **exactly once** per accepted call, on a librunbeam runtime thread (or, when the
/// manager or store is freed while the call is in flight, with `RUNBEAM_STATUS_CANCELLED`
/// during its `_free`). On success `token` is a **new handle owned by the callback** (free it
/// with `runbeam_machine_token_free()`, now or later, on any thread) — NULL for `_current` and
/// `_load_machine_token` when nothing is stored — and `error_message` NULL; on failure `token`
/// is NULL and `error_message` the message (valid during the call only;
/// `runbeam_last_error_*()` describe the failure during the call). The callback must not call
/// blocking librunbeam network functions.
#[allow(non_camel_case_types)]
pub type runbeam_machine_token_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        token: *mut runbeam_machine_token,
        error_message: *const c_char,
    ),
>;

/// Callback form of `runbeam_token_manager_ensure_token()`: returns at once; `callback` gets
/// the token (or the error) exactly once. If `cancel_out` is not NULL it receives a handle for
/// `runbeam_cancel_request()` (free it with `runbeam_cancel_free()`). A NULL callback is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// `manager` is NULL or a live manager; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_ensure_token_async(
    manager: *const runbeam_token_manager,
    callback: runbeam_machine_token_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_token_manager_ensure_token_async", || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let completion = Completion::handle(
            callback_arg(callback)?,
            user_data,
            runbeam_machine_token::into_raw,
        );
        let inner = Arc::clone(&m.manager);
        m.runtime.start(
            "runbeam_token_manager_ensure_token_async",
            async move { inner.ensure_token().await },
            completion,
            cancel_out,
        )
    })
}

/// The stored machine token, without renewal (`*out_token` is NULL when none is stored);
/// blocking (store I/O). Errors: the store's.
///
/// # Safety
/// `manager` is NULL or a live manager; `out_token` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_current(
    manager: *const runbeam_token_manager,
    out_token: *mut *mut runbeam_machine_token,
) -> runbeam_status {
    guard("runbeam_token_manager_current", || {
        let out = out_arg(out_token, "out_token")?;
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let inner = Arc::clone(&m.manager);
        let token = m
            .runtime
            .block_on("runbeam_token_manager_current", async move {
                inner.current().await
            })?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_optional(out, token, runbeam_machine_token::into_raw) };
        Ok(())
    })
}

/// Callback form of `runbeam_token_manager_current()` (rules:
/// `runbeam_token_manager_ensure_token_async()`): the store is read on a blocking thread of the
/// manager's runtime; `callback` gets a new token handle it owns, or NULL (with `RUNBEAM_OK`)
/// when none is stored.
///
/// # Safety
/// As `runbeam_token_manager_current()`; `user_data` is handed back untouched on a runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_current_async(
    manager: *const runbeam_token_manager,
    callback: runbeam_machine_token_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_manager_current_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let completion = Completion::optional_handle(
            callback_arg(callback)?,
            user_data,
            runbeam_machine_token::into_raw,
        );
        let inner = Arc::clone(&m.manager);
        m.runtime.start(
            NAME,
            async move { inner.current().await },
            completion,
            cancel_out,
        )
    })
}

/// Revokes every machine token of the gateway at the API (`/harmony/revoke`, with the
/// credential) and clears the stored one; blocking. Errors: `RUNBEAM_STATUS_NO_TOKEN` without a
/// credential; the API's and the store's.
///
/// # Safety
/// `manager` is NULL or a live manager.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_revoke(
    manager: *const runbeam_token_manager,
) -> runbeam_status {
    guard("runbeam_token_manager_revoke", || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let inner = Arc::clone(&m.manager);
        m.runtime
            .block_on("runbeam_token_manager_revoke", async move {
                inner.revoke().await
            })
    })
}

/// Callback form of `runbeam_token_manager_revoke()` (rules:
/// `runbeam_token_manager_ensure_token_async()`): `callback` gets the status (see
/// `runbeam_status_callback`). A cancelled revoke may already have reached the API.
///
/// # Safety
/// `manager` is NULL or a live manager; `user_data` is handed back untouched on a runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_revoke_async(
    manager: *const runbeam_token_manager,
    callback: runbeam_status_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_token_manager_revoke_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        let completion = Completion::status(callback_arg(callback)?, user_data);
        let inner = Arc::clone(&m.manager);
        m.runtime.start(
            NAME,
            async move { inner.revoke().await },
            completion,
            cancel_out,
        )
    })
}

/// Releases a manager: its runtime shuts down and its threads are joined (from a librunbeam
/// callback they stop in the background instead). NULL is a no-op.
///
/// When `runbeam_token_manager_free` returns, no callback of this handle's async calls can run
/// any more: calls not finished yet are cancelled and their callbacks get
/// `RUNBEAM_STATUS_CANCELLED` before it returns (on a runtime thread), and a callback that is
/// running is waited for, however long it takes. So the `user_data` of those calls may be
/// released right after.
///
/// The credential and renewal-window callbacks are different: a resolver built from this
/// manager (`runbeam_resolver_new()`) keeps them and calls them to renew the machine token,
/// also after this free returned. They stop only when the last of the manager and its
/// resolvers is freed: that free closes them (none is called any more) and waits for one still
/// running — without a deadline, including a credential or renewal-window callback the SDK
/// already gave up on after its 60 s timeout, which keeps running on a blocking thread. Only
/// then may their `user_data` be released. (Freeing the last handle of a runtime also joins
/// its threads, which waits for such a callback as well.)
///
/// Called from inside a librunbeam callback, it cannot wait (a callback cannot wait for
/// itself): it cancels the handle's other calls, whose callbacks then run after it returned,
/// once the current callback has returned; keep their `user_data` valid until they were
/// called.
///
/// # Safety
/// `manager` is NULL or a manager not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_free(manager: *mut runbeam_token_manager) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_token_manager_free", manager) }
}
