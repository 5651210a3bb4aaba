//! `Authorization` header values: `parse_bearer` either refuses or returns one token that is a
//! part of the header, non-empty, printable ASCII without spaces or commas; the token then goes
//! to the validator like a gateway would pass it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runbeam_core::ErrorKind;
use runbeam_core::fuzzing::JwtHarness;
use runbeam_core::jwt::parse_bearer;

fn harness() -> &'static JwtHarness {
    static HARNESS: OnceLock<JwtHarness> = OnceLock::new();
    HARNESS.get_or_init(JwtHarness::new)
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    match parse_bearer(&header) {
        Ok(token) => {
            assert!(!token.is_empty());
            assert!(token.bytes().all(|b| b.is_ascii_graphic() && b != b','));
            assert!(header.contains(token));
            if let Err(e) = harness().validate(token) {
                assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::JwtInvalid);
            // The header holds a credential: never quoted back.
            let quoted = header.trim();
            if quoted.len() > 12 {
                assert!(!e.message().contains(quoted), "{e}");
            }
        }
    }
});
