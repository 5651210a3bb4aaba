"""Example egress gateway of team ai-analytics in Python: a Starlette app served by uvicorn that
checks the user's JWT with librunbeam's ASGI middleware and forwards /imaging/... across the mesh
to team radiology-dept's DICOMweb ingress with a mesh token (httpx).

    .venv/bin/python examples/python/mesh_gateway.py CONFIG CLOUD_URL [--watch]

CONFIG is a gateway configuration (examples/config/ai-analytics.toml): its provider `runbeam` is
pointed at CLOUD_URL (a Runbeam Cloud such as runbeam-devcloud, http://127.0.0.1:PORT) and its
`[proxy] id` is the gateway code. The machine token is obtained with the Sanctum token in
RUNBEAM_SANCTUM_TOKEN (default: Bob's seeded one) and kept in the encrypted file store under
RUNBEAM_HOME (a temporary directory when unset). User JWTs are trusted from CLOUD_URL/api.

Listens on 127.0.0.1 on a port the OS picks and prints `listening http://127.0.0.1:PORT` once
ready; stops cleanly on SIGTERM or SIGINT. Routes:

    GET /healthz        200 {"status":"ok"}, no token needed
    GET /imaging/<rest> the user's JWT checked (401 + WWW-Authenticate otherwise), then GET
                        <dicomweb URL>/<rest>?<query> with the mesh token; the answer's status,
                        content type and body relayed (502 {"error":"bad_gateway"} when the
                        partner cannot be reached; the SDK's refusal when the request cannot be
                        made: 403 outside the mesh, 503 + Retry-After when the Cloud is down)
    GET /pacs/<rest>    the same to runbeam.radiology-dept.ingress.name.pacs, which no mesh of
                        ai-analytics lists: 403 {"error":"not_in_mesh"}

One line per request on stdout (`[Python] GET /imaging/studies -> 200`, never a token); with
--watch, the resolver follows the Cloud's configuration changes and prints one line per event
(`[Python] watcher: applied <change id>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import runbeam
from runbeam.asgi import AuthenticateMiddleware, refusal_response, request_target

TAG = "[Python]"
BOB_SANCTUM = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
PROVIDER = "runbeam"
DICOMWEB = "runbeam.radiology-dept.ingress.name.dicomweb"
PACS = "runbeam.radiology-dept.ingress.name.pacs"
# Headers of the partner's answer relayed to the client (besides the status and the body).
RELAYED = ("content-type",)


def say(text: str) -> None:
    print(f"{TAG} {text}", flush=True)


def gateway_code(config_path: Path) -> str:
    """The `[proxy] id` of the configuration file (librunbeam reads only its mesh part)."""
    with config_path.open("rb") as f:
        proxy = tomllib.load(f).get("proxy")
    code = proxy.get("id") if isinstance(proxy, dict) else None
    if not isinstance(code, str) or not code:
        raise SystemExit(f"{config_path}: no [proxy] id (the gateway code)")
    return code


class Gateway:
    """The SDK objects and the HTTP client of one gateway."""

    def __init__(self, config_path: Path, cloud_url: str, watch: bool) -> None:
        self.config = runbeam.MeshConfig.from_file(config_path).with_provider_api(
            PROVIDER, cloud_url
        )
        self.code = gateway_code(config_path)
        self.watch = watch
        cloud = runbeam.AsyncClient(cloud_url)
        self.manager = runbeam.AsyncTokenManager(
            self.code,
            runbeam.open_token_store("file"),
            cloud,
            credential=os.environ.get("RUNBEAM_SANCTUM_TOKEN", BOB_SANCTUM),
        )
        self.resolver = runbeam.AsyncResolver(self.config, cloud, self.manager)
        self.validator = runbeam.AsyncValidator(trusted_issuers=[f"{cloud_url.rstrip('/')}/api"])
        self.http: Optional[httpx.AsyncClient] = None
        self.watcher: Optional[runbeam.Watcher] = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.resolver.validate_startup()
        # The machine token now, so that a bad credential stops the gateway at start-up.
        await self.manager.ensure_token()
        # The keys of the user JWTs now, so that the first request does not wait for them.
        await self.validator.refresh_keys()
        self.http = httpx.AsyncClient(timeout=10.0, follow_redirects=False, trust_env=False)
        if self.watch:
            self.watcher = self.resolver.watch(self.on_event)
        try:
            yield
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            await self.http.aclose()

    def on_event(self, event: runbeam.WatchEvent) -> None:
        say(f"watcher: {event.kind} {event.change_id or '-'} {event.message}")

    async def forward(self, request: Request, prefix: str, reference: str) -> Response:
        # The path as the client sent it (not percent-decoded), without the route's prefix:
        # librunbeam appends it to the resource's URL and refuses one that would leave it.
        target = request_target(request.scope)
        if not target.startswith(prefix + "/"):
            # Routed here through a percent-encoded prefix (/%69maging/...): not forwarded.
            return refusal_response(runbeam.InvalidArgumentError("unexpected request path"))
        try:
            out = await self.resolver.outbound(reference, target[len(prefix) :])
        except runbeam.RunbeamError as e:
            return refusal_response(e, "outbound")
        assert self.http is not None
        try:
            answer = await self.http.get(out.url, headers=out.headers)
        except httpx.HTTPError:
            return JSONResponse({"error": "bad_gateway"}, status_code=502)
        headers = {k: v for k, v in answer.headers.items() if k.lower() in RELAYED}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    async def imaging(self, request: Request) -> Response:
        return await self.forward(request, "/imaging", DICOMWEB)

    async def pacs(self, request: Request) -> Response:
        return await self.forward(request, "/pacs", PACS)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class RequestLog:
    """Outermost ASGI middleware: one line per request, with the status sent (never a header)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: List[int] = []

        async def sending(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            say(f"{scope['method']} {scope['path']} -> {status[0] if status else 500}")


def build_app(gateway: Gateway) -> Starlette:
    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/imaging/{rest:path}", gateway.imaging, methods=["GET"]),
            Route("/pacs/{rest:path}", gateway.pacs, methods=["GET"]),
        ],
        middleware=[
            Middleware(RequestLog),
            Middleware(
                AuthenticateMiddleware, validator=gateway.validator, public_paths=["/healthz"]
            ),
        ],
        lifespan=gateway.lifespan,
    )


async def serve(gateway: Gateway) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        build_app(gateway), lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host, port = sock.getsockname()[:2]
        print(f"listening http://{host}:{port}", flush=True)
    await task
    if not server.started:
        raise SystemExit(f"{TAG} the gateway did not start (see the errors above)")


def main(argv: List[str]) -> int:
    args = [a for a in argv[1:] if a != "--watch"]
    if len(args) != 2 or len(argv) - 1 - len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    temporary = None
    if not os.environ.get("RUNBEAM_HOME"):
        temporary = tempfile.mkdtemp(prefix="runbeam-mesh-gateway-")
        os.environ["RUNBEAM_HOME"] = temporary
    # uvicorn handles SIGTERM/SIGINT while serving (a graceful shutdown), then raises the
    # signal again for the handler in place before it: these make that a clean exit.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        asyncio.run(serve(Gateway(Path(args[0]), args[1], "--watch" in argv[1:])))
        return 0
    except runbeam.RunbeamError as e:
        say(f"error: {e.kind}: {e}")
        return 1
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
