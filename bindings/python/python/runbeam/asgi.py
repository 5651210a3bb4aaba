"""ASGI middleware for a gateway's HTTP edge (Starlette, FastAPI, any ASGI framework).

- :class:`AuthenticateMiddleware` validates the user's JWT of every request
  (``Authorization: Bearer``) with an :class:`runbeam.AsyncValidator` and puts its
  :class:`runbeam.Claims` in the ASGI scope under :data:`CLAIMS_KEY` (``"runbeam.claims"``:
  ``request.scope["runbeam.claims"]`` in Starlette and FastAPI, or :func:`user_claims`).
- :class:`MeshGuardMiddleware` verifies the mesh token a partner gateway sends to an ingress
  route with an :class:`runbeam.AsyncResolver`, for a mesh and the URL being served, and puts its
  claims under :data:`MESH_CLAIMS_KEY` (``"runbeam.mesh_claims"``, or :func:`mesh_claims`).
- :func:`refusal_response` and :func:`refusal_handler` answer an error of the SDK that a route
  got (from :meth:`runbeam.AsyncResolver.outbound`, say); :func:`send_refusal` writes a refusal
  on a bare ASGI ``send``; :func:`request_target` is the request path (with its query) as the
  client sent it, for ``outbound`` and the mesh guard.

A request the SDK refuses gets runbeam-core's answer (:func:`runbeam.refusal_for`, docs/edge.md):
401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for a missing, malformed, expired or
untrusted token, 503 with ``Retry-After`` when the keys cannot be fetched, 400 for a request path
that would leave the served URL; the body is a fixed JSON object (``{"error":"invalid_token"}``)
that never carries the error. Every exception of the SDK's check, an unexpected
:class:`runbeam.InternalError` included, becomes such a refusal: the middleware never answers 500
for the SDK. The error goes to the ``on_error(error, scope, refusal)`` hook (sync or async; by
default a DEBUG record of the ``runbeam.asgi`` logger). Exceptions of the application (the
wrapped app, ``skip``, ``on_error``) pass through untouched.

Scopes: ``lifespan`` (and any other type but ``http`` and ``websocket``) passes through.
``websocket`` scopes are checked like ``http`` ones, from the handshake's headers (a browser
cannot set ``Authorization`` on a WebSocket: such routes need another scheme, or ``skip``); a
refused handshake gets the refusal as its HTTP response when the server supports the ASGI
``websocket.http.response`` extension, else it is closed with code 1008 (the server answers
403).

Only the package and the standard library are imported: Starlette is not required (it is
imported by :func:`refusal_response` and :func:`refusal_handler` only, and gives
:func:`user_claims` its annotation for FastAPI when it is installed).

.. code-block:: python

    app = FastAPI()
    app.add_middleware(
        runbeam.asgi.AuthenticateMiddleware,
        validator=runbeam.AsyncValidator(trusted_issuers=["https://api.runbeam.io/api"]),
        public_paths=["/healthz"],
    )

    @app.get("/me")
    async def me(claims: Annotated[runbeam.Claims, Depends(runbeam.asgi.user_claims)]):
        return {"sub": claims.sub}
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Iterable,
    List,
    Literal,
    MutableMapping,
    Optional,
    Tuple,
    Union,
)
from urllib.parse import quote

from ._native import (
    AsyncResolver,
    AsyncValidator,
    Claims,
    Refusal,
    Resolver,
    Validator,
    join_path,
    refusal_for,
)
from .errors import InvalidArgumentError, RunbeamError

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.responses import Response
else:
    try:
        # Only the annotation of `user_claims` / `mesh_claims`, by which FastAPI passes them
        # the request. Starlette is not a dependency of the package.
        from starlette.requests import HTTPConnection
    except ImportError:  # pragma: no cover - without Starlette there is no FastAPI either
        HTTPConnection = Any

__all__ = [
    "CLAIMS_KEY",
    "MESH_CLAIMS_KEY",
    "Stage",
    "AuthenticateMiddleware",
    "MeshGuardMiddleware",
    "user_claims",
    "mesh_claims",
    "request_target",
    "send_refusal",
    "refusal_response",
    "refusal_handler",
]

#: The scope key of the user's verified claims (:class:`runbeam.Claims`), set by
#: :class:`AuthenticateMiddleware`.
CLAIMS_KEY = "runbeam.claims"
#: The scope key of the partner's verified mesh-token claims, set by :class:`MeshGuardMiddleware`.
MESH_CLAIMS_KEY = "runbeam.mesh_claims"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Where a check failed (see :func:`runbeam.refusal_for`).
Stage = Literal["user_token", "mesh_token", "outbound"]
#: ``on_error(error, scope, refusal)``: told of every refused request; may be a coroutine
#: function.
OnError = Callable[[BaseException, Scope, Refusal], Optional[Awaitable[None]]]

_log = logging.getLogger("runbeam.asgi")
_AUTHORIZATION = b"authorization"


# --- The request, as the client sent it --------------------------------------------------------


def _text(raw: bytes) -> str:
    """Request bytes as URL text: ASCII as is, any other byte percent-encoded (as a URL parser
    encodes it), so that the core sees what the client sent."""
    if raw.isascii():
        return raw.decode("ascii")
    return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


def request_target(scope: Scope) -> str:
    """The request path with its query (``/studies?modality=CT``) exactly as the client sent it:
    the ASGI ``raw_path`` (not percent-decoded, any mount prefix included) and
    ``query_string``. It is what :func:`runbeam.join_path` and
    :meth:`runbeam.AsyncResolver.outbound` expect, so that an encoded ``/`` or ``..`` is seen and
    refused there. A server that gives no ``raw_path`` gets ``path`` percent-encoded again."""
    raw = scope.get("raw_path")
    if isinstance(raw, (bytes, bytearray)):
        path = _text(bytes(raw))
    else:
        path = quote(str(scope.get("path") or "/"), safe="/!$&'()*+,;=:@~")
    query = scope.get("query_string")
    if query:
        return f"{path}?{_text(bytes(query))}"
    return path


def _authorization(scope: Scope) -> Optional[str]:
    """The ``Authorization`` header of the request; ``None`` without one. Several are joined
    with ``", "`` (HTTP's rule for repeated fields), which the core refuses as malformed."""
    found: Optional[str] = None
    for name, value in scope.get("headers") or ():
        if len(name) == 13 and name.lower() == _AUTHORIZATION:
            text = bytes(value).decode("latin-1")
            found = text if found is None else f"{found}, {text}"
    return found


# --- Refusals ----------------------------------------------------------------------------------


def _headers(refusal: Refusal) -> List[Tuple[bytes, bytes]]:
    body = refusal.body
    headers = [
        (b"content-type", refusal.content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
    ]
    headers.extend((n.encode("latin-1"), v.encode("latin-1")) for n, v in refusal.headers)
    return headers


async def send_refusal(send: Send, refusal: Refusal) -> None:
    """Writes ``refusal`` as the HTTP response of a bare ASGI ``http`` request: its status,
    ``Content-Type``, ``Content-Length``, its headers (``WWW-Authenticate``, ``Retry-After``)
    and its body."""
    await send(
        {"type": "http.response.start", "status": refusal.status, "headers": _headers(refusal)}
    )
    await send({"type": "http.response.body", "body": refusal.body})


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    message = await receive()
    if message.get("type") != "websocket.connect":
        return  # the client left before the handshake ended
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": refusal.status,
                "headers": _headers(refusal),
            }
        )
        await send({"type": "websocket.http.response.body", "body": refusal.body})
    else:
        # 1008: policy violation; before `websocket.accept` the server answers 403.
        await send({"type": "websocket.close", "code": 1008})


