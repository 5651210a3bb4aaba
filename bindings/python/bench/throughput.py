"""Distinct-token validation on both cores: one at a time vs 2 threads vs asyncio with 64 tasks.

    make python-bench      (release module; or: python bindings/python/bench/throughput.py
                            [--tokens N] [--rounds R] [--quick])

Tokens: N distinct RS256 user JWTs (default 10 000) minted by a runbeam-devcloud subprocess
(``POST /_dev/jwt``); keys are fetched before timing (``refresh_keys()``), so every validation
is a signature check. Rows, each a whole pass over the N tokens, interleaved within a round:

- runbeam ``Validator.validate`` one at a time; 2 threads (each half the tokens);
  ``AsyncValidator.validate`` from 64 asyncio tasks (each awaiting its share one by one). Token
  cache off (``cache_capacity=0``) and on (default; flushed before each pass, so every token
  is verified and inserted). Routing ``auto`` (the default: a signature check leaves the GIL
  holder, see runbeam/src/offload.rs) and ``inline`` (``_native._set_verify_offload``: every
  check on the calling thread with the GIL held, the behaviour before).
- PyJWT ``jwt.decode`` and joserfc ``jwt.decode`` + ``JWTClaimsRegistry.validate`` (the same
  checks: RS256 only, signature, exp, iss; key object loaded once) in the same setups: one at
  a time, 2 threads, and 64 asyncio tasks calling the blocking decode in the task (``inline``)
  or through ``loop.run_in_executor`` with a 2-thread pool (``executor``).
- Loop lag: during each asyncio pass a callback scheduled every 1 ms records how late it ran;
  the median over rounds of each pass's p99 and max lateness.
- GIL: a pure-Python thread counting in a loop, its iterations per second alone (the main
  thread sleeping) and while the main thread validates the tokens one at a time (``% of
  alone``: how much of the GIL it still gets), with the validation's own rate beside it.
  Time-bounded passes (0.5 s: beside a busy thread a check may wait a whole switch interval for
  the GIL), at ``sys.setswitchinterval`` 5 ms (CPython's default), 1 ms and 0.2 ms.
- ``validate_many`` (``auto`` only): batches of 64 tokens, one awaitable each, from 1 task and
  from 4 tasks; and ``Validator.validate_many`` on batches of 64 from one thread.
- Cache hit: one repeated token, ``auto`` (answered with the GIL held) vs ``always``
  (``_set_verify_offload("always")``: the GIL released for the hit too); and the no-op hop:
  the repeated token from 64 asyncio tasks through the runtime (``always``): an awaited future
  completed from a runbeam thread with no signature to check — the per-await cost no
  verification change removes —, beside asyncio's own cost of an awaited answer (a future
  completed by ``call_soon``, no thread). The bound each implies for one future per token is
  printed after the table.

Medians over the rounds with min..max; ops/s and the ratio to the same library's one at a time;
the process CPU time per op (on a machine other jobs load, CPU per op is steadier than ops/s),
the event loop thread's own CPU per op (asyncio rows), and ``x bound``: the ratio to one at a
time that 2 idle cores would allow, (CPU per op one at a time) / max(CPU per op / 2, loop
thread CPU per op), shown where the serial part is known (asyncio rows; runbeam's 2 threads
with the GIL released for the check); the load average is printed before and after. The machine is shared (2 cores, other jobs):
read ratios within one run, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from _common import devcloud_binary, distinct_tokens  # this folder: before it leaves the path

# bench/jwt.py sits next to this file: keep this folder off the path so that `import jwt` is PyJWT.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import jwt as pyjwt  # noqa: E402
from joserfc import jwt as josejwt  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402

import runbeam  # noqa: E402
from runbeam import _native  # noqa: E402

EMAIL = "alice@radiology.example.com"
TASKS = 64
BATCH = 64
# sys.setswitchinterval values for the GIL rows: CPython's default (5 ms), then shorter.
SWITCH_INTERVALS = (0.005, 0.001, 0.0002)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# ------------------------------------------------------------------------------------------------
# The three setups, for any blocking `decode(token)` or awaitable `adecode(token)`.


def one_at_a_time(decode: Callable[[str], Any], tokens: List[str]) -> float:
    start = time.perf_counter()
    for t in tokens:
        decode(t)
    return time.perf_counter() - start


def two_threads(decode: Callable[[str], Any], tokens: List[str]) -> float:
    halves = [tokens[0::2], tokens[1::2]]
    barrier = threading.Barrier(3)

    def work(part: List[str]) -> None:
        barrier.wait()
        for t in part:
            decode(t)

    threads = [threading.Thread(target=work, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start


class Lag:
    """A callback every `period` seconds on the running loop, recording how late it ran."""

    def __init__(self, period: float = 0.001) -> None:
        self.period = period
        self.late: List[float] = []
        self.handle: Optional[asyncio.TimerHandle] = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.period

        def tick(due: float) -> None:
            now = loop.time()
            self.late.append(max(0.0, now - due))
            self.handle = loop.call_at(now + self.period, tick, now + self.period)

        self.handle = loop.call_at(due, tick, due)

    def stop(self) -> Tuple[float, float]:
        if self.handle is not None:
            self.handle.cancel()
        if not self.late:
            return 0.0, 0.0
        ordered = sorted(self.late)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return p99 * 1e3, ordered[-1] * 1e3


def tasks64(
    adecode: Callable[[str], Any], tokens: List[str]
) -> Tuple[float, float, float, float]:
    """Wall seconds for 64 tasks sharing the tokens; the loop lag's p99 and max (ms); the loop
    thread's own CPU seconds."""

    async def main() -> Tuple[float, float, float, float]:
        shares = [tokens[i::TASKS] for i in range(TASKS)]

        async def task(share: List[str]) -> None:
            for t in share:
                await adecode(t)

        lag = Lag()
        lag.start()
        start, cpu = time.perf_counter(), time.thread_time()
        await asyncio.gather(*(task(s) for s in shares))
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        p99, worst = lag.stop()
        return wall, p99, worst, cpu

    return asyncio.run(main())


