//! `runbeam.Client` and `runbeam.AsyncClient`: the Runbeam Cloud API client of the core.
//!
//! Both wrap one [`runbeam_core::Client`]. Every request runs on one tokio runtime owned by
//! this module: created on first use and rebuilt in a child process after `os.fork` (the
//! runtime's threads do not survive a fork; the pid it was built in is checked on every call).
//! A client used in a forked child likewise rebuilds its core client (and so its connection
//! pool) from the settings it was created with.
//!
//! - `Client` (sync) waits with the GIL released (`py.detach`), waking every 100 ms to run
//!   Python signal handlers, so Ctrl-C cancels a call.
//! - `AsyncClient` returns asyncio futures: the request is spawned on the module's runtime and
//!   its result is handed to the caller's event loop with `call_soon_threadsafe`. Cancelling
//!   the future aborts the request.
//!
//! Every error is raised as the class of its kind (see [`crate::errors`]) with `status`,
//! `retry_after` and `field_errors` filled in.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use runbeam_core::client::{
    Acknowledgement, AuthorizeRequest, AuthorizeResult, BaseUrl, Change, Collection, Jwks,
    MeshTokenResult, Page, PageCursor, PageRequest, ResolveResult, ResolvedResource, Resource,
    RetryPolicy, UpdateKind, UpdateRequest, UpdateResult,
};
use runbeam_core::{Client, Reference, Secret};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::errors::{OrRaise, invalid_argument, to_py_err};
use crate::guard::{self, guarded};
use crate::reference::PyReference;

// ---------------------------------------------------------------------------------------------
// The runtime.

/// The module's runtime and the pid of the process that built it.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

pub(crate) fn runtime(py: Python<'_>) -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = slot.as_ref()
        && *owner == pid
    {
        return Ok(rt.clone());
    }
    // After a fork the parent's worker threads do not exist here: dropping that runtime could
    // wait for them forever, so it is leaked on purpose.
    if let Some(stale) = slot.take() {
        std::mem::forget(stale);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("runbeam-py")
        .enable_all()
        .build()
        .map_err(|e| {
            to_py_err(
                py,
                &runbeam_core::Error::new(
                    runbeam_core::ErrorKind::Internal,
                    format!("cannot start the I/O runtime: {e}"),
                ),
            )
        })?;
    let rt = Arc::new(rt);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}

/// Runs `fut` to completion with the GIL released, checking for signals every 100 ms. A panic
/// while it runs is the `InternalError` of `function`.
pub(crate) fn run_sync<T, F>(py: Python<'_>, function: &'static str, fut: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = runbeam_core::Result<T>> + Send,
{
    let rt = runtime(py)?;
    let mut fut = std::pin::pin!(runbeam_core::panic::catch_future(function, fut));
    loop {
        let step = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(100), &mut fut).await })
        });
        match step {
            Ok(result) => return result.or_raise(py),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

guarded! {
    /// Completes an asyncio future on its loop's thread (called through `call_soon_threadsafe`).
    #[pyfunction]
    fn complete_future(future: &Bound<'_, PyAny>, ok: bool, value: Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        if ok {
            future.call_method1(intern!(py, "set_result"), (value,))?;
        } else {
            future.call_method1(intern!(py, "set_exception"), (value,))?;
        }
        Ok(())
    }
}

/// `add_done_callback` of an asyncio future: aborts the request when the future is cancelled.
#[pyclass(frozen)]
struct Canceller {
    handle: tokio::task::AbortHandle,
}

guarded! {
    "Canceller";
    #[pymethods]
    impl Canceller {
        fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
            if future
                .call_method0(intern!(future.py(), "cancelled"))?
                .is_truthy()?
            {
                self.handle.abort();
            }
            Ok(())
        }
    }
}

/// Answers being handed to an event loop by runtime threads, and whether the interpreter is
/// exiting (see [`at_exit`]).
static DELIVERIES: AtomicUsize = AtomicUsize::new(0);
static EXITING: AtomicBool = AtomicBool::new(false);

/// One runtime thread entering Python (an answer handed to an event loop, a user callback);
/// `None` once the interpreter is exiting.
pub(crate) struct Delivery;

impl Delivery {
    /// Counts this thread in, unless the interpreter is exiting.
    pub(crate) fn start() -> Option<Delivery> {
        // Counted before the flag is read, so that `at_exit` either sees this delivery or
        // this delivery sees the flag.
        DELIVERIES.fetch_add(1, Ordering::SeqCst);
        if EXITING.load(Ordering::SeqCst) {
            DELIVERIES.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Delivery)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        DELIVERIES.fetch_sub(1, Ordering::SeqCst);
    }
}

