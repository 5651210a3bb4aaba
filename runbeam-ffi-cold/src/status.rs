//! `runbeam_status`: stable numeric result codes, one per core `ErrorKind`.
//!
//! Ranges (never renumbered; new codes are only added):
//! 0 OK · 100–199 caller input and configuration · 200–299 Runbeam Cloud answered with an error ·
//! 300–399 network, deadlines and protocol · 400–499 JWT validation · 500–599 tokens and storage ·
//! 900–999 librunbeam itself.
//!
//! The numbers are defined once, in the core's error table (`runbeam_core::error`, see
//! [`ErrorKind::c_status`]); everything here is derived from it, except the constants
//! themselves: cbindgen writes `include/runbeam.h` from literal values, so they are spelled out
//! below and a test compares them, in both directions, with the table.

use std::ffi::{CStr, c_char};

use runbeam_core::ErrorKind;

/// Result of every fallible librunbeam call: `RUNBEAM_OK` (0) or one of `RUNBEAM_STATUS_*`.
/// Details of the last failure on the calling thread: `runbeam_last_error_message()`.
#[allow(non_camel_case_types)]
pub type runbeam_status = i32;

/// Success.
pub const RUNBEAM_OK: runbeam_status = 0;
/// Success (same as `RUNBEAM_OK`).
pub const RUNBEAM_STATUS_OK: runbeam_status = 0;
/// An argument was NULL, not valid UTF-8, or out of range.
pub const RUNBEAM_STATUS_INVALID_ARGUMENT: runbeam_status = 100;
/// A resource reference does not follow the grammar.
pub const RUNBEAM_STATUS_INVALID_REFERENCE: runbeam_status = 101;
/// A configuration document could not be read or loaded.
pub const RUNBEAM_STATUS_CONFIG: runbeam_status = 102;
/// A reference or mesh names a provider that is not configured.
pub const RUNBEAM_STATUS_UNKNOWN_PROVIDER: runbeam_status = 103;
/// A remote reference is not listed in any enabled mesh.
pub const RUNBEAM_STATUS_NOT_IN_MESH: runbeam_status = 104;
/// HTTP 401 from Runbeam Cloud.
pub const RUNBEAM_STATUS_UNAUTHORIZED: runbeam_status = 200;
/// HTTP 403 from Runbeam Cloud.
pub const RUNBEAM_STATUS_PERMISSION_DENIED: runbeam_status = 201;
/// HTTP 404 from Runbeam Cloud.
pub const RUNBEAM_STATUS_NOT_FOUND: runbeam_status = 202;
/// HTTP 409 from Runbeam Cloud.
pub const RUNBEAM_STATUS_CONFLICT: runbeam_status = 203;
/// HTTP 422 from Runbeam Cloud.
pub const RUNBEAM_STATUS_VALIDATION: runbeam_status = 204;
/// HTTP 429 from Runbeam Cloud.
pub const RUNBEAM_STATUS_RATE_LIMITED: runbeam_status = 205;
/// HTTP 5xx from Runbeam Cloud.
pub const RUNBEAM_STATUS_SERVER_ERROR: runbeam_status = 206;
/// Connect, TLS, DNS or connection failure.
pub const RUNBEAM_STATUS_TRANSPORT: runbeam_status = 300;
/// A deadline passed.
pub const RUNBEAM_STATUS_TIMEOUT: runbeam_status = 301;
/// The server's answer does not follow the protocol.
pub const RUNBEAM_STATUS_PROTOCOL: runbeam_status = 302;
/// The operation was cancelled.
pub const RUNBEAM_STATUS_CANCELLED: runbeam_status = 303;
/// A JWT is malformed or does not verify.
pub const RUNBEAM_STATUS_JWT_INVALID: runbeam_status = 400;
/// A JWT has expired.
pub const RUNBEAM_STATUS_JWT_EXPIRED: runbeam_status = 401;
/// A JWT's issuer is not trusted.
pub const RUNBEAM_STATUS_UNTRUSTED_ISSUER: runbeam_status = 402;
/// No token is stored and none can be obtained.
pub const RUNBEAM_STATUS_NO_TOKEN: runbeam_status = 500;
/// The stored token has expired and cannot be renewed.
pub const RUNBEAM_STATUS_TOKEN_EXPIRED: runbeam_status = 501;
/// Token storage failed.
pub const RUNBEAM_STATUS_STORAGE: runbeam_status = 502;
/// Stored data is corrupt or encrypted with another key.
pub const RUNBEAM_STATUS_STORAGE_CORRUPT: runbeam_status = 503;
/// The OS keyring cannot be used.
pub const RUNBEAM_STATUS_KEYRING_UNAVAILABLE: runbeam_status = 504;
/// A bug in librunbeam (including a caught panic). Please report it.
pub const RUNBEAM_STATUS_INTERNAL: runbeam_status = 900;

