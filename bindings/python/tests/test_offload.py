"""Where a signature check runs (runbeam/src/offload.rs): off the GIL holder, same answers.

A token the core answers without a signature check (its ``needs_signature_check``: a token its
cache remembers, a refusal known at once) is answered on the calling thread with the GIL held;
any other check runs with the GIL released (``Validator``) or on a runbeam thread
(``AsyncValidator``, the awaitable completed on its loop). These tests prove that the routing
changes nothing a caller sees (answers, errors, cache, cancellation) and that other Python
code runs while checks are in flight. ``_native._set_verify_offload`` switches the routing
("auto", the default; "inline": every check with the GIL held; "always": cache hits routed off
too) so that every path is compared with the others. Tokens come from the devcloud.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import threading
import time
from typing import Any, Iterator, List, Tuple

import pytest

import runbeam
from runbeam import _native

from conftest import ALICE_EMAIL, Cloud

MODES = ("auto", "inline", "always")


@pytest.fixture(autouse=True)
def auto_mode() -> Iterator[None]:
    yield
    _native._set_verify_offload("auto")


def issuer(cloud: Cloud) -> str:
    return f"{cloud.url}/api"


def mint_many(cloud: Cloud, count: int, **extra: Any) -> List[str]:
    tokens = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "count": count, **extra})["tokens"]
    assert len(set(tokens)) == count
    return tokens


def jti(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def outcome(call: Any) -> Tuple[str, str]:
    """``("ok", claims json)`` or the exception's class and message (digits masked: an expiry
    message says how many seconds ago)."""
    try:
        claims = call()
    except runbeam.RunbeamError as e:
        return type(e).__name__, re.sub(r"\d+", "N", str(e))
    return "ok", claims.json


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


def test_every_form_and_route_gives_the_same_answer(cloud: Cloud):
    valid = cloud.dev_post("jwt", {"email": ALICE_EMAIL})["token"]
    cases = {
        "valid": valid,
        "expired": cloud.dev_post("jwt", {"email": ALICE_EMAIL, "ttl_secs": -3600})["token"],
        "garbage": "not.a.token",
        "tampered": tampered(valid),
    }
    expected = {}
    for capacity in (0, 100):
        for mode in MODES:
            _native._set_verify_offload(mode)
            sync = runbeam.Validator(trusted_issuers=[issuer(cloud)], cache_capacity=capacity)
            sync.refresh_keys()
            aio = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=capacity)

            async def answers(token: str) -> List[Tuple[str, str]]:
                await aio.refresh_keys()
                got = []
                for _ in range(2):  # the second time from the cache (when it is on)
                    got.append(outcome(lambda: sync.validate(token)))
                    got.append(outcome(lambda: sync.authenticate(f"Bearer {token}")))
                    got.append(outcome(lambda: sync.authenticate_cached(f"Bearer {token}")))
                    got.append(outcome(lambda: aio.authenticate_cached(f"Bearer {token}")))
                    for call in (
                        lambda: aio.validate(token),
                        lambda: aio.authenticate(f"Bearer {token}"),
                    ):
                        try:
                            claims = await call()
                            got.append(("ok", claims.json))
                        except runbeam.RunbeamError as e:
                            got.append((type(e).__name__, re.sub(r"\d+", "N", str(e))))
                return got

            for name, token in cases.items():
                got = asyncio.run(answers(token))
                assert len(set(got)) == 1, (capacity, mode, name, got)
                assert expected.setdefault(name, got[0]) == got[0], (capacity, mode, name)
    assert expected["valid"][0] == "ok"
    assert expected["expired"][0] == "JwtExpiredError"
    assert expected["garbage"][0] == "JwtInvalidError"
    assert expected["tampered"][0] == "JwtInvalidError"


def test_two_threads_validate_distinct_tokens_and_fill_the_cache(cloud: Cloud):
    tokens = mint_many(cloud, 400)
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    validator.refresh_keys()
    results: List[List[Tuple[str, str]]] = [[], []]

    def work(i: int) -> None:
        for t in tokens[i::2]:
            results[i].append((t, validator.validate(t).jti))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = results[0] + results[1]
    assert len(answered) == len(tokens)
    assert all(j == jti(t) for t, j in answered)
    stats = validator.stats()
    assert stats.verifications == len(tokens) and stats.cache_hits == 0
    # Verified with the GIL released, cached like any other (the core keeps a token from its
    # second verification on): the third pass only hits.
    assert all(validator.validate(t).jti == jti(t) for t in tokens)
    assert validator.cached_tokens == len(tokens)
    assert all(validator.validate(t).jti == jti(t) for t in tokens)
    stats = validator.stats()
    assert stats.verifications == 2 * len(tokens) and stats.cache_hits == len(tokens)


def test_many_asyncio_tasks_validate_distinct_tokens(cloud: Cloud):
    tokens = mint_many(cloud, 320)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])

    async def main() -> None:
        await validator.refresh_keys()

        async def task(share: List[str]) -> List[Tuple[str, str]]:
            return [(t, (await validator.validate(t)).jti) for t in share]

        shares = await asyncio.gather(*(task(tokens[i::64]) for i in range(64)))
        answered = [pair for share in shares for pair in share]
        assert len(answered) == len(tokens)
        assert all(j == jti(t) for t, j in answered)
        stats = validator.stats()
        assert stats.verifications == len(tokens) and stats.cache_hits == 0
        # Verified on runbeam threads and cached from the second verification on (the core's
        # rule): the third time every answer is already complete.
        second = [validator.validate(t) for t in tokens]
        assert not any(f.done() for f in second), "verified once: not a cache hit yet"
        await asyncio.gather(*second)
        assert validator.cached_tokens == len(tokens)
        again = [validator.validate(t) for t in tokens]
        assert all(f.done() for f in again)
        assert [f.result().jti for f in again] == [jti(t) for t in tokens]
        assert validator.stats().cache_hits == len(tokens)

    asyncio.run(main())


def test_flushing_the_cache_routes_checks_off_again(cloud: Cloud):
    tokens = mint_many(cloud, 8)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])

    async def main() -> None:
        await validator.refresh_keys()
        for _ in range(2):  # cached from the second verification on
            for t in tokens:
                await validator.validate(t)
        assert validator.validate(tokens[0]).done()
        validator.flush_token_cache()
        pending = validator.validate(tokens[0])
        assert not pending.done(), "a flushed token is checked again, off the loop"
        assert (await pending).jti == jti(tokens[0])

    asyncio.run(main())


def test_other_python_threads_run_during_signature_checks(cloud: Cloud):
    """With a switch interval far longer than the batch, a thread holding the GIL through the
    batch would keep the counting thread out of it entirely; the checks release it. The event
    loop's part is checked in two batches: with a coroutine ticking beside the checks (the loop
    runs other callbacks meanwhile), and alone (the loop waits for the answers without the GIL,
    so the counting thread runs; with the ticker ready to run, the loop never blocks and gives
    the GIL up only between two polls, a race the counting thread may lose)."""
    tokens = mint_many(cloud, 200)
    sync = runbeam.Validator(trusted_issuers=[issuer(cloud)], cache_capacity=0)
    sync.refresh_keys()
    aio = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=0)
    count = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1
            time.sleep(0)  # gives the GIL back at once, never holds it for a switch interval

    async def ticking_batch() -> int:
        await aio.refresh_keys()
        ticks = 0
        finished = False

        async def ticker() -> None:
            nonlocal ticks
            while not finished:
                ticks += 1
                await asyncio.sleep(0)

        ticking = asyncio.ensure_future(ticker())
        await asyncio.gather(*(aio.validate(t) for t in tokens))
        finished = True
        await ticking
        return ticks

    async def batch() -> int:
        await aio.refresh_keys()
        before = count[0]
        await asyncio.gather(*(aio.validate(t) for t in tokens))
        return count[0] - before

    spinner = threading.Thread(target=spin)
    interval = sys.getswitchinterval()
    spinner.start()
    try:
        sys.setswitchinterval(30.0)
        before = count[0]
        for t in tokens:
            sync.validate(t)
        assert count[0] > before, "a Python thread ran during Validator.validate's checks"
        assert asyncio.run(ticking_batch()) > 1, "the event loop ran other callbacks meanwhile"
        # A batch whose answers were all in before the loop first waited leaves the race to
        # chance too; a few batches give the counting thread a wait to run in.
        assert any(asyncio.run(batch()) > 0 for _ in range(5)), (
            "a Python thread ran during AsyncValidator's checks"
        )
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        spinner.join()


def test_cancelled_validations_leave_the_validator_clean(cloud: Cloud):
    tokens = mint_many(cloud, 64)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])

    async def main() -> None:
        await validator.refresh_keys()
        futures = [validator.validate(t) for t in tokens]
        for f in futures[::2]:
            f.cancel()
        done = await asyncio.gather(*futures, return_exceptions=True)
        for i, answer in enumerate(done):
            if i % 2 == 0:
                assert isinstance(answer, asyncio.CancelledError)
            else:
                assert answer.jti == jti(tokens[i])
        # Every token answers afterwards (a cancelled check may have been cached or not).
        for t in tokens:
            assert (await validator.validate(t)).jti == jti(t)

    asyncio.run(main())


def test_cancelling_while_keys_are_fetched_aborts_the_fetch(cloud: Cloud):
    token = cloud.dev_post("jwt", {"email": ALICE_EMAIL})["token"]
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    cloud.fault(path="/api/.well-known/jwks.json", latency_ms=3000, count=1)

    async def main() -> None:
        pending = validator.validate(token)
        await asyncio.sleep(0.2)  # the check found no keys and started the fetch
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        cloud.clear_faults()
        assert (await validator.validate(token)).jti == jti(token)

    asyncio.run(main())


def test_verify_mesh_token_refuses_alike_in_every_route(cloud: Cloud):
    """`verify_mesh_token` shares the routing: a refusal is the same whichever way it went."""
    answers = set()
    for mode in MODES:
        _native._set_verify_offload(mode)
        validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
        validator.refresh_keys()
        answers.add(outcome(lambda: validator.verify_mesh_token("not.a.token", "mesh-1")))
    assert len(answers) == 1 and next(iter(answers))[0] == "JwtInvalidError"


def test_what_the_core_answers_without_a_check_stays_on_the_loop(cloud: Cloud):
    """The core's `needs_signature_check` decides: a refusal known at once and a token its
    cache remembers (whichever form verified it) are already completed awaitables; a token
    seen once, or any token with the cache off, is checked off the loop."""
    token = mint_many(cloud, 1)[0]
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    uncached = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=0)

    async def main() -> None:
        await validator.refresh_keys()
        await uncached.refresh_keys()
        for refused in (validator.authenticate(None), validator.authenticate("Basic abc"),
                        validator.validate("x" * (64 * 1024))):
            assert refused.done(), "refused at once, on the loop"
            assert isinstance(refused.exception(), runbeam.RunbeamError)

        first = validator.validate(token)
        assert not first.done(), "a new token is checked off the loop"
        await first
        second = validator.authenticate(f"Bearer {token}")
        assert not second.done(), "the cache keeps a token from its second verification"
        await second
        for form in (validator.validate(token), validator.authenticate(f"bearer {token}")):
            assert form.done(), "remembered by the core, whichever form verified it"
            assert form.result().jti == jti(token)

        for _ in range(3):
            pending = uncached.validate(token)
            assert not pending.done(), "no cache: every check off the loop"
            assert (await pending).jti == jti(token)

    asyncio.run(main())


def test_the_resolver_asks_the_core_too():
    """`AsyncResolver`'s mesh-token checks: an unknown mesh and a missing header are refused at
    once; a token the mesh's verifier remembers is answered at once, by either form."""
    secret = 'jwt_secret = "lab-mesh-secret-of-at-least-32-bytes-0123456789"'
    mesh = f"""
[pipelines.p.mesh.egress.out]
mode = "mesh"

[pipelines.p.mesh.ingress.results]
urls = ["https://results.lab.example.com"]
mode = "mesh"

[mesh.lab]
type = "http"
provider = "local"
id = "lab-mesh"
egress = ["out"]
ingress = ["results"]
{secret}
"""
    config = runbeam.MeshConfig.from_toml(mesh)

    def make(cls: Any) -> Any:
        manager = runbeam.TokenManager("gw-1", runbeam.MemoryTokenStore(), "http://127.0.0.1:9")
        return cls(config, "http://127.0.0.1:9", manager)

    token = make(runbeam.Resolver).mesh_token("lab", "https://results.lab.example.com/in").token
    resolver = make(runbeam.AsyncResolver)

    async def main() -> None:
        for refused in (resolver.verify_mesh_token(token, "nowhere"),
                        resolver.verify_mesh_request(None, "lab")):
            assert refused.done(), "refused at once, on the loop"
            assert isinstance(refused.exception(), runbeam.RunbeamError)
        for _ in range(2):
            await resolver.verify_mesh_token(token, "lab")
        for form in (resolver.verify_mesh_token(token, "lab"),
                     resolver.verify_mesh_request(f"Bearer {token}", "lab")):
            assert form.done(), "remembered by the mesh's verifier"
            assert form.result().get("mesh_id") == "lab-mesh"

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------
# validate_many: a batch of tokens, one call (one awaitable on AsyncValidator).


