//! The one error type of librunbeam.
//!
//! Every fallible operation in `runbeam-core` returns [`Error`]; its [`ErrorKind`] is the single
//! taxonomy that each language surface maps once (C status codes, Python exception classes,
//! Node `code` strings). Messages are written for the person reading a gateway log: they say
//! what is wrong, where, and what to do next. They never contain a secret.
//!
//! # The error table
//!
//! Every kind is defined once, in one row of the `error_table!` invocation below; the enum, its
//! doc comments, [`ErrorKind::ALL`] and every per-kind property are generated from that row.
//! The columns are:
//!
//! | Column | Example | Becomes |
//! |---|---|---|
//! | doc comment | `/// The resource does not exist (HTTP 404).` | the variant's documentation |
//! | name | `NotFound` | the variant, [`ErrorKind::name`]; Python class `NotFoundError`, Node `kind` |
//! | code suffix | `NOT_FOUND` | [`ErrorKind::code`] `RUNBEAM_NOT_FOUND` (Node `code`, Python `code`), [`ErrorKind::c_status_name`] `RUNBEAM_STATUS_NOT_FOUND` |
//! | C status | `202` | [`ErrorKind::c_status`]: the value of the C constant `RUNBEAM_STATUS_NOT_FOUND` |
//! | category | `Cloud` | [`ErrorKind::category`]: which [`ErrorCategory`] (and so which range of C statuses) |
//! | retryable | `false` | [`ErrorKind::is_retryable`]: an idempotent request failing so may be retried |
//! | argument | `false` | [`ErrorKind::is_argument_error`]: bad caller input (Python `ValueError` too) |
//!
//! Rows are only ever appended: a name, code or C status, once released, is never changed or
//! reused. The surfaces that cannot be generated from the table are checked against it by
//! tests that fail on any difference: the C constants of `runbeam-ffi-cold/src/status.rs` and
//! `include/runbeam.h` (cbindgen needs literal constants), the Python exception classes of
//! `runbeam/errors.py` and their `__all__` (through `runbeam._native.error_kinds()`), and the
//! `ErrorCode` union of the Node typings (through the addon's `_errorKinds()`).

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The broad class of an [`ErrorKind`]; each has its own range of C status numbers.
///
/// ```
/// use runbeam_core::ErrorKind;
/// use runbeam_core::error::ErrorCategory;
/// assert_eq!(ErrorKind::RateLimited.category(), ErrorCategory::Cloud);
/// assert!(ErrorCategory::Cloud.c_status_range().contains(&ErrorKind::RateLimited.c_status()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// Caller input and configuration (C statuses 100–199).
    Input,
    /// Runbeam Cloud answered with an error (200–299).
    Cloud,
    /// Network, deadlines, protocol and cancellation (300–399).
    Network,
    /// JWT validation (400–499).
    Jwt,
    /// Tokens and their storage (500–599).
    Storage,
    /// librunbeam itself (900–999).
    Internal,
}

impl ErrorCategory {
    /// Every category, in the order of their C status ranges.
    pub const ALL: [ErrorCategory; 6] = [
        ErrorCategory::Input,
        ErrorCategory::Cloud,
        ErrorCategory::Network,
        ErrorCategory::Jwt,
        ErrorCategory::Storage,
        ErrorCategory::Internal,
    ];

