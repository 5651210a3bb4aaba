//! Test-only fault injection (cargo feature `fault-injection`, on in every workspace build):
//! lets the C test suite force a panic inside a call to prove the panic boundary. Not part of
//! the public header.

use std::ffi::c_char;

use crate::guard::{guard, str_arg};
use crate::status::runbeam_status;

/// The next `count` calls that pass `site` panic (0 disarms it). Sites: `"jwt"`,
/// `"reference"`, `"jwks"`, `"resolve"`, `"storage"` (see `runbeam_core::panic::fault`).
/// Test builds only; declare it yourself:
/// `runbeam_status runbeam_fault_arm(const char *site, uint32_t count);`
///
/// cbindgen:ignore
///
/// # Safety
/// `site` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_fault_arm(site: *const c_char, count: u32) -> runbeam_status {
    guard("runbeam_fault_arm", || {
        // SAFETY: forwarded contract.
        let site = unsafe { str_arg(site, "site") }?;
        runbeam_core::panic::fault::arm(site, count);
        Ok(())
    })
}
