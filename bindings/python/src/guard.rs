//! The panic boundary of every Python entry point.
//!
//! PyO3 turns a Rust panic into `pyo3_runtime.PanicException`, a `BaseException` that
//! `except Exception` and `except runbeam.RunbeamError` do not catch: one bug in librunbeam
//! would take a gateway's request handler (or the gateway) down. Every `#[pyfunction]` and
//! every method of every `#[pymethods]` block is therefore written inside [`guarded!`], which
//! runs its body under [`result`]: a panic becomes `runbeam.InternalError` (kind `Internal`,
//! code `RUNBEAM_INTERNAL`), built from [`runbeam_core::panic::internal_error`] through the one
//! conversion of [`crate::errors`]. Work that runs on the module's runtime is wrapped in
//! [`runbeam_core::panic::catch_future`] by the two runners of [`crate::runtime`], so an
//! asyncio future is completed with the same error instead of being left pending.
//!
//! The module installs [`runbeam_core::panic::install_quiet_hook`] when it is loaded, so a
//! caught panic prints nothing on stderr.

use std::panic::AssertUnwindSafe;

use pyo3::prelude::*;

use crate::errors::to_py_err;

/// Runs `body`; a panic becomes `runbeam.InternalError` naming `function`.
pub(crate) fn result<T>(function: &str, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let error = runbeam_core::panic::internal_error(function, payload.as_ref());
        // Entry points hold the GIL already; attaching again only bumps a counter.
        Err(Python::attach(|py| to_py_err(py, &error)))
    })
}

/// [`result`] for a body that cannot fail otherwise.
pub(crate) fn value<T>(function: &str, body: impl FnOnce() -> T) -> PyResult<T> {
    result(function, || Ok(body()))
}

/// Puts every function it is given behind the panic boundary ([`result`]), without changing
/// what Python sees (a return type `T` becomes `PyResult<T>`, which PyO3 treats alike).
///
/// Two forms:
/// - `guarded! { "Class"; #[pymethods] impl PyClass { fn ...* } }`: each method is named
///   `"Class.method"` in the `InternalError` message;
/// - `guarded! { #[pyfunction] fn name(...) ... }`: named `"name"`.
///
/// Methods may carry attributes and lifetime parameters (`fn f<'py>(...)`); the body of each
/// runs in a `move` closure, so `return` and `?` keep their meaning.
macro_rules! guarded {
    // A `#[pymethods]` block: rewrite its functions one by one (a function must be rewritten
    // here, not by a nested macro call, for `#[pymethods]` to see it), then emit the block.
    ($class:literal; $(#[$attr:meta])* impl $ty:ident { $($items:tt)* }) => {
        $crate::guard::guarded!(@methods $class [$(#[$attr])* impl $ty] []; $($items)*);
    };
    (@methods $class:literal [$($head:tt)*] [$($done:tt)*];) => {
        $($head)* { $($done)* }
    };
    (@methods $class:literal $head:tt [$($done:tt)*];
        $(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*)
            -> PyResult<$ret:ty> $body:block
        $($rest:tt)*
    ) => {
        $crate::guard::guarded!(@methods $class $head [
            $($done)*
            $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<$ret> {
                $crate::guard::result(concat!($class, ".", stringify!($name)), move || $body)
            }
        ]; $($rest)*);
    };
    (@methods $class:literal $head:tt [$($done:tt)*];
        $(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*)
            -> $ret:ty $body:block
        $($rest:tt)*
    ) => {
        $crate::guard::guarded!(@methods $class $head [
            $($done)*
            $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<$ret> {
                $crate::guard::value(concat!($class, ".", stringify!($name)), move || {
                    // The annotation keeps the coercions of the original return type.
                    let out: $ret = $body;
                    out
                })
            }
        ]; $($rest)*);
    };
    (@methods $class:literal $head:tt [$($done:tt)*];
        $(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*)
            $body:block
        $($rest:tt)*
    ) => {
        $crate::guard::guarded!(@methods $class $head [
            $($done)*
            $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<()> {
                $crate::guard::value(concat!($class, ".", stringify!($name)), move || $body)
            }
        ]; $($rest)*);
    };
    // A `#[pyfunction]`, named by its Rust name.
    ($(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*)
        -> PyResult<$ret:ty> $body:block
    ) => {
        $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<$ret> {
            $crate::guard::result(stringify!($name), move || $body)
        }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*)
        -> $ret:ty $body:block
    ) => {
        $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<$ret> {
            $crate::guard::value(stringify!($name), move || {
                let out: $ret = $body;
                out
            })
        }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident $(<$($lt:lifetime),*>)? ($($args:tt)*) $body:block) => {
        $(#[$m])* $vis fn $name $(<$($lt),*>)? ($($args)*) -> PyResult<()> {
            $crate::guard::value(stringify!($name), move || $body)
        }
    };
}

pub(crate) use guarded;

guarded! {
    /// `_native._fault_arm(site, count)`: test-only (built with the `fault-injection` feature,
    /// i.e. debug builds): the next `count` calls that pass `site` (`"jwt"`, `"reference"`,
    /// `"jwks"`, `"resolve"`, `"storage"`) panic, so that the tests can prove the panic
    /// boundary. Not part of the public API.
    #[cfg(feature = "fault-injection")]
    #[pyfunction(name = "_fault_arm")]
    pub(crate) fn fault_arm(site: &str, count: u32) {
        runbeam_core::panic::fault::arm(site, count);
    }
}
