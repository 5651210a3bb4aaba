"""`runbeam.Validator`, `runbeam.AsyncValidator`, `runbeam.Claims` and `runbeam.parse_bearer`
against a devcloud subprocess (its real signing keys and JWKS over HTTP).

The attack cases follow the Rust suite (``tests/e2e/tests/jwt_attacks.rs``): each is refused
with its specific exception, and no error's ``str``/``repr`` quotes the token. Tokens come
from the devcloud's ``POST /_dev/jwt`` (claims and header members overridable, ``null``
removes one); forged tokens are built here from a genuine one, and tokens whose header or
payload is a JSON array are signed with a key of the test's own, served as a JWKS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Type, Union

import pytest

import runbeam

from conftest import ALICE_EMAIL, ANALYTICS_GW, BOB, DICOM_URL, MESH, Cloud

JWKS = ("GET", "/api/.well-known/jwks.json")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def parts(token: str) -> Tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def issuer(cloud: Cloud) -> str:
    return f"{cloud.url}/api"


def mint(cloud: Cloud, **extra: Any) -> str:
    """A token signed by the devcloud; ``extra``: ``claims``, ``header``, ``alg``, ``ttl_secs``."""
    return cloud.dev_post("jwt", {"email": ALICE_EMAIL, **extra})["token"]


class AwaitedValidator:
    """An :class:`runbeam.AsyncValidator` whose calls return their awaited result (each call
    run in ``asyncio.run``), so one test body proves both classes through their own shells."""

    def __init__(self, native: runbeam.AsyncValidator) -> None:
        self.native = native

    def _call(self, name: str, *args: Any) -> Any:
        async def main() -> Any:
            awaitable = getattr(self.native, name)(*args)
            assert isinstance(awaitable, asyncio.Future), f"{name} is not an asyncio future"
            return await awaitable

        return asyncio.run(main())

    def validate(self, token: str) -> runbeam.Claims:
        return self._call("validate", token)

    def verify_mesh_token(self, *args: Any) -> runbeam.Claims:
        return self._call("verify_mesh_token", *args)

    def refresh_keys(self) -> None:
        return self._call("refresh_keys")

    def flush_token_cache(self) -> None:
        return self.native.flush_token_cache()

    @property
    def cached_tokens(self) -> int:
        return self.native.cached_tokens


AnyValidator = Union[runbeam.Validator, AwaitedValidator]
MakeValidator = Callable[..., AnyValidator]


VALIDATORS = ["Validator", "AsyncValidator"]


def validator_of(kind: str, **options: Any) -> AnyValidator:
    """A ``runbeam.Validator`` or (``kind`` ``"AsyncValidator"``) an awaited
    ``runbeam.AsyncValidator`` built with ``options``."""
    if kind == "Validator":
        return runbeam.Validator(**options)
    return AwaitedValidator(runbeam.AsyncValidator(**options))


@pytest.fixture(params=VALIDATORS)
def make(request: pytest.FixtureRequest, cloud: Cloud) -> MakeValidator:
    """``make(**options)``: a validator of the parametrized class trusting the devcloud."""

    def build(**options: Any) -> AnyValidator:
        options.setdefault("trusted_issuers", [issuer(cloud)])
        return validator_of(request.param, **options)

    return build


def refused(
    validator: AnyValidator, token: str, error: Type[runbeam.RunbeamError], *fragments: str
) -> runbeam.RunbeamError:
    """Asserts ``validate(token)`` raises exactly ``error`` whose message has every fragment
    and never the token."""
    with pytest.raises(runbeam.RunbeamError) as info:
        validator.validate(token)
    err = info.value
    assert type(err) is error, f"{type(err).__name__}: {err}"
    for fragment in fragments:
        assert fragment in str(err), str(err)
    assert_no_token(err, token)
    return err


def assert_no_token(err: BaseException, token: str) -> None:
    signature = token.rsplit(".", 1)[-1]
    for text in (str(err), repr(err), *map(str, err.args)):
        assert len(token) < 8 or token not in text
        # Not even the signature alone (the part that makes a token usable).
        assert len(signature) < 8 or signature not in text


# --- a genuine token --------------------------------------------------------------------------


def test_a_genuine_user_jwt_gives_typed_claims(cloud: Cloud, make: MakeValidator):
    token = mint(cloud, claims={"scope": "gateways", "roles": ["admin", "viewer"], "n": 3})
    claims = make().validate(token)
    assert isinstance(claims, runbeam.Claims)
    assert claims.iss == issuer(cloud)
    now = time.time()
    assert now - 120 < claims.iat <= now + 5
    assert claims.nbf == claims.iat
    assert claims.exp == claims.iat + 3600
    assert claims.aud is None
    assert isinstance(claims.jti, str) and claims.jti
    assert isinstance(claims.user, runbeam.TokenUser)
    assert claims.user.email == ALICE_EMAIL
    assert claims.sub == claims.user.id
    assert claims.user.name
    assert isinstance(claims.team, runbeam.TokenTeam)
    assert claims.team.name == "Radiology Department"
    assert claims.team.id
    # Printed as Python values, as a user reading a log expects (not Rust's Some("...")).
    assert repr(claims.user) == (
        f"TokenUser(id={claims.user.id!r}, email={ALICE_EMAIL!r}, name={claims.user.name!r})"
    )
    assert repr(claims.team) == f"TokenTeam(id={claims.team.id!r}, name='Radiology Department')"
    assert "Some(" not in repr(claims.user) + repr(claims.team)
    # The Cloud it came from, for a Client.
    assert claims.api_base_url() == cloud.url.rstrip("/")
    assert runbeam.Client(claims.api_base_url()).api_root == runbeam.Client(cloud.url).api_root
    # Custom claims, any JSON type.
    assert claims.get("scope") == "gateways"
    assert claims.get("roles") == ["admin", "viewer"]
    assert claims.get("n") == 3
    assert claims.get("absent") is None
    assert claims.get("absent", "fallback") == "fallback"
    as_dict = claims.to_dict()
    assert as_dict == json.loads(claims.json)
    assert as_dict["user"]["email"] == ALICE_EMAIL
    as_dict["scope"] = "changed"  # a copy
    assert claims.get("scope") == "gateways"
    # The payload exactly as carried.
    assert claims.json == base64.urlsafe_b64decode(parts(token)[1] + "==").decode()
    # Claims are not secret: repr shows them; the token is not in it.
    assert ALICE_EMAIL in repr(claims) and "gateways" in repr(claims)
    assert parts(token)[2] not in repr(claims)
    assert ALICE_EMAIL in repr(claims.user) and "Radiology" in repr(claims.team)


def test_audience_is_a_string_or_a_list(cloud: Cloud, make: MakeValidator):
    validator = make()
    assert validator.validate(mint(cloud, claims={"aud": "one"})).aud == "one"
    assert validator.validate(mint(cloud, claims={"aud": ["a", "b"]})).aud == ["a", "b"]


def test_a_repeated_token_is_cached_and_the_cache_can_be_flushed(cloud: Cloud, make: MakeValidator):
    validator = make()
    token = mint(cloud)
    first = validator.validate(token)
    # Claims are kept from a token's second verification on (one-off tokens hold no memory).
    assert validator.cached_tokens == 0
    again = validator.validate(token)
    assert again.jti == first.jti and validator.cached_tokens == 1
    assert validator.validate(token).jti == first.jti and validator.cached_tokens == 1
    validator.flush_token_cache()
    assert validator.cached_tokens == 0
    assert validator.validate(token).jti == first.jti
    assert validator.validate(token).jti == first.jti
    assert validator.cached_tokens == 1
    # A cache that is off stays empty.
    off = make(cache_capacity=0)
    off.validate(token)
    off.validate(token)
    assert off.cached_tokens == 0


def test_keys_are_fetched_once_and_refresh_keys_prefetches(cloud: Cloud, make: MakeValidator):
    tokens = [mint(cloud) for _ in range(3)]
    validator = make()
    cloud.reset_counts()
    assert validator.refresh_keys() is None
    assert cloud.count(*JWKS) == 1
    for token in tokens:
        validator.validate(token)
    assert cloud.count(*JWKS) == 1, "validations with cached keys make no request"
    # Within the minimum refresh interval a second refresh makes no request either.
    validator.refresh_keys()
    assert cloud.count(*JWKS) == 1


def test_a_rotated_key_is_fetched_for_its_new_kid(cloud: Cloud, make: MakeValidator):
    validator = make(min_refresh_interval=0)
    old = mint(cloud)
    validator.validate(old)
    cloud.dev_post("rotate-key", {})
    new = mint(cloud)
    assert unb64(parts(new)[0])["kid"] != unb64(parts(old)[0])["kid"]
    cloud.reset_counts()
    assert validator.validate(new).user.email == ALICE_EMAIL
    assert cloud.count(*JWKS) == 1


# --- forgeries and confusion ------------------------------------------------------------------


def test_unsigned_token_is_refused(cloud: Cloud, make: MakeValidator):
    header, payload, _ = parts(mint(cloud))
    kid = unb64(header)["kid"]
    validator = make()
    for alg in ("none", "None", "NONE"):
        forged = f"{b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{payload}."
        refused(validator, forged, runbeam.JwtInvalidError)
    # Also with a (garbage) signature present.
    forged = f"{b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{payload}.AAAA"
    refused(validator, forged, runbeam.JwtInvalidError)


def test_hs256_with_the_public_key_as_secret_is_refused(cloud: Cloud, make: MakeValidator):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    header, payload, _ = parts(mint(cloud))
    kid = unb64(header)["kid"]
    jwk = next(k for k in runbeam.Client(cloud.url).jwks()["keys"] if k["kid"] == kid)
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big")
    e = int.from_bytes(base64.urlsafe_b64decode(jwk["e"] + "=="), "big")
    pem = (
        RSAPublicNumbers(e, n)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    validator = make()
    for secret in (pem, json.dumps(jwk).encode()):
        for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
            signing_input = f"{b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{payload}"
            tag = hmac.new(secret, signing_input.encode(), digest).digest()
            refused(validator, f"{signing_input}.{b64(tag)}", runbeam.JwtInvalidError)


def test_a_token_without_kid_is_refused(cloud: Cloud, make: MakeValidator):
    token = mint(cloud, header={"kid": None})
    assert "kid" not in unb64(parts(token)[0])
    refused(make(), token, runbeam.JwtInvalidError, "kid")


def test_an_unknown_kid_is_refused(cloud: Cloud, make: MakeValidator):
    token = mint(cloud, header={"kid": "no-such-key"})
    refused(make(min_refresh_interval=0), token, runbeam.JwtInvalidError)


def test_an_algorithm_not_allowed_is_refused(cloud: Cloud, make: MakeValidator):
    token = mint(cloud, alg="ES256")
    refused(make(), token, runbeam.JwtInvalidError, "ES256")
    claims = make(algorithms=["RS256", "ES256"]).validate(token)
    assert claims.user.email == ALICE_EMAIL


def test_tampered_payload_and_signature_are_refused(cloud: Cloud, make: MakeValidator):
    token = mint(cloud)
    header, payload, signature = parts(token)
    validator = make()
    claims = unb64(payload)
    claims["sub"] = "999"
    claims["user"]["email"] = "mallory@evil.example"
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    refused(validator, tampered, runbeam.JwtInvalidError, "signature")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    refused(validator, f"{header}.{payload}.{flipped}", runbeam.JwtInvalidError, "signature")
    refused(validator, f"{header}.{payload}.", runbeam.JwtInvalidError)
    refused(validator, f"{header}.{payload}", runbeam.JwtInvalidError)
    # The genuine token still passes: the refusals were about the changes.
    assert validator.validate(token).sub == unb64(payload)["sub"]


def test_a_token_over_16_kib_is_refused_before_parsing(cloud: Cloud, make: MakeValidator):
    token = mint(cloud, claims={"pad": "x" * 17000})
    assert len(token) > 16384
    cloud.reset_counts()
    refused(make(), token, runbeam.JwtInvalidError, "16384")
    assert cloud.count(*JWKS) == 0


def test_malformed_tokens_are_refused(cloud: Cloud, make: MakeValidator):
    validator = make()
    for bad in ("", "abc", "a.b.c", "a.b.c.d", "....", "Bearer x.y.z", "\u00e9.\u00e9.\u00e9"):
        refused(validator, bad, runbeam.JwtInvalidError)


# --- JWTs that used to panic in the core, or that are not JSON objects -------------------------


@pytest.mark.parametrize("alg", ["a€b", "€", "RS€", "RS256€"])
def test_a_multibyte_alg_is_jwt_invalid(cloud: Cloud, make: MakeValidator, alg: str):
    validator = make()
    validator.refresh_keys()
    # Signed by devcloud with that header member, as JSON text (UTF-8) ...
    token = mint(cloud, header={"alg": alg})
    refused(validator, token, runbeam.JwtInvalidError)
    # ... and with the character as a JSON escape.
    _, payload, signature = parts(token)
    escaped = json.dumps({"alg": alg, "typ": "JWT"}, ensure_ascii=True).encode()
    assert b"\\u20ac" in escaped
    refused(validator, f"{b64(escaped)}.{payload}.{signature}", runbeam.JwtInvalidError)


class OwnKeys:
    """An RSA key of our own and a JWKS server for it, so that a JSON-array header or payload
    can be properly signed (devcloud only signs JSON objects)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._sign = lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        numbers = key.public_key().public_numbers()

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
def own_keys() -> Iterator[OwnKeys]:
    keys = OwnKeys()
    yield keys
    keys.server.shutdown()
    keys.server.server_close()


