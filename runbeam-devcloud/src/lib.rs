//! `runbeam-devcloud`: a local Runbeam Cloud (SPEC §7).
//!
//! A real HTTP server implementing the Runbeam Cloud API of SPEC §3 under `<url>/api` —
//! gateway authorization with opaque machine tokens, reference resolution, mesh tokens
//! signed RS256 with keys published as a JWKS, the change feed and the resource
//! collections — plus development endpoints under `<url>/_dev` (loopback only) to mint
//! user JWTs, rotate the signing key, shorten machine-token lifetimes, inject faults and
//! count requests. It runs in-process from Rust tests ([`DevCloud::start`]) or as the
//! `runbeam-devcloud` binary for tests in other languages.
//!
//! ```no_run
//! use runbeam_devcloud::{DevCloud, Seed};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let cloud = DevCloud::start(Seed::example()).await?;
//! println!("API root: {}", cloud.api_root()); // http://127.0.0.1:PORT/api
//! cloud.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod contract;
mod dev;
mod http;
mod keys;
mod model;
mod seed;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use dev::is_dev_peer_allowed;
pub use seed::{Seed, SeedError};

/// A running devcloud. Dropping it aborts the server task; [`shutdown`](Self::shutdown)
/// stops it gracefully.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let cloud = runbeam_devcloud::DevCloud::start(runbeam_devcloud::Seed::example()).await?;
/// let jwks_url = format!("{}/.well-known/jwks.json", cloud.api_root());
/// # let _ = jwks_url;
/// cloud.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct DevCloud {
    url: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DevCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCloud").field("url", &self.url).finish()
    }
}

impl DevCloud {
    /// Starts a devcloud on `127.0.0.1` with a free port.
    ///
    /// # Errors
    /// When the socket cannot be bound or the signing key cannot be generated.
    pub async fn start(seed: Seed) -> std::io::Result<DevCloud> {
        DevCloud::start_on(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0), seed).await
    }

    /// Starts a devcloud listening on `addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// When the socket cannot be bound or the signing key cannot be generated.
    pub async fn start_on(addr: SocketAddr, seed: Seed) -> std::io::Result<DevCloud> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut local = listener.local_addr()?;
        if local.ip().is_unspecified() {
            // Listening everywhere: advertise the loopback address, which reaches it.
            local.set_ip(match local.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let url = format!("http://{local}");
        let keys = tokio::task::spawn_blocking(keys::KeyRing::new)
            .await
            .map_err(std::io::Error::other)??;
        let state = Arc::new(http::Shared {
            api_root: format!("{url}/api"),
            store: Mutex::new(model::Store::from_seed(seed)),
            keys: RwLock::new(keys),
            dev: Mutex::new(dev::DevState::default()),
        });
        let router = server::router(Arc::clone(&state));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, state, router, shutdown_rx));
        tracing::info!(%url, "runbeam-devcloud listening");
        Ok(DevCloud {
            url,
            shutdown,
            task: Some(task),
        })
    }

    /// The server URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API root, `<url>/api` — what a gateway configures as `[provider.runbeam] api`.
    pub fn api_root(&self) -> String {
        format!("{}/api", self.url)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 3 s), then stops.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DevCloud {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Loads a seed from `path`, or the example seed when `path` is `None`.
///
/// # Errors
/// See [`Seed::from_file`].
pub fn load_seed(path: Option<&Path>) -> Result<Seed, SeedError> {
    match path {
        Some(p) => Seed::from_file(p),
        None => Ok(Seed::example()),
    }
}
