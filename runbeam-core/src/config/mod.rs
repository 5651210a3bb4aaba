//! Mesh configuration (docs/spec.md §2): the mesh part of a Harmony-style gateway configuration.
//!
//! Two steps, so that a gateway can refuse to start with every problem listed at once:
//!
//! 1. **Load** ([`MeshConfig::from_toml`], [`MeshConfig::from_file`],
//!    [`MeshConfig::from_documents`]) parses TOML into the typed model. It fails with an
//!    [`ErrorKind::Config`] error whose [`Error::problems`] list every TOML syntax error, unknown
//!    key, wrong value type, out-of-range number and missing required key, each with its path.
//!    Tables outside the mesh part (`[proxy]`, `[network.*]`, a pipeline's endpoints, …) are
//!    ignored, so a whole gateway configuration can be passed in.
//! 2. **Validate** ([`MeshConfig::validate`]) checks meaning: references parse, providers exist,
//!    local references name defined ingresses/egresses, ids, names and URLs are well formed.
//!
//! Remote resources are never fetched here.
//!
//! ```
//! use runbeam_core::config::MeshConfig;
//!
//! let config = MeshConfig::from_toml(r#"
//!     [mesh.partner-integration]
//!     type = "http3"
//!     provider = "runbeam"
//!     ingress = ["my-local-ingress", "runbeam.partner-team.ingress.name.their-api"]
//! "#)?;
//! let problems = config.validate();
//! assert!(problems.iter().any(|p| p.message().starts_with("Unknown provider 'runbeam'")));
//! # Ok::<(), runbeam_core::Error>(())
//! ```

mod load;
mod model;
mod patch;
mod validate;

pub use load::{ConfigDocument, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH};
pub(crate) use model::problems_error;
pub use model::{
    AuthType, Direction, Egress, Ingress, Mesh, MeshConfig, MeshMember, Mode, Protocol, Provider,
};
pub(crate) use patch::parse_mesh_toml;

#[cfg(doc)]
use crate::{Error, ErrorKind};
