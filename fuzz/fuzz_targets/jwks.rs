//! JWKS documents as a fetch receives them: shape checks, then every key (RSA, EC, OKP) parsed
//! for every algorithm. Never a panic; never more usable keys than the document lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbeam_core::fuzzing::jwks_document;
use runbeam_core::jwt::{Algorithm, MAX_KEYS_PER_SET};

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = jwks_document(data, &Algorithm::ALL) {
        assert!(keys <= MAX_KEYS_PER_SET);
    }
});
