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
/// assert!(PageRequest { page: 1, per_page: 100 }.check().is_ok());
/// assert!(PageRequest { page: 1, per_page: 101 }.check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page (1 to [`PageRequest::MAX_PER_PAGE`]).
    pub per_page: u32,
}

impl PageRequest {
    /// Items per page of [`PageRequest::default`] (15, the API's own default).
    pub const DEFAULT_PER_PAGE: u32 = 15;

    /// The most items a page may be asked for (100): the Cloud API answers a larger
    /// `per_page` with 422 (docs/spec.md §3), so it is refused before sending.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Checks the request: what [`CollectionClient::list`] and [`CollectionClient::pages`]
    /// refuse before sending anything.
    ///
    /// # Errors
    /// `InvalidArgument` when `page` is 0 or `per_page` is not in 1 to
    /// [`PageRequest::MAX_PER_PAGE`].
    pub fn check(&self) -> Result<()> {
        if self.page == 0 || !(1..=PageRequest::MAX_PER_PAGE).contains(&self.per_page) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "page must be at least 1 and per_page between 1 and {} (got page {}, \
                     per_page {})",
                    PageRequest::MAX_PER_PAGE,
                    self.page,
                    self.per_page
                ),
            ));
        }
        Ok(())
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: PageRequest::DEFAULT_PER_PAGE,
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
    /// Whether a later page exists: by `meta.last_page` when the server sent it, else by
    /// `links.next`. An empty page has no next one (a server that announces more but sends
    /// nothing would otherwise be asked forever). The one rule every page walk of this SDK
    /// follows ([`PageCursor`], [`CollectionClient::list_all`], [`Client::changes`]).
    ///
    /// ```
    /// use runbeam_core::client::{Page, Resource};
    /// let only_next: Page<Resource> = serde_json::from_str(
    ///     r#"{"data": [{"id": 1}], "links": {"next": "https://api.runbeam.io/api/gateways?page=2"}}"#,
    /// )?;
    /// assert!(only_next.has_next());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn has_next(&self) -> bool {
        if self.data.is_empty() {
            false
        } else if self.meta.last_page > 0 {
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
    /// `InvalidArgument` when the request fails [`PageRequest::check`], else the HTTP errors.
    pub async fn list(&self, request: PageRequest) -> Result<Page<T>> {
        request.check()?;
        let call = Call::get(format!("/{}", self.collection))
            .query("page", request.page.to_string())
            .query("per_page", request.per_page.to_string());
        self.client.send_json(call).await
    }

    /// A cursor over the pages of the collection, `per_page` items each, from page 1: see
    /// [`PageCursor`].
    ///
    /// ```no_run
    /// # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
    /// use runbeam_core::client::Collection;
    /// let mut pages = client.collection(Collection::Gateways).pages(100)?;
    /// while let Some(items) = pages.next().await? {
    ///     println!("{} gateways", items.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` when `per_page` is not in 1 to [`PageRequest::MAX_PER_PAGE`]
    /// (before anything is sent).
    pub fn pages(&self, per_page: u32) -> Result<PageCursor<T>> {
        let first = PageRequest { page: 1, per_page };
        first.check()?;
        Ok(PageCursor {
            items: self.clone(),
            next: Some(first),
            pages_read: 0,
            max_pages: MAX_LIST_PAGES,
        })
    }

    /// Every item of the collection, fetching page after page of `per_page` items as the
    /// stream is consumed: the items of a [`PageCursor`] (same rule, same bound), one by one.
    /// An invalid `per_page` is the stream's first and only item.
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
        let cursor = self.pages(per_page);
        stream::once(async move { cursor })
            .map_ok(|cursor| {
                stream::try_unfold(cursor, |mut cursor| async move {
                    Ok(cursor.next().await?.map(|items| (items, cursor)))
                })
            })
            .try_flatten()
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

/// The most pages a [`PageCursor`] requests (10 000): a walk of
/// [`CollectionClient::list_all`] reads at most this many pages, i.e. at most 10 million items
/// with pages of 1000. A server that always announces another page cannot make it send
/// requests forever.
pub const MAX_LIST_PAGES: u32 = 10_000;

/// Items per page of a whole-collection walk when the caller names none (100), used by the
/// bindings' `listAll` / `iter_all`.
pub const DEFAULT_LIST_ALL_PER_PAGE: u32 = 100;

/// Walks the pages of a collection, from [`CollectionClient::pages`]: each
/// [`next`](Self::next) fetches one page and returns its items, until [`Page::has_next`] says
/// there is none. Next pages are requested by number from the API root (page 1, 2, …), never
/// by following `links.next`, so the token never goes to a host other than the API's.
///
/// A failed fetch leaves the cursor where it was: calling `next` again retries the same page.
/// At most [`MAX_LIST_PAGES`] pages are requested; when the last of them still announces a
/// next page, `next` fails with `Protocol` rather than silently returning a partial
/// collection.
pub struct PageCursor<T> {
    items: CollectionClient<T>,
    next: Option<PageRequest>,
    pages_read: u32,
    max_pages: u32,
}

impl<T> fmt::Debug for PageCursor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageCursor")
            .field("collection", &self.items.collection)
            .field("next", &self.next)
            .field("pages_read", &self.pages_read)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> PageCursor<T> {
    /// Lowers the page bound of this walk (at most [`MAX_LIST_PAGES`]; 0 is taken as 1).
    pub fn max_pages(mut self, max_pages: u32) -> Self {
        self.max_pages = max_pages.clamp(1, MAX_LIST_PAGES);
        self
    }

    /// The items of the next page, or `None` when every page was read.
    ///
    /// # Errors
    /// The errors of [`CollectionClient::list`] (the cursor does not move: call again to retry
    /// the page), or `Protocol` when the server still announces a next page after
    /// [`MAX_LIST_PAGES`] pages.
    pub async fn next(&mut self) -> Result<Option<Vec<T>>> {
        let Some(request) = self.next else {
            return Ok(None);
        };
        if self.pages_read >= self.max_pages {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "GET /{}: the server still announces a next page after {} pages of {}; \
                     the SDK stops there: list the pages you need with list(page, per_page) \
                     or use a larger per_page",
                    self.items.collection, self.pages_read, request.per_page
                ),
            ));
        }
        let page = self.items.list(request).await?;
        self.pages_read = self.pages_read.saturating_add(1);
        self.next = if page.has_next() {
            request.page.checked_add(1).map(|page| PageRequest {
                page,
                per_page: request.per_page,
            })
        } else {
            None
        };
        Ok(Some(page.data))
    }
}
