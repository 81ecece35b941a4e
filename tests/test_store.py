"""The shared rate-limit store on a real redis-server: one budget, one phase, one block for every process."""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.clocks import FakeClock
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.pacing_sim import SimClock, SimExchange, floor_time, run_processes
from tests.redis_support import redis_server, redis_url, start_redis
from upbit_auth import UpbitAuth
from upbit_cancel import cli
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.ratelimit import STORE_RETRY_SECONDS, KeyBlocked, Permit, RateLimiter, limiter_for, pocket_id
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.store import STORE_ENV, redacted_url
from upbit_cancel.window_log import IN_FLIGHT_POLL
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_sandbox import SandboxExchange

__all__ = ["redis_server", "redis_url"]

GROUP = "default"
PER_SECOND = 30
KEY = "access-key-of-the-account"


def process(url: str, clock: FakeClock, key: str = KEY) -> RateLimiter:
    """A limiter as one process of the account would have it: its own log, the store in common."""
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, reserve=0)
    limiter.use_store(SharedBudget(url, key, GROUP, PER_SECOND))
    return limiter


def take_all(limiter: RateLimiter) -> list[Permit]:
    taken = []
    while isinstance(permit := limiter.try_acquire(), Permit):
        taken.append(permit)
    return taken


def answer(limiter: RateLimiter, permits: list[Permit], date: float | None) -> None:
    """The exchange answers every one of ``permits`` now; ``date``: the exchange second its ``Date`` names."""
    for left, permit in enumerate(reversed(permits)):
        limiter.record(permit, RemainingReq(GROUP, left), date=date)


def exchange_second(local: float) -> float:
    """The exchange's second at ``local`` once ``learn_phase`` ran: its clock is 1.55-1.6 s ahead of ours."""
    return float(math.floor(local + 1.575))


def learn_phase(limiter: RateLimiter, clock: FakeClock) -> None:
    """Two answers dated either side of an exchange boundary: the exchange's second starts at x.40-x.45 here."""
    start = clock.now
    for sent, date in ((start, 0.0), (start + 0.05, 1.0)):
        clock.now = sent
        permit = limiter.try_acquire()
        assert isinstance(permit, Permit)
        limiter.record(permit, RemainingReq(GROUP, PER_SECOND - 1), date=1_000_000.0 + date)
    assert limiter.phase.known


def test_two_processes_with_the_phase_known_share_one_budget_per_exchange_window(redis_url: str) -> None:
    clock = FakeClock(start=999_999.4)
    first, second = process(redis_url, clock), process(redis_url, clock)
    learn_phase(first, clock)  # ``second`` reads the phase from the store
    clock.now = 1_000_000.7  # well inside an exchange window
    firsts, seconds = take_all(first), take_all(second)
    assert len(firsts) + len(seconds) == PER_SECOND
    clock.now = 1_000_000.75
    answer(first, firsts, exchange_second(1_000_000.7))
    answer(second, seconds, exchange_second(1_000_000.7))
    # Once the window surely ended (x.45 + margin), the budget is whole again, for both.
    clock.now = 1_000_001.5
    assert len(take_all(second)) + len(take_all(first)) == PER_SECOND


def a_window_sent_by_one_of_two_processes(redis_url: str) -> tuple[FakeClock, RateLimiter, RateLimiter, list[Permit]]:
    """(clock, first, second, permits): the phase known, ``first`` spent a whole exchange window at x.7."""
    clock = FakeClock(start=999_999.4)
    first, second = process(redis_url, clock), process(redis_url, clock)
    learn_phase(first, clock)
    clock.now = 1_000_000.7
    return clock, first, second, take_all(first)


def test_a_request_in_flight_holds_the_next_exchange_window_until_its_answer_names_its_own(redis_url: str) -> None:
    clock, first, second, held_up = a_window_sent_by_one_of_two_processes(redis_url)
    assert len(held_up) == PER_SECOND
    # The next window opened and no answer came back yet: they may land in it, so nobody sends.
    clock.now = 1_000_001.5
    assert take_all(second) == []
    # Their answers name the old window: the new one is whole again, for every process (which asks the
    # store again within a poll: a window full only of requests in flight is not waited out).
    answer(first, held_up, exchange_second(1_000_000.7))
    clock.now += IN_FLIGHT_POLL
    assert len(take_all(second)) == PER_SECOND


