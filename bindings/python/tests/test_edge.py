"""The native pieces of the HTTP edge (docs/edge.md): runbeam.refusal_for / Refusal (the answer
every middleware sends), runbeam.join_path, Validator.authenticate, Resolver.verify_mesh_request
and Resolver.outbound with their cached and asyncio forms, against runbeam-devcloud."""

from __future__ import annotations

import asyncio
import math

import pytest

import runbeam
from conftest import ANALYTICS_GW, BOB, DICOMWEB, EXAMPLES, RADIOLOGY_GW, RESOLVE_PATH, Cloud

BOB_EMAIL = "bob@analytics.example.com"
MESH = "imaging-integration"
PACS = "runbeam.radiology-dept.ingress.name.pacs"
CHALLENGE = 'Bearer error="invalid_token"'


def error(cls: type, **details: object) -> runbeam.RunbeamError:
    return cls("what went wrong, for the host's log", **details)


# --- refusal_for -------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["user_token", "mesh_token"])
@pytest.mark.parametrize(
    "cls", [runbeam.JwtInvalidError, runbeam.JwtExpiredError, runbeam.UntrustedIssuerError]
)
def test_a_bad_token_inbound_is_401_with_the_challenge(cls: type, stage: str):
    refusal = runbeam.refusal_for(error(cls), stage)
    assert refusal.status == 401
    assert refusal.kind == cls.kind
    assert refusal.www_authenticate == CHALLENGE
    assert refusal.headers == [("www-authenticate", CHALLENGE)]
    assert refusal.retry_after_secs is None
    assert refusal.body == b'{"error":"invalid_token"}'
    assert refusal.content_type == "application/json"


@pytest.mark.parametrize(
    "cls, stage, status, body",
    [
        (runbeam.NotInMeshError, "outbound", 403, b'{"error":"not_in_mesh"}'),
        (runbeam.UnknownProviderError, "user_token", 403, b'{"error":"not_in_mesh"}'),
        (runbeam.PermissionDeniedError, "outbound", 403, b'{"error":"forbidden"}'),
        (runbeam.InvalidArgumentError, "mesh_token", 400, b'{"error":"invalid_request"}'),
        (runbeam.InvalidReferenceError, "outbound", 400, b'{"error":"invalid_request"}'),
        (runbeam.NotFoundError, "outbound", 404, b'{"error":"not_found"}'),
        # Outbound, a JWT error is the Cloud's (it issued a token that does not verify).
        (runbeam.JwtInvalidError, "outbound", 503, b'{"error":"unavailable"}'),
        # Inbound, a refused key fetch says nothing of the client's token.
        (runbeam.PermissionDeniedError, "user_token", 503, b'{"error":"unavailable"}'),
        (runbeam.TransportError, "outbound", 503, b'{"error":"unavailable"}'),
        (runbeam.InternalError, "mesh_token", 503, b'{"error":"unavailable"}'),
    ],
)
def test_the_answer_of_each_kind(cls: type, stage: str, status: int, body: bytes):
    refusal = runbeam.refusal_for(error(cls), stage)
    assert (refusal.status, refusal.body, refusal.kind) == (status, body, cls.kind)
    assert refusal.www_authenticate is None
    assert (refusal.retry_after_secs is not None) == (status == 503)


def test_retry_after_is_the_clouds_own_else_the_cores_default():
    transient = runbeam.refusal_for(error(runbeam.TransportError), "outbound")
    assert transient.retry_after_secs == 5 and transient.headers == [("retry-after", "5")]
    operator = runbeam.refusal_for(error(runbeam.NoTokenError), "outbound")
    assert operator.retry_after_secs == 30
    assert (
        runbeam.refusal_for(
            error(runbeam.ServerError, retry_after=7.2), "outbound"
        ).retry_after_secs
        == 8
    )
    # Whatever a caller put in retry_after, the answer stays a bounded number of seconds.
    for odd, expected in [(math.inf, 3600), (1e300, 3600), (0.0, 1), (math.nan, 5), (-3.0, 5)]:
        refusal = runbeam.refusal_for(error(runbeam.ServerError, retry_after=odd), "outbound")
        assert refusal.retry_after_secs == expected, odd


