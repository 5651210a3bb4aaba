"""Soak test of the Python binding: 1,000,000 mixed calls in one process, watching memory and
counting unexpected errors.

The calls, in roughly equal shares and interleaved (one of each kind in turn):

- ``Validator.validate`` of a valid token already validated (the token cache);
- ``Validator.validate`` of invalid tokens: malformed, a multi-byte ``alg`` (``a€b``, signed by
  the devcloud), a wrong signature — each must raise ``JwtInvalidError``;
- ``Resolver.resolve_cached`` of a reference resolved once against the devcloud (a cache hit);
- ``Reference.parse`` of a valid reference, and of invalid ones (``InvalidReferenceError``).

Reported: RSS (``VmRSS`` of ``/proc/self/status``) after a warm-up of 10,000 calls, after
100,000 calls and at the end; the growth after warm-up in %; the number of unexpected errors
(any exception other than the one expected for that input, or a wrong answer), which must be 0
(the exit status is 1 otherwise); the total time.

Run it against a release build (the debug module is ~10x slower; restore it afterwards with
``make python-build``)::

    VIRTUAL_ENV=.venv CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu \\
        .venv/bin/maturin develop --release -m bindings/python/Cargo.toml
    RUNBEAM_DEVCLOUD=target/x86_64-unknown-linux-gnu/debug/runbeam-devcloud \\
        .venv/bin/python bindings/python/bench/soak.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from typing import Callable, List, Optional, Tuple, Type

import runbeam
from _common import ROOT, devcloud_binary

REF = "runbeam.radiology-dept.ingress.name.dicomweb"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
ALICE_EMAIL = "alice@radiology.example.com"
WARM_UP = 10_000
CHECKPOINT = 100_000


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def mint(url: str, **extra: object) -> str:
    request = urllib.request.Request(
        f"{url}/_dev/jwt",
        data=json.dumps({"email": ALICE_EMAIL, **extra}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


# A call, and the exception it must raise (None: it must answer, and `check` must hold).
Call = Tuple[str, Callable[[], object], Optional[Type[BaseException]], Callable[[object], bool]]


def calls(url: str) -> List[Call]:
    validator = runbeam.Validator(trusted_issuers=[f"{url}/api"])
    token = mint(url)
    validator.validate(token)
    validator.validate(token)  # from now on a token-cache hit
    bad_alg = mint(url, header={"alg": "a€b"})
    header, payload, signature = token.split(".")
    wrong_signature = f"{header}.{payload}.{signature[:-6]}AAAAAA"

    text = (ROOT / "examples" / "config" / "ai-analytics.toml").read_text(encoding="utf-8")
    config = runbeam.MeshConfig.from_toml(
        text.replace('api = "https://api.runbeam.io"', f'api = "{url}"\ncache_ttl_secs = 86400')
    )
    cloud = runbeam.Client(url)
    manager = runbeam.TokenManager("analytics-gw-1", runbeam.MemoryTokenStore(), cloud,
                                   credential=BOB)
    resolver = runbeam.Resolver(config, cloud, manager)
    resolver.resolve(REF)  # the one request that fills the cache

    email = lambda claims: claims.user.email == ALICE_EMAIL  # noqa: E731
    invalid = runbeam.JwtInvalidError
    bad_ref = runbeam.InvalidReferenceError
    anything = lambda _: True  # noqa: E731
    return [
        ("validate (cached)", lambda: validator.validate(token), None, email),
        ("validate malformed", lambda: validator.validate("not.a-jwt"), invalid, anything),
        ("resolve_cached", lambda: resolver.resolve_cached(REF), None,
         lambda r: r is not None and r.resource.name == "dicomweb"),
        ("parse valid", lambda: runbeam.Reference.parse(REF), None, lambda r: str(r) == REF),
        ("validate alg a€b", lambda: validator.validate(bad_alg), invalid, anything),
        ("validate wrong signature", lambda: validator.validate(wrong_signature), invalid,
         anything),
        ("resolve_cached", lambda: resolver.resolve_cached(REF), None,
         lambda r: r is not None and r.resource.name == "dicomweb"),
        ("parse invalid", lambda: runbeam.Reference.parse("runbeam..ingress.name.x"), bad_ref,
         anything),
        ("parse invalid", lambda: runbeam.Reference.parse("runbeam.a€.ingress.name.x"), bad_ref,
         anything),
    ]


def soak(mix: List[Call], total: int) -> int:
    unexpected = 0
    rss = {}
    started = time.perf_counter()
    n = len(mix)
    for i in range(total):
        name, call, expected, check = mix[i % n]
        try:
            answer = call()
        except BaseException as err:  # noqa: B902 - a PanicException would be a BaseException
            if expected is None or type(err) is not expected:
                unexpected += 1
                if unexpected <= 5:
                    print(f"unexpected {type(err).__name__} from {name}: {err}", file=sys.stderr)
        else:
            if expected is not None or not check(answer):
                unexpected += 1
                if unexpected <= 5:
                    print(f"unexpected answer from {name}: {answer!r}", file=sys.stderr)
        done = i + 1
        if done in (WARM_UP, CHECKPOINT, total):
            rss[done] = (rss_mib(), time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    start, at_100k, end = rss[WARM_UP][0], rss[CHECKPOINT][0], rss[total][0]
    print(f"calls: {total:,} ({n} kinds interleaved)")
    print(f"RSS after {WARM_UP:,} (warm-up): {start:.1f} MiB")
    print(f"RSS after {CHECKPOINT:,}: {at_100k:.1f} MiB")
    print(f"RSS at the end: {end:.1f} MiB")
    print(f"growth after warm-up: {(end - start) / start * 100:+.2f} %")
    print(f"unexpected errors: {unexpected}")
    print(f"total time: {elapsed:.1f} s ({elapsed / total * 1e6:.2f} µs per call)")
    return unexpected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.calls < CHECKPOINT:
        parser.error(f"--calls must be at least {CHECKPOINT}")
    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        unexpected = soak(calls(url), args.calls)
    finally:
        server.terminate()
        server.wait()
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
