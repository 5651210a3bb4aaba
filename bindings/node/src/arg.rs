//! The argument types: every `#[napi]` function, method and option object takes its JavaScript
//! values as these types, so that napi converts them before the body runs and `index.d.ts` is
//! generated from the Rust signatures.
//!
//! **One mapping of conversion errors.** napi's own conversions (`String`, `Vec<T>`, `f64`, a
//! `#[napi(object)]` struct, …) throw napi's errors (`code: 'StringExpected'`, …) from the
//! generated wrapper, before the body and its error boundary run, and napi-derive 3.3 has no hook
//! for that. The types here implement `FromNapiValue` themselves: a value they cannot convert
//! becomes the SDK's `RUNBEAM_INVALID_ARGUMENT` error (built by `error::invalid_argument`),
//! which napi then throws as it is. Its message says what was expected and what was given, and
//! for a field of an option object which field (`ClientOptions.deadlineMs must be a number of
//! milliseconds of at least 0, not -5`; `paths[1]` style paths for array items). napi does not
//! tell a conversion which argument it is converting, so a positional argument is not named:
//! `expected a string, not a number`.
//!
//! **Promises reject, never throw.** A method that returns a Promise is marked
//! `#[napi(strict)]`: napi then calls `ValidateNapiValue::validate` on each argument first and
//! returns what it gives instead of calling the body. Here `validate` makes the whole conversion
//! and gives a Promise rejected with the same error, so a wrong argument rejects the Promise.
//! A synchronous method is not `strict`: the conversion error is thrown.
//!
//! **Names.** napi's type generator prints a Rust type it does not know by its name (`Vec` and
//! `Either` by their TypeScript spelling). So the types are named as TypeScript reads them: the
//! plain ones after the napi types they stand for ([`String`] is `string`, [`Vec`] is
//! `Array<T>`, [`Either`] is `A | B`, [`ClassInstance<T>`] is `T`, [`Value`] is `any`, [`Map`] is
//! `Record<string, any>`, [`Function`] is `(args) => R`), the ones with a meaning after it
//! ([`Milliseconds`], [`Count`], [`ReferenceLike`], [`Collection`], [`UpdateKind`]; declared in
//! `dts-header.d.ts`). Write them qualified (`arg::String`), never imported, so that `String`
//! keeps meaning Rust's everywhere else.
//!
//! **Inside option objects** fields use Rust's own `String`, `bool`, `Vec<T>`, `Option<T>`,
//! `serde_json` types and the types below alike: [`Arg`] is implemented for all of them, and
//! `object!` (the conversion of every option and fields object) converts each field with it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ptr;
use std::string::String as StdString;
use std::time::Duration;
use std::vec::Vec as StdVec;

use napi::bindgen_prelude::{
    Env, FromNapiRef, FromNapiValue, JavaScriptClassExt, JsObjectValue, JsValue,
    JsValuesTupleIntoVec, Object, Result, TypeName, Unknown,
};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{ValueType, check_status, sys};
use napi_derive::napi;
use runbeam_core::Reference;
use runbeam_core::client::{Collection as CoreCollection, UpdateKind as CoreUpdateKind};
use serde_json::Value as JsonValue;
use time::OffsetDateTime;

use crate::convert::{self, Date};
use crate::{error, promise, reference};

/// Why a JavaScript value was refused, with where it was (`path`: empty for the argument
/// itself, `ClientOptions.deadlineMs`, `[1]`, …). Becomes the `RUNBEAM_INVALID_ARGUMENT` error.
pub enum Refusal {
    /// `{path} must be {expected}, not {given}`; `given` says what kind of value it is (never
    /// a string's text: it may be a secret), or shows a number.
    Expected {
        /// Where.
        path: StdString,
        /// What it must be (`a string`, `a number of milliseconds of at least 0`).
        expected: Cow<'static, str>,
        /// What it is (`a number`, `-5`).
        given: Cow<'static, str>,
        /// Not even of the expected kind (a number for a string): [`Either`] tries the next.
        other_kind: bool,
    },
    /// The core's (or serde's) own words about the value: `{path}: {message}`.
    Message {
        /// Where.
        path: StdString,
        /// What is wrong.
        message: StdString,
    },
    /// napi itself failed (only when the VM is in trouble): passed on as it is.
    Napi(napi::Error),
}

