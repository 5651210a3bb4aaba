"""The exceptions of librunbeam: one class per error kind of the Rust core.

Every exception raised by :mod:`runbeam` is a :class:`RunbeamError`. Its subclass says what went
wrong (``except runbeam.NotInMeshError:``); kinds that describe bad input from the caller
(:class:`InvalidArgumentError`, :class:`InvalidReferenceError`, :class:`ConfigError`) are also
:class:`ValueError`, so ``except ValueError`` keeps working for code that expects it.

A class is named after its kind (``<kind>Error``), except where that name would shadow a builtin
or repeat ``Error``: :class:`ServerError`, :class:`RunbeamTimeoutError` (also a builtin
``TimeoutError``, so ``except TimeoutError`` keeps working) and :class:`RunbeamCancelledError`
(deliberately not an ``asyncio.CancelledError``, which would interfere with task cancellation).
The native module raises the class of a kind through :data:`_BY_KIND`; ``kind`` and ``code`` of each
class come from the core's error table (``runbeam._native.error_kinds()``), so they cannot drift.
The classes and ``__all__`` are written out for readers and type checkers; ``tests/test_errors.py``
fails unless they list exactly the table's kinds, in its order.

The former names ``TimeoutError``, ``CancelledError`` and ``ServerErrorError`` can still be imported
from this module, with a ``DeprecationWarning``; they are not in ``__all__``, so a star import does
not shadow the builtins.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Dict, Iterable, List, NamedTuple, Optional, Tuple

from . import _native

if TYPE_CHECKING:
    from ._native import Problem

__all__ = [
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
    "ServerError",
    "TransportError",
    "RunbeamTimeoutError",
    "ProtocolError",
    "JwtInvalidError",
    "JwtExpiredError",
    "UntrustedIssuerError",
    "NoTokenError",
    "TokenExpiredError",
    "StorageError",
    "StorageCorruptError",
    "KeyringUnavailableError",
    "RunbeamCancelledError",
    "InternalError",
]


class FailedRequest(NamedTuple):
    """The Runbeam Cloud request an error is about: ``(method, path)``."""

    #: The HTTP method, e.g. ``"GET"``.
    method: str
    #: The path relative to the API root, e.g. ``"/harmony/base-url"``.
    path: str


class RunbeamError(Exception):
    """Base class of every librunbeam error.

    Attributes:
        message: the human-readable message (also ``str(error)``).
        kind: the error kind name, e.g. ``"NotFound"``.
        code: the stable code shared with the Node SDK, e.g. ``"RUNBEAM_NOT_FOUND"``.
        status: the HTTP status of a Runbeam Cloud answer, else ``None``.
        retry_after: seconds the server asked to wait (``RateLimited``), else ``None``.
        field_errors: ``{field: [message, ...]}`` of a ``Validation`` error, else ``None``.
        request: the failed Runbeam Cloud request as a :class:`FailedRequest`
            ``(method, path)``, e.g. ``("GET", "/harmony/base-url")``, else ``None``.
        server_message: the server's own ``message`` (shortened), else ``None``.
        attempts: how many attempts the client made before giving up, else ``None``.
        problems: for configuration errors, every problem found (each with its TOML path);
            empty otherwise.
    """

    message: str
    #: Class defaults (each subclass gets its own from the core's list at import); an
    #: instance carries the kind and code of the core error it was raised for.
    kind: str = "Internal"
    code: str = "RUNBEAM_INTERNAL"
    status: Optional[int]
    retry_after: Optional[float]
    field_errors: Optional[Dict[str, List[str]]]
    request: Optional[FailedRequest]
    server_message: Optional[str]
    attempts: Optional[int]
    problems: List[Problem]

    def __init__(
        self,
        message: str,
        *,
        kind: Optional[str] = None,
        code: Optional[str] = None,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        field_errors: Optional[Dict[str, List[str]]] = None,
        request: Optional[Tuple[str, str]] = None,
        server_message: Optional[str] = None,
        attempts: Optional[int] = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind if kind is not None else type(self).kind
        self.code = code if code is not None else type(self).code
        self.status = status
        self.retry_after = retry_after
        self.field_errors = field_errors
        self.request = FailedRequest(*request) if request is not None else None
        self.server_message = server_message
        self.attempts = attempts
        self.problems = list(problems)

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(RunbeamError, ValueError):
    """An argument was missing, not valid text, or out of range."""


class InvalidReferenceError(RunbeamError, ValueError):
    """A resource reference does not follow the grammar; the message names the segment."""


class ConfigError(RunbeamError, ValueError):
    """A configuration document could not be read, parsed, or is malformed (see ``problems``)."""


class UnknownProviderError(RunbeamError):
    """A reference or mesh names a provider that is not configured."""


class NotInMeshError(RunbeamError):
    """A remote reference is not listed in any enabled mesh."""


class UnauthorizedError(RunbeamError):
    """Runbeam Cloud rejected the credentials (HTTP 401)."""


class PermissionDeniedError(RunbeamError):
    """Runbeam Cloud refused the operation (HTTP 403)."""


class NotFoundError(RunbeamError):
    """The resource does not exist (HTTP 404)."""


class ConflictError(RunbeamError):
    """The operation conflicts with the current state (HTTP 409)."""


class ValidationError(RunbeamError):
    """Runbeam Cloud rejected the request body (HTTP 422); see ``field_errors``."""


class RateLimitedError(RunbeamError):
    """Too many requests (HTTP 429); see ``retry_after``."""


class ServerError(RunbeamError):
    """Runbeam Cloud failed (HTTP 5xx)."""


class TransportError(RunbeamError):
    """Connecting, TLS, DNS or the connection itself failed."""


class RunbeamTimeoutError(RunbeamError, TimeoutError):
    """A deadline passed. Also a built-in ``TimeoutError``."""


class ProtocolError(RunbeamError):
    """The server answered with something that does not follow the protocol."""


class JwtInvalidError(RunbeamError):
    """A JWT is malformed or its signature or claims do not verify."""


class JwtExpiredError(RunbeamError):
    """A JWT has expired."""


class UntrustedIssuerError(RunbeamError):
    """A JWT was issued by an issuer that is not trusted."""


class NoTokenError(RunbeamError):
    """No token is stored and none can be obtained (authorize first)."""


class TokenExpiredError(RunbeamError):
    """The stored token has expired and cannot be renewed."""


class StorageError(RunbeamError):
    """Reading or writing token storage failed."""


class StorageCorruptError(RunbeamError):
    """Stored data is corrupt or was encrypted with another key."""


class KeyringUnavailableError(RunbeamError):
    """The OS keyring cannot be used."""


class RunbeamCancelledError(RunbeamError):
    """The operation was cancelled by the caller. (Not an ``asyncio.CancelledError``.)"""


class InternalError(RunbeamError):
    """A bug in librunbeam (including a caught panic); please report it."""


# The kinds whose class is not ``<kind>Error``.
_RENAMED = {
    "ServerError": "ServerError",
    "Timeout": "RunbeamTimeoutError",
    "Cancelled": "RunbeamCancelledError",
}


def _class_name(kind: str) -> str:
    return _RENAMED.get(kind, kind + "Error")


def _by_kind() -> Dict[str, type]:
    classes: Dict[str, type] = {}
    for name, code, *_ in _native.error_kinds():
        cls = globals().get(_class_name(name))
        if isinstance(cls, type) and issubclass(cls, RunbeamError):
            cls.kind = name
            cls.code = code
            classes[name] = cls
    return classes


#: The class of each error kind, by kind name (the native module raises through it).
_BY_KIND = _by_kind()

# Former names, importable with a DeprecationWarning (not in __all__: a star import of
# runbeam.errors no longer shadows the builtin TimeoutError or asyncio's CancelledError).
_DEPRECATED = {
    "TimeoutError": "RunbeamTimeoutError",
    "CancelledError": "RunbeamCancelledError",
    "ServerErrorError": "ServerError",
}


def __getattr__(name: str) -> type:
    new = _DEPRECATED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"runbeam.errors.{name} is deprecated: use runbeam.errors.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    cls: type = globals()[new]
    return cls
