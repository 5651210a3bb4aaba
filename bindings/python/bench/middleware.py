"""What runbeam.asgi's middleware costs a request over the bare framework, on the cached path
(the keys and the token's claims cached: no I/O), and what an outbound request's preparation
costs once the resolution and the mesh token are cached.

Apps are called in-process through their ASGI interface (no server, no sockets: the figures are
the middleware's own cost, not the network's), a GET with a small JSON answer:

- Starlette, bare vs ``AuthenticateMiddleware`` (a user JWT of the devcloud);
- FastAPI, bare vs ``AuthenticateMiddleware`` with the route reading the claims from
  ``request.scope``, and from ``Depends(user_claims)`` (FastAPI's dependency resolution is then
  part of the cost);
- Starlette, bare vs ``MeshGuardMiddleware`` with a public URL (``join_path`` + the mesh token
  verified for the URL served).

Each pair is interleaved in every repeat (machine noise hits both alike); the figure of a repeat
is the mean time per request over ``--number`` requests; the table gives the median over the
repeats with the interquartile range (Q1-Q3), and the overhead = median(with) - median(bare).
Then the outbound rows: ``AsyncResolver.outbound`` awaited, ``Resolver.outbound`` and
``Resolver.outbound_cached``, all answered from the caches; and the cached native steps alone
(the middleware calls ``authenticate_cached`` / ``verify_mesh_request_cached`` first: no
asyncio future on the cached path).

The devcloud mints the tokens and answers the requests that fill the caches. Run on a release
build: ``make python-bench`` (or, after ``maturin develop --release``:
``RUNBEAM_DEVCLOUD=path python bindings/python/bench/middleware.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Annotated, Any, Awaitable, Callable, Dict, List, Tuple

from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import runbeam
from _common import ROOT, devcloud_binary
from runbeam.asgi import (
    CLAIMS_KEY,
    MESH_CLAIMS_KEY,
    AuthenticateMiddleware,
    MeshGuardMiddleware,
    user_claims,
)

CONFIGS = ROOT / "examples" / "config"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
BOB_EMAIL = "bob@analytics.example.com"
MESH = "imaging-integration"
DICOMWEB = "runbeam.radiology-dept.ingress.name.dicomweb"
PUBLIC_URL = "https://dicom.radiology.example.com"

App = Callable[[Dict[str, Any], Any, Any], Awaitable[None]]


def mint(url: str, **body: Any) -> str:
    body.setdefault("email", BOB_EMAIL)
    request = urllib.request.Request(
        f"{url}/_dev/jwt",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["token"])


# --- The apps ----------------------------------------------------------------------------------


def starlette_app(middleware: List[Middleware], key: str | None) -> Starlette:
    async def studies(request: Request) -> Response:
        claims = request.scope.get(key) if key else None
        return JSONResponse({"sub": claims.sub if claims else None})

    return Starlette(routes=[Route("/studies", studies)], middleware=middleware)


Claims = Annotated[runbeam.Claims, Depends(user_claims)]


def fastapi_app(validator: runbeam.AsyncValidator | None, dependency: bool = False) -> FastAPI:
    """Bare (``validator`` None), or with the middleware, the route reading the claims from
    ``request.scope`` or (``dependency``) through ``Depends(user_claims)``."""
    app = FastAPI()
    if validator is None:

        @app.get("/studies")
        async def bare() -> Dict[str, Any]:
            return {"sub": None}

        return app
    app.add_middleware(AuthenticateMiddleware, validator=validator)
    if dependency:

        @app.get("/studies")
        async def studies(claims: Claims) -> Dict[str, Any]:
            return {"sub": claims.sub}

    else:

        @app.get("/studies")
        async def from_scope(request: Request) -> Dict[str, Any]:
            return {"sub": request.scope[CLAIMS_KEY].sub}

    return app


# --- In-process ASGI calls ---------------------------------------------------------------------


def scope_for(authorization: str) -> Dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "server": ("dicom.radiology.example.com", 443),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": "/studies",
        "raw_path": b"/studies",
        "query_string": b"modality=CT",
        "headers": [
            (b"host", b"dicom.radiology.example.com"),
            (b"accept", b"application/json"),
            (b"authorization", authorization.encode()),
        ],
    }


async def call(app: App, template: Dict[str, Any]) -> int:
    """One request through ``app``; its status."""
    status = 0

    async def receive() -> Dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(template), receive, send)
    return status


async def per_request(app: App, template: Dict[str, Any], number: int) -> float:
    """Mean ns per request over ``number`` requests."""
    start = time.perf_counter_ns()
    for _ in range(number):
        await call(app, template)
    return (time.perf_counter_ns() - start) / number


async def per_call(fn: Callable[[], Any], number: int, awaited: bool) -> float:
    start = time.perf_counter_ns()
    if awaited:
        for _ in range(number):
            await fn()
    else:
        for _ in range(number):
            fn()
    return (time.perf_counter_ns() - start) / number


def quartiles(values: List[float]) -> Tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


# --- The run -----------------------------------------------------------------------------------


async def bench(url: str, args: argparse.Namespace) -> None:
    user_jwt = mint(url)
    mesh_token = mint(url, claims={"aud": f"mesh:{MESH}", "mesh_id": MESH, "dest_url": PUBLIC_URL})
    validator = runbeam.AsyncValidator(trusted_issuers=[f"{url}/api"])

    receiver_config = runbeam.MeshConfig.from_file(CONFIGS / "radiology-dept.toml")
    receiver = runbeam.AsyncResolver(
        receiver_config.with_provider_api("runbeam", url),
        url,
        runbeam.AsyncTokenManager("radiology-gw-1", runbeam.MemoryTokenStore(), url),
    )
    sender_config = runbeam.MeshConfig.from_file(CONFIGS / "ai-analytics.toml")
    sender_config = sender_config.with_provider_api("runbeam", url)
    manager = runbeam.TokenManager(
        "analytics-gw-1", runbeam.MemoryTokenStore(), url, credential=BOB
    )
    sender = runbeam.AsyncResolver(sender_config, url, manager)
    sync_sender = runbeam.Resolver(sender_config, url, manager)

    pairs: List[Tuple[str, App, App, Dict[str, Any]]] = [
        (
            "Starlette + AuthenticateMiddleware",
            starlette_app([], None),
            starlette_app([Middleware(AuthenticateMiddleware, validator=validator)], CLAIMS_KEY),
            scope_for(f"Bearer {user_jwt}"),
        ),
        (
            "FastAPI + AuthenticateMiddleware",
            fastapi_app(None),
            fastapi_app(validator),
            scope_for(f"Bearer {user_jwt}"),
        ),
        (
            "FastAPI + same + Depends(user_claims)",
            fastapi_app(None),
            fastapi_app(validator, dependency=True),
            scope_for(f"Bearer {user_jwt}"),
        ),
        (
            "Starlette + MeshGuardMiddleware",
            starlette_app([], None),
            starlette_app(
                [
                    Middleware(
                        MeshGuardMiddleware, resolver=receiver, mesh=MESH, public_url=PUBLIC_URL
                    )
                ],
                MESH_CLAIMS_KEY,
            ),
            scope_for(f"Bearer {mesh_token}"),
        ),
    ]
    # Fill the caches (keys, claims, resolution, mesh token) and check every app answers 200.
    await sender.outbound(DICOMWEB, "/studies")
    sync_sender.outbound(DICOMWEB, "/studies")
    for name, bare, with_mw, template in pairs:
        for app in (bare, with_mw):
            for _ in range(3):
                status = await call(app, template)
            assert status == 200, (name, status)
        await per_request(bare, template, 500)  # warm up
        await per_request(with_mw, template, 500)
    hits_before = validator.stats().cache_hits

    samples: Dict[Tuple[str, str], List[float]] = {}
    for _ in range(args.repeat):  # interleaved
        for name, bare, with_mw, template in pairs:
            samples.setdefault((name, "bare"), []).append(
                await per_request(bare, template, args.number)
            )
            samples.setdefault((name, "with"), []).append(
                await per_request(with_mw, template, args.number)
            )
    # Every timed request through AuthenticateMiddleware was a cache hit.
    assert validator.stats().cache_hits - hits_before >= 3 * args.repeat * args.number

    header = f"Bearer {user_jwt}"
    served = runbeam.join_path(PUBLIC_URL, "/studies?modality=CT")
    calls: List[Tuple[str, Callable[[], Any], bool]] = [
        (
            "await AsyncResolver.outbound (cached)",
            lambda: sender.outbound(DICOMWEB, "/studies"),
            True,
        ),
        ("Resolver.outbound (cached)", lambda: sync_sender.outbound(DICOMWEB, "/studies"), False),
        (
            "Resolver.outbound_cached",
            lambda: sync_sender.outbound_cached(DICOMWEB, "/studies"),
            False,
        ),
        (
            "await AsyncValidator.authenticate (cached)",
            lambda: validator.authenticate(header),
            True,
        ),
        (
            "AsyncValidator.authenticate_cached",
            lambda: validator.authenticate_cached(header),
            False,
        ),
        (
            "await AsyncResolver.verify_mesh_request (cached)",
            lambda: receiver.verify_mesh_request(f"Bearer {mesh_token}", MESH, served),
            True,
        ),
        (
            "AsyncResolver.verify_mesh_request_cached",
            lambda: receiver.verify_mesh_request_cached(f"Bearer {mesh_token}", MESH, served),
            False,
        ),
        ("join_path", lambda: runbeam.join_path(PUBLIC_URL, "/studies?modality=CT"), False),
    ]
    call_samples: Dict[str, List[float]] = {name: [] for name, _, _ in calls}
    for _ in range(args.repeat):
        for name, fn, awaited in calls:
            call_samples[name].append(await per_call(fn, args.number * 5, awaited))

    print(
        "runbeam.asgi: cost per request over the bare framework, cached token path, in-process ASGI"
    )
    print(
        f"Python {sys.version.split()[0]}, runbeam {runbeam.__version__}, "
        f"{args.repeat} repeats x {args.number} requests, interleaved "
        "(us/request: median [Q1-Q3])"
    )
    print(f"{'':36} {'bare':>22} {'with middleware':>22} {'overhead':>9}")
    for name, _, _, _ in pairs:
        b1, b, b3 = quartiles(samples[(name, "bare")])
        w1, w, w3 = quartiles(samples[(name, "with")])
        print(
            f"{name:36} {b / 1e3:7.2f} [{b1 / 1e3:5.2f}-{b3 / 1e3:5.2f}]"
            f" {w / 1e3:7.2f} [{w1 / 1e3:5.2f}-{w3 / 1e3:5.2f}] {(w - b) / 1e3:+8.2f}"
        )
    print()
    print(
        f"Cached calls ({args.repeat} repeats x {args.number * 5} calls; ns/call: median [Q1-Q3])"
    )
    for name, _, _ in calls:
        q1, median, q3 = quartiles(call_samples[name])
        print(f"{name:50} {median:8.0f} [{q1:.0f}-{q3:.0f}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=5_000, help="requests per repeat")
    parser.add_argument("--repeat", type=int, default=15, help="repeats")
    args = parser.parse_args()
    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        asyncio.run(bench(url, args))
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
