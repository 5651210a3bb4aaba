"""Type stubs of ``runbeam._native``, the Rust extension behind :mod:`runbeam`.

Checked against the built module by ``mypy.stubtest`` (``make python-stubtest``).
"""

import datetime
import os
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, Tuple, Type, Union, final

from typing_extensions import disjoint_base

__version__: str

def error_kinds() -> List[Tuple[str, str, int, str, bool, bool]]:
    """The core's error table: ``(name, code, c_status, category, retryable, is_argument_error)``
    for every error kind, in order (e.g. ``("NotFound", "RUNBEAM_NOT_FOUND", 202, "cloud", False,
    False)``)."""

_Path = Union[str, "os.PathLike[str]"]

@final
class Reference:
    """A parsed, validated resource reference (SPEC §1).

    Immutable; equality, ordering and hashing use the canonical form (``str(ref)``), so
    ``Reference("local.name.x") == Reference("x")``.
    """

    def __new__(cls, text: str) -> Reference:
        """The same as :meth:`Reference.parse`."""
    @staticmethod
    def parse(text: str) -> Reference:
        """Parse ``text`` strictly.

        Raises:
            InvalidReferenceError: the text is not a reference; the message names the reference,
                the 0-based segment and what was expected there.
            InvalidArgumentError: the text contains lone surrogates.
            TypeError: ``text`` is not a ``str``.
        """
    @property
    def provider(self) -> str:
        """The provider; ``"local"`` for local references."""
    @property
    def team(self) -> Optional[str]:
        """The team, for team-scoped and full references."""
    @property
    def type(self) -> Optional[str]:
        """The resource type (lowercase) of a full reference: ``"ingress"``, ``"egress"``,
        ``"pipeline"``, ``"endpoint"``, ``"backend"`` or ``"mesh"``."""
    @property
    def lookup(self) -> str:
        """``"id"`` or ``"name"``."""
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
    """One finding of a configuration check. ``str(problem)`` is ``"path: message"``."""

    def __new__(cls, kind: str, path: str, message: str) -> Problem: ...
    @property
    def kind(self) -> str:
        """The error kind name: ``"Config"``, ``"InvalidReference"`` or ``"UnknownProvider"``."""
    @property
    def path(self) -> str:
        """Dotted TOML path of the value concerned, e.g. ``"mesh.imaging.egress[0]"``."""
    @property
    def message(self) -> str:
        """What is wrong, without the path."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __reduce__(self) -> Tuple[Type[Problem], Tuple[str, str, str]]: ...

@final
class Mesh:
    """A ``[mesh.<name>]`` table (a snapshot; never shows ``jwt_secret``)."""

    @property
    def name(self) -> str: ...
    @property
    def protocol(self) -> str:
        """``"http"`` or ``"http3"``."""
    @property
    def provider(self) -> str: ...
    @property
    def id(self) -> Optional[str]:
        """``id`` as written in the configuration, if any."""
    @property
    def cloud_id(self) -> str:
        """The id used with Runbeam Cloud: ``id``, else the mesh name."""
    @property
    def enabled(self) -> bool: ...
    @property
    def is_active(self) -> bool:
        """Enabled, and its provider configured and enabled: only active meshes give context."""
    @property
    def description(self) -> Optional[str]: ...
    @property
    def ingress(self) -> List[Reference]:
        """The references of the ``ingress`` list that parse, in order."""
    @property
    def egress(self) -> List[Reference]:
        """The references of the ``egress`` list that parse, in order."""

@final
class MeshMember:
    """A remote reference listed in a mesh."""

    @property
    def mesh(self) -> str:
        """The name of the mesh that lists it."""
    @property
    def direction(self) -> str:
        """``"ingress"`` or ``"egress"``: the mesh list it appears in."""
    @property
    def reference(self) -> Reference: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Provider:
    """A ``[provider.<name>]`` table, or the implicit ``local`` provider (a snapshot)."""

    @property
    def name(self) -> str: ...
    @property
    def api(self) -> Optional[str]:
        """The API root URL (``None`` for ``local``)."""
    @property
    def poll_interval_secs(self) -> int: ...
    @property
    def cache_ttl_secs(self) -> int: ...
    @property
    def enabled(self) -> bool: ...

@final
class Ingress:
    """A local mesh ingress, ``[pipelines.<pipeline>.mesh.ingress.<name>]`` (a snapshot)."""

    @property
    def name(self) -> str:
        """The table name; local references name it."""
    @property
    def pipeline(self) -> str: ...
    @property
    def protocol(self) -> str:
        """``"http"`` or ``"http3"``."""
    @property
    def urls(self) -> List[str]: ...
    @property
    def endpoint(self) -> Optional[str]: ...
    @property
    def mode(self) -> str:
        """``"default"`` or ``"mesh"``."""
    @property
    def enabled(self) -> bool: ...
    @property
    def description(self) -> Optional[str]: ...

@final
class Egress:
    """A local mesh egress, ``[pipelines.<pipeline>.mesh.egress.<name>]`` (a snapshot)."""

    @property
    def name(self) -> str:
        """The table name; local references name it."""
    @property
    def pipeline(self) -> str: ...
    @property
    def protocol(self) -> str:
        """``"http"`` or ``"http3"``."""
    @property
    def backend(self) -> Optional[str]: ...
    @property
    def mode(self) -> str:
        """``"default"`` or ``"mesh"``."""
    @property
    def enabled(self) -> bool: ...
    @property
    def description(self) -> Optional[str]: ...

@final
class MeshConfig:
    """The mesh part of a gateway configuration (SPEC §2), merged from TOML documents.

    Loading checks syntax and shape (raising :class:`ConfigError` with every problem);
    :meth:`validate` checks meaning and returns every problem.
    """

    @staticmethod
    def from_toml(text: str) -> MeshConfig:
        """Load one TOML document. Raises ``ConfigError`` (``problems`` lists every problem)."""
    @staticmethod
    def from_file(path: _Path) -> MeshConfig:
        """Read and load one file. Raises ``ConfigError`` naming the file."""
    @staticmethod
    def from_files(paths: Iterable[_Path]) -> MeshConfig:
        """Read, merge and load several files, in order. Raises ``ConfigError``."""
    def with_provider_api(self, name: str, url: str) -> MeshConfig:
        """A copy with provider ``name``'s ``api`` URL replaced by ``url``: points the
        configuration at another Cloud (staging, a local ``runbeam-devcloud``) without editing
        the file; :meth:`validate` checks the URL like one read from TOML.

        Raises:
            UnknownProviderError: there is no ``[provider.<name>]`` table.
        """
    def validate(self) -> List[Problem]:
        """Every problem of the configuration, in document order; empty means valid."""
    def in_mesh_context(self, reference: Union[Reference, str]) -> bool:
        """Whether ``reference`` is listed in an active mesh (a ``str`` is parsed first and
        raises ``InvalidReferenceError`` if it is not a reference)."""
    def check_mesh_context(self, reference: Union[Reference, str]) -> str:
        """The name of the first active mesh listing ``reference``.

        Raises:
            UnknownProviderError: the reference's provider is not configured.
            NotInMeshError: no active mesh lists the reference.
            InvalidReferenceError: ``reference`` is a ``str`` that is not a reference.
        """
    def remote_references(self) -> List[MeshMember]:
        """Every remote reference listed in a mesh (enabled or not), in document order."""
    def meshes(self) -> List[Mesh]:
        """The meshes, in document order."""
    def providers(self) -> List[Provider]:
        """Configured providers, then the implicit ``local`` one."""
    def ingresses(self) -> List[Ingress]:
        """Local mesh ingresses of all pipelines, in document order."""
    def egresses(self) -> List[Egress]:
        """Local mesh egresses of all pipelines, in document order."""

# --- Runbeam Cloud API client -----------------------------------------------------------------

_Json = Dict[str, Any]

@final
class AuthorizeResult:
    """The answer of :meth:`Client.authorize`: a machine token for a gateway.

    ``repr()`` never shows the token.
    """

    @property
    def machine_token(self) -> str:
        """The gateway machine token (opaque)."""
    @property
    def expires_in(self) -> int:
        """Seconds until the token expires, counted when it was issued."""
    @property
    def expires_at(self) -> datetime.datetime:
        """When the token expires (aware, UTC)."""
    @property
    def gateway(self) -> Dict[str, str]:
        """``{"id", "code", "name"}`` of the gateway."""
    @property
    def abilities(self) -> List[str]:
        """What the token allows."""
    def __repr__(self) -> str: ...

@final
class ResolvedResource:
    """A resource found by :meth:`Client.resolve`."""

    @property
    def type(self) -> str:
        """``"ingress"``, ``"egress"``, …"""
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
    """The answer of :meth:`Client.resolve`: the resource and where it came from."""

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
    """A short-lived mesh token (RS256 JWT); ``repr()`` never shows the token."""

    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> datetime.datetime: ...
    @property
    def mesh_id(self) -> str: ...
    def __repr__(self) -> str: ...

@final
class Page:
    """One page of a collection; ``len(page)`` is the number of items on it."""

    @property
    def data(self) -> List[_Json]:
        """The resources, as dicts."""
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

@final
class ResourceIterator:
    """Every item of every page of a collection (:meth:`Client.list_all`); pages are fetched
    as needed. After an error, iterating again retries the failed page."""

    def __iter__(self) -> Iterator[_Json]: ...
    def __next__(self) -> _Json: ...

@final
class AsyncResourceIterator:
    """The asyncio form of :class:`ResourceIterator` (:meth:`AsyncClient.list_all`)."""

    def __aiter__(self) -> AsyncIterator[_Json]: ...
    def __anext__(self) -> Awaitable[_Json]: ...

@final
class Change:
    """One configuration change of the change feed (:meth:`Client.changes`).

    ``repr()`` shows only ``id`` and ``status``: the payload may hold configuration.
    """

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Optional[str]:
        """``"pending"``, ``"acknowledged"``, ``"applied"``, ``"failed"``, … when sent."""
    @property
    def extra(self) -> _Json:
        """Every other field of the change as sent (e.g. ``type``, ``resource_id``,
        ``action``, ``created_at``)."""
    def __repr__(self) -> str: ...

@final
class Acknowledgement:
    """The ``{success, message}`` answer of the change feed calls; true when ``success``."""

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
    """The answer of :meth:`Client.update_config`."""

    @property
    def success(self) -> bool: ...
    @property
    def message(self) -> Optional[str]: ...
    @property
    def data(self) -> UpdatedConfig: ...
    def __repr__(self) -> str: ...

@final
class UpdatedConfig:
    """What :meth:`Client.update_config` created or updated."""

    @property
    def id(self) -> str:
        """The id of the configuration created or updated."""
    @property
    def type(self) -> str:
        """``"gateway"``, ``"pipeline"``, ``"transform"`` or ``"mesh"``."""
    @property
    def action(self) -> str:
        """``"created"`` or ``"updated"``."""
    def __repr__(self) -> str: ...

@final
class Client:
    """The Runbeam Cloud API client (SPEC §3), blocking.

    Every wait releases the GIL; Ctrl-C cancels a call. Collections are named by string:
    ``"gateways"``, ``"services"``, ``"endpoints"``, ``"backends"``, ``"pipelines"``,
    ``"meshes"``, ``"ingresses"``, ``"egresses"``.

    Raises (every method): the :class:`RunbeamError` subclass of the failure, with ``status``,
    ``retry_after`` and ``field_errors`` filled in from the server's answer.
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
        """``api_url`` without a path gets ``/api`` appended; ``http://`` only for loopback
        hosts unless ``allow_insecure_http``. Times are in seconds; ``deadline`` bounds a whole
        call, retries included; ``max_attempts`` counts the first attempt; a response body
        larger than ``max_body_bytes`` is a :class:`ProtocolError`."""
    def with_token(self, token: str) -> Client:
        """A client with the same settings and another bearer token."""
    @property
    def api_root(self) -> str:
        """The API root URL."""
    def authorize(self, gateway_code: str, metadata: Optional[List[str]] = None) -> AuthorizeResult: ...
    def revoke(self, gateway_code: str) -> Acknowledgement: ...
    def resolve(self, reference: Union[Reference, str]) -> ResolveResult: ...
    def mesh_token(self, mesh_id: str, destination_url: str) -> MeshTokenResult: ...
    def jwks(self) -> _Json: ...
    def base_url(self) -> _Json:
        """``{"base_url", "changes_path", "full_url"}``."""
    def changes(self, gateway_id: Optional[str] = None) -> List[Change]:
        """The pending and acknowledged changes of the calling gateway (or ``gateway_id``),
        every page of the feed fetched."""
    def change(self, id: str) -> Change: ...
    def acknowledge_changes(self, ids: List[str]) -> Acknowledgement: ...
    def change_applied(self, id: str) -> Acknowledgement: ...
    def change_failed(self, id: str, error: str, details: Any = None) -> Acknowledgement:
        """``details``: any JSON-serializable value, sent as is."""
    def update_config(self, type: str, config: str, *, id: Optional[str] = None) -> UpdateResult:
        """``POST /harmony/update``: ``type`` is ``"gateway"``, ``"pipeline"``,
        ``"transform"`` or ``"mesh"``; ``config`` is TOML; no ``id`` (or an unknown one)
        creates. Never retried."""
    def list(self, collection: str, page: int = 1, per_page: int = ...) -> Page: ...
    def list_all(self, collection: str, per_page: int = ...) -> ResourceIterator: ...
    def get(self, collection: str, id: str) -> _Json: ...
    def create(self, collection: str, body: _Json) -> _Json: ...
    def update(self, collection: str, id: str, body: _Json) -> _Json: ...
    def delete(self, collection: str, id: str) -> None: ...
    def __repr__(self) -> str: ...