@pytest.mark.parametrize("kind", VALIDATORS)
def test_a_json_array_header_or_payload_is_jwt_invalid(own_keys: OwnKeys, kind: str):
    trusted = "https://issuer.example.com/api"
    validator = validator_of(
        kind, trusted_issuers=[trusted], jwks_url=own_keys.url, allow_insecure_http=True
    )
    header = {"alg": "RS256", "typ": "JWT", "kid": "own"}
    now = int(time.time())
    claims = {"iss": trusted, "sub": "1", "iat": now, "exp": now + 600}
    # The control: the same key and claims as an object are accepted.
    assert validator.validate(own_keys.token(header, claims)).sub == "1"
    for bad in (
        own_keys.token(header, [claims]),
        own_keys.token(header, []),
        own_keys.token([header], claims),
        own_keys.token([], claims),
    ):
        refused(validator, bad, runbeam.JwtInvalidError)


# --- issuers: untrusted costs no request, look-alikes are untrusted -------------------------------


def test_untrusted_and_look_alike_issuers_are_refused_without_a_request(
    cloud: Cloud, make: MakeValidator
):
    trusted = issuer(cloud)  # http://127.0.0.1:PORT/api
    authority = trusted[len("http://") : -len("/api")]
    host, port = authority.split(":")
    look_alikes = [
        "https://api.runbeam.io/api",
        f"http://{host}.evil.example:{port}/api",  # host prefix
        f"http://{authority}.evil.example/api",
        f"http://{authority}@evil.example/api",  # userinfo: the host is evil.example
        f"http://evil@{authority}/api",
        f"http://{host}:{int(port) + 1}/api",  # other port
        f"https://{authority}/api",  # https vs http
        f"http://{authority}/apix",
        f"http://{authority}/api/evil",
        f"http://{authority}",
    ]
    tokens = [(iss, mint(cloud, claims={"iss": iss})) for iss in look_alikes]
    no_iss = mint(cloud, claims={"iss": None})
    validator = make()
    cloud.reset_counts()
    for iss, token in tokens:
        refused(validator, token, runbeam.UntrustedIssuerError, "not trusted")
    refused(validator, no_iss, runbeam.UntrustedIssuerError)
    assert cloud.count(*JWKS) == 0, "no JWKS request for an untrusted issuer"
    # The trusted issuer written differently is still the trusted one.
    same = mint(cloud, claims={"iss": f"HTTP://{authority}/api/"})
    assert validator.validate(same).user.email == ALICE_EMAIL
    assert cloud.count(*JWKS) == 1


