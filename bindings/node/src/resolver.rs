//! `Resolver`: runbeam-core's reference resolver and mesh-token source (docs/spec.md §6) for
//! JavaScript, with `Resolution` and `IssuedMeshToken`.
//!
//! Every rule (mesh context, cache and TTL, single-flight, stale answers, mesh-token reuse and
//! verification) is runbeam-core's; this module converts arguments, results and errors.
//!
//! **Hot path.** A gateway resolves a reference per request, so `resolveCached` calls the core's
//! cached path ([`runbeam_core::resolve::Resolver::resolve_cached`]) directly on the JS thread:
//! no I/O, `null` when a request is needed, a thrown coded error when the answer is an error
//! known without I/O (`NotInMesh`, …). `resolve` takes the core's cached-then-fetch step
//! (`resolve_attempt`) in one call: a cache hit is the answer itself (`index.js` wraps it in a
//! resolved Promise), a miss the request spawned on the runtime. The string is read into a
//! per-thread buffer (no allocation), as `Validator.validateCached` does.
//!
//! **Resolution objects.** The core hands out the cached answer as a shared `Arc<Resolved>`;
//! the binding builds one frozen JavaScript object per such `Arc` (and per `isStale` flag) and
//! returns it again on the next hit, so a hit creates no object. See [`Objects`]. Answers that
//! arrive through the runtime (`resolve` after a miss) go through the same map, so concurrent
//! callers of one fetch get the same object too.
//!
//! **Secrets.** An `IssuedMeshToken` keeps its token in Rust: it is read with the `token`
//! prototype getter (non-enumerable, so `for…in` skips it) or `expose()`; `toJSON()` redacts it
//! and `index.js` gives it a redacted `util.inspect` form. Errors never carry a token.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::{
    Env, Function, JsObjectValue, JsValue, Object, ObjectFinalize, ObjectRef, PromiseRaw, Result,
    ToNapiValue, Unknown,
};
use napi::sys;
use napi_derive::napi;
use runbeam_core::jwt::Claims as CoreClaims;
use runbeam_core::resolve;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::arg::{self, ClassInstance, Count, Milliseconds, Signal};
use crate::client::{Client, ResolvedResource};
use crate::config::MeshConfig;
use crate::convert::{Date, REDACTED, rfc3339};
use crate::edge::Outbound;
use crate::jwt::{Claims, Validator};
use crate::metrics::{ErrorCounts, ValidatorStats};
use crate::offload;
use crate::promise::{self, Answer};
use crate::storage::TokenManager;
use crate::{error, jwt};

/// The answer of `resolve` / `resolveCached`: the resource, who answered and when, and whether
/// it is a stale answer. Frozen: a resolver returns the same object again while the answer is
/// cached.
#[napi(object, object_from_js = false, js_name = "Resolution")]
pub struct ResolutionFields {
    /// The resource, as the Client's `resolve` gives it (`urls`, `protocol`, `mode`, ids, …).
    pub resource: ResolvedResource,
    /// The provider that answered (`'runbeam'`; `'local'` for a local reference).
    pub provider: String,
    /// When the provider answered (for a local reference: when the configuration was loaded).
    pub resolved_at: Date,
    /// Whether this is a cached answer past its TTL, served because the provider failed
    /// (transport error, timeout, 5xx, 429, malformed answer) and younger than `maxStaleMs`.
    pub is_stale: bool,
    /// Whether the reference is local, answered from the configuration.
    pub is_local: bool,
}

/// Counters of a resolver's work since it was built (`resolver.stats()`).
#[napi(object, object_from_js = false)]
pub struct ResolverStats {
    /// Resolutions answered from the cache while fresh.
    pub hits: f64,
    /// Resolutions that waited for an upstream answer (joined or started a fetch).
    pub misses: f64,
    /// Requests sent to a provider's resolve endpoint.
    pub upstream_requests: f64,
    /// Stale answers served because a provider failed.
    pub stale_served: f64,
    /// Local references answered from the configuration.
    pub local: f64,
    /// Mesh tokens requested from a provider or signed locally (a `local`-provider mesh).
    pub mesh_token_requests: f64,
    /// Resolutions and mesh-token calls that failed, by error kind (`{NotInMesh: 1,
    /// Transport: 2}`: `Transport` when no stale answer could be served; kinds never counted
    /// are absent).
    #[napi(ts_type = "Record<string, number>")]
    pub errors: ErrorCounts,
    /// References with a cached answer now (fresh or stale).
    pub cached_references: f64,
    /// Mesh tokens remembered now.
    pub cached_mesh_tokens: f64,
    /// The validators that verify mesh tokens (one per trust source of the configuration in
    /// use), summed.
    pub mesh_validation: ValidatorStats,
}

