//! The module's tokio runtime, and the two ways a call ends: [`Blocking`] and [`Asyncio`].
//!
//! Every call that may need I/O is a [`runbeam_core::attempt::Attempt`]: the answer known now
//! (a cache hit, a local answer, an error found without I/O), or a `'static` future that does
//! the request. A class of a sync/async pair only chooses its [`Flavor`]:
//!
//! - [`Blocking`] (`Client`, `Validator`, `TokenManager`, `Resolver`): a ready answer is
//!   returned on the calling thread; a request runs on the runtime while the calling thread
//!   waits with the GIL released, waking every 100 ms to run Python signal handlers, so
//!   Ctrl-C cancels it ([`block`]).
//! - [`Asyncio`] (`AsyncClient`, …): a ready answer is an already completed asyncio future; a
//!   request is spawned on the runtime and its result handed to the caller's event loop with
//!   `call_soon_threadsafe` ([`spawn`]). Cancelling the future aborts the request.
//!
//! The runtime is created on first use and rebuilt in a forked child ([`ForkSafe`]). A panic
//! in a request or a conversion becomes the `InternalError` of the method
//! ([`runbeam_core::panic::catch_future`], [`guard::result`]); an asyncio future is never left
//! pending.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use runbeam_core::attempt::{Attempt, PendingFuture};
use runbeam_core::{Error, ErrorKind};
use tokio::runtime::Runtime;

use crate::errors::{OrRaise, to_py_err};
use crate::fork::ForkSafe;
use crate::guard::{self, guarded};
use crate::offload::{Job, Step};

/// The module's runtime.
static RUNTIME: ForkSafe<Arc<Runtime>> = ForkSafe::empty();

/// The runtime of this process (built on first use, rebuilt after a fork).
pub(crate) fn runtime(py: Python<'_>) -> PyResult<Arc<Runtime>> {
    RUNTIME.get(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("runbeam-py")
            .enable_all()
            .build()
            .map(Arc::new)
            .map_err(|e| {
                let message = format!("cannot start the I/O runtime: {e}");
                to_py_err(py, &Error::new(ErrorKind::Internal, message))
            })
    })
}

// ---------------------------------------------------------------------------------------------
// Interpreter exit.

/// Runtime threads inside Python right now, and whether the interpreter is exiting.
static DELIVERIES: AtomicUsize = AtomicUsize::new(0);
static EXITING: AtomicBool = AtomicBool::new(false);

/// One runtime thread entering Python (an answer handed to an event loop, a user callback);
/// `None` once the interpreter is exiting.
pub(crate) struct Delivery;

