"""Meshes of the ``local`` provider from Python (docs/spec.md §3.3, §6): two gateways, each
with its own configuration and ``Resolver``, one issuing mesh tokens (private key or shared
secret), the other verifying them (public key or the same secret). No Cloud is involved: the
resolvers' client points at a closed port and their token managers have no token.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

import runbeam

RESULTS_URL = "https://results.lab.example.com"
INBOX = f"{RESULTS_URL}/inbox"
HS_SECRET = "lab-mesh-secret-of-at-least-32-bytes-0123456789"
NOWHERE = "http://127.0.0.1:9"


def sender_config(keys: str) -> runbeam.MeshConfig:
    return runbeam.MeshConfig.from_toml(f"""
[pipelines.research.mesh.egress.to-results]
mode = "mesh"

[mesh.lab]
type = "http"
provider = "local"
id = "lab-mesh"
egress = ["to-results"]
{keys}
""")


def receiver_config(keys: str, other_keys: str) -> runbeam.MeshConfig:
    return runbeam.MeshConfig.from_toml(f"""
[pipelines.results.mesh.ingress.results]
urls = ["{RESULTS_URL}"]
mode = "mesh"

[mesh.lab]
type = "http"
provider = "local"
id = "lab-mesh"
ingress = ["results"]
{keys}

[mesh.other]
type = "http"
provider = "local"
ingress = ["results"]
{other_keys}
""")


def offline(config: runbeam.MeshConfig, gateway: str, cls: Any = runbeam.Resolver) -> Any:
    manager = runbeam.TokenManager(gateway, runbeam.MemoryTokenStore(), NOWHERE)
    return cls(config, NOWHERE, manager)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """Two RSA key pairs made by openssl (the private keys 0600, as genpkey writes them), as
    TOML string literals of their paths."""
    directory = tmp_path_factory.mktemp("keys")
    paths: Dict[str, str] = {}
    for name in ("lab", "other"):
        private, public = directory / f"{name}.key", directory / f"{name}.pub"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(private)],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                       check=True, capture_output=True)
        assert os.stat(private).st_mode & 0o077 == 0
        paths[f"{name}_private"] = f'"{private}"'
        paths[f"{name}_public"] = f'"{public}"'
    return paths


def test_rs256_one_gateway_issues_the_other_verifies(keys: Dict[str, str]):
    sender = offline(sender_config(f"jwt_private_key_path = {keys['lab_private']}"),
                     "analytics-gw-1")
    receiver = offline(receiver_config(f"jwt_public_key_path = {keys['lab_public']}",
                                       f"jwt_public_key_path = {keys['other_public']}"),
                       "results-gw-1")
    issued = sender.mesh_token("lab", INBOX)
    assert issued.mesh == "lab" and issued.mesh_id == "lab-mesh"
    assert issued.token.count(".") == 2 and "token=<redacted>" in repr(issued)
    assert sender.mesh_token("lab", INBOX).token == issued.token, "reused"
    claims = receiver.verify_mesh_token(issued.token, "lab", f"{INBOX}/1")
    assert claims.iss == "local:lab-mesh" and claims.aud == "mesh:lab-mesh"
    assert claims.sub == "gateway:analytics-gw-1"
    assert claims.get("dest_url") == INBOX
    # Verified again from the cache, with no I/O at all.
    assert receiver.verify_mesh_token(issued.token, "lab").jti == claims.jti
    stats = sender.stats()
    assert stats.mesh_token_requests == 1 and stats.cached_mesh_tokens == 1

    # Refused: another mesh's key, a destination outside dest_url, a tampered token.
    with pytest.raises((runbeam.UntrustedIssuerError, runbeam.JwtInvalidError)):
        receiver.verify_mesh_token(issued.token, "other")
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_token(issued.token, "lab", "https://evil.example.com/inbox")
    header, payload, signature = issued.token.split(".")
    with pytest.raises(runbeam.JwtInvalidError):
        receiver.verify_mesh_token(f"{header}.{payload}.{signature[:-4]}AAAA", "lab")
    with pytest.raises(runbeam.NotInMeshError):
        receiver.verify_mesh_token(issued.token, "nowhere")
    # The receiver holds only a public key: it cannot issue.
    with pytest.raises(runbeam.ConfigError):
        receiver.mesh_token("lab", INBOX)


def test_hs256_with_a_shared_secret_and_the_async_resolver(keys: Dict[str, str]):
    import asyncio

    secret = f'jwt_secret = "{HS_SECRET}"'
    sender = offline(sender_config(secret), "analytics-gw-1", runbeam.AsyncResolver)
    receiver = offline(receiver_config(secret, f'jwt_secret = "{HS_SECRET[::-1]}"'),
                       "results-gw-1")

    async def issue() -> runbeam.IssuedMeshToken:
        return await sender.mesh_token("lab", INBOX)

    token = asyncio.run(issue()).token
    claims = receiver.verify_mesh_token(token, "lab", INBOX)
    assert claims.iss == "local:lab-mesh" and claims.get("mesh_id") == "lab-mesh"
    # The other mesh has another secret: refused.
    with pytest.raises((runbeam.UntrustedIssuerError, runbeam.JwtInvalidError)):
        receiver.verify_mesh_token(token, "other")


def test_a_private_key_readable_by_others_is_refused(keys: Dict[str, str], tmp_path: Path):
    loose = tmp_path / "loose.key"
    loose.write_bytes(Path(keys["lab_private"].strip('"')).read_bytes())
    loose.chmod(0o644)
    with pytest.raises(runbeam.ConfigError) as info:
        offline(sender_config(f'jwt_private_key_path = "{loose}"'), "analytics-gw-1")
    assert "mesh.lab.jwt_private_key_path" in str(info.value)
    assert "PRIVATE KEY" not in str(info.value)
