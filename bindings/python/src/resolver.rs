//! `runbeam.Resolver` and `runbeam.AsyncResolver`: the core's mesh resource resolver (docs/spec.md §6),
//! with `runbeam.Resolution`, `runbeam.IssuedMeshToken` and `runbeam.ResolverStats`.
//!
//! Both classes wrap one [`runbeam_core::resolve::Resolver`]; every rule (mesh context, cache
//! and TTL, single-flight, stale answers, mesh-token reuse and verification) is the core's.
//! `resolve` and `verify_mesh_token` are the core's cached-then-fetch steps
//! ([`Resolver::resolve_attempt`], [`Resolver::verify_mesh_token_attempt`]): a fresh cached
//! answer, a local reference or an error such as `NotInMesh` is answered on the calling thread
//! with the GIL held; only a request runs on the module's runtime ([`crate::runtime`]). A
//! mesh-token check (`verify_mesh_token`, `verify_mesh_request`) is routed like a
//! `Validator`'s ([`crate::offload`]): a token verified before is answered with the GIL held, a
//! signature check runs with it released (`Resolver`) or on the runtime (`AsyncResolver`).
//! `mesh_token` has no cached path in the core, so its future is polled once on the spot
//! ([`attempt_now`]): a cached token completes there.
//!
//! A resolver used in a forked child rebuilds its core resolver (from the configuration in
//! use, and the client and token manager it was given, which rebuild themselves) — with an
//! empty cache, as the parent's belongs to the parent's runtime.
//!
//! Mesh tokens are secrets: `IssuedMeshToken.__repr__` redacts the token and nothing here logs
//! it.

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use runbeam_core::Secret;
use runbeam_core::config::MeshConfig;
use runbeam_core::jwt::ValidatorBuilder;
use runbeam_core::resolve::{
    DEFAULT_MAX_STALE, DEFAULT_MESH_TOKEN_CAPACITY, DEFAULT_MESH_TOKEN_MARGIN, IssuedMeshToken,
    Resolution, Resolver, ResolverStats, check_mesh_token_capacity,
};

use crate::client::{PyResolvedResource, core_client, resolved_resource};
use crate::config::PyMeshConfig;
use crate::convert::{datetime, non_negative, to_json};
use crate::edge::outbound;
use crate::errors::OrRaise;
use crate::fork::ForkSafe;
use crate::guard::guarded;
use crate::jwt::{claims, validator_settings};
use crate::offload::{immediate, route};
use crate::pair::class_pair;
use crate::reference::{PyReference, text_arg};
use crate::runtime::attempt_now;
use crate::stats::PyResolverStats;
use crate::storage::core_manager;
use crate::watch::PyWatcher;

// ---------------------------------------------------------------------------------------------
// Arguments.

/// The text of a reference argument: a `str` (borrowed, not copied) or a `Reference`'s
/// canonical form.
enum RefText {
    Str(PyBackedStr),
    Reference(String),
}

impl Deref for RefText {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            RefText::Str(s) => s,
            RefText::Reference(s) => s,
        }
    }
}

fn reference_text(obj: &Bound<'_, PyAny>) -> PyResult<RefText> {
    if obj.is_instance_of::<PyString>() {
        return Ok(RefText::Str(text_arg(obj, "reference")?));
    }
    if let Ok(reference) = obj.cast::<PyReference>() {
        return Ok(RefText::Reference(reference.get().0.as_str().to_string()));
    }
    Err(PyTypeError::new_err(format!(
        "reference must be a str or a runbeam.Reference, not {}",
        obj.get_type().name()?
    )))
}

// ---------------------------------------------------------------------------------------------
// Results.

/// The answer of `Resolver.resolve`: the resource, where it came from, and whether it is a
/// stale answer served while the provider failed. Python objects are made when read.
#[pyclass(frozen, module = "runbeam", name = "Resolution")]
pub struct PyResolution {
    resolution: Resolution,
    resource: PyOnceLock<Py<PyResolvedResource>>,
}

impl PyResolution {
    fn new(resolution: Resolution) -> Self {
        PyResolution {
            resolution,
            resource: PyOnceLock::new(),
        }
    }

    fn resource_object(&self, py: Python<'_>) -> PyResult<&Py<PyResolvedResource>> {
        self.resource.get_or_try_init(py, || {
            resolved_resource(py, self.resolution.resource().clone())
        })
    }
}

