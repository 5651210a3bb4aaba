//! The HTTP edge of a C gateway (docs/edge.md) over `runbeam_core::edge` and the core's
//! one-step calls: the inbound user-JWT check (`runbeam_validator_authenticate`), the inbound
//! mesh guard (`runbeam_resolver_verify_mesh_request`), the outbound helper
//! (`runbeam_resolver_outbound`, a `runbeam_outbound` handle), `runbeam_join_path`, and the
//! HTTP answer to a failed call (`runbeam_refusal_from_last_error`, `runbeam_refusal_for_status`).
//!
//! Nothing is decided here: the status table, the bearer parsing, the URL joining and the
//! retry-after rules are the core's (`Refusal`, `bearer_token`, `join_path`,
//! `Resolver::outbound_attempt`, …). Like the rest of the ABI the blocking forms answer a
//! cached result on the calling thread, the `_cached` forms never do I/O and the `_async`
//! forms call their callback exactly once on a runtime thread.
//!
//! The calls a gateway makes per request are compiled in runbeam-ffi's module of the same name
//! (this crate's docs): the handle types and what both crates share are here.

use std::borrow::Cow;
use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::{Arc, OnceLock};

use runbeam_core::Error;
use runbeam_core::attempt::Attempt;
use runbeam_core::edge::MAX_PATH_BYTES;
use runbeam_core::jwt::Claims;
use runbeam_core::resolve::Outbound;
use zeroize::Zeroizing;

use crate::claims::runbeam_claims;
use crate::client::runbeam_cancel;
use crate::error::to_cstring;
use crate::guard::{guard, handle_arg, invalid_argument, opt_str_arg, str_arg};
use crate::resolver::runbeam_resolver;
use crate::runtime::callback_arg;
use crate::status::runbeam_status;
use crate::storage::rfc3339_text;
use crate::validator::{runbeam_claims_callback, runbeam_validator};

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/// Where a failed check happened; it decides what a JWT error means (docs/edge.md). Integer
/// values are stable.
#[allow(non_camel_case_types)]
pub type runbeam_stage = i32;
/// The user's JWT on an inbound request (`runbeam_validator_authenticate()`): a bad token is
/// the client's, 401.
pub const RUNBEAM_STAGE_USER_TOKEN: runbeam_stage = 0;
/// A partner gateway's mesh token on an inbound request
/// (`runbeam_resolver_verify_mesh_request()`): a bad token is the caller's, 401.
pub const RUNBEAM_STAGE_MESH_TOKEN: runbeam_stage = 1;
/// Resolving a reference and obtaining its mesh token for an outbound request
/// (`runbeam_resolver_outbound()`): a JWT error there is the Cloud's (503), a reference outside
/// the mesh 403.
pub const RUNBEAM_STAGE_OUTBOUND: runbeam_stage = 2;

/// Unused slots at the end of `runbeam_refusal`, for members later versions add.
pub const RUNBEAM_REFUSAL_RESERVED: usize = 4;

/// The most bytes of a request path (with its query) `runbeam_join_path()` and
/// `runbeam_resolver_outbound()` accept.
pub const RUNBEAM_EDGE_MAX_PATH_BYTES: usize = 8192;

const _: () = assert!(RUNBEAM_EDGE_MAX_PATH_BYTES == MAX_PATH_BYTES);

/// The HTTP answer to a request that failed a librunbeam check, filled by
/// `runbeam_refusal_from_last_error()` or `runbeam_refusal_for_status()` (docs/edge.md has
/// the table): send `status` with `Content-Type: <content_type>`, the `WWW-Authenticate` and
/// `Retry-After` headers when given, and `body`. Never a 500.
///
/// Every string is static (never free it; the struct may be copied and kept). The caller
/// allocates the struct (on the stack): later versions put new members in `reserved`, so its
/// size and layout never change.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct runbeam_refusal {
    /// The HTTP status: 400, 401, 403, 404 or 503.
    pub status: u16,
    /// The kind of the error it answers, as `runbeam_last_error_kind()` names it
    /// (`"JwtExpired"`, `"NotInMesh"`, …): for the host's log, not for the client.
    pub kind: *const c_char,
    /// The `WWW-Authenticate` value of every 401 (`Bearer error="invalid_token"`); NULL for
    /// the other statuses.
    pub www_authenticate: *const c_char,
    /// The `Retry-After` value in seconds of every 503 (the Cloud's own when it sent one,
    /// else 5 for a transient failure and 30 for one that needs an operator); 0 (send no
    /// `Retry-After`) for the other statuses.
    pub retry_after_secs: u64,
    /// The JSON body: `{"error":"<code>"}` with a fixed code per answer (`invalid_token`,
    /// `not_in_mesh`, `forbidden`, `invalid_request`, `not_found`, `unavailable`). It never
    /// quotes the request, the token or the error message.
    pub body: *const c_char,
    /// The body's media type: `"application/json"`.
    pub content_type: *const c_char,
    /// 0; later versions put new members here.
    pub reserved: [u64; RUNBEAM_REFUSAL_RESERVED],
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Inbound checks
// ---------------------------------------------------------------------------------------------

