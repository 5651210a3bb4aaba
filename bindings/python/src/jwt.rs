//! `runbeam.Validator`, `runbeam.AsyncValidator`, `runbeam.Claims` and `runbeam.parse_bearer`:
//! the JWT validator of the core (docs/spec.md §4).
//!
//! Both classes wrap one [`runbeam_core::jwt::Validator`]; every check is the core's. A call
//! first takes the core's cached path ([`Validator::validate_cached`]: token cache, cached
//! keys, signature verification — no I/O, no runtime hop) and only when the core answers
//! "keys must be fetched" runs the core's async path on the module's runtime, like
//! [`Validator::validate_blocking`] does:
//!
//! - `Validator` (sync) waits for that fetch with the GIL released (the `run_sync` of the
//!   client module: Ctrl-C still works).
//! - `AsyncValidator` answers from the cached path with an already completed asyncio future,
//!   and otherwise spawns the fetch on the runtime (the client module's `run_async`).
//!
//! The cached path runs with the GIL held by default: `bench/jwt.py` measures both ways
//! (`_native._set_verify_releases_gil`), and on the project machine releasing the GIL around
//! it cost every call a little (5–20 % of a cache hit) and gave threaded callers nothing
//! measurable (see BENCHMARKS.md). The core answers a cache hit and a verification from one
//! call, so a binding cannot release the GIL for the verification alone.
//!
//! Like the Cloud client, a validator used in a forked child rebuilds its core validator (and
//! so its HTTP connection pool and key cache) from the settings it was built with.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use runbeam_core::jwt::{
    Algorithm, Audience, Claims, DEFAULT_CACHE_CAPACITY, DEFAULT_JWKS_DEADLINE, DEFAULT_JWKS_TTL,
    DEFAULT_LEEWAY, DEFAULT_MAX_STALE, DEFAULT_MIN_REFRESH_INTERVAL, TokenTeam, TokenUser,
    Validator, ValidatorBuilder,
};

use crate::client::{json_to_py, run_async, run_sync, seconds};
use crate::errors::{OrRaise, invalid_argument};
use crate::guard::guarded;

// ---------------------------------------------------------------------------------------------
// The GIL on the cached path.

/// Whether the cached path (token cache lookup or one signature verification) runs with the
/// GIL released. Off by default; see the module documentation.
static VERIFY_RELEASES_GIL: AtomicBool = AtomicBool::new(false);

guarded! {
    /// `_native._set_verify_releases_gil(enabled)`: for `bench/jwt.py`, which measures the cached
    /// path both ways in one run. Returns the previous setting. Not part of the public API.
    #[pyfunction(name = "_set_verify_releases_gil")]
    pub fn set_verify_releases_gil(enabled: bool) -> bool {
        VERIFY_RELEASES_GIL.swap(enabled, Ordering::Relaxed)
    }
}

/// Runs the core's cached path `f`, with the GIL released if so configured.
fn cached_path<T, F>(py: Python<'_>, f: F) -> T
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    if VERIFY_RELEASES_GIL.load(Ordering::Relaxed) {
        py.detach(f)
    } else {
        f()
    }
}

// ---------------------------------------------------------------------------------------------
// Claims.

/// The `user` claim of a Runbeam user JWT.
#[pyclass(frozen, module = "runbeam", name = "TokenUser")]
#[derive(PartialEq)]
pub struct PyTokenUser {
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    email: Option<String>,
    #[pyo3(get)]
    name: Option<String>,
}

guarded! {
    "TokenUser";
    #[pymethods]
    impl PyTokenUser {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        fn __repr__(&self) -> String {
            format!(
                "TokenUser(id={:?}, email={:?}, name={:?})",
                self.id, self.email, self.name
            )
        }
    }
}

impl From<&TokenUser> for PyTokenUser {
    fn from(u: &TokenUser) -> Self {
        PyTokenUser {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
        }
    }
}

/// The `team` claim of a Runbeam user JWT.
#[pyclass(frozen, module = "runbeam", name = "TokenTeam")]
#[derive(PartialEq)]
pub struct PyTokenTeam {
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    name: Option<String>,
}

guarded! {
    "TokenTeam";
    #[pymethods]
    impl PyTokenTeam {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        fn __repr__(&self) -> String {
            format!("TokenTeam(id={:?}, name={:?})", self.id, self.name)
        }
    }
}