    /// The lowercase name used by the bindings (`"input"`, `"cloud"`, `"network"`, `"jwt"`,
    /// `"storage"`, `"internal"`).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCategory::Input => "input",
            ErrorCategory::Cloud => "cloud",
            ErrorCategory::Network => "network",
            ErrorCategory::Jwt => "jwt",
            ErrorCategory::Storage => "storage",
            ErrorCategory::Internal => "internal",
        }
    }

    /// The C status numbers reserved for the category's kinds.
    pub const fn c_status_range(self) -> RangeInclusive<i32> {
        match self {
            ErrorCategory::Input => 100..=199,
            ErrorCategory::Cloud => 200..=299,
            ErrorCategory::Network => 300..=399,
            ErrorCategory::Jwt => 400..=499,
            ErrorCategory::Storage => 500..=599,
            ErrorCategory::Internal => 900..=999,
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `text` (a literal ending in NUL, without another NUL) as a `CStr`, checked at compile time.
const fn static_cstr(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("not a NUL-terminated string without interior NUL"),
    }
}

/// Expands the error table (see the module documentation) into [`ErrorKind`] and its
/// per-kind properties. Used once, right below.
macro_rules! error_table {
    (
        $(#[$enum_meta:meta])*
        pub enum ErrorKind;
        $(
            $(#[doc = $doc:literal])+
            $name:ident => $suffix:ident, $c_status:literal, $category:ident,
                retryable: $retryable:literal, argument: $argument:literal;
        )+
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(
                $(#[doc = $doc])+
                $name,
            )+
        }

        /// How many kinds the table has.
        const KIND_COUNT: usize = [$(stringify!($name)),+].len();

        impl ErrorKind {
            /// Every kind, in table order.
            pub const ALL: [ErrorKind; KIND_COUNT] = [$(ErrorKind::$name),+];

            /// The CamelCase name of the kind (`"NotFound"`); Python exception classes are this
            /// name followed by `Error`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => stringify!($name),)+
                }
            }

            /// [`name`](Self::name) as a static C string (what the C ABI hands out).
            pub const fn c_name(self) -> &'static CStr {
                match self {
                    $(ErrorKind::$name => const {
                        static_cstr(concat!(stringify!($name), "\0"))
                    },)+
                }
            }

            /// The stable string code shared by the Node and Python bindings
            /// (`"RUNBEAM_NOT_FOUND"`).
            pub const fn code(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => concat!("RUNBEAM_", stringify!($suffix)),)+
                }
            }

            /// The stable number of the C constant `RUNBEAM_STATUS_<SUFFIX>` (`202` for
            /// `NotFound`), within the range of the kind's [`category`](Self::category).
            pub const fn c_status(self) -> i32 {
                match self {
                    $(ErrorKind::$name => $c_status,)+
                }
            }

            /// The name of the C constant (`"RUNBEAM_STATUS_NOT_FOUND"`), as a static C string.
            pub const fn c_status_name(self) -> &'static CStr {
                match self {
                    $(ErrorKind::$name => const {
                        static_cstr(concat!("RUNBEAM_STATUS_", stringify!($suffix), "\0"))
                    },)+
                }
            }

            /// The broad class of the kind.
            pub const fn category(self) -> ErrorCategory {
                match self {
                    $(ErrorKind::$name => ErrorCategory::$category,)+
                }
            }

            /// Whether an idempotent request that failed with this kind may be retried (the
            /// failure is transient: the network, a deadline, an overloaded server).
            pub const fn is_retryable(self) -> bool {
                match self {
                    $(ErrorKind::$name => $retryable,)+
                }
            }

            /// Whether the kind describes bad input from the caller (as opposed to the
            /// environment or the server). Bindings make these errors also subclass their
            /// language's argument error (Python `ValueError`).
            pub const fn is_argument_error(self) -> bool {
                match self {
                    $(ErrorKind::$name => $argument,)+
                }
            }
        }
    };
}

