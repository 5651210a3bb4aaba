//! The one place where `runbeam_core::Error` becomes a JavaScript `Error`.
//!
//! Every error thrown by the binding is a plain `Error` instance carrying:
//! - `code`: the stable [`ErrorKind::code`] (`"RUNBEAM_INVALID_REFERENCE"`, …),
//! - `kind`: the [`ErrorKind::name`] (`"InvalidReference"`),
//! - `problems` (configuration errors only): every core `Problem` as a [`Problem`] object
//!   `{kind, code, path, message}`;
//! - `status` (HTTP status or `null`), `retryAfterMs` (milliseconds or `null`), `fieldErrors`
//!   (`{field: [message]}` or `null`) and `attempts` (a number or `null`) on every error;
//!   `request` (`{method, path}`) and `serverMessage` on errors of the Cloud API client;
//! - `name: 'AbortError'` on `RUNBEAM_CANCELLED` errors, with `cause` (the signal's `reason`)
//!   when an `AbortSignal` cancelled the call.
//!
//! napi's own `Error` can only carry a `code` (its status string), so the object is created
//! here and handed to napi as a raw value to throw.
//!
//! This module is also the panic boundary: every `#[napi]` function, constructor, factory,
//! method and getter runs its body in [`entry`], and every Promise its work in [`spawn_with`],
//! so a panic in librunbeam becomes a `RUNBEAM_INTERNAL` error built by [`from_core`] from
//! [`runbeam_core::panic::internal_error`] (napi-rs's own `catch_unwind` option would throw a
//! generic error without our `code`).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;

use napi::bindgen_prelude::{
    Env, Error, FromNapiValue, JsObjectValue, JsValue, Null, Object, PromiseRaw, Result, Status,
    ToNapiValue, Unknown,
};
use napi::{JsError, JsString};
use napi_derive::napi;
use runbeam_core::{ErrorKind, panic};

use crate::abort::{self, Abort};
use crate::arg::AbortSignal;
use crate::promise::Settle;

/// One finding of a configuration check, as returned by `MeshConfig.validate()` and listed in
/// the `problems` of a `RUNBEAM_CONFIG` error.
#[napi(object, object_from_js = false)]
pub struct Problem {
    /// The kind of problem: `"Config"`, `"InvalidReference"` or `"UnknownProvider"`.
    pub kind: &'static str,
    /// The stable code of that kind (`"RUNBEAM_UNKNOWN_PROVIDER"`, …).
    pub code: &'static str,
    /// Dotted TOML path of the value concerned, e.g. `mesh.imaging.egress[0]`.
    pub path: String,
    /// What is wrong, without the path.
    pub message: String,
}

impl From<&runbeam_core::Problem> for Problem {
    fn from(problem: &runbeam_core::Problem) -> Self {
        Problem {
            kind: problem.kind().name(),
            code: problem.kind().code(),
            path: problem.path().to_string(),
            message: problem.message().to_string(),
        }
    }
}

/// The JavaScript error for a core error.
pub(crate) fn from_core(env: &Env, error: &runbeam_core::Error) -> Error {
    with_cause(env, error, None)
}

/// The JavaScript error for a core error, with `cause` set when given (the `reason` of the
/// `AbortSignal` that cancelled a call).
pub(crate) fn with_cause(
    env: &Env,
    error: &runbeam_core::Error,
    cause: Option<Unknown<'_>>,
) -> Error {
    let built = create(env, error.kind(), error.message(), error.problems())
        .and_then(|object| add_http(env, object, error))
        .and_then(|mut object| {
            if let Some(cause) = cause {
                object.set("cause", cause)?;
            }
            Ok(object)
        });
    match built {
        Ok(object) => Error::from(object.to_unknown()),
        Err(_) => Error::new(
            Status::GenericFailure,
            format!("{}: {}", error.kind().code(), error.message()),
        ),
    }
}

/// The HTTP details of a Cloud API client error (never a token: the core keeps none there).
fn add_http<'env>(
    env: &'env Env,
    mut object: Object<'env>,
    error: &runbeam_core::Error,
) -> Result<Object<'env>> {
    if let Some(status) = error.status() {
        object.set("status", u32::from(status))?;
    }
    if let Some(retry_after) = error.retry_after() {
        object.set("retryAfterMs", crate::convert::millis(retry_after))?;
    }
    if !error.field_errors().is_empty() {
        let mut fields = Object::new(env)?;
        for (field, messages) in error.field_errors() {
            fields.set(field.as_str(), messages.clone())?;
        }
        object.set("fieldErrors", fields)?;
    }
    if let Some((method, path)) = error.request() {
        let mut request = Object::new(env)?;
        request.set("method", method)?;
        request.set("path", path)?;
        object.set("request", request)?;
    }
    if let Some(message) = error.server_message() {
        object.set("serverMessage", message)?;
    }
    if let Some(attempts) = error.attempts() {
        object.set("attempts", attempts)?;
    }
    Ok(object)
}