impl From<napi::Error> for Refusal {
    fn from(error: napi::Error) -> Self {
        Refusal::Napi(error)
    }
}

impl Refusal {
    /// `value` is not of the kind `T` converts.
    fn type_of<T: Arg>(value: Unknown<'_>) -> Self {
        Refusal::Expected {
            path: StdString::new(),
            expected: T::expected(),
            given: Cow::Borrowed(describe(&value)),
            other_kind: true,
        }
    }

    /// A value of the right kind that cannot be used.
    fn value(expected: impl Into<Cow<'static, str>>, given: impl Into<Cow<'static, str>>) -> Self {
        Refusal::Expected {
            path: StdString::new(),
            expected: expected.into(),
            given: given.into(),
            other_kind: false,
        }
    }

    /// The core's (or serde's) words about the value.
    fn message(message: impl Into<StdString>) -> Self {
        Refusal::Message {
            path: StdString::new(),
            message: message.into(),
        }
    }

    /// The same refusal, at `place` (a field or an item) of the value being converted.
    pub(crate) fn at(mut self, place: &str) -> Self {
        if let Refusal::Expected { path, .. } | Refusal::Message { path, .. } = &mut self {
            // A path of a nested option object names its own type: it is kept as it is.
            if path.is_empty() || path.starts_with('[') {
                path.insert_str(0, place);
            }
        }
        self
    }

    /// Whether the value is of another kind altogether (what makes [`Either`] try the next).
    fn is_other_kind(&self) -> bool {
        matches!(self, Refusal::Expected { path, other_kind: true, .. } if path.is_empty())
    }

    /// The JavaScript error: `RUNBEAM_INVALID_ARGUMENT` (napi's own error when napi failed).
    fn into_error(self, env: &Env) -> napi::Error {
        let subject = |path: StdString| {
            if path.starts_with('[') {
                format!("item {path}")
            } else {
                path
            }
        };
        let message = match self {
            Refusal::Napi(error) => return error,
            Refusal::Expected {
                path,
                expected,
                given,
                ..
            } if path.is_empty() => format!("expected {expected}, not {given}"),
            Refusal::Expected {
                path,
                expected,
                given,
                ..
            } => format!("{} must be {expected}, not {given}", subject(path)),
            Refusal::Message { path, message } if path.is_empty() => message,
            Refusal::Message { path, message } => format!("{}: {message}", subject(path)),
        };
        error::invalid_argument(env, message)
    }
}

/// A type JavaScript values convert to, refusing the others with a [`Refusal`].
pub trait Arg: Sized {
    /// What a value must be, for messages: `a string`.
    fn expected() -> Cow<'static, str>;

    /// Converts `value`, or says why not.
    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal>;
}

/// `FromNapiValue` of an [`Arg`] type: the value, or the `RUNBEAM_INVALID_ARGUMENT` error
/// (inside the panic boundary: it runs before the function's body).
///
/// # Safety
/// `env` and `value` are those napi passes to `FromNapiValue::from_napi_value`.
pub unsafe fn from_js<T: Arg>(env: sys::napi_env, value: sys::napi_value) -> Result<T> {
    // SAFETY: the caller's: `value` is a live value of `env`.
    let value = unsafe { Unknown::from_raw_unchecked(env, value) };
    let env = Env::from_raw(env);
    error::entry(&env, "argument conversion", || {
        T::convert(&env, value).map_err(|refusal| refusal.into_error(&env))
    })
}

