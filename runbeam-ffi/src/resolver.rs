//! The resolver's per-request calls: `resolve`, mesh-token verification and the resolution's
//! getters (docs/spec.md §6). Its set-up, reload, the mesh token it issues and the `_async`
//! forms are in runbeam-ffi-cold's `resolver`.

use runbeam_core::Error;
use runbeam_core::resolve::Resolution;
use runbeam_ffi_cold::claims::runbeam_claims;
use runbeam_ffi_cold::error::to_cstring;
use runbeam_ffi_cold::guard::{
    free_handle, guard, guard_value, handle_arg, out_arg, read_handle, str_arg,
};
use runbeam_ffi_cold::resolver::*;
use runbeam_ffi_cold::status::runbeam_status;
use runbeam_ffi_cold::validator::{mesh_args, token_arg};
use std::ffi::c_char;
use std::ptr;

/// Resolves `reference` (any spelling of docs/spec.md §1, NUL-terminated) and writes a new
/// `runbeam_resolution` to `*out` (free it with `runbeam_resolution_free()`). A fresh cached
/// answer, a local reference and a refusal (`NOT_IN_MESH`, …) are answered on the calling
/// thread without I/O; otherwise it blocks for the provider's answer (one request however many
/// threads ask), within the client's deadline.
///
/// Errors: `RUNBEAM_STATUS_INVALID_REFERENCE`, `_UNKNOWN_PROVIDER`, `_NOT_IN_MESH`,
/// `_NOT_FOUND` (also a local name the configuration does not define), `_PERMISSION_DENIED`,
/// `_UNAUTHORIZED`, the token manager's `_NO_TOKEN` / `_TOKEN_EXPIRED`, and — when no stale
/// answer can be served — `_TRANSPORT`, `_TIMEOUT`, `_SERVER_ERROR`, `_RATE_LIMITED`,
/// `_PROTOCOL`. `RUNBEAM_STATUS_INVALID_ARGUMENT` for NULL or non-UTF-8 arguments, or when a
/// request is needed and the call comes from a librunbeam callback (use the `_async` form).
///
/// ```c
/// runbeam_resolution *dicom = NULL;
/// if (runbeam_resolver_resolve(resolver, "runbeam.radiology-dept.ingress.name.dicomweb",
///                              &dicom) == RUNBEAM_OK) {
///     connect_to(runbeam_resolution_url(dicom, 0), runbeam_resolution_protocol(dicom));
///     runbeam_resolution_free(dicom);
/// }
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `reference` is NULL or NUL-terminated; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_resolve(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    out: *mut *mut runbeam_resolution,
) -> runbeam_status {
    guard("runbeam_resolver_resolve", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { str_arg(reference, "reference") }?;
        let answer = resolve_blocking("runbeam_resolver_resolve", r, reference)?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_handle(out, runbeam_resolution::into_raw(answer)) };
        Ok(())
    })
}

/// `runbeam_resolver_resolve()` without I/O, on any thread (callbacks included): when a
/// request would be needed (never resolved, or the cached answer is past its TTL) it returns
/// `RUNBEAM_OK` with `*out` set to **NULL** — then call `runbeam_resolver_resolve()` or its
/// `_async` form. Otherwise the same answers and errors (a refusal such as
/// `RUNBEAM_STATUS_NOT_IN_MESH` is known without I/O).
///
/// ```c
/// runbeam_resolution *res = NULL;
/// runbeam_status s = runbeam_resolver_resolve_cached(resolver, ref, &res);
/// if (s == RUNBEAM_OK && res == NULL)   // not cached: go async
///     s = runbeam_resolver_resolve_async(resolver, ref, on_resolution, request, NULL);
/// ```
///
/// # Safety
/// As `runbeam_resolver_resolve()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_resolve_cached(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    out: *mut *mut runbeam_resolution,
) -> runbeam_status {
    guard("runbeam_resolver_resolve_cached", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { str_arg(reference, "reference") }?;
        let answer = r.resolver.resolve_cached(reference).transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe {
            write_handle(
                out,
                answer.map_or(ptr::null_mut(), runbeam_resolution::into_raw),
            )
        };
        Ok(())
    })
}

