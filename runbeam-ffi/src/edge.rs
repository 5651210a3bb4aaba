//! The edge's per-request calls: authenticating a request, verifying a mesh request, building an
//! outbound call and a refusal. The `_async` forms are in runbeam-ffi-cold's `edge`.

use runbeam_core::Error;
use runbeam_core::edge::{CONTENT_TYPE_C, Refusal, Stage, join_path};
use runbeam_ffi_cold::claims::runbeam_claims;
use runbeam_ffi_cold::edge::*;
use runbeam_ffi_cold::error::{
    self, runbeam_last_error_retry_after_ms, runbeam_last_error_status, to_cstring,
};
use runbeam_ffi_cold::guard::{
    free_handle, guard, guard_value, handle_arg, invalid_argument, out_arg, read_handle, str_arg,
};
use runbeam_ffi_cold::resolver::runbeam_resolver;
use runbeam_ffi_cold::status::{RUNBEAM_OK, RUNBEAM_STATUS_INTERNAL, kind_of, runbeam_status};
use runbeam_ffi_cold::strings::{into_c_string, secret_c_bytes};
use runbeam_ffi_cold::validator::{runbeam_validator, write_claims};
use std::ffi::{CStr, c_char};
use std::ptr;
use std::time::Duration;

/// The HTTP answer to the librunbeam call that just failed on this thread, made at `stage`:
/// fills `*out` from the thread's last error (its status and the Cloud's `Retry-After`). Call
/// it right after the failed call — or inside the callback of a failed `_async` call, where
/// the last error describes that failure. It does not change the last error, so the host can
/// still log `runbeam_last_error_message()` afterwards (the message is for the host's log,
/// never for the client).
///
/// Errors (the last error then describes them): `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL
/// `out`, a `stage` that is not a `RUNBEAM_STAGE_*` value, or when no call failed (the last
/// call on this thread succeeded). `*out` is written only on success.
///
/// ```c
/// runbeam_claims *claims = NULL;
/// if (runbeam_validator_authenticate(validator, authorization, &claims) != RUNBEAM_OK) {
///     runbeam_refusal r;
///     runbeam_refusal_from_last_error(RUNBEAM_STAGE_USER_TOKEN, &r);
///     fprintf(stderr, "refused (%s): %s\n", r.kind, runbeam_last_error_message());
///     struct MHD_Response *res = MHD_create_response_from_buffer(
///         strlen(r.body), (void *)r.body, MHD_RESPMEM_PERSISTENT);
///     MHD_add_response_header(res, "Content-Type", r.content_type);
///     if (r.www_authenticate != NULL)
///         MHD_add_response_header(res, "WWW-Authenticate", r.www_authenticate);
///     if (r.retry_after_secs > 0) {
///         char secs[24];
///         snprintf(secs, sizeof secs, "%llu", (unsigned long long)r.retry_after_secs);
///         MHD_add_response_header(res, "Retry-After", secs);
///     }
///     MHD_queue_response(connection, r.status, res);
///     MHD_destroy_response(res);
/// }
/// ```
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_refusal_from_last_error(
    stage: runbeam_stage,
    out: *mut runbeam_refusal,
) -> runbeam_status {
    fill_refusal("runbeam_refusal_from_last_error", out, || {
        refusal_for(
            runbeam_last_error_status(),
            stage,
            runbeam_last_error_retry_after_ms(),
        )
    })
}

