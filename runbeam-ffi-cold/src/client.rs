//! `runbeam_client`: the Runbeam Cloud API client (docs/spec.md §3) for C.
//!
//! Results cross the ABI as JSON text in the shapes of docs/spec.md §3.3 (`char **out_json`, released
//! with `runbeam_string_free()`, which zeroizes that string: some of them hold tokens; only
//! librunbeam's own copies are zeroized, not the HTTP/TLS stacks' or serde_json's buffers the
//! response passed through). Every endpoint has a
//! blocking form; authorize, resolve, mesh token, get and list also have a callback form
//! (`_async`) that returns at once and calls a `runbeam_json_callback` exactly once on a
//! librunbeam runtime thread.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use runbeam_core::client::{
    AuthorizeRequest, Client, ClientBuilder, Collection, PageCursor, PageRequest, RetryPolicy,
    UpdateRequest,
};
use runbeam_core::{Error, ErrorKind, Reference, Secret};
use serde_json::Value;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::guard::{
    free_handle, guard, guard_value, handle_arg, invalid_argument, json_arg, opt_str_arg, out_arg,
    str_arg,
};
use crate::limits::{RUNBEAM_MAX_BODY_BYTES, RUNBEAM_MAX_CHANGE_IDS, at_most};
use crate::reference::runbeam_reference;
use crate::runtime::{Completion, Runtime, callback_arg};
use crate::status::runbeam_status;
use crate::strings::{into_c_string, into_secret_c_string, secret_json, wipe_json};

// ---------------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------------

/// A collection of the Cloud API (docs/spec.md §3.3), for `runbeam_client_list()` and friends.
/// Integer values are stable.
///
/// Resources cross the C ABI as JSON objects, the typed models of the Rust core
/// (`runbeam_core::client::resources`). In each, every resource has `"id"` (string), `"team_id"` (string), `"created_at"` and `"updated_at"` (RFC 3339 or null),
/// plus the fields listed with its collection below; any other field the server sends is passed
/// through as it came, and is sent back as given by `runbeam_client_create()` /
/// `runbeam_client_update_resource()`. Optional fields may be absent or null; `<x>_id` fields
/// hold the id of a resource of that collection.
#[allow(non_camel_case_types)]
pub type runbeam_collection = i32;
/// `gateways`: `{"code": string (required to create), "name": string, "description": string,
/// "enabled": bool}`.
pub const RUNBEAM_COLLECTION_GATEWAYS: runbeam_collection = 1;
/// `services`: `{"name": string (required), "url": string, "description": string,
/// "enabled": bool}`.
pub const RUNBEAM_COLLECTION_SERVICES: runbeam_collection = 2;
/// `endpoints`: `{"name": string (required), "pipeline_id": string, "path": string (starting
/// with "/"), "description": string, "enabled": bool}`.
pub const RUNBEAM_COLLECTION_ENDPOINTS: runbeam_collection = 3;
/// `backends`: `{"name": string (required), "pipeline_id": string, "url": string,
/// "description": string, "enabled": bool}`.
pub const RUNBEAM_COLLECTION_BACKENDS: runbeam_collection = 4;
/// `pipelines`: `{"name": string (required), "gateway_id": string, "description": string,
/// "enabled": bool}`.
pub const RUNBEAM_COLLECTION_PIPELINES: runbeam_collection = 5;
/// `meshes`: `{"name": string (required), "protocol": "http" | "http3", "description": string,
/// "enabled": bool}`.
pub const RUNBEAM_COLLECTION_MESHES: runbeam_collection = 6;
/// `ingresses`: `{"name": string (required), "urls": [string, ...] (at least one, required),
/// "protocol": "http" | "http3", "mode": "default" | "mesh", "mesh_id": string,
/// "pipeline_id": string, "gateway_id": string, "endpoint_id": string, "description": string,
/// "enabled": bool}`.
pub const RUNBEAM_COLLECTION_INGRESSES: runbeam_collection = 7;
/// `egresses`: `{"name": string (required), "protocol": "http" | "http3", "mode": "default" |
/// "mesh", "mesh_id": string, "pipeline_id": string, "gateway_id": string, "backend_id": string,
/// "description": string, "enabled": bool}`.
pub const RUNBEAM_COLLECTION_EGRESSES: runbeam_collection = 8;

fn collection_arg(collection: runbeam_collection) -> Result<Collection, Error> {
    Ok(match collection {
        RUNBEAM_COLLECTION_GATEWAYS => Collection::Gateways,
        RUNBEAM_COLLECTION_SERVICES => Collection::Services,
        RUNBEAM_COLLECTION_ENDPOINTS => Collection::Endpoints,
        RUNBEAM_COLLECTION_BACKENDS => Collection::Backends,
        RUNBEAM_COLLECTION_PIPELINES => Collection::Pipelines,
        RUNBEAM_COLLECTION_MESHES => Collection::Meshes,
        RUNBEAM_COLLECTION_INGRESSES => Collection::Ingresses,
        RUNBEAM_COLLECTION_EGRESSES => Collection::Egresses,
        other => {
            return Err(invalid_argument(format!(
                "collection {other} is not a RUNBEAM_COLLECTION_* value (1-8)"
            )));
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Configuration builder
// ---------------------------------------------------------------------------------------------

/// Settings of a client, filled by the `runbeam_client_config_set_*` setters and read by
/// `runbeam_client_new()`. Create with `runbeam_client_config_new()`, release with
/// `runbeam_client_config_free()` (the token is zeroized). Not thread-safe while being set;
/// one configuration may create several clients.
#[allow(non_camel_case_types)]
pub struct runbeam_client_config {
    api_url: String,
    token: Option<Zeroizing<String>>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    deadline: Option<Duration>,
    retry: Option<RetryPolicy>,
    ca_bundle_files: Vec<String>,
    language: String,
    allow_insecure_http: bool,
    max_body_bytes: Option<usize>,
}

impl runbeam_client_config {
    pub(crate) fn builder(&self) -> ClientBuilder {
        let mut b = Client::builder(self.api_url.clone())
            .language(self.language.clone())
            .allow_insecure_http(self.allow_insecure_http);
        if let Some(token) = &self.token {
            b = b.token(Secret::new(token.as_str().to_string()));
        }
        if let Some(t) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(t) = self.request_timeout {
            b = b.request_timeout(t);
        }
        if let Some(t) = self.deadline {
            b = b.deadline(t);
        }
        if let Some(policy) = self.retry {
            b = b.retry(policy);
        }
        for file in &self.ca_bundle_files {
            b = b.ca_bundle_file(file);
        }
        if let Some(n) = self.max_body_bytes {
            b = b.max_body_bytes(n);
        }
        b
    }
}

/// Starts a client configuration for the API at `api_url` (e.g. `"https://api.runbeam.io"`;
/// the base-URL rule of docs/spec.md §3.1 is applied by `runbeam_client_new()`, which also refuses
/// `http://` to a non-loopback host unless `runbeam_client_config_set_allow_insecure_http()`).
/// Defaults: no token, connect 5 s, 30 s per attempt, 3 attempts, user agent language `c`.
///
/// ```c
/// runbeam_client_config *cfg = NULL;
/// runbeam_client *client = NULL;
/// if (runbeam_client_config_new("https://api.runbeam.io", &cfg) == RUNBEAM_OK) {
///     runbeam_client_config_set_token(cfg, "1|my-sanctum-token");
///     runbeam_client_new(cfg, &client);
///     runbeam_client_config_free(cfg);
/// }
/// ```
///
/// # Safety
/// `api_url` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_new(
    api_url: *const c_char,
    out: *mut *mut runbeam_client_config,
) -> runbeam_status {
    guard("runbeam_client_config_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let api_url = unsafe { str_arg(api_url, "api_url") }?;
        let config = Box::new(runbeam_client_config {
            api_url: api_url.to_string(),
            token: None,
            connect_timeout: None,
            request_timeout: None,
            deadline: None,
            retry: None,
            ca_bundle_files: Vec::new(),
            language: "c".to_string(),
            allow_insecure_http: false,
            max_body_bytes: None,
        });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(config) };
        Ok(())
    })
}

/// Runs `body` on a mutable configuration handle.
///
/// # Safety
/// `config` is NULL or a live configuration not used by another thread during the call.
unsafe fn with_config(
    function: &str,
    config: *mut runbeam_client_config,
    body: impl FnOnce(&mut runbeam_client_config) -> Result<(), Error>,
) -> runbeam_status {
    guard(function, || {
        // SAFETY: per the contract, non-NULL means a live, exclusively used handle.
        let config = unsafe { config.as_mut() }
            .ok_or_else(|| invalid_argument("argument 'config' is NULL".to_string()))?;
        body(config)
    })
}

fn millis(value: u64, name: &str) -> Result<Duration, Error> {
    if value == 0 {
        return Err(invalid_argument(format!(
            "{name} must be greater than zero milliseconds"
        )));
    }
    Ok(Duration::from_millis(value))
}

/// Sets the bearer token: a user JWT or Sanctum token (authorize, revoke, collections) or the
/// gateway's machine token (the `/harmony/...` gateway calls). Copied; the copy is zeroized when the
/// configuration is freed. An empty token is `RUNBEAM_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live configuration; `token` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_token(
    config: *mut runbeam_client_config,
    token: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_token", config, |c| {
            let token = str_arg(token, "token")?;
            if token.is_empty() {
                return Err(invalid_argument("argument 'token' is empty".to_string()));
            }
            c.token = Some(Zeroizing::new(token.to_string()));
            Ok(())
        })
    }
}

