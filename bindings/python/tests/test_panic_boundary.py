"""The panic boundary: a panic inside librunbeam reaches Python as ``runbeam.InternalError``
(an ``Exception`` and a ``RunbeamError``), never as ``pyo3_runtime.PanicException``, prints
nothing on stderr, and leaves the object usable.

Panics are forced with the test-only ``runbeam._native._fault_arm(site, count)`` (debug builds
have the ``fault-injection`` feature): the next ``count`` calls passing ``site`` panic. Each case
below arms a site once, makes a call that passes it, checks the error, then makes the same call
again and checks its normal answer. Every case runs twice: in this process, and in a child
process with ``RUST_BACKTRACE=1`` whose stderr must stay empty.

The regression tests at the end prove that JWTs which used to panic in the core (a multi-byte
``alg``) and JWTs whose header or payload is a JSON array are refused with ``JwtInvalidError``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest

import runbeam
from runbeam import _native
from conftest import ALICE_EMAIL, ANALYTICS_GW, BOB, DICOMWEB, EXAMPLES, MESH, Cloud

SITES = ("jwt", "reference", "jwks", "resolve", "storage")
DESTINATION = "https://dicom.radiology.example.com/studies"

pytestmark = pytest.mark.skipif(
    not hasattr(_native, "_fault_arm"), reason="needs a debug build (fault-injection feature)"
)


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    yield
    for site in SITES:
        _native._fault_arm(site, 0)


def internal(call: Callable[[], Any]) -> runbeam.InternalError:
    """Asserts that ``call()`` raises ``InternalError`` with its documented attributes."""
    try:
        call()
    except BaseException as caught:  # noqa: B902 - a PanicException is what must not happen
        err = caught
    else:
        raise AssertionError("no error raised")
    assert type(err) is runbeam.InternalError, f"{type(err).__module__}.{type(err).__name__}: {err}"
    assert isinstance(err, Exception) and isinstance(err, runbeam.RunbeamError)
    assert err.kind == "Internal" and err.code == "RUNBEAM_INTERNAL"
    return err


def panics_once(site: str, call: Callable[[], Any]) -> Any:
    """Arms ``site`` once, asserts ``call()`` raises ``InternalError``, then returns the answer
    of the same call made again (the object must still work)."""
    _native._fault_arm(site, 1)
    internal(call)
    return call()


# --- What the cases need from devcloud ---------------------------------------------------------


def mint(url: str, **extra: Any) -> str:
    return Cloud(url).dev_post("jwt", {"email": ALICE_EMAIL, **extra})["token"]


def validator(url: str, cls: Any = runbeam.Validator) -> Any:
    # No minimum refresh interval: the fetch after a failed one is allowed at once.
    return cls(trusted_issuers=[f"{url}/api"], min_refresh_interval=0)


def analytics_config(url: str) -> runbeam.MeshConfig:
    text = (EXAMPLES / "ai-analytics.toml").read_text(encoding="utf-8")
    return runbeam.MeshConfig.from_toml(
        text.replace('api = "https://api.runbeam.io"', f'api = "{url}"')
    )


def resolver(url: str, cls: Any = runbeam.Resolver) -> Any:
    managed = runbeam.AsyncTokenManager if cls is runbeam.AsyncResolver else runbeam.TokenManager
    manager = managed(ANALYTICS_GW, runbeam.MemoryTokenStore(), url, credential=BOB)
    return cls(analytics_config(url), runbeam.Client(url), manager)


def awaited(awaitable_call: Callable[[], Any]) -> Callable[[], Any]:
    """A call of an async method, awaited in its own event loop."""

    async def main() -> Any:
        return await awaitable_call()

    return lambda: asyncio.run(main())


# --- The cases (module-level so that the child process can run them too) -----------------------


def case_validate_cached(url: str) -> None:
    v = validator(url)
    token = mint(url)
    v.validate(token)
    v.validate(token)  # now in the token cache: the sync, cached path
    assert v.cached_tokens == 1
    assert panics_once("jwt", lambda: v.validate(token)).user.email == ALICE_EMAIL


def case_validate_async(url: str) -> None:
    v = validator(url, runbeam.AsyncValidator)
    token = mint(url)
    call = awaited(lambda: v.validate(token))
    assert panics_once("jwt", call).user.email == ALICE_EMAIL


def case_verify_mesh_token(url: str) -> None:
    client = runbeam.Client(url, token=BOB)
    gateway = client.with_token(client.authorize(ANALYTICS_GW).machine_token)
    token = gateway.mesh_token(MESH, DESTINATION).token
    v = validator(url)
    assert panics_once("jwt", lambda: v.verify_mesh_token(token, MESH)).get("mesh_id") == MESH


def case_reference_parse(url: str) -> None:
    assert str(panics_once("reference", lambda: runbeam.Reference.parse(DICOMWEB))) == DICOMWEB


def case_reference_in_mesh_context(url: str) -> None:
    config = analytics_config(url)
    assert panics_once("reference", lambda: config.in_mesh_context(DICOMWEB)) is True


def case_resolve(url: str) -> None:
    r = resolver(url)
    assert panics_once("resolve", lambda: r.resolve(DICOMWEB)).resource.name == "dicomweb"


def case_resolve_cached(url: str) -> None:
    r = resolver(url)
    r.resolve(DICOMWEB)
    assert panics_once("resolve", lambda: r.resolve_cached(DICOMWEB)).resource.name == "dicomweb"


def case_resolve_async(url: str) -> None:
    r = resolver(url, runbeam.AsyncResolver)
    call = awaited(lambda: r.resolve(DICOMWEB))
    assert panics_once("resolve", call).resource.name == "dicomweb"


def case_store_load(url: str) -> None:
    store = runbeam.MemoryTokenStore()
    assert panics_once("storage", lambda: store.load_machine_token("gw-1")) is None


def case_ensure_token(url: str) -> None:
    manager = runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), url, credential=BOB)
    assert panics_once("storage", manager.ensure_token).gateway_id


def case_ensure_token_async(url: str) -> None:
    # The store is read on the module's runtime: the panic happens on a worker thread and must
    # still complete the asyncio future.
    manager = runbeam.AsyncTokenManager(
        ANALYTICS_GW, runbeam.MemoryTokenStore(), url, credential=BOB
    )
    assert panics_once("storage", awaited(manager.ensure_token)).gateway_id


def case_refresh_keys(url: str) -> None:
    v = validator(url)
    assert panics_once("jwks", v.refresh_keys) is None
    assert v.validate(mint(url)).user.email == ALICE_EMAIL


def case_refresh_keys_async(url: str) -> None:
    v = validator(url, runbeam.AsyncValidator)
    assert panics_once("jwks", awaited(v.refresh_keys)) is None


CASES: Dict[str, Callable[[str], None]] = {
    name[len("case_"):]: function
    for name, function in sorted(globals().items())
    if name.startswith("case_")
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_panic_is_an_internal_error_and_the_object_still_works(name: str, cloud: Cloud):
    CASES[name](cloud.url)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_panic_prints_nothing_on_stderr(name: str, cloud: Cloud):
    here = Path(__file__).resolve().parent
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_panic_boundary as t; "
        "t.CASES[sys.argv[2]](sys.argv[3]); print('ok')"
    )
    env = dict(os.environ, RUST_BACKTRACE="1", RUST_LIB_BACKTRACE="1")
    done = subprocess.run(
        [sys.executable, "-c", script, str(here), name, cloud.url],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.decode().strip().endswith("ok")
    assert done.stderr == b"", done.stderr.decode(errors="replace")


def test_every_site_is_covered():
    covered = {
        site
        for function in CASES.values()
        for site in SITES
        if site in function.__code__.co_consts
    }
    assert covered == set(SITES)


def test_a_panic_in_a_thread_does_not_poison_the_object(cloud: Cloud):
    v = validator(cloud.url)
    token = mint(cloud.url)
    v.validate(token)
    errors = []

    def worker() -> None:
        try:
            v.validate(token)
        except runbeam.InternalError:
            errors.append(True)

    _native._fault_arm("jwt", 4)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 4
    assert v.validate(token).user.email == ALICE_EMAIL


# --- JWTs that used to panic, or that are not JSON objects ------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["a€b", "€", "RS€", "RS256€"])
def test_a_multibyte_alg_is_jwt_invalid(cloud: Cloud, alg: str):
    v = validator(cloud.url)
    v.refresh_keys()
    # Signed by devcloud with that header member, as JSON text (UTF-8) ...
    token = mint(cloud.url, header={"alg": alg})
    with pytest.raises(runbeam.JwtInvalidError):
        v.validate(token)
    # ... and with the character as a JSON escape.
    header, payload, signature = token.split(".")
    escaped = json.dumps({"alg": alg, "typ": "JWT"}, ensure_ascii=True).encode()
    assert b"\\u20ac" in escaped
    with pytest.raises(runbeam.JwtInvalidError):
        v.validate(f"{b64(escaped)}.{payload}.{signature}")


class _Keys:
    """An RSA key of our own and a JWKS server for it, so that a JSON-array header or payload
    can be properly signed (devcloud only signs JSON objects)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._sign = lambda data: self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        numbers = self._key.public_key().public_numbers()

        def b64int(n: int) -> str:
            return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        jwks = json.dumps(
            {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "own",
                       "n": b64int(numbers.n), "e": b64int(numbers.e)}]}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def token(self, header: Any, payload: Any) -> str:
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
        return f"{signing_input}.{b64(self._sign(signing_input.encode()))}"


@pytest.fixture
def own_keys() -> Iterator[_Keys]:
    keys = _Keys()
    yield keys
    keys.server.shutdown()


def test_a_json_array_header_or_payload_is_jwt_invalid(own_keys: _Keys):
    import time

    issuer = "https://issuer.example.com/api"
    v = runbeam.Validator(
        trusted_issuers=[issuer], jwks_url=own_keys.url, allow_insecure_http=True
    )
    header = {"alg": "RS256", "typ": "JWT", "kid": "own"}
    now = int(time.time())
    claims = {"iss": issuer, "sub": "1", "iat": now, "exp": now + 600}
    # The control: the same key and claims as an object are accepted.
    assert v.validate(own_keys.token(header, claims)).sub == "1"
    for bad in (
        own_keys.token(header, [claims]),
        own_keys.token(header, []),
        own_keys.token([header], claims),
        own_keys.token([], claims),
    ):
        with pytest.raises(runbeam.JwtInvalidError):
            v.validate(bad)