def _log_refusal(error: BaseException, scope: Scope, refusal: Refusal) -> None:
    """The default ``on_error``: a DEBUG record (an unexpected exception: a WARNING with its
    traceback). SDK messages never quote a token."""
    method = scope.get("method", "WEBSOCKET")
    path = scope.get("path", "")
    if isinstance(error, RunbeamError) and refusal.kind != "Internal":
        _log.debug("%s %s refused: %d %s: %s", method, path, refusal.status, error.kind, error)
    else:
        _log.warning(
            "%s %s refused: %d after an unexpected error of the SDK (%s)",
            method,
            path,
            refusal.status,
            type(error).__name__,
            exc_info=error,
        )


def refusal_response(error: BaseException, stage: Stage = "outbound") -> "Response":
    """The refusal of ``error`` raised at ``stage`` (``"outbound"``, ``"user_token"`` or
    ``"mesh_token"``) as a Starlette ``Response``, for a route that caught an SDK error::

        try:
            out = await resolver.outbound(REFERENCE, runbeam.asgi.request_target(request.scope))
        except runbeam.RunbeamError as e:
            return runbeam.asgi.refusal_response(e)  # 403 not_in_mesh, 503 + Retry-After, ...

    Needs Starlette (FastAPI's ``Response`` is Starlette's)."""
    from starlette.responses import Response

    refusal = refusal_for(error, stage)
    return Response(
        content=refusal.body,
        status_code=refusal.status,
        headers=dict(refusal.headers),
        media_type=refusal.content_type,
    )


