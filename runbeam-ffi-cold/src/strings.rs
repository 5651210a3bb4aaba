//! Strings allocated by librunbeam and handed to C, and the buffers of secret-carrying text.
//!
//! Text that may hold a secret (tokens, the JSON results of the client that carry them) is
//! built in buffers of exactly the right size, so that no reallocation leaves a copy behind,
//! and is zeroized when released: by `runbeam_string_free()` for `char *` results, by the
//! handle's `_free` for borrowed ones, right after the callback for callback arguments. This
//! covers librunbeam's own copies only: the buffers of the HTTP and TLS stacks (hyper,
//! rustls) and serde_json's scratch buffers that a response passed through are outside its
//! control and are not zeroized.

use std::ffi::{CString, c_char};
use std::io::Write;

use runbeam_core::{Error, ErrorKind};
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

use crate::error::to_cstring;
use crate::guard::guard_value;

/// A newly allocated C string the caller releases with `runbeam_string_free()`.
#[inline]
pub fn into_c_string(text: &str) -> *mut c_char {
    to_cstring(text).into_raw()
}

/// `text` NUL-terminated, in one allocation of exactly its size (no reallocation copies),
/// zeroized on drop. Interior NUL bytes (never in tokens or JSON) are written as the two
/// characters `\0`, directly into that buffer: no other copy of `text` is made.
#[inline]
pub fn secret_c_bytes(text: &[u8]) -> Zeroizing<Vec<u8>> {
    let nuls = text.iter().filter(|&&b| b == 0).count();
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() + nuls + 1));
    for (i, part) in text.split(|&b| b == 0).enumerate() {
        if i > 0 {
            bytes.extend_from_slice(b"\\0");
        }
        bytes.extend_from_slice(part);
    }
    bytes.push(0);
    bytes
}

/// The JSON text of `value`, NUL-terminated, in one exactly sized buffer zeroized on drop
/// (results may hold tokens). Serialises twice: once to measure, once to write.
pub(crate) fn secret_json(value: &Value) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut measure = Measure(0);
    serde_json::to_writer(&mut measure, value).map_err(json_error)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(measure.0 + 1));
    serde_json::to_writer(&mut *bytes, value).map_err(json_error)?;
    bytes.push(0);
    debug_assert_eq!(bytes.len(), measure.0 + 1, "JSON text of one value, twice");
    Ok(bytes)
}

fn json_error(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("cannot write JSON: {e}"))
}

/// Counts the bytes written to it.
struct Measure(usize);

impl Write for Measure {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hands NUL-terminated `bytes` (from [`secret_c_bytes`] or [`secret_json`]) to C as a `char *`
/// for `runbeam_string_free()`, which zeroizes it. The buffer moves without a copy.
pub(crate) fn into_secret_c_string(mut bytes: Zeroizing<Vec<u8>>) -> *mut c_char {
    let mut vec = std::mem::take(&mut *bytes);
    // `into_boxed_slice` inside CString would reallocate (and leave a copy) if the capacity
    // were larger than the text: make it exact first.
    if vec.capacity() != vec.len() {
        let mut exact = Vec::with_capacity(vec.len());
        exact.extend_from_slice(&vec);
        vec.zeroize();
        vec = exact;
    }
    match CString::from_vec_with_nul(vec) {
        Ok(text) => text.into_raw(),
        Err(e) => {
            // Not NUL-terminated or an interior NUL: impossible for our builders.
            e.into_bytes().zeroize();
            std::ptr::null_mut()
        }
    }
}

/// Overwrites every string of `value` with zeros (JSON results built from secrets).
pub(crate) fn wipe_json(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(map) => map.values_mut().for_each(wipe_json),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Releases a string returned by librunbeam (`runbeam_reference_to_string()`, the JSON
/// results of the client, …). Its bytes are overwritten with zeros first, so this string,
/// when it held tokens (the authorize and mesh-token results), leaves no copy behind. That
/// is librunbeam's own copy only: the HTTP/TLS stacks' buffers (hyper, rustls) and
/// serde_json's scratch buffers the response passed through are outside its control and are
/// not zeroized. NULL is a no-op.
///
/// # Safety
/// `text` is NULL or a string returned by librunbeam that was not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_string_free(text: *mut c_char) {
    guard_value("runbeam_string_free", (), || {
        if !text.is_null() {
            // SAFETY: allocated by CString::into_raw in librunbeam and not freed (contract).
            let mut bytes = unsafe { CString::from_raw(text) }.into_bytes_with_nul();
            bytes.zeroize();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_buffers_are_exact_and_nul_terminated() {
        let bytes = secret_c_bytes(b"mt_secret");
        assert_eq!(&bytes[..], b"mt_secret\0");
        assert_eq!(bytes.capacity(), bytes.len());
        let value = serde_json::json!({"machine_token": "mt_1", "n": [1, "x"]});
        let json = secret_json(&value).unwrap();
        assert_eq!(json.capacity(), json.len());
        assert_eq!(&json[..json.len() - 1], value.to_string().as_bytes());
    }

    #[test]
    fn a_secret_with_interior_nuls_is_escaped_in_one_exact_buffer() {
        let bytes = secret_c_bytes(b"\0mt\0\0secret\0");
        assert_eq!(&bytes[..], b"\\0mt\\0\\0secret\\0\0");
        assert_eq!(bytes.capacity(), bytes.len());
        // A valid C string: its only NUL is the terminator.
        let text = into_secret_c_string(bytes);
        assert!(!text.is_null());
        // SAFETY: just created, NUL-terminated.
        let c = unsafe { std::ffi::CStr::from_ptr(text) };
        assert_eq!(c.to_bytes(), b"\\0mt\\0\\0secret\\0");
        // SAFETY: created by this crate, freed once.
        unsafe { runbeam_string_free(text) };
    }

    #[test]
    fn a_secret_c_string_round_trips_through_string_free() {
        let text = into_secret_c_string(secret_c_bytes(b"tok"));
        // SAFETY: just created, NUL-terminated.
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes(), b"tok");
        // SAFETY: created by this crate, freed once.
        unsafe { runbeam_string_free(text) };
    }

    #[test]
    fn wiping_json_clears_every_string() {
        let mut value = serde_json::json!({"a": "secret", "b": [{"c": "more"}], "d": 1});
        wipe_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"a": "", "b": [{"c": ""}], "d": 1})
        );
    }
}
