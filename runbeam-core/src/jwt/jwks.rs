//! One JWKS URL's keys: fetched on demand, kept for a TTL, refreshed single-flight at most once
//! per minimum interval (however many unknown `kid`s arrive), last good keys kept while a
//! refresh fails, until `max_stale`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwapOption, Guard};
use url::Url;

use super::algorithm::Algorithm;
use super::compact::invalid;
use super::keys::{JwksDoc, KeySet};
use crate::client::Client;
use crate::client::http::Call;
use crate::error::{Error, ErrorKind};

/// The cache timings of docs/spec.md §4.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) ttl: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) max_stale: Duration,
}

/// Keys of one fetch.
pub(crate) struct Loaded {
    pub(crate) keys: KeySet,
    pub(crate) fetched_at: Instant,
    pub(crate) generation: u64,
}

#[derive(Default)]
struct RefreshLog {
    last_attempt: Option<Instant>,
    last_error: Option<Error>,
}

/// The keys of the last good fetch as a reader holds them: taken without a shared write
/// (see [`JwksSource`]'s `current`).
pub(crate) struct Current(Guard<Option<Arc<Loaded>>>);

impl Current {
    /// The loaded keys, if any were ever fetched.
    pub(crate) fn get(&self) -> Option<&Loaded> {
        self.0.as_deref()
    }
}

/// What the keys of a source allow right now.
pub(crate) enum Lookup {
    /// Use these keys.
    Keys(Current),
    /// A fetch is due (none yet, TTL passed, or unknown `kid`); `seen` is the generation
    /// observed, so concurrent callers fetch once.
    Fetch { seen: u64 },
}

/// One JWKS URL and its cached keys.
pub(crate) struct JwksSource {
    url: Url,
    /// Read by every token, written by a fetch: a reader takes it without writing to a shared
    /// cache line (no lock word, no reference count), so threads validating at once on
    /// different cores do not pass its cache lines back and forth.
    current: ArcSwapOption<Loaded>,
    /// Held across a fetch: the single flight.
    refresh: tokio::sync::Mutex<()>,
    log: std::sync::Mutex<RefreshLog>,
    generation: AtomicU64,
    fetches: AtomicU64,
    fetch_failures: AtomicU64,
}

impl JwksSource {
    pub(crate) fn new(url: Url) -> JwksSource {
        JwksSource {
            url,
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(()),
            log: std::sync::Mutex::new(RefreshLog::default()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            fetch_failures: AtomicU64::new(0),
        }
    }

    /// JWKS fetches attempted and failed.
    pub(crate) fn fetch_counts(&self) -> (u64, u64) {
        (
            crate::metrics::read(&self.fetches),
            crate::metrics::read(&self.fetch_failures),
        )
    }

    /// Stores `keys` as if fetched now (the fuzz targets and property tests load a key set
    /// without a server).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn preload(&self, keys: KeySet) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let now = Instant::now();
        self.current.store(Some(Arc::new(Loaded {
            keys,
            fetched_at: now,
            generation,
        })));
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_attempt = Some(now);
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn loaded(&self) -> Current {
        Current(self.current.load())
    }

    /// Whether a fetch may start now (none attempted within the minimum interval).
    fn may_fetch(&self, now: Instant, timings: &Timings) -> bool {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.last_attempt
            .is_none_or(|at| now.duration_since(at) >= timings.min_refresh_interval)
    }

    fn last_error(&self) -> Option<Error> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.last_error.clone()
    }

    /// Whether keys fetched at `fetched_at` are still fresh (within the TTL).
    pub(crate) fn is_fresh(&self, loaded: &Loaded, now: Instant, timings: &Timings) -> bool {
        now.duration_since(loaded.fetched_at) < timings.ttl
    }

    /// The keys to verify a token signed by `kid`, or a fetch to do first. With
    /// `allow_fetch` false (after a fetch) the answer is the keys or an error.
    #[inline]
    pub(crate) fn lookup(
        &self,
        kid: &str,
        now: Instant,
        timings: &Timings,
        allow_fetch: bool,
    ) -> Result<Lookup, Error> {
        let seen = self.generation();
        let current = self.loaded();
        let Some(loaded) = current.get() else {
            // No keys and no recorded failure: a fetch is in flight or has just stored its
            // keys — join it (`refresh` waits for it and sees the new generation).
            if allow_fetch && (self.may_fetch(now, timings) || self.last_error().is_none()) {
                return Ok(Lookup::Fetch { seen });
            }
            return Err(self.unavailable(None));
        };
        let age = now.duration_since(loaded.fetched_at);
        // Asked only when a fetch is wanted: the common answer (fresh keys, known kid) takes
        // no lock but the read lock of the keys.
        let can_fetch = || allow_fetch && self.may_fetch(now, timings);
        if age >= timings.ttl {
            if can_fetch() {
                return Ok(Lookup::Fetch { seen });
            }
            if age >= timings.max_stale {
                return Err(self.unavailable(Some(age)));
            }
        }
        if !loaded.keys.has_kid(kid) {
            if can_fetch() {
                return Ok(Lookup::Fetch { seen });
            }
            return Err(invalid(format!(
                "the token's signing key (kid '{}') is not in the JWKS at {} (known: {}); \
                 a refresh is rate-limited to one per minimum refresh interval",
                crate::error::quote_input(kid, 64),
                self.url,
                loaded.keys.kids().join(", ")
            )));
        }
        Ok(Lookup::Keys(current))
    }

