//! RSA-2048 signing keys (aws-lc-rs), JWT signing and verification, the JWKS document.

use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One RS256 signing key with its `kid` and public components.
pub(crate) struct SigningKey {
    kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    pub(crate) fn generate() -> std::io::Result<SigningKey> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| std::io::Error::other("RSA key generation failed"))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let digest = Sha256::digest(&components.n);
        let kid = format!("devcloud-{}", &hex(&digest)[..16]);
        Ok(SigningKey {
            kid,
            pair,
            n: components.n,
            e: components.e,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as a compact RS256 JWT with this key's `kid` in the header.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", encode(&header), encode(claims));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_owned())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_raw_components(&self.n, &self.e)
    }
}

/// The current signing key and, after a rotation, the previous one.
pub(crate) struct KeyRing {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl KeyRing {
    pub(crate) fn new() -> std::io::Result<KeyRing> {
        Ok(KeyRing {
            current: SigningKey::generate()?,
            previous: None,
        })
    }

    pub(crate) fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Makes `next` the current key; the current one becomes the previous one.
    pub(crate) fn rotate(&mut self, next: SigningKey) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous = Some(old);
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(SigningKey::jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// Verifies an RS256 JWT signed by one of our keys with `iss == issuer`; returns claims.
    pub(crate) fn verify(&self, token: &str, issuer: &str) -> Result<Value, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if header.alg != Algorithm::RS256 {
            return Err("unsupported token algorithm".into());
        }
        let kid = header.kid.ok_or("token has no kid")?;
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.kid == kid)
            .ok_or("token signed by an unknown key")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 0;
        jsonwebtoken::decode::<Value>(token, &key.decoding_key(), &validation)
            .map(|data| data.claims)
            .map_err(|e| format!("invalid token: {e}"))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_across_a_rotation() {
        let mut ring = KeyRing::new().unwrap();
        let claims = json!({"iss": "http://x/api", "sub": "u1", "exp": 4_000_000_000u64});
        let old = ring.current().sign(&claims).unwrap();
        ring.rotate(SigningKey::generate().unwrap());
        let new = ring.current().sign(&claims).unwrap();
        assert_eq!(ring.verify(&old, "http://x/api").unwrap()["sub"], "u1");
        assert_eq!(ring.verify(&new, "http://x/api").unwrap()["sub"], "u1");
        assert!(ring.verify(&new, "http://other/api").is_err());
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        let mut tampered = new.clone();
        tampered.pop();
        assert!(ring.verify(&tampered, "http://x/api").is_err());
    }
}
