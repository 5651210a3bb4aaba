//! `runbeam_resolver`: mesh resource resolution and mesh tokens (docs/spec.md §6) for C.
//!
//! A resolver handle wraps the core `Resolver` (cache by canonical reference with the
//! provider's TTL, single-flight, stale answers while a provider fails, mesh tokens reused
//! until shortly before expiry) and shares the tokio runtime of the client handle it was built
//! from. Like the validator, the blocking forms answer a cache hit on the calling thread
//! without I/O or a thread hop, and use the runtime only when a request is needed; the
//! `_cached` forms never do I/O; the `_async` forms call their callback exactly once on a
//! runtime thread.
//!
//! Answers are handles: `runbeam_resolution` (typed getters plus the JSON envelope) and
//! `runbeam_issued_mesh_token` (the token through one explicit accessor, zeroized on free; its
//! verified claims as a `runbeam_claims` handle).
//!
//! The calls a gateway makes per request are compiled in runbeam-ffi's module of the same name
//! (this crate's docs): the handle types and what both crates share are here.

use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runbeam_core::Error;
use runbeam_core::attempt::Attempt;
use runbeam_core::jwt::{Claims, ValidatorBuilder};
use runbeam_core::resolve::{IssuedMeshToken, Resolution, Resolver};
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::claims::runbeam_claims;
use crate::client::{runbeam_cancel, runbeam_client};
use crate::config::runbeam_mesh_config;
use crate::error::to_cstring;
use crate::guard::{
    free_handle, guard, handle_arg, invalid_argument, out_arg, read_handle, str_arg,
};
use crate::limits::{RUNBEAM_MAX_CACHE_ENTRIES, at_most};
use crate::runtime::{CallbackOwner, Runtime};
use crate::status::runbeam_status;
use crate::storage::runbeam_token_manager;
use crate::strings::secret_c_bytes;
use crate::validator::{mesh_args, runbeam_claims_callback, runbeam_validator_config, token_arg};

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// Settings of a resolver beyond its configuration, filled by the
/// `runbeam_resolver_config_set_*` setters and read by `runbeam_resolver_new()` (which also
/// accepts NULL for all defaults). Create with `runbeam_resolver_config_new()`, release with
/// `runbeam_resolver_config_free()`. Not thread-safe while being set; may build several
/// resolvers.
#[allow(non_camel_case_types)]
pub struct runbeam_resolver_config {
    max_stale: Option<Duration>,
    mesh_token_margin: Option<Duration>,
    mesh_token_capacity: Option<usize>,
    validator: Option<ValidatorBuilder>,
}

/// Starts resolver options with the defaults: stale answers served for at most 1 h while a
/// provider fails, mesh tokens renewed 30 s before expiry, at most 1024 mesh tokens kept, and
/// the validator defaults of docs/spec.md §4 for mesh tokens.
///
/// ```c
/// runbeam_resolver_config *opts = NULL;
/// runbeam_resolver_config_new(&opts);
/// runbeam_resolver_config_set_max_stale_ms(opts, 10 * 60 * 1000);
/// runbeam_resolver_new(cfg, client, manager, opts, &resolver);
/// runbeam_resolver_config_free(opts);
/// ```
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_new(
    out: *mut *mut runbeam_resolver_config,
) -> runbeam_status {
    guard("runbeam_resolver_config_new", || {
        let out = out_arg(out, "out")?;
        let options = Box::new(runbeam_resolver_config {
            max_stale: None,
            mesh_token_margin: None,
            mesh_token_capacity: None,
            validator: None,
        });
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(options) };
        Ok(())
    })
}

/// # Safety
/// `options` is NULL or live options not used by another thread during the call.
unsafe fn with_options(
    function: &str,
    options: *mut runbeam_resolver_config,
    body: impl FnOnce(&mut runbeam_resolver_config) -> Result<(), Error>,
) -> runbeam_status {
    guard(function, || {
        // SAFETY: per the contract, non-NULL means live and exclusively used.
        let options = unsafe { options.as_mut() }
            .ok_or_else(|| invalid_argument("argument 'options' is NULL".to_string()))?;
        body(options)
    })
}