error_table! {
    /// What went wrong, independent of the message text.
    ///
    /// The list is append-only: bindings derive stable identifiers from it
    /// ([`ErrorKind::code`], [`ErrorKind::name`], [`ErrorKind::c_status`]), so a kind is never
    /// renamed, renumbered or removed.
    ///
    /// ```
    /// use runbeam_core::ErrorKind;
    /// assert_eq!(ErrorKind::InvalidReference.code(), "RUNBEAM_INVALID_REFERENCE");
    /// assert_eq!(ErrorKind::InvalidReference.name(), "InvalidReference");
    /// assert_eq!(ErrorKind::InvalidReference.c_status(), 101);
    /// ```
    pub enum ErrorKind;

    // name               => code suffix,         C,  category,
    /// An argument was missing, NULL, not UTF-8, or out of range.
    InvalidArgument       => INVALID_ARGUMENT,    100, Input,    retryable: false, argument: true;
    /// A resource reference does not follow the grammar (docs/spec.md §1).
    InvalidReference      => INVALID_REFERENCE,   101, Input,    retryable: false, argument: true;
    /// A configuration document could not be read, parsed or is malformed.
    Config                => CONFIG,              102, Input,    retryable: false, argument: true;
    /// A reference or mesh names a provider that is not configured.
    UnknownProvider       => UNKNOWN_PROVIDER,    103, Input,    retryable: false, argument: false;
    /// A remote reference is not listed in any enabled mesh.
    NotInMesh             => NOT_IN_MESH,         104, Input,    retryable: false, argument: false;
    /// The server rejected the credentials (HTTP 401).
    Unauthorized          => UNAUTHORIZED,        200, Cloud,    retryable: false, argument: false;
    /// The server refused the operation (HTTP 403).
    PermissionDenied      => PERMISSION_DENIED,   201, Cloud,    retryable: false, argument: false;
    /// The resource does not exist (HTTP 404).
    NotFound              => NOT_FOUND,           202, Cloud,    retryable: false, argument: false;
    /// The operation conflicts with the current state (HTTP 409).
    Conflict              => CONFLICT,            203, Cloud,    retryable: false, argument: false;
    /// The server rejected the request body (HTTP 422), with field errors.
    Validation            => VALIDATION,          204, Cloud,    retryable: false, argument: false;
    /// Too many requests (HTTP 429); see `retry_after`.
    RateLimited           => RATE_LIMITED,        205, Cloud,    retryable: true,  argument: false;
    /// The server failed (HTTP 5xx).
    ServerError           => SERVER_ERROR,        206, Cloud,    retryable: true,  argument: false;
    /// Connecting, TLS, DNS or the connection itself failed.
    Transport             => TRANSPORT,           300, Network,  retryable: true,  argument: false;
    /// A deadline passed.
    Timeout               => TIMEOUT,             301, Network,  retryable: true,  argument: false;
    /// The server answered with something that does not follow the protocol.
    Protocol              => PROTOCOL,            302, Network,  retryable: false, argument: false;
    /// A JWT is malformed or its signature or claims do not verify.
    JwtInvalid            => JWT_INVALID,         400, Jwt,      retryable: false, argument: false;
    /// A JWT has expired.
    JwtExpired            => JWT_EXPIRED,         401, Jwt,      retryable: false, argument: false;
    /// A JWT was issued by an issuer that is not trusted.
    UntrustedIssuer       => UNTRUSTED_ISSUER,    402, Jwt,      retryable: false, argument: false;
    /// No token is stored and none can be obtained.
    NoToken               => NO_TOKEN,            500, Storage,  retryable: false, argument: false;
    /// The stored token has expired and cannot be renewed.
    TokenExpired          => TOKEN_EXPIRED,       501, Storage,  retryable: false, argument: false;
    /// Reading or writing token storage failed.
    Storage               => STORAGE,             502, Storage,  retryable: false, argument: false;
    /// Stored data is corrupt or was encrypted with another key.
    StorageCorrupt        => STORAGE_CORRUPT,     503, Storage,  retryable: false, argument: false;
    /// The OS keyring cannot be used.
    KeyringUnavailable    => KEYRING_UNAVAILABLE, 504, Storage,  retryable: false, argument: false;
    /// The operation was cancelled by the caller.
    Cancelled             => CANCELLED,           303, Network,  retryable: false, argument: false;
    /// A bug in librunbeam (including a caught panic).
    Internal              => INTERNAL,            900, Internal, retryable: false, argument: false;
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of a configuration check: what is wrong and the TOML path it concerns.
///
/// ```
/// use runbeam_core::config::MeshConfig;
/// let config = MeshConfig::from_toml(r#"
///     [mesh.m]
///     type = "http"
///     provider = "runbeam"
/// "#).unwrap();
/// let problems = config.validate();
/// assert_eq!(problems[0].path(), "mesh.m.provider");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    kind: ErrorKind,
    path: String,
    message: String,
}

