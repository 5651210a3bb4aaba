//! `runbeam_claims`' getters: a validated token's claims (docs/spec.md §4).

use runbeam_core::jwt::Claims;
use runbeam_ffi_cold::claims::*;
use runbeam_ffi_cold::error::to_cstring;
use runbeam_ffi_cold::guard::{free_handle, guard, guard_value, handle_arg, out_arg, str_arg};
use runbeam_ffi_cold::status::runbeam_status;
use runbeam_ffi_cold::strings::into_c_string;
use std::ffi::c_char;
use std::ptr;

/// `iss`: the issuer, exactly as the token carries it; NULL when absent (a validator with
/// trusted issuers never accepts that) or when `claims` is NULL. Borrowed from `claims`:
/// valid until `runbeam_claims_free()`; do not free.
///
/// ```c
/// printf("user %s of team %s\n", runbeam_claims_user_email(c), runbeam_claims_team_name(c));
/// ```
///
/// # Safety
/// `claims` is NULL or a live claims handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_iss(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_iss", claims, Field::Iss) }
}

/// `sub`: the subject (a user id, or `gateway:<id>` for a mesh token); NULL when absent.
/// Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_sub(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_sub", claims, Field::Sub) }
}

/// `jti`: the token's unique id; NULL when absent. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_jti(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_jti", claims, Field::Jti) }
}

/// `user.id` of a Runbeam user JWT (a number is given as its decimal text); NULL when the
/// token has no `user`. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_user_id(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_user_id", claims, Field::UserId) }
}

/// `user.email`; NULL when absent. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_user_email(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_user_email", claims, Field::UserEmail) }
}

/// `user.name`; NULL when absent. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_user_name(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_user_name", claims, Field::UserName) }
}

/// `team.id` of a Runbeam user JWT; NULL when the token has no `team`. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_team_id(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_team_id", claims, Field::TeamId) }
}

/// `team.name`; NULL when absent. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_team_name(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_team_name", claims, Field::TeamName) }
}

/// `mesh_id` of a mesh token; NULL when absent. Borrowed from `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_mesh_id(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_mesh_id", claims, Field::MeshId) }
}

/// `dest_url` of a mesh token: the URL it was issued for; NULL when absent. Borrowed from
/// `claims`.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_dest_url(claims: *const runbeam_claims) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_claims_dest_url", claims, Field::DestUrl) }
}

/// `exp`, seconds since the Unix epoch (always present: tokens without it are refused);
/// 0 when `claims` is NULL.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_exp(claims: *const runbeam_claims) -> i64 {
    guard_value("runbeam_claims_exp", 0, || {
        // SAFETY: NULL or live (contract).
        unsafe { claims.as_ref() }.map_or(0, |c| c.claims.exp)
    })
}

/// `iat` (seconds since the epoch): returns true and writes it to `*out` (when `out` is not
/// NULL) if the token has it; false (`*out` untouched) otherwise or when `claims` is NULL.
///
/// ```c
/// int64_t iat;
/// if (runbeam_claims_iat(c, &iat)) printf("issued at %lld\n", (long long)iat);
/// ```
///
/// # Safety
/// `claims` is NULL or a live claims handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_iat(claims: *const runbeam_claims, out: *mut i64) -> bool {
    // SAFETY: forwarded contract.
    unsafe { time_of("runbeam_claims_iat", claims, out, |c| c.iat) }
}

/// `nbf` (seconds since the epoch), like `runbeam_claims_iat()`.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_nbf(claims: *const runbeam_claims, out: *mut i64) -> bool {
    // SAFETY: forwarded contract.
    unsafe { time_of("runbeam_claims_nbf", claims, out, |c| c.nbf) }
}

/// Number of audiences in `aud` (0 when absent, 1 for a string, the list's length for a
/// list); 0 when `claims` is NULL.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_aud_count(claims: *const runbeam_claims) -> usize {
    guard_value("runbeam_claims_aud_count", 0, || {
        // SAFETY: NULL or live (contract).
        unsafe { claims.as_ref() }.map_or(0, |c| c.audiences().len())
    })
}

/// Audience `index` (in token order) of `aud`; NULL when out of range or `claims` is NULL.
/// Borrowed from `claims`.
///
/// ```c
/// for (size_t i = 0; i < runbeam_claims_aud_count(c); i++) puts(runbeam_claims_aud(c, i));
/// ```
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_aud(
    claims: *const runbeam_claims,
    index: usize,
) -> *const c_char {
    guard_value("runbeam_claims_aud", ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { claims.as_ref() }
            .and_then(|c| c.audiences().get(index))
            .map_or(ptr::null(), |a| a.as_ptr())
    })
}

