"""Type stubs of ``runbeam._native``, the Rust extension behind :mod:`runbeam`.

Checked against the built module by ``mypy.stubtest`` (``make python-stubtest``).
"""

import datetime
import os
from types import GenericAlias
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, Dict, Generic, Iterable, Iterator, List, Literal, Optional, Sequence, Tuple, Type, TypeVar, Union, final, overload

from typing_extensions import disjoint_base

from . import errors as _errors
from . import resources as _resources

__version__: str

def error_kinds() -> List[Tuple[str, str, int, str, bool, bool]]:
    """`_native.error_kinds()`: the core's error table, one
    `(name, code, c_status, category, retryable, is_argument_error)` tuple per kind in table
    order, so that `runbeam.errors` and the test suite can prove there is a class for each.
    """

_Path = Union[str, "os.PathLike[str]"]

@final
class Reference:
    """A parsed, validated resource reference (docs/spec.md §1), compared and hashed by canonical form.
    `Reference(text)` is the same as `Reference.parse(text)`.

    ```python
    ref = runbeam.Reference.parse("local.name.my-ingress")
    assert ref.is_local and str(ref) == "my-ingress"
    ```
    """

    def __new__(cls, text: str) -> Reference:
        ...
    @staticmethod
    def parse(text: str) -> Reference:
        """Parses `text` strictly.

        Raises:
            InvalidReferenceError: the text is not a reference; the message names the
                reference, the 0-based segment and what was expected there.
            InvalidArgumentError: the text contains lone surrogates.
            TypeError: `text` is not a `str`.
        """
    @property
    def provider(self) -> str:
        """The provider (`"local"` for local references)."""
    @property
    def team(self) -> Optional[str]:
        """The team, for team-scoped and full references."""
    @property
    def type(self) -> Optional[str]:
        """The resource type (lowercase) of a full reference: `"ingress"`, `"egress"`,
        `"pipeline"`, `"endpoint"`, `"backend"` or `"mesh"`.
        """
    @property
    def lookup(self) -> str:
        """`"id"` or `"name"`."""
    @property
    def value(self) -> str:
        """The id or name."""
    @property
    def is_local(self) -> bool:
        """Whether this names a resource of the gateway's own configuration."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: Reference, /) -> bool: ...
    def __le__(self, other: Reference, /) -> bool: ...
    def __gt__(self, other: Reference, /) -> bool: ...
    def __ge__(self, other: Reference, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> Tuple[Type[Reference], Tuple[str]]: ...
    def __copy__(self) -> Reference: ...
    def __deepcopy__(self, memo: Any, /) -> Reference: ...

@final
class Problem:
    """One finding of a configuration check: `kind`, TOML `path` and `message`."""

    def __new__(cls, kind: str, path: str, message: str) -> Problem: ...
    @property
    def kind(self) -> str:
        """The error kind name: `"Config"`, `"InvalidReference"` or `"UnknownProvider"`."""
    @property
    def path(self) -> str:
        """Dotted TOML path of the value concerned, e.g. `"mesh.imaging.egress[0]"`."""
    @property
    def message(self) -> str:
        """What is wrong, without the path."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __reduce__(self) -> Tuple[Type[Problem], Tuple[str, str, str]]: ...

@final
class Mesh:
    """A `[mesh.<name>]` table (snapshot)."""

    @property
    def name(self) -> str:
        """The table name."""
    @property
    def protocol(self) -> str:
        """`"http"` or `"http3"`."""
    @property
    def provider(self) -> str:
        """The provider that runs the mesh."""
    @property
    def id(self) -> Optional[str]:
        """`id` as written, if any."""
    @property
    def cloud_id(self) -> str:
        """The id used with the Cloud API (`id`, else the name)."""
    @property
    def enabled(self) -> bool:
        """`enabled` as written (default true)."""
    @property
    def is_active(self) -> bool:
        """Enabled and its provider configured and enabled: the mesh gives context."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def ingress(self) -> List[Reference]:
        """The references of the `ingress` list that parse, in order."""
    @property
    def egress(self) -> List[Reference]:
        """The references of the `egress` list that parse, in order."""

@final
class MeshMember:
    """A remote reference listed in a mesh: `mesh` (name), `direction` and `reference`."""

    @property
    def mesh(self) -> str:
        """The name of the mesh that lists it."""
    @property
    def direction(self) -> str:
        """`"ingress"` or `"egress"`: the mesh list it appears in."""
    @property
    def reference(self) -> Reference:
        """The reference."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Provider:
    """A `[provider.<name>]` table, or the implicit `local` provider (snapshot)."""

    @property
    def name(self) -> str:
        """The table name."""
    @property
    def api(self) -> Optional[str]:
        """The API root URL (`None` for `local`)."""
    @property
    def poll_interval_secs(self) -> int:
        """Seconds between polls for configuration changes."""
    @property
    def cache_ttl_secs(self) -> int:
        """Resolution cache TTL in seconds."""
    @property
    def enabled(self) -> bool:
        """Whether the provider is used."""

@final
class Ingress:
    """A `[pipelines.<p>.mesh.ingress.<name>]` table: a local mesh ingress (snapshot)."""

    @property
    def name(self) -> str:
        """The table name (local references name it)."""
    @property
    def pipeline(self) -> str:
        """The pipeline that defines it."""
    @property
    def protocol(self) -> str:
        """`"http"` or `"http3"`."""
    @property
    def urls(self) -> List[str]:
        """URLs clients use to reach it."""
    @property
    def endpoint(self) -> Optional[str]:
        """The pipeline endpoint it feeds."""
    @property
    def mode(self) -> str:
        """`"default"` or `"mesh"`."""
    @property
    def enabled(self) -> bool:
        """Whether it is active."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""

@final
class Egress:
    """A `[pipelines.<p>.mesh.egress.<name>]` table: a local mesh egress (snapshot)."""

    @property
    def name(self) -> str:
        """The table name (local references name it)."""
    @property
    def pipeline(self) -> str:
        """The pipeline that defines it."""
    @property
    def protocol(self) -> str:
        """`"http"` or `"http3"`."""
    @property
    def backend(self) -> Optional[str]:
        """The pipeline backend it uses."""
    @property
    def mode(self) -> str:
        """`"default"` or `"mesh"`."""
    @property
    def enabled(self) -> bool:
        """Whether it is active."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""

@final
class MeshConfig:
    """The mesh part of a gateway configuration (docs/spec.md §2), loaded from one or more TOML documents.

    ```python
    config = runbeam.MeshConfig.from_files(["gateway.toml", "mesh.toml"])
    for problem in config.validate():
        print(problem)          # "mesh.m.egress[1]: Unknown provider ..."
    ```
    """

    @staticmethod
    def from_toml(text: str) -> MeshConfig:
        """Loads one TOML document; raises `ConfigError` listing every problem."""
    @staticmethod
    def from_file(path: _Path) -> MeshConfig:
        """Reads and loads one file (`str` or `os.PathLike`); raises `ConfigError`."""
    @staticmethod
    def from_files(paths: Iterable[_Path]) -> MeshConfig:
        """Reads, merges and loads several files (an iterable of `str` / `os.PathLike`), in order;
        raises `ConfigError`.
        """
    def with_provider_api(self, name: str, url: str) -> MeshConfig:
        """A copy of this configuration with provider `name`'s `api` URL replaced by `url`: points
        a gateway's configuration at another Cloud (staging, a local `runbeam-devcloud`)
        without editing the file. `validate()` checks the URL like one read from TOML.

        ```python
        config = runbeam.MeshConfig.from_file("gateway.toml")
        dev = config.with_provider_api("runbeam", "http://127.0.0.1:8080")
        ```

        Raises `UnknownProviderError` when there is no `[provider.<name>]` table.
        """
    def validate(self) -> List[Problem]:
        """Every problem of the configuration (docs/spec.md §2.2), in document order; empty means valid.
        """
    def in_mesh_context(self, reference: Union[Reference, str]) -> bool:
        """Whether `reference` is listed in an active mesh (a `str` is parsed first and raises
        `InvalidReferenceError` if it is not a reference).
        """
    def check_mesh_context(self, reference: Union[Reference, str]) -> str:
        """The name of the first active mesh listing `reference`.

        Raises:
            UnknownProviderError: the reference's provider is not configured.
            NotInMeshError: no active mesh lists the reference.
            InvalidReferenceError: `reference` is a `str` that is not a reference.
        """
    def remote_references(self) -> List[MeshMember]:
        """Every remote reference listed in a mesh (enabled or not), in document order."""
    def meshes(self) -> List[Mesh]:
        """The meshes, in document order."""
    def providers(self) -> List[Provider]:
        """Configured providers, then the implicit `local` one."""
    def ingresses(self) -> List[Ingress]:
        """Local mesh ingresses of all pipelines, in document order."""
    def egresses(self) -> List[Egress]:
        """Local mesh egresses of all pipelines, in document order."""

# --- Runbeam Cloud API client -----------------------------------------------------------------

_Json = Dict[str, Any]

@final
class AuthorizeResult:
    """The answer of `Client.authorize`: a machine token for a gateway. `repr()` never shows the
    token.
    """

    @property
    def machine_token(self) -> str:
        """The gateway machine token."""
    @property
    def expires_in(self) -> int:
        """Seconds until the token expires, counted when it was issued."""
    @property
    def expires_at(self) -> datetime.datetime:
        """When the token expires (aware, UTC)."""
    @property
    def gateway(self) -> Dict[str, Any]:
        """`{"id", "code", "name", "authorized_by"}` of the gateway; `authorized_by` is
        `{"id", "name", "email"}` of the user who authorized it, or `None` when the Cloud did
        not say.
        """
    @property
    def abilities(self) -> List[str]:
        """What the token allows."""
    def __repr__(self) -> str: ...

