//! `runbeam.Watcher` and `runbeam.WatchEvent`: live configuration, the core's change-feed
//! watcher ([`runbeam_core::resolve::Watcher`]) started by `Resolver.watch` /
//! `AsyncResolver.watch`.
//!
//! The core polls on the module's runtime and calls the trampoline made here on a blocking
//! thread of that runtime, never two at once for one watcher:
//!
//! - for a `Resolver`, the trampoline takes the GIL and calls the Python callback there;
//! - for an `AsyncResolver`, it schedules the callback on the event loop that was running when
//!   `watch` was called (`call_soon_threadsafe`), so that it may use that loop's objects.
//!
//! Exceptions of a callback called on a runbeam thread go to `sys.unraisablehook`; those of a
//! callback run by the loop go to the loop's exception handler. `stop()` waits, with the GIL
//! released, for a callback that is running; after it returns the callback is not called
//! again (for the loop form, an event already scheduled is skipped). A watcher does not
//! survive `os.fork`: in a child it is stopped, and its parent's tasks are left alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::IntoPyObjectExt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::{Resolver, WatchEvent, WatchEventKind, Watcher};

use crate::errors::to_py_err;
use crate::fork;
use crate::guard::guarded;
use crate::runtime::{Delivery, runtime};

/// What happened to one change of a provider's feed, or to one poll (`Watcher` callbacks).
#[pyclass(frozen, module = "runbeam", name = "WatchEvent")]
pub struct PyWatchEvent {
    event: WatchEvent,
    error: Option<Py<PyAny>>,
}

impl PyWatchEvent {
    fn new(py: Python<'_>, event: WatchEvent) -> PyWatchEvent {
        let error = event
            .error
            .as_ref()
            .map(|e| to_py_err(py, e).into_value(py).into_any());
        PyWatchEvent { event, error }
    }
}

