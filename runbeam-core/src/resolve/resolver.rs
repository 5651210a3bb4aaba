//! [`Resolver`] and [`ResolverBuilder`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::answer::{IssuedMeshToken, Resolution};
use super::flight::{Entry, Keep, Slot};
use super::state::{MeshKeys, State};
use crate::Secret;
use crate::attempt::{Attempt, PendingFuture, cached_or};
use crate::client::{Client, ResolveResult};
use crate::config::MeshConfig;
use crate::config::problems_error;
use crate::error::{Error, ErrorKind, Result};
use crate::jwt::{Claims, Validator, ValidatorBuilder};
use crate::metrics::{ErrorCounts, KindCounters, Striped, ValidatorStats, bump};
use crate::reference::Reference;
use crate::storage::{CREDENTIAL_TIMEOUT, TokenManager};

/// Default age after which a cached answer is no longer served when the provider fails.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
/// A mesh token is reused until this long before its `exp`.
pub const DEFAULT_MESH_TOKEN_MARGIN: Duration = Duration::from_secs(30);
/// Mesh tokens remembered at most (one per mesh and destination URL).
pub const DEFAULT_MESH_TOKEN_CAPACITY: usize = 1024;

/// How long a machine token that is due for renewal (and could not be renewed) is used
/// before the token manager is asked again.
const MACHINE_TOKEN_RECHECK: Duration = Duration::from_secs(60);

type ResourceSlot = Slot<Arc<ResolveResult>>;
type MeshTokenSlot = Slot<Arc<IssuedMeshToken>>;

/// Counters of a resolver's work since it was built, for metrics and capacity planning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverStats {
    /// Resolutions answered from the cache while fresh.
    pub hits: u64,
    /// Resolutions that waited for an upstream answer (joined or started a fetch).
    pub misses: u64,
    /// Requests sent to a provider's resolve endpoint.
    pub upstream_requests: u64,
    /// Stale answers served because a provider failed.
    pub stale_served: u64,
    /// Local references answered from the configuration.
    pub local: u64,
    /// Mesh tokens requested from a provider or signed locally.
    pub mesh_token_requests: u64,
    /// Resolutions and mesh-token calls that failed, by kind (`NotInMesh`, `NotFound`,
    /// `Transport` with no stale answer, …).
    pub errors: ErrorCounts,
    /// References with a cached answer now (fresh or stale).
    pub cached_references: u64,
    /// Mesh tokens remembered now.
    pub cached_mesh_tokens: u64,
    /// The validators that verify mesh tokens (one per trust source of the configuration in
    /// use), summed.
    pub mesh_validation: ValidatorStats,
}

#[derive(Default)]
struct Counters {
    hits: Striped,
    misses: AtomicU64,
    upstream_requests: AtomicU64,
    stale_served: AtomicU64,
    local: AtomicU64,
    mesh_token_requests: AtomicU64,
    errors: KindCounters,
}

/// The machine token in use, so that a fetch does not read the token store every time.
struct MachineCache {
    token: Secret,
    expires_at: OffsetDateTime,
    recheck_at: Instant,
}

pub(crate) struct Inner {
    state: RwLock<Arc<State>>,
    resources: RwLock<HashMap<Box<str>, Arc<ResourceSlot>>>,
    mesh_tokens: RwLock<HashMap<String, Arc<MeshTokenSlot>>>,
    manager: Arc<TokenManager>,
    machine: Mutex<Option<MachineCache>>,
    /// Serialises reloads, so each one moves from the configuration it compared against.
    reloading: Mutex<()>,
    template: Client,
    validator: ValidatorBuilder,
    max_stale: Duration,
    mesh_token_margin: Duration,
    mesh_token_capacity: usize,
    counters: Counters,
}

/// Resolves mesh resource references (docs/spec.md §6) and obtains mesh tokens, with a cache in
/// front of the Cloud.
///
/// - Local references are answered from the configuration.
/// - Remote references are resolved only when an enabled mesh lists them (`NotInMesh`
///   otherwise) and only for configured providers (`UnknownProvider`).
/// - Answers are cached by canonical reference for the provider's `cache_ttl_secs`; however
///   many callers miss at once, one request goes upstream (single-flight), on its own task,
///   answering `Timeout` if it outlives twice the client's deadline plus the credential
///   timeout (a renewal may come first).
/// - `NotFound`, `PermissionDenied` and `Unauthorized` are returned and never cached (the first
///   two also forget the previous answer, so it is not served stale). When the provider fails (`Transport`, `Timeout`, `ServerError`, `RateLimited`, `Protocol`), the
///   last answer is served flagged [`Resolution::is_stale`] while younger than `max_stale`
///   (default 1 h); after that the error is returned.
/// - The cache holds only references listed in the configuration's meshes, so it is bounded
///   by the configuration; mesh tokens are bounded by a capacity (default 1024).
///
/// Cheap to clone; `Send + Sync`. Async methods need a Tokio runtime.
///
/// ```no_run
/// use std::sync::Arc;
/// use runbeam_core::{client::Client, config::MeshConfig, resolve::Resolver, storage::{self, TokenManager}};
/// # async fn run() -> runbeam_core::Result<()> {
/// let config = MeshConfig::from_file("gateway.toml")?;
/// let cloud = Client::new("https://api.runbeam.io")?;
/// let manager = TokenManager::new("analytics-gw-1", storage::open_default_token_store()?, cloud.clone());
/// let resolver = Resolver::builder(config, cloud, Arc::new(manager)).build()?;
/// resolver.validate_startup()?;
///
/// let dicom = resolver.resolve("runbeam.radiology-dept.ingress.name.dicomweb").await?;
/// let url = &dicom.resource().urls[0];
/// let token = resolver.mesh_token("imaging-integration", url).await?;
/// // send the request to `url` with `Authorization: Bearer <token.token.token>`
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("cached", &self.cached_references())
            .field("max_stale", &self.inner.max_stale)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Builds a [`Resolver`].