/// `ValidateNapiValue::validate` of an [`Arg`] type, for `#[napi(strict)]` (Promise-returning)
/// methods: null when the value converts, else a Promise rejected with the conversion's error,
/// which napi returns instead of calling the method.
///
/// # Safety
/// `env` and `value` are those napi passes to `ValidateNapiValue::validate`.
pub unsafe fn validate<T: Arg>(
    env: sys::napi_env,
    value: sys::napi_value,
) -> Result<sys::napi_value> {
    // SAFETY: the caller's.
    match unsafe { from_js::<T>(env, value) } {
        Ok(_) => Ok(ptr::null_mut()),
        Err(error) => {
            let env = Env::from_raw(env);
            promise::settled::<()>(&env, Err(error)).map(|rejected| rejected.raw())
        }
    }
}

/// `TypeName`, `FromNapiValue` and `ValidateNapiValue` of an [`Arg`] type, so that it can be a
/// `#[napi]` argument: `napi_arg!(Type)`, `napi_arg!(@generic [T: Arg] Type<T>)`, and
/// `napi_arg!(@object Type)` for an option object (napi's `#[napi(object)]` makes its
/// `TypeName`).
macro_rules! napi_arg {
    ($ty:ty) => {
        $crate::arg::napi_arg!(@generic [] $ty);
    };
    (@generic [$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> ::napi::bindgen_prelude::TypeName for $ty {
            fn type_name() -> &'static str {
                stringify!($ty)
            }

            fn value_type() -> ::napi::ValueType {
                ::napi::ValueType::Unknown
            }
        }

        $crate::arg::napi_arg!(@convert [$($generics)*] $ty);
    };
    (@object $ty:ty) => {
        $crate::arg::napi_arg!(@convert [] $ty);
    };
    (@convert [$($generics:tt)*] $ty:ty) => {
        impl<$($generics)*> ::napi::bindgen_prelude::FromNapiValue for $ty {
            unsafe fn from_napi_value(
                env: ::napi::sys::napi_env,
                value: ::napi::sys::napi_value,
            ) -> ::napi::Result<Self> {
                // SAFETY: the caller's (napi's).
                unsafe { $crate::arg::from_js(env, value) }
            }
        }

        impl<$($generics)*> ::napi::bindgen_prelude::ValidateNapiValue for $ty {
            unsafe fn validate(
                env: ::napi::sys::napi_env,
                value: ::napi::sys::napi_value,
            ) -> ::napi::Result<::napi::sys::napi_value> {
                // SAFETY: the caller's (napi's).
                unsafe { $crate::arg::validate::<Self>(env, value) }
            }
        }
    };
}
pub(crate) use napi_arg;

/// The conversion of an option (or fields) object: its `#[napi(object, object_from_js = false,
/// object_to_js = false)]` struct (napi generates the TypeScript interface, with the fields'
/// doc comments) and the list of its fields, which the compiler checks against the struct.
/// Each field is converted with its [`Arg`] type; a missing required field is refused like
/// any value of the wrong type (`ResolverOptions.config must be a MeshConfig, not undefined`).
/// Field names in JavaScript are the camelCase of the Rust names (no `js_name` on fields).
///
/// (The struct is not declared inside the macro: doc comments passed through `macro_rules!`
/// reach napi as raw strings, which its type generator prints with their `r"`.)
macro_rules! object {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::arg::Arg for $name {
            fn expected() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(concat!("an object (", stringify!($name), ")"))
            }

            fn convert(
                env: &::napi::bindgen_prelude::Env,
                value: ::napi::bindgen_prelude::Unknown<'_>,
            ) -> ::std::result::Result<Self, $crate::arg::Refusal> {
                let object = $crate::arg::Fields::of::<Self>(env, value, stringify!($name))?;
                Ok($name {
                    $( $field: object.field(stringify!($field))?, )*
                })
            }
        }

        $crate::arg::napi_arg!(@object $name);
    };
}
pub(crate) use object;

/// The fields of an object being converted by `object!`.
pub struct Fields<'a> {
    env: &'a Env,
    object: Object<'a>,
    name: &'static str,
}

