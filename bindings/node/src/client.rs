//! `Client`: the Runbeam Cloud API client of runbeam-core (docs/spec.md §3) for JavaScript.
//!
//! Every network call returns a `Promise` and runs on the module's tokio runtime (napi's
//! `tokio_rt`), so the event loop is never blocked. A failed call rejects with the coded
//! `Error` of [`crate::error`] (with `status`, `retryAfterMs`, `fieldErrors`). Arguments are
//! converted before anything is sent (`crate::arg`): every Promise-returning method is
//! `#[napi(strict)]`, so one of the wrong type rejects the Promise with
//! `RUNBEAM_INVALID_ARGUMENT`.
//!
//! Results are plain objects, converted from runbeam-core's types by the `From` impls below,
//! except the two that carry a secret: `AuthorizeResult` and `MeshTokenResult` are classes whose
//! token is read through a non-enumerable prototype getter or `expose()` and is never shown by
//! `util.inspect`, `JSON.stringify`, spreading or a `for…in` copy. Errors never carry a token.

use std::future::Future;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Either, Env, External, Null, PromiseRaw, Result, ToNapiValue};
use napi_derive::napi;
use runbeam_core::client::{
    AuthorizeRequest, Change as CoreChange, CollectionClient, DEFAULT_LIST_ALL_PER_PAGE,
    PageRequest, Resource as CoreResource, RetryPolicy, UpdateAction, UpdateKind,
};
use runbeam_core::{Secret, client};
use serde_json::{Map, Value};

use crate::arg::{self, AbortSignal, Count, Milliseconds, Signal};
use crate::convert::{self, Date, REDACTED, millis, rfc3339};
use crate::error;
use crate::promise::spawn;
use crate::resources::{Model, Typed, Walk, with_model};

/// Options of `new Client(apiUrl, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct ClientOptions {
    /// The bearer token: a user JWT or Sanctum token (`authorize`, `revoke`, collections)
    /// or a gateway machine token (`resolve`, `meshToken`, `baseUrl`).
    pub token: Option<String>,
    /// Time to establish a connection, TLS included (default 5000).
    pub connect_timeout_ms: Option<Milliseconds>,
    /// Time for one attempt (default 30000).
    pub request_timeout_ms: Option<Milliseconds>,
    /// Total time of one call, retries included (default: derived from the two above).
    pub deadline_ms: Option<Milliseconds>,
    /// Attempts of idempotent calls, the first included (default 3; 1 to 100, checked by
    /// runbeam-core).
    pub max_attempts: Option<Count>,
    /// PEM text of CA certificates trusted in addition to the system roots.
    pub ca_bundle_pem: Option<String>,
    /// Accept `http://` for hosts that are not loopback (default false).
    pub allow_insecure_http: Option<bool>,
    /// Largest response body read, in bytes (default 10485760, 10 MiB); a larger one rejects
    /// the call with `RUNBEAM_PROTOCOL`. At least 1 (checked by runbeam-core).
    pub max_body_bytes: Option<Count>,
}

arg::object!(ClientOptions {
    token,
    connect_timeout_ms,
    request_timeout_ms,
    deadline_ms,
    max_attempts,
    ca_bundle_pem,
    allow_insecure_http,
    max_body_bytes,
});

/// Options of `listAll(collection, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct ListAllOptions {
    /// Items per page (default 100); more than the Cloud API allows is refused before sending.
    pub per_page: Option<Count>,
    /// Aborts the page being fetched (the loop throws `RUNBEAM_CANCELLED`), as `CallOptions`.
    pub signal: Option<AbortSignal>,
}

arg::object!(ListAllOptions { per_page, signal });

/// Which page of a collection to list.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct PageOptions {
    /// 1-based page number (default 1).
    pub page: Option<Count>,
    /// Items per page (default 15); more than the Cloud API allows is refused before sending.
    pub per_page: Option<Count>,
    /// Aborts the call, as `CallOptions`.
    pub signal: Option<AbortSignal>,
}

arg::object!(PageOptions {
    page,
    per_page,
    signal
});

/// The gateway an `authorize` call granted.
#[napi(object, object_from_js = false)]
pub struct AuthorizedGateway {
    /// Gateway id.
    pub id: String,
    /// Gateway code.
    pub code: String,
    /// Gateway name.
    pub name: String,
    /// The user who authorized it, or `null` when the Cloud did not say.
    pub authorized_by: Either<AuthorizedBy, Null>,
}

/// The user who authorized a gateway (`AuthorizeResult.gateway.authorizedBy`).
#[napi(object, object_from_js = false)]
pub struct AuthorizedBy {
    /// User id.
    pub id: String,
    /// User name.
    pub name: String,
    /// User e-mail.
    pub email: String,
}

