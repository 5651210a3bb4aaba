//! `runbeam.Validator`, `runbeam.AsyncValidator`, `runbeam.Claims` and `runbeam.parse_bearer`:
//! the JWT validator of the core (docs/spec.md §4).
//!
//! Both classes wrap one [`runbeam_core::jwt::Validator`]; every check is the core's. A call is
//! the core's cached-then-fetch step ([`Validator::validate_attempt`]), routed by
//! [`crate::offload`]: a token this validator verified before (a cache hit) is answered on the
//! calling thread with the GIL held; anything else (a signature to check) runs with the GIL
//! released (`Validator`) or on the module's runtime (`AsyncValidator`, the awaitable completed
//! on its event loop); a key fetch runs on the runtime either way (see [`crate::runtime`]).

use std::sync::Arc;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use runbeam_core::jwt::{
    Algorithm, Audience, Claims, DEFAULT_CACHE_CAPACITY, DEFAULT_JWKS_DEADLINE, DEFAULT_JWKS_TTL,
    DEFAULT_LEEWAY, DEFAULT_MAX_STALE, DEFAULT_MIN_REFRESH_INTERVAL, TokenTeam, TokenUser,
    Validator, ValidatorBuilder,
};

use runbeam_core::Secret;
use runbeam_core::attempt::Attempt;

use crate::convert::{json_to_py, non_negative, nothing, seconds};
use crate::errors::{OrRaise, to_py_err};
use crate::fork::ForkSafe;
use crate::guard::guarded;
use crate::offload::{immediate, route, route_batch};
use crate::pair::class_pair;
use crate::runtime::runtime;
use crate::stats::PyValidatorStats;

// ---------------------------------------------------------------------------------------------
// Claims.

/// The `user` claim of a Runbeam user JWT.
#[pyclass(frozen, module = "runbeam", name = "TokenUser")]
#[derive(PartialEq)]
pub struct PyTokenUser {
    /// The user's id (a number is given as its decimal text).
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

