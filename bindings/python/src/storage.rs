//! Token storage and the machine-token lifecycle of the core (docs/spec.md §5): `runbeam.TokenStore`
//! (and its `FileTokenStore`, `KeyringTokenStore`, `MemoryTokenStore` constructors),
//! `runbeam.open_token_store`, `runbeam.MachineToken`, `runbeam.UserToken`,
//! `runbeam.TokenManager` and `runbeam.AsyncTokenManager`.
//!
//! Every rule (backend selection, file layout and modes, id checks, date formats, renewal)
//! is the core's; this module converts types and runs the calls:
//!
//! - store calls are blocking (file I/O, D-Bus): they run with the GIL released;
//! - `TokenManager` and `AsyncTokenManager` are one [`class_pair!`]: the first waits like
//!   `Client`, the second returns asyncio futures like `AsyncClient` ([`crate::runtime`]);
//! - the Python credential and renewal-window callbacks are called by the core from its own
//!   threads: they take the GIL there ([`Python::attach`]); an exception raised by the
//!   credential callback becomes a core error (its message kept), one raised by the
//!   renewal-window callback goes to `sys.unraisablehook`.
//!
//! A manager used in a forked child rebuilds its core manager (and so its HTTP client) from the
//! arguments it was created with ([`ForkSafe`]), as the clients do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;
use runbeam_core::attempt::Attempt;
use runbeam_core::storage::{
    self as core, Credential, CredentialFn, FileTokenStore, KeyringTokenStore, MachineToken,
    MemoryTokenStore, RenewalWindowFn, StoreChoice, TokenManager, TokenStore, UserToken,
};
use runbeam_core::{Error, ErrorKind, Secret};
use serde_json::{Value, json};

use crate::client::core_client;
use crate::convert::{datetime, json_to_py, non_negative, nothing, optional_datetime, py_to_json};
use crate::errors::{OrRaise, invalid_argument, to_py_err};
use crate::fork::ForkSafe;
use crate::guard::guarded;
use crate::pair::class_pair;
use crate::runtime::Delivery;
use crate::stats::PyTokenManagerStats;

// ---------------------------------------------------------------------------------------------
// Conversions.

/// A timestamp argument as the core's JSON text: a `str` as is (RFC 3339 or
/// `YYYY-MM-DD HH:MM:SS` UTC, parsed by the core), an aware `datetime` in ISO 8601.
fn timestamp_text(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_str()?.to_string());
    }
    if value.hasattr(intern!(py, "utcoffset"))? && value.hasattr(intern!(py, "isoformat"))? {
        if value.call_method0(intern!(py, "utcoffset"))?.is_none() {
            return Err(invalid_argument(
                py,
                format!(
                    "{name} is a naive datetime: give it a time zone (e.g. tzinfo=timezone.utc)"
                ),
            ));
        }
        return value.call_method0(intern!(py, "isoformat"))?.extract();
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a datetime.datetime or a str"
    )))
}