@final
class AsyncClient:
    """The asyncio form of :class:`Client`: the same methods, each returning an awaitable
    (an ``asyncio.Future`` of the running loop; cancelling it aborts the request)."""

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
    def with_token(self, token: str) -> AsyncClient: ...
    @property
    def api_root(self) -> str: ...
    def authorize(
        self, gateway_code: str, metadata: Optional[List[str]] = None
    ) -> Awaitable[AuthorizeResult]: ...
    def revoke(self, gateway_code: str) -> Awaitable[Acknowledgement]: ...
    def resolve(self, reference: Union[Reference, str]) -> Awaitable[ResolveResult]: ...
    def mesh_token(self, mesh_id: str, destination_url: str) -> Awaitable[MeshTokenResult]: ...
    def jwks(self) -> Awaitable[_Json]: ...
    def base_url(self) -> Awaitable[_Json]: ...
    def changes(self, gateway_id: Optional[str] = None) -> Awaitable[List[Change]]: ...
    def change(self, id: str) -> Awaitable[Change]: ...
    def acknowledge_changes(self, ids: List[str]) -> Awaitable[Acknowledgement]: ...
    def change_applied(self, id: str) -> Awaitable[Acknowledgement]: ...
    def change_failed(
        self, id: str, error: str, details: Any = None
    ) -> Awaitable[Acknowledgement]: ...
    def update_config(
        self, type: str, config: str, *, id: Optional[str] = None
    ) -> Awaitable[UpdateResult]: ...
    def list(self, collection: str, page: int = 1, per_page: int = ...) -> Awaitable[Page]: ...
    def list_all(self, collection: str, per_page: int = ...) -> AsyncResourceIterator: ...
    def get(self, collection: str, id: str) -> Awaitable[_Json]: ...
    def create(self, collection: str, body: _Json) -> Awaitable[_Json]: ...
    def update(self, collection: str, id: str, body: _Json) -> Awaitable[_Json]: ...
    def delete(self, collection: str, id: str) -> Awaitable[None]: ...
    def __repr__(self) -> str: ...

