//! The compact JWS form: `header.payload.signature`, each base64url without padding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::claims::Claims;

use super::algorithm::Algorithm;
use crate::error::{Error, ErrorKind, quote_input};

/// Tokens longer than this are refused before any decoding (SPEC §4).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token split and decoded, its signature not yet checked.
pub(crate) struct Compact<'t> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'t [u8],
    pub(crate) signature: Vec<u8>,
    /// Parsed from the payload; trusted only once the signature is verified.
    pub(crate) claims: Claims,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    kid: Option<Value>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Refuses a token of `len` bytes over [`MAX_TOKEN_BYTES`] (`JwtInvalid`), before any work on
/// it; the C ABI calls it before reading the caller's buffer.
///
/// ```
/// use runbeam_core::jwt::{check_token_size, MAX_TOKEN_BYTES};
/// assert!(check_token_size(MAX_TOKEN_BYTES).is_ok());
/// assert!(check_token_size(MAX_TOKEN_BYTES + 1).is_err());
/// ```
pub fn check_token_size(len: usize) -> Result<(), Error> {
    if len > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "the token is {len} bytes long, over the limit of {MAX_TOKEN_BYTES} bytes"
        )));
    }
    Ok(())
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::JwtInvalid, message)
}

fn decode_segment(name: &str, segment: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|_| {
        invalid(format!(
            "the token's {name} is not valid base64url (RFC 7515 compact form, no padding)"
        ))
    })
}

/// Splits and decodes `token`; checks the size, the three segments, the header (`alg` in
/// `allowed`, `kid` present, no `crit`) and that the payload is a JSON object.
pub(crate) fn decode<'t>(token: &'t str, allowed: &[Algorithm]) -> Result<Compact<'t>, Error> {
    check_token_size(token.len())?;
    if token.is_empty() {
        return Err(invalid("the token is empty"));
    }
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "the token is not a JWT: expected three base64url segments separated by '.'",
        ));
    };
    let header_bytes = decode_segment("header", h)?;
    let header: Header<'_> = serde_json::from_slice(&header_bytes)
        .map_err(|_| invalid("the token's header is not a JSON object"))?;
    let alg_name = header
        .alg
        .ok_or_else(|| invalid("the token's header has no 'alg'"))?;
    let alg = alg_name
        .parse::<Algorithm>()
        .ok()
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| {
            let allowed: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
            let why = if alg_name.eq_ignore_ascii_case("none") {
                "unsigned tokens are never accepted".to_string()
            } else if alg_name.len() == 5 && alg_name[..2].eq_ignore_ascii_case("HS") {
                "HMAC algorithms are never accepted with public keys".to_string()
            } else {
                format!("this validator accepts {}", allowed.join(", "))
            };
            invalid(format!(
                "the token's algorithm '{}' is not accepted: {why}",
                quote_input(&alg_name, 20)
            ))
        })?;
    if header.crit.is_some() {
        return Err(invalid(
            "the token's header has 'crit' extensions, which this validator does not support",
        ));
    }
    let kid = match header.kid {
        Some(Value::String(kid)) if !kid.is_empty() => kid,
        Some(_) => {
            return Err(invalid(
                "the token's header 'kid' is not a non-empty string",
            ));
        }
        None => {
            return Err(invalid(
                "the token's header has no 'kid'; Runbeam tokens name their signing key",
            ));
        }
    };
    let payload_bytes = decode_segment("payload", p)?;
    let payload_json = String::from_utf8(payload_bytes)
        .map_err(|_| invalid("the token's payload is not UTF-8 JSON"))?;
    let claims = Claims::parse(payload_json)?;
    let signature = decode_segment("signature", s)?;
    if signature.is_empty() {
        return Err(invalid("the token has an empty signature"));
    }
    Ok(Compact {
        alg,
        kid,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    fn err(token: &str) -> String {
        match decode(token, &[Algorithm::Rs256]) {
            Ok(_) => panic!("accepted {token}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::JwtInvalid);
                e.message().to_string()
            }
        }
    }

    #[test]
    fn decodes_a_well_formed_token() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"sub":"u","exp":1}"#);
        let c = decode(&t, &[Algorithm::Rs256]).unwrap();
        assert_eq!(c.alg, Algorithm::Rs256);
        assert_eq!(c.kid, "k1");
        assert_eq!(c.claims.sub.as_deref(), Some("u"));
        assert_eq!(c.signature, b"sig");
        assert_eq!(c.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn refuses_malformed_tokens_with_a_reason() {
        assert!(err("").contains("empty"));
        assert!(err("a.b").contains("three"));
        assert!(err("a.b.c.d").contains("three"));
        assert!(err("!!.b.c").contains("base64url"));
        assert!(err(&format!("{}.e30.c2ln", b64("nope"))).contains("header"));
        assert!(err(&token(r#"{"alg":"none","kid":"k"}"#, "{}")).contains("never"));
        assert!(err(&token(r#"{"alg":"HS256","kid":"k"}"#, "{}")).contains("HMAC"));
        assert!(err(&token(r#"{"alg":"ES256","kid":"k"}"#, "{}")).contains("RS256"));
        assert!(err(&token(r#"{"alg":"RS256"}"#, "{}")).contains("kid"));
        assert!(err(&token(r#"{"alg":"RS256","kid":7}"#, "{}")).contains("kid"));
        assert!(err(&token(r#"{"alg":"RS256","kid":"k","crit":["x"]}"#, "{}")).contains("crit"));
        assert!(err(&token(r#"{"alg":"RS256","kid":"k"}"#, "[1]")).contains("payload"));
        let exp = b64(r#"{"exp":1}"#);
        assert!(err(&format!("{}.{exp}.", b64(r#"{"alg":"RS256","kid":"k"}"#))).contains("empty"));
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(err(&huge).contains("limit"));
    }
}
