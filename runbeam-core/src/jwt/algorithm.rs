//! The signature algorithms a validator may accept (docs/spec.md §4) and their aws-lc-rs verifiers.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, VerificationAlgorithm};

use crate::error::{Error, ErrorKind, quote_input};

/// A JWS signature algorithm accepted with JWKS keys. `none` and the HMAC algorithms
/// (`HS256`, …) do not exist here: with public keys they would allow algorithm confusion.
///
/// ```
/// use runbeam_core::jwt::Algorithm;
/// assert_eq!("RS256".parse::<Algorithm>()?, Algorithm::Rs256);
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("HS256".parse::<Algorithm>().is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default and what Runbeam Cloud signs with).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in the order of docs/spec.md §4.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The JOSE name (`RS256`, `EdDSA`, …).
    #[inline]
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    #[inline]
    pub(crate) fn family(self) -> Family {
        match self {
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512 => Family::Rsa,
            Algorithm::Es256 => Family::P256,
            Algorithm::Es384 => Family::P384,
            Algorithm::EdDsa => Family::Ed25519,
        }
    }

    #[inline]
    pub(crate) fn verifier(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDsa => &signature::ED25519,
        }
    }

    /// The RSA parameters, for RSA algorithms.
    /// Whether the signature covers the SHA-256 of the signing input with an RSA key, so that
    /// aws-lc-rs can verify a digest computed once for the token cache (RS256, PS256).
    #[inline]
    pub(crate) fn hashes_with_sha256(self) -> bool {
        matches!(self, Algorithm::Rs256 | Algorithm::Ps256)
    }

    #[inline]
    pub(crate) fn rsa_parameters(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// Why an algorithm name is refused whatever the validator allows: `none` (unsigned) and the
/// HMAC family (`HS256`, …: with public keys they allow algorithm confusion). `None` for any
/// other name. `name` is untrusted text (a token header, a JWKS): it is compared as bytes, never
/// sliced, so a multi-byte character anywhere is just another non-match.
pub(crate) fn never_accepted(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.eq_ignore_ascii_case(b"none") {
        Some("unsigned tokens are never accepted")
    } else if bytes.len() == 5
        && bytes
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"HS"))
    {
        Some("HMAC algorithms are never accepted with public keys (algorithm confusion)")
    } else {
        None
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(name: &str) -> Result<Algorithm, Error> {
        if let Some(alg) = Algorithm::ALL.into_iter().find(|a| a.name() == name) {
            return Ok(alg);
        }
        let why = match never_accepted(name) {
            Some(why) => why.to_string(),
            None => format!(
                "supported: {}",
                Algorithm::ALL.map(Algorithm::name).join(", ")
            ),
        };
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "algorithm '{}' is not accepted: {why}",
                quote_input(name, 20)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_never_sliced() {
        // Byte 2 inside a multi-byte character (the old slice `name[..2]` panicked on these).
        for name in ["a€b", "H€1", "€€", "ñone1", "\u{10FFFF}S2"] {
            let e = name.parse::<Algorithm>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}");
            assert!(e.message().contains("supported: RS256"), "{name:?}: {e}");
        }
        assert_eq!(never_accepted("hs384"), never_accepted("HS256"));
        assert!(never_accepted("HS256").is_some_and(|w| w.contains("HMAC")));
        assert!(never_accepted("NONE").is_some_and(|w| w.contains("unsigned")));
        assert_eq!(never_accepted("RS256"), None);
        assert_eq!(never_accepted("HS25€"), None);
    }
}
