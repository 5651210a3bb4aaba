//! `runbeam_core::Error` → the exception classes of `runbeam/errors.py`.
//!
//! The hierarchy is written in Python (so that it is importable, documented and typed like any
//! other Python code); this module only looks a class up by [`ErrorKind::name`] in
//! `runbeam.errors._BY_KIND` and
//! instantiates it with the core error's message, kind, code and problems, and for errors of the
//! Cloud API client with the HTTP details (status, request, server message, attempts). The lookup is done
//! once per interpreter and cached.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use runbeam_core::{Error, ErrorKind};

use crate::config::PyProblem;
use crate::guard::guarded;

/// One class per [`ErrorKind::ALL`] entry, in that order, then `RunbeamError` itself.
static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn load_classes(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let module = py.import(intern!(py, "runbeam.errors"))?;
    let base = module
        .getattr(intern!(py, "RunbeamError"))?
        .cast_into::<PyType>()?
        .unbind();
    let by_kind = module.getattr(intern!(py, "_BY_KIND"))?;
    let mut classes = Vec::with_capacity(ErrorKind::ALL.len() + 1);
    for kind in ErrorKind::ALL {
        // A kind without its class (a core kind added before errors.py caught up) still
        // raises a RunbeamError with the right `kind` and `code`; tests/test_errors.py fails
        // on the gap.
        let class = by_kind
            .get_item(kind.name())
            .ok()
            .and_then(|c| c.cast_into::<PyType>().ok())
            .map_or_else(|| base.clone_ref(py), Bound::unbind);
        classes.push(class);
    }
    classes.push(base);
    Ok(classes)
}

fn class_for(py: Python<'_>, kind: ErrorKind) -> PyResult<&Bound<'_, PyType>> {
    let classes = CLASSES.get_or_try_init(py, || load_classes(py))?;
    let index = ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ErrorKind::ALL.len());
    Ok(classes[index].bind(py))
}

/// `runbeam.errors.RunbeamError`, the base class of every error of the package.
pub fn runbeam_error_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let classes = CLASSES.get_or_try_init(py, || load_classes(py))?;
    Ok(classes[ErrorKind::ALL.len()].bind(py))
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let class = class_for(py, err.kind())?;
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "kind"), err.kind().name())?;
    kwargs.set_item(intern!(py, "code"), err.kind().code())?;
    if !err.problems().is_empty() {
        let problems: Vec<PyProblem> = err.problems().iter().cloned().map(PyProblem).collect();
        kwargs.set_item(intern!(py, "problems"), problems)?;
    }
    if let Some(status) = err.status() {
        kwargs.set_item(intern!(py, "status"), status)?;
    }
    if let Some(retry_after) = err.retry_after() {
        kwargs.set_item(intern!(py, "retry_after"), retry_after.as_secs_f64())?;
    }
    if !err.field_errors().is_empty() {
        let fields = PyDict::new(py);
        for (field, messages) in err.field_errors() {
            fields.set_item(field, messages.clone())?;
        }
        kwargs.set_item(intern!(py, "field_errors"), fields)?;
    }
    if let Some((method, path)) = err.request() {
        kwargs.set_item(intern!(py, "request"), (method, path))?;
    }
    if let Some(message) = err.server_message() {
        kwargs.set_item(intern!(py, "server_message"), message)?;
    }
    if let Some(attempts) = err.attempts() {
        kwargs.set_item(intern!(py, "attempts"), attempts)?;
    }
    let value = class.call((err.message(),), Some(&kwargs))?;
    Ok(PyErr::from_value(value))
}

/// The Python exception for `err`: an instance of `runbeam.errors.<Kind>Error`.
///
/// If the class cannot be found or instantiated (a broken installation), the exception that
/// says why is returned instead, so nothing is swallowed.
pub fn to_py_err(py: Python<'_>, err: &Error) -> PyErr {
    build(py, err).unwrap_or_else(|e| e)
}

/// An `InvalidArgumentError` (a `ValueError`) with `message`.
pub fn invalid_argument(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, &Error::new(ErrorKind::InvalidArgument, message))
}

/// `?`-friendly conversion of core results into `PyResult`.
pub trait OrRaise<T> {
    /// Maps the core error to its Python exception with [`to_py_err`].
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for runbeam_core::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, &e))
    }
}

/// One row of the core's error table, as `_native.error_kinds()` returns it:
/// `(name, code, c_status, category, retryable, is_argument_error)`.
type KindRow = (&'static str, &'static str, i32, &'static str, bool, bool);

guarded! {
    /// `_native.error_kinds()`: the core's error table, one
    /// `(name, code, c_status, category, retryable, is_argument_error)` tuple per kind in table
    /// order, so that `runbeam.errors` and the test suite can prove there is a class for each.
    #[pyfunction]
    pub fn error_kinds() -> Vec<KindRow> {
        ErrorKind::ALL
            .iter()
            .map(|k| {
                (
                    k.name(),
                    k.code(),
                    k.c_status(),
                    k.category().name(),
                    k.is_retryable(),
                    k.is_argument_error(),
                )
            })
            .collect()
    }
}
