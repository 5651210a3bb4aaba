//! The compact JWS form: `header.payload.signature`, each base64url without padding.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::base64url;
use super::claims::Claims;
use super::claims_scan::scan_header;

use super::algorithm::{Algorithm, never_accepted};
use crate::error::{Error, ErrorKind, quote_input};

/// Tokens longer than this are refused before any decoding (docs/spec.md §4).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token split and decoded, its signature not yet checked. `A` is what the header's `alg`
/// was mapped to: an [`Algorithm`] for JWKS keys, whatever a local mesh's key expects. The
/// `kid` and the signature are borrowed from the caller's [`Scratch`] (`'b`).
pub(crate) struct Compact<'t, 'b, A = Algorithm> {
    pub(crate) alg: A,
    pub(crate) kid: Cow<'b, str>,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'t [u8],
    pub(crate) signature: &'b [u8],
    /// Parsed from the payload; trusted only once the signature is verified.
    pub(crate) claims: Claims,
}

/// A token cut where its signing input ends: at its second '.' (at its only '.', or nowhere,
/// when it has fewer). Found once, by a forward search over the header and the payload only,
/// and shared by the cache key ([`super::cache::TokenKey`]) and [`decode`].
#[derive(Clone, Copy)]
pub(crate) struct Parts<'t> {
    token: &'t str,
    /// Everything before that '.' (the whole token when it has none).
    pub(crate) input: &'t str,
    /// Everything after it (empty when none); holds a '.' when the token has more than three
    /// segments.
    pub(crate) signature: &'t str,
}

impl<'t> Parts<'t> {
    #[inline]
    pub(crate) fn of(token: &'t str) -> Parts<'t> {
        let whole = Parts {
            token,
            input: token,
            signature: "",
        };
        let Some((header, rest)) = token.split_once('.') else {
            return whole;
        };
        let (payload_len, signature) = rest
            .split_once('.')
            .map_or((None, rest), |(p, s)| (Some(p.len()), s));
        let input = match payload_len {
            Some(p) => token.get(..header.len() + 1 + p),
            None => Some(header),
        };
        input.map_or(whole, |input| Parts {
            token,
            input,
            signature,
        })
    }
}

/// The buffers a token's header and signature are decoded into: on the stack of the caller
/// when they fit (a Runbeam header is ~60 bytes, an RSA-8192 signature 1,024), else into the
/// `Vec`s (allocated only then).
pub(crate) struct Scratch {
    header: [u8; STACK_HEADER_BYTES],
    signature: [u8; STACK_SIGNATURE_BYTES],
    header_heap: Vec<u8>,
    signature_heap: Vec<u8>,
}

impl Scratch {
    #[inline]
    pub(crate) fn new() -> Scratch {
        Scratch {
            header: [0; STACK_HEADER_BYTES],
            signature: [0; STACK_SIGNATURE_BYTES],
            header_heap: Vec::new(),
            signature_heap: Vec::new(),
        }
    }
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
    #[inline]
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Kid<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            #[inline]
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Kid<'de>, E> {
                Ok(Kid::Text(Cow::Borrowed(s)))
            }
            #[inline]
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Kid<'de>, E> {
                Ok(Kid::Text(Cow::Owned(s.to_owned())))
            }
            #[inline]
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

/// Signatures up to this many bytes are decoded on the stack (RSA-8192: 1,024).
const STACK_SIGNATURE_BYTES: usize = 1024;

/// Refuses a token of `len` bytes over [`MAX_TOKEN_BYTES`] (`JwtInvalid`), before any work on
/// it; the C ABI calls it before reading the caller's buffer.
///
/// ```
/// use runbeam_core::jwt::{check_token_size, MAX_TOKEN_BYTES};
/// assert!(check_token_size(MAX_TOKEN_BYTES).is_ok());
/// assert!(check_token_size(MAX_TOKEN_BYTES + 1).is_err());
/// ```
#[inline]
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
#[inline]
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'{')
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::JwtInvalid, message)
}

