//! Typed requests and responses of the endpoints of SPEC §3.3.
//!
//! Responses keep fields the SDK does not know in an `extra` map, so a newer server does not
//! break an older gateway. Tokens are [`Secret`]s: redacted in `Debug`, zeroized on drop.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AuthorizeResponse {
    /// The gateway machine token (opaque, about 30 days).
    #[serde(deserialize_with = "de::secret")]
    pub machine_token: Secret,
    /// Seconds until the token expires, counted when it was issued.
    pub expires_in: u64,
    /// When the token expires.
    #[serde(deserialize_with = "de::timestamp")]
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

/// The gateway of an [`AuthorizeResponse`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// The user who authorized it, when known.
    #[serde(default)]
    pub authorized_by: Option<AuthorizedBy>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The user who authorized a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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

/// A resource found by `GET /harmony/resources/resolve`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Backend id.
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
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
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

/// A mesh token from `POST /harmony/mesh/token` (a short-lived RS256 JWT).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MeshToken {
    /// The token.
    #[serde(deserialize_with = "de::secret")]
    pub token: Secret,
    /// When it expires.
    #[serde(deserialize_with = "de::timestamp")]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// Change id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Status (`pending`, `acknowledged`, `applied`, `failed`, …) when the server sends one.
    #[serde(default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateAction {
    /// A new resource.
    Created,
    /// An existing resource.
    Updated,
}

/// The answer of `POST /harmony/update`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UpdateResponse {
    /// Whether it worked (absent counts as true).
    #[serde(default = "yes")]
    pub success: bool,
    /// The server's message.
    #[serde(default)]
    pub message: Option<String>,
    /// What was done.
    pub data: UpdateResult,
}

/// The `data` of an [`UpdateResponse`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UpdateResult {
    /// Resource id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Resource kind.
    #[serde(rename = "type")]
    pub kind: UpdateKind,
    /// Created or updated.
    pub action: UpdateAction,
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

/// Serialisation helpers for timestamps written back (collections).
pub(crate) mod ser {
    use serde::Serializer;
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};

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
