//! Live configuration: the resolver follows its providers' change feeds (docs/spec.md §3.3)
//! without the host writing a poller. See docs/design.md, "Live configuration".
//!
//! - [`Resolver::apply_change`] applies one change of the feed to the configuration in use and
//!   says what happened, as a [`WatchEvent`] (for a host with its own poller).
//! - [`Resolver::watch`] starts one polling task per enabled remote provider whose
//!   `poll_interval_secs` is above 0; each cycle fetches the pending changes with the gateway's
//!   machine token, acknowledges them, applies each, reports it applied or failed, and tells
//!   the host through a callback. [`Watcher::stop`] (or dropping the [`Watcher`]) ends it.

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use rand::Rng;
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::resolver::{Dropped, Resolver};
use crate::client::Change;
use crate::config::{MAX_DOCUMENT_BYTES, MeshConfig, parse_mesh_toml};
use crate::error::{Error, ErrorKind, Result, quote_input};
use crate::reference::LOCAL_PROVIDER;

/// The longest wait between polls after errors (unless the provider's interval is longer).
pub const MAX_POLL_BACKOFF: Duration = Duration::from_secs(300);

/// How often a task whose provider was disabled (or its interval set to 0) by a reload looks
/// at the configuration again.
const PAUSED_RECHECK: Duration = Duration::from_secs(5);

/// Change ids a task remembers so as not to apply or report them again (skipped changes stay
/// in the feed, acknowledged, until the host marks them). As many as one fetch of the feed
/// returns: with fewer, a feed full of unmarked skipped changes would evict ids still in it
/// and report them again on every poll.
const SEEN_CAPACITY: usize = crate::client::MAX_FEED_CHANGES;

/// Change types the SDK knows but does not apply: the gateway applies them.
const HOST_TYPES: [&str; 6] = [
    "gateway",
    "pipeline",
    "transform",
    "endpoint",
    "backend",
    "service",
];

/// What happened to a change, or to a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchEventKind {
    /// The change was applied (and, by a watcher, reported applied).
    Applied,
    /// The change could not be applied; the configuration in use is unchanged (a watcher
    /// reports it failed with the message and, for configuration problems, every problem).
    Failed,
    /// A change librunbeam does not apply (`gateway`, `pipeline`, `transform`, `endpoint`,
    /// `backend`, `service`): it is for the host. A watcher acknowledges it but does not mark
    /// it applied or failed — the host does, with [`crate::client::Client::change_applied`] or
    /// [`crate::client::Client::change_failed`] — and reports it once per watcher.
    Skipped,
    /// Fetching, acknowledging or reporting changes failed; [`WatchEvent::retry_in`] says
    /// when the next poll is.
    PollFailed,
}

impl WatchEventKind {
    /// `"applied"`, `"failed"`, `"skipped"` or `"poll_failed"`.
    ///
    /// ```
    /// assert_eq!(runbeam_core::resolve::WatchEventKind::PollFailed.as_str(), "poll_failed");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            WatchEventKind::Applied => "applied",
            WatchEventKind::Failed => "failed",
            WatchEventKind::Skipped => "skipped",
            WatchEventKind::PollFailed => "poll_failed",
        }
    }
}

impl fmt::Display for WatchEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a watcher (or [`Resolver::apply_change`]) did: a flat record of strings and
/// numbers, so that every binding can mirror it.
///
/// ```
/// use runbeam_core::resolve::{WatchEvent, WatchEventKind};
/// fn on_event(event: WatchEvent) {
///     match event.kind {
///         WatchEventKind::Skipped => println!("for the gateway: {} {}", event.change_type, event.change_id),
///         WatchEventKind::PollFailed => println!("{} (next poll in {:?})", event.message, event.retry_in),
///         _ => println!("{}: {}", event.kind, event.message),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WatchEvent {
    /// What happened.
    pub kind: WatchEventKind,
    /// The provider whose feed the change came from.
    pub provider: String,
    /// The change id; empty for [`WatchEventKind::PollFailed`].
    pub change_id: String,
    /// The change's `type` (`mesh`, `ingress`, `pipeline`, …) as sent, escaped and cut to 64
    /// bytes; empty when absent and for [`WatchEventKind::PollFailed`].
    pub change_type: String,
    /// The change's `action` (`created`, `updated`, `deleted`) as sent, escaped and cut to
    /// 64 bytes; empty when absent.
    pub action: String,
    /// What happened, for a person (for a failure: why, with every configuration problem).
    pub message: String,
    /// The meshes a mesh change put in, replaced or removed.
    pub meshes: Vec<String>,
    /// Cached resolutions dropped.
    pub references_dropped: usize,
    /// Cached mesh tokens dropped.
    pub mesh_tokens_dropped: usize,
    /// The error of a [`WatchEventKind::Failed`] or [`WatchEventKind::PollFailed`] event.
    pub error: Option<Error>,
    /// For [`WatchEventKind::PollFailed`]: the wait before the next poll.
    pub retry_in: Option<Duration>,
}

