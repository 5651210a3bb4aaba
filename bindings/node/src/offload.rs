//! When a signature check leaves the JavaScript thread.
//!
//! A `validate` Promise (and `verifyMeshToken`, `authenticate`, the `Resolver`'s
//! `verifyMeshToken` / `verifyMeshRequest`) whose keys are cached used to check the RSA/ECDSA
//! signature synchronously on the JavaScript thread (~19 µs for RS256): with many Promises in
//! flight the event loop was busy with signatures and the second core idle. [`verify`] decides
//! per call:
//!
//! - **nothing to verify** (runbeam-core's one-pass `validate_if_remembered` — or its
//!   `Authorization` header / mesh form — answers: the claims of a token the core's cache
//!   remembers with its keys still current, time claims checked again, or a refusal known at
//!   once: a token over the size limit, a missing or malformed `Authorization` header, an
//!   unknown mesh) → answered on the JavaScript thread from that one hash and one cache
//!   look-up, as `validateCached` would (under a microsecond);
//! - **anything else** (a signature to check, or keys to fetch) → the core's whole
//!   cached-then-fetch step runs on one of the verify threads of [`crate::lane`] (one per core),
//!   and the Promise settles on the JavaScript thread with the same `Claims` object shape and
//!   the same coded errors; a key fetch the step turns out to need is awaited on the module's
//!   tokio runtime. The answer comes back through the lane (one threadsafe function for all
//!   checks, one wake-up of the event loop per batch of answers). With an `AbortSignal`: a
//!   check not started when it fires is skipped (`RUNBEAM_CANCELLED`), a key fetch is aborted
//!   as every spawned call is (`crate::abort`).
//!
//! No crossover for a lone request: the JavaScript thread cannot tell a lone call from the
//! first of a burst made in one turn (or of many requests arriving in separate turns), and a
//! rule that kept lone calls inline kept a loaded gateway inline too. The synchronous methods
//! (`validateCached`, …) stay the inline path for whoever wants it.
//!
//! Either way the core does the work (decode, issuer, keys, signature, claims, the cache
//! insert), so a token verified on a worker is cached like one verified inline, and counted
//! alike (the one-pass answer counts a cache hit or a refusal as the `…Cached` call does;
//! `None` counts nothing).
//!
//! `_verifyOffload(mode)` (not exported by `index.js`; tests and benchmarks reach it through
//! `native.js`) switches the process between `'auto'` (the rule above, the default) and
//! `'inline'` (every check on the JavaScript thread: the behaviour before, which the tests use
//! to show that their observation of "off the thread" tells the two apart). libuv's pool (napi
//! async work) and a tokio task per check with napi's threadsafe function per Promise were
//! measured against the verify threads and removed (BENCHMARKS.md, "Node: throughput on both
//! cores").

use std::sync::atomic::{AtomicU8, Ordering};

use napi::Either;
use napi::bindgen_prelude::{Env, Result, ToNapiValue};
use napi_derive::napi;
use runbeam_core::attempt::Attempt;
use runbeam_core::{Error as CoreError, ErrorKind};

use crate::abort::Abort;
use crate::arg::AbortSignal;
use crate::error;
use crate::promise::{self, Answer};

const AUTO: u8 = 0;
const INLINE: u8 = 1;

static MODE: AtomicU8 = AtomicU8::new(AUTO);

/// Sets where signature checks run: `'auto'` (default) or `'inline'` (see the module
/// documentation). Internal: for tests and benchmarks, through `native.js`.
#[napi(js_name = "_verifyOffload", skip_typescript)]
pub fn verify_offload(env: &Env, mode: String) -> Result<()> {
    error::entry(env, "_verifyOffload", || {
        let mode = match mode.as_str() {
            "auto" => AUTO,
            "inline" => INLINE,
            _ => {
                return Err(error::from_core(
                    env,
                    &CoreError::new(
                        ErrorKind::InvalidArgument,
                        "the offload mode must be 'auto' or 'inline'",
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
/// - `remembered`: runbeam-core's one-pass answer for a remembered token or a refusal known at
///   once (`validate_if_remembered` and its `Authorization` header / mesh forms), `None` when a
///   signature check or keys are needed: `Some` is answered on the JavaScript thread;
/// - `inline`: the core's step on the JavaScript thread (the `'inline'` mode: a signature
///   checked here, or the key fetch spawned);
/// - `offload`: the same step, owned, for a verify thread (a key fetch it turns out to need is
///   awaited on the runtime);
/// - `ready`: the value of a call answered on the JavaScript thread; `later`: the value on the
///   JavaScript thread when a verify thread answers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify<'env, T, V>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    remembered: Option<runbeam_core::Result<T>>,
    inline: impl FnOnce() -> Attempt<T>,
    offload: impl FnOnce() -> Step<T>,
    ready: impl FnOnce(T) -> Result<V>,
    later: impl FnOnce(&Env, T) -> Result<V> + 'static,
) -> Result<Answer<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
{
    if let Some(answer) = remembered {
        return promise::attempt(
            env,
            function,
            signal,
            || Ok(Attempt::Ready(answer)),
            ready,
            later,
        );
    }
    if MODE.load(Ordering::Relaxed) == INLINE {
        return promise::attempt(env, function, signal, || Ok(inline()), ready, later);
    }
    let registered = match signal {
        Some(signal) => Some(Abort::register(env, function, signal)?),
        None => None,
    };
    crate::lane::spawn_check(env, function, registered, offload(), later).map(Either::B)
}

/// `_offloadNoop()`: a Promise resolved with `0` by a verify thread through the lane, with no
/// verification: what the hop itself costs the JavaScript thread and the process
/// (`bench/throughput.mjs`'s "no-op hop" row). Internal, through `native.js`.
#[napi(js_name = "_offloadNoop", skip_typescript)]
pub fn offload_noop(env: &Env) -> Result<napi::bindgen_prelude::PromiseRaw<'_, u32>> {
    error::entry(env, "_offloadNoop", || {
        crate::lane::spawn_check(
            env,
            "_offloadNoop",
            None,
            Box::new(|| Attempt::Ready(Ok(0u32))),
            |_, value| Ok(value),
        )
    })
}
