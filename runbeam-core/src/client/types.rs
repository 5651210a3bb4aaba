//! Typed requests and responses of the endpoints of docs/spec.md §3.3.
//!
//! Responses keep fields the SDK does not know in an `extra` map, so a newer server does not
//! break an older gateway. Tokens are [`Secret`]s: redacted in `Debug`, zeroized on drop.
//!
//! Responses also serialise back to the wire shape of docs/spec.md §3.3 (RFC 3339 timestamps, `type`
//! keys, the `extra` fields in place), so a binding can hand a caller the JSON it would have
//! got from the server. That JSON holds the token fields in clear: it *is* the caller's result
//! (the token fields opt in with `ser::exposed_secret`); `Secret` itself stays
//! non-serialisable.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::time::Duration;

use time::OffsetDateTime;

use super::collections::{Links, Page, PageMeta};
use crate::Secret;

/// The body of `POST /harmony/authorize`, without the `token` field: the client fills it
/// with its own bearer token.
///
/// ```
/// use runbeam_core::client::AuthorizeRequest;
/// let req = AuthorizeRequest::new("radiology-gw-1").metadata(vec!["site=lab".into()]);
/// assert_eq!(req.gateway_code, "radiology-gw-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizeRequest {
    /// The gateway's code; a new code creates the gateway in the caller's team.
    pub gateway_code: String,
    /// The gateway's public key, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_public_key: Option<String>,
    /// Free-form metadata strings recorded with the authorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<String>>,
}

impl AuthorizeRequest {
    /// A request for `gateway_code` with no key and no metadata.
    pub fn new(gateway_code: impl Into<String>) -> Self {
        AuthorizeRequest {
            gateway_code: gateway_code.into(),
            machine_public_key: None,
            metadata: None,
        }
    }

    /// Sets the machine public key.
    pub fn machine_public_key(mut self, key: impl Into<String>) -> Self {
        self.machine_public_key = Some(key.into());
        self
    }

