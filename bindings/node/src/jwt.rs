//! `Validator`: runbeam-core's JWT validator (docs/spec.md §4) for JavaScript, and `parseBearer`.
//!
//! Every check is runbeam-core's; this module converts arguments, results and errors.
//!
//! **Hot path.** A gateway validates a token per request, so the synchronous methods
//! (`validateCached`, `verifyMeshTokenCached`) call the core's cached path directly on the JS
//! thread (no I/O: `null` when keys must be fetched first), and `validate` / `verifyMeshToken`
//! take the core's cached-then-fetch step (`validate_attempt`) in one call: the claims when the
//! keys are cached (`index.js` wraps them in a resolved Promise), else the fetch spawned on the
//! runtime (see [`crate::promise::attempt`]).
//!
//! **Claims objects.** A `Claims` is an instance of the JavaScript class of `index.js`, frozen,
//! built by one `new Claims(...)` call with the core's typed fields as arguments (cheaper than
//! setting a dozen properties through napi). The core serves a repeated token from its
//! verified-token cache as the *same* `Arc<Claims>` (time claims re-checked on every hit), so
//! each validator remembers the JavaScript object it built for such an `Arc` (from its second
//! sighting on) and returns it again: a repeated token then costs a SHA-256, a cache look-up
//! and no object creation. See [`Objects`].

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::{
    Env, Function, JsValue, Object, ObjectFinalize, ObjectRef, PromiseRaw, Result, ToNapiValue,
};
use napi::sys;
use napi_derive::napi;
use runbeam_core::attempt::Attempt;
pub(crate) use runbeam_core::jwt::DEFAULT_CACHE_CAPACITY;
use runbeam_core::jwt::{self, Algorithm, Audience, Claims as CoreClaims, api_base_url_of};
use zeroize::Zeroizing;

use crate::arg::{self, AbortSignal, Count, Milliseconds, Signal};
use crate::error;
use crate::metrics::ValidatorStats;
use crate::offload;
use crate::promise::Answer;

/// Options of `new Validator(options)`. Trust is explicit: give `trustedIssuers`, `jwksUrl`
/// or both.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ValidatorOptions {
    /// Issuers whose tokens are accepted: exact match after URL normalisation, never a
    /// prefix. For Runbeam Cloud, the API root, e.g. `https://api.runbeam.io/api`. Keys
    /// come from `<issuer>/.well-known/jwks.json` unless `jwksUrl` is given.
    pub trusted_issuers: Option<Vec<String>>,
    /// A pinned JWKS URL every key comes from. Alone, any `iss` signed by these keys passes.
    pub jwks_url: Option<String>,
    /// Accepted algorithms (default `['RS256']`). `none` and HMAC are never accepted.
    // A string union napi cannot derive from a Rust type: the names are runbeam-core's
    // (`JwtAlgorithm` in dts-header.d.ts, checked against the core by package.test.cjs).
    #[napi(ts_type = "Array<JwtAlgorithm>")]
    pub algorithms: Option<Vec<String>>,
    /// When given, `aud` must name one of these.
    pub audiences: Option<Vec<String>>,
    /// Claims that must be present and not null (any claim, custom ones too).
    pub required_claims: Option<Vec<String>>,
    /// Clock-skew leeway on `exp`, `nbf` and `iat` (default 60000).
    pub leeway_ms: Option<Milliseconds>,
    /// How long fetched keys are used before a refresh (default 3600000).
    pub jwks_ttl_ms: Option<Milliseconds>,
    /// Minimum interval between two fetches of one JWKS (default 30000).
    pub min_refresh_interval_ms: Option<Milliseconds>,
    /// How long keys stay usable while refreshes fail (default 86400000).
    pub max_stale_ms: Option<Milliseconds>,
    /// Verified tokens remembered (default 10000; 0 disables the cache).
    pub cache_capacity: Option<Count>,
    /// Accept `http://` issuers and JWKS URLs on hosts that are not loopback (default
    /// false).
    pub allow_insecure_http: Option<bool>,
    /// Total time of one JWKS fetch, retries included (default 10000).
    pub deadline_ms: Option<Milliseconds>,
    /// PEM text of CA certificates trusted for JWKS fetches in addition to the system
    /// roots.
    pub ca_bundle_pem: Option<String>,
}

