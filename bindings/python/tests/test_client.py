"""`runbeam.Client` and `runbeam.AsyncClient` against a local devcloud (a subprocess).

The ``cloud`` fixture (``conftest.py``) starts the server; the fault suite is
``test_client_faults.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import http.server
import json
import os
import signal
import threading
import time

import pytest

import runbeam

from conftest import (
    ALICE,
    ALICE_EMAIL,
    ANALYTICS_GW,
    BOB,
    DICOM_URL,
    DICOMWEB,
    MESH,
    RADIOLOGY_GW,
    RESOLVE_PATH,
    Cloud,
)

# --- authorize / revoke -----------------------------------------------------------------------


def test_authorize_with_sanctum(cloud: Cloud):
    result = cloud.client(ALICE).authorize(RADIOLOGY_GW, metadata=["site=lab"])
    assert isinstance(result, runbeam.AuthorizeResult)
    assert result.machine_token
    assert result.gateway["code"] == RADIOLOGY_GW
    assert result.gateway["id"]
    assert result.expires_in > 0
    assert isinstance(result.expires_at, datetime.datetime)
    assert result.expires_at.tzinfo is not None
    assert result.expires_at > datetime.datetime.now(datetime.timezone.utc)
    assert isinstance(result.abilities, list)
    assert result.machine_token not in repr(result)
    assert "redacted" in repr(result)


def test_authorize_sends_the_public_key_and_says_who_authorized(cloud: Cloud):
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicKeyOfTheGateway"
    alice = cloud.client(ALICE)
    result = alice.authorize(RADIOLOGY_GW, machine_public_key=key)
    assert result.gateway["authorized_by"]["email"] == ALICE_EMAIL
    assert set(result.gateway["authorized_by"]) == {"id", "name", "email"}
    assert alice.get("gateways", result.gateway["id"])["machine_public_key"] == key


def test_authorize_with_a_user_jwt(cloud: Cloud):
    jwt = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "ttl_secs": 600})["token"]
    result = cloud.client(jwt).authorize(RADIOLOGY_GW)
    assert result.gateway["code"] == RADIOLOGY_GW
    assert result.machine_token


def test_another_teams_gateway_is_permission_denied(cloud: Cloud):
    with pytest.raises(runbeam.PermissionDeniedError) as info:
        cloud.client(BOB).authorize(RADIOLOGY_GW)
    assert info.value.status == 403
    assert info.value.code == "RUNBEAM_PERMISSION_DENIED"
    assert info.value.retry_after is None


def test_revoked_machine_token_is_unauthorized(cloud: Cloud):
    gateway = cloud.gateway(ALICE, RADIOLOGY_GW, max_attempts=1)
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"
    answer = cloud.client(ALICE).revoke(RADIOLOGY_GW)
    assert answer.success is True
    with pytest.raises(runbeam.UnauthorizedError) as info:
        gateway.resolve(DICOMWEB)
    assert info.value.status == 401


def test_jwks_and_client_repr(cloud: Cloud):
    client = cloud.client(ALICE)
    keys = client.jwks()["keys"]
    assert keys and all("kty" in k for k in keys)
    assert ALICE not in repr(client)
    assert client.api_root == cloud.url + "/api"
    assert client.with_token(BOB).api_root == client.api_root


# --- resolve / mesh tokens --------------------------------------------------------------------


def test_resolve_found_and_not_found(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW)
    resolved = gateway.resolve(runbeam.Reference(DICOMWEB))
    assert isinstance(resolved, runbeam.ResolveResult)
    assert resolved.provider == "runbeam"
    assert isinstance(resolved.resolved_at, datetime.datetime)
    resource = resolved.resource
    assert (resource.type, resource.name) == ("ingress", "dicomweb")
    assert resource.urls == [DICOM_URL]
    assert resource.enabled
    # A string is parsed first.
    assert gateway.resolve(DICOMWEB).resource.id == resource.id

    with pytest.raises(runbeam.NotFoundError) as info:
        gateway.resolve("runbeam.radiology-dept.ingress.name.nope")
    assert info.value.status == 404
    assert "runbeam.radiology-dept.ingress.name.nope" in str(info.value)

    with pytest.raises(runbeam.InvalidReferenceError):
        gateway.resolve("not a reference!")


def test_mesh_token_issued_and_refused(cloud: Cloud):
    analytics = cloud.gateway(BOB, ANALYTICS_GW)
    token = analytics.mesh_token(MESH, f"{DICOM_URL}/studies/1.2.3")
    assert isinstance(token, runbeam.MeshTokenResult)
    assert token.token.count(".") == 2
    assert token.token not in repr(token)
    assert token.mesh_id
    assert isinstance(token.expires_at, datetime.datetime)

    radiology = cloud.gateway(ALICE, RADIOLOGY_GW)
    with pytest.raises(runbeam.PermissionDeniedError) as info:
        radiology.mesh_token(MESH, f"{DICOM_URL}/studies/1.2.3")
    assert info.value.status == 403
    with pytest.raises(runbeam.PermissionDeniedError):
        analytics.mesh_token(MESH, "https://evil.example.com/studies")


# --- collections ------------------------------------------------------------------------------


def test_collections_crud_and_validation(cloud: Cloud):
    alice = cloud.client(ALICE)
    created = alice.create("services", {"name": "py-svc", "url": "https://svc.example.com"})
    assert created["name"] == "py-svc"
    assert created["url"] == "https://svc.example.com"
    assert alice.get("services", created["id"])["id"] == created["id"]
    updated = alice.update("services", created["id"], {"description": "updated"})
    assert updated["description"] == "updated"

    with pytest.raises(runbeam.ConflictError) as conflict:
        alice.create("services", {"name": "py-svc"})
    assert conflict.value.status == 409

    with pytest.raises(runbeam.ValidationError) as info:
        alice.create("services", {"url": "https://x.example"})
    assert info.value.status == 422
    assert isinstance(info.value.field_errors, dict)
    assert "name" in info.value.field_errors
    assert all(isinstance(m, str) for m in info.value.field_errors["name"])

    assert alice.delete("services", created["id"]) is None
    with pytest.raises(runbeam.NotFoundError):
        alice.get("services", created["id"])

    with pytest.raises(runbeam.InvalidArgumentError):
        alice.list("widgets")
    with pytest.raises(runbeam.InvalidArgumentError):
        alice.list("services", per_page=0)
    with pytest.raises(runbeam.InvalidArgumentError, match="per_page"):
        alice.list("services", per_page=1001)
    with pytest.raises(runbeam.InvalidArgumentError, match="per_page"):
        alice.list_all("services", per_page=0)
    with pytest.raises(runbeam.InvalidArgumentError, match="per_page"):
        alice.list_all("services", per_page=1001)


def test_list_and_list_all_across_pages(cloud: Cloud):
    alice = cloud.client(ALICE)
    for i in range(7):
        alice.create("services", {"name": f"page-svc-{i}"})
    first = alice.list("services", page=1, per_page=3)
    assert isinstance(first, runbeam.Page)
    assert len(first) == len(first.data) == 3
    assert first.current_page == 1 and first.per_page == 3
    assert first.total >= 7 and first.last_page >= 3
    assert first.has_next
    assert all(isinstance(item, dict) for item in first.data)

    everything = list(alice.list_all("services", per_page=3))
    assert len(everything) == first.total
    ids = [item["id"] for item in everything]
    assert len(set(ids)) == len(ids)
    names = {item.get("name") for item in everything}
    assert {f"page-svc-{i}" for i in range(7)} <= names

    last = alice.list("services", page=first.last_page, per_page=3)
    assert not last.has_next


# --- errors from injected faults --------------------------------------------------------------


def test_retry_after_from_a_429(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW, max_attempts=1)
    cloud.fault(path=RESOLVE_PATH, status=429, retry_after=7, count=1)
    with pytest.raises(runbeam.RateLimitedError) as info:
        gateway.resolve(DICOMWEB)
    assert info.value.status == 429
    assert info.value.retry_after == 7.0
    assert info.value.field_errors is None
    # The fault is used up.
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"


def test_timeout_with_a_slow_server(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW, deadline=0.5)
    cloud.fault(path=RESOLVE_PATH, latency_ms=3000, count=5)
    start = time.monotonic()
    with pytest.raises(runbeam.RunbeamTimeoutError) as info:
        gateway.resolve(DICOMWEB)
    elapsed = time.monotonic() - start
    # The deadline bounds the call, not the 3 s server: a lower bound plus a generous upper
    # bound (no tight timing assertions: the machine may be loaded).
    assert 0.45 <= elapsed < 8.0, elapsed
    assert info.value.kind == "Timeout"


def test_the_gil_is_released_during_a_call(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW)
    cloud.fault(path=RESOLVE_PATH, latency_ms=600, count=1)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        before = ticks
        gateway.resolve(DICOMWEB)
        progress = ticks - before
    finally:
        stop.set()
        thread.join()
    assert progress >= 20, progress


def test_ctrl_c_interrupts_a_blocking_call(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW)
    # The server would answer after 30 s: ending well before proves the interrupt, with a
    # bound generous enough not to flake on a loaded machine.
    cloud.fault(path=RESOLVE_PATH, latency_ms=30000, count=1)
    # Python's own Ctrl-C handler, as an interactive gateway has it: a process started in the
    # background by a non-interactive shell inherits SIGINT ignored, and Python then installs
    # no handler at all.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            gateway.resolve(DICOMWEB)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 8.0


class _NextLinkOnly(http.server.BaseHTTPRequestHandler):
    """Serves /api/gateways in 3 pages of 2 whose `meta` has no `last_page`: only
    `links.next` says whether another page follows."""

    def do_GET(self):  # noqa: N802 - the handler API
        page = int(self.path.split("page=")[1].split("&")[0])
        body = json.dumps(
            {
                "data": [{"id": page * 2 - 1}, {"id": page * 2}],
                "links": {"next": f"http://elsewhere.example/api/gateways?page={page + 1}" if page < 3 else None},
                "meta": {"current_page": page, "per_page": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_list_all_follows_links_next_without_last_page():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NextLinkOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ids = [item["id"] for item in runbeam.Client(url, token="1|x").list_all("gateways", per_page=2)]
        assert ids == ["1", "2", "3", "4", "5", "6"]

        async def all_ids():
            client = runbeam.AsyncClient(url, token="1|x")
            return [item["id"] async for item in client.list_all("gateways", per_page=2)]

        assert asyncio.run(all_ids()) == ids
    finally:
        server.shutdown()
        server.server_close()


def test_list_all_retries_a_failed_page(cloud: Cloud):
    alice = cloud.client(ALICE, max_attempts=1)
    for i in range(3):
        alice.create("services", {"name": f"retry-svc-{i}"})
    total = alice.list("services").total
    items = alice.list_all("services", per_page=2)
    first = [next(items), next(items)]
    cloud.fault(path="/api/services", status=500, count=1)
    with pytest.raises(runbeam.ServerError) as info:
        next(items)
    assert info.value.status == 500
    rest = list(items)
    assert len(first) + len(rest) == total


def test_transport_errors_have_no_status():
    with pytest.raises(runbeam.TransportError) as info:
        runbeam.Client("http://127.0.0.1:1", max_attempts=1, connect_timeout=1.0).jwks()
    assert info.value.status is None
    assert info.value.retry_after is None
    assert info.value.field_errors is None


def test_bad_arguments(cloud: Cloud):
    for attempts in (0, 101):
        with pytest.raises(runbeam.InvalidArgumentError, match="max_attempts"):
            runbeam.Client(cloud.url, max_attempts=attempts)
        with pytest.raises(runbeam.InvalidArgumentError, match="max_attempts"):
            runbeam.AsyncClient(cloud.url, max_attempts=attempts)
    assert isinstance(runbeam.Client(cloud.url, max_attempts=100), runbeam.Client)
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.Client(cloud.url, deadline=-1.0)
    with pytest.raises(runbeam.RunbeamError):
        runbeam.Client("http://10.0.0.1")
    assert isinstance(runbeam.Client("http://10.0.0.1", allow_insecure_http=True), runbeam.Client)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_works_in_a_forked_child(cloud: Cloud):
    client = cloud.client(ALICE)
    assert client.jwks()["keys"]  # the runtime exists in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        signal.alarm(10)  # a hang kills the child (and fails the test) instead of the suite
        try:
            fresh = runbeam.Client(cloud.url, token=ALICE).jwks()["keys"]
            # The parent's client (and its pooled connection) is rebuilt in the child.
            inherited = client.with_token(ALICE).jwks()["keys"] and client.jwks()["keys"]
            code = 0 if fresh and inherited else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.jwks()["keys"]


# --- AsyncClient ------------------------------------------------------------------------------


def test_async_client_basics(cloud: Cloud):
    async def main() -> None:
        user = runbeam.AsyncClient(cloud.url, token=BOB)
        granted = await user.authorize(ANALYTICS_GW)
        assert granted.gateway["code"] == ANALYTICS_GW
        gateway = user.with_token(granted.machine_token)
        resolved, keys = await asyncio.gather(gateway.resolve(DICOMWEB), gateway.jwks())
        assert resolved.resource.name == "dicomweb"
        assert keys["keys"]
        with pytest.raises(runbeam.NotFoundError) as info:
            await gateway.resolve("runbeam.radiology-dept.ingress.name.nope")
        assert info.value.status == 404
        with pytest.raises(runbeam.PermissionDeniedError):
            await gateway.mesh_token(MESH, "https://evil.example.com/")

        alice = runbeam.AsyncClient(cloud.url, token=ALICE)
        for i in range(4):
            await alice.create("services", {"name": f"async-svc-{i}"})
        page = await alice.list("services", per_page=2)
        items = [item async for item in alice.list_all("services", per_page=2)]
        assert len(items) == page.total
        created = await alice.create("services", {"name": "async-crud"})
        assert (await alice.get("services", created["id"]))["name"] == "async-crud"
        await alice.update("services", created["id"], {"description": "d"})
        assert await alice.delete("services", created["id"]) is None
        with pytest.raises(runbeam.ValidationError) as invalid:
            await alice.create("services", {"url": "https://x.example"})
        assert "name" in (invalid.value.field_errors or {})

    asyncio.run(main())


def test_async_cancellation(cloud: Cloud):
    gateway = cloud.gateway(BOB, ANALYTICS_GW)
    # 20 s of server latency: returning well before proves the cancellation (generous bound).
    cloud.fault(path=RESOLVE_PATH, latency_ms=20000, count=1)
    client = runbeam.AsyncClient(cloud.url).with_token(ALICE)

    async def main() -> None:
        slow = runbeam.AsyncClient(cloud.url, token=BOB)
        granted = await slow.authorize(ANALYTICS_GW)
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow.with_token(granted.machine_token).resolve(DICOMWEB), 0.2)
        assert time.monotonic() - start < 8.0
        assert (await client.jwks())["keys"]

    asyncio.run(main())
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"


def test_async_needs_a_running_loop(cloud: Cloud):
    with pytest.raises(RuntimeError):
        runbeam.AsyncClient(cloud.url).jwks()
