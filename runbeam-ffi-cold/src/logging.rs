//! Host logging: librunbeam's records delivered to one C callback (`runbeam_set_log_callback`).
//!
//! The core (`runbeam_core::log`) hands every record of a `runbeam*` target at the chosen level
//! to one sink, on the thread that logged it, and drops a record logged by a thread while that
//! thread is delivering one. This module adds what C needs on top:
//!
//! - **One record at a time.** A C callback is rarely reentrant, so records are serialised: the
//!   first thread to log becomes the *deliverer* and calls the callback; records other threads
//!   log meanwhile are queued (at most `QUEUE_CAPACITY`; beyond that they are counted and
//!   reported by one WARN record) and delivered by that same thread, in order, right after.
//!   A thread that logs never waits for the callback, so a callback may make blocking
//!   librunbeam calls (whose runtime threads log) without a deadlock.
//! - **A clean switch.** `runbeam_set_log_callback` waits for a delivery of the previous
//!   callback that is running on another thread: when it returns, the old callback is never
//!   called again. Called from inside the callback it cannot wait for itself and returns at
//!   once; the callback that called it is then the last call of the old one.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use runbeam_core::log::{self, Level, Record};

use crate::error::to_cstring;
use crate::guard::{guard, invalid_argument};
use crate::status::runbeam_status;

/// Logging off (`runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL)`).
pub const RUNBEAM_LOG_OFF: c_int = 0;
/// Something failed and was not recovered (a panic caught at the boundary).
pub const RUNBEAM_LOG_ERROR: c_int = 1;
/// Something failed and was worked around: a stale answer served, a machine-token renewal or a
/// JWKS refresh that failed while the current token or keys stay in use.
pub const RUNBEAM_LOG_WARN: c_int = 2;
/// A notable event: the token store chosen, a token renewed, a configuration reloaded.
pub const RUNBEAM_LOG_INFO: c_int = 3;
/// Detail for diagnosis (each API call, JWKS refreshes).
pub const RUNBEAM_LOG_DEBUG: c_int = 4;
/// Everything.
pub const RUNBEAM_LOG_TRACE: c_int = 5;

/// Records queued while the callback is busy; more are dropped (and counted).
const QUEUE_CAPACITY: usize = 1024;

/// One record, as `runbeam_log_callback` receives it. Every pointer is non-NULL,
/// NUL-terminated UTF-8 and **valid only during the callback**: copy what you keep.
///
/// Records never contain a token, a key or a credential: librunbeam does not log them, and
/// anything shaped like a JWT in a message or field is replaced by `[redacted JWT]`.
///
/// librunbeam allocates this struct: later versions may add members at its end (never remove
/// or reorder them), so never allocate or copy one by value yourself.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct runbeam_log_record {
    /// `RUNBEAM_LOG_ERROR` (1) … `RUNBEAM_LOG_TRACE` (5).
    pub level: c_int,
    /// The level's name: `"error"`, `"warn"`, `"info"`, `"debug"` or `"trace"` (static).
    pub level_name: *const c_char,
    /// Where it comes from: `"runbeam_core::storage"`, `"runbeam::client"`, …
    pub target: *const c_char,
    /// The message, for a person.
    pub message: *const c_char,
    /// The structured fields as one JSON object of strings, e.g.
    /// `{"reference":"dicomweb","error":"HTTP 503 …"}`; `"{}"` when there are none.
    pub fields_json: *const c_char,
}

/// The host's receiver of librunbeam's records (see `runbeam_set_log_callback()`).
///
/// Called with the `user_data` given to `runbeam_set_log_callback()` and a record valid only
/// during the call. It is **never called twice at once** (records are delivered one at a
/// time, in the order each thread logged them), but it runs **on whatever thread logged** —
/// one of your threads inside a librunbeam call, or a librunbeam runtime thread
/// (`runbeam-worker`) — or on the thread delivering an earlier record when several threads
/// log at once. Keep it short; it may call librunbeam (records logged by the call it makes
/// are not delivered: no re-entrance), including `runbeam_set_log_callback()`. Blocking
/// librunbeam calls that need the network are refused on runtime threads, as in every
/// librunbeam callback.
#[allow(non_camel_case_types)]
pub type runbeam_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, record: *const runbeam_log_record)>;

/// A record copied for the queue, already in C form.
struct Owned {
    level: Level,
    target: CString,
    message: CString,
    fields_json: CString,
}