/// How old a cached answer may be and still be served (flagged stale) when its provider fails
/// with a transport error, timeout, 5xx, 429 or malformed answer (default 3 600 000 ms; 0
/// never serves stale answers).
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_set_max_stale_ms(
    options: *mut runbeam_resolver_config,
    max_stale_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_options("runbeam_resolver_config_set_max_stale_ms", options, |o| {
            o.max_stale = Some(Duration::from_millis(max_stale_ms));
            Ok(())
        })
    }
}

/// How long before its expiry a cached mesh token is replaced by a new one (default
/// 30 000 ms). Mesh tokens live 5 minutes; a margin of 300 000 ms or more never reuses one.
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_set_mesh_token_margin_ms(
    options: *mut runbeam_resolver_config,
    margin_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_options(
            "runbeam_resolver_config_set_mesh_token_margin_ms",
            options,
            |o| {
                o.mesh_token_margin = Some(Duration::from_millis(margin_ms));
                Ok(())
            },
        )
    }
}

/// At most this many mesh tokens (one per mesh and destination URL) are kept (default 1024;
/// 0 and values over `RUNBEAM_MAX_CACHE_ENTRIES` are `RUNBEAM_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `options` is NULL or live options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_set_mesh_token_capacity(
    options: *mut runbeam_resolver_config,
    capacity: usize,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_options(
            "runbeam_resolver_config_set_mesh_token_capacity",
            options,
            |o| {
                runbeam_core::resolve::check_mesh_token_capacity(capacity)?;
                at_most(
                    "capacity",
                    capacity,
                    RUNBEAM_MAX_CACHE_ENTRIES,
                    "RUNBEAM_MAX_CACHE_ENTRIES",
                )?;
                o.mesh_token_capacity = Some(capacity);
                Ok(())
            },
        )
    }
}

/// The settings of the JWT validators that verify mesh tokens (leeway, algorithms, JWKS
/// timings, CA bundle, …), copied from `validator_config` now (it may be freed right after).
/// Its trusted issuers and JWKS URL are not needed: the resolver trusts, for each mesh, its
/// provider's API root (and the mesh's `jwks_url` when set).
///
/// # Safety
/// `options` is NULL or live options; `validator_config` is NULL or a live validator
/// configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_set_validator_config(
    options: *mut runbeam_resolver_config,
    validator_config: *const runbeam_validator_config,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_options(
            "runbeam_resolver_config_set_validator_config",
            options,
            |o| {
                let config = handle_arg(validator_config, "validator_config")?;
                o.validator = Some(config.builder.clone().language("c"));
                Ok(())
            },
        )
    }
}

/// Releases resolver options. NULL is a no-op.
///
/// # Safety
/// `options` is NULL or options not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_config_free(options: *mut runbeam_resolver_config) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_resolver_config_free", options) }
}

// ---------------------------------------------------------------------------------------------
// Resolver handles
// ---------------------------------------------------------------------------------------------

/// Resolves mesh resource references and obtains mesh tokens, with a cache in front of the
/// Cloud. The caching rules are those of docs/spec.md §6 (one request per key however many
/// callers miss, `NOT_FOUND`/`PERMISSION_DENIED`/`UNAUTHORIZED` never cached and the first two
/// forgetting the previous answer, stale answers flagged by `runbeam_resolution_is_stale()`
/// while a provider is unwell and for at most the max-stale time).
///
/// Create with `runbeam_resolver_new()`, release with `runbeam_resolver_free()`. Thread-safe:
/// one resolver should serve every thread of a gateway (the cache is shared).
#[allow(non_camel_case_types)]
pub struct runbeam_resolver {
    pub resolver: Resolver,
    pub runtime: Runtime,
    /// Keeps the token manager's user callbacks callable (see `runbeam_resolver_new`);
    /// dropped after the runtime: the resolver's calls are settled first.
    pub(crate) manager_callbacks: Arc<CallbackOwner>,
}

