//! `MeshConfig`: the mesh part of a gateway configuration (docs/spec.md §2), loaded and checked by
//! runbeam-core.

use napi::bindgen_prelude::{Env, Result};
use napi_derive::napi;
use runbeam_core::config;

use crate::arg;
use crate::error::{self, Problem};
use crate::reference::JsReference;

/// A mesh of the configuration, as a plain object.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Mesh {
    /// The table name (`[mesh.<name>]`).
    pub name: String,
    /// The transport.
    // A string union napi cannot derive from a `&'static str` (the names are the core's).
    #[napi(ts_type = "'http' | 'http3'")]
    pub protocol: &'static str,
    /// The provider that runs the mesh.
    pub provider: String,
    /// `id` as written in the configuration, or null.
    pub id: Option<String>,
    /// The id used with the Cloud API: `id` when set, else the mesh name.
    pub cloud_id: String,
    /// Whether the mesh is enabled.
    pub enabled: bool,
    /// Enabled, and its provider configured and enabled: only active meshes give mesh context.
    pub is_active: bool,
    /// Free text, or null.
    pub description: Option<String>,
    /// The `ingress` references that parse, in canonical form.
    pub ingress: Vec<String>,
    /// The `egress` references that parse, in canonical form.
    pub egress: Vec<String>,
}

impl Mesh {
    fn new(config: &config::MeshConfig, mesh: &config::Mesh) -> Self {
        Mesh {
            name: mesh.name.clone(),
            protocol: mesh.protocol.as_str(),
            provider: mesh.provider.clone(),
            id: mesh.id.clone(),
            cloud_id: mesh.cloud_id().to_string(),
            enabled: mesh.enabled,
            is_active: config.is_mesh_active(mesh),
            description: mesh.description.clone(),
            ingress: mesh.ingress().map(ToString::to_string).collect(),
            egress: mesh.egress().map(ToString::to_string).collect(),
        }
    }
}

/// A remote reference listed in a mesh.
#[napi(object, object_from_js = false)]
pub struct MeshMember {
    /// The name of the mesh that lists it.
    pub mesh: String,
    /// Which list of the mesh.
    // A string union napi cannot derive from a `&'static str` (the names are the core's).
    #[napi(ts_type = "'ingress' | 'egress'")]
    pub direction: &'static str,
    /// The reference.
    // The JavaScript class of index.js (declared in dts-header.d.ts), which `JsReference` builds.
    #[napi(ts_type = "Reference")]
    pub reference: JsReference,
}

/// The mesh part of a gateway configuration, merged from one or more TOML documents.
///
/// ```js
/// const config = MeshConfig.fromFiles(['gateway.toml', 'mesh.toml'])
/// for (const problem of config.validate()) console.error(`${problem.path}: ${problem.message}`)
/// config.checkMeshContext('runbeam.radiology-dept.ingress.name.dicomweb') // 'imaging-integration'
/// ```
#[napi]
pub struct MeshConfig {
    inner: config::MeshConfig,
}

#[napi]
impl MeshConfig {
    /// Loads one TOML document. Tables outside the mesh part are ignored.
    ///
    /// @throws `RUNBEAM_CONFIG` listing every syntax and shape problem in `problems`.
    #[napi(factory)]
    pub fn from_toml(env: &Env, text: arg::String) -> Result<Self> {
        error::entry(env, "MeshConfig.fromToml", || {
            let inner = error::core(env, || config::MeshConfig::from_toml(&text))?;
            Ok(MeshConfig { inner })
        })
    }

    /// Reads and loads one file.
    ///
    /// @throws `RUNBEAM_CONFIG` if the file cannot be read or loaded; the message names it.
    #[napi(factory)]
    pub fn from_file(env: &Env, path: arg::String) -> Result<Self> {
        error::entry(env, "MeshConfig.fromFile", || {
            let inner = error::core(env, || config::MeshConfig::from_file(&*path))?;
            Ok(MeshConfig { inner })
        })
    }

    /// Reads, merges and loads several files, in order. A key defined twice is a problem.
    ///
    /// @throws `RUNBEAM_CONFIG` listing every problem of every file.
    #[napi(factory)]
    pub fn from_files(env: &Env, paths: arg::Vec<String>) -> Result<Self> {
        error::entry(env, "MeshConfig.fromFiles", || {
            let inner = error::core(env, || config::MeshConfig::from_files(&paths.0))?;
            Ok(MeshConfig { inner })
        })
    }