def item(answer: Any) -> Tuple[str, str]:
    """A `validate_many` item as `outcome` sees a call: claims or a returned exception."""
    if isinstance(answer, runbeam.RunbeamError):
        return type(answer).__name__, re.sub(r"\d+", "N", str(answer))
    assert isinstance(answer, runbeam.Claims), answer
    return "ok", answer.json


def test_validate_many_answers_as_validate_one_by_one(cloud: Cloud):
    valid = mint_many(cloud, 40)
    expired = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "ttl_secs": -3600})["token"]
    batch = valid[:10] + [expired, "not.a.token", tampered(valid[0]), ""] + valid[10:] + [valid[3]]
    for capacity in (0, 100):
        for mode in MODES:
            _native._set_verify_offload(mode)
            one = runbeam.Validator(trusted_issuers=[issuer(cloud)], cache_capacity=capacity)
            one.refresh_keys()
            expected = [outcome(lambda t=t: one.validate(t)) for t in batch]
            sync = runbeam.Validator(trusted_issuers=[issuer(cloud)], cache_capacity=capacity)
            sync.refresh_keys()
            aio = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=capacity)

            async def batches() -> List[List[Tuple[str, str]]]:
                await aio.refresh_keys()
                return [[item(a) for a in await aio.validate_many(batch)] for _ in range(3)]

            for got in [[item(a) for a in sync.validate_many(batch)] for _ in range(3)]:
                assert got == expected, (capacity, mode)
            for got in asyncio.run(batches()):
                assert got == expected, (capacity, mode)
    assert [e[0] for e in expected[10:14]] == ["JwtExpiredError"] + ["JwtInvalidError"] * 3
    assert all(e[0] == "ok" for e in expected[:10] + expected[14:])