    /// Sets the metadata strings.
    pub fn metadata(mut self, metadata: Vec<String>) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// The answer of `POST /harmony/authorize`: a machine token for the gateway.
///
/// Serialises back to the wire shape, **machine token included in clear**.
///
/// ```
/// use runbeam_core::client::AuthorizeResult;
/// let wire = serde_json::json!({
///     "machine_token": "mt-1", "expires_in": 60, "expires_at": "2026-12-01T00:00:00Z",
///     "gateway": {"id": "gw-1", "code": "radiology-gw-1", "name": "Radiology"},
///     "abilities": ["harmony:read"],
/// });
/// let r: AuthorizeResult = serde_json::from_value(wire.clone()).unwrap();
/// assert_eq!(format!("{:?}", r.machine_token), "Secret(***)");
/// assert_eq!(serde_json::to_value(&r).unwrap(), wire);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AuthorizeResult {
    /// The gateway machine token (opaque, about 30 days).
    #[serde(
        deserialize_with = "de::secret",
        serialize_with = "ser::exposed_secret"
    )]
    pub machine_token: Secret,
    /// How long the token was valid for when it was issued (whole seconds on the wire).
    #[serde(deserialize_with = "de::seconds", serialize_with = "ser::seconds")]
    pub expires_in: Duration,
    /// When the token expires.
    #[serde(deserialize_with = "de::timestamp", serialize_with = "ser::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The gateway the token is for.
    pub gateway: AuthorizedGateway,
    /// What the token allows.
    #[serde(default)]
    pub abilities: Vec<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The gateway of an [`AuthorizeResult`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AuthorizedGateway {
    /// Server-side id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// The gateway code.
    pub code: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The user who authorized it, when known (omitted from the JSON when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<AuthorizedBy>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The user who authorized a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AuthorizedBy {
    /// User id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// User name.
    #[serde(default)]
    pub name: String,
    /// User e-mail.
    #[serde(default)]
    pub email: String,
}

/// A `{success, message}` answer (revoke, change acknowledgements).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Acknowledgement {
    /// Whether the server did it (absent counts as true: the status was 2xx).
    #[serde(default = "yes")]
    pub success: bool,
    /// The server's message.
    #[serde(default)]
    pub message: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// The answer of `GET /harmony/base-url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BaseUrl {
    /// The base URL the gateway should use.
    pub base_url: String,
    /// Path of the change feed, relative to the base URL.
    #[serde(default)]
    pub changes_path: Option<String>,
    /// `base_url` joined with `changes_path`.
    #[serde(default)]
    pub full_url: Option<String>,
}

/// A resource found by `GET /harmony/resources/resolve`. Absent optional fields serialise as
/// `null`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ResolvedResource {
    /// Resource type (`ingress`, `egress`, …).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Server-side id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning team.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub team_id: Option<String>,
    /// Whether the resource is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// URLs (ingresses).
    #[serde(default)]
    pub urls: Vec<String>,
    /// `http` or `http3`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Mode.
    #[serde(default)]
    pub mode: Option<String>,
    /// Gateway id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub gateway_id: Option<String>,
    /// Pipeline id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub pipeline_id: Option<String>,
    /// Mesh id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub mesh_id: Option<String>,
    /// TokenStoreBackend id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub backend_id: Option<String>,
    /// Endpoint id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub endpoint_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `GET /harmony/resources/resolve`: the resource and where it came from.
///
/// Its JSON form is the wire envelope `{"data": <resource>, "meta": {"provider",
/// "resolved_at"}}`, both ways.
///
/// ```
/// use runbeam_core::client::ResolveResult;
/// let wire = serde_json::json!({
///     "data": {"type": "ingress", "id": "01J", "name": "dicomweb", "team_id": "t1",
///              "enabled": true, "urls": ["https://dicom.example.com"], "protocol": "http",
///              "mode": "mesh", "gateway_id": null, "pipeline_id": null, "mesh_id": null,
///              "backend_id": null, "endpoint_id": null, "description": null},
///     "meta": {"provider": "runbeam", "resolved_at": "2026-11-25T10:00:00Z"},
/// });
/// let r: ResolveResult = serde_json::from_value(wire.clone()).unwrap();
/// assert_eq!(r.resource.name, "dicomweb");
/// assert_eq!(serde_json::to_value(&r).unwrap(), wire);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResolveResult {
    /// The resource.
    pub resource: ResolvedResource,
    /// The provider that answered (`meta.provider`).
    pub provider: String,
    /// When the server resolved it (`meta.resolved_at`).
    pub resolved_at: OffsetDateTime,
}

#[derive(Deserialize)]
pub(crate) struct ResolveWire {
    pub(crate) data: ResolvedResource,
    pub(crate) meta: ResolveMeta,
}

#[derive(Deserialize)]
pub(crate) struct ResolveMeta {
    #[serde(default)]
    pub(crate) provider: String,
    #[serde(deserialize_with = "de::timestamp")]
    pub(crate) resolved_at: OffsetDateTime,
}

/// The wire envelope of a [`ResolveResult`], borrowed for serialisation.
#[derive(Serialize)]
struct ResolveWireRef<'a> {
    data: &'a ResolvedResource,
    meta: ResolveMetaRef<'a>,
}

#[derive(Serialize)]
struct ResolveMetaRef<'a> {
    provider: &'a str,
    #[serde(serialize_with = "ser::timestamp")]
    resolved_at: OffsetDateTime,
}

impl Serialize for ResolveResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ResolveWireRef {
            data: &self.resource,
            meta: ResolveMetaRef {
                provider: &self.provider,
                resolved_at: self.resolved_at,
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResolveResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = ResolveWire::deserialize(d)?;
        Ok(ResolveResult {
            resource: wire.data,
            provider: wire.meta.provider,
            resolved_at: wire.meta.resolved_at,
        })
    }
}

/// A mesh token from `POST /harmony/mesh/token` (a short-lived RS256 JWT). Serialises back to
/// the wire shape, **token included in clear**.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MeshTokenResult {
    /// The token.
    #[serde(
        deserialize_with = "de::secret",
        serialize_with = "ser::exposed_secret"
    )]
    pub token: Secret,
    /// When it expires.
    #[serde(deserialize_with = "de::timestamp", serialize_with = "ser::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The mesh it is for.
    #[serde(deserialize_with = "de::id")]
    pub mesh_id: String,
}

