"""Reliability over real HTTP, for ``Client`` and ``AsyncClient`` alike: every error kind of
docs/spec.md §3.4 produced by the devcloud's fault injection (``/_dev/faults``), retries proven by the
devcloud's request counters (``/_dev/counters``), ``Retry-After``, the total deadline and the
body cap.

Each test runs once per client class (the ``connect`` fixture of ``conftest.py``). Timing is only
checked with generous bounds that a slow machine cannot break: a lower bound where the client
must have waited, and an upper bound far below what ignoring the deadline would take.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import pytest

import runbeam

from conftest import (
    ALICE,
    ANALYTICS_GW,
    BOB,
    DICOM_URL,
    DICOMWEB,
    MESH,
    RESOLVE_PATH,
    Cloud,
    Connect,
)

BASE_URL_PATH = "/api/harmony/base-url"
MESH_TOKEN_PATH = "/api/harmony/mesh/token"
UPDATE_PATH = "/api/harmony/update"

#: Status → (class, kind, retried): 429 and 5xx are retried for a GET, the rest are not.
STATUS_TABLE = [
    (401, runbeam.UnauthorizedError, "Unauthorized", False),
    (403, runbeam.PermissionDeniedError, "PermissionDenied", False),
    (404, runbeam.NotFoundError, "NotFound", False),
    (409, runbeam.ConflictError, "Conflict", False),
    (422, runbeam.ValidationError, "Validation", False),
    (429, runbeam.RateLimitedError, "RateLimited", True),
    (500, runbeam.ServerError, "ServerError", True),
    (502, runbeam.ServerError, "ServerError", True),
    (503, runbeam.ServerError, "ServerError", True),
    (504, runbeam.ServerError, "ServerError", True),
]


def machine_token(cloud: Cloud, user: str = BOB, code: str = ANALYTICS_GW) -> str:
    return runbeam.Client(cloud.url, token=user).authorize(code).machine_token


def raised(call: Any, *args: Any, **kwargs: Any) -> runbeam.RunbeamError:
    with pytest.raises(runbeam.RunbeamError) as info:
        call(*args, **kwargs)
    return info.value


def assert_no_secret(err: BaseException, *secrets: str) -> None:
    """No token in the message, the repr, any attribute, or the exception's args."""
    texts = [str(err), repr(err), repr(err.args)] + [repr(v) for v in vars(err).values()]
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text, text


def assert_request(
    err: runbeam.RunbeamError, method: str, path: str, status: Optional[int]
) -> None:
    assert err.request == (method, path)
    assert err.status == status
    assert f"{method} {path}" in str(err)


# --- every HTTP error kind --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "kind", "retried"), STATUS_TABLE, ids=[str(row[0]) for row in STATUS_TABLE]
)
def test_every_http_error_kind_from_an_injected_status(
    cloud: Cloud, connect: Connect, status: int, cls: type, kind: str, retried: bool
):
    token = machine_token(cloud)
    gateway = connect(token)
    cloud.reset_counts()
    cloud.fault(path=BASE_URL_PATH, status=status, count=10)
    err = raised(gateway.base_url)
    assert type(err) is cls, repr(err)
    assert err.kind == kind
    assert_request(err, "GET", "/harmony/base-url", status)
    assert err.server_message, repr(err)
    # A GET is retried on 429/5xx (three attempts by default), never on other 4xx.
    attempts = 3 if retried else 1
    assert err.attempts == attempts
    assert cloud.count("GET", BASE_URL_PATH) == attempts
    if status == 422:
        assert err.field_errors is not None and list(err.field_errors) == ["fault"]
        assert all(isinstance(m, str) and m for m in err.field_errors["fault"])
    else:
        assert err.field_errors is None
    assert err.retry_after is None  # no Retry-After header was sent
    assert_no_secret(err, token)


def test_a_rejected_token_is_unauthorized_and_never_echoed(cloud: Cloud, connect: Connect):
    bogus = "7|not-a-real-token-5e1f9c3a7b2d4e6f8a0b1c2d"
    err = raised(connect(bogus).base_url)
    assert isinstance(err, runbeam.UnauthorizedError)
    assert_request(err, "GET", "/harmony/base-url", 401)
    assert_no_secret(err, bogus, "not-a-real-token")
    # A user token on a machine-token endpoint is refused too, without echoing it.
    err = raised(connect(ALICE).base_url)
    assert isinstance(err, runbeam.UnauthorizedError), repr(err)
    assert_no_secret(err, ALICE)


