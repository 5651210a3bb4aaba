//! Runbeam JWT validation (docs/spec.md §4): user JWTs and mesh tokens, secure by default and fast on
//! a gateway's hot path.
//!
//! - Trust is explicit: [`ValidatorBuilder::trusted_issuer`] (exact match after
//!   [`normalize_issuer`], never a prefix) and/or [`ValidatorBuilder::jwks_url`]. A token of
//!   an untrusted issuer is refused before any network request; keys are never fetched from
//!   a URL a token names (`jku`, `x5u` are ignored).
//! - Algorithms: RS256 by default, an allow-list of [`Algorithm`]; `none` and HMAC never.
//! - Keys: one cache per JWKS URL, fetched on first use, refreshed after the TTL or for an
//!   unknown `kid` at most once per minimum interval (single-flight), last good keys kept
//!   while refreshes fail, up to `max_stale`.
//! - Claims: `exp` required, `nbf`, `iat`, leeway, audiences, required claims; typed
//!   [`Claims`] plus every claim as JSON.
//! - A repeated token is answered from a bounded cache keyed by its SHA-256 (of the signed
//!   part, the one the signature check uses, plus the exact signature), time claims
//!   re-checked on every hit, flushed when the key set changes.
//!
//! ```no_run
//! use runbeam_core::jwt::{parse_bearer, Validator};
//! # async fn run(authorization: &str) -> runbeam_core::Result<()> {
//! let validator = Validator::builder()
//!     .trusted_issuer("https://api.runbeam.io/api")
//!     .build()?;
//! validator.refresh_keys().await?; // at start-up
//! let token = parse_bearer(authorization)?;
//! let claims = match validator.validate_cached(token) {
//!     Some(result) => result?,                  // keys cached: no I/O
//!     None => validator.validate(token).await?, // first use or a new kid
//! };
//! println!("{:?} {:?}", claims.sub, claims.team);
//! # Ok(())
//! # }
//! ```

pub(crate) mod algorithm;
pub(crate) mod base64url;
mod bearer;
mod builder;
mod cache;
mod claims;
pub(crate) mod claims_scan;
mod compact;
mod issuer;
mod jwks;
pub(crate) mod keys;
pub(crate) mod local;
mod mesh;
mod validator;

pub use algorithm::Algorithm;
pub use bearer::parse_bearer;
pub use builder::{
    DEFAULT_CACHE_CAPACITY, DEFAULT_JWKS_DEADLINE, DEFAULT_JWKS_TTL, DEFAULT_LEEWAY,
    DEFAULT_MAX_STALE, DEFAULT_MIN_REFRESH_INTERVAL, MAX_JWKS_BYTES, ValidatorBuilder,
};
pub use claims::{Audience, Claims, TokenTeam, TokenUser, api_base_url_of};
pub use compact::{MAX_TOKEN_BYTES, check_token_size};
pub use issuer::normalize_issuer;
pub use keys::MAX_KEYS_PER_SET;
pub use local::{LOCAL_MESH_TOKEN_LIFETIME_SECS, MIN_HS256_SECRET_BYTES, local_mesh_issuer};
pub use mesh::url_within;
pub use validator::Validator;
