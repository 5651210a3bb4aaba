//! What resolvers, validators and token managers have done, as snapshots
//! ([`ResolverStats`], [`ValidatorStats`], [`TokenManagerStats`]) and as Prometheus text
//! ([`Exposition`]) so that a gateway serves `/metrics` in one line.
//!
//! The counters are relaxed atomics bumped where the work happens: a cache hit costs one
//! increment more, on a [`Striped`] counter of the calling thread's own cache line, so threads
//! answering at once on different cores do not pass one counter's line back and forth. Every surface reads the same snapshots (`stats()`), and every
//! surface's Prometheus helper is [`Exposition`].
//!
//! ```
//! use runbeam_core::metrics::{Exposition, ValidatorStats};
//! use runbeam_core::jwt::Validator;
//!
//! let users = Validator::builder().trusted_issuer("https://api.runbeam.io").build()?;
//! let text = Exposition::new().validator("users", &users.stats()).render();
//! assert!(text.contains("# TYPE runbeam_validator_verifications_total counter"));
//! assert!(text.contains("runbeam_validator_verifications_total{name=\"users\"} 0"));
//! # Ok::<(), runbeam_core::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ErrorKind;

pub use crate::resolve::ResolverStats;

const KINDS: usize = ErrorKind::ALL.len();

/// Failures counted by [`ErrorKind`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ErrorCounts([u64; KINDS]);

impl Default for ErrorCounts {
    fn default() -> Self {
        ErrorCounts([0; KINDS])
    }
}

impl ErrorCounts {
    /// The count of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        index(kind).map_or(0, |i| self.0[i])
    }

    /// The kinds counted at least once, with their counts, in [`ErrorKind::ALL`] order.
    ///
    /// ```
    /// use runbeam_core::metrics::ErrorCounts;
    /// assert_eq!(ErrorCounts::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL
            .iter()
            .zip(self.0.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
    }

    /// All failures.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, n| a.saturating_add(*n))
    }

    fn add(&mut self, other: &ErrorCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

impl fmt::Debug for ErrorCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, n)| (k.name(), n)))
            .finish()
    }
}

fn index(kind: ErrorKind) -> Option<usize> {
    ErrorKind::ALL.iter().position(|k| *k == kind)
}

/// The live counterpart of [`ErrorCounts`].
pub(crate) struct KindCounters([AtomicU64; KINDS]);

impl Default for KindCounters {
    fn default() -> Self {
        KindCounters(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl KindCounters {
    pub(crate) fn record(&self, kind: ErrorKind) {
        if let Some(i) = index(kind) {
            self.0[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> ErrorCounts {
        ErrorCounts(std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed)))
    }
}

/// A counter of the hot paths (cache hits, signature checks), bumped by many threads at once:
/// [`Striped::STRIPES`] atomics on cache lines of their own; a thread always bumps the same one
/// and a read sums them.
#[derive(Default)]
pub(crate) struct Striped([Stripe; Striped::STRIPES]);

/// One stripe, alone on two cache lines (the adjacent-line prefetcher pulls pairs).
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    /// More than the cores a gateway usually gives one process's validating threads; threads
    /// beyond it share stripes (still correct, only contended again).
    const STRIPES: usize = 8;

    #[inline]
    pub(crate) fn bump(&self) {
        self.0[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |sum, s| sum.wrapping_add(s.0.load(Ordering::Relaxed)))
    }
}

/// The calling thread's stripe, given out round-robin on its first bump.
fn stripe() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % Striped::STRIPES);
        }
        s.get()
    })
}

/// One increment of a counter (relaxed: counters order nothing).
#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Counters of a [`crate::jwt::Validator`] since it was built (clones share them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorStats {
    /// Tokens answered from the verified-token cache (time claims re-checked, no signature).
    pub cache_hits: u64,
    /// Signatures checked.
    pub verifications: u64,
    /// JWKS fetches attempted.
    pub jwks_fetches: u64,
    /// JWKS fetches that failed (the keys fetched before stay in use up to `max_stale`).
    pub jwks_fetch_failures: u64,
    /// Tokens refused or not validated, by kind (`JwtExpired`, `JwtInvalid`,
    /// `UntrustedIssuer`, a fetch's `Transport`, …).
    pub failures: ErrorCounts,
    /// Verified tokens remembered now.
    pub cached_tokens: u64,
}

impl ValidatorStats {
    /// The sum of two validators' stats (a resolver's mesh validators, one per trust source).
    pub fn merged(mut self, other: &ValidatorStats) -> ValidatorStats {
        self.cache_hits = self.cache_hits.saturating_add(other.cache_hits);
        self.verifications = self.verifications.saturating_add(other.verifications);
        self.jwks_fetches = self.jwks_fetches.saturating_add(other.jwks_fetches);
        self.jwks_fetch_failures = self
            .jwks_fetch_failures
            .saturating_add(other.jwks_fetch_failures);
        self.failures.add(&other.failures);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self
    }
}

