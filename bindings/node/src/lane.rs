//! The completion lane of offloaded signature checks (`crate::offload`): one threadsafe
//! function per JavaScript thread, made once, carries every finished check back.
//!
//! napi's own way to settle a Promise from the runtime (`spawn_future_with_callback`, what
//! [`crate::error::spawn_with`] uses) creates a threadsafe function (a libuv handle, opened and
//! closed) and two runtime tasks per call: several microseconds of the JavaScript thread per
//! Promise, about half a signature check. Here a call costs the JavaScript thread a Promise, a
//! map entry and one runtime task; workers push their answers on a shared queue and wake the
//! event loop only when the queue was empty, so one wake-up settles every check finished
//! meanwhile.
//!
//! The lane keeps the process alive only while checks are in flight (the threadsafe function
//! is referenced then, unreferenced when the last one settles). A call with an `AbortSignal`
//! does not come here (`crate::offload` gives it the abortable runtime path).

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex, PoisonError};

use napi::bindgen_prelude::{
    Env, FromNapiValue, JsError, JsValue, PromiseRaw, Result, ToNapiValue, spawn,
};
use napi::{check_status, sys};
use runbeam_core::attempt::Attempt;

use crate::error;
use crate::offload::Step;

/// A finished check: its id and its `Attempt<T>`, type-erased.
type Finished = (u64, Box<dyn Any + Send>);

/// Settles one Promise on the JavaScript thread from a finished check.
type Finish = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> Result<sys::napi_value>>;

/// What the workers share with the JavaScript thread.
struct Queue {
    done: Mutex<Vec<Finished>>,
    tsfn: Tsfn,
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
    /// Adds a finished check; wakes the JavaScript thread when the queue was empty (else a
    /// wake-up is already on its way and will take this one too).
    fn push(&self, finished: Finished) {
        let was_empty = {
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            let was_empty = done.is_empty();
            done.push(finished);
            was_empty
        };
        if was_empty {
            // SAFETY: the function lives as long as the environment; once it is closing the
            // call fails with a status, and the answer is dropped with the environment.
            unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
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
    LANE.with(|lane| {
        *lane.borrow_mut() = Some(Lane {
            queue: Arc::new(Queue {
                done: Mutex::new(Vec::new()),
                tsfn: Tsfn(tsfn),
            }),
            waiting: HashMap::new(),
            next: 0,
            referenced: false,
        });
    });
    Ok(())
}

/// The Promise of `step` run on the runtime, settled by `later` on the JavaScript thread; a key
/// fetch the step turns out to need is spawned on the runtime from there.
pub(crate) fn spawn_check<'env, T, V, L>(
    env: &'env Env,
    function: &'static str,
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
    let finish: Finish = Box::new(move |env, out| {
        let out = out.downcast::<Attempt<T>>().map_err(|_| {
            error::internal(
                env,
                format!("{function}: a check answered with another type"),
            )
        })?;
        match *out {
            Attempt::Ready(Ok(value)) => {
                let value = later(env, value)?;
                // SAFETY: `env` is the live environment of this callback.
                unsafe { V::to_napi_value(env.raw(), value) }
            }
            Attempt::Ready(Err(e)) => Err(error::from_core(env, &e)),
            Attempt::Pending(future) => {
                let promise: PromiseRaw<'_, V> =
                    error::spawn_with(env, function, None, future, later)?;
                Ok(promise.raw())
            }
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
    spawn(async move {
        let out = Attempt::guarded(function, step);
        queue.push((id, Box::new(out)));
    });
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
            let done = std::mem::take(
                &mut *lane
                    .queue
                    .done
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
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
