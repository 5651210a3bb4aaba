//! The tokio runtime of a client, resolver, validator or token manager handle, and the callback
//! machinery of the async forms.
//!
//! One multi-thread runtime (2 workers named `runbeam-worker`) per `runbeam_client_new` (shared
//! by every handle derived from it: `runbeam_client_with_token`, `runbeam_resolver_new`) and per
//! `runbeam_validator_new` / `runbeam_token_manager_new`, shut down when the last handle using
//! it is freed. Calls never create a runtime of their own.
//!
//! Each handle counts its own async calls, so that freeing it returns only when none of its
//! callbacks can run any more: the calls not finished yet are cancelled (their callbacks get
//! `RUNBEAM_STATUS_CANCELLED` before the free returns) and a callback that is running is waited
//! for, however long it takes. Freed from a librunbeam callback (a runtime thread, which cannot
//! wait for itself), the free cancels without waiting.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use runbeam_core::attempt::Attempt;
use runbeam_core::panic::{catch_future, install_quiet_hook};
use runbeam_core::{Error, ErrorKind};
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::client::runbeam_cancel;
use crate::error;
use crate::guard::invalid_argument;
use crate::status::{RUNBEAM_OK, runbeam_status};

thread_local! {
    /// Set on every thread of a librunbeam runtime (workers and blocking pool): blocking calls
    /// made there would deadlock or panic, so they are refused.
    static ON_RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The runtime of one handle: the threads (shared with the handles derived from the same
/// client) and the handle's own async calls. Dropping it is what a handle's `_free` does: it
/// cancels the handle's calls and waits for their callbacks (see the module documentation),
/// then the threads stop if no other handle uses them.
pub struct Runtime {
    // Field order matters: the calls are settled before the threads may shut down.
    calls: Arc<Calls>,
    threads: Arc<Threads>,
}

/// The tokio runtime; dropping the last `Arc<Threads>` shuts it down.
struct Threads {
    inner: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    /// Starts new runtime threads.
    pub(crate) fn new() -> Result<Runtime, Error> {
        // The hook is process-wide: installed here, it covers the runtime threads and tasks.
        install_quiet_hook();
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
            calls: Arc::new(Calls::new()),
            threads: Arc::new(Threads {
                inner: Some(runtime),
            }),
        })
    }

    /// The runtime of a derived handle: the same threads, its own async calls.
    pub(crate) fn share(&self) -> Runtime {
        Runtime {
            calls: Arc::new(Calls::new()),
            threads: Arc::clone(&self.threads),
        }
    }

    /// A handle to the runtime's threads, for core APIs that spawn on a given runtime
    /// (`Resolver::watch_on`).
    pub(crate) fn tokio_handle(&self) -> Result<tokio::runtime::Handle, Error> {
        self.handle().map(|r| r.handle().clone())
    }

    fn handle(&self) -> Result<&tokio::runtime::Runtime, Error> {
        self.threads
            .inner
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
        let runtime = self.handle()?;
        let mut result = None;
        {
            let task = std::pin::pin!(async { result = Some(future.await) });
            block_on_erased(runtime, task);
        }
        result.unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                format!("{function}: the call ended without a result"),
            ))
        })
    }

    /// The answer of the core's cached-then-fetch step: a ready answer at once, on the calling
    /// thread; a pending one through [`Runtime::block_on`].
    ///
    /// # Errors
    /// The attempt's error, or as [`Runtime::block_on`].
    #[inline]
    pub fn wait<T>(&self, function: &str, attempt: Attempt<T>) -> Result<T, Error> {
        match attempt {
            Attempt::Ready(result) => result,
            Attempt::Pending(fetch) => self.block_on(function, fetch),
        }
    }

    /// Spawns `future` (the work of the export `function`) on this runtime; `completion`
    /// receives its result exactly once: the result, `Internal` when it panicked, `Cancelled`
    /// when `cancelled` fires or when this handle is freed first.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        function: &'static str,
        future: impl Future<Output = Result<T, Error>> + Send + 'static,
        mut completion: Completion<T>,
        cancelled: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let runtime = match self.handle() {
            Ok(runtime) => runtime,
            Err(e) => {
                // Refused: the callback must not be called (the caller gets the status).
                completion.deliver = None;
                return Err(e);
            }
        };
        // Counted from now on: a task dropped unpolled still settles its completion (Drop) and
        // only then releases the ticket.
        completion.ticket = Some(Ticket::new(&self.calls));
        let closing = self.calls.closing.subscribe();
        // Boxed, so that the task below is generic over the result type only (BENCHMARKS.md
        // "Footprint").
        let future: Pin<Box<dyn Future<Output = Result<T, Error>> + Send>> = Box::pin(future);
        spawn_erased(
            runtime,
            Box::pin(async move {
                // Biased: a call that finished is delivered, even if a cancellation came too.
                let result = tokio::select! {
                    biased;
                    result = catch_future(function, future) => result,
                    () = fired(cancelled) => Err(Error::new(
                        ErrorKind::Cancelled,
                        "the call was cancelled by runbeam_cancel_request()",
                    )),
                    () = fired(closing) => Err(freed_error()),
                };
                completion.complete(result);
            }),
        );
        Ok(())
    }

    /// Starts the `_async` call `function`: `future` runs on this runtime, its result goes to
    /// `completion` exactly once (see [`Runtime::spawn`]) and, when `cancel_out` is not NULL,
    /// a new `runbeam_cancel` handle for it is written there. What every `_async` export
    /// does once it has checked and copied its arguments. `cancel_out` is passed on untouched
    /// from the export, whose documented contract is that it is NULL or writable: a crate-
    /// internal function, safe to call only with such a pointer.
    pub(crate) fn start<T: Send + 'static>(
        &self,
        function: &'static str,
        future: impl Future<Output = Result<T, Error>> + Send + 'static,
        completion: Completion<T>,
        cancel_out: *mut *mut runbeam_cancel,
    ) -> Result<(), Error> {
        let (sender, receiver) = cancel_channel();
        self.spawn(function, future, completion, receiver)?;
        // SAFETY: `cancel_out` is the `_async` export's own argument, NULL or writable by that
        // export's contract (see the doc comment).
        unsafe { runbeam_cancel::hand_out(sender, cancel_out) };
        Ok(())
    }

    /// [`Runtime::start`] for an export whose callback receives a handle: the result, turned
    /// into a handle by `into_raw`, goes to `callback` exactly once. A NULL callback is
    /// `InvalidArgument` (and nothing starts).
    pub(crate) fn start_handle<T: Send + 'static, H: 'static>(
        &self,
        function: &'static str,
        future: impl Future<Output = Result<T, Error>> + Send + 'static,
        callback: Option<HandleCallback<H>>,
        into_raw: fn(T) -> *mut H,
        user_data: *mut c_void,
        cancel_out: *mut *mut runbeam_cancel,
    ) -> Result<(), Error> {
        let completion = Completion::handle(callback_arg(callback)?, user_data, into_raw);
        self.start(function, future, completion, cancel_out)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.calls.close_and_wait();
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        if let Some(runtime) = self.inner.take() {
            if blocking_allowed() {
                // Joins every thread of the runtime without a deadline: a callback still
                // running (a renewal-window or credential callback on the blocking pool) is
                // waited for, tasks not finished are dropped (an async call's callback then
                // gets RUNBEAM_STATUS_CANCELLED) and blocking work not started never runs. No
                // librunbeam callback can run once this returns.
                drop(runtime);
            } else {
                // Freed from a callback (a runtime thread) or inside another runtime: waiting
                // here would deadlock; the threads stop once the callback returns.
                runtime.shutdown_background();
            }
        }
    }
}

