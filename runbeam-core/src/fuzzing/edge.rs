//! The HTTP edge on arbitrary input: what the `edge_request` fuzz target and the property tests
//! check of [`join_path`], [`bearer_token`] and [`Refusal`]. Each `check_*` function returns
//! normally for any input and panics only when librunbeam breaks one of the invariants below.

use std::time::Duration;

use url::Url;

use crate::ErrorKind;
use crate::edge::{
    MAX_PATH_BYTES, RETRY_AFTER_OPERATOR_SECS, RETRY_AFTER_TRANSIENT_SECS, Refusal, Stage,
    WWW_AUTHENTICATE_INVALID_TOKEN, bearer_token, join_path,
};
use crate::jwt::url_within;

/// The bases [`edge_request`] joins paths to (a selector byte picks one, or the input holds
/// its own): a resource URL with a path, a trailing slash, IPv6 with a port, a bare host, a
/// spelling that normalizes (case, the default port of the other scheme), and a base whose
/// own path holds an encoded `/`.
pub const EDGE_BASES: [&str; 6] = [
    "https://dicom.example.com/wado",
    "http://127.0.0.1:8080/dicom/",
    "http://[::1]:8443",
    "https://h.example",
    "HTTP://Dicom.Example.COM:443/a/b",
    "http://h.example/a%2fb/",
];

/// Every stage, in declaration order.
pub const STAGES: [Stage; 3] = [Stage::UserToken, Stage::MeshToken, Stage::Outbound];

/// One fuzz input: byte 0 selects the base (bits 0-2: one of [`EDGE_BASES`], or 6-7 for a
/// base taken from the input up to its first `0xFF` byte) and the stage (bits 3-4); the rest
/// is the request path (with its query) and, as is, an `Authorization` header value; its
/// first 12 bytes also make a `Retry-After` (seconds, nanoseconds) and its 13th picks the
/// error kind of a refusal.
pub fn edge_request(data: &[u8]) {
    check_bearer_token(None);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (base, path) = match EDGE_BASES.get(usize::from(mode & 0b111)) {
        Some(base) => ((*base).to_string(), rest),
        None => match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => {
                let (base, path) = rest.split_at(at);
                let path = path.get(1..).unwrap_or_default();
                (String::from_utf8_lossy(base).into_owned(), path)
            }
            None => (String::from_utf8_lossy(rest).into_owned(), &[][..]),
        },
    };
    let path = String::from_utf8_lossy(path);
    check_join_path(&base, &path);
    check_bearer_token(Some(&path));

    let mut secs = [0u8; 8];
    let mut nanos = [0u8; 4];
    for (to, from) in secs.iter_mut().chain(nanos.iter_mut()).zip(rest) {
        *to = *from;
    }
    let after = Duration::new(
        u64::from_le_bytes(secs),
        u32::from_le_bytes(nanos) % 1_000_000_000,
    );
    let stage = STAGES[usize::from(mode >> 3 & 0b11) % STAGES.len()];
    let kind =
        ErrorKind::ALL[usize::from(rest.get(12).copied().unwrap_or(0)) % ErrorKind::ALL.len()];
    check_refusal(kind, stage, None);
    check_refusal(kind, stage, Some(after));
}

/// Every message of a refused request path after `request path `: fixed, so that none
/// quotes the path.
fn path_errors() -> [String; 9] {
    [
        format!("is longer than {MAX_PATH_BYTES} bytes"),
        "must start with a single '/'".into(),
        "holds a control character, a space, a backslash or a fragment".into(),
        "holds a malformed percent escape".into(),
        "holds an encoded '/', '\\' or NUL".into(),
        "is percent-encoded twice".into(),
        "holds a '.' or '..' segment with parameters".into(),
        "does not make a valid URL with the base".into(),
        "leaves the base URL".into(),
    ]
}

