//! `runbeam.resources`: the typed resource models of the eight collections
//! (`runbeam_core::client::resources`), one Python class each.
//!
//! Every class wraps the core model (its typed fields, and `extra`: the fields this SDK does not
//! know) and the JSON object it was read from, which `to_dict()` returns as the server sent it.
//! They are defined by one macro, [`models!`]; what they do is written once, generically over
//! [`ModelClass`]. The client reads and writes them through the core's typed
//! `CollectionClient` ([`Models`] is their [`Form`] of a collection call).
//!
//! The classes live in the module `runbeam.resources` and not at the top of the package:
//! `runbeam.Mesh`, `runbeam.Ingress` and `runbeam.Egress` are the mesh configuration's classes.
//! The native module holds them in its private submodule `_resources`, which
//! `runbeam/resources.py` re-exports.

use std::marker::PhantomData;

use pyo3::IntoPyObjectExt;
use pyo3::PyClass;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::types::{PyDict, PyString, PyType};
use runbeam_core::client::resources::{
    Backend, CollectionResource, Egress, Endpoint, Gateway, Ingress, Mesh, Pipeline, Service,
};
use runbeam_core::client::{Client, CollectionClient};
use runbeam_core::{Error, ErrorKind};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};

use crate::collections::{Form, Target};
use crate::convert::{json_to_py, map_to_py, optional_datetime, py_to_json};
use crate::errors::{invalid_argument, to_py_err};
use crate::guard::guarded;
use crate::reference::text_arg;

/// A model read from the server and the JSON object it came in (what `to_dict()` returns).
pub(crate) struct Sent<T> {
    model: T,
    json: Value,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Sent<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::Object(Map::deserialize(deserializer)?);
        let model = T::deserialize(&json).map_err(D::Error::custom)?;
        Ok(Sent { model, json })
    }
}

/// One of the eight model classes (implemented by [`models!`]).
pub(crate) trait ModelClass:
    PyClass<Frozen = True> + Sync + Into<PyClassInitializer<Self>>
{
    /// The core model it wraps.
    type Core: CollectionResource + Clone + PartialEq + Sync;
    /// Every field of the model: `id`, the collection's own, then `team_id` and the timestamps
    /// (never an `extra` key).
    const FIELDS: &'static [&'static str];

    /// A model object of the core model and its JSON.
    fn from_parts(model: Self::Core, json: Value) -> Self;
    /// The core model.
    fn model(&self) -> &Self::Core;
    /// The fields the SDK does not know, of a core model.
    fn extra(model: &Self::Core) -> &Map<String, Value>;
}

/// A model made in Python (by its constructor): its JSON is what the core sends.
fn made<M: ModelClass>(py: Python<'_>, model: M::Core) -> PyResult<M> {
    let json = serde_json::to_value(&model)
        .map_err(|e| to_py_err(py, &Error::new(ErrorKind::Internal, e.to_string())))?;
    Ok(M::from_parts(model, json))
}

/// The type of a field of a model, as its keyword argument takes it.
pub(crate) trait Field: Sized {
    /// What the keyword takes, for the `TypeError` of anything else.
    const EXPECTED: &'static str;
    /// The value of `value`; `Ok(None)` when it has another type.
    fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Option<Self>>;
}

impl Field for Option<String> {
    const EXPECTED: &'static str = "str";
    fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        if !value.is_instance_of::<PyString>() {
            return Ok(None);
        }
        Ok(Some(Some(text_arg(value, "a model field")?.to_string())))
    }
}

impl Field for Option<bool> {
    const EXPECTED: &'static str = "bool";
    fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        Ok(value.extract::<bool>().ok().map(Some))
    }
}

impl Field for Vec<String> {
    const EXPECTED: &'static str = "a list of str";
    fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        if value.is_instance_of::<PyString>() {
            return Ok(None);
        }
        let Ok(items) = value.try_iter() else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for item in items {
            let item = item?;
            if !item.is_instance_of::<PyString>() {
                return Ok(None);
            }
            out.push(text_arg(&item, "a model field")?.to_string());
        }
        Ok(Some(out))
    }
}

