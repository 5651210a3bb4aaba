"""librunbeam for Python: Runbeam mesh resource references and mesh configuration.

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
    AsyncClient,
    AsyncResourceIterator,
    AuthorizeResult,
    Client,
    MeshToken,
    Page,
    Resolved,
    ResolvedResource,
    ResourceIterator,
    Egress,
    Ingress,
    Mesh,
    MeshConfig,
    MeshMember,
    Problem,
    Provider,
    Reference,
    __version__,
)
from .errors import (
    CancelledError,
    ConfigError,
    ConflictError,
    InternalError,
    InvalidArgumentError,
    InvalidReferenceError,
    JwtExpiredError,
    JwtInvalidError,
    KeyringUnavailableError,
    NotFoundError,
    NotInMeshError,
    NoTokenError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    RunbeamError,
    ServerErrorError,
    StorageCorruptError,
    StorageError,
    TimeoutError,
    TokenExpiredError,
    TransportError,
    UnauthorizedError,
    UnknownProviderError,
    UntrustedIssuerError,
    ValidationError,
)

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
    "Resolved",
    "ResolvedResource",
    "MeshToken",
    "Page",
    "ResourceIterator",
    "AsyncResourceIterator",
    "RunbeamError",
    "InvalidArgumentError",
    "InvalidReferenceError",
    "ConfigError",
    "UnknownProviderError",
    "NotInMeshError",
    "UnauthorizedError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "ValidationError",
    "RateLimitedError",
    "ServerErrorError",
    "TransportError",
    "TimeoutError",
    "ProtocolError",
    "JwtInvalidError",
    "JwtExpiredError",
    "UntrustedIssuerError",
    "NoTokenError",
    "TokenExpiredError",
    "StorageError",
    "StorageCorruptError",
    "KeyringUnavailableError",
    "CancelledError",
    "InternalError",
]