/// Creates a resolver for the references of `config`. `client` supplies the HTTP settings
/// (timeouts, retries, CA bundles, `allow_insecure_http`) used for every provider, each at its
/// own `api` URL, and its runtime (shared: the runtime stops when the last client or resolver
/// handle using it is freed); its token is not used. `manager` supplies the gateway's machine
/// token, renewed when needed. `options` may be NULL (defaults). All four handles may be freed
/// right after: the resolver keeps what it needs.
///
/// That includes the token manager's credential and renewal-window callbacks: the resolver
/// renews the machine token through them (on the client's runtime), also after
/// `runbeam_token_manager_free()` returned. Their `user_data` must therefore stay valid until
/// the token manager **and** every resolver built from it are freed; the last of those frees
/// returns only once no such callback runs any more (see `runbeam_token_manager_free()`).
///
/// Nothing is fetched and the configuration is not validated here: call
/// `runbeam_resolver_validate_startup()`. Errors: `RUNBEAM_STATUS_CONFIG` when a provider's
/// `api` URL or a mesh's `jwks_url` cannot be used (the message names it).
///
/// ```c
/// runbeam_resolver *resolver = NULL;
/// if (runbeam_resolver_new(cfg, client, manager, NULL, &resolver) != RUNBEAM_OK ||
///     runbeam_resolver_validate_startup(resolver) != RUNBEAM_OK)
///     fprintf(stderr, "mesh configuration: %s\n", runbeam_last_error_message());
/// ```
///
/// # Safety
/// `config`, `client`, `manager` are NULL or live handles; `options` is NULL or live options;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_new(
    config: *const runbeam_mesh_config,
    client: *const runbeam_client,
    manager: *const runbeam_token_manager,
    options: *const runbeam_resolver_config,
    out: *mut *mut runbeam_resolver,
) -> runbeam_status {
    guard("runbeam_resolver_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let config = unsafe { handle_arg(config, "config") }?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let manager = unsafe { handle_arg(manager, "manager") }?;
        // SAFETY: NULL or live options (contract).
        let options = unsafe { options.as_ref() };
        let mut builder = Resolver::builder(
            config.inner.clone(),
            client.client.clone(),
            Arc::clone(&manager.manager),
        );
        if let Some(o) = options {
            if let Some(d) = o.max_stale {
                builder = builder.max_stale(d);
            }
            if let Some(d) = o.mesh_token_margin {
                builder = builder.mesh_token_margin(d);
            }
            if let Some(n) = o.mesh_token_capacity {
                builder = builder.mesh_token_capacity(n);
            }
            if let Some(v) = &o.validator {
                builder = builder.validator(v.clone());
            }
        }
        let handle = Box::new(runbeam_resolver {
            resolver: builder.build()?,
            runtime: client.runtime.share(),
            manager_callbacks: Arc::clone(&manager.callbacks),
        });
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Releases a resolver and its cache. When it is the last handle using the client's runtime,
/// the runtime shuts down (threads joined; from a librunbeam callback they stop in the
/// background). Handles obtained from it (resolutions, mesh tokens, claims) stay valid. NULL
/// is a no-op.
///
/// When `runbeam_resolver_free` returns, no callback of this handle's async calls can run any more: calls not
/// finished yet are cancelled and their callbacks get `RUNBEAM_STATUS_CANCELLED` before it
/// returns (on a runtime thread), and a callback that is running is waited for, however long
/// it takes. So the `user_data` of those calls may be released right after. Called
/// from inside a librunbeam callback, it cannot wait (a callback cannot wait for itself): it
/// cancels the handle's other calls, whose callbacks then run after it returned, once the
/// current callback has returned; keep their `user_data` valid until they were called.
///
/// When it is the last handle holding its token manager's callbacks (the manager and every
/// other resolver built from it were freed), it also closes them, as
/// `runbeam_token_manager_free()` does: none is called any more, and one still running is
/// waited for without a deadline — including a credential callback the SDK already gave up on
/// after its 60 s timeout (it keeps running on a blocking thread).
///
/// # Safety
/// `resolver` is NULL or a resolver not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_free(resolver: *mut runbeam_resolver) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_resolver_free", resolver) }
}

/// Checks the configuration in use (docs/spec.md §2.2) without fetching anything: `RUNBEAM_OK`, or
/// `RUNBEAM_STATUS_CONFIG` whose message lists every problem, each with its TOML path (one by
/// one from `runbeam_last_error_problems()`).
///
/// ```c
/// if (runbeam_resolver_validate_startup(resolver) != RUNBEAM_OK) {
///     fprintf(stderr, "%s\n", runbeam_last_error_message());
///     exit(1);
/// }
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_validate_startup(
    resolver: *const runbeam_resolver,
) -> runbeam_status {
    guard("runbeam_resolver_validate_startup", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        r.resolver.validate_startup()
    })
}

