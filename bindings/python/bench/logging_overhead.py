"""What librunbeam's logging costs the hot path: ``Validator.validate`` of a cached token and
``Resolver.resolve_cached`` of a cached reference, with

- logging off (the ``runbeam`` logger above CRITICAL: the core's level is off),
- a handler on ``runbeam`` at WARNING (the core delivers WARNING and above),
- a handler on ``runbeam`` at DEBUG (the core delivers DEBUG and above),

measured in the same run, the three interleaved in every repeat. The hot path logs nothing at
any of these levels, so a record below the core's level costs one atomic load at its call
site and nothing reaches Python: the figures should match. The handler counts what it gets,
and the script fails if a record arrived while the hot path was timed.

The devcloud mints the token and answers the one resolve that fills the cache.

    make python-bench
    (or: RUNBEAM_DEVCLOUD=path python bindings/python/bench/logging_overhead.py)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import timeit
from typing import Callable, Dict, List, Tuple

import runbeam
from _common import ROOT, devcloud_binary

REF = "runbeam.radiology-dept.ingress.name.dicomweb"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
ALICE_EMAIL = "alice@radiology.example.com"


class Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=1)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def row(fn: Callable[[str], object], arg: str) -> Callable[[int], float]:
    timer = timeit.Timer("fn(arg)", globals={"fn": fn, "arg": arg})

    def run(number: int) -> float:
        return timer.timeit(number) / number * 1e9

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=15, help="repeats (median reported)")
    args = parser.parse_args()

    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    logger = logging.getLogger("runbeam")
    handler = Counting()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        config = runbeam.MeshConfig.from_file(ROOT / "examples" / "config" / "ai-analytics.toml")
        config = config.with_provider_api("runbeam", url)
        cloud = runbeam.Client(url)
        manager = runbeam.TokenManager(
            "analytics-gw-1", runbeam.MemoryTokenStore(), cloud, credential=BOB
        )
        resolver = runbeam.Resolver(config, cloud, manager)
        resolver.resolve(REF)  # fills the cache (one request)
        token = _mint(url)
        validator = runbeam.Validator(trusted_issuers=[f"{url}/api"])
        for _ in range(3):  # fetch the keys, verify twice: the claims are cached from then on
            validator.validate(token)

        rows: List[Tuple[str, Callable[[int], float]]] = [
            ("Validator.validate (cached token)", row(validator.validate, token)),
            ("Resolver.resolve_cached (hit)", row(resolver.resolve_cached, REF)),
        ]
        settings: List[Tuple[str, int]] = [
            ("logging off", logging.CRITICAL + 10),
            ("handler at WARNING", logging.WARNING),
            ("handler at DEBUG", logging.DEBUG),
        ]
        samples: Dict[Tuple[str, str], List[float]] = {
            (name, setting): [] for name, _ in rows for setting, _ in settings
        }
        core_levels: Dict[str, object] = {}
        for _, run in rows:
            run(1000)  # warm up
        runbeam.flush_logs()
        before = handler.count
        for _ in range(args.repeat):  # interleaved: machine noise hits every setting alike
            for setting, level in settings:
                logger.setLevel(level)
                core_levels[setting] = runbeam._native._log_level()
                for name, run in rows:
                    samples[(name, setting)].append(run(args.number))
        runbeam.flush_logs()
        delivered = handler.count - before
        assert delivered == 0, f"{delivered} records on the hot path"
        assert validator.stats().cache_hits > args.number

        print("Hot path with librunbeam's logging off, and a `runbeam` handler at WARNING / DEBUG")
        print(
            f"Python {sys.version.split()[0]}, runbeam {runbeam.__version__}, "
            f"{args.repeat} repeats x {args.number} calls (ns/call: median, min, max)"
        )
        print(f"core levels: {core_levels}; records delivered while timed: {delivered}")
        print(f"{'':36} {'setting':20} {'median':>8} {'min':>8} {'max':>8} {'vs off':>7}")
        for name, _ in rows:
            base = statistics.median(samples[(name, 'logging off')])
            for setting, _ in settings:
                values = samples[(name, setting)]
                median = statistics.median(values)
                print(f"{name:36} {setting:20} {median:8.1f} {min(values):8.1f} "
                      f"{max(values):8.1f} {median / base:6.2f}x")
        return 0
    finally:
        logger.removeHandler(handler)
        server.terminate()
        server.wait(timeout=10)


def _mint(url: str) -> str:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{url}/_dev/jwt", data=json.dumps({"email": ALICE_EMAIL}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


if __name__ == "__main__":
    sys.exit(main())