impl WatchEvent {
    fn new(kind: WatchEventKind, provider: &str) -> WatchEvent {
        WatchEvent {
            kind,
            provider: provider.to_string(),
            change_id: String::new(),
            change_type: String::new(),
            action: String::new(),
            message: String::new(),
            meshes: Vec::new(),
            references_dropped: 0,
            mesh_tokens_dropped: 0,
            error: None,
            retry_in: None,
        }
    }

    /// The JSON `details` a failed change is reported with: the error kind and, for
    /// configuration problems, each problem's path and message.
    fn failure_details(&self) -> Value {
        let Some(error) = &self.error else {
            return Value::Null;
        };
        let problems: Vec<Value> = error
            .problems()
            .iter()
            .map(|p| json!({"path": p.path(), "message": p.message()}))
            .collect();
        json!({"kind": error.kind().name(), "problems": problems})
    }
}

/// A string field of the change: `None` when absent or null, an error for another type.
fn text_field<'c>(change: &'c Change, key: &str) -> Result<Option<&'c str>> {
    match change.extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "the change's `{key}` must be a string, found {}",
                json_type(other)
            ),
        )),
    }
}

fn required<'c>(change: &'c Change, key: &str, why: &str) -> Result<&'c str> {
    match text_field(change, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            format!("the change has no `{key}` ({why})"),
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn label(text: &str) -> String {
    quote_input(text, 64)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Resolver {
    /// Applies one change of provider `provider`'s change feed (docs/spec.md §3.3) to the
    /// configuration in use, for a host with its own poller ([`Resolver::watch`] uses it too).
    /// Nothing is sent anywhere: report the result yourself (`change_applied` for
    /// [`WatchEventKind::Applied`], `change_failed` with [`WatchEvent::message`] for
    /// [`WatchEventKind::Failed`]).
    ///
    /// - `type = "mesh"`: `action` `created` or `updated` puts the `[mesh.<name>]` tables of
    ///   the TOML string `config` into the configuration (replacing meshes of the same name),
    ///   `deleted` removes the mesh named by `name` (or by `resource_id`, its name or Cloud
    ///   id, or by the tables of `config`). A provider may only change its own meshes
    ///   (`provider = "<provider>"`), never a mesh of another provider or of `local`. The
    ///   result goes through [`Resolver::reload`]: a configuration with problems is refused
    ///   ([`WatchEventKind::Failed`] listing every problem) and the old one stays.
    /// - `type = "ingress"` or `"egress"`: every cached resolution whose resource has the id
    ///   `resource_id` is dropped ([`Resolver::invalidate_resource`]).
    /// - `gateway`, `pipeline`, `transform`, `endpoint`, `backend`, `service`:
    ///   [`WatchEventKind::Skipped`], for the host.
    /// - Anything else (unknown type, missing or mistyped field, bad TOML, a `config` larger
    ///   than 4 MiB): [`WatchEventKind::Failed`] with a message saying what is wrong. Never
    ///   [`WatchEventKind::PollFailed`], never a panic.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use runbeam_core::{client::{Change, Client}, config::MeshConfig, resolve::{Resolver, WatchEventKind}};
    /// # use runbeam_core::storage::{MemoryTokenStore, TokenManager};
    /// # let cloud = Client::new("https://api.runbeam.io")?;
    /// # let manager = Arc::new(TokenManager::new("gw", Arc::new(MemoryTokenStore::new()), cloud.clone()));
    /// let config = MeshConfig::from_toml("[provider.runbeam]\napi = \"https://api.runbeam.io\"\n")?;
    /// let resolver = Resolver::builder(config, cloud, manager).build()?;
    /// let change: Change = serde_json::from_value(serde_json::json!({
    ///     "id": "01JCHANGE", "type": "mesh", "action": "created",
    ///     "config": "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\n\
    ///                egress = [\"runbeam.radiology-dept.ingress.name.dicomweb\"]\n",
    /// })).unwrap();
    /// let event = resolver.apply_change("runbeam", &change);
    /// assert_eq!(event.kind, WatchEventKind::Applied, "{}", event.message);
    /// assert_eq!(event.meshes, ["imaging"]);
    /// assert!(resolver.config().mesh("imaging").is_some());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn apply_change(&self, provider: &str, change: &Change) -> WatchEvent {
        let mut event = WatchEvent::new(WatchEventKind::Applied, provider);
        event.change_id = change.id.clone();
        if let Ok(Some(kind)) = text_field(change, "type") {
            event.change_type = label(kind);
        }
        if let Ok(Some(action)) = text_field(change, "action") {
            event.action = label(action);
        }
        if let Err(e) = self.apply(provider, change, &mut event) {
            event.kind = WatchEventKind::Failed;
            event.message = format!(
                "change {} ({} {}) was not applied: {}",
                label(&change.id),
                if event.change_type.is_empty() {
                    "?"
                } else {
                    &event.change_type
                },
                if event.action.is_empty() {
                    "?"
                } else {
                    &event.action
                },
                e.message()
            );
            event.error = Some(e);
        }
        event
    }

    fn apply(&self, provider: &str, change: &Change, event: &mut WatchEvent) -> Result<()> {
        let kind = required(change, "type", "what kind of change it is")?;
        match kind {
            "mesh" => self.apply_mesh(provider, change, event),
            "ingress" | "egress" => {
                let id = required(change, "resource_id", "which resource changed")?;
                let dropped = self.invalidate_resource(id);
                event.references_dropped = dropped;
                event.message = format!(
                    "{kind} '{}' {}: {} dropped",
                    label(id),
                    if event.action.is_empty() {
                        "changed"
                    } else {
                        &event.action
                    },
                    plural(dropped, "cached resolution", "cached resolutions")
                );
                Ok(())
            }
            host if HOST_TYPES.contains(&host) => {
                event.kind = WatchEventKind::Skipped;
                event.message = format!(
                    "a {host} change is not applied by librunbeam: it is for the gateway to \
                     apply, and to mark applied or failed"
                );
                Ok(())
            }
            other => Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "unknown change type '{}' (librunbeam applies mesh, ingress and egress \
                     changes and hands gateway, pipeline, transform, endpoint, backend and \
                     service changes to the gateway)",
                    label(other)
                ),
            )),
        }
    }

    fn apply_mesh(&self, provider: &str, change: &Change, event: &mut WatchEvent) -> Result<()> {
        let action = required(change, "action", "created, updated or deleted")?;
        let config = text_field(change, "config")?;
        if let Some(text) = config
            && text.len() > MAX_DOCUMENT_BYTES
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the change's config is {} bytes long (at most {MAX_DOCUMENT_BYTES})",
                    text.len()
                ),
            ));
        }
        let document = format!("change {} config", label(&change.id));
        let ((meshes, what), dropped) = match action {
            "created" | "updated" => {
                let text = config.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "the change has no `config` (a mesh {action} change carries its \
                             [mesh.<name>] tables as a TOML string)"
                        ),
                    )
                })?;
                let tables = parse_mesh_toml(&document, text)?;
                self.reload_with(|current| {
                    for mesh in &tables {
                        owned(provider, &mesh.name, &mesh.provider)?;
                        // Every configured mesh this table would replace or answer for: a
                        // lookup by name or Cloud id must not find a new mesh of this provider
                        // where it found another provider's.
                        let names = [mesh.name.as_str(), mesh.cloud_id()];
                        for old in current.meshes().iter().filter(|old| {
                            names.contains(&old.name.as_str()) || names.contains(&old.cloud_id())
                        }) {
                            owned(provider, &old.name, &old.provider)?;
                        }
                    }
                    let names: Vec<String> = tables.iter().map(|m| m.name.clone()).collect();
                    Ok((current.with_meshes(tables), (names, action.to_string())))
                })?
            }
            "deleted" => {
                let named = match text_field(change, "name")? {
                    Some(name) => vec![name.to_string()],
                    None => match config {
                        Some(text) => parse_mesh_toml(&document, text)?
                            .into_iter()
                            .map(|m| m.name)
                            .collect(),
                        None => vec![
                            required(change, "resource_id", "which mesh to delete")?.to_string(),
                        ],
                    },
                };
                self.reload_with(|current| delete_meshes(provider, current, &named))?
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "unknown action '{}' for a mesh change (expected created, updated or \
                         deleted)",
                        label(other)
                    ),
                ));
            }
        };
        // Reload keeps the tokens of a mesh whose id and trust are unchanged; a change of the
        // feed says the Cloud's mesh changed (members, URLs), so its tokens go too.
        let mut dropped = dropped;
        for mesh in &meshes {
            dropped.mesh_tokens += self.invalidate_mesh_tokens(mesh);
        }
        fill(event, meshes, &what, dropped);
        Ok(())
    }
}