# --- JWT validation (SPEC §4) -----------------------------------------------------------------

def parse_bearer(header: str) -> str:
    """The token of an ``Authorization`` header value: scheme ``Bearer`` (any case), one
    token. Raises :class:`JwtInvalidError` saying what is wrong (never quoting the header)."""

@final
class TokenUser:
    """The ``user`` claim of a Runbeam user JWT."""

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
    """The ``team`` claim of a Runbeam user JWT."""

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
    """The claims of a verified token. Claims are not secret (the token is): ``repr()`` shows
    them."""

    @property
    def iss(self) -> Optional[str]: ...
    @property
    def sub(self) -> Optional[str]: ...
    @property
    def aud(self) -> Union[str, List[str], None]:
        """As the token carried it: one string, a list, or absent."""
    @property
    def exp(self) -> int:
        """Seconds since the epoch (always present: tokens without ``exp`` are refused)."""
    @property
    def iat(self) -> Optional[int]: ...
    @property
    def nbf(self) -> Optional[int]: ...
    @property
    def jti(self) -> Optional[str]: ...
    @property
    def user(self) -> Optional[TokenUser]: ...
    @property
    def team(self) -> Optional[TokenTeam]: ...
    @property
    def json(self) -> str:
        """The payload exactly as the token carried it (a JSON object)."""
    def get(self, name: str, default: Any = None) -> Any:
        """The claim ``name`` (custom claims too) as a Python value, else ``default``."""
    def to_dict(self) -> Dict[str, Any]:
        """Every claim, as a new ``dict``."""
    def __repr__(self) -> str: ...

