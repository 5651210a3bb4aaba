//! `runbeam_reference`'s calls: parsing a resource reference and its getters (docs/spec.md §1).

use runbeam_core::{Lookup, Reference, ResourceType};
use runbeam_ffi_cold::guard::{
    free_handle, guard, guard_value, handle_arg, out_arg, str_arg, str_arg_len,
};
use runbeam_ffi_cold::limits::{RUNBEAM_MAX_TEXT_BYTES, at_most};
use runbeam_ffi_cold::reference::*;
use runbeam_ffi_cold::status::runbeam_status;
use runbeam_ffi_cold::strings::into_c_string;
use std::ffi::{CStr, c_char};
use std::ptr;

/// Parses a NUL-terminated reference such as `"runbeam.acme.ingress.name.fhir-api"`.
///
/// On success writes a new reference to `*out` (release it with `runbeam_reference_free()`).
/// On failure `*out` is untouched and the status is `RUNBEAM_STATUS_INVALID_REFERENCE` (the
/// message names the reference, the 0-based segment and what was expected) or
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (NULL pointer, invalid UTF-8).
///
/// ```c
/// runbeam_reference *ref = NULL;
/// if (runbeam_reference_parse("runbeam.acme.ingress.name.fhir-api", &ref) == RUNBEAM_OK) {
///     printf("team %s, value %s\n", runbeam_reference_team(ref), runbeam_reference_value(ref));
///     runbeam_reference_free(ref);
/// }
/// ```
///
/// # Safety
/// `text` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_parse(
    text: *const c_char,
    out: *mut *mut runbeam_reference,
) -> runbeam_status {
    guard("runbeam_reference_parse", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { str_arg(text, "text") }?;
        parse_to(text, out)
    })
}

/// Like `runbeam_reference_parse()`, for `len` bytes at `text` that need not be NUL-terminated
/// (a slice of a request buffer). `len` over `RUNBEAM_MAX_TEXT_BYTES` is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (nothing is read).
///
/// # Safety
/// `text` points to `len` readable bytes (or is NULL with `len == 0`); `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_parse_len(
    text: *const c_char,
    len: usize,
    out: *mut *mut runbeam_reference,
) -> runbeam_status {
    guard("runbeam_reference_parse_len", || {
        let out = out_arg(out, "out")?;
        at_most("len", len, RUNBEAM_MAX_TEXT_BYTES, "RUNBEAM_MAX_TEXT_BYTES")?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { str_arg_len(text, len, "text") }?;
        parse_to(text, out)
    })
}

/// The provider (`"runbeam"`; `"local"` for local references). NULL if `reference` is NULL.
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_provider(
    reference: *const runbeam_reference,
) -> *const c_char {
    guard_value("runbeam_reference_provider", ptr::null(), || {
        get(reference).map_or(ptr::null(), |r| r.at(0))
    })
}

/// The team, or NULL when the reference has none (local and `<provider>.id.<id>` forms).
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_team(
    reference: *const runbeam_reference,
) -> *const c_char {
    guard_value("runbeam_reference_team", ptr::null(), || {
        get(reference).map_or(ptr::null(), runbeam_reference::team_ptr)
    })
}

/// The resource type in lowercase (`"ingress"`, `"egress"`, `"pipeline"`, `"endpoint"`,
/// `"backend"`, `"mesh"`), or NULL when the reference has none. The string is static.
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_type(
    reference: *const runbeam_reference,
) -> *const c_char {
    guard_value("runbeam_reference_type", ptr::null(), || {
        get(reference)
            .and_then(|r| r.inner.resource_type())
            .map_or(ptr::null(), |t| type_name(t).as_ptr())
    })
}

/// `RUNBEAM_LOOKUP_ID` or `RUNBEAM_LOOKUP_NAME` (`RUNBEAM_LOOKUP_NONE` if `reference` is NULL).
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_lookup(
    reference: *const runbeam_reference,
) -> runbeam_lookup {
    guard_value(
        "runbeam_reference_lookup",
        RUNBEAM_LOOKUP_NONE,
        || match get(reference).map(|r| r.inner.lookup()) {
            Some(Lookup::Id) => RUNBEAM_LOOKUP_ID,
            Some(Lookup::Name) => RUNBEAM_LOOKUP_NAME,
            None => RUNBEAM_LOOKUP_NONE,
        },
    )
}

