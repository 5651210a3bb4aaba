//! The one error type of librunbeam.
//!
//! Every fallible operation in `runbeam-core` returns [`Error`]; its [`ErrorKind`] is the single
//! taxonomy that each language surface maps once (C status codes, Python exception classes,
//! Node `code` strings). Messages are written for the person reading a gateway log: they say
//! what is wrong, where, and what to do next. They never contain a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What went wrong, independent of the message text.
///
/// The list is append-only: bindings derive stable identifiers from it
/// ([`ErrorKind::code`], [`ErrorKind::name`]), so a kind is never renamed or removed.
///
/// ```
/// use runbeam_core::ErrorKind;
/// assert_eq!(ErrorKind::InvalidReference.code(), "RUNBEAM_INVALID_REFERENCE");
/// assert_eq!(ErrorKind::InvalidReference.name(), "InvalidReference");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was missing, NULL, not UTF-8, or out of range.
    InvalidArgument,
    /// A resource reference does not follow the grammar (SPEC §1).
    InvalidReference,
    /// A configuration document could not be read, parsed or is malformed.
    Config,
    /// A reference or mesh names a provider that is not configured.
    UnknownProvider,
    /// A remote reference is not listed in any enabled mesh.
    NotInMesh,
    /// The server rejected the credentials (HTTP 401).
    Unauthorized,
    /// The server refused the operation (HTTP 403).
    PermissionDenied,
    /// The resource does not exist (HTTP 404).
    NotFound,
    /// The operation conflicts with the current state (HTTP 409).
    Conflict,
    /// The server rejected the request body (HTTP 422), with field errors.
    Validation,
    /// Too many requests (HTTP 429); see `retry_after`.
    RateLimited,
    /// The server failed (HTTP 5xx).
    ServerError,
    /// Connecting, TLS, DNS or the connection itself failed.
    Transport,
    /// A deadline passed.
    Timeout,
    /// The server answered with something that does not follow the protocol.
    Protocol,
    /// A JWT is malformed or its signature or claims do not verify.
    JwtInvalid,
    /// A JWT has expired.
    JwtExpired,
    /// A JWT was issued by an issuer that is not trusted.
    UntrustedIssuer,
    /// No token is stored and none can be obtained.
    NoToken,
    /// The stored token has expired and cannot be renewed.
    TokenExpired,
    /// Reading or writing token storage failed.
    Storage,
    /// Stored data is corrupt or was encrypted with another key.
    StorageCorrupt,
    /// The OS keyring cannot be used.
    KeyringUnavailable,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// A bug in librunbeam (including a caught panic).
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 25] = [
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidReference,
        ErrorKind::Config,
        ErrorKind::UnknownProvider,
        ErrorKind::NotInMesh,
        ErrorKind::Unauthorized,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Validation,
        ErrorKind::RateLimited,
        ErrorKind::ServerError,
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::JwtInvalid,
        ErrorKind::JwtExpired,
        ErrorKind::UntrustedIssuer,
        ErrorKind::NoToken,
        ErrorKind::TokenExpired,
        ErrorKind::Storage,
        ErrorKind::StorageCorrupt,
        ErrorKind::KeyringUnavailable,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    /// The CamelCase name of the kind (`"NotFound"`); Python exception classes are this name
    /// followed by `Error`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::InvalidReference => "InvalidReference",
            ErrorKind::Config => "Config",
            ErrorKind::UnknownProvider => "UnknownProvider",
            ErrorKind::NotInMesh => "NotInMesh",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Validation => "Validation",
            ErrorKind::RateLimited => "RateLimited",
            ErrorKind::ServerError => "ServerError",
            ErrorKind::Transport => "Transport",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Protocol => "Protocol",
            ErrorKind::JwtInvalid => "JwtInvalid",
            ErrorKind::JwtExpired => "JwtExpired",
            ErrorKind::UntrustedIssuer => "UntrustedIssuer",
            ErrorKind::NoToken => "NoToken",
            ErrorKind::TokenExpired => "TokenExpired",
            ErrorKind::Storage => "Storage",
            ErrorKind::StorageCorrupt => "StorageCorrupt",
            ErrorKind::KeyringUnavailable => "KeyringUnavailable",
            ErrorKind::Cancelled => "Cancelled",
            ErrorKind::Internal => "Internal",
        }
    }

    /// The stable string code used by the Node binding (`"RUNBEAM_NOT_FOUND"`).
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "RUNBEAM_INVALID_ARGUMENT",
            ErrorKind::InvalidReference => "RUNBEAM_INVALID_REFERENCE",
            ErrorKind::Config => "RUNBEAM_CONFIG",
            ErrorKind::UnknownProvider => "RUNBEAM_UNKNOWN_PROVIDER",
            ErrorKind::NotInMesh => "RUNBEAM_NOT_IN_MESH",
            ErrorKind::Unauthorized => "RUNBEAM_UNAUTHORIZED",
            ErrorKind::PermissionDenied => "RUNBEAM_PERMISSION_DENIED",
            ErrorKind::NotFound => "RUNBEAM_NOT_FOUND",
            ErrorKind::Conflict => "RUNBEAM_CONFLICT",
            ErrorKind::Validation => "RUNBEAM_VALIDATION",
            ErrorKind::RateLimited => "RUNBEAM_RATE_LIMITED",
            ErrorKind::ServerError => "RUNBEAM_SERVER_ERROR",
            ErrorKind::Transport => "RUNBEAM_TRANSPORT",
            ErrorKind::Timeout => "RUNBEAM_TIMEOUT",
            ErrorKind::Protocol => "RUNBEAM_PROTOCOL",
            ErrorKind::JwtInvalid => "RUNBEAM_JWT_INVALID",
            ErrorKind::JwtExpired => "RUNBEAM_JWT_EXPIRED",
            ErrorKind::UntrustedIssuer => "RUNBEAM_UNTRUSTED_ISSUER",
            ErrorKind::NoToken => "RUNBEAM_NO_TOKEN",
            ErrorKind::TokenExpired => "RUNBEAM_TOKEN_EXPIRED",
            ErrorKind::Storage => "RUNBEAM_STORAGE",
            ErrorKind::StorageCorrupt => "RUNBEAM_STORAGE_CORRUPT",
            ErrorKind::KeyringUnavailable => "RUNBEAM_KEYRING_UNAVAILABLE",
            ErrorKind::Cancelled => "RUNBEAM_CANCELLED",
            ErrorKind::Internal => "RUNBEAM_INTERNAL",
        }
    }

    /// Whether the kind describes bad input from the caller (as opposed to the environment or
    /// the server). Bindings make these errors also subclass their language's argument error
    /// (Python `ValueError`).
    pub const fn is_argument_error(self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidArgument | ErrorKind::InvalidReference | ErrorKind::Config
        )
    }
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

    #[test]
    fn quote_input_escapes_and_truncates() {
        assert_eq!(quote_input("a b", 10), "a b");
        assert_eq!(quote_input("a\nb\u{e9}", 10), "a\\nb\\u{e9}");
        let long = "x".repeat(1000);
        let quoted = quote_input(&long, 8);
        assert_eq!(quoted, "xxxxxxxx…(+992 bytes)");
    }
}