/// Builds a token through the core's own deserializer (date formats, empty token, ...).
fn from_json<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    what: &str,
    value: Value,
) -> PyResult<T> {
    // The messages of the core's deserializers never quote a token.
    serde_json::from_value(value).map_err(|e| invalid_argument(py, format!("invalid {what}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// A gateway's machine token. The token itself is never shown by `repr` or `str`.
///
/// `MachineToken(machine_token, expires_at, gateway_id, abilities=None, issued_at=None)` raises
/// `InvalidArgumentError` for an empty token or gateway id or a bad date; `issued_at` defaults
/// to now.
#[pyclass(frozen, module = "runbeam", name = "MachineToken")]
#[derive(PartialEq)]
pub struct PyMachineToken(pub(crate) MachineToken);

guarded! {
    "MachineToken";
    #[pymethods]
    impl PyMachineToken {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        #[new]
        #[pyo3(signature = (machine_token, expires_at, gateway_id, abilities=None, issued_at=None))]
        fn new(
            py: Python<'_>,
            machine_token: String,
            expires_at: &Bound<'_, PyAny>,
            gateway_id: String,
            abilities: Option<Vec<String>>,
            issued_at: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            let issued_at = issued_at
                .filter(|v| !v.is_none())
                .map(|v| timestamp_text("issued_at", v))
                .transpose()?;
            let value = json!({
                "machine_token": machine_token,
                "expires_at": timestamp_text("expires_at", expires_at)?,
                "gateway_id": gateway_id,
                "abilities": abilities.unwrap_or_default(),
                "issued_at": issued_at,
            });
            let token: PyResult<MachineToken> = from_json(py, "MachineToken", value);
            // `value` held a copy of the token in a plain String: it is dropped here, the token
            // itself lives on in a zeroizing `Secret`.
            let mut token = token?;
            token.issued_at.get_or_insert_with(time::OffsetDateTime::now_utc);
            Ok(PyMachineToken(token))
        }

        /// The opaque machine token (send it as `Authorization: Bearer`).
        #[getter]
        fn machine_token(&self) -> &str {
            self.0.machine_token.expose()
        }

        /// When it expires (aware, UTC).
        #[getter]
        fn expires_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            datetime(py, self.0.expires_at)
        }

        /// The gateway it identifies.
        #[getter]
        fn gateway_id(&self) -> &str {
            &self.0.gateway_id
        }

        /// What it may do.
        #[getter]
        fn abilities(&self) -> Vec<String> {
            self.0.abilities.clone()
        }

        /// When it was issued, if known.
        #[getter]
        fn issued_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
            optional_datetime(py, self.0.issued_at)
        }

        /// Whether it has expired.
        fn is_expired(&self) -> bool {
            self.0.is_expired()
        }

        /// Seconds left before it expires (`0.0` once expired).
        fn expires_in(&self) -> f64 {
            self.0.expires_in().as_secs_f64()
        }

        /// Whether it expires within `window` seconds (or has expired).
        #[pyo3(signature = (window=core::DEFAULT_RENEWAL_WINDOW.as_secs_f64()))]
        fn needs_renewal(&self, py: Python<'_>, window: f64) -> PyResult<bool> {
            Ok(self.0.needs_renewal(non_negative(py, "window", window)?))
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "MachineToken(gateway_id={}, expires_at={}, abilities={}, machine_token=<redacted>)",
                self.0.gateway_id.as_str().into_pyobject(py)?.repr()?,
                datetime(py, self.0.expires_at)?.bind(py).repr()?,
                self.0.abilities.as_slice().into_pyobject(py)?.repr()?,
            ))
        }
    }
}

fn machine_token(py: Python<'_>, token: MachineToken) -> PyResult<Py<PyAny>> {
    PyMachineToken(token).into_py_any(py)
}

fn optional_machine_token(py: Python<'_>, token: Option<MachineToken>) -> PyResult<Py<PyAny>> {
    match token {
        Some(t) => machine_token(py, t),
        None => Ok(py.None()),
    }
}

/// A user's token (user JWT or Sanctum token), optionally with its expiry and user. The token
/// is never shown by `repr` or `str`.
#[pyclass(frozen, module = "runbeam", name = "UserToken")]
#[derive(PartialEq)]
pub struct PyUserToken(UserToken);