impl From<&client::AuthorizedGateway> for AuthorizedGateway {
    fn from(gateway: &client::AuthorizedGateway) -> Self {
        AuthorizedGateway {
            id: gateway.id.clone(),
            code: gateway.code.clone(),
            name: gateway.name.clone(),
            authorized_by: convert::nullable(gateway.authorized_by.as_ref().map(|by| {
                AuthorizedBy {
                    id: by.id.clone(),
                    name: by.name.clone(),
                    email: by.email.clone(),
                }
            })),
        }
    }
}

/// The answer of `authorize`. The machine token is not an own property: read it with
/// `granted.machineToken` or `granted.expose()`; `util.inspect`, `console.log`,
/// `JSON.stringify`, `Object.keys`, spreading and `for…in` never show it (`'***'` in the redacted
/// views).
///
/// ```js
/// const granted = await user.authorize('radiology-gw-1')
/// const gateway = user.withToken(granted.expose())
/// console.log(granted) // AuthorizeResult { machineToken: '***', expiresInMs: 2592000000, … }
/// ```
#[napi]
pub struct AuthorizeResult {
    inner: client::AuthorizeResult,
}

#[napi]
impl AuthorizeResult {
    /// The gateway's machine token (a non-enumerable prototype getter: never shown, nor copied
    /// by `for…in`).
    #[napi(getter, enumerable = false)]
    pub fn machine_token(&self, env: &Env) -> Result<String> {
        error::entry(env, "AuthorizeResult.machineToken", || {
            Ok(self.inner.machine_token.expose().to_string())
        })
    }

    /// The machine token itself, same as `machineToken`.
    #[napi]
    pub fn expose(&self, env: &Env) -> Result<String> {
        error::entry(env, "AuthorizeResult.expose", || self.machine_token(env))
    }

    /// Lifetime of the machine token, milliseconds.
    #[napi(getter)]
    pub fn expires_in_ms(&self, env: &Env) -> Result<f64> {
        error::entry(env, "AuthorizeResult.expiresInMs", || {
            Ok(millis(self.inner.expires_in))
        })
    }

    /// Expiry of the machine token.
    #[napi(getter)]
    pub fn expires_at(&self, env: &Env) -> Result<Date> {
        error::entry(env, "AuthorizeResult.expiresAt", || {
            Ok(Date(self.inner.expires_at))
        })
    }

    /// The gateway, and who authorized it.
    #[napi(getter)]
    pub fn gateway(&self, env: &Env) -> Result<AuthorizedGateway> {
        error::entry(env, "AuthorizeResult.gateway", || {
            Ok(AuthorizedGateway::from(&self.inner.gateway))
        })
    }

    /// What the machine token may do.
    #[napi(getter)]
    pub fn abilities(&self, env: &Env) -> Result<Vec<String>> {
        error::entry(env, "AuthorizeResult.abilities", || {
            Ok(self.inner.abilities.clone())
        })
    }

    /// The fields with the token redacted (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self, env: &Env) -> Result<Map<String, Value>> {
        error::entry(env, "AuthorizeResult.toJSON", || {
            let gateway = &self.inner.gateway;
            Ok(object(serde_json::json!({
                "machineToken": REDACTED,
                "expiresInMs": millis(self.inner.expires_in),
                "expiresAt": rfc3339(self.inner.expires_at),
                "gateway": {
                    "id": gateway.id,
                    "code": gateway.code,
                    "name": gateway.name,
                    // `{id, name, email}` (its wire form) or null.
                    "authorizedBy": gateway.authorized_by,
                },
                "abilities": self.inner.abilities,
            })))
        })
    }
}

/// The answer of `revoke`, `acknowledgeChanges`, `changeApplied` and `changeFailed`.
#[napi(object, object_from_js = false)]
pub struct Acknowledgement {
    /// Whether the server did it.
    pub success: bool,
    /// The server's message.
    pub message: Option<String>,
}

/// The answer of `baseUrl`.
#[napi(object, object_from_js = false)]
pub struct BaseUrl {
    /// The gateway's base URL.
    pub base_url: String,
    /// Path of the change feed.
    pub changes_path: Option<String>,
    /// Full URL of the change feed.
    pub full_url: Option<String>,
}