/// A `RUNBEAM_INVALID_ARGUMENT` error: a value of the wrong JavaScript type.
pub(crate) fn invalid_argument(env: &Env, message: impl Into<String>) -> Error {
    build(env, ErrorKind::InvalidArgument, &message.into(), &[])
}

/// A `RUNBEAM_INTERNAL` error: a bug in librunbeam (a caught panic, a broken invariant).
pub(crate) fn internal(env: &Env, message: impl Into<String>) -> Error {
    build(env, ErrorKind::Internal, &message.into(), &[])
}

/// Maps the error of a call into `runbeam-core` (the caller is inside an [`entry`], which
/// catches panics).
#[inline]
pub(crate) fn core<T>(env: &Env, call: impl FnOnce() -> runbeam_core::Result<T>) -> Result<T> {
    call().map_err(|error| from_core(env, &error))
}

/// The panic boundary of every synchronous entry point (function, constructor, factory,
/// method, getter): runs `body` and turns a panic into the `RUNBEAM_INTERNAL` error of
/// [`runbeam_core::panic::internal_error`]`(function, …)`, so a bug costs one failed call,
/// never the Node process (an unwinding panic reaching napi's `extern "C"` callback aborts).
///
/// `function` is the JavaScript name (`"Validator.validateCached"`). Nothing is printed: the
/// module installs the core's quiet panic hook when it is loaded.
#[inline]
pub(crate) fn entry<T>(env: &Env, function: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(panicked(env, function, payload.as_ref())))
}

/// The panic boundary of every Promise-returning entry point: like [`entry`], but an error
/// raised before the work starts (an error known without I/O, such as a reference that does not
/// parse, or a panic) becomes a rejected Promise instead of an exception, so a caller never
/// needs both `try` and `catch`. (An argument of the wrong type never gets here: those methods
/// are `#[napi(strict)]`, and `crate::arg` gives napi the rejected Promise.)
pub(crate) fn promise<'env, P: Settle<'env>>(
    env: &'env Env,
    function: &str,
    body: impl FnOnce() -> Result<P>,
) -> Result<P> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(promise)) => Ok(promise),
        Ok(Err(error)) => P::rejected(env, error),
        Err(payload) => P::rejected(env, panicked(env, function, payload.as_ref())),
    }
}

/// The JavaScript error for a panic caught in `function`.
#[cold]
fn panicked(env: &Env, function: &str, payload: &(dyn Any + Send)) -> Error {
    from_core(env, &panic::internal_error(function, payload))
}

/// The boundary of every Promise-returning entry point: runs `work` on the module's tokio
/// runtime inside [`runbeam_core::panic::catch_future`], then `settle(env, value)` on the
/// JavaScript thread inside [`entry`]; the Promise resolves with what `settle` returns or
/// rejects with the coded error (`RUNBEAM_INTERNAL` for a panic in either half).
///
/// With a `signal` (the call's options), the work is aborted and dropped when it fires
/// (`crate::abort`): the Promise rejects with `RUNBEAM_CANCELLED`; a signal already aborted
/// is an error here, before anything is spawned.
pub(crate) fn spawn_with<'env, T, V, F, S>(
    env: &'env Env,
    function: &'static str,
    signal: Option<AbortSignal>,
    work: F,
    settle: S,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    S: FnOnce(&Env, T) -> Result<V> + 'static,
{
    let registered = match signal {
        Some(signal) => Some(Abort::register(env, function, signal)?),
        None => None,
    };
    spawn_registered(env, function, registered, work, settle)
}

/// [`spawn_with`] for a call whose signal's listener is already registered (`registered`: the
/// [`Abort`] and its `Stop`, from [`Abort::register`]).
pub(crate) fn spawn_registered<'env, T, V, F, S>(
    env: &'env Env,
    function: &'static str,
    registered: Option<(Abort, abort::Stop)>,
    work: F,
    settle: S,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = runbeam_core::Result<T>> + Send + 'static,
    S: FnOnce(&Env, T) -> Result<V> + 'static,
{
    // Only the boxing of the value and its conversion are generic: the rest is instantiated
    // once, in `spawn_erased` (BENCHMARKS.md "Footprint").
    let work: ErasedWork = Box::pin(async move {
        work.await
            .map(|value| Box::new(value) as Box<dyn Any + Send>)
    });
    let convert: ErasedConvert = Box::new(move |env, value| {
        let value = value.downcast::<T>().map_err(|_| {
            internal(
                env,
                format!("{function}: the call's result has an unexpected type"),
            )
        })?;
        let value = settle(env, *value)?;
        // SAFETY: `env` is the live environment of the JavaScript thread this runs on.
        unsafe { V::to_napi_value(env.raw(), value) }.map(RawValue)
    });
    let promise = spawn_erased(env, function, registered, work, convert)?;
    // SAFETY: the same Promise object, typed by what `convert` resolves it with.
    unsafe { PromiseRaw::from_napi_value(env.raw(), promise.raw()) }
}

