//! `runbeam.MeshConfig` and the small read-only objects it returns.
//!
//! The configuration objects returned by `meshes()`, `ingresses()`, … are snapshots: plain
//! values copied out of the core model (never a secret such as a mesh's `jwt_secret`).

use std::fmt;
use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple, PyType};
use runbeam_core::config::{Egress, Ingress, Mesh, MeshConfig, Provider};
use runbeam_core::{ErrorKind, Problem, Reference};

use crate::errors::{OrRaise, invalid_argument};
use crate::guard::guarded;
use crate::reference::{PyReference, text_arg, with_reference};

/// Python's `repr()` of a string.
fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_cow()?.into_owned())
}

/// Python's `repr()` of an optional string.
fn repr_opt(py: Python<'_>, text: Option<&str>) -> PyResult<String> {
    text.map_or_else(|| Ok("None".to_string()), |t| repr_str(py, t))
}

/// Python's `repr()` of a list of strings.
fn repr_list<'a>(py: Python<'_>, items: impl IntoIterator<Item = &'a str>) -> PyResult<String> {
    let items = items
        .into_iter()
        .map(|item| repr_str(py, item))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("[{}]", items.join(", ")))
}

/// One finding of a configuration check: `kind`, TOML `path` and `message`.
#[pyclass(frozen, module = "runbeam", name = "Problem")]
#[derive(Clone, PartialEq)]
pub struct PyProblem(pub(crate) Problem);

impl fmt::Display for PyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

guarded! {
    "Problem";
    #[pymethods]
    impl PyProblem {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        fn __str__(&self) -> String {
            self.to_string()
        }

        /// `Problem(kind, path, message)`; `kind` is an error kind name such as `"Config"`.
        #[new]
        fn new(py: Python<'_>, kind: &str, path: String, message: String) -> PyResult<Self> {
            let Some(kind) = ErrorKind::ALL.into_iter().find(|k| k.name() == kind) else {
                return Err(invalid_argument(
                    py,
                    format!("'{kind}' is not an error kind name"),
                ));
            };
            Ok(PyProblem(Problem::new(kind, path, message)))
        }

        /// The error kind name: `"Config"`, `"InvalidReference"` or `"UnknownProvider"`.
        #[getter]
        fn kind(&self) -> &'static str {
            self.0.kind().name()
        }

        /// Dotted TOML path of the value concerned, e.g. `"mesh.imaging.egress[0]"`.
        #[getter]
        fn path(&self) -> &str {
            self.0.path()
        }

        /// What is wrong, without the path.
        #[getter]
        fn message(&self) -> &str {
            self.0.message()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Problem(kind={}, path={}, message={})",
                repr_str(py, self.0.kind().name())?,
                repr_str(py, self.0.path())?,
                repr_str(py, self.0.message())?
            ))
        }

        fn __reduce__<'py>(
            slf: &Bound<'py, Self>,
        ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
            let p = &slf.get().0;
            let args = PyTuple::new(slf.py(), [p.kind().name(), p.path(), p.message()])?;
            Ok((slf.get_type(), args))
        }
    }
}

fn references<'a>(list: impl Iterator<Item = &'a Reference>) -> Vec<PyReference> {
    list.cloned().map(PyReference).collect()
}

/// A `[mesh.<name>]` table (snapshot).
#[pyclass(frozen, module = "runbeam", name = "Mesh")]
pub struct PyMesh {
    /// The table name.
    #[pyo3(get)]
    name: String,
    protocol: &'static str,
    /// The provider that runs the mesh.
    #[pyo3(get)]
    provider: String,
    /// `id` as written, if any.
    #[pyo3(get)]
    id: Option<String>,
    /// The id used with the Cloud API (`id`, else the name).
    #[pyo3(get)]
    cloud_id: String,
    /// `enabled` as written (default true).
    #[pyo3(get)]
    enabled: bool,
    /// Enabled and its provider configured and enabled: the mesh gives context.
    #[pyo3(get)]
    is_active: bool,
    /// Free text.
    #[pyo3(get)]
    description: Option<String>,
    ingress: Vec<PyReference>,
    egress: Vec<PyReference>,
}

