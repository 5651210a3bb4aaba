//! `runbeam_validator`: JWT validation (docs/spec.md §4) for C — user JWTs and mesh tokens.
//!
//! A validator handle owns the core `Validator` (JWKS cache, verified-token cache) and one
//! tokio runtime for key fetches, like a client handle. The blocking forms try the cached path
//! first (no I/O, no thread hop: the hot path of a gateway) and use the runtime only when keys
//! must be fetched; the `_cached` forms never do I/O; the `_async` forms call a
//! `runbeam_claims_callback` exactly once on a runtime thread.
//!
//! Tokens are passed as pointer + length (no NUL needed, e.g. straight from a request buffer
//! or `runbeam_bearer_parse()`), are checked to be UTF-8, and never appear in an error message.
//!
//! The calls a gateway makes per request are compiled in runbeam-ffi's module of the same name
//! (this crate's docs): the handle types and what both crates share are here.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use runbeam_core::Error;
use runbeam_core::attempt::Attempt;
use runbeam_core::jwt::{Algorithm, Claims, Validator, ValidatorBuilder, check_token_size};

use crate::claims::runbeam_claims;
use crate::client::{runbeam_cancel, runbeam_status_callback};
use crate::guard::{
    free_handle, guard, handle_arg, invalid_argument, out_arg, read_handle, str_arg,
};
use crate::limits::{
    RUNBEAM_MAX_ALGORITHMS, RUNBEAM_MAX_CACHE_ENTRIES, RUNBEAM_MAX_PEM_BYTES, at_most,
};
use crate::runtime::{Completion, Runtime, callback_arg};
use crate::status::runbeam_status;

/// The largest token librunbeam validates, in bytes (docs/spec.md §4); longer tokens are
/// `RUNBEAM_STATUS_JWT_INVALID` before any other work.
pub const RUNBEAM_JWT_MAX_TOKEN_BYTES: usize = 16384;

// ---------------------------------------------------------------------------------------------
// Configuration builder
// ---------------------------------------------------------------------------------------------

/// Settings of a JWT validator, filled by the `runbeam_validator_config_*` setters and read by
/// `runbeam_validator_new()`. Create with `runbeam_validator_config_new()`, release with
/// `runbeam_validator_config_free()`. Not thread-safe while being set; one configuration may
/// create several validators.
#[allow(non_camel_case_types)]
pub struct runbeam_validator_config {
    pub builder: ValidatorBuilder,
}

/// Starts a validator configuration with the secure defaults of docs/spec.md §4: RS256 only, leeway
/// 60 s, keys kept 1 h, at most one key fetch per 30 s, last good keys usable for 24 h while
/// refreshes fail, 10 000 verified tokens remembered, 10 s per key fetch. Trust is explicit:
/// add a trusted issuer or pin a JWKS URL, or `runbeam_validator_new()` fails.
///
/// ```c
/// runbeam_validator_config *cfg = NULL;
/// runbeam_validator *v = NULL;
/// runbeam_validator_config_new(&cfg);
/// runbeam_validator_config_add_trusted_issuer(cfg, "https://api.runbeam.io/api");
/// runbeam_validator_config_add_audience(cfg, "gateway:radiology-gw-1");
/// if (runbeam_validator_new(cfg, &v) != RUNBEAM_OK)
///     fprintf(stderr, "%s\n", runbeam_last_error_message());
/// runbeam_validator_config_free(cfg);
/// runbeam_validator_refresh_keys(v); // at start-up, so the first request does not wait
/// ```
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_new(
    out: *mut *mut runbeam_validator_config,
) -> runbeam_status {
    guard("runbeam_validator_config_new", || {
        let out = out_arg(out, "out")?;
        let config = Box::new(runbeam_validator_config {
            builder: Validator::builder(),
        });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(config) };
        Ok(())
    })
}