impl From<resolve::ResolverStats> for ResolverStats {
    fn from(s: resolve::ResolverStats) -> Self {
        ResolverStats {
            hits: s.hits as f64,
            misses: s.misses as f64,
            upstream_requests: s.upstream_requests as f64,
            stale_served: s.stale_served as f64,
            local: s.local as f64,
            mesh_token_requests: s.mesh_token_requests as f64,
            errors: ErrorCounts::from(s.errors),
            cached_references: s.cached_references as f64,
            cached_mesh_tokens: s.cached_mesh_tokens as f64,
            mesh_validation: s.mesh_validation.into(),
        }
    }
}

/// A napi call's status as a `Result`.
fn check(env: &Env, status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(error::internal(
            env,
            format!("cannot build the resolution object: {what} failed (napi status {status})"),
        ))
    }
}

/// `Object.freeze(value)`.
fn freeze(env: &Env, value: sys::napi_value) -> Result<()> {
    let named = |object: sys::napi_value, name: &std::ffi::CStr| -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `object` is a live object of `env`; `name` is NUL-terminated; `out` is
        // written on success.
        let status =
            unsafe { sys::napi_get_named_property(env.raw(), object, name.as_ptr(), &mut out) };
        check(env, status, "reading a property")?;
        Ok(out)
    };
    let mut global = ptr::null_mut();
    // SAFETY: `global` is written on success.
    check(
        env,
        unsafe { sys::napi_get_global(env.raw(), &mut global) },
        "napi_get_global",
    )?;
    let object = named(global, c"Object")?;
    let freeze = named(object, c"freeze")?;
    let mut result = ptr::null_mut();
    // SAFETY: `freeze` is `Object.freeze`, called with `Object` as `this` and one live value.
    let status =
        unsafe { sys::napi_call_function(env.raw(), object, freeze, 1, &value, &mut result) };
    check(env, status, "Object.freeze")
}

/// A new frozen JavaScript `Resolution` (its `resource` and `resource.urls` frozen too).
fn new_resolution(env: &Env, answer: &resolve::Resolution) -> Result<sys::napi_value> {
    let value = ResolutionFields {
        resource: ResolvedResource::from(answer.resource().clone()),
        provider: answer.provider().to_string(),
        resolved_at: Date(answer.resolved_at()),
        is_stale: answer.is_stale(),
        is_local: answer.is_local(),
    };
    // SAFETY: `env` is the live environment of this call.
    let raw = unsafe { ResolutionFields::to_napi_value(env.raw(), value) }?;
    let object = Object::from_raw(env.raw(), raw);
    let resource: Object<'_> = object.get_named_property("resource")?;
    let urls: Object<'_> = resource.get_named_property("urls")?;
    freeze(env, urls.raw())?;
    freeze(env, resource.raw())?;
    freeze(env, raw)?;
    Ok(raw)
}

/// The JavaScript objects built for the answers the core hands out, by the address of the
/// shared `Resolved` and the `stale` flag.
///
/// The map holds each `Resolution` (so the `Arc` stays alive and its address cannot be reused
/// by another answer). Answers are bounded by the configuration, but every refetch makes a new
/// `Arc`, so the map is emptied when it reaches [`Objects::limit`] (objects are then built
/// again on the next hit: amortised O(1)).
#[derive(Default)]
struct Objects {
    map: HashMap<(usize, bool), (resolve::Resolution, ObjectRef<false>)>,
    /// Set when the resolver is finalized: answers arriving later are not remembered.
    closed: bool,
}

impl Objects {
    const MIN_LIMIT: usize = 256;

    fn limit(cached: usize) -> usize {
        Self::MIN_LIMIT.max(cached.saturating_mul(4))
    }