def test_validate_many_fills_and_uses_the_cache_like_validate(cloud: Cloud):
    tokens = mint_many(cloud, 200)
    for make in (runbeam.Validator, runbeam.AsyncValidator):
        validator = make(trusted_issuers=[issuer(cloud)])

        async def call(batch: List[str]) -> Any:
            answer = validator.validate_many(batch)
            return await answer if make is runbeam.AsyncValidator else answer

        async def main() -> None:
            # No keys yet: the batch fetches them, then checks every token.
            first = await call(tokens)
            assert [c.jti for c in first] == [jti(t) for t in tokens]
            stats = validator.stats()
            assert stats.verifications == len(tokens) and stats.cache_hits == 0
            await call(tokens)  # the core keeps a token from its second verification on
            assert validator.cached_tokens == len(tokens)
            if make is runbeam.AsyncValidator:
                # A batch the cache answers whole is answered at once, on the loop.
                assert validator.validate_many(tokens).done()
            third = await call(tokens)
            assert [c.jti for c in third] == [jti(t) for t in tokens]
            stats = validator.stats()
            assert stats.verifications == 2 * len(tokens)
            assert stats.cache_hits == len(tokens) * (2 if make is runbeam.AsyncValidator else 1)
            assert await call([]) == []

        asyncio.run(main())


