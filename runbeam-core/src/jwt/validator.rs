//! [`Validator`]: the checks of docs/spec.md §4 in order — size and shape, algorithm, trusted issuer
//! (before any network request), key, signature, time claims, audience, required claims.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::algorithm::Algorithm;
use super::builder::ValidatorBuilder;
use super::cache::{TokenKey, VerifiedCache};
use super::claims::Claims;
use super::compact::{self, Parts, Scratch, check_token_size, invalid};
use super::issuer::normalize_issuer;
use super::jwks::{JwksSource, Lookup, Timings};
use super::mesh::check_mesh;
use crate::attempt::{Attempt, PendingFuture, cached_or};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result, quote_input};
use crate::metrics::{KindCounters, Striped, ValidatorStats};

/// Validates Runbeam JWTs (user JWTs and mesh tokens) against trusted issuers' keys.
/// Cheap to clone (clones share the key and token caches), `Send + Sync`.
///
/// [`Validator::validate`] fetches keys when it must; [`Validator::validate_cached`] never
/// touches the network and answers `None` when keys must be fetched first.
///
/// ```no_run
/// use runbeam_core::jwt::Validator;
/// # async fn run(token: &str) -> runbeam_core::Result<()> {
/// let validator = Validator::builder().trusted_issuer("https://api.runbeam.io/api").build()?;
/// let claims = validator.validate(token).await?;
/// println!("user {:?} of team {:?}", claims.user, claims.team);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Validator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Normalised trusted issuer → index of its key source.
    pub(crate) issuers: HashMap<String, usize>,
    pub(crate) issuer_names: Vec<String>,
    pub(crate) sources: Vec<JwksSource>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) audiences: Vec<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) leeway: i64,
    pub(crate) timings: Timings,
    pub(crate) cache: VerifiedCache,
    pub(crate) http: Client,
    pub(crate) counters: Counters,
}

/// The live counters behind [`Validator::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    cache_hits: Striped,
    verifications: Striped,
    failures: KindCounters,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Validator")
            .field("trusted_issuers", &i.issuer_names)
            .field("jwks_urls", &self.jwks_urls())
            .field("algorithms", &i.algorithms)
            .field("audiences", &i.audiences)
            .field("required_claims", &i.required_claims)
            .field("leeway_secs", &i.leeway)
            .field("timings", &i.timings)
            .finish()
    }
}

/// What the synchronous part of a validation ends with.
enum Step {
    Done(Result<Arc<Claims>>),
    Fetch { source: usize, seen: u64 },
}

/// Up to this many trusted issuers are matched by comparing strings rather than hashing.
const SCAN_UP_TO: usize = 8;