guarded! {
    "Resolution";
    #[pymethods]
    impl PyResolution {
        /// The resource (`urls`, `protocol`, `mode`, ids, …): the same class `Client.resolve`
        /// returns.
        #[getter]
        fn resource(&self, py: Python<'_>) -> PyResult<Py<PyResolvedResource>> {
            Ok(self.resource_object(py)?.clone_ref(py))
        }

        /// The provider that answered (`"local"` for local references).
        #[getter]
        fn provider(&self) -> &str {
            self.resolution.provider()
        }

        /// When the provider answered (for local references: when the configuration was loaded).
        #[getter]
        fn resolved_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            datetime(py, self.resolution.resolved_at())
        }

        /// Whether this is a cached answer past its TTL, served because the provider failed
        /// (transport error, timeout, 5xx, 429, malformed answer) and younger than `max_stale`.
        #[getter]
        fn is_stale(&self) -> bool {
            self.resolution.is_stale()
        }

        /// Whether the reference was local, answered from the configuration.
        #[getter]
        fn is_local(&self) -> bool {
            self.resolution.is_local()
        }

        /// The wire form: `{"data": {...}, "meta": {"provider", "resolved_at", "stale"}}`.
        fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            to_json(py, &self.resolution)
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Resolution(provider={:?}, is_stale={}, resource={})",
                self.resolution.provider(),
                if self.resolution.is_stale() {
                    "True"
                } else {
                    "False"
                },
                self.resource_object(py)?.bind(py).repr()?
            ))
        }
    }
}

fn resolution(py: Python<'_>, r: Resolution) -> PyResult<Py<PyAny>> {
    PyResolution::new(r).into_py_any(py)
}

/// A verified mesh token from `Resolver.mesh_token`: send `token` as `Authorization: Bearer`
/// to the destination. `repr()` and `str()` never show the token.
#[pyclass(frozen, module = "runbeam", name = "IssuedMeshToken")]
pub struct PyIssuedMeshToken {
    issued: Arc<IssuedMeshToken>,
}

guarded! {
    "IssuedMeshToken";
    #[pymethods]
    impl PyIssuedMeshToken {
        /// The token (an RS256 JWT).
        #[getter]
        fn token(&self) -> &str {
            self.issued.token.token.expose()
        }

        /// When it expires (aware, UTC).
        #[getter]
        fn expires_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            datetime(py, self.issued.token.expires_at)
        }

        /// The mesh's Cloud id.
        #[getter]
        fn mesh_id(&self) -> &str {
            &self.issued.token.mesh_id
        }

        /// The mesh's name in the configuration.
        #[getter]
        fn mesh(&self) -> &str {
            &self.issued.mesh
        }

        /// Its verified claims (`sub`, `aud`, `dest_url`, `source_team`, …).
        #[getter]
        fn claims(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            claims(py, Arc::clone(&self.issued.claims))
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "IssuedMeshToken(mesh={:?}, mesh_id={:?}, expires_at={}, token=<redacted>)",
                self.issued.mesh,
                self.issued.token.mesh_id,
                datetime(py, self.issued.token.expires_at)?
                    .bind(py)
                    .repr()?
            ))
        }
    }
}

fn issued_mesh_token(py: Python<'_>, issued: Arc<IssuedMeshToken>) -> PyResult<Py<PyAny>> {
    PyIssuedMeshToken { issued }.into_py_any(py)
}

