//! `runbeam.Client` and `runbeam.AsyncClient`: the Runbeam Cloud API client of the core.
//!
//! Both wrap one [`runbeam_core::Client`] and are one [`class_pair!`]: every API call is
//! written once, as a core future, and ends the [`crate::runtime`] way of its class (`Client`
//! waits with the GIL released, `AsyncClient` returns an asyncio future; cancelling it aborts
//! the request). A client used in a forked child rebuilds its core client (and so its
//! connection pool) from the settings it was created with ([`ForkSafe`]).
//!
//! Every error is raised as the class of its kind (see [`crate::errors`]) with `status`,
//! `retry_after`, `field_errors` and `request` filled in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use runbeam_core::attempt::Attempt;
use runbeam_core::client::{
    Acknowledgement, AuthorizeRequest, AuthorizeResult, BaseUrl, Change, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LIST_ALL_PER_PAGE, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT, Jwks,
    MeshTokenResult, PageRequest, ResolveResult, ResolvedResource, RetryPolicy, UpdateKind,
    UpdateRequest, UpdateResult, UpdatedConfig,
};
use runbeam_core::{Client, Reference, Secret};
use serde_json::Value;

use crate::collections::{self, Iterate, Walk, answer};
use crate::convert::{datetime, json_to_py, py_to_json, seconds, to_json};
use crate::errors::{OrRaise, invalid_argument};
use crate::fork::ForkSafe;
use crate::guard::guarded;
use crate::pair::class_pair;
use crate::reference::PyReference;

fn reference(arg: &Bound<'_, PyAny>) -> PyResult<Reference> {
    if let Ok(r) = arg.cast::<PyReference>() {
        return Ok(r.get().0.clone());
    }
    let text: String = arg.extract()?;
    Reference::parse(&text).or_raise(arg.py())
}

/// What a client was built from, kept to rebuild it in a forked child: the parent's connection
/// pool belongs to the parent's runtime, so reusing it in the child would hang. `None` leaves
/// the core's default.
#[derive(Clone)]
struct Settings {
    api_url: String,
    token: Option<Secret>,
    connect_timeout: Duration,
    request_timeout: Duration,
    deadline: Option<Duration>,
    max_attempts: u32,
    ca_bundle_file: Option<PathBuf>,
    allow_insecure_http: bool,
    max_body_bytes: usize,
}

impl Settings {
    /// The settings of the client `Client(api_url)` would make.
    fn defaults(api_url: String) -> Settings {
        Settings {
            api_url,
            token: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            deadline: None,
            max_attempts: RetryPolicy::DEFAULT_MAX_ATTEMPTS,
            ca_bundle_file: None,
            allow_insecure_http: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

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
        if let Some(path) = &self.ca_bundle_file {
            builder = builder.ca_bundle_file(path);
        }
        builder.build()
    }
}

/// A core client and the settings to build it again in a forked child.
struct Handle {
    settings: Settings,
    client: ForkSafe<Client>,
}

impl Handle {
    fn new(py: Python<'_>, settings: Settings) -> PyResult<Handle> {
        let client = settings.build().or_raise(py)?;
        Ok(Handle {
            settings,
            client: ForkSafe::new(client),
        })
    }

    /// The client of this process.
    fn get(&self, py: Python<'_>) -> PyResult<Client> {
        self.client.get(|| self.settings.build().or_raise(py))
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
            client: ForkSafe::new(client),
        })
    }
}

/// The core client behind a `Client` or `AsyncClient` object (rebuilt in a forked child), or a
/// new one with the default settings for an API URL string (for the token managers).
pub(crate) fn core_client(arg: &Bound<'_, PyAny>) -> PyResult<Client> {
    let py = arg.py();
    if let Ok(c) = arg.cast::<PyClient>() {
        return c.get().inner.get(py);
    }
    if let Ok(c) = arg.cast::<PyAsyncClient>() {
        return c.get().inner.get(py);
    }
    let Ok(api_url) = arg.extract::<String>() else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "client must be a runbeam.Client, a runbeam.AsyncClient or an API URL (str)",
        ));
    };
    Handle::new(py, Settings::defaults(api_url))?.get(py)
}

