//! Arguments from JavaScript, converted by hand so that a value of the wrong type becomes a
//! `RUNBEAM_INVALID_ARGUMENT` error naming the argument, instead of napi's generic message.

use napi::ValueType;
use napi::bindgen_prelude::{Array, Env, FromNapiValue, JsValue, Result, Unknown};
use runbeam_core::Reference;

use crate::error::{self, describe};
use crate::reference;

/// A JavaScript string, exactly (lone surrogates become U+FFFD, as everywhere in napi).
pub(crate) fn string(env: &Env, value: &Unknown<'_>, what: &str) -> Result<String> {
    if value.get_type()? != ValueType::String {
        return Err(error::invalid_argument(
            env,
            format!("{what} must be a string, not {}", describe(value)),
        ));
    }
    // SAFETY: `value` belongs to `env` and is a string (checked above).
    unsafe { String::from_napi_value(env.raw(), value.raw()) }
}

/// An array of strings.
pub(crate) fn strings(env: &Env, value: &Unknown<'_>, what: &str) -> Result<Vec<String>> {
    if !value.is_array()? {
        return Err(error::invalid_argument(
            env,
            format!(
                "{what} must be an array of strings, not {}",
                describe(value)
            ),
        ));
    }
    // SAFETY: `value` belongs to `env` and is an array (checked above).
    let array = unsafe { Array::from_napi_value(env.raw(), value.raw()) }?;
    (0..array.len())
        .map(|i| {
            let item: Unknown<'_> = array
                .get(i)?
                .ok_or_else(|| error::invalid_argument(env, format!("{what}[{i}] is missing")))?;
            string(env, &item, &format!("{what}[{i}]"))
        })
        .collect()
}

/// A `Reference` object or a string, parsed by runbeam-core (so a string that is not a valid
/// reference fails with `RUNBEAM_INVALID_REFERENCE`).
pub(crate) fn reference(env: &Env, value: &Unknown<'_>, what: &str) -> Result<Reference> {
    let text = match value.get_type()? {
        ValueType::String => Some(string(env, value, what)?),
        // A Reference's canonical form, which parses back to it.
        ValueType::Object => reference::canonical_of(env, value)?,
        _ => None,
    };
    let Some(text) = text else {
        return Err(error::invalid_argument(
            env,
            format!(
                "{what} must be a Reference or a string, not {}",
                describe(value)
            ),
        ));
    };
    error::core(env, || Reference::parse(&text))
}
