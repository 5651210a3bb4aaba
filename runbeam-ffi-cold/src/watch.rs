//! `runbeam_watcher`: live configuration for C — a resolver following its providers' change
//! feeds (`runbeam_resolver_watch`) over `runbeam_core::resolve::Resolver::watch_on`, on the
//! runtime the resolver shares with its client.

use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::Arc;

use runbeam_core::resolve::{WatchEvent, WatchEventKind, Watcher};

use crate::error::{self, to_cstring};
use crate::guard::{free_handle, guard, handle_arg, out_arg, read_handle};
use crate::resolver::runbeam_resolver;
use crate::runtime::{CallbackOwner, Runtime, UserData, callback_arg};
use crate::status::{RUNBEAM_OK, runbeam_status};

/// A mesh change was applied (the configuration in use changed; `meshes` says which).
pub const RUNBEAM_WATCH_APPLIED: c_int = 0;
/// A change could not be applied and was reported failed to the Cloud; the configuration in
/// use did not change. `message` says why, with every configuration problem (also in
/// `runbeam_last_error_problems()` during the callback).
pub const RUNBEAM_WATCH_FAILED: c_int = 1;
/// A change for the gateway itself (gateway, pipeline, transform, endpoint, backend,
/// service): acknowledged but left for the host to apply and mark (`runbeam_client_change_applied()`,
/// `_failed()`). Reported once per watcher.
pub const RUNBEAM_WATCH_SKIPPED: c_int = 2;
/// Polling a provider's change feed failed; the next poll is in `retry_in_ms`.
pub const RUNBEAM_WATCH_POLL_FAILED: c_int = 3;

/// What a watcher saw, as its callback receives it. Every pointer is valid **only during
/// the callback** (copy what you keep); strings are NUL-terminated UTF-8, never NULL.
///
/// librunbeam allocates this struct: later versions may add members at its end (never remove
/// or reorder them), so never allocate or copy one by value yourself.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct runbeam_watch_event {
    /// `RUNBEAM_WATCH_APPLIED`, `_FAILED`, `_SKIPPED` or `_POLL_FAILED`; -1 for a kind this
    /// header does not know (`kind_name` names it).
    pub kind: c_int,
    /// `"applied"`, `"failed"`, `"skipped"` or `"poll_failed"`.
    pub kind_name: *const c_char,
    /// The provider whose feed the change came from (`"runbeam"`, …).
    pub provider: *const c_char,
    /// The change id; `""` for `RUNBEAM_WATCH_POLL_FAILED`.
    pub change_id: *const c_char,
    /// The change's type (`"mesh"`, `"ingress"`, `"pipeline"`, …) as sent (escaped, at most
    /// 64 bytes); `""` when absent and for `RUNBEAM_WATCH_POLL_FAILED`.
    pub change_type: *const c_char,
    /// The change's action (`"created"`, `"updated"`, `"deleted"`) as sent; `""` when absent.
    pub action: *const c_char,
    /// What happened, for a person (for a failure: why, with every configuration problem).
    pub message: *const c_char,
    /// The meshes a mesh change put in, replaced or removed: `mesh_count` strings.
    pub meshes: *const *const c_char,
    /// How many strings `meshes` has.
    pub mesh_count: usize,
    /// Cached resolutions dropped.
    pub references_dropped: u64,
    /// Cached mesh tokens dropped.
    pub mesh_tokens_dropped: u64,
    /// The status of the error of a failed change or poll (`RUNBEAM_STATUS_CONFIG`,
    /// `_TRANSPORT`, …); `RUNBEAM_OK` for other events. During the callback the thread's last
    /// error is that error (`runbeam_last_error_problems()`, `_http_status()`, …).
    pub error_status: runbeam_status,
    /// That error's kind name (`"Config"`, `"Transport"`, …); `""` when none.
    pub error_kind: *const c_char,
    /// For `RUNBEAM_WATCH_POLL_FAILED`: milliseconds until the next poll; -1 otherwise.
    pub retry_in_ms: i64,
}

/// The callback of `runbeam_resolver_watch()`: one call per event, with the `user_data` given
/// there and an event valid only during the call.
///
/// It runs on a librunbeam runtime thread (its blocking pool), **never twice at once** for one
/// watcher, events of one provider in feed order. Like every librunbeam callback it must not
/// make blocking librunbeam calls that need the network (they are refused): `_cached` forms,
/// `_async` calls, stats and `runbeam_watcher_stop()` are fine.
#[allow(non_camel_case_types)]
pub type runbeam_watch_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const runbeam_watch_event)>;

