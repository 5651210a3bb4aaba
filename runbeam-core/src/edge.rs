//! The HTTP edge of a gateway: what a request that failed a librunbeam check gets back, and
//! the URL checks every middleware shares.
//!
//! Every surface's middleware (Python ASGI, Node connect/Express and Fastify, the C example
//! gateway) answers a refused request with the [`Refusal`] made here, so the status, the
//! headers and the body are the same in every language:
//!
//! | where | error kinds | answer |
//! |---|---|---|
//! | inbound token ([`Stage::UserToken`], [`Stage::MeshToken`]) | missing/malformed header, `JwtInvalid`, `JwtExpired`, `UntrustedIssuer` | 401, `WWW-Authenticate: Bearer error="invalid_token"` |
//! | any | `NotInMesh`, `UnknownProvider` | 403 |
//! | outbound | `PermissionDenied` (the Cloud refused to resolve or to issue the mesh token) | 403 |
//! | any | `InvalidReference`, `InvalidArgument` (a request path that would leave the resource or the served URL) | 400 |
//! | outbound | `NotFound` | 404 |
//! | any | everything else: the Cloud, the network, storage, the machine token, configuration, a caught panic | 503 with `Retry-After` |
//!
//! Never a 500: a librunbeam failure is either the client's (4xx) or a dependency's (503). The
//! body is a fixed JSON object per answer (`{"error":"invalid_token"}`, …): it never quotes the
//! request, the token or the error message, so it tells an attacker nothing. The error itself
//! goes to the host (each middleware's error hook, and the `runbeam.edge` log record at debug).
//!
//! ```
//! use runbeam_core::{Error, ErrorKind};
//! use runbeam_core::edge::{Refusal, Stage};
//!
//! let refusal = Refusal::from_error(&Error::new(ErrorKind::JwtExpired, "token expired"), Stage::UserToken);
//! assert_eq!(refusal.status(), 401);
//! assert_eq!(refusal.www_authenticate(), Some("Bearer error=\"invalid_token\""));
//! assert_eq!(refusal.body(), r#"{"error":"invalid_token"}"#);
//!
//! let refusal = Refusal::from_error(&Error::new(ErrorKind::Transport, "connection refused"), Stage::Outbound);
//! assert_eq!((refusal.status(), refusal.retry_after_secs()), (503, Some(5)));
//! ```

use std::ffi::CStr;
use std::time::Duration;

use url::Url;

use crate::error::{Error, ErrorCategory, ErrorKind, Result};
use crate::jwt::{parse_bearer, url_within};

/// A fixed answer text, also as a C string (what the C ABI hands out, valid for the life of
/// the process): both made from one literal at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text {
    text: &'static str,
    c: &'static CStr,
}

const fn text(c: &'static CStr) -> Text {
    match std::str::from_utf8(c.to_bytes()) {
        Ok(text) => Text { text, c },
        Err(_) => panic!("an answer text is not UTF-8"),
    }
}

const INVALID_TOKEN: Text = text(c"Bearer error=\"invalid_token\"");
const JSON: Text = text(c"application/json");

/// The `WWW-Authenticate` value of every 401 (RFC 6750 §3.1). Sent for a missing token too, so
/// that a client has one rule: no detail beyond the error code.
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str = INVALID_TOKEN.text;

/// The media type of every refusal body.
pub const CONTENT_TYPE: &str = JSON.text;

/// [`CONTENT_TYPE`] as a C string.
pub const CONTENT_TYPE_C: &CStr = JSON.c;

/// `Retry-After` of a 503 caused by a transient failure (the network, a deadline, a 5xx or
/// 429 of the Cloud) when the Cloud gave none.
pub const RETRY_AFTER_TRANSIENT_SECS: u64 = 5;

/// `Retry-After` of a 503 that needs an operator (the machine token, storage, configuration).
pub const RETRY_AFTER_OPERATOR_SECS: u64 = 30;

