"""Helpers shared by the benchmarks in this folder (not a benchmark itself).

The scripts are run as files (``python bindings/python/bench/<name>.py``), so this folder is
on ``sys.path`` and they ``import _common`` directly. jwt.py and throughput.py import it before
they take this folder off the path (so that ``import jwt`` there is PyJWT).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def devcloud_binary() -> str:
    """``$RUNBEAM_DEVCLOUD``, or the debug runbeam-devcloud in target/ of the repository."""
    default = ROOT / "target" / os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    return os.environ.get("RUNBEAM_DEVCLOUD", str(default / "debug" / "runbeam-devcloud"))


def post(url: str, body: dict) -> dict:
    """POSTs `body` as JSON to `url`, returns the JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def unb64(text: str) -> bytes:
    """Base64url without padding, decoded."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def distinct_tokens(url: str, email: str, n: int) -> tuple[list[str], dict]:
    """`n` distinct RS256 tokens minted by the devcloud at `url`, and the JWK that signed them
    (from its JWKS), for the peers' verifiers."""
    tokens: list[str] = post(f"{url}/_dev/jwt", {"email": email, "count": n})["tokens"]
    assert len(set(tokens)) == n, "tokens must be distinct"
    kid = json.loads(unb64(tokens[0].split(".")[0]))["kid"]
    with urllib.request.urlopen(f"{url}/api/.well-known/jwks.json", timeout=10) as r:
        jwk = next(k for k in json.loads(r.read())["keys"] if k["kid"] == kid)
    return tokens, jwk