/// The HTTP answer to a failure of status `status` at `stage`, the Cloud having asked to wait
/// `retry_after_ms` milliseconds (`runbeam_last_error_retry_after_ms()` of that failure; -1
/// or any negative value: it did not say). For a host that kept the status of a failure to
/// answer it later, on another thread (from an `_async` callback, say);
/// `runbeam_refusal_from_last_error()` is this with the thread's last error. It does not
/// change the last error either.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL `out`, `RUNBEAM_OK` or an unknown
/// `status`, or an unknown `stage`.
///
/// ```c
/// // in a runbeam_outbound_callback: keep what the answer needs, answer on the HTTP thread
/// request->status = status;
/// request->retry_after_ms = runbeam_last_error_retry_after_ms();
/// // later
/// runbeam_refusal r;
/// runbeam_refusal_for_status(request->status, RUNBEAM_STAGE_OUTBOUND, request->retry_after_ms, &r);
/// ```
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_refusal_for_status(
    status: runbeam_status,
    stage: runbeam_stage,
    retry_after_ms: i64,
    out: *mut runbeam_refusal,
) -> runbeam_status {
    fill_refusal("runbeam_refusal_for_status", out, || {
        refusal_for(status, stage, retry_after_ms)
    })
}

/// The URL `base` followed by the request path `path` (with its query, if any), as a new
/// string at `*out` (release it with `runbeam_string_free()`): what a mesh guard verifies as
/// the URL being served (`base` = the gateway's public base URL, the one registered for its
/// ingress in Runbeam Cloud — never the `Host` header, which the client controls) and what
/// `runbeam_resolver_outbound()` sends to.
///
/// `path` is the request target as received, **not percent-decoded** (with libmicrohttpd:
/// the URI given to `MHD_OPTION_URI_LOG_CALLBACK`). A path that could leave `base` is refused
/// with `RUNBEAM_STATUS_INVALID_ARGUMENT` (a 400 at any stage): not starting with a single
/// `/`, a backslash, control character, space or fragment, more than
/// `RUNBEAM_EDGE_MAX_PATH_BYTES`, `..` segments (encoded ones too) climbing above `base`, an
/// encoded `/`, `\` or NUL, a double encoding, a malformed escape, a `..;` segment. `base`
/// must be an http(s) URL with a host, without user name, password, query or fragment. The
/// message does not quote the path. NULL or non-UTF-8 arguments are
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` too. No I/O.
///
/// ```c
/// char *served = NULL;
/// if (runbeam_join_path("https://dicom.radiology.example.com", "/studies?modality=CT",
///                       &served) == RUNBEAM_OK) {
///     // "https://dicom.radiology.example.com/studies?modality=CT"
///     runbeam_string_free(served);
/// }
/// ```
///
/// # Safety
/// `base` and `path` are NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_join_path(
    base: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_join_path", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let base = unsafe { str_arg(base, "base") }?;
        // SAFETY: forwarded contract.
        let path = unsafe { str_arg(path, "path") }?;
        let joined = join_path(base, path)?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = into_c_string(&joined) };
        Ok(())
    })
}

/// The inbound user-JWT check of a gateway, as one call: the bearer token of the
/// `Authorization` header value `authorization` (NULL: the request had no such header)
/// validated (docs/spec.md §4) and its claims written to `*out_claims` (a new handle: free it
/// with `runbeam_claims_free()`). Blocking, but only when keys must be fetched (first use, TTL
/// passed, an unknown `kid`): otherwise it answers on the calling thread without I/O, a
/// repeated token from the verified-token cache.
///
/// Errors — answer them with `runbeam_refusal_from_last_error(RUNBEAM_STAGE_USER_TOKEN, …)`:
/// `RUNBEAM_STATUS_JWT_INVALID` for no header, a header that is not `Bearer <token>` (any
/// bytes, UTF-8 or not: it is request data) and every token that does not verify,
/// `_JWT_EXPIRED`, `_UNTRUSTED_ISSUER` (all 401), or the key fetch's error (`_TRANSPORT`,
/// `_TIMEOUT`, `_SERVER_ERROR`, …: 503). `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL
/// `validator` or `out_claims`, or when keys must be fetched and the call comes from a
/// librunbeam callback (use the `_async` form there). Messages never quote the token.
///
/// ```c
/// const char *authorization = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
///                                                         "Authorization");
/// runbeam_claims *user = NULL;
/// if (runbeam_validator_authenticate(validator, authorization, &user) != RUNBEAM_OK)
///     return refuse(connection, RUNBEAM_STAGE_USER_TOKEN); // 401 + WWW-Authenticate, or 503
/// printf("request of %s\n", runbeam_claims_user_email(user));
/// runbeam_claims_free(user);
/// ```
///
/// # Safety
/// `validator` is NULL or a live validator; `authorization` is NULL or NUL-terminated;
/// `out_claims` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_authenticate(
    validator: *const runbeam_validator,
    authorization: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    const NAME: &str = "runbeam_validator_authenticate";
    guard(NAME, || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let claims = v
            .runtime
            .wait(NAME, v.validator.authenticate_attempt(header.as_deref()))?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, Some(claims)) };
        Ok(())
    })
}

