//! Mesh resource resolution (docs/spec.md §6): [`Resolver`] turns a reference such as
//! `runbeam.radiology-dept.ingress.name.dicomweb` into where and how to connect, with a cache
//! in front of the Cloud, and obtains the mesh tokens that authenticate the request.
//!
//! ```
//! use std::sync::Arc;
//! use runbeam_core::{client::Client, config::MeshConfig, resolve::Resolver};
//! use runbeam_core::storage::{MemoryTokenStore, TokenManager};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> runbeam_core::Result<()> {
//! let config = MeshConfig::from_toml(r#"
//!     [provider.runbeam]
//!     api = "https://api.runbeam.io"
//!
//!     [pipelines.imaging.mesh.ingress.results]
//!     urls = ["https://results.ai.example.com"]
//!
//!     [mesh.imaging-integration]
//!     type = "http"
//!     provider = "runbeam"
//!     ingress = ["results"]
//!     egress = ["runbeam.radiology-dept.ingress.name.dicomweb"]
//! "#)?;
//! let cloud = Client::new("https://api.runbeam.io")?;
//! let manager = TokenManager::new("analytics-gw-1", Arc::new(MemoryTokenStore::new()), cloud.clone());
//! let resolver = Resolver::builder(config, cloud, Arc::new(manager)).build()?;
//! resolver.validate_startup()?;
//!
//! // Local references are answered from the configuration, without I/O.
//! let local = resolver.resolve("results").await?;
//! assert_eq!(local.resource().urls, ["https://results.ai.example.com"]);
//! // A reference outside every mesh is refused before any request.
//! let err = resolver.resolve("runbeam.acme.ingress.name.api").await.unwrap_err();
//! assert_eq!(err.kind(), runbeam_core::ErrorKind::NotInMesh);
//! # Ok(())
//! # }
//! ```

mod answer;
mod flight;
mod outbound;
mod resolver;
mod state;
mod watch;

pub use answer::{IssuedMeshToken, Resolution};
pub use outbound::Outbound;
pub use resolver::{
    DEFAULT_MAX_STALE, DEFAULT_MESH_TOKEN_CAPACITY, DEFAULT_MESH_TOKEN_MARGIN, Resolver,
    ResolverBuilder, ResolverStats, check_mesh_token_capacity,
};
pub use watch::{MAX_POLL_BACKOFF, WatchEvent, WatchEventKind, Watcher};