/// The core error kind of a status code (`None` for OK and unknown codes).
pub fn kind_of(status: runbeam_status) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|&k| k.c_status() == status)
}

/// The symbolic name of a status code: `"RUNBEAM_OK"`, `"RUNBEAM_STATUS_NOT_FOUND"`, … or
/// `"RUNBEAM_STATUS_UNKNOWN"` for a number that is not a status. The string is static: do not
/// free it.
///
/// ```c
/// runbeam_status s = runbeam_reference_parse("runbeam.x", &ref);
/// fprintf(stderr, "%s: %s\n", runbeam_status_str(s), runbeam_last_error_message());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_status_str(status: runbeam_status) -> *const c_char {
    let name: &'static CStr = match status {
        RUNBEAM_OK => c"RUNBEAM_OK",
        _ => kind_of(status).map_or(c"RUNBEAM_STATUS_UNKNOWN", ErrorKind::c_status_name),
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The `RUNBEAM_STATUS_*` constants as written in this file (what cbindgen reads):
    /// name → value.
    fn declared_constants() -> BTreeMap<String, runbeam_status> {
        const PREFIX: &str = "pub const RUNBEAM_STATUS_";
        include_str!("status.rs")
            .lines()
            .filter_map(|line| line.strip_prefix(PREFIX))
            .map(|rest| {
                let (name, value) = rest
                    .split_once(": runbeam_status = ")
                    .unwrap_or_else(|| panic!("cannot read the constant {PREFIX}{rest}"));
                let value = value
                    .strip_suffix(';')
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{PREFIX}{rest} is not a literal number"));
                (format!("RUNBEAM_STATUS_{name}"), value)
            })
            .collect()
    }

    #[test]
    fn constants_are_exactly_the_core_table() {
        let declared = declared_constants();
        let mut expected: BTreeMap<String, runbeam_status> = ErrorKind::ALL
            .iter()
            .map(|k| (k.c_status_name().to_str().unwrap().to_owned(), k.c_status()))
            .collect();
        expected.insert("RUNBEAM_STATUS_OK".to_owned(), RUNBEAM_OK);
        assert_eq!(declared, expected);
        // The parsed text is the compiled constants: spot-check both ends of the table.
        assert_eq!(
            declared["RUNBEAM_STATUS_INVALID_ARGUMENT"],
            RUNBEAM_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(declared["RUNBEAM_STATUS_INTERNAL"], RUNBEAM_STATUS_INTERNAL);
        assert_eq!(RUNBEAM_OK, 0);
    }

    #[test]
    fn every_kind_has_a_distinct_named_code() {
        let mut codes = Vec::new();
        for kind in ErrorKind::ALL {
            let code = kind.c_status();
            assert_ne!(code, RUNBEAM_OK);
            assert_eq!(kind_of(code), Some(kind));
            // SAFETY: runbeam_status_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(runbeam_status_str(code)) };
            assert_eq!(name, kind.c_status_name(), "{kind:?}");
            codes.push(code);
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn status_str_of_ok_and_unknown_numbers() {
        for (status, expected) in [
            (RUNBEAM_OK, c"RUNBEAM_OK"),
            (-1, c"RUNBEAM_STATUS_UNKNOWN"),
            (199, c"RUNBEAM_STATUS_UNKNOWN"),
            (i32::MAX, c"RUNBEAM_STATUS_UNKNOWN"),
        ] {
            // SAFETY: runbeam_status_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(runbeam_status_str(status)) };
            assert_eq!(name, expected);
            assert_eq!(kind_of(status), None);
        }
    }
}
