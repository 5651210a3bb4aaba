//! The Runbeam Cloud API client (docs/spec.md §3).
//!
//! [`Client`] speaks the HTTP API of docs/spec.md §3.3: one async method per endpoint, typed requests
//! and responses, list methods with pages, a page cursor ([`PageCursor`]) and an
//! auto-paginating stream built on it ([`CollectionClient::list_all`]). Every failure is a [`crate::Error`] of the taxonomy of
//! docs/spec.md §3.4 carrying the HTTP status, the request method and path and the server's message
//! ([`crate::Error::status`], [`crate::Error::request`], …). Idempotent calls are retried on
//! transport failures, 5xx and 429 with exponential backoff and full jitter, honouring
//! `Retry-After`, within a total deadline; POSTs are never retried.
//!
//! Tokens are [`Secret`]s and never appear in an error, a log line or a `Debug` output.
//!
//! ```no_run
//! use runbeam_core::{client::{AuthorizeRequest, Client}, Reference, Secret};
//!
//! # async fn run() -> runbeam_core::Result<()> {
//! let user = Client::builder("https://api.runbeam.io")
//!     .token(Secret::new("1|my-sanctum-token".to_string()))
//!     .build()?;
//! let granted = user.authorize(AuthorizeRequest::new("radiology-gw-1")).await?;
//!
//! let gateway = user.with_token(granted.machine_token);
//! let reference = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb")?;
//! let resolved = gateway.resolve(&reference).await?;
//! println!("{} -> {:?}", resolved.resource.name, resolved.resource.urls);
//! # Ok(())
//! # }
//! ```

mod builder;
mod collections;
#[cfg(test)]
mod feed_tests;
pub(crate) mod http;
pub mod resources;
mod retry;
mod token_kind;
mod types;
pub(crate) mod url;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

pub use builder::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
pub use collections::{
    Collection, CollectionClient, DEFAULT_LIST_ALL_PER_PAGE, Links, MAX_LIST_PAGES, Page,
    PageCursor, PageMeta, PageRequest, Resource,
};
pub use retry::{RetryPolicy, parse_retry_after};
pub use token_kind::{TokenKind, classify_token};
pub use types::{
    Acknowledgement, AuthorizeRequest, AuthorizeResult, AuthorizedBy, AuthorizedGateway, BaseUrl,
    Change, Jwk, Jwks, MeshTokenResult, ResolveResult, ResolvedResource, UpdateAction, UpdateKind,
    UpdateRequest, UpdateResult, UpdatedConfig,
};
pub use url::api_root;

use crate::error::{Error, ErrorKind, Result};
use crate::{Reference, Secret};
use http::Call;
pub(crate) use types::Enveloped;
use types::ResolveWire;
use url::segment;

/// What every clone of a client shares: the connection pool and the settings.
pub(crate) struct Shared {
    http: reqwest::Client,
    root: String,
    retry: RetryPolicy,
    request_timeout: Duration,
    deadline: Duration,
    max_body_bytes: usize,
    user_agent: String,
    allow_insecure_http: bool,
}

/// A Runbeam Cloud API client. Cheap to clone (the connection pool is shared), `Send + Sync`.
///
/// ```no_run
/// use runbeam_core::{client::Client, Secret};
/// # async fn run() -> runbeam_core::Result<()> {
/// let client = Client::builder("https://api.runbeam.io")
///     .token(Secret::new("machine-token".to_string()))
///     .build()?;
/// let base = client.base_url().await?;
/// println!("{}", base.base_url);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    token: Option<Secret>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_root", &self.shared.root)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("retry", &self.shared.retry)
            .field("request_timeout", &self.shared.request_timeout)
            .field("deadline", &self.shared.deadline)
            .field("max_body_bytes", &self.shared.max_body_bytes)
            .field("user_agent", &self.shared.user_agent)
            .finish()
    }
}

/// The page size [`Client::changes`] asks for.
const FEED_PER_PAGE: u32 = 100;

/// The most changes [`Client::changes`] returns in one call (100 pages of 100).
pub const MAX_FEED_CHANGES: usize = 10_000;

/// The most response bytes [`Client::changes`] reads in one call (64 MiB): it stops before the
/// next page once the pages read so far reach it (one page is itself capped by
/// [`ClientBuilder::max_body_bytes`]).
pub const MAX_FEED_BYTES: usize = 64 << 20;

/// The most pages [`Client::changes`] requests in one call (1000). Full pages of 100 reach
/// [`MAX_FEED_CHANGES`] after 100 pages; this bound stops a server that serves tiny pages
/// and always announces another one from causing thousands of sequential requests, while a
/// server that caps its page size as low as 10 still delivers a whole [`MAX_FEED_CHANGES`].
pub const MAX_FEED_PAGES: u32 = 1000;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ChangeFeed {
    Page(Page<Change>),
    Bare(Vec<Change>),
}