guarded! {
    /// `_native._at_exit()`, registered with `atexit` at import: stops runtime threads from
    /// entering Python and waits for those already inside. A thread that wakes an event loop
    /// (`call_soon_threadsafe` writes to a socket with the GIL released) while the
    /// interpreter finalizes is ended by CPython with `pthread_exit`, which aborts the
    /// process as it unwinds through Rust frames; atexit handlers run before that point.
    #[pyfunction(name = "_at_exit")]
    pub(crate) fn at_exit(py: Python<'_>) {
        EXITING.store(true, Ordering::SeqCst);
        py.detach(|| {
            // Bounded: a delivery takes microseconds; never hang the exit on a stuck one.
            for _ in 0..1000 {
                if DELIVERIES.load(Ordering::SeqCst) == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
}

/// Spawns `fut` on the module's runtime; returns an asyncio future of the running loop that
/// gets `conv(result)` or the error. A panic in `fut` or `conv` completes it with the
/// `InternalError` of `function` (the future is never left pending).
pub(crate) fn run_async<'py, T, F, C>(
    py: Python<'py>,
    function: &'static str,
    fut: F,
    conv: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let rt = runtime(py)?;
    let event_loop = py
        .import(intern!(py, "asyncio"))?
        .call_method0(intern!(py, "get_running_loop"))?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let loop_ref = event_loop.unbind();
    let future_ref = future.clone().unbind();
    let handle = rt.spawn(async move {
        let result = runbeam_core::panic::catch_future(function, fut).await;
        let Some(_delivery) = Delivery::start() else {
            // The interpreter is shutting down: nobody can await the answer any more.
            return;
        };
        Python::attach(|py| {
            let outcome = result
                .map_err(|e| to_py_err(py, &e))
                .and_then(|value| guard::result(function, || conv(py, value)));
            let (ok, value) = match outcome {
                Ok(value) => (true, value),
                Err(err) => (false, err.into_value(py).into_any()),
            };
            let delivered = wrap_pyfunction!(complete_future, py).and_then(|complete| {
                loop_ref.bind(py).call_method1(
                    intern!(py, "call_soon_threadsafe"),
                    (complete, future_ref.bind(py), ok, value),
                )
            });
            // The loop is closed: nobody is waiting any more.
            drop(delivered);
        });
    });
    future.call_method1(
        intern!(py, "add_done_callback"),
        (Canceller {
            handle: handle.abort_handle(),
        },),
    )?;
    Ok(future)
}

// ---------------------------------------------------------------------------------------------
// Conversions.

pub(crate) fn json_to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_py_any(py)?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_py_any(py)?
            } else if let Some(u) = n.as_u64() {
                u.into_py_any(py)?
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_py_any(py)?
            }
        }
        Value::String(s) => s.into_py_any(py)?,
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|v| json_to_py(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

pub(crate) fn to_json<S: serde::Serialize + ?Sized>(
    py: Python<'_>,
    value: &S,
) -> PyResult<Py<PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| {
        to_py_err(
            py,
            &runbeam_core::Error::new(runbeam_core::ErrorKind::Internal, e.to_string()),
        )
    })?;
    json_to_py(py, &value)
}

/// A JSON-serializable Python object (`json.dumps`) as a JSON value.
pub(crate) fn py_to_json(body: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = body.py();
    let text: String = py
        .import(intern!(py, "json"))?
        .call_method1(intern!(py, "dumps"), (body,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| invalid_argument(py, format!("body: {e}")))
}

static UTC: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// An aware `datetime.datetime` in UTC.
pub(crate) fn datetime(py: Python<'_>, at: time::OffsetDateTime) -> PyResult<Py<PyAny>> {
    let (from_timestamp, utc) = UTC.get_or_try_init(py, || -> PyResult<_> {
        let module = py.import(intern!(py, "datetime"))?;
        let from_timestamp = module
            .getattr(intern!(py, "datetime"))?
            .getattr(intern!(py, "fromtimestamp"))?;
        let utc = module
            .getattr(intern!(py, "timezone"))?
            .getattr(intern!(py, "utc"))?;
        Ok((from_timestamp.unbind(), utc.unbind()))
    })?;
    let seconds = at.unix_timestamp() as f64 + f64::from(at.nanosecond()) / 1e9;
    Ok(from_timestamp
        .bind(py)
        .call1((seconds, utc.bind(py)))?
        .unbind())
}

fn collection(py: Python<'_>, name: &str) -> PyResult<Collection> {
    Collection::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Collection::ALL.iter().map(|c| c.name()).collect();
        invalid_argument(
            py,
            format!(
                "unknown collection {name:?}; expected one of {}",
                names.join(", ")
            ),
        )
    })
}

fn reference(arg: &Bound<'_, PyAny>) -> PyResult<Reference> {
    if let Ok(r) = arg.cast::<PyReference>() {
        return Ok(r.get().0.clone());
    }
    let text: String = arg.extract()?;
    Reference::parse(&text).or_raise(arg.py())
}

