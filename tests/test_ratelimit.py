"""The per-key, per-group limiter: the exchange's second learned from answers, 429s, 418 blocks, the registry."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.clocks import FakeClock
from tests.pacing_sim import SimClock, SimExchange, floor_time, run_batch
from upbit_cancel.ratelimit import (
    DEFAULT_BLOCK_SECONDS,
    KeyBlocked,
    Permit,
    RateLimiter,
    block_seconds,
    limiter_for,
)
from upbit_cancel.remaining_req import RemainingReq, parse_remaining_req
from upbit_cancel.window_log import BASE_MARGIN, PROBE_POLL, PROBE_WIDTH
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.rules import RateLimit

PER_SECOND = cancel_orders_by_ids.RATE_LIMIT.per_second if cancel_orders_by_ids.RATE_LIMIT else 30
GROUP = cancel_orders_by_ids.RATE_LIMIT.group if cancel_orders_by_ids.RATE_LIMIT else "default"


def make(clock: FakeClock, per_second: int | None = PER_SECOND, reserve: int | None = None) -> RateLimiter:
    return RateLimiter(
        GROUP, per_second, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, reserve=reserve
    )


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


# -- pacing while the exchange's phase is unknown ---------------------------------------------------


def test_without_knowing_the_phase_no_second_holds_more_than_the_budget() -> None:
    """Any one-second stretch of sends could be one exchange window: a sliding second is the safe rule."""
    clock = FakeClock(start=500.25)
    limiter = make(clock, reserve=0)
    permits = take(limiter, PER_SECOND)
    assert limiter.try_acquire() == pytest.approx(0.02)  # in flight: they count until answered
    for permit in permits:
        limiter.record(permit, None)  # answered without headers: nothing learned, nothing given back
    assert limiter.try_acquire() == pytest.approx(1.0)
    clock.now = 501.249
    assert isinstance(limiter.try_acquire(), float)
    clock.now = 501.25
    take(limiter, PER_SECOND)


def test_without_knowing_the_phase_the_reserve_is_trickled_not_spent_at_once() -> None:
    clock = FakeClock(start=500.25)
    limiter = make(clock)
    assert limiter.reserve == PER_SECOND // 3
    take(limiter, PER_SECOND - limiter.reserve)
    gap = 1.0 / limiter.reserve
    assert limiter.try_acquire() == pytest.approx(gap)
    clock.now += gap
    take(limiter, 1)
    assert limiter.try_acquire() == pytest.approx(gap)


def test_two_answers_whose_date_differs_pin_the_exchange_boundary_between_their_sends() -> None:
    clock = FakeClock(start=500.25)
    limiter = make(clock)
    first = take(limiter, 1)[0]
    limiter.record(first, RemainingReq(GROUP, PER_SECOND - 1), date=900.0)  # exchange clock ~400 s ahead
    assert not limiter.phase.known
    clock.now = 500.35
    second = take(limiter, 1)[0]
    limiter.record(second, RemainingReq(GROUP, PER_SECOND - 1), date=901.0)
    assert limiter.phase.known
    # The exchange's second 901 began between the two sends: 400.65 <= theta < 400.75.
    assert limiter.phase.lo == pytest.approx(400.65) and limiter.phase.hi == pytest.approx(400.75)


def test_remaining_req_jumping_back_up_shows_a_new_window_without_a_date_header() -> None:
    clock = FakeClock(start=500.25)
    limiter = make(clock, reserve=0)
    first = take(limiter, 1)[0]
    clock.now = 500.26
    limiter.record(first, RemainingReq(GROUP, 3))
    clock.now = 500.30
    second = take(limiter, 1)[0]
    clock.now = 500.31
    limiter.record(second, RemainingReq(GROUP, PER_SECOND - 1))
    assert limiter.phase.known
    assert limiter.phase.boundary_after(500.25, margin=0) == pytest.approx(500.31)


def test_a_known_phase_opens_a_whole_budget_at_the_boundary_and_not_before() -> None:
    clock = FakeClock(start=10.5)
    limiter = make(clock)
    limiter.phase.observe_date(10.0, 10.0, 100.0)
    limiter.phase.observe_date(10.1, 10.1, 101.0)  # the exchange's boundaries fall in (x.0, x.1] of our clock
    margin = BASE_MARGIN
    for permit in take(limiter, PER_SECOND):
        limiter.record(permit, None)
    wait = limiter.try_acquire()
    assert wait == pytest.approx(0.6 + margin)  # to 11.1, the latest the next window can open
    clock.sleep(wait)
    take(limiter, PER_SECOND)
    assert isinstance(limiter.try_acquire(), float)


def coarse_and_nearly_full(clock: FakeClock) -> RateLimiter:
    """Boundaries known to fall in (x.0, x.1] of our clock (0.1 s wide), and all but one send of the window taken."""
    limiter = make(clock)
    limiter.phase.observe_date(10.0, 10.0, 100.0)
    limiter.phase.observe_date(10.1, 10.1, 101.0)
    for permit in take(limiter, PER_SECOND - 1):
        limiter.record(permit, None)
    return limiter


def test_the_last_send_of_a_window_with_more_to_follow_probes_the_middle_of_the_next_boundary() -> None:
    clock = FakeClock(start=10.5)
    limiter = coarse_and_nearly_full(clock)
    wait = limiter.try_acquire(backlog=21)  # this one and 20 more: the next window is needed anyway
    assert wait == pytest.approx(11.05 - 10.5)  # the middle of (11.0, 11.1]
    clock.sleep(wait)
    probe = limiter.try_acquire(backlog=21)
    assert isinstance(probe, Permit)
    assert limiter.try_acquire(backlog=20) == pytest.approx(PROBE_POLL)  # followers look again while it is out
    clock.sleep(0.002)
    limiter.record(probe, RemainingReq(GROUP, PER_SECOND - 1), date=102.0)  # it landed in the new window
    assert limiter.phase.boundary_after(11.0, margin=0) == pytest.approx(11.052)  # the boundary: (11.0, 11.052]
    clock.sleep(0.006)
    assert isinstance(limiter.try_acquire(backlog=20), Permit)  # at 11.058, not at 11.1, the old latest boundary


@pytest.mark.parametrize(
    ("backlog", "why"),
    [(1, "nothing follows"), (PER_SECOND + 1, "the rest fill whole windows: holding one back would cost one")],
)
def test_the_last_send_of_a_window_goes_at_once_when_a_probe_could_cost_a_window(backlog: int, why: str) -> None:
    limiter = coarse_and_nearly_full(FakeClock(start=10.5))
    assert isinstance(limiter.try_acquire(backlog=backlog), Permit), why


def test_a_probe_is_not_held_past_the_callers_deadline() -> None:
    clock = FakeClock(start=10.5)
    limiter = coarse_and_nearly_full(clock)
    assert isinstance(limiter.acquire(timeout=0.1, backlog=5), Permit)  # not held to 11.05, nor refused
    assert clock.now == 10.5


def test_a_held_probe_goes_at_once_when_the_backlog_falls_to_one_while_it_waits() -> None:
    clock = FakeClock(start=10.5)
    limiter = coarse_and_nearly_full(clock)
    backlogs = iter([5, 1])
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.sleep(0.01)  # another worker took the other chunks meanwhile

    limiter._sleep = sleep
    assert isinstance(limiter.acquire(timeout=5, backlog=lambda: next(backlogs)), Permit)
    assert slept == [pytest.approx(0.55)] and clock.now == pytest.approx(10.51)  # not held to 11.05


def test_a_send_in_the_uncertain_band_counts_for_both_windows() -> None:
    clock = FakeClock(start=10.05)  # inside (10.0, 10.1]: it may land in either window
    limiter = make(clock)
    limiter.phase.observe_date(10.0, 10.0, 100.0)
    limiter.phase.observe_date(10.1, 10.1, 101.0)
    limiter.record(take(limiter, 1)[0], None)
    clock.now = 10.1 + 0.006  # window 101 surely opened, and the band send may be in it
    assert limiter.remaining == PER_SECOND - 1
    clock.now = 11.1 + 0.006  # window 102 surely opened: the band send was in 100 or 101
    assert limiter.remaining == PER_SECOND


def test_a_request_still_in_flight_counts_in_every_window_until_answered() -> None:
    """A slow request (a new connection, a queue) may reach the exchange in any later window."""
    clock = FakeClock(start=100.5)
    limiter = make(clock, reserve=0)
    permits = take(limiter, PER_SECOND)
    clock.now = 105.0
    assert limiter.try_acquire() == pytest.approx(0.02)
    limiter.record(permits[0], None)
    clock.now = 106.0  # the phase unknown, an answered request counts for a second after its answer
    assert isinstance(limiter.try_acquire(), Permit)


def test_an_answer_after_a_boundary_keeps_its_request_in_the_window_of_the_answer() -> None:
    clock = FakeClock(start=10.5)
    limiter = make(clock)
    limiter.phase.observe_date(10.0, 10.0, 100.0)
    limiter.phase.observe_date(10.1, 10.1, 101.0)  # exchange boundaries at x.0-x.1 of our clock
    (permit,) = take(limiter, 1)
    clock.now = 11.2  # answered late: it may have reached the exchange in the window that opened at 11.0-11.1
    limiter.record(permit, None)
    clock.now = 11.5
    assert limiter.remaining == PER_SECOND - 1
    clock.now = 12.2
    assert limiter.remaining == PER_SECOND


@pytest.mark.parametrize(("date", "remaining_at_10_2"), [(100.0, PER_SECOND), (None, PER_SECOND - 1)])
def test_a_late_answer_whose_date_names_the_old_window_frees_the_next_window_on_time(
    date: float | None, remaining_at_10_2: int
) -> None:
    clock = FakeClock(start=9.5)
    limiter = make(clock)
    limiter.phase.observe_date(10.0, 10.0, 100.0)
    limiter.phase.observe_date(10.1, 10.1, 101.0)  # exchange second 100 is local 9.0-9.1 to 10.0-10.1
    (permit,) = take(limiter, 1)
    clock.now = 10.15  # answered in the next window: without a Date it may have been counted there
    limiter.record(permit, None, date=date)
    clock.now = 10.2
    assert limiter.remaining == remaining_at_10_2


def test_blocking_acquire_sleeps_exactly_to_the_release_of_the_oldest_send() -> None:
    clock = FakeClock(start=70.4)
    limiter = make(clock, reserve=0)
    for permit in take(limiter, PER_SECOND):
        limiter.record(permit, None)
    permit = limiter.acquire()
    assert permit is not None and permit.sent_at == pytest.approx(71.4)
    assert clock.slept == [pytest.approx(1.0)]


async def test_async_acquire_waits_without_blocking_and_respects_timeout() -> None:
    clock = FakeClock(start=70.4)
    limiter = make(clock, reserve=0)
    for permit in take(limiter, PER_SECOND):
        limiter.record(permit, None)
    assert await limiter.acquire_async(timeout=0.5) is None
    assert clock.slept == []
    permit = await limiter.acquire_async(timeout=1.1)
    assert permit is not None and permit.sent_at == pytest.approx(71.4)


# -- what the exchange reports --------------------------------------------------------------------


def test_remaining_req_below_own_count_logs_the_other_processes_sends() -> None:
    clock = FakeClock()
    limiter = make(clock, reserve=0)
    (permit,) = take(limiter, 1)
    limiter.record(permit, RemainingReq(GROUP, 4))  # another process of the account spent the rest
    assert limiter.remaining == 4
    take(limiter, 4)
    assert isinstance(limiter.try_acquire(), float)
    assert limiter.last_remaining == RemainingReq(GROUP, 4)


def test_remaining_req_never_raises_the_budget_above_own_count() -> None:
    clock = FakeClock()
    limiter = make(clock, reserve=0)
    permits = take(limiter, 10)
    limiter.record(permits[0], RemainingReq(GROUP, PER_SECOND))
    assert limiter.remaining == PER_SECOND - 10


def test_a_header_of_another_group_does_not_change_this_budget() -> None:
    clock = FakeClock()
    limiter = make(clock, reserve=0)
    (permit,) = take(limiter, 1)
    limiter.record(permit, RemainingReq("order-cancel-all", 0))
    assert limiter.remaining == PER_SECOND - 1


def test_429_fills_the_window_of_its_send() -> None:
    clock = FakeClock(start=3.5)
    limiter = make(clock, reserve=0)
    (permit,) = take(limiter, 1)
    limiter.record(permit, None, rate_limited=True)
    assert limiter.remaining == 0
    assert limiter.try_acquire() == pytest.approx(1.0)
    clock.now = 4.5
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


def test_without_a_spec_budget_the_exchange_remaining_req_paces() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=None)
    assert limiter.remaining is None
    permits = take(limiter, 100)  # nothing known yet: nothing waits
    for permit in permits[:-1]:
        limiter.record(permit, None)
    limiter.record(permits[-1], RemainingReq(GROUP, 2))  # a window holds at least 3; all 100 may be in it
    assert limiter.remaining == 0
    assert isinstance(limiter.try_acquire(), float)


def test_per_second_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_second"):
        RateLimiter(GROUP, 0)


# -- offsets and latency, on a simulated exchange and network ----------------------------------------

OFFSETS = [-1.0, -0.7, -0.3, 0.0, 0.3, 0.7, 1.0]
LATENCIES = [0.0, 0.02, 0.2]
STARTS = [0.0, 0.31, 0.62, 0.97]


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize(("mode", "in_flight"), [("async", 30), ("sync", 1)])
@pytest.mark.parametrize("backlog", [False, True], ids=["no backlog", "backlog (probes)"])
def test_a_fresh_then_warm_limiter_meets_no_429_for_any_offset_and_latency(
    offset: float, latency: float, mode: str, in_flight: int, backlog: bool
) -> None:
    """1,000 orders (50 requests) from several starting points of the second, then again once warm."""
    for fraction in STARTS:
        start = 1_000_000 + fraction
        clock = SimClock(start)
        limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
        exchange = SimExchange(offset, PER_SECOND)
        fresh = run_batch(
            limiter, clock, exchange, chunks=50, latency=latency, max_in_flight=in_flight, backlog=backlog
        )
        assert (fresh.rate_limited, fresh.requests) == (0, 50), f"fresh, start {fraction}"
        floor = floor_time(start, exchange, 50, latency)
        if mode == "async":
            assert fresh.finished - start <= floor + 1.0 + 2 * 2 * latency, f"fresh, start {fraction}"
        clock.now += 1.3  # a later batch of the same process, its windows clear again
        warm_start = clock.now
        warm = run_batch(limiter, clock, exchange, chunks=50, latency=latency, max_in_flight=in_flight, backlog=backlog)
        assert (warm.rate_limited, warm.requests) == (0, 50), f"warm, start {fraction}"
        if mode == "async" and latency <= 0.02:
            assert warm.finished - warm_start <= floor_time(warm_start, exchange, 50, latency) + 0.25 + 2 * 2 * latency


@pytest.mark.parametrize("latency", [0.0, 0.001, 0.01])
def test_probes_narrow_a_coarse_phase_and_bring_warm_batches_nearer_the_floor(latency: float) -> None:
    """Batches that span two windows: with their backlog, the limiter learns the boundary within a few."""
    overs: dict[bool, list[float]] = {False: [], True: []}
    widths: dict[bool, float] = {}
    for backlog in (False, True):
        for index, offset in enumerate(OFFSETS):
            clock = SimClock(1_000_000 + index * 0.37 % 1)
            limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
            exchange = SimExchange(offset, PER_SECOND)
            for number in range(5):
                start = clock.now
                run = run_batch(limiter, clock, exchange, chunks=50, latency=latency, max_in_flight=30, backlog=backlog)
                assert (run.rate_limited, run.requests) == (0, 50)
                if number:
                    overs[backlog].append(run.finished - start - floor_time(start, exchange, 50, latency))
                clock.now += 1.3 + number * 0.29 % 1
            lo, hi = limiter.phase.lo, limiter.phase.hi
            assert lo is not None and hi is not None
            widths[backlog] = max(widths.get(backlog, 0.0), hi - lo)
    assert widths[True] <= PROBE_WIDTH + 2 * 2 * latency + 0.005 < widths[False]
    assert max(overs[True]) < max(overs[False]) and sum(overs[True]) < 0.75 * sum(overs[False])


@pytest.mark.parametrize("offset", [-0.7, 0.3])
def test_without_date_headers_remaining_req_alone_keeps_429s_away(offset: float) -> None:
    clock = SimClock(1_000_000.4)
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
    exchange = SimExchange(offset, PER_SECOND)
    for _ in range(2):
        run = run_batch(limiter, clock, exchange, chunks=50, latency=0.02, max_in_flight=30, with_date=False)
        assert (run.rate_limited, run.requests) == (0, 50)
        clock.now += 1.3


def test_a_stepped_exchange_clock_costs_at_most_one_429_and_is_relearned() -> None:
    clock = SimClock(1_000_000.4)
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
    exchange = SimExchange(0.0, PER_SECOND)
    run_batch(limiter, clock, exchange, chunks=50, latency=0.01, max_in_flight=30)
    exchange.offset = 0.55  # the exchange's clock (or the route) changed under a warm limiter
    clock.now += 1.3
    stepped = run_batch(limiter, clock, exchange, chunks=50, latency=0.01, max_in_flight=30)
    assert stepped.rate_limited <= 1
    clock.now += 1.3
    after = run_batch(limiter, clock, exchange, chunks=50, latency=0.01, max_in_flight=30)
    assert after.rate_limited == 0


def _jumping(seed: int) -> Callable[[int], float]:
    """Half the answers' ``Date`` read from a clock 2-3 h off (either way, any fraction), the rest true."""
    pick = random.Random(seed)
    return lambda _: pick.choice([0.0, 1.0]) * pick.choice([-1.0, 1.0]) * pick.uniform(7200, 10800)


