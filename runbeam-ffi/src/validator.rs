//! The validator's checks of a token: blocking forms that answer on the calling thread when the
//! keys are cached, and `_cached` forms (docs/spec.md §4). Its set-up and `_async` forms are in
//! runbeam-ffi-cold's `validator`.

use runbeam_ffi_cold::claims::runbeam_claims;
use runbeam_ffi_cold::guard::{guard, handle_arg, invalid_argument, out_arg};
use runbeam_ffi_cold::limits::{RUNBEAM_MAX_TEXT_BYTES, at_most};
use runbeam_ffi_cold::status::runbeam_status;
use runbeam_ffi_cold::validator::*;
use std::ffi::c_char;

/// Verifies the JWT of `token_len` bytes at `token` (no NUL needed) and writes its claims to
/// `*out_claims` (a new handle: free it with `runbeam_claims_free()`). Blocking, but only when
/// keys must be fetched (first use, TTL passed, unknown `kid`): otherwise it answers on the
/// calling thread without I/O, a repeated token from the verified-token cache.
///
/// Errors: `RUNBEAM_STATUS_JWT_INVALID` (malformed, over `RUNBEAM_JWT_MAX_TOKEN_BYTES`,
/// algorithm not allowed — `none` and HMAC never are —, no `kid`, unknown key, bad signature,
/// `nbf`/`iat` in the future, wrong audience, missing `exp` or required claim),
/// `RUNBEAM_STATUS_JWT_EXPIRED`, `RUNBEAM_STATUS_UNTRUSTED_ISSUER` (refused before any
/// network request), or the key fetch's error (`RUNBEAM_STATUS_TRANSPORT`, `_TIMEOUT`,
/// `_SERVER_ERROR`, `_PROTOCOL`) when no usable keys can be had. A NULL argument or a token
/// that is not UTF-8 is `RUNBEAM_STATUS_INVALID_ARGUMENT`; an empty token is
/// `RUNBEAM_STATUS_JWT_INVALID`. Messages never quote the token.
///
/// ```c
/// const char *token; size_t len;
/// runbeam_claims *claims = NULL;
/// if (runbeam_bearer_parse(auth_header, auth_len, &token, &len) == RUNBEAM_OK &&
///     runbeam_validator_validate(v, token, len, &claims) == RUNBEAM_OK) {
///     printf("hello %s\n", runbeam_claims_user_email(claims));
///     runbeam_claims_free(claims);
/// } else {
///     respond_401(runbeam_last_error_message());
/// }
/// ```
///
/// # Safety
/// `validator` is NULL or a live validator; `token` is NULL or points to `token_len` readable
/// bytes; `out_claims` is NULL or writable. When keys must be fetched it cannot be called from
/// a librunbeam callback (`RUNBEAM_STATUS_INVALID_ARGUMENT`): use the `_async` form there.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_validate(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_validator_validate", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        let claims = blocking("runbeam_validator_validate", v, token, Check::Token)?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, Some(claims)) };
        Ok(())
    })
}

/// `runbeam_validator_validate()` with the keys already cached only: never does I/O and never
/// blocks, on any thread (callbacks included). When keys must be fetched first (never fetched,
/// TTL passed, or an unknown `kid`) it returns `RUNBEAM_OK` with `*out_claims` set to **NULL**:
/// then call `runbeam_validator_validate()`, its `_async` form or
/// `runbeam_validator_refresh_keys()`. Otherwise the same results and errors as
/// `runbeam_validator_validate()`.
///
/// ```c
/// runbeam_claims *claims = NULL;
/// runbeam_status s = runbeam_validator_validate_cached(v, token, len, &claims);
/// if (s == RUNBEAM_OK && claims == NULL)   // keys not cached: go async
///     s = runbeam_validator_validate_async(v, token, len, on_claims, request, NULL);
/// ```
///
/// # Safety
/// As `runbeam_validator_validate()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_validate_cached(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_validator_validate_cached", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        let claims = Check::Token.cached(&v.validator, token).transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, claims) };
        Ok(())
    })
}