impl Delivery {
    /// Counts this thread in, unless the interpreter is exiting.
    pub(crate) fn start() -> Option<Delivery> {
        // Counted before the flag is read, so that `at_exit` either sees this delivery or
        // this delivery sees the flag.
        DELIVERIES.fetch_add(1, Ordering::SeqCst);
        if EXITING.load(Ordering::SeqCst) {
            DELIVERIES.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Delivery)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        DELIVERIES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Keeps this runtime thread's Python thread state from one [`Delivery`] to the next (called
/// with the GIL held, inside `Python::attach`).
///
/// `Python::attach` on a thread Python did not create makes a thread state and deletes it
/// when it returns: an allocation, the interpreter's thread list locked twice, and the frame
/// stack's first chunk mapped and unmapped (`mmap`/`munmap`, a TLB flush on every core) — per
/// answer handed to an event loop, several µs of a worker (measured with `perf`). One more
/// `PyGILState_Ensure`, never released, keeps the state: later `attach`es only take and
/// release the GIL. The runtime's threads live as long as the process (a forked child builds
/// its own); after `_at_exit` no thread enters Python, so the kept states are never used once
/// the interpreter finalizes.
pub(crate) fn keep_thread_state(_py: Python<'_>) {
    thread_local! {
        static KEPT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    KEPT.with(|kept| {
        if !kept.get() {
            // SAFETY: the GIL is held (`_py`); the matching release is never called, by design.
            unsafe {
                pyo3::ffi::PyGILState_Ensure();
            }
            kept.set(true);
        }
    });
}

guarded! {
    /// `_native._at_exit()`, registered with `atexit` at import: stops runtime threads from
    /// entering Python and waits for those already inside. A thread that wakes an event loop
    /// (`call_soon_threadsafe` writes to a socket with the GIL released) while the
    /// interpreter finalizes is ended by CPython with `pthread_exit`, which aborts the
    /// process as it unwinds through Rust frames; atexit handlers run before that point.
    #[pyfunction(name = "_at_exit")]
    pub(crate) fn at_exit(py: Python<'_>) {
        EXITING.store(true, Ordering::SeqCst);
        py.detach(|| {
            // Bounded: a delivery takes microseconds; never hang the exit on a stuck one.
            for _ in 0..1000 {
                if DELIVERIES.load(Ordering::SeqCst) == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
}

/// Adds [`at_exit`] to the module and registers it with `atexit`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(at_exit, m)?)?;
    m.py()
        .import(intern!(m.py(), "atexit"))?
        .call_method1(intern!(m.py(), "register"), (m.getattr("_at_exit")?,))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The runners.

/// The sync runner: runs `fut` on the runtime to completion with the GIL released, checking
/// for signals every 100 ms. A panic while it runs is the `InternalError` of `function`.
pub(crate) fn block<T, F>(py: Python<'_>, function: &'static str, fut: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = runbeam_core::Result<T>> + Send,
{
    let rt = runtime(py)?;
    let mut result = None;
    {
        let task = std::pin::pin!(async {
            result = Some(runbeam_core::panic::catch_future(function, fut).await);
        });
        block_erased(py, &rt, task)?;
    }
    match result {
        Some(result) => result.or_raise(py),
        None => Err(Error::new(
            ErrorKind::Internal,
            format!("{function}: the call ended without a result"),
        ))
        .or_raise(py),
    }
}

/// [`block`]'s loop, instantiated once: generic over each call's future, tokio's `block_on`
/// and the timeout were machine code of their own per call type (BENCHMARKS.md "Footprint").
#[inline(never)]
fn block_erased(
    py: Python<'_>,
    rt: &Runtime,
    mut task: Pin<&mut (dyn Future<Output = ()> + Send + '_)>,
) -> PyResult<()> {
    loop {
        let step = py.detach(|| {
            rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(100), task.as_mut()).await
            })
        });
        match step {
            Ok(()) => return Ok(()),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Tokio's task machinery for every async call of [`spawn`], instantiated once (see
/// [`block_erased`]); the box costs one allocation per call ([`spawn`] adds two: its answer's
/// future and its `Complete`). (The validator's asyncio path,
/// `offload::spawn`, has a task per result type.)
#[inline(never)]
fn spawn_erased(
    rt: &Runtime,
    task: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(task)
}

guarded! {
    /// Completes an asyncio future on its loop's thread (called through `call_soon_threadsafe`).
    #[pyfunction]
    fn complete_future(future: &Bound<'_, PyAny>, ok: bool, value: Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        if ok {
            future.call_method1(intern!(py, "set_result"), (value,))?;
        } else {
            future.call_method1(intern!(py, "set_exception"), (value,))?;
        }
        Ok(())
    }
}

/// `add_done_callback` of an asyncio future: aborts the request when the future is cancelled.
#[pyclass(frozen)]
pub(crate) struct Canceller {
    handle: tokio::task::AbortHandle,
}

impl Canceller {
    /// The callback that aborts `handle`'s task.
    pub(crate) fn new(handle: tokio::task::AbortHandle) -> Canceller {
        Canceller { handle }
    }
}

guarded! {
    "Canceller";
    #[pymethods]
    impl Canceller {
        fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
            if future
                .call_method0(intern!(future.py(), "cancelled"))?
                .is_truthy()?
            {
                self.handle.abort();
            }
            Ok(())
        }
    }
}

/// A new asyncio future of the running loop, and that loop.
pub(crate) fn new_future(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    let get_running_loop = GET_RUNNING_LOOP.get_or_try_init(py, || -> PyResult<_> {
        Ok(py
            .import(intern!(py, "asyncio"))?
            .getattr(intern!(py, "get_running_loop"))?
            .unbind())
    })?;
    let event_loop = get_running_loop.bind(py).call0()?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    Ok((event_loop, future))
}

/// `asyncio.get_running_loop`, looked up once (not an import per call).
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// An asyncio future of the running loop, already completed with `outcome` (its value or its
/// exception): the answer of an async call that needed no I/O.
fn completed_future(py: Python<'_>, outcome: PyResult<Py<PyAny>>) -> PyResult<Bound<'_, PyAny>> {
    let (_, future) = new_future(py)?;
    match outcome {
        Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
        Err(err) => future.call_method1(intern!(py, "set_exception"), (err.into_value(py),))?,
    };
    Ok(future)
}

/// The async runner: spawns `fut` on the runtime; returns an asyncio future of the running
/// loop that gets `conv(result)` or the error. A panic in `fut` or `conv` completes it with the
/// `InternalError` of `function`.
///
/// Only the await and the boxing of the answer are generic: the task, its delivery and the
/// cancellation are [`spawn_answer`]'s, compiled once (as [`block_erased`] is for the blocking
/// classes).
pub(crate) fn spawn<'py, T, C>(
    py: Python<'py>,
    function: &'static str,
    fut: PendingFuture<T>,
    conv: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    spawn_answer(
        py,
        Box::pin(async move {
            let result = runbeam_core::panic::catch_future(function, fut).await;
            Box::new(move |py: Python<'_>| {
                let value = result.or_raise(py)?;
                guard::result(function, || conv(py, value))
            }) as Complete
        }),
    )
}

/// Makes an answer's value (or its exception) with the GIL held, on whichever thread delivers
/// it.
pub(crate) type Complete = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// [`spawn`] once the answer is type-erased: the task awaits `answer`, then completes the
/// asyncio future on its loop with `call_soon_threadsafe`.
fn spawn_answer<'py>(
    py: Python<'py>,
    answer: Pin<Box<dyn Future<Output = Complete> + Send>>,
) -> PyResult<Bound<'py, PyAny>> {
    let rt = runtime(py)?;
    let (event_loop, future) = new_future(py)?;
    let loop_ref = event_loop.unbind();
    let future_ref = future.clone().unbind();
    let handle = spawn_erased(
        &rt,
        Box::pin(async move {
            let complete = answer.await;
            let Some(_delivery) = Delivery::start() else {
                // The interpreter is shutting down: nobody can await the answer any more.
                return;
            };
            Python::attach(|py| {
                keep_thread_state(py);
                let (ok, value) = match complete(py) {
                    Ok(value) => (true, value),
                    Err(err) => (false, err.into_value(py).into_any()),
                };
                let delivered = wrap_pyfunction!(complete_future, py).and_then(|complete| {
                    loop_ref.bind(py).call_method1(
                        intern!(py, "call_soon_threadsafe"),
                        (complete, future_ref.bind(py), ok, value),
                    )
                });
                // The loop is closed: nobody is waiting any more.
                drop(delivered);
            });
        }),
    );
    future.call_method1(
        intern!(py, "add_done_callback"),
        (Canceller {
            handle: handle.abort_handle(),
        },),
    )?;
    Ok(future)
}

/// `fut` as an [`Attempt`], for a core call without a cached path of its own: the future is
/// polled once inside the runtime's context with a no-op waker. It is `Ready` when it needed
/// no waiting (a cached mesh token); otherwise the work it started (a fetch on its own task)
/// continues when the pending future is polled again.
pub(crate) fn attempt_now<T>(py: Python<'_>, mut fut: PendingFuture<T>) -> PyResult<Attempt<T>> {
    let rt = runtime(py)?;
    let _context = rt.enter();
    let mut cx = Context::from_waker(Waker::noop());
    Ok(match Pin::new(&mut fut).poll(&mut cx) {
        Poll::Ready(answer) => Attempt::Ready(answer),
        Poll::Pending => Attempt::Pending(fut),
    })
}

// ---------------------------------------------------------------------------------------------
// The flavors.

/// How a class of a sync/async pair ends a call: what it returns to Python for an
/// [`Attempt`] whose value `conv` turns into a Python object (with the GIL held).
pub(crate) trait Flavor {
    /// What a call returns to Python.
    type Output<'py>;

    /// Ends the call `function` (named in an `InternalError`).
    fn finish<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        attempt: Attempt<T>,
        conv: C,
    ) -> PyResult<Self::Output<'py>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static;

    /// Ends the call `function` for a verification routed off the calling thread
    /// ([`crate::offload`]).
    fn offload<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        job: Job<T>,
        conv: C,
    ) -> PyResult<Self::Output<'py>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static;

    /// Ends the call `function` whichever way it was routed: what a call of
    /// [`crate::pair::class_pair!`] returns.
    fn finish_step<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        step: Step<T>,
        conv: C,
    ) -> PyResult<Self::Output<'py>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        match step {
            Step::Now(attempt) => Self::finish(py, function, attempt, conv),
            Step::Off(job) => Self::offload(py, function, job, conv),
        }
    }
}