impl PyMesh {
    fn new(config: &MeshConfig, mesh: &Mesh) -> Self {
        PyMesh {
            name: mesh.name.clone(),
            protocol: mesh.protocol.as_str(),
            provider: mesh.provider.clone(),
            id: mesh.id.clone(),
            cloud_id: mesh.cloud_id().to_string(),
            enabled: mesh.enabled,
            is_active: config.is_mesh_active(mesh),
            description: mesh.description.clone(),
            ingress: references(mesh.ingress()),
            egress: references(mesh.egress()),
        }
    }
}

guarded! {
    "Mesh";
    #[pymethods]
    impl PyMesh {
        /// `"http"` or `"http3"`.
        #[getter]
        fn protocol(&self) -> &'static str {
            self.protocol
        }

        /// The references of the `ingress` list that parse, in order.
        #[getter]
        fn ingress(&self) -> Vec<PyReference> {
            self.ingress.clone()
        }

        /// The references of the `egress` list that parse, in order.
        #[getter]
        fn egress(&self) -> Vec<PyReference> {
            self.egress.clone()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Mesh(name={}, protocol={}, provider={}, enabled={})",
                repr_str(py, &self.name)?,
                repr_str(py, self.protocol)?,
                repr_str(py, &self.provider)?,
                if self.enabled { "True" } else { "False" }
            ))
        }
    }
}

/// A remote reference listed in a mesh: `mesh` (name), `direction` and `reference`.
#[pyclass(frozen, module = "runbeam", name = "MeshMember")]
#[derive(PartialEq)]
pub struct PyMeshMember {
    /// The name of the mesh that lists it.
    #[pyo3(get)]
    mesh: String,
    direction: &'static str,
    reference: PyReference,
}

guarded! {
    "MeshMember";
    #[pymethods]
    impl PyMeshMember {
        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self == other
        }

        /// `"ingress"` or `"egress"`: the mesh list it appears in.
        #[getter]
        fn direction(&self) -> &'static str {
            self.direction
        }

        /// The reference.
        #[getter]
        fn reference(&self) -> PyReference {
            self.reference.clone()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "MeshMember(mesh={}, direction={}, reference=Reference('{}'))",
                repr_str(py, &self.mesh)?,
                repr_str(py, self.direction)?,
                self.reference
            ))
        }
    }
}

/// A `[provider.<name>]` table, or the implicit `local` provider (snapshot).
#[pyclass(frozen, module = "runbeam", name = "Provider")]
pub struct PyProvider {
    /// The table name.
    #[pyo3(get)]
    name: String,
    /// The API root URL (`None` for `local`).
    #[pyo3(get)]
    api: Option<String>,
    /// Seconds between polls for configuration changes.
    #[pyo3(get)]
    poll_interval_secs: u32,
    /// Resolution cache TTL in seconds.
    #[pyo3(get)]
    cache_ttl_secs: u32,
    /// Whether the provider is used.
    #[pyo3(get)]
    enabled: bool,
}

impl From<&Provider> for PyProvider {
    fn from(p: &Provider) -> Self {
        PyProvider {
            name: p.name.clone(),
            api: p.api.clone(),
            poll_interval_secs: p.poll_interval_secs,
            cache_ttl_secs: p.cache_ttl_secs,
            enabled: p.enabled,
        }
    }
}

guarded! {
    "Provider";
    #[pymethods]
    impl PyProvider {
        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Provider(name={}, api={})",
                repr_str(py, &self.name)?,
                repr_opt(py, self.api.as_deref())?
            ))
        }
    }
}

/// A `[pipelines.<p>.mesh.ingress.<name>]` table: a local mesh ingress (snapshot).
#[pyclass(frozen, module = "runbeam", name = "Ingress")]
pub struct PyIngress {
    /// The table name (local references name it).
    #[pyo3(get)]
    name: String,
    /// The pipeline that defines it.
    #[pyo3(get)]
    pipeline: String,
    protocol: &'static str,
    /// URLs clients use to reach it.
    #[pyo3(get)]
    urls: Vec<String>,
    /// The pipeline endpoint it feeds.
    #[pyo3(get)]
    endpoint: Option<String>,
    mode: &'static str,
    /// Whether it is active.
    #[pyo3(get)]
    enabled: bool,
    /// Free text.
    #[pyo3(get)]
    description: Option<String>,
}