// ---------------------------------------------------------------------------------------------
// Result classes.

/// The answer of `Client.authorize`: a machine token for a gateway. `repr()` never shows the
/// token.
#[pyclass(frozen, module = "runbeam", name = "AuthorizeResult")]
pub struct PyAuthorizeResult {
    token: Secret,
    /// Seconds until the token expires, counted when it was issued.
    #[pyo3(get)]
    expires_in: u64,
    /// When the token expires (aware, UTC).
    #[pyo3(get)]
    expires_at: Py<PyAny>,
    /// `{"id", "code", "name", "authorized_by"}` of the gateway; `authorized_by` is
    /// `{"id", "name", "email"}` of the user who authorized it, or `None` when the Cloud did
    /// not say.
    #[pyo3(get)]
    gateway: Py<PyAny>,
    /// What the token allows.
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
    let authorized_by = match &r.gateway.authorized_by {
        Some(by) => {
            let user = PyDict::new(py);
            user.set_item("id", &by.id)?;
            user.set_item("name", &by.name)?;
            user.set_item("email", &by.email)?;
            user.into_any().unbind()
        }
        None => py.None(),
    };
    gateway.set_item("authorized_by", authorized_by)?;
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
    /// `"ingress"`, `"egress"`, …
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

/// The answer of `Client.resolve`: the resource and where it came from.
#[pyclass(frozen, module = "runbeam", name = "ResolveResult")]
pub struct PyResolveResult {
    #[pyo3(get)]
    resource: Py<PyResolvedResource>,
    /// The provider that answered.
    #[pyo3(get)]
    provider: String,
    /// When the server resolved it (aware, UTC).
    #[pyo3(get)]
    resolved_at: Py<PyAny>,
}

guarded! {
    "ResolveResult";
    #[pymethods]
    impl PyResolveResult {
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "ResolveResult(provider={:?}, resource={})",
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

fn resolve_result(py: Python<'_>, r: ResolveResult) -> PyResult<Py<PyAny>> {
    let resource = resolved_resource(py, r.resource)?;
    PyResolveResult {
        resource,
        provider: r.provider,
        resolved_at: datetime(py, r.resolved_at)?,
    }
    .into_py_any(py)
}

/// A short-lived mesh token (an RS256 JWT) for one destination.
#[pyclass(frozen, module = "runbeam", name = "MeshTokenResult")]
pub struct PyMeshTokenResult {
    secret: Secret,
    #[pyo3(get)]
    expires_at: Py<PyAny>,
    #[pyo3(get)]
    mesh_id: String,
}

guarded! {
    "MeshTokenResult";
    #[pymethods]
    impl PyMeshTokenResult {
        /// The token.
        #[getter]
        fn token(&self) -> &str {
            self.secret.expose()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "MeshTokenResult(mesh_id={:?}, expires_at={}, token=<redacted>)",
                self.mesh_id,
                self.expires_at.bind(py).repr()?
            ))
        }
    }
}

fn mesh_token_result(py: Python<'_>, t: MeshTokenResult) -> PyResult<Py<PyAny>> {
    PyMeshTokenResult {
        secret: t.token,
        expires_at: datetime(py, t.expires_at)?,
        mesh_id: t.mesh_id,
    }
    .into_py_any(py)
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
    /// Whether the server did it (an absent field counts as true: the status was 2xx).
    #[pyo3(get)]
    success: bool,
    /// The server's message.
    #[pyo3(get)]
    message: Option<String>,
    /// Every other field of the answer as sent.
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

/// One configuration change of the change feed (`Client.changes`). `repr()` shows only `id`
/// and `status`: the payload may hold configuration.
#[pyclass(frozen, module = "runbeam", name = "Change")]
pub struct PyChange {
    #[pyo3(get)]
    id: String,
    /// `"pending"`, `"acknowledged"`, `"applied"`, `"failed"`, … when sent.
    #[pyo3(get)]
    status: Option<String>,
    /// The change's other fields (its configuration payload, …) as a `dict`.
    #[pyo3(get)]
    extra: Py<PyAny>,
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

fn change_object(py: Python<'_>, c: Change) -> PyResult<PyChange> {
    Ok(PyChange {
        id: c.id,
        status: c.status,
        extra: fields(py, c.extra)?,
    })
}

fn change(py: Python<'_>, c: Change) -> PyResult<Py<PyAny>> {
    change_object(py, c)?.into_py_any(py)
}

fn changes(py: Python<'_>, all: Vec<Change>) -> PyResult<Py<PyAny>> {
    let items = all
        .into_iter()
        .map(|c| Py::new(py, change_object(py, c)?))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)?.into_py_any(py)
}

/// What `update_config` created or updated.
#[pyclass(frozen, module = "runbeam", name = "UpdatedConfig")]
pub struct PyUpdatedConfig {
    /// The configuration's id.
    #[pyo3(get)]
    id: String,
    /// `"gateway"`, `"pipeline"`, `"transform"` or `"mesh"`.
    #[pyo3(get)]
    r#type: String,
    /// `"created"` or `"updated"`.
    #[pyo3(get)]
    action: String,
}

guarded! {
    "UpdatedConfig";
    #[pymethods]
    impl PyUpdatedConfig {
        fn __repr__(&self) -> String {
            format!(
                "UpdatedConfig(type={:?}, id={:?}, action={:?})",
                self.r#type, self.id, self.action
            )
        }
    }
}

/// The answer of `update_config`: whether it succeeded, and what was created or updated.
#[pyclass(frozen, module = "runbeam", name = "UpdateResult")]
pub struct PyUpdateResult {
    /// Whether the Cloud accepted the configuration.
    #[pyo3(get)]
    success: bool,
    /// The Cloud's message, if any.
    #[pyo3(get)]
    message: Option<String>,
    /// What was created or updated.
    #[pyo3(get)]
    data: Py<PyUpdatedConfig>,
}

guarded! {
    "UpdateResult";
    #[pymethods]
    impl PyUpdateResult {
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "UpdateResult(success={}, data={})",
                if self.success { "True" } else { "False" },
                self.data.bind(py).repr()?
            ))
        }
    }
}