@final
class ResolvedResource:
    """A resource found by `resolve`."""

    @property
    def type(self) -> str:
        """`"ingress"`, `"egress"`, …"""
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def team_id(self) -> Optional[str]: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def urls(self) -> List[str]: ...
    @property
    def protocol(self) -> Optional[str]: ...
    @property
    def mode(self) -> Optional[str]: ...
    @property
    def gateway_id(self) -> Optional[str]: ...
    @property
    def pipeline_id(self) -> Optional[str]: ...
    @property
    def mesh_id(self) -> Optional[str]: ...
    @property
    def backend_id(self) -> Optional[str]: ...
    @property
    def endpoint_id(self) -> Optional[str]: ...
    @property
    def description(self) -> Optional[str]: ...
    def __repr__(self) -> str: ...

@final
class ResolveResult:
    """The answer of `Client.resolve`: the resource and where it came from."""

    @property
    def resource(self) -> ResolvedResource: ...
    @property
    def provider(self) -> str:
        """The provider that answered."""
    @property
    def resolved_at(self) -> datetime.datetime:
        """When the server resolved it (aware, UTC)."""
    def __repr__(self) -> str: ...

@final
class MeshTokenResult:
    """A short-lived mesh token (an RS256 JWT) for one destination."""

    @property
    def token(self) -> str:
        """The token."""
    @property
    def expires_at(self) -> datetime.datetime: ...
    @property
    def mesh_id(self) -> str: ...
    def __repr__(self) -> str: ...

# The typed resource models (runbeam.resources), and what a page or an iteration yields.
_AnyModel = Union[
    _resources.Gateway,
    _resources.Service,
    _resources.Endpoint,
    _resources.Backend,
    _resources.Pipeline,
    _resources.Mesh,
    _resources.Ingress,
    _resources.Egress,
]
_Model = TypeVar("_Model", bound=_AnyModel)
_Item = TypeVar("_Item", covariant=True)

@final
class Page(Generic[_Item]):
    """One page of a collection; `len(page)` is the number of items on it."""

    @property
    def data(self) -> List[_Item]:
        """The resources: `dict`s for a collection named by a string, model objects for a model
        class.
        """
    @property
    def current_page(self) -> int: ...
    @property
    def last_page(self) -> int: ...
    @property
    def per_page(self) -> int: ...
    @property
    def total(self) -> int:
        """Items in the whole collection."""
    @property
    def has_next(self) -> bool: ...
    def __len__(self) -> int: ...
    def __repr__(self) -> str: ...
    @classmethod
    def __class_getitem__(cls, key: Any) -> GenericAlias: ...

@final
class ResourceIterator(Generic[_Item]):
    """Every item of every page of a collection (`Client.list_all`): `dict`s or model objects, as
    `list` gives them; pages are fetched as needed. After an error, iterating again retries the
    failed page.
    """

    def __iter__(self) -> Iterator[_Item]: ...
    def __next__(self) -> _Item: ...
    @classmethod
    def __class_getitem__(cls, key: Any) -> GenericAlias: ...

@final
class AsyncResourceIterator(Generic[_Item]):
    """An async iterator over every item of a collection (`AsyncClient.list_all`)."""

    def __aiter__(self) -> AsyncIterator[_Item]: ...
    def __anext__(self) -> Awaitable[_Item]: ...
    @classmethod
    def __class_getitem__(cls, key: Any) -> GenericAlias: ...

@final
class Change:
    """One configuration change of the change feed (`Client.changes`). `repr()` shows only `id`
    and `status`: the payload may hold configuration.
    """

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Optional[str]:
        """`"pending"`, `"acknowledged"`, `"applied"`, `"failed"`, … when sent."""
    @property
    def extra(self) -> _Json:
        """The change's other fields (its configuration payload, …) as a `dict`."""
    def __repr__(self) -> str: ...

@final
class Acknowledgement:
    """A `{success, message}` answer of the change feed calls."""

    @property
    def success(self) -> bool:
        """Whether the server did it (an absent field counts as true: the status was 2xx)."""
    @property
    def message(self) -> Optional[str]:
        """The server's message."""
    @property
    def extra(self) -> _Json:
        """Every other field of the answer as sent."""
    def __bool__(self) -> bool: ...
    def __repr__(self) -> str: ...

@final
class UpdateResult:
    """The answer of `update_config`: whether it succeeded, and what was created or updated."""

    @property
    def success(self) -> bool:
        """Whether the Cloud accepted the configuration."""
    @property
    def message(self) -> Optional[str]:
        """The Cloud's message, if any."""
    @property
    def data(self) -> UpdatedConfig:
        """What was created or updated."""
    def __repr__(self) -> str: ...

@final
class UpdatedConfig:
    """What `update_config` created or updated."""

    @property
    def id(self) -> str:
        """The configuration's id."""
    @property
    def type(self) -> str:
        """`"gateway"`, `"pipeline"`, `"transform"` or `"mesh"`."""
    @property
    def action(self) -> str:
        """`"created"` or `"updated"`."""
    def __repr__(self) -> str: ...

@final
class Client:
    """The Runbeam Cloud API client (docs/spec.md §3), blocking: every wait releases the GIL,
    and Ctrl-C cancels a call.

    `Client(api_url, *, token=None, connect_timeout, request_timeout, deadline=None,
    max_attempts, ca_bundle_file=None, allow_insecure_http=False, max_body_bytes)`:
    `api_url` without a path gets `/api` appended; `http://` only for loopback hosts unless
    `allow_insecure_http`. Times are in seconds; `deadline` bounds a whole call, retries
    included; `max_attempts` counts the first attempt; a response body larger than
    `max_body_bytes` is a `ProtocolError`. The defaults are the core's.

    A collection is named by string (`"gateways"`, `"services"`, `"endpoints"`,
    `"backends"`, `"pipelines"`, `"meshes"`, `"ingresses"`, `"egresses"`; resources are
    `dict`s) or by a model class of `runbeam.resources` (`Service`, …; resources are its
    objects). Every method raises the `RunbeamError` subclass of the failure, with
    `status`, `retry_after`, `field_errors` and `request` filled in from the server's
    answer.
    """

    def __new__(
        cls,
        api_url: str,
        *,
        token: Optional[str] = None,
        connect_timeout: float = ...,
        request_timeout: float = ...,
        deadline: Optional[float] = None,
        max_attempts: int = ...,
        ca_bundle_file: Optional[_Path] = None,
        allow_insecure_http: bool = False,
        max_body_bytes: int = ...,
    ) -> Client:
        ...
    def with_token(self, token: str) -> Client:
        """A client with the same settings and another bearer token."""
    @property
    def api_root(self) -> str:
        """The normalized API root URL."""
    def authorize(
        self,
        gateway_code: str,
        metadata: Optional[List[str]] = None,
        machine_public_key: Optional[str] = None,
    ) -> AuthorizeResult:
        """Authorizes a gateway (user token): creates it if the code is new and returns a machine
        token for it. `machine_public_key` is the gateway's public key, when it has one.
        """
    def revoke(self, gateway_code: str) -> Acknowledgement:
        """Revokes every machine token of a gateway (user token); returns the Cloud's
        acknowledgement.
        """
    def resolve(self, reference: Union[Reference, str]) -> ResolveResult:
        """Resolves a reference (machine token); a `str` is parsed first. The raw API call: it
        does not check the gateway's mesh configuration and caches nothing — gateways resolve
        through `Resolver.resolve`, which does both.
        """
    def mesh_token(self, mesh_id: str, destination_url: str) -> MeshTokenResult:
        """A mesh token for a destination URL of a mesh (machine token)."""
    def jwks(self) -> _Json:
        """The Cloud's JSON Web Key Set (public)."""
    def base_url(self) -> _Json:
        """The gateway's base URL and change feed location (machine token)."""
    def changes(self, gateway_id: Optional[str] = None) -> List[Change]:
        """The pending and acknowledged changes of the calling gateway, or of `gateway_id`
        (machine token); every page of the feed is fetched.
        """
    def change(self, id: str) -> Change:
        """One change of the feed (machine token)."""
    def acknowledge_changes(self, ids: List[str]) -> Acknowledgement:
        """Acknowledges changes: the gateway has seen them (machine token)."""
    def change_applied(self, id: str) -> Acknowledgement:
        """Reports a change as applied (machine token)."""
    def change_failed(self, id: str, error: str, details: Any = None) -> Acknowledgement:
        """Reports a change as failed with an error message and optional JSON-serializable
        details (machine token).
        """
    def update_config(self, type: str, config: str, *, id: Optional[str] = None) -> UpdateResult:
        """Creates (no `id`, or an unknown one) or updates a gateway, pipeline, transform or mesh
        configuration from TOML (machine token; `POST /harmony/update`, never retried).
        """
    @overload
    def list(self, collection: str, page: int = 1, per_page: int = ...) -> Page[_Json]:
        """One page of a collection (user token). `collection` is a collection name (the items
        are `dict`s) or a model class of `runbeam.resources` (the items are its objects).
        """
    @overload
    def list(
        self, collection: Type[_Model], page: int = 1, per_page: int = ...
    ) -> Page[_Model]:
        """One page of a collection (user token). `collection` is a collection name (the items
        are `dict`s) or a model class of `runbeam.resources` (the items are its objects).
        """
    @overload
    def list_all(self, collection: str, per_page: int = ...) -> ResourceIterator[_Json]:
        """Every item of every page of a collection, as `list` gives them (`dict`s, or model
        objects for a model class); pages are fetched as needed.
        """
    @overload
    def list_all(
        self, collection: Type[_Model], per_page: int = ...
    ) -> ResourceIterator[_Model]:
        """Every item of every page of a collection, as `list` gives them (`dict`s, or model
        objects for a model class); pages are fetched as needed.
        """
    @overload
    def get(self, collection: str, id: str) -> _Json:
        """One resource of a collection (user token): a `dict`, or an object of the model class
        given as `collection`.
        """
    @overload
    def get(self, collection: Type[_Model], id: str) -> _Model:
        """One resource of a collection (user token): a `dict`, or an object of the model class
        given as `collection`.
        """
    @overload
    def create(self, collection: str, body: Any) -> _Json:
        """Creates a resource (user token; never retried): `create(collection, body)` with a
        collection name and a JSON-serializable body returns a `dict`; `create(model)` with a
        model object of `runbeam.resources` (its class names the collection) returns the
        created model.
        """
    @overload
    def create(self, model: _Model) -> _Model:
        """Creates a resource (user token; never retried): `create(collection, body)` with a
        collection name and a JSON-serializable body returns a `dict`; `create(model)` with a
        model object of `runbeam.resources` (its class names the collection) returns the
        created model.
        """
    @overload
    def update(self, collection: str, id: str, body: Any) -> _Json:
        """Updates a resource with the fields of a body (user token): `update(collection, id,
        body)` with a collection name and a JSON-serializable body returns a `dict`;
        `update(id, model)` with a model object of `runbeam.resources` (its fields that are
        set, and its `extra`) returns the updated model.
        """
    @overload
    def update(self, id: str, model: _Model) -> _Model:
        """Updates a resource with the fields of a body (user token): `update(collection, id,
        body)` with a collection name and a JSON-serializable body returns a `dict`;
        `update(id, model)` with a model object of `runbeam.resources` (its fields that are
        set, and its `extra`) returns the updated model.
        """
    def delete(self, collection: Union[str, Type[_AnyModel]], id: str) -> None:
        """Deletes a resource (user token); returns `None`. `collection` is a collection name or
        a model class.
        """
    def __repr__(self) -> str: ...

