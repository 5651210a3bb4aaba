"""The panic boundary: a panic inside librunbeam reaches Python as ``runbeam.InternalError``
(an ``Exception`` and a ``RunbeamError``), never as ``pyo3_runtime.PanicException``, prints
nothing on stderr, and leaves the object usable.

Panics are forced with the test-only ``runbeam._native._fault_arm(site, count)`` (debug builds
have the ``fault-injection`` feature): the next ``count`` calls passing ``site`` panic. Each case
below arms a site once, makes a call that passes it, checks the error, then makes the same call
again and checks its normal answer. Every case runs twice: in this process, and in a child
process with ``RUST_BACKTRACE=1`` whose stderr must stay empty.

A module without ``_fault_arm`` (a release build, e.g. the one ``make python-bench`` leaves in
place) makes the tests that arm a fault FAIL, so that a run can never pass with them unproven.
Set ``RUNBEAM_NO_FAULT_INJECTION=1`` to declare that the installed module is a release build:
those tests are then skipped, and ``test_the_fault_hook_matches_the_build`` instead checks that
the release module really has no hook.

The JWTs that used to panic in the core (a multi-byte ``alg``) and JWTs whose header or payload
is a JSON array need no fault injection: their regression tests are in ``test_jwt.py``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

import runbeam
from runbeam import _native
from conftest import ALICE_EMAIL, ANALYTICS_GW, BOB, DICOMWEB, EXAMPLES, MESH, Cloud

SITES = ("jwt", "reference", "jwks", "resolve", "storage")
DESTINATION = "https://dicom.radiology.example.com/studies"

# Set (to "1") when the installed native module is a release build, which has no `_fault_arm`.
NO_FAULT_INJECTION = "RUNBEAM_NO_FAULT_INJECTION"


def release_build_declared() -> bool:
    return os.environ.get(NO_FAULT_INJECTION) == "1"


@pytest.fixture
def fault_hook() -> Iterator[None]:
    """Required by every test that arms a fault: fails when the module has no ``_fault_arm``
    (skips instead when ``RUNBEAM_NO_FAULT_INJECTION=1`` declares a release build), and disarms
    every site afterwards."""
    if not hasattr(_native, "_fault_arm"):
        if release_build_declared():
            pytest.skip(f"release build ({NO_FAULT_INJECTION}=1): no fault injection")
        pytest.fail(
            "runbeam._native has no _fault_arm: this is a release build (run `make python-build`"
            f" for the debug one, or set {NO_FAULT_INJECTION}=1 to skip the fault tests)",
            pytrace=False,
        )
    yield
    for site in SITES:
        _native._fault_arm(site, 0)


def test_the_fault_hook_matches_the_build():
    # A declared release build must not expose the hook; any other build must have it.
    has_hook = hasattr(_native, "_fault_arm")
    if release_build_declared():
        assert not has_hook, f"{NO_FAULT_INJECTION}=1 but the module has the test-only _fault_arm"
    else:
        assert has_hook, f"no _fault_arm (release build?): set {NO_FAULT_INJECTION}=1 if intended"


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
def test_a_panic_is_an_internal_error_and_the_object_still_works(
    name: str, fault_hook: None, cloud: Cloud
):
    CASES[name](cloud.url)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_panic_prints_nothing_on_stderr(name: str, fault_hook: None, cloud: Cloud):
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


def test_a_panic_in_a_thread_does_not_poison_the_object(fault_hook: None, cloud: Cloud):
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