/// The callback of `runbeam_resolver_resolve_async()`, called **exactly once** per accepted
/// call (never for a call refused with an error status), on a librunbeam runtime thread
/// (`runbeam-worker`), never on the calling thread. When the runtime shuts down while the call
/// is in flight (the last client or resolver handle using it was freed) it is called with
/// `RUNBEAM_STATUS_CANCELLED`.
///
/// On success `status` is `RUNBEAM_OK`, `resolution` a **new handle owned by the callback**
/// (free it with `runbeam_resolution_free()`, now or later, on any thread) and `error_message`
/// NULL. On failure `resolution` is NULL, `status` the error's code and `error_message` its
/// message (valid during the call only); `runbeam_last_error_*()` on that thread describe the
/// failure during the call. The callback must not call blocking librunbeam functions that need
/// the network; `_cached` forms, `_async` calls, cancel and free functions are fine.
#[allow(non_camel_case_types)]
pub type runbeam_resolution_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        resolution: *mut runbeam_resolution,
        error_message: *const c_char,
    ),
>;

/// The callback of `runbeam_resolver_mesh_token_async()`: as `runbeam_resolution_callback`,
/// with a new `runbeam_issued_mesh_token` handle owned by the callback (free it with
/// `runbeam_issued_mesh_token_free()`, which zeroizes the token).
#[allow(non_camel_case_types)]
pub type runbeam_issued_mesh_token_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        token: *mut runbeam_issued_mesh_token,
        error_message: *const c_char,
    ),
>;

/// Callback form of `runbeam_resolver_resolve()`: returns at once (the reference is copied);
/// `callback` gets the resolution or the error exactly once on a runtime thread (see
/// `runbeam_resolution_callback`), a cache hit included. If `cancel_out` is not NULL it
/// receives a handle for `runbeam_cancel_request()` (free it with `runbeam_cancel_free()`);
/// cancelling one caller never cancels the request other callers share. A NULL callback is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// As `runbeam_resolver_resolve()`; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_resolve_async(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    callback: runbeam_resolution_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_resolver_resolve_async", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { str_arg(reference, "reference") }?;
        r.runtime.start_handle(
            "runbeam_resolver_resolve_async",
            Attempt::guarded("runbeam_resolver_resolve_async", || {
                r.resolver.resolve_attempt(reference)
            })
            .finish(),
            callback,
            runbeam_resolution::into_raw,
            user_data,
            cancel_out,
        )
    })
}

/// Callback form of `runbeam_resolver_mesh_token()` (rules: `runbeam_resolver_resolve_async()`;
/// the callback type is `runbeam_issued_mesh_token_callback`). The mesh and URL are copied.
///
/// # Safety
/// As `runbeam_resolver_mesh_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_mesh_token_async(
    resolver: *const runbeam_resolver,
    mesh: *const c_char,
    destination_url: *const c_char,
    callback: runbeam_issued_mesh_token_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_resolver_mesh_token_async", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let mesh = unsafe { str_arg(mesh, "mesh") }?.to_string();
        // SAFETY: forwarded contract.
        let destination = unsafe { str_arg(destination_url, "destination_url") }?.to_string();
        let resolver = r.resolver.clone();
        r.runtime.start_handle(
            "runbeam_resolver_mesh_token_async",
            async move { resolver.mesh_token(&mesh, &destination).await },
            callback,
            runbeam_issued_mesh_token::into_raw,
            user_data,
            cancel_out,
        )
    })
}

/// Callback form of `runbeam_resolver_verify_mesh_token()`: `callback` (a
/// `runbeam_claims_callback`) gets the claims or the error exactly once on a runtime thread;
/// the token, mesh and URL are copied (rules: `runbeam_resolver_resolve_async()`).
///
/// # Safety
/// As `runbeam_resolver_verify_mesh_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_verify_mesh_token_async(
    resolver: *const runbeam_resolver,
    token: *const c_char,
    token_len: usize,
    mesh: *const c_char,
    destination_url: *const c_char,
    callback: runbeam_claims_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_resolver_verify_mesh_token_async", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { token_arg(token, token_len) }?;
        // SAFETY: forwarded contract.
        let (mesh, dest) = unsafe { mesh_args(mesh, destination_url) }?;
        r.runtime.start_handle(
            "runbeam_resolver_verify_mesh_token_async",
            Attempt::guarded("runbeam_resolver_verify_mesh_token_async", || {
                r.resolver.verify_mesh_token_attempt(token, mesh, dest)
            })
            .finish(),
            callback,
            runbeam_claims::into_raw as fn(Arc<Claims>) -> *mut runbeam_claims,
            user_data,
            cancel_out,
        )
    })
}

