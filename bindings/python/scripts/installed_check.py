"""Checks the `runbeam` package installed in the running interpreter, as a user has it: that it
comes from site-packages (not a source tree), ships its typing files, is a release build (no
fault-injection hook), has the version expected, and verifies JWTs (RS256 and ES256 signatures
through aws-lc) minted by a runbeam-devcloud, refusing a tampered one. Run by
tests/install/python.sh with the venv's python:

    python installed_check.py DEVCLOUD_URL EXPECTED_VERSION

Prints one "ok: ..." line per check; exit status 1 with "FAILED: ..." lines when any fails.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import runbeam
import runbeam._native as native

EMAIL = "alice@radiology.example.com"  # a seeded user of examples/devcloud/seed.toml
failures: list[str] = []


def check(condition: bool, what: str) -> None:
    if condition:
        print(f"ok: {what}")
    else:
        print(f"FAILED: {what}", file=sys.stderr)
        failures.append(what)


def mint(url: str, alg: str) -> str:
    request = urllib.request.Request(
        f"{url}/_dev/jwt",
        data=json.dumps({"email": EMAIL, "alg": alg}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.load(answer)["token"])


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("B" if signature[10] != "B" else "C")
    return ".".join((header, payload, signature[:10] + flipped + signature[11:]))


def main(url: str, version: str) -> int:
    package = Path(runbeam.__file__).parent
    check("site-packages" in package.parts, f"runbeam is imported from {package}")
    for name in ("py.typed", "_native.pyi", "resources.pyi"):
        check((package / name).is_file(), f"the installed package ships {name}")
    check(runbeam.__version__ == version, f"runbeam.__version__ is {runbeam.__version__!r}")
    check(not hasattr(native, "_fault_arm"), "release build: runbeam._native has no _fault_arm")

    validator = runbeam.Validator(
        trusted_issuers=[f"{url}/api"], algorithms=["RS256", "ES256"], allow_insecure_http=True
    )
    # Both minted first: the devcloud makes its EC key on the first ES256 token, and the
    # validator fetches the JWKS once (a refresh is rate-limited).
    tokens = {alg: mint(url, alg) for alg in ("RS256", "ES256")}
    for alg, token in tokens.items():
        try:
            claims = validator.validate(token)
            user = claims.get("user") or {}
            check(user.get("email") == EMAIL, f"{alg} token of the devcloud verified ({EMAIL})")
        except runbeam.RunbeamError as e:
            check(False, f"{alg} token of the devcloud verified: {e.kind}: {e}")
        try:
            validator.validate(tampered(token))
            check(False, f"{alg} token with a changed signature is refused")
        except runbeam.JwtInvalidError as e:
            check(True, f"{alg} token with a changed signature is refused ({e.kind})")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