def test_an_answer_dated_in_a_later_window_than_charged_moves_its_charge_there(redis_url: str) -> None:
    clock, first, second, held_up = a_window_sent_by_one_of_two_processes(redis_url)
    clock.now = 1_000_002.9
    # Held up on the way for two windows (none of those charged): counted in the window its Date names.
    answer(first, held_up, exchange_second(1_000_002.9))
    assert take_all(second) == []


def test_before_anyone_knows_the_phase_a_send_counts_in_two_local_seconds(redis_url: str) -> None:
    clock = FakeClock(start=100.5)
    first, second = process(redis_url, clock), process(redis_url, clock)
    sent = take_all(first)
    assert len(sent) == PER_SECOND
    clock.now = 100.6
    answer(first, sent, None)  # answered: they arrived by 100.6
    clock.now = 101.2  # some exchange second may hold 100.5 and 101.2 together
    assert take_all(second) == []
    clock.now = 102.0  # no exchange second holds both 100.5 and 102.0
    assert len(take_all(second)) == PER_SECOND


def test_before_anyone_knows_the_phase_a_request_in_flight_holds_a_third_local_second(redis_url: str) -> None:
    clock = FakeClock(start=100.5)
    first, second = process(redis_url, clock), process(redis_url, clock)
    sent = take_all(first)
    clock.now = 102.0  # not answered yet: it may still arrive in an exchange second that 102.0 reaches
    assert take_all(second) == []
    answer(first, sent, None)  # answered at 102.0: it arrived by then, in local second 100, 101 or 102
    assert take_all(second) == []
    clock.now = 103.0
    assert len(take_all(second)) == PER_SECOND


def test_a_fresh_process_reads_the_phase_another_learned(redis_url: str) -> None:
    clock = FakeClock(start=999_999.4)
    first = process(redis_url, clock)
    learn_phase(first, clock)
    newcomer = process(redis_url, clock)
    assert not newcomer.phase.known
    assert isinstance(newcomer.try_acquire(), Permit)
    assert newcomer.phase.known
    assert (newcomer.phase.lo, newcomer.phase.hi) == (first.phase.lo, first.phase.hi)


def test_a_418_in_one_process_stops_the_others_until_it_ends(redis_url: str) -> None:
    clock = FakeClock(start=500.0)
    first, second = process(redis_url, clock), process(redis_url, clock)
    until = first.block(60.0, "too_many_requests_blocked")
    with pytest.raises(KeyBlocked) as raised:
        second.try_acquire()
    assert raised.value.until == pytest.approx(until, abs=0.001)
    assert second.in_flight == 0
    other_key = process(redis_url, clock, key="another-account")
    assert isinstance(other_key.try_acquire(), Permit)


def test_a_429_fills_the_shared_window_for_every_process(redis_url: str) -> None:
    clock = FakeClock(start=100.5)
    first, second = process(redis_url, clock), process(redis_url, clock)
    permit = first.try_acquire()
    assert isinstance(permit, Permit)
    first.record(permit, RemainingReq(GROUP, 0), rate_limited=True)
    assert take_all(second) == []


def test_redis_keys_never_hold_the_access_key(redis_url: str) -> None:
    clock = FakeClock(start=999_999.4)
    limiter = process(redis_url, clock, key=TEST_ACCESS_KEY)
    learn_phase(limiter, clock)
    limiter.block(1.0, "blocked")
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert keys
    assert all(key.startswith("upbit-rl:") and TEST_ACCESS_KEY not in key for key in keys)


def test_the_password_of_a_store_url_is_never_shown() -> None:
    assert redacted_url("redis://:hunter2@cache:6379/0") == "redis://***@cache:6379/0"
    assert redacted_url("redis://user:hunter2@cache/1") == "redis://***@cache/1"
    assert redacted_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_an_unreachable_store_falls_back_to_in_process_pacing_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "redis://:hunter2@127.0.0.1:1/0"  # nothing listens on port 1
    rate_limit = cancel_orders_by_ids.RATE_LIMIT
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        limiter = limiter_for(KEY, rate_limit, store=url)
        for _ in range(3):
            assert isinstance(limiter.try_acquire(), Permit)
        assert limiter_for(KEY, rate_limit, store=url) is limiter
        assert isinstance(limiter.try_acquire(), Permit)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "in this process only" in warnings[0] and "hunter2" not in warnings[0]
    assert limiter.store is None


