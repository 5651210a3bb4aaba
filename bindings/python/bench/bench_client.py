"""Per-call overhead of runbeam.Client (sync) and runbeam.AsyncClient against runbeam-devcloud,
versus a bare keep-alive http.client GET + json.loads of the same request, in the same run.

    make python-bench      (or: RUNBEAM_DEVCLOUD=path python bindings/python/bench/bench_client.py)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import time
from urllib.parse import quote, urlparse

import runbeam
from _common import devcloud_binary

ROUNDS, CALLS = 11, 200
REF = "runbeam.radiology-dept.ingress.name.dicomweb"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"


def per_call_us(fn) -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter() - start) / CALLS * 1e6


def main() -> int:
    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = server.stdout.readline().strip()
        user = runbeam.Client(url, token=BOB)
        granted = user.authorize("analytics-gw-1")
        gateway = user.with_token(granted.machine_token)
        agateway = runbeam.AsyncClient(url, token=granted.machine_token)

        parsed = urlparse(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
        path = f"/api/harmony/resources/resolve?ref={quote(REF)}"
        headers = {"Authorization": f"Bearer {granted.machine_token}", "Accept": "application/json"}

        def bare() -> None:
            conn.request("GET", path, headers=headers)
            json.loads(conn.getresponse().read())

        def ours() -> None:
            gateway.resolve(REF)

        loop = asyncio.new_event_loop()

        async def resolve_async() -> None:
            await agateway.resolve(REF)

        def ours_async() -> None:
            loop.run_until_complete(resolve_async())

        rows = {"bare http.client + json.loads": [], "runbeam.Client.resolve": [],
                "runbeam.AsyncClient.resolve": []}
        for fn in (bare, ours, ours_async):
            fn()  # warm connections
        for _ in range(ROUNDS):  # interleaved so machine noise hits all alike
            rows["bare http.client + json.loads"].append(per_call_us(bare))
            rows["runbeam.Client.resolve"].append(per_call_us(ours))
            rows["runbeam.AsyncClient.resolve"].append(per_call_us(ours_async))
        loop.close()
        base = statistics.median(rows["bare http.client + json.loads"])
        print(f"resolve {REF} against runbeam-devcloud ({ROUNDS} rounds x {CALLS} calls, median)")
        for name, values in rows.items():
            median = statistics.median(values)
            print(f"  {name:32s} {median:8.1f} us/call  {median / base:5.2f}x")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