/// The blocking classes: the value itself.
pub(crate) struct Blocking;

impl Flavor for Blocking {
    type Output<'py> = Py<PyAny>;

    fn finish<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        attempt: Attempt<T>,
        conv: C,
    ) -> PyResult<Py<PyAny>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let value = match attempt {
            Attempt::Ready(answer) => answer.or_raise(py)?,
            Attempt::Pending(fut) => block(py, function, fut)?,
        };
        conv(py, value)
    }

    /// The core's step with the GIL released (a key fetch it needs waits as every request).
    fn offload<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        job: Job<T>,
        conv: C,
    ) -> PyResult<Py<PyAny>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let value = match py.detach(job) {
            Attempt::Ready(answer) => answer.or_raise(py)?,
            Attempt::Pending(fut) => block(py, function, fut)?,
        };
        conv(py, value)
    }
}

/// The asyncio classes: an awaitable (an asyncio future of the running loop).
pub(crate) struct Asyncio;

impl Flavor for Asyncio {
    type Output<'py> = Bound<'py, PyAny>;

    fn finish<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        attempt: Attempt<T>,
        conv: C,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        match attempt {
            Attempt::Ready(answer) => {
                completed_future(py, answer.or_raise(py).and_then(|value| conv(py, value)))
            }
            Attempt::Pending(fut) => spawn(py, function, fut, conv),
        }
    }

    /// The core's step on the runtime, the answer batched back to the loop.
    fn offload<'py, T, C>(
        py: Python<'py>,
        function: &'static str,
        job: Job<T>,
        conv: C,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        crate::offload::spawn(py, function, job, conv)
    }
}
