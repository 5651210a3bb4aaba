//! The verification lane of offloaded signature checks (`crate::offload`): a small pool of
//! verify threads (one per core) takes the checks, and one threadsafe function per JavaScript
//! thread, made once, carries every finished check back.
//!
//! Why not the tokio runtime, or napi's own way to settle a Promise from it
//! (`spawn_future_with_callback`, what [`crate::error::spawn_with`] uses): that one creates a
//! threadsafe function (a libuv handle, opened and closed) and two runtime tasks per call,
//! several microseconds of the JavaScript thread per Promise; a runtime task per check through
//! one shared lane still left the cores idle part of the time (measured in BENCHMARKS.md, "Node:
//! throughput on both cores"). Here a call costs the JavaScript thread a Promise, a map entry and
//! a queue push (a worker is woken only when one is idle); a worker takes checks from the queue
//! until it is empty, and pushes answers on the JavaScript thread's completion queue.
//!
//! **Batched wake-ups.** A worker wakes the event loop when it finishes a check and no wake-up
//! is already on its way, and either none of that JavaScript thread's checks is waiting to start
//! (the answer is wanted now: a lone call pays one wake-up, as before) or [`BATCH`] answers are
//! waiting (a burst: the event loop is woken once per `BATCH` answers, not once per answer, and
//! converts them in one go). The count is the lane's own, not the pool's: with several
//! JavaScript threads (`worker_threads`) sharing the verify threads, another thread's checks
//! still queued must not hold this one's last answers back (they would never be delivered: no
//! check of this lane would come to wake it).
//! Each wake-up of an idle event loop costs it a context switch and a turn of libuv's poll, and
//! on a machine with as many verify threads as cores, the preemption of a verify thread.
//! Measured (64 Promises in flight, 2 cores): a batch of 32 against 16, 4% less process CPU
//! per token; the wake-up called outside the completion queue's lock, 5% (the verify thread
//! making the call was preempted by the event loop it woke, which then slept on that lock).
//!
//! The lane keeps the process alive only while checks are in flight (the threadsafe function
//! is referenced then, unreferenced when the last one settles); the verify threads are made at
//! the first check and live as long as the process (idle, they wait on a condition variable). A
//! call with an `AbortSignal` comes here too (see [`spawn_check`]).

use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread;

use napi::bindgen_prelude::{
    Env, FromNapiValue, JsError, JsValue, PromiseRaw, Result, ToNapiValue,
};
use napi::{check_status, sys};
use runbeam_core::attempt::Attempt;

use crate::abort::{self, Abort, Stop};
use crate::error;
use crate::offload::Step;

/// Answers a worker lets wait on the completion queue, while checks are still waiting to
/// start, before it wakes the event loop anyway.
const BATCH: usize = 32;

/// A finished check: its id and its `Attempt<T>`, type-erased.
type Finished = (u64, Box<dyn Any + Send>);

/// Settles one Promise on the JavaScript thread from a finished check.
type Finish = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> Result<sys::napi_value>>;

/// A check for a verify thread: runs the step and pushes its answer.
type Job = Box<dyn FnOnce() + Send>;

/// The verify threads' queue of checks waiting to start.
struct Pool {
    jobs: Mutex<Jobs>,
    ready: Condvar,
    /// Verify threads made (0 only if the system refused every one: checks then run on the
    /// calling thread).
    threads: AtomicUsize,
}

struct Jobs {
    queue: VecDeque<Job>,
    /// Workers waiting on `ready`.
    idle: usize,
    /// Of those, how many were notified and have not taken the lock since.
    notified: usize,
}

/// The process's verify threads (made at the first check, one per core).
fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            jobs: Mutex::new(Jobs {
                queue: VecDeque::new(),
                idle: 0,
                notified: 0,
            }),
            ready: Condvar::new(),
            threads: AtomicUsize::new(0),
        }));
        let threads = thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 64));
        for i in 0..threads {
            let made = thread::Builder::new()
                .name(format!("runbeam-verify-{i}"))
                .spawn(move || pool.work());
            if made.is_ok() {
                pool.threads.fetch_add(1, Ordering::Relaxed);
            }
        }
        pool
    })
}