@final
class Validator:
    """Validates Runbeam user JWTs and mesh tokens (SPEC §4), blocking.

    Trust is explicit: give ``trusted_issuers`` (exact match after normalisation, never a
    prefix; keys from ``<issuer>/.well-known/jwks.json``) and/or a pinned ``jwks_url``. A token
    of an untrusted issuer is refused before any network request. Keys are fetched on first
    use (or by :meth:`refresh_keys` at start-up) and cached; a repeated token is answered from
    a bounded cache of verified tokens, its time claims re-checked on every hit.

    Times are in seconds. ``algorithms`` defaults to ``["RS256"]``; ``none`` and HMAC are
    never accepted.

    Raises: :class:`JwtInvalidError` (malformed, bad signature, unknown key, wrong audience,
    missing claim, not yet valid), :class:`JwtExpiredError`, :class:`UntrustedIssuerError`,
    or the key fetch's error (:class:`TransportError`, :class:`TimeoutError`, …);
    :class:`InvalidArgumentError` for bad settings. Messages never quote the token.
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
        """Verify ``token`` and return its claims; no I/O when its keys are cached."""
    def verify_mesh_token(
        self, token: str, mesh_id: str, destination_url: Optional[str] = None
    ) -> Claims:
        """:meth:`validate` plus: ``aud`` is ``mesh:<mesh_id>``, the ``mesh_id`` claim
        matches, and ``destination_url`` (when given) lies under the token's ``dest_url``."""
    def refresh_keys(self) -> None:
        """Fetch every JWKS now (at start-up); respects ``min_refresh_interval``."""
    def flush_token_cache(self) -> None:
        """Forget every verified token (keys stay cached)."""
    def __repr__(self) -> str: ...

