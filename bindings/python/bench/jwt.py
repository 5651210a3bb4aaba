"""JWT validation from Python: runbeam.Validator.validate vs PyJWT's jwt.decode, same run.

    make python-bench      (release module; or: python bindings/python/bench/jwt.py [--tokens N])

Tokens: N distinct RS256 user JWTs (default 10 000) minted at once by a runbeam-devcloud
subprocess (``POST /_dev/jwt`` with ``count``), plus one of them repeated.

- ours, distinct: each round builds a fresh ``Validator`` (trusted issuer = the devcloud),
  fetches its keys with ``refresh_keys()`` (not timed), then validates every token once: the
  verified-token cache never hits, so every call parses, verifies the signature and checks
  the claims.
- ours, repeated: one token validated N times by a validator that has seen it (cache hit:
  SHA-256 of the token, lookup, time claims re-checked).
- PyJWT: ``jwt.decode(token, key, algorithms=["RS256"], issuer=..., options={"require":
  ["exp", "iss"]})`` with the cryptography backend and the public key already loaded as an
  object (the JWKS fetch is not timed either): the same checks (signature, RS256 only, exp,
  nbf, iat, iss).
- floor: cryptography's bare RSA PKCS#1 v1.5 verify of the same tokens (no parsing, no
  claims): what any Python validator built on OpenSSL pays at least.
- The cached path (token cache lookup or one verify) holds the GIL by default; the
  "GIL released" rows measure the other choice, single-threaded and with 2 threads sharing
  the distinct tokens (what releasing it can give).

Rows are interleaved within each round so machine noise hits all alike; medians of the rounds,
microseconds per token, wall clock and process CPU time (on a loaded machine the CPU column is
the steadier one; for the 2-thread rows CPU > wall shows the threads ran in parallel).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from _common import devcloud_binary, distinct_tokens, unb64  # this folder: before it leaves the path

# This file is named jwt.py: keep its own folder off the path so that `import jwt` is PyJWT.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import jwt as pyjwt  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

import runbeam  # noqa: E402
from runbeam import _native  # noqa: E402

EMAIL = "alice@radiology.example.com"


def per_token_us(fn: Callable[[], None], n: int) -> Tuple[float, float]:
    """Wall-clock and process CPU microseconds per token. CPU time is what a loaded, shared
    machine distorts least; CPU / wall > 1 means threads really ran in parallel."""
    cpu, start = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall / n * 1e6, cpu / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    n = args.tokens

    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        issuer = f"{url}/api"
        tokens, jwk = distinct_tokens(url, EMAIL, n)
        repeated = tokens[0]

        # PyJWT's key: loaded once from the same JWKS, as an object.
        public_key = pyjwt.PyJWK(jwk, algorithm="RS256").key
        options = {"require": ["exp", "iss"]}

        def pyjwt_all() -> None:
            for t in tokens:
                pyjwt.decode(t, public_key, algorithms=["RS256"], issuer=issuer, options=options)

        split = [t.rsplit(".", 1) for t in tokens]
        split = [(s.encode(), unb64(sig)) for s, sig in split]
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def floor_all() -> None:
            for signing_input, sig in split:
                public_key.verify(sig, signing_input, pkcs1, sha256)

        def fresh() -> runbeam.Validator:
            v = runbeam.Validator(trusted_issuers=[issuer])
            v.refresh_keys()
            return v

        def ours_all(v: runbeam.Validator) -> Callable[[], None]:
            validate = v.validate

            def run() -> None:
                for t in tokens:
                    validate(t)

            return run

        def ours_two_threads(v: runbeam.Validator) -> Callable[[], None]:
            halves = [tokens[0::2], tokens[1::2]]

            def work(part: List[str]) -> None:
                validate = v.validate
                for t in part:
                    validate(t)

            def run() -> None:
                threads = [threading.Thread(target=work, args=(h,)) for h in halves]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            return run

        warm = fresh()
        warm.validate(repeated)

        def ours_repeated() -> None:
            validate = warm.validate
            for _ in range(n):
                validate(repeated)

        # Sanity: both sides accept every token with the same claims.
        check = fresh()
        for t in tokens[:50]:
            assert check.validate(t).jti == pyjwt.decode(
                t, public_key, algorithms=["RS256"], issuer=issuer, options=options
            )["jti"]

        rows: Dict[str, List[float]] = {}
        cpu_rows: Dict[str, List[float]] = {}

        def sample(name: str, fn: Callable[[], None]) -> None:
            wall, cpu = per_token_us(fn, n)
            rows.setdefault(name, []).append(wall)
            cpu_rows.setdefault(name, []).append(cpu)

        for _ in range(args.rounds):
            _native._set_verify_offload("inline")
            sample("runbeam Validator.validate, distinct tokens", ours_all(fresh()))
            sample("runbeam Validator.validate, repeated token", ours_repeated)
            sample("PyJWT jwt.decode (cryptography), distinct tokens", pyjwt_all)
            sample("floor: cryptography RSA verify only", floor_all)
            sample("runbeam, distinct, 2 threads (GIL held)", ours_two_threads(fresh()))
            _native._set_verify_offload("always")
            sample("runbeam, distinct, GIL released", ours_all(fresh()))
            sample("runbeam, repeated, GIL released", ours_repeated)
            sample("runbeam, distinct, 2 threads (GIL released)", ours_two_threads(fresh()))
        _native._set_verify_offload("auto")
    finally:
        server.terminate()
        server.wait()

    medians = {name: statistics.median(values) for name, values in rows.items()}
    ours = medians["runbeam Validator.validate, distinct tokens"]
    print(
        f"JWT validation, RS256, {n} distinct tokens + 1 repeated, {args.rounds} interleaved "
        f"rounds, median us/token (Python {sys.version.split()[0]}, PyJWT {pyjwt.__version__})"
    )
    print(f"  {'':52s} {'wall':>8s}     {'vs ours':>7s}  {'cpu':>8s}  [wall min..max]")
    for name, median in medians.items():
        spread = f"[{min(rows[name]):.2f}..{max(rows[name]):.2f}]"
        cpu = statistics.median(cpu_rows[name])
        print(f"  {name:52s} {median:8.2f} us  {median / ours:6.2f}x  {cpu:8.2f}  {spread}")
    peer = medians["PyJWT jwt.decode (cryptography), distinct tokens"]
    hit = medians["runbeam Validator.validate, repeated token"]
    print(f"  speed-up vs PyJWT, distinct tokens: {peer / ours:.2f}x (target >= 3x)")
    print(f"  repeated token vs distinct: {ours / hit:.1f}x faster (target >= 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