/// `runbeam_validator_authenticate()` with cached keys only: never does I/O and never blocks,
/// on any thread (callbacks included). When keys must be fetched first it returns
/// `RUNBEAM_OK` with `*out_claims` set to **NULL**: then call the blocking or `_async` form.
/// Otherwise the same answers and errors (a missing or malformed header is known at once).
///
/// ```c
/// runbeam_claims *user = NULL;
/// runbeam_status s = runbeam_validator_authenticate_cached(validator, authorization, &user);
/// if (s == RUNBEAM_OK && user == NULL)   // keys not cached: go async
///     s = runbeam_validator_authenticate_async(validator, authorization, on_user, request, NULL);
/// ```
///
/// # Safety
/// As `runbeam_validator_authenticate()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_authenticate_cached(
    validator: *const runbeam_validator,
    authorization: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_validator_authenticate_cached", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let claims = v
            .validator
            .authenticate_cached(header.as_deref())
            .transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, claims) };
        Ok(())
    })
}

/// The URL to send the request to: the resource's URL followed by the path. Borrowed from
/// `outbound` (valid until `runbeam_outbound_free()`; do not free); NULL if `outbound` is
/// NULL. The same holds for every string getter.
///
/// # Safety
/// `outbound` is NULL or a live handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_url(outbound: *const runbeam_outbound) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_outbound_url", outbound, ptr::null(), |o| {
            o.url.get_or_init(|| to_cstring(o.outbound.url())).as_ptr()
        })
    }
}

/// **The secret**: the value of the `Authorization` header to send, `Bearer <mesh token>` —
/// the only header librunbeam adds. A credential: valid for the destination's URL until
/// `runbeam_outbound_token_expires_at()` (mesh tokens live 5 minutes; the resolver hands out
/// a new one from 30 s before expiry, so a handle obtained now is good for at least that
/// long). Borrowed from `outbound` and **zeroized by `runbeam_outbound_free()`**: copy it only
/// into the request (and wipe that copy), never log or print it. NULL if `outbound` is NULL.
///
/// ```c
/// char header[8192];
/// snprintf(header, sizeof header, "Authorization: %s", runbeam_outbound_authorization_secret(out));
/// ```
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_authorization_secret(
    outbound: *const runbeam_outbound,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_outbound_authorization_secret",
            outbound,
            ptr::null(),
            |o| {
                o.authorization
                    .get_or_init(|| secret_c_bytes(o.outbound.authorization().as_bytes()))
                    .as_ptr()
                    .cast()
            },
        )
    }
}

/// The resource's URL the path was appended to (the first URL of its resolution; the mesh
/// token's `dest_url`).
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_base_url(
    outbound: *const runbeam_outbound,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_outbound_base_url", outbound, Text::BaseUrl) }
}

/// The mesh (its configuration name) the token was issued for.
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_mesh(outbound: *const runbeam_outbound) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_outbound_mesh", outbound, Text::Mesh) }
}

/// The reference, in its canonical spelling.
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_reference(
    outbound: *const runbeam_outbound,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_outbound_reference", outbound, Text::Reference) }
}

/// Whether the resolution was a stale answer, served because the provider failed (see
/// `runbeam_resolution_is_stale()`); false if `outbound` is NULL.
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_is_stale(outbound: *const runbeam_outbound) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_outbound_is_stale", outbound, false, |o| {
            o.outbound.is_stale()
        })
    }
}