arg::object!(ValidatorOptions {
    trusted_issuers,
    jwks_url,
    algorithms,
    audiences,
    required_claims,
    leeway_ms,
    jwks_ttl_ms,
    min_refresh_interval_ms,
    max_stale_ms,
    cache_capacity,
    allow_insecure_http,
    deadline_ms,
    ca_bundle_pem,
});

/// The JavaScript `Claims` classes registered by `index.js` (the last one builds objects).
struct Registry {
    classes: Vec<ObjectRef<false>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const { RefCell::new(Registry { classes: Vec::new() }) };

}

/// Registers the JavaScript `Claims` class, whose constructor takes
/// `(json, iss, sub, aud, exp, iat, nbf, jti, userId, userEmail, userName, teamId, teamName)`.
/// Internal: called by `index.js` when it is loaded.
#[napi(js_name = "__jwtInit", skip_typescript)]
pub fn jwt_init(env: &Env, class: Function<'_>) -> Result<()> {
    error::entry(env, "jwtInit", || {
        let class = Object::from_raw(env.raw(), class.raw());
        let class = class.create_ref::<false>()?;
        REGISTRY.with(|r| r.borrow_mut().classes.push(class));
        Ok(())
    })
}

/// A napi call's status as a `Result`.
fn check(env: &Env, status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(error::internal(
            env,
            format!("cannot build the claims object: {what} failed (napi status {status})"),
        ))
    }
}

/// Creates JavaScript values for the `Claims` constructor arguments.
struct Values<'a> {
    env: &'a Env,
}

impl Values<'_> {
    fn str(&self, text: &str) -> Result<sys::napi_value> {
        let mut value = ptr::null_mut();
        // ASCII (nearly every claim) is Latin-1 as is, which V8 copies without decoding.
        let create = if text.is_ascii() {
            sys::napi_create_string_latin1
        } else {
            sys::napi_create_string_utf8
        };
        // SAFETY: `text` is valid UTF-8 (and Latin-1 when ASCII) of the given length; `value`
        // is written on success.
        let status = unsafe {
            create(
                self.env.raw(),
                text.as_ptr().cast(),
                text.len() as isize,
                &mut value,
            )
        };
        check(self.env, status, "napi_create_string")?;
        Ok(value)
    }

    fn null(&self) -> Result<sys::napi_value> {
        let mut value = ptr::null_mut();
        // SAFETY: `value` is written on success.
        let status = unsafe { sys::napi_get_null(self.env.raw(), &mut value) };
        check(self.env, status, "napi_get_null")?;
        Ok(value)
    }

    fn opt_str(&self, text: Option<&str>) -> Result<sys::napi_value> {
        text.map_or_else(|| self.null(), |t| self.str(t))
    }

    fn num(&self, n: i64) -> Result<sys::napi_value> {
        let mut value = ptr::null_mut();
        // SAFETY: `value` is written on success.
        let status = unsafe { sys::napi_create_double(self.env.raw(), n as f64, &mut value) };
        check(self.env, status, "napi_create_double")?;
        Ok(value)
    }

    fn opt_num(&self, n: Option<i64>) -> Result<sys::napi_value> {
        n.map_or_else(|| self.null(), |n| self.num(n))
    }

    fn audience(&self, aud: &Audience) -> Result<sys::napi_value> {
        match aud {
            Audience::None => self.null(),
            Audience::One(a) => self.str(a),
            Audience::Many(list) => {
                // SAFETY: `list` lives until the conversion returns.
                unsafe { <&Vec<String>>::to_napi_value(self.env.raw(), list) }
            }
        }
    }
}

