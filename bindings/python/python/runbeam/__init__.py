"""librunbeam for Python: Runbeam mesh resource references, mesh configuration and the Runbeam
Cloud API client (:class:`Client`, :class:`AsyncClient`), the JWT validator
(:class:`Validator`, :class:`AsyncValidator`) and token storage with the machine-token lifecycle
(:func:`open_token_store`, :class:`TokenManager`, :class:`AsyncTokenManager`), mesh resource
resolution with a cache and mesh tokens (:class:`Resolver`, :class:`AsyncResolver`), and the
HTTP edge of a gateway: requests across the mesh (:meth:`Resolver.outbound`), the answer to a
refused request (:func:`refusal_for`) and the ASGI middleware of :mod:`runbeam.asgi`.
The typed resource models of the collections are in :mod:`runbeam.resources`.

All logic lives in the Rust core (``runbeam-core``); this package is a thin, typed binding.

>>> import runbeam
>>> ref = runbeam.Reference.parse("runbeam.acme-healthcare.Ingress.name.fhir-api")
>>> (ref.provider, ref.team, ref.type, ref.lookup, ref.value)
('runbeam', 'acme-healthcare', 'ingress', 'name', 'fhir-api')
>>> str(ref)
'runbeam.acme-healthcare.ingress.name.fhir-api'
"""

from __future__ import annotations

from ._native import (
    Acknowledgement,
    AsyncClient,
    AsyncResolver,
    AsyncResourceIterator,
    AsyncTokenManager,
    AsyncValidator,
    AuthorizeResult,
    Change,
    Claims,
    Client,
    FileTokenStore,
    IssuedMeshToken,
    KeyringTokenStore,
    MachineToken,
    MemoryTokenStore,
    MeshTokenResult,
    Outbound,
    Page,
    Resolution,
    ResolveResult,
    ResolvedResource,
    Resolver,
    ResolverStats,
    ResourceIterator,
    TokenManager,
    TokenManagerStats,
    TokenStore,
    TokenTeam,
    TokenUser,
    UpdateResult,
    UpdatedConfig,
    UserToken,
    Validator,
    ValidatorStats,
    WatchEvent,
    Watcher,
    PROMETHEUS_CONTENT_TYPE,
    open_token_store,
    prometheus_text,
    parse_bearer,
    Egress,
    Ingress,
    Mesh,
    MeshConfig,
    MeshMember,
    Problem,
    Provider,
    Reference,
    Refusal,
    join_path,
    refusal_for,
    __version__,
)
from . import errors, resources
from ._logging import TRACE, flush_logs, sync_log_level
# One exception class per error kind of the core, exactly the names of `errors.__all__`
# (tests/test_errors.py checks both against the core's table).
from .errors import *  # noqa: F403
from .errors import FailedRequest

__all__ = [
    "__version__",
    "Reference",
    "MeshConfig",
    "Problem",
    "Mesh",
    "MeshMember",
    "Provider",
    "Ingress",
    "Egress",
    "Client",
    "AsyncClient",
    "AuthorizeResult",
    "ResolveResult",
    "ResolvedResource",
    "MeshTokenResult",
    "Page",
    "ResourceIterator",
    "AsyncResourceIterator",
    "Change",
    "Acknowledgement",
    "UpdateResult",
    "UpdatedConfig",
    "Validator",
    "AsyncValidator",
    "Claims",
    "TokenUser",
    "TokenTeam",
    "parse_bearer",
    "TokenStore",
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "open_token_store",
    "MachineToken",
    "UserToken",
    "TokenManager",
    "AsyncTokenManager",
    "Resolver",
    "AsyncResolver",
    "Resolution",
    "IssuedMeshToken",
    "Outbound",
    "Refusal",
    "refusal_for",
    "join_path",
    "ResolverStats",
    "ValidatorStats",
    "TokenManagerStats",
    "Watcher",
    "WatchEvent",
    "prometheus_text",
    "PROMETHEUS_CONTENT_TYPE",
    "TRACE",
    "sync_log_level",
    "flush_logs",
    "FailedRequest",
]
__all__ += errors.__all__