@final
class AsyncValidator:
    """The asyncio form of :class:`Validator`: ``validate``, ``verify_mesh_token`` and
    ``refresh_keys`` return awaitables (already completed when the keys are cached)."""

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
    def trusted_issuers(self) -> List[str]: ...
    @property
    def jwks_urls(self) -> List[str]: ...
    @property
    def cached_tokens(self) -> int: ...
    def validate(self, token: str) -> Awaitable[Claims]: ...
    def verify_mesh_token(
        self, token: str, mesh_id: str, destination_url: Optional[str] = None
    ) -> Awaitable[Claims]: ...
    def refresh_keys(self) -> Awaitable[None]: ...
    def flush_token_cache(self) -> None:
        """Immediate (not awaitable)."""
    def __repr__(self) -> str: ...

# --- Token storage and the machine-token lifecycle (SPEC §5) ---------------------------------

_Timestamp = Union[datetime.datetime, str]

@final
class MachineToken:
    """A gateway's machine token. ``repr()`` and ``str()`` never show the token.

    ``expires_at``/``issued_at`` take an aware ``datetime`` or a ``str`` in RFC 3339 or
    ``YYYY-MM-DD HH:MM:SS`` (UTC); a naive ``datetime`` is refused. Tokens compare equal when
    every field is equal.
    """

    def __new__(
        cls,
        machine_token: str,
        expires_at: _Timestamp,
        gateway_id: str,
        abilities: Optional[List[str]] = None,
        issued_at: Optional[_Timestamp] = None,
    ) -> MachineToken:
        """Raises :class:`InvalidArgumentError` for an empty token or gateway id or a bad date."""
    @property
    def machine_token(self) -> str:
        """The opaque token, sent as ``Authorization: Bearer``."""
    @property
    def expires_at(self) -> datetime.datetime:
        """When it expires (aware, UTC)."""
    @property
    def gateway_id(self) -> str: ...
    @property
    def abilities(self) -> List[str]: ...
    @property
    def issued_at(self) -> Optional[datetime.datetime]: ...
    def is_expired(self) -> bool: ...
    def expires_in(self) -> float:
        """Seconds left before expiry, as a float (``0.0`` once expired)."""
    def needs_renewal(self, window: float = ...) -> bool:
        """Whether it expires within ``window`` seconds (default 7 days) or has expired."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class UserToken:
    """A user JWT or Sanctum token, optionally with its expiry and user. ``repr()`` and
    ``str()`` never show the token."""

    def __new__(
        cls,
        token: str,
        expires_at: Optional[_Timestamp] = None,
        user: Optional[Dict[str, Any]] = None,
    ) -> UserToken: ...
    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> Optional[datetime.datetime]: ...
    @property
    def user(self) -> Optional[Dict[str, Any]]:
        """``{"id", "email", "name"}`` as the Cloud gives it."""
    def is_expired(self) -> bool:
        """Whether it has a known expiry that has passed."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@disjoint_base
