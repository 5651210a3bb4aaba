//! What the resolver hands out: a [`Resolution`] and an [`IssuedMeshToken`].

use std::sync::Arc;

use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::client::{MeshTokenResult, ResolveResult, ResolvedResource};
use crate::jwt::Claims;
use crate::reference::LOCAL_PROVIDER;

/// The answer to [`crate::resolve::Resolver::resolve`]: the resource, where it came from, and
/// whether it is a stale answer served because the provider could not be reached.
///
/// Cheap to clone (the resource is shared with the cache). Its JSON form is the wire envelope
/// of `GET /harmony/resources/resolve` with `meta.stale` added:
/// `{"data": {…}, "meta": {"provider", "resolved_at", "stale"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    resolved: Arc<ResolveResult>,
    stale: bool,
}

impl Resolution {
    pub(crate) fn new(resolved: Arc<ResolveResult>, stale: bool) -> Resolution {
        Resolution { resolved, stale }
    }

    /// The resource (its `urls`, `protocol`, `mode`, ids, …).
    pub fn resource(&self) -> &ResolvedResource {
        &self.resolved.resource
    }

    /// The provider that answered (`local` for local references).
    pub fn provider(&self) -> &str {
        &self.resolved.provider
    }

    /// When the provider answered (for local references: when the configuration was loaded).
    pub fn resolved_at(&self) -> OffsetDateTime {
        self.resolved.resolved_at
    }

    /// Whether this is a cached answer past its TTL, served because the provider failed
    /// (transport error, timeout, 5xx, 429 or a malformed answer) and the entry is younger
    /// than `max_stale`.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Whether the reference was local, answered from the configuration.
    pub fn is_local(&self) -> bool {
        self.resolved.provider == LOCAL_PROVIDER
    }

    /// The whole answer as the client returns it.
    pub fn resolve_result(&self) -> &ResolveResult {
        &self.resolved
    }
}

impl Serialize for Resolution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut wire = serde_json::to_value(&*self.resolved).map_err(S::Error::custom)?;
        if let Some(meta) = wire.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("stale".to_string(), Value::Bool(self.stale));
        }
        wire.serialize(s)
    }
}

/// A mesh token from [`crate::resolve::Resolver::mesh_token`], verified before it was handed
/// out: send `token` as `Authorization: Bearer` to the destination.
///
/// `Debug` redacts the token; it has no JSON form (a serialised token would end up in logs).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedMeshToken {
    /// The token, its expiry and the Cloud mesh id.
    pub token: MeshTokenResult,
    /// Its verified claims (`sub`, `aud`, `dest_url`, `source_team`, …).
    pub claims: Arc<Claims>,
    /// The mesh's name in the configuration.
    pub mesh: String,
}
