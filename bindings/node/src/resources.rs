//! The typed resource models of the eight collections for JavaScript: `Gateway`, `Service`,
//! `Endpoint`, `Backend`, `Pipeline`, `MeshResource`, `Ingress`, `Egress` (TypeScript interfaces
//! generated from the `#[napi(object)]` structs below), mirroring runbeam-core's
//! `client::resources` models.
//!
//! The collection calls of `Client` (`get`, `list`, `listAll`, `create`, `update`) decode the
//! server's answer with the core's typed `CollectionClient<T>` (`Client::resources::<T>()`) and
//! give each resource to JavaScript as one plain object with the server's field names: the
//! model's fields (each `From` below destructures the core model, so a field the core gains
//! fails to compile here until it is mirrored) plus every field the model does not know
//! (the core model's `extra`), as own properties. TypeScript reads those through the index
//! signature `[field: string]: unknown` that `dts-header.d.ts` merges into each interface.
//! The objects are the same as those of the untyped client of earlier versions.

use std::future::Future;
use std::pin::Pin;

use napi::bindgen_prelude::{JsObjectValue, Object, Result, ToNapiValue};
use napi::{JsValue, sys};
use napi_derive::napi;
use runbeam_core::client::PageCursor;
use runbeam_core::client::resources::{self as core, CollectionResource};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::convert::rfc3339;

/// RFC 3339 text of a server timestamp (what the server sent, as the untyped client gave it).
fn timestamp(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(rfc3339)
}

/// Declares, for each kind, the `From` of the core model into its JavaScript object: the
/// common fields, the listed ones as they are, and `extra` apart. The destructuring is
/// exhaustive: a field the core model gains must be added here (and to the struct).
macro_rules! mirror {
    ($($name:ident from $core:ident { $($field:ident),* $(,)? })*) => {$(
        impl From<core::$core> for Typed {
            fn from(model: core::$core) -> Self {
                let core::$core { id, team_id, created_at, updated_at, extra, $($field),* } = model;
                let fields = $name {
                    id,
                    team_id,
                    created_at: timestamp(created_at),
                    updated_at: timestamp(updated_at),
                    $($field),*
                };
                Typed::new(fields, extra)
            }
        }

        impl Model for core::$core {}
    )*};
}

