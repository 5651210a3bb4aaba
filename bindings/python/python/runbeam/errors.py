"""The exceptions of librunbeam: one class per error kind of the Rust core.

Every exception raised by :mod:`runbeam` is a :class:`RunbeamError`. Its subclass says what went
wrong (``except runbeam.NotInMeshError:``); kinds that describe bad input from the caller
(:class:`InvalidArgumentError`, :class:`InvalidReferenceError`, :class:`ConfigError`) are also
:class:`ValueError`, so ``except ValueError`` keeps working for code that expects it.

The native module raises these classes by name (``<kind>Error``); ``kind`` and ``code`` of each
class come from the core's error table (``runbeam._native.error_kinds()``), so they cannot drift.
The classes and ``__all__`` are written out for readers and type checkers; ``tests/test_errors.py``
fails unless they list exactly the table's kinds, in its order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterable, List, Optional

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


class RunbeamError(Exception):
    """Base class of every librunbeam error.

    Attributes:
        message: the human-readable message (also ``str(error)``).
        kind: the error kind name, e.g. ``"NotFound"``.
        code: the stable code shared with the Node SDK, e.g. ``"RUNBEAM_NOT_FOUND"``.
        status: the HTTP status of a Runbeam Cloud answer, else ``None``.
        retry_after: seconds the server asked to wait (``RateLimited``), else ``None``.
        field_errors: ``{field: [message, ...]}`` of a ``Validation`` error, else ``None``.
        method: the HTTP method of the failed Runbeam Cloud request (``"GET"``), else ``None``.
        path: its path relative to the API root (``"/harmony/base-url"``), else ``None``.
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
    method: Optional[str]
    path: Optional[str]
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
        method: Optional[str] = None,
        path: Optional[str] = None,
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
        self.method = method
        self.path = path
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


class ServerErrorError(RunbeamError):
    """Runbeam Cloud failed (HTTP 5xx)."""


class TransportError(RunbeamError):
    """Connecting, TLS, DNS or the connection itself failed."""


class TimeoutError(RunbeamError):  # noqa: A001 - the name follows the core kind `Timeout`
    """A deadline passed. (Not the built-in ``TimeoutError``.)"""


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


class CancelledError(RunbeamError):
    """The operation was cancelled by the caller."""


class InternalError(RunbeamError):
    """A bug in librunbeam (including a caught panic); please report it."""


def _set_kinds() -> None:
    for name, code, *_ in _native.error_kinds():
        cls = globals().get(name + "Error")
        if isinstance(cls, type) and issubclass(cls, RunbeamError):
            cls.kind = name
            cls.code = code


_set_kinds()