# --- time and claim rules ---------------------------------------------------------------------


def test_an_expired_token_is_refused_with_leeway(cloud: Cloud, make: MakeValidator):
    refused(make(), mint(cloud, ttl_secs=-3600), runbeam.JwtExpiredError, "expired")
    recent = mint(cloud, ttl_secs=-20)
    assert make().validate(recent).exp < time.time()  # within the default 60 s leeway
    refused(make(leeway=0), recent, runbeam.JwtExpiredError)


def test_a_token_not_yet_valid_is_refused(cloud: Cloud, make: MakeValidator):
    future = int(time.time()) + 3600
    refused(make(), mint(cloud, claims={"nbf": future}), runbeam.JwtInvalidError, "not valid before")
    refused(make(), mint(cloud, claims={"iat": future}), runbeam.JwtInvalidError, "future")


def test_a_token_without_exp_is_refused(cloud: Cloud, make: MakeValidator):
    refused(make(), mint(cloud, claims={"exp": None}), runbeam.JwtInvalidError, "exp")


def test_audiences_and_required_claims(cloud: Cloud, make: MakeValidator):
    validator = make(audiences=["my-gateway"], required_claims=["team", "scope"])
    good = mint(cloud, claims={"aud": ["other", "my-gateway"], "scope": "x"})
    assert validator.validate(good).aud == ["other", "my-gateway"]
    refused(validator, mint(cloud, claims={"aud": "other", "scope": "x"}), runbeam.JwtInvalidError, "audience")
    refused(validator, mint(cloud, claims={"scope": "x"}), runbeam.JwtInvalidError, "audience")
    refused(validator, mint(cloud, claims={"aud": "my-gateway"}), runbeam.JwtInvalidError, "scope")
    no_team = mint(cloud, claims={"aud": "my-gateway", "scope": "x", "team": None})
    refused(validator, no_team, runbeam.JwtInvalidError, "team")


