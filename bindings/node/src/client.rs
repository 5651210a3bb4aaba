//! `Client`: the Runbeam Cloud API client of runbeam-core (docs/spec.md §3) for JavaScript.
//!
//! Every network call returns a `Promise` and runs on the module's tokio runtime (napi's
//! `tokio_rt`), so the event loop is never blocked. A failed call rejects with the coded
//! `Error` of [`crate::error`] (with `status`, `retryAfterMs`, `fieldErrors`). Arguments are
//! checked before anything is sent: one of the wrong type makes the native method throw
//! `RUNBEAM_INVALID_ARGUMENT`, which `index.js` turns into a rejection of the Promise.
//!
//! Results are plain objects, converted from runbeam-core's types by the `From` impls below,
//! except the two that carry a secret: `AuthorizeResult` and `MeshTokenResult` are classes whose
//! token is read through a non-enumerable prototype getter or `expose()` and is never shown by
//! `util.inspect`, `JSON.stringify`, spreading or a `for…in` copy. Errors never carry a token.

use std::future::Future;
use std::sync::{Arc, Mutex};

use napi::ValueType;
use napi::bindgen_prelude::{
    Env, External, FromNapiValue, JsValue, PromiseRaw, Result, ToNapiValue, Unknown,
};
use napi_derive::napi;
use runbeam_core::client::{
    AuthorizeRequest, Change, Collection, CollectionClient, DEFAULT_LIST_ALL_PER_PAGE, PageCursor,
    PageRequest, Resource, RetryPolicy, UpdateAction, UpdateKind,
};
use runbeam_core::{Secret, client};
use serde_json::Value;

use crate::convert::{Date, REDACTED, count, duration_ms, millis, rfc3339};
use crate::promise::spawn;
use crate::{args, error};

/// Options of `new Client(apiUrl, options)`.
#[napi(object)]
#[derive(Default)]
pub struct ClientOptions {
    /// The bearer token: a user JWT or Sanctum token (`authorize`, `revoke`, collections) or a
    /// gateway machine token (`resolve`, `meshToken`, `baseUrl`).
    pub token: Option<String>,
    /// Time to establish a connection, TLS included (default 5000).
    pub connect_timeout_ms: Option<f64>,
    /// Time for one attempt (default 30000).
    pub request_timeout_ms: Option<f64>,
    /// Total time of one call, retries included (default: derived from the two above).
    pub deadline_ms: Option<f64>,
    /// Attempts of idempotent calls, the first included (default 3; 1 to 100, checked by
    /// runbeam-core).
    pub max_attempts: Option<f64>,
    /// PEM text of CA certificates trusted in addition to the system roots.
    pub ca_bundle_pem: Option<String>,
    /// Accept `http://` for hosts that are not loopback (default false).
    pub allow_insecure_http: Option<bool>,
}

/// Options of `listAll(collection, options)`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ListAllOptions {
    /// Items per page, 1-1000 (default 100).
    pub per_page: Option<f64>,
}

/// Which page of a collection to list.
#[napi(object)]
#[derive(Default)]
pub struct PageOptions {
    /// 1-based page number (default 1).
    pub page: Option<f64>,
    /// Items per page, 1-1000 (default 15).
    pub per_page: Option<f64>,
}

/// The gateway an `authorize` call granted.
#[napi(object, object_from_js = false)]
pub struct AuthorizedGateway {
    /// Gateway id.
    pub id: String,
    /// Gateway code.
    pub code: String,
    /// Gateway name.
    pub name: String,
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