/// The value of an `Authorization` header as the core takes it: NULL is a request without
/// one. The header is request data, not the host's: bytes that are not UTF-8 are handed on
/// with U+FFFD in their place, for the core to refuse as a malformed header (`JwtInvalid`,
/// a 401) as it refuses any other — never the `InvalidArgument` (400) of a host's mistake.
///
/// # Safety
/// `authorization` is NULL or NUL-terminated, and outlives the borrow.
#[inline]
pub unsafe fn authorization_arg<'a>(authorization: *const c_char) -> Option<Cow<'a, str>> {
    if authorization.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(authorization) }.to_bytes();
    Some(String::from_utf8_lossy(bytes))
}

/// Callback form of `runbeam_validator_authenticate()`: returns at once (the header is
/// copied); `callback` (a `runbeam_claims_callback`) gets the claims or the error exactly once
/// on a runtime thread, a cached answer included — there, answer a failure with
/// `runbeam_refusal_from_last_error(RUNBEAM_STAGE_USER_TOKEN, …)`. If `cancel_out` is not NULL
/// it receives a handle for `runbeam_cancel_request()` (free it with `runbeam_cancel_free()`).
/// A NULL callback is `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// As `runbeam_validator_authenticate()`; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_authenticate_async(
    validator: *const runbeam_validator,
    authorization: *const c_char,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_validator_authenticate_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        callback_arg(callback)?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let attempt =
            Attempt::guarded(NAME, || v.validator.authenticate_attempt(header.as_deref()));
        v.runtime.start_handle(
            NAME,
            attempt.finish(),
            callback,
            runbeam_claims::into_raw as fn(Arc<Claims>) -> *mut runbeam_claims,
            user_data,
            cancel_out,
        )
    })
}

/// The mesh guard's arguments: `mesh` required and not empty, `served_url` optional.
///
/// # Safety
/// Both are NULL or NUL-terminated.
#[inline]
pub unsafe fn mesh_request_args<'a>(
    mesh: *const c_char,
    served_url: *const c_char,
) -> Result<(&'a str, Option<&'a str>), Error> {
    // SAFETY: forwarded contract.
    let mesh = unsafe { str_arg(mesh, "mesh") }?;
    if mesh.is_empty() {
        return Err(invalid_argument("argument 'mesh' is empty".to_string()));
    }
    // SAFETY: forwarded contract.
    let served = unsafe { opt_str_arg(served_url, "served_url") }?;
    Ok((mesh, served))
}