impl Problem {
    /// A problem of `kind` at the TOML `path`.
    pub fn new(kind: ErrorKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The kind of problem (`Config`, `InvalidReference`, `UnknownProvider`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Dotted TOML path of the value concerned, e.g. `mesh.imaging.egress[0]`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Human-readable description, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The error type of every librunbeam operation.
///
/// ```
/// use runbeam_core::{ErrorKind, Reference};
/// let err = "runbeam.acme.widget.name.api".parse::<Reference>().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidReference);
/// assert!(err.to_string().contains("segment 2 'widget' is not a resource type"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    problems: Vec<Problem>,
    http: Option<Box<HttpDetails>>,
}

/// What an error of the Cloud API client knows about the request and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HttpDetails {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: Option<u16>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) server_message: Option<String>,
    pub(crate) field_errors: BTreeMap<String, Vec<String>>,
    pub(crate) attempts: u32,
}

static NO_FIELD_ERRORS: BTreeMap<String, Vec<String>> = BTreeMap::new();

impl Error {
    /// An error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            problems: Vec::new(),
            http: None,
        }
    }

    /// A configuration error listing every problem found.
    pub(crate) fn with_problems(
        kind: ErrorKind,
        message: impl Into<String>,
        problems: Vec<Problem>,
    ) -> Self {
        Error {
            kind,
            message: message.into(),
            problems,
            http: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as also returned by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For configuration errors: every problem found, each with its TOML path.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// An error of the Cloud API client, with what is known of the request and the answer.
    pub(crate) fn with_http(
        kind: ErrorKind,
        message: impl Into<String>,
        http: HttpDetails,
    ) -> Self {
        Error {
            kind,
            message: message.into(),
            problems: Vec::new(),
            http: Some(Box::new(http)),
        }
    }

    /// The HTTP details, for the client's retry loop.
    pub(crate) fn http_details_mut(&mut self) -> Option<&mut HttpDetails> {
        self.http.as_deref_mut()
    }

    /// The same error with `suffix` appended to its message.
    pub(crate) fn with_message_suffix(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }

    /// The HTTP status of the server's answer, for errors of the Cloud API client that got one.
    ///
    /// ```
    /// use runbeam_core::{Error, ErrorKind};
    /// assert_eq!(Error::new(ErrorKind::Config, "bad").status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.http.as_ref().and_then(|h| h.status)
    }

    /// How long the server asked to wait before retrying (`Retry-After` of a 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        self.http.as_ref().and_then(|h| h.retry_after)
    }

    /// For `Validation` errors (HTTP 422): the server's messages per request field. Empty for
    /// every other error.
    pub fn field_errors(&self) -> &BTreeMap<String, Vec<String>> {
        self.http
            .as_ref()
            .map_or(&NO_FIELD_ERRORS, |h| &h.field_errors)
    }

    /// The request that failed, as `(method, path)` with the path relative to the API root
    /// (`("GET", "/harmony/base-url")`), for errors of the Cloud API client.
    pub fn request(&self) -> Option<(&str, &str)> {
        self.http
            .as_ref()
            .map(|h| (h.method.as_str(), h.path.as_str()))
    }

    /// The server's own message (its `message` field), cut to a few hundred characters.
    pub fn server_message(&self) -> Option<&str> {
        self.http.as_ref().and_then(|h| h.server_message.as_deref())
    }

    /// How many attempts the client made before giving up, for errors of the Cloud API client.
    pub fn attempts(&self) -> Option<u32> {
        self.http.as_ref().map(|h| h.attempts)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if !self.problems.is_empty() {
            d.field("problems", &self.problems);
        }
        if let Some(http) = &self.http {
            d.field("request", &format_args!("{} {}", http.method, http.path));
            if let Some(status) = http.status {
                d.field("status", &status);
            }
            if let Some(retry_after) = http.retry_after {
                d.field("retry_after", &retry_after);
            }
            if let Some(message) = &http.server_message {
                d.field("server_message", message);
            }
            if !http.field_errors.is_empty() {
                d.field("field_errors", &http.field_errors);
            }
            d.field("attempts", &http.attempts);
        }
        d.finish()
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Result<T, runbeam_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Quote untrusted text for an error message: control and non-ASCII characters escaped, and
/// cut after about `max` bytes of output, so that a 1 MB or binary input cannot flood or corrupt
/// a log line.
pub(crate) fn quote_input(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 16);
    for (offset, c) in text.char_indices() {
        if out.len() >= max {
            out.push_str(&format!("…(+{} bytes)", text.len() - offset));
            break;
        }
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        codes.sort_unstable();
        codes.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    /// `NotFound` → `NOT_FOUND`.
    fn screaming(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.char_indices() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn codes_follow_the_names() {
        for kind in ErrorKind::ALL {
            let suffix = screaming(kind.name());
            assert_eq!(kind.c_name().to_str(), Ok(kind.name()), "{kind:?}");
            assert_eq!(kind.code(), format!("RUNBEAM_{suffix}"), "{kind:?}");
            assert_eq!(
                kind.c_status_name().to_str(),
                Ok(format!("RUNBEAM_STATUS_{suffix}").as_str()),
                "{kind:?}"
            );
            assert_eq!(kind.to_string(), format!("{kind:?}"));
        }
    }

    #[test]
    fn c_statuses_are_distinct_and_in_their_category_range() {
        let mut statuses: Vec<_> = ErrorKind::ALL.iter().map(|k| k.c_status()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            assert!(
                kind.category().c_status_range().contains(&kind.c_status()),
                "{kind:?}: {} is outside the range of {}",
                kind.c_status(),
                kind.category()
            );
        }
        for category in ErrorCategory::ALL {
            assert!(ErrorKind::ALL.iter().any(|k| k.category() == category));
            assert!(!category.c_status_range().contains(&0));
        }
    }

    #[test]
    fn argument_errors_are_input_errors() {
        for kind in ErrorKind::ALL {
            if kind.is_argument_error() {
                assert_eq!(kind.category(), ErrorCategory::Input, "{kind:?}");
                assert!(!kind.is_retryable(), "{kind:?}");
            }
        }
        assert_eq!(ErrorKind::Internal.category(), ErrorCategory::Internal);
        assert!(ErrorKind::Transport.is_retryable() && !ErrorKind::Protocol.is_retryable());
    }

    #[test]
    fn quote_input_escapes_and_truncates() {
        assert_eq!(quote_input("a b", 10), "a b");
        assert_eq!(quote_input("a\nb\u{e9}", 10), "a\\nb\\u{e9}");
        let long = "x".repeat(1000);
        let quoted = quote_input(&long, 8);
        assert_eq!(quoted, "xxxxxxxx…(+992 bytes)");
    }
}
