//! The tokio runtime of a client handle, and the callback machinery of the async forms.
//!
//! One multi-thread runtime (2 workers named `runbeam-worker`) per `runbeam_client_new`,
//! shared by every handle derived from it (`runbeam_client_with_token`) and shut down when the
//! last of them is freed. Calls never create a runtime of their own.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use runbeam_core::{Error, ErrorKind};
use tokio::sync::watch;
use zeroize::Zeroize;

use crate::error;
use crate::guard::invalid_argument;
use crate::status::{RUNBEAM_OK, runbeam_status, status_of};

thread_local! {
    /// Set on every thread of a librunbeam runtime (workers and blocking pool): blocking calls
    /// made there would deadlock or panic, so they are refused.
    static ON_RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// How long freeing the last client handle waits for the runtime's threads to stop (a
/// callback that never returns cannot hang the caller forever).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Owns the runtime; dropping the last `Arc<Runtime>` shuts it down.
pub(crate) struct Runtime {
    inner: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    pub(crate) fn new() -> Result<Runtime, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("runbeam-worker")
            .on_thread_start(|| ON_RUNTIME_THREAD.with(|f| f.set(true)))
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the librunbeam runtime threads: {e}"),
                )
            })?;
        Ok(Runtime {
            inner: Some(runtime),
        })
    }

    fn handle(&self) -> Result<&tokio::runtime::Runtime, Error> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the runtime is shut down"))
    }

    /// Runs `future` to completion on this runtime, blocking the calling thread.
    ///
    /// # Errors
    /// `InvalidArgument` when called from a librunbeam callback (a runtime thread) or from
    /// inside another tokio runtime, where blocking would deadlock or panic.
    pub(crate) fn block_on<T>(
        &self,
        function: &str,
        future: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if !blocking_allowed() {
            return Err(invalid_argument(format!(
                "{function} blocks and cannot be called from a librunbeam callback or from \
                 inside an async runtime; use the _async form or call it from another thread"
            )));
        }
        self.handle()?.block_on(future)
    }

    /// Spawns `future` on this runtime; `completion` receives its result exactly once.
    pub(crate) fn spawn(
        &self,
        future: impl Future<Output = Result<String, Error>> + Send + 'static,
        completion: Completion,
        mut cancelled: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let runtime = self.handle()?;
        // A panic in the call is caught here so that it is reported as INTERNAL (the callback
        // is still called exactly once).
        let future = AssertUnwindSafe(future).catch_unwind();
        runtime.spawn(async move {
            let result = tokio::select! {
                result = future => result.unwrap_or_else(|_| Err(Error::new(
                    ErrorKind::Internal,
                    "internal error: the call panicked (this is a librunbeam bug; please report it)",
                ))),
                () = async {
                    // A dropped cancel handle (sender gone) never cancels.
                    if cancelled.wait_for(|c| *c).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => Err(Error::new(ErrorKind::Cancelled, "the call was cancelled by runbeam_cancel_request()")),
            };
            completion.complete(result);
        });
        Ok(())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.inner.take() {
            if blocking_allowed() {
                // Joins the worker threads (pending calls are dropped: their callbacks get
                // RUNBEAM_STATUS_CANCELLED).
                runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
            } else {
                // Freed from a callback (a runtime thread) or inside another runtime: waiting
                // here would deadlock; the threads stop once the callback returns.
                runtime.shutdown_background();
            }
        }
    }
}

fn blocking_allowed() -> bool {
    !ON_RUNTIME_THREAD.with(Cell::get) && tokio::runtime::Handle::try_current().is_err()
}

/// The callback of the async forms, as C sees it.
pub(crate) type JsonCallback =
    unsafe extern "C" fn(*mut c_void, runbeam_status, *const c_char, *const c_char);

/// The caller's `user_data`: an opaque pointer librunbeam only hands back.
struct UserData(*mut c_void);
// SAFETY: librunbeam never dereferences it; the caller promises (documented) that it may be
// used from the runtime thread that runs the callback.
unsafe impl Send for UserData {}

