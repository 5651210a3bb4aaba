//! Promises made in Rust: settled at once when the answer is known on the JavaScript thread, or
//! settled later by work spawned on the module's tokio runtime (napi's `tokio_rt`).
//!
//! - [`settled`]: a Promise already resolved or rejected (no runtime hop, no threadsafe
//!   function): what a cache hit and an argument error become.
//! - [`attempt`]: runbeam-core's cached-then-fetch step ([`Attempt`]) as an [`Answer`]: the
//!   value itself when the core answered without I/O, else a Promise (spawned, or rejected with
//!   an error known at once). `index.js` wraps a value in `Promise.resolve`: measured, that
//!   costs less than a Promise created through napi (BENCHMARKS.md, "Node JWT validation").
//! - [`spawn`] and [`blocking`]: work on the runtime (async, or on its blocking pool), behind the
//!   panic boundary of [`error::spawn_with`].
//!
//! Each takes the `signal` of the call's options (`crate::arg::Signal`), handled by
//! `crate::abort`: a signal already aborted rejects before anything starts, one that fires
//! later drops the work and rejects with `RUNBEAM_CANCELLED`.
//!
//! Every Promise-returning entry point runs in [`error::promise`], which turns an error raised
//! before the work starts (an error known at once, a panic) into a rejected Promise
//! ([`Settle`]); a wrong argument type is rejected the same way, by napi's `strict` validation
//! of the argument types (`crate::arg`).

use std::future::Future;
use std::ptr;

use napi::bindgen_prelude::{
    Either, Env, Error, FromNapiValue, JsError, PromiseRaw, Result, ToNapiValue, spawn_blocking,
};
use napi::{check_status, sys};
use runbeam_core::attempt::Attempt;
use runbeam_core::{Error as CoreError, ErrorKind};

use crate::arg::AbortSignal;
use crate::{abort, error};

/// A Promise already settled with `outcome`: resolved with the converted value, or rejected with
/// the error (a coded `Error` of [`crate::error`]).
pub(crate) fn settled<'env, V: ToNapiValue>(
    env: &'env Env,
    outcome: Result<V>,
) -> Result<PromiseRaw<'env, V>> {
    let env_raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: `env` is the live environment of this call; both out-pointers are written on
    // success.
    check_status!(unsafe { sys::napi_create_promise(env_raw, &mut deferred, &mut promise) })?;
    // SAFETY: `env` is live; the value belongs to it.
    let value = outcome.and_then(|value| unsafe { V::to_napi_value(env_raw, value) });
    // SAFETY: `deferred` was just created and is settled exactly once, with a live value.
    let status = unsafe {
        match value {
            Ok(value) => sys::napi_resolve_deferred(env_raw, deferred, value),
            Err(error) => sys::napi_reject_deferred(
                env_raw,
                deferred,
                JsError::from(error).into_value(env_raw),
            ),
        }
    };
    check_status!(status)?;
    // SAFETY: `promise` is the live Promise created above.
    unsafe { PromiseRaw::from_napi_value(env_raw, promise) }
}

/// What a cached-then-fetch method hands `index.js`: the value when runbeam-core answered
/// without I/O (a cache hit), else a Promise (the request, or an error known at once).
pub type Answer<'env, V> = Either<V, PromiseRaw<'env, V>>;

/// What a Promise-returning entry point returns when it fails before its work starts: a
/// rejected Promise (see [`error::promise`]).
pub(crate) trait Settle<'env>: Sized {
    /// A rejected Promise with `error`.
    fn rejected(env: &'env Env, error: Error) -> Result<Self>;
}

impl<'env, V: ToNapiValue> Settle<'env> for PromiseRaw<'env, V> {
    fn rejected(env: &'env Env, error: Error) -> Result<Self> {
        settled(env, Err(error))
    }
}

impl<'env, V: ToNapiValue> Settle<'env> for Answer<'env, V> {
    fn rejected(env: &'env Env, error: Error) -> Result<Self> {
        settled(env, Err(error)).map(Either::B)
    }
}

/// runbeam-core's cached-then-fetch step as an [`Answer`]: `ready(value)` when the core
/// answered without I/O, a rejected Promise for an error it knew at once, else the request
/// spawned on the runtime (aborted by `signal`), its value settled by `fetched(env, value)` on
/// the JavaScript thread. A `signal` already aborted rejects before the step is taken.
pub(crate) fn attempt<'env, T, V>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    attempt: impl FnOnce() -> Result<Attempt<T>>,
    ready: impl FnOnce(T) -> Result<V>,
    fetched: impl FnOnce(&Env, T) -> Result<V> + 'static,
) -> Result<Answer<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
{
    abort::check(env, function, signal)?;
    match attempt()? {
        Attempt::Ready(Ok(value)) => ready(value).map(Either::A),
        Attempt::Ready(Err(e)) => Settle::rejected(env, error::from_core(env, &e)),
        Attempt::Pending(future) => {
            error::spawn_with(env, function, signal, future, fetched).map(Either::B)
        }
    }
}

/// Runs `call` on the module's runtime (behind the panic boundary of [`error::spawn_with`],
/// aborted by `signal`); resolves with `convert(value)` or rejects with the coded error.
pub(crate) fn spawn<'env, T, V, F, C>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    call: F,
    convert: C,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    C: FnOnce(T) -> V + 'static,
{
    error::spawn_with(env, function, signal, call, move |_, value| {
        Ok(convert(value))
    })
}

/// Runs a blocking call (a keyring round trip, an fsync) on the runtime's blocking pool;
/// resolves with `convert(value)`. `signal` rejects the Promise at once, but the call cannot
/// be interrupted on the pool: it finishes in the background (a save stays atomic).
pub(crate) fn blocking<'env, T, V, F, C>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    call: F,
    convert: C,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: FnOnce() -> runbeam_core::Result<T> + Send + 'static,
    C: FnOnce(T) -> V + 'static,
{
    spawn(
        env,
        function,
        signal,
        async move {
            spawn_blocking(move || runbeam_core::panic::catch(function, call))
                .await
                .unwrap_or_else(|e| {
                    Err(CoreError::new(
                        ErrorKind::Internal,
                        format!("blocking task failed: {e}"),
                    ))
                })
        },
        convert,
    )
}