/// Finds the token in an `Authorization` header value of `header_len` bytes (no NUL needed):
/// scheme `Bearer` in any case, then one token (no spaces or commas). On success
/// `*out_token` points **into the caller's buffer** (nothing is allocated or freed) and
/// `*out_token_len` is its length — ready for `runbeam_validator_validate()`. A malformed
/// header (empty, another scheme, no token, several tokens, control characters) is
/// `RUNBEAM_STATUS_JWT_INVALID` with a message that does not quote it; NULL arguments,
/// invalid UTF-8 or `header_len` over `RUNBEAM_MAX_TEXT_BYTES` (nothing is read) are
/// `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// ```c
/// const char *token; size_t len;
/// if (runbeam_bearer_parse(value, value_len, &token, &len) != RUNBEAM_OK)
///     respond_401(runbeam_last_error_message());
/// ```
///
/// # Safety
/// `header` is NULL or points to `header_len` readable bytes; `out_token` and `out_token_len`
/// are NULL or writable. `*out_token` is valid as long as the caller's buffer is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_bearer_parse(
    header: *const c_char,
    header_len: usize,
    out_token: *mut *const c_char,
    out_token_len: *mut usize,
) -> runbeam_status {
    guard("runbeam_bearer_parse", || {
        let out_token = out_arg(out_token, "out_token")?;
        let out_len = out_arg(out_token_len, "out_token_len")?;
        if header.is_null() {
            return Err(invalid_argument("argument 'header' is NULL".to_string()));
        }
        at_most(
            "header_len",
            header_len,
            RUNBEAM_MAX_TEXT_BYTES,
            "RUNBEAM_MAX_TEXT_BYTES",
        )?;
        // SAFETY: forwarded contract.
        let text = unsafe { runbeam_ffi_cold::guard::str_arg_len(header, header_len, "header") }?;
        let token = runbeam_core::jwt::parse_bearer(text)?;
        let offset = token.as_ptr() as usize - text.as_ptr() as usize;
        // SAFETY: both out-params are non-NULL and writable (contract); `offset` lies inside
        // the caller's buffer (the token is a sub-slice of it).
        unsafe {
            *out_token = header.add(offset);
            *out_len = token.len();
        }
        Ok(())
    })
}

/// Verifies a mesh token (docs/spec.md §4): everything `runbeam_validator_validate()` checks, plus
/// `aud == "mesh:<mesh_id>"`, the `mesh_id` claim, and — when `destination_url` is not NULL —
/// that the URL being served lies under the token's `dest_url` (same scheme, host, port, and
/// a whole-segment path prefix). A token for another mesh or destination is
/// `RUNBEAM_STATUS_JWT_INVALID`; a `destination_url` that is not a URL
/// `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// ```c
/// runbeam_claims *claims = NULL;
/// if (runbeam_validator_verify_mesh_token(v, token, len, "imaging-integration",
///                                         "https://dicom.example.com/studies/1", &claims) == RUNBEAM_OK)
///     printf("call from %s\n", runbeam_claims_sub(claims)); // gateway:<id>
/// runbeam_claims_free(claims);
/// ```
///
/// # Safety
/// As `runbeam_validator_validate()`; `mesh_id` is NULL or NUL-terminated;
/// `destination_url` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_verify_mesh_token(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    mesh_id: *const c_char,
    destination_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_validator_verify_mesh_token", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh_id, destination_url) }?;
        let claims = blocking(
            "runbeam_validator_verify_mesh_token",
            v,
            token,
            Check::Mesh(mesh, dest),
        )?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, Some(claims)) };
        Ok(())
    })
}

/// `runbeam_validator_verify_mesh_token()` with cached keys only: never does I/O; `RUNBEAM_OK`
/// with `*out_claims` NULL when keys must be fetched first (as
/// `runbeam_validator_validate_cached()`).
///
/// # Safety
/// As `runbeam_validator_verify_mesh_token()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_verify_mesh_token_cached(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    mesh_id: *const c_char,
    destination_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_validator_verify_mesh_token_cached", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh_id, destination_url) }?;
        let claims = Check::Mesh(mesh, dest)
            .cached(&v.validator, token)
            .transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, claims) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use runbeam_ffi_cold::status::RUNBEAM_OK;
    use std::ptr;

    #[test]
    fn bearer_points_into_the_buffer() {
        let header = b"  bearer abc.def.ghi ";
        let mut token: *const c_char = ptr::null();
        let mut len = 0usize;
        // SAFETY: valid buffer and out-params.
        let status = unsafe {
            runbeam_bearer_parse(header.as_ptr().cast(), header.len(), &mut token, &mut len)
        };
        assert_eq!(status, RUNBEAM_OK);
        assert_eq!(token, header[9..].as_ptr().cast());
        assert_eq!(len, 11);
    }
}