/// Where the failed check happened: it decides what a JWT error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The user's JWT on an inbound request (`Authorization: Bearer`): a bad token is the
    /// client's (401).
    UserToken,
    /// A partner gateway's mesh token on an inbound ingress request: a bad token is the
    /// caller's (401).
    MeshToken,
    /// Resolving a reference and obtaining a mesh token for an outbound request: a JWT error
    /// there is the Cloud's (503), a reference outside the mesh is 403.
    Outbound,
}

/// The HTTP answer to a request that failed a librunbeam check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    status: u16,
    kind: ErrorKind,
    www_authenticate: Option<Text>,
    retry_after_secs: Option<u64>,
    body: Text,
}

impl Refusal {
    /// The answer to `error` raised at `stage` (see the module table).
    pub fn from_error(error: &Error, stage: Stage) -> Refusal {
        Refusal::for_kind(error.kind(), stage, error.retry_after())
    }

    /// The answer to an error of `kind` raised at `stage`, `retry_after` being the Cloud's
    /// `Retry-After` if it sent one (what a binding knows of an error it already raised).
    pub fn for_kind(kind: ErrorKind, stage: Stage, retry_after: Option<Duration>) -> Refusal {
        let inbound = matches!(stage, Stage::UserToken | Stage::MeshToken);
        let refusal = |status, www_authenticate, retry_after_secs, body| Refusal {
            status,
            kind,
            www_authenticate,
            retry_after_secs,
            body,
        };
        match kind {
            ErrorKind::JwtInvalid | ErrorKind::JwtExpired | ErrorKind::UntrustedIssuer
                if inbound =>
            {
                refusal(
                    401,
                    Some(INVALID_TOKEN),
                    None,
                    text(c"{\"error\":\"invalid_token\"}"),
                )
            }
            ErrorKind::NotInMesh | ErrorKind::UnknownProvider => {
                refusal(403, None, None, text(c"{\"error\":\"not_in_mesh\"}"))
            }
            // Inbound, a `PermissionDenied` can only be the Cloud refusing the key fetch: the
            // client's token may be fine, as for any other failure to get the keys.
            ErrorKind::PermissionDenied if !inbound => {
                refusal(403, None, None, text(c"{\"error\":\"forbidden\"}"))
            }
            ErrorKind::InvalidReference | ErrorKind::InvalidArgument => {
                refusal(400, None, None, text(c"{\"error\":\"invalid_request\"}"))
            }
            ErrorKind::NotFound if !inbound => {
                refusal(404, None, None, text(c"{\"error\":\"not_found\"}"))
            }
            _ => refusal(
                503,
                None,
                Some(retry_after_secs(kind, retry_after)),
                text(c"{\"error\":\"unavailable\"}"),
            ),
        }
    }

    /// The HTTP status: 400, 401, 403, 404 or 503.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The kind of the error it answers.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `WWW-Authenticate` value (every 401).
    pub fn www_authenticate(&self) -> Option<&'static str> {
        self.www_authenticate.map(|t| t.text)
    }

    /// [`Refusal::www_authenticate`] as a C string.
    pub fn www_authenticate_c(&self) -> Option<&'static CStr> {
        self.www_authenticate.map(|t| t.c)
    }

    /// The `Retry-After` value in seconds (every 503): the Cloud's own `Retry-After` when it
    /// sent one (rounded up, at most an hour), else [`RETRY_AFTER_TRANSIENT_SECS`] for a
    /// transient failure and [`RETRY_AFTER_OPERATOR_SECS`] for one that needs an operator.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// The JSON body: `{"error":"<code>"}` with a fixed code per answer (`invalid_token`,
    /// `not_in_mesh`, `forbidden`, `invalid_request`, `not_found`, `unavailable`).
    pub fn body(&self) -> &'static str {
        self.body.text
    }

    /// [`Refusal::body`] as a C string.
    pub fn body_c(&self) -> &'static CStr {
        self.body.c
    }

    /// Every header to send besides `Content-Type` ([`CONTENT_TYPE`]): `WWW-Authenticate`
    /// and/or `Retry-After`, in that order, names in lower case.
    ///
    /// ```
    /// use runbeam_core::{Error, ErrorKind, edge::{Refusal, Stage}};
    /// let r = Refusal::from_error(&Error::new(ErrorKind::Timeout, "slow"), Stage::Outbound);
    /// assert_eq!(r.headers(), vec![("retry-after", "5".to_string())]);
    /// ```
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(2);
        if let Some(value) = self.www_authenticate {
            headers.push(("www-authenticate", value.text.to_string()));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.push(("retry-after", secs.to_string()));
        }
        headers
    }
}