/// The Cloud's JSON Web Key Set (`GET /.well-known/jwks.json`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One public key of a [`Jwks`]; key material (`n`, `e`, `x`, …) is in `extra`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type (`RSA`, `EC`, `OKP`).
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// The other members, key material included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One configuration change of the change feed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// Change id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Status (`pending`, `acknowledged`, `applied`, `failed`, …) when the server sends one
    /// as text; any other value counts as absent (one odd change must not make the whole feed
    /// unreadable).
    #[serde(default, deserialize_with = "de::lenient_text")]
    pub status: Option<String>,
    /// Every other field, the change payload included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `POST /harmony/update` updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateKind {
    /// A gateway configuration.
    Gateway,
    /// A pipeline.
    Pipeline,
    /// A transform.
    Transform,
    /// A mesh.
    Mesh,
}

/// The body of `POST /harmony/update`.
///
/// ```
/// use runbeam_core::client::{UpdateKind, UpdateRequest};
/// let req = UpdateRequest::new(UpdateKind::Pipeline, "[pipeline]\nname = \"x\"\n");
/// assert!(req.id.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRequest {
    /// What is updated.
    #[serde(rename = "type")]
    pub kind: UpdateKind,
    /// The id of an existing resource; none creates one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The configuration, as TOML.
    pub config: String,
}

impl UpdateRequest {
    /// A request creating a resource of `kind` from `config`.
    pub fn new(kind: UpdateKind, config: impl Into<String>) -> Self {
        UpdateRequest {
            kind,
            id: None,
            config: config.into(),
        }
    }

    /// Targets the existing resource `id`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// Whether an update created or updated its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateAction {
    /// A new resource.
    Created,
    /// An existing resource.
    Updated,
}

/// The answer of `POST /harmony/update`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UpdateResult {
    /// Whether it worked (absent counts as true).
    #[serde(default = "yes")]
    pub success: bool,
    /// The server's message.
    #[serde(default)]
    pub message: Option<String>,
    /// What was done.
    pub data: UpdatedConfig,
}

/// The `data` of an [`UpdateResult`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UpdatedConfig {
    /// Resource id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Resource kind.
    #[serde(rename = "type")]
    pub kind: UpdateKind,
    /// Created or updated.
    pub action: UpdateAction,
}

// A page serialises to `{data, links: {first, last, prev, next}, meta: {current_page,
// last_page, per_page, total, ...extra}}`. The impls live here, next to the other wire
// serialisations, through borrowed mirrors of the (Deserialize-only) types of
// collections.rs; a `#[derive(Serialize)]` there would do the same.

#[derive(Serialize)]
struct PageRef<'a, T> {
    data: &'a [T],
    links: &'a Links,
    meta: &'a PageMeta,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PageRef {
            data: &self.data,
            links: &self.links,
            meta: &self.meta,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct LinksRef<'a> {
    first: &'a Option<String>,
    last: &'a Option<String>,
    prev: &'a Option<String>,
    next: &'a Option<String>,
}

impl Serialize for Links {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LinksRef {
            first: &self.first,
            last: &self.last,
            prev: &self.prev,
            next: &self.next,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct PageMetaRef<'a> {
    current_page: u64,
    last_page: u64,
    per_page: u64,
    total: u64,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Serialize for PageMeta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PageMetaRef {
            current_page: self.current_page,
            last_page: self.last_page,
            per_page: self.per_page,
            total: self.total,
            extra: &self.extra,
        }
        .serialize(s)
    }
}

/// `{data: T}` or a bare `T`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Enveloped<T> {
    Data { data: T },
    Bare(T),
}

impl<T> Enveloped<T> {
    pub(crate) fn into_inner(self) -> T {
        match self {
            Enveloped::Data { data } | Enveloped::Bare(data) => data,
        }
    }
}