/// A running watcher (`runbeam_resolver_watch()`); stop it with `runbeam_watcher_stop()`,
/// release it with `runbeam_watcher_free()` (which stops it).
#[allow(non_camel_case_types)]
pub struct runbeam_watcher {
    watcher: Watcher,
    providers: Vec<CString>,
    // Field order matters: the watcher is stopped (and its callback dropped) before the
    // runtime share and the token manager's callbacks go.
    _runtime: Runtime,
    _manager_callbacks: Arc<CallbackOwner>,
}

/// The C form of one event, owning its strings.
struct CEvent {
    kind_name: CString,
    provider: CString,
    change_id: CString,
    change_type: CString,
    action: CString,
    message: CString,
    meshes: Vec<CString>,
    error_kind: CString,
}

fn kind_number(kind: WatchEventKind) -> c_int {
    match kind {
        WatchEventKind::Applied => RUNBEAM_WATCH_APPLIED,
        WatchEventKind::Failed => RUNBEAM_WATCH_FAILED,
        WatchEventKind::Skipped => RUNBEAM_WATCH_SKIPPED,
        WatchEventKind::PollFailed => RUNBEAM_WATCH_POLL_FAILED,
        _ => -1,
    }
}

fn deliver(
    callback: unsafe extern "C" fn(*mut c_void, *const runbeam_watch_event),
    user_data: &UserData,
    event: WatchEvent,
) {
    let strings = CEvent {
        kind_name: to_cstring(event.kind.as_str()),
        provider: to_cstring(&event.provider),
        change_id: to_cstring(&event.change_id),
        change_type: to_cstring(&event.change_type),
        action: to_cstring(&event.action),
        message: to_cstring(&event.message),
        meshes: event.meshes.iter().map(|m| to_cstring(m)).collect(),
        error_kind: to_cstring(event.error.as_ref().map_or("", |e| e.kind().name())),
    };
    let meshes: Vec<*const c_char> = strings.meshes.iter().map(|m| m.as_ptr()).collect();
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let c = runbeam_watch_event {
        kind: kind_number(event.kind),
        kind_name: strings.kind_name.as_ptr(),
        provider: strings.provider.as_ptr(),
        change_id: strings.change_id.as_ptr(),
        change_type: strings.change_type.as_ptr(),
        action: strings.action.as_ptr(),
        message: strings.message.as_ptr(),
        meshes: if meshes.is_empty() {
            ptr::null()
        } else {
            meshes.as_ptr()
        },
        mesh_count: meshes.len(),
        references_dropped: count(event.references_dropped),
        mesh_tokens_dropped: count(event.mesh_tokens_dropped),
        error_status: event
            .error
            .as_ref()
            .map_or(RUNBEAM_OK, |e| e.kind().c_status()),
        error_kind: strings.error_kind.as_ptr(),
        retry_in_ms: event
            .retry_in
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    };
    // The thread's last error is the event's error during the call (as for failure callbacks).
    match event.error {
        Some(e) => {
            error::set(e);
        }
        None => error::clear(),
    }
    // SAFETY: the caller's contract (runbeam_resolver_watch): callable with its user_data and
    // an event valid during the call.
    unsafe { callback(user_data.get(), &c) };
    error::clear();
}