/// Runs `body` on a mutable configuration handle, replacing its builder by the one `body`
/// returns.
///
/// # Safety
/// `config` is NULL or a live configuration not used by another thread during the call.
unsafe fn with_config(
    function: &str,
    config: *mut runbeam_validator_config,
    body: impl FnOnce(ValidatorBuilder) -> Result<ValidatorBuilder, Error>,
) -> runbeam_status {
    guard(function, || {
        // SAFETY: per the contract, non-NULL means a live, exclusively used handle.
        let config = unsafe { config.as_mut() }
            .ok_or_else(|| invalid_argument("argument 'config' is NULL".to_string()))?;
        // On error the builder is left as it was.
        config.builder = body(config.builder.clone())?;
        Ok(())
    })
}

/// A NUL-terminated, non-empty UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or NUL-terminated.
unsafe fn text_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(ptr, name) }?;
    if text.is_empty() {
        return Err(invalid_argument(format!("argument '{name}' is empty")));
    }
    Ok(text)
}

/// Trusts tokens whose `iss` equals `issuer` after normalisation (exact match, never a
/// prefix); may be called several times. Their keys come from
/// `<issuer>/.well-known/jwks.json` unless a JWKS URL is pinned. For Runbeam Cloud the issuer
/// is the API root, e.g. `"https://api.runbeam.io/api"`. The URL is checked by
/// `runbeam_validator_new()`. A token of another issuer is `RUNBEAM_STATUS_UNTRUSTED_ISSUER`,
/// refused before any network request.
///
/// # Safety
/// `config` is NULL or a live configuration; `issuer` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_add_trusted_issuer(
    config: *mut runbeam_validator_config,
    issuer: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_add_trusted_issuer", config, |b| {
            Ok(b.trusted_issuer(text_arg(issuer, "issuer")?))
        })
    }
}

/// Pins the JWKS URL every key comes from (replacing an earlier one). Without trusted
/// issuers, any `iss` signed by these keys is accepted.
///
/// # Safety
/// `config` is NULL or a live configuration; `url` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_jwks_url(
    config: *mut runbeam_validator_config,
    url: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_jwks_url", config, |b| {
            Ok(b.jwks_url(text_arg(url, "url")?))
        })
    }
}

/// Replaces the algorithm allow-list (default: `"RS256"` only) by `count` JOSE names among
/// `RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA` (exact case). `none` and the HMAC
/// algorithms (`HS256`, …) are refused, as are unknown names and an empty list
/// (`RUNBEAM_STATUS_INVALID_ARGUMENT`; the list is then unchanged).
///
/// ```c
/// const char *algs[] = {"RS256", "ES256"};
/// runbeam_validator_config_set_algorithms(cfg, algs, 2);
/// ```
///
/// # Safety
/// `config` is NULL or a live configuration; `names` is NULL or points to `count`
/// NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_algorithms(
    config: *mut runbeam_validator_config,
    names: *const *const c_char,
    count: usize,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_algorithms", config, |b| {
            if names.is_null() {
                return Err(invalid_argument("argument 'names' is NULL".to_string()));
            }
            if count == 0 {
                return Err(invalid_argument(
                    "the algorithm allow-list is empty; keep the default (RS256)".to_string(),
                ));
            }
            at_most(
                "count",
                count,
                RUNBEAM_MAX_ALGORITHMS,
                "RUNBEAM_MAX_ALGORITHMS",
            )?;
            let mut list = Vec::with_capacity(count);
            for i in 0..count {
                // SAFETY: `names` points to `count` pointers (contract).
                let name = str_arg(*names.add(i), &format!("names[{i}]"))?;
                list.push(name.parse::<Algorithm>()?);
            }
            Ok(b.algorithms(list))
        })
    }
}

/// Requires `aud` to name `audience` or another added audience; may be called several times.
/// Without audiences, `aud` is not checked.
///
/// # Safety
/// `config` is NULL or a live configuration; `audience` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_add_audience(
    config: *mut runbeam_validator_config,
    audience: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_add_audience", config, |b| {
            Ok(b.audience(text_arg(audience, "audience")?))
        })
    }
}

/// Requires the claim `name` (any claim, custom ones too) to be present and not null; may be
/// called several times.
///
/// # Safety
/// `config` is NULL or a live configuration; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_add_required_claim(
    config: *mut runbeam_validator_config,
    name: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_add_required_claim", config, |b| {
            Ok(b.required_claim(text_arg(name, "name")?))
        })
    }
}