/// Deserialisation helpers shared by the client's types.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer, de::Error as _};
    use time::{
        OffsetDateTime, PrimitiveDateTime, format_description::FormatItem,
        format_description::well_known::Rfc3339, macros::format_description,
    };

    use crate::Secret;

    const SQL_DATETIME: &[FormatItem<'static>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

    /// RFC 3339, or `YYYY-MM-DD HH:MM:SS` taken as UTC.
    pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
            PrimitiveDateTime::parse(text, SQL_DATETIME)
                .ok()
                .map(PrimitiveDateTime::assume_utc)
        })
    }

    pub(crate) fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        // The value is not echoed: error messages must not carry response data.
        parse_timestamp(&text).ok_or_else(|| D::Error::custom("timestamp is not RFC 3339"))
    }

    pub(crate) fn opt_timestamp<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse_timestamp(&text)
                .map(Some)
                .ok_or_else(|| D::Error::custom("timestamp is not RFC 3339")),
        }
    }

    /// A duration sent as whole seconds (a non-negative integer).
    pub(crate) fn seconds<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<std::time::Duration, D::Error> {
        u64::deserialize(d).map(std::time::Duration::from_secs)
    }

    /// A string, or `None` for any other JSON value (null, a number, an object, …).
    pub(crate) fn lenient_text<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(text) => Some(text),
            _ => None,
        })
    }

    pub(crate) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IdRepr {
        Text(String),
        Signed(i64),
        Unsigned(u64),
    }

    impl IdRepr {
        fn into_string(self) -> String {
            match self {
                IdRepr::Text(s) => s,
                IdRepr::Signed(n) => n.to_string(),
                IdRepr::Unsigned(n) => n.to_string(),
            }
        }
    }

    /// An id sent as a string or an integer.
    pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        IdRepr::deserialize(d)
            .map(IdRepr::into_string)
            .map_err(|_| D::Error::custom("id is neither a string nor an integer"))
    }

    pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<IdRepr>::deserialize(d)
            .map(|id| id.map(IdRepr::into_string))
            .map_err(|_| D::Error::custom("id is neither a string nor an integer"))
    }
}

