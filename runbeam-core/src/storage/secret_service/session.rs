//! The Secret Service's encrypted transfer (`dh-ietf1024-sha256-aes128-cbc-pkcs7`, the Secret
//! Service API, "Transfer of Secrets"): a Diffie-Hellman exchange in the 1024-bit MODP group
//! of RFC 2409 (generator 2), HKDF-SHA256 of the shared secret (no salt, no info) to a 16-byte
//! AES-128 key, and each secret AES-128-CBC with PKCS#7 padding under a fresh random IV. The
//! private exponent and the IVs come from aws-lc's CSPRNG; the key is zeroized on drop.

use aws_lc_rs::cipher::{
    AES_128, DecryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey,
};
use aws_lc_rs::hkdf;
use num_bigint::BigUint;
use zeroize::{Zeroize, Zeroizing};

/// The algorithm name OpenSession is given.
pub(crate) const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

/// RFC 2409, 6.2: the second Oakley group, 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + 129093).
const PRIME: [u8; 128] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF, 0x5C, 0xB6, 0xF4, 0x06, 0xB7, 0xED,
    0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5, 0xAE, 0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6,
    0x49, 0x28, 0x66, 0x51, 0xEC, 0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// This side's half of the exchange.
pub(crate) struct KeyPair {
    private: Zeroizing<Vec<u8>>,
    /// The public value, big-endian, for OpenSession.
    pub(crate) public: Vec<u8>,
}

impl KeyPair {
    /// A fresh private exponent (1024 random bits) and its public value.
    pub(crate) fn generate() -> Result<KeyPair, &'static str> {
        let mut private = Zeroizing::new(vec![0u8; 128]);
        aws_lc_rs::rand::fill(&mut private).map_err(|_| "the system's random source failed")?;
        let exponent = BigUint::from_bytes_be(&private);
        let public = BigUint::from(2u8)
            .modpow(&exponent, &BigUint::from_bytes_be(&PRIME))
            .to_bytes_be();
        Ok(KeyPair { private, public })
    }

    /// The session key agreed with the service's public value `theirs` (big-endian), which
    /// must be in 2..p-2 (anything else would make the shared secret guessable).
    pub(crate) fn agree(&self, theirs: &[u8]) -> Result<SessionKey, &'static str> {
        let prime = BigUint::from_bytes_be(&PRIME);
        let theirs = BigUint::from_bytes_be(theirs);
        if theirs < BigUint::from(2u8) || theirs > &prime - 2u8 {
            return Err("the service's Diffie-Hellman public value is out of range");
        }
        let shared = theirs.modpow(&BigUint::from_bytes_be(&self.private), &prime);
        let mut ikm = Zeroizing::new(vec![0u8; 128]);
        let mut bytes = shared.to_bytes_be();
        let start = ikm.len().saturating_sub(bytes.len());
        ikm[start..].copy_from_slice(&bytes);
        bytes.zeroize();
        let mut key = [0u8; 16];
        hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(&ikm)
            .expand(&[], KeyLen)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| "deriving the session key failed")?;
        Ok(SessionKey(Zeroizing::new(key)))
    }
}

/// HKDF's output length: an AES-128 key.
struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        16
    }
}

/// The AES-128 key of an open session.
pub(crate) struct SessionKey(Zeroizing<[u8; 16]>);

impl SessionKey {
    /// `secret` encrypted: (IV, ciphertext).
    pub(crate) fn encrypt(&self, secret: &[u8]) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
        let fail = |_| "encrypting the secret failed";
        let key = UnboundCipherKey::new(&AES_128, self.0.as_ref()).map_err(fail)?;
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(fail)?;
        // Room for the padding up front: growing the buffer would leave a copy of the secret
        // in freed memory.
        let mut data = Zeroizing::new(Vec::with_capacity(secret.len() + 16));
        data.extend_from_slice(secret);
        let context = key.encrypt(&mut *data).map_err(fail)?;
        let iv: &[u8] = (&context).try_into().map_err(fail)?;
        Ok((iv.to_vec(), data.to_vec()))
    }

    /// The secret of `ciphertext` under `iv` (from GetSecret).
    pub(crate) fn decrypt(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, &'static str> {
        let fail = |_| "the secret does not decrypt with the session key";
        let iv: [u8; 16] = iv
            .try_into()
            .map_err(|_| "the secret's IV is not 16 bytes")?;
        let key = UnboundCipherKey::new(&AES_128, self.0.as_ref()).map_err(fail)?;
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(fail)?;
        let mut data = Zeroizing::new(ciphertext.to_vec());
        let clear = key
            .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
            .map_err(fail)?;
        Ok(Zeroizing::new(clear.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_a_secret_goes_through() {
        let (a, b) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        let (ka, kb) = (a.agree(&b.public).unwrap(), b.agree(&a.public).unwrap());
        assert_eq!(*ka.0, *kb.0);
        let (iv, sealed) = ka.encrypt(b"mt_secret").unwrap();
        assert_ne!(&sealed[..], b"mt_secret");
        assert_eq!(&kb.decrypt(&iv, &sealed).unwrap()[..], b"mt_secret");
        // A fresh IV each time.
        assert_ne!(ka.encrypt(b"mt_secret").unwrap().0, iv);
    }

    #[test]
    fn hostile_values_are_errors() {
        let a = KeyPair::generate().unwrap();
        let prime = BigUint::from_bytes_be(&PRIME);
        for theirs in [
            vec![],
            vec![0],
            vec![1],
            (&prime - 1u8).to_bytes_be(),
            PRIME.to_vec(),
        ] {
            assert!(a.agree(&theirs).is_err());
        }
        let key = a.agree(&KeyPair::generate().unwrap().public).unwrap();
        assert!(key.decrypt(&[0; 15], &[0; 16]).is_err());
        assert!(key.decrypt(&[0; 16], &[0; 15]).is_err());
        assert!(key.decrypt(&[0; 16], &[]).is_err());
    }
}