class TokenStore:
    """Where tokens are kept: one slot per ``(instance_id, token_type)`` (token types
    ``"machine_token"``, ``"user_token"``). Ids match ``[A-Za-z0-9_.-]{1,128}`` and are not
    ``.`` or ``..``; anything else raises :class:`InvalidArgumentError`.

    Made by :func:`open_token_store`, :class:`FileTokenStore`, :class:`KeyringTokenStore` or
    :class:`MemoryTokenStore`. Every call releases the GIL while it waits for the disk or the
    keyring. Raises :class:`StorageError`, :class:`StorageCorruptError` (names the file; the
    file is kept) or :class:`KeyringUnavailableError`.
    """

    @property
    def backend(self) -> str:
        """``"keyring"``, ``"file"`` or ``"memory"``."""
    def location(self, instance_id: str, token_type: str) -> str:
        """Where the slot lives: a file path or a keyring entry name."""
    def load_machine_token(self, instance_id: str) -> Optional[MachineToken]:
        """The stored machine token; ``RUNBEAM_MACHINE_TOKEN`` (JSON) takes precedence."""
    def save_machine_token(self, instance_id: str, token: MachineToken) -> None: ...
    def load_user_token(self, instance_id: str) -> Optional[UserToken]: ...
    def save_user_token(self, instance_id: str, token: UserToken) -> None: ...
    def delete(self, instance_id: str, token_type: str) -> bool:
        """Empties the slot; whether it held something."""
    def __repr__(self) -> str: ...

@final
class FileTokenStore(TokenStore):
    """The age-encrypted files: ``<root>/<instance_id>/runbeam/<token_type>.json`` and
    ``<root>/<instance_id>/encryption.key`` (directories 0700, files 0600)."""

    def __new__(cls, root: Optional[_Path] = None, key: Optional[str] = None) -> FileTokenStore:
        """``root`` ``None``: ``RUNBEAM_HOME``, else ``~/.runbeam``. ``key`` (``AGE-SECRET-KEY-1…``
        or its base64) replaces the key files; without it ``RUNBEAM_ENCRYPTION_KEY`` does."""
    @property
    def root(self) -> "os.PathLike[str]":
        """The storage root (a ``pathlib.Path``)."""
    def __repr__(self) -> str: ...

@final
class KeyringTokenStore(TokenStore):
    """The OS keyring (Linux: the Secret Service): service ``runbeam``, account
    ``<instance_id>/<token_type>``."""

    def __new__(cls) -> KeyringTokenStore:
        """Raises :class:`KeyringUnavailableError` when the keyring cannot be reached."""
    def __repr__(self) -> str: ...

@final
class MemoryTokenStore(TokenStore):
    """In memory; nothing survives the process."""

    def __new__(cls) -> MemoryTokenStore: ...
    def __repr__(self) -> str: ...

def open_token_store(choice: Optional[str] = None) -> TokenStore:
    """The store ``choice`` asks for: ``"auto"`` probes the OS keyring with a real write, read
    and delete and falls back to the encrypted files; ``"keyring"`` (probed, or
    :class:`KeyringUnavailableError`); ``"file"`` (:class:`FileTokenStore` at
    ``RUNBEAM_HOME``/``~/.runbeam``). ``None``: ``RUNBEAM_TOKEN_STORE``, unset meaning auto.
    The chosen backend is :attr:`TokenStore.backend`."""

_Credential = Union[str, Callable[[], str], None]