/// Forgets the cached answer for `reference` (any spelling); the next resolve asks the
/// provider. When `out_dropped` is not NULL it receives whether an entry was dropped.
/// Errors: `RUNBEAM_STATUS_INVALID_REFERENCE`, `_INVALID_ARGUMENT`.
///
/// # Safety
/// `resolver` is NULL or a live resolver; `reference` is NULL or NUL-terminated;
/// `out_dropped` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_invalidate(
    resolver: *const runbeam_resolver,
    reference: *const c_char,
    out_dropped: *mut bool,
) -> runbeam_status {
    guard("runbeam_resolver_invalidate", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { str_arg(reference, "reference") }?;
        let dropped = r.resolver.invalidate(reference)?;
        if !out_dropped.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { *out_dropped = dropped };
        }
        Ok(())
    })
}

/// Forgets every cached answer and mesh token.
///
/// # Safety
/// `resolver` is NULL or a live resolver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_invalidate_all(
    resolver: *const runbeam_resolver,
) -> runbeam_status {
    guard("runbeam_resolver_invalidate_all", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        r.resolver.invalidate_all();
        Ok(())
    })
}

/// Switches to `config` (copied; it may be freed right after): validated first and refused
/// with `RUNBEAM_STATUS_CONFIG` — every problem in the message and in
/// `runbeam_last_error_problems()`; the old configuration stays in use — if it has problems.
/// Cached answers of providers whose API URL or TTL changed, and of references no longer
/// listed in an enabled mesh, are dropped, as are mesh tokens of meshes that changed.
/// Requests in flight finish against the configuration they started with.
///
/// ```c
/// runbeam_mesh_config *next = NULL;
/// if (runbeam_mesh_config_from_file("gateway.toml", &next) == RUNBEAM_OK &&
///     runbeam_resolver_reload(resolver, next) != RUNBEAM_OK)
///     fprintf(stderr, "kept the old configuration: %s\n", runbeam_last_error_message());
/// runbeam_mesh_config_free(next);
/// ```
///
/// # Safety
/// `resolver` and `config` are NULL or live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_reload(
    resolver: *const runbeam_resolver,
    config: *const runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_resolver_reload", || {
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let config = unsafe { handle_arg(config, "config") }?;
        r.resolver.reload(config.inner.clone())
    })
}

// ---------------------------------------------------------------------------------------------
// Resolutions
// ---------------------------------------------------------------------------------------------

/// The answer of a resolve: the resource (type, ids, name, URLs, protocol, mode, …), the
/// provider that answered, and whether it is a stale answer served while the provider fails.
/// Read with the `runbeam_resolution_*` getters or as JSON (`runbeam_resolution_json()`);
/// release with `runbeam_resolution_free()`. Immutable: it may be read from several threads.
/// The strings the getters return are made on first use and borrowed from the handle.
#[allow(non_camel_case_types)]
pub struct runbeam_resolution {
    pub resolution: Resolution,
    pub(crate) text: [OnceLock<Option<CString>>; TEXT_FIELDS],
    pub(crate) urls: OnceLock<Vec<CString>>,
    pub json: OnceLock<CString>,
}

#[derive(Clone, Copy)]
pub enum Text {
    Type,
    Id,
    Name,
    TeamId,
    Protocol,
    Mode,
    Provider,
    Description,
    GatewayId,
    PipelineId,
    MeshId,
    BackendId,
    EndpointId,
}

const TEXT_FIELDS: usize = 13;

impl Text {
    #[inline]
    pub(crate) fn of(self, r: &Resolution) -> Option<&str> {
        let res = r.resource();
        match self {
            Text::Type => Some(res.resource_type.as_str()),
            Text::Id => Some(res.id.as_str()),
            Text::Name => Some(res.name.as_str()),
            Text::TeamId => res.team_id.as_deref(),
            Text::Protocol => res.protocol.as_deref(),
            Text::Mode => res.mode.as_deref(),
            Text::Provider => Some(r.provider()),
            Text::Description => res.description.as_deref(),
            Text::GatewayId => res.gateway_id.as_deref(),
            Text::PipelineId => res.pipeline_id.as_deref(),
            Text::MeshId => res.mesh_id.as_deref(),
            Text::BackendId => res.backend_id.as_deref(),
            Text::EndpointId => res.endpoint_id.as_deref(),
        }
    }
}