impl<'a> Fields<'a> {
    /// `value` as the object `T` (named `name`), or refused when it is not an object.
    pub fn of<T: Arg>(
        env: &'a Env,
        value: Unknown<'a>,
        name: &'static str,
    ) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::Object || value.is_array()? {
            return Err(Refusal::type_of::<T>(value));
        }
        Ok(Fields {
            env,
            object: Object::from_raw(env.raw(), value.raw()),
            name,
        })
    }

    /// The field `rust_name` (read as its camelCase), converted.
    pub fn field<T: Arg>(&self, rust_name: &str) -> std::result::Result<T, Refusal> {
        let js_name = camel_case(rust_name);
        let value: Unknown<'_> = self.object.get_named_property(&js_name)?;
        T::convert(self.env, value).map_err(|r| r.at(&format!("{}.{js_name}", self.name)))
    }
}

/// `connect_timeout_ms` → `connectTimeoutMs`, as napi names the fields of an object.
fn camel_case(rust_name: &str) -> StdString {
    let mut out = StdString::with_capacity(rust_name.len());
    let mut upper = false;
    for c in rust_name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `"a number"`, `"undefined"`, `"an array"`, … for messages (never the value: it may be a
/// secret).
pub(crate) fn describe(value: &Unknown<'_>) -> &'static str {
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Symbol) => "a symbol",
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "an array",
        Ok(ValueType::Object) if value.is_date().unwrap_or(false) => "a Date",
        Ok(ValueType::Object) => "an object",
        Ok(ValueType::Function) => "a function",
        Ok(ValueType::BigInt) => "a bigint",
        _ => "an unsupported value",
    }
}

/// A value of JavaScript type `kind` converted by napi, or refused as not a `T`.
fn typed<T: Arg, V: FromNapiValue>(
    env: &Env,
    value: Unknown<'_>,
    kind: ValueType,
) -> std::result::Result<V, Refusal> {
    if value.get_type()? != kind {
        return Err(Refusal::type_of::<T>(value));
    }
    // SAFETY: `value` is a live value of `env` of the type `V` converts (checked above).
    Ok(unsafe { V::from_napi_value(env.raw(), value.raw()) }?)
}

impl Arg for StdString {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a string")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        typed::<Self, Self>(env, value, ValueType::String)
    }
}

impl Arg for bool {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a boolean")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        typed::<Self, Self>(env, value, ValueType::Boolean)
    }
}

impl Arg for f64 {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a number")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        typed::<Self, Self>(env, value, ValueType::Number)
    }
}

/// Absent: `undefined` and `null` are `None`.
impl<T: Arg> Arg for Option<T> {
    fn expected() -> Cow<'static, str> {
        T::expected()
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        match value.get_type()? {
            ValueType::Undefined | ValueType::Null => Ok(None),
            _ => T::convert(env, value).map(Some),
        }
    }
}

impl<T: Arg> Arg for StdVec<T> {
    fn expected() -> Cow<'static, str> {
        Cow::Owned(format!("an array of {}", plural(&T::expected())))
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if !value.is_array()? {
            return Err(Refusal::type_of::<Self>(value));
        }
        let array = Object::from_raw(env.raw(), value.raw());
        (0..array.get_array_length()?)
            .map(|i| {
                // A hole reads as `undefined`.
                let item: Unknown<'_> = array.get_element(i)?;
                T::convert(env, item).map_err(|r| r.at(&format!("[{i}]")))
            })
            .collect()
    }
}

/// `a string` → `strings`, for `an array of strings`.
fn plural(expected: &str) -> StdString {
    let bare = expected
        .strip_prefix("an ")
        .or_else(|| expected.strip_prefix("a "))
        .unwrap_or(expected);
    format!("{bare}s")
}

/// Any JSON value (napi's conversion: `undefined` object fields are left out).
impl Arg for JsonValue {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a JSON value")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        match value.get_type()? {
            ValueType::Null
            | ValueType::Boolean
            | ValueType::Number
            | ValueType::String
            | ValueType::Object
            | ValueType::BigInt => json::<Self>(env, value),
            _ => Err(Refusal::type_of::<Self>(value)),
        }
    }
}