/// Clock-skew leeway on `exp`, `nbf` and `iat`, in milliseconds (default 60000; whole seconds
/// count, the rest is ignored; 0 allowed).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_leeway_ms(
    config: *mut runbeam_validator_config,
    leeway_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_leeway_ms", config, |b| {
            Ok(b.leeway(Duration::from_millis(leeway_ms)))
        })
    }
}

/// How long fetched keys are used before they are refreshed, in milliseconds (default
/// 3600000). Must not exceed the max-stale time (checked by `runbeam_validator_new()`).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_jwks_ttl_ms(
    config: *mut runbeam_validator_config,
    ttl_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_jwks_ttl_ms", config, |b| {
            Ok(b.jwks_ttl(Duration::from_millis(ttl_ms)))
        })
    }
}

/// The minimum interval between two fetches of one JWKS, in milliseconds (default 30000): a
/// flood of tokens with unknown `kid`s costs at most one fetch per interval.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_min_refresh_interval_ms(
    config: *mut runbeam_validator_config,
    interval_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config(
            "runbeam_validator_config_set_min_refresh_interval_ms",
            config,
            |b| Ok(b.min_refresh_interval(Duration::from_millis(interval_ms))),
        )
    }
}

/// How long the last good keys stay usable while refreshes fail, in milliseconds (default
/// 86400000; at least the JWKS TTL, checked by `runbeam_validator_new()`).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_max_stale_ms(
    config: *mut runbeam_validator_config,
    max_stale_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_max_stale_ms", config, |b| {
            Ok(b.max_stale(Duration::from_millis(max_stale_ms)))
        })
    }
}

/// How many verified tokens are remembered (by SHA-256; time claims are re-checked on every
/// hit) so that a repeated token skips the signature check (default 10000; 0 disables it; over
/// `RUNBEAM_MAX_CACHE_ENTRIES` is `RUNBEAM_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_cache_capacity(
    config: *mut runbeam_validator_config,
    capacity: usize,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_cache_capacity", config, |b| {
            at_most(
                "capacity",
                capacity,
                RUNBEAM_MAX_CACHE_ENTRIES,
                "RUNBEAM_MAX_CACHE_ENTRIES",
            )?;
            Ok(b.cache_capacity(capacity))
        })
    }
}

/// Accepts `http://` issuers and JWKS URLs on hosts that are not loopback (default false:
/// keys fetched in clear text could be replaced on the way).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_allow_insecure_http(
    config: *mut runbeam_validator_config,
    allow: bool,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config(
            "runbeam_validator_config_set_allow_insecure_http",
            config,
            |b| Ok(b.allow_insecure_http(allow)),
        )
    }
}

/// Total time allowed for one JWKS fetch, retries included, in milliseconds (default 10000;
/// 0 is invalid). When it passes, a validation that needed the keys fails with
/// `RUNBEAM_STATUS_TIMEOUT`.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_deadline_ms(
    config: *mut runbeam_validator_config,
    deadline_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_deadline_ms", config, |b| {
            if deadline_ms == 0 {
                return Err(invalid_argument(
                    "the deadline must be greater than zero milliseconds".to_string(),
                ));
            }
            Ok(b.deadline(Duration::from_millis(deadline_ms)))
        })
    }
}

/// Extra CA certificates (PEM text, `len` bytes, no NUL needed) trusted for JWKS fetches in
/// addition to the system roots; replaces an earlier bundle. Checked by
/// `runbeam_validator_new()` (`RUNBEAM_STATUS_INVALID_ARGUMENT` when it holds no certificate).
/// `len` over `RUNBEAM_MAX_PEM_BYTES` is `RUNBEAM_STATUS_INVALID_ARGUMENT` (nothing is read).
///
/// # Safety
/// `config` is NULL or a live configuration; `pem` is NULL or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_set_ca_bundle_pem(
    config: *mut runbeam_validator_config,
    pem: *const c_char,
    len: usize,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_validator_config_set_ca_bundle_pem", config, |b| {
            if pem.is_null() || len == 0 {
                return Err(invalid_argument(
                    "argument 'pem' is NULL or empty".to_string(),
                ));
            }
            at_most("len", len, RUNBEAM_MAX_PEM_BYTES, "RUNBEAM_MAX_PEM_BYTES")?;
            // SAFETY: `pem` points to `len` readable bytes (contract).
            let bytes = std::slice::from_raw_parts(pem.cast::<u8>(), len);
            Ok(b.ca_bundle_pem(bytes.to_vec()))
        })
    }
}