pub struct ResolverBuilder {
    config: MeshConfig,
    client: Client,
    manager: Arc<TokenManager>,
    validator: ValidatorBuilder,
    max_stale: Duration,
    mesh_token_margin: Duration,
    mesh_token_capacity: usize,
}

impl fmt::Debug for ResolverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolverBuilder")
            .field("client", &self.client)
            .field("max_stale", &self.max_stale)
            .field("mesh_token_margin", &self.mesh_token_margin)
            .finish_non_exhaustive()
    }
}

impl ResolverBuilder {
    /// Serve stale answers at most this old when a provider fails (default 1 h).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Renew a cached mesh token this long before its expiry (default 30 s).
    pub fn mesh_token_margin(mut self, margin: Duration) -> Self {
        self.mesh_token_margin = margin;
        self
    }

    /// Remember at most this many mesh tokens (default 1024). 0 is refused by
    /// [`ResolverBuilder::build`] (see [`check_mesh_token_capacity`]).
    pub fn mesh_token_capacity(mut self, capacity: usize) -> Self {
        self.mesh_token_capacity = capacity;
        self
    }

    /// The settings of the JWT validators that verify mesh tokens (leeway, CA bundle,
    /// JWKS timings, algorithms, …). Its trust decisions are not used: the trusted issuers,
    /// pinned JWKS URL and audiences are dropped, and the resolver trusts, for each mesh,
    /// its provider's API root and `jwks_url` with `aud = mesh:<id>`.
    pub fn validator(mut self, validator: ValidatorBuilder) -> Self {
        self.validator = validator.without_trust();
        self
    }

    /// Builds the resolver. The configuration is not validated here: call
    /// [`Resolver::validate_startup`] to refuse a configuration with problems.
    ///
    /// # Errors
    /// `InvalidArgument` for a mesh-token capacity of 0; `Config` when a provider's API URL
    /// or a mesh's `jwks_url` cannot be used.
    pub fn build(self) -> Result<Resolver> {
        check_mesh_token_capacity(self.mesh_token_capacity)?;
        let state = State::build(self.config, &self.client, &self.validator, None)?;
        Ok(Resolver {
            inner: Arc::new(Inner {
                state: RwLock::new(Arc::new(state)),
                resources: RwLock::new(HashMap::new()),
                mesh_tokens: RwLock::new(HashMap::new()),
                manager: self.manager,
                machine: Mutex::new(None),
                reloading: Mutex::new(()),
                template: self.client,
                validator: self.validator,
                max_stale: self.max_stale,
                mesh_token_margin: self.mesh_token_margin,
                mesh_token_capacity: self.mesh_token_capacity,
                counters: Counters::default(),
            }),
        })
    }
}

/// The rule for [`ResolverBuilder::mesh_token_capacity`], for bindings that check a setting
/// when it is given rather than when the resolver is built: at least 1.
///
/// ```
/// use runbeam_core::{resolve::check_mesh_token_capacity, ErrorKind};
/// assert!(check_mesh_token_capacity(1).is_ok());
/// assert_eq!(check_mesh_token_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
/// ```
///
/// # Errors
/// `InvalidArgument` for 0.
pub fn check_mesh_token_capacity(capacity: usize) -> Result<()> {
    if capacity == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "mesh_token_capacity must be at least 1",
        ));
    }
    Ok(())
}

/// Errors after which a stale answer may be served: the provider is unwell, the answer
/// itself is not in question.
fn serves_stale(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Transport
            | ErrorKind::Timeout
            | ErrorKind::ServerError
            | ErrorKind::RateLimited
            | ErrorKind::Protocol
    )
}

/// What a lookup without I/O found.
enum Step {
    Done(Result<Resolution>),
    Fetch(Reference, Arc<State>),
}

