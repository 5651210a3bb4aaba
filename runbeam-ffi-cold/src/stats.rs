//! Counters of resolvers, validators and token managers (`runbeam_*_stats_get`) and their
//! Prometheus text (`runbeam_metrics`), over `runbeam_core::metrics`.
//!
//! The stats structs are plain snapshots the caller allocates (on the stack). So that they can
//! gain counters without changing size or layout — which would break programs compiled
//! against an older header — each ends with `reserved` slots: always 0 today, a later version
//! puts new counters there (a program built against the older header simply does not read
//! them; a newer program on an older library reads 0). More counters than that would come as a
//! new struct with its own `_get` function; existing members are never moved or removed.
//!
//! Failures by kind (`runbeam_error_counts`) are counted per `runbeam_status` code: the slots
//! are read through `runbeam_error_counts_get()` (by status) and
//! `runbeam_error_counts_status_at()` (to walk them), both of the library that filled them,
//! so a new error kind needs no new member either.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};

use runbeam_core::jwt::Validator;
use runbeam_core::metrics::{ErrorCounts, Exposition, TokenManagerStats, ValidatorStats};
use runbeam_core::resolve::{Resolver, ResolverStats};
use runbeam_core::storage::TokenManager;
use runbeam_core::{Error, ErrorKind};

use crate::guard::{
    free_handle, guard, guard_value, handle_arg, invalid_argument, out_arg, str_arg,
};
use crate::limits::RUNBEAM_MAX_TEXT_BYTES;
use crate::resolver::runbeam_resolver;
use crate::status::{RUNBEAM_OK, runbeam_status};
use crate::storage::runbeam_token_manager;
use crate::strings::into_c_string;
use crate::validator::runbeam_validator;

/// How many error kinds a `runbeam_error_counts` can hold (more than librunbeam has: new
/// kinds fit without changing the struct).
pub const RUNBEAM_ERROR_COUNT_SLOTS: usize = 64;

/// Unused counters at the end of each stats struct, for counters later versions add.
pub const RUNBEAM_STATS_RESERVED: usize = 8;

const _: () = assert!(ErrorKind::ALL.len() <= RUNBEAM_ERROR_COUNT_SLOTS);

/// Failures counted by kind. Read a kind's count with `runbeam_error_counts_get(&counts,
/// RUNBEAM_STATUS_JWT_EXPIRED)`; walk the kinds with `runbeam_error_counts_status_at()`. The
/// order of `by_kind` is the library's: do not index it yourself.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct runbeam_error_counts {
    /// All failures (the sum of every kind).
    pub total: u64,
    /// The count of each kind, in the library's order (see `runbeam_error_counts_get()`).
    pub by_kind: [u64; RUNBEAM_ERROR_COUNT_SLOTS],
}

impl Default for runbeam_error_counts {
    fn default() -> Self {
        runbeam_error_counts {
            total: 0,
            by_kind: [0; RUNBEAM_ERROR_COUNT_SLOTS],
        }
    }
}

impl From<&ErrorCounts> for runbeam_error_counts {
    fn from(counts: &ErrorCounts) -> Self {
        let mut c = runbeam_error_counts {
            total: counts.total(),
            ..Default::default()
        };
        for (slot, kind) in c.by_kind.iter_mut().zip(ErrorKind::ALL) {
            *slot = counts.get(kind);
        }
        c
    }
}

/// Counters of a JWT validator since it was built (`runbeam_validator_stats_get()`), and of
/// a resolver's mesh-token validators (`runbeam_resolver_stats.mesh_validation`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct runbeam_validator_stats {
    /// Tokens answered from the verified-token cache (times re-checked, no signature).
    pub cache_hits: u64,
    /// Signatures checked.
    pub verifications: u64,
    /// JWKS fetches attempted.
    pub jwks_fetches: u64,
    /// JWKS fetches that failed (the keys fetched before stay in use up to the max-stale time).
    pub jwks_fetch_failures: u64,
    /// Verified tokens remembered now.
    pub cached_tokens: u64,
    /// Tokens refused or not validated, by kind (`RUNBEAM_STATUS_JWT_EXPIRED`,
    /// `_JWT_INVALID`, `_UNTRUSTED_ISSUER`, a key fetch's `_TRANSPORT`, …).
    pub failures: runbeam_error_counts,
    /// 0; later versions put new counters here (see the stats conventions).
    pub reserved: [u64; RUNBEAM_STATS_RESERVED],
}