/// A JSON object (not an array).
impl Arg for serde_json::Map<StdString, JsonValue> {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("an object")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::Object || value.is_array()? {
            return Err(Refusal::type_of::<Self>(value));
        }
        json::<Self>(env, value)
    }
}

/// napi's JSON conversion of `value`; what it refuses is inside (a function, a symbol).
fn json<V: FromNapiValue>(env: &Env, value: Unknown<'_>) -> std::result::Result<V, Refusal> {
    // SAFETY: `value` is a live value of `env`.
    unsafe { V::from_napi_value(env.raw(), value.raw()) }.map_err(|_| {
        Refusal::message(
            "holds a value JSON cannot represent (a function, a symbol or undefined in an array)",
        )
    })
}

/// A `Date` (a valid one).
impl Arg for Date {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a Date")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if !value.is_date()? {
            return Err(Refusal::type_of::<Self>(value));
        }
        let mut ms = 0.0;
        // SAFETY: `value` is a live Date of `env`; `ms` is written on success.
        check_status!(unsafe { sys::napi_get_date_value(env.raw(), value.raw(), &mut ms) })?;
        let nanos = ms * 1_000_000.0;
        if !nanos.is_finite() {
            return Err(Refusal::value("a valid Date", "an invalid Date"));
        }
        OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
            .map(Date)
            .map_err(|e| Refusal::message(e.to_string()))
    }
}

/// Newtypes of Rust's own types for positional arguments (napi's own conversion of those
/// would throw napi's errors): the same conversion as the type they wrap.
macro_rules! positional {
    ($($(#[$doc:meta])* $name:ident $(<$g:ident>)? ($inner:ty);)*) => {
        $(
            $(#[$doc])*
            pub struct $name $(<$g>)? (pub $inner);

            impl $(<$g: Arg>)? Arg for $name $(<$g>)? {
                fn expected() -> Cow<'static, str> {
                    <$inner>::expected()
                }

                fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
                    <$inner>::convert(env, value).map($name)
                }
            }

            napi_arg!(@generic [$($g: Arg)?] $name $(<$g>)?);
        )*
    };
}

positional! {
    /// A string argument (TypeScript `string`).
    String(StdString);
    /// An array argument (TypeScript `Array<T>`), converted item by item (an item of the
    /// wrong type is refused as `[i]`).
    Vec<T>(StdVec<T>);
    /// Any JSON value as an argument (TypeScript `any`).
    Value(JsonValue);
    /// A JSON object argument (TypeScript `Record<string, any>`).
    Map(serde_json::Map<StdString, JsonValue>);
}

impl std::ops::Deref for String {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for StdString {
    fn from(value: String) -> Self {
        value.0
    }
}

/// A duration in milliseconds (TypeScript `Milliseconds`, a `number`): any finite number ≥ 0,
/// fractions allowed, through `convert::duration_ms`. The core refuses what it cannot use
/// (a zero timeout, …) with its own message.
pub struct Milliseconds(pub Duration);

impl Arg for Milliseconds {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a number of milliseconds of at least 0")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        let ms: f64 = typed::<Self, f64>(env, value, ValueType::Number)?;
        convert::duration_ms(ms)
            .map(Milliseconds)
            .ok_or_else(|| Refusal::value(Self::expected(), ms.to_string()))
    }
}

napi_arg!(Milliseconds);

/// A count (attempts, capacities, page numbers and sizes; TypeScript `Count`, a `number`): a
/// whole number ≥ 0, through `convert::count`; the core's bounds apply after.
pub struct Count(pub u32);

impl Arg for Count {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a whole number of at least 0")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        let n: f64 = typed::<Self, f64>(env, value, ValueType::Number)?;
        convert::count(n)
            .map(Count)
            .ok_or_else(|| Refusal::value(Self::expected(), n.to_string()))
    }
}

napi_arg!(Count);

/// A collection of the Cloud API (TypeScript `Collection`: `'gateways'`, `'services'`, …).
pub struct Collection(pub CoreCollection);

