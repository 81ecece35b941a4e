"""The pocket is the budget: keys named into one pocket share one rate budget and one 418 block.

Without a redis-server: the in-memory store (``memory_store``) stands in for Redis, on a fake clock.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.clocks import FakeClock
from tests.conftest import set_upbit_env
from tests.keys import TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.limits import chunks
from tests.pacing_sim import SimClock, SimExchange, floor_time, run_processes
from upbit_auth import UpbitAuth
from upbit_cancel import KeyBlocked as ExportedKeyBlocked
from upbit_cancel import UpbitClientError, cli, connect
from upbit_cancel.batch import cancel_orders_async
from upbit_cancel.errors import ConfigurationError
from upbit_cancel.memory_store import MemoryBudget, MemoryStore
from upbit_cancel.pacing import PacedTransport
from upbit_cancel.ratelimit import KeyBlocked, Permit, RateLimiter, limiter_for, pocket_id
from upbit_cancel.remaining_req import RemainingReq
from upbit_cancel.store_link import LinkState
from upbit_client import Client
from upbit_client.api.order import cancel_orders_by_ids
from upbit_client.rules import RateLimit
from upbit_sandbox import SandboxExchange

BASE_URL = "https://api.upbit.com"
OTHER_KEY = "second-access-key-of-the-pocket"
OTHER_SECRET = "second-secret-of-the-pocket-0123456789abcdef0123456789abcdef"
RATE = cancel_orders_by_ids.RATE_LIMIT
assert RATE is not None


def test_keys_named_into_one_pocket_share_one_limiter_and_unnamed_keys_do_not() -> None:
    first = limiter_for(TEST_ACCESS_KEY, RATE, pocket="main")
    assert limiter_for(OTHER_KEY, RATE, pocket="main") is first
    assert limiter_for(OTHER_KEY, RATE, pocket="sub-1") is not first
    assert limiter_for(TEST_ACCESS_KEY, RATE) is not limiter_for(OTHER_KEY, RATE)


def test_a_418_met_with_one_key_blocks_every_key_of_the_pocket_in_every_group() -> None:
    limiter_for(TEST_ACCESS_KEY, RATE, pocket="main").block(60, "HTTP 418")
    other_group = RateLimit(group="order", per_second=12)
    with pytest.raises(KeyBlocked):
        limiter_for(OTHER_KEY, other_group, pocket="main").try_acquire()
    assert isinstance(limiter_for(OTHER_KEY, RATE, pocket="other").try_acquire(), Permit)


def test_the_pocket_comes_from_the_auth_the_environment_or_connect() -> None:
    env = {"UPBIT_ACCESS_KEY": TEST_ACCESS_KEY, "UPBIT_SECRET_KEY": TEST_SECRET_KEY, "UPBIT_POCKET": "bots"}
    assert UpbitAuth.from_env(env).pocket == "bots"
    assert UpbitAuth.from_env(env, pocket="main").pocket == "main"
    assert UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY).pocket is None
    client = connect(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, pocket="sub-2", environ={})
    auth = client.get_httpx_client().auth
    assert isinstance(auth, UpbitAuth) and auth.pocket == "sub-2"
    with pytest.raises(ConfigurationError, match="pocket"):
        connect(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, pocket="  ", environ={})


def test_key_blocked_is_an_sdk_error_importable_where_it_was() -> None:
    assert issubclass(KeyBlocked, UpbitClientError)
    assert ExportedKeyBlocked is KeyBlocked


def test_the_sandbox_counts_one_window_for_every_key_of_a_pocket() -> None:
    exchange = SandboxExchange(credentials={}, rate_limit_per_second=2, clock=lambda: 100.5)
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    exchange.add_credentials(OTHER_KEY, OTHER_SECRET, pocket="main")
    exchange.add_credentials("lone-key", "lone-secret-0123456789abcdef0123456789abcdef0123456789")
    orders = [exchange.add_order().uuid for _ in range(4)]
    statuses = []
    for access, secret, order in (
        (TEST_ACCESS_KEY, TEST_SECRET_KEY, orders[0]),
        (OTHER_KEY, OTHER_SECRET, orders[1]),
        (OTHER_KEY, OTHER_SECRET, orders[2]),
        ("lone-key", "lone-secret-0123456789abcdef0123456789abcdef0123456789", orders[3]),
    ):
        auth = UpbitAuth(access, secret)
        with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": exchange.transport()}) as client:
            statuses.append(cancel_orders_by_ids.sync_detailed(client=client, uuids=[order]).status_code)
    assert statuses == [200, 200, 429, 200]


def test_two_keys_of_one_pocket_cancelling_at_once_meet_no_429() -> None:
    exchange = SandboxExchange(credentials={}, latency=0.002)
    exchange.add_credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    exchange.add_credentials(OTHER_KEY, OTHER_SECRET, pocket="main")
    orders = [exchange.add_order().uuid for _ in range(1200)]

    async def bot(access: str, secret: str, uuids: list[str]) -> tuple[int, int, int]:
        client = connect(BASE_URL, access_key=access, secret_key=secret, pocket="main", environ={},
                         httpx_args={"transport": exchange.transport()})  # fmt: skip
        async with client:
            result = await cancel_orders_async(client, uuids=uuids, timeout_total=60)
        return result.rate_limited, result.requests_sent, len(result.success)

    async def both() -> list[tuple[int, int, int]]:
        return list(
            await asyncio.gather(
                bot(TEST_ACCESS_KEY, TEST_SECRET_KEY, orders[:600]), bot(OTHER_KEY, OTHER_SECRET, orders[600:])
            )
        )

    assert asyncio.run(both()) == [(0, chunks(600), 600), (0, chunks(600), 600)]


def _process(server: MemoryStore, clock: SimClock | FakeClock, pocket: str = "pocket:p") -> RateLimiter:
    sleep = clock.sleep if isinstance(clock, FakeClock) else None
    limiter = RateLimiter("default", 30, clock=clock, reserve=0, **({"sleep": sleep} if sleep else {}))
    limiter.use_store(MemoryBudget(server, pocket, "default", 30))
    return limiter


def test_processes_sharing_the_in_memory_store_meet_no_429_and_reach_the_floor_of_one() -> None:
    clock = SimClock(1000.4)
    exchange = SimExchange(offset=0.37)
    server = MemoryStore(clock=clock)
    MemoryBudget(server, "pocket:p", "default", 30).save_phase(0.365, 0.375)  # learned by an earlier process
    limiters = [_process(server, clock) for _ in range(4)]
    run = run_processes(limiters, clock, exchange, chunks=15, latency=0.003, max_in_flight=30)
    assert run.rate_limited == 0 and run.requests == 60
    assert run.finished - 1000.4 <= floor_time(1000.4, exchange, 60, 0.003) + 0.3


def test_a_phase_known_from_remaining_req_alone_does_not_stall_when_the_store_holds_a_dated_one() -> None:
    clock = FakeClock(start=1000.2)
    server = MemoryStore(clock=clock)
    MemoryBudget(server, "pocket:p", "default", 30).save_phase(0.4, 0.45)
    limiter = _process(server, clock)
    # Remaining-Req ticks alone (no Date) pin the phase: known, but not anchored to the exchange's seconds.
    limiter.phase.lo, limiter.phase.hi = 0.40, 0.44
    assert limiter.phase.known and not limiter.phase.anchored
    got = limiter.acquire(timeout=5)
    assert isinstance(got, Permit)
    assert limiter.phase.anchored


def test_a_store_that_fails_pauses_the_link_and_the_limiter_paces_alone() -> None:
    clock = FakeClock()
    server = MemoryStore(clock=clock)
    limiter = _process(server, clock)
    server.available = False
    assert isinstance(limiter.try_acquire(), Permit)
    link = limiter.store_link
    assert link is not None and link.state is LinkState.PAUSED and limiter.store is None


def test_a_418_in_one_process_blocks_the_pocket_in_another_through_the_store() -> None:
    clock = FakeClock()
    server = MemoryStore(clock=clock)
    first, second = _process(server, clock), _process(server, clock)
    first.block(30, "HTTP 418")
    with pytest.raises(KeyBlocked):
        second.try_acquire()
    stranger = _process(server, clock, pocket=pocket_id(TEST_ACCESS_KEY))
    assert isinstance(stranger.try_acquire(), Permit)


def test_a_window_of_two_seconds_lets_one_request_per_two_exchange_seconds() -> None:
    clock = FakeClock(start=1000.0)
    limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
    first = limiter.try_acquire()
    assert isinstance(first, Permit)
    clock.now = 1000.01
    limiter.record(first, RemainingReq("order-cancel-all", 0))
    # Phase unknown: the next window surely opened two seconds after the answer at the latest.
    second = limiter.acquire()
    assert isinstance(second, Permit) and second.sent_at >= 1002.01 - 1e-6


def test_a_window_of_two_seconds_is_paced_by_the_exchange_clock_once_dated() -> None:
    clock = FakeClock(start=1000.0)
    limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
    # The exchange's clock is 0.40-0.45 s ahead: its even seconds start at local x.55-x.6 of odd ones.
    limiter.phase.observe_date(999.55, 999.55, 999.0)
    limiter.phase.observe_date(999.6, 999.6, 1000.0)
    first = limiter.try_acquire()  # exchange window [1000, 1002) ends at local 1001.55-1001.6
    assert isinstance(first, Permit)
    clock.now = 1000.05
    limiter.record(first, RemainingReq("order-cancel-all", 0), date=1000.0)
    second = limiter.acquire()
    assert isinstance(second, Permit) and 1001.55 <= second.sent_at <= 1001.61


def test_a_batch_on_a_paced_transport_is_paced_once() -> None:
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY}, latency=0.001)
    orders = [exchange.add_order().uuid for _ in range(200)] + [exchange.add_order(state="done").uuid]
    granted: list[Permit] = []
    shared = limiter_for(TEST_ACCESS_KEY, RATE)
    original = shared.try_acquire

    def counting(backlog: int = 1) -> Permit | float:
        got = original(backlog)
        if isinstance(got, Permit):
            granted.append(got)
        return got

    shared.try_acquire = counting  # type: ignore[method-assign]
    paced = PacedTransport(exchange.transport())
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY)

    async def run() -> int:
        async with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": paced}) as client:
            result = await cancel_orders_async(client, uuids=orders, timeout_total=30)
        assert len(result.success) == 200 and result.lookups_sent == 1  # the filled one is looked up
        return result.requests_sent + result.lookups_sent

    sent = asyncio.run(run())
    assert len(granted) == sent == chunks(len(orders)) + 1  # one permit per cancel and per lookup


def test_a_418_on_a_paced_single_call_blocks_the_batches_of_the_pocket() -> None:
    blocked = httpx.MockTransport(
        lambda request: httpx.Response(418, json={"error": {"name": "blocked", "message": "Blocked for 60 seconds."}})
    )
    auth = UpbitAuth(TEST_ACCESS_KEY, TEST_SECRET_KEY, pocket="main")
    with Client(base_url=BASE_URL, httpx_args={"auth": auth, "transport": PacedTransport(blocked)}) as client:
        assert cancel_orders_by_ids.sync_detailed(client=client, uuids=["a" * 36]).status_code == 418
    assert limiter_for(OTHER_KEY, RATE, pocket="main").blocked_until() is not None
    assert limiter_for(OTHER_KEY, RATE).blocked_until() is None


def _window_sent_by_one_of_two(clock: FakeClock) -> tuple[RateLimiter, RateLimiter, list[Permit]]:
    """Phase known (the exchange's seconds start at local x.0); ``first`` spends window 1000 at local 1000.9."""
    server = MemoryStore(clock=clock)
    MemoryBudget(server, "pocket:p", "default", 30).save_phase(-0.002, 0.002)
    first, second = _process(server, clock), _process(server, clock)
    clock.now = 1000.9
    sent = []
    while isinstance(permit := first.try_acquire(), Permit):
        sent.append(permit)
    assert len(sent) == 30
    return first, second, sent


def test_a_window_full_only_of_requests_in_flight_is_asked_again_within_a_poll_not_a_window_later() -> None:
    clock = FakeClock(start=1000.9)
    first, second, sent = _window_sent_by_one_of_two(clock)
    clock.now = 1001.1  # window 1001 holds their in-flight charges: they may still land in it
    wait = second.try_acquire()
    assert isinstance(wait, float) and wait <= 0.05
    for permit in sent:  # their answers name window 1000: window 1001 is whole again
        first.record(permit, RemainingReq("default", 0), date=1000.0)
    clock.now += wait
    assert isinstance(second.try_acquire(), Permit)


def test_a_window_full_of_answered_requests_is_waited_out_to_its_end() -> None:
    clock = FakeClock(start=1000.9)
    first, second, sent = _window_sent_by_one_of_two(clock)
    clock.now = 1001.1
    for permit in sent:  # held up: they landed in window 1001, which is really full
        first.record(permit, RemainingReq("default", 0), date=1001.0)
    wait = second.try_acquire()
    assert isinstance(wait, float) and wait > 0.8


@pytest.mark.parametrize("named_by", ["--pocket", "UPBIT_POCKET"])
def test_the_command_paces_by_the_pocket_it_is_given(
    named_by: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_upbit_env(monkeypatch, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    exchange = SandboxExchange(credentials={TEST_ACCESS_KEY: TEST_SECRET_KEY})
    order = exchange.add_order().uuid
    argv = ["--uuid", order, "--no-confirm"]
    if named_by == "--pocket":
        argv += ["--pocket", "bots"]
    else:
        monkeypatch.setenv("UPBIT_POCKET", "bots")
    assert cli.main(argv, transport=exchange.transport()) == 0
    capsys.readouterr()
    assert limiter_for(TEST_ACCESS_KEY, RATE, pocket="bots").last_remaining is not None
    assert limiter_for(TEST_ACCESS_KEY, RATE).last_remaining is None


def test_processes_share_a_two_second_window_through_the_store() -> None:
    clock = FakeClock(start=1000.2)
    server = MemoryStore(clock=clock)
    limiters = []
    for _ in range(2):
        limiter = RateLimiter("order-cancel-all", 1, clock=clock, sleep=clock.sleep, window_seconds=2)
        limiter.use_store(MemoryBudget(server, "pocket:p", "order-cancel-all", 1, window_seconds=2))
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


def test_a_dated_phase_too_wide_to_pace_by_takes_the_stores_narrow_one() -> None:
    clock = FakeClock(start=1000.2)
    server = MemoryStore(clock=clock)
    MemoryBudget(server, "pocket:p", "default", 30).save_phase(0.4, 0.45)
    limiter = _process(server, clock)
    # Answers that came back a second late date the phase only loosely: anchored, but not known.
    limiter.phase.observe_date(999.0, 1000.0, 1000.0)
    assert limiter.phase.anchored and not limiter.phase.known
    permit = limiter.try_acquire()
    assert isinstance(permit, Permit) and permit.charged is not None and permit.charged[0]  # exchange windows
    assert (limiter.phase.lo, limiter.phase.hi) == (0.4, 0.45)


@pytest.mark.parametrize("offset", [0.0, 0.37, 0.81])
def test_fresh_processes_learn_the_phase_as_fast_as_one_process_sending_all_their_orders(offset: float) -> None:
    """No phase in the store yet: the host's processes trickle the reserve together, so one answer shows it."""

    def finish(processes: int, chunks: int) -> float:
        clock = SimClock(1000.1)
        server = MemoryStore(clock=clock)
        limiters = []
        for _ in range(processes):
            limiter = RateLimiter("default", 30, clock=clock)
            limiter.use_store(MemoryBudget(server, "pocket:p", "default", 30))
            limiters.append(limiter)
        exchange = SimExchange(offset)
        run = run_processes(limiters, clock, exchange, chunks=chunks, latency=0.002, max_in_flight=30)
        assert run.rate_limited == 0 and run.requests == processes * chunks
        return run.finished

    assert finish(8, 15) <= finish(1, 120) + 0.3