impl From<&Ingress> for PyIngress {
    fn from(i: &Ingress) -> Self {
        PyIngress {
            name: i.name.clone(),
            pipeline: i.pipeline.clone(),
            protocol: i.protocol.as_str(),
            urls: i.urls.clone(),
            endpoint: i.endpoint.clone(),
            mode: i.mode.as_str(),
            enabled: i.enabled,
            description: i.description.clone(),
        }
    }
}

guarded! {
    "Ingress";
    #[pymethods]
    impl PyIngress {
        /// `"http"` or `"http3"`.
        #[getter]
        fn protocol(&self) -> &'static str {
            self.protocol
        }

        /// `"default"` or `"mesh"`.
        #[getter]
        fn mode(&self) -> &'static str {
            self.mode
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Ingress(name={}, pipeline={}, protocol={}, urls={})",
                repr_str(py, &self.name)?,
                repr_str(py, &self.pipeline)?,
                repr_str(py, self.protocol)?,
                repr_list(py, self.urls.iter().map(String::as_str))?
            ))
        }
    }
}

/// A `[pipelines.<p>.mesh.egress.<name>]` table: a local mesh egress (snapshot).
#[pyclass(frozen, module = "runbeam", name = "Egress")]
pub struct PyEgress {
    /// The table name (local references name it).
    #[pyo3(get)]
    name: String,
    /// The pipeline that defines it.
    #[pyo3(get)]
    pipeline: String,
    protocol: &'static str,
    /// The pipeline backend it uses.
    #[pyo3(get)]
    backend: Option<String>,
    mode: &'static str,
    /// Whether it is active.
    #[pyo3(get)]
    enabled: bool,
    /// Free text.
    #[pyo3(get)]
    description: Option<String>,
}

impl From<&Egress> for PyEgress {
    fn from(e: &Egress) -> Self {
        PyEgress {
            name: e.name.clone(),
            pipeline: e.pipeline.clone(),
            protocol: e.protocol.as_str(),
            backend: e.backend.clone(),
            mode: e.mode.as_str(),
            enabled: e.enabled,
            description: e.description.clone(),
        }
    }
}

guarded! {
    "Egress";
    #[pymethods]
    impl PyEgress {
        /// `"http"` or `"http3"`.
        #[getter]
        fn protocol(&self) -> &'static str {
            self.protocol
        }

        /// `"default"` or `"mesh"`.
        #[getter]
        fn mode(&self) -> &'static str {
            self.mode
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Egress(name={}, pipeline={}, protocol={}, backend={})",
                repr_str(py, &self.name)?,
                repr_str(py, &self.pipeline)?,
                repr_str(py, self.protocol)?,
                repr_opt(py, self.backend.as_deref())?
            ))
        }
    }
}

/// The mesh part of a gateway configuration (docs/spec.md §2), loaded from one or more TOML documents.
///
/// ```python
/// config = runbeam.MeshConfig.from_files(["gateway.toml", "mesh.toml"])
/// for problem in config.validate():
///     print(problem)          # "mesh.m.egress[1]: Unknown provider ..."
/// ```
#[pyclass(frozen, module = "runbeam", name = "MeshConfig")]
pub struct PyMeshConfig(pub(crate) MeshConfig);