/// When the mesh token expires, in Unix seconds; 0 if `outbound` is NULL.
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_token_expires_at(
    outbound: *const runbeam_outbound,
) -> i64 {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_outbound_token_expires_at", outbound, 0, |o| {
            o.outbound.token_expires_at().unix_timestamp()
        })
    }
}

/// When the mesh token expires, as RFC 3339 text.
///
/// # Safety
/// `outbound` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_token_expires_at_rfc3339(
    outbound: *const runbeam_outbound,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        text_of(
            "runbeam_outbound_token_expires_at_rfc3339",
            outbound,
            Text::ExpiresAt,
        )
    }
}

/// Releases an outbound handle, zeroizing its copies of the `Authorization` header; every
/// string borrowed from it becomes invalid. NULL is a no-op.
///
/// # Safety
/// `outbound` is NULL or a handle not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_outbound_free(outbound: *mut runbeam_outbound) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_outbound_free", outbound) }
}

fn stage_of(stage: runbeam_stage) -> Result<Stage, Error> {
    match stage {
        RUNBEAM_STAGE_USER_TOKEN => Ok(Stage::UserToken),
        RUNBEAM_STAGE_MESH_TOKEN => Ok(Stage::MeshToken),
        RUNBEAM_STAGE_OUTBOUND => Ok(Stage::Outbound),
        other => Err(invalid_argument(format!(
            "argument 'stage' is {other}: not a RUNBEAM_STAGE_* value"
        ))),
    }
}

fn to_c(refusal: &Refusal) -> runbeam_refusal {
    runbeam_refusal {
        status: refusal.status(),
        kind: refusal.kind().c_name().as_ptr(),
        www_authenticate: refusal
            .www_authenticate_c()
            .map_or(ptr::null(), CStr::as_ptr),
        retry_after_secs: refusal.retry_after_secs().unwrap_or(0),
        body: refusal.body_c().as_ptr(),
        content_type: CONTENT_TYPE_C.as_ptr(),
        reserved: [0; RUNBEAM_REFUSAL_RESERVED],
    }
}

/// The refusal of an error of status `status` at `stage`, the Cloud having asked to wait
/// `retry_after_ms` (negative: it did not say).
fn refusal_for(
    status: runbeam_status,
    stage: runbeam_stage,
    retry_after_ms: i64,
) -> Result<Refusal, Error> {
    let stage = stage_of(stage)?;
    let kind = kind_of(status).ok_or_else(|| {
        invalid_argument(if status == RUNBEAM_OK {
            "there is no failure to answer: the status is RUNBEAM_OK (no librunbeam call \
             failed on this thread since the last successful one)"
                .to_string()
        } else {
            format!("argument 'status' is {status}: not a RUNBEAM_STATUS_* value")
        })
    })?;
    let retry_after = u64::try_from(retry_after_ms)
        .ok()
        .map(Duration::from_millis);
    Ok(Refusal::for_kind(kind, stage, retry_after))
}

/// Runs a refusal export: on success the thread's last error is left as it was (the host
/// still logs it after answering); on failure it becomes the failure.
fn fill_refusal(
    function: &str,
    out: *mut runbeam_refusal,
    make: impl FnOnce() -> Result<Refusal, Error>,
) -> runbeam_status {
    guard_value(function, RUNBEAM_STATUS_INTERNAL, || {
        let filled = out_arg(out, "out").and_then(|out| {
            let refusal = make()?;
            // SAFETY: non-NULL, and writable per the caller's contract.
            unsafe { out.write(to_c(&refusal)) };
            Ok(())
        });
        match filled {
            Ok(()) => RUNBEAM_OK,
            Err(e) => error::set(e),
        }
    })
}

/// # Safety
/// `outbound` is NULL or a live handle.
unsafe fn text_of(function: &str, outbound: *const runbeam_outbound, field: Text) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read_handle(function, outbound, ptr::null(), |o| o.text(field)) }
}