/// Sets a field from its keyword argument (`None`: not given, the field stays unset).
fn set_field<T: Field>(
    slot: &mut T,
    value: Option<&Bound<'_, PyAny>>,
    class: &str,
    field: &str,
) -> PyResult<()> {
    let Some(value) = value else {
        return Ok(());
    };
    match T::from_python(value)? {
        Some(v) => {
            *slot = v;
            Ok(())
        }
        None => Err(PyTypeError::new_err(format!(
            "{class}() argument '{field}' must be {}, not {}",
            T::EXPECTED,
            value.get_type().name()?
        ))),
    }
}

/// The `extra` keyword: a `dict` of JSON values whose keys are not fields of the model.
fn extra_arg<M: ModelClass>(value: Option<&Bound<'_, PyAny>>) -> PyResult<Map<String, Value>> {
    let Some(value) = value else {
        return Ok(Map::new());
    };
    let py = value.py();
    if !value.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "{}() argument 'extra' must be a dict, not {}",
            <M as PyClass>::NAME,
            value.get_type().name()?
        )));
    }
    let Value::Object(extra) = py_to_json(value)? else {
        return Err(invalid_argument(py, "extra: not a JSON object"));
    };
    if let Some(field) = extra.keys().find(|k| M::FIELDS.contains(&k.as_str())) {
        return Err(invalid_argument(
            py,
            format!(
                "{}() argument 'extra': {field:?} is a field of {} (extra holds the fields the \
                 SDK does not know; set it with its own keyword, or leave it to the server)",
                <M as PyClass>::NAME,
                <M as PyClass>::NAME
            ),
        ));
    }
    Ok(extra)
}

/// `repr()`: the fields that are set (as the JSON has them), in [`ModelClass::FIELDS`] order,
/// then `extra`.
fn repr<M: ModelClass>(py: Python<'_>, object: &M) -> PyResult<String> {
    let model = object.model();
    let extra = M::extra(model);
    let mut parts = Vec::new();
    let wire = serde_json::to_value(model)
        .map_err(|e| to_py_err(py, &Error::new(ErrorKind::Internal, e.to_string())))?;
    for key in M::FIELDS {
        if let Some(value) = wire.get(key) {
            let value = json_to_py(py, value)?;
            parts.push(format!("{key}={}", value.bind(py).repr()?));
        }
    }
    if !extra.is_empty() {
        parts.push(format!("extra={}", map_to_py(py, extra)?.bind(py).repr()?));
    }
    Ok(format!("{}({})", <M as PyClass>::NAME, parts.join(", ")))
}

/// The collection of a model class, in a collection call: the core's typed calls, answering
/// model objects. A body must be a model object of the class.
pub(crate) struct Models<M>(PhantomData<fn() -> M>);

impl<M: ModelClass> Form for Models<M> {
    type Item = Sent<M::Core>;
    type Body = M::Core;

    fn items(&self, client: &Client) -> CollectionClient<Sent<M::Core>> {
        // `Client::resources::<M::Core>()` with items decoded as `Sent`: the core model by its
        // own serde rules, and the JSON it came in for `to_dict()`.
        client.collection_as(<M::Core as CollectionResource>::COLLECTION)
    }

    fn body(&self, body: &Bound<'_, PyAny>) -> PyResult<M::Core> {
        match body.cast::<M>() {
            Ok(object) => Ok(object.get().model().clone()),
            Err(_) => Err(PyTypeError::new_err(format!(
                "the model must be a runbeam.resources.{}, not {}",
                <M as PyClass>::NAME,
                body.get_type().name()?
            ))),
        }
    }

    fn to_python(py: Python<'_>, item: Sent<M::Core>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, M::from_parts(item.model, item.json))?.into_any())
    }
}

fn target<M: ModelClass>() -> Box<dyn Target> {
    Box::new(Models::<M>(PhantomData))
}