#[inline]
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn datetime(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

impl Validator {
    /// A builder; see [`ValidatorBuilder`].
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// The JWKS URLs keys are fetched from, in configuration order.
    pub fn jwks_urls(&self) -> Vec<String> {
        self.inner
            .sources
            .iter()
            .map(|s| s.url().to_string())
            .collect()
    }

    /// The trusted issuers, normalised.
    pub fn trusted_issuers(&self) -> &[String] {
        &self.inner.issuer_names
    }

    /// Verifies `token` and returns its claims, fetching keys when none are cached, the TTL
    /// has passed, or the token names an unknown `kid` (at most one fetch per minimum
    /// refresh interval, shared by concurrent callers).
    ///
    /// # Errors
    /// `JwtInvalid` (malformed, bad signature, unknown key, wrong audience, missing claim,
    /// not yet valid), `JwtExpired`, `UntrustedIssuer`, or the fetch's error (`Transport`,
    /// `Timeout`, `ServerError`, `Protocol`, …) when no usable keys can be had.
    pub async fn validate(&self, token: &str) -> Result<Arc<Claims>> {
        let result = self.validate_counted(token).await;
        self.counted(result)
    }

    async fn validate_counted(&self, token: &str) -> Result<Arc<Claims>> {
        check_token_size(token.len())?;
        let parts = Parts::of(token);
        let key = self
            .inner
            .cache
            .enabled()
            .then(|| TokenKey::of_parts(parts));
        if let Some(hit) = key.as_ref().and_then(|k| self.cached_claims(k)) {
            return hit;
        }
        let mut allow_fetch = true;
        loop {
            match self.step(parts, key.as_ref(), allow_fetch) {
                Step::Done(result) => return result,
                Step::Fetch { source, seen } => {
                    let i = &self.inner;
                    let changed = i.sources[source]
                        .refresh(seen, &i.http, &i.algorithms, &i.timings)
                        .await;
                    if changed {
                        i.cache.clear();
                    }
                    allow_fetch = false;
                }
            }
        }
    }

    /// Verifies `token` with the keys already cached; `None` when keys must be fetched first
    /// (call [`Validator::validate`] or [`Validator::refresh_keys`]). Never blocks on I/O:
    /// this is the hot path of a gateway.
    #[inline]
    pub fn validate_cached(&self, token: &str) -> Option<Result<Arc<Claims>>> {
        let result = self.validate_cached_counted(token)?;
        Some(self.counted(result))
    }

    /// Whether answering `token` takes a signature check (or keys to fetch): `false` when its
    /// verified claims are remembered with their key set still current, or when it is refused
    /// before any decoding (too large). Nothing is verified or counted. A binding asks it to
    /// decide where a check runs (a remembered token on the caller's thread, a signature check
    /// on a worker); the answer itself comes from [`Validator::validate_cached`] or
    /// [`Validator::validate_attempt`] either way, so a token evicted in between costs one
    /// check on the caller's thread, never another answer.
    ///
    /// ```
    /// let validator = runbeam_core::jwt::Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// assert!(validator.needs_signature_check("never.seen.before"));
    /// assert!(!validator.needs_signature_check(&"x".repeat(64 * 1024)));
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    #[inline]
    pub fn needs_signature_check(&self, token: &str) -> bool {
        if check_token_size(token.len()).is_err() {
            return false;
        }
        let i = &self.inner;
        if !i.cache.enabled() {
            return true;
        }
        i.cache.get(&TokenKey::of(token)).is_none_or(|hit| {
            i.sources.get(hit.source).is_none_or(|source| {
                source.generation() != hit.generation
                    || !source.is_fresh_now(Instant::now(), &i.timings)
            })
        })
    }

    /// The answer for `token` when it needs no signature check, from one hash and one cache
    /// look-up: `Some` with the claims of a remembered token (verified before with the key set
    /// still current; its time claims are checked again, so an expired one answers
    /// `JwtExpired`), or with a refusal known at once (a token over
    /// [`MAX_TOKEN_BYTES`](super::MAX_TOKEN_BYTES));
    /// `None` when answering takes a signature check or keys to fetch. Nothing is verified
    /// then and nothing is counted: hand the token to [`Validator::validate_attempt`] (or
    /// [`Validator::validate_cached`], [`Validator::validate`]) — on a worker thread, say. A
    /// `Some` is counted as `validate_cached` counts it (a cache hit, or a failure by kind),
    /// and is the answer `validate_cached` would give.
    ///
    /// A binding calls this on the caller's thread instead of
    /// [`Validator::needs_signature_check`] followed by `validate_cached`, which hashed the
    /// token twice.
    ///
    /// ```
    /// use runbeam_core::jwt::{MAX_TOKEN_BYTES, Validator};
    /// let validator = Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// // Never seen: a signature check (or a key fetch) is needed.
    /// assert!(validator.validate_if_remembered("never.seen.before").is_none());
    /// // Refused at once, without decoding.
    /// let huge = "x".repeat(MAX_TOKEN_BYTES + 1);
    /// assert!(validator.validate_if_remembered(&huge).unwrap().is_err());
    /// # let token = "never.seen.before";
    /// let answer = match validator.validate_if_remembered(token) {
    ///     Some(answer) => Some(answer),           // answered on this thread
    ///     None => validator.validate_cached(token), // the signature check (or None: fetch keys)
    /// };
    /// # let _ = answer;
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    #[inline]
    pub fn validate_if_remembered(&self, token: &str) -> Option<Result<Arc<Claims>>> {
        let result = self.remembered(token)?;
        Some(self.counted(result))
    }

    /// [`Validator::validate_if_remembered`] plus the mesh-token checks of
    /// [`Validator::verify_mesh_token`] (`aud`, `mesh_id`, `dest_url`) on a remembered token:
    /// `None` when a signature check or keys are needed (then call
    /// [`Validator::verify_mesh_token_attempt`]); a `Some` is the answer
    /// [`Validator::verify_mesh_token_cached`] would give, counted as it counts it.
    ///
    /// ```
    /// let validator = runbeam_core::jwt::Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// let token = "never.seen.before";
    /// assert!(validator.verify_mesh_token_if_remembered(token, "mesh-1", None).is_none());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    #[inline]
    pub fn verify_mesh_token_if_remembered(
        &self,
        token: &str,
        mesh_id: &str,
        destination_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        Some(self.validate_if_remembered(token)?.and_then(|c| {
            self.counted(check_mesh(&c, mesh_id, destination_url))
                .map(|()| c)
        }))
    }

    /// [`Validator::validate_if_remembered`] for the `Authorization` header value
    /// `authorization` of a request: `Some` with a refusal for a missing or malformed header
    /// (as [`Validator::authenticate_cached`]), or with the answer for a remembered bearer
    /// token; `None` when a signature check or keys are needed (then call
    /// [`Validator::authenticate_attempt`]).
    ///
    /// ```
    /// let validator = runbeam_core::jwt::Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// assert!(validator.authenticate_if_remembered(None).unwrap().is_err());
    /// assert!(validator.authenticate_if_remembered(Some("Bearer a.b.c")).is_none());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    #[inline]
    pub fn authenticate_if_remembered(
        &self,
        authorization: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        match crate::edge::bearer_token(authorization) {
            Ok(token) => self.validate_if_remembered(token),
            Err(e) => Some(Err(e)),
        }
    }

    /// The uncounted answer of [`Validator::validate_if_remembered`].
    #[inline]
    fn remembered(&self, token: &str) -> Option<Result<Arc<Claims>>> {
        if let Err(e) = check_token_size(token.len()) {
            return Some(Err(e));
        }
        if !self.inner.cache.enabled() {
            return None;
        }
        self.cached_claims(&TokenKey::of(token))
    }

    /// Counts a failure by kind.
    #[inline]
    fn counted<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.inner.counters.failures.record(e.kind());
        }
        result
    }

    /// Counters since the validator was built (clones share them), with the number of
    /// verified tokens remembered now.
    ///
    /// ```
    /// let validator = runbeam_core::jwt::Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// assert!(validator.validate_cached("not a token").unwrap().is_err());
    /// assert_eq!(validator.stats().failures.get(runbeam_core::ErrorKind::JwtInvalid), 1);
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn stats(&self) -> ValidatorStats {
        let i = &self.inner;
        let (jwks_fetches, jwks_fetch_failures) = i
            .sources
            .iter()
            .map(|s| s.fetch_counts())
            .fold((0u64, 0u64), |(a, b), (c, d)| {
                (a.saturating_add(c), b.saturating_add(d))
            });
        ValidatorStats {
            cache_hits: i.counters.cache_hits.read(),
            verifications: i.counters.verifications.read(),
            jwks_fetches,
            jwks_fetch_failures,
            failures: i.counters.failures.snapshot(),
            cached_tokens: u64::try_from(i.cache.len()).unwrap_or(u64::MAX),
        }
    }

    #[inline]
    fn validate_cached_counted(&self, token: &str) -> Option<Result<Arc<Claims>>> {
        if let Err(e) = check_token_size(token.len()) {
            return Some(Err(e));
        }
        let parts = Parts::of(token);
        let key = self
            .inner
            .cache
            .enabled()
            .then(|| TokenKey::of_parts(parts));
        if let Some(hit) = key.as_ref().and_then(|k| self.cached_claims(k)) {
            return Some(hit);
        }
        match self.step(parts, key.as_ref(), true) {
            Step::Done(result) => Some(result),
            Step::Fetch { .. } => None,
        }
    }

    /// [`Validator::validate`] as one step: [`Attempt::Ready`] when the cached keys answer (no
    /// I/O, nothing allocated for a request), [`Attempt::Pending`] with the fetching
    /// validation when keys must be fetched first. Every binding's `validate` is this step.
    #[inline]
    pub fn validate_attempt(&self, token: &str) -> Attempt<Arc<Claims>> {
        cached_or(self.validate_cached(token), || self.validate_later(token))
    }

    /// The fetching validation of [`Validator::validate_attempt`], made here rather than in the
    /// crate that inlines the cached path (the crate docs, "Compiled for size").
    #[inline(never)]
    fn validate_later(&self, token: &str) -> PendingFuture<Arc<Claims>> {
        let validator = self.clone();
        let token = zeroize::Zeroizing::new(token.to_owned());
        Box::pin(async move { validator.validate(&token).await })
    }

    /// [`Validator::validate`] for a thread outside the runtime: the cached path first, then
    /// `runtime.block_on` when keys must be fetched. Must not be called on a runtime thread.
    ///
    /// # Errors
    /// As [`Validator::validate`].
    pub fn validate_blocking(
        &self,
        token: &str,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Arc<Claims>> {
        self.validate_attempt(token).wait(runtime)
    }

    /// [`Validator::validate`] plus the mesh-token checks of docs/spec.md §4: `aud` is
    /// `mesh:<mesh_id>`, the `mesh_id` claim matches, and `destination_url` (the URL being
    /// served, when given) lies under the token's `dest_url`.
    pub async fn verify_mesh_token(
        &self,
        token: &str,
        mesh_id: &str,
        destination_url: Option<&str>,
    ) -> Result<Arc<Claims>> {
        let claims = self.validate(token).await?;
        self.counted(check_mesh(&claims, mesh_id, destination_url))?;
        Ok(claims)
    }

    /// [`Validator::verify_mesh_token`] with cached keys only; `None` when keys must be
    /// fetched first.
    #[inline]
    pub fn verify_mesh_token_cached(
        &self,
        token: &str,
        mesh_id: &str,
        destination_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        Some(self.validate_cached(token)?.and_then(|c| {
            self.counted(check_mesh(&c, mesh_id, destination_url))
                .map(|()| c)
        }))
    }

    /// [`Validator::verify_mesh_token`] as one step (see [`Validator::validate_attempt`]).
    #[inline]
    pub fn verify_mesh_token_attempt(
        &self,
        token: &str,
        mesh_id: &str,
        destination_url: Option<&str>,
    ) -> Attempt<Arc<Claims>> {
        cached_or(
            self.verify_mesh_token_cached(token, mesh_id, destination_url),
            || self.verify_mesh_token_later(token, mesh_id, destination_url),
        )
    }

    /// The fetching check of [`Validator::verify_mesh_token_attempt`], made here rather than in
    /// the crate that inlines the cached path (the crate docs, "Compiled for size").
    #[inline(never)]
    fn verify_mesh_token_later(
        &self,
        token: &str,
        mesh_id: &str,
        destination_url: Option<&str>,
    ) -> PendingFuture<Arc<Claims>> {
        let validator = self.clone();
        let (token, mesh_id) = (
            zeroize::Zeroizing::new(token.to_owned()),
            mesh_id.to_owned(),
        );
        let destination_url = destination_url.map(str::to_owned);
        Box::pin(async move {
            validator
                .verify_mesh_token(&token, &mesh_id, destination_url.as_deref())
                .await
        })
    }

    /// Fetches every JWKS now (at start-up, so the first request does not wait). Respects
    /// the minimum refresh interval.
    ///
    /// # Errors
    /// The first source whose keys cannot be had.
    pub async fn refresh_keys(&self) -> Result<()> {
        let i = &self.inner;
        for source in &i.sources {
            let seen = source.generation();
            if source
                .refresh(seen, &i.http, &i.algorithms, &i.timings)
                .await
            {
                i.cache.clear();
            }
            source.usable(Instant::now(), &i.timings)?;
        }
        Ok(())
    }

    /// Forgets every verified token (keys stay cached).
    pub fn flush_token_cache(&self) {
        self.inner.cache.clear();
    }

    /// Verified tokens currently remembered.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    #[inline]
    fn cached_claims(&self, key: &TokenKey<'_>) -> Option<Result<Arc<Claims>>> {
        let i = &self.inner;
        let entry = i.cache.get(key)?;
        let source = &i.sources[entry.source];
        if source.generation() != entry.generation {
            i.cache.remove(key);
            return None;
        }
        if !source.is_fresh_now(Instant::now(), &i.timings) {
            return None;
        }
        i.counters.cache_hits.bump();
        Some(
            self.check_times(&entry.claims, unix_now())
                .map(|()| entry.claims),
        )
    }

    #[inline]
    fn step(&self, parts: Parts<'_>, key: Option<&TokenKey<'_>>, allow_fetch: bool) -> Step {
        let i = &self.inner;
        let token_key = key;
        let mut scratch = Scratch::new();
        let decoded = match compact::decode(parts, &i.algorithms, &mut scratch) {
            Ok(d) => d,
            Err(e) => return Step::Done(Err(e)),
        };
        let source = match self.source_for(decoded.claims.iss.as_deref()) {
            Ok(s) => s,
            Err(e) => return Step::Done(Err(e)),
        };
        let current =
            match i.sources[source].lookup(&decoded.kid, Instant::now(), &i.timings, allow_fetch) {
                Ok(Lookup::Keys(current)) => current,
                Ok(Lookup::Fetch { seen }) => return Step::Fetch { source, seen },
                Err(e) => return Step::Done(Err(e)),
            };
        let result = (|| {
            // `lookup` answers `Keys` only with keys loaded, and loaded keys are never removed.
            let loaded = current.get().ok_or_else(|| {
                Error::new(ErrorKind::Internal, "the JWKS keys vanished while in use")
            })?;
            let key = loaded.keys.find(&decoded.kid, decoded.alg).ok_or_else(|| {
                invalid(format!(
                    "the key '{}' cannot verify {} (its type or 'alg' differs)",
                    quote_input(&decoded.kid, 64),
                    decoded.alg
                ))
            })?;
            i.counters.verifications.bump();
            // The SHA-256 of the signing input was computed for the cache key: an algorithm
            // hashing with SHA-256 verifies that digest instead of hashing the input again.
            let verified = match token_key {
                Some(k)
                    if decoded.alg.hashes_with_sha256()
                        && k.input_len == decoded.signing_input.len() =>
                {
                    key.verify_digest_sig(&k.digest, decoded.signature)
                }
                _ => key.verify_sig(decoded.signing_input, decoded.signature),
            };
            verified.map_err(|_| {
                invalid(
                    "the token's signature does not verify (tampered, or signed by another key)",
                )
            })?;
            let claims = decoded.claims;
            self.check_times(&claims, unix_now())?;
            self.check_rules(&claims)?;
            let claims = Arc::new(claims);
            if let Some(k) = token_key {
                i.cache.insert(k, &claims, source, loaded.generation);
            }
            Ok(claims)
        })();
        Step::Done(result)
    }

    /// The key source for the token's issuer; `UntrustedIssuer` before any network request.
    #[inline]
    fn source_for(&self, iss: Option<&str>) -> Result<usize> {
        let i = &self.inner;
        if i.issuers.is_empty() {
            return Ok(0);
        }
        let untrusted = |why: String| {
            Error::new(
                ErrorKind::UntrustedIssuer,
                format!("{why}; trusted issuers: {}", i.issuer_names.join(", ")),
            )
        };
        let Some(iss) = iss else {
            return Err(untrusted("the token has no 'iss' claim".into()));
        };
        // A few trusted issuers (the usual case) are compared in place: cheaper than hashing.
        let exact = if i.issuers.len() <= SCAN_UP_TO {
            i.issuers.iter().find(|(k, _)| *k == iss).map(|(_, &v)| v)
        } else {
            i.issuers.get(iss).copied()
        };
        if let Some(index) = exact {
            return Ok(index);
        }
        normalize_issuer(iss)
            .and_then(|n| i.issuers.get(&n).copied())
            .ok_or_else(|| {
                untrusted(format!(
                    "the token's issuer '{}' is not trusted (issuers match exactly, never by prefix)",
                    quote_input(iss, 200)
                ))
            })
    }

    #[inline]
    fn check_times(&self, claims: &Claims, now: i64) -> Result<()> {
        check_times(claims, now, self.inner.leeway)
    }

    #[inline]
    fn check_rules(&self, claims: &Claims) -> Result<()> {
        check_rules(claims, &self.inner.audiences, &self.inner.required_claims)
    }
}