/// A resource resolved by the Cloud.
#[napi(object, object_from_js = false)]
pub struct ResolvedResource {
    /// Resource type (`ingress`, …).
    #[napi(js_name = "type")]
    pub resource_type: String,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning team id.
    pub team_id: Option<String>,
    /// Whether it is enabled.
    pub enabled: bool,
    /// URLs (ingresses).
    pub urls: Vec<String>,
    /// `http` or `http3`.
    pub protocol: Option<String>,
    /// `default` or `mesh`.
    pub mode: Option<String>,
    /// Gateway id.
    pub gateway_id: Option<String>,
    /// Pipeline id.
    pub pipeline_id: Option<String>,
    /// Mesh id.
    pub mesh_id: Option<String>,
    /// Backend id.
    pub backend_id: Option<String>,
    /// Endpoint id.
    pub endpoint_id: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// The answer of `resolve`.
#[napi(object, object_from_js = false)]
pub struct ResolveResult {
    /// The resource.
    pub resource: ResolvedResource,
    /// The provider that answered (`runbeam`).
    pub provider: String,
    /// When it was resolved.
    pub resolved_at: Date,
}

/// The answer of `meshToken`. The token is not an own property: read it with `answer.token`
/// or `answer.expose()`; `util.inspect`, `console.log`, `JSON.stringify`, `Object.keys`,
/// spreading and `for…in` never show it (`'***'` in the redacted views).
///
/// ```js
/// const answer = await gateway.meshToken('mesh-1', 'https://dicom.example.com/studies')
/// await fetch(url, { headers: { authorization: `Bearer ${answer.expose()}` } })
/// ```
#[napi]
pub struct MeshTokenResult {
    inner: client::MeshTokenResult,
}

#[napi]
impl MeshTokenResult {
    /// The mesh token, a JWT (a non-enumerable prototype getter: never shown, nor copied by
    /// `for…in`).
    #[napi(getter, enumerable = false)]
    pub fn token(&self, env: &Env) -> Result<String> {
        error::entry(env, "MeshTokenResult.token", || {
            Ok(self.inner.token.expose().to_string())
        })
    }

    /// The token itself, same as `token`.
    #[napi]
    pub fn expose(&self, env: &Env) -> Result<String> {
        error::entry(env, "MeshTokenResult.expose", || self.token(env))
    }

    /// Expiry.
    #[napi(getter)]
    pub fn expires_at(&self, env: &Env) -> Result<Date> {
        error::entry(env, "MeshTokenResult.expiresAt", || {
            Ok(Date(self.inner.expires_at))
        })
    }

    /// The mesh id.
    #[napi(getter)]
    pub fn mesh_id(&self, env: &Env) -> Result<String> {
        error::entry(env, "MeshTokenResult.meshId", || {
            Ok(self.inner.mesh_id.clone())
        })
    }

    /// The fields with the token redacted (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self, env: &Env) -> Result<Map<String, Value>> {
        error::entry(env, "MeshTokenResult.toJSON", || {
            Ok(object(serde_json::json!({
                "token": REDACTED,
                "expiresAt": rfc3339(self.inner.expires_at),
                "meshId": self.inner.mesh_id,
            })))
        })
    }
}

/// One page of a collection (`list` resolves with a `TypedPage` of the collection's model).
#[napi(object, object_from_js = false)]
pub struct Page {
    /// The resources of this page: the collection's typed model (`list('services')` gives
    /// `TypedPage<Service>`), with the server's field names and every field it sent.
    #[napi(ts_type = "Array<Resource>")]
    pub data: Vec<Typed>,
    /// This page's number.
    pub current_page: f64,
    /// The last page's number.
    pub last_page: f64,
    /// Items per page.
    pub per_page: f64,
    /// Items in all pages.
    pub total: f64,
}

/// Options of `updateConfig(type, config, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct UpdateConfigOptions {
    /// The id of an earlier pushed configuration to replace; without it one is created.
    pub id: Option<String>,
    /// Aborts the call, as `CallOptions` (the server may still have taken a request already
    /// sent).
    pub signal: Option<AbortSignal>,
}

arg::object!(UpdateConfigOptions { id, signal });

/// Options of `authorize(gatewayCode, options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[derive(Default)]
pub struct AuthorizeOptions {
    /// Free-form strings recorded with the authorization (e.g. `['node 20', 'site=lab']`).
    pub metadata: Option<Vec<String>>,
    /// The gateway's public key, when it has one; the Cloud stores it with the gateway
    /// (`machine_public_key`).
    pub machine_public_key: Option<String>,
    /// Aborts the call, as `CallOptions` (the server may still have taken a request already
    /// sent).
    pub signal: Option<AbortSignal>,
}

arg::object!(AuthorizeOptions {
    metadata,
    machine_public_key,
    signal
});