# --- mesh tokens ------------------------------------------------------------------------------


def test_mesh_tokens_are_checked_for_mesh_and_destination(cloud: Cloud, make: MakeValidator):
    destination = f"{DICOM_URL}/studies"
    token = cloud.gateway(BOB, ANALYTICS_GW).mesh_token(MESH, destination).token
    validator = make()
    claims = validator.verify_mesh_token(token, MESH, f"{destination}/1.2.3")
    assert claims.aud == f"mesh:{MESH}"
    assert claims.get("mesh_id") == MESH
    assert claims.get("dest_url") == destination
    assert claims.sub and claims.sub.startswith("gateway:")
    assert validator.verify_mesh_token(token, MESH).jti == claims.jti
    assert validator.verify_mesh_token(token, MESH, destination).jti == claims.jti
    for mesh, dest in [
        ("other-mesh", f"{destination}/1"),
        ("other-mesh", None),
        (MESH, "https://evil.example.com/studies"),
        (MESH, f"{DICOM_URL}/studiesx"),
        (MESH, f"{DICOM_URL}/"),
        (MESH, DICOM_URL.replace("https://", "http://") + "/studies"),
    ]:
        with pytest.raises(runbeam.JwtInvalidError) as info:
            validator.verify_mesh_token(token, mesh, dest)
        assert_no_token(info.value, token)
    with pytest.raises(runbeam.InvalidArgumentError):
        validator.verify_mesh_token(token, MESH, "not a url")
    # A user JWT is not a mesh token.
    with pytest.raises(runbeam.JwtInvalidError) as info:
        validator.verify_mesh_token(mint(cloud), MESH)
    assert "mesh" in str(info.value)