impl Arg for Collection {
    fn expected() -> Cow<'static, str> {
        let names: StdVec<&str> = CoreCollection::ALL.iter().map(|c| c.name()).collect();
        Cow::Owned(format!("one of {}", names.join(", ")))
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        let name: StdString = typed::<Self, StdString>(env, value, ValueType::String)?;
        CoreCollection::from_name(&name)
            .map(Collection)
            // A name that is none of a fixed list is shown (cut short), to be recognised.
            .ok_or_else(|| {
                let shown: StdString = name.chars().take(64).collect();
                Refusal::value(Self::expected(), format!("'{}'", shown.escape_debug()))
            })
    }
}

napi_arg!(Collection);

/// What `updateConfig` pushes (TypeScript `UpdateKind`: `'gateway'`, `'pipeline'`, …), read
/// as runbeam-core reads it.
pub struct UpdateKind(pub CoreUpdateKind);

impl Arg for UpdateKind {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a configuration kind")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        let name: StdString = typed::<Self, StdString>(env, value, ValueType::String)?;
        serde_json::from_value(JsonValue::String(name))
            .map(UpdateKind)
            .map_err(|e| Refusal::message(e.to_string()))
    }
}

napi_arg!(UpdateKind);

/// A class of this module (`MeshConfig`, `Client`, …).
pub trait Class: JavaScriptClassExt + FromNapiRef + TypeName + 'static {}

impl<T: JavaScriptClassExt + FromNapiRef + TypeName + 'static> Class for T {}

/// An instance of the native class `T` (TypeScript: `T`). It lives while the call runs, as
/// napi's own `&T` arguments.
pub struct ClassInstance<T: 'static>(&'static T);

impl<T> std::ops::Deref for ClassInstance<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
    }
}

impl<T: Class> Arg for ClassInstance<T> {
    fn expected() -> Cow<'static, str> {
        Cow::Owned(format!("a {}", T::type_name()))
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::Object || !T::instance_of(env, &value)? {
            return Err(Refusal::type_of::<Self>(value));
        }
        // SAFETY: `value` is a live instance of `T` (checked above).
        Ok(ClassInstance(unsafe {
            T::from_napi_ref(env.raw(), value.raw())
        }?))
    }
}

napi_arg!(@generic [T: Class] ClassInstance<T>);

/// One of two types (TypeScript `A | B`): the first that converts. A value of either kind that
/// does not convert is refused for that kind (`MachineTokenFields.expiresAt must be …`); a value
/// of neither kind as `a A or a B`.
pub enum Either<A, B> {
    /// The first.
    A(A),
    /// The second.
    B(B),
}

impl<A: Arg, B: Arg> Arg for Either<A, B> {
    fn expected() -> Cow<'static, str> {
        Cow::Owned(format!("{} or {}", A::expected(), B::expected()))
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        match A::convert(env, value) {
            Err(refusal) if refusal.is_other_kind() => {}
            other => return other.map(Either::A),
        }
        match B::convert(env, value) {
            Err(refusal) if refusal.is_other_kind() => Err(Refusal::type_of::<Self>(value)),
            other => other.map(Either::B),
        }
    }
}

napi_arg!(@generic [A: Arg, B: Arg] Either<A, B>);

/// One of three types (TypeScript `A | B | C`), as [`Either`].
pub enum Either3<A, B, C> {
    /// The first.
    A(A),
    /// The second.
    B(B),
    /// The third.
    C(C),
}

impl<A: Arg, B: Arg, C: Arg> Arg for Either3<A, B, C> {
    fn expected() -> Cow<'static, str> {
        Cow::Owned(format!(
            "{}, {} or {}",
            A::expected(),
            B::expected(),
            C::expected()
        ))
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        match Either::<A, Either<B, C>>::convert(env, value) {
            Ok(Either::A(a)) => Ok(Either3::A(a)),
            Ok(Either::B(Either::A(b))) => Ok(Either3::B(b)),
            Ok(Either::B(Either::B(c))) => Ok(Either3::C(c)),
            Err(refusal) if refusal.is_other_kind() => Err(Refusal::type_of::<Self>(value)),
            Err(refusal) => Err(refusal),
        }
    }
}