def test_a_store_that_goes_away_mid_batch_does_not_stop_cancelling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = start_redis(tmp_path)
    try:
        clock = FakeClock(start=100.5)
        limiter = process(url, clock)
        assert isinstance(limiter.try_acquire(), Permit)
        assert limiter.store is not None
    finally:
        server.terminate()
        server.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        assert isinstance(limiter.try_acquire(), Permit)
        assert isinstance(limiter.try_acquire(), Permit)
    assert limiter.store is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_two_batches_with_separate_limiters_and_one_store_cancel_everything_together(redis_url: str) -> None:
    """Two "processes" (separate limiters, separate clients) on one key and one exchange, real time."""
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.005)
    orders = [exchange.add_order().uuid for _ in range(2 * 200)]

    async def one(ids: list[str]) -> tuple[int, int, int]:
        limiter = RateLimiter(GROUP, PER_SECOND)
        limiter.use_store(SharedBudget(redis_url, TEST_ACCESS_KEY, GROUP, PER_SECOND))
        auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)
        async with Client(
            base_url="https://api.upbit.com", httpx_args={"auth": auth, "transport": exchange.transport()}
        ) as client:
            result = await cancel_orders_async(client, uuids=ids, limiter=limiter)
        return len(result.success), result.rate_limited, result.requests_sent

    async def both() -> list[tuple[int, int, int]]:
        return await asyncio.gather(one(orders[:200]), one(orders[200:]))

    results = asyncio.run(both())
    assert sum(success for success, _, _ in results) == 400
    assert sum(limited for _, limited, _ in results) <= 1
    assert len(exchange.orders("wait")) == 0


def test_upbit_cancel_with_an_unreachable_store_warns_once_and_cancels_everything(
    cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(45)]
    store = "redis://:store-password@127.0.0.1:1/0"
    status = cli.main(["--rate-limit-store", store, "--uuid", *orders], transport=exchange.transport())
    out, err = capsys.readouterr()
    assert status == 0, err
    assert len(exchange.orders("wait")) == 0
    warnings = [line for line in err.splitlines() if line.startswith("upbit-cancel: warning:")]
    assert len(warnings) == 1 and "in this process only" in warnings[0]
    assert "store-password" not in out + err and TEST_SECRET_KEY not in out + err


def test_upbit_cancel_takes_the_store_from_the_environment(
    cli_env: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    orders = [exchange.add_order().uuid for _ in range(3)]
    cli_env.setenv(STORE_ENV, redis_url)
    assert cli.main(["--uuid", *orders], transport=exchange.transport()) == 0
    _, err = capsys.readouterr()
    assert "warning" not in err
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("upbit-rl:*")]
    assert keys and all(TEST_ACCESS_KEY not in key for key in keys)


def test_a_send_refused_near_a_boundary_asks_again_when_the_full_window_surely_closed_not_a_second_later(
    redis_url: str,
) -> None:
    clock = FakeClock(start=999_999.4)
    first, second = process(redis_url, clock), process(redis_url, clock)
    learn_phase(first, clock)  # the exchange's windows open at local x.40-x.45
    clock.now = 1_000_000.3
    sent = take_all(first)
    clock.now = 1_000_000.31
    answer(first, sent, exchange_second(1_000_000.3))
    clock.now = 1_000_000.42  # in the band where the full window may still be open
    wait = second.try_acquire()
    assert isinstance(wait, float)
    assert wait < 0.1
    clock.now += wait
    assert len(take_all(second)) == PER_SECOND