/// The resource type: `"ingress"`, `"egress"`, `"pipeline"`, `"endpoint"`, `"backend"` or
/// `"mesh"`. Borrowed from `resolution` (valid until `runbeam_resolution_free()`; do not
/// free); NULL if `resolution` is NULL. The same holds for every string getter.
///
/// ```c
/// printf("%s %s (%s) at %s\n", runbeam_resolution_type(r), runbeam_resolution_name(r),
///        runbeam_resolution_id(r), runbeam_resolution_url(r, 0));
/// ```
///
/// # Safety
/// `resolution` is NULL or a live handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_type(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_type", resolution, Text::Type) }
}

/// The resource's id at its provider (for local references: its name).
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_id", resolution, Text::Id) }
}

/// The resource's name.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_name(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_name", resolution, Text::Name) }
}

/// The id of the gateway that serves the resource; NULL when the answer has none.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_gateway_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_gateway_id", resolution, Text::GatewayId) }
}

/// The id of the resource's pipeline; NULL when the answer has none (for a local
/// reference: the pipeline named in the configuration).
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_pipeline_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        text_of(
            "runbeam_resolution_pipeline_id",
            resolution,
            Text::PipelineId,
        )
    }
}

/// The id of the mesh the resource was resolved through; NULL when the answer has none.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_mesh_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_mesh_id", resolution, Text::MeshId) }
}

/// The id of the resource's backend (egresses); NULL when the answer has none.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_backend_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_backend_id", resolution, Text::BackendId) }
}

/// The id of the resource's endpoint (ingresses); NULL when the answer has none.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_endpoint_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        text_of(
            "runbeam_resolution_endpoint_id",
            resolution,
            Text::EndpointId,
        )
    }
}

/// The owning team's id; NULL when unknown (local references).
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_team_id(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_team_id", resolution, Text::TeamId) }
}

/// How many URLs the resource has (ingresses have at least one); 0 if `resolution` is NULL.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_url_count(
    resolution: *const runbeam_resolution,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_url_count", resolution, 0, |r| {
            r.resolution.resource().urls.len()
        })
    }
}

/// URL `index` (0-based, in the provider's order); NULL when out of range.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_url(
    resolution: *const runbeam_resolution,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_url", resolution, ptr::null(), |r| {
            r.urls().get(index).map_or(ptr::null(), |u| u.as_ptr())
        })
    }
}

/// The protocol to speak: `"http"` or `"http3"`; NULL when the provider did not say.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_protocol(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_protocol", resolution, Text::Protocol) }
}

/// The mode (`"default"` or `"mesh"`); NULL when the provider did not say.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_mode(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_mode", resolution, Text::Mode) }
}

/// The resource's description; NULL when it has none.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_description(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        text_of(
            "runbeam_resolution_description",
            resolution,
            Text::Description,
        )
    }
}

/// The provider that answered (`"runbeam"`, …; `"local"` for local references).
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_provider(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { text_of("runbeam_resolution_provider", resolution, Text::Provider) }
}

/// When the provider answered, in Unix seconds (local references: when the configuration was
/// loaded); 0 if `resolution` is NULL.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_resolved_at(
    resolution: *const runbeam_resolution,
) -> i64 {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_resolved_at", resolution, 0, |r| {
            r.resolution.resolved_at().unix_timestamp()
        })
    }
}

/// Whether this is a cached answer past its TTL, served because the provider failed and the
/// answer is younger than the max-stale time; false if `resolution` is NULL.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_is_stale(
    resolution: *const runbeam_resolution,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_is_stale", resolution, false, |r| {
            r.resolution.is_stale()
        })
    }
}

/// Whether the reference was local, answered from the configuration; false if `resolution`
/// is NULL.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_is_local(
    resolution: *const runbeam_resolution,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_is_local", resolution, false, |r| {
            r.resolution.is_local()
        })
    }
}

