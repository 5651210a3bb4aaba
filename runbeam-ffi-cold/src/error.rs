//! The thread-local "last error" of the calling thread.
//!
//! Every fallible function clears it on entry and sets it when it fails, so the accessors
//! always describe the most recent failing call made by this thread. Threads never see each
//! other's errors.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use runbeam_core::{Error, ErrorKind, Problem};

use crate::problems::runbeam_problem_list;
use crate::status::{RUNBEAM_OK, RUNBEAM_STATUS_INTERNAL, runbeam_status};

struct LastError {
    status: runbeam_status,
    kind: ErrorKind,
    message: CString,
    problems: Vec<Problem>,
    http_status: u16,
    retry_after_ms: i64,
    field_errors: Option<CString>,
    /// The failed request's method and path (`Error::request()`).
    request: Option<(CString, CString)>,
    server_message: Option<CString>,
    attempts: u32,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// A C string from arbitrary text: interior NUL bytes (impossible in our messages, but cheap to
/// guard against) are written as `\0`.
#[inline]
pub fn to_cstring(text: &str) -> CString {
    CString::new(text)
        .unwrap_or_else(|_| CString::new(text.replace('\0', "\\0")).unwrap_or_default())
}

pub(crate) fn clear() {
    LAST_ERROR.with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = None;
        }
    });
}

/// Records `error` as this thread's last error and returns its status code.
pub fn set(error: Error) -> runbeam_status {
    let status = error.kind().c_status();
    let last = LastError {
        status,
        kind: error.kind(),
        message: to_cstring(error.message()),
        problems: error.problems().to_vec(),
        http_status: error.status().unwrap_or(0),
        retry_after_ms: error
            .retry_after()
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        field_errors: if error.field_errors().is_empty() {
            None
        } else {
            serde_json::to_string(error.field_errors())
                .ok()
                .map(|json| to_cstring(&json))
        },
        request: error
            .request()
            .map(|(method, path)| (to_cstring(method), to_cstring(path))),
        server_message: error.server_message().map(to_cstring),
        attempts: error.attempts().unwrap_or(0),
    };
    LAST_ERROR.with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = Some(last);
        }
    });
    status
}

/// The message of the last failing call on this thread, or `""` when the last call succeeded.
///
/// Never NULL. The string belongs to librunbeam and stays valid until the next librunbeam call
/// on the same thread; copy it to keep it. Messages never contain secrets.
///
/// ```c
/// runbeam_mesh_config *cfg = NULL;
/// if (runbeam_mesh_config_from_file("gateway.toml", &cfg) != RUNBEAM_OK)
///     fprintf(stderr, "runbeam: %s\n", runbeam_last_error_message());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(c"".as_ptr(), |l| l.message.as_ptr()),
        Err(_) => c"".as_ptr(),
    })
}

/// The status of the last failing call on this thread (`RUNBEAM_OK` if the last call
/// succeeded).
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_status() -> runbeam_status {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(RUNBEAM_OK, |l| l.status),
        Err(_) => RUNBEAM_OK,
    })
}

/// The error kind of the last failing call on this thread, as a static CamelCase name
/// (`"InvalidReference"`, `"NotFound"`, …), or `""` if the last call succeeded. Do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_kind() -> *const c_char {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot
            .as_ref()
            .map_or(c"".as_ptr(), |l| l.kind.c_name().as_ptr()),
        Err(_) => c"".as_ptr(),
    })
}

/// A copy of the problems of the last failing call on this thread (each with its TOML path):
/// filled for configuration load errors, empty otherwise. `*out` is a new list, released with
/// `runbeam_problem_list_free()`.
///
/// Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` if `out` is NULL. This call does not clear the last
/// error.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_last_error_problems(
    out: *mut *mut runbeam_problem_list,
) -> runbeam_status {
    crate::guard::guard_value(
        "runbeam_last_error_problems",
        RUNBEAM_STATUS_INTERNAL,
        || {
            if out.is_null() {
                return ErrorKind::InvalidArgument.c_status();
            }
            let problems = LAST_ERROR.with(|e| match e.try_borrow() {
                Ok(slot) => slot
                    .as_ref()
                    .map(|l| l.problems.clone())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            });
            let list = Box::new(runbeam_problem_list::new(problems));
            // SAFETY: `out` is non-NULL and writable per the contract.
            unsafe { *out = Box::into_raw(list) };
            RUNBEAM_OK
        },
    )
}