fn update_result(py: Python<'_>, r: UpdateResult) -> PyResult<Py<PyAny>> {
    let data: UpdatedConfig = r.data;
    let data = PyUpdatedConfig {
        r#type: wire_name(&data.kind),
        action: wire_name(&data.action),
        id: data.id,
    };
    PyUpdateResult {
        success: r.success,
        message: r.message,
        data: Py::new(py, data)?,
    }
    .into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// The clients.

fn authorize_request(
    gateway_code: String,
    metadata: Option<Vec<String>>,
    machine_public_key: Option<String>,
) -> AuthorizeRequest {
    let mut request = AuthorizeRequest::new(gateway_code);
    if let Some(m) = metadata {
        request = request.metadata(m);
    }
    if let Some(key) = machine_public_key {
        request = request.machine_public_key(key);
    }
    request
}

impl Iterate for PyClient {
    fn iterator(py: Python<'_>, walk: Arc<dyn Walk>) -> PyResult<Py<PyAny>> {
        collections::iterator(py, walk)
    }
}

impl Iterate for PyAsyncClient {
    fn iterator(py: Python<'_>, walk: Arc<dyn Walk>) -> PyResult<Py<PyAny>> {
        collections::async_iterator(py, walk)
    }
}

class_pair! {
    /// The Runbeam Cloud API client (docs/spec.md §3), blocking: every wait releases the GIL,
    /// and Ctrl-C cancels a call.
    ///
    /// `Client(api_url, *, token=None, connect_timeout, request_timeout, deadline=None,
    /// max_attempts, ca_bundle_file=None, allow_insecure_http=False, max_body_bytes)`:
    /// `api_url` without a path gets `/api` appended; `http://` only for loopback hosts unless
    /// `allow_insecure_http`. Times are in seconds; `deadline` bounds a whole call, retries
    /// included; `max_attempts` counts the first attempt; a response body larger than
    /// `max_body_bytes` is a `ProtocolError`. The defaults are the core's.
    ///
    /// A collection is named by string (`"gateways"`, `"services"`, `"endpoints"`,
    /// `"backends"`, `"pipelines"`, `"meshes"`, `"ingresses"`, `"egresses"`; resources are
    /// `dict`s) or by a model class of `runbeam.resources` (`Service`, …; resources are its
    /// objects). Every method raises the `RunbeamError` subclass of the failure, with
    /// `status`, `retry_after`, `field_errors` and `request` filled in from the server's
    /// answer.
    sync PyClient = "Client";
    /// The Runbeam Cloud API client for asyncio: the arguments of `Client`, and every API call
    /// returns an awaitable (cancelling it aborts the request).
    async PyAsyncClient = "AsyncClient";
    holds Handle;
    members {
        #[new]
        #[pyo3(signature = (
            api_url,
            *,
            token=None,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
            request_timeout=DEFAULT_REQUEST_TIMEOUT.as_secs_f64(),
            deadline=None,
            max_attempts=RetryPolicy::DEFAULT_MAX_ATTEMPTS,
            ca_bundle_file=None,
            allow_insecure_http=false,
            max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        ))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            api_url: String,
            token: Option<String>,
            connect_timeout: f64,
            request_timeout: f64,
            deadline: Option<f64>,
            max_attempts: u32,
            ca_bundle_file: Option<PathBuf>,
            allow_insecure_http: bool,
            max_body_bytes: usize,
        ) -> PyResult<Self> {
            // max_attempts and max_body_bytes are checked by runbeam-core when the client is built.
            let settings = Settings {
                api_url,
                token: token.map(Secret::new),
                connect_timeout: seconds(py, "connect_timeout", connect_timeout)?,
                request_timeout: seconds(py, "request_timeout", request_timeout)?,
                deadline: deadline.map(|d| seconds(py, "deadline", d)).transpose()?,
                max_attempts,
                ca_bundle_file,
                allow_insecure_http,
                max_body_bytes,
            };
            Ok(Self { inner: Handle::new(py, settings)? })
        }

        /// A client with the same settings and another bearer token.
        fn with_token(&self, py: Python<'_>, token: String) -> PyResult<Self> {
            Ok(Self { inner: self.inner.with_token(py, token)? })
        }

        /// The normalized API root URL.
        #[getter]
        fn api_root(&self, py: Python<'_>) -> PyResult<String> {
            Ok(self.inner.get(py)?.api_root().to_string())
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let client = self.inner.get(py)?;
            let token = if client.token_kind().is_some() {
                ", token=<redacted>"
            } else {
                ""
            };
            Ok(format!("{}({:?}{token})", Self::NAME, client.api_root()))
        }

        /// Every item of every page of a collection, as `list` gives them (`dict`s, or model
        /// objects for a model class); pages are fetched as needed.
        #[pyo3(signature = (collection, per_page=DEFAULT_LIST_ALL_PER_PAGE))]
        fn list_all(
            &self,
            py: Python<'_>,
            collection: &Bound<'_, PyAny>,
            per_page: u32,
        ) -> PyResult<Py<PyAny>> {
            let target = collections::target(collection)?;
            let walk = target.walk(&self.inner.get(py)?, per_page).or_raise(py)?;
            <Self as Iterate>::iterator(py, walk)
        }
    }
    calls {
    /// Authorizes a gateway (user token): creates it if the code is new and returns a machine
    /// token for it. `machine_public_key` is the gateway's public key, when it has one.
    #[pyo3(signature = (gateway_code, metadata=None, machine_public_key=None))]
    fn authorize(
        py,
        client,
        gateway_code: String,
        metadata: Option<Vec<String>>,
        machine_public_key: Option<String>
    ) -> authorize_result
    {
        let request = authorize_request(gateway_code, metadata, machine_public_key);
        Attempt::pending(async move { client.authorize(request).await })
    }

    /// Revokes every machine token of a gateway (user token); returns the Cloud's
    /// acknowledgement.
    fn revoke(py, client, gateway_code: String) -> acknowledgement {
        Attempt::pending(async move { client.revoke(&gateway_code).await })
    }

    /// Resolves a reference (machine token); a `str` is parsed first. The raw API call: it
    /// does not check the gateway's mesh configuration and caches nothing — gateways resolve
    /// through `Resolver.resolve`, which does both.
    fn resolve(py, client, reference: &Bound<'_, PyAny>) -> resolve_result {
        let reference = self::reference(reference)?;
        Attempt::pending(async move { client.resolve(&reference).await })
    }

    /// A mesh token for a destination URL of a mesh (machine token).
    fn mesh_token(py, client, mesh_id: String, destination_url: String) -> mesh_token_result {
        Attempt::pending(async move { client.mesh_token(&mesh_id, &destination_url).await })
    }

    /// The Cloud's JSON Web Key Set (public).
    fn jwks(py, client) -> self::jwks {
        Attempt::pending(async move { client.jwks().await })
    }

    /// The gateway's base URL and change feed location (machine token).
    fn base_url(py, client) -> self::base_url {
        Attempt::pending(async move { client.base_url().await })
    }

    /// The pending and acknowledged changes of the calling gateway, or of `gateway_id`
    /// (machine token); every page of the feed is fetched.
    #[pyo3(signature = (gateway_id=None))]
    fn changes(py, client, gateway_id: Option<String>) -> self::changes {
        Attempt::pending(async move { client.changes(gateway_id.as_deref()).await })
    }

    /// One change of the feed (machine token).
    fn change(py, client, id: String) -> self::change {
        Attempt::pending(async move { client.change(&id).await })
    }

    /// Acknowledges changes: the gateway has seen them (machine token).
    fn acknowledge_changes(py, client, ids: Vec<String>) -> acknowledgement {
        Attempt::pending(async move { client.acknowledge_changes(&ids).await })
    }

    /// Reports a change as applied (machine token).
    fn change_applied(py, client, id: String) -> acknowledgement {
        Attempt::pending(async move { client.change_applied(&id).await })
    }

    /// Reports a change as failed with an error message and optional JSON-serializable
    /// details (machine token).
    #[pyo3(signature = (id, error, details=None))]
    fn change_failed(py, client, id: String, error: String, details: Option<&Bound<'_, PyAny>>)
        -> acknowledgement
    {
        let details = details.map(py_to_json).transpose()?;
        Attempt::pending(async move { client.change_failed(&id, &error, details.as_ref()).await })
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
        Attempt::pending(async move { client.update_config(request).await })
    }

    /// One page of a collection (user token). `collection` is a collection name (the items
    /// are `dict`s) or a model class of `runbeam.resources` (the items are its objects).
    #[pyo3(signature = (collection, page=1, per_page=PageRequest::DEFAULT_PER_PAGE))]
    fn list(py, client, collection: &Bound<'_, PyAny>, page: u32, per_page: u32) -> answer {
        collections::target(collection)?.list(&client, PageRequest { page, per_page })
    }

    /// One resource of a collection (user token): a `dict`, or an object of the model class
    /// given as `collection`.
    fn get(py, client, collection: &Bound<'_, PyAny>, id: String) -> answer {
        collections::target(collection)?.get(&client, id)
    }

    /// Deletes a resource (user token); returns `None`. `collection` is a collection name or
    /// a model class.
    fn delete(py, client, collection: &Bound<'_, PyAny>, id: String) -> answer {
        collections::target(collection)?.delete(&client, id)
    }
    }
    varargs {
    /// Creates a resource (user token; never retried): `create(collection, body)` with a
    /// collection name and a JSON-serializable body returns a `dict`; `create(model)` with a
    /// model object of `runbeam.resources` (its class names the collection) returns the
    /// created model.
    fn create(py, client, *args, **kwargs) -> answer {
        let (target, body) = collections::create_args(args, kwargs)?;
        target.create(&client, &body)?
    }

    /// Updates a resource with the fields of a body (user token): `update(collection, id,
    /// body)` with a collection name and a JSON-serializable body returns a `dict`;
    /// `update(id, model)` with a model object of `runbeam.resources` (its fields that are
    /// set, and its `extra`) returns the updated model.
    fn update(py, client, *args, **kwargs) -> answer {
        let (target, id, body) = collections::update_args(args, kwargs)?;
        target.update(&client, id, &body)?
    }
    }
}