async def refusal_handler(request: Any, error: Exception) -> "Response":
    """An exception handler (Starlette's ``exception_handlers``, FastAPI's
    ``app.add_exception_handler``) for :class:`runbeam.RunbeamError`: a route that lets an SDK
    error through answers with its ``"outbound"`` refusal (never 500), and the error is logged
    as by the middleware's default ``on_error``::

        app.add_exception_handler(runbeam.RunbeamError, runbeam.asgi.refusal_handler)
    """
    refusal = refusal_for(error, "outbound")
    _log_refusal(error, request.scope, refusal)
    return refusal_response(error, "outbound")


# --- The middleware ----------------------------------------------------------------------------


def _public_paths(paths: Iterable[str], where: str) -> "frozenset[str]":
    if isinstance(paths, str):
        raise TypeError(f"{where}: public_paths must be a list of paths, not a str")
    chosen = frozenset(paths)
    for path in chosen:
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidArgumentError(f"{where}: public_paths must be paths starting with '/'")
    return chosen


class _Check:
    """What both middleware classes share: the scope types checked, public paths, the refusal."""

    _stage: Stage = "outbound"
    _key = ""

    def __init__(
        self,
        app: ASGIApp,
        public_paths: Iterable[str],
        skip: Optional[Callable[[Scope], bool]],
        on_error: Optional[OnError],
    ) -> None:
        where = type(self).__name__
        if skip is not None and not callable(skip):
            raise TypeError(f"{where}: skip must be a callable taking the ASGI scope")
        if on_error is not None and not callable(on_error):
            raise TypeError(f"{where}: on_error must be a callable (error, scope, refusal)")
        self.app = app
        self.public_paths = _public_paths(public_paths, where)
        self.skip = skip
        self.on_error: OnError = on_error if on_error is not None else _log_refusal

    def _step(self, scope: Scope) -> Union[Claims, Awaitable[Claims]]:
        """The claims when the answer is known now (a cache hit), else an awaitable (a
        signature check on a runbeam thread, which leaves the event loop free, or a key
        fetch)."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (
            (kind != "http" and kind != "websocket")
            or scope.get("path") in self.public_paths
            or (self.skip is not None and self.skip(scope))
        ):
            await self.app(scope, receive, send)
            return
        try:
            step = self._step(scope)
            claims = step if isinstance(step, Claims) else await step
        except Exception as error:  # every failure of the SDK's check is a refusal, never a 500
            await self._refuse(scope, receive, send, error)
            return
        scope[self._key] = claims
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        refusal = refusal_for(error, self._stage)
        outcome = self.on_error(error, scope, refusal)
        if inspect.isawaitable(outcome):
            await outcome
        if scope["type"] == "websocket":
            await _deny_websocket(scope, receive, send, refusal)
        else:
            await send_refusal(send, refusal)


class AuthenticateMiddleware(_Check):
    """Validates the user's JWT of every request (``Authorization: Bearer <JWT>``) with
    ``validator`` (an :class:`runbeam.AsyncValidator`: keys cached, the check answers without
    I/O; a key fetch is awaited without blocking the event loop) and puts the claims in the
    scope under :data:`CLAIMS_KEY`. A refused request gets runbeam-core's refusal at the
    ``"user_token"`` stage: 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for a
    missing, malformed, expired or untrusted token, 503 with ``Retry-After`` when the keys cannot
    be fetched.

    ``public_paths``: request paths (exact, as routed: ``scope["path"]``, no query) let through
    without a token, e.g. ``["/healthz"]``. ``skip(scope)``: true lets the request through too.
    ``on_error(error, scope, refusal)``: told of every refused request (sync or async); the
    default logs it at DEBUG on ``runbeam.asgi``.

    Starlette: ``app.add_middleware(AuthenticateMiddleware, validator=..., public_paths=[...])``;
    any ASGI app: ``AuthenticateMiddleware(app, validator)``.
    """

    _stage: Stage = "user_token"
    _key = CLAIMS_KEY

    def __init__(
        self,
        app: ASGIApp,
        validator: AsyncValidator,
        *,
        public_paths: Iterable[str] = (),
        skip: Optional[Callable[[Scope], bool]] = None,
        on_error: Optional[OnError] = None,
    ) -> None:
        if not isinstance(validator, AsyncValidator):
            hint = (
                ": a key fetch of a Validator would block the event loop; build a "
                "runbeam.AsyncValidator with the same arguments"
                if isinstance(validator, Validator)
                else ""
            )
            raise TypeError(
                f"AuthenticateMiddleware: validator must be a runbeam.AsyncValidator, "
                f"not {type(validator).__name__}{hint}"
            )
        super().__init__(app, public_paths, skip, on_error)
        self.validator = validator

    def _step(self, scope: Scope) -> Union[Claims, Awaitable[Claims]]:
        return _now_or_later(self.validator.authenticate(_authorization(scope)))


def _now_or_later(answer: "asyncio.Future[Claims]") -> Union[Claims, Awaitable[Claims]]:
    """The claims of an already completed answer (a cache hit: raises its error, if any), else
    the answer to await. The `…_cached` calls would verify a new token's signature on the event
    loop's thread; the awaitable form checks it on a runbeam thread."""
    return answer.result() if answer.done() else answer