guarded! {
    "UserToken";
    #[pymethods]
    impl PyUserToken {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        #[new]
        #[pyo3(signature = (token, expires_at=None, user=None))]
        fn new(
            py: Python<'_>,
            token: String,
            expires_at: Option<&Bound<'_, PyAny>>,
            user: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            let expires_at = expires_at
                .filter(|v| !v.is_none())
                .map(|v| timestamp_text("expires_at", v))
                .transpose()?;
            let user = user.filter(|v| !v.is_none()).map(py_to_json).transpose()?;
            let value = json!({"token": token, "expires_at": expires_at, "user": user});
            Ok(PyUserToken(from_json(py, "UserToken", value)?))
        }

        /// The token.
        #[getter]
        fn token(&self) -> &str {
            self.0.token.expose()
        }

        /// When it expires, if known (aware, UTC).
        #[getter]
        fn expires_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
            optional_datetime(py, self.0.expires_at)
        }

        /// Who it belongs to (`{"id", "email", "name"}` as the Cloud gives it), if known.
        #[getter]
        fn user(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
            self.0.user.as_ref().map(|u| json_to_py(py, u)).transpose()
        }

        /// Whether it has a known expiry that has passed.
        fn is_expired(&self) -> bool {
            self.0.is_expired()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let expires_at = match self.0.expires_at {
                Some(at) => datetime(py, at)?.bind(py).repr()?.to_string(),
                None => "None".to_string(),
            };
            Ok(format!(
                "UserToken(expires_at={expires_at}, token=<redacted>)"
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stores.

/// Where tokens are kept: one slot per `(instance_id, token_type)` (token types
/// `"auth"` for the machine token, `"user_auth"` for a user token, as runbeam-sdk 0.11 names
/// them). Ids match `[A-Za-z0-9_.-]{1,128}` and are not `.` or
/// `..`; anything else raises `InvalidArgumentError`.
///
/// Made by `open_token_store`, `FileTokenStore`, `KeyringTokenStore` or `MemoryTokenStore`.
/// Every call releases the GIL while it waits for the disk or the keyring. Raises
/// `StorageError`, `StorageCorruptError` (names the file; the file is kept) or
/// `KeyringUnavailableError`.
#[pyclass(frozen, subclass, module = "runbeam", name = "TokenStore")]
pub struct PyTokenStore {
    store: Arc<dyn TokenStore>,
}

fn check_slot(py: Python<'_>, instance_id: &str, token_type: Option<&str>) -> PyResult<()> {
    core::check_id("instance id", instance_id).or_raise(py)?;
    match token_type {
        Some(t) => core::check_id("token type", t).or_raise(py),
        None => Ok(()),
    }
}

guarded! {
    "TokenStore";
    #[pymethods]
    impl PyTokenStore {
        /// `"keyring"`, `"file"` or `"memory"`.
        #[getter]
        fn backend(&self) -> &'static str {
            self.store.backend().name()
        }

        /// Where a slot lives: a file path or a keyring entry name.
        fn location(&self, py: Python<'_>, instance_id: &str, token_type: &str) -> PyResult<String> {
            check_slot(py, instance_id, Some(token_type))?;
            Ok(self.store.location(instance_id, token_type))
        }

        /// The machine token of `instance_id` (`RUNBEAM_MACHINE_TOKEN` first), or `None`.
        fn load_machine_token(&self, py: Python<'_>, instance_id: &str) -> PyResult<Py<PyAny>> {
            let store = &*self.store;
            let token = py
                .detach(|| core::load_machine_token(store, instance_id))
                .or_raise(py)?;
            optional_machine_token(py, token)
        }

        /// Saves the machine token of `instance_id` (atomically replaces the slot).
        fn save_machine_token(
            &self,
            py: Python<'_>,
            instance_id: &str,
            token: PyRef<'_, PyMachineToken>,
        ) -> PyResult<()> {
            let store = &*self.store;
            let token = &token.0;
            py.detach(|| core::save_machine_token(store, instance_id, token))
                .or_raise(py)
        }

        /// The user token kept for `instance_id`, or `None`.
        fn load_user_token(&self, py: Python<'_>, instance_id: &str) -> PyResult<Option<PyUserToken>> {
            let store = &*self.store;
            let token = py
                .detach(|| core::load_user_token(store, instance_id))
                .or_raise(py)?;
            Ok(token.map(PyUserToken))
        }

        /// Saves a user token for `instance_id`.
        fn save_user_token(
            &self,
            py: Python<'_>,
            instance_id: &str,
            token: PyRef<'_, PyUserToken>,
        ) -> PyResult<()> {
            let store = &*self.store;
            let token = &token.0;
            py.detach(|| core::save_user_token(store, instance_id, token))
                .or_raise(py)
        }

        /// Empties a slot; whether it held something.
        fn delete(&self, py: Python<'_>, instance_id: &str, token_type: &str) -> PyResult<bool> {
            let store = &*self.store;
            py.detach(|| store.delete(instance_id, token_type))
                .or_raise(py)
        }

        fn __repr__(&self) -> String {
            format!("TokenStore(backend={:?})", self.store.backend().name())
        }
    }
}

/// The age-encrypted file store under `root` (`None`: `RUNBEAM_HOME`, else `~/.runbeam`).
///
/// `FileTokenStore(root=None, key=None)`: `key` (`AGE-SECRET-KEY-1…` or its base64) replaces
/// the key files; without it `RUNBEAM_ENCRYPTION_KEY` does.
#[pyclass(frozen, extends = PyTokenStore, module = "runbeam", name = "FileTokenStore")]
pub struct PyFileTokenStore {
    root: PathBuf,
}

guarded! {
    "FileTokenStore";
    #[pymethods]
    impl PyFileTokenStore {
        #[new]
        #[pyo3(signature = (root=None, key=None))]
        fn new(
            py: Python<'_>,
            root: Option<PathBuf>,
            key: Option<String>,
        ) -> PyResult<PyClassInitializer<Self>> {
            let mut store = match root {
                Some(root) => FileTokenStore::new(root),
                None => FileTokenStore::from_env().or_raise(py)?,
            };
            if let Some(key) = key {
                store = store.with_key(Secret::new(key)).or_raise(py)?;
            }
            let root = store.root().to_path_buf();
            Ok(PyClassInitializer::from(PyTokenStore {
                store: Arc::new(store),
            })
            .add_subclass(PyFileTokenStore { root }))
        }

        /// The storage root.
        #[getter]
        fn root(&self) -> PathBuf {
            self.root.clone()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "FileTokenStore(root={})",
                self.root.to_string_lossy().into_pyobject(py)?.repr()?
            ))
        }
    }
}

/// The OS keyring store (Linux: the Secret Service). Raises `KeyringUnavailableError` when
/// the keyring cannot be reached.
#[pyclass(frozen, extends = PyTokenStore, module = "runbeam", name = "KeyringTokenStore")]
pub struct PyKeyringTokenStore;

guarded! {
    "KeyringTokenStore";
    #[pymethods]
    impl PyKeyringTokenStore {
        #[new]
        fn new(py: Python<'_>) -> PyResult<PyClassInitializer<Self>> {
            let store = py.detach(KeyringTokenStore::platform).or_raise(py)?;
            Ok(PyClassInitializer::from(PyTokenStore {
                store: Arc::new(store),
            })
            .add_subclass(PyKeyringTokenStore))
        }

        fn __repr__(&self) -> &'static str {
            "KeyringTokenStore()"
        }
    }
}

