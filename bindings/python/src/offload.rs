//! Where a signature check runs: with the GIL held on the calling thread, with the GIL
//! released (`Validator`, `Resolver`), or on the module's runtime (`AsyncValidator`,
//! `AsyncResolver`).
//!
//! A token verification whose keys are cached is one of two very different things: a cache
//! hit (a SHA-256 and a look-up, ~0.6 µs) or a signature check (~17 µs for RS256). Holding the
//! GIL through the signature check kept every other Python thread waiting and let an asyncio
//! loop use one core; releasing it around a cache hit costs more than it gives (every release
//! is a chance for another thread to take the GIL for its switch interval). So each call is
//! routed ([`Step`]):
//!
//! - **a token the core answers without a signature check** (the core's `…_if_remembered`
//!   call gives the answer: its verified-token cache remembers the token and the key set is
//!   current, or the token/header is refused at once) → that answer, on the calling thread
//!   with the GIL held, as before;
//! - **anything else** (`…_if_remembered` says `None`: a signature to check, keys to fetch) →
//!   the core's step ([`Job`]) with the GIL released (`Validator`: `py.detach`), or on the
//!   module's tokio runtime (`AsyncValidator`: the awaitable completes on its event loop, see
//!   [`spawn`]).
//!
//! Either way the core does all the work (decode, issuer, keys, signature, claims, the cache
//! insert, the counters), so a token verified off the calling thread is cached like one
//! verified on it and every answer and error is the same. A remembered token costs one hash and
//! one look-up (`…_if_remembered` answers it and counts the hit; a `None` counts nothing); an
//! entry inserted or evicted between the question and the step changes where the step runs,
//! never the answer.
//!
//! The asyncio completions are batched per event loop ([`LoopQueue`]): a runtime thread that
//! finishes a check queues the answer and, only when no wake is pending, wakes the loop by
//! writing a byte to a socket the loop watches (`loop.add_reader`, registered when the queue is
//! made) — no GIL on the runtime thread, so it never waits for a busy loop to hand the GIL
//! over. A loop without `add_reader`, or a loop that another loop replaced on its thread (its
//! reader removed, a pending wake handed over with `call_soon`), is woken with
//! `call_soon_threadsafe` (with the GIL, once per batch). The loop's callback ([`Drain`])
//! completes every queued future and makes the claims objects. Cancelling the awaitable
//! abandons the answer (a check is not interrupted, a key fetch is aborted, as before).
//!
//! `_native._set_verify_offload(mode)` (not part of the public API) switches the process
//! between `"auto"` (the rule above, the default), `"inline"` (every call on the calling
//! thread with the GIL held: the behaviour before) and `"always"` (every call routed off,
//! cache hits too). `"always"` is how the tests reach the routed-off path with a token the
//! cache answers (in `"auto"` only a race between the question and the step does), and how
//! `bench/throughput.py` measures the hop with no signature to check; `"inline"` is the
//! comparison the bench and the tests make with the GIL held.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use runbeam_core::attempt::Attempt;

use crate::errors::OrRaise;
use crate::fork;
use crate::guard::{self, guarded};
use crate::runtime::{Canceller, Complete, Delivery, keep_thread_state, new_future, runtime};

// ---------------------------------------------------------------------------------------------
// The mode.

const AUTO: u8 = 0;
const INLINE: u8 = 1;
const ALWAYS: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(AUTO);

fn mode_name(mode: u8) -> &'static str {
    match mode {
        INLINE => "inline",
        ALWAYS => "always",
        _ => "auto",
    }
}

guarded! {
    /// `_native._set_verify_offload(mode)`: where signature checks run. `"auto"` (default): a
    /// token the core's cache answers (its `…_if_remembered` call) with the GIL held,
    /// any other check with the GIL released (`Validator`) or on a runbeam thread
    /// (`AsyncValidator`); `"inline"`: every check on the calling thread with the GIL held;
    /// `"always"`: every call off it, cache hits too.
    /// Returns the previous mode. For the benchmarks and tests, not part of the public API.
    #[pyfunction(name = "_set_verify_offload")]
    pub fn set_verify_offload(mode: &str) -> PyResult<&'static str> {
        let value = match mode {
            "auto" => AUTO,
            "inline" => INLINE,
            "always" => ALWAYS,
            _ => {
                return Err(PyValueError::new_err(
                    "the offload mode must be 'auto', 'inline' or 'always'",
                ));
            }
        };
        Ok(mode_name(MODE.swap(value, Ordering::Relaxed)))
    }
}