pub(crate) fn seconds(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    if !(value.is_finite() && value > 0.0) {
        return Err(invalid_argument(
            py,
            format!("{name} must be a positive number of seconds"),
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| invalid_argument(py, format!("{name}: {e}")))
}

/// What a client was built from, kept to rebuild it in a forked child: the parent's connection
/// pool belongs to the parent's runtime, so reusing it in the child would hang.
#[derive(Clone)]
struct Settings {
    api_url: String,
    token: Option<Secret>,
    connect_timeout: Duration,
    request_timeout: Duration,
    deadline: Option<Duration>,
    max_attempts: u32,
    ca_bundle: Option<PathBuf>,
    allow_insecure_http: bool,
    max_body_bytes: usize,
}

impl Settings {
    fn build(&self) -> runbeam_core::Result<Client> {
        let mut builder = Client::builder(self.api_url.as_str())
            .connect_timeout(self.connect_timeout)
            .request_timeout(self.request_timeout)
            .retry(RetryPolicy::default().with_max_attempts(self.max_attempts)?)
            .allow_insecure_http(self.allow_insecure_http)
            .max_body_bytes(self.max_body_bytes)
            .language("python");
        if let Some(deadline) = self.deadline {
            builder = builder.deadline(deadline);
        }
        if let Some(token) = &self.token {
            builder = builder.token(token.clone());
        }
        if let Some(path) = &self.ca_bundle {
            builder = builder.ca_bundle_file(path);
        }
        builder.build()
    }
}

/// A core client and the pid of the process that built it.
struct Handle {
    settings: Settings,
    client: Mutex<(u32, Client)>,
}

impl Handle {
    fn new(py: Python<'_>, settings: Settings) -> PyResult<Handle> {
        let client = settings.build().or_raise(py)?;
        Ok(Handle {
            settings,
            client: Mutex::new((std::process::id(), client)),
        })
    }

    /// The client of this process (rebuilt after a fork).
    fn get(&self, py: Python<'_>) -> PyResult<Client> {
        let pid = std::process::id();
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if slot.0 != pid {
            let fresh = self.settings.build().or_raise(py)?;
            let stale = std::mem::replace(&mut *slot, (pid, fresh));
            // Its pool holds tasks of the parent's runtime: never drop it here.
            std::mem::forget(stale);
        }
        Ok(slot.1.clone())
    }

    fn current(&self) -> Client {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    fn with_token(&self, py: Python<'_>, token: String) -> PyResult<Handle> {
        let token = Secret::new(token);
        let client = self.get(py)?.with_token(token.clone());
        let settings = Settings {
            token: Some(token),
            ..self.settings.clone()
        };
        Ok(Handle {
            settings,
            client: Mutex::new((std::process::id(), client)),
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn build_client(
    py: Python<'_>,
    api_url: &str,
    token: Option<String>,
    connect_timeout: f64,
    request_timeout: f64,
    deadline: Option<f64>,
    max_attempts: u32,
    ca_bundle: Option<PathBuf>,
    allow_insecure_http: bool,
    max_body_bytes: usize,
) -> PyResult<Handle> {
    // max_attempts and max_body_bytes are checked by runbeam-core when the client is built.
    let settings = Settings {
        api_url: api_url.to_string(),
        token: token.map(Secret::new),
        connect_timeout: seconds(py, "connect_timeout", connect_timeout)?,
        request_timeout: seconds(py, "request_timeout", request_timeout)?,
        deadline: deadline.map(|d| seconds(py, "deadline", d)).transpose()?,
        max_attempts,
        ca_bundle,
        allow_insecure_http,
        max_body_bytes,
    };
    Handle::new(py, settings)
}

/// The core client behind a `Client` or `AsyncClient` object (rebuilt in a forked child), or a
/// new one with the default settings for an API URL string (for the token managers).
pub(crate) fn core_client(arg: &Bound<'_, PyAny>) -> PyResult<Client> {
    let py = arg.py();
    if let Ok(c) = arg.cast::<PyClient>() {
        return c.get().handle.get(py);
    }
    if let Ok(c) = arg.cast::<PyAsyncClient>() {
        return c.get().handle.get(py);
    }
    let Ok(api_url) = arg.extract::<String>() else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "client must be a runbeam.Client, a runbeam.AsyncClient or an API URL (str)",
        ));
    };
    build_client(
        py,
        &api_url,
        None,
        5.0,
        30.0,
        None,
        3,
        None,
        false,
        runbeam_core::client::DEFAULT_MAX_BODY_BYTES,
    )?
    .get(py)
}

// ---------------------------------------------------------------------------------------------
// Result classes.

/// The answer of `authorize`: a machine token for a gateway.
#[pyclass(frozen, module = "runbeam", name = "AuthorizeResult")]
pub struct PyAuthorizeResult {
    token: Secret,
    #[pyo3(get)]
    expires_in: u64,
    #[pyo3(get)]
    expires_at: Py<PyAny>,
    #[pyo3(get)]
    gateway: Py<PyAny>,
    #[pyo3(get)]
    abilities: Vec<String>,
    code: String,
}

guarded! {
    "AuthorizeResult";
    #[pymethods]
    impl PyAuthorizeResult {
        /// The gateway machine token.
        #[getter]
        fn machine_token(&self) -> &str {
            self.token.expose()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "AuthorizeResult(gateway={}, expires_at={}, machine_token=<redacted>)",
                self.code.as_str().into_pyobject(py)?.repr()?,
                self.expires_at.bind(py).repr()?
            ))
        }
    }
}

fn authorize_result(py: Python<'_>, r: AuthorizeResult) -> PyResult<Py<PyAny>> {
    let gateway = PyDict::new(py);
    gateway.set_item("id", &r.gateway.id)?;
    gateway.set_item("code", &r.gateway.code)?;
    gateway.set_item("name", &r.gateway.name)?;
    let value = PyAuthorizeResult {
        token: r.machine_token,
        expires_in: r.expires_in.as_secs(),
        expires_at: datetime(py, r.expires_at)?,
        gateway: gateway.into_any().unbind(),
        abilities: r.abilities,
        code: r.gateway.code,
    };
    value.into_py_any(py)
}

/// A resource found by `resolve`.
#[pyclass(frozen, module = "runbeam", name = "ResolvedResource")]
pub struct PyResolvedResource {
    #[pyo3(get)]
    r#type: String,
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    team_id: Option<String>,
    #[pyo3(get)]
    enabled: bool,
    #[pyo3(get)]
    urls: Vec<String>,
    #[pyo3(get)]
    protocol: Option<String>,
    #[pyo3(get)]
    mode: Option<String>,
    #[pyo3(get)]
    gateway_id: Option<String>,
    #[pyo3(get)]
    pipeline_id: Option<String>,
    #[pyo3(get)]
    mesh_id: Option<String>,
    #[pyo3(get)]
    backend_id: Option<String>,
    #[pyo3(get)]
    endpoint_id: Option<String>,
    #[pyo3(get)]
    description: Option<String>,
}

guarded! {
    "ResolvedResource";
    #[pymethods]
    impl PyResolvedResource {
        fn __repr__(&self) -> String {
            format!(
                "ResolvedResource(type={:?}, id={:?}, name={:?})",
                self.r#type, self.id, self.name
            )
        }
    }
}

/// The answer of `resolve`: the resource and where it came from.
#[pyclass(frozen, module = "runbeam", name = "Resolved")]
pub struct PyResolved {
    #[pyo3(get)]
    resource: Py<PyResolvedResource>,
    #[pyo3(get)]
    provider: String,
    #[pyo3(get)]
    resolved_at: Py<PyAny>,
}

guarded! {
    "Resolved";
    #[pymethods]
    impl PyResolved {
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Resolved(provider={:?}, resource={})",
                self.provider,
                self.resource.bind(py).repr()?
            ))
        }
    }
}