/// A new JavaScript `Claims` object for `claims`.
pub(crate) fn new_claims(env: &Env, claims: &CoreClaims) -> Result<sys::napi_value> {
    let class = REGISTRY.with(|r| {
        r.borrow()
            .classes
            .last()
            .map(|class| class.get_value(env).map(|c| c.raw()))
            .transpose()
    })?;
    let Some(class) = class else {
        return Err(error::internal(env, "the Claims class is not registered"));
    };
    let v = Values { env };
    let user = claims.user.as_ref();
    let team = claims.team.as_ref();
    let argv = [
        v.str(claims.json())?,
        v.opt_str(claims.iss.as_deref())?,
        v.opt_str(claims.sub.as_deref())?,
        v.audience(&claims.aud)?,
        v.num(claims.exp)?,
        v.opt_num(claims.iat)?,
        v.opt_num(claims.nbf)?,
        v.opt_str(claims.jti.as_deref())?,
        v.opt_str(user.map(|u| u.id.as_str()))?,
        v.opt_str(user.and_then(|u| u.email.as_deref()))?,
        v.opt_str(user.and_then(|u| u.name.as_deref()))?,
        v.opt_str(team.map(|t| t.id.as_str()))?,
        v.opt_str(team.and_then(|t| t.name.as_deref()))?,
    ];
    let mut object = ptr::null_mut();
    // SAFETY: `class` is a live constructor of `env`; `argv` holds live values of `env`.
    let status =
        unsafe { sys::napi_new_instance(env.raw(), class, argv.len(), argv.as_ptr(), &mut object) };
    check(env, status, "new Claims()")?;
    Ok(object)
}

/// A JavaScript `Claims` object (the class of `index.js`), built or remembered.
pub struct Claims(pub(crate) sys::napi_value);

impl ToNapiValue for Claims {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

/// The JavaScript objects built for the `Arc<Claims>` the core's cache hands out, by address.
///
/// An object is remembered only when its `Arc` comes back a second time: most tokens of a busy
/// gateway are seen once, and keeping their objects alive (a napi reference each, promoted to
/// the old generation by the GC) would cost every distinct token a few microseconds for
/// nothing. `seen` holds bare addresses: a reused address only makes an object be remembered
/// one sighting early, while `map` holds the `Arc`, so its addresses cannot be reused.
#[derive(Default)]
struct Objects {
    seen: HashSet<usize>,
    map: HashMap<usize, (Arc<CoreClaims>, ObjectRef<false>)>,
    /// The validator was finalized while a Promise of it was in flight: build, never remember.
    closed: bool,
}

impl Objects {
    /// The object for `claims`: the one built before for this `Arc`, or a new one (remembered
    /// on the second sighting when the core caches verified tokens, `capacity` > 0).
    fn get(
        &mut self,
        env: &Env,
        claims: Arc<CoreClaims>,
        capacity: usize,
    ) -> Result<sys::napi_value> {
        let key = Arc::as_ptr(&claims) as usize;
        if let Some((_, object)) = self.map.get(&key) {
            return Ok(object.get_value(env)?.raw());
        }
        let raw = new_claims(env, &claims)?;
        if capacity == 0 || self.closed {
            return Ok(raw);
        }
        if self.seen.len() >= capacity {
            self.seen.clear();
        }
        if self.seen.insert(key) {
            return Ok(raw);
        }
        if self.map.len() >= capacity {
            self.evict(env, capacity)?;
        }
        let object = Object::from_raw(env.raw(), raw).create_ref::<false>()?;
        self.map.insert(key, (claims, object));
        Ok(raw)
    }

    /// Drops the objects of claims the core no longer caches; all of them if that does not
    /// free half the room (so that eviction stays amortised O(1) per insertion).
    fn evict(&mut self, env: &Env, capacity: usize) -> Result<()> {
        let mut dropped = Vec::new();
        let live: HashMap<_, _> = self
            .map
            .drain()
            .filter_map(|(key, (claims, object))| {
                if Arc::strong_count(&claims) > 1 {
                    Some((key, (claims, object)))
                } else {
                    dropped.push(object);
                    None
                }
            })
            .collect();
        self.map = live;
        if self.map.len() > capacity / 2 {
            dropped.extend(self.map.drain().map(|(_, (_, object))| object));
        }
        for object in dropped {
            object.unref(env)?;
        }
        Ok(())
    }