def test_four_processes_with_the_phase_in_the_store_meet_no_429_and_finish_near_the_floor(redis_url: str) -> None:
    """4 processes x 300 orders (60 requests) on one account, each a fresh process that reads the phase."""
    latency = 0.02
    overs = []
    for offset in (-0.7, 0.0, 0.3):
        for fraction in (0.05, 0.45, 0.8):
            redis.Redis.from_url(redis_url).flushall()
            start = 1_000_000 + fraction
            clock = SimClock(start)
            exchange = SimExchange(offset, PER_SECOND)

            def fresh_process(clock: SimClock = clock) -> RateLimiter:
                limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
                limiter.use_store(SharedBudget(redis_url, KEY, GROUP, PER_SECOND))
                return limiter

            # An earlier run of one process learned the phase and left it in the store.
            run_processes([fresh_process()], clock, exchange, chunks=50, latency=latency, max_in_flight=30)
            clock.now += 1.3
            begin = clock.now
            run = run_processes(
                [fresh_process() for _ in range(4)], clock, exchange, chunks=15, latency=latency, max_in_flight=15
            )
            assert (run.rate_limited, run.requests) == (0, 60), f"offset {offset}, start {fraction}"
            overs.append(run.finished - begin - floor_time(begin, exchange, 60, latency))
    # The target is for the median; away from the last tens of ms of a second it holds in every case.
    assert statistics.median(overs) <= 0.2 + 2 * 2 * latency
    assert max(overs) <= 0.2 + 2 * 2 * latency


class SwitchableRedis:
    """A real Redis client that can be made to fail like an unreachable server (``down = True``)."""

    def __init__(self, url: str) -> None:
        self.real = redis.Redis.from_url(url)
        self.down = False

    def _guard(self) -> None:
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    def register_script(self, source: str) -> Callable[..., object]:
        script = self.real.register_script(source)

        def call(**kwargs: object) -> object:
            self._guard()
            return script(**kwargs)

        return call

    def get(self, key: str) -> object:
        self._guard()
        return self.real.get(key)

    def set(self, key: str, value: str, px: int) -> object:
        self._guard()
        return self.real.set(key, value, px=px)


def test_a_store_that_comes_back_is_shared_again_after_the_pause_with_one_warning(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(start=100.5)
    switch = SwitchableRedis(redis_url)
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, reserve=0)
    limiter.use_store(SharedBudget(redis_url, KEY, GROUP, PER_SECOND, client=switch))
    other = process(redis_url, clock)
    switch.down = True
    with caplog.at_level(logging.WARNING, logger="upbit_cancel.ratelimit"):
        during = [limiter.try_acquire()]  # cancelling goes on, paced in-process
        assert limiter.store is None
        clock.now += STORE_RETRY_SECONDS + 1  # still down at the next try: no second warning
        during.append(limiter.try_acquire())
        assert limiter.store is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert all(isinstance(permit, Permit) for permit in during)
    answer(limiter, [permit for permit in during if isinstance(permit, Permit)], None)
    switch.down = False
    clock.now += STORE_RETRY_SECONDS + 1
    shared = take_all(limiter)
    assert limiter.store is not None
    assert len(shared) == PER_SECOND
    assert take_all(other) == []  # the budget is one again: what this process took counts for the other


def test_a_permit_given_back_unsent_gives_back_its_store_charges(redis_url: str) -> None:
    _, first, second, unsent = a_window_sent_by_one_of_two_processes(redis_url)
    for permit in unsent:
        first.cancel(permit)
    assert len(take_all(second)) == PER_SECOND


def test_two_keys_named_into_one_pocket_share_one_budget_and_one_block_through_redis(redis_url: str) -> None:
    clock = FakeClock(start=999_999.4)
    first = process(redis_url, clock, key=pocket_id(TEST_ACCESS_KEY, "team-pocket"))
    second = process(redis_url, clock, key=pocket_id(KEY, "team-pocket"))
    stranger = process(redis_url, clock, key=pocket_id(KEY))
    learn_phase(first, clock)
    clock.now = 1_000_000.7
    assert len(take_all(first)) + len(take_all(second)) == PER_SECOND
    assert len(take_all(stranger)) == PER_SECOND  # an unnamed key is a pocket of its own
    first.block(30.0, "HTTP 418")
    clock.now = 1_000_001.7  # the next window: the other key would send again, but the pocket is blocked
    with pytest.raises(KeyBlocked):
        second.try_acquire()
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert all("team-pocket" not in key and TEST_ACCESS_KEY not in key and KEY not in key for key in keys)