// ---------------------------------------------------------------------------------------------
// Routing.

/// A verification routed off the calling thread: the core's whole step, owning what it uses.
pub(crate) type Job<T> = Box<dyn FnOnce() -> Attempt<T> + Send>;

/// How a call of a sync/async pair is answered: the core's step taken on the calling thread
/// with the GIL held, or a [`Job`] for its flavor to run off it.
pub(crate) enum Step<T> {
    /// Taken here (a cache hit, or the mode says so).
    Now(Attempt<T>),
    /// To run with the GIL released (`Blocking`) or on the runtime (`Asyncio`).
    Off(Job<T>),
}

impl<T> From<Attempt<T>> for Step<T> {
    fn from(attempt: Attempt<T>) -> Step<T> {
        Step::Now(attempt)
    }
}

/// Routes one verification of `object`. `"inline"`: `step(object)` here. `"auto"`: the core's
/// answer for a token it remembers (`remembered(object)`: one of the core's `…_if_remembered`
/// calls, one hash and one look-up, a refusal known at once included) here; when it says a
/// signature check or a key fetch is needed (`None`), and always in `"always"`, a [`Job`]
/// doing `step` on a clone of the object with what the caller copied of the arguments (`args`).
pub(crate) fn route<T, O, A>(
    object: &O,
    remembered: impl FnOnce(&O) -> Option<runbeam_core::Result<T>>,
    args: A,
    step: fn(&O, &A) -> Attempt<T>,
) -> Step<T>
where
    O: Clone + Send + 'static,
    A: Send + 'static,
    T: 'static,
{
    match MODE.load(Ordering::Relaxed) {
        INLINE => return Step::Now(step(object, &args)),
        ALWAYS => {}
        _ => {
            if let Some(answer) = remembered(object) {
                return Step::Now(Attempt::Ready(answer));
            }
        }
    }
    let value = object.clone();
    Step::Off(Box::new(move || step(&value, &args)))
}

/// [`route`] for a batch. In `"auto"` mode `remembered(object, &mut args)` asks the core's cache
/// token by token, keeping its answers in `args`, and says whether it answered them all (then
/// `step` runs here, with nothing left to check). `step` is told whether it runs off the
/// calling thread (`true`: it may spread what is left over the runtime's threads; `false`:
/// everything on the calling thread with the GIL held).
pub(crate) fn route_batch<T, O, A>(
    object: &O,
    mut args: A,
    remembered: impl FnOnce(&O, &mut A) -> bool,
    step: fn(&O, A, bool) -> Attempt<T>,
) -> Step<T>
where
    O: Clone + Send + 'static,
    A: Send + 'static,
    T: 'static,
{
    match MODE.load(Ordering::Relaxed) {
        INLINE => return Step::Now(step(object, args, false)),
        ALWAYS => {}
        _ => {
            if remembered(object, &mut args) {
                return Step::Now(step(object, args, false));
            }
        }
    }
    let value = object.clone();
    Step::Off(Box::new(move || step(&value, args, true)))
}

/// An immediate (`…_cached`) verification: `remembered(object)` (the core's `…_if_remembered`)
/// with the GIL held in `"auto"` mode; when it says a check is needed, `f` (the `…_cached` call)
/// with the GIL released (`f` with the GIL held in `"inline"` mode, released in `"always"`).
pub(crate) fn immediate<O, T, E>(
    py: Python<'_>,
    object: &O,
    remembered: impl FnOnce(&O) -> Option<Result<T, E>>,
    f: impl FnOnce(&O) -> Option<Result<T, E>> + Send,
) -> Option<Result<T, E>>
where
    O: Sync,
    T: Send,
    E: Send,
{
    match MODE.load(Ordering::Relaxed) {
        INLINE => return f(object),
        ALWAYS => {}
        _ => {
            if let Some(answer) = remembered(object) {
                return Some(answer);
            }
        }
    }
    py.detach(move || f(object))
}