/// A provider may change only its own meshes.
fn owned(provider: &str, mesh: &str, mesh_provider: &str) -> Result<()> {
    if mesh_provider == provider && provider != LOCAL_PROVIDER {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "mesh '{}' belongs to provider '{}': a change from provider '{}' may only change \
             that provider's meshes",
            label(mesh),
            label(mesh_provider),
            label(provider)
        ),
    ))
}

/// Removes the meshes `named` (a name or a Cloud id each); names that are not configured
/// are left out of the result.
fn delete_meshes(
    provider: &str,
    current: &MeshConfig,
    named: &[String],
) -> Result<(MeshConfig, (Vec<String>, String))> {
    let mut next = current.clone();
    let mut removed = Vec::new();
    for wanted in named {
        let found = next
            .meshes()
            .iter()
            .find(|m| m.name == *wanted)
            .or_else(|| next.meshes().iter().find(|m| m.cloud_id() == wanted))
            .map(|m| (m.name.clone(), m.provider.clone()));
        let Some((name, mesh_provider)) = found else {
            continue;
        };
        owned(provider, &name, &mesh_provider)?;
        if let Some(without) = next.without_mesh(&name) {
            next = without;
            removed.push(name);
        }
    }
    let what = if removed.is_empty() {
        format!(
            "deleted (not in this configuration: {})",
            named
                .iter()
                .map(|n| label(n))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        "deleted".to_string()
    };
    Ok((next, (removed, what)))
}

fn fill(event: &mut WatchEvent, meshes: Vec<String>, what: &str, dropped: Dropped) {
    let names = if meshes.is_empty() {
        "no mesh".to_string()
    } else {
        meshes
            .iter()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    event.message = format!(
        "mesh {names} {what}: {} and {} dropped",
        plural(
            dropped.references,
            "cached resolution",
            "cached resolutions"
        ),
        plural(dropped.mesh_tokens, "mesh token", "mesh tokens")
    );
    event.meshes = meshes;
    event.references_dropped = dropped.references;
    event.mesh_tokens_dropped = dropped.mesh_tokens;
}

// ------------------------------------------------------------------------------- watcher

type Callback = Box<dyn FnMut(WatchEvent) + Send + 'static>;

struct Shared {
    stopped: AtomicBool,
    /// The host's callback; `None` once stopped. Held while the callback runs, so that two
    /// calls never overlap and `stop` waits for a running one.
    callback: Mutex<Option<Callback>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn id(&self) -> usize {
        self as *const Shared as usize
    }
}

thread_local! {
    /// The watcher whose callback this thread is running (0: none), so that `stop` called
    /// from inside the callback does not wait for itself.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

/// Calls the callback with `event` unless the watcher stopped. Runs on a blocking thread.
fn deliver(shared: &Shared, event: WatchEvent) {
    let mut slot = shared.callback.lock().unwrap_or_else(|e| e.into_inner());
    if shared.stopped() {
        slot.take();
        return;
    }
    let Some(callback) = slot.as_mut() else {
        return;
    };
    IN_CALLBACK.with(|c| c.set(shared.id()));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| callback(event)));
    IN_CALLBACK.with(|c| c.set(0));
    if shared.stopped() {
        // `stop` was called from inside the callback: it is dropped now that it returned.
        slot.take();
    }
    // Logged after the callback's lock is released: a host's log handler may wait for a lock
    // whose holder is waiting in `stop` for this one.
    drop(slot);
    if let Err(panic) = outcome {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic".to_string());
        tracing::error!(
            target: "runbeam::watch",
            panic = %quote_input(&what, 300),
            "the change-feed callback panicked; the watcher goes on"
        );
    }
}

async fn emit(shared: &Arc<Shared>, event: WatchEvent) {
    if shared.stopped() {
        return;
    }
    let shared = Arc::clone(shared);
    // A blocking thread: the callback may block (a GIL, a lock) without holding up the
    // runtime's workers. Awaited, so a task's events arrive in order.
    let _ = tokio::task::spawn_blocking(move || deliver(&shared, event)).await;
}

/// Follows the change feeds of a resolver's providers; see [`Resolver::watch`].
///
/// **Guarantees.** The callback is never called by two threads at once (one lock per
/// watcher, across its providers); a panic in it is caught and logged (target
/// `runbeam::watch`), and the watcher goes on. After [`Watcher::stop`] returns — or the
/// watcher is dropped — the callback is not called again and has been dropped (a callback
/// that was running when `stop` was called has returned), no new poll starts, and every
/// polling task is cancelled (a request in flight is abandoned at its next step);
/// [`Watcher::shutdown`] additionally waits until the tasks are gone. Called from inside
/// the callback, `stop` cannot wait for it: it returns at once, and the callback is dropped
/// when it returns, without being called again.
pub struct Watcher {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    providers: Vec<String>,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("providers", &self.providers)
            .field("stopped", &self.shared.stopped())
            .finish()
    }
}