impl From<&ValidatorStats> for runbeam_validator_stats {
    fn from(s: &ValidatorStats) -> Self {
        runbeam_validator_stats {
            cache_hits: s.cache_hits,
            verifications: s.verifications,
            jwks_fetches: s.jwks_fetches,
            jwks_fetch_failures: s.jwks_fetch_failures,
            cached_tokens: s.cached_tokens,
            failures: (&s.failures).into(),
            reserved: [0; RUNBEAM_STATS_RESERVED],
        }
    }
}

/// Counters of a token manager since it was built (`runbeam_token_manager_stats_get()`).
/// Renewals made for a resolver built from the manager count here too.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct runbeam_token_manager_stats {
    /// Machine tokens obtained or renewed (authorized and saved).
    pub renewals: u64,
    /// Renewals that failed (the current token stays in use while it is valid).
    pub renewal_failures: u64,
    /// 0; later versions put new counters here (see the stats conventions).
    pub reserved: [u64; RUNBEAM_STATS_RESERVED],
}

impl From<&TokenManagerStats> for runbeam_token_manager_stats {
    fn from(s: &TokenManagerStats) -> Self {
        runbeam_token_manager_stats {
            renewals: s.renewals,
            renewal_failures: s.renewal_failures,
            reserved: [0; RUNBEAM_STATS_RESERVED],
        }
    }
}

/// Counters of a resolver since it was built (`runbeam_resolver_stats_get()`), for metrics.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct runbeam_resolver_stats {
    /// Resolutions answered from the cache while fresh.
    pub hits: u64,
    /// Resolutions that waited for an upstream answer (joined or started a request).
    pub misses: u64,
    /// Requests sent to a provider's resolve endpoint.
    pub upstream_requests: u64,
    /// Stale answers served because a provider failed.
    pub stale_served: u64,
    /// Local references answered from the configuration.
    pub local: u64,
    /// Mesh tokens requested from a provider (or signed, for a `local` mesh).
    pub mesh_token_requests: u64,
    /// References with a cached answer now (fresh or stale).
    pub cached_references: u64,
    /// Mesh tokens remembered now.
    pub cached_mesh_tokens: u64,
    /// Resolutions and mesh-token calls that failed, by kind (`RUNBEAM_STATUS_NOT_IN_MESH`,
    /// `_NOT_FOUND`, `_TRANSPORT` when no stale answer could be served, …).
    pub errors: runbeam_error_counts,
    /// The validators that verify mesh tokens (issued ones, and those presented to
    /// `runbeam_resolver_verify_mesh_token()`), summed.
    pub mesh_validation: runbeam_validator_stats,
    /// 0; later versions put new counters here (see the stats conventions).
    pub reserved: [u64; RUNBEAM_STATS_RESERVED],
}

impl From<&ResolverStats> for runbeam_resolver_stats {
    fn from(s: &ResolverStats) -> Self {
        runbeam_resolver_stats {
            hits: s.hits,
            misses: s.misses,
            upstream_requests: s.upstream_requests,
            stale_served: s.stale_served,
            local: s.local,
            mesh_token_requests: s.mesh_token_requests,
            cached_references: s.cached_references,
            cached_mesh_tokens: s.cached_mesh_tokens,
            errors: (&s.errors).into(),
            mesh_validation: (&s.mesh_validation).into(),
            reserved: [0; RUNBEAM_STATS_RESERVED],
        }
    }
}