/// The inbound mesh guard of an ingress, as one call: the mesh token of the `Authorization`
/// header value `authorization` (NULL: the request had none) verified for `mesh` (its
/// configuration name, or its `id` when the configuration sets one) — signature, trusted
/// issuer (the mesh's provider), `aud == "mesh:<id>"` and `mesh_id` (`<id>`: the mesh's `id`,
/// else its name, as the Cloud issues it), expiry — and, when `served_url` is not NULL, that the URL
/// being served lies under the token's `dest_url`; its claims written to `*out_claims` (a new
/// handle: `runbeam_claims_free()`; `sub` is `gateway:<id>` of the caller, the custom claim
/// `source_team` through `runbeam_claims_get_json()`). Blocking only when keys must be
/// fetched; no machine token is needed.
///
/// `served_url` is the gateway's public base URL (the one registered for its ingress in
/// Runbeam Cloud — never the `Host` header) followed by the request path:
/// `runbeam_join_path(public_url, path, …)`. With NULL, only the mesh, audience, signature and
/// expiry are checked: a token issued for another resource of the mesh is accepted — pass it
/// whenever the gateway serves more than one resource.
///
/// Errors — answer them with `runbeam_refusal_from_last_error(RUNBEAM_STAGE_MESH_TOKEN, …)`:
/// `RUNBEAM_STATUS_JWT_INVALID` (no header, not `Bearer <token>`, malformed, bad signature,
/// another mesh or destination, a user JWT), `_JWT_EXPIRED`, `_UNTRUSTED_ISSUER` (all 401);
/// `_NOT_IN_MESH` for a mesh this gateway is not in (403); the key fetch's errors (503).
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` for NULL `resolver`, `mesh` or `out_claims`, an empty
/// `mesh`, a non-UTF-8 `mesh` or `served_url`, a `served_url` that is not a URL, or a call
/// from a librunbeam callback when keys must be fetched. Messages never quote the token.
///
/// ```c
/// char *served = NULL;
/// runbeam_claims *caller = NULL;
/// if (runbeam_join_path(public_url, raw_target, &served) != RUNBEAM_OK ||
///     runbeam_resolver_verify_mesh_request(resolver, authorization, "imaging-integration",
///                                          served, &caller) != RUNBEAM_OK) {
///     runbeam_string_free(served);
///     return refuse(connection, RUNBEAM_STAGE_MESH_TOKEN); // 400, 401, 403 or 503
/// }
/// printf("call from %s\n", runbeam_claims_sub(caller));
/// runbeam_claims_free(caller);
/// runbeam_string_free(served);
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `authorization`, `mesh` and `served_url` are NULL or
/// NUL-terminated; `out_claims` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_request(
    resolver: *const runbeam_resolver,
    authorization: *const c_char,
    mesh: *const c_char,
    served_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    const NAME: &str = "runbeam_resolver_verify_mesh_request";
    guard(NAME, || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let (mesh, served) = unsafe { mesh_request_args(mesh, served_url) }?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let claims = r.runtime.wait(
            NAME,
            r.resolver
                .verify_mesh_request_attempt(header.as_deref(), mesh, served),
        )?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, Some(claims)) };
        Ok(())
    })
}

/// `runbeam_resolver_verify_mesh_request()` with cached keys only: never does I/O, on any
/// thread; `RUNBEAM_OK` with `*out_claims` NULL when keys must be fetched first.
///
/// # Safety
/// As `runbeam_resolver_verify_mesh_request()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_request_cached(
    resolver: *const runbeam_resolver,
    authorization: *const c_char,
    mesh: *const c_char,
    served_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_resolver_verify_mesh_request_cached", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let (mesh, served) = unsafe { mesh_request_args(mesh, served_url) }?;
        // SAFETY: forwarded contract.
        let header = unsafe { authorization_arg(authorization) };
        let claims = r
            .resolver
            .verify_mesh_request_cached(header.as_deref(), mesh, served)
            .transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_claims(out, claims) };
        Ok(())
    })
}