/// Follows the change feed of every enabled provider of the resolver's configuration whose
/// `poll_interval_secs` is above 0, and calls `callback` (with `user_data`) for each change
/// and failed poll (see `runbeam_watch_event`). Mesh changes are validated and applied as
/// `runbeam_resolver_reload()` would (a change with problems is refused and the configuration
/// in use stays), ingress/egress changes drop the cached answers of that resource, and each
/// change is reported applied or failed to the Cloud; other changes are left for the host
/// (`RUNBEAM_WATCH_SKIPPED`). The first poll is at once; after errors the polls back off
/// exponentially, up to 5 minutes. Providers added by a later reload are not polled: start
/// another watcher.
///
/// Writes the new watcher to `*out`. It runs on the resolver's runtime (shared with its
/// client) and keeps what it needs: the resolver handle may be freed while it runs. The
/// token manager's callbacks stay callable while it lives (its renewals use them).
///
/// **After `runbeam_watcher_stop()` or `runbeam_watcher_free()` returns, `callback` is never
/// called again** (a call running on another thread is waited for), so `user_data` may be
/// released right after.
///
/// Errors: `RUNBEAM_STATUS_INVALID_ARGUMENT` for a NULL resolver, callback or `out`.
///
/// ```c
/// static void on_change(void *user_data, const runbeam_watch_event *e) {
///     (void)user_data;
///     if (e->kind == RUNBEAM_WATCH_FAILED)
///         fprintf(stderr, "change %s refused: %s\n", e->change_id, e->message);
///     else
///         printf("%s %s %s: %s\n", e->kind_name, e->change_type, e->change_id, e->message);
/// }
///
/// runbeam_watcher *watcher = NULL;
/// if (runbeam_resolver_watch(resolver, on_change, NULL, &watcher) != RUNBEAM_OK)
///     fprintf(stderr, "watch: %s\n", runbeam_last_error_message());
/// ...
/// runbeam_watcher_free(watcher);   // stops it: on_change is not called any more
/// ```
///
/// # Safety
/// `resolver` is NULL or a live resolver; `callback` may be called with `user_data` on a
/// librunbeam thread until the watcher is stopped; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_resolver_watch(
    resolver: *const runbeam_resolver,
    callback: runbeam_watch_callback,
    user_data: *mut c_void,
    out: *mut *mut runbeam_watcher,
) -> runbeam_status {
    guard("runbeam_resolver_watch", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let r = unsafe { handle_arg(resolver, "resolver") }?;
        let callback = callback_arg(callback)?;
        let user_data = UserData::new(user_data);
        let handle = r.runtime.tokio_handle()?;
        let watcher = r.resolver.watch_on(&handle, move |event| {
            deliver(callback, &user_data, event);
        });
        let providers = watcher.providers().iter().map(|p| to_cstring(p)).collect();
        let boxed = Box::new(runbeam_watcher {
            watcher,
            providers,
            _runtime: r.runtime.share(),
            _manager_callbacks: Arc::clone(&r.manager_callbacks),
        });
        // SAFETY: non-NULL and writable (contract).
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

/// How many providers the watcher polls (0 when none has a `poll_interval_secs` above 0: then
/// the callback is never called); 0 if `watcher` is NULL.
///
/// # Safety
/// `watcher` is NULL or a live watcher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_watcher_provider_count(watcher: *const runbeam_watcher) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_watcher_provider_count", watcher, 0, |w| {
            w.providers.len()
        })
    }
}

/// The name of polled provider `index` (0-based, in configuration order), borrowed from the
/// watcher; NULL when out of range or `watcher` is NULL.
///
/// # Safety
/// `watcher` is NULL or a live watcher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_watcher_provider(
    watcher: *const runbeam_watcher,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_watcher_provider", watcher, ptr::null(), |w| {
            w.providers.get(index).map_or(ptr::null(), |p| p.as_ptr())
        })
    }
}

/// Stops the watcher: no poll starts any more, polls in flight are abandoned, and when this
/// returns the callback is never called again — a call running on another thread is waited
/// for (don't call this from a thread that call waits on). Called from inside the callback it
/// cannot wait for itself: it returns at once, and that call is the last. Idempotent; the
/// handle stays valid until `runbeam_watcher_free()`.
///
/// Returns `RUNBEAM_STATUS_INVALID_ARGUMENT` if `watcher` is NULL.
///
/// # Safety
/// `watcher` is NULL or a live watcher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_watcher_stop(watcher: *const runbeam_watcher) -> runbeam_status {
    guard("runbeam_watcher_stop", || {
        // SAFETY: forwarded contract.
        let w = unsafe { handle_arg(watcher, "watcher") }?;
        w.watcher.stop();
        Ok(())
    })
}

/// Whether `runbeam_watcher_stop()` was called; false if `watcher` is NULL.
///
/// # Safety
/// `watcher` is NULL or a live watcher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_watcher_is_stopped(watcher: *const runbeam_watcher) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read_handle("runbeam_watcher_is_stopped", watcher, false, |w| {
            w.watcher.is_stopped()
        })
    }
}

/// Stops the watcher (as `runbeam_watcher_stop()`) and releases it. When it is the last handle
/// using the client's runtime, the runtime shuts down. NULL is a no-op.
///
/// # Safety
/// `watcher` is NULL or a watcher not freed before, no longer used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_watcher_free(watcher: *mut runbeam_watcher) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_watcher_free", watcher) }
}
