//! What the resolver derives from one mesh configuration: a client per remote provider, a
//! JWT validator per mesh trust source, and the answers for local references.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::client::{Client, ResolveResult, ResolvedResource};
use crate::config::{Egress, Ingress, Mesh, MeshConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::jwt::local::LocalMesh;
use crate::jwt::{Validator, ValidatorBuilder};
use crate::reference::{LOCAL_PROVIDER, Reference};

/// A remote provider as the resolver uses it.
#[derive(Clone)]
pub(crate) struct ProviderState {
    /// The provider's API client, without a token.
    pub(crate) client: Client,
    /// How long its answers are fresh.
    pub(crate) ttl: Duration,
}

impl ProviderState {
    /// Two providers are the same for caching when they answer from the same API with the
    /// same TTL; cached answers of a provider that changed are dropped on reload.
    fn same_as(&self, other: &ProviderState) -> bool {
        self.client.api_root() == other.client.api_root() && self.ttl == other.ttl
    }
}

/// Where a mesh's tokens are verified: the issuer (the provider's API root) and an optional
/// pinned JWKS URL.
type TrustKey = (String, Option<String>);

/// How a mesh's tokens are issued and verified: by its provider (the Cloud's API and the
/// validator of its keys), or by this gateway with the keys of a `local`-provider mesh.
#[derive(Clone)]
pub(crate) enum MeshKeys {
    /// A provider with an API issues; its published keys verify.
    Cloud {
        /// The provider's API client, without a token.
        client: Client,
        /// The validator of the mesh's trust source.
        validator: Validator,
    },
    /// The configured key issues and verifies (`crate::jwt::local`).
    Local(Arc<LocalMesh>),
}

/// The resolver's view of one configuration.
pub(crate) struct State {
    pub(crate) config: MeshConfig,
    providers: HashMap<String, ProviderState>,
    validators: HashMap<TrustKey, Validator>,
    /// The keys of the active `local`-provider meshes that configure one, by mesh name.
    locals: HashMap<String, Arc<LocalMesh>>,
    local_ingress: HashMap<String, Arc<ResolveResult>>,
    local_egress: HashMap<String, Arc<ResolveResult>>,
}

impl State {
    /// Derives the state of `config`. Validators of `previous` with the same trust are kept,
    /// with their cached keys.
    pub(crate) fn build(
        config: MeshConfig,
        template: &Client,
        validator: &ValidatorBuilder,
        previous: Option<&State>,
    ) -> Result<State> {
        let mut providers = HashMap::new();
        for provider in config.providers() {
            let Some(api) = &provider.api else { continue };
            let client = template.with_api_root(api).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("provider.{}.api: {}", provider.name, e.message()),
                )
            })?;
            providers.insert(
                provider.name.clone(),
                ProviderState {
                    client,
                    ttl: Duration::from_secs(u64::from(provider.cache_ttl_secs)),
                },
            );
        }
        let mut validators = HashMap::new();
        for mesh in config.meshes() {
            if mesh.provider == LOCAL_PROVIDER {
                continue;
            }
            let Some(key) = trust_key(&providers, mesh) else {
                continue;
            };
            if validators.contains_key(&key) {
                continue;
            }
            let kept = previous.and_then(|p| p.validators.get(&key)).cloned();
            let built = match kept {
                Some(v) => v,
                None => {
                    let mut builder = validator.clone().trusted_issuer(key.0.clone());
                    if let Some(url) = &key.1 {
                        builder = builder.jwks_url(url.clone());
                    }
                    builder.build().map_err(|e| {
                        Error::new(
                            ErrorKind::Config,
                            format!("mesh.{}: {}", mesh.name, e.message()),
                        )
                    })?
                }
            };
            validators.insert(key, built);
        }
        let locals = local_meshes(&config, validator, previous)?;
        let now = OffsetDateTime::now_utc();
        let local_ingress = config
            .ingresses()
            .iter()
            .map(|i| (i.name.clone(), Arc::new(local_ingress(i, now))))
            .collect();
        let local_egress = config
            .egresses()
            .iter()
            .map(|e| (e.name.clone(), Arc::new(local_egress(e, now))))
            .collect();
        Ok(State {
            config,
            providers,
            validators,
            locals,
            local_ingress,
            local_egress,
        })
    }

    /// The remote provider named `name`.
    pub(crate) fn provider(&self, name: &str) -> Result<&ProviderState> {
        self.providers.get(name).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownProvider,
                format!(
                    "provider '{name}' has no api URL in this configuration: add `api = \
                     \"https://…\"` to [provider.{name}]"
                ),
            )
        })
    }

    /// Whether cached answers of provider `name` stay valid when moving to `next`.
    pub(crate) fn provider_unchanged(&self, name: &str, next: &State) -> bool {
        match (self.providers.get(name), next.providers.get(name)) {
            (Some(a), Some(b)) => a.same_as(b),
            _ => false,
        }
    }

    /// The active mesh named `mesh` (its configuration name or its Cloud id).
    #[inline]
    pub(crate) fn mesh(&self, mesh: &str) -> Result<&Mesh> {
        let config = &self.config;
        config
            .mesh(mesh)
            .or_else(|| config.meshes().iter().find(|m| m.cloud_id() == mesh))
            .filter(|m| config.is_mesh_active(m))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotInMesh,
                    format!(
                        "mesh '{}' is not an enabled mesh of this configuration (by name or \
                         id); configured: {}",
                        crate::error::quote_input(mesh, 80),
                        self.mesh_names()
                    ),
                )
            })
    }

    fn mesh_names(&self) -> String {
        let names: Vec<&str> = self
            .config
            .meshes()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }

    /// The validator of `mesh`'s tokens.
    pub(crate) fn validator(&self, mesh: &Mesh) -> Result<&Validator> {
        trust_key(&self.providers, mesh)
            .and_then(|key| self.validators.get(&key))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownProvider,
                    format!(
                        "mesh '{}' uses provider '{}', which has no api URL in this \
                         configuration, so its tokens cannot be verified",
                        mesh.name, mesh.provider
                    ),
                )
            })
    }

    /// Whether mesh `name`'s tokens stay valid when moving to `next`: same Cloud id, same
    /// provider, same trust (for a `local`-provider mesh: the same keys).
    pub(crate) fn mesh_unchanged(&self, name: &str, next: &State) -> bool {
        let (Some(a), Some(b)) = (self.config.mesh(name), next.config.mesh(name)) else {
            return false;
        };
        let same_trust = if a.provider == LOCAL_PROVIDER {
            match (self.locals.get(name), next.locals.get(name)) {
                (Some(x), Some(y)) => x.same_as(y),
                (None, None) => true,
                _ => false,
            }
        } else {
            self.provider_unchanged(&a.provider, next)
        };
        next.config.is_mesh_active(b)
            && a.cloud_id() == b.cloud_id()
            && a.provider == b.provider
            && a.jwks_url == b.jwks_url
            && same_trust
    }

    /// How `mesh`'s tokens are issued and verified.
    ///
    /// # Errors
    /// `UnknownProvider` for a provider without an API URL; `Config` for a `local`-provider
    /// mesh that configures no key.
    #[inline]
    pub(crate) fn mesh_keys(&self, mesh: &Mesh) -> Result<MeshKeys> {
        if mesh.provider == LOCAL_PROVIDER {
            return self
                .locals
                .get(&mesh.name)
                .map(|local| MeshKeys::Local(Arc::clone(local)))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        format!(
                            "mesh '{0}' (provider local) has no key to issue or verify mesh \
                             tokens with: set jwt_private_key_path (RS256; jwt_public_key_path \
                             on gateways that only verify) or jwt_secret (HS256) in [mesh.{0}]",
                            mesh.name
                        ),
                    )
                });
        }
        let client = self.provider(&mesh.provider)?.client.clone();
        let validator = self.validator(mesh)?.clone();
        Ok(MeshKeys::Cloud { client, validator })
    }

    /// The answer for a local reference, from the configuration.
    pub(crate) fn local(&self, reference: &Reference) -> Result<Arc<ResolveResult>> {
        let name = reference.value();
        // Local references have no type (docs/spec.md §1.1): an ingress wins over an egress.
        let found = self
            .local_ingress
            .get(name)
            .or_else(|| self.local_egress.get(name));
        found.cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "Resource not found: {reference} (no [pipelines.<p>.mesh.ingress.{name}] or \
                     [pipelines.<p>.mesh.egress.{name}] in this configuration)"
                ),
            )
        })
    }
}

