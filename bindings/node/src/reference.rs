//! The native half of the JavaScript `Reference` class (the class itself is in `index.js`).
//!
//! Why the class is written in JavaScript: a napi class instance costs a wrap, a finalizer and
//! one native call per getter — about 2–3 µs per parsed reference on the development machine,
//! ten to twenty times a naive `split('.')` parser in JS — while a gateway parses references on
//! its hot path and `Reference.parse` should cost about what that naive parser costs. So a
//! parse is **one** native call,
//! [`parse_reference`], which
//! 1. reads the string into a stack buffer (one napi call, no allocation for valid input),
//! 2. parses it with [`Reference::parse`] (all rules live there),
//! 3. writes where each part is into a small buffer shared with JavaScript ([`SLOTS`] `i32`s,
//!    no napi call) and returns the canonical form only when it differs from the input,
//!
//! and `index.js` builds a plain JavaScript object from that. It knows nothing of the grammar: a
//! part is a span of the canonical text, an entry of [`CONSTANTS`] (defined here), or null.
//!
//! Errors are thrown from here as `RUNBEAM_INVALID_REFERENCE` (core) or
//! `RUNBEAM_INVALID_ARGUMENT` (not a string) with the core's message. [`parse_reference`] reads
//! its argument itself (not through `crate::arg`): into a stack buffer, without allocating.

use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::ptr;

use napi::bindgen_prelude::{
    Env, FromNapiValue, Function, JsObjectValue, JsValue, Object, ObjectRef, Result, ToNapiValue,
    Unknown,
};
use napi::{JsString, sys};
use napi_derive::napi;
use runbeam_core::reference::LOCAL_PROVIDER;
use runbeam_core::{Lookup, Reference, ResourceType};

use crate::{arg, error};

/// Length of the shared buffer, in `i32`s. Layout: five parts (provider, team, type, lookup,
/// value), two slots each, then `isLocal` (0 or 1). A part is `(start, end)`: a span of the
/// canonical text; `(-1, i)`: `CONSTANTS[i]`; `(-2, 0)`: null.
pub(crate) const SLOTS: usize = 11;
const CONSTANT: i32 = -1;
const NULL: i32 = -2;

/// Bytes read without allocating; longer input is over [`MAX_REFERENCE_LEN`] anyway.
///
/// [`MAX_REFERENCE_LEN`]: runbeam_core::reference::MAX_REFERENCE_LEN
const STACK_BYTES: usize = runbeam_core::reference::MAX_REFERENCE_LEN + 8;

/// Strings that are not spans of the canonical text: the implicit provider, the resource types,
/// the lookup keywords. JavaScript receives this table once, so these values are shared strings.
const CONSTANTS: [&str; 3 + ResourceType::ALL.len()] = {
    let mut all = [""; 3 + ResourceType::ALL.len()];
    all[0] = LOCAL_PROVIDER;
    let mut i = 0;
    while i < ResourceType::ALL.len() {
        all[1 + i] = ResourceType::ALL[i].as_str();
        i += 1;
    }
    all[1 + i] = Lookup::Id.as_str();
    all[2 + i] = Lookup::Name.as_str();
    all
};

/// Index in [`CONSTANTS`] of the first resource type.
const TYPE_BASE: i32 = 1;

fn lookup_index(lookup: Lookup) -> i32 {
    let base = TYPE_BASE + ResourceType::ALL.len() as i32;
    match lookup {
        Lookup::Id => base,
        Lookup::Name => base + 1,
    }
}

fn constant_index(text: &str) -> Option<i32> {
    CONSTANTS.iter().position(|c| *c == text).map(|i| i as i32)
}

/// Where each part of `reference` is; `None` only if a part is neither in the canonical text
/// nor a constant (a broken invariant, reported as `RUNBEAM_INTERNAL`).
fn encode(reference: &Reference) -> Option<[i32; SLOTS]> {
    let canonical = reference.as_str();
    let base = canonical.as_ptr() as usize;
    let text_part = |part: &str| -> Option<(i32, i32)> {
        // Parts are sub-slices of the canonical text, except the constants.
        let start = (part.as_ptr() as usize).wrapping_sub(base);
        match start.checked_add(part.len()) {
            Some(end) if end <= canonical.len() => Some((start as i32, end as i32)),
            _ => constant_index(part).map(|i| (CONSTANT, i)),
        }
    };
    let parts = [
        text_part(reference.provider())?,
        match reference.team() {
            Some(team) => text_part(team)?,
            None => (NULL, 0),
        },
        match reference.resource_type() {
            Some(t) => (
                CONSTANT,
                TYPE_BASE + ResourceType::ALL.iter().position(|&x| x == t)? as i32,
            ),
            None => (NULL, 0),
        },
        (CONSTANT, lookup_index(reference.lookup())),
        text_part(reference.value())?,
    ];
    let mut slots = [0; SLOTS];
    for (i, (a, b)) in parts.into_iter().enumerate() {
        slots[2 * i] = a;
        slots[2 * i + 1] = b;
    }
    slots[SLOTS - 1] = i32::from(reference.is_local());
    Some(slots)
}