    /// Checks the meaning of the configuration and returns every problem, in document order;
    /// empty means valid.
    #[napi]
    pub fn validate(&self, env: &Env) -> Result<Vec<Problem>> {
        error::entry(env, "MeshConfig.validate", || {
            let problems = error::core(env, || Ok(self.inner.validate()))?;
            Ok(problems.iter().map(Problem::from).collect())
        })
    }

    /// Whether `reference` is listed in an enabled mesh whose provider is configured and
    /// enabled, so that it may be resolved. A string is parsed first.
    ///
    /// @throws `RUNBEAM_INVALID_REFERENCE` if a string is not a valid reference.
    #[napi]
    pub fn in_mesh_context(&self, env: &Env, reference: arg::ReferenceLike<'_>) -> Result<bool> {
        error::entry(env, "MeshConfig.inMeshContext", || {
            let reference = reference.parse(env)?;
            error::core(env, || Ok(self.inner.in_mesh_context(&reference)))
        })
    }

    /// Like `inMeshContext`, but returns the name of the first mesh that lists `reference`.
    ///
    /// @throws `RUNBEAM_UNKNOWN_PROVIDER` if its provider is not configured,
    /// `RUNBEAM_NOT_IN_MESH` if no enabled mesh lists it, `RUNBEAM_INVALID_REFERENCE` if a
    /// string is not a valid reference.
    #[napi]
    pub fn check_mesh_context(
        &self,
        env: &Env,
        reference: arg::ReferenceLike<'_>,
    ) -> Result<String> {
        error::entry(env, "MeshConfig.checkMeshContext", || {
            let reference = reference.parse(env)?;
            error::core(env, || {
                self.inner
                    .check_mesh_context(&reference)
                    .map(|mesh| mesh.name.clone())
            })
        })
    }

    /// Every remote reference listed in a mesh (enabled or not), in document order.
    #[napi]
    pub fn remote_references(&self, env: &Env) -> Result<Vec<MeshMember>> {
        error::entry(env, "MeshConfig.remoteReferences", || {
            error::core(env, || {
                Ok(self
                    .inner
                    .remote_references()
                    .map(|member| MeshMember {
                        mesh: member.mesh.name.clone(),
                        direction: member.direction.as_str(),
                        reference: JsReference(member.reference.to_string()),
                    })
                    .collect())
            })
        })
    }

    /// A copy of this configuration whose `[provider.<name>]` uses the API at `url` (the
    /// configuration object itself is unchanged), e.g. to point a gateway file at a local
    /// runbeam-devcloud or a staging Cloud without editing it.
    ///
    /// ```js
    /// const dev = MeshConfig.fromFile('gateway.toml').withProviderApi('runbeam', 'http://127.0.0.1:8080')
    /// ```
    ///
    /// @throws `RUNBEAM_UNKNOWN_PROVIDER` when the configuration has no `[provider.<name>]`;
    /// `RUNBEAM_INVALID_ARGUMENT` when an argument is not a string. The URL itself is checked
    /// by `validate()` and when a `Resolver` is built.
    #[napi]
    pub fn with_provider_api(
        &self,
        env: &Env,
        name: arg::String,
        url: arg::String,
    ) -> Result<MeshConfig> {
        error::entry(env, "MeshConfig.withProviderApi", || {
            let inner = error::core(env, || self.inner.with_provider_api(&name, &url))?;
            Ok(MeshConfig { inner })
        })
    }

    /// The meshes, in document order.
    #[napi]
    pub fn meshes(&self, env: &Env) -> Result<Vec<Mesh>> {
        error::entry(env, "MeshConfig.meshes", || {
            error::core(env, || {
                let config = &self.inner;
                Ok(config
                    .meshes()
                    .iter()
                    .map(|mesh| Mesh::new(config, mesh))
                    .collect())
            })
        })
    }
}

impl MeshConfig {
    /// The core configuration (for a `Resolver`).
    pub(crate) fn core(&self) -> &config::MeshConfig {
        &self.inner
    }

    /// Wraps a core configuration.
    pub(crate) fn from_core(inner: config::MeshConfig) -> Self {
        MeshConfig { inner }
    }
}