impl runbeam_resolution {
    #[inline]
    pub fn into_raw(resolution: Resolution) -> *mut runbeam_resolution {
        Box::into_raw(Box::new(runbeam_resolution {
            resolution,
            text: [const { OnceLock::new() }; TEXT_FIELDS],
            urls: OnceLock::new(),
            json: OnceLock::new(),
        }))
    }

    #[inline]
    pub fn text(&self, field: Text) -> *const c_char {
        self.text[field as usize]
            .get_or_init(|| field.of(&self.resolution).map(to_cstring))
            .as_ref()
            .map_or(ptr::null(), |s| s.as_ptr())
    }

    #[inline]
    pub fn urls(&self) -> &[CString] {
        self.urls.get_or_init(|| {
            self.resolution
                .resource()
                .urls
                .iter()
                .map(|u| to_cstring(u))
                .collect()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Mesh tokens
// ---------------------------------------------------------------------------------------------

/// A mesh token from `runbeam_resolver_mesh_token()`, verified before it was handed out: the
/// token (`runbeam_issued_mesh_token_secret()`, to send as `Authorization: Bearer`), its expiry, the
/// Cloud mesh id, the mesh's configuration name and the verified claims. Immutable; read it
/// from any thread. Release with `runbeam_issued_mesh_token_free()`, which zeroizes the token copy.
#[allow(non_camel_case_types)]
pub struct runbeam_issued_mesh_token {
    pub(crate) issued: Arc<IssuedMeshToken>,
    /// The token, NUL-terminated, zeroized on drop.
    pub(crate) secret: Zeroizing<Vec<u8>>,
    pub(crate) mesh_id: CString,
    pub(crate) mesh: CString,
    pub(crate) expires_at: CString,
}

impl runbeam_issued_mesh_token {
    #[inline]
    pub(crate) fn into_raw(issued: Arc<IssuedMeshToken>) -> *mut runbeam_issued_mesh_token {
        let secret = secret_c_bytes(issued.token.token.expose().as_bytes());
        let expires = issued.token.expires_at;
        let expires_at = expires
            .format(&Rfc3339)
            .unwrap_or_else(|_| expires.unix_timestamp().to_string());
        Box::into_raw(Box::new(runbeam_issued_mesh_token {
            secret,
            mesh_id: to_cstring(&issued.token.mesh_id),
            mesh: to_cstring(&issued.mesh),
            expires_at: to_cstring(&expires_at),
            issued,
        }))
    }
}

/// A mesh token to call `destination_url` through `mesh` (its configuration name or Cloud id),
/// written to `*out` as a new handle (free it with `runbeam_issued_mesh_token_free()`): the cached
/// one until 30 s (the margin) before it expires, else a new one from the mesh's provider —
/// one request however many threads ask — verified (signature, issuer, `aud`, `mesh_id`,
/// `dest_url`) before it is handed out. Blocking when a token must be requested.
///
/// Errors: `RUNBEAM_STATUS_NOT_IN_MESH` for a mesh that is not configured or not enabled;
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` for a destination that is not an http(s) URL (and NULL or
/// non-UTF-8 arguments, or a call from a librunbeam callback); the provider's errors
/// (`_PERMISSION_DENIED` says which rule failed, …); the validator's if the token does not
/// verify. Messages never contain the token.
///
/// ```c
/// runbeam_issued_mesh_token *mt = NULL;
/// if (runbeam_resolver_mesh_token(resolver, "imaging-integration",
///                                 "https://dicom.radiology.example.com/studies", &mt) == RUNBEAM_OK) {
///     set_header("Authorization", "Bearer", runbeam_issued_mesh_token_secret(mt));
///     runbeam_issued_mesh_token_free(mt);
/// }
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `mesh` and `destination_url` are NULL or
/// NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_mesh_token(
    resolver: *const runbeam_resolver,
    mesh: *const c_char,
    destination_url: *const c_char,
    out: *mut *mut runbeam_issued_mesh_token,
) -> runbeam_status {
    guard("runbeam_resolver_mesh_token", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        // SAFETY: forwarded contract.
        let mesh = unsafe { str_arg(mesh, "mesh") }?;
        // SAFETY: forwarded contract.
        let destination = unsafe { str_arg(destination_url, "destination_url") }?;
        let issued = r.runtime.block_on(
            "runbeam_resolver_mesh_token",
            r.resolver.mesh_token(mesh, destination),
        )?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_handle(out, runbeam_issued_mesh_token::into_raw(issued)) };
        Ok(())
    })
}

/// **The secret**: the mesh token to send as `Authorization: Bearer` to the destination.
/// Borrowed from `token` (valid until `runbeam_issued_mesh_token_free()`, which zeroizes it); do not
/// free, log or print it. NULL if `token` is NULL.
///
/// ```c
/// snprintf(header, sizeof header, "Authorization: Bearer %s", runbeam_issued_mesh_token_secret(mt));
/// ```
///
/// # Safety
/// `token` is NULL or a live handle (the same holds for every getter).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_secret(
    token: *const runbeam_issued_mesh_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_issued_mesh_token_secret",
            token,
            ptr::null(),
            |t| t.secret.as_ptr().cast(),
        )
    }
}