/// Per-thread state: Node runs one environment per thread (main thread, each Worker).
struct Registry {
    /// The shared buffer, kept alive for the thread's lifetime.
    scratch: Option<ObjectRef<false>>,
    /// Every JavaScript `Reference` class that registered, with its `canonicalOf` function
    /// (one per evaluation of `index.js`; test runners may evaluate it more than once). The
    /// last one makes new references.
    classes: Vec<(ObjectRef<false>, ObjectRef<false>)>,
}

thread_local! {
    /// Memory behind the shared buffer. Leaked on purpose (44 bytes per thread): it must stay
    /// valid whatever JavaScript does with the `ArrayBuffer` (even detaching it).
    static SCRATCH: Cell<*mut i32> = const { Cell::new(ptr::null_mut()) };
    static REGISTRY: RefCell<Registry> = const {
        RefCell::new(Registry { scratch: None, classes: Vec::new() })
    };
}

/// Registers the JavaScript `Reference` class and its `canonicalOf(value)` function (the
/// canonical form of a `Reference`, `undefined` for anything else), and returns
/// `{scratch, constants}`: the shared buffer ([`SLOTS`] int32s) that [`parse_reference`] fills
/// and the [`CONSTANTS`] parts refer to. Internal: called by `index.js` when it is loaded.
#[napi(js_name = "__referenceInit", skip_typescript)]
pub fn reference_init<'env>(
    env: &'env Env,
    class: Function<'env>,
    canonical_of: Function<'env>,
) -> Result<Object<'env>> {
    error::entry(env, "referenceInit", || {
        let class = Object::from_raw(env.raw(), class.raw());
        let canonical_of = Object::from_raw(env.raw(), canonical_of.raw());
        let scratch = REGISTRY.with(|registry| -> Result<sys::napi_value> {
            let mut registry = registry.borrow_mut();
            registry.classes.push((
                class.create_ref::<false>()?,
                canonical_of.create_ref::<false>()?,
            ));
            if let Some(existing) = &registry.scratch {
                return Ok(existing.get_value(env)?.raw());
            }
            let buffer = create_scratch(env)?;
            registry.scratch = Some(buffer.create_ref::<false>()?);
            Ok(buffer.raw())
        })?;
        let mut support = Object::new(env)?;
        // SAFETY: `scratch` is a live value of `env` (just created or taken from its reference).
        support.set("scratch", unsafe {
            Unknown::from_raw_unchecked(env.raw(), scratch)
        })?;
        support.set("constants", CONSTANTS.to_vec())?;
        Ok(support)
    })
}

fn create_scratch<'env>(env: &'env Env) -> Result<Object<'env>> {
    let memory: &'static mut [i32; SLOTS] = Box::leak(Box::new([0; SLOTS]));
    let data = memory.as_mut_ptr();
    let mut value = ptr::null_mut();
    // SAFETY: `data` points to `SLOTS` i32s that are never freed; no finalizer is needed.
    let status = unsafe {
        sys::napi_create_external_arraybuffer(
            env.raw(),
            data.cast(),
            SLOTS * size_of::<i32>(),
            None,
            ptr::null_mut(),
            &mut value,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(error::internal(
            env,
            format!("cannot create the Reference buffer (napi status {status})"),
        ));
    }
    SCRATCH.with(|scratch| scratch.set(data));
    Ok(Object::from_raw(env.raw(), value))
}

/// The canonical form of `value` if it is a `Reference` of a registered class, else `None`.
pub(crate) fn canonical_of(env: &Env, value: Unknown<'_>) -> Result<Option<String>> {
    let functions = REGISTRY.with(|registry| {
        registry
            .borrow()
            .classes
            .iter()
            .map(|(_, canonical_of)| canonical_of.get_value(env).map(|f| f.raw()))
            .collect::<Result<Vec<_>>>()
    })?;
    for function in functions {
        // SAFETY: `function` is a live function of `env` (registered by `index.js`); it
        // returns a string or `undefined`.
        let function: Function<'_, Unknown<'_>, Option<String>> =
            unsafe { Function::from_napi_value(env.raw(), function) }?;
        if let Some(canonical) = function.call(value)? {
            return Ok(Some(canonical));
        }
    }
    Ok(None)
}

