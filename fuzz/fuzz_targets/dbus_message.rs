//! Messages from the D-Bus session bus as the Secret Service client reads them (any process
//! that answers on the socket writes these bytes): the header, its fields and a body of any
//! signature. Never a panic; a message read is exactly as long as its fixed header says.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runbeam_core::fuzzing::dbus_message(data);
});
