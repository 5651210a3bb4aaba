//! Host logging: librunbeam's records delivered to a JavaScript callback (`setLogger`).
//!
//! The records are runbeam-core's (`runbeam_core::log`): the level filter, the redaction of
//! JWT-shaped text and the "only librunbeam's records" rule are the core's, with no second
//! filter here. The core calls the sink installed here on whatever thread logged (a runtime
//! worker, a blocking-pool thread, or the JavaScript thread itself, e.g. in `resolver.reload`);
//! the sink copies the record and queues it on a threadsafe function:
//!
//! - **non-blocking**: the sink never waits. The queue holds [`QUEUE`] records; when the
//!   JavaScript thread is too busy to drain it, further records are dropped (never a stalled
//!   worker, never unbounded memory). `napi_call_threadsafe_function` in non-blocking mode may
//!   be called from the JavaScript thread too: its records are delivered on a later turn of the
//!   event loop, never inside the call that logged them;
//! - **weak** (unref'd): a logger never keeps the process alive; records still queued when the
//!   process exits are not delivered;
//! - the JavaScript function it calls is `index.js`'s wrapper, which catches what the user's
//!   callback throws (see `setLogger` there): napi-rs turns an exception of a threadsafe call
//!   into an uncaught exception.
//!
//! The core's sink is process-wide: the last `setLogger` of any thread (worker threads
//! included) wins. When the environment of the installed logger goes away (a worker that set
//! it ended), its threadsafe function answers `Closing` and the sink is removed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use napi::bindgen_prelude::{Env, Function, JsValue, Object, Result, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Status, ValueType, sys};
use napi_derive::napi;
use runbeam_core::log::{self, Level, Record};
use time::OffsetDateTime;

use crate::arg;
use crate::convert::Date;
use crate::error;

/// Records queued for the JavaScript thread at most; more are dropped while it is busy.
pub const QUEUE: usize = 8192;

/// One librunbeam log record, as the callback of `setLogger` receives it.
///
/// ```js
/// setLogger((record) => console.log(record.time.toISOString(), record.level, record.message, record.fields))
/// ```
#[napi(object, object_from_js = false)]
pub struct LogRecord {
    /// Its severity.
    #[napi(ts_type = "LogLevel")]
    pub level: &'static str,
    /// Where it comes from: `runbeam_core::storage`, `runbeam::watch`, … (always starts with
    /// `runbeam`).
    pub target: String,
    /// The message, for a person (JWT-shaped text is redacted by the core).
    pub message: String,
    /// The structured fields (`backend`, `reference`, `url`, `error`, …), values as text, in
    /// the order they were logged.
    #[napi(ts_type = "Record<string, string>")]
    pub fields: Fields,
    /// When it was logged (it is delivered a little later).
    pub time: Date,
}

/// The fields of a record, as one plain object with the keys in logging order.
pub struct Fields(Vec<(&'static str, String)>);

impl ToNapiValue for Fields {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let mut object = Object::new(&env)?;
        for (key, value) in val.0 {
            object.set(key, value)?;
        }
        Ok(object.raw())
    }
}

type LoggerTsfn = ThreadsafeFunction<LogRecord, (), LogRecord, Status, false, true, QUEUE>;

/// The logger installed last (0: none), so that a closing one removes only itself.
static CURRENT: AtomicU64 = AtomicU64::new(0);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The level named `name` (the core's spellings), `default` when absent.
fn level_of(env: &Env, name: Option<arg::String>, default: Level) -> Result<Level> {
    match name {
        None => Ok(default),
        Some(name) => error::core(env, || Level::parse(&name)),
    }
}

/// `setLogger` (index.js): `callback` null or undefined removes the logger; a function
/// installs `deliver` (index.js's wrapper of `callback`) at `level` (default `'info'`).
#[napi(js_name = "__setLogger", skip_typescript)]
pub fn set_logger(
    env: &Env,
    callback: Unknown<'_>,
    level: Option<arg::String>,
    deliver: Option<Function<'_, LogRecord, ()>>,
) -> Result<()> {
    error::entry(env, "setLogger", || {
        match callback.get_type()? {
            ValueType::Undefined | ValueType::Null => {
                CURRENT.store(0, Ordering::Release);
                log::clear_sink();
                return Ok(());
            }
            ValueType::Function => {}
            _ => {
                return Err(error::invalid_argument(
                    env,
                    format!(
                        "setLogger: the callback must be a function or null, not {}",
                        arg::describe(&callback)
                    ),
                ));
            }
        }
        let level = level_of(env, level, Level::Info)?;
        let Some(deliver) = deliver else {
            return Err(error::internal(env, "setLogger: no delivery function"));
        };
        let tsfn: LoggerTsfn = deliver
            .build_threadsafe_function::<LogRecord>()
            .callee_handled::<false>()
            .weak::<true>()
            .max_queue_size::<QUEUE>()
            .build()?;
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let sink = move |record: &Record<'_>| {
            let copy = LogRecord {
                level: record.level.as_str(),
                target: record.target.to_owned(),
                message: record.message.to_owned(),
                fields: Fields(record.fields.to_vec()),
                time: Date(OffsetDateTime::now_utc()),
            };
            // QueueFull: the record is dropped. Closing: the environment that set this logger
            // is gone (a worker thread that ended, or Node exiting).
            if tsfn.call(copy, ThreadsafeFunctionCallMode::NonBlocking) == Status::Closing
                && CURRENT
                    .compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                log::clear_sink();
            }
        };
        error::core(env, || log::set_sink(level, Arc::new(sink)))?;
        CURRENT.store(id, Ordering::Release);
        Ok(())
    })
}

/// Changes the level of the logger set with `setLogger` (records less severe than `level` are
/// skipped before they are even formatted). Without a logger it has no effect: `setLogger`
/// sets the level it is given.
///
/// @throws `RUNBEAM_INVALID_ARGUMENT` for a level that is not `'error'`, `'warn'`, `'info'`,
/// `'debug'` or `'trace'`.
#[napi(ts_args_type = "level: LogLevel")]
pub fn set_log_level(env: &Env, level: arg::String) -> Result<()> {
    error::entry(env, "setLogLevel", || {
        let level = level_of(env, Some(level), Level::Info)?;
        log::set_level(Some(level));
        Ok(())
    })
}

/// The level records are delivered at, or null when no logger is set.
#[napi(ts_return_type = "LogLevel | null")]
pub fn log_level(env: &Env) -> Result<Option<&'static str>> {
    error::entry(env, "logLevel", || Ok(log::level().map(Level::as_str)))
}