/// When the token expires, in Unix seconds; 0 if `token` is NULL. The resolver hands out a
/// new one from 30 s (the margin) before this time.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_expires_at(
    token: *const runbeam_issued_mesh_token,
) -> i64 {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_issued_mesh_token_expires_at", token, 0, |t| {
            t.issued.token.expires_at.unix_timestamp()
        })
    }
}

/// When the token expires, as RFC 3339 text. Borrowed from `token`; NULL if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_expires_at_rfc3339(
    token: *const runbeam_issued_mesh_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_issued_mesh_token_expires_at_rfc3339",
            token,
            ptr::null(),
            |t| t.expires_at.as_ptr(),
        )
    }
}

/// The Cloud id of the mesh the token is for. Borrowed from `token`; NULL if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_mesh_id(
    token: *const runbeam_issued_mesh_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle(
            "runbeam_issued_mesh_token_mesh_id",
            token,
            ptr::null(),
            |t| t.mesh_id.as_ptr(),
        )
    }
}

/// The mesh's name in the configuration. Borrowed from `token`; NULL if `token` is NULL.
///
/// # Safety
/// `token` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_mesh(
    token: *const runbeam_issued_mesh_token,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_issued_mesh_token_mesh", token, ptr::null(), |t| {
            t.mesh.as_ptr()
        })
    }
}

/// The token's verified claims (`sub`, `aud`, `jti`, `dest_url`, `mesh_id`, custom claims such
/// as `source_team` through `runbeam_claims_get_json()`, the whole payload through
/// `runbeam_claims_json()`) as a new handle at `*out_claims` (free it with
/// `runbeam_claims_free()`; it holds no copy of the token and stays valid after the token is
/// freed).
///
/// ```c
/// runbeam_claims *claims = NULL;
/// if (runbeam_issued_mesh_token_claims(mt, &claims) == RUNBEAM_OK) {
///     printf("sub %s, aud %s\n", runbeam_claims_sub(claims), runbeam_claims_aud(claims, 0));
///     runbeam_claims_free(claims);
/// }
/// ```
///
/// # Safety
/// `token` is NULL or a live handle; `out_claims` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_claims(
    token: *const runbeam_issued_mesh_token,
    out_claims: *mut *mut runbeam_claims,
) -> runbeam_status {
    guard("runbeam_issued_mesh_token_claims", || {
        let out = out_arg(out_claims, "out_claims")?;
        // SAFETY: forwarded contract.
        let t = unsafe { handle_arg(token, "token") }?;
        // SAFETY: `out` was checked non-NULL; writable (contract).
        unsafe { write_handle(out, runbeam_claims::into_raw(Arc::clone(&t.issued.claims))) };
        Ok(())
    })
}

/// Releases a mesh token handle, zeroizing its copy of the token. NULL is a no-op.
///
/// # Safety
/// `token` is NULL or a handle not freed before; strings borrowed from it become invalid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_issued_mesh_token_free(token: *mut runbeam_issued_mesh_token) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_issued_mesh_token_free", token) }
}

/// Writes `handle` to `*out`.
///
/// # Safety
/// `out` is non-NULL and writable.
#[inline]
pub unsafe fn write_handle<H>(out: *mut *mut H, handle: *mut H) {
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = handle };
}
