//! `runbeam.Resolver` and `runbeam.AsyncResolver`: the core's mesh resource resolver (docs/spec.md §6),
//! with `runbeam.Resolution`, `runbeam.IssuedMeshToken` and `runbeam.ResolverStats`.
//!
//! Both classes wrap one [`runbeam_core::resolve::Resolver`]; every rule (mesh context, cache
//! and TTL, single-flight, stale answers, mesh-token reuse and verification) is the core's.
//! A call takes the core's no-I/O path first, with the GIL held, as the validator does:
//!
//! - `resolve`: [`Resolver::resolve_cached`] (a fresh cached answer, a local reference, or an
//!   error such as `NotInMesh`); only when it answers "a request is needed" does the core's
//!   async `resolve` run on the module's runtime.
//! - `verify_mesh_token`: [`Resolver::verify_mesh_token_cached`], then the async path when
//!   keys must be fetched.
//! - `mesh_token`: the core has no separate cached path, so its future is polled once on the
//!   spot (inside the runtime's context, with a no-op waker): a cached token completes there;
//!   otherwise the fetch it started continues on the runtime.
//!
//! A cache hit therefore never waits for the runtime. `Resolver` (sync) waits for a fetch with
//! the GIL released (the client module's `run_sync`: Ctrl-C still works); `AsyncResolver`
//! answers a hit with an already completed asyncio future and otherwise spawns the fetch
//! (`run_async`).
//!
//! A resolver used in a forked child rebuilds its core resolver (from the configuration in
//! use, and the client and token manager it was given, which rebuild themselves) — with an
//! empty cache, as the parent's belongs to the parent's runtime.
//!
//! Mesh tokens are secrets: `IssuedMeshToken.__repr__` redacts the token and nothing here logs
//! it.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::{
    DEFAULT_MAX_STALE, DEFAULT_MESH_TOKEN_CAPACITY, DEFAULT_MESH_TOKEN_MARGIN, IssuedMeshToken,
    Resolution, Resolver, ResolverStats,
};

use crate::client::{
    PyResolvedResource, core_client, datetime, resolved_resource, run_async, run_sync, runtime,
    to_json,
};
use crate::config::PyMeshConfig;
use crate::errors::{OrRaise, invalid_argument};
use crate::guard::guarded;
use crate::jwt::{claims, completed_future, fork_generation, non_negative};
use crate::reference::{PyReference, text_arg};
use crate::storage::core_manager;

// The constructors' defaults are written as literals so that Python shows them.
const _: () = {
    assert!(DEFAULT_MAX_STALE.as_secs() == 3600);
    assert!(DEFAULT_MESH_TOKEN_MARGIN.as_secs() == 30);
    assert!(DEFAULT_MESH_TOKEN_CAPACITY == 1024);
};

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

        /// Whether this is a cached answer past its TTL, served because the provider failed.
        #[getter]
        fn stale(&self) -> bool {
            self.resolution.is_stale()
        }

        /// Whether the reference was local, answered from the configuration.
        #[getter]
        fn local(&self) -> bool {
            self.resolution.is_local()
        }

        /// The wire form: `{"data": {...}, "meta": {"provider", "resolved_at", "stale"}}`.
        fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            to_json(py, &self.resolution)
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Resolution(provider={:?}, stale={}, resource={})",
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

/// Counters of a resolver's work since it was built (`Resolver.stats()`).
#[pyclass(frozen, module = "runbeam", name = "ResolverStats")]
#[derive(PartialEq)]
pub struct PyResolverStats {
    /// Resolutions answered from the cache while fresh.
    #[pyo3(get)]
    hits: u64,
    /// Resolutions that waited for an upstream answer (joined or started a fetch).
    #[pyo3(get)]
    misses: u64,
    /// Requests sent to a provider's resolve endpoint.
    #[pyo3(get)]
    upstream_requests: u64,
    /// Stale answers served because a provider failed.
    #[pyo3(get)]
    stale_served: u64,
    /// Local references answered from the configuration.
    #[pyo3(get)]
    local: u64,
    /// Mesh tokens requested from a provider.
    #[pyo3(get)]
    mesh_token_requests: u64,
}

impl From<ResolverStats> for PyResolverStats {
    fn from(s: ResolverStats) -> Self {
        PyResolverStats {
            hits: s.hits,
            misses: s.misses,
            upstream_requests: s.upstream_requests,
            stale_served: s.stale_served,
            local: s.local,
            mesh_token_requests: s.mesh_token_requests,
        }
    }
}