@final
class TokenManager:
    """Keeps one gateway instance's machine token valid (SPEC §5.3), blocking; every wait
    releases the GIL.

    ``client``: a :class:`Client`/:class:`AsyncClient` (its own token is not used) or an API
    URL. ``gateway_code`` defaults to ``instance_id``. ``credential``: the user JWT or Sanctum
    token renewals use, or a callable returning one (called only when a renewal is due, from
    a background thread, with the GIL taken there; an exception it raises becomes a
    :class:`NoTokenError` keeping its message — a :class:`RunbeamError` keeps its class).
    ``renewal_window``: seconds before expiry to renew (default 7 days).
    ``on_renewal_window(token)`` is called (from a background thread) when the stored token is
    inside the window; its exceptions go to ``sys.unraisablehook``.
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
    def instance_id(self) -> str: ...
    @property
    def store(self) -> TokenStore: ...
    def ensure_token(self) -> MachineToken:
        """The stored token, or — when missing, expired or inside the renewal window and a
        credential is configured — a new one from ``/harmony/authorize``, saved first.
        Concurrent callers share one renewal.

        Raises:
            NoTokenError: nothing stored and no credential (the message says what to do).
            TokenExpiredError: the stored token expired and there is no credential.
        """
    def revoke(self) -> None:
        """Revokes every machine token of the gateway (needs the credential) and clears the
        store."""
    def current(self) -> Optional[MachineToken]:
        """The stored token, without renewal."""
    def __repr__(self) -> str: ...

@final
class AsyncTokenManager:
    """The asyncio form of :class:`TokenManager`: the same arguments; ``ensure_token``,
    ``revoke`` and ``current`` return awaitables."""

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
    def instance_id(self) -> str: ...
    @property
    def store(self) -> TokenStore: ...
    def ensure_token(self) -> Awaitable[MachineToken]: ...
    def revoke(self) -> Awaitable[None]: ...
    def current(self) -> Awaitable[Optional[MachineToken]]: ...
    def __repr__(self) -> str: ...

# --- Reference resolution and mesh tokens (SPEC §6) -------------------------------------------

@final
class Resolution:
    """The answer of :meth:`Resolver.resolve`: the resource, where it came from, and whether it
    is a stale answer served while the provider failed."""

    @property
    def resource(self) -> ResolvedResource:
        """The resource (``urls``, ``protocol``, ``mode``, ids, …), as :meth:`Client.resolve`
        gives it."""
    @property
    def provider(self) -> str:
        """The provider that answered (``"local"`` for local references)."""
    @property
    def resolved_at(self) -> datetime.datetime:
        """When the provider answered (local references: when the configuration was loaded);
        aware, UTC."""
    @property
    def is_stale(self) -> bool:
        """A cached answer past its TTL, served because the provider failed (transport error,
        timeout, 5xx, 429, malformed answer) and younger than ``max_stale``."""
    @property
    def is_local(self) -> bool:
        """The reference was local, answered from the configuration."""
    def to_dict(self) -> _Json:
        """The wire form: ``{"data": {...}, "meta": {"provider", "resolved_at", "stale"}}``."""
    def __repr__(self) -> str: ...

@final
class IssuedMeshToken:
    """A mesh token from :meth:`Resolver.mesh_token`, verified before it was handed out: send
    ``token`` as ``Authorization: Bearer`` to the destination. ``repr()`` and ``str()`` never
    show the token."""

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
        """Its verified claims (``sub``, ``aud``, ``dest_url``, ``source_team``, …)."""
    def __repr__(self) -> str: ...

@final
class ResolverStats:
    """Counters of a resolver's work since it was built."""

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
        """Mesh tokens requested from a provider."""
    def to_dict(self) -> Dict[str, int]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

_Ref = Union[str, Reference]

