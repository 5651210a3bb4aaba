//! The HTTP edge (docs/edge.md): `runbeam.refusal_for` and `runbeam.Refusal` (runbeam-core's
//! [`edge::Refusal`]), `runbeam.join_path` ([`edge::join_path`]) and `runbeam.Outbound` (what
//! `Resolver.outbound` returns: [`resolve::Outbound`]).
//!
//! The ASGI middleware of `runbeam/asgi.py` is written in Python over these and over
//! `AsyncValidator.authenticate`, `AsyncResolver.verify_mesh_request` and
//! `AsyncResolver.outbound`; every rule (which status, which headers, which body; how a request
//! path is appended to a URL) is runbeam-core's, this module only converts.
//!
//! **Secrets.** `Outbound.authorization` and `Outbound.headers` hold the mesh token; its
//! `repr()` shows neither.

use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use runbeam_core::ErrorKind;
use runbeam_core::edge::{self, Refusal, Stage};
use runbeam_core::resolve;

use crate::convert::datetime;
use crate::errors::{OrRaise, invalid_argument, runbeam_error_class};
use crate::guard::guarded;

// ---------------------------------------------------------------------------------------------
// Outbound.

/// What to send to reach a partner's resource through the mesh (from `Resolver.outbound`): the
/// `url` (the resource's URL followed by the request path) and the `headers` to add (the
/// `Authorization` header carrying the mesh token). Send it with your own HTTP client:
///
/// ```python
/// out = await resolver.outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies")
/// answer = await http.get(out.url, headers=out.headers)
/// ```
///
/// `authorization` and `headers` are a credential: never log them. `repr()` and `str()` never
/// show the token.
#[pyclass(frozen, module = "runbeam", name = "Outbound")]
pub struct PyOutbound {
    outbound: resolve::Outbound,
}

guarded! {
    "Outbound";
    #[pymethods]
    impl PyOutbound {
        /// The URL to send the request to.
        #[getter]
        fn url(&self) -> &str {
            self.outbound.url()
        }

        /// Every header to add to the request, as a new `dict` (today only
        /// `{"authorization": "Bearer <mesh token>"}`), names in lower case.
        #[getter]
        fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let dict = PyDict::new(py);
            for (name, value) in self.outbound.headers() {
                dict.set_item(name, value)?;
            }
            Ok(dict)
        }

        /// The value of the `Authorization` header (`Bearer <mesh token>`): a credential.
        #[getter]
        fn authorization(&self) -> &str {
            self.outbound.authorization()
        }

        /// The resource's URL the path was appended to (the mesh token's `dest_url`).
        #[getter]
        fn base_url(&self) -> &str {
            self.outbound.base_url()
        }

        /// The mesh (its configuration name) the token was issued for.
        #[getter]
        fn mesh(&self) -> &str {
            self.outbound.mesh()
        }

        /// The reference, in its canonical spelling.
        #[getter]
        fn reference(&self) -> &str {
            self.outbound.reference()
        }

        /// Whether the resolution was a stale answer, served because the provider failed
        /// (see `Resolution.is_stale`).
        #[getter]
        fn is_stale(&self) -> bool {
            self.outbound.is_stale()
        }

        /// When the mesh token expires (aware, UTC).
        #[getter]
        fn token_expires_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            datetime(py, self.outbound.token_expires_at())
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Outbound(url={}, mesh={}, reference={}, is_stale={}, token_expires_at={}, \
                 authorization=<redacted>)",
                PyString::new(py, self.outbound.url()).repr()?,
                PyString::new(py, self.outbound.mesh()).repr()?,
                PyString::new(py, self.outbound.reference()).repr()?,
                if self.outbound.is_stale() { "True" } else { "False" },
                datetime(py, self.outbound.token_expires_at())?.bind(py).repr()?
            ))
        }
    }
}

/// The Python object of an [`resolve::Outbound`] (the converter of `Resolver.outbound`).
pub(crate) fn outbound(py: Python<'_>, outbound: resolve::Outbound) -> PyResult<Py<PyAny>> {
    PyOutbound { outbound }.into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// Refusal.

/// The HTTP answer to a request that failed a librunbeam check (from `refusal_for`): `status`
/// (400, 401, 403, 404 or 503, never 500), the `headers` to send besides `Content-Type`
/// (`www-authenticate` on every 401, `retry-after` on every 503), a fixed JSON `body` that
/// never quotes the request, the token or the error, and its `content_type`. The same answer
/// in every language librunbeam serves (docs/edge.md).
#[pyclass(frozen, module = "runbeam", name = "Refusal")]
#[derive(PartialEq)]
pub struct PyRefusal(Refusal);

guarded! {
    "Refusal";
    #[pymethods]
    impl PyRefusal {
        /// The HTTP status: 400, 401, 403, 404 or 503.
        #[getter]
        fn status(&self) -> u16 {
            self.0.status()
        }

        /// The kind of the error it answers (`RunbeamError.kind`, e.g. `"JwtExpired"`).
        #[getter]
        fn kind(&self) -> &'static str {
            self.0.kind().name()
        }

        /// Every header to send besides `Content-Type`, as `(name, value)` pairs with names in
        /// lower case: `www-authenticate` (every 401: `Bearer error="invalid_token"`) and/or
        /// `retry-after` (every 503, in seconds), in that order.
        #[getter]
        fn headers(&self) -> Vec<(&'static str, String)> {
            self.0.headers()
        }

        /// The `WWW-Authenticate` value (every 401), else `None`.
        #[getter]
        fn www_authenticate(&self) -> Option<&'static str> {
            self.0.www_authenticate()
        }

        /// The `Retry-After` value in seconds (every 503), else `None`: the Cloud's own when it
        /// sent one, else 5 for a transient failure and 30 for one that needs an operator.
        #[getter]
        fn retry_after_secs(&self) -> Option<u64> {
            self.0.retry_after_secs()
        }

        /// The JSON body, e.g. `b'{"error":"invalid_token"}'`: a fixed code per answer
        /// (`invalid_token`, `not_in_mesh`, `forbidden`, `invalid_request`, `not_found`,
        /// `unavailable`).
        #[getter]
        fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, self.0.body().as_bytes())
        }

        /// The media type of the body: `"application/json"`.
        #[getter]
        fn content_type(&self) -> &'static str {
            edge::CONTENT_TYPE
        }

        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        // Python's own repr of each value:
        // `Refusal(status=401, kind='JwtInvalid', headers=[('www-authenticate', '…')], body=b'…')`.
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Refusal(status={}, kind='{}', headers={}, body={})",
                self.0.status(),
                self.0.kind().name(),
                self.0.headers().into_pyobject(py)?.repr()?,
                PyBytes::new(py, self.0.body().as_bytes()).repr()?
            ))
        }
    }
}