/// Callback form of `runbeam_resolver_verify_mesh_request()`: `callback` (a
/// `runbeam_claims_callback`) gets the claims or the error exactly once on a runtime thread;
/// the header, mesh and URL are copied (rules: `runbeam_resolver_resolve_async()`).
///
/// # Safety
/// As `runbeam_resolver_verify_mesh_request()`; `user_data` is handed back untouched on the
/// runtime thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_request_async(
    resolver: *const runbeam_resolver,
    authorization: *const c_char,
    mesh: *const c_char,
    served_url: *const c_char,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_resolver_verify_mesh_request_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        callback_arg(callback)?;
        // SAFETY: forwarded contract.
        let (mesh, served) = unsafe { mesh_request_args(mesh, served_url) }?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let attempt = Attempt::guarded(NAME, || {
            r.resolver
                .verify_mesh_request_attempt(header.as_deref(), mesh, served)
        });
        r.runtime.start_handle(
            NAME,
            attempt.finish(),
            callback,
            runbeam_claims::into_raw as fn(Arc<Claims>) -> *mut runbeam_claims,
            user_data,
            cancel_out,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/// What to send to reach a partner's resource through the mesh, from
/// `runbeam_resolver_outbound()`: the URL and the `Authorization` header value carrying the
/// mesh token (`runbeam_outbound_authorization_secret()`), with the resource's URL, the mesh,
/// the reference, whether the resolution was stale and when the token expires. The host sends
/// the request with its own HTTP client (libcurl, …), with its own deadline.
///
/// Immutable: read it from any thread. Release it with `runbeam_outbound_free()`, which
/// zeroizes its copies of the header; strings borrowed from it are valid until then (the
/// strings are made on first use).
#[allow(non_camel_case_types)]
pub struct runbeam_outbound {
    pub outbound: Outbound,
    pub url: OnceLock<CString>,
    /// `Bearer <mesh token>`, NUL-terminated, zeroized on drop.
    pub authorization: OnceLock<Zeroizing<Vec<u8>>>,
    pub(crate) text: [OnceLock<CString>; TEXT_FIELDS],
}

#[derive(Clone, Copy)]
pub enum Text {
    BaseUrl,
    Mesh,
    Reference,
    ExpiresAt,
}

const TEXT_FIELDS: usize = 4;

impl runbeam_outbound {
    #[inline]
    pub fn into_raw(outbound: Outbound) -> *mut runbeam_outbound {
        Box::into_raw(Box::new(runbeam_outbound {
            outbound,
            url: OnceLock::new(),
            authorization: OnceLock::new(),
            text: [const { OnceLock::new() }; TEXT_FIELDS],
        }))
    }

    #[inline]
    pub fn text(&self, field: Text) -> *const c_char {
        self.text[field as usize]
            .get_or_init(|| {
                let o = &self.outbound;
                match field {
                    Text::BaseUrl => to_cstring(o.base_url()),
                    Text::Mesh => to_cstring(o.mesh()),
                    Text::Reference => to_cstring(o.reference()),
                    Text::ExpiresAt => rfc3339_text(o.token_expires_at()),
                }
            })
            .as_ptr()
    }
}

/// The callback of `runbeam_resolver_outbound_async()`, called **exactly once** per accepted
/// call on a librunbeam runtime thread (rules: `runbeam_resolution_callback`). On success
/// `outbound` is a **new handle owned by the callback** (free it with
/// `runbeam_outbound_free()`, now or later, on any thread) and `error_message` NULL; on
/// failure `outbound` is NULL, `status` the error's code and `error_message` its message
/// (valid during the call only) — answer it with
/// `runbeam_refusal_from_last_error(RUNBEAM_STAGE_OUTBOUND, …)` during the call.
#[allow(non_camel_case_types)]
pub type runbeam_outbound_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        outbound: *mut runbeam_outbound,
        error_message: *const c_char,
    ),
>;

/// # Safety
/// Both are NULL or NUL-terminated.
#[inline]
pub unsafe fn outbound_args<'a>(
    reference: *const c_char,
    path: *const c_char,
) -> Result<(&'a str, &'a str), Error> {
    // SAFETY: forwarded contract.
    let reference = unsafe { str_arg(reference, "reference") }?;
    // SAFETY: forwarded contract.
    let path = unsafe { str_arg(path, "path") }?;
    Ok((reference, path))
}

/// Callback form of `runbeam_resolver_outbound()`: returns at once (the reference and path are
/// copied); `callback` gets the handle or the error exactly once on a runtime thread (see
/// `runbeam_outbound_callback`), a cached answer included. If `cancel_out` is not NULL it
/// receives a handle for `runbeam_cancel_request()` (free it with `runbeam_cancel_free()`);
/// cancelling one caller never cancels the request other callers share. A NULL callback is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// As `runbeam_resolver_outbound()`; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_outbound_async(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    path: *const c_char,
    callback: runbeam_outbound_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    const NAME: &str = "runbeam_resolver_outbound_async";
    guard(NAME, || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        callback_arg(callback)?;
        // SAFETY: forwarded contract.
        let (reference, path) = unsafe { outbound_args(reference, path) }?;
        let attempt = Attempt::guarded(NAME, || r.resolver.outbound_attempt(reference, path));
        r.runtime.start_handle(
            NAME,
            attempt.finish(),
            callback,
            runbeam_outbound::into_raw,
            user_data,
            cancel_out,
        )
    })
}