/// A gateway (`gateways`): a Runbeam gateway instance, found by its `code`. Fields the SDK does
/// not know (e.g. `machine_public_key`) are kept as own properties.
#[napi(object, object_from_js = false)]
pub struct Gateway {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// The gateway code (its instance id; required to create).
    pub code: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// A service (`services`): an upstream system the team's gateways route to.
#[napi(object, object_from_js = false)]
pub struct Service {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (a reference name: `a-z`, `0-9`, `_`, `-`; required to create).
    pub name: Option<String>,
    /// Its base URL.
    pub url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// A pipeline (`pipelines`): a route through a gateway.
#[napi(object, object_from_js = false)]
pub struct Pipeline {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// The gateway it runs on.
    #[napi(js_name = "gateway_id")]
    pub gateway_id: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// An endpoint (`endpoints`): where a pipeline accepts requests.
#[napi(object, object_from_js = false)]
pub struct Endpoint {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// The pipeline it belongs to.
    #[napi(js_name = "pipeline_id")]
    pub pipeline_id: Option<String>,
    /// The path it serves (starting with `/`).
    pub path: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// A backend (`backends`): where a pipeline sends requests.
#[napi(object, object_from_js = false)]
pub struct Backend {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// The pipeline it belongs to.
    #[napi(js_name = "pipeline_id")]
    pub pipeline_id: Option<String>,
    /// Its URL.
    pub url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// A mesh of the Cloud (`meshes`): teams that may call each other's ingresses. (`Mesh` is the
/// mesh of a gateway configuration, `MeshConfig.meshes()`.)
#[napi(object, object_from_js = false)]
pub struct MeshResource {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// `http` or `http3` (the Cloud may add others).
    pub protocol: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// An ingress (`ingresses`): how members of a mesh reach this team.
#[napi(object, object_from_js = false)]
pub struct Ingress {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// The URLs it is reached at (at least one to create; empty when the server sent none).
    pub urls: Vec<String>,
    /// `http` or `http3` (the Cloud may add others).
    pub protocol: Option<String>,
    /// `default` or `mesh` (the Cloud may add others).
    pub mode: Option<String>,
    /// The mesh it is offered in.
    #[napi(js_name = "mesh_id")]
    pub mesh_id: Option<String>,
    /// The pipeline that serves it.
    #[napi(js_name = "pipeline_id")]
    pub pipeline_id: Option<String>,
    /// The gateway that serves it.
    #[napi(js_name = "gateway_id")]
    pub gateway_id: Option<String>,
    /// The endpoint that serves it.
    #[napi(js_name = "endpoint_id")]
    pub endpoint_id: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

/// An egress (`egresses`): how this team reaches a mesh.
#[napi(object, object_from_js = false)]
pub struct Egress {
    /// Server-side id.
    pub id: String,
    /// Owning team (read-only).
    #[napi(js_name = "team_id")]
    pub team_id: Option<String>,
    /// Name (required to create).
    pub name: Option<String>,
    /// `http` or `http3` (the Cloud may add others).
    pub protocol: Option<String>,
    /// `default` or `mesh` (the Cloud may add others).
    pub mode: Option<String>,
    /// The mesh it calls into.
    #[napi(js_name = "mesh_id")]
    pub mesh_id: Option<String>,
    /// The pipeline it belongs to.
    #[napi(js_name = "pipeline_id")]
    pub pipeline_id: Option<String>,
    /// The gateway it runs on.
    #[napi(js_name = "gateway_id")]
    pub gateway_id: Option<String>,
    /// The backend it sends to.
    #[napi(js_name = "backend_id")]
    pub backend_id: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// When it was created (RFC 3339, read-only).
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// When it was last changed (RFC 3339, read-only).
    #[napi(js_name = "updated_at")]
    pub updated_at: Option<String>,
}

mirror! {
    Gateway from Gateway { code, name, description, enabled }
    Service from Service { name, url, description, enabled }
    Pipeline from Pipeline { name, gateway_id, description, enabled }
    Endpoint from Endpoint { name, pipeline_id, path, description, enabled }
    Backend from Backend { name, pipeline_id, url, description, enabled }
    MeshResource from Mesh { name, protocol, description, enabled }
    Ingress from Ingress {
        name, urls, protocol, mode, mesh_id, pipeline_id, gateway_id, endpoint_id, description,
        enabled,
    }
    Egress from Egress {
        name, protocol, mode, mesh_id, pipeline_id, gateway_id, backend_id, description, enabled,
    }
}

/// A core model the binding gives to JavaScript.
pub trait Model: CollectionResource + Into<Typed> {}

type ToJs = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value> + Send>;

/// A resource of one of the eight kinds on its way to JavaScript: its model's object (napi's
/// conversion of the struct above) with the unknown fields set on it.
pub struct Typed(ToJs);

impl Typed {
    fn new<S: ToNapiValue + Send + 'static>(fields: S, extra: Map<String, Value>) -> Self {
        Typed(Box::new(move |env| {
            // SAFETY: called by `to_napi_value` with its env, on the JavaScript thread.
            let raw = unsafe { S::to_napi_value(env, fields)? };
            let mut object = Object::from_raw(env, raw);
            for (key, value) in extra {
                // The model's own fields are never in `extra` (serde's flatten).
                object.set_named_property(&key, value)?;
            }
            Ok(object.raw())
        }))
    }
}

impl ToNapiValue for Typed {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        (val.0)(env)
    }
}

/// The next page of a [`Walk`]: its resources, or `None` once every page was read.
pub type NextPage<'a> =
    Pin<Box<dyn Future<Output = runbeam_core::Result<Option<Vec<Typed>>>> + Send + 'a>>;

/// A page walk of one kind (runbeam-core's `PageCursor<T>`) for `listAll`.
pub trait Walk: Send {
    /// The next page's resources, or `None` once every page was read.
    fn next_page(&mut self) -> NextPage<'_>;
}

impl<M: Model> Walk for PageCursor<M> {
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(async move {
            Ok(self
                .next()
                .await?
                .map(|items| items.into_iter().map(Into::into).collect()))
        })
    }
}

/// Runs `$body` with `$M` the core model of `$collection` (a `runbeam_core::client::Collection`).
macro_rules! with_model {
    ($collection:expr, $M:ident => $body:expr) => {{
        use runbeam_core::client::Collection as C;
        use runbeam_core::client::resources as models;
        match $collection {
            C::Gateways => {
                type $M = models::Gateway;
                $body
            }
            C::Services => {
                type $M = models::Service;
                $body
            }
            C::Endpoints => {
                type $M = models::Endpoint;
                $body
            }
            C::Backends => {
                type $M = models::Backend;
                $body
            }
            C::Pipelines => {
                type $M = models::Pipeline;
                $body
            }
            C::Meshes => {
                type $M = models::Mesh;
                $body
            }
            C::Ingresses => {
                type $M = models::Ingress;
                $body
            }
            C::Egresses => {
                type $M = models::Egress;
                $body
            }
        }
    }};
}
pub(crate) use with_model;
