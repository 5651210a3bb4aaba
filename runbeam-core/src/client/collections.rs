//! The resource collections of docs/spec.md §3.3 (`gateways`, `services`, …): pages and CRUD.

use std::fmt;
use std::marker::PhantomData;

use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Client;
use super::http::Call;
use super::types::{Enveloped, de, ser};
use super::url::segment;
use crate::error::{Error, ErrorKind, Result};

/// A resource collection of the API.
///
/// ```
/// use runbeam_core::client::Collection;
/// assert_eq!(Collection::Ingresses.name(), "ingresses");
/// assert_eq!(Collection::from_name("meshes"), Some(Collection::Meshes));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// `gateways`
    Gateways,
    /// `services`
    Services,
    /// `endpoints`
    Endpoints,
    /// `backends`
    Backends,
    /// `pipelines`
    Pipelines,
    /// `meshes`
    Meshes,
    /// `ingresses`
    Ingresses,
    /// `egresses`
    Egresses,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 8] = [
        Collection::Gateways,
        Collection::Services,
        Collection::Endpoints,
        Collection::Backends,
        Collection::Pipelines,
        Collection::Meshes,
        Collection::Ingresses,
        Collection::Egresses,
    ];

    /// The path segment (`"gateways"`).
    pub const fn name(self) -> &'static str {
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

    /// The collection of a path segment.
    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which page to list.
///
/// ```
/// use runbeam_core::client::PageRequest;
/// assert_eq!(PageRequest::default(), PageRequest { page: 1, per_page: 15 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page (1-1000).
    pub per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: 15,
        }
    }
}

/// One page of a collection: `{data, links, meta}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
#[non_exhaustive]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Links to other pages.
    #[serde(default)]
    pub links: Links,
    /// Page numbers and totals.
    #[serde(default)]
    pub meta: PageMeta,
}

impl<T> Page<T> {
    /// Whether a later page exists (by `meta.last_page`, else by `links.next`).
    pub fn has_next(&self) -> bool {
        if self.meta.last_page > 0 {
            self.meta.current_page < self.meta.last_page
        } else {
            self.links.next.is_some()
        }
    }
}

/// The `links` of a [`Page`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Links {
    /// First page.
    #[serde(default)]
    pub first: Option<String>,
    /// Last page.
    #[serde(default)]
    pub last: Option<String>,
    /// Previous page.
    #[serde(default)]
    pub prev: Option<String>,
    /// Next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// The `meta` of a [`Page`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PageMeta {
    /// This page's number.
    #[serde(default)]
    pub current_page: u64,
    /// The last page's number.
    #[serde(default)]
    pub last_page: u64,
    /// Items per page.
    #[serde(default)]
    pub per_page: u64,
    /// Items in the collection.
    #[serde(default)]
    pub total: u64,
    /// Fields this SDK does not know (`from`, `to`, `path`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A resource of any collection: the common fields typed, every other field kept in `extra`
/// (and sent back by `create`/`update`).
///
/// ```
/// use runbeam_core::client::Resource;
/// let r: Resource = serde_json::from_str(r#"{"id": 7, "name": "gw", "code": "gw-1"}"#).unwrap();
/// assert_eq!(r.id, "7");
/// assert_eq!(r.extra["code"], "gw-1");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Resource {
    /// Server-side id.
    #[serde(deserialize_with = "de::id")]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Owning team.
    #[serde(
        default,
        deserialize_with = "de::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub team_id: Option<String>,
    /// Creation time.
    #[serde(
        default,
        deserialize_with = "de::opt_timestamp",
        serialize_with = "ser::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// Last update time.
    #[serde(
        default,
        deserialize_with = "de::opt_timestamp",
        serialize_with = "ser::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The CRUD calls of one collection (user token); from [`Client::collection`].
pub struct CollectionClient<T> {
    client: Client,
    collection: Collection,
    item: PhantomData<fn() -> T>,
}

impl<T> Clone for CollectionClient<T> {
    fn clone(&self) -> Self {
        CollectionClient {
            client: self.client.clone(),
            collection: self.collection,
            item: PhantomData,
        }
    }
}

impl<T> fmt::Debug for CollectionClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionClient")
            .field("collection", &self.collection)
            .field("client", &self.client)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> CollectionClient<T> {
    pub(crate) fn new(client: Client, collection: Collection) -> Self {
        CollectionClient {
            client,
            collection,
            item: PhantomData,
        }
    }

    /// The collection.
    pub fn collection(&self) -> Collection {
        self.collection
    }

    fn item_path(&self, id: &str) -> Result<String> {
        Ok(format!("/{}/{}", self.collection, segment("id", id)?))
    }

    /// `GET /<collection>?page=&per_page=`: one page.
    ///
    /// # Errors
    /// `InvalidArgument` when `page` is 0 or `per_page` is not in 1-1000, else the HTTP errors.
    pub async fn list(&self, request: PageRequest) -> Result<Page<T>> {
        if request.page == 0 || !(1..=1000).contains(&request.per_page) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "page must be ≥ 1 and per_page in 1-1000 (got page {}, per_page {})",
                    request.page, request.per_page
                ),
            ));
        }
        let call = Call::get(format!("/{}", self.collection))
            .query("page", request.page.to_string())
            .query("per_page", request.per_page.to_string());
        self.client.send_json(call).await
    }

    /// Every item of the collection, fetching page after page of `per_page` items as the
    /// stream is consumed; stops after `meta.last_page` (or when `links.next` is null, or at
    /// an empty page). Next pages are requested by number from the API root, never by
    /// following `links.next`, so the token never goes to a host other than the API's.
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use runbeam_core::client::Collection;
    /// let all: Vec<_> = client.collection(Collection::Gateways).list_all(50).try_collect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_all(&self, per_page: u32) -> impl Stream<Item = Result<T>> + Send + 'static {
        let this = self.clone();
        stream::try_unfold(Some(1u32), move |page| {
            let this = this.clone();
            async move {
                let Some(page) = page else {
                    return Ok(None);
                };
                let got = this.list(PageRequest { page, per_page }).await?;
                let next = if got.data.is_empty() || !got.has_next() {
                    None
                } else {
                    page.checked_add(1)
                };
                Ok(Some((got.data, next)))
            }
        })
        .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// `GET /<collection>/<id>`.
    pub async fn get(&self, id: &str) -> Result<T> {
        let call = Call::get(self.item_path(id)?);
        let item: Enveloped<T> = self.client.send_json(call).await?;
        Ok(item.into_inner())
    }

    /// `POST /<collection>` with `resource` as JSON; returns the created resource. Not retried.
    pub async fn create<B: Serialize + ?Sized>(&self, resource: &B) -> Result<T> {
        let call = Call::new(Method::POST, format!("/{}", self.collection)).json(resource)?;
        let item: Enveloped<T> = self.client.send_json(call).await?;
        Ok(item.into_inner())
    }

    /// `PUT /<collection>/<id>` with `resource` as JSON; returns the updated resource.
    pub async fn update<B: Serialize + ?Sized>(&self, id: &str, resource: &B) -> Result<T> {
        let call = Call::new(Method::PUT, self.item_path(id)?).json(resource)?;
        let item: Enveloped<T> = self.client.send_json(call).await?;
        Ok(item.into_inner())
    }

    /// `DELETE /<collection>/<id>`; any 2xx answer is success.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let call = Call::new(Method::DELETE, self.item_path(id)?);
        self.client.send_unit(call).await
    }
}