/// The work of a Promise, type-erased: its value boxed, or the core error it failed with.
type ErasedWork = Pin<Box<dyn Future<Output = runbeam_core::Result<Box<dyn Any + Send>>> + Send>>;

/// Turns the boxed value of the work into the value the Promise resolves with, on the
/// JavaScript thread.
type ErasedConvert = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> Result<RawValue>>;

/// A JavaScript value already converted by [`ToNapiValue`], handed back to napi as it is.
struct RawValue(napi::sys::napi_value);

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(
        _env: napi::sys::napi_env,
        value: Self,
    ) -> Result<napi::sys::napi_value> {
        Ok(value.0)
    }
}

/// [`spawn_registered`] once its types are erased: the abort, the panic boundary and napi's
/// `spawn_future_with_callback` (a tokio task, a deferred and a thread-safe function), all
/// instantiated once for every Promise-returning entry point instead of once per call type.
#[inline(never)]
fn spawn_erased<'env>(
    env: &'env Env,
    function: &'static str,
    registered: Option<(Abort, abort::Stop)>,
    work: ErasedWork,
    convert: ErasedConvert,
) -> Result<PromiseRaw<'env, RawValue>> {
    let (abort, stop) = match registered {
        Some((abort, stop)) => (Some(abort), Some(stop)),
        None => (None, None),
    };
    let work = abort::abortable(function, work, stop);
    env.spawn_future_with_callback(
        async move { Ok(panic::catch_future(function, work).await) },
        move |env, outcome| {
            // Releasing the listener cannot fail the call (only napi itself could fail here).
            let reason = abort
                .and_then(|abort| entry(env, function, || abort.finish(env)).ok())
                .flatten();
            match outcome {
                Ok(value) => entry(env, function, || convert(env, value)),
                Err(error) => Err(with_cause(env, &error, reason)),
            }
        },
    )
}

/// `_errorKinds()`: the core's error table, one `{name, code, cStatus, category, retryable,
/// argumentError}` object per kind in table order, so that the test suite can check the
/// hand-written `ErrorCode` union of `index.d.ts` (and `errorCodes()`) against it. Not part of
/// the API: not exported by `index.js`, not declared in `index.d.ts` (tests reach it through
/// `native.js`).
#[napi(js_name = "_errorKinds", skip_typescript)]
pub fn error_kinds(env: &Env) -> Result<Vec<Object<'_>>> {
    entry(env, "_errorKinds", || {
        ErrorKind::ALL
            .iter()
            .map(|kind| {
                let mut row = Object::new(env)?;
                row.set("name", kind.name())?;
                row.set("code", kind.code())?;
                row.set("cStatus", kind.c_status())?;
                row.set("category", kind.category().name())?;
                row.set("retryable", kind.is_retryable())?;
                row.set("argumentError", kind.is_argument_error())?;
                Ok(row)
            })
            .collect()
    })
}

fn build(env: &Env, kind: ErrorKind, message: &str, problems: &[runbeam_core::Problem]) -> Error {
    match create(env, kind, message, problems) {
        Ok(object) => Error::from(object.to_unknown()),
        // Creating the object failed (only when the VM is in trouble): still throw the code.
        Err(_) => Error::new(
            Status::GenericFailure,
            format!("{}: {message}", kind.code()),
        ),
    }
}

fn create<'env>(
    env: &'env Env,
    kind: ErrorKind,
    message: &str,
    problems: &[runbeam_core::Problem],
) -> Result<Object<'env>> {
    // napi creates the `Error` with `code` set to the status string: here, the kind's code.
    let error = JsError::from(Error::new(kind.code(), message)).into_unknown(*env);
    let mut error = Object::from_raw(env.raw(), error.raw());
    let name: JsString<'_> = env.create_string(kind.name())?;
    error.set_named_property("kind", name)?;
    // As `fetch` and Node's own APIs name the error of an aborted operation.
    if kind == ErrorKind::Cancelled {
        error.set("name", "AbortError")?;
    }
    error.set("status", Null)?;
    error.set("retryAfterMs", Null)?;
    error.set("fieldErrors", Null)?;
    error.set("attempts", Null)?;
    if !problems.is_empty() {
        let infos: Vec<Problem> = problems.iter().map(Problem::from).collect();
        error.set("problems", infos)?;
    }
    Ok(error)
}
