"""An async caller never waits on the budget store on its event loop, on asyncio and on trio.

The store here is a real redis-server behind a proxy that makes every command 20 ms late
(``tests/slow_redis.py``). A ticker task beside the limiter's caller sleeps 2 ms at a time and measures
how late it wakes: a store call made on the loop (or a lock held across one) shows as a tick 20 ms or
more late. On the code before these tests (``acquire_async`` and ``record`` asking Redis on the loop) the
worst tick (best of three runs) was 61 ms on asyncio and 43 ms on trio; now it is a few ms.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import anyio
import pytest
import redis
import sniffio

from tests.redis_support import redis_server, redis_url
from tests.slow_redis import slow_redis_url
from upbit_cancel.ratelimit import KeyBlocked, Permit, RateLimiter
from upbit_cancel.redis_connect import open_redis
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.store import Send, StoreWrite, TakeResult, on_event_loop

__all__ = ["redis_server", "redis_url", "slow_redis_url"]

GROUP = "default"
PER_SECOND = 30
TICK = 0.002
WORST_TICK = 0.015
"""Generous: a busy 2-core machine wakes a 2 ms sleep a few ms late; one store call on the loop costs 20+ ms."""

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])
"""Each async test runs its body with ``anyio.run`` on both backends. Not anyio's pytest plugin: this
repository's ``asyncio_mode = "auto"`` makes pytest-asyncio take every ``async def`` test, and it ran the
plugin's "trio" cases on asyncio (``sniffio.current_async_library()`` said so)."""


@pytest.fixture
def limiter_on() -> Iterator[Callable[[str], RateLimiter]]:
    """Limiters as processes of one pocket would have them, on the store at a URL (closed after the test)."""
    budgets: list[SharedBudget] = []

    def limiter(url: str) -> RateLimiter:
        budgets.append(SharedBudget(url, "pocket:off-loop", GROUP, PER_SECOND))
        limiter = RateLimiter(GROUP, PER_SECOND, reserve=0)
        limiter.use_store(budgets[-1])
        return limiter

    yield limiter
    for budget in budgets:
        budget.close()


async def worst_tick_beside(work: Callable[[], Awaitable[None]]) -> float:
    """How late (seconds) a task sleeping ``TICK`` at a time woke at worst while ``work`` ran beside it."""
    done, worst = anyio.Event(), 0.0

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            start = time.perf_counter()
            await anyio.sleep(TICK)
            worst = max(worst, time.perf_counter() - start - TICK)

    async def run_work() -> None:
        try:
            await work()
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        group.start_soon(run_work)
    return worst


@BACKENDS
def test_acquire_async_and_record_through_a_slow_redis_do_not_stall_the_event_loop(
    backend: str, slow_redis_url: str, limiter_on: Callable[[str], RateLimiter]
) -> None:
    async def body() -> None:
        assert sniffio.current_async_library() == backend
        limiter = limiter_on(slow_redis_url)
        sent = []

        async def send_ten() -> None:
            for left in range(PER_SECOND - 1, PER_SECOND - 11, -1):
                permit = await limiter.acquire_async(timeout=5)
                assert isinstance(permit, Permit) and permit.charged is not None  # charged in the store
                sent.append(permit)
                limiter.record(permit, RemainingReq(GROUP, left), date=time.time())
                await anyio.sleep(0.005)

        # The best of three runs: a noisy machine may stall any one tick, a call on the loop stalls every run.
        worst = min([await worst_tick_beside(send_ten) for _ in range(3)])
        assert len(sent) == 30
        assert worst <= WORST_TICK, f"the ticker woke {worst * 1000:.1f} ms late"

    anyio.run(body, backend=backend)


@BACKENDS
def test_a_418_recorded_on_the_loop_reaches_the_store_without_stalling_it(
    backend: str, slow_redis_url: str, limiter_on: Callable[[str], RateLimiter]
) -> None:
    async def body() -> None:
        limiter, other = limiter_on(slow_redis_url), limiter_on(slow_redis_url)

        async def block() -> None:
            limiter.block(60.0, "HTTP 418")

        assert await worst_tick_beside(block) <= WORST_TICK
        with anyio.fail_after(5):  # the writer thread tells the store within a few round trips
            while True:
                try:
                    await anyio.to_thread.run_sync(other.try_acquire)
                except KeyBlocked:
                    break
                await anyio.sleep(0.01)

    anyio.run(body, backend=backend)