/// Time allowed to establish a connection, TLS included (default 5000 ms; 0 is invalid).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_connect_timeout_ms(
    config: *mut runbeam_client_config,
    timeout_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config(
            "runbeam_client_config_set_connect_timeout_ms",
            config,
            |c| {
                c.connect_timeout = Some(millis(timeout_ms, "the connect timeout")?);
                Ok(())
            },
        )
    }
}

/// Time allowed for one attempt, from sending to the end of the body (default 30000 ms; 0 is
/// invalid).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_request_timeout_ms(
    config: *mut runbeam_client_config,
    timeout_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config(
            "runbeam_client_config_set_request_timeout_ms",
            config,
            |c| {
                c.request_timeout = Some(millis(timeout_ms, "the request timeout")?);
                Ok(())
            },
        )
    }
}

/// Total time allowed for one call, retries and backoffs included (default: attempts × request
/// timeout + backoffs; 0 is invalid). When it passes the call fails with
/// `RUNBEAM_STATUS_TIMEOUT`.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_deadline_ms(
    config: *mut runbeam_client_config,
    deadline_ms: u64,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_deadline_ms", config, |c| {
            c.deadline = Some(millis(deadline_ms, "the deadline")?);
            Ok(())
        })
    }
}

/// Attempts of an idempotent call (GET, PUT, DELETE) on transport failures, 5xx and 429
/// (default 3; 1 disables retries). POSTs are never retried. The range is runbeam-core's
/// (1 to `RetryPolicy::MAX_ATTEMPTS`, 100): outside it, `RUNBEAM_STATUS_INVALID_ARGUMENT`
/// with the core's message.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_max_attempts(
    config: *mut runbeam_client_config,
    max_attempts: u32,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_max_attempts", config, |c| {
            c.retry = Some(RetryPolicy::default().with_max_attempts(max_attempts)?);
            Ok(())
        })
    }
}

/// Adds a PEM file of CA certificates trusted in addition to the system roots (may be called
/// several times). The file is read by `runbeam_client_new()`, which fails with
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` if it cannot be read or holds no certificate.
///
/// # Safety
/// `config` is NULL or a live configuration; `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_ca_bundle_file(
    config: *mut runbeam_client_config,
    path: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_ca_bundle_file", config, |c| {
            let path = str_arg(path, "path")?;
            if path.is_empty() {
                return Err(invalid_argument("argument 'path' is empty".to_string()));
            }
            c.ca_bundle_files.push(path.to_string());
            Ok(())
        })
    }
}

/// The language named in the user agent `runbeam-sdk/<version> (<language>)` (default `c`;
/// 1-32 characters of `[A-Za-z0-9._+-]`, checked by `runbeam_client_new()`).
///
/// # Safety
/// `config` is NULL or a live configuration; `language` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_language(
    config: *mut runbeam_client_config,
    language: *const c_char,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_language", config, |c| {
            c.language = str_arg(language, "language")?.to_string();
            Ok(())
        })
    }
}

/// Accepts `http://` API URLs for hosts that are not loopback (default false: tokens would
/// cross the network in clear text).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_allow_insecure_http(
    config: *mut runbeam_client_config,
    allow: bool,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config(
            "runbeam_client_config_set_allow_insecure_http",
            config,
            |c| {
                c.allow_insecure_http = allow;
                Ok(())
            },
        )
    }
}

/// Cap of a response body, enforced while reading (default 10 MiB; 0 and values over
/// `RUNBEAM_MAX_BODY_BYTES` are `RUNBEAM_STATUS_INVALID_ARGUMENT`). A larger body is
/// `RUNBEAM_STATUS_PROTOCOL`.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_set_max_body_bytes(
    config: *mut runbeam_client_config,
    max_body_bytes: usize,
) -> runbeam_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_config("runbeam_client_config_set_max_body_bytes", config, |c| {
            if max_body_bytes == 0 {
                return Err(invalid_argument(
                    "max_body_bytes must be greater than zero".to_string(),
                ));
            }
            at_most(
                "max_body_bytes",
                max_body_bytes,
                RUNBEAM_MAX_BODY_BYTES,
                "RUNBEAM_MAX_BODY_BYTES",
            )?;
            c.max_body_bytes = Some(max_body_bytes);
            Ok(())
        })
    }
}

/// Releases a configuration (its token copy is zeroized). NULL is a no-op.
///
/// # Safety
/// `config` is NULL or a configuration not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_config_free(config: *mut runbeam_client_config) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_client_config_free", config) }
}

// ---------------------------------------------------------------------------------------------
// Client handles
// ---------------------------------------------------------------------------------------------

/// A Runbeam Cloud API client: settings, token, connection pool and one tokio runtime (two
/// worker threads named `runbeam-worker`). Create with `runbeam_client_new()` or
/// `runbeam_client_with_token()`, release with `runbeam_client_free()`. Immutable: it may be
/// used from several threads at once.
///
/// The runtime is shared by every handle derived with `runbeam_client_with_token()` and shut
/// down when the last of them is freed; calls still in flight then complete with
/// `RUNBEAM_STATUS_CANCELLED`.
#[allow(non_camel_case_types)]
pub struct runbeam_client {
    pub(crate) client: Client,
    pub(crate) runtime: Runtime,
}

/// A handle to cancel one async call. Returned by the `_async` functions when asked for;
/// release it with `runbeam_cancel_free()` (before or after the call completes).
#[allow(non_camel_case_types)]
pub struct runbeam_cancel {
    sender: watch::Sender<bool>,
}

impl runbeam_cancel {
    /// Writes a new cancel handle for `sender` to `*cancel_out` when it is not NULL (else the
    /// sender is dropped, which never cancels).
    ///
    /// # Safety
    /// `cancel_out` is NULL or writable.
    pub(crate) unsafe fn hand_out(
        sender: watch::Sender<bool>,
        cancel_out: *mut *mut runbeam_cancel,
    ) {
        if !cancel_out.is_null() {
            // SAFETY: non-NULL and writable per the callers' contract.
            unsafe { *cancel_out = Box::into_raw(Box::new(runbeam_cancel { sender })) };
        }
    }
}

