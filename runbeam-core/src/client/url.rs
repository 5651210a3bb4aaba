//! The base-URL rule of docs/spec.md §3.1 and the building of request URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{Host, Url};

use crate::error::{Error, ErrorKind, Result, quote_input};

/// Characters left as they are in a path segment: the RFC 3986 unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Applies the base-URL rule of docs/spec.md §3.1 to a configured `api` URL and returns the API root.
///
/// - a URL with no path (or `/`) gets `/api` appended; trailing slashes are trimmed;
/// - only `https://` is accepted, and `http://` for loopback hosts (`127.0.0.0/8`, `::1`,
///   `localhost`) or when `allow_insecure_http` is set;
/// - credentials, queries and fragments are refused.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] naming the URL and what is wrong with it.
///
/// ```
/// use runbeam_core::client::api_root;
/// assert_eq!(api_root("https://api.runbeam.io", false)?, "https://api.runbeam.io/api");
/// assert_eq!(api_root("https://x.example/api/", false)?, "https://x.example/api");
/// assert_eq!(api_root("http://127.0.0.1:8080", false)?, "http://127.0.0.1:8080/api");
/// assert!(api_root("http://10.0.0.1", false).is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
pub fn api_root(url: &str, allow_insecure_http: bool) -> Result<String> {
    let shown = quote_input(url, 200);
    let invalid = |why: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid Runbeam API URL '{shown}': {why}"),
        )
    };
    let mut parsed = Url::parse(url.trim())
        .map_err(|e| invalid(&format!("{e}; expected e.g. https://api.runbeam.io")))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            if !allow_insecure_http && !is_loopback(parsed.host()) {
                return Err(invalid(
                    "http:// is only accepted for loopback hosts; use https:// or allow \
                     insecure HTTP explicitly (ClientBuilder::allow_insecure_http)",
                ));
            }
        }
        other => {
            return Err(invalid(&format!(
                "scheme '{}' is not supported; use https://",
                quote_input(other, 20)
            )));
        }
    }
    if parsed.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not quoted back in full: the URL itself holds the credentials.
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "invalid Runbeam API URL: it contains credentials (user:password@); remove them and \
             set a token on the client instead",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("the API root must not have a query or fragment"));
    }
    let path = parsed.path().trim_end_matches('/').to_string();
    let path = if path.is_empty() {
        "/api".to_string()
    } else {
        path
    };
    parsed.set_path(&path);
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Whether `host` is a loopback address or `localhost` (where plain `http://` is accepted).
pub(crate) fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Percent-encodes one path parameter. Empty, `.` and `..` are refused: URL normalisation
/// would turn them into a different path.
pub(crate) fn segment(what: &str, value: &str) -> Result<String> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{what} '{}' cannot be used in a request path; pass a non-empty id",
                quote_input(value, 40)
            ),
        ));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// The absolute URL of `path` (already encoded, starting with `/`) under the API root, with
/// `query` pairs encoded by `url`.
pub(crate) fn request_url(root: &str, path: &str, query: &[(&str, String)]) -> Result<Url> {
    let mut url = Url::parse(&format!("{root}{path}")).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("cannot build the request URL for {path}: {e}"),
        )
    })?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query {
            pairs.append_pair(key, value);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("id", "a b/c").unwrap(), "a%20b%2Fc");
        assert_eq!(segment("id", "gw-1_x.y~").unwrap(), "gw-1_x.y~");
        assert_eq!(segment("id", "é?#").unwrap(), "%C3%A9%3F%23");
        for bad in ["", ".", ".."] {
            assert_eq!(
                segment("id", bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
    }

    #[test]
    fn query_is_encoded() {
        let url = request_url(
            "http://127.0.0.1:1/api",
            "/harmony/resources/resolve",
            &[("ref", "a&b=c d".to_string())],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/api/harmony/resources/resolve?ref=a%26b%3Dc+d"
        );
    }
}