    /// The object for `answer`: the one built before for its `Arc`, or a new one, remembered.
    fn get(
        &mut self,
        env: &Env,
        answer: resolve::Resolution,
        cached: impl FnOnce() -> usize,
    ) -> Result<sys::napi_value> {
        let key = (
            ptr::from_ref(answer.resolve_result()) as usize,
            answer.is_stale(),
        );
        if let Some((_, object)) = self.map.get(&key) {
            return Ok(object.get_value(env)?.raw());
        }
        let raw = new_resolution(env, &answer)?;
        if self.closed {
            return Ok(raw);
        }
        if self.map.len() >= Self::limit(cached()) {
            self.clear(env)?;
        }
        let object = Object::from_raw(env.raw(), raw).create_ref::<false>()?;
        self.map.insert(key, (answer, object));
        Ok(raw)
    }

    fn clear(&mut self, env: &Env) -> Result<()> {
        for (_, (_, object)) in self.map.drain() {
            object.unref(env)?;
        }
        Ok(())
    }
}

/// The object for `answer` from `objects`; a new, unremembered one if `objects` is in use (only
/// when JavaScript code run while building an object, a patched `Object.freeze`, calls back
/// into the resolver).
fn object_for(
    env: &Env,
    objects: &RefCell<Objects>,
    answer: resolve::Resolution,
    resolver: &resolve::Resolver,
) -> Result<sys::napi_value> {
    match objects.try_borrow_mut() {
        Ok(mut objects) => objects.get(env, answer, || resolver.cached_references()),
        Err(_) => new_resolution(env, &answer),
    }
}

/// A JavaScript `Resolution` object (frozen; a resolver returns the same one again while the
/// answer is cached).
pub struct Resolution(sys::napi_value);

impl ToNapiValue for Resolution {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

/// A mesh token from `resolver.meshToken()`, verified before it was handed out: send `token`
/// as `Authorization: Bearer` to the destination. The token is not an own property: read it
/// with `issued.token` or `issued.expose()`; `util.inspect`, `console.log` and `JSON.stringify`
/// show `'***'` instead, and `for…in` skips it.
///
/// ```js
/// const issued = await resolver.meshToken('imaging-integration', `${url}/studies`)
/// await fetch(`${url}/studies`, { headers: { authorization: `Bearer ${issued.token}` } })
/// issued.claims.all.dest_url // 'https://dicom.radiology.example.com/studies'
/// ```
#[napi]
pub struct IssuedMeshToken {
    inner: Arc<resolve::IssuedMeshToken>,
}

#[napi]
impl IssuedMeshToken {
    /// The mesh token, a JWT (a non-enumerable prototype getter: never shown, nor copied by
    /// `for…in`).
    #[napi(getter, enumerable = false)]
    pub fn token(&self, env: &Env) -> Result<String> {
        error::entry(env, "IssuedMeshToken.token", || {
            Ok(self.inner.token.token.expose().to_string())
        })
    }

    /// The token itself, same as `token`.
    #[napi]
    pub fn expose(&self, env: &Env) -> Result<String> {
        error::entry(env, "IssuedMeshToken.expose", || self.token(env))
    }

    /// When it expires.
    #[napi(getter)]
    pub fn expires_at(&self, env: &Env) -> Result<Date> {
        error::entry(env, "IssuedMeshToken.expiresAt", || {
            Ok(Date(self.inner.token.expires_at))
        })
    }

    /// The Cloud's id of the mesh.
    #[napi(getter)]
    pub fn mesh_id(&self, env: &Env) -> Result<String> {
        error::entry(env, "IssuedMeshToken.meshId", || {
            Ok(self.inner.token.mesh_id.clone())
        })
    }

    /// The mesh's name in the configuration.
    #[napi(getter)]
    pub fn mesh(&self, env: &Env) -> Result<String> {
        error::entry(env, "IssuedMeshToken.mesh", || Ok(self.inner.mesh.clone()))
    }

    /// Its verified claims (`sub`, `aud`, `exp`, `jti`; `claims.all` has `dest_url`,
    /// `source_team`, `mesh_id`, …).
    #[napi(getter)]
    pub fn claims(&self, env: &Env) -> Result<Claims> {
        error::entry(env, "IssuedMeshToken.claims", || {
            jwt::new_claims(env, &self.inner.claims).map(Claims)
        })
    }

