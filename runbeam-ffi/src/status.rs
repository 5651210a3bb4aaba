//! `runbeam_status`: stable numeric result codes, one per core `ErrorKind`.
//!
//! Ranges (never renumbered; new codes are only added):
//! 0 OK · 100–199 caller input and configuration · 200–299 Runbeam Cloud answered with an error ·
//! 300–399 network, deadlines and protocol · 400–499 JWT validation · 500–599 tokens and storage ·
//! 900–999 librunbeam itself.

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

/// The status code of a core error kind.
pub(crate) fn status_of(kind: ErrorKind) -> runbeam_status {
    match kind {
        ErrorKind::InvalidArgument => RUNBEAM_STATUS_INVALID_ARGUMENT,
        ErrorKind::InvalidReference => RUNBEAM_STATUS_INVALID_REFERENCE,
        ErrorKind::Config => RUNBEAM_STATUS_CONFIG,
        ErrorKind::UnknownProvider => RUNBEAM_STATUS_UNKNOWN_PROVIDER,
        ErrorKind::NotInMesh => RUNBEAM_STATUS_NOT_IN_MESH,
        ErrorKind::Unauthorized => RUNBEAM_STATUS_UNAUTHORIZED,
        ErrorKind::PermissionDenied => RUNBEAM_STATUS_PERMISSION_DENIED,
        ErrorKind::NotFound => RUNBEAM_STATUS_NOT_FOUND,
        ErrorKind::Conflict => RUNBEAM_STATUS_CONFLICT,
        ErrorKind::Validation => RUNBEAM_STATUS_VALIDATION,
        ErrorKind::RateLimited => RUNBEAM_STATUS_RATE_LIMITED,
        ErrorKind::ServerError => RUNBEAM_STATUS_SERVER_ERROR,
        ErrorKind::Transport => RUNBEAM_STATUS_TRANSPORT,
        ErrorKind::Timeout => RUNBEAM_STATUS_TIMEOUT,
        ErrorKind::Protocol => RUNBEAM_STATUS_PROTOCOL,
        ErrorKind::Cancelled => RUNBEAM_STATUS_CANCELLED,
        ErrorKind::JwtInvalid => RUNBEAM_STATUS_JWT_INVALID,
        ErrorKind::JwtExpired => RUNBEAM_STATUS_JWT_EXPIRED,
        ErrorKind::UntrustedIssuer => RUNBEAM_STATUS_UNTRUSTED_ISSUER,
        ErrorKind::NoToken => RUNBEAM_STATUS_NO_TOKEN,
        ErrorKind::TokenExpired => RUNBEAM_STATUS_TOKEN_EXPIRED,
        ErrorKind::Storage => RUNBEAM_STATUS_STORAGE,
        ErrorKind::StorageCorrupt => RUNBEAM_STATUS_STORAGE_CORRUPT,
        ErrorKind::KeyringUnavailable => RUNBEAM_STATUS_KEYRING_UNAVAILABLE,
        ErrorKind::Internal => RUNBEAM_STATUS_INTERNAL,
        // `ErrorKind` is non-exhaustive for other crates; a kind added to the core without a
        // code here is reported as internal until it gets one.
        _ => RUNBEAM_STATUS_INTERNAL,
    }
}

/// The core error kind of a status code (`None` for OK and unknown codes).
pub(crate) fn kind_of(status: runbeam_status) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|&k| status_of(k) == status)
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
        RUNBEAM_STATUS_INVALID_ARGUMENT => c"RUNBEAM_STATUS_INVALID_ARGUMENT",
        RUNBEAM_STATUS_INVALID_REFERENCE => c"RUNBEAM_STATUS_INVALID_REFERENCE",
        RUNBEAM_STATUS_CONFIG => c"RUNBEAM_STATUS_CONFIG",
        RUNBEAM_STATUS_UNKNOWN_PROVIDER => c"RUNBEAM_STATUS_UNKNOWN_PROVIDER",
        RUNBEAM_STATUS_NOT_IN_MESH => c"RUNBEAM_STATUS_NOT_IN_MESH",
        RUNBEAM_STATUS_UNAUTHORIZED => c"RUNBEAM_STATUS_UNAUTHORIZED",
        RUNBEAM_STATUS_PERMISSION_DENIED => c"RUNBEAM_STATUS_PERMISSION_DENIED",
        RUNBEAM_STATUS_NOT_FOUND => c"RUNBEAM_STATUS_NOT_FOUND",
        RUNBEAM_STATUS_CONFLICT => c"RUNBEAM_STATUS_CONFLICT",
        RUNBEAM_STATUS_VALIDATION => c"RUNBEAM_STATUS_VALIDATION",
        RUNBEAM_STATUS_RATE_LIMITED => c"RUNBEAM_STATUS_RATE_LIMITED",
        RUNBEAM_STATUS_SERVER_ERROR => c"RUNBEAM_STATUS_SERVER_ERROR",
        RUNBEAM_STATUS_TRANSPORT => c"RUNBEAM_STATUS_TRANSPORT",
        RUNBEAM_STATUS_TIMEOUT => c"RUNBEAM_STATUS_TIMEOUT",
        RUNBEAM_STATUS_PROTOCOL => c"RUNBEAM_STATUS_PROTOCOL",
        RUNBEAM_STATUS_CANCELLED => c"RUNBEAM_STATUS_CANCELLED",
        RUNBEAM_STATUS_JWT_INVALID => c"RUNBEAM_STATUS_JWT_INVALID",
        RUNBEAM_STATUS_JWT_EXPIRED => c"RUNBEAM_STATUS_JWT_EXPIRED",
        RUNBEAM_STATUS_UNTRUSTED_ISSUER => c"RUNBEAM_STATUS_UNTRUSTED_ISSUER",
        RUNBEAM_STATUS_NO_TOKEN => c"RUNBEAM_STATUS_NO_TOKEN",
        RUNBEAM_STATUS_TOKEN_EXPIRED => c"RUNBEAM_STATUS_TOKEN_EXPIRED",
        RUNBEAM_STATUS_STORAGE => c"RUNBEAM_STATUS_STORAGE",
        RUNBEAM_STATUS_STORAGE_CORRUPT => c"RUNBEAM_STATUS_STORAGE_CORRUPT",
        RUNBEAM_STATUS_KEYRING_UNAVAILABLE => c"RUNBEAM_STATUS_KEYRING_UNAVAILABLE",
        RUNBEAM_STATUS_INTERNAL => c"RUNBEAM_STATUS_INTERNAL",
        _ => c"RUNBEAM_STATUS_UNKNOWN",
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_named_code() {
        let mut codes = Vec::new();
        for kind in ErrorKind::ALL {
            let code = status_of(kind);
            assert_ne!(code, RUNBEAM_OK);
            assert_eq!(kind_of(code), Some(kind));
            // SAFETY: runbeam_status_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(runbeam_status_str(code)) };
            assert_ne!(name.to_bytes(), b"RUNBEAM_STATUS_UNKNOWN", "{kind:?}");
            codes.push(code);
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }
}
