//! Stats and Prometheus text: runbeam-core's snapshots (`runbeam_core::metrics`) as plain
//! JavaScript objects, and `prometheusText`, which renders them with the core's
//! [`Exposition`] (no second formatter here).
//!
//! Counts are JavaScript numbers (exact up to 2^53, far beyond any counter's reach). Failures by
//! error kind are objects keyed by the kind's name (`{JwtExpired: 2}`), the `kind` of the SDK's
//! errors; a kind never counted is absent.

use std::borrow::Cow;

use napi::bindgen_prelude::{Env, JsObjectValue, JsValue, Object, Result, ToNapiValue, Unknown};
use napi::{ValueType, sys};
use napi_derive::napi;
use runbeam_core::metrics::{self, Exposition};

use crate::arg::{self, Arg, ClassInstance, Refusal};
use crate::error;
use crate::jwt::Validator;
use crate::resolver::Resolver;
use crate::storage::TokenManager;

/// Failures by error kind: `{JwtExpired: 2, JwtInvalid: 1}` (kinds never counted are absent).
pub struct ErrorCounts(metrics::ErrorCounts);

impl From<metrics::ErrorCounts> for ErrorCounts {
    fn from(counts: metrics::ErrorCounts) -> Self {
        ErrorCounts(counts)
    }
}

impl ToNapiValue for ErrorCounts {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let mut object = Object::new(&env)?;
        for (kind, count) in val.0.iter() {
            object.set(kind.name(), count as f64)?;
        }
        Ok(object.raw())
    }
}

/// Counters of a validator since it was built (`validator.stats()`; a resolver's mesh-token
/// validators in `resolver.stats().meshValidation`).
#[napi(object, object_from_js = false)]
pub struct ValidatorStats {
    /// Tokens answered from the verified-token cache (time claims re-checked, no signature).
    pub cache_hits: f64,
    /// Signatures checked.
    pub verifications: f64,
    /// JWKS fetches attempted.
    pub jwks_fetches: f64,
    /// JWKS fetches that failed (the keys fetched before stay in use up to `maxStaleMs`).
    pub jwks_fetch_failures: f64,
    /// Tokens refused or not validated, by error kind (`JwtExpired`, `JwtInvalid`,
    /// `UntrustedIssuer`, a key fetch's `Transport`, …).
    #[napi(ts_type = "Record<string, number>")]
    pub failures: ErrorCounts,
    /// Verified tokens remembered now.
    pub cached_tokens: f64,
}

impl From<metrics::ValidatorStats> for ValidatorStats {
    fn from(s: metrics::ValidatorStats) -> Self {
        ValidatorStats {
            cache_hits: s.cache_hits as f64,
            verifications: s.verifications as f64,
            jwks_fetches: s.jwks_fetches as f64,
            jwks_fetch_failures: s.jwks_fetch_failures as f64,
            failures: ErrorCounts(s.failures),
            cached_tokens: s.cached_tokens as f64,
        }
    }
}

/// Counters of a token manager since it was built (`tokenManager.stats()`).
#[napi(object, object_from_js = false)]
pub struct TokenManagerStats {
    /// Machine tokens renewed (authorized again and saved).
    pub renewals: f64,
    /// Renewals that failed (the current token stays in use while valid).
    pub renewal_failures: f64,
}

impl From<metrics::TokenManagerStats> for TokenManagerStats {
    fn from(s: metrics::TokenManagerStats) -> Self {
        TokenManagerStats {
            renewals: s.renewals as f64,
            renewal_failures: s.renewal_failures as f64,
        }
    }
}

/// The content type of `prometheusText`'s text (`text/plain; version=0.0.4; charset=utf-8`).
#[napi]
pub const PROMETHEUS_CONTENT_TYPE: &str = Exposition::CONTENT_TYPE;

/// One source of `prometheusText`.
enum Source {
    Resolver(ClassInstance<Resolver>),
    Validator(ClassInstance<Validator>),
    TokenManager(ClassInstance<TokenManager>),
}

/// The argument of `prometheusText` (TypeScript `MetricSources`, declared in
/// `dts-header.d.ts`): a plain object `{name: Resolver | Validator | TokenManager}`, its own
/// enumerable keys in their order. An array is refused: its indices would become the `name`
/// labels.
pub struct MetricSources(Vec<(String, Source)>);

impl Arg for MetricSources {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("an object {name: Resolver | Validator | TokenManager}")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, Refusal> {
        if value.get_type()? != ValueType::Object || value.is_array()? {
            return Err(Refusal::Expected {
                path: String::new(),
                expected: Self::expected(),
                given: Cow::Borrowed(arg::describe(&value)),
                other_kind: true,
            });
        }
        let object = Object::from_raw(env.raw(), value.raw());
        let names = object.get_property_names()?;
        let count = names.get_array_length()?;
        let mut sources = Vec::with_capacity(count as usize);
        for i in 0..count {
            let name: String = names.get_element(i)?;
            let value: Unknown<'_> = object.get_named_property(&name)?;
            type Any = arg::Either3<
                ClassInstance<Resolver>,
                ClassInstance<Validator>,
                ClassInstance<TokenManager>,
            >;
            let source =
                match Any::convert(env, value).map_err(|r| r.at(&format!("sources.{name}")))? {
                    arg::Either3::A(resolver) => Source::Resolver(resolver),
                    arg::Either3::B(validator) => Source::Validator(validator),
                    arg::Either3::C(manager) => Source::TokenManager(manager),
                };
            sources.push((name, source));
        }
        Ok(MetricSources(sources))
    }
}

arg::napi_arg!(MetricSources);

/// The Prometheus text exposition (format 0.0.4) of `sources`, each sample labelled
/// `name="<its key>"`; failures by error kind carry `kind="<kind>"` too, and a resolver's
/// mesh-token validators appear as the validator `<name>:mesh`. Serve it with
/// `PROMETHEUS_CONTENT_TYPE`.
///
/// ```js
/// http.createServer((req, res) => {
///   res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE })
///   res.end(prometheusText({ gateway: resolver, users: validator, token: tokenManager }))
/// }).listen(9464)
/// ```
///
/// @throws `RUNBEAM_INVALID_ARGUMENT` when `sources` is not a plain object or one of its values
/// is not a `Resolver`, `Validator` or `TokenManager`.
#[napi]
pub fn prometheus_text(env: &Env, sources: MetricSources) -> Result<String> {
    error::entry(env, "prometheusText", || {
        let mut exposition = Exposition::new();
        for (name, source) in &sources.0 {
            match source {
                Source::Resolver(r) => exposition.resolver(name, &r.core().stats()),
                Source::Validator(v) => exposition.validator(name, &v.core().stats()),
                Source::TokenManager(m) => exposition.token_manager(name, &m.core().stats()),
            };
        }
        Ok(exposition.render())
    })
}