/// The callback of the `_async` functions, called **exactly once** per accepted call (never
/// for a call refused with an error status), on a librunbeam runtime thread
/// (`runbeam-worker`). When the client handle that started the call is freed while the call
/// is in flight, it is called with `RUNBEAM_STATUS_CANCELLED` before `runbeam_client_free()`
/// returns (see there; freeing from inside a callback is the exception).
///
/// On success `status` is `RUNBEAM_OK`, `json` the result (same schema as the blocking form;
/// NULL only from `runbeam_page_cursor_next_async()` past the last page) and `error_message`
/// NULL. On failure `json` is NULL, `status` the error's code and
/// `error_message` its message; during the call, `runbeam_last_error_*()` on that thread
/// (`_http_status`, `_retry_after_ms`, `_field_errors_json`, `_kind`) describe the failure.
/// Both strings are valid only during the call: copy what you keep.
///
/// The callback must not call a blocking librunbeam client function (it would get
/// `RUNBEAM_STATUS_INVALID_ARGUMENT`); it may start `_async` calls, cancel, and free handles.
/// Keep it short: it runs on one of the two worker threads.
#[allow(non_camel_case_types)]
pub type runbeam_json_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        json: *const c_char,
        error_message: *const c_char,
    ),
>;

/// The callback of the `_async` calls without a result (`runbeam_client_delete_async()`,
/// `runbeam_validator_refresh_keys_async()`, `runbeam_token_manager_revoke_async()`,
/// `runbeam_token_store_save_machine_token_async()`,
/// `runbeam_token_store_save_user_token_async()`): called **exactly once** per accepted call (never for
/// a call refused with an error status), on a librunbeam runtime thread, with `RUNBEAM_OK` and
/// a NULL `error_message`, or the error's status and message (valid during the call only;
/// `runbeam_last_error_*()` describe the failure during the call). When the handle that
/// started the call is freed first, it is called with `RUNBEAM_STATUS_CANCELLED` before that
/// `_free` returns. It must not call blocking librunbeam functions that need the network.
#[allow(non_camel_case_types)]
pub type runbeam_status_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        error_message: *const c_char,
    ),
>;

/// The callback of the calls whose answer is a yes or no (`runbeam_token_store_delete_async()`:
/// whether the slot held something): as `runbeam_status_callback`, with `value` the answer
/// (`false` on failure).
#[allow(non_camel_case_types)]
pub type runbeam_bool_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: runbeam_status,
        value: bool,
        error_message: *const c_char,
    ),
>;

/// Creates a client from `config` (which may be freed right after). Applies the base-URL rule
/// (docs/spec.md §3.1) and starts the client's runtime.
///
/// Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` for a malformed URL, `http://` to a non-loopback
/// host without `runbeam_client_config_set_allow_insecure_http()`, a bad language or an
/// unreadable CA bundle (the message says which); `RUNBEAM_STATUS_TRANSPORT` when TLS cannot be
/// set up.
///
/// # Safety
/// `config` is NULL or a live configuration; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_new(
    config: *const runbeam_client_config,
    out: *mut *mut runbeam_client,
) -> runbeam_status {
    guard("runbeam_client_new", || {
        let out = out_arg(out, "out")?;
        // SAFETY: live handle per the contract.
        let config = unsafe { handle_arg(config, "config") }?;
        let client = config.builder().build()?;
        let runtime = Runtime::new()?;
        let handle = Box::new(runbeam_client { client, runtime });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// A new handle with the same settings, connection pool and runtime as `client` but another
/// token (typically the machine token returned by `runbeam_client_authorize()`). Free both
/// handles; the runtime stops when the last is freed.
///
/// # Safety
/// `client` is NULL or a live client; `token` is NULL or NUL-terminated; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_with_token(
    client: *const runbeam_client,
    token: *const c_char,
    out: *mut *mut runbeam_client,
) -> runbeam_status {
    guard("runbeam_client_with_token", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let token = unsafe { str_arg(token, "token") }?;
        if token.is_empty() {
            return Err(invalid_argument("argument 'token' is empty".to_string()));
        }
        let handle = Box::new(runbeam_client {
            client: client.client.with_token(Secret::new(token.to_string())),
            runtime: client.runtime.share(),
        });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// The API root every call is relative to (e.g. `"https://api.runbeam.io/api"`), as a new
/// string for `runbeam_string_free()`; NULL if `client` is NULL.
///
/// # Safety
/// `client` is NULL or a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_api_root(client: *const runbeam_client) -> *mut c_char {
    guard_value("runbeam_client_api_root", ptr::null_mut(), || {
        // SAFETY: forwarded contract.
        match unsafe { client.as_ref() } {
            Some(c) => into_c_string(c.client.api_root()),
            None => ptr::null_mut(),
        }
    })
}

/// Releases a client handle (its token is zeroized). When it is the last handle sharing its
/// runtime (other client handles from `runbeam_client_with_token()`, resolvers), the runtime
/// shuts down and its worker threads are joined (from a librunbeam callback they stop in the
/// background, once the callback returned). NULL is a no-op.
///
/// When `runbeam_client_free` returns, no callback of this handle's async calls can run any more: calls not
/// finished yet are cancelled and their callbacks get `RUNBEAM_STATUS_CANCELLED` before it
/// returns (on a runtime thread), and a callback that is running is waited for, however long
/// it takes. So the `user_data` of those calls may be released right after. Called
/// from inside a librunbeam callback, it cannot wait (a callback cannot wait for itself): it
/// cancels the handle's other calls, whose callbacks then run after it returned, once the
/// current callback has returned; keep their `user_data` valid until they were called.
///
/// # Safety
/// `client` is NULL or a client not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_free(client: *mut runbeam_client) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_client_free", client) }
}

/// Asks an async call to stop. If it has not completed yet, it completes with
/// `RUNBEAM_STATUS_CANCELLED` (its callback is still called exactly once); otherwise nothing
/// happens. Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` if `cancel` is NULL.
///
/// # Safety
/// `cancel` is NULL or a live cancel handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_cancel_request(cancel: *const runbeam_cancel) -> runbeam_status {
    guard("runbeam_cancel_request", || {
        // SAFETY: forwarded contract.
        let cancel = unsafe { handle_arg(cancel, "cancel") }?;
        cancel.sender.send_replace(true);
        Ok(())
    })
}

/// Releases a cancel handle; this does **not** cancel its call. NULL is a no-op.
///
/// # Safety
/// `cancel` is NULL or a cancel handle not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_cancel_free(cancel: *mut runbeam_cancel) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_cancel_free", cancel) }
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

/// The JSON of a core result (docs/spec.md §3.3 shapes: the core's response types serialise to the
/// wire shape, tokens included, because the JSON is the caller's result).
fn json_value(result: Result<Value, serde_json::Error>) -> Result<Value, Error> {
    result.map_err(|e| Error::new(ErrorKind::Internal, format!("cannot write JSON: {e}")))
}

/// Writes the JSON of `value` to `*out` (a `char *` for `runbeam_string_free()`, which
/// zeroizes it), then wipes `value`: results may hold tokens.
fn write_json(out: *mut *mut c_char, value: Value) -> Result<(), Error> {
    let c = into_secret_c_string(json_text(value)?);
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = c };
    Ok(())
}