/// An in-memory store: nothing survives the process.
#[pyclass(frozen, extends = PyTokenStore, module = "runbeam", name = "MemoryTokenStore")]
pub struct PyMemoryTokenStore;

guarded! {
    "MemoryTokenStore";
    #[pymethods]
    impl PyMemoryTokenStore {
        #[new]
        fn new() -> PyClassInitializer<Self> {
            PyClassInitializer::from(PyTokenStore {
                store: Arc::new(MemoryTokenStore::new()),
            })
            .add_subclass(PyMemoryTokenStore)
        }

        fn __repr__(&self) -> &'static str {
            "MemoryTokenStore()"
        }
    }
}

guarded! {
    /// The store `choice` asks for: `"auto"` probes the OS keyring with a real write, read and
    /// delete and falls back to the encrypted files; `"keyring"` (probed, or
    /// `KeyringUnavailableError`); `"file"` (`FileTokenStore` at `RUNBEAM_HOME`/`~/.runbeam`).
    /// `None`: `RUNBEAM_TOKEN_STORE`, unset meaning auto. The chosen backend is
    /// `TokenStore.backend`.
    #[pyfunction]
    #[pyo3(signature = (choice=None))]
    pub fn open_token_store(py: Python<'_>, choice: Option<&str>) -> PyResult<PyTokenStore> {
        let choice = choice
            .map(StoreChoice::parse)
            .transpose()
            .map_err(|e| to_py_err(py, &e))?;
        let store = py
            .detach(|| match choice {
                Some(choice) => core::open_token_store(choice),
                None => core::open_default_token_store(),
            })
            .or_raise(py)?;
        Ok(PyTokenStore { store })
    }
}

