//! The C ABI with arbitrary bytes (including invalid UTF-8 and NUL): parse, every getter,
//! to_string, free. Never panics across the boundary; statuses are the documented ones.
#![no_main]

use std::ffi::CStr;

use libfuzzer_sys::fuzz_target;
use runbeam::cold::error::runbeam_last_error_message;
use runbeam::cold::reference::RUNBEAM_LOOKUP_NONE;
use runbeam::cold::status::{
    RUNBEAM_OK, RUNBEAM_STATUS_INVALID_ARGUMENT, RUNBEAM_STATUS_INVALID_REFERENCE,
};
use runbeam::cold::strings::runbeam_string_free;
use runbeam::*;

fuzz_target!(|data: &[u8]| {
    let mut reference = std::ptr::null_mut();
    // SAFETY: `data` is readable for its length; `reference` is writable.
    let status =
        unsafe { runbeam_reference_parse_len(data.as_ptr().cast(), data.len(), &mut reference) };
    match status {
        RUNBEAM_OK => {
            assert!(!reference.is_null());
            // SAFETY: `reference` is a live handle until freed below.
            unsafe {
                let canonical = CStr::from_ptr(runbeam_reference_as_str(reference));
                assert!(!CStr::from_ptr(runbeam_reference_provider(reference)).is_empty());
                assert!(!CStr::from_ptr(runbeam_reference_value(reference)).is_empty());
                let _ = runbeam_reference_team(reference);
                let _ = runbeam_reference_type(reference);
                assert!(runbeam_reference_lookup(reference) != RUNBEAM_LOOKUP_NONE);
                let mut copy = std::ptr::null_mut();
                assert_eq!(
                    runbeam_reference_to_string(reference, &mut copy),
                    RUNBEAM_OK
                );
                assert_eq!(CStr::from_ptr(copy), canonical);
                runbeam_string_free(copy);
                runbeam_reference_free(reference);
            }
        }
        RUNBEAM_STATUS_INVALID_REFERENCE | RUNBEAM_STATUS_INVALID_ARGUMENT => {
            assert!(reference.is_null());
            // SAFETY: static or thread-local string owned by the library.
            let message = unsafe { CStr::from_ptr(runbeam_last_error_message()) };
            assert!(!message.is_empty());
        }
        other => panic!("unexpected status {other}"),
    }
});