/// Reads the keys of every active `local`-provider mesh of `config`. A mesh whose keys and
/// settings did not change keeps its `previous` state (and the tokens it verified).
///
/// # Errors
/// `Config`: a problem of the key settings, or a key file that cannot be used (naming the TOML
/// path and the file).
fn local_meshes(
    config: &MeshConfig,
    validator: &ValidatorBuilder,
    previous: Option<&State>,
) -> Result<HashMap<String, Arc<LocalMesh>>> {
    let mut locals = HashMap::new();
    for mesh in config.meshes() {
        if mesh.provider != LOCAL_PROVIDER || !config.is_mesh_active(mesh) {
            continue;
        }
        let problems = mesh.local_key_problems();
        if !problems.is_empty() {
            return Err(crate::config::problems_error(
                ErrorKind::Config,
                &format!("mesh '{}' cannot issue or verify mesh tokens", mesh.name),
                problems,
            ));
        }
        let settings = validator.local_settings().map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("mesh.{}: {}", mesh.name, e.message()),
            )
        })?;
        let Some(loaded) = LocalMesh::load(mesh, settings)? else {
            continue;
        };
        let kept = previous
            .and_then(|p| p.locals.get(&mesh.name))
            .filter(|old| old.same_as(&loaded))
            .cloned();
        locals.insert(mesh.name.clone(), kept.unwrap_or_else(|| Arc::new(loaded)));
    }
    Ok(locals)
}

