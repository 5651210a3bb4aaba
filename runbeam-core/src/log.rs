//! Host logging: the core's `tracing` records, delivered to a host's sink.
//!
//! A Rust program uses `tracing` directly: install any subscriber and the records of the
//! `runbeam*` targets arrive like any other (backend selection, stale answers served, renewal
//! failures, JWKS refresh failures, the watcher's changes). Nothing in this module is needed.
//!
//! The bindings (the C library, the Python and Node modules) each carry their own copy of
//! `tracing`, which no host subscriber can see. Each of them calls [`set_sink`] to receive the
//! records and hand them to the host's logging (Python's `logging`, a Node callback, a C
//! callback). This module is the one implementation behind all three:
//!
//! - **Off costs nothing.** The level is a `tracing` global maximum level: a record below it is
//!   skipped at its call site by one atomic load, before its fields are evaluated. With no sink
//!   the level is off.
//! - **Only librunbeam's records** (targets starting with `runbeam`) are delivered, not those of
//!   the HTTP and TLS libraries underneath.
//! - **No secrets.** The core never logs a token or key; as a second line, anything shaped like
//!   a JWT (`eyJ…` with two dots) in a message or field is replaced by `[redacted JWT]`.
//! - **No re-entrance.** A record logged while the same thread is delivering one (a sink that
//!   calls back into librunbeam) is dropped instead of recursing. Records from different
//!   threads may be delivered at the same time: a sink that needs them one at a time (the C
//!   callback) serialises them itself.
//! - A panicking sink loses that record only.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use runbeam_core::log::{self, Level};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let store = Arc::clone(&seen);
//! log::set_sink(Level::Info, Arc::new(move |record: &log::Record<'_>| {
//!     store.lock().unwrap().push(format!("{} {}", record.level, record.message));
//! }))?;
//! tracing::warn!(target: "runbeam::example", "a record for the host");
//! tracing::debug!(target: "runbeam::example", "below the level: never formatted");
//! log::clear_sink();
//! assert_eq!(seen.lock().unwrap().as_slice(), ["warn a record for the host"]);
//! # Ok::<(), runbeam_core::Error>(())
//! ```

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use crate::error::{Error, ErrorKind, Result};

/// The severity of a record, most severe first. The numbers are the C ABI's
/// (`RUNBEAM_LOG_ERROR` = 1 … `RUNBEAM_LOG_TRACE` = 5; 0 is "off").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Something failed and was not recovered (a panic caught at the boundary).
    Error = 1,
    /// Something failed and was recovered or worked around (a stale answer served, a renewal
    /// or JWKS refresh that failed while the old token or keys stay in use).
    Warn = 2,
    /// A notable event (the token store chosen, a token renewed, a configuration reloaded).
    Info = 3,
    /// Detail for diagnosis (each API call, JWKS refreshes).
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl Level {
    /// The level numbered `n` (1 = error … 5 = trace); `None` for 0 ("off") and above 5.
    ///
    /// ```
    /// use runbeam_core::log::Level;
    /// assert_eq!(Level::from_number(2), Some(Level::Warn));
    /// assert_eq!(Level::from_number(0), None);
    /// ```
    pub fn from_number(n: u8) -> Option<Level> {
        Some(match n {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => return None,
        })
    }

    /// The level called `name` (`error`, `warn`/`warning`, `info`, `debug`, `trace`; any
    /// case).
    ///
    /// # Errors
    /// `InvalidArgument` naming the accepted spellings.
    ///
    /// ```
    /// use runbeam_core::log::Level;
    /// assert_eq!(Level::parse("WARNING")?, Level::Warn);
    /// assert!(Level::parse("loud").is_err());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Level> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "unknown log level '{}': use error, warn, info, debug or trace",
                        crate::error::quote_input(name, 32)
                    ),
                ));
            }
        })
    }

    /// The lowercase name: `error`, `warn`, `info`, `debug`, `trace`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    fn of(level: &tracing::Level) -> Level {
        match *level {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            tracing::Level::DEBUG => Level::Debug,
            _ => Level::Trace,
        }
    }

    fn filter(level: Option<Level>) -> LevelFilter {
        match level {
            None => LevelFilter::OFF,
            Some(Level::Error) => LevelFilter::ERROR,
            Some(Level::Warn) => LevelFilter::WARN,
            Some(Level::Info) => LevelFilter::INFO,
            Some(Level::Debug) => LevelFilter::DEBUG,
            Some(Level::Trace) => LevelFilter::TRACE,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record, as a sink receives it. Borrowed: copy what you keep.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Record<'a> {
    /// Its severity.
    pub level: Level,
    /// Where it comes from: `runbeam_core::storage`, `runbeam::client`, `runbeam::panic`, …
    pub target: &'a str,
    /// The message, for a person.
    pub message: &'a str,
    /// The structured fields (`backend`, `url`, `error`, `reference`, …), in order, values
    /// already formatted.
    pub fields: &'a [(&'static str, String)],
}

