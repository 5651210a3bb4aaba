//! JWT validation on attacker bytes, through a `Validator` with a key set loaded (no I/O).
//!
//! The first byte chooses the shape: even → the rest is the token text as received; odd → the
//! rest is `header 0xFF payload`, signed with the key the validator trusts, so that arbitrary
//! JOSE headers and claims sets reach every check after the signature (issuer, audience,
//! times, required claims, mesh claims). Never a panic; errors are never `Internal`; a token
//! that is not a signed JSON object pair is never accepted.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runbeam_core::ErrorKind;
use runbeam_core::fuzzing::{AUDIENCE, ISSUER, JwtHarness};
use runbeam_core::jwt::normalize_issuer;

fn harness() -> &'static JwtHarness {
    static HARNESS: OnceLock<JwtHarness> = OnceLock::new();
    HARNESS.get_or_init(JwtHarness::new)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let (header, payload) = match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &b"{}"[..]),
        };
        harness().sign(header, payload)
    };
    match harness().validate(&token) {
        Ok(claims) => {
            // Only a signed pair of JSON objects can pass.
            assert!(mode % 2 == 1, "an unsigned token was accepted: {token}");
            // ... by the trusted issuer, for this audience.
            let iss = claims.iss.as_deref().and_then(normalize_issuer);
            assert_eq!(iss, normalize_issuer(ISSUER), "{token}");
            assert!(claims.aud.contains(AUDIENCE), "{token}");
        }
        Err(e) => assert_ne!(e.kind(), ErrorKind::Internal, "{e}"),
    }
    if let Err(e) = harness().verify_mesh(&token, "m1", Some("https://dicom.example.com/s/1")) {
        assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
    }
});