@final
class AsyncClient:
    """The Runbeam Cloud API client for asyncio: the arguments of `Client`, and every API call
    returns an awaitable (cancelling it aborts the request).
    """

    def __new__(
        cls,
        api_url: str,
        *,
        token: Optional[str] = None,
        connect_timeout: float = ...,
        request_timeout: float = ...,
        deadline: Optional[float] = None,
        max_attempts: int = ...,
        ca_bundle_file: Optional[_Path] = None,
        allow_insecure_http: bool = False,
        max_body_bytes: int = ...,
    ) -> AsyncClient: ...
    def with_token(self, token: str) -> AsyncClient:
        """A client with the same settings and another bearer token."""
    @property
    def api_root(self) -> str:
        """The normalized API root URL."""
    def authorize(
        self,
        gateway_code: str,
        metadata: Optional[List[str]] = None,
        machine_public_key: Optional[str] = None,
    ) -> Awaitable[AuthorizeResult]:
        """Authorizes a gateway (user token): creates it if the code is new and returns a machine
        token for it. `machine_public_key` is the gateway's public key, when it has one.
        """
    def revoke(self, gateway_code: str) -> Awaitable[Acknowledgement]:
        """Revokes every machine token of a gateway (user token); returns the Cloud's
        acknowledgement.
        """
    def resolve(self, reference: Union[Reference, str]) -> Awaitable[ResolveResult]:
        """Resolves a reference (machine token); a `str` is parsed first. The raw API call: it
        does not check the gateway's mesh configuration and caches nothing — gateways resolve
        through `Resolver.resolve`, which does both.
        """
    def mesh_token(self, mesh_id: str, destination_url: str) -> Awaitable[MeshTokenResult]:
        """A mesh token for a destination URL of a mesh (machine token)."""
    def jwks(self) -> Awaitable[_Json]:
        """The Cloud's JSON Web Key Set (public)."""
    def base_url(self) -> Awaitable[_Json]:
        """The gateway's base URL and change feed location (machine token)."""
    def changes(self, gateway_id: Optional[str] = None) -> Awaitable[List[Change]]:
        """The pending and acknowledged changes of the calling gateway, or of `gateway_id`
        (machine token); every page of the feed is fetched.
        """
    def change(self, id: str) -> Awaitable[Change]:
        """One change of the feed (machine token)."""
    def acknowledge_changes(self, ids: List[str]) -> Awaitable[Acknowledgement]:
        """Acknowledges changes: the gateway has seen them (machine token)."""
    def change_applied(self, id: str) -> Awaitable[Acknowledgement]:
        """Reports a change as applied (machine token)."""
    def change_failed(
        self, id: str, error: str, details: Any = None
    ) -> Awaitable[Acknowledgement]:
        """Reports a change as failed with an error message and optional JSON-serializable
        details (machine token).
        """
    def update_config(
        self, type: str, config: str, *, id: Optional[str] = None
    ) -> Awaitable[UpdateResult]:
        """Creates (no `id`, or an unknown one) or updates a gateway, pipeline, transform or mesh
        configuration from TOML (machine token; `POST /harmony/update`, never retried).
        """
    @overload
    def list(
        self, collection: str, page: int = 1, per_page: int = ...
    ) -> Awaitable[Page[_Json]]:
        """One page of a collection (user token). `collection` is a collection name (the items
        are `dict`s) or a model class of `runbeam.resources` (the items are its objects).
        """
    @overload
    def list(
        self, collection: Type[_Model], page: int = 1, per_page: int = ...
    ) -> Awaitable[Page[_Model]]:
        """One page of a collection (user token). `collection` is a collection name (the items
        are `dict`s) or a model class of `runbeam.resources` (the items are its objects).
        """
    @overload
    def list_all(self, collection: str, per_page: int = ...) -> AsyncResourceIterator[_Json]:
        """Every item of every page of a collection, as `list` gives them (`dict`s, or model
        objects for a model class); pages are fetched as needed.
        """
    @overload
    def list_all(
        self, collection: Type[_Model], per_page: int = ...
    ) -> AsyncResourceIterator[_Model]:
        """Every item of every page of a collection, as `list` gives them (`dict`s, or model
        objects for a model class); pages are fetched as needed.
        """
    @overload
    def get(self, collection: str, id: str) -> Awaitable[_Json]:
        """One resource of a collection (user token): a `dict`, or an object of the model class
        given as `collection`.
        """
    @overload
    def get(self, collection: Type[_Model], id: str) -> Awaitable[_Model]:
        """One resource of a collection (user token): a `dict`, or an object of the model class
        given as `collection`.
        """
    @overload
    def create(self, collection: str, body: Any) -> Awaitable[_Json]:
        """Creates a resource (user token; never retried): `create(collection, body)` with a
        collection name and a JSON-serializable body returns a `dict`; `create(model)` with a
        model object of `runbeam.resources` (its class names the collection) returns the
        created model.
        """
    @overload
    def create(self, model: _Model) -> Awaitable[_Model]:
        """Creates a resource (user token; never retried): `create(collection, body)` with a
        collection name and a JSON-serializable body returns a `dict`; `create(model)` with a
        model object of `runbeam.resources` (its class names the collection) returns the
        created model.
        """
    @overload
    def update(self, collection: str, id: str, body: Any) -> Awaitable[_Json]:
        """Updates a resource with the fields of a body (user token): `update(collection, id,
        body)` with a collection name and a JSON-serializable body returns a `dict`;
        `update(id, model)` with a model object of `runbeam.resources` (its fields that are
        set, and its `extra`) returns the updated model.
        """
    @overload
    def update(self, id: str, model: _Model) -> Awaitable[_Model]:
        """Updates a resource with the fields of a body (user token): `update(collection, id,
        body)` with a collection name and a JSON-serializable body returns a `dict`;
        `update(id, model)` with a model object of `runbeam.resources` (its fields that are
        set, and its `extra`) returns the updated model.
        """
    def delete(self, collection: Union[str, Type[_AnyModel]], id: str) -> Awaitable[None]:
        """Deletes a resource (user token); returns `None`. `collection` is a collection name or
        a model class.
        """
    def __repr__(self) -> str: ...

# --- JWT validation (SPEC §4) -----------------------------------------------------------------

def parse_bearer(header: str) -> str:
    """The token of an `Authorization` header value (`Bearer <token>`, scheme in any case).
    Raises `JwtInvalidError` saying what is wrong; the message never quotes the header.
    """