def test_validation_keeps_the_servers_field_errors(cloud: Cloud, connect: Connect):
    alice = connect(ALICE)
    err = raised(alice.create, "services", {"url": "https://x.example", "mode": "sideways"})
    assert isinstance(err, runbeam.ValidationError)
    assert_request(err, "POST", "/services", 422)
    assert err.field_errors is not None
    assert "name" in err.field_errors
    assert all(isinstance(m, str) and m for ms in err.field_errors.values() for m in ms)
    assert_no_secret(err, ALICE)


def test_real_not_found_and_conflict(cloud: Cloud, connect: Connect):
    alice = connect(ALICE)
    created = alice.create("services", {"name": "fault-svc"})
    err = raised(alice.create, "services", {"name": "fault-svc"})
    assert isinstance(err, runbeam.ConflictError)
    assert_request(err, "POST", "/services", 409)
    assert alice.delete("services", created["id"]) is None
    err = raised(alice.get, "services", created["id"])
    assert isinstance(err, runbeam.NotFoundError)
    assert (*err.request, err.status) == ("GET", f"/services/{created['id']}", 404)
    assert_no_secret(err, ALICE)


# --- 429 and Retry-After ----------------------------------------------------------------------


def test_rate_limited_without_retries_keeps_retry_after(cloud: Cloud, connect: Connect):
    token = machine_token(cloud)
    gateway = connect(token, max_attempts=1)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, status=429, retry_after=7, count=1)
    err = raised(gateway.resolve, DICOMWEB)
    assert isinstance(err, runbeam.RateLimitedError)
    assert_request(err, "GET", "/harmony/resources/resolve", 429)
    assert err.retry_after == 7.0
    assert err.attempts == 1
    assert cloud.count("GET", RESOLVE_PATH) == 1
    assert_no_secret(err, token)
    # The fault is used up.
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"


def test_retry_after_is_honoured(cloud: Cloud, connect: Connect):
    gateway = connect(machine_token(cloud))
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, status=429, retry_after=1, count=1)
    start = time.monotonic()
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"
    # Lower bound only: the client must have waited the server's second before retrying.
    assert time.monotonic() - start >= 0.9
    assert cloud.count("GET", RESOLVE_PATH) == 2


def test_a_retry_after_beyond_the_deadline_is_returned_at_once(cloud: Cloud, connect: Connect):
    gateway = connect(machine_token(cloud), deadline=5.0)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, status=429, retry_after=60, count=5)
    err = raised(gateway.resolve, DICOMWEB)
    assert isinstance(err, runbeam.RateLimitedError)
    assert err.retry_after == 60.0
    # Waiting 60 s would pass the 5 s deadline: no second attempt was made.
    assert err.attempts == 1
    assert cloud.count("GET", RESOLVE_PATH) == 1


# --- retries ----------------------------------------------------------------------------------


def test_get_is_retried_and_recovers(cloud: Cloud, connect: Connect):
    gateway = connect(machine_token(cloud))
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, status=503, count=1)
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"
    assert cloud.count("GET", RESOLVE_PATH) == 2


def test_a_persistent_5xx_is_given_up_after_max_attempts(cloud: Cloud, connect: Connect):
    gateway = connect(machine_token(cloud), max_attempts=2)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, status=500, count=50)
    err = raised(gateway.resolve, DICOMWEB)
    assert isinstance(err, runbeam.ServerError)
    assert err.attempts == 2
    assert cloud.count("GET", RESOLVE_PATH) == 2


def test_put_and_delete_are_retried(cloud: Cloud, connect: Connect):
    alice = connect(ALICE)
    created = alice.create("services", {"name": "retried-svc"})
    item = f"/api/services/{created['id']}"
    cloud.reset_counts()
    cloud.fault(path=item, method="PUT", status=502, count=1)
    assert alice.update("services", created["id"], {"description": "d"})["description"] == "d"
    assert cloud.count("PUT", item) == 2
    cloud.fault(path=item, method="DELETE", status=503, count=1)
    assert alice.delete("services", created["id"]) is None
    assert cloud.count("DELETE", item) == 2


