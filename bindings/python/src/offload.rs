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
//! - **a token this object verified twice before** ([`Hints`]: the core's verified-token cache,
//!   which keeps a token from its second verification on, should answer) → the core's step on
//!   the calling thread with the GIL held, as before;
//! - **anything else** (a signature to check, a token to refuse, keys to fetch) → the same
//!   core step ([`Job`]) with the GIL released (`Validator`: `py.detach`), or on the module's
//!   tokio runtime (`AsyncValidator`: the awaitable completes on its event loop, see
//!   [`spawn`]).
//!
//! Either way the core does all the work (decode, issuer, keys, signature, claims, the cache
//! insert), so a token verified off the calling thread is cached like one verified on it and
//! every answer and error is the same. A hint is only a routing decision: a stale one (the
//! cache was flushed by key rotation, the entry aged out) costs one check with the GIL held,
//! never a different answer; a missing one costs one release (or one hop).
//!
//! The asyncio completions are batched per event loop ([`LoopQueue`]): a runtime thread that
//! finishes a check queues the answer and wakes the loop with one `call_soon_threadsafe` only
//! when no wake is pending; the loop's callback completes every queued future. Runtime
//! threads take the GIL once per batch, never per token, and the claims objects are made on
//! the loop's thread. Cancelling the awaitable abandons the answer (a check is not
//! interrupted, a key fetch is aborted, as before).
//!
//! `_native._set_verify_offload(mode)` (not part of the public API) switches the process
//! between `"auto"` (the rule above, the default), `"inline"` (every call on the calling
//! thread with the GIL held: the behaviour before) and `"always"` (every call routed off,
//! cache hits too), for `bench/throughput.py` and the tests.

use std::cell::RefCell;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use runbeam_core::attempt::Attempt;

use crate::errors::OrRaise;
use crate::fork;
use crate::guard::{self, guarded};
use crate::runtime::{Canceller, Delivery, new_future, runtime};

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
    /// token verified twice before with the GIL held, any other check with the GIL released
    /// (`Validator`) or on a runbeam thread (`AsyncValidator`); `"inline"`: every check on
    /// the calling thread with the GIL held; `"always"`: every call off it, cache hits too.
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

guarded! {
    /// `_native._set_verify_releases_gil(enabled)`: `True` is `_set_verify_offload("always")`,
    /// `False` is `"inline"` (`bench/jwt.py` measures both); returns whether the previous mode
    /// released the GIL. Not part of the public API.
    #[pyfunction(name = "_set_verify_releases_gil")]
    pub fn set_verify_releases_gil(enabled: bool) -> bool {
        let previous = MODE.swap(if enabled { ALWAYS } else { INLINE }, Ordering::Relaxed);
        previous != INLINE
    }
}

// ---------------------------------------------------------------------------------------------
// Hints.

/// Slots per bucket: eight `u64`, one cache line.
const WAYS: usize = 8;
/// At most this many slots (512 KiB) however large the cache.
const MAX_SLOTS: usize = 1 << 16;

/// The tokens (or `Authorization` values) an object verified, by a 64-bit fingerprint: where
/// its next validation should be answered from the core's cache, with the GIL held. The core
/// keeps a token's claims from its second verification on (a one-off token is never cached),
/// so a fingerprint is first recorded as "verified once" and becomes a hint on the second
/// success. A set-associative table of atomics (buckets of eight slots, a full bucket
/// overwrites one), so it needs no lock and never grows: about as many slots as the core's
/// cache holds tokens. Not a security decision: a fingerprint that collides, or one
/// overwritten, only changes where a check runs.
pub(crate) struct Hints {
    slots: Box<[AtomicU64]>,
}

/// The low bit of a slot: the fingerprint (whose low bit is 0) was verified once.
const ONCE: u64 = 1;

