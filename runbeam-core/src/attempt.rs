//! The cached-then-fetch step, in one place.
//!
//! A gateway's hot path (validate a token, resolve a reference, verify a mesh token) can almost
//! always be answered from memory; only a cold or expired cache needs a request. Every surface
//! wants the same thing: answer on the calling thread when it can, and hand the rest to the
//! runtime. [`Attempt`] is that step: [`Attempt::Ready`] carries the answer known now (a success
//! or an error found without I/O), [`Attempt::Pending`] carries a `'static` future that does the
//! request. The bindings only choose how to wait for it: block (`wait`), await (`finish`), or
//! spawn it on their runtime.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use runbeam_core::{Error, ErrorKind, attempt::Attempt};
//! let now: Attempt<u32> = Attempt::Ready(Ok(7));
//! assert_eq!(now.finish().await.unwrap(), 7);
//! let later: Attempt<u32> = Attempt::pending(async { Err(Error::new(ErrorKind::Timeout, "slow")) });
//! assert!(later.is_pending());
//! assert_eq!(later.finish().await.unwrap_err().kind(), ErrorKind::Timeout);
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::Result;

/// The future of an [`Attempt`] that needs I/O: owns everything it uses.
pub type PendingFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// An answer known now, or the request that will produce it.
#[must_use = "an Attempt does nothing until it is waited for"]
pub enum Attempt<T> {
    /// Answered without I/O (a cache hit, a local answer, or an error known at once).
    Ready(Result<T>),
    /// A request is needed; run the future on the runtime.
    Pending(PendingFuture<T>),
}

impl<T> Attempt<T> {
    /// A pending attempt from any `'static` future.
    pub fn pending(future: impl Future<Output = Result<T>> + Send + 'static) -> Attempt<T> {
        Attempt::Pending(Box::pin(future))
    }

    /// The attempt `make` returns; a panic inside it (on the calling thread) becomes a ready
    /// `Internal` error of `function` (see [`crate::panic::internal_error`]). An asynchronous
    /// entry of a binding makes its attempt this way, so that it reports a panic of the
    /// cached step the same way as every other answer: through its callback or Promise.
    pub fn guarded(function: &str, make: impl FnOnce() -> Attempt<T>) -> Attempt<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(make)).unwrap_or_else(|payload| {
            Attempt::Ready(Err(crate::panic::internal_error(
                function,
                payload.as_ref(),
            )))
        })
    }

    /// `true` when a request is needed.
    pub fn is_pending(&self) -> bool {
        matches!(self, Attempt::Pending(_))
    }

    /// The answer, awaiting the request when one is needed.
    ///
    /// # Errors
    /// The error of the operation the attempt was made for.
    pub async fn finish(self) -> Result<T> {
        match self {
            Attempt::Ready(result) => result,
            Attempt::Pending(future) => future.await,
        }
    }

    /// The answer for a thread outside the runtime: the ready answer at once, otherwise
    /// `runtime.block_on` of the request. Must not be called on a runtime thread.
    ///
    /// # Errors
    /// The error of the operation the attempt was made for.
    pub fn wait(self, runtime: &tokio::runtime::Handle) -> Result<T> {
        match self {
            Attempt::Ready(result) => result,
            Attempt::Pending(future) => runtime.block_on(future),
        }
    }

    /// Converts the success value, now or when the request completes.
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Attempt<U>
    where
        T: 'static,
    {
        match self {
            Attempt::Ready(result) => Attempt::Ready(result.map(f)),
            Attempt::Pending(future) => Attempt::pending(async move { future.await.map(f) }),
        }
    }
}

impl<T> fmt::Debug for Attempt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attempt::Ready(Ok(_)) => "Attempt::Ready(Ok(..))",
            Attempt::Ready(Err(_)) => "Attempt::Ready(Err(..))",
            Attempt::Pending(_) => "Attempt::Pending(..)",
        })
    }
}

/// The step every `…_attempt` method takes: the cached answer when there is one, otherwise the
/// request built by `fetch` (called only then, so a hit allocates nothing for it).
pub(crate) fn cached_or<T>(
    cached: Option<Result<T>>,
    fetch: impl FnOnce() -> PendingFuture<T>,
) -> Attempt<T> {
    match cached {
        Some(result) => Attempt::Ready(result),
        None => Attempt::Pending(fetch()),
    }
}