    /// The gateway.
    #[napi(getter)]
    pub fn gateway(&self, env: &Env) -> Result<AuthorizedGateway> {
        error::entry(env, "AuthorizeResult.gateway", || {
            let gateway = &self.inner.gateway;
            Ok(AuthorizedGateway {
                id: gateway.id.clone(),
                code: gateway.code.clone(),
                name: gateway.name.clone(),
            })
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
    #[napi(js_name = "toJSON", ts_return_type = "Record<string, unknown>")]
    pub fn to_json(&self, env: &Env) -> Result<Value> {
        error::entry(env, "AuthorizeResult.toJSON", || {
            let gateway = &self.inner.gateway;
            Ok(serde_json::json!({
                "machineToken": REDACTED,
                "expiresInMs": millis(self.inner.expires_in),
                "expiresAt": rfc3339(self.inner.expires_at),
                "gateway": { "id": gateway.id, "code": gateway.code, "name": gateway.name },
                "abilities": self.inner.abilities,
            }))
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
    #[napi(js_name = "toJSON", ts_return_type = "Record<string, unknown>")]
    pub fn to_json(&self, env: &Env) -> Result<Value> {
        error::entry(env, "MeshTokenResult.toJSON", || {
            Ok(serde_json::json!({
                "token": REDACTED,
                "expiresAt": rfc3339(self.inner.expires_at),
                "meshId": self.inner.mesh_id,
            }))
        })
    }
}

/// One page of a collection.
#[napi(object, object_from_js = false)]
pub struct Page {
    /// The resources of this page, as the server sent them.
    #[napi(ts_type = "Array<Resource>")]
    pub data: Vec<Value>,
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
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct UpdateConfigOptions {
    /// The id of an earlier pushed configuration to replace; without it one is created.
    pub id: Option<String>,
}

/// What `updateConfig` did.
#[napi(object, object_from_js = false)]
pub struct UpdatedConfig {
    /// Id of the configuration (pass it as `id` to update it again).
    pub id: String,
    /// What the configuration is.
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

impl From<client::Page<Resource>> for Page {
    fn from(page: client::Page<Resource>) -> Self {
        Page {
            current_page: page.meta.current_page as f64,
            last_page: page.meta.last_page as f64,
            per_page: page.meta.per_page as f64,
            total: page.meta.total as f64,
            data: page.data.into_iter().map(resource).collect(),
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

/// A resource of a collection as the server sent it (known and unknown fields alike).
fn resource(resource: Resource) -> Value {
    serde_json::to_value(resource).unwrap_or(Value::Null)
}

/// A change of the feed as the server sent it: `id`, `status` and every other field.
fn change(change: Change) -> Value {
    let mut object = change.extra;
    object.insert("id".into(), Value::String(change.id));
    object.insert(
        "status".into(),
        change.status.map_or(Value::Null, Value::String),
    );
    Value::Object(object)
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

/// An object argument converted by napi (`#[napi(object)]` structs, JSON), with napi's
/// conversion errors (a string where a number belongs, …) as `RUNBEAM_INVALID_ARGUMENT`.
fn object<T: FromNapiValue>(env: &Env, value: &Unknown<'_>, what: &str) -> Result<T> {
    if value.get_type()? != ValueType::Object {
        return Err(error::invalid_argument(
            env,
            format!("{what} must be an object, not {}", error::describe(value)),
        ));
    }
    json_like(env, value, what)
}

/// Any value napi converts to `T` (JSON values included), with its conversion errors as
/// `RUNBEAM_INVALID_ARGUMENT`.
pub(crate) fn json_like<T: FromNapiValue>(env: &Env, value: &Unknown<'_>, what: &str) -> Result<T> {
    // SAFETY: `value` belongs to `env`.
    unsafe { T::from_napi_value(env.raw(), value.raw()) }
        .map_err(|e| error::invalid_argument(env, format!("{what}: {}", e.reason)))
}

/// An options object (or undefined/null for the defaults).
fn options<T: FromNapiValue + Default>(env: &Env, value: Option<Unknown<'_>>) -> Result<T> {
    match present(value) {
        None => Ok(T::default()),
        Some(v) => object(env, &v, "options"),
    }
}

/// An optional argument: `None` when it is missing, `undefined` or `null`.
pub(crate) fn present(value: Option<Unknown<'_>>) -> Option<Unknown<'_>> {
    value.filter(|v| !is_nullish(v))
}

/// A required argument that napi may have passed as missing.
fn required<'a>(env: &Env, value: Option<Unknown<'a>>, what: &str) -> Result<Unknown<'a>> {
    present(value).ok_or_else(|| error::invalid_argument(env, format!("{what} is missing")))
}

fn collection(env: &Env, value: &Unknown<'_>) -> Result<Collection> {
    let name = args::string(env, value, "collection")?;
    Collection::from_name(&name).ok_or_else(|| {
        let names: Vec<&str> = Collection::ALL.iter().map(|c| c.name()).collect();
        error::invalid_argument(
            env,
            format!("collection '{name}' is not one of {}", names.join(", ")),
        )
    })
}

#[napi]
impl Client {
    /// A client of the API at `apiUrl` (`/api` is appended when the URL has no path).
    ///
    /// @throws `RUNBEAM_INVALID_ARGUMENT` for a malformed or insecure URL, a zero timeout or
    /// an invalid CA bundle.
    #[napi(constructor, ts_args_type = "apiUrl: string, options?: ClientOptions")]
    pub fn new(env: &Env, api_url: Unknown<'_>, options: Option<Unknown<'_>>) -> Result<Self> {
        error::entry(env, "new Client", || {
            let api_url = args::string(env, &api_url, "apiUrl")?;
            let options: ClientOptions = self::options(env, options)?;
            let mut builder = client::Client::builder(api_url).language("node");
            if let Some(token) = options.token {
                builder = builder.token(Secret::new(token));
            }
            if let Some(v) = options.connect_timeout_ms {
                builder = builder.connect_timeout(duration_ms(env, v, "connectTimeoutMs")?);
            }
            if let Some(v) = options.request_timeout_ms {
                builder = builder.request_timeout(duration_ms(env, v, "requestTimeoutMs")?);
            }
            if let Some(v) = options.deadline_ms {
                builder = builder.deadline(duration_ms(env, v, "deadlineMs")?);
            }
            if let Some(v) = options.max_attempts {
                let attempts = count(env, v, "maxAttempts")?;
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
    #[napi(ts_args_type = "token: string")]
    pub fn with_token(&self, env: &Env, token: Unknown<'_>) -> Result<Client> {
        error::entry(env, "Client.withToken", || {
            let token = args::string(env, &token, "token")?;
            Ok(Client {
                inner: self.inner.with_token(Secret::new(token)),
            })
        })
    }

    /// `POST /harmony/authorize` with the client's user JWT or Sanctum token: the gateway's
    /// machine token. A new code creates the gateway; another team's code rejects with
    /// `RUNBEAM_PERMISSION_DENIED` (status 403).
    #[napi(ts_args_type = "gatewayCode: string, metadata?: Array<string>")]
    pub fn authorize<'env>(
        &self,
        env: &'env Env,
        gateway_code: Unknown<'_>,
        metadata: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, AuthorizeResult>> {
        error::promise(env, "Client.authorize", || {
            let mut request =
                AuthorizeRequest::new(args::string(env, &gateway_code, "gatewayCode")?);
            if let Some(metadata) = present(metadata) {
                request = request.metadata(args::strings(env, &metadata, "metadata")?);
            }
            self.call(
                env,
                "Client.authorize",
                |c| async move { c.authorize(request).await },
                |inner| AuthorizeResult { inner },
            )
        })
    }

    /// `POST /harmony/revoke`: every machine token of the gateway stops working.
    #[napi(ts_args_type = "gatewayCode: string")]
    pub fn revoke<'env>(
        &self,
        env: &'env Env,
        gateway_code: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.revoke", || {
            let code = args::string(env, &gateway_code, "gatewayCode")?;
            self.call(
                env,
                "Client.revoke",
                |c| async move { c.revoke(&code).await },
                Acknowledgement::from,
            )
        })
    }

    /// `GET /harmony/resources/resolve` (machine token). An unknown reference rejects with
    /// `RUNBEAM_NOT_FOUND`; a string that is not a reference throws
    /// `RUNBEAM_INVALID_REFERENCE`.
    #[napi(ts_args_type = "reference: Reference | string")]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        reference: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, ResolveResult>> {
        error::promise(env, "Client.resolve", || {
            let reference = args::reference(env, &reference, "reference")?;
            self.call(
                env,
                "Client.resolve",
                |c| async move { c.resolve(&reference).await },
                ResolveResult::from,
            )
        })
    }

    /// `POST /harmony/mesh/token` (machine token): a short-lived token to call
    /// `destinationUrl` through the mesh. Refused with `RUNBEAM_PERMISSION_DENIED`.
    #[napi(ts_args_type = "meshId: string, destinationUrl: string")]
    pub fn mesh_token<'env>(
        &self,
        env: &'env Env,
        mesh_id: Unknown<'_>,
        destination_url: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, MeshTokenResult>> {
        error::promise(env, "Client.meshToken", || {
            let mesh_id = args::string(env, &mesh_id, "meshId")?;
            let destination = args::string(env, &destination_url, "destinationUrl")?;
            self.call(
                env,
                "Client.meshToken",
                |c| async move { c.mesh_token(&mesh_id, &destination).await },
                |inner| MeshTokenResult { inner },
            )
        })
    }

    /// `GET /.well-known/jwks.json` (public): the Cloud's signing keys.
    #[napi(ts_return_type = "Promise<{ keys: Array<Record<string, unknown>> }>")]
    pub fn jwks<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Value>> {
        error::promise(env, "Client.jwks", || {
            self.call(
                env,
                "Client.jwks",
                |c| async move { c.jwks().await },
                |jwks| serde_json::to_value(jwks).unwrap_or(Value::Null),
            )
        })
    }

    /// `GET /harmony/base-url` (machine token).
    #[napi]
    pub fn base_url<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, BaseUrl>> {
        error::promise(env, "Client.baseUrl", || {
            self.call(
                env,
                "Client.baseUrl",
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
    #[napi(
        ts_args_type = "gatewayId?: string",
        ts_return_type = "Promise<Array<Change>>"
    )]
    pub fn changes<'env>(
        &self,
        env: &'env Env,
        gateway_id: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, Vec<Value>>> {
        error::promise(env, "Client.changes", || {
            let gateway_id = present(gateway_id)
                .map(|id| args::string(env, &id, "gatewayId"))
                .transpose()?;
            self.call(
                env,
                "Client.changes",
                |c| async move { c.changes(gateway_id.as_deref()).await },
                |changes| changes.into_iter().map(change).collect(),
            )
        })
    }

    /// `GET /harmony/change/<id>` (machine token): one change of the gateway; an unknown id
    /// rejects with `RUNBEAM_NOT_FOUND`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Change>")]
    pub fn change<'env>(&self, env: &'env Env, id: Unknown<'_>) -> Result<PromiseRaw<'env, Value>> {
        error::promise(env, "Client.change", || {
            let id = args::string(env, &id, "id")?;
            self.call(
                env,
                "Client.change",
                |c| async move { c.change(&id).await },
                change,
            )
        })
    }

    /// `POST /harmony/changes/acknowledge` (machine token): marks changes as received. An id
    /// that is not one of the gateway's changes rejects with `RUNBEAM_VALIDATION`
    /// (`fieldErrors` names it). Not retried.
    #[napi(ts_args_type = "ids: Array<string>")]
    pub fn acknowledge_changes<'env>(
        &self,
        env: &'env Env,
        ids: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.acknowledgeChanges", || {
            let ids = args::strings(env, &ids, "ids")?;
            self.call(
                env,
                "Client.acknowledgeChanges",
                |c| async move { c.acknowledge_changes(&ids).await },
                Acknowledgement::from,
            )
        })
    }

    /// `POST /harmony/change/<id>/applied` (machine token): the gateway applied the change. A
    /// change already applied or failed rejects with `RUNBEAM_CONFLICT`. Not retried.
    #[napi(ts_args_type = "id: string")]
    pub fn change_applied<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.changeApplied", || {
            let id = args::string(env, &id, "id")?;
            self.call(
                env,
                "Client.changeApplied",
                |c| async move { c.change_applied(&id).await },
                Acknowledgement::from,
            )
        })
    }

    /// `POST /harmony/change/<id>/failed` (machine token): the gateway could not apply the
    /// change; `error` says why, `details` (any JSON value) is stored with it. A change
    /// already applied or failed rejects with `RUNBEAM_CONFLICT`. Not retried.
    #[napi(ts_args_type = "id: string, error: string, details?: unknown")]
    pub fn change_failed<'env>(
        &self,
        env: &'env Env,
        id: Unknown<'_>,
        error: Unknown<'_>,
        details: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, Acknowledgement>> {
        error::promise(env, "Client.changeFailed", || {
            let id = args::string(env, &id, "id")?;
            let error = args::string(env, &error, "error")?;
            let details: Option<Value> = present(details)
                .map(|d| json_like(env, &d, "details"))
                .transpose()?;
            self.call(
                env,
                "Client.changeFailed",
                |c| async move { c.change_failed(&id, &error, details.as_ref()).await },
                Acknowledgement::from,
            )
        })
    }

    /// Updates the given fields of a resource of a collection (user token), resolving with the
    /// resource. To push a gateway, pipeline, transform or mesh configuration, see
    /// `updateConfig`.
    #[napi(
        ts_args_type = "collection: Collection, id: string, resource: Record<string, unknown>",
        ts_return_type = "Promise<Resource>"
    )]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        collection: Unknown<'_>,
        id: Option<Unknown<'_>>,
        body: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        error::promise(env, "Client.update", || {
            let items = self.collection(env, &collection)?;
            let id = args::string(env, &required(env, id, "id")?, "id")?;
            let body: Value = json_like(env, &required(env, body, "resource")?, "resource")?;
            spawn(
                env,
                "Client.update",
                async move { items.update(&id, &body).await },
                resource,
            )
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
    #[napi(ts_args_type = "type: UpdateKind, config: string, options?: UpdateConfigOptions")]
    pub fn update_config<'env>(
        &self,
        env: &'env Env,
        kind: Unknown<'_>,
        config: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, UpdateResult>> {
        error::promise(env, "Client.updateConfig", || {
            let kind = args::string(env, &kind, "type")?;
            let kind: UpdateKind = serde_json::from_value(Value::String(kind))
                .map_err(|e| error::invalid_argument(env, format!("type: {e}")))?;
            let config = args::string(env, &required(env, config, "config")?, "config")?;
            let options: UpdateConfigOptions = self::options(env, options)?;
            let mut request = client::UpdateRequest::new(kind, config);
            if let Some(id) = options.id {
                request = request.id(id);
            }
            self.call(
                env,
                "Client.updateConfig",
                |c| async move { c.update_config(request).await },
                UpdateResult::from,
            )
        })
    }

    /// One page of a collection (`'gateways'`, `'services'`, …), user token.
    #[napi(ts_args_type = "collection: Collection, options?: PageOptions")]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        collection: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, Page>> {
        error::promise(env, "Client.list", || {
            let items = self.collection(env, &collection)?;
            let options: PageOptions = self::options(env, options)?;
            let mut request = PageRequest::default();
            // The bounds of both are runbeam-core's (`PageRequest::check`).
            if let Some(page) = options.page {
                request.page = count(env, page, "page")?;
            }
            if let Some(per_page) = options.per_page {
                request.per_page = count(env, per_page, "perPage")?;
            }
            spawn(
                env,
                "Client.list",
                async move { items.list(request).await },
                Page::from,
            )
        })
    }

    /// runbeam-core's page walk of a collection, for `listAll` (index.js), which passes it to
    /// `__nextPage` until that resolves with `null`. Throws `RUNBEAM_INVALID_ARGUMENT` for an
    /// unknown collection or a `perPage` the core refuses.
    #[napi(js_name = "__listPages", skip_typescript)]
    pub fn list_pages(
        &self,
        env: &Env,
        collection: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<External<PageWalk>> {
        error::entry(env, "Client.listAll", || {
            let items = self.collection(env, &collection)?;
            let options: ListAllOptions = self::options(env, options)?;
            let per_page = match options.per_page {
                Some(v) => count(env, v, "perPage")?,
                None => DEFAULT_LIST_ALL_PER_PAGE,
            };
            let cursor = error::core(env, || items.pages(per_page))?;
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
    ) -> Result<PromiseRaw<'env, Option<Vec<Value>>>> {
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
                async move {
                    let page = cursor.next().await;
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(cursor);
                    page
                },
                |page| page.map(|items| items.into_iter().map(resource).collect()),
            )
        })
    }

    /// One resource of a collection by id.
    #[napi(
        ts_args_type = "collection: Collection, id: string",
        ts_return_type = "Promise<Resource>"
    )]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        collection: Unknown<'_>,
        id: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, Value>> {
        error::promise(env, "Client.get", || {
            let items = self.collection(env, &collection)?;
            let id = args::string(env, &id, "id")?;
            spawn(
                env,
                "Client.get",
                async move { items.get(&id).await },
                resource,
            )
        })
    }

    /// Creates a resource; a missing required field rejects with `RUNBEAM_VALIDATION`
    /// (`fieldErrors`), a taken name with `RUNBEAM_CONFLICT`.
    #[napi(
        ts_args_type = "collection: Collection, resource: Record<string, unknown>",
        ts_return_type = "Promise<Resource>"
    )]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        collection: Unknown<'_>,
        body: Option<Unknown<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        error::promise(env, "Client.create", || {
            let items = self.collection(env, &collection)?;
            let body: Value = json_like(env, &required(env, body, "resource")?, "resource")?;
            spawn(
                env,
                "Client.create",
                async move { items.create(&body).await },
                resource,
            )
        })
    }