/// Delivers the result of an async call exactly once: by `complete`, or — when the task is
/// dropped before it finished (the client was freed) — by `Drop`, with `Cancelled`.
pub(crate) struct Completion {
    callback: JsonCallback,
    user_data: UserData,
    done: bool,
}

impl Completion {
    pub(crate) fn new(callback: JsonCallback, user_data: *mut c_void) -> Completion {
        Completion {
            callback,
            user_data: UserData(user_data),
            done: false,
        }
    }

    fn complete(mut self, result: Result<String, Error>) {
        self.done = true;
        self.deliver(result);
    }

    fn deliver(&self, result: Result<String, Error>) {
        let callback = self.callback;
        let user_data = self.user_data.0;
        match result {
            Ok(json) => {
                let mut text = error::to_cstring(&json).into_bytes_with_nul();
                let mut json = json;
                json.zeroize();
                error::clear();
                // SAFETY: the caller's callback, called once with a NUL-terminated string valid
                // for the duration of the call.
                unsafe {
                    callback(
                        user_data,
                        RUNBEAM_OK,
                        text.as_ptr().cast(),
                        std::ptr::null(),
                    )
                };
                text.zeroize();
            }
            Err(e) => {
                let status = status_of(e.kind());
                let message = error::to_cstring(e.message());
                // The last-error accessors describe this failure during the callback.
                error::set(e);
                // SAFETY: as above.
                unsafe { callback(user_data, status, std::ptr::null(), message.as_ptr()) };
                error::clear();
            }
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.deliver(Err(Error::new(
                ErrorKind::Cancelled,
                "the call was cancelled because its client was freed before it completed",
            )));
        }
    }
}

/// A new cancellation channel: the sender goes into the `runbeam_cancel` handle.
pub(crate) fn cancel_channel() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use super::*;

    static RESULTS: Mutex<Vec<(usize, runbeam_status)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn record(
        user_data: *mut c_void,
        status: runbeam_status,
        _json: *const c_char,
        _message: *const c_char,
    ) {
        if let Ok(mut results) = RESULTS.lock() {
            results.push((user_data as usize, status));
        }
    }

    fn results_of(tag: usize) -> Vec<runbeam_status> {
        RESULTS
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(t, _)| *t == tag)
                    .map(|(_, s)| *s)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn blocking_is_refused_on_runtime_threads() {
        let runtime = Runtime::new().unwrap();
        assert!(blocking_allowed());
        let (tx, rx) = mpsc::channel();
        runtime.handle().unwrap().spawn(async move {
            let _ = tx.send(blocking_allowed());
        });
        assert_eq!(rx.recv().ok(), Some(false));
        let inner = runtime.block_on("test", async { Ok::<_, Error>(7) });
        assert_eq!(inner.ok(), Some(7));
    }

    #[test]
    fn callbacks_fire_once_for_panics_cancellation_and_shutdown() {
        let runtime = Runtime::new().unwrap();
        let (_keep, rx) = cancel_channel();
        runtime
            .spawn(
                async { panic!("boom") },
                Completion::new(record, std::ptr::without_provenance_mut(1)),
                rx,
            )
            .unwrap();
        let (cancel, rx) = cancel_channel();
        runtime
            .spawn(
                std::future::pending(),
                Completion::new(record, std::ptr::without_provenance_mut(2)),
                rx,
            )
            .unwrap();
        cancel.send_replace(true);
        let (_keep3, rx) = cancel_channel();
        runtime
            .spawn(
                std::future::pending(),
                Completion::new(record, std::ptr::without_provenance_mut(3)),
                rx,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(runtime);
        assert_eq!(results_of(1), vec![crate::status::RUNBEAM_STATUS_INTERNAL]);
        assert_eq!(results_of(2), vec![crate::status::RUNBEAM_STATUS_CANCELLED]);
        assert_eq!(results_of(3), vec![crate::status::RUNBEAM_STATUS_CANCELLED]);
    }
}