/// Runs a blocking call: checks `out_json`, runs `future` on the client's runtime and writes
/// its JSON.
fn blocking(
    function: &str,
    client: &runbeam_client,
    out_json: *mut *mut c_char,
    future: impl Future<Output = Result<Value, Error>>,
) -> Result<(), Error> {
    let value = client.runtime.block_on(function, future)?;
    write_json(out_json, value)
}

/// Starts an async call of `client`: `future`'s JSON (or error) goes to `callback` exactly
/// once.
fn spawn(
    function: &'static str,
    client: &runbeam_client,
    future: impl Future<Output = Result<Value, Error>> + Send + 'static,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> Result<(), Error> {
    spawn_on(
        function,
        &client.runtime,
        async move { future.await.map(Some) },
        callback,
        user_data,
        cancel_out,
    )
}

/// Starts an async call on `runtime` whose JSON answer may be nothing (`None`: the callback
/// gets NULL, e.g. a page cursor past its last page); the text is zeroized after the callback.
fn spawn_on(
    function: &'static str,
    runtime: &Runtime,
    future: impl Future<Output = Result<Option<Value>, Error>> + Send + 'static,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> Result<(), Error> {
    let completion = Completion::json(callback_arg(callback)?, user_data);
    runtime.start(
        function,
        async move { future.await?.map(json_text).transpose() },
        completion,
        cancel_out,
    )
}

/// The JSON text of `value` (see `strings::secret_json`), then `value` wiped.
fn json_text(mut value: Value) -> Result<Zeroizing<Vec<u8>>, Error> {
    let text = secret_json(&value);
    wipe_json(&mut value);
    text
}

fn metadata_arg(value: Option<Value>) -> Result<Option<Vec<String>>, Error> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(invalid_argument(
                    "argument 'metadata_json' must be a JSON array of strings".to_string(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid_argument(
            "argument 'metadata_json' must be a JSON array of strings".to_string(),
        )),
    }
}

struct AuthorizeArgs {
    client: Client,
    request: AuthorizeRequest,
}

/// # Safety
/// Pointers as documented on `runbeam_client_authorize`.
unsafe fn authorize_args(
    client: &runbeam_client,
    gateway_code: *const c_char,
    metadata_json: *const c_char,
) -> Result<AuthorizeArgs, Error> {
    // SAFETY: forwarded contract.
    let code = unsafe { str_arg(gateway_code, "gateway_code") }?;
    let metadata = if metadata_json.is_null() {
        None
    } else {
        // SAFETY: forwarded contract.
        Some(unsafe { json_arg(metadata_json, "metadata_json") }?)
    };
    let mut request = AuthorizeRequest::new(code);
    if let Some(m) = metadata_arg(metadata)? {
        request = request.metadata(m);
    }
    Ok(AuthorizeArgs {
        client: client.client.clone(),
        request,
    })
}

async fn authorize_call(args: AuthorizeArgs) -> Result<Value, Error> {
    let granted = args.client.authorize(args.request).await?;
    json_value(serde_json::to_value(&granted))
}

async fn resolve_call(client: Client, reference: Reference) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.resolve(&reference).await?))
}

async fn mesh_token_call(client: Client, mesh: String, url: String) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.mesh_token(&mesh, &url).await?))
}

async fn get_call(client: Client, collection: Collection, id: String) -> Result<Value, Error> {
    let item = client.collection_as::<Value>(collection).get(&id).await?;
    Ok(serde_json::json!({ "data": item }))
}

async fn list_call(
    client: Client,
    collection: Collection,
    page: PageRequest,
) -> Result<Value, Error> {
    let got = client.collection_as::<Value>(collection).list(page).await?;
    json_value(serde_json::to_value(got))
}

async fn revoke_call(client: Client, code: String) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.revoke(&code).await?))
}

async fn base_url_call(client: Client) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.base_url().await?))
}

async fn jwks_call(client: Client) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.jwks().await?))
}

async fn changes_call(client: Client, gateway_id: Option<String>) -> Result<Value, Error> {
    json_value(serde_json::to_value(
        client.changes(gateway_id.as_deref()).await?,
    ))
}

async fn change_call(client: Client, id: String) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.change(&id).await?))
}

async fn acknowledge_call(client: Client, ids: Vec<String>) -> Result<Value, Error> {
    json_value(serde_json::to_value(
        client.acknowledge_changes(&ids).await?,
    ))
}

async fn applied_call(client: Client, id: String) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.change_applied(&id).await?))
}

async fn failed_call(client: Client, report: FailureReport) -> Result<Value, Error> {
    json_value(serde_json::to_value(
        client
            .change_failed(&report.id, &report.error, report.details.as_ref())
            .await?,
    ))
}

async fn update_config_call(client: Client, request: UpdateRequest) -> Result<Value, Error> {
    json_value(serde_json::to_value(client.update_config(request).await?))
}

async fn list_all_call(
    client: Client,
    collection: Collection,
    per_page: u32,
) -> Result<Value, Error> {
    let items: Vec<Value> = client
        .collection_as::<Value>(collection)
        .list_all(per_page)
        .try_collect()
        .await?;
    Ok(Value::Array(items))
}

async fn create_call(client: Client, collection: Collection, body: Value) -> Result<Value, Error> {
    let item: Value = client
        .collection_as::<Value>(collection)
        .create(&body)
        .await?;
    Ok(serde_json::json!({ "data": item }))
}

async fn update_resource_call(
    client: Client,
    target: ItemArg,
    body: Value,
) -> Result<Value, Error> {
    let item: Value = client
        .collection_as::<Value>(target.collection)
        .update(&target.id, &body)
        .await?;
    Ok(serde_json::json!({ "data": item }))
}

async fn delete_call(client: Client, target: ItemArg) -> Result<(), Error> {
    client
        .collection_as::<Value>(target.collection)
        .delete(&target.id)
        .await
}

// ---------------------------------------------------------------------------------------------
// Gateway endpoints (docs/spec.md §3.3)
// ---------------------------------------------------------------------------------------------

/// `POST /harmony/authorize` with the client's user JWT or Sanctum token: authorizes the gateway
/// `gateway_code` (created in the caller's team if new) and returns its machine token.
/// `metadata_json` is NULL or a JSON array of strings recorded with the authorization.
/// Not retried.
///
/// `*out_json` (free with `runbeam_string_free()`; it holds the token):
/// `{"machine_token": "...", "expires_in": <seconds>, "expires_at": "<RFC 3339>",
///   "gateway": {"id", "code", "name", "authorized_by"?: {"id", "name", "email"}},
///   "abilities": ["..."]}`.
/// A gateway of another team is `RUNBEAM_STATUS_PERMISSION_DENIED` (HTTP 403); no token is
/// `RUNBEAM_STATUS_NO_TOKEN`.
///
/// ```c
/// char *json = NULL;
/// if (runbeam_client_authorize(user, "radiology-gw-1", NULL, &json) == RUNBEAM_OK) {
///     // parse json, store machine_token
///     runbeam_string_free(json);
/// }
/// ```
///
/// # Safety
/// `client` is NULL or a live client; strings are NULL or NUL-terminated; `out_json` is NULL
/// or writable. Not from a librunbeam callback (see `runbeam_json_callback`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_authorize(
    client: *const runbeam_client,
    gateway_code: *const c_char,
    metadata_json: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_authorize", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let args = unsafe { authorize_args(client, gateway_code, metadata_json) }?;
        blocking(
            "runbeam_client_authorize",
            client,
            out,
            authorize_call(args),
        )
    })
}

