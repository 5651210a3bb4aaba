//! Live configuration: `resolver.watch(callback)` follows the providers' change feeds with
//! runbeam-core's watcher ([`runbeam_core::resolve::Resolver::watch_on`], on the module's tokio
//! runtime) and hands each event to JavaScript.
//!
//! Polling, applying, marking changes applied or failed, back-off: all the core's. The core
//! calls the callback installed here on a blocking thread of the runtime, never twice at once;
//! it queues the event on a threadsafe function and returns at once (the core's `stop()` waits
//! for a running callback, so it must never wait for the JavaScript thread, which may be the
//! one calling `stop()`). The threadsafe function is **weak**: a watcher does not keep the
//! process alive by itself (a gateway's server does). Its JavaScript function is `index.js`'s
//! wrapper, which drops events queued before `stop()` and catches what the user's callback
//! throws.

use napi::bindgen_prelude::{
    Either, Env, Function, Null, Result, ToNapiValue, Unknown, within_runtime_if_available,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsError, Status, ValueType, sys};
use napi_derive::napi;
use runbeam_core::resolve;

use crate::arg;
use crate::convert::{millis, nullable};
use crate::error;

/// What happened to one change of a provider's change feed (or to a poll of it), as the
/// callback of `resolver.watch` receives it.
#[napi(object, object_from_js = false)]
pub struct WatchEvent {
    /// `'applied'`: the change is in use and marked applied; `'failed'`: it was refused (the
    /// configuration in use is unchanged) and marked failed, `message` and `error` say why;
    /// `'skipped'`: a change the resolver does not apply (gateway, pipeline, transform,
    /// endpoint, backend, service), acknowledged and left for the host to mark;
    /// `'poll_failed'`: the feed could not be read, the next poll is in `retryInMs`.
    #[napi(ts_type = "'applied' | 'failed' | 'skipped' | 'poll_failed'")]
    pub kind: &'static str,
    /// The provider whose feed it came from (`'runbeam'`).
    pub provider: String,
    /// The change's id (`''` for `'poll_failed'`).
    pub change_id: String,
    /// Its type as sent: `'mesh'`, `'ingress'`, `'pipeline'`, … (`''` if absent).
    pub change_type: String,
    /// Its action as sent: `'created'`, `'updated'`, `'deleted'` (`''` if absent).
    pub action: String,
    /// What happened, for a person; for `'failed'`, every problem found.
    pub message: String,
    /// The meshes put in, replaced or removed by a mesh change.
    pub meshes: Vec<String>,
    /// Cached resolutions dropped.
    pub references_dropped: f64,
    /// Cached mesh tokens dropped.
    pub mesh_tokens_dropped: f64,
    /// For `'failed'` and `'poll_failed'`: the error, as the SDK throws it (`code`, `kind`,
    /// `problems` for a configuration refused, …).
    #[napi(ts_type = "RunbeamError | null")]
    pub error: Either<EventError, Null>,
    /// For `'poll_failed'`: milliseconds before the next poll.
    #[napi(ts_type = "number | null")]
    pub retry_in_ms: Either<f64, Null>,
}

/// The error of an event, built as the SDK's errors are when the event reaches JavaScript.
pub struct EventError(runbeam_core::Error);

impl ToNapiValue for EventError {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let error = error::from_core(&Env::from_raw(env), &val.0);
        // SAFETY: `env` is the live environment napi converts the event in.
        Ok(unsafe { JsError::from(error).into_value(env) })
    }
}

impl From<resolve::WatchEvent> for WatchEvent {
    fn from(event: resolve::WatchEvent) -> Self {
        WatchEvent {
            kind: event.kind.as_str(),
            provider: event.provider,
            change_id: event.change_id,
            change_type: event.change_type,
            action: event.action,
            message: event.message,
            meshes: event.meshes,
            references_dropped: event.references_dropped as f64,
            mesh_tokens_dropped: event.mesh_tokens_dropped as f64,
            error: nullable(event.error.map(EventError)),
            retry_in_ms: nullable(event.retry_in.map(millis)),
        }
    }
}

type EventTsfn = ThreadsafeFunction<WatchEvent, (), WatchEvent, Status, false, true>;

/// A running watch of the change feeds, from `resolver.watch(callback)`: it runs until
/// `stop()` (or until the resolver is garbage-collected).
///
/// ```js
/// const watcher = resolver.watch((event) => console.log(event.kind, event.changeId, event.message))
/// // … serve traffic: published mesh changes are applied and marked applied or failed …
/// watcher.stop()
/// ```
#[napi]
pub struct Watcher {
    inner: resolve::Watcher,
}

#[napi]
impl Watcher {
    /// Stops watching: when it returns no poll starts, every polling task is cancelled and the
    /// callback is not called again (not even for events already queued). Idempotent.
    #[napi]
    pub fn stop(&self, env: &Env) -> Result<()> {
        error::entry(env, "Watcher.stop", || {
            self.inner.stop();
            Ok(())
        })
    }

    /// The providers being polled, in configuration order: each enabled remote provider whose
    /// `poll_interval_secs` was above 0 when the watcher started (empty: nothing is polled).
    #[napi(getter)]
    pub fn providers(&self, env: &Env) -> Result<Vec<String>> {
        error::entry(env, "Watcher.providers", || {
            Ok(self.inner.providers().to_vec())
        })
    }

    /// Whether `stop()` was called.
    #[napi(getter)]
    pub fn is_stopped(&self, env: &Env) -> Result<bool> {
        error::entry(env, "Watcher.isStopped", || Ok(self.inner.is_stopped()))
    }
}

/// `resolver.watch(callback)` (index.js): starts the core's watcher of `resolver` on the
/// module's runtime, delivering events to `deliver` (index.js's wrapper of `callback`).
pub(crate) fn start(
    env: &Env,
    resolver: &resolve::Resolver,
    callback: Unknown<'_>,
    deliver: Option<Function<'_, WatchEvent, ()>>,
) -> Result<Watcher> {
    if callback.get_type()? != ValueType::Function {
        return Err(error::invalid_argument(
            env,
            format!(
                "watch: the callback must be a function, not {}",
                arg::describe(&callback)
            ),
        ));
    }
    let Some(deliver) = deliver else {
        return Err(error::internal(env, "watch: no delivery function"));
    };
    let tsfn: EventTsfn = deliver
        .build_threadsafe_function::<WatchEvent>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    let on_event = move |event: resolve::WatchEvent| {
        // Closing: Node is exiting (or the environment is gone); nothing to deliver to.
        let _ = tsfn.call(
            WatchEvent::from(event),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    };
    // The module's runtime (napi's `tokio_rt`), which runs every Promise of the SDK.
    let inner = error::core(env, || {
        within_runtime_if_available(|| resolver.watch(on_event))
    })?;
    Ok(Watcher { inner })
}