/// The Python form of a resolved resource (shared with the resolver's `Resolution`).
pub(crate) fn resolved_resource(
    py: Python<'_>,
    res: ResolvedResource,
) -> PyResult<Py<PyResolvedResource>> {
    Py::new(
        py,
        PyResolvedResource {
            r#type: res.resource_type,
            id: res.id,
            name: res.name,
            team_id: res.team_id,
            enabled: res.enabled,
            urls: res.urls,
            protocol: res.protocol,
            mode: res.mode,
            gateway_id: res.gateway_id,
            pipeline_id: res.pipeline_id,
            mesh_id: res.mesh_id,
            backend_id: res.backend_id,
            endpoint_id: res.endpoint_id,
            description: res.description,
        },
    )
}

fn resolved(py: Python<'_>, r: ResolveResult) -> PyResult<Py<PyAny>> {
    let resource = resolved_resource(py, r.resource)?;
    PyResolved {
        resource,
        provider: r.provider,
        resolved_at: datetime(py, r.resolved_at)?,
    }
    .into_py_any(py)
}

/// A short-lived mesh token (an RS256 JWT) for one destination.
#[pyclass(frozen, module = "runbeam", name = "MeshToken")]
pub struct PyMeshToken {
    secret: Secret,
    #[pyo3(get)]
    expires_at: Py<PyAny>,
    #[pyo3(get)]
    mesh_id: String,
}

guarded! {
    "MeshToken";
    #[pymethods]
    impl PyMeshToken {
        /// The token.
        #[getter]
        fn token(&self) -> &str {
            self.secret.expose()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "MeshToken(mesh_id={:?}, expires_at={}, token=<redacted>)",
                self.mesh_id,
                self.expires_at.bind(py).repr()?
            ))
        }
    }
}

fn mesh_token(py: Python<'_>, t: MeshTokenResult) -> PyResult<Py<PyAny>> {
    PyMeshToken {
        secret: t.token,
        expires_at: datetime(py, t.expires_at)?,
        mesh_id: t.mesh_id,
    }
    .into_py_any(py)
}