/// Counters of a [`crate::storage::TokenManager`] since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenManagerStats {
    /// Machine tokens obtained from the Cloud and saved: the first authorization of an
    /// instance with no token, and every renewal.
    pub renewals: u64,
    /// Authorizations that failed (a current token stays in use while valid).
    pub renewal_failures: u64,
}

#[derive(Default)]
pub(crate) struct TokenManagerCounters {
    pub(crate) renewals: AtomicU64,
    pub(crate) renewal_failures: AtomicU64,
}

impl TokenManagerCounters {
    pub(crate) fn snapshot(&self) -> TokenManagerStats {
        TokenManagerStats {
            renewals: read(&self.renewals),
            renewal_failures: read(&self.renewal_failures),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// One metric family, in the order of the exposition.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
}

macro_rules! families {
    ($($id:ident: $name:literal, $kind:ident, $help:literal;)+) => {
        #[derive(Clone, Copy)]
        #[allow(non_camel_case_types)]
        enum Id { $($id,)+ }
        const FAMILIES: &[Family] = &[
            $(Family { name: $name, help: $help, kind: Kind::$kind },)+
        ];
    };
}

families! {
    ResolverHits: "runbeam_resolver_hits_total", Counter,
        "Resolutions answered from the cache while fresh.";
    ResolverMisses: "runbeam_resolver_misses_total", Counter,
        "Resolutions that waited for an upstream answer.";
    ResolverUpstream: "runbeam_resolver_upstream_requests_total", Counter,
        "Requests sent to a provider's resolve endpoint.";
    ResolverStale: "runbeam_resolver_stale_served_total", Counter,
        "Stale answers served because a provider failed.";
    ResolverLocal: "runbeam_resolver_local_total", Counter,
        "Local references answered from the configuration.";
    ResolverMeshTokens: "runbeam_resolver_mesh_token_requests_total", Counter,
        "Mesh tokens requested from a provider or signed locally.";
    ResolverErrors: "runbeam_resolver_errors_total", Counter,
        "Resolutions and mesh-token calls that failed, by error kind.";
    ResolverCached: "runbeam_resolver_cached_references", Gauge,
        "References with a cached answer (fresh or stale).";
    ResolverCachedTokens: "runbeam_resolver_cached_mesh_tokens", Gauge,
        "Mesh tokens remembered.";
    ValidatorHits: "runbeam_validator_cache_hits_total", Counter,
        "Tokens answered from the verified-token cache.";
    ValidatorVerifications: "runbeam_validator_verifications_total", Counter,
        "Token signatures checked.";
    ValidatorFetches: "runbeam_validator_jwks_fetches_total", Counter,
        "JWKS fetches attempted.";
    ValidatorFetchFailures: "runbeam_validator_jwks_fetch_failures_total", Counter,
        "JWKS fetches that failed.";
    ValidatorFailures: "runbeam_validator_failures_total", Counter,
        "Tokens refused or not validated, by error kind.";
    ValidatorCached: "runbeam_validator_cached_tokens", Gauge,
        "Verified tokens remembered.";
    ManagerRenewals: "runbeam_token_manager_renewals_total", Counter,
        "Machine tokens obtained from the Cloud and saved (first authorization and renewals).";
    ManagerRenewalFailures: "runbeam_token_manager_renewal_failures_total", Counter,
        "Machine-token authorizations and renewals that failed.";
}

/// The Prometheus text exposition (format 0.0.4) of any number of resolvers, validators and
/// token managers, each sample labelled `name="<the name you give>"`; failures by error kind
/// carry `kind="<ErrorKind>"` too. A resolver's mesh-token validators appear as the validator
/// `<name>:mesh`. Serve [`Exposition::render`] with the content type
/// [`Exposition::CONTENT_TYPE`].
///
/// ```
/// use runbeam_core::metrics::{Exposition, TokenManagerStats};
/// let text = Exposition::new().token_manager("gw", &TokenManagerStats::default()).render();
/// assert!(text.contains("runbeam_token_manager_renewals_total{name=\"gw\"} 0\n"));
/// ```
#[derive(Default)]
pub struct Exposition {
    samples: Vec<(Id, String, u64)>,
}

impl fmt::Debug for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exposition")
            .field("samples", &self.samples.len())
            .finish()
    }
}

