//! Runbeam Cloud response bodies: the first byte chooses the type (authorize, acknowledgement,
//! base URL, resolution, mesh token, JWKS, change, change feed pages, update, collection page,
//! and an error body mapped to an error as for a failed call). Never a panic; an error body's
//! text never quotes the caller's token back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbeam_core::fuzzing::{RESPONSE_KINDS, response};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let decoded = response(kind, body);
    if usize::from(kind) % RESPONSE_KINDS.len() == RESPONSE_KINDS.len() - 1 {
        assert!(decoded, "an error body quoted the token back");
    }
});