    /// Deletes a resource.
    #[napi(
        ts_args_type = "collection: Collection, id: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn delete<'env>(
        &self,
        env: &'env Env,
        collection: Unknown<'_>,
        id: Unknown<'_>,
    ) -> Result<PromiseRaw<'env, ()>> {
        error::promise(env, "Client.delete", || {
            let items = self.collection(env, &collection)?;
            let id = args::string(env, &id, "id")?;
            spawn(
                env,
                "Client.delete",
                async move { items.delete(&id).await },
                |()| (),
            )
        })
    }
}

/// A [`PageCursor`] of runbeam-core held by `listAll` (index.js) between its `__nextPage`
/// calls; out of its slot while a page is being fetched (`listAll` awaits each page before
/// asking for the next).
type PageWalk = Arc<Mutex<Option<PageCursor<Resource>>>>;

impl Client {
    /// The core client (for the token manager).
    pub(crate) fn core(&self) -> &client::Client {
        &self.inner
    }

    fn collection(&self, env: &Env, name: &Unknown<'_>) -> Result<CollectionClient<Resource>> {
        Ok(self.inner.collection(collection(env, name)?))
    }

    /// Runs `call` on the module's runtime with a copy of the core client (same settings and
    /// connection pool); resolves with `convert(value)` or rejects with the coded error.
    fn call<'env, T, V, F, Fut, C>(
        &self,
        env: &'env Env,
        function: &'static str,
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
        spawn(env, function, call(self.inner.clone()), convert)
    }
}

fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null))
}