// ---------------------------------------------------------------------------------------------
// Completing asyncio futures from the runtime, batched per event loop.

/// A completion for the event loop's thread.
enum Done {
    /// The answer: `complete` makes the value (or the exception) with the GIL held.
    Answer {
        future: Arc<Py<PyAny>>,
        complete: Complete,
    },
    /// Keys must be fetched: cancelling the future aborts the fetch from now on.
    Watch {
        future: Arc<Py<PyAny>>,
        abort: tokio::task::AbortHandle,
    },
}

/// The completions waiting for one event loop.
struct LoopQueue {
    event_loop: Py<PyAny>,
    /// The fork generation the queue was made in (a child makes its own).
    generation: u64,
    done: Mutex<Vec<Done>>,
    /// A wake is pending (a byte written to `wake`, or a `call_soon_threadsafe` of a
    /// [`Drain`]).
    scheduled: AtomicBool,
    /// The wake without the GIL: the loop watches `wake.1` (`loop.add_reader`, a [`Drain`])
    /// and a runtime thread writes a byte to `wake.0`. `None` for a loop without
    /// `add_reader`; `armed` false once the reader is removed: then `call_soon_threadsafe`.
    wake: Option<(UnixStream, UnixStream)>,
    armed: AtomicBool,
}

thread_local! {
    /// The queue of the event loop last seen running on this thread.
    static QUEUE: RefCell<Option<Arc<LoopQueue>>> = const { RefCell::new(None) };
}

impl LoopQueue {
    /// The queue of `event_loop` (running on this thread).
    fn of(event_loop: &Bound<'_, PyAny>) -> Arc<LoopQueue> {
        let py = event_loop.py();
        let generation = fork::generation();
        QUEUE.with(|cell| {
            let mut cell = cell.borrow_mut();
            if let Some(q) = &*cell
                && q.generation == generation
                && q.event_loop.bind(py).is(event_loop)
            {
                return Arc::clone(q);
            }
            if let Some(old) = cell.take() {
                old.disarm(py);
            }
            let wake = UnixStream::pair().ok().filter(|(w, r)| {
                w.set_nonblocking(true).is_ok() && r.set_nonblocking(true).is_ok()
            });
            let q = Arc::new(LoopQueue {
                event_loop: event_loop.clone().unbind(),
                generation,
                done: Mutex::new(Vec::new()),
                scheduled: AtomicBool::new(false),
                wake,
                armed: AtomicBool::new(false),
            });
            if let Some((_, reader)) = &q.wake {
                let drain = Drain {
                    queue: Arc::clone(&q),
                };
                // A loop without add_reader (NotImplementedError) is woken by
                // call_soon_threadsafe instead.
                let added =
                    event_loop.call_method1(intern!(py, "add_reader"), (reader.as_raw_fd(), drain));
                q.armed.store(added.is_ok(), Ordering::SeqCst);
            }
            *cell = Some(Arc::clone(&q));
            q
        })
    }