/// Runs `body` and writes its snapshot to `out`.
fn write_stats<T>(
    function: &str,
    out: *mut T,
    body: impl FnOnce() -> Result<T, Error>,
) -> runbeam_status {
    guard(function, || {
        let out = out_arg(out, "out")?;
        let value = body()?;
        // SAFETY: non-NULL and writable (the callers' contract).
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Writes the resolver's counters (see `runbeam_resolver_stats`) to `*out`.
///
/// ```c
/// runbeam_resolver_stats st;
/// if (runbeam_resolver_stats_get(resolver, &st) == RUNBEAM_OK)
///     printf("hits %llu, upstream %llu, not in mesh %llu\n", (unsigned long long)st.hits,
///            (unsigned long long)st.upstream_requests,
///            (unsigned long long)runbeam_error_counts_get(&st.errors, RUNBEAM_STATUS_NOT_IN_MESH));
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_stats_get(
    resolver: *const runbeam_resolver,
    out: *mut runbeam_resolver_stats,
) -> runbeam_status {
    write_stats("runbeam_resolver_stats_get", out, || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        Ok((&r.resolver.stats()).into())
    })
}

/// Writes the validator's counters (see `runbeam_validator_stats`) to `*out`.
///
/// ```c
/// runbeam_validator_stats st;
/// if (runbeam_validator_stats_get(users, &st) == RUNBEAM_OK)
///     printf("verified %llu, expired %llu\n", (unsigned long long)st.verifications,
///            (unsigned long long)runbeam_error_counts_get(&st.failures, RUNBEAM_STATUS_JWT_EXPIRED));
/// ```
///
/// # Safety
/// `validator` is NULL or a live validator; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_validator_stats_get(
    validator: *const runbeam_validator,
    out: *mut runbeam_validator_stats,
) -> runbeam_status {
    write_stats("runbeam_validator_stats_get", out, || {
        // SAFETY: forwarded contract.
        let v = unsafe { handle_arg(validator, "validator") }?;
        Ok((&v.validator.stats()).into())
    })
}

/// Writes the token manager's counters (see `runbeam_token_manager_stats`) to `*out`.
///
/// ```c
/// runbeam_token_manager_stats st;
/// if (runbeam_token_manager_stats_get(manager, &st) == RUNBEAM_OK && st.renewal_failures > 0)
///     alert("machine-token renewals are failing");
/// ```
///
/// # Safety
/// `manager` is NULL or a live token manager; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_token_manager_stats_get(
    manager: *const runbeam_token_manager,
    out: *mut runbeam_token_manager_stats,
) -> runbeam_status {
    write_stats("runbeam_token_manager_stats_get", out, || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(manager, "manager") }?;
        Ok((&m.manager.stats()).into())
    })
}

/// The count of the kind whose status code is `status` (`RUNBEAM_STATUS_JWT_EXPIRED`, …);
/// 0 for `RUNBEAM_OK`, a number that is not a status, or a NULL `counts`.
///
/// # Safety
/// `counts` is NULL or points to a `runbeam_error_counts` filled by librunbeam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_error_counts_get(
    counts: *const runbeam_error_counts,
    status: runbeam_status,
) -> u64 {
    guard_value("runbeam_error_counts_get", 0, || {
        // SAFETY: NULL or readable (contract).
        let Some(counts) = (unsafe { counts.as_ref() }) else {
            return 0;
        };
        ErrorKind::ALL
            .iter()
            .position(|k| k.c_status() == status)
            .and_then(|i| counts.by_kind.get(i).copied())
            .unwrap_or(0)
    })
}

