//! When a signature check leaves the JavaScript thread.
//!
//! A `validate` Promise (and `verifyMeshToken`, `authenticate`, the `Resolver`'s
//! `verifyMeshToken` / `verifyMeshRequest`) whose keys are cached used to check the RSA/ECDSA
//! signature synchronously on the JavaScript thread (~19 µs for RS256): with many Promises in
//! flight the event loop was busy with signatures and the second core idle. [`verify`] decides
//! per call:
//!
//! - **no signature to check** (runbeam-core's `needs_signature_check` answers `false`: a token
//!   whose verified claims the core's cache holds with its keys still current, a token refused
//!   for its size, a missing or malformed `Authorization` header, an unknown mesh) →
//!   answered on the JavaScript thread, as before (a SHA-256 and a cache look-up, under a
//!   microsecond, or an error known at once);
//! - **anything else** (a signature to check, or keys to fetch) → the core's whole
//!   cached-then-fetch step runs on the module's tokio runtime (napi's `tokio_rt`), a key fetch
//!   included when one turns out to be needed, and the Promise settles on the JavaScript thread
//!   with the same `Claims` object shape and the same coded errors. Without an `AbortSignal`
//!   the answer comes back through [`crate::lane`] (one threadsafe function for all checks,
//!   one wake-up of the event loop for every check finished meanwhile); with one, through the
//!   abortable path of every spawned call ([`crate::error::spawn_with`], `crate::abort`).
//!
//! No crossover for a lone request: the JavaScript thread cannot tell a lone call from the
//! first of a burst made in one turn (or of many requests arriving in separate turns), and a
//! rule that kept lone calls inline kept a loaded gateway inline too. The synchronous methods
//! (`validateCached`, …) stay the inline path for whoever wants it.
//!
//! Either way the core does the work (decode, issuer, keys, signature, claims, the cache
//! insert), so a token verified on a worker is cached like one verified inline. The core's
//! `needs_signature_check` decides exactly (nothing verified, nothing counted); it is only a
//! routing decision: a token evicted between the question and the answer costs one check on
//! the JavaScript thread, never a different answer.
//!
//! `_verifyOffload(mode)` (not exported by `index.js`; benchmarks and tests reach it through
//! `native.js`) switches the process between `'auto'` (the rule above, the default),
//! `'inline'` (every check on the JavaScript thread: the behaviour before), `'tokio'` (every
//! offloaded check through `spawn_with`, a threadsafe function per call) and `'uv'` (the
//! offloaded checks on libuv's thread pool as napi async work), the last three kept for the
//! comparisons of `bench/throughput.mjs`.

use std::sync::atomic::{AtomicU8, Ordering};

use napi::Either;
use napi::bindgen_prelude::{Env, Result, ToNapiValue};
use napi_derive::napi;
use runbeam_core::attempt::Attempt;
use runbeam_core::{Error as CoreError, ErrorKind};

use crate::arg::AbortSignal;
use crate::error;
use crate::promise::{self, Answer};

const AUTO: u8 = 0;
const INLINE: u8 = 1;
const UV: u8 = 2;
const TOKIO: u8 = 3;

static MODE: AtomicU8 = AtomicU8::new(AUTO);

/// Sets where signature checks run: `'auto'` (default), `'inline'`, `'uv'` or `'tokio'` (see the module
/// documentation). Internal: for benchmarks and tests, through `native.js`.
#[napi(js_name = "_verifyOffload", skip_typescript)]
pub fn verify_offload(env: &Env, mode: String) -> Result<()> {
    error::entry(env, "_verifyOffload", || {
        let mode = match mode.as_str() {
            "auto" => AUTO,
            "inline" => INLINE,
            "uv" => UV,
            "tokio" => TOKIO,
            _ => {
                return Err(error::from_core(
                    env,
                    &CoreError::new(
                        ErrorKind::InvalidArgument,
                        "the offload mode must be 'auto', 'inline', 'uv' or 'tokio'",
                    ),
                ));
            }
        };
        MODE.store(mode, Ordering::Relaxed);
        Ok(())
    })
}

/// The core's step made owned, for a worker thread: it returns the answer, or the key fetch
/// to run on the runtime.
pub(crate) type Step<T> = Box<dyn FnOnce() -> Attempt<T> + Send + 'static>;

