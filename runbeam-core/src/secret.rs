//! A string that must never be shown: redacted in `Debug`/`Display`, zeroized on drop.

use std::fmt;
use zeroize::Zeroizing;

/// A secret string (a JWT secret, a token). Its `Debug` and `Display` print `***`; its memory
/// is overwritten with zeros when dropped.
///
/// ```
/// use runbeam_core::Secret;
/// let s = Secret::new("hunter2".to_string());
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret itself; keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