/// The status code counted in slot `index` of a `runbeam_error_counts` (`by_kind[index]`),
/// or `RUNBEAM_OK` past the last kind: walk them with `index` from 0 until it returns
/// `RUNBEAM_OK`.
///
/// ```c
/// for (size_t i = 0; runbeam_error_counts_status_at(i) != RUNBEAM_OK; i++)
///     if (st.errors.by_kind[i] > 0)
///         printf("%s: %llu\n", runbeam_status_str(runbeam_error_counts_status_at(i)),
///                (unsigned long long)st.errors.by_kind[i]);
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_error_counts_status_at(index: usize) -> runbeam_status {
    ErrorKind::ALL
        .get(index)
        .map_or(RUNBEAM_OK, |k| k.c_status())
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

enum Source {
    Resolver(Resolver),
    Validator(Validator),
    TokenManager(Arc<TokenManager>),
}

/// The Prometheus text of named resolvers, validators and token managers, for a gateway's
/// `/metrics` endpoint. Build it once at start-up (`runbeam_metrics_new()`, then
/// `runbeam_metrics_add_resolver()`, `_add_validator()`, `_add_token_manager()`), and call
/// `runbeam_metrics_render()` on every scrape: it reads the counters at that moment.
///
/// It keeps the counters of what was added alive, not the handles: the handles may be freed
/// while it lives (their counters then stop moving and keep being rendered until
/// `runbeam_metrics_free()`). Thread-safe: adding and rendering may happen on any threads.
#[allow(non_camel_case_types)]
pub struct runbeam_metrics {
    sources: Mutex<Vec<(String, Source)>>,
}

/// Creates an empty exposition at `*out` (release with `runbeam_metrics_free()`).
///
/// ```c
/// runbeam_metrics *metrics = NULL;
/// runbeam_metrics_new(&metrics);
/// runbeam_metrics_add_resolver(metrics, "mesh", resolver);
/// runbeam_metrics_add_validator(metrics, "users", users);
/// runbeam_metrics_add_token_manager(metrics, "gateway", manager);
/// ...   // on GET /metrics:
/// char *text = NULL;
/// if (runbeam_metrics_render(metrics, &text) == RUNBEAM_OK) {
///     respond(200, runbeam_metrics_content_type(), text);
///     runbeam_string_free(text);
/// }
/// ```
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_new(out: *mut *mut runbeam_metrics) -> runbeam_status {
    guard("runbeam_metrics_new", || {
        let out = out_arg(out, "out")?;
        let handle = Box::new(runbeam_metrics {
            sources: Mutex::new(Vec::new()),
        });
        // SAFETY: non-NULL and writable (contract).
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// The name every sample of the object carries (`name="…"`): non-empty UTF-8 of at most
/// `RUNBEAM_MAX_TEXT_BYTES`, unique per kind of object.
///
/// # Safety
/// `name` is NULL or NUL-terminated.
unsafe fn name_arg<'a>(name: *const c_char) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let name = unsafe { str_arg(name, "name") }?;
    if name.is_empty() {
        return Err(invalid_argument("argument 'name' is empty".to_string()));
    }
    if name.len() > RUNBEAM_MAX_TEXT_BYTES {
        return Err(invalid_argument(format!(
            "argument 'name' is {} bytes, over the maximum of {RUNBEAM_MAX_TEXT_BYTES} \
             (RUNBEAM_MAX_TEXT_BYTES)",
            name.len()
        )));
    }
    Ok(name)
}

/// The validator names a source shows up as (a resolver's mesh validators: `<name>:mesh`).
fn validator_name(name: &str, source: &Source) -> Option<String> {
    match source {
        Source::Resolver(_) => Some(format!("{name}:mesh")),
        Source::Validator(_) => Some(name.to_owned()),
        Source::TokenManager(_) => None,
    }
}

fn same_kind(a: &Source, b: &Source) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// # Safety
/// `metrics` is NULL or live; `name` is NULL or NUL-terminated.
unsafe fn add(
    function: &str,
    metrics: *const runbeam_metrics,
    name: *const c_char,
    source: impl FnOnce() -> Result<Source, Error>,
) -> runbeam_status {
    guard(function, || {
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(metrics, "metrics") }?;
        // SAFETY: forwarded contract.
        let name = unsafe { name_arg(name) }?;
        let source = source()?;
        let mut sources = m.sources.lock().unwrap_or_else(|e| e.into_inner());
        let as_validator = validator_name(name, &source);
        for (other, existing) in sources.iter() {
            let clash = (same_kind(existing, &source) && other == name)
                || (as_validator.is_some() && validator_name(other, existing) == as_validator);
            if clash {
                return Err(invalid_argument(format!(
                    "argument 'name': '{name}' is already used by another object of these \
                     metrics (a resolver's mesh validators are named '<name>:mesh')"
                )));
            }
        }
        sources.push((name.to_owned(), source));
        Ok(())
    })
}

/// Adds `resolver` under `name`: its `runbeam_resolver_*` samples, and its mesh-token
/// validators' `runbeam_validator_*` samples under `<name>:mesh`.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL handle or name, a name that is empty,
/// not UTF-8 or already used by another resolver (or whose `<name>:mesh` is a validator's
/// name).
///
/// # Safety
/// `metrics` and `resolver` are NULL or live handles; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_add_resolver(
    metrics: *const runbeam_metrics,
    name: *const c_char,
    resolver: *const runbeam_resolver,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        add("runbeam_metrics_add_resolver", metrics, name, || {
            let r = handle_arg(resolver, "resolver")?;
            Ok(Source::Resolver(r.resolver.clone()))
        })
    }
}