/// The HTTP status of the last failing call on this thread when Runbeam Cloud answered it
/// (`403`, `404`, …); `0` when the last call succeeded or failed without an HTTP answer
/// (argument errors, transport failures, timeouts).
///
/// Inside a `runbeam_json_callback` reporting a failure, it describes that failure.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_http_status() -> u16 {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(0, |l| l.http_status),
        Err(_) => 0,
    })
}

/// How long Runbeam Cloud asked to wait before retrying (`Retry-After` of a 429 or 503), in
/// milliseconds, for the last failing call on this thread; `-1` when it did not say.
///
/// Inside a `runbeam_json_callback` reporting a failure, it describes that failure.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_retry_after_ms() -> i64 {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(-1, |l| l.retry_after_ms),
        Err(_) => -1,
    })
}

/// The field errors of the last failing call on this thread (a 422 `Validation` answer) as a
/// JSON object `{"<field>": ["<message>", …], …}`; `"{}"` when there are none.
///
/// Never NULL. Borrowed: valid until the next librunbeam call on the same thread; do not free.
/// Inside a `runbeam_json_callback` reporting a failure, it describes that failure.
///
/// ```c
/// if (runbeam_client_create(c, RUNBEAM_COLLECTION_SERVICES, "{}", &json) == RUNBEAM_STATUS_VALIDATION)
///     fprintf(stderr, "fix: %s\n", runbeam_last_error_field_errors_json());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_field_errors_json() -> *const c_char {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot
            .as_ref()
            .and_then(|l| l.field_errors.as_ref())
            .map_or(c"{}".as_ptr(), |f| f.as_ptr()),
        Err(_) => c"{}".as_ptr(),
    })
}

/// Reads a field of the last error; `absent` when the last call succeeded.
fn read_last<T>(absent: T, field: impl FnOnce(&LastError) -> T) -> T {
    LAST_ERROR.with(|e| match e.try_borrow() {
        Ok(slot) => slot.as_ref().map_or(absent, field),
        Err(_) => absent,
    })
}

/// The HTTP method (`"GET"`, `"POST"`, …) of the Runbeam Cloud request whose failure is the
/// last error on this thread; NULL when the last call succeeded or failed without making a
/// request (argument errors, storage, JWT checks, …).
///
/// Borrowed: valid until the next librunbeam call on the same thread; do not free. Inside a
/// callback reporting a failure, it describes that failure.
///
/// ```c
/// if (runbeam_client_get(c, RUNBEAM_COLLECTION_SERVICES, id, &json) != RUNBEAM_OK &&
///     runbeam_last_error_request_method() != NULL)
///     fprintf(stderr, "%s %s failed after %u attempt(s): %s\n",
///             runbeam_last_error_request_method(), runbeam_last_error_request_path(),
///             runbeam_last_error_attempts(), runbeam_last_error_message());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_request_method() -> *const c_char {
    read_last(std::ptr::null(), |l| {
        l.request
            .as_ref()
            .map_or(std::ptr::null(), |(method, _)| method.as_ptr())
    })
}

/// The path of the failed request of the last error on this thread, relative to the API root
/// (`"/services/42"`, `"/harmony/resources/resolve"`: no host, no query); NULL when there was
/// no request (see `runbeam_last_error_request_method()`). Borrowed, as there.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_request_path() -> *const c_char {
    read_last(std::ptr::null(), |l| {
        l.request
            .as_ref()
            .map_or(std::ptr::null(), |(_, path)| path.as_ptr())
    })
}

/// Runbeam Cloud's own message (the `message` field of its error answer, cut to a few hundred
/// characters; the client's token masked if the server echoed it) for the last error on this
/// thread; NULL when the server gave none or there was no answer. Borrowed: valid until the
/// next librunbeam call on the same thread. Inside a callback reporting a failure, it
/// describes that failure.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_server_message() -> *const c_char {
    read_last(std::ptr::null(), |l| {
        l.server_message
            .as_ref()
            .map_or(std::ptr::null(), |m| m.as_ptr())
    })
}

/// How many attempts (the first request and its retries) the client made before the last
/// error on this thread; `0` when it was not a failure of a Runbeam Cloud request. Inside a
/// callback reporting a failure, it describes that failure.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_last_error_attempts() -> u32 {
    read_last(0, |l| l.attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nul_is_escaped() {
        assert_eq!(to_cstring("a\0b").as_bytes(), b"a\\0b");
    }
}