impl Resolver {
    /// A builder for a resolver of `config`'s references. `client` carries the HTTP settings
    /// (timeouts, retries, CA bundle, `allow_insecure_http`) used for every provider, each at
    /// its own `api` URL; `manager` supplies the gateway's machine token (one token for every
    /// provider). When the token must be renewed for a provider's request, the resolver renews
    /// it at that provider's `api` (not at the URL of the manager's own client), so a
    /// configuration pointed at another Cloud with [`crate::config::MeshConfig::with_provider_api`] takes
    /// authorization along.
    pub fn builder(
        config: MeshConfig,
        client: Client,
        manager: Arc<TokenManager>,
    ) -> ResolverBuilder {
        ResolverBuilder {
            config,
            client,
            manager,
            validator: Validator::builder(),
            max_stale: DEFAULT_MAX_STALE,
            mesh_token_margin: DEFAULT_MESH_TOKEN_MARGIN,
            mesh_token_capacity: DEFAULT_MESH_TOKEN_CAPACITY,
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> Arc<State> {
        Arc::clone(&self.inner.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The configuration in use.
    pub fn config(&self) -> MeshConfig {
        self.state().config.clone()
    }

    /// docs/spec.md §2.2 for the configuration in use: every problem at once, each with its TOML path.
    /// Nothing is fetched.
    ///
    /// # Errors
    /// `Config`, whose [`Error::problems`] list the problems.
    pub fn validate_startup(&self) -> Result<()> {
        let problems = self.state().config.validate();
        if problems.is_empty() {
            return Ok(());
        }
        Err(problems_error(
            ErrorKind::Config,
            "the mesh configuration is invalid",
            problems,
        ))
    }

    /// Resolves `reference` (docs/spec.md §6); see the type documentation for the rules.
    ///
    /// # Errors
    /// `InvalidReference`, `UnknownProvider`, `NotInMesh`, `NotFound` (also for a local name
    /// the configuration does not define), `PermissionDenied`, `Unauthorized`, the token
    /// manager's `NoToken`/`TokenExpired`, and — when no stale answer can be served —
    /// `Transport`, `Timeout`, `ServerError`, `RateLimited`, `Protocol`.
    pub async fn resolve(&self, reference: &str) -> Result<Resolution> {
        crate::panic::fault_point("resolve");
        loop {
            match self.lookup(reference) {
                Step::Done(answer) => return self.counted(answer),
                Step::Fetch(reference, state) => {
                    // `None`: a reload happened since the lookup; look up again under the new
                    // configuration (its mesh context may no longer allow the reference).
                    if let Some(slot) = self.resource_slot(reference.as_str(), &state) {
                        let answer = self.fetch(reference, &state, slot).await;
                        return self.counted(answer);
                    }
                }
            }
        }
    }

    /// [`Resolver::resolve`] without I/O: `Some` when the answer is known now (a fresh cached
    /// entry, a local reference, or an error such as `NotInMesh`), `None` when a request
    /// would be needed. Allocation-free on a cache hit with the canonical spelling.
    #[inline]
    pub fn resolve_cached(&self, reference: &str) -> Option<Result<Resolution>> {
        crate::panic::fault_point("resolve");
        match self.lookup(reference) {
            Step::Done(answer) => Some(self.counted(answer)),
            Step::Fetch(..) => None,
        }
    }

    /// [`Resolver::resolve`] as one step: [`Attempt::Ready`] when the answer is known without
    /// I/O (as [`Resolver::resolve_cached`]), [`Attempt::Pending`] with the request otherwise.
    /// Every binding's `resolve` is this step.
    #[inline]
    pub fn resolve_attempt(&self, reference: &str) -> Attempt<Resolution> {
        cached_or(self.resolve_cached(reference), || {
            self.resolve_later(reference)
        })
    }

    /// The request of [`Resolver::resolve_attempt`], made here rather than in the crate that
    /// inlines the cached path (the crate docs, "Compiled for size").
    #[inline(never)]
    fn resolve_later(&self, reference: &str) -> PendingFuture<Resolution> {
        let resolver = self.clone();
        let reference = reference.to_owned();
        Box::pin(async move { resolver.resolve(&reference).await })
    }

    #[inline]
    fn hit(&self, key: &str, now: Instant) -> Option<Resolution> {
        let resources = self
            .inner
            .resources
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let value = resources.get(key)?.fresh(now)?;
        self.inner.counters.hits.bump();
        Some(Resolution::new(value, false))
    }

    #[inline]
    fn lookup(&self, text: &str) -> Step {
        let now = Instant::now();
        // Only references in mesh context are ever cached (and reload drops those that leave
        // it), so a hit needs no further check.
        if let Some(hit) = self.hit(text, now) {
            return Step::Done(Ok(hit));
        }
        let reference = match Reference::parse(text) {
            Ok(r) => r,
            Err(e) => return Step::Done(Err(e)),
        };
        let state = self.state();
        if reference.is_local() {
            bump(&self.inner.counters.local);
            return Step::Done(state.local(&reference).map(|r| Resolution::new(r, false)));
        }
        if let Err(e) = state.config.check_mesh_context(&reference) {
            return Step::Done(Err(e));
        }
        if let Err(e) = state.provider(reference.provider()) {
            return Step::Done(Err(e));
        }
        if reference.as_str() != text
            && let Some(hit) = self.hit(reference.as_str(), now)
        {
            return Step::Done(Ok(hit));
        }
        Step::Fetch(reference, state)
    }

    /// Whether `state` is still the configuration in use. Called with a cache map locked:
    /// `reload` swaps the configuration with both maps locked, so a slot created here cannot
    /// escape the clean-up of a reload.
    fn is_current(&self, state: &Arc<State>) -> bool {
        Arc::ptr_eq(
            &self.inner.state.read().unwrap_or_else(|e| e.into_inner()),
            state,
        )
    }

    /// The cache slot of `key`, created if needed; `None` when the configuration changed
    /// since `state` was read.
    fn resource_slot(&self, key: &str, state: &Arc<State>) -> Option<Arc<ResourceSlot>> {
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if !self.is_current(state) {
            return None;
        }
        Some(Arc::clone(
            resources
                .entry(key.into())
                .or_insert_with(|| Arc::new(Slot::new())),
        ))
    }

    async fn fetch(
        &self,
        reference: Reference,
        state: &State,
        slot: Arc<ResourceSlot>,
    ) -> Result<Resolution> {
        bump(&self.inner.counters.misses);
        let provider = state.provider(reference.provider())?.clone();
        let inner = Arc::clone(&self.inner);
        let max_stale = self.inner.max_stale;
        let deadline = fetch_deadline(&provider.client);
        let answer = slot
            .fetch(deadline, async move {
                let client = match inner.machine_client(&provider.client).await {
                    Ok(c) => c,
                    Err(e) => return (Err(e), Keep::Unchanged),
                };
                bump(&inner.counters.upstream_requests);
                let answer = client.resolve(&reference).await;
                inner.after_call(&answer);
                match answer {
                    Ok(resolved) => {
                        let value = Arc::new(resolved);
                        let now = Instant::now();
                        let entry = Entry {
                            value: Arc::clone(&value),
                            fresh_until: later(now, provider.ttl),
                            usable_until: later(now, provider.ttl.max(max_stale)),
                        };
                        (Ok(value), Keep::Store(entry))
                    }
                    // The provider says the resource is gone or forbidden: the old answer
                    // must not be served stale after this.
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::NotFound | ErrorKind::PermissionDenied
                        ) =>
                    {
                        (Err(e), Keep::Clear)
                    }
                    Err(e) => (Err(e), Keep::Unchanged),
                }
            })
            .await;
        match answer {
            Ok(value) => Ok(Resolution::new(value, false)),
            Err(e) if serves_stale(e.kind()) => match slot.usable(Instant::now()) {
                Some(value) => {
                    bump(&self.inner.counters.stale_served);
                    tracing::warn!(
                        reference = %value.resource.name,
                        error = %e.message(),
                        "runbeam serving a stale resolution: the provider failed"
                    );
                    Ok(Resolution::new(value, true))
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// A mesh token to call `destination_url` through `mesh` (its configuration name or Cloud
    /// id): a cached one until `expires_at − 30 s`, else a new one from the provider —
    /// one request however many callers wait — verified (signature, issuer, `aud`,
    /// `mesh_id`, `dest_url`) before it is returned. A mesh whose provider is `local` signs
    /// the token itself with its configured key (no Cloud, no machine token; `sub` is
    /// `gateway:<the token manager's instance id>`), cached the same way.
    ///
    /// # Errors
    /// `NotInMesh` for a mesh that is not configured or not enabled, `InvalidArgument` for a
    /// destination that is not an http(s) URL, the provider's errors (`PermissionDenied` says
    /// which rule failed), and the validator's errors if the token does not verify; `Config`
    /// for a `local`-provider mesh without a private key or secret.
    pub async fn mesh_token(
        &self,
        mesh: &str,
        destination_url: &str,
    ) -> Result<Arc<IssuedMeshToken>> {
        let issued = self.issue_or_reuse(mesh, destination_url).await;
        self.counted(issued)
    }

    async fn issue_or_reuse(
        &self,
        mesh: &str,
        destination_url: &str,
    ) -> Result<Arc<IssuedMeshToken>> {
        check_destination(destination_url)?;
        loop {
            let state = self.state();
            let mesh = state.mesh(mesh)?;
            let key = format!("{}\n{destination_url}", mesh.name);
            // `None`: a reload happened since the configuration was read; read it again.
            let Some(slot) = self.mesh_token_slot(&key, &state) else {
                continue;
            };
            if let Some(token) = slot.fresh(Instant::now()) {
                return Ok(token);
            }
            // The provider's API and keys, or the keys of a `local`-provider mesh: either way
            // the token is issued once per key however many callers wait, and cached alike.
            let keys = state.mesh_keys(mesh)?;
            let (name, cloud_id) = (mesh.name.clone(), mesh.cloud_id().to_string());
            let destination = destination_url.to_string();
            let inner = Arc::clone(&self.inner);
            let deadline = fetch_deadline(match &keys {
                MeshKeys::Cloud { client, .. } => client,
                MeshKeys::Local(_) => &self.inner.template,
            });
            return slot
                .fetch(deadline, async move {
                    let answer = inner
                        .issue_mesh_token(&keys, name, &cloud_id, &destination)
                        .await;
                    match answer {
                        Ok((token, entry)) => (Ok(token), Keep::Store(entry)),
                        Err(e) => (Err(e), Keep::Unchanged),
                    }
                })
                .await;
        }
    }

    /// [`Resolver::mesh_token`] without I/O: `Some` with a fresh cached token or an error
    /// known now (an unknown mesh), `None` when the token must be issued first.
    #[inline]
    pub(crate) fn mesh_token_cached(
        &self,
        mesh: &str,
        destination_url: &str,
    ) -> Option<Result<Arc<IssuedMeshToken>>> {
        let state = self.state();
        let mesh = match state.mesh(mesh) {
            Ok(mesh) => mesh,
            Err(e) => return Some(self.counted(Err(e))),
        };
        let key = format!("{}\n{destination_url}", mesh.name);
        let slot = {
            let tokens = self
                .inner
                .mesh_tokens
                .read()
                .unwrap_or_else(|e| e.into_inner());
            Arc::clone(tokens.get(&key)?)
        };
        slot.fresh(Instant::now()).map(Ok)
    }

    fn mesh_token_slot(&self, key: &str, state: &Arc<State>) -> Option<Arc<MeshTokenSlot>> {
        let mut tokens = self
            .inner
            .mesh_tokens
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if !self.is_current(state) {
            return None;
        }
        if !tokens.contains_key(key) && tokens.len() >= self.inner.mesh_token_capacity {
            evict_mesh_tokens(&mut tokens, self.inner.mesh_token_capacity);
        }
        Some(Arc::clone(
            tokens
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Slot::new())),
        ))
    }

    /// The receiving side: verifies a mesh token presented to this gateway for `mesh` (its
    /// configuration name or Cloud id) — signature, trusted issuer (the mesh's provider),
    /// `aud = mesh:<id>`, `mesh_id`, expiry — and, when `destination_url` (the URL being
    /// served) is given, that it lies under the token's `dest_url`. A `local`-provider mesh
    /// verifies with its configured key and algorithm only (issuer `local:<mesh id>`), without
    /// I/O.
    ///
    /// # Errors
    /// `NotInMesh` for an unknown mesh; the validator's `JwtInvalid`, `JwtExpired`,
    /// `UntrustedIssuer`, or the key-fetch errors; `Config` for a `local`-provider mesh
    /// without a key.
    pub async fn verify_mesh_token(
        &self,
        token: &str,
        mesh: &str,
        destination_url: Option<&str>,
    ) -> Result<Arc<Claims>> {
        match self.mesh_validator(mesh)? {
            (MeshKeys::Local(local), _) => local.verify(token, destination_url),
            (MeshKeys::Cloud { validator, .. }, id) => {
                validator
                    .verify_mesh_token(token, &id, destination_url)
                    .await
            }
        }
    }

    /// [`Resolver::verify_mesh_token`] with cached keys only: `None` when keys must be
    /// fetched first.
    #[inline]
    pub fn verify_mesh_token_cached(
        &self,
        token: &str,
        mesh: &str,
        destination_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        match self.mesh_validator(mesh) {
            // A local mesh's key is in memory: never a fetch.
            Ok((MeshKeys::Local(local), _)) => Some(local.verify(token, destination_url)),
            Ok((MeshKeys::Cloud { validator, .. }, id)) => {
                validator.verify_mesh_token_cached(token, &id, destination_url)
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// [`Resolver::verify_mesh_token`] as one step (see [`Resolver::resolve_attempt`]).
    #[inline]
    pub fn verify_mesh_token_attempt(
        &self,
        token: &str,
        mesh: &str,
        destination_url: Option<&str>,
    ) -> Attempt<Arc<Claims>> {
        cached_or(
            self.verify_mesh_token_cached(token, mesh, destination_url),
            || self.verify_mesh_token_later(token, mesh, destination_url),
        )
    }

    /// The fetching check of [`Resolver::verify_mesh_token_attempt`], made here rather than in
    /// the crate that inlines the cached path (the crate docs, "Compiled for size").
    #[inline(never)]
    fn verify_mesh_token_later(
        &self,
        token: &str,
        mesh: &str,
        destination_url: Option<&str>,
    ) -> PendingFuture<Arc<Claims>> {
        let resolver = self.clone();
        let (token, mesh) = (zeroize::Zeroizing::new(token.to_owned()), mesh.to_owned());
        let destination_url = destination_url.map(str::to_owned);
        Box::pin(async move {
            resolver
                .verify_mesh_token(&token, &mesh, destination_url.as_deref())
                .await
        })
    }

    /// Whether [`Resolver::verify_mesh_token_cached`] would take a signature check (or keys
    /// to fetch) for `token` on `mesh`: `false` for a token the mesh's verifier remembers, or
    /// one refused before any check (an unknown mesh, a token too large). Nothing is verified;
    /// see [`Validator::needs_signature_check`].
    ///
    /// ```no_run
    /// # fn run(resolver: &runbeam_core::resolve::Resolver, token: &str) {
    /// if resolver.mesh_token_needs_signature_check(token, "acme-healthcare") {
    ///     // hand the check to a worker thread
    /// }
    /// # }
    /// ```
    #[inline]
    pub fn mesh_token_needs_signature_check(&self, token: &str, mesh: &str) -> bool {
        match self.mesh_validator(mesh) {
            Ok((MeshKeys::Local(local), _)) => local.needs_signature_check(token),
            Ok((MeshKeys::Cloud { validator, .. }, _)) => validator.needs_signature_check(token),
            Err(_) => false,
        }
    }

    /// [`Resolver::verify_mesh_token_cached`]'s answer when it needs no signature check, from
    /// one mesh look-up, one hash and one cache look-up: `Some` with the claims of a token the
    /// mesh's verifier remembers (time and mesh checks made again), or with a refusal known
    /// at once (an unknown mesh, a `local` mesh without a key, a token too large); `None`
    /// when answering takes a signature check or keys to fetch — nothing is verified or
    /// counted then: hand the token to [`Resolver::verify_mesh_token_attempt`] (on a worker
    /// thread, say). See [`Validator::validate_if_remembered`].
    ///
    /// ```no_run
    /// # fn run(resolver: &runbeam_core::resolve::Resolver, token: &str) {
    /// match resolver.verify_mesh_token_if_remembered(token, "acme-healthcare", None) {
    ///     Some(answer) => { /* answered on this thread */ let _ = answer; }
    ///     None => { /* a signature check: verify_mesh_token_attempt on a worker */ }
    /// }
    /// # }
    /// ```
    #[inline]
    pub fn verify_mesh_token_if_remembered(
        &self,
        token: &str,
        mesh: &str,
        destination_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        let state = self.state();
        let mesh = match state.mesh(mesh) {
            Ok(mesh) => mesh,
            Err(e) => return Some(Err(e)),
        };
        match state.mesh_keys(mesh) {
            Ok(MeshKeys::Local(local)) => local.verify_if_remembered(token, destination_url),
            Ok(MeshKeys::Cloud { validator, .. }) => {
                validator.verify_mesh_token_if_remembered(token, mesh.cloud_id(), destination_url)
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// [`Resolver::verify_mesh_token_if_remembered`] for the `Authorization` header value
    /// `authorization` of a request: `Some` with a refusal for a missing or malformed header
    /// (as [`Resolver::verify_mesh_request_cached`]), or the answer for a remembered mesh
    /// token; `None` when a signature check or keys are needed (then call
    /// [`Resolver::verify_mesh_request_attempt`]).
    ///
    /// ```no_run
    /// # fn run(resolver: &runbeam_core::resolve::Resolver) {
    /// assert!(resolver.verify_mesh_request_if_remembered(None, "acme-healthcare", None).is_some());
    /// # }
    /// ```
    pub fn verify_mesh_request_if_remembered(
        &self,
        authorization: Option<&str>,
        mesh: &str,
        served_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        match crate::edge::bearer_token(authorization) {
            Ok(token) => self.verify_mesh_token_if_remembered(token, mesh, served_url),
            Err(e) => Some(Err(e)),
        }
    }

    #[inline]
    fn mesh_validator(&self, mesh: &str) -> Result<(MeshKeys, String)> {
        let state = self.state();
        let mesh = state.mesh(mesh)?;
        Ok((state.mesh_keys(mesh)?, mesh.cloud_id().to_string()))
    }

    /// Forgets the cached answer for `reference` (any spelling); the next resolve asks the
    /// provider. Returns whether an entry was dropped.
    ///
    /// # Errors
    /// `InvalidReference`.
    pub fn invalidate(&self, reference: &str) -> Result<bool> {
        let reference = Reference::parse(reference)?;
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|e| e.into_inner());
        Ok(resources.remove(reference.as_str()).is_some())
    }

    /// Forgets every cached answer and mesh token.
    pub fn invalidate_all(&self) {
        self.inner
            .resources
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .mesh_tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Switches to `config` ("the cache is invalidated when configuration changes"): the new
    /// configuration is validated first and refused — the old one stays in use — if it has
    /// problems; cached answers of providers whose API URL or TTL changed, and of references
    /// no longer listed in an enabled mesh, are dropped, as are mesh tokens of meshes that
    /// changed. Requests in flight finish against the configuration they started with.
    ///
    /// # Errors
    /// `Config` with every problem of the new configuration.
    pub fn reload(&self, config: MeshConfig) -> Result<()> {
        self.reload_with(|_| Ok((config, ()))).map(|_| ())
    }

    /// Lets `patch` derive the next configuration from the one in use and installs it as
    /// [`Resolver::reload`] does, with no other reload in between (a change of the feed must
    /// not undo a reload made while it was computed). Returns what `patch` returned and what
    /// was dropped.
    pub(crate) fn reload_with<T>(
        &self,
        patch: impl FnOnce(&MeshConfig) -> Result<(MeshConfig, T)>,
    ) -> Result<(T, Dropped)> {
        let reloading = self
            .inner
            .reloading
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let old = self.state();
        let (config, value) = patch(&old.config)?;
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(problems_error(
                ErrorKind::Config,
                "the new mesh configuration was not applied",
                problems,
            ));
        }
        let next = Arc::new(State::build(
            config,
            &self.inner.template,
            &self.inner.validator,
            Some(&old),
        )?);
        // Both maps stay locked until the new configuration is in place: a slot is only
        // created under a map lock for the configuration in use (`is_current`).
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut tokens = self
            .inner
            .mesh_tokens
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let before = (resources.len(), tokens.len());
        resources.retain(|key, _| {
            Reference::parse(key).is_ok_and(|r| {
                old.provider_unchanged(r.provider(), &next) && next.config.in_mesh_context(&r)
            })
        });
        tokens.retain(|key, _| {
            let mesh = key.split('\n').next().unwrap_or_default();
            old.mesh_unchanged(mesh, &next)
        });
        let dropped = Dropped {
            references: before.0.saturating_sub(resources.len()),
            mesh_tokens: before.1.saturating_sub(tokens.len()),
        };
        *self.inner.state.write().unwrap_or_else(|e| e.into_inner()) = next;
        drop(tokens);
        drop(resources);
        // Logged with no lock held: a host's log handler may wait for a lock (Python's GIL)
        // whose holder is calling `reload` (the watcher reloads on a runtime thread).
        drop(reloading);
        tracing::info!("runbeam resolver configuration reloaded");
        Ok((value, dropped))
    }

    /// References with a cached answer that may still be served (fresh, or stale within
    /// `max_stale`); references being fetched for the first time or whose last answer was an
    /// error do not count.
    pub fn cached_references(&self) -> usize {
        let now = Instant::now();
        self.inner
            .resources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|slot| slot.usable(now).is_some())
            .count()
    }

    /// Mesh tokens remembered (at most the mesh-token capacity).
    pub fn cached_mesh_tokens(&self) -> usize {
        self.inner
            .mesh_tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Counters since the resolver was built.
    pub fn stats(&self) -> ResolverStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        ResolverStats {
            hits: c.hits.read(),
            misses: get(&c.misses),
            upstream_requests: get(&c.upstream_requests),
            stale_served: get(&c.stale_served),
            local: get(&c.local),
            mesh_token_requests: get(&c.mesh_token_requests),
            errors: c.errors.snapshot(),
            cached_references: count(self.cached_references()),
            cached_mesh_tokens: count(self.cached_mesh_tokens()),
            mesh_validation: self.state().validator_stats(),
        }
    }

    /// Counts a failed answer by kind.
    #[inline]
    pub(crate) fn counted<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.inner.counters.errors.record(e.kind());
        }
        result
    }
}

impl Inner {
    /// `client` with the gateway's machine token, from memory while it is not due for
    /// renewal, else from the token manager (which renews it when it can).
    async fn machine_client(&self, client: &Client) -> Result<Client> {
        {
            let cached = self.machine.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cached.as_ref()
                && Instant::now() < c.recheck_at
                && c.expires_at > OffsetDateTime::now_utc()
            {
                return Ok(client.with_token(c.token.clone()));
            }
        }
        // Renewals go where this provider's requests go (its `api`, perhaps overridden).
        let token = self.manager.ensure_token_via(client).await?;
        let window = self.manager.window();
        let recheck = if token.needs_renewal(window) {
            MACHINE_TOKEN_RECHECK
        } else {
            token
                .expires_in()
                .saturating_sub(window)
                .min(Duration::from_secs(3600))
        };
        let secret = token.machine_token.clone();
        *self.machine.lock().unwrap_or_else(|e| e.into_inner()) = Some(MachineCache {
            token: token.machine_token.clone(),
            expires_at: token.expires_at,
            recheck_at: Instant::now() + recheck,
        });
        Ok(client.with_token(secret))
    }

    /// After a provider call: a rejected machine token is forgotten, so that the next call
    /// reloads it (another process may have renewed it).
    fn after_call<T>(&self, answer: &Result<T>) {
        if answer
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Unauthorized)
        {
            self.machine
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
    }

    async fn issue_mesh_token(
        &self,
        keys: &MeshKeys,
        mesh: String,
        cloud_id: &str,
        destination: &str,
    ) -> Result<(Arc<IssuedMeshToken>, Entry<Arc<IssuedMeshToken>>)> {
        let (token, claims) = match keys {
            // Signed here: no Cloud, no machine token; `sub` names this gateway.
            MeshKeys::Local(local) => {
                bump(&self.counters.mesh_token_requests);
                local.issue(
                    &format!("gateway:{}", self.manager.instance_id()),
                    destination,
                )?
            }
            MeshKeys::Cloud { client, validator } => {
                let client = self.machine_client(client).await?;
                bump(&self.counters.mesh_token_requests);
                let answer = client.mesh_token(cloud_id, destination).await;
                self.after_call(&answer);
                let token = answer?;
                let claims = validator
                    .verify_mesh_token(token.token.expose(), cloud_id, Some(destination))
                    .await
                    .map_err(|e| {
                        Error::new(
                            e.kind(),
                            format!(
                                "the mesh token issued for mesh '{mesh}' does not verify: {}",
                                e.message()
                            ),
                        )
                    })?;
                (token, claims)
            }
        };
        let left = token.expires_at - OffsetDateTime::now_utc();
        let usable = Duration::try_from(left)
            .unwrap_or(Duration::ZERO)
            .saturating_sub(self.mesh_token_margin);
        let until = later(Instant::now(), usable);
        let issued = Arc::new(IssuedMeshToken {
            token,
            claims,
            mesh,
        });
        let entry = Entry {
            value: Arc::clone(&issued),
            fresh_until: until,
            usable_until: until,
        };
        Ok((issued, entry))
    }
}

/// How long one fetch may take, machine-token renewal included (a credential callback, an
/// authorize call, then the call itself); waiters get `Timeout` after it.
fn fetch_deadline(client: &Client) -> Duration {
    client
        .deadline()
        .saturating_mul(2)
        .saturating_add(CREDENTIAL_TIMEOUT)
}

/// `now + duration`, saturating far in the future instead of overflowing.
fn later(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration.min(CENTURY)).unwrap_or(now)
}

/// Makes room in a full mesh-token map: drops unusable entries, then the soonest to expire.
/// Fetches in flight are kept (dropping one would let the next caller start a second
/// request), so the map may exceed `capacity` by the number of fetches in flight.
fn evict_mesh_tokens(tokens: &mut HashMap<String, Arc<MeshTokenSlot>>, capacity: usize) {
    let now = Instant::now();
    tokens
        .retain(|_, slot| slot.in_flight() || slot.usable_until().is_some_and(|until| until > now));
    while tokens.len() >= capacity {
        let soonest = tokens
            .iter()
            .filter(|(_, slot)| !slot.in_flight())
            .min_by_key(|(_, slot)| slot.usable_until())
            .map(|(key, _)| key.clone());
        match soonest {
            Some(key) => tokens.remove(&key),
            None => break,
        };
    }
}

fn check_destination(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "destination URL '{}' is not a URL: {e}",
                crate::error::quote_input(url, 200)
            ),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "destination URL '{}' must be an http(s) URL with a host",
                crate::error::quote_input(url, 200)
            ),
        ));
    }
    Ok(())
}

/// What a reload or an invalidation dropped from a resolver's caches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Cached resolutions.
    pub(crate) references: usize,
    /// Cached mesh tokens.
    pub(crate) mesh_tokens: usize,
}