/// One page of a collection.
#[pyclass(frozen, module = "runbeam", name = "Page")]
pub struct PyPage {
    #[pyo3(get)]
    data: Py<PyList>,
    #[pyo3(get)]
    current_page: u64,
    #[pyo3(get)]
    last_page: u64,
    #[pyo3(get)]
    per_page: u64,
    #[pyo3(get)]
    total: u64,
    #[pyo3(get)]
    has_next: bool,
}

guarded! {
    "Page";
    #[pymethods]
    impl PyPage {
        fn __repr__(&self, py: Python<'_>) -> String {
            format!(
                "Page(current_page={}, last_page={}, per_page={}, total={}, items={})",
                self.current_page,
                self.last_page,
                self.per_page,
                self.total,
                self.data.bind(py).len()
            )
        }

        fn __len__(&self, py: Python<'_>) -> usize {
            self.data.bind(py).len()
        }
    }
}

fn page(py: Python<'_>, p: Page<Resource>) -> PyResult<Py<PyAny>> {
    let has_next = p.has_next();
    let items = p
        .data
        .iter()
        .map(|r| to_json(py, r))
        .collect::<PyResult<Vec<_>>>()?;
    PyPage {
        data: PyList::new(py, items)?.unbind(),
        current_page: p.meta.current_page,
        last_page: p.meta.last_page,
        per_page: p.meta.per_page,
        total: p.meta.total,
        has_next,
    }
    .into_py_any(py)
}

fn resource(py: Python<'_>, r: Resource) -> PyResult<Py<PyAny>> {
    to_json(py, &r)
}

fn nothing(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn revoked(py: Python<'_>, r: Acknowledgement) -> PyResult<Py<PyAny>> {
    to_json(
        py,
        &serde_json::json!({"success": r.success, "message": r.message}),
    )
}

fn jwks(py: Python<'_>, r: Jwks) -> PyResult<Py<PyAny>> {
    to_json(py, &r)
}

fn base_url(py: Python<'_>, r: BaseUrl) -> PyResult<Py<PyAny>> {
    to_json(
        py,
        &serde_json::json!({"base_url": r.base_url, "changes_path": r.changes_path, "full_url": r.full_url}),
    )
}

/// A JSON object of fields the SDK does not type, as a `dict`.
fn fields(py: Python<'_>, map: serde_json::Map<String, Value>) -> PyResult<Py<PyAny>> {
    json_to_py(py, &Value::Object(map))
}

/// The lowercase wire name of a serde unit enum (`UpdateKind`, `UpdateAction`).
fn wire_name<S: serde::Serialize>(value: &S) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn update_kind(py: Python<'_>, name: &str) -> PyResult<UpdateKind> {
    serde_json::from_value(Value::String(name.to_string())).map_err(|_| {
        invalid_argument(
            py,
            format!(
                "unknown update type {name:?}; expected one of gateway, pipeline, transform, mesh"
            ),
        )
    })
}

/// A `{success, message}` answer of the change feed calls.
#[pyclass(frozen, module = "runbeam", name = "Acknowledgement")]
pub struct PyAcknowledgement {
    #[pyo3(get)]
    success: bool,
    #[pyo3(get)]
    message: Option<String>,
    #[pyo3(get)]
    extra: Py<PyAny>,
}

guarded! {
    "Acknowledgement";
    #[pymethods]
    impl PyAcknowledgement {
        fn __repr__(&self) -> String {
            format!(
                "Acknowledgement(success={}, message={:?})",
                if self.success { "True" } else { "False" },
                self.message.as_deref().unwrap_or("")
            )
        }

        fn __bool__(&self) -> bool {
            self.success
        }
    }
}

fn acknowledgement(py: Python<'_>, r: Acknowledgement) -> PyResult<Py<PyAny>> {
    PyAcknowledgement {
        success: r.success,
        message: r.message,
        extra: fields(py, r.extra)?,
    }
    .into_py_any(py)
}

/// One configuration change of the change feed.
#[pyclass(frozen, module = "runbeam", name = "Change")]
pub struct PyChange {
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    status: Option<String>,
    #[pyo3(get)]
    fields: Py<PyAny>,
}

guarded! {
    "Change";
    #[pymethods]
    impl PyChange {
        // Only id and status: the payload can hold configuration, which may hold secrets.
        fn __repr__(&self) -> String {
            match &self.status {
                Some(status) => format!("Change(id={:?}, status={status:?})", self.id),
                None => format!("Change(id={:?}, status=None)", self.id),
            }
        }
    }
}

fn py_change(py: Python<'_>, c: Change) -> PyResult<PyChange> {
    Ok(PyChange {
        id: c.id,
        status: c.status,
        fields: fields(py, c.extra)?,
    })
}

fn change(py: Python<'_>, c: Change) -> PyResult<Py<PyAny>> {
    py_change(py, c)?.into_py_any(py)
}

fn changes(py: Python<'_>, all: Vec<Change>) -> PyResult<Py<PyAny>> {
    let items = all
        .into_iter()
        .map(|c| Py::new(py, py_change(py, c)?))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)?.into_py_any(py)
}