impl Hints {
    /// Hints for an object whose core caches `capacity` verified tokens (0: none, so no hint
    /// is kept and every check is routed off).
    pub(crate) fn new(capacity: usize) -> Arc<Hints> {
        let slots = if capacity == 0 {
            0
        } else {
            capacity
                .clamp(WAYS, MAX_SLOTS)
                .next_power_of_two()
                .min(MAX_SLOTS)
        };
        Arc::new(Hints {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn bucket(&self, key: u64) -> &[AtomicU64] {
        let buckets = self.slots.len() / WAYS;
        // `buckets` is a power of two; bits above the flag bit pick the bucket.
        let start = ((key >> 1) as usize & (buckets - 1)) * WAYS;
        self.slots.get(start..start + WAYS).unwrap_or(&[])
    }

    fn contains(&self, key: u64) -> bool {
        !self.slots.is_empty()
            && self
                .bucket(key)
                .iter()
                .any(|s| s.load(Ordering::Relaxed) == key)
    }

    /// Records a success for `key`: "verified once" the first time, a hint the second.
    fn insert(&self, key: u64) {
        if self.slots.is_empty() {
            return;
        }
        let bucket = self.bucket(key);
        let mut free = None;
        for slot in bucket {
            match slot.load(Ordering::Relaxed) {
                k if k == key => return,
                k if k == key | ONCE => {
                    slot.store(key, Ordering::Relaxed);
                    return;
                }
                0 if free.is_none() => free = Some(slot),
                _ => {}
            }
        }
        // A full bucket: overwrite the slot the key's high bits pick.
        let slot = free.or_else(|| bucket.get((key >> 61) as usize));
        if let Some(slot) = slot {
            slot.store(key | ONCE, Ordering::Relaxed);
        }
    }

    /// Forgets every hint (`flush_token_cache`).
    pub(crate) fn clear(&self) {
        for slot in &*self.slots {
            slot.store(0, Ordering::Relaxed);
        }
    }
}

/// A fast 64-bit fingerprint of `parts` (eight bytes at a time, multiply and rotate; tens of
/// nanoseconds for a JWT, against a SHA-256's few hundred), its low bit 0 and never 0.
pub(crate) fn key(parts: &[&str]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0;
    for part in parts {
        let bytes = part.as_bytes();
        h = (h ^ (bytes.len() as u64)).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(word))
                .wrapping_mul(K)
                .rotate_left(29);
        }
        let rest = chunks.remainder();
        let mut tail = [0u8; 8];
        if let Some(dst) = tail.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    }
    // The low bit is the "verified once" flag of a slot; 0 is an empty slot.
    ((h ^ (h >> 32)) & !ONCE).max(2)
}

/// A core object and the hints of the Python object holding it; dereferences to the core
/// object. Built together in [`crate::fork::ForkSafe`], so a forked child starts with both
/// empty.
#[derive(Clone)]
pub(crate) struct Hinted<T> {
    value: T,
    hints: Arc<Hints>,
}

impl<T> Hinted<T> {
    /// `value` with empty hints for a cache of `capacity` tokens.
    pub(crate) fn new(value: T, capacity: usize) -> Hinted<T> {
        Hinted {
            value,
            hints: Hints::new(capacity),
        }
    }