impl Pool {
    /// A verify thread: takes checks until the queue is empty, then waits.
    fn work(&self) {
        loop {
            let job = {
                let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if let Some(job) = jobs.queue.pop_front() {
                        break job;
                    }
                    jobs.idle += 1;
                    jobs = self
                        .ready
                        .wait(jobs)
                        .unwrap_or_else(PoisonError::into_inner);
                    jobs.idle -= 1;
                    jobs.notified = jobs.notified.saturating_sub(1);
                }
            };
            // The step runs behind `Attempt::guarded`; this only keeps the thread alive.
            let _ = catch_unwind(AssertUnwindSafe(job));
        }
    }

    /// Queues `job`; wakes an idle worker unless enough are already woken.
    fn submit(&self, job: Job) {
        if self.threads.load(Ordering::Relaxed) == 0 {
            job();
            return;
        }
        let wake = {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            jobs.queue.push_back(job);
            let wake = jobs.idle > jobs.notified;
            if wake {
                jobs.notified += 1;
            }
            wake
        };
        if wake {
            self.ready.notify_one();
        }
    }
}

/// What the workers share with one JavaScript thread.
struct Queue {
    done: Mutex<Done>,
    /// The threadsafe function may be called: false once the environment's cleanup began (a
    /// `worker_threads` worker ending), after which it may be freed. Held only around the call
    /// (by the one worker whose answer sets `signalled`) and by that cleanup: `done`, which the
    /// JavaScript thread takes to collect answers, is never held across the call (the call
    /// takes napi's own lock and writes to the event loop's wake-up descriptor; holding `done`
    /// meanwhile made the other worker and the JavaScript thread sleep on it: measured).
    gate: Mutex<bool>,
    tsfn: Tsfn,
    /// This lane's checks submitted and not yet taken by a verify thread (read without the lock
    /// by the wake-up rule; a check counts itself out before it answers).
    to_start: AtomicUsize,
}

struct Done {
    finished: Vec<Finished>,
    /// A wake-up of the JavaScript thread is on its way (cleared when it takes `finished`).
    signalled: bool,
    /// The environment is alive: false once its cleanup began; answers are dropped from then.
    open: bool,
}

/// The lane's threadsafe function.
#[derive(Clone, Copy)]
struct Tsfn(sys::napi_threadsafe_function);

// SAFETY: napi documents `napi_call_threadsafe_function` as callable from any thread; the
// other calls on it are made on the JavaScript thread only.
unsafe impl Send for Tsfn {}
// SAFETY: as above.
unsafe impl Sync for Tsfn {}

impl Queue {
    /// Adds a finished check; wakes the JavaScript thread by the rule of the module
    /// documentation (none on its way, and nothing left to start or a batch waiting).
    fn push(&self, finished: Finished) {
        let wake = {
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            if !done.open {
                return; // the environment is gone: nobody waits for the answer
            }
            done.finished.push(finished);
            let wake = !done.signalled
                && (self.to_start.load(Ordering::Acquire) == 0 || done.finished.len() >= BATCH);
            // Claimed now, so no other answer calls too; given back below if refused.
            done.signalled |= wake;
            wake
        };
        if wake && !self.signal() {
            // Refused (the function is closing): no wake-up is on its way, so the next answer
            // tries again rather than trusting one that will never come.
            self.done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .signalled = false;
        }
    }

    /// Calls the threadsafe function (queues a wake-up of the JavaScript thread) unless the
    /// environment's cleanup began; whether it was queued.
    fn signal(&self) -> bool {
        let gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        // Under `gate`, so the environment's cleanup (`closed`) cannot free the function in
        // between.
        // SAFETY: `gate` says the cleanup has not begun, so the function is alive; a
        // nonblocking call only queues the wake-up.
        *gate
            && unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            } == sys::Status::napi_ok
    }
}

/// The JavaScript thread's side.
struct Lane {
    queue: Arc<Queue>,
    waiting: HashMap<u64, (sys::napi_deferred, Finish)>,
    next: u64,
    referenced: bool,
}