    /// The fields with the token redacted (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self, env: &Env) -> Result<Map<String, Value>> {
        error::entry(env, "IssuedMeshToken.toJSON", || {
            let mut map = Map::new();
            map.insert("token".into(), REDACTED.into());
            map.insert(
                "expiresAt".into(),
                rfc3339(self.inner.token.expires_at).into(),
            );
            map.insert("meshId".into(), self.inner.token.mesh_id.clone().into());
            map.insert("mesh".into(), self.inner.mesh.clone().into());
            map.insert(
                "claims".into(),
                Value::Object(self.inner.claims.all().clone()),
            );
            Ok(map)
        })
    }
}

/// Resolves mesh resource references (docs/spec.md §6) and obtains mesh tokens, with a cache in front
/// of the Cloud.
///
/// - Local references are answered from the configuration.
/// - Remote references are resolved only when an enabled mesh lists them
///   (`RUNBEAM_NOT_IN_MESH` otherwise, before any request) and only for configured providers
///   (`RUNBEAM_UNKNOWN_PROVIDER`).
/// - Answers are cached by canonical reference for the provider's `cache_ttl_secs`; however many
///   callers miss at once, one request goes upstream.
/// - `RUNBEAM_NOT_FOUND`, `RUNBEAM_PERMISSION_DENIED` and `RUNBEAM_UNAUTHORIZED` are returned
///   and never cached. When the provider fails (transport, timeout, 5xx, 429, malformed
///   answer), the last answer is served with `isStale: true` while younger than `maxStaleMs`
///   (default 3600000); after that the error is returned.
///
/// ```js
/// const config = MeshConfig.fromFile('gateway.toml')
/// const client = new Client('https://api.runbeam.io')
/// const tokenManager = new TokenManager({ instanceId: 'analytics-gw-1', store: await openTokenStore(),
///   client, credential: process.env.RUNBEAM_SANCTUM_TOKEN })
/// const resolver = new Resolver({ config, client, tokenManager })
/// resolver.validateStartup()
///
/// const dicom = resolver.resolveCached(ref) ?? (await resolver.resolve(ref))
/// const issued = await resolver.meshToken('imaging-integration', `${dicom.resource.urls[0]}/studies`)
/// ```
#[napi(custom_finalize)]
pub struct Resolver {
    inner: resolve::Resolver,
    objects: Rc<RefCell<Objects>>,
}

impl Resolver {
    /// The core resolver (stats for `prometheusText`, the watcher).
    pub(crate) fn core(&self) -> &resolve::Resolver {
        &self.inner
    }

    /// The JavaScript object for `answer` (see [`object_for`]).
    fn object(&self, env: &Env, answer: resolve::Resolution) -> Result<Resolution> {
        object_for(env, &self.objects, answer, &self.inner).map(Resolution)
    }
}

impl ObjectFinalize for Resolver {
    fn finalize(self, env: Env) -> Result<()> {
        error::entry(&env, "Resolver finalizer", || {
            // In use only if a GC during a Promise callback of this resolver finalizes it: that
            // callback's map then keeps its few objects (it holds the last `Rc`).
            let Ok(mut objects) = self.objects.try_borrow_mut() else {
                return Ok(());
            };
            objects.closed = true;
            objects.clear(&env)
        })
    }
}

/// Options of `new Resolver(options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ResolverOptions {
    /// The gateway's mesh configuration (check it with `validateStartup()`).
    pub config: ClassInstance<MeshConfig>,
    /// The HTTP settings (timeouts, retries, CA bundle, `allowInsecureHttp`) used for every
    /// provider, each at its own `api` URL; the client's own URL and token are not used.
    pub client: ClassInstance<Client>,
    /// Supplies the gateway's machine token (resolving, mesh tokens; verification needs
    /// none).
    pub token_manager: ClassInstance<TokenManager>,
    /// Serve a stale answer at most this old when the provider fails (default 3600000).
    pub max_stale_ms: Option<Milliseconds>,
    /// Renew a cached mesh token this long before it expires (default 30000).
    pub mesh_token_margin_ms: Option<Milliseconds>,
    /// Mesh tokens remembered at most, one per mesh and destination URL (default 1024).
    pub mesh_token_capacity: Option<Count>,
    /// The settings of the validators that verify mesh tokens: a `Validator` whose leeway,
    /// algorithms, required claims, JWKS timings, cache capacity, deadline, `caBundlePem` and
    /// `allowInsecureHttp` are used. Its trust is not: its trusted issuers, `jwksUrl` and
    /// audiences are dropped, each mesh's provider (and `jwks_url`) is trusted with
    /// `aud = mesh:<id>`. Default: a `Validator`'s defaults.
    pub validator: Option<ClassInstance<Validator>>,
}