/// Callback form of `runbeam_client_authorize()`: returns at once; `callback` gets the same
/// JSON (or the error) exactly once on a runtime thread. Arguments are copied before it
/// returns. If `cancel_out` is not NULL it receives a handle for `runbeam_cancel_request()`
/// (free it with `runbeam_cancel_free()`). A NULL callback is
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (and no call is made).
///
/// # Safety
/// As `runbeam_client_authorize()`; `user_data` is handed back untouched on the runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_authorize_async(
    client: *const runbeam_client,
    gateway_code: *const c_char,
    metadata_json: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_authorize_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let args = unsafe { authorize_args(client, gateway_code, metadata_json) }?;
        spawn(
            "runbeam_client_authorize_async",
            client,
            authorize_call(args),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `POST /harmony/revoke` with the client's user token: every machine token of the gateway
/// `gateway_code` stops working. `*out_json`: `{"success": true, "message": "..."}`.
///
/// # Safety
/// As `runbeam_client_authorize()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_revoke(
    client: *const runbeam_client,
    gateway_code: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_revoke", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let code = unsafe { str_arg(gateway_code, "gateway_code") }?;
        blocking(
            "runbeam_client_revoke",
            client,
            out,
            revoke_call(client.client.clone(), code.to_string()),
        )
    })
}

/// Callback form of `runbeam_client_revoke()` (rules: `runbeam_client_authorize_async()`). A
/// cancelled revoke may already have reached the API.
///
/// # Safety
/// As `runbeam_client_revoke()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_revoke_async(
    client: *const runbeam_client,
    gateway_code: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_revoke_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let code = unsafe { str_arg(gateway_code, "gateway_code") }?;
        spawn(
            "runbeam_client_revoke_async",
            client,
            revoke_call(client.client.clone(), code.to_string()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `GET /harmony/base-url` (machine token). `*out_json`:
/// `{"base_url": "...", "changes_path": "..."|null, "full_url": "..."|null}`.
///
/// # Safety
/// `client` is NULL or a live client; `out_json` is NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_base_url(
    client: *const runbeam_client,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_base_url", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        blocking(
            "runbeam_client_base_url",
            client,
            out,
            base_url_call(client.client.clone()),
        )
    })
}

/// Callback form of `runbeam_client_base_url()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// `client` is NULL or a live client; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_base_url_async(
    client: *const runbeam_client,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_base_url_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        spawn(
            "runbeam_client_base_url_async",
            client,
            base_url_call(client.client.clone()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `GET /harmony/resources/resolve?ref=<reference>` (machine token). `*out_json`:
/// `{"data": {"type", "id", "name", "team_id", "enabled", "urls": [...], "protocol", "mode",
///   "gateway_id", "pipeline_id", "mesh_id", "backend_id", "endpoint_id", "description"},
///   "meta": {"provider", "resolved_at"}}` (absent optional fields are null).
/// An unknown resource is `RUNBEAM_STATUS_NOT_FOUND`; a local reference
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` (answered from the configuration, not the Cloud).
///
/// ```c
/// runbeam_reference *ref = NULL;
/// char *json = NULL;
/// runbeam_reference_parse("runbeam.radiology-dept.ingress.name.dicomweb", &ref);
/// if (runbeam_client_resolve(gateway, ref, &json) == RUNBEAM_OK) runbeam_string_free(json);
/// runbeam_reference_free(ref);
/// ```
///
/// # Safety
/// `client`, `reference` are NULL or live handles; `out_json` is NULL or writable. Not from a
/// callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_resolve(
    client: *const runbeam_client,
    reference: *const runbeam_reference,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_resolve", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { handle_arg(reference, "reference") }?;
        blocking(
            "runbeam_client_resolve",
            client,
            out,
            resolve_call(client.client.clone(), reference.inner.clone()),
        )
    })
}

/// Callback form of `runbeam_client_resolve()` (see `runbeam_client_authorize_async()` for
/// the rules). The reference is copied: it may be freed as soon as this returns.
///
/// # Safety
/// As `runbeam_client_resolve()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_resolve_async(
    client: *const runbeam_client,
    reference: *const runbeam_reference,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_resolve_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let reference = unsafe { handle_arg(reference, "reference") }?;
        spawn(
            "runbeam_client_resolve_async",
            client,
            resolve_call(client.client.clone(), reference.inner.clone()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `POST /harmony/mesh/token {mesh_id, destination_url}` (machine token): a 5-minute RS256
/// token to call `destination_url` through the mesh (`mesh_id` is its id or name).
/// `*out_json` (holds the token): `{"token": "...", "expires_at": "<RFC 3339>", "mesh_id":
/// "..."}`. Refused with `RUNBEAM_STATUS_PERMISSION_DENIED` when the gateway's team has no
/// enabled egress in the mesh or the URL matches no ingress of it. Not retried.
///
/// # Safety
/// `client` is NULL or a live client; strings are NULL or NUL-terminated; `out_json` is NULL
/// or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_mesh_token(
    client: *const runbeam_client,
    mesh_id: *const c_char,
    destination_url: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_mesh_token", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let mesh = unsafe { str_arg(mesh_id, "mesh_id") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { str_arg(destination_url, "destination_url") }?;
        blocking(
            "runbeam_client_mesh_token",
            client,
            out,
            mesh_token_call(client.client.clone(), mesh.to_string(), url.to_string()),
        )
    })
}

/// Callback form of `runbeam_client_mesh_token()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_mesh_token()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_mesh_token_async(
    client: *const runbeam_client,
    mesh_id: *const c_char,
    destination_url: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_mesh_token_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let mesh = unsafe { str_arg(mesh_id, "mesh_id") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { str_arg(destination_url, "destination_url") }?;
        spawn(
            "runbeam_client_mesh_token_async",
            client,
            mesh_token_call(client.client.clone(), mesh.to_string(), url.to_string()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `GET /.well-known/jwks.json` (public, no token needed). `*out_json`: `{"keys": [JWK, ...]}`.
///
/// # Safety
/// `client` is NULL or a live client; `out_json` is NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_jwks(
    client: *const runbeam_client,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_jwks", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        blocking(
            "runbeam_client_jwks",
            client,
            out,
            jwks_call(client.client.clone()),
        )
    })
}

/// Callback form of `runbeam_client_jwks()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// `client` is NULL or a live client; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_jwks_async(
    client: *const runbeam_client,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_jwks_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        spawn(
            "runbeam_client_jwks_async",
            client,
            jwks_call(client.client.clone()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `GET /harmony/changes[/<gateway_id>]` (machine token), page after page of the feed.
/// `gateway_id` may be NULL. `*out_json`: a JSON array of changes
/// `[{"id": "...", "status": "..."|null, ...every other field of the change}]`.
///
/// Bounded: at most 10000 changes and 1000 page requests per call, and no further page
/// once 64 MiB of responses were read. Whichever bound is reached first truncates a longer
/// feed there (a warning is logged): the array holds the first changes of the feed, in
/// order; apply and acknowledge them, then call again for the next ones.
///
/// # Safety
/// `client` is NULL or a live client; `gateway_id` is NULL or NUL-terminated; `out_json` is
/// NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_changes(
    client: *const runbeam_client,
    gateway_id: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_changes", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let gateway_id = unsafe { opt_str_arg(gateway_id, "gateway_id") }?;
        blocking(
            "runbeam_client_changes",
            client,
            out,
            changes_call(client.client.clone(), gateway_id.map(str::to_string)),
        )
    })
}

/// Callback form of `runbeam_client_changes()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_changes()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_changes_async(
    client: *const runbeam_client,
    gateway_id: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_changes_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let gateway_id = unsafe { opt_str_arg(gateway_id, "gateway_id") }?;
        spawn(
            "runbeam_client_changes_async",
            client,
            changes_call(client.client.clone(), gateway_id.map(str::to_string)),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `GET /harmony/change/<id>` (machine token). `*out_json`: one change as in
/// `runbeam_client_changes()`.
///
/// # Safety
/// As `runbeam_client_changes()`; `id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change(
    client: *const runbeam_client,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_change", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        blocking(
            "runbeam_client_change",
            client,
            out,
            change_call(client.client.clone(), id.to_string()),
        )
    })
}

