"""No secret is ever shown: ``repr()`` and ``str()`` of every object the Python surface returns
(results, tokens, claims, stores, managers, clients, validators, resolvers and the errors the
client raises), built with real values from devcloud, never contain a machine token, a mesh
token, a user JWT, a Sanctum token or an encryption key.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any, Iterable, List

import pytest

import runbeam
from conftest import (
    ALICE,
    ALICE_EMAIL,
    ANALYTICS_GW,
    BOB,
    DICOM_URL,
    DICOMWEB,
    EXAMPLES,
    MESH,
    RADIOLOGY_GW,
    Cloud,
)

DESTINATION = f"{DICOM_URL}/studies"


def shown(objects: Iterable[Any]) -> List[str]:
    """Every text a log line or a traceback could show of each object (and of its members)."""
    texts = []
    for obj in objects:
        texts += [repr(obj), str(obj), f"{obj!r}", f"{obj}"]
        if isinstance(obj, BaseException):
            texts += [repr(a) for a in obj.args] + [str(a) for a in obj.args]
    return texts


def caught(call: Any) -> runbeam.RunbeamError:
    with pytest.raises(runbeam.RunbeamError) as info:
        call()
    return info.value


def analytics_config(url: str) -> runbeam.MeshConfig:
    text = (EXAMPLES / "ai-analytics.toml").read_text(encoding="utf-8")
    return runbeam.MeshConfig.from_toml(
        text.replace('api = "https://api.runbeam.io"', f'api = "{url}"')
    )


def test_no_repr_or_str_shows_a_secret(cloud: Cloud, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RUNBEAM_MACHINE_TOKEN", raising=False)
    monkeypatch.delenv("RUNBEAM_ENCRYPTION_KEY", raising=False)
    objects: List[Any] = []
    secrets: List[str] = [ALICE, BOB]

    # Cloud client results.
    alice = runbeam.Client(cloud.url, token=ALICE)
    authorized = alice.authorize(RADIOLOGY_GW)
    secrets.append(authorized.machine_token)
    gateway = alice.with_token(authorized.machine_token)
    bob = runbeam.Client(cloud.url, token=BOB)
    bob_gateway = bob.with_token(bob.authorize(ANALYTICS_GW).machine_token)
    mesh_token = bob_gateway.mesh_token(MESH, DESTINATION)
    secrets.append(mesh_token.token)
    resolved = bob_gateway.resolve(DICOMWEB)
    objects += [alice, gateway, bob_gateway, authorized, mesh_token, resolved, resolved.resource]
    objects.append(runbeam.AsyncClient(cloud.url, token=authorized.machine_token))

    # Errors the client raises while it holds a token: a bad token, a missing resource.
    objects.append(caught(lambda: runbeam.Client(cloud.url, token=ALICE + "x").resolve(DICOMWEB)))
    objects.append(caught(lambda: gateway.get("gateways", "no-such-id")))
    objects.append(caught(lambda: bob_gateway.mesh_token("no-such-mesh", DESTINATION)))

    # A user JWT and its claims; a mesh token's claims.
    user_jwt = cloud.dev_post("jwt", {"email": ALICE_EMAIL})["token"]
    secrets.append(user_jwt)
    validator = runbeam.Validator(trusted_issuers=[f"{cloud.url}/api"])
    claims = validator.validate(user_jwt)
    mesh_claims = validator.verify_mesh_token(mesh_token.token, MESH)
    objects += [validator, runbeam.AsyncValidator(trusted_issuers=[f"{cloud.url}/api"])]
    objects += [claims, claims.user, claims.team, mesh_claims]
    objects.append(caught(lambda: validator.validate(user_jwt[:-4] + "AAAA")))
    objects.append(caught(lambda: validator.verify_mesh_token(mesh_token.token, "other-mesh")))

    # Stored tokens, stores (with their encryption key), managers.
    store = runbeam.FileTokenStore(tmp_path)
    manager = runbeam.TokenManager(RADIOLOGY_GW, store, cloud.url, credential=ALICE)
    machine = manager.ensure_token()
    secrets.append(machine.machine_token)
    user_token = runbeam.UserToken(ALICE, "2099-01-01 00:00:00", {"id": "1"})
    store.save_user_token(RADIOLOGY_GW, user_token)
    key_file = next(tmp_path.rglob("encryption.key"))
    key_text = key_file.read_text().strip()
    secrets.append(key_text)
    try:
        secrets.append(base64.b64decode(key_text).decode().strip())
    except ValueError:
        pass
    keyed = runbeam.FileTokenStore(tmp_path, key=key_text)
    objects += [store, keyed, runbeam.MemoryTokenStore(), manager, machine, user_token]
    objects += [store.load_machine_token(RADIOLOGY_GW), store.load_user_token(RADIOLOGY_GW)]
    objects.append(
        runbeam.AsyncTokenManager(RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url,
                                  credential=ALICE)
    )
    objects.append(caught(lambda: runbeam.FileTokenStore(tmp_path / "other", key=key_text + "x")))

    # Resolvers and what they return.
    analytics = runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url,
                                     credential=BOB)
    resolver = runbeam.Resolver(analytics_config(cloud.url), runbeam.Client(cloud.url), analytics)
    resolution = resolver.resolve(DICOMWEB)
    issued = resolver.mesh_token(MESH, DESTINATION)
    secrets.append(issued.token)
    objects += [resolver, resolution, resolution.resource, issued, issued.claims, resolver.stats()]
    objects.append(resolver.verify_mesh_token(issued.token, MESH))
    objects.append(caught(lambda: resolver.verify_mesh_token(issued.token[:-4] + "AAAA", MESH)))

    async def async_resolver() -> Any:
        manager = runbeam.AsyncTokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url,
                                            credential=BOB)
        r = runbeam.AsyncResolver(analytics_config(cloud.url), runbeam.Client(cloud.url), manager)
        return [r, await r.resolve(DICOMWEB), await r.mesh_token(MESH, DESTINATION)]

    objects += asyncio.run(async_resolver())

    secrets = [s for s in secrets if s]
    kinds = {type(o).__name__ for o in objects}
    assert kinds >= {
        "Client", "AsyncClient", "AuthorizeResult", "MeshTokenResult", "ResolveResult", "ResolvedResource",
        "Validator", "AsyncValidator", "Claims", "TokenUser", "TokenTeam", "FileTokenStore",
        "MemoryTokenStore", "TokenManager", "AsyncTokenManager", "MachineToken", "UserToken",
        "Resolver", "AsyncResolver", "Resolution", "IssuedMeshToken", "ResolverStats",
        "UnauthorizedError", "NotFoundError", "JwtInvalidError",
    }, kinds
    texts = shown(objects)
    for secret in secrets:
        # The whole secret, and for JWTs the signature alone (what makes a token usable).
        needles = [secret] + ([secret.rsplit(".", 1)[-1]] if secret.count(".") == 2 else [])
        for text in texts:
            for needle in needles:
                assert needle not in text, f"a secret is shown in {text[:60]!r}..."