def test_verify_mesh_token_fetches_keys_on_first_use(cloud: Cloud, make: MakeValidator):
    token = cloud.gateway(BOB, ANALYTICS_GW).mesh_token(MESH, f"{DICOM_URL}/studies").token
    validator = make()
    cloud.reset_counts()
    assert validator.verify_mesh_token(token, MESH).get("mesh_id") == MESH
    assert cloud.count(*JWKS) == 1


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [runbeam.Validator, runbeam.AsyncValidator])
def test_construction_is_checked(cls: Any):
    with pytest.raises(runbeam.InvalidArgumentError, match="trusted issuer"):
        cls()
    with pytest.raises(runbeam.InvalidArgumentError, match="never"):
        cls(trusted_issuers=["https://api.runbeam.io/api"], algorithms=["HS256"])
    with pytest.raises(runbeam.InvalidArgumentError, match="never"):
        cls(trusted_issuers=["https://api.runbeam.io/api"], algorithms=["none"])
    with pytest.raises(runbeam.InvalidArgumentError):
        cls(trusted_issuers=["https://api.runbeam.io/api"], algorithms=[])
    with pytest.raises(runbeam.InvalidArgumentError):
        cls(trusted_issuers=["http://api.runbeam.io/api"])  # plain http, not loopback
    cls(trusted_issuers=["http://api.runbeam.io/api"], allow_insecure_http=True)
    with pytest.raises(runbeam.InvalidArgumentError):
        cls(trusted_issuers=["https://api.runbeam.io/api"], leeway=-1)
    with pytest.raises(runbeam.InvalidArgumentError):
        cls(trusted_issuers=["https://api.runbeam.io/api"], jwks_ttl=0)
    with pytest.raises(runbeam.InvalidArgumentError):
        cls(trusted_issuers=["https://api.runbeam.io/api"], jwks_ttl=7200, max_stale=3600)
    with pytest.raises(TypeError):
        cls(trusted_issuers="https://api.runbeam.io/api")  # a str is not a list of issuers
    with pytest.raises(TypeError):
        cls(["https://api.runbeam.io/api"])  # keyword-only
    v = cls(
        trusted_issuers=["HTTPS://API.runbeam.io/api/"],
        jwks_url="https://keys.example.com/jwks.json",
        algorithms=["RS256", "ES256", "EdDSA"],
        audiences=["gw"],
        required_claims=["team"],
        leeway=0,
        jwks_ttl=60.5,
        min_refresh_interval=0,
        max_stale=120,
        cache_capacity=0,
        deadline=1.5,
    )
    assert v.trusted_issuers == ["https://api.runbeam.io/api"]
    assert v.jwks_urls == ["https://keys.example.com/jwks.json"]
    assert "api.runbeam.io" in repr(v) and type(v).__name__ in repr(v)


