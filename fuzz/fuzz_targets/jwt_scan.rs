//! The JWT hot path's own readers on attacker bytes, each against its reference: the base64url
//! segment decoder against the `base64` crate, the claims scan and the header scan against
//! serde. Never a panic, never a disagreement (`runbeam_core::fuzzing::jwt_scan_agrees`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runbeam_core::fuzzing::jwt_scan_agrees(data);
});