arg::with_signal!(
    ListAllOptions,
    PageOptions,
    UpdateConfigOptions,
    AuthorizeOptions
);

/// What `updateConfig` did.
#[napi(object, object_from_js = false)]
pub struct UpdatedConfig {
    /// Id of the configuration (pass it as `id` to update it again).
    pub id: String,
    /// What the configuration is.
    // String unions napi cannot derive from a `String` (`UpdateKind` is declared in
    // dts-header.d.ts, checked against the core by package.test.cjs).
    #[napi(js_name = "type", ts_type = "UpdateKind")]
    pub kind: String,
    /// Whether it was created or replaced.
    #[napi(ts_type = "'created' | 'updated'")]
    pub action: String,
}

/// The answer of `updateConfig`.
#[napi(object, object_from_js = false)]
pub struct UpdateResult {
    /// Whether the server did it.
    pub success: bool,
    /// The server's message.
    pub message: Option<String>,
    /// What was done.
    pub data: UpdatedConfig,
}

impl From<client::Acknowledgement> for Acknowledgement {
    fn from(ack: client::Acknowledgement) -> Self {
        Acknowledgement {
            success: ack.success,
            message: ack.message,
        }
    }
}

impl From<client::BaseUrl> for BaseUrl {
    fn from(b: client::BaseUrl) -> Self {
        BaseUrl {
            base_url: b.base_url,
            changes_path: b.changes_path,
            full_url: b.full_url,
        }
    }
}

impl From<client::ResolvedResource> for ResolvedResource {
    fn from(x: client::ResolvedResource) -> Self {
        ResolvedResource {
            resource_type: x.resource_type,
            id: x.id,
            name: x.name,
            team_id: x.team_id,
            enabled: x.enabled,
            urls: x.urls,
            protocol: x.protocol,
            mode: x.mode,
            gateway_id: x.gateway_id,
            pipeline_id: x.pipeline_id,
            mesh_id: x.mesh_id,
            backend_id: x.backend_id,
            endpoint_id: x.endpoint_id,
            description: x.description,
        }
    }
}

impl From<client::ResolveResult> for ResolveResult {
    fn from(r: client::ResolveResult) -> Self {
        ResolveResult {
            resource: r.resource.into(),
            provider: r.provider,
            resolved_at: Date(r.resolved_at),
        }
    }
}

