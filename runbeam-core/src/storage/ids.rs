//! Instance ids and token types: `^[A-Za-z0-9_.-]{1,128}$`, not `.` or `..` (docs/spec.md §5.2), so
//! they can never escape the storage root or collide across instances.

use crate::error::{Error, ErrorKind, quote_input};

/// Checks an instance id or token type; `what` names it in the error.
///
/// ```
/// use runbeam_core::storage::check_id;
/// assert!(check_id("instance id", "radiology-gw-1").is_ok());
/// assert!(check_id("instance id", "../etc").is_err());
/// assert!(check_id("token type", "..").is_err());
/// ```
pub fn check_id(what: &str, id: &str) -> Result<(), Error> {
    let valid = (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "invalid {what} '{}': use 1 to 128 of A-Z a-z 0-9 _ . - (not '.' or '..')",
            quote_input(id, 60)
        ),
    ))
}