/// The stats of a `Resolver` or `AsyncResolver` (for `prometheus_text`); `None` for anything
/// else.
pub(crate) fn resolver_stats(obj: &Bound<'_, PyAny>) -> Option<PyResult<ResolverStats>> {
    let py = obj.py();
    if let Ok(r) = obj.cast::<PyResolver>() {
        return Some(r.get().inner.get(py).map(|r| r.stats()));
    }
    if let Ok(r) = obj.cast::<PyAsyncResolver>() {
        return Some(r.get().inner.get(py).map(|r| r.stats()));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The fork-aware handle.

/// What a resolver was created from, kept to rebuild it in a forked child.
struct Setup {
    client: Py<PyAny>,
    token_manager: Py<PyAny>,
    max_stale: Duration,
    mesh_token_margin: Duration,
    mesh_token_capacity: usize,
    validator: Option<ValidatorBuilder>,
}

impl Setup {
    fn build(&self, py: Python<'_>, config: MeshConfig) -> PyResult<Resolver> {
        let client = core_client(self.client.bind(py))?;
        let manager = core_manager(self.token_manager.bind(py))?;
        let mut builder = Resolver::builder(config, client, manager)
            .max_stale(self.max_stale)
            .mesh_token_margin(self.mesh_token_margin)
            .mesh_token_capacity(self.mesh_token_capacity);
        if let Some(validator) = &self.validator {
            builder = builder.validator(validator.clone().language("python"));
        }
        builder.build().or_raise(py)
    }
}

/// A core resolver, the configuration in use, and how to build it again in a forked child
/// (with an empty cache: the parent's belongs to the parent's runtime).
struct Handle {
    setup: Setup,
    /// A copy of the configuration in use, to rebuild the resolver in a forked child; kept up
    /// to date by `reload` and by watchers (after each applied change).
    config: Arc<Mutex<MeshConfig>>,
    resolver: ForkSafe<Resolver>,
}

impl Handle {
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config: &PyMeshConfig,
        client: &Bound<'_, PyAny>,
        token_manager: &Bound<'_, PyAny>,
        max_stale: f64,
        mesh_token_margin: f64,
        mesh_token_capacity: usize,
        validator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Handle> {
        // The core's rule, checked now so that the error comes from the constructor.
        check_mesh_token_capacity(mesh_token_capacity).or_raise(py)?;
        // Checked here so that a wrong type is reported before anything is built.
        core_manager(token_manager)?;
        let setup = Setup {
            client: client.clone().unbind(),
            token_manager: token_manager.clone().unbind(),
            max_stale: non_negative(py, "max_stale", max_stale)?,
            mesh_token_margin: non_negative(py, "mesh_token_margin", mesh_token_margin)?,
            mesh_token_capacity,
            validator: validator.map(validator_settings).transpose()?,
        };
        let config = config.0.clone();
        let resolver = setup.build(py, config.clone())?;
        Ok(Handle {
            setup,
            config: Arc::new(Mutex::new(config)),
            resolver: ForkSafe::new(resolver),
        })
    }

    /// The copy of the configuration in use (see `config`).
    fn config(&self) -> MeshConfig {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The resolver of this process.
    fn get(&self, py: Python<'_>) -> PyResult<Resolver> {
        self.resolver.get(|| self.setup.build(py, self.config()))
    }

    fn reload(&self, py: Python<'_>, config: MeshConfig) -> PyResult<()> {
        let resolver = self.get(py)?;
        let mut current = self.config.lock().unwrap_or_else(|e| e.into_inner());
        resolver.reload(config.clone()).or_raise(py)?;
        *current = config;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The classes.

class_pair! {
    /// Resolves mesh resource references (docs/spec.md §6) and obtains mesh tokens, with a
    /// cache in front of the Cloud; blocking, every wait releases the GIL and a cache hit does
    /// no I/O.
    ///
    /// - Local references are answered from the configuration.
    /// - Remote references are resolved only when an enabled mesh lists them (`NotInMeshError`
    ///   otherwise, before any request) and only for configured providers
    ///   (`UnknownProviderError`).
    /// - Answers are cached for the provider's `cache_ttl_secs`; however many callers miss at
    ///   once, one request goes upstream.
    /// - `NotFoundError`, `PermissionDeniedError` and `UnauthorizedError` are raised and never
    ///   cached. When the provider fails, the last answer is served with
    ///   `Resolution.is_stale` set while younger than `max_stale`; after that the error is
    ///   raised.
    ///
    /// `Resolver(config, client, token_manager, *, max_stale, mesh_token_margin,
    /// mesh_token_capacity, validator=None)` (the defaults are the core's): `client` (a
    /// `Client`/`AsyncClient`, its token unused, or an API URL) carries the HTTP settings used
    /// for every provider, each at its own `api` URL; `token_manager` (a `TokenManager` or
    /// `AsyncTokenManager`) supplies the gateway's machine token. Mesh tokens are reused until
    /// `mesh_token_margin` seconds before they expire; at most `mesh_token_capacity` are kept.
    /// `validator` (a `Validator`/`AsyncValidator`) gives the settings of the validators that
    /// verify mesh tokens (leeway, algorithms, JWKS timings, `ca_bundle_pem`, …); its trusted
    /// issuers, `jwks_url` and audiences are not used: each mesh's provider is trusted.
    ///
    /// ```python
    /// config = runbeam.MeshConfig.from_file("gateway.toml")
    /// cloud = runbeam.Client("https://api.runbeam.io")
    /// manager = runbeam.TokenManager("analytics-gw-1", runbeam.open_token_store(), cloud)
    /// resolver = runbeam.Resolver(config, cloud, manager)
    /// resolver.validate_startup()
    /// dicom = resolver.resolve("runbeam.radiology-dept.ingress.name.dicomweb")
    /// token = resolver.mesh_token("imaging-integration", dicom.resource.urls[0] + "/studies")
    /// ```
    sync PyResolver = "Resolver";
    /// The asyncio form of `Resolver` (the same arguments): `resolve`, `mesh_token`,
    /// `verify_mesh_token`, `verify_mesh_request` and `outbound` return awaitables (already
    /// completed when answered from the cache); the other methods are immediate.
    async PyAsyncResolver = "AsyncResolver";
    holds Handle;
    members {
        #[new]
        #[pyo3(signature = (
            config,
            client,
            token_manager,
            *,
            max_stale=DEFAULT_MAX_STALE.as_secs_f64(),
            mesh_token_margin=DEFAULT_MESH_TOKEN_MARGIN.as_secs_f64(),
            mesh_token_capacity=DEFAULT_MESH_TOKEN_CAPACITY,
            validator=None,
        ))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            config: PyRef<'_, PyMeshConfig>,
            client: &Bound<'_, PyAny>,
            token_manager: &Bound<'_, PyAny>,
            max_stale: f64,
            mesh_token_margin: f64,
            mesh_token_capacity: usize,
            validator: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            Ok(Self {
                inner: Handle::new(
                    py,
                    &config,
                    client,
                    token_manager,
                    max_stale,
                    mesh_token_margin,
                    mesh_token_capacity,
                    validator,
                )?,
            })
        }

        /// Checks the configuration in use (docs/spec.md §2.2); raises `ConfigError` listing every
        /// problem. Nothing is fetched.
        fn validate_startup(&self, py: Python<'_>) -> PyResult<()> {
            self.inner.get(py)?.validate_startup().or_raise(py)
        }

        /// `resolve` without I/O: the answer when it is known now, `None` when a request
        /// would be needed. Raises like `resolve` (e.g. `NotInMeshError`).
        fn resolve_cached(
            &self,
            py: Python<'_>,
            reference: &Bound<'_, PyAny>,
        ) -> PyResult<Option<PyResolution>> {
            let text = reference_text(reference)?;
            match self.inner.get(py)?.resolve_cached(&text) {
                Some(answer) => Ok(Some(PyResolution::new(answer.or_raise(py)?))),
                None => Ok(None),
            }
        }

        /// `outbound` without I/O: the `Outbound` when the resolution and the mesh token are
        /// cached, `None` when a request would be needed. Raises like `outbound` (e.g.
        /// `NotInMeshError`).
        fn outbound_cached(
            &self,
            py: Python<'_>,
            reference: &Bound<'_, PyAny>,
            path: &str,
        ) -> PyResult<Option<Py<PyAny>>> {
            let text = reference_text(reference)?;
            match self.inner.get(py)?.outbound_cached(&text, path) {
                Some(answer) => Ok(Some(outbound(py, answer.or_raise(py)?)?)),
                None => Ok(None),
            }
        }

        /// `verify_mesh_request` without I/O: the claims when the answer is known now (the
        /// mesh's keys are cached), `None` when keys must be fetched first. Raises like
        /// `verify_mesh_request`.
        #[pyo3(signature = (authorization, mesh, served_url=None))]
        fn verify_mesh_request_cached(
            &self,
            py: Python<'_>,
            authorization: Option<&str>,
            mesh: &str,
            served_url: Option<&str>,
        ) -> PyResult<Option<Py<PyAny>>> {
            let r = self.inner.get(py)?;
            let remembered =
                |r: &Resolver| r.verify_mesh_request_if_remembered(authorization, mesh, served_url);
            match immediate(py, &r, remembered, |r| {
                r.verify_mesh_request_cached(authorization, mesh, served_url)
            }) {
                Some(answer) => Ok(Some(claims(py, answer.or_raise(py)?)?)),
                None => Ok(None),
            }
        }

        /// Forgets the cached answer for `reference` (any spelling); whether one was
        /// dropped. Raises `InvalidReferenceError`.
        fn invalidate(&self, py: Python<'_>, reference: &Bound<'_, PyAny>) -> PyResult<bool> {
            let text = reference_text(reference)?;
            self.inner.get(py)?.invalidate(&text).or_raise(py)
        }

        /// Forgets every cached answer and mesh token.
        fn invalidate_all(&self, py: Python<'_>) -> PyResult<()> {
            self.inner.get(py)?.invalidate_all();
            Ok(())
        }

        /// Switches to `config`. It is validated first and refused with `ConfigError` (the old
        /// one stays in use) if it has problems; cached answers of providers that changed and
        /// of references no longer in an enabled mesh are dropped, as are mesh tokens of meshes
        /// that changed.
        fn reload(&self, py: Python<'_>, config: PyRef<'_, PyMeshConfig>) -> PyResult<()> {
            self.inner.reload(py, config.0.clone())
        }

        /// Counters since the resolver was built (`ResolverStats`: hits, misses, errors by
        /// kind, cache sizes, mesh-token verification), a snapshot.
        fn stats(&self, py: Python<'_>) -> PyResult<PyResolverStats> {
            Ok(PyResolverStats(self.inner.get(py)?.stats()))
        }

        /// References with a cached answer (fresh or stale).
        #[getter]
        fn cached_references(&self, py: Python<'_>) -> PyResult<usize> {
            Ok(self.inner.get(py)?.cached_references())
        }

        /// The configuration in use (after `reload` and the changes a watcher applied).
        #[getter]
        fn config(&self, py: Python<'_>) -> PyResult<PyMeshConfig> {
            Ok(PyMeshConfig(self.inner.get(py)?.config()))
        }

        /// Follows the change feed of every enabled provider whose `poll_interval_secs` is
        /// above 0 and applies its changes to this resolver (mesh changes: the configuration
        /// is validated first and a change with problems is reported failed, the old
        /// configuration staying in use; each change is reported applied or failed to the
        /// provider). `on_event(WatchEvent)` is told what happened to each change and each
        /// failed poll: on `Resolver` it is called on a runbeam thread (with the GIL taken
        /// there, never twice at once; its exceptions go to `sys.unraisablehook`); on
        /// `AsyncResolver` it is scheduled on the event loop running when `watch` was called
        /// (`call_soon_threadsafe`; its exceptions go to the loop's exception handler).
        /// Returns the `Watcher`: `stop()` it, or use it as a context manager. Providers added
        /// by a later `reload` are not polled: start another watcher.
        fn watch(&self, py: Python<'_>, on_event: &Bound<'_, PyAny>) -> PyResult<PyWatcher> {
            if !on_event.is_callable() {
                return Err(PyTypeError::new_err(
                    "on_event must be a callable taking a runbeam.WatchEvent",
                ));
            }
            let event_loop = if Self::NAME == "AsyncResolver" {
                Some(
                    py.import(pyo3::intern!(py, "asyncio"))?
                        .call_method0(pyo3::intern!(py, "get_running_loop"))?
                        .unbind(),
                )
            } else {
                None
            };
            let resolver = self.inner.get(py)?;
            PyWatcher::start(
                py,
                &resolver,
                Arc::clone(&self.inner.config),
                on_event.clone().unbind(),
                event_loop,
            )
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let config = self.inner.get(py)?.config();
            let meshes: Vec<&str> = config.meshes().iter().map(|m| m.name.as_str()).collect();
            Ok(format!(
                "{}(meshes={meshes:?}, cached_references={}, max_stale={})",
                Self::NAME,
                self.inner.get(py)?.cached_references(),
                self.inner.setup.max_stale.as_secs_f64()
            ))
        }
    }
    calls {
        /// Resolves `reference` (a `str` or a `Reference`): from the cache while fresh, from the
        /// configuration when local, else from the provider (one request however many callers
        /// wait).
        ///
        /// Raises:
        ///     InvalidReferenceError, UnknownProviderError, NotInMeshError: before any request.
        ///     NotFoundError: unknown to the provider (not cached), or a local name the
        ///         configuration does not define.
        ///     NoTokenError, TokenExpiredError: the token manager has no usable machine token.
        ///     TransportError, RunbeamTimeoutError, ServerError, RateLimitedError,
        ///         ProtocolError: the provider failed and no stale answer can be served.
        ///     TypeError: `reference` is neither a `str` nor a `Reference`.
        fn resolve(py, r, reference: &Bound<'_, PyAny>) -> resolution {
            r.resolve_attempt(&reference_text(reference)?)
        }

        /// A verified mesh token to call `destination_url` through `mesh` (its configuration
        /// name or Cloud id): a cached one until `mesh_token_margin` before it expires, else a
        /// new one (one request however many callers wait).
        ///
        /// Raises:
        ///     NotInMeshError: the mesh is not configured or not enabled.
        ///     InvalidArgumentError: `destination_url` is not an http(s) URL.
        ///     PermissionDeniedError: the Cloud refused (the message names the rule).
        fn mesh_token(py, r, mesh: String, destination_url: String) -> issued_mesh_token {
            attempt_now(py, Box::pin(async move { r.mesh_token(&mesh, &destination_url).await }))?
        }

        /// The receiving side: verifies a mesh token presented for `mesh` (signature, issuer,
        /// audience, mesh id, expiry) and, when `destination_url` is given, that it lies under
        /// the token's `dest_url`, and returns its claims. Keys are fetched only when none are
        /// cached.
        ///
        /// Raises:
        ///     NotInMeshError: unknown mesh.
        ///     JwtInvalidError, JwtExpiredError, UntrustedIssuerError: the token is refused.
        #[pyo3(signature = (token, mesh, destination_url=None))]
        fn verify_mesh_token(py, r, token: &str, mesh: &str, destination_url: Option<&str>)
            -> claims
        {
            let args = (
                Secret::new(token.to_owned()),
                mesh.to_owned(),
                destination_url.map(str::to_owned),
            );
            let remembered =
                |r: &Resolver| r.verify_mesh_token_if_remembered(token, mesh, destination_url);
            route(&r, remembered, args, |r, (t, m, d)| {
                r.verify_mesh_token_attempt(t.expose(), m, d.as_deref())
            })
        }

        /// The receiving side of a request, as a middleware sees it: the mesh token of the
        /// `Authorization` header value `authorization` (`None`: the request had no such
        /// header) verified for `mesh` and, when given, for `served_url` (the URL being served:
        /// the gateway's public URL registered in Runbeam Cloud followed by the request path,
        /// see `join_path`; never taken from the `Host` header), and its claims returned.
        /// Without `served_url` only the signature, issuer, audience, mesh id and expiry are
        /// checked. Give an error to `refusal_for(error, "mesh_token")` for the HTTP answer.
        ///
        /// Raises:
        ///     JwtInvalidError: no header, a malformed one, or a refused token (another mesh,
        ///         another destination, a user JWT, a bad signature).
        ///     JwtExpiredError, UntrustedIssuerError: the token is refused.
        ///     NotInMeshError: unknown mesh.
        #[pyo3(signature = (authorization, mesh, served_url=None))]
        fn verify_mesh_request(
            py,
            r,
            authorization: Option<&str>,
            mesh: &str,
            served_url: Option<&str>
        ) -> claims {
            let args = (
                authorization.map(|h| Secret::new(h.to_owned())),
                mesh.to_owned(),
                served_url.map(str::to_owned),
            );
            let remembered =
                |r: &Resolver| r.verify_mesh_request_if_remembered(authorization, mesh, served_url);
            route(&r, remembered, args, |r, (h, m, u)| {
                r.verify_mesh_request_attempt(h.as_ref().map(Secret::expose), m, u.as_deref())
            })
        }

        /// Everything to send a request for `path` (the request target: a path starting with
        /// `/`, not percent-decoded, with its query if any) to the resource `reference` (a
        /// `str` or a `Reference`) through the mesh, as an `Outbound` (`url`, `headers`):
        /// resolves the reference (cached, as `resolve`), appends `path` to its first URL
        /// (refused if it would leave that URL, see `join_path`) and obtains the mesh token of
        /// the mesh listing the reference, issued for the resource's URL (cached, as
        /// `mesh_token`). Answered on the spot when both are cached. Give an error to
        /// `refusal_for(error, "outbound")` for the HTTP answer.
        ///
        /// ```python
        /// out = resolver.outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies")
        /// answer = http.get(out.url, headers=out.headers)
        /// ```
        ///
        /// Raises:
        ///     InvalidReferenceError; NotInMeshError, UnknownProviderError: no enabled mesh
        ///         lists the reference (before any request).
        ///     InvalidArgumentError: a path that leaves the resource, or a resource without a
        ///         URL (not an ingress).
        ///     The errors of `resolve` and `mesh_token`.
        fn outbound(py, r, reference: &Bound<'_, PyAny>, path: &str) -> outbound {
            r.outbound_attempt(&reference_text(reference)?, path)
        }
    }
}