/// Defines the model classes: for each, its class (wrapping the core model of the same name),
/// its [`ModelClass`] implementation and its methods; then [`model_class`] and [`register`]
/// over all of them. A field is listed with its doc comment (the attribute's docstring).
macro_rules! models {
    ($(
        $(#[$doc:meta])*
        $class:ident = $name:literal ($core:ident) {
            $( $(#[$field_doc:meta])* $field:ident, )*
        }
    )*) => {
        $(
            $(#[$doc])*
            #[pyclass(frozen, module = "runbeam.resources", name = $name)]
            pub struct $class {
                model: $core,
                json: Value,
            }

            impl ModelClass for $class {
                type Core = $core;
                const FIELDS: &'static [&'static str] =
                    &["id", $(stringify!($field),)* "team_id", "created_at", "updated_at"];

                fn from_parts(model: $core, json: Value) -> Self {
                    $class { model, json }
                }

                fn model(&self) -> &$core {
                    &self.model
                }

                fn extra(model: &$core) -> &Map<String, Value> {
                    &model.extra
                }
            }

            guarded! {
                $name;
                #[pymethods]
                impl $class {
                    #[new]
                    #[pyo3(signature = (*, $($field = None,)* extra = None))]
                    // One keyword argument per field of the model.
                    #[allow(clippy::too_many_arguments)]
                    fn new(
                        py: Python<'_>,
                        $($field: Option<&Bound<'_, PyAny>>,)*
                        extra: Option<&Bound<'_, PyAny>>,
                    ) -> PyResult<Self> {
                        let mut model = $core::default();
                        $(set_field(&mut model.$field, $field, $name, stringify!($field))?;)*
                        model.extra = extra_arg::<Self>(extra)?;
                        made(py, model)
                    }

                    /// The server's id (`""` in a model made to be created).
                    #[getter]
                    fn id(&self) -> &str {
                        &self.model.id
                    }

                    /// The owning team (set by the server).
                    #[getter]
                    fn team_id(&self) -> Option<&str> {
                        self.model.team_id.as_deref()
                    }

                    $(
                        $(#[$field_doc])*
                        #[getter]
                        fn $field(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                            self.model.$field.clone().into_py_any(py)
                        }
                    )*

                    /// When it was created (aware, UTC; set by the server).
                    #[getter]
                    fn created_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                        optional_datetime(py, self.model.created_at)
                    }

                    /// When it was last changed (aware, UTC; set by the server).
                    #[getter]
                    fn updated_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                        optional_datetime(py, self.model.updated_at)
                    }

                    /// The fields the server sent that this SDK does not know, as a new `dict`;
                    /// sent back as they are by `create` and `update`.
                    #[getter]
                    fn extra(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                        map_to_py(py, &self.model.extra)
                    }

                    /// The JSON object as the server sent it (unknown fields and `null`s
                    /// included), as a new `dict`; for a model made with the constructor, what
                    /// `create` or `update` sends.
                    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                        json_to_py(py, &self.json)
                    }

                    /// Equality of the models (every field and `extra`); `NotImplemented` for
                    /// other types.
                    fn __eq__(&self, other: &Self) -> bool {
                        self.model == other.model
                    }

                    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                        repr(py, self)
                    }
                }
            }
        )*

        /// The collection calls of a model class of `runbeam.resources`, `None` for any
        /// other type.
        pub(crate) fn model_class(class: &Bound<'_, PyType>) -> Option<Box<dyn Target>> {
            let py = class.py();
            $(
                if class.is(&py.get_type::<$class>()) {
                    return Some(target::<$class>());
                }
            )*
            None
        }

        /// Adds the private submodule `_resources` with the model classes to the native module
        /// (not to its `__all__`: `runbeam/resources.py` is their public module).
        pub(crate) fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
            let module = PyModule::new(parent.py(), "runbeam.resources")?;
            $(module.add_class::<$class>()?;)*
            parent.setattr("_resources", module)
        }
    };
}