/// Callback form of `runbeam_client_change()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_change()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change_async(
    client: *const runbeam_client,
    id: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_change_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        spawn(
            "runbeam_client_change_async",
            client,
            change_call(client.client.clone(), id.to_string()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `POST /harmony/changes/acknowledge {change_ids}` (machine token) for the `count` ids of
/// `ids` (at most `RUNBEAM_MAX_CHANGE_IDS`, else `RUNBEAM_STATUS_INVALID_ARGUMENT`). `*out_json`: `{"success": true, "message": "..."}`.
///
/// # Safety
/// `client` is NULL or a live client; `ids` is NULL (then `count` is 0) or points to `count`
/// NUL-terminated strings; `out_json` is NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_acknowledge_changes(
    client: *const runbeam_client,
    ids: *const *const c_char,
    count: usize,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_acknowledge_changes", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let ids = unsafe { ids_arg(ids, count) }?;
        blocking(
            "runbeam_client_acknowledge_changes",
            client,
            out,
            acknowledge_call(client.client.clone(), ids),
        )
    })
}

/// Callback form of `runbeam_client_acknowledge_changes()` (rules:
/// `runbeam_client_authorize_async()`); the ids are copied before it returns.
///
/// # Safety
/// As `runbeam_client_acknowledge_changes()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_acknowledge_changes_async(
    client: *const runbeam_client,
    ids: *const *const c_char,
    count: usize,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_acknowledge_changes_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let ids = unsafe { ids_arg(ids, count) }?;
        spawn(
            "runbeam_client_acknowledge_changes_async",
            client,
            acknowledge_call(client.client.clone(), ids),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// The change ids of `runbeam_client_acknowledge_changes()`, copied.
///
/// # Safety
/// `ids` is NULL (then `count` is 0) or points to `count` NUL-terminated strings.
unsafe fn ids_arg(ids: *const *const c_char, count: usize) -> Result<Vec<String>, Error> {
    if ids.is_null() && count > 0 {
        return Err(invalid_argument(format!(
            "argument 'ids' is NULL with count {count}"
        )));
    }
    at_most(
        "count",
        count,
        RUNBEAM_MAX_CHANGE_IDS,
        "RUNBEAM_MAX_CHANGE_IDS",
    )?;
    let mut owned = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: `ids` points to `count` pointers per the contract.
        let p = unsafe { *ids.add(i) };
        // SAFETY: each is NULL or NUL-terminated per the contract.
        owned.push(unsafe { str_arg(p, &format!("ids[{i}]")) }?.to_string());
    }
    Ok(owned)
}

/// `POST /harmony/change/<id>/applied` (machine token). `*out_json`:
/// `{"success": true, "message": "..."}`.
///
/// # Safety
/// As `runbeam_client_change()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change_applied(
    client: *const runbeam_client,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_change_applied", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        blocking(
            "runbeam_client_change_applied",
            client,
            out,
            applied_call(client.client.clone(), id.to_string()),
        )
    })
}

/// Callback form of `runbeam_client_change_applied()` (rules:
/// `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_change_applied()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change_applied_async(
    client: *const runbeam_client,
    id: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_change_applied_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        spawn(
            "runbeam_client_change_applied_async",
            client,
            applied_call(client.client.clone(), id.to_string()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `POST /harmony/change/<id>/failed {error, details?}` (machine token); `details_json` is
/// NULL or any JSON value. `*out_json`: `{"success": true, "message": "..."}`.
///
/// # Safety
/// As `runbeam_client_change()`; `error`, `details_json` are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change_failed(
    client: *const runbeam_client,
    id: *const c_char,
    error: *const c_char,
    details_json: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_change_failed", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let report = unsafe { FailureReport::arg(id, error, details_json) }?;
        blocking(
            "runbeam_client_change_failed",
            client,
            out,
            failed_call(client.client.clone(), report),
        )
    })
}

/// Callback form of `runbeam_client_change_failed()` (rules:
/// `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_change_failed()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_change_failed_async(
    client: *const runbeam_client,
    id: *const c_char,
    error: *const c_char,
    details_json: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_change_failed_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let report = unsafe { FailureReport::arg(id, error, details_json) }?;
        spawn(
            "runbeam_client_change_failed_async",
            client,
            failed_call(client.client.clone(), report),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// The arguments of `runbeam_client_change_failed()`, copied.
struct FailureReport {
    id: String,
    error: String,
    details: Option<Value>,
}

impl FailureReport {
    /// # Safety
    /// Each pointer is NULL or NUL-terminated.
    unsafe fn arg(
        id: *const c_char,
        error: *const c_char,
        details_json: *const c_char,
    ) -> Result<FailureReport, Error> {
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?.to_string();
        // SAFETY: forwarded contract.
        let error = unsafe { str_arg(error, "error") }?.to_string();
        let details = if details_json.is_null() {
            None
        } else {
            // SAFETY: forwarded contract.
            Some(unsafe { json_arg(details_json, "details_json") }?)
        };
        Ok(FailureReport { id, error, details })
    }
}

/// `POST /harmony/update` (machine token). `request_json`:
/// `{"type": "gateway"|"pipeline"|"transform"|"mesh", "id"?: "...", "config": "<toml>"}`.
/// `*out_json`: `{"success": true, "message": "...", "data": {"id", "type", "action":
/// "created"|"updated"}}`. Not retried.
///
/// # Safety
/// `client` is NULL or a live client; `request_json` is NULL or NUL-terminated; `out_json` is
/// NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_update_config(
    client: *const runbeam_client,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_update_config", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let request = update_request(unsafe { json_arg(request_json, "request_json") }?)?;
        blocking(
            "runbeam_client_update_config",
            client,
            out,
            update_config_call(client.client.clone(), request),
        )
    })
}

/// Callback form of `runbeam_client_update_config()` (rules:
/// `runbeam_client_authorize_async()`). A cancelled update may already have reached the API.
///
/// # Safety
/// As `runbeam_client_update_config()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_update_config_async(
    client: *const runbeam_client,
    request_json: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_update_config_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let request = update_request(unsafe { json_arg(request_json, "request_json") }?)?;
        spawn(
            "runbeam_client_update_config_async",
            client,
            update_config_call(client.client.clone(), request),
            callback,
            user_data,
            cancel_out,
        )
    })
}

fn update_request(value: Value) -> Result<UpdateRequest, Error> {
    let bad = |what: &str| {
        invalid_argument(format!(
            "argument 'request_json' {what} (expected {{\"type\": \"gateway\"|\"pipeline\"|\
             \"transform\"|\"mesh\", \"id\"?: \"...\", \"config\": \"<toml>\"}})"
        ))
    };
    let Value::Object(map) = value else {
        return Err(bad("is not a JSON object"));
    };
    let kind = map
        .get("type")
        .cloned()
        .ok_or_else(|| bad("has no \"type\""))?;
    let kind = serde_json::from_value(kind).map_err(|_| bad("has an unknown \"type\""))?;
    let config = match map.get("config") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(bad("has no string \"config\"")),
    };
    let mut request = UpdateRequest::new(kind, config);
    match map.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => request = request.id(id.clone()),
        Some(Value::Number(n)) => request = request.id(n.to_string()),
        Some(_) => return Err(bad("has an \"id\" that is not a string")),
    }
    Ok(request)
}

// ---------------------------------------------------------------------------------------------
// Collections (user token)
// ---------------------------------------------------------------------------------------------