impl Owned {
    fn of(record: &Record<'_>) -> Owned {
        Owned {
            level: record.level,
            target: to_cstring(record.target),
            message: to_cstring(record.message),
            fields_json: to_cstring(&record.fields_json()),
        }
    }

    fn dropped(count: u64) -> Owned {
        Owned {
            level: Level::Warn,
            target: c"runbeam::log".to_owned(),
            message: to_cstring(&format!(
                "runbeam: {count} log record(s) dropped while the log callback was busy"
            )),
            fields_json: to_cstring(&format!("{{\"dropped\":\"{count}\"}}")),
        }
    }
}

#[derive(Clone, Copy)]
struct Host {
    callback: unsafe extern "C" fn(*mut c_void, *const runbeam_log_record),
    user_data: *mut c_void,
}

// SAFETY: the caller of `runbeam_set_log_callback` promises the callback may be called with
// `user_data` from any thread (documented there).
unsafe impl Send for Host {}

struct State {
    /// The callback in use; `None` when off.
    host: Option<Host>,
    /// Bumped by every `runbeam_set_log_callback`.
    generation: u64,
    /// The generation of the callback being called now (by the thread whose `DELIVERER` is
    /// set).
    delivering: Option<u64>,
    /// Records logged by other threads while one was being delivered.
    queue: VecDeque<Owned>,
    /// Records dropped because the queue was full, not reported yet.
    dropped: u64,
}

struct Hub {
    state: Mutex<State>,
    /// Signalled whenever a delivery ends.
    idle: Condvar,
}

static HUB: Hub = Hub {
    state: Mutex::new(State {
        host: None,
        generation: 0,
        delivering: None,
        queue: VecDeque::new(),
        dropped: 0,
    }),
    idle: Condvar::new(),
};

thread_local! {
    /// Whether this thread is the deliverer now. (A flag rather than a `ThreadId`: asking
    /// for the current thread allocates, once per C thread, memory never freed.)
    static DELIVERER: Cell<bool> = const { Cell::new(false) };
}

fn lock() -> MutexGuard<'static, State> {
    HUB.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends this thread's turn as the deliverer if something panics on the way (the normal end
/// is in `sink`, under the same lock as the last look at the queue).
struct Turn;

impl Drop for Turn {
    fn drop(&mut self) {
        if DELIVERER.with(|d| d.replace(false)) {
            lock().delivering = None;
            HUB.idle.notify_all();
        }
    }
}

fn call(host: Host, record: &Owned) {
    let c = runbeam_log_record {
        level: c_int::from(record.level as u8),
        level_name: level_name(record.level).as_ptr(),
        target: record.target.as_ptr(),
        message: record.message.as_ptr(),
        fields_json: record.fields_json.as_ptr(),
    };
    // SAFETY: the host's contract (runbeam_set_log_callback): callable with its user_data and
    // a record valid during the call.
    unsafe { (host.callback)(host.user_data, &c) };
}

fn level_name(level: Level) -> &'static std::ffi::CStr {
    match level {
        Level::Error => c"error",
        Level::Warn => c"warn",
        Level::Info => c"info",
        Level::Debug => c"debug",
        Level::Trace => c"trace",
    }
}

/// The core's sink: delivers `record` now, or queues it when another thread is delivering.
fn sink(record: &Record<'_>) {
    let mut state = lock();
    let Some(host) = state.host else {
        return;
    };
    if state.delivering.is_some() {
        if !DELIVERER.with(Cell::get) {
            if state.queue.len() < QUEUE_CAPACITY {
                state.queue.push_back(Owned::of(record));
            } else {
                state.dropped = state.dropped.saturating_add(1);
            }
        }
        // This thread delivering cannot happen (the core drops a record logged while a thread
        // delivers one); were it to, dropping it is the no-re-entrance rule.
        return;
    }
    state.delivering = Some(state.generation);
    DELIVERER.with(|d| d.set(true));
    drop(state);
    let _turn = Turn;
    call(host, &Owned::of(record));
    // Then what other threads queued meanwhile, to the callback in use at each step. The turn
    // ends under the lock that finds the queue empty, so no record is left behind.
    loop {
        let mut state = lock();
        let next = match state.queue.pop_front() {
            Some(next) => Some(next),
            None if state.dropped > 0 => Some(Owned::dropped(std::mem::take(&mut state.dropped))),
            None => None,
        };
        let (Some(next), Some(host)) = (next, state.host) else {
            state.delivering = None;
            DELIVERER.with(|d| d.set(false));
            drop(state);
            HUB.idle.notify_all();
            return;
        };
        state.delivering = Some(state.generation);
        drop(state);
        HUB.idle.notify_all();
        call(host, &next);
    }
}