    /// The hints (for `flush_token_cache`).
    pub(crate) fn hints(&self) -> &Hints {
        &self.hints
    }
}

impl<T> Deref for Hinted<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

// ---------------------------------------------------------------------------------------------
// Routing.

/// The hint a successful answer records (`None`: nothing to record).
pub(crate) struct Remember(Option<(Arc<Hints>, u64)>);

impl Remember {
    /// Records the hint: the core's cache holds the answer now.
    pub(crate) fn done(self) {
        if let Some((hints, key)) = self.0 {
            hints.insert(key);
        }
    }
}

/// A verification routed off the calling thread: the core's whole step (owning what it uses),
/// and the hint to record when it succeeds.
pub(crate) struct Job<T> {
    pub(crate) work: Box<dyn FnOnce() -> Attempt<T> + Send>,
    pub(crate) remember: Remember,
}

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

/// Whether a call for `key` is answered on the calling thread with the GIL held.
fn stays(hints: &Hints, key: Option<u64>) -> bool {
    match MODE.load(Ordering::Relaxed) {
        INLINE => true,
        ALWAYS => false,
        // No key (no `Authorization` header): the answer is an error known at once.
        _ => key.is_none_or(|k| hints.contains(k)),
    }
}

/// Routes one verification of `object` (a [`Hinted`] core object): `step(object)` taken here
/// when `key` (see [`key`]) is hinted, else a [`Job`] doing the same step on a clone of the
/// object with what `owned` copied of the arguments.
pub(crate) fn route<T, O, A>(
    object: &Hinted<O>,
    key: Option<u64>,
    args: A,
    step: fn(&O, &A) -> Attempt<T>,
) -> Step<T>
where
    O: Clone + Send + 'static,
    A: Send + 'static,
    T: 'static,
{
    if stays(&object.hints, key) {
        return Step::Now(step(&object.value, &args));
    }
    let value = object.value.clone();
    Step::Off(Job {
        work: Box::new(move || step(&value, &args)),
        remember: Remember(key.map(|k| (Arc::clone(&object.hints), k))),
    })
}

/// An immediate (`…_cached`) verification: `f` with the GIL held when `key` is hinted, else
/// with the GIL released; the hint recorded when it answers with claims.
pub(crate) fn immediate<O, T, E>(
    py: Python<'_>,
    object: &Hinted<O>,
    key: Option<u64>,
    f: impl FnOnce(&O) -> Option<Result<T, E>> + Send,
) -> Option<Result<T, E>>
where
    O: Sync,
    T: Send,
    E: Send,
{
    if stays(&object.hints, key) {
        return f(&object.value);
    }
    let value = &object.value;
    let answer = py.detach(move || f(value));
    if let (Some(Ok(_)), Some(k)) = (&answer, key) {
        object.hints.insert(k);
    }
    answer
}

// ---------------------------------------------------------------------------------------------
// Completing asyncio futures from the runtime, batched per event loop.

/// Makes a future's value (or its exception) on the loop's thread.
type Complete = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

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
    /// A wake (`call_soon_threadsafe` of a [`Drain`]) is pending.
    scheduled: AtomicBool,
}

thread_local! {
    /// The queue of the event loop last seen running on this thread.
    static QUEUE: RefCell<Option<Arc<LoopQueue>>> = const { RefCell::new(None) };
}

impl LoopQueue {
    /// The queue of `event_loop` (running on this thread).
    fn of(event_loop: &Bound<'_, PyAny>) -> Arc<LoopQueue> {
        let generation = fork::generation();
        QUEUE.with(|cell| {
            let mut cell = cell.borrow_mut();
            if let Some(q) = &*cell
                && q.generation == generation
                && q.event_loop.bind(event_loop.py()).is(event_loop)
            {
                return Arc::clone(q);
            }
            let q = Arc::new(LoopQueue {
                event_loop: event_loop.clone().unbind(),
                generation,
                done: Mutex::new(Vec::new()),
                scheduled: AtomicBool::new(false),
            });
            *cell = Some(Arc::clone(&q));
            q
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Done>> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `done` (on a runtime thread) and wakes the loop unless a wake is pending.
    fn push(self: &Arc<Self>, done: Done) {
        self.lock().push(done);
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(_delivery) = Delivery::start() else {
            // The interpreter is shutting down: nobody can await the answer any more.
            return;
        };
        Python::attach(|py| {
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

/// The loop's callback: completes every queued future.
#[pyclass(frozen)]
struct Drain {
    queue: Arc<LoopQueue>,
}

guarded! {
    "Drain";
    #[pymethods]
    impl Drain {
        fn __call__(&self, py: Python<'_>) -> PyResult<()> {
            // Cleared before taking the batch: an answer queued after the take wakes again.
            self.queue.scheduled.store(false, Ordering::Release);
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
    let Job { work, remember } = job;
    let answer = move |result: runbeam_core::Result<T>| -> Complete {
        Box::new(move |py| {
            let value = result.or_raise(py)?;
            remember.done();
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