    fn unavailable(&self, age: Option<Duration>) -> Error {
        let cause = self.last_error();
        let kind = cause.as_ref().map_or(ErrorKind::Transport, Error::kind);
        let what = match age {
            None => format!("no signing keys could be fetched from {}", self.url),
            Some(age) => format!(
                "the signing keys from {} are {}s old, past the maximum staleness, and cannot \
                 be refreshed",
                self.url,
                age.as_secs()
            ),
        };
        let why = cause.map_or_else(
            || {
                "the last attempt failed moments ago; retrying after the minimum refresh interval"
                    .to_string()
            },
            |e| e.message().to_string(),
        );
        Error::new(kind, format!("{what}: {why}"))
    }

    /// Fetches the JWKS unless another caller already did since generation `seen` or a
    /// fetch was attempted within the minimum interval. Returns whether the key set changed.
    pub(crate) async fn refresh(
        &self,
        seen: u64,
        client: &Client,
        allowed: &[Algorithm],
        timings: &Timings,
    ) -> bool {
        let _flight = self.refresh.lock().await;
        if self.generation() != seen || !self.may_fetch(Instant::now(), timings) {
            return false;
        }
        let started = Instant::now();
        crate::metrics::bump(&self.fetches);
        // A panic while fetching or parsing is recorded as this attempt's error like any
        // failure, so the minimum refresh interval still holds (no refetch per token).
        let fetched =
            crate::panic::catch_future("the JWKS fetch", self.fetch(client, allowed)).await;
        match fetched {
            Ok(keys) => {
                // Keys first, then the attempt: a caller that sees the attempt also sees the
                // keys (else it would report "no keys" while they are being stored). Only this
                // single flight stores keys, so reading then storing loses no update.
                let changed = self
                    .loaded()
                    .get()
                    .is_none_or(|old| !same_keys(&old.keys, &keys));
                let generation = if changed {
                    self.generation.fetch_add(1, Ordering::AcqRel) + 1
                } else {
                    self.generation()
                };
                self.current.store(Some(Arc::new(Loaded {
                    keys,
                    fetched_at: started,
                    generation,
                })));
                let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                log.last_attempt = Some(started);
                log.last_error = None;
                // Logged without the lock: a host's log handler may wait for a lock (Python's
                // GIL) that a thread validating a token holds while it waits for this one.
                drop(log);
                tracing::debug!(url = %self.url, changed, "runbeam jwks refreshed");
                changed
            }
            Err(e) => {
                crate::metrics::bump(&self.fetch_failures);
                tracing::warn!(url = %self.url, error = %e.message(), "runbeam jwks refresh failed");
                let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                log.last_attempt = Some(started);
                log.last_error = Some(e);
                false
            }
        }
    }

    async fn fetch(&self, client: &Client, allowed: &[Algorithm]) -> Result<KeySet, Error> {
        crate::panic::fault_point("jwks");
        let doc: JwksDoc = client
            .send_json(Call::get_absolute(self.url.clone()))
            .await
            .map_err(|e| {
                let message = format!("cannot fetch the JWKS at {}: {}", self.url, e.message());
                Error::new(e.kind(), message)
            })?;
        let (keys, skipped) = KeySet::from_document(doc, allowed);
        if keys.len() == 0 {
            let allowed: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "the JWKS at {} has no usable key for {} ({skipped} skipped: no kid, other \
                     use or type, or malformed)",
                    self.url,
                    allowed.join(", ")
                ),
            ));
        }
        Ok(keys)
    }
}

fn same_keys(a: &KeySet, b: &KeySet) -> bool {
    a.fingerprint() == b.fingerprint()
}

impl JwksSource {
    /// Whether the cached keys are within their TTL now.
    pub(crate) fn is_fresh_now(&self, now: Instant, timings: &Timings) -> bool {
        self.loaded()
            .get()
            .is_some_and(|loaded| self.is_fresh(loaded, now, timings))
    }

    /// `Ok` when keys are cached and younger than `max_stale`; otherwise the reason.
    pub(crate) fn usable(&self, now: Instant, timings: &Timings) -> Result<(), Error> {
        match self.loaded().get() {
            None => Err(self.unavailable(None)),
            Some(l) if now.duration_since(l.fetched_at) >= timings.max_stale => {
                Err(self.unavailable(Some(now.duration_since(l.fetched_at))))
            }
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// A server answering every request with a JWKS of one RS256 key; returns its URL.
    async fn jwks_server() -> String {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let body = serde_json::json!({"keys": [{
            "kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&components.n),
            "e": URL_SAFE_NO_PAD.encode(&components.e),
        }]})
        .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \
                         {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        url
    }

    /// The refresh's record is logged with no lock of the source held: a host's log handler
    /// (Python's, which takes the GIL) must not wait while a validating thread waits for it.
    #[tokio::test]
    async fn the_refresh_record_is_logged_without_the_source_lock() {
        let url = jwks_server().await;
        let source = Arc::new(JwksSource::new(Url::parse(&url).unwrap()));
        let (seen, free) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(true)),
        );
        let _records = {
            let (source, seen, free) = (Arc::clone(&source), Arc::clone(&seen), Arc::clone(&free));
            crate::log::on_records(move |message| {
                if message == "runbeam jwks refreshed" {
                    seen.store(true, Ordering::SeqCst);
                    if source.log.try_lock().is_err() {
                        free.store(false, Ordering::SeqCst);
                    }
                }
            })
        };
        let client = Client::new(&url).unwrap();
        let timings = Timings {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(30),
            max_stale: Duration::from_secs(3600),
        };
        assert!(
            source
                .refresh(0, &client, &[Algorithm::Rs256], &timings)
                .await
        );
        assert!(seen.load(Ordering::SeqCst), "the refresh was logged");
        assert!(
            free.load(Ordering::SeqCst),
            "logged while holding the refresh log's lock"
        );
    }
}
