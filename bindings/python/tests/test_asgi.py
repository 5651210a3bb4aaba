"""runbeam.asgi: the middleware served by a real ASGI server (uvicorn on 127.0.0.1, port 0, in a
thread), called over real HTTP (httpx), against runbeam-devcloud.

- AuthenticateMiddleware in a Starlette app and in a FastAPI app: 200 with the claims in the
  scope; 401 with exactly ``WWW-Authenticate: Bearer error="invalid_token"`` and the fixed body
  for a missing, malformed, expired, untrusted-issuer or foreign-key token; 503 with
  ``Retry-After`` when the keys cannot be fetched; an unexpected InternalError still a refusal;
  the ``on_error`` hook; public paths; the application's own exceptions and lifespan untouched.
- MeshGuardMiddleware on an ingress app: 200 for the Cloud's mesh token, 401 for none, one for
  another mesh, one for another destination, a user JWT; 400 for an encoded path escape.
- Requests across the mesh: an egress app in Python forwarding to the ingress app in Python
  (the devcloud's ingress URL PATCHed to it), 403 outside the mesh, 503 + Retry-After with the
  Cloud failing and no stale answer (injected faults, a dead port).
- examples/python/mesh_gateway.py as a process, as the demo runs it.
- websocket scopes (in-process: the server here has no WebSocket library).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Annotated, Any, Callable, Dict, Iterator, List, Optional

import httpx
import jwt as pyjwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import runbeam
import runbeam.asgi
from conftest import (
    ALICE,
    ANALYTICS_GW,
    BOB,
    DICOMWEB,
    EXAMPLES,
    RADIOLOGY_GW,
    REPO,
    RESOLVE_PATH,
    Cloud,
)
from runbeam import _native
from runbeam.asgi import (
    CLAIMS_KEY,
    MESH_CLAIMS_KEY,
    AuthenticateMiddleware,
    MeshGuardMiddleware,
    mesh_claims,
    refusal_handler,
    refusal_response,
    request_target,
    user_claims,
)

BOB_EMAIL = "bob@analytics.example.com"
MESH = "imaging-integration"
# The mesh id of the tokens the Cloud issues for this mesh: the configuration's mesh `id`, which
# examples/config leaves to default to the mesh's name (what `Resolver.mesh_token` asks for and
# the receiving resolver expects in `aud = mesh:<id>`).
MESH_ID = MESH
OTHER_MESH_ID = "01JDWZZZZZZZZZZZZZZZZZZZZZ"
DICOMWEB_INGRESS_ID = "01JDW14DR9GPQY77ZXYYK596NG"
PACS = "runbeam.radiology-dept.ingress.name.pacs"
CHALLENGE = 'Bearer error="invalid_token"'
INVALID_TOKEN = b'{"error":"invalid_token"}'
# An expired token: beyond the validator's default 60 s leeway on `exp` (a token that expired 60 s
# ago is still inside it, and accepted).
EXPIRED_TTL = -120


# --- A real server -----------------------------------------------------------------------------


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 (a port the OS picked) in a thread."""

    def __init__(self, make_app: Callable[[str], Any]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        config = uvicorn.Config(
            make_app(self.url), lifespan="on", log_level="critical", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped during start-up"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@contextmanager
def serve(make_app: Callable[[str], Any]) -> Iterator[str]:
    """Serves ``make_app(url)`` (the app learns its own URL first) and yields its URL."""
    with Served(make_app) as served:
        yield served.url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def get(
    http: httpx.Client, url: str, token: Optional[str] = None, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return http.get(url, headers=headers)


def assert_refused(answer: httpx.Response, status: int, body: bytes) -> None:
    assert answer.status_code == status, answer.text
    assert answer.content == body
    assert answer.headers["content-type"] == "application/json"
    if status == 401:
        assert answer.headers.get_list("www-authenticate") == [CHALLENGE]
    else:
        assert "www-authenticate" not in answer.headers
    if status == 503:
        assert int(answer.headers["retry-after"]) >= 1
    else:
        assert "retry-after" not in answer.headers


# --- Tokens ------------------------------------------------------------------------------------


def mint(cloud: Cloud, **body: Any) -> str:
    body.setdefault("email", BOB_EMAIL)
    return cloud.dev_post("jwt", body)["token"]


def header_of(token: str) -> Dict[str, Any]:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def foreign_key_token(cloud: Cloud) -> str:
    """A token with the devcloud's issuer, claims and key id, signed with another RSA key."""
    genuine = mint(cloud)
    claims = pyjwt.decode(genuine, options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return pyjwt.encode(claims, key, algorithm="RS256", headers={"kid": header_of(genuine)["kid"]})


def validator(cloud: Cloud) -> runbeam.AsyncValidator:
    return runbeam.AsyncValidator(trusted_issuers=[f"{cloud.url}/api"])


# --- The apps ----------------------------------------------------------------------------------


class Recorder:
    """An ``on_error`` hook keeping what it was told (from the server's thread)."""

    def __init__(self) -> None:
        self.calls: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, error: BaseException, scope: Any, refusal: runbeam.Refusal) -> None:
        with self.lock:
            self.calls.append((error, scope["path"], refusal))

    def kinds(self) -> List[str]:
        with self.lock:
            return [getattr(e, "kind", type(e).__name__) for e, _, _ in self.calls]


def claims_json(claims: runbeam.Claims) -> Dict[str, Any]:
    return {"sub": claims.sub, "email": claims.user.email if claims.user else None}


def starlette_app(v: runbeam.AsyncValidator, **options: Any) -> Starlette:
    started: List[bool] = []

    async def me(request: Request) -> Response:
        return JSONResponse(claims_json(request.scope[CLAIMS_KEY]))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "lifespan": started == [True]})

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug of the application")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        started.append(True)
        yield

    return Starlette(
        routes=[Route("/me", me), Route("/healthz", healthz), Route("/boom", boom)],
        middleware=[Middleware(AuthenticateMiddleware, validator=v, **options)],
        lifespan=lifespan,
    )


def fastapi_app(v: runbeam.AsyncValidator, **options: Any) -> FastAPI:
    from contextlib import asynccontextmanager

    started: List[bool] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        started.append(True)
        yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(AuthenticateMiddleware, validator=v, **options)

    @app.get("/me")
    async def me(claims: Annotated[runbeam.Claims, Depends(user_claims)]) -> Dict[str, Any]:
        return claims_json(claims)

    @app.get("/healthz")
    async def healthz() -> Dict[str, Any]:
        return {"status": "ok", "lifespan": started == [True]}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug of the application")

    return app


APPS = {"starlette": starlette_app, "fastapi": fastapi_app}


@pytest.fixture(params=sorted(APPS))
def framework(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return APPS[request.param]


# --- The user's JWT ----------------------------------------------------------------------------


def test_a_valid_jwt_reaches_the_route_with_its_claims(cloud: Cloud, framework: Any, http: Any):
    token = mint(cloud)
    with serve(lambda _: framework(validator(cloud))) as url:
        answer = get(http, f"{url}/me", token)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["email"] == BOB_EMAIL
        assert body["sub"] == pyjwt.decode(token, options={"verify_signature": False})["sub"]
        # Again: the cached path.
        assert get(http, f"{url}/me", token).json() == body


def test_public_paths_and_lifespan_pass_through(cloud: Cloud, framework: Any, http: Any):
    with serve(lambda _: framework(validator(cloud), public_paths=["/healthz"])) as url:
        answer = get(http, f"{url}/healthz")
        # The app's lifespan ran behind the middleware.
        assert (answer.status_code, answer.json()) == (200, {"status": "ok", "lifespan": True})
        # Exact paths only: a query is fine, another path is not public.
        assert get(http, f"{url}/healthz?verbose=1").status_code == 200
        assert_refused(get(http, f"{url}/healthz/"), 401, INVALID_TOKEN)
        assert_refused(get(http, f"{url}/me"), 401, INVALID_TOKEN)


def test_bad_tokens_get_401_with_the_challenge_and_no_detail(
    cloud: Cloud, framework: Any, http: Any
):
    hook = Recorder()
    expired = mint(cloud, ttl_secs=EXPIRED_TTL)
    other_issuer = mint(cloud, claims={"iss": "https://evil.example.com/api"})
    foreign = foreign_key_token(cloud)
    genuine = mint(cloud)
    cases = [
        ("missing", {}, "JwtInvalid"),
        ("not a JWT", {"authorization": "Bearer not.a.jwt"}, "JwtInvalid"),
        ("another scheme", {"authorization": f"Basic {genuine}"}, "JwtInvalid"),
        ("no token", {"authorization": "Bearer"}, "JwtInvalid"),
        ("two tokens", {"authorization": f"Bearer {genuine} {genuine}"}, "JwtInvalid"),
        ("expired", {"authorization": f"Bearer {expired}"}, "JwtExpired"),
        ("untrusted issuer", {"authorization": f"Bearer {other_issuer}"}, "UntrustedIssuer"),
        ("foreign key", {"authorization": f"Bearer {foreign}"}, "JwtInvalid"),
    ]
    with serve(lambda _: framework(validator(cloud), on_error=hook)) as url:
        for what, headers, _ in cases:
            answer = http.get(f"{url}/me", headers=headers)
            assert answer.status_code == 401, what
            assert_refused(answer, 401, INVALID_TOKEN)
            assert "eyJ" not in answer.text, what
        # Two Authorization headers: refused, whichever is genuine.
        answer = http.get(
            f"{url}/me",
            headers=[("authorization", f"Bearer {genuine}"), ("authorization", "Bearer x")],
        )
        assert_refused(answer, 401, INVALID_TOKEN)
    # The hook got each error (the body never does), with the refusal sent.
    assert hook.kinds() == [kind for _, _, kind in cases] + ["JwtInvalid"]
    for error, path, refusal in hook.calls:
        assert isinstance(error, runbeam.RunbeamError)
        assert path == "/me"
        assert (refusal.status, refusal.body) == (401, INVALID_TOKEN)


def test_keys_that_cannot_be_fetched_are_503_not_401(cloud: Cloud, framework: Any, http: Any):
    # A trusted issuer nobody answers for: the token may be fine, so not 401.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = "http://127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()
    token = mint(cloud, claims={"iss": f"{dead_url}/api"})
    v = runbeam.AsyncValidator(trusted_issuers=[f"{dead_url}/api"], deadline=2)
    with serve(lambda _: framework(v)) as url:
        answer = get(http, f"{url}/me", token)
        assert_refused(answer, 503, b'{"error":"unavailable"}')
        assert answer.headers["retry-after"] == "5"


def test_an_unexpected_internal_error_is_a_refusal_not_a_500(
    cloud: Cloud, framework: Any, http: Any
):
    if not hasattr(_native, "_fault_arm"):
        pytest.skip("release build: no fault injection")
    hook = Recorder()
    token = mint(cloud)
    with serve(lambda _: framework(validator(cloud), on_error=hook)) as url:
        _native._fault_arm("jwt", 1)
        try:
            answer = get(http, f"{url}/me", token)
        finally:
            _native._fault_arm("jwt", 0)
        assert_refused(answer, 503, b'{"error":"unavailable"}')
        assert hook.kinds() == ["Internal"]
        assert isinstance(hook.calls[0][0], runbeam.InternalError)
        # And the next request is served.
        assert get(http, f"{url}/me", token).status_code == 200


def test_exceptions_of_the_application_pass_through(cloud: Cloud, framework: Any, http: Any):
    token = mint(cloud)
    with serve(lambda _: framework(validator(cloud))) as url:
        # The app's bug is the app's 500 (Starlette's error page), not turned into a refusal.
        answer = get(http, f"{url}/boom", token)
        assert answer.status_code == 500
        assert answer.headers["content-type"].startswith("text/plain")


def test_a_raising_on_error_hook_is_the_applications_error(cloud: Cloud, http: Any):
    def hook(error: BaseException, scope: Any, refusal: runbeam.Refusal) -> None:
        raise RuntimeError("the host's logger failed")

    with serve(lambda _: starlette_app(validator(cloud), on_error=hook)) as url:
        assert get(http, f"{url}/me").status_code == 500


def test_an_async_on_error_hook_is_awaited(cloud: Cloud, http: Any):
    seen: List[str] = []

    async def hook(error: BaseException, scope: Any, refusal: runbeam.Refusal) -> None:
        await asyncio.sleep(0)
        seen.append(refusal.kind)

    with serve(lambda _: starlette_app(validator(cloud), on_error=hook)) as url:
        assert_refused(
            get(http, f"{url}/me", mint(cloud, ttl_secs=EXPIRED_TTL)), 401, INVALID_TOKEN
        )
    assert seen == ["JwtExpired"]


def test_skip_lets_requests_through(cloud: Cloud, http: Any):
    app = starlette_app(validator(cloud), skip=lambda scope: scope["path"] == "/healthz")
    with serve(lambda _: app) as url:
        assert get(http, f"{url}/healthz").status_code == 200
        assert_refused(get(http, f"{url}/me"), 401, INVALID_TOKEN)


def test_misconfiguration_is_refused_when_the_middleware_is_built(cloud: Cloud):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    sync_validator = runbeam.Validator(trusted_issuers=[f"{cloud.url}/api"])
    with pytest.raises(TypeError, match="AsyncValidator with the same arguments"):
        AuthenticateMiddleware(app, sync_validator)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        AuthenticateMiddleware(app, "a validator")  # type: ignore[arg-type]
    with pytest.raises(runbeam.InvalidArgumentError, match="starting with '/'"):
        AuthenticateMiddleware(app, validator(cloud), public_paths=["healthz"])
    with pytest.raises(TypeError, match="not a str"):
        AuthenticateMiddleware(app, validator(cloud), public_paths="/healthz")
    with pytest.raises(TypeError, match="on_error"):
        AuthenticateMiddleware(app, validator(cloud), on_error="log")  # type: ignore[arg-type]
    resolver = receiver(cloud)
    with pytest.raises(runbeam.InvalidArgumentError, match="public_url"):
        MeshGuardMiddleware(app, resolver, MESH, public_url="ftp://gw.example.com")
    with pytest.raises(runbeam.InvalidArgumentError, match="public_url"):
        MeshGuardMiddleware(app, resolver, MESH, public_url="https://user:s3cret@gw.example.com")
    with pytest.raises(runbeam.InvalidArgumentError, match="mesh"):
        MeshGuardMiddleware(app, resolver, "")
    with pytest.raises(TypeError, match="AsyncResolver"):
        MeshGuardMiddleware(app, object(), MESH)  # type: ignore[arg-type]


# --- The mesh guard (ingress) ------------------------------------------------------------------


def receiver(cloud: Cloud) -> runbeam.AsyncResolver:
    """radiology-dept's resolver: verification needs keys only, no machine token."""
    config = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    config = config.with_provider_api("runbeam", cloud.url)
    manager = runbeam.AsyncTokenManager(RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url)
    return runbeam.AsyncResolver(config, cloud.url, manager)


def sender(cloud: Cloud, api: Optional[str] = None) -> runbeam.AsyncResolver:
    """ai-analytics' resolver, its provider at ``api`` (default: the devcloud)."""
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    config = config.with_provider_api("runbeam", api or cloud.url)
    manager = runbeam.AsyncTokenManager(
        ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url, credential=BOB
    )
    return runbeam.AsyncResolver(config, cloud.url, manager)


STUDIES = [{"0020000D": {"vr": "UI", "Value": ["1.2.840.1"]}}]


def ingress_app(resolver: runbeam.AsyncResolver, public_url: Optional[str], **options: Any) -> Any:
    async def studies(request: Request) -> Response:
        partner = await mesh_claims(request)
        assert partner is request.scope[MESH_CLAIMS_KEY]
        return JSONResponse(
            {
                "studies": STUDIES,
                "source_team": partner.get("source_team"),
                "path": request.url.path,
            },
            headers={"x-partner-sub": partner.sub or ""},
        )

    return Starlette(
        routes=[Route("/studies", studies), Route("/studies/{uid}", studies)],
        middleware=[
            Middleware(
                MeshGuardMiddleware, resolver=resolver, mesh=MESH, public_url=public_url, **options
            )
        ],
    )


def test_the_mesh_guard_admits_the_clouds_mesh_token_and_refuses_the_rest(cloud: Cloud, http: Any):
    hook = Recorder()
    with serve(lambda url: ingress_app(receiver(cloud), url, on_error=hook)) as url:
        genuine = mint(
            cloud, claims={"aud": f"mesh:{MESH_ID}", "mesh_id": MESH_ID, "dest_url": url}
        )
        answer = get(http, f"{url}/studies?modality=CT", genuine)
        assert answer.status_code == 200, answer.text
        assert answer.json()["studies"] == STUDIES
        assert get(http, f"{url}/studies/1.2.840.1", genuine).status_code == 200

        other_mesh = mint(
            cloud,
            claims={"aud": f"mesh:{OTHER_MESH_ID}", "mesh_id": OTHER_MESH_ID, "dest_url": url},
        )
        other_destination = mint(
            cloud,
            claims={
                "aud": f"mesh:{MESH_ID}",
                "mesh_id": MESH_ID,
                "dest_url": "https://elsewhere.example.com",
            },
        )
        expired = mint(
            cloud,
            ttl_secs=EXPIRED_TTL,
            claims={"aud": f"mesh:{MESH_ID}", "mesh_id": MESH_ID, "dest_url": url},
        )
        user_jwt = mint(cloud)
        for token in (None, other_mesh, other_destination, expired, user_jwt, "not.a.jwt"):
            assert_refused(get(http, f"{url}/studies", token), 401, INVALID_TOKEN)
        # The path checked is the one the client sent: an encoded '/' is refused (400), not
        # decoded into another path.
        assert_refused(
            get(http, f"{url}/studies%2f..%2fadmin", genuine), 400, b'{"error":"invalid_request"}'
        )
    assert hook.kinds() == ["JwtInvalid"] * 3 + [
        "JwtExpired",
        "JwtInvalid",
        "JwtInvalid",
        "InvalidArgument",
    ]


def test_a_token_for_one_resource_is_refused_on_another_path(cloud: Cloud, http: Any):
    # The served URL is public_url + the request path: a token issued for /studies does not open
    # /admin on the same gateway.
    with serve(lambda url: ingress_app(receiver(cloud), url)) as url:
        scoped = mint(
            cloud,
            claims={"aud": f"mesh:{MESH_ID}", "mesh_id": MESH_ID, "dest_url": f"{url}/studies"},
        )
        assert get(http, f"{url}/studies/1.2.840.1", scoped).status_code == 200
        answer = get(http, f"{url}/studie", scoped)
        assert_refused(answer, 401, INVALID_TOKEN)


def test_without_a_public_url_the_destination_is_not_checked(cloud: Cloud, http: Any):
    with serve(lambda _: ingress_app(receiver(cloud), None)) as url:
        elsewhere = mint(
            cloud,
            claims={
                "aud": f"mesh:{MESH_ID}",
                "mesh_id": MESH_ID,
                "dest_url": "https://elsewhere.example.com",
            },
        )
        assert get(http, f"{url}/studies", elsewhere).status_code == 200
        other_mesh = mint(
            cloud,
            claims={"aud": f"mesh:{OTHER_MESH_ID}", "mesh_id": OTHER_MESH_ID, "dest_url": url},
        )
        assert_refused(get(http, f"{url}/studies", other_mesh), 401, INVALID_TOKEN)


# --- Across the mesh: an egress app forwarding to the ingress app -------------------------------


def point_dicomweb_at(cloud: Cloud, url: str) -> None:
    """radiology-dept (Alice) registers ``url`` as its ingress dicomweb's URL."""
    request = httpx.patch(
        f"{cloud.url}/api/ingresses/{DICOMWEB_INGRESS_ID}",
        headers={"authorization": f"Bearer {ALICE}"},
        json={"urls": [url], "protocol": "http"},
        trust_env=False,
    )
    assert request.status_code == 200, request.text


def egress_app(cloud: Cloud, resolver: runbeam.AsyncResolver, fastapi: bool = False) -> Any:
    """ai-analytics' gateway: /imaging/... to dicomweb, /pacs/... to pacs (outside the mesh)."""

    async def forward(request: Request, prefix: str, reference: str) -> Response:
        path = request_target(request.scope)[len(prefix) :]
        out = await resolver.outbound(reference, path)  # an SDK error: refusal_handler
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(out.url, headers=out.headers)
        return Response(
            answer.content, answer.status_code, media_type=answer.headers["content-type"]
        )

    async def imaging(request: Request) -> Response:
        return await forward(request, "/imaging", DICOMWEB)

    async def pacs(request: Request) -> Response:
        try:
            out = await resolver.outbound(PACS, request_target(request.scope)[len("/pacs") :])
        except runbeam.RunbeamError as e:
            return refusal_response(e)
        raise AssertionError(f"pacs is outside the mesh, yet {out!r}")

    middleware = [Middleware(AuthenticateMiddleware, validator=validator(cloud))]
    if fastapi:
        app = FastAPI(middleware=middleware)
        app.add_exception_handler(runbeam.RunbeamError, refusal_handler)
        app.add_api_route("/imaging/{rest:path}", imaging)
        app.add_api_route("/pacs/{rest:path}", pacs)
        return app
    return Starlette(
        routes=[Route("/imaging/{rest:path}", imaging), Route("/pacs/{rest:path}", pacs)],
        middleware=middleware,
        exception_handlers={runbeam.RunbeamError: refusal_handler},
    )


@pytest.mark.parametrize("fastapi", [False, True], ids=["starlette", "fastapi"])
def test_a_request_crosses_the_mesh_from_python_to_python(cloud: Cloud, http: Any, fastapi: bool):
    with serve(lambda url: ingress_app(receiver(cloud), url)) as ingress:
        point_dicomweb_at(cloud, ingress)
        with serve(lambda _: egress_app(cloud, sender(cloud), fastapi)) as egress:
            jwt = mint(cloud)
            answer = get(http, f"{egress}/imaging/studies?modality=CT", jwt)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            # The ingress verified a mesh token the Cloud issued to ai-analytics' gateway.
            assert body["studies"] == STUDIES and body["path"] == "/studies"
            assert body["source_team"]
            assert get(http, f"{egress}/imaging/studies/1.2.840.1", jwt).json()["path"] == (
                "/studies/1.2.840.1"
            )
            # The user's JWT is checked first.
            assert_refused(get(http, f"{egress}/imaging/studies"), 401, INVALID_TOKEN)
            # Outside the mesh: 403 before any request.
            assert_refused(
                get(http, f"{egress}/pacs/studies", jwt), 403, b'{"error":"not_in_mesh"}'
            )
            # A path that would leave the resource: 400, nothing sent.
            assert_refused(
                get(http, f"{egress}/imaging/..%2fadmin", jwt), 400, b'{"error":"invalid_request"}'
            )


def test_the_cloud_failing_with_no_stale_answer_is_503_with_retry_after(cloud: Cloud, http: Any):
    # Every resolve answered 503 with the Cloud's Retry-After, for a resolver that never
    # resolved (no stale answer to serve).
    cloud.fault(path=RESOLVE_PATH, status=503, retry_after=7, count=100)
    with serve(lambda _: egress_app(cloud, sender(cloud))) as egress:
        answer = get(http, f"{egress}/imaging/studies", mint(cloud))
        assert_refused(answer, 503, b'{"error":"unavailable"}')
        assert answer.headers["retry-after"] == "7"
    cloud.clear_faults()


def test_a_cloud_at_a_dead_port_is_503_with_retry_after(cloud: Cloud, http: Any):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = "http://127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()
    with serve(lambda _: egress_app(cloud, sender(cloud, api=dead_url))) as egress:
        answer = get(http, f"{egress}/imaging/studies", mint(cloud))
        assert_refused(answer, 503, b'{"error":"unavailable"}')
        assert answer.headers["retry-after"] == "5"


def test_a_stale_answer_still_carries_the_request(cloud: Cloud, http: Any):
    with serve(lambda url: ingress_app(receiver(cloud), url)) as ingress:
        point_dicomweb_at(cloud, ingress)
        config = runbeam.MeshConfig.from_toml(
            (EXAMPLES / "ai-analytics.toml")
            .read_text(encoding="utf-8")
            .replace('api = "https://api.runbeam.io"', f'api = "{cloud.url}"\ncache_ttl_secs = 1')
        )
        manager = runbeam.AsyncTokenManager(
            ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url, credential=BOB
        )
        resolver = runbeam.AsyncResolver(config, cloud.url, manager)
        with serve(lambda _: egress_app(cloud, resolver)) as egress:
            jwt = mint(cloud)
            assert get(http, f"{egress}/imaging/studies", jwt).status_code == 200
            time.sleep(1.2)  # past the TTL
            cloud.fault(path=RESOLVE_PATH, status=503, count=100)
            assert get(http, f"{egress}/imaging/studies", jwt).status_code == 200
            cloud.clear_faults()


# --- The native pieces the middleware is made of ------------------------------------------------


def test_outbound_never_shows_its_token(cloud: Cloud):
    async def main() -> runbeam.Outbound:
        return await sender(cloud).outbound(DICOMWEB, "/studies?modality=CT")

    out = asyncio.run(main())
    token = out.authorization.removeprefix("Bearer ")
    assert out.headers == {"authorization": f"Bearer {token}"}
    assert out.url == "https://dicom.radiology.example.com/studies?modality=CT"
    assert (out.base_url, out.mesh, out.reference) == (
        "https://dicom.radiology.example.com",
        MESH,
        DICOMWEB,
    )
    assert out.is_stale is False and out.token_expires_at.tzinfo is not None
    for text in (repr(out), str(out)):
        assert token not in text and token.split(".")[2] not in text
        assert "authorization=<redacted>" in text


def test_request_target_is_the_path_as_sent():
    scope = {"type": "http", "path": "/a/b c", "raw_path": b"/a%2Fb%20c", "query_string": b"x=1"}
    assert request_target(scope) == "/a%2Fb%20c?x=1"
    assert request_target({"path": "/a/b c", "query_string": b""}) == "/a/b%20c"
    assert request_target({"raw_path": b"/caf\xc3\xa9", "query_string": b"q=\xff"}) == (
        "/caf%C3%A9?q=%FF"
    )


# --- websocket scopes ----------------------------------------------------------------------------


def run_websocket(app: Any, headers: List[Any], extensions: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Calls ``app`` with a websocket scope (a handshake with ``headers``); what it sent."""
    sent: List[Dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> Dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": headers,
        "extensions": extensions,
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_websocket_handshakes_are_checked_like_requests(cloud: Cloud):
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": scope[CLAIMS_KEY].sub})

    app = AuthenticateMiddleware(inner, validator(cloud))
    token = mint(cloud)
    sub = pyjwt.decode(token, options={"verify_signature": False})["sub"]
    accepted = run_websocket(app, [(b"authorization", f"Bearer {token}".encode())], {})
    assert accepted == [{"type": "websocket.accept", "subprotocol": sub}]
    # Refused: the refusal as the HTTP answer when the server can send one...
    denied = run_websocket(app, [], {"websocket.http.response": {}})
    assert denied[0]["type"] == "websocket.http.response.start" and denied[0]["status"] == 401
    assert (b"www-authenticate", CHALLENGE.encode()) in denied[0]["headers"]
    assert denied[1] == {"type": "websocket.http.response.body", "body": INVALID_TOKEN}
    # ...else closed before it is accepted (the server answers 403).
    assert run_websocket(app, [], {}) == [{"type": "websocket.close", "code": 1008}]


def test_lifespan_and_other_scopes_pass_through(cloud: Cloud):
    seen: List[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    app = AuthenticateMiddleware(inner, validator(cloud))

    async def main() -> None:
        await app({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    asyncio.run(main())
    assert seen == ["lifespan"]


# --- The example gateway ------------------------------------------------------------------------


def test_the_example_mesh_gateway(cloud: Cloud, http: Any, tmp_path: Any):
    with serve(lambda url: ingress_app(receiver(cloud), url)) as ingress:
        point_dicomweb_at(cloud, ingress)
        env = dict(os.environ, RUNBEAM_HOME=str(tmp_path), RUNBEAM_SANCTUM_TOKEN=BOB)
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "examples" / "python" / "mesh_gateway.py"),
                str(EXAMPLES / "ai-analytics.toml"),
                cloud.url,
                "--watch",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("listening http://127.0.0.1:"), (line, process.stderr)
            gateway = line.removeprefix("listening ")
            jwt = mint(cloud)
            assert get(http, f"{gateway}/healthz").json() == {"status": "ok"}
            answer = get(http, f"{gateway}/imaging/studies", jwt)
            assert answer.status_code == 200, answer.text
            assert answer.json()["studies"] == STUDIES
            assert answer.headers["content-type"] == "application/json"
            assert_refused(get(http, f"{gateway}/imaging/studies"), 401, INVALID_TOKEN)
            expired = mint(cloud, ttl_secs=EXPIRED_TTL)
            assert_refused(get(http, f"{gateway}/imaging/studies", expired), 401, INVALID_TOKEN)
            assert_refused(
                get(http, f"{gateway}/pacs/studies", jwt), 403, b'{"error":"not_in_mesh"}'
            )
            # A change published in the Cloud reaches the watching gateway.
            cloud.dev_post(
                "changes",
                {
                    "gateway_code": ANALYTICS_GW,
                    "type": "mesh",
                    "action": "updated",
                    "config": '[mesh.imaging-integration]\ntype = "http3"\nprovider = "runbeam"\n'
                    'egress = ["imaging-out"]\n',
                },
            )
            deadline = time.monotonic() + 30
            while get(http, f"{gateway}/imaging/studies", jwt).status_code != 403:
                assert time.monotonic() < deadline, "the change never reached the gateway"
                time.sleep(0.2)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        lines = out.splitlines()
        assert "[Python] GET /imaging/studies -> 200" in lines
        assert "[Python] GET /imaging/studies -> 401" in lines
        assert "[Python] GET /pacs/studies -> 403" in lines
        assert any(line.startswith("[Python] watcher: applied ") for line in lines), out
        assert "eyJ" not in out + err
