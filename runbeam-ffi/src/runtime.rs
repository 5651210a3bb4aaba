//! The tokio runtime of a client or validator handle, and the callback machinery of the
//! async forms.
//!
//! One multi-thread runtime (2 workers named `runbeam-worker`) per `runbeam_client_new` (shared
//! by every handle derived from it with `runbeam_client_with_token`) and per
//! `runbeam_validator_new`, shut down when the last handle using it is freed. Calls never
//! create a runtime of their own.

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
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, Error>> + Send + 'static,
        completion: Completion<T>,
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

/// The callback of the JSON async forms (`runbeam_json_callback`), as C sees it.
pub(crate) type JsonCallback =
    unsafe extern "C" fn(*mut c_void, runbeam_status, *const c_char, *const c_char);

/// The caller's `user_data`: an opaque pointer librunbeam only hands back.
pub(crate) struct UserData(*mut c_void);
// SAFETY: librunbeam never dereferences it; the caller promises (documented) that it may be
// used from the runtime thread that runs the callback.
unsafe impl Send for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void) -> UserData {
        UserData(ptr)
    }

    /// The pointer (a method, so that closures capture the whole `Send` wrapper).
    pub(crate) fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Delivers the result of an async call exactly once: by `complete`, or — when the task is
/// dropped before it finished (its client or validator was freed) — by `Drop`, with
/// `Cancelled`. `deliver` turns the result into the C callback's arguments.
pub(crate) struct Completion<T> {
    deliver: Option<Deliver<T>>,
}

/// Hands a result to the C callback.
type Deliver<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

impl<T> Completion<T> {
    pub(crate) fn new(deliver: impl FnOnce(Result<T, Error>) + Send + 'static) -> Completion<T> {
        Completion {
            deliver: Some(Box::new(deliver)),
        }
    }

    fn complete(mut self, result: Result<T, Error>) {
        if let Some(deliver) = self.deliver.take() {
            deliver(result);
        }
    }
}

impl Completion<String> {
    /// The completion of the JSON forms: the callback gets the JSON text (zeroized after the
    /// call: results may hold tokens) or the error's status and message.
    pub(crate) fn json(callback: JsonCallback, user_data: *mut c_void) -> Completion<String> {
        let user_data = UserData::new(user_data);
        Completion::new(move |result: Result<String, Error>| match result {
            Ok(json) => {
                let mut text = error::to_cstring(&json).into_bytes_with_nul();
                let mut json = json;
                json.zeroize();
                error::clear();
                // SAFETY: the caller's callback, called once with a NUL-terminated string valid
                // for the duration of the call.
                unsafe {
                    callback(
                        user_data.get(),
                        RUNBEAM_OK,
                        text.as_ptr().cast(),
                        std::ptr::null(),
                    )
                };
                text.zeroize();
            }
            Err(e) => failed(e, |status, message| {
                // SAFETY: as above.
                unsafe { callback(user_data.get(), status, std::ptr::null(), message) }
            }),
        })
    }
}

/// Reports `e` to a callback: the last-error accessors describe it during the call, and
/// `call` gets its status and message (valid during the call).
pub(crate) fn failed(e: Error, call: impl FnOnce(runbeam_status, *const c_char)) {
    let status = status_of(e.kind());
    let message = error::to_cstring(e.message());
    error::set(e);
    call(status, message.as_ptr());
    error::clear();
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if let Some(deliver) = self.deliver.take() {
            deliver(Err(Error::new(
                ErrorKind::Cancelled,
                "the call was cancelled because its handle (client, validator, token manager or resolver) was freed \
                 before it completed",
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
                Completion::json(record, std::ptr::without_provenance_mut(1)),
                rx,
            )
            .unwrap();
        let (cancel, rx) = cancel_channel();
        runtime
            .spawn(
                std::future::pending(),
                Completion::json(record, std::ptr::without_provenance_mut(2)),
                rx,
            )
            .unwrap();
        cancel.send_replace(true);
        let (_keep3, rx) = cancel_channel();
        runtime
            .spawn(
                std::future::pending(),
                Completion::json(record, std::ptr::without_provenance_mut(3)),
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