arg::object!(ResolverOptions {
    config,
    client,
    token_manager,
    max_stale_ms,
    mesh_token_margin_ms,
    mesh_token_capacity,
    validator,
});

#[napi]
impl Resolver {
    /// A resolver of `options.config`'s references. Nothing is fetched and the configuration
    /// is not validated here: call `validateStartup()` to refuse one with problems.
    ///
    /// @throws `RUNBEAM_INVALID_ARGUMENT` for a missing or wrongly typed option;
    /// `RUNBEAM_CONFIG` when a provider's API URL or a mesh's `jwks_url` cannot be used.
    #[napi(constructor)]
    pub fn new(env: &Env, options: ResolverOptions) -> Result<Self> {
        error::entry(env, "new Resolver", || {
            let mut builder = resolve::Resolver::builder(
                options.config.core().clone(),
                options.client.core().clone(),
                options.token_manager.core(),
            );
            if let Some(Milliseconds(max_stale)) = options.max_stale_ms {
                builder = builder.max_stale(max_stale);
            }
            if let Some(Milliseconds(margin)) = options.mesh_token_margin_ms {
                builder = builder.mesh_token_margin(margin);
            }
            if let Some(Count(capacity)) = options.mesh_token_capacity {
                builder =
                    builder.mesh_token_capacity(usize::try_from(capacity).unwrap_or(usize::MAX));
            }
            if let Some(validator) = options.validator {
                builder = builder.validator(validator.settings().clone());
            }
            let inner = error::core(env, || builder.build())?;
            Ok(Resolver {
                inner,
                objects: Rc::new(RefCell::new(Objects::default())),
            })
        })
    }

    /// Checks the configuration in use (docs/spec.md §2.2), nothing fetched.
    ///
    /// @throws `RUNBEAM_CONFIG` whose `problems` list every problem with its TOML path.
    #[napi]
    pub fn validate_startup(&self, env: &Env) -> Result<()> {
        error::entry(env, "Resolver.validateStartup", || {
            error::core(env, || self.inner.validate_startup())
        })
    }

    /// The answer for `reference` without I/O: the `Resolution` when it is known now (a fresh
    /// cached answer or a local reference), `null` when a request is needed (then use
    /// `resolve`).
    ///
    /// ```js
    /// const dicom = resolver.resolveCached(ref) ?? (await resolver.resolve(ref))
    /// ```
    ///
    /// @throws the errors known without I/O: `RUNBEAM_INVALID_REFERENCE`,
    /// `RUNBEAM_NOT_IN_MESH`, `RUNBEAM_UNKNOWN_PROVIDER`, `RUNBEAM_NOT_FOUND` (a local name the
    /// configuration does not define); `RUNBEAM_INVALID_ARGUMENT` for a value that is neither a
    /// string nor a `Reference`.
    #[napi]
    pub fn resolve_cached(
        &self,
        env: &Env,
        reference: arg::ReferenceLike<'_>,
    ) -> Result<Option<Resolution>> {
        error::entry(env, "Resolver.resolveCached", || {
            let outcome = reference.with_text(|text| self.inner.resolve_cached(text))?;
            outcome
                .map(|answer| {
                    answer
                        .map_err(|e| error::from_core(env, &e))
                        .and_then(|answer| self.object(env, answer))
                })
                .transpose()
        })
    }