@BACKENDS
def test_a_caller_cancelled_while_the_store_is_asked_gets_the_permit_to_give_back(
    backend: str, slow_redis_url: str, limiter_on: Callable[[str], RateLimiter]
) -> None:
    async def body() -> None:
        limiter = limiter_on(slow_redis_url)
        got: Permit | None = None
        with anyio.move_on_after(0.005) as scope:  # the store's answer takes 20 ms or more
            try:
                got = await limiter.acquire_async(timeout=5)
                await anyio.sleep(5)  # the send: where the cancellation lands
            finally:
                if got is not None:
                    limiter.cancel(got)
        assert scope.cancelled_caught and got is not None  # not lost in the worker thread
        assert limiter.in_flight == 0

    anyio.run(body, backend=backend)


def test_a_thread_asking_a_slow_store_does_not_hold_the_limiter_for_the_others(
    slow_redis_url: str, limiter_on: Callable[[str], RateLimiter]
) -> None:
    limiter = limiter_on(slow_redis_url)
    asking = threading.Thread(target=lambda: [limiter.try_acquire() for _ in range(10)])
    asking.start()
    longest = 0.0
    while asking.is_alive():
        start = time.perf_counter()
        limiter.blocked_until()  # takes the limiter's lock
        longest = max(longest, time.perf_counter() - start)
        time.sleep(0.001)
    asking.join()
    assert limiter.in_flight == 10
    assert longest <= WORST_TICK, f"the lock was held {longest * 1000:.1f} ms"


@BACKENDS
def test_acquire_async_waits_for_the_next_window_on_either_backend(backend: str) -> None:
    limiter = RateLimiter(GROUP, 1, reserve=0)  # one request a second, no store: the limiter's own sleep
    first = limiter.try_acquire()
    assert isinstance(first, Permit)
    limiter.record(first, RemainingReq(GROUP, 0))

    async def body() -> None:
        assert isinstance(await limiter.acquire_async(timeout=3), Permit)

    anyio.run(body, backend=backend)


def test_the_loop_is_told_apart_in_a_task_a_callback_and_trio_from_a_thread_or_no_loop() -> None:
    async def in_asyncio() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        in_callback: asyncio.Future[bool] = loop.create_future()
        loop.call_soon(lambda: in_callback.set_result(on_event_loop()))
        return on_event_loop(), await in_callback, await anyio.to_thread.run_sync(on_event_loop)

    async def in_trio() -> tuple[bool, bool]:
        return on_event_loop(), await anyio.to_thread.run_sync(on_event_loop)

    assert asyncio.run(in_asyncio()) == (True, True, False)
    assert anyio.run(in_trio, backend="trio") == (True, False)
    assert on_event_loop() is False