impl Record<'_> {
    /// The fields as one JSON object (`{"url":"…","error":"…"}`), for hosts that take one
    /// string (the C callback).
    pub fn fields_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// A host's receiver of records; see the module documentation for the guarantees.
pub type Sink = dyn Fn(&Record<'_>) + Send + Sync;

/// 0 = off, else a [`Level`] number.
static LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Arc<Sink>>> = RwLock::new(None);
static INSTALLED: OnceLock<bool> = OnceLock::new();

thread_local! {
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

/// Delivers librunbeam's records at `level` and more severe to `sink`, replacing any sink
/// installed before. The first call installs this module's subscriber as the process-wide
/// (for this copy of librunbeam) `tracing` default.
///
/// # Errors
/// `Internal` when another `tracing` subscriber is already the global default of this
/// library's `tracing` (a Rust program that installed its own: use it instead).
pub fn set_sink(level: Level, sink: Arc<Sink>) -> Result<()> {
    install()?;
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    set_level(Some(level));
    Ok(())
}

/// Stops delivering: the sink is dropped and the level is off (records cost one atomic load
/// again).
pub fn clear_sink() {
    set_level(None);
    SINK.write().unwrap_or_else(|e| e.into_inner()).take();
}

/// Changes the level of the installed sink (`None`: off). Without a sink the level stays off.
pub fn set_level(level: Option<Level>) {
    let has_sink = SINK.read().unwrap_or_else(|e| e.into_inner()).is_some();
    let level = level.filter(|_| has_sink);
    let number = level.map_or(0, |l| l as u8);
    if LEVEL.swap(number, Ordering::AcqRel) != number {
        // Recomputes the global maximum level from `max_level_hint`, so that call sites below
        // it are skipped before anything is evaluated.
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The level records are delivered at; `None` when off.
pub fn level() -> Option<Level> {
    Level::from_number(LEVEL.load(Ordering::Acquire))
}

fn install() -> Result<()> {
    let installed = *INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(HostSubscriber).is_ok()
            || tracing::dispatcher::get_default(|d| d.is::<HostSubscriber>())
    });
    if installed {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Internal,
            "another tracing subscriber is already the global default: librunbeam's records go \
             to it",
        ))
    }
}

fn is_ours(target: &str) -> bool {
    target.starts_with("runbeam")
}

struct HostSubscriber;

impl Subscriber for HostSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_ours(metadata.target()) && metadata.is_event() {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        Level::of(metadata.level()) as u8 <= LEVEL.load(Ordering::Relaxed)
            && is_ours(metadata.target())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(Level::filter(level()))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &SpanRecord<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if DELIVERING.with(Cell::get) {
            return;
        }
        let Some(sink) = SINK.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let _guard = Delivering::enter();
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = redact_jwts(&fields.message).into_owned();
        let record = Record {
            level: Level::of(metadata.level()),
            target: metadata.target(),
            message: &message,
            fields: &fields.fields,
        };
        // A sink that panics loses its record, nothing more.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&record)));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

struct Delivering;

impl Delivering {
    fn enter() -> Delivering {
        DELIVERING.with(|d| d.set(true));
        Delivering
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        DELIVERING.with(|d| d.set(false));
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, text);
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            let value = match redact_jwts(&value) {
                Cow::Borrowed(_) => value,
                Cow::Owned(redacted) => redacted,
            };
            self.fields.push((field.name(), value));
        }
    }
}

