//! The panic boundary and argument checks every export goes through.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use runbeam_core::panic::{install_quiet_hook, internal_error};
use runbeam_core::{Error, ErrorKind};

use crate::error;
use crate::status::{RUNBEAM_OK, runbeam_status};

/// Runs `body` behind a panic boundary: clears the last error, maps `Err` to its status (and
/// records it), and turns a panic into `RUNBEAM_STATUS_INTERNAL` whose message (for
/// `runbeam_last_error_message()`) is the panic's. Nothing unwinds into C, and nothing is
/// printed: the quiet panic hook is installed before `body` runs.
#[inline]
pub fn guard(function: &str, body: impl FnOnce() -> Result<(), Error>) -> runbeam_status {
    install_quiet_hook();
    error::clear();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => RUNBEAM_OK,
        Ok(Err(e)) => error::set(e),
        Err(panic) => error::set(internal_error(function, panic.as_ref())),
    }
}

/// For functions that return a value rather than a status (getters): `fallback` on panic (the
/// panic is recorded as the last error, and not printed).
#[inline]
pub fn guard_value<T>(function: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    install_quiet_hook();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => {
            error::set(internal_error(function, panic.as_ref()));
            fallback
        }
    }
}

/// Drops a handle created by `Box::into_raw` in librunbeam: what every `runbeam_*_free` does.
/// NULL is a no-op; a panic in a destructor is reported (last error), never unwound into C.
///
/// # Safety
/// `handle` is NULL or came from `Box::into_raw(Box<T>)` in librunbeam and is not freed before.
#[inline]
pub unsafe fn free_handle<T>(function: &str, handle: *mut T) {
    guard_value(function, (), || {
        if !handle.is_null() {
            // SAFETY: the caller's contract.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// Runs a getter on a handle behind the panic boundary; `fallback` for a NULL handle (or a
/// panic, which is also recorded as the last error). What every `runbeam_*_<field>` getter of
/// an immutable handle does.
///
/// # Safety
/// `handle` is NULL or a live handle of this crate.
#[inline]
pub unsafe fn read_handle<H, T>(
    function: &str,
    handle: *const H,
    fallback: T,
    body: impl FnOnce(&H) -> T,
) -> T {
    guard_value(function, None, || {
        // SAFETY: NULL or live (the caller's contract).
        unsafe { handle.as_ref() }.map(body)
    })
    .unwrap_or(fallback)
}

#[inline]
pub fn invalid_argument(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Borrows a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the returned borrow.
#[inline]
pub unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(invalid_argument(format!("argument '{name}' is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    utf8_arg(bytes, name)
}

/// Borrows an optional NUL-terminated UTF-8 argument: NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the returned borrow.
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// Parses a NUL-terminated JSON argument. The text is never echoed (it may hold secrets):
/// the message gives the line and column only.
///
/// # Safety
/// `ptr` is NULL or NUL-terminated.
pub(crate) unsafe fn json_arg(ptr: *const c_char, name: &str) -> Result<serde_json::Value, Error> {
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(ptr, name) }?;
    serde_json::from_str(text).map_err(|e| {
        invalid_argument(format!(
            "argument '{name}' is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Borrows a UTF-8 argument given as pointer and length (no NUL needed).
///
/// # Safety
/// `ptr` is NULL (then `len` must be 0) or points to `len` readable bytes that outlive the borrow.
#[inline]
pub unsafe fn str_arg_len<'a>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> Result<&'a str, Error> {
    if ptr.is_null() {
        if len == 0 {
            return Ok("");
        }
        return Err(invalid_argument(format!(
            "argument '{name}' is NULL with length {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(invalid_argument(format!("argument '{name}' is too long")));
    }
    // SAFETY: `ptr` points to `len` readable bytes per the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    utf8_arg(bytes, name)
}

#[inline]
fn utf8_arg<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        invalid_argument(format!(
            "argument '{name}' is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Checks an out-parameter and returns it.
#[inline]
pub fn out_arg<T>(ptr: *mut T, name: &str) -> Result<*mut T, Error> {
    if ptr.is_null() {
        Err(invalid_argument(format!("out-parameter '{name}' is NULL")))
    } else {
        Ok(ptr)
    }
}

/// Borrows a handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` created by librunbeam.
#[inline]
pub unsafe fn handle_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: per the caller's contract, non-NULL means a live handle.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid_argument(format!("argument '{name}' is NULL")))
}