impl Exposition {
    /// The content type of the text.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    fn push(&mut self, id: Id, labels: String, value: u64) {
        self.samples.push((id, labels, value));
    }

    fn by_kind(&mut self, id: Id, name: &str, counts: &ErrorCounts) {
        for (kind, n) in counts.iter() {
            let labels = format!("name=\"{}\",kind=\"{}\"", escape(name), kind.name());
            self.push(id, labels, n);
        }
    }

    /// Adds a resolver's stats under `name`.
    pub fn resolver(&mut self, name: &str, stats: &ResolverStats) -> &mut Exposition {
        let label = format!("name=\"{}\"", escape(name));
        for (id, value) in [
            (Id::ResolverHits, stats.hits),
            (Id::ResolverMisses, stats.misses),
            (Id::ResolverUpstream, stats.upstream_requests),
            (Id::ResolverStale, stats.stale_served),
            (Id::ResolverLocal, stats.local),
            (Id::ResolverMeshTokens, stats.mesh_token_requests),
            (Id::ResolverCached, stats.cached_references),
            (Id::ResolverCachedTokens, stats.cached_mesh_tokens),
        ] {
            self.push(id, label.clone(), value);
        }
        self.by_kind(Id::ResolverErrors, name, &stats.errors);
        self.validator(&format!("{name}:mesh"), &stats.mesh_validation)
    }

    /// Adds a validator's stats under `name`.
    pub fn validator(&mut self, name: &str, stats: &ValidatorStats) -> &mut Exposition {
        let label = format!("name=\"{}\"", escape(name));
        for (id, value) in [
            (Id::ValidatorHits, stats.cache_hits),
            (Id::ValidatorVerifications, stats.verifications),
            (Id::ValidatorFetches, stats.jwks_fetches),
            (Id::ValidatorFetchFailures, stats.jwks_fetch_failures),
            (Id::ValidatorCached, stats.cached_tokens),
        ] {
            self.push(id, label.clone(), value);
        }
        self.by_kind(Id::ValidatorFailures, name, &stats.failures);
        self
    }

    /// Adds a token manager's stats under `name`.
    pub fn token_manager(&mut self, name: &str, stats: &TokenManagerStats) -> &mut Exposition {
        let label = format!("name=\"{}\"", escape(name));
        self.push(Id::ManagerRenewals, label.clone(), stats.renewals);
        self.push(Id::ManagerRenewalFailures, label, stats.renewal_failures);
        self
    }

    /// The text: each family's `# HELP` and `# TYPE` once, then its samples in the order
    /// they were added. Families without samples are left out.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (index, family) in FAMILIES.iter().enumerate() {
            let mut samples = self
                .samples
                .iter()
                .filter(|(id, ..)| *id as usize == index)
                .peekable();
            if samples.peek().is_none() {
                continue;
            }
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {kind}", family.name);
            for (_, labels, value) in samples {
                let _ = writeln!(out, "{}{{{labels}}} {value}", family.name);
            }
        }
        out
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_striped_counter_counts_every_bump_of_every_thread() {
        let counter = Striped::default();
        // More threads than stripes: some share one, and nothing is lost.
        std::thread::scope(|s| {
            for _ in 0..Striped::STRIPES + 3 {
                s.spawn(|| {
                    for _ in 0..1_000 {
                        counter.bump();
                    }
                });
            }
        });
        assert_eq!(counter.read(), (Striped::STRIPES as u64 + 3) * 1_000);
        assert_eq!(
            std::mem::align_of::<Stripe>(),
            128,
            "a stripe per cache-line pair"
        );
    }

    #[test]
    fn families_are_grouped_and_labels_escaped() {
        let failures = KindCounters::default();
        failures.record(ErrorKind::JwtExpired);
        failures.record(ErrorKind::JwtExpired);
        failures.record(ErrorKind::Transport);
        let stats = ValidatorStats {
            verifications: 5,
            failures: failures.snapshot(),
            ..ValidatorStats::default()
        };
        let text = Exposition::new()
            .validator("a", &stats)
            .validator("b\"\\\n", &ValidatorStats::default())
            .render();
        let type_lines = text
            .lines()
            .filter(|l| l.starts_with("# TYPE runbeam_validator_verifications_total"))
            .count();
        assert_eq!(type_lines, 1, "{text}");
        assert!(text.contains("runbeam_validator_verifications_total{name=\"a\"} 5\n"));
        assert!(text.contains("runbeam_validator_verifications_total{name=\"b\\\"\\\\\\n\"} 0\n"));
        assert!(
            text.contains("runbeam_validator_failures_total{name=\"a\",kind=\"JwtExpired\"} 2\n")
        );
        assert!(
            text.contains("runbeam_validator_failures_total{name=\"a\",kind=\"Transport\"} 1\n")
        );
        assert!(text.contains("# TYPE runbeam_validator_cached_tokens gauge\n"));
        // Every sample line is `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<u64>().unwrap();
        }
    }

    #[test]
    fn error_counts_sum_and_merge() {
        let counters = KindCounters::default();
        counters.record(ErrorKind::NotFound);
        let a = ValidatorStats {
            failures: counters.snapshot(),
            cache_hits: 1,
            ..ValidatorStats::default()
        };
        let merged = a.merged(&a);
        assert_eq!(merged.failures.get(ErrorKind::NotFound), 2);
        assert_eq!(merged.failures.total(), 2);
        assert_eq!(merged.cache_hits, 2);
        assert_eq!(format!("{:?}", merged.failures), "{\"NotFound\": 2}");
    }
}