/// `GET /<collection>?page=&per_page=`: one page (`page` ≥ 1, `per_page` 1 to
/// `RUNBEAM_MAX_PER_PAGE`, else `RUNBEAM_STATUS_INVALID_ARGUMENT`). `*out_json`:
/// `{"data": [resource, ...], "links": {"first", "last", "prev", "next"},
///   "meta": {"current_page", "last_page", "per_page", "total", ...}}`; resources are the
/// server's JSON objects as sent.
///
/// ```c
/// char *page = NULL;
/// if (runbeam_client_list(user, RUNBEAM_COLLECTION_GATEWAYS, 1, 50, &page) == RUNBEAM_OK)
///     runbeam_string_free(page);
/// ```
///
/// # Safety
/// `client` is NULL or a live client; `out_json` is NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_list(
    client: *const runbeam_client,
    collection: runbeam_collection,
    page: u32,
    per_page: u32,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_list", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        blocking(
            "runbeam_client_list",
            client,
            out,
            list_call(
                client.client.clone(),
                collection,
                PageRequest { page, per_page },
            ),
        )
    })
}

/// Callback form of `runbeam_client_list()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_list()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_list_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    page: u32,
    per_page: u32,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_list_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        spawn(
            "runbeam_client_list_async",
            client,
            list_call(
                client.client.clone(),
                collection,
                PageRequest { page, per_page },
            ),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// Every item of a collection, fetched page after page of `per_page` items (1 to
/// `RUNBEAM_MAX_PER_PAGE`, else `RUNBEAM_STATUS_INVALID_ARGUMENT` before anything is sent) by
/// runbeam-core's page walk: a next page is requested while the last one says there is one
/// (`meta.last_page`, else `links.next`), at most `RUNBEAM_MAX_LIST_PAGES` pages (more is
/// `RUNBEAM_STATUS_PROTOCOL`). `*out_json`:
/// a JSON array `[resource, ...]`. To handle each page as it arrives, or to stop early, use a
/// page cursor (`runbeam_client_pages()`).
///
/// # Safety
/// `client` is NULL or a live client; `out_json` is NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_list_all(
    client: *const runbeam_client,
    collection: runbeam_collection,
    per_page: u32,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_list_all", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        per_page_arg(per_page)?;
        blocking(
            "runbeam_client_list_all",
            client,
            out,
            list_all_call(client.client.clone(), collection, per_page),
        )
    })
}

/// Callback form of `runbeam_client_list_all()` (rules: `runbeam_client_authorize_async()`):
/// `callback` gets the whole array once every page was read. Cancelling stops the walk.
///
/// # Safety
/// As `runbeam_client_list_all()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_list_all_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    per_page: u32,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_list_all_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        per_page_arg(per_page)?;
        spawn(
            "runbeam_client_list_all_async",
            client,
            list_all_call(client.client.clone(), collection, per_page),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// A page size of `list_all`, checked by the core's rule before anything is started.
fn per_page_arg(per_page: u32) -> Result<(), Error> {
    PageRequest { page: 1, per_page }.check()
}

// ---------------------------------------------------------------------------------------------
// Page cursors
// ---------------------------------------------------------------------------------------------

/// A walk over the pages of a collection (runbeam-core's `PageCursor`): each
/// `runbeam_page_cursor_next()` (blocking) or `runbeam_page_cursor_next_async()` (callback)
/// fetches the next page and hands over its items, until the last page was read. Create with
/// `runbeam_client_pages()`, release with `runbeam_page_cursor_free()` — which is also how a
/// walk stops early: no further page is requested.
///
/// **Why a cursor rather than a per-page callback.** The caller asks for each page when it is
/// ready for it, so a slow consumer is never flooded, stopping early is just not asking (then
/// freeing), and the same handle serves blocking code (a loop of `_next`) and event loops
/// (`_next_async` from the previous page's callback) with the one-callback-per-call rule of
/// every other `_async` function. A per-page callback would push pages at the library's pace,
/// need a second callback (or a sentinel call) for the end and the errors, and a return value
/// to stop. The bound is the core's: at most `RUNBEAM_MAX_LIST_PAGES` pages per walk, each of
/// `per_page` items;
/// a server that still announces a next page after that fails `_next` with
/// `RUNBEAM_STATUS_PROTOCOL` rather than looping forever. Next pages are requested by number
/// from the API root, never by following `links.next` (the token never leaves the API host).
///
/// A failed `_next` (a network error, a cancelled call) leaves the cursor where it was: the
/// next `_next` asks for the same page again. Calls on one cursor are served one after the
/// other, in the order they were made; the cursor may be used from any thread. It shares the
/// runtime of the client it was made from (that runtime stops when the last handle using it is
/// freed).
#[allow(non_camel_case_types)]
pub struct runbeam_page_cursor {
    cursor: Arc<tokio::sync::Mutex<PageCursor<Value>>>,
    runtime: Runtime,
}

/// A page cursor over `collection`, `per_page` items a page (1 to `RUNBEAM_MAX_PER_PAGE`, else
/// `RUNBEAM_STATUS_INVALID_ARGUMENT`), starting at page 1.
/// Nothing is requested yet. `client` may be freed before the cursor. Release the cursor with
/// `runbeam_page_cursor_free()`.
///
/// ```c
/// runbeam_page_cursor *pages = NULL;
/// char *items = NULL;
/// if (runbeam_client_pages(user, RUNBEAM_COLLECTION_SERVICES, 50, &pages) == RUNBEAM_OK) {
///     while (runbeam_page_cursor_next(pages, &items) == RUNBEAM_OK && items != NULL) {
///         bool found = handle_page(items);      // a JSON array of this page's resources
///         runbeam_string_free(items);
///         if (found) break;                     // stop early: no further page is requested
///     }
///     runbeam_page_cursor_free(pages);
/// }
/// ```
///
/// # Safety
/// `client` is NULL or a live client; `out_cursor` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_pages(
    client: *const runbeam_client,
    collection: runbeam_collection,
    per_page: u32,
    out_cursor: *mut *mut runbeam_page_cursor,
) -> runbeam_status {
    guard("runbeam_client_pages", || {
        let out = out_arg(out_cursor, "out_cursor")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        let cursor = client
            .client
            .collection_as::<Value>(collection)
            .pages(per_page)?;
        let handle = Box::new(runbeam_page_cursor {
            cursor: Arc::new(tokio::sync::Mutex::new(cursor)),
            runtime: client.runtime.share(),
        });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Fetches the next page of `cursor` (blocking). On success `*out_json` is a JSON array of
/// that page's resources, `[resource, ...]` (release it with `runbeam_string_free()`), or
/// **NULL when every page was read** (then every later call answers NULL too, without a
/// request). Errors: those of `runbeam_client_list()` (the cursor does not move: call again to
/// retry the same page), `RUNBEAM_STATUS_PROTOCOL` past `RUNBEAM_MAX_LIST_PAGES` pages,
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` from a librunbeam callback (use
/// `runbeam_page_cursor_next_async()` there).
///
/// # Safety
/// `cursor` is NULL or a live cursor; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_page_cursor_next(
    cursor: *const runbeam_page_cursor,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_page_cursor_next", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let cursor = unsafe { handle_arg(cursor, "cursor") }?;
        let page = cursor
            .runtime
            .block_on("runbeam_page_cursor_next", next_page(&cursor.cursor))?;
        match page {
            Some(items) => write_json(out, items),
            None => {
                // SAFETY: `out` is non-NULL and writable per the contract.
                unsafe { *out = ptr::null_mut() };
                Ok(())
            }
        }
    })
}

/// Callback form of `runbeam_page_cursor_next()` (rules: `runbeam_client_authorize_async()`):
/// `callback` gets the page's JSON array, or — with `RUNBEAM_OK` — **a NULL `json` when every
/// page was read**. Calls made while one is pending are served after it, in order. Cancelling
/// (or freeing the cursor) leaves the cursor where it was. To walk a collection without
/// blocking, call it again from the callback while `json` is not NULL.
///
/// # Safety
/// `cursor` is NULL or a live cursor; `user_data` is handed back untouched on a runtime
/// thread; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_page_cursor_next_async(
    cursor: *const runbeam_page_cursor,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_page_cursor_next_async", || {
        // SAFETY: forwarded contract.
        let cursor = unsafe { handle_arg(cursor, "cursor") }?;
        let walk = Arc::clone(&cursor.cursor);
        spawn_on(
            "runbeam_page_cursor_next_async",
            &cursor.runtime,
            async move { next_page(&walk).await },
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// Releases a page cursor; no further page is requested. NULL is a no-op. When
/// `runbeam_page_cursor_free` returns, no callback of this cursor's async calls can run any
/// more (pending calls get `RUNBEAM_STATUS_CANCELLED` first; a running callback is waited
/// for), with the exception of a free from inside one of its own callbacks, as
/// `runbeam_client_free()` describes. When it is the last handle using its client's runtime,
/// the runtime shuts down.
///
/// # Safety
/// `cursor` is NULL or a cursor not freed before, and no other thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_page_cursor_free(cursor: *mut runbeam_page_cursor) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_page_cursor_free", cursor) }
}

/// The next page of a cursor as a JSON array, `None` past the last page.
async fn next_page(cursor: &tokio::sync::Mutex<PageCursor<Value>>) -> Result<Option<Value>, Error> {
    let mut cursor = cursor.lock().await;
    Ok(cursor.next().await?.map(Value::Array))
}

/// `GET /<collection>/<id>`. `*out_json`: `{"data": resource}`. Another team's or a missing
/// resource is `RUNBEAM_STATUS_NOT_FOUND`.
///
/// # Safety
/// `client` is NULL or a live client; `id` is NULL or NUL-terminated; `out_json` is NULL or
/// writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_get(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_get", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        blocking(
            "runbeam_client_get",
            client,
            out,
            get_call(client.client.clone(), collection, id.to_string()),
        )
    })
}

/// Callback form of `runbeam_client_get()` (rules: `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_get()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_get_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_get_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?;
        spawn(
            "runbeam_client_get_async",
            client,
            get_call(client.client.clone(), collection, id.to_string()),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `POST /<collection>` with `body_json` (a JSON object). `*out_json`: `{"data": resource}`.
/// Missing or invalid fields are `RUNBEAM_STATUS_VALIDATION` (see
/// `runbeam_last_error_field_errors_json()`); a duplicate name `RUNBEAM_STATUS_CONFLICT`.
/// Not retried.
///
/// # Safety
/// `client` is NULL or a live client; `body_json` is NULL or NUL-terminated; `out_json` is
/// NULL or writable. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_create(
    client: *const runbeam_client,
    collection: runbeam_collection,
    body_json: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_create", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        // SAFETY: forwarded contract.
        let body = unsafe { json_arg(body_json, "body_json") }?;
        blocking(
            "runbeam_client_create",
            client,
            out,
            create_call(client.client.clone(), collection, body),
        )
    })
}

/// Callback form of `runbeam_client_create()` (rules: `runbeam_client_authorize_async()`). A
/// cancelled create may already have reached the API.
///
/// # Safety
/// As `runbeam_client_create()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_create_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    body_json: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_create_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        let collection = collection_arg(collection)?;
        // SAFETY: forwarded contract.
        let body = unsafe { json_arg(body_json, "body_json") }?;
        spawn(
            "runbeam_client_create_async",
            client,
            create_call(client.client.clone(), collection, body),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `PUT /<collection>/<id>` with `body_json` (a partial update). `*out_json`:
/// `{"data": resource}`.
///
/// # Safety
/// As `runbeam_client_create()`; `id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_update_resource(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
    body_json: *const c_char,
    out_json: *mut *mut c_char,
) -> runbeam_status {
    guard("runbeam_client_update_resource", || {
        let out = out_arg(out_json, "out_json")?;
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let target = unsafe { ItemArg::new(collection, id) }?;
        // SAFETY: forwarded contract.
        let body = unsafe { json_arg(body_json, "body_json") }?;
        blocking(
            "runbeam_client_update_resource",
            client,
            out,
            update_resource_call(client.client.clone(), target, body),
        )
    })
}

/// Callback form of `runbeam_client_update_resource()` (rules:
/// `runbeam_client_authorize_async()`).
///
/// # Safety
/// As `runbeam_client_update_resource()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_update_resource_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
    body_json: *const c_char,
    callback: runbeam_json_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_update_resource_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let target = unsafe { ItemArg::new(collection, id) }?;
        // SAFETY: forwarded contract.
        let body = unsafe { json_arg(body_json, "body_json") }?;
        spawn(
            "runbeam_client_update_resource_async",
            client,
            update_resource_call(client.client.clone(), target, body),
            callback,
            user_data,
            cancel_out,
        )
    })
}