/// The async calls of one handle that have not settled yet.
struct Calls {
    /// How many are pending or running their callback.
    pending: Mutex<usize>,
    /// Notified when `pending` drops to 0.
    idle: Condvar,
    /// Set to `true` when the handle is freed: every pending call completes with `Cancelled`.
    closing: watch::Sender<bool>,
}

impl Calls {
    fn new() -> Calls {
        Calls {
            pending: Mutex::new(0),
            idle: Condvar::new(),
            closing: watch::Sender::new(false),
        }
    }

    /// Cancels the pending calls and, unless on a runtime thread (a callback cannot wait for
    /// itself, nor for tasks queued behind it), waits until every callback has returned.
    fn close_and_wait(&self) {
        self.closing.send_replace(true);
        if !blocking_allowed() {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        while *pending > 0 {
            pending = self
                .idle
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One pending async call of a handle, released once its callback returned.
struct Ticket {
    calls: Arc<Calls>,
}

impl Ticket {
    fn new(calls: &Arc<Calls>) -> Ticket {
        *calls.pending.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Ticket {
            calls: Arc::clone(calls),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut pending = self
            .calls
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *pending = pending.saturating_sub(1);
        if *pending == 0 {
            self.calls.idle.notify_all();
        }
    }
}

/// The gate of the user callbacks a token manager keeps (credential and renewal window). They
/// can be called by the manager and by every resolver built from it (on the client's runtime),
/// so their `user_data` must outlive all of those handles: each holds an `Arc` of the
/// `CallbackOwner` sharing this gate, and when the last one is freed the gate closes (no call
/// starts any more) and waits for the calls still running, however long they take — including
/// a credential callback the SDK gave up on after its timeout, which keeps running on a
/// blocking thread.
#[derive(Default)]
pub(crate) struct CallbackGate {
    state: Mutex<GateState>,
    /// Notified when `running` drops to 0.
    idle: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    running: usize,
}

impl CallbackGate {
    /// Runs `call` (a user callback) unless the gate is closed (`None` then), counted as
    /// running until it returns.
    pub(crate) fn enter<T>(&self, call: impl FnOnce() -> T) -> Option<T> {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.closed {
                return None;
            }
            state.running += 1;
        }
        /// Counts the call out when it returns (or unwinds).
        struct Running<'a>(&'a CallbackGate);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.running = state.running.saturating_sub(1);
                if state.running == 0 {
                    self.0.idle.notify_all();
                }
            }
        }
        let _running = Running(self);
        Some(call())
    }

    /// Closes the gate and, unless on a runtime thread (a callback cannot wait for itself),
    /// waits until no callback runs.
    fn close_and_wait(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        if !blocking_allowed() {
            return;
        }
        while state.running > 0 {
            state = self
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Shared by a token manager handle and the resolvers built from it; dropping the last one
/// closes the gate (see [`CallbackGate`]).
pub(crate) struct CallbackOwner(pub Arc<CallbackGate>);

impl Drop for CallbackOwner {
    fn drop(&mut self) {
        self.0.close_and_wait();
    }
}

/// Tokio's `block_on` for every blocking export, instantiated once: generic over each call's
/// future, it was 15-24 kB of machine code per future type (BENCHMARKS.md "Footprint").
#[inline(never)]
fn block_on_erased(
    runtime: &tokio::runtime::Runtime,
    task: Pin<&mut (dyn Future<Output = ()> + '_)>,
) {
    runtime.block_on(task);
}

/// Tokio's task machinery (poll, shutdown, join-handle and abort-handle paths) for every `_async`
/// export, instantiated once: generic over each call's future, it was ~2 kB per future type
/// besides the future's own code. The box costs one allocation per async call.
#[inline(never)]
fn spawn_erased(runtime: &tokio::runtime::Runtime, task: Pin<Box<dyn Future<Output = ()> + Send>>) {
    // Detached: the completion reports the result, the handle's `Calls` count the task.
    drop(runtime.spawn(task));
}

/// Resolves once `signal` is `true`; never when its sender is gone without setting it.
async fn fired(mut signal: watch::Receiver<bool>) {
    if signal.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn freed_error() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the call was cancelled because its handle (client, validator, token store, token \
         manager, resolver or page cursor) was freed before it completed",
    )
}

fn blocking_allowed() -> bool {
    !ON_RUNTIME_THREAD.with(Cell::get) && tokio::runtime::Handle::try_current().is_err()
}

/// The callback of the JSON async forms (`runbeam_json_callback`), as C sees it.
pub(crate) type JsonCallback =
    unsafe extern "C" fn(*mut c_void, runbeam_status, *const c_char, *const c_char);

/// A callback that receives a new handle of type `H` on success and NULL on failure
/// (`runbeam_claims_callback`, `runbeam_machine_token_callback`, `runbeam_user_token_callback`,
/// `runbeam_resolution_callback`, `runbeam_issued_mesh_token_callback`), as C sees it.
pub(crate) type HandleCallback<H> =
    unsafe extern "C" fn(*mut c_void, runbeam_status, *mut H, *const c_char);

/// The callback of the calls without a result (`runbeam_status_callback`), as C sees it.
pub(crate) type StatusCallback = unsafe extern "C" fn(*mut c_void, runbeam_status, *const c_char);

/// The callback of the calls whose result is a boolean (`runbeam_bool_callback`), as C sees it.
pub(crate) type BoolCallback =
    unsafe extern "C" fn(*mut c_void, runbeam_status, bool, *const c_char);

/// The callback argument of an `_async` export: NULL is `InvalidArgument`, checked before
/// anything is started.
pub(crate) fn callback_arg<F>(callback: Option<F>) -> Result<F, Error> {
    callback.ok_or_else(|| invalid_argument("argument 'callback' is NULL".to_string()))
}

/// Runs `work` — blocking file or keyring I/O — on the runtime's blocking threads, so that the
/// `_async` forms of the token store never block a worker. A panic in `work` is `Internal`.
/// Cancelling the call stops the wait, not `work`: a save already started may still complete
/// (the handle's `_free` waits for it, as it joins the runtime's threads).
pub async fn off_thread<T: Send + 'static>(
    function: &'static str,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(move || runbeam_core::panic::catch(function, work))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("{function}: the blocking task failed: {e}"),
            )
        })?
}

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
    pub fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Delivers the result of an async call exactly once: by `complete`, or — when the task is