def test_anything_but_an_sdk_error_is_internal_and_503():
    for other in (ValueError("x"), RuntimeError(), KeyboardInterrupt(), object()):
        refusal = runbeam.refusal_for(other, "user_token")  # type: ignore[arg-type]
        assert (refusal.status, refusal.kind) == (503, "Internal")
        assert refusal.retry_after_secs == 30


def test_the_body_never_carries_the_error():
    secret = "eyJhbGciOiJSUzI1NiJ9.secret-claims.signature"
    for cls in (runbeam.JwtInvalidError, runbeam.NotInMeshError, runbeam.TransportError):
        for stage in ("user_token", "mesh_token", "outbound"):
            refusal = runbeam.refusal_for(cls(f"token {secret} refused"), stage)
            assert secret not in repr(refusal) and secret.encode() not in refusal.body


def test_stage_is_checked():
    with pytest.raises(runbeam.InvalidArgumentError, match="'user_token', 'mesh_token' or"):
        runbeam.refusal_for(ValueError(), "userToken")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="stage must be a str"):
        runbeam.refusal_for(ValueError(), 1)  # type: ignore[arg-type]


def test_refusal_compares_by_value_and_reads_like_python():
    a = runbeam.refusal_for(error(runbeam.JwtExpiredError), "user_token")
    assert a == runbeam.refusal_for(error(runbeam.JwtExpiredError), "mesh_token")
    assert a != runbeam.refusal_for(error(runbeam.JwtInvalidError), "user_token")
    with pytest.raises(TypeError):
        hash(a)
    assert repr(a) == (
        "Refusal(status=401, kind='JwtExpired', headers=[('www-authenticate', "
        '\'Bearer error="invalid_token"\')], body=b\'{"error":"invalid_token"}\')'
    )


# --- join_path ---------------------------------------------------------------------------------


def test_join_path_keeps_the_path_under_the_base():
    assert (
        runbeam.join_path("https://dicom.example.com/wado", "/studies?modality=CT")
        == "https://dicom.example.com/wado/studies?modality=CT"
    )
    for bad in ("/../admin", "/a%2f..%2f..%2fadmin", "//evil.test/x", "studies", "/a\\b"):
        with pytest.raises(runbeam.InvalidArgumentError) as caught:
            runbeam.join_path("https://dicom.example.com/wado", bad)
        assert "admin" not in str(caught.value) and "evil" not in str(caught.value)
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.join_path("https://user:s3cret@h/", "/a")


# --- The calls, against devcloud ----------------------------------------------------------------


def sender(cloud: Cloud, cls: type = runbeam.Resolver) -> runbeam.Resolver:
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    config = config.with_provider_api("runbeam", cloud.url)
    manager = runbeam.TokenManager(
        ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url, credential=BOB
    )
    return cls(config, cloud.url, manager)


def test_authenticate_takes_the_header_value(cloud: Cloud):
    token = cloud.dev_post("jwt", {"email": BOB_EMAIL})["token"]
    validator = runbeam.Validator(trusted_issuers=[f"{cloud.url}/api"])
    assert validator.authenticate(f"Bearer {token}").user.email == BOB_EMAIL
    assert validator.authenticate(f"bearer  {token} ").user.email == BOB_EMAIL
    for header in (None, "", "Bearer", token, f"Basic {token}", f"Bearer {token}, Bearer x"):
        with pytest.raises(runbeam.JwtInvalidError) as caught:
            validator.authenticate(header)
        assert token not in str(caught.value)

    async def main() -> str:
        v = runbeam.AsyncValidator(trusted_issuers=[f"{cloud.url}/api"])
        claims = await v.authenticate(f"Bearer {token}")
        # Verified twice, so cached (the core keeps a token from its second verification):
        # an already completed future.
        await v.authenticate(f"Bearer {token}")
        again = v.authenticate(f"Bearer {token}")
        assert again.done()
        with pytest.raises(runbeam.JwtInvalidError):
            await v.authenticate(None)
        return claims.user.email

    assert asyncio.run(main()) == BOB_EMAIL