/// The answer of `update_config`: what was created or updated.
#[pyclass(frozen, module = "runbeam", name = "UpdateResult")]
pub struct PyUpdateResult {
    #[pyo3(get)]
    success: bool,
    #[pyo3(get)]
    message: Option<String>,
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    r#type: String,
    #[pyo3(get)]
    action: String,
}

guarded! {
    "UpdateResult";
    #[pymethods]
    impl PyUpdateResult {
        fn __repr__(&self) -> String {
            format!(
                "UpdateResult(type={:?}, id={:?}, action={:?})",
                self.r#type, self.id, self.action
            )
        }
    }
}

fn update_result(py: Python<'_>, r: UpdateResult) -> PyResult<Py<PyAny>> {
    PyUpdateResult {
        success: r.success,
        message: r.message,
        id: r.data.id,
        r#type: wire_name(&r.data.kind),
        action: wire_name(&r.data.action),
    }
    .into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// Iteration over every item of every page.

/// runbeam-core's page walk, and the items of the page it read last that were not handed out
/// yet (Python iterates item by item).
struct Pages {
    cursor: PageCursor<Resource>,
    buffer: VecDeque<Resource>,
}

type SharedPages = Arc<tokio::sync::Mutex<Pages>>;

/// The walk of `iter_all`: refused by the core (`InvalidArgumentError`) before any I/O when
/// `per_page` is out of range.
fn pages(
    py: Python<'_>,
    client: &Client,
    collection: Collection,
    per_page: u32,
) -> PyResult<SharedPages> {
    let cursor = client.collection(collection).pages(per_page).or_raise(py)?;
    Ok(Arc::new(tokio::sync::Mutex::new(Pages {
        cursor,
        buffer: VecDeque::new(),
    })))
}

/// The next item, asking the core's cursor for the next page when the current one is used up.
/// A failed fetch can be retried by calling again (the cursor stays on that page).
async fn next_item(pages: SharedPages) -> runbeam_core::Result<Option<Resource>> {
    let mut p = pages.lock().await;
    loop {
        if let Some(item) = p.buffer.pop_front() {
            return Ok(Some(item));
        }
        match p.cursor.next().await? {
            Some(items) => p.buffer.extend(items),
            None => return Ok(None),
        }
    }
}

/// An iterator over every item of a collection (`Client.iter_all`); pages are fetched as needed.
#[pyclass(frozen, module = "runbeam", name = "ResourceIterator")]
pub struct PyResourceIterator {
    pages: SharedPages,
}

guarded! {
    "ResourceIterator";
    #[pymethods]
    impl PyResourceIterator {
        fn __iter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            match run_sync(py, "ResourceIterator.__next__", next_item(self.pages.clone()))? {
                Some(item) => resource(py, item),
                None => Err(PyStopIteration::new_err(())),
            }
        }
    }
}

/// An async iterator over every item of a collection (`AsyncClient.iter_all`).
#[pyclass(frozen, module = "runbeam", name = "AsyncResourceIterator")]
pub struct PyAsyncResourceIterator {
    pages: SharedPages,
}

guarded! {
    "AsyncResourceIterator";
    #[pymethods]
    impl PyAsyncResourceIterator {
        fn __aiter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            run_async(py, "AsyncResourceIterator.__anext__", next_item(self.pages.clone()), |py, item| match item {
                Some(item) => resource(py, item),
                None => Err(PyStopAsyncIteration::new_err(())),
            })
        }
    }
}
// ---------------------------------------------------------------------------------------------
// The clients.

struct ClientRepr<'a>(&'a str, &'a Client);

impl fmt::Display for ClientRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.1.token_kind().is_some() {
            ", token=<redacted>"
        } else {
            ""
        };
        write!(f, "{}({:?}{token})", self.0, self.1.api_root())
    }
}

fn authorize_request(gateway_code: String, metadata: Option<Vec<String>>) -> AuthorizeRequest {
    let request = AuthorizeRequest::new(gateway_code);
    match metadata {
        Some(m) => request.metadata(m),
        None => request,
    }
}

/// Runs `fut` with the GIL released (see [`run_sync`]) and converts its result: the `finish`
/// of `Client`, as [`run_async`] is the one of `AsyncClient`.
fn finish_sync<T, F, C>(
    py: Python<'_>,
    function: &'static str,
    fut: F,
    conv: C,
) -> PyResult<Py<PyAny>>
where
    T: Send,
    F: Future<Output = runbeam_core::Result<T>> + Send,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>>,
{
    let value = run_sync(py, function, fut)?;
    conv(py, value)
}

