//! The mesh-token checks of docs/spec.md §4 on top of an ordinary validation.

use url::Url;

use super::claims::Claims;
use super::compact::invalid;
use crate::error::{Error, quote_input};

/// Whether `url` lies under `base`: same scheme, host (any case) and port (default ports
/// made explicit), and `base`'s path is a whole-segment prefix of `url`'s path. This is the
/// rule by which Runbeam Cloud issues mesh tokens for a destination URL (docs/spec.md §3.3).
///
/// ```
/// use runbeam_core::jwt::url_within;
/// use url::Url;
/// let base = Url::parse("https://dicom.example.com/wado")?;
/// assert!(url_within(&base, &Url::parse("https://DICOM.example.com:443/wado/studies/1")?));
/// assert!(!url_within(&base, &Url::parse("https://dicom.example.com/wadox")?));
/// assert!(!url_within(&base, &Url::parse("https://dicom.example.com.evil.test/wado")?));
/// # Ok::<(), url::ParseError>(())
/// ```
#[inline]
pub fn url_within(base: &Url, url: &Url) -> bool {
    if base.scheme() != url.scheme()
        || base.host_str().map(str::to_ascii_lowercase)
            != url.host_str().map(str::to_ascii_lowercase)
        || base.port_or_known_default() != url.port_or_known_default()
    {
        return false;
    }
    let prefix = base.path().trim_end_matches('/');
    let path = url.path();
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Checks that verified `claims` are a mesh token for `mesh_id` (`aud == mesh:<mesh_id>` and
/// the `mesh_id` claim) and, when `destination_url` is given, that it lies under the token's
/// `dest_url` (the URL the token was issued for; see [`url_within`]).
#[inline]
pub(crate) fn check_mesh(
    claims: &Claims,
    mesh_id: &str,
    destination_url: Option<&str>,
) -> Result<(), Error> {
    let audience = format!("mesh:{mesh_id}");
    if !claims.aud.contains(&audience) {
        let seen: Vec<&str> = claims.aud.iter().collect();
        return Err(invalid(format!(
            "the token is not a mesh token for mesh '{}': its audience is [{}], expected '{}'",
            quote_input(mesh_id, 80),
            quote_input(&seen.join(", "), 200),
            quote_input(&audience, 90)
        )));
    }
    match claims.mesh_id.as_deref() {
        Some(id) if id == mesh_id => {}
        other => {
            return Err(invalid(format!(
                "the token's 'mesh_id' claim is {}, expected '{}'",
                other.map_or("missing".to_string(), |id| format!(
                    "'{}'",
                    quote_input(id, 80)
                )),
                quote_input(mesh_id, 80)
            )));
        }
    }
    let Some(destination) = destination_url else {
        return Ok(());
    };
    let destination = Url::parse(destination).map_err(|e| {
        Error::new(
            crate::ErrorKind::InvalidArgument,
            format!(
                "the destination URL '{}' is not a URL: {e}",
                quote_input(destination, 200)
            ),
        )
    })?;
    let issued_for = claims
        .dest_url
        .as_deref()
        .and_then(|d| Url::parse(d).ok())
        .ok_or_else(|| invalid("the mesh token has no valid 'dest_url' claim"))?;
    if !url_within(&issued_for, &destination) {
        return Err(invalid(format!(
            "the mesh token was issued for {issued_for}, which does not cover {destination}"
        )));
    }
    Ok(())
}