        // Python's own repr of each field: `TokenUser(id='7', email='bob@…', name=None)`.
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "TokenUser(id={}, email={}, name={})",
                self.id.as_str().into_pyobject(py)?.repr()?,
                self.email.as_deref().into_pyobject(py)?.repr()?,
                self.name.as_deref().into_pyobject(py)?.repr()?
            ))
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

        // Python's own repr of each field: `TokenTeam(id='3', name='Radiology Department')`.
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "TokenTeam(id={}, name={})",
                self.id.as_str().into_pyobject(py)?.repr()?,
                self.name.as_deref().into_pyobject(py)?.repr()?
            ))
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

        /// The Runbeam Cloud API URL this user JWT was issued by: the origin
        /// (`scheme://host[:port]`) of `iss`, for `Client(...)`. Raises
        /// `InvalidArgumentError` when `iss` is missing or not an http(s) URL.
        fn api_base_url(&self, py: Python<'_>) -> PyResult<String> {
            self.claims.api_base_url().or_raise(py)
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

/// The settings a `Validator` or `AsyncValidator` was made with (for the resolver's
/// mesh-token validators); a `TypeError` for anything else.
pub(crate) fn validator_settings(arg: &Bound<'_, PyAny>) -> PyResult<ValidatorBuilder> {
    if let Ok(v) = arg.cast::<PyValidator>() {
        return Ok(v.get().inner.builder.clone());
    }
    if let Ok(v) = arg.cast::<PyAsyncValidator>() {
        return Ok(v.get().inner.builder.clone());
    }
    Err(PyTypeError::new_err(format!(
        "validator must be a runbeam.Validator or runbeam.AsyncValidator, not {}",
        arg.get_type().name()?
    )))
}

/// The stats of a `Validator` or `AsyncValidator` (for `prometheus_text`); `None` for anything
/// else.
pub(crate) fn validator_stats(
    obj: &Bound<'_, PyAny>,
) -> Option<PyResult<runbeam_core::metrics::ValidatorStats>> {
    let py = obj.py();
    if let Ok(v) = obj.cast::<PyValidator>() {
        return Some(v.get().inner.get(py).map(|v| v.stats()));
    }
    if let Ok(v) = obj.cast::<PyAsyncValidator>() {
        return Some(v.get().inner.get(py).map(|v| v.stats()));
    }
    None
}

pub(crate) fn claims(py: Python<'_>, claims: Arc<Claims>) -> PyResult<Py<PyAny>> {
    PyClaims { claims }.into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// A batch of tokens (`validate_many`).

/// One token's answer in a batch.
type Outcome = runbeam_core::Result<Arc<Claims>>;

/// The tokens of a `validate_many` call, the answers the core's cache gave for its first ones
/// (`known`), and the runtime part of the rest may run on.
struct Batch {
    tokens: Arc<[Secret]>,
    known: Vec<Outcome>,
    runtime: tokio::runtime::Handle,
}

impl Batch {
    fn new(py: Python<'_>, tokens: Vec<String>) -> PyResult<Batch> {
        Ok(Batch {
            tokens: tokens.into_iter().map(Secret::new).collect(),
            known: Vec::new(),
            runtime: runtime(py)?.handle().clone(),
        })
    }

    /// Asks the core's cache for each token in order (`validate_if_remembered`), keeping the
    /// answers, until one needs a check (a batch of new tokens: one hash); whether all were
    /// answered. Each answer is counted once, as `validate` counts it.
    fn remembered(v: &Validator, batch: &mut Batch) -> bool {
        for token in batch.tokens.iter().skip(batch.known.len()) {
            match v.validate_if_remembered(token.expose()) {
                Some(answer) => batch.known.push(answer),
                None => return false,
            }
        }
        true
    }
}

/// A token's answer now, or the key fetch it waits for.
enum Slot {
    Done(Outcome),
    Wait(runbeam_core::attempt::PendingFuture<Arc<Claims>>),
}

impl Slot {
    fn of(v: &Validator, token: &Secret) -> Slot {
        match v.validate_attempt(token.expose()) {
            Attempt::Ready(outcome) => Slot::Done(outcome),
            Attempt::Pending(fetch) => Slot::Wait(fetch),
        }
    }

    async fn outcome(self) -> Outcome {
        match self {
            Slot::Done(outcome) => outcome,
            Slot::Wait(fetch) => fetch.await,
        }
    }
}

/// The second half of a batch, on a thread of the runtime's blocking pool: never in a worker's
/// own queue, where a task spawned by the job (itself on a worker, for `AsyncValidator`) would
/// wait for the job's half to end before another worker could take it. Its key fetches are
/// awaited by [`Rest::join`]. Dropped before it ends (the awaitable was cancelled, Ctrl-C, the
/// first half panicked), it stops before its next token.
struct Rest {
    task: tokio::task::JoinHandle<Vec<Slot>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Rest {
    fn spawn(v: &Validator, batch: &Batch, from: usize) -> Rest {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (v, tokens, stopped) = (v.clone(), Arc::clone(&batch.tokens), Arc::clone(&stop));
        let task = batch.runtime.spawn_blocking(move || {
            let rest = tokens.get(from..).unwrap_or_default();
            let mut out = Vec::with_capacity(rest.len());
            for token in rest {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                out.push(Slot::of(&v, token));
            }
            out
        });
        Rest { task, stop }
    }

    async fn join(mut self) -> runbeam_core::Result<Vec<Outcome>> {
        let slots = match (&mut self.task).await {
            Ok(slots) => slots,
            // Re-raised here, so that the call's panic boundary makes it its InternalError.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                return Err(runbeam_core::Error::new(
                    runbeam_core::ErrorKind::Internal,
                    "the runtime stopped while a batch was checked",
                ));
            }
        };
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            out.push(slot.outcome().await);
        }
        Ok(out)
    }
}

impl Drop for Rest {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.abort();
    }
}

/// `validate_many`'s step: the answers `known` from the cache, then each other token's
/// `validate_attempt`, in order. Off the calling thread (`off`) and with two tokens or more
/// left, the second half of them runs on a runtime thread meanwhile (both cores for one call);
/// the first half's key fetches and the second half are awaited after (a pending attempt).
fn validate_batch(v: &Validator, batch: Batch, off: bool) -> Attempt<Vec<Outcome>> {
    let (n, from) = (batch.tokens.len(), batch.known.len());
    let left = n.saturating_sub(from);
    let here = from
        + if off && left >= 2 {
            left.div_ceil(2)
        } else {
            left
        };
    let rest = (here < n).then(|| Rest::spawn(v, &batch, here));
    let slots: Vec<Slot> = batch
        .tokens
        .get(from..here)
        .unwrap_or_default()
        .iter()
        .map(|t| Slot::of(v, t))
        .collect();
    let mut out = batch.known;
    if rest.is_none() && slots.iter().all(|s| matches!(s, Slot::Done(_))) {
        out.extend(slots.into_iter().filter_map(|s| match s {
            Slot::Done(outcome) => Some(outcome),
            Slot::Wait(_) => None,
        }));
        return Attempt::Ready(Ok(out));
    }
    Attempt::pending(async move {
        out.reserve(n - out.len());
        for slot in slots {
            out.push(slot.outcome().await);
        }
        if let Some(rest) = rest {
            out.extend(rest.join().await?);
        }
        Ok(out)
    })
}

/// A batch's answers as a list: each token's `Claims`, or its exception (not raised).
fn claims_list(py: Python<'_>, outcomes: Vec<Outcome>) -> PyResult<Py<PyAny>> {
    let items = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(c) => claims(py, c),
            Err(e) => Ok(to_py_err(py, &e).into_value(py).into_any()),
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)?.into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// Settings and the fork-aware handle.

