//! `Reference::parse` on arbitrary text: never panics; every accepted reference round-trips
//! through its canonical form, which is never longer than the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbeam_core::{ErrorKind, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Reference::parse(text) {
        Ok(reference) => {
            let canonical = reference.to_string();
            assert!(canonical.len() <= text.len());
            let again = Reference::parse(&canonical).expect("canonical form must parse");
            assert_eq!(again, reference);
            assert_eq!(again.to_string(), canonical);
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidReference);
            assert!(
                e.message().len() < 600,
                "message too long: {}",
                e.message().len()
            );
        }
    }
});