models! {
    /// A gateway (collection `gateways`): a Runbeam gateway instance, found by its `code`.
    ///
    /// `Gateway(*, code=None, name=None, description=None, enabled=None, extra=None)` makes one
    /// to create or update: fields left `None` are not sent; `extra` is a `dict` of fields the
    /// SDK does not know (a known field there is `InvalidArgumentError`); a value of the wrong
    /// type is `TypeError`.
    PyGateway = "Gateway" (Gateway) {
        /// The gateway code (its instance id; required to create).
        code,
        /// Display name.
        name,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// A service (collection `services`): an upstream system the team's gateways route to.
    ///
    /// `Service(*, name=None, url=None, description=None, enabled=None, extra=None)`, as
    /// `Gateway` makes one.
    PyService = "Service" (Service) {
        /// Name (a reference name: `a-z`, `0-9`, `_`, `-`; required to create).
        name,
        /// Its base URL.
        url,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// A pipeline (collection `pipelines`): a route through a gateway.
    ///
    /// `Pipeline(*, name=None, gateway_id=None, description=None, enabled=None, extra=None)`,
    /// as `Gateway` makes one.
    PyPipeline = "Pipeline" (Pipeline) {
        /// Name (required to create).
        name,
        /// The gateway it runs on.
        gateway_id,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// An endpoint (collection `endpoints`): where a pipeline accepts requests.
    ///
    /// `Endpoint(*, name=None, pipeline_id=None, path=None, description=None, enabled=None,
    /// extra=None)`, as `Gateway` makes one.
    PyEndpoint = "Endpoint" (Endpoint) {
        /// Name (required to create).
        name,
        /// The pipeline it belongs to.
        pipeline_id,
        /// The path it serves (starting with `/`).
        path,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// A backend (collection `backends`): where a pipeline sends requests.
    ///
    /// `Backend(*, name=None, pipeline_id=None, url=None, description=None, enabled=None,
    /// extra=None)`, as `Gateway` makes one.
    PyBackend = "Backend" (Backend) {
        /// Name (required to create).
        name,
        /// The pipeline it belongs to.
        pipeline_id,
        /// Its URL.
        url,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// A mesh (collection `meshes`): teams that may call each other's ingresses. Not
    /// `runbeam.Mesh`, a mesh of the gateway's configuration.
    ///
    /// `Mesh(*, name=None, protocol=None, description=None, enabled=None, extra=None)`, as
    /// `Gateway` makes one.
    PyMesh = "Mesh" (Mesh) {
        /// Name (required to create).
        name,
        /// `"http"` or `"http3"`.
        protocol,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// An ingress (collection `ingresses`): how members of a mesh reach this team. Not
    /// `runbeam.Ingress`, an ingress of the gateway's configuration.
    ///
    /// `Ingress(*, name=None, urls=None, protocol=None, mode=None, mesh_id=None,
    /// pipeline_id=None, gateway_id=None, endpoint_id=None, description=None, enabled=None,
    /// extra=None)`, as `Gateway` makes one; `urls` is a list of `str`.
    PyIngress = "Ingress" (Ingress) {
        /// Name (required to create).
        name,
        /// The URLs it is reached at (at least one to create).
        urls,
        /// `"http"` or `"http3"`.
        protocol,
        /// `"default"` or `"mesh"`.
        mode,
        /// The mesh it is offered in.
        mesh_id,
        /// The pipeline that serves it.
        pipeline_id,
        /// The gateway that serves it.
        gateway_id,
        /// The endpoint that serves it.
        endpoint_id,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }

    /// An egress (collection `egresses`): how this team reaches a mesh. Not `runbeam.Egress`,
    /// an egress of the gateway's configuration.
    ///
    /// `Egress(*, name=None, protocol=None, mode=None, mesh_id=None, pipeline_id=None,
    /// gateway_id=None, backend_id=None, description=None, enabled=None, extra=None)`, as
    /// `Gateway` makes one.
    PyEgress = "Egress" (Egress) {
        /// Name (required to create).
        name,
        /// `"http"` or `"http3"`.
        protocol,
        /// `"default"` or `"mesh"`.
        mode,
        /// The mesh it calls into.
        mesh_id,
        /// The pipeline it belongs to.
        pipeline_id,
        /// The gateway it runs on.
        gateway_id,
        /// The backend it sends to.
        backend_id,
        /// Free text.
        description,
        /// Whether it is enabled.
        enabled,
    }
}

/// The collection calls of the class of a model object, `None` when it is not one.
pub(crate) fn model_of(object: &Bound<'_, PyAny>) -> Option<Box<dyn Target>> {
    model_class(&object.get_type())
}