/// The Runbeam Cloud API client (blocking; every wait releases the GIL).
#[pyclass(frozen, module = "runbeam", name = "Client")]
pub struct PyClient {
    handle: Handle,
}

/// The Runbeam Cloud API client for asyncio: every method returns an awaitable.
#[pyclass(frozen, module = "runbeam", name = "AsyncClient")]
pub struct PyAsyncClient {
    handle: Handle,
}

// The defaults of the signatures below are runbeam-core's, written as literals because a pyo3
// signature shows a literal default in `help()` and `inspect.signature` (a constant would show
// as `...`). These compile-time checks fail the build when a literal and the core constant
// part ways.
const _: () = {
    use runbeam_core::client::{
        DEFAULT_CONNECT_TIMEOUT, DEFAULT_LIST_ALL_PER_PAGE, DEFAULT_MAX_BODY_BYTES,
        DEFAULT_REQUEST_TIMEOUT,
    };
    assert!(DEFAULT_CONNECT_TIMEOUT.as_millis() == 5_000); // connect_timeout=5.0
    assert!(DEFAULT_REQUEST_TIMEOUT.as_millis() == 30_000); // request_timeout=30.0
    assert!(RetryPolicy::DEFAULT_MAX_ATTEMPTS == 3); // max_attempts=3
    assert!(DEFAULT_MAX_BODY_BYTES == 10485760); // max_body_bytes=10485760
    assert!(PageRequest::DEFAULT_PER_PAGE == 15); // list(..., per_page=15)
    assert!(DEFAULT_LIST_ALL_PER_PAGE == 100); // iter_all(..., per_page=100)
};

