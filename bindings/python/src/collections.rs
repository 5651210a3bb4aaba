//! The collection calls of `Client` and `AsyncClient` (`list`, `list_all`, `get`, `create`,
//! `update`, `delete`), for both ways of naming a collection:
//!
//! - a name (`"services"`): the core's untyped [`Resource`]s, answered as `dict`s ([`Dicts`]);
//! - a model class of `runbeam.resources` (`Service`), or for `create`/`update` a model object
//!   of one: the core's typed models, answered as model objects
//!   ([`crate::resources::Models`]).
//!
//! Each call is written once, generically over the [`Form`] of the collection, as a core
//! `CollectionClient` call whose answer converts itself into a Python object once the GIL is
//! held ([`Answer`]); the client classes only pick the [`Target`] of their arguments.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use runbeam_core::attempt::{Attempt, PendingFuture};
use runbeam_core::client::{
    Client, Collection, CollectionClient, Page, PageCursor, PageRequest, Resource,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::convert::{py_to_json, to_json};
use crate::errors::invalid_argument;
use crate::guard::guarded;
use crate::reference::text_arg;
use crate::resources::{model_class, model_of};
use crate::runtime::{Asyncio, Blocking, Flavor};

/// An answer that becomes its Python object once the GIL is held.
pub(crate) type Answer = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The converter of a call answering an [`Answer`].
pub(crate) fn answer(py: Python<'_>, answer: Answer) -> PyResult<Py<PyAny>> {
    answer(py)
}

/// How a collection is read and written: the core's item type, the body a create or update
/// sends, and the Python form of an item.
pub(crate) trait Form: Send + Sync + 'static {
    /// What the core decodes an item as.
    type Item: DeserializeOwned + Send + 'static;
    /// What a create or update sends.
    type Body: Serialize + Send + Sync + 'static;
    /// The core's calls of the collection.
    fn items(&self, client: &Client) -> CollectionClient<Self::Item>;
    /// The body of a create or update from its Python argument.
    fn body(&self, body: &Bound<'_, PyAny>) -> PyResult<Self::Body>;
    /// The Python object of an item.
    fn to_python(py: Python<'_>, item: Self::Item) -> PyResult<Py<PyAny>>;
}

fn answer_of<F: Form>(item: F::Item) -> Answer {
    Box::new(move |py| F::to_python(py, item))
}

/// The collection calls of one collection in one [`Form`].
pub(crate) trait Target: Send + Sync {
    /// `list`: one page.
    fn list(&self, client: &Client, request: PageRequest) -> Attempt<Answer>;
    /// `list_all`: the walk over every page (refused before any I/O when `per_page` is out of
    /// range).
    fn walk(&self, client: &Client, per_page: u32) -> runbeam_core::Result<Arc<dyn Walk>>;
    /// `get`.
    fn get(&self, client: &Client, id: String) -> Attempt<Answer>;
    /// `create` (never retried).
    fn create(&self, client: &Client, body: &Bound<'_, PyAny>) -> PyResult<Attempt<Answer>>;
    /// `update`.
    fn update(
        &self,
        client: &Client,
        id: String,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<Attempt<Answer>>;
    /// `delete`: answers `None`.
    fn delete(&self, client: &Client, id: String) -> Attempt<Answer>;
}

impl<F: Form> Target for F {
    fn list(&self, client: &Client, request: PageRequest) -> Attempt<Answer> {
        let items = self.items(client);
        Attempt::pending(async move {
            let page = items.list(request).await?;
            Ok(Box::new(move |py: Python<'_>| page_object(py, page, F::to_python)) as Answer)
        })
    }

    fn walk(&self, client: &Client, per_page: u32) -> runbeam_core::Result<Arc<dyn Walk>> {
        let cursor = self.items(client).pages(per_page)?;
        Ok(Arc::new(Walker::<F> {
            pages: Arc::new(tokio::sync::Mutex::new(Pages {
                cursor,
                buffer: VecDeque::new(),
            })),
            form: PhantomData,
        }))
    }

    fn get(&self, client: &Client, id: String) -> Attempt<Answer> {
        let items = self.items(client);
        Attempt::pending(async move { items.get(&id).await.map(answer_of::<F>) })
    }

    fn create(&self, client: &Client, body: &Bound<'_, PyAny>) -> PyResult<Attempt<Answer>> {
        let items = self.items(client);
        let body = self.body(body)?;
        Ok(Attempt::pending(async move {
            items.create(&body).await.map(answer_of::<F>)
        }))
    }

    fn update(
        &self,
        client: &Client,
        id: String,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<Attempt<Answer>> {
        let items = self.items(client);
        let body = self.body(body)?;
        Ok(Attempt::pending(async move {
            items.update(&id, &body).await.map(answer_of::<F>)
        }))
    }

    fn delete(&self, client: &Client, id: String) -> Attempt<Answer> {
        let items = self.items(client);
        Attempt::pending(async move {
            items.delete(&id).await?;
            Ok(Box::new(|py: Python<'_>| Ok(py.None())) as Answer)
        })
    }
}

/// A collection named by a string: `dict`s in and out, as the core's [`Resource`] (the common
/// fields typed, every other one kept).
struct Dicts(Collection);

impl Form for Dicts {
    type Item = Resource;
    type Body = Value;

    fn items(&self, client: &Client) -> CollectionClient<Resource> {
        client.collection(self.0)
    }

    fn body(&self, body: &Bound<'_, PyAny>) -> PyResult<Value> {
        py_to_json(body)
    }

    fn to_python(py: Python<'_>, item: Resource) -> PyResult<Py<PyAny>> {
        to_json(py, &item)
    }
}

/// The collection a `collection` argument names: a collection name (`InvalidArgumentError`
/// when it is not one) or a model class of `runbeam.resources`; `TypeError` otherwise.
pub(crate) fn target(arg: &Bound<'_, PyAny>) -> PyResult<Box<dyn Target>> {
    let py = arg.py();
    if arg.is_instance_of::<PyString>() {
        let name = text_arg(arg, "collection")?;
        return match Collection::from_name(&name) {
            Some(c) => Ok(Box::new(Dicts(c))),
            None => {
                let names: Vec<&str> = Collection::ALL.iter().map(|c| c.name()).collect();
                Err(invalid_argument(
                    py,
                    format!(
                        "unknown collection {:?}; expected one of {}",
                        &*name,
                        names.join(", ")
                    ),
                ))
            }
        };
    }
    if let Some(target) = arg.cast::<PyType>().ok().and_then(|c| model_class(c)) {
        return Ok(target);
    }
    let what = match arg.cast::<PyType>() {
        Ok(class) => format!("the class {}.{}", class.module()?, class.qualname()?),
        Err(_) => format!("a {} object", arg.get_type().qualname()?),
    };
    Err(PyTypeError::new_err(format!(
        "collection must be a collection name (\"gateways\", \"services\", …) or a model class \
         of runbeam.resources (Gateway, Service, Endpoint, Backend, Pipeline, Mesh, Ingress, \
         Egress), not {what}"
    )))
}

/// Binds `args` and `kwargs` to the required parameters `names` as Python binds
/// positional-or-keyword parameters, with its `TypeError`s.
fn bind<'py, const N: usize>(
    function: &str,
    names: [&str; N],
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<[Bound<'py, PyAny>; N]> {
    if args.len() > N {
        return Err(PyTypeError::new_err(format!(
            "{function}() takes {N} arguments ({}) but {} were given",
            names.join(", "),
            args.len()
        )));
    }
    let mut slots: [Option<Bound<'py, PyAny>>; N] = std::array::from_fn(|i| args.get_item(i).ok());
    for (key, value) in kwargs.into_iter().flat_map(|k| k.iter()) {
        let key = key.str()?.to_cow()?.into_owned();
        let Some(i) = names.iter().position(|n| *n == key) else {
            return Err(PyTypeError::new_err(format!(
                "{function}() got an unexpected keyword argument '{key}'"
            )));
        };
        if slots[i].is_some() {
            return Err(PyTypeError::new_err(format!(
                "{function}() got multiple values for argument '{key}'"
            )));
        }
        slots[i] = Some(value);
    }
    let missing: Vec<String> = names
        .iter()
        .zip(&slots)
        .filter(|(_, slot)| slot.is_none())
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let bound: Vec<Bound<'py, PyAny>> = slots.into_iter().flatten().collect();
    <[Bound<'py, PyAny>; N]>::try_from(bound).map_err(|_| {
        PyTypeError::new_err(format!(
            "{function}() missing required argument(s): {}",
            missing.join(", ")
        ))
    })
}

fn has_keyword(kwargs: Option<&Bound<'_, PyDict>>, name: &str) -> PyResult<bool> {
    kwargs.map_or(Ok(false), |k| k.contains(name))
}

fn id_arg(function: &str, id: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(text_arg(id, &format!("{function}() argument 'id'"))?.to_string())
}

fn model_arg(function: &str, model: &Bound<'_, PyAny>) -> PyResult<Box<dyn Target>> {
    model_of(model).map_or_else(
        || {
            Err(PyTypeError::new_err(format!(
                "{function}() argument 'model' must be a model of runbeam.resources (Gateway, \
                 Service, …), not {}",
                model.get_type().qualname()?
            )))
        },
        Ok,
    )
}

/// The arguments of `create(collection, body)` or `create(model)` (chosen by the type of the
/// first argument, or by the keyword `model`): the target and the body.
pub(crate) fn create_args<'py>(
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Box<dyn Target>, Bound<'py, PyAny>)> {
    let first_is_model = args.get_item(0).is_ok_and(|a| model_of(&a).is_some());
    if first_is_model || has_keyword(kwargs, "model")? {
        let [model] = bind("create", ["model"], args, kwargs)?;
        return Ok((model_arg("create", &model)?, model));
    }
    let [collection, body] = bind("create", ["collection", "body"], args, kwargs)?;
    Ok((target(&collection)?, body))
}

/// The arguments of `update(collection, id, body)` or `update(id, model)` (chosen by the type
/// of the second argument, or by the keyword `model`): the target, the id and the body.
pub(crate) fn update_args<'py>(
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Box<dyn Target>, String, Bound<'py, PyAny>)> {
    let second_is_model = args.get_item(1).is_ok_and(|a| model_of(&a).is_some());
    if second_is_model || has_keyword(kwargs, "model")? {
        let [id, model] = bind("update", ["id", "model"], args, kwargs)?;
        return Ok((model_arg("update", &model)?, id_arg("update", &id)?, model));
    }
    let [collection, id, body] = bind("update", ["collection", "id", "body"], args, kwargs)?;
    Ok((target(&collection)?, id_arg("update", &id)?, body))
}

// ---------------------------------------------------------------------------------------------
// Pages.

/// One page of a collection; `len(page)` is the number of items on it.
#[pyclass(frozen, generic, module = "runbeam", name = "Page")]
pub struct PyPage {
    /// The resources: `dict`s for a collection named by a string, model objects for a model
    /// class.
    #[pyo3(get)]
    data: Py<PyList>,
    #[pyo3(get)]
    current_page: u64,
    #[pyo3(get)]
    last_page: u64,
    #[pyo3(get)]
    per_page: u64,
    /// Items in the whole collection.
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

fn page_object<T>(
    py: Python<'_>,
    p: Page<T>,
    item: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let has_next = p.has_next();
    let meta = p.meta;
    let items = p
        .data
        .into_iter()
        .map(|r| item(py, r))
        .collect::<PyResult<Vec<_>>>()?;
    PyPage {
        data: PyList::new(py, items)?.unbind(),
        current_page: meta.current_page,
        last_page: meta.last_page,
        per_page: meta.per_page,
        total: meta.total,
        has_next,
    }
    .into_py_any(py)
}

// ---------------------------------------------------------------------------------------------
// Iteration over every item of every page.

/// The items of a collection one by one, fetching pages as needed.
pub(crate) trait Walk: Send + Sync {
    /// The next item, `None` after the last. A failed fetch can be retried by calling again
    /// (the core's cursor stays on that page).
    fn next(&self) -> PendingFuture<Option<Answer>>;
}

/// runbeam-core's page walk, and the items of the page it read last that were not handed out
/// yet (Python iterates item by item).
struct Pages<T> {
    cursor: PageCursor<T>,
    buffer: VecDeque<T>,
}

struct Walker<F: Form> {
    pages: Arc<tokio::sync::Mutex<Pages<F::Item>>>,
    form: PhantomData<fn() -> F>,
}

impl<F: Form> Walk for Walker<F> {
    fn next(&self) -> PendingFuture<Option<Answer>> {
        let pages = Arc::clone(&self.pages);
        Box::pin(async move {
            let mut p = pages.lock().await;
            loop {
                if let Some(item) = p.buffer.pop_front() {
                    return Ok(Some(answer_of::<F>(item)));
                }
                match p.cursor.next().await? {
                    Some(items) => p.buffer.extend(items),
                    None => return Ok(None),
                }
            }
        })
    }
}

/// Every item of every page of a collection (`Client.list_all`): `dict`s or model objects, as
/// `list` gives them; pages are fetched as needed. After an error, iterating again retries the
/// failed page.
#[pyclass(frozen, generic, module = "runbeam", name = "ResourceIterator")]
pub struct PyResourceIterator {
    walk: Arc<dyn Walk>,
}

guarded! {
    "ResourceIterator";
    #[pymethods]
    impl PyResourceIterator {
        fn __iter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            let next = Attempt::Pending(self.walk.next());
            Blocking::finish(py, "ResourceIterator.__next__", next, |py, item| match item {
                Some(item) => item(py),
                None => Err(PyStopIteration::new_err(())),
            })
        }
    }
}

/// An async iterator over every item of a collection (`AsyncClient.list_all`).
#[pyclass(frozen, generic, module = "runbeam", name = "AsyncResourceIterator")]
pub struct PyAsyncResourceIterator {
    walk: Arc<dyn Walk>,
}

guarded! {
    "AsyncResourceIterator";
    #[pymethods]
    impl PyAsyncResourceIterator {
        fn __aiter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            let next = Attempt::Pending(self.walk.next());
            Asyncio::finish(py, "AsyncResourceIterator.__anext__", next, |py, item| match item {
                Some(item) => item(py),
                None => Err(PyStopAsyncIteration::new_err(())),
            })
        }
    }
}

/// The iterator class `list_all` returns for a client class.
pub(crate) trait Iterate {
    /// An iterator over `walk`.
    fn iterator(py: Python<'_>, walk: Arc<dyn Walk>) -> PyResult<Py<PyAny>>;
}

/// A `ResourceIterator` over `walk`.
pub(crate) fn iterator(py: Python<'_>, walk: Arc<dyn Walk>) -> PyResult<Py<PyAny>> {
    PyResourceIterator { walk }.into_py_any(py)
}

/// An `AsyncResourceIterator` over `walk`.
pub(crate) fn async_iterator(py: Python<'_>, walk: Arc<dyn Walk>) -> PyResult<Py<PyAny>> {
    PyAsyncResourceIterator { walk }.into_py_any(py)
}
