//! RSA-2048 signing keys (aws-lc-rs), JWT signing and verification, the JWKS document.

use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
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
        self.sign_with_header(&Map::new(), claims)
    }

    /// [`SigningKey::sign`] with header members replaced (`null` removes one, e.g. `kid`).
    pub(crate) fn sign_with_header(
        &self,
        overrides: &Map<String, Value>,
        claims: &Value,
    ) -> Result<String, String> {
        let header = header_with(
            json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}),
            overrides,
        );
        let input = signing_input(&header, claims);
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

fn header_with(mut header: Value, overrides: &Map<String, Value>) -> Value {
    if let Value::Object(map) = &mut header {
        for (key, value) in overrides {
            if value.is_null() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
    }
    header
}

fn signing_input(header: &Value, claims: &Value) -> String {
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}", encode(header), encode(claims))
}

/// An ES256 (P-256) key, published next to the RSA keys once a test asks for ES256 tokens
/// (a JWKS mixing key types).
pub(crate) struct EcKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl EcKey {
    pub(crate) fn generate() -> Result<EcKey, String> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "EC key generation failed".to_owned())?;
        let digest = Sha256::digest(pair.public_key().as_ref());
        Ok(EcKey {
            kid: format!("devcloud-ec-{}", &hex(&digest)[..16]),
            pair,
        })
    }

    pub(crate) fn sign_with_header(
        &self,
        overrides: &Map<String, Value>,
        claims: &Value,
    ) -> Result<String, String> {
        let header = header_with(
            json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            overrides,
        );
        let input = signing_input(&header, claims);
        let signature = self
            .pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .map_err(|_| "ECDSA signing failed".to_owned())?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC",
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }
}

/// The current signing key and, after a rotation, the previous one; an ES256 key on demand.
pub(crate) struct KeyRing {
    current: SigningKey,
    previous: Option<SigningKey>,
    ec: Option<EcKey>,
}

impl KeyRing {
    pub(crate) fn new() -> std::io::Result<KeyRing> {
        Ok(KeyRing {
            current: SigningKey::generate()?,
            previous: None,
            ec: None,
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

    /// The ES256 key, created (and published) on first use.
    pub(crate) fn ec(&mut self) -> Result<&EcKey, String> {
        if self.ec.is_none() {
            self.ec = Some(EcKey::generate()?);
        }
        Ok(self.ec.as_ref().expect("set above"))
    }

    /// The ES256 key, if one was created.
    pub(crate) fn ec_key(&self) -> Option<&EcKey> {
        self.ec.as_ref()
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(SigningKey::jwk)
            .chain(self.ec.as_ref().map(EcKey::jwk))
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