guarded! {
    "WatchEvent";
    #[pymethods]
    impl PyWatchEvent {
        /// `"applied"`, `"failed"` (the configuration in use is unchanged), `"skipped"` (a
        /// change for the gateway itself: `gateway`, `pipeline`, …; acknowledged, for the host
        /// to apply and mark) or `"poll_failed"` (fetching or reporting changes failed;
        /// `retry_in` says when the next poll is).
        #[getter]
        fn kind(&self) -> &'static str {
            self.event.kind.as_str()
        }

        /// The provider whose feed it came from.
        #[getter]
        fn provider(&self) -> &str {
            &self.event.provider
        }

        /// The change id (`""` for `"poll_failed"`).
        #[getter]
        fn change_id(&self) -> &str {
            &self.event.change_id
        }

        /// The change's `type` (`"mesh"`, `"ingress"`, `"pipeline"`, …) as sent; `""` when
        /// absent.
        #[getter]
        fn change_type(&self) -> &str {
            &self.event.change_type
        }

        /// The change's `action` (`"created"`, `"updated"`, `"deleted"`) as sent; `""` when
        /// absent.
        #[getter]
        fn action(&self) -> &str {
            &self.event.action
        }

        /// What happened, for a person (for a failure: why, with every configuration
        /// problem).
        #[getter]
        fn message(&self) -> &str {
            &self.event.message
        }

        /// The meshes a mesh change put in, replaced or removed (a new `list`).
        #[getter]
        fn meshes(&self) -> Vec<String> {
            self.event.meshes.clone()
        }

        /// Cached resolutions dropped by the change.
        #[getter]
        fn references_dropped(&self) -> usize {
            self.event.references_dropped
        }

        /// Cached mesh tokens dropped by the change.
        #[getter]
        fn mesh_tokens_dropped(&self) -> usize {
            self.event.mesh_tokens_dropped
        }

        /// For `"failed"` and `"poll_failed"`: the error, as the `RunbeamError` subclass a call
        /// would raise (`ConfigError` with `problems`, `TransportError`, …); else `None`.
        #[getter]
        fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
            self.error.as_ref().map(|e| e.clone_ref(py))
        }

        /// For `"poll_failed"`: seconds until the next poll; else `None`.
        #[getter]
        fn retry_in(&self) -> Option<f64> {
            self.event.retry_in.map(|d| d.as_secs_f64())
        }

        /// The event as a new `dict` (`error` as its kind name, or `None`).
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let e = &self.event;
            let dict = PyDict::new(py);
            dict.set_item("kind", e.kind.as_str())?;
            dict.set_item("provider", &e.provider)?;
            dict.set_item("change_id", &e.change_id)?;
            dict.set_item("change_type", &e.change_type)?;
            dict.set_item("action", &e.action)?;
            dict.set_item("message", &e.message)?;
            dict.set_item("meshes", e.meshes.clone())?;
            dict.set_item("references_dropped", e.references_dropped)?;
            dict.set_item("mesh_tokens_dropped", e.mesh_tokens_dropped)?;
            dict.set_item("error", e.error.as_ref().map(|err| err.kind().name()))?;
            dict.set_item("retry_in", e.retry_in.map(|d| d.as_secs_f64()))?;
            Ok(dict)
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            let e = &self.event;
            let text = |s: &str| -> PyResult<String> {
                Ok(s.into_pyobject(py)?.repr()?.to_string())
            };
            let mut fields = vec![
                format!("kind={}", text(e.kind.as_str())?),
                format!("provider={}", text(&e.provider)?),
            ];
            if e.kind != WatchEventKind::PollFailed {
                fields.push(format!("change_id={}", text(&e.change_id)?));
                fields.push(format!("change_type={}", text(&e.change_type)?));
                fields.push(format!("action={}", text(&e.action)?));
            }
            if !e.meshes.is_empty() {
                fields.push(format!(
                    "meshes={}",
                    e.meshes.clone().into_pyobject(py)?.repr()?
                ));
            }
            if e.references_dropped > 0 || e.mesh_tokens_dropped > 0 {
                fields.push(format!("references_dropped={}", e.references_dropped));
                fields.push(format!("mesh_tokens_dropped={}", e.mesh_tokens_dropped));
            }
            if let Some(retry) = e.retry_in {
                fields.push(format!("retry_in={}", retry.as_secs_f64()));
            }
            fields.push(format!("message={}", text(&e.message)?));
            Ok(format!("WatchEvent({})", fields.join(", ")))
        }
    }
}

/// The callable an event loop runs for an `AsyncResolver` watcher: the user's callback,
/// unless the watcher was stopped since the event was scheduled.
#[pyclass(frozen)]
struct LoopDispatch {
    callback: Py<PyAny>,
    stopped: Arc<AtomicBool>,
}

guarded! {
    "LoopDispatch";
    #[pymethods]
    impl LoopDispatch {
        fn __call__(&self, py: Python<'_>, event: Py<PyWatchEvent>) -> PyResult<()> {
            if self.stopped.load(Ordering::SeqCst) {
                return Ok(());
            }
            self.callback.bind(py).call1((event,))?;
            Ok(())
        }
    }
}

/// Follows the change feeds of a resolver's providers and applies their changes to it: made
/// by `Resolver.watch(on_event)` / `AsyncResolver.watch(on_event)`. `stop()` (also at the end
/// of a `with` block, and when the watcher is garbage-collected) ends it.
#[pyclass(frozen, module = "runbeam", name = "Watcher")]
pub struct PyWatcher {
    watcher: Mutex<Option<Watcher>>,
    providers: Vec<String>,
    stopped: Arc<AtomicBool>,
    generation: u64,
}