impl<M: Model> From<client::Page<M>> for Page {
    fn from(page: client::Page<M>) -> Self {
        Page {
            current_page: page.meta.current_page as f64,
            last_page: page.meta.last_page as f64,
            per_page: page.meta.per_page as f64,
            total: page.meta.total as f64,
            data: page.data.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<client::UpdateResult> for UpdateResult {
    fn from(done: client::UpdateResult) -> Self {
        UpdateResult {
            success: done.success,
            message: done.message,
            data: UpdatedConfig {
                id: done.data.id,
                kind: update_kind_name(done.data.kind),
                action: match done.data.action {
                    UpdateAction::Created => "created",
                    UpdateAction::Updated => "updated",
                }
                .to_string(),
            },
        }
    }
}

/// The wire name of an update kind (`pipeline`, …), as runbeam-core serialises it.
fn update_kind_name(kind: UpdateKind) -> String {
    match serde_json::to_value(kind) {
        Ok(Value::String(name)) => name,
        _ => format!("{kind:?}").to_lowercase(),
    }
}

/// The fields of a JSON object built with `json!` (an empty map for anything else).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A change of the feed as the server sent it: `id`, `status` and every other field
/// (TypeScript `Change`, declared in `dts-header.d.ts`).
pub struct Change(Map<String, Value>);

impl From<CoreChange> for Change {
    fn from(change: CoreChange) -> Self {
        let mut object = change.extra;
        object.insert("id".into(), Value::String(change.id));
        object.insert(
            "status".into(),
            change.status.map_or(Value::Null, Value::String),
        );
        Change(object)
    }
}

convert::to_js_as_inner!(Change);

/// The Cloud's signing keys (`jwks()`).
#[napi(object, object_from_js = false)]
pub struct Jwks {
    /// The JSON Web Keys, as the server sent them.
    pub keys: Vec<Map<String, Value>>,
}

impl From<client::Jwks> for Jwks {
    fn from(jwks: client::Jwks) -> Self {
        Jwks {
            keys: jwks
                .keys
                .iter()
                .map(|key| object(serde_json::to_value(key).unwrap_or(Value::Null)))
                .collect(),
        }
    }
}

/// A Runbeam Cloud API client (docs/spec.md §3). Cheap to copy with `withToken`.
///
/// ```js
/// const user = new Client('http://127.0.0.1:8080', { token: '1|secret' })
/// const granted = await user.authorize('radiology-gw-1')
/// const gateway = user.withToken(granted.machineToken)
/// const resolved = await gateway.resolve('runbeam.radiology-dept.ingress.name.dicomweb')
/// ```
#[napi]
pub struct Client {
    inner: client::Client,
}

#[napi]
impl Client {
    /// A client of the API at `apiUrl` (`/api` is appended when the URL has no path).
    ///
    /// @throws `RUNBEAM_INVALID_ARGUMENT` for a malformed or insecure URL, a zero timeout or
    /// an invalid CA bundle.
    #[napi(constructor)]
    pub fn new(env: &Env, api_url: arg::String, options: Option<ClientOptions>) -> Result<Self> {
        error::entry(env, "new Client", || {
            let options = options.unwrap_or_default();
            let mut builder = client::Client::builder(String::from(api_url)).language("node");
            if let Some(token) = options.token {
                builder = builder.token(Secret::new(token));
            }
            if let Some(Milliseconds(timeout)) = options.connect_timeout_ms {
                builder = builder.connect_timeout(timeout);
            }
            if let Some(Milliseconds(timeout)) = options.request_timeout_ms {
                builder = builder.request_timeout(timeout);
            }
            if let Some(Milliseconds(deadline)) = options.deadline_ms {
                builder = builder.deadline(deadline);
            }
            if let Some(Count(attempts)) = options.max_attempts {
                let policy =
                    error::core(env, || RetryPolicy::default().with_max_attempts(attempts))?;
                builder = builder.retry(policy);
            }
            if let Some(pem) = options.ca_bundle_pem {
                builder = builder.ca_bundle_pem(pem);
            }
            if let Some(allow) = options.allow_insecure_http {
                builder = builder.allow_insecure_http(allow);
            }
            if let Some(Count(max)) = options.max_body_bytes {
                builder = builder.max_body_bytes(usize::try_from(max).unwrap_or(usize::MAX));
            }
            let inner = error::core(env, || builder.build())?;
            Ok(Client { inner })
        })
    }

    /// The API root every path is relative to, e.g. `https://api.runbeam.io/api`.
    #[napi(getter)]
    pub fn api_root(&self, env: &Env) -> Result<String> {
        error::entry(env, "Client.apiRoot", || {
            Ok(self.inner.api_root().to_string())
        })
    }

    /// The same client (settings, connection pool) with another token.
    #[napi]
    pub fn with_token(&self, env: &Env, token: arg::String) -> Result<Client> {
        error::entry(env, "Client.withToken", || {
            Ok(Client {
                inner: self.inner.with_token(Secret::new(token.0)),
            })
        })
    }

    /// `POST /harmony/authorize` with the client's user JWT or Sanctum token: the gateway's
    /// machine token. A new code creates the gateway; another team's code rejects with
    /// `RUNBEAM_PERMISSION_DENIED` (status 403). `options.metadata` is recorded with the
    /// authorization, `options.machinePublicKey` stored with the gateway.
    ///
    /// ```js
    /// const granted = await user.authorize('radiology-gw-1', { metadata: ['node 20'], machinePublicKey })
    /// granted.gateway.authorizedBy?.email // who authorized it
    /// ```
    #[napi(strict)]
    pub fn authorize<'env>(
        &self,
        env: &'env Env,
        gateway_code: arg::String,
        options: Option<AuthorizeOptions>,
    ) -> Result<PromiseRaw<'env, AuthorizeResult>> {
        error::promise(env, "Client.authorize", || {
            let signal = options.signal();
            let options = options.unwrap_or_default();
            let mut request = AuthorizeRequest::new(gateway_code.0);
            if let Some(metadata) = options.metadata {
                request = request.metadata(metadata);
            }
            if let Some(key) = options.machine_public_key {
                request = request.machine_public_key(key);
            }
            self.call(
                env,
                "Client.authorize",
                signal,
                |c| async move { c.authorize(request).await },
                |inner| AuthorizeResult { inner },
            )
        })
    }

    /// `POST /harmony/revoke`: every machine token of the gateway stops working.
    #[napi(strict)]
    pub fn revoke<'env>(
        &self,
        env: &'env Env,
        gateway_code: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.revoke", || {
            self.call(
                env,
                "Client.revoke",
                options.signal(),
                |c| async move { c.revoke(&gateway_code).await },
                Acknowledgement::from,
            )
        })
    }

    /// `GET /harmony/resources/resolve` (machine token). An unknown reference rejects with
    /// `RUNBEAM_NOT_FOUND`; a string that is not a reference with `RUNBEAM_INVALID_REFERENCE`.
    #[napi(strict)]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        reference: arg::ReferenceLike<'_>,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, ResolveResult>> {
        error::promise(env, "Client.resolve", || {
            let reference = reference.parse(env)?;
            self.call(
                env,
                "Client.resolve",
                options.signal(),
                |c| async move { c.resolve(&reference).await },
                ResolveResult::from,
            )
        })
    }

    /// `POST /harmony/mesh/token` (machine token): a short-lived token to call
    /// `destinationUrl` through the mesh. Refused with `RUNBEAM_PERMISSION_DENIED`.
    #[napi(strict)]
    pub fn mesh_token<'env>(
        &self,
        env: &'env Env,
        mesh_id: arg::String,
        destination_url: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, MeshTokenResult>> {
        error::promise(env, "Client.meshToken", || {
            self.call(
                env,
                "Client.meshToken",
                options.signal(),
                |c| async move { c.mesh_token(&mesh_id, &destination_url).await },
                |inner| MeshTokenResult { inner },
            )
        })
    }

    /// `GET /.well-known/jwks.json` (public): the Cloud's signing keys.
    #[napi(strict)]
    pub fn jwks<'env>(
        &self,
        env: &'env Env,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Jwks>> {
        error::promise(env, "Client.jwks", || {
            self.call(
                env,
                "Client.jwks",
                options.signal(),
                |c| async move { c.jwks().await },
                Jwks::from,
            )
        })
    }

    /// `GET /harmony/base-url` (machine token).
    #[napi(strict)]
    pub fn base_url<'env>(
        &self,
        env: &'env Env,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, BaseUrl>> {
        error::promise(env, "Client.baseUrl", || {
            self.call(
                env,
                "Client.baseUrl",
                options.signal(),
                |c| async move { c.base_url().await },
                BaseUrl::from,
            )
        })
    }

    /// `GET /harmony/changes` (machine token): the gateway's pending and acknowledged
    /// configuration changes, every page of the feed. With `gatewayId`,
    /// `GET /harmony/changes/<gatewayId>` (a gateway may only read its own: another id
    /// rejects with `RUNBEAM_PERMISSION_DENIED`).
    ///
    /// ```js
    /// for (const change of await gateway.changes()) await gateway.changeApplied(change.id)
    /// ```
    #[napi(strict)]
    pub fn changes<'env>(
        &self,
        env: &'env Env,
        gateway_id: Option<arg::String>,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Vec<Change>>> {
        error::promise(env, "Client.changes", || {
            self.call(
                env,
                "Client.changes",
                options.signal(),
                |c| async move { c.changes(gateway_id.as_deref()).await },
                |changes| changes.into_iter().map(Change::from).collect(),
            )
        })
    }

    /// `GET /harmony/change/<id>` (machine token): one change of the gateway; an unknown id
    /// rejects with `RUNBEAM_NOT_FOUND`.
    #[napi(strict)]
    pub fn change<'env>(
        &self,
        env: &'env Env,
        id: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Change>> {
        error::promise(env, "Client.change", || {
            self.call(
                env,
                "Client.change",
                options.signal(),
                |c| async move { c.change(&id).await },
                Change::from,
            )
        })
    }

    /// `POST /harmony/changes/acknowledge` (machine token): marks changes as received. An id
    /// that is not one of the gateway's changes rejects with `RUNBEAM_VALIDATION`
    /// (`fieldErrors` names it). Not retried.
    #[napi(strict)]
    pub fn acknowledge_changes<'env>(
        &self,
        env: &'env Env,
        ids: arg::Vec<String>,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.acknowledgeChanges", || {
            self.call(
                env,
                "Client.acknowledgeChanges",
                options.signal(),
                |c| async move { c.acknowledge_changes(&ids.0).await },
                Acknowledgement::from,
            )
        })
    }

    /// `POST /harmony/change/<id>/applied` (machine token): the gateway applied the change. A
    /// change already applied or failed rejects with `RUNBEAM_CONFLICT`. Not retried.
    #[napi(strict)]
    pub fn change_applied<'env>(
        &self,
        env: &'env Env,
        id: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.changeApplied", || {
            self.call(
                env,
                "Client.changeApplied",
                options.signal(),
                |c| async move { c.change_applied(&id).await },
                Acknowledgement::from,
            )
        })
    }

    /// `POST /harmony/change/<id>/failed` (machine token): the gateway could not apply the
    /// change; `error` says why, `details` (any JSON value) is stored with it. A change
    /// already applied or failed rejects with `RUNBEAM_CONFLICT`. Not retried.
    #[napi(strict)]
    pub fn change_failed<'env>(
        &self,
        env: &'env Env,
        id: arg::String,
        error: arg::String,
        details: Option<arg::Value>,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.changeFailed", || {
            let details = details.map(|d| d.0);
            self.call(
                env,
                "Client.changeFailed",
                options.signal(),
                |c| async move { c.change_failed(&id, &error, details.as_ref()).await },
                Acknowledgement::from,
            )
        })
    }

    /// Updates the given fields of a resource of a collection (user token), resolving with the
    /// resource. To push a gateway, pipeline, transform or mesh configuration, see
    /// `updateConfig`.
    #[napi(
        strict,
        ts_generic_types = "C extends Collection = Collection",
        ts_args_type = "collection: C, id: string, resource: Partial<CollectionResources[C]>, options?: CallOptions | undefined | null",
        ts_return_type = "Promise<CollectionResources[C]>"
    )]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        collection: arg::Collection,
        id: arg::String,
        resource: arg::Map,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Typed>> {
        error::promise(env, "Client.update", || {
            let body = Value::Object(resource.0);
            with_model!(collection.0, M => {
                let items = self.inner.resources::<M>();
                spawn(
                    env,
                    "Client.update",
                    options.signal(),
                    async move { items.update(&id, &body).await },
                    Typed::from,
                )
            })
        })
    }

    /// `POST /harmony/update` (machine token): pushes a gateway, pipeline, transform or mesh
    /// configuration as TOML (Python: `update_config(type, config, id=None)`). Without
    /// `options.id` a configuration is created; with it, that one is replaced. Invalid TOML
    /// rejects with `RUNBEAM_VALIDATION` (`fieldErrors.config`). Not retried.
    ///
    /// ```js
    /// const config = fs.readFileSync('pipeline.toml', 'utf8')
    /// const { data } = await gateway.updateConfig('pipeline', config) // data.action: 'created'
    /// await gateway.updateConfig('pipeline', config, { id: data.id }) // data.action: 'updated'
    /// ```
    #[napi(strict)]
    pub fn update_config<'env>(
        &self,
        env: &'env Env,
        kind: arg::UpdateKind,
        config: arg::String,
        options: Option<UpdateConfigOptions>,
    ) -> Result<PromiseRaw<'env, UpdateResult>> {
        error::promise(env, "Client.updateConfig", || {
            let signal = options.signal();
            let mut request = client::UpdateRequest::new(kind.0, config.0);
            if let Some(id) = options.and_then(|o| o.id) {
                request = request.id(id);
            }
            self.call(
                env,
                "Client.updateConfig",
                signal,
                |c| async move { c.update_config(request).await },
                UpdateResult::from,
            )
        })
    }

    /// One page of a collection (`'gateways'`, `'services'`, …), user token; `data` holds the
    /// collection's typed model (`TypedPage<Service>` for `'services'`).
    #[napi(
        strict,
        ts_generic_types = "C extends Collection = Collection",
        ts_args_type = "collection: C, options?: PageOptions | undefined | null",
        ts_return_type = "Promise<TypedPage<CollectionResources[C]>>"
    )]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        collection: arg::Collection,
        options: Option<PageOptions>,
    ) -> Result<PromiseRaw<'env, Page>> {
        error::promise(env, "Client.list", || {
            let signal = options.signal();
            let options = options.unwrap_or_default();
            let mut request = PageRequest::default();
            // The bounds of both are runbeam-core's (`PageRequest::check`).
            if let Some(Count(page)) = options.page {
                request.page = page;
            }
            if let Some(Count(per_page)) = options.per_page {
                request.per_page = per_page;
            }
            with_model!(collection.0, M => {
                let items = self.inner.resources::<M>();
                spawn(
                    env,
                    "Client.list",
                    signal,
                    async move { items.list(request).await },
                    Page::from,
                )
            })
        })
    }

    /// runbeam-core's page walk of a collection, for `listAll` (index.js), which passes it to
    /// `__nextPage` until that resolves with `null`. Throws `RUNBEAM_INVALID_ARGUMENT` for an
    /// unknown collection or a `perPage` the core refuses.
    #[napi(js_name = "__listPages", skip_typescript)]
    pub fn list_pages(
        &self,
        env: &Env,
        collection: arg::Collection,
        options: Option<ListAllOptions>,
    ) -> Result<External<PageWalk>> {
        error::entry(env, "Client.listAll", || {
            let per_page = options
                .and_then(|o| o.per_page)
                .map_or(DEFAULT_LIST_ALL_PER_PAGE, |Count(n)| n);
            let cursor: Box<dyn Walk> = with_model!(collection.0, M => {
                let items = self.inner.resources::<M>();
                Box::new(error::core(env, || items.pages(per_page))?)
            });
            Ok(External::new(Arc::new(Mutex::new(Some(cursor)))))
        })
    }

    /// The items of the next page of a walk of `__listPages`, or `null` once every page was
    /// read (the core's cursor decides). A rejected call leaves the walk on that page.
    #[napi(js_name = "__nextPage", skip_typescript)]
    pub fn next_page<'env>(
        &self,
        env: &'env Env,
        walk: &External<PageWalk>,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Option<Vec<Typed>>>> {
        error::promise(env, "Client.listAll", || {
            let slot = Arc::clone(walk);
            let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(mut cursor) = taken else {
                return Err(error::invalid_argument(
                    env,
                    "listAll: the previous page is still being fetched; await it first",
                ));
            };
            spawn(
                env,
                "Client.listAll",
                options.signal(),
                async move {
                    let page = cursor.next_page().await;
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(cursor);
                    page
                },
                |page| page,
            )
        })
    }

    /// One resource of a collection by id, as the collection's typed model
    /// (`get('services', id)` resolves with a `Service`).
    #[napi(
        strict,
        ts_generic_types = "C extends Collection = Collection",
        ts_args_type = "collection: C, id: string, options?: CallOptions | undefined | null",
        ts_return_type = "Promise<CollectionResources[C]>"
    )]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        collection: arg::Collection,
        id: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Typed>> {
        error::promise(env, "Client.get", || {
            with_model!(collection.0, M => {
                let items = self.inner.resources::<M>();
                spawn(
                    env,
                    "Client.get",
                    options.signal(),
                    async move { items.get(&id).await },
                    Typed::from,
                )
            })
        })
    }

    /// Creates a resource; a missing required field rejects with `RUNBEAM_VALIDATION`
    /// (`fieldErrors`), a taken name with `RUNBEAM_CONFLICT`. The object is sent as given; the
    /// answer is the collection's typed model.
    #[napi(
        strict,
        ts_generic_types = "C extends Collection = Collection",
        ts_args_type = "collection: C, resource: Partial<CollectionResources[C]>, options?: CallOptions | undefined | null",
        ts_return_type = "Promise<CollectionResources[C]>"
    )]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        collection: arg::Collection,
        resource: arg::Map,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, Typed>> {
        error::promise(env, "Client.create", || {
            let body = Value::Object(resource.0);
            with_model!(collection.0, M => {
                let items = self.inner.resources::<M>();
                spawn(
                    env,
                    "Client.create",
                    options.signal(),
                    async move { items.create(&body).await },
                    Typed::from,
                )
            })
        })
    }

    /// Deletes a resource.
    #[napi(strict)]
    pub fn delete<'env>(
        &self,
        env: &'env Env,
        collection: arg::Collection,
        id: arg::String,
        options: Option<arg::CallOptions>,
    ) -> Result<PromiseRaw<'env, ()>> {
        error::promise(env, "Client.delete", || {
            let items = self.collection(collection);
            spawn(
                env,
                "Client.delete",
                options.signal(),
                async move { items.delete(&id).await },
                |()| (),
            )
        })
    }
}