@final
class TokenUser:
    """The `user` claim of a Runbeam user JWT."""

    @property
    def id(self) -> str:
        """The user's id (a number is given as its decimal text)."""
    @property
    def email(self) -> Optional[str]: ...
    @property
    def name(self) -> Optional[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class TokenTeam:
    """The `team` claim of a Runbeam user JWT."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> Optional[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Claims:
    """The claims of a verified token: the standard and Runbeam claims as attributes, every claim
    through `get`, `to_dict` and `json`. Python objects are made when an attribute is read, so
    a cache hit costs one small allocation.
    """

    @property
    def iss(self) -> Optional[str]:
        """`iss`."""
    @property
    def sub(self) -> Optional[str]:
        """`sub`."""
    @property
    def aud(self) -> Union[str, List[str], None]:
        """`aud`: a `str`, a `list[str]`, or `None`, as the token carried it."""
    @property
    def exp(self) -> int:
        """`exp`, seconds since the epoch (always present)."""
    @property
    def iat(self) -> Optional[int]:
        """`iat`."""
    @property
    def nbf(self) -> Optional[int]:
        """`nbf`."""
    @property
    def jti(self) -> Optional[str]:
        """`jti`."""
    @property
    def user(self) -> Optional[TokenUser]:
        """`user {id, email, name}`."""
    @property
    def team(self) -> Optional[TokenTeam]:
        """`team {id, name}`."""
    @property
    def json(self) -> str:
        """The payload exactly as the token carried it (a JSON object)."""
    def get(self, name: str, default: Any = None) -> Any:
        """The claim `name` (any claim, custom ones too) as a Python value; `default` if absent."""
    def api_base_url(self) -> str:
        """The Runbeam Cloud API URL this user JWT was issued by: the origin
        (`scheme://host[:port]`) of `iss`, for `Client(...)`. Raises
        `InvalidArgumentError` when `iss` is missing or not an http(s) URL.
        """
    def to_dict(self) -> Dict[str, Any]:
        """Every claim, as a new `dict`."""
    def __repr__(self) -> str: ...

@final
class Validator:
    """Validates Runbeam user JWTs and mesh tokens (docs/spec.md §4), blocking; a signature
    check and a key fetch run with the GIL released, a repeated token (a cache hit) is
    answered with it held.

    Trust is explicit: give `trusted_issuers` (exact match after normalisation, never a
    prefix; keys from `<issuer>/.well-known/jwks.json`) and/or a pinned `jwks_url`. A token
    of an untrusted issuer is refused before any network request. Keys are fetched on first
    use (or by `refresh_keys` at start-up) and cached; a repeated token is answered from a
    bounded cache of verified tokens, its time claims re-checked on every hit.

    Times are in seconds; the defaults are the core's. `algorithms` defaults to
    `["RS256"]`; `none` and HMAC are never accepted.

    Raises: `JwtInvalidError` (malformed, bad signature, unknown key, wrong audience,
    missing claim, not yet valid), `JwtExpiredError`, `UntrustedIssuerError`, or the key
    fetch's error (`TransportError`, `RunbeamTimeoutError`, …); `InvalidArgumentError` for
    bad settings. Messages never quote the token.
    """

    def __new__(
        cls,
        *,
        trusted_issuers: Optional[List[str]] = None,
        jwks_url: Optional[str] = None,
        algorithms: Optional[List[str]] = None,
        audiences: Optional[List[str]] = None,
        required_claims: Optional[List[str]] = None,
        leeway: float = ...,
        jwks_ttl: float = ...,
        min_refresh_interval: float = ...,
        max_stale: float = ...,
        cache_capacity: int = ...,
        allow_insecure_http: bool = False,
        deadline: float = ...,
        ca_bundle_pem: Union[bytes, str, None] = None,
    ) -> Validator: ...
    @property
    def trusted_issuers(self) -> List[str]:
        """The trusted issuers, normalised."""
    @property
    def jwks_urls(self) -> List[str]:
        """The JWKS URLs keys are fetched from."""
    @property
    def cached_tokens(self) -> int:
        """Verified tokens currently remembered."""
    def validate(self, token: str) -> Claims:
        """Verifies `token` and returns its claims; keys are fetched first when none are cached,
        their TTL has passed, or the token names an unknown `kid`.
        """
    def validate_many(self, tokens: Sequence[str]) -> List[Union[Claims, _errors.RunbeamError]]:
        """Verifies every token of `tokens` (a list or tuple of `str`) and returns a list in
        the same order: each token's `Claims`, or the exception `validate` raises for it,
        returned rather than raised (as `asyncio.gather(..., return_exceptions=True)`).
        Each answer, error, counter and cache entry is the one `validate` gives for that
        token.

        For a consumer with tokens in hand (a message batch): the signature checks leave the
        GIL holder as in `validate` and a batch is split over two threads (the calling
        thread and a runbeam thread for `Validator`, two runbeam threads for
        `AsyncValidator`); on `AsyncValidator` the whole batch is one awaitable, so the event
        loop pays for one future instead of one per token. A batch the token cache answers
        whole is answered at once, on the calling thread. A key fetch a token needs is
        awaited before the answer. Cancelling the awaitable (or Ctrl-C for `Validator`)
        abandons the tokens not yet checked.

        ```python
        for message, result in zip(messages, await validator.validate_many(tokens)):
            if isinstance(result, runbeam.RunbeamError):
                reject(message, result)
        ```
        """
    def authenticate(self, authorization: Optional[str]) -> Claims:
        """An inbound request's user JWT, as a middleware sees it: the token of the
        `Authorization` header value `authorization` (`None`: the request had no such
        header) validated, and its claims returned. A missing or malformed header raises
        `JwtInvalidError`, like a bad token; give the error to `refusal_for(error,
        "user_token")` for the HTTP answer (401 with `WWW-Authenticate`, …).

        ```python
        claims = validator.authenticate(request.headers.get("authorization"))
        ```
        """
    def verify_mesh_token(
        self, token: str, mesh_id: str, destination_url: Optional[str] = None
    ) -> Claims:
        """`validate` plus the mesh-token checks: `aud` is `mesh:<mesh_id>`, the `mesh_id` claim
        matches, and `destination_url` (when given) lies under the token's `dest_url`.
        """
    def refresh_keys(self) -> None:
        """Fetches every JWKS now (at start-up, so the first request does not wait); respects
        the minimum refresh interval.
        """
    def stats(self) -> ValidatorStats:
        """Counters since the validator was built (`ValidatorStats`: cache hits,
        verifications, JWKS fetches and their failures, refusals by kind), a snapshot.
        Immediate, also on `AsyncValidator`.
        """
    def authenticate_cached(self, authorization: Optional[str]) -> Optional[Claims]:
        """`authenticate` without I/O: the claims when the answer is known now (the keys are
        cached), `None` when keys must be fetched first. Raises like `authenticate`.
        Immediate, also on `AsyncValidator` (what the ASGI middleware calls first).
        """
    def flush_token_cache(self) -> None:
        """Forgets every verified token (keys stay cached). Immediate, also on
        `AsyncValidator`.
        """
    def __repr__(self) -> str: ...

@final
class AsyncValidator:
    """The asyncio form of `Validator` (the same arguments): `validate`, `authenticate`,
    `verify_mesh_token` and `refresh_keys` return awaitables: already completed for a
    repeated token (a cache hit); a signature check runs on a runbeam thread, so the event
    loop stays free and many checks use every core.
    """

    def __new__(
        cls,
        *,
        trusted_issuers: Optional[List[str]] = None,
        jwks_url: Optional[str] = None,
        algorithms: Optional[List[str]] = None,
        audiences: Optional[List[str]] = None,
        required_claims: Optional[List[str]] = None,
        leeway: float = ...,
        jwks_ttl: float = ...,
        min_refresh_interval: float = ...,
        max_stale: float = ...,
        cache_capacity: int = ...,
        allow_insecure_http: bool = False,
        deadline: float = ...,
        ca_bundle_pem: Union[bytes, str, None] = None,
    ) -> AsyncValidator: ...
    @property
    def trusted_issuers(self) -> List[str]:
        """The trusted issuers, normalised."""
    @property
    def jwks_urls(self) -> List[str]:
        """The JWKS URLs keys are fetched from."""
    @property
    def cached_tokens(self) -> int:
        """Verified tokens currently remembered."""
    def validate(self, token: str) -> Awaitable[Claims]:
        """Verifies `token` and returns its claims; keys are fetched first when none are cached,
        their TTL has passed, or the token names an unknown `kid`.
        """
    def validate_many(self, tokens: Sequence[str]) -> Awaitable[List[Union[Claims, _errors.RunbeamError]]]:
        """Verifies every token of `tokens` (a list or tuple of `str`) and returns a list in
        the same order: each token's `Claims`, or the exception `validate` raises for it,
        returned rather than raised (as `asyncio.gather(..., return_exceptions=True)`).
        Each answer, error, counter and cache entry is the one `validate` gives for that
        token.

        For a consumer with tokens in hand (a message batch): the signature checks leave the
        GIL holder as in `validate` and a batch is split over two threads (the calling
        thread and a runbeam thread for `Validator`, two runbeam threads for
        `AsyncValidator`); on `AsyncValidator` the whole batch is one awaitable, so the event
        loop pays for one future instead of one per token. A batch the token cache answers
        whole is answered at once, on the calling thread. A key fetch a token needs is
        awaited before the answer. Cancelling the awaitable (or Ctrl-C for `Validator`)
        abandons the tokens not yet checked.

        ```python
        for message, result in zip(messages, await validator.validate_many(tokens)):
            if isinstance(result, runbeam.RunbeamError):
                reject(message, result)
        ```
        """
    def authenticate(self, authorization: Optional[str]) -> Awaitable[Claims]:
        """An inbound request's user JWT, as a middleware sees it: the token of the
        `Authorization` header value `authorization` (`None`: the request had no such
        header) validated, and its claims returned. A missing or malformed header raises
        `JwtInvalidError`, like a bad token; give the error to `refusal_for(error,
        "user_token")` for the HTTP answer (401 with `WWW-Authenticate`, …).

        ```python
        claims = validator.authenticate(request.headers.get("authorization"))
        ```
        """
    def verify_mesh_token(
        self, token: str, mesh_id: str, destination_url: Optional[str] = None
    ) -> Awaitable[Claims]:
        """`validate` plus the mesh-token checks: `aud` is `mesh:<mesh_id>`, the `mesh_id` claim
        matches, and `destination_url` (when given) lies under the token's `dest_url`.
        """
    def refresh_keys(self) -> Awaitable[None]:
        """Fetches every JWKS now (at start-up, so the first request does not wait); respects
        the minimum refresh interval.
        """
    def stats(self) -> ValidatorStats:
        """Counters since the validator was built (`ValidatorStats`: cache hits,
        verifications, JWKS fetches and their failures, refusals by kind), a snapshot.
        Immediate, also on `AsyncValidator`.
        """
    def authenticate_cached(self, authorization: Optional[str]) -> Optional[Claims]:
        """`authenticate` without I/O: the claims when the answer is known now (the keys are
        cached), `None` when keys must be fetched first. Raises like `authenticate`.
        Immediate, also on `AsyncValidator` (what the ASGI middleware calls first).
        """
    def flush_token_cache(self) -> None:
        """Forgets every verified token (keys stay cached). Immediate, also on
        `AsyncValidator`.
        """
    def __repr__(self) -> str: ...

# --- Token storage and the machine-token lifecycle (SPEC §5) ---------------------------------

_Timestamp = Union[datetime.datetime, str]

@final
class MachineToken:
    """A gateway's machine token. The token itself is never shown by `repr` or `str`.

    `MachineToken(machine_token, expires_at, gateway_id, abilities=None, issued_at=None)` raises
    `InvalidArgumentError` for an empty token or gateway id or a bad date; `issued_at` defaults
    to now.
    """

    def __new__(
        cls,
        machine_token: str,
        expires_at: _Timestamp,
        gateway_id: str,
        abilities: Optional[List[str]] = None,
        issued_at: Optional[_Timestamp] = None,
    ) -> MachineToken:
        ...
    @property
    def machine_token(self) -> str:
        """The opaque machine token (send it as `Authorization: Bearer`)."""
    @property
    def expires_at(self) -> datetime.datetime:
        """When it expires (aware, UTC)."""
    @property
    def gateway_id(self) -> str:
        """The gateway it identifies."""
    @property
    def abilities(self) -> List[str]:
        """What it may do."""
    @property
    def issued_at(self) -> Optional[datetime.datetime]:
        """When it was issued, if known."""
    def is_expired(self) -> bool:
        """Whether it has expired."""
    def expires_in(self) -> float:
        """Seconds left before it expires (`0.0` once expired)."""
    def needs_renewal(self, window: float = ...) -> bool:
        """Whether it expires within `window` seconds (or has expired)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class UserToken:
    """A user's token (user JWT or Sanctum token), optionally with its expiry and user. The token
    is never shown by `repr` or `str`.
    """

    def __new__(
        cls,
        token: str,
        expires_at: Optional[_Timestamp] = None,
        user: Optional[Dict[str, Any]] = None,
    ) -> UserToken: ...
    @property
    def token(self) -> str:
        """The token."""
    @property
    def expires_at(self) -> Optional[datetime.datetime]:
        """When it expires, if known (aware, UTC)."""
    @property
    def user(self) -> Optional[Dict[str, Any]]:
        """Who it belongs to (`{"id", "email", "name"}` as the Cloud gives it), if known."""
    def is_expired(self) -> bool:
        """Whether it has a known expiry that has passed."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@disjoint_base
class TokenStore:
    """Where tokens are kept: one slot per `(instance_id, token_type)` (token types
    `"auth"` for the machine token, `"user_auth"` for a user token, as runbeam-sdk 0.11 names
    them). Ids match `[A-Za-z0-9_.-]{1,128}` and are not `.` or
    `..`; anything else raises `InvalidArgumentError`.

    Made by `open_token_store`, `FileTokenStore`, `KeyringTokenStore` or `MemoryTokenStore`.
    Every call releases the GIL while it waits for the disk or the keyring. Raises
    `StorageError`, `StorageCorruptError` (names the file; the file is kept) or
    `KeyringUnavailableError`.
    """

    @property
    def backend(self) -> str:
        """`"keyring"`, `"file"` or `"memory"`."""
    def location(self, instance_id: str, token_type: str) -> str:
        """Where a slot lives: a file path or a keyring entry name."""
    def load_machine_token(self, instance_id: str) -> Optional[MachineToken]:
        """The machine token of `instance_id` (`RUNBEAM_MACHINE_TOKEN` first), or `None`."""
    def save_machine_token(self, instance_id: str, token: MachineToken) -> None:
        """Saves the machine token of `instance_id` (atomically replaces the slot)."""
    def load_user_token(self, instance_id: str) -> Optional[UserToken]:
        """The user token kept for `instance_id`, or `None`."""
    def save_user_token(self, instance_id: str, token: UserToken) -> None:
        """Saves a user token for `instance_id`."""
    def delete(self, instance_id: str, token_type: str) -> bool:
        """Empties a slot; whether it held something."""
    def __repr__(self) -> str: ...

@final
class FileTokenStore(TokenStore):
    """The age-encrypted file store under `root` (`None`: `RUNBEAM_HOME`, else `~/.runbeam`).

    `FileTokenStore(root=None, key=None)`: `key` (`AGE-SECRET-KEY-1…` or its base64) replaces
    the key files; without it `RUNBEAM_ENCRYPTION_KEY` does.
    """

    def __new__(cls, root: Optional[_Path] = None, key: Optional[str] = None) -> FileTokenStore:
        ...
    @property
    def root(self) -> "os.PathLike[str]":
        """The storage root."""
    def __repr__(self) -> str: ...

@final
class KeyringTokenStore(TokenStore):
    """The OS keyring store (Linux: the Secret Service). Raises `KeyringUnavailableError` when
    the keyring cannot be reached.
    """

    def __new__(cls) -> KeyringTokenStore:
        ...
    def __repr__(self) -> str: ...

@final
class MemoryTokenStore(TokenStore):
    """An in-memory store: nothing survives the process."""

    def __new__(cls) -> MemoryTokenStore: ...
    def __repr__(self) -> str: ...

def open_token_store(choice: Optional[str] = None) -> TokenStore:
    """The store `choice` asks for: `"auto"` probes the OS keyring with a real write, read and
    delete and falls back to the encrypted files; `"keyring"` (probed, or
    `KeyringUnavailableError`); `"file"` (`FileTokenStore` at `RUNBEAM_HOME`/`~/.runbeam`).
    `None`: `RUNBEAM_TOKEN_STORE`, unset meaning auto. The chosen backend is
    `TokenStore.backend`.
    """

_Credential = Union[str, Callable[[], str], None]

@final
class TokenManager:
    """Keeps one gateway instance's machine token valid (docs/spec.md §5.3), blocking; every
    wait releases the GIL.

    `TokenManager(instance_id, store, client, *, gateway_code=None, credential=None,
    renewal_window, on_renewal_window=None)`. `client`: a `Client`/`AsyncClient` (its own
    token is not used) or an API URL. `gateway_code` defaults to `instance_id`.
    `credential`: the user JWT or Sanctum token renewals use, or a callable returning one
    (called only when a renewal is due, from a background thread, with the GIL taken there;
    an exception it raises becomes a `NoTokenError` keeping its message — a `RunbeamError`
    keeps its class). `renewal_window`: seconds before expiry to renew (the core's default,
    7 days). `on_renewal_window(token)` is called (from a background thread) when the stored
    token is inside the window; its exceptions go to `sys.unraisablehook`.
    """

    def __new__(
        cls,
        instance_id: str,
        store: TokenStore,
        client: Union[Client, AsyncClient, str],
        *,
        gateway_code: Optional[str] = None,
        credential: _Credential = None,
        renewal_window: float = ...,
        on_renewal_window: Optional[Callable[[MachineToken], None]] = None,
    ) -> TokenManager: ...
    @property
    def instance_id(self) -> str:
        """The gateway instance."""
    @property
    def store(self) -> TokenStore:
        """The store tokens are kept in."""
    def ensure_token(self) -> MachineToken:
        """The stored token, or — when missing, expired or inside the renewal window and a
        credential is configured — a new one from `/harmony/authorize`, saved first.
        Concurrent callers share one renewal.

        Raises:
            NoTokenError: nothing stored and no credential (the message says what to do).
            TokenExpiredError: the stored token expired and there is no credential.
        """
    def revoke(self) -> None:
        """Revokes every machine token of the gateway (with the credential) and clears the store."""
    def current(self) -> Optional[MachineToken]:
        """The stored token, without renewal, or `None`."""
    def stats(self) -> TokenManagerStats:
        """Counters since the manager was built (`TokenManagerStats`: renewals and renewal
        failures), a snapshot. Immediate, also on `AsyncTokenManager`.
        """
    def __repr__(self) -> str: ...

@final
class AsyncTokenManager:
    """The asyncio form of `TokenManager`: `ensure_token`, `revoke` and `current` return
    awaitables.
    """

    def __new__(
        cls,
        instance_id: str,
        store: TokenStore,
        client: Union[Client, AsyncClient, str],
        *,
        gateway_code: Optional[str] = None,
        credential: _Credential = None,
        renewal_window: float = ...,
        on_renewal_window: Optional[Callable[[MachineToken], None]] = None,
    ) -> AsyncTokenManager: ...
    @property
    def instance_id(self) -> str:
        """The gateway instance."""
    @property
    def store(self) -> TokenStore:
        """The store tokens are kept in."""
    def ensure_token(self) -> Awaitable[MachineToken]:
        """The stored token, or — when missing, expired or inside the renewal window and a
        credential is configured — a new one from `/harmony/authorize`, saved first.
        Concurrent callers share one renewal.

        Raises:
            NoTokenError: nothing stored and no credential (the message says what to do).
            TokenExpiredError: the stored token expired and there is no credential.
        """
    def revoke(self) -> Awaitable[None]:
        """Revokes every machine token of the gateway (with the credential) and clears the store."""
    def current(self) -> Awaitable[Optional[MachineToken]]:
        """The stored token, without renewal, or `None`."""
    def stats(self) -> TokenManagerStats:
        """Counters since the manager was built (`TokenManagerStats`: renewals and renewal
        failures), a snapshot. Immediate, also on `AsyncTokenManager`.
        """
    def __repr__(self) -> str: ...

# --- Reference resolution and mesh tokens (SPEC §6) -------------------------------------------

@final
class Resolution:
    """The answer of `Resolver.resolve`: the resource, where it came from, and whether it is a
    stale answer served while the provider failed. Python objects are made when read.
    """

    @property
    def resource(self) -> ResolvedResource:
        """The resource (`urls`, `protocol`, `mode`, ids, …): the same class `Client.resolve`
        returns.
        """
    @property
    def provider(self) -> str:
        """The provider that answered (`"local"` for local references)."""
    @property
    def resolved_at(self) -> datetime.datetime:
        """When the provider answered (for local references: when the configuration was loaded)."""
    @property
    def is_stale(self) -> bool:
        """Whether this is a cached answer past its TTL, served because the provider failed
        (transport error, timeout, 5xx, 429, malformed answer) and younger than `max_stale`.
        """
    @property
    def is_local(self) -> bool:
        """Whether the reference was local, answered from the configuration."""
    def to_dict(self) -> _Json:
        """The wire form: `{"data": {...}, "meta": {"provider", "resolved_at", "stale"}}`."""
    def __repr__(self) -> str: ...

@final
class IssuedMeshToken:
    """A verified mesh token from `Resolver.mesh_token`: send `token` as `Authorization: Bearer`
    to the destination. `repr()` and `str()` never show the token.
    """

    @property
    def token(self) -> str:
        """The token (an RS256 JWT)."""
    @property
    def expires_at(self) -> datetime.datetime:
        """When it expires (aware, UTC)."""
    @property
    def mesh_id(self) -> str:
        """The mesh's Cloud id."""
    @property
    def mesh(self) -> str:
        """The mesh's name in the configuration."""
    @property
    def claims(self) -> Claims:
        """Its verified claims (`sub`, `aud`, `dest_url`, `source_team`, …)."""
    def __repr__(self) -> str: ...

# --- The HTTP edge: requests across the mesh and refusals (docs/edge.md) -----------------------

@final
class Outbound:
    """What to send to reach a partner's resource through the mesh (from `Resolver.outbound`): the
    `url` (the resource's URL followed by the request path) and the `headers` to add (the
    `Authorization` header carrying the mesh token). Send it with your own HTTP client:

    ```python
    out = await resolver.outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies")
    answer = await http.get(out.url, headers=out.headers)
    ```

    `authorization` and `headers` are a credential: never log them. `repr()` and `str()` never
    show the token.
    """

    @property
    def url(self) -> str:
        """The URL to send the request to."""
    @property
    def headers(self) -> Dict[str, str]:
        """Every header to add to the request, as a new `dict` (today only
        `{"authorization": "Bearer <mesh token>"}`), names in lower case.
        """
    @property
    def authorization(self) -> str:
        """The value of the `Authorization` header (`Bearer <mesh token>`): a credential."""
    @property
    def base_url(self) -> str:
        """The resource's URL the path was appended to (the mesh token's `dest_url`)."""
    @property
    def mesh(self) -> str:
        """The mesh (its configuration name) the token was issued for."""
    @property
    def reference(self) -> str:
        """The reference, in its canonical spelling."""
    @property
    def is_stale(self) -> bool:
        """Whether the resolution was a stale answer, served because the provider failed
        (see `Resolution.is_stale`).
        """
    @property
    def token_expires_at(self) -> datetime.datetime:
        """When the mesh token expires (aware, UTC)."""
    def __repr__(self) -> str: ...

_Stage = Literal["user_token", "mesh_token", "outbound"]

@final
class Refusal:
    """The HTTP answer to a request that failed a librunbeam check (from `refusal_for`): `status`
    (400, 401, 403, 404 or 503, never 500), the `headers` to send besides `Content-Type`
    (`www-authenticate` on every 401, `retry-after` on every 503), a fixed JSON `body` that
    never quotes the request, the token or the error, and its `content_type`. The same answer
    in every language librunbeam serves (docs/edge.md).
    """

    @property
    def status(self) -> int:
        """The HTTP status: 400, 401, 403, 404 or 503."""
    @property
    def kind(self) -> str:
        """The kind of the error it answers (`RunbeamError.kind`, e.g. `"JwtExpired"`)."""
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """Every header to send besides `Content-Type`, as `(name, value)` pairs with names in
        lower case: `www-authenticate` (every 401: `Bearer error="invalid_token"`) and/or
        `retry-after` (every 503, in seconds), in that order.
        """
    @property
    def www_authenticate(self) -> Optional[str]:
        """The `WWW-Authenticate` value (every 401), else `None`."""
    @property
    def retry_after_secs(self) -> Optional[int]:
        """The `Retry-After` value in seconds (every 503), else `None`: the Cloud's own when it
        sent one, else 5 for a transient failure and 30 for one that needs an operator.
        """
    @property
    def body(self) -> bytes:
        """The JSON body, e.g. `b'{"error":"invalid_token"}'`: a fixed code per answer
        (`invalid_token`, `not_in_mesh`, `forbidden`, `invalid_request`, `not_found`,
        `unavailable`).
        """
    @property
    def content_type(self) -> str:
        """The media type of the body: `"application/json"`."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

def refusal_for(error: BaseException, stage: _Stage) -> Refusal:
    """The HTTP answer (`Refusal`) to `error`, raised at `stage`: `"user_token"` (checking the
    user's JWT of an inbound request), `"mesh_token"` (checking a partner's mesh token on an
    inbound request) or `"outbound"` (resolving a reference and obtaining a mesh token for a
    request across the mesh). The rule is runbeam-core's (docs/edge.md): a bad token inbound
    is 401, a reference outside the mesh 403, a bad request path 400, an unknown resource
    404 (outbound), anything else 503 with `Retry-After`; never 500.

    `error` is any exception: a `RunbeamError` is answered by its `kind` (and the Cloud's
    `retry_after`), anything else as `Internal` (503). Raises `InvalidArgumentError` for an
    unknown stage.

    ```python
    try:
        claims = validator.authenticate(headers.get("authorization"))
    except runbeam.RunbeamError as e:
        refusal = runbeam.refusal_for(e, "user_token")  # refusal.status == 401, ...
    ```
    """

def join_path(base: str, path: str) -> str:
    """`base` (an http(s) URL: a resource's URL, or the public URL a gateway serves) followed
    by the request target `path` (as received, not percent-decoded, with its query if any):
    runbeam-core's rule, which refuses any path that would leave `base` or that the server
    behind could read as another path (`..` segments, encoded `/`, `\\` or NUL, double
    percent-encoding, a path not starting with a single `/`, …).

    Raises `InvalidArgumentError` saying why (the path is not quoted).

    ```python
    assert runbeam.join_path("https://dicom.example.com/wado", "/studies?modality=CT") == \\
        "https://dicom.example.com/wado/studies?modality=CT"
    ```
    """

@final
class ValidatorStats:
    """Counters of a validator since it was built (`Validator.stats()`), or of the validators
    that verify a resolver's mesh tokens (`ResolverStats.mesh_validation`).
    """

    @property
    def cache_hits(self) -> int:
        """Tokens answered from the verified-token cache (time claims re-checked, no
        signature check).
        """
    @property
    def verifications(self) -> int:
        """Signatures checked."""
    @property
    def jwks_fetches(self) -> int:
        """JWKS fetches attempted."""
    @property
    def jwks_fetch_failures(self) -> int:
        """JWKS fetches that failed (the keys fetched before stay in use up to `max_stale`)."""
    @property
    def failures(self) -> Dict[str, int]:
        """Tokens refused or not validated, as a new `dict` of error kind (`"JwtExpired"`,
        `"JwtInvalid"`, `"UntrustedIssuer"`, a fetch's `"Transport"`, … the `kind` of the
        exception raised) to count; kinds never counted are absent.
        """
    @property
    def cached_tokens(self) -> int:
        """Verified tokens remembered when the snapshot was taken."""
    def to_dict(self) -> Dict[str, Any]:
        """The counters as a new `dict` (`failures` as a `dict` of kind to count)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class ResolverStats:
    """Counters of a resolver's work since it was built (`Resolver.stats()`)."""

    @property
    def hits(self) -> int:
        """Resolutions answered from the cache while fresh."""
    @property
    def misses(self) -> int:
        """Resolutions that waited for an upstream answer (joined or started a fetch)."""
    @property
    def upstream_requests(self) -> int:
        """Requests sent to a provider's resolve endpoint."""
    @property
    def stale_served(self) -> int:
        """Stale answers served because a provider failed."""
    @property
    def local(self) -> int:
        """Local references answered from the configuration."""
    @property
    def mesh_token_requests(self) -> int:
        """Mesh tokens requested from a provider or signed locally."""
    @property
    def errors(self) -> Dict[str, int]:
        """Resolutions and mesh-token calls that failed, as a new `dict` of error kind
        (`"NotInMesh"`, `"NotFound"`, `"Transport"` with no stale answer, …) to count.
        """
    @property
    def cached_references(self) -> int:
        """References with a cached answer (fresh or stale) when the snapshot was taken."""
    @property
    def cached_mesh_tokens(self) -> int:
        """Mesh tokens remembered when the snapshot was taken."""
    @property
    def mesh_validation(self) -> ValidatorStats:
        """The validators that verify mesh tokens (one per trust source of the configuration
        in use), summed.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The counters as a new `dict` (`errors` a `dict` of kind to count,
        `mesh_validation` the `dict` of its `ValidatorStats`).
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class TokenManagerStats:
    """Counters of a token manager since it was built (`TokenManager.stats()`)."""

    @property
    def renewals(self) -> int:
        """Machine tokens renewed (authorized again and saved)."""
    @property
    def renewal_failures(self) -> int:
        """Renewals that failed (the current token stays in use while it is valid)."""
    def to_dict(self) -> Dict[str, int]:
        """The counters as a new `dict`."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

_StatsSource = Union[
    Resolver, AsyncResolver, ResolverStats,
    Validator, AsyncValidator, ValidatorStats,
    TokenManager, AsyncTokenManager, TokenManagerStats,
]

def prometheus_text(*sources: _StatsSource, **named: _StatsSource) -> str:
    """The Prometheus text exposition (format 0.0.4; serve it with `PROMETHEUS_CONTENT_TYPE`)
    of the stats of the sources given, each read now: `Resolver`/`AsyncResolver`,
    `Validator`/`AsyncValidator`, `TokenManager`/`AsyncTokenManager`, or their `stats()`.
    Every sample is labelled `name="<name>"` (failures also `kind="<error kind>"`); a
    resolver's mesh-token validators appear as the validator `<name>:mesh`. A positional
    source is named by its type (`resolver`, `validator`, `token_manager`), a keyword
    source by the keyword. Raises `ValueError` when two sources have the same name, and
    `TypeError` for anything else.

    ```python
    text = runbeam.prometheus_text(resolver, manager, users=validator)
    ```
    """

PROMETHEUS_CONTENT_TYPE: str

# --- Live configuration -----------------------------------------------------------------------

@final
class WatchEvent:
    """What happened to one change of a provider's feed, or to one poll (`Watcher` callbacks)."""

    @property
    def kind(self) -> str:
        """`"applied"`, `"failed"` (the configuration in use is unchanged), `"skipped"` (a
        change for the gateway itself: `gateway`, `pipeline`, …; acknowledged, for the host
        to apply and mark) or `"poll_failed"` (fetching or reporting changes failed;
        `retry_in` says when the next poll is).
        """
    @property
    def provider(self) -> str:
        """The provider whose feed it came from."""
    @property
    def change_id(self) -> str:
        """The change id (`""` for `"poll_failed"`)."""
    @property
    def change_type(self) -> str:
        """The change's `type` (`"mesh"`, `"ingress"`, `"pipeline"`, …) as sent; `""` when
        absent.
        """
    @property
    def action(self) -> str:
        """The change's `action` (`"created"`, `"updated"`, `"deleted"`) as sent; `""` when
        absent.
        """
    @property
    def message(self) -> str:
        """What happened, for a person (for a failure: why, with every configuration
        problem).
        """
    @property
    def meshes(self) -> List[str]:
        """The meshes a mesh change put in, replaced or removed (a new `list`)."""
    @property
    def references_dropped(self) -> int:
        """Cached resolutions dropped by the change."""
    @property
    def mesh_tokens_dropped(self) -> int:
        """Cached mesh tokens dropped by the change."""
    @property
    def error(self) -> Optional[_errors.RunbeamError]:
        """For `"failed"` and `"poll_failed"`: the error, as the `RunbeamError` subclass a call
        would raise (`ConfigError` with `problems`, `TransportError`, …); else `None`.
        """
    @property
    def retry_in(self) -> Optional[float]:
        """For `"poll_failed"`: seconds until the next poll; else `None`."""
    def to_dict(self) -> Dict[str, Any]:
        """The event as a new `dict` (`error` as its kind name, or `None`)."""
    def __repr__(self) -> str: ...

@final
class Watcher:
    """Follows the change feeds of a resolver's providers and applies their changes to it: made
    by `Resolver.watch(on_event)` / `AsyncResolver.watch(on_event)`. `stop()` (also at the end
    of a `with` block, and when the watcher is garbage-collected) ends it.
    """

    @property
    def providers(self) -> List[str]:
        """The providers being polled (each with `poll_interval_secs` above 0 when the watcher
        started); empty when nothing is polled.
        """
    @property
    def is_stopped(self) -> bool:
        """Whether `stop()` was called (or the watcher belongs to the parent of this forked
        process).
        """
    def stop(self) -> None:
        """Stops polling. When it returns the callback is not called again (a callback that
        was running has returned; it waits for that with the GIL released) and no new poll
        starts. Idempotent; from inside the callback it returns at once.
        """
    def __enter__(self) -> Watcher: ...
    def __exit__(self, *_args: object) -> bool: ...
    def __repr__(self) -> str: ...

_Ref = Union[str, Reference]

@final
class Resolver:
    """Resolves mesh resource references (docs/spec.md §6) and obtains mesh tokens, with a
    cache in front of the Cloud; blocking, every wait releases the GIL and a cache hit does
    no I/O.

    - Local references are answered from the configuration.
    - Remote references are resolved only when an enabled mesh lists them (`NotInMeshError`
      otherwise, before any request) and only for configured providers
      (`UnknownProviderError`).
    - Answers are cached for the provider's `cache_ttl_secs`; however many callers miss at
      once, one request goes upstream.
    - `NotFoundError`, `PermissionDeniedError` and `UnauthorizedError` are raised and never
      cached. When the provider fails, the last answer is served with
      `Resolution.is_stale` set while younger than `max_stale`; after that the error is
      raised.

    `Resolver(config, client, token_manager, *, max_stale, mesh_token_margin,
    mesh_token_capacity, validator=None)` (the defaults are the core's): `client` (a
    `Client`/`AsyncClient`, its token unused, or an API URL) carries the HTTP settings used
    for every provider, each at its own `api` URL; `token_manager` (a `TokenManager` or
    `AsyncTokenManager`) supplies the gateway's machine token. Mesh tokens are reused until
    `mesh_token_margin` seconds before they expire; at most `mesh_token_capacity` are kept.
    `validator` (a `Validator`/`AsyncValidator`) gives the settings of the validators that
    verify mesh tokens (leeway, algorithms, JWKS timings, `ca_bundle_pem`, …); its trusted
    issuers, `jwks_url` and audiences are not used: each mesh's provider is trusted.

    ```python
    config = runbeam.MeshConfig.from_file("gateway.toml")
    cloud = runbeam.Client("https://api.runbeam.io")
    manager = runbeam.TokenManager("analytics-gw-1", runbeam.open_token_store(), cloud)
    resolver = runbeam.Resolver(config, cloud, manager)
    resolver.validate_startup()
    dicom = resolver.resolve("runbeam.radiology-dept.ingress.name.dicomweb")
    token = resolver.mesh_token("imaging-integration", dicom.resource.urls[0] + "/studies")
    ```
    """

    def __new__(
        cls,
        config: MeshConfig,
        client: Union[Client, AsyncClient, str],
        token_manager: Union[TokenManager, AsyncTokenManager],
        *,
        max_stale: float = ...,
        mesh_token_margin: float = ...,
        mesh_token_capacity: int = ...,
        validator: Union[Validator, AsyncValidator, None] = None,
    ) -> Resolver: ...
    def validate_startup(self) -> None:
        """Checks the configuration in use (docs/spec.md §2.2); raises `ConfigError` listing every
        problem. Nothing is fetched.
        """
    def resolve(self, reference: _Ref) -> Resolution:
        """Resolves `reference` (a `str` or a `Reference`): from the cache while fresh, from the
        configuration when local, else from the provider (one request however many callers
        wait).

        Raises:
            InvalidReferenceError, UnknownProviderError, NotInMeshError: before any request.
            NotFoundError: unknown to the provider (not cached), or a local name the
                configuration does not define.
            NoTokenError, TokenExpiredError: the token manager has no usable machine token.
            TransportError, RunbeamTimeoutError, ServerError, RateLimitedError,
                ProtocolError: the provider failed and no stale answer can be served.
            TypeError: `reference` is neither a `str` nor a `Reference`.
        """
    def resolve_cached(self, reference: _Ref) -> Optional[Resolution]:
        """`resolve` without I/O: the answer when it is known now, `None` when a request
        would be needed. Raises like `resolve` (e.g. `NotInMeshError`).
        """
    def mesh_token(self, mesh: str, destination_url: str) -> IssuedMeshToken:
        """A verified mesh token to call `destination_url` through `mesh` (its configuration
        name or Cloud id): a cached one until `mesh_token_margin` before it expires, else a
        new one (one request however many callers wait).

        Raises:
            NotInMeshError: the mesh is not configured or not enabled.
            InvalidArgumentError: `destination_url` is not an http(s) URL.
            PermissionDeniedError: the Cloud refused (the message names the rule).
        """
    def verify_mesh_token(
        self, token: str, mesh: str, destination_url: Optional[str] = None
    ) -> Claims:
        """The receiving side: verifies a mesh token presented for `mesh` (signature, issuer,
        audience, mesh id, expiry) and, when `destination_url` is given, that it lies under
        the token's `dest_url`, and returns its claims. Keys are fetched only when none are
        cached.

        Raises:
            NotInMeshError: unknown mesh.
            JwtInvalidError, JwtExpiredError, UntrustedIssuerError: the token is refused.
        """
    def verify_mesh_request(
        self, authorization: Optional[str], mesh: str, served_url: Optional[str] = None
    ) -> Claims:
        """The receiving side of a request, as a middleware sees it: the mesh token of the
        `Authorization` header value `authorization` (`None`: the request had no such
        header) verified for `mesh` and, when given, for `served_url` (the URL being served:
        the gateway's public URL registered in Runbeam Cloud followed by the request path,
        see `join_path`; never taken from the `Host` header), and its claims returned.
        Without `served_url` only the signature, issuer, audience, mesh id and expiry are
        checked. Give an error to `refusal_for(error, "mesh_token")` for the HTTP answer.

        Raises:
            JwtInvalidError: no header, a malformed one, or a refused token (another mesh,
                another destination, a user JWT, a bad signature).
            JwtExpiredError, UntrustedIssuerError: the token is refused.
            NotInMeshError: unknown mesh.
        """
    def outbound(self, reference: _Ref, path: str) -> Outbound:
        """Everything to send a request for `path` (the request target: a path starting with
        `/`, not percent-decoded, with its query if any) to the resource `reference` (a
        `str` or a `Reference`) through the mesh, as an `Outbound` (`url`, `headers`):
        resolves the reference (cached, as `resolve`), appends `path` to its first URL
        (refused if it would leave that URL, see `join_path`) and obtains the mesh token of
        the mesh listing the reference, issued for the resource's URL (cached, as
        `mesh_token`). Answered on the spot when both are cached. Give an error to
        `refusal_for(error, "outbound")` for the HTTP answer.

        ```python
        out = resolver.outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies")
        answer = http.get(out.url, headers=out.headers)
        ```

        Raises:
            InvalidReferenceError; NotInMeshError, UnknownProviderError: no enabled mesh
                lists the reference (before any request).
            InvalidArgumentError: a path that leaves the resource, or a resource without a
                URL (not an ingress).
            The errors of `resolve` and `mesh_token`.
        """
    def outbound_cached(self, reference: _Ref, path: str) -> Optional[Outbound]:
        """`outbound` without I/O: the `Outbound` when the resolution and the mesh token are
        cached, `None` when a request would be needed. Raises like `outbound` (e.g.
        `NotInMeshError`).
        """
    def verify_mesh_request_cached(
        self, authorization: Optional[str], mesh: str, served_url: Optional[str] = None
    ) -> Optional[Claims]:
        """`verify_mesh_request` without I/O: the claims when the answer is known now (the
        mesh's keys are cached), `None` when keys must be fetched first. Raises like
        `verify_mesh_request`.
        """
    def invalidate(self, reference: _Ref) -> bool:
        """Forgets the cached answer for `reference` (any spelling); whether one was
        dropped. Raises `InvalidReferenceError`.
        """
    def invalidate_all(self) -> None:
        """Forgets every cached answer and mesh token."""
    def reload(self, config: MeshConfig) -> None:
        """Switches to `config`. It is validated first and refused with `ConfigError` (the old
        one stays in use) if it has problems; cached answers of providers that changed and
        of references no longer in an enabled mesh are dropped, as are mesh tokens of meshes
        that changed.
        """
    def stats(self) -> ResolverStats:
        """Counters since the resolver was built (`ResolverStats`: hits, misses, errors by
        kind, cache sizes, mesh-token verification), a snapshot.
        """
    @property
    def cached_references(self) -> int:
        """References with a cached answer (fresh or stale)."""
    @property
    def config(self) -> MeshConfig:
        """The configuration in use (after `reload` and the changes a watcher applied)."""
    def watch(self, on_event: Callable[[WatchEvent], object]) -> Watcher:
        """Follows the change feed of every enabled provider whose `poll_interval_secs` is
        above 0 and applies its changes to this resolver (mesh changes: the configuration
        is validated first and a change with problems is reported failed, the old
        configuration staying in use; each change is reported applied or failed to the
        provider). `on_event(WatchEvent)` is told what happened to each change and each
        failed poll: on `Resolver` it is called on a runbeam thread (with the GIL taken
        there, never twice at once; its exceptions go to `sys.unraisablehook`); on
        `AsyncResolver` it is scheduled on the event loop running when `watch` was called
        (`call_soon_threadsafe`; its exceptions go to the loop's exception handler).
        Returns the `Watcher`: `stop()` it, or use it as a context manager. Providers added
        by a later `reload` are not polled: start another watcher.
        """
    def __repr__(self) -> str: ...

@final
class AsyncResolver:
    """The asyncio form of `Resolver` (the same arguments): `resolve`, `mesh_token`,
    `verify_mesh_token`, `verify_mesh_request` and `outbound` return awaitables (already
    completed when answered from the cache); the other methods are immediate.
    """

    def __new__(
        cls,
        config: MeshConfig,
        client: Union[Client, AsyncClient, str],
        token_manager: Union[TokenManager, AsyncTokenManager],
        *,
        max_stale: float = ...,
        mesh_token_margin: float = ...,
        mesh_token_capacity: int = ...,
        validator: Union[Validator, AsyncValidator, None] = None,
    ) -> AsyncResolver: ...
    def validate_startup(self) -> None:
        """Checks the configuration in use (docs/spec.md §2.2); raises `ConfigError` listing every
        problem. Nothing is fetched.
        """
    def resolve(self, reference: _Ref) -> Awaitable[Resolution]:
        """Resolves `reference` (a `str` or a `Reference`): from the cache while fresh, from the
        configuration when local, else from the provider (one request however many callers
        wait).

        Raises:
            InvalidReferenceError, UnknownProviderError, NotInMeshError: before any request.
            NotFoundError: unknown to the provider (not cached), or a local name the
                configuration does not define.
            NoTokenError, TokenExpiredError: the token manager has no usable machine token.
            TransportError, RunbeamTimeoutError, ServerError, RateLimitedError,
                ProtocolError: the provider failed and no stale answer can be served.
            TypeError: `reference` is neither a `str` nor a `Reference`.
        """
    def resolve_cached(self, reference: _Ref) -> Optional[Resolution]:
        """`resolve` without I/O: the answer when it is known now, `None` when a request
        would be needed. Raises like `resolve` (e.g. `NotInMeshError`).
        """
    def mesh_token(self, mesh: str, destination_url: str) -> Awaitable[IssuedMeshToken]:
        """A verified mesh token to call `destination_url` through `mesh` (its configuration
        name or Cloud id): a cached one until `mesh_token_margin` before it expires, else a
        new one (one request however many callers wait).

        Raises:
            NotInMeshError: the mesh is not configured or not enabled.
            InvalidArgumentError: `destination_url` is not an http(s) URL.
            PermissionDeniedError: the Cloud refused (the message names the rule).
        """
    def verify_mesh_token(
        self, token: str, mesh: str, destination_url: Optional[str] = None
    ) -> Awaitable[Claims]:
        """The receiving side: verifies a mesh token presented for `mesh` (signature, issuer,
        audience, mesh id, expiry) and, when `destination_url` is given, that it lies under
        the token's `dest_url`, and returns its claims. Keys are fetched only when none are
        cached.

        Raises:
            NotInMeshError: unknown mesh.
            JwtInvalidError, JwtExpiredError, UntrustedIssuerError: the token is refused.
        """
    def verify_mesh_request(
        self, authorization: Optional[str], mesh: str, served_url: Optional[str] = None
    ) -> Awaitable[Claims]:
        """The receiving side of a request, as a middleware sees it: the mesh token of the
        `Authorization` header value `authorization` (`None`: the request had no such
        header) verified for `mesh` and, when given, for `served_url` (the URL being served:
        the gateway's public URL registered in Runbeam Cloud followed by the request path,
        see `join_path`; never taken from the `Host` header), and its claims returned.
        Without `served_url` only the signature, issuer, audience, mesh id and expiry are
        checked. Give an error to `refusal_for(error, "mesh_token")` for the HTTP answer.

        Raises:
            JwtInvalidError: no header, a malformed one, or a refused token (another mesh,
                another destination, a user JWT, a bad signature).
            JwtExpiredError, UntrustedIssuerError: the token is refused.
            NotInMeshError: unknown mesh.
        """
    def outbound(self, reference: _Ref, path: str) -> Awaitable[Outbound]:
        """Everything to send a request for `path` (the request target: a path starting with
        `/`, not percent-decoded, with its query if any) to the resource `reference` (a
        `str` or a `Reference`) through the mesh, as an `Outbound` (`url`, `headers`):
        resolves the reference (cached, as `resolve`), appends `path` to its first URL
        (refused if it would leave that URL, see `join_path`) and obtains the mesh token of
        the mesh listing the reference, issued for the resource's URL (cached, as
        `mesh_token`). Answered on the spot when both are cached. Give an error to
        `refusal_for(error, "outbound")` for the HTTP answer.

        ```python
        out = resolver.outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies")
        answer = http.get(out.url, headers=out.headers)
        ```

        Raises:
            InvalidReferenceError; NotInMeshError, UnknownProviderError: no enabled mesh
                lists the reference (before any request).
            InvalidArgumentError: a path that leaves the resource, or a resource without a
                URL (not an ingress).
            The errors of `resolve` and `mesh_token`.
        """
    def outbound_cached(self, reference: _Ref, path: str) -> Optional[Outbound]:
        """`outbound` without I/O: the `Outbound` when the resolution and the mesh token are
        cached, `None` when a request would be needed. Raises like `outbound` (e.g.
        `NotInMeshError`).
        """
    def verify_mesh_request_cached(
        self, authorization: Optional[str], mesh: str, served_url: Optional[str] = None
    ) -> Optional[Claims]:
        """`verify_mesh_request` without I/O: the claims when the answer is known now (the
        mesh's keys are cached), `None` when keys must be fetched first. Raises like
        `verify_mesh_request`.
        """
    def invalidate(self, reference: _Ref) -> bool:
        """Forgets the cached answer for `reference` (any spelling); whether one was
        dropped. Raises `InvalidReferenceError`.
        """
    def invalidate_all(self) -> None:
        """Forgets every cached answer and mesh token."""
    def reload(self, config: MeshConfig) -> None:
        """Switches to `config`. It is validated first and refused with `ConfigError` (the old
        one stays in use) if it has problems; cached answers of providers that changed and
        of references no longer in an enabled mesh are dropped, as are mesh tokens of meshes
        that changed.
        """
    def stats(self) -> ResolverStats:
        """Counters since the resolver was built (`ResolverStats`: hits, misses, errors by
        kind, cache sizes, mesh-token verification), a snapshot.
        """
    @property
    def cached_references(self) -> int:
        """References with a cached answer (fresh or stale)."""
    @property
    def config(self) -> MeshConfig:
        """The configuration in use (after `reload` and the changes a watcher applied)."""
    def watch(self, on_event: Callable[[WatchEvent], object]) -> Watcher:
        """Follows the change feed of every enabled provider whose `poll_interval_secs` is
        above 0 and applies its changes to this resolver (mesh changes: the configuration
        is validated first and a change with problems is reported failed, the old
        configuration staying in use; each change is reported applied or failed to the
        provider). `on_event(WatchEvent)` is told what happened to each change and each
        failed poll: on `Resolver` it is called on a runbeam thread (with the GIL taken
        there, never twice at once; its exceptions go to `sys.unraisablehook`); on
        `AsyncResolver` it is scheduled on the event loop running when `watch` was called
        (`call_soon_threadsafe`; its exceptions go to the loop's exception handler).
        Returns the `Watcher`: `stop()` it, or use it as a context manager. Providers added
        by a later `reload` are not polled: start another watcher.
        """
    def __repr__(self) -> str: ...

# --- Internal hooks: not part of the public API -----------------------------------------------
# (`_fault_arm(site, count)` exists only in builds with the test-only `fault-injection` feature,
# so it is not declared here; see stubtest-allowlist.txt.)

def _at_exit() -> None:
    """`_native._at_exit()`, registered with `atexit` at import: stops runtime threads from
    entering Python and waits for those already inside. A thread that wakes an event loop
    (`call_soon_threadsafe` writes to a socket with the GIL released) while the
    interpreter finalizes is ended by CPython with `pthread_exit`, which aborts the
    process as it unwinds through Rust frames; atexit handlers run before that point.
    """

def _after_fork_in_child() -> None:
    """`_native._after_fork_in_child()`: registered with `os.register_at_fork` at import."""

def _set_verify_offload(mode: str) -> str:
    """`_native._set_verify_offload(mode)`: where signature checks run. `"auto"` (default): a
    token the core's cache answers (its `…_if_remembered` call) with the GIL held,
    any other check with the GIL released (`Validator`) or on a runbeam thread
    (`AsyncValidator`); `"inline"`: every check on the calling thread with the GIL held;
    `"always"`: every call off it, cache hits too.
    Returns the previous mode. For the benchmarks and tests, not part of the public API.
    """

_LOG_INSTALLED: bool

def _set_log_deliver(function: Callable[[int, str, str, Dict[str, str], float, str], object]) -> None:
    """`_native._set_log_deliver(function)`: the function that turns a record into a
    `logging.LogRecord` (`runbeam._logging._deliver`). Not part of the public API.
    """

def _set_log_level(ticket: int, level: int) -> bool:
    """`_native._set_log_level(ticket, level)`: sets the core's level (0 off, 1 error … 5
    trace) unless a higher ticket was applied already (two threads changing Python's
    levels at once: the last computed level wins). Returns whether it was applied. Not
    part of the public API; `runbeam.sync_log_level()` calls it.
    """

def _log_level() -> Optional[str]:
    """`_native._log_level()`: the core's level now, `"error"` … `"trace"`, or `None` when off.
    Not part of the public API.
    """

def _flush_logs(timeout: float) -> bool:
    """`_native._flush_logs(timeout)`: waits (with the GIL released) until the records queued
    before the call have been handed to `logging`, at most `timeout` seconds. Returns
    whether they were. `runbeam.flush_logs` calls it.
    """