/// The whole payload, every claim (custom ones too), as the JSON object the token carried.
/// Borrowed from `claims` (valid until `runbeam_claims_free()`; do not free); NULL when
/// `claims` is NULL.
///
/// # Safety
/// `claims` is NULL or a live claims handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_json(claims: *const runbeam_claims) -> *const c_char {
    guard_value("runbeam_claims_json", ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { claims.as_ref() }.map_or(ptr::null(), |c| {
            c.json.get_or_init(|| to_cstring(c.claims.json())).as_ptr()
        })
    })
}

/// Whether the claim `name` (any claim, custom ones too) is present and not null; false when
/// `claims` or `name` is NULL or `name` is not UTF-8.
///
/// # Safety
/// `claims` is NULL or a live claims handle; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_has(
    claims: *const runbeam_claims,
    name: *const c_char,
) -> bool {
    guard_value("runbeam_claims_has", false, || {
        // SAFETY: NULL or live (contract).
        let Some(c) = (unsafe { claims.as_ref() }) else {
            return false;
        };
        // SAFETY: NULL or NUL-terminated (contract).
        unsafe { str_arg(name, "name") }.is_ok_and(|n| c.claims.has(n))
    })
}

/// The claim `name` (any claim, custom ones too) as JSON text: a string claim comes quoted
/// (`"\"gateways\""`), an object as an object, a null claim as `null`. On success writes a
/// new string to `*out_json` (free it with `runbeam_string_free()`), or NULL when the token
/// has no such claim. NULL or non-UTF-8 arguments are `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// ```c
/// char *scope = NULL;
/// if (runbeam_claims_get_json(c, "scope", &scope) == RUNBEAM_OK && scope != NULL) {
///     printf("scope: %s\n", scope);
///     runbeam_string_free(scope);
/// }
/// ```
///
/// # Safety
/// `claims` is NULL or a live claims handle; `name` is NULL or NUL-terminated; `out_json` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_get_json(
    claims: *const runbeam_claims,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_claims_get_json", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let c = unsafe { handle_arg(claims, "claims") }?;
        // SAFETY: forwarded contract.
        let name = unsafe { str_arg(name, "name") }?;
        let text = c
            .claims
            .get(name)
            .map(|v| into_c_string(&v.to_string()))
            .unwrap_or(ptr::null_mut());
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { *out = text };
        Ok(())
    })
}

/// The Runbeam Cloud API URL a validated user JWT was issued by: the origin
/// (`scheme://host[:port]`) of `iss`, what `runbeam_client_config_new()` takes. On success
/// writes a new string to `*out_url` (free it with `runbeam_string_free()`).
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` when `iss` is missing or not an http(s) URL with a host,
/// or for a NULL argument.
///
/// ```c
/// char *api = NULL;
/// if (runbeam_claims_api_base_url(c, &api) == RUNBEAM_OK) {
///     runbeam_client_config_new(api, &config);
///     runbeam_string_free(api);
/// }
/// ```
///
/// # Safety
/// `claims` is NULL or a live claims handle; `out_url` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_api_base_url(
    claims: *const runbeam_claims,
    out_url: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_claims_api_base_url", || {
        let out = out_arg(out_url, "out_url")?;
        // SAFETY: forwarded contract.
        let c = unsafe { handle_arg(claims, "claims") }?;
        let url = c.claims.api_base_url()?;
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { *out = into_c_string(&url) };
        Ok(())
    })
}

/// Releases a claims handle (from a validation or a `runbeam_claims_callback`); every string
/// borrowed from it becomes invalid. NULL is a no-op.
///
/// # Safety
/// `claims` is NULL or a claims handle not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_claims_free(claims: *mut runbeam_claims) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_claims_free", claims) }
}

/// A string getter: NULL for a NULL handle or an absent claim.
///
/// # Safety
/// `claims` is NULL or a live handle.
unsafe fn text_of(function: &str, claims: *const runbeam_claims, field: Field) -> *const c_char {
    guard_value(function, ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { claims.as_ref() }.map_or(ptr::null(), |c| c.text(field))
    })
}

/// Writes a time claim to `*out` when it is present; returns whether it was.
///
/// # Safety
/// `claims` is NULL or a live handle; `out` is NULL or writable.
unsafe fn time_of(
    function: &str,
    claims: *const runbeam_claims,
    out: *mut i64,
    read: fn(&Claims) -> Option<i64>,
) -> bool {
    guard_value(function, false, || {
        // SAFETY: NULL or live (contract).
        let Some(value) = unsafe { claims.as_ref() }.and_then(|c| read(&c.claims)) else {
            return false;
        };
        if !out.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { *out = value };
        }
        true
    })
}