impl From<&TokenTeam> for PyTokenTeam {
    fn from(t: &TokenTeam) -> Self {
        PyTokenTeam {
            id: t.id.clone(),
            name: t.name.clone(),
        }
    }
}

/// The claims of a verified token: the standard and Runbeam claims as attributes, every claim
/// through `get`, `to_dict` and `json`. Python objects are made when an attribute is read, so
/// a cache hit costs one small allocation.
#[pyclass(frozen, module = "runbeam", name = "Claims")]
pub struct PyClaims {
    claims: Arc<Claims>,
}

guarded! {
    "Claims";
    #[pymethods]
    impl PyClaims {
        /// `iss`.
        #[getter]
        fn iss(&self) -> Option<&str> {
            self.claims.iss.as_deref()
        }

        /// `sub`.
        #[getter]
        fn sub(&self) -> Option<&str> {
            self.claims.sub.as_deref()
        }

        /// `aud`: a `str`, a `list[str]`, or `None`, as the token carried it.
        #[getter]
        fn aud(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            match &self.claims.aud {
                Audience::None => Ok(py.None()),
                Audience::One(a) => a.into_py_any(py),
                Audience::Many(list) => PyList::new(py, list)?.into_py_any(py),
            }
        }

        /// `exp`, seconds since the epoch (always present).
        #[getter]
        fn exp(&self) -> i64 {
            self.claims.exp
        }

        /// `iat`.
        #[getter]
        fn iat(&self) -> Option<i64> {
            self.claims.iat
        }

        /// `nbf`.
        #[getter]
        fn nbf(&self) -> Option<i64> {
            self.claims.nbf
        }

        /// `jti`.
        #[getter]
        fn jti(&self) -> Option<&str> {
            self.claims.jti.as_deref()
        }

        /// `user {id, email, name}`.
        #[getter]
        fn user(&self) -> Option<PyTokenUser> {
            self.claims.user.as_ref().map(PyTokenUser::from)
        }

        /// `team {id, name}`.
        #[getter]
        fn team(&self) -> Option<PyTokenTeam> {
            self.claims.team.as_ref().map(PyTokenTeam::from)
        }

        /// The payload exactly as the token carried it (a JSON object).
        #[getter]
        fn json(&self) -> &str {
            self.claims.json()
        }

        /// The claim `name` (any claim, custom ones too) as a Python value; `default` if absent.
        #[pyo3(signature = (name, default=None))]
        fn get(&self, py: Python<'_>, name: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
            match self.claims.get(name) {
                Some(value) => json_to_py(py, value),
                None => Ok(default.unwrap_or_else(|| py.None())),
            }
        }

        /// Every claim, as a new `dict`.
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let dict = PyDict::new(py);
            for (k, v) in self.claims.all() {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            Ok(dict)
        }

        // Claims are not secret (the token is), so they are shown.
        fn __repr__(&self) -> String {
            format!("Claims({})", self.claims.json())
        }
    }
}

pub(crate) fn claims(py: Python<'_>, claims: Arc<Claims>) -> PyResult<Py<PyAny>> {
    PyClaims { claims }.into_py_any(py)
}