impl Watcher {
    /// The providers being polled, in configuration order (each with a `poll_interval_secs`
    /// above 0 when the watcher started). Empty when nothing is polled.
    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    /// Whether [`Watcher::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped()
    }

    /// Stops polling; see the type documentation for what holds when it returns. Waits only
    /// for a callback that is running. Idempotent.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        for task in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            task.abort();
        }
        if IN_CALLBACK.with(Cell::get) == self.shared.id() {
            return;
        }
        let callback = self
            .shared
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(callback);
    }

    /// [`Watcher::stop`], then waits until every polling task has ended.
    pub async fn shutdown(self) {
        self.stop();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Resolver {
    /// Follows the change feed of every enabled remote provider whose `poll_interval_secs` is
    /// above 0 (docs/spec.md §2.1; 0 turns polling off), on the current Tokio runtime; see
    /// [`Resolver::watch_on`].
    ///
    /// # Errors
    /// `InvalidArgument` when called outside a Tokio runtime.
    pub fn watch<F>(&self, on_event: F) -> Result<Watcher>
    where
        F: FnMut(WatchEvent) + Send + 'static,
    {
        let handle = Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                "Resolver::watch needs a Tokio runtime: call it inside one, or pass a runtime \
                 handle to Resolver::watch_on",
            )
        })?;
        Ok(self.watch_on(&handle, on_event))
    }

    /// Follows the change feeds on `runtime`: one task per enabled remote provider whose
    /// `poll_interval_secs` is above 0. Each cycle reads the provider's interval from the
    /// configuration in use (a reload may change it; a provider disabled or set to 0 by a
    /// reload pauses until it is enabled again), fetches the pending changes with the
    /// gateway's machine token, acknowledges them, applies each ([`Resolver::apply_change`]),
    /// reports it applied or failed (docs/spec.md §3.3) and calls `on_event` with what
    /// happened. The first poll is immediate. After an error the next poll waits
    /// exponentially longer (with jitter) from the interval up to [`MAX_POLL_BACKOFF`] (or the
    /// interval when it is longer), at least as long as a `RateLimited` answer asks; the
    /// callback gets [`WatchEventKind::PollFailed`] with the wait. Providers added by a later
    /// reload are not polled: start another watcher.
    ///
    /// `on_event` runs on a blocking thread of `runtime`, never twice at once; see [`Watcher`]
    /// for the guarantees around [`Watcher::stop`].
    ///
    /// ```no_run
    /// # async fn run(resolver: runbeam_core::resolve::Resolver) -> runbeam_core::Result<()> {
    /// let watcher = resolver.watch(|event| println!("{}: {}", event.kind, event.message))?;
    /// // … serve traffic; the resolver follows the Cloud's changes …
    /// watcher.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn watch_on<F>(&self, runtime: &Handle, on_event: F) -> Watcher
    where
        F: FnMut(WatchEvent) + Send + 'static,
    {
        let shared = Arc::new(Shared {
            stopped: AtomicBool::new(false),
            callback: Mutex::new(Some(Box::new(on_event))),
        });
        let providers: Vec<String> = self
            .config()
            .providers()
            .iter()
            .filter(|p| {
                p.name != LOCAL_PROVIDER && p.enabled && p.api.is_some() && p.poll_interval_secs > 0
            })
            .map(|p| p.name.clone())
            .collect();
        let tasks = providers
            .iter()
            .map(|provider| {
                runtime.spawn(poll_loop(
                    self.clone(),
                    provider.clone(),
                    Arc::clone(&shared),
                ))
            })
            .collect();
        tracing::info!(
            target: "runbeam::watch",
            providers = %providers.join(", "),
            "watching the change feeds"
        );
        Watcher {
            shared,
            tasks: Mutex::new(tasks),
            providers,
        }
    }
}