/// A JavaScript function (TypeScript `(args) => Return`), as a threadsafe function that the
/// core may call from any thread: weak (it does not keep Node alive), errors not passed as a
/// first argument.
pub struct Function<Args: JsValuesTupleIntoVec + 'static, Return: FromNapiValue + 'static>(
    pub ThreadsafeFunction<Args, Return, Args, napi::Status, false, true>,
);

impl<Args, Return> Arg for Function<Args, Return>
where
    Args: JsValuesTupleIntoVec + 'static,
    Return: FromNapiValue + 'static,
{
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a function")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        let function: napi::bindgen_prelude::Function<'_, Args, Return> =
            typed::<Self, _>(env, value, ValueType::Function)?;
        let tsfn = function
            .build_threadsafe_function::<Args>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(Function(tsfn))
    }
}

/// A string read where it is used, without copying it into a `String` (TypeScript `string`):
/// the hot paths (`validateCached`, `resolveCached`) read it into a per-thread buffer.
pub struct JsString<'env> {
    env: sys::napi_env,
    value: sys::napi_value,
    _env: std::marker::PhantomData<&'env ()>,
}

impl Arg for JsString<'_> {
    fn expected() -> Cow<'static, str> {
        StdString::expected()
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::String {
            return Err(Refusal::type_of::<Self>(value));
        }
        Ok(JsString {
            env: env.raw(),
            value: value.raw(),
            _env: std::marker::PhantomData,
        })
    }
}

napi_arg!(@generic ['env] JsString<'env>);

/// Bytes of a string read without allocating: more than a JWT may have (the core refuses a
/// longer one anyway; it is then read in full, for the core's message).
const BUFFER: usize = runbeam_core::jwt::MAX_TOKEN_BYTES + 8;

thread_local! {
    /// Where [`JsString::with_str`] reads (one per JavaScript thread; reads never nest).
    static BUFFER_IN_USE: RefCell<StdVec<u8>> = const { RefCell::new(StdVec::new()) };
}

impl JsString<'_> {
    /// Calls `f` with the string, read into a per-thread buffer (a new `String` only when it is
    /// longer than the buffer or a read is already in progress).
    pub fn with_str<T>(&self, f: impl FnOnce(&str) -> T) -> Result<T> {
        let mut f = Some(f);
        let fast = BUFFER_IN_USE.with(|buffer| -> Option<T> {
            let mut buffer = buffer.try_borrow_mut().ok()?;
            if buffer.len() < BUFFER {
                buffer.resize(BUFFER, 0);
            }
            let mut len = 0;
            // SAFETY: the buffer holds `BUFFER` bytes; napi writes at most that many, NUL
            // included, and sets `len` to the bytes written before the NUL.
            let status = unsafe {
                sys::napi_get_value_string_utf8(
                    self.env,
                    self.value,
                    buffer.as_mut_ptr().cast(),
                    BUFFER,
                    &mut len,
                )
            };
            // Maybe cut short: read in full below.
            if status != sys::Status::napi_ok || len + 4 >= BUFFER {
                return None;
            }
            let text = std::str::from_utf8(&buffer[..len]).ok()?;
            f.take().map(|f| f(text))
        });
        match (fast, f) {
            (Some(value), _) => Ok(value),
            (None, Some(f)) => {
                // SAFETY: `value` is a live string of `env` (checked when converted).
                let text = unsafe { StdString::from_napi_value(self.env, self.value) }?;
                Ok(f(&text))
            }
            (None, None) => Err(napi::Error::from_reason("string read twice")),
        }
    }
}

/// A `Reference` or a string (TypeScript `ReferenceLike`), parsed by runbeam-core when used (a
/// string that is not a reference is `RUNBEAM_INVALID_REFERENCE` then).
pub enum ReferenceLike<'env> {
    /// A string, read where it is used.
    Text(JsString<'env>),
    /// The canonical form of a `Reference`.
    Canonical(StdString),
}

