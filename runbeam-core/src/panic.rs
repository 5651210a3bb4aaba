//! What every surface does with a panic: catch it at the entry, turn it into an
//! [`ErrorKind::Internal`] error, print nothing.
//!
//! A panic in librunbeam is a bug, but it must never cost the host process more than one failed
//! call (see `docs/robustness.md`). The bindings (C, Python, Node) put a boundary at every entry
//! point and use this module to describe what was caught; [`install_quiet_hook`] replaces the
//! default hook of the library's copy of the Rust runtime, which would otherwise write the
//! message (and under `RUST_BACKTRACE` a backtrace) to the host's stderr for every occurrence.
//! The hook sends the message and location to `tracing` instead (target `runbeam::panic`, level
//! ERROR), where a host that asked for logs sees it.
//!
//! ```
//! use runbeam_core::{ErrorKind, panic};
//!
//! panic::install_quiet_hook();
//! let caught = std::panic::catch_unwind(|| -> u32 { panic!("boom") }).unwrap_err();
//! let error = panic::internal_error("Validator.validate", caught.as_ref());
//! assert_eq!(error.kind(), ErrorKind::Internal);
//! assert!(error.message().contains("boom"));
//! ```

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use futures_util::FutureExt as _;

use crate::error::{Error, ErrorKind};

/// The panic message of a caught payload (`panic!` with a literal or a formatted string), or
/// `"unknown panic"`.
pub fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// The `Internal` error a surface reports for a panic caught in `function`.
pub fn internal_error(function: &str, payload: &(dyn Any + Send)) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!(
            "internal error in {function}: {} (this is a librunbeam bug; please report it)",
            message(payload)
        ),
    )
}

/// Runs `body`; a panic becomes [`internal_error`]`(function, …)`.
///
/// ```
/// let r: runbeam_core::Result<u8> = runbeam_core::panic::catch("f", || Ok(1));
/// assert_eq!(r?, 1);
/// # Ok::<(), runbeam_core::Error>(())
/// ```
pub fn catch<T>(function: &str, body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(internal_error(function, payload.as_ref())))
}

/// Awaits `future`; a panic while it is polled becomes [`internal_error`]`(function, …)`. The
/// asynchronous entry points of the bindings wrap their work in it, so a panic on a runtime
/// thread settles the caller's Promise / future / callback with an error instead of leaving it
/// pending or killing the thread.
pub async fn catch_future<T, F>(function: &'static str, future: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .unwrap_or_else(|payload| Err(internal_error(function, payload.as_ref())))
}

/// Replaces the panic hook of this copy of the Rust runtime (once; later calls do nothing) with
/// one that prints nothing and logs the message and location through `tracing` (target
/// `runbeam::panic`). Every binding calls it when it is loaded: each native library (the C
/// library, the Python and Node modules) has its own Rust runtime, so the hook concerns only
/// panics inside librunbeam.
pub fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(
                target: "runbeam::panic",
                location = %location,
                "librunbeam panicked: {} (caught at the API boundary and returned as an Internal error)",
                message(info.payload()),
            );
        }));
    });
}

pub use fault::point as fault_point;

/// Test-only fault injection (cargo feature `fault-injection`): arm a site and the next calls
/// that pass it panic, so that each surface can prove its panic boundary. Without the feature
/// [`fault_point`] is an empty inline function and `fault::arm` does not exist.
///
/// Sites: `"jwt"` (every token a validator or decoder sees, before any parsing),
/// `"reference"` (every reference parse), `"jwks"` (inside a JWKS fetch), `"resolve"` (every
/// resolver lookup, cached or not), `"storage"` (every token-store load).
pub mod fault {
    #[cfg(feature = "fault-injection")]
    mod armed {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, Ordering};

        static ANY: AtomicBool = AtomicBool::new(false);
        static SITES: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

        /// The next `count` calls that pass `site` panic (0 disarms it).
        pub fn arm(site: &str, count: u32) {
            let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
            sites.retain(|(s, _)| s != site);
            if count > 0 {
                sites.push((site.to_string(), count));
            }
            ANY.store(!sites.is_empty(), Ordering::Release);
        }

        /// Panics if `site` is armed.
        #[inline]
        pub fn point(site: &str) {
            if !ANY.load(Ordering::Acquire) {
                return;
            }
            let fire = {
                let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
                let fire = match sites.iter_mut().find(|(s, _)| s == site) {
                    Some((_, left)) => {
                        *left -= 1;
                        true
                    }
                    None => false,
                };
                sites.retain(|(_, left)| *left > 0);
                ANY.store(!sites.is_empty(), Ordering::Release);
                fire
            };
            if fire {
                panic!("fault injected at '{site}'");
            }
        }
    }

    #[cfg(feature = "fault-injection")]
    pub use armed::{arm, point};

    /// Does nothing: fault injection is compiled out (no `fault-injection` feature).
    #[cfg(not(feature = "fault-injection"))]
    #[inline(always)]
    pub fn point(_site: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_internal_error_naming_the_function() {
        install_quiet_hook();
        let e = catch::<()>("runbeam_thing", || panic!("bad {}", 42)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(
            e.message()
                .starts_with("internal error in runbeam_thing: bad 42")
        );
        let e = catch::<()>("f", || std::panic::panic_any(7_u8)).unwrap_err();
        assert!(e.message().contains("unknown panic"));
    }

    #[test]
    fn a_panicking_future_is_an_internal_error() {
        install_quiet_hook();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = runtime
            .block_on(catch_future::<(), _>("fetch", async { panic!("inside") }))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.message().contains("inside"));
    }
}