def batches(
    amany: Callable[[List[str]], Any], tokens: List[str], k: int
) -> Tuple[float, float, float, float]:
    """`tasks64`'s figures for `k` tasks each awaiting `amany` (validate_many) on batches of
    BATCH tokens of its share, one after another."""

    async def main() -> Tuple[float, float, float, float]:
        shares = [tokens[i::k] for i in range(k)]

        async def task(share: List[str]) -> None:
            for i in range(0, len(share), BATCH):
                await amany(share[i : i + BATCH])

        lag = Lag()
        lag.start()
        start, cpu = time.perf_counter(), time.thread_time()
        await asyncio.gather(*(task(s) for s in shares))
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        p99, worst = lag.stop()
        return wall, p99, worst, cpu

    return asyncio.run(main())


def sync_batches(many: Callable[[List[str]], Any], tokens: List[str]) -> float:
    """Seconds for `many` (Validator.validate_many) on batches of BATCH tokens, one thread."""
    start = time.perf_counter()
    for i in range(0, len(tokens), BATCH):
        many(tokens[i : i + BATCH])
    return time.perf_counter() - start


def call_soon_future(token: str) -> "asyncio.Future[str]":
    """What asyncio itself costs a task per awaited answer: a future of the running loop,
    completed by a callback (no thread, no work)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, token)
    return future


class Counter:
    """A pure-Python thread counting in a loop (it never sleeps: it holds the GIL whenever it
    can get it)."""

    def __init__(self) -> None:
        self.count = [0]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.spin)

    def spin(self) -> None:
        count, stop = self.count, self.stop
        while not stop.is_set():
            count[0] += 1

    def __enter__(self) -> "Counter":
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()

    def rate_during(self, run: Callable[[], Any]) -> Tuple[float, float]:
        """The counter's iterations per second while `run()` runs on this thread, and the
        seconds it took."""
        c0, t0 = self.count[0], time.perf_counter()
        run()
        c1, t1 = self.count[0], time.perf_counter()
        return (c1 - c0) / (t1 - t0), t1 - t0


def validate_for(decode: Callable[[str], Any], tokens: List[str], seconds: float) -> int:
    """Validates `tokens` one at a time until `seconds` have passed (or all are done); how many
    it validated. Time-bounded: beside a busy thread a validation may wait a whole switch
    interval for the GIL after each check."""
    deadline = time.perf_counter() + seconds
    done = 0
    for t in tokens:
        decode(t)
        done += 1
        if done % 8 == 0 and time.perf_counter() >= deadline:
            break
    return done


def counter_share(
    decode: Callable[[str], Any], tokens: List[str], seconds: float = 0.5
) -> Tuple[float, float]:
    """A counting thread's rate while this thread validates `tokens` one at a time (for
    `seconds`), as % of its rate alone (measured just before and just after, this thread
    sleeping); and the validation's rate meanwhile (tokens/s)."""
    with Counter() as counter:
        before, _ = counter.rate_during(lambda: time.sleep(0.2))
        done = [0]

        def run() -> None:
            done[0] = validate_for(decode, tokens, seconds)

        during, wall = counter.rate_during(run)
        after, _ = counter.rate_during(lambda: time.sleep(0.2))
    return during / ((before + after) / 2) * 100.0, done[0] / wall


# ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="runbeam rows only")
    parser.add_argument("--gil-only", action="store_true",
                        help="only the GIL rows (a busy Python thread beside validation)")
    args = parser.parse_args()
    n = args.tokens
    load_before = load()
    default_interval = sys.getswitchinterval()

    server = subprocess.Popen(
        [devcloud_binary(), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    rows: Dict[str, List[float]] = {}
    cpu_rows: Dict[str, List[float]] = {}
    loop_rows: Dict[str, List[float]] = {}
    lags: Dict[str, List[Tuple[float, float]]] = {}
    gil: Dict[str, List[Tuple[float, float]]] = {}

    def record(name: str, seconds: float, cpu: float, ops: int = n) -> None:
        rows.setdefault(name, []).append(ops / seconds)
        cpu_rows.setdefault(name, []).append(cpu / ops * 1e6)

    def timed(name: str, run: Callable[[], Any], ops: int = n) -> Any:
        """Runs one pass; records its ops/s and the process CPU time per op."""
        cpu = time.process_time()
        out = run()
        cpu = time.process_time() - cpu
        wall = out[0] if isinstance(out, tuple) else out
        record(name, wall, cpu, ops)
        if isinstance(out, tuple):
            loop_rows.setdefault(name, []).append(out[3] / ops * 1e6)
        return out

    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        issuer = f"{url}/api"
        tokens, jwk = distinct_tokens(url, EMAIL, n)

        public_key = pyjwt.PyJWK(jwk, algorithm="RS256").key
        options = {"require": ["exp", "iss"]}
        jose_key = RSAKey.import_key(jwk)
        registry = josejwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer}, exp={"essential": True}
        )

        def pyjwt_decode(t: str) -> Any:
            return pyjwt.decode(t, public_key, algorithms=["RS256"], issuer=issuer, options=options)

        def jose_decode(t: str) -> Any:
            token = josejwt.decode(t, jose_key, algorithms=["RS256"])
            registry.validate(token.claims)
            return token.claims

        validators: Dict[str, runbeam.Validator] = {}
        async_validators: Dict[str, runbeam.AsyncValidator] = {}
        for cache, capacity in (("cache off", 0), ("cache on", 10_000)):
            v = runbeam.Validator(trusted_issuers=[issuer], cache_capacity=capacity)
            v.refresh_keys()
            validators[cache] = v
            av = runbeam.AsyncValidator(trusted_issuers=[issuer], cache_capacity=capacity)

            async def warm(av: runbeam.AsyncValidator = av) -> None:
                await av.refresh_keys()

            asyncio.run(warm())
            async_validators[cache] = av

        # Sanity: every library accepts the tokens with the same claims, every setup answers.
        for t in tokens[:20]:
            jti = validators["cache off"].validate(t).jti
            assert jti == pyjwt_decode(t)["jti"] == jose_decode(t)["jti"]
        assert [c.jti for c in validators["cache off"].validate_many(tokens[:20])] == [
            validators["cache off"].validate(t).jti for t in tokens[:20]
        ]

        executor = concurrent.futures.ThreadPoolExecutor(2)

        def in_executor(decode: Callable[[str], Any]) -> Callable[[str], Any]:
            def adecode(t: str) -> Any:
                return asyncio.get_running_loop().run_in_executor(executor, decode, t)

            return adecode

        def inline_async(decode: Callable[[str], Any]) -> Callable[[str], Any]:
            async def adecode(t: str) -> Any:
                return decode(t)

            return adecode

        repeated = tokens[0]
        hit_validator = runbeam.Validator(trusted_issuers=[issuer])
        hit_validator.refresh_keys()
        hit_validator.validate(repeated)

        def hits(k: int) -> float:
            validate = hit_validator.validate
            start = time.perf_counter()
            for _ in range(k):
                validate(repeated)
            return time.perf_counter() - start

        for _ in range(args.rounds):
            if not args.gil_only:
                for mode in ("auto", "inline"):
                    _native._set_verify_offload(mode)
                    for cache in ("cache off", "cache on"):
                        v, av = validators[cache], async_validators[cache]
                        name = f"runbeam {cache}, {mode}"
                        v.flush_token_cache()
                        timed(f"{name} | 1 at a time", lambda: one_at_a_time(v.validate, tokens))
                        v.flush_token_cache()
                        timed(f"{name} | 2 threads", lambda: two_threads(v.validate, tokens))
                        av.flush_token_cache()
                        _, p99, worst, _ = timed(
                            f"{name} | asyncio 64 tasks", lambda: tasks64(av.validate, tokens)
                        )
                        lags.setdefault(f"{name} | asyncio 64 tasks", []).append((p99, worst))
                        if mode != "auto":
                            continue
                        # validate_many: batches of 64 (one awaitable each), from 1 and 4 tasks.
                        for k in (1, 4):
                            av.flush_token_cache()
                            _, p99, worst, _ = timed(
                                f"{name} | validate_many 64, {k} task{'s' * (k > 1)}",
                                lambda k=k: batches(av.validate_many, tokens, k),
                            )
                            lags.setdefault(
                                f"{name} | validate_many 64, {k} task{'s' * (k > 1)}", []
                            ).append((p99, worst))
                        v.flush_token_cache()
                        timed(f"{name} | validate_many 64, sync",
                              lambda: sync_batches(v.validate_many, tokens))
                _native._set_verify_offload("auto")

                if not args.quick:
                    for lib, decode in (("PyJWT", pyjwt_decode), ("joserfc", jose_decode)):
                        timed(f"{lib} | 1 at a time", lambda: one_at_a_time(decode, tokens))
                        timed(f"{lib} | 2 threads", lambda: two_threads(decode, tokens))
                        for how, adecode in (
                            ("inline", inline_async(decode)),
                            ("executor", in_executor(decode)),
                        ):
                            _, p99, worst, _ = timed(
                                f"{lib} | asyncio 64 tasks, {how}", lambda: tasks64(adecode, tokens)
                            )
                            lags.setdefault(f"{lib} | asyncio 64 tasks, {how}", []).append((p99, worst))

            # The GIL: a counting thread's share while one thread validates (its rate alone
            # measured just before each case: the machine's load changes within a round).
            cases: List[Tuple[str, Callable[[str], Any], Optional[str]]] = [
                ("runbeam auto", validators["cache off"].validate, "auto"),
                ("runbeam inline", validators["cache off"].validate, "inline"),
            ]
            if not args.quick:
                cases += [("PyJWT", pyjwt_decode, None), ("joserfc", jose_decode, None)]
            for interval in SWITCH_INTERVALS:
                sys.setswitchinterval(interval)
                for name, decode, mode in cases:
                    if mode:
                        _native._set_verify_offload(mode)
                    label = f"{name}, switch interval {interval * 1e3:g} ms"
                    gil.setdefault(label, []).append(counter_share(decode, tokens))
                _native._set_verify_offload("auto")
            sys.setswitchinterval(default_interval)

            if args.gil_only:
                continue
            # A cache hit: answered with the GIL held (auto) or released (always); and through
            # the runtime from 64 tasks (always): what the hop and asyncio cost the loop.
            for mode in ("auto", "always"):
                _native._set_verify_offload(mode)
                timed(f"cache hit, repeated token, {mode} | 1 at a time", lambda: hits(n * 10),
                      ops=n * 10)
            hit_async = async_validators["cache on"]
            for _ in range(2):
                tasks64(hit_async.validate, [repeated] * TASKS)  # verified twice: cached
            _native._set_verify_offload("always")
            timed("no-op hop: hit via runtime (always) | asyncio 64 tasks",
                  lambda: tasks64(hit_async.validate, [repeated] * n))
            _native._set_verify_offload("auto")
            timed("asyncio alone: a future set by call_soon | asyncio 64 tasks",
                  lambda: tasks64(call_soon_future, tokens))
        executor.shutdown()
    finally:
        server.terminate()
        server.wait()

    def spread(values: List[float], scale: float = 1.0, fmt: str = "{:.0f}") -> str:
        return f"[{fmt.format(min(values) * scale)}..{fmt.format(max(values) * scale)}]"

    print(
        f"Distinct-token validation, RS256, {n} tokens, {args.rounds} interleaved rounds, "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}, PyJWT {pyjwt.__version__}, "
        f"joserfc {getattr(sys.modules.get('joserfc'), '__version__', '?')}; "
        f"load average before {load_before}, after {load()}"
    )
    print(f"  {'':44s} {'setup':28s} {'ops/s':>8s} {'[min..max]':>17s} {'x 1-at-a-time':>14s}"
          f" {'us/op':>7s} {'cpu us/op':>9s} {'loop cpu':>8s} {'x bound':>7s}"
          f"  loop lag p99 / max ms")
    base: Dict[str, float] = {}
    base_cpu: Dict[str, float] = {}
    for name, values in rows.items():
        who, setup = name.split(" | ")
        median = statistics.median(values)
        cpu = statistics.median(cpu_rows[name])
        if setup == "1 at a time":
            base[who], base_cpu[who] = median, cpu
        ratio = median / base[who] if who in base else float("nan")
        # On 2 idle cores a pass takes at least half its CPU time, and at least the loop
        # thread's own CPU time (one thread): the ratio that bound allows.
        # Shown where the serial part is known: the loop thread (asyncio rows), and runbeam's
        # 2 threads with the GIL released for the check (the GIL-held rest, ~1 us per call,
        # is left out); a library holding the GIL through its check has no such bound.
        loop_cpu = statistics.median(loop_rows[name]) if name in loop_rows else 0.0
        known = name in loop_rows or (setup == "2 threads" and who.endswith("auto"))
        floor = max(cpu / 2, loop_cpu)
        bound = base_cpu[who] / floor if known and who in base_cpu else float("nan")
        loop_text = f"{loop_cpu:8.2f}" if name in loop_rows else f"{'':8s}"
        lag = ""
        if name in lags:
            p99 = statistics.median(p for p, _ in lags[name])
            worst = statistics.median(w for _, w in lags[name])
            lag = f"{p99:6.2f} / {worst:6.2f}"
        print(
            f"  {who:44s} {setup:28s} {median:8.0f} {spread(values):>17s} {ratio:13.2f}x"
            f" {1e6 / median:7.2f} {cpu:9.2f} {loop_text} "
            f"{(f'{bound:6.2f}x' if bound == bound else ''):>7s}  {lag}"
        )
    print("  GIL: a pure-Python counting thread's rate while one thread validates the tokens"
          " one at a time (% of its rate alone), and the validation's rate meanwhile")
    for name, values in gil.items():
        shares = [s for s, _ in values]
        rates = [r for _, r in values]
        print(
            f"    {name:42s} counter {statistics.median(shares):5.1f} % {spread(shares):>12s}"
            f"   validation {statistics.median(rates):8.0f} ops/s {spread(rates):>17s}"
        )

    # What one awaited future per token allows, whatever the verification costs: a check's CPU
    # one at a time (C) plus the per-await cost (H) on 2 cores, and at least the loop's share.
    def med(table: Dict[str, List[float]], name: str) -> Optional[float]:
        return statistics.median(table[name]) if name in table else None

    check = base_cpu.get("runbeam cache off, auto")
    hit = med(cpu_rows, "cache hit, repeated token, auto | 1 at a time")
    for label, name, own in (
        ("no-op hop (a hit through the runtime, the hit's own CPU taken off)",
         "no-op hop: hit via runtime (always) | asyncio 64 tasks", hit),
        ("asyncio alone (a future set by call_soon)",
         "asyncio alone: a future set by call_soon | asyncio 64 tasks", 0.0),
    ):
        cpu, loop_cpu = med(cpu_rows, name), med(loop_rows, name)
        if check is None or cpu is None or loop_cpu is None or own is None:
            continue
        per_await = cpu - own
        bound = check / max((check + per_await) / 2, loop_cpu)
        print(f"  one awaited future per token, {label}: {per_await:.2f} us of CPU per await"
              f" ({loop_cpu:.2f} on the loop) -> at most {bound:.2f}x one at a time on 2 idle"
              f" cores (check {check:.2f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