def test_a_ca_bundle_must_be_pem(cloud: Cloud):
    with pytest.raises(runbeam.RunbeamError):
        runbeam.Validator(trusted_issuers=[issuer(cloud)], ca_bundle_pem=b"not a certificate")
    with pytest.raises(runbeam.RunbeamError):
        runbeam.Validator(trusted_issuers=[issuer(cloud)], ca_bundle_pem="not a certificate")


def test_unreachable_keys_raise_the_fetch_error(cloud: Cloud, make: MakeValidator):
    token = mint(cloud)
    validator = make(jwks_url="http://127.0.0.1:9/jwks.json", trusted_issuers=None, deadline=3)
    with pytest.raises((runbeam.TransportError, runbeam.RunbeamTimeoutError)) as info:
        validator.validate(token)
    assert_no_token(info.value, token)


def test_a_server_error_on_the_jwks_is_raised(cloud: Cloud, make: MakeValidator):
    token = mint(cloud)
    cloud.fault(path=JWKS[1], status=500, count=20)
    with pytest.raises(runbeam.ServerError):
        make(deadline=3).validate(token)


# --- the GIL and asyncio ----------------------------------------------------------------------


def test_the_gil_is_released_while_keys_are_fetched(cloud: Cloud):
    token = mint(cloud)
    cloud.fault(path=JWKS[1], latency_ms=600, count=1)
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
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
        validator.validate(token)
        progress = ticks - before
    finally:
        stop.set()
        thread.join()
    # 600 ms of fetching: with the GIL held the other thread could not tick at all.
    assert progress >= 10, progress


