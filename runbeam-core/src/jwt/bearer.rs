//! `Authorization: Bearer <token>` header parsing.

use crate::error::{Error, ErrorKind};

/// The token of an `Authorization` header value: scheme `Bearer` (any case), one space or
/// more, one token (no spaces, no commas). Anything else is an error saying what is wrong;
/// the error never quotes the header (it holds a credential).
///
/// ```
/// use runbeam_core::jwt::parse_bearer;
/// assert_eq!(parse_bearer("Bearer abc.def.ghi")?, "abc.def.ghi");
/// assert_eq!(parse_bearer("bearer  abc")?, "abc");
/// assert!(parse_bearer("Basic dXNlcjpwdw==").is_err());
/// assert!(parse_bearer("Bearer a b").is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[inline]
pub fn parse_bearer(header: &str) -> Result<&str, Error> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::JwtInvalid,
            format!("malformed Authorization header: {why}; expected 'Bearer <token>'"),
        )
    };
    let header = header.trim_matches(|c| c == ' ' || c == '\t');
    if header.is_empty() {
        return Err(bad("it is empty"));
    }
    let (scheme, rest) = header
        .split_once([' ', '\t'])
        .ok_or_else(|| bad("no token after the scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(bad("the scheme is not Bearer"));
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(bad("no token after the scheme"));
    }
    // One pass over the bytes without an early exit, which the compiler vectorizes (a token
    // is most of a header of a kilobyte or more, on every request); only a refused token is
    // looked at again: a space, tab or comma is a second token, anything else not graphic a
    // bad one.
    let clean = token
        .bytes()
        .fold(true, |clean, b| clean & b.is_ascii_graphic() & (b != b','));
    if clean {
        return Ok(token);
    }
    match token.bytes().find(|&b| !b.is_ascii_graphic() || b == b',') {
        Some(b' ' | b'\t' | b',') => Err(bad("more than one token")),
        _ => Err(bad("the token has control or non-ASCII characters")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(parse_bearer("  BEARER x.y.z ").unwrap(), "x.y.z");
        assert_eq!(parse_bearer("Bearer\tx").unwrap(), "x");
        for bad in [
            "",
            "Bearer",
            "Bearer   ",
            "Token x",
            "Bearer x,y",
            "Bearer x y",
            "Bearer \u{7f}x",
        ] {
            let e = parse_bearer(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::JwtInvalid, "{bad:?}");
        }
        let e = parse_bearer("Basic c2VjcmV0").unwrap_err();
        assert!(!e.message().contains("c2VjcmV0"));
    }
}