def test_outbound_resolves_and_attaches_the_mesh_token(cloud: Cloud):
    resolver = sender(cloud)
    assert resolver.outbound_cached(DICOMWEB, "/studies") is None
    out = resolver.outbound(DICOMWEB, "/studies/1.2.3?includefield=all")
    assert out.url == "https://dicom.radiology.example.com/studies/1.2.3?includefield=all"
    cached = resolver.outbound_cached(runbeam.Reference(DICOMWEB), "/other")
    assert cached is not None and cached.url == "https://dicom.radiology.example.com/other"
    # One token serves every path under the resource's URL.
    assert cached.authorization == out.authorization
    # The token verifies at the receiving side, for this destination.
    config = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    receiver = runbeam.Resolver(
        config.with_provider_api("runbeam", cloud.url),
        cloud.url,
        runbeam.TokenManager(RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url),
    )
    claims = receiver.verify_mesh_request(out.authorization, MESH, out.url)
    assert claims.get("dest_url") == out.base_url
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_request(out.authorization, MESH, "https://elsewhere.example.com/x")
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_request(None, MESH)
    with pytest.raises(runbeam.NotInMeshError):
        receiver.verify_mesh_request(out.authorization, "no-such-mesh")


def test_outbound_refusals(cloud: Cloud):
    resolver = sender(cloud)
    with pytest.raises(runbeam.NotInMeshError):
        resolver.outbound(PACS, "/studies")
    with pytest.raises(runbeam.InvalidArgumentError):
        resolver.outbound(DICOMWEB, "/a%2f..%2fadmin")
    with pytest.raises(runbeam.InvalidReferenceError):
        resolver.outbound("not a reference", "/")
    with pytest.raises(TypeError, match="reference must be a str or a runbeam.Reference"):
        resolver.outbound(42, "/")  # type: ignore[arg-type]
    # A bad path is refused before any request reaches the Cloud.
    cloud.reset_counts()
    fresh = sender(cloud)
    with pytest.raises(runbeam.InvalidArgumentError):
        fresh.outbound(DICOMWEB, "no-slash")
    assert cloud.count("GET", RESOLVE_PATH) == 0
    fresh.outbound(DICOMWEB, "/studies")
    assert cloud.count("GET", RESOLVE_PATH) == 1


def test_async_outbound_is_completed_at_once_when_cached(cloud: Cloud):
    async def main() -> None:
        resolver = sender(cloud, runbeam.AsyncResolver)
        first = await resolver.outbound(DICOMWEB, "/studies")
        again = resolver.outbound(DICOMWEB, "/studies")
        assert again.done()
        assert (await again).authorization == first.authorization
        with pytest.raises(runbeam.NotInMeshError):
            await resolver.outbound(PACS, "/studies")

    asyncio.run(main())


def test_the_cached_forms_answer_without_io_or_say_none(cloud: Cloud):
    token = cloud.dev_post("jwt", {"email": BOB_EMAIL})["token"]
    for cls in (runbeam.Validator, runbeam.AsyncValidator):
        validator = cls(trusted_issuers=[f"{cloud.url}/api"])
        # No keys yet: a fetch is needed. A malformed header needs none: refused now.
        assert validator.authenticate_cached(f"Bearer {token}") is None
        with pytest.raises(runbeam.JwtInvalidError):
            validator.authenticate_cached(None)
        validator.flush_token_cache()
    validator = runbeam.Validator(trusted_issuers=[f"{cloud.url}/api"])
    validator.refresh_keys()
    claims = validator.authenticate_cached(f"Bearer {token}")
    assert claims is not None and claims.user.email == BOB_EMAIL

    out = sender(cloud).outbound(DICOMWEB, "/studies")
    config = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    receiver = runbeam.AsyncResolver(
        config.with_provider_api("runbeam", cloud.url),
        cloud.url,
        runbeam.TokenManager(RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url),
    )
    assert receiver.verify_mesh_request_cached(out.authorization, MESH, out.url) is None
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_request_cached("Basic x", MESH)
    with pytest.raises(runbeam.NotInMeshError):
        receiver.verify_mesh_request_cached(out.authorization, "no-such-mesh")

    async def fetch_keys() -> None:
        await receiver.verify_mesh_request(out.authorization, MESH, out.url)

    asyncio.run(fetch_keys())
    claims = receiver.verify_mesh_request_cached(out.authorization, MESH, out.url)
    assert claims is not None and claims.get("source_team") == "ai-analytics"
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_request_cached(out.authorization, MESH, "https://elsewhere.test/")