impl PyWatcher {
    /// Starts watching `resolver` on the module's runtime. `event_loop`: the loop to schedule
    /// the callback on (`AsyncResolver`), or `None` to call it on the runbeam thread.
    /// `config`: the binding's copy of the configuration in use, updated after each applied
    /// change (a forked child rebuilds the resolver from it).
    pub(crate) fn start(
        py: Python<'_>,
        resolver: &Resolver,
        config: Arc<Mutex<MeshConfig>>,
        callback: Py<PyAny>,
        event_loop: Option<Py<PyAny>>,
    ) -> PyResult<PyWatcher> {
        let rt = runtime(py)?;
        let stopped = Arc::new(AtomicBool::new(false));
        let live = resolver.clone();
        let dispatch = match &event_loop {
            Some(_) => Some(Py::new(
                py,
                LoopDispatch {
                    callback: callback.clone_ref(py),
                    stopped: Arc::clone(&stopped),
                },
            )?),
            None => None,
        };
        let trampoline = move |event: WatchEvent| {
            if event.kind == WatchEventKind::Applied {
                *config.lock().unwrap_or_else(|e| e.into_inner()) = live.config();
            }
            let Some(_inside) = Delivery::start() else {
                return;
            };
            Python::attach(|py| {
                let event = match Py::new(py, PyWatchEvent::new(py, event)) {
                    Ok(event) => event,
                    Err(e) => return e.write_unraisable(py, None),
                };
                let called = match (&event_loop, &dispatch) {
                    (Some(event_loop), Some(dispatch)) => event_loop
                        .bind(py)
                        .call_method1(
                            intern!(py, "call_soon_threadsafe"),
                            (dispatch.clone_ref(py), event),
                        )
                        // The loop is closed: nobody can run the callback any more.
                        .map(drop)
                        .or_else(|e| {
                            if e.is_instance_of::<pyo3::exceptions::PyRuntimeError>(py) {
                                Ok(())
                            } else {
                                Err(e)
                            }
                        }),
                    _ => callback.bind(py).call1((event,)).map(drop),
                };
                if let Err(e) = called {
                    e.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        };
        let watcher = resolver.watch_on(rt.handle(), trampoline);
        Ok(PyWatcher {
            providers: watcher.providers().to_vec(),
            watcher: Mutex::new(Some(watcher)),
            stopped,
            generation: fork::generation(),
        })
    }

    fn take(&self) -> Option<Watcher> {
        self.stopped.store(true, Ordering::SeqCst);
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        if self.generation != fork::generation() {
            // A forked child: the tasks and the callback's thread belong to the parent.
            std::mem::forget(watcher);
            return None;
        }
        Some(watcher)
    }
}

impl Drop for PyWatcher {
    fn drop(&mut self) {
        if let Some(watcher) = self.take() {
            // Garbage collection runs with the GIL: release it while a running callback
            // (which may be waiting for it) returns.
            Python::attach(|py| py.detach(move || drop(watcher)));
        }
    }
}

guarded! {
    "Watcher";
    #[pymethods]
    impl PyWatcher {
        /// The providers being polled (each with `poll_interval_secs` above 0 when the watcher
        /// started); empty when nothing is polled.
        #[getter]
        fn providers(&self) -> Vec<String> {
            self.providers.clone()
        }

        /// Whether `stop()` was called (or the watcher belongs to the parent of this forked
        /// process).
        #[getter]
        fn is_stopped(&self) -> bool {
            self.stopped.load(Ordering::SeqCst) || self.generation != fork::generation()
        }

        /// Stops polling. When it returns the callback is not called again (a callback that
        /// was running has returned; it waits for that with the GIL released) and no new poll
        /// starts. Idempotent; from inside the callback it returns at once.
        fn stop(&self, py: Python<'_>) {
            if let Some(watcher) = self.take() {
                py.detach(move || {
                    watcher.stop();
                    drop(watcher);
                });
            }
        }

        fn __enter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        /// Stops the watcher; exceptions of the block propagate.
        #[pyo3(signature = (*_args))]
        fn __exit__(
            &self,
            py: Python<'_>,
            _args: &Bound<'_, pyo3::types::PyTuple>,
        ) -> PyResult<bool> {
            self.stop(py)?;
            Ok(false)
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Watcher(providers={}, is_stopped={})",
                self.providers.clone().into_py_any(py)?.bind(py).repr()?,
                if self.is_stopped().unwrap_or(true) { "True" } else { "False" }
            ))
        }
    }
}

/// Adds the classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWatcher>()?;
    m.add_class::<PyWatchEvent>()?;
    Ok(())
}