def test_validate_many_refuses_what_is_not_a_list_of_str(cloud: Cloud):
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    aio = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    for bad in ("a.b.c", [b"a.b.c"], [1], None):
        with pytest.raises(TypeError):
            validator.validate_many(bad)  # type: ignore[arg-type]

        async def main(bad: Any = bad) -> None:
            with pytest.raises(TypeError):
                aio.validate_many(bad)

        asyncio.run(main())


def test_cancelling_validate_many_leaves_the_validator_clean(cloud: Cloud):
    tokens = mint_many(cloud, 400)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=0)

    async def main() -> None:
        await validator.refresh_keys()
        batches = [validator.validate_many(tokens[i::4]) for i in range(4)]
        batches[0].cancel()
        await asyncio.sleep(0)
        batches[1].cancel()
        done = await asyncio.gather(*batches, return_exceptions=True)
        assert isinstance(done[0], asyncio.CancelledError)
        assert isinstance(done[1], asyncio.CancelledError)
        for i in (2, 3):
            assert [c.jti for c in done[i]] == [jti(t) for t in tokens[i::4]]
        again = await validator.validate_many(tokens)
        assert [c.jti for c in again] == [jti(t) for t in tokens]

    asyncio.run(main())


def test_cancelling_validate_many_while_keys_are_fetched_aborts_the_fetch(cloud: Cloud):
    tokens = mint_many(cloud, 8)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    cloud.fault(path="/api/.well-known/jwks.json", latency_ms=3000, count=1)

    async def main() -> None:
        pending = validator.validate_many(tokens)
        await asyncio.sleep(0.2)  # the batch found no keys and started the fetch
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        cloud.clear_faults()
        assert [c.jti for c in await validator.validate_many(tokens)] == [jti(t) for t in tokens]

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------
# How a runbeam thread wakes the loop: a byte to a reader the loop watches, else
# call_soon_threadsafe.


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without add_reader (as a loop that cannot watch a file descriptor)."""

    def add_reader(self, *args: Any) -> None:  # type: ignore[override]
        raise NotImplementedError


def test_a_loop_without_add_reader_is_woken_by_call_soon_threadsafe(cloud: Cloud):
    tokens = mint_many(cloud, 64)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=0)
    loop = NoReaderLoop()

    async def main() -> None:
        await validator.refresh_keys()
        done = await asyncio.gather(*(validator.validate(t) for t in tokens))
        assert [c.jti for c in done] == [jti(t) for t in tokens]
        many = await validator.validate_many(tokens)
        assert [c.jti for c in many] == [jti(t) for t in tokens]

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_loops_taking_turns_on_one_thread_get_every_answer(cloud: Cloud):
    """A loop that runs again after another ran on the same thread: its answers, including
    those finished while the other loop ran, still arrive."""
    tokens = mint_many(cloud, 96)
    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)], cache_capacity=0)
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()

    async def checks(part: List[str]) -> List[str]:
        return [c.jti for c in await asyncio.gather(*(validator.validate(t) for t in part))]

    async def send_off(part: List[str]) -> List["asyncio.Task[str]"]:
        await validator.refresh_keys()
        tasks = [asyncio.ensure_future(_await(validator, t)) for t in part]
        await asyncio.sleep(0)  # the tasks start: their checks are sent off from `first`
        return tasks

    try:
        pending = first.run_until_complete(send_off(tokens[:32]))
        assert second.run_until_complete(checks(tokens[32:64])) == [jti(t) for t in tokens[32:64]]
        got = first.run_until_complete(asyncio.gather(*pending))
        assert got == [jti(t) for t in tokens[:32]]
        assert first.run_until_complete(checks(tokens[64:])) == [jti(t) for t in tokens[64:]]
    finally:
        first.close()
        second.close()


async def _await(validator: runbeam.AsyncValidator, token: str) -> str:
    return (await validator.validate(token)).jti