guarded! {
    "MeshConfig";
    #[pymethods]
    impl PyMeshConfig {
        /// Loads one TOML document; raises `ConfigError` listing every problem.
        #[staticmethod]
        fn from_toml(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Self> {
            let text = text_arg(text, "text")?;
            let text: &str = &text;
            py.detach(|| MeshConfig::from_toml(text))
                .map(PyMeshConfig)
                .or_raise(py)
        }

        /// Reads and loads one file (`str` or `os.PathLike`); raises `ConfigError`.
        #[staticmethod]
        fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
            py.detach(|| MeshConfig::from_file(&path))
                .map(PyMeshConfig)
                .or_raise(py)
        }

        /// Reads, merges and loads several files (an iterable of `str` / `os.PathLike`), in order;
        /// raises `ConfigError`.
        #[staticmethod]
        fn from_files(py: Python<'_>, paths: &Bound<'_, PyAny>) -> PyResult<Self> {
            // A single path is iterable (a str) but certainly a mistake: say so.
            if paths.is_instance_of::<PyString>()
                || paths.is_instance_of::<PyBytes>()
                || paths.hasattr(intern!(py, "__fspath__"))?
            {
                return Err(PyTypeError::new_err(
                    "paths must be an iterable of paths, not a single path (use MeshConfig.from_file)",
                ));
            }
            let paths = paths
                .try_iter()?
                .map(|path| path?.extract::<PathBuf>())
                .collect::<PyResult<Vec<_>>>()?;
            py.detach(|| MeshConfig::from_files(&paths))
                .map(PyMeshConfig)
                .or_raise(py)
        }

        /// A copy of this configuration with provider `name`'s `api` URL replaced by `url`: points
        /// a gateway's configuration at another Cloud (staging, a local `runbeam-devcloud`)
        /// without editing the file. `validate()` checks the URL like one read from TOML.
        ///
        /// ```python
        /// config = runbeam.MeshConfig.from_file("gateway.toml")
        /// dev = config.with_provider_api("runbeam", "http://127.0.0.1:8080")
        /// ```
        ///
        /// Raises `UnknownProviderError` when there is no `[provider.<name>]` table.
        fn with_provider_api(&self, py: Python<'_>, name: &str, url: &str) -> PyResult<Self> {
            self.0
                .with_provider_api(name, url)
                .map(PyMeshConfig)
                .or_raise(py)
        }

        /// Every problem of the configuration (docs/spec.md §2.2), in document order; empty means valid.
        fn validate(&self, py: Python<'_>) -> Vec<PyProblem> {
            py.detach(|| self.0.validate())
                .into_iter()
                .map(PyProblem)
                .collect()
        }

        /// Whether `reference` is listed in an active mesh (a `str` is parsed first and raises
        /// `InvalidReferenceError` if it is not a reference).
        fn in_mesh_context(&self, reference: &Bound<'_, PyAny>) -> PyResult<bool> {
            with_reference(reference, |r| self.0.in_mesh_context(r))
        }

        /// The name of the first active mesh listing `reference`.
        ///
        /// Raises:
        ///     UnknownProviderError: the reference's provider is not configured.
        ///     NotInMeshError: no active mesh lists the reference.
        ///     InvalidReferenceError: `reference` is a `str` that is not a reference.
        fn check_mesh_context(&self, reference: &Bound<'_, PyAny>) -> PyResult<String> {
            let py = reference.py();
            with_reference(reference, |r| {
                self.0
                    .check_mesh_context(r)
                    .map(|mesh| mesh.name.clone())
                    .or_raise(py)
            })?
        }

        /// Every remote reference listed in a mesh (enabled or not), in document order.
        fn remote_references(&self) -> Vec<PyMeshMember> {
            self.0
                .remote_references()
                .map(|m| PyMeshMember {
                    mesh: m.mesh.name.clone(),
                    direction: m.direction.as_str(),
                    reference: PyReference(m.reference.clone()),
                })
                .collect()
        }

        /// The meshes, in document order.
        fn meshes(&self) -> Vec<PyMesh> {
            self.0
                .meshes()
                .iter()
                .map(|m| PyMesh::new(&self.0, m))
                .collect()
        }

        /// Configured providers, then the implicit `local` one.
        fn providers(&self) -> Vec<PyProvider> {
            self.0.providers().iter().map(PyProvider::from).collect()
        }

        /// Local mesh ingresses of all pipelines, in document order.
        fn ingresses(&self) -> Vec<PyIngress> {
            self.0.ingresses().iter().map(PyIngress::from).collect()
        }

        /// Local mesh egresses of all pipelines, in document order.
        fn egresses(&self) -> Vec<PyEgress> {
            self.0.egresses().iter().map(PyEgress::from).collect()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let c = &self.0;
            Ok(format!(
                "<MeshConfig providers={} meshes={} ingresses={} egresses={}>",
                repr_list(py, c.providers().iter().map(|p| p.name.as_str()))?,
                repr_list(py, c.meshes().iter().map(|m| m.name.as_str()))?,
                repr_list(py, c.ingresses().iter().map(|i| i.name.as_str()))?,
                repr_list(py, c.egresses().iter().map(|e| e.name.as_str()))?
            ))
        }
    }
}