    fn clear(&mut self, env: &Env) -> Result<()> {
        self.seen.clear();
        for (_, (_, object)) in self.map.drain() {
            object.unref(env)?;
        }
        Ok(())
    }
}

/// A JWT validator (docs/spec.md §4): signature with keys from the trusted issuers' JWKS (cached,
/// refreshed, bounded), `exp`/`nbf`/`iat` with leeway, audiences, required claims, token size.
/// A token of an untrusted issuer is refused before any network request.
///
/// ```js
/// const validator = new Validator({ trustedIssuers: ['https://api.runbeam.io/api'] })
/// await validator.refreshKeys() // at start-up, so the first request does not wait
/// const claims = validator.validateCached(token) ?? (await validator.validate(token))
/// console.log(claims.sub, claims.user?.email, claims.team?.name, claims.all.scope)
/// ```
#[napi(custom_finalize)]
pub struct Validator {
    inner: jwt::Validator,
    /// The settings it was built with, for a `Resolver`'s mesh-token validators
    /// (`ResolverOptions.validator`).
    settings: jwt::ValidatorBuilder,
    capacity: usize,
    /// Shared with the settle callbacks of offloaded checks (`crate::offload`).
    objects: Rc<RefCell<Objects>>,
}

impl ObjectFinalize for Validator {
    fn finalize(self, env: Env) -> Result<()> {
        error::entry(&env, "Validator finalizer", || {
            // In use only if a GC during a Promise callback of this validator finalizes it:
            // that callback keeps the map (it holds the last `Rc`), which remembers no more.
            let Ok(mut objects) = self.objects.try_borrow_mut() else {
                return Ok(());
            };
            objects.closed = true;
            objects.clear(&env)
        })
    }
}

#[napi]
impl Validator {
    /// Checks the options and builds the validator; no network request is made. Throws
    /// `RUNBEAM_INVALID_ARGUMENT` without trusted issuers or JWKS URL, for an insecure or
    /// malformed URL, an unknown algorithm or inconsistent timings.
    #[napi(constructor)]
    pub fn new(env: &Env, options: ValidatorOptions) -> Result<Self> {
        error::entry(env, "new Validator", || {
            let mut b = jwt::Validator::builder().language("node");
            for issuer in options.trusted_issuers.unwrap_or_default() {
                b = b.trusted_issuer(issuer);
            }
            if let Some(url) = options.jwks_url {
                b = b.jwks_url(url);
            }
            if let Some(names) = options.algorithms {
                let algorithms = names
                    .iter()
                    .map(|name| error::core(env, || name.parse::<Algorithm>()))
                    .collect::<Result<Vec<_>>>()?;
                b = b.algorithms(algorithms);
            }
            for audience in options.audiences.unwrap_or_default() {
                b = b.audience(audience);
            }
            for claim in options.required_claims.unwrap_or_default() {
                b = b.required_claim(claim);
            }
            if let Some(Milliseconds(leeway)) = options.leeway_ms {
                b = b.leeway(leeway);
            }
            if let Some(Milliseconds(ttl)) = options.jwks_ttl_ms {
                b = b.jwks_ttl(ttl);
            }
            if let Some(Milliseconds(interval)) = options.min_refresh_interval_ms {
                b = b.min_refresh_interval(interval);
            }
            if let Some(Milliseconds(max_stale)) = options.max_stale_ms {
                b = b.max_stale(max_stale);
            }
            let mut capacity = DEFAULT_CACHE_CAPACITY;
            if let Some(Count(n)) = options.cache_capacity {
                capacity = usize::try_from(n).unwrap_or(usize::MAX);
                b = b.cache_capacity(capacity);
            }
            if let Some(allow) = options.allow_insecure_http {
                b = b.allow_insecure_http(allow);
            }
            if let Some(Milliseconds(deadline)) = options.deadline_ms {
                b = b.deadline(deadline);
            }
            if let Some(pem) = options.ca_bundle_pem {
                b = b.ca_bundle_pem(pem);
            }
            let settings = b.clone();
            let inner = error::core(env, || b.build())?;
            Ok(Validator {
                inner,
                settings,
                capacity,
                objects: Rc::new(RefCell::new(Objects::default())),
            })
        })
    }

