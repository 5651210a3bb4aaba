//! The in-memory state of a devcloud: teams, users, resources, tokens, change feed.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::seed::{Seed, Team, User};

/// The resource collections of the API (`/api/<collection>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Collection {
    Gateways,
    Services,
    Endpoints,
    Backends,
    Pipelines,
    Meshes,
    Ingresses,
    Egresses,
}

impl Collection {
    pub(crate) const ALL: [Collection; 8] = [
        Collection::Gateways,
        Collection::Services,
        Collection::Endpoints,
        Collection::Backends,
        Collection::Pipelines,
        Collection::Meshes,
        Collection::Ingresses,
        Collection::Egresses,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Collection::Gateways => "gateways",
            Collection::Services => "services",
            Collection::Endpoints => "endpoints",
            Collection::Backends => "backends",
            Collection::Pipelines => "pipelines",
            Collection::Meshes => "meshes",
            Collection::Ingresses => "ingresses",
            Collection::Egresses => "egresses",
        }
    }

    /// The singular, also the resource `type` of resolved references.
    pub(crate) const fn singular(self) -> &'static str {
        match self {
            Collection::Gateways => "gateway",
            Collection::Services => "service",
            Collection::Endpoints => "endpoint",
            Collection::Backends => "backend",
            Collection::Pipelines => "pipeline",
            Collection::Meshes => "mesh",
            Collection::Ingresses => "ingress",
            Collection::Egresses => "egress",
        }
    }

    /// The collection holding the resources of a reference's `<type>`, matched
    /// case-insensitively (`docs/spec.md §1.1`); `None` if `name` is not one of the six types.
    pub(crate) fn of_type_name(name: &str) -> Option<Collection> {
        Collection::REFERENCEABLE
            .into_iter()
            .find(|c| c.singular().eq_ignore_ascii_case(name))
    }

    /// Collections whose resources references can name.
    pub(crate) const REFERENCEABLE: [Collection; 6] = [
        Collection::Ingresses,
        Collection::Egresses,
        Collection::Pipelines,
        Collection::Endpoints,
        Collection::Backends,
        Collection::Meshes,
    ];
}

/// A machine token as stored: only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub(crate) struct MachineTokenRecord {
    pub(crate) gateway_id: String,
    pub(crate) expires_at: OffsetDateTime,
}

/// A configuration pushed by a gateway with `POST /harmony/update`.
#[derive(Debug, Clone)]
pub(crate) struct PushedConfig {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) gateway_id: String,
    #[allow(dead_code)] // kept so the state mirrors what was pushed
    pub(crate) config: String,
}

/// Everything mutable except keys and the `/_dev` state.
pub(crate) struct Store {
    pub(crate) teams: Vec<Team>,
    pub(crate) users: Vec<User>,
    pub(crate) resources: BTreeMap<Collection, Vec<Map<String, Value>>>,
    pub(crate) machine_tokens: HashMap<[u8; 32], MachineTokenRecord>,
    pub(crate) machine_token_lifetime_secs: u64,
    pub(crate) changes: Vec<Map<String, Value>>,
    pub(crate) configs: Vec<PushedConfig>,
}

impl Store {
    pub(crate) fn from_seed(seed: Seed) -> Store {
        let created = timestamp(now());
        let mut resources = seed.resources;
        for c in Collection::ALL {
            for r in resources.entry(c).or_default().iter_mut() {
                r.insert("created_at".into(), json!(created));
                r.insert("updated_at".into(), json!(created));
            }
        }
        Store {
            teams: seed.teams,
            users: seed.users,
            resources,
            machine_tokens: HashMap::new(),
            machine_token_lifetime_secs: seed.machine_token_lifetime_secs,
            changes: Vec::new(),
            configs: Vec::new(),
        }
    }

    pub(crate) fn list(&self, c: Collection) -> &[Map<String, Value>] {
        self.resources.get(&c).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn list_mut(&mut self, c: Collection) -> &mut Vec<Map<String, Value>> {
        self.resources.entry(c).or_default()
    }

    pub(crate) fn find(&self, c: Collection, id: &str) -> Option<&Map<String, Value>> {
        self.list(c).iter().find(|r| str_field(r, "id") == Some(id))
    }

    pub(crate) fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    pub(crate) fn team_by_slug(&self, slug: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.slug == slug)
    }

    pub(crate) fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn gateway_by_code(&self, code: &str) -> Option<&Map<String, Value>> {
        self.list(Collection::Gateways)
            .iter()
            .find(|g| str_field(g, "code") == Some(code))
    }

    /// Whether any resource points at `id` through one of its `*_id` fields.
    pub(crate) fn referenced_by(&self, id: &str) -> Option<(Collection, String)> {
        for c in Collection::ALL {
            for r in self.list(c) {
                let points = r
                    .iter()
                    .any(|(k, v)| k != "id" && k != "team_id" && k.ends_with("_id") && v == id);
                if points {
                    let name = str_field(r, "name").unwrap_or_default().to_owned();
                    return Some((c, name));
                }
            }
        }
        None
    }

    /// Records a pending change for `gateway_id` (the change feed a gateway polls).
    pub(crate) fn add_change(&mut self, gateway_id: &str, c: Collection, id: &str, action: &str) {
        let at = timestamp(now());
        self.changes.push(
            json!({
                "id": new_id(),
                "gateway_id": gateway_id,
                "type": c.singular(),
                "resource_id": id,
                "action": action,
                "status": "pending",
                "created_at": at,
                "acknowledged_at": null,
                "applied_at": null,
                "failed_at": null,
                "error": null,
                "details": null,
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        );
    }
}

impl Store {
    /// Records a pending change for `gateway_id` with `kind` and `action` and the members of
    /// `payload` (`config`, `resource_id`, `name`, as given), for `POST /_dev/changes`.
    /// Returns the change.
    pub(crate) fn publish_change(
        &mut self,
        gateway_id: &str,
        kind: &str,
        action: &str,
        payload: Map<String, Value>,
    ) -> Map<String, Value> {
        let mut change = json!({
            "id": new_id(),
            "gateway_id": gateway_id,
            "type": kind,
            "resource_id": null,
            "action": action,
            "status": "pending",
            "created_at": timestamp(now()),
            "acknowledged_at": null,
            "applied_at": null,
            "failed_at": null,
            "error": null,
            "details": null,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        change.extend(payload);
        self.changes.push(change.clone());
        change
    }
}

pub(crate) fn str_field<'a>(r: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    r.get(key).and_then(Value::as_str)
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// RFC 3339, UTC, whole seconds (`2026-01-02T03:04:05Z`).
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ULID-shaped id (26 chars of Crockford base32: 48-bit millisecond time + randomness).
pub(crate) fn new_id() -> String {
    let millis = u128::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    let mut value: u128 = millis << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    (0..26)
        .rev()
        .map(|i| char::from(CROCKFORD[((value >> (5 * i)) & 31) as usize]))
        .collect()
}

/// A new opaque machine token (32 random bytes, base64url) and its SHA-256.
pub(crate) fn new_machine_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256(&token);
    (token, hash)
}

pub(crate) fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Checks an absolute `http`/`https` URL with a host.
pub(crate) fn check_http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("'{text}' must be an http or https URL with a host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ulid_shaped_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| CROCKFORD.contains(&c)));
    }

    #[test]
    fn machine_tokens_are_long_and_random() {
        let (t1, h1) = new_machine_token();
        let (t2, _) = new_machine_token();
        assert!(t1.len() >= 43);
        assert_ne!(t1, t2);
        assert_eq!(h1, sha256(&t1));
    }
}
