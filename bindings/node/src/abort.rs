//! Cancellation by an `AbortSignal`: the `signal` of the options of every Promise-returning
//! method (`crate::arg::CallOptions` and the method-specific options) goes through here, from
//! [`crate::error::spawn_with`] (the work on the runtime), [`crate::promise::attempt`] (a
//! cached-then-fetch step) and `crate::lane` (a signature check on a verify thread: skipped when
//! its signal fired before the check started, see `crate::lane::spawn_check`).
//!
//! - A signal already aborted when the method is called: the Promise rejects at once with
//!   [`cancelled`]'s error and nothing starts (no request, no store access).
//! - Otherwise [`Abort::register`] adds a one-shot `abort` listener for the call and
//!   [`abortable`] races the work against it. When the signal fires, the listener stops the
//!   work: the runtime task stops polling it and **drops the Rust future** (a request in
//!   flight is dropped with its connection, which hyper closes), then the Promise rejects with
//!   `RUNBEAM_CANCELLED`, `name: 'AbortError'` (as `fetch` and Node's own APIs reject) and the
//!   signal's `reason` as `cause`. The listener is removed when the call settles, whichever
//!   way, so a long-lived signal shared by many calls keeps no listener of a finished call.
//!
//! **One listener per signal.** `index.js` registers a hub (`__abortInit`): the calls in flight
//! with one signal share a single `abort` listener on it (added with the first call, removed
//! when the last settles), so a signal shared by many calls in flight does not reach Node's
//! listener limit (a `MaxListenersExceededWarning` past 10). Without the hub (the addon loaded
//! without `index.js`), each call adds and removes its own listener on the signal.
//!
//! What the future was doing when dropped is cancelled with it, except work the core shares
//! between callers or cannot interrupt: a `Resolver`'s upstream fetch (single-flight, it goes on
//! for the other callers and its answer is cached), and a token store's keyring or file
//! operation once started on the blocking pool (it finishes; a save stays atomic).
//!
//! napi-rs's own `AbortSignal` argument is made for its libuv `AsyncTask`s and does not fit
//! here: it replaces the signal's `onabort` handler (the user's own is lost), never checks
//! `aborted`, and keeps the callbacks of every call that ever used a signal until the signal is
//! collected.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::ptr;
use std::sync::Arc;
use std::task::Poll;

use std::cell::RefCell;

use napi::bindgen_prelude::{Env, JsObjectValue, JsValue, Object, ObjectRef, Result, Unknown};
use napi::sys;
use napi::tokio::sync::watch;
use napi_derive::napi;
use runbeam_core::{Error as CoreError, ErrorKind};

use crate::arg::AbortSignal;
use crate::error;

thread_local! {
    /// The hub of `index.js` (`{add(signal, listener), remove(signal, listener)}`), if any.
    static HUB: RefCell<Option<ObjectRef<false>>> = const { RefCell::new(None) };
}

/// Registers the hub through which calls listen to their signal: an object with
/// `add(signal, listener)` and `remove(signal, listener)`. Internal: called by `index.js` when
/// it is loaded.
#[napi(js_name = "__abortInit", skip_typescript)]
pub fn abort_init(env: &Env, hub: Object<'_>) -> Result<()> {
    error::entry(env, "abortInit", || {
        let hub = hub.create_ref::<false>()?;
        let old = HUB.with(|h| h.borrow_mut().replace(hub));
        if let Some(old) = old {
            old.unref(env)?;
        }
        Ok(())
    })
}

/// `hub.<method>(signal, listener)` when a hub is registered, else
/// `signal.<fallback>('abort', listener, …extra)`.
fn listen(
    env: &Env,
    signal: &Object<'_>,
    listener: sys::napi_value,
    method: &std::ffi::CStr,
    fallback: &std::ffi::CStr,
    extra: Option<sys::napi_value>,
) -> Result<()> {
    let hub = HUB.with(|h| {
        h.borrow()
            .as_ref()
            .map(|hub| hub.get_value(env).map(|o| o.raw()))
            .transpose()
    })?;
    if let Some(hub) = hub {
        let hub = Object::from_raw(env.raw(), hub);
        return call_method(env, &hub, method, &[signal.raw(), listener]);
    }
    let abort_event = env.create_string("abort")?.raw();
    match extra {
        Some(extra) => call_method(env, signal, fallback, &[abort_event, listener, extra]),
        None => call_method(env, signal, fallback, &[abort_event, listener]),
    }
}

/// The error of a call stopped by its signal before its work started or while it ran
/// (`function` names it): `RUNBEAM_CANCELLED`; the signal's `reason` becomes its `cause` when
/// the call settles ([`Abort::finish`]).
pub(crate) fn stopped(function: &str) -> CoreError {
    CoreError::new(ErrorKind::Cancelled, aborted_message(function))
}

/// The message of a call stopped by its signal.
fn aborted_message(function: &str) -> String {
    format!("{function} was aborted by its AbortSignal")
}

