"""The per-key, per-group limiter: whole-second windows, Remaining-Req corrections, 429s, the shared registry."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter

import pytest

from tests.clocks import FakeClock
from upbit_cancel.ratelimit import Permit, RateLimiter, limiter_for
from upbit_cancel.remaining_req import RemainingReq, parse_remaining_req
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.rules import RateLimit

PER_SECOND = cancel_orders_by_ids.RATE_LIMIT.per_second if cancel_orders_by_ids.RATE_LIMIT else 30
GROUP = cancel_orders_by_ids.RATE_LIMIT.group if cancel_orders_by_ids.RATE_LIMIT else "default"


def make(clock: FakeClock, per_second: int | None = PER_SECOND) -> RateLimiter:
    return RateLimiter(GROUP, per_second, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)


def take(limiter: RateLimiter, count: int) -> list[Permit]:
    permits = []
    for _ in range(count):
        got = limiter.try_acquire()
        assert isinstance(got, Permit)
        permits.append(got)
    return permits


# -- Remaining-Req -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("group=default; min=1800; sec=29", RemainingReq("default", 29)),
        ("group=order-cancel-all; min=60; sec=0", RemainingReq("order-cancel-all", 0)),
        ("group=market_data;min=1;sec=7", RemainingReq("market_data", 7)),
        ("group=default; sec=3", RemainingReq("default", 3)),
    ],
)
def test_remaining_req_is_parsed_including_hyphenated_groups(header: str, expected: RemainingReq) -> None:
    assert parse_remaining_req(header) == expected


@pytest.mark.parametrize("header", [None, "", "garbage", "group=; sec=1", "group=default; min=1800", "sec=5"])
def test_unreadable_remaining_req_is_none(header: str | None) -> None:
    assert parse_remaining_req(header) is None


# -- windows ------------------------------------------------------------------------------------


def test_budget_per_whole_second_then_wait_for_the_boundary() -> None:
    clock = FakeClock(start=500.25)
    limiter = make(clock)
    permits = take(limiter, PER_SECOND)
    wait = limiter.try_acquire()
    assert wait == pytest.approx(0.75)
    for permit in permits:
        limiter.record(permit, None)  # answered: an answer alone gives nothing back in this window
    clock.now = 500.999
    assert isinstance(limiter.try_acquire(), float)
    clock.now = 501.0
    take(limiter, PER_SECOND)
    assert isinstance(limiter.try_acquire(), float)


def test_blocking_acquire_sleeps_exactly_to_the_next_boundary() -> None:
    clock = FakeClock(start=70.4)
    limiter = make(clock)
    for permit in take(limiter, PER_SECOND):
        limiter.record(permit, None)
    permit = limiter.acquire()
    assert permit is not None and permit.window == 71
    assert clock.slept == [pytest.approx(0.6)]


async def test_async_acquire_waits_without_blocking_and_respects_timeout() -> None:
    clock = FakeClock(start=70.4)
    limiter = make(clock)
    for permit in take(limiter, PER_SECOND):
        limiter.record(permit, None)
    assert await limiter.acquire_async(timeout=0.5) is None
    assert clock.slept == []
    permit = await limiter.acquire_async(timeout=0.7)
    assert permit is not None and permit.window == 71 and math.floor(clock.now) == 71


def test_acquire_gives_up_when_the_boundary_is_past_the_timeout() -> None:
    clock = FakeClock(start=70.1)
    limiter = make(clock)
    take(limiter, PER_SECOND)
    assert limiter.acquire(timeout=0.5) is None
    assert clock.now == 70.1


# -- what the exchange reports --------------------------------------------------------------------


def test_remaining_req_lowers_the_budget_of_the_same_window() -> None:
    clock = FakeClock()
    limiter = make(clock)
    (permit,) = take(limiter, 1)
    limiter.record(permit, RemainingReq(GROUP, 4))  # another process of the account spent the rest
    assert limiter.remaining == 4
    take(limiter, 4)
    assert isinstance(limiter.try_acquire(), float)
    assert limiter.last_remaining == RemainingReq(GROUP, 4)


def test_remaining_req_never_raises_the_budget_above_own_count() -> None:
    clock = FakeClock()
    limiter = make(clock)
    permits = take(limiter, 10)
    limiter.record(permits[0], RemainingReq(GROUP, PER_SECOND))
    assert limiter.remaining == PER_SECOND - 10


def test_in_flight_requests_are_taken_off_the_reported_remaining() -> None:
    clock = FakeClock()
    limiter = make(clock)
    permits = take(limiter, 5)
    # Answered first, but four more are still on their way and may not be in ``sec`` yet.
    limiter.record(permits[0], RemainingReq(GROUP, 20))
    assert limiter.in_flight == 4
    assert limiter.remaining == 16


def test_an_answer_from_an_earlier_window_does_not_touch_the_new_one() -> None:
    clock = FakeClock(start=10.9)
    limiter = make(clock)
    (permit,) = take(limiter, 1)
    clock.now = 11.05
    limiter.record(permit, RemainingReq(GROUP, 0))
    assert limiter.remaining == PER_SECOND
    assert limiter.last_remaining == RemainingReq(GROUP, 0)


def test_requests_in_flight_across_a_boundary_count_in_the_new_window() -> None:
    clock = FakeClock(start=10.99)
    limiter = make(clock)
    take(limiter, 3)
    clock.now = 11.0
    assert limiter.remaining == PER_SECOND - 3


def test_a_header_of_another_group_does_not_change_this_budget() -> None:
    clock = FakeClock()
    limiter = make(clock)
    (permit,) = take(limiter, 1)
    limiter.record(permit, RemainingReq("order-cancel-all", 0))
    assert limiter.remaining == PER_SECOND - 1


def test_429_spends_the_rest_of_the_window() -> None:
    clock = FakeClock(start=3.5)
    limiter = make(clock)
    (permit,) = take(limiter, 1)
    limiter.record(permit, None, rate_limited=True)
    assert limiter.try_acquire() == pytest.approx(0.5)
    clock.now = 4.0
    assert limiter.remaining == PER_SECOND


def test_cancelled_permit_is_given_back_once() -> None:
    clock = FakeClock()
    limiter = make(clock)
    (permit,) = take(limiter, 1)
    limiter.cancel(permit)
    limiter.cancel(permit)
    limiter.record(permit, RemainingReq(GROUP, 0))  # already closed: ignored
    assert limiter.remaining == PER_SECOND
    assert limiter.in_flight == 0


def test_without_a_spec_budget_only_the_exchange_paces() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=None)
    assert limiter.remaining is None
    permits = take(limiter, 100)
    for permit in permits[:-1]:
        limiter.record(permit, None)
    limiter.record(permits[-1], RemainingReq(GROUP, 2))
    assert limiter.remaining == 2


def test_per_second_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_second"):
        RateLimiter(GROUP, 0)


# -- the shared registry --------------------------------------------------------------------------


def test_one_limiter_per_key_and_group_read_from_the_spec() -> None:
    rate_limit = cancel_orders_by_ids.RATE_LIMIT
    assert rate_limit is not None
    first = limiter_for("key-a", rate_limit)
    assert first is limiter_for("key-a", rate_limit)
    assert first.group == rate_limit.group and first.per_second == rate_limit.per_second
    assert limiter_for("key-b", rate_limit) is not first
    assert limiter_for("key-a", RateLimit(group="order-cancel-all", per_second=1)) is not first


def test_registry_is_thread_safe() -> None:
    rate_limit = RateLimit(group=GROUP, per_second=PER_SECOND)
    seen: list[RateLimiter] = []
    barrier = threading.Barrier(16)

    def get() -> None:
        barrier.wait()
        seen.append(limiter_for("racing-key", rate_limit))

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(limiter) for limiter in seen}) == 1


def test_threads_and_asyncio_tasks_together_never_exceed_the_window_budget() -> None:
    """Real clock: 4 threads and 20 tasks take 2.5 seconds' worth of permits from one limiter."""
    per_second = 20
    limiter = RateLimiter(GROUP, per_second)
    taken: Counter[int] = Counter()
    lock = threading.Lock()
    total = int(per_second * 1.5)

    def note(permit: Permit | None) -> None:
        assert permit is not None
        with lock:
            taken[math.floor(time.time())] += 1
        limiter.record(permit, None)

    def thread_work() -> None:
        for _ in range(total // 6):
            note(limiter.acquire(timeout=5))

    async def task_work() -> None:
        note(await limiter.acquire_async(timeout=5))

    async def tasks() -> None:
        await asyncio.gather(*(task_work() for _ in range(total - 4 * (total // 6))))

    threads = [threading.Thread(target=thread_work) for _ in range(4)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    assert sum(taken.values()) == total
    assert max(taken.values()) <= per_second
