//! [`ValidatorBuilder`]: trust, algorithms, claims rules, cache timings and HTTP settings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::algorithm::Algorithm;
use super::cache::VerifiedCache;
use super::issuer::{configured_url, jwks_url_of};
use super::jwks::{JwksSource, Timings};
use super::validator::{Inner, Validator};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};

/// Default clock-skew leeway on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Default lifetime of fetched keys before a refresh.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(3600);
/// Default minimum interval between two fetches of one JWKS (unknown-`kid` floods included).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default age after which keys that cannot be refreshed stop being used.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// Default number of verified tokens remembered.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
/// Default total deadline of one JWKS fetch, retries included.
pub const DEFAULT_JWKS_DEADLINE: Duration = Duration::from_secs(10);
/// JWKS documents larger than this are refused.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Builds a [`Validator`]. Trust is explicit: at least one trusted issuer or a pinned JWKS
/// URL is required.
///
/// ```
/// use std::time::Duration;
/// use runbeam_core::jwt::{Algorithm, Validator};
/// let validator = Validator::builder()
///     .trusted_issuer("https://api.runbeam.io/api")
///     .algorithms([Algorithm::Rs256, Algorithm::Es256])
///     .audience("my-gateway")
///     .required_claim("team")
///     .leeway(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(validator.jwks_urls(), ["https://api.runbeam.io/api/.well-known/jwks.json"]);
/// assert!(Validator::builder().build().is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ValidatorBuilder {
    issuers: Vec<String>,
    jwks_url: Option<String>,
    algorithms: Vec<Algorithm>,
    audiences: Vec<String>,
    required_claims: Vec<String>,
    leeway: Duration,
    jwks_ttl: Duration,
    min_refresh_interval: Duration,
    max_stale: Duration,
    cache_capacity: usize,
    allow_insecure_http: bool,
    deadline: Duration,
    ca_bundle_pem: Option<Vec<u8>>,
    language: Option<String>,
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        ValidatorBuilder {
            issuers: Vec::new(),
            jwks_url: None,
            algorithms: vec![Algorithm::Rs256],
            audiences: Vec::new(),
            required_claims: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            jwks_ttl: DEFAULT_JWKS_TTL,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            max_stale: DEFAULT_MAX_STALE,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            allow_insecure_http: false,
            deadline: DEFAULT_JWKS_DEADLINE,
            ca_bundle_pem: None,
            language: None,
        }
    }
}

impl ValidatorBuilder {
    /// Trusts tokens whose `iss` equals `issuer` after normalisation (never a prefix match);
    /// their keys come from `<issuer>/.well-known/jwks.json` unless a JWKS URL is pinned.
    /// For Runbeam Cloud the issuer is the API root, e.g. `https://api.runbeam.io/api`.
    pub fn trusted_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// The settings without the trust decisions (trusted issuers, pinned JWKS URL,
    /// audiences): what the resolver starts from for each mesh, which it then trusts on its
    /// own terms (the mesh's provider, its `jwks_url`, `aud = mesh:<id>`).
    pub(crate) fn without_trust(mut self) -> Self {
        self.issuers.clear();
        self.jwks_url = None;
        self.audiences.clear();
        self
    }