// Used by the change feed (`super::watch`).
impl Resolver {
    /// Forgets every cached resolution whose resolved resource has the id `resource_id` (a
    /// change of the feed said that resource changed), whatever reference resolved it.
    /// Returns how many were dropped.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use runbeam_core::{client::Client, config::MeshConfig, resolve::Resolver};
    /// # use runbeam_core::storage::{MemoryTokenStore, TokenManager};
    /// # let cloud = Client::new("https://api.runbeam.io")?;
    /// # let manager = TokenManager::new("gw", Arc::new(MemoryTokenStore::new()), cloud.clone());
    /// let resolver = Resolver::builder(MeshConfig::from_toml("")?, cloud, Arc::new(manager)).build()?;
    /// assert_eq!(resolver.invalidate_resource("01JDW0INGRESS"), 0);
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn invalidate_resource(&self, resource_id: &str) -> usize {
        let now = Instant::now();
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let before = resources.len();
        resources.retain(|_, slot| {
            slot.usable(now)
                .is_none_or(|answer| answer.resource.id != resource_id)
        });
        before - resources.len()
    }

    /// Forgets the cached mesh tokens of mesh `mesh` (its configuration name): a change of
    /// the feed said the mesh changed, so the Cloud may no longer issue them. Returns how
    /// many were dropped.
    pub(crate) fn invalidate_mesh_tokens(&self, mesh: &str) -> usize {
        let mut tokens = self
            .inner
            .mesh_tokens
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let before = tokens.len();
        tokens.retain(|key, _| key.split('\n').next() != Some(mesh));
        before - tokens.len()
    }