class MeshGuardMiddleware(_Check):
    """Verifies the mesh token a partner gateway sends with every request to an ingress route
    (``Authorization: Bearer <mesh token>``) with ``resolver`` (an :class:`runbeam.AsyncResolver`)
    for ``mesh`` (its configuration name or Cloud id) and puts its claims in the scope under
    :data:`MESH_CLAIMS_KEY`. A refused request gets runbeam-core's refusal at the
    ``"mesh_token"`` stage: 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for no
    token, a malformed or expired one, a token for another mesh or another destination, or a
    user JWT; 400 for a request path that would leave the served URL; 503 with ``Retry-After``
    when the keys cannot be fetched.

    ``public_url``: this gateway's public base URL, the URL registered for its ingress in
    Runbeam Cloud (``https://dicom.radiology.example.com``). The URL served is
    ``join_path(public_url, request_target(scope))`` and must lie under the token's
    ``dest_url``, so that a token issued for one resource cannot be replayed against another.
    It is never taken from the ``Host`` header, which the client controls. Without
    ``public_url`` only the signature, issuer, audience (``mesh:<id>``), ``mesh_id`` and expiry
    are checked: configure it whenever the gateway serves more than one resource. Checked when
    the middleware is built (``InvalidArgumentError``).

    ``public_paths``, ``skip`` and ``on_error``: as for :class:`AuthenticateMiddleware`.
    """

    _stage: Stage = "mesh_token"
    _key = MESH_CLAIMS_KEY

    def __init__(
        self,
        app: ASGIApp,
        resolver: AsyncResolver,
        mesh: str,
        *,
        public_url: Optional[str] = None,
        public_paths: Iterable[str] = (),
        skip: Optional[Callable[[Scope], bool]] = None,
        on_error: Optional[OnError] = None,
    ) -> None:
        if not isinstance(resolver, AsyncResolver):
            hint = (
                ": a key fetch of a Resolver would block the event loop; build a "
                "runbeam.AsyncResolver with the same arguments"
                if isinstance(resolver, Resolver)
                else ""
            )
            raise TypeError(
                f"MeshGuardMiddleware: resolver must be a runbeam.AsyncResolver, "
                f"not {type(resolver).__name__}{hint}"
            )
        if not isinstance(mesh, str) or not mesh:
            raise InvalidArgumentError(
                "MeshGuardMiddleware: mesh must be the name (or Cloud id) of a mesh"
            )
        if public_url is not None:
            if not isinstance(public_url, str):
                what = type(public_url).__name__
                raise TypeError(f"MeshGuardMiddleware: public_url must be a str, not {what}")
            try:
                join_path(public_url, "/")  # the core's checks of a base URL, now
            except InvalidArgumentError as e:
                raise InvalidArgumentError(f"MeshGuardMiddleware: public_url: {e}") from None
        super().__init__(app, public_paths, skip, on_error)
        self.resolver = resolver
        self.mesh = mesh
        self.public_url = public_url

    def _step(self, scope: Scope) -> Union[Claims, Awaitable[Claims]]:
        served = None
        if self.public_url is not None:
            served = join_path(self.public_url, request_target(scope))
        authorization = _authorization(scope)
        return _now_or_later(self.resolver.verify_mesh_request(authorization, self.mesh, served))