/// Releases a validator configuration. NULL is a no-op.
///
/// # Safety
/// `config` is NULL or a configuration not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_config_free(config: *mut runbeam_validator_config) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_validator_config_free", config) }
}

// ---------------------------------------------------------------------------------------------
// Validator handles
// ---------------------------------------------------------------------------------------------

/// A JWT validator: trusted issuers, key cache (per JWKS URL), verified-token cache and one
/// tokio runtime (two worker threads named `runbeam-worker`) for key fetches. Create with
/// `runbeam_validator_new()`, release with `runbeam_validator_free()`. Thread-safe: one
/// validator should serve every thread of a gateway (the caches are shared).
#[allow(non_camel_case_types)]
pub struct runbeam_validator {
    pub validator: Validator,
    pub runtime: Runtime,
}

/// The callback of `runbeam_validator_validate_async()` and
/// `runbeam_validator_verify_mesh_token_async()`, called **exactly once** per accepted call
/// (never for a call refused with an error status), on a librunbeam runtime thread
/// (`runbeam-worker`), never on the calling thread. When the validator is freed while the
/// call is in flight it is called with `RUNBEAM_STATUS_CANCELLED` during
/// `runbeam_validator_free()`.
///
/// On success `status` is `RUNBEAM_OK`, `claims` a **new handle owned by the callback** (free
/// it with `runbeam_claims_free()`, now or later, on any thread) and `error_message` NULL. On
/// failure `claims` is NULL, `status` the error's code and `error_message` its message (valid
/// during the call only); `runbeam_last_error_*()` on that thread describe the failure during
/// the call.
///
/// The callback must not call blocking librunbeam functions that need the network (they
/// return `RUNBEAM_STATUS_INVALID_ARGUMENT`); the `_cached` forms, `_async` calls, cancel and
/// free functions are fine. Keep it short: it runs on one of the two worker threads.
#[allow(non_camel_case_types)]
pub type runbeam_claims_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        claims: *mut runbeam_claims,
        error_message: *const c_char,
    ),
>;

/// Creates a validator from `config` (which may be freed right after) and starts its runtime.
/// No network request is made: keys are fetched on first use or by
/// `runbeam_validator_refresh_keys()`.
///
/// Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` when no trusted issuer or JWKS URL is configured
/// (a validator trusting anyone would accept tokens signed by anyone), for a malformed URL,
/// `http://` to a non-loopback host without
/// `runbeam_validator_config_set_allow_insecure_http()`, a max-stale time shorter than the
/// JWKS TTL or a CA bundle without certificates (the message says which).
///
/// # Safety
/// `config` is NULL or a live configuration; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_new(
    config: *const runbeam_validator_config,
    out: *mut *mut runbeam_validator,
) -> runbeam_status {
    guard("runbeam_validator_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: live handle per the contract.
        let config = unsafe { handle_arg(config, "config") }?;
        let validator = config.builder.clone().language("c").build()?;
        let runtime = Runtime::new()?;
        let handle = Box::new(runbeam_validator { validator, runtime });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Releases a validator and its caches. Its runtime shuts down and its worker threads are
/// joined (from a librunbeam callback they stop in the background instead). Claims handles
/// obtained from it stay valid. NULL is a no-op.
///
/// When `runbeam_validator_free` returns, no callback of this handle's async calls can run any more: calls not
/// finished yet are cancelled and their callbacks get `RUNBEAM_STATUS_CANCELLED` before it
/// returns (on a runtime thread), and a callback that is running is waited for, however long
/// it takes. So the `user_data` of those calls may be released right after. Called
/// from inside a librunbeam callback, it cannot wait (a callback cannot wait for itself): it
/// cancels the handle's other calls, whose callbacks then run after it returned, once the
/// current callback has returned; keep their `user_data` valid until they were called.
///
/// # Safety
/// `validator` is NULL or a validator not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_free(validator: *mut runbeam_validator) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_validator_free", validator) }
}

/// Fetches every JWKS of the validator now (blocking), so that the first request does not
/// wait and `_cached` validations can answer. Respects the minimum refresh interval (a call
/// soon after a fetch does nothing). Fails with the fetch's error (`RUNBEAM_STATUS_TRANSPORT`,
/// `_TIMEOUT`, `_SERVER_ERROR`, `_PROTOCOL`, …) when no usable keys can be had.
///
/// # Safety
/// `validator` is NULL or a live validator. Not from a librunbeam callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_refresh_keys(
    validator: *const runbeam_validator,
) -> runbeam_status {
    guard("runbeam_validator_refresh_keys", || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        v.runtime
            .block_on("runbeam_validator_refresh_keys", v.validator.refresh_keys())
    })
}