/// The provider's poll interval in the configuration in use; `None` when it is not polled.
fn current_interval(resolver: &Resolver, provider: &str) -> Option<Duration> {
    let config = resolver.config();
    let p = config.provider(provider)?;
    (p.enabled && p.api.is_some() && p.poll_interval_secs > 0)
        .then(|| Duration::from_secs(u64::from(p.poll_interval_secs)))
}

/// The wait after the `failures`-th failure in a row: `interval × 2^(failures−1)` capped at
/// [`MAX_POLL_BACKOFF`] (or `interval` if longer), jittered down to half (never below the
/// interval), and at least `retry_after` (capped at an hour).
pub(crate) fn backoff(
    interval: Duration,
    failures: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let cap = MAX_POLL_BACKOFF.max(interval);
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    let ceiling = interval.saturating_mul(factor).min(cap);
    let floor = (ceiling / 2).max(interval).min(ceiling);
    let spread = ceiling.saturating_sub(floor).as_millis() as u64;
    let jittered = floor + Duration::from_millis(rand::rng().random_range(0..=spread));
    let asked = retry_after
        .unwrap_or_default()
        .min(Duration::from_secs(3600));
    jittered.max(asked)
}

/// Change ids already handled (skipped, or whose report the Cloud refused for good).
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.ids.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > SEEN_CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }
}

async fn poll_loop(resolver: Resolver, provider: String, shared: Arc<Shared>) {
    let mut failures = 0u32;
    let mut seen = Seen::default();
    let mut delay = Duration::ZERO;
    loop {
        tokio::time::sleep(delay).await;
        if shared.stopped() {
            return;
        }
        let Some(interval) = current_interval(&resolver, &provider) else {
            failures = 0;
            delay = PAUSED_RECHECK;
            continue;
        };
        let cycle = AssertUnwindSafe(poll_once(&resolver, &provider, &shared, &mut seen))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Internal,
                    "a change-feed poll panicked (a bug in librunbeam)",
                ))
            });
        match cycle {
            Ok(()) => {
                failures = 0;
                delay = interval;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                delay = backoff(interval, failures, e.retry_after());
                tracing::warn!(
                    target: "runbeam::watch",
                    provider = %provider,
                    kind = e.kind().name(),
                    retry_in_ms = delay.as_millis() as u64,
                    "polling the change feed failed: {}",
                    e.message()
                );
                let mut event = WatchEvent::new(WatchEventKind::PollFailed, &provider);
                event.message = format!(
                    "polling the change feed of provider '{provider}' failed ({} in a row): \
                     {}; next poll in {:.1} s",
                    failures,
                    e.message(),
                    delay.as_secs_f64()
                );
                event.error = Some(e);
                event.retry_in = Some(delay);
                emit(&shared, event).await;
            }
        }
    }
}

/// A report the Cloud refused for good: retrying it would not help.
fn refused_for_good(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Conflict
            | ErrorKind::NotFound
            | ErrorKind::Validation
            | ErrorKind::InvalidArgument
    )
}

