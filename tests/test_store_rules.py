"""Every rule of a budget store (``upbit_cancel.store``'s rules), run over every store: one table.

Each test takes ``stores`` and runs six times: over the in-memory store (``memory_store``), over a real
redis-server (``redis_store``, its Lua scripts), over a Sentinel-watched master (``redis+sentinel://``)
and over a three-master Redis Cluster (``redis+cluster://``, ``tests/redis_topologies.py``); and over the
calls an async caller makes on an asyncio loop (``redis_store.LoopBudget``, through ``redis.asyncio``) to one server
and to a Sentinel's master (``OnLoop``). Limiters
stand for processes of one pocket, each with its own log and its own budget object, the store in
common; time is a fake clock (Redis keeps its own clock only for the keys' expiry, seconds away).
A store that breaks a rule fails here, whichever it is.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import cast

import pytest
import redis

from tests.clocks import FakeClock
from tests.keys import TEST_ACCESS_KEY
from tests.pacing_sim import SimClock, SimExchange, floor_time, run_processes
from tests.redis_support import redis_server
from tests.redis_topologies import redis_cluster, redis_sentinel
from upbit_cancel.memory_store import MemoryBudget, MemoryStore
from upbit_cancel.ratelimit import STORE_RETRY_SECONDS, KeyBlocked, Permit, RateLimiter, pocket_id
from upbit_cancel.redis_connect import Call, open_redis, shared_cluster
from upbit_cancel.redis_store import SharedBudget
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.store import PHASE_POLL, BudgetKeys, BudgetStore, LinkState, Send, StoreUnavailable, TakeResult
from upbit_cancel.window_log import IN_FLIGHT_POLL

__all__ = ["redis_cluster", "redis_sentinel", "redis_server"]

GROUP = "default"
PER_SECOND = 30
KEY = "access-key-of-the-account"
Clock = Callable[[], float]


class Switchable:
    """A budget store that can be made to fail like a server that stopped answering (``down = True``)."""

    def __init__(self, store: BudgetStore) -> None:
        self.store, self.down = store, False
        self.url, self.blocking = store.url, store.blocking

    def __getattr__(self, name: str) -> object:
        method = getattr(self.store, name)
        if name == "peers":  # no I/O: what the store last said, down or not
            return method

        def call(*args: object, **kwargs: object) -> object:
            if self.down:
                raise StoreUnavailable(f"rate-limit store {self.url}: down")
            return method(*args, **kwargs)

        return call


class LoopThread:
    """An asyncio loop running in a thread of its own, for ``OnLoop``'s calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[object, object, object]) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def close(self) -> None:
        """Shut the loop down as ``asyncio.run`` does: its tasks (the stores' writers) cancelled and awaited."""

        async def cancel_the_others() -> None:
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        self.run(cancel_the_others())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class OnLoop:
    """A Redis budget's calls on an asyncio loop (``SharedBudget.on_loop``: ``redis_store.LoopBudget``), called
    the blocking way, each on ``loops``'s loop: the table's steps reach the implementation async callers use."""

    blocking = True

    def __init__(self, budget: SharedBudget, loops: LoopThread) -> None:
        self.budget, self.url, self.loops = budget, budget.url, loops
        self.keys = budget.keys

    def _call(self, name: str, *args: object) -> object:
        async def on_loop() -> object:
            calls = self.budget.on_loop()
            assert calls is not None  # one server or a Sentinel's master, on asyncio
            if name in ("take", "load_phase"):  # the asks; the rest are writes
                return await getattr(calls, name)(*args)
            return await calls.write(name, args)

        return self.loops.run(on_loop())

    def take(self, send: Send) -> TakeResult:
        return cast(TakeResult, self._call("take", send))

    def fill(self, windows: list[int] | None, local_seconds: list[int]) -> None:
        self._call("fill", windows, local_seconds)

    def settle(self, exchange_windows: bool, give_back: list[int], take: list[int],
               settled: list[int] | tuple[()] = ()) -> None:  # fmt: skip
        self._call("settle", exchange_windows, give_back, take, settled)

    def block(self, until: float, seconds: float) -> float:
        return cast(float, self._call("block", until, seconds))

    def date(self, window: int, local_seconds: list[int]) -> None:
        self._call("date", window, local_seconds)

    def save_phase(self, lo: float, hi: float) -> None:
        self._call("save_phase", lo, hi)

    def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None:
        return cast("tuple[float, float] | None", self._call("pool_bounds", lo, hi))

    def load_phase(self) -> tuple[float, float] | None:
        return cast("tuple[float, float] | None", self._call("load_phase"))

    def peers(self) -> int:
        return self.budget.peers()

    def close(self) -> None:
        self.budget.close()