impl PyResolverStats {
    fn fields(&self) -> [(&'static str, u64); 6] {
        [
            ("hits", self.hits),
            ("misses", self.misses),
            ("upstream_requests", self.upstream_requests),
            ("stale_served", self.stale_served),
            ("local", self.local),
            ("mesh_token_requests", self.mesh_token_requests),
        ]
    }
}

guarded! {
    "ResolverStats";
    #[pymethods]
    impl PyResolverStats {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        /// The counters as a new `dict`.
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let dict = PyDict::new(py);
            for (name, value) in self.fields() {
                dict.set_item(name, value)?;
            }
            Ok(dict)
        }

        fn __repr__(&self) -> String {
            let fields: Vec<String> = self
                .fields()
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            format!("ResolverStats({})", fields.join(", "))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fork-aware handle.

/// What a resolver was created from, kept to rebuild it in a forked child.
struct Setup {
    client: Py<PyAny>,
    manager: Py<PyAny>,
    max_stale: Duration,
    mesh_token_margin: Duration,
    mesh_token_capacity: usize,
}

impl Setup {
    fn build(&self, py: Python<'_>, config: MeshConfig) -> PyResult<Resolver> {
        let client = core_client(self.client.bind(py))?;
        let manager = core_manager(self.manager.bind(py))?;
        Resolver::builder(config, client, manager)
            .max_stale(self.max_stale)
            .mesh_token_margin(self.mesh_token_margin)
            .mesh_token_capacity(self.mesh_token_capacity)
            .build()
            .or_raise(py)
    }
}

/// The core resolver, the fork generation it was built in, and the configuration in use.
struct Current {
    generation: u64,
    resolver: Resolver,
    config: MeshConfig,
}

/// A core resolver and how to build it again. The lock is only taken with the GIL held and
/// never across a call into Python.
struct Handle {
    setup: Setup,
    current: Mutex<Current>,
}

impl Handle {
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config: &PyMeshConfig,
        client: &Bound<'_, PyAny>,
        manager: &Bound<'_, PyAny>,
        max_stale_secs: f64,
        mesh_token_margin_secs: f64,
        mesh_token_capacity: usize,
    ) -> PyResult<Handle> {
        if mesh_token_capacity == 0 {
            return Err(invalid_argument(
                py,
                "mesh_token_capacity must be at least 1",
            ));
        }
        // Checked here so that a wrong type is reported before anything is built.
        core_manager(manager)?;
        let setup = Setup {
            client: client.clone().unbind(),
            manager: manager.clone().unbind(),
            max_stale: non_negative(py, "max_stale_secs", max_stale_secs)?,
            mesh_token_margin: non_negative(py, "mesh_token_margin_secs", mesh_token_margin_secs)?,
            mesh_token_capacity,
        };
        let config = config.0.clone();
        let resolver = setup.build(py, config.clone())?;
        Ok(Handle {
            setup,
            current: Mutex::new(Current {
                generation: fork_generation(),
                resolver,
                config,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resolver of this process, rebuilt after a fork.
    fn get(&self, py: Python<'_>) -> PyResult<Resolver> {
        let generation = fork_generation();
        let config = {
            let current = self.lock();
            if current.generation == generation {
                return Ok(current.resolver.clone());
            }
            current.config.clone()
        };
        // Built without the lock: building may call into Python (the client and manager).
        let fresh = self.setup.build(py, config)?;
        let mut current = self.lock();
        if current.generation != generation {
            let stale = std::mem::replace(&mut current.resolver, fresh);
            current.generation = generation;
            // Its tasks and connections belong to the parent's runtime: never drop it here.
            std::mem::forget(stale);
        }
        Ok(current.resolver.clone())
    }

    fn reload(&self, py: Python<'_>, config: MeshConfig) -> PyResult<()> {
        self.get(py)?;
        let result = {
            let mut current = self.lock();
            let result = current.resolver.reload(config.clone());
            if result.is_ok() {
                current.config = config;
            }
            result
        };
        result.or_raise(py)
    }

    fn config(&self) -> MeshConfig {
        self.lock().config.clone()
    }

    fn repr(&self, class: &str) -> String {
        let current = self.lock();
        let meshes: Vec<&str> = current
            .config
            .meshes()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        format!(
            "{class}(meshes={meshes:?}, cached_references={}, max_stale_secs={})",
            current.resolver.cached_references(),
            self.setup.max_stale.as_secs_f64()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// How a call ends.

/// What the no-I/O path found: the answer, or the future that gets it.
enum Step<T, F> {
    Ready(runbeam_core::Result<T>),
    Fetch(F),
}

/// Polls `fut` once inside the runtime's context with a no-op waker: the answer when it
/// needs no waiting (a cached mesh token), else `None` with the work it started (a fetch on
/// its own task) left to continue when the future is polled again.
fn poll_once<F: Future + Unpin>(py: Python<'_>, fut: &mut F) -> PyResult<Option<F::Output>> {
    let rt = runtime(py)?;
    let _context = rt.enter();
    let mut cx = Context::from_waker(Waker::noop());
    Ok(match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(answer) => Some(answer),
        Poll::Pending => None,
    })
}

/// `Resolver`: the ready answer, else the fetch run to completion with the GIL released.
fn finish_sync<T, F, C>(
    py: Python<'_>,
    function: &'static str,
    step: Step<T, F>,
    conv: C,
) -> PyResult<Py<PyAny>>
where
    T: Send,
    F: Future<Output = runbeam_core::Result<T>> + Send,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>>,
{
    let value = match step {
        Step::Ready(answer) => answer.or_raise(py)?,
        Step::Fetch(fut) => run_sync(py, function, fut)?,
    };
    conv(py, value)
}

/// `AsyncResolver`: an asyncio future, completed now with the ready answer, else completed
/// by the fetch spawned on the module's runtime.
fn finish_async<'py, T, F, C>(
    py: Python<'py>,
    function: &'static str,
    step: Step<T, F>,
    conv: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    match step {
        Step::Ready(answer) => {
            completed_future(py, answer.or_raise(py).and_then(|value| conv(py, value)))
        }
        Step::Fetch(fut) => run_async(py, function, fut, conv),
    }
}

// ---------------------------------------------------------------------------------------------
// The classes.

/// Resolves mesh resource references and obtains mesh tokens, with a cache in front of the
/// Cloud (blocking; a request waits with the GIL released, a cache hit does no I/O).
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
#[pyclass(frozen, module = "runbeam", name = "Resolver")]
pub struct PyResolver {
    handle: Handle,
}

/// The asyncio form of `Resolver`: `resolve`, `mesh_token` and `verify_mesh_token` return
/// awaitables (already completed when answered from the cache); the other methods are
/// immediate.
#[pyclass(frozen, module = "runbeam", name = "AsyncResolver")]
pub struct PyAsyncResolver {
    handle: Handle,
}

/// The `#[pymethods]` of one resolver class: its constructor and the immediate members, then
/// one shell per call of the shared list (see `resolver_classes!`).
///
/// `$out` is what a call returns to Python and `$finish` how it ends: `Py<PyAny>` with
/// [`finish_sync`] or `Bound<'py, PyAny>` with [`finish_async`].
macro_rules! resolver_class {
    (
        $class:ident, $repr:literal, $out:ty, $finish:path;
        $(
            $(#[$attr:meta])*
            fn $name:ident($py:ident, $r:ident $(, $arg:ident: $ty:ty)*) -> $convert:path
                $body:block
        )*
    ) => {
        guarded! {
            $repr;
            #[pymethods]
            impl $class {
                #[new]
                #[pyo3(signature = (config, client, manager, *, max_stale_secs=3600.0, mesh_token_margin_secs=30.0, mesh_token_capacity=1024))]
                fn new(
                    py: Python<'_>,
                    config: PyRef<'_, PyMeshConfig>,
                    client: &Bound<'_, PyAny>,
                    manager: &Bound<'_, PyAny>,
                    max_stale_secs: f64,
                    mesh_token_margin_secs: f64,
                    mesh_token_capacity: usize,
                ) -> PyResult<Self> {
                    Ok($class {
                        handle: Handle::new(
                            py,
                            &config,
                            client,
                            manager,
                            max_stale_secs,
                            mesh_token_margin_secs,
                            mesh_token_capacity,
                        )?,
                    })
                }

                /// Checks the configuration in use (docs/spec.md §2.2); raises `ConfigError` listing every
                /// problem. Nothing is fetched.
                fn validate_startup(&self, py: Python<'_>) -> PyResult<()> {
                    self.handle.get(py)?.validate_startup().or_raise(py)
                }

                /// `resolve` without I/O: the answer when it is known now, `None` when a request
                /// would be needed. Raises like `resolve` (e.g. `NotInMeshError`).
                fn resolve_cached(
                    &self,
                    py: Python<'_>,
                    reference: &Bound<'_, PyAny>,
                ) -> PyResult<Option<PyResolution>> {
                    let text = reference_text(reference)?;
                    match self.handle.get(py)?.resolve_cached(&text) {
                        Some(answer) => Ok(Some(PyResolution::new(answer.or_raise(py)?))),
                        None => Ok(None),
                    }
                }

                /// Forgets the cached answer for `reference` (any spelling); whether one was
                /// dropped. Raises `InvalidReferenceError`.
                fn invalidate(&self, py: Python<'_>, reference: &Bound<'_, PyAny>) -> PyResult<bool> {
                    let text = reference_text(reference)?;
                    self.handle.get(py)?.invalidate(&text).or_raise(py)
                }

                /// Forgets every cached answer and mesh token.
                fn invalidate_all(&self, py: Python<'_>) -> PyResult<()> {
                    self.handle.get(py)?.invalidate_all();
                    Ok(())
                }

                /// Switches to `config`: it is validated first and refused with `ConfigError`
                /// (the old one stays in use) if it has problems; cached answers it affects are
                /// dropped.
                fn reload(&self, py: Python<'_>, config: PyRef<'_, PyMeshConfig>) -> PyResult<()> {
                    self.handle.reload(py, config.0.clone())
                }

                /// Counters since the resolver was built.
                fn stats(&self, py: Python<'_>) -> PyResult<PyResolverStats> {
                    Ok(self.handle.get(py)?.stats().into())
                }

                /// References with a cached answer (fresh or stale).
                #[getter]
                fn cached_references(&self, py: Python<'_>) -> PyResult<usize> {
                    Ok(self.handle.get(py)?.cached_references())
                }

                /// The configuration in use.
                #[getter]
                fn config(&self) -> PyMeshConfig {
                    PyMeshConfig(self.handle.config())
                }

                fn __repr__(&self) -> String {
                    self.handle.repr($repr)
                }

                $(
                    $(#[$attr])*
                    fn $name<'py>(&self, $py: Python<'py>, $($arg: $ty),*) -> PyResult<$out> {
                        let $r = self.handle.get($py)?;
                        let step = $body;
                        $finish($py, concat!($repr, ".", stringify!($name)), step, $convert)
                    }
                )*
            }
        }
    };
}

/// Both resolver classes from one list of calls. Each call is written once, as
/// `fn name(py, r, args...) -> convert { body }`: `body` checks the arguments, takes the
/// core's no-I/O path on the resolver `r`, and evaluates to a [`Step`]: the answer, or a
/// `'static` future of the core's async path.
macro_rules! resolver_classes {
    ($($calls:tt)*) => {
        resolver_class!(PyResolver, "Resolver", Py<PyAny>, finish_sync; $($calls)*);
        resolver_class!(
            PyAsyncResolver, "AsyncResolver", Bound<'py, PyAny>, finish_async; $($calls)*
        );
    };
}

resolver_classes! {
    /// Resolves `reference` (a `str` or a `Reference`): from the cache while fresh, from the
    /// configuration when local, else from the provider (one request however many callers
    /// wait). Raises `NotInMeshError`, `UnknownProviderError`, `InvalidReferenceError`,
    /// `NotFoundError`, … and, when no stale answer can be served, the provider's error.
    fn resolve(py, r, reference: &Bound<'_, PyAny>) -> resolution {
        let text = reference_text(reference)?;
        match r.resolve_cached(&text) {
            Some(answer) => Step::Ready(answer),
            None => {
                let text = text.to_string();
                Step::Fetch(async move { r.resolve(&text).await })
            }
        }
    }

    /// A verified mesh token to call `destination_url` through `mesh` (its configuration
    /// name or Cloud id): a cached one until shortly before it expires, else a new one.
    fn mesh_token(py, r, mesh: String, destination_url: String) -> issued_mesh_token {
        let mut fut = Box::pin(async move { r.mesh_token(&mesh, &destination_url).await });
        match poll_once(py, &mut fut)? {
            Some(answer) => Step::Ready(answer),
            None => Step::Fetch(fut),
        }
    }

    /// The receiving side: verifies a mesh token presented for `mesh` (signature, issuer,
    /// audience, mesh id, expiry) and, when `destination_url` is given, that it lies under
    /// the token's `dest_url`. Returns its claims.
    #[pyo3(signature = (token, mesh, destination_url=None))]
    fn verify_mesh_token(py, r, token: &str, mesh: &str, destination_url: Option<&str>)
        -> claims
    {
        match r.verify_mesh_token_cached(token, mesh, destination_url) {
            Some(answer) => Step::Ready(answer),
            None => {
                let (token, mesh) = (token.to_owned(), mesh.to_owned());
                let destination_url = destination_url.map(str::to_owned);
                Step::Fetch(async move {
                    r.verify_mesh_token(&token, &mesh, destination_url.as_deref()).await
                })
            }
        }
    }
}