fn nothing(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

// ---------------------------------------------------------------------------------------------
// Settings and the fork-aware handle.

/// A PEM bundle given as `bytes` or `str`.
#[derive(FromPyObject)]
enum Pem {
    Bytes(Vec<u8>),
    Text(String),
}

pub(crate) fn non_negative(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    if value == 0.0 {
        return Ok(Duration::ZERO);
    }
    seconds(py, name, value)
        .map_err(|_| invalid_argument(py, format!("{name} must be zero or more seconds")))
}

#[allow(clippy::too_many_arguments)]
fn builder(
    py: Python<'_>,
    trusted_issuers: Option<Vec<String>>,
    jwks_url: Option<String>,
    algorithms: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    required_claims: Option<Vec<String>>,
    leeway: f64,
    jwks_ttl: f64,
    min_refresh_interval: f64,
    max_stale: f64,
    cache_capacity: usize,
    allow_insecure_http: bool,
    deadline: f64,
    ca_bundle_pem: Option<Pem>,
) -> PyResult<ValidatorBuilder> {
    let mut b = Validator::builder()
        .leeway(non_negative(py, "leeway", leeway)?)
        .jwks_ttl(seconds(py, "jwks_ttl", jwks_ttl)?)
        .min_refresh_interval(non_negative(
            py,
            "min_refresh_interval",
            min_refresh_interval,
        )?)
        .max_stale(seconds(py, "max_stale", max_stale)?)
        .cache_capacity(cache_capacity)
        .allow_insecure_http(allow_insecure_http)
        .deadline(seconds(py, "deadline", deadline)?)
        .language("python");
    for issuer in trusted_issuers.unwrap_or_default() {
        b = b.trusted_issuer(issuer);
    }
    if let Some(url) = jwks_url {
        b = b.jwks_url(url);
    }
    if let Some(names) = algorithms {
        let algs = names
            .iter()
            .map(|n| n.parse::<Algorithm>())
            .collect::<runbeam_core::Result<Vec<_>>>()
            .or_raise(py)?;
        b = b.algorithms(algs);
    }
    for audience in audiences.unwrap_or_default() {
        b = b.audience(audience);
    }
    for name in required_claims.unwrap_or_default() {
        b = b.required_claim(name);
    }
    match ca_bundle_pem {
        Some(Pem::Bytes(pem)) => b = b.ca_bundle_pem(pem),
        Some(Pem::Text(pem)) => b = b.ca_bundle_pem(pem.into_bytes()),
        None => {}
    }
    Ok(b)
}

/// How many times this process is a forked child of the one that loaded the module: bumped
/// by an `os.register_at_fork(after_in_child=...)` hook. Validators compare it instead of the
/// pid because `getpid` is a system call (~0.5 µs in sandboxed VMs), a third of a cache hit.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many forks separate this process from the one that loaded the module (see
/// [`FORK_GENERATION`]): objects holding core state compare it to rebuild after a fork.
pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

guarded! {
    /// `_native._after_fork_in_child()`: registered with `os.register_at_fork` at import.
    #[pyfunction(name = "_after_fork_in_child")]
    pub fn after_fork_in_child() {
        FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    }
}

/// Registers [`after_fork_in_child`] with `os.register_at_fork` (where `os.fork` exists).
pub fn register_fork_hook(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let os = py.import(intern!(py, "os"))?;
    if !os.hasattr(intern!(py, "register_at_fork"))? {
        return Ok(());
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item(
        intern!(py, "after_in_child"),
        m.getattr(intern!(py, "_after_fork_in_child"))?,
    )?;
    os.call_method(intern!(py, "register_at_fork"), (), Some(&kwargs))?;
    Ok(())
}

/// A core validator, the fork generation it was built in, and how to build it again.
struct Handle {
    builder: ValidatorBuilder,
    validator: Mutex<(u64, Validator)>,
}

impl Handle {
    fn new(py: Python<'_>, builder: ValidatorBuilder) -> PyResult<Handle> {
        let validator = builder.clone().build().or_raise(py)?;
        Ok(Handle {
            builder,
            validator: Mutex::new((FORK_GENERATION.load(Ordering::Relaxed), validator)),
        })
    }

    /// The validator of this process, rebuilt after a fork: the parent's HTTP pool belongs to
    /// the parent's runtime, and a lock a parent's thread held at the fork stays held here.
    fn get(&self, py: Python<'_>) -> PyResult<Validator> {
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        let mut slot = self.validator.lock().unwrap_or_else(|e| e.into_inner());
        if slot.0 != generation {
            let fresh = self.builder.clone().build().or_raise(py)?;
            let stale = std::mem::replace(&mut *slot, (generation, fresh));
            // Its pool holds tasks of the parent's runtime: never drop it here.
            std::mem::forget(stale);
        }
        Ok(slot.1.clone())
    }

    fn current(&self) -> Validator {
        self.validator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    fn repr(&self, class: &str) -> String {
        let v = self.current();
        format!(
            "{class}(trusted_issuers={:?}, jwks_urls={:?})",
            v.trusted_issuers(),
            v.jwks_urls()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// How a call ends: the cached answer, or the core's async path.

/// `Validator`: the cached answer, else `fetch()` run to completion with the GIL released.
fn finish_sync<T, F, C>(
    py: Python<'_>,
    function: &'static str,
    ready: Option<runbeam_core::Result<T>>,
    fetch: impl FnOnce() -> F,
    conv: C,
) -> PyResult<Py<PyAny>>
where
    T: Send,
    F: Future<Output = runbeam_core::Result<T>> + Send,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>>,
{
    let value = match ready {
        Some(result) => result.or_raise(py)?,
        None => run_sync(py, function, fetch())?,
    };
    conv(py, value)
}

/// `AsyncValidator`: an asyncio future of the running loop, completed now with the cached
/// answer, else completed by `fetch()` spawned on the module's runtime.
fn finish_async<'py, T, F, C>(
    py: Python<'py>,
    function: &'static str,
    ready: Option<runbeam_core::Result<T>>,
    fetch: impl FnOnce() -> F,
    conv: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let Some(result) = ready else {
        return run_async(py, function, fetch(), conv);
    };
    completed_future(py, result.or_raise(py).and_then(|value| conv(py, value)))
}

/// An asyncio future of the running loop, already completed with `outcome` (its value or its
/// exception): the answer of an async call that needed no I/O.
pub(crate) fn completed_future<'py>(
    py: Python<'py>,
    outcome: PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let future = py
        .import(intern!(py, "asyncio"))?
        .call_method0(intern!(py, "get_running_loop"))?
        .call_method0(intern!(py, "create_future"))?;
    match outcome {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(err) => future.call_method1(intern!(py, "set_exception"), (err.into_value(py),))?,
    };
    Ok(future)
}

// ---------------------------------------------------------------------------------------------
// The classes.

/// Validates Runbeam JWTs and mesh tokens (blocking; a key fetch waits with the GIL released).
#[pyclass(frozen, module = "runbeam", name = "Validator")]
pub struct PyValidator {
    handle: Handle,
}

/// The asyncio form of `Validator`: every call returns an awaitable.
#[pyclass(frozen, module = "runbeam", name = "AsyncValidator")]
pub struct PyAsyncValidator {
    handle: Handle,
}

// The constructors' defaults are written as literals so that Python shows them.
const _: () = {
    assert!(DEFAULT_LEEWAY.as_secs() == 60);
    assert!(DEFAULT_JWKS_TTL.as_secs() == 3600);
    assert!(DEFAULT_MIN_REFRESH_INTERVAL.as_secs() == 30);
    assert!(DEFAULT_MAX_STALE.as_secs() == 86400);
    assert!(DEFAULT_CACHE_CAPACITY == 10000);
    assert!(DEFAULT_JWKS_DEADLINE.as_secs() == 10);
};

/// The `#[pymethods]` of one validator class: its constructor and shared members, then one
/// shell per call of the shared list (see `validator_classes!`).
///
/// `$out` is what a call returns to Python and `$finish` how it ends: `Py<PyAny>` with
/// [`finish_sync`] or `Bound<'py, PyAny>` with [`finish_async`].
macro_rules! validator_class {
    (
        $class:ident, $repr:literal, $out:ty, $finish:path;
        $(
            $(#[$attr:meta])*
            fn $name:ident($py:ident, $v:ident $(, $arg:ident: $ty:ty)*) -> $convert:path {
                cached $cached:block
                fetch $fetch:block
            }
        )*
    ) => {
        guarded! {
            $repr;
            #[pymethods]
            impl $class {
                #[new]
                #[pyo3(signature = (*, trusted_issuers=None, jwks_url=None, algorithms=None, audiences=None, required_claims=None, leeway=60.0, jwks_ttl=3600.0, min_refresh_interval=30.0, max_stale=86400.0, cache_capacity=10000, allow_insecure_http=false, deadline=10.0, ca_bundle_pem=None))]
                #[allow(clippy::too_many_arguments)]
                fn new(
                    py: Python<'_>,
                    trusted_issuers: Option<Vec<String>>,
                    jwks_url: Option<String>,
                    algorithms: Option<Vec<String>>,
                    audiences: Option<Vec<String>>,
                    required_claims: Option<Vec<String>>,
                    leeway: f64,
                    jwks_ttl: f64,
                    min_refresh_interval: f64,
                    max_stale: f64,
                    cache_capacity: usize,
                    allow_insecure_http: bool,
                    deadline: f64,
                    ca_bundle_pem: Option<Pem>,
                ) -> PyResult<Self> {
                    let builder = builder(
                        py,
                        trusted_issuers,
                        jwks_url,
                        algorithms,
                        audiences,
                        required_claims,
                        leeway,
                        jwks_ttl,
                        min_refresh_interval,
                        max_stale,
                        cache_capacity,
                        allow_insecure_http,
                        deadline,
                        ca_bundle_pem,
                    )?;
                    Ok($class { handle: Handle::new(py, builder)? })
                }

                /// The trusted issuers, normalised.
                #[getter]
                fn trusted_issuers(&self) -> Vec<String> {
                    self.handle.current().trusted_issuers().to_vec()
                }

                /// The JWKS URLs keys are fetched from.
                #[getter]
                fn jwks_urls(&self) -> Vec<String> {
                    self.handle.current().jwks_urls()
                }

                /// Verified tokens currently remembered.
                #[getter]
                fn cached_tokens(&self) -> usize {
                    self.handle.current().cached_tokens()
                }

                /// Forgets every verified token (keys stay cached). Immediate, also on
                /// `AsyncValidator`.
                fn flush_token_cache(&self) {
                    self.handle.current().flush_token_cache();
                }

                fn __repr__(&self) -> String {
                    self.handle.repr($repr)
                }

                $(
                    $(#[$attr])*
                    fn $name<'py>(&self, $py: Python<'py>, $($arg: $ty),*) -> PyResult<$out> {
                        let $v = self.handle.get($py)?;
                        let ready = $cached;
                        $finish($py, concat!($repr, ".", stringify!($name)), ready, move || $fetch, $convert)
                    }
                )*
            }
        }
    };
}

/// Both validator classes from one list of calls. Each call is written once, as
/// `fn name(py, v, args...) -> convert { cached {..} fetch {..} }`: `cached` evaluates the
/// core's no-I/O path on the validator `v` (`None`: keys must be fetched), `fetch` a `'static`
/// future of the core's async path, run only when `cached` gave `None`.
macro_rules! validator_classes {
    ($($calls:tt)*) => {
        validator_class!(PyValidator, "Validator", Py<PyAny>, finish_sync; $($calls)*);
        validator_class!(PyAsyncValidator, "AsyncValidator", Bound<'py, PyAny>, finish_async; $($calls)*);
    };
}

validator_classes! {
    /// Verifies `token` and returns its claims; keys are fetched first when none are cached,
    /// their TTL has passed, or the token names an unknown `kid`.
    fn validate(py, v, token: &str) -> claims {
        cached { cached_path(py, || v.validate_cached(token)) }
        fetch {
            let token = token.to_owned();
            async move { v.validate(&token).await }
        }
    }

    /// `validate` plus the mesh-token checks: `aud` is `mesh:<mesh_id>`, the `mesh_id` claim
    /// matches, and `destination_url` (when given) lies under the token's `dest_url`.
    #[pyo3(signature = (token, mesh_id, destination_url=None))]
    fn verify_mesh_token(py, v, token: &str, mesh_id: &str, destination_url: Option<&str>)
        -> claims
    {
        cached {
            cached_path(py, || v.verify_mesh_token_cached(token, mesh_id, destination_url))
        }
        fetch {
            let (token, mesh_id) = (token.to_owned(), mesh_id.to_owned());
            let destination_url = destination_url.map(str::to_owned);
            async move { v.verify_mesh_token(&token, &mesh_id, destination_url.as_deref()).await }
        }
    }

    /// Fetches every JWKS now (at start-up, so the first request does not wait); respects
    /// the minimum refresh interval.
    fn refresh_keys(py, v) -> nothing {
        cached { None }
        fetch { async move { v.refresh_keys().await } }
    }
}

guarded! {
    /// The token of an `Authorization` header value (`Bearer <token>`, scheme in any case).
    /// Raises `JwtInvalidError` saying what is wrong; the message never quotes the header.
    #[pyfunction]
    pub fn parse_bearer(py: Python<'_>, header: &str) -> PyResult<String> {
        runbeam_core::jwt::parse_bearer(header)
            .map(str::to_owned)
            .or_raise(py)
    }
}