/// A PEM bundle given as `bytes` or `str`.
#[derive(FromPyObject)]
enum Pem {
    Bytes(Vec<u8>),
    Text(String),
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

/// A core validator and how to build it again in a forked child (the parent's HTTP pool
/// belongs to the parent's runtime).
struct Handle {
    builder: ValidatorBuilder,
    validator: ForkSafe<Validator>,
}

impl Handle {
    fn new(py: Python<'_>, builder: ValidatorBuilder) -> PyResult<Handle> {
        let validator = builder.clone().build().or_raise(py)?;
        Ok(Handle {
            builder,
            validator: ForkSafe::new(validator),
        })
    }

    /// The validator of this process.
    fn get(&self, py: Python<'_>) -> PyResult<Validator> {
        self.validator
            .get(|| self.builder.clone().build().or_raise(py))
    }
}

// ---------------------------------------------------------------------------------------------
// The classes.

class_pair! {
    /// Validates Runbeam user JWTs and mesh tokens (docs/spec.md §4), blocking; a signature
    /// check and a key fetch run with the GIL released, a repeated token (a cache hit) is
    /// answered with it held.
    ///
    /// Trust is explicit: give `trusted_issuers` (exact match after normalisation, never a
    /// prefix; keys from `<issuer>/.well-known/jwks.json`) and/or a pinned `jwks_url`. A token
    /// of an untrusted issuer is refused before any network request. Keys are fetched on first
    /// use (or by `refresh_keys` at start-up) and cached; a repeated token is answered from a
    /// bounded cache of verified tokens, its time claims re-checked on every hit.
    ///
    /// Times are in seconds; the defaults are the core's. `algorithms` defaults to
    /// `["RS256"]`; `none` and HMAC are never accepted.
    ///
    /// Raises: `JwtInvalidError` (malformed, bad signature, unknown key, wrong audience,
    /// missing claim, not yet valid), `JwtExpiredError`, `UntrustedIssuerError`, or the key
    /// fetch's error (`TransportError`, `RunbeamTimeoutError`, …); `InvalidArgumentError` for
    /// bad settings. Messages never quote the token.
    sync PyValidator = "Validator";
    /// The asyncio form of `Validator` (the same arguments): `validate`, `authenticate`,
    /// `verify_mesh_token` and `refresh_keys` return awaitables: already completed for a
    /// repeated token (a cache hit); a signature check runs on a runbeam thread, so the event
    /// loop stays free and many checks use every core.
    async PyAsyncValidator = "AsyncValidator";
    holds Handle;
    members {
        #[new]
        #[pyo3(signature = (
            *,
            trusted_issuers=None,
            jwks_url=None,
            algorithms=None,
            audiences=None,
            required_claims=None,
            leeway=DEFAULT_LEEWAY.as_secs_f64(),
            jwks_ttl=DEFAULT_JWKS_TTL.as_secs_f64(),
            min_refresh_interval=DEFAULT_MIN_REFRESH_INTERVAL.as_secs_f64(),
            max_stale=DEFAULT_MAX_STALE.as_secs_f64(),
            cache_capacity=DEFAULT_CACHE_CAPACITY,
            allow_insecure_http=false,
            deadline=DEFAULT_JWKS_DEADLINE.as_secs_f64(),
            ca_bundle_pem=None,
        ))]
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
            Ok(Self { inner: Handle::new(py, builder)? })
        }

        /// The trusted issuers, normalised.
        #[getter]
        fn trusted_issuers(&self, py: Python<'_>) -> PyResult<Vec<String>> {
            Ok(self.inner.get(py)?.trusted_issuers().to_vec())
        }

        /// The JWKS URLs keys are fetched from.
        #[getter]
        fn jwks_urls(&self, py: Python<'_>) -> PyResult<Vec<String>> {
            Ok(self.inner.get(py)?.jwks_urls())
        }

        /// Verified tokens currently remembered.
        #[getter]
        fn cached_tokens(&self, py: Python<'_>) -> PyResult<usize> {
            Ok(self.inner.get(py)?.cached_tokens())
        }

        /// Counters since the validator was built (`ValidatorStats`: cache hits,
        /// verifications, JWKS fetches and their failures, refusals by kind), a snapshot.
        /// Immediate, also on `AsyncValidator`.
        fn stats(&self, py: Python<'_>) -> PyResult<PyValidatorStats> {
            Ok(PyValidatorStats(self.inner.get(py)?.stats()))
        }

        /// Forgets every verified token (keys stay cached). Immediate, also on
        /// `AsyncValidator`.
        fn flush_token_cache(&self, py: Python<'_>) -> PyResult<()> {
            self.inner.get(py)?.flush_token_cache();
            Ok(())
        }

        /// `authenticate` without I/O: the claims when the answer is known now (the keys are
        /// cached), `None` when keys must be fetched first. Raises like `authenticate`.
        /// Immediate, also on `AsyncValidator` (what the ASGI middleware calls first).
        #[pyo3(signature = (authorization))]
        fn authenticate_cached(
            &self,
            py: Python<'_>,
            authorization: Option<&str>,
        ) -> PyResult<Option<Py<PyAny>>> {
            let v = self.inner.get(py)?;
            let remembered = |v: &Validator| v.authenticate_if_remembered(authorization);
            match immediate(py, &v, remembered, |v| v.authenticate_cached(authorization)) {
                Some(answer) => Ok(Some(claims(py, answer.or_raise(py)?)?)),
                None => Ok(None),
            }
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let v = self.inner.get(py)?;
            Ok(format!(
                "{}(trusted_issuers={:?}, jwks_urls={:?})",
                Self::NAME,
                v.trusted_issuers(),
                v.jwks_urls()
            ))
        }
    }
    calls {
        /// Verifies `token` and returns its claims; keys are fetched first when none are cached,
        /// their TTL has passed, or the token names an unknown `kid`.
        fn validate(py, v, token: &str) -> claims {
            let remembered = |v: &Validator| v.validate_if_remembered(token);
            route(&v, remembered, Secret::new(token.to_owned()), |v, t| {
                v.validate_attempt(t.expose())
            })
        }

        /// An inbound request's user JWT, as a middleware sees it: the token of the
        /// `Authorization` header value `authorization` (`None`: the request had no such
        /// header) validated, and its claims returned. A missing or malformed header raises
        /// `JwtInvalidError`, like a bad token; give the error to `refusal_for(error,
        /// "user_token")` for the HTTP answer (401 with `WWW-Authenticate`, …).
        ///
        /// ```python
        /// claims = validator.authenticate(request.headers.get("authorization"))
        /// ```
        #[pyo3(signature = (authorization))]
        fn authenticate(py, v, authorization: Option<&str>) -> claims {
            let header = authorization.map(|h| Secret::new(h.to_owned()));
            let remembered = |v: &Validator| v.authenticate_if_remembered(authorization);
            route(&v, remembered, header, |v, h| {
                v.authenticate_attempt(h.as_ref().map(Secret::expose))
            })
        }

        /// Verifies every token of `tokens` (a list or tuple of `str`) and returns a list in
        /// the same order: each token's `Claims`, or the exception `validate` raises for it,
        /// returned rather than raised (as `asyncio.gather(..., return_exceptions=True)`).
        /// Each answer, error, counter and cache entry is the one `validate` gives for that
        /// token.
        ///
        /// For a consumer with tokens in hand (a message batch): the signature checks leave the
        /// GIL holder as in `validate` and a batch is split over two threads (the calling
        /// thread and a runbeam thread for `Validator`, two runbeam threads for
        /// `AsyncValidator`); on `AsyncValidator` the whole batch is one awaitable, so the event
        /// loop pays for one future instead of one per token. A batch the token cache answers
        /// whole is answered at once, on the calling thread. A key fetch a token needs is
        /// awaited before the answer. Cancelling the awaitable (or Ctrl-C for `Validator`)
        /// abandons the tokens not yet checked.
        ///
        /// ```python
        /// for message, result in zip(messages, await validator.validate_many(tokens)):
        ///     if isinstance(result, runbeam.RunbeamError):
        ///         reject(message, result)
        /// ```
        fn validate_many(py, v, tokens: Vec<String>) -> claims_list {
            route_batch(&v, Batch::new(py, tokens)?, Batch::remembered, validate_batch)
        }

        /// `validate` plus the mesh-token checks: `aud` is `mesh:<mesh_id>`, the `mesh_id` claim
        /// matches, and `destination_url` (when given) lies under the token's `dest_url`.
        #[pyo3(signature = (token, mesh_id, destination_url=None))]
        fn verify_mesh_token(py, v, token: &str, mesh_id: &str, destination_url: Option<&str>)
            -> claims
        {
            let args = (
                Secret::new(token.to_owned()),
                mesh_id.to_owned(),
                destination_url.map(str::to_owned),
            );
            let remembered =
                |v: &Validator| v.verify_mesh_token_if_remembered(token, mesh_id, destination_url);
            route(&v, remembered, args, |v, (t, m, d)| {
                v.verify_mesh_token_attempt(t.expose(), m, d.as_deref())
            })
        }

        /// Fetches every JWKS now (at start-up, so the first request does not wait); respects
        /// the minimum refresh interval.
        fn refresh_keys(py, v) -> nothing {
            Attempt::pending(async move { v.refresh_keys().await })
        }
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
