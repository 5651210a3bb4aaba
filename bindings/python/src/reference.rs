//! `runbeam.Reference`: a thin, immutable wrapper of [`runbeam_core::Reference`].
//!
//! Parsing is the hot path (gateways parse references per request), so the call does one
//! argument check, one UTF-8 view of the argument (a `bytes` object under the Python 3.9
//! stable ABI, none from 3.10), one core parse (one allocation) and one object from a free
//! list; the parts become Python strings only when read.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyString, PyTuple, PyType};
use runbeam_core::Reference;

use crate::errors::{OrRaise, invalid_argument};
use crate::guard::guarded;

/// A parsed, validated resource reference (docs/spec.md §1), compared and hashed by canonical form.
/// `Reference(text)` is the same as `Reference.parse(text)`.
///
/// ```python
/// ref = runbeam.Reference.parse("local.name.my-ingress")
/// assert ref.is_local and str(ref) == "my-ingress"
/// ```
//
// The comparison, hash and str slots are written out below rather than generated with
// `#[pyclass(eq, ord, hash, str)]`: PyO3 0.30's macro emits invalid code when those generated
// slots are combined with `freelist` (a missing comma between the two slot lists), and the
// freelist saves an allocation per parse.
#[pyclass(frozen, freelist = 64, module = "runbeam", name = "Reference")]
#[derive(Clone, PartialEq)]
pub struct PyReference(pub(crate) Reference);

impl fmt::Display for PyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The UTF-8 text of a `str` argument: `TypeError` for other types, `InvalidArgumentError`
/// for strings that cannot be UTF-8 (lone surrogates).
///
/// `PyBackedStr` borrows the string's own UTF-8 buffer where the stable ABI allows it and
/// otherwise keeps the encoded `bytes` object alive, so the text is never copied again.
pub(crate) fn text_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedStr> {
    let py = obj.py();
    let Ok(text) = obj.cast::<PyString>() else {
        let type_name = obj.get_type().name()?;
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must be str, not {type_name}"
        )));
    };
    PyBackedStr::try_from(text.clone()).map_err(|cause| {
        let err = invalid_argument(
            py,
            format!("{what} is not valid Unicode text (it contains a lone surrogate)"),
        );
        err.set_cause(py, Some(cause));
        err
    })
}

/// Parses a `str` argument into a core reference.
pub(crate) fn parse_arg(obj: &Bound<'_, PyAny>) -> PyResult<Reference> {
    let text = text_arg(obj, "reference")?;
    Reference::parse(&text).or_raise(obj.py())
}

/// Calls `f` with the reference `obj` is (a `Reference`) or names (a `str`, parsed).
pub(crate) fn with_reference<R>(
    obj: &Bound<'_, PyAny>,
    f: impl FnOnce(&Reference) -> R,
) -> PyResult<R> {
    if let Ok(reference) = obj.cast::<PyReference>() {
        return Ok(f(&reference.get().0));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(f(&parse_arg(obj)?));
    }
    let type_name = obj.get_type().name()?;
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "reference must be a Reference or str, not {type_name}"
    )))
}

guarded! {
    "Reference";
    #[pymethods]
    impl PyReference {
        /// `Reference(text)`: the same as `Reference.parse(text)`.
        #[new]
        fn new(text: &Bound<'_, PyAny>) -> PyResult<Self> {
            parse_arg(text).map(PyReference)
        }

        /// Parses `text` strictly.
        ///
        /// Raises:
        ///     InvalidReferenceError: the text is not a reference; the message names the
        ///         reference, the 0-based segment and what was expected there.
        ///     InvalidArgumentError: the text contains lone surrogates.
        ///     TypeError: `text` is not a `str`.
        #[staticmethod]
        fn parse(text: &Bound<'_, PyAny>) -> PyResult<Self> {
            parse_arg(text).map(PyReference)
        }

        /// The provider (`"local"` for local references).
        #[getter]
        fn provider(&self) -> &str {
            self.0.provider()
        }

        /// The team, for team-scoped and full references.
        #[getter]
        fn team(&self) -> Option<&str> {
            self.0.team()
        }

        /// The resource type (lowercase) of a full reference: `"ingress"`, `"egress"`,
        /// `"pipeline"`, `"endpoint"`, `"backend"` or `"mesh"`.
        #[getter(r#type)]
        fn resource_type(&self) -> Option<&'static str> {
            self.0.resource_type().map(|t| t.as_str())
        }

        /// `"id"` or `"name"`.
        #[getter]
        fn lookup(&self) -> &'static str {
            self.0.lookup().as_str()
        }

        /// The id or name.
        #[getter]
        fn value(&self) -> &str {
            self.0.value()
        }

        /// Whether this names a resource of the gateway's own configuration.
        #[getter]
        fn is_local(&self) -> bool {
            self.0.is_local()
        }

        fn __str__(&self) -> &str {
            self.0.as_str()
        }

        /// Equality and ordering of the canonical forms; `NotImplemented` for other types.
        fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
            let py = other.py();
            match other.cast::<PyReference>() {
                Ok(other) => {
                    let result = op.matches(self.0.cmp(&other.get().0));
                    PyBool::new(py, result).to_owned().into_any().unbind()
                }
                Err(_) => py.NotImplemented(),
            }
        }

        fn __hash__(&self) -> u64 {
            // Keyed per process, like Python's own str hashes, so that references read from
            // untrusted input cannot be crafted to collide in a dict.
            static STATE: OnceLock<RandomState> = OnceLock::new();
            STATE.get_or_init(RandomState::new).hash_one(&self.0)
        }

        fn __repr__(&self) -> String {
            // Canonical references are plain ASCII without quotes or backslashes, so this is
            // exactly Python's repr of the string.
            format!("Reference('{}')", self.0)
        }

        fn __reduce__<'py>(
            slf: &Bound<'py, Self>,
        ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
            let py = slf.py();
            let args = PyTuple::new(py, [slf.get().0.as_str()])?;
            Ok((slf.get_type(), args))
        }

        fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
            slf
        }

        fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
            slf
        }
    }
}