    /// The JWKS URLs keys are fetched from, in configuration order.
    #[napi(getter)]
    pub fn jwks_urls(&self, env: &Env) -> Result<Vec<String>> {
        error::entry(env, "Validator.jwksUrls", || Ok(self.inner.jwks_urls()))
    }

    /// The trusted issuers, normalised.
    #[napi(getter)]
    pub fn trusted_issuers(&self, env: &Env) -> Result<Vec<String>> {
        error::entry(env, "Validator.trustedIssuers", || {
            Ok(self.inner.trusted_issuers().to_vec())
        })
    }

    /// Verifies `token` with the keys already fetched, without any I/O: the claims, or `null`
    /// when keys must be fetched first (then use `validate`, or call `refreshKeys` at
    /// start-up). Throws `RUNBEAM_JWT_INVALID`, `RUNBEAM_JWT_EXPIRED` or
    /// `RUNBEAM_UNTRUSTED_ISSUER`.
    ///
    /// ```js
    /// const claims = validator.validateCached(token) ?? (await validator.validate(token))
    /// ```
    #[napi]
    pub fn validate_cached(&self, env: &Env, token: arg::JsString<'_>) -> Result<Option<Claims>> {
        error::entry(env, "Validator.validateCached", || {
            let outcome = token.with_str(|token| self.inner.validate_cached(token))?;
            self.cached(env, outcome)
        })
    }

    /// `validateCached` plus the mesh-token checks: `aud` is `mesh:<meshId>`, the `mesh_id`
    /// claim matches, and `destinationUrl` (the URL being served, when given) lies under the
    /// token's `dest_url`. `null` when keys must be fetched first.
    #[napi]
    pub fn verify_mesh_token_cached(
        &self,
        env: &Env,
        token: arg::JsString<'_>,
        mesh_id: arg::String,
        destination_url: Option<arg::String>,
    ) -> Result<Option<Claims>> {
        error::entry(env, "Validator.verifyMeshTokenCached", || {
            let outcome = token.with_str(|token| {
                self.inner
                    .verify_mesh_token_cached(token, &mesh_id, destination_url.as_deref())
            })?;
            self.cached(env, outcome)
        })
    }

    /// The inbound check of a user's request, without I/O: the JWT of the `Authorization`
    /// header value `authorization` (`null`/`undefined`: the request had none) verified with
    /// the keys already fetched. The claims, or `null` when keys must be fetched first (then
    /// use `authenticate`). runbeam-core's `Validator::authenticate_attempt`, answered only
    /// when it needs no I/O.
    ///
    /// ```js
    /// const claims = validator.authenticateCached(req.headers.authorization)
    ///   ?? (await validator.authenticate(req.headers.authorization))
    /// ```
    ///
    /// @throws `RUNBEAM_JWT_INVALID` (no header, not `Bearer <token>`, a bad token),
    /// `RUNBEAM_JWT_EXPIRED`, `RUNBEAM_UNTRUSTED_ISSUER`; `refusalFor(error, 'userToken')` is
    /// the HTTP answer (401 with `WWW-Authenticate`).
    #[napi]
    pub fn authenticate_cached(
        &self,
        env: &Env,
        authorization: Option<arg::JsString<'_>>,
    ) -> Result<Option<Claims>> {
        error::entry(env, "Validator.authenticateCached", || {
            let outcome = crate::edge::with_header(&authorization, |header| {
                self.inner.authenticate_cached(header)
            })?;
            self.cached(env, outcome)
        })
    }