def test_on_asyncio_the_store_is_asked_on_the_loop_and_on_trio_from_a_worker_thread(
    redis_url: str, limiter_on: Callable[[str], RateLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncio: ``LoopBudget`` (no thread beside the loop to take the GIL from it); trio: the blocking client."""
    blocking_takes: list[str] = []
    take = SharedBudget.take

    def counted(self: SharedBudget, send: Send) -> TakeResult:
        blocking_takes.append(threading.current_thread().name)
        return take(self, send)

    monkeypatch.setattr(SharedBudget, "take", counted)

    async def body() -> None:
        limiter = limiter_on(redis_url)
        permit = await limiter.acquire_async(timeout=5)
        assert isinstance(permit, Permit) and permit.charged is not None  # charged in the store
        limiter.record(permit, RemainingReq(GROUP, PER_SECOND - 1), date=time.time())

    anyio.run(body, backend="asyncio")
    assert blocking_takes == []
    anyio.run(body, backend="trio")
    assert len(blocking_takes) == 1 and blocking_takes[0] != threading.main_thread().name


def test_on_asyncio_a_dated_answer_and_its_pooled_bounds_are_written_on_the_loop_in_order(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cold-start writes (settle then ``date``; ``pool_bounds`` then, once the pool pins the phase,
    ``save_phase``) are ``StoreWrite`` s the loop's writer task makes, in order: none through the blocking
    client."""
    blocking: list[str] = []
    for name in ("settle", "date", "pool_bounds", "save_phase"):
        monkeypatch.setattr(SharedBudget, name, counted_call(getattr(SharedBudget, name), blocking))
    budget = SharedBudget(redis_url, "pocket:cold-on-loop", GROUP, PER_SECOND)
    limiter = RateLimiter(GROUP, PER_SECOND, reserve=0)
    limiter.use_store(budget)
    client = open_redis(redis_url, timeout=2)
    seen: list[object] = []

    async def until(done: Callable[[], bool]) -> None:
        for _ in range(200):
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the loop's writer did not make the writes")

    async def body() -> None:
        permit = await limiter.acquire_async(timeout=5)
        assert isinstance(permit, Permit) and permit.charged is not None and not permit.charged[0]  # local seconds
        limiter.record(permit, RemainingReq(GROUP, PER_SECOND - 1), date=time.time())  # no phase stored: pending
        await until(lambda: client.hlen(budget.keys.dated) == 1 and client.get(budget.keys.bounds) is not None)
        calls = budget.on_loop()
        assert calls is not None
        then = StoreWrite(budget, 0.0, "save_phase", (0.4, 0.45), seen.append, seen.append)
        calls.submit([StoreWrite(budget, 0.0, "pool_bounds", (0.4, 0.45), seen.append, seen.append, lambda _: then)])
        await until(lambda: len(seen) == 2)

    try:
        client.flushall()
        anyio.run(body, backend="asyncio")
        assert blocking == []
        assert seen == [(0.4, 0.45), None] and budget.load_phase() == (0.4, 0.45)  # pooled, then stored
        assert client.hlen(budget.keys.dated) == 0  # the dated charge was pending; the stored phase moved it
    finally:
        client.close()
        budget.close()


def counted_call(method: Callable[..., object], calls: list[str]) -> Callable[..., object]:
    def counted(self: SharedBudget, *args: object) -> object:
        calls.append(method.__name__)
        return method(self, *args)

    return counted


def test_store_connections_blocking_or_on_the_loop_do_not_tell_the_server_their_library(redis_url: str) -> None:
    """redis-py >= 8 reads its version from the package metadata for each new connection to send it in
    ``CLIENT SETINFO`` (some 4 ms of CPU each); a cold process opens several at once, so neither client does.
    A server before 7.2 refuses the command (an error reply counted in its stats); a later one lists the
    library in ``CLIENT LIST``: either shows it was sent."""
    probe = open_redis(redis_url, timeout=2)

    def told() -> tuple[int, list[object]]:
        errors = int(probe.info("stats").get("total_error_replies", 0))
        return errors, [entry.get("lib-name") for entry in probe.client_list() if entry.get("lib-name")]

    blocking = open_redis(redis_url, timeout=2)
    try:
        probe.config_resetstat()
        blocking.ping()

        async def on_the_loop() -> None:
            client = open_redis(redis_url, timeout=2, on_loop=True)
            try:
                await client.ping()
                assert told() == (0, [])
            finally:
                await (getattr(client, "aclose", None) or client.close)()  # aclose: redis-py >= 5.0.1

        anyio.run(on_the_loop, backend="asyncio")
        assert told() == (0, [])
        default = redis.Redis.from_url(redis_url)  # the check can fail: redis-py's default does tell
        try:
            default.ping()
            assert told() != (0, [])
        finally:
            default.close()
    finally:
        blocking.close()
        probe.close()


def test_a_fresh_server_gets_each_script_whole_on_its_first_call_not_refused_then_loaded(redis_url: str) -> None:
    """A script's first call on a client sends its source (``EVAL``: one round trip); later ones its SHA1. Sent
    by SHA1 first, a server that never saw the script refused it (``NOSCRIPT``) and redis-py loaded it and sent it
    again: three round trips for each script of a cold process. A server that lost the scripts since (restarted,
    flushed) still gets them loaded again."""
    probe = open_redis(redis_url, timeout=2)
    budget = SharedBudget(redis_url, "pocket", "default", 30)
    send = Send(None, [100, 101])
    try:
        probe.script_flush()
        probe.config_resetstat()
        for _ in range(3):  # every take with its upkeep (``many``: at least the peers, ``redis_store.upkeep``)
            assert budget.take(send).taken

        async def on_the_loop() -> None:
            calls = budget.on_loop()
            assert calls is not None
            for _ in range(3):
                assert (await calls.take(send)).taken

        anyio.run(on_the_loop, backend="asyncio")
        stats = probe.info("commandstats")
        calls = {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha", "script|load")}
        # each client (blocking, then the loop's): ``many`` whole, then twice by SHA1
        assert calls == {"eval": 2, "evalsha": 4, "script|load": 0}
        probe.script_flush()  # as a restart would
        assert budget.take(send).taken
    finally:
        budget.close()
        probe.close()
