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
//! | any | `NotInMesh`, `UnknownProvider`, `PermissionDenied` | 403 |
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

use std::time::Duration;

use url::Url;

use crate::error::{Error, ErrorCategory, ErrorKind, Result};
use crate::jwt::{parse_bearer, url_within};

/// The `WWW-Authenticate` value of every 401 (RFC 6750 §3.1). Sent for a missing token too, so
/// that a client has one rule: no detail beyond the error code.
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";

/// The media type of every refusal body.
pub const CONTENT_TYPE: &str = "application/json";

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
    www_authenticate: Option<&'static str>,
    retry_after_secs: Option<u64>,
    body: &'static str,
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
                    Some(WWW_AUTHENTICATE_INVALID_TOKEN),
                    None,
                    r#"{"error":"invalid_token"}"#,
                )
            }
            ErrorKind::NotInMesh | ErrorKind::UnknownProvider => {
                refusal(403, None, None, r#"{"error":"not_in_mesh"}"#)
            }
            ErrorKind::PermissionDenied => refusal(403, None, None, r#"{"error":"forbidden"}"#),
            ErrorKind::InvalidReference | ErrorKind::InvalidArgument => {
                refusal(400, None, None, r#"{"error":"invalid_request"}"#)
            }
            ErrorKind::NotFound if !inbound => refusal(404, None, None, r#"{"error":"not_found"}"#),
            _ => refusal(
                503,
                None,
                Some(retry_after_secs(kind, retry_after)),
                r#"{"error":"unavailable"}"#,
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
        self.www_authenticate
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
        self.body
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
            headers.push(("www-authenticate", value.to_string()));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.push(("retry-after", secs.to_string()));
        }
        headers
    }
}

fn retry_after_secs(kind: ErrorKind, retry_after: Option<Duration>) -> u64 {
    if let Some(after) = retry_after {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
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
/// fragment, stay under [`MAX_PATH_BYTES`], and after `.`/`..` segments are resolved the URL
/// must still lie under `base` ([`url_within`]).
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
/// assert!(join_path("https://dicom.example.com", "//evil.test/x").is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
pub fn join_path(base: &str, path: &str) -> Result<String> {
    let bad = |why: &str| Error::new(ErrorKind::InvalidArgument, format!("request path {why}"));
    if path.len() > MAX_PATH_BYTES {
        return Err(bad(&format!("is longer than {MAX_PATH_BYTES} bytes")));
    }
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(bad("must start with a single '/'"));
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\' || b == b'#')
    {
        return Err(bad(
            "holds a control character, a space, a backslash or a fragment",
        ));
    }
    let base_url = Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "base URL '{}' is not an http(s) URL with a host",
                    crate::error::quote_input(base, 200)
                ),
            )
        })?;
    if base_url.query().is_some() || base_url.fragment().is_some() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "base URL must not have a query or a fragment",
        ));
    }
    let (path_part, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut text = String::with_capacity(base.len() + path.len());
    text.push_str(base.trim_end_matches('/'));
    text.push_str(path_part);
    let mut joined =
        Url::parse(&text).map_err(|_| bad("does not make a valid URL with the base"))?;
    if !url_within(&base_url, &joined) {
        return Err(bad("leaves the base URL"));
    }
    joined.set_query(query);
    Ok(joined.into())
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
}