/// Everything to send a request for `path` to the resource `reference` through the mesh, as a
/// new handle at `*out` (free it with `runbeam_outbound_free()`): resolves the reference
/// (cached, as `runbeam_resolver_resolve()`), takes its first URL, appends `path` — the
/// request target as received, with its query, not percent-decoded; refused if it could leave
/// that URL (see `runbeam_join_path()`) — and obtains the mesh token of the mesh listing the
/// reference, issued for the resource's URL (cached until 30 s before it expires, as
/// `runbeam_resolver_mesh_token()`; one token serves every path under that URL). With the
/// resolution and the token cached it answers on the calling thread without I/O; otherwise it
/// blocks for the Cloud, within the client's deadline (a stale resolution is served while the
/// Cloud fails, flagged by `runbeam_outbound_is_stale()`).
///
/// Errors — answer them with `runbeam_refusal_from_last_error(RUNBEAM_STAGE_OUTBOUND, …)`:
/// `RUNBEAM_STATUS_NOT_IN_MESH` / `_UNKNOWN_PROVIDER` for a reference no enabled mesh lists
/// (403, no request made); `_PERMISSION_DENIED` (the Cloud refused: 403); `_NOT_FOUND` (404);
/// `_INVALID_REFERENCE`, and `_INVALID_ARGUMENT` for a path that would leave the resource or a
/// resource without a URL (400); the Cloud, network and machine-token errors when no stale
/// answer can be served (503). `RUNBEAM_STATUS_INVALID_ARGUMENT` also for NULL or non-UTF-8
/// arguments, or a call from a librunbeam callback when a request is needed (use the `_async`
/// form).
///
/// ```c
/// runbeam_outbound *out = NULL;
/// if (runbeam_resolver_outbound(resolver, "runbeam.radiology-dept.ingress.name.dicomweb",
///                               "/studies?modality=CT", &out) != RUNBEAM_OK)
///     return refuse(connection, RUNBEAM_STAGE_OUTBOUND); // 400, 403, 404 or 503
/// char header[8192];
/// snprintf(header, sizeof header, "Authorization: %s", runbeam_outbound_authorization_secret(out));
/// struct curl_slist *headers = curl_slist_append(NULL, header);
/// explicit_bzero(header, sizeof header);
/// curl_easy_setopt(curl, CURLOPT_URL, runbeam_outbound_url(out));
/// curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
/// curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
/// CURLcode sent = curl_easy_perform(curl);
/// curl_slist_free_all(headers);
/// runbeam_outbound_free(out); // zeroizes the header
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `reference` and `path` are NULL or NUL-terminated;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_outbound(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    path: *const c_char,
    out: *mut *mut runbeam_outbound,
) -> runbeam_status {
    const NAME: &str = "runbeam_resolver_outbound";
    guard(NAME, || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let (reference, path) = unsafe { outbound_args(reference, path) }?;
        let outbound = r
            .runtime
            .wait(NAME, r.resolver.outbound_attempt(reference, path))?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = runbeam_outbound::into_raw(outbound) };
        Ok(())
    })
}

