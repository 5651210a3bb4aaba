//! The compact JWS form: `header.payload.signature`, each base64url without padding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::claims::Claims;

use super::algorithm::{Algorithm, never_accepted};
use crate::error::{Error, ErrorKind, quote_input};

/// Tokens longer than this are refused before any decoding (docs/spec.md §4).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token split and decoded, its signature not yet checked. `A` is what the header's `alg`
/// was mapped to: an [`Algorithm`] for JWKS keys, whatever a local mesh's key expects.
pub(crate) struct Compact<'t, A = Algorithm> {
    pub(crate) alg: A,
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
    alg: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kid: Option<Kid<'a>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The header's `kid`: a string (borrowed when unescaped), or any other JSON value, skipped
/// without building it.
enum Kid<'a> {
    Text(Cow<'a, str>),
    NotText,
}

impl<'de: 'a, 'a> Deserialize<'de> for Kid<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Kid<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Kid<'de>, E> {
                Ok(Kid::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Kid<'de>, E> {
                Ok(Kid::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Kid<'de>, E> {
                Ok(Kid::Text(Cow::Owned(s)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kid<'de>, E> {
                Ok(Kid::NotText)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kid<'de>, E> {
                Ok(Kid::NotText)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kid<'de>, E> {
                Ok(Kid::NotText)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kid<'de>, E> {
                Ok(Kid::NotText)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Kid<'de>, E> {
                Ok(Kid::NotText)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Kid<'de>, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Kid::NotText)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Kid<'de>, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Kid::NotText)
            }
        }
        d.deserialize_any(Read)
    }
}

/// Headers up to this many bytes are decoded on the stack (a Runbeam header is ~60 bytes).
const STACK_HEADER_BYTES: usize = 256;

/// Refuses a token of `len` bytes over [`MAX_TOKEN_BYTES`] (`JwtInvalid`), before any work on
/// it; the C ABI calls it before reading the caller's buffer.
///
/// ```
/// use runbeam_core::jwt::{check_token_size, MAX_TOKEN_BYTES};
/// assert!(check_token_size(MAX_TOKEN_BYTES).is_ok());
/// assert!(check_token_size(MAX_TOKEN_BYTES + 1).is_err());
/// ```
pub fn check_token_size(len: usize) -> Result<(), Error> {
    crate::panic::fault_point("jwt");
    if len > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "the token is {len} bytes long, over the limit of {MAX_TOKEN_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Whether `json` (untrusted bytes) is written as a JSON object: its first non-whitespace byte
/// is `{`. serde's derived structs also accept a JSON array (fields read by position); RFC 7515
/// and 7519 require objects for the JOSE header and the claims set, so both are checked here
/// before they are deserialised.
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'{')
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
    decode_with(token, |alg_name| {
        alg_name
            .parse::<Algorithm>()
            .ok()
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| {
                let allowed: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
                let why = match never_accepted(alg_name) {
                    Some(why) => why.to_string(),
                    None => format!("this validator accepts {}", allowed.join(", ")),
                };
                invalid(format!(
                    "the token's algorithm '{}' is not accepted: {why}",
                    quote_input(alg_name, 20)
                ))
            })
    })
}

/// [`decode`] with the header's `alg` (untrusted text) mapped by `accept`, which refuses every
/// algorithm but the ones its caller verifies: the one shape check for every kind of key.
pub(crate) fn decode_with<'t, A>(
    token: &'t str,
    accept: impl FnOnce(&str) -> Result<A, Error>,
) -> Result<Compact<'t, A>, Error> {
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
    // A short header is decoded into a buffer on the stack; a longer one into a Vec.
    let mut stack = [0u8; STACK_HEADER_BYTES];
    let heap;
    let header_bytes: &[u8] = match URL_SAFE_NO_PAD.decode_slice(h, &mut stack) {
        Ok(len) => stack.get(..len).unwrap_or_default(),
        Err(_) => {
            heap = decode_segment("header", h)?;
            &heap
        }
    };
    let not_object = || invalid("the token's header is not a JSON object");
    if !is_json_object(header_bytes) {
        return Err(not_object());
    }
    let header: Header<'_> = serde_json::from_slice(header_bytes).map_err(|_| not_object())?;
    let alg_name = header
        .alg
        .ok_or_else(|| invalid("the token's header has no 'alg'"))?;
    let alg = accept(&alg_name)?;
    if header.crit.is_some() {
        return Err(invalid(
            "the token's header has 'crit' extensions, which this validator does not support",
        ));
    }
    let kid = match header.kid {
        Some(Kid::Text(kid)) if !kid.is_empty() => kid.into_owned(),
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
    fn a_multi_byte_algorithm_name_is_refused_not_a_panic() {
        // Byte 2 of these names falls inside a multi-byte character: slicing there panicked.
        for alg in [
            "a€b",
            "a\u{20ac}b",
            "H€",
            "€€",
            "HS€",
            "hs2€",
            "ñone",
            "\u{10FFFF}S256",
        ] {
            let header = format!(
                r#"{{"alg":{},"kid":"k"}}"#,
                serde_json::to_string(alg).unwrap()
            );
            assert!(
                err(&token(&header, r#"{"exp":1}"#)).contains("is not accepted"),
                "{alg:?}"
            );
        }
        // The JSON escape form reaches the same text after decoding.
        let escaped = token(r#"{"alg":"a\u20acb","kid":"k"}"#, r#"{"exp":1}"#);
        assert!(err(&escaped).contains("is not accepted"));
        assert!(err(&token(r#"{"alg":"hs512","kid":"k"}"#, "{}")).contains("HMAC"));
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
        // Arrays are not JSON objects, even when their elements would fill the fields.
        assert!(
            err(&token(r#"["RS256","k"]"#, r#"{"exp":1}"#)).contains("header is not a JSON object")
        );
        assert!(
            err(&token(
                r#"{"alg":"RS256","kid":"k"}"#,
                r#"["i","s",null,1]"#
            ))
            .contains("payload is not a JSON object")
        );
        assert!(err(&token(" \n[1]", "{}")).contains("header is not a JSON object"));
        let exp = b64(r#"{"exp":1}"#);
        assert!(err(&format!("{}.{exp}.", b64(r#"{"alg":"RS256","kid":"k"}"#))).contains("empty"));
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(err(&huge).contains("limit"));
    }
}
