//! Conversions shared by every class: JSON values, times and durations.
//!
//! Durations are `float` seconds in Python and `Duration` in the core; points in time are aware
//! UTC `datetime.datetime` objects.

use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use runbeam_core::{Error, ErrorKind};
use serde_json::{Map, Value};

use crate::errors::{invalid_argument, to_py_err};

/// A JSON value as the Python value `json.loads` would give.
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
        Value::Object(map) => map_to_py(py, map)?,
    })
}

/// A JSON object as a `dict`.
pub(crate) fn map_to_py(py: Python<'_>, map: &Map<String, Value>) -> PyResult<Py<PyAny>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, json_to_py(py, v)?)?;
    }
    Ok(dict.into_any().unbind())
}

/// A serializable core value as plain Python values (`dict`, `list`, …).
pub(crate) fn to_json<S: serde::Serialize + ?Sized>(
    py: Python<'_>,
    value: &S,
) -> PyResult<Py<PyAny>> {
    let value = serde_json::to_value(value)
        .map_err(|e| to_py_err(py, &Error::new(ErrorKind::Internal, e.to_string())))?;
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

/// The `None` of a call that answers nothing.
pub(crate) fn nothing(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
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

/// [`datetime`] of an optional time.
pub(crate) fn optional_datetime(
    py: Python<'_>,
    at: Option<time::OffsetDateTime>,
) -> PyResult<Option<Py<PyAny>>> {
    at.map(|at| datetime(py, at)).transpose()
}

/// A duration argument of `value` seconds that must be more than zero.
pub(crate) fn seconds(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    if !(value.is_finite() && value > 0.0) {
        return Err(invalid_argument(
            py,
            format!("{name} must be a positive number of seconds"),
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| invalid_argument(py, format!("{name}: {e}")))
}

/// A duration argument of `value` seconds that may be zero.
pub(crate) fn non_negative(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    if value == 0.0 {
        return Ok(Duration::ZERO);
    }
    seconds(py, name, value)
        .map_err(|_| invalid_argument(py, format!("{name} must be zero or more seconds")))
}