/// A `Reference` object for JavaScript, built by the registered class from a canonical form.
pub struct JsReference(pub(crate) String);

impl ToNapiValue for JsReference {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        // Converted by napi after the entry returned: its own panic boundary.
        let env = Env::from_raw(env);
        error::entry(&env, "Reference", || val.build(&env))
    }
}

impl JsReference {
    /// The `Reference` object, made by the registered class's `parse`.
    fn build(self, env: &Env) -> Result<sys::napi_value> {
        let class = REGISTRY.with(|registry| {
            registry
                .borrow()
                .classes
                .last()
                .map(|(class, _)| class.get_value(env).map(|class| class.raw()))
                .transpose()
        })?;
        let Some(class) = class else {
            return Err(error::internal(
                env,
                "the Reference class is not registered",
            ));
        };
        let class = Object::from_raw(env.raw(), class);
        let parse: Function<'_, JsString<'_>, Unknown<'_>> = class.get_named_property("parse")?;
        let reference = parse.apply(class, env.create_string(&self.0)?)?;
        Ok(reference.raw())
    }
}

/// Parses `text` and fills the shared buffer; returns the canonical form, or null when it is
/// `text` itself. Internal: `Reference.parse` in `index.js` is the public API.
#[napi(js_name = "__parseReference", skip_typescript)]
pub fn parse_reference<'env>(
    env: &'env Env,
    text: Unknown<'env>,
) -> Result<Option<JsString<'env>>> {
    error::entry(env, "parseReference", || {
        // Not zeroed: napi writes the first `len` bytes, and only those are read.
        let mut buffer = [MaybeUninit::<u8>::uninit(); STACK_BYTES];
        let mut len = 0;
        // SAFETY: the buffer holds `STACK_BYTES` bytes; napi writes at most that many, NUL included.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                env.raw(),
                text.raw(),
                buffer.as_mut_ptr().cast(),
                STACK_BYTES,
                &mut len,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(not_a_string(env, &text));
        }
        // SAFETY: napi initialised `len` bytes (fewer than `STACK_BYTES`).
        let bytes: &[u8] =
            unsafe { std::slice::from_raw_parts(buffer.as_ptr().cast(), len.min(STACK_BYTES)) };
        // napi stops before a character that does not fit, so a short result is the whole string.
        let whole = len + 4 < STACK_BYTES;
        let input = if !whole {
            None
        } else if bytes.is_ascii() {
            // SAFETY: ASCII is UTF-8 (checked word by word: cheaper than `from_utf8`).
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).ok()
        };
        let (reference, same) = match input {
            Some(input) => {
                // The common case: read in full without allocating.
                let reference = error::core(env, || Reference::parse(input))?;
                let same = reference.as_str() == input;
                (reference, same)
            }
            None => {
                // Longer than any reference: read it all for the core's message (a string:
                // napi read it above).
                let input = text.coerce_to_string()?.into_utf8()?.into_owned()?;
                let reference = error::core(env, || Reference::parse(&input))?;
                let same = reference.as_str() == input;
                (reference, same)
            }
        };
        let slots = encode(&reference)
            .ok_or_else(|| error::internal(env, "a reference part is not in its canonical text"))?;
        let scratch = SCRATCH.with(Cell::get);
        if scratch.is_null() {
            return Err(error::internal(env, "Reference support is not initialised"));
        }
        // SAFETY: `scratch` points to `SLOTS` i32s leaked by `create_scratch`, valid forever; this
        // thread is the only writer and JavaScript reads it only after this call returns.
        unsafe { ptr::copy_nonoverlapping(slots.as_ptr(), scratch, SLOTS) };
        if same {
            Ok(None)
        } else {
            // The canonical form is ASCII, which Latin-1 encodes as is (the cheapest conversion).
            Ok(Some(
                env.create_string_latin1(reference.as_str().as_bytes())?,
            ))
        }
    })
}

#[cold]
fn not_a_string(env: &Env, text: &Unknown<'_>) -> napi::Error {
    error::invalid_argument(
        env,
        format!(
            "Reference.parse() expects a string, not {}",
            arg::describe(text)
        ),
    )
}

/// Whether two canonical forms name the same resource (runbeam-core's equality).
/// Internal: backs `Reference.prototype.equals`.
#[napi(js_name = "__referencesEqual", skip_typescript)]
pub fn references_equal(
    env: &Env,
    a: arg::ReferenceLike<'_>,
    b: arg::ReferenceLike<'_>,
) -> Result<bool> {
    error::entry(
        env,
        "referencesEqual",
        || Ok(a.parse(env)? == b.parse(env)?),
    )
}