/// The stage named `name`.
fn stage(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Stage> {
    let Ok(text) = name.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "stage must be a str ('user_token', 'mesh_token' or 'outbound'), not {}",
            name.get_type().name()?
        )));
    };
    match text.to_str()? {
        "user_token" => Ok(Stage::UserToken),
        "mesh_token" => Ok(Stage::MeshToken),
        "outbound" => Ok(Stage::Outbound),
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(invalid_argument(
                py,
                format!(
                    "stage must be 'user_token', 'mesh_token' or 'outbound', not '{}'",
                    shown.escape_debug()
                ),
            ))
        }
    }
}

/// What `refusal_for` reads of `error`: the kind and the Cloud's `Retry-After` of a
/// `RunbeamError`; anything else is `Internal`.
fn error_facts(
    py: Python<'_>,
    error: &Bound<'_, PyAny>,
) -> PyResult<(ErrorKind, Option<Duration>)> {
    if !error.is_instance(runbeam_error_class(py)?)? {
        return Ok((ErrorKind::Internal, None));
    }
    let kind = error
        .getattr(intern!(py, "kind"))
        .ok()
        .and_then(|k| k.extract::<String>().ok())
        .and_then(|name| ErrorKind::ALL.into_iter().find(|k| k.name() == name))
        .unwrap_or(ErrorKind::Internal);
    let retry_after = error
        .getattr(intern!(py, "retry_after"))
        .ok()
        .and_then(|r| r.extract::<f64>().ok())
        .filter(|secs| *secs >= 0.0 && !secs.is_nan())
        // Too large for a Duration (inf included): the core bounds it anyway.
        .map(|secs| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    Ok((kind, retry_after))
}

guarded! {
    /// The HTTP answer (`Refusal`) to `error`, raised at `stage`: `"user_token"` (checking the
    /// user's JWT of an inbound request), `"mesh_token"` (checking a partner's mesh token on an
    /// inbound request) or `"outbound"` (resolving a reference and obtaining a mesh token for a
    /// request across the mesh). The rule is runbeam-core's (docs/edge.md): a bad token inbound
    /// is 401, a reference outside the mesh 403, a bad request path 400, an unknown resource
    /// 404 (outbound), anything else 503 with `Retry-After`; never 500.
    ///
    /// `error` is any exception: a `RunbeamError` is answered by its `kind` (and the Cloud's
    /// `retry_after`), anything else as `Internal` (503). Raises `InvalidArgumentError` for an
    /// unknown stage.
    ///
    /// ```python
    /// try:
    ///     claims = validator.authenticate(headers.get("authorization"))
    /// except runbeam.RunbeamError as e:
    ///     refusal = runbeam.refusal_for(e, "user_token")  # refusal.status == 401, ...
    /// ```
    #[pyfunction]
    pub fn refusal_for(
        py: Python<'_>,
        error: &Bound<'_, PyAny>,
        stage: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefusal> {
        let stage = self::stage(py, stage)?;
        let (kind, retry_after) = error_facts(py, error)?;
        Ok(PyRefusal(Refusal::for_kind(kind, stage, retry_after)))
    }
}

guarded! {
    /// `base` (an http(s) URL: a resource's URL, or the public URL a gateway serves) followed
    /// by the request target `path` (as received, not percent-decoded, with its query if any):
    /// runbeam-core's rule, which refuses any path that would leave `base` or that the server
    /// behind could read as another path (`..` segments, encoded `/`, `\` or NUL, double
    /// percent-encoding, a path not starting with a single `/`, …).
    ///
    /// Raises `InvalidArgumentError` saying why (the path is not quoted).
    ///
    /// ```python
    /// assert runbeam.join_path("https://dicom.example.com/wado", "/studies?modality=CT") == \
    ///     "https://dicom.example.com/wado/studies?modality=CT"
    /// ```
    #[pyfunction]
    pub fn join_path(py: Python<'_>, base: &str, path: &str) -> PyResult<String> {
        edge::join_path(base, path).or_raise(py)
    }
}

/// Adds the classes and functions of the edge to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOutbound>()?;
    m.add_class::<PyRefusal>()?;
    m.add_function(wrap_pyfunction!(refusal_for, m)?)?;
    m.add_function(wrap_pyfunction!(join_path, m)?)?;
    Ok(())
}