/// `runbeam_resolver_outbound()` without I/O, on any thread (callbacks included): when a
/// request would be needed (the resolution or the mesh token is not cached) it returns
/// `RUNBEAM_OK` with `*out` set to **NULL** — then call the blocking or `_async` form.
/// Otherwise the same answers and errors (a reference outside the mesh is known at once).
///
/// ```c
/// runbeam_outbound *out = NULL;
/// runbeam_status s = runbeam_resolver_outbound_cached(resolver, ref, path, &out);
/// if (s == RUNBEAM_OK && out == NULL)   // not cached: go async
///     s = runbeam_resolver_outbound_async(resolver, ref, path, on_outbound, request, NULL);
/// ```
///
/// # Safety
/// As `runbeam_resolver_outbound()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_outbound_cached(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    path: *const c_char,
    out: *mut *mut runbeam_outbound,
) -> runbeam_status {
    guard("runbeam_resolver_outbound_cached", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let (reference, path) = unsafe { outbound_args(reference, path) }?;
        let outbound = r.resolver.outbound_cached(reference, path).transpose()?;
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = outbound.map_or(ptr::null_mut(), runbeam_outbound::into_raw) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use runbeam_core::ErrorKind;
    use runbeam_core::edge::{CONTENT_TYPE, WWW_AUTHENTICATE_INVALID_TOKEN};
    use runbeam_ffi_cold::status::RUNBEAM_STATUS_INVALID_ARGUMENT;

    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: NULL or a static NUL-terminated string of this module.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    #[test]
    fn a_refusal_is_the_cores_answer_in_static_c_strings() {
        let mut r = std::mem::MaybeUninit::<runbeam_refusal>::uninit();
        let status = unsafe {
            runbeam_refusal_for_status(
                ErrorKind::JwtExpired.c_status(),
                RUNBEAM_STAGE_USER_TOKEN,
                -1,
                r.as_mut_ptr(),
            )
        };
        assert_eq!(status, RUNBEAM_OK);
        // SAFETY: written on success.
        let r = unsafe { r.assume_init() };
        let core = Refusal::for_kind(ErrorKind::JwtExpired, Stage::UserToken, None);
        assert_eq!(r.status, core.status());
        assert_eq!(
            text(r.www_authenticate).as_deref(),
            Some(WWW_AUTHENTICATE_INVALID_TOKEN)
        );
        assert_eq!(text(r.body).as_deref(), Some(core.body()));
        assert_eq!(text(r.content_type).as_deref(), Some(CONTENT_TYPE));
        assert_eq!(text(r.kind).as_deref(), Some("JwtExpired"));
        assert_eq!(r.retry_after_secs, 0);
        // The same text is the same pointer: nothing is allocated per refusal.
        assert_eq!(core.body_c().as_ptr(), r.body);
    }

    #[test]
    fn every_kind_at_every_stage_matches_the_core() {
        for kind in ErrorKind::ALL {
            for (stage, core_stage) in [
                (RUNBEAM_STAGE_USER_TOKEN, Stage::UserToken),
                (RUNBEAM_STAGE_MESH_TOKEN, Stage::MeshToken),
                (RUNBEAM_STAGE_OUTBOUND, Stage::Outbound),
            ] {
                for after in [-1i64, 0, 1500, i64::MAX] {
                    let r = refusal_for(kind.c_status(), stage, after).unwrap();
                    let retry = u64::try_from(after).ok().map(Duration::from_millis);
                    assert_eq!(r, Refusal::for_kind(kind, core_stage, retry));
                    let c = to_c(&r);
                    assert_ne!(c.status, 500);
                    // Every text is the core's (no fallback was needed).
                    assert_eq!(text(c.body).as_deref(), Some(r.body()));
                    assert_eq!(text(c.www_authenticate).as_deref(), r.www_authenticate());
                    assert_eq!(text(c.content_type).as_deref(), Some(CONTENT_TYPE));
                    assert_eq!(c.retry_after_secs, r.retry_after_secs().unwrap_or(0));
                }
            }
        }
    }

    #[test]
    fn refusal_arguments_are_checked() {
        let mut r = std::mem::MaybeUninit::<runbeam_refusal>::uninit();
        for (status, stage) in [(RUNBEAM_OK, 0), (12345, 0), (400, 3), (400, -1)] {
            let s = unsafe { runbeam_refusal_for_status(status, stage, -1, r.as_mut_ptr()) };
            assert_eq!(s, RUNBEAM_STATUS_INVALID_ARGUMENT, "{status} {stage}");
        }
        let s = unsafe { runbeam_refusal_for_status(400, 0, -1, ptr::null_mut()) };
        assert_eq!(s, RUNBEAM_STATUS_INVALID_ARGUMENT);
    }
}