# --- FastAPI dependencies ----------------------------------------------------------------------


async def user_claims(connection: HTTPConnection) -> Claims:
    """The claims :class:`AuthenticateMiddleware` verified for this request (``Request`` or
    ``WebSocket``): a FastAPI dependency, ``claims: Annotated[runbeam.Claims,
    Depends(runbeam.asgi.user_claims)]``. A coroutine function, so that FastAPI calls it on the
    event loop rather than in its thread pool (elsewhere read ``scope[CLAIMS_KEY]``). Raises
    ``LookupError`` on a request the middleware did not check (a public path, or no
    middleware): a bug of the application."""
    claims: Optional[Claims] = connection.scope.get(CLAIMS_KEY)
    if claims is None:
        raise LookupError(
            "no runbeam claims on this request: AuthenticateMiddleware is not installed or let "
            "it through (public_paths, skip)"
        )
    return claims


async def mesh_claims(connection: HTTPConnection) -> Claims:
    """The mesh-token claims :class:`MeshGuardMiddleware` verified for this request (the
    partner: ``source_team``, ``sub``, ``dest_url``, …): a FastAPI dependency, like
    :func:`user_claims` (elsewhere read ``scope[MESH_CLAIMS_KEY]``). Raises ``LookupError`` on a
    request the guard did not check."""
    claims: Optional[Claims] = connection.scope.get(MESH_CLAIMS_KEY)
    if claims is None:
        raise LookupError(
            "no runbeam mesh claims on this request: MeshGuardMiddleware is not installed or "
            "let it through (public_paths, skip)"
        )
    return claims
