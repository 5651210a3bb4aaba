//! Strings allocated by librunbeam and handed to C.

use std::ffi::c_char;

use zeroize::Zeroize;

use crate::error::to_cstring;
use crate::guard::guard_value;

/// A newly allocated C string the caller releases with `runbeam_string_free()`.
pub(crate) fn into_c_string(text: &str) -> *mut c_char {
    to_cstring(text).into_raw()
}

/// Releases a string returned by librunbeam (`runbeam_reference_to_string()`, …). Its bytes are
/// overwritten with zeros first, so strings that held tokens leave nothing behind. NULL is a
/// no-op.
///
/// # Safety
/// `text` is NULL or a string returned by librunbeam that was not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_string_free(text: *mut c_char) {
    guard_value("runbeam_string_free", (), || {
        if !text.is_null() {
            // SAFETY: allocated by CString::into_raw in this crate and not freed (contract).
            let mut bytes = unsafe { std::ffi::CString::from_raw(text) }.into_bytes_with_nul();
            bytes.zeroize();
        }
    })
}