/// Serialisation helpers: timestamps written back as RFC 3339, and secrets written in clear
/// where the JSON is the caller's own result.
pub(crate) mod ser {
    use serde::Serializer;
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};

    use crate::Secret;

    /// A timestamp as RFC 3339 (`2026-11-25T10:00:00Z`).
    pub(crate) fn timestamp<S: Serializer>(
        value: &OffsetDateTime,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text = value.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// A duration as whole seconds, its wire form.
    pub(crate) fn seconds<S: Serializer>(
        value: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_secs())
    }

    /// **Deliberately exposes** the secret: writes it in clear.
    ///
    /// Used only on the token fields of response types ([`super::AuthorizeResult`],
    /// [`super::MeshTokenResult`]), whose JSON is the result the caller asked for (a C gateway
    /// reads its machine token from it). `Secret` does not implement `Serialize` so that no
    /// other structure can leak one by being serialised; a field opts in here, visibly.
    pub(crate) fn exposed_secret<S: Serializer>(value: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.expose())
    }

    pub(crate) fn opt_timestamp<S: Serializer>(
        value: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => match t.format(&Rfc3339) {
                Ok(text) => s.serialize_some(&text),
                Err(e) => Err(serde::ser::Error::custom(e)),
            },
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::*;

    /// Deserialises the wire example, serialises it back and compares (values, so key order
    /// does not matter but every key, null and number does).
    fn round_trip<T: DeserializeOwned + Serialize>(wire: Value) -> T {
        let typed: T = serde_json::from_value(wire.clone()).expect("the example deserialises");
        let back = serde_json::to_value(&typed).expect("serialises");
        assert_eq!(back, wire, "round trip changed the JSON");
        typed
    }

    #[test]
    fn a_change_with_an_odd_status_is_still_read() {
        let feed: Vec<Change> = serde_json::from_value(json!([
            {"id": 1, "status": {"nested": true}, "type": "mesh"},
            {"id": "2", "status": 7},
            {"id": "3", "status": "pending"},
            {"id": "4"},
        ]))
        .expect("one odd status does not make the feed unreadable");
        let statuses: Vec<Option<&str>> = feed.iter().map(|c| c.status.as_deref()).collect();
        assert_eq!(statuses, [None, None, Some("pending"), None]);
        assert_eq!(feed[0].id, "1");
    }

    #[test]
    fn authorize_round_trips_with_the_token_in_clear_only_in_json() {
        let r: AuthorizeResult = round_trip(json!({
            "machine_token": "mt_9f8e7d6c",
            "expires_in": 2_592_000,
            "expires_at": "2026-12-25T10:00:00Z",
            "gateway": {
                "id": "01JDW0GATEWAY",
                "code": "analytics-gw-1",
                "name": "Analytics gateway",
                "authorized_by": {"id": "7", "name": "Bob", "email": "bob@ai.example.com"},
                "region": "eu-west-1",
            },
            "abilities": ["harmony:read", "harmony:mesh"],
            "token_type": "Bearer",
        }));
        assert_eq!(r.gateway.extra["region"], "eu-west-1");
        assert_eq!(r.extra["token_type"], "Bearer");
        assert!(!format!("{r:?}").contains("mt_9f8e7d6c"));
        // Without `authorized_by` the key stays absent (not null).
        round_trip::<AuthorizeResult>(json!({
            "machine_token": "mt", "expires_in": 1, "expires_at": "2026-12-25T10:00:00Z",
            "gateway": {"id": "g", "code": "c", "name": "n"}, "abilities": [],
        }));
    }

    #[test]
    fn gateway_endpoint_answers_round_trip() {
        round_trip::<Acknowledgement>(json!({"success": true, "message": "Gateway revoked"}));
        round_trip::<Acknowledgement>(json!({"success": false, "message": null, "count": 2}));
        round_trip::<BaseUrl>(json!({
            "base_url": "http://127.0.0.1:8080/api",
            "changes_path": "/harmony/changes",
            "full_url": "http://127.0.0.1:8080/api/harmony/changes",
        }));
        round_trip::<BaseUrl>(json!({"base_url": "u", "changes_path": null, "full_url": null}));
        let t: MeshTokenResult = round_trip(json!({
            "token": "eyJ.eyJ.sig",
            "expires_at": "2026-11-25T10:05:00Z",
            "mesh_id": "imaging-integration",
        }));
        assert!(!format!("{t:?}").contains("eyJ"));
        round_trip::<Change>(json!({
            "id": "42", "status": "pending", "type": "pipeline", "payload": {"x": [1, 2]},
        }));
        round_trip::<Change>(json!({"id": "43", "status": null}));
        round_trip::<UpdateResult>(json!({
            "success": true,
            "message": "Pipeline created",
            "data": {"id": "01JDW0PIPE", "type": "pipeline", "action": "created"},
        }));
        round_trip::<Jwks>(json!({
            "keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "xyz", "e": "AQAB"}],
        }));
    }

    #[test]
    fn resolve_round_trips_as_its_envelope() {
        let r: ResolveResult = round_trip(json!({
            "data": {
                "type": "ingress",
                "id": "01JDW0DICOM",
                "name": "dicomweb",
                "team_id": "01JDW0TEAM",
                "enabled": true,
                "urls": ["https://dicom.radiology.example.com"],
                "protocol": "http",
                "mode": "mesh",
                "gateway_id": "01JDW0GW",
                "pipeline_id": null,
                "mesh_id": "imaging-integration",
                "backend_id": null,
                "endpoint_id": "01JDW0EP",
                "description": "DICOMweb studies",
                "labels": {"tier": "prod"},
            },
            "meta": {"provider": "runbeam", "resolved_at": "2026-11-25T10:00:00.25Z"},
        }));
        assert_eq!(r.resource.resource_type, "ingress");
        assert_eq!(r.resource.extra["labels"]["tier"], "prod");
        assert_eq!(r.provider, "runbeam");
    }

    #[test]
    fn pages_round_trip() {
        let p: Page<Value> = round_trip(json!({
            "data": [{"id": 1, "name": "gw"}, {"id": 2, "name": "gw2"}],
            "links": {"first": "/gateways?page=1", "last": "/gateways?page=3", "prev": null,
                      "next": "/gateways?page=2"},
            "meta": {"current_page": 1, "last_page": 3, "per_page": 2, "total": 5, "from": 1,
                     "path": "/gateways"},
        }));
        assert!(p.has_next());
        assert_eq!(p.meta.extra["path"], "/gateways");
    }

    #[test]
    fn input_variants_normalise_to_the_canonical_wire_shape() {
        // Integer ids become strings, SQL datetimes RFC 3339, absent optionals null.
        let r: ResolveResult = serde_json::from_value(json!({
            "data": {"type": "egress", "id": 12, "name": "out", "team_id": 3},
            "meta": {"provider": "runbeam", "resolved_at": "2026-11-25 10:00:00"},
        }))
        .unwrap();
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["data"]["id"], "12");
        assert_eq!(back["data"]["team_id"], "3");
        assert_eq!(back["data"]["urls"], json!([]));
        assert_eq!(back["data"]["mode"], Value::Null);
        assert_eq!(back["data"]["enabled"], false);
        assert_eq!(back["meta"]["resolved_at"], "2026-11-25T10:00:00Z");
        let a: Acknowledgement = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"success": true, "message": null})
        );
    }
}