/// The time checks of docs/spec.md §4 (`exp`, `nbf`, `iat` not in the future, each with
/// `leeway` seconds), shared by every validator and by local meshes (`super::local`).
#[inline]
pub(crate) fn check_times(claims: &Claims, now: i64, leeway: i64) -> Result<()> {
    if claims.exp.saturating_add(leeway) < now {
        return Err(Error::new(
            ErrorKind::JwtExpired,
            format!(
                "the token expired at {} ({}s ago; leeway {leeway}s); get a new one",
                datetime(claims.exp),
                now.saturating_sub(claims.exp)
            ),
        ));
    }
    if let Some(nbf) = claims.nbf.filter(|nbf| nbf.saturating_sub(leeway) > now) {
        return Err(invalid(format!(
            "the token is not valid before {} ('nbf' is {}s in the future; leeway {leeway}s)",
            datetime(nbf),
            nbf - now
        )));
    }
    if let Some(iat) = claims.iat.filter(|iat| iat.saturating_sub(leeway) > now) {
        return Err(invalid(format!(
            "the token claims to be issued at {}, {}s in the future (leeway {leeway}s); \
             check the clocks",
            datetime(iat),
            iat - now
        )));
    }
    Ok(())
}

/// The audience and required-claim checks of docs/spec.md §4, shared like [`check_times`].
#[inline]
pub(crate) fn check_rules(
    claims: &Claims,
    audiences: &[String],
    required_claims: &[String],
) -> Result<()> {
    if !audiences.is_empty() && !audiences.iter().any(|a| claims.aud.contains(a)) {
        let seen: Vec<&str> = claims.aud.iter().collect();
        // A mesh token (aud `mesh:<id>`) checked by a validator meant for the gateway's
        // own user JWTs: say which validator to use instead.
        let hint = if seen.iter().any(|a| a.starts_with("mesh:")) {
            "; a mesh token is verified by a validator without audiences (verify_mesh_token \
             checks `mesh:<id>` itself), such as the Resolver's"
        } else {
            ""
        };
        return Err(invalid(format!(
            "the token's audience [{}] is not one of [{}]{hint}",
            quote_input(&seen.join(", "), 200),
            audiences.join(", ")
        )));
    }
    for name in required_claims {
        if !claims.has(name) {
            return Err(invalid(format!(
                "the token lacks the required claim '{name}'"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::super::compact::MAX_TOKEN_BYTES;
    use super::super::keys::{JwksDoc, KeySet};
    use super::*;

    const ISSUER: &str = "https://issuer.example/api";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn validator(pair: &KeyPair, capacity: usize) -> Validator {
        let public = pair.public_key();
        let jwks = json!({"keys": [{
            "kty": "RSA", "kid": "k1", "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }]});
        let year = Duration::from_secs(365 * 24 * 3600);
        let v = Validator::builder()
            .trusted_issuer(ISSUER)
            .algorithms(Algorithm::ALL)
            .cache_capacity(capacity)
            .jwks_ttl(year)
            .max_stale(year)
            .min_refresh_interval(year)
            .build()
            .unwrap();
        let doc: JwksDoc = serde_json::from_value(jwks).unwrap();
        let keys = KeySet::from_document(doc, &v.inner.algorithms).0;
        v.inner.sources[0].preload(keys);
        v
    }

    fn sign(pair: &KeyPair, alg: &str, encoding: &'static dyn RsaEncoding, sub: &str) -> String {
        let header = b64(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes());
        let claims = json!({"iss": ISSUER, "sub": sub, "exp": unix_now() + 600});
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(encoding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", b64(&sig))
    }

    /// `needs_signature_check` follows the cache: a token is remembered from its second
    /// verification on, forgotten by a flush, never remembered with the cache off; a forged
    /// signature of a remembered token's input is not remembered.
    #[test]
    fn needs_signature_check_follows_the_verified_token_cache() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let v = validator(&pair, 10);
        let token = sign(&pair, "RS256", &signature::RSA_PKCS1_SHA256, "alice");
        assert!(v.needs_signature_check(&token));
        v.validate_cached(&token).unwrap().unwrap();
        assert!(
            v.needs_signature_check(&token),
            "kept from the second verification"
        );
        v.validate_cached(&token).unwrap().unwrap();
        assert!(!v.needs_signature_check(&token));
        let verifications = v.stats().verifications;
        v.validate_cached(&token).unwrap().unwrap();
        assert_eq!(
            v.stats().verifications,
            verifications,
            "answered from the cache"
        );
        let other = sign(&pair, "RS256", &signature::RSA_PKCS1_SHA256, "mallory");
        let forged = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert!(v.needs_signature_check(&forged));
        v.flush_token_cache();
        assert!(v.needs_signature_check(&token));
        let off = validator(&pair, 0);
        for _ in 0..3 {
            off.validate_cached(&token).unwrap().unwrap();
        }
        assert!(off.needs_signature_check(&token));
        assert!(!off.needs_signature_check(&"x".repeat(64 * 1024)));
    }

    fn sign_claims(pair: &KeyPair, claims: &serde_json::Value) -> String {
        let header = b64(json!({"alg": "RS256", "kid": "k1"}).to_string().as_bytes());
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64(&sig))
    }

    fn failures(v: &Validator) -> u64 {
        v.stats().failures.get(ErrorKind::JwtInvalid)
            + v.stats().failures.get(ErrorKind::JwtExpired)
    }

    /// `validate_if_remembered` answers a remembered token with the very claims the cache
    /// holds (one cache hit, no verification), says `None` for a token never seen (nothing
    /// verified or counted), refuses a token too large at once (one failure), and says `None`
    /// again once the key set changes, the cache is flushed, or with the cache off.
    #[test]
    fn validate_if_remembered_answers_from_the_cache_or_says_a_check_is_needed() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let v = validator(&pair, 10);
        let token = sign(&pair, "RS256", &signature::RSA_PKCS1_SHA256, "alice");

        // Never seen: None, and nothing verified or counted.
        let before = v.stats();
        assert!(v.validate_if_remembered(&token).is_none());
        assert!(
            v.authenticate_if_remembered(Some(&format!("Bearer {token}")))
                .is_none()
        );
        let after = v.stats();
        assert_eq!(after.verifications, before.verifications);
        assert_eq!(after.cache_hits, before.cache_hits);
        assert_eq!(failures(&v), 0);

        // Kept from the second verification on.
        v.validate_cached(&token).unwrap().unwrap();
        assert!(v.validate_if_remembered(&token).is_none());
        let verified = v.validate_cached(&token).unwrap().unwrap();
        let (hits, verifications) = (v.stats().cache_hits, v.stats().verifications);
        let remembered = v.validate_if_remembered(&token).unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&remembered, &verified),
            "the cached claims themselves"
        );
        assert_eq!(*remembered, *verified);
        assert_eq!(v.stats().cache_hits, hits + 1, "counted as a cache hit");
        assert_eq!(v.stats().verifications, verifications, "nothing verified");
        let by_header = v
            .authenticate_if_remembered(Some(&format!("Bearer {token}")))
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&by_header, &verified));
        // The same answer validate_cached gives.
        assert!(Arc::ptr_eq(
            &v.validate_cached(&token).unwrap().unwrap(),
            &verified
        ));

        // Another signature over the same input is not the remembered token.
        let other = sign(&pair, "RS256", &signature::RSA_PKCS1_SHA256, "mallory");
        let forged = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert!(v.validate_if_remembered(&forged).is_none());

        // Refused at once: too large, a missing header. Counted like validate_cached.
        let huge = "x".repeat(MAX_TOKEN_BYTES + 1);
        let err = v.validate_if_remembered(&huge).unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JwtInvalid);
        assert!(err.message().contains("limit"), "{err}");
        assert_eq!(failures(&v), 1);
        assert!(v.authenticate_if_remembered(None).unwrap().is_err());

        // A new key set (same keys, next generation): the claims are no longer remembered.
        let public = pair.public_key();
        let jwks = json!({"keys": [{
            "kty": "RSA", "kid": "k1", "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }]});
        let doc: JwksDoc = serde_json::from_value(jwks).unwrap();
        v.inner.sources[0].preload(KeySet::from_document(doc, &v.inner.algorithms).0);
        let verifications = v.stats().verifications;
        assert!(v.validate_if_remembered(&token).is_none());
        assert_eq!(v.stats().verifications, verifications);

        // Remembered again after two verifications; forgotten by a flush.
        v.validate_cached(&token).unwrap().unwrap();
        v.validate_cached(&token).unwrap().unwrap();
        assert!(v.validate_if_remembered(&token).is_some());
        v.flush_token_cache();
        assert!(v.validate_if_remembered(&token).is_none());

        // Cache off: never remembered; the size refusal still answers at once.
        let off = validator(&pair, 0);
        for _ in 0..3 {
            off.validate_cached(&token).unwrap().unwrap();
        }
        assert!(off.validate_if_remembered(&token).is_none());
        assert!(off.validate_if_remembered(&huge).unwrap().is_err());
    }

    /// `verify_mesh_token_if_remembered` makes the mesh checks on a remembered token, as
    /// `verify_mesh_token_cached` does: a remembered token of another mesh is refused at once.
    #[test]
    fn verify_mesh_token_if_remembered_checks_the_mesh_of_a_remembered_token() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let v = validator(&pair, 10);
        let token = sign_claims(
            &pair,
            &json!({
                "iss": ISSUER, "sub": "gateway:a", "aud": "mesh:m1", "mesh_id": "m1",
                "dest_url": "https://fhir.example/api", "exp": unix_now() + 600,
            }),
        );
        assert!(
            v.verify_mesh_token_if_remembered(&token, "m1", None)
                .is_none()
        );
        for _ in 0..2 {
            v.verify_mesh_token_cached(&token, "m1", None)
                .unwrap()
                .unwrap();
        }
        let hits = v.stats().cache_hits;
        let claims = v
            .verify_mesh_token_if_remembered(&token, "m1", Some("https://fhir.example/api/x"))
            .unwrap()
            .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("gateway:a"));
        assert_eq!(v.stats().cache_hits, hits + 1);
        let failed = failures(&v);
        let wrong = v
            .verify_mesh_token_if_remembered(&token, "m2", None)
            .unwrap();
        let cached = v.verify_mesh_token_cached(&token, "m2", None).unwrap();
        assert_eq!(
            wrong.unwrap_err().to_string(),
            cached.unwrap_err().to_string()
        );
        assert_eq!(failures(&v), failed + 2);
        assert!(
            v.verify_mesh_token_if_remembered(&token, "m1", Some("https://elsewhere.example/"))
                .unwrap()
                .is_err()
        );
    }

    /// The digest shared with the cache key (RS256, PS256) and the plain path (the others)
    /// accept the same tokens and refuse the same tampering, cache on or off, first sight or
    /// hit.
    #[test]
    fn every_rsa_algorithm_verifies_with_the_cache_on_and_off() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let algorithms: [(&str, &'static dyn RsaEncoding); 6] = [
            ("RS256", &signature::RSA_PKCS1_SHA256),
            ("PS256", &signature::RSA_PSS_SHA256),
            ("RS384", &signature::RSA_PKCS1_SHA384),
            ("PS384", &signature::RSA_PSS_SHA384),
            ("RS512", &signature::RSA_PKCS1_SHA512),
            ("PS512", &signature::RSA_PSS_SHA512),
        ];
        for capacity in [0, 10] {
            let v = validator(&pair, capacity);
            for (alg, encoding) in algorithms {
                let token = sign(&pair, alg, encoding, alg);
                for _ in 0..3 {
                    let claims = v.validate_cached(&token).unwrap().unwrap();
                    assert_eq!(claims.sub.as_deref(), Some(alg), "{alg}");
                }
                let (input, sig) = token.rsplit_once('.').unwrap();
                // Another valid-looking signature of the same input, and a flipped byte.
                let other = sign(&pair, alg, encoding, "someone else");
                let other_sig = other.rsplit_once('.').unwrap().1;
                let mut flipped = URL_SAFE_NO_PAD.decode(sig).unwrap();
                flipped[10] ^= 1;
                for forged in [
                    format!("{input}.{other_sig}"),
                    format!("{input}.{}", b64(&flipped)),
                ] {
                    let err = v.validate_cached(&forged).unwrap().unwrap_err();
                    assert!(err.message().contains("signature"), "{alg}: {err}");
                }
                // The genuine token still hits (or verifies) afterwards.
                assert!(v.validate_cached(&token).unwrap().is_ok(), "{alg}");
            }
            let expected = if capacity == 0 { 0 } else { algorithms.len() };
            assert_eq!(v.cached_tokens(), expected);
        }
    }
}