@final
class Resolver:
    """Resolves mesh resource references (SPEC §6) and obtains mesh tokens, with a cache in
    front of the Cloud; blocking, every wait releases the GIL and a cache hit does no I/O.

    - Local references are answered from the configuration.
    - Remote references are resolved only when an enabled mesh lists them
      (:class:`NotInMeshError` otherwise, before any request) and only for configured providers
      (:class:`UnknownProviderError`).
    - Answers are cached for the provider's ``cache_ttl_secs``; however many callers miss at
      once, one request goes upstream.
    - :class:`NotFoundError`, :class:`PermissionDeniedError` and :class:`UnauthorizedError`
      are raised and never cached. When the provider fails, the last answer is served with
      :attr:`Resolution.is_stale` set while younger than ``max_stale``; after that the
      error is raised.

    ``client`` (a :class:`Client`/:class:`AsyncClient`, its token unused, or an API URL)
    carries the HTTP settings used for every provider, each at its own ``api`` URL;
    ``token_manager`` (a :class:`TokenManager` or :class:`AsyncTokenManager`) supplies the gateway's
    machine token. Mesh tokens are reused until ``mesh_token_margin`` before they expire;
    at most ``mesh_token_capacity`` are kept.

    >>> resolver = runbeam.Resolver(config, runbeam.Client(api), manager)  # doctest: +SKIP
    >>> resolver.validate_startup()  # doctest: +SKIP
    >>> resolver.resolve("runbeam.radiology-dept.ingress.name.dicomweb").resource.urls  # doctest: +SKIP
    ['https://dicom.radiology.example.com']
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
    ) -> Resolver: ...
    def validate_startup(self) -> None:
        """Check the configuration in use; raises :class:`ConfigError` whose ``problems`` list
        every problem. Nothing is fetched."""
    def resolve(self, reference: _Ref) -> Resolution:
        """Resolve ``reference``: from the cache while fresh, from the configuration when
        local, else from the provider.

        Raises:
            InvalidReferenceError, UnknownProviderError, NotInMeshError: before any request.
            NotFoundError: unknown to the provider (not cached), or a local name the
                configuration does not define.
            NoTokenError, TokenExpiredError: the token manager has no usable machine token.
            TransportError, TimeoutError, ServerErrorError, RateLimitedError, ProtocolError:
                the provider failed and no stale answer can be served.
            TypeError: ``reference`` is neither a ``str`` nor a :class:`Reference`.
        """
    def resolve_cached(self, reference: _Ref) -> Optional[Resolution]:
        """:meth:`resolve` without I/O: the answer when it is known now, ``None`` when a
        request would be needed. Raises like :meth:`resolve` for answers known now."""
    def mesh_token(self, mesh: str, destination_url: str) -> IssuedMeshToken:
        """A verified mesh token to call ``destination_url`` through ``mesh`` (its
        configuration name or Cloud id): a cached one until ``mesh_token_margin`` before
        it expires, else a new one (one request however many callers wait).

        Raises:
            NotInMeshError: the mesh is not configured or not enabled.
            InvalidArgumentError: ``destination_url`` is not an http(s) URL.
            PermissionDeniedError: the Cloud refused (the message names the rule).
        """
    def verify_mesh_token(
        self, token: str, mesh: str, destination_url: Optional[str] = None
    ) -> Claims:
        """The receiving side: verify a mesh token presented for ``mesh`` (signature, trusted
        issuer, ``aud``, ``mesh_id``, expiry) and, when ``destination_url`` is given, that it
        lies under the token's ``dest_url``. Keys are fetched only when none are cached.

        Raises:
            NotInMeshError: unknown mesh.
            JwtInvalidError, JwtExpiredError, UntrustedIssuerError: the token is refused.
        """
    def invalidate(self, reference: _Ref) -> bool:
        """Forget the cached answer for ``reference`` (any spelling); whether one was dropped."""
    def invalidate_all(self) -> None:
        """Forget every cached answer and mesh token."""
    def reload(self, config: MeshConfig) -> None:
        """Switch to ``config``. It is validated first and refused with :class:`ConfigError`
        (the old one stays in use) if it has problems; cached answers of providers that
        changed and of references no longer in an enabled mesh are dropped, as are mesh
        tokens of meshes that changed."""
    def stats(self) -> ResolverStats:
        """Counters since the resolver was built."""
    @property
    def cached_references(self) -> int:
        """References with a cached answer (fresh or stale)."""
    @property
    def config(self) -> MeshConfig:
        """The configuration in use."""
    def __repr__(self) -> str: ...

@final
class AsyncResolver:
    """The asyncio form of :class:`Resolver` (the same arguments): :meth:`resolve`,
    :meth:`mesh_token` and :meth:`verify_mesh_token` return awaitables, already completed when
    answered from the cache; the other methods are immediate."""

    def __new__(
        cls,
        config: MeshConfig,
        client: Union[Client, AsyncClient, str],
        token_manager: Union[TokenManager, AsyncTokenManager],
        *,
        max_stale: float = ...,
        mesh_token_margin: float = ...,
        mesh_token_capacity: int = ...,
    ) -> AsyncResolver: ...
    def validate_startup(self) -> None: ...
    def resolve(self, reference: _Ref) -> Awaitable[Resolution]: ...
    def resolve_cached(self, reference: _Ref) -> Optional[Resolution]:
        """Immediate (not awaitable)."""
    def mesh_token(self, mesh: str, destination_url: str) -> Awaitable[IssuedMeshToken]: ...
    def verify_mesh_token(
        self, token: str, mesh: str, destination_url: Optional[str] = None
    ) -> Awaitable[Claims]: ...
    def invalidate(self, reference: _Ref) -> bool: ...
    def invalidate_all(self) -> None: ...
    def reload(self, config: MeshConfig) -> None: ...
    def stats(self) -> ResolverStats: ...
    @property
    def cached_references(self) -> int: ...
    @property
    def config(self) -> MeshConfig: ...
    def __repr__(self) -> str: ...

# --- Internal hooks: not part of the public API -----------------------------------------------
# (`_fault_arm(site, count)` exists only in builds with the test-only `fault-injection` feature,
# so it is not declared here; see stubtest-allowlist.txt.)

def _at_exit() -> None:
    """Registered with ``atexit`` at import: stops runtime threads from entering Python and
    waits for those already inside."""

def _after_fork_in_child() -> None:
    """Registered with ``os.register_at_fork`` at import: core state is rebuilt after a fork."""

def _set_verify_releases_gil(enabled: bool) -> bool:
    """Whether the validators' cached path releases the GIL (for ``bench/jwt.py``); returns the
    previous setting."""