#[derive(Serialize)]
struct AuthorizeWire<'a> {
    token: &'a str,
    #[serde(flatten)]
    request: &'a AuthorizeRequest,
}

#[derive(Serialize)]
struct RevokeWire<'a> {
    token: &'a str,
    gateway_code: &'a str,
}

#[derive(Serialize)]
struct MeshTokenWire<'a> {
    mesh_id: &'a str,
    destination_url: &'a str,
}

#[derive(Serialize)]
struct AcknowledgeWire<'a> {
    change_ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct FailedWire<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

impl Client {
    /// A builder for a client of the API at `api_url` (the base-URL rule of
    /// [`api_root`] is applied by [`ClientBuilder::build`]).
    pub fn builder(api_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(api_url)
    }

    /// A client with default settings and no token.
    ///
    /// ```
    /// let client = runbeam_core::client::Client::new("http://127.0.0.1:8080")?;
    /// assert_eq!(client.api_root(), "http://127.0.0.1:8080/api");
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn new(api_url: &str) -> Result<Client> {
        Client::builder(api_url).build()
    }

    /// The API root every path is relative to (`https://api.runbeam.io/api`).
    pub fn api_root(&self) -> &str {
        &self.shared.root
    }

    /// The user agent sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.shared.user_agent
    }

    /// The total deadline of one call, retries included.
    pub fn deadline(&self) -> Duration {
        self.shared.deadline
    }

    /// The kind of the client's token, if it has one.
    pub fn token_kind(&self) -> Option<TokenKind> {
        self.token.as_ref().map(|t| classify_token(t.expose()))
    }

    /// The same client (same settings, same connection pool) with another token.
    ///
    /// ```
    /// use runbeam_core::{client::{Client, TokenKind}, Secret};
    /// let anonymous = Client::new("http://localhost:8080")?;
    /// let user = anonymous.with_token(Secret::new("1|abc".to_string()));
    /// assert_eq!(user.token_kind(), Some(TokenKind::Sanctum));
    /// assert_eq!(anonymous.token_kind(), None);
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn with_token(&self, token: Secret) -> Client {
        Client {
            shared: Arc::clone(&self.shared),
            token: Some(token),
        }
    }

    /// The same client (same settings, same connection pool, same token) for the API at
    /// another URL — e.g. a second provider of a mesh configuration. The base-URL rule of
    /// [`api_root`] applies, with this client's `allow_insecure_http` setting.
    ///
    /// ```
    /// use runbeam_core::client::Client;
    /// let cloud = Client::new("http://127.0.0.1:8080")?;
    /// let other = cloud.with_api_root("http://localhost:9090/")?;
    /// assert_eq!(other.api_root(), "http://localhost:9090/api");
    /// assert!(cloud.with_api_root("http://partner.example.com").is_err());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed or insecure URL.
    pub fn with_api_root(&self, api_url: &str) -> Result<Client> {
        let s = &self.shared;
        let root = api_root(api_url, s.allow_insecure_http)?;
        if root == s.root {
            return Ok(self.clone());
        }
        Ok(Client {
            shared: Arc::new(Shared {
                http: s.http.clone(),
                root,
                retry: s.retry,
                request_timeout: s.request_timeout,
                deadline: s.deadline,
                max_body_bytes: s.max_body_bytes,
                user_agent: s.user_agent.clone(),
                allow_insecure_http: s.allow_insecure_http,
            }),
            token: self.token.clone(),
        })
    }

    fn bearer(&self, call: &Call) -> Result<&Secret> {
        self.token.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::NoToken,
                format!(
                    "{} {}: no token is set on the client; set a user JWT or Sanctum token with \
                     ClientBuilder::token or Client::with_token",
                    call.method, call.path
                ),
            )
        })
    }

    /// `POST /harmony/authorize`: authorizes a gateway with the client's user JWT or Sanctum
    /// token (repeated in the body's `token`) and returns its machine token. A new gateway
    /// code creates the gateway; a code of another team is `PermissionDenied`. Not retried.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::client::AuthorizeRequest;
    /// let granted = client.authorize(AuthorizeRequest::new("radiology-gw-1")).await?;
    /// println!("gateway {} until {}", granted.gateway.id, granted.expires_at);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizeResult> {
        let call = Call::new(Method::POST, "/harmony/authorize");
        let token = self.bearer(&call)?;
        let call = call.json(&AuthorizeWire {
            token: token.expose(),
            request: &request,
        })?;
        self.send_json(call).await
    }

    /// `POST /harmony/revoke`: revokes every machine token of the gateway `gateway_code`,
    /// with the client's user token.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// client.revoke("radiology-gw-1").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke(&self, gateway_code: &str) -> Result<Acknowledgement> {
        let call = Call::new(Method::POST, "/harmony/revoke");
        let token = self.bearer(&call)?;
        let call = call.json(&RevokeWire {
            token: token.expose(),
            gateway_code,
        })?;
        self.send_json(call).await
    }

    /// `GET /harmony/base-url` (machine token).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// let base = client.base_url().await?;
    /// println!("{} {:?}", base.base_url, base.changes_path);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn base_url(&self) -> Result<BaseUrl> {
        self.send_json(Call::get("/harmony/base-url")).await
    }

    /// `GET /harmony/resources/resolve?ref=<reference>` (machine token). A reference that
    /// does not exist is `NotFound` (`"Resource not found: <reference>"`).
    ///
    /// This is the raw API call: it does not check the gateway's mesh configuration (the
    /// mesh-context rule, docs/spec.md §2.3) and caches nothing. A gateway resolves through
    /// [`Resolver::resolve`](crate::resolve::Resolver::resolve), which enforces that rule
    /// (`NotInMesh`), caches and serves stale answers; call this only to bypass them.
    ///
    /// # Errors
    /// Besides the HTTP errors, `InvalidArgument` for a local reference: those are answered
    /// from the gateway's configuration, not by the Cloud.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::Reference;
    /// let r = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb")?;
    /// let resolved = client.resolve(&r).await?;
    /// assert_eq!(resolved.resource.name, "dicomweb");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resolve(&self, reference: &Reference) -> Result<ResolveResult> {
        if reference.is_local() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "'{reference}' is a local reference; it is answered from the gateway \
                     configuration, not by Runbeam Cloud"
                ),
            ));
        }
        let call = Call::get("/harmony/resources/resolve")
            .query("ref", reference.as_str())
            .subject(reference.as_str());
        let wire: ResolveWire = self.send_json(call).await?;
        Ok(ResolveResult {
            resource: wire.data,
            provider: wire.meta.provider,
            resolved_at: wire.meta.resolved_at,
        })
    }

    /// `POST /harmony/mesh/token` (machine token): a short-lived token to call
    /// `destination_url` through the mesh `mesh_id`. Refused (`PermissionDenied`) when the
    /// gateway's team has no enabled egress in the mesh or the URL matches no ingress.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// let t = client
    ///     .mesh_token("imaging-integration", "https://dicom.radiology.example.com/studies")
    ///     .await?;
    /// println!("valid until {}", t.expires_at);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn mesh_token(
        &self,
        mesh_id: &str,
        destination_url: &str,
    ) -> Result<MeshTokenResult> {
        let call = Call::new(Method::POST, "/harmony/mesh/token").json(&MeshTokenWire {
            mesh_id,
            destination_url,
        })?;
        self.send_json(call).await
    }

    /// `GET /.well-known/jwks.json` (public; no token needed): the Cloud's signing keys.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// let jwks = client.jwks().await?;
    /// println!("{} keys", jwks.keys.len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn jwks(&self) -> Result<Jwks> {
        self.send_json(Call::get("/.well-known/jwks.json").public())
            .await
    }

    /// `GET /harmony/changes` or `GET /harmony/changes/<gateway_id>` (machine token): the
    /// pending and acknowledged configuration changes, page after page of the feed (100 per
    /// page). A bare JSON array is accepted too.
    ///
    /// Bounded: at most [`MAX_FEED_CHANGES`] changes, at most [`MAX_FEED_PAGES`] requests,
    /// and no further page once [`MAX_FEED_BYTES`] of response bodies were read. Whichever
    /// bound is reached first truncates a longer feed at that point (a warning is logged on
    /// `runbeam::client`): the first changes of the feed are returned, in feed order; apply
    /// and acknowledge them, then call again for the next ones. A server that always
    /// announces another page cannot make it loop, send requests or grow without end.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// for change in client.changes(None).await? {
    ///     client.change_applied(&change.id).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn changes(&self, gateway_id: Option<&str>) -> Result<Vec<Change>> {
        let path = match gateway_id {
            Some(id) => format!("/harmony/changes/{}", segment("gateway id", id)?),
            None => "/harmony/changes".to_string(),
        };
        let mut all = Vec::new();
        let mut bytes = 0usize;
        let mut page = 1u32;
        loop {
            let call = Call::get(path.clone())
                .query("page", page.to_string())
                .query("per_page", FEED_PER_PAGE.to_string());
            let (feed, size): (ChangeFeed, usize) = self.send_json_sized(call).await?;
            bytes = bytes.saturating_add(size);
            let more = match feed {
                ChangeFeed::Bare(changes) => {
                    all = changes;
                    false
                }
                ChangeFeed::Page(got) => {
                    let more = got.has_next();
                    all.extend(got.data);
                    more
                }
            };
            let bound_reached =
                all.len() >= MAX_FEED_CHANGES || bytes >= MAX_FEED_BYTES || page >= MAX_FEED_PAGES;
            let truncated = all.len() > MAX_FEED_CHANGES || (more && bound_reached);
            if truncated {
                all.truncate(MAX_FEED_CHANGES);
                tracing::warn!(
                    target: "runbeam::client",
                    changes = all.len(),
                    bytes,
                    pages = page,
                    "the change feed is longer than one call returns (at most {MAX_FEED_CHANGES} \
                     changes, {MAX_FEED_PAGES} pages, {MAX_FEED_BYTES} bytes); returning its \
                     first changes: apply and acknowledge them, then fetch the feed again"
                );
                return Ok(all);
            }
            if !more {
                return Ok(all);
            }
            page = page.saturating_add(1);
        }
    }

    /// `GET /harmony/change/<id>` (machine token).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// let change = client.change("42").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn change(&self, id: &str) -> Result<Change> {
        let path = format!("/harmony/change/{}", segment("change id", id)?);
        let change: Enveloped<Change> = self.send_json(Call::get(path)).await?;
        Ok(change.into_inner())
    }

    /// `POST /harmony/changes/acknowledge {change_ids}` (machine token).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// client.acknowledge_changes(&["41", "42"]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acknowledge_changes<S: AsRef<str>>(&self, ids: &[S]) -> Result<Acknowledgement> {
        let call =
            Call::new(Method::POST, "/harmony/changes/acknowledge").json(&AcknowledgeWire {
                change_ids: ids.iter().map(AsRef::as_ref).collect(),
            })?;
        self.send_json(call).await
    }

    /// `POST /harmony/change/<id>/applied` (machine token).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// client.change_applied("42").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn change_applied(&self, id: &str) -> Result<Acknowledgement> {
        let path = format!("/harmony/change/{}/applied", segment("change id", id)?);
        self.send_json(Call::new(Method::POST, path).json(&serde_json::json!({}))?)
            .await
    }

    /// `POST /harmony/change/<id>/failed {error, details?}` (machine token).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// let details = serde_json::json!({"line": 3});
    /// client.change_failed("42", "invalid TOML", Some(&details)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn change_failed(
        &self,
        id: &str,
        error: &str,
        details: Option<&Value>,
    ) -> Result<Acknowledgement> {
        let path = format!("/harmony/change/{}/failed", segment("change id", id)?);
        let call = Call::new(Method::POST, path).json(&FailedWire { error, details })?;
        self.send_json(call).await
    }

    /// `POST /harmony/update` (machine token): creates or updates a gateway, pipeline,
    /// transform or mesh from TOML. Not retried.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::client::{UpdateKind, UpdateRequest};
    /// let done = client
    ///     .update_config(UpdateRequest::new(UpdateKind::Pipeline, "[pipeline]\nname = \"p\"\n"))
    ///     .await?;
    /// println!("{:?} {}", done.data.action, done.data.id);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update_config(&self, request: UpdateRequest) -> Result<UpdateResult> {
        let call = Call::new(Method::POST, "/harmony/update").json(&request)?;
        self.send_json(call).await
    }

    /// The CRUD calls of a collection, with resources as [`Resource`] (typed common fields,
    /// every other field kept).
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::client::{Collection, PageRequest};
    /// let page = client.collection(Collection::Gateways).list(PageRequest::default()).await?;
    /// println!("{} of {}", page.data.len(), page.meta.total);
    /// # Ok(())
    /// # }
    /// ```
    pub fn collection(&self, collection: Collection) -> CollectionClient<Resource> {
        CollectionClient::new(self.clone(), collection)
    }

    /// The CRUD calls of the collection of resource model `T` ([`resources`]: `Gateway`,
    /// `Service`, `Endpoint`, `Backend`, `Pipeline`, `Mesh`, `Ingress`, `Egress`), typed.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::client::resources::Mesh;
    /// let first = client.resources::<Mesh>().list(Default::default()).await?;
    /// for mesh in first.data {
    ///     println!("{} {:?} {:?}", mesh.id, mesh.name, mesh.protocol);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn resources<T: resources::CollectionResource>(&self) -> CollectionClient<T> {
        CollectionClient::new(self.clone(), T::COLLECTION)
    }

    /// The CRUD calls of a collection, with resources decoded as `T`.
    pub fn collection_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        collection: Collection,
    ) -> CollectionClient<T> {
        CollectionClient::new(self.clone(), collection)
    }
}
