//! [`class_pair!`]: a blocking class and its asyncio twin from one definition.
//!
//! `Client`/`AsyncClient`, `Validator`/`AsyncValidator`, `TokenManager`/`AsyncTokenManager` and
//! `Resolver`/`AsyncResolver` have the same constructor, the same immediate members and the
//! same calls; they differ only in how a call ends ([`crate::runtime::Flavor`]). Each member
//! and each call is written once, so its code and its docstring cannot differ between the two.

/// Defines two `#[pyclass]`es holding a `$inner` (a fork-aware handle whose `get(py)` returns
/// the core object of this process), with one `#[pymethods]` block each, every method behind
/// the panic boundary ([`crate::guard::guarded!`]):
///
/// ```text
/// class_pair! {
///     /// docs of the blocking class
///     sync PyValidator = "Validator";
///     /// docs of the asyncio class
///     async PyAsyncValidator = "AsyncValidator";
///     holds Handle;
///     members { /* constructor, getters, immediate methods: `Self::NAME` is the class name */ }
///     calls {
///         /// docs
///         fn validate(py, v, token: &str) -> claims { v.validate_attempt(token) }
///     }
///     varargs {   // optional: calls taking `*args, **kwargs` (`args`: a tuple, `kwargs`: an
///                 // optional dict), for a call whose parameters depend on its arguments' types
///         /// docs
///         fn create(py, client, *args, **kwargs) -> answer { ... }
///     }
/// }
/// ```
///
/// A call's body checks and converts the arguments (raising before any I/O), then evaluates
/// to a [`runbeam_core::attempt::Attempt`] of the core object `v` (or, for a verification, to
/// the [`crate::offload::Step`] of [`crate::offload::route`]); the path after `->` converts
/// its value into a Python object with the GIL held. The blocking class returns that object
/// (waiting for a request with the GIL released), the asyncio class an awaitable.
macro_rules! class_pair {
    (
        $(#[$sync_attr:meta])* sync $sync:ident = $sync_name:literal;
        $(#[$async_attr:meta])* async $async_:ident = $async_name:literal;
        holds $inner:ty;
        members { $($members:tt)* }
        calls { $($calls:tt)* }
        $(varargs { $($varargs:tt)* })?
    ) => {
        $crate::pair::class_pair!(
            @class [$(#[$sync_attr])*] $sync, $sync_name, $crate::runtime::Blocking, Py<PyAny>,
            $inner; { $($members)* } [$($($varargs)*)?] $($calls)*
        );
        $crate::pair::class_pair!(
            @class [$(#[$async_attr])*] $async_, $async_name, $crate::runtime::Asyncio,
            Bound<'py, PyAny>, $inner; { $($members)* } [$($($varargs)*)?] $($calls)*
        );
    };
    (
        @class [$($attr:tt)*] $class:ident, $name:literal, $flavor:ty, $out:ty, $inner:ty;
        { $($members:tt)* }
        [$(
            $(#[$vattr:meta])*
            fn $vcall:ident($vpy:ident, $vthis:ident, *$args:ident, **$kwargs:ident)
                -> $vconvert:path $vbody:block
        )*]
        $(
            $(#[$cattr:meta])*
            fn $call:ident($py:ident, $this:ident $(, $arg:ident: $ty:ty)*) -> $convert:path
                $body:block
        )*
    ) => {
        $($attr)*
        #[pyclass(frozen, module = "runbeam", name = $name)]
        pub struct $class {
            inner: $inner,
        }

        impl $class {
            /// The Python class name.
            #[allow(dead_code)]
            const NAME: &'static str = $name;
        }

        $crate::guard::guarded! {
            $name;
            #[pymethods]
            impl $class {
                $($members)*

                $(
                    $(#[$cattr])*
                    fn $call<'py>(&self, $py: Python<'py>, $($arg: $ty),*) -> PyResult<$out> {
                        let $this = self.inner.get($py)?;
                        let step = $crate::offload::Step::from($body);
                        <$flavor as $crate::runtime::Flavor>::finish_step(
                            $py,
                            concat!($name, ".", stringify!($call)),
                            step,
                            $convert,
                        )
                    }
                )*

                $(
                    $(#[$vattr])*
                    #[pyo3(signature = (*$args, **$kwargs))]
                    fn $vcall<'py>(
                        &self,
                        $vpy: Python<'py>,
                        $args: &Bound<'py, pyo3::types::PyTuple>,
                        $kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
                    ) -> PyResult<$out> {
                        let $vthis = self.inner.get($vpy)?;
                        let step = $crate::offload::Step::from($vbody);
                        <$flavor as $crate::runtime::Flavor>::finish_step(
                            $vpy,
                            concat!($name, ".", stringify!($vcall)),
                            step,
                            $vconvert,
                        )
                    }
                )*
            }
        }
    };
}

pub(crate) use class_pair;