/// The keyword of a lookup value: `"id"`, `"name"`, or `""` for anything else. Static.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_lookup_str(lookup: runbeam_lookup) -> *const c_char {
    match lookup {
        RUNBEAM_LOOKUP_ID => c"id".as_ptr(),
        RUNBEAM_LOOKUP_NAME => c"name".as_ptr(),
        _ => c"".as_ptr(),
    }
}

/// The id or name the reference looks up. NULL if `reference` is NULL.
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_value(
    reference: *const runbeam_reference,
) -> *const c_char {
    guard_value("runbeam_reference_value", ptr::null(), || {
        get(reference).map_or(ptr::null(), |r| r.at(r.value))
    })
}

/// Whether the reference names a resource of the gateway's own configuration (`<name>` or
/// `local.name.<name>`). False if `reference` is NULL.
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_is_local(reference: *const runbeam_reference) -> bool {
    guard_value("runbeam_reference_is_local", false, || {
        get(reference).is_some_and(|r| r.inner.is_local())
    })
}

/// The canonical form, borrowed: valid until the reference is freed. NULL if `reference` is
/// NULL. Use `runbeam_reference_to_string()` for a copy you own.
///
/// # Safety
/// `reference` is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_as_str(
    reference: *const runbeam_reference,
) -> *const c_char {
    guard_value("runbeam_reference_as_str", ptr::null(), || {
        get(reference).map_or(ptr::null(), |r| r.canonical_ptr())
    })
}

/// Writes a newly allocated copy of the canonical form (the shortest equivalent spelling, types
/// in lowercase: `local.name.x` → `x`) to `*out`; release it with `runbeam_string_free()`.
///
/// # Safety
/// `reference` is NULL or a live reference; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_to_string(
    reference: *const runbeam_reference,
    out: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_reference_to_string", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let reference = unsafe { handle_arg(reference, "reference") }?;
        let text = into_c_string(reference.inner.as_str());
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = text };
        Ok(())
    })
}

/// Whether two references are equal (same canonical form). False if either is NULL.
///
/// # Safety
/// Each argument is NULL or a live reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_equal(
    a: *const runbeam_reference,
    b: *const runbeam_reference,
) -> bool {
    guard_value(
        "runbeam_reference_equal",
        false,
        || matches!((get(a), get(b)), (Some(a), Some(b)) if a.inner == b.inner),
    )
}

/// Releases a reference. NULL is a no-op.
///
/// # Safety
/// `reference` is NULL or a reference from librunbeam not freed before; it is invalid afterwards,
/// and so is every string borrowed from it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_reference_free(reference: *mut runbeam_reference) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_reference_free", reference) }
}

fn type_name(t: ResourceType) -> &'static CStr {
    match t {
        ResourceType::Ingress => c"ingress",
        ResourceType::Egress => c"egress",
        ResourceType::Pipeline => c"pipeline",
        ResourceType::Endpoint => c"endpoint",
        ResourceType::Backend => c"backend",
        ResourceType::Mesh => c"mesh",
    }
}

/// Parses `text` and writes the new handle to `out` (only on success).
fn parse_to(text: &str, out: *mut *mut runbeam_reference) -> Result<(), runbeam_core::Error> {
    let reference = Reference::parse(text)?;
    let handle = Box::new(runbeam_reference::new(reference));
    // SAFETY: callers checked that `out` is non-NULL; writable per their contract.
    unsafe { *out = Box::into_raw(handle) };
    Ok(())
}

/// Borrows a reference handle for a getter; NULL gives `None`.
fn get<'a>(reference: *const runbeam_reference) -> Option<&'a runbeam_reference> {
    // SAFETY: every getter's contract: NULL or a live reference.
    unsafe { reference.as_ref() }
}