fn trust_key(providers: &HashMap<String, ProviderState>, mesh: &Mesh) -> Option<TrustKey> {
    let provider = providers.get(&mesh.provider)?;
    Some((
        provider.client.api_root().to_string(),
        mesh.jwks_url.clone(),
    ))
}

fn local_resource(resource_type: &str, name: &str) -> ResolvedResource {
    ResolvedResource {
        resource_type: resource_type.to_string(),
        id: name.to_string(),
        name: name.to_string(),
        team_id: None,
        enabled: true,
        urls: Vec::new(),
        protocol: None,
        mode: None,
        gateway_id: None,
        pipeline_id: None,
        mesh_id: None,
        backend_id: None,
        endpoint_id: None,
        description: None,
        extra: serde_json::Map::new(),
    }
}

fn local_ingress(ingress: &Ingress, now: OffsetDateTime) -> ResolveResult {
    let mut r = local_resource("ingress", &ingress.name);
    r.enabled = ingress.enabled;
    r.urls = ingress.urls.clone();
    r.protocol = Some(ingress.protocol.as_str().to_string());
    r.mode = Some(ingress.mode.as_str().to_string());
    r.pipeline_id = Some(ingress.pipeline.clone());
    r.endpoint_id = ingress.endpoint.clone();
    r.description = ingress.description.clone();
    local_resolved(r, now)
}

fn local_egress(egress: &Egress, now: OffsetDateTime) -> ResolveResult {
    let mut r = local_resource("egress", &egress.name);
    r.enabled = egress.enabled;
    r.protocol = Some(egress.protocol.as_str().to_string());
    r.mode = Some(egress.mode.as_str().to_string());
    r.pipeline_id = Some(egress.pipeline.clone());
    r.backend_id = egress.backend.clone();
    r.description = egress.description.clone();
    local_resolved(r, now)
}

fn local_resolved(resource: ResolvedResource, now: OffsetDateTime) -> ResolveResult {
    ResolveResult {
        resource,
        provider: crate::reference::LOCAL_PROVIDER.to_string(),
        resolved_at: now,
    }
}

impl State {
    /// The stats of every mesh-token validator of this configuration, summed.
    pub(crate) fn validator_stats(&self) -> crate::metrics::ValidatorStats {
        self.validators
            .values()
            .fold(crate::metrics::ValidatorStats::default(), |sum, v| {
                sum.merged(&v.stats())
            })
    }
}