async fn poll_once(
    resolver: &Resolver,
    provider: &str,
    shared: &Arc<Shared>,
    seen: &mut Seen,
) -> Result<()> {
    let client = resolver.provider_machine_client(provider).await?;
    let answer = client.changes(None).await;
    resolver.after_machine_call(&answer);
    let changes = answer?;
    let fresh: Vec<&Change> = changes
        .iter()
        .filter(|c| !seen.contains(&c.id))
        .filter(|c| !matches!(c.status.as_deref(), Some("applied" | "failed")))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let pending: Vec<&str> = fresh
        .iter()
        .filter(|c| c.status.as_deref() != Some("acknowledged"))
        .map(|c| c.id.as_str())
        .collect();
    if !pending.is_empty() {
        let answer = client.acknowledge_changes(&pending).await;
        resolver.after_machine_call(&answer);
        answer?;
    }
    let mut failed_report = None;
    for change in fresh {
        if shared.stopped() {
            return Ok(());
        }
        let event = resolver.apply_change(provider, change);
        log_event(&event);
        let report = match event.kind {
            WatchEventKind::Applied => client.change_applied(&change.id).await.map(drop),
            WatchEventKind::Failed => {
                let details = event.failure_details();
                client
                    .change_failed(&change.id, &event.message, Some(&details))
                    .await
                    .map(drop)
            }
            _ => {
                seen.insert(&change.id);
                Ok(())
            }
        };
        resolver.after_machine_call(&report);
        if let Err(e) = report {
            if refused_for_good(&e) {
                // Already marked (Conflict), or the Cloud will never take this report: do not
                // apply the change again on every poll.
                tracing::warn!(
                    target: "runbeam::watch",
                    provider = %provider,
                    change = %label(&change.id),
                    "reporting the change {} was refused: {}",
                    event.kind,
                    e.message()
                );
                seen.insert(&change.id);
            } else if failed_report.is_none() {
                // The change stays acknowledged: the next poll applies (idempotently) and
                // reports it again.
                failed_report = Some(e);
            }
        }
        emit(shared, event).await;
    }
    failed_report.map_or(Ok(()), Err)
}

