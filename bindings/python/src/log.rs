//! The core's log records ([`runbeam_core::log`]) delivered to Python's `logging`.
//!
//! The module installs the core's sink when it is imported ([`install`]); `runbeam/_logging.py`
//! turns each record into a `logging.LogRecord` of the `runbeam` logger (or one of its
//! `runbeam.<area>` children) and keeps the core's level equal to the lowest level those
//! loggers accept, so that a disabled level is skipped inside the core by one atomic load and
//! never reaches Python.
//!
//! **Records never wait for the GIL where they are logged.** The sink copies the record into a
//! bounded queue and returns; one thread of this module (`runbeam-log`) takes the GIL and hands
//! the queued records to Python, in the order they were queued. A sink that took the GIL itself
//! would stall a Tokio worker (and every request on it) behind whatever Python code holds the
//! GIL, and would deadlock if the core logged while holding a lock that a Python thread waits
//! for with the GIL held (the core avoids that, but each new record would have to keep it so);
//! even on a thread that already holds the GIL, a handler that writes to a file releases it in
//! the middle of the core's call. The queue costs a record a copy and a channel send, and the
//! sink stays unserialised (any thread may queue at any time). Records carry the time they were
//! logged, not the time they were delivered.
//!
//! When the queue is full (8192 records: the handlers are slower than the records) new records
//! are dropped and counted; the next delivery reports the count as a WARNING of `runbeam`.
//! Records logged by the delivery thread itself (a handler that calls librunbeam) are dropped,
//! as the core drops re-entrant records. After `atexit` has run (the interpreter is
//! finalizing), records are dropped. `flush_logs` waits until the records queued before it are
//! delivered; it runs at exit before the runtime stops entering Python.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use runbeam_core::log::{self as core_log, Level, Record};

use crate::fork::ForkSafe;
use crate::guard::guarded;
use crate::runtime::Delivery;

/// Records waiting for the delivery thread, at most.
const QUEUE_CAPACITY: usize = 8192;
/// Records handed to Python per acquisition of the GIL, at most.
const BATCH: usize = 256;