@dataclass
class Stores:
    """One store server (in memory, or a redis-server) that budgets are opened in, as processes would."""

    kind: str
    url: str = ""
    server: MemoryStore | None = None
    loops: LoopThread | None = None

    def open(self, clock: Clock, pocket: str = KEY, group: str = GROUP, per_second: int = PER_SECOND, *,
             window_seconds: int = 1) -> BudgetStore:  # fmt: skip
        """A budget of ``pocket`` and ``group`` in this store; a memory store keeps time by the first ``clock``."""
        if self.kind != "memory":
            budget = SharedBudget(self.url, pocket, group, per_second, window_seconds=window_seconds)
            return budget if self.loops is None else OnLoop(budget, self.loops)
        if self.server is None:
            self.server = MemoryStore(clock=clock)
        return MemoryBudget(self.server, pocket, group, per_second, window_seconds=window_seconds)

    def process(self, clock: FakeClock | SimClock, pocket: str = KEY, *, reserve: int | None = 0) -> RateLimiter:
        """A limiter as one process of the pocket would have it: its own log, the store in common."""
        sleeps = {"sleep": clock.sleep, "async_sleep": clock.async_sleep} if isinstance(clock, FakeClock) else {}
        limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, reserve=reserve, **sleeps)  # type: ignore[arg-type]
        limiter.use_store(self.open(clock, pocket))
        return limiter

    def empty(self) -> None:
        """Forget everything stored (a store no process used yet)."""
        if self.kind != "memory":
            flush(self.url)
        self.server = None

    def stored_keys(self) -> list[str]:
        if self.kind != "memory":
            return stored_keys(self.url)
        return [] if self.server is None else self.server.keys()


def flush(url: str) -> None:
    """Empty the store ``url`` names (every master of a cluster)."""
    if url.startswith("redis+cluster:"):
        shared_cluster(url, timeout=2).flushall(target_nodes=redis.RedisCluster.PRIMARIES)
        return
    client = open_redis(url, timeout=2)
    try:
        client.flushall()
    finally:
        client.close()


def stored_keys(url: str) -> list[str]:
    """Every key in the store ``url`` names (on every master of a cluster)."""
    if url.startswith("redis+cluster:"):
        keys = shared_cluster(url, timeout=2).keys("*", target_nodes=redis.RedisCluster.PRIMARIES)
    else:
        client = open_redis(url, timeout=2)
        try:
            keys = client.keys("*")
        finally:
            client.close()
    return [key.decode() if isinstance(key, bytes) else key for key in keys]


