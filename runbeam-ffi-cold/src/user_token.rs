//! `runbeam_user_token`: a user's token (user JWT or Sanctum token) with its expiry and user,
//! as the token store keeps it (docs/spec.md §5.1; `runbeam_token_store_load_user_token()`,
//! `runbeam_token_store_save_user_token()`). The reading of its fields (both date formats,
//! a non-empty token) is the core's `UserToken`.

use std::ffi::{CString, c_char, c_void};
use std::ptr;

use runbeam_core::Secret;
use runbeam_core::storage::UserToken;
use zeroize::Zeroizing;

use crate::error::to_cstring;
use crate::guard::{
    free_handle, guard, invalid_argument, json_arg, opt_str_arg, out_arg, read_handle, str_arg,
};
use crate::status::runbeam_status;
use crate::storage::{optional_unix_secs, rfc3339_text};
use crate::strings::secret_c_bytes;

/// A user's token (a user JWT or Sanctum token, the credential of authorize and revoke), with
/// its expiry and user when known. Immutable; read it from any thread. Create with
/// `runbeam_user_token_new()` or load it with `runbeam_token_store_load_user_token()`; release
/// with `runbeam_user_token_free()`, which zeroizes the token.
#[allow(non_camel_case_types)]
pub struct runbeam_user_token {
    pub token: UserToken,
    /// The secret, NUL-terminated, zeroized on drop.
    secret: Zeroizing<Vec<u8>>,
    expires_at: Option<CString>,
    user_json: Option<CString>,
}

impl runbeam_user_token {
    fn new(token: UserToken) -> runbeam_user_token {
        runbeam_user_token {
            secret: secret_c_bytes(token.token.expose().as_bytes()),
            expires_at: token.expires_at.map(rfc3339_text),
            user_json: token
                .user
                .as_ref()
                .map(|user| to_cstring(&user.to_string())),
            token,
        }
    }

    pub(crate) fn into_raw(token: UserToken) -> *mut runbeam_user_token {
        Box::into_raw(Box::new(runbeam_user_token::new(token)))
    }
}

/// The callback of `runbeam_token_store_load_user_token_async()`, called **exactly once** per
/// accepted call, on a librunbeam runtime thread (or, when the store is freed while the call
/// is in flight, with `RUNBEAM_STATUS_CANCELLED` during `runbeam_token_store_free()`). On
/// success `token` is a **new handle owned by the callback** (free it with
/// `runbeam_user_token_free()`, now or later, on any thread), or NULL when nothing is stored,
/// and `error_message` NULL; on failure `token` is NULL and `error_message` the message (valid
/// during the call only; `runbeam_last_error_*()` describe the failure during the call).
#[allow(non_camel_case_types)]
pub type runbeam_user_token_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        token: *mut runbeam_user_token,
        error_message: *const c_char,
    ),
>;

/// Builds a user token (e.g. after a login) to save with
/// `runbeam_token_store_save_user_token()`. `secret` is the user JWT or Sanctum token
/// (non-empty; copied and zeroized on free); `expires_at` is NULL (unknown) or RFC 3339 or
/// `YYYY-MM-DD HH:MM:SS` (UTC); `user_json` is NULL (unknown) or the user as JSON, as the Cloud
/// gives it: `{"id": "...", "email": "...", "name": "..."}` (runbeam-sdk 0.11 reads a stored
/// user only when it has those three strings). A bad argument is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT`; the message never quotes the secret.
///
/// ```c
/// runbeam_user_token *t = NULL;
/// if (runbeam_user_token_new(jwt, "2026-12-25T18:00:00Z",
///                            "{\"id\":\"7\",\"email\":\"a@example.com\",\"name\":\"A\"}", &t) == RUNBEAM_OK) {
///     runbeam_token_store_save_user_token(store, "radiology-gw-1", t);
///     runbeam_user_token_free(t);
/// }
/// ```
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_new(
    secret: *const c_char,
    expires_at: *const c_char,
    user_json: *const c_char,
    out: *mut *mut runbeam_user_token,
) -> runbeam_status {
    guard("runbeam_user_token_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let secret = unsafe { str_arg(secret, "secret") }?;
        if secret.is_empty() {
            return Err(invalid_argument("argument 'secret' is empty".to_string()));
        }
        // SAFETY: forwarded contract.
        let expires_at = unsafe { opt_str_arg(expires_at, "expires_at") }?;
        let user = if user_json.is_null() {
            None
        } else {
            // SAFETY: forwarded contract.
            Some(unsafe { json_arg(user_json, "user_json") }?)
        };
        // The core's reader of the stored JSON (both date formats). The secret was checked
        // above and is not in this document, so a refusal can only be about the date.
        let read: UserToken = serde_json::from_value(serde_json::json!({
            "token": "x",
            "expires_at": expires_at,
            "user": user,
        }))
        .map_err(|_| {
            invalid_argument(
                "argument 'expires_at' is not a date (expected RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)"
                    .to_string(),
            )
        })?;
        let token = UserToken {
            token: Secret::new(secret.to_string()),
            ..read
        };
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = runbeam_user_token::into_raw(token) };
        Ok(())
    })
}

/// **The secret**: the user JWT or Sanctum token (e.g. for `runbeam_client_config_set_token()`
/// or `runbeam_token_manager_config_set_credential_token()`). Borrowed from `token` (valid
/// until `runbeam_user_token_free()`, which zeroizes it); do not free, log or print it. NULL if
/// `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_secret(
    token: *const runbeam_user_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_user_token_secret", token, ptr::null(), |t| {
            t.secret.as_ptr().cast()
        })
    }
}

/// When the token stops working (Unix seconds) into `*out_unix_secs` when known: returns true
/// then; false (and `*out_unix_secs` untouched) when unknown or `token` is NULL.
/// `out_unix_secs` may be NULL to ask only whether it is known.
///
/// # Safety
/// `token` is NULL or a live handle; `out_unix_secs` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_expires_at(
    token: *const runbeam_user_token,
    out_unix_secs: *mut i64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_user_token_expires_at", token, false, |t| {
            optional_unix_secs(t.token.expires_at, out_unix_secs)
        })
    }
}

/// When the token stops working, as RFC 3339 text (e.g. `"2026-12-25T18:00:00Z"`); NULL when
/// unknown or `token` is NULL. Borrowed from `token`.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_expires_at_rfc3339(
    token: *const runbeam_user_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_user_token_expires_at_rfc3339",
            token,
            ptr::null(),
            |t| t.expires_at.as_ref().map_or(ptr::null(), |at| at.as_ptr()),
        )
    }
}

/// The user the token belongs to, as compact JSON (`{"id":"…","email":"…","name":"…"}` as the
/// Cloud gives it); NULL when unknown or `token` is NULL. Borrowed from `token`.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_user_json(
    token: *const runbeam_user_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_user_token_user_json", token, ptr::null(), |t| {
            t.user_json.as_ref().map_or(ptr::null(), |u| u.as_ptr())
        })
    }
}

/// Whether the token has a known expiry that has passed (false when the expiry is unknown;
/// true if `token` is NULL: nothing usable).
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_is_expired(token: *const runbeam_user_token) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_user_token_is_expired", token, true, |t| {
            t.token.is_expired()
        })
    }
}

/// Releases a user token (the secret is zeroized). NULL is a no-op.
///
/// # Safety
/// `token` is NULL or a handle not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_user_token_free(token: *mut runbeam_user_token) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_user_token_free", token) }
}