    /// `authenticate` (index.js): as `__validate`, for an `Authorization` header value.
    #[napi(js_name = "__authenticate", skip_typescript, strict)]
    pub fn authenticate<'env>(
        &self,
        env: &'env Env,
        authorization: Option<arg::JsString<'_>>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Claims>> {
        error::promise(env, "Validator.authenticate", || {
            crate::edge::with_header(&authorization, |header| {
                self.verify(
                    env,
                    "Validator.authenticate",
                    options.signal(),
                    self.inner.authenticate_if_remembered(header),
                    || self.inner.authenticate_attempt(header),
                    || {
                        let inner = self.inner.clone();
                        let header = header.map(|h| Zeroizing::new(h.to_owned()));
                        Box::new(move || {
                            inner.authenticate_attempt(header.as_deref().map(String::as_str))
                        })
                    },
                )
            })?
        })
    }

    /// `validate` (index.js): the claims of a token this validator verified before (its
    /// cache answers), else a Promise: the signature checked on the runtime, the key fetch, or
    /// the rejection of an error known at once (see `crate::offload`).
    #[napi(js_name = "__validate", skip_typescript, strict)]
    pub fn validate<'env>(
        &self,
        env: &'env Env,
        token: arg::JsString<'_>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Claims>> {
        error::promise(env, "Validator.validate", || {
            token.with_str(|token| {
                self.verify(
                    env,
                    "Validator.validate",
                    options.signal(),
                    self.inner.validate_if_remembered(token),
                    || self.inner.validate_attempt(token),
                    || {
                        let inner = self.inner.clone();
                        let token = Zeroizing::new(token.to_owned());
                        Box::new(move || inner.validate_attempt(&token))
                    },
                )
            })?
        })
    }

    /// `verifyMeshToken` (index.js): as `__validate`, with the mesh-token checks.
    #[napi(js_name = "__verifyMeshToken", skip_typescript, strict)]
    pub fn verify_mesh_token<'env>(
        &self,
        env: &'env Env,
        token: arg::JsString<'_>,
        mesh_id: arg::String,
        destination_url: Option<arg::String>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Claims>> {
        error::promise(env, "Validator.verifyMeshToken", || {
            token.with_str(|token| {
                self.verify(
                    env,
                    "Validator.verifyMeshToken",
                    options.signal(),
                    self.inner.verify_mesh_token_if_remembered(
                        token,
                        &mesh_id,
                        destination_url.as_deref(),
                    ),
                    || {
                        self.inner.verify_mesh_token_attempt(
                            token,
                            &mesh_id,
                            destination_url.as_deref(),
                        )
                    },
                    || {
                        let inner = self.inner.clone();
                        let token = Zeroizing::new(token.to_owned());
                        let mesh_id = str::to_owned(&mesh_id);
                        let destination_url = destination_url.as_deref().map(str::to_owned);
                        Box::new(move || {
                            inner.verify_mesh_token_attempt(
                                &token,
                                &mesh_id,
                                destination_url.as_deref(),
                            )
                        })
                    },
                )
            })?
        })
    }

    /// Fetches every JWKS now (at start-up, so the first request does not wait); respects the
    /// minimum refresh interval. Rejects with the fetch's error (`RUNBEAM_TRANSPORT`, …);
    /// `options.signal` aborts the fetch.
    #[napi(strict)]
    pub fn refresh_keys<'env>(
        &self,
        env: &'env Env,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, ()>> {
        error::promise(env, "Validator.refreshKeys", || {
            let inner = self.inner.clone();
            crate::promise::spawn(
                env,
                "Validator.refreshKeys",
                options.signal(),
                async move { inner.refresh_keys().await },
                |()| (),
            )
        })
    }

    /// Forgets every verified token (keys stay cached): the next validation of any token
    /// checks its signature again.
    #[napi]
    pub fn flush_token_cache(&self, env: &Env) -> Result<()> {
        error::entry(env, "Validator.flushTokenCache", || {
            self.inner.flush_token_cache();
            self.objects.borrow_mut().clear(env)
        })
    }

    /// Verified tokens currently remembered.
    #[napi(getter)]
    pub fn cached_tokens(&self, env: &Env) -> Result<u32> {
        error::entry(env, "Validator.cachedTokens", || {
            Ok(u32::try_from(self.inner.cached_tokens()).unwrap_or(u32::MAX))
        })
    }

    /// Counters since the validator was built: cache hits, signatures checked, JWKS fetches
    /// (and failed ones), refusals by error kind, and the verified tokens remembered now
    /// (`prometheusText` renders them).
    ///
    /// ```js
    /// const { cacheHits, verifications, failures } = validator.stats()
    /// failures.JwtExpired // expired tokens refused so far (absent when none)
    /// ```
    #[napi]
    pub fn stats(&self, env: &Env) -> Result<ValidatorStats> {
        error::entry(env, "Validator.stats", || Ok(self.inner.stats().into()))
    }
}