/// The `#[pymethods]` of one client class: its constructor and class-specific members, then one
/// shell per API call of the shared list (see `client_classes!`).
///
/// `$out` is what a call returns to Python and `$finish` how the call's future is run:
/// `Py<PyAny>` with [`finish_sync`] (blocking, GIL released) or `Bound<'py, PyAny>` with
/// [`run_async`] (an asyncio future).
macro_rules! client_class {
    (
        $class:ident, $repr:literal, $iter:ident, $out:ty, $finish:path;
        $(
            $(#[$attr:meta])*
            fn $name:ident($py:ident, $client:ident $(, $arg:ident: $ty:ty)*) -> $convert:path
                $body:block
        )*
    ) => {
        guarded! {
            $repr;
            #[pymethods]
            impl $class {
                #[new]
                #[pyo3(signature = (api_url, *, token=None, connect_timeout=5.0, request_timeout=30.0, deadline=None, max_attempts=3, ca_bundle=None, allow_insecure_http=false, max_body_bytes=10485760))]
                #[allow(clippy::too_many_arguments)]
                fn new(
                    py: Python<'_>,
                    api_url: &str,
                    token: Option<String>,
                    connect_timeout: f64,
                    request_timeout: f64,
                    deadline: Option<f64>,
                    max_attempts: u32,
                    ca_bundle: Option<PathBuf>,
                    allow_insecure_http: bool,
                    max_body_bytes: usize,
                ) -> PyResult<Self> {
                    let handle = build_client(
                        py,
                        api_url,
                        token,
                        connect_timeout,
                        request_timeout,
                        deadline,
                        max_attempts,
                        ca_bundle,
                        allow_insecure_http,
                        max_body_bytes,
                    )?;
                    Ok($class { handle })
                }

                /// A client with the same settings and another bearer token.
                fn with_token(&self, py: Python<'_>, token: String) -> PyResult<$class> {
                    Ok($class {
                        handle: self.handle.with_token(py, token)?,
                    })
                }

                /// The normalized API root URL.
                #[getter]
                fn api_url(&self) -> String {
                    self.handle.current().api_root().to_string()
                }

                fn __repr__(&self) -> String {
                    ClientRepr($repr, &self.handle.current()).to_string()
                }

                /// Every item of every page of a collection; pages are fetched as needed.
                #[pyo3(signature = (collection, per_page=100))]
                fn iter_all(&self, py: Python<'_>, collection: &str, per_page: u32) -> PyResult<$iter> {
                    let c = self::collection(py, collection)?;
                    Ok($iter {
                        pages: pages(py, &self.handle.get(py)?, c, per_page)?,
                    })
                }

                $(
                    $(#[$attr])*
                    fn $name<'py>(&self, $py: Python<'py>, $($arg: $ty),*) -> PyResult<$out> {
                        let $client = self.handle.get($py)?;
                        $finish($py, concat!($repr, ".", stringify!($name)), $body, $convert)
                    }
                )*
            }
        }
    };
}

/// Both client classes from one list of API calls. Each call is written once, as
/// `fn name(py, client, args...) -> convert { body }`: `body` checks and converts the Python
/// arguments (raising before any I/O), then evaluates to a `'static` future of the core call
/// on `client`; `convert` turns the call's result into a Python object (with the GIL held).
macro_rules! client_classes {
    ($($calls:tt)*) => {
        client_class!(PyClient, "Client", PyResourceIterator, Py<PyAny>, finish_sync; $($calls)*);
        client_class!(
            PyAsyncClient, "AsyncClient", PyAsyncResourceIterator, Bound<'py, PyAny>, run_async;
            $($calls)*
        );
    };
}

client_classes! {
    /// Authorizes a gateway (user token): creates it if the code is new and returns a machine
    /// token for it.
    #[pyo3(signature = (gateway_code, metadata=None))]
    fn authorize(py, client, gateway_code: String, metadata: Option<Vec<String>>)
        -> authorize_result
    {
        let request = authorize_request(gateway_code, metadata);
        async move { client.authorize(request).await }
    }

    /// Revokes every machine token of a gateway (user token).
    fn revoke(py, client, gateway_code: String) -> revoked {
        async move { client.revoke(&gateway_code).await }
    }

    /// Resolves a reference (machine token); a `str` is parsed first.
    fn resolve(py, client, reference: &Bound<'_, PyAny>) -> resolved {
        let reference = self::reference(reference)?;
        async move { client.resolve(&reference).await }
    }

    /// A mesh token for a destination URL of a mesh (machine token).
    fn mesh_token(py, client, mesh_id: String, destination_url: String) -> mesh_token {
        async move { client.mesh_token(&mesh_id, &destination_url).await }
    }

    /// The Cloud's JSON Web Key Set (public).
    fn jwks(py, client) -> self::jwks {
        async move { client.jwks().await }
    }

    /// The gateway's base URL and change feed location (machine token).
    fn base_url(py, client) -> self::base_url {
        async move { client.base_url().await }
    }

    /// The pending and acknowledged changes of the calling gateway, or of `gateway_id`
    /// (machine token); every page of the feed is fetched.
    #[pyo3(signature = (gateway_id=None))]
    fn changes(py, client, gateway_id: Option<String>) -> self::changes {
        async move { client.changes(gateway_id.as_deref()).await }
    }

    /// One change of the feed (machine token).
    fn change(py, client, id: String) -> self::change {
        async move { client.change(&id).await }
    }

    /// Acknowledges changes: the gateway has seen them (machine token).
    fn acknowledge_changes(py, client, ids: Vec<String>) -> acknowledgement {
        async move { client.acknowledge_changes(&ids).await }
    }

    /// Reports a change as applied (machine token).
    fn change_applied(py, client, id: String) -> acknowledgement {
        async move { client.change_applied(&id).await }
    }

    /// Reports a change as failed with an error message and optional JSON-serializable
    /// details (machine token).
    #[pyo3(signature = (id, error, details=None))]
    fn change_failed(py, client, id: String, error: String, details: Option<&Bound<'_, PyAny>>)
        -> acknowledgement
    {
        let details = details.map(py_to_json).transpose()?;
        async move { client.change_failed(&id, &error, details.as_ref()).await }
    }

    /// Creates (no `id`, or an unknown one) or updates a gateway, pipeline, transform or mesh
    /// configuration from TOML (machine token; `POST /harmony/update`, never retried).
    #[pyo3(signature = (r#type, config, *, id=None))]
    fn update_config(py, client, r#type: &str, config: String, id: Option<String>)
        -> update_result
    {
        let mut request = UpdateRequest::new(update_kind(py, r#type)?, config);
        if let Some(id) = id {
            request = request.id(id);
        }
        async move { client.update(request).await }
    }

    /// One page of a collection (user token).
    #[pyo3(signature = (collection, page=1, per_page=15))]
    fn list(py, client, collection: &str, page: u32, per_page: u32) -> self::page {
        let c = client.collection(self::collection(py, collection)?);
        async move { c.list(PageRequest { page, per_page }).await }
    }

    /// One resource of a collection (user token).
    fn get(py, client, collection: &str, id: String) -> resource {
        let c = client.collection(self::collection(py, collection)?);
        async move { c.get(&id).await }
    }

    /// Creates a resource from a JSON-serializable body (user token); never retried.
    fn create(py, client, collection: &str, body: &Bound<'_, PyAny>) -> resource {
        let c = client.collection(self::collection(py, collection)?);
        let body = py_to_json(body)?;
        async move { c.create(&body).await }
    }

    /// Updates a resource with the fields of a JSON-serializable body (user token).
    fn update(py, client, collection: &str, id: String, body: &Bound<'_, PyAny>) -> resource {
        let c = client.collection(self::collection(py, collection)?);
        let body = py_to_json(body)?;
        async move { c.update(&id, &body).await }
    }

    /// Deletes a resource (user token); returns `None`.
    fn delete(py, client, collection: &str, id: String) -> nothing {
        let c = client.collection(self::collection(py, collection)?);
        async move { c.delete(&id).await }
    }
}