@pytest.fixture(params=["memory", "redis", "sentinel", "cluster", "redis-on-loop", "sentinel-on-loop"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Each store in turn (the Redis ones emptied for the test); ``-on-loop``: through an asyncio loop's calls."""
    if request.param == "memory":
        yield Stores("memory")
        return
    kind, on_loop = request.param.removesuffix("-on-loop"), request.param.endswith("-on-loop")
    server = request.getfixturevalue("redis_server" if kind == "redis" else f"redis_{kind}")
    url = server if kind == "redis" else server.url
    flush(url)
    loops = LoopThread() if on_loop else None
    try:
        yield Stores(request.param, url, loops=loops)
    finally:
        if loops is not None:
            loops.close()


def switchable_process(stores: Stores, clock: FakeClock) -> tuple[RateLimiter, Switchable]:
    """A process of the pocket whose view of the store can be made to fail (``Switchable.down``)."""
    switch = Switchable(stores.open(clock))
    limiter = RateLimiter(GROUP, PER_SECOND, clock=clock, sleep=clock.sleep, reserve=0)
    limiter.use_store(cast(BudgetStore, switch))  # every method of the store, through __getattr__
    return limiter, switch


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


def a_window_sent_by_one_of_two_processes(stores: Stores) -> tuple[FakeClock, RateLimiter, RateLimiter, list[Permit]]:
    """(clock, first, second, permits): the phase known, ``first`` spent a whole exchange window at x.7."""
    clock = FakeClock(start=999_999.4)
    first, second = stores.process(clock), stores.process(clock)
    learn_phase(first, clock)
    clock.now = 1_000_000.7
    return clock, first, second, take_all(first)


# --- charging: one budget per exchange window, for every process -------------------------------------------


def test_two_processes_with_the_phase_known_share_one_budget_per_exchange_window(stores: Stores) -> None:
    clock = FakeClock(start=999_999.4)
    first, second = stores.process(clock), stores.process(clock)
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


def test_before_anyone_knows_the_phase_a_send_counts_in_two_local_seconds(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    first, second = stores.process(clock), stores.process(clock)
    sent = take_all(first)
    assert len(sent) == PER_SECOND
    clock.now = 100.6
    answer(first, sent, None)  # answered: they arrived by 100.6
    clock.now = 101.2  # some exchange second may hold 100.5 and 101.2 together
    assert take_all(second) == []
    clock.now = 102.0  # no exchange second holds both 100.5 and 102.0
    assert len(take_all(second)) == PER_SECOND


def test_a_window_of_two_seconds_is_shared_for_its_whole_length(stores: Stores) -> None:
    clock = FakeClock(start=1000.2)
    limiters = []
    for _ in range(2):
        limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
        limiter.use_store(stores.open(clock, "pocket:p", "order-cancel-all", 1, window_seconds=2))
        limiter.phase.lo, limiter.phase.hi, limiter.phase.anchored = -0.002, 0.002, True  # our clock is theirs
        limiters.append(limiter)
    first, second = limiters
    permit = first.try_acquire()  # exchange window [1000, 1002)
    assert isinstance(permit, Permit)
    clock.now = 1000.3
    first.record(permit, RemainingReq("order-cancel-all", 0), date=1000.0)
    clock.now = 1001.5  # the same two-second window: the pocket's one request is spent
    assert not isinstance(second.try_acquire(), Permit)
    clock.now = 1002.01  # the next window
    assert isinstance(second.try_acquire(), Permit)


# --- settling: a request counts until its answer says where it landed ----------------------------------------


def test_a_request_in_flight_holds_the_next_exchange_window_until_its_answer_names_its_own(stores: Stores) -> None:
    clock, first, second, held_up = a_window_sent_by_one_of_two_processes(stores)
    assert len(held_up) == PER_SECOND
    # The next window opened and no answer came back yet: they may land in it, so nobody sends.
    clock.now = 1_000_001.5
    assert take_all(second) == []
    # Their answers name the old window: the new one is whole again, for every process (which asks the
    # store again within a poll: a window full only of requests in flight is not waited out).
    answer(first, held_up, exchange_second(1_000_000.7))
    clock.now += IN_FLIGHT_POLL
    assert len(take_all(second)) == PER_SECOND


def test_an_answer_dated_in_a_later_window_than_charged_moves_its_charge_there(stores: Stores) -> None:
    clock, first, second, held_up = a_window_sent_by_one_of_two_processes(stores)
    clock.now = 1_000_002.9
    # Held up on the way for two windows (none of those charged): counted in the window its Date names.
    answer(first, held_up, exchange_second(1_000_002.9))
    assert take_all(second) == []


def test_before_anyone_knows_the_phase_a_request_in_flight_holds_a_third_local_second(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    first, second = stores.process(clock), stores.process(clock)
    sent = take_all(first)
    clock.now = 102.0  # not answered yet: it may still arrive in an exchange second that 102.0 reaches
    assert take_all(second) == []
    answer(first, sent, None)  # answered at 102.0: it arrived by then, in local second 100, 101 or 102
    assert take_all(second) == []
    clock.now = 103.0
    assert len(take_all(second)) == PER_SECOND


def test_a_dated_answer_moves_its_local_charge_into_its_window_once_the_phase_is_stored(stores: Stores) -> None:
    """Issue 26, item 4: sends made before the phase was known stop holding the windows they did not land in."""
    clock = FakeClock(start=100.5)
    first, second = stores.process(clock), stores.process(clock)
    sent = take_all(first)  # phase unknown: charged to local seconds 100 and 101 (102 while in flight)
    assert len(sent) == PER_SECOND
    clock.now = 100.55
    answer(first, sent, 999.0)  # their Date: exchange second 999 (the exchange's clock is 899.2 s ahead)
    assert not first.phase.known  # one Date says nothing modulo 1: nothing stored yet
    clock.now = 100.6
    assert take_all(second) == []  # still counted in the local seconds
    stores.open(clock).save_phase(899.18, 899.22)  # exchange second 1000 opens at local 100.8
    third = stores.process(clock)
    assert take_all(third) == []  # exchange second 999 holds them
    clock.now = 100.85  # second 1000 holds none of them (before: local second 101 held all 30 until 101.8)
    assert len(take_all(third)) == PER_SECOND
    assert take_all(second) == []  # asked again within a poll: it read the phase, and 1000 is full now


def test_a_dated_answer_after_the_phase_was_stored_moves_its_charge_at_once(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    first = stores.process(clock)
    sent = take_all(first)  # before the phase was stored: local seconds
    stores.open(clock).save_phase(899.18, 899.22)
    clock.now = 100.55
    answer(first, sent, 999.0)
    clock.now = 100.85
    assert len(take_all(stores.process(clock))) == PER_SECOND


def test_a_process_refused_before_the_phase_is_known_asks_again_within_a_phase_poll(stores: Stores) -> None:
    clock = FakeClock(start=100.2)
    first, second = stores.process(clock), stores.process(clock)
    answer(first, take_all(first), None)  # answered: local seconds 100 and 101 are really full
    wait = second.try_acquire()  # refused: a phase another process stores may free it before 101.0
    assert isinstance(wait, float) and wait <= PHASE_POLL


def test_the_hosts_processes_pool_the_bounds_their_dates_drew(stores: Stores) -> None:
    budget = stores.open(FakeClock(start=100.0))
    assert budget.pool_bounds(898.48, 899.5) == (898.48, 899.5)
    assert budget.pool_bounds(899.38, 900.4) == (899.38, 899.5)  # the intersection
    assert budget.pool_bounds(901.0, 901.5) == (901.0, 901.5)  # bounds that do not meet it replace it


def test_two_processes_that_each_saw_one_side_of_a_boundary_know_the_phase_together(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    first, second = stores.process(clock), stores.process(clock)
    for limiter, sent, date in ((first, 100.5, 999.0), (second, 100.6, 1000.0)):
        clock.now = sent
        permit = limiter.try_acquire()
        assert isinstance(permit, Permit)
        clock.now = sent + 0.02
        limiter.record(permit, RemainingReq(GROUP, PER_SECOND - 2), date=date)
    # Each Date alone bounds the phase only to a second; together they pin it to [899.38, 899.5).
    assert second.phase.known and (second.phase.lo, second.phase.hi) == (899.38, 899.5)
    assert not first.phase.known
    newcomer = stores.process(clock)
    assert isinstance(newcomer.try_acquire(), Permit) and newcomer.phase.known  # stored at once


def test_a_caller_asking_again_the_trickles_interval_later_is_not_refused_by_rounding(stores: Stores) -> None:
    clock = FakeClock(start=1000.3)
    first, second, third = (stores.process(clock, reserve=None) for _ in range(3))
    assert len(take_all(first)) == PER_SECOND - first.reserve
    assert isinstance(second.try_acquire(), Permit)  # the first of the reserve: the host's trickle starts
    assert not isinstance(third.try_acquire(), Permit)
    clock.now = 1000.4  # 1000.4 - 1000.3 is 0.09999... in floating point
    assert isinstance(third.try_acquire(), Permit)


def test_a_permit_given_back_unsent_gives_back_its_store_charges(stores: Stores) -> None:
    _, first, second, unsent = a_window_sent_by_one_of_two_processes(stores)
    for permit in unsent:
        first.cancel(permit)
    assert len(take_all(second)) == PER_SECOND


def test_a_window_full_only_of_requests_in_flight_is_asked_again_within_a_poll_not_a_window_later(
    stores: Stores,
) -> None:
    clock, first, second, sent = a_window_sent_by_one_of_two_processes(stores)
    clock.now = 1_000_001.5  # the next window holds their in-flight charges: they may still land in it
    wait = second.try_acquire()
    assert isinstance(wait, float) and wait <= 0.05
    answer(first, sent, exchange_second(1_000_000.7))  # their answers name the old window
    clock.now += wait
    assert isinstance(second.try_acquire(), Permit)


def test_a_window_full_of_answered_requests_is_waited_out_to_its_end(stores: Stores) -> None:
    clock, first, second, sent = a_window_sent_by_one_of_two_processes(stores)
    clock.now = 1_000_001.5
    answer(first, sent, exchange_second(1_000_001.5))  # held up: they landed in the next window, really full
    wait = second.try_acquire()
    assert isinstance(wait, float) and wait > 0.8


def test_a_send_refused_near_a_boundary_asks_again_when_the_full_window_surely_closed_not_a_second_later(
    stores: Stores,
) -> None:
    clock = FakeClock(start=999_999.4)
    first, second = stores.process(clock), stores.process(clock)
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


# --- 429 and 418 ---------------------------------------------------------------------------------------------


def test_a_429_fills_the_shared_window_for_every_process(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    first, second = stores.process(clock), stores.process(clock)
    permit = first.try_acquire()
    assert isinstance(permit, Permit)
    first.record(permit, RemainingReq(GROUP, 0), rate_limited=True)
    assert take_all(second) == []


def test_a_418_in_one_process_stops_the_others_of_the_pocket_and_no_other_pocket(stores: Stores) -> None:
    clock = FakeClock(start=500.0)
    first, second = stores.process(clock), stores.process(clock)
    until = first.block(60.0, "too_many_requests_blocked")
    with pytest.raises(KeyBlocked) as raised:
        second.try_acquire()
    assert raised.value.until == pytest.approx(until, abs=0.001)
    assert second.in_flight == 0
    other_key = stores.process(clock, pocket="another-account")
    assert isinstance(other_key.try_acquire(), Permit)


def test_a_shorter_block_never_shortens_a_longer_one_in_the_store(stores: Stores) -> None:
    clock = FakeClock(start=500.0)
    budget = stores.open(clock)
    assert budget.block(560.0, 60.0) == pytest.approx(560.0)
    assert budget.block(510.0, 10.0) == pytest.approx(560.0)
    refused = budget.take(Send(None, [500, 501]))
    assert not refused.taken and refused.blocked_until == pytest.approx(560.0)


def test_two_keys_named_into_one_pocket_share_one_budget_and_one_block(stores: Stores) -> None:
    clock = FakeClock(start=999_999.4)
    first = stores.process(clock, pocket=pocket_id(TEST_ACCESS_KEY, "team-pocket"))
    second = stores.process(clock, pocket=pocket_id(KEY, "team-pocket"))
    stranger = stores.process(clock, pocket=pocket_id(KEY))
    learn_phase(first, clock)
    clock.now = 1_000_000.7
    assert len(take_all(first)) + len(take_all(second)) == PER_SECOND
    assert len(take_all(stranger)) == PER_SECOND  # an unnamed key is a pocket of its own
    first.block(30.0, "HTTP 418")
    clock.now = 1_000_001.7  # the next window: the other key would send again, but the pocket is blocked
    with pytest.raises(KeyBlocked):
        second.try_acquire()
    assert all(
        "team-pocket" not in key and TEST_ACCESS_KEY not in key and KEY not in key for key in stores.stored_keys()
    )


def test_stored_keys_never_hold_the_access_key(stores: Stores) -> None:
    clock = FakeClock(start=999_999.4)
    limiter = stores.process(clock, pocket=TEST_ACCESS_KEY)
    learn_phase(limiter, clock)
    limiter.block(1.0, "blocked")
    keys = stores.stored_keys()
    assert keys
    assert all(key.startswith("upbit-rl:") and TEST_ACCESS_KEY not in key for key in keys)


# --- the learned phase ---------------------------------------------------------------------------------------


def test_a_fresh_process_reads_the_phase_another_learned(stores: Stores) -> None:
    clock = FakeClock(start=999_999.4)
    first = stores.process(clock)
    learn_phase(first, clock)
    newcomer = stores.process(clock)
    assert not newcomer.phase.known
    assert isinstance(newcomer.try_acquire(), Permit)
    assert newcomer.phase.known
    assert (newcomer.phase.lo, newcomer.phase.hi) == (first.phase.lo, first.phase.hi)


def test_a_phase_known_from_remaining_req_alone_does_not_stall_when_the_store_holds_a_dated_one(
    stores: Stores,
) -> None:
    clock = FakeClock(start=1000.2)
    stores.open(clock).save_phase(0.4, 0.45)
    limiter = stores.process(clock)
    # Remaining-Req ticks alone (no Date) pin the phase: known, but not anchored to the exchange's seconds.
    limiter.phase.lo, limiter.phase.hi = 0.40, 0.44
    assert limiter.phase.known and not limiter.phase.anchored
    assert isinstance(limiter.acquire(timeout=5), Permit)
    assert limiter.phase.anchored


def test_a_dated_phase_too_wide_to_pace_by_takes_the_stores_narrow_one(stores: Stores) -> None:
    clock = FakeClock(start=1000.2)
    stores.open(clock).save_phase(0.4, 0.45)
    limiter = stores.process(clock)
    # Answers that came back a second late date the phase only loosely: anchored, but not known.
    limiter.phase.observe_date(999.0, 1000.0, 1000.0)
    assert limiter.phase.anchored and not limiter.phase.known
    permit = limiter.try_acquire()
    assert isinstance(permit, Permit) and permit.charged is not None and permit.charged[0]  # exchange windows
    assert (limiter.phase.lo, limiter.phase.hi) == (0.4, 0.45)


# --- a store that fails --------------------------------------------------------------------------------------


def test_a_store_that_fails_pauses_the_link_and_comes_back_after_the_pause(stores: Stores) -> None:
    clock = FakeClock(start=100.5)
    limiter, switch = switchable_process(stores, clock)
    other = stores.process(clock)
    switch.down = True
    during = limiter.try_acquire()  # cancelling goes on, paced in-process
    link = limiter.store_link
    assert isinstance(during, Permit) and link is not None and link.state is LinkState.PAUSED
    answer(limiter, [during], None)
    switch.down = False
    clock.now += STORE_RETRY_SECONDS + 1
    assert len(take_all(limiter)) == PER_SECOND and limiter.store is not None
    assert take_all(other) == []  # the budget is one again: what this process took counts for the other


def test_a_process_counts_a_peer_that_joined_from_its_next_take_on(stores: Stores) -> None:
    """Not once a second: a process that took before the other joined, then lost the store within that
    second, paced at the whole budget beside the other's share (the Sentinel failover test: 3-57 x 429)."""
    clock = FakeClock(start=999_999.4)
    first, switch = switchable_process(stores, clock)
    learn_phase(first, clock)  # the first process took alone: it counted itself only
    clock.now = 1_000_000.7
    second = stores.process(clock)
    joined = take_all(second)  # the second process joins and fills the window: the store counts it
    assert joined
    answer(second, joined, None)
    clock.now = 1_000_000.75
    first.try_acquire()  # its next take: it sees the other (the window is full; no permit needed)
    assert switch.peers() == 2
    clock.now = 1_000_001.7
    switch.down = True
    take_all(first)  # the store is lost: nothing more in this window
    clock.now = 1_000_002.7
    assert len(take_all(first)) == PER_SECOND // 2  # its share: the other process has the rest


def test_a_process_that_loses_the_store_paces_at_its_share_among_the_processes_it_counted(stores: Stores) -> None:
    clock = FakeClock(start=999_999.4)
    first = stores.process(clock)
    second, switch = switchable_process(stores, clock)
    learn_phase(first, clock)
    clock.now = 1_000_000.7
    taken = take_all(first) + take_all(second)  # both took through the store: it counts two processes
    assert len(taken) == PER_SECOND and switch.peers() == 2
    clock.now = 1_000_001.7  # the next window: the store is lost
    switch.down = True
    lost = take_all(second)
    assert lost == []  # nothing more in the window it was lost in, not even the send that found it lost
    clock.now = 1_000_002.7
    assert len(take_all(second)) == PER_SECOND // 2  # its share of the budget, the other has the rest


# --- many processes, simulated -------------------------------------------------------------------------------


def test_four_processes_with_the_phase_in_the_store_meet_no_429_and_finish_near_the_floor(stores: Stores) -> None:
    """4 processes x 300 orders (60 requests) on one pocket, each a fresh process that reads the phase."""
    latency = 0.02
    overs = []
    for offset in (-0.7, 0.0, 0.3):
        for fraction in (0.05, 0.45, 0.8):
            stores.empty()
            clock = SimClock(1_000_000 + fraction)
            exchange = SimExchange(offset, PER_SECOND)
            # An earlier run of one process learned the phase and left it in the store.
            run_processes([stores.process(clock, reserve=None)], clock, exchange, chunks=50, latency=latency,
                          max_in_flight=30)  # fmt: skip
            clock.now += 1.3
            begin = clock.now
            fresh = [stores.process(clock, reserve=None) for _ in range(4)]
            run = run_processes(fresh, clock, exchange, chunks=15, latency=latency, max_in_flight=15)
            assert (run.rate_limited, run.requests) == (0, 60), f"offset {offset}, start {fraction}"
            overs.append(run.finished - begin - floor_time(begin, exchange, 60, latency))
    # The target is for the median; away from the last tens of ms of a second it holds in every case.
    assert statistics.median(overs) <= 0.2 + 2 * 2 * latency
    assert max(overs) <= 0.2 + 2 * 2 * latency


@pytest.mark.parametrize("offset", [0.0, 0.37, 0.81])
def test_fresh_processes_learn_the_phase_as_fast_as_one_process_sending_all_their_orders(
    stores: Stores, offset: float
) -> None:
    """No phase in the store yet: the host's processes trickle the reserve together, so one answer shows it."""

    def finish(processes: int, chunks: int, start: float) -> float:
        stores.empty()
        clock = SimClock(start)
        limiters = [stores.process(clock, reserve=None) for _ in range(processes)]
        run = run_processes(limiters, clock, SimExchange(offset), chunks=chunks, latency=0.002, max_in_flight=30)
        assert run.rate_limited == 0 and run.requests == processes * chunks
        return run.finished - start

    assert finish(8, 15, 1000.1) <= finish(1, 120, 2000.1) + 0.3


@pytest.mark.parametrize("offset", [0.0, 0.37, 0.81])
def test_fresh_processes_on_a_fresh_store_finish_with_one_process_that_has_no_store(
    stores: Stores, offset: float
) -> None:
    """Issue 26, item 4: 4 and 8 processes x 15 requests on a store no process used yet, against ONE process
    without a store sending all their requests (it paces by its own log alone), 0 x 429: once one of them
    learned the phase, what every one of them sent before stops holding the windows it did not land in."""

    def finish(processes: int, start: float, *, store: bool) -> float:
        stores.empty()
        clock = SimClock(start)
        alone = [RateLimiter(GROUP, PER_SECOND, clock=clock)]
        limiters = [stores.process(clock, reserve=None) for _ in range(processes)] if store else alone
        chunks = 15 if store else 15 * processes
        run = run_processes(limiters, clock, SimExchange(offset), chunks=chunks, latency=0.002, max_in_flight=30)
        assert run.rate_limited == 0 and run.requests == 15 * processes
        return run.finished - start

    for processes in (4, 8):
        for fraction in (0.05, 0.55):
            one = finish(processes, 1000 + fraction, store=False)
            assert finish(processes, 2000 + fraction, store=True) <= one + 0.15, (processes, fraction)


class PreviousRelease:
    """A budget as a format-2 process of the release before issue 26's item 4 keeps it: no ``date``, no pooled
    bounds, and its phase stored with a plain ``SET`` (which moves no dated charge)."""

    def __init__(self, stores: Stores, store: BudgetStore) -> None:
        self.stores, self.store = stores, store
        self.url, self.blocking = store.url, store.blocking

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def date(self, window: int, local_seconds: list[int]) -> None:
        pass

    def pool_bounds(self, lo: float, hi: float) -> tuple[float, float] | None:
        return None

    def save_phase(self, lo: float, hi: float) -> None:
        key, value = cast(MemoryBudget, self.store).keys.phase, BudgetKeys.pair_text(lo, hi)
        if self.stores.server is not None:
            self.stores.server.set(key, value, 3600)
        elif self.url.startswith("redis+cluster:"):
            shared_cluster(self.url, timeout=2).set(key, value, px=3_600_000)
        else:
            client = open_redis(self.url, timeout=2)
            client.set(key, value, px=3_600_000)
            client.close()


@pytest.mark.parametrize("offset", [0.0, 0.37, 0.81])
def test_processes_of_the_previous_release_and_new_ones_never_split_the_budget(stores: Stores, offset: float) -> None:
    """Old format-2 processes ignore ``dated`` and ``bounds``: mixed with new ones on a fresh store, 0 x 429."""
    for fraction in (0.05, 0.55):
        stores.empty()
        clock = SimClock(3000 + fraction)
        limiters = []
        for index in range(4):
            limiter = RateLimiter(GROUP, PER_SECOND, clock=clock)
            store = stores.open(clock)
            limiter.use_store(PreviousRelease(stores, store) if index % 2 else store)  # type: ignore[arg-type]
            limiters.append(limiter)
        run = run_processes(limiters, clock, SimExchange(offset), chunks=15, latency=0.002, max_in_flight=30)
        assert (run.rate_limited, run.requests) == (0, 60), fraction


# --- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(  # the stores that make round trips: the in-memory one makes none
    "stores", ["redis", "sentinel", "cluster", "redis-on-loop", "sentinel-on-loop"], indirect=True
)
def test_a_first_take_and_the_upkeep_before_it_are_one_round_trip_and_a_cluster_sends_the_fence_apart(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold process's first take also keeps format 1's fence up, says the process is here and reads the
    master: four scripts, one round trip (``lua/many.lua``); on a Cluster the fence lives in another slot, so
    two. Each part still does its work: the fence is set, the peers counted, the master seen."""
    from upbit_cancel.redis_store import LoopBudget

    sent: list[str] = []
    blocking, on_loop = SharedBudget._run, LoopBudget.call

    def counted(self: SharedBudget, call: Call) -> object:
        sent.append(call.name)
        return blocking(self, call)

    async def counted_on_loop(self: LoopBudget, call: Call) -> object:
        sent.append(call.name)
        return await on_loop(self, call)

    monkeypatch.setattr(SharedBudget, "_run", counted)
    monkeypatch.setattr(LoopBudget, "call", counted_on_loop)
    clock = FakeClock(start=1_000_000.2)
    limiter, other = stores.process(clock), stores.process(clock)
    assert isinstance(other.try_acquire(), Permit)
    sent.clear()
    assert isinstance(limiter.try_acquire(), Permit)
    assert sent == (["block", "many"] if stores.kind == "cluster" else ["many"])
    sent.clear()
    assert isinstance(limiter.try_acquire(), Permit)
    assert sent == ["many"]  # the fence and the master are done for a while: the peers and the take
    link = limiter.store_link
    assert link is not None
    budget = cast(SharedBudget, getattr(link.store, "budget", link.store))
    assert budget.peers() == 2 and budget.master.run_id
    assert budget.keys.fence in stores.stored_keys()