/// `DELETE /<collection>/<id>`. No result; a resource still referenced is
/// `RUNBEAM_STATUS_CONFLICT`.
///
/// # Safety
/// `client` is NULL or a live client; `id` is NULL or NUL-terminated. Not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_delete(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
) -> runbeam_status {
    guard("runbeam_client_delete", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let target = unsafe { ItemArg::new(collection, id) }?;
        client.runtime.block_on(
            "runbeam_client_delete",
            delete_call(client.client.clone(), target),
        )
    })
}

/// Callback form of `runbeam_client_delete()` (rules: `runbeam_client_authorize_async()`):
/// `callback` gets the status only (see `runbeam_status_callback`).
///
/// # Safety
/// As `runbeam_client_delete()`; `cancel_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_client_delete_async(
    client: *const runbeam_client,
    collection: runbeam_collection,
    id: *const c_char,
    callback: runbeam_status_callback,
    user_data: *mut c_void,
    cancel_out: *mut *mut runbeam_cancel,
) -> runbeam_status {
    guard("runbeam_client_delete_async", || {
        // SAFETY: forwarded contract.
        let client = unsafe { handle_arg(client, "client") }?;
        // SAFETY: forwarded contract.
        let target = unsafe { ItemArg::new(collection, id) }?;
        let completion = Completion::status(callback_arg(callback)?, user_data);
        client.runtime.start(
            "runbeam_client_delete_async",
            delete_call(client.client.clone(), target),
            completion,
            cancel_out,
        )
    })
}

/// One resource of a collection (the `collection`, `id` arguments), copied.
struct ItemArg {
    collection: Collection,
    id: String,
}

impl ItemArg {
    /// # Safety
    /// `id` is NULL or NUL-terminated.
    unsafe fn new(collection: runbeam_collection, id: *const c_char) -> Result<ItemArg, Error> {
        let collection = collection_arg(collection)?;
        // SAFETY: forwarded contract.
        let id = unsafe { str_arg(id, "id") }?.to_string();
        Ok(ItemArg { collection, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_map_one_to_one() {
        let mut seen = Vec::new();
        for code in 1..=8 {
            seen.push(collection_arg(code).unwrap());
        }
        assert_eq!(seen, Collection::ALL.to_vec());
        assert!(collection_arg(0).is_err());
        assert!(collection_arg(9).is_err());
    }

    #[test]
    fn update_requests_are_checked() {
        let ok = update_request(serde_json::json!({"type": "mesh", "config": "x = 1"})).unwrap();
        assert!(ok.id.is_none());
        assert!(update_request(serde_json::json!({"type": "nope", "config": ""})).is_err());
        assert!(update_request(serde_json::json!({"type": "mesh"})).is_err());
        assert!(update_request(serde_json::json!([1])).is_err());
    }
}