/// [`join_path`]`(base, path)`: an `Ok` is a canonical http(s) URL that lies under `base`
/// ([`url_within`]), without user name, password or fragment, with a query exactly when `path`
/// has one, whose path part (past the base's) holds no encoded `/`, `\` or NUL, and whose
/// length is bounded by the base's and three times the path's; joining what it has past the
/// base's path to the base again gives it back. An `Err` is `InvalidArgument`, short, and
/// either about the path, with one of a few fixed messages (it never quotes the path), or
/// about the base, never quoting one that may hold a password.
pub fn check_join_path(base: &str, path: &str) {
    match join_path(base, path) {
        Ok(joined) => {
            assert!(path.len() <= MAX_PATH_BYTES);
            let base_url = Url::parse(base).expect("an accepted base parses");
            let url = Url::parse(&joined).expect("a joined URL parses");
            assert_eq!(url.as_str(), joined, "the joined URL is canonical");
            assert!(matches!(url.scheme(), "http" | "https"));
            assert!(url_within(&base_url, &url), "{joined:?} leaves {base:?}");
            assert!(url.username().is_empty() && url.password().is_none());
            assert!(url.fragment().is_none());
            assert_eq!(url.query().is_some(), path.contains('?'), "{joined:?}");
            let prefix = base_url.path().trim_end_matches('/');
            let below = url[url::Position::BeforePath..]
                .strip_prefix(prefix)
                .expect("under the base's path");
            let below_path = below.split('?').next().unwrap_or_default();
            let lower = below_path.to_ascii_lowercase();
            for escape in ["%2f", "%5c", "%00"] {
                assert!(!lower.contains(escape), "{joined:?} holds {escape}");
            }
            assert!(
                joined.len() <= base_url.as_str().len() + 3 * path.len(),
                "{} bytes from {} + {}",
                joined.len(),
                base_url.as_str().len(),
                path.len()
            );
            // (Percent-encoding non-ASCII text may take it past the limit of a path.)
            if below.starts_with('/') && !below.starts_with("//") && below.len() <= MAX_PATH_BYTES {
                assert_eq!(
                    join_path(base, below).ok().as_deref(),
                    Some(joined.as_str()),
                    "{below:?} again under {base:?}"
                );
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            let message = e.message();
            assert!(message.len() < 600, "{} bytes", message.len());
            match message.strip_prefix("request path ") {
                Some(why) => assert!(
                    path_errors().iter().any(|fixed| fixed == why),
                    "not a fixed message: {e}"
                ),
                None => assert!(message.starts_with("base URL "), "{e}"),
            }
            if base.contains('@') {
                assert!(
                    message.starts_with("request path ")
                        || message.starts_with("base URL (not shown"),
                    "a base with '@' is quoted: {e}"
                );
            }
        }
    }
}

/// [`bearer_token`]`(header)`: a token that is part of the header, non-empty, printable ASCII
/// without a comma; or `JwtInvalid`, a 401 at both inbound stages, never quoting the header.
pub fn check_bearer_token(header: Option<&str>) {
    match bearer_token(header) {
        Ok(token) => {
            let header = header.expect("no header is an error");
            assert!(!token.is_empty());
            assert!(token.bytes().all(|b| b.is_ascii_graphic() && b != b','));
            assert!(header.contains(token));
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::JwtInvalid, "{e}");
            for stage in [Stage::UserToken, Stage::MeshToken] {
                let refusal = Refusal::from_error(&e, stage);
                assert_eq!(refusal.status(), 401);
                assert_eq!(
                    refusal.www_authenticate(),
                    Some(WWW_AUTHENTICATE_INVALID_TOKEN)
                );
            }
            let quoted = header.map(str::trim).unwrap_or_default();
            if quoted.len() > 12 {
                assert!(!e.message().contains(quoted), "the header is quoted: {e}");
            }
        }
    }
}

/// [`Refusal::for_kind`]`(kind, stage, retry_after)`: never a 500; 401 (only for a JWT error
/// at an inbound stage) exactly with `WWW-Authenticate`, 503 exactly with a `Retry-After` of
/// 1 s to an hour (the given one rounded up, else a default); `headers()` says the same in
/// lower case; the body is `{"error":"<code>"}` with the code of the status; and
/// [`Refusal::from_error`] of an error of that kind without a `Retry-After` agrees.
pub fn check_refusal(kind: ErrorKind, stage: Stage, retry_after: Option<Duration>) {
    let r = Refusal::for_kind(kind, stage, retry_after);
    assert_eq!(r.kind(), kind);
    let inbound = matches!(stage, Stage::UserToken | Stage::MeshToken);
    let jwt = matches!(
        kind,
        ErrorKind::JwtInvalid | ErrorKind::JwtExpired | ErrorKind::UntrustedIssuer
    );
    assert_eq!(r.status() == 401, inbound && jwt, "{kind:?} at {stage:?}");
    let code = match r.status() {
        400 => "invalid_request",
        401 => "invalid_token",
        403 if r.body().contains("forbidden") => "forbidden",
        403 => "not_in_mesh",
        404 => "not_found",
        503 => "unavailable",
        other => panic!("{kind:?} at {stage:?}: status {other}"),
    };
    let body: serde_json::Value = serde_json::from_str(r.body()).expect("the body is JSON");
    assert_eq!(body, serde_json::json!({ "error": code }));

    let mut expected = Vec::new();
    if r.status() == 401 {
        assert_eq!(r.www_authenticate(), Some(WWW_AUTHENTICATE_INVALID_TOKEN));
        expected.push((
            "www-authenticate",
            WWW_AUTHENTICATE_INVALID_TOKEN.to_string(),
        ));
    } else {
        assert_eq!(r.www_authenticate(), None);
    }
    if r.status() == 503 {
        let secs = r.retry_after_secs().expect("every 503 has a Retry-After");
        assert!((1..=3600).contains(&secs), "{secs}");
        match retry_after {
            Some(after) => {
                let up = after
                    .as_secs()
                    .saturating_add(u64::from(after.subsec_nanos() > 0));
                assert_eq!(secs, up.clamp(1, 3600), "{after:?}");
            }
            None => assert!(
                secs == RETRY_AFTER_TRANSIENT_SECS || secs == RETRY_AFTER_OPERATOR_SECS,
                "{secs}"
            ),
        }
        expected.push(("retry-after", secs.to_string()));
    } else {
        assert_eq!(r.retry_after_secs(), None);
    }
    assert_eq!(r.headers(), expected);
    if retry_after.is_none() {
        let error = crate::Error::new(kind, "a message that is never the body");
        assert_eq!(Refusal::from_error(&error, stage), r);
    }
}
