//! Conversions every class shares: durations (JavaScript numbers of milliseconds), counts, times
//! (JavaScript `Date`s, RFC 3339 text in the redacted JSON views), optional Promise results and
//! the redaction mark.
//!
//! Ranges are runbeam-core's: [`duration_ms`] and [`count`] only refuse what cannot be converted
//! at all (a negative or fractional count, a negative duration; `crate::arg` says so, naming the
//! option); the core refuses the rest (a zero timeout, a page size over its bound, …) with its
//! own message.

use std::time::Duration;

use napi::JsValue;
use napi::bindgen_prelude::{Either, Env, Null, Result, ToNapiValue};
use napi::sys;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `{machineToken: '***', …}` in the redacted views.
pub(crate) const REDACTED: &str = "***";

/// A time for JavaScript: a `Date` (and, as an argument, from one: `crate::arg`).
pub struct Date(pub(crate) OffsetDateTime);

impl ToNapiValue for Date {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let ms = (val.0.unix_timestamp_nanos() / 1_000_000) as f64;
        Ok(env.create_date(ms)?.raw())
    }
}

/// RFC 3339 text of `t` (the redacted JSON views, which `JSON.stringify` writes).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// A duration given in milliseconds: any finite number ≥ 0 (fractions allowed); `None` for
/// anything else.
pub(crate) fn duration_ms(value: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(value / 1000.0).ok()
}

/// A duration for JavaScript: milliseconds.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A count (attempts, capacities, page numbers and sizes): a whole number ≥ 0; `None` for
/// anything else. Numbers above `u32::MAX` become `u32::MAX`, above every bound of the core,
/// which then refuses them with its own message.
pub(crate) fn count(value: f64) -> Option<u32> {
    (value.fract() == 0.0 && value >= 0.0).then(|| value.min(f64::from(u32::MAX)) as u32)
}

/// `ToNapiValue` of result newtypes that TypeScript knows by their name (a type
/// `dts-header.d.ts` declares: `Resource`, `Change`, `TokenStoreBackend`): the value they wrap.
macro_rules! to_js_as_inner {
    ($($name:ty),* $(,)?) => {
        $(
            impl ::napi::bindgen_prelude::ToNapiValue for $name {
                unsafe fn to_napi_value(
                    env: ::napi::sys::napi_env,
                    val: Self,
                ) -> ::napi::Result<::napi::sys::napi_value> {
                    // SAFETY: the caller's (napi's).
                    unsafe { ::napi::bindgen_prelude::ToNapiValue::to_napi_value(env, val.0) }
                }
            }
        )*
    };
}
pub(crate) use to_js_as_inner;

/// An optional Promise result: napi's `Either<T, Null>`, which TypeScript reads as `T | null`
/// (an `Option<T>` inside a Promise would read `T | undefined | null`).
pub(crate) fn nullable<T>(value: Option<T>) -> Either<T, Null> {
    match value {
        Some(value) => Either::A(value),
        None => Either::B(Null),
    }
}