/// dropped before it finished (its client or validator was freed) — by `Drop`, with
/// `Cancelled`. `deliver` turns the result into the C callback's arguments.
pub(crate) struct Completion<T> {
    deliver: Option<Deliver<T>>,
    /// Set by [`Runtime::spawn`]; dropped after `deliver` ran (fields drop after `Drop::drop`).
    ticket: Option<Ticket>,
}

/// Hands a result to the C callback.
type Deliver<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

impl<T> Completion<T> {
    pub(crate) fn new(deliver: impl FnOnce(Result<T, Error>) + Send + 'static) -> Completion<T> {
        Completion {
            deliver: Some(Box::new(deliver)),
            ticket: None,
        }
    }

    fn complete(mut self, result: Result<T, Error>) {
        if let Some(deliver) = self.deliver.take() {
            deliver(result);
        }
    }
}

impl<T: 'static> Completion<T> {
    /// The completion of a C callback: `ok` hands it a result (the thread's last error is
    /// cleared first), `err` a failure's status and message (valid during the call; the last
    /// error describes the failure during the call). Both get the caller's `user_data`.
    fn calling(
        user_data: *mut c_void,
        ok: impl FnOnce(*mut c_void, T) + Send + 'static,
        err: impl FnOnce(*mut c_void, runbeam_status, *const c_char) + Send + 'static,
    ) -> Completion<T> {
        let user_data = UserData::new(user_data);
        Completion::new(move |result: Result<T, Error>| match result {
            Ok(value) => {
                error::clear();
                ok(user_data.get(), value);
            }
            Err(e) => failed(e, |status, message| err(user_data.get(), status, message)),
        })
    }

    /// The completion of the handle forms: on success the callback gets a new handle made by
    /// `into_raw` (it owns it from then on), on failure NULL.
    pub fn handle<H: 'static>(
        callback: HandleCallback<H>,
        user_data: *mut c_void,
        into_raw: fn(T) -> *mut H,
    ) -> Completion<T> {
        Completion::calling(
            user_data,
            // SAFETY: the caller's callback, called once; it owns the new handle from now on.
            move |user_data, value| unsafe {
                callback(user_data, RUNBEAM_OK, into_raw(value), std::ptr::null())
            },
            // SAFETY: as above; `message` is valid during the call.
            move |user_data, status, message| unsafe {
                callback(user_data, status, std::ptr::null_mut(), message)
            },
        )
    }

    /// The completion of the handle forms whose answer may be "nothing" (a load of an empty
    /// slot): NULL then, with `RUNBEAM_OK`.
    pub(crate) fn optional_handle<H: 'static>(
        callback: HandleCallback<H>,
        user_data: *mut c_void,
        into_raw: fn(T) -> *mut H,
    ) -> Completion<Option<T>> {
        Completion::calling(
            user_data,
            // SAFETY: the caller's callback, called once; it owns the new handle from now on.
            move |user_data, value: Option<T>| unsafe {
                let handle = value.map_or(std::ptr::null_mut(), into_raw);
                callback(user_data, RUNBEAM_OK, handle, std::ptr::null())
            },
            // SAFETY: as above; `message` is valid during the call.
            move |user_data, status, message| unsafe {
                callback(user_data, status, std::ptr::null_mut(), message)
            },
        )
    }
}