def test_post_is_not_retried(cloud: Cloud, connect: Connect):
    token = machine_token(cloud)
    gateway = connect(token)
    destination = f"{DICOM_URL}/studies"

    cloud.reset_counts()
    cloud.fault(path=MESH_TOKEN_PATH, method="POST", status=503, count=1)
    err = raised(gateway.mesh_token, MESH, destination)
    assert isinstance(err, runbeam.ServerError)
    assert_request(err, "POST", "/harmony/mesh/token", 503)
    assert err.attempts == 1
    assert cloud.count("POST", MESH_TOKEN_PATH) == 1
    assert_no_secret(err, token)
    # The fault is used up: the same call now succeeds.
    assert gateway.mesh_token(MESH, destination).mesh_id

    cloud.reset_counts()
    cloud.fault(path=UPDATE_PATH, method="POST", status=500, count=1)
    err = raised(gateway.update_config, "pipeline", "[pipeline]\nname = 'p'\n")
    assert isinstance(err, runbeam.ServerError)
    assert_request(err, "POST", "/harmony/update", 500)
    assert cloud.count("POST", UPDATE_PATH) == 1

    alice = connect(ALICE)
    cloud.reset_counts()
    cloud.fault(path="/api/services", method="POST", drop_connection=True, count=1)
    err = raised(alice.create, "services", {"name": "dropped-svc"})
    assert isinstance(err, runbeam.TransportError), repr(err)
    assert cloud.count("POST", "/api/services") == 1


# --- transport, protocol, timeout ------------------------------------------------------------


def test_dropped_connections_are_transport_errors(cloud: Cloud, connect: Connect):
    token = machine_token(cloud)
    gateway = connect(token)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, drop_connection=True, count=10)
    err = raised(gateway.resolve, DICOMWEB)
    assert isinstance(err, runbeam.TransportError), repr(err)
    assert_request(err, "GET", "/harmony/resources/resolve", None)
    assert err.attempts == 3
    assert cloud.count("GET", RESOLVE_PATH) == 3
    assert_no_secret(err, token)

    # One dropped connection is recovered by a retry.
    cloud.clear_faults()
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, drop_connection=True, count=1)
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"
    assert cloud.count("GET", RESOLVE_PATH) == 2


def test_connection_refused_is_a_transport_error(connect: Connect):
    # Port 1 on loopback: nothing listens there.
    client = connect(ALICE, url="http://127.0.0.1:1", max_attempts=1, connect_timeout=2.0)
    err = raised(client.jwks)
    assert isinstance(err, runbeam.TransportError)
    assert err.status is None
    assert err.request == ("GET", "/.well-known/jwks.json")
    assert_no_secret(err, ALICE)


@pytest.mark.parametrize(
    "fault",
    [{"malformed_body": True}, {"status": 200}],
    ids=["truncated-json", "wrong-shape"],
)
def test_a_2xx_body_that_does_not_match_is_a_protocol_error(
    cloud: Cloud, connect: Connect, fault: dict
):
    token = machine_token(cloud)
    gateway = connect(token)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, count=1, **fault)
    err = raised(gateway.resolve, DICOMWEB)
    assert isinstance(err, runbeam.ProtocolError), repr(err)
    assert err.request == ("GET", "/harmony/resources/resolve")
    # A 2xx answer is not retried, whatever its body.
    assert err.attempts == 1
    assert cloud.count("GET", RESOLVE_PATH) == 1
    assert_no_secret(err, token)
    assert gateway.resolve(DICOMWEB).resource.name == "dicomweb"


def test_the_body_cap_is_enforced(cloud: Cloud, connect: Connect):
    err = raised(connect(ALICE, max_body_bytes=64).jwks)
    assert isinstance(err, runbeam.ProtocolError)
    assert "exceeds the limit of 64 bytes" in str(err)
    assert connect(ALICE).jwks()["keys"]
    with pytest.raises(runbeam.InvalidArgumentError):
        connect(ALICE, max_body_bytes=0)


def test_the_deadline_is_respected_with_a_slow_server(cloud: Cloud, connect: Connect):
    token = machine_token(cloud)
    gateway = connect(token, deadline=0.5)
    cloud.fault(path=RESOLVE_PATH, latency_ms=10_000, count=5)
    start = time.monotonic()
    err = raised(gateway.resolve, DICOMWEB)
    elapsed = time.monotonic() - start
    assert isinstance(err, runbeam.RunbeamTimeoutError), repr(err)
    assert "deadline" in str(err)
    assert err.request == ("GET", "/harmony/resources/resolve")
    assert_no_secret(err, token)
    # Generous: the server answers after 10 s, so anything well below proves the deadline.
    assert 0.4 <= elapsed < 8.0, elapsed