thread_local! {
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// Makes this thread's lane (once).
fn open(env: &Env) -> Result<()> {
    if LANE.with(|lane| lane.borrow().is_some()) {
        return Ok(());
    }
    let name = env.create_string("runbeam-verify")?;
    let mut tsfn = ptr::null_mut();
    // SAFETY: `env` is live; no JavaScript function (`call_js` does the work); `tsfn` is
    // written on success.
    check_status!(unsafe {
        sys::napi_create_threadsafe_function(
            env.raw(),
            ptr::null_mut(),
            ptr::null_mut(),
            name.raw(),
            0,
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(call_js),
            &mut tsfn,
        )
    })?;
    // Idle: does not keep the process alive.
    // SAFETY: `tsfn` was just created on this thread.
    check_status!(unsafe { sys::napi_unref_threadsafe_function(env.raw(), tsfn) })?;
    let queue = Arc::new(Queue {
        done: Mutex::new(Done {
            finished: Vec::new(),
            signalled: false,
            open: true,
        }),
        gate: Mutex::new(true),
        tsfn: Tsfn(tsfn),
        to_start: AtomicUsize::new(0),
    });
    // Registered after the threadsafe function (whose own cleanup frees it): hooks run in
    // reverse order, so this one closes the lane first. Before the lane is stored: a lane
    // without its hook would call the function after the environment freed it.
    let hook = Arc::into_raw(Arc::clone(&queue)).cast_mut().cast();
    // SAFETY: `env` is live; `closed` takes back the `Arc` given here, once.
    let added = unsafe { sys::napi_add_env_cleanup_hook(env.raw(), Some(closed), hook) };
    if added != sys::Status::napi_ok {
        // SAFETY: the hook was not added, so `closed` will not take the `Arc` back: taken here.
        drop(unsafe { Arc::from_raw(hook.cast_const().cast::<Queue>()) });
        // SAFETY: the function was created above on this thread and is released once; its
        // environment frees it.
        unsafe {
            sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::release)
        };
        check_status!(added)?;
    }
    LANE.with(|lane| {
        *lane.borrow_mut() = Some(Lane {
            queue,
            waiting: HashMap::new(),
            next: 0,
            referenced: false,
        });
    });
    Ok(())
}

/// The environment's cleanup (a `worker_threads` worker ending, or the process): the verify
/// threads stop calling the lane's threadsafe function, answers still to come are dropped, and
/// this thread's lane is forgotten (its Promises are never settled: their environment is gone).
unsafe extern "C" fn closed(arg: *mut c_void) {
    // SAFETY: `arg` is the `Arc<Queue>` leaked by `open` for this hook, taken back once.
    let queue = unsafe { Arc::from_raw(arg.cast_const().cast::<Queue>()) };
    *queue.gate.lock().unwrap_or_else(PoisonError::into_inner) = false;
    let finished = {
        let mut done = queue.done.lock().unwrap_or_else(PoisonError::into_inner);
        done.open = false;
        std::mem::take(&mut done.finished)
    };
    drop(finished);
    // The waiting Promises and their settle callbacks hold napi references of the dying
    // environment: forgotten, not released.
    if let Ok(Some(lane)) = LANE.try_with(|lane| lane.borrow_mut().take()) {
        std::mem::forget(lane);
    }
}