// ---------------------------------------------------------------------------------------------
// Python callbacks called by the core.

/// A Python exception of a callback as a core error: a `RunbeamError` keeps its kind and
/// message; anything else is `NoToken` (no user token to renew with) naming the exception.
fn callback_error(py: Python<'_>, err: &PyErr) -> Error {
    let value = err.value(py);
    let message = value
        .str()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "<unprintable>".to_string());
    let is_runbeam = py
        .import(intern!(py, "runbeam.errors"))
        .and_then(|m| m.getattr(intern!(py, "RunbeamError")))
        .and_then(|base| value.is_instance(&base))
        .unwrap_or(false);
    if is_runbeam {
        let kind = value
            .getattr(intern!(py, "kind"))
            .and_then(|k| k.extract::<String>())
            .ok()
            .and_then(|name| ErrorKind::ALL.into_iter().find(|k| k.name() == name));
        if let Some(kind) = kind {
            return Error::new(kind, format!("the credential callback failed: {message}"));
        }
    }
    let type_name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_string());
    Error::new(
        ErrorKind::NoToken,
        format!(
            "the credential callback raised {type_name}: {message}; no user or Sanctum token to \
             authorize the gateway with"
        ),
    )
}

fn credential_callback(callback: Py<PyAny>) -> Arc<CredentialFn> {
    Arc::new(move || {
        let Some(_entry) = Delivery::start() else {
            return Err(Error::new(
                ErrorKind::NoToken,
                "the interpreter is exiting: the credential callback was not called",
            ));
        };
        Python::attach(|py| {
            let out = callback
                .bind(py)
                .call0()
                .map_err(|e| callback_error(py, &e))?;
            match out.cast::<PyString>() {
                Ok(text) => Ok(Secret::new(
                    text.to_str()
                        .map_err(|e| callback_error(py, &e))?
                        .to_string(),
                )),
                // Only the type: the value could be the token in another shape (bytes).
                Err(_) => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the credential callback returned {} instead of a str",
                        out.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ),
                )),
            }
        })
    })
}