fn retry_after_secs(kind: ErrorKind, retry_after: Option<Duration>) -> u64 {
    if let Some(after) = retry_after {
        // Saturating: a binding may hand over any duration (`Duration::MAX` included).
        let secs = after
            .as_secs()
            .saturating_add(u64::from(after.subsec_nanos() > 0));
        return secs.clamp(1, 3600);
    }
    let transient = kind.is_retryable()
        || matches!(
            kind.category(),
            ErrorCategory::Network | ErrorCategory::Cloud
        );
    if transient {
        RETRY_AFTER_TRANSIENT_SECS
    } else {
        RETRY_AFTER_OPERATOR_SECS
    }
}

/// The bearer token of an `Authorization` header value, `None` meaning the request had no
/// such header: a `JwtInvalid` error then, as for a malformed one (see [`parse_bearer`]).
///
/// ```
/// use runbeam_core::{ErrorKind, edge::bearer_token};
/// assert_eq!(bearer_token(Some("Bearer a.b.c"))?, "a.b.c");
/// assert_eq!(bearer_token(None).unwrap_err().kind(), ErrorKind::JwtInvalid);
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[inline]
pub fn bearer_token(authorization: Option<&str>) -> Result<&str> {
    match authorization {
        Some(header) => parse_bearer(header),
        None => Err(Error::new(
            ErrorKind::JwtInvalid,
            "the request has no Authorization header; expected 'Bearer <token>'",
        )),
    }
}

/// The most bytes of a request path (with its query) [`join_path`] accepts.
pub const MAX_PATH_BYTES: usize = 8192;

/// `base` (an http(s) URL: a resource's URL, or the public URL a gateway serves) followed by
/// the request path `path` (with its query, if any), refusing any path that would leave
/// `base`: it must start with `/` (not `//`), hold no backslash, control character, space or
/// fragment, stay under [`MAX_PATH_BYTES`], and after `.`/`..` segments (percent-encoded ones
/// too) are resolved the URL must still lie under `base` ([`url_within`]).
///
/// `path` is the request target as received, not percent-decoded. So that the server behind
/// cannot read it as another path than the one checked here, its path part (not the query)
/// must also be unambiguous: no encoded `/`, `\` or NUL (`%2f`, `%5c`, `%00`), no
/// percent-encoding of a percent-encoding (`%252e`), no malformed escape (`%zz`), and no dot
/// segment carrying parameters (`..;x`, which some servers read as `..`).
///
/// `base` must be an http(s) URL with a host and without user name, password, query or
/// fragment; the result is built on its normalized form (`HTTP://Host:80/a` → `http://host/a`).
///
/// # Errors
/// `InvalidArgument` saying why (the path is not quoted: it is request data).
///
/// ```
/// use runbeam_core::edge::join_path;
/// assert_eq!(
///     join_path("https://dicom.example.com/wado", "/studies?patient=7")?,
///     "https://dicom.example.com/wado/studies?patient=7"
/// );
/// assert!(join_path("https://dicom.example.com/wado", "/../admin").is_err());
/// assert!(join_path("https://dicom.example.com/wado", "/a%2f..%2f..%2fadmin").is_err());
/// assert!(join_path("https://dicom.example.com", "//evil.test/x").is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[inline]
pub fn join_path(base: &str, path: &str) -> Result<String> {
    check_path(path)?;
    let base_url = parse_base(base)?;
    // The base's own path (normalized, so parsing it again keeps it) followed by `path`, as a
    // path-absolute reference resolved against the base: scheme, host and port stay the
    // base's, dot segments are resolved, the query is kept as it is.
    let prefix = base_url.path().trim_end_matches('/');
    let mut relative = String::with_capacity(prefix.len() + path.len());
    relative.push_str(prefix);
    relative.push_str(path);
    // `/.//x` under a root base resolves to `//x`, which some servers and frameworks read as
    // a host; a base path starting with `//` would be read as one here.
    if relative.starts_with("//") {
        return Err(bad_path("must start with a single '/'"));
    }
    let joined = base_url
        .join(&relative)
        .map_err(|_| bad_path("does not make a valid URL with the base"))?;
    if !url_within(&base_url, &joined) {
        return Err(bad_path("leaves the base URL"));
    }
    if joined.path().starts_with("//") {
        return Err(bad_path("must start with a single '/'"));
    }
    Ok(joined.into())
}