/// The whole answer as JSON, the envelope of `GET /harmony/resources/resolve` with the stale
/// flag added: `{"data": {"type", "id", "name", "team_id", "enabled", "urls": [...],
/// "protocol", "mode", "gateway_id", "pipeline_id", "mesh_id", "backend_id", "endpoint_id",
/// "description"}, "meta": {"provider", "resolved_at", "stale"}}`. Borrowed from
/// `resolution`; NULL if `resolution` is NULL.
///
/// # Safety
/// `resolution` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_json(
    resolution: *const runbeam_resolution,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_resolution_json", resolution, ptr::null(), |r| {
            r.json
                .get_or_init(|| {
                    to_cstring(&serde_json::to_string(&r.resolution).unwrap_or_default())
                })
                .as_ptr()
        })
    }
}

/// Releases a resolution; every string borrowed from it becomes invalid. NULL is a no-op.
///
/// # Safety
/// `resolution` is NULL or a resolution not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolution_free(resolution: *mut runbeam_resolution) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_resolution_free", resolution) }
}

/// The blocking form of a resolve: the cached path on the calling thread, the runtime only
/// when a request is needed.
fn resolve_blocking(
    function: &str,
    r: &runbeam_resolver,
    reference: &str,
) -> Result<Resolution, Error> {
    r.runtime
        .wait(function, r.resolver.resolve_attempt(reference))
}

/// # Safety
/// `resolution` is NULL or a live handle.
unsafe fn text_of(
    function: &str,
    resolution: *const runbeam_resolution,
    field: Text,
) -> *const c_char {
    guard_value(function, ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { resolution.as_ref() }.map_or(ptr::null(), |r| r.text(field))
    })
}

/// The receiving side: verifies a mesh token of `token_len` bytes (no NUL needed) presented to
/// this gateway for `mesh` (its configuration name or Cloud id) — signature, trusted issuer
/// (the mesh's provider), `aud == "mesh:<id>"`, `mesh_id`, expiry — and, when
/// `destination_url` is not NULL, that the URL being served lies under the token's
/// `dest_url`. Writes the claims to `*out_claims` (a new handle: `runbeam_claims_free()`).
/// Blocking only when keys must be fetched (first use, TTL passed, unknown `kid`); no machine
/// token is needed.
///
/// Errors: `RUNBEAM_STATUS_NOT_IN_MESH` for an unknown mesh; `_JWT_INVALID` (malformed, bad
/// signature, another mesh or destination, …), `_JWT_EXPIRED`, `_UNTRUSTED_ISSUER`; the key
/// fetch's errors; `_INVALID_ARGUMENT` for NULL or non-UTF-8 arguments. Messages never quote
/// the token.
///
/// ```c
/// runbeam_claims *claims = NULL;
/// if (runbeam_resolver_verify_mesh_token(resolver, token, len, "imaging-integration",
///                                        request_url, &claims) == RUNBEAM_OK) {
///     printf("call from %s\n", runbeam_claims_sub(claims));
///     runbeam_claims_free(claims);
/// } else {
///     respond_401(runbeam_last_error_message());
/// }
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `token` is NULL or points to `token_len` readable
/// bytes; `mesh` is NULL or NUL-terminated; `destination_url` is NULL or NUL-terminated;
/// `out_claims` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_token(
    resolver: *const runbeam_resolver,
    token: *const c_char,
    token_len: usize,
    mesh: *const c_char,
    destination_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_resolver_verify_mesh_token", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh, destination_url) }?;
        let claims = r.runtime.wait(
            "runbeam_resolver_verify_mesh_token",
            r.resolver.verify_mesh_token_attempt(token, mesh, dest),
        )?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_handle(out, runbeam_claims::into_raw(claims)) };
        Ok(())
    })
}

/// `runbeam_resolver_verify_mesh_token()` with cached keys only: never does I/O, on any
/// thread; `RUNBEAM_OK` with `*out_claims` NULL when keys must be fetched first.
///
/// # Safety
/// As `runbeam_resolver_verify_mesh_token()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_token_cached(
    resolver: *const runbeam_resolver,
    token: *const c_char,
    token_len: usize,
    mesh: *const c_char,
    destination_url: *const c_char,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_resolver_verify_mesh_token_cached", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh, destination_url) }?;
        let claims = r
            .resolver
            .verify_mesh_token_cached(token, mesh, dest)
            .transpose()?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe {
            write_handle(
                out,
                claims.map_or(ptr::null_mut(), runbeam_claims::into_raw),
            )
        };
        Ok(())
    })
}
