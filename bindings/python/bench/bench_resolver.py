"""A cache hit of runbeam.Resolver / runbeam.AsyncResolver versus what a gateway would write
instead, measured in the same run:

- ``Resolver.resolve`` and ``Resolver.resolve_cached`` of a cached reference (the answer is a
  new ``Resolution`` object each time; no I/O, no runtime hop, the GIL held);
- ``await AsyncResolver.resolve`` (an already completed asyncio future) inside a running loop;
- peers: ``dict.get`` of the reference returning a small cached object (a hand-rolled cache
  that checks nothing: no TTL, no mesh context); for the async row the same behind an
  ``async def``, and in a completed ``asyncio.Future`` made in Python (what an
  ``AsyncResolver`` hit returns); ``runbeam.Reference.parse`` of the same string.

The devcloud answers the one resolve that fills the cache.

    make python-bench
    (or: RUNBEAM_DEVCLOUD=path python bindings/python/bench/bench_resolver.py)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import timeit
from typing import Callable, Dict, List, NamedTuple, Tuple

import runbeam
from _common import ROOT, devcloud_binary

REF = "runbeam.radiology-dept.ingress.name.dicomweb"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"


class Cached(NamedTuple):
    urls: Tuple[str, ...]
    protocol: str
    mode: str


def sync_row(fn: Callable[[str], object]) -> Callable[[int], float]:
    # A compiled statement (no lambda layer): the loop overhead is the same for every row.
    timer = timeit.Timer("fn(text)", globals={"fn": fn, "text": REF})

    def run(number: int) -> float:
        return timer.timeit(number) / number * 1e9

    return run


def async_row(
    loop: asyncio.AbstractEventLoop, fn: Callable[[str], object]
) -> Callable[[int], float]:
    async def many(number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            await fn(REF)  # type: ignore[misc]
        return (time.perf_counter() - start) / number * 1e9

    def run(number: int) -> float:
        return loop.run_until_complete(many(number))

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
        aresolver = runbeam.AsyncResolver(config, cloud, manager)
        answer = resolver.resolve(REF)  # fills the cache (one request)
        loop = asyncio.new_event_loop()

        async def fill() -> runbeam.Resolution:
            return await aresolver.resolve(REF)  # its own cache: one more request

        loop.run_until_complete(fill())

        resource = answer.resource
        cache: Dict[str, Cached] = {
            REF: Cached(tuple(resource.urls), resource.protocol or "", resource.mode or "")
        }
        for i in range(16):
            cache[f"runbeam.team-{i}.ingress.name.api"] = cache[REF]

        async def peer_async(text: str) -> Cached:
            return cache[text]

        def peer_future(text: str) -> "asyncio.Future[Cached]":
            # What an AsyncResolver hit hands out, made in Python: a completed asyncio.Future.
            future = asyncio.get_running_loop().create_future()
            future.set_result(cache[text])
            return future

        rows: List[Tuple[str, Callable[[int], float]]] = [
            ("Resolver.resolve (hit)", sync_row(resolver.resolve)),
            ("Resolver.resolve_cached (hit)", sync_row(resolver.resolve_cached)),
            ("await AsyncResolver.resolve (hit)", async_row(loop, aresolver.resolve)),
            ("peer: dict.get -> NamedTuple", sync_row(cache.get)),
            ("peer: await async def dict lookup", async_row(loop, peer_async)),
            ("peer: await completed asyncio.Future", async_row(loop, peer_future)),
            ("peer: runbeam.Reference.parse", sync_row(runbeam.Reference.parse)),
        ]
        samples: Dict[str, List[float]] = {name: [] for name, _ in rows}
        for _, run in rows:
            run(1000)  # warm up
        for _ in range(args.repeat):  # interleaved: machine noise hits every row alike
            for name, run in rows:
                samples[name].append(run(args.number))
        stats = resolver.stats()
        astats = aresolver.stats()
        assert stats.upstream_requests == 1 and astats.upstream_requests == 1, (stats, astats)
        loop.close()

        base = statistics.median(samples["peer: dict.get -> NamedTuple"])
        print(f"Resolver cache hit of {REF!r}")
        print(
            f"Python {sys.version.split()[0]}, runbeam {runbeam.__version__}, "
            f"{args.repeat} repeats x {args.number} calls (median, min ns/call)"
        )
        print(f"{'':38} {'median':>8} {'min':>8} {'vs dict.get':>11}")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"{name:38} {median:8.1f} {min(values):8.1f} {median / base:10.2f}x")
        print(
            f"hits: Resolver {stats.hits}, AsyncResolver {astats.hits}; upstream requests: "
            f"{stats.upstream_requests} + {astats.upstream_requests} (the warm-ups)"
        )
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