/// Makes `host` the callback (`None`: off) and waits until no delivery of an earlier callback
/// runs on another thread.
fn switch(host: Option<Host>) {
    let mut state = lock();
    state.host = host;
    state.generation = state.generation.wrapping_add(1);
    let generation = state.generation;
    if host.is_none() {
        state.queue.clear();
        state.dropped = 0;
    }
    while let Some(of) = state.delivering {
        if of == generation || DELIVERER.with(Cell::get) {
            // From inside the callback: it cannot wait for itself.
            break;
        }
        state = HUB.idle.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// Sends librunbeam's log records at `level` and more severe (`RUNBEAM_LOG_ERROR` 1 …
/// `RUNBEAM_LOG_TRACE` 5) to `callback`, with `user_data`, replacing any callback set before.
/// `RUNBEAM_LOG_OFF` (0) or a NULL `callback` turns logging off (then `user_data` is ignored).
/// Off is the default, and costs one atomic load per record site: records below the level are
/// skipped before anything is formatted. Only librunbeam's own records are delivered (not
/// those of the HTTP and TLS libraries it uses), and none contains a token or key.
///
/// Thread-safe: call it from any thread, at any time. The callback is called from whatever
/// thread logged, never twice at once (see `runbeam_log_callback`). **When this function
/// returns, the previous callback is never called again**: a call of it running on another
/// thread is waited for (so its `user_data` may be released right after; don't hold a lock
/// that callback takes while calling this). Called from inside
/// the callback, it cannot wait for itself: it returns at once, and the callback that called
/// it is the last call of the previous callback.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for a level outside 0…5 (nothing changes).
///
/// ```c
/// static void to_syslog(void *user_data, const runbeam_log_record *r) {
///     (void)user_data;
///     int priority = r->level == RUNBEAM_LOG_ERROR ? LOG_ERR
///                  : r->level == RUNBEAM_LOG_WARN  ? LOG_WARNING : LOG_INFO;
///     syslog(priority, "%s: %s %s", r->target, r->message, r->fields_json);
/// }
///
/// runbeam_set_log_callback(RUNBEAM_LOG_INFO, to_syslog, NULL);
/// ...
/// runbeam_set_log_callback(RUNBEAM_LOG_OFF, NULL, NULL);   // before closing syslog
/// ```
///
/// # Safety
/// `callback` is NULL or a function that may be called with `user_data` from any thread until
/// this function is called again and returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_set_log_callback(
    level: c_int,
    callback: runbeam_log_callback,
    user_data: *mut c_void,
) -> runbeam_status {
    guard("runbeam_set_log_callback", || {
        let level = match u8::try_from(level) {
            Ok(0) => None,
            Ok(n) => Some(Level::from_number(n).ok_or_else(|| bad_level(level))?),
            Err(_) => return Err(bad_level(level)),
        };
        match (level, callback) {
            (Some(level), Some(callback)) => {
                switch(Some(Host {
                    callback,
                    user_data,
                }));
                log::set_sink(level, Arc::new(sink))
            }
            _ => {
                log::clear_sink();
                switch(None);
                Ok(())
            }
        }
    })
}

fn bad_level(level: c_int) -> runbeam_core::Error {
    invalid_argument(format!(
        "argument 'level' is {level}: use RUNBEAM_LOG_OFF (0) or RUNBEAM_LOG_ERROR (1) … \
         RUNBEAM_LOG_TRACE (5)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_constants_are_the_core_numbers() {
        for (constant, level) in [
            (RUNBEAM_LOG_ERROR, Level::Error),
            (RUNBEAM_LOG_WARN, Level::Warn),
            (RUNBEAM_LOG_INFO, Level::Info),
            (RUNBEAM_LOG_DEBUG, Level::Debug),
            (RUNBEAM_LOG_TRACE, Level::Trace),
        ] {
            assert_eq!(c_int::from(level as u8), constant);
            assert_eq!(level_name(level).to_str().unwrap(), level.as_str());
        }
        assert_eq!(RUNBEAM_LOG_OFF, 0);
    }
}