/// Callback form of `runbeam_validator_refresh_keys()`: returns at once; `callback` gets the
/// status exactly once on a runtime thread (see `runbeam_status_callback`). If `cancel_out` is
/// not NULL it receives a handle for `runbeam_cancel_request()` (free it with
/// `runbeam_cancel_free()`). A NULL callback is `RUNBEAM_STATUS_INVALID_ARGUMENT` (and nothing
/// is started).
///
/// # Safety
/// `validator` is NULL or a live validator; `user_data` is handed back untouched on a runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_refresh_keys_async(
    validator: *const runbeam_validator,
    callback: runbeam_status_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_validator_refresh_keys_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        let completion = Completion::status(callback_arg(callback)?, user_data);
        let validator = v.validator.clone();
        v.runtime.start(
            NAME,
            async move { validator.refresh_keys().await },
            completion,
            cancel_out,
        )
    })
}

/// Forgets every verified token of the validator's cache (the keys stay cached): the next
/// validation of each token checks its signature again. For a gateway that learns that tokens
/// were revoked, or in tests. Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` if `validator` is
/// NULL. No I/O.
///
/// # Safety
/// `validator` is NULL or a live validator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_flush_token_cache(
    validator: *const runbeam_validator,
) -> runbeam_status {
    guard("runbeam_validator_flush_token_cache", || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        v.validator.flush_token_cache();
        Ok(())
    })
}

/// How many verified tokens the validator remembers now, for metrics; 0 if `validator` is
/// NULL. A token is remembered from its second successful verification on (a stream of
/// one-off tokens is not kept), a refused one never; at most 2.5 times the capacity of
/// `runbeam_validator_config_set_cache_capacity()` are held (see docs/design.md).
///
/// # Safety
/// `validator` is NULL or a live validator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_cached_tokens(
    validator: *const runbeam_validator,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_validator_cached_tokens", validator, 0, |v| {
            v.validator.cached_tokens()
        })
    }
}

/// Borrows a token given as pointer and length: NULL is `InvalidArgument` (whatever the
/// length), a token over the size limit `JwtInvalid` (before looking at its bytes), invalid
/// UTF-8 `InvalidArgument`. An empty token is handed on (the core calls it malformed).
///
/// # Safety
/// `token` is NULL or points to `len` readable bytes that outlive the borrow.
pub unsafe fn token_arg<'a>(token: *const c_char, len: usize) -> Result<&'a str, Error> {
    if token.is_null() {
        return Err(invalid_argument("argument 'token' is NULL".to_string()));
    }
    check_token_size(len)?;
    // SAFETY: forwarded contract.
    unsafe { crate::guard::str_arg_len(token, len, "token") }
}

/// The mesh-token arguments: `mesh_id` required, `destination_url` optional.
///
/// # Safety
/// Both are NULL or NUL-terminated.
pub unsafe fn mesh_args<'a>(
    mesh_id: *const c_char,
    destination_url: *const c_char,
) -> Result<(&'a str, Option<&'a str>), Error> {
    // SAFETY: forwarded contract.
    let mesh = unsafe { text_arg(mesh_id, "mesh_id") }?;
    let destination = if destination_url.is_null() {
        None
    } else {
        // SAFETY: forwarded contract.
        Some(unsafe { text_arg(destination_url, "destination_url") }?)
    };
    Ok((mesh, destination))
}