impl Validator {
    /// The JavaScript object for verified claims: the one built before for this `Arc`, or a
    /// new one.
    fn object(&self, env: &Env, claims: Arc<CoreClaims>) -> Result<Claims> {
        self.objects
            .borrow_mut()
            .get(env, claims, self.capacity)
            .map(Claims)
    }

    /// The answer of a cache-only call: `null` (keys must be fetched), the claims, or the
    /// coded error thrown.
    fn cached(
        &self,
        env: &Env,
        outcome: Option<runbeam_core::Result<Arc<CoreClaims>>>,
    ) -> Result<Option<Claims>> {
        outcome
            .map(|result| {
                result
                    .map_err(|e| error::from_core(env, &e))
                    .and_then(|claims| self.object(env, claims))
            })
            .transpose()
    }

    /// The answer of a cached-then-fetch validation: the claims of a token the core's cache
    /// remembers (`remembered`: the core's one-pass `…_if_remembered` answer for the call), else
    /// a Promise: the core's step `offload` on a verify thread (on the runtime, aborted by
    /// `signal`, when one is given), see `crate::offload`.
    fn verify<'env>(
        &self,
        env: &'env Env,
        function: &'static str,
        signal: Option<AbortSignal>,
        remembered: Option<runbeam_core::Result<Arc<CoreClaims>>>,
        inline: impl FnOnce() -> Attempt<Arc<CoreClaims>>,
        offload: impl FnOnce() -> offload::Step<Arc<CoreClaims>>,
    ) -> Result<Answer<'env, Claims>> {
        let (objects, capacity) = (Rc::clone(&self.objects), self.capacity);
        offload::verify(
            env,
            function,
            signal,
            remembered,
            inline,
            offload,
            |claims| self.object(env, claims),
            move |env, claims| objects.borrow_mut().get(env, claims, capacity).map(Claims),
        )
    }

    /// The settings it was built with (`ResolverOptions.validator`).
    pub(crate) fn settings(&self) -> &jwt::ValidatorBuilder {
        &self.settings
    }

    /// The core validator (`prometheusText`).
    pub(crate) fn core(&self) -> &jwt::Validator {
        &self.inner
    }
}

/// `Claims.apiBaseUrl()` (index.js) of the claims whose `iss` is `iss`: runbeam-core's
/// `Claims::api_base_url`, the origin of the issuer. Throws `RUNBEAM_INVALID_ARGUMENT` when it
/// is missing or not an http(s) URL with a host.
#[napi(js_name = "__apiBaseUrl", skip_typescript)]
pub fn api_base_url(env: &Env, iss: Option<arg::String>) -> Result<String> {
    error::entry(env, "Claims.apiBaseUrl", || {
        let iss = iss.map(String::from);
        error::core(env, || api_base_url_of(iss.as_deref()))
    })
}

/// The token of an `Authorization` header value: scheme `Bearer` (any case), one token.
/// Throws `RUNBEAM_JWT_INVALID` otherwise (the message never quotes the header).
///
/// ```js
/// const token = parseBearer(req.headers.authorization)
/// ```
#[napi]
pub fn parse_bearer(env: &Env, header: arg::String) -> Result<String> {
    error::entry(env, "parseBearer", || {
        error::core(env, || jwt::parse_bearer(&header).map(str::to_owned))
    })
}