impl Arg for ReferenceLike<'_> {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("a Reference or a string")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        match value.get_type()? {
            ValueType::String => JsString::convert(env, value).map(ReferenceLike::Text),
            ValueType::Object => match reference::canonical_of(env, value)? {
                Some(canonical) => Ok(ReferenceLike::Canonical(canonical)),
                None => Err(Refusal::type_of::<Self>(value)),
            },
            _ => Err(Refusal::type_of::<Self>(value)),
        }
    }
}

napi_arg!(@generic ['env] ReferenceLike<'env>);

impl ReferenceLike<'_> {
    /// Calls `f` with the text of the reference (a string as given, or a canonical form).
    pub fn with_text<T>(&self, f: impl FnOnce(&str) -> T) -> Result<T> {
        match self {
            ReferenceLike::Text(text) => text.with_str(f),
            ReferenceLike::Canonical(text) => Ok(f(text)),
        }
    }

    /// The reference, parsed by runbeam-core (`RUNBEAM_INVALID_REFERENCE` for a bad string).
    pub fn parse(&self, env: &Env) -> Result<Reference> {
        self.with_text(Reference::parse)?
            .map_err(|e| error::from_core(env, &e))
    }
}

/// An `AbortSignal` (TypeScript `AbortSignal`: `controller.signal`, `AbortSignal.timeout(ms)`,
/// `AbortSignal.any([...])`): any object with a boolean `aborted` and an `addEventListener`
/// method. The value of one call, valid while the call runs: `crate::abort` reads it and
/// registers on it then.
#[derive(Clone, Copy)]
pub struct AbortSignal {
    env: sys::napi_env,
    value: sys::napi_value,
}

impl Arg for AbortSignal {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("an AbortSignal")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::Object {
            return Err(Refusal::type_of::<Self>(value));
        }
        let object = Object::from_raw(env.raw(), value.raw());
        let aborted: Unknown<'_> = object.get_named_property("aborted")?;
        let listen: Unknown<'_> = object.get_named_property("addEventListener")?;
        if aborted.get_type()? != ValueType::Boolean || listen.get_type()? != ValueType::Function {
            return Err(Refusal::type_of::<Self>(value));
        }
        Ok(AbortSignal {
            env: env.raw(),
            value: value.raw(),
        })
    }
}

napi_arg!(AbortSignal);

impl AbortSignal {
    /// The signal object (the call is still running: see the type's docs).
    pub(crate) fn object<'env>(&self, env: &'env Env) -> Object<'env> {
        debug_assert_eq!(self.env, env.raw());
        Object::from_raw(env.raw(), self.value)
    }

    /// Whether it has fired (`signal.aborted`, read now).
    pub(crate) fn aborted(&self, object: &Object<'_>) -> Result<bool> {
        object.get_named_property::<bool>("aborted")
    }
}

/// Options of a Promise-returning method that has no options of its own (those that have
/// some take `signal` there too).
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct CallOptions {
    /// Aborts the call: the Promise rejects at once with `RUNBEAM_CANCELLED`
    /// (`name: 'AbortError'`, `cause`: the signal's `reason`) and the work is dropped, a
    /// request in flight with its connection. A signal already aborted rejects without
    /// starting anything.
    pub signal: Option<AbortSignal>,
}

object!(CallOptions { signal });

/// The signal of a call's options, if any.
pub(crate) trait Signal {
    /// `options.signal`.
    fn signal(&self) -> Option<AbortSignal>;
}

impl<T: Signal> Signal for Option<T> {
    fn signal(&self) -> Option<AbortSignal> {
        self.as_ref().and_then(T::signal)
    }
}

/// [`Signal`] of option objects with a `signal` field.
macro_rules! with_signal {
    ($($name:ty),* $(,)?) => {
        $(
            impl $crate::arg::Signal for $name {
                fn signal(&self) -> Option<$crate::arg::AbortSignal> {
                    self.signal
                }
            }
        )*
    };
}
pub(crate) use with_signal;

with_signal!(CallOptions);