/// Hands `claims` (or NULL) to C through `*out` as a new handle (freed by `runbeam_claims_free`).
///
/// # Safety
/// `out` is non-NULL and writable.
#[inline]
pub unsafe fn write_claims(out: *mut *mut runbeam_claims, claims: Option<Arc<Claims>>) {
    let handle = claims.map_or(ptr::null_mut(), runbeam_claims::into_raw);
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = handle };
}

/// What a validation checks besides the token itself.
#[derive(Clone, Copy)]
pub enum Check<'a> {
    Token,
    Mesh(&'a str, Option<&'a str>),
}

impl Check<'_> {
    #[inline]
    pub fn cached(self, v: &Validator, token: &str) -> Option<Result<Arc<Claims>, Error>> {
        match self {
            Check::Token => v.validate_cached(token),
            Check::Mesh(mesh, dest) => v.verify_mesh_token_cached(token, mesh, dest),
        }
    }

    /// The core's cached-then-fetch step for this check.
    #[inline]
    pub fn attempt(self, v: &Validator, token: &str) -> Attempt<Arc<Claims>> {
        match self {
            Check::Token => v.validate_attempt(token),
            Check::Mesh(mesh, dest) => v.verify_mesh_token_attempt(token, mesh, dest),
        }
    }
}

/// Starts an async validation whose result goes to `callback` exactly once.
fn spawn(
    function: &'static str,
    v: &runbeam_validator,
    token: &str,
    check: Check<'_>,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> Result<(), Error> {
    v.runtime.start_handle(
        function,
        Attempt::guarded(function, || check.attempt(&v.validator, token)).finish(),
        callback,
        runbeam_claims::into_raw,
        user_data,
        cancel_out,
    )
}

/// Callback form of `runbeam_validator_validate()`: returns at once (the token is copied) and
/// `callback` gets the claims or the error exactly once on a runtime thread (see
/// `runbeam_claims_callback`). If `cancel_out` is not NULL it receives a handle for
/// `runbeam_cancel_request()` (free it with `runbeam_cancel_free()`). A NULL callback, NULL
/// or non-UTF-8 token is `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// As `runbeam_validator_validate()`; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_validate_async(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_validator_validate_async", || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        spawn(
            "runbeam_validator_validate_async",
            v,
            token,
            Check::Token,
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// Callback form of `runbeam_validator_verify_mesh_token()` (rules:
/// `runbeam_validator_validate_async()`); the token, mesh id and URL are copied.
///
/// # Safety
/// As `runbeam_validator_verify_mesh_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_verify_mesh_token_async(
    validator: *const runbeam_validator,
    token: *const c_char,
    token_len: usize,
    mesh_id: *const c_char,
    destination_url: *const c_char,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_validator_verify_mesh_token_async", || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh_id, destination_url) }?;
        spawn(
            "runbeam_validator_verify_mesh_token_async",
            v,
            token,
            Check::Mesh(mesh, dest),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// The blocking form: the cached path on the calling thread, the runtime only for a fetch.
#[inline]
pub fn blocking(
    function: &str,
    v: &runbeam_validator,
    token: &str,
    check: Check<'_>,
) -> Result<Arc<Claims>, Error> {
    v.runtime.wait(function, check.attempt(&v.validator, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runbeam_core::ErrorKind;
    use runbeam_core::jwt::MAX_TOKEN_BYTES;

    #[test]
    fn the_header_limit_is_the_core_limit() {
        assert_eq!(RUNBEAM_JWT_MAX_TOKEN_BYTES, MAX_TOKEN_BYTES);
    }

    #[test]
    fn oversized_tokens_are_refused_before_reading_them() {
        // A length over the limit is refused without touching the bytes (a one-byte buffer).
        let byte = [b'x'];
        // SAFETY: the bytes are never read past the limit check.
        let err = unsafe { token_arg(byte.as_ptr().cast(), MAX_TOKEN_BYTES + 1) }.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JwtInvalid);
        assert!(err.message().contains("16384"), "{err}");
    }
}