    /// The clock-skew leeway in seconds, the required claims and the verified-token cache
    /// capacity: the settings a local mesh's verifier (`super::local`) shares with validators.
    ///
    /// # Errors
    /// `InvalidArgument` for a leeway too large to add to a timestamp, as [`Self::build`].
    pub(crate) fn local_settings(&self) -> Result<(i64, Vec<String>, usize)> {
        let leeway = i64::try_from(self.leeway.as_secs())
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "the leeway is too large"))?;
        Ok((leeway, self.required_claims.clone(), self.cache_capacity))
    }

    /// Pins the JWKS URL every key comes from. Without trusted issuers, any `iss` signed by
    /// these keys is accepted.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// The accepted algorithms (default: RS256 only). Replaces the list.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Requires `aud` to name `audience` (or another configured audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Requires the claim `name` (any claim, custom ones too) to be present and not null.
    pub fn required_claim(mut self, name: impl Into<String>) -> Self {
        self.required_claims.push(name.into());
        self
    }

    /// Clock-skew leeway on `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long fetched keys are used before a refresh (default 1 h).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// The minimum interval between two fetches of one JWKS (default 30 s).
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// How long keys stay usable while refreshes fail (default 24 h).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Verified tokens remembered by SHA-256: at least the `capacity` most recent, at most
    /// 2.5 times that (default 10 000; 0 disables the cache). From 2 048 on, the cache is
    /// split into up to 8 shards, each with its own lock, with 25% headroom each (see
    /// docs/design.md).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Accepts `http://` issuers and JWKS URLs on non-loopback hosts.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Total deadline of one JWKS fetch, retries included (default 10 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Extra CA certificates (PEM) trusted for JWKS fetches.
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(pem.into());
        self
    }

    /// The language named in the user agent (set by the bindings).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Checks the settings and builds the validator (no network request is made).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for no trust configured, a malformed or insecure URL,
    /// an empty algorithm list, or inconsistent timings.
    pub fn build(self) -> Result<Validator> {
        let invalid = |m: String| Error::new(ErrorKind::InvalidArgument, m);
        if self.issuers.is_empty() && self.jwks_url.is_none() {
            return Err(invalid(
                "a JWT validator needs at least one trusted issuer or a pinned JWKS URL; \
                 trusting any issuer would accept tokens signed by anyone"
                    .into(),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(invalid(
                "the algorithm allow-list is empty; keep the default (RS256)".into(),
            ));
        }
        if self.max_stale < self.jwks_ttl {
            return Err(invalid(format!(
                "max_stale ({}s) must not be shorter than the JWKS TTL ({}s)",
                self.max_stale.as_secs(),
                self.jwks_ttl.as_secs()
            )));
        }
        let leeway = i64::try_from(self.leeway.as_secs())
            .map_err(|_| invalid("the leeway is too large".into()))?;
        let insecure = self.allow_insecure_http;
        let pinned = self
            .jwks_url
            .as_deref()
            .map(|u| configured_url("JWKS URL", u, insecure))
            .transpose()?;
        let mut sources: Vec<JwksSource> = pinned.into_iter().map(JwksSource::new).collect();
        let mut issuers = HashMap::new();
        let mut issuer_names = Vec::new();
        for text in &self.issuers {
            let url = configured_url("trusted issuer", text, insecure)?;
            let normal = url.as_str().trim_end_matches('/').to_string();
            if issuers.contains_key(&normal) {
                continue;
            }
            let index = if sources.len() == 1 && self.jwks_url.is_some() {
                0
            } else {
                sources.push(JwksSource::new(jwks_url_of(&url)?));
                sources.len() - 1
            };
            issuer_names.push(normal.clone());
            issuers.insert(normal, index);
        }
        let first = sources[0].url().as_str().to_string();
        let mut http = Client::builder(first)
            .allow_insecure_http(insecure)
            .deadline(self.deadline)
            .request_timeout(self.deadline)
            .max_body_bytes(MAX_JWKS_BYTES);
        if let Some(pem) = self.ca_bundle_pem {
            http = http.ca_bundle_pem(pem);
        }
        if let Some(language) = self.language {
            http = http.language(language);
        }
        let mut algorithms = self.algorithms;
        algorithms.dedup();
        Ok(Validator {
            inner: Arc::new(Inner {
                issuers,
                issuer_names,
                sources,
                algorithms,
                audiences: self.audiences,
                required_claims: self.required_claims,
                leeway,
                timings: Timings {
                    ttl: self.jwks_ttl,
                    min_refresh_interval: self.min_refresh_interval,
                    max_stale: self.max_stale,
                },
                cache: VerifiedCache::new(self.cache_capacity),
                http: http.build()?,
                counters: Default::default(),
            }),
        })
    }
}