def test_async_validator_validates_concurrently_on_one_fetch(cloud: Cloud):
    tokens = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "count": 20})["tokens"]
    assert len(set(tokens)) == 20
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    cloud.reset_counts()

    async def main() -> None:
        results = await asyncio.gather(*(validator.validate(t) for t in tokens))
        assert all(c.user.email == ALICE_EMAIL for c in results)
        assert len({c.jti for c in results}) == 20
        # A token verified twice (the core caches it from its second verification): the
        # answer is an already completed future.
        await validator.validate(tokens[0])
        ready = validator.validate(tokens[0])
        assert isinstance(ready, asyncio.Future) and ready.done()
        assert (await ready).jti == results[0].jti
        # Anything else is checked on a runbeam thread, refusals too.
        with pytest.raises(runbeam.JwtInvalidError):
            await validator.validate("not.a.token")

    asyncio.run(main())
    assert cloud.count(*JWKS) == 1, "concurrent first uses share one fetch"


def test_async_validator_needs_a_running_loop(cloud: Cloud):
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    with pytest.raises(RuntimeError):
        validator.validate(mint(cloud))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_works_in_a_forked_child(cloud: Cloud):
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    token = mint(cloud)
    assert validator.validate(token).user.email == ALICE_EMAIL  # keys, pool and runtime exist
    cloud.reset_counts()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        signal.alarm(10)  # a hang kills the child (and fails the test) instead of the suite
        try:
            code = 0 if validator.validate(token).user.email == ALICE_EMAIL else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child rebuilt its validator (own pool, empty caches) and so fetched the keys; the
    # parent's validator still answers from its caches.
    assert cloud.count(*JWKS) == 1
    assert validator.validate(token).user.email == ALICE_EMAIL
    assert cloud.count(*JWKS) == 1


def test_validators_are_usable_from_many_threads(cloud: Cloud):
    tokens = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "count": 40})["tokens"]
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    seen: Dict[int, Optional[str]] = {}
    errors = []

    def work(i: int) -> None:
        try:
            seen[i] = validator.validate(tokens[i]).jti
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(seen.values())) == len(tokens)


# --- parse_bearer -----------------------------------------------------------------------------


def test_parse_bearer():
    assert runbeam.parse_bearer("Bearer abc.def.ghi") == "abc.def.ghi"
    assert runbeam.parse_bearer("bearer  abc") == "abc"
    assert runbeam.parse_bearer("  BEARER\tx.y.z ") == "x.y.z"
    for bad in ("", "Bearer", "Bearer   ", "Basic dXNlcjpwdw==", "Bearer a b", "Bearer a,b", "Token x"):
        with pytest.raises(runbeam.JwtInvalidError) as info:
            runbeam.parse_bearer(bad)
        assert "Bearer" in str(info.value)
        assert "dXNlcjpwdw" not in str(info.value)
    with pytest.raises(TypeError):
        runbeam.parse_bearer(None)  # type: ignore[arg-type]


def test_parse_bearer_then_validate(cloud: Cloud):
    token = mint(cloud)
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    assert validator.validate(runbeam.parse_bearer(f"Bearer {token}")).user.email == ALICE_EMAIL
