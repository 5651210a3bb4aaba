"""runbeam.Resolver and runbeam.AsyncResolver (docs/spec.md §6) against runbeam-devcloud over real HTTP:
single-flight from threads and from asyncio, TTL, stale answers while the Cloud fails and the
error after ``max_stale``, errors that are not cached, mesh context, reload, mesh-token
reuse and renewal, the receiving side, secrets in ``repr``, and careless input.

The devcloud counts requests per endpoint (``/_dev/counters``): "one upstream request" is what
the server saw, not what the SDK says it did.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any, Callable, List

import pytest

import runbeam
from conftest import (
    ALICE,
    ANALYTICS_GW,
    BOB,
    DICOM_URL,
    DICOMWEB,
    EXAMPLES,
    MESH,
    RADIOLOGY_GW,
    RESOLVE_PATH,
    Cloud,
)

RETIRED = "runbeam.radiology-dept.ingress.name.retired-api"
MESH_TOKEN_PATH = "/api/harmony/mesh/token"
AUTHORIZE_PATH = "/api/harmony/authorize"
DESTINATION = f"{DICOM_URL}/studies"


def analytics_config(cloud: Cloud, ttl_secs: int = 300) -> runbeam.MeshConfig:
    """examples/config/ai-analytics.toml at the devcloud with ``cache_ttl_secs``, its mesh
    also listing a reference the Cloud does not know (404)."""
    text = (EXAMPLES / "ai-analytics.toml").read_text(encoding="utf-8")
    text = text.replace(
        'api = "https://api.runbeam.io"', f'api = "{cloud.url}"\ncache_ttl_secs = {ttl_secs}'
    )
    text = text.replace(f'"{DICOMWEB}",', f'"{DICOMWEB}",\n  "{RETIRED}",')
    return runbeam.MeshConfig.from_toml(text)


def radiology_config(cloud: Cloud) -> runbeam.MeshConfig:
    config = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    return config.with_provider_api("runbeam", cloud.url)


def manager(cloud: Cloud, cls: Any = runbeam.TokenManager, gateway: str = ANALYTICS_GW,
            credential: Any = BOB) -> Any:
    return cls(gateway, runbeam.MemoryTokenStore(), cloud.url, credential=credential)


def analytics(cloud: Cloud, cls: Any = runbeam.Resolver, ttl_secs: int = 300, **options: Any):
    # One attempt per request: a 503 fault then fails at once instead of being retried.
    client = runbeam.Client(cloud.url, max_attempts=1)
    managed = manager(cloud, runbeam.AsyncTokenManager if cls is runbeam.AsyncResolver
                      else runbeam.TokenManager)
    return cls(analytics_config(cloud, ttl_secs), client, managed, **options)


class Awaited:
    """An AsyncResolver whose awaitable calls are run to completion in ``asyncio.run`` (and
    whose immediate calls pass through): the same assertions then prove both classes."""

    def __init__(self, native: runbeam.AsyncResolver) -> None:
        self.native = native

    def __getattr__(self, name: str) -> Any:
        member = getattr(self.native, name)
        if not callable(member):
            return member

        def call(*args: Any, **kwargs: Any) -> Any:
            async def main() -> Any:
                answer = member(*args, **kwargs)
                if isinstance(answer, asyncio.Future):
                    return await answer
                return answer

            return asyncio.run(main())

        return call


Make = Callable[..., Any]


@pytest.fixture(params=["Resolver", "AsyncResolver"])
def make(request: pytest.FixtureRequest, cloud: Cloud) -> Make:
    """``make(ttl_secs=300, **options)``: an ai-analytics resolver of the parametrized class."""

    def build(ttl_secs: int = 300, **options: Any) -> Any:
        if request.param == "Resolver":
            return analytics(cloud, runbeam.Resolver, ttl_secs, **options)
        return Awaited(analytics(cloud, runbeam.AsyncResolver, ttl_secs, **options))

    return build


def resolves(cloud: Cloud) -> int:
    return cloud.count("GET", RESOLVE_PATH)


# --- Single flight ------------------------------------------------------------------------------


def test_a_thousand_threads_resolving_cold_send_one_request(cloud: Cloud):
    resolver = analytics(cloud)
    resolver.validate_startup()
    cloud.reset_counts()
    # The answer takes a while, so that the callers really overlap.
    cloud.fault(path=RESOLVE_PATH, latency_ms=300, count=1)
    start = threading.Barrier(1000)
    answers: List[runbeam.Resolution] = []
    errors: List[BaseException] = []

    def call() -> None:
        try:
            start.wait()
            answers.append(resolver.resolve(DICOMWEB))
        except BaseException as e:  # noqa: B902 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(answers) == 1000
    assert all(a.resource.urls == [DICOM_URL] and not a.is_stale for a in answers)
    assert resolves(cloud) == 1, "one upstream request"
    assert cloud.count("POST", AUTHORIZE_PATH) == 1, "one machine token"
    stats = resolver.stats()
    assert stats.upstream_requests == 1
    assert stats.hits + stats.misses == 1000
    # Later calls are cache hits, also without I/O.
    hit = resolver.resolve_cached(DICOMWEB)
    assert hit is not None and hit.resource.name == "dicomweb" and hit.provider == "runbeam"
    assert resolves(cloud) == 1


def test_a_thousand_asyncio_tasks_resolving_cold_send_one_request(cloud: Cloud):
    resolver = analytics(cloud, runbeam.AsyncResolver)
    cloud.reset_counts()
    cloud.fault(path=RESOLVE_PATH, latency_ms=300, count=1)

    async def main() -> List[runbeam.Resolution]:
        return await asyncio.gather(*(resolver.resolve(DICOMWEB) for _ in range(1000)))

    answers = asyncio.run(main())
    assert len(answers) == 1000
    assert all(a.resource.urls == [DICOM_URL] and not a.is_stale for a in answers)
    assert resolves(cloud) == 1, "one upstream request"
    assert cloud.count("POST", AUTHORIZE_PATH) == 1
    assert resolver.stats().upstream_requests == 1

    async def hit() -> runbeam.Resolution:
        future = resolver.resolve(DICOMWEB)
        assert future.done(), "a cache hit is answered at once"
        return await future

    assert asyncio.run(hit()).resource.name == "dicomweb"
    assert resolves(cloud) == 1


# --- TTL, stale answers, errors ----------------------------------------------------------------


def test_the_answer_is_refetched_after_the_ttl(make: Make, cloud: Cloud):
    resolver = make(ttl_secs=1)
    first = resolver.resolve(DICOMWEB)
    assert not first.is_stale and not first.is_local
    assert first.resolved_at.tzinfo is not None
    resolver.resolve(DICOMWEB)
    assert resolves(cloud) == 1
    time.sleep(1.1)
    assert resolver.resolve_cached(DICOMWEB) is None, "expired"
    again = resolver.resolve(DICOMWEB)
    assert not again.is_stale
    assert resolves(cloud) == 2


def test_a_failing_cloud_serves_the_stale_answer_flagged_then_the_error(make: Make, cloud: Cloud):
    resolver = make(ttl_secs=1, max_stale=3)
    fresh = resolver.resolve(DICOMWEB)
    cloud.fault(path=RESOLVE_PATH, status=503, count=1000)
    time.sleep(1.1)
    stale = resolver.resolve(DICOMWEB)
    assert stale.is_stale, "past the TTL with the Cloud failing"
    assert stale.resource.urls == fresh.resource.urls
    assert stale.resource.id == fresh.resource.id
    assert stale.to_dict()["meta"]["stale"] is True
    assert "is_stale=True" in repr(stale)
    assert resolver.stats().stale_served == 1
    time.sleep(2.0)
    with pytest.raises(runbeam.ServerError) as info:
        resolver.resolve(DICOMWEB)
    assert info.value.status == 503
    cloud.clear_faults()
    assert not resolver.resolve(DICOMWEB).is_stale, "the Cloud is back"


def test_a_malformed_answer_also_serves_the_stale_one(make: Make, cloud: Cloud):
    resolver = make(ttl_secs=1)
    resolver.resolve(DICOMWEB)
    time.sleep(1.1)
    cloud.fault(path=RESOLVE_PATH, malformed_body=True, count=1)
    assert resolver.resolve(DICOMWEB).is_stale


def test_not_found_is_raised_and_not_cached(make: Make, cloud: Cloud):
    resolver = make()
    for expected in (1, 2):
        with pytest.raises(runbeam.NotFoundError):
            resolver.resolve(RETIRED)
        assert resolves(cloud) == expected, "not cached"
    assert resolver.resolve_cached(RETIRED) is None


def test_references_outside_every_mesh_are_refused_without_requests(make: Make, cloud: Cloud):
    resolver = make()
    cloud.reset_counts()
    with pytest.raises(runbeam.NotInMeshError) as info:
        resolver.resolve("runbeam.acme.ingress.name.api")
    assert "runbeam.acme.ingress.name.api" in str(info.value)
    with pytest.raises(runbeam.UnknownProviderError):
        resolver.resolve("elsewhere.acme.ingress.name.api")
    with pytest.raises(runbeam.InvalidReferenceError):
        resolver.resolve("runbeam..ingress")
    # The same answers without I/O.
    with pytest.raises(runbeam.NotInMeshError):
        resolver.resolve_cached("runbeam.acme.ingress.name.api")
    assert resolves(cloud) == 0
    assert cloud.count("POST", AUTHORIZE_PATH) == 0
    assert resolver.cached_references == 0


def test_local_references_are_answered_from_the_configuration(make: Make, cloud: Cloud):
    resolver = make()
    cloud.reset_counts()
    local = resolver.resolve("imaging-out")
    assert local.is_local and local.provider == "local"
    assert local.resource.type == "egress" and local.resource.name == "imaging-out"
    assert local.resource.backend_id == "dicom-archive"
    assert local.resource.pipeline_id == "research"
    assert resolver.resolve(runbeam.Reference("local.name.imaging-out")).is_local
    with pytest.raises(runbeam.NotFoundError, match="no-such-egress"):
        resolver.resolve("no-such-egress")
    assert resolver.stats().local == 3
    assert resolves(cloud) == 0


def test_invalidate_and_reload(make: Make, cloud: Cloud):
    resolver = make()
    resolver.resolve(runbeam.Reference(DICOMWEB))
    assert resolver.invalidate(DICOMWEB) is True
    assert resolver.invalidate(DICOMWEB) is False
    resolver.resolve(DICOMWEB)
    assert resolves(cloud) == 2, "invalidate forgets"

    # The same configuration again keeps the answers.
    resolver.reload(analytics_config(cloud, 300))
    resolver.resolve(DICOMWEB)
    assert resolves(cloud) == 2

    # A changed provider (its TTL) drops them.
    resolver.reload(analytics_config(cloud, 120))
    assert resolver.resolve_cached(DICOMWEB) is None
    resolver.resolve(DICOMWEB)
    assert resolves(cloud) == 3

    # A configuration with problems is refused and the old one stays.
    broken = runbeam.MeshConfig.from_toml(
        '[mesh.m]\ntype = "http"\nprovider = "runbeam"\negress = ["runbeam.a.ingress.name.b"]'
    )
    with pytest.raises(runbeam.ConfigError, match="Unknown provider") as info:
        resolver.reload(broken)
    assert info.value.problems
    assert resolver.resolve_cached(DICOMWEB) is not None
    assert [p.api for p in resolver.config.providers() if p.name == "runbeam"] == [cloud.url]

    # A mesh that no longer lists the reference: out of context, its answer dropped.
    text = (EXAMPLES / "ai-analytics.toml").read_text(encoding="utf-8")
    without = runbeam.MeshConfig.from_toml(text.replace(f'  "{DICOMWEB}",\n', ""))
    resolver.reload(without.with_provider_api("runbeam", cloud.url))
    assert resolver.cached_references == 0
    with pytest.raises(runbeam.NotInMeshError):
        resolver.resolve(DICOMWEB)
    resolver.invalidate_all()
    assert resolver.cached_references == 0


# --- Mesh tokens --------------------------------------------------------------------------------


def test_a_mesh_token_is_reused_then_renewed(make: Make, cloud: Cloud):
    # devcloud's tokens live 300 s; with a 299 s margin one is reusable for about a second.
    resolver = make(mesh_token_margin=299)
    cloud.reset_counts()
    first = resolver.mesh_token(MESH, DESTINATION)
    reused = resolver.mesh_token(MESH, DESTINATION)
    assert first.claims.jti == reused.claims.jti
    assert cloud.count("POST", MESH_TOKEN_PATH) == 1
    time.sleep(1.2)
    renewed = resolver.mesh_token(MESH, DESTINATION)
    assert renewed.claims.jti != first.claims.jti
    assert cloud.count("POST", MESH_TOKEN_PATH) == 2
    assert resolver.stats().mesh_token_requests == 2

    assert renewed.mesh == MESH and renewed.mesh_id
    assert renewed.claims.get("mesh_id") == MESH
    assert renewed.claims.aud == f"mesh:{MESH}"
    assert DESTINATION.startswith(renewed.claims.get("dest_url"))
    assert renewed.expires_at.tzinfo is not None
    assert renewed.token.count(".") == 2
    for shown in (repr(renewed), str(renewed)):
        assert renewed.token not in shown
        assert "<redacted>" in shown


def test_concurrent_mesh_token_callers_share_one_request(cloud: Cloud):
    resolver = analytics(cloud, runbeam.AsyncResolver)
    cloud.reset_counts()

    async def main() -> List[runbeam.IssuedMeshToken]:
        return await asyncio.gather(*(resolver.mesh_token(MESH, DESTINATION) for _ in range(100)))

    tokens = asyncio.run(main())
    assert len({t.claims.jti for t in tokens}) == 1
    assert cloud.count("POST", MESH_TOKEN_PATH) == 1


def test_mesh_token_errors_are_clear_and_not_cached(make: Make, cloud: Cloud):
    resolver = make()
    for expected in (1, 2):
        with pytest.raises(runbeam.PermissionDeniedError, match="Rule 2"):
            resolver.mesh_token(MESH, "https://elsewhere.example.com/")
        assert cloud.count("POST", MESH_TOKEN_PATH) == expected
    with pytest.raises(runbeam.NotInMeshError):
        resolver.mesh_token("no-such-mesh", DICOM_URL)
    with pytest.raises(runbeam.InvalidArgumentError):
        resolver.mesh_token(MESH, "not a url")
    assert cloud.count("POST", MESH_TOKEN_PATH) == 2


@pytest.mark.parametrize("cls", [runbeam.Resolver, runbeam.AsyncResolver])
def test_the_receiving_gateway_verifies_the_mesh_token(cloud: Cloud, cls: Any):
    token = analytics(cloud).mesh_token(MESH, DESTINATION).token
    # No credential: verification needs keys, not a machine token.
    native = cls(
        radiology_config(cloud),
        runbeam.Client(cloud.url),
        manager(cloud, gateway=RADIOLOGY_GW, credential=None),
    )
    receiver = native if cls is runbeam.Resolver else Awaited(native)
    receiver.validate_startup()
    claims = receiver.verify_mesh_token(token, MESH, f"{DESTINATION}/123")
    assert claims.get("source_team") == "ai-analytics"
    assert claims.get("mesh_id") == MESH
    assert receiver.verify_mesh_token(token, MESH).jti == claims.jti
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_token(token, MESH, "https://pacs.radiology.example.com/")
    with pytest.raises(runbeam.NotInMeshError):
        receiver.verify_mesh_token(token, "other-mesh")
    with pytest.raises(runbeam.RunbeamError):
        receiver.verify_mesh_token(token[:-1], MESH)
    assert cloud.count("POST", AUTHORIZE_PATH) == 1, "only the sender authorized"


def test_the_mesh_token_validator_settings_apply_but_not_their_trust(cloud: Cloud):
    token = analytics(cloud).mesh_token(MESH, DESTINATION).token

    def receiver(validator: Any) -> runbeam.Resolver:
        return runbeam.Resolver(
            radiology_config(cloud),
            runbeam.Client(cloud.url),
            manager(cloud, gateway=RADIOLOGY_GW, credential=None),
            validator=validator,
        )

    # Its trust (another issuer, a dead JWKS URL, an audience) is not used ...
    trusting = runbeam.Validator(
        trusted_issuers=["https://other.example/api"],
        jwks_url="http://127.0.0.1:9/jwks.json",
        audiences=["someone-else"],
        leeway=5,
    )
    assert receiver(trusting).verify_mesh_token(token, MESH).get("mesh_id") == MESH
    # ... its other settings are.
    only_es256 = runbeam.AsyncValidator(jwks_url="http://127.0.0.1:9/jwks.json", algorithms=["ES256"])
    with pytest.raises(runbeam.JwtInvalidError):
        receiver(only_es256).verify_mesh_token(token, MESH)
    with pytest.raises(TypeError, match="validator must be"):
        receiver("leeway=5")


# --- The objects -------------------------------------------------------------------------------


def test_reprs_stats_and_results(cloud: Cloud):
    resolver = analytics(cloud)
    answer = resolver.resolve(DICOMWEB)
    assert repr(answer).startswith("Resolution(provider=\"runbeam\", is_stale=False, resource=")
    wire = answer.to_dict()
    assert wire["data"]["urls"] == [DICOM_URL]
    assert wire["meta"]["provider"] == "runbeam" and wire["meta"]["stale"] is False
    assert answer.resource is answer.resource, "made once"
    stats = resolver.stats()
    assert stats.to_dict() == {
        "hits": 0, "misses": 1, "upstream_requests": 1, "stale_served": 0, "local": 0,
        "mesh_token_requests": 0, "errors": {}, "cached_references": 1,
        "cached_mesh_tokens": 0,
        "mesh_validation": {
            "cache_hits": 0, "verifications": 0, "jwks_fetches": 0, "jwks_fetch_failures": 0,
            "failures": {}, "cached_tokens": 0,
        },
    }
    assert stats == resolver.stats()
    assert repr(stats).startswith("ResolverStats(hits=0, misses=1")
    text = repr(resolver)
    assert text.startswith("Resolver(meshes=") and "cached_references=1" in text
    assert BOB not in text


def test_with_provider_api(cloud: Cloud):
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    moved = config.with_provider_api("runbeam", cloud.url)
    assert [p.api for p in moved.providers() if p.name == "runbeam"] == [cloud.url]
    assert [p.api for p in config.providers() if p.name == "runbeam"] == [
        "https://api.runbeam.io"
    ]
    assert moved.validate() == []
    with pytest.raises(runbeam.UnknownProviderError):
        config.with_provider_api("partner", "https://x.example.com")
    with pytest.raises(TypeError):
        config.with_provider_api("runbeam", None)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_works_in_a_forked_child(cloud: Cloud):
    resolver = analytics(cloud)
    assert resolver.resolve(DICOMWEB).resource.urls == [DICOM_URL]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        signal.alarm(10)  # a hang kills the child (and fails the test) instead of the suite
        try:
            # The parent's resolver is rebuilt here (empty cache, own runtime).
            answer = resolver.resolve(DICOMWEB)
            code = 0 if answer.resource.urls == [DICOM_URL] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert resolver.resolve_cached(DICOMWEB) is not None


# --- Careless input (no server needed) ----------------------------------------------------------

OFFLINE = "http://127.0.0.1:9"


def offline(cls: Any = runbeam.Resolver, **options: Any) -> Any:
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    return cls(config, OFFLINE, runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(),
                                                     OFFLINE), **options)


@pytest.mark.parametrize("cls", [runbeam.Resolver, runbeam.AsyncResolver])
@pytest.mark.parametrize("value", [None, 5, b"runbeam.id.x", ["x"]])
def test_non_str_references_raise_type_error(cls: Any, value: Any):
    resolver = offline(cls)
    with pytest.raises(TypeError, match="reference must be a str or a runbeam.Reference"):
        resolver.resolve(value)
    with pytest.raises(TypeError):
        resolver.resolve_cached(value)
    with pytest.raises(TypeError):
        resolver.invalidate(value)


@pytest.mark.parametrize("cls", [runbeam.Resolver, runbeam.AsyncResolver])
def test_other_bad_arguments(cls: Any):
    resolver = offline(cls)
    with pytest.raises(runbeam.InvalidArgumentError, match="lone surrogate"):
        resolver.resolve("runbeam.id.\udc80")
    with pytest.raises(runbeam.InvalidReferenceError):
        resolver.invalidate("runbeam..x")
    with pytest.raises(TypeError):
        resolver.mesh_token(None, DESTINATION)
    with pytest.raises(TypeError):
        resolver.mesh_token(MESH, None)
    with pytest.raises(TypeError):
        resolver.verify_mesh_token(None, MESH)
    with pytest.raises(TypeError):
        resolver.verify_mesh_token("a.b.c", MESH, 5)
    with pytest.raises(TypeError):
        resolver.reload(None)
    with pytest.raises(TypeError):
        resolver.reload("[mesh.m]")


def test_bad_constructor_arguments():
    config = runbeam.MeshConfig.from_toml("")
    store = runbeam.MemoryTokenStore()
    manager_ = runbeam.TokenManager(ANALYTICS_GW, store, OFFLINE)
    with pytest.raises(TypeError):
        runbeam.Resolver(None, OFFLINE, manager_)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="manager must be a runbeam.TokenManager"):
        runbeam.Resolver(config, OFFLINE, store)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client must be"):
        runbeam.AsyncResolver(config, 5, manager_)  # type: ignore[arg-type]
    for name in ("max_stale", "mesh_token_margin"):
        for value in (-1.0, float("nan"), float("inf")):
            with pytest.raises(runbeam.InvalidArgumentError, match=name):
                runbeam.Resolver(config, OFFLINE, manager_, **{name: value})
    with pytest.raises(runbeam.InvalidArgumentError, match="mesh_token_capacity must be at least 1"):
        runbeam.Resolver(config, OFFLINE, manager_, mesh_token_capacity=0)
    with pytest.raises(OverflowError):
        runbeam.Resolver(config, OFFLINE, manager_, mesh_token_capacity=-1)
    # Zero is allowed: never serve a stale answer, renew mesh tokens only at expiry.
    assert runbeam.Resolver(config, OFFLINE, manager_, max_stale=0, mesh_token_margin=0)


def test_validate_startup_lists_every_problem():
    config = runbeam.MeshConfig.from_file(EXAMPLES / "broken-unknown-provider.toml")
    resolver = runbeam.Resolver(
        config, OFFLINE, runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), OFFLINE)
    )
    with pytest.raises(runbeam.ConfigError) as info:
        resolver.validate_startup()
    assert len(info.value.problems) >= 2
    assert ALICE not in repr(resolver)


def test_async_resolver_calls_need_a_running_loop():
    resolver = offline(runbeam.AsyncResolver)
    with pytest.raises(RuntimeError):
        resolver.resolve("imaging-out")
