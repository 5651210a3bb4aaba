//! When a signature check leaves the JavaScript thread.
//!
//! A `validate` Promise (and `verifyMeshToken`, `authenticate`, the `Resolver`'s
//! `verifyMeshToken` / `verifyMeshRequest`) whose keys are cached used to check the RSA/ECDSA
//! signature synchronously on the JavaScript thread (~19 µs for RS256): with many Promises in
//! flight the event loop was busy with signatures and the second core idle. [`verify`] decides
//! per call:
//!
//! - **a token the core's verified-token cache should hold** ([`Hints`]: this validator
//!   verified it twice, the core keeping claims from a token's second verification on) →
//!   answered on the JavaScript thread, as before (a SHA-256 and a cache look-up, under a
//!   microsecond);
//! - **anything else** (a signature to check, or keys to fetch) → the core's whole
//!   cached-then-fetch step runs on the module's tokio runtime (napi's `tokio_rt`), a key fetch
//!   included when one turns out to be needed, and the Promise settles on the JavaScript thread
//!   with the same `Claims` object shape, the same coded errors, the `AbortSignal` handled as
//!   every spawned call's (`crate::abort`).
//!
//! No crossover for a lone request: the JavaScript thread cannot tell a lone call from the
//! first of a burst made in one turn (or of many requests arriving in separate turns), and a
//! rule that kept lone calls inline kept a loaded gateway inline too. The synchronous methods
//! (`validateCached`, …) stay the inline path for whoever wants it.
//!
//! Either way the core does the work (decode, issuer, keys, signature, claims, the cache
//! insert), so a token verified on a worker is cached like one verified inline. A hint is only
//! a routing decision: a stale one (the cache was flushed, keys rotated) costs one inline
//! check, never a different answer; a missing one costs one hop.
//!
//! `_verifyOffload(mode)` (not exported by `index.js`; benchmarks and tests reach it through
//! `native.js`) switches the process between `'auto'` (the rule above, the default) and
//! `'inline'` (every check on the JavaScript thread: the behaviour before, for comparison).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};

use napi::Either;
use napi::bindgen_prelude::{Env, Result, ToNapiValue};
use napi_derive::napi;
use runbeam_core::attempt::{Attempt, PendingFuture};
use runbeam_core::{Error as CoreError, ErrorKind};

use crate::arg::AbortSignal;
use crate::error;
use crate::promise::{self, Answer};

const AUTO: u8 = 0;
const INLINE: u8 = 1;

static MODE: AtomicU8 = AtomicU8::new(AUTO);

/// Sets where signature checks run: `'auto'` (default) or `'inline'` (see the module
/// documentation). Internal: for benchmarks and tests, through `native.js`.
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

/// The tokens (or `Authorization` header values) a validator verified, by a 64-bit
/// fingerprint, mirroring the core's cache (which keeps a token's claims from its second
/// verification on): `once` holds those verified once, `cached` those verified twice, whose
/// next validation the core's cache should answer. Each set is bounded by the validator's
/// cache capacity (emptied when full, as the core's entries age out too). Not a security
/// decision: a fingerprint that collides only makes a check run inline.
pub(crate) struct Hints {
    once: HashSet<u64>,
    cached: HashSet<u64>,
    capacity: usize,
}

impl Hints {
    /// Hints for a validator whose core caches `capacity` verified tokens (0: none, so no
    /// hint is kept).
    pub(crate) fn new(capacity: usize) -> Rc<RefCell<Hints>> {
        Rc::new(RefCell::new(Hints {
            once: HashSet::new(),
            cached: HashSet::new(),
            capacity,
        }))
    }

    fn contains(&self, key: u64) -> bool {
        self.cached.contains(&key)
    }

    /// Records a successful verification of `key`.
    fn verified(&mut self, key: u64) {
        if self.capacity == 0 || self.cached.contains(&key) {
            return;
        }
        if self.once.remove(&key) {
            if self.cached.len() >= self.capacity {
                self.cached.clear();
            }
            self.cached.insert(key);
        } else {
            if self.once.len() >= self.capacity {
                self.once.clear();
            }
            self.once.insert(key);
        }
    }

    /// Forgets every hint (`flushTokenCache`).
    pub(crate) fn clear(&mut self) {
        self.once.clear();
        self.cached.clear();
    }
}

/// A fast 64-bit fingerprint of `text` (eight bytes at a time, multiply and rotate): tens of
/// nanoseconds for a JWT, against a SHA-256's few hundred.
fn fingerprint(text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes = text.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 32)
}

/// A verification step (runbeam-core's cached-then-fetch `…_attempt`) routed by the rule of
/// the module documentation.
///
/// - `key`: the token or header value the validation is for (its hint); `None` (no header)
///   is answered inline.
/// - `inline`: the core's step on the JavaScript thread (today's path: a cache hit, or a
///   signature checked here, or the key fetch spawned);
/// - `offload`: the same step as an owned future, run on the runtime;
/// - `ready`: the value of a step answered inline; `later`: the value on the JavaScript thread
///   when the runtime answers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify<'env, T, V>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    hints: &Rc<RefCell<Hints>>,
    key: Option<&str>,
    inline: impl FnOnce() -> Attempt<T>,
    offload: impl FnOnce() -> PendingFuture<T>,
    ready: impl FnOnce(T) -> Result<V>,
    later: impl FnOnce(&Env, T) -> Result<V> + 'static,
) -> Result<Answer<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
{
    let key = key.map(fingerprint);
    let offloaded = match key {
        Some(k) => MODE.load(Ordering::Relaxed) == AUTO && !hints.borrow().contains(k),
        None => false,
    };
    if !offloaded {
        let hints = Rc::clone(hints);
        return promise::attempt(
            env,
            function,
            signal,
            || Ok(inline()),
            |value| {
                if let Some(k) = key {
                    hints.borrow_mut().verified(k);
                }
                ready(value)
            },
            later,
        );
    }
    let hints = Rc::clone(hints);
    error::spawn_with(env, function, signal, offload(), move |env, value| {
        if let Some(k) = key {
            hints.borrow_mut().verified(k);
        }
        later(env, value)
    })
    .map(Either::B)
}
