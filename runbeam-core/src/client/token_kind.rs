//! Token-kind classification (docs/spec.md §3.2).

use std::fmt;

/// The kind of a bearer token, as far as its text tells.
///
/// ```
/// use runbeam_core::client::{classify_token, TokenKind};
/// assert_eq!(classify_token("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"), TokenKind::Jwt);
/// assert_eq!(classify_token("1|rad-dev-7f3c9a2e"), TokenKind::Sanctum);
/// assert_eq!(classify_token("mt_4f2a9c"), TokenKind::Opaque);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Three non-empty base64url segments separated by dots (a user or mesh JWT).
    Jwt,
    /// A Laravel Sanctum API token: `<digits>|<secret>`.
    Sanctum,
    /// Anything else, e.g. a gateway machine token.
    Opaque,
}

impl TokenKind {
    /// The lower-case name used by the bindings: `"jwt"`, `"sanctum"` or `"opaque"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Jwt => "jwt",
            TokenKind::Sanctum => "sanctum",
            TokenKind::Opaque => "opaque",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a token string (docs/spec.md §3.2). Looks at the shape only; nothing is verified.
///
/// ```
/// use runbeam_core::client::{classify_token, TokenKind};
/// assert_eq!(classify_token("2|ai-dev-4b8e1d7c"), TokenKind::Sanctum);
/// assert_eq!(classify_token("|secret"), TokenKind::Opaque);
/// ```
pub fn classify_token(token: &str) -> TokenKind {
    let is_base64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() == 3 && segments.iter().all(|s| is_base64url(s)) {
        return TokenKind::Jwt;
    }
    if let Some((id, secret)) = token.split_once('|')
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !secret.is_empty()
    {
        return TokenKind::Sanctum;
    }
    TokenKind::Opaque
}