fn not_base64(name: &str) -> Error {
    invalid(format!(
        "the token's {name} is not valid base64url (RFC 7515 compact form, no padding)"
    ))
}

fn not_three_segments() -> Error {
    invalid("the token is not a JWT: expected three base64url segments separated by '.'")
}

/// Splits and decodes `token` (cut as `parts` says: [`Parts::of`] of this token); checks the
/// size, the three segments, the header (`alg` in `allowed`, `kid` present, no `crit`) and that
/// the payload is a JSON object. The `kid` and the signature are decoded into `scratch`.
#[inline]
pub(crate) fn decode<'t, 'b>(
    parts: Parts<'t>,
    allowed: &[Algorithm],
    scratch: &'b mut Scratch,
) -> Result<Compact<'t, 'b>, Error> {
    decode_with(parts, scratch, |alg_name| {
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
#[inline]
pub(crate) fn decode_with<'t, 'b, A>(
    parts: Parts<'t>,
    scratch: &'b mut Scratch,
    accept: impl FnOnce(&str) -> Result<A, Error>,
) -> Result<Compact<'t, 'b, A>, Error> {
    let token = parts.token;
    check_token_size(token.len())?;
    if token.is_empty() {
        return Err(invalid("the token is empty"));
    }
    let Some((h, p)) = parts.input.split_once('.') else {
        return Err(not_three_segments());
    };
    let s = parts.signature;
    // The signature is not searched for a '.' before it is decoded (a '.' is not base64url):
    // a fourth segment is found when decoding fails, and reported as such whatever failed.
    decode_segments(h, p, s, parts.input, scratch, accept).map_err(|e| {
        if s.contains('.') {
            not_three_segments()
        } else {
            e
        }
    })
}

#[inline]
fn decode_segments<'t, 'b, A>(
    h: &str,
    p: &str,
    s: &str,
    input: &'t str,
    scratch: &'b mut Scratch,
    accept: impl FnOnce(&str) -> Result<A, Error>,
) -> Result<Compact<'t, 'b, A>, Error> {
    let Scratch {
        header,
        signature,
        header_heap,
        signature_heap,
    } = scratch;
    let header_bytes = base64url::decode_in(h.as_bytes(), header, header_heap)
        .ok_or_else(|| not_base64("header"))?;
    let not_object = || invalid("the token's header is not a JSON object");
    if !is_json_object(header_bytes) {
        return Err(not_object());
    }
    // A plain header is read in one pass without serde (`claims_scan`); serde otherwise.
    let scanned = std::str::from_utf8(header_bytes).ok().and_then(scan_header);
    let header: Header<'b> = match scanned {
        Some((alg, kid)) => Header {
            alg: alg.map(Cow::Borrowed),
            kid: kid.map(|k| Kid::Text(Cow::Borrowed(k))),
            crit: None,
        },
        None => serde_json::from_slice(header_bytes).map_err(|_| not_object())?,
    };
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
        Some(Kid::Text(kid)) if !kid.is_empty() => kid,
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
    let payload_bytes = base64url::decode_vec(p.as_bytes()).ok_or_else(|| not_base64("payload"))?;
    let payload_json = String::from_utf8(payload_bytes)
        .map_err(|_| invalid("the token's payload is not UTF-8 JSON"))?;
    let claims = Claims::parse(payload_json)?;
    let signature = base64url::decode_in(s.as_bytes(), signature, signature_heap)
        .ok_or_else(|| not_base64("signature"))?;
    if signature.is_empty() {
        return Err(invalid("the token has an empty signature"));
    }
    Ok(Compact {
        alg,
        kid,
        signing_input: input.as_bytes(),
        signature,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    fn err(token: &str) -> String {
        match decode(Parts::of(token), &[Algorithm::Rs256], &mut Scratch::new()) {
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
        let mut scratch = Scratch::new();
        let c = decode(Parts::of(&t), &[Algorithm::Rs256], &mut scratch).unwrap();
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