    /// This queue's loop is no longer the one running on its thread: its reader is removed
    /// (the loop may run again later), and a wake already written is handed to it as a
    /// `call_soon` so that nothing queued is stranded; later wakes use `call_soon_threadsafe`.
    fn disarm(self: &Arc<Self>, py: Python<'_>) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        let event_loop = self.event_loop.bind(py);
        if let Some((_, reader)) = &self.wake
            && !event_loop
                .call_method0(intern!(py, "is_closed"))
                .and_then(|c| c.is_truthy())
                .unwrap_or(true)
        {
            let _ = event_loop.call_method1(intern!(py, "remove_reader"), (reader.as_raw_fd(),));
            if self.scheduled.load(Ordering::SeqCst) {
                let drain = Drain {
                    queue: Arc::clone(self),
                };
                let _ = event_loop.call_method1(intern!(py, "call_soon"), (drain,));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Done>> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `done` (on a runtime thread) and wakes the loop unless a wake is pending: a byte
    /// written to the loop's reader (no GIL), or `call_soon_threadsafe` (with the GIL).
    fn push(self: &Arc<Self>, done: Done) {
        self.lock().push(done);
        if self.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.armed.load(Ordering::SeqCst)
            && let Some((writer, _)) = &self.wake
        {
            match (&*writer).write(&[1]) {
                // Full: bytes are already waiting to be read, so a wake is on its way.
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {}
            }
        }
        let Some(_delivery) = Delivery::start() else {
            // The interpreter is shutting down: nobody can await the answer any more.
            return;
        };
        Python::attach(|py| {
            keep_thread_state(py);
            let drain = Drain {
                queue: Arc::clone(self),
            };
            let woken = self
                .event_loop
                .bind(py)
                .call_method1(intern!(py, "call_soon_threadsafe"), (drain,));
            if woken.is_err() {
                // The loop is closed: nobody is waiting any more. Dropped with the GIL held.
                let abandoned = std::mem::take(&mut *self.lock());
                self.scheduled.store(false, Ordering::Release);
                drop(abandoned);
            }
        });
    }
}

/// The loop's callback (its reader, or a `call_soon_threadsafe`): completes every queued
/// future.
#[pyclass(frozen)]
struct Drain {
    queue: Arc<LoopQueue>,
}

guarded! {
    "Drain";
    #[pymethods]
    impl Drain {
        fn __call__(&self, py: Python<'_>) -> PyResult<()> {
            // The wake bytes are read first, then the flag is cleared, then the batch is
            // taken: an answer queued after the take finds the flag clear and wakes again.
            if let Some((_, reader)) = &self.queue.wake {
                let mut sink = [0u8; 256];
                while matches!((&*reader).read(&mut sink), Ok(n) if n > 0) {}
            }
            self.queue.scheduled.store(false, Ordering::SeqCst);
            let batch = std::mem::take(&mut *self.queue.lock());
            for done in batch {
                // One future's failure (it was completed meanwhile) leaves the others alone.
                let _ = complete(py, done);
            }
            Ok(())
        }
    }
}

fn complete(py: Python<'_>, done: Done) -> PyResult<()> {
    match done {
        Done::Answer { future, complete } => {
            let future = future.bind(py);
            if future.call_method0(intern!(py, "done"))?.is_truthy()? {
                // Cancelled while the check ran.
                return Ok(());
            }
            match complete(py) {
                Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
                Err(err) => {
                    future.call_method1(intern!(py, "set_exception"), (err.into_value(py),))?
                }
            };
        }
        Done::Watch { future, abort } => {
            let future = future.bind(py);
            if future.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
                abort.abort();
            } else {
                future.call_method1(intern!(py, "add_done_callback"), (Canceller::new(abort),))?;
            }
        }
    }
    Ok(())
}

/// The asyncio form of a [`Job`]: an asyncio future of the running loop, completed with
/// `conv(value)` or the error once a runtime thread has taken the core's step (and awaited the
/// key fetch it may need). A panic in the step, the fetch or `conv` completes it with the
/// `InternalError` of `function`.
pub(crate) fn spawn<'py, T, C>(
    py: Python<'py>,
    function: &'static str,
    job: Job<T>,
    conv: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let rt = runtime(py)?;
    let (event_loop, future) = new_future(py)?;
    let queue = LoopQueue::of(&event_loop);
    let future_ref = Arc::new(future.clone().unbind());
    let work = job;
    let answer = move |result: runbeam_core::Result<T>| -> Complete {
        Box::new(move |py| {
            let value = result.or_raise(py)?;
            guard::result(function, || conv(py, value))
        })
    };
    rt.spawn(async move {
        match Attempt::guarded(function, work) {
            Attempt::Ready(result) => queue.push(Done::Answer {
                future: future_ref,
                complete: answer(result),
            }),
            Attempt::Pending(fetch) => {
                let (q, f) = (Arc::clone(&queue), Arc::clone(&future_ref));
                let task = tokio::spawn(async move {
                    let result = runbeam_core::panic::catch_future(function, fetch).await;
                    q.push(Done::Answer {
                        future: f,
                        complete: answer(result),
                    });
                });
                queue.push(Done::Watch {
                    future: future_ref,
                    abort: task.abort_handle(),
                });
            }
        }
    });
    Ok(future)
}