def _per_connection(_: int) -> Callable[[int], float]:
    """Three connections (answers in turn) to machines whose clocks disagree by hours and fractions."""
    return lambda n: (0.0, 7200.4, -10800.7)[n % 3]


def _first_lies(_: int) -> Callable[[int], float]:
    """Every other answer (the first among them) dated from a clock 2.5 h and half a second off."""
    return lambda n: 0.0 if n % 2 else 9000.5


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "skew", [_jumping, _per_connection, _first_lies], ids=["jumping", "per-connection", "first-lies"]
)
def test_a_date_that_contradicts_what_the_limiter_learned_is_not_trusted(
    skew: Callable[[int], Callable[[int], float]], seed: int
) -> None:
    """1,000 orders (50 chunks) answered with ``Date`` headers 2-3 h off, between answers or per connection:
    no 429, fresh and warm."""
    clock = SimClock(1_000_000.4 + seed * 0.13)
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
    exchange = SimExchange(0.37 * seed - 1, PER_SECOND, date_skew=skew(seed))
    for _ in range(3):
        run = run_batch(limiter, clock, exchange, chunks=50, latency=0.02, max_in_flight=30)
        assert (run.rate_limited, run.requests) == (0, 50)
        clock.now += 1.3


# -- 418 blocks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Blocked for 60 seconds.", 60.0),
        ("Too many requests. You are blocked for 5 minutes", 300.0),
        ("요청이 너무 많습니다. 30초 후에 다시 시도하세요", 30.0),
        ("blocked 1500ms", 1.5),
        ("blocked", None),
        (None, None),
    ],
)
def test_the_block_time_is_read_from_the_418_message(message: str | None, seconds: float | None) -> None:
    assert block_seconds(message) == seconds


