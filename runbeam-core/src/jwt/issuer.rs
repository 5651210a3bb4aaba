//! Issuer URLs: normalisation for exact matching (never prefix matching) and JWKS URLs.

use url::Url;

use crate::client::url::is_loopback;
use crate::error::{Error, ErrorKind, quote_input};

/// The normal form of an issuer or JWKS URL: scheme and host lower-cased, the default port
/// dropped, trailing slashes of the path trimmed. `None` for anything that is not a plain
/// `http(s)` URL with a host and without credentials, query or fragment — such an `iss`
/// can never equal a trusted issuer.
///
/// ```
/// use runbeam_core::jwt::normalize_issuer;
/// assert_eq!(normalize_issuer("HTTPS://API.Runbeam.io:443/api/").as_deref(),
///            Some("https://api.runbeam.io/api"));
/// assert_eq!(normalize_issuer("https://api.runbeam.io@evil.example/api"), None);
/// ```
pub fn normalize_issuer(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return None;
    }
    Some(url.as_str().trim_end_matches('/').to_string())
}

/// Checks a configured issuer or JWKS URL and returns its normal form. Plain `http://` is
/// refused for non-loopback hosts unless `allow_insecure_http`.
pub(crate) fn configured_url(
    what: &str,
    text: &str,
    allow_insecure_http: bool,
) -> Result<Url, Error> {
    let shown = quote_input(text, 200);
    let invalid = |why: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid {what} '{shown}': {why}"),
        )
    };
    let normal = normalize_issuer(text.trim()).ok_or_else(|| {
        invalid("expected an https:// URL with a host and no credentials, query or fragment")
    })?;
    let url = Url::parse(&normal).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(url.host()) {
        return Err(invalid(
            "http:// is only accepted for loopback hosts; use https:// or allow insecure HTTP \
             explicitly (ValidatorBuilder::allow_insecure_http)",
        ));
    }
    Ok(url)
}

/// `<issuer>/.well-known/jwks.json` (docs/spec.md §4).
pub(crate) fn jwks_url_of(issuer: &Url) -> Result<Url, Error> {
    let text = format!(
        "{}/.well-known/jwks.json",
        issuer.as_str().trim_end_matches('/')
    );
    Url::parse(&text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("cannot derive the JWKS URL of issuer '{issuer}': {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_never_normalise_to_the_trusted_issuer() {
        let trusted = normalize_issuer("https://api.runbeam.io/api").unwrap();
        for fake in [
            "https://api.runbeam.io.evil.example/api",
            "https://api.runbeam.io/api.evil",
            "https://api.runbeam.io/apix",
            "https://api.runbeam.io:8443/api",
            "http://api.runbeam.io/api",
            "https://evil.example/api",
            "https://api.runbeam.io/api/../evil",
        ] {
            assert_ne!(
                normalize_issuer(fake).as_deref(),
                Some(trusted.as_str()),
                "{fake}"
            );
        }
        for rejected in [
            "https://api.runbeam.io@evil.example/api",
            "https://user:pw@api.runbeam.io/api",
            "https://api.runbeam.io/api?x=1",
            "https://api.runbeam.io/api#f",
            "ftp://api.runbeam.io/api",
            "api.runbeam.io/api",
            "",
        ] {
            assert_eq!(normalize_issuer(rejected), None, "{rejected}");
        }
        assert_eq!(
            normalize_issuer("https://API.RUNBEAM.IO:443/api/").unwrap(),
            trusted
        );
    }

    #[test]
    fn configured_urls_follow_the_http_rule() {
        assert!(configured_url("issuer", "http://127.0.0.1:9/api", false).is_ok());
        assert!(configured_url("issuer", "http://10.0.0.1/api", false).is_err());
        assert!(configured_url("issuer", "http://10.0.0.1/api", true).is_ok());
        let url = configured_url("issuer", "https://x.example/api/", false).unwrap();
        assert_eq!(
            jwks_url_of(&url).unwrap().as_str(),
            "https://x.example/api/.well-known/jwks.json"
        );
    }
}