fn window_callback(callback: Py<PyAny>) -> Arc<RenewalWindowFn> {
    Arc::new(move |token: &MachineToken| {
        let Some(_entry) = Delivery::start() else {
            return;
        };
        Python::attach(|py| {
            let called = Py::new(py, PyMachineToken(token.clone()))
                .and_then(|t| callback.bind(py).call1((t,)));
            if let Err(e) = called {
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    })
}

fn parse_credential(
    py: Python<'_>,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Credential>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_str()?;
        if text.is_empty() {
            return Err(invalid_argument(py, "credential is an empty string"));
        }
        return Ok(Some(Credential::Token(Secret::new(text.to_string()))));
    }
    if value.is_callable() {
        return Ok(Some(Credential::Callback(credential_callback(
            value.clone().unbind(),
        ))));
    }
    Err(PyTypeError::new_err(
        "credential must be a str (user JWT or Sanctum token), a callable returning one, or None",
    ))
}

// ---------------------------------------------------------------------------------------------
// The managers.

/// What a manager was created from, kept to rebuild it in a forked child.
struct Setup {
    instance_id: String,
    store: Py<PyTokenStore>,
    core_store: Arc<dyn TokenStore>,
    client: Py<PyAny>,
    gateway_code: Option<String>,
    credential: Option<Credential>,
    window: Duration,
    on_window: Option<Arc<RenewalWindowFn>>,
}

impl Setup {
    fn build(&self, py: Python<'_>) -> PyResult<TokenManager> {
        let client = core_client(self.client.bind(py))?;
        let mut manager = TokenManager::new(
            self.instance_id.clone(),
            Arc::clone(&self.core_store),
            client,
        )
        .renewal_window(self.window);
        if let Some(code) = &self.gateway_code {
            manager = manager.gateway_code(code.clone());
        }
        if let Some(credential) = &self.credential {
            manager = manager.credential(credential.clone());
        }
        if let Some(callback) = &self.on_window {
            manager = manager.on_renewal_window(Arc::clone(callback));
        }
        Ok(manager)
    }
}

/// A core manager and how to build it again in a forked child.
struct Handle {
    setup: Setup,
    manager: ForkSafe<Arc<TokenManager>>,
}

impl Handle {
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        instance_id: String,
        store: &Bound<'_, PyAny>,
        client: &Bound<'_, PyAny>,
        gateway_code: Option<String>,
        credential: Option<&Bound<'_, PyAny>>,
        renewal_window: f64,
        on_renewal_window: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Handle> {
        let store = store
            .cast::<PyTokenStore>()
            .map_err(|_| PyTypeError::new_err("store must be a runbeam.TokenStore"))?;
        let on_window = match on_renewal_window.filter(|v| !v.is_none()) {
            None => None,
            Some(cb) if cb.is_callable() => Some(window_callback(cb.clone().unbind())),
            Some(_) => {
                return Err(PyTypeError::new_err(
                    "on_renewal_window must be a callable taking a MachineToken, or None",
                ));
            }
        };
        check_slot(py, &instance_id, None)?;
        let setup = Setup {
            instance_id,
            core_store: Arc::clone(&store.get().store),
            store: store.clone().unbind(),
            client: client.clone().unbind(),
            gateway_code,
            credential: parse_credential(py, credential)?,
            window: non_negative(py, "renewal_window", renewal_window)?,
            on_window,
        };
        let manager = Arc::new(setup.build(py)?);
        Ok(Handle {
            setup,
            manager: ForkSafe::new(manager),
        })
    }

    /// The manager of this process.
    fn get(&self, py: Python<'_>) -> PyResult<Arc<TokenManager>> {
        self.manager.get(|| self.setup.build(py).map(Arc::new))
    }

    fn repr(&self, class: &str) -> String {
        let credential = match &self.setup.credential {
            None => "None",
            Some(Credential::Token(_)) => "<redacted>",
            Some(Credential::Callback(_)) => "<callable>",
        };
        format!(
            "{class}(instance_id={:?}, backend={:?}, credential={credential})",
            self.setup.instance_id,
            self.setup.core_store.backend().name()
        )
    }
}

/// The core manager behind a `TokenManager` or `AsyncTokenManager` object (rebuilt in a
/// forked child), for the resolvers.
pub(crate) fn core_manager(arg: &Bound<'_, PyAny>) -> PyResult<Arc<TokenManager>> {
    let py = arg.py();
    if let Ok(m) = arg.cast::<PyTokenManager>() {
        return m.get().inner.get(py);
    }
    if let Ok(m) = arg.cast::<PyAsyncTokenManager>() {
        return m.get().inner.get(py);
    }
    Err(PyTypeError::new_err(format!(
        "token_manager must be a runbeam.TokenManager or a runbeam.AsyncTokenManager, not {}",
        arg.get_type().name()?
    )))
}

/// The stats of a `TokenManager` or `AsyncTokenManager` (for `prometheus_text`); `None` for
/// anything else.
pub(crate) fn manager_stats(
    arg: &Bound<'_, PyAny>,
) -> Option<PyResult<runbeam_core::metrics::TokenManagerStats>> {
    let py = arg.py();
    if let Ok(m) = arg.cast::<PyTokenManager>() {
        return Some(m.get().inner.get(py).map(|m| m.stats()));
    }
    if let Ok(m) = arg.cast::<PyAsyncTokenManager>() {
        return Some(m.get().inner.get(py).map(|m| m.stats()));
    }
    None
}

class_pair! {
    /// Keeps one gateway instance's machine token valid (docs/spec.md §5.3), blocking; every
    /// wait releases the GIL.
    ///
    /// `TokenManager(instance_id, store, client, *, gateway_code=None, credential=None,
    /// renewal_window, on_renewal_window=None)`. `client`: a `Client`/`AsyncClient` (its own
    /// token is not used) or an API URL. `gateway_code` defaults to `instance_id`.
    /// `credential`: the user JWT or Sanctum token renewals use, or a callable returning one
    /// (called only when a renewal is due, from a background thread, with the GIL taken there;
    /// an exception it raises becomes a `NoTokenError` keeping its message — a `RunbeamError`
    /// keeps its class). `renewal_window`: seconds before expiry to renew (the core's default,
    /// 7 days). `on_renewal_window(token)` is called (from a background thread) when the stored
    /// token is inside the window; its exceptions go to `sys.unraisablehook`.
    sync PyTokenManager = "TokenManager";
    /// The asyncio form of `TokenManager`: `ensure_token`, `revoke` and `current` return
    /// awaitables.
    async PyAsyncTokenManager = "AsyncTokenManager";
    holds Handle;
    members {
        #[new]
        #[pyo3(signature = (
            instance_id,
            store,
            client,
            *,
            gateway_code=None,
            credential=None,
            renewal_window=core::DEFAULT_RENEWAL_WINDOW.as_secs_f64(),
            on_renewal_window=None,
        ))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            instance_id: String,
            store: &Bound<'_, PyAny>,
            client: &Bound<'_, PyAny>,
            gateway_code: Option<String>,
            credential: Option<&Bound<'_, PyAny>>,
            renewal_window: f64,
            on_renewal_window: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            Ok(Self {
                inner: Handle::new(
                    py,
                    instance_id,
                    store,
                    client,
                    gateway_code,
                    credential,
                    renewal_window,
                    on_renewal_window,
                )?,
            })
        }

        /// The gateway instance.
        #[getter]
        fn instance_id(&self) -> &str {
            &self.inner.setup.instance_id
        }

        /// The store tokens are kept in.
        #[getter]
        fn store(&self, py: Python<'_>) -> Py<PyTokenStore> {
            self.inner.setup.store.clone_ref(py)
        }

        /// Counters since the manager was built (`TokenManagerStats`: renewals and renewal
        /// failures), a snapshot. Immediate, also on `AsyncTokenManager`.
        fn stats(&self, py: Python<'_>) -> PyResult<PyTokenManagerStats> {
            Ok(PyTokenManagerStats(self.inner.get(py)?.stats()))
        }

        fn __repr__(&self) -> String {
            self.inner.repr(Self::NAME)
        }
    }
    calls {
        /// The stored token, or — when missing, expired or inside the renewal window and a
        /// credential is configured — a new one from `/harmony/authorize`, saved first.
        /// Concurrent callers share one renewal.
        ///
        /// Raises:
        ///     NoTokenError: nothing stored and no credential (the message says what to do).
        ///     TokenExpiredError: the stored token expired and there is no credential.
        fn ensure_token(py, m) -> machine_token {
            Attempt::pending(async move { m.ensure_token().await })
        }

        /// Revokes every machine token of the gateway (with the credential) and clears the store.
        fn revoke(py, m) -> nothing {
            Attempt::pending(async move { m.revoke().await })
        }

        /// The stored token, without renewal, or `None`.
        fn current(py, m) -> optional_machine_token {
            Attempt::pending(async move { m.current().await })
        }
    }
}