/// A [`PageCursor`] of runbeam-core held by `listAll` (index.js) between its `__nextPage`
/// calls; out of its slot while a page is being fetched (`listAll` awaits each page before
/// asking for the next).
type PageWalk = Arc<Mutex<Option<Box<dyn Walk>>>>;

impl Client {
    /// The core client (for the token manager).
    pub(crate) fn core(&self) -> &client::Client {
        &self.inner
    }

    fn collection(&self, collection: arg::Collection) -> CollectionClient<CoreResource> {
        self.inner.collection(collection.0)
    }

    /// Runs `call` on the module's runtime with a copy of the core client (same settings and
    /// connection pool), aborted by `signal`; resolves with `convert(value)` or rejects with
    /// the coded error.
    fn call<'env, T, V, F, Fut, C>(
        &self,
        env: &'env Env,
        function: &'static str,
        signal: Option<AbortSignal>,
        call: F,
        convert: C,
    ) -> Result<PromiseRaw<'env, V>>
    where
        T: Send + 'static,
        V: ToNapiValue,
        F: FnOnce(client::Client) -> Fut,
        Fut: Future<Output = runbeam_core::Result<T>> + Send + 'static,
        C: FnOnce(T) -> V + 'static,
    {
        spawn(env, function, signal, call(self.inner.clone()), convert)
    }
}