/// A record as queued: owned, with when and where it was logged.
struct Owned {
    level: Level,
    target: String,
    message: String,
    fields: Vec<(&'static str, String)>,
    created: f64,
    thread: String,
}

/// The queue of this process and its counters (a forked child makes its own: the parent's
/// delivery thread does not exist there).
struct Queue {
    sender: SyncSender<Owned>,
    /// Records queued, and records handed to Python (or dropped at exit), since it was made.
    queued: AtomicU64,
    delivered: AtomicU64,
    /// Records dropped because the queue was full, not yet reported.
    dropped: AtomicU64,
}

static QUEUE: ForkSafe<Arc<Queue>> = ForkSafe::empty();

/// The Python function that turns a record into a `logging.LogRecord`
/// (`runbeam._logging._deliver`), registered by `_set_log_deliver`.
static DELIVER: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Whether the core accepted the sink (another `tracing` subscriber could have been first).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The highest ticket of `_set_log_level` applied so far (see `runbeam/_logging.py`).
static LAST_TICKET: Mutex<u64> = Mutex::new(0);

thread_local! {
    /// Set on the delivery thread: records it logs itself are dropped.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

fn queue() -> Option<Arc<Queue>> {
    QUEUE
        .get(|| {
            let (sender, receiver) = sync_channel(QUEUE_CAPACITY);
            let queue = Arc::new(Queue {
                sender,
                queued: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            });
            let for_thread = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("runbeam-log".into())
                .spawn(move || deliver_forever(&for_thread, &receiver))
                .map_err(|e| {
                    pyo3::exceptions::PyRuntimeError::new_err(format!(
                        "cannot start the log delivery thread: {e}"
                    ))
                })?;
            Ok(queue)
        })
        .ok()
}

/// The core's sink: copies the record into the queue. Never blocks, never enters Python.
fn sink(record: &Record<'_>) {
    if DELIVERING.with(Cell::get) {
        return;
    }
    let Some(queue) = queue() else {
        return;
    };
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let owned = Owned {
        level: record.level,
        target: record.target.to_owned(),
        message: record.message.to_owned(),
        fields: record.fields.to_vec(),
        created,
        thread: std::thread::current()
            .name()
            .unwrap_or("<unnamed>")
            .to_owned(),
    };
    // Counted first, so that `flush_logs` never sees a delivery it did not count.
    queue.queued.fetch_add(1, Ordering::SeqCst);
    match queue.sender.try_send(owned) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
            queue.queued.fetch_sub(1, Ordering::SeqCst);
            queue.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn deliver_forever(queue: &Queue, receiver: &Receiver<Owned>) {
    DELIVERING.with(|d| d.set(true));
    let mut batch = VecDeque::with_capacity(BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push_back(first);
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push_back(next),
                Err(_) => break,
            }
        }
        if let Some(_inside) = Delivery::start() {
            Python::attach(|py| {
                let dropped = queue.dropped.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    deliver(py, &dropped_record(dropped));
                }
                while let Some(record) = batch.pop_front() {
                    deliver(py, &record);
                    queue.delivered.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        // The interpreter is exiting: the batch is dropped (and counted as done).
        let rest = batch.len() as u64;
        batch.clear();
        queue.delivered.fetch_add(rest, Ordering::SeqCst);
    }
}

fn dropped_record(dropped: u64) -> Owned {
    Owned {
        level: Level::Warn,
        target: "runbeam".into(),
        message: format!(
            "runbeam dropped {dropped} log records: the logging handlers did not keep up"
        ),
        fields: vec![("dropped", dropped.to_string())],
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        thread: "runbeam-log".into(),
    }
}

/// Hands one record to `runbeam._logging._deliver`; its exceptions (a filter or handler that
/// raised) go to `sys.unraisablehook`.
fn deliver(py: Python<'_>, record: &Owned) {
    let Some(function) = DELIVER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|f| f.clone_ref(py))
    else {
        return;
    };
    let called = (|| {
        let fields = PyDict::new(py);
        for (name, value) in &record.fields {
            fields.set_item(*name, value)?;
        }
        function.bind(py).call1((
            record.level as u8,
            &record.target,
            &record.message,
            fields,
            record.created,
            &record.thread,
        ))
    })();
    if let Err(e) = called {
        e.write_unraisable(py, Some(function.bind(py)));
    }
}

/// Installs the sink (at `level`, until `runbeam._logging` sets the level of the `runbeam`
/// logger). A failure (another `tracing` subscriber was installed first in this copy of the
/// library, which cannot happen in the extension module) leaves logging off.
pub fn install() {
    if core_log::set_sink(Level::Warn, Arc::new(sink)).is_ok() {
        INSTALLED.store(true, Ordering::SeqCst);
    }
}

guarded! {
    /// `_native._set_log_deliver(function)`: the function that turns a record into a
    /// `logging.LogRecord` (`runbeam._logging._deliver`). Not part of the public API.
    #[pyfunction(name = "_set_log_deliver")]
    pub(crate) fn set_log_deliver(function: Py<PyAny>) {
        *DELIVER.lock().unwrap_or_else(|e| e.into_inner()) = Some(function);
    }
}

guarded! {
    /// `_native._set_log_level(ticket, level)`: sets the core's level (0 off, 1 error … 5
    /// trace) unless a higher ticket was applied already (two threads changing Python's
    /// levels at once: the last computed level wins). Returns whether it was applied. Not
    /// part of the public API; `runbeam.sync_log_level()` calls it.
    #[pyfunction(name = "_set_log_level")]
    pub(crate) fn set_log_level(ticket: u64, level: u8) -> bool {
        let mut last = LAST_TICKET.lock().unwrap_or_else(|e| e.into_inner());
        if ticket < *last {
            return false;
        }
        *last = ticket;
        core_log::set_level(Level::from_number(level));
        true
    }
}

guarded! {
    /// `_native._log_level()`: the core's level now, `"error"` … `"trace"`, or `None` when off.
    /// Not part of the public API.
    #[pyfunction(name = "_log_level")]
    pub(crate) fn log_level() -> Option<&'static str> {
        core_log::level().map(Level::as_str)
    }
}

guarded! {
    /// `_native._flush_logs(timeout)`: waits (with the GIL released) until the records queued
    /// before the call have been handed to `logging`, at most `timeout` seconds. Returns
    /// whether they were. `runbeam.flush_logs` calls it.
    #[pyfunction(name = "_flush_logs")]
    pub(crate) fn flush_logs(py: Python<'_>, timeout: f64) -> bool {
        let Some(queue) = (INSTALLED.load(Ordering::SeqCst)).then(queue).flatten() else {
            return true;
        };
        let target = queue.queued.load(Ordering::SeqCst);
        let done = || queue.delivered.load(Ordering::SeqCst) >= target;
        if done() {
            return true;
        }
        if DELIVERING.with(Cell::get) {
            // A handler flushing from the delivery thread would wait for itself.
            return false;
        }
        let limit = if timeout.is_finite() && timeout > 0.0 {
            Duration::from_secs_f64(timeout.min(86_400.0))
        } else {
            Duration::ZERO
        };
        let started = Instant::now();
        py.detach(|| {
            while !done() {
                if started.elapsed() >= limit {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        })
    }
}

/// Adds the logging functions to the module and installs the sink.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_log_deliver, m)?)?;
    m.add_function(wrap_pyfunction!(set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(log_level, m)?)?;
    m.add_function(wrap_pyfunction!(flush_logs, m)?)?;
    install();
    m.add("_LOG_INSTALLED", INSTALLED.load(Ordering::SeqCst))?;
    Ok(())
}