fn bad_path(why: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("request path {why}"))
}

/// The checks of [`join_path`] that need no base: the path part and the query of `path`.
#[inline]
pub(crate) fn check_path(path: &str) -> Result<(&str, Option<&str>)> {
    if path.len() > MAX_PATH_BYTES {
        return Err(bad_path(&format!("is longer than {MAX_PATH_BYTES} bytes")));
    }
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(bad_path("must start with a single '/'"));
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\' || b == b'#')
    {
        return Err(bad_path(
            "holds a control character, a space, a backslash or a fragment",
        ));
    }
    let (path_part, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    check_escapes(path_part)?;
    if path_part.split('/').any(|segment| {
        segment
            .split_once(';')
            .is_some_and(|(head, _)| is_dot_segment(head))
    }) {
        return Err(bad_path("holds a '.' or '..' segment with parameters"));
    }
    Ok((path_part, query))
}

/// Every `%` of `path` starts an escape of two hex digits that is not `/`, `\\` or NUL, and
/// `path` decoded once holds no escape (`%252e`, `%25%32%65`: an escape escaped).
#[inline]
fn check_escapes(path: &str) -> Result<()> {
    let mut escaped_percent = false;
    for byte in decoded(path) {
        match byte {
            None => return Err(bad_path("holds a malformed percent escape")),
            Some((b'/' | b'\\' | 0, true)) => {
                return Err(bad_path("holds an encoded '/', '\\' or NUL"));
            }
            Some((b'%', true)) => escaped_percent = true,
            Some(_) => {}
        }
    }
    if escaped_percent {
        let once: Vec<u8> = decoded(path).flatten().map(|(b, _)| b).collect();
        let twice = once
            .windows(3)
            .any(|w| matches!(w, [b'%', h, l] if hex(*h).is_some() && hex(*l).is_some()));
        if twice {
            return Err(bad_path("is percent-encoded twice"));
        }
    }
    Ok(())
}

/// The bytes of `text` with its percent escapes decoded, each with whether it was escaped;
/// `None` for a malformed escape (then the end).
#[inline]
fn decoded(text: &str) -> impl Iterator<Item = Option<(u8, bool)>> + '_ {
    let mut bytes = text.bytes();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let b = bytes.next()?;
        if b != b'%' {
            return Some(Some((b, false)));
        }
        match (bytes.next().and_then(hex), bytes.next().and_then(hex)) {
            (Some(high), Some(low)) => Some(Some(((high << 4) | low, true))),
            _ => {
                failed = true;
                Some(None)
            }
        }
    })
}

#[inline]
fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `.` or `..`, any of whose dots may be percent-encoded (the WHATWG URL rule).
#[inline]
fn is_dot_segment(segment: &str) -> bool {
    let single = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    single(segment)
        || ["..", ".%2e", "%2e.", "%2e%2e"]
            .iter()
            .any(|dots| segment.eq_ignore_ascii_case(dots))
}