/// The Promise of `step` run on a verify thread, settled by `later` on the JavaScript thread; a key
/// fetch the step turns out to need is spawned on the runtime from there.
///
/// `registered`: the call's `AbortSignal` listener ([`Abort::register`]). A check whose signal
/// fired before a verify thread took it is skipped and rejects with `RUNBEAM_CANCELLED` (the
/// signal's `reason` as `cause`); one already running finishes and settles with its answer (a
/// signature check cannot be interrupted, and is a few microseconds); a key fetch it turns out
/// to need is aborted as every spawned call is ([`error::spawn_registered`]). The listener is
/// removed when the call settles.
pub(crate) fn spawn_check<'env, T, V, L>(
    env: &'env Env,
    function: &'static str,
    registered: Option<(Abort, Stop)>,
    step: Step<T>,
    later: L,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    L: FnOnce(&Env, T) -> Result<V> + 'static,
{
    open(env)?;
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: `env` is live; both out-pointers are written on success.
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    let skip = registered.as_ref().map(|(_, stop)| stop.clone());
    let finish: Finish = Box::new(move |env, out| {
        let out = out.downcast::<Attempt<T>>().map_err(|_| {
            error::internal(
                env,
                format!("{function}: a check answered with another type"),
            )
        })?;
        let answer = match *out {
            Attempt::Ready(answer) => answer,
            Attempt::Pending(future) => {
                let promise: PromiseRaw<'_, V> =
                    error::spawn_registered(env, function, registered, future, later)?;
                return Ok(promise.raw());
            }
        };
        // Releasing the listener cannot fail the call (only napi itself could fail here).
        let reason = registered
            .and_then(|(abort, _)| error::entry(env, function, || abort.finish(env)).ok())
            .flatten();
        match answer {
            Ok(value) => {
                let value = later(env, value)?;
                // SAFETY: `env` is the live environment of this callback.
                unsafe { V::to_napi_value(env.raw(), value) }
            }
            Err(e) => Err(error::with_cause(env, &e, reason)),
        }
    });
    let (id, queue) = LANE.with(|lane| -> Result<_> {
        let mut lane = lane.borrow_mut();
        let Some(lane) = lane.as_mut() else {
            return Err(error::internal(env, "the verification lane is not open"));
        };
        let id = lane.next;
        lane.next = lane.next.wrapping_add(1);
        lane.waiting.insert(id, (deferred, finish));
        if !lane.referenced {
            // SAFETY: the lane's function, on its thread.
            check_status!(unsafe {
                sys::napi_ref_threadsafe_function(env.raw(), lane.queue.tsfn.0)
            })?;
            lane.referenced = true;
        }
        Ok((id, Arc::clone(&lane.queue)))
    })?;
    queue.to_start.fetch_add(1, Ordering::AcqRel);
    pool().submit(Box::new(move || {
        // Counted out before the answer is pushed: the push of this lane's last answer sees 0.
        queue.to_start.fetch_sub(1, Ordering::AcqRel);
        let out = if skip.is_some_and(|stop| *stop.borrow()) {
            Attempt::Ready(Err(abort::stopped(function)))
        } else {
            Attempt::guarded(function, step)
        };
        queue.push((id, Box::new(out)));
    }));
    // SAFETY: `promise` is the live Promise created above.
    unsafe { PromiseRaw::from_napi_value(env.raw(), promise) }
}

/// The threadsafe function's callback, on the JavaScript thread: settles every finished check.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    _callback: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the environment is being torn down
    }
    let env = Env::from_raw(env);
    let _ = error::entry(&env, "verification lane", || {
        // Taken out first: settling runs JavaScript (the `Claims` constructor).
        let settling = LANE.with(|lane| {
            let mut lane = lane.borrow_mut();
            let Some(lane) = lane.as_mut() else {
                return Vec::new();
            };
            let done = {
                let mut done = lane
                    .queue
                    .done
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                done.signalled = false;
                std::mem::take(&mut done.finished)
            };
            let settling: Vec<_> = done
                .into_iter()
                .filter_map(|(id, out)| lane.waiting.remove(&id).map(|w| (w, out)))
                .collect();
            if lane.waiting.is_empty() && lane.referenced {
                // SAFETY: the lane's function, on its thread.
                unsafe { sys::napi_unref_threadsafe_function(env.raw(), lane.queue.tsfn.0) };
                lane.referenced = false;
            }
            settling
        });
        for ((deferred, finish), out) in settling {
            let outcome = error::entry(&env, "verification lane", || finish(&env, out));
            // SAFETY: `deferred` was created by `spawn_check` and is settled exactly once,
            // with a live value of `env`.
            unsafe {
                match outcome {
                    Ok(value) => sys::napi_resolve_deferred(env.raw(), deferred, value),
                    Err(e) => sys::napi_reject_deferred(
                        env.raw(),
                        deferred,
                        JsError::from(e).into_value(env.raw()),
                    ),
                };
            }
        }
        Ok(())
    });
}