/// A verification step (runbeam-core's cached-then-fetch `…_attempt`) routed by the rule of
/// the module documentation.
///
/// - `needs_check`: runbeam-core's `needs_signature_check` (or its `Authorization` header /
///   mesh form) for the call, asked by the caller: `false` is answered inline, as is every
///   call in the `'inline'` mode.
/// - `inline`: the core's step on the JavaScript thread (a cache hit, or a signature checked
///   here, or the key fetch spawned);
/// - `offload`: the same step, owned, for a worker (a key fetch it turns out to need is awaited
///   on the runtime);
/// - `ready`: the value of a step answered inline; `later`: the value on the JavaScript thread
///   when a worker answers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify<'env, T, V>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    needs_check: bool,
    inline: impl FnOnce() -> Attempt<T>,
    offload: impl FnOnce() -> Step<T>,
    ready: impl FnOnce(T) -> Result<V>,
    later: impl FnOnce(&Env, T) -> Result<V> + 'static,
) -> Result<Answer<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
{
    let mode = MODE.load(Ordering::Relaxed);
    if !needs_check || mode == INLINE {
        return promise::attempt(env, function, signal, || Ok(inline()), ready, later);
    }
    match (mode, signal) {
        (AUTO, None) => {
            return crate::lane::spawn_check(env, function, offload(), later).map(Either::B);
        }
        (UV, None) => return uv::spawn(env, function, offload(), later).map(Either::B),
        _ => {}
    }
    let step = offload();
    error::spawn_with(
        env,
        function,
        signal,
        async move { step().finish().await },
        later,
    )
    .map(Either::B)
}

/// The `'uv'` mode (for comparison): the step on libuv's thread pool (a napi async work); a
/// key fetch it turns out to need is spawned on the runtime from the JavaScript thread. Used
/// only for calls without an `AbortSignal` (a signal takes the runtime path).
mod uv {
    use std::marker::PhantomData;

    use napi::JsValue;
    use napi::bindgen_prelude::{
        Env, FromNapiValue, PromiseRaw, Result, Task, ToNapiValue, TypeName, ValueType,
    };
    use napi::sys;
    use runbeam_core::attempt::Attempt;

    use super::Step;
    use crate::error;

    /// A value made on the JavaScript thread, handed to napi as is.
    pub(super) struct Raw(sys::napi_value);

    impl TypeName for Raw {
        fn type_name() -> &'static str {
            "unknown"
        }

        fn value_type() -> ValueType {
            ValueType::Unknown
        }
    }

    impl ToNapiValue for Raw {
        unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
            Ok(val.0)
        }
    }

    /// What only the JavaScript thread touches (in `resolve`, which napi runs there).
    struct JsThread<L>(Option<L>);

    // SAFETY: the value is created on the JavaScript thread and used and dropped there only:
    // `compute` (the pool thread) never touches it, napi calls `resolve` and drops the task
    // on the JavaScript thread.
    unsafe impl<L> Send for JsThread<L> {}

    struct Check<T, V, L> {
        function: &'static str,
        step: Option<Step<T>>,
        later: JsThread<L>,
        value: PhantomData<fn() -> V>,
    }

    impl<T, V, L> Task for Check<T, V, L>
    where
        T: Send + 'static,
        V: ToNapiValue + 'static,
        L: FnOnce(&Env, T) -> Result<V> + 'static,
    {
        type Output = Attempt<T>;
        type JsValue = Raw;

        fn compute(&mut self) -> Result<Attempt<T>> {
            let step = self.step.take();
            Ok(Attempt::guarded(self.function, move || match step {
                Some(step) => step(),
                None => Attempt::Ready(Err(runbeam_core::Error::new(
                    runbeam_core::ErrorKind::Internal,
                    "the check ran twice",
                ))),
            }))
        }

        fn resolve(&mut self, env: Env, output: Attempt<T>) -> Result<Raw> {
            let function = self.function;
            let later = self.later.0.take();
            error::entry(&env, function, || {
                let Some(later) = later else {
                    return Err(error::internal(&env, "the check settled twice"));
                };
                match output {
                    Attempt::Ready(Ok(value)) => {
                        let value = later(&env, value)?;
                        // SAFETY: `env` is the live environment of this callback.
                        unsafe { V::to_napi_value(env.raw(), value) }.map(Raw)
                    }
                    Attempt::Ready(Err(e)) => Err(error::from_core(&env, &e)),
                    Attempt::Pending(future) => {
                        let promise: PromiseRaw<'_, V> =
                            error::spawn_with(&env, function, None, future, later)?;
                        Ok(Raw(promise.raw()))
                    }
                }
            })
        }
    }

    /// The Promise of `step` run on libuv's pool, settled by `later` on the JavaScript thread.
    pub(super) fn spawn<'env, T, V, L>(
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
        let work = env.spawn(Check {
            function,
            step: Some(step),
            later: JsThread(Some(later)),
            value: PhantomData,
        })?;
        let promise = work.promise_object().raw();
        // SAFETY: `promise` is the live Promise napi just created for the work.
        unsafe { PromiseRaw::from_napi_value(env.raw(), promise) }
    }
}