fn log_event(event: &WatchEvent) {
    match event.kind {
        WatchEventKind::Failed => tracing::warn!(
            target: "runbeam::watch",
            provider = %event.provider,
            change = %label(&event.change_id),
            "{}",
            event.message
        ),
        _ => tracing::info!(
            target: "runbeam::watch",
            provider = %event.provider,
            change = %label(&event.change_id),
            kind = event.kind.as_str(),
            "{}",
            event.message
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::client::Client;
    use crate::storage::{MemoryTokenStore, TokenManager};

    const BASE: &str = r#"
        [provider.runbeam]
        api = "https://api.runbeam.io"
        [provider.partner]
        api = "https://api.partner.example"
        poll_interval_secs = 0
        [pipelines.research.mesh.egress.imaging-out]
        backend = "b"
        [mesh.imaging]
        type = "http3"
        provider = "runbeam"
        egress = ["imaging-out", "runbeam.radiology-dept.ingress.name.dicomweb"]
        [mesh.theirs]
        type = "http"
        provider = "partner"
        [mesh.home]
        type = "http"
        provider = "local"
        jwt_secret = "a-local-secret-that-is-long-enough"
    "#;

    fn resolver() -> Resolver {
        let cloud = Client::new("https://api.runbeam.io").unwrap();
        let manager = TokenManager::new("gw", Arc::new(MemoryTokenStore::new()), cloud.clone());
        let resolver = Resolver::builder(
            MeshConfig::from_toml(BASE).unwrap(),
            cloud,
            Arc::new(manager),
        )
        .build()
        .unwrap();
        resolver.validate_startup().unwrap();
        resolver
    }

    fn change(value: Value) -> Change {
        serde_json::from_value(value).unwrap()
    }

    fn apply(resolver: &Resolver, value: Value) -> WatchEvent {
        resolver.apply_change("runbeam", &change(value))
    }

    #[test]
    fn mesh_changes_create_update_and_delete_meshes() {
        let r = resolver();
        let created = apply(
            &r,
            json!({"id": "1", "type": "mesh", "action": "created",
                   "config": "[mesh.extra]\ntype = \"http\"\nprovider = \"runbeam\"\n"}),
        );
        assert_eq!(created.kind, WatchEventKind::Applied, "{}", created.message);
        assert_eq!(created.meshes, ["extra"]);
        assert_eq!(
            created.message,
            "mesh 'extra' created: 0 cached resolutions and 0 mesh tokens dropped"
        );
        let updated = apply(
            &r,
            json!({"id": "2", "type": "mesh", "action": "updated",
                   "config": "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\nenabled = false\n"}),
        );
        assert_eq!(updated.kind, WatchEventKind::Applied, "{}", updated.message);
        assert!(!r.config().mesh("imaging").unwrap().enabled);
        // By name, by Cloud id (the name stands in), by the tables of `config`.
        for (id, how) in [
            ("3", json!({"name": "imaging"})),
            ("4", json!({"resource_id": "extra"})),
        ] {
            let mut value = json!({"id": id, "type": "mesh", "action": "deleted"});
            value
                .as_object_mut()
                .unwrap()
                .extend(how.as_object().unwrap().clone());
            let deleted = apply(&r, value);
            assert_eq!(deleted.kind, WatchEventKind::Applied, "{}", deleted.message);
            assert_eq!(deleted.meshes.len(), 1);
        }
        assert_eq!(r.config().meshes().len(), 2, "theirs and home remain");
        let again = apply(
            &r,
            json!({"id": "5", "type": "mesh", "action": "deleted", "name": "imaging"}),
        );
        assert_eq!(
            again.kind,
            WatchEventKind::Applied,
            "deleting twice is not an error"
        );
        assert!(again.meshes.is_empty());
        assert!(
            again.message.contains("not in this configuration: imaging"),
            "{}",
            again.message
        );
    }

    #[test]
    fn a_provider_changes_only_its_own_meshes() {
        let r = resolver();
        let before = r.config();
        for value in [
            json!({"id": "1", "type": "mesh", "action": "updated",
                   "config": "[mesh.theirs]\ntype = \"http\"\nprovider = \"runbeam\"\n"}),
            json!({"id": "2", "type": "mesh", "action": "updated",
                   "config": "[mesh.new]\ntype = \"http\"\nprovider = \"partner\"\n"}),
            json!({"id": "3", "type": "mesh", "action": "deleted", "name": "home"}),
            json!({"id": "4", "type": "mesh", "action": "updated",
                   "config": "[mesh.home]\ntype = \"http\"\nprovider = \"runbeam\"\n"}),
        ] {
            let event = apply(&r, value);
            assert_eq!(event.kind, WatchEventKind::Failed, "{}", event.message);
            assert_eq!(
                event.error.as_ref().unwrap().kind(),
                ErrorKind::PermissionDenied
            );
            assert!(
                event
                    .message
                    .contains("may only change that provider's meshes")
            );
        }
        assert_eq!(r.config(), before);
    }

    #[test]
    fn a_provider_cannot_take_over_another_meshs_name_or_id() {
        let r = resolver();
        r.reload(
            MeshConfig::from_toml(&format!(
                "{BASE}\n[mesh.partnered]\ntype = \"http\"\nprovider = \"partner\"\nid = \"p-1\"\n"
            ))
            .unwrap(),
        )
        .unwrap();
        let before = r.config();
        for config in [
            // Named as the other mesh's Cloud id: a lookup by that id would find it first.
            "[mesh.p-1]\ntype = \"http\"\nprovider = \"runbeam\"\n",
            // The same Cloud id as the other provider's mesh, or as the local mesh's name.
            "[mesh.mine]\ntype = \"http\"\nprovider = \"runbeam\"\nid = \"p-1\"\n",
            "[mesh.mine]\ntype = \"http\"\nprovider = \"runbeam\"\nid = \"home\"\n",
        ] {
            let event = apply(
                &r,
                json!({"id": "1", "type": "mesh", "action": "created", "config": config}),
            );
            assert_eq!(
                event.kind,
                WatchEventKind::Failed,
                "{config}: {}",
                event.message
            );
            assert_eq!(
                event.error.as_ref().unwrap().kind(),
                ErrorKind::PermissionDenied
            );
        }
        assert_eq!(r.config(), before);
        // Its own mesh's id stays its own to reuse.
        let own = apply(
            &r,
            json!({"id": "2", "type": "mesh", "action": "updated",
                   "config": "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\nid = \"imaging\"\n"}),
        );
        assert_eq!(own.kind, WatchEventKind::Applied, "{}", own.message);
    }

    #[test]
    fn seen_changes_cover_a_whole_fetch_of_the_feed() {
        let mut seen = Seen::default();
        for id in 0..crate::client::MAX_FEED_CHANGES {
            seen.insert(&id.to_string());
        }
        assert!(
            seen.contains("0"),
            "a skipped change of the same fetch was forgotten"
        );
    }

    /// The panic record is logged after the callback's lock is released: a host's log handler
    /// may wait for a lock whose holder waits in `stop`.
    #[test]
    fn a_panicking_callback_is_logged_without_the_callback_lock() {
        let shared = Arc::new(Shared {
            stopped: AtomicBool::new(false),
            callback: Mutex::new(Some(Box::new(|_| panic!("callback failed")))),
        });
        let (seen, free) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(true)),
        );
        let _records = {
            let (shared, seen, free) = (Arc::clone(&shared), Arc::clone(&seen), Arc::clone(&free));
            crate::log::on_records(move |message| {
                if message.starts_with("the change-feed callback panicked") {
                    seen.store(true, Ordering::SeqCst);
                    if shared.callback.try_lock().is_err() {
                        free.store(false, Ordering::SeqCst);
                    }
                }
            })
        };
        deliver(&shared, WatchEvent::new(WatchEventKind::Applied, "runbeam"));
        assert!(seen.load(Ordering::SeqCst), "the panic was logged");
        assert!(
            free.load(Ordering::SeqCst),
            "logged while holding the callback lock"
        );
        assert!(
            shared.callback.lock().unwrap().is_some(),
            "the watcher goes on"
        );
    }

    #[test]
    fn hostile_changes_fail_with_clear_messages_and_change_nothing() {
        let r = resolver();
        let before = r.config();
        let huge = format!(
            "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\ndescription = \"{}\"\n",
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        let cases = [
            (json!({"id": "1"}), "has no `type`"),
            (
                json!({"id": "1", "type": 7}),
                "`type` must be a string, found a number",
            ),
            (json!({"id": "1", "type": "mesh"}), "has no `action`"),
            (
                json!({"id": "1", "type": "mesh", "action": "updated", "config": ["a"]}),
                "found an array",
            ),
            (
                json!({"id": "1", "type": "mesh", "action": "updated", "config": huge}),
                "bytes long (at most 4194304)",
            ),
            (
                json!({"id": "1", "type": "mesh", "action": "updated", "config": "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\njwt_secret = \"s3cret-value\"\n"}),
                "only allowed for meshes of the local provider",
            ),
            (
                json!({"id": "1", "type": "mesh", "action": "deleted"}),
                "has no `resource_id`",
            ),
            (
                json!({"id": "1", "type": "\u{1b}[31mred", "action": "x"}),
                "unknown change type '\\u{1b}[31mred'",
            ),
            (
                json!({"id": "1", "type": "egress", "action": "deleted", "resource_id": ""}),
                "has no `resource_id`",
            ),
        ];
        for (value, expected) in cases {
            let event = apply(&r, value);
            assert_eq!(event.kind, WatchEventKind::Failed, "{}", event.message);
            assert!(
                event.message.contains(expected),
                "{:?} should contain {expected:?}",
                event.message
            );
            assert!(!event.message.contains("s3cret-value"), "{}", event.message);
            assert!(event.message.len() < 8 * 1024, "bounded message");
        }
        assert_eq!(r.config(), before);
    }

    #[test]
    fn host_changes_are_skipped_and_failures_have_details() {
        let r = resolver();
        for kind in HOST_TYPES {
            let event = apply(&r, json!({"id": "9", "type": kind, "action": "updated"}));
            assert_eq!(event.kind, WatchEventKind::Skipped);
            assert_eq!(event.change_type, kind);
        }
        let failed = apply(
            &r,
            json!({"id": "1", "type": "mesh", "action": "updated",
                   "config": "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\negress = [\"bad ref\", \"nowhere.t.ingress.name.x\"]\n"}),
        );
        let details = failed.failure_details();
        assert_eq!(details["kind"], "Config");
        assert_eq!(
            details["problems"].as_array().unwrap().len(),
            2,
            "{details}"
        );
        assert_eq!(details["problems"][0]["path"], "mesh.imaging.egress[0]");
    }

    #[test]
    fn backoff_grows_from_the_interval_to_the_cap_and_honours_retry_after() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1, None), second);
        for failures in 1..40 {
            let wait = backoff(second, failures, None);
            let ceiling = second * (1u32 << (failures - 1).min(16));
            assert!(
                wait >= second && wait <= ceiling.min(MAX_POLL_BACKOFF),
                "{failures}: {wait:?}"
            );
        }
        assert!(backoff(second, 30, None) >= MAX_POLL_BACKOFF / 2);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            backoff(hour, 5, None),
            hour,
            "never shorter than a long interval"
        );
        assert!(backoff(second, 1, Some(Duration::from_secs(40))) >= Duration::from_secs(40));
        assert_eq!(backoff(second, 1, Some(Duration::MAX)), hour);
    }

    #[test]
    fn watch_needs_a_runtime() {
        let err = resolver().watch(|_| {}).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("watch_on"), "{err}");
    }

    #[tokio::test]
    async fn only_enabled_remote_providers_with_an_interval_are_polled() {
        let watcher = resolver().watch(|_| {}).unwrap();
        assert_eq!(watcher.providers(), ["runbeam"]);
        watcher.stop();
        watcher.stop();
        assert!(watcher.is_stopped());
        watcher.shutdown().await;
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            Just(Value::from("mesh")),
            Just(Value::from(
                "[mesh.imaging]\ntype = \"http\"\nprovider = \"runbeam\"\n"
            )),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                proptest::collection::btree_map(".{0,8}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any change body: an Applied, Skipped or Failed event (Failed with its error), never
        /// a panic, and the configuration in use stays valid.
        #[test]
        fn any_change_gives_an_event_and_keeps_the_configuration_valid(
            kind in prop_oneof![Just("mesh".to_string()), Just("ingress".to_string()), Just("pipeline".to_string()), ".{0,10}"],
            action in prop_oneof![Just("created".to_string()), Just("updated".to_string()), Just("deleted".to_string()), ".{0,10}"],
            config in arbitrary_json(),
            name in arbitrary_json(),
            resource_id in arbitrary_json(),
        ) {
            let r = resolver();
            let value = json!({"id": "p", "type": kind, "action": action, "config": config,
                               "name": name, "resource_id": resource_id});
            let event = apply(&r, value);
            match event.kind {
                WatchEventKind::Failed => prop_assert!(event.error.is_some()),
                WatchEventKind::Applied | WatchEventKind::Skipped => prop_assert!(event.error.is_none()),
                WatchEventKind::PollFailed => prop_assert!(false, "apply_change never polls"),
            }
            prop_assert!(!event.message.is_empty());
            prop_assert!(r.validate_startup().is_ok());
        }
    }
}