impl Completion<()> {
    /// The completion of the calls without a result (`runbeam_status_callback`).
    pub fn status(callback: StatusCallback, user_data: *mut c_void) -> Completion<()> {
        Completion::calling(
            user_data,
            // SAFETY: the caller's callback, called once.
            move |user_data, ()| unsafe { callback(user_data, RUNBEAM_OK, std::ptr::null()) },
            // SAFETY: as above; `message` is valid during the call.
            move |user_data, status, message| unsafe { callback(user_data, status, message) },
        )
    }
}

impl Completion<bool> {
    /// The completion of the calls whose result is a boolean (`runbeam_bool_callback`);
    /// `false` with a failure.
    pub fn flag(callback: BoolCallback, user_data: *mut c_void) -> Completion<bool> {
        Completion::calling(
            user_data,
            // SAFETY: the caller's callback, called once.
            move |user_data, value| unsafe {
                callback(user_data, RUNBEAM_OK, value, std::ptr::null())
            },
            // SAFETY: as above; `message` is valid during the call.
            move |user_data, status, message| unsafe {
                callback(user_data, status, false, message)
            },
        )
    }
}

impl Completion<Option<Zeroizing<Vec<u8>>>> {
    /// The completion of the JSON forms: the callback gets the JSON text (NUL-terminated, from
    /// `strings::secret_json`; zeroized after the call: results may hold tokens) — NULL for
    /// `None`, the answer of a page cursor that has read every page — or the error's status
    /// and message.
    pub fn json(
        callback: JsonCallback,
        user_data: *mut c_void,
    ) -> Completion<Option<Zeroizing<Vec<u8>>>> {
        Completion::calling(
            user_data,
            // SAFETY: the caller's callback, called once with a NUL-terminated string (or
            // NULL) valid for the duration of the call.
            move |user_data, text: Option<Zeroizing<Vec<u8>>>| unsafe {
                let json = text
                    .as_ref()
                    .map_or(std::ptr::null(), |t| t.as_ptr().cast());
                callback(user_data, RUNBEAM_OK, json, std::ptr::null());
            },
            // SAFETY: as above; `message` is valid during the call.
            move |user_data, status, message| unsafe {
                callback(user_data, status, std::ptr::null(), message)
            },
        )
    }
}

