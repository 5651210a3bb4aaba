//! # runbeam-core
//!
//! The Rust core of librunbeam, the Runbeam SDK for gateways. Everything the C, Python and
//! Node bindings expose is implemented here once:
//!
//! - [`Reference`]: mesh resource references (`runbeam.acme.ingress.name.fhir-api`);
//! - [`config::MeshConfig`]: the mesh part of a gateway configuration, with startup
//!   validation and mesh-context checks;
//! - [`client::Client`]: the Runbeam Cloud API client (docs/spec.md §3), async, with retries;
//! - [`jwt::Validator`]: Runbeam JWT validation (docs/spec.md §4), user JWTs and mesh tokens;
//! - [`resolve::Resolver`]: reference resolution with a cache, and mesh tokens (docs/spec.md §6);
//! - [`storage`]: token storage (OS keyring, age-encrypted files) and typed tokens (docs/spec.md §5);
//! - [`log`]: the records a binding hands to its host's logging; [`metrics`]: the counters
//!   of resolvers, validators and token managers, and their Prometheus text;
//! - [`Error`] / [`ErrorKind`]: the one error taxonomy of every surface.
//!
//! ```
//! use runbeam_core::{config::MeshConfig, Reference};
//!
//! let config = MeshConfig::from_toml(r#"
//!     [provider.runbeam]
//!     api = "https://api.runbeam.io"
//!
//!     [mesh.imaging-integration]
//!     type = "http3"
//!     provider = "runbeam"
//!     egress = ["runbeam.radiology-dept.ingress.name.dicomweb"]
//! "#)?;
//! assert!(config.validate().is_empty());
//! let dicom = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb")?;
//! assert!(config.in_mesh_context(&dicom));
//! # Ok::<(), runbeam_core::Error>(())
//! ```
//!
//! # Compiled for size
//!
//! Release builds compile this crate at opt-level "z" (the workspace's
//! `[profile.release.package.*]`): most of it — the Cloud API client, storage, configuration,
//! the change feeds — is set-up or network-bound work where size counts and speed does not. The
//! request paths are the exception, and they are `#[inline]`: an `#[inline]` function is
//! compiled in the crate that calls it, at that crate's level (3 for the C ABI, the Python
//! module and the Node addon). Marking a function `#[inline]` here therefore decides where it is
//! compiled. The request paths are reference parsing ([`Reference::parse`]), a token checked
//! with cached keys ([`jwt::Validator::validate_cached`] and what it calls: the compact
//! decoding, base64url, the claims scanner, the verified-token cache, the key lookup) and a
//! resolver cache hit ([`resolve::Resolver::resolve_cached`]). What such a function starts but
//! does not answer at once (a fetch) is made by an `#[inline(never)]` function
//! (`validate_later`, `resolve_later`, …), so that fat LTO cannot pull it back in, and error
//! constructors stay out: inlining them into the reference parser made it slower.
//! BENCHMARKS.md "Footprint" has the sizes and the speeds, measured side by side with the crate
//! at 3.
#![deny(missing_docs)]
// Untrusted text is never sliced at byte offsets (a multi-byte character there panics): use
// `str::get`, `split_once`, `strip_prefix` or compare bytes.
#![warn(clippy::string_slice)]

pub mod attempt;
pub mod client;
pub mod config;
pub mod edge;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod jwt;
pub mod log;
pub mod metrics;
pub mod panic;
pub mod reference;
pub mod resolve;
pub mod secret;
pub mod storage;

pub use client::{Client, ClientBuilder, TokenKind, classify_token};
pub use error::{Error, ErrorCategory, ErrorKind, Problem, Result};
pub use reference::{Lookup, Reference, ResourceType};
pub use secret::Secret;

/// The version of librunbeam (all packages share it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
