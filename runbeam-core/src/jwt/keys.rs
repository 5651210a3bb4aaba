//! JWKS documents turned into parsed verification keys, indexed by `kid`.

use std::collections::HashMap;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::algorithm::{Algorithm, Family};

/// Keys kept from one JWKS document at most; more are ignored.
pub const MAX_KEYS_PER_SET: usize = 64;

/// One JWK as published; unknown members are ignored.
#[derive(Deserialize)]
struct JwkDoc {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// A JWKS document: a JSON object with a `keys` array (RFC 7517 §5). An array, or a `keys`
/// that is not an array, is refused (serde's derive would read an array by position).
pub(crate) struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

impl<'de> Deserialize<'de> for JwksDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut doc = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match doc.remove("keys") {
            Some(serde_json::Value::Array(keys)) => Ok(JwksDoc { keys }),
            _ => Err(serde::de::Error::custom(
                "a JWKS is a JSON object with a 'keys' array",
            )),
        }
    }
}

/// A key parsed once for one algorithm.
pub(crate) struct VerifyKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: ParsedPublicKey,
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Vec<VerifyKey>>,
}

impl KeySet {
    /// The key for `kid` usable with `alg`.
    #[inline]
    pub(crate) fn find(&self, kid: &str, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.keys_of(kid)?
            .iter()
            .find(|k| k.alg == alg)
            .map(|k| &k.key)
    }

    /// Whether any key has this `kid` (for any algorithm).
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys_of(kid).is_some()
    }

    /// The keys of `kid`: a JWKS holds a few keys, compared in place (cheaper than hashing
    /// the `kid` on every token); a larger set is hashed.
    #[inline]
    fn keys_of(&self, kid: &str) -> Option<&Vec<VerifyKey>> {
        if self.by_kid.len() <= 8 {
            self.by_kid.iter().find(|(k, _)| *k == kid).map(|(_, v)| v)
        } else {
            self.by_kid.get(kid)
        }
    }

    /// What identifies the set: every (kid, algorithm, key bytes), sorted.
    pub(crate) fn fingerprint(&self) -> Vec<(&str, &'static str, &[u8])> {
        let mut all: Vec<_> = self
            .by_kid
            .iter()
            .flat_map(|(kid, keys)| {
                keys.iter()
                    .map(move |k| (kid.as_str(), k.alg.name(), k.key.as_ref()))
            })
            .collect();
        all.sort_unstable();
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// The kids, sorted (to tell whether two sets differ and for messages).
    pub(crate) fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    /// Builds the set from a JWKS document, keeping keys usable with an algorithm of
    /// `allowed`. Keys without `kid`, of another `use`, of an unknown type, malformed, or
    /// beyond [`MAX_KEYS_PER_SET`] are skipped; their count is returned.
    pub(crate) fn from_document(doc: JwksDoc, allowed: &[Algorithm]) -> (KeySet, usize) {
        let mut set = KeySet::default();
        let mut skipped = 0;
        for raw in doc.keys {
            if set.by_kid.len() >= MAX_KEYS_PER_SET {
                skipped += 1;
                continue;
            }
            // Each JWK must be an object too (RFC 7517 §4).
            let parsed = Some(raw)
                .filter(serde_json::Value::is_object)
                .and_then(|raw| serde_json::from_value::<JwkDoc>(raw).ok())
                .and_then(|jwk| parse_jwk(&jwk, allowed));
            match parsed {
                Some((kid, keys)) if !keys.is_empty() => {
                    set.by_kid.entry(kid).or_default().extend(keys);
                }
                _ => skipped += 1,
            }
        }
        (set, skipped)
    }
}

fn b64(text: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text?.trim_end_matches('=')).ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn parse_jwk(jwk: &JwkDoc, allowed: &[Algorithm]) -> Option<(String, Vec<VerifyKey>)> {
    let kid = jwk.kid.clone().filter(|k| !k.is_empty())?;
    if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let family = match (jwk.kty.as_deref()?, jwk.crv.as_deref()) {
        ("RSA", _) => Family::Rsa,
        ("EC", Some("P-256")) => Family::P256,
        ("EC", Some("P-384")) => Family::P384,
        ("OKP", Some("Ed25519")) => Family::Ed25519,
        _ => return None,
    };
    // A JWK that names its algorithm is used with that one only.
    let named = match jwk.alg.as_deref() {
        Some(name) => Some(name.parse::<Algorithm>().ok()?),
        None => None,
    };
    let candidates = allowed
        .iter()
        .copied()
        .filter(|a| a.family() == family && named.is_none_or(|n| n == *a));
    let mut keys = Vec::new();
    for alg in candidates {
        let key = match family {
            Family::Rsa => {
                let n = b64(jwk.n.as_ref())?;
                let e = b64(jwk.e.as_ref())?;
                let components = RsaPublicKeyComponents {
                    n: strip_leading_zeros(&n),
                    e: strip_leading_zeros(&e),
                };
                components
                    .to_parsed_public_key(alg.rsa_parameters()?)
                    .ok()?
            }
            Family::P256 | Family::P384 => {
                let x = b64(jwk.x.as_ref())?;
                let y = b64(jwk.y.as_ref())?;
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ParsedPublicKey::new(alg.verifier(), point).ok()?
            }
            Family::Ed25519 => ParsedPublicKey::new(alg.verifier(), b64(jwk.x.as_ref())?).ok()?,
        };
        keys.push(VerifyKey { alg, key });
    }
    Some((kid, keys))
}