/// Adds `validator` under `name` (`runbeam_validator_*` samples). Errors as
/// `runbeam_metrics_add_resolver()`.
///
/// # Safety
/// `metrics` and `validator` are NULL or live handles; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_add_validator(
    metrics: *const runbeam_metrics,
    name: *const c_char,
    validator: *const runbeam_validator,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        add("runbeam_metrics_add_validator", metrics, name, || {
            let v = handle_arg(validator, "validator")?;
            Ok(Source::Validator(v.validator.clone()))
        })
    }
}

/// Adds `manager` under `name` (`runbeam_token_manager_*` samples). Errors as
/// `runbeam_metrics_add_resolver()`.
///
/// # Safety
/// `metrics` and `manager` are NULL or live handles; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_add_token_manager(
    metrics: *const runbeam_metrics,
    name: *const c_char,
    manager: *const runbeam_token_manager,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        add("runbeam_metrics_add_token_manager", metrics, name, || {
            let m = handle_arg(manager, "manager")?;
            Ok(Source::TokenManager(Arc::clone(&m.manager)))
        })
    }
}

/// The Prometheus text exposition (format 0.0.4) of everything added, with the counters as
/// they are now, in `*out` (release with `runbeam_string_free()`). Each family's `# HELP` and
/// `# TYPE` lines come once, then one `name{labels} value` line per sample; failures by kind
/// carry `kind="<ErrorKind>"` (`JwtExpired`, `NotInMesh`, …). Families without samples are
/// left out (an empty exposition is `""`). Serve it with `runbeam_metrics_content_type()`.
///
/// # Safety
/// `metrics` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_render(
    metrics: *const runbeam_metrics,
    out: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_metrics_render", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let m = unsafe { handle_arg(metrics, "metrics") }?;
        let mut exposition = Exposition::new();
        for (name, source) in m.sources.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            match source {
                Source::Resolver(r) => exposition.resolver(name, &r.stats()),
                Source::Validator(v) => exposition.validator(name, &v.stats()),
                Source::TokenManager(t) => exposition.token_manager(name, &t.stats()),
            };
        }
        let text = exposition.render();
        // SAFETY: non-NULL and writable (contract).
        unsafe { *out = into_c_string(&text) };
        Ok(())
    })
}

/// The HTTP content type of `runbeam_metrics_render()`'s text:
/// `"text/plain; version=0.0.4; charset=utf-8"` (static; do not free).
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_metrics_content_type() -> *const c_char {
    const TYPE: &std::ffi::CStr = c"text/plain; version=0.0.4; charset=utf-8";
    const _: () = assert!(TYPE.to_bytes().len() == Exposition::CONTENT_TYPE.len());
    TYPE.as_ptr()
}

/// Releases the exposition (and with it the counters of the objects it kept). NULL is a
/// no-op.
///
/// # Safety
/// `metrics` is NULL or a handle not freed before, no longer used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_metrics_free(metrics: *mut runbeam_metrics) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_metrics_free", metrics) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_counts_map_every_status_to_its_slot() {
        let mut counts = runbeam_error_counts::default();
        for (i, slot) in counts.by_kind.iter_mut().enumerate() {
            *slot = i as u64 + 1;
        }
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(runbeam_error_counts_status_at(i), kind.c_status());
            // SAFETY: a live struct.
            assert_eq!(
                unsafe { runbeam_error_counts_get(&counts, kind.c_status()) },
                i as u64 + 1
            );
        }
        assert_eq!(
            runbeam_error_counts_status_at(ErrorKind::ALL.len()),
            RUNBEAM_OK
        );
        // SAFETY: a live struct and NULL.
        unsafe {
            assert_eq!(runbeam_error_counts_get(&counts, RUNBEAM_OK), 0);
            assert_eq!(runbeam_error_counts_get(&counts, 12345), 0);
            assert_eq!(runbeam_error_counts_get(std::ptr::null(), 400), 0);
        }
    }

    #[test]
    fn the_content_type_is_the_core_one() {
        // SAFETY: a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(runbeam_metrics_content_type()) };
        assert_eq!(text.to_str().unwrap(), Exposition::CONTENT_TYPE);
    }
}