/// The error of a call whose signal was already aborted when it was called (nothing started):
/// `RUNBEAM_CANCELLED`, `name: 'AbortError'`, `cause`: the signal's `reason`.
fn cancelled(env: &Env, function: &str, signal: &Object<'_>) -> napi::Error {
    let reason: Option<Unknown<'_>> = signal.get_named_property("reason").ok();
    error::with_cause(
        env,
        &CoreError::new(
            ErrorKind::Cancelled,
            format!("{function} was not started: its AbortSignal was already aborted"),
        ),
        reason,
    )
}

/// `Err` with the `RUNBEAM_CANCELLED` error when `signal` is already aborted: the call must not
/// start. For a call that may answer without I/O ([`crate::promise::attempt`]), which registers
/// nothing when it does.
pub(crate) fn check(env: &Env, function: &str, signal: Option<AbortSignal>) -> Result<()> {
    match signal {
        Some(signal) => {
            let object = signal.object(env);
            if signal.aborted(&object)? {
                Err(cancelled(env, function, &object))
            } else {
                Ok(())
            }
        }
        None => Ok(()),
    }
}

/// The abort listener of one call, registered on its signal until the call settles.
pub(crate) struct Abort {
    /// Set to `true` by the listener.
    fired: Arc<watch::Sender<bool>>,
    signal: ObjectRef<false>,
    listener: ObjectRef<false>,
}

/// What the work of a call watches (from [`Abort::register`]): `true` once its signal fired.
pub(crate) type Stop = watch::Receiver<bool>;

impl Abort {
    /// Registers a one-shot `abort` listener on `signal` for the call `function`; `Err` with
    /// the `RUNBEAM_CANCELLED` error when the signal is already aborted (then nothing must
    /// start). The [`Stop`] goes to [`abortable`] with the work; [`Abort::finish`] must run
    /// when the call settles.
    pub(crate) fn register(
        env: &Env,
        function: &'static str,
        signal: AbortSignal,
    ) -> Result<(Abort, Stop)> {
        let object = signal.object(env);
        if signal.aborted(&object)? {
            return Err(cancelled(env, function, &object));
        }
        let (fired, stop) = watch::channel(false);
        let fired = Arc::new(fired);
        let trigger = Arc::clone(&fired);
        let listener = env.create_function_from_closure::<(), (), _>("abort", move |_| {
            trigger.send_replace(true);
            Ok(())
        })?;
        let listener = Object::from_raw(env.raw(), listener.raw());
        let mut once = Object::new(env)?;
        once.set("once", true)?;
        listen(
            env,
            &object,
            listener.raw(),
            c"add",
            c"addEventListener",
            Some(once.raw()),
        )?;
        Ok((
            Abort {
                fired,
                signal: object.create_ref::<false>()?,
                listener: listener.create_ref::<false>()?,
            },
            stop,
        ))
    }

    /// Removes the listener (the call has settled) and releases both references; the signal's
    /// `reason` when it aborted the call. A signal whose `removeEventListener` throws keeps a
    /// listener that does nothing any more: that is not the call's failure, and is ignored.
    pub(crate) fn finish<'env>(self, env: &'env Env) -> Result<Option<Unknown<'env>>> {
        let signal = self.signal.get_value(env)?;
        let listener = self.listener.get_value(env)?;
        let _ignored = listen(
            env,
            &signal,
            listener.raw(),
            c"remove",
            c"removeEventListener",
            None,
        );
        let reason = if *self.fired.borrow() {
            signal.get_named_property::<Unknown<'env>>("reason").ok()
        } else {
            None
        };
        self.listener.unref(env)?;
        self.signal.unref(env)?;
        Ok(reason)
    }
}

/// `work`, stopped and dropped when `stop` says its signal fired: the call then fails with
/// `RUNBEAM_CANCELLED` (`function` names it in the message).
pub(crate) async fn abortable<T, F>(
    function: &'static str,
    work: F,
    stop: Option<Stop>,
) -> runbeam_core::Result<T>
where
    F: Future<Output = runbeam_core::Result<T>>,
{
    let Some(mut stop) = stop else {
        return work.await;
    };
    let mut work = pin!(work);
    let mut fired = pin!(async move {
        // The sender lives until the call settles, so `Err` (dropped) does not happen while
        // the work runs; it would not be a reason to stop.
        if stop.wait_for(|fired| *fired).await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        match fired.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(stopped(function))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
    // `work` is dropped here, before the Promise settles: a request in flight goes with it.
}

/// `object[name](...args)`; a JavaScript exception becomes the error.
fn call_method(
    env: &Env,
    object: &Object<'_>,
    name: &std::ffi::CStr,
    args: &[sys::napi_value],
) -> Result<()> {
    let mut method = ptr::null_mut();
    // SAFETY: `object` is a live object of `env`; `name` is NUL-terminated; `method` is
    // written on success.
    let status = unsafe {
        sys::napi_get_named_property(env.raw(), object.raw(), name.as_ptr(), &mut method)
    };
    napi::check_status!(status)?;
    let mut result = ptr::null_mut();
    // SAFETY: `method` and `args` are live values of `env` (napi refuses a `method` that is
    // not a function with a status); an exception the method throws becomes the error.
    let status = unsafe {
        sys::napi_call_function(
            env.raw(),
            object.raw(),
            method,
            args.len(),
            args.as_ptr(),
            &mut result,
        )
    };
    napi::check_pending_exception!(env.raw(), status)
}