/// Reports `e` to a callback: the last-error accessors describe it during the call, and
/// `call` gets its status and message (valid during the call).
pub(crate) fn failed(e: Error, call: impl FnOnce(runbeam_status, *const c_char)) {
    let status = e.kind().c_status();
    let message = error::to_cstring(e.message());
    error::set(e);
    call(status, message.as_ptr());
    error::clear();
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if let Some(deliver) = self.deliver.take() {
            deliver(Err(freed_error()));
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
                "test_panics",
                async { panic!("boom") },
                Completion::json(record, std::ptr::without_provenance_mut(1)),
                rx,
            )
            .unwrap();
        let (cancel, rx) = cancel_channel();
        runtime
            .spawn(
                "test",
                std::future::pending(),
                Completion::json(record, std::ptr::without_provenance_mut(2)),
                rx,
            )
            .unwrap();
        cancel.send_replace(true);
        while results_of(1).is_empty() || results_of(2).is_empty() {
            std::thread::yield_now();
        }
        let (_keep3, rx) = cancel_channel();
        runtime
            .spawn(
                "test",
                std::future::pending(),
                Completion::json(record, std::ptr::without_provenance_mut(3)),
                rx,
            )
            .unwrap();
        drop(runtime);
        assert_eq!(results_of(1), vec![crate::status::RUNBEAM_STATUS_INTERNAL]);
        assert_eq!(results_of(2), vec![crate::status::RUNBEAM_STATUS_CANCELLED]);
        assert_eq!(results_of(3), vec![crate::status::RUNBEAM_STATUS_CANCELLED]);
    }

    /// A completion that reports into `log`: "start:<tag>" when its callback begins (then
    /// waits for `release`, if any) and "end:<tag>" when it returns.
    fn logging(
        tag: &'static str,
        log: &Arc<Mutex<Vec<String>>>,
        release: Option<mpsc::Receiver<()>>,
    ) -> Completion<()> {
        let log = Arc::clone(log);
        Completion::new(move |result: Result<(), Error>| {
            let ok = if result.is_ok() { "ok" } else { "err" };
            log.lock().unwrap().push(format!("start:{tag}:{ok}"));
            if let Some(release) = release {
                let _ = release.recv();
            }
            log.lock().unwrap().push(format!("end:{tag}"));
        })
    }

    #[test]
    fn freeing_waits_for_a_running_callback_and_cancels_the_rest() {
        let runtime = Runtime::new().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = mpsc::channel();
        let (_keep, rx) = cancel_channel();
        runtime
            .spawn(
                "test",
                async { Ok(()) },
                logging("running", &log, Some(released)),
                rx,
            )
            .unwrap();
        let (_keep2, rx) = cancel_channel();
        runtime
            .spawn(
                "test",
                std::future::pending(),
                logging("pending", &log, None),
                rx,
            )
            .unwrap();
        while !log.lock().unwrap().iter().any(|e| e == "start:running:ok") {
            std::thread::yield_now();
        }
        let freer_log = Arc::clone(&log);
        let freeing = std::thread::spawn(move || {
            drop(runtime);
            freer_log.lock().unwrap().push("freed".to_string());
        });
        // Gives a free that does not wait the chance to return before the callback does.
        std::thread::sleep(std::time::Duration::from_millis(50));
        release.send(()).unwrap();
        freeing.join().unwrap();
        let log = log.lock().unwrap().clone();
        let at = |e: &str| log.iter().position(|x| x == e);
        let freed = at("freed").unwrap();
        assert!(at("end:running").is_some_and(|i| i < freed), "{log:?}");
        assert!(
            at("start:pending:err").is_some_and(|i| i < freed),
            "{log:?}"
        );
        assert!(at("end:pending").is_some_and(|i| i < freed), "{log:?}");
    }

    #[test]
    fn a_shared_runtime_settles_only_the_freed_handles_calls() {
        let first = Runtime::new().unwrap();
        let second = first.share();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let (_keep, rx) = cancel_channel();
        second
            .spawn(
                "test",
                async move {
                    let _ = wait.await;
                    Ok(())
                },
                logging("second", &log, None),
                rx,
            )
            .unwrap();
        let (_keep2, rx) = cancel_channel();
        first
            .spawn(
                "test",
                std::future::pending(),
                logging("first", &log, None),
                rx,
            )
            .unwrap();
        drop(first);
        assert_eq!(
            log.lock().unwrap().clone(),
            vec!["start:first:err".to_string(), "end:first".to_string()]
        );
        // The other handle's call was left alone: it still completes normally.
        go.send(()).unwrap();
        while !log.lock().unwrap().iter().any(|e| e == "end:second") {
            std::thread::yield_now();
        }
        drop(second);
        let log = log.lock().unwrap().clone();
        assert!(log.contains(&"start:second:ok".to_string()), "{log:?}");
    }

    #[test]
    fn manager_callbacks_stop_with_the_last_owner_after_the_running_call() {
        let gate = Arc::new(CallbackGate::default());
        let manager = Arc::new(CallbackOwner(Arc::clone(&gate)));
        let resolver = Arc::clone(&manager);
        // The manager is freed first: the resolver still calls the callbacks.
        drop(manager);
        assert_eq!(gate.enter(|| 1), Some(1));
        // A callback still running when the last owner is freed is waited for.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (started, has_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let running = {
            let (gate, log) = (Arc::clone(&gate), Arc::clone(&log));
            std::thread::spawn(move || {
                gate.enter(|| {
                    started.send(()).unwrap();
                    let _ = released.recv();
                    log.lock().unwrap().push("callback returned");
                })
            })
        };
        has_started.recv().unwrap();
        let freeing = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                drop(resolver);
                log.lock().unwrap().push("freed");
            })
        };
        // Gives a free that does not wait the chance to return before the callback does.
        std::thread::sleep(std::time::Duration::from_millis(50));
        release.send(()).unwrap();
        freeing.join().unwrap();
        assert_eq!(running.join().unwrap(), Some(()));
        assert_eq!(
            log.lock().unwrap().clone(),
            vec!["callback returned", "freed"]
        );
        // Nothing is called any more.
        assert_eq!(gate.enter(|| 2), None);
    }
}