    /// Provider `provider`'s client with the gateway's machine token (renewed at that
    /// provider's `api` when due).
    pub(crate) async fn provider_machine_client(&self, provider: &str) -> Result<Client> {
        let client = self.state().provider(provider)?.client.clone();
        self.inner.machine_client(&client).await
    }

    /// After a call made with [`Resolver::provider_machine_client`]'s client: a rejected
    /// machine token is forgotten, so that the next call loads it again.
    pub(crate) fn after_machine_call<T>(&self, answer: &Result<T>) {
        self.inner.after_call(answer);
    }
}

#[cfg(test)]
mod lock_tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::storage::MemoryTokenStore;

    /// The reload record is logged with no lock of the resolver held: a host's log handler
    /// that waits for a lock (Python's GIL) whose holder is calling `reload` must not deadlock.
    #[test]
    fn the_reload_record_is_logged_without_the_reload_lock() {
        let cloud = Client::new("https://api.runbeam.io").unwrap();
        let manager = TokenManager::new("gw", Arc::new(MemoryTokenStore::new()), cloud.clone());
        let config =
            MeshConfig::from_toml("[mesh.m]\ntype = \"http\"\nprovider = \"local\"\n").unwrap();
        let resolver = Resolver::builder(config.clone(), cloud, Arc::new(manager))
            .build()
            .unwrap();
        let (seen, free) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(true)),
        );
        let _records = {
            let (resolver, seen, free) = (resolver.clone(), Arc::clone(&seen), Arc::clone(&free));
            crate::log::on_records(move |message| {
                if message == "runbeam resolver configuration reloaded" {
                    seen.store(true, Ordering::SeqCst);
                    let inner = &resolver.inner;
                    if inner.reloading.try_lock().is_err()
                        || inner.resources.try_write().is_err()
                        || inner.mesh_tokens.try_write().is_err()
                        || inner.state.try_write().is_err()
                    {
                        free.store(false, Ordering::SeqCst);
                    }
                }
            })
        };
        resolver.reload(config).unwrap();
        assert!(seen.load(Ordering::SeqCst), "the reload was logged");
        assert!(
            free.load(Ordering::SeqCst),
            "logged while holding a resolver lock"
        );
    }
}