/// Replaces every JWT-shaped run (`eyJ` followed by base64url text with at least two dots) by
/// `[redacted JWT]`.
///
/// ```
/// use runbeam_core::log::redact_jwts;
/// assert_eq!(redact_jwts("token eyJhbGciOi.eyJzdWIi.c2ln here"), "token [redacted JWT] here");
/// assert_eq!(redact_jwts("no token"), "no token");
/// ```
pub fn redact_jwts(text: &str) -> Cow<'_, str> {
    let is_jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text.get(search..).and_then(|rest| rest.find("eyJ")) {
        let start = search + found;
        let run = text
            .get(start..)
            .and_then(|rest| rest.find(|c: char| !is_jwt_char(c)))
            .map_or(text.len(), |n| start + n);
        let candidate = text.get(start..run).unwrap_or_default();
        if candidate.matches('.').count() >= 2 {
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.push_str("[redacted JWT]");
            copied = run;
        }
        search = run.max(start + 3);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// For the tests of other modules: records of the current thread, handed to a closure while
/// the returned guard lives (a thread-local subscriber: no interference with the process-wide
/// sink of this module's tests).
#[cfg(test)]
pub(crate) fn on_records(
    f: impl Fn(&str) + Send + Sync + 'static,
) -> tracing::subscriber::DefaultGuard {
    struct OnRecords<F>(F);
    impl<F: Fn(&str) + Send + Sync + 'static> Subscriber for OnRecords<F> {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::sometimes()
        }
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            is_ours(metadata.target())
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &SpanRecord<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            (self.0)(&fields.message);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
    tracing::subscriber::set_default(OnRecords(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    // The sink is process-wide: the tests that install one run under this lock.
    static SERIAL: Mutex<()> = Mutex::new(());

    type Seen = Arc<Mutex<Vec<(Level, String, String, Vec<(&'static str, String)>)>>>;

    fn capture(level: Level) -> Seen {
        let seen: Seen = Arc::default();
        let store = Arc::clone(&seen);
        set_sink(
            level,
            Arc::new(move |r: &Record<'_>| {
                // Other tests of this process log too: keep this module's records only.
                if r.target != "runbeam::test" {
                    return;
                }
                store.lock().unwrap().push((
                    r.level,
                    r.target.to_owned(),
                    r.message.to_owned(),
                    r.fields.to_vec(),
                ));
            }),
        )
        .unwrap();
        seen
    }

    #[test]
    fn delivers_at_and_above_the_level_with_fields() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let seen = capture(Level::Info);
        tracing::info!(target: "runbeam::test", backend = "file", count = 3, "store {}", "chosen");
        tracing::debug!(target: "runbeam::test", "too detailed");
        tracing::error!(target: "hyper::proto", "not ours");
        clear_sink();
        tracing::error!(target: "runbeam::test", "after clear");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let (level, target, message, fields) = &seen[0];
        assert_eq!(*level, Level::Info);
        assert_eq!(target, "runbeam::test");
        assert_eq!(message, "store chosen");
        assert_eq!(
            fields,
            &vec![("backend", "file".to_owned()), ("count", "3".to_owned())]
        );
    }

    #[test]
    fn off_levels_are_not_evaluated() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let seen = capture(Level::Warn);
        let evaluated = Cell::new(false);
        let probe = || {
            evaluated.set(true);
            "x"
        };
        tracing::debug!(target: "runbeam::test", value = probe(), "debug");
        assert!(
            !evaluated.get(),
            "a disabled record's fields were evaluated"
        );
        set_level(Some(Level::Debug));
        tracing::debug!(target: "runbeam::test", value = probe(), "debug");
        assert!(evaluated.get());
        clear_sink();
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(level(), None);
    }

    #[test]
    fn re_entrant_records_and_panicking_sinks_are_dropped() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let calls = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&calls);
        set_sink(
            Level::Trace,
            Arc::new(move |r: &Record<'_>| {
                if r.target != "runbeam::test" {
                    return;
                }
                *counter.lock().unwrap() += 1;
                tracing::warn!(target: "runbeam::test", "from inside the sink");
                if r.message == "boom" {
                    panic!("sink panicked");
                }
            }),
        )
        .unwrap();
        tracing::warn!(target: "runbeam::test", "boom");
        tracing::warn!(target: "runbeam::test", "after the panic");
        clear_sink();
        assert_eq!(*calls.lock().unwrap(), 2);
    }

    #[test]
    fn jwts_are_redacted_in_messages_and_fields() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let seen = capture(Level::Info);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        tracing::info!(target: "runbeam::test", token = jwt, "bearer {jwt}");
        clear_sink();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].2, "bearer [redacted JWT]");
        assert_eq!(seen[0].3[0].1, "[redacted JWT]");
    }

    #[test]
    fn redaction_keeps_other_text_and_multibyte_characters() {
        assert_eq!(redact_jwts("eyJ only"), "eyJ only");
        assert_eq!(
            redact_jwts("é eyJa.b.c é eyJd.e.f"),
            "é [redacted JWT] é [redacted JWT]"
        );
        assert_eq!(redact_jwts("eyJeyJ.a.b"), "[redacted JWT]");
    }

    #[test]
    fn levels_parse_and_number() {
        for level in [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ] {
            assert_eq!(Level::from_number(level as u8), Some(level));
            assert_eq!(Level::parse(level.as_str()).unwrap(), level);
        }
        assert_eq!(Level::from_number(6), None);
        assert_eq!(
            Level::parse("verbose").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