#[inline]
fn parse_base(base: &str) -> Result<Url> {
    let bad_base = |why: &str| {
        // A base with a user name or password may hold a credential: not quoted.
        let shown = if base.contains('@') {
            "(not shown: it holds '@')".to_string()
        } else {
            format!("'{}'", crate::error::quote_input(base, 200))
        };
        Error::new(
            ErrorKind::InvalidArgument,
            format!("base URL {shown} {why}"),
        )
    };
    let base_url = Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| bad_base("is not an http(s) URL with a host"))?;
    if !base_url.username().is_empty() || base_url.password().is_some() {
        return Err(bad_base("must not hold a user name or password"));
    }
    if base_url.query().is_some() || base_url.fragment().is_some() {
        return Err(bad_base("must not have a query or a fragment"));
    }
    Ok(base_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: ErrorKind, stage: Stage) -> Refusal {
        Refusal::from_error(&Error::new(kind, "x"), stage)
    }

    #[test]
    fn never_500_and_every_status_has_its_headers() {
        for kind in ErrorKind::ALL {
            for stage in [Stage::UserToken, Stage::MeshToken, Stage::Outbound] {
                let r = refusal(kind, stage);
                assert!(
                    [400, 401, 403, 404, 503].contains(&r.status()),
                    "{kind:?} {stage:?}"
                );
                assert_eq!(r.status() == 401, r.www_authenticate().is_some());
                assert_eq!(r.status() == 503, r.retry_after_secs().is_some());
                assert!(serde_json::from_str::<serde_json::Value>(r.body()).is_ok());
            }
        }
    }

    #[test]
    fn token_errors_are_401_inbound_and_503_outbound() {
        for kind in [
            ErrorKind::JwtInvalid,
            ErrorKind::JwtExpired,
            ErrorKind::UntrustedIssuer,
        ] {
            assert_eq!(refusal(kind, Stage::UserToken).status(), 401);
            assert_eq!(refusal(kind, Stage::MeshToken).status(), 401);
            assert_eq!(refusal(kind, Stage::Outbound).status(), 503);
        }
        assert_eq!(refusal(ErrorKind::NotInMesh, Stage::Outbound).status(), 403);
        assert_eq!(
            refusal(ErrorKind::NotInMesh, Stage::MeshToken).status(),
            403
        );
        assert_eq!(refusal(ErrorKind::NotFound, Stage::Outbound).status(), 404);
        assert_eq!(
            refusal(ErrorKind::InvalidReference, Stage::Outbound).status(),
            400
        );
        // The JWKS could not be fetched: the client's token may be fine.
        assert_eq!(
            refusal(ErrorKind::Transport, Stage::UserToken).status(),
            503
        );
        assert_eq!(refusal(ErrorKind::Internal, Stage::Outbound).status(), 503);
    }

    #[test]
    fn retry_after_follows_the_cloud_then_the_kind() {
        let r = Refusal::for_kind(
            ErrorKind::RateLimited,
            Stage::Outbound,
            Some(Duration::from_millis(2500)),
        );
        assert_eq!(r.retry_after_secs(), Some(3));
        assert_eq!(
            refusal(ErrorKind::Timeout, Stage::Outbound).retry_after_secs(),
            Some(RETRY_AFTER_TRANSIENT_SECS)
        );
        assert_eq!(
            refusal(ErrorKind::NoToken, Stage::Outbound).retry_after_secs(),
            Some(RETRY_AFTER_OPERATOR_SECS)
        );
        assert_eq!(
            refusal(ErrorKind::Timeout, Stage::Outbound).headers(),
            vec![("retry-after", "5".to_string())]
        );
    }

    #[test]
    fn bodies_never_quote_the_error() {
        let secret = Error::new(ErrorKind::JwtInvalid, "token eyJsecret is bad");
        let r = Refusal::from_error(&secret, Stage::UserToken);
        assert!(!r.body().contains("eyJ"));
    }

    #[test]
    fn bearer_token_missing_or_malformed() {
        assert_eq!(bearer_token(Some("bearer x.y.z")).unwrap(), "x.y.z");
        for header in [None, Some(""), Some("Basic abc"), Some("Bearer a b")] {
            let e = bearer_token(header).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::JwtInvalid);
            assert_eq!(Refusal::from_error(&e, Stage::UserToken).status(), 401);
        }
    }

    #[test]
    fn join_path_stays_under_the_base() {
        let base = "http://127.0.0.1:8080/dicom/";
        assert_eq!(
            join_path(base, "/studies/1.2.3").unwrap(),
            "http://127.0.0.1:8080/dicom/studies/1.2.3"
        );
        assert_eq!(
            join_path("http://127.0.0.1:8080", "/").unwrap(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            join_path(base, "/a/./b/../c?x=1&y=/../z").unwrap(),
            "http://127.0.0.1:8080/dicom/a/c?x=1&y=/../z"
        );
        for bad in [
            "",
            "studies",
            "//evil.test/x",
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/a\\b",
            "/a#frag",
            "/a b",
            "/a\nb",
            "/\u{7f}",
        ] {
            let e = join_path(base, bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
            assert!(!e.message().contains("passwd"));
        }
        assert!(join_path(base, &format!("/{}", "a".repeat(MAX_PATH_BYTES))).is_err());
        for base in ["ftp://x/", "not a url", "http://x/?q=1", "file:///etc"] {
            assert!(join_path(base, "/a").is_err(), "{base}");
        }
    }

    #[test]
    fn a_cloud_refusing_the_key_fetch_is_503_inbound_but_403_outbound() {
        // A JWKS endpoint answering 403 at the user-token or mesh-token stage says nothing
        // about the client's token.
        for stage in [Stage::UserToken, Stage::MeshToken] {
            let r = refusal(ErrorKind::PermissionDenied, stage);
            assert_eq!((r.status(), r.body()), (503, r#"{"error":"unavailable"}"#));
        }
        let r = refusal(ErrorKind::PermissionDenied, Stage::Outbound);
        assert_eq!((r.status(), r.body()), (403, r#"{"error":"forbidden"}"#));
    }

    #[test]
    fn any_retry_after_a_binding_hands_over_is_bounded() {
        for (after, secs) in [
            (Duration::MAX, 3600),
            (Duration::new(u64::MAX, 1), 3600),
            (Duration::ZERO, 1),
            (Duration::from_nanos(1), 1),
            (Duration::from_secs(120), 120),
        ] {
            let r = Refusal::for_kind(ErrorKind::ServerError, Stage::Outbound, Some(after));
            assert_eq!(r.retry_after_secs(), Some(secs), "{after:?}");
        }
    }

    #[test]
    fn join_path_refuses_paths_the_server_behind_could_read_otherwise() {
        let base = "http://127.0.0.1:8080/dicom";
        for bad in [
            // An encoded '/' or '\': a server that decodes before normalizing walks out.
            "/a%2f..%2f..%2fadmin",
            "/a%2F..%2F..%2Fadmin",
            "/..%5c..%5cadmin",
            "/a/%00.json",
            // Double encoding, including with the second escape split up.
            "/%252e%252e/admin",
            "/%25%32%65%25%32%65/admin",
            "/%252f",
            // Malformed escapes.
            "/a%zz",
            "/a%2",
            "/a%",
            "/%%32%65%%32%65/admin",
            // Dot segments with parameters (Tomcat-style `..;/`).
            "/..;/admin",
            "/a/..;x=1/admin",
            "/%2e%2e;/admin",
            "/.%2E;/admin",
            "/.;/x",
        ] {
            let e = join_path(base, bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
            assert!(!e.message().contains("admin"), "{e}");
        }
        // A path that resolves to one starting with '//' under a root base.
        for bad in ["/.//evil.test/x", "/a/..//evil.test", "/%2e//evil.test"] {
            let e = join_path("http://127.0.0.1:8080", bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
        // What stays allowed: escapes of other bytes, a literal '%' not followed by hex
        // digits once decoded, parameters on ordinary segments, anything in the query, '@'
        // and ':' in the path, and non-ASCII text (percent-encoded).
        for (path, joined) in [
            (
                "/studies/1.2.3%2B4",
                "http://127.0.0.1:8080/dicom/studies/1.2.3%2B4",
            ),
            ("/100%25.txt", "http://127.0.0.1:8080/dicom/100%25.txt"),
            ("/a;v=1/b", "http://127.0.0.1:8080/dicom/a;v=1/b"),
            (
                "/a?next=%2f..%2fx&p=%252e",
                "http://127.0.0.1:8080/dicom/a?next=%2f..%2fx&p=%252e",
            ),
            ("/@evil.test/x", "http://127.0.0.1:8080/dicom/@evil.test/x"),
            ("/:9090/x", "http://127.0.0.1:8080/dicom/:9090/x"),
            ("/caf\u{e9}", "http://127.0.0.1:8080/dicom/caf%C3%A9"),
            ("/a/%2e%2e/b", "http://127.0.0.1:8080/dicom/b"),
            ("/a/..", "http://127.0.0.1:8080/dicom/"),
            ("/a?", "http://127.0.0.1:8080/dicom/a?"),
        ] {
            assert_eq!(join_path(base, path).unwrap(), joined, "{path:?}");
        }
    }

    #[test]
    fn join_path_builds_on_the_normalized_base() {
        for (base, joined) in [
            (
                "HTTP://Dicom.Example.COM:80/wado/",
                "http://dicom.example.com/wado/x",
            ),
            ("https://h:443", "https://h/x"),
            ("http://h:8443", "http://h:8443/x"),
            // A backslash is a '/' in an http URL: the base is `http://h/`, not `http://h\`.
            ("http://h\\", "http://h/x"),
            ("http://[::1]:8080/a", "http://[::1]:8080/a/x"),
            ("http://[0:0::1]", "http://[::1]/x"),
            ("http://127.1/", "http://127.0.0.1/x"),
            ("http://h/a//", "http://h/a/x"),
        ] {
            assert_eq!(join_path(base, "/x").unwrap(), joined, "{base:?}");
        }
        // The prefix rule holds on whole segments, whatever the host or port spelling.
        assert!(join_path("http://[::1]:8080/a", "/../ab").is_err());
        assert!(join_path("http://h:8443/a", "/../../a").is_ok_and(|u| u == "http://h:8443/a"));
    }

    #[test]
    fn a_base_with_a_user_name_or_password_is_refused_and_not_quoted() {
        for base in [
            "http://user:s3cret@h/dicom",
            "http://s3cret@h/",
            "http://:s3cret@h/",
            "http://user:s3cret@",
        ] {
            let e = join_path(base, "/a").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{base}");
            assert!(!e.message().contains("s3cret"), "{e}");
        }
        let e = join_path("gopher://h/", "/a").unwrap_err();
        assert!(e.message().contains("gopher://h/"), "{e}");
    }

    #[test]
    fn join_path_refuses_long_paths_whatever_the_base() {
        let long = format!("/{}", "a/".repeat(MAX_PATH_BYTES));
        let e = join_path("http://h/", &long).unwrap_err();
        assert!(e.message().contains("longer than"), "{e}");
        // Exactly at the limit is fine.
        let at = format!("/{}", "a".repeat(MAX_PATH_BYTES - 1));
        assert_eq!(
            join_path("http://h", &at).unwrap().len(),
            "http://h".len() + MAX_PATH_BYTES
        );
        // A long path and a long base: no panic, an answer.
        let base = format!("http://h/{}", "b".repeat(100_000));
        assert!(join_path(&base, &at).is_ok());
        assert!(join_path(&base, "/%").is_err());
    }
}