    /// `resolve` (index.js): the `Resolution` when it is known now, else a Promise (the
    /// request, or the rejection of an error known at once).
    #[napi(js_name = "__resolve", skip_typescript, strict)]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        reference: arg::ReferenceLike<'_>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Resolution>> {
        error::promise(env, "Resolver.resolve", || {
            let objects = Rc::clone(&self.objects);
            let resolver = self.inner.clone();
            promise::attempt(
                env,
                "Resolver.resolve",
                options.signal(),
                || reference.with_text(|text| self.inner.resolve_attempt(text)),
                |answer| self.object(env, answer),
                move |env, answer| object_for(env, &objects, answer, &resolver).map(Resolution),
            )
        })
    }

    /// A mesh token to call `destinationUrl` through `mesh` (its configuration name or Cloud
    /// id): a cached one until `meshTokenMarginMs` before it expires, else a new one from the
    /// provider (one request however many callers wait), verified before it is handed out.
    ///
    /// Rejects with `RUNBEAM_NOT_IN_MESH` for a mesh that is not configured or not enabled,
    /// `RUNBEAM_INVALID_ARGUMENT` for a destination that is not an http(s) URL, the provider's
    /// errors (`RUNBEAM_PERMISSION_DENIED` says which rule failed) and the validator's errors.
    /// `options.signal` rejects the Promise at once; the request for the token, shared by
    /// every caller waiting for it, goes on and its token is cached.
    #[napi(strict)]
    pub fn mesh_token<'env>(
        &self,
        env: &'env Env,
        mesh: arg::String,
        destination_url: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, IssuedMeshToken>> {
        error::promise(env, "Resolver.meshToken", || {
            let inner = self.inner.clone();
            crate::promise::spawn(
                env,
                "Resolver.meshToken",
                options.signal(),
                async move { inner.mesh_token(&mesh, &destination_url).await },
                |inner| IssuedMeshToken { inner },
            )
        })
    }

    /// The receiving side, without I/O: verifies a mesh token presented for `mesh` (its
    /// configuration name or Cloud id) with the keys already fetched — signature, trusted
    /// issuer (the mesh's provider), `aud = mesh:<id>`, `mesh_id`, expiry and, when
    /// `destinationUrl` (the URL being served) is given, that it lies under the token's
    /// `dest_url`. `null` when keys must be fetched first (then use `verifyMeshToken`).
    ///
    /// @throws `RUNBEAM_NOT_IN_MESH` for an unknown mesh, `RUNBEAM_JWT_INVALID`,
    /// `RUNBEAM_JWT_EXPIRED`, `RUNBEAM_UNTRUSTED_ISSUER`.
    #[napi]
    pub fn verify_mesh_token_cached(
        &self,
        env: &Env,
        token: arg::JsString<'_>,
        mesh: arg::String,
        destination_url: Option<arg::String>,
    ) -> Result<Option<Claims>> {
        error::entry(env, "Resolver.verifyMeshTokenCached", || {
            token
                .with_str(|token| {
                    self.inner
                        .verify_mesh_token_cached(token, &mesh, destination_url.as_deref())
                })
                .and_then(|outcome| cached_claims(env, outcome))
        })
    }

    /// `verifyMeshToken` (index.js): the claims when the keys are cached, else a Promise.
    #[napi(js_name = "__verifyMeshToken", skip_typescript, strict)]
    pub fn verify_mesh_token<'env>(
        &self,
        env: &'env Env,
        token: arg::JsString<'_>,
        mesh: arg::String,
        destination_url: Option<arg::String>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Claims>> {
        error::promise(env, "Resolver.verifyMeshToken", || {
            let build =
                |env: &Env, claims: Arc<CoreClaims>| jwt::new_claims(env, &claims).map(Claims);
            token.with_str(|token| {
                offload::verify(
                    env,
                    "Resolver.verifyMeshToken",
                    options.signal(),
                    self.inner.verify_mesh_token_if_remembered(
                        token,
                        &mesh,
                        destination_url.as_deref(),
                    ),
                    || {
                        self.inner.verify_mesh_token_attempt(
                            token,
                            &mesh,
                            destination_url.as_deref(),
                        )
                    },
                    || {
                        let inner = self.inner.clone();
                        let token = Zeroizing::new(token.to_owned());
                        let mesh = str::to_owned(&mesh);
                        let destination_url = destination_url.as_deref().map(str::to_owned);
                        Box::new(move || {
                            inner.verify_mesh_token_attempt(
                                &token,
                                &mesh,
                                destination_url.as_deref(),
                            )
                        })
                    },
                    |claims| build(env, claims),
                    build,
                )
            })?
        })
    }

    /// The receiving side of a request, as a middleware sees it, without I/O: the mesh token
    /// of the `Authorization` header value `authorization` (`null`/`undefined`: the request had
    /// none) verified for `mesh` and, when given, `servedUrl` (see `verifyMeshTokenCached`).
    /// The claims, or `null` when keys must be fetched first (then use `verifyMeshRequest`).
    /// runbeam-core's `Resolver::verify_mesh_request_attempt`, answered only when it needs no
    /// I/O.
    ///
    /// @throws `RUNBEAM_JWT_INVALID` (no header, not `Bearer <token>`, a bad token, a
    /// `servedUrl` outside the token's `dest_url`), `RUNBEAM_JWT_EXPIRED`,
    /// `RUNBEAM_UNTRUSTED_ISSUER`, `RUNBEAM_NOT_IN_MESH` for an unknown mesh;
    /// `refusalFor(error, 'meshToken')` is the HTTP answer.
    #[napi]
    pub fn verify_mesh_request_cached(
        &self,
        env: &Env,
        authorization: Option<arg::JsString<'_>>,
        mesh: arg::String,
        served_url: Option<arg::String>,
    ) -> Result<Option<Claims>> {
        error::entry(env, "Resolver.verifyMeshRequestCached", || {
            crate::edge::with_header(&authorization, |header| {
                self.inner
                    .verify_mesh_request_cached(header, &mesh, served_url.as_deref())
            })
            .and_then(|outcome| cached_claims(env, outcome))
        })
    }

    /// `verifyMeshRequest` (index.js): the claims when the keys are cached, else a Promise.
    #[napi(js_name = "__verifyMeshRequest", skip_typescript, strict)]
    pub fn verify_mesh_request<'env>(
        &self,
        env: &'env Env,
        authorization: Option<arg::JsString<'_>>,
        mesh: arg::String,
        served_url: Option<arg::String>,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Claims>> {
        error::promise(env, "Resolver.verifyMeshRequest", || {
            let build =
                |env: &Env, claims: Arc<CoreClaims>| jwt::new_claims(env, &claims).map(Claims);
            crate::edge::with_header(&authorization, |header| {
                offload::verify(
                    env,
                    "Resolver.verifyMeshRequest",
                    options.signal(),
                    self.inner.verify_mesh_request_if_remembered(
                        header,
                        &mesh,
                        served_url.as_deref(),
                    ),
                    || {
                        self.inner
                            .verify_mesh_request_attempt(header, &mesh, served_url.as_deref())
                    },
                    || {
                        let inner = self.inner.clone();
                        let header = header.map(|h| Zeroizing::new(h.to_owned()));
                        let mesh = str::to_owned(&mesh);
                        let served_url = served_url.as_deref().map(str::to_owned);
                        Box::new(move || {
                            inner.verify_mesh_request_attempt(
                                header.as_deref().map(String::as_str),
                                &mesh,
                                served_url.as_deref(),
                            )
                        })
                    },
                    |claims| build(env, claims),
                    build,
                )
            })?
        })
    }

    /// Everything to send a request for `path` (with its query) to the resource `reference`
    /// through the mesh, without I/O: the `Outbound` when the resolution and the mesh token are
    /// cached, `null` when a request is needed (then use `outbound`).
    ///
    /// ```js
    /// const out = resolver.outboundCached(ref, '/studies') ?? (await resolver.outbound(ref, '/studies'))
    /// ```
    ///
    /// @throws the errors known without I/O: `RUNBEAM_INVALID_REFERENCE`,
    /// `RUNBEAM_NOT_IN_MESH`, `RUNBEAM_UNKNOWN_PROVIDER`, `RUNBEAM_INVALID_ARGUMENT` (a path
    /// that would leave the resource's URL, a resource without a URL);
    /// `refusalFor(error, 'outbound')` is the HTTP answer.
    #[napi]
    pub fn outbound_cached(
        &self,
        env: &Env,
        reference: arg::ReferenceLike<'_>,
        path: arg::JsString<'_>,
    ) -> Result<Option<Outbound>> {
        error::entry(env, "Resolver.outboundCached", || {
            let outcome = reference.with_text(|reference| {
                path.with_str(|path| self.inner.outbound_cached(reference, path))
            })??;
            outcome
                .map(|answer| {
                    answer
                        .map(Outbound::from)
                        .map_err(|e| error::from_core(env, &e))
                })
                .transpose()
        })
    }

    /// `outbound` (index.js): the `Outbound` when it is known now, else a Promise.
    #[napi(js_name = "__outbound", skip_typescript, strict)]
    pub fn outbound<'env>(
        &self,
        env: &'env Env,
        reference: arg::ReferenceLike<'_>,
        path: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<Answer<'env, Outbound>> {
        error::promise(env, "Resolver.outbound", || {
            promise::attempt(
                env,
                "Resolver.outbound",
                options.signal(),
                || reference.with_text(|reference| self.inner.outbound_attempt(reference, &path)),
                |answer| Ok(Outbound::from(answer)),
                |_, answer| Ok(Outbound::from(answer)),
            )
        })
    }

    /// Forgets the cached answer for `reference` (any spelling); the next `resolve` asks the
    /// provider. Returns whether an answer was dropped.
    ///
    /// @throws `RUNBEAM_INVALID_REFERENCE`, `RUNBEAM_INVALID_ARGUMENT`.
    #[napi]
    pub fn invalidate(&self, env: &Env, reference: arg::ReferenceLike<'_>) -> Result<bool> {
        error::entry(env, "Resolver.invalidate", || {
            let outcome = reference.with_text(|text| self.inner.invalidate(text))?;
            outcome.map_err(|e| error::from_core(env, &e))
        })
    }

    /// Forgets every cached answer and mesh token.
    #[napi]
    pub fn invalidate_all(&self, env: &Env) -> Result<()> {
        error::entry(env, "Resolver.invalidateAll", || {
            self.inner.invalidate_all();
            match self.objects.try_borrow_mut() {
                Ok(mut objects) => objects.clear(env),
                Err(_) => Ok(()),
            }
        })
    }

    /// Switches to `config` (the cache is invalidated when the configuration changes): the new
    /// configuration is validated first and refused — the old one stays in use — if it has
    /// problems; cached answers of providers whose API URL or TTL changed, and of references no
    /// longer listed in an enabled mesh, are dropped, as are mesh tokens of meshes that
    /// changed.
    ///
    /// @throws `RUNBEAM_CONFIG` with every problem of the new configuration in `problems`;
    /// `RUNBEAM_INVALID_ARGUMENT` when `config` is not a `MeshConfig`.
    #[napi]
    pub fn reload(&self, env: &Env, config: ClassInstance<MeshConfig>) -> Result<()> {
        error::entry(env, "Resolver.reload", || {
            error::core(env, || self.inner.reload(config.core().clone()))
        })
    }

    /// The configuration in use (the last one `reload` accepted).
    #[napi(getter)]
    pub fn config(&self, env: &Env) -> Result<MeshConfig> {
        error::entry(env, "Resolver.config", || {
            Ok(MeshConfig::from_core(self.inner.config()))
        })
    }

    /// References with a cached answer (fresh or stale).
    #[napi(getter)]
    pub fn cached_references(&self, env: &Env) -> Result<u32> {
        error::entry(env, "Resolver.cachedReferences", || {
            Ok(u32::try_from(self.inner.cached_references()).unwrap_or(u32::MAX))
        })
    }

    /// `watch` (index.js): starts a `Watcher` delivering events to `deliver`, index.js's
    /// wrapper of `callback`.
    #[napi(js_name = "__watch", skip_typescript)]
    pub fn watch(
        &self,
        env: &Env,
        callback: Unknown<'_>,
        deliver: Option<Function<'_, crate::watch::WatchEvent, ()>>,
    ) -> Result<crate::watch::Watcher> {
        error::entry(env, "Resolver.watch", || {
            crate::watch::start(env, &self.inner, callback, deliver)
        })
    }

    /// Counters since the resolver was built, with the cache sizes now and the stats of its
    /// mesh-token validators (`prometheusText` renders them).
    ///
    /// ```js
    /// const { hits, misses, errors, meshValidation } = resolver.stats()
    /// errors.NotInMesh // 1 after a reference outside the mesh context was refused
    /// ```
    #[napi]
    pub fn stats(&self, env: &Env) -> Result<ResolverStats> {
        error::entry(env, "Resolver.stats", || Ok(self.inner.stats().into()))
    }
}

/// The answer of a cache-only mesh-token check as JavaScript sees it: `null` when keys must be
/// fetched first, the claims, or the error thrown.
fn cached_claims(
    env: &Env,
    outcome: Option<runbeam_core::Result<Arc<CoreClaims>>>,
) -> Result<Option<Claims>> {
    outcome
        .map(|claims| {
            claims
                .map_err(|e| error::from_core(env, &e))
                .and_then(|claims| jwt::new_claims(env, &claims).map(Claims))
        })
        .transpose()
}