def test_a_418_blocks_every_group_of_the_key_until_it_ends_and_sends_nothing() -> None:
    default = limiter_for("blocked-key", RateLimit(group=GROUP, per_second=PER_SECOND))
    other_group = limiter_for("blocked-key", RateLimit(group="order-cancel-all", per_second=1))
    other_key = limiter_for("free-key", RateLimit(group=GROUP, per_second=PER_SECOND))
    until = default.block(60.0, "too_many_requests_blocked")
    for limiter in (default, other_group):
        with pytest.raises(KeyBlocked) as raised:
            limiter.acquire(timeout=5)
        assert raised.value.until == until
        assert limiter.in_flight == 0
    assert isinstance(other_key.try_acquire(), Permit)


def test_a_block_without_a_time_lasts_the_conservative_default_and_then_ends() -> None:
    clock = FakeClock(start=100.0)
    limiter = make(clock)
    until = limiter.block(None, "blocked")
    assert until == 100.0 + DEFAULT_BLOCK_SECONDS
    assert limiter.blocked_until() == until
    clock.now = until
    assert limiter.blocked_until() is None
    assert isinstance(limiter.try_acquire(), Permit)


def test_a_shorter_block_never_shortens_a_longer_one() -> None:
    clock = FakeClock(start=100.0)
    limiter = make(clock)
    limiter.block(600.0, "long")
    assert limiter.block(5.0, "short") == 700.0


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
